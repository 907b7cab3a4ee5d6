//! The Deployment controller's decision (upstream pkg/controller/deployment):
//! one ReplicaSet per pod template, named by the template's hash; a rolling
//! update that never exceeds replicas + maxSurge pods and never drops below
//! replicas − maxUnavailable available ones; Recreate; revisions, history
//! clean-up, and status with the Available and Progressing conditions.
//!
//! Each call takes one step (scale the new ReplicaSet up, or old ones down)
//! and relies on being called again as the ReplicaSets' status changes.

use super::controller_ref;
use crate::effect::{Effect, Outcome};
use crate::labels::LabelSelector;
use crate::object::Object;
use crate::time::Time;
use crate::types::*;

pub const LABEL_POD_TEMPLATE_HASH: &str = "pod-template-hash";
pub const ANNOTATION_REVISION: &str = "deployment.kubernetes.io/revision";
pub const ANNOTATION_DESIRED_REPLICAS: &str = "deployment.kubernetes.io/desired-replicas";
pub const ANNOTATION_MAX_REPLICAS: &str = "deployment.kubernetes.io/max-replicas";

/// 32-bit FNV-1a.
fn fnv32a(bytes: &[u8]) -> u32 {
    let mut h: u32 = 0x811c_9dc5;
    for b in bytes {
        h ^= *b as u32;
        h = h.wrapping_mul(0x0100_0193);
    }
    h
}

/// The template hash: FNV-1a over the template's canonical JSON and the
/// collision count, written (like upstream's SafeEncodeString) with an
/// alphabet that has no vowels, so it never spells a word.
pub fn template_hash(t: &PodTemplateSpec, collision_count: Option<i32>) -> String {
    let mut bytes = serde_json::to_vec(t).expect("templates encode");
    if let Some(c) = collision_count {
        bytes.extend_from_slice(c.to_string().as_bytes());
    }
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    fnv32a(&bytes).to_string().bytes().map(|d| ALPHABET[d as usize % ALPHABET.len()] as char).collect()
}

fn without_hash(t: &PodTemplateSpec) -> PodTemplateSpec {
    let mut t = t.clone();
    t.metadata.labels.remove(LABEL_POD_TEMPLATE_HASH);
    t
}

/// Upstream's EqualIgnoreHash.
pub fn templates_equal(a: &PodTemplateSpec, b: &PodTemplateSpec) -> bool {
    without_hash(a) == without_hash(b)
}

pub fn revision(rs: &ReplicaSet) -> i64 {
    rs.metadata.annotations.get(ANNOTATION_REVISION).and_then(|r| r.parse().ok()).unwrap_or(0)
}

fn replicas(rs: &ReplicaSet) -> i32 {
    rs.spec.replicas.unwrap_or(0)
}

/// maxSurge and maxUnavailable resolved against replicas (upstream
/// ResolveFenceposts: surge rounds up, unavailable down; both 0 → 1 unavailable).
pub fn fenceposts(d: &Deployment) -> (i32, i32) {
    let want = d.spec.replicas.unwrap_or(1);
    let Some(ru) = d.spec.strategy.rolling_update.as_ref().filter(|_| d.spec.strategy.type_ != "Recreate") else { return (0, 0) };
    let surge = ru.max_surge.as_ref().and_then(|v| v.scaled(want, true).ok()).unwrap_or(0).max(0);
    let mut unavailable = ru.max_unavailable.as_ref().and_then(|v| v.scaled(want, false).ok()).unwrap_or(0).max(0);
    if surge == 0 && unavailable == 0 {
        unavailable = 1;
    }
    (surge, unavailable.min(want))
}

