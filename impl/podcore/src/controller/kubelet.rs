//! The kubelet's per-pod decision (upstream's SyncPod + computePodActions +
//! generateAPIPodStatus, reduced): given the pod from the API and what the
//! runtime reports for it, which runtime actions to take and what status to
//! report. Shared by the simulated and CRI runtimes, the daemons and the model.

use crate::admission::set_pod_condition;
use crate::time::Time;
use crate::types::*;

/// First CrashLoopBackOff delay (upstream: 10 s).
pub const CRASH_BACKOFF_INITIAL_MS: i64 = 10_000;
/// Longest CrashLoopBackOff delay (upstream: 5 min).
pub const CRASH_BACKOFF_MAX_MS: i64 = 300_000;
/// A container that ran this long before exiting starts over at the first delay.
pub const CRASH_BACKOFF_RESET_MS: i64 = 600_000;
/// First delay before retrying a container that could not be started (an
/// image pull that failed, a create the runtime refused); doubles per failure
/// up to `CRASH_BACKOFF_MAX_MS` (upstream's image back-off: 10 s to 5 min).
pub const START_BACKOFF_INITIAL_MS: i64 = 10_000;

/// What the runtime reports about one pod.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct PodObservation {
    pub sandbox: Option<SandboxObservation>,
    /// Every container record the runtime still has for the pod, any attempt.
    pub containers: Vec<ContainerObservation>,
    /// Containers whose last start failed before they ran (by name), e.g. an
    /// image that could not be pulled. The simulated runtime never fails.
    pub start_failures: std::collections::BTreeMap<String, StartFailure>,
}

/// Why a container could not be started, and since when.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct StartFailure {
    /// Upstream's waiting reasons: ErrImagePull, ErrImageNeverPull,
    /// CreateContainerError, RunContainerError.
    pub reason: String,
    pub message: String,
    pub at: Time,
    /// Failures in a row (1 for the first).
    pub count: u32,
}

pub fn start_backoff_ms(failures: u32) -> i64 {
    let shift = failures.saturating_sub(1).min(16);
    (START_BACKOFF_INITIAL_MS << shift).min(CRASH_BACKOFF_MAX_MS)
}

