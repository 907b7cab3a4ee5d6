//! The model's configuration: its size, its faults and its safeguards, and the components it runs.

use podcore::controller::kubelet::KubeletOptions;
use podcore::controller::replicaset::RsOptions;
use podcore::controller::scheduler::SchedulerOptions;
use podcore::object::Kind;
use podcore::time::Time;

pub const START: Time = Time::from_secs(1_800_000_000);

/// How many wake-ups that find nothing to do `next_event` looks past.
pub const MAX_IDLE_WAKEUPS: usize = 32;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Component {
    Deployments,
    ReplicaSets,
    Scheduler,
    Kubelet(u8),
    NodeLifecycle,
    GarbageCollector,
}

impl Component {
    /// The kinds this component's informers watch (`None`: every kind).
    /// Its cache holds only these, as upstream's informers do, so a change
    /// to an object it never reads leaves its cache up to date.
    pub fn watches(self) -> Option<&'static [Kind]> {
        match self {
            Component::Deployments => Some(&[Kind::Deployment, Kind::ReplicaSet, Kind::Pod]),
            Component::ReplicaSets => Some(&[Kind::ReplicaSet, Kind::Pod]),
            Component::Scheduler => Some(&[Kind::Node, Kind::Pod]),
            // Every pod, not only its node's: the model does not trust the
            // watch's field selector (see `Cluster::step_kubelet`).
            Component::Kubelet(_) => Some(&[Kind::Pod]),
            Component::NodeLifecycle => Some(&[Kind::Node, Kind::Lease, Kind::Pod]),
            Component::GarbageCollector => None,
        }
    }

    pub fn name(self) -> String {
        match self {
            Component::Deployments => "deployment-controller".into(),
            Component::ReplicaSets => "replicaset-controller".into(),
            Component::Scheduler => "scheduler".into(),
            Component::Kubelet(i) => format!("kubelet[node-{i}]"),
            Component::NodeLifecycle => "node-lifecycle-controller".into(),
            Component::GarbageCollector => "garbage-collector".into(),
        }
    }
}

/// Whether nodes are interchangeable (see `crate::symmetry`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Symmetry {
    /// The scheduler breaks ties in name order, as the daemon does; every
    /// state is its own.
    Off,
    /// The scheduler breaks ties in every order of nodes (`Action::Schedule`),
    /// and states are kept apart: the graph that `Nodes` reduces, which the
    /// tests compare it with.
    Unreduced,
    /// Every tie order, and states that differ only in which node is
    /// called what are one state.
    Nodes,
}

/// How fresh a component's view of the store is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Consistency {
    /// Every read sees the store as it is.
    Linearizable,
    /// Each component reads its own cache, which catches up with the store
    /// only when its watch delivers (`Sync`); it never goes backwards.
    StaleMonotonic,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ModelConfig {
    pub nodes: u8,
    pub replicas: i32,
    pub consistency: Consistency,
    /// Component crashes (cache and in-memory state lost, then relisted).
    pub crashes: u8,
    /// Times a controller (ReplicaSet or Deployment) is woken while its
    /// cache may be behind the store (`Action::Resync`).
    pub resyncs: u8,
    /// Times the apiserver refuses the ReplicaSet or Deployment
    /// controller's next write (503), as an overloaded or restarting
    /// apiserver does (`Action::RefuseWrite`). Those two retry at their
    /// next step; the scheduler's refused binding backs off, which needs
    /// the clock (`ticks`), so it is left out to keep the space small.
    pub refusals: u8,
    /// Times the leading ReplicaSet controller or scheduler (those of
    /// `handover_of`) loses its lease and a standby takes over
    /// (`Action::Handover`), starting from a relist as a restart does.
    pub handovers: u8,
    pub handover_of: Vec<Component>,
    /// The old leader stops acting at its renew deadline, before its lease
    /// can expire and a standby take over (a safeguard: off, the old leader
    /// goes on acting on its cache beside the new one until it notices,
    /// `Action::StepDeposed`).
    pub renew_deadline: bool,
    /// Hostile writes node-1's kubelet, compromised, may get through
    /// (`Action::Attack`): it tries every write its node's credential could
    /// name against what is not its own (`hostile_writes`). 0: every kubelet
    /// is honest.
    pub attacks: u8,
    /// The apiserver's node restriction (a safeguard: off, a kubelet's
    /// credential may write any pod's status, delete any pod and update any
    /// Node, as the Node authoriser's rules alone allow).
    pub node_restriction: bool,
    /// Kubelets that die for good.
    pub node_failures: u8,
    /// Containers that exit with code 1.
    pub container_exits: u8,
    /// A user changes the Deployment's image once it is fully available.
    pub rollout: bool,
    /// A user scales the Deployment to this many replicas.
    pub scale_to: Option<i32>,
    /// A user deletes the Deployment (background propagation) once it is
    /// fully available; the garbage collector joins the components.
    pub delete: bool,
    /// Times the clock may jump forward (see `Action::Tick`).
    pub ticks: u8,
    /// How often a kubelet renews its lease; the node monitor's grace
    /// period is twice this.
    pub tick_ms: i64,
    /// How long pods tolerate a not-ready or unreachable node before the
    /// node lifecycle controller evicts them (upstream's default is 300 s;
    /// the model's default is short so that eviction needs few clock jumps).
    pub toleration_seconds: i64,
    /// cpu a node has and a pod asks for (milli-cores).
    pub node_cpu_m: i64,
    pub pod_cpu_m: i64,
    pub rs: RsOptions,
    pub deployment: podcore::controller::deployment::DeploymentOptions,
    pub scheduler: SchedulerOptions,
    pub kubelet: KubeletOptions,
    /// The apiserver's resourceVersion precondition on updates (a safeguard).
    pub check_resource_version: bool,
    pub symmetry: Symmetry,
}

/// The smallest configuration, which `podchain model check` checks without flags.
pub const DEFAULT_NODES: u8 = 1;
pub const DEFAULT_REPLICAS: i32 = 1;
/// Checker threads, and the generated-state budget of one check.
pub const DEFAULT_THREADS: usize = 2;
pub const DEFAULT_MAX_STATES: usize = 2_000_000;
/// cpu a node has, and a pod asks for: two pods fit on a node, a third does not.
pub const DEFAULT_NODE_CPU_M: i64 = 1000;
pub const DEFAULT_POD_CPU_M: i64 = 400;
/// Where `model explore` serves stateright's Explorer.
pub const DEFAULT_EXPLORER_LISTEN: &str = "127.0.0.1:3000";

impl Default for ModelConfig {
    fn default() -> Self {
        ModelConfig {
            nodes: DEFAULT_NODES,
            replicas: DEFAULT_REPLICAS,
            consistency: Consistency::StaleMonotonic,
            crashes: 0,
            resyncs: 0,
            refusals: 0,
            handovers: 0,
            handover_of: vec![Component::ReplicaSets, Component::Scheduler],
            renew_deadline: true,
            attacks: 0,
            node_restriction: true,
            node_failures: 0,
            container_exits: 0,
            rollout: false,
            scale_to: None,
            delete: false,
            ticks: 0,
            tick_ms: 20_000,
            toleration_seconds: 40,
            node_cpu_m: DEFAULT_NODE_CPU_M,
            pod_cpu_m: DEFAULT_POD_CPU_M,
            rs: RsOptions::default(),
            deployment: Default::default(),
            scheduler: SchedulerOptions::default(),
            kubelet: KubeletOptions::default(),
            check_resource_version: true,
            symmetry: Symmetry::Off,
        }
    }
}

