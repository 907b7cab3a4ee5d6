//! The controllers' work queue (client-go's workqueue semantics): a key
//! added many times before it is processed is processed once; a key is
//! never handed out twice at once; a key added while it is being processed
//! is handed out again after `done`. Bounded by the number of distinct keys.

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

    /// Marks `key` as needing work. Returns false only when the queue is full.
    pub fn add(&self, key: &str) -> bool {
        let mut s = lock(&self.state);
        if s.dirty.contains(key) {
            return true;
        }
        if s.dirty.len() + s.processing.len() >= self.max_keys {
            return false;
        }
        s.dirty.insert(key.to_string());
        if !s.processing.contains(key) {
            s.queue.push_back(key.to_string());
        }
        true
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
    fn refuses_keys_beyond_its_bound() {
        let q = WorkQueue::with_max_keys(3);
        assert!(q.add("a") && q.add("b") && q.add("c"));
        assert!(q.add("a"), "a key already queued is not a new key");
        assert!(!q.add("d"), "a fourth distinct key is refused");
        let k = q.get().unwrap();
        assert!(!q.add("d"), "a key being processed still counts");
        q.done(&k);
        assert!(q.add("d"));
    }
}
