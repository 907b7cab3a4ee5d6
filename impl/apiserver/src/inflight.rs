//! Overload protection: upstream's max-in-flight filter. At most
//! `max_requests_inflight` read-only and `max_mutating_requests_inflight`
//! mutating requests are served at once; one more is answered 429 Too Many
//! Requests with `Retry-After` before its body is read, so a flood of
//! clients costs the server a refusal each, never a request body each.
//! Long-running requests (watches and the `log`, `exec`, `attach`,
//! `portforward` and `proxy` subresources) and health checks are exempt,
//! as upstream: a watch holds its place for minutes and would starve every
//! short request. A request holds its place until its response body is
//! dropped (sent, or its connection gone), so a slow reader of a large list
//! holds one too.
//!
//! Upstream answers the 429 in plain text; podchain answers a
//! `metav1.Status` (reason `TooManyRequests`, `details.retryAfterSeconds`),
//! which client-go reads the same way.

use bytes::Bytes;
use hyper::body::{Body, Frame};
use hyper::Method;
use podcore::status::{ApiError, StatusDetails};
use std::convert::Infallible;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

/// Read-only requests served at once unless `--max-requests-inflight` says
/// otherwise (upstream's default).
pub const DEFAULT_MAX_REQUESTS_INFLIGHT: usize = 400;
/// Mutating requests served at once unless
/// `--max-mutating-requests-inflight` says otherwise (upstream's default).
pub const DEFAULT_MAX_MUTATING_REQUESTS_INFLIGHT: usize = 200;
/// The `Retry-After` a refused request is given, in seconds (upstream's).
pub const RETRY_AFTER_SECONDS: i32 = 1;

/// What the filter counts a request as.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Class {
    /// Not counted: long-running, or a health check.
    Exempt,
    ReadOnly,
    Mutating,
}

/// How a request is counted, from what its method and URL say (read once
/// per request, before routing and before the body: `request_info`).
pub fn classify(method: &Method, path: &str, info: &crate::requestinfo::RequestInfo) -> Class {
    if !info.is_resource && matches!(path.split('/').find(|s| !s.is_empty()), Some("healthz" | "livez" | "readyz")) {
        return Class::Exempt;
    }
    if info.long_running() {
        return Class::Exempt;
    }
    match *method {
        Method::GET | Method::HEAD | Method::OPTIONS => Class::ReadOnly,
        _ => Class::Mutating,
    }
}

/// One limit and the requests holding a place under it.
#[derive(Debug)]
pub struct Gate {
    /// 0: no limit (as upstream's flags).
    limit: usize,
    held: AtomicUsize,
    refused: AtomicU64,
}

impl Gate {
    fn new(limit: usize) -> Gate {
        Gate { limit, held: AtomicUsize::new(0), refused: AtomicU64::new(0) }
    }

    /// A place, or None when `limit` are held.
    fn enter(self: &Arc<Self>) -> Option<Ticket> {
        let mut now = self.held.load(Ordering::Relaxed);
        loop {
            if self.limit != 0 && now >= self.limit {
                self.refused.fetch_add(1, Ordering::Relaxed);
                return None;
            }
            match self.held.compare_exchange_weak(now, now + 1, Ordering::AcqRel, Ordering::Relaxed) {
                Ok(_) => return Some(Ticket(Some(self.clone()))),
                Err(seen) => now = seen,
            }
        }
    }

    pub fn held(&self) -> usize {
        self.held.load(Ordering::Relaxed)
    }

    pub fn refused(&self) -> u64 {
        self.refused.load(Ordering::Relaxed)
    }
}

/// A request's place; given back when dropped.
#[derive(Debug)]
pub struct Ticket(Option<Arc<Gate>>);

impl Ticket {
    /// No place held (an exempt request).
    pub fn exempt() -> Ticket {
        Ticket(None)
    }

    /// Whether it holds a place (an exempt request's does not).
    pub fn holds(&self) -> bool {
        self.0.is_some()
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        if let Some(g) = &self.0 {
            g.held.fetch_sub(1, Ordering::AcqRel);
        }
    }
}

/// The two limits.
#[derive(Debug)]
pub struct InFlight {
    pub read_only: Arc<Gate>,
    pub mutating: Arc<Gate>,
}

impl InFlight {
    pub fn new(max_requests_inflight: usize, max_mutating_requests_inflight: usize) -> InFlight {
        InFlight { read_only: Arc::new(Gate::new(max_requests_inflight)), mutating: Arc::new(Gate::new(max_mutating_requests_inflight)) }
    }

    /// The request's place, or the 429 that refuses it.
    pub fn admit(&self, class: Class) -> Result<Ticket, ApiError> {
        let gate = match class {
            Class::Exempt => return Ok(Ticket::exempt()),
            Class::ReadOnly => &self.read_only,
            Class::Mutating => &self.mutating,
        };
        gate.enter().ok_or_else(too_many_requests)
    }

    /// Upstream's gauges of the places held, and the refusals counted, in
    /// Prometheus' text format.
    pub fn render(&self, out: &mut String) {
        use std::fmt::Write;
        let kinds = [("readOnly", &self.read_only), ("mutating", &self.mutating)];
        out.push_str("# HELP apiserver_current_inflight_requests Requests being served, by kind, under the in-flight limits.\n# TYPE apiserver_current_inflight_requests gauge\n");
        for (k, g) in kinds {
            let _ = writeln!(out, "apiserver_current_inflight_requests{{request_kind=\"{k}\"}} {}", g.held());
        }
        out.push_str("# HELP apiserver_dropped_requests_total Requests refused with 429 by the in-flight limits, by kind.\n# TYPE apiserver_dropped_requests_total counter\n");
        for (k, g) in kinds {
            let _ = writeln!(out, "apiserver_dropped_requests_total{{request_kind=\"{k}\"}} {}", g.refused());
        }
    }
}

