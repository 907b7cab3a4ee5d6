//! The cluster state and its steps. Reads here are linearizable (every
//! component sees the store as it is now); the model adds stale caches.

use podcore::admission::{self, CreateContext, Write};
use podcore::controller::deployment::reconcile_deployment;
use podcore::controller::expectations::Expectations;
use podcore::controller::gc::garbage_collect;
use podcore::controller::kubelet::{node_object, orphan_actions, renewed_lease, sync_pod, KubeletOptions, NodeFacts};
use podcore::controller::nodelifecycle::{node_lifecycle, NodeLifecycleConfig, NODE_LEASE_NAMESPACE};
use podcore::controller::replicaset::{expectations_for, reconcile_replicaset, RsOptions};
use podcore::controller::scheduler::{Scheduler, SchedulerOptions};
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
    pub scheduler: SchedulerOptions,
    pub kubelet: KubeletOptions,
    /// The apiserver refuses an update whose resourceVersion is not the
    /// stored one (409). A safeguard the model can switch off: then every
    /// update is unconditional, last write wins.
    pub check_resource_version: bool,
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
            scheduler: SchedulerOptions::default(),
            kubelet: KubeletOptions::default(),
            check_resource_version: true,
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

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Cluster {
    pub now: Time,
    pub revision: u64,
    pub objects: Store,
    pub next_id: u64,
    pub agents: BTreeMap<String, Agent>,
    pub expectations: BTreeMap<String, Expectations>,
    /// The scheduler's machine (its queue, per-node usage and assumed
    /// bindings), and the cache it was last fed (`feed_scheduler`).
    pub scheduler: Scheduler,
    pub scheduler_fed: Store,
    pub cfg: ClusterConfig,
    /// Every write applied, in order (cleared by whoever consumes it).
    pub journal: Vec<Applied>,
    /// The earliest time a step taken since this was last cleared asked
    /// to be run again (the core functions' `requeue_after_ms`: back-offs,
    /// grace periods, minReadySeconds). Cleared by whoever consumes it.
    pub wake_at: Option<Time>,
    /// What the write being applied stored (moved into its `Applied`).
    last_stored: Option<Shared<Object>>,
}

/// Room for writes in one object's resourceVersions (see `Cluster::commit`).
pub const VERSIONS_PER_OBJECT: u64 = 1_000_000;

/// Most rounds `settle` runs before it calls the system livelocked.
pub const MAX_SETTLE_ROUNDS: usize = 200;

