//! The containerd runtime: `Runtime` over the CRI (see the `cri` crate).
//! Every decision (what to run, labels, resources, pull or not, back-off) is
//! made by the pure core (`sync_pod`, `runtimespec`); this file only turns
//! actions into CRI calls and CRI answers into `PodObservation`s.
//!
//! Everything the kubelet needs to find its pods again after a restart is in
//! the runtime: sandboxes and containers carry labels naming the pod (uid,
//! name, namespace) and the node, and container metadata carries the attempt
//! (the restart count). Observation relists from the runtime every time, so a
//! kubelet killed with -9 adopts what it left running.

use crate::runtime::{wall_now, ContainerLog, PodRef, Runtime};
use cri::v1;
use cri::Cri;
use podcore::controller::kubelet::{ContainerObservation, ContainerRun, PodObservation, SandboxObservation, StartFailure};
use podcore::controller::runtimespec::{self as spec, ImageDecision};
use podcore::controller::simruntime::RECORDS_PER_CONTAINER;
use podcore::time::Time;
use podcore::types::Pod;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex};

/// Where pod logs go by default (upstream's kubelet uses the same directory).
pub const DEFAULT_POD_LOG_DIR: &str = "/var/log/pods";

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn ns_to_time(ns: i64) -> Time {
    Time(ns / 1_000_000)
}

pub struct CriRuntime {
    cri: Cri,
    node: String,
    log_root: String,
    version: String,
    /// Prefix of container IDs in pod status (`containerd://<id>`, as upstream).
    id_scheme: String,
    /// Sandbox id → pod IP (fixed for a sandbox's life).
    sandbox_ips: Mutex<HashMap<String, String>>,
    /// Container id → (CRI state, what it meant), refreshed when the state changes.
    statuses: Mutex<HashMap<String, (i32, ContainerRun, String)>>,
    /// Pod uid → container name → the last failed start.
    failures: Mutex<BTreeMap<String, BTreeMap<String, StartFailure>>>,
    /// Containers being stopped in the background (a stop waits out the grace period).
    stopping: Arc<Mutex<HashSet<String>>>,
    /// Told the pod's uid when a background stop finishes.
    waker: Arc<Mutex<Option<crate::runtime::PodWaker>>>,
}

/// What `CriRuntime::start_pod_directly` started: the sandbox and its containers' ids.
#[derive(Clone, Debug)]
pub struct DirectPod {
    pub sandbox: String,
    pub containers: Vec<String>,
}

impl CriRuntime {
    /// Connects to the runtime at `endpoint`; pod logs go under `log_root`.
    pub async fn connect(endpoint: &str, node: &str, log_root: &str) -> Result<CriRuntime, String> {
        let mut cri = cri::connect(endpoint).await?;
        let v = cri.runtime.version(v1::VersionRequest { version: cri::CRI_API_VERSION.into() }).await.map_err(|e| format!("CRI Version: {}", cri::describe(&e)))?.into_inner();
        Ok(CriRuntime {
            cri,
            node: node.into(),
            log_root: log_root.trim_end_matches('/').to_string(),
            version: format!("{}://{}", v.runtime_name, v.runtime_version),
            id_scheme: format!("{}://", v.runtime_name),
            sandbox_ips: Mutex::default(),
            statuses: Mutex::default(),
            failures: Mutex::default(),
            stopping: Arc::default(),
            waker: Arc::default(),
        })
    }

    /// What CreateContainer is asked for one container of `pod` (its log directory made).
    fn container_config(&self, pod: &Pod, c: &podcore::types::Container, attempt: u32, sandbox_config: &v1::PodSandboxConfig) -> Result<v1::ContainerConfig, String> {
        let name = c.name.as_str();
        let log_path = spec::container_log_path(name, attempt);
        let dir = format!("{}/{name}", sandbox_config.log_directory);
        std::fs::create_dir_all(&dir).map_err(|e| format!("creating {dir}: {e}"))?;
        let r = spec::linux_resources(c);
        let mut annotations: HashMap<String, String> = HashMap::new();
        annotations.insert(spec::ANNOTATION_GRACE.into(), pod.spec.termination_grace_period_seconds.unwrap_or(30).to_string());
        Ok(v1::ContainerConfig {
            metadata: Some(v1::ContainerMetadata { name: name.into(), attempt }),
            image: Some(v1::ImageSpec { image: c.image.clone(), annotations: HashMap::new() }),
            command: c.command.clone(),
            args: c.args.clone(),
            working_dir: c.working_dir.clone(),
            envs: spec::environment(c).into_iter().map(|(key, value)| v1::KeyValue { key, value }).collect(),
            labels: spec::container_labels(pod, &self.node, name).into_iter().collect(),
            annotations,
            log_path,
            linux: Some(v1::LinuxContainerConfig {
                resources: Some(v1::LinuxContainerResources { cpu_period: r.cpu_period, cpu_quota: r.cpu_quota, cpu_shares: r.cpu_shares, memory_limit_in_bytes: r.memory_limit_bytes, ..Default::default() }),
                security_context: Some(v1::LinuxContainerSecurityContext { namespace_options: Some(pod_namespaces()) }),
            }),
        })
    }

