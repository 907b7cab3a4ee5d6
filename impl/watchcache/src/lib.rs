//! The watch cache for one resource: the current objects (served to lists)
//! and a bounded window of the most recent events (served to watchers).
//!
//! Design: watchers do not have queues. Each holds a cursor (the revision of
//! the last event it took) and reads the shared window under a short lock.
//! Consequences, which are the architecture invariants of this crate:
//! - the writer never waits for a watcher (it only appends to the window and
//!   calls wakers after releasing the lock);
//! - memory is bounded by `capacity` events, however many watchers there are
//!   and however slow they are;
//! - a watcher that falls behind the window is cut off with `TooOld` (the
//!   client relists, as upstream's 410 Gone asks it to); otherwise it sees
//!   every event after its start revision exactly once, in order.
//!
//! Revisions are global (the store's), so a resource's window may have gaps:
//! `floor` is the revision after which this cache holds every event of its
//! resource. The feeder calls `advance` for revisions that touched other
//! resources, so "up to date" is judged against the global revision.

pub mod sync;
pub mod workqueue;

use std::collections::{BTreeMap, VecDeque};
use sync::{lock, Arc, Mutex};

/// Default window size per resource.
pub const DEFAULT_WINDOW_EVENTS: usize = 10_000;

#[derive(Debug)]
pub struct Event<V> {
    pub revision: u64,
    pub key: String,
    /// The object after the event; None when it was deleted.
    pub value: Option<Arc<V>>,
    /// The object before the event; None when it was created.
    pub prev: Option<Arc<V>>,
}

impl<V> Clone for Event<V> {
    fn clone(&self) -> Self {
        Event { revision: self.revision, key: self.key.clone(), value: self.value.clone(), prev: self.prev.clone() }
    }
}

/// The requested start revision is older than the window.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TooOld {
    /// The oldest revision a watch may start from now.
    pub oldest: u64,
}

/// Wakers are plain callbacks, outside what loom checks (loom's `Arc` cannot hold a `dyn Fn`).
pub type Waker = std::sync::Arc<dyn Fn() + Send + Sync>;

struct Inner<V> {
    window: VecDeque<Event<V>>,
    capacity: usize,
    floor: u64,
    current: u64,
    objects: BTreeMap<String, Arc<V>>,
    wakers: BTreeMap<u64, Waker>,
    next_watcher_id: u64,
}

pub struct WatchCache<V> {
    inner: Arc<Mutex<Inner<V>>>,
}

impl<V> Clone for WatchCache<V> {
    fn clone(&self) -> Self {
        WatchCache { inner: self.inner.clone() }
    }
}

impl<V> WatchCache<V> {
    /// A cache holding `objects` as of `revision`, keeping `capacity` events.
    pub fn new(capacity: usize, revision: u64, objects: impl IntoIterator<Item = (String, Arc<V>)>) -> WatchCache<V> {
        assert!(capacity > 0, "a watch cache needs room for at least one event");
        WatchCache {
            inner: Arc::new(Mutex::new(Inner {
                window: VecDeque::with_capacity(capacity.min(1024)),
                capacity,
                floor: revision,
                current: revision,
                objects: objects.into_iter().collect(),
                wakers: BTreeMap::new(),
                next_watcher_id: 0,
            })),
        }
    }

    /// Applies one event. Events must arrive in increasing revision order.
    pub fn apply(&self, ev: Event<V>) {
        let wakers: Vec<Waker> = {
            let mut g = lock(&self.inner);
            assert!(ev.revision > g.current, "watch cache events must increase: got {} after {}", ev.revision, g.current);
            g.current = ev.revision;
            match &ev.value {
                Some(v) => {
                    g.objects.insert(ev.key.clone(), v.clone());
                }
                None => {
                    g.objects.remove(&ev.key);
                }
            }
            if g.window.len() == g.capacity {
                let evicted = g.window.pop_front().expect("full window has a front");
                g.floor = evicted.revision;
            }
            g.window.push_back(ev);
            debug_assert!(g.window.len() <= g.capacity);
            g.wakers.values().cloned().collect()
        };
        for w in wakers {
            w();
        }
    }

