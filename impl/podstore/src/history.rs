//! Recorded histories of operations on a store, and the check that one is
//! linearizable: the crash tests record what every client asked and was
//! answered (or not: a request cut by a crash has an unknown outcome), then
//! ask whether some order of the operations, each taking effect at one
//! instant between its call and its answer, explains every answer.
//!
//! The object is one register per key (absent, or holding a value), with
//! create, compare-and-swap update and delete on the version, and get —
//! the store's operations as the apiserver's clients use them. Every value
//! a test writes is distinct, so an answer that shows a value names the
//! write that put it there, and that write's revision is the version the
//! value has; `check` first gathers the revision of every value from the
//! answers (an acknowledged write, a read, a conflict that showed the
//! current value) and refuses a value seen at two revisions.
//!
//! Linearizability is local (Herlihy and Wing): a history is linearizable
//! if and only if its restriction to each key is, so each key is searched
//! alone, depth first over the operations that can take effect next, as in
//! Wing and Gong's algorithm with Lowe's memo of (operations done, state)
//! (porcupine does the same). An operation with an unknown outcome may take
//! effect at any instant after its call and before its deadline (the crash
//! that cut it), or never. On top of that, over all keys: revisions never
//! go backwards — a write acknowledged before another was called has the
//! smaller revision.

use crate::Revision;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

/// The most operations on one key `check` searches (the memo's sets are
/// bitsets of this many operations; a longer history is refused, not
/// searched for hours).
pub const MAX_OPS_PER_KEY: usize = 4096;

