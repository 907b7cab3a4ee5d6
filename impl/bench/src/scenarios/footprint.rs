//! Footprint: the resident (and proportional) memory of `podchain server`
//! and one `podchain kubelet --runtime cri` on a containerd of our own,
//! idle with a Deployment of 3 pods Running: what a one-machine cluster
//! costs besides containerd and the pods themselves.

use super::startup::containerd_missing;
use super::{deployment, until, watch_pods, ControlPlane};
use crate::procs::{memory_of, temp_dir, Containerd};
use crate::{Options, Progress, ScenarioReport, Target};
use client::Method;
use std::time::{Duration, Instant};

/// k3s's documented minimum memory for a server (its requirements page):
/// cited, since k3s cannot be installed here.
pub const K3S_MINIMUM_BYTES: f64 = 512e6;

/// How long the idle cluster is sampled for: its memory is the most it held
/// in that window (lease renewals and status syncs keep happening).
const IDLE_WINDOW: Duration = Duration::from_secs(5);

/// Megabytes, as the target and k3s's figure are stated.
const MB: f64 = 1e6;

pub async fn run(opts: &Options) -> Result<ScenarioReport, String> {
    let mut r = ScenarioReport::new("footprint", opts.quick);
    if let Some(why) = containerd_missing() {
        r.skipped = Some(why);
        return Ok(r);
    }
    let mut progress = Progress::new("footprint");
    let dir = temp_dir("bench-footprint");
    progress.step("starting containerd");
    let ctrd = Containerd::start(&opts.repo, &dir)?;
    let mut cp = ControlPlane::start(opts, "footprint", true, &[]).await?;
    let (_, kubelet_pid) = cp.add_cri_kubelet(opts, &ctrd, &dir).await?;
    progress.step("a Deployment of 3");
    let times = watch_pods(&cp.client, "app=footprint").await?;
    cp.client.request(Method::POST, "/apis/apps/v1/namespaces/default/deployments", Some((deployment("footprint", 3, super::startup::IMAGE).to_string().into_bytes(), "application/json"))).await.map_err(|e| e.to_string())?;
    let (ok, _) = until(&times, Duration::from_secs(60), &mut progress, "3 pods Running", |t| (t.running.len() >= 3, format!("{}/3 Running", t.running.len()))).await;
    if !ok {
        return Err(format!("3 pods did not run:\n{}", cp.logs()));
    }
    progress.step("sampling the idle cluster's memory");
    let (mut server, mut kubelet) = ((0u64, 0u64), (0u64, 0u64));
    let started = Instant::now();
    while started.elapsed() < IDLE_WINDOW {
        let (rss, pss) = memory_of(cp.server_pid)?;
        server = (server.0.max(rss), server.1.max(pss.unwrap_or(0)));
        let (rss, pss) = memory_of(kubelet_pid)?;
        kubelet = (kubelet.0.max(rss), kubelet.1.max(pss.unwrap_or(0)));
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    progress.done();
    let together = (server.0 + kubelet.0) as f64;
    r.figure("podchain server, resident (RSS)", server.0 as f64 / MB, "MB", None);
    r.figure("podchain kubelet --runtime cri, resident (RSS)", kubelet.0 as f64 / MB, "MB", None);
    r.figure("server + kubelet, resident (RSS)", together / MB, "MB", Target::at_most(25.0, "issue 12"));
    if server.1 > 0 {
        r.figure("server + kubelet, proportional (PSS)", (server.1 + kubelet.1) as f64 / MB, "MB", None);
    }
    r.ratio("server + kubelet over k3s's documented minimum", together, "podchain, RSS", K3S_MINIMUM_BYTES, "k3s minimum (cited)", None, Target::at_most(0.2, "regression bound"));
    drop(cp);
    drop(ctrd);
    let _ = std::fs::remove_dir_all(&dir);
    Ok(r)
}
