//! The ReplicaSet controller's decision: adopt and release pods by selector
//! and ownerReferences, create or delete pods towards spec.replicas (only
//! when expectations are met), and report status.

use super::expectations::Expectations;
use super::{controller_ref, is_controlled_by};
use crate::effect::{Effect, Outcome};
use crate::meta::ObjectMeta;
use crate::object::Object;
use crate::podutil::{is_active, is_available, is_ready};
use crate::time::Time;
use crate::types::*;

/// Most pods created or deleted in one reconcile (upstream's burstReplicas).
pub const BURST_REPLICAS: usize = 500;

/// Safeguards the model checker can switch off to show it finds the bug.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct RsOptions {
    pub use_expectations: bool,
    pub burst: usize,
    /// A failed (or unsent) write lowers the expectation it raised, as
    /// upstream's slowStartBatch and manageReplicas do; off, only the
    /// cache's changes do, and a refused creation is waited for in vain.
    pub lower_expectations_on_failure: bool,
}

impl Default for RsOptions {
    fn default() -> Self {
        RsOptions { use_expectations: true, burst: BURST_REPLICAS, lower_expectations_on_failure: true }
    }
}

/// The pods a ReplicaSet controls after adoption/release, and the writes
/// that adoption/release need.
pub struct Claimed<'a> {
    pub owned: Vec<&'a Pod>,
    pub effects: Vec<Effect>,
}

/// Claims pods in the ReplicaSet's namespace (upstream's ClaimPods).
pub fn claim_pods<'a>(owner: &ObjectMeta, owner_kind: (&str, &str), selector: &crate::labels::LabelSelector, pods: &[&'a Pod]) -> Claimed<'a> {
    let mut out = Claimed { owned: vec![], effects: vec![] };
    let Ok(sel) = selector.to_selector() else { return out };
    for &p in pods {
        if p.metadata.namespace != owner.namespace {
            continue;
        }
        let matches = !selector.is_empty() && sel.matches(&p.metadata.labels);
        match p.metadata.controller_ref() {
            Some(r) if r.uid == owner.uid => {
                if matches {
                    out.owned.push(p);
                } else if p.metadata.deletion_timestamp.is_none() {
                    // Release: the pod no longer matches.
                    let mut released = p.clone();
                    released.metadata.owner_references.retain(|r| r.uid != owner.uid);
                    out.effects.push(Effect::update(Object::Pod(released)));
                }
            }
            Some(_) => {}
            None => {
                if matches && p.metadata.deletion_timestamp.is_none() && owner.deletion_timestamp.is_none() {
                    let mut adopted = p.clone();
                    adopted.metadata.owner_references.push(controller_ref(owner_kind.0, owner_kind.1, owner));
                    out.effects.push(Effect::update(Object::Pod(adopted)));
                    out.owned.push(p);
                }
            }
        }
    }
    out
}

/// A new pod from the ReplicaSet's template.
pub fn pod_from_template(rs: &ReplicaSet) -> Pod {
    let t = &rs.spec.template;
    let mut p = Pod { spec: t.spec.clone(), ..Default::default() };
    p.metadata.generate_name = format!("{}-", rs.metadata.name);
    p.metadata.namespace = rs.metadata.namespace.clone();
    p.metadata.labels = t.metadata.labels.clone();
    p.metadata.annotations = t.metadata.annotations.clone();
    p.metadata.owner_references.push(controller_ref("apps/v1", "ReplicaSet", &rs.metadata));
    p
}

/// Orders pods so that the first ones are the best to delete (upstream's
/// ActivePodsWithRanks, without the co-location rank): unscheduled before
/// scheduled, pending before running, not ready before ready, ready for a
/// shorter time first, more restarts first, newer first.
pub fn deletion_order(pods: &mut [&Pod]) {
    pods.sort_by_key(|p| {
        let assigned = !p.spec.node_name.is_empty();
        let phase_rank = match p.status.phase.as_str() {
            "Pending" | "" => 0,
            "Unknown" => 1,
            _ => 2,
        };
        let ready = is_ready(p);
        let ready_since = crate::podutil::condition(p, "Ready").and_then(|c| c.last_transition_time).map(|t| t.0).unwrap_or(0);
        let created = p.metadata.creation_timestamp.map(|t| t.0).unwrap_or(0);
        (assigned, phase_rank, ready, std::cmp::Reverse(ready_since), std::cmp::Reverse(crate::podutil::restart_count(p)), std::cmp::Reverse(created), p.metadata.name.clone())
    });
}

