//! The controllers' work queue (client-go's workqueue semantics): a key
//! added many times before it is processed is processed once; a key is
//! never handed out twice at once; a key added while it is being processed
//! is handed out again after `done`. Bounded by the number of distinct keys:
//! an `add` past the bound is refused, counted, and remembered as an
//! overflow, and the driver then offers every key it knows again through
//! `refill` once the queue has drained, so a refused key is retried, never
//! lost, and memory stays bounded (`refill` resumes where the last pass
//! stopped, so progress is made even when there are more keys than room).

use crate::sync::{lock, Mutex};
use std::collections::{BTreeSet, VecDeque};

/// Most distinct keys a queue holds; `add` beyond it is refused.
pub const MAX_QUEUE_KEYS: usize = 1_000_000;

#[derive(Default)]
struct State {
    queue: VecDeque<String>,
    /// Keys waiting to be handed out (in `queue`) or to be re-queued after `done`.
    dirty: BTreeSet<String>,
    processing: BTreeSet<String>,
    /// `add`s refused because the queue was full, ever.
    refused: u64,
    /// Set by a refusal: every key must be offered again (`refill`).
    overflow: Option<Overflow>,
}

/// Where the re-offering of keys after a refusal stands.
#[derive(Default)]
struct Overflow {
    /// The last key a `refill` pass got in; the next pass starts after it.
    cursor: Option<String>,
    /// A refusal came after the current pass began: pass over every key once more.
    again: bool,
}

/// What `add` did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Added {
    /// The key is new and waits to be handed out (or to come back after `done`).
    Queued,
    /// The key was already waiting; nothing changed.
    AlreadyQueued,
    /// The queue is full: the key was not stored. The refusal is counted and
    /// `refill` will offer it again.
    Refused,
}

pub struct WorkQueue {
    state: Mutex<State>,
    max_keys: usize,
}

impl Default for WorkQueue {
    fn default() -> Self {
        WorkQueue::new()
    }
}

impl WorkQueue {
    pub fn new() -> WorkQueue {
        WorkQueue::with_max_keys(MAX_QUEUE_KEYS)
    }

    pub fn with_max_keys(max_keys: usize) -> WorkQueue {
        WorkQueue { state: Mutex::new(State::default()), max_keys }
    }

    /// Marks `key` as needing work.
    pub fn add(&self, key: &str) -> Added {
        let mut s = lock(&self.state);
        let added = Self::insert(&mut s, key, self.max_keys);
        if added == Added::Refused {
            s.refused += 1;
            match s.overflow.as_mut() {
                Some(o) => o.again = true,
                None => s.overflow = Some(Overflow::default()),
            }
        }
        added
    }

    fn insert(s: &mut State, key: &str, max_keys: usize) -> Added {
        if s.dirty.contains(key) {
            return Added::AlreadyQueued;
        }
        if s.dirty.len() + s.processing.len() >= max_keys {
            return Added::Refused;
        }
        s.dirty.insert(key.to_string());
        if !s.processing.contains(key) {
            s.queue.push_back(key.to_string());
        }
        Added::Queued
    }

    /// How many `add`s were refused since the queue was made.
    pub fn refused(&self) -> u64 {
        lock(&self.state).refused
    }

    /// Whether a refusal is still waiting for `refill` to make it good.
    pub fn overflowed(&self) -> bool {
        lock(&self.state).overflow.is_some()
    }

    /// After a refusal: adds the driver's keys (every key it could have
    /// queued, in ascending order) from where the last pass stopped, until
    /// the queue is full again. Returns how many were added. Once a pass
    /// reaches the last key with no refusal since it began, the overflow is
    /// over; a refusal meanwhile starts another pass over every key.
    pub fn refill(&self, sorted_keys: &[String]) -> usize {
        let mut s = lock(&self.state);
        let Some(o) = s.overflow.as_ref() else { return 0 };
        debug_assert!(sorted_keys.windows(2).all(|w| w[0] < w[1]), "refill takes its keys in ascending order");
        let start = o.cursor.as_ref().map_or(0, |c| sorted_keys.partition_point(|k| k <= c));
        let mut added = 0;
        for key in &sorted_keys[start..] {
            match Self::insert(&mut s, key, self.max_keys) {
                Added::Refused => return added,
                Added::Queued => added += 1,
                Added::AlreadyQueued => {}
            }
            s.overflow.as_mut().expect("overflow is set").cursor = Some(key.clone());
        }
        let o = s.overflow.as_mut().expect("overflow is set");
        if o.again {
            *o = Overflow::default();
        } else {
            s.overflow = None;
        }
        added
    }

    /// Hands out the next key, which the caller must pass to `done`.
    pub fn get(&self) -> Option<String> {
        let mut s = lock(&self.state);
        let key = s.queue.pop_front()?;
        s.dirty.remove(&key);
        s.processing.insert(key.clone());
        Some(key)
    }

