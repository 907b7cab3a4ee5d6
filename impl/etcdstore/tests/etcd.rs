//! The store conformance suite and etcd's own refusals, against a real etcd
//! (Debian's etcd-server 3.4) started on loopback.

use etcdstore::{testing::Cluster, Etcd, Options};
use podstore::{Store, StoreError};
use std::sync::atomic::{AtomicUsize, Ordering};

fn tempdir(name: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("etcdstore-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn store(c: &Cluster, prefix: &str) -> Etcd {
    Etcd::connect(Options { prefix: prefix.into(), ..Options::new(c.endpoints()) }).unwrap()
}

#[test]
fn the_conformance_suite_holds_on_etcd() {
    let dir = tempdir("conformance");
    let c = Cluster::start(&dir, 1).unwrap();
    // Each check gets an empty store of its own: a fresh prefix.
    let n = AtomicUsize::new(0);
    podstore::conformance::run_all(&|| Box::new(store(&c, &format!("/conformance-{}", n.fetch_add(1, Ordering::SeqCst)))));
    // The empty prefix (the whole key space, as `--store etcd://` uses it).
    podstore::conformance::revisions_increase_by_one_per_write(&store(&c, ""));
}

#[test]
fn what_etcd_refuses_is_a_clear_error_and_stores_nothing() {
    let dir = tempdir("limits");
    let c = Cluster::start_with_args(&dir, 1, &["--max-request-bytes", "1048576"]).unwrap();
    let s = store(&c, "");
    let before = s.revision();
    match s.create("/big", vec![b'x'; 2 << 20]) {
        Err(StoreError::TooLarge(m)) => assert!(m.contains("--max-request-bytes") && m.contains(&etcdstore::MIN_ETCD_REQUEST_BYTES.to_string()), "{m}"),
        other => panic!("a request over etcd's limit must be TooLarge, got {other:?}"),
    }
    assert_eq!(s.get("/big").unwrap(), None);
    assert_eq!(s.revision(), before);
    // Within podstore's own limit but over etcd's: the same answer for an update.
    let r = s.create("/small", vec![1]).unwrap();
    assert!(matches!(s.update("/small", vec![b'x'; 2 << 20], r), Err(StoreError::TooLarge(_))));
    assert_eq!(s.get("/small").unwrap().unwrap().mod_revision, r);
}

#[test]
fn history_is_held_up_to_its_bounds() {
    let dir = tempdir("held");
    let c = Cluster::start(&dir, 1).unwrap();
    let s = Etcd::connect(Options { prefix: "/held".into(), held_events: 3, ..Options::new(c.endpoints()) }).unwrap();
    let start = s.revision();
    for k in ["/a", "/b", "/c"] {
        s.create(k, vec![]).unwrap();
    }
    assert_eq!(s.events_since(start, 0).unwrap().len(), 3, "three events are held at a bound of three");
    s.create("/d", vec![]).unwrap();
    assert!(matches!(s.events_since(start, 0), Err(StoreError::Compacted { compacted }) if compacted == start + 1));
    let keys: Vec<String> = s.events_since(start + 1, 0).unwrap().into_iter().map(|e| e.kv.key).collect();
    assert_eq!(keys, ["/b", "/c", "/d"]);

    // By bytes: each event counts its key and value (and the previous ones).
    let s = Etcd::connect(Options { prefix: "/bytes".into(), held_bytes: 2 * (2 + 40), ..Options::new(c.endpoints()) }).unwrap();
    let start = s.revision();
    s.create("/a", vec![0; 40]).unwrap();
    s.create("/b", vec![0; 40]).unwrap();
    assert_eq!(s.events_since(start, 0).unwrap().len(), 2, "two events of 42 bytes are held at a bound of 84");
    s.create("/c", vec![0; 40]).unwrap();
    assert!(matches!(s.events_since(start, 0), Err(StoreError::Compacted { .. })));
    assert_eq!(s.events_since(start + 1, 0).unwrap().len(), 2);
}

/// Waits (on the store's own notifications, up to a deadline) until
/// `events_since(after)` holds an event at revision `r`.
fn wait_for_event(s: &Etcd, rx: &std::sync::mpsc::Receiver<()>, after: u64, r: u64) -> Vec<podstore::Event> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let evs = s.events_since(after, 0).unwrap();
        if evs.iter().any(|e| e.revision == r) {
            return evs;
        }
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        assert!(!left.is_zero(), "revision {r} never arrived; held: {:?}", evs.iter().map(|e| e.revision).collect::<Vec<_>>());
        let _ = rx.recv_timeout(left);
    }
}