/// One reconcile of one Deployment. `replicasets` and `pods` are the
/// controller's cache for the Deployment's namespace.
pub fn reconcile_deployment(now: Time, d: &Deployment, replicasets: &[&ReplicaSet], pods: &[&Pod]) -> Outcome {
    let mut out = Outcome::default();
    let want = d.spec.replicas.unwrap_or(1);
    // 1. Claim ReplicaSets (adopt orphans that match, release those that don't).
    let mut owned: Vec<ReplicaSet> = Vec::new();
    let Ok(sel) = d.spec.selector.to_selector() else { return out };
    for &rs in replicasets {
        if rs.metadata.namespace != d.metadata.namespace {
            continue;
        }
        let matches = !d.spec.selector.is_empty() && sel.matches(&rs.metadata.labels);
        match rs.metadata.controller_ref() {
            Some(r) if r.uid == d.metadata.uid => {
                if matches {
                    owned.push(rs.clone());
                } else if rs.metadata.deletion_timestamp.is_none() {
                    let mut released = rs.clone();
                    released.metadata.owner_references.retain(|r| r.uid != d.metadata.uid);
                    out.effects.push(Effect::update(Object::ReplicaSet(released)));
                }
            }
            Some(_) => {}
            None if matches && rs.metadata.deletion_timestamp.is_none() && d.metadata.deletion_timestamp.is_none() => {
                let mut adopted = rs.clone();
                adopted.metadata.owner_references.push(controller_ref("apps/v1", "Deployment", &d.metadata));
                out.effects.push(Effect::update(Object::ReplicaSet(adopted.clone())));
                owned.push(adopted);
            }
            None => {}
        }
    }
    if d.metadata.deletion_timestamp.is_some() {
        // Being deleted: only report status; the garbage collector removes the rest.
        push_status(&mut out, d, &owned, None, now, false);
        return out;
    }
    if !out.effects.is_empty() {
        // Adoption/release first; the next reconcile sees the result.
        return out;
    }
    // Oldest first: by creation time, then name, as upstream's ReplicaSetsByCreationTimestamp.
    owned.sort_by(|a, b| (a.metadata.creation_timestamp, &a.metadata.name).cmp(&(b.metadata.creation_timestamp, &b.metadata.name)));
    let new_rs = owned.iter().filter(|rs| templates_equal(&rs.spec.template, &d.spec.template)).max_by_key(|rs| revision(rs)).cloned();
    let old: Vec<ReplicaSet> = owned.iter().filter(|rs| Some(&rs.metadata.uid) != new_rs.as_ref().map(|n| &n.metadata.uid)).cloned().collect();
    let max_old_revision = old.iter().map(revision).max().unwrap_or(0);
    let mut progressed = false;

    // 2. The new ReplicaSet: create it, or give it the newest revision.
    let new_rs = match new_rs {
        Some(rs) => {
            let rev = revision(&rs);
            if rev <= max_old_revision || rs.metadata.annotations.get(ANNOTATION_DESIRED_REPLICAS) != Some(&want.to_string()) {
                let mut updated = rs.clone();
                if rev <= max_old_revision {
                    updated.metadata.annotations.insert(ANNOTATION_REVISION.into(), (max_old_revision + 1).to_string());
                }
                let (surge, _) = fenceposts(d);
                updated.metadata.annotations.insert(ANNOTATION_DESIRED_REPLICAS.into(), want.to_string());
                updated.metadata.annotations.insert(ANNOTATION_MAX_REPLICAS.into(), (want + surge).to_string());
                out.effects.push(Effect::update(Object::ReplicaSet(updated)));
                push_status(&mut out, d, &owned, Some(&rs), now, false);
                return out;
            }
            Some(rs)
        }
        None if d.spec.paused => None,
        None => {
            let initial = if d.spec.strategy.type_ == "Recreate" {
                if old_pods_running(&old, pods) || old.iter().any(|rs| replicas(rs) > 0) {
                    // Recreate waits for every old pod to go before the new RS exists.
                    None
                } else {
                    Some(want)
                }
            } else {
                Some(new_rs_replicas(d, &owned, None))
            };
            if let Some(initial) = initial {
                let collision = d.status.collision_count;
                let hash = template_hash(&without_hash(&d.spec.template), collision);
                let name = format!("{}-{}", d.metadata.name, hash);
                if let Some(existing) = replicasets.iter().find(|rs| rs.metadata.namespace == d.metadata.namespace && rs.metadata.name == name) {
                    // A ReplicaSet with that name but another template: bump the collision count.
                    if !(templates_equal(&existing.spec.template, &d.spec.template) && super::is_controlled_by(&existing.metadata, &d.metadata.uid)) {
                        let mut updated = d.clone();
                        updated.status.collision_count = Some(collision.unwrap_or(0) + 1);
                        out.effects.push(Effect::update_status(Object::Deployment(updated)));
                    }
                    return out;
                }
                let (surge, _) = fenceposts(d);
                let mut rs = ReplicaSet::default();
                rs.metadata.name = name;
                rs.metadata.namespace = d.metadata.namespace.clone();
                rs.metadata.labels = d.spec.template.metadata.labels.clone();
                rs.metadata.labels.insert(LABEL_POD_TEMPLATE_HASH.into(), hash.clone());
                rs.metadata.annotations.insert(ANNOTATION_REVISION.into(), (max_old_revision + 1).to_string());
                rs.metadata.annotations.insert(ANNOTATION_DESIRED_REPLICAS.into(), want.to_string());
                rs.metadata.annotations.insert(ANNOTATION_MAX_REPLICAS.into(), (want + surge).to_string());
                rs.metadata.owner_references.push(controller_ref("apps/v1", "Deployment", &d.metadata));
                rs.spec.replicas = Some(initial);
                rs.spec.min_ready_seconds = d.spec.min_ready_seconds;
                rs.spec.selector = LabelSelector { match_labels: d.spec.selector.match_labels.clone(), match_expressions: d.spec.selector.match_expressions.clone() };
                rs.spec.selector.match_labels.insert(LABEL_POD_TEMPLATE_HASH.into(), hash.clone());
                rs.spec.template = d.spec.template.clone();
                rs.spec.template.metadata.labels.insert(LABEL_POD_TEMPLATE_HASH.into(), hash);
                out.effects.push(Effect::create(Object::ReplicaSet(rs)));
                push_status(&mut out, d, &owned, None, now, true);
                return out;
            }
            None
        }
    };

    // 3. Scale or roll.
    let mut scaled: Vec<ReplicaSet> = Vec::new();
    if d.spec.paused {
        // A paused Deployment still follows spec.replicas on its newest RS.
        if let Some(rs) = &new_rs {
            if replicas(rs) != want && old.iter().all(|o| replicas(o) == 0) {
                scaled.push(with_replicas(rs, want, d));
            }
        }
    } else if d.spec.strategy.type_ == "Recreate" {
        let running_old: Vec<&ReplicaSet> = old.iter().filter(|rs| replicas(rs) > 0).collect();
        if !running_old.is_empty() {
            for rs in running_old {
                scaled.push(with_replicas(rs, 0, d));
            }
        } else if !old_pods_running(&old, pods) {
            if let Some(rs) = &new_rs {
                if replicas(rs) != want {
                    scaled.push(with_replicas(rs, want, d));
                }
            }
        }
    } else if let Some(rs) = &new_rs {
        let target = new_rs_replicas(d, &owned, Some(rs));
        if target != replicas(rs) {
            scaled.push(with_replicas(rs, target, d));
        } else {
            scaled.extend(scale_down_old(d, &owned, rs, &old));
        }
    }
    if !scaled.is_empty() {
        progressed = true;
        for rs in &scaled {
            out.effects.push(Effect::update(Object::ReplicaSet(rs.clone())));
        }
    }

    // 4. History: old ReplicaSets with nothing left, beyond revisionHistoryLimit.
    if scaled.is_empty() && !d.spec.paused {
        let limit = d.spec.revision_history_limit.unwrap_or(crate::defaults::DEFAULT_REVISION_HISTORY_LIMIT).max(0) as usize;
        let mut idle: Vec<&ReplicaSet> = old.iter().filter(|rs| replicas(rs) == 0 && rs.status.replicas == 0 && rs.metadata.deletion_timestamp.is_none()).collect();
        if idle.len() > limit {
            idle.sort_by_key(|rs| (revision(rs), rs.metadata.creation_timestamp));
            for rs in idle.iter().take(idle.len() - limit) {
                out.effects.push(Effect::delete(&Object::ReplicaSet((*rs).clone()), None, None));
            }
        }
    }
    push_status(&mut out, d, &owned, new_rs.as_ref(), now, progressed);
    out
}

