//! Process harness for end-to-end tests: `bench::procs` (which the benchmark
//! uses too) with the tests' conventions on top: every component is this
//! build's `podchain`, records its decisions for trace validation, and a
//! failure to start or a timeout fails the test.

pub use bench::procs::{free_port, http_get, temp_dir, TEST_NETWORK_INDICES};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The `podchain` binary of this build (tests and binaries share target/<profile>/).
pub fn podchain_bin() -> PathBuf {
    if let Ok(p) = std::env::var("PODCHAIN_BIN") {
        return PathBuf::from(p);
    }
    let exe = std::env::current_exe().expect("test executable path");
    let dir = exe.parent().and_then(Path::parent).expect("target/<profile>/deps/..");
    let bin = dir.join("podchain");
    assert!(bin.exists(), "{} is missing: build it with `cargo build -p podchain` (cargo test --workspace does)", bin.display());
    bin
}

/// Where the processes started from `log_dir` write their decision traces.
pub fn trace_dir(log_dir: &Path) -> PathBuf {
    let d = log_dir.join("trace");
    std::fs::create_dir_all(&d).expect("trace dir");
    d
}

/// Replays every decision the processes of this test recorded against the
/// model (`model::trace`): fails at the first step the model cannot take,
/// and unless each of `functions` was recorded at least once.
pub fn assert_traces_valid(log_dir: &Path, functions: &[&str]) -> model::trace::Summary {
    let dir = trace_dir(log_dir);
    let sum = model::trace::validate_dir(&dir).unwrap_or_else(|e| panic!("trace validation: {e}"));
    for f in functions {
        assert!(sum.by_function.get(*f).copied().unwrap_or(0) > 0, "no {f} decision in the traces of {}: {sum:?}", dir.display());
    }
    eprintln!("traces valid: {} decisions in {} files ({:?}; {} torn final lines)", sum.records, sum.files, sum.by_function, sum.torn);
    sum
}

/// A `podchain` component of this build, recording its decisions into the
/// log directory's trace directory; killed when dropped.
pub struct Proc(bench::procs::Proc);

impl Proc {
    pub fn start(name: &str, args: &[String], log_dir: &Path) -> Proc {
        let spawn = bench::procs::Spawn {
            program: podchain_bin(),
            name: name.into(),
            args: args.to_vec(),
            log_dir: log_dir.to_path_buf(),
            env: vec![(client::trace::TRACE_DIR_ENV.to_string(), trace_dir(log_dir).display().to_string())],
        };
        Proc(bench::procs::Proc::spawn(spawn).unwrap_or_else(|e| panic!("{e}")))
    }

    pub fn restart(&mut self) {
        self.0.restart().unwrap_or_else(|e| panic!("{e}"));
    }

    pub fn signal(&self, sig: &str) {
        self.0.signal(sig).unwrap_or_else(|e| panic!("{e}"));
    }
}

impl std::ops::Deref for Proc {
    type Target = bench::procs::Proc;
    fn deref(&self) -> &bench::procs::Proc {
        &self.0
    }
}

impl std::ops::DerefMut for Proc {
    fn deref_mut(&mut self) -> &mut bench::procs::Proc {
        &mut self.0
    }
}

/// Polls `check` until it returns Ok, or panics after `timeout` with `what`
/// and the last observation.
pub async fn wait_for<T, F, Fut>(what: &str, timeout: Duration, check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, String>>,
{
    bench::procs::wait_for(what, timeout, check).await.unwrap_or_else(|e| panic!("{e}"))
}

/// Waits until an apiserver answers.
pub async fn wait_healthy(url: &str, timeout: Duration) {
    bench::procs::wait_healthy(url, timeout).await.unwrap_or_else(|e| panic!("{e}"))
}

/// The repository root (for ci/ scripts).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("tests/ is in the repository").to_path_buf()
}

/// A containerd instance of our own (`bench::procs::Containerd`), stopped on drop.
pub struct Containerd(bench::procs::Containerd);

impl Containerd {
    pub fn start(dir: &Path) -> Containerd {
        Containerd(bench::procs::Containerd::start(&repo_root(), dir).unwrap_or_else(|e| panic!("{e}")))
    }

    /// `ctr -n k8s.io containers ls`: (id, image) of every container, sandboxes included.
    pub fn containers(&self) -> Vec<(String, String)> {
        self.0.containers().unwrap_or_else(|e| panic!("{e}"))
    }
}

impl std::ops::Deref for Containerd {
    type Target = bench::procs::Containerd;
    fn deref(&self) -> &bench::procs::Containerd {
        &self.0
    }
}
