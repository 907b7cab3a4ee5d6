//! The cluster state and its steps. Reads here are linearizable (every
//! component sees the store as it is now); the model adds stale caches.

use podcore::authz;
use podcore::admission::{self, CreateContext, Write};
use std::collections::BTreeSet;
use podcore::controller::deployment::{DeploymentController, DeploymentOptions};
use podcore::controller::gc::{GarbageCollector, GcStep};
use podcore::controller::kubelet::{node_object, orphan_actions, renewed_lease, sync_pod, KubeletOptions, NodeFacts};
use podcore::controller::nodelifecycle::{NodeLifecycleConfig, NodeLifecycleController, NodeStep, NODE_LEASE_NAMESPACE};
use podcore::controller::replicaset::{ReplicaSetController, RsOptions, Writes};
use podcore::controller::scheduler::{Scheduler, SchedulerOptions};
use podcore::cache::View;
use podcore::controller::queue::Looks;
use podcore::controller::Controller;
use podcore::controller::simruntime::SimNode;
use podcore::defaults::DEFAULT_SCHEDULER_NAME;
use podcore::effect::{DeleteRequest, Effect};
use podcore::object::{Kind, Object};
use podcore::status::ApiError;
use podcore::time::Time;
use podcore::types::*;
use std::collections::BTreeMap;

pub use crate::store::{Objects, Shared, Store};

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ClusterConfig {
    pub lease_renew_ms: i64,
    pub node_lifecycle: NodeLifecycleConfig,
    pub default_toleration_seconds: i64,
    pub node_cpu: String,
    pub node_memory: String,
    pub max_pods: u32,
    pub rs: RsOptions,
    pub deployment: DeploymentOptions,
    pub scheduler: SchedulerOptions,
    pub kubelet: KubeletOptions,
    /// The apiserver refuses an update whose resourceVersion is not the
    /// stored one (409). A safeguard the model can switch off: then every
    /// update is unconditional, last write wins.
    pub check_resource_version: bool,
    /// The apiserver's node restriction: a kubelet writes only its own
    /// Node and Lease and the status and deletion of pods bound to it
    /// (`podcore::authz::node_restriction`). A safeguard the model can
    /// switch off; authorisation itself is always on.
    pub node_restriction: bool,
}

impl Default for ClusterConfig {
    fn default() -> Self {
        ClusterConfig {
            lease_renew_ms: 10_000,
            node_lifecycle: NodeLifecycleConfig::default(),
            default_toleration_seconds: 300,
            node_cpu: "4".into(),
            node_memory: "8Gi".into(),
            max_pods: 110,
            rs: RsOptions::default(),
            deployment: DeploymentOptions::default(),
            scheduler: SchedulerOptions::default(),
            kubelet: KubeletOptions::default(),
            check_resource_version: true,
            node_restriction: true,
        }
    }
}

pub fn list(view: &Objects, kind: Kind) -> impl Iterator<Item = &Object> {
    let prefix = kind.key_prefix();
    view.range(prefix.clone()..).take_while(move |(k, _)| k.starts_with(&prefix)).map(|(_, o)| &**o)
}

pub fn pods(view: &Objects) -> Vec<&Pod> {
    list(view, Kind::Pod).filter_map(|o| o.as_pod()).collect()
}

/// One kubelet: whether its process runs, its runtime, its lease timer.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Agent {
    pub alive: bool,
    pub runtime: SimNode,
    pub next_lease_at: Time,
    pub node_uid: String,
}

/// One applied write, for traces and assertions.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Applied {
    pub at: Time,
    pub component: String,
    pub effect: Effect,
    pub result: Result<u64, String>,
    /// The object as the store holds it after this write; None when the
    /// write failed, changed nothing or removed the object. This is the
    /// watch history: what a watcher of the object would have been sent.
    pub stored: Option<Shared<Object>>,
}

/// A controller machine and the cache it was last fed: `feed` hands it
/// every change between that cache and a newer one, as its informers
/// would (the daemons hand it each change as it arrives).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Fed<M> {
    pub machine: M,
    pub fed: Store,
}

