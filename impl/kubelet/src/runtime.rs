//! The container runtime as the kubelet sees it: observe every pod's
//! sandbox and containers, and carry out `RuntimeAction`s. Two
//! implementations: `SimRuntime` (no processes; thousands fit on a machine)
//! and containerd over the CRI (`crate::cri`).

use podcore::controller::kubelet::{PodObservation, RuntimeAction};
pub use podcore::controller::simruntime::PodRef;
use podcore::controller::simruntime::SimNode;
use podcore::types::Pod;
use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Mutex;

pub trait Runtime: Send + Sync + 'static {
    /// Every pod the runtime knows, by uid.
    fn observe(&self) -> impl Future<Output = Result<BTreeMap<String, (PodRef, PodObservation)>, String>> + Send;
    /// One pod, if the runtime knows it (what a pod's worker reads).
    fn observe_pod(&self, uid: &str) -> impl Future<Output = Result<Option<(PodRef, PodObservation)>, String>> + Send {
        async move { Ok(self.observe().await?.remove(uid)) }
    }
    fn run_sandbox(&self, pod: &Pod) -> impl Future<Output = Result<(), String>> + Send;
    fn start_container(&self, pod: &Pod, name: &str, attempt: u32) -> impl Future<Output = Result<(), String>> + Send;
    fn kill_container(&self, pod_uid: &str, id: &str, grace_period_seconds: i64) -> impl Future<Output = Result<(), String>> + Send;
    fn stop_sandbox(&self, pod_uid: &str, id: &str) -> impl Future<Output = Result<(), String>> + Send;
    fn remove_pod(&self, pod_uid: &str) -> impl Future<Output = Result<(), String>> + Send;
    /// Test hook: make a running container exit with `code`.
    fn inject_exit(&self, _namespace: &str, _pod: &str, _container: &str, _code: i32) -> Result<(), String> {
        Err("this runtime runs real containers; stop them with their own means".into())
    }
    /// Where the log of a pod's container is (`previous`: the attempt before the newest).
    fn container_log(&self, _namespace: &str, _pod: &str, _container: &str, _previous: bool) -> impl Future<Output = Result<ContainerLog, String>> + Send {
        async { Err("the simulated runtime runs no processes, so its containers write no logs".to_string()) }
    }
    /// Whether the runtime can run pods (else why not): it decides the node's Ready condition.
    fn status(&self) -> impl Future<Output = Result<(), String>> + Send {
        async { Ok(()) }
    }
    fn version(&self) -> String;
    /// Where to tell that something the runtime did in the background for
    /// a pod (a container's stop, which waits out its grace period) has
    /// finished, with the pod's uid: its worker looks again at once, not
    /// at the next relist. Runtimes that do everything in the call ignore it.
    fn set_waker(&self, _wake: PodWaker) {}
    /// Whether `kill_container` only starts the stop, which then finishes
    /// in the background and wakes the pod through the waker. A worker that
    /// asked for a kill then ends its run rather than observe the container
    /// still running, round after round.
    fn stops_in_background(&self) -> bool {
        false
    }
}

/// Called with a pod's uid when the runtime finished something for it.
pub type PodWaker = std::sync::Arc<dyn Fn(&str) + Send + Sync>;

/// A container's log file (CRI format) and whether it may still grow.
#[derive(Clone, Debug)]
pub struct ContainerLog {
    pub path: String,
    pub container_id: String,
    pub running: bool,
}

pub use client::clock::wall_now;

/// A runtime with no processes (see `podcore::controller::simruntime`):
/// the pure state machine behind a lock, driven by the wall clock.
pub struct SimRuntime {
    node: Mutex<SimNode>,
}

impl SimRuntime {
    pub fn new(subnet: &str) -> SimRuntime {
        SimRuntime { node: Mutex::new(SimNode::new(subnet)) }
    }

    fn with<T>(&self, f: impl FnOnce(&mut SimNode) -> T) -> T {
        f(&mut self.node.lock().unwrap_or_else(|p| p.into_inner()))
    }
}

impl Runtime for SimRuntime {
    async fn observe(&self) -> Result<BTreeMap<String, (PodRef, PodObservation)>, String> {
        Ok(self.with(|n| n.pods.clone()))
    }

    async fn run_sandbox(&self, pod: &Pod) -> Result<(), String> {
        self.with(|n| n.apply(pod, &RuntimeAction::RunSandbox, wall_now()))
    }

    async fn start_container(&self, pod: &Pod, name: &str, attempt: u32) -> Result<(), String> {
        self.with(|n| n.apply(pod, &RuntimeAction::StartContainer { name: name.into(), attempt }, wall_now()))
    }

    async fn kill_container(&self, pod_uid: &str, id: &str, grace_period_seconds: i64) -> Result<(), String> {
        self.with(|n| {
            let Some((r, _)) = n.pods.get(pod_uid).cloned() else { return Ok(()) };
            n.apply(&SimNode::ghost(&r), &RuntimeAction::KillContainer { name: String::new(), id: id.into(), grace_period_seconds }, wall_now())
        })
    }

    async fn stop_sandbox(&self, pod_uid: &str, id: &str) -> Result<(), String> {
        self.with(|n| {
            let Some((r, _)) = n.pods.get(pod_uid).cloned() else { return Ok(()) };
            n.apply(&SimNode::ghost(&r), &RuntimeAction::StopSandbox { id: id.into() }, wall_now())
        })
    }

    async fn remove_pod(&self, pod_uid: &str) -> Result<(), String> {
        self.with(|n| {
            n.pods.remove(pod_uid);
            Ok(())
        })
    }

    fn inject_exit(&self, namespace: &str, pod: &str, container: &str, code: i32) -> Result<(), String> {
        self.with(|n| n.exit(namespace, pod, container, code, wall_now()))
    }

    fn version(&self) -> String {
        "sim://0.1.0".into()
    }
}
