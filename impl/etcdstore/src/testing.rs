//! Real etcd members for tests and the benchmark: Debian's `etcd`
//! (etcd-server) on loopback, each with its own data directory and log,
//! killed when dropped. Used by this crate's conformance test, the
//! apiserver's tests on etcd and the HA tests.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long members may take to elect a leader and answer.
pub const START_TIMEOUT: Duration = Duration::from_secs(30);

/// A free loopback port (the kernel's choice, released for the caller).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("a free loopback port")
}

struct Member {
    name: String,
    client: String,
    peer: String,
    data: PathBuf,
    log: PathBuf,
    child: Option<Child>,
}

/// One etcd cluster of one or more members.
pub struct Cluster {
    members: Vec<Member>,
    initial_cluster: String,
    extra: Vec<String>,
}

impl Cluster {
    /// Starts `n` members under `dir` and waits until the cluster answers a
    /// linearizable read.
    pub fn start(dir: &Path, n: usize) -> Result<Cluster, String> {
        Cluster::start_with_args(dir, n, &[])
    }

    /// `start`, with more flags for every member (a later flag overrides an
    /// earlier one: `--max-request-bytes 1048576` lowers the limit).
    pub fn start_with_args(dir: &Path, n: usize, extra: &[&str]) -> Result<Cluster, String> {
        let members: Vec<Member> = (0..n)
            .map(|i| Member {
                name: format!("m{i}"),
                client: format!("127.0.0.1:{}", free_port()),
                peer: format!("127.0.0.1:{}", free_port()),
                data: dir.join(format!("etcd-m{i}")),
                log: dir.join(format!("etcd-m{i}.log")),
                child: None,
            })
            .collect();
        let initial_cluster = members.iter().map(|m| format!("{}=http://{}", m.name, m.peer)).collect::<Vec<_>>().join(",");
        let mut c = Cluster { members, initial_cluster, extra: extra.iter().map(|s| s.to_string()).collect() };
        for i in 0..n {
            c.spawn(i)?;
        }
        c.wait_ready()?;
        Ok(c)
    }

    fn spawn(&mut self, i: usize) -> Result<(), String> {
        let ic = self.initial_cluster.clone();
        let extra = self.extra.clone();
        let m = &mut self.members[i];
        let log = std::fs::OpenOptions::new().create(true).append(true).open(&m.log).map_err(|e| format!("{}: {e}", m.log.display()))?;
        let err = log.try_clone().map_err(|e| e.to_string())?;
        let (c, p) = (format!("http://{}", m.client), format!("http://{}", m.peer));
        let max_request = crate::MIN_ETCD_REQUEST_BYTES.to_string();
        let args = [
            "--name", &m.name, "--data-dir", &m.data.display().to_string(), "--listen-client-urls", &c, "--advertise-client-urls", &c,
            "--listen-peer-urls", &p, "--initial-advertise-peer-urls", &p, "--initial-cluster", &ic, "--initial-cluster-state", "new",
            "--max-request-bytes", &max_request,
        ]
        .map(|s| s.to_string());
        let child = Command::new("etcd")
            .args(args)
            .args(extra)
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(err)
            .spawn()
            .map_err(|e| format!("starting etcd (Debian's etcd-server; ci/install.sh installs it): {e}"))?;
        m.child = Some(child);
        Ok(())
    }

    /// `HOST:PORT` of every member's client URL.
    pub fn endpoints(&self) -> Vec<String> {
        self.members.iter().map(|m| m.client.clone()).collect()
    }

    /// The `--store` flag's value for this cluster.
    pub fn url(&self) -> String {
        format!("etcd://{}", self.endpoints().join(","))
    }

    /// Kills member `i` (SIGKILL) and waits for it to be gone.
    pub fn kill(&mut self, i: usize) {
        if let Some(mut c) = self.members[i].child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Starts member `i` again on its data directory.
    pub fn restart(&mut self, i: usize) -> Result<(), String> {
        self.kill(i);
        self.spawn(i)
    }

    /// The last lines of every member's log, for a failure's message.
    pub fn log_tail(&self) -> String {
        let mut out = String::new();
        for m in &self.members {
            let text = std::fs::read_to_string(&m.log).unwrap_or_default();
            let lines: Vec<&str> = text.lines().collect();
            out.push_str(&format!("--- {} ({})\n{}\n", m.name, m.log.display(), lines[lines.len().saturating_sub(20)..].join("\n")));
        }
        out
    }

    fn wait_ready(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + START_TIMEOUT;
        let mut last = String::new();
        while Instant::now() < deadline {
            for (i, m) in self.members.iter_mut().enumerate() {
                if let Some(Ok(Some(status))) = m.child.as_mut().map(|c| c.try_wait()) {
                    return Err(format!("etcd member {i} exited ({status}) while starting\n{}", std::fs::read_to_string(&m.log).unwrap_or_default()));
                }
            }
            match crate::Etcd::connect(crate::Options::new(self.endpoints())) {
                Ok(_) => return Ok(()),
                Err(e) => last = e.to_string(),
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Err(format!("etcd did not answer within {START_TIMEOUT:?}: {last}\n{}", self.log_tail()))
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for i in 0..self.members.len() {
            self.kill(i);
        }
    }
}
