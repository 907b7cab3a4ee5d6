//! The model's state and its actions.

use crate::cluster::{Cluster, Fed, Store};
use podcore::time::Time;
use podcore::types::*;
use std::collections::{BTreeMap, BTreeSet};
use super::*;

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Action {
    /// The component takes one pass over its cache and writes its effects.
    Step(Component),
    /// The scheduler takes one pass, giving ties between equally good nodes
    /// to the first in this order of nodes (with symmetry on, in place of
    /// `Step(Scheduler)`, which keeps name order).
    Schedule(Vec<u8>),
    /// The component's watch delivers: its cache becomes the store.
    Sync(Component),
    /// The component crashes and restarts: in-memory state is lost and the
    /// cache is relisted.
    Restart(Component),
    /// The leader `c` loses its lease and a standby takes over, from a
    /// relist (a fresh machine and cache). With the renew deadline the old
    /// leader stopped before; without it, it goes on (`deposed`).
    Handover(Component),
    /// The deposed leader, its lease lost unnoticed, takes one pass over the
    /// cache it had when it lost it, with the machine state it had.
    StepDeposed(Component),
    /// The deposed leader notices it lost its lease and stops.
    Notice(Component),
    /// The controller's informers resync: every object it holds is
    /// delivered again unchanged, waking what such an update wakes. This is
    /// how, in the model, a controller comes to decide again on a cache that
    /// is behind the store: the model's caches catch up all at once, where
    /// an informer's catch up object by object, so the change of one object
    /// can wake a controller before the changes of others arrive.
    Resync(Component),
    /// The apiserver will refuse this controller's next write with 503
    /// Service Unavailable: a write that fails for no reason of its own,
    /// which the controller must answer and retry.
    RefuseWrite(Component),
    /// The newest running container on this node exits with code 1.
    ExitContainer(u8),
    /// This node's kubelet stops for good.
    FailNode(u8),
    /// The user changes the pod template's image.
    UpdateImage,
    /// The user scales the Deployment.
    Scale(i32),
    /// The user deletes the Deployment (propagationPolicy Background).
    DeleteDeployment,
    /// node-1's compromised kubelet tries the hostile write at this index
    /// of `hostile_writes`, with its node's credential.
    Attack(u16),
    /// Time jumps to the next deadline a component is waiting for (a
    /// back-off, a grace period, a toleration, the progress deadline);
    /// live kubelets renew their leases on the way. Components are taken to
    /// be fast next to their timeouts: the clock moves only when no
    /// component has anything to do now and the desired state is not met.
    /// Carries the time it moves to.
    Tick(Time),
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct State {
    pub cluster: Cluster,
    /// Each component's cache (unused under `Linearizable`).
    pub caches: BTreeMap<Component, Store>,
    /// The revision each cache reflects.
    pub cache_revisions: BTreeMap<Component, u64>,
    pub crashes_left: u8,
    pub resyncs_left: u8,
    pub refusals_left: u8,
    pub handovers_left: u8,
    /// Hostile writes the compromised kubelet may still get through.
    pub attacks_left: u8,
    /// Leaders that lost their lease and have not noticed (renew deadline off).
    pub deposed: BTreeMap<Component, Deposed>,
    pub node_failures_left: u8,
    pub exits_left: u8,
    pub ticks_left: u8,
    pub rolled_out: bool,
    pub scaled: bool,
    pub deleted: bool,
    /// A fault (crash of a container or node) has happened.
    pub faulted: bool,
    /// Every pod uid → the node it was first bound to.
    pub bound: BTreeMap<String, String>,
    /// Transition-level safety violations seen on the way to this state.
    pub violations: BTreeSet<String>,
}

/// A leader that lost its lease and does not know it: its machine and the
/// cache it had then.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Deposed {
    pub machine: DeposedMachine,
    pub cache: Store,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum DeposedMachine {
    ReplicaSets(Fed<podcore::controller::replicaset::ReplicaSetController>),
    Scheduler(Fed<podcore::controller::scheduler::Scheduler>),
}

pub struct PodChainModel {
    pub cfg: ModelConfig,
}

pub fn node_name(i: u8) -> String {
    format!("node-{i}")
}

pub(super) fn deployment(cfg: &ModelConfig) -> Deployment {
    let mut d = Deployment::default();
    d.metadata.name = "web".into();
    d.metadata.namespace = "default".into();
    d.spec.replicas = Some(cfg.replicas);
    d.spec.selector.match_labels.insert("app".into(), "web".into());
    d.spec.template.metadata.labels.insert("app".into(), "web".into());
    let mut c = Container { name: "web".into(), image: "sample:1".into(), ..Default::default() };
    c.resources.requests.insert("cpu".into(), format!("{}m", cfg.pod_cpu_m).as_str().into());
    d.spec.template.spec.containers.push(c);
    d.spec.strategy = DeploymentStrategy {
        type_: "RollingUpdate".into(),
        rolling_update: Some(RollingUpdateDeployment { max_surge: Some(IntOrString::Int(1)), max_unavailable: Some(IntOrString::Int(0)) }),
    };
    d
}