/// The waiting state for a container whose start failed, and whether it may
/// be tried again now (else: after how long).
fn failed_start(f: &StartFailure, now: Time) -> (ContainerStateWaiting, Result<(), i64>) {
    let ready_at = f.at.plus_ms(start_backoff_ms(f.count));
    let retry = if now >= ready_at { Ok(()) } else { Err(ready_at.ms_since(now).max(1)) };
    // Upstream reports the error itself right after it happens, then the back-off.
    let reason = match (&retry, f.reason.as_str()) {
        (Err(_), "ErrImagePull") if now.ms_since(f.at) > 0 => "ImagePullBackOff".to_string(),
        _ => f.reason.clone(),
    };
    (ContainerStateWaiting { reason, message: f.message.clone() }, retry)
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct SandboxObservation {
    pub id: String,
    pub ip: String,
    pub ready: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ContainerObservation {
    pub name: String,
    pub id: String,
    /// 0 for the first run; the restart count is the newest attempt.
    pub attempt: u32,
    pub image_id: String,
    pub state: ContainerRun,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum ContainerRun {
    /// Created but not started (or start failed).
    Created,
    Running { started_at: Time },
    Exited { exit_code: i32, started_at: Time, finished_at: Time, reason: String },
}

/// Runtime actions, executed by the `Runtime` implementation in order.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum RuntimeAction {
    RunSandbox,
    StartContainer { name: String, attempt: u32 },
    KillContainer { name: String, id: String, grace_period_seconds: i64 },
    StopSandbox { id: String },
    /// Remove the sandbox and every container record of the pod.
    RemovePod,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct SyncOutcome {
    pub actions: Vec<RuntimeAction>,
    /// The status to report, when it differs from the pod's.
    pub status: Option<PodStatus>,
    /// Everything has stopped for a pod marked for deletion: delete it with
    /// grace 0. The actions that come with it only remove what has stopped
    /// (`RemovePod`), so a driver sends the deletion first: the pod leaves the
    /// API once nothing of it runs, as upstream's, where the sandbox's
    /// removal is the container garbage collector's, later.
    pub confirm_deletion: bool,
    pub requeue_after_ms: Option<i64>,
}

/// Safeguards the model can switch off.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct KubeletOptions {
    /// Refuse to run a pod that is not bound to this node.
    pub check_node_name: bool,
}

impl Default for KubeletOptions {
    fn default() -> Self {
        KubeletOptions { check_node_name: true }
    }
}

pub fn backoff_ms(restart_count: u32) -> i64 {
    let shift = restart_count.min(16);
    (CRASH_BACKOFF_INITIAL_MS << shift).min(CRASH_BACKOFF_MAX_MS)
}

fn newest<'a>(obs: &'a PodObservation, name: &str) -> (Option<&'a ContainerObservation>, Option<&'a ContainerObservation>) {
    let mut recs: Vec<&ContainerObservation> = obs.containers.iter().filter(|c| c.name == name).collect();
    recs.sort_by_key(|c| std::cmp::Reverse(c.attempt));
    (recs.first().copied(), recs.get(1).copied())
}

fn should_restart(policy: &str, exit_code: i32) -> bool {
    match policy {
        "Never" => false,
        "OnFailure" => exit_code != 0,
        _ => true,
    }
}

fn running_anything(obs: &PodObservation) -> bool {
    obs.containers.iter().any(|c| matches!(c.state, ContainerRun::Running { .. }))
}

/// Stops everything of a pod the kubelet should not run (deleted, or not
/// ours): first its running containers, each with the grace period; the
/// sandbox only once none of them runs, so that stopping the sandbox never
/// cuts a container's grace period short.
pub fn stop_all(obs: &PodObservation, grace_period_seconds: i64) -> Vec<RuntimeAction> {
    let actions: Vec<RuntimeAction> = obs
        .containers
        .iter()
        .filter(|c| matches!(c.state, ContainerRun::Running { .. }))
        .map(|c| RuntimeAction::KillContainer { name: c.name.clone(), id: c.id.clone(), grace_period_seconds })
        .collect();
    if !actions.is_empty() {
        return actions;
    }
    match obs.sandbox.as_ref().filter(|s| s.ready) {
        Some(sb) => vec![RuntimeAction::StopSandbox { id: sb.id.clone() }],
        None => vec![],
    }
}

/// One sync of one pod.
pub fn sync_pod(now: Time, node_name: &str, host_ip: &str, pod: &Pod, obs: &PodObservation, opts: KubeletOptions) -> SyncOutcome {
    let mut out = SyncOutcome::default();
    // 1. Not ours: never run it.
    if opts.check_node_name && pod.spec.node_name != node_name {
        out.actions = stop_all(obs, 0);
        return out;
    }
    // 2. Being deleted: stop within the grace period, then confirm.
    if let Some(deadline) = pod.metadata.deletion_timestamp {
        let grace = (deadline.ms_since(now) / 1000).max(0);
        out.actions = stop_all(obs, grace);
        if out.actions.is_empty() {
            if obs.sandbox.is_some() || !obs.containers.is_empty() {
                out.actions.push(RuntimeAction::RemovePod);
            }
            out.confirm_deletion = true;
        }
        return out;
    }
    let terminal = crate::podutil::is_terminal(pod);
    // 3. A finished pod keeps its status; its sandbox goes.
    if terminal {
        out.actions = stop_all(obs, 0);
        return out;
    }
    // 4. The sandbox first.
    let sandbox_ready = obs.sandbox.as_ref().is_some_and(|s| s.ready);
    if !sandbox_ready {
        if obs.sandbox.is_some() {
            // A dead sandbox: kill what is left and start over (upstream does too).
            out.actions = stop_all(obs, 0);
            out.actions.push(RuntimeAction::RemovePod);
        }
        out.actions.push(RuntimeAction::RunSandbox);
    }
    // 5. Each container: start, restart after back-off, or leave.
    let policy = pod.spec.restart_policy.as_str();
    let mut statuses = Vec::new();
    let (mut n_running, mut n_waiting_first, mut n_final, mut n_failed) = (0, 0, 0, 0);
    for c in &pod.spec.containers {
        let (cur, prev) = newest(obs, &c.name);
        let mut cs = ContainerStatus { name: c.name.clone(), image: c.image.clone(), ..Default::default() };
        match cur {
            None => {
                n_waiting_first += 1;
                cs.started = Some(false);
                match obs.start_failures.get(&c.name) {
                    Some(f) => {
                        let (waiting, retry) = failed_start(f, now);
                        cs.state.waiting = Some(waiting);
                        match retry {
                            Ok(()) if sandbox_ready => out.actions.push(RuntimeAction::StartContainer { name: c.name.clone(), attempt: 0 }),
                            Ok(()) => {}
                            Err(wait) => out.requeue_after_ms = Some(out.requeue_after_ms.map_or(wait, |w: i64| w.min(wait))),
                        }
                    }
                    None => {
                        cs.state.waiting = Some(ContainerStateWaiting { reason: "ContainerCreating".into(), message: String::new() });
                        if sandbox_ready {
                            out.actions.push(RuntimeAction::StartContainer { name: c.name.clone(), attempt: 0 });
                        }
                    }
                }
            }
            Some(rec) => {
                cs.container_id = rec.id.clone();
                cs.image_id = rec.image_id.clone();
                cs.restart_count = rec.attempt as i32;
                if let Some(p) = prev {
                    cs.last_state = terminated_state(p);
                }
                match &rec.state {
                    ContainerRun::Created => {
                        n_waiting_first += 1;
                        cs.state.waiting = Some(ContainerStateWaiting { reason: "ContainerCreating".into(), message: String::new() });
                        cs.started = Some(false);
                    }
                    ContainerRun::Running { started_at } => {
                        n_running += 1;
                        cs.state.running = Some(ContainerStateRunning { started_at: Some(started_at.truncate_to_secs()) });
                        cs.ready = true;
                        cs.started = Some(true);
                    }
                    ContainerRun::Exited { exit_code, started_at, finished_at, .. } => {
                        cs.started = Some(false);
                        if should_restart(policy, *exit_code) {
                            let ran_ms = finished_at.ms_since(*started_at);
                            let delay = if ran_ms >= CRASH_BACKOFF_RESET_MS { CRASH_BACKOFF_INITIAL_MS } else { backoff_ms(rec.attempt) };
                            let ready_at = finished_at.plus_ms(delay);
                            cs.last_state = terminated_state(rec);
                            if let Some(f) = obs.start_failures.get(&c.name) {
                                // The restart itself failed to start: its own back-off.
                                let (waiting, retry) = failed_start(f, now);
                                cs.state.waiting = Some(waiting);
                                match retry {
                                    Ok(()) if sandbox_ready => out.actions.push(RuntimeAction::StartContainer { name: c.name.clone(), attempt: rec.attempt + 1 }),
                                    Ok(()) => {}
                                    Err(wait) => out.requeue_after_ms = Some(out.requeue_after_ms.map_or(wait, |w: i64| w.min(wait))),
                                }
                            } else if now >= ready_at && sandbox_ready {
                                out.actions.push(RuntimeAction::StartContainer { name: c.name.clone(), attempt: rec.attempt + 1 });
                                cs.state.waiting = Some(ContainerStateWaiting { reason: "ContainerCreating".into(), message: String::new() });
                            } else {
                                cs.state.waiting = Some(ContainerStateWaiting {
                                    reason: "CrashLoopBackOff".into(),
                                    message: format!("back-off {}s restarting failed container={} pod={}_{}({})", delay / 1000, c.name, pod.metadata.name, pod.metadata.namespace, pod.metadata.uid),
                                });
                                let wait = ready_at.ms_since(now).max(1);
                                out.requeue_after_ms = Some(out.requeue_after_ms.map_or(wait, |w: i64| w.min(wait)));
                            }
                            // A restarting container keeps the pod Running.
                            n_running += 1;
                        } else {
                            n_final += 1;
                            if *exit_code != 0 {
                                n_failed += 1;
                            }
                            cs.state = terminated_state(rec);
                        }
                    }
                }
            }
        }
        statuses.push(cs);
    }
    // 6. Status.
    let mut st = pod.status.clone();
    let n = pod.spec.containers.len();
    // Upstream's order: a container that never started keeps the pod
    // Pending; else one running (or restarting) makes it Running; else all
    // have finished for good.
    st.phase = if n_waiting_first > 0 {
        "Pending".into()
    } else if n_running > 0 {
        "Running".into()
    } else if n > 0 && n_final == n {
        if n_failed > 0 { "Failed" } else { "Succeeded" }.into()
    } else {
        "Pending".into()
    };
    st.container_statuses = statuses;
    st.host_ip = host_ip.into();
    st.host_ips = if host_ip.is_empty() { vec![] } else { vec![PodIp { ip: host_ip.into() }] };
    st.pod_ip = obs.sandbox.as_ref().filter(|s| s.ready).map(|s| s.ip.clone()).unwrap_or_default();
    st.pod_ips = if st.pod_ip.is_empty() { vec![] } else { vec![PodIp { ip: st.pod_ip.clone() }] };
    if st.start_time.is_none() {
        st.start_time = Some(now.truncate_to_secs());
    }
    let all_ready = n > 0 && st.container_statuses.iter().all(|c| c.ready);
    let ready = if all_ready { "True" } else { "False" };
    let reason = if all_ready { "" } else if st.phase == "Succeeded" || st.phase == "Failed" { "PodCompleted" } else { "ContainersNotReady" };
    set_pod_condition(&mut st, "PodReadyToStartContainers", if sandbox_ready { "True" } else { "False" }, "", now);
    set_pod_condition(&mut st, "Initialized", "True", "", now);
    set_pod_condition(&mut st, "ContainersReady", ready, reason, now);
    set_pod_condition(&mut st, "Ready", ready, reason, now);
    if !st.conditions.iter().any(|c| c.type_ == "PodScheduled") {
        set_pod_condition(&mut st, "PodScheduled", "True", "", now);
    }
    // Upstream orders conditions; keep a fixed order so equal statuses compare equal.
    let order = ["PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady", "PodScheduled"];
    st.conditions.sort_by_key(|c| order.iter().position(|o| *o == c.type_).unwrap_or(order.len()));
    if st != pod.status {
        out.status = Some(st);
    }
    let _ = running_anything;
    out
}

fn terminated_state(rec: &ContainerObservation) -> ContainerState {
    match &rec.state {
        ContainerRun::Exited { exit_code, started_at, finished_at, reason } => ContainerState {
            terminated: Some(ContainerStateTerminated {
                exit_code: *exit_code,
                reason: if reason.is_empty() { if *exit_code == 0 { "Completed".into() } else { "Error".into() } } else { reason.clone() },
                started_at: Some(started_at.truncate_to_secs()),
                finished_at: Some(finished_at.truncate_to_secs()),
                container_id: rec.id.clone(),
                ..Default::default()
            }),
            ..Default::default()
        },
        _ => ContainerState::default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(policy: &str) -> Pod {
        let mut p = Pod::default();
        p.metadata.name = "p".into();
        p.metadata.namespace = "default".into();
        p.spec.node_name = "n1".into();
        p.spec.restart_policy = policy.into();
        p.spec.containers.push(Container { name: "c".into(), image: "i".into(), ..Default::default() });
        p
    }

    fn ready_sandbox() -> Option<SandboxObservation> {
        Some(SandboxObservation { id: "sb".into(), ip: "10.0.0.2".into(), ready: true })
    }

    fn exited(attempt: u32, code: i32, at: i64) -> ContainerObservation {
        ContainerObservation { name: "c".into(), id: format!("c{attempt}"), attempt, image_id: String::new(), state: ContainerRun::Exited { exit_code: code, started_at: Time(at - 1000), finished_at: Time(at), reason: String::new() } }
    }

    #[test]
    fn fresh_pod_gets_sandbox_then_container() {
        let p = pod("Always");
        let out = sync_pod(Time(0), "n1", "1.2.3.4", &p, &PodObservation::default(), KubeletOptions::default());
        assert_eq!(out.actions, vec![RuntimeAction::RunSandbox]);
        let obs = PodObservation { sandbox: ready_sandbox(), containers: vec![], ..Default::default() };
        let out = sync_pod(Time(0), "n1", "1.2.3.4", &p, &obs, KubeletOptions::default());
        assert_eq!(out.actions, vec![RuntimeAction::StartContainer { name: "c".into(), attempt: 0 }]);
    }

    #[test]
    fn crash_loop_backs_off_and_doubles() {
        let p = pod("Always");
        let obs = PodObservation { sandbox: ready_sandbox(), containers: vec![exited(0, 1, 100_000)], ..Default::default() };
        let early = sync_pod(Time(105_000), "n1", "", &p, &obs, KubeletOptions::default());
        assert!(early.actions.is_empty());
        assert_eq!(early.requeue_after_ms, Some(5_000));
        let st = early.status.unwrap();
        assert_eq!(st.container_statuses[0].state.waiting.as_ref().unwrap().reason, "CrashLoopBackOff");
        let on_time = sync_pod(Time(110_000), "n1", "", &p, &obs, KubeletOptions::default());
        assert_eq!(on_time.actions, vec![RuntimeAction::StartContainer { name: "c".into(), attempt: 1 }]);
        assert_eq!(backoff_ms(1), 20_000);
        assert_eq!(backoff_ms(10), CRASH_BACKOFF_MAX_MS);
    }

    #[test]
    fn never_policy_fails_the_pod() {
        let p = pod("Never");
        let obs = PodObservation { sandbox: ready_sandbox(), containers: vec![exited(0, 1, 1000)], ..Default::default() };
        let out = sync_pod(Time(2000), "n1", "", &p, &obs, KubeletOptions::default());
        let st = out.status.unwrap();
        assert_eq!(st.phase, "Failed");
        assert_eq!(st.container_statuses[0].state.terminated.as_ref().unwrap().exit_code, 1);
    }

    #[test]
    fn failed_image_pulls_back_off_and_say_so() {
        let p = pod("Always");
        let mut obs = PodObservation { sandbox: ready_sandbox(), ..Default::default() };
        obs.start_failures.insert("c".into(), StartFailure { reason: "ErrImagePull".into(), message: "no such image".into(), at: Time(100_000), count: 2 });
        // Right after the failure: the error itself; then the back-off (20 s for the 2nd failure).
        let now = sync_pod(Time(100_000), "n1", "", &p, &obs, KubeletOptions::default());
        assert_eq!(now.status.unwrap().container_statuses[0].state.waiting.as_ref().unwrap().reason, "ErrImagePull");
        let later = sync_pod(Time(105_000), "n1", "", &p, &obs, KubeletOptions::default());
        assert!(later.actions.is_empty());
        assert_eq!(later.requeue_after_ms, Some(15_000));
        let st = later.status.unwrap();
        assert_eq!(st.container_statuses[0].state.waiting.as_ref().unwrap().reason, "ImagePullBackOff");
        assert_eq!(st.phase, "Pending");
        let retry = sync_pod(Time(120_000), "n1", "", &p, &obs, KubeletOptions::default());
        assert_eq!(retry.actions, vec![RuntimeAction::StartContainer { name: "c".into(), attempt: 0 }]);
        assert_eq!(start_backoff_ms(1), START_BACKOFF_INITIAL_MS);
        assert_eq!(start_backoff_ms(30), CRASH_BACKOFF_MAX_MS);
    }

    #[test]
    fn the_sandbox_stops_only_after_its_containers() {
        let running = ContainerObservation { name: "c".into(), id: "c0".into(), attempt: 0, image_id: String::new(), state: ContainerRun::Running { started_at: Time(0) } };
        let obs = PodObservation { sandbox: ready_sandbox(), containers: vec![running], ..Default::default() };
        assert_eq!(stop_all(&obs, 30), vec![RuntimeAction::KillContainer { name: "c".into(), id: "c0".into(), grace_period_seconds: 30 }]);
        let stopped = PodObservation { sandbox: ready_sandbox(), containers: vec![exited(0, 143, 1000)], ..Default::default() };
        assert_eq!(stop_all(&stopped, 30), vec![RuntimeAction::StopSandbox { id: "sb".into() }]);
    }

    #[test]
    fn a_pod_is_pending_until_every_container_has_started() {
        let mut p = pod("Always");
        p.spec.containers.push(Container { name: "d".into(), image: "i".into(), ..Default::default() });
        let running = ContainerObservation { name: "c".into(), id: "c0".into(), attempt: 0, image_id: String::new(), state: ContainerRun::Running { started_at: Time(0) } };
        let obs = PodObservation { sandbox: ready_sandbox(), containers: vec![running.clone()], ..Default::default() };
        assert_eq!(sync_pod(Time(0), "n1", "", &p, &obs, KubeletOptions::default()).status.unwrap().phase, "Pending");
        let both = PodObservation { containers: vec![running, ContainerObservation { name: "d".into(), id: "d0".into(), ..exited(0, 0, 0) }], ..obs };
        // One running, one exited 0 and restarting (Always): Running.
        assert_eq!(sync_pod(Time(0), "n1", "", &p, &both, KubeletOptions::default()).status.unwrap().phase, "Running");
    }

    #[test]
    fn a_pod_bound_elsewhere_is_never_started() {
        let p = pod("Always");
        let out = sync_pod(Time(0), "n2", "", &p, &PodObservation::default(), KubeletOptions::default());
        assert!(out.actions.is_empty() && out.status.is_none());
    }
}

/// What a kubelet registers (and re-asserts) about its node.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct NodeFacts {
    pub name: String,
    pub host_ip: String,
    pub cpu: String,
    pub memory: String,
    pub max_pods: u32,
    pub kubelet_version: String,
    pub runtime_version: String,
    /// Empty while the container runtime is ready; otherwise why it is not,
    /// which makes the node NotReady.
    pub runtime_problem: String,
    /// The port of the kubelet's own API (logs), published in the Node status.
    pub kubelet_port: u16,
}

pub fn node_conditions(now: Time) -> Vec<NodeCondition> {
    node_conditions_with(now, "")
}

pub fn node_conditions_with(now: Time, runtime_problem: &str) -> Vec<NodeCondition> {
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
        if runtime_problem.is_empty() {
            c("Ready", "True", "KubeletReady", "kubelet is posting ready status")
        } else {
            c("Ready", "False", "KubeletNotReady", &format!("container runtime is not ready: {runtime_problem}"))
        },
    ]
}

