//! The command line, as clap derive types. Every default is the constant the
//! code itself uses (`kubelet::DEFAULT_SYNC_INTERVAL_MS`, ...), so `--help`
//! shows what the component does without the flag and cannot drift from it;
//! the tests below turn each subcommand's defaults into its configuration
//! and compare that with the configuration the code builds on its own.

use clap::{ArgAction, Args, Parser, Subcommand, ValueEnum};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// The data directory of `podchain server` unless `--data-dir` says otherwise.
pub const DEFAULT_DATA_DIR: &str = "podchain-data";
/// The kubeconfig the client commands read unless `--kubeconfig` says otherwise.
pub const DEFAULT_KUBECONFIG: &str = "podchain-data/kubeconfig";
/// Kubelets one `--count` process runs at most (one loopback port each).
pub const MAX_KUBELETS_PER_PROCESS: u32 = 10_000;

#[derive(Parser, Debug)]
#[command(name = "podchain", version, about = "podchain: the chain of events that runs a pod in Kubernetes.", propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// apiserver + controller-manager + scheduler in one process, embedded store (or etcd).
    Server(ServerArgs),
    /// The API server alone.
    Apiserver(ApiserverArgs),
    /// The deployment, replicaset, garbage-collector and node-lifecycle controllers.
    ControllerManager(ControllerManagerArgs),
    /// Binds unscheduled pods to nodes.
    Scheduler(SchedulerArgs),
    /// A node agent (simulated runtime, or containerd over CRI).
    Kubelet(KubeletArgs),
    /// The model checker over the core's functions.
    #[command(subcommand)]
    Model(ModelCommand),
    /// Decision traces recorded by the daemons (PODCHAIN_TRACE_DIR).
    #[command(subcommand)]
    Trace(TraceCommand),
    /// Create or update the objects of a YAML (multi-document) or JSON file; objects that exist
    /// get a JSON merge patch of the manifest. For machines without kubectl.
    Apply(ApplyArgs),
    /// List objects of one kind.
    Get(GetArgs),
    /// Measure podchain against the machine's limits and its peers (bench-results/*.json).
    Bench(BenchArgs),
    /// Verify the embedded store, and save or restore snapshots of it (as etcdutl does for etcd).
    #[command(subcommand)]
    Store(StoreCommand),
}

#[derive(Subcommand, Debug)]
pub enum StoreCommand {
    /// Verify the embedded store of a data directory (DIR/store/wal.log) without changing it:
    /// what it holds, and what `podchain server` would do on opening it. Exit status 1 when the
    /// log is corrupt (the server would refuse to start).
    Check {
        /// The data directory (`podchain server --data-dir`).
        dir: PathBuf,
    },
    /// Snapshots: every key of the store at one revision, in one file.
    #[command(subcommand)]
    Snapshot(SnapshotCommand),
}

#[derive(Subcommand, Debug)]
pub enum SnapshotCommand {
    /// Save a snapshot of a running apiserver's store to FILE (verified, then written whole
    /// or not at all).
    Save {
        file: PathBuf,
        /// How to reach the apiserver.
        #[arg(long, value_name = "FILE", default_value = DEFAULT_KUBECONFIG)]
        kubeconfig: PathBuf,
    },
    /// Write a snapshot as the embedded store of DIR, which must have none, for
    /// `podchain server --data-dir DIR`.
    Restore {
        file: PathBuf,
        /// The data directory to restore into.
        dir: PathBuf,
        /// Start the restored store this many revisions past the snapshot's, so that clients
        /// which saw later revisions relist instead of being shown old ones (etcdutl's
        /// --bump-revision).
        #[arg(long, value_name = "N", default_value_t = 0)]
        bump_revision: u64,
    },
}

