//! The stateright model: the cluster of `cluster.rs`, with each component
//! reading its own cache (possibly stale), and faults. Every step calls the
//! same core function the daemon calls; writes go through the apiserver's
//! admission functions, so preconditions fail with 409 as in production.
//!
//! Safety properties that concern one transition (a pod's node changing, a
//! ReplicaSet over-creating, an owned pod being adopted) are checked in
//! `next_state` and recorded in `State::violations`; the properties then
//! say "no violation is ever recorded". Properties of one state are checked
//! on the state directly.

use crate::cluster::{list, pods, Cluster, ClusterConfig, Objects, Store};
use podcore::controller::deployment::fenceposts;
use podcore::controller::kubelet::{ContainerRun, KubeletOptions};
use podcore::controller::replicaset::RsOptions;
use podcore::controller::scheduler::SchedulerOptions;
use podcore::effect::Effect;
use podcore::object::{Kind, Object};
use podcore::podutil::{is_active, is_available, is_ready, is_terminal, request_nanos};
use podcore::time::Time;
use podcore::types::*;
use stateright::{Model, Property};
use std::collections::{BTreeMap, BTreeSet};

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

pub struct PodChainModel {
    pub cfg: ModelConfig,
}

pub fn node_name(i: u8) -> String {
    format!("node-{i}")
}

