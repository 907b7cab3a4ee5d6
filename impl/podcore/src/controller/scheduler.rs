//! The scheduler, as a state machine the daemon and the model drive alike.
//!
//! **The decision** (`choose`) for one pod: filter nodes (unschedulable,
//! taints/tolerations, nodeSelector, cpu/memory/pods against allocatable
//! minus what is counted there), score the rest (least allocated, plus
//! spreading of pods with the same controller), pick the best. Ties go to
//! the node that comes first in the order given: upstream picks at random
//! among equals, so which equal node wins is the caller's choice. The
//! daemon passes name order, so its decisions are deterministic; the model
//! passes every order, so no node is special and renaming nodes is a
//! symmetry it can reduce by. On a large cluster the search stops once it
//! has found `nodes_to_find` feasible nodes, as upstream's
//! percentageOfNodesToScore, starting where the last sampled search stopped.
//!
//! **The machine** (`Scheduler`) keeps what upstream's scheduling queue and
//! cache keep: per node, the requests of the pods counted there (`Usage`,
//! updated from each pod change and each assumed binding, so a decision
//! costs O(nodes) and never rescans pods); the bindings it made and has not
//! yet seen in its cache (assumed); and the queue of pods to place — active,
//! backing off after a failed bind, or unschedulable until a change that
//! can make room moves them back: a node added or changed in what the
//! filter reads (spec, labels, allocatable), or a counted pod gone, finished
//! or moved. That list is complete (every input of `filter` but the pod's
//! own spec, whose change also requeues it), so unlike upstream, whose
//! queueing hints are selective, no timed flush of unschedulable pods is
//! needed; the model checks that no pod waits as unschedulable while it
//! would fit. Active pods are tried oldest first (creation time, then key),
//! as upstream's queue orders pods of one priority by when they came. The driver feeds it changes (`handle_pod`, `handle_node`),
//! asks it for work (`poll`, then `schedule` with the pod from its cache),
//! executes the binding it returns and hands the result back
//! (`handle_write_result`); `poll_timeout` says when to ask again.

use crate::effect::Effect;
use crate::podutil::{is_terminal, request_nanos, tolerates};
use crate::time::Time;
use crate::types::*;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

/// Safeguards the model can switch off.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SchedulerOptions {
    /// Count pods already bound to a node against its allocatable resources.
    pub account_bound_pods: bool,
    /// Move unschedulable pods back when a counted pod goes, finishes,
    /// moves or asks for less.
    pub requeue_on_room: bool,
}

impl Default for SchedulerOptions {
    fn default() -> Self {
        SchedulerOptions { account_bound_pods: true, requeue_on_room: true }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Decision {
    Bind(String),
    /// No node fits; the message is upstream's "0/N nodes are available: ...".
    Unschedulable(String),
}

/// Bindings being written at once: `poll` gives no more work until one is
/// answered (the next decisions count the ones in flight as assumed).
pub const MAX_BINDS_IN_FLIGHT: usize = 64;

/// Back-off after a failed binding: doubling from this (upstream's podInitialBackoff)...
pub const INITIAL_BACKOFF_MS: i64 = 1_000;
/// ...up to this (podMaxBackoff).
pub const MAX_BACKOFF_MS: i64 = 10_000;
/// A search stops once it has this many feasible nodes, or the percentage
/// below of all nodes if that is more (upstream's minFeasibleNodesToFind).
pub const MIN_FEASIBLE_NODES_TO_FIND: usize = 100;
/// The least percentage of nodes a search looks for (minFeasibleNodesPercentageToFind).
pub const MIN_FEASIBLE_NODES_PERCENTAGE: usize = 5;

/// How long a pod that failed `attempts` times before waits.
pub fn backoff_ms(attempts: u32) -> i64 {
    INITIAL_BACKOFF_MS.saturating_mul(2i64.saturating_pow(attempts)).min(MAX_BACKOFF_MS)
}

/// Feasible nodes a search looks for among `all` (upstream's
/// numFeasibleNodesToFind with the adaptive percentage 50 − nodes/125).
pub fn nodes_to_find(all: usize) -> usize {
    if all <= MIN_FEASIBLE_NODES_TO_FIND {
        return all;
    }
    let pct = 50usize.saturating_sub(all / 125).max(MIN_FEASIBLE_NODES_PERCENTAGE);
    (all * pct / 100).max(MIN_FEASIBLE_NODES_TO_FIND)
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

/// A node's allocatable cpu, memory and pods, parsed once per node change
/// (allocatable, else capacity; None: not stated), so that a decision
/// parses no quantity per node it visits.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Allocatable {
    pub cpu: Option<i128>,
    pub memory: Option<i128>,
    pub pods: Option<i128>,
}

impl Allocatable {
    pub fn of(node: &Node) -> Allocatable {
        Allocatable { cpu: allocatable(node, "cpu"), memory: allocatable(node, "memory"), pods: allocatable(node, "pods") }
    }
}

/// One candidate of a decision: the node, its parsed allocatable, and the
/// usage counted there.
pub type Candidate<'a> = (&'a Node, &'a Allocatable, &'a Usage);

/// What the pods counted on one node ask for.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Usage {
    pub cpu: i128,
    pub memory: i128,
    pub pods: i64,
    /// Pods per controller uid (for spreading).
    pub by_owner: BTreeMap<String, i64>,
}

