//! Crashes under load, against the real processes: clients create, update,
//! delete and read leases over HTTP while a fault is injected at seeded
//! moments, cycle after cycle; the whole history, every answer and every
//! request a fault cut short, must be linearizable (`podstore::history`), so
//! no acknowledged write is lost and no resourceVersion goes backwards.
//!
//! - the embedded store: `podchain apiserver` killed with SIGKILL and
//!   restarted, 20 times (kill -9 keeps the page cache; power loss is
//!   `impl/podstore/tests/crash.rs`);
//! - on etcd: one of three etcd members killed and restarted, while the
//!   apiserver goes on;
//! - on etcd: one of two apiservers killed and restarted, while the clients
//!   fail over to the other (each client lists both, its own first).
//!
//! `PODCHAIN_CRASH_SEED=N` replays a seed's operations and fault points.

use client::{Client, Method};
use podstore::history::{check, History, Op, Ret, Rng, Summary};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tests::{free_port, temp_dir, wait_healthy, Proc};

const T: Duration = Duration::from_secs(30);
const LEASES: &str = "/apis/coordination.k8s.io/v1/namespaces/default/leases";
const KEYS: u64 = 8;
const CLIENTS: usize = 4;

fn seed() -> u64 {
    std::env::var("PODCHAIN_CRASH_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(20261204)
}

fn lease(name: &str, holder: &str, rv: Option<u64>) -> Vec<u8> {
    let mut meta = json!({"name": name});
    if let Some(rv) = rv {
        meta["resourceVersion"] = json!(rv.to_string());
    }
    serde_json::to_vec(&json!({"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": meta, "spec": {"holderIdentity": holder}})).unwrap()
}

fn rv_of(v: &Value) -> u64 {
    v["metadata"]["resourceVersion"].as_str().and_then(|s| s.parse().ok()).expect("a resourceVersion")
}

/// One operation over HTTP, and its answer as the history has it: a 5xx or
/// no answer at all is an unknown outcome.
async fn run(c: &Client, key: &str, op: &Op) -> Ret {
    let path = format!("{LEASES}/{key}");
    let json = "application/json";
    let r = match op {
        Op::Get => c.request(Method::GET, &path, None).await,
        Op::Create { value } => c.request(Method::POST, LEASES, Some((lease(key, value, None), json))).await,
        Op::Update { value, expected } => c.request(Method::PUT, &path, Some((lease(key, value, Some(*expected)), json))).await,
        Op::Delete { expected } => {
            let mut opts = json!({"kind": "DeleteOptions", "apiVersion": "v1"});
            if *expected != 0 {
                opts["preconditions"] = json!({"resourceVersion": expected.to_string()});
            }
            c.request(Method::DELETE, &path, Some((serde_json::to_vec(&opts).unwrap(), json))).await
        }
    };
    match (op, r) {
        (Op::Get, Ok(v)) => Ret::Read(Some((v["spec"]["holderIdentity"].as_str().unwrap_or_default().to_string(), rv_of(&v)))),
        (Op::Create { .. } | Op::Update { .. }, Ok(v)) => Ret::Written(rv_of(&v)),
        (Op::Delete { .. }, Ok(_)) => Ret::Deleted,
        (_, Err(e)) if e.code >= 500 => Ret::Unknown,
        (Op::Get, Err(e)) if e.code == 404 => Ret::Read(None),
        (_, Err(e)) if e.code == 404 => Ret::NotFound,
        (Op::Create { .. }, Err(e)) if e.code == 409 && e.reason == "AlreadyExists" => Ret::AlreadyExists,
        (_, Err(e)) if e.code == 409 && e.reason == "Conflict" => Ret::Conflict(None),
        (_, Err(e)) => panic!("{op:?} on {key}: unexpected answer {} {}: {}", e.code, e.reason, e.message),
    }
}

/// One client: seeded operations until `stop`.
async fn client(id: usize, c: Client, history: Arc<History>, stop: Arc<AtomicBool>, done: Arc<AtomicUsize>, mut rng: Rng, cycle: u64) {
    let mut known: HashMap<String, u64> = HashMap::new();
    let mut n = 0;
    while !stop.load(Ordering::SeqCst) {
        let key = format!("k{}", rng.below(KEYS));
        let value = format!("c{id}-{cycle}-{n}");
        n += 1;
        let expected = match known.get(&key) {
            Some(r) if rng.below(10) > 0 => *r,
            _ => 1 + rng.below(1000),
        };
        let op = match rng.below(20) {
            0..=5 => Op::Get,
            6..=10 => Op::Create { value },
            11..=16 => Op::Update { value, expected },
            _ => Op::Delete { expected: if rng.below(4) == 0 { 0 } else { expected } },
        };
        let called = history.now();
        let ret = run(&c, &key, &op).await;
        match &ret {
            Ret::Written(r) | Ret::Read(Some((_, r))) => {
                known.insert(key.clone(), *r);
            }
            Ret::Deleted | Ret::Read(None) | Ret::NotFound => {
                known.remove(&key);
            }
            _ => {}
        }
        let answered = if ret == Ret::Unknown { u64::MAX } else { history.now() };
        history.record(id, &key, op, ret, called, answered);
        done.fetch_add(1, Ordering::SeqCst);
    }
}

/// What a scenario does at each fault.
enum Fault {
    /// Stops the clients, then the process they all use; `restart` brings it
    /// back before the next cycle. A request cut by the kill took effect
    /// before it or never.
    KillEveryClientsServer,
    /// Kills a part the clients can do without and keeps the load running;
    /// `restart` brings it back. A request cut short may take effect at any
    /// later time (its transaction may reach etcd after the error).
    KillAPart,
}

/// Cycles of load and faults; `kill(cycle, rng)` injects one, `restart(cycle)`
/// undoes it. Returns the checked history's summary.
async fn crash_cycles<K, R, RF>(cycles: u64, fault: Fault, clients: Vec<Client>, mut kill: K, mut restart: R) -> Summary
where
    K: FnMut(u64, &mut Rng),
    R: FnMut(u64) -> RF,
    RF: std::future::Future<Output = ()>,
{
    let seed = seed();
    let mut rng = Rng::new(seed);
    let history = Arc::new(History::new());
    let mut kept = Vec::new();
    for cycle in 0..cycles {
        // Every key read first: what the fault left.
        for k in 0..KEYS {
            let key = format!("k{k}");
            let called = history.now();
            let ret = run(&clients[0], &key, &Op::Get).await;
            assert_ne!(ret, Ret::Unknown, "cycle {cycle}: the cluster answers again after its restart");
            history.record(usize::MAX, &key, Op::Get, ret, called, history.now());
        }
        let stop = Arc::new(AtomicBool::new(false));
        let done = Arc::new(AtomicUsize::new(0));
        let tasks: Vec<_> = (0..CLIENTS)
            .map(|id| {
                let r = Rng::new(seed ^ (cycle << 32) ^ (id as u64 + 1).wrapping_mul(0x9e37_79b9));
                tokio::spawn(client(id, clients[id % clients.len()].clone(), history.clone(), stop.clone(), done.clone(), r, cycle))
            })
            .collect();
        let before = 50 + rng.below(250) as usize;
        while done.load(Ordering::SeqCst) < before {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        let at = match fault {
            Fault::KillEveryClientsServer => {
                stop.store(true, Ordering::SeqCst);
                kill(cycle, &mut rng);
                let at = history.now();
                for t in tasks {
                    t.await.unwrap();
                }
                restart(cycle).await;
                at
            }
            Fault::KillAPart => {
                kill(cycle, &mut rng);
                // Load goes on through the fault, then the part comes back.
                let through = done.load(Ordering::SeqCst) + 20 + rng.below(60) as usize;
                while done.load(Ordering::SeqCst) < through {
                    tokio::time::sleep(Duration::from_millis(2)).await;
                }
                restart(cycle).await;
                stop.store(true, Ordering::SeqCst);
                for t in tasks {
                    t.await.unwrap();
                }
                u64::MAX
            }
        };
        for mut e in history.take() {
            // Asked after the kill, of a dead process: no answer came, nothing happened.
            if e.called > at {
                assert_eq!(e.ret, Ret::Unknown, "a dead server answered {e:?}");
                continue;
            }
            if e.ret == Ret::Unknown {
                e.answered = at;
            }
            kept.push(e);
        }
    }
    let sum = check(&kept).unwrap_or_else(|e| panic!("seed {seed}: {e}"));
    assert!(sum.acknowledged_writes >= 3 * cycles as usize, "writes acknowledged in every cycle: {sum:?}");
    sum
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_apiserver_killed_20_times_under_load_loses_no_acknowledged_write() {
    let dir = temp_dir("crash-embedded");
    let api = format!("127.0.0.1:{}", free_port());
    let args: Vec<String> = ["apiserver", "--data-dir", dir.join("data").to_str().unwrap(), "--listen", &api].map(String::from).to_vec();
    let server = Arc::new(std::sync::Mutex::new(Proc::start("apiserver", &args, &dir)));
    let url = format!("http://{api}");
    wait_healthy(&url, T).await;
    let c = Client::new(&url, None, "crash-test");
    let (s1, s2) = (server.clone(), server.clone());
    let sum = crash_cycles(
        20,
        Fault::KillEveryClientsServer,
        vec![c],
        move |_, _| s1.lock().unwrap().kill(),
        move |_| {
            let (s, url) = (s2.clone(), url.clone());
            async move {
                s.lock().unwrap().restart();
                wait_healthy(&url, T).await;
            }
        },
    )
    .await;
    eprintln!("seed {}: 20 kill -9 cycles of the apiserver: {sum:?}", seed());
    assert!(sum.unknown > 0, "the kills cut requests in flight: {sum:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn etcd_members_killed_under_load_lose_no_acknowledged_write() {
    let dir = temp_dir("crash-etcd-member");
    let d = dir.clone();
    let etcd = tokio::task::spawn_blocking(move || etcdstore::testing::Cluster::start(&d, 3)).await.unwrap().expect("three etcd members start");
    let api = format!("127.0.0.1:{}", free_port());
    let args: Vec<String> = ["apiserver", "--data-dir", dir.join("data").to_str().unwrap(), "--listen", &api, "--store", &etcd.url()].map(String::from).to_vec();
    let _server = Proc::start("apiserver", &args, &dir);
    let url = format!("http://{api}");
    wait_healthy(&url, T).await;
    let etcd = Arc::new(std::sync::Mutex::new((etcd, 0usize)));
    let (e1, e2) = (etcd.clone(), etcd.clone());
    let sum = crash_cycles(
        6,
        Fault::KillAPart,
        vec![Client::new(&url, None, "crash-test")],
        move |_, rng| {
            let mut e = e1.lock().unwrap();
            let member = rng.below(3) as usize;
            e.1 = member;
            e.0.kill(member);
        },
        move |_| {
            let e = e2.clone();
            async move {
                tokio::task::spawn_blocking(move || {
                    let mut e = e.lock().unwrap();
                    let member = e.1;
                    e.0.restart(member).expect("the etcd member restarts");
                })
                .await
                .unwrap();
            }
        },
    )
    .await;
    eprintln!("seed {}: 6 etcd member kills: {sum:?}", seed());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_apiserver_replica_killed_under_load_while_clients_fail_over_loses_nothing() {
    let dir = temp_dir("crash-etcd-apiserver");
    let d = dir.clone();
    let etcd = tokio::task::spawn_blocking(move || etcdstore::testing::Cluster::start(&d, 3)).await.unwrap().expect("three etcd members start");
    let mut servers = Vec::new();
    let mut urls = Vec::new();
    for name in ["apiserver-a", "apiserver-b"] {
        let api = format!("127.0.0.1:{}", free_port());
        let args: Vec<String> = ["apiserver", "--data-dir", dir.join(name).to_str().unwrap(), "--listen", &api, "--store", &etcd.url()].map(String::from).to_vec();
        servers.push(Proc::start(name, &args, &dir));
        urls.push(format!("http://{api}"));
        wait_healthy(urls.last().unwrap(), T).await;
    }
    // Half the clients use A first, half B; each fails over to the other.
    let clients = vec![Client::new(&format!("{},{}", urls[0], urls[1]), None, "crash-test-a"), Client::new(&format!("{},{}", urls[1], urls[0]), None, "crash-test-b")];
    let servers = Arc::new(std::sync::Mutex::new((servers, 0usize)));
    let (s1, s2) = (servers.clone(), servers.clone());
    let sum = crash_cycles(
        6,
        Fault::KillAPart,
        clients,
        move |_, rng| {
            let mut s = s1.lock().unwrap();
            let which = rng.below(2) as usize;
            s.1 = which;
            s.0[which].kill();
        },
        move |_| {
            let (s, urls) = (s2.clone(), urls.clone());
            async move {
                let which = {
                    let mut s = s.lock().unwrap();
                    let which = s.1;
                    s.0[which].restart();
                    which
                };
                wait_healthy(&urls[which], T).await;
            }
        },
    )
    .await;
    drop(etcd);
    eprintln!("seed {}: 6 apiserver replica kills: {sum:?}", seed());
}