fn with_replicas(rs: &ReplicaSet, n: i32, d: &Deployment) -> ReplicaSet {
    let mut r = rs.clone();
    r.spec.replicas = Some(n);
    let (surge, _) = fenceposts(d);
    let want = d.spec.replicas.unwrap_or(1);
    r.metadata.annotations.insert(ANNOTATION_DESIRED_REPLICAS.into(), want.to_string());
    r.metadata.annotations.insert(ANNOTATION_MAX_REPLICAS.into(), (want + surge).to_string());
    r
}

/// Any pod of an old ReplicaSet not yet finished (upstream oldPodsRunning).
fn old_pods_running(old: &[ReplicaSet], pods: &[&Pod]) -> bool {
    pods.iter().any(|p| old.iter().any(|rs| super::is_controlled_by(&p.metadata, &rs.metadata.uid)) && !crate::podutil::is_terminal(p))
}

/// Upstream NewRSNewReplicas for RollingUpdate.
fn new_rs_replicas(d: &Deployment, all: &[ReplicaSet], new_rs: Option<&ReplicaSet>) -> i32 {
    let want = d.spec.replicas.unwrap_or(1);
    let current_new = new_rs.map(replicas).unwrap_or(0);
    if current_new >= want {
        return want;
    }
    let (surge, _) = fenceposts(d);
    let current_total: i32 = all.iter().map(replicas).sum();
    let max_total = want + surge;
    if current_total >= max_total {
        return current_new;
    }
    current_new + (max_total - current_total).min(want - current_new)
}

