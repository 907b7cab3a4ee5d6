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
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

pub const KUBELET_VERSION: &str = "v1.32.0-podchain";
/// Syncs of one pod in a row within one pass (so sandbox → containers → status settle at once).
pub const MAX_SYNC_ROUNDS_PER_POD: usize = 4;
/// Pods synced at once, each by its own worker: a slow CRI call of one pod
/// delays no other, and at most this many calls are asked of the runtime
/// together.
pub const MAX_POD_WORKERS: usize = 32;

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
    eprintln!("{} kubelet[{node}]: {msg}", client::clock::log_stamp());
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
    let (tx, rx) = mpsc::channel::<Change>(1024);
    let opts = ListOptions { field_selector: format!("spec.nodeName={node}"), ..Default::default() };
    let pods = informer::spawn(client.clone(), Kind::Pod, "", opts, tx);
    while !pods.has_synced() {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let tracer = Arc::new(client::trace::Tracer::from_env(&format!("kubelet/{node}")));
    let ctx = Arc::new(Worker { client, runtime, timings, cfg, pods, tracer });
    pod_workers(ctx, rx).await
}

/// What every pod worker shares.
struct Worker<R> {
    client: Client,
    runtime: Arc<R>,
    timings: Arc<timings::RuntimeTimings>,
    cfg: KubeletConfig,
    pods: informer::Informer,
    tracer: Arc<client::trace::Tracer>,
}

/// The pod workers: a change to a pod (from the informer), to its
/// containers (seen by the relist, upstream's PLEG), or the end of a stop
/// the runtime ran in the background queues its key; up to
/// `MAX_POD_WORKERS` pods are synced at once, each by its own task; a pod
/// changed while its worker runs is synced again after it (the queue's
/// rule: one worker per pod). The relist, every `sync_interval`, wakes the
/// pods whose observation changed and removes what the runtime holds for
/// pods no longer bound here.
async fn pod_workers<R: Runtime>(w: Arc<Worker<R>>, mut rx: mpsc::Receiver<Change>) -> Result<(), String> {
    // The runtime's own wake-ups (a background stop finished), by pod uid.
    let (wake_tx, mut woken) = mpsc::unbounded_channel::<String>();
    w.runtime.set_waker(Arc::new(move |uid: &str| {
        let _ = wake_tx.send(uid.to_string());
    }));
    let mut keys_by_uid: std::collections::BTreeMap<String, String> = Default::default();
    let mut queue = podcore::controller::queue::Queue::default();
    let mut running: tokio::task::JoinSet<(String, Option<i64>, bool)> = tokio::task::JoinSet::new();
    let mut last_seen: std::collections::BTreeMap<String, podcore::controller::kubelet::PodObservation> = Default::default();
    let mut next_relist = tokio::time::Instant::now();
    loop {
        while running.len() < MAX_POD_WORKERS {
            let Some(key) = queue.pop(wall_now()) else { break };
            let w = w.clone();
            running.spawn(async move {
                let (requeue, failed) = w.sync_key(&key).await;
                (key, requeue, failed)
            });
        }
        let timer = queue.next_timer().map(|at| tokio::time::Instant::now() + Duration::from_millis(at.ms_since(wall_now()).max(0) as u64));
        let wake = timer.map_or(next_relist, |t| t.min(next_relist));
        tokio::select! {
            c = rx.recv() => match c {
                Some(c) => {
                    match (c.old.as_deref().and_then(Object::as_pod), c.new.as_deref().and_then(Object::as_pod)) {
                        (_, Some(p)) => {
                            keys_by_uid.insert(p.metadata.uid.clone(), c.key.clone());
                        }
                        (Some(p), None) => {
                            keys_by_uid.remove(&p.metadata.uid);
                        }
                        (None, None) => {}
                    }
                    queue.add(&c.key);
                }
                None => return Err("pod informer stopped".into()),
            },
            Some(uid) = woken.recv() => {
                if let Some(key) = keys_by_uid.get(&uid) {
                    queue.add(key);
                }
            }
            Some(done) = running.join_next(), if !running.is_empty() => {
                match done {
                    Ok((key, requeue, failed)) => queue.finish(wall_now(), &key, requeue, failed),
                    Err(e) => return Err(format!("a pod worker panicked: {e}")),
                }
            }
            _ = tokio::time::sleep_until(wake) => {}
        }
        if tokio::time::Instant::now() >= next_relist {
            w.relist(&mut queue, &mut last_seen).await;
            next_relist = tokio::time::Instant::now() + w.cfg.sync_interval;
        }
    }
}

