//! The embedded store's administration end to end, as a user runs it:
//! `podchain store snapshot save` from a running server while clients
//! write, `podchain store snapshot restore` into a new data directory that a
//! server then serves, `podchain store check`, and what a damaged log does to
//! both `check` and the server (a flipped byte mid-log: refused, nothing
//! changed; a torn tail: reported, then cut on opening).

use client::{Client, Method};
use podstore::Store;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Output};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tests::{free_port, podchain_bin, temp_dir, wait_healthy, Proc};

const T: Duration = Duration::from_secs(30);
const LEASES: &str = "/apis/coordination.k8s.io/v1/namespaces/default/leases";

fn podchain(args: &[&str]) -> Output {
    Command::new(podchain_bin()).args(args).output().expect("podchain runs")
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

fn start_server(dir: &Path, data: &Path) -> (Proc, Client) {
    let api = format!("127.0.0.1:{}", free_port());
    let args: Vec<String> = ["apiserver", "--data-dir", data.to_str().unwrap(), "--listen", &api].map(String::from).to_vec();
    let p = Proc::start(&format!("apiserver-{}", data.file_name().unwrap().to_string_lossy()), &args, dir);
    (p, Client::new(&format!("http://{api}"), None, "store-test"))
}

async fn create_lease(c: &Client, name: &str) -> Result<u64, String> {
    let body = json!({"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": {"name": name}, "spec": {"holderIdentity": name}});
    let v = c.request(Method::POST, LEASES, Some((serde_json::to_vec(&body).unwrap(), "application/json"))).await.map_err(|e| e.message)?;
    Ok(v["metadata"]["resourceVersion"].as_str().and_then(|s| s.parse().ok()).expect("a resourceVersion"))
}

async fn leases(c: &Client) -> BTreeMap<String, u64> {
    let v: Value = c.request(Method::GET, LEASES, None).await.expect("list leases");
    v["items"].as_array().unwrap().iter().map(|o| (o["metadata"]["name"].as_str().unwrap().to_string(), o["metadata"]["resourceVersion"].as_str().unwrap().parse().unwrap())).collect()
}

/// Runs `podchain server` on `data` and returns how it exited, failing the
/// test if it is still serving after `T` (it was expected to refuse).
fn server_refuses(data: &Path) -> String {
    let mut child = Command::new(podchain_bin())
        .args(["server", "--data-dir", data.to_str().unwrap(), "--listen", &format!("127.0.0.1:{}", free_port())])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > T {
            child.kill().unwrap();
            panic!("the server started on a corrupt store");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    text(&out)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_snapshot_taken_under_writes_restores_into_a_server_at_its_revision() {
    let dir = temp_dir("store-snapshot");
    let (d1, d2) = (dir.join("one"), dir.join("two"));
    let (mut server, c) = start_server(&dir, &d1);
    wait_healthy(c.base(), T).await;

    // Writers create leases before, during and after the snapshot.
    let stop = Arc::new(AtomicBool::new(false));
    let mut writers = Vec::new();
    for w in 0..4 {
        let (c, stop) = (c.clone(), stop.clone());
        writers.push(tokio::spawn(async move {
            let mut acked = Vec::new();
            let mut i = 0;
            while !stop.load(Ordering::Relaxed) || i < 50 {
                let name = format!("w{w}-{i}");
                acked.push((name.clone(), create_lease(&c, &name).await.unwrap()));
                i += 1;
            }
            acked
        }));
    }
    while leases(&c).await.len() < 100 {
        tokio::task::yield_now().await;
    }
    let file = dir.join("snap.db");
    let kubeconfig = d1.join("kubeconfig");
    let saved = tokio::task::spawn_blocking({
        let (file, kubeconfig) = (file.clone(), kubeconfig.clone());
        move || podchain(&["store", "snapshot", "save", file.to_str().unwrap(), "--kubeconfig", kubeconfig.to_str().unwrap()])
    })
    .await
    .unwrap();
    stop.store(true, Ordering::Relaxed);
    assert!(saved.status.success(), "{}", text(&saved));
    let mut acked = BTreeMap::new();
    for w in writers {
        acked.extend(w.await.unwrap());
    }
    let info = podstore::snapshot::verify(&std::fs::read(&file).unwrap()).unwrap();
    assert!(text(&saved).contains(&format!("at revision {}", info.revision)), "{}", text(&saved));
    server.kill();

    // The data directory the server left is whole.
    let check = podchain(&["store", "check", d1.to_str().unwrap()]);
    assert!(check.status.success() && text(&check).contains("every record is intact"), "{}", text(&check));

    let restored = podchain(&["store", "snapshot", "restore", file.to_str().unwrap(), d2.to_str().unwrap()]);
    assert!(restored.status.success(), "{}", text(&restored));
    let again = podchain(&["store", "snapshot", "restore", file.to_str().unwrap(), d2.to_str().unwrap()]);
    assert!(!again.status.success() && text(&again).contains("restore into an empty data directory"), "{}", text(&again));

    // Consistent at one revision: exactly the leases acknowledged at or
    // before it, each at its acknowledged resourceVersion.
    let expected: BTreeMap<String, u64> = acked.iter().filter(|(_, rv)| **rv <= info.revision).map(|(n, rv)| (n.clone(), *rv)).collect();
    assert!(expected.len() >= 100 && expected.len() < acked.len(), "writes on both sides of the snapshot: {} of {}", expected.len(), acked.len());
    eprintln!("snapshot at revision {}: {} of {} acknowledged leases", info.revision, expected.len(), acked.len());
    let (mut server2, c2) = start_server(&dir, &d2);
    wait_healthy(c2.base(), T).await;
    assert_eq!(leases(&c2).await, expected);
    let next = create_lease(&c2, "after-restore").await.unwrap();
    assert!(next > info.revision, "the restored store goes on past the snapshot's revision: {next} after {}", info.revision);
    server2.kill();

    // A bumped restore starts past every revision the first server gave.
    let d3 = dir.join("three");
    let bumped = podchain(&["store", "snapshot", "restore", file.to_str().unwrap(), d3.to_str().unwrap(), "--bump-revision", "1000000"]);
    assert!(bumped.status.success(), "{}", text(&bumped));
    let s = podstore::Embedded::open(&d3.join("store")).unwrap().0;
    assert_eq!(s.revision(), info.revision + 1_000_000);
    assert!(s.revision() > *acked.values().max().unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_damaged_log_is_refused_mid_log_and_cut_at_a_torn_tail() {
    let dir = temp_dir("store-damage");
    let data = dir.join("data");
    let (mut server, c) = start_server(&dir, &data);
    wait_healthy(c.base(), T).await;
    for i in 0..200 {
        create_lease(&c, &format!("l-{i}")).await.unwrap();
    }
    let before = leases(&c).await;
    server.kill();
    let log = data.join("store/wal.log");
    let whole = std::fs::read(&log).unwrap();

    // A flipped byte in the middle: check and server both refuse, naming the place; nothing changes.
    let mut flipped = whole.clone();
    flipped[whole.len() / 2] ^= 0x20;
    std::fs::write(&log, &flipped).unwrap();
    let check = podchain(&["store", "check", data.to_str().unwrap()]);
    assert_eq!(check.status.code(), Some(1), "{}", text(&check));
    assert!(text(&check).contains("wal.log") && text(&check).contains("at offset") && text(&check).contains("corrupt"), "{}", text(&check));
    let refused = server_refuses(&data);
    assert!(refused.contains("at offset") && refused.contains("restore the store from a snapshot"), "{refused}");
    assert_eq!(std::fs::read(&log).unwrap(), flipped, "nothing was truncated");

    // A torn final record: check reports it, the server cuts it and serves the rest.
    std::fs::write(&log, &whole[..whole.len() - 5]).unwrap();
    let check = podchain(&["store", "check", data.to_str().unwrap()]);
    assert!(check.status.success() && text(&check).contains("a torn final record"), "{}", text(&check));
    let (mut server, c) = start_server(&dir, &data);
    wait_healthy(c.base(), T).await;
    let after = leases(&c).await;
    let last = before.iter().max_by_key(|(_, rv)| **rv).map(|(n, _)| n.clone()).unwrap();
    let mut expected = before.clone();
    expected.remove(&last);
    assert_eq!(after, expected, "every lease but the last write's");
    server.kill();
    assert!(std::fs::read(&log).unwrap().len() < whole.len() - 5, "the torn record was cut");
}
