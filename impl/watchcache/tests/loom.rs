//! loom checks of the watch cache and the work queue: every interleaving of
//! the threads below, within LOOM_MAX_PREEMPTIONS preemptions.
//!
//! Run with (documented in the README):
//!   RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=3 cargo test -p watchcache --release --test loom

#![cfg(loom)]

use loom::sync::atomic::{AtomicUsize, Ordering};
use loom::sync::Arc;
use loom::thread;
use watchcache::workqueue::WorkQueue;
use watchcache::{Event, Next, WatchCache};

fn ev(rev: u64) -> Event<u64> {
    Event { revision: rev, key: "/k".into(), value: Some(Arc::new(rev)), prev: None }
}

/// One non-blocking read; records what it got. Returns false once cut off.
fn read_once(w: &mut watchcache::Watcher<u64>, seen: &mut Vec<u64>) -> bool {
    match w.next_batch(8) {
        Next::Events(evs) => {
            seen.extend(evs.iter().map(|e| e.revision));
            true
        }
        Next::Idle { .. } => true,
        Next::TooOld(_) => false,
    }
}

/// After the writer has stopped: reads to the end (terminates: nothing is added).
fn drain(w: &mut watchcache::Watcher<u64>, seen: &mut Vec<u64>) -> bool {
    loop {
        match w.next_batch(8) {
            Next::Events(evs) => seen.extend(evs.iter().map(|e| e.revision)),
            Next::Idle { .. } => return false,
            Next::TooOld(_) => return true,
        }
    }
}

fn assert_gapless_from(seen: &[u64], start: u64, cut: bool, last: u64) {
    for (i, r) in seen.iter().enumerate() {
        assert_eq!(*r, start + 1 + i as u64, "gap, duplicate or reorder in {seen:?} (start {start})");
    }
    if !cut {
        assert_eq!(seen.last().copied().unwrap_or(start), last, "a watcher that was not cut off saw everything: {seen:?}");
    }
}

#[test]
fn watchers_see_a_gapless_ordered_sequence_or_are_told_too_old() {
    loom::model(|| {
        const CAPACITY: usize = 2;
        const LAST: u64 = 3;
        let cache: WatchCache<u64> = WatchCache::new(CAPACITY, 0, []);
        let writer = {
            let c = cache.clone();
            thread::spawn(move || {
                for r in 1..=LAST {
                    c.apply(ev(r));
                }
            })
        };
        // A watcher that subscribes while the writer runs, from revision 1,
        // and reads once during the race.
        let late = {
            let c = cache.clone();
            thread::spawn(move || {
                let mut seen = Vec::new();
                let w = c.watch("", Some(1)).ok().map(|mut w| {
                    let alive = read_once(&mut w, &mut seen);
                    (w, alive)
                });
                (w, seen)
            })
        };
        // A watcher from 0 that reads twice during the race.
        let mut early_seen = Vec::new();
        let mut early = cache.watch("", Some(0)).ok();
        let mut early_alive = true;
        if let Some(w) = early.as_mut() {
            early_alive = read_once(w, &mut early_seen) && read_once(w, &mut early_seen);
        }
        writer.join().unwrap();
        let (late_w, mut late_seen) = late.join().unwrap();
        if let Some(mut w) = early {
            let cut = !early_alive || drain(&mut w, &mut early_seen);
            assert_gapless_from(&early_seen, 0, cut, LAST);
        }
        match late_w {
            Some((mut w, alive)) => {
                let cut = !alive || drain(&mut w, &mut late_seen);
                assert_gapless_from(&late_seen, 1, cut, LAST);
            }
            None => {} // told TooOld at subscription: the window had moved past 1
        }
        assert!(cache.window_len() <= CAPACITY, "memory stays within the window");
    });
}

#[test]
fn a_watcher_that_never_reads_does_not_block_the_writer() {
    loom::model(|| {
        let cache: WatchCache<u64> = WatchCache::new(1, 0, []);
        let idle = cache.watch("", Some(0)).unwrap();
        let c = cache.clone();
        let writer = thread::spawn(move || {
            for r in 1..=3 {
                c.apply(ev(r));
            }
        });
        let dropper = thread::spawn(move || drop(idle));
        // Joining proves the writer finished in every interleaving.
        writer.join().unwrap();
        dropper.join().unwrap();
        assert_eq!(cache.revision(), 3);
        assert_eq!(cache.window_len(), 1);
    });
}

/// Two workers and an adder around one key: the key is never run by both
/// workers at once, and the last `add` is always followed by a run that
/// started after it (no key is lost).
fn work_queue_model(buggy_done: bool) {
    loom::model(move || {
        let q = Arc::new(WorkQueue::new());
        let active = Arc::new(AtomicUsize::new(0));
        let version = Arc::new(AtomicUsize::new(1));
        let best_seen = Arc::new(AtomicUsize::new(0));
        q.add("k");
        let worker = |q: Arc<WorkQueue>, active: Arc<AtomicUsize>, version: Arc<AtomicUsize>, best: Arc<AtomicUsize>| {
            move || {
                for _ in 0..2 {
                    if let Some(k) = q.get() {
                        let v = version.load(Ordering::SeqCst);
                        assert_eq!(active.fetch_add(1, Ordering::SeqCst), 0, "the key is being run twice at once");
                        best.fetch_max(v, Ordering::SeqCst);
                        active.fetch_sub(1, Ordering::SeqCst);
                        if buggy_done {
                            q.done_with_ordering_bug(&k);
                        } else {
                            q.done(&k);
                        }
                    }
                }
            }
        };
        let w1 = thread::spawn(worker(q.clone(), active.clone(), version.clone(), best_seen.clone()));
        let w2 = thread::spawn(worker(q.clone(), active.clone(), version.clone(), best_seen.clone()));
        let adder = {
            let (q, version) = (q.clone(), version.clone());
            thread::spawn(move || {
                version.store(2, Ordering::SeqCst);
                q.add("k");
            })
        };
        w1.join().unwrap();
        w2.join().unwrap();
        adder.join().unwrap();
        // Whatever is still queued runs now.
        while let Some(k) = q.get() {
            best_seen.fetch_max(version.load(Ordering::SeqCst), Ordering::SeqCst);
            q.done(&k);
        }
        assert_eq!(best_seen.load(Ordering::SeqCst), 2, "the key added last was never run after its add");
    });
}

#[test]
fn the_work_queue_never_runs_a_key_twice_at_once_and_never_loses_one() {
    work_queue_model(false);
}

#[test]
#[should_panic]
fn loom_catches_a_done_that_releases_the_lock_too_early() {
    work_queue_model(true);
}
