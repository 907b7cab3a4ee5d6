//! The pod chain end to end, as separate processes talking HTTP only:
//! `podchain server` and two `podchain kubelet --runtime sim`.
//!
//! One scenario, in order: a Deployment of 3 runs over both nodes with each
//! pod bound exactly once; a deleted pod is replaced; scale to 5; an image
//! change rolls out without dropping below replicas − maxUnavailable
//! available pods; a killed kubelet's node goes NotReady and its pods are
//! replaced on the other node; a server killed with SIGKILL comes back with
//! every object at the same resourceVersion; deleting the Deployment removes
//! its ReplicaSets and pods (and the kubelets' sandboxes).

use client::{Client, ListOptions, Method, WatchEvent};
use podcore::object::{Kind, Object};
use podcore::podutil::{is_active, is_ready};
use podcore::types::Pod;
use serde_json::json;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tests::{free_port, temp_dir, wait_for, wait_healthy, Proc};

const T: Duration = Duration::from_secs(30);

fn deployment() -> serde_json::Value {
    json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {
            "replicas": 3,
            "selector": {"matchLabels": {"app": "web"}},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 1}},
            "template": {"metadata": {"labels": {"app": "web"}},
                         "spec": {"containers": [{"name": "web", "image": "podchain/sample:1", "imagePullPolicy": "Never"}]}}
        }
    })
}

async fn web_pods(c: &Client) -> Result<Vec<Pod>, String> {
    let (items, _) = c.list(Kind::Pod, "default", &ListOptions { label_selector: "app=web".into(), ..Default::default() }).await.map_err(|e| e.to_string())?;
    Ok(items.into_iter().filter_map(|o| o.as_pod().cloned()).collect())
}

fn running(pods: &[Pod]) -> Vec<&Pod> {
    pods.iter().filter(|p| is_active(p) && p.status.phase == "Running" && is_ready(p)).collect()
}

fn describe(pods: &[Pod]) -> String {
    pods.iter().map(|p| format!("{}@{}:{}{}", p.metadata.name, p.spec.node_name, p.status.phase, if p.metadata.deletion_timestamp.is_some() { "(terminating)" } else { "" })).collect::<Vec<_>>().join(", ")
}

/// Everything a watch has shown about pods, to check invariants over the whole run.
#[derive(Default)]
struct PodHistory {
    /// uid → every distinct nodeName it was seen with (non-empty).
    nodes: BTreeMap<String, Vec<String>>,
    /// uid → latest state.
    current: BTreeMap<String, Pod>,
    /// Least number of available pods seen while `tracking` was on.
    min_available: Option<usize>,
    tracking: bool,
}

impl PodHistory {
    fn observe(&mut self, pod: &Pod, deleted: bool) {
        let uid = pod.metadata.uid.clone();
        if !pod.spec.node_name.is_empty() {
            let seen = self.nodes.entry(uid.clone()).or_default();
            if seen.last() != Some(&pod.spec.node_name) {
                seen.push(pod.spec.node_name.clone());
            }
        }
        if deleted {
            self.current.remove(&uid);
        } else {
            self.current.insert(uid, pod.clone());
        }
        if self.tracking {
            let available = self.current.values().filter(|p| is_active(p) && is_ready(p)).count();
            self.min_available = Some(self.min_available.map_or(available, |m| m.min(available)));
        }
    }
}

/// Every key in a store no server holds (the embedded store's directory,
/// or etcd), with its mod revision (the object's resourceVersion).
async fn store_offline(dir: &std::path::Path, etcd: Option<Vec<String>>) -> BTreeMap<String, String> {
    use podstore::Store;
    let dir = dir.to_path_buf();
    tokio::task::spawn_blocking(move || {
        let store: Box<dyn Store> = match etcd {
            Some(endpoints) => Box::new(etcdstore::Etcd::connect(etcdstore::Options::new(endpoints)).expect("etcd answers")),
            None => Box::new(podstore::Embedded::open(&dir).expect("the store opens").0),
        };
        store.range("/registry/", "", 0).expect("range").kvs.into_iter().map(|kv| (kv.key, kv.mod_revision.to_string())).collect()
    })
    .await
    .unwrap()
}