/// Upstream reconcileOldReplicaSets: first clean up unhealthy old replicas,
/// then scale old ReplicaSets down as far as availability allows.
fn scale_down_old(d: &Deployment, all: &[ReplicaSet], new_rs: &ReplicaSet, old: &[ReplicaSet]) -> Vec<ReplicaSet> {
    let want = d.spec.replicas.unwrap_or(1);
    let old_total: i32 = old.iter().map(replicas).sum();
    if old_total == 0 {
        return vec![];
    }
    let all_total: i32 = all.iter().map(replicas).sum();
    let (_, max_unavailable) = fenceposts(d);
    let min_available = want - max_unavailable;
    let new_unavailable = replicas(new_rs) - new_rs.status.available_replicas;
    let max_scaled_down = all_total - min_available - new_unavailable;
    if max_scaled_down <= 0 {
        return vec![];
    }
    let mut result: Vec<ReplicaSet> = Vec::new();
    let mut olds: Vec<ReplicaSet> = old.to_vec();
    // (a) Unhealthy replicas can go first: they are not serving anyway.
    let mut cleaned = 0;
    for rs in olds.iter_mut() {
        if cleaned >= max_scaled_down {
            break;
        }
        let unhealthy = replicas(rs) - rs.status.available_replicas;
        if replicas(rs) == 0 || unhealthy <= 0 {
            continue;
        }
        let down = unhealthy.min(max_scaled_down - cleaned);
        *rs = with_replicas(rs, replicas(rs) - down, d);
        cleaned += down;
        result.push(rs.clone());
    }
    // (b) Then available ones, keeping minAvailable.
    let available: i32 = all.iter().map(|rs| rs.status.available_replicas).sum();
    let mut budget = (available - min_available).min(max_scaled_down - cleaned);
    if budget > 0 {
        for rs in olds.iter_mut() {
            if budget <= 0 {
                break;
            }
            if replicas(rs) == 0 {
                continue;
            }
            let down = replicas(rs).min(budget);
            *rs = with_replicas(rs, replicas(rs) - down, d);
            budget -= down;
            if let Some(existing) = result.iter_mut().find(|r| r.metadata.uid == rs.metadata.uid) {
                *existing = rs.clone();
            } else {
                result.push(rs.clone());
            }
        }
    }
    result
}

