//! Running the checker: progress lines, verdicts and counterexamples, the
//! Explorer, and the liveness pass with its fairness classes.

use stateright::Model;
use super::*;

/// What one `run_check` did: its verdict and its size and speed, for
/// `podchain model check --stats-json` and the benchmark.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
pub struct CheckStats {
    /// Every property and liveness hold, and the check was complete.
    pub ok: bool,
    /// States stateright generated (duplicates included) and kept.
    pub generated_states: usize,
    pub unique_states: usize,
    pub safety_seconds: f64,
    /// States of the liveness pass's graph, and its time (0 when not run).
    pub liveness_states: usize,
    pub liveness_seconds: f64,
}

/// Runs the checker with progress lines on stderr; prints each property's
/// verdict and, for a violation, the counterexample as numbered steps; then,
/// when safety holds, liveness. `stats.ok` is false if anything failed.
pub fn run_check(cfg: ModelConfig, threads: usize, max_states: usize) -> CheckStats {
    let mut stats = CheckStats::default();
    let started = std::time::Instant::now();
    let safety = run_safety_counted(cfg.clone(), threads, max_states, &mut stats);
    stats.safety_seconds = started.elapsed().as_secs_f64();
    if !safety {
        println!("  - liveness not checked: a safety property fails, or the check is incomplete");
        return stats;
    }
    let started = std::time::Instant::now();
    eprintln!("liveness: building the whole reachable graph (one thread)...");
    let r = check_liveness(cfg, max_states);
    let secs = started.elapsed().as_secs_f64();
    stats.liveness_states = r.states;
    stats.liveness_seconds = secs;
    let head = format!("{} states, {} fault-free edges, {} goal states, {} non-goal cycles (all unfair), {secs:.1}s", r.states, r.fault_free_edges, r.goal_states, r.non_goal_cycles);
    if r.verdict == crate::liveness::Verdict::Holds {
        if r.fault_free_cycles == 0 {
            println!("  ✓ no oscillation: the fault-free graph has no cycle, so once faults stop only finitely many writes happen");
        } else {
            println!("  ! the fault-free graph has {} cycles (none of them fair short of the goal): writes may repeat forever", r.fault_free_cycles);
        }
    }
    use crate::liveness::Verdict;
    let live = match r.verdict.clone() {
        Verdict::Holds => {
            println!("  ✓ once faults stop, every weakly fair execution converges and stays converged ({head})");
            true
        }
        Verdict::TooLarge => {
            println!("  ? liveness not checked: more than --max-states states");
            true
        }
        Verdict::Deadlock { path } | Verdict::Unstable { path } => {
            let what = if matches!(r.verdict, Verdict::Deadlock { .. }) { "nothing left to do short of the goal" } else { "a fault-free step leaves the goal" };
            println!("  ✗ liveness: {what} ({head}):");
            for (i, a) in path.iter().enumerate() {
                println!("    {:>3}. {a}", i + 1);
            }
            false
        }
        Verdict::Livelock { path, cycle } => {
            println!("  ✗ liveness: a fair cycle never converges ({head}); reached by:");
            for (i, a) in path.iter().enumerate() {
                println!("    {:>3}. {a}", i + 1);
            }
            println!("    then forever: {}", cycle.join(" → "));
            false
        }
    };
    stats.ok = safety && live;
    stats
}

/// The stateright run `cfg` calls for, spawned on `threads` threads and
/// stopping at the first failure or after generating `max_generated`
/// states: breadth first, or, under node symmetry, depth first with the
/// representative (stateright reduces by symmetry in its depth-first
/// search only). The CLI and the tests both start their runs here.
pub fn spawn_checker(cfg: ModelConfig, threads: usize, max_generated: usize) -> Box<dyn stateright::Checker<PodChainModel>> {
    let symmetric = cfg.symmetry == Symmetry::Nodes;
    let builder = PodChainModel { cfg }.checker().threads(threads.max(1)).target_state_count(max_generated).finish_when(stateright::HasDiscoveries::AnyFailures);
    if symmetric {
        Box::new(builder.symmetry_fn(crate::symmetry::representative).spawn_dfs())
    } else {
        Box::new(builder.spawn_bfs())
    }
}

/// `spawn_checker`, waited for.
pub fn run_checker(cfg: ModelConfig, threads: usize, max_generated: usize) -> Box<dyn stateright::Checker<PodChainModel>> {
    let mut c = spawn_checker(cfg, threads, max_generated);
    for h in c.handles() {
        h.join().expect("a checker thread panicked");
    }
    c
}

/// The stateright run: every safety property, with progress.
pub fn run_safety(cfg: ModelConfig, threads: usize, max_states: usize) -> bool {
    run_safety_counted(cfg, threads, max_states, &mut CheckStats::default())
}

fn run_safety_counted(cfg: ModelConfig, threads: usize, max_states: usize, stats: &mut CheckStats) -> bool {
    let m = PodChainModel { cfg: cfg.clone() };
    let names: Vec<&'static str> = m.properties().iter().map(|p| p.name).collect();
    let started = std::time::Instant::now();
    let unique_label = if cfg.symmetry == Symmetry::Nodes { "unique up to renaming nodes" } else { "unique" };
    report_safety(&m, spawn_checker(cfg, threads, max_states), started, max_states, names, unique_label, stats)
}

