//! The load generator: writers in a closed loop (each sends its next request
//! when the last is answered), a writer at a fixed rate, and a trivial HTTP
//! endpoint in this process that shows the generator's own ceiling.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What a run of writers did.
#[derive(Clone, Debug, Default)]
pub struct LoadResult {
    pub ops: usize,
    pub errors: usize,
    pub first_error: Option<String>,
    pub seconds: f64,
    /// Each successful operation's latency, milliseconds.
    pub latencies_ms: Vec<f64>,
}

impl LoadResult {
    pub fn per_second(&self) -> f64 {
        self.ops as f64 / self.seconds.max(1e-9)
    }
}

/// `writers` tasks, each calling `op(writer, n)` for its n-th operation
/// until `duration` is over. Only successful operations count.
pub async fn closed_loop<F, Fut>(writers: usize, duration: Duration, op: F) -> LoadResult
where
    F: Fn(usize, usize) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), String>> + Send,
{
    let op = Arc::new(op);
    let started = Instant::now();
    let deadline = started + duration;
    let mut tasks = tokio::task::JoinSet::new();
    for w in 0..writers {
        let op = op.clone();
        tasks.spawn(async move {
            let mut r = LoadResult::default();
            let mut n = 0;
            while Instant::now() < deadline {
                let t = Instant::now();
                match op(w, n).await {
                    Ok(()) => {
                        r.ops += 1;
                        r.latencies_ms.push(t.elapsed().as_secs_f64() * 1e3);
                    }
                    Err(e) => {
                        r.errors += 1;
                        r.first_error.get_or_insert(e);
                    }
                }
                n += 1;
            }
            r
        });
    }
    let mut total = LoadResult::default();
    while let Some(Ok(r)) = tasks.join_next().await {
        total.ops += r.ops;
        total.errors += r.errors;
        if total.first_error.is_none() {
            total.first_error = r.first_error;
        }
        total.latencies_ms.extend(r.latencies_ms);
    }
    total.seconds = started.elapsed().as_secs_f64();
    total
}

/// An HTTP/1.1 endpoint on loopback that reads each request's body and
/// answers `201 {}`: nothing behind it, so the rate the load generator
/// reaches against it is the generator's own ceiling.
pub async fn trivial_endpoint() -> Result<String, String> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.map_err(|e| e.to_string())?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else { continue };
            let _ = stream.set_nodelay(true);
            tokio::spawn(async move {
                let svc = hyper::service::service_fn(|req: hyper::Request<hyper::body::Incoming>| async move {
                    let _ = req.into_body().collect().await;
                    Ok::<_, std::convert::Infallible>(hyper::Response::builder().status(201).header("Content-Type", "application/json").body(Full::new(Bytes::from_static(b"{}"))).expect("a response"))
                });
                let _ = hyper_util::server::conn::auto::Builder::new(hyper_util::rt::TokioExecutor::new()).serve_connection(hyper_util::rt::TokioIo::new(stream), svc).await;
            });
        }
    });
    Ok(format!("http://{addr}"))
}

/// The data directory's floor: appends of `record` bytes, each followed by
/// fdatasync, for `duration`; operations per second. What a store that syncs
/// every write alone can reach at best on this disk.
pub fn fdatasync_floor(dir: &std::path::Path, record: usize, duration: Duration) -> Result<(f64, Vec<f64>), String> {
    use std::io::Write;
    let path = dir.join("fdatasync-floor.bin");
    let mut f = std::fs::OpenOptions::new().create(true).write(true).truncate(true).open(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let buf = vec![0x5au8; record];
    let started = Instant::now();
    let mut lat = Vec::new();
    while started.elapsed() < duration {
        let t = Instant::now();
        f.write_all(&buf).and_then(|_| f.sync_data()).map_err(|e| e.to_string())?;
        lat.push(t.elapsed().as_secs_f64() * 1e3);
    }
    let rate = lat.len() as f64 / started.elapsed().as_secs_f64();
    drop(f);
    let _ = std::fs::remove_file(&path);
    Ok((rate, lat))
}
