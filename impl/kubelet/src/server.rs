//! The kubelet's own HTTP endpoint: `/healthz`, `/pods` (what the runtime
//! holds), and `POST /sim/exit?namespace=&pod=&container=&code=` (simulated
//! runtime only: make a container exit, for tests).

use crate::runtime::Runtime;
use bytes::Bytes;
use http_body_util::Full;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioExecutor, TokioIo};
use serde_json::json;
use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

fn reply(code: StatusCode, body: String) -> Response<Full<Bytes>> {
    Response::builder().status(code).header("Content-Type", "application/json").body(Full::new(Bytes::from(body))).expect("valid response")
}

async fn handle<R: Runtime>(rt: Arc<R>, req: Request<hyper::body::Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let q: HashMap<String, String> = form_urlencoded::parse(req.uri().query().unwrap_or("").as_bytes()).into_owned().collect();
    Ok(match (req.method(), req.uri().path()) {
        (&Method::GET, "/healthz") => reply(StatusCode::OK, "\"ok\"".into()),
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

pub async fn spawn<R: Runtime>(addr: SocketAddr, rt: Arc<R>) -> Result<(), String> {
    let listener = tokio::net::TcpListener::bind(addr).await.map_err(|e| format!("kubelet: binding {addr}: {e}"))?;
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else { continue };
            let rt = rt.clone();
            tokio::spawn(async move {
                let svc = service_fn(move |req| handle(rt.clone(), req));
                let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new()).serve_connection(TokioIo::new(stream), svc).await;
            });
        }
    });
    Ok(())
}