fn deployment(cfg: &ModelConfig) -> Deployment {
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

impl PodChainModel {
    pub fn components(&self) -> Vec<Component> {
        let mut v = vec![Component::Deployments, Component::ReplicaSets, Component::Scheduler];
        for i in 1..=self.cfg.nodes {
            v.push(Component::Kubelet(i));
        }
        if self.cfg.node_failures > 0 || self.cfg.ticks > 0 {
            v.push(Component::NodeLifecycle);
        }
        if self.cfg.delete {
            v.push(Component::GarbageCollector);
        }
        v
    }

    fn view<'a>(&self, s: &'a State, c: Component) -> &'a Store {
        match self.cfg.consistency {
            Consistency::Linearizable => &s.cluster.objects,
            Consistency::StaleMonotonic => &s.caches[&c],
        }
    }

    /// The scheduler's passes with symmetry on: one per order of nodes while
    /// its cache holds a pod to place (ties can only arise then), else the
    /// one pass in name order.
    fn schedule_actions(&self, s: &State, actions: &mut Vec<Action>) {
        let view = self.view(s, Component::Scheduler);
        let placing = pods(view).into_iter().any(|p| podcore::controller::scheduler::wants(p, podcore::defaults::DEFAULT_SCHEDULER_NAME));
        if placing && self.cfg.nodes > 1 {
            actions.extend(crate::symmetry::orders(self.cfg.nodes).into_iter().map(Action::Schedule));
        } else {
            actions.push(Action::Step(Component::Scheduler));
        }
    }

    /// Runs one component pass on `s`; returns the new state (violations recorded).
    fn step(&self, s: &State, c: Component) -> State {
        self.step_in_order(s, c, &[])
    }

    /// One pass, the scheduler preferring nodes in `order` among equals
    /// (empty: name order).
    fn step_in_order(&self, s: &State, c: Component, order: &[u8]) -> State {
        let mut n = s.clone();
        let view = self.view(s, c).clone();
        let before = s.cluster.objects.clone();
        match c {
            Component::Deployments => {
                n.cluster.step_deployments(&view);
            }
            Component::ReplicaSets => {
                let (_, unfounded) = n.cluster.step_replicasets(&view);
                n.violations.extend(unfounded);
            }
            Component::Scheduler => {
                let prefer: Vec<String> = order.iter().map(|i| node_name(*i)).collect();
                n.cluster.step_scheduler(&view, &prefer);
            }
            Component::Kubelet(i) => {
                n.cluster.step_kubelet(&node_name(i), &view);
            }
            Component::NodeLifecycle => {
                n.cluster.step_node_lifecycle(&view);
            }
            Component::GarbageCollector => {
                n.cluster.step_gc(&view);
            }
        }
        self.check_transition(&before, &mut n, c);
        self.check_lost_updates(&before, &view, &mut n, c);
        n
    }

    /// No lost update: a successful update replaces the version its writer
    /// based it on. A write based on an older version, over changes to the
    /// same part (spec and metadata, or status) that its writer never saw,
    /// and changing that part again, loses those changes.
    fn check_lost_updates(&self, before: &Objects, view: &Objects, n: &mut State, c: Component) {
        let part = |o: &Object, status: bool| -> serde_json::Value {
            let mut v = o.to_value();
            if status {
                return v.get("status").cloned().unwrap_or_default();
            }
            if let Some(m) = v.as_object_mut() {
                m.remove("status");
            }
            if let Some(md) = v.get_mut("metadata").and_then(|m| m.as_object_mut()) {
                md.remove("resourceVersion");
                md.remove("generation");
            }
            v
        };
        let mut checked = BTreeSet::new();
        for a in &n.cluster.journal {
            let (obj, status) = match &a.effect {
                Effect::Update(o) => (o, false),
                Effect::UpdateStatus(o) => (o, true),
                _ => continue,
            };
            if a.result.is_err() || !checked.insert(obj.key()) {
                continue;
            }
            let (Some(base), Some(pre), Some(new)) = (view.get(&obj.key()), before.get(&obj.key()), n.cluster.objects.get(&obj.key())) else { continue };
            if base.meta().resource_version != pre.meta().resource_version && part(base, status) != part(pre, status) && part(new, status) != part(pre, status) {
                n.violations.insert(format!(
                    "lost update: {} replaced {} at resourceVersion {} with a write based on {}",
                    c.name(),
                    obj.key(),
                    pre.meta().resource_version,
                    base.meta().resource_version
                ));
            }
        }
    }

    /// Transition properties: what a write may never do.
    fn check_transition(&self, before: &Objects, n: &mut State, c: Component) {
        let after = &n.cluster.objects;
        // Every write moves the object's resourceVersion forward.
        for (key, o) in after.iter() {
            if let Some(b) = before.get(key).filter(|b| b.meta().uid == o.meta().uid && *b != o) {
                if o.meta().revision() <= b.meta().revision() {
                    n.violations.insert(format!("{key} went from resourceVersion {} to {}", b.meta().resource_version, o.meta().resource_version));
                }
            }
        }
        let old_pods: BTreeMap<&str, &Pod> = pods(before).into_iter().map(|p| (p.metadata.uid.as_str(), p)).collect();
        for p in pods(after) {
            let uid = p.metadata.uid.as_str();
            if !p.spec.node_name.is_empty() {
                match n.bound.get(uid) {
                    Some(first) if *first != p.spec.node_name => {
                        n.violations.insert(format!("pod {} moved from {first} to {}", p.metadata.name, p.spec.node_name));
                    }
                    None => {
                        n.bound.insert(uid.to_string(), p.spec.node_name.clone());
                    }
                    _ => {}
                }
            }
            let controllers = p.metadata.owner_references.iter().filter(|r| r.controller == Some(true)).count();
            if controllers > 1 {
                n.violations.insert(format!("pod {} has {controllers} controllers", p.metadata.name));
            }
            if let Some(old) = old_pods.get(uid) {
                let (was, is) = (old.metadata.controller_ref().map(|r| &r.uid), p.metadata.controller_ref().map(|r| &r.uid));
                if was.is_some() && is.is_some() && was != is {
                    n.violations.insert(format!("pod {} was taken from its controller", p.metadata.name));
                }
            }
        }
        // A ReplicaSet controller pass may not push a ReplicaSet above spec.replicas.
        if c == Component::ReplicaSets {
            for rs in list(after, Kind::ReplicaSet).filter_map(|o| o.as_replicaset()) {
                let count = |objs: &Objects| pods(objs).into_iter().filter(|p| is_active(p) && controlled(p, &rs.metadata.uid)).count() as i32;
                let (was, is) = (count(before), count(after));
                let want = rs.spec.replicas.unwrap_or(1);
                if is > was && is > want {
                    n.violations.insert(format!("replicaset {} has {is} pods for {want} replicas", rs.metadata.name));
                }
            }
        }
    }

    /// Every ReplicaSet's active pods are at most its spec.replicas, unless
    /// its controller still has something to do: its cache is behind the
    /// store, or its next pass would write.
    pub fn replicaset_counts_settled(&self, s: &State) -> bool {
        let objs = &s.cluster.objects;
        let over = list(objs, Kind::ReplicaSet).filter_map(|o| o.as_replicaset()).any(|rs| {
            let n = pods(objs).into_iter().filter(|p| is_active(p) && controlled(p, &rs.metadata.uid)).count() as i32;
            n > rs.spec.replicas.unwrap_or(1)
        });
        if !over {
            return true;
        }
        let c = Component::ReplicaSets;
        !self.synced(s, c) || self.step(s, c).cluster.objects != s.cluster.objects
    }

    /// Once the garbage collector's cache is current and its pass changes
    /// nothing, no object names an owner that is gone (or being deleted in
    /// the background, which the collector finishes).
    pub fn no_orphans_after_gc(&self, s: &State) -> bool {
        if !self.cfg.delete {
            return true;
        }
        let c = Component::GarbageCollector;
        let synced = self.synced(s, c);
        if !synced || self.step(s, c).cluster.objects != s.cluster.objects {
            return true;
        }
        let uids: BTreeSet<&str> = s.cluster.objects.values().map(|o| o.meta().uid.as_str()).collect();
        // Objects already being deleted are on their way out (the kubelet finishes pods).
        s.cluster.objects.values().filter(|o| o.meta().deletion_timestamp.is_none()).all(|o| o.meta().owner_references.iter().all(|r| uids.contains(r.uid.as_str())))
    }

    /// Drops what no later step can tell apart, so that states differing
    /// only in it are one state: bookkeeping of the last step (journal,
    /// wake-up); changes a component's cache holds and its machine has not
    /// been fed (it is fed them first thing at its next step, so it is fed
    /// them now); and, in each machine, the pending looks that would write
    /// nothing (taken now: `Looks::settle`, and `Scheduler::settle` for
    /// pods that fit nowhere), met expectations; first bindings of pods
    /// that are gone from the store and from every runtime.
    fn canonicalize(&self, n: &mut State) {
        n.cluster.journal.clear();
        n.cluster.wake_at = None;
        let now = n.cluster.now;
        for c in self.components() {
            let view = self.view(n, c).clone();
            let cl = &mut n.cluster;
            match c {
                Component::Deployments => cl.deployments.settle(now, &view),
                Component::ReplicaSets => cl.replicasets.settle(now, &view),
                Component::NodeLifecycle => cl.node_lifecycle.settle(now, &view),
                Component::GarbageCollector => cl.gc.settle(now, &view),
                Component::Scheduler => {
                    cl.scheduler.feed(&view);
                    cl.scheduler.machine.settle(|key| key.split_once('/').and_then(|(ns, name)| view.get(&Kind::Pod.key(ns, name))).and_then(|o| o.as_pod()));
                }
                Component::Kubelet(_) => {}
            }
        }
        let live: BTreeSet<String> = pods(&n.cluster.objects).into_iter().map(|p| p.metadata.uid.clone()).chain(n.cluster.agents.values().flat_map(|a| a.runtime.pods.keys().cloned())).collect();
        n.bound.retain(|uid, _| live.contains(uid));
    }

    /// `c`'s watch delivers everything up to now: its cache becomes the
    /// store (its machine is fed the changes in `canonicalize`).
    fn sync(&self, s: &State, c: Component) -> State {
        let mut n = s.clone();
        n.caches.insert(c, self.fresh(s, c));
        n.cache_revisions.insert(c, s.cluster.revision);
        n
    }

    /// What `c`'s cache would hold if its watch delivered now.
    pub fn fresh(&self, s: &State, c: Component) -> Store {
        s.cluster.objects.only(c.watches())
    }

    /// Whether `c`'s cache shows the store as it is.
    pub fn synced(&self, s: &State, c: Component) -> bool {
        self.cfg.consistency == Consistency::Linearizable || s.caches[&c] == self.fresh(s, c)
    }

    /// The controllers' keys whose look would write now (or need a live
    /// read) although they are not due (queued, or a timer due now): work
    /// that a change made necessary and that no change woke (a timer set
    /// for later does not count; `Looks::unwoken`). Asked only of a
    /// controller whose cache shows the store: a cache behind it
    /// (its own last write not yet seen, above all) shows phantom work that
    /// the delivery on its way corrects, and that delivery wakes what it
    /// changes. Pending looks that would write nothing are already taken
    /// (`canonicalize`), so every other key must look like nothing to do.
    pub fn unwoken_work(&self, s: &State) -> Vec<String> {
        let (now, cl) = (s.cluster.now, &s.cluster);
        let mut out = Vec::new();
        for c in self.components().into_iter().filter(|c| self.synced(s, *c)) {
            let keys = match c {
                Component::Deployments => cl.deployments.unwoken(now),
                Component::ReplicaSets => cl.replicasets.unwoken(now),
                Component::NodeLifecycle => cl.node_lifecycle.unwoken(now),
                Component::GarbageCollector => cl.gc.unwoken(now),
                Component::Scheduler | Component::Kubelet(_) => continue,
            };
            out.extend(keys.into_iter().map(|k| format!("{}: {k}", c.name())));
        }
        out
    }

    /// Whether crashing `c` now would lose anything: in-memory state (the
    /// ReplicaSet controller's expectations, the scheduler's assumed
    /// bindings). A crash of a component holding none of it is the same
    /// as its watch delivering (relist), and under linearizable reads it is
    /// nothing at all, so those crashes are not explored: every state they
    /// lead to is reached without them, with a crash still in hand.
    /// Kubelets are not crashed by this action (their restart and adoption
    /// are tested against containerd).
    pub fn restart_loses_something(&self, s: &State, c: Component) -> bool {
        match c {
            Component::ReplicaSets => s.cluster.replicasets.machine.holds_state(s.cluster.now),
            Component::Scheduler => s.cluster.scheduler.machine.holds_state(),
            _ => false,
        }
    }

    /// Whether no component has anything to do now: every watch has
    /// delivered and no component's step would change the store or a
    /// runtime. Also returns the earliest deadline after now that a step
    /// asked to be woken at (back-offs, grace periods), if any.
    pub fn idle(&self, s: &State) -> (bool, Option<Time>) {
        // Cheap first: an unsynced cache is a pending watch delivery.
        if !self.components().into_iter().all(|c| self.synced(s, c)) {
            return (false, None);
        }
        let mut wake: Option<Time> = None;
        for c in self.components() {
            let stepped = self.step(s, c);
            // A write refused is a write tried: the component has work.
            if stepped.cluster.objects != s.cluster.objects || stepped.cluster.agents != s.cluster.agents || stepped.cluster.refusing != s.cluster.refusing {
                return (false, None);
            }
            if let Some(at) = stepped.cluster.wake_at.filter(|at| *at > s.cluster.now) {
                wake = Some(wake.map_or(at, |w| w.min(at)));
            }
        }
        (true, wake)
    }

    /// Quiescence: no component has anything to do, now or at any later
    /// time it is waiting for.
    pub fn quiescent(&self, s: &State) -> bool {
        self.idle(s).0 && self.next_event(s).is_none()
    }

    /// The state after a stretch of idle time up to `at`: live kubelets
    /// keep their leases fresh (one renewal, at `at`) and every watch
    /// delivers, as they would have all along.
    fn idle_until(&self, s: &State, at: Time) -> State {
        let mut n = s.clone();
        n.cluster.now = at;
        for (node, a) in s.cluster.agents.iter() {
            if a.alive {
                n.cluster.renew_lease(node);
            }
        }
        if self.cfg.consistency == Consistency::StaleMonotonic {
            for c in self.components() {
                n = self.sync(&n, c);
            }
        }
        n
    }

    /// When an idle cluster next has something to do: the earliest
    /// deadline a step asked to be woken at after which some step is
    /// productive. Wake-ups that find nothing to do — the node monitor
    /// checking a lease a live kubelet keeps renewing — are skipped, up to
    /// `MAX_IDLE_WAKEUPS` of them (a horizon of over 20 minutes at the
    /// node monitor's period, past every timer the core sets).
    pub fn next_event(&self, s: &State) -> Option<Time> {
        self.next_event_within(s, MAX_IDLE_WAKEUPS).0
    }

    /// `next_event`, looking at most `max_wakeups` wake-ups ahead; also
    /// returns how many it looked at.
    pub fn next_event_within(&self, s: &State, max_wakeups: usize) -> (Option<Time>, usize) {
        let (idle, mut wake) = self.idle(s);
        if !idle {
            return (None, 0);
        }
        for looked in 0..max_wakeups {
            let Some(at) = wake else { return (None, looked) };
            let (still_idle, later) = self.idle(&self.idle_until(s, at));
            if !still_idle {
                return (Some(at), looked + 1);
            }
            wake = later;
        }
        (None, max_wakeups)
    }

    /// Where `Tick` moves the clock: the next event, when the cluster is
    /// idle short of its desired state and the clock may still move.
    pub fn next_tick(&self, s: &State) -> Option<Time> {
        if s.ticks_left == 0 || self.converged(s) {
            return None;
        }
        self.next_event(s)
    }

    /// The desired state: one ReplicaSet with the current template at
    /// spec.replicas, the others at zero, every active pod its own, and as
    /// many of them running and ready — in the store and in the runtime of
    /// a live node — as are wanted and the live nodes can hold.
    pub fn converged(&self, s: &State) -> bool {
        let objs = &s.cluster.objects;
        if s.deleted {
            // Deleted: nothing it owned is left, in the store or in any runtime.
            return list(objs, Kind::ReplicaSet).next().is_none() && pods(objs).is_empty() && s.cluster.agents.values().all(|a| a.runtime.pods.is_empty());
        }
        let Some(d) = objs.get(&Kind::Deployment.key("default", "web")).and_then(|o| o.as_deployment()) else { return false };
        let want = d.spec.replicas.unwrap_or(1);
        let rss: Vec<&ReplicaSet> = list(objs, Kind::ReplicaSet).filter_map(|o| o.as_replicaset()).collect();
        let current: Vec<&&ReplicaSet> = rss.iter().filter(|r| podcore::controller::deployment::templates_equal(&r.spec.template, &d.spec.template)).collect();
        if current.len() != 1 || current[0].spec.replicas != Some(want) || rss.iter().any(|r| r.metadata.uid != current[0].metadata.uid && r.spec.replicas != Some(0)) {
            return false;
        }
        let live_nodes = s.cluster.agents.values().filter(|a| a.alive).count() as i64;
        let capacity = live_nodes * (self.cfg.node_cpu_m / self.cfg.pod_cpu_m.max(1));
        // Running and ready in the store, and in its node's runtime too: the
        // newest attempt of every container is running.
        let in_runtime = |p: &Pod| {
            s.cluster.agents.get(&p.spec.node_name).filter(|a| a.alive).and_then(|a| a.runtime.pods.get(&p.metadata.uid)).is_some_and(|(_, o)| {
                p.spec.containers.iter().all(|c| o.containers.iter().filter(|r| r.name == c.name).max_by_key(|r| r.attempt).is_some_and(|r| matches!(r.state, ContainerRun::Running { .. })))
            })
        };
        let cur = &current[0].metadata.uid;
        let active: Vec<&Pod> = pods(objs).into_iter().filter(|p| is_active(p)).collect();
        if active.iter().any(|p| !controlled(p, cur)) {
            return false;
        }
        let running = active.iter().filter(|p| p.status.phase == "Running" && is_ready(p) && in_runtime(p)).count() as i64;
        running == (want as i64).min(capacity)
    }
}