fn notifications(s: &Etcd) -> std::sync::mpsc::Receiver<()> {
    let (tx, rx) = std::sync::mpsc::channel();
    let tx = std::sync::Mutex::new(tx);
    s.subscribe(std::sync::Arc::new(move || {
        let _ = tx.lock().unwrap().send(());
    }));
    rx
}

#[test]
fn writes_of_another_client_arrive_in_order_with_their_previous_values() {
    let dir = tempdir("two-clients");
    let c = Cluster::start(&dir, 1).unwrap();
    let (a, b) = (store(&c, "/shared"), store(&c, "/shared"));
    let rx = notifications(&b);
    let start = b.revision();
    let r1 = a.create("/k", b"1".to_vec()).unwrap();
    let r2 = a.update("/k", b"2".to_vec(), r1).unwrap();
    let (r3, _) = a.delete("/k", r2).unwrap();
    let evs = wait_for_event(&b, &rx, start, r3);
    let seen: Vec<(podstore::EventKind, u64, Option<u64>)> = evs.iter().map(|e| (e.kind.clone(), e.revision, e.prev.as_ref().map(|p| p.mod_revision))).collect();
    use podstore::EventKind::{Delete, Put};
    assert_eq!(seen, [(Put, r1, None), (Put, r2, Some(r1)), (Delete, r3, Some(r2))]);
    assert_eq!(evs[2].kv.value.as_slice(), b"2", "a deletion carries the last value");
    assert!(b.revision() >= r3);
    // A linearizable read through b sees a's write at once.
    let r4 = a.create("/k", b"again".to_vec()).unwrap();
    assert_eq!(b.get("/k").unwrap().unwrap().mod_revision, r4);
}

#[test]
fn the_watch_resumes_without_a_gap_after_its_member_restarts() {
    let dir = tempdir("restart");
    let mut c = Cluster::start(&dir, 1).unwrap();
    let s = store(&c, "/restart");
    let rx = notifications(&s);
    let start = s.revision();
    let r1 = s.create("/before", vec![]).unwrap();
    c.restart(0).unwrap();
    // Until the member is back a write fails as Io (its outcome unknown:
    // a retry may find it done).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        match s.create("/after", vec![]) {
            Ok(_) | Err(StoreError::AlreadyExists) => break,
            Err(StoreError::Io(e)) => assert!(std::time::Instant::now() < deadline, "etcd did not come back: {e}\n{}", c.log_tail()),
            Err(e) => panic!("{e}"),
        }
    }
    let r2 = s.get("/after").unwrap().unwrap().mod_revision;
    let evs = wait_for_event(&s, &rx, start, r2);
    let seen: Vec<(String, u64)> = evs.iter().map(|e| (e.kv.key.clone(), e.revision)).collect();
    assert_eq!(seen, [("/before".to_string(), r1), ("/after".to_string(), r2)]);
}