impl Cluster {
    pub fn new(cfg: ClusterConfig, start: Time) -> Cluster {
        let scheduler = Scheduler::new(DEFAULT_SCHEDULER_NAME, cfg.scheduler);
        let mut c = Cluster { now: start, revision: 0, objects: Store::default(), next_id: 0, agents: BTreeMap::new(), expectations: BTreeMap::new(), scheduler, scheduler_fed: Store::default(), cfg, journal: Vec::new(), wake_at: None, last_stored: None };
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

    /// Applies one effect exactly as the apiserver would (same admission functions).
    pub fn apply(&mut self, component: &str, e: &Effect) -> Result<u64, ApiError> {
        let r = self.apply_inner(e);
        let stored = self.last_stored.take();
        self.journal.push(Applied { at: self.now, component: component.into(), effect: e.clone(), result: r.clone().map_err(|e| e.to_string()), stored });
        r
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

    fn apply_all(&mut self, component: &str, effects: &[Effect]) -> usize {
        let mut n = 0;
        for e in effects {
            if self.apply(component, e).is_ok() {
                n += 1;
            }
        }
        n
    }

    // ------------------------------------------------------------ components
    //
    // Each step decides on `view` (the component's cache: the store as of
    // some revision) and writes to the store. The harness passes the store
    // itself (linearizable reads); the model passes stale caches.

    /// One pass of the deployment controller over every Deployment in its view.
    pub fn step_deployments(&mut self, view: &Objects) -> usize {
        let mut n = 0;
        for d in list(view, Kind::Deployment).filter_map(|o| o.as_deployment()) {
            let ns = &d.metadata.namespace;
            let rss: Vec<&ReplicaSet> = list(view, Kind::ReplicaSet).filter_map(|o| o.as_replicaset()).filter(|r| &r.metadata.namespace == ns).collect();
            let pods: Vec<&Pod> = pods(view).into_iter().filter(|p| &p.metadata.namespace == ns).collect();
            let out = reconcile_deployment(self.now, d, &rss, &pods);
            self.wake_after(out.requeue_after_ms);
            n += self.apply_all("deployment-controller", &out.effects);
        }
        n
    }

    /// One pass of the replicaset controller. With `sees_own_writes` (the
    /// harness), expectations are met as each write lands; otherwise they are
    /// met when the cache later shows the change (`observe_pod_change`).
    pub fn step_replicasets(&mut self, view: &Objects, sees_own_writes: bool) -> usize {
        let mut n = 0;
        for rs in list(view, Kind::ReplicaSet).filter_map(|o| o.as_replicaset()) {
            let key = format!("{}/{}", rs.metadata.namespace, rs.metadata.name);
            let pods: Vec<&Pod> = pods(view).into_iter().filter(|p| p.metadata.namespace == rs.metadata.namespace).collect();
            let exp = self.expectations.get(&key).cloned().unwrap_or_default();
            let out = reconcile_replicaset(self.now, rs, &pods, &exp, self.cfg.rs);
            self.wake_after(out.requeue_after_ms);
            let (c, d) = expectations_for(&out);
            if c > 0 || !d.is_empty() {
                self.expectations.entry(key.clone()).or_default().expect(c, d, self.now);
            }
            for e in &out.effects {
                let ok = self.apply("replicaset-controller", e).is_ok();
                // A write that failed will never be seen: lower the expectation now.
                if sees_own_writes || !ok {
                    let exp = self.expectations.entry(key.clone()).or_default();
                    match e {
                        Effect::Create(_) => exp.observe_creation(),
                        Effect::Delete(d) => exp.observe_deletion(&d.uid),
                        _ => {}
                    }
                }
                n += usize::from(ok);
            }
        }
        let live: std::collections::BTreeSet<String> = list(view, Kind::ReplicaSet).map(|o| format!("{}/{}", o.meta().namespace, o.meta().name)).collect();
        self.expectations.retain(|k, _| live.contains(k));
        n
    }

    /// Feeds the scheduler's machine every pod and node change between the
    /// cache it was last fed and `view` (what its informers deliver).
    pub fn feed_scheduler(&mut self, view: &Store) {
        if view.same_map(&self.scheduler_fed) {
            return;
        }
        let fed = std::mem::take(&mut self.scheduler_fed);
        let sched = &mut self.scheduler;
        for kind in [Kind::Node, Kind::Pod] {
            Store::diff_under(&fed, view, &kind.key_prefix(), |_, old, new| {
                let name = new.or(old).expect("in one of them").meta().key();
                match kind {
                    Kind::Node => sched.handle_node(&name, new.and_then(|o| o.as_node())),
                    _ => sched.handle_pod(&name, old.and_then(|o| o.as_pod()), new.and_then(|o| o.as_pod())),
                }
            });
        }
        self.scheduler_fed = view.clone();
    }

    /// The scheduler restarts: its machine starts empty and is fed its
    /// cache afresh on its next step (a relist).
    pub fn restart_scheduler(&mut self) {
        self.scheduler = Scheduler::new(DEFAULT_SCHEDULER_NAME, self.cfg.scheduler);
        self.scheduler_fed = Store::default();
    }

    /// The scheduler's step: fed its cache, it places every pod it has
    /// queued, each binding answered at once. Ties between equally good
    /// nodes go to the first in `prefer` (the rest after, in name order);
    /// an empty `prefer` is the daemon's name order.
    pub fn step_scheduler(&mut self, view: &Store, prefer: &[String]) -> usize {
        self.feed_scheduler(view);
        let mut n = 0;
        while let Some(key) = self.scheduler.poll(self.now) {
            let (ns, name) = key.split_once('/').unwrap_or(("", &key));
            let pod = view.get(&Kind::Pod.key(ns, name)).and_then(|o| o.as_pod()).cloned();
            let Some(s) = self.scheduler.schedule(self.now, &key, pod.as_ref(), prefer) else { continue };
            if let Some(e) = s.effect {
                let r = self.apply("scheduler", &e);
                n += usize::from(r.is_ok());
                self.scheduler.handle_write_result(self.now, &key, r.map(|_| ()).map_err(|e| e.code));
            }
        }
        if let Some(at) = self.scheduler.poll_timeout() {
            self.wake_after(Some(at.ms_since(self.now)));
        }
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
        self.apply("kubelet", &e).ok();
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
            if self.apply("kubelet", &Effect::create(obj)).is_ok() {
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
                n += self.apply_all("kubelet", &[Effect::update_status(Object::Pod(p))]);
            }
            if out.confirm_deletion {
                let d = DeleteRequest { kind: Kind::Pod, namespace: pod.metadata.namespace.clone(), name: pod.metadata.name.clone(), uid: pod.metadata.uid.clone(), propagation: None, grace_period_seconds: Some(0) };
                n += self.apply_all("kubelet", &[Effect::Delete(d)]);
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

    pub fn step_node_lifecycle(&mut self, view: &Objects) -> usize {
        let nodes: Vec<&Node> = list(view, Kind::Node).filter_map(|o| o.as_node()).collect();
        let leases: Vec<&Lease> = list(view, Kind::Lease).filter_map(|o| o.as_lease()).collect();
        let pods = pods(view);
        let out = node_lifecycle(self.now, &nodes, &leases, &pods, self.cfg.node_lifecycle);
        self.wake_after(out.requeue_after_ms);
        self.apply_all("node-lifecycle-controller", &out.effects)
    }

    pub fn step_gc(&mut self, view: &Objects) -> usize {
        let objs: Vec<&Object> = view.values().map(|o| &**o).collect();
        let effects = garbage_collect(&objs);
        self.apply_all("garbage-collector", &effects)
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
        n += self.step_replicasets(&v, true);
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
