//! The conformance suite every `Store` backend must pass. Each check takes a
//! fresh, empty store. `run_all` runs them in order and names the failing
//! one; backends call it from their tests:
//!
//! ```ignore
//! podstore::conformance::run_all(&|| Box::new(Embedded::in_memory()));
//! ```

use crate::{EventKind, Store, StoreError};

pub type Factory<'a> = &'a dyn Fn() -> Box<dyn Store>;

pub fn run_all(new: Factory) {
    let checks: &[(&str, fn(&dyn Store))] = &[
        ("revisions_increase_by_one_per_write", revisions_increase_by_one_per_write),
        ("create_is_exclusive", create_is_exclusive),
        ("update_is_compare_and_swap", update_is_compare_and_swap),
        ("delete_is_conditional", delete_is_conditional),
        ("range_pages_in_key_order", range_pages_in_key_order),
        ("range_at_reads_one_revision", range_at_reads_one_revision),
        ("events_since_replays_every_change_in_order", events_since_replays_every_change_in_order),
        ("compaction_makes_old_revisions_too_old", compaction_makes_old_revisions_too_old),
        ("subscribers_are_told_of_each_write", subscribers_are_told_of_each_write),
        ("oversized_values_are_refused", oversized_values_are_refused),
    ];
    for (name, check) in checks {
        let s = new();
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| check(s.as_ref())));
        if let Err(e) = r {
            let msg = e.downcast_ref::<String>().cloned().or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string())).unwrap_or_default();
            panic!("store conformance check {name} failed: {msg}");
        }
    }
}

pub fn revisions_increase_by_one_per_write(s: &dyn Store) {
    let r0 = s.revision();
    let r1 = s.create("/a", b"1".to_vec()).unwrap();
    let r2 = s.update("/a", b"2".to_vec(), r1).unwrap();
    let (r3, _) = s.delete("/a", r2).unwrap();
    assert_eq!((r1, r2, r3), (r0 + 1, r0 + 2, r0 + 3));
    assert_eq!(s.revision(), r3);
}

pub fn create_is_exclusive(s: &dyn Store) {
    let r = s.create("/k", b"v".to_vec()).unwrap();
    assert_eq!(s.create("/k", b"w".to_vec()), Err(StoreError::AlreadyExists));
    let kv = s.get("/k").unwrap().unwrap();
    assert_eq!((kv.value.as_slice(), kv.create_revision, kv.mod_revision), (&b"v"[..], r, r));
    assert_eq!(s.revision(), r, "a failed write takes no revision");
}

pub fn update_is_compare_and_swap(s: &dyn Store) {
    let r1 = s.create("/k", b"1".to_vec()).unwrap();
    let r2 = s.update("/k", b"2".to_vec(), r1).unwrap();
    match s.update("/k", b"3".to_vec(), r1) {
        Err(StoreError::Conflict { current }) => assert_eq!(current.mod_revision, r2),
        other => panic!("stale update must conflict, got {other:?}"),
    }
    assert_eq!(s.get("/k").unwrap().unwrap().value.as_slice(), b"2");
    assert_eq!(s.update("/missing", b"x".to_vec(), 1), Err(StoreError::NotFound));
    assert_eq!(s.get("/k").unwrap().unwrap().create_revision, r1);
}

pub fn delete_is_conditional(s: &dyn Store) {
    let r1 = s.create("/k", b"1".to_vec()).unwrap();
    assert!(matches!(s.delete("/k", r1 + 100), Err(StoreError::Conflict { .. })));
    let (_, last) = s.delete("/k", r1).unwrap();
    assert_eq!(last.value.as_slice(), b"1");
    assert_eq!(s.get("/k").unwrap(), None);
    assert_eq!(s.delete("/k", 0).unwrap_err(), StoreError::NotFound);
    s.create("/k", b"again".to_vec()).unwrap();
    s.delete("/k", 0).unwrap();
}

pub fn range_pages_in_key_order(s: &dyn Store) {
    for k in ["/p/c", "/p/a", "/q/x", "/p/b", "/o/z"] {
        s.create(k, k.as_bytes().to_vec()).unwrap();
    }
    let all = s.range("/p/", "", 0).unwrap();
    let keys: Vec<&str> = all.kvs.iter().map(|kv| kv.key.as_str()).collect();
    assert_eq!(keys, ["/p/a", "/p/b", "/p/c"]);
    assert!(!all.more);
    assert_eq!(all.revision, s.revision());
    let first = s.range("/p/", "", 2).unwrap();
    assert_eq!(first.kvs.len(), 2);
    assert!(first.more);
    let rest = s.range("/p/", &first.kvs[1].key, 2).unwrap();
    assert_eq!(rest.kvs.iter().map(|kv| kv.key.as_str()).collect::<Vec<_>>(), ["/p/c"]);
    assert!(!rest.more);
}