    /// Finishes `key`; if it was added meanwhile, it is queued again.
    pub fn done(&self, key: &str) {
        let mut s = lock(&self.state);
        s.processing.remove(key);
        if s.dirty.contains(key) {
            s.queue.push_back(key.to_string());
        }
    }

    /// A deliberately wrong `done` that releases the lock between leaving
    /// `processing` and re-queueing: an `add` in the gap queues the key twice,
    /// so two workers can run it at once. Exists only so that a loom test can
    /// show loom catches it (`tests/loom.rs`).
    #[cfg(loom)]
    #[doc(hidden)]
    pub fn done_with_ordering_bug(&self, key: &str) {
        lock(&self.state).processing.remove(key);
        let mut s = lock(&self.state);
        if s.dirty.contains(key) {
            s.queue.push_back(key.to_string());
        }
    }

    pub fn len(&self) -> usize {
        lock(&self.state).queue.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn dedups_and_requeues_keys_added_during_processing() {
        let q = WorkQueue::new();
        q.add("a");
        q.add("a");
        q.add("b");
        assert_eq!(q.len(), 2);
        let k = q.get().unwrap();
        assert_eq!(k, "a");
        q.add("a"); // while processing
        assert_eq!(q.get().as_deref(), Some("b"), "a is not handed out twice at once");
        assert_eq!(q.get(), None);
        q.done("a");
        assert_eq!(q.get().as_deref(), Some("a"), "a was added during processing, so it comes back");
        q.done("a");
        q.done("b");
        assert!(q.get().is_none());
    }

    #[test]
    fn a_new_queue_holds_max_queue_keys() {
        let q = WorkQueue::new();
        for i in 0..MAX_QUEUE_KEYS {
            assert_eq!(q.add(&i.to_string()), Added::Queued);
        }
        assert_eq!(q.add("one more"), Added::Refused);
        assert_eq!(q.len(), MAX_QUEUE_KEYS);
    }

    #[test]
    fn refuses_keys_beyond_its_bound() {
        let q = WorkQueue::with_max_keys(3);
        assert!([q.add("a"), q.add("b"), q.add("c")].iter().all(|a| *a == Added::Queued));
        assert_eq!(q.add("a"), Added::AlreadyQueued, "a key already queued is not a new key");
        assert_eq!(q.add("d"), Added::Refused, "a fourth distinct key is refused");
        let k = q.get().unwrap();
        assert_eq!(q.add("d"), Added::Refused, "a key being processed still counts");
        assert_eq!(q.refused(), 2);
        q.done(&k);
        assert_eq!(q.add("d"), Added::Queued);
    }

    fn drain(q: &WorkQueue) -> Vec<String> {
        let mut out = Vec::new();
        while let Some(k) = q.get() {
            q.done(&k);
            out.push(k);
        }
        out
    }

    /// At the bound: a refused key comes back through `refill`, even when
    /// there are more keys than room, so nothing is lost.
    #[test]
    fn a_refused_key_is_retried_by_refill() {
        let q = WorkQueue::with_max_keys(3);
        let all: Vec<String> = ["a", "b", "c", "d", "e"].map(String::from).to_vec();
        for k in ["a", "b", "c"] {
            q.add(k);
        }
        assert_eq!(q.add("e"), Added::Refused);
        assert!(q.overflowed());
        assert_eq!(drain(&q), ["a", "b", "c"]);
        // The first pass fills the queue from the first key ...
        assert_eq!(q.refill(&all), 3);
        assert!(q.overflowed(), "d and e did not fit yet");
        assert_eq!(drain(&q), ["a", "b", "c"]);
        // ... the next resumes after the last key that got in.
        assert_eq!(q.refill(&all), 2);
        assert!(!q.overflowed(), "the pass reached the last key with no new refusal");
        assert_eq!(drain(&q), ["d", "e"], "the refused key e was handed out");
        assert_eq!(q.refill(&all), 0, "no overflow, nothing to refill");
        assert_eq!(q.refused(), 1);
    }

    /// A refusal during a pass means keys before the cursor may have been
    /// refused: another pass over every key follows.
    #[test]
    fn a_refusal_during_a_pass_starts_another() {
        let q = WorkQueue::with_max_keys(2);
        let all: Vec<String> = ["a", "b", "c"].map(String::from).to_vec();
        q.add("x");
        q.add("y");
        assert_eq!(q.add("a"), Added::Refused);
        drain(&q);
        assert_eq!(q.refill(&all), 2);
        assert_eq!(q.add("zz"), Added::Refused, "refused while the pass is under way");
        drain(&q);
        assert_eq!(q.refill(&all), 1, "c");
        assert!(q.overflowed(), "a refusal came meanwhile: another pass");
        drain(&q);
        assert_eq!(q.refill(&all), 2);
        drain(&q);
        assert_eq!(q.refill(&all), 1);
        assert!(!q.overflowed());
    }
}
