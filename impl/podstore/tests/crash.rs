//! Power loss under load: the embedded store on a `MemDisk`, clients
//! creating, updating, deleting and reading on several threads, and at a
//! seeded moment the power goes: every byte not yet fsynced is lost but a
//! seeded prefix of it (a torn write), the store's open files are dead. The
//! store is opened again on what the disk kept, and so on, cycle after
//! cycle. Unlike kill -9 (which keeps the page cache: `tests/tests/crash.rs`
//! does that to the real server), this shows that an acknowledgement
//! follows its fsync. The whole history, every answer and every request the
//! crash cut, must be linearizable (`podstore::history`), which no lost
//! acknowledged write, no revision going backwards and no torn record taken
//! for a write can be.
//!
//! `PODCHAIN_CRASH_SEED=N` replays a seed: the operations each client picks
//! and the crash points are the seed's (the threads' interleaving is the
//! machine's).

use podstore::disk::MemDisk;
use podstore::history::{check, History, Op, Ret, Rng};
use podstore::{Embedded, Store, StoreError};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

const CYCLES: u64 = 30;
const CLIENTS: usize = 6;
const KEYS: u64 = 10;
/// Requests a client makes on the shared keys per cycle; after them, only
/// creates of keys of its own. Writes wait for their fsync, but a request
/// the store answers at once (a conflict, a read, a create of a key that
/// exists) does not: while the power is held back mid-commit, a client
/// could pile thousands of those on one key, past what the checker
/// searches (`MAX_OPS_PER_KEY`), as one CI run did. A create of a new key
/// always waits for its fsync, so the crash still meets writes in flight.
const SHARED_KEY_OPS_PER_CYCLE: usize = 80;

