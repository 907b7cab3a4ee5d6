//! client: what every podchain daemon uses to talk to the apiserver.
//!
//! - `Client`: typed REST calls; errors are the server's `metav1.Status`.
//! - `Client::execute`: turns a core `Effect` into its API call.
//! - `informer`: list + watch + local cache, relisting on 410 or errors.
//! - `kubeconfig`: reads and writes the admin kubeconfig.

pub mod clock;
pub mod informer;
pub mod kubeconfig;
pub mod trace;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
pub use hyper::Method;
use hyper::{Request, StatusCode};
use hyper_util::client::legacy::{connect::HttpConnector, Client as HyperClient};
use hyper_util::rt::TokioExecutor;
use podcore::effect::{DeleteRequest, Effect};
use podcore::object::{Kind, Object};
use podcore::status::{ApiError, Status};
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;

/// Longest a non-watch request may take.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Times a request answered 429 with `Retry-After` is sent again (client-go's
/// default); the answer after the last is the caller's.
pub const MAX_RETRIES_AFTER_429: usize = 10;
/// Longest `Retry-After` waited, whatever the server says.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(10);

/// How long a 429 asks to be waited: its `Retry-After` in seconds, at most
/// `MAX_RETRY_AFTER`; None for any other answer, or one without the header.
fn retry_after(status: StatusCode, headers: &hyper::HeaderMap) -> Option<Duration> {
    if status != StatusCode::TOO_MANY_REQUESTS {
        return None;
    }
    let secs: u64 = headers.get(hyper::header::RETRY_AFTER)?.to_str().ok()?.trim().parse().ok()?;
    Some(Duration::from_secs(secs).min(MAX_RETRY_AFTER))
}

/// The wait before a retry: `Retry-After`, and up to as long again, drawn
/// from `r`. The server refuses all it cannot take at once and gives each
/// the same `Retry-After`; were they all sent again after exactly that
/// long, they would arrive together and most be refused again, round after
/// round. Spread over the second interval, they arrive as the server frees
/// places.
fn jittered(wait: Duration, r: u64) -> Duration {
    let spread = wait.as_nanos() as u64;
    if spread == 0 {
        return wait;
    }
    wait + Duration::from_nanos(r % spread)
}

/// A number no other call gets (std's hasher keys are drawn per instance).
fn random() -> u64 {
    use std::hash::BuildHasher;
    static CALLS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    std::collections::hash_map::RandomState::new().hash_one(CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed))
}

/// Longest line a watch stream may send (one event).
pub const MAX_WATCH_EVENT_BYTES: usize = 16 * 1024 * 1024;

#[derive(Clone)]
pub struct Client {
    http: HyperClient<HttpConnector, Full<Bytes>>,
    /// Every apiserver this client may use (one, or several sharing one etcd).
    servers: Arc<[String]>,
    /// The one in use: a request that cannot connect to it goes to the next.
    current: Arc<std::sync::atomic::AtomicUsize>,
    token: Option<String>,
    user_agent: String,
}

fn transport(e: impl std::fmt::Display) -> ApiError {
    ApiError::new(503, "ServiceUnavailable", format!("the apiserver could not be reached: {e}"))
}

pub fn collection_path(kind: Kind, ns: &str) -> String {
    let i = kind.info();
    let base = if i.group.is_empty() { format!("/api/{}", i.version) } else { format!("/apis/{}/{}", i.group, i.version) };
    if i.namespaced && !ns.is_empty() {
        format!("{base}/namespaces/{ns}/{}", i.plural)
    } else {
        format!("{base}/{}", i.plural)
    }
}