pub type Value = String;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Op {
    Create { value: Value },
    /// Succeeds when the key is at version `expected`.
    Update { value: Value, expected: Revision },
    /// Succeeds when the key is at version `expected` (0: unconditionally).
    Delete { expected: Revision },
    Get,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Ret {
    /// A create or update took effect at this revision.
    Written(Revision),
    /// A delete took effect.
    Deleted,
    /// A get: the value and its version, or nothing.
    Read(Option<(Value, Revision)>),
    AlreadyExists,
    NotFound,
    /// The key was not at the expected version; the current value and
    /// version when the answer says (the store does; the HTTP API does not).
    Conflict(Option<(Value, Revision)>),
    /// No answer: the operation may have taken effect or not.
    Unknown,
}

#[derive(Clone, Debug)]
pub struct Entry {
    pub client: usize,
    pub key: String,
    pub op: Op,
    pub ret: Ret,
    /// Logical times from `History::now`.
    pub called: u64,
    /// For `Unknown`: the instant by which it had taken effect if it ever
    /// did (the crash).
    pub answered: u64,
}

/// A history being recorded by many clients at once.
#[derive(Default)]
pub struct History {
    clock: AtomicU64,
    entries: Mutex<Vec<Entry>>,
}

impl History {
    pub fn new() -> History {
        History::default()
    }

    /// The next instant: call it just before a request and just after its answer.
    pub fn now(&self) -> u64 {
        self.clock.fetch_add(1, Ordering::SeqCst)
    }

    pub fn record(&self, client: usize, key: &str, op: Op, ret: Ret, called: u64, answered: u64) {
        self.entries.lock().unwrap_or_else(|p| p.into_inner()).push(Entry { client, key: key.to_string(), op, ret, called, answered });
    }

    pub fn entries(&self) -> Vec<Entry> {
        self.entries.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// The entries recorded so far, leaving none (the clock goes on).
    pub fn take(&self) -> Vec<Entry> {
        std::mem::take(&mut *self.entries.lock().unwrap_or_else(|p| p.into_inner()))
    }
}

/// What `check` found in a linearizable history.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Summary {
    pub keys: usize,
    pub operations: usize,
    /// Writes acknowledged (created, updated or deleted).
    pub acknowledged_writes: usize,
    /// Operations without an answer, and of those, the ones whose effect a
    /// later answer shows.
    pub unknown: usize,
    pub unknown_seen_to_take_effect: usize,
    /// Search steps taken, over all keys.
    pub steps: u64,
}

/// Checks `entries`: every value at one revision, revisions never going
/// backwards, and each key's operations linearizable. The error names the
/// key and shows its operations.
pub fn check(entries: &[Entry]) -> Result<Summary, String> {
    let mut revision_of: HashMap<String, Revision> = HashMap::new();
    for e in entries {
        let seen = match (&e.op, &e.ret) {
            (Op::Create { value } | Op::Update { value, .. }, Ret::Written(r)) => Some((value, *r)),
            (_, Ret::Read(Some((v, r))) | Ret::Conflict(Some((v, r)))) => Some((v, *r)),
            _ => None,
        };
        if let Some((v, r)) = seen {
            if let Some(other) = revision_of.insert(v.clone(), r) {
                if other != r {
                    return Err(format!("value {v:?} of key {:?} was seen at revisions {other} and {r}: a value is written once", e.key));
                }
            }
        }
    }
    check_revision_order(entries)?;
    let mut by_key: BTreeMap<&str, Vec<&Entry>> = BTreeMap::new();
    for e in entries {
        by_key.entry(&e.key).or_default().push(e);
    }
    let mut sum = Summary { keys: by_key.len(), operations: entries.len(), ..Summary::default() };
    for e in entries {
        match (&e.op, &e.ret) {
            (_, Ret::Written(_) | Ret::Deleted) => sum.acknowledged_writes += 1,
            (Op::Create { value } | Op::Update { value, .. }, Ret::Unknown) => {
                sum.unknown += 1;
                sum.unknown_seen_to_take_effect += revision_of.contains_key(value) as usize;
            }
            (_, Ret::Unknown) => sum.unknown += 1,
            _ => {}
        }
    }
    for (key, ops) in by_key {
        if ops.len() > MAX_OPS_PER_KEY {
            return Err(format!("key {key:?} has {} operations, more than the {MAX_OPS_PER_KEY} one search takes", ops.len()));
        }
        let mut search = Search { ops: &ops, revision_of: &revision_of, memo: HashSet::new(), steps: 0 };
        let linearizable = search.run();
        sum.steps += search.steps;
        if !linearizable {
            let mut shown: Vec<&&Entry> = ops.iter().collect();
            shown.sort_by_key(|e| e.called);
            let lines: Vec<String> = shown.iter().map(|e| format!("  [{}, {}] client {}: {:?} -> {:?}", e.called, e.answered, e.client, e.op, e.ret)).collect();
            return Err(format!("the operations on key {key:?} are not linearizable:\n{}", lines.join("\n")));
        }
    }
    Ok(sum)
}

/// A write acknowledged before another was called has the smaller
/// revision, across all keys (the store's one revision order is real time's).
fn check_revision_order(entries: &[Entry]) -> Result<(), String> {
    let mut writes: Vec<(&Entry, Revision)> = entries.iter().filter_map(|e| if let Ret::Written(r) = e.ret { Some((e, r)) } else { None }).collect();
    let mut by_answer = writes.clone();
    by_answer.sort_by_key(|(e, _)| e.answered);
    writes.sort_by_key(|(e, _)| e.called);
    // Sweep the calls in order, keeping the largest revision answered before each.
    let (mut i, mut latest): (usize, Option<(&Entry, Revision)>) = (0, None);
    for (e, r) in writes {
        while i < by_answer.len() && by_answer[i].0.answered < e.called {
            if latest.is_none_or(|(_, l)| by_answer[i].1 > l) {
                latest = Some(by_answer[i]);
            }
            i += 1;
        }
        if let Some((before, l)) = latest {
            if l >= r {
                return Err(format!(
                    "revisions went backwards: {:?} on key {:?} was acknowledged at revision {l} (at {}), then {:?} on key {:?}, called later (at {}), at revision {r}",
                    before.op, before.key, before.answered, e.op, e.key, e.called
                ));
            }
        }
    }
    Ok(())
}

/// Which of a key's operations have been placed (or, for an unknown
/// outcome, dropped), as a bitset.
#[derive(Clone, PartialEq, Eq, Hash)]
struct Done(Vec<u64>);

impl Done {
    fn new(n: usize) -> Done {
        Done(vec![0; n.div_ceil(64)])
    }
    fn has(&self, i: usize) -> bool {
        self.0[i / 64] & (1 << (i % 64)) != 0
    }
    fn set(&mut self, i: usize) {
        self.0[i / 64] |= 1 << (i % 64);
    }
}

/// The register's state: the value the key holds (None: absent).
type State<'a> = Option<&'a str>;

struct Search<'a> {
    ops: &'a [&'a Entry],
    revision_of: &'a HashMap<String, Revision>,
    /// (done, state) pairs known to lead nowhere.
    memo: HashSet<(Done, Option<String>)>,
    steps: u64,
}

