//! Scale: upstream's documented limits, 5,000 nodes and 150,000 pods, as
//! simulated nodes and Deployments: the time until every pod is Running, the
//! apiserver's memory then, how long a list of every pod takes, and that
//! nothing was dropped on the way.

use super::deployment::start_sim_nodes;
use super::{deployment, until, watch_pods, ControlPlane};
use crate::stats::dist;
use crate::{Options, Progress, ScenarioReport, Target};
use client::Method;
use std::time::{Duration, Instant};

pub async fn run(opts: &Options) -> Result<ScenarioReport, String> {
    let mut r = ScenarioReport::new("scale", opts.quick);
    let mut progress = Progress::new("scale");
    let (nodes, deployments, replicas, budget) = if opts.quick { (100, 10, 100, Duration::from_secs(90)) } else { (5_000, 150, 1_000, Duration::from_secs(900)) };
    let total = deployments * replicas;
    crate::ensure_fd_limit(if opts.quick { 4096 } else { crate::FULL_FD_LIMIT })?;
    // Room for 150,000 pods on 5,000 nodes: 30 each, as upstream's limits assume.
    let mut cp = ControlPlane::start(opts, "scale", true, &[]).await?;
    start_sim_nodes(&mut cp, opts, nodes, &mut progress).await?;
    let times = watch_pods(&cp.client, "").await?;
    for d in 0..deployments {
        let body = deployment(&format!("scale-{d}"), replicas, "podchain.local/sample:1").to_string().into_bytes();
        cp.client.request(Method::POST, "/apis/apps/v1/namespaces/default/deployments", Some((body, "application/json"))).await.map_err(|e| e.to_string())?;
    }
    let (done, elapsed) = until(&times, budget, &mut progress, &format!("{total} pods Running"), |t| (t.running.len() >= total, format!("{}/{total} Running", t.running.len()))).await;
    let running = times.lock().unwrap_or_else(|p| p.into_inner()).running.len();
    let f = r.figure(&format!("{deployments} Deployments of {replicas} on {nodes} simulated nodes: create → every pod Running"), elapsed.as_secs_f64(), "s", None);
    if !done {
        f.incomplete();
        r.note(format!("{running} of {total} pods Running within the {} s budget", budget.as_secs()));
    }
    r.figure("pods Running per second", running as f64 / elapsed.as_secs_f64().max(1e-3), "pods/s", None);
    let (rss, pss) = crate::procs::memory_of(cp.server_pid)?;
    r.figure(&format!("podchain server resident memory with {running} pods on {nodes} nodes"), rss as f64 / (1 << 20) as f64, "MiB", if opts.quick { None } else { Target::at_most(1024.0, "issue 12/13") });
    if let Some(pss) = pss {
        r.figure("podchain server proportional memory (PSS)", pss as f64 / (1 << 20) as f64, "MiB", None);
    }
    progress.step("listing every pod");
    let mut list_ms = Vec::new();
    let mut listed = 0;
    for _ in 0..3 {
        let t = Instant::now();
        let v = cp.client.request(Method::GET, "/api/v1/pods", None).await.map_err(|e| e.to_string())?;
        list_ms.push(t.elapsed().as_secs_f64() * 1e3);
        listed = v["items"].as_array().map_or(0, Vec::len);
    }
    progress.done();
    r.figure(&format!("a list of every pod ({listed}), one request"), dist(&list_ms).median, "ms", None).with_dist(dist(&list_ms));
    r.figure("pods the list holds over pods created", listed as f64 / total as f64, "×", Target::at_least(1.0, "nothing dropped"));
    if done && listed != total {
        return Err(format!("{total} pods ran but the list holds {listed}"));
    }
    let t = times.lock().unwrap_or_else(|p| p.into_inner());
    if !t.rebound.is_empty() {
        return Err(format!("{} pods were bound to a second node", t.rebound.len()));
    }
    Ok(r)
}