/// Whether `pod` is controlled by the object with `uid`.
pub(crate) fn controlled(p: &Pod, uid: &str) -> bool {
    podcore::controller::is_controlled_by(&p.metadata, uid)
}

impl Model for PodChainModel {
    type State = State;
    type Action = Action;

    fn init_states(&self) -> Vec<State> {
        let cfg = &self.cfg;
        let cc = ClusterConfig {
            node_cpu: format!("{}m", cfg.node_cpu_m),
            rs: cfg.rs,
            deployment: cfg.deployment,
            scheduler: cfg.scheduler,
            kubelet: cfg.kubelet,
            check_resource_version: cfg.check_resource_version,
            lease_renew_ms: cfg.tick_ms,
            default_toleration_seconds: cfg.toleration_seconds,
            node_lifecycle: podcore::controller::nodelifecycle::NodeLifecycleConfig { grace_period_ms: cfg.tick_ms * 2 },
            ..ClusterConfig::default()
        };
        let mut c = Cluster::new(cc, START);
        for i in 1..=cfg.nodes {
            c.add_node(&node_name(i));
            let v = c.objects.clone();
            c.step_kubelet(&node_name(i), &v);
        }
        c.apply("user", &Effect::create(Object::Deployment(deployment(cfg)))).expect("the deployment is valid");
        c.journal.clear();
        let caches = self.components().into_iter().map(|comp| (comp, c.objects.only(comp.watches()))).collect();
        let cache_revisions = self.components().into_iter().map(|comp| (comp, c.revision)).collect();
        let mut init = State {
            cluster: c,
            caches,
            cache_revisions,
            crashes_left: cfg.crashes,
            resyncs_left: cfg.resyncs,
            refusals_left: cfg.refusals,
            node_failures_left: cfg.node_failures,
            exits_left: cfg.container_exits,
            ticks_left: cfg.ticks,
            rolled_out: false,
            scaled: false,
            deleted: false,
            faulted: false,
            bound: BTreeMap::new(),
            violations: BTreeSet::new(),
        };
        self.canonicalize(&mut init);
        vec![init]
    }

