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
//! Indexed delivery (upstream's indexed triggers): a cache may be given a
//! trigger function (for pods, `spec.nodeName`). A watcher that selects one
//! trigger value (a kubelet's `spec.nodeName=<node>`) is woken only by the
//! events whose object, before or after, has that value, and reads them
//! through a per-value index of the window, never scanning the others' events;
//! so 5,000 kubelets cost one wake per event, not 5,000. Such a watcher is cut
//! off only when an event of its own value leaves the window unread.
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

/// The value an object is indexed under for watchers (None: none).
pub type Trigger<V> = fn(&V) -> Option<String>;

struct Inner<V> {
    window: VecDeque<Event<V>>,
    capacity: usize,
    floor: u64,
    current: u64,
    objects: BTreeMap<String, Arc<V>>,
    /// The wakers of watchers of every event, by watcher id.
    wakers: BTreeMap<u64, Waker>,
    /// The wakers of watchers of one trigger value, by value, then id: an
    /// event wakes only its values' (found by lookup, not by a pass over
    /// every watcher).
    selecting_wakers: BTreeMap<String, BTreeMap<u64, Waker>>,
    next_watcher_id: u64,
    trigger: Option<Trigger<V>>,
    /// Trigger value → revisions of the window's events with that value
    /// (before or after), oldest first: each event is in at most two.
    by_trigger: BTreeMap<String, VecDeque<u64>>,
    /// Trigger value some watcher selects → (its watchers, the newest
    /// revision of an event with that value that left the window).
    watched: BTreeMap<String, (usize, u64)>,
}

impl<V> Inner<V> {
    /// The trigger values of an event: its object's after and before, each once.
    fn triggers(&self, ev: &Event<V>) -> Vec<String> {
        let Some(f) = self.trigger else { return vec![] };
        let mut t: Vec<String> = ev.value.iter().chain(ev.prev.iter()).filter_map(|v| f(v)).collect();
        t.dedup();
        t
    }
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
                selecting_wakers: BTreeMap::new(),
                next_watcher_id: 0,
                trigger: None,
                by_trigger: BTreeMap::new(),
                watched: BTreeMap::new(),
            })),
        }
    }

    /// The same cache, its events indexed by `trigger` for watchers that
    /// select one value of it (see the module's doc). Set before any event.
    pub fn indexed_by(self, trigger: Trigger<V>) -> WatchCache<V> {
        {
            let mut g = lock(&self.inner);
            assert!(g.window.is_empty(), "a watch cache is indexed before its first event");
            g.trigger = Some(trigger);
        }
        self
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
                for t in g.triggers(&evicted) {
                    if let Some(revs) = g.by_trigger.get_mut(&t) {
                        debug_assert_eq!(revs.front(), Some(&evicted.revision));
                        revs.pop_front();
                        if revs.is_empty() {
                            g.by_trigger.remove(&t);
                        }
                    }
                    if let Some(w) = g.watched.get_mut(&t) {
                        w.1 = evicted.revision;
                    }
                }
            }
            let triggers = g.triggers(&ev);
            for t in &triggers {
                g.by_trigger.entry(t.clone()).or_default().push_back(ev.revision);
            }
            g.window.push_back(ev);
            debug_assert!(g.window.len() <= g.capacity);
            let mut wake: Vec<Waker> = g.wakers.values().cloned().collect();
            for t in &triggers {
                if let Some(ws) = g.selecting_wakers.get(t) {
                    wake.extend(ws.values().cloned());
                }
            }
            wake
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
            g.by_trigger.clear();
            for w in g.watched.values_mut() {
                w.1 = revision;
            }
            g.objects = objects.into_iter().collect();
            g.current = revision;
            g.floor = revision;
            g.wakers.values().chain(g.selecting_wakers.values().flat_map(|ws| ws.values())).cloned().collect()
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
        self.watch_selecting(prefix, from, None)
    }

    /// `watch`, for a watcher that selects only objects whose trigger value
    /// (before or after an event) is `trigger`: it is woken and handed only
    /// those events. None, or a cache with no trigger: every event.
    pub fn watch_selecting(&self, prefix: &str, from: Option<u64>, trigger: Option<String>) -> Result<Watcher<V>, TooOld> {
        let mut g = lock(&self.inner);
        let trigger = trigger.filter(|_| g.trigger.is_some());
        let mut initial = VecDeque::new();
        let cursor = match from {
            Some(rv) => {
                if rv < g.floor {
                    return Err(TooOld { oldest: g.floor });
                }
                rv
            }
            None => {
                let f = g.trigger;
                let selected = |v: &V| trigger.is_none() || f.is_some_and(|f| f(v) == trigger);
                for (k, v) in g.objects.range(prefix.to_string()..).take_while(|(k, _)| k.starts_with(prefix)) {
                    if selected(v) {
                        initial.push_back(Event { revision: g.current, key: k.clone(), value: Some(v.clone()), prev: None });
                    }
                }
                g.current
            }
        };
        let id = g.next_watcher_id;
        g.next_watcher_id += 1;
        if let Some(t) = &trigger {
            let floor = g.floor;
            g.watched.entry(t.clone()).or_insert((0, floor)).0 += 1;
        }
        Ok(Watcher { cache: self.inner.clone(), id, prefix: prefix.to_string(), cursor, initial, trigger })
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
    /// The trigger value selected (see `WatchCache::watch_selecting`).
    trigger: Option<String>,
}

