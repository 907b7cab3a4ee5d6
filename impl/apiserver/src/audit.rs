//! The audit log: one JSON line per write request (create, update, patch,
//! delete, deletecollection, and their subresources), as upstream's log
//! backend writes audit.k8s.io/v1 Events at the Metadata level: who (user,
//! groups, source IP, user agent), what (verb, the object's reference, the
//! request URI), when, and the answer's code — never a body. A write
//! refused by the in-flight limits is audited too, with its 429, as
//! upstream audits before it limits.
//!
//! Requests hand their line to one writer thread through a channel of
//! `AUDIT_BUFFER_EVENTS`; when the disk falls that far behind, requests wait
//! for room rather than drop a line (upstream's blocking mode). Until
//! podchain authenticates (issue 15), every request is
//! `system:anonymous` in `system:unauthenticated`, as upstream names a
//! request that presents no credential.

use crate::requestinfo::RequestInfo;
use podcore::time::MicroTime;
use serde_json::{json, Map, Value};
use std::io::Write;
use std::path::Path;
use tokio::sync::mpsc;

/// Lines waiting for the writer thread before a request waits for room.
pub const AUDIT_BUFFER_EVENTS: usize = 10_000;

/// The user of a request that presents no credential (upstream's names).
pub const ANONYMOUS_USER: &str = "system:anonymous";
pub const UNAUTHENTICATED_GROUP: &str = "system:unauthenticated";

/// One audited request.
#[derive(Clone, Debug)]
pub struct Entry<'a> {
    pub audit_id: String,
    pub info: &'a RequestInfo,
    /// The path and query as sent.
    pub request_uri: &'a str,
    pub source_ip: String,
    pub user_agent: &'a str,
    /// The object's name when the URL does not give it (a create).
    pub created_name: Option<&'a str>,
    pub code: u16,
    pub received: MicroTime,
    pub completed: MicroTime,
}

/// Whether a request is audited: a write to a resource.
pub fn audited(info: &RequestInfo) -> bool {
    info.is_resource && matches!(info.verb, "create" | "update" | "patch" | "delete" | "deletecollection")
}

/// The audit.k8s.io/v1 Event of `e`, as one line.
pub fn line(e: &Entry) -> Vec<u8> {
    let i = e.info;
    let mut object_ref = Map::new();
    let name = if i.name.is_empty() { e.created_name.unwrap_or("") } else { &i.name };
    for (k, v) in [("resource", i.resource.as_str()), ("namespace", &i.namespace), ("name", name), ("apiGroup", &i.api_group), ("apiVersion", &i.api_version), ("subresource", &i.subresource)] {
        if !v.is_empty() {
            object_ref.insert(k.into(), Value::String(v.into()));
        }
    }
    let event = json!({
        "kind": "Event",
        "apiVersion": "audit.k8s.io/v1",
        "level": "Metadata",
        "auditID": e.audit_id,
        "stage": "ResponseComplete",
        "requestURI": e.request_uri,
        "verb": i.verb,
        "user": {"username": ANONYMOUS_USER, "groups": [UNAUTHENTICATED_GROUP]},
        "sourceIPs": [e.source_ip],
        "userAgent": e.user_agent,
        "objectRef": object_ref,
        "responseStatus": {"metadata": {}, "code": e.code},
        "requestReceivedTimestamp": e.received.to_rfc3339(),
        "stageTimestamp": e.completed.to_rfc3339(),
    });
    let mut out = serde_json::to_vec(&event).unwrap_or_default();
    out.push(b'\n');
    out
}

/// Where requests send their lines.
#[derive(Clone)]
pub struct Audit {
    tx: mpsc::Sender<Vec<u8>>,
}

