//! The kubelet: registers its Node, renews its Lease, watches the pods bound
//! to it, and syncs each one through the pure `sync_pod` with a `Runtime`.
//! Also serves a small HTTP API (health, the runtime's view, and for the
//! simulated runtime a hook that makes a container exit).

pub mod cri;
pub mod runtime;
mod server;
pub mod timings;

use client::informer::{self, Change};
use client::{Client, ListOptions};
use podcore::controller::kubelet::{node_object, orphan_actions, refresh_node_status, renewed_lease, sync_pod, KubeletOptions, NodeFacts, RuntimeAction};
use podcore::controller::nodelifecycle::NODE_LEASE_NAMESPACE;
use podcore::effect::DeleteRequest;
use podcore::object::{Kind, Object};
use podcore::types::Pod;
use runtime::{wall_now, Runtime};
use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

pub const KUBELET_VERSION: &str = "v1.32.0-podchain";
/// Syncs of one pod in a row within one pass (so sandbox → containers → status settle at once).
pub const MAX_SYNC_ROUNDS_PER_POD: usize = 4;

/// The kubelet's own endpoint unless `--listen` says otherwise.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:10250";
/// A simulated node's capacity (a real node reports the host's).
pub const DEFAULT_SIM_CPU: &str = "4";
pub const DEFAULT_SIM_MEMORY: &str = "8Gi";
/// Upstream's default maxPods.
pub const DEFAULT_MAX_PODS: u32 = 110;
/// Upstream's node lease duration and renewal (a quarter of it).
pub const DEFAULT_LEASE_DURATION_SECONDS: i32 = 40;
pub const DEFAULT_LEASE_RENEW_INTERVAL_MS: u64 = 10_000;
/// Upstream's nodeStatusReportFrequency.
pub const DEFAULT_NODE_STATUS_INTERVAL_MS: u64 = 60_000;
/// How often the runtime's own health is checked.
pub const DEFAULT_RUNTIME_STATUS_INTERVAL_MS: u64 = 5_000;
/// Upstream's PLEG relist period.
pub const DEFAULT_SYNC_INTERVAL_MS: u64 = 1_000;
/// First three octets of a simulated node's pod IPs.
pub const DEFAULT_POD_SUBNET: &str = "10.88.0";

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KubeletConfig {
    pub node_name: String,
    pub host_ip: String,
    pub cpu: String,
    pub memory: String,
    pub max_pods: u32,
    pub lease_duration_seconds: i32,
    pub lease_renew_interval: Duration,
    pub node_status_interval: Duration,
    /// How often the runtime's own status (RuntimeReady, NetworkReady) is checked.
    pub runtime_status_interval: Duration,
    /// The runtime is relisted at least this often (upstream's PLEG relist period).
    pub sync_interval: Duration,
    pub listen: SocketAddr,
}

impl KubeletConfig {
    pub fn new(node_name: &str) -> KubeletConfig {
        KubeletConfig {
            node_name: node_name.into(),
            host_ip: "127.0.0.1".into(),
            cpu: DEFAULT_SIM_CPU.into(),
            memory: DEFAULT_SIM_MEMORY.into(),
            max_pods: DEFAULT_MAX_PODS,
            lease_duration_seconds: DEFAULT_LEASE_DURATION_SECONDS,
            lease_renew_interval: Duration::from_millis(DEFAULT_LEASE_RENEW_INTERVAL_MS),
            node_status_interval: Duration::from_millis(DEFAULT_NODE_STATUS_INTERVAL_MS),
            runtime_status_interval: Duration::from_millis(DEFAULT_RUNTIME_STATUS_INTERVAL_MS),
            sync_interval: Duration::from_millis(DEFAULT_SYNC_INTERVAL_MS),
            listen: DEFAULT_LISTEN.parse().expect("DEFAULT_LISTEN is an address"),
        }
    }
}

fn log(node: &str, msg: &str) {
    eprintln!("{} kubelet[{node}]: {msg}", wall_now().to_rfc3339());
}

fn facts<R: Runtime>(cfg: &KubeletConfig, runtime: &R, runtime_problem: String) -> NodeFacts {
    NodeFacts {
        name: cfg.node_name.clone(),
        host_ip: cfg.host_ip.clone(),
        cpu: cfg.cpu.clone(),
        memory: cfg.memory.clone(),
        max_pods: cfg.max_pods,
        kubelet_version: KUBELET_VERSION.into(),
        runtime_version: runtime.version(),
        runtime_problem,
        kubelet_port: cfg.listen.port(),
    }
}