    fn actions(&self, s: &State, actions: &mut Vec<Action>) {
        for c in self.components() {
            if let Component::Kubelet(i) = c {
                if !s.cluster.agents[&node_name(i)].alive {
                    continue;
                }
            }
            if c == Component::Scheduler && self.cfg.symmetry != Symmetry::Off {
                self.schedule_actions(s, actions);
            } else {
                actions.push(Action::Step(c));
            }
            if !self.synced(s, c) {
                actions.push(Action::Sync(c));
            }
            if s.crashes_left > 0 && self.restart_loses_something(s, c) {
                actions.push(Action::Restart(c));
            }
            if s.resyncs_left > 0 && matches!(c, Component::ReplicaSets | Component::Deployments) {
                actions.push(Action::Resync(c));
            }
            if s.refusals_left > 0 && matches!(c, Component::ReplicaSets | Component::Deployments) && !s.cluster.refusing.contains(&c.name()) {
                actions.push(Action::RefuseWrite(c));
            }
        }
        if s.exits_left > 0 {
            for i in 1..=self.cfg.nodes {
                actions.push(Action::ExitContainer(i));
            }
        }
        if s.node_failures_left > 0 {
            for i in 1..=self.cfg.nodes {
                if s.cluster.agents[&node_name(i)].alive {
                    actions.push(Action::FailNode(i));
                }
            }
        }
        if self.cfg.rollout && !s.rolled_out && self.converged(s) {
            actions.push(Action::UpdateImage);
        }
        if self.cfg.delete && !s.deleted && self.converged(s) {
            actions.push(Action::DeleteDeployment);
        }
        if let Some(r) = self.cfg.scale_to {
            if !s.scaled {
                actions.push(Action::Scale(r));
            }
        }
        if let Some(at) = self.next_tick(s) {
            actions.push(Action::Tick(at));
        }
    }