impl<R: Runtime> Worker<R> {
    /// One worker's run for the pod at `key`: the rounds of `sync_pod`
    /// over its own observation. Returns the requeue it asks for and
    /// whether it failed (to be retried).
    async fn sync_key(&self, key: &str) -> (Option<i64>, bool) {
        // A pod gone from the API: the relist removes what it left.
        let Some(pod) = self.pods.get(key).and_then(|o| o.as_pod().cloned()) else { return (None, false) };
        sync_pod_rounds(&self.client, self.runtime.as_ref(), &self.timings, &self.cfg, pod, &self.tracer).await
    }

    /// The relist (upstream's PLEG): one observation of the whole runtime;
    /// pods whose observation changed since the last are queued, and pods
    /// the runtime holds that no longer bound here are removed.
    async fn relist(&self, queue: &mut podcore::controller::queue::Queue, last_seen: &mut std::collections::BTreeMap<String, podcore::controller::kubelet::PodObservation>) {
        let observed = match self.runtime.observe().await {
            Ok(o) => o,
            Err(e) => {
                log(&self.cfg.node_name, &format!("observing the runtime failed: {e}"));
                return;
            }
        };
        let bound: std::collections::BTreeMap<String, String> = self.pods.snapshot().iter().filter_map(|o| o.as_pod()).map(|p| (p.metadata.uid.clone(), p.metadata.key())).collect();
        for (uid, key) in &bound {
            if observed.get(uid).map(|(_, o)| o) != last_seen.get(uid) {
                queue.add(key);
            }
        }
        *last_seen = observed.iter().map(|(uid, (_, o))| (uid.clone(), o.clone())).collect();
        for (uid, (r, obs)) in observed.iter() {
            if bound.contains_key(uid) {
                continue;
            }
            let actions = orphan_actions(obs);
            let ghost = podcore::controller::simruntime::SimNode::ghost(r);
            log(&self.cfg.node_name, &format!("removing pod {}/{} that is no longer bound here", r.namespace, r.name));
            execute(self.runtime.as_ref(), &self.timings, &ghost, &actions, &self.cfg.node_name).await;
        }
    }
}

/// Syncs one pod up to `MAX_SYNC_ROUNDS_PER_POD` times in a row, each
/// round over a fresh observation of that pod alone, so sandbox,
/// containers and status settle in one worker run, and the status the run
/// ends with is written once. Returns the soonest requeue asked for, and
/// whether the run failed (to be retried).
async fn sync_pod_rounds<R: Runtime>(client: &Client, runtime: &R, timings: &timings::RuntimeTimings, cfg: &KubeletConfig, mut pod: Pod, tracer: &client::trace::Tracer) -> (Option<i64>, bool) {
    let mut requeue: Option<i64> = None;
    // A status decided and not yet written.
    let mut unsent = false;
    for round in 0..MAX_SYNC_ROUNDS_PER_POD {
        let obs = match runtime.observe_pod(&pod.metadata.uid).await {
            Ok(o) => o.map(|(_, o)| o).unwrap_or_default(),
            Err(e) => {
                log(&cfg.node_name, &format!("observing pod {} failed: {e}", pod.metadata.key()));
                return (requeue, true);
            }
        };
        let now = wall_now();
        let out = sync_pod(now, &cfg.node_name, &cfg.host_ip, &pod, &obs, KubeletOptions::default());
        if tracer.enabled() {
            tracer.record(&podcore::trace::Record::SyncPod { now, node: cfg.node_name.clone(), host_ip: cfg.host_ip.clone(), round: round as u32, pod: pod.clone(), observation: obs.clone(), out: out.clone() });
        }
        if let Some(ms) = out.requeue_after_ms {
            requeue = Some(requeue.map_or(ms, |r| r.min(ms)));
        }
        let acted = !out.actions.is_empty();
        // A confirmed deletion's actions (removing what has stopped) follow
        // the deletion, below.
        let waits = !out.confirm_deletion && execute(runtime, timings, &pod, &out.actions, &cfg.node_name).await;
        if let Some(status) = out.status {
            pod.status = status;
            unsent = true;
        }
        // Only the run's last status is written (upstream's status manager
        // sends a pod's latest): the rounds before it decided on it here.
        let last = !acted || waits || out.confirm_deletion || round + 1 == MAX_SYNC_ROUNDS_PER_POD;
        if unsent && last {
            unsent = false;
            match client.update_status(&Object::Pod(pod.clone())).await {
                Ok(o) => {
                    if let Some(p) = o.as_pod() {
                        pod = p.clone();
                    }
                }
                Err(e) => {
                    // 409 and 404: the pod changed or went, and that change
                    // queues it again; anything else is retried.
                    let unexpected = e.code != 409 && e.code != 404;
                    if unexpected {
                        log(&cfg.node_name, &format!("updating status of {} failed: {e}", pod.metadata.key()));
                    }
                    return (requeue, unexpected);
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
            // What is left is removed whether or not the deletion went
            // through (the relist removes it too, once the pod is gone).
            execute(runtime, timings, &pod, &out.actions, &cfg.node_name).await;
            break;
        }
        if !acted || waits {
            break;
        }
    }
    (requeue, false)
}

/// Runs `actions` in order, stopping at the first that fails. Returns
/// whether one of them goes on in the runtime's background (a stop that
/// wakes the pod when it ends).
async fn execute<R: Runtime>(runtime: &R, timings: &timings::RuntimeTimings, pod: &Pod, actions: &[RuntimeAction], node: &str) -> bool {
    let mut waits = false;
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
            return waits;
        }
        waits |= matches!(a, RuntimeAction::KillContainer { .. }) && runtime.stops_in_background();
    }
    waits
}

