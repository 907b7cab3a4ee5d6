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
    //    either acknowledged; a client given both fails over to B.
    let both = Client::new(&format!("{url_a},{url_b}"), None, "e2e-both");
    assert_eq!(both.base(), url_a);
    a.kill();
    assert_eq!(lease_names(&both).await.unwrap().len(), acknowledged.len(), "a client of both apiservers, A gone");
    assert_eq!(both.base(), url_b, "the next apiserver is the one in use");
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

fn deployment(replicas: u32) -> Vec<u8> {
    json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {"metadata": {"labels": {"app": "web"}},
                         "spec": {"containers": [{"name": "web", "image": "podchain/sample:1", "imagePullPolicy": "Never"}]}}
        }
    })
    .to_string()
    .into_bytes()
}

fn non_terminating(pods: &std::collections::BTreeMap<String, bool>) -> usize {
    pods.values().filter(|terminating| !**terminating).count()
}

/// The holder of a component's leader lease.
async fn holder(c: &Client, name: &str) -> String {
    match c.get(Kind::Lease, "kube-system", name).await {
        Ok(o) => o.as_lease().and_then(|l| l.spec.holder_identity.clone()).unwrap_or_default(),
        Err(_) => String::new(),
    }
}

/// Upstream's HA layout on one machine: three etcd members, two apiservers,
/// two controller-managers and two schedulers electing leaders through
/// Leases. The leading controller-manager is killed while a Deployment
/// scales from 3 to 30: the other takes over and finishes, and a watch over
/// the whole run never sees more than 30 pods that are not terminating.
/// Then an apiserver is killed: the clients of the other go on, and the
/// components that used it fail over to the other (`--server A,B`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_controller_manager_killed_mid_scale_is_replaced_by_the_other() {
    let dir = temp_dir("etcd-ha-leaders");
    let d = dir.clone();
    let etcd = tokio::task::spawn_blocking(move || etcdstore::testing::Cluster::start(&d, 3)).await.unwrap().expect("three etcd members start");
    let apiserver = |name: &str| {
        let listen = format!("127.0.0.1:{}", free_port());
        let args: Vec<String> = ["apiserver", "--data-dir", dir.join(name).to_str().unwrap(), "--listen", &listen, "--store", &etcd.url()].map(String::from).to_vec();
        (Proc::start(name, &args, &dir), format!("http://{listen}"), dir.join(name).join("kubeconfig"))
    };
    let (mut api_a, url_a, kc_a) = apiserver("apiserver-a");
    let (_api_b, url_b, kc_b) = apiserver("apiserver-b");
    wait_healthy(&url_a, T).await;
    wait_healthy(&url_b, T).await;
    let election = ["--leader-elect-lease-duration-ms", "3000", "--leader-elect-renew-deadline-ms", "2000", "--leader-elect-retry-period-ms", "500"];
    // Each component uses its own apiserver first and the other when it cannot reach it.
    let (a_first, b_first) = (format!("{url_a},{url_b}"), format!("{url_b},{url_a}"));
    let component = |what: &str, name: &str, kc: &std::path::Path| {
        let servers = if name.ends_with("-a") { &a_first } else { &b_first };
        let mut args: Vec<String> = [what, "--kubeconfig", kc.to_str().unwrap(), "--server", servers].map(String::from).to_vec();
        args.extend(election.iter().map(|s| s.to_string()));
        Proc::start(name, &args, &dir)
    };
    let mut managers = vec![component("controller-manager", "controller-manager-a", &kc_a), component("controller-manager", "controller-manager-b", &kc_b)];
    let _schedulers = [component("scheduler", "scheduler-a", &kc_a), component("scheduler", "scheduler-b", &kc_b)];
    let kubelet_listen = format!("127.0.0.1:{}", free_port());
    let _kubelets = Proc::start("kubelets", &["kubelet", "--node", "sim", "--count", "3", "--runtime", "sim", "--kubeconfig", kc_b.to_str().unwrap(), "--server", &b_first, "--listen", &kubelet_listen, "--lease-renew-interval-ms", "500", "--sync-interval-ms", "200"].map(String::from), &dir);
    let (ca, cb) = (Client::new(&url_a, None, "e2e-a"), Client::new(&url_b, None, "e2e-b"));

    let running = |c: Client| async move {
        let (items, _) = c.list(Kind::Pod, "default", &ListOptions { label_selector: "app=web".into(), ..Default::default() }).await.map_err(|e| e.to_string())?;
        Ok::<usize, String>(items.iter().filter_map(|o| o.as_pod()).filter(|p| p.metadata.deletion_timestamp.is_none() && p.status.phase == "Running").count())
    };
    ca.request(Method::POST, "/apis/apps/v1/namespaces/default/deployments", Some((deployment(3), "application/json"))).await.expect("create the Deployment");
    wait_for("3 pods Running", T, || async {
        let n = running(cb.clone()).await?;
        if n == 3 { Ok(()) } else { Err(format!("{n} running")) }
    })
    .await;

    // Every pod the watch (through B) has seen, and whether it is terminating.
    let (_, rv) = cb.list(Kind::Pod, "default", &ListOptions::default()).await.unwrap();
    let mut watch = cb.watch(Kind::Pod, "default", &ListOptions { label_selector: "app=web".into(), ..Default::default() }, &rv, 300).await.expect("watch");
    let most = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let seen = most.clone();
    let (initial, _) = cb.list(Kind::Pod, "default", &ListOptions { label_selector: "app=web".into(), ..Default::default() }).await.unwrap();
    tokio::spawn(async move {
        let mut pods: std::collections::BTreeMap<String, bool> = initial.iter().map(|o| (o.meta().uid.clone(), o.meta().deletion_timestamp.is_some())).collect();
        while let Some(Ok(ev)) = watch.next().await {
            match ev {
                WatchEvent::Added(o) | WatchEvent::Modified(o) => {
                    pods.insert(o.meta().uid.clone(), o.meta().deletion_timestamp.is_some());
                }
                WatchEvent::Deleted(o) => {
                    pods.remove(&o.meta().uid);
                }
                _ => {}
            }
            seen.fetch_max(non_terminating(&pods), std::sync::atomic::Ordering::SeqCst);
        }
    });

    // Scale to 30 and kill the leading controller-manager at once.
    let leader = holder(&cb, "kube-controller-manager").await;
    let leading = managers.iter().position(|m| leader.contains(&format!("_{}_", m.pid().unwrap()))).unwrap_or_else(|| panic!("no controller-manager holds the lease ({leader:?})"));
    cb.request(Method::PATCH, "/apis/apps/v1/namespaces/default/deployments/web", Some((br#"{"spec":{"replicas":30}}"#.to_vec(), "application/merge-patch+json"))).await.expect("scale to 30");
    managers[leading].kill();
    let other = &managers[1 - leading];
    wait_for("30 pods Running after the leader was killed", Duration::from_secs(60), || async {
        let n = running(cb.clone()).await?;
        if n == 30 { Ok(()) } else { Err(format!("{n} running")) }
    })
    .await;
    let now_leading = holder(&cb, "kube-controller-manager").await;
    assert!(now_leading.contains(&format!("_{}_", other.pid().unwrap())), "the other controller-manager leads now: {now_leading:?}");
    assert!(other.log_tail().contains("leads"), "{}", other.log_tail());
    let max = most.load(std::sync::atomic::Ordering::SeqCst);
    assert!(max <= 30, "the watch saw {max} non-terminating pods at once");
    assert!(max >= 30, "the watch saw the scale-up ({max})");

    // An apiserver killed: the clients of B go on, and the components that
    // used A fail over to B (the leading controller-manager included, which
    // renews its lease through B in time).
    api_a.kill();
    cb.request(Method::PATCH, "/apis/apps/v1/namespaces/default/deployments/web", Some((br#"{"spec":{"replicas":5}}"#.to_vec(), "application/merge-patch+json"))).await.expect("scale down through B with A gone");
    wait_for("5 pods Running with apiserver A gone", T, || async {
        let n = running(cb.clone()).await?;
        if n == 5 { Ok(()) } else { Err(format!("{n} running")) }
    })
    .await;
    drop(etcd);
    let _ = std::fs::remove_dir_all(&dir);
}
