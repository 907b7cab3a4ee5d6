//! The scenarios, and what they share: a control plane started as
//! processes, objects to create in bulk, and a watch that notes when each pod
//! reached a state.

mod deployment;
mod footprint;
mod model;
mod scale;
mod scheduler;
mod startup;
mod store;
mod watch;

use crate::procs::{free_port, temp_dir, wait_healthy, Proc};
use crate::{Options, ScenarioReport};
use client::{Client, ListOptions, WatchEvent};
use podcore::object::{Kind, Object};
use podcore::types::Pod;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub async fn run(name: &str, opts: &Options) -> Result<ScenarioReport, String> {
    match name {
        "store" => store::run(opts).await,
        "scheduler" => scheduler::run(opts).await,
        "deployment" => deployment::run(opts).await,
        "startup" => startup::run(opts).await,
        "watch" => watch::run(opts).await,
        "scale" => scale::run(opts).await,
        "footprint" => footprint::run(opts).await,
        "model" => model::run(opts).await,
        other => Err(format!("unknown scenario {other}")),
    }
}

/// How long a control plane may take to answer after it starts.
const STARTUP: Duration = Duration::from_secs(30);

/// A control plane of podchain processes in a directory of its own.
pub struct ControlPlane {
    pub dir: PathBuf,
    pub url: String,
    pub client: Client,
    pub kubeconfig: PathBuf,
    pub procs: Vec<Proc>,
    pub server_pid: u32,
}

impl ControlPlane {
    /// `podchain server` (`with_controllers`) or `podchain apiserver` alone.
    pub async fn start(opts: &Options, name: &str, with_controllers: bool, extra: &[&str]) -> Result<ControlPlane, String> {
        let dir = temp_dir(&format!("bench-{name}"));
        let api = format!("127.0.0.1:{}", free_port());
        let mut args: Vec<String> = [if with_controllers { "server" } else { "apiserver" }, "--data-dir", &dir.join("data").display().to_string(), "--listen", &api].iter().map(|s| s.to_string()).collect();
        args.extend(extra.iter().map(|s| s.to_string()));
        let p = opts.podchain(if with_controllers { "server" } else { "apiserver" }, &args, &dir)?;
        let url = format!("http://{api}");
        wait_healthy(&url, STARTUP).await.map_err(|e| format!("{e}\n{}", p.log_tail()))?;
        let server_pid = p.pid().unwrap_or(0);
        let kubeconfig = dir.join("data/kubeconfig");
        Ok(ControlPlane { client: Client::new(&url, None, "podchain-bench"), url, kubeconfig, dir, procs: vec![p], server_pid })
    }

    /// Starts another podchain component against this control plane.
    pub fn add(&mut self, opts: &Options, name: &str, args: &[String]) -> Result<(), String> {
        let mut full = args.to_vec();
        full.extend(["--kubeconfig".to_string(), self.kubeconfig.display().to_string()]);
        self.procs.push(opts.podchain(name, &full, &self.dir)?);
        Ok(())
    }

    /// Starts `podchain kubelet --runtime cri` as node `cri-1` on `ctrd`
    /// (logs under `dir`) and waits until its node is Ready; returns the
    /// kubelet's endpoint and pid.
    pub async fn add_cri_kubelet(&mut self, opts: &Options, ctrd: &crate::procs::Containerd, dir: &std::path::Path) -> Result<(String, u32), String> {
        let addr = format!("127.0.0.1:{}", free_port());
        self.add(opts, "kubelet", &["kubelet", "--node", "cri-1", "--runtime", "cri", "--container-runtime-endpoint", &ctrd.endpoint(), "--pod-log-dir", &dir.join("logs").display().to_string(), "--listen", &addr].map(String::from))?;
        let pid = self.procs.last().and_then(|p| p.pid()).ok_or("the kubelet did not start")?;
        let c = self.client.clone();
        crate::procs::wait_for("the containerd node Ready", Duration::from_secs(60), || {
            let c = c.clone();
            async move {
                let n = c.get(Kind::Node, "", "cri-1").await.map_err(|e| e.to_string())?;
                let s = podcore::controller::nodelifecycle::ready_status(n.as_node().ok_or("not a node")?).to_string();
                if s == "True" { Ok(()) } else { Err(s) }
            }
        })
        .await
        .map_err(|e| format!("{e}\n{}", self.logs()))?;
        Ok((addr, pid))
    }

    /// The logs of every process, for an error message.
    pub fn logs(&self) -> String {
        self.procs.iter().map(|p| format!("--- {}:\n{}", p.name, p.log_tail())).collect::<Vec<_>>().join("\n")
    }
}

impl Drop for ControlPlane {
    fn drop(&mut self) {
        for p in self.procs.iter_mut().rev() {
            p.kill();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A Node object as a kubelet registers it: Ready, with room for `max_pods`.
pub fn node(name: &str, max_pods: u32) -> Object {
    let v = json!({
        "apiVersion": "v1", "kind": "Node", "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name}},
        "status": {
            "capacity": {"cpu": "32", "memory": "256Gi", "pods": max_pods.to_string()},
            "allocatable": {"cpu": "32", "memory": "256Gi", "pods": max_pods.to_string()},
            "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady", "message": "bench node"}],
        },
    });
    Object::from_value(Kind::Node, v).expect("a valid node")
}

/// A pending pod asking for a little cpu and memory.
pub fn pending_pod(name: &str, node: Option<&str>) -> Object {
    let mut v = json!({
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "default", "labels": {"app": "bench"}},
        "spec": {"containers": [{"name": "c", "image": "podchain.local/sample:1", "imagePullPolicy": "Never", "resources": {"requests": {"cpu": "10m", "memory": "16Mi"}}}]},
    });
    if let Some(n) = node {
        v["spec"]["nodeName"] = json!(n);
    }
    Object::from_value(Kind::Pod, v).expect("a valid pod")
}

