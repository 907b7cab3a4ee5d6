//! Structured: arbitrary operations on the embedded store, with a watch
//! cache fed from its events, compared step by step with a plain map.
#![no_main]
use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use podstore::{Embedded, EventKind, Store, StoreError};
use std::collections::BTreeMap;
use std::sync::Arc;
use watchcache::{Event, Next, WatchCache};

#[derive(Arbitrary, Debug)]
enum Op {
    Create { key: u8, value: u8 },
    Update { key: u8, value: u8, stale: bool },
    Delete { key: u8, stale: bool },
    Compact { back: u8 },
    Watch { back: u8 },
}

const WINDOW: usize = 8;

fuzz_target!(|ops: Vec<Op>| {
    let store = Embedded::in_memory();
    let cache: WatchCache<Vec<u8>> = WatchCache::new(WINDOW, 0, []);
    let mut reference: BTreeMap<String, (Vec<u8>, u64)> = BTreeMap::new();
    let mut fed = 0u64;
    let mut watchers = Vec::new();
    for op in ops.into_iter().take(64) {
        let key = |k: u8| format!("/k/{}", k % 8);
        match op {
            Op::Create { key: k, value } => {
                let r = store.create(&key(k), vec![value]);
                match reference.get(&key(k)) {
                    Some(_) => assert_eq!(r, Err(StoreError::AlreadyExists)),
                    None => {
                        let rev = r.expect("create of a new key succeeds");
                        reference.insert(key(k), (vec![value], rev));
                    }
                }
            }
            Op::Update { key: k, value, stale } => {
                let expected = reference.get(&key(k)).map(|(_, r)| if stale { r + 1 } else { *r }).unwrap_or(1);
                let r = store.update(&key(k), vec![value], expected);
                match (reference.get(&key(k)), stale) {
                    (None, _) => assert_eq!(r, Err(StoreError::NotFound)),
                    (Some(_), true) => assert!(matches!(r, Err(StoreError::Conflict { .. }))),
                    (Some(_), false) => {
                        let rev = r.expect("a fresh update succeeds");
                        reference.insert(key(k), (vec![value], rev));
                    }
                }
            }
            Op::Delete { key: k, stale } => {
                let expected = reference.get(&key(k)).map(|(_, r)| if stale { r + 1 } else { *r }).unwrap_or(1);
                let r = store.delete(&key(k), expected);
                match (reference.get(&key(k)), stale) {
                    (None, _) => assert_eq!(r.unwrap_err(), StoreError::NotFound),
                    (Some(_), true) => assert!(matches!(r, Err(StoreError::Conflict { .. }))),
                    (Some(_), false) => {
                        r.expect("a fresh delete succeeds");
                        reference.remove(&key(k));
                    }
                }
            }
            Op::Compact { back } => {
                store.compact(store.revision().saturating_sub(back as u64)).unwrap();
            }
            Op::Watch { back } => {
                if let Ok(w) = cache.watch("/k/", Some(cache.revision().saturating_sub(back as u64))) {
                    watchers.push((w, Vec::<u64>::new()));
                }
            }
        }
        // Feed the cache as the apiserver does.
        if let Ok(evs) = store.events_since(fed, 0) {
            for e in evs {
                fed = e.revision;
                let value = match e.kind {
                    EventKind::Put => Some(Arc::new(e.kv.value.to_vec())),
                    EventKind::Delete => None,
                };
                cache.apply(Event { revision: e.revision, key: e.kv.key.clone(), value, prev: None });
            }
        }
        // The store, the cache and the reference agree.
        let range = store.range("/k/", "", 0).unwrap();
        let got: BTreeMap<String, (Vec<u8>, u64)> = range.kvs.iter().map(|kv| (kv.key.clone(), (kv.value.to_vec(), kv.mod_revision))).collect();
        assert_eq!(got, reference);
        let (listed, rev) = cache.list("/k/");
        assert_eq!(rev, fed);
        assert_eq!(listed.iter().map(|(k, v)| (k.clone(), (**v).clone())).collect::<Vec<_>>(), reference.iter().map(|(k, (v, _))| (k.clone(), v.clone())).collect::<Vec<_>>());
        assert!(cache.window_len() <= WINDOW);
        // Watchers: strictly increasing revisions, or told too old.
        for (w, seen) in watchers.iter_mut() {
            if let Next::Events(evs) = w.next_batch(4) {
                for e in evs {
                    assert!(seen.last().is_none_or(|l| *l < e.revision), "watch revisions increase");
                    seen.push(e.revision);
                }
            }
        }
    }
});