/// What one pod adds to its node's usage.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Contribution {
    pub cpu: i128,
    pub memory: i128,
    pub owner: Option<String>,
}

impl Contribution {
    pub fn of(pod: &Pod) -> Contribution {
        Contribution { cpu: request_nanos(&pod.spec, "cpu"), memory: request_nanos(&pod.spec, "memory"), owner: pod.metadata.controller_ref().map(|r| r.uid.clone()) }
    }
}

impl Usage {
    fn add(&mut self, c: &Contribution, sign: i64) {
        self.cpu += c.cpu * sign as i128;
        self.memory += c.memory * sign as i128;
        self.pods += sign;
        if let Some(o) = &c.owner {
            let n = self.by_owner.entry(o.clone()).or_default();
            *n += sign;
            if *n == 0 {
                self.by_owner.remove(o);
            }
        }
    }

    pub fn is_empty(&self) -> bool {
        *self == Usage::default()
    }
}

/// Why a node does not fit, or None if it does (`req`: the pod's own
/// requests, `Contribution::of(pod)`).
pub fn filter(pod: &Pod, req: &Contribution, node: &Node, alloc: &Allocatable, usage: &Usage, opts: SchedulerOptions) -> Option<&'static str> {
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
    let empty = Usage::default();
    let used = if opts.account_bound_pods { usage } else { &empty };
    if let Some(max_pods) = alloc.pods {
        if (used.pods as i128 + 1) * 1_000_000_000 > max_pods {
            return Some("Too many pods");
        }
    }
    for (why, req, used, a) in [("Insufficient cpu", req.cpu, used.cpu, alloc.cpu), ("Insufficient memory", req.memory, used.memory, alloc.memory)] {
        if req == 0 {
            continue;
        }
        match a {
            Some(a) if used + req <= a => {}
            _ => return Some(why),
        }
    }
    None
}

/// Higher is better: 0..=100 least-allocated, minus a spread penalty.
fn score(req: &Contribution, alloc: &Allocatable, usage: &Usage) -> i64 {
    let mut frac_sum = 0i64;
    for (req, used, a) in [(req.cpu, usage.cpu, alloc.cpu), (req.memory, usage.memory, alloc.memory)] {
        let a = a.unwrap_or(0);
        if a <= 0 {
            continue;
        }
        let used = used + req;
        frac_sum += (((a - used).max(0) * 100) / a) as i64;
    }
    let siblings = req.owner.as_ref().and_then(|uid| usage.by_owner.get(uid)).copied().unwrap_or(0);
    frac_sum / 2 - siblings * 100
}

/// Chooses a node among `candidates` (in the order given), stopping once
/// `find` feasible nodes were seen. Returns the decision and how many
/// candidates it looked at. Among the best scores, the first wins.
pub fn choose<'a>(pod: &Pod, candidates: impl IntoIterator<Item = Candidate<'a>>, total_nodes: usize, find: usize, opts: SchedulerOptions) -> (Decision, usize) {
    let req = Contribution::of(pod);
    let mut reasons: BTreeMap<&'static str, usize> = BTreeMap::new();
    let mut best: Option<(i64, &str)> = None;
    let (mut visited, mut feasible) = (0, 0);
    for (node, alloc, usage) in candidates {
        if feasible >= find {
            break;
        }
        visited += 1;
        match filter(pod, &req, node, alloc, usage, opts) {
            Some(why) => *reasons.entry(why).or_default() += 1,
            None => {
                feasible += 1;
                let s = score(&req, alloc, usage);
                // Strictly better only: among equals the earliest stays.
                if best.is_none_or(|(bs, _)| s > bs) {
                    best = Some((s, node.metadata.name.as_str()));
                }
            }
        }
    }
    let decision = match best {
        Some((_, name)) => Decision::Bind(name.to_string()),
        None => {
            let parts: Vec<String> = reasons.iter().map(|(why, n)| format!("{n} {why}")).collect();
            let tail = if parts.is_empty() { String::new() } else { format!(" {}.", parts.join(", ")) };
            Decision::Unschedulable(format!("0/{total_nodes} nodes are available:{tail}"))
        }
    };
    (decision, visited)
}

/// The status write that records why a pod cannot be scheduled
/// (PodScheduled=False, reason Unschedulable), or None if it already says so.
pub fn unschedulable_status(pod: &Pod, message: &str, now: Time) -> Option<Effect> {
    let already = crate::podutil::condition(pod, "PodScheduled").is_some_and(|c| c.status == "False" && c.message == message);
    if already {
        return None;
    }
    let mut p = pod.clone();
    crate::admission::set_pod_condition(&mut p.status, "PodScheduled", "False", "Unschedulable", now);
    if let Some(c) = p.status.conditions.iter_mut().find(|c| c.type_ == "PodScheduled") {
        c.message = message.to_string();
    }
    Some(Effect::update_status(crate::object::Object::Pod(p)))
}

/// A binding made and not yet seen in the cache (upstream's assumed pod).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Assumption {
    pub uid: String,
    pub node: String,
    pub contribution: Contribution,
}

/// Where a pod waiting to be placed is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Waiting {
    Active,
    /// Until then, after a failed binding.
    BackingOff { until: Time },
    /// Until a change that can make room moves it back.
    Unschedulable,
    /// Its binding is being written.
    Binding,
}