pub fn replicaset_status(rs: &ReplicaSet, active: &[&Pod], now: Time) -> ReplicaSetStatus {
    let tmpl_sel = crate::labels::LabelSelector { match_labels: rs.spec.template.metadata.labels.clone(), match_expressions: vec![] };
    ReplicaSetStatus {
        replicas: active.len() as i32,
        fully_labeled_replicas: active.iter().filter(|p| tmpl_sel.matches(&p.metadata.labels)).count() as i32,
        ready_replicas: active.iter().filter(|p| is_ready(p)).count() as i32,
        available_replicas: active.iter().filter(|p| is_available(p, rs.spec.min_ready_seconds, now)).count() as i32,
        observed_generation: rs.metadata.generation,
    }
}

/// One reconcile of one ReplicaSet.
///
/// `pods` are every pod the controller's cache holds in the namespace.
/// The outcome's creations and deletions are what the driver must record in
/// `exp` (see `expectations_for`).
pub fn reconcile_replicaset(now: Time, rs: &ReplicaSet, pods: &[&Pod], exp: &Expectations, opts: RsOptions) -> Outcome {
    let mut out = Outcome::default();
    let claimed = claim_pods(&rs.metadata, ("apps/v1", "ReplicaSet"), &rs.spec.selector, pods);
    out.effects.extend(claimed.effects);
    let active: Vec<&Pod> = claimed.owned.iter().copied().filter(|p| is_active(p)).collect();
    let want = rs.spec.replicas.unwrap_or(1).max(0) as usize;
    // 1. Manage replicas, unless earlier creations/deletions are not yet seen.
    let may_manage = rs.metadata.deletion_timestamp.is_none() && (!opts.use_expectations || exp.satisfied(now));
    if may_manage {
        if active.len() < want {
            let n = (want - active.len()).min(opts.burst);
            for _ in 0..n {
                out.effects.push(Effect::create(Object::Pod(pod_from_template(rs))));
            }
        } else if active.len() > want {
            let n = (active.len() - want).min(opts.burst);
            let mut ranked = active.clone();
            deletion_order(&mut ranked);
            for p in ranked.into_iter().take(n) {
                out.effects.push(Effect::delete(&Object::Pod(p.clone()), None, None));
            }
        }
    }
    // 2. Status from what the cache shows now.
    let status = replicaset_status(rs, &active, now);
    if status != rs.status {
        let mut updated = rs.clone();
        updated.status = status;
        out.effects.push(Effect::update_status(Object::ReplicaSet(updated)));
    }
    // 3. Pods that are ready but not yet available need another look.
    if rs.spec.min_ready_seconds > 0 {
        for p in &active {
            if is_ready(p) && !is_available(p, rs.spec.min_ready_seconds, now) {
                if let Some(t) = crate::podutil::condition(p, "Ready").and_then(|c| c.last_transition_time) {
                    out.requeue_at_most(t.plus_ms(rs.spec.min_ready_seconds as i64 * 1000).ms_since(now) + 1000);
                }
            }
        }
    }
    out
}

/// The expectations a driver records after executing `out` for `rs`.
pub fn expectations_for(out: &Outcome) -> (i64, Vec<String>) {
    let creations = out.effects.iter().filter(|e| matches!(e, Effect::Create(Object::Pod(_)))).count() as i64;
    let deletions = out
        .effects
        .iter()
        .filter_map(|e| match e {
            Effect::Delete(d) if d.kind == crate::object::Kind::Pod => Some(d.uid.clone()),
            _ => None,
        })
        .collect();
    (creations, deletions)
}