    /// Starts `pod` with the three calls that do it and nothing else
    /// (RunPodSandbox, then CreateContainer and StartContainer per container;
    /// no listing, no image check), with the very configurations the kubelet
    /// sends: the benchmark's reference for what the runtime itself costs.
    pub async fn start_pod_directly(&self, pod: &Pod) -> Result<DirectPod, String> {
        let sandbox_config = self.sandbox_config(pod);
        std::fs::create_dir_all(&sandbox_config.log_directory).map_err(|e| format!("creating {}: {e}", sandbox_config.log_directory))?;
        let sandbox = self.cri.runtime.clone().run_pod_sandbox(v1::RunPodSandboxRequest { config: Some(sandbox_config.clone()), runtime_handler: String::new() }).await.map_err(|e| format!("CRI RunPodSandbox: {}", cri::describe(&e)))?.into_inner().pod_sandbox_id;
        let mut containers = Vec::new();
        for c in &pod.spec.containers {
            let config = self.container_config(pod, c, 0, &sandbox_config)?;
            let id = self.cri.runtime.clone().create_container(v1::CreateContainerRequest { pod_sandbox_id: sandbox.clone(), config: Some(config), sandbox_config: Some(sandbox_config.clone()) }).await.map_err(|e| format!("CRI CreateContainer: {}", cri::describe(&e)))?.into_inner().container_id;
            self.cri.runtime.clone().start_container(v1::StartContainerRequest { container_id: id.clone() }).await.map_err(|e| format!("CRI StartContainer: {}", cri::describe(&e)))?;
            containers.push(id);
        }
        Ok(DirectPod { sandbox, containers })
    }

    /// Stops a pod `start_pod_directly` started the way a deletion does
    /// (StopContainer with the grace period for each container, then
    /// StopPodSandbox), with no listing: the benchmark's reference for
    /// what a deletion costs in the runtime itself.
    pub async fn stop_pod_directly(&self, pod: &DirectPod, grace_period_seconds: i64) -> Result<(), String> {
        for id in &pod.containers {
            self.cri.runtime.clone().stop_container(v1::StopContainerRequest { container_id: id.clone(), timeout: grace_period_seconds }).await.map_err(|e| format!("CRI StopContainer: {}", cri::describe(&e)))?;
        }
        self.cri.runtime.clone().stop_pod_sandbox(v1::StopPodSandboxRequest { pod_sandbox_id: pod.sandbox.clone() }).await.map_err(|e| format!("CRI StopPodSandbox: {}", cri::describe(&e)))?;
        Ok(())
    }

    fn node_selector(&self) -> HashMap<String, String> {
        HashMap::from([(spec::LABEL_NODE.to_string(), self.node.clone())])
    }

    fn uid_selector(&self, uid: &str) -> HashMap<String, String> {
        let mut l = self.node_selector();
        l.insert(spec::LABEL_POD_UID.into(), uid.into());
        l
    }

    async fn sandboxes(&self, selector: HashMap<String, String>) -> Result<Vec<v1::PodSandbox>, String> {
        let req = v1::ListPodSandboxRequest { filter: Some(v1::PodSandboxFilter { label_selector: selector, ..Default::default() }) };
        Ok(self.cri.runtime.clone().list_pod_sandbox(req).await.map_err(|e| format!("CRI ListPodSandbox: {}", cri::describe(&e)))?.into_inner().items)
    }

    async fn containers(&self, selector: HashMap<String, String>) -> Result<Vec<v1::Container>, String> {
        let req = v1::ListContainersRequest { filter: Some(v1::ContainerFilter { label_selector: selector, ..Default::default() }) };
        Ok(self.cri.runtime.clone().list_containers(req).await.map_err(|e| format!("CRI ListContainers: {}", cri::describe(&e)))?.into_inner().containers)
    }