/// A Deployment of `replicas` pods of the sample image, labelled `app: name`.
pub fn deployment(name: &str, replicas: usize, image: &str) -> Value {
    json!({
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "namespace": "default"},
        "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                 "template": {"metadata": {"labels": {"app": name}},
                              "spec": {"terminationGracePeriodSeconds": 2,
                                       "containers": [{"name": "web", "image": image, "imagePullPolicy": "Never",
                                                       "resources": {"requests": {"cpu": "10m", "memory": "16Mi"}}}]}}}
    })
}

/// Creates `objects` with `concurrency` requests in flight; fails on the first error.
pub async fn create_all(c: &Client, objects: Vec<Object>, concurrency: usize, progress: &mut crate::Progress, what: &str) -> Result<(), String> {
    let total = objects.len();
    let queue = Arc::new(Mutex::new(objects));
    let done = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..concurrency {
        let (c, queue, done) = (c.clone(), queue.clone(), done.clone());
        tasks.spawn(async move {
            loop {
                let Some(o) = queue.lock().unwrap_or_else(|p| p.into_inner()).pop() else { return Ok(()) };
                c.create(&o).await.map_err(|e| format!("creating {}: {e}", o.key()))?;
                done.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
        });
    }
    loop {
        tokio::select! {
            r = tasks.join_next() => match r {
                None => break,
                Some(Ok(Ok(()))) => {}
                Some(Ok(Err(e))) => return Err(e),
                Some(Err(e)) => return Err(e.to_string()),
            },
            _ = tokio::time::sleep(Duration::from_millis(250)) => {}
        }
        progress.say(&format!("{what}: {}/{total}", done.load(std::sync::atomic::Ordering::Relaxed)));
    }
    Ok(())
}

/// When a watch over pods first saw each pod in each state.
#[derive(Default)]
pub struct PodTimes {
    pub created: BTreeMap<String, Instant>,
    pub bound: BTreeMap<String, Instant>,
    pub running: BTreeMap<String, Instant>,
    pub deleted: BTreeMap<String, Instant>,
    /// uid → pod name (for the kubelet's per-pod timings).
    pub names: BTreeMap<String, String>,
    /// Pods seen on more than one node: must stay empty.
    pub rebound: Vec<String>,
    node_of: BTreeMap<String, String>,
}

impl PodTimes {
    fn observe(&mut self, p: &Pod, deleted: bool, at: Instant) {
        let uid = p.metadata.uid.clone();
        self.names.entry(uid.clone()).or_insert_with(|| p.metadata.name.clone());
        self.created.entry(uid.clone()).or_insert(at);
        if deleted {
            self.deleted.entry(uid).or_insert(at);
            return;
        }
        if !p.spec.node_name.is_empty() {
            self.bound.entry(uid.clone()).or_insert(at);
            match self.node_of.get(&uid) {
                Some(n) if *n != p.spec.node_name => self.rebound.push(uid.clone()),
                Some(_) => {}
                None => {
                    self.node_of.insert(uid.clone(), p.spec.node_name.clone());
                }
            }
        }
        if p.status.phase == "Running" && podcore::podutil::is_ready(p) {
            self.running.entry(uid).or_insert(at);
        }
    }
}

/// A watch over every pod from now on (with `selector`), noting times.
pub async fn watch_pods(c: &Client, selector: &str) -> Result<Arc<Mutex<PodTimes>>, String> {
    let opts = ListOptions { label_selector: selector.into(), ..Default::default() };
    let (_, rv) = c.list(Kind::Pod, "", &opts).await.map_err(|e| e.to_string())?;
    let mut stream = c.watch(Kind::Pod, "", &opts, &rv, 3600).await.map_err(|e| e.to_string())?;
    let times = Arc::new(Mutex::new(PodTimes::default()));
    let t = times.clone();
    tokio::spawn(async move {
        while let Some(Ok(ev)) = stream.next().await {
            let at = Instant::now();
            let mut t = t.lock().unwrap_or_else(|p| p.into_inner());
            match ev {
                WatchEvent::Added(Object::Pod(p)) | WatchEvent::Modified(Object::Pod(p)) => t.observe(&p, false, at),
                WatchEvent::Deleted(Object::Pod(p)) => t.observe(&p, true, at),
                _ => {}
            }
        }
    });
    Ok(times)
}

/// Polls `done` on the watch's times every 20 ms until it holds or
/// `budget` runs out; returns whether it held and the time taken.
pub async fn until(times: &Arc<Mutex<PodTimes>>, budget: Duration, progress: &mut crate::Progress, what: &str, done: impl Fn(&PodTimes) -> (bool, String)) -> (bool, Duration) {
    let started = Instant::now();
    loop {
        let (ok, status) = done(&times.lock().unwrap_or_else(|p| p.into_inner()));
        if ok {
            return (true, started.elapsed());
        }
        if started.elapsed() > budget {
            return (false, started.elapsed());
        }
        progress.say(&format!("{what}: {status} ({:.0} s)", started.elapsed().as_secs_f64()));
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Seconds since `t0` of each instant.
pub fn since(t0: Instant, at: impl Iterator<Item = Instant>) -> Vec<f64> {
    at.map(|t| t.saturating_duration_since(t0).as_secs_f64()).collect()
}