#[cfg(test)]
mod tests {
    use super::*;
    use podcore::controller::kubelet::PodObservation;
    use runtime::{PodRef, SimRuntime};
    use std::collections::BTreeMap;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// The simulated runtime with its sandbox call under a test's control:
    /// it counts the calls asked at once and in all, takes `delay` for each
    /// (the pod named "slow" waits for `release`), and makes the sandbox
    /// only with `makes_sandboxes`.
    struct Watched {
        sim: SimRuntime,
        makes_sandboxes: bool,
        delay: Duration,
        asked: AtomicUsize,
        in_flight: AtomicUsize,
        most: AtomicUsize,
        release: tokio::sync::Notify,
        /// Kills only start the stop (the container goes on running), as CRI's.
        stops_in_background: bool,
        observed: AtomicUsize,
        kills: AtomicUsize,
        /// Where `remove_pod` looks whether the pod is still in the API, and what it saw.
        api: Option<Client>,
        in_api_at_removal: std::sync::Mutex<Vec<bool>>,
    }

    impl Watched {
        fn new(makes_sandboxes: bool, delay: Duration) -> Watched {
            Watched {
                sim: SimRuntime::new("10.0.0"),
                makes_sandboxes,
                delay,
                asked: AtomicUsize::new(0),
                in_flight: AtomicUsize::new(0),
                most: AtomicUsize::new(0),
                release: tokio::sync::Notify::new(),
                stops_in_background: false,
                observed: AtomicUsize::new(0),
                kills: AtomicUsize::new(0),
                api: None,
                in_api_at_removal: Default::default(),
            }
        }
    }

