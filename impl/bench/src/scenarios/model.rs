//! The model checker: `podchain model check` as a child process for each
//! configuration (every pinned one the tests check in full, and the CI
//! configuration), its verdict, unique states per second of the safety
//! pass, bytes per unique state (the process's peak RSS over its unique
//! states) and wall time. The peer, a stateright-based Kubernetes
//! controller checker, cannot be installed here: its figure is cited.

use crate::procs::temp_dir;
use crate::{Options, Progress, ScenarioReport, Series, Target};
use serde::Deserialize;
use std::time::Instant;

/// The peer's best unique states/s on this machine (issue 12, measured by hand).
pub const PEER_UNIQUE_STATES_PER_SECOND: f64 = 181_000.0;

/// One configuration: a name and `podchain model check`'s arguments.
struct Config {
    name: &'static str,
    args: &'static str,
}

/// The configurations `model/tests/check.rs` checks in full, and the CI one.
const FULL: &[Config] = &[
    Config { name: "1 node, 1 replica, linearizable", args: "--nodes 1 --replicas 1 --consistency linearizable" },
    Config { name: "1 node, 1 replica, stale caches", args: "--nodes 1 --replicas 1 --consistency stale" },
    Config { name: "1 node, deletion", args: "--nodes 1 --replicas 1 --consistency linearizable --delete true" },
    Config { name: "stale caches, a controller crash", args: "--nodes 1 --replicas 1 --consistency stale --crashes 1" },
    Config { name: "2 nodes, 3 replicas, an exit and a node failure", args: "--nodes 2 --replicas 3 --pods-per-node 4 --consistency linearizable --exits 1 --node-failures 1 --ticks 4" },
    Config { name: "2 nodes, a rollout and a node failure", args: "--nodes 2 --replicas 2 --pods-per-node 3 --consistency linearizable --rollout true --node-failures 1 --ticks 4" },
    Config { name: "2 nodes, a deletion after an exit", args: "--nodes 2 --replicas 3 --pods-per-node 4 --consistency linearizable --delete true --exits 1 --ticks 2" },
    Config { name: "3 nodes, a rollout and a node failure, node symmetry", args: "--nodes 3 --replicas 2 --consistency linearizable --rollout true --node-failures 1 --ticks 2 --symmetry nodes" },
    Config { name: "the CI configuration: 2 nodes, 3 replicas, crash, node failure, rollout, node symmetry", args: "--nodes 2 --replicas 3 --pods-per-node 4 --consistency linearizable --rollout true --crashes 1 --node-failures 1 --ticks 4 --symmetry nodes" },
];

const QUICK: &[Config] = &[
    Config { name: "1 node, 1 replica, stale caches", args: "--nodes 1 --replicas 1 --consistency stale" },
    Config { name: "stale caches, a controller crash", args: "--nodes 1 --replicas 1 --consistency stale --crashes 1" },
];

/// What `podchain model check --stats-json` writes.
#[derive(Deserialize)]
struct Stats {
    ok: bool,
    unique_states: usize,
    safety_seconds: f64,
    liveness_states: usize,
    liveness_seconds: f64,
    peak_rss_bytes: u64,
}

pub async fn run(opts: &Options) -> Result<ScenarioReport, String> {
    let mut r = ScenarioReport::new("model", opts.quick);
    let mut progress = Progress::new("model");
    let dir = temp_dir("bench-model");
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut rates = Vec::new();
    for (i, cfg) in (if opts.quick { QUICK } else { FULL }).iter().enumerate() {
        progress.step(&format!("checking {}", cfg.name));
        let stats_path = dir.join(format!("{i}.json"));
        let log = std::fs::File::create(dir.join(format!("{i}.log"))).map_err(|e| e.to_string())?;
        let mut args: Vec<String> = ["model", "check"].iter().map(|s| s.to_string()).chain(cfg.args.split_whitespace().map(String::from)).collect();
        args.extend(["--threads".into(), threads.to_string(), "--stats-json".into(), stats_path.display().to_string()]);
        let started = Instant::now();
        let status = tokio::process::Command::new(&opts.bin).args(&args).stdout(log.try_clone().map_err(|e| e.to_string())?).stderr(log).status().await.map_err(|e| format!("running podchain model check: {e}"))?;
        let wall = started.elapsed().as_secs_f64();
        let text = std::fs::read_to_string(&stats_path).map_err(|e| format!("{}: {e} (podchain model check exited {status}; see {})", stats_path.display(), dir.join(format!("{i}.log")).display()))?;
        let s: Stats = serde_json::from_str(&text).map_err(|e| format!("{}: {e}", stats_path.display()))?;
        if !s.ok {
            return Err(format!("the model check of {} failed: see {}", cfg.name, dir.join(format!("{i}.log")).display()));
        }
        let rate = s.unique_states as f64 / s.safety_seconds.max(1e-6);
        let bytes = s.peak_rss_bytes as f64 / s.unique_states.max(1) as f64;
        r.figure(&format!("{}: unique states", cfg.name), s.unique_states as f64, "states", None);
        r.figure(&format!("{}: unique states per second (safety)", cfg.name), rate, "states/s", Target::at_least(400_000.0, "issue 12: twice the peer"));
        r.figure(&format!("{}: bytes per unique state (peak RSS / unique)", cfg.name), bytes, "bytes", Target::at_most(300.0, "issue 12"));
        r.figure(&format!("{}: wall time (safety {:.1} s, liveness over {} states {:.1} s)", cfg.name, s.safety_seconds, s.liveness_states, s.liveness_seconds), wall, "s", None);
        r.ratio(&format!("{}: unique states/s over the peer's best", cfg.name), rate, "podchain", PEER_UNIQUE_STATES_PER_SECOND, "the stateright-based peer (cited)", Target::at_least(400_000.0 / PEER_UNIQUE_STATES_PER_SECOND, "issue 12"), None);
        rates.push((s.unique_states as f64, rate));
    }
    progress.done();
    r.series.push(Series { name: "unique states/s against the configuration's size".into(), plot: crate::Plot::Line { x_label: "unique states".into(), y_label: "unique states/s".into(), points: rates } });
    let _ = std::fs::remove_dir_all(&dir);
    Ok(r)
}
