//! Small facts about pods that several components need.

use crate::time::Time;
use crate::types::*;

pub fn is_terminal(p: &Pod) -> bool {
    p.status.phase == "Succeeded" || p.status.phase == "Failed"
}

/// Counts toward a controller's replicas: not being deleted, not finished.
pub fn is_active(p: &Pod) -> bool {
    p.metadata.deletion_timestamp.is_none() && !is_terminal(p)
}

pub fn condition<'a>(p: &'a Pod, type_: &str) -> Option<&'a PodCondition> {
    p.status.conditions.iter().find(|c| c.type_ == type_)
}

pub fn is_ready(p: &Pod) -> bool {
    condition(p, "Ready").is_some_and(|c| c.status == "True")
}

/// Ready for at least `min_ready_seconds` (upstream's IsPodAvailable).
pub fn is_available(p: &Pod, min_ready_seconds: i32, now: Time) -> bool {
    match condition(p, "Ready") {
        Some(c) if c.status == "True" => {
            min_ready_seconds == 0 || c.last_transition_time.is_some_and(|t| t.plus_ms(min_ready_seconds as i64 * 1000) <= now)
        }
        _ => false,
    }
}

/// Sum of container requests for `resource` in nano-units.
pub fn request_nanos(spec: &PodSpec, resource: &str) -> i128 {
    spec.containers.iter().filter_map(|c| c.resources.requests.get(resource).and_then(|q| q.nanos().ok())).sum()
}

pub fn restart_count(p: &Pod) -> i32 {
    p.status.container_statuses.iter().map(|c| c.restart_count).sum()
}

/// Whether the pod tolerates a taint (upstream's ToleratesTaint).
pub fn tolerates(tolerations: &[Toleration], taint: &Taint) -> bool {
    tolerations.iter().any(|t| toleration_matches(t, taint))
}

pub fn toleration_matches(t: &Toleration, taint: &Taint) -> bool {
    if !t.effect.is_empty() && t.effect != taint.effect {
        return false;
    }
    if !t.key.is_empty() && t.key != taint.key {
        return false;
    }
    match t.operator.as_str() {
        "Exists" => true,
        "" | "Equal" => t.value == taint.value && !t.key.is_empty(),
        _ => false,
    }
}