    async fn sandbox_ip(&self, id: &str) -> Result<String, String> {
        if let Some(ip) = lock(&self.sandbox_ips).get(id) {
            return Ok(ip.clone());
        }
        let st = self.cri.runtime.clone().pod_sandbox_status(v1::PodSandboxStatusRequest { pod_sandbox_id: id.into(), verbose: false }).await.map_err(|e| format!("CRI PodSandboxStatus: {}", cri::describe(&e)))?.into_inner();
        let ip = st.status.and_then(|s| s.network).map(|n| n.ip).unwrap_or_default();
        if !ip.is_empty() {
            lock(&self.sandbox_ips).insert(id.into(), ip.clone());
        }
        Ok(ip)
    }

    /// What a container's CRI state means, asking for details only when it changed.
    async fn container_run(&self, c: &v1::Container) -> Result<(ContainerRun, String), String> {
        if let Some((state, run, image)) = lock(&self.statuses).get(&c.id) {
            if *state == c.state {
                return Ok((run.clone(), image.clone()));
            }
        }
        let st = self.cri.runtime.clone().container_status(v1::ContainerStatusRequest { container_id: c.id.clone(), verbose: false }).await.map_err(|e| format!("CRI ContainerStatus: {}", cri::describe(&e)))?.into_inner().status.ok_or("CRI ContainerStatus: no status")?;
        let run = match v1::ContainerState::try_from(st.state).unwrap_or(v1::ContainerState::ContainerUnknown) {
            v1::ContainerState::ContainerCreated => ContainerRun::Created,
            v1::ContainerState::ContainerRunning => ContainerRun::Running { started_at: ns_to_time(st.started_at) },
            v1::ContainerState::ContainerExited => ContainerRun::Exited { exit_code: st.exit_code, started_at: ns_to_time(st.started_at), finished_at: ns_to_time(st.finished_at), reason: st.reason.clone() },
            // Upstream reports a container it lost track of as terminated, 137.
            v1::ContainerState::ContainerUnknown => ContainerRun::Exited { exit_code: 137, started_at: ns_to_time(st.started_at), finished_at: wall_now(), reason: "ContainerStatusUnknown".into() },
        };
        let image = if st.image_ref.is_empty() { c.image_ref.clone() } else { st.image_ref.clone() };
        lock(&self.statuses).insert(c.id.clone(), (st.state, run.clone(), image.clone()));
        Ok((run, image))
    }

    fn sandbox_config(&self, pod: &Pod) -> v1::PodSandboxConfig {
        let m = &pod.metadata;
        let mut ports = Vec::new();
        for c in &pod.spec.containers {
            for p in &c.ports {
                let protocol = match p.protocol.as_str() {
                    "UDP" => v1::Protocol::Udp,
                    "SCTP" => v1::Protocol::Sctp,
                    _ => v1::Protocol::Tcp,
                };
                ports.push(v1::PortMapping { protocol: protocol as i32, container_port: p.container_port, host_port: p.host_port.unwrap_or(0), host_ip: String::new() });
            }
        }
        v1::PodSandboxConfig {
            metadata: Some(v1::PodSandboxMetadata { name: m.name.clone(), uid: m.uid.clone(), namespace: m.namespace.clone(), attempt: 0 }),
            hostname: spec::hostname(pod),
            log_directory: spec::pod_log_dir(&self.log_root, &m.namespace, &m.name, &m.uid),
            dns_config: Some(host_dns()),
            port_mappings: ports,
            labels: spec::sandbox_labels(pod, &self.node).into_iter().collect(),
            annotations: m.annotations.clone().into_iter().collect(),
            linux: Some(v1::LinuxPodSandboxConfig {
                cgroup_parent: String::new(),
                security_context: Some(v1::LinuxSandboxSecurityContext { namespace_options: Some(pod_namespaces()) }),
                sysctls: HashMap::new(),
            }),
        }
    }

    fn fail(&self, uid: &str, name: &str, reason: &str, message: String) -> String {
        let mut f = lock(&self.failures);
        let per_pod = f.entry(uid.into()).or_default();
        let count = per_pod.get(name).map_or(0, |x| x.count) + 1;
        per_pod.insert(name.into(), StartFailure { reason: reason.into(), message: message.clone(), at: wall_now(), count });
        format!("{reason}: {message}")
    }