pub fn object_path(kind: Kind, ns: &str, name: &str) -> String {
    format!("{}/{name}", collection_path(kind, ns))
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ListOptions {
    pub label_selector: String,
    pub field_selector: String,
}

impl ListOptions {
    fn query(&self) -> String {
        let mut q = form_urlencoded::Serializer::new(String::new());
        if !self.label_selector.is_empty() {
            q.append_pair("labelSelector", &self.label_selector);
        }
        if !self.field_selector.is_empty() {
            q.append_pair("fieldSelector", &self.field_selector);
        }
        q.finish()
    }
}

impl Client {
    /// A client of the apiserver at `base`, or of several: `base` may list
    /// them separated by commas (apiservers sharing one etcd), the first
    /// used first.
    pub fn new(base: &str, token: Option<String>, user_agent: &str) -> Client {
        let mut conn = HttpConnector::new();
        conn.set_nodelay(true);
        conn.set_connect_timeout(Some(Duration::from_secs(5)));
        let http = HyperClient::builder(TokioExecutor::new()).pool_idle_timeout(Duration::from_secs(30)).build(conn);
        let mut servers: Vec<String> = base.split(',').map(|s| s.trim().trim_end_matches('/').to_string()).filter(|s| !s.is_empty()).collect();
        if servers.is_empty() {
            // No server at all: every request fails to connect, saying so.
            servers.push(String::new());
        }
        Client { http, servers: servers.into(), current: Arc::default(), token, user_agent: user_agent.to_string() }
    }

    /// The same credentials against other apiservers (a `--server` flag
    /// overriding the kubeconfig's, as kubectl's).
    pub fn with_servers(&self, servers: &str) -> Client {
        let mut c = Client::new(servers, self.token.clone(), &self.user_agent);
        c.http = self.http.clone();
        c
    }

    pub fn from_kubeconfig(path: &std::path::Path, user_agent: &str) -> Result<Client, String> {
        let kc = kubeconfig::read(path)?;
        Ok(Client::new(&kc.server, kc.token, user_agent))
    }

    /// The apiserver in use.
    pub fn base(&self) -> &str {
        &self.servers[self.current.load(std::sync::atomic::Ordering::Relaxed) % self.servers.len()]
    }

    /// Sends to the apiserver in use; when it cannot be connected to (so the
    /// request was never sent, whatever its method), to the next, which is
    /// then the one in use.
    async fn send(&self, method: Method, path: &str, body: &Option<(Bytes, String)>) -> Result<hyper::Response<Incoming>, ApiError> {
        let n = self.servers.len();
        let first = self.current.load(std::sync::atomic::Ordering::Relaxed);
        for i in 0..n {
            let at = (first + i) % n;
            let mut b = Request::builder().method(method.clone()).uri(format!("{}{path}", self.servers[at])).header("User-Agent", &self.user_agent).header("Accept", "application/json");
            if let Some(t) = &self.token {
                b = b.header("Authorization", format!("Bearer {t}"));
            }
            let req = match body {
                Some((bytes, ct)) => b.header("Content-Type", ct.as_str()).body(Full::new(bytes.clone())),
                None => b.body(Full::new(Bytes::new())),
            }
            .map_err(transport)?;
            match self.http.request(req).await {
                Ok(resp) => {
                    if i > 0 {
                        self.current.store(at, std::sync::atomic::Ordering::Relaxed);
                    }
                    return Ok(resp);
                }
                Err(e) if e.is_connect() && i + 1 < n => continue,
                Err(e) => return Err(transport(e)),
            }
        }
        Err(transport("no apiserver listed"))
    }

    /// One request, with a timeout; a non-2xx answer becomes its Status.
    pub async fn request(&self, method: Method, path: &str, body: Option<(Vec<u8>, &str)>) -> Result<Value, ApiError> {
        let bytes = self.request_bytes(method, path, body).await?;
        serde_json::from_slice(&bytes).map_err(|e| ApiError::internal(format!("the apiserver answered with invalid JSON: {e}")))
    }

    /// `request`, answered with the body as it came (`/metrics` is text).
    /// An answer of 429 Too Many Requests with `Retry-After` (the apiserver's
    /// in-flight limit: the request was refused before it was read, whatever
    /// its method) is waited out and the request sent again, as client-go
    /// (and up to as long again, `jittered`, which client-go does not), at
    /// most `MAX_RETRIES_AFTER_429` times, all within `REQUEST_TIMEOUT`.
    pub async fn request_bytes(&self, method: Method, path: &str, body: Option<(Vec<u8>, &str)>) -> Result<Bytes, ApiError> {
        let body = body.map(|(bytes, ct)| (Bytes::from(bytes), ct.to_string()));
        let fut = async {
            let mut retries = 0;
            let resp = loop {
                let resp = self.send(method.clone(), path, &body).await?;
                match retry_after(resp.status(), resp.headers()) {
                    Some(wait) if retries < MAX_RETRIES_AFTER_429 => {
                        retries += 1;
                        drop(resp);
                        tokio::time::sleep(jittered(wait, random())).await;
                    }
                    _ => break resp,
                }
            };
            let code = resp.status();
            let bytes = resp.into_body().collect().await.map_err(transport)?.to_bytes();
            if !code.is_success() {
                return Err(match serde_json::from_slice::<Status>(&bytes) {
                    Ok(s) if s.code != 0 => ApiError { code: s.code, reason: leak_reason(&s.reason), message: s.message, details: s.details },
                    _ => ApiError::new(code.as_u16(), "Unknown", String::from_utf8_lossy(&bytes).to_string()),
                });
            }
            Ok(bytes)
        };
        tokio::time::timeout(REQUEST_TIMEOUT, fut).await.map_err(|_| transport("request timed out"))?
    }

    pub async fn get(&self, kind: Kind, ns: &str, name: &str) -> Result<Object, ApiError> {
        let v = self.request(Method::GET, &object_path(kind, ns, name), None).await?;
        Object::from_value(kind, v)
    }

    /// Lists, following `continue`; returns the items and the list's resourceVersion.
    pub async fn list(&self, kind: Kind, ns: &str, opts: &ListOptions) -> Result<(Vec<Object>, String), ApiError> {
        let mut items = Vec::new();
        let mut cont = String::new();
        loop {
            let mut q = opts.query();
            q.push_str(if q.is_empty() { "limit=500" } else { "&limit=500" });
            if !cont.is_empty() {
                q.push_str(&format!("&continue={cont}"));
            }
            let v = self.request(Method::GET, &format!("{}?{q}", collection_path(kind, ns)), None).await?;
            for item in v["items"].as_array().cloned().unwrap_or_default() {
                items.push(Object::from_value(kind, item)?);
            }
            let rv = v["metadata"]["resourceVersion"].as_str().unwrap_or("").to_string();
            cont = v["metadata"]["continue"].as_str().unwrap_or("").to_string();
            if cont.is_empty() {
                return Ok((items, rv));
            }
        }
    }

    pub async fn create(&self, obj: &Object) -> Result<Object, ApiError> {
        let m = obj.meta();
        let v = self.request(Method::POST, &collection_path(obj.kind(), &m.namespace), Some((obj.to_json(), "application/json"))).await?;
        Object::from_value(obj.kind(), v)
    }

    pub async fn update(&self, obj: &Object) -> Result<Object, ApiError> {
        let m = obj.meta();
        let v = self.request(Method::PUT, &object_path(obj.kind(), &m.namespace, &m.name), Some((obj.to_json(), "application/json"))).await?;
        Object::from_value(obj.kind(), v)
    }

    pub async fn update_status(&self, obj: &Object) -> Result<Object, ApiError> {
        let m = obj.meta();
        let v = self.request(Method::PUT, &format!("{}/status", object_path(obj.kind(), &m.namespace, &m.name)), Some((obj.to_json(), "application/json"))).await?;
        Object::from_value(obj.kind(), v)
    }

    pub async fn patch(&self, kind: Kind, ns: &str, name: &str, content_type: &str, patch: &Value) -> Result<Object, ApiError> {
        let v = self.request(Method::PATCH, &object_path(kind, ns, name), Some((serde_json::to_vec(patch).unwrap_or_default(), content_type))).await?;
        Object::from_value(kind, v)
    }

    pub async fn delete(&self, d: &DeleteRequest) -> Result<(), ApiError> {
        // The options the core says this request carries (the model applies the same).
        let mut opts = serde_json::to_value(d.options()).unwrap_or_default();
        opts["kind"] = json!("DeleteOptions");
        opts["apiVersion"] = json!("v1");
        self.request(Method::DELETE, &object_path(d.kind, &d.namespace, &d.name), Some((serde_json::to_vec(&opts).unwrap_or_default(), "application/json"))).await.map(|_| ())
    }

    pub async fn bind(&self, ns: &str, name: &str, uid: &str, node: &str) -> Result<(), ApiError> {
        let mut b = serde_json::to_value(podcore::effect::binding(ns, name, uid, node)).unwrap_or_default();
        b["kind"] = json!("Binding");
        b["apiVersion"] = json!("v1");
        self.request(Method::POST, &format!("{}/binding", object_path(Kind::Pod, ns, name)), Some((serde_json::to_vec(&b).unwrap_or_default(), "application/json"))).await.map(|_| ())
    }

    /// Executes one effect; returns the object written, if any.
    pub async fn execute(&self, effect: &Effect) -> Result<Option<Object>, ApiError> {
        match effect {
            Effect::Create(o) => self.create(o).await.map(Some),
            Effect::Update(o) => self.update(o).await.map(Some),
            Effect::UpdateStatus(o) => self.update_status(o).await.map(Some),
            Effect::Delete(d) => self.delete(d).await.map(|_| None),
            Effect::Bind { namespace, name, uid, node } => self.bind(namespace, name, uid, node).await.map(|_| None),
        }
    }

    /// Opens a watch from `resource_version` ("" for "now, with the current objects").
    pub async fn watch(&self, kind: Kind, ns: &str, opts: &ListOptions, resource_version: &str, timeout_seconds: u64) -> Result<WatchStream, ApiError> {
        let mut q = opts.query();
        let extra = format!("watch=true&allowWatchBookmarks=true&timeoutSeconds={timeout_seconds}&resourceVersion={resource_version}");
        q = if q.is_empty() { extra } else { format!("{q}&{extra}") };
        let resp = tokio::time::timeout(REQUEST_TIMEOUT, self.send(Method::GET, &format!("{}?{q}", collection_path(kind, ns)), &None)).await.map_err(|_| transport("watch request timed out"))??;
        if resp.status() != StatusCode::OK {
            let code = resp.status();
            let bytes = resp.into_body().collect().await.map_err(transport)?.to_bytes();
            return Err(match serde_json::from_slice::<Status>(&bytes) {
                Ok(s) if s.code != 0 => ApiError { code: s.code, reason: leak_reason(&s.reason), message: s.message, details: s.details },
                _ => ApiError::new(code.as_u16(), "Unknown", String::from_utf8_lossy(&bytes).to_string()),
            });
        }
        Ok(WatchStream { body: resp.into_body(), buf: Vec::new(), start: 0, kind })
    }
}

/// Maps a server's reason string onto the static reasons podcore uses.
fn leak_reason(r: &str) -> &'static str {
    for known in ["NotFound", "AlreadyExists", "Conflict", "Invalid", "BadRequest", "Expired", "Gone", "Forbidden", "Unauthorized", "MethodNotAllowed", "RequestEntityTooLarge", "UnsupportedMediaType", "InternalError", "ServiceUnavailable", "Timeout", "TooManyRequests"] {
        if r == known {
            return known;
        }
    }
    "Unknown"
}

