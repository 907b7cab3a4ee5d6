//! The process harness the benchmark and the end-to-end tests share: start
//! `podchain` components and other programs as child processes with their
//! output in a log file, on free loopback ports; wait for a condition with a
//! deadline (polling, never a blind sleep); kill everything on drop; and
//! containerd instances of our own through `ci/containerd.sh`.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

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

/// How to start one child process.
#[derive(Clone, Debug)]
pub struct Spawn {
    pub program: PathBuf,
    pub name: String,
    pub args: Vec<String>,
    pub log_dir: PathBuf,
    pub env: Vec<(String, String)>,
}

/// A child process, killed when dropped; its output goes to `log`.
pub struct Proc {
    pub name: String,
    pub child: Option<Child>,
    pub log: PathBuf,
    spawn: Spawn,
}

impl Proc {
    pub fn spawn(spawn: Spawn) -> Result<Proc, String> {
        let log = spawn.log_dir.join(format!("{}.log", spawn.name));
        let mut p = Proc { name: spawn.name.clone(), child: None, log, spawn };
        p.restart()?;
        Ok(p)
    }

    pub fn restart(&mut self) -> Result<(), String> {
        if self.child.is_some() {
            return Err(format!("{} is still running", self.name));
        }
        let out = std::fs::OpenOptions::new().create(true).append(true).open(&self.log).map_err(|e| format!("{}: {e}", self.log.display()))?;
        let err = out.try_clone().map_err(|e| e.to_string())?;
        let mut cmd = Command::new(&self.spawn.program);
        cmd.args(&self.spawn.args).stdout(Stdio::from(out)).stderr(Stdio::from(err));
        // Tracing is on only where the spawner asks for it (the tests); a
        // benchmark's children never inherit it.
        cmd.env_remove(client::trace::TRACE_DIR_ENV);
        for (k, v) in &self.spawn.env {
            cmd.env(k, v);
        }
        self.child = Some(cmd.spawn().map_err(|e| format!("starting {} ({}): {e}", self.name, self.spawn.program.display()))?);
        Ok(())
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// SIGKILL: no chance to flush or clean up.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    pub fn signal(&self, sig: &str) -> Result<(), String> {
        let Some(c) = &self.child else { return Ok(()) };
        let ok = Command::new("kill").args([&format!("-{sig}"), &c.id().to_string()]).status().map(|s| s.success()).unwrap_or(false);
        if ok {
            Ok(())
        } else {
            Err(format!("kill -{sig} {} failed", self.name))
        }
    }

