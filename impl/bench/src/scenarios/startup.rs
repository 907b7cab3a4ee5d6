//! Pod start-up on containerd: Deployments of 1, 3, 10 and 30 replicas on
//! one node (`podchain server` and one `podchain kubelet --runtime cri` on a
//! containerd of our own). For each: create → every pod Running and Ready,
//! watch-observed, split per pod into the runtime's own time (the kubelet's
//! `/stats/runtime`) and the rest, the control plane's overhead; then
//! delete → every pod gone from the API. The reference, in the same run:
//! the same pods started with only the three CRI calls that start them
//! (RunPodSandbox, CreateContainer, StartContainer), in series and in
//! parallel, against the same containerd.

use super::{deployment, until, watch_pods, ControlPlane};
use crate::procs::{temp_dir, wait_for, Containerd};
use crate::stats::dist;
use crate::{Options, Progress, ScenarioReport, Series, Target};
use client::{Client, ListOptions, Method};
use kubelet::cri::{CriRuntime, DirectPod};
use kubelet::runtime::Runtime;
use podcore::controller::kubelet::{orphan_actions, RuntimeAction};
use podcore::object::{Kind, Object};
use podcore::types::Pod;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

pub const IMAGE: &str = "podchain.local/sample:1";

pub fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status").ok().and_then(|t| t.lines().find(|l| l.starts_with("Uid:")).map(|l| l.split_whitespace().nth(1) == Some("0"))).unwrap_or(false)
}

/// Why containerd scenarios cannot run here, if they cannot.
pub fn containerd_missing() -> Option<String> {
    if !is_root() {
        return Some("needs root (containerd and CNI)".into());
    }
    let found = std::process::Command::new("sh").args(["-c", "command -v containerd && command -v runc"]).output().map(|o| o.status.success()).unwrap_or(false);
    (!found).then(|| "containerd or runc is not installed (bash ci/install.sh installs them)".into())
}

/// A pod as the ReplicaSet controller would make it, defaulted, with a uid.
fn raw_pod(name: &str) -> Pod {
    let v = serde_json::json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "default", "uid": format!("raw-{name}")},
        "spec": {"containers": [{"name": "web", "image": IMAGE, "imagePullPolicy": "Never"}]}});
    let mut o = Object::from_value(Kind::Pod, v).expect("a valid pod");
    podcore::defaults::default_object(&mut o);
    o.as_pod().expect("a pod").clone()
}

/// Starts `n` pods straight through CRI, one after another or all at once;
/// the time it took, and what was started.
async fn raw(rt: &CriRuntime, prefix: &str, n: usize, parallel: bool) -> Result<(Duration, Vec<DirectPod>), String> {
    let pods: Vec<Pod> = (0..n).map(|i| raw_pod(&format!("{prefix}-{i}"))).collect();
    let started = Instant::now();
    let mut out = Vec::new();
    if parallel {
        let results = futures_join(pods.iter().map(|p| rt.start_pod_directly(p))).await;
        out = results.into_iter().collect::<Result<Vec<DirectPod>, String>>()?;
    } else {
        for p in &pods {
            out.push(rt.start_pod_directly(p).await?);
        }
    }
    Ok((started.elapsed(), out))
}

/// Stops `pods` all at once straight through CRI, as a deletion does
/// (upstream's default grace period; the image exits on SIGTERM); the time it took.
async fn raw_stop(rt: &CriRuntime, pods: &[DirectPod]) -> Result<Duration, String> {
    let started = Instant::now();
    let results = futures_join(pods.iter().map(|p| rt.stop_pod_directly(p, podcore::defaults::DEFAULT_TERMINATION_GRACE_PERIOD_SECONDS))).await;
    results.into_iter().collect::<Result<Vec<()>, String>>()?;
    Ok(started.elapsed())
}

