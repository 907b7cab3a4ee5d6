//! Node lifecycle (upstream's node lifecycle controller, taint manager and
//! pod GC, reduced to what the chain needs): a node whose Lease has not been
//! renewed within the grace period gets Ready=Unknown; a node that is not
//! Ready gets the NoExecute and NoSchedule taints; pods on a tainted node that
//! do not tolerate the taint, or whose tolerationSeconds ran out, are
//! evicted; pods bound to a node that no longer exists are force-deleted.

use crate::defaults::{TAINT_NOT_READY, TAINT_UNREACHABLE};
use crate::effect::{Effect, Outcome};
use crate::object::Object;
use crate::podutil::toleration_matches;
use crate::time::Time;
use crate::types::*;
use std::collections::BTreeMap;

/// Every duration is configurable; these are upstream's defaults.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct NodeLifecycleConfig {
    /// node-monitor-grace-period.
    pub grace_period_ms: i64,
}

/// Upstream's node-monitor-grace-period.
pub const DEFAULT_GRACE_PERIOD_MS: i64 = 40_000;

impl Default for NodeLifecycleConfig {
    fn default() -> Self {
        NodeLifecycleConfig { grace_period_ms: DEFAULT_GRACE_PERIOD_MS }
    }
}

pub const NODE_LEASE_NAMESPACE: &str = "kube-node-lease";

pub fn ready_status(n: &Node) -> &str {
    n.status.conditions.iter().find(|c| c.type_ == "Ready").map(|c| c.status.as_str()).unwrap_or("Unknown")
}

/// The last time the node proved it was alive.
fn last_heartbeat(n: &Node, lease: Option<&Lease>) -> Option<Time> {
    let from_lease = lease.and_then(|l| l.spec.renew_time).map(Time::from);
    let from_cond = n.status.conditions.iter().find(|c| c.type_ == "Ready").and_then(|c| c.last_heartbeat_time);
    from_lease.max(from_cond)
}

/// The whole controller over whole lists: each node's decision
/// (`node_lifecycle_one`), then the pods bound to nodes that do not exist
/// (`orphaned_pods`). The machine below takes the same decisions one node
/// at a time; this is what a pass over everything decides.
pub fn node_lifecycle(now: Time, nodes: &[&Node], leases: &[&Lease], pods: &[&Pod], cfg: NodeLifecycleConfig) -> Outcome {
    let mut out = Outcome::default();
    let leases: BTreeMap<&str, &Lease> = leases.iter().filter(|l| l.metadata.namespace == NODE_LEASE_NAMESPACE).map(|l| (l.metadata.name.as_str(), *l)).collect();
    let mut on: BTreeMap<&str, Vec<&Pod>> = BTreeMap::new();
    for p in pods.iter().filter(|p| !p.spec.node_name.is_empty()) {
        on.entry(p.spec.node_name.as_str()).or_default().push(p);
    }
    for &node in nodes {
        let mine = on.remove(node.metadata.name.as_str()).unwrap_or_default();
        merge(&mut out, node_lifecycle_one(now, node, leases.get(node.metadata.name.as_str()).copied(), &mine, cfg));
    }
    for (_, left) in on {
        merge(&mut out, orphaned_pods(&left));
    }
    out
}

fn merge(out: &mut Outcome, o: Outcome) {
    out.effects.extend(o.effects);
    if let Some(ms) = o.requeue_after_ms {
        out.requeue_at_most(ms);
    }
}