    fn next_state(&self, s: &State, a: Action) -> Option<State> {
        let mut n = match a {
            Action::Step(c) => self.step(s, c),
            Action::Schedule(order) => self.step_in_order(s, Component::Scheduler, &order),
            Action::Sync(c) => self.sync(s, c),
            Action::Resync(c) => {
                let mut n = s.clone();
                n.resyncs_left -= 1;
                match c {
                    Component::ReplicaSets => n.cluster.replicasets.resync(),
                    Component::Deployments => n.cluster.deployments.resync(),
                    _ => {}
                }
                n
            }
            Action::RefuseWrite(c) => {
                let mut n = s.clone();
                n.refusals_left -= 1;
                n.cluster.refusing.insert(c.name());
                n
            }
            Action::Restart(c) => {
                let mut n = s.clone();
                n.crashes_left -= 1;
                n.caches.insert(c, self.fresh(s, c));
                n.cache_revisions.insert(c, s.cluster.revision);
                match c {
                    Component::ReplicaSets => n.cluster.restart_replicasets(),
                    Component::Scheduler => n.cluster.restart_scheduler(),
                    _ => {}
                }
                n
            }
            Action::ExitContainer(i) => {
                let mut n = s.clone();
                let node = node_name(i);
                let target = s.cluster.agents[&node].runtime.pods.values().find_map(|(r, o)| {
                    o.containers.iter().find(|c| matches!(c.state, ContainerRun::Running { .. })).map(|c| (r.clone(), c.name.clone()))
                });
                let (r, cname) = target?;
                n.cluster.exit_container(&r.namespace, &r.name, &cname, 1).ok()?;
                n.exits_left -= 1;
                n.faulted = true;
                n
            }
            Action::FailNode(i) => {
                let mut n = s.clone();
                n.cluster.kill_kubelet(&node_name(i));
                n.node_failures_left -= 1;
                n.faulted = true;
                n
            }
            Action::UpdateImage => {
                let mut n = s.clone();
                let mut d = s.cluster.get(Kind::Deployment, "default", "web")?.as_deployment()?.clone();
                d.spec.template.spec.containers[0].image = "sample:2".into();
                n.cluster.apply("user", &Effect::update(Object::Deployment(d))).ok()?;
                n.rolled_out = true;
                n
            }
            Action::Scale(r) => {
                let mut n = s.clone();
                let mut d = s.cluster.get(Kind::Deployment, "default", "web")?.as_deployment()?.clone();
                d.spec.replicas = Some(r);
                n.cluster.apply("user", &Effect::update(Object::Deployment(d))).ok()?;
                n.scaled = true;
                n
            }
            Action::DeleteDeployment => {
                let mut n = s.clone();
                let d = s.cluster.get(Kind::Deployment, "default", "web")?.meta().uid.clone();
                let req = podcore::effect::DeleteRequest { kind: Kind::Deployment, namespace: "default".into(), name: "web".into(), uid: d, propagation: Some(podcore::effect::Propagation::Background), grace_period_seconds: None };
                n.cluster.apply("user", &Effect::Delete(req)).ok()?;
                n.deleted = true;
                n
            }
            Action::Tick(at) => {
                let mut n = self.idle_until(s, at);
                n.ticks_left -= 1;
                n
            }
        };
        // No time travel: whatever the action (a step, a watch delivering, a
        // crash and relist, a clock jump), no component's cache goes back.
        for (c, r) in &s.cache_revisions {
            if n.cache_revisions.get(c).is_some_and(|now| now < r) {
                n.violations.insert(format!("{}'s cache went back from revision {r} to {}", c.name(), n.cache_revisions[c]));
            }
        }
        self.canonicalize(&mut n);
        if n == *s {
            None
        } else {
            Some(n)
        }
    }