    impl Runtime for Watched {
        async fn observe(&self) -> Result<BTreeMap<String, (PodRef, PodObservation)>, String> {
            self.observed.fetch_add(1, Ordering::SeqCst);
            self.sim.observe().await
        }
        fn stops_in_background(&self) -> bool {
            self.stops_in_background
        }
        async fn run_sandbox(&self, pod: &Pod) -> Result<(), String> {
            self.asked.fetch_add(1, Ordering::SeqCst);
            let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
            self.most.fetch_max(now, Ordering::SeqCst);
            if pod.metadata.name == "slow" {
                self.release.notified().await;
            } else {
                tokio::time::sleep(self.delay).await;
            }
            self.in_flight.fetch_sub(1, Ordering::SeqCst);
            if self.makes_sandboxes {
                self.sim.run_sandbox(pod).await
            } else {
                Ok(())
            }
        }
        async fn start_container(&self, pod: &Pod, name: &str, attempt: u32) -> Result<(), String> {
            self.sim.start_container(pod, name, attempt).await
        }
        async fn kill_container(&self, pod_uid: &str, id: &str, grace: i64) -> Result<(), String> {
            self.kills.fetch_add(1, Ordering::SeqCst);
            if self.stops_in_background {
                return Ok(());
            }
            self.sim.kill_container(pod_uid, id, grace).await
        }
        async fn stop_sandbox(&self, pod_uid: &str, id: &str) -> Result<(), String> {
            self.sim.stop_sandbox(pod_uid, id).await
        }
        async fn remove_pod(&self, pod_uid: &str) -> Result<(), String> {
            if let Some(api) = &self.api {
                let (pods, _) = api.list(Kind::Pod, "default", &ListOptions::default()).await.map_err(|e| e.to_string())?;
                let present = pods.iter().any(|p| p.meta().uid == pod_uid);
                self.in_api_at_removal.lock().unwrap().push(present);
            }
            self.sim.remove_pod(pod_uid).await
        }
        fn version(&self) -> String {
            "watched://0".into()
        }
    }

    /// An in-process apiserver holding the pods `names`, bound to node n1,
    /// and an informer of n1's pods that has seen them all.
    async fn apiserver_with_pods(names: impl IntoIterator<Item = String>) -> (Client, informer::Informer, mpsc::Receiver<Change>) {
        let store: Arc<dyn podstore::Store> = Arc::new(podstore::Embedded::in_memory());
        let reg = apiserver::Registry::open(store, 1000, 300).unwrap();
        reg.bootstrap().unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(apiserver::serve_on(listener, reg, addr.to_string(), Default::default()));
        let client = Client::new(&format!("http://{addr}"), None, "kubelet-test");
        let mut n = 0;
        for name in names {
            let mut p = Pod::default();
            p.metadata.name = name;
            p.metadata.namespace = "default".into();
            p.spec.node_name = "n1".into();
            p.spec.containers.push(podcore::types::Container { name: "c".into(), image: "i".into(), ..Default::default() });
            client.create(&Object::Pod(p)).await.unwrap();
            n += 1;
        }
        let (tx, rx) = mpsc::channel(1024);
        let pods = informer::spawn(client.clone(), Kind::Pod, "", ListOptions { field_selector: "spec.nodeName=n1".into(), ..Default::default() }, tx);
        while pods.snapshot().len() < n {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        (client, pods, rx)
    }

    /// A pod whose runtime never settles (its sandbox is accepted and never
    /// made) is synced `MAX_SYNC_ROUNDS_PER_POD` times in one run, no more.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn one_pass_syncs_a_pod_at_most_max_sync_rounds_per_pod_times() {
        let (client, pods, _rx) = apiserver_with_pods(["p".to_string()]).await;
        let rt = Watched::new(false, Duration::ZERO);
        let pod = pods.snapshot()[0].as_pod().unwrap().clone();
        sync_pod_rounds(&client, &rt, &timings::RuntimeTimings::default(), &KubeletConfig::new("n1"), pod, &client::trace::Tracer::from_env("test")).await;
        assert_eq!(rt.asked.load(Ordering::SeqCst), MAX_SYNC_ROUNDS_PER_POD);
    }