impl<V> Watcher<V> {
    /// Registers a function the writer calls after each event (it must not block).
    pub fn set_waker(&self, waker: Waker) {
        let mut g = lock(&self.cache);
        match &self.trigger {
            Some(t) => {
                g.selecting_wakers.entry(t.clone()).or_default().insert(self.id, waker);
            }
            None => {
                g.wakers.insert(self.id, waker);
            }
        }
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
        if let Some(t) = &self.trigger {
            return next_selected(&g, t, &self.prefix, &mut self.cursor, max);
        }
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

/// `next_batch` for a watcher of one trigger value: through the value's
/// index, so it costs the events it takes, not the window's.
fn next_selected<V>(g: &Inner<V>, t: &str, prefix: &str, cursor: &mut u64, max: usize) -> Next<V> {
    let evicted = g.watched.get(t).map_or(0, |w| w.1);
    if *cursor < evicted {
        // An event of ours left the window before we read it.
        return Next::TooOld(TooOld { oldest: g.floor });
    }
    let mut out = Vec::new();
    if let Some(revs) = g.by_trigger.get(t) {
        let start = revs.partition_point(|r| *r <= *cursor);
        for r in revs.iter().skip(start) {
            let at = g.window.partition_point(|e| e.revision < *r);
            let e = &g.window[at];
            debug_assert_eq!(e.revision, *r);
            *cursor = *r;
            if e.key.starts_with(prefix) {
                out.push(e.clone());
                if out.len() == max {
                    return Next::Events(out);
                }
            }
        }
    }
    // Every event of ours up to `current` is taken.
    *cursor = (*cursor).max(g.current);
    if out.is_empty() {
        Next::Idle { revision: *cursor }
    } else {
        Next::Events(out)
    }
}

impl<V> Drop for Watcher<V> {
    fn drop(&mut self) {
        let mut g = lock(&self.cache);
        g.wakers.remove(&self.id);
        if let Some(t) = &self.trigger {
            if let Some(ws) = g.selecting_wakers.get_mut(t) {
                ws.remove(&self.id);
                if ws.is_empty() {
                    g.selecting_wakers.remove(t);
                }
            }
            if let Some(w) = g.watched.get_mut(t) {
                w.0 -= 1;
                if w.0 == 0 {
                    g.watched.remove(t);
                }
            }
        }
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

    /// Values are (node, n): indexed by node, "" for none.
    fn on(node: &str, n: u32) -> Option<(String, u32)> {
        Some((node.to_string(), n))
    }

    fn evn(rev: u64, key: &str, v: Option<(String, u32)>, prev: Option<(String, u32)>) -> Event<(String, u32)> {
        Event { revision: rev, key: key.into(), value: v.map(Arc::new), prev: prev.map(Arc::new) }
    }

    fn node_of(v: &(String, u32)) -> Option<String> {
        Some(v.0.clone())
    }

    #[test]
    fn a_selecting_watcher_gets_and_is_woken_by_only_its_values_events() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        let c = WatchCache::new(100, 0, [("/p/old".to_string(), Arc::new(("a".to_string(), 0)))]).indexed_by(node_of);
        let mut a = c.watch_selecting("/p/", None, Some("a".into())).unwrap();
        let mut b = c.watch_selecting("/p/", Some(0), Some("b".into())).unwrap();
        let mut all = c.watch("/p/", Some(0)).unwrap();
        let wakes: Vec<Arc<AtomicUsize>> = (0..3).map(|_| Arc::new(AtomicUsize::new(0))).collect();
        for (w, n) in [(&a, &wakes[0]), (&b, &wakes[1]), (&all, &wakes[2])] {
            let n = n.clone();
            w.set_waker(Arc::new(move || {
                n.fetch_add(1, Ordering::SeqCst);
            }));
        }
        c.apply(evn(1, "/p/x", on("", 1), None)); // created unbound
        c.apply(evn(2, "/p/x", on("b", 1), on("", 1))); // bound to b
        c.apply(evn(3, "/p/y", on("a", 2), None));
        c.apply(evn(4, "/q/z", on("a", 3), None)); // another prefix
        c.apply(evn(5, "/p/x", None, on("b", 1))); // deleted from b
        let keys = |n: Next<(String, u32)>| match n {
            Next::Events(evs) => evs.iter().map(|e| (e.key.clone(), e.revision)).collect::<Vec<_>>(),
            other => panic!("expected events, got {other:?}"),
        };
        assert_eq!(keys(a.next_batch(10)), vec![("/p/old".to_string(), 0)], "the initial list holds only a's objects");
        assert_eq!(keys(a.next_batch(10)), vec![("/p/y".to_string(), 3)]);
        assert!(matches!(a.next_batch(10), Next::Idle { revision: 5 }));
        assert_eq!(keys(b.next_batch(1)), vec![("/p/x".to_string(), 2)], "a batch stops at max");
        assert_eq!(keys(b.next_batch(10)), vec![("/p/x".to_string(), 5)]);
        assert_eq!(revs_of(all.next_batch(10)), vec![1, 2, 3, 5]);
        let woken: Vec<usize> = wakes.iter().map(|n| n.load(Ordering::SeqCst)).collect();
        assert_eq!(woken, vec![2, 2, 5], "a: events 3 and 4; b: 2 and 5; the unselecting watcher: all five");
    }

    fn revs_of(n: Next<(String, u32)>) -> Vec<u64> {
        match n {
            Next::Events(evs) => evs.iter().map(|e| e.revision).collect(),
            other => panic!("expected events, got {other:?}"),
        }
    }

    /// Other values' events moving the window on do not cut a selecting
    /// watcher off; one of its own leaving the window unread does, and a
    /// reset cuts off everyone.
    #[test]
    fn a_selecting_watcher_is_cut_off_only_when_its_own_event_is_lost() {
        let c = WatchCache::new(3, 0, []).indexed_by(node_of);
        let mut a = c.watch_selecting("", Some(0), Some("a".into())).unwrap();
        for r in 1..=10 {
            c.apply(evn(r, "/k", on("b", r as u32), None));
        }
        assert!(matches!(a.next_batch(10), Next::Idle { revision: 10 }), "nothing of a's was lost");
        c.apply(evn(11, "/a", on("a", 0), None));
        for r in 12..=14 {
            c.apply(evn(r, "/k", on("b", r as u32), None));
        }
        assert!(matches!(a.next_batch(10), Next::TooOld(TooOld { oldest: 11 })), "a's event 11 left the window unread");
        let mut again = c.watch_selecting("", Some(14), Some("a".into())).unwrap();
        c.apply(evn(15, "/a", on("a", 1), None));
        assert_eq!(revs_of(again.next_batch(10)), vec![15]);
        c.reset(20, []);
        assert!(matches!(again.next_batch(10), Next::TooOld(_)), "a reset cuts off a selecting watcher too");
        drop((a, again));
        assert!(lock(&c.inner).watched.is_empty(), "the last watcher of a value takes its entry with it");
        assert!(lock(&c.inner).by_trigger.is_empty(), "the reset emptied the index");
    }

    #[test]
    fn the_index_holds_only_the_windows_events() {
        let c = WatchCache::new(2, 0, []).indexed_by(node_of);
        for r in 1..=50 {
            c.apply(evn(r, "/k", on(&format!("n{r}"), 0), on(&format!("n{}", r - 1), 0)));
        }
        let g = lock(&c.inner);
        assert_eq!(g.by_trigger.values().map(VecDeque::len).sum::<usize>(), 4, "two events, two values each");
    }

    #[test]
    fn advance_lets_watchers_from_other_resources_revisions_start() {
        let c: WatchCache<u32> = WatchCache::new(4, 0, []);
        c.advance(9);
        let mut w = c.watch("", Some(9)).unwrap();
        assert!(matches!(w.next_batch(1), Next::Idle { revision: 9 }));
    }
}