    fn format_action(&self, a: &Action) -> String {
        match a {
            Action::Step(c) => format!("{} acts on its cache", c.name()),
            Action::Schedule(order) => {
                let names: Vec<String> = order.iter().map(|i| node_name(*i)).collect();
                format!("scheduler acts on its cache (ties go to {})", names.join(", then "))
            }
            Action::Sync(c) => format!("{}'s watch catches up", c.name()),
            Action::Restart(c) => format!("{} crashes and restarts", c.name()),
            Action::Resync(c) => format!("{}'s informers resync", c.name()),
            Action::RefuseWrite(c) => format!("the apiserver will refuse {}'s next write (503)", c.name()),
            Action::ExitContainer(i) => format!("a container on node-{i} exits with code 1"),
            Action::FailNode(i) => format!("node-{i}'s kubelet dies"),
            Action::UpdateImage => "the user changes the image".into(),
            Action::Scale(r) => format!("the user scales to {r}"),
            Action::DeleteDeployment => "the user deletes the deployment".into(),
            Action::Tick(at) => format!("time passes: the clock moves to start + {} s", at.ms_since(START) / 1000),
        }
    }

    fn properties(&self) -> Vec<Property<Self>> {
        vec![
            Property::<Self>::always("no transition violates safety", |_, s: &State| s.violations.is_empty()),
            Property::<Self>::always("the scheduler never binds beyond a node's allocatable cpu", |m, s: &State| {
                (1..=m.cfg.nodes).all(|i| {
                    let used: i128 = pods(&s.cluster.objects).into_iter().filter(|p| p.spec.node_name == node_name(i) && !is_terminal(p)).map(|p| request_nanos(&p.spec, "cpu")).sum();
                    used <= m.cfg.node_cpu_m as i128 * 1_000_000
                })
            }),
            Property::<Self>::always("no pod waits as unschedulable while it would fit", |_, s: &State| {
                let fed = &s.cluster.scheduler.fed;
                s.cluster.scheduler.machine.unschedulable_that_fit(|key| key.split_once('/').and_then(|(ns, name)| fed.get(&Kind::Pod.key(ns, name))).and_then(|o| o.as_pod())).is_empty()
            }),
            Property::<Self>::always("no controller leaves work that a change made necessary unwoken", |m, s: &State| m.unwoken_work(s).is_empty()),
            Property::<Self>::always("a kubelet runs only pods bound to its node, one sandbox per pod", |_, s: &State| {
                let mut seen = BTreeSet::new();
                s.cluster.agents.iter().all(|(node, a)| a.runtime.pods.keys().all(|uid| s.bound.get(uid) == Some(node) && seen.insert(uid.clone())))
            }),
            // Per object, in `check_transition`; here, the caches.
            Property::<Self>::always("resourceVersions never go backwards", |_, s: &State| s.cache_revisions.values().all(|r| *r <= s.cluster.revision)),
            Property::<Self>::always("a rolling update keeps replicas - maxUnavailable available and at most replicas + maxSurge pods", |m, s: &State| {
                if !s.rolled_out || s.faulted {
                    return true;
                }
                let Some(d) = s.cluster.get(Kind::Deployment, "default", "web").and_then(|o| o.as_deployment()) else { return true };
                let (surge, unavailable) = fenceposts(d);
                let want = d.spec.replicas.unwrap_or(1);
                let active: Vec<&Pod> = pods(&s.cluster.objects).into_iter().filter(|p| is_active(p)).collect();
                let available = active.iter().filter(|p| is_available(p, 0, s.cluster.now)).count() as i32;
                let _ = m;
                available >= want - unavailable && active.len() as i32 <= want + surge
            }),
            Property::<Self>::always("a ReplicaSet has at most spec.replicas active pods once its controller has caught up", |m, s: &State| m.replicaset_counts_settled(s)),
            Property::<Self>::always("quiescence implies convergence", |m, s: &State| m.converged(s) || !m.quiescent(s)),
            Property::<Self>::always("owned objects never outlive their deleted owner once the collector has run", |m, s: &State| m.no_orphans_after_gc(s)),
            Property::<Self>::sometimes("the deployment converges", |m, s: &State| m.converged(s)),
        ]
    }
}