    /// The pod `name` (in the API, bound to n1) marked for deletion with
    /// upstream's grace period, as the kubelet's informer then shows it.
    async fn marked_for_deletion(client: &Client, pods: &informer::Informer, name: &str) -> Pod {
        let key = format!("default/{name}");
        let uid = pods.get(&key).unwrap().meta().uid.clone();
        let d = DeleteRequest { kind: Kind::Pod, namespace: "default".into(), name: name.into(), uid, propagation: None, grace_period_seconds: None };
        client.delete(&d).await.unwrap();
        loop {
            if let Some(p) = pods.get(&key).and_then(|o| o.as_pod().cloned()).filter(|p| p.metadata.deletion_timestamp.is_some()) {
                return p;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// A runtime whose stops go on in the background (CRI's): the worker
    /// that asked for the kill ends its run there, once, rather than observe
    /// the container still running round after round; the stop's end wakes it.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_kill_that_stops_in_the_background_ends_the_run() {
        let (client, pods, _rx) = apiserver_with_pods(["p".to_string()]).await;
        let rt = Watched { stops_in_background: true, ..Watched::new(true, Duration::ZERO) };
        let running = pods.get("default/p").unwrap().as_pod().unwrap().clone();
        sync_pod_rounds(&client, &rt, &Default::default(), &KubeletConfig::new("n1"), running, &client::trace::Tracer::from_env("test")).await;
        let observed = rt.observed.load(Ordering::SeqCst);
        let pod = marked_for_deletion(&client, &pods, "p").await;
        sync_pod_rounds(&client, &rt, &Default::default(), &KubeletConfig::new("n1"), pod.clone(), &client::trace::Tracer::from_env("test")).await;
        assert_eq!((rt.kills.load(Ordering::SeqCst), rt.observed.load(Ordering::SeqCst) - observed), (1, 1), "one observation, one kill, and the run ends");
        // The same pod on a runtime that stops in the call goes on at once
        // to the sandbox, the confirmation and the removal.
        let rt = Watched::new(true, Duration::ZERO);
        rt.sim.run_sandbox(&pod).await.unwrap();
        rt.sim.start_container(&pod, "c", 0).await.unwrap();
        sync_pod_rounds(&client, &rt, &Default::default(), &KubeletConfig::new("n1"), pod, &client::trace::Tracer::from_env("test")).await;
        assert!(rt.sim.observe().await.unwrap().is_empty(), "stopped, confirmed and removed in one run");
    }

    /// A pod whose containers and sandbox have stopped leaves the API
    /// before what is left of it is removed from the runtime (upstream
    /// removes sandboxes later, in its container garbage collector).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_stopped_pod_is_confirmed_deleted_before_its_removal() {
        let (client, pods, _rx) = apiserver_with_pods(["p".to_string()]).await;
        let pod = marked_for_deletion(&client, &pods, "p").await;
        let rt = Watched { api: Some(client.clone()), ..Watched::new(true, Duration::ZERO) };
        rt.sim.run_sandbox(&pod).await.unwrap();
        rt.sim.start_container(&pod, "c", 0).await.unwrap();
        sync_pod_rounds(&client, &rt, &Default::default(), &KubeletConfig::new("n1"), pod, &client::trace::Tracer::from_env("test")).await;
        assert_eq!(*rt.in_api_at_removal.lock().unwrap(), vec![false], "removed once, after the pod left the API");
        assert!(rt.sim.observe().await.unwrap().is_empty());
        assert_eq!(client.list(Kind::Pod, "default", &ListOptions::default()).await.unwrap().0.len(), 0);
    }

    /// One worker per pod, at most `MAX_POD_WORKERS` at once: with more pods
    /// than that, exactly that many sandboxes are asked together, and a pod
    /// whose sandbox never comes delays none of the others.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn at_most_max_pod_workers_sync_at_once_and_a_slow_pod_delays_no_other() {
        let others = MAX_POD_WORKERS + 8;
        let (client, pods, rx) = apiserver_with_pods(std::iter::once("slow".to_string()).chain((0..others).map(|i| format!("p{i}")))).await;
        let rt = Arc::new(Watched::new(true, Duration::from_millis(300)));
        let w = Arc::new(Worker { client: client.clone(), runtime: rt.clone(), timings: Default::default(), cfg: KubeletConfig::new("n1"), pods, tracer: Arc::new(client::trace::Tracer::from_env("test")) });
        let workers = tokio::spawn(pod_workers(w, rx));
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            let (items, _) = client.list(Kind::Pod, "default", &ListOptions::default()).await.unwrap();
            let running = items.iter().filter_map(|o| o.as_pod()).filter(|p| p.metadata.name != "slow" && p.status.phase == "Running").count();
            if running == others {
                break;
            }
            assert!(tokio::time::Instant::now() < deadline, "{running} of {others} pods running while the slow one waits");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert_eq!(rt.most.load(Ordering::SeqCst), MAX_POD_WORKERS, "as many sandboxes asked at once as there are workers, never more");
        assert_eq!(rt.in_flight.load(Ordering::SeqCst), 1, "the slow pod is still waiting for its sandbox");
        rt.release.notify_one();
        workers.abort();
    }
}