#[derive(Args, Debug, Clone)]
pub struct BenchArgs {
    /// Scenarios to run, or `all` (bench::SCENARIOS lists them).
    #[arg(value_name = "SCENARIO", required_unless_present = "report")]
    pub scenarios: Vec<String>,
    /// A reduced run of each scenario (what CI runs): minutes, not hours.
    #[arg(long)]
    pub quick: bool,
    /// Where the JSON reports (and the HTML page) go.
    #[arg(long, value_name = "DIR", default_value = bench::DEFAULT_OUT_DIR)]
    pub out: PathBuf,
    /// Turn the JSON reports in --out into one HTML page, --out/report.html (after any scenarios given).
    #[arg(long)]
    pub report: bool,
}

#[derive(Args, Debug, Clone)]
pub struct StoreArgs {
    /// Where the embedded store keeps its log; the admin kubeconfig is written here too.
    #[arg(long, value_name = "DIR", default_value = DEFAULT_DATA_DIR)]
    pub data_dir: PathBuf,
    /// Keep the objects in etcd instead of the embedded store:
    /// etcd://HOST:PORT[,HOST:PORT...] (run etcd with --max-request-bytes of
    /// at least 3 MiB and a little; see the README).
    #[arg(long, value_name = "URL")]
    pub store: Option<String>,
    /// Address to serve the API on.
    #[arg(long, value_name = "ADDR", default_value = apiserver::DEFAULT_LISTEN)]
    pub listen: SocketAddr,
    /// tolerationSeconds added to pods for not-ready and unreachable nodes.
    #[arg(long, value_name = "N", default_value_t = podcore::defaults::DEFAULT_NOT_READY_TOLERATION_SECONDS)]
    pub default_toleration_seconds: i64,
    /// Read-only requests served at once; one more is answered 429 with
    /// Retry-After (watches and logs are not counted). 0: no limit.
    #[arg(long, value_name = "N", default_value_t = apiserver::inflight::DEFAULT_MAX_REQUESTS_INFLIGHT)]
    pub max_requests_inflight: usize,
    /// Mutating requests served at once; one more is answered 429 with Retry-After. 0: no limit.
    #[arg(long, value_name = "N", default_value_t = apiserver::inflight::DEFAULT_MAX_MUTATING_REQUESTS_INFLIGHT)]
    pub max_mutating_requests_inflight: usize,
    /// Append one JSON line per write request (audit.k8s.io/v1 Event,
    /// Metadata level) to this file, created with mode 0600.
    #[arg(long, value_name = "FILE")]
    pub audit_log_path: Option<PathBuf>,
}

impl StoreArgs {
    /// How the API is served, as the flags say.
    pub fn serving(&self) -> apiserver::Serving {
        apiserver::Serving {
            max_requests_inflight: self.max_requests_inflight,
            max_mutating_requests_inflight: self.max_mutating_requests_inflight,
            audit_log_path: self.audit_log_path.clone(),
            ..Default::default()
        }
    }
}

#[derive(Args, Debug, Clone)]
pub struct NodeMonitorArgs {
    /// A node whose lease is older than this is NotReady (node-monitor-grace-period).
    #[arg(long, value_name = "N", default_value_t = podcore::controller::nodelifecycle::DEFAULT_GRACE_PERIOD_MS)]
    pub node_monitor_grace_period_ms: i64,
}

impl NodeMonitorArgs {
    pub fn manager_config(&self) -> controllers::manager::ManagerConfig {
        let mut cfg = controllers::manager::ManagerConfig::default();
        cfg.node_lifecycle.grace_period_ms = self.node_monitor_grace_period_ms;
        cfg
    }
}

/// Writes an admin kubeconfig to DIR/kubeconfig.
#[derive(Args, Debug)]
pub struct ServerArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    #[command(flatten)]
    pub monitor: NodeMonitorArgs,
    /// On etcd (`--store`), several servers may share the cluster: their
    /// controllers and schedulers elect leaders. The embedded store has one
    /// server, which acts at once.
    #[command(flatten)]
    pub leader: LeaderElectionArgs,
}

/// Writes an admin kubeconfig to DIR/kubeconfig.
#[derive(Args, Debug)]
pub struct ApiserverArgs {
    #[command(flatten)]
    pub store: StoreArgs,
}