/// What one `run_check` did: its verdict and its size and speed, for
/// `podchain model check --stats-json` and the benchmark.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
pub struct CheckStats {
    /// Every property and liveness hold, and the check was complete.
    pub ok: bool,
    /// States stateright generated (duplicates included) and kept.
    pub generated_states: usize,
    pub unique_states: usize,
    pub safety_seconds: f64,
    /// States of the liveness pass's graph, and its time (0 when not run).
    pub liveness_states: usize,
    pub liveness_seconds: f64,
}

/// Runs the checker with progress lines on stderr; prints each property's
/// verdict and, for a violation, the counterexample as numbered steps; then,
/// when safety holds, liveness. `stats.ok` is false if anything failed.
pub fn run_check(cfg: ModelConfig, threads: usize, max_states: usize) -> CheckStats {
    let mut stats = CheckStats::default();
    let started = std::time::Instant::now();
    let safety = run_safety_counted(cfg.clone(), threads, max_states, &mut stats);
    stats.safety_seconds = started.elapsed().as_secs_f64();
    if !safety {
        println!("  - liveness not checked: a safety property fails, or the check is incomplete");
        return stats;
    }
    let started = std::time::Instant::now();
    eprintln!("liveness: building the whole reachable graph (one thread)...");
    let r = check_liveness(cfg, max_states);
    let secs = started.elapsed().as_secs_f64();
    stats.liveness_states = r.states;
    stats.liveness_seconds = secs;
    let head = format!("{} states, {} fault-free edges, {} goal states, {} non-goal cycles (all unfair), {secs:.1}s", r.states, r.fault_free_edges, r.goal_states, r.non_goal_cycles);
    if r.verdict == crate::liveness::Verdict::Holds {
        if r.fault_free_cycles == 0 {
            println!("  ✓ no oscillation: the fault-free graph has no cycle, so once faults stop only finitely many writes happen");
        } else {
            println!("  ! the fault-free graph has {} cycles (none of them fair short of the goal): writes may repeat forever", r.fault_free_cycles);
        }
    }
    use crate::liveness::Verdict;
    let live = match r.verdict.clone() {
        Verdict::Holds => {
            println!("  ✓ once faults stop, every weakly fair execution converges and stays converged ({head})");
            true
        }
        Verdict::TooLarge => {
            println!("  ? liveness not checked: more than --max-states states");
            true
        }
        Verdict::Deadlock { path } | Verdict::Unstable { path } => {
            let what = if matches!(r.verdict, Verdict::Deadlock { .. }) { "nothing left to do short of the goal" } else { "a fault-free step leaves the goal" };
            println!("  ✗ liveness: {what} ({head}):");
            for (i, a) in path.iter().enumerate() {
                println!("    {:>3}. {a}", i + 1);
            }
            false
        }
        Verdict::Livelock { path, cycle } => {
            println!("  ✗ liveness: a fair cycle never converges ({head}); reached by:");
            for (i, a) in path.iter().enumerate() {
                println!("    {:>3}. {a}", i + 1);
            }
            println!("    then forever: {}", cycle.join(" → "));
            false
        }
    };
    stats.ok = safety && live;
    stats
}

/// The stateright run `cfg` calls for, spawned on `threads` threads and
/// stopping at the first failure or after generating `max_generated`
/// states: breadth first, or, under node symmetry, depth first with the
/// representative (stateright reduces by symmetry in its depth-first
/// search only). The CLI and the tests both start their runs here.
pub fn spawn_checker(cfg: ModelConfig, threads: usize, max_generated: usize) -> Box<dyn stateright::Checker<PodChainModel>> {
    let symmetric = cfg.symmetry == Symmetry::Nodes;
    let builder = PodChainModel { cfg }.checker().threads(threads.max(1)).target_state_count(max_generated).finish_when(stateright::HasDiscoveries::AnyFailures);
    if symmetric {
        Box::new(builder.symmetry_fn(crate::symmetry::representative).spawn_dfs())
    } else {
        Box::new(builder.spawn_bfs())
    }
}

/// `spawn_checker`, waited for.
pub fn run_checker(cfg: ModelConfig, threads: usize, max_generated: usize) -> Box<dyn stateright::Checker<PodChainModel>> {
    let mut c = spawn_checker(cfg, threads, max_generated);
    for h in c.handles() {
        h.join().expect("a checker thread panicked");
    }
    c
}

/// The stateright run: every safety property, with progress.
pub fn run_safety(cfg: ModelConfig, threads: usize, max_states: usize) -> bool {
    run_safety_counted(cfg, threads, max_states, &mut CheckStats::default())
}

fn run_safety_counted(cfg: ModelConfig, threads: usize, max_states: usize, stats: &mut CheckStats) -> bool {
    let m = PodChainModel { cfg: cfg.clone() };
    let names: Vec<&'static str> = m.properties().iter().map(|p| p.name).collect();
    let started = std::time::Instant::now();
    let unique_label = if cfg.symmetry == Symmetry::Nodes { "unique up to renaming nodes" } else { "unique" };
    report_safety(&m, spawn_checker(cfg, threads, max_states), started, max_states, names, unique_label, stats)
}

