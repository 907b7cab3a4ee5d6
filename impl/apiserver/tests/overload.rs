//! The in-flight limits over real HTTP, in-process. Requests are held in
//! flight deterministically: a create whose headers are sent and whose body
//! is not finished holds its place until the body ends, so the test knows
//! exactly how many places are taken.

use apiserver::inflight::RETRY_AFTER_SECONDS;
use apiserver::Registry;
use client::{Client, ListOptions, Method};
use podcore::object::Kind;
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const LEASES: &str = "/apis/coordination.k8s.io/v1/namespaces/default/leases";

async fn start(max_requests_inflight: usize, max_mutating_requests_inflight: usize) -> (std::net::SocketAddr, Client) {
    let store: Arc<dyn podstore::Store> = Arc::new(podstore::Embedded::in_memory());
    let reg = Registry::open(store, 1000, 300).unwrap();
    reg.bootstrap().unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let serving = apiserver::Serving { max_requests_inflight, max_mutating_requests_inflight, ..Default::default() };
    tokio::spawn(apiserver::serve_on(listener, reg, addr.to_string(), serving));
    (addr, Client::new(&format!("http://{addr}"), None, "overload-test"))
}

fn lease(name: &str) -> String {
    format!(r#"{{"apiVersion":"coordination.k8s.io/v1","kind":"Lease","metadata":{{"name":"{name}"}}}}"#)
}

fn post_head(len: usize) -> String {
    format!("POST {LEASES} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {len}\r\n\r\n")
}

/// A create sent but for its last byte: it holds a mutating place.
async fn held_create(addr: std::net::SocketAddr, name: &str) -> (TcpStream, u8) {
    let body = lease(name).into_bytes();
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(post_head(body.len()).as_bytes()).await.unwrap();
    s.write_all(&body[..body.len() - 1]).await.unwrap();
    (s, body[body.len() - 1])
}

/// The whole answer of a request sent with `Connection: close`: status
/// line, headers (lower-cased names), body.
async fn answer(mut s: TcpStream) -> (String, Vec<(String, String)>, Value) {
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).await.unwrap();
    let text = String::from_utf8_lossy(&raw).to_string();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let mut lines = head.lines();
    let status = lines.next().unwrap_or("").to_string();
    let headers = lines.filter_map(|l| l.split_once(':')).map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string())).collect();
    // A body may come chunked: the JSON is the part between the braces.
    let json = match (body.find('{'), body.rfind('}')) {
        (Some(a), Some(b)) => serde_json::from_str(&body[a..=b]).unwrap_or(Value::Null),
        _ => Value::Null,
    };
    (status, headers, json)
}

async fn create_once(addr: std::net::SocketAddr, name: String) -> (String, Vec<(String, String)>, Value) {
    let body = lease(&name);
    let mut s = TcpStream::connect(addr).await.unwrap();
    let req = format!("POST {LEASES} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}", body.len());
    s.write_all(req.as_bytes()).await.unwrap();
    answer(s).await
}

async fn gauge(c: &Client, line: &str) -> u64 {
    let text = c.request_bytes(Method::GET, "/metrics", None).await.unwrap();
    let text = String::from_utf8_lossy(&text);
    text.lines().find_map(|l| l.strip_prefix(line)).and_then(|v| v.trim().parse().ok()).unwrap_or_else(|| panic!("no {line} in /metrics"))
}

