//! `podchain bench`: the instrument that measures podchain against the
//! physical limits of the machine and against its peers, in one run.
//!
//! Each scenario starts what it needs itself (podchain's components as
//! processes, containerd through `ci/containerd.sh`, Debian's etcd on
//! loopback), measures, and reports figures. Where a reference exists it is
//! measured in the same run (the data disk's fdatasync floor, etcd on the
//! same disk with the same client, raw CRI calls to the same containerd, a
//! trivial endpoint that shows the load generator's own ceiling), and the
//! figure is stated as a ratio to it. Every figure has its target; ratios
//! have a bound that `bench` fails on (CI runs `bench all --quick`), never an
//! absolute time. Figures that no peer can be run for here are cited as the
//! fixed values the issue measured (`PEERS`).
//!
//! The load generator is this process: tokio, and podchain's own HTTP client.

pub mod load;
pub mod procs;
pub mod report;
pub mod scenarios;
pub mod stats;

use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Every scenario, in the order `bench all` runs them.
pub const SCENARIOS: &[&str] = &["store", "scheduler", "deployment", "startup", "watch", "scale", "footprint", "model"];

/// Where `podchain bench` writes its reports unless told otherwise.
pub const DEFAULT_OUT_DIR: &str = "bench-results";

/// Open files the full scenarios need per process: 5,000 simulated kubelets
/// in one process each hold a listener, a watch and a client connection
/// (15,000), and the server holds the other end of each connection; 5,000
/// watchers need 5,000 on each end. `bench` raises its soft limit to this
/// (children inherit it) and says so when the hard limit is lower.
pub const FULL_FD_LIMIT: u64 = 20_000;

/// How to compare a figure with its target or bound.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub enum Cmp {
    AtLeast,
    AtMost,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Target {
    pub cmp: Cmp,
    pub value: f64,
    /// Where the target comes from (the issue, upstream's CI, a peer).
    pub source: String,
}

impl Target {
    pub fn at_least(value: f64, source: &str) -> Option<Target> {
        Some(Target { cmp: Cmp::AtLeast, value, source: source.into() })
    }
    pub fn at_most(value: f64, source: &str) -> Option<Target> {
        Some(Target { cmp: Cmp::AtMost, value, source: source.into() })
    }
    pub fn met_by(&self, v: f64) -> bool {
        match self.cmp {
            Cmp::AtLeast => v >= self.value,
            Cmp::AtMost => v <= self.value,
        }
    }
    pub fn describe(&self) -> String {
        let op = match self.cmp {
            Cmp::AtLeast => "≥",
            Cmp::AtMost => "≤",
        };
        format!("{op} {}", report::num(self.value))
    }
}

/// min / median / p99 / max of a distribution.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Dist {
    pub n: usize,
    pub min: f64,
    pub median: f64,
    pub p99: f64,
    pub max: f64,
}

/// One measured figure.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Figure {
    pub name: String,
    pub value: f64,
    pub unit: String,
    pub dist: Option<Dist>,
    pub target: Option<Target>,
    /// False when the run stopped at its time budget: the value is what it reached.
    pub complete: bool,
}

/// A figure over a reference measured in the same run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Ratio {
    pub name: String,
    pub value: f64,
    pub of: String,
    pub to: String,
    pub target: Option<Target>,
    /// What `bench` fails on: a regression past this is an error.
    pub bound: Option<Target>,
}

/// Points to plot: a line of (x, y), or a distribution drawn as its CDF.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Plot {
    Line { x_label: String, y_label: String, points: Vec<(f64, f64)> },
    Cdf { x_label: String, values: Vec<f64> },
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Series {
    pub name: String,
    pub plot: Plot,
}

/// The machine a run was made on.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Machine {
    pub cpus: usize,
    pub memory_bytes: u64,
    pub kernel: String,
    pub fd_limit: u64,
}