pub fn range_at_reads_one_revision(s: &dyn Store) {
    let r1 = s.create("/p/a", b"1".to_vec()).unwrap();
    s.create("/q/a", vec![]).unwrap();
    let r = s.revision();
    let now = s.range_at("/p/", r).unwrap();
    assert_eq!((now.kvs.len(), now.revision), (1, r));
    assert_eq!(now.kvs[0].mod_revision, r1);
    s.update("/p/a", b"2".to_vec(), r1).unwrap();
    s.create("/p/b", vec![]).unwrap();
    // An older revision: as it was then, or refused as compacted (a store
    // that keeps no old versions) — never today's contents.
    match s.range_at("/p/", r) {
        Ok(then) => assert_eq!(then.kvs.iter().map(|kv| (kv.key.as_str(), kv.value.as_slice())).collect::<Vec<_>>(), [("/p/a", &b"1"[..])]),
        Err(StoreError::Compacted { .. }) => {}
        Err(e) => panic!("range_at an older revision: {e}"),
    }
}

pub fn events_since_replays_every_change_in_order(s: &dyn Store) {
    let start = s.revision();
    let r1 = s.create("/a", b"1".to_vec()).unwrap();
    let r2 = s.create("/b", b"1".to_vec()).unwrap();
    s.update("/a", b"2".to_vec(), r1).unwrap();
    s.delete("/b", r2).unwrap();
    let evs = s.events_since(start, 0).unwrap();
    let seen: Vec<(EventKind, &str, u64)> = evs.iter().map(|e| (e.kind.clone(), e.kv.key.as_str(), e.revision)).collect();
    assert_eq!(seen, vec![(EventKind::Put, "/a", start + 1), (EventKind::Put, "/b", start + 2), (EventKind::Put, "/a", start + 3), (EventKind::Delete, "/b", start + 4)]);
    assert_eq!(evs[2].prev.as_ref().unwrap().value.as_slice(), b"1");
    assert_eq!(s.events_since(start + 2, 0).unwrap().len(), 2);
    assert_eq!(s.events_since(start, 1).unwrap().len(), 1);
    assert!(s.events_since(s.revision(), 0).unwrap().is_empty());
}

pub fn compaction_makes_old_revisions_too_old(s: &dyn Store) {
    let start = s.revision();
    let r1 = s.create("/a", b"1".to_vec()).unwrap();
    let r2 = s.update("/a", b"2".to_vec(), r1).unwrap();
    s.compact(r2).unwrap();
    assert!(matches!(s.events_since(start, 0), Err(StoreError::Compacted { .. })));
    assert!(s.events_since(r2, 0).unwrap().is_empty());
    // The data itself is not affected.
    assert_eq!(s.get("/a").unwrap().unwrap().mod_revision, r2);
}

pub fn subscribers_are_told_of_each_write(s: &dyn Store) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    let n = Arc::new(AtomicUsize::new(0));
    let n2 = n.clone();
    s.subscribe(Arc::new(move || {
        n2.fetch_add(1, Ordering::SeqCst);
    }));
    let r = s.create("/a", vec![]).unwrap();
    s.update("/a", vec![1], r).unwrap();
    let _ = s.create("/a", vec![]);
    assert_eq!(n.load(Ordering::SeqCst), 2, "one notification per committed write, none for a refused one");
}

pub fn oversized_values_are_refused(s: &dyn Store) {
    let big = vec![0u8; crate::MAX_VALUE_BYTES + 1];
    assert!(matches!(s.create("/big", big), Err(StoreError::TooLarge(_))));
    assert!(s.create("/ok", vec![0u8; crate::MAX_VALUE_BYTES]).is_ok());
    let long_key = format!("/{}", "k".repeat(crate::MAX_KEY_BYTES));
    assert!(matches!(s.create(&long_key, vec![]), Err(StoreError::TooLarge(_))));
    assert!(s.create(&long_key[..crate::MAX_KEY_BYTES], vec![]).is_ok(), "a key at the bound is stored");
}
