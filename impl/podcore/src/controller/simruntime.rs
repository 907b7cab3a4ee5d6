//! The simulated container runtime's state machine, pure: a node's pods,
//! each with a sandbox and container records, changed by `RuntimeAction`s
//! and by injected container exits. The kubelet's `SimRuntime` wraps it in a
//! lock with the wall clock; the model and the test harness use it directly
//! with simulated time.

use super::kubelet::{ContainerObservation, ContainerRun, PodObservation, RuntimeAction, SandboxObservation};
use crate::time::Time;
use crate::types::Pod;
use std::collections::BTreeMap;

/// Container records kept per container name: the current one and the last.
pub const RECORDS_PER_CONTAINER: usize = 2;

#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PodRef {
    pub namespace: String,
    pub name: String,
    pub uid: String,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct SimNode {
    /// Pod uid → identity and what the runtime holds for it.
    pub pods: BTreeMap<String, (PodRef, PodObservation)>,
    pub next_id: u64,
    /// First three octets of pod addresses, e.g. "10.88.1".
    pub subnet: String,
}

impl SimNode {
    pub fn new(subnet: &str) -> SimNode {
        SimNode { pods: BTreeMap::new(), next_id: 0, subnet: subnet.to_string() }
    }

    pub fn observe(&self, uid: &str) -> PodObservation {
        self.pods.get(uid).map(|(_, o)| o.clone()).unwrap_or_default()
    }

    /// Applies one action for `pod` at time `now`.
    pub fn apply(&mut self, pod: &Pod, action: &RuntimeAction, now: Time) -> Result<(), String> {
        let m = &pod.metadata;
        match action {
            RuntimeAction::RunSandbox => {
                self.next_id += 1;
                let id = format!("sim-sandbox-{}", self.next_id);
                // Addresses .2 to .254 of the subnet, round-robin.
                let ip = format!("{}.{}", self.subnet, 2 + (self.next_id % 253));
                let entry = self.pods.entry(m.uid.clone()).or_insert_with(|| (PodRef { namespace: m.namespace.clone(), name: m.name.clone(), uid: m.uid.clone() }, PodObservation::default()));
                entry.1.sandbox = Some(SandboxObservation { id, ip, ready: true });
            }
            RuntimeAction::StartContainer { name, attempt } => {
                let image = pod.spec.containers.iter().find(|c| &c.name == name).map(|c| c.image.clone()).ok_or_else(|| format!("pod has no container {name:?}"))?;
                self.next_id += 1;
                let id = format!("sim://{}", self.next_id);
                let (_, obs) = self.pods.get_mut(&m.uid).ok_or("no sandbox for this pod")?;
                if !obs.sandbox.as_ref().is_some_and(|s| s.ready) {
                    return Err("the pod's sandbox is not ready".into());
                }
                obs.containers.push(ContainerObservation { name: name.clone(), id, attempt: *attempt, image_id: format!("sim-image://{image}"), state: ContainerRun::Running { started_at: now } });
                let mut same: Vec<usize> = obs.containers.iter().enumerate().filter(|(_, c)| &c.name == name).map(|(i, _)| i).collect();
                same.sort_by_key(|i| std::cmp::Reverse(obs.containers[*i].attempt));
                for i in same.into_iter().skip(RECORDS_PER_CONTAINER).collect::<Vec<_>>().into_iter().rev() {
                    obs.containers.remove(i);
                }
            }
            RuntimeAction::KillContainer { id, grace_period_seconds, .. } => {
                if let Some((_, obs)) = self.pods.get_mut(&m.uid) {
                    for c in obs.containers.iter_mut().filter(|c| &c.id == id) {
                        if let ContainerRun::Running { started_at } = c.state {
                            // SIGTERM honoured (143) with a grace period, SIGKILL (137) without.
                            let code = if *grace_period_seconds > 0 { 143 } else { 137 };
                            c.state = ContainerRun::Exited { exit_code: code, started_at, finished_at: now, reason: "Error".into() };
                        }
                    }
                }
            }
            RuntimeAction::StopSandbox { .. } => {
                if let Some(sb) = self.pods.get_mut(&m.uid).and_then(|(_, o)| o.sandbox.as_mut()) {
                    sb.ready = false;
                }
            }
            RuntimeAction::RemovePod => {
                self.pods.remove(&m.uid);
            }
        }
        Ok(())
    }

    /// Makes the newest record of a running container exit with `code`.
    pub fn exit(&mut self, namespace: &str, pod: &str, container: &str, code: i32, now: Time) -> Result<(), String> {
        let (_, obs) = self.pods.values_mut().find(|(r, _)| r.namespace == namespace && r.name == pod).ok_or_else(|| format!("no pod {namespace}/{pod} on this node"))?;
        let c = obs.containers.iter_mut().filter(|c| c.name == container).max_by_key(|c| c.attempt).ok_or_else(|| format!("pod {namespace}/{pod} has no container {container:?}"))?;
        match c.state {
            ContainerRun::Running { started_at } => {
                c.state = ContainerRun::Exited { exit_code: code, started_at, finished_at: now, reason: String::new() };
                Ok(())
            }
            _ => Err(format!("container {container:?} of {namespace}/{pod} is not running")),
        }
    }

    /// A pod stand-in for actions on a pod the API no longer has.
    pub fn ghost(r: &PodRef) -> Pod {
        let mut p = Pod::default();
        p.metadata.namespace = r.namespace.clone();
        p.metadata.name = r.name.clone();
        p.metadata.uid = r.uid.clone();
        p
    }
}
