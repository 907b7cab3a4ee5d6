//! The scheduler's decision for one pod: filter nodes (unschedulable,
//! taints/tolerations, nodeSelector, cpu/memory/pods against allocatable
//! minus what is already bound there), score the rest (least allocated plus
//! spreading of pods with the same owner), pick the best. Ties go to the
//! node that comes first in the caller's `nodes`: upstream picks at random
//! among equals, and which equal node wins is the caller's choice. The
//! daemon passes its cache in name order, so its decisions are
//! deterministic; the model passes every order, so that no node is
//! special and renaming nodes is a symmetry it can reduce by.

use crate::podutil::{is_terminal, request_nanos, tolerates};
use crate::types::*;
use std::collections::BTreeMap;

/// Safeguards the model can switch off.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SchedulerOptions {
    /// Count pods already bound to a node against its allocatable resources.
    pub account_bound_pods: bool,
}

impl Default for SchedulerOptions {
    fn default() -> Self {
        SchedulerOptions { account_bound_pods: true }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Decision {
    Bind(String),
    /// No node fits; the message is upstream's "0/N nodes are available: ...".
    Unschedulable(String),
}

/// Whether this scheduler should place the pod at all.
pub fn wants(pod: &Pod, scheduler_name: &str) -> bool {
    pod.spec.node_name.is_empty()
        && pod.metadata.deletion_timestamp.is_none()
        && !is_terminal(pod)
        && (pod.spec.scheduler_name.is_empty() || pod.spec.scheduler_name == scheduler_name)
}

fn allocatable(node: &Node, res: &str) -> Option<i128> {
    node.status.allocatable.get(res).or_else(|| node.status.capacity.get(res)).and_then(|q| q.nanos().ok())
}

/// Why a node does not fit, or None if it does.
pub fn filter(pod: &Pod, node: &Node, on_node: &[&Pod], opts: SchedulerOptions) -> Option<&'static str> {
    if node.spec.unschedulable {
        let t = Taint { key: crate::defaults::TAINT_UNSCHEDULABLE.into(), effect: "NoSchedule".into(), ..Default::default() };
        if !tolerates(&pod.spec.tolerations, &t) {
            return Some("node(s) were unschedulable");
        }
    }
    for taint in &node.spec.taints {
        if (taint.effect == "NoSchedule" || taint.effect == "NoExecute") && !tolerates(&pod.spec.tolerations, taint) {
            return Some("node(s) had untolerated taint");
        }
    }
    if !pod.spec.node_selector.iter().all(|(k, v)| node.metadata.labels.get(k) == Some(v)) {
        return Some("node(s) didn't match Pod's node affinity/selector");
    }
    let live: Vec<&&Pod> = if opts.account_bound_pods { on_node.iter().filter(|p| !is_terminal(p)).collect() } else { vec![] };
    if let Some(max_pods) = allocatable(node, "pods") {
        if (live.len() as i128 + 1) * 1_000_000_000 > max_pods {
            return Some("Too many pods");
        }
    }
    for (res, why) in [("cpu", "Insufficient cpu"), ("memory", "Insufficient memory")] {
        let req = request_nanos(&pod.spec, res);
        if req == 0 {
            continue;
        }
        let used: i128 = live.iter().map(|p| request_nanos(&p.spec, res)).sum();
        match allocatable(node, res) {
            Some(a) if used + req <= a => {}
            _ => return Some(why),
        }
    }
    None
}

/// Higher is better: 0..=100 least-allocated, minus a spread penalty.
fn score(pod: &Pod, node: &Node, on_node: &[&Pod]) -> i64 {
    let mut frac_sum = 0i64;
    for res in ["cpu", "memory"] {
        let a = allocatable(node, res).unwrap_or(0);
        if a <= 0 {
            continue;
        }
        let used: i128 = on_node.iter().filter(|p| !is_terminal(p)).map(|p| request_nanos(&p.spec, res)).sum::<i128>() + request_nanos(&pod.spec, res);
        frac_sum += (((a - used).max(0) * 100) / a) as i64;
    }
    let owner = pod.metadata.controller_ref().map(|r| r.uid.clone());
    let siblings = on_node
        .iter()
        .filter(|p| !is_terminal(p) && match &owner {
            Some(uid) => p.metadata.controller_ref().is_some_and(|r| &r.uid == uid),
            None => false,
        })
        .count() as i64;
    frac_sum / 2 - siblings * 100
}

/// Chooses a node. `pods` are all pods the scheduler knows (bound or
/// assumed). Among nodes with the best score, the first in `nodes` wins.
pub fn schedule(pod: &Pod, nodes: &[&Node], pods: &[&Pod], opts: SchedulerOptions) -> Decision {
    let mut by_node: BTreeMap<&str, Vec<&Pod>> = BTreeMap::new();
    for p in pods {
        if !p.spec.node_name.is_empty() {
            by_node.entry(p.spec.node_name.as_str()).or_default().push(p);
        }
    }
    let mut reasons: BTreeMap<&'static str, usize> = BTreeMap::new();
    let mut best: Option<(i64, &str)> = None;
    for node in nodes {
        let on = by_node.get(node.metadata.name.as_str()).map(Vec::as_slice).unwrap_or(&[]);
        match filter(pod, node, on, opts) {
            Some(why) => *reasons.entry(why).or_default() += 1,
            None => {
                let s = score(pod, node, on);
                // Strictly better only: among equals the earliest in `nodes` stays.
                let better = best.is_none_or(|(bs, _)| s > bs);
                if better {
                    best = Some((s, node.metadata.name.as_str()));
                }
            }
        }
    }
    match best {
        Some((_, name)) => Decision::Bind(name.to_string()),
        None => {
            let parts: Vec<String> = reasons.iter().map(|(why, n)| format!("{n} {why}")).collect();
            let tail = if parts.is_empty() { String::new() } else { format!(" {}.", parts.join(", ")) };
            Decision::Unschedulable(format!("0/{} nodes are available:{tail}", nodes.len()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(name: &str, cpu: &str) -> Node {
        let mut n = Node::default();
        n.metadata.name = name.into();
        n.status.allocatable.insert("cpu".into(), cpu.into());
        n.status.allocatable.insert("memory".into(), "1Gi".into());
        n.status.allocatable.insert("pods".into(), "110".into());
        n
    }

    fn pod(cpu: &str, node: &str) -> Pod {
        let mut p = Pod::default();
        p.spec.node_name = node.into();
        p.spec.containers.push(Container { name: "c".into(), image: "i".into(), ..Default::default() });
        p.spec.containers[0].resources.requests.insert("cpu".into(), cpu.into());
        p
    }

    #[test]
    fn bound_pods_count_against_allocatable() {
        let n1 = node("n1", "1");
        let busy = pod("800m", "n1");
        let p = pod("500m", "");
        assert_eq!(schedule(&p, &[&n1], &[&busy], SchedulerOptions::default()), Decision::Unschedulable("0/1 nodes are available: 1 Insufficient cpu.".into()));
        // With the safeguard off, the node is (wrongly) overcommitted.
        assert_eq!(schedule(&p, &[&n1], &[&busy], SchedulerOptions { account_bound_pods: false }), Decision::Bind("n1".into()));
    }

    #[test]
    fn ties_go_to_the_first_node_in_the_callers_order() {
        let (a, b) = (node("a", "2"), node("b", "2"));
        let p = pod("100m", "");
        let opts = SchedulerOptions::default();
        assert_eq!(schedule(&p, &[&a, &b], &[], opts), Decision::Bind("a".into()));
        assert_eq!(schedule(&p, &[&b, &a], &[], opts), Decision::Bind("b".into()));
        // A better score beats an earlier place.
        let busy = pod("1", "b");
        assert_eq!(schedule(&p, &[&b, &a], &[&busy], opts), Decision::Bind("a".into()));
    }

    #[test]
    fn prefers_the_emptier_node_and_respects_taints() {
        let n1 = node("n1", "2");
        let mut n2 = node("n2", "2");
        let busy = pod("1", "n1");
        let p = pod("100m", "");
        assert_eq!(schedule(&p, &[&n1, &n2], &[&busy], SchedulerOptions::default()), Decision::Bind("n2".into()));
        n2.spec.taints.push(Taint { key: "k".into(), value: "v".into(), effect: "NoSchedule".into(), time_added: None });
        assert_eq!(schedule(&p, &[&n1, &n2], &[&busy], SchedulerOptions::default()), Decision::Bind("n1".into()));
    }
}

/// The status write that records why a pod cannot be scheduled
/// (PodScheduled=False, reason Unschedulable), or None if it already says so.
pub fn unschedulable_status(pod: &Pod, message: &str, now: crate::time::Time) -> Option<crate::effect::Effect> {
    let already = crate::podutil::condition(pod, "PodScheduled").is_some_and(|c| c.status == "False" && c.message == message);
    if already {
        return None;
    }
    let mut p = pod.clone();
    crate::admission::set_pod_condition(&mut p.status, "PodScheduled", "False", "Unschedulable", now);
    if let Some(c) = p.status.conditions.iter_mut().find(|c| c.type_ == "PodScheduled") {
        c.message = message.to_string();
    }
    Some(crate::effect::Effect::update_status(crate::object::Object::Pod(p)))
}

/// Bindings the scheduler has made but its cache has not shown yet
/// (upstream's "assumed pods"): pod key `ns/name` → (uid, node).
pub type Assumed = std::collections::BTreeMap<String, (String, String)>;

/// The pods as the scheduler must count them: its cache, with its own
/// not-yet-seen bindings applied. Assumptions the cache has caught up with
/// (pod bound, gone, or another incarnation) are dropped from `assumed`.
pub fn with_assumed(pods: &[&Pod], assumed: &mut Assumed) -> Vec<Pod> {
    let mut by_key: std::collections::BTreeMap<String, &Pod> = pods.iter().map(|p| (p.metadata.key(), *p)).collect();
    assumed.retain(|k, (uid, _)| by_key.get(k).is_some_and(|p| p.metadata.uid == *uid && p.spec.node_name.is_empty()));
    let mut out: Vec<Pod> = Vec::with_capacity(by_key.len());
    for (k, p) in std::mem::take(&mut by_key) {
        let mut p = p.clone();
        if let Some((_, node)) = assumed.get(&k) {
            p.spec.node_name = node.clone();
        }
        out.push(p);
    }
    out
}