impl Default for InFlight {
    fn default() -> Self {
        InFlight::new(DEFAULT_MAX_REQUESTS_INFLIGHT, DEFAULT_MAX_MUTATING_REQUESTS_INFLIGHT)
    }
}

/// The refusal: 429, reason TooManyRequests, with the seconds to wait.
pub fn too_many_requests() -> ApiError {
    let mut e = ApiError::new(429, "TooManyRequests", "Too many requests, please try again later.".to_string());
    e.details = Some(StatusDetails { retry_after_seconds: Some(RETRY_AFTER_SECONDS), ..Default::default() });
    e
}

/// A response body that holds its request's place until it is dropped.
pub struct Held<B> {
    body: B,
    _ticket: Ticket,
}

impl<B> Held<B> {
    pub fn new(body: B, ticket: Ticket) -> Held<B> {
        Held { body, _ticket: ticket }
    }
}

impl<B: Body<Data = Bytes, Error = Infallible> + Unpin> Body for Held<B> {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        self.body.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn watches_logs_and_health_checks_are_exempt_and_the_rest_counted_by_method() {
        let cases = [
            (Method::GET, "/api/v1/namespaces/default/pods", Some("watch=true"), Class::Exempt),
            (Method::GET, "/apis/apps/v1/deployments", Some("watch=1&resourceVersion=5"), Class::Exempt),
            (Method::GET, "/api/v1/namespaces/default/pods/web-1/log", Some("follow=true"), Class::Exempt),
            (Method::POST, "/api/v1/namespaces/default/pods/web-1/exec", None, Class::Exempt),
            (Method::GET, "/api/v1/namespaces/default/pods/web-1/portforward", None, Class::Exempt),
            (Method::GET, "/livez", None, Class::Exempt),
            (Method::GET, "/readyz/etcd", None, Class::Exempt),
            // A pod named like a subresource is an object, not a subresource.
            (Method::GET, "/api/v1/namespaces/default/pods/log", None, Class::ReadOnly),
            (Method::GET, "/api/v1/namespaces/default/pods", Some("watch=false"), Class::ReadOnly),
            (Method::GET, "/api/v1/namespaces/default/pods/web-1/status", None, Class::ReadOnly),
            (Method::GET, "/metrics", None, Class::ReadOnly),
            (Method::POST, "/api/v1/namespaces/default/pods", Some("watch=true"), Class::Mutating),
            (Method::PUT, "/api/v1/namespaces/default/pods/web-1/status", None, Class::Mutating),
            (Method::PATCH, "/apis/apps/v1/namespaces/default/deployments/web/scale", None, Class::Mutating),
            (Method::DELETE, "/api/v1/namespaces/x", None, Class::Mutating),
        ];
        for (m, path, q, want) in cases {
            let info = crate::requestinfo::request_info(&m, path, q);
            assert_eq!(classify(&m, path, &info), want, "{m} {path}?{}", q.unwrap_or(""));
        }
    }

    #[test]
    fn at_the_default_limits_one_more_is_refused_until_one_place_is_given_back() {
        let f = InFlight::default();
        for (class, limit, other) in [(Class::Mutating, DEFAULT_MAX_MUTATING_REQUESTS_INFLIGHT, Class::ReadOnly), (Class::ReadOnly, DEFAULT_MAX_REQUESTS_INFLIGHT, Class::Mutating)] {
            let mut held: Vec<Ticket> = (0..limit).map(|_| f.admit(class).expect("under the limit")).collect();
            let e = f.admit(class).expect_err("one over the limit");
            assert_eq!((e.code, e.reason), (429, "TooManyRequests"));
            assert_eq!(e.details.as_ref().and_then(|d| d.retry_after_seconds), Some(RETRY_AFTER_SECONDS));
            // The other limit and the exempt are untouched.
            drop(f.admit(other).expect("the other limit has room"));
            let _watch = f.admit(Class::Exempt).expect("exempt");
            held.pop();
            held.push(f.admit(class).expect("a place given back is taken again"));
            assert!(f.admit(class).is_err());
            drop(held);
        }
        assert_eq!((f.read_only.held(), f.mutating.held()), (0, 0));
        assert_eq!((f.read_only.refused(), f.mutating.refused()), (2, 2));
    }

    #[test]
    fn a_limit_of_zero_is_no_limit() {
        let f = InFlight::new(0, 0);
        let held: Vec<Ticket> = (0..10 * DEFAULT_MAX_REQUESTS_INFLIGHT).map(|_| f.admit(Class::Mutating).expect("no limit")).collect();
        assert_eq!(f.mutating.held(), held.len());
    }

    #[test]
    fn a_response_body_holds_its_place_until_dropped() {
        let f = InFlight::new(1, 1);
        let body = Held::new(http_body_util::Full::new(Bytes::from_static(b"x")), f.admit(Class::ReadOnly).unwrap());
        assert!(f.admit(Class::ReadOnly).is_err(), "the body still holds the place");
        drop(body);
        assert!(f.admit(Class::ReadOnly).is_ok());
    }
}