    /// The global revision moved on without touching this resource.
    pub fn advance(&self, revision: u64) {
        let mut g = lock(&self.inner);
        if revision > g.current {
            g.current = revision;
        }
    }

    /// Replaces the whole state (after the feeder had to relist the store).
    /// Every current watcher will be told `TooOld`.
    pub fn reset(&self, revision: u64, objects: impl IntoIterator<Item = (String, Arc<V>)>) {
        let wakers: Vec<Waker> = {
            let mut g = lock(&self.inner);
            g.window.clear();
            g.objects = objects.into_iter().collect();
            g.current = revision;
            g.floor = revision;
            g.wakers.values().cloned().collect()
        };
        for w in wakers {
            w();
        }
    }

    pub fn revision(&self) -> u64 {
        lock(&self.inner).current
    }

    /// Objects whose key starts with `prefix`, in key order, and the revision they are at.
    pub fn list(&self, prefix: &str) -> (Vec<(String, Arc<V>)>, u64) {
        let g = lock(&self.inner);
        let items = g.objects.range(prefix.to_string()..).take_while(|(k, _)| k.starts_with(prefix)).map(|(k, v)| (k.clone(), v.clone())).collect();
        (items, g.current)
    }

    pub fn get(&self, key: &str) -> (Option<Arc<V>>, u64) {
        let g = lock(&self.inner);
        (g.objects.get(key).cloned(), g.current)
    }

    /// Number of events held now (bounded by the capacity).
    pub fn window_len(&self) -> usize {
        lock(&self.inner).window.len()
    }

    /// Watches keys under `prefix`.
    ///
    /// `from: Some(rv)` delivers every event after `rv`, or fails with
    /// `TooOld` when the window no longer reaches back that far.
    /// `from: None` starts with a synthetic creation event for every current
    /// object (what upstream does for resourceVersion "0" or unset).
    pub fn watch(&self, prefix: &str, from: Option<u64>) -> Result<Watcher<V>, TooOld> {
        let mut g = lock(&self.inner);
        let mut initial = VecDeque::new();
        let cursor = match from {
            Some(rv) => {
                if rv < g.floor {
                    return Err(TooOld { oldest: g.floor });
                }
                rv
            }
            None => {
                for (k, v) in g.objects.range(prefix.to_string()..).take_while(|(k, _)| k.starts_with(prefix)) {
                    initial.push_back(Event { revision: g.current, key: k.clone(), value: Some(v.clone()), prev: None });
                }
                g.current
            }
        };
        let id = g.next_watcher_id;
        g.next_watcher_id += 1;
        Ok(Watcher { cache: self.inner.clone(), id, prefix: prefix.to_string(), cursor, initial })
    }
}

/// What a watcher gets when it asks for more.
#[derive(Debug)]
pub enum Next<V> {
    Events(Vec<Event<V>>),
    /// Nothing new; `revision` is how far the watcher is known to be up to
    /// date (for bookmarks).
    Idle { revision: u64 },
    /// The watcher fell behind the window: relist.
    TooOld(TooOld),
}

pub struct Watcher<V> {
    cache: Arc<Mutex<Inner<V>>>,
    id: u64,
    prefix: String,
    cursor: u64,
    initial: VecDeque<Event<V>>,
}

impl<V> Watcher<V> {
    /// Registers a function the writer calls after each event (it must not block).
    pub fn set_waker(&self, waker: Waker) {
        lock(&self.cache).wakers.insert(self.id, waker);
    }

    /// The revision of the last event delivered (or the start revision).
    pub fn cursor(&self) -> u64 {
        self.cursor
    }