#[derive(Clone, Debug)]
pub enum WatchEvent {
    Added(Object),
    Modified(Object),
    Deleted(Object),
    Bookmark(String),
    Error(ApiError),
}

pub struct WatchStream {
    body: Incoming,
    buf: Vec<u8>,
    /// Where the unread part of `buf` starts (bytes before it are consumed
    /// lines, dropped when the buffer is next refilled).
    start: usize,
    kind: Kind,
}

impl WatchStream {
    /// The next event; None when the server ended the stream.
    pub async fn next(&mut self) -> Option<Result<WatchEvent, ApiError>> {
        let kind = self.kind;
        match self.next_line().await? {
            Ok(line) => Some(parse_watch_line(kind, line)),
            Err(e) => Some(Err(e)),
        }
    }

    /// The next event's bytes, undecoded (one JSON line, blank lines
    /// skipped); None when the server ended the stream.
    pub async fn next_line(&mut self) -> Option<Result<&[u8], ApiError>> {
        loop {
            if let Some(pos) = self.buf[self.start..].iter().position(|b| *b == b'\n') {
                if pos > MAX_WATCH_EVENT_BYTES {
                    return Some(Err(ApiError::internal(format!("a watch event is {pos} bytes, longer than {MAX_WATCH_EVENT_BYTES}"))));
                }
                let (from, to) = (self.start, self.start + pos + 1);
                self.start = to;
                if self.buf[from..to].iter().all(|b| b.is_ascii_whitespace()) {
                    continue;
                }
                return Some(Ok(&self.buf[from..to]));
            }
            if self.buf.len() - self.start > MAX_WATCH_EVENT_BYTES {
                return Some(Err(ApiError::internal(format!("a watch event is longer than {MAX_WATCH_EVENT_BYTES} bytes"))));
            }
            // Everything before `start` has been read: drop it once per refill.
            self.buf.drain(..self.start);
            self.start = 0;
            match self.body.frame().await {
                None => return None,
                Some(Err(e)) => return Some(Err(transport(e))),
                Some(Ok(f)) => {
                    if let Ok(d) = f.into_data() {
                        self.buf.extend_from_slice(&d);
                    }
                }
            }
        }
    }
}