/// Computes status and conditions; pushes an UpdateStatus if they changed.
fn push_status(out: &mut Outcome, d: &Deployment, owned: &[ReplicaSet], new_rs: Option<&ReplicaSet>, now: Time, progressed: bool) {
    let want = d.spec.replicas.unwrap_or(1);
    let now_s = now.truncate_to_secs();
    let mut st = d.status.clone();
    st.observed_generation = d.metadata.generation;
    st.replicas = owned.iter().map(|rs| rs.status.replicas).sum();
    st.updated_replicas = new_rs.map(|rs| rs.status.replicas).unwrap_or(0);
    st.ready_replicas = owned.iter().map(|rs| rs.status.ready_replicas).sum();
    st.available_replicas = owned.iter().map(|rs| rs.status.available_replicas).sum();
    st.unavailable_replicas = (want - st.available_replicas).max(0);
    let (_, max_unavailable) = fenceposts(d);
    let available_ok = st.available_replicas >= want - max_unavailable;
    set_condition(
        &mut st.conditions,
        "Available",
        if available_ok { "True" } else { "False" },
        if available_ok { "MinimumReplicasAvailable" } else { "MinimumReplicasUnavailable" },
        if available_ok { "Deployment has minimum availability." } else { "Deployment does not have minimum availability." },
        now_s,
        false,
    );
    let complete = new_rs.is_some()
        && st.updated_replicas == want
        && st.replicas == want
        && st.available_replicas == want
        && owned.iter().filter(|rs| Some(&rs.metadata.uid) != new_rs.map(|n| &n.metadata.uid)).all(|rs| rs.status.replicas == 0);
    let deadline_ms = d.spec.progress_deadline_seconds.map(|s| s as i64 * 1000);
    let rs_name = new_rs.map(|rs| rs.metadata.name.clone()).unwrap_or_default();
    if d.spec.paused {
        set_condition(&mut st.conditions, "Progressing", "Unknown", "DeploymentPaused", "Deployment is paused", now_s, true);
    } else if complete {
        set_condition(&mut st.conditions, "Progressing", "True", "NewReplicaSetAvailable", &format!("ReplicaSet {rs_name:?} has successfully progressed."), now_s, false);
    } else if progressed || !st.conditions.iter().any(|c| c.type_ == "Progressing") || st.conditions.iter().any(|c| c.type_ == "Progressing" && (c.reason == "NewReplicaSetAvailable" || c.reason == "DeploymentPaused")) {
        let msg = if rs_name.is_empty() { format!("Deployment {:?} is progressing.", d.metadata.name) } else { format!("ReplicaSet {rs_name:?} is progressing.") };
        set_condition(&mut st.conditions, "Progressing", "True", "ReplicaSetUpdated", &msg, now_s, true);
    } else if let (Some(deadline), Some(c)) = (deadline_ms, st.conditions.iter().find(|c| c.type_ == "Progressing").cloned()) {
        if c.reason != "ProgressDeadlineExceeded" {
            let since = c.last_update_time.unwrap_or(now_s);
            if now.ms_since(since) > deadline {
                set_condition(&mut st.conditions, "Progressing", "False", "ProgressDeadlineExceeded", &format!("ReplicaSet {rs_name:?} has timed out progressing."), now_s, true);
            } else {
                out.requeue_at_most(since.plus_ms(deadline).ms_since(now) + 1000);
            }
        }
    }
    if st != d.status {
        let mut updated = d.clone();
        updated.status = st;
        out.effects.push(Effect::update_status(Object::Deployment(updated)));
    }
}