#[derive(Args, Debug)]
pub struct ControllerManagerArgs {
    /// How to reach the apiserver.
    #[arg(long, value_name = "FILE")]
    pub kubeconfig: PathBuf,
    /// The apiservers to use instead of the kubeconfig's server: URL[,URL...]
    /// (apiservers sharing one etcd; the next is used when one cannot be reached).
    #[arg(long, value_name = "URLS")]
    pub server: Option<String>,
    #[command(flatten)]
    pub monitor: NodeMonitorArgs,
    #[command(flatten)]
    pub leader: LeaderElectionArgs,
}

#[derive(Args, Debug)]
pub struct SchedulerArgs {
    /// How to reach the apiserver.
    #[arg(long, value_name = "FILE")]
    pub kubeconfig: PathBuf,
    /// The apiservers to use instead of the kubeconfig's server: URL[,URL...]
    /// (apiservers sharing one etcd; the next is used when one cannot be reached).
    #[arg(long, value_name = "URLS")]
    pub server: Option<String>,
    #[command(flatten)]
    pub leader: LeaderElectionArgs,
}

/// Leader election through a coordination.k8s.io/v1 Lease, as upstream's
/// components (on by default, as upstream): only the leader acts.
#[derive(Args, Debug, Clone)]
pub struct LeaderElectionArgs {
    /// Act only while holding the component's Lease (run several for high availability).
    #[arg(long, value_name = "BOOL", default_value_t = true, action = ArgAction::Set)]
    pub leader_elect: bool,
    /// How long a candidate waits after it last saw the lease change before it takes it.
    #[arg(long, value_name = "MS", default_value_t = podcore::controller::leaderelection::DEFAULT_LEASE_DURATION_MS)]
    pub leader_elect_lease_duration_ms: i64,
    /// How long the leader goes on acting without a successful renewal (less than the lease duration).
    #[arg(long, value_name = "MS", default_value_t = podcore::controller::leaderelection::DEFAULT_RENEW_DEADLINE_MS)]
    pub leader_elect_renew_deadline_ms: i64,
    /// How often candidates try to take the lease and the leader renews it.
    #[arg(long, value_name = "MS", default_value_t = podcore::controller::leaderelection::DEFAULT_RETRY_PERIOD_MS)]
    pub leader_elect_retry_period_ms: i64,
    /// The namespace of the Lease.
    #[arg(long, value_name = "NS", default_value = podcore::controller::leaderelection::LEADER_LEASE_NAMESPACE)]
    pub leader_elect_resource_namespace: String,
    /// The Lease's name (default: kube-controller-manager or kube-scheduler).
    #[arg(long, value_name = "NAME")]
    pub leader_elect_resource_name: Option<String>,
}

