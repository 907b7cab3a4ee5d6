//! apiserver: the Kubernetes REST API over HTTP/1.1 and HTTP/2.
//!
//! - `registry`: every write, through `podcore::admission`, onto the store;
//!   feeds the watch caches synchronously after each commit.
//! - `http`: routing, decoding, responses, watch streams.
//! - `discovery`, `table`: what kubectl needs to find and print resources.
//! - `openapi`: the OpenAPI v3 documents kubectl's validation reads.
//! - `metrics`: `/metrics`, requests counted by client, verb and resource.
//! - `inflight`: the in-flight limits, 429 with Retry-After beyond them.
//! - `audit`: one JSON line per write, as upstream's Metadata level.
//! - `requestinfo`: what a request is about, read from its URL alone.

pub mod audit;
pub mod decode;
pub mod discovery;
pub mod http;
pub mod inflight;
pub mod metrics;
pub mod openapi;
pub mod registry;
pub mod requestinfo;
pub mod table;

use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

pub use registry::{Mode, Registry};

/// Where the API is served unless `--listen` says otherwise.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:6443";

#[derive(Clone, Debug)]
pub struct Config {
    pub listen: SocketAddr,
    /// Events kept per resource in the watch cache.
    pub window_events: usize,
    /// tolerationSeconds added to pods for not-ready/unreachable (upstream 300).
    pub default_toleration_seconds: i64,
    pub serving: Serving,
}

/// How requests are served, whatever the store.
#[derive(Clone, Debug)]
pub struct Serving {
    pub bookmark_interval: Duration,
    /// Read-only requests served at once (0: no limit).
    pub max_requests_inflight: usize,
    /// Mutating requests served at once (0: no limit).
    pub max_mutating_requests_inflight: usize,
    /// Where each write is audited (`--audit-log-path`); None: not audited.
    pub audit_log_path: Option<std::path::PathBuf>,
}

impl Default for Serving {
    fn default() -> Self {
        Serving {
            bookmark_interval: Duration::from_secs(5),
            max_requests_inflight: inflight::DEFAULT_MAX_REQUESTS_INFLIGHT,
            max_mutating_requests_inflight: inflight::DEFAULT_MAX_MUTATING_REQUESTS_INFLIGHT,
            audit_log_path: None,
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: DEFAULT_LISTEN.parse().expect("DEFAULT_LISTEN is an address"),
            window_events: watchcache::DEFAULT_WINDOW_EVENTS,
            default_toleration_seconds: podcore::defaults::DEFAULT_NOT_READY_TOLERATION_SECONDS,
            serving: Serving::default(),
        }
    }
}

/// Binds, bootstraps the default namespaces, and serves until the runtime stops.
pub async fn serve(cfg: Config, store: Arc<dyn podstore::Store>) -> Result<(), String> {
    let registry = Registry::open(store, cfg.window_events, cfg.default_toleration_seconds)?;
    {
        let r = registry.clone();
        tokio::task::spawn_blocking(move || r.bootstrap()).await.map_err(|e| e.to_string())?.map_err(|e| e.to_string())?;
    }
    let listener = tokio::net::TcpListener::bind(cfg.listen).await.map_err(|e| format!("binding {}: {e}", cfg.listen))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    serve_on(listener, registry, addr.to_string(), cfg.serving).await
}

/// Serves on an already bound listener.
pub async fn serve_on(listener: tokio::net::TcpListener, registry: Arc<Registry>, address: String, serving: Serving) -> Result<(), String> {
    let inflight = inflight::InFlight::new(serving.max_requests_inflight, serving.max_mutating_requests_inflight);
    let audit = serving.audit_log_path.as_deref().map(audit::Audit::open).transpose()?;
    let ctx = Arc::new(http::Ctx { registry: registry.clone(), metrics: Default::default(), inflight, audit, address, bookmark_interval: serving.bookmark_interval });
    // Upstream's namespace controller, reduced: finish terminating namespaces.
    let r = registry.clone();
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(Duration::from_secs(1)).await;
            let r = r.clone();
            let _ = tokio::task::spawn_blocking(move || r.finish_namespaces()).await;
        }
    });
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(s) => s,
            Err(e) => {
                eprintln!("apiserver: accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let ctx = ctx.clone();
        tokio::spawn(async move {
            let svc = service_fn(move |req| http::handle(ctx.clone(), peer, req));
            let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new()).serve_connection(TokioIo::new(stream), svc).await;
        });
    }
}