/// What one scenario measured.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ScenarioReport {
    pub scenario: String,
    pub quick: bool,
    pub started_at: String,
    pub seconds: f64,
    pub machine: Machine,
    pub figures: Vec<Figure>,
    pub ratios: Vec<Ratio>,
    pub series: Vec<Series>,
    pub notes: Vec<String>,
    /// Why the scenario did not run (a missing program, no root).
    pub skipped: Option<String>,
}

impl ScenarioReport {
    pub fn new(scenario: &str, quick: bool) -> ScenarioReport {
        ScenarioReport { scenario: scenario.into(), quick, started_at: client::clock::wall_now().to_rfc3339(), seconds: 0.0, machine: machine(), figures: vec![], ratios: vec![], series: vec![], notes: vec![], skipped: None }
    }

    pub fn figure(&mut self, name: &str, value: f64, unit: &str, target: Option<Target>) -> &mut Figure {
        self.figures.push(Figure { name: name.into(), value, unit: unit.into(), dist: None, target, complete: true });
        self.figures.last_mut().expect("just pushed")
    }

    pub fn ratio(&mut self, name: &str, of: f64, of_desc: &str, to: f64, to_desc: &str, target: Option<Target>, bound: Option<Target>) {
        let value = if to > 0.0 { of / to } else { f64::NAN };
        self.ratios.push(Ratio { name: name.into(), value, of: format!("{of_desc} ({})", report::num(of)), to: format!("{to_desc} ({})", report::num(to)), target, bound });
    }

    pub fn note(&mut self, s: impl Into<String>) {
        self.notes.push(s.into());
    }

    /// The ratios past their bound.
    pub fn violations(&self) -> Vec<String> {
        self.ratios
            .iter()
            .filter_map(|r| {
                let b = r.bound.as_ref()?;
                (!b.met_by(r.value) || r.value.is_nan()).then(|| format!("{}: {}: {} is past the bound {}", self.scenario, r.name, report::num(r.value), b.describe()))
            })
            .collect()
    }
}

impl Figure {
    pub fn with_dist(&mut self, d: Dist) -> &mut Figure {
        self.dist = Some(d);
        self
    }
    pub fn incomplete(&mut self) -> &mut Figure {
        self.complete = false;
        self
    }
}

/// What every scenario gets.
#[derive(Clone, Debug)]
pub struct Options {
    pub quick: bool,
    /// Where JSON reports go (`bench-results/`).
    pub out_dir: PathBuf,
    /// The `podchain` binary the scenarios start (this one).
    pub bin: PathBuf,
    /// The checkout (for `ci/containerd.sh`).
    pub repo: PathBuf,
}

impl Options {
    /// Spawns this build's `podchain` with `args`, output in `dir/<name>.log`, tracing off.
    pub fn podchain(&self, name: &str, args: &[String], dir: &Path) -> Result<procs::Proc, String> {
        procs::Proc::spawn(procs::Spawn { program: self.bin.clone(), name: name.into(), args: args.to_vec(), log_dir: dir.to_path_buf(), env: vec![] })
    }
}

/// A progress line on stderr: rewritten in place a few times a second on a
/// terminal; elsewhere (CI's log) one line per step.
pub struct Progress {
    scenario: String,
    last: Instant,
    tty: bool,
}

impl Progress {
    pub fn new(scenario: &str) -> Progress {
        use std::io::IsTerminal;
        Progress { scenario: scenario.into(), last: Instant::now() - Duration::from_secs(1), tty: std::io::stderr().is_terminal() }
    }
    pub fn say(&mut self, msg: &str) {
        if self.tty && self.last.elapsed() >= Duration::from_millis(250) {
            eprint!("\r\x1b[2K[{}] {msg}", self.scenario);
            self.last = Instant::now();
        }
    }
    /// Says it at once (a new step).
    pub fn step(&mut self, msg: &str) {
        if self.tty {
            self.last = Instant::now() - Duration::from_secs(1);
            self.say(msg);
        } else {
            eprintln!("[{}] {msg}", self.scenario);
        }
    }
    pub fn done(&self) {
        if self.tty {
            eprint!("\r\x1b[2K");
        }
    }
}