impl LeaderElectionArgs {
    /// The election's configuration for a component whose lease is by
    /// default `default_name`; `None` when election is off.
    pub fn config(&self, default_name: &str, identity: String) -> Option<podcore::controller::leaderelection::Config> {
        self.leader_elect.then(|| podcore::controller::leaderelection::Config {
            identity,
            namespace: self.leader_elect_resource_namespace.clone(),
            name: self.leader_elect_resource_name.clone().unwrap_or_else(|| default_name.to_string()),
            lease_duration_ms: self.leader_elect_lease_duration_ms,
            renew_deadline_ms: self.leader_elect_renew_deadline_ms,
            retry_period_ms: self.leader_elect_retry_period_ms,
        })
    }
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum RuntimeKind {
    /// Simulated containers: no processes, thousands of nodes on one machine.
    Sim,
    /// containerd (or any CRI runtime) over its socket.
    Cri,
}

#[derive(Args, Debug)]
pub struct KubeletArgs {
    /// The node's name.
    #[arg(long, value_name = "NAME")]
    pub node: String,
    /// How to reach the apiserver.
    #[arg(long, value_name = "FILE")]
    pub kubeconfig: PathBuf,
    /// The apiservers to use instead of the kubeconfig's server: URL[,URL...]
    /// (apiservers sharing one etcd; the next is used when one cannot be reached).
    #[arg(long, value_name = "URLS")]
    pub server: Option<String>,
    /// Simulated containers, or containerd over CRI.
    #[arg(long, value_enum, default_value_t = RuntimeKind::Sim)]
    pub runtime: RuntimeKind,
    /// The kubelet's own HTTP endpoint (container logs).
    #[arg(long, value_name = "ADDR", default_value = kubelet::DEFAULT_LISTEN)]
    pub listen: SocketAddr,
    /// cri only: the CRI socket.
    #[arg(long, value_name = "E", default_value = cri::DEFAULT_ENDPOINT)]
    pub container_runtime_endpoint: String,
    /// cri only: where container logs go.
    #[arg(long, value_name = "DIR", default_value = kubelet::cri::DEFAULT_POD_LOG_DIR)]
    pub pod_log_dir: String,
    /// sim only: first three octets of pod IPs.
    #[arg(long, value_name = "A.B.C", default_value = kubelet::DEFAULT_POD_SUBNET)]
    pub pod_subnet: String,
    /// The node's cpu capacity [default: sim 4; cri: the host's cpus].
    #[arg(long, value_name = "Q")]
    pub cpu: Option<String>,
    /// The node's memory capacity [default: sim 8Gi; cri: the host's memory].
    #[arg(long, value_name = "Q")]
    pub memory: Option<String>,
    /// Pods the node takes.
    #[arg(long, value_name = "N", default_value_t = kubelet::DEFAULT_MAX_PODS)]
    pub max_pods: u32,
    /// How often the node lease is renewed.
    #[arg(long, value_name = "N", default_value_t = kubelet::DEFAULT_LEASE_RENEW_INTERVAL_MS)]
    pub lease_renew_interval_ms: u64,
    /// How often node status is posted.
    #[arg(long, value_name = "N", default_value_t = kubelet::DEFAULT_NODE_STATUS_INTERVAL_MS)]
    pub node_status_interval_ms: u64,
    /// How often the runtime is relisted.
    #[arg(long, value_name = "N", default_value_t = kubelet::DEFAULT_SYNC_INTERVAL_MS)]
    pub sync_interval_ms: u64,
    /// sim only: run N kubelets in this process, nodes NAME-1..NAME-N, endpoints on consecutive ports.
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=MAX_KUBELETS_PER_PROCESS as i64))]
    pub count: u32,
}

impl KubeletArgs {
    /// The configuration these flags give; `host` is the machine's (cpus,
    /// memory), which a real node reports as its capacity.
    pub fn config(&self, host: impl FnOnce() -> (String, String)) -> Result<kubelet::KubeletConfig, String> {
        podcore::names::dns1123_subdomain(&self.node).map_err(|e| format!("--node {:?}: {e}", self.node))?;
        let mut cfg = kubelet::KubeletConfig::new(&self.node);
        cfg.listen = self.listen;
        if self.runtime == RuntimeKind::Cri {
            (cfg.cpu, cfg.memory) = host();
        }
        if let Some(c) = &self.cpu {
            cfg.cpu = c.clone();
        }
        if let Some(m) = &self.memory {
            cfg.memory = m.clone();
        }
        for (flag, q) in [("cpu", &cfg.cpu), ("memory", &cfg.memory)] {
            podcore::quantity::parse_nanos(q).map_err(|e| format!("--{flag}: {e}"))?;
        }
        cfg.max_pods = self.max_pods;
        cfg.lease_renew_interval = Duration::from_millis(self.lease_renew_interval_ms);
        cfg.node_status_interval = Duration::from_millis(self.node_status_interval_ms);
        cfg.sync_interval = Duration::from_millis(self.sync_interval_ms);
        if self.count > 1 && self.runtime == RuntimeKind::Cri {
            return Err("--count: only the simulated runtime runs several nodes in one process".into());
        }
        Ok(cfg)
    }
}