/// Polls until the gauge reads `want` (the held requests' headers reached the server).
async fn until_gauge(c: &Client, line: &str, want: u64) {
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let v = gauge(c, line).await;
        if v == want {
            return;
        }
        assert!(std::time::Instant::now() < deadline, "{line} is {v}, waited for {want}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

const MUTATING: &str = "apiserver_current_inflight_requests{request_kind=\"mutating\"}";
const DROPPED: &str = "apiserver_dropped_requests_total{request_kind=\"mutating\"}";

/// With every mutating place held, each further write is refused 429 with
/// `Retry-After` and a Status before its body is read, and stores nothing;
/// reads and watches are still served; `client::Client` waits the refusals
/// out and its write lands once a place is given back. Every write is
/// either stored or refused, none lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn beyond_the_mutating_limit_writes_get_429_with_retry_after_and_none_is_lost() {
    const LIMIT: usize = 3;
    const REFUSED: usize = 24;
    let (addr, c) = start(LIMIT, LIMIT).await;
    let mut held = Vec::new();
    for i in 0..LIMIT {
        held.push(held_create(addr, &format!("held-{i}")).await);
    }
    until_gauge(&c, MUTATING, LIMIT as u64).await;

    // Each one more: 429, Retry-After, a Status that says so.
    let refusals = futures_join((0..REFUSED).map(|i| create_once(addr, format!("refused-{i}")))).await;
    for (status, headers, body) in &refusals {
        assert_eq!(status, "HTTP/1.1 429 Too Many Requests", "{body}");
        assert!(headers.contains(&("retry-after".into(), RETRY_AFTER_SECONDS.to_string())), "{headers:?}");
        assert_eq!((body["kind"].as_str(), body["reason"].as_str(), body["code"].as_u64()), (Some("Status"), Some("TooManyRequests"), Some(429)), "{body}");
        assert_eq!(body["details"]["retryAfterSeconds"].as_i64(), Some(RETRY_AFTER_SECONDS as i64), "{body}");
    }
    assert_eq!(gauge(&c, DROPPED).await, REFUSED as u64);
    // Reads have their own limit, and a watch is not counted at all.
    assert_eq!(c.list(Kind::Lease, "default", &ListOptions::default()).await.unwrap().0.len(), 0);
    let mut w = c.watch(Kind::Lease, "default", &ListOptions::default(), "", 30).await.expect("a watch is served while writes are refused");

    // The client's write is refused, waits Retry-After, and is sent again.
    let writer = c.clone();
    let retried = tokio::spawn(async move { writer.request(Method::POST, LEASES, Some((lease("patient").into_bytes(), "application/json"))).await });
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while gauge(&c, DROPPED).await == REFUSED as u64 {
        assert!(std::time::Instant::now() < deadline, "the client's write was never refused");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // Giving the places back: the held writes finish and the client's lands.
    for (mut s, last) in held {
        s.write_all(&[last]).await.unwrap();
        let mut buf = [0u8; 64];
        let n = s.read(&mut buf).await.unwrap();
        assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 201"), "{}", String::from_utf8_lossy(&buf[..n]));
    }
    retried.await.unwrap().expect("the client's write lands after waiting out the 429s");

    // Exactly the writes answered 201 are stored; no refused one is.
    let (leases, _) = c.list(Kind::Lease, "default", &ListOptions::default()).await.unwrap();
    let mut names: Vec<String> = leases.iter().map(|l| l.meta().name.clone()).collect();
    names.sort();
    let mut want: Vec<String> = (0..LIMIT).map(|i| format!("held-{i}")).collect();
    want.push("patient".into());
    assert_eq!(names, want);
    // The watch saw them, and the places are all given back.
    for _ in 0..want.len() {
        assert!(matches!(w.next().await, Some(Ok(client::WatchEvent::Added(_)))));
    }
    until_gauge(&c, MUTATING, 0).await;
}

/// Many writers against a small limit, none of them retrying: each write
/// is answered 201 or 429, and the store holds exactly the 201s.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_write_under_overload_is_stored_or_refused() {
    const WRITERS: usize = 200;
    let (addr, c) = start(2, 2).await;
    let answers = futures_join((0..WRITERS).map(|i| async move { (i, create_once(addr, format!("w-{i:03}")).await) })).await;
    let mut stored = Vec::new();
    for (i, (status, headers, body)) in &answers {
        match status.as_str() {
            "HTTP/1.1 201 Created" => stored.push(format!("w-{i:03}")),
            "HTTP/1.1 429 Too Many Requests" => assert!(headers.iter().any(|(k, _)| k == "retry-after"), "{headers:?}"),
            other => panic!("write {i} answered {other}: {body}"),
        }
    }
    let (leases, _) = c.list(Kind::Lease, "default", &ListOptions::default()).await.unwrap();
    let mut names: Vec<String> = leases.iter().map(|l| l.meta().name.clone()).collect();
    names.sort();
    assert_eq!(names, stored, "stored exactly what was answered 201");
    assert_eq!(gauge(&c, DROPPED).await as usize, WRITERS - stored.len(), "every other write was counted refused");
}

/// All of `futs` at once, in their order.
async fn futures_join<F: std::future::Future + Send + 'static>(futs: impl Iterator<Item = F>) -> Vec<F::Output>
where
    F::Output: Send + 'static,
{
    let tasks: Vec<_> = futs.map(tokio::spawn).collect();
    let mut out = Vec::new();
    for t in tasks {
        out.push(t.await.unwrap());
    }
    out
}