#[test]
fn the_apiservers_sharing_an_etcd_compact_it_in_turn() {
    let dir = tempdir("compaction");
    let c = Cluster::start(&dir, 1).unwrap();
    let every = std::time::Duration::from_millis(300);
    let opts = Options { prefix: "/compacted".into(), compaction_interval: Some(every), ..Options::new(c.endpoints()) };
    let connected = std::time::Instant::now();
    let (a, b) = (Etcd::connect(opts.clone()).unwrap(), Etcd::connect(opts).unwrap());
    let start = a.revision();
    let r1 = a.create("/k", b"1".to_vec()).unwrap();
    a.update("/k", b"2".to_vec(), r1).unwrap();
    // Within a few intervals etcd's history at r1 is gone (what a watch
    // re-opened from r1 would need).
    let deadline = std::time::Instant::now() + 20 * every;
    while !etcd_compacted_past(&c, r1) {
        assert!(std::time::Instant::now() < deadline, "etcd was not compacted past {r1} within 20 intervals");
        std::thread::sleep(every / 3);
    }
    // The data is untouched, and the history each store holds still answers.
    assert_eq!(b.get("/k").unwrap().unwrap().value.as_slice(), b"2");
    assert!(a.events_since(start, 0).unwrap().iter().any(|e| e.revision == r1));
    // Each interval one of the two won the turn: the turn key's version
    // counts the turns, never more than the intervals elapsed (both
    // compacting would count two a turn).
    drop((a, b));
    let intervals = (connected.elapsed().as_millis() / every.as_millis()) as i64;
    let turns = turn_key_version(&c, &format!("/compacted{}", etcdstore::COMPACT_KEY));
    assert!(turns >= 1 && turns <= intervals + 1, "{turns} turns in {intervals} intervals");
}

fn turn_key_version(c: &Cluster, key: &str) -> i64 {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let mut cl = etcd_client::Client::connect(c.endpoints(), None).await.unwrap();
        cl.get(key, None).await.unwrap().kvs().first().map_or(0, |kv| kv.version())
    })
}

/// Whether etcd refuses a read at revision `r` as compacted.
fn etcd_compacted_past(c: &Cluster, r: u64) -> bool {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let mut cl = etcd_client::Client::connect(c.endpoints(), None).await.unwrap();
        match cl.get("/compacted/k", Some(etcd_client::GetOptions::new().with_revision(r as i64))).await {
            Ok(_) => false,
            Err(e) => {
                assert!(e.to_string().contains("compacted"), "{e}");
                true
            }
        }
    })
}

#[test]
fn sync_returns_once_every_acknowledged_write_of_any_client_is_told() {
    let dir = tempdir("sync");
    let c = Cluster::start(&dir, 1).unwrap();
    let (a, b) = (store(&c, "/sync"), store(&c, "/sync"));
    let start = b.revision();
    for n in 0..50 {
        let r = a.create(&format!("/k{n}"), vec![]).unwrap();
        // No waiting on b's side beyond sync: once it returns, b holds r.
        assert!(b.sync().unwrap() >= r);
        assert!(b.events_since(start, 0).unwrap().iter().any(|e| e.revision == r), "b synced without revision {r}");
    }
    // etcd's revision moved by a key outside b's prefix: b's watch (of the
    // whole key space) is there all the same.
    let r = store(&c, "/elsewhere").create("/x", vec![]).unwrap();
    assert!(b.sync().unwrap() >= r);
    assert!(b.revision() >= r);
    assert!(b.shared());
}

/// A read with no member to answer it is sent `MAX_TRIES + 1` times, then
/// fails as `Io`; so is a write that could not be sent.
#[test]
fn a_request_no_member_answers_is_tried_max_tries_times_more() {
    let dir = tempdir("tries");
    let mut c = Cluster::start(&dir, 1).unwrap();
    let s = store(&c, "/tries");
    s.create("/k", vec![]).unwrap();
    c.kill(0);
    let before = s.requests_sent();
    assert!(matches!(s.get("/k"), Err(StoreError::Io(_))));
    assert_eq!(s.requests_sent() - before, etcdstore::MAX_TRIES as u64 + 1);
    let before = s.requests_sent();
    assert!(matches!(s.create("/never", vec![]), Err(StoreError::Io(_))));
    assert_eq!(s.requests_sent() - before, etcdstore::MAX_TRIES as u64 + 1, "a write never sent is tried again as often");
}