/// One waiting pod.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct Entry {
    state: Waiting,
    /// The pod's creation time: the active queue's order.
    created: Time,
    /// Failed bindings so far (the back-off doubles with each).
    failures: u32,
}

/// What `schedule` decided for one pod.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Scheduled {
    pub decision: Decision,
    /// The write to make: the binding, or the Unschedulable status (None: nothing to write).
    pub effect: Option<Effect>,
    /// How many nodes the decision looked at, and the first of them.
    pub visited: usize,
    pub first: Option<String>,
    /// With `record_candidates`: each of them with the usage the decision counted there.
    pub candidates: Vec<(Node, Usage)>,
    /// Nodes known, and feasible nodes the search looked for.
    pub total: usize,
    pub find: usize,
}

/// The scheduler's state (see the module's doc). Equal machines have equal
/// queues, assumptions and per-node usage.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Scheduler {
    pub opts: SchedulerOptions,
    pub name: String,
    /// Shared, so that cloning the machine (as the model does per state) copies no Node.
    nodes: BTreeMap<String, (Arc<Node>, Allocatable)>,
    /// Per node name, what the counted pods ask for (nodes not yet seen too).
    usage: BTreeMap<String, Usage>,
    assumed: BTreeMap<String, Assumption>,
    /// Pod key (`ns/name`) → where it waits; `active` holds the active
    /// ones, oldest first.
    waiting: BTreeMap<String, Entry>,
    active: BTreeSet<(Time, String)>,
    /// The pods backing off, by when they are due, and the unschedulable
    /// ones: indexes of `waiting` (kept by `set_waiting` alone), so that a
    /// poll or a change that can make room reads those pods, not every
    /// waiting one.
    backing_off: BTreeSet<(Time, String)>,
    unschedulable: BTreeSet<String>,
    /// Where the next sampled search starts (only moves when a search stops early).
    next_start: usize,
    /// Return each decision's candidates with their usage (for traces).
    pub record_candidates: bool,
    /// Pods in `Waiting::Binding`.
    binding: usize,
}

/// Hashes what the machine's behaviour depends on beyond its cache: the
/// nodes it holds are those of the cache it was fed (which its owner
/// hashes), so they are left out, and fingerprinting a model state does
/// not walk every Node.
impl std::hash::Hash for Scheduler {
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        (self.opts, &self.name, &self.usage, &self.assumed, &self.waiting, &self.active, self.next_start).hash(h);
    }
}

impl Scheduler {
    pub fn new(name: &str, opts: SchedulerOptions) -> Scheduler {
        Scheduler { opts, name: name.to_string(), ..Default::default() }
    }

    pub fn assumed(&self) -> &BTreeMap<String, Assumption> {
        &self.assumed
    }

    pub fn usage(&self, node: &str) -> Option<&Usage> {
        self.usage.get(node)
    }

    pub fn nodes(&self) -> impl Iterator<Item = &Node> {
        self.nodes.values().map(|(n, _)| &**n)
    }

    /// Whether a restart would lose anything: bindings not yet seen or
    /// being written, back-offs and failure counts. Pods set aside as
    /// unschedulable are not: a restarted scheduler tries them again at
    /// once (as upstream's does), and each still fits nowhere, since every
    /// change that could make room would have moved it back (the model
    /// checks that), so the retry finds what the lost state said.
    pub fn holds_state(&self) -> bool {
        !self.assumed.is_empty() || self.waiting.values().any(|e| !matches!(e.state, Waiting::Active | Waiting::Unschedulable) || e.failures > 0)
    }

    /// Renames nodes (the model's symmetry): `rename` maps old names to
    /// new, and `nodes` are the machine's nodes as renamed in its cache.
    pub fn rename_nodes(&mut self, rename: &dyn Fn(&str) -> String, nodes: Vec<Node>) {
        self.nodes = nodes.into_iter().map(|n| (n.metadata.name.clone(), (Allocatable::of(&n), Arc::new(n)))).map(|(k, (a, n))| (k, (n, a))).collect();
        self.usage = std::mem::take(&mut self.usage).into_iter().map(|(k, u)| (rename(&k), u)).collect();
        for a in self.assumed.values_mut() {
            a.node = rename(&a.node);
        }
    }

