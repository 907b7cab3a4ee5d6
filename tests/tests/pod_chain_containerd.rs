//! The pod chain on real containers: `podchain server`, containerd instances
//! started by `ci/containerd.sh` (each with its own root, socket, bridge and
//! pod subnet) and `podchain kubelet --runtime cri`, as separate processes.
//! Needs root, containerd, runc and the CNI plugins (`ci/install.sh`).

use client::{Client, ListOptions};
use podcore::object::{Kind, Object};
use podcore::types::Pod;
use serde_json::json;
use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use tests::{free_port, http_get, temp_dir, wait_for, wait_healthy, Containerd, Proc};

const T: Duration = Duration::from_secs(60);
const SAMPLE: &str = "podchain.local/sample:1";

struct Cluster {
    dir: std::path::PathBuf,
    client: Client,
    kubeconfig: String,
    _server: Proc,
}

async fn server(dir: &Path) -> Cluster {
    let listen = format!("127.0.0.1:{}", free_port());
    let server = Proc::start("server", &["server".into(), "--data-dir".into(), dir.join("data").display().to_string(), "--listen".into(), listen.clone()], dir);
    let base = format!("http://{listen}");
    wait_healthy(&base, T).await;
    Cluster { dir: dir.to_path_buf(), client: Client::new(&base, None, "e2e-containerd"), kubeconfig: dir.join("data/kubeconfig").display().to_string(), _server: server }
}

