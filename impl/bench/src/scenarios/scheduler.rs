//! Scheduling throughput as upstream's scheduler_perf SchedulingBasic
//! measures it: `podchain apiserver` and `podchain scheduler` only (no
//! controller-manager, so bare Node objects are not tainted), N Node objects,
//! M pending pods created directly, then the time until every pod is bound
//! through `pods/binding`, watch-observed. Repeated for growing N, to show
//! how a decision's cost grows with the cluster.

use super::{create_all, node, pending_pod, until, watch_pods, ControlPlane};
use crate::{Options, Plot, Progress, ScenarioReport, Series, Target};
use std::time::Duration;

pub async fn run(opts: &Options) -> Result<ScenarioReport, String> {
    let mut r = ScenarioReport::new("scheduler", opts.quick);
    let mut progress = Progress::new("scheduler");
    let (node_counts, pods, budget): (&[usize], usize, Duration) = if opts.quick { (&[100, 500], 500, Duration::from_secs(60)) } else { (&[1_000, 5_000, 15_000], 10_000, Duration::from_secs(180)) };
    crate::ensure_fd_limit(4096)?;
    let mut points = Vec::new();
    let mut per_decision = Vec::new();
    for &n in node_counts {
        progress.step(&format!("{n} nodes, {pods} pending pods"));
        let mut cp = ControlPlane::start(opts, &format!("scheduler-{n}"), false, &[]).await?;
        create_all(&cp.client, (0..n).map(|i| node(&format!("node-{i:05}"), 110)).collect(), 32, &mut progress, &format!("{n} nodes")).await?;
        create_all(&cp.client, (0..pods).map(|i| pending_pod(&format!("pod-{i:05}"), None)).collect(), 32, &mut progress, &format!("{pods} pods")).await?;
        let times = watch_pods(&cp.client, "app=bench").await?;
        let started = std::time::Instant::now();
        cp.add(opts, "scheduler", &["scheduler".into()])?;
        let (done, _) = until(&times, budget, &mut progress, &format!("{n} nodes: binding"), |t| (t.bound.len() >= pods, format!("{}/{pods} bound", t.bound.len()))).await;
        let t = times.lock().unwrap_or_else(|p| p.into_inner());
        // From the scheduler's start to the last bind seen (or to the budget's end).
        let last = t.bound.values().max().copied().unwrap_or(started);
        let secs = last.saturating_duration_since(started).as_secs_f64().max(1e-3);
        let bound = t.bound.len();
        let rate = bound as f64 / secs;
        let target = if n == 5_000 && pods == 10_000 { Target::at_least(5_000.0, "issue 12/13; upstream's CI threshold is 680") } else { None };
        let f = r.figure(&format!("pods bound per second, {n} nodes, {pods} pending pods"), rate, "pods/s", target);
        if !done {
            f.incomplete();
            r.note(format!("{n} nodes: {bound} of {pods} pods bound within the {} s budget", budget.as_secs()));
        }
        if !t.rebound.is_empty() {
            return Err(format!("{} pods were bound to a second node: {:?}", t.rebound.len(), &t.rebound[..t.rebound.len().min(5)]));
        }
        r.figure(&format!("time per scheduling decision, {n} nodes"), secs / bound.max(1) as f64 * 1e3, "ms", None);
        points.push((n as f64, rate));
        per_decision.push((n, secs / bound.max(1) as f64));
        drop(t);
        if bound == 0 {
            return Err(format!("no pod was bound with {n} nodes:\n{}", cp.logs()));
        }
    }
    progress.done();
    r.series.push(Series { name: "scheduling throughput against node count".into(), plot: Plot::Line { x_label: "nodes".into(), y_label: "pods bound per second".into(), points } });
    if let (Some((n0, d0)), Some((n1, d1))) = (per_decision.first(), per_decision.last()) {
        let nodes_ratio = *n1 as f64 / *n0 as f64;
        // A decision is O(nodes) at most: its time may grow with the node count, not faster.
        r.ratio(
            &format!("time per decision at {n1} nodes over at {n0} nodes"),
            *d1,
            &format!("{n1} nodes"),
            *d0,
            &format!("{n0} nodes"),
            Target::at_most(nodes_ratio, "O(nodes) per decision (issue 13)"),
            Target::at_most(nodes_ratio * 3.0, "regression bound"),
        );
    }
    Ok(r)
}
