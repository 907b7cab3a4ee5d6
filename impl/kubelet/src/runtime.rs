//! The container runtime as the kubelet sees it: observe every pod's
//! sandbox and containers, and carry out `RuntimeAction`s. Two
//! implementations: `SimRuntime` (no processes; thousands fit on a machine)
//! and, with the CRI issue, containerd.

use podcore::controller::kubelet::{ContainerObservation, ContainerRun, PodObservation, SandboxObservation};
use podcore::time::Time;
use podcore::types::Pod;
use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Mutex;

/// Identifies a pod in the runtime (the labels CRI sandboxes carry).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PodRef {
    pub namespace: String,
    pub name: String,
    pub uid: String,
}

pub trait Runtime: Send + Sync + 'static {
    /// Every pod the runtime knows, by uid.
    fn observe(&self) -> impl Future<Output = Result<BTreeMap<String, (PodRef, PodObservation)>, String>> + Send;
    fn run_sandbox(&self, pod: &Pod) -> impl Future<Output = Result<(), String>> + Send;
    fn start_container(&self, pod: &Pod, name: &str, attempt: u32) -> impl Future<Output = Result<(), String>> + Send;
    fn kill_container(&self, pod_uid: &str, id: &str, grace_period_seconds: i64) -> impl Future<Output = Result<(), String>> + Send;
    fn stop_sandbox(&self, pod_uid: &str, id: &str) -> impl Future<Output = Result<(), String>> + Send;
    fn remove_pod(&self, pod_uid: &str) -> impl Future<Output = Result<(), String>> + Send;
    /// Test hook: make a running container exit with `code`.
    fn inject_exit(&self, _namespace: &str, _pod: &str, _container: &str, _code: i32) -> Result<(), String> {
        Err("this runtime runs real containers; stop them with their own means".into())
    }
    fn version(&self) -> String;
}

pub fn wall_now() -> Time {
    Time(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0))
}

/// Container records kept per container name (the newest two: current and last state).
pub const SIM_RECORDS_PER_CONTAINER: usize = 2;

#[derive(Default)]
struct SimState {
    pods: BTreeMap<String, (PodRef, PodObservation)>,
    next_id: u64,
}

/// A runtime with no processes: sandboxes get addresses from `subnet`,
/// containers run until killed or until a test makes them exit.
pub struct SimRuntime {
    state: Mutex<SimState>,
    /// First three octets of the pod addresses, e.g. "10.88.1".
    subnet: String,
}

impl SimRuntime {
    pub fn new(subnet: &str) -> SimRuntime {
        SimRuntime { state: Mutex::new(SimState::default()), subnet: subnet.to_string() }
    }

    fn with<T>(&self, f: impl FnOnce(&mut SimState) -> T) -> T {
        f(&mut self.state.lock().unwrap_or_else(|p| p.into_inner()))
    }
}

impl Runtime for SimRuntime {
    async fn observe(&self) -> Result<BTreeMap<String, (PodRef, PodObservation)>, String> {
        Ok(self.with(|s| s.pods.clone()))
    }

    async fn run_sandbox(&self, pod: &Pod) -> Result<(), String> {
        let subnet = self.subnet.clone();
        self.with(|s| {
            s.next_id += 1;
            let id = format!("sim-sandbox-{}", s.next_id);
            // Addresses 2..=254 in the node's subnet, reused round-robin.
            let ip = format!("{subnet}.{}", 2 + (s.next_id % 253));
            let m = &pod.metadata;
            let entry = s.pods.entry(m.uid.clone()).or_insert_with(|| (PodRef { namespace: m.namespace.clone(), name: m.name.clone(), uid: m.uid.clone() }, PodObservation::default()));
            entry.1.sandbox = Some(SandboxObservation { id, ip, ready: true });
            Ok(())
        })
    }

    async fn start_container(&self, pod: &Pod, name: &str, attempt: u32) -> Result<(), String> {
        let image = pod.spec.containers.iter().find(|c| c.name == name).map(|c| c.image.clone()).ok_or_else(|| format!("pod has no container {name:?}"))?;
        self.with(|s| {
            s.next_id += 1;
            let id = format!("sim://{}", s.next_id);
            let (_, obs) = s.pods.get_mut(&pod.metadata.uid).ok_or("no sandbox for this pod")?;
            if !obs.sandbox.as_ref().is_some_and(|sb| sb.ready) {
                return Err("the pod's sandbox is not ready".into());
            }
            obs.containers.push(ContainerObservation { name: name.into(), id, attempt, image_id: format!("sim-image://{image}"), state: ContainerRun::Running { started_at: wall_now() } });
            // Keep the newest records per name.
            let mut same: Vec<usize> = obs.containers.iter().enumerate().filter(|(_, c)| c.name == name).map(|(i, _)| i).collect();
            same.sort_by_key(|i| std::cmp::Reverse(obs.containers[*i].attempt));
            for i in same.into_iter().skip(SIM_RECORDS_PER_CONTAINER).rev() {
                obs.containers.remove(i);
            }
            Ok(())
        })
    }

    async fn kill_container(&self, pod_uid: &str, id: &str, grace_period_seconds: i64) -> Result<(), String> {
        self.with(|s| {
            if let Some((_, obs)) = s.pods.get_mut(pod_uid) {
                for c in obs.containers.iter_mut().filter(|c| c.id == id) {
                    if let ContainerRun::Running { started_at } = c.state {
                        // SIGTERM honoured (143) with a grace period, SIGKILL (137) without.
                        let code = if grace_period_seconds > 0 { 143 } else { 137 };
                        c.state = ContainerRun::Exited { exit_code: code, started_at, finished_at: wall_now(), reason: "Error".into() };
                    }
                }
            }
            Ok(())
        })
    }

    async fn stop_sandbox(&self, pod_uid: &str, _id: &str) -> Result<(), String> {
        self.with(|s| {
            if let Some((_, obs)) = s.pods.get_mut(pod_uid) {
                if let Some(sb) = obs.sandbox.as_mut() {
                    sb.ready = false;
                }
            }
            Ok(())
        })
    }

    async fn remove_pod(&self, pod_uid: &str) -> Result<(), String> {
        self.with(|s| {
            s.pods.remove(pod_uid);
            Ok(())
        })
    }

    fn inject_exit(&self, namespace: &str, pod: &str, container: &str, code: i32) -> Result<(), String> {
        self.with(|s| {
            let (_, obs) = s.pods.values_mut().find(|(r, _)| r.namespace == namespace && r.name == pod).ok_or_else(|| format!("no pod {namespace}/{pod} on this node"))?;
            let c = obs
                .containers
                .iter_mut()
                .filter(|c| c.name == container)
                .max_by_key(|c| c.attempt)
                .ok_or_else(|| format!("pod {namespace}/{pod} has no container {container:?}"))?;
            match c.state {
                ContainerRun::Running { started_at } => {
                    c.state = ContainerRun::Exited { exit_code: code, started_at, finished_at: wall_now(), reason: String::new() };
                    Ok(())
                }
                _ => Err(format!("container {container:?} of {namespace}/{pod} is not running")),
            }
        })
    }

    fn version(&self) -> String {
        "sim://0.1.0".into()
    }
}
