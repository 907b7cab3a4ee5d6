//! The audit log over real HTTP, in-process: one line per write, in order,
//! with its verb, object reference and answer; reads are not audited; a
//! write the in-flight limit refuses is audited with its 429.

use apiserver::Registry;
use client::{Client, Method};
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::AsyncWriteExt;

const LEASES: &str = "/apis/coordination.k8s.io/v1/namespaces/default/leases";

fn lines(path: &std::path::Path) -> Vec<Value> {
    std::fs::read_to_string(path).unwrap_or_default().lines().map(|l| serde_json::from_str(l).expect("each line is one JSON object")).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_write_is_one_line_with_its_verb_object_and_code() {
    let dir = std::env::temp_dir().join(format!("podchain-audit-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("audit.log");
    let _ = std::fs::remove_file(&path);
    let store: Arc<dyn podstore::Store> = Arc::new(podstore::Embedded::in_memory());
    let reg = Registry::open(store, 1000, 300).unwrap();
    reg.bootstrap().unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let serving = apiserver::Serving { audit_log_path: Some(path.clone()), max_mutating_requests_inflight: 2, ..Default::default() };
    tokio::spawn(apiserver::serve_on(listener, reg, addr.to_string(), serving));
    let c = Client::new(&format!("http://{addr}"), None, "audit-test/1.0");
    let body = |v: Value| Some((serde_json::to_vec(&v).unwrap(), "application/json"));
    let lease = json!({"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": {"name": "l1"}});

    let created = c.request(Method::POST, LEASES, body(lease.clone())).await.unwrap();
    c.request(Method::GET, &format!("{LEASES}/l1"), None).await.unwrap();
    c.request(Method::GET, LEASES, None).await.unwrap();
    let mut updated = created.clone();
    updated["spec"] = json!({"holderIdentity": "a"});
    c.request(Method::PUT, &format!("{LEASES}/l1"), body(updated)).await.unwrap();
    c.patch(podcore::object::Kind::Lease, "default", "l1", "application/merge-patch+json", &json!({"spec": {"holderIdentity": "b"}})).await.unwrap();
    let mut gen = lease.clone();
    gen["metadata"] = json!({"generateName": "g-"});
    let dry = c.request(Method::POST, &format!("{LEASES}?dryRun=All"), body(gen)).await.unwrap();
    c.request(Method::DELETE, &format!("{LEASES}/l1"), None).await.unwrap();
    assert_eq!(c.request(Method::DELETE, &format!("{LEASES}/l1"), None).await.unwrap_err().code, 404);
    // With both mutating places held by writes whose bodies are unfinished,
    // one more write is refused, and audited with its 429. (Two places: a
    // response the client has read may hold its place a moment longer.)
    let mut held = Vec::new();
    for _ in 0..2 {
        let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
        s.write_all(format!("POST {LEASES} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{{").as_bytes()).await.unwrap();
        held.push(s);
    }
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let m = String::from_utf8_lossy(&c.request_bytes(Method::GET, "/metrics", None).await.unwrap()).to_string();
        if m.contains("apiserver_current_inflight_requests{request_kind=\"mutating\"} 2") {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "the held write never reached the server");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let raw = format!("DELETE {LEASES}/other HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(raw.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    tokio::io::AsyncReadExt::read_to_end(&mut s, &mut answer).await.unwrap();
    assert!(answer.starts_with(b"HTTP/1.1 429"), "{}", String::from_utf8_lossy(&answer));

    let want = [
        ("create", "l1", 201),
        ("update", "l1", 200),
        ("patch", "l1", 200),
        ("create", dry["metadata"]["name"].as_str().unwrap(), 201),
        ("delete", "l1", 200),
        ("delete", "l1", 404),
        ("delete", "other", 429),
    ];
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let got = loop {
        let got = lines(&path);
        if got.len() >= want.len() || std::time::Instant::now() > deadline {
            break got;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    let seen: Vec<(String, String, u64)> = got.iter().map(|l| (l["verb"].as_str().unwrap().to_string(), l["objectRef"]["name"].as_str().unwrap_or("").to_string(), l["responseStatus"]["code"].as_u64().unwrap())).collect();
    let want: Vec<(String, String, u64)> = want.iter().map(|(v, n, c)| (v.to_string(), n.to_string(), *c)).collect();
    assert_eq!(seen, want, "one line per write, in order; no read");
    for l in &got {
        assert_eq!((l["kind"].as_str(), l["apiVersion"].as_str(), l["level"].as_str()), (Some("Event"), Some("audit.k8s.io/v1"), Some("Metadata")), "{l}");
        assert_eq!(l["objectRef"]["resource"], "leases", "{l}");
        assert_eq!(l["objectRef"]["namespace"], "default", "{l}");
        assert_eq!(l["objectRef"]["apiGroup"], "coordination.k8s.io", "{l}");
        assert_eq!(l["user"], json!({"username": "system:anonymous", "groups": ["system:unauthenticated"]}), "{l}");
        assert_eq!(l["sourceIPs"], json!(["127.0.0.1"]), "{l}");
        assert!(l["auditID"].as_str().is_some_and(|id| id.len() == 36), "{l}");
        assert!(l.get("requestObject").is_none() && l.get("responseObject").is_none(), "Metadata level: no bodies");
    }
    assert_eq!(got[0]["userAgent"], "audit-test/1.0");
    assert_eq!(got[3]["requestURI"], format!("{LEASES}?dryRun=All"));
    let ids: std::collections::BTreeSet<&str> = got.iter().map(|l| l["auditID"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), got.len(), "each request its own auditID");
    drop(held);
    let _ = std::fs::remove_dir_all(&dir);
}