/// Whether a pod event concerns this ReplicaSet's expectations.
pub fn owns(rs: &ReplicaSet, pod: &Pod) -> bool {
    is_controlled_by(&pod.metadata, &rs.metadata.uid)
}

// ------------------------------------------------------------ the machine


/// Creations of one reconcile go out in batches of 1, 2, 4, ... (upstream's
/// slowStartBatch): a failing batch stops the rest, so a quota or a
/// misconfiguration costs one request, not `burst`.
pub fn slow_start_batches(n: usize) -> Vec<usize> {
    let mut out = Vec::new();
    let (mut left, mut size) = (n, 1usize);
    while left > 0 {
        let b = size.min(left);
        out.push(b);
        left -= b;
        size *= 2;
    }
    out
}

/// One wave of a reconcile's writes: sent together, after the wave
/// before has been answered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Wave {
    /// Indexes into the outcome's effects.
    pub writes: std::ops::Range<usize>,
    /// A batch of creations: one that fails ends the creations (the rest
    /// are not sent, and answered `Err(0)`).
    pub creations: bool,
}

/// How a reconcile's writes go out (upstream's syncReplicaSet): runs of
/// creations in slow-start batches, a run of deletions at once, every
/// other write (adoption, release, status) on its own, in order.
pub fn waves(effects: &[Effect]) -> Vec<Wave> {
    let class = |e: &Effect| match e {
        Effect::Create(_) => 1,
        Effect::Delete(_) => 2,
        _ => 0,
    };
    let mut out = Vec::new();
    let mut i = 0;
    while i < effects.len() {
        let c = class(&effects[i]);
        let run = effects[i..].iter().take_while(|e| class(e) == c).count();
        match c {
            1 => {
                for b in slow_start_batches(run) {
                    out.push(Wave { writes: i..i + b, creations: true });
                    i += b;
                }
            }
            2 => {
                out.push(Wave { writes: i..i + run, creations: false });
                i += run;
            }
            _ => {
                out.push(Wave { writes: i..i + 1, creations: false });
                i += 1;
            }
        }
    }
    out
}

/// A reconcile's writes as they go out, wave by wave (sans-IO): `next`
/// hands out the next wave and whether to send it; `answered` takes its
/// results. A wave of creations after a failed batch of creations is not
/// sent: the driver answers each of its writes `Err(0)` ("never sent"),
/// which lowers the expectations like any failure.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Writes {
    waves: std::collections::VecDeque<Wave>,
    creations_stopped: bool,
    failed: bool,
}

/// One wave `Writes::next` hands out.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NextWave {
    pub wave: Wave,
    /// False: answer each write `Err(0)` without sending it.
    pub send: bool,
}

impl Writes {
    pub fn new(effects: &[Effect]) -> Writes {
        Writes { waves: waves(effects).into(), creations_stopped: false, failed: false }
    }

    pub fn next(&mut self) -> Option<NextWave> {
        let wave = self.waves.pop_front()?;
        let send = !(wave.creations && self.creations_stopped);
        Some(NextWave { wave, send })
    }

    /// The results of the wave `next` handed out last.
    pub fn answered(&mut self, wave: &Wave, results: &[Result<(), u16>]) {
        if results.iter().any(|r| r.is_err()) {
            self.failed = true;
            self.creations_stopped |= wave.creations;
        }
    }

    /// Whether any write failed (or was never sent).
    pub fn failed(&self) -> bool {
        self.failed
    }
}

/// What one reconcile decided, and what it read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reconciled {
    pub outcome: Outcome,
    /// Objects the decision looked at: the ReplicaSet and its candidate pods
    /// (those it controls and the namespace's orphans), never the cluster.
    pub visited: usize,
    /// The inputs, for a trace (None when the ReplicaSet is gone).
    pub inputs: Option<(ReplicaSet, Vec<Pod>, Expectations)>,
}