    /// The pods set aside as unschedulable that would fit now (`pod_of`:
    /// the pod of a key, from the cache the machine was fed). Always empty
    /// unless a change that can make room failed to move them back: the
    /// model checks that it is.
    pub fn unschedulable_that_fit<'a>(&self, pod_of: impl Fn(&str) -> Option<&'a Pod>) -> Vec<String> {
        self.waiting
            .iter()
            .filter(|(k, e)| e.state == Waiting::Unschedulable && pod_of(k).is_some_and(|p| matches!(self.choose_among_all(p), Decision::Bind(_))))
            .map(|(k, _)| k.clone())
            .collect()
    }

    /// The decision for `p` over every node in name order, unsampled.
    fn choose_among_all(&self, p: &Pod) -> Decision {
        let empty = Usage::default();
        let total = self.nodes.len();
        let candidates = self.nodes.iter().map(|(n, (node, alloc))| (&**node, alloc, self.usage.get(n).unwrap_or(&empty)));
        choose(p, candidates, total, total, self.opts).0
    }

    fn back_off(&mut self, now: Time, key: &str) {
        let failures = self.waiting.get(key).map_or(0, |e| e.failures);
        self.set_waiting(key, Some(Waiting::BackingOff { until: now.plus_ms(backoff_ms(failures)) }), None);
        if let Some(e) = self.waiting.get_mut(key) {
            e.failures += 1;
        }
    }

    /// Sets aside, as its next `schedule` would, each active pod that fits
    /// nowhere and whose Unschedulable status is already written (`pod_of`:
    /// as in `unschedulable_that_fit`). That `schedule` writes nothing and
    /// binding pods ahead of it only takes room, so a state where it has
    /// been taken and one where it has not behave alike: the model merges
    /// them with this. Does nothing when the search would be sampled (a
    /// real `schedule` would move its start).
    pub fn settle<'a>(&mut self, pod_of: impl Fn(&str) -> Option<&'a Pod>) {
        let total = self.nodes.len();
        if nodes_to_find(total) < total {
            return;
        }
        let keys: Vec<String> = self.active.iter().map(|(_, k)| k.clone()).collect();
        for k in keys {
            let Some(p) = pod_of(&k).filter(|p| wants(p, &self.name) && !self.assumed.contains_key(&k)) else { continue };
            if let Decision::Unschedulable(msg) = self.choose_among_all(p) {
                if unschedulable_status(p, &msg, Time::default()).is_none() {
                    self.set_waiting(&k, Some(Waiting::Unschedulable), None);
                }
            }
        }
    }

    /// Pods waiting to be placed (any state).
    pub fn pending(&self) -> usize {
        self.waiting.len()
    }

    /// Whether a pod is queued to be tried now.
    pub fn has_active(&self) -> bool {
        !self.active.is_empty()
    }

    /// The node a pod counts on, and what it adds there: its own node, or
    /// the one it is assumed on; none for a finished pod.
    fn counted(&self, key: &str, pod: &Pod) -> Option<(String, Contribution)> {
        if is_terminal(pod) {
            return None;
        }
        if !pod.spec.node_name.is_empty() {
            return Some((pod.spec.node_name.clone(), Contribution::of(pod)));
        }
        self.assumed.get(key).filter(|a| a.uid == pod.metadata.uid).map(|a| (a.node.clone(), a.contribution.clone()))
    }

    fn count(&mut self, at: Option<(String, Contribution)>, sign: i64) {
        if let Some((node, c)) = at {
            let u = self.usage.entry(node.clone()).or_default();
            u.add(&c, sign);
            if u.is_empty() {
                self.usage.remove(&node);
            }
        }
    }

    fn waiting(&self, key: &str) -> Option<Waiting> {
        self.waiting.get(key).map(|e| e.state)
    }

    /// Moves `key` to `w` (None: no longer waiting). `created`: the pod's
    /// creation time, for a pod not waiting before (else the one kept).
    fn set_waiting(&mut self, key: &str, w: Option<Waiting>, created: Option<Time>) {
        let entry = self.waiting.get(key).copied();
        let created = entry.map(|e| e.created).or(created).unwrap_or_default();
        let failures = entry.map_or(0, |e| e.failures);
        let was = entry.map(|e| e.state);
        self.binding = self.binding + usize::from(w == Some(Waiting::Binding)) - usize::from(was == Some(Waiting::Binding));
        match was {
            Some(Waiting::BackingOff { until }) => {
                self.backing_off.remove(&(until, key.to_string()));
            }
            Some(Waiting::Unschedulable) => {
                self.unschedulable.remove(key);
            }
            _ => {}
        }
        match w {
            Some(Waiting::BackingOff { until }) => {
                self.backing_off.insert((until, key.to_string()));
            }
            Some(Waiting::Unschedulable) => {
                self.unschedulable.insert(key.to_string());
            }
            _ => {}
        }
        if was == Some(Waiting::Active) && w != Some(Waiting::Active) {
            self.active.remove(&(created, key.to_string()));
        }
        match w {
            None => {
                self.waiting.remove(key);
            }
            Some(w) => {
                if w == Waiting::Active && was != Some(Waiting::Active) {
                    self.active.insert((created, key.to_string()));
                }
                self.waiting.insert(key.to_string(), Entry { state: w, created, failures });
            }
        }
    }

    /// Every unschedulable pod goes back to the active queue: something
    /// changed that can make room.
    fn move_unschedulable(&mut self) {
        for k in std::mem::take(&mut self.unschedulable) {
            self.set_waiting(&k, Some(Waiting::Active), None);
        }
    }

    /// A pod changed in the cache (`key` = `ns/name`; None: absent).
    pub fn handle_pod(&mut self, key: &str, old: Option<&Pod>, new: Option<&Pod>) {
        let before = old.and_then(|p| self.counted(key, p));
        // The cache caught up with an assumption: the pod is bound, gone, or another incarnation.
        if let Some(a) = self.assumed.get(key) {
            if new.is_none_or(|p| p.metadata.uid != a.uid || !p.spec.node_name.is_empty()) {
                self.assumed.remove(key);
            }
        }
        let after = new.and_then(|p| self.counted(key, p));
        if before != after {
            self.count(before.clone(), -1);
            self.count(after.clone(), 1);
        }
        // Room may have been made: a counted pod went away, finished, moved
        // or asks for less.
        if before.is_some() && before != after && self.opts.requeue_on_room {
            self.move_unschedulable();
        }
        match new {
            Some(p) if wants(p, &self.name) => {
                // Our binding of this incarnation is on its way: nothing to do.
                let ours = self.assumed.contains_key(key);
                // Its spec or labels changed (not its status, which this
                // scheduler writes itself when the pod does not fit).
                let changed = old.is_none_or(|o| o.spec != p.spec || o.metadata.labels != p.metadata.labels);
                let created = Some(p.metadata.creation_timestamp.unwrap_or_default());
                match self.waiting(key) {
                    _ if ours => {}
                    // A new pod, one that changed while unschedulable, or another
                    // incarnation while the last one's binding is answered: try it now.
                    None | Some(Waiting::Binding) => self.set_waiting(key, Some(Waiting::Active), created),
                    Some(Waiting::Unschedulable) if changed => self.set_waiting(key, Some(Waiting::Active), created),
                    Some(_) => {}
                }
            }
            _ => self.set_waiting(key, None, None),
        }
    }

    /// A node changed in the cache (None: absent).
    pub fn handle_node(&mut self, name: &str, new: Option<&Node>) {
        match new {
            None => {
                self.nodes.remove(name);
            }
            Some(n) => {
                let fits_differently = self.nodes.get(name).is_none_or(|(o, _)| o.spec != n.spec || o.metadata.labels != n.metadata.labels || o.status.allocatable != n.status.allocatable || o.status.capacity != n.status.capacity);
                self.nodes.insert(name.to_string(), (Arc::new(n.clone()), Allocatable::of(n)));
                if fits_differently {
                    self.move_unschedulable();
                }
            }
        }
    }

    /// The next pod to place now, if any: due back-offs and stale
    /// unschedulable pods become active first. None while
    /// `MAX_BINDS_IN_FLIGHT` bindings are unanswered.
    pub fn poll(&mut self, now: Time) -> Option<String> {
        if self.binding >= MAX_BINDS_IN_FLIGHT {
            return None;
        }
        while let Some((_, k)) = self.backing_off.first().filter(|(until, _)| *until <= now).cloned() {
            self.set_waiting(&k, Some(Waiting::Active), None);
        }
        self.active.first().map(|(_, k)| k.clone())
    }

    /// When a pod next becomes due without any change (None: never).
    pub fn poll_timeout(&self) -> Option<Time> {
        self.backing_off.first().map(|(until, _)| *until)
    }

    /// Decides for the pod `poll` returned (`pod`: as the cache holds it
    /// now; None when it is gone). `prefer`: nodes to try first in this
    /// order among equals (the model's tie orders); empty for name order.
    pub fn schedule(&mut self, now: Time, key: &str, pod: Option<&Pod>, prefer: &[String]) -> Option<Scheduled> {
        let pod = match pod {
            Some(p) if wants(p, &self.name) && !self.assumed.contains_key(key) => p,
            _ => {
                self.set_waiting(key, None, None);
                return None;
            }
        };
        let total = self.nodes.len();
        let find = nodes_to_find(total);
        let empty = Usage::default();
        type Candidate<'a> = (&'a String, (&'a Node, &'a Allocatable, &'a Usage));
        let entries: Box<dyn Iterator<Item = Candidate>> = if prefer.is_empty() {
            // Name order, from where the last sampled search stopped; each
            // node's usage found by walking the usage map alongside (both
            // are in name order), not by a lookup per node.
            let start = if find < total { self.next_start % total.max(1) } else { 0 };
            match self.nodes.keys().nth(start) {
                Some(from) => {
                    let (nodes, usage) = (&self.nodes, &self.usage);
                    Box::new(with_usage(nodes.range::<String, _>(from..), usage.range::<String, _>(from..), &empty).chain(with_usage(nodes.range::<String, _>(..from), usage.iter(), &empty)))
                }
                None => Box::new(std::iter::empty()),
            }
        } else {
            let mut v: Vec<_> = self.nodes.iter().map(|(n, (node, alloc))| (n, (&**node, alloc, self.usage.get(n).unwrap_or(&empty)))).collect();
            v.sort_by_key(|(n, _)| prefer.iter().position(|p| p == *n).unwrap_or(usize::MAX));
            Box::new(v.into_iter())
        };
        let mut seen: Vec<&str> = Vec::new();
        let candidates = entries.inspect(|(n, _)| seen.push(n.as_str())).map(|(_, c)| c);
        let (decision, looked) = choose(pod, candidates, total, find, self.opts);
        seen.truncate(looked);
        let first = seen.first().map(|n| n.to_string());
        let candidates = if self.record_candidates { seen.iter().map(|n| ((*self.nodes[*n].0).clone(), self.usage.get(*n).unwrap_or(&empty).clone())).collect() } else { vec![] };
        drop(seen);
        if looked < total {
            self.next_start = (self.next_start + looked) % total.max(1);
        }
        let effect = match &decision {
            Decision::Bind(node) => {
                let a = Assumption { uid: pod.metadata.uid.clone(), node: node.clone(), contribution: Contribution::of(pod) };
                self.count(Some((node.clone(), a.contribution.clone())), 1);
                self.assumed.insert(key.to_string(), a);
                self.set_waiting(key, Some(Waiting::Binding), None);
                Some(Effect::bind(pod, node))
            }
            Decision::Unschedulable(msg) => {
                self.set_waiting(key, Some(Waiting::Unschedulable), None);
                unschedulable_status(pod, msg, now)
            }
        };
        Some(Scheduled { decision, effect, visited: looked, first, candidates, total, find })
    }

    /// The apiserver answered the write `schedule` returned for `key`
    /// (Err: the HTTP code). A binding refused because the pod changed
    /// (409) or went (404) is forgotten: the change that caused it is on
    /// its way to the cache. Any other failed binding, and a failed
    /// Unschedulable status, backs off and tries again.
    pub fn handle_write_result(&mut self, now: Time, key: &str, result: Result<(), u16>) {
        let entry = self.waiting.get(key).copied();
        if let (Some(e), Err(_)) = (entry, result) {
            if e.state == Waiting::Unschedulable {
                self.back_off(now, key);
                return;
            }
        }
        let binding = entry.filter(|e| e.state == Waiting::Binding);
        let Err(code) = result else {
            if binding.is_some() {
                self.set_waiting(key, None, None);
            }
            return;
        };
        if let Some(a) = self.assumed.remove(key) {
            self.count(Some((a.node, a.contribution)), -1);
            if self.opts.requeue_on_room {
                self.move_unschedulable();
            }
        }
        match binding {
            Some(_) if code != 409 && code != 404 => self.back_off(now, key),
            Some(_) => self.set_waiting(key, None, None),
            None => {}
        }
    }
}