impl Audit {
    /// Appends to `path` (created with mode 0600: it names every user and
    /// object), from a thread of its own.
    pub fn open(path: &Path) -> Result<Audit, String> {
        use std::os::unix::fs::OpenOptionsExt;
        let file = std::fs::OpenOptions::new().create(true).append(true).mode(0o600).open(path).map_err(|e| format!("opening the audit log {}: {e}", path.display()))?;
        let (tx, mut rx) = mpsc::channel::<Vec<u8>>(AUDIT_BUFFER_EVENTS);
        let shown = path.display().to_string();
        std::thread::Builder::new()
            .name("audit-log".into())
            .spawn(move || {
                let mut w = std::io::BufWriter::new(file);
                // A batch: what has arrived, written, then flushed once.
                while let Some(first) = rx.blocking_recv() {
                    let mut ok = w.write_all(&first).is_ok();
                    while let Ok(more) = rx.try_recv() {
                        ok &= w.write_all(&more).is_ok();
                    }
                    if !(ok && w.flush().is_ok()) {
                        eprintln!("apiserver: writing the audit log {shown} failed");
                    }
                }
            })
            .map_err(|e| format!("starting the audit log's writer: {e}"))?;
        Ok(Audit { tx })
    }

    /// Hands the line over, waiting while `AUDIT_BUFFER_EVENTS` are ahead of it.
    pub async fn record(&self, e: &Entry<'_>) {
        let _ = self.tx.send(line(e)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::requestinfo::request_info;
    use hyper::Method;

    #[test]
    fn a_line_is_upstreams_metadata_level_event() {
        let info = request_info(&Method::POST, "/apis/apps/v1/namespaces/default/deployments", Some("dryRun=All"));
        let e = Entry {
            audit_id: "a1".into(),
            info: &info,
            request_uri: "/apis/apps/v1/namespaces/default/deployments?dryRun=All",
            source_ip: "127.0.0.1".into(),
            user_agent: "kubectl/v1.32.0",
            created_name: Some("web"),
            code: 201,
            received: MicroTime(1_000),
            completed: MicroTime(1_250),
        };
        let v: Value = serde_json::from_slice(&line(&e)).unwrap();
        assert_eq!(v["verb"], "create");
        assert_eq!(v["objectRef"], json!({"resource": "deployments", "namespace": "default", "name": "web", "apiGroup": "apps", "apiVersion": "v1"}));
        assert_eq!(v["responseStatus"]["code"], 201);
        assert_eq!(v["user"]["username"], ANONYMOUS_USER);
        assert_eq!((v["level"].as_str(), v["stage"].as_str()), (Some("Metadata"), Some("ResponseComplete")));
        assert_eq!(v["stageTimestamp"], "1970-01-01T00:00:01.250000Z");
        assert!(line(&e).ends_with(b"}\n") && !line(&e)[..line(&e).len() - 1].contains(&b'\n'), "one line");
        // Reads are not audited; writes to subresources are.
        assert!(!audited(&request_info(&Method::GET, "/api/v1/pods", None)));
        assert!(!audited(&request_info(&Method::GET, "/api/v1/pods", Some("watch=true"))));
        assert!(audited(&request_info(&Method::PUT, "/api/v1/namespaces/d/pods/p/status", None)));
        assert!(audited(&request_info(&Method::DELETE, "/api/v1/namespaces/d/pods", None)));
        assert!(!audited(&request_info(&Method::POST, "/debug/store/snapshot", None)));
    }

    #[tokio::test]
    async fn every_recorded_line_reaches_the_file_in_order_and_the_file_is_0600() {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(format!("podchain-audit-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("audit.log");
        let _ = std::fs::remove_file(&path);
        let a = Audit::open(&path).unwrap();
        // More than the buffer holds: a full buffer waits, it never drops.
        let n = AUDIT_BUFFER_EVENTS + 100;
        let info = request_info(&Method::DELETE, "/api/v1/namespaces/d/pods/p", None);
        for i in 0..n {
            let id = i.to_string();
            a.record(&Entry { audit_id: id, info: &info, request_uri: "/", source_ip: "127.0.0.1".into(), user_agent: "t", created_name: None, code: 200, received: MicroTime(0), completed: MicroTime(0) }).await;
        }
        drop(a);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        let ids = loop {
            let text = std::fs::read_to_string(&path).unwrap();
            let ids: Vec<String> = text.lines().map(|l| serde_json::from_str::<Value>(l).unwrap()["auditID"].as_str().unwrap().to_string()).collect();
            if ids.len() == n || std::time::Instant::now() > deadline {
                break ids;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        };
        assert_eq!(ids, (0..n).map(|i| i.to_string()).collect::<Vec<_>>());
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