/// The ReplicaSet controller as a state machine: which ReplicaSets a change
/// wakes (a pod's controller, every selector that may adopt an orphan, the
/// old controller when a pod's labels or owner change), the expectations it
/// waits on (met by the changes it is fed, and lowered by every write that
/// failed, 404 included, as upstream), and the work queue. Decisions are
/// `reconcile_replicaset`'s; the driver executes the effects and hands each
/// result back.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct ReplicaSetController {
    pub opts: RsOptions,
    pub queue: super::queue::Queue,
    pub expectations: std::collections::BTreeMap<String, Expectations>,
    /// Record each decision's inputs (for traces).
    pub record_inputs: bool,
}

impl ReplicaSetController {
    pub fn new(opts: RsOptions) -> ReplicaSetController {
        ReplicaSetController { opts, ..Default::default() }
    }

    /// A ReplicaSet changed (`key` = `ns/name`).
    pub fn handle_replicaset(&mut self, key: &str) {
        self.queue.add(key);
    }

    /// A pod changed: expectations see it, and the ReplicaSets it concerns are woken.
    pub fn handle_pod(&mut self, old: Option<&Pod>, new: Option<&Pod>, view: &dyn crate::cache::View) {
        super::expectations::observe_pod_change(&mut self.expectations, old, new);
        if let Some(p) = new.or(old) {
            self.wake_owners(p, view);
        }
        if let (Some(o), Some(n)) = (old, new) {
            if o.metadata.controller_ref() != n.metadata.controller_ref() || o.metadata.labels != n.metadata.labels {
                self.wake_owners(o, view);
            }
        }
    }

    fn wake_owners(&mut self, pod: &Pod, view: &dyn crate::cache::View) {
        match pod.metadata.controller_ref() {
            Some(r) if r.kind == "ReplicaSet" => self.queue.add(&format!("{}/{}", pod.metadata.namespace, r.name)),
            Some(_) => {}
            None => {
                // An orphan: every ReplicaSet whose selector matches may adopt it.
                for k in super::adopters(view, crate::object::Kind::ReplicaSet, &pod.metadata.namespace, &pod.metadata.labels) {
                    self.queue.add(&k);
                }
            }
        }
    }

    /// The next ReplicaSet to reconcile now.
    pub fn poll(&mut self, now: Time) -> Option<String> {
        self.queue.pop(now)
    }

    pub fn poll_timeout(&self) -> Option<Time> {
        self.queue.next_timer()
    }

    /// Reconciles the ReplicaSet `poll` returned, over the pods it controls
    /// and the orphans of its namespace; records what it now expects.
    pub fn reconcile(&mut self, now: Time, key: &str, view: &dyn crate::cache::View) -> Reconciled {
        use crate::object::Kind;
        let Some(rs) = view.get(Kind::ReplicaSet, key).and_then(|o| o.as_replicaset()) else {
            self.expectations.remove(key);
            return Reconciled { outcome: Outcome::default(), visited: 0, inputs: None };
        };
        let pods: Vec<&Pod> = view.controlled_by(Kind::Pod, &rs.metadata.uid).chain(view.orphans(Kind::Pod, &rs.metadata.namespace)).filter_map(|o| o.as_pod()).collect();
        let exp = self.expectations.get(key).cloned().unwrap_or_default();
        let outcome = reconcile_replicaset(now, rs, &pods, &exp, self.opts);
        let (creations, deletions) = expectations_for(&outcome);
        if creations > 0 || !deletions.is_empty() {
            self.expectations.entry(key.to_string()).or_default().expect(creations, deletions, now);
        }
        let inputs = self.record_inputs.then(|| (rs.clone(), pods.iter().map(|p| (*p).clone()).collect(), exp));
        Reconciled { visited: 1 + pods.len(), outcome, inputs }
    }

    /// One of the reconcile's writes was answered (Err: its HTTP code, or
    /// 0 when it was never sent because an earlier batch failed). A write
    /// that did not happen will never be seen: its expectation is lowered.
    pub fn handle_write_result(&mut self, key: &str, effect: &Effect, result: Result<(), u16>) {
        if result.is_ok() || !self.opts.lower_expectations_on_failure {
            return;
        }
        if let Some(exp) = self.expectations.get_mut(key) {
            match effect {
                Effect::Create(_) => exp.observe_creation(),
                Effect::Delete(d) => exp.observe_deletion(&d.uid),
                _ => {}
            }
        }
    }