/// One node: Ready becomes Unknown once its heartbeat (lease or Ready
/// condition) is older than the grace period; its taints follow its Ready
/// condition; its pods (`pods`: those bound to it) that do not tolerate a
/// NoExecute taint, or whose tolerationSeconds ran out, are evicted.
pub fn node_lifecycle_one(now: Time, node: &Node, lease: Option<&Lease>, pods: &[&Pod], cfg: NodeLifecycleConfig) -> Outcome {
    let mut out = Outcome::default();
    let now_s = now.truncate_to_secs();
    let mut updated = node.clone();
    // 1. Heartbeats: Unknown after the grace period.
    let hb = last_heartbeat(node, lease.filter(|l| l.metadata.namespace == NODE_LEASE_NAMESPACE)).or(node.metadata.creation_timestamp);
    let stale = hb.is_none_or(|t| now.ms_since(t) > cfg.grace_period_ms);
    if stale && ready_status(node) != "Unknown" {
        for c in updated.status.conditions.iter_mut() {
            c.status = "Unknown".into();
            c.reason = "NodeStatusUnknown".into();
            c.message = "Kubelet stopped posting node status.".into();
            c.last_transition_time = Some(now_s);
        }
        if !updated.status.conditions.iter().any(|c| c.type_ == "Ready") {
            updated.status.conditions.push(NodeCondition { type_: "Ready".into(), status: "Unknown".into(), reason: "NodeStatusNeverUpdated".into(), message: "Kubelet never posted node status.".into(), last_transition_time: Some(now_s), last_heartbeat_time: None });
        }
        out.effects.push(Effect::update_status(Object::Node(updated)));
        // Taints follow on the next pass, from the stored status.
        return out;
    }
    if let Some(t) = hb {
        if !stale {
            out.requeue_at_most(t.plus_ms(cfg.grace_period_ms).ms_since(now) + 1000);
        }
    }
    // 2. Taints from the Ready condition.
    let wanted_key = match ready_status(node) {
        "True" => None,
        "False" => Some(TAINT_NOT_READY),
        _ => Some(TAINT_UNREACHABLE),
    };
    let mut taints: Vec<Taint> = node.spec.taints.iter().filter(|t| t.key != TAINT_NOT_READY && t.key != TAINT_UNREACHABLE || Some(t.key.as_str()) == wanted_key).cloned().collect();
    if let Some(key) = wanted_key {
        for effect in ["NoSchedule", "NoExecute"] {
            if !taints.iter().any(|t| t.key == key && t.effect == effect) {
                taints.push(Taint { key: key.into(), value: String::new(), effect: effect.into(), time_added: Some(now_s) });
            }
        }
    }
    if taints != node.spec.taints {
        updated.spec.taints = taints;
        out.effects.push(Effect::update(Object::Node(updated)));
        return out;
    }
    // 3. Eviction by NoExecute taints.
    let no_execute: Vec<&Taint> = node.spec.taints.iter().filter(|t| t.effect == "NoExecute").collect();
    if no_execute.is_empty() {
        return out;
    }
    for &pod in pods.iter().filter(|p| p.spec.node_name == node.metadata.name && p.metadata.deletion_timestamp.is_none()) {
        // The earliest time any taint evicts this pod.
        let mut evict_at: Option<Time> = None;
        for taint in &no_execute {
            let tol = pod.spec.tolerations.iter().filter(|t| toleration_matches(t, taint)).map(|t| t.toleration_seconds).min_by_key(|s| s.unwrap_or(i64::MAX));
            let at = match tol {
                None => Some(now),
                Some(None) => None,
                Some(Some(secs)) => Some(taint.time_added.unwrap_or(now).plus_ms(secs.max(0) * 1000)),
            };
            evict_at = match (evict_at, at) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
        }
        match evict_at {
            Some(at) if at <= now => out.effects.push(Effect::delete(&Object::Pod(pod.clone()), None, None)),
            Some(at) => out.requeue_at_most(at.ms_since(now)),
            None => {}
        }
    }
    out
}

/// Pods bound to a node that does not exist are force-deleted (upstream's pod GC).
pub fn orphaned_pods(pods: &[&Pod]) -> Outcome {
    Outcome { effects: pods.iter().map(|p| Effect::delete(&Object::Pod((*p).clone()), None, Some(0))).collect(), requeue_after_ms: None }
}

// ------------------------------------------------------------ the machine

/// What a node's reconcile needs from the driver.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NodeStep {
    /// Write these (and look again after `requeue_after_ms`).
    Act(Outcome),
    /// The cache has pods bound to this node and no such node: ask the
    /// apiserver (a live GET) before deleting them, as upstream's pod GC
    /// does, since the node informer may simply not have seen it yet.
    Verify(String),
}

/// What one node's reconcile decided, and what it read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeDecided {
    pub step: NodeStep,
    /// Objects the decision looked at: the node, its lease and its pods.
    pub visited: usize,
    /// The inputs, for a trace: `node_lifecycle` over exactly these decides
    /// the same (None unless `record_inputs`).
    pub inputs: Option<(Vec<Node>, Vec<Lease>, Vec<Pod>)>,
}

/// The node lifecycle controller as a state machine: one key per node,
/// woken by the node's changes, its lease's renewals and its pods'
/// changes; so a lease renewal costs one small decision over one node and
/// its pods, never a pass over the cluster. Time-driven decisions (a
/// lease running out, a toleration expiring) come back through the
/// queue's timers, from the outcome's `requeue_after_ms`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct NodeLifecycleController {
    pub cfg: NodeLifecycleConfig,
    pub queue: super::queue::Queue,
    /// Record each decision's inputs (for traces).
    pub record_inputs: bool,
}

