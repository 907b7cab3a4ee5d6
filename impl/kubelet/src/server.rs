//! The kubelet's own HTTP endpoint: `/healthz`, `/pods` (what the runtime
//! holds), `/containerLogs/NS/POD/CONTAINER` (follow, tailLines, timestamps,
//! previous, limitBytes; the apiserver's `pods/log` proxies here),
//! `/stats/runtime` (each pod's start-up time in the runtime, `timings`), and
//! `POST /sim/exit?namespace=&pod=&container=&code=` (simulated runtime only:
//! make a container exit, for tests).

use crate::runtime::Runtime;
use crate::timings::RuntimeTimings;
use bytes::Bytes;
use http_body_util::{combinators::BoxBody, BodyExt, Full};
use hyper::body::{Body, Frame};
use podcore::controller::runtimespec::{render_log, tail_lines};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::sync::mpsc;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioExecutor, TokioIo};
use serde_json::json;
use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

/// How often a followed log is checked for new lines.
pub const LOG_FOLLOW_POLL: Duration = Duration::from_millis(100);
/// Longest tailLines / limitBytes honoured.
pub const MAX_LOG_BYTES: usize = 64 << 20;

type RespBody = BoxBody<Bytes, Infallible>;

fn reply(code: StatusCode, body: String) -> Response<RespBody> {
    Response::builder().status(code).header("Content-Type", "application/json").body(Full::new(Bytes::from(body)).boxed()).expect("valid response")
}

struct ChannelBody {
    rx: mpsc::Receiver<Bytes>,
}

impl Body for ChannelBody {
    type Data = Bytes;
    type Error = Infallible;
    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        self.rx.poll_recv(cx).map(|b| b.map(|b| Ok(Frame::data(b))))
    }
}

fn flag(q: &HashMap<String, String>, k: &str) -> bool {
    q.get(k).is_some_and(|v| v == "true" || v == "1")
}

/// `tailLines` and `limitBytes`, each honoured up to `MAX_LOG_BYTES`.
fn log_bounds(q: &HashMap<String, String>) -> Result<(Option<usize>, Option<usize>), String> {
    let num = |k: &str| -> Result<Option<usize>, String> {
        q.get(k).map(|v| v.parse::<usize>().map(|n| n.min(MAX_LOG_BYTES)).map_err(|_| format!("{k}: expected a non-negative integer, got {v:?}"))).transpose()
    };
    Ok((num("tailLines")?, num("limitBytes")?))
}

/// Complete CRI records in `buf`; the unfinished tail stays for the next read.
fn take_records(buf: &mut Vec<u8>) -> Vec<u8> {
    match buf.iter().rposition(|b| *b == b'\n') {
        Some(i) => buf.drain(..=i).collect(),
        None => Vec::new(),
    }
}

async fn container_logs<R: Runtime>(rt: Arc<R>, ns: &str, pod: &str, container: &str, q: &HashMap<String, String>) -> Response<RespBody> {
    let (follow, timestamps, previous) = (flag(q, "follow"), flag(q, "timestamps"), flag(q, "previous"));
    let (tail, limit) = match log_bounds(q) {
        Ok(b) => b,
        Err(e) => return reply(StatusCode::BAD_REQUEST, json!({"error": e}).to_string()),
    };
    let log = match rt.container_log(ns, pod, container, previous).await {
        Ok(l) => l,
        Err(e) => return reply(StatusCode::BAD_REQUEST, json!({"error": e}).to_string()),
    };
    let mut pending = tokio::fs::read(&log.path).await.unwrap_or_default();
    let mut offset = pending.len() as u64;
    let records = take_records(&mut pending);
    let rendered = render_log(&records, timestamps);
    let mut first: Vec<u8> = match tail {
        Some(n) => tail_lines(&rendered, n).to_vec(),
        None => rendered,
    };
    if let Some(l) = limit {
        first.truncate(l);
    }
    let plain = |b: RespBody| Response::builder().status(StatusCode::OK).header("Content-Type", "text/plain").body(b).expect("valid response");
    if !follow || previous {
        return plain(Full::new(Bytes::from(first)).boxed());
    }
    let (tx, rx) = mpsc::channel::<Bytes>(16);
    let (ns, pod, container) = (ns.to_string(), pod.to_string(), container.to_string());
    tokio::spawn(async move {
        if !first.is_empty() && tx.send(Bytes::from(first)).await.is_err() {
            return;
        }
        let mut running = log.running;
        let mut checked = tokio::time::Instant::now();
        loop {
            tokio::time::sleep(LOG_FOLLOW_POLL).await;
            let grew = match tokio::fs::File::open(&log.path).await {
                Ok(mut f) => {
                    use tokio::io::{AsyncReadExt, AsyncSeekExt};
                    let mut more = Vec::new();
                    if f.seek(std::io::SeekFrom::Start(offset)).await.is_ok() && f.read_to_end(&mut more).await.is_ok() {
                        offset += more.len() as u64;
                        pending.extend_from_slice(&more);
                        !more.is_empty()
                    } else {
                        false
                    }
                }
                Err(_) => false,
            };
            let out = render_log(&take_records(&mut pending), timestamps);
            if !out.is_empty() && tx.send(Bytes::from(out)).await.is_err() {
                return;
            }
            if tx.is_closed() {
                return;
            }
            // The stream ends once the container has stopped and its log is drained.
            if !grew && checked.elapsed() >= Duration::from_secs(1) {
                checked = tokio::time::Instant::now();
                running = matches!(rt.container_log(&ns, &pod, &container, false).await, Ok(l) if l.running && l.container_id == log.container_id);
            }
            if !grew && !running {
                return;
            }
        }
    });
    plain(ChannelBody { rx }.boxed())
}