fn seed() -> u64 {
    std::env::var("PODCHAIN_CRASH_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(20261204)
}

/// One client's requests until the power goes.
fn client(id: usize, store: Arc<Embedded>, history: Arc<History>, down: Arc<AtomicBool>, done_ops: Arc<AtomicUsize>, mut rng: Rng, cycle: u64) {
    let mut known: HashMap<String, u64> = HashMap::new();
    let mut n = 0;
    while !down.load(Ordering::SeqCst) {
        let value = format!("c{id}-{cycle}-{n}");
        if n >= SHARED_KEY_OPS_PER_CYCLE {
            let key = format!("/own/{id}/{cycle}/{n}");
            n += 1;
            let called = history.now();
            let ret = match store.create(&key, value.clone().into_bytes()) {
                Ok(r) => Ret::Written(r),
                Err(StoreError::Io(_)) => Ret::Unknown,
                Err(e) => panic!("client {id}: a create of a new key: {e}"),
            };
            let answered = if ret == Ret::Unknown { u64::MAX } else { history.now() };
            history.record(id, &key, Op::Create { value }, ret, called, answered);
            done_ops.fetch_add(1, Ordering::SeqCst);
            continue;
        }
        let key = format!("/k{}", rng.below(KEYS));
        n += 1;
        let expected = match known.get(&key) {
            Some(r) if rng.below(10) > 0 => *r,
            // Now and then a version this client never saw.
            _ => 1 + rng.below(1000),
        };
        let op = match rng.below(20) {
            0..=5 => Op::Get,
            6..=10 => Op::Create { value: value.clone() },
            11..=16 => Op::Update { value: value.clone(), expected },
            _ => Op::Delete { expected: if rng.below(4) == 0 { 0 } else { expected } },
        };
        let called = history.now();
        let ret = match &op {
            Op::Get => store.get(&key).map(|kv| Ret::Read(kv.map(|kv| (String::from_utf8(kv.value.to_vec()).unwrap(), kv.mod_revision)))),
            Op::Create { value } => store.create(&key, value.clone().into_bytes()).map(Ret::Written),
            Op::Update { value, expected } => store.update(&key, value.clone().into_bytes(), *expected).map(Ret::Written),
            Op::Delete { expected } => store.delete(&key, *expected).map(|_| Ret::Deleted),
        };
        let ret = match ret {
            Ok(r) => r,
            Err(StoreError::AlreadyExists) => Ret::AlreadyExists,
            Err(StoreError::NotFound) => Ret::NotFound,
            Err(StoreError::Conflict { current }) => Ret::Conflict(Some((String::from_utf8(current.value.to_vec()).unwrap(), current.mod_revision))),
            // The log failed: the power went. Its answer is the crash's.
            Err(StoreError::Io(_)) => Ret::Unknown,
            Err(e) => panic!("client {id}: {e}"),
        };
        match &ret {
            Ret::Written(r) | Ret::Read(Some((_, r))) | Ret::Conflict(Some((_, r))) => {
                known.insert(key.clone(), *r);
            }
            Ret::Deleted | Ret::Read(None) | Ret::NotFound => {
                known.remove(&key);
            }
            _ => {}
        }
        // The crash's instant is recorded when it happens; an unknown
        // outcome is given it as its deadline afterwards.
        let answered = if ret == Ret::Unknown { u64::MAX } else { history.now() };
        history.record(id, &key, op, ret, called, answered);
        done_ops.fetch_add(1, Ordering::SeqCst);
    }
}

#[test]
fn every_acknowledged_write_survives_power_loss_and_the_history_is_linearizable() {
    let seed = seed();
    let mut rng = Rng::new(seed);
    let disk = MemDisk::new();
    let history = Arc::new(History::new());
    let mut kept = Vec::new();
    let mut torn = 0;
    for cycle in 0..CYCLES {
        let (store, report) = Embedded::open_on(Arc::new(disk.clone())).unwrap_or_else(|e| panic!("seed {seed}, cycle {cycle}: the store does not open after the crash: {e}"));
        torn += report.cut.is_some() as u64;
        let store = Arc::new(store);
        // Every key read first: what the crash kept.
        for k in 0..KEYS {
            let key = format!("/k{k}");
            let called = history.now();
            let read = store.get(&key).unwrap().map(|kv| (String::from_utf8(kv.value.to_vec()).unwrap(), kv.mod_revision));
            history.record(usize::MAX, &key, Op::Get, Ret::Read(read), called, history.now());
        }
        let down = Arc::new(AtomicBool::new(false));
        let done_ops = Arc::new(AtomicUsize::new(0));
        let threads: Vec<_> = (0..CLIENTS)
            .map(|id| {
                let (s, h, d, o) = (store.clone(), history.clone(), down.clone(), done_ops.clone());
                let r = Rng::new(seed ^ (cycle << 32) ^ (id as u64 + 1).wrapping_mul(0x9e37_79b9));
                std::thread::spawn(move || client(id, s, h, d, o, r, cycle))
            })
            .collect();
        let crash_after = 20 + rng.below(300) as usize;
        while done_ops.load(Ordering::SeqCst) < crash_after {
            std::thread::yield_now();
        }
        // The power goes: a seeded part of what was not yet synced reached the disk.
        let mut keep = Rng::new(rng.next());
        // Most often in the middle of a group commit: its batch appended,
        // its fsync not done.
        let mid_commit = rng.below(4) > 0;
        if mid_commit {
            disk.hold_syncs();
            disk.wait_for_held_syncs(1);
        }
        down.store(true, Ordering::SeqCst);
        let at = history.now();
        disk.crash_keeping(|n| if keep.below(3) == 0 { 0 } else { keep.below(n as u64 + 1) as usize });
        disk.release_syncs();
        for t in threads {
            t.join().unwrap();
        }
        drop(store);
        // What a client asked after the crash, a dead process answered:
        // not part of the history. An unknown outcome had taken effect by
        // the crash, or never.
        for mut e in history.take() {
            if e.called > at {
                continue;
            }
            if e.ret == Ret::Unknown {
                e.answered = at;
            }
            kept.push(e);
        }
    }
    let sum = check(&kept).unwrap_or_else(|e| panic!("seed {seed}: {e}"));
    eprintln!("seed {seed}: {CYCLES} power losses ({torn} left a torn write to cut), {sum:?}");
    assert!(sum.acknowledged_writes > 500 && sum.unknown > 0 && torn > 0, "the crashes hit writes in flight and tore some: {sum:?}");
}