/// Parses one line of a watch stream (`{"type": ..., "object": ...}`).
pub fn parse_watch_line(kind: Kind, line: &[u8]) -> Result<WatchEvent, ApiError> {
    // Most lines are an object of the watched kind: decoded straight into
    // its type. Anything else (an error's Status, a line that does not
    // decode so) goes through a Value, for its message.
    if let Some((type_, obj)) = typed_watch_line(kind, line) {
        match type_.as_str() {
            "ADDED" => return Ok(WatchEvent::Added(obj)),
            "MODIFIED" => return Ok(WatchEvent::Modified(obj)),
            "DELETED" => return Ok(WatchEvent::Deleted(obj)),
            "BOOKMARK" => return Ok(WatchEvent::Bookmark(obj.meta().resource_version.clone())),
            _ => {}
        }
    }
    let mut v: Value = serde_json::from_slice(line).map_err(|e| ApiError::internal(format!("invalid watch event: {e}")))?;
    let obj = v.get_mut("object").map(Value::take).unwrap_or_default();
    match v["type"].as_str().unwrap_or("") {
        "ADDED" => Ok(WatchEvent::Added(Object::from_value(kind, obj)?)),
        "MODIFIED" => Ok(WatchEvent::Modified(Object::from_value(kind, obj)?)),
        "DELETED" => Ok(WatchEvent::Deleted(Object::from_value(kind, obj)?)),
        "BOOKMARK" => Ok(WatchEvent::Bookmark(obj["metadata"]["resourceVersion"].as_str().unwrap_or("").to_string())),
        "ERROR" => {
            let s: Status = serde_json::from_value(obj).map_err(|e| ApiError::internal(format!("invalid watch error: {e}")))?;
            Ok(WatchEvent::Error(ApiError { code: s.code, reason: leak_reason(&s.reason), message: s.message, details: s.details }))
        }
        other => Err(ApiError::internal(format!("unknown watch event type {other:?}"))),
    }
}