/// Creates the Node, or marks an existing one Ready again. Returns its uid.
async fn register<R: Runtime>(client: &Client, runtime: &R, cfg: &KubeletConfig) -> Result<String, String> {
    let f = facts(cfg, runtime, runtime.status().await.err().unwrap_or_default());
    match client.create(&Object::Node(node_object(&f, wall_now()))).await {
        Ok(o) => Ok(o.meta().uid.clone()),
        Err(e) if e.code == 409 => {
            let cur = client.get(Kind::Node, "", &cfg.node_name).await.map_err(|e| e.to_string())?;
            let n = refresh_node_status(cur.as_node().ok_or("not a node")?, &f, wall_now());
            let uid = n.metadata.uid.clone();
            client.update_status(&Object::Node(n)).await.map_err(|e| e.to_string())?;
            Ok(uid)
        }
        Err(e) => Err(e.to_string()),
    }
}

async fn renew_lease(client: &Client, cfg: &KubeletConfig, node_uid: &str) -> Result<(), String> {
    let cur = match client.get(Kind::Lease, NODE_LEASE_NAMESPACE, &cfg.node_name).await {
        Ok(o) => Some(o.as_lease().cloned().ok_or("not a lease")?),
        Err(e) if e.code == 404 => None,
        Err(e) => return Err(e.to_string()),
    };
    let lease = Object::Lease(renewed_lease(cur.as_ref(), &cfg.node_name, node_uid, cfg.lease_duration_seconds, wall_now()));
    let r = if cur.is_some() { client.update(&lease).await } else { client.create(&lease).await };
    r.map(|_| ()).map_err(|e| e.to_string())
}

/// Keeps the Ready condition's heartbeat fresh and repairs it if someone
/// (the node lifecycle controller, after an outage) marked it otherwise.
async fn post_node_status<R: Runtime>(client: &Client, cfg: &KubeletConfig, runtime: &R, runtime_problem: String) -> Result<(), String> {
    let cur = client.get(Kind::Node, "", &cfg.node_name).await.map_err(|e| e.to_string())?;
    let n = refresh_node_status(cur.as_node().ok_or("not a node")?, &facts(cfg, runtime, runtime_problem), wall_now());
    client.update_status(&Object::Node(n)).await.map(|_| ()).map_err(|e| e.to_string())
}

