//! Several apiservers on one etcd of three members (Debian's etcd-server,
//! started on loopback): each apiserver's watch cache is fed by etcd's
//! watch; a read without a resourceVersion through one sees every write
//! acknowledged by the other before it; a watch through one sees the
//! other's writes; a write racing one through the other is a 409; with an
//! etcd member killed, and then an apiserver killed, the clients of what is
//! left go on, and no acknowledged write is lost.

use client::{Client, ListOptions, Method, WatchEvent};
use podcore::object::Kind;
use serde_json::json;
use std::time::Duration;
use tests::{free_port, temp_dir, wait_for, wait_healthy, Proc};

const T: Duration = Duration::from_secs(30);
const LEASES: &str = "/apis/coordination.k8s.io/v1/namespaces/default/leases";

fn lease(name: &str, holder: &str, rv: Option<&str>) -> Vec<u8> {
    let mut meta = json!({"name": name, "namespace": "default"});
    if let Some(rv) = rv {
        meta["resourceVersion"] = json!(rv);
    }
    json!({"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": meta, "spec": {"holderIdentity": holder}}).to_string().into_bytes()
}

async fn lease_names(c: &Client) -> Result<Vec<String>, String> {
    let (items, _) = c.list(Kind::Lease, "default", &ListOptions::default()).await.map_err(|e| e.to_string())?;
    Ok(items.into_iter().map(|o| o.meta().name.clone()).collect())
}

fn rv_of(v: &serde_json::Value) -> String {
    v["metadata"]["resourceVersion"].as_str().expect("a resourceVersion").to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_apiservers_on_three_etcd_members() {
    let dir = temp_dir("etcd-ha");
    let d = dir.clone();
    let mut etcd = tokio::task::spawn_blocking(move || etcdstore::testing::Cluster::start(&d, 3)).await.unwrap().expect("three etcd members start");
    let start = |name: &str| {
        let listen = format!("127.0.0.1:{}", free_port());
        let args: Vec<String> = ["apiserver", "--data-dir", dir.join(name).to_str().unwrap(), "--listen", &listen, "--store", &etcd.url()].map(String::from).to_vec();
        (Proc::start(name, &args, &dir), format!("http://{listen}"))
    };
    let (mut a, url_a) = start("apiserver-a");
    let (b, url_b) = start("apiserver-b");
    wait_healthy(&url_a, T).await;
    wait_healthy(&url_b, T).await;
    let (ca, cb) = (Client::new(&url_a, None, "e2e-a"), Client::new(&url_b, None, "e2e-b"));
    let mut acknowledged = Vec::new();

    // 1. What one apiserver acknowledged is in the other's very next read.
    for n in 0..40 {
        let (via, other) = if n % 2 == 0 { (&ca, &cb) } else { (&cb, &ca) };
        let name = format!("lease-{n}");
        via.request(Method::POST, LEASES, Some((lease(&name, "x", None), "application/json"))).await.expect("create");
        acknowledged.push(name.clone());
        other.get(Kind::Lease, "default", &name).await.unwrap_or_else(|e| panic!("{name} acknowledged by one apiserver, not found by the other: {e}"));
        let names = lease_names(other).await.unwrap();
        assert!(names.contains(&name), "{name} acknowledged by one apiserver is missing from the other's list");
    }

    // 2. A watch through B sees A's update; a write through B against the
    //    version A replaced is a conflict.
    let (_, list_rv) = cb.list(Kind::Lease, "default", &ListOptions::default()).await.unwrap();
    let mut watch = cb.watch(Kind::Lease, "default", &ListOptions::default(), &list_rv, 60).await.expect("watch through B");
    let old = ca.request(Method::GET, &format!("{LEASES}/lease-0"), None).await.unwrap();
    let updated = ca.request(Method::PUT, &format!("{LEASES}/lease-0"), Some((lease("lease-0", "a", Some(&rv_of(&old))), "application/json"))).await.expect("update through A");
    match tokio::time::timeout(T, watch.next()).await {
        Ok(Some(Ok(WatchEvent::Modified(o)))) => {
            assert_eq!((o.meta().name.as_str(), o.meta().resource_version.as_str()), ("lease-0", rv_of(&updated).as_str()));
        }
        other => panic!("B's watch: expected A's update of lease-0, got {:?}", other.map(|o| o.map(|e| e.map(|e| format!("{e:?}").chars().take(200).collect::<String>())))),
    }
    let stale = cb.request(Method::PUT, &format!("{LEASES}/lease-0"), Some((lease("lease-0", "b", Some(&rv_of(&old))), "application/json"))).await;
    assert_eq!(stale.map(|_| ()).map_err(|e| e.code), Err(409), "a write through B at the version A replaced");

    // 3. One etcd member killed: both apiservers go on (after the cluster
    //    has elected a leader again, if it was the leader).
    tokio::task::block_in_place(|| etcd.kill(0));
    for n in 40..60 {
        let (via, other) = if n % 2 == 0 { (&ca, &cb) } else { (&cb, &ca) };
        let name = format!("lease-{n}");
        wait_for(&format!("{name} created with a member down"), T, || async {
            match via.request(Method::POST, LEASES, Some((lease(&name, "x", None), "application/json"))).await {
                Ok(_) => Ok(()),
                // A retry of a create whose first attempt was committed.
                Err(e) if e.code == 409 => Ok(()),
                Err(e) => Err(e.to_string()),
            }
        })
        .await;
        acknowledged.push(name.clone());
        other.get(Kind::Lease, "default", &name).await.unwrap_or_else(|e| panic!("{name} with a member down, not found by the other: {e}"));
    }

    // 4. Apiserver A killed: B's clients go on, and B holds every write
    //    either acknowledged.
    a.kill();
    cb.request(Method::POST, LEASES, Some((lease("after-a", "b", None), "application/json"))).await.expect("create through B with A gone");
    acknowledged.push("after-a".into());
    let names = lease_names(&cb).await.unwrap();
    for n in &acknowledged {
        assert!(names.contains(n), "{n} was acknowledged and is lost");
    }
    for p in [&a, &b] {
        assert!(!p.log_tail().contains("panicked"), "{} panicked:\n{}", p.name, p.log_tail());
    }
    drop(b);
    drop(etcd);
    let _ = std::fs::remove_dir_all(&dir);
}
