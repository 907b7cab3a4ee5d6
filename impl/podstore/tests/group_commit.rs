//! Group commit in the embedded store, on `MemDisk` with its syncs held so
//! that writers line up deterministically behind one fsync: concurrent
//! writes share it, none is acknowledged or visible before it, revisions and
//! events stay in commit order, an answer that rests on a write not yet
//! durable waits for it, a failed fsync fails every write it would have
//! covered and stops the store, and a batch is bounded in bytes.

use podstore::disk::MemDisk;
use podstore::embedded::MAX_BATCH_BYTES;
use podstore::{Embedded, Store, StoreError};
use std::sync::mpsc;
use std::sync::Arc;
use std::time::{Duration, Instant};

fn store() -> (Arc<Embedded>, MemDisk) {
    let disk = MemDisk::new();
    let (s, _) = Embedded::open_on(Arc::new(disk.clone())).unwrap();
    (Arc::new(s), disk)
}

/// Polls `cond` (an observable state of the store, never a guess at time)
/// until it holds; fails after ten seconds.
fn until(what: &str, cond: impl Fn() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(start.elapsed() < Duration::from_secs(10), "timed out waiting for {what}");
        std::thread::yield_now();
    }
}

/// Starts a thread that creates `key`; its result arrives on the channel.
fn create(s: &Arc<Embedded>, key: &str, tx: &mpsc::Sender<(String, Result<u64, StoreError>)>) {
    let (s, key, tx) = (s.clone(), key.to_string(), tx.clone());
    std::thread::spawn(move || {
        let r = s.create(&key, b"v".to_vec());
        tx.send((key, r)).unwrap();
    });
}

#[test]
fn writers_that_arrive_during_an_fsync_share_the_next_one() {
    let (s, disk) = store();
    let (tx, rx) = mpsc::channel();
    disk.hold_syncs();
    create(&s, "/first", &tx);
    disk.wait_for_held_syncs(1);
    for i in 0..9 {
        create(&s, &format!("/k{i}"), &tx);
    }
    // All nine are checked and queued behind the held fsync; none is visible
    // or acknowledged.
    until("nine writes queued", || s.pending_writes() == 9);
    assert_eq!(s.revision(), 0, "a write is not visible before its fsync");
    assert!(s.get("/first").unwrap().is_none());
    assert!(rx.try_recv().is_err(), "nothing is acknowledged before its fsync");
    disk.release_syncs();
    let mut results: Vec<(String, u64)> = (0..10).map(|_| rx.recv().map(|(k, r)| (k, r.unwrap())).unwrap()).collect();
    results.sort_by_key(|(_, r)| *r);
    assert_eq!(results.iter().map(|(_, r)| *r).collect::<Vec<_>>(), (1..=10).collect::<Vec<_>>(), "one revision each, no gaps");
    assert_eq!(results[0].0, "/first");
    let stats = s.commit_stats();
    assert_eq!((stats.writes, stats.syncs, stats.largest_batch), (10, 2, 9), "the first alone, then the nine in one fsync");
    // Events come in revision order, each its key's.
    let evs = s.events_since(0, 0).unwrap();
    assert_eq!(evs.iter().map(|e| (e.kv.key.clone(), e.revision)).collect::<Vec<_>>(), results);
    // And each survives power loss.
    disk.crash();
    let (s2, rep) = Embedded::open_on(Arc::new(disk.clone())).unwrap();
    assert_eq!((rep.records, rep.cut, s2.revision()), (10, None, 10));
}

#[test]
fn a_conflict_with_a_write_not_yet_durable_is_answered_once_it_is() {
    let (s, disk) = store();
    let r1 = s.create("/a", b"1".to_vec()).unwrap();
    disk.hold_syncs();
    let (tx, rx) = mpsc::channel();
    {
        let (s, tx) = (s.clone(), tx.clone());
        std::thread::spawn(move || tx.send(("first", s.update("/a", b"2".to_vec(), r1))).unwrap());
    }
    disk.wait_for_held_syncs(1);
    {
        let (s, tx) = (s.clone(), tx.clone());
        std::thread::spawn(move || tx.send(("second", s.update("/a", b"3".to_vec(), r1))).unwrap());
    }
    until("the conflicting update to wait", || s.commit_stats().answers_held_for_durability == 1);
    assert!(rx.try_recv().is_err(), "the conflict is not told before the write it conflicts with is durable");
    disk.release_syncs();
    let mut got: Vec<_> = (0..2).map(|_| rx.recv().unwrap()).collect();
    got.sort_by_key(|(who, _)| *who);
    assert_eq!(got[0], ("first", Ok(2)));
    match &got[1] {
        ("second", Err(StoreError::Conflict { current })) => assert_eq!((current.mod_revision, current.value.as_slice()), (2, &b"2"[..])),
        other => panic!("expected a conflict with revision 2, got {other:?}"),
    }
}

#[test]
fn a_failed_fsync_fails_every_write_it_covered_and_stops_writes() {
    let (s, disk) = store();
    s.create("/kept", b"1".to_vec()).unwrap();
    disk.hold_syncs();
    let (tx, rx) = mpsc::channel();
    create(&s, "/lost-1", &tx);
    disk.wait_for_held_syncs(1);
    create(&s, "/lost-2", &tx);
    until("the second write queued", || s.pending_writes() == 1);
    disk.fail_from_now("EIO");
    disk.release_syncs();
    for _ in 0..2 {
        let (k, r) = rx.recv().unwrap();
        assert!(matches!(r, Err(StoreError::Io(_))), "{k}: {r:?}");
    }
    disk.heal();
    let refused = s.create("/after", b"1".to_vec()).unwrap_err();
    assert!(refused.to_string().contains("refuses writes after a failure"), "{refused}");
    // Reads go on, and show only what was durable.
    assert_eq!(s.revision(), 1);
    assert!(s.get("/kept").unwrap().is_some() && s.get("/lost-1").unwrap().is_none());
    // A write that failed has an unknown outcome (its bytes may yet reach
    // the disk, as with etcd); after power loss, the store has exactly the
    // acknowledged write, and takes writes again.
    drop(s);
    disk.crash();
    let (s, rep) = Embedded::open_on(Arc::new(disk.clone())).unwrap();
    assert_eq!((rep.records, rep.cut), (1, None));
    assert_eq!(s.create("/after", b"1".to_vec()).unwrap(), 2);
}

#[test]
fn a_batch_appends_at_most_max_batch_bytes() {
    let (s, disk) = store();
    disk.hold_syncs();
    let (tx, rx) = mpsc::channel();
    create(&s, "/first", &tx);
    disk.wait_for_held_syncs(1);
    // Three values that together exceed one batch: each a third of it, plus
    // the record's header and key.
    let third = MAX_BATCH_BYTES / 3;
    for i in 0..3 {
        let (s, tx) = (s.clone(), tx.clone());
        std::thread::spawn(move || tx.send((format!("/big{i}"), s.create(&format!("/big{i}"), vec![b'x'; third]))).unwrap());
    }
    until("three big writes queued", || s.pending_writes() == 3);
    disk.release_syncs();
    for _ in 0..4 {
        rx.recv().unwrap().1.unwrap();
    }
    let stats = s.commit_stats();
    assert_eq!((stats.writes, stats.syncs, stats.largest_batch), (4, 3, 2), "the first; then two thirds fit, the third does not");
}