    /// Ensures the image is there as the pull policy wants it.
    async fn ensure_image(&self, image: &str, policy: &str, sandbox: &v1::PodSandboxConfig) -> Result<(), (&'static str, String)> {
        let spec_ = v1::ImageSpec { image: image.into(), annotations: HashMap::new() };
        let present = self.cri.images.clone().image_status(v1::ImageStatusRequest { image: Some(spec_.clone()), verbose: false }).await.map_err(|e| ("ErrImagePull", format!("checking image {image:?}: {}", cri::describe(&e))))?.into_inner().image.is_some();
        match spec::image_decision(policy, present) {
            ImageDecision::Use => Ok(()),
            ImageDecision::NeverPull => Err(("ErrImageNeverPull", format!("Container image {image:?} is not present with pull policy of Never"))),
            ImageDecision::Pull => {
                let req = v1::PullImageRequest { image: Some(spec_), sandbox_config: Some(sandbox.clone()) };
                self.cri.images.clone().pull_image(req).await.map_err(|e| ("ErrImagePull", format!("failed to pull image {image:?}: {}", cri::describe(&e))))?;
                Ok(())
            }
        }
    }
}

/// Network and IPC shared by the pod, a PID namespace per container (the v1 Pod default).
fn pod_namespaces() -> v1::NamespaceOption {
    v1::NamespaceOption { network: v1::NamespaceMode::Pod as i32, pid: v1::NamespaceMode::Container as i32, ipc: v1::NamespaceMode::Pod as i32, target_id: String::new() }
}

/// The host's resolver settings, which pods inherit (there is no cluster DNS).
fn host_dns() -> v1::DnsConfig {
    let text = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
    let mut d = v1::DnsConfig::default();
    for line in text.lines() {
        let mut w = line.split_whitespace();
        match w.next() {
            Some("nameserver") => d.servers.extend(w.next().map(String::from)),
            Some("search") => d.searches.extend(w.map(String::from)),
            Some("options") => d.options.extend(w.map(String::from)),
            _ => {}
        }
    }
    d
}

impl CriRuntime {
    /// The pods whose sandboxes and containers carry every label of
    /// `selector`, by uid; and the sandbox ids and container ids seen.
    async fn observe_selected(&self, selector: HashMap<String, String>) -> Result<(BTreeMap<String, (PodRef, PodObservation)>, HashSet<String>, HashSet<String>), String> {
        let sandboxes = self.sandboxes(selector.clone()).await?;
        let containers = self.containers(selector).await?;
        let mut out: BTreeMap<String, (PodRef, PodObservation)> = BTreeMap::new();
        let pod_ref = |labels: &HashMap<String, String>| -> Option<PodRef> {
            Some(PodRef { namespace: labels.get(spec::LABEL_POD_NAMESPACE)?.clone(), name: labels.get(spec::LABEL_POD_NAME)?.clone(), uid: labels.get(spec::LABEL_POD_UID)?.clone() })
        };
        // The pod's sandbox: a ready one if any, else the newest.
        let mut chosen: HashMap<String, (bool, i64)> = HashMap::new();
        for sb in &sandboxes {
            let Some(r) = pod_ref(&sb.labels) else { continue };
            let ready = sb.state == v1::PodSandboxState::SandboxReady as i32;
            let key = (ready, sb.created_at);
            if chosen.get(&r.uid).is_some_and(|k| *k >= key) {
                continue;
            }
            chosen.insert(r.uid.clone(), key);
            let ip = if ready { self.sandbox_ip(&sb.id).await? } else { String::new() };
            let entry = out.entry(r.uid.clone()).or_insert_with(|| (r.clone(), PodObservation::default()));
            entry.1.sandbox = Some(SandboxObservation { id: sb.id.clone(), ip, ready });
        }
        let mut live: HashSet<String> = HashSet::new();
        for c in &containers {
            let Some(r) = pod_ref(&c.labels) else { continue };
            let Some(meta) = &c.metadata else { continue };
            live.insert(c.id.clone());
            let (state, image_id) = self.container_run(c).await?;
            let entry = out.entry(r.uid.clone()).or_insert_with(|| (r.clone(), PodObservation::default()));
            entry.1.containers.push(ContainerObservation { name: meta.name.clone(), id: format!("{}{}", self.id_scheme, c.id), attempt: meta.attempt, image_id, state });
        }
        for (uid, (_, obs)) in out.iter_mut() {
            obs.containers.sort_by(|a, b| (&a.name, a.attempt).cmp(&(&b.name, b.attempt)));
            if let Some(f) = lock(&self.failures).get(uid) {
                obs.start_failures = f.clone().into_iter().collect();
            }
        }
        let sandbox_ids: HashSet<String> = sandboxes.into_iter().map(|s| s.id).collect();
        Ok((out, sandbox_ids, live))
    }
}