impl<'a> Search<'a> {
    /// The earliest answer among the operations still to place (nothing
    /// called after it can go first), or None when only unknown outcomes are
    /// left: they never happened, and the search is done.
    fn horizon(&self, done: &Done) -> Option<u64> {
        (0..self.ops.len()).filter(|&i| !done.has(i) && self.ops[i].ret != Ret::Unknown).map(|i| self.ops[i].answered).min()
    }

    /// Whether every operation can be placed, depth first with an explicit
    /// stack (histories are thousands of operations deep).
    fn run(&mut self) -> bool {
        struct Frame<'s> {
            done: Done,
            state: State<'s>,
            horizon: u64,
            next: usize,
        }
        let start = Done::new(self.ops.len());
        let Some(horizon) = self.horizon(&start) else { return true };
        let mut stack = vec![Frame { done: start, state: None, horizon, next: 0 }];
        while let Some(top) = stack.last_mut() {
            let mut child = None;
            while top.next < self.ops.len() && child.is_none() {
                let (i, e) = (top.next, self.ops[top.next]);
                top.next += 1;
                if top.done.has(i) || e.called > top.horizon {
                    continue;
                }
                self.steps += 1;
                if let Some(next) = self.step(e, top.state) {
                    let mut after = top.done.clone();
                    after.set(i);
                    // An unknown outcome whose deadline is before this call did not take effect.
                    for j in 0..self.ops.len() {
                        if !after.has(j) && self.ops[j].ret == Ret::Unknown && self.ops[j].answered < e.called {
                            after.set(j);
                        }
                    }
                    child = Some((after, next));
                }
            }
            match child {
                Some((done, state)) => {
                    let Some(horizon) = self.horizon(&done) else { return true };
                    if !self.memo.contains(&(done.clone(), state.map(String::from))) {
                        stack.push(Frame { done, state, horizon, next: 0 });
                    }
                }
                None => {
                    let f = stack.pop().expect("the top frame");
                    self.memo.insert((f.done, f.state.map(String::from)));
                }
            }
        }
        false
    }

    fn version(&self, state: State<'a>) -> Option<Revision> {
        state.and_then(|v| self.revision_of.get(v).copied())
    }

    /// The state after `e` takes effect in `state`, if its answer can come
    /// from `state`. An unknown outcome is placed only where it changes the
    /// state (placing it where it fails is the same as its never happening).
    fn step(&self, e: &'a Entry, state: State<'a>) -> Option<State<'a>> {
        let at = |expected: Revision| expected == 0 || self.version(state) == Some(expected);
        match (&e.op, &e.ret) {
            (Op::Create { value }, Ret::Written(_) | Ret::Unknown) => state.is_none().then_some(Some(value.as_str())),
            (Op::Create { .. }, Ret::AlreadyExists) => state.is_some().then_some(state),
            (Op::Update { value, expected }, Ret::Written(_) | Ret::Unknown) => (state.is_some() && at(*expected)).then_some(Some(value.as_str())),
            (Op::Update { expected, .. } | Op::Delete { expected }, Ret::Conflict(current)) => {
                let shown = current.as_ref().is_none_or(|(v, _)| state == Some(v.as_str()));
                (state.is_some() && !at(*expected) && shown).then_some(state)
            }
            (Op::Update { .. } | Op::Delete { .. }, Ret::NotFound) => state.is_none().then_some(state),
            (Op::Delete { expected }, Ret::Deleted | Ret::Unknown) => (state.is_some() && at(*expected)).then_some(None),
            (Op::Get, Ret::Read(read)) => (read.as_ref().map(|(v, _)| v.as_str()) == state).then_some(state),
            (Op::Get, Ret::Unknown) => None,
            _ => None,
        }
    }
}