    /// Whether it has exited (and how).
    pub fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.child.as_mut().and_then(|c| c.try_wait().ok().flatten())
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

/// Polls `check` until it returns Ok, or fails after `timeout` with `what`
/// and the last observation.
pub async fn wait_for<T, F, Fut>(what: &str, timeout: Duration, mut check: F) -> Result<T, String>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, String>>,
{
    let start = Instant::now();
    loop {
        let last = match check().await {
            Ok(v) => return Ok(v),
            Err(e) => e,
        };
        if start.elapsed() > timeout {
            return Err(format!("timed out after {timeout:?} waiting for {what}; last observation: {last}"));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits until an apiserver answers `/version`.
pub async fn wait_healthy(url: &str, timeout: Duration) -> Result<(), String> {
    let c = client::Client::new(url, None, "podchain-harness");
    wait_for(&format!("{url}/version"), timeout, || {
        let c = c.clone();
        async move { c.request(client::Method::GET, "/version", None).await.map(|_| ()).map_err(|e| e.to_string()) }
    })
    .await
}

/// Pod subnets 10.88.<index>.0/24 the tests and the benchmark may use (the main job uses 1).
pub const TEST_NETWORK_INDICES: std::ops::RangeInclusive<u32> = 10..=250;

/// A containerd instance of our own (its own root, state, socket, bridge and
/// pod subnet), started with `ci/containerd.sh` and stopped on drop, with
/// every container it ran.
pub struct Containerd {
    pub dir: PathBuf,
    pub sock: String,
    pub index: u32,
    script: PathBuf,
    _lock: std::fs::File,
}

impl Containerd {
    /// `repo`: the checkout, for `ci/containerd.sh`. Needs root.
    pub fn start(repo: &Path, dir: &Path) -> Result<Containerd, String> {
        // Each instance needs a bridge and subnet no other running test uses:
        // hold a lock file per network index for the instance's life.
        let locks = Path::new("/run/podchain-test");
        std::fs::create_dir_all(locks).map_err(|e| format!("creating {} (containerd needs root): {e}", locks.display()))?;
        let (index, lock) = TEST_NETWORK_INDICES
            .clone()
            .find_map(|i| {
                let f = std::fs::OpenOptions::new().create(true).truncate(false).write(true).open(locks.join(format!("net-{i}.lock"))).ok()?;
                f.try_lock().ok()?;
                Some((i, f))
            })
            .ok_or("no free network index for a containerd instance")?;
        let script = repo.join("ci/containerd.sh");
        let out = Command::new("bash").arg(&script).arg("up").arg(dir).arg(index.to_string()).stderr(Stdio::inherit()).output().map_err(|e| format!("running {}: {e}", script.display()))?;
        if !out.status.success() {
            return Err(format!("ci/containerd.sh up {} {index} failed (see {}/containerd.log)", dir.display(), dir.display()));
        }
        let sock = String::from_utf8_lossy(&out.stdout).trim().lines().last().unwrap_or_default().to_string();
        if !sock.ends_with(".sock") {
            return Err(format!("ci/containerd.sh printed no socket: {sock:?}"));
        }
        Ok(Containerd { dir: dir.to_path_buf(), sock, index, script, _lock: lock })
    }

    pub fn endpoint(&self) -> String {
        format!("unix://{}", self.sock)
    }

    /// `ctr -n k8s.io containers ls`: (id, image) of every container, sandboxes included.
    pub fn containers(&self) -> Result<Vec<(String, String)>, String> {
        let out = Command::new("ctr").args(["--address", &self.sock, "-n", "k8s.io", "containers", "ls"]).output().map_err(|e| format!("running ctr: {e}"))?;
        if !out.status.success() {
            return Err(format!("ctr containers ls: {}", String::from_utf8_lossy(&out.stderr)));
        }
        Ok(String::from_utf8_lossy(&out.stdout)
            .lines()
            .skip(1)
            .filter_map(|l| {
                let mut w = l.split_whitespace();
                Some((w.next()?.to_string(), w.next()?.to_string()))
            })
            .collect())
    }
}

impl Drop for Containerd {
    fn drop(&mut self) {
        let _ = Command::new("bash").arg(&self.script).arg("down").arg(&self.dir).status();
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

/// A process's resident and proportional set sizes in bytes (`/proc`).
pub fn memory_of(pid: u32) -> Result<(u64, Option<u64>), String> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).map_err(|e| format!("reading /proc/{pid}/status: {e}"))?;
    let kib = |text: &str, key: &str| text.lines().find(|l| l.starts_with(key)).and_then(|l| l.split_whitespace().nth(1)).and_then(|v| v.parse::<u64>().ok()).map(|k| k * 1024);
    let rss = kib(&status, "VmRSS:").ok_or_else(|| format!("no VmRSS for pid {pid}"))?;
    let pss = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).ok().and_then(|t| kib(&t, "Pss:"));
    Ok((rss, pss))
}

/// The peak resident set of this process (VmHWM), in bytes; 0 where /proc has none.
pub fn peak_rss_of_self() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|t| t.lines().find(|l| l.starts_with("VmHWM:")).and_then(|l| l.split_whitespace().nth(1)).and_then(|v| v.parse::<u64>().ok()))
        .map_or(0, |k| k * 1024)
}