impl Runtime for CriRuntime {
    async fn observe(&self) -> Result<BTreeMap<String, (PodRef, PodObservation)>, String> {
        let (out, sandbox_ids, live) = self.observe_selected(self.node_selector()).await?;
        // A whole relist: what it no longer shows is forgotten.
        lock(&self.statuses).retain(|id, _| live.contains(id));
        lock(&self.sandbox_ips).retain(|id, _| sandbox_ids.contains(id));
        Ok(out)
    }

    /// Two CRI lists filtered by the pod's uid label: one pod's worker
    /// costs its own pod, not the node's.
    async fn observe_pod(&self, uid: &str) -> Result<Option<(PodRef, PodObservation)>, String> {
        let (mut out, _, _) = self.observe_selected(self.uid_selector(uid)).await?;
        Ok(out.remove(uid))
    }

    async fn run_sandbox(&self, pod: &Pod) -> Result<(), String> {
        let config = self.sandbox_config(pod);
        std::fs::create_dir_all(&config.log_directory).map_err(|e| format!("creating {}: {e}", config.log_directory))?;
        self.cri.runtime.clone().run_pod_sandbox(v1::RunPodSandboxRequest { config: Some(config), runtime_handler: String::new() }).await.map_err(|e| format!("CRI RunPodSandbox: {}", cri::describe(&e)))?;
        Ok(())
    }

    async fn start_container(&self, pod: &Pod, name: &str, attempt: u32) -> Result<(), String> {
        let m = &pod.metadata;
        let c = pod.spec.containers.iter().find(|c| c.name == name).ok_or_else(|| format!("pod has no container {name:?}"))?;
        let sandbox_config = self.sandbox_config(pod);
        let ready = v1::PodSandboxState::SandboxReady as i32;
        let sandbox = self.sandboxes(self.uid_selector(&m.uid)).await?.into_iter().filter(|s| s.state == ready).max_by_key(|s| s.created_at).ok_or("the pod's sandbox is not ready")?;
        if let Err((reason, msg)) = self.ensure_image(&c.image, &c.image_pull_policy, &sandbox_config).await {
            return Err(self.fail(&m.uid, name, reason, msg));
        }
        // Old records: a leftover of this attempt (created, never started) and
        // attempts beyond the ones kept go; the previous one stays for lastState.
        for old in self.containers(self.uid_selector(&m.uid)).await? {
            let Some(meta) = &old.metadata else { continue };
            if meta.name == name && (meta.attempt == attempt || meta.attempt + RECORDS_PER_CONTAINER as u32 <= attempt) {
                let _ = self.cri.runtime.clone().remove_container(v1::RemoveContainerRequest { container_id: old.id.clone() }).await;
            }
        }
        let config = self.container_config(pod, c, attempt, &sandbox_config)?;
        let created = self.cri.runtime.clone().create_container(v1::CreateContainerRequest { pod_sandbox_id: sandbox.id.clone(), config: Some(config), sandbox_config: Some(sandbox_config) }).await;
        let id = match created {
            Ok(r) => r.into_inner().container_id,
            Err(e) => return Err(self.fail(&m.uid, name, "CreateContainerError", cri::describe(&e))),
        };
        if let Err(e) = self.cri.runtime.clone().start_container(v1::StartContainerRequest { container_id: id.clone() }).await {
            let _ = self.cri.runtime.clone().remove_container(v1::RemoveContainerRequest { container_id: id }).await;
            return Err(self.fail(&m.uid, name, "RunContainerError", cri::describe(&e)));
        }
        if let Some(f) = lock(&self.failures).get_mut(&m.uid) {
            f.remove(name);
        }
        Ok(())
    }