    /// Takes up to `max` events after the cursor, never blocking.
    pub fn next_batch(&mut self, max: usize) -> Next<V> {
        let max = max.max(1);
        if !self.initial.is_empty() {
            let n = max.min(self.initial.len());
            return Next::Events(self.initial.drain(..n).collect());
        }
        let g = lock(&self.cache);
        if self.cursor < g.floor {
            return Next::TooOld(TooOld { oldest: g.floor });
        }
        let start = g.window.partition_point(|e| e.revision <= self.cursor);
        let mut out = Vec::new();
        for e in g.window.iter().skip(start) {
            self.cursor = e.revision;
            if e.key.starts_with(&self.prefix) {
                out.push(e.clone());
                if out.len() == max {
                    break;
                }
            }
        }
        if out.is_empty() {
            // Nothing of ours up to `current`: we are up to date there.
            self.cursor = self.cursor.max(g.current);
            Next::Idle { revision: self.cursor }
        } else {
            Next::Events(out)
        }
    }
}

impl<V> Drop for Watcher<V> {
    fn drop(&mut self) {
        lock(&self.cache).wakers.remove(&self.id);
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    fn ev(rev: u64, key: &str, v: Option<u32>) -> Event<u32> {
        Event { revision: rev, key: key.into(), value: v.map(Arc::new), prev: None }
    }

    fn revs(n: Next<u32>) -> Vec<u64> {
        match n {
            Next::Events(evs) => evs.iter().map(|e| e.revision).collect(),
            other => panic!("expected events, got {other:?}"),
        }
    }

    #[test]
    fn watchers_see_every_event_after_their_start_once_in_order() {
        let c = WatchCache::new(10, 0, []);
        c.apply(ev(1, "/a/1", Some(1)));
        let mut w = c.watch("/a/", Some(1)).unwrap();
        c.apply(ev(2, "/b/1", Some(2)));
        c.apply(ev(3, "/a/2", Some(3)));
        c.apply(ev(4, "/a/1", None));
        assert_eq!(revs(w.next_batch(10)), vec![3, 4]);
        assert!(matches!(w.next_batch(10), Next::Idle { revision: 4 }));
        let (items, rv) = c.list("/a/");
        assert_eq!((items.len(), rv), (1, 4));
    }

    #[test]
    fn a_slow_watcher_is_cut_off_and_memory_stays_bounded() {
        let c = WatchCache::new(3, 0, []);
        let mut slow = c.watch("", Some(0)).unwrap();
        for r in 1..=10 {
            c.apply(ev(r, "/k", Some(r as u32)));
            assert!(c.window_len() <= 3);
        }
        assert!(matches!(slow.next_batch(10), Next::TooOld(TooOld { oldest: 7 })));
        assert_eq!(c.watch("", Some(6)).err(), Some(TooOld { oldest: 7 }));
        let mut ok = c.watch("", Some(7)).unwrap();
        assert_eq!(revs(ok.next_batch(10)), vec![8, 9, 10]);
    }

    #[test]
    fn unset_start_revision_gets_synthetic_adds_then_live_events() {
        let c = WatchCache::new(10, 5, [("/a/x".to_string(), Arc::new(1u32)), ("/b/y".to_string(), Arc::new(2u32))]);
        let mut w = c.watch("/a/", None).unwrap();
        c.apply(ev(6, "/a/z", Some(3)));
        match w.next_batch(10) {
            Next::Events(evs) => assert_eq!(evs.iter().map(|e| (e.key.as_str(), e.revision)).collect::<Vec<_>>(), vec![("/a/x", 5)]),
            other => panic!("{other:?}"),
        }
        assert_eq!(revs(w.next_batch(10)), vec![6]);
    }

    #[test]
    fn wakers_are_called_after_each_event_and_removed_on_drop() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        let c = WatchCache::new(4, 0, []);
        let hits = Arc::new(AtomicUsize::new(0));
        let w = c.watch("", Some(0)).unwrap();
        let h = hits.clone();
        w.set_waker(Arc::new(move || {
            h.fetch_add(1, Ordering::SeqCst);
        }));
        c.apply(ev(1, "/k", Some(1)));
        drop(w);
        c.apply(ev(2, "/k", Some(2)));
        assert_eq!(hits.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn advance_lets_watchers_from_other_resources_revisions_start() {
        let c: WatchCache<u32> = WatchCache::new(4, 0, []);
        c.advance(9);
        let mut w = c.watch("", Some(9)).unwrap();
        assert!(matches!(w.next_batch(1), Next::Idle { revision: 9 }));
    }
}