impl NodeLifecycleController {
    pub fn new(cfg: NodeLifecycleConfig) -> NodeLifecycleController {
        NodeLifecycleController { cfg, ..Default::default() }
    }

    pub fn handle_node(&mut self, name: &str) {
        self.queue.add(name);
    }

    pub fn handle_lease(&mut self, lease: &Lease) {
        if lease.metadata.namespace == NODE_LEASE_NAMESPACE {
            self.queue.add(&lease.metadata.name);
        }
    }

    pub fn handle_pod(&mut self, old: Option<&Pod>, new: Option<&Pod>) {
        for p in [old, new].into_iter().flatten() {
            if !p.spec.node_name.is_empty() {
                self.queue.add(&p.spec.node_name);
            }
        }
    }

    pub fn poll(&mut self, now: Time) -> Option<String> {
        self.queue.pop(now)
    }

    pub fn poll_timeout(&self) -> Option<Time> {
        self.queue.next_timer()
    }

    /// Decides for node `name` over its node, lease and pods in `view`.
    pub fn reconcile(&mut self, now: Time, name: &str, view: &dyn crate::cache::View) -> NodeDecided {
        use crate::object::Kind;
        let pods: Vec<&Pod> = view.pods_on(name).filter_map(|o| o.as_pod()).collect();
        match view.get(Kind::Node, name).and_then(|o| o.as_node()) {
            Some(node) => {
                let lease = view.get(Kind::Lease, &format!("{NODE_LEASE_NAMESPACE}/{name}")).and_then(|o| o.as_lease());
                let inputs = self.record_inputs.then(|| (vec![node.clone()], lease.into_iter().cloned().collect(), pods.iter().map(|p| (*p).clone()).collect()));
                NodeDecided { step: NodeStep::Act(node_lifecycle_one(now, node, lease, &pods, self.cfg)), visited: 2 + pods.len(), inputs }
            }
            None if pods.is_empty() => NodeDecided { step: NodeStep::Act(Outcome::default()), visited: 0, inputs: None },
            None => NodeDecided { step: NodeStep::Verify(name.to_string()), visited: pods.len(), inputs: None },
        }
    }

    /// The live read `Verify` asked for: whether the node exists. Absent:
    /// its pods are deleted (the inputs: no node, no lease, those pods).
    pub fn handle_verified(&mut self, name: &str, exists: bool, view: &dyn crate::cache::View) -> NodeDecided {
        if exists {
            return NodeDecided { step: NodeStep::Act(Outcome::default()), visited: 0, inputs: None };
        }
        let pods: Vec<&Pod> = view.pods_on(name).filter_map(|o| o.as_pod()).collect();
        let inputs = self.record_inputs.then(|| (vec![], vec![], pods.iter().map(|p| (*p).clone()).collect()));
        NodeDecided { step: NodeStep::Act(orphaned_pods(&pods)), visited: pods.len(), inputs }
    }

    pub fn done(&mut self, now: Time, name: &str, requeue_after_ms: Option<i64>, failed: bool) {
        self.queue.finish(now, name, requeue_after_ms, failed);
    }
}

impl super::queue::Looks for NodeLifecycleController {
    fn queue(&self) -> &super::queue::Queue {
        &self.queue
    }
    fn queue_mut(&mut self) -> &mut super::queue::Queue {
        &mut self.queue
    }
    /// Every node, and every node a pod is bound to (one may be missing).
    fn keys(view: &dyn crate::cache::View) -> Vec<String> {
        use crate::object::Kind;
        let names: std::collections::BTreeSet<String> = view.list(Kind::Node).map(|o| o.meta().name.clone()).chain(view.list(Kind::Pod).filter_map(|o| o.as_pod()).map(|p| p.spec.node_name.clone()).filter(|n| !n.is_empty())).collect();
        names.into_iter().collect()
    }
    /// A node that needs a live read is not quiet.
    fn quiet_look(&mut self, now: Time, key: &str, view: &dyn crate::cache::View) -> Option<Option<i64>> {
        match self.reconcile(now, key, view).step {
            NodeStep::Act(out) if out.effects.is_empty() => Some(out.requeue_after_ms),
            _ => None,
        }
    }
}