/// SplitMix64: the crash tests' seeded choices (no dependency, the same
/// numbers on every machine).
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    /// A number in `0..n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(client: usize, op: Op, ret: Ret, called: u64, answered: u64) -> Entry {
        Entry { client, key: "/k".into(), op, ret, called, answered }
    }
    fn create(v: &str) -> Op {
        Op::Create { value: v.into() }
    }
    fn update(v: &str, expected: Revision) -> Op {
        Op::Update { value: v.into(), expected }
    }
    fn read(v: &str, r: Revision) -> Ret {
        Ret::Read(Some((v.into(), r)))
    }

    #[test]
    fn overlapping_operations_may_take_effect_in_either_order() {
        // The read overlaps the update: it may see the old value or the new one.
        for seen in [read("a", 1), read("b", 2)] {
            let h = [e(0, create("a"), Ret::Written(1), 0, 1), e(1, update("b", 1), Ret::Written(2), 2, 5), e(2, Op::Get, seen, 3, 4)];
            check(&h).unwrap();
        }
    }

    #[test]
    fn a_read_after_an_acknowledged_write_that_misses_it_is_caught() {
        // A lost write: acknowledged, then a later read shows the old value.
        let h = [e(0, create("a"), Ret::Written(1), 0, 1), e(0, update("b", 1), Ret::Written(2), 2, 3), e(1, Op::Get, read("a", 1), 4, 5)];
        let err = check(&h).unwrap_err();
        assert!(err.contains("not linearizable") && err.contains("Get"), "{err}");
    }

    #[test]
    fn two_updates_from_one_version_cannot_both_succeed() {
        let h = [e(0, create("a"), Ret::Written(1), 0, 1), e(1, update("b", 1), Ret::Written(2), 2, 5), e(2, update("c", 1), Ret::Written(3), 3, 6)];
        assert!(check(&h).unwrap_err().contains("not linearizable"));
    }

    #[test]
    fn an_unknown_outcome_may_have_taken_effect_before_its_crash_or_not_at_all() {
        let cut = |after: Ret| [e(0, create("a"), Ret::Written(1), 0, 1), e(1, update("b", 1), Ret::Unknown, 2, 4), e(2, Op::Get, after, 5, 6)];
        check(&cut(read("a", 1))).unwrap();
        let sum = check(&cut(read("b", 3))).unwrap();
        assert_eq!((sum.unknown, sum.unknown_seen_to_take_effect), (1, 1));
        // Not after its deadline: a read between the crash and a later read cannot change its mind.
        let h = [e(0, create("a"), Ret::Written(1), 0, 1), e(1, update("b", 1), Ret::Unknown, 2, 4), e(2, Op::Get, read("a", 1), 5, 6), e(2, Op::Get, read("b", 3), 7, 8)];
        assert!(check(&h).unwrap_err().contains("not linearizable"));
    }

    #[test]
    fn conflicts_and_refusals_must_fit_the_state() {
        let ok = [e(0, create("a"), Ret::Written(1), 0, 1), e(1, update("b", 7), Ret::Conflict(None), 2, 3), e(1, create("c"), Ret::AlreadyExists, 4, 5), e(1, Op::Delete { expected: 1 }, Ret::Deleted, 6, 7)];
        check(&ok).unwrap();
        let wrong = [e(0, create("a"), Ret::Written(1), 0, 1), e(1, update("b", 1), Ret::Conflict(None), 2, 3)];
        assert!(check(&wrong).is_err(), "a conflict at the expected version");
        let gone = [e(0, create("a"), Ret::Written(1), 0, 1), e(0, Op::Delete { expected: 0 }, Ret::Deleted, 2, 3), e(1, update("b", 1), Ret::Written(4), 4, 5)];
        assert!(check(&gone).is_err(), "an update of a deleted key");
    }

    #[test]
    fn revisions_that_go_backwards_are_caught_across_keys() {
        let mut other = e(1, create("x"), Ret::Written(1), 2, 3);
        other.key = "/other".into();
        let h = [e(0, create("a"), Ret::Written(5), 0, 1), other];
        assert!(check(&h).unwrap_err().contains("revisions went backwards"));
    }

    #[test]
    fn a_value_seen_at_two_revisions_is_caught() {
        let h = [e(0, create("a"), Ret::Written(1), 0, 1), e(1, Op::Get, read("a", 2), 2, 3)];
        assert!(check(&h).unwrap_err().contains("seen at revisions 1 and 2"));
    }

    #[test]
    fn a_key_is_searched_up_to_max_ops_per_key() {
        let mut h = vec![e(0, create("v0"), Ret::Written(1), 0, 1)];
        for i in 1..MAX_OPS_PER_KEY {
            h.push(e(0, Op::Get, read("v0", 1), 2 * i as u64, 2 * i as u64 + 1));
        }
        check(&h).unwrap();
        h.push(e(0, Op::Get, read("v0", 1), 1 << 20, (1 << 20) + 1));
        assert!(check(&h).unwrap_err().contains("more than"));
    }
}
