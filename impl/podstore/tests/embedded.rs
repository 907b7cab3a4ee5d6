//! The embedded backend: the conformance suite in memory, on disk and on
//! the crash-simulating `MemDisk`, and durability across reopen, including
//! a torn final record. Group commit is in `group_commit.rs`, what opening
//! a damaged log does in `opening.rs`.

use podstore::{conformance, Embedded, Store};
use std::io::Write;

/// A directory no earlier run left behind: the first name that is not taken.
fn tempdir(name: &str) -> std::path::PathBuf {
    (0u32..)
        .map(|i| std::env::temp_dir().join(format!("podstore-{name}-{}-{i}", std::process::id())))
        .find(|d| std::fs::create_dir(d).is_ok())
        .expect("a free temporary directory name")
}

#[test]
fn conformance_in_memory() {
    conformance::run_all(&|| Box::new(Embedded::in_memory()));
}

#[test]
fn conformance_on_disk() {
    let base = tempdir("conf");
    let n = std::sync::atomic::AtomicUsize::new(0);
    conformance::run_all(&|| {
        let i = n.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Box::new(Embedded::open(&base.join(i.to_string())).unwrap().0)
    });
    std::fs::remove_dir_all(base).unwrap();
}

#[test]
fn conformance_on_a_mem_disk() {
    conformance::run_all(&|| Box::new(Embedded::open_on(std::sync::Arc::new(podstore::disk::MemDisk::new())).unwrap().0));
}

#[test]
fn every_acknowledged_write_survives_reopen() {
    let dir = tempdir("reopen");
    let (want, rev) = {
        let (s, rep) = Embedded::open(&dir).unwrap();
        assert_eq!(rep.records, 0);
        let r1 = s.create("/a", b"1".to_vec()).unwrap();
        s.create("/b", b"1".to_vec()).unwrap();
        s.update("/a", b"2".to_vec(), r1).unwrap();
        s.delete("/b", 0).unwrap();
        s.create("/c", b"3".to_vec()).unwrap();
        (s.range("/", "", 0).unwrap().kvs, s.revision())
    };
    let (s, rep) = Embedded::open(&dir).unwrap();
    assert_eq!(rep.records, 5);
    assert_eq!(rep.cut, None);
    assert_eq!(s.revision(), rev);
    assert_eq!(s.range("/", "", 0).unwrap().kvs, want, "same keys, values and revisions");
    // History starts afresh: older revisions are too old, newer writes continue.
    assert!(s.events_since(rev - 1, 0).is_err());
    assert_eq!(s.create("/d", vec![]).unwrap(), rev + 1);
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_torn_final_record_is_discarded_and_the_rest_kept() {
    let dir = tempdir("torn");
    {
        let (s, _) = Embedded::open(&dir).unwrap();
        s.create("/a", b"1".to_vec()).unwrap();
        s.create("/b", b"2".to_vec()).unwrap();
    }
    // Simulate a crash mid-append: half a record at the end.
    let rec = podstore::record::Record { op: podstore::record::Op::Put, revision: 3, create_revision: 3, key: "/c".into(), value: b"3".to_vec() }.encode();
    let mut f = std::fs::OpenOptions::new().append(true).open(dir.join("wal.log")).unwrap();
    f.write_all(&rec[..rec.len() / 2]).unwrap();
    drop(f);
    let (s, rep) = Embedded::open(&dir).unwrap();
    assert_eq!(rep.records, 2);
    let cut = rep.cut.expect("the torn record is cut");
    assert_eq!((cut.bytes, cut.after_record, cut.reason.as_str()), ((rec.len() / 2) as u64, 2, "a torn final record"));
    assert_eq!(s.revision(), 2);
    assert!(s.get("/c").unwrap().is_none());
    // The log is usable again after the cut.
    s.create("/c", b"3".to_vec()).unwrap();
    drop(s);
    let (s, rep) = Embedded::open(&dir).unwrap();
    assert_eq!((rep.records, rep.cut), (3, None));
    assert_eq!(s.get("/c").unwrap().unwrap().value.as_slice(), b"3");
    std::fs::remove_dir_all(dir).unwrap();
}

/// History holds events up to `MAX_HISTORY_BYTES` of values and keys:
/// at the bound nothing is compacted; one byte more and the oldest event is,
/// and a watch from before it is told so.
#[test]
fn history_is_bounded_at_max_history_bytes() {
    use podstore::embedded::{event_bytes, MAX_HISTORY_BYTES};
    const VALUE: usize = 1 << 20;
    let s = Embedded::in_memory();
    // Keys of 8 bytes ("/k000000"), so each create counts VALUE + 8.
    let per = VALUE + 8;
    let n = MAX_HISTORY_BYTES / per;
    for i in 0..n {
        s.create(&format!("/k{i:06}"), vec![0; VALUE]).unwrap();
    }
    let evs = s.events_since(0, 0).unwrap();
    assert_eq!(evs.iter().map(event_bytes).sum::<usize>(), n * per);
    // The last write fills the history to exactly the bound.
    let last = MAX_HISTORY_BYTES - n * per - 8;
    s.create(&format!("/k{n:06}"), vec![0; last]).unwrap();
    let evs = s.events_since(0, 0).expect("at the bound, all of it");
    assert_eq!((evs.len(), evs.iter().map(event_bytes).sum::<usize>()), (n + 1, MAX_HISTORY_BYTES));
    s.create("/x", vec![0]).unwrap();
    assert!(matches!(s.events_since(0, 0), Err(podstore::StoreError::Compacted { compacted: 1 })), "one byte past the bound compacts the oldest");
    assert_eq!(s.events_since(1, 0).unwrap().len(), n + 1);
}

/// History holds `MAX_HISTORY_EVENTS` events: with one more written, the
/// first is compacted away and a watch from before it is told so.
#[test]
fn history_is_bounded_at_max_history_events() {
    use podstore::embedded::MAX_HISTORY_EVENTS;
    let s = Embedded::in_memory();
    for i in 0..MAX_HISTORY_EVENTS {
        s.create(&format!("/k{i}"), vec![]).unwrap();
    }
    assert_eq!(s.events_since(0, 0).unwrap().len(), MAX_HISTORY_EVENTS, "all of it at the bound");
    s.create("/one-more", vec![]).unwrap();
    assert!(matches!(s.events_since(0, 0), Err(podstore::StoreError::Compacted { compacted: 1 })));
    let kept = s.events_since(1, 0).unwrap();
    assert_eq!(kept.len(), MAX_HISTORY_EVENTS);
    assert_eq!((kept[0].revision, kept.last().unwrap().revision), (2, MAX_HISTORY_EVENTS as u64 + 1));
}