fn kubelet(c: &Cluster, node: &str, rt: &Containerd, port: u16) -> Proc {
    let args: Vec<String> = [
        "kubelet", "--node", node, "--runtime", "cri", "--container-runtime-endpoint", &rt.endpoint(),
        "--pod-log-dir", &c.dir.join(format!("pods-{node}")).display().to_string(),
        "--listen", &format!("127.0.0.1:{port}"), "--kubeconfig", &c.kubeconfig, "--sync-interval-ms", "500",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    Proc::start(&format!("kubelet-{node}"), &args, &c.dir)
}

async fn pods(c: &Client, selector: &str) -> Result<Vec<Pod>, String> {
    let (items, _) = c.list(Kind::Pod, "default", &ListOptions { label_selector: selector.into(), ..Default::default() }).await.map_err(|e| e.to_string())?;
    Ok(items.into_iter().filter_map(|o| o.as_pod().cloned()).collect())
}

async fn pod(c: &Client, name: &str) -> Result<Pod, String> {
    c.get(Kind::Pod, "default", name).await.map_err(|e| e.to_string())?.as_pod().cloned().ok_or_else(|| "not a pod".into())
}

/// What a kubelet's runtime holds, from its own `/pods` endpoint: pod name → (sandbox id, [(container id, attempt)]).
fn held(port: u16) -> Result<BTreeMap<String, (String, Vec<(String, u64)>)>, String> {
    let body = http_get(&format!("127.0.0.1:{port}"), "/pods")?;
    let v: serde_json::Value = serde_json::from_str(&body).map_err(|e| e.to_string())?;
    let mut out = BTreeMap::new();
    for p in v.as_array().cloned().unwrap_or_default() {
        let sb = p["sandbox"]["id"].as_str().unwrap_or_default().to_string();
        let cs = p["containers"].as_array().cloned().unwrap_or_default().iter().map(|c| (c["id"].as_str().unwrap_or_default().to_string(), c["attempt"].as_u64().unwrap_or(0))).collect();
        out.insert(p["name"].as_str().unwrap_or_default().to_string(), (sb, cs));
    }
    Ok(out)
}

fn kubectl(c: &Cluster, args: &[&str]) -> Result<String, String> {
    let out = Command::new("kubectl").arg("--kubeconfig").arg(&c.kubeconfig).args(args).output().map_err(|e| format!("running kubectl: {e}"))?;
    if !out.status.success() {
        return Err(format!("kubectl {}: {}", args.join(" "), String::from_utf8_lossy(&out.stderr)));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deployment_runs_in_containerd_on_two_nodes_serves_http_logs_survives_kubelet_kill_and_is_cleaned_up() {
    let dir = temp_dir("e2e-containerd");
    let ctr1 = Containerd::start(&dir.join("containerd-1"));
    let ctr2 = Containerd::start(&dir.join("containerd-2"));
    let c = server(&dir).await;
    let (p1, p2) = (free_port(), free_port());
    let mut k1 = kubelet(&c, "node-1", &ctr1, p1);
    let _k2 = kubelet(&c, "node-2", &ctr2, p2);
    wait_for("both nodes Ready", T, || async {
        let (nodes, _) = c.client.list(Kind::Node, "", &ListOptions::default()).await.map_err(|e| e.to_string())?;
        let ready = nodes.iter().filter_map(|o| o.as_node()).filter(|n| n.status.conditions.iter().any(|x| x.type_ == "Ready" && x.status == "True")).count();
        if ready == 2 { Ok(()) } else { Err(format!("{ready} ready")) }
    })
    .await;

    // 1. Three replicas of the sample image spread over both nodes; the
    //    spread is the scheduler's choice, so the test only needs both used
    //    when it happens — but every pod must be in its own node's containerd.
    let dep = json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"}},
                 "template": {"metadata": {"labels": {"app": "web"}},
                              "spec": {"terminationGracePeriodSeconds": 10,
                                       "containers": [{"name": "web", "image": SAMPLE, "imagePullPolicy": "Never",
                                                       "ports": [{"containerPort": 8080}],
                                                       "resources": {"requests": {"cpu": "50m", "memory": "16Mi"}, "limits": {"memory": "64Mi"}}}]}}}
    });
    c.client.create(&Object::from_value(Kind::Deployment, dep).unwrap()).await.unwrap();
    let running = wait_for("3 web pods Running and Ready", T, || async {
        let ps = pods(&c.client, "app=web").await?;
        let ok: Vec<Pod> = ps.iter().filter(|p| p.status.phase == "Running" && podcore::podutil::is_ready(p) && !p.status.pod_ip.is_empty()).cloned().collect();
        if ok.len() == 3 { Ok(ok) } else { Err(format!("{} of {} running", ok.len(), ps.len())) }
    })
    .await;
    let ips: BTreeSet<&str> = running.iter().map(|p| p.status.pod_ip.as_str()).collect();
    assert_eq!(ips.len(), 3, "each pod has its own IP: {ips:?}");
    for p in &running {
        let (rt, port) = if p.spec.node_name == "node-1" { (&ctr1, p1) } else { (&ctr2, p2) };
        let cs = &p.status.container_statuses[0];
        assert!(cs.container_id.starts_with("containerd://"), "containerID {:?}", cs.container_id);
        let id = cs.container_id.trim_start_matches("containerd://");
        let in_ctr = rt.containers();
        assert!(in_ctr.iter().any(|(i, img)| i == id && img == SAMPLE), "{} ({id}) is not in {}'s containerd: {in_ctr:?}", p.metadata.name, p.spec.node_name);
        let other = if p.spec.node_name == "node-1" { &ctr2 } else { &ctr1 };
        assert!(!other.containers().iter().any(|(i, _)| i == id), "{} is in the other node's containerd too", p.metadata.name);
        assert!(p.status.pod_ip.starts_with(&format!("10.88.{}.", rt.index)), "{} has IP {} outside its node's subnet", p.metadata.name, p.status.pod_ip);
        // 2. The page the pod serves, fetched from the host at its pod IP.
        let page = wait_for(&format!("GET http://{}:8080/", p.status.pod_ip), T, || async { http_get(&format!("{}:8080", p.status.pod_ip), "/") }).await;
        assert_eq!(page.trim(), format!("hello from {}", p.metadata.name));
        let _ = port;
    }
    // Both containerd instances hold exactly their pods: one sandbox and one container each.
    let on = |n: &str| running.iter().filter(|p| p.spec.node_name == n).count();
    assert_eq!(ctr1.containers().len(), 2 * on("node-1"), "node-1's containerd: {:?}", ctr1.containers());
    assert_eq!(ctr2.containers().len(), 2 * on("node-2"), "node-2's containerd: {:?}", ctr2.containers());

    // 3. pods/log through the apiserver (real kubectl), plain and followed.
    let first = &running[0];
    let logs = kubectl(&c, &["logs", &first.metadata.name]).unwrap();
    assert!(logs.contains("serving on :8080"), "kubectl logs: {logs:?}");
    let ts = kubectl(&c, &["logs", "--timestamps", "--tail=1", &first.metadata.name]).unwrap();
    assert_eq!(ts.lines().count(), 1, "--tail=1: {ts:?}");
    assert!(ts.starts_with("20"), "--timestamps prefixes an RFC 3339 time: {ts:?}");
    let mut follow = Command::new("kubectl").args(["--kubeconfig", &c.kubeconfig, "logs", "-f", &first.metadata.name]).stdout(Stdio::piped()).stderr(Stdio::null()).spawn().unwrap();
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    let stdout = follow.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    // A request made after the follow started shows up in the stream (httpd -v logs each one).
    let deadline = Instant::now() + T;
    let mut seen_request = false;
    let mut next_get = Instant::now();
    while Instant::now() < deadline && !seen_request {
        if Instant::now() >= next_get {
            let _ = http_get(&format!("{}:8080", first.status.pod_ip), "/followed");
            next_get = Instant::now() + Duration::from_secs(1);
        }
        if let Ok(line) = rx.recv_timeout(Duration::from_millis(100)) {
            seen_request |= line.contains("/followed") || line.contains("response:200");
        }
    }
    let _ = follow.kill();
    let _ = follow.wait();
    assert!(seen_request, "kubectl logs -f never showed the request made while following");

    // 4. kill -9 of node-1's kubelet, then a restart: it adopts what runs.
    let before = held(p1).unwrap();
    let ctr_before: BTreeSet<(String, String)> = ctr1.containers().into_iter().collect();
    let restarts_before: BTreeMap<String, i32> = running.iter().map(|p| (p.metadata.name.clone(), p.status.container_statuses[0].restart_count)).collect();
    k1.kill();
    k1.restart();
    let after = wait_for("node-1's kubelet back", T, || async { held(p1) }).await;
    // Give it several sync passes to do anything wrong.
    let passes_done = Instant::now() + Duration::from_secs(3);
    wait_for("three sync passes of the restarted kubelet", T, || async { if Instant::now() >= passes_done { Ok(()) } else { Err("waiting".into()) } }).await;
    let after_passes = held(p1).unwrap();
    assert_eq!(before, after, "the restarted kubelet holds the same sandboxes and containers");
    assert_eq!(before, after_passes, "and starts nothing new");
    assert_eq!(ctr1.containers().into_iter().collect::<BTreeSet<_>>(), ctr_before, "containerd holds the same containers, no duplicates");
    for p in pods(&c.client, "app=web").await.unwrap() {
        assert_eq!(Some(&p.status.container_statuses[0].restart_count), restarts_before.get(&p.metadata.name), "{}'s restartCount", p.metadata.name);
    }

    // 5. Deleting the Deployment removes every sandbox and container within the grace period (10 s).
    let start = Instant::now();
    kubectl(&c, &["delete", "deployment", "web", "--wait=false"]).unwrap();
    wait_for("both containerd instances empty", Duration::from_secs(10), || async {
        let (a, b) = (ctr1.containers(), ctr2.containers());
        if a.is_empty() && b.is_empty() { Ok(()) } else { Err(format!("node-1 {a:?}, node-2 {b:?}")) }
    })
    .await;
    eprintln!("every sandbox and container removed {:?} after the delete", start.elapsed());
    wait_for("no web pods left", T, || async {
        let n = pods(&c.client, "app=web").await?.len();
        if n == 0 { Ok(()) } else { Err(format!("{n} left")) }
    })
    .await;
    tests::assert_traces_valid(&dir, &["reconcile_deployment", "reconcile_replicaset", "schedule", "sync_pod"]);
}

