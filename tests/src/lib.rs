//! Process harness for end-to-end tests: start `podchain` components as
//! separate processes on free loopback ports, wait for conditions with a
//! deadline (polling, never a blind sleep), and kill everything on drop.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

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

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("a free loopback port")
}

/// A directory no earlier run left behind: the first name that is not taken.
pub fn temp_dir(name: &str) -> PathBuf {
    (0u32..)
        .map(|i| std::env::temp_dir().join(format!("podchain-{name}-{}-{i}", std::process::id())))
        .find(|d| std::fs::create_dir(d).is_ok())
        .expect("a free temporary directory name")
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

/// A child process, killed when dropped; its output goes to `log`.
pub struct Proc {
    pub name: String,
    pub child: Option<Child>,
    pub log: PathBuf,
    args: Vec<String>,
}

impl Proc {
    pub fn start(name: &str, args: &[String], log_dir: &Path) -> Proc {
        let log = log_dir.join(format!("{name}.log"));
        let mut p = Proc { name: name.into(), child: None, log, args: args.to_vec() };
        p.restart();
        p
    }

    pub fn restart(&mut self) {
        assert!(self.child.is_none(), "{} is still running", self.name);
        let out = std::fs::OpenOptions::new().create(true).append(true).open(&self.log).expect("log file");
        let err = out.try_clone().expect("log file");
        // Every component records its decisions for `assert_traces_valid`.
        let trace_dir = trace_dir(self.log.parent().expect("log dir"));
        let child = Command::new(podchain_bin())
            .args(&self.args)
            .env(client::trace::TRACE_DIR_ENV, &trace_dir)
            .stdout(Stdio::from(out))
            .stderr(Stdio::from(err))
            .spawn()
            .unwrap_or_else(|e| panic!("starting {}: {e}", self.name));
        self.child = Some(child);
    }

    /// SIGKILL: no chance to flush or clean up.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    pub fn signal(&self, sig: &str) {
        if let Some(c) = &self.child {
            let ok = Command::new("kill").args([&format!("-{sig}"), &c.id().to_string()]).status().map(|s| s.success()).unwrap_or(false);
            assert!(ok, "kill -{sig} {} failed", self.name);
        }
    }

    pub fn log_tail(&self) -> String {
        let s = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = s.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Polls `check` until it returns Some, or panics after `timeout` with `what`
/// and the last observation.
pub async fn wait_for<T, F, Fut>(what: &str, timeout: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, String>>,
{
    let start = Instant::now();
    let mut last: String;
    loop {
        match check().await {
            Ok(v) => return v,
            Err(e) => last = e,
        }
        if start.elapsed() > timeout {
            panic!("timed out after {timeout:?} waiting for {what}; last observation: {last}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits until an HTTP endpoint answers 200.
pub async fn wait_healthy(url: &str, timeout: Duration) {
    let c = client::Client::new(url, None, "e2e");
    wait_for(&format!("{url}/healthz"), timeout, || {
        let c = c.clone();
        async move {
            match c.request(hyper_method_get(), "/version", None).await {
                Ok(_) => Ok(()),
                Err(e) => Err(e.to_string()),
            }
        }
    })
    .await
}

fn hyper_method_get() -> client::Method {
    client::Method::GET
}

/// The repository root (for ci/ scripts).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("tests/ is in the repository").to_path_buf()
}

/// Pod subnets 10.88.<index>.0/24 the tests may use (the main job uses 1).
pub const TEST_NETWORK_INDICES: std::ops::RangeInclusive<u32> = 10..=250;

/// A containerd instance of our own (its own root, state, socket, bridge and
/// pod subnet), started with `ci/containerd.sh` and stopped on drop, with
/// every container it ran.
pub struct Containerd {
    pub dir: PathBuf,
    pub sock: String,
    pub index: u32,
    _lock: std::fs::File,
}

impl Containerd {
    pub fn start(dir: &Path) -> Containerd {
        // Each instance needs a bridge and subnet no other running test uses:
        // hold a lock file per network index for the instance's life.
        let locks = Path::new("/run/podchain-test");
        std::fs::create_dir_all(locks).expect("creating /run/podchain-test (the containerd tests run as root)");
        let (index, lock) = TEST_NETWORK_INDICES
            .clone()
            .find_map(|i| {
                let f = std::fs::OpenOptions::new().create(true).truncate(false).write(true).open(locks.join(format!("net-{i}.lock"))).ok()?;
                f.try_lock().ok()?;
                Some((i, f))
            })
            .expect("a free test network index");
        let out = Command::new("bash").arg(repo_root().join("ci/containerd.sh")).arg("up").arg(dir).arg(index.to_string()).stderr(Stdio::inherit()).output().expect("running ci/containerd.sh");
        assert!(out.status.success(), "ci/containerd.sh up {} {index} failed (see {}/containerd.log)", dir.display(), dir.display());
        let sock = String::from_utf8_lossy(&out.stdout).trim().lines().last().unwrap_or_default().to_string();
        assert!(sock.ends_with(".sock"), "ci/containerd.sh printed no socket: {sock:?}");
        Containerd { dir: dir.to_path_buf(), sock, index, _lock: lock }
    }

    pub fn endpoint(&self) -> String {
        format!("unix://{}", self.sock)
    }

    /// `ctr -n k8s.io containers ls`: (id, image) of every container, sandboxes included.
    pub fn containers(&self) -> Vec<(String, String)> {
        let out = Command::new("ctr").args(["--address", &self.sock, "-n", "k8s.io", "containers", "ls"]).output().expect("running ctr");
        assert!(out.status.success(), "ctr containers ls: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .skip(1)
            .filter_map(|l| {
                let mut w = l.split_whitespace();
                Some((w.next()?.to_string(), w.next()?.to_string()))
            })
            .collect()
    }
}

impl Drop for Containerd {
    fn drop(&mut self) {
        let _ = Command::new("bash").arg(repo_root().join("ci/containerd.sh")).arg("down").arg(&self.dir).status();
    }
}

/// One HTTP/1.0 GET to `addr` (a pod IP and port); the response body.
pub fn http_get(addr: &str, path: &str) -> Result<String, String> {
    use std::io::{Read, Write};
    let sa: std::net::SocketAddr = addr.parse().map_err(|e| format!("{addr}: {e}"))?;
    let mut s = std::net::TcpStream::connect_timeout(&sa, Duration::from_secs(2)).map_err(|e| format!("connecting to {addr}: {e}"))?;
    s.set_read_timeout(Some(Duration::from_secs(5))).map_err(|e| e.to_string())?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").map_err(|e| e.to_string())?;
    let mut resp = String::new();
    s.read_to_string(&mut resp).map_err(|e| e.to_string())?;
    let (head, body) = resp.split_once("\r\n\r\n").ok_or_else(|| format!("no HTTP response from {addr}: {resp:?}"))?;
    if !head.starts_with("HTTP/1.") || !head.split_whitespace().nth(1).is_some_and(|c| c == "200") {
        return Err(format!("{addr}{path}: {}", head.lines().next().unwrap_or_default()));
    }
    Ok(body.to_string())
}