/// The Node a kubelet registers.
pub fn node_object(f: &NodeFacts, now: Time) -> Node {
    let mut n = Node::default();
    n.metadata.name = f.name.clone();
    for (k, v) in [("kubernetes.io/hostname", f.name.as_str()), ("kubernetes.io/os", "linux"), ("kubernetes.io/arch", "amd64")] {
        n.metadata.labels.insert(k.into(), v.into());
    }
    let mut res = ResourceList::new();
    res.insert("cpu".into(), f.cpu.as_str().into());
    res.insert("memory".into(), f.memory.as_str().into());
    res.insert("pods".into(), f.max_pods.to_string().as_str().into());
    n.status.capacity = res.clone();
    n.status.allocatable = res;
    n.status.conditions = node_conditions_with(now, &f.runtime_problem);
    if f.kubelet_port != 0 {
        n.status.extra.0.insert("daemonEndpoints".into(), serde_json::json!({"kubeletEndpoint": {"Port": f.kubelet_port}}));
    }
    n.status.addresses = vec![NodeAddress { type_: "InternalIP".into(), address: f.host_ip.clone() }, NodeAddress { type_: "Hostname".into(), address: f.name.clone() }];
    n.status.node_info = Some(NodeSystemInfo {
        kubelet_version: f.kubelet_version.clone(),
        kube_proxy_version: f.kubelet_version.clone(),
        container_runtime_version: f.runtime_version.clone(),
        operating_system: "linux".into(),
        architecture: "amd64".into(),
        os_image: "podchain".into(),
        ..Default::default()
    });
    n
}