/// Prints progress while `checker` runs, then each property's verdict.
fn report_safety(m: &PodChainModel, mut checker: Box<dyn stateright::Checker<PodChainModel>>, started: std::time::Instant, max_states: usize, names: Vec<&'static str>, unique_label: &str, stats: &mut CheckStats) -> bool {
    let (mut last, mut last_at) = (0, std::time::Instant::now());
    while !checker.is_done() {
        std::thread::sleep(std::time::Duration::from_millis(20));
        if last_at.elapsed().as_secs() >= 2 {
            let (total, unique) = (checker.state_count(), checker.unique_state_count());
            let secs = started.elapsed().as_secs_f64();
            eprintln!("states {total}  unique {unique}  {:.0} states/s  max depth {}  {:.0}s", (total - last) as f64 / last_at.elapsed().as_secs_f64(), checker.max_depth(), secs);
            (last, last_at) = (total, std::time::Instant::now());
        }
    }
    for h in checker.handles() {
        h.join().expect("a checker thread panicked");
    }
    (stats.generated_states, stats.unique_states) = (checker.state_count(), checker.unique_state_count());
    // stateright's budget counts every state it generates, duplicates too.
    let cut_short = checker.state_count() >= max_states;
    println!("explored {} states ({} {unique_label}, max depth {}) in {:.1}s{}", checker.state_count(), checker.unique_state_count(), checker.max_depth(), started.elapsed().as_secs_f64(), if cut_short { " — stopped at --max-states" } else { "" });
    let mut ok = !cut_short;
    for name in names {
        let is_sometimes = name == "the deployment converges";
        match checker.discovery(name) {
            None if is_sometimes => println!("  ✗ {name}: never reached"),
            None => println!("  ✓ {name}"),
            Some(_) if is_sometimes => println!("  ✓ {name}: reachable"),
            Some(path) => {
                ok = false;
                println!("  ✗ {name}: counterexample:");
                for (i, (state, action)) in path.into_vec().into_iter().enumerate() {
                    if let Some(a) = action {
                        println!("    {:>3}. {}", i + 1, m.format_action(&a));
                    } else {
                        for v in &state.violations {
                            println!("         violation: {v}");
                        }
                    }
                }
            }
        }
    }
    if cut_short {
        println!("  ? incomplete: the checker stopped after generating --max-states {max_states} states, so the ✓ above hold only for what it reached; raise --max-states");
    }
    ok
}

/// Serves stateright's Explorer for browsing the state space.
pub fn explore(cfg: ModelConfig, addr: &str) -> ! {
    let _checker = PodChainModel { cfg }.checker().serve(addr);
    // The Explorer runs on the checker's threads until the process ends.
    loop {
        std::thread::park();
    }
}

/// Faults and changes of the desired state: the actions that "stop" before
/// liveness is asked of the rest.
pub fn is_fault(a: &Action) -> bool {
    matches!(a, Action::Restart(_) | Action::Handover(_) | Action::RefuseWrite(_) | Action::ExitContainer(_) | Action::FailNode(_) | Action::UpdateImage | Action::Scale(_) | Action::DeleteDeployment)
}

/// Weak-fairness classes: each component's step and each component's watch
/// delivery is one class; time is one more.
pub fn fairness_class(a: &Action) -> String {
    match a {
        Action::Step(c) => format!("{} steps", c.name()),
        Action::Schedule(_) => format!("{} steps", Component::Scheduler.name()),
        Action::Sync(c) => format!("{}'s watch delivers", c.name()),
        Action::Tick(_) => "time passes".into(),
        other => format!("{other:?}"),
    }
}

/// The fairness classes under node symmetry: every kubelet's steps are one
/// class, and every kubelet's watch deliveries another. A class has to
/// mean the same in every state of an orbit, and "node-1's kubelet" does
/// not. This fairness is weaker than one class per kubelet (a cycle in
/// which one kubelet never steps counts as fair), so a liveness verdict
/// "holds" under it holds under the stronger one too; a livelock it reports
/// may starve one kubelet, and a run without symmetry tells.
pub fn symmetric_fairness_class(a: &Action) -> String {
    match a {
        Action::Step(Component::Kubelet(_)) => "a kubelet steps".into(),
        Action::Sync(Component::Kubelet(_)) => "a kubelet's watch delivers".into(),
        other => fairness_class(other),
    }
}

/// "Eventually stable reconciliation": once faults stop, every weakly fair
/// execution reaches `converged` and stays there — checked exactly on the
/// whole reachable graph (see `liveness`), or on its quotient by node
/// renaming with `Symmetry::Nodes`.
pub fn check_liveness(cfg: ModelConfig, max_states: usize) -> crate::liveness::Report {
    let m = PodChainModel { cfg };
    if m.cfg.symmetry == Symmetry::Nodes {
        crate::liveness::check(&m, is_fault, symmetric_fairness_class, |s: &State| m.converged(s), Some(crate::symmetry::representative), max_states)
    } else {
        crate::liveness::check(&m, is_fault, fairness_class, |s: &State| m.converged(s), None, max_states)
    }
}

