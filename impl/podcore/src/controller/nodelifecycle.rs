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

pub fn node_lifecycle(now: Time, nodes: &[&Node], leases: &[&Lease], pods: &[&Pod], cfg: NodeLifecycleConfig) -> Outcome {
    let mut out = Outcome::default();
    let leases: BTreeMap<&str, &Lease> = leases.iter().filter(|l| l.metadata.namespace == NODE_LEASE_NAMESPACE).map(|l| (l.metadata.name.as_str(), *l)).collect();
    let now_s = now.truncate_to_secs();
    let mut node_names = std::collections::BTreeSet::new();
    for &node in nodes {
        node_names.insert(node.metadata.name.as_str());
        let mut updated = node.clone();
        // 1. Heartbeats: Unknown after the grace period.
        let hb = last_heartbeat(node, leases.get(node.metadata.name.as_str()).copied()).or(node.metadata.creation_timestamp);
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
            continue;
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
            continue;
        }
        // 3. Eviction by NoExecute taints.
        let no_execute: Vec<&Taint> = node.spec.taints.iter().filter(|t| t.effect == "NoExecute").collect();
        if no_execute.is_empty() {
            continue;
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
    }
    // 4. Pod GC: pods bound to nodes that do not exist.
    if !nodes.is_empty() || pods.iter().any(|p| !p.spec.node_name.is_empty()) {
        for &pod in pods {
            if !pod.spec.node_name.is_empty() && !node_names.contains(pod.spec.node_name.as_str()) {
                out.effects.push(Effect::delete(&Object::Pod(pod.clone()), None, Some(0)));
            }
        }
    }
    out
}