/// A watch line whose object decodes as `kind`, decoded without a `Value`
/// tree: its type and object. None when it does not decode so.
fn typed_watch_line(kind: Kind, line: &[u8]) -> Option<(String, Object)> {
    use serde::de::{Deserializer as _, MapAccess, Visitor};
    struct LineOf(Kind);
    impl<'de> Visitor<'de> for LineOf {
        type Value = (String, Object);
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a watch event")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut a: A) -> Result<Self::Value, A::Error> {
            #[derive(serde::Deserialize)]
            #[serde(field_identifier, rename_all = "lowercase")]
            enum Field {
                Type,
                Object,
                #[serde(other)]
                Other,
            }
            let (mut type_, mut object) = (None, None);
            while let Some(field) = a.next_key::<Field>()? {
                match field {
                    Field::Type => type_ = Some(a.next_value::<String>()?),
                    Field::Object => object = Some(a.next_value_seed(podcore::object::AsKind(self.0))?),
                    Field::Other => {
                        a.next_value::<serde::de::IgnoredAny>()?;
                    }
                }
            }
            match (type_, object) {
                (Some(t), Some(o)) => Ok((t, o)),
                _ => Err(serde::de::Error::custom("a watch event has a type and an object")),
            }
        }
    }
    let mut d = serde_json::Deserializer::from_slice(line);
    let r = (&mut d).deserialize_map(LineOf(kind)).ok()?;
    d.end().ok()?;
    Some(r)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[test]
    fn watch_lines_decode_as_through_a_value() {
        let pod = serde_json::json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "default", "resourceVersion": "7"}, "spec": {"nodeName": "n1", "containers": [{"name": "c", "image": "busybox"}]}});
        let want = Object::from_value(Kind::Pod, pod.clone()).unwrap();
        for (type_, expect) in [("ADDED", WatchEvent::Added(want.clone())), ("MODIFIED", WatchEvent::Modified(want.clone())), ("DELETED", WatchEvent::Deleted(want.clone())), ("BOOKMARK", WatchEvent::Bookmark("7".into()))] {
            let line = serde_json::to_vec(&serde_json::json!({"type": type_, "object": pod})).unwrap();
            assert_eq!(format!("{:?}", parse_watch_line(Kind::Pod, &line).unwrap()), format!("{expect:?}"), "{type_}");
        }
        // A Status (not a pod) goes the Value way and becomes the error event it names.
        let gone = br#"{"type":"ERROR","object":{"kind":"Status","apiVersion":"v1","status":"Failure","message":"too old resource version: 1 (5)","reason":"Expired","code":410}}"#;
        match parse_watch_line(Kind::Pod, gone) {
            Ok(WatchEvent::Error(e)) => assert_eq!(e.code, 410, "{e:?}"),
            other => panic!("expected the 410 as an event, got {other:?}"),
        }
        // An object that is not the kind's shape is refused with its field path.
        let bad = br#"{"type":"ADDED","object":{"kind":"Pod","apiVersion":"v1","spec":{"containers":3}}}"#;
        let e = parse_watch_line(Kind::Pod, bad).unwrap_err();
        assert!(e.message.contains("spec.containers"), "{e:?}");
    }

    /// Serves one watch response whose body is `body`, to one request.
    async fn one_response(body: Vec<u8>) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            let mut req = vec![0u8; 4096];
            let _ = s.read(&mut req).await;
            let head = format!("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n", body.len());
            let _ = s.write_all(head.as_bytes()).await;
            let _ = s.write_all(&body).await;
        });
        format!("http://{addr}")
    }

    /// An event of `len` bytes before its newline: a BOOKMARK padded with spaces.
    fn event_of(len: usize) -> Vec<u8> {
        let mut e = br#"{"type":"BOOKMARK","object":{"metadata":{"resourceVersion":"7"}}}"#.to_vec();
        e.resize(len, b' ');
        e.push(b'\n');
        e
    }

    #[tokio::test]
    async fn watch_events_are_bounded_at_max_watch_event_bytes() {
        let c = Client::new(&one_response(event_of(MAX_WATCH_EVENT_BYTES)).await, None, "test");
        let mut w = c.watch(Kind::Pod, "", &ListOptions::default(), "", 1).await.unwrap();
        assert!(matches!(w.next().await, Some(Ok(WatchEvent::Bookmark(rv))) if rv == "7"), "an event at the bound is read");
        let c = Client::new(&one_response(event_of(MAX_WATCH_EVENT_BYTES + 1)).await, None, "test");
        let mut w = c.watch(Kind::Pod, "", &ListOptions::default(), "", 1).await.unwrap();
        let e = w.next().await.unwrap().unwrap_err();
        assert!(e.message.contains("longer than"), "{e}");
    }

    /// A server that answers the first `refusals` requests 429 with
    /// `Retry-After: 0` and the rest 200; it counts the requests it got.
    async fn refusing(refusals: usize) -> (String, Arc<std::sync::atomic::AtomicUsize>) {
        use std::sync::atomic::Ordering;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let got = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counted = got.clone();
        tokio::spawn(async move {
            let refused = br#"{"kind":"Status","apiVersion":"v1","status":"Failure","message":"Too many requests, please try again later.","reason":"TooManyRequests","details":{"retryAfterSeconds":1},"code":429}"#;
            loop {
                let (mut s, _) = listener.accept().await.unwrap();
                let counted = counted.clone();
                tokio::spawn(async move {
                    let mut buf = Vec::new();
                    let mut chunk = [0u8; 4096];
                    loop {
                        // One request per read is enough for these bodiless requests.
                        let n = match s.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => n,
                        };
                        buf.extend_from_slice(&chunk[..n]);
                        while let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                            buf.drain(..end + 4);
                            let i = counted.fetch_add(1, Ordering::SeqCst);
                            let resp = if i < refusals {
                                format!("HTTP/1.1 429 Too Many Requests\r\nRetry-After: 0\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{}", refused.len(), String::from_utf8_lossy(refused))
                            } else {
                                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}".to_string()
                            };
                            if s.write_all(resp.as_bytes()).await.is_err() {
                                return;
                            }
                        }
                    }
                });
            }
        });
        (format!("http://{addr}"), got)
    }

    #[test]
    fn a_retry_after_is_waited_up_to_max_retry_after() {
        let with = |v: &str| {
            let mut h = hyper::HeaderMap::new();
            h.insert(hyper::header::RETRY_AFTER, v.parse().unwrap());
            h
        };
        let at = MAX_RETRY_AFTER.as_secs();
        assert_eq!(retry_after(StatusCode::TOO_MANY_REQUESTS, &with(&at.to_string())), Some(MAX_RETRY_AFTER));
        assert_eq!(retry_after(StatusCode::TOO_MANY_REQUESTS, &with(&(at + 1).to_string())), Some(MAX_RETRY_AFTER), "cut to the bound");
        assert_eq!(retry_after(StatusCode::TOO_MANY_REQUESTS, &with("1")), Some(Duration::from_secs(1)));
        // Only a 429 with a number of seconds is waited out (an HTTP date is not, nor a 503).
        assert_eq!(retry_after(StatusCode::TOO_MANY_REQUESTS, &with("Wed, 21 Oct 2015 07:28:00 GMT")), None);
        assert_eq!(retry_after(StatusCode::TOO_MANY_REQUESTS, &hyper::HeaderMap::new()), None);
        assert_eq!(retry_after(StatusCode::SERVICE_UNAVAILABLE, &with("1")), None);
    }

    #[test]
    fn retries_are_spread_over_the_second_retry_after() {
        let base = Duration::from_secs(1);
        let waits: Vec<Duration> = (0..1000).map(|_| jittered(base, random())).collect();
        assert!(waits.iter().all(|w| *w >= base && *w < 2 * base), "never sooner than Retry-After, never twice as late");
        let early = waits.iter().filter(|w| **w < base + base / 2).count();
        assert!((300..700).contains(&early), "spread across the interval: {early} of 1000 in its first half");
        assert_eq!(jittered(Duration::ZERO, 7), Duration::ZERO);
    }

    #[tokio::test]
    async fn a_429_with_retry_after_is_sent_again_at_most_max_retries_after_429_times() {
        use std::sync::atomic::Ordering;
        // Refused as many times as it is retried: the last try is answered.
        let (url, got) = refusing(MAX_RETRIES_AFTER_429).await;
        let c = Client::new(&url, None, "test");
        c.request(Method::POST, "/api/v1/namespaces", Some((b"{}".to_vec(), "application/json"))).await.expect("answered on the last retry");
        assert_eq!(got.load(Ordering::SeqCst), MAX_RETRIES_AFTER_429 + 1);
        // Refused once more than that: the caller gets the 429.
        let (url, got) = refusing(MAX_RETRIES_AFTER_429 + 1).await;
        let c = Client::new(&url, None, "test");
        let e = c.request(Method::GET, "/api/v1/namespaces", None).await.unwrap_err();
        assert_eq!((e.code, e.reason), (429, "TooManyRequests"), "{e}");
        assert_eq!(got.load(Ordering::SeqCst), MAX_RETRIES_AFTER_429 + 1, "no request past the last retry");
    }
}