/// Re-asserts a registered node's facts and a fresh Ready heartbeat on `cur`
/// (keeping transition times of conditions that did not change).
pub fn refresh_node_status(cur: &Node, f: &NodeFacts, now: Time) -> Node {
    let fresh = node_object(f, now);
    let mut n = cur.clone();
    n.status.capacity = fresh.status.capacity;
    n.status.allocatable = fresh.status.allocatable;
    n.status.addresses = fresh.status.addresses;
    n.status.node_info = fresh.status.node_info;
    if let Some(d) = fresh.status.extra.0.get("daemonEndpoints") {
        n.status.extra.0.insert("daemonEndpoints".into(), d.clone());
    }
    for f in fresh.status.conditions {
        match n.status.conditions.iter_mut().find(|c| c.type_ == f.type_) {
            Some(c) => {
                if c.status != f.status {
                    c.last_transition_time = f.last_transition_time;
                }
                c.status = f.status;
                c.reason = f.reason;
                c.message = f.message;
                c.last_heartbeat_time = f.last_heartbeat_time;
            }
            None => n.status.conditions.push(f),
        }
    }
    n
}

/// The node's Lease, created or renewed at `now`.
pub fn renewed_lease(cur: Option<&Lease>, node: &str, node_uid: &str, duration_seconds: i32, now: Time) -> Lease {
    let now = crate::time::MicroTime::from(now);
    match cur {
        Some(l) => {
            let mut l = l.clone();
            l.spec.renew_time = Some(now);
            l.spec.holder_identity = Some(node.into());
            l.spec.lease_duration_seconds = Some(duration_seconds);
            l
        }
        None => {
            let mut l = Lease::default();
            l.metadata.name = node.into();
            l.metadata.namespace = super::nodelifecycle::NODE_LEASE_NAMESPACE.into();
            // As upstream: the lease is owned by its Node, so it goes with it.
            l.metadata.owner_references.push(crate::meta::OwnerReference { api_version: "v1".into(), kind: "Node".into(), name: node.into(), uid: node_uid.into(), controller: None, block_owner_deletion: None });
            l.spec = LeaseSpec { holder_identity: Some(node.into()), lease_duration_seconds: Some(duration_seconds), acquire_time: Some(now), renew_time: Some(now), lease_transitions: None };
            l
        }
    }
}

/// What to do with a pod the runtime holds but the API no longer binds to
/// this node (deleted, or force-deleted while the kubelet was away): stop
/// everything at once, then remove it.
pub fn orphan_actions(obs: &PodObservation) -> Vec<RuntimeAction> {
    let mut actions = stop_all(obs, 0);
    actions.push(RuntimeAction::RemovePod);
    actions
}
