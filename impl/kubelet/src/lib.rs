//! The kubelet: registers its Node, renews its Lease, watches the pods bound
//! to it, and syncs each one through the pure `sync_pod` with a `Runtime`.
//! Also serves a small HTTP API (health, the runtime's view, and for the
//! simulated runtime a hook that makes a container exit).

pub mod runtime;
mod server;

use client::informer::{self, Change};
use client::{Client, ListOptions};
use podcore::controller::kubelet::{stop_all, sync_pod, KubeletOptions, RuntimeAction};
use podcore::controller::nodelifecycle::NODE_LEASE_NAMESPACE;
use podcore::effect::DeleteRequest;
use podcore::object::{Kind, Object};
use podcore::time::{MicroTime, Time};
use podcore::types::*;
use runtime::{wall_now, Runtime};
use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

pub const KUBELET_VERSION: &str = "v1.32.0-podchain";
/// Syncs of one pod in a row within one pass (so sandbox → containers → status settle at once).
pub const MAX_SYNC_ROUNDS_PER_POD: usize = 4;

#[derive(Clone, Debug)]
pub struct KubeletConfig {
    pub node_name: String,
    pub host_ip: String,
    pub cpu: String,
    pub memory: String,
    pub max_pods: u32,
    pub lease_duration_seconds: i32,
    pub lease_renew_interval: Duration,
    pub node_status_interval: Duration,
    /// The runtime is relisted at least this often (upstream's PLEG relist period).
    pub sync_interval: Duration,
    pub listen: SocketAddr,
}

impl KubeletConfig {
    pub fn new(node_name: &str) -> KubeletConfig {
        KubeletConfig {
            node_name: node_name.into(),
            host_ip: "127.0.0.1".into(),
            cpu: "4".into(),
            memory: "8Gi".into(),
            max_pods: 110,
            lease_duration_seconds: 40,
            lease_renew_interval: Duration::from_secs(10),
            node_status_interval: Duration::from_secs(60),
            sync_interval: Duration::from_secs(1),
            listen: "127.0.0.1:10250".parse().unwrap(),
        }
    }
}

fn log(node: &str, msg: &str) {
    eprintln!("{} kubelet[{node}]: {msg}", wall_now().to_rfc3339());
}

fn node_object(cfg: &KubeletConfig, runtime_version: &str, now: Time) -> Node {
    let mut n = Node::default();
    n.metadata.name = cfg.node_name.clone();
    for (k, v) in [("kubernetes.io/hostname", cfg.node_name.as_str()), ("kubernetes.io/os", "linux"), ("kubernetes.io/arch", "amd64")] {
        n.metadata.labels.insert(k.into(), v.into());
    }
    let mut res = ResourceList::new();
    res.insert("cpu".into(), cfg.cpu.as_str().into());
    res.insert("memory".into(), cfg.memory.as_str().into());
    res.insert("pods".into(), cfg.max_pods.to_string().as_str().into());
    n.status.capacity = res.clone();
    n.status.allocatable = res;
    n.status.conditions = node_conditions(now);
    n.status.addresses = vec![NodeAddress { type_: "InternalIP".into(), address: cfg.host_ip.clone() }, NodeAddress { type_: "Hostname".into(), address: cfg.node_name.clone() }];
    n.status.node_info = Some(NodeSystemInfo {
        kubelet_version: KUBELET_VERSION.into(),
        kube_proxy_version: KUBELET_VERSION.into(),
        container_runtime_version: runtime_version.into(),
        operating_system: "linux".into(),
        architecture: "amd64".into(),
        os_image: "podchain".into(),
        ..Default::default()
    });
    n
}