/// Prints progress while `checker` runs, then each property's verdict.
fn report_safety(m: &PodChainModel, mut checker: Box<dyn stateright::Checker<PodChainModel>>, started: std::time::Instant, max_states: usize, names: Vec<&'static str>, unique_label: &str, stats: &mut CheckStats) -> bool {
    let (mut last, mut last_at) = (0, std::time::Instant::now());
    while !checker.is_done() {
        std::thread::sleep(std::time::Duration::from_millis(20));
        if last_at.elapsed().as_secs() >= 2 {
            let (total, unique) = (checker.state_count(), checker.unique_state_count());
            let secs = started.elapsed().as_secs_f64();
            eprintln!("states {total}  unique {unique}  {:.0} states/s  max depth {}  {:.0}s", (total - last) as f64 / last_at.elapsed().as_secs_f64(), checker.max_depth(), secs);
            (last, last_at) = (total, std::time::Instant::now());
        }
    }
    for h in checker.handles() {
        h.join().expect("a checker thread panicked");
    }
    (stats.generated_states, stats.unique_states) = (checker.state_count(), checker.unique_state_count());
    // stateright's budget counts every state it generates, duplicates too.
    let cut_short = checker.state_count() >= max_states;
    println!("explored {} states ({} {unique_label}, max depth {}) in {:.1}s{}", checker.state_count(), checker.unique_state_count(), checker.max_depth(), started.elapsed().as_secs_f64(), if cut_short { " — stopped at --max-states" } else { "" });
    let mut ok = !cut_short;
    for name in names {
        let is_sometimes = name == "the deployment converges";
        match checker.discovery(name) {
            None if is_sometimes => println!("  ✗ {name}: never reached"),
            None => println!("  ✓ {name}"),
            Some(_) if is_sometimes => println!("  ✓ {name}: reachable"),
            Some(path) => {
                ok = false;
                println!("  ✗ {name}: counterexample:");
                for (i, (state, action)) in path.into_vec().into_iter().enumerate() {
                    if let Some(a) = action {
                        println!("    {:>3}. {}", i + 1, m.format_action(&a));
                    } else {
                        for v in &state.violations {
                            println!("         violation: {v}");
                        }
                    }
                }
            }
        }
    }
    if cut_short {
        println!("  ? incomplete: the checker stopped after generating --max-states {max_states} states, so the ✓ above hold only for what it reached; raise --max-states");
    }
    ok
}

/// Serves stateright's Explorer for browsing the state space.
pub fn explore(cfg: ModelConfig, addr: &str) -> ! {
    let _checker = PodChainModel { cfg }.checker().serve(addr);
    // The Explorer runs on the checker's threads until the process ends.
    loop {
        std::thread::park();
    }
}

/// Faults and changes of the desired state: the actions that "stop" before
/// liveness is asked of the rest.
pub fn is_fault(a: &Action) -> bool {
    matches!(a, Action::Restart(_) | Action::RefuseWrite(_) | Action::ExitContainer(_) | Action::FailNode(_) | Action::UpdateImage | Action::Scale(_) | Action::DeleteDeployment)
}

/// Weak-fairness classes: each component's step and each component's watch
/// delivery is one class; time is one more.
pub fn fairness_class(a: &Action) -> String {
    match a {
        Action::Step(c) => format!("{} steps", c.name()),
        Action::Schedule(_) => format!("{} steps", Component::Scheduler.name()),
        Action::Sync(c) => format!("{}'s watch delivers", c.name()),
        Action::Tick(_) => "time passes".into(),
        other => format!("{other:?}"),
    }
}

/// The fairness classes under node symmetry: every kubelet's steps are one
/// class, and every kubelet's watch deliveries another. A class has to
/// mean the same in every state of an orbit, and "node-1's kubelet" does
/// not. This fairness is weaker than one class per kubelet (a cycle in
/// which one kubelet never steps counts as fair), so a liveness verdict
/// "holds" under it holds under the stronger one too; a livelock it reports
/// may starve one kubelet, and a run without symmetry tells.
pub fn symmetric_fairness_class(a: &Action) -> String {
    match a {
        Action::Step(Component::Kubelet(_)) => "a kubelet steps".into(),
        Action::Sync(Component::Kubelet(_)) => "a kubelet's watch delivers".into(),
        other => fairness_class(other),
    }
}

/// "Eventually stable reconciliation": once faults stop, every weakly fair
/// execution reaches `converged` and stays there — checked exactly on the
/// whole reachable graph (see `liveness`), or on its quotient by node
/// renaming with `Symmetry::Nodes`.
pub fn check_liveness(cfg: ModelConfig, max_states: usize) -> crate::liveness::Report {
    let m = PodChainModel { cfg };
    if m.cfg.symmetry == Symmetry::Nodes {
        crate::liveness::check(&m, is_fault, symmetric_fairness_class, |s: &State| m.converged(s), Some(crate::symmetry::representative), max_states)
    } else {
        crate::liveness::check(&m, is_fault, fairness_class, |s: &State| m.converged(s), None, max_states)
    }
}