async fn snapshot(c: &Client) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for kind in Kind::ALL {
        let (items, _) = c.list(kind, "", &ListOptions::default()).await.expect("list");
        for o in items {
            out.insert(o.key(), o.meta().resource_version.clone());
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pod_chain_over_http_with_two_simulated_nodes() {
    the_pod_chain(temp_dir("e2e-sim"), None).await;
}

/// The same scenario with the objects in a real etcd (one member): the
/// server killed in step 6 comes back from etcd with every resourceVersion.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pod_chain_on_etcd() {
    let dir = temp_dir("e2e-sim-etcd");
    let d = dir.clone();
    let etcd = tokio::task::spawn_blocking(move || etcdstore::testing::Cluster::start(&d, 1)).await.unwrap().expect("etcd starts");
    the_pod_chain(dir, Some(&etcd)).await;
}

async fn the_pod_chain(dir: std::path::PathBuf, etcd: Option<&etcdstore::testing::Cluster>) {
    let api_port = free_port();
    let api = format!("127.0.0.1:{api_port}");
    let store_args: Vec<String> = etcd.map(|e| vec!["--store".to_string(), e.url()]).unwrap_or_default();
    let mut server_args: Vec<String> = ["server", "--data-dir", dir.join("data").to_str().unwrap(), "--listen", &api, "--node-monitor-grace-period-ms", "3000", "--default-toleration-seconds", "1"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    server_args.extend(store_args.iter().cloned());
    if etcd.is_some() {
        // On etcd the server's controllers elect leaders; the server restarted
        // in step 6 is a new candidate and waits out the killed one's lease.
        server_args.extend(["--leader-elect-lease-duration-ms", "3000", "--leader-elect-renew-deadline-ms", "2000", "--leader-elect-retry-period-ms", "500"].map(String::from));
    }
    let mut server = Proc::start("server", &server_args, &dir);
    wait_healthy(&format!("http://{api}"), T).await;
    let kubeconfig = dir.join("data/kubeconfig");
    let kubelet_args = |n: u32| -> Vec<String> {
        let listen = format!("127.0.0.1:{}", free_port());
        ["kubelet", "--node", &format!("node-{n}"), "--kubeconfig", kubeconfig.to_str().unwrap(), "--runtime", "sim", "--listen", &listen, "--pod-subnet", &format!("10.88.{n}"), "--lease-renew-interval-ms", "500", "--sync-interval-ms", "200"]
            .iter()
            .map(|s| s.to_string())
            .collect()
    };
    let k1 = Proc::start("kubelet-1", &kubelet_args(1), &dir);
    let mut k2 = Proc::start("kubelet-2", &kubelet_args(2), &dir);
    let c = Client::from_kubeconfig(&kubeconfig, "e2e").expect("kubeconfig written by the server");
    wait_for("both nodes Ready", T, || async {
        let (nodes, _) = c.list(Kind::Node, "", &ListOptions::default()).await.map_err(|e| e.to_string())?;
        let ready = nodes.iter().filter(|n| n.as_node().map(podcore::controller::nodelifecycle::ready_status) == Some("True")).count();
        if ready == 2 { Ok(()) } else { Err(format!("{ready} ready")) }
    })
    .await;

    // A watch over the whole run records every pod state it sees.
    let history = Arc::new(Mutex::new(PodHistory::default()));
    {
        let (h, c) = (history.clone(), c.clone());
        let mut stream = c.watch(Kind::Pod, "default", &ListOptions::default(), "", 600).await.expect("watch pods");
        tokio::spawn(async move {
            while let Some(Ok(ev)) = stream.next().await {
                let mut h = h.lock().unwrap();
                match ev {
                    WatchEvent::Added(Object::Pod(p)) | WatchEvent::Modified(Object::Pod(p)) => h.observe(&p, false),
                    WatchEvent::Deleted(Object::Pod(p)) => h.observe(&p, true),
                    _ => {}
                }
            }
        });
    }

    // 1. Create → 3 Running over both nodes.
    c.request(Method::POST, "/apis/apps/v1/namespaces/default/deployments", Some((serde_json::to_vec(&deployment()).unwrap(), "application/json"))).await.expect("create deployment");
    let pods = wait_for("3 running pods over both nodes", T, || async {
        let pods = web_pods(&c).await?;
        let r = running(&pods);
        let nodes: std::collections::BTreeSet<&str> = r.iter().map(|p| p.spec.node_name.as_str()).collect();
        if r.len() == 3 && pods.len() == 3 && nodes.len() == 2 { Ok(pods) } else { Err(describe(&pods)) }
    })
    .await;

    // 2. Delete one → replaced.
    let victim = &pods[0];
    c.request(Method::DELETE, &format!("/api/v1/namespaces/default/pods/{}", victim.metadata.name), None).await.expect("delete pod");
    let victim_uid = victim.metadata.uid.clone();
    wait_for("the deleted pod replaced", T, || async {
        let pods = web_pods(&c).await?;
        let ok = running(&pods).len() == 3 && pods.len() == 3 && pods.iter().all(|p| p.metadata.uid != victim_uid);
        if ok { Ok(()) } else { Err(describe(&pods)) }
    })
    .await;

    // 3. Scale to 5 through the scale subresource.
    c.request(Method::PATCH, "/apis/apps/v1/namespaces/default/deployments/web/scale", Some((br#"{"spec":{"replicas":5}}"#.to_vec(), "application/merge-patch+json"))).await.expect("scale");
    wait_for("5 running pods", T, || async {
        let pods = web_pods(&c).await?;
        if running(&pods).len() == 5 && pods.len() == 5 { Ok(()) } else { Err(describe(&pods)) }
    })
    .await;

    // 4. New image → rollout completes; never fewer than 5 − 1 available.
    history.lock().unwrap().tracking = true;
    let patch = json!({"spec": {"template": {"spec": {"containers": [{"name": "web", "image": "podchain/sample:2"}]}}}});
    c.request(Method::PATCH, "/apis/apps/v1/namespaces/default/deployments/web", Some((serde_json::to_vec(&patch).unwrap(), "application/strategic-merge-patch+json"))).await.expect("update image");
    wait_for("the rollout to complete", T, || async {
        let d = c.get(Kind::Deployment, "default", "web").await.map_err(|e| e.to_string())?;
        let d = d.as_deployment().unwrap();
        let s = &d.status;
        let pods = web_pods(&c).await?;
        let all_new = pods.iter().all(|p| p.spec.containers[0].image == "podchain/sample:2");
        let done = d.metadata.generation <= s.observed_generation && s.updated_replicas == 5 && s.replicas == 5 && s.available_replicas == 5 && all_new && running(&pods).len() == 5;
        if done { Ok(()) } else { Err(format!("{s:?}; pods: {}", describe(&pods))) }
    })
    .await;
    {
        let mut h = history.lock().unwrap();
        h.tracking = false;
        let min = h.min_available.expect("the watch saw the rollout");
        assert!(min >= 4, "available pods dropped to {min} during the rollout (replicas 5, maxUnavailable 1)");
    }

    // 5. Kill kubelet 2 → node-2 NotReady → its pods replaced on node-1.
    k2.kill();
    wait_for("node-2 NotReady and every pod running on node-1", T, || async {
        let n = c.get(Kind::Node, "", "node-2").await.map_err(|e| e.to_string())?;
        let status = podcore::controller::nodelifecycle::ready_status(n.as_node().unwrap()).to_string();
        let pods = web_pods(&c).await?;
        let r = running(&pods);
        let ok = status == "Unknown" && r.len() == 5 && r.iter().all(|p| p.spec.node_name == "node-1");
        if ok { Ok(()) } else { Err(format!("node-2 Ready={status}; pods: {}", describe(&pods))) }
    })
    .await;

    // 6. SIGKILL the server mid-run. What its store holds is read offline, then served by
    //    `podchain apiserver` alone: with no controllers and kubelet 1 paused, nothing can
    //    write in between, so the two must agree exactly: same objects, same resourceVersions.
    k1.signal("STOP");
    server.kill();
    let before = store_offline(&dir.join("data/store"), etcd.map(|e| e.endpoints())).await;
    assert!(before.keys().any(|k| k.starts_with("/registry/pods/default/")), "the store holds the pods: {before:?}");
    let mut apiserver_args: Vec<String> = ["apiserver", "--data-dir", dir.join("data").to_str().unwrap(), "--listen", &api].map(String::from).to_vec();
    apiserver_args.extend(store_args.iter().cloned());
    let apiserver = Proc::start("apiserver", &apiserver_args, &dir);
    wait_healthy(&format!("http://{api}"), T).await;
    let after = snapshot(&c).await;
    drop(apiserver);
    assert_eq!(before, after, "what the restarted apiserver serves is what the killed server had stored");
    server.restart();
    wait_healthy(&format!("http://{api}"), T).await;
    k1.signal("CONT");

    // 7. Node 2 comes back; delete the Deployment → ReplicaSets, pods and sandboxes go.
    k2.restart();
    wait_for("node-2 Ready again", T, || async {
        let n = c.get(Kind::Node, "", "node-2").await.map_err(|e| e.to_string())?;
        let s = podcore::controller::nodelifecycle::ready_status(n.as_node().unwrap()).to_string();
        if s == "True" { Ok(()) } else { Err(s) }
    })
    .await;
    c.request(Method::DELETE, "/apis/apps/v1/namespaces/default/deployments/web", Some((br#"{"propagationPolicy":"Background"}"#.to_vec(), "application/json"))).await.expect("delete deployment");
    wait_for("replicasets and pods gone", T, || async {
        let (rss, _) = c.list(Kind::ReplicaSet, "default", &ListOptions::default()).await.map_err(|e| e.to_string())?;
        let pods = web_pods(&c).await?;
        if rss.is_empty() && pods.is_empty() { Ok(()) } else { Err(format!("{} replicasets; pods: {}", rss.len(), describe(&pods))) }
    })
    .await;

    // Over the whole run: every pod was bound to exactly one node, never moved.
    let h = history.lock().unwrap();
    assert!(h.nodes.len() >= 3 + 1 + 2 + 5, "the watch saw {} pods", h.nodes.len());
    for (uid, nodes) in &h.nodes {
        assert_eq!(nodes.len(), 1, "pod {uid} was seen on {nodes:?}");
    }
    drop(h);
    for p in [&k1, &k2, &server] {
        assert!(!p.log_tail().contains("panicked"), "{} panicked:\n{}", p.name, p.log_tail());
    }
    // Node failure and background deletion: every component's decisions.
    tests::assert_traces_valid(&dir, &["reconcile_deployment", "reconcile_replicaset", "schedule", "sync_pod", "node_lifecycle", "collect_object"]);
    let _ = std::fs::remove_dir_all(&dir);
}

/// The control plane as separate processes (`podchain apiserver`,
/// `controller-manager`, `scheduler`) and one simulated kubelet "solo",
/// with the `web` Deployment created.
struct Split {
    dir: std::path::PathBuf,
    kubelet_listen: String,
    client: Client,
    _procs: Vec<Proc>,
}

impl Split {
    async fn start(name: &str) -> Split {
        let dir = temp_dir(name);
        let api = format!("127.0.0.1:{}", free_port());
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<String>>();
        let mut procs = vec![Proc::start("apiserver", &s(&["apiserver", "--data-dir", dir.join("data").to_str().unwrap(), "--listen", &api]), &dir)];
        wait_healthy(&format!("http://{api}"), T).await;
        let kc = dir.join("data/kubeconfig");
        let kc_s = kc.to_str().unwrap();
        procs.push(Proc::start("controller-manager", &s(&["controller-manager", "--kubeconfig", kc_s]), &dir));
        procs.push(Proc::start("scheduler", &s(&["scheduler", "--kubeconfig", kc_s]), &dir));
        let kubelet_listen = format!("127.0.0.1:{}", free_port());
        procs.push(Proc::start("kubelet", &s(&["kubelet", "--node", "solo", "--kubeconfig", kc_s, "--listen", &kubelet_listen, "--sync-interval-ms", "200"]), &dir));
        let client = Client::from_kubeconfig(&kc, "e2e").unwrap();
        client.request(Method::POST, "/apis/apps/v1/namespaces/default/deployments", Some((serde_json::to_vec(&deployment()).unwrap(), "application/json"))).await.expect("create deployment");
        Split { dir, kubelet_listen, client, _procs: procs }
    }
}

/// The control plane as separate processes: `podchain apiserver`,
/// `podchain controller-manager` and `podchain scheduler` talk to each other
/// only through the API, like upstream's components.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_control_plane_runs_as_separate_processes() {
    let split = Split::start("e2e-split").await;
    let (dir, listen, c) = (&split.dir, &split.kubelet_listen, &split.client);
    wait_for("3 running pods on the solo node", T, || async {
        let pods = web_pods(&c).await?;
        let r = running(&pods);
        if r.len() == 3 && r.iter().all(|p| p.spec.node_name == "solo") { Ok(()) } else { Err(describe(&pods)) }
    })
    .await;
    // The kubelet's test hook: a container that exits is restarted (after the 10 s back-off).
    let victim = web_pods(&c).await.unwrap()[0].metadata.name.clone();
    let hook = Client::new(&format!("http://{listen}"), None, "e2e");
    hook.request(Method::POST, &format!("/sim/exit?namespace=default&pod={victim}&container=web&code=1"), Some((vec![], "application/json"))).await.expect("exit hook");
    wait_for("the exited container reported with its exit code", T, || async {
        let p = c.get(Kind::Pod, "default", &victim).await.map_err(|e| e.to_string())?;
        let cs = &p.as_pod().unwrap().status.container_statuses[0];
        let code = cs.last_state.terminated.as_ref().map(|t| t.exit_code);
        let waiting = cs.state.waiting.as_ref().map(|w| w.reason.clone()).unwrap_or_default();
        if code == Some(1) && waiting == "CrashLoopBackOff" { Ok(()) } else { Err(format!("{cs:?}")) }
    })
    .await;
    wait_for("the container restarted once", T, || async {
        let p = c.get(Kind::Pod, "default", &victim).await.map_err(|e| e.to_string())?;
        let cs = &p.as_pod().unwrap().status.container_statuses[0];
        if cs.restart_count == 1 && cs.state.running.is_some() { Ok(()) } else { Err(format!("{cs:?}")) }
    })
    .await;
    tests::assert_traces_valid(&dir, &["reconcile_deployment", "reconcile_replicaset", "schedule", "sync_pod"]);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Each client's count of one verb in the apiserver's `/metrics`, and of
/// its watches ended by 410 Gone.
async fn requests_by_client(c: &Client, verb: &str) -> (BTreeMap<String, u64>, BTreeMap<String, u64>) {
    let body = c.request_bytes(Method::GET, "/metrics", None).await.expect("metrics");
    let (mut verbs, mut expired) = (BTreeMap::new(), BTreeMap::new());
    for (name, labels, n) in apiserver::metrics::parse(&String::from_utf8_lossy(&body)) {
        match name.as_str() {
            "podchain_apiserver_requests_total" if labels["verb"] == verb => *verbs.entry(labels["client"].clone()).or_default() += n,
            "podchain_apiserver_watch_expired_total" => *expired.entry(labels["client"].clone()).or_default() += n,
            _ => {}
        }
    }
    (verbs, expired)
}

/// After start-up no component lists: every component's informers were
/// filled by one LIST each, and a steady run — scaling, a pod replaced, a
/// Deployment deleted and collected — adds LISTs only for the relists
/// that watches ended with 410 Gone ask for, counted apart. Above all the
/// garbage collector, which used to list five kinds on every pass, reads
/// an owner it does not see with one GET.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_start_up_no_component_lists_but_to_relist() {
    let split = Split::start("e2e-lists").await;
    let (dir, c) = (&split.dir, &split.client);
    wait_for("3 running pods", T, || async {
        let pods = web_pods(&c).await?;
        if running(&pods).len() == 3 { Ok(()) } else { Err(describe(&pods)) }
    })
    .await;
    let components = ["podchain-controller-manager", "podchain-scheduler", "podchain-kubelet"];
    let (lists_before, expired_before) = requests_by_client(&c, "LIST").await;
    let (deletes_before, _) = requests_by_client(&c, "DELETE").await;
    for comp in components {
        assert!(lists_before.get(comp).copied().unwrap_or(0) > 0, "{comp} filled its informers with a LIST: {lists_before:?}");
    }

    c.request(Method::PATCH, "/apis/apps/v1/namespaces/default/deployments/web/scale", Some((br#"{"spec":{"replicas":5}}"#.to_vec(), "application/merge-patch+json"))).await.expect("scale");
    wait_for("5 running pods", T, || async {
        let pods = web_pods(&c).await?;
        if running(&pods).len() == 5 { Ok(()) } else { Err(describe(&pods)) }
    })
    .await;
    let victim = web_pods(&c).await.unwrap()[0].metadata.name.clone();
    c.request(Method::DELETE, &format!("/api/v1/namespaces/default/pods/{victim}"), None).await.expect("delete pod");
    wait_for("the deleted pod replaced", T, || async {
        let pods = web_pods(&c).await?;
        if running(&pods).len() == 5 && pods.iter().all(|p| p.metadata.name != victim) { Ok(()) } else { Err(describe(&pods)) }
    })
    .await;
    c.request(Method::DELETE, "/apis/apps/v1/namespaces/default/deployments/web", Some((br#"{"propagationPolicy":"Background"}"#.to_vec(), "application/json"))).await.expect("delete deployment");
    wait_for("the Deployment's ReplicaSets and pods collected", T, || async {
        let (rss, _) = c.list(Kind::ReplicaSet, "default", &ListOptions::default()).await.map_err(|e| e.to_string())?;
        let pods = web_pods(&c).await?;
        if rss.is_empty() && pods.is_empty() { Ok(()) } else { Err(format!("{} ReplicaSets, pods {}", rss.len(), describe(&pods))) }
    })
    .await;

    let (lists_after, expired_after) = requests_by_client(&c, "LIST").await;
    let (deletes_after, _) = requests_by_client(&c, "DELETE").await;
    let delta = |a: &BTreeMap<String, u64>, b: &BTreeMap<String, u64>, k: &str| b.get(k).copied().unwrap_or(0) - a.get(k).copied().unwrap_or(0);
    let cm = components[0];
    assert!(delta(&deletes_before, &deletes_after, cm) >= 1, "the garbage collector deleted the orphaned ReplicaSet: {deletes_after:?}");
    for comp in components {
        let (lists, relists) = (delta(&lists_before, &lists_after, comp), delta(&expired_before, &expired_after, comp));
        eprintln!("{comp}: {lists} LIST requests in the steady run, {relists} watches ended 410 Gone");
        assert_eq!(lists, relists, "{comp} listed {lists} times in a steady run, and only {relists} relists were asked for");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// Many simulated nodes in one kubelet process (`--count`), as kwok does:
/// every node registers and a Deployment spreads over them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_simulated_nodes_in_one_kubelet_process() {
    const NODES: usize = 50;
    const REPLICAS: usize = 100;
    let dir = temp_dir("e2e-many");
    let api = format!("127.0.0.1:{}", free_port());
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<String>>();
    let _server = Proc::start("server", &s(&["server", "--data-dir", dir.join("data").to_str().unwrap(), "--listen", &api]), &dir);
    wait_healthy(&format!("http://{api}"), T).await;
    let kc = dir.join("data/kubeconfig");
    // Ports base..base+NODES-1 for the nodes' endpoints: below Linux's ephemeral
    // range (32768 and up), where the other tests' free ports come from.
    let base = 20_000 + (std::process::id() % 200) as u16 * 60;
    let _kubelets = Proc::start("kubelets", &s(&["kubelet", "--node", "sim", "--count", &NODES.to_string(), "--kubeconfig", kc.to_str().unwrap(), "--listen", &format!("127.0.0.1:{base}"), "--sync-interval-ms", "500"]), &dir);
    let c = Client::from_kubeconfig(&kc, "e2e").unwrap();
    wait_for("every simulated node Ready", T, || async {
        let (nodes, _) = c.list(Kind::Node, "", &ListOptions::default()).await.map_err(|e| e.to_string())?;
        let ready = nodes.iter().filter(|n| n.as_node().map(podcore::controller::nodelifecycle::ready_status) == Some("True")).count();
        if ready == NODES { Ok(()) } else { Err(format!("{ready} ready")) }
    })
    .await;
    let mut d = deployment();
    d["spec"]["replicas"] = json!(REPLICAS);
    c.request(Method::POST, "/apis/apps/v1/namespaces/default/deployments", Some((serde_json::to_vec(&d).unwrap(), "application/json"))).await.expect("create deployment");
    wait_for("every replica running, spread over the nodes", Duration::from_secs(60), || async {
        let pods = web_pods(&c).await?;
        let r = running(&pods);
        let nodes: std::collections::BTreeSet<&str> = r.iter().map(|p| p.spec.node_name.as_str()).collect();
        if r.len() == REPLICAS && nodes.len() == NODES { Ok(()) } else { Err(format!("{} running on {} nodes", r.len(), nodes.len())) }
    })
    .await;
    tests::assert_traces_valid(&dir, &["reconcile_deployment", "reconcile_replicaset", "schedule", "sync_pod"]);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Two kubelets on one machine with the same endpoint: the second cannot
/// serve, so it must exit saying why, having written no Node and no Lease
/// (before, it registered a Ready node, then died on the bind, and the
/// scheduler bound pods to it that stayed Pending).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kubelet_that_cannot_bind_its_endpoint_registers_nothing() {
    let dir = temp_dir("e2e-bind");
    let api = format!("127.0.0.1:{}", free_port());
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<String>>();
    let _apiserver = Proc::start("apiserver", &s(&["apiserver", "--data-dir", dir.join("data").to_str().unwrap(), "--listen", &api]), &dir);
    wait_healthy(&format!("http://{api}"), T).await;
    let kc = dir.join("data/kubeconfig");
    let c = Client::from_kubeconfig(&kc, "e2e").unwrap();
    let listen = format!("127.0.0.1:{}", free_port());
    let _a = Proc::start("kubelet-a", &s(&["kubelet", "--node", "node-a", "--kubeconfig", kc.to_str().unwrap(), "--listen", &listen]), &dir);
    wait_for("node-a registered", T, || async { c.get(Kind::Node, "", "node-a").await.map(|_| ()).map_err(|e| e.to_string()) }).await;
    let mut b = Proc::start("kubelet-b", &s(&["kubelet", "--node", "node-b", "--kubeconfig", kc.to_str().unwrap(), "--listen", &listen]), &dir);
    let status = wait_for("kubelet-b to exit", T, || {
        let exited = b.child.as_mut().unwrap().try_wait().unwrap();
        async move { exited.ok_or_else(|| "still running".to_string()) }
    })
    .await;
    assert!(!status.success(), "kubelet-b must fail");
    let log = b.log_tail();
    assert!(log.contains("binding") && log.contains(&listen) && log.contains("--listen") && log.contains("no Node was registered"), "{log}");
    assert_eq!(c.get(Kind::Node, "", "node-b").await.unwrap_err().code, 404, "no Node for the kubelet that cannot serve");
    assert_eq!(c.get(Kind::Lease, "kube-node-lease", "node-b").await.unwrap_err().code, 404, "and no Lease");
    let _ = std::fs::remove_dir_all(&dir);
}