impl<M: Controller> Fed<M> {
    pub fn new(machine: M) -> Fed<M> {
        Fed { machine, fed: Store::default() }
    }

    /// Feeds the machine every change of the kinds it watches between the
    /// cache it was last fed and `view`.
    pub fn feed(&mut self, view: &Store) {
        if view.same_map(&self.fed) {
            return;
        }
        let fed = std::mem::take(&mut self.fed);
        let objects: &Objects = view;
        for kind in M::WATCHES {
            Store::diff_under(&fed, view, &kind.key_prefix(), |_, old, new| {
                let key = new.or(old).expect("in one of them").meta().key();
                self.machine.handle_change(*kind, &key, old.map(|o| &**o), new.map(|o| &**o), objects);
            });
        }
        self.fed = view.clone();
    }

    /// Fed `view`, then in the model's canonical form (`Looks::settle`).
    pub fn settle(&mut self, now: Time, view: &Store)
    where
        M: Looks,
    {
        self.feed(view);
        self.machine.settle(now, &**view);
    }

    /// The keys with work no change woke, on the cache last fed (`Looks::unwoken`).
    pub fn unwoken(&self, now: Time) -> Vec<String>
    where
        M: Looks,
    {
        self.machine.unwoken(now, &*self.fed)
    }

    /// A resync: the informers deliver every object they hold again as an
    /// update that changes nothing (client-go's resync period), so the
    /// machine looks again at whatever such updates wake — possibly while
    /// its cache is behind the store.
    pub fn resync(&mut self) {
        let objects: &Objects = &self.fed;
        for kind in M::WATCHES {
            for o in objects.list(*kind) {
                self.machine.handle_change(*kind, &o.meta().key(), Some(o), Some(o), objects);
            }
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Cluster {
    pub now: Time,
    pub revision: u64,
    pub objects: Store,
    pub next_id: u64,
    pub agents: BTreeMap<String, Agent>,
    /// The controller machines, each with the cache it was last fed: the
    /// same machines the daemons drive (their queues, the ReplicaSet
    /// expectations, the scheduler's usage and assumed bindings, the
    /// collector's absent owners).
    pub replicasets: Fed<ReplicaSetController>,
    pub deployments: Fed<DeploymentController>,
    pub node_lifecycle: Fed<NodeLifecycleController>,
    pub gc: Fed<GarbageCollector>,
    pub scheduler: Fed<Scheduler>,
    pub cfg: ClusterConfig,
    /// Every write applied, in order (cleared by whoever consumes it).
    pub journal: Vec<Applied>,
    /// The earliest time a step taken since this was last cleared asked
    /// to be run again (the core functions' `requeue_after_ms`: back-offs,
    /// grace periods, minReadySeconds). Cleared by whoever consumes it.
    pub wake_at: Option<Time>,
    /// What the write being applied stored (moved into its `Applied`).
    last_stored: Option<Shared<Object>>,
    /// Components whose next write the apiserver refuses (503), a fault
    /// the model injects (`Action::RefuseWrite`).
    pub refusing: BTreeSet<String>,
}

/// A key whose write failed is retried at the machine's next step, not
/// after `RETRY_AFTER_MS`: the model takes components to be fast next to
/// their timeouts (the clock moves only when none has anything to do), so
/// a retry comes before any of them. The machine's timer is left set; it
/// finds nothing to do when it fires, or `settle` drops it.
fn retry_at_next_step(q: &mut podcore::controller::queue::Queue, key: &str, failed: bool) {
    if failed {
        q.add(key);
    }
}

/// The prefix of a kubelet's component name (`kubelet/NODE`), and of the
/// compromised kubelet's (`compromised-kubelet/NODE`): both run as the node.
pub const KUBELET: &str = "kubelet/";
pub const COMPROMISED_KUBELET: &str = "compromised-kubelet/";

/// Who each writer of the model runs as, as the daemons do: the user (and
/// the bootstrap) as an admin in `system:masters`, the controllers as the
/// controller-manager, the scheduler as itself, a kubelet as its node.
pub fn identity(component: &str) -> authz::UserInfo {
    use podcore::rbac::*;
    if let Some(node) = component.strip_prefix(KUBELET).or_else(|| component.strip_prefix(COMPROMISED_KUBELET)) {
        return authz::UserInfo::new(&format!("{NODE_USER_PREFIX}{node}"), &[SYSTEM_NODES, SYSTEM_AUTHENTICATED]);
    }
    match component {
        "user" | "bootstrap" => authz::UserInfo::new("kubernetes-admin", &[SYSTEM_MASTERS, SYSTEM_AUTHENTICATED]),
        "deployment-controller" | "replicaset-controller" | "garbage-collector" | "node-lifecycle-controller" => authz::UserInfo::new(CONTROLLER_MANAGER_USER, &[SYSTEM_AUTHENTICATED]),
        "scheduler" => authz::UserInfo::new(SCHEDULER_USER, &[SYSTEM_AUTHENTICATED]),
        _ => authz::UserInfo::new(SYSTEM_ANONYMOUS, &[SYSTEM_UNAUTHENTICATED]),
    }
}

/// Upstream's bootstrap policy, built once: the model's apiserver authorises by it.
pub fn policy() -> &'static authz::Policy {
    static POLICY: std::sync::OnceLock<authz::Policy> = std::sync::OnceLock::new();
    POLICY.get_or_init(authz::Policy::bootstrap)
}

/// Room for writes in one object's resourceVersions (see `Cluster::commit`).
pub const VERSIONS_PER_OBJECT: u64 = 1_000_000;

/// Most rounds `settle` runs before it calls the system livelocked.
pub const MAX_SETTLE_ROUNDS: usize = 200;

impl Cluster {
    pub fn new(cfg: ClusterConfig, start: Time) -> Cluster {
        let mut c = Cluster {
            now: start,
            revision: 0,
            objects: Store::default(),
            next_id: 0,
            agents: BTreeMap::new(),
            replicasets: Fed::new(ReplicaSetController::new(cfg.rs)),
            deployments: Fed::new(DeploymentController { opts: cfg.deployment, ..Default::default() }),
            node_lifecycle: Fed::new(NodeLifecycleController::new(cfg.node_lifecycle)),
            gc: Fed::new(GarbageCollector::default()),
            scheduler: Fed::new(Scheduler::new(DEFAULT_SCHEDULER_NAME, cfg.scheduler)),
            cfg,
            journal: Vec::new(),
            wake_at: None,
            last_stored: None,
            refusing: BTreeSet::new(),
        };
        for ns in ["default", "kube-system", "kube-node-lease"] {
            let mut n = Namespace::default();
            n.metadata.name = ns.into();
            c.apply("bootstrap", &Effect::create(Object::Namespace(n))).expect("bootstrap namespaces");
        }
        c
    }

    // ------------------------------------------------------------ the store

    pub fn get(&self, kind: Kind, ns: &str, name: &str) -> Option<&Object> {
        self.objects.get(&kind.key(ns, name)).map(|o| &**o)
    }

    pub fn list(&self, kind: Kind) -> impl Iterator<Item = &Object> {
        list(&self.objects, kind)
    }

    pub fn pods(&self) -> Vec<&Pod> {
        pods(&self.objects)
    }

    /// Stores `obj` under a new resourceVersion. The model's store versions
    /// each object on its own — the incarnation's uid number times
    /// `VERSIONS_PER_OBJECT` plus its count of writes — where the real
    /// store uses one global revision. No core function orders the
    /// resourceVersions of different objects (preconditions compare one
    /// object's for equality), so behaviour is the same, and two writes to
    /// different objects that commute lead to one state, not two. The
    /// global `revision` still counts writes, for the caches.
    fn commit(&mut self, mut obj: Object) -> u64 {
        self.revision += 1;
        let key = obj.key();
        let uid = obj.meta().uid.clone();
        let rv = match self.objects.get(&key).filter(|o| o.meta().uid == uid) {
            Some(cur) => cur.meta().revision() + 1,
            None => uid.trim_start_matches("uid-").parse::<u64>().unwrap_or(0) * VERSIONS_PER_OBJECT + 1,
        };
        assert!(rv % VERSIONS_PER_OBJECT != 0, "{key} was written {VERSIONS_PER_OBJECT} times");
        obj.meta_mut().resource_version = rv.to_string();
        self.objects.insert(key.clone(), obj);
        self.last_stored = self.objects.get(&key).cloned();
        rv
    }

    /// Applies one effect exactly as the apiserver would (same authorisation
    /// and admission functions), as the user `component` runs as.
    pub fn apply(&mut self, component: &str, e: &Effect) -> Result<u64, ApiError> {
        let r = if self.refusing.remove(component) { Err(ApiError::new(503, "ServiceUnavailable", "the server is currently unable to handle the request")) } else { self.authorized(component, e).and_then(|()| self.apply_inner(e)) };
        let stored = self.last_stored.take();
        self.journal.push(Applied { at: self.now, component: component.into(), effect: e.clone(), result: r.clone().map_err(|e| e.to_string()), stored });
        r
    }

    /// The apiserver's authorisation of the write (`authz::check_write`, over
    /// upstream's bootstrap policy), against the object as stored.
    fn authorized(&self, component: &str, e: &Effect) -> Result<(), ApiError> {
        let key = match e {
            Effect::Create(o) | Effect::Update(o) | Effect::UpdateStatus(o) => o.key(),
            Effect::Delete(d) => d.kind.key(&d.namespace, &d.name),
            Effect::Bind { namespace, name, .. } => Kind::Pod.key(namespace, name),
        };
        let existing = self.objects.get(&key).map(|o| &**o);
        authz::check_write(&identity(component), e, policy(), self.cfg.node_restriction, existing)
    }

    /// The apiserver's decision (`admission::decide`, the same function the
    /// registry calls), then the model's store does what it says.
    fn apply_inner(&mut self, e: &Effect) -> Result<u64, ApiError> {
        let mut req = admission::request_of(e);
        if !self.cfg.check_resource_version {
            // The safeguard switched off: every update is unconditional.
            if let admission::Request::Update { obj, .. } = &mut req {
                obj.meta_mut().resource_version.clear();
            }
        }
        // An id is consumed only by a create that succeeds, so a refused
        // retry leaves the state as it was.
        let id = self.next_id + 1;
        let uid = format!("uid-{id}");
        let suffix = format!("{:05}", id % 100_000);
        let ns = match e {
            Effect::Create(o) => o.meta().namespace.clone(),
            _ => String::new(),
        };
        let ctx = CreateContext { now: self.now, uid: &uid, name_suffix: &suffix, namespace: &ns, default_toleration_seconds: self.cfg.default_toleration_seconds };
        let objects = &self.objects;
        let decided = admission::decide(&req, &ctx, &mut |key| objects.get(key).map(|o| (**o).clone()))?;
        match decided.write {
            Write::Create(o) => {
                self.next_id = id;
                Ok(self.commit(o))
            }
            Write::Update(o) => Ok(self.commit(o)),
            Write::Remove(_) => {
                self.objects.remove(&decided.key);
                self.revision += 1;
                Ok(self.revision)
            }
            Write::Nothing(_) => Ok(self.revision),
        }
    }

    fn wake_after(&mut self, ms: Option<i64>) {
        if let Some(ms) = ms {
            let at = self.now.plus_ms(ms);
            self.wake_at = Some(self.wake_at.map_or(at, |w| w.min(at)));
        }
    }

    /// Applies `effects` in order; whether any failed.
    fn apply_in_order(&mut self, component: &str, effects: &[Effect]) -> (usize, bool) {
        let (mut n, mut failed) = (0, false);
        for e in effects {
            match self.apply(component, e) {
                Ok(_) => n += 1,
                Err(_) => failed = true,
            }
        }
        (n, failed)
    }

    fn apply_all(&mut self, component: &str, effects: &[Effect]) -> usize {
        self.apply_in_order(component, effects).0
    }

    fn wake_at_timer(&mut self, at: Option<Time>) {
        if let Some(at) = at {
            self.wake_after(Some(at.ms_since(self.now)));
        }
    }

    // ------------------------------------------------------------ components
    //
    // Each step feeds the component's machine its cache `view` (the store
    // as of some revision), takes every key the machine has due, decides
    // on `view` and writes to the store, handing each write's answer back
    // to the machine: what the daemon's loop does, with one worker taking
    // keys in key order. The harness passes the store itself
    // (linearizable reads); the model passes stale caches.

    /// Every key `queue` has due now, in key order (see `Queue::sort`).
    fn due(now: Time, mut poll: impl FnMut(Time) -> Option<String>) -> Vec<String> {
        let mut keys: Vec<String> = std::iter::from_fn(|| poll(now)).collect();
        keys.sort();
        keys
    }

    /// The deployment controller's step.
    pub fn step_deployments(&mut self, view: &Store) -> usize {
        self.deployments.feed(view);
        let mut n = 0;
        let now = self.now;
        for key in Self::due(now, |t| self.deployments.machine.poll(t)) {
            let r = self.deployments.machine.reconcile(now, &key, &**view);
            let (wrote, failed) = self.apply_in_order("deployment-controller", &r.outcome.effects);
            n += wrote;
            self.deployments.machine.done(now, &key, r.outcome.requeue_after_ms, failed);
            retry_at_next_step(&mut self.deployments.machine.queue, &key, failed);
        }
        self.wake_at_timer(self.deployments.machine.poll_timeout());
        n
    }

    /// The ReplicaSet controller's step: its writes go out in the waves the
    /// daemon sends them in (`Writes`), one after another.
    /// The ReplicaSet controller's step, as the daemon's: each due key
    /// reconciled, its writes sent in waves and every result answered
    /// back. Returns the writes that succeeded, and where the expectations
    /// a reconcile left do not stand for exactly its writes that succeeded
    /// (a violation: see proofs/replicaset-expectations-answered.md).
    pub fn step_replicasets(&mut self, view: &Store) -> (usize, Vec<String>) {
        self.replicasets.feed(view);
        let (mut n, mut unfounded) = (0, Vec::new());
        let now = self.now;
        for key in Self::due(now, |t| self.replicasets.machine.poll(t)) {
            let r = self.replicasets.machine.reconcile(now, &key, &**view);
            let mut writes = Writes::new(&r.outcome.effects);
            let (mut created, mut deleted) = (0, BTreeSet::new());
            while let Some(next) = writes.next() {
                let mut results = Vec::new();
                for e in &r.outcome.effects[next.wave.writes.clone()] {
                    let res = if next.send { self.apply("replicaset-controller", e).map(|_| ()).map_err(|e| e.code) } else { Err(0) };
                    n += usize::from(res.is_ok());
                    match e {
                        Effect::Create(_) if res.is_ok() => created += 1,
                        Effect::Delete(d) if res.is_ok() => {
                            deleted.insert(d.uid.clone());
                        }
                        _ => {}
                    }
                    self.replicasets.machine.handle_write_result(&key, e, res);
                    results.push(res);
                }
                writes.answered(&next.wave, &results);
            }
            let (creations, deletions) = podcore::controller::replicaset::expectations_for(&r.outcome);
            if creations > 0 || !deletions.is_empty() {
                let left = self.replicasets.machine.expectations.get(&key).map(|e| (e.pending_creations, e.pending_deletions.clone()));
                if left != Some((created, deleted.clone())) {
                    unfounded.push(format!("every write answered, {key} expects {left:?} where its writes that succeeded were {created} creations and deletions {deleted:?}"));
                }
            }
            self.replicasets.machine.done(now, &key, r.outcome.requeue_after_ms, writes.failed());
            retry_at_next_step(&mut self.replicasets.machine.queue, &key, writes.failed());
        }
        self.wake_at_timer(self.replicasets.machine.poll_timeout());
        (n, unfounded)
    }

    /// The ReplicaSet controller restarts: its machine starts empty and is
    /// fed its cache afresh on its next step (a relist).
    pub fn restart_replicasets(&mut self) {
        self.replicasets = Fed::new(ReplicaSetController::new(self.cfg.rs));
    }

    /// The scheduler restarts: its machine starts empty and is fed its
    /// cache afresh on its next step (a relist).
    pub fn restart_scheduler(&mut self) {
        self.scheduler = Fed::new(Scheduler::new(DEFAULT_SCHEDULER_NAME, self.cfg.scheduler));
    }

    /// The scheduler's step: fed its cache, it places every pod it has
    /// queued, each binding answered at once. Ties between equally good
    /// nodes go to the first in `prefer` (the rest after, in name order);
    /// an empty `prefer` is the daemon's name order.
    pub fn step_scheduler(&mut self, view: &Store, prefer: &[String]) -> usize {
        self.scheduler.feed(view);
        let mut n = 0;
        while let Some(key) = self.scheduler.machine.poll(self.now) {
            let (ns, name) = key.split_once('/').unwrap_or(("", &key));
            let pod = view.get(&Kind::Pod.key(ns, name)).and_then(|o| o.as_pod()).cloned();
            let Some(s) = self.scheduler.machine.schedule(self.now, &key, pod.as_ref(), prefer) else { continue };
            if let Some(e) = s.effect {
                let r = self.apply("scheduler", &e);
                n += usize::from(r.is_ok());
                self.scheduler.machine.handle_write_result(self.now, &key, r.map(|_| ()).map_err(|e| e.code));
            }
        }
        self.wake_at_timer(self.scheduler.machine.poll_timeout());
        n
    }

    fn facts(&self, node: &str) -> NodeFacts {
        NodeFacts {
            name: node.into(),
            host_ip: "127.0.0.1".into(),
            cpu: self.cfg.node_cpu.clone(),
            memory: self.cfg.node_memory.clone(),
            max_pods: self.cfg.max_pods,
            kubelet_version: "v1.32.0-podchain".into(),
            runtime_version: "sim://0.1.0".into(),
            runtime_problem: String::new(),
            kubelet_port: 0,
        }
    }

    /// Starts a kubelet for `node` (registration happens in its first step).
    pub fn add_node(&mut self, node: &str) {
        let subnet = format!("10.88.{}", self.agents.len() + 1);
        self.agents.insert(node.into(), Agent { alive: true, runtime: SimNode::new(&subnet), next_lease_at: self.now, node_uid: String::new() });
    }

    /// The kubelet's lease renewal (upstream: every 10 s): the same core
    /// function the daemon calls, then the next renewal is due a period later.
    pub fn renew_lease(&mut self, node: &str) {
        let node_uid = self.get(Kind::Node, "", node).map(|o| o.meta().uid.clone()).unwrap_or_default();
        let cur = self.get(Kind::Lease, NODE_LEASE_NAMESPACE, node).and_then(|o| o.as_lease()).cloned();
        let lease = Object::Lease(renewed_lease(cur.as_ref(), node, &node_uid, 40, self.now));
        let e = if cur.is_some() { Effect::update(lease) } else { Effect::create(lease) };
        self.apply(&format!("{KUBELET}{node}"), &e).ok();
        let a = self.agents.get_mut(node).expect("agent exists");
        a.next_lease_at = self.now.plus_ms(self.cfg.lease_renew_ms);
        a.node_uid = node_uid;
    }

    pub fn kill_kubelet(&mut self, node: &str) {
        if let Some(a) = self.agents.get_mut(node) {
            a.alive = false;
        }
    }

    /// One pass of one kubelet: register, renew the lease when due, sync
    /// every pod in its view. The view is not filtered by node: the model
    /// treats the watch's field selector as untrusted, so `sync_pod`'s own
    /// node-name check is what keeps foreign pods out.
    pub fn step_kubelet(&mut self, node: &str, view: &Objects) -> usize {
        let Some(agent) = self.agents.get(node).cloned() else { return 0 };
        if !agent.alive {
            return 0;
        }
        let mut n = 0;
        if self.get(Kind::Node, "", node).is_none() {
            let obj = Object::Node(node_object(&self.facts(node), self.now));
            if self.apply(&format!("{KUBELET}{node}"), &Effect::create(obj)).is_ok() {
                n += 1;
            }
        }
        if self.now >= agent.next_lease_at {
            self.renew_lease(node);
        }
        let mut running_here = std::collections::BTreeSet::new();
        for pod in pods(view) {
            let obs = self.agents[node].runtime.observe(&pod.metadata.uid);
            let out = sync_pod(self.now, node, "127.0.0.1", pod, &obs, self.cfg.kubelet);
            self.wake_after(out.requeue_after_ms);
            let now = self.now;
            let rt = &mut self.agents.get_mut(node).expect("agent").runtime;
            for a in &out.actions {
                if rt.apply(pod, a, now).is_err() {
                    break;
                }
                n += 1;
            }
            if rt.pods.contains_key(&pod.metadata.uid) {
                running_here.insert(pod.metadata.uid.clone());
            }
            if let Some(status) = out.status {
                let mut p = pod.clone();
                p.status = status;
                n += self.apply_all(&format!("{KUBELET}{node}"), &[Effect::update_status(Object::Pod(p))]);
            }
            if out.confirm_deletion {
                let d = DeleteRequest { kind: Kind::Pod, namespace: pod.metadata.namespace.clone(), name: pod.metadata.name.clone(), uid: pod.metadata.uid.clone(), propagation: None, grace_period_seconds: Some(0) };
                n += self.apply_all(&format!("{KUBELET}{node}"), &[Effect::Delete(d)]);
            }
        }
        // Pods the runtime holds that the view no longer shows.
        let orphans: Vec<_> = self.agents[node].runtime.pods.iter().filter(|(uid, _)| !running_here.contains(*uid) && !pods(view).iter().any(|p| &&p.metadata.uid == uid)).map(|(_, (r, o))| (r.clone(), o.clone())).collect();
        let now = self.now;
        for (r, obs) in orphans {
            let ghost = SimNode::ghost(&r);
            let actions = orphan_actions(&obs);
            let rt = &mut self.agents.get_mut(node).expect("agent").runtime;
            for a in &actions {
                rt.apply(&ghost, a, now).ok();
            }
            n += 1;
        }
        n
    }

    /// The node lifecycle controller's step: one decision per node due;
    /// a node its cache does not show is read from the store (the live GET).
    pub fn step_node_lifecycle(&mut self, view: &Store) -> usize {
        self.node_lifecycle.feed(view);
        let mut n = 0;
        let now = self.now;
        for name in Self::due(now, |t| self.node_lifecycle.machine.poll(t)) {
            let mut d = self.node_lifecycle.machine.reconcile(now, &name, &**view);
            if let NodeStep::Verify(node) = &d.step {
                let exists = self.get(Kind::Node, "", node).is_some();
                d = self.node_lifecycle.machine.handle_verified(&name, exists, &**view);
            }
            let NodeStep::Act(out) = d.step else { unreachable!("a verified node decides") };
            let (wrote, failed) = self.apply_in_order("node-lifecycle-controller", &out.effects);
            n += wrote;
            self.node_lifecycle.machine.done(now, &name, out.requeue_after_ms, failed);
            retry_at_next_step(&mut self.node_lifecycle.machine.queue, &name, failed);
        }
        self.wake_at_timer(self.node_lifecycle.machine.poll_timeout());
        n
    }

    /// The garbage collector's step: one look per object due; an owner its
    /// cache does not show is read from the store (the live GET).
    pub fn step_gc(&mut self, view: &Store) -> usize {
        self.gc.feed(view);
        let mut n = 0;
        let now = self.now;
        let mut failures = Vec::new();
        // An absent owner queues its dependent again: looked at in this step too.
        loop {
            let keys = Self::due(now, |t| self.gc.machine.poll(t));
            if keys.is_empty() {
                break;
            }
            for key in keys {
                match self.gc.machine.reconcile(&key, &**view).step {
                    GcStep::Act(effects) => {
                        let (wrote, failed) = self.apply_in_order("garbage-collector", &effects);
                        n += wrote;
                        self.gc.machine.done(now, &key, failed);
                        if failed {
                            failures.push(key);
                        }
                    }
                    GcStep::Verify { kind, namespace, name, uid } => {
                        let exists = self.get(kind, &namespace, &name).is_some_and(|o| o.meta().uid == uid);
                        self.gc.machine.handle_verified(&key, &uid, exists);
                        self.gc.machine.done(now, &key, false);
                    }
                }
            }
        }
        // Retried at the next step, not in this one's loop.
        for key in failures {
            retry_at_next_step(&mut self.gc.machine.queue, &key, true);
        }
        self.wake_at_timer(self.gc.machine.poll_timeout());
        n
    }

    /// Makes a container exit in whichever runtime holds the pod.
    pub fn exit_container(&mut self, ns: &str, pod: &str, container: &str, code: i32) -> Result<(), String> {
        let now = self.now;
        for a in self.agents.values_mut() {
            if a.runtime.pods.values().any(|(r, _)| r.namespace == ns && r.name == pod) {
                return a.runtime.exit(ns, pod, container, code, now);
            }
        }
        Err(format!("no runtime holds pod {ns}/{pod}"))
    }

    /// One round: every component once, in a fixed order, each reading the
    /// store as it is at that moment. Returns the work done.
    pub fn round(&mut self) -> usize {
        let mut n = 0;
        let nodes: Vec<String> = self.agents.keys().cloned().collect();
        for node in &nodes {
            let v = self.objects.clone();
            n += self.step_kubelet(node, &v);
        }
        let v = self.objects.clone();
        n += self.step_node_lifecycle(&v);
        let v = self.objects.clone();
        n += self.step_deployments(&v);
        let v = self.objects.clone();
        n += self.step_replicasets(&v).0;
        let v = self.objects.clone();
        n += self.step_scheduler(&v, &[]);
        for node in &nodes {
            let v = self.objects.clone();
            n += self.step_kubelet(node, &v);
        }
        let v = self.objects.clone();
        n += self.step_gc(&v);
        n
    }

    /// Runs rounds until nothing changes. Panics if that never happens: a
    /// system that keeps writing with time standing still is livelocked.
    pub fn settle(&mut self) -> usize {
        self.settle_within(MAX_SETTLE_ROUNDS).unwrap_or_else(|e| panic!("{e}"))
    }

    /// Runs at most `max_rounds` rounds; Ok(the rounds that did work) once
    /// one does nothing, else an error with the last writes.
    pub fn settle_within(&mut self, max_rounds: usize) -> Result<usize, String> {
        for i in 0..max_rounds {
            if self.round() == 0 {
                return Ok(i);
            }
        }
        Err(format!("the cluster did not settle within {max_rounds} rounds at {}; last writes: {:#?}", self.now, &self.journal[self.journal.len().saturating_sub(10)..]))
    }

    /// Advances simulated time by `ms` in steps of `tick_ms`, settling after each.
    pub fn run_for(&mut self, ms: i64, tick_ms: i64) {
        let end = self.now.plus_ms(ms);
        self.settle();
        while self.now < end {
            self.now = Time(self.now.plus_ms(tick_ms).0.min(end.0));
            self.settle();
        }
    }
}