#[derive(Subcommand, Debug)]
pub enum ModelCommand {
    /// Explore every interleaving, check each property, then liveness under fairness.
    /// Exit status 1 when a safety property is violated or the check is incomplete.
    Check(ModelArgs),
    /// Serve stateright's Explorer.
    Explore {
        #[command(flatten)]
        model: ModelArgs,
        /// Where to serve the Explorer.
        #[arg(long, value_name = "ADDR", default_value = model::check::DEFAULT_EXPLORER_LISTEN)]
        listen: String,
    },
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConsistencyArg {
    /// Every read sees the store as it is.
    Linearizable,
    /// Each component reads its own cache, which catches up only when its watch delivers.
    Stale,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum SymmetryArg {
    /// Ties in name order, as the daemon breaks them; every state is its own.
    Off,
    /// Ties in every order of nodes; states that differ only in node names are one.
    Nodes,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Safeguard {
    /// ReplicaSet expectations.
    Expectations,
    /// The scheduler counting bound pods against a node.
    Accounting,
    /// The kubelet's check that a pod is bound to it.
    NodeName,
    /// The scheduler moving unschedulable pods back when a pod makes room.
    Requeue,
    /// The apiserver's resourceVersion precondition.
    RvPrecondition,
    /// A ReplicaSet's update waking its Deployment.
    ReplicasetUpdates,
    /// A failed write lowering the ReplicaSet expectation it raised.
    FailedWrites,
    /// A leader stopping at its renew deadline, before a standby can take over (with --handovers).
    RenewDeadline,
    /// The apiserver's node restriction: a kubelet writes only its own Node, Lease and pods (with --attacks).
    NodeRestriction,
}

#[derive(Args, Debug, Clone)]
pub struct ModelArgs {
    /// Nodes, each with a kubelet.
    #[arg(long, value_name = "N", default_value_t = model::check::DEFAULT_NODES)]
    pub nodes: u8,
    /// The Deployment's replicas.
    #[arg(long, value_name = "R", default_value_t = model::check::DEFAULT_REPLICAS)]
    pub replicas: i32,
    /// How components read.
    #[arg(long, value_enum, default_value_t = ConsistencyArg::Stale)]
    pub consistency: ConsistencyArg,
    /// Controller crash-restarts allowed.
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub crashes: u8,
    /// Times a controller is woken while its cache may be behind the store (informer resyncs).
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub resyncs: u8,
    /// Times the apiserver refuses the ReplicaSet or Deployment controller's next write (503).
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub refusals: u8,
    /// Times the leading ReplicaSet controller or scheduler loses its lease to a standby.
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub handovers: u8,
    /// Hostile writes node-1's kubelet, compromised, may get through: it tries every write
    /// its node's credential could name against other nodes' pods and Nodes, pod specs and
    /// bindings.
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub attacks: u8,
    /// Kubelets that may die.
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub node_failures: u8,
    /// Containers that may exit with code 1.
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub exits: u8,
    /// The user changes the image once the Deployment is available.
    #[arg(long, value_name = "BOOL", default_value_t = false, action = ArgAction::Set)]
    pub rollout: bool,
    /// The user deletes the Deployment once it is available; the garbage collector joins.
    #[arg(long, value_name = "BOOL", default_value_t = false, action = ArgAction::Set)]
    pub delete: bool,
    /// The user scales the Deployment to R.
    #[arg(long, value_name = "R")]
    pub scale_to: Option<i32>,
    /// Times the clock may jump to the next deadline (a back-off, a grace period) while the
    /// cluster is idle short of its goal.
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub ticks: u8,
    /// cpu a pod asks for, in millicores of a node's 1000.
    #[arg(long, value_name = "M", default_value_t = model::check::DEFAULT_POD_CPU_M, conflicts_with = "pods_per_node")]
    pub pod_cpu_m: i64,
    /// Room on each node instead: pods ask for 1/N of a node's cpu.
    #[arg(long, value_name = "N")]
    pub pods_per_node: Option<i64>,
    /// Safeguards to switch off, to see what each prevents (comma-separated).
    #[arg(long, value_enum, value_delimiter = ',', value_name = "LIST")]
    pub safeguards_off: Vec<Safeguard>,
    /// nodes: nodes are interchangeable (the scheduler's ties in every order, states up to
    /// renaming nodes; at most model::symmetry::MAX_SYMMETRIC_NODES nodes).
    #[arg(long, value_enum, default_value_t = SymmetryArg::Off)]
    pub symmetry: SymmetryArg,
    /// Checker threads.
    #[arg(long, value_name = "N", default_value_t = model::check::DEFAULT_THREADS)]
    pub threads: usize,
    /// Stop after generating this many states, duplicates included (stateright's count); a
    /// check that reaches it is incomplete and exits 1.
    #[arg(long, value_name = "N", default_value_t = model::check::DEFAULT_MAX_STATES)]
    pub max_states: usize,
    /// check: write the verdict, state counts, times and peak memory to FILE as JSON.
    #[arg(long, value_name = "FILE")]
    pub stats_json: Option<std::path::PathBuf>,
}

impl ModelArgs {
    pub fn config(&self) -> Result<model::check::ModelConfig, String> {
        use model::check::{Consistency, ModelConfig, Symmetry};
        let mut cfg = ModelConfig { nodes: self.nodes, replicas: self.replicas, ..Default::default() };
        cfg.consistency = match self.consistency {
            ConsistencyArg::Linearizable => Consistency::Linearizable,
            ConsistencyArg::Stale => Consistency::StaleMonotonic,
        };
        cfg.crashes = self.crashes;
        cfg.resyncs = self.resyncs;
        cfg.refusals = self.refusals;
        cfg.handovers = self.handovers;
        cfg.attacks = self.attacks;
        cfg.node_failures = self.node_failures;
        cfg.container_exits = self.exits;
        cfg.rollout = self.rollout;
        cfg.delete = self.delete;
        cfg.scale_to = self.scale_to;
        cfg.ticks = self.ticks;
        cfg.pod_cpu_m = match self.pods_per_node {
            Some(n) if (1..=cfg.node_cpu_m).contains(&n) => cfg.node_cpu_m / n,
            Some(n) => return Err(format!("--pods-per-node: expected 1 to {}, got {n}", cfg.node_cpu_m)),
            None if (1..=cfg.node_cpu_m).contains(&self.pod_cpu_m) => self.pod_cpu_m,
            None => return Err(format!("--pod-cpu-m: expected 1 to {}, got {}", cfg.node_cpu_m, self.pod_cpu_m)),
        };
        for s in &self.safeguards_off {
            match s {
                Safeguard::Expectations => cfg.rs.use_expectations = false,
                Safeguard::Accounting => cfg.scheduler.account_bound_pods = false,
                Safeguard::NodeName => cfg.kubelet.check_node_name = false,
                Safeguard::Requeue => cfg.scheduler.requeue_on_room = false,
                Safeguard::RvPrecondition => cfg.check_resource_version = false,
                Safeguard::ReplicasetUpdates => cfg.deployment.wake_on_replicaset_updates = false,
                Safeguard::FailedWrites => cfg.rs.lower_expectations_on_failure = false,
                Safeguard::RenewDeadline => cfg.renew_deadline = false,
                Safeguard::NodeRestriction => cfg.node_restriction = false,
            }
        }
        cfg.symmetry = match self.symmetry {
            SymmetryArg::Off => Symmetry::Off,
            SymmetryArg::Nodes => Symmetry::Nodes,
        };
        if cfg.symmetry != Symmetry::Off && cfg.handovers > 0 {
            return Err("--symmetry nodes: not with --handovers (a deposed leader's machine is not renamed)".into());
        }
        if cfg.symmetry != Symmetry::Off && cfg.attacks > 0 {
            return Err("--symmetry nodes: not with --attacks (the compromised node is not interchangeable with the others)".into());
        }
        if cfg.symmetry != Symmetry::Off && cfg.nodes > model::symmetry::MAX_SYMMETRIC_NODES {
            return Err(format!("--symmetry nodes: at most {} nodes (the scheduler's pass is explored in every order of nodes), got {}", model::symmetry::MAX_SYMMETRIC_NODES, cfg.nodes));
        }
        Ok(cfg)
    }
}

#[derive(Subcommand, Debug)]
pub enum TraceCommand {
    /// Replay every decision in DIR against the model: each decision is retaken with the same
    /// core function, and every component's view must only move forward. Reports the first
    /// step the model cannot take.
    Validate {
        /// Where the daemons wrote DIR/<component>-<pid>.jsonl.
        dir: PathBuf,
    },
}

#[derive(Args, Debug)]
pub struct ApplyArgs {
    /// The manifest.
    #[arg(short = 'f', long, value_name = "FILE")]
    pub filename: PathBuf,
    /// How to reach the apiserver.
    #[arg(long, value_name = "FILE", default_value = DEFAULT_KUBECONFIG)]
    pub kubeconfig: PathBuf,
}

#[derive(Args, Debug)]
pub struct GetArgs {
    /// pods, deployments, replicasets, nodes, namespaces, events or leases (or a short name).
    pub kind: String,
    /// Only this namespace [default: all].
    #[arg(short = 'n', long, value_name = "NS")]
    pub namespace: Option<String>,
    /// How to reach the apiserver.
    #[arg(long, value_name = "FILE", default_value = DEFAULT_KUBECONFIG)]
    pub kubeconfig: PathBuf,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    fn parse(args: &[&str]) -> Command {
        Cli::try_parse_from(std::iter::once("podchain").chain(args.iter().copied())).unwrap_or_else(|e| panic!("{args:?}: {e}")).command
    }

    #[test]
    fn the_command_line_is_well_formed() {
        Cli::command().debug_assert();
    }

    /// `podchain server` with no flags configures what the code's own defaults configure.
    #[test]
    fn server_defaults_are_the_codes_defaults() {
        let Command::Server(a) = parse(&["server"]) else { panic!() };
        assert_eq!(a.monitor.manager_config(), controllers::manager::ManagerConfig::default());
        let api = apiserver::Config::default();
        assert_eq!((a.store.listen, a.store.default_toleration_seconds), (api.listen, api.default_toleration_seconds));
        assert_eq!(a.store.data_dir, PathBuf::from(DEFAULT_DATA_DIR));
        assert_eq!(Some(a.store.data_dir.join("kubeconfig")), Some(PathBuf::from(DEFAULT_KUBECONFIG)));
    }

    #[test]
    fn kubelet_defaults_are_the_codes_defaults() {
        let Command::Kubelet(a) = parse(&["kubelet", "--node", "n1", "--kubeconfig", "kc"]) else { panic!() };
        assert_eq!(a.config(|| unreachable!("a simulated node does not read the host")).unwrap(), kubelet::KubeletConfig::new("n1"));
        assert_eq!(a.container_runtime_endpoint, cri::DEFAULT_ENDPOINT);
        let Command::Kubelet(a) = parse(&["kubelet", "--node", "n1", "--kubeconfig", "kc", "--runtime", "cri"]) else { panic!() };
        let cfg = a.config(|| ("2".into(), "1Gi".into())).unwrap();
        assert_eq!((cfg.cpu.as_str(), cfg.memory.as_str()), ("2", "1Gi"), "a real node reports the host's capacity");
    }

    #[test]
    fn model_defaults_are_the_codes_defaults() {
        let Command::Model(ModelCommand::Check(a)) = parse(&["model", "check"]) else { panic!() };
        assert_eq!(a.config().unwrap(), model::check::ModelConfig::default());
        assert_eq!((a.threads, a.max_states), (model::check::DEFAULT_THREADS, model::check::DEFAULT_MAX_STATES));
        // The README's CI configuration.
        let Command::Model(ModelCommand::Check(a)) = parse(&["model", "check", "--nodes", "2", "--replicas", "3", "--pods-per-node", "4", "--consistency", "linearizable", "--rollout", "true", "--crashes", "1", "--node-failures", "1", "--ticks", "4", "--symmetry", "nodes", "--safeguards-off", "expectations,rv-precondition"]) else { panic!() };
        let cfg = a.config().unwrap();
        assert_eq!((cfg.nodes, cfg.replicas, cfg.pod_cpu_m, cfg.rollout, cfg.crashes, cfg.ticks), (2, 3, 250, true, 1, 4));
        assert!(!cfg.rs.use_expectations && !cfg.check_resource_version && cfg.scheduler.account_bound_pods);
    }

    /// The help text shows each default as the constant's value.
    #[test]
    fn help_shows_the_constants() {
        let help = Cli::command().find_subcommand_mut("kubelet").unwrap().render_long_help().to_string();
        for shown in [format!("[default: {}]", kubelet::DEFAULT_SYNC_INTERVAL_MS), format!("[default: {}]", kubelet::DEFAULT_LISTEN), format!("[default: {}]", kubelet::DEFAULT_LEASE_RENEW_INTERVAL_MS)] {
            assert!(help.contains(&shown), "kubelet --help lacks {shown}:\n{help}");
        }
        let help = Cli::command().find_subcommand_mut("server").unwrap().render_long_help().to_string();
        assert!(help.contains(&format!("[default: {}]", podcore::controller::nodelifecycle::DEFAULT_GRACE_PERIOD_MS)), "{help}");
    }

    #[test]
    fn bad_flags_are_refused_with_what_was_expected() {
        for (args, frag) in [
            (&["kubelet", "--node", "n", "--kubeconfig", "k", "--runtime", "docker"][..], "possible values: sim, cri"),
            (&["kubelet", "--node", "n", "--kubeconfig", "k", "--count", "0"][..], "1..="),
            (&["server", "--listen", "localhost"][..], "--listen"),
            (&["model", "check", "--pod-cpu-m", "100", "--pods-per-node", "2"][..], "cannot be used with"),
            (&["server", "--bogus"][..], "--bogus"),
        ] {
            let e = Cli::try_parse_from(std::iter::once("podchain").chain(args.iter().copied())).unwrap_err().to_string();
            assert!(e.contains(frag), "{args:?}: {e}");
        }
        let Command::Kubelet(a) = parse(&["kubelet", "--node", "Bad_Name", "--kubeconfig", "k"]) else { panic!() };
        assert!(a.config(|| unreachable!()).unwrap_err().contains("--node"));
        let Command::Kubelet(a) = parse(&["kubelet", "--node", "n", "--kubeconfig", "k", "--runtime", "cri", "--count", "2"]) else { panic!() };
        assert!(a.config(|| ("1".into(), "1Gi".into())).unwrap_err().contains("--count"));
        // The compromised node is not interchangeable with the others.
        let Command::Model(ModelCommand::Check(a)) = parse(&["model", "check", "--nodes", "2", "--attacks", "1", "--symmetry", "nodes"]) else { panic!() };
        assert!(a.config().unwrap_err().contains("--attacks"));
        let Command::Model(ModelCommand::Check(a)) = parse(&["model", "check", "--nodes", "2", "--attacks", "1", "--safeguards-off", "node-restriction"]) else { panic!() };
        let cfg = a.config().unwrap();
        assert_eq!((cfg.attacks, cfg.node_restriction), (1, false));
    }

    #[test]
    fn symmetry_is_bounded_at_max_symmetric_nodes() {
        let with = |n: u8| {
            let Command::Model(ModelCommand::Check(a)) = parse(&["model", "check", "--symmetry", "nodes", "--nodes", &n.to_string()]) else { panic!() };
            a.config()
        };
        assert!(with(model::symmetry::MAX_SYMMETRIC_NODES).is_ok());
        assert!(with(model::symmetry::MAX_SYMMETRIC_NODES + 1).unwrap_err().contains("at most"));
    }

    #[test]
    fn kubelets_per_process_are_bounded() {
        assert!(Cli::try_parse_from(["podchain", "kubelet", "--node", "n", "--kubeconfig", "k", "--count", &MAX_KUBELETS_PER_PROCESS.to_string()]).is_ok());
        assert!(Cli::try_parse_from(["podchain", "kubelet", "--node", "n", "--kubeconfig", "k", "--count", &(MAX_KUBELETS_PER_PROCESS + 1).to_string()]).is_err());
    }
}