fn set_condition(conds: &mut Vec<DeploymentCondition>, type_: &str, status: &str, reason: &str, message: &str, now: Time, touch: bool) {
    if let Some(c) = conds.iter_mut().find(|c| c.type_ == type_) {
        if c.status != status {
            c.last_transition_time = Some(now);
            c.last_update_time = Some(now);
        } else if c.reason != reason {
            c.last_update_time = Some(now);
        }
        if touch && c.reason == reason && reason == "ReplicaSetUpdated" && c.message != message {
            c.last_update_time = Some(now);
        }
        c.status = status.into();
        c.reason = reason.into();
        c.message = message.into();
    } else {
        conds.push(DeploymentCondition {
            type_: type_.into(),
            status: status.into(),
            last_update_time: Some(now),
            last_transition_time: Some(now),
            reason: reason.into(),
            message: message.into(),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_is_stable_and_alphabet_safe() {
        let t = PodTemplateSpec::default();
        let h = template_hash(&t, None);
        assert_eq!(h, template_hash(&t, None));
        assert_ne!(h, template_hash(&t, Some(1)));
        assert!(h.chars().all(|c| "bcdfghjklmnpqrstvwxz2456789".contains(c)), "{h}");
    }

    #[test]
    fn fenceposts_resolve_like_upstream() {
        let mut d = Deployment::default();
        d.spec.replicas = Some(10);
        d.spec.strategy = DeploymentStrategy {
            type_: "RollingUpdate".into(),
            rolling_update: Some(RollingUpdateDeployment { max_surge: Some(IntOrString::String("25%".into())), max_unavailable: Some(IntOrString::String("25%".into())) }),
        };
        assert_eq!(fenceposts(&d), (3, 2));
        d.spec.strategy.rolling_update = Some(RollingUpdateDeployment { max_surge: Some(IntOrString::Int(0)), max_unavailable: Some(IntOrString::Int(0)) });
        assert_eq!(fenceposts(&d), (0, 1));
    }
}

// ------------------------------------------------------------ the machine

/// The Deployment controller as a state machine: which Deployments a
/// change wakes (a ReplicaSet's controller, every selector that may adopt
/// an orphan ReplicaSet, the old controller when its labels or owner
/// change, the Deployment of a pod's ReplicaSet), and the work queue.
/// Decisions are `reconcile_deployment`'s, over the ReplicaSets it
/// controls, the namespace's orphan ReplicaSets, and the pods of those it
/// controls.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct DeploymentController {
    pub opts: DeploymentOptions,
    pub queue: super::queue::Queue,
    /// Record each decision's inputs (for traces).
    pub record_inputs: bool,
}

/// Safeguards the model checker can switch off to show it finds the bug.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct DeploymentOptions {
    /// A ReplicaSet's update (its status, above all) wakes its Deployment,
    /// as upstream's updateReplicaSet handler; off, only additions and
    /// deletions do.
    pub wake_on_replicaset_updates: bool,
}

impl Default for DeploymentOptions {
    fn default() -> Self {
        DeploymentOptions { wake_on_replicaset_updates: true }
    }
}

/// What one reconcile decided, and what it read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reconciled {
    pub outcome: Outcome,
    /// The Deployment, the ReplicaSets it controls or may adopt, and its own ReplicaSets' pods.
    pub visited: usize,
    pub inputs: Option<(Deployment, Vec<ReplicaSet>, Vec<Pod>)>,
}

impl DeploymentController {
    pub fn handle_deployment(&mut self, key: &str) {
        self.queue.add(key);
    }

    pub fn handle_replicaset(&mut self, old: Option<&ReplicaSet>, new: Option<&ReplicaSet>, view: &dyn crate::cache::View) {
        if !self.opts.wake_on_replicaset_updates && old.is_some() && new.is_some() {
            return;
        }
        if let Some(rs) = new.or(old) {
            self.wake_owner(&rs.metadata, view);
        }
        if let (Some(o), Some(n)) = (old, new) {
            if o.metadata.controller_ref() != n.metadata.controller_ref() || o.metadata.labels != n.metadata.labels {
                self.wake_owner(&o.metadata, view);
            }
        }
    }