fn node_conditions(now: Time) -> Vec<NodeCondition> {
    let now = now.truncate_to_secs();
    let c = |t: &str, s: &str, reason: &str, msg: &str| NodeCondition {
        type_: t.into(),
        status: s.into(),
        last_heartbeat_time: Some(now),
        last_transition_time: Some(now),
        reason: reason.into(),
        message: msg.into(),
    };
    vec![
        c("MemoryPressure", "False", "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
        c("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
        c("PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
        c("Ready", "True", "KubeletReady", "kubelet is posting ready status"),
    ]
}

/// Creates the Node, or marks an existing one Ready again. Returns its uid.
async fn register<R: Runtime>(client: &Client, runtime: &R, cfg: &KubeletConfig) -> Result<String, String> {
    let node = node_object(cfg, &runtime.version(), wall_now());
    match client.create(&Object::Node(node.clone())).await {
        Ok(o) => Ok(o.meta().uid.clone()),
        Err(e) if e.code == 409 => {
            let cur = client.get(Kind::Node, "", &cfg.node_name).await.map_err(|e| e.to_string())?;
            let mut n = cur.as_node().cloned().ok_or("not a node")?;
            let uid = n.metadata.uid.clone();
            n.status.capacity = node.status.capacity;
            n.status.allocatable = node.status.allocatable;
            n.status.conditions = node.status.conditions;
            n.status.addresses = node.status.addresses;
            n.status.node_info = node.status.node_info;
            client.update_status(&Object::Node(n)).await.map_err(|e| e.to_string())?;
            Ok(uid)
        }
        Err(e) => Err(e.to_string()),
    }
}

async fn renew_lease(client: &Client, cfg: &KubeletConfig, node_uid: &str) -> Result<(), String> {
    let now = MicroTime::from(wall_now());
    match client.get(Kind::Lease, NODE_LEASE_NAMESPACE, &cfg.node_name).await {
        Ok(o) => {
            let mut l = o.as_lease().cloned().ok_or("not a lease")?;
            l.spec.renew_time = Some(now);
            l.spec.holder_identity = Some(cfg.node_name.clone());
            l.spec.lease_duration_seconds = Some(cfg.lease_duration_seconds);
            client.update(&Object::Lease(l)).await.map(|_| ()).map_err(|e| e.to_string())
        }
        Err(e) if e.code == 404 => {
            let mut l = Lease::default();
            l.metadata.name = cfg.node_name.clone();
            l.metadata.namespace = NODE_LEASE_NAMESPACE.into();
            l.metadata.owner_references.push(podcore::meta::OwnerReference { api_version: "v1".into(), kind: "Node".into(), name: cfg.node_name.clone(), uid: node_uid.into(), controller: None, block_owner_deletion: None });
            l.spec = LeaseSpec { holder_identity: Some(cfg.node_name.clone()), lease_duration_seconds: Some(cfg.lease_duration_seconds), acquire_time: Some(now), renew_time: Some(now), lease_transitions: None };
            client.create(&Object::Lease(l)).await.map(|_| ()).map_err(|e| e.to_string())
        }
        Err(e) => Err(e.to_string()),
    }
}

/// Keeps the Ready condition's heartbeat fresh and repairs it if someone
/// (the node lifecycle controller, after an outage) marked it otherwise.
async fn post_node_status(client: &Client, cfg: &KubeletConfig) -> Result<(), String> {
    let cur = client.get(Kind::Node, "", &cfg.node_name).await.map_err(|e| e.to_string())?;
    let mut n = cur.as_node().cloned().ok_or("not a node")?;
    let now = wall_now().truncate_to_secs();
    let fresh = node_conditions(now);
    for f in fresh {
        match n.status.conditions.iter_mut().find(|c| c.type_ == f.type_) {
            Some(c) => {
                if c.status != f.status {
                    c.last_transition_time = Some(now);
                }
                c.status = f.status;
                c.reason = f.reason;
                c.message = f.message;
                c.last_heartbeat_time = Some(now);
            }
            None => n.status.conditions.push(f),
        }
    }
    client.update_status(&Object::Node(n)).await.map(|_| ()).map_err(|e| e.to_string())
}

pub async fn run<R: Runtime>(client: Client, runtime: Arc<R>, cfg: KubeletConfig) -> Result<(), String> {
    let node = cfg.node_name.clone();
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
        let (client, cfg) = (client.clone(), cfg.clone());
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(cfg.node_status_interval).await;
                if let Err(e) = post_node_status(&client, &cfg).await {
                    log(&cfg.node_name, &format!("posting node status failed: {e}"));
                }
            }
        });
    }
    server::spawn(cfg.listen, runtime.clone()).await?;
    let (tx, mut rx) = mpsc::channel::<Change>(1024);
    let opts = ListOptions { field_selector: format!("spec.nodeName={node}"), ..Default::default() };
    let pods = informer::spawn(client.clone(), Kind::Pod, "", opts, tx);
    while !pods.has_synced() {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut next = tokio::time::Instant::now();
    loop {
        tokio::select! {
            c = rx.recv() => if c.is_none() { return Err("pod informer stopped".into()) },
            _ = tokio::time::sleep_until(next) => {}
        }
        while rx.try_recv().is_ok() {}
        let requeue = sync_all(&client, runtime.as_ref(), &cfg, &pods).await;
        let wait = requeue.map(|ms| Duration::from_millis(ms.max(1) as u64)).unwrap_or(cfg.sync_interval).min(cfg.sync_interval);
        next = tokio::time::Instant::now() + wait;
    }
}

/// One pass over every pod bound here and every pod the runtime holds.
/// Returns the soonest requested re-sync.
async fn sync_all<R: Runtime>(client: &Client, runtime: &R, cfg: &KubeletConfig, pods: &informer::Informer) -> Option<i64> {
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
        for _round in 0..MAX_SYNC_ROUNDS_PER_POD {
            let obs = observed.get(&pod.metadata.uid).map(|(_, o)| o.clone()).unwrap_or_default();
            let out = sync_pod(wall_now(), &cfg.node_name, &cfg.host_ip, &pod, &obs, KubeletOptions::default());
            if let Some(ms) = out.requeue_after_ms {
                requeue = Some(requeue.map_or(ms, |r| r.min(ms)));
            }
            let acted = !out.actions.is_empty();
            execute(runtime, &pod, &out.actions, &cfg.node_name).await;
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
        let mut actions = stop_all(obs, 0);
        actions.push(RuntimeAction::RemovePod);
        let mut ghost = Pod::default();
        ghost.metadata.uid = uid.clone();
        ghost.metadata.namespace = r.namespace.clone();
        ghost.metadata.name = r.name.clone();
        log(&cfg.node_name, &format!("removing pod {}/{} that is no longer bound here", r.namespace, r.name));
        execute(runtime, &ghost, &actions, &cfg.node_name).await;
    }
    requeue
}

async fn execute<R: Runtime>(runtime: &R, pod: &Pod, actions: &[RuntimeAction], node: &str) {
    for a in actions {
        let uid = &pod.metadata.uid;
        let r = match a {
            RuntimeAction::RunSandbox => runtime.run_sandbox(pod).await,
            RuntimeAction::StartContainer { name, attempt } => runtime.start_container(pod, name, *attempt).await,
            RuntimeAction::KillContainer { id, grace_period_seconds, .. } => runtime.kill_container(uid, id, *grace_period_seconds).await,
            RuntimeAction::StopSandbox { id } => runtime.stop_sandbox(uid, id).await,
            RuntimeAction::RemovePod => runtime.remove_pod(uid).await,
        };
        if let Err(e) = r {
            log(node, &format!("{a:?} for {} failed: {e}", pod.metadata.key()));
            return;
        }
    }
}