/// Each of `nodes` (in name order) with its usage from `usage` (in name
/// order, starting at or before the first node): one merged walk, so a
/// node costs a comparison or two, not a search of the usage map.
fn with_usage<'a>(
    nodes: impl Iterator<Item = (&'a String, &'a (Arc<Node>, Allocatable))> + 'a,
    usage: impl Iterator<Item = (&'a String, &'a Usage)> + 'a,
    empty: &'a Usage,
) -> impl Iterator<Item = (&'a String, (&'a Node, &'a Allocatable, &'a Usage))> + 'a {
    let mut usage = usage.peekable();
    nodes.map(move |(name, (node, alloc))| {
        while usage.next_if(|(k, _)| k.as_str() < name.as_str()).is_some() {}
        let u = usage.next_if(|(k, _)| *k == name).map_or(empty, |(_, u)| u);
        (name, (&**node, alloc, u))
    })
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

    fn pod(name: &str, cpu: &str, node: &str) -> Pod {
        let mut p = Pod::default();
        p.metadata.name = name.into();
        p.metadata.namespace = "default".into();
        p.metadata.uid = format!("uid-{name}");
        p.spec.node_name = node.into();
        p.spec.containers.push(Container { name: "c".into(), image: "i".into(), ..Default::default() });
        p.spec.containers[0].resources.requests.insert("cpu".into(), cpu.into());
        p
    }

    fn machine(nodes: &[Node], pods: &[Pod]) -> Scheduler {
        let mut s = Scheduler::new("default-scheduler", SchedulerOptions::default());
        for n in nodes {
            s.handle_node(&n.metadata.name, Some(n));
        }
        for p in pods {
            s.handle_pod(&p.metadata.key(), None, Some(p));
        }
        s
    }

    fn decide(s: &mut Scheduler, p: &Pod, prefer: &[&str]) -> Decision {
        let prefer: Vec<String> = prefer.iter().map(|s| s.to_string()).collect();
        s.schedule(Time(0), &p.metadata.key(), Some(p), &prefer).unwrap().decision
    }

    #[test]
    fn the_merged_walk_finds_each_nodes_usage_as_a_lookup_does() {
        let nodes: BTreeMap<String, (Arc<Node>, Allocatable)> = ["a", "c", "d", "f"].iter().map(|n| (n.to_string(), (Arc::new(node(n, "1")), Allocatable::of(&node(n, "1"))))).collect();
        // Usage of nodes not (yet) known too: "b", "e", "g".
        let usage: BTreeMap<String, Usage> = ["b", "c", "e", "f", "g"].iter().enumerate().map(|(i, n)| (n.to_string(), Usage { pods: i as i64 + 1, ..Default::default() })).collect();
        let empty = Usage::default();
        for start in 0..nodes.len() {
            let from = nodes.keys().nth(start).unwrap();
            let merged: Vec<(String, i64)> = with_usage(nodes.iter().skip(start), usage.range::<String, _>(from..), &empty).chain(with_usage(nodes.iter().take(start), usage.iter(), &empty)).map(|(n, (_, _, u))| (n.clone(), u.pods)).collect();
            let looked_up: Vec<(String, i64)> = nodes.keys().skip(start).chain(nodes.keys().take(start)).map(|n| (n.clone(), usage.get(n).map_or(0, |u| u.pods))).collect();
            assert_eq!(merged, looked_up, "from {from}");
        }
    }

    #[test]
    fn bound_pods_count_against_allocatable() {
        let n1 = node("n1", "1");
        let busy = pod("busy", "800m", "n1");
        let p = pod("p", "500m", "");
        assert_eq!(decide(&mut machine(&[n1.clone()], &[busy.clone()]), &p, &[]), Decision::Unschedulable("0/1 nodes are available: 1 Insufficient cpu.".into()));
        // With the safeguard off, the node is (wrongly) overcommitted.
        let mut off = machine(&[n1], &[busy]);
        off.opts.account_bound_pods = false;
        assert_eq!(decide(&mut off, &p, &[]), Decision::Bind("n1".into()));
    }

    #[test]
    fn ties_go_to_the_first_node_in_the_order_given() {
        let (a, b) = (node("a", "2"), node("b", "2"));
        let p = pod("p", "100m", "");
        assert_eq!(decide(&mut machine(&[a.clone(), b.clone()], &[]), &p, &[]), Decision::Bind("a".into()));
        assert_eq!(decide(&mut machine(&[a.clone(), b.clone()], &[]), &p, &["b", "a"]), Decision::Bind("b".into()));
        // A better score beats an earlier place.
        let busy = pod("busy", "1", "b");
        assert_eq!(decide(&mut machine(&[a, b], &[busy]), &p, &["b", "a"]), Decision::Bind("a".into()));
    }

    #[test]
    fn prefers_the_emptier_node_and_respects_taints() {
        let n1 = node("n1", "2");
        let mut n2 = node("n2", "2");
        let busy = pod("busy", "1", "n1");
        let p = pod("p", "100m", "");
        assert_eq!(decide(&mut machine(&[n1.clone(), n2.clone()], &[busy.clone()]), &p, &[]), Decision::Bind("n2".into()));
        n2.spec.taints.push(Taint { key: "k".into(), value: "v".into(), effect: "NoSchedule".into(), time_added: None });
        assert_eq!(decide(&mut machine(&[n1, n2], &[busy]), &p, &[]), Decision::Bind("n1".into()));
    }

    #[test]
    fn an_assumed_binding_counts_until_the_cache_shows_it_then_once() {
        let n1 = node("n1", "1");
        let (a, b) = (pod("a", "600m", ""), pod("b", "600m", ""));
        let mut s = machine(&[n1], &[a.clone(), b.clone()]);
        assert_eq!(s.poll(Time(0)).as_deref(), Some("default/a"));
        assert_eq!(decide(&mut s, &a, &[]), Decision::Bind("n1".into()));
        // Before the cache shows `a` bound, `b` does not fit beside it.
        assert_eq!(s.poll(Time(0)).as_deref(), Some("default/b"));
        assert!(matches!(decide(&mut s, &b, &[]), Decision::Unschedulable(_)));
        s.handle_write_result(Time(0), "default/a", Ok(()));
        // The cache shows it: counted once, from the pod itself.
        let mut bound = a.clone();
        bound.spec.node_name = "n1".into();
        s.handle_pod("default/a", Some(&a), Some(&bound));
        assert!(s.assumed().is_empty());
        assert_eq!(s.usage("n1").map(|u| (u.pods, u.cpu)), Some((1, 600_000_000)));
        // `a` finishing makes room: `b` is tried again at once.
        let mut done = bound.clone();
        done.status.phase = "Succeeded".into();
        s.handle_pod("default/a", Some(&bound), Some(&done));
        assert_eq!(s.usage("n1"), None);
        assert_eq!(s.poll(Time(0)).as_deref(), Some("default/b"));
        assert_eq!(decide(&mut s, &b, &[]), Decision::Bind("n1".into()));
    }

    #[test]
    fn a_failed_binding_is_forgotten_on_409_and_backed_off_otherwise() {
        let n1 = node("n1", "4");
        let p = pod("p", "100m", "");
        let mut s = machine(std::slice::from_ref(&n1), std::slice::from_ref(&p));
        s.poll(Time(0));
        decide(&mut s, &p, &[]);
        s.handle_write_result(Time(0), "default/p", Err(409));
        assert_eq!((s.assumed().len(), s.usage("n1"), s.pending()), (0, None, 0));
        let mut s = machine(&[n1], &[p.clone()]);
        s.poll(Time(0));
        decide(&mut s, &p, &[]);
        s.handle_write_result(Time(0), "default/p", Err(503));
        assert_eq!(s.usage("n1"), None, "un-assumed");
        assert_eq!(s.poll(Time(0)), None, "backing off");
        assert_eq!(s.poll_timeout(), Some(Time(INITIAL_BACKOFF_MS)));
        assert_eq!(s.poll(Time(INITIAL_BACKOFF_MS)).as_deref(), Some("default/p"));
        // A second failure waits twice as long.
        let now = Time(INITIAL_BACKOFF_MS);
        s.schedule(now, "default/p", Some(&p), &[]).unwrap();
        s.handle_write_result(now, "default/p", Err(503));
        assert_eq!(s.poll_timeout(), Some(now.plus_ms(2 * INITIAL_BACKOFF_MS)));
        assert!(s.holds_state(), "a restart would forget the failures");
        // An Unschedulable status that could not be written is tried again later.
        let n1 = node("n1", "50m");
        let mut s = machine(&[n1], std::slice::from_ref(&p));
        s.poll(Time(0));
        assert!(matches!(decide(&mut s, &p, &[]), Decision::Unschedulable(_)));
        assert!(!s.holds_state(), "a restart retries unschedulable pods at once");
        s.handle_write_result(Time(0), "default/p", Err(409));
        assert_eq!(s.poll_timeout(), Some(Time(INITIAL_BACKOFF_MS)));
    }

    #[test]
    fn an_unschedulable_pod_waits_for_a_change_that_can_make_room() {
        let n1 = node("n1", "1");
        let busy = pod("busy", "800m", "n1");
        let p = pod("p", "500m", "");
        let mut s = machine(std::slice::from_ref(&n1), &[busy.clone(), p.clone()]);
        assert_eq!(s.poll(Time(0)).as_deref(), Some("default/p"));
        assert!(matches!(decide(&mut s, &p, &[]), Decision::Unschedulable(_)));
        assert_eq!((s.poll(Time(i64::MAX / 2)), s.poll_timeout()), (None, None), "no timed retry");
        // What the filter does not read moves nothing: a node condition, another pod's status.
        let mut n1b = n1.clone();
        n1b.status.conditions.push(NodeCondition { type_: "Ready".into(), status: "False".into(), ..Default::default() });
        s.handle_node("n1", Some(&n1b));
        let mut busy_b = busy.clone();
        busy_b.status.phase = "Running".into();
        s.handle_pod("default/busy", Some(&busy), Some(&busy_b));
        assert_eq!(s.poll(Time(0)), None);
        // A node added can make room.
        let n2 = node("n2", "1");
        s.handle_node("n2", Some(&n2));
        assert_eq!(s.poll(Time(0)).as_deref(), Some("default/p"));
        let mut s = machine(&[n1], &[busy.clone(), p.clone()]);
        assert!(s.unschedulable_that_fit(|_| Some(&p)).is_empty());
        s.poll(Time(0));
        decide(&mut s, &p, &[]);
        // So does a counted pod going away; with the safeguard off, nothing moves.
        let mut off = s.clone();
        off.opts.requeue_on_room = false;
        off.handle_pod("default/busy", Some(&busy_b), None);
        assert_eq!(off.poll(Time(0)), None, "safeguard off: stuck");
        assert_eq!(off.unschedulable_that_fit(|_| Some(&p)), vec!["default/p".to_string()], "and that is what the model looks for");
        s.handle_pod("default/busy", Some(&busy_b), None);
        assert_eq!(s.poll(Time(0)).as_deref(), Some("default/p"));
    }

    #[test]
    fn the_oldest_active_pod_is_tried_first() {
        let n1 = node("n1", "4");
        let (mut young, mut old) = (pod("a", "1m", ""), pod("b", "1m", ""));
        young.metadata.creation_timestamp = Some(Time(2_000));
        old.metadata.creation_timestamp = Some(Time(1_000));
        let mut s = machine(&[n1], &[young.clone(), old.clone()]);
        assert_eq!(s.poll(Time(0)).as_deref(), Some("default/b"));
        decide(&mut s, &old, &[]);
        assert_eq!(s.poll(Time(0)).as_deref(), Some("default/a"));
    }

    #[test]
    fn at_most_max_binds_in_flight_are_unanswered() {
        let pods: Vec<Pod> = (0..MAX_BINDS_IN_FLIGHT + 1).map(|i| pod(&format!("p{i:03}"), "1m", "")).collect();
        let mut s = machine(&[node("n1", "64")], &pods);
        for p in &pods[..MAX_BINDS_IN_FLIGHT] {
            assert_eq!(s.poll(Time(0)), Some(p.metadata.key()));
            assert_eq!(decide(&mut s, p, &[]), Decision::Bind("n1".into()));
        }
        assert_eq!(s.poll(Time(0)), None, "at the bound: no more work until an answer");
        s.handle_write_result(Time(0), &pods[0].metadata.key(), Ok(()));
        assert_eq!(s.poll(Time(0)), Some(pods[MAX_BINDS_IN_FLIGHT].metadata.key()));
    }

    #[test]
    fn back_off_doubles_up_to_max_backoff() {
        assert_eq!(backoff_ms(0), INITIAL_BACKOFF_MS);
        assert_eq!(backoff_ms(1), INITIAL_BACKOFF_MS * 2);
        let first_at_max = (0..).find(|n| backoff_ms(*n) == MAX_BACKOFF_MS).unwrap();
        assert!(backoff_ms(first_at_max - 1) < MAX_BACKOFF_MS);
        assert_eq!(backoff_ms(first_at_max + 1), MAX_BACKOFF_MS, "never past the bound");
        assert_eq!(backoff_ms(u32::MAX), MAX_BACKOFF_MS, "no overflow");
    }

    #[test]
    fn a_large_cluster_is_sampled_and_the_start_moves_on() {
        assert_eq!(nodes_to_find(3), 3);
        assert_eq!(nodes_to_find(MIN_FEASIBLE_NODES_TO_FIND), MIN_FEASIBLE_NODES_TO_FIND);
        assert_eq!(nodes_to_find(1000), 420);
        assert_eq!(nodes_to_find(5000), 500);
        assert_eq!(nodes_to_find(100_000), 5000, "at least the minimum percentage");
        let nodes: Vec<Node> = (0..1000).map(|i| node(&format!("n{i:04}"), "4")).collect();
        let mut s = machine(&nodes, &[]);
        let p = pod("p", "100m", "");
        let first = s.schedule(Time(0), "default/p", Some(&p), &[]).unwrap();
        assert_eq!((first.visited, first.first.as_deref()), (420, Some("n0000")));
        let q = pod("q", "100m", "");
        let second = s.schedule(Time(0), "default/q", Some(&q), &[]).unwrap();
        assert_eq!(second.first.as_deref(), Some("n0420"), "the next search starts where the last stopped");
    }
}
