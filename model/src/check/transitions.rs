//! What each action does to the state, as the daemons do it; the canonical
//! form; when the cluster is idle, and where the clock goes next.

use crate::cluster::{list, pods, Objects, Store};
use podcore::effect::Effect;
use podcore::object::{Kind, Object};
use podcore::podutil::is_active;
use podcore::time::Time;
use podcore::types::*;
use std::collections::{BTreeMap, BTreeSet};
use super::*;

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

    pub(super) fn view<'a>(&self, s: &'a State, c: Component) -> &'a Store {
        match self.cfg.consistency {
            Consistency::Linearizable => &s.cluster.objects,
            Consistency::StaleMonotonic => &s.caches[&c],
        }
    }

    /// The scheduler's passes with symmetry on: one per order of nodes while
    /// its cache holds a pod to place (ties can only arise then), else the
    /// one pass in name order.
    pub(super) fn schedule_actions(&self, s: &State, actions: &mut Vec<Action>) {
        let view = self.view(s, Component::Scheduler);
        let placing = pods(view).into_iter().any(|p| podcore::controller::scheduler::wants(p, podcore::defaults::DEFAULT_SCHEDULER_NAME));
        if placing && self.cfg.nodes > 1 {
            actions.extend(crate::symmetry::orders(self.cfg.nodes).into_iter().map(Action::Schedule));
        } else {
            actions.push(Action::Step(Component::Scheduler));
        }
    }

    /// Runs one component pass on `s`; returns the new state (violations recorded).
    pub(super) fn step(&self, s: &State, c: Component) -> State {
        self.step_in_order(s, c, &[])
    }

    /// One pass, the scheduler preferring nodes in `order` among equals
    /// (empty: name order).
    pub(super) fn step_in_order(&self, s: &State, c: Component, order: &[u8]) -> State {
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

    /// One pass of the deposed leader `c` (see `Deposed`): its machine and
    /// old cache stand in for the current leader's for the pass, and the
    /// pass is checked as any pass of `c` is.
    pub(super) fn step_deposed(&self, s: &State, c: Component) -> State {
        let mut n = s.clone();
        let Some(mut d) = n.deposed.remove(&c) else { return n };
        let before = s.cluster.objects.clone();
        let view = d.cache.clone();
        match &mut d.machine {
            DeposedMachine::ReplicaSets(m) => {
                std::mem::swap(m, &mut n.cluster.replicasets);
                let (_, unfounded) = n.cluster.step_replicasets(&view);
                n.violations.extend(unfounded);
                std::mem::swap(m, &mut n.cluster.replicasets);
            }
            DeposedMachine::Scheduler(m) => {
                std::mem::swap(m, &mut n.cluster.scheduler);
                n.cluster.step_scheduler(&view, &[]);
                std::mem::swap(m, &mut n.cluster.scheduler);
            }
        }
        n.deposed.insert(c, d);
        self.check_transition(&before, &mut n, c);
        self.check_lost_updates(&before, &view, &mut n, c);
        n
    }

    /// No lost update: a successful update replaces the version its writer
    /// based it on. A write based on an older version, over changes to the
    /// same part (spec and metadata, or status) that its writer never saw,
    /// and changing that part again, loses those changes.
    pub(super) fn check_lost_updates(&self, before: &Objects, view: &Objects, n: &mut State, c: Component) {
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
    pub(super) fn check_transition(&self, before: &Objects, n: &mut State, c: Component) {
        self.check_authorised_writes(before, n);
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

    /// Authorisation properties, over the step's writes: no honest
    /// component's write is refused 403 (the bootstrap policy lets each do
    /// its work), and no kubelet's write that succeeds touches another
    /// node's objects: a pod bound elsewhere (or to no node), another Node,
    /// another node's Lease. The second holds for the compromised kubelet
    /// only through the node restriction.
    pub(super) fn check_authorised_writes(&self, before: &Objects, n: &mut State) {
        use crate::cluster::{COMPROMISED_KUBELET, KUBELET};
        for a in &n.cluster.journal {
            let node = a.component.strip_prefix(KUBELET).or_else(|| a.component.strip_prefix(COMPROMISED_KUBELET));
            match &a.result {
                Err(e) if e.starts_with("403") && !a.component.starts_with(COMPROMISED_KUBELET) => {
                    n.violations.insert(format!("{}'s write was refused: {e}", a.component));
                }
                Ok(_) => {
                    let Some(node) = node else { continue };
                    let (kind, ns, name) = match &a.effect {
                        Effect::Create(o) | Effect::Update(o) | Effect::UpdateStatus(o) => (o.kind(), o.meta().namespace.clone(), o.meta().name.clone()),
                        Effect::Delete(d) => (d.kind, d.namespace.clone(), d.name.clone()),
                        Effect::Bind { namespace, name, .. } => (Kind::Pod, namespace.clone(), name.clone()),
                    };
                    let foreign = match kind {
                        Kind::Pod => before.get(&Kind::Pod.key(&ns, &name)).and_then(|o| o.as_pod()).is_none_or(|p| p.spec.node_name != node) || matches!(a.effect, Effect::Update(_) | Effect::Bind { .. }),
                        Kind::Node | Kind::Lease => name != node,
                        _ => false,
                    };
                    if foreign {
                        n.violations.insert(format!("{} wrote {} it may not: {}", a.component, kind.key(&ns, &name), effect_verb(&a.effect)));
                    }
                }
                Err(_) => {}
            }
        }
    }

    /// Drops what no later step can tell apart, so that states differing
    /// only in it are one state: bookkeeping of the last step (journal,
    /// wake-up); changes a component's cache holds and its machine has not
    /// been fed (it is fed them first thing at its next step, so it is fed
    /// them now); and, in each machine, the pending looks that would write
    /// nothing (taken now: `Looks::settle`, and `Scheduler::settle` for
    /// pods that fit nowhere), met expectations; first bindings of pods
    /// that are gone from the store and from every runtime.
    pub(super) fn canonicalize(&self, n: &mut State) {
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
    pub(super) fn sync(&self, s: &State, c: Component) -> State {
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
        for c in s.deposed.keys() {
            if self.step_deposed(s, *c).cluster.objects != s.cluster.objects {
                return (false, None);
            }
        }
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
    pub(super) fn idle_until(&self, s: &State, at: Time) -> State {
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

}

fn effect_verb(e: &Effect) -> &'static str {
    match e {
        Effect::Create(_) => "create",
        Effect::Update(_) => "update",
        Effect::UpdateStatus(_) => "status update",
        Effect::Delete(_) => "delete",
        Effect::Bind { .. } => "binding",
    }
}