pub fn machine() -> Machine {
    let mem = std::fs::read_to_string("/proc/meminfo").ok().and_then(|t| t.lines().find(|l| l.starts_with("MemTotal:")).and_then(|l| l.split_whitespace().nth(1)).and_then(|v| v.parse::<u64>().ok())).unwrap_or(0) * 1024;
    Machine {
        cpus: std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
        memory_bytes: mem,
        kernel: std::fs::read_to_string("/proc/sys/kernel/osrelease").map(|s| s.trim().to_string()).unwrap_or_default(),
        fd_limit: fd_limit(),
    }
}

/// The soft limit on open files of this process.
pub fn fd_limit() -> u64 {
    std::fs::read_to_string("/proc/self/limits")
        .ok()
        .and_then(|t| t.lines().find(|l| l.starts_with("Max open files")).and_then(|l| l.split_whitespace().nth(3)).and_then(|v| v.parse().ok()))
        .unwrap_or(1024)
}

/// Raises this process's soft limit on open files to at least `want`
/// (children inherit it), through util-linux's `prlimit`; an error says how
/// to raise it by hand when that is not allowed.
pub fn ensure_fd_limit(want: u64) -> Result<(), String> {
    if fd_limit() >= want {
        return Ok(());
    }
    let pid = std::process::id().to_string();
    let ok = std::process::Command::new("prlimit").args(["--pid", &pid, &format!("--nofile={want}:{want}")]).status().map(|s| s.success()).unwrap_or(false);
    if ok && fd_limit() >= want {
        Ok(())
    } else {
        Err(format!("this scenario needs {want} open files and the limit is {}: run `ulimit -n {want}` (as root) first", fd_limit()))
    }
}

/// Runs `names` (or every scenario for "all"), prints a table after each,
/// writes `out_dir/<scenario>.json`, and fails when a ratio is past its bound.
pub fn run(names: &[String], opts: &Options) -> Result<Vec<ScenarioReport>, String> {
    let names: Vec<String> = if names.iter().any(|n| n == "all") { SCENARIOS.iter().map(|s| s.to_string()).collect() } else { names.to_vec() };
    for n in &names {
        if !SCENARIOS.contains(&n.as_str()) {
            return Err(format!("unknown scenario {n:?}: expected one of {} or all", SCENARIOS.join(", ")));
        }
    }
    std::fs::create_dir_all(&opts.out_dir).map_err(|e| format!("creating {}: {e}", opts.out_dir.display()))?;
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().map_err(|e| e.to_string())?;
    let mut reports = Vec::new();
    let mut violations = Vec::new();
    for name in &names {
        let started = Instant::now();
        // A scenario that fails is reported and the others still run.
        let mut r = match rt.block_on(scenarios::run(name, opts)) {
            Ok(r) => r,
            Err(e) => {
                eprintln!("\nscenario {name} failed: {e}");
                violations.push(format!("{name}: failed: {e}"));
                continue;
            }
        };
        r.seconds = started.elapsed().as_secs_f64();
        print!("{}", report::table(&r));
        let path = opts.out_dir.join(format!("{name}.json"));
        std::fs::write(&path, serde_json::to_string_pretty(&r).expect("reports encode")).map_err(|e| format!("writing {}: {e}", path.display()))?;
        violations.extend(r.violations());
        reports.push(r);
    }
    let total: f64 = reports.iter().map(|r| r.seconds).sum();
    println!("{} scenarios in {total:.1} s; JSON in {}", reports.len(), opts.out_dir.display());
    if violations.is_empty() {
        Ok(reports)
    } else {
        Err(format!("failed scenarios and ratios past their bounds:\n  {}", violations.join("\n  ")))
    }
}