/// Awaits every future concurrently (they borrow, so no spawning).
async fn futures_join<F: std::future::Future>(futs: impl Iterator<Item = F>) -> Vec<F::Output> {
    let futs: Vec<std::pin::Pin<Box<F>>> = futs.map(Box::pin).collect();
    let mut out: Vec<Option<F::Output>> = futs.iter().map(|_| None).collect();
    let mut futs: Vec<Option<std::pin::Pin<Box<F>>>> = futs.into_iter().map(Some).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (i, f) in futs.iter_mut().enumerate() {
            if let Some(fut) = f {
                match fut.as_mut().poll(cx) {
                    std::task::Poll::Ready(v) => {
                        out[i] = Some(v);
                        *f = None;
                    }
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending { std::task::Poll::Pending } else { std::task::Poll::Ready(()) }
    })
    .await;
    out.into_iter().map(|o| o.expect("every future finished")).collect()
}

/// Stops and removes every pod `rt` started, as the kubelet removes orphans.
async fn remove_all(rt: &CriRuntime) -> Result<(), String> {
    wait_for("the reference pods removed", Duration::from_secs(60), || async {
        let pods = rt.observe().await?;
        if pods.is_empty() {
            return Ok(());
        }
        for (uid, (_, obs)) in &pods {
            for a in orphan_actions(obs) {
                let _ = match a {
                    RuntimeAction::KillContainer { id, .. } => rt.kill_container(uid, &id, 0).await,
                    RuntimeAction::StopSandbox { id } => rt.stop_sandbox(uid, &id).await,
                    RuntimeAction::RemovePod => rt.remove_pod(uid).await,
                    _ => Ok(()),
                };
            }
        }
        Err(format!("{} left", pods.len()))
    })
    .await
}

pub async fn run(opts: &Options) -> Result<ScenarioReport, String> {
    let mut r = ScenarioReport::new("startup", opts.quick);
    if let Some(why) = containerd_missing() {
        r.skipped = Some(why);
        return Ok(r);
    }
    let mut progress = Progress::new("startup");
    let sizes: &[usize] = if opts.quick { &[3, 10] } else { &[1, 3, 10, 30] };
    let dir = temp_dir("bench-containerd");
    progress.step("starting containerd");
    let ctrd = Containerd::start(&opts.repo, &dir)?;
    // 1. The reference: the runtime alone, warm.
    let direct = CriRuntime::connect(&ctrd.endpoint(), "bench-direct", &dir.join("direct-logs").display().to_string()).await?;
    raw(&direct, "warmup", 1, false).await?;
    let mut reference = BTreeMap::new();
    for &n in sizes {
        progress.step(&format!("{n} pods straight through CRI"));
        let (series, _) = raw(&direct, &format!("s{n}"), n, false).await?;
        remove_all(&direct).await?;
        let (parallel, started) = raw(&direct, &format!("p{n}"), n, true).await?;
        let stopped = raw_stop(&direct, &started).await?;
        r.figure(&format!("{n} pods, the three CRI calls each, in series"), series.as_secs_f64(), "s", None);
        r.figure(&format!("{n} pods, the three CRI calls each, in parallel"), parallel.as_secs_f64(), "s", None);
        r.figure(&format!("{n} pods, StopContainer and StopPodSandbox each, in parallel"), stopped.as_secs_f64(), "s", None);
        reference.insert(n, (parallel, stopped));
        remove_all(&direct).await?;
    }
    // 2. podchain.
    let mut cp = ControlPlane::start(opts, "startup", true, &[]).await?;
    let (kubelet_addr, _) = cp.add_cri_kubelet(opts, &ctrd, &dir).await?;
    let stats = Client::new(&format!("http://{kubelet_addr}"), None, "podchain-bench");
    let mut overheads = Vec::new();
    for &n in sizes {
        let name = format!("start-{n}");
        progress.step(&format!("a Deployment of {n}"));
        let times = watch_pods(&cp.client, &format!("app={name}")).await?;
        let t0 = Instant::now();
        cp.client.request(Method::POST, "/apis/apps/v1/namespaces/default/deployments", Some((deployment(&name, n, IMAGE).to_string().into_bytes(), "application/json"))).await.map_err(|e| e.to_string())?;
        let (ok, _) = until(&times, Duration::from_secs(60 + 4 * n as u64), &mut progress, &format!("{n} pods Running"), |t| (t.running.len() >= n, format!("{}/{n} Running", t.running.len()))).await;
        if !ok {
            return Err(format!("a Deployment of {n} did not run within its budget:\n{}", cp.logs()));
        }
        let per_runtime: BTreeMap<String, kubelet::timings::PodTiming> = serde_json::from_value(stats.request(Method::GET, "/stats/runtime", None).await.map_err(|e| e.to_string())?).map_err(|e| e.to_string())?;
        let t = times.lock().unwrap_or_else(|p| p.into_inner()).running.clone();
        let last = t.values().max().copied().unwrap_or(t0);
        let total = last.saturating_duration_since(t0);
        let mut runtime_ms = Vec::new();
        let mut overhead_ms = Vec::new();
        for (uid, at) in &t {
            let e2e = at.saturating_duration_since(t0).as_secs_f64() * 1e3;
            let in_runtime = per_runtime.get(uid).map_or(0.0, |p| p.micros as f64 / 1e3);
            runtime_ms.push(in_runtime);
            overhead_ms.push(e2e - in_runtime);
        }
        let target = match n {
            3 => Target::at_most(0.3, "issue 12/13"),
            30 => Target::at_most(1.0, "issue 12/13"),
            _ => None,
        };
        r.figure(&format!("{n} pods: create → every pod Running (watch-observed)"), total.as_secs_f64(), "s", target);
        r.figure(&format!("{n} pods: each pod's time in the runtime's calls"), dist(&runtime_ms).median, "ms", None).with_dist(dist(&runtime_ms));
        r.figure(&format!("{n} pods: each pod's control-plane overhead (the rest)"), dist(&overhead_ms).p99, "ms p99", Target::at_most(50.0, "issue 12/13")).with_dist(dist(&overhead_ms));
        let bound = Target::at_most(6.0, "regression bound");
        if let Some((start, _)) = reference.get(&n) {
            r.ratio(&format!("{n} pods Running over the same pods' raw CRI calls in parallel"), total.as_secs_f64(), &format!("podchain, {n} pods"), start.as_secs_f64(), "raw CRI, in parallel", if n == 30 { Target::at_most(1.2, "issue 12/13") } else { None }, bound.clone());
        }
        overheads.extend(overhead_ms.iter().copied());
        // Delete → gone from the API.
        progress.step(&format!("deleting the Deployment of {n}"));
        let td = Instant::now();
        cp.client.request(Method::DELETE, &format!("/apis/apps/v1/namespaces/default/deployments/{name}"), Some((br#"{"propagationPolicy":"Background"}"#.to_vec(), "application/json"))).await.map_err(|e| e.to_string())?;
        let c = cp.client.clone();
        let sel = format!("app={name}");
        wait_for("the pods gone from the API", Duration::from_secs(120), || {
            let (c, sel) = (c.clone(), sel.clone());
            async move {
                let (pods, _) = c.list(Kind::Pod, "default", &ListOptions { label_selector: sel, ..Default::default() }).await.map_err(|e| e.to_string())?;
                if pods.is_empty() { Ok(()) } else { Err(format!("{} left", pods.len())) }
            }
        })
        .await?;
        let deleted = td.elapsed();
        r.figure(&format!("{n} pods: delete the Deployment → pods gone from the API"), deleted.as_secs_f64(), "s", Target::at_most(1.0, "issue 12/13"));
        if let Some((_, stop)) = reference.get(&n) {
            r.ratio(&format!("{n} pods: delete → gone over the same pods' raw CRI stops in parallel"), deleted.as_secs_f64(), &format!("podchain, {n} pods"), stop.as_secs_f64(), "raw CRI stops, in parallel", None, bound);
        }
    }
    progress.done();
    r.series.push(Series { name: "control-plane overhead per pod".into(), plot: crate::Plot::Cdf { x_label: "ms".into(), values: overheads } });
    drop(cp);
    drop(ctrd);
    let _ = std::fs::remove_dir_all(&dir);
    Ok(r)
}
