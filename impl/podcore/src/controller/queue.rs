//! A controller machine's work queue, pure: client-go's work-queue semantics
//! (a key is queued once however often it is added; a key being processed
//! that is added again is processed again after) plus requeue timers.
//! Single-threaded: the machine owns it, the driver polls it.

use crate::cache::View;
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

    /// Moves due timers into the queue, then hands out the next key (and
    /// drops its timer, if one is set).
    pub fn pop(&mut self, now: Time) -> Option<String> {
        let due: Vec<String> = self.timers.iter().filter(|(_, t)| **t <= now).map(|(k, _)| k.clone()).collect();
        for k in due {
            self.timers.remove(&k);
            self.add(&k);
        }
        let key = self.order.pop_front()?;
        self.queued.remove(&key);
        // A timer asks for one more look; this look satisfies it, and the
        // reconcile about to run sets whatever timer it still needs.
        self.timers.remove(&key);
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

    /// Queued, or its timer is due at `now` (handed out at the next poll).
    pub fn is_due(&self, key: &str, now: Time) -> bool {
        self.is_queued(key) || self.timers.get(key).is_some_and(|t| *t <= now)
    }

    /// Nothing queued (timers may be set).
    pub fn is_empty(&self) -> bool {
        self.order.is_empty() && self.dirty.is_empty()
    }

    pub fn len(&self) -> usize {
        self.order.len()
    }

    /// Every key queued or with a timer set, in key order.
    pub fn pending(&self) -> Vec<String> {
        let keys: BTreeSet<&String> = self.order.iter().chain(&self.dirty).chain(self.timers.keys()).collect();
        keys.into_iter().cloned().collect()
    }

    /// The model's canonical form (see `settle` of each machine): a
    /// machine with several workers takes its queued keys in any order,
    /// and the model explores one, key order.
    pub fn sort(&mut self) {
        self.order.make_contiguous().sort();
    }

    /// Every key renamed by `f` (the model's node symmetry), then sorted.
    pub fn rename(&mut self, f: &dyn Fn(&str) -> String) {
        let set = |s: &BTreeSet<String>| s.iter().map(|k| f(k)).collect::<BTreeSet<String>>();
        self.order = self.order.iter().map(|k| f(k)).collect();
        self.queued = set(&self.queued);
        self.processing = set(&self.processing);
        self.dirty = set(&self.dirty);
        self.timers = self.timers.iter().map(|(k, t)| (f(k), *t)).collect();
        self.sort();
    }

    /// Drops the timers of queued keys (each goes when its key is handed
    /// out, `pop`) and sorts: the canonical form `Looks::settle` leaves.
    fn canonical(&mut self) {
        let queued: Vec<String> = self.order.iter().cloned().collect();
        for k in queued {
            self.timers.remove(&k);
        }
        self.sort();
    }
}

/// A controller machine with a work queue, as the model's canonical form
/// and its wake property see it; the same for the ReplicaSet, Deployment,
/// node lifecycle and garbage-collector machines.
pub trait Looks: Clone {
    fn queue(&self) -> &Queue;
    fn queue_mut(&mut self) -> &mut Queue;
    /// Every key the machine could be asked to look at in `view`.
    fn keys(view: &dyn View) -> Vec<String>;
    /// Looks at `key` now: Some(the requeue the look asks for) when it
    /// writes nothing and needs no live read; None when it has work.
    fn quiet_look(&mut self, now: Time, key: &str, view: &dyn View) -> Option<Option<i64>>;
    /// Drops bookkeeping that decides nothing any more (met expectations).
    fn forget_idle(&mut self, _now: Time) {}

    /// The model's canonical form: every pending key whose look now writes
    /// nothing is taken now (on a copy, kept if quiet), so states that
    /// differ only in a pending look that would do nothing are one state.
    /// A key whose look writes (or needs a live read) stays queued for the
    /// machine's step.
    fn settle(&mut self, now: Time, view: &dyn View) {
        for key in self.queue().pending() {
            let mut copy = self.clone();
            if let Some(requeue) = copy.quiet_look(now, &key, view) {
                *self = copy;
                let q = self.queue_mut();
                q.forget(&key);
                q.finish(now, &key, requeue, false);
            }
        }
        self.queue_mut().canonical();
        self.forget_idle(now);
    }

    /// The keys whose look now would write (or need a live read) though
    /// they are not due (queued, or a timer due now): work no change woke.
    fn unwoken(&self, now: Time, view: &dyn View) -> Vec<String> {
        Self::keys(view).into_iter().filter(|k| !self.queue().is_due(k, now) && self.clone().quiet_look(now, k, view).is_none()).collect()
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

    #[test]
    fn a_look_handed_out_satisfies_the_keys_timer() {
        let mut q = Queue::default();
        q.add_at("a", Time(50));
        q.add("a");
        assert_eq!(q.pop(Time(0)).as_deref(), Some("a"));
        assert_eq!(q.next_timer(), None, "the reconcile that runs now sets any timer it still needs");
        q.finish(Time(0), "a", Some(70), false);
        assert_eq!(q.next_timer(), Some(Time(70)));
    }
}