fn single_pod(name: &str, image: &str, policy: &str, restart: &str, command: &[&str]) -> Object {
    let mut c = json!({"name": "main", "image": image, "imagePullPolicy": policy});
    if !command.is_empty() {
        c["command"] = json!(command);
    }
    Object::from_value(Kind::Pod, json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {"nodeName": "node-1", "restartPolicy": restart, "terminationGracePeriodSeconds": 2, "containers": [c]}
    }))
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crashing_containers_back_off_never_pods_fail_and_missing_images_are_reported() {
    let dir = temp_dir("e2e-containerd-crash");
    let ctr = Containerd::start(&dir.join("containerd-1"));
    let c = server(&dir).await;
    let port = free_port();
    let _k = kubelet(&c, "node-1", &ctr, port);
    wait_for("node-1 registered", T, || async { c.client.get(Kind::Node, "", "node-1").await.map(|_| ()).map_err(|e| e.to_string()) }).await;

    let crash = ["/bin/sh", "-c", "echo crashing; exit 1"];
    c.client.create(&single_pod("crasher", SAMPLE, "Never", "Always", &crash)).await.unwrap();
    c.client.create(&single_pod("once", SAMPLE, "Never", "Never", &crash)).await.unwrap();
    c.client.create(&single_pod("absent", "podchain.local/absent:1", "Never", "Always", &[])).await.unwrap();
    // A registry on a loopback port nobody listens on: the pull fails at once, and locally.
    c.client.create(&single_pod("unpullable", "127.0.0.1:1/absent:1", "IfNotPresent", "Always", &[])).await.unwrap();

    // restartPolicy Never: the pod ends Failed with the exit code.
    let once = wait_for("pod once Failed", T, || async {
        let p = pod(&c.client, "once").await?;
        if p.status.phase == "Failed" { Ok(p) } else { Err(p.status.phase) }
    })
    .await;
    let term = once.status.container_statuses[0].state.terminated.clone().expect("terminated state");
    assert_eq!((term.exit_code, term.reason.as_str()), (1, "Error"));
    assert_eq!(once.status.container_statuses[0].restart_count, 0);

    // Missing image with pull policy Never, and a pull that fails.
    wait_for("absent: ErrImageNeverPull", T, || async {
        let p = pod(&c.client, "absent").await?;
        let w = p.status.container_statuses.first().and_then(|s| s.state.waiting.clone()).map(|w| w.reason).unwrap_or_default();
        if w == "ErrImageNeverPull" { Ok(()) } else { Err(w) }
    })
    .await;
    wait_for("unpullable: ImagePullBackOff after ErrImagePull", T, || async {
        let p = pod(&c.client, "unpullable").await?;
        let w = p.status.container_statuses.first().and_then(|s| s.state.waiting.clone()).unwrap_or_default();
        if w.reason == "ImagePullBackOff" && w.message.contains("127.0.0.1:1/absent:1") { Ok(()) } else { Err(format!("{w:?}")) }
    })
    .await;

    // restartPolicy Always: restarts with a doubling back-off (10 s, then 20 s).
    let seen_backoffs = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let p = wait_for("crasher restarted twice and backing off 40s", Duration::from_secs(90), || {
        let seen = seen_backoffs.clone();
        let client = c.client.clone();
        async move {
            let p = pod(&client, "crasher").await?;
            let cs = p.status.container_statuses.first().cloned().unwrap_or_default();
            if let Some(w) = &cs.state.waiting {
                if w.reason == "CrashLoopBackOff" {
                    let b = w.message.split_whitespace().nth(1).unwrap_or_default().to_string();
                    let mut seen = seen.lock().unwrap();
                    if seen.last() != Some(&b) {
                        seen.push(b);
                    }
                }
            }
            if cs.restart_count >= 2 && cs.state.waiting.as_ref().is_some_and(|w| w.message.starts_with("back-off 40s")) { Ok(p) } else { Err(format!("restartCount {} state {:?}", cs.restart_count, cs.state)) }
        }
    })
    .await;
    assert_eq!(*seen_backoffs.lock().unwrap(), vec!["10s", "20s", "40s"], "the back-off doubles");
    let cs = &p.status.container_statuses[0];
    let last = cs.last_state.terminated.clone().expect("lastState.terminated");
    assert_eq!(last.exit_code, 1);
    assert!(cs.container_id.starts_with("containerd://"));
    // The previous attempt's log is there too.
    let prev = kubectl(&c, &["logs", "--previous", "crasher"]).unwrap();
    assert_eq!(prev.trim(), "crashing");
    // The runtime keeps the newest two attempts.
    let attempts: Vec<u64> = held(port).unwrap()["crasher"].1.iter().map(|(_, a)| *a).collect();
    assert_eq!(attempts, vec![1, 2], "attempts held for crasher");
    // Deleting pods in every state (crash-looping, Failed, never started)
    // leaves nothing in containerd.
    kubectl(&c, &["delete", "pods", "--all", "--wait=false"]).unwrap();
    wait_for("containerd empty after deleting every pod", T, || async {
        let left = ctr.containers();
        if left.is_empty() { Ok(()) } else { Err(format!("{left:?}")) }
    })
    .await;
    wait_for("no pods left", T, || async {
        let n = pods(&c.client, "").await?.len();
        if n == 0 { Ok(()) } else { Err(format!("{n} left")) }
    })
    .await;
    tests::assert_traces_valid(&dir, &["sync_pod"]);
}