    /// The reconcile of `key` is over: again after `requeue_after_ms`, and
    /// after `RETRY_AFTER_MS` if a write failed.
    pub fn done(&mut self, now: Time, key: &str, requeue_after_ms: Option<i64>, failed: bool) {
        self.queue.finish(now, key, requeue_after_ms, failed);
    }

    /// Drops expectations that are met (they decide nothing until a new `expect`).
    pub fn forget_met(&mut self, now: Time) {
        self.expectations.retain(|_, e| !e.satisfied(now));
    }

    /// Whether a restart would lose anything: expectations not yet met.
    pub fn holds_state(&self, now: Time) -> bool {
        self.expectations.values().any(|e| !e.satisfied(now))
    }
}

impl super::queue::Looks for ReplicaSetController {
    fn queue(&self) -> &super::queue::Queue {
        &self.queue
    }
    fn queue_mut(&mut self) -> &mut super::queue::Queue {
        &mut self.queue
    }
    fn keys(view: &dyn crate::cache::View) -> Vec<String> {
        view.list(crate::object::Kind::ReplicaSet).map(|o| o.meta().key()).collect()
    }
    fn quiet_look(&mut self, now: Time, key: &str, view: &dyn crate::cache::View) -> Option<Option<i64>> {
        let r = self.reconcile(now, key, view);
        r.outcome.effects.is_empty().then_some(r.outcome.requeue_after_ms)
    }
    fn forget_idle(&mut self, now: Time) {
        self.forget_met(now);
    }
}

#[cfg(test)]
mod machine_tests {
    use super::*;

    #[test]
    fn slow_start_doubles_and_covers_every_creation() {
        assert_eq!(slow_start_batches(0), Vec::<usize>::new());
        assert_eq!(slow_start_batches(1), vec![1]);
        assert_eq!(slow_start_batches(10), vec![1, 2, 4, 3]);
        assert_eq!(slow_start_batches(BURST_REPLICAS).iter().sum::<usize>(), BURST_REPLICAS);
    }

    #[test]
    fn creations_go_in_slow_start_waves_and_other_writes_one_by_one() {
        let pod = |n: &str| {
            let mut p = Pod::default();
            p.metadata.name = n.into();
            Object::Pod(p)
        };
        let effects = vec![Effect::update(pod("adopted")), Effect::create(pod("a")), Effect::create(pod("b")), Effect::create(pod("c")), Effect::update_status(pod("rs"))];
        let w = waves(&effects);
        let spans: Vec<(std::ops::Range<usize>, bool)> = w.into_iter().map(|w| (w.writes, w.creations)).collect();
        assert_eq!(spans, vec![(0..1, false), (1..2, true), (2..4, true), (4..5, false)]);
        let deletes: Vec<Effect> = ["x", "y"].iter().map(|n| Effect::delete(&pod(n), None, None)).collect();
        assert_eq!(waves(&deletes), vec![Wave { writes: 0..2, creations: false }]);
    }

    #[test]
    fn a_failed_batch_of_creations_ends_the_creations_but_not_the_other_writes() {
        let pod = |n: &str| {
            let mut p = Pod::default();
            p.metadata.name = n.into();
            Object::Pod(p)
        };
        let mut effects: Vec<Effect> = (0..7).map(|i| Effect::create(pod(&format!("p{i}")))).collect();
        effects.push(Effect::update_status(pod("rs")));
        let mut w = Writes::new(&effects);
        let mut sent = Vec::new();
        while let Some(n) = w.next() {
            sent.push((n.wave.writes.clone(), n.send));
            // The second batch (2 creations) fails.
            let results: Vec<Result<(), u16>> = n.wave.writes.clone().map(|i| if n.send && i == 2 { Err(500) } else if n.send { Ok(()) } else { Err(0) }).collect();
            w.answered(&n.wave, &results);
        }
        assert_eq!(sent, vec![(0..1, true), (1..3, true), (3..7, false), (7..8, true)]);
        assert!(w.failed());
    }
}