async fn handle<R: Runtime>(rt: Arc<R>, timings: Arc<RuntimeTimings>, req: Request<hyper::body::Incoming>) -> Result<Response<RespBody>, Infallible> {
    let q: HashMap<String, String> = form_urlencoded::parse(req.uri().query().unwrap_or("").as_bytes()).into_owned().collect();
    let path = req.uri().path().to_string();
    if let (&Method::GET, Some(rest)) = (req.method(), path.strip_prefix("/containerLogs/")) {
        let parts: Vec<&str> = rest.split('/').collect();
        return Ok(match parts.as_slice() {
            [ns, pod, container] if !ns.is_empty() && !pod.is_empty() && !container.is_empty() => container_logs(rt, ns, pod, container, &q).await,
            _ => reply(StatusCode::NOT_FOUND, json!({"error": "expected /containerLogs/NAMESPACE/POD/CONTAINER"}).to_string()),
        });
    }
    Ok(match (req.method(), path.as_str()) {
        (&Method::GET, "/healthz") => reply(StatusCode::OK, "\"ok\"".into()),
        (&Method::GET, "/stats/runtime") => reply(StatusCode::OK, serde_json::to_string(&timings.snapshot()).unwrap_or_default()),
        (&Method::GET, "/pods") => match rt.observe().await {
            Ok(pods) => {
                let v: Vec<_> = pods
                    .values()
                    .map(|(r, o)| json!({"namespace": r.namespace, "name": r.name, "uid": r.uid, "sandbox": o.sandbox.as_ref().map(|s| json!({"id": s.id, "ip": s.ip, "ready": s.ready})), "containers": o.containers.iter().map(|c| json!({"name": c.name, "id": c.id, "attempt": c.attempt, "state": format!("{:?}", c.state)})).collect::<Vec<_>>()}))
                    .collect();
                reply(StatusCode::OK, serde_json::to_string(&v).unwrap_or_default())
            }
            Err(e) => reply(StatusCode::INTERNAL_SERVER_ERROR, json!({"error": e}).to_string()),
        },
        (&Method::POST, "/sim/exit") => {
            let get = |k: &str| q.get(k).cloned().unwrap_or_default();
            let code: i32 = match get("code").parse() {
                Ok(c) => c,
                Err(_) => return Ok(reply(StatusCode::BAD_REQUEST, json!({"error": "code: expected an integer exit code"}).to_string())),
            };
            match rt.inject_exit(&get("namespace"), &get("pod"), &get("container"), code) {
                Ok(()) => reply(StatusCode::OK, "{}".into()),
                Err(e) => reply(StatusCode::BAD_REQUEST, json!({"error": e}).to_string()),
            }
        }
        _ => reply(StatusCode::NOT_FOUND, json!({"error": "not found"}).to_string()),
    })
}

pub async fn spawn<R: Runtime>(addr: SocketAddr, rt: Arc<R>, timings: Arc<RuntimeTimings>) -> Result<(), String> {
    let listener = tokio::net::TcpListener::bind(addr).await.map_err(|e| format!("kubelet: binding {addr}: {e}"))?;
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else { continue };
            let (rt, timings) = (rt.clone(), timings.clone());
            tokio::spawn(async move {
                let svc = service_fn(move |req| handle(rt.clone(), timings.clone(), req));
                let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new()).serve_connection(TokioIo::new(stream), svc).await;
            });
        }
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_bounds_are_honoured_up_to_max_log_bytes() {
        let q = |k: &str, v: String| HashMap::from([(k.to_string(), v)]);
        assert_eq!(log_bounds(&q("limitBytes", MAX_LOG_BYTES.to_string())).unwrap(), (None, Some(MAX_LOG_BYTES)));
        assert_eq!(log_bounds(&q("limitBytes", (MAX_LOG_BYTES + 1).to_string())).unwrap(), (None, Some(MAX_LOG_BYTES)));
        assert_eq!(log_bounds(&q("tailLines", (MAX_LOG_BYTES + 1).to_string())).unwrap(), (Some(MAX_LOG_BYTES), None));
        assert!(log_bounds(&q("tailLines", "-1".into())).unwrap_err().contains("tailLines"));
        assert_eq!(log_bounds(&HashMap::new()).unwrap(), (None, None));
    }
}
