//! A controller machine's work queue, pure: client-go's work-queue semantics
//! (a key is queued once however often it is added; a key being processed
//! that is added again is processed again after) plus requeue timers.
//! Single-threaded: the machine owns it, the driver polls it.

use crate::time::Time;
use std::collections::{BTreeMap, BTreeSet, VecDeque};

/// Retry delay after a reconcile whose write failed or conflicted.
pub const RETRY_AFTER_MS: i64 = 500;

#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Queue {
    order: VecDeque<String>,
    queued: BTreeSet<String>,
    /// Handed out by `pop` and not yet `done`.
    processing: BTreeSet<String>,
    /// Added while processing: queued again when done.
    dirty: BTreeSet<String>,
    /// Key → when it is due again (the earliest asked for).
    timers: BTreeMap<String, Time>,
}

impl Queue {
    pub fn add(&mut self, key: &str) {
        if self.processing.contains(key) {
            self.dirty.insert(key.to_string());
        } else if self.queued.insert(key.to_string()) {
            self.order.push_back(key.to_string());
        }
    }

    /// Adds `key` again at `at` unless an earlier time is already set.
    pub fn add_at(&mut self, key: &str, at: Time) {
        let t = self.timers.entry(key.to_string()).or_insert(at);
        *t = (*t).min(at);
    }

    /// Moves due timers into the queue, then hands out the next key.
    pub fn pop(&mut self, now: Time) -> Option<String> {
        let due: Vec<String> = self.timers.iter().filter(|(_, t)| **t <= now).map(|(k, _)| k.clone()).collect();
        for k in due {
            self.timers.remove(&k);
            self.add(&k);
        }
        let key = self.order.pop_front()?;
        self.queued.remove(&key);
        self.processing.insert(key.clone());
        Some(key)
    }

    /// The key `pop` handed out has been processed.
    pub fn done(&mut self, key: &str) {
        self.processing.remove(key);
        if self.dirty.remove(key) {
            self.add(key);
        }
    }

    /// A reconcile of `key` is over: done, then queued again after
    /// `RETRY_AFTER_MS` if one of its writes failed, and at the requeue
    /// time its outcome asked for (the earlier of the two wins).
    pub fn finish(&mut self, now: Time, key: &str, requeue_after_ms: Option<i64>, failed: bool) {
        self.done(key);
        if failed {
            self.add_at(key, now.plus_ms(RETRY_AFTER_MS));
        }
        if let Some(ms) = requeue_after_ms {
            self.add_at(key, now.plus_ms(ms.max(1)));
        }
    }

    /// Forgets `key` entirely (its object is gone).
    pub fn forget(&mut self, key: &str) {
        self.timers.remove(key);
        if self.queued.remove(key) {
            self.order.retain(|k| k != key);
        }
        self.dirty.remove(key);
    }

    /// The earliest timer (None: none set).
    pub fn next_timer(&self) -> Option<Time> {
        self.timers.values().min().copied()
    }

    pub fn is_queued(&self, key: &str) -> bool {
        self.queued.contains(key) || self.dirty.contains(key)
    }

    /// Nothing queued (timers may be set).
    pub fn is_empty(&self) -> bool {
        self.order.is_empty() && self.dirty.is_empty()
    }

    pub fn len(&self) -> usize {
        self.order.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_is_queued_once_and_again_if_added_while_processed() {
        let mut q = Queue::default();
        q.add("a");
        q.add("b");
        q.add("a");
        assert_eq!(q.len(), 2);
        assert_eq!(q.pop(Time(0)).as_deref(), Some("a"));
        q.add("a");
        assert_eq!(q.pop(Time(0)).as_deref(), Some("b"), "a is being processed: not handed out twice");
        assert_eq!(q.pop(Time(0)), None);
        q.done("a");
        assert_eq!(q.pop(Time(0)).as_deref(), Some("a"), "added while processed: again after");
    }

    #[test]
    fn timers_keep_the_earliest_and_fire_when_due() {
        let mut q = Queue::default();
        q.add_at("a", Time(50));
        q.add_at("a", Time(20));
        q.add_at("a", Time(90));
        assert_eq!(q.next_timer(), Some(Time(20)));
        assert_eq!(q.pop(Time(19)), None);
        assert_eq!(q.pop(Time(20)).as_deref(), Some("a"));
        assert_eq!(q.next_timer(), None);
    }
}