    /// A pod changed: the Deployment of its ReplicaSet looks again (status,
    /// and Recreate waits for old pods to go).
    pub fn handle_pod(&mut self, old: Option<&Pod>, new: Option<&Pod>, view: &dyn crate::cache::View) {
        for p in [old, new].into_iter().flatten() {
            if let Some(r) = p.metadata.controller_ref().filter(|r| r.kind == "ReplicaSet") {
                if let Some(rs) = view.get(crate::object::Kind::ReplicaSet, &format!("{}/{}", p.metadata.namespace, r.name)) {
                    if let Some(d) = rs.meta().controller_ref().filter(|d| d.kind == "Deployment") {
                        self.queue.add(&format!("{}/{}", p.metadata.namespace, d.name));
                    }
                }
            }
        }
    }

    fn wake_owner(&mut self, m: &crate::meta::ObjectMeta, view: &dyn crate::cache::View) {
        match m.controller_ref() {
            Some(r) if r.kind == "Deployment" => self.queue.add(&format!("{}/{}", m.namespace, r.name)),
            Some(_) => {}
            None => {
                // An orphan: every Deployment whose selector matches may adopt it.
                for k in super::adopters(view, crate::object::Kind::Deployment, &m.namespace, &m.labels) {
                    self.queue.add(&k);
                }
            }
        }
    }

    pub fn poll(&mut self, now: Time) -> Option<String> {
        self.queue.pop(now)
    }

    pub fn poll_timeout(&self) -> Option<Time> {
        self.queue.next_timer()
    }

    pub fn reconcile(&mut self, now: Time, key: &str, view: &dyn crate::cache::View) -> Reconciled {
        use crate::object::Kind;
        let Some(d) = view.get(Kind::Deployment, key).and_then(|o| o.as_deployment()) else {
            return Reconciled { outcome: Outcome::default(), visited: 0, inputs: None };
        };
        // Its candidates, as upstream's ClaimReplicaSets sees them: the
        // ReplicaSets it controls and the namespace's orphans (those of
        // other controllers it would skip), in key order, never the
        // namespace's every ReplicaSet.
        let mut rss: Vec<&ReplicaSet> = view.controlled_by(Kind::ReplicaSet, &d.metadata.uid).chain(view.orphans(Kind::ReplicaSet, &d.metadata.namespace)).filter_map(|o| o.as_replicaset()).collect();
        rss.sort_by(|a, b| a.metadata.name.cmp(&b.metadata.name));
        let pods: Vec<&Pod> = rss.iter().filter(|rs| super::is_controlled_by(&rs.metadata, &d.metadata.uid)).flat_map(|rs| view.controlled_by(Kind::Pod, &rs.metadata.uid)).filter_map(|o| o.as_pod()).collect();
        let outcome = reconcile_deployment(now, d, &rss, &pods);
        let inputs = self.record_inputs.then(|| (d.clone(), rss.iter().map(|r| (*r).clone()).collect(), pods.iter().map(|p| (*p).clone()).collect()));
        Reconciled { visited: 1 + rss.len() + pods.len(), outcome, inputs }
    }

    /// The reconcile of `key` is over (see `ReplicaSetController::done`).
    pub fn done(&mut self, now: Time, key: &str, requeue_after_ms: Option<i64>, failed: bool) {
        self.queue.finish(now, key, requeue_after_ms, failed);
    }
}

impl super::queue::Looks for DeploymentController {
    fn queue(&self) -> &super::queue::Queue {
        &self.queue
    }
    fn queue_mut(&mut self) -> &mut super::queue::Queue {
        &mut self.queue
    }
    fn keys(view: &dyn crate::cache::View) -> Vec<String> {
        view.list(crate::object::Kind::Deployment).map(|o| o.meta().key()).collect()
    }
    fn quiet_look(&mut self, now: Time, key: &str, view: &dyn crate::cache::View) -> Option<Option<i64>> {
        let r = self.reconcile(now, key, view);
        r.outcome.effects.is_empty().then_some(r.outcome.requeue_after_ms)
    }
}