/// Runs the kubelet until its pod informer stops. It first makes sure it can
/// do its job: its own endpoint is bound (the apiserver proxies container
/// logs to it) and its runtime answers; only then does it register its Node.
/// A kubelet that cannot serve fails here, with no Node or Lease written,
/// rather than registering a Ready node that it then abandons. A runtime
/// that answers but is not ready (no network yet) still registers, with the
/// Node NotReady, as upstream.
pub async fn run<R: Runtime>(client: Client, runtime: Arc<R>, cfg: KubeletConfig) -> Result<(), String> {
    let node = cfg.node_name.clone();
    let timings = Arc::new(timings::RuntimeTimings::default());
    server::spawn(cfg.listen, runtime.clone(), timings.clone()).await.map_err(|e| format!("{e}: each kubelet on a machine needs its own --listen address; no Node was registered"))?;
    runtime.observe().await.map_err(|e| format!("the container runtime does not answer: {e}; no Node was registered"))?;
    let node_uid = loop {
        match register(&client, runtime.as_ref(), &cfg).await {
            Ok(uid) => break uid,
            Err(e) => {
                log(&node, &format!("registering the node failed (retrying): {e}"));
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    };
    log(&node, "node registered");
    {
        let (client, cfg, uid) = (client.clone(), cfg.clone(), node_uid.clone());
        tokio::spawn(async move {
            loop {
                if let Err(e) = renew_lease(&client, &cfg, &uid).await {
                    log(&cfg.node_name, &format!("renewing the lease failed: {e}"));
                }
                tokio::time::sleep(cfg.lease_renew_interval).await;
            }
        });
    }
    {
        let (client, cfg, rt) = (client.clone(), cfg.clone(), runtime.clone());
        tokio::spawn(async move {
            // The runtime's health is checked often and reported at once when it
            // changes; otherwise the status is re-posted every node_status_interval.
            let mut last_problem = String::new();
            let mut last_post = tokio::time::Instant::now();
            loop {
                tokio::time::sleep(cfg.runtime_status_interval.min(cfg.node_status_interval)).await;
                let problem = rt.status().await.err().unwrap_or_default();
                if problem == last_problem && last_post.elapsed() < cfg.node_status_interval {
                    continue;
                }
                if problem != last_problem {
                    log(&cfg.node_name, &if problem.is_empty() { "container runtime is ready".to_string() } else { format!("container runtime is not ready: {problem}") });
                }
                match post_node_status(&client, &cfg, rt.as_ref(), problem.clone()).await {
                    Ok(()) => {
                        last_problem = problem;
                        last_post = tokio::time::Instant::now();
                    }
                    Err(e) => log(&cfg.node_name, &format!("posting node status failed: {e}")),
                }
            }
        });
    }
    let (tx, mut rx) = mpsc::channel::<Change>(1024);
    let opts = ListOptions { field_selector: format!("spec.nodeName={node}"), ..Default::default() };
    let pods = informer::spawn(client.clone(), Kind::Pod, "", opts, tx);
    while !pods.has_synced() {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let tracer = client::trace::Tracer::from_env(&format!("kubelet/{node}"));
    let mut next = tokio::time::Instant::now();
    loop {
        tokio::select! {
            c = rx.recv() => if c.is_none() { return Err("pod informer stopped".into()) },
            _ = tokio::time::sleep_until(next) => {}
        }
        while rx.try_recv().is_ok() {}
        let requeue = sync_all(&client, runtime.as_ref(), &timings, &cfg, &pods, &tracer).await;
        let wait = requeue.map(|ms| Duration::from_millis(ms.max(1) as u64)).unwrap_or(cfg.sync_interval).min(cfg.sync_interval);
        next = tokio::time::Instant::now() + wait;
    }
}

/// One pass over every pod bound here and every pod the runtime holds.
/// Returns the soonest requested re-sync.
async fn sync_all<R: Runtime>(client: &Client, runtime: &R, timings: &timings::RuntimeTimings, cfg: &KubeletConfig, pods: &informer::Informer, tracer: &client::trace::Tracer) -> Option<i64> {
    let mut requeue: Option<i64> = None;
    let mut observed = match runtime.observe().await {
        Ok(o) => o,
        Err(e) => {
            log(&cfg.node_name, &format!("observing the runtime failed: {e}"));
            return None;
        }
    };
    let mut seen: BTreeSet<String> = BTreeSet::new();
    for obj in pods.snapshot() {
        let Some(pod) = obj.as_pod() else { continue };
        seen.insert(pod.metadata.uid.clone());
        let mut pod = pod.clone();
        for round in 0..MAX_SYNC_ROUNDS_PER_POD {
            let obs = observed.get(&pod.metadata.uid).map(|(_, o)| o.clone()).unwrap_or_default();
            let now = wall_now();
            let out = sync_pod(now, &cfg.node_name, &cfg.host_ip, &pod, &obs, KubeletOptions::default());
            if tracer.enabled() {
                tracer.record(&podcore::trace::Record::SyncPod { now, node: cfg.node_name.clone(), host_ip: cfg.host_ip.clone(), round: round as u32, pod: pod.clone(), observation: obs.clone(), out: out.clone() });
            }
            if let Some(ms) = out.requeue_after_ms {
                requeue = Some(requeue.map_or(ms, |r| r.min(ms)));
            }
            let acted = !out.actions.is_empty();
            execute(runtime, timings, &pod, &out.actions, &cfg.node_name).await;
            if let Some(status) = out.status {
                pod.status = status;
                match client.update_status(&Object::Pod(pod.clone())).await {
                    Ok(o) => {
                        if let Some(p) = o.as_pod() {
                            pod = p.clone();
                        }
                    }
                    Err(e) => {
                        if e.code != 409 && e.code != 404 {
                            log(&cfg.node_name, &format!("updating status of {} failed: {e}", pod.metadata.key()));
                        }
                        break;
                    }
                }
            }
            if out.confirm_deletion {
                let d = DeleteRequest { kind: Kind::Pod, namespace: pod.metadata.namespace.clone(), name: pod.metadata.name.clone(), uid: pod.metadata.uid.clone(), propagation: None, grace_period_seconds: Some(0) };
                match client.delete(&d).await {
                    Ok(()) => log(&cfg.node_name, &format!("pod {} terminated and deleted", pod.metadata.key())),
                    Err(e) if e.code == 404 || e.code == 409 => {}
                    Err(e) => log(&cfg.node_name, &format!("confirming deletion of {} failed: {e}", pod.metadata.key())),
                }
                break;
            }
            if !acted {
                break;
            }
            match runtime.observe().await {
                Ok(o) => observed = o,
                Err(_) => break,
            }
        }
    }
    // Pods the runtime has but the API no longer binds here.
    for (uid, (r, obs)) in observed.iter() {
        if seen.contains(uid) {
            continue;
        }
        let actions = orphan_actions(obs);
        let ghost = podcore::controller::simruntime::SimNode::ghost(r);
        log(&cfg.node_name, &format!("removing pod {}/{} that is no longer bound here", r.namespace, r.name));
        execute(runtime, timings, &ghost, &actions, &cfg.node_name).await;
    }
    requeue
}

async fn execute<R: Runtime>(runtime: &R, timings: &timings::RuntimeTimings, pod: &Pod, actions: &[RuntimeAction], node: &str) {
    for a in actions {
        let uid = &pod.metadata.uid;
        let started = std::time::Instant::now();
        let r = match a {
            RuntimeAction::RunSandbox => runtime.run_sandbox(pod).await,
            RuntimeAction::StartContainer { name, attempt } => runtime.start_container(pod, name, *attempt).await,
            RuntimeAction::KillContainer { id, grace_period_seconds, .. } => runtime.kill_container(uid, id, *grace_period_seconds).await,
            RuntimeAction::StopSandbox { id } => runtime.stop_sandbox(uid, id).await,
            RuntimeAction::RemovePod => runtime.remove_pod(uid).await,
        };
        match a {
            RuntimeAction::RunSandbox | RuntimeAction::StartContainer { .. } => timings.record(uid, started.elapsed()),
            RuntimeAction::RemovePod => timings.forget(uid),
            _ => {}
        }
        if let Err(e) = r {
            log(node, &format!("{a:?} for {} failed: {e}", pod.metadata.key()));
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use podcore::controller::kubelet::PodObservation;
    use runtime::{PodRef, SimRuntime};
    use std::collections::BTreeMap;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// A runtime that accepts every sandbox and never makes one, so each
    /// sync of a pod asks for its sandbox again.
    struct Stuck {
        sim: SimRuntime,
        sandboxes_asked: AtomicUsize,
    }

    impl Runtime for Stuck {
        async fn observe(&self) -> Result<BTreeMap<String, (PodRef, PodObservation)>, String> {
            self.sim.observe().await
        }
        async fn run_sandbox(&self, _pod: &Pod) -> Result<(), String> {
            self.sandboxes_asked.fetch_add(1, Ordering::SeqCst);
            Ok(())
        }
        async fn start_container(&self, pod: &Pod, name: &str, attempt: u32) -> Result<(), String> {
            self.sim.start_container(pod, name, attempt).await
        }
        async fn kill_container(&self, pod_uid: &str, id: &str, grace: i64) -> Result<(), String> {
            self.sim.kill_container(pod_uid, id, grace).await
        }
        async fn stop_sandbox(&self, pod_uid: &str, id: &str) -> Result<(), String> {
            self.sim.stop_sandbox(pod_uid, id).await
        }
        async fn remove_pod(&self, pod_uid: &str) -> Result<(), String> {
            self.sim.remove_pod(pod_uid).await
        }
        fn version(&self) -> String {
            "stuck://0".into()
        }
    }

    /// A pod whose runtime never settles is synced `MAX_SYNC_ROUNDS_PER_POD`
    /// times in one pass, no more.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn one_pass_syncs_a_pod_at_most_max_sync_rounds_per_pod_times() {
        let store: Arc<dyn podstore::Store> = Arc::new(podstore::Embedded::in_memory());
        let reg = apiserver::Registry::open(store, 100, 300).unwrap();
        reg.bootstrap().unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(apiserver::serve_on(listener, reg, addr.to_string(), Duration::from_secs(5)));
        let client = Client::new(&format!("http://{addr}"), None, "kubelet-test");
        let mut p = Pod::default();
        p.metadata.name = "p".into();
        p.metadata.namespace = "default".into();
        p.spec.node_name = "n1".into();
        p.spec.containers.push(podcore::types::Container { name: "c".into(), image: "i".into(), ..Default::default() });
        client.create(&Object::Pod(p)).await.unwrap();
        let (tx, _rx) = mpsc::channel(16);
        let pods = informer::spawn(client.clone(), Kind::Pod, "", ListOptions { field_selector: "spec.nodeName=n1".into(), ..Default::default() }, tx);
        while pods.snapshot().is_empty() {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let rt = Stuck { sim: SimRuntime::new("10.0.0"), sandboxes_asked: AtomicUsize::new(0) };
        let cfg = KubeletConfig::new("n1");
        sync_all(&client, &rt, &timings::RuntimeTimings::default(), &cfg, &pods, &client::trace::Tracer::from_env("test")).await;
        assert_eq!(rt.sandboxes_asked.load(Ordering::SeqCst), MAX_SYNC_ROUNDS_PER_POD);
    }
}