    async fn kill_container(&self, pod_uid: &str, id: &str, grace_period_seconds: i64) -> Result<(), String> {
        let id = id.strip_prefix(&self.id_scheme).unwrap_or(id);
        // StopContainer blocks for up to the grace period: run it aside,
        // once, and wake the pod's worker when it returns.
        if !lock(&self.stopping).insert(id.to_string()) {
            return Ok(());
        }
        let (mut rt, stopping, id, waker, uid) = (self.cri.runtime.clone(), self.stopping.clone(), id.to_string(), self.waker.clone(), pod_uid.to_string());
        tokio::spawn(async move {
            let _ = rt.stop_container(v1::StopContainerRequest { container_id: id.clone(), timeout: grace_period_seconds.max(0) }).await;
            lock(&stopping).remove(&id);
            let wake = lock(&waker).clone();
            if let Some(wake) = wake {
                wake(&uid);
            }
        });
        Ok(())
    }

    fn set_waker(&self, wake: crate::runtime::PodWaker) {
        *lock(&self.waker) = Some(wake);
    }

    fn stops_in_background(&self) -> bool {
        true
    }

    async fn stop_sandbox(&self, _pod_uid: &str, id: &str) -> Result<(), String> {
        self.cri.runtime.clone().stop_pod_sandbox(v1::StopPodSandboxRequest { pod_sandbox_id: id.into() }).await.map_err(|e| format!("CRI StopPodSandbox: {}", cri::describe(&e)))?;
        Ok(())
    }

    async fn remove_pod(&self, pod_uid: &str) -> Result<(), String> {
        let mut log_dirs = HashSet::new();
        for sb in self.sandboxes(self.uid_selector(pod_uid)).await? {
            let l = &sb.labels;
            if let (Some(ns), Some(name)) = (l.get(spec::LABEL_POD_NAMESPACE), l.get(spec::LABEL_POD_NAME)) {
                log_dirs.insert(spec::pod_log_dir(&self.log_root, ns, name, pod_uid));
            }
            let mut rt = self.cri.runtime.clone();
            rt.stop_pod_sandbox(v1::StopPodSandboxRequest { pod_sandbox_id: sb.id.clone() }).await.map_err(|e| format!("CRI StopPodSandbox: {}", cri::describe(&e)))?;
            rt.remove_pod_sandbox(v1::RemovePodSandboxRequest { pod_sandbox_id: sb.id.clone() }).await.map_err(|e| format!("CRI RemovePodSandbox: {}", cri::describe(&e)))?;
        }
        // Containers whose sandbox is already gone.
        for c in self.containers(self.uid_selector(pod_uid)).await? {
            self.cri.runtime.clone().remove_container(v1::RemoveContainerRequest { container_id: c.id.clone() }).await.map_err(|e| format!("CRI RemoveContainer: {}", cri::describe(&e)))?;
        }
        for d in log_dirs {
            let _ = std::fs::remove_dir_all(d);
        }
        lock(&self.failures).remove(pod_uid);
        Ok(())
    }

    async fn container_log(&self, namespace: &str, pod: &str, container: &str, previous: bool) -> Result<ContainerLog, String> {
        let pods = self.observe().await?;
        let (r, obs) = pods.values().find(|(r, _)| r.namespace == namespace && r.name == pod).ok_or_else(|| format!("pod {namespace}/{pod} has no containers on node {}", self.node))?;
        let mut recs: Vec<&ContainerObservation> = obs.containers.iter().filter(|c| c.name == container).collect();
        recs.sort_by_key(|c| std::cmp::Reverse(c.attempt));
        let rec = if previous {
            recs.get(1).copied().ok_or_else(|| format!("previous terminated container {container:?} in pod {pod:?} not found"))?
        } else {
            recs.first().copied().ok_or_else(|| format!("container {container:?} in pod {pod:?} is waiting to start"))?
        };
        let path = format!("{}/{}", spec::pod_log_dir(&self.log_root, &r.namespace, &r.name, &r.uid), spec::container_log_path(container, rec.attempt));
        Ok(ContainerLog { path, container_id: rec.id.clone(), running: matches!(rec.state, ContainerRun::Running { .. }) })
    }

    async fn status(&self) -> Result<(), String> {
        let st = self.cri.runtime.clone().status(v1::StatusRequest { verbose: false }).await.map_err(|e| format!("CRI Status: {}", cri::describe(&e)))?.into_inner();
        let conds = st.status.map(|s| s.conditions).unwrap_or_default();
        for want in ["RuntimeReady", "NetworkReady"] {
            match conds.iter().find(|c| c.r#type == want) {
                Some(c) if c.status => {}
                Some(c) => return Err(format!("{want} is false: {} {}", c.reason, c.message)),
                None => return Err(format!("the runtime does not report {want}")),
            }
        }
        Ok(())
    }

    fn version(&self) -> String {
        self.version.clone()
    }
}
