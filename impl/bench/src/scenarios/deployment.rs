//! Deployment throughput: `podchain server` and N simulated kubelets in one
//! `podchain kubelet --count N` process; one Deployment of R replicas; the
//! time from its creation until every pod is Running and Ready, as a watch
//! sees it.

use super::{deployment, since, until, watch_pods, ControlPlane};
use crate::procs::wait_for;
use crate::stats::dist;
use crate::{Options, Progress, ScenarioReport, Series, Target};
use client::{ListOptions, Method};
use podcore::object::Kind;
use std::time::{Duration, Instant};

/// The first port of the simulated kubelets' endpoints: below Linux's
/// ephemeral range, so a free port another program took cannot collide.
pub const SIM_KUBELET_BASE_PORT: u16 = 12_000;

/// Starts `n` simulated kubelets and waits until every node is Ready.
pub async fn start_sim_nodes(cp: &mut ControlPlane, opts: &Options, n: usize, progress: &mut Progress) -> Result<(), String> {
    cp.add(opts, "kubelets", &["kubelet", "--node", "sim", "--count", &n.to_string(), "--runtime", "sim", "--listen", &format!("127.0.0.1:{SIM_KUBELET_BASE_PORT}")].map(String::from))?;
    let c = cp.client.clone();
    let budget = Duration::from_secs(60 + n as u64 / 20);
    progress.step(&format!("waiting for {n} simulated nodes Ready"));
    wait_for(&format!("{n} simulated nodes Ready"), budget, || {
        let c = c.clone();
        let ready = async move {
            let (nodes, _) = c.list(Kind::Node, "", &ListOptions::default()).await.map_err(|e| e.to_string())?;
            Ok::<usize, String>(nodes.iter().filter(|o| o.as_node().is_some_and(|n| podcore::controller::nodelifecycle::ready_status(n) == "True")).count())
        };
        async move {
            let k = ready.await?;
            if k >= n { Ok(()) } else { Err(format!("{k}/{n} Ready")) }
        }
    })
    .await
    .map_err(|e| format!("{e}\n{}", cp.logs()))?;
    Ok(())
}

pub async fn run(opts: &Options) -> Result<ScenarioReport, String> {
    let mut r = ScenarioReport::new("deployment", opts.quick);
    let mut progress = Progress::new("deployment");
    let (nodes, replicas, budget) = if opts.quick { (200, 500, Duration::from_secs(60)) } else { (5_000, 10_000, Duration::from_secs(900)) };
    crate::ensure_fd_limit(if opts.quick { 4096 } else { crate::FULL_FD_LIMIT })?;
    let mut cp = ControlPlane::start(opts, "deployment", true, &[]).await?;
    start_sim_nodes(&mut cp, opts, nodes, &mut progress).await?;
    let times = watch_pods(&cp.client, "app=throughput").await?;
    let t0 = Instant::now();
    cp.client.request(Method::POST, "/apis/apps/v1/namespaces/default/deployments", Some((deployment("throughput", replicas, "podchain.local/sample:1").to_string().into_bytes(), "application/json"))).await.map_err(|e| e.to_string())?;
    let (done, elapsed) = until(&times, budget, &mut progress, "pods Running", |t| (t.running.len() >= replicas, format!("{}/{replicas} Running, {} bound", t.running.len(), t.bound.len()))).await;
    progress.done();
    let t = times.lock().unwrap_or_else(|p| p.into_inner());
    let running = t.running.len();
    let secs = t.running.values().max().map_or(elapsed, |last| last.saturating_duration_since(t0)).as_secs_f64().max(1e-3);
    let f = r.figure(&format!("pods Running per second, a Deployment of {replicas} on {nodes} simulated nodes"), running as f64 / secs, "pods/s", if !opts.quick { Target::at_least(2_000.0, "issue 12/13") } else { None });
    if !done {
        f.incomplete();
        r.note(format!("{running} of {replicas} pods Running within the {} s budget", budget.as_secs()));
    }
    r.figure("time from create to every pod Running", secs, "s", None);
    let per_pod = since(t0, t.running.values().copied());
    r.figure("time from create to each pod Running", dist(&per_pod).median, "s", None).with_dist(dist(&per_pod));
    r.series.push(Series { name: "time from the Deployment's creation to each pod Running".into(), plot: crate::Plot::Cdf { x_label: "seconds".into(), values: per_pod } });
    if !t.rebound.is_empty() {
        return Err(format!("{} pods were bound to a second node", t.rebound.len()));
    }
    Ok(r)
}
