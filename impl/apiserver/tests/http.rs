//! The apiserver over real HTTP, in-process: status codes and Status bodies,
//! limits at their bounds, selectors, pagination, watch semantics (order,
//! bookmarks, 410), patches, binding, graceful deletion, `/metrics`.

use apiserver::http::MAX_REQUEST_BODY_BYTES;
use apiserver::{Mode, Registry};
use client::{Client, ListOptions, Method, WatchEvent};
use podcore::object::Kind;
use podcore::status::ApiError;
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;

async fn start(window_events: usize) -> Client {
    let store: Arc<dyn podstore::Store> = Arc::new(podstore::Embedded::in_memory());
    let reg = Registry::open(store, window_events, 300).unwrap();
    reg.bootstrap().unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(apiserver::serve_on(listener, reg, addr.to_string(), apiserver::Serving { bookmark_interval: Duration::from_millis(100), ..Default::default() }));
    Client::new(&format!("http://{addr}"), None, "apiserver-test")
}

fn pod(name: &str, labels: Value) -> Value {
    json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": labels}, "spec": {"containers": [{"name": "c", "image": "busybox:1"}]}})
}

async fn post(c: &Client, path: &str, body: &Value) -> Result<Value, ApiError> {
    c.request(Method::POST, path, Some((serde_json::to_vec(body).unwrap(), "application/json"))).await
}

const PODS: &str = "/api/v1/namespaces/default/pods";

#[tokio::test]
async fn errors_are_status_objects_with_code_reason_and_field() {
    let c = start(100).await;
    let e = c.request(Method::GET, &format!("{PODS}/missing"), None).await.unwrap_err();
    assert_eq!((e.code, e.reason), (404, "NotFound"));
    assert_eq!(e.message, "pods \"missing\" not found");

    let mut bad = pod("Bad_Name", json!({}));
    bad["spec"]["containers"][0]["image"] = json!("");
    bad["spec"]["restartPolicy"] = json!("Sometimes");
    let e = post(&c, PODS, &bad).await.unwrap_err();
    assert_eq!((e.code, e.reason), (422, "Invalid"));
    let fields: Vec<String> = e.details.unwrap().causes.into_iter().map(|c| c.field).collect();
    for f in ["metadata.name", "spec.containers[0].image", "spec.restartPolicy"] {
        assert!(fields.iter().any(|x| x == f), "{f} missing from {fields:?}");
    }

    let e = post(&c, PODS, &json!({"apiVersion": "apps/v1", "kind": "Pod", "metadata": {"name": "x"}})).await.unwrap_err();
    assert_eq!(e.code, 400);
    assert!(e.message.starts_with("apiVersion:"), "{}", e.message);

    let e = post(&c, "/api/v1/namespaces/nope/pods", &pod("p", json!({}))).await.unwrap_err();
    assert_eq!((e.code, e.reason), (404, "NotFound"));
    assert!(e.message.contains("namespaces \"nope\""), "{}", e.message);

    let e = c.request(Method::GET, "/api/v1/widgets", None).await.unwrap_err();
    assert_eq!(e.code, 404);
}

#[tokio::test]
async fn request_bodies_are_bounded_in_size_and_depth() {
    let c = start(100).await;
    let over = vec![b' '; MAX_REQUEST_BODY_BYTES + 1];
    let e = c.request(Method::POST, PODS, Some((over, "application/json"))).await.unwrap_err();
    assert_eq!(e.code, 413);
    let at = vec![b' '; MAX_REQUEST_BODY_BYTES];
    let e = c.request(Method::POST, PODS, Some((at, "application/json"))).await.unwrap_err();
    assert_eq!(e.code, 400, "a body at the limit is read (and then found not to be JSON)");

    let depth = |n: usize| {
        let mut s = String::from("1");
        for _ in 0..n {
            s = format!("[{s}]");
        }
        format!("{{\"metadata\":{{\"name\":\"deep\"}},\"spec\":{{\"x\":{s}}}}}")
    };
    let max = apiserver::decode::MAX_BODY_DEPTH;
    let e = c.request(Method::POST, PODS, Some((depth(max).into_bytes(), "application/json"))).await.unwrap_err();
    assert!(e.message.contains("deeper than the limit"), "{}", e.message);
    let e = c.request(Method::POST, PODS, Some((depth(max - 3).into_bytes(), "application/json"))).await.unwrap_err();
    assert!(!e.message.contains("deeper than the limit"), "{}", e.message);
}

#[tokio::test]
async fn yaml_generate_name_and_stale_updates() {
    let c = start(100).await;
    let yaml = "apiVersion: v1\nkind: Pod\nmetadata:\n  generateName: web-\nspec:\n  containers:\n  - name: c\n    image: busybox:1\n";
    let created = c.request(Method::POST, PODS, Some((yaml.as_bytes().to_vec(), "application/yaml"))).await.unwrap();
    let name = created["metadata"]["name"].as_str().unwrap().to_string();
    assert!(name.starts_with("web-") && name.len() == 9, "{name}");
    let rv = created["metadata"]["resourceVersion"].as_str().unwrap().to_string();

    let mut upd = created.clone();
    upd["metadata"]["labels"] = json!({"a": "b"});
    let updated = c.request(Method::PUT, &format!("{PODS}/{name}"), Some((serde_json::to_vec(&upd).unwrap(), "application/json"))).await.unwrap();
    assert_ne!(updated["metadata"]["resourceVersion"].as_str().unwrap(), rv);
    // The same stale body again: 409 Conflict.
    let e = c.request(Method::PUT, &format!("{PODS}/{name}"), Some((serde_json::to_vec(&upd).unwrap(), "application/json"))).await.unwrap_err();
    assert_eq!((e.code, e.reason), (409, "Conflict"));

}

#[tokio::test]
async fn selectors_and_pagination_return_each_item_once() {
    let c = start(100).await;
    for i in 0..7 {
        post(&c, PODS, &pod(&format!("p{i}"), json!({"tier": if i % 2 == 0 { "even" } else { "odd" }}))).await.unwrap();
    }
    let sel = ListOptions { label_selector: "tier=even".into(), ..Default::default() };
    let (items, _) = c.list(Kind::Pod, "default", &sel).await.unwrap();
    assert_eq!(items.len(), 4);
    let (items, _) = c.list(Kind::Pod, "default", &ListOptions { field_selector: "metadata.name=p3".into(), ..Default::default() }).await.unwrap();
    assert_eq!(items.len(), 1);
    let e = c.request(Method::GET, &format!("{PODS}?fieldSelector=spec.bogus%3D1"), None).await.unwrap_err();
    assert_eq!(e.code, 400);
    assert!(e.message.contains("field label not supported"), "{}", e.message);

    let mut names = Vec::new();
    let mut cont = String::new();
    loop {
        let v = c.request(Method::GET, &format!("{PODS}?limit=3&continue={cont}"), None).await.unwrap();
        let page = v["items"].as_array().unwrap();
        assert!(page.len() <= 3);
        names.extend(page.iter().map(|p| p["metadata"]["name"].as_str().unwrap().to_string()));
        cont = v["metadata"]["continue"].as_str().unwrap_or("").to_string();
        if cont.is_empty() {
            break;
        }
    }
    assert_eq!(names, (0..7).map(|i| format!("p{i}")).collect::<Vec<_>>());
}

#[tokio::test]
async fn a_watch_from_a_list_sees_every_later_change_once_in_order() {
    let c = start(100).await;
    post(&c, PODS, &pod("before", json!({}))).await.unwrap();
    let (_, rv) = c.list(Kind::Pod, "default", &ListOptions::default()).await.unwrap();
    let mut w = c.watch(Kind::Pod, "default", &ListOptions::default(), &rv, 30).await.unwrap();
    post(&c, PODS, &pod("a", json!({}))).await.unwrap();
    c.patch(Kind::Pod, "default", "a", "application/merge-patch+json", &json!({"metadata": {"labels": {"x": "y"}}})).await.unwrap();
    c.request(Method::DELETE, &format!("{PODS}/a"), None).await.unwrap();
    let mut seen = Vec::new();
    let mut last_rv = rv.parse::<u64>().unwrap();
    while seen.len() < 3 {
        match tokio::time::timeout(Duration::from_secs(10), w.next()).await.expect("event in time").unwrap().unwrap() {
            WatchEvent::Added(o) | WatchEvent::Modified(o) | WatchEvent::Deleted(o) if o.meta().name == "before" => panic!("saw a change from before the list"),
            WatchEvent::Added(o) => seen.push(("ADDED", o)),
            WatchEvent::Modified(o) => seen.push(("MODIFIED", o)),
            WatchEvent::Deleted(o) => seen.push(("DELETED", o)),
            WatchEvent::Bookmark(b) => assert!(b.parse::<u64>().unwrap() >= last_rv),
            WatchEvent::Error(e) => panic!("{e}"),
        }
        if let Some((_, o)) = seen.last() {
            let r = o.meta().revision();
            assert!(r > last_rv, "resourceVersions increase");
            last_rv = r;
        }
    }
    let kinds: Vec<&str> = seen.iter().map(|(k, _)| *k).collect();
    assert_eq!(kinds, ["ADDED", "MODIFIED", "DELETED"]);
    // Nothing else follows but bookmarks.
    if let Ok(Some(Ok(ev))) = tokio::time::timeout(Duration::from_millis(400), w.next()).await {
        assert!(matches!(ev, WatchEvent::Bookmark(_)), "unexpected {ev:?}");
    }
}

#[tokio::test]
async fn a_watch_from_a_compacted_revision_gets_410() {
    let c = start(2).await;
    for i in 0..5 {
        post(&c, PODS, &pod(&format!("p{i}"), json!({}))).await.unwrap();
    }
    let mut w = c.watch(Kind::Pod, "default", &ListOptions::default(), "1", 30).await.unwrap();
    match w.next().await.unwrap().unwrap() {
        WatchEvent::Error(e) => assert_eq!((e.code, e.reason), (410, "Expired")),
        other => panic!("expected a 410 ERROR event, got {other:?}"),
    }
    // `/metrics` counts the requests by client and verb, and the 410 apart.
    c.list(Kind::Pod, "default", &ListOptions::default()).await.unwrap();
    let text = String::from_utf8(c.request_bytes(Method::GET, "/metrics", None).await.unwrap().to_vec()).unwrap();
    let samples = apiserver::metrics::parse(&text);
    let value = |name: &str, want: &[(&str, &str)]| samples.iter().filter(|(n, l, _)| n == name && want.iter().all(|(k, v)| l.get(*k).map(String::as_str) == Some(*v))).map(|s| s.2).sum::<u64>();
    assert_eq!(value("podchain_apiserver_requests_total", &[("client", "apiserver-test"), ("verb", "POST"), ("resource", "pods"), ("code", "201")]), 5, "{text}");
    assert_eq!(value("podchain_apiserver_requests_total", &[("client", "apiserver-test"), ("verb", "WATCH"), ("resource", "pods")]), 1, "{text}");
    assert_eq!(value("podchain_apiserver_requests_total", &[("client", "apiserver-test"), ("verb", "LIST"), ("resource", "pods")]), 1, "{text}");
    assert_eq!(value("podchain_apiserver_watch_expired_total", &[("client", "apiserver-test"), ("resource", "pods")]), 1, "{text}");
}

/// A kubelet's watch (`spec.nodeName=<node>`) is delivered through the
/// pod cache's node index: it sees its node's pods bound and deleted, none
/// of another node's, and is not woken by another node's: those events
/// pass through its 5-event window while it sleeps, with its cursor still
/// before them, and do not cut it off (only an event of its own lost would).
#[tokio::test]
async fn a_node_watch_gets_its_nodes_pods_and_outlives_other_nodes_churn() {
    let c = start(5).await;
    post(&c, PODS, &pod("mine", json!({}))).await.unwrap();
    let (_, rv) = c.list(Kind::Pod, "default", &ListOptions::default()).await.unwrap();
    let on_n1 = ListOptions { field_selector: "spec.nodeName=n1".into(), ..Default::default() };
    let mut w = c.watch(Kind::Pod, "", &on_n1, &rv, 30).await.unwrap();
    for i in 0..10 {
        post(&c, PODS, &pod(&format!("other{i}"), json!({}))).await.unwrap();
        let uid = c.get(Kind::Pod, "default", &format!("other{i}")).await.unwrap().meta().uid.clone();
        c.bind("default", &format!("other{i}"), &uid, "n2").await.unwrap();
    }
    let uid = c.get(Kind::Pod, "default", "mine").await.unwrap().meta().uid.clone();
    c.bind("default", "mine", &uid, "n1").await.unwrap();
    c.request(Method::DELETE, &format!("{PODS}/mine"), None).await.unwrap();
    let mut seen = Vec::new();
    while seen.len() < 2 {
        match w.next().await.unwrap().unwrap() {
            WatchEvent::Added(o) => seen.push(("ADDED", o.meta().name.clone())),
            WatchEvent::Modified(o) => seen.push(("MODIFIED", o.meta().name.clone())),
            WatchEvent::Deleted(o) => seen.push(("DELETED", o.meta().name.clone())),
            WatchEvent::Bookmark(_) => {}
            WatchEvent::Error(e) => panic!("the node watch was cut off: {e:?}"),
        }
    }
    assert_eq!(seen, vec![("ADDED", "mine".to_string()), ("MODIFIED", "mine".to_string())], "bound to n1, then marked for deletion");
}

#[tokio::test]
async fn binding_is_once_and_bound_pods_are_deleted_gracefully() {
    let c = start(100).await;
    post(&c, PODS, &pod("b", json!({}))).await.unwrap();
    let binding = json!({"apiVersion": "v1", "kind": "Binding", "metadata": {"name": "b"}, "target": {"kind": "Node", "name": "n1"}});
    post(&c, &format!("{PODS}/b/binding"), &binding).await.unwrap();
    let e = post(&c, &format!("{PODS}/b/binding"), &binding).await.unwrap_err();
    assert_eq!(e.code, 409);
    let p = c.get(Kind::Pod, "default", "b").await.unwrap();
    assert_eq!(p.as_pod().unwrap().spec.node_name, "n1");

    let marked = c.request(Method::DELETE, &format!("{PODS}/b"), None).await.unwrap();
    assert!(marked["metadata"]["deletionTimestamp"].is_string());
    assert_eq!(marked["metadata"]["deletionGracePeriodSeconds"], json!(30));
    c.request(Method::DELETE, &format!("{PODS}/b"), Some((br#"{"gracePeriodSeconds":0}"#.to_vec(), "application/json"))).await.unwrap();
    assert_eq!(c.request(Method::GET, &format!("{PODS}/b"), None).await.unwrap_err().code, 404);
}

#[tokio::test]
async fn json_patch_and_scale_subresource() {
    let c = start(100).await;
    let d = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"},
        "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "d"}}, "template": {"metadata": {"labels": {"app": "d"}}, "spec": {"containers": [{"name": "c", "image": "i:1"}]}}}});
    post(&c, "/apis/apps/v1/namespaces/default/deployments", &d).await.unwrap();
    let ops = json!([{"op": "replace", "path": "/spec/replicas", "value": 4}]);
    let out = c.request(Method::PATCH, "/apis/apps/v1/namespaces/default/deployments/d", Some((serde_json::to_vec(&ops).unwrap(), "application/json-patch+json"))).await.unwrap();
    assert_eq!(out["spec"]["replicas"], json!(4));
    assert_eq!(out["metadata"]["generation"], json!(2));
    let scale = c.request(Method::GET, "/apis/apps/v1/namespaces/default/deployments/d/scale", None).await.unwrap();
    assert_eq!((scale["kind"].as_str(), scale["apiVersion"].as_str(), scale["spec"]["replicas"].as_i64()), (Some("Scale"), Some("autoscaling/v1"), Some(4)));
    assert_eq!(scale["status"]["selector"], json!("app=d"));
    let e = c.request(Method::PATCH, "/apis/apps/v1/namespaces/default/deployments/d", Some((b"{}".to_vec(), "application/apply-patch+yaml"))).await.unwrap_err();
    assert_eq!(e.code, 415);
}

/// One raw HTTP/1.1 request; the status line and headers, and the body.
async fn raw(c: &Client, method: &str, path: &str, content_type: &str, body: &str) -> (String, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = c.base().trim_start_matches("http://").to_string();
    let mut s = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let req = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len());
    s.write_all(req.as_bytes()).await.unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).await.unwrap();
    let (head, body) = out.split_once("\r\n\r\n").unwrap();
    (head.to_string(), body.to_string())
}

#[tokio::test]
async fn unknown_fields_warn_by_default_fail_under_strict_and_are_silent_under_ignore() {
    let c = start(100).await;
    let body = |name: &str| json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}, "spec": {"nodeNme": "x", "volumes": [{"name": "v", "emptyDir": {}}], "containers": [{"name": "c", "image": "i", "imagePullPolicyy": "Never"}]}}).to_string();
    // Warn (the default): created, with one Warning header per field.
    let (head, _) = raw(&c, "POST", PODS, "application/json", &body("warned")).await;
    assert!(head.starts_with("HTTP/1.1 201"), "{head}");
    assert!(head.contains(r#"unknown field \"spec.nodeNme\""#), "{head}");
    assert!(head.contains(r#"unknown field \"spec.containers[0].imagePullPolicyy\""#), "{head}");
    assert!(!head.contains("volumes"), "fields podchain carries without modelling are known: {head}");
    // As upstream, what was only warned about is not stored; known fields are.
    let stored = c.get(Kind::Pod, "default", "warned").await.unwrap().to_value();
    assert!(stored["spec"].get("nodeNme").is_none() && stored["spec"]["containers"][0].get("imagePullPolicyy").is_none(), "{stored}");
    assert_eq!(stored["spec"]["volumes"][0]["emptyDir"], json!({}));
    // Strict: 400 naming every path; nothing stored.
    let (head, resp) = raw(&c, "POST", &format!("{PODS}?fieldValidation=Strict"), "application/json", &body("strict")).await;
    assert!(head.starts_with("HTTP/1.1 400"), "{head}");
    assert!(resp.contains("spec.nodeNme") && resp.contains("spec.containers[0].imagePullPolicyy"), "{resp}");
    assert_eq!(c.get(Kind::Pod, "default", "strict").await.unwrap_err().code, 404);
    // Ignore: created, no warning.
    let (head, _) = raw(&c, "POST", &format!("{PODS}?fieldValidation=Ignore"), "application/json", &body("ignored")).await;
    assert!(head.starts_with("HTTP/1.1 201") && !head.to_lowercase().contains("warning"), "{head}");
    // Merge patches are checked too: a warning by default, 400 under Strict.
    let (head, _) = raw(&c, "PATCH", &format!("{PODS}/warned"), "application/merge-patch+json", r#"{"metadata":{"labelz":{"a":"b"}}}"#).await;
    assert!(head.starts_with("HTTP/1.1 200") && head.contains("metadata.labelz"), "{head}");
    assert!(c.get(Kind::Pod, "default", "warned").await.unwrap().to_value()["metadata"].get("labelz").is_none());
    // A patch that sets an unknown field to null removes it, so Strict lets it through.
    let (head, _) = raw(&c, "PATCH", &format!("{PODS}/warned?fieldValidation=Strict"), "application/strategic-merge-patch+json", r#"{"spec":{"containers":[{"name":"c","imagePullPolicyy":null}]}}"#).await;
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    let (head, _) = raw(&c, "PATCH", &format!("{PODS}/warned?fieldValidation=Strict"), "application/strategic-merge-patch+json", r#"{"spec":{"containers":[{"name":"c","imag":"j"}]}}"#).await;
    assert!(head.starts_with("HTTP/1.1 400"), "{head}");
}

#[tokio::test]
async fn openapi_v3_index_points_at_a_document_per_group_version() {
    let c = start(100).await;
    let index = c.request(Method::GET, "/openapi/v3", None).await.unwrap();
    let paths = index["paths"].as_object().expect("paths");
    for gv in ["api/v1", "apis/apps/v1", "apis/coordination.k8s.io/v1"] {
        let url = paths[gv]["serverRelativeURL"].as_str().unwrap();
        let doc = c.request(Method::GET, url, None).await.unwrap();
        assert_eq!(doc["openapi"], "3.0.0", "{gv}");
        assert!(!doc["paths"].as_object().unwrap().is_empty(), "{gv}");
    }
    let deployments = c.request(Method::GET, "/openapi/v3/apis/apps/v1", None).await.unwrap();
    let patch = &deployments["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}"]["patch"];
    assert_eq!(patch["x-kubernetes-group-version-kind"], json!({"group": "apps", "version": "v1", "kind": "Deployment"}));
    assert!(patch["parameters"].as_array().unwrap().iter().any(|p| p["name"] == "fieldValidation"));
    let missing = c.request(Method::GET, "/openapi/v3/apis/batch/v1", None).await.unwrap_err();
    assert_eq!(missing.code, 404);
}

#[tokio::test]
async fn delete_options_and_evictions_decode_from_json_yaml_or_kubectls_protobuf() {
    let c = start(100).await;
    for name in ["p", "q", "r"] {
        post(&c, PODS, &pod(name, json!({}))).await.unwrap();
    }
    // A protobuf body that is cut short: 400 saying what is wrong; nothing deleted.
    let (head, body) = raw(&c, "DELETE", &format!("{PODS}/p"), "application/vnd.kubernetes.protobuf", "k8s\0\n\x0c\n\x02v1").await;
    assert!(head.starts_with("HTTP/1.1 400") && body.contains("unable to decode the protobuf body"), "{head}{body}");
    assert!(c.get(Kind::Pod, "default", "p").await.is_ok());
    // DeleteOptions {gracePeriodSeconds: 0} in protobuf, as kubectl's typed clientset sends it.
    let (head, _) = raw(&c, "DELETE", &format!("{PODS}/p"), "application/vnd.kubernetes.protobuf", "k8s\0\n\x13\n\x02v1\x12\x0dDeleteOptions\x12\x02\x08\x00").await;
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert_eq!(c.get(Kind::Pod, "default", "p").await.unwrap_err().code, 404);
    // Other protobuf bodies are still refused, saying so.
    let (head, _) = raw(&c, "POST", PODS, "application/vnd.kubernetes.protobuf", "k8s\0").await;
    assert!(head.starts_with("HTTP/1.1 415"), "{head}");
    // YAML delete options are read like YAML objects.
    let (head, _) = raw(&c, "DELETE", &format!("{PODS}/q"), "application/yaml", "kind: DeleteOptions\napiVersion: v1\ngracePeriodSeconds: 0\n").await;
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    // An Eviction names its pod; with no disruption budgets it is the pod's deletion.
    let eviction = |name: &str| json!({"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": name, "namespace": "default"}, "deleteOptions": {"gracePeriodSeconds": 0}}).to_string();
    let (head, _) = raw(&c, "POST", &format!("{PODS}/r/eviction"), "application/json", &eviction("other")).await;
    assert!(head.starts_with("HTTP/1.1 400"), "{head}");
    let (head, body) = raw(&c, "POST", &format!("{PODS}/r/eviction"), "application/json", &eviction("r")).await;
    assert!(head.starts_with("HTTP/1.1 201") && body.contains("Success"), "{head}{body}");
    assert_eq!(c.get(Kind::Pod, "default", "r").await.unwrap_err().code, 404);
    let (head, _) = raw(&c, "POST", &format!("{PODS}/r/eviction"), "application/json", &eviction("r")).await;
    assert!(head.starts_with("HTTP/1.1 404"), "{head}");
}

/// `limit=` past `MAX_LIST_LIMIT` is served as `MAX_LIST_LIMIT`, with a
/// continue token for the rest; the next page holds exactly what remains.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_pages_are_bounded_at_max_list_limit() {
    use apiserver::http::MAX_LIST_LIMIT;
    let store: Arc<dyn podstore::Store> = Arc::new(podstore::Embedded::in_memory());
    let reg = Registry::open(store, 100, 300).unwrap();
    reg.bootstrap().unwrap();
    // One more Lease than a page holds, written through the registry directly.
    for i in 0..=MAX_LIST_LIMIT {
        let mut l = podcore::types::Lease::default();
        l.metadata.name = format!("l{i:05}");
        reg.create("default", podcore::object::Object::Lease(l), Mode::Commit).unwrap();
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(apiserver::serve_on(listener, reg, addr.to_string(), Default::default()));
    let c = Client::new(&format!("http://{addr}"), None, "apiserver-test");
    let leases = "/apis/coordination.k8s.io/v1/namespaces/default/leases";
    let page = c.request(Method::GET, &format!("{leases}?limit={}", MAX_LIST_LIMIT + 1), None).await.unwrap();
    assert_eq!(page["items"].as_array().unwrap().len(), MAX_LIST_LIMIT);
    let cont = page["metadata"]["continue"].as_str().expect("a continue token for the rest").to_string();
    let rest = c.request(Method::GET, &format!("{leases}?limit={MAX_LIST_LIMIT}&continue={cont}"), None).await.unwrap();
    assert_eq!(rest["items"].as_array().unwrap().len(), 1);
    assert_eq!(rest["metadata"]["continue"].as_str().unwrap_or(""), "");
    let all = c.request(Method::GET, &format!("{leases}?limit={MAX_LIST_LIMIT}"), None).await.unwrap();
    assert_eq!(all["items"].as_array().unwrap().len(), MAX_LIST_LIMIT, "exactly at the limit");
}

/// A store whose next `conflicts` updates fail as if another writer got there
/// first, and whose commits, while `feed_paused`, are not announced to the
/// watch caches (so they fall behind the store, as when writes race).
/// Besides, while `history_lost`, `events_since` answers "compacted" (the
/// feed has fallen behind the history), and the next `snapshot_misses`
/// `range_at`s answer that the revision is gone (the store moved on), and
/// the next `lost_answers` writes take effect but answer with an IO error
/// (etcd applied the transaction, its answer was lost).
struct Contended {
    inner: podstore::Embedded,
    conflicts: std::sync::atomic::AtomicUsize,
    lost_answers: std::sync::atomic::AtomicUsize,
    feed_paused: Arc<std::sync::atomic::AtomicBool>,
    history_lost: std::sync::atomic::AtomicBool,
    snapshot_misses: std::sync::atomic::AtomicUsize,
}

impl Contended {
    fn new() -> Contended {
        Contended { inner: podstore::Embedded::in_memory(), conflicts: 0.into(), lost_answers: 0.into(), feed_paused: Arc::default(), history_lost: false.into(), snapshot_misses: 0.into() }
    }
}

impl Contended {
    /// A write's answer, or the IO error of a lost answer.
    fn answer<T>(&self, r: Result<T, podstore::StoreError>) -> Result<T, podstore::StoreError> {
        use std::sync::atomic::Ordering;
        if r.is_ok() && self.lost_answers.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1)).is_ok() {
            return Err(podstore::StoreError::Io("the connection to the member was reset".into()));
        }
        r
    }
}

impl podstore::Store for Contended {
    fn get(&self, key: &str) -> Result<Option<podstore::KeyValue>, podstore::StoreError> {
        self.inner.get(key)
    }
    fn range(&self, prefix: &str, start_after: &str, limit: usize) -> Result<podstore::RangeResult, podstore::StoreError> {
        self.inner.range(prefix, start_after, limit)
    }
    fn create(&self, key: &str, value: Vec<u8>) -> Result<podstore::Revision, podstore::StoreError> {
        self.answer(self.inner.create(key, value))
    }
    fn update(&self, key: &str, value: Vec<u8>, expected: podstore::Revision) -> Result<podstore::Revision, podstore::StoreError> {
        use std::sync::atomic::Ordering;
        if self.conflicts.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1)).is_ok() {
            let current = self.inner.get(key)?.ok_or(podstore::StoreError::NotFound)?;
            return Err(podstore::StoreError::Conflict { current: Box::new(current) });
        }
        self.answer(self.inner.update(key, value, expected))
    }
    fn delete(&self, key: &str, expected: podstore::Revision) -> Result<(podstore::Revision, podstore::KeyValue), podstore::StoreError> {
        self.answer(self.inner.delete(key, expected))
    }
    fn range_at(&self, prefix: &str, revision: podstore::Revision) -> Result<podstore::RangeResult, podstore::StoreError> {
        use std::sync::atomic::Ordering;
        if self.snapshot_misses.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1)).is_ok() {
            return Err(podstore::StoreError::Compacted { compacted: revision + 1 });
        }
        self.inner.range_at(prefix, revision)
    }
    fn events_since(&self, after: podstore::Revision, limit: usize) -> Result<Vec<podstore::Event>, podstore::StoreError> {
        if self.history_lost.load(std::sync::atomic::Ordering::SeqCst) {
            return Err(podstore::StoreError::Compacted { compacted: self.inner.revision() });
        }
        self.inner.events_since(after, limit)
    }
    fn revision(&self) -> podstore::Revision {
        self.inner.revision()
    }
    fn compact(&self, revision: podstore::Revision) -> Result<(), podstore::StoreError> {
        self.inner.compact(revision)
    }
    fn subscribe(&self, notify: Arc<dyn Fn() + Send + Sync>) {
        let paused = self.feed_paused.clone();
        self.inner.subscribe(Arc::new(move || {
            if !paused.load(std::sync::atomic::Ordering::SeqCst) {
                notify()
            }
        }))
    }
}

/// A feed that fell behind the store's history reloads the caches at one
/// revision, again when the store has moved past it, up to
/// `MAX_RELIST_ATTEMPTS` times; past them it leaves the caches and tries
/// again at the next write.
#[test]
fn a_relist_is_tried_up_to_max_relist_attempts() {
    use apiserver::registry::MAX_RELIST_ATTEMPTS;
    use std::sync::atomic::Ordering;
    let store = Arc::new(Contended::new());
    let reg = Registry::open(store.clone(), 100, 300).unwrap();
    reg.bootstrap().unwrap();
    let lease = |name: &str| {
        let mut l = podcore::types::Lease::default();
        l.metadata.name = name.into();
        podcore::object::Object::Lease(l)
    };
    // Written while the caches are not told: they miss it until a relist.
    let missed = |name: &str| {
        store.feed_paused.store(true, Ordering::SeqCst);
        reg.create("default", lease(name), Mode::Commit).unwrap();
        store.feed_paused.store(false, Ordering::SeqCst);
        assert!(reg.get(Kind::Lease, "default", name).is_err());
    };
    missed("a");
    store.history_lost.store(true, Ordering::SeqCst);
    store.snapshot_misses.store(MAX_RELIST_ATTEMPTS - 1, Ordering::SeqCst);
    reg.feed();
    assert!(reg.get(Kind::Lease, "default", "a").is_ok(), "the last attempt reloads the caches");

    missed("b");
    store.snapshot_misses.store(MAX_RELIST_ATTEMPTS, Ordering::SeqCst);
    reg.feed();
    assert_eq!(store.snapshot_misses.load(Ordering::SeqCst), 0, "every attempt was made");
    assert!(reg.get(Kind::Lease, "default", "b").is_err(), "past the attempts the caches are left as they were");
    reg.feed();
    assert!(reg.get(Kind::Lease, "default", "b").is_ok(), "the next feed relists");
}

/// A patch is retried on conflict: it lands after `MAX_CONFLICT_RETRIES - 1`
/// conflicts, and fails with 409 after `MAX_CONFLICT_RETRIES`.
#[test]
fn patches_retry_conflicts_up_to_max_conflict_retries() {
    use apiserver::registry::MAX_CONFLICT_RETRIES;
    use std::sync::atomic::Ordering;
    let store = Arc::new(Contended::new());
    let reg = Registry::open(store.clone(), 100, 300).unwrap();
    reg.bootstrap().unwrap();
    let mut l = podcore::types::Lease::default();
    l.metadata.name = "l".into();
    reg.create("default", podcore::object::Object::Lease(l), Mode::Commit).unwrap();
    let patch = |holder: &str| reg.patch(Kind::Lease, "default", "l", podcore::patch::PatchType::Merge, &json!({"spec": {"holderIdentity": holder}}), podcore::admission::UpdateTarget::Main, Mode::Commit);
    store.conflicts.store(MAX_CONFLICT_RETRIES - 1, Ordering::SeqCst);
    let o = patch("a").expect("lands on the last attempt");
    assert_eq!(o.as_lease().unwrap().spec.holder_identity.as_deref(), Some("a"));
    store.conflicts.store(MAX_CONFLICT_RETRIES, Ordering::SeqCst);
    let e = patch("b").unwrap_err();
    assert_eq!((e.code, e.reason), (409, "Conflict"), "{e}");
    assert_eq!(store.conflicts.load(Ordering::SeqCst), 0, "every attempt was made");
}

/// A write whose outcome the store cannot tell (applied, its answer lost)
/// is answered as failed, 500, and not decided again: a delete decided
/// again would find the object gone and answer NotFound, a create
/// AlreadyExists, an update Conflict — each a lie about a write that took
/// effect. Found by the crash test with an etcd member killed
/// (`tests/tests/crash.rs`, seed 2).
#[test]
fn a_write_whose_answer_is_lost_is_a_failure_not_decided_again() {
    use podcore::admission::UpdateTarget;
    use std::sync::atomic::Ordering;
    let store = Arc::new(Contended::new());
    let reg = Registry::open(store.clone(), 100, 300).unwrap();
    reg.bootstrap().unwrap();
    let lease = |name: &str| {
        let mut l = podcore::types::Lease::default();
        l.metadata.name = name.into();
        podcore::object::Object::Lease(l)
    };
    store.lost_answers.store(1, Ordering::SeqCst);
    let e = reg.create("default", lease("a"), Mode::Commit).unwrap_err();
    assert_eq!(e.code, 500, "{e}");
    let mut l = reg.get(Kind::Lease, "default", "a").expect("the create took effect");
    store.lost_answers.store(1, Ordering::SeqCst);
    l.meta_mut().labels.insert("x".into(), "y".into());
    let e = reg.update(Kind::Lease, "default", "a", l, UpdateTarget::Main, Mode::Commit).unwrap_err();
    assert_eq!(e.code, 500, "{e}");
    assert_eq!(reg.get(Kind::Lease, "default", "a").unwrap().meta().labels.get("x").map(String::as_str), Some("y"), "the update took effect");
    store.lost_answers.store(1, Ordering::SeqCst);
    let e = reg.delete(Kind::Lease, "default", "a", &Default::default(), Mode::Commit).unwrap_err();
    assert_eq!(e.code, 500, "{e}");
    assert!(reg.get(Kind::Lease, "default", "a").is_err(), "the delete took effect");
}

/// A write is decided first on the watch cache; when the cache is behind the
/// store, what it decided is not kept: an update that conflicts, an update of
/// an object the cache does not have yet, a no-op against an old object and a
/// patch pinned to the store's resourceVersion are all decided again on the
/// store's objects, and land as if the cache had been current.
#[test]
fn writes_decided_on_a_watch_cache_behind_the_store_are_decided_again_on_the_store() {
    use podcore::admission::UpdateTarget;
    use podcore::object::Object;
    use std::sync::atomic::Ordering;
    let store = Arc::new(Contended::new());
    let reg = Registry::open(store.clone(), 100, 300).unwrap();
    reg.bootstrap().unwrap();
    let lease = |name: &str, holder: &str| {
        let mut l = podcore::types::Lease::default();
        l.metadata.name = name.into();
        l.spec.holder_identity = Some(holder.into());
        Object::Lease(l)
    };
    let holder = |o: &Object| o.as_lease().unwrap().spec.holder_identity.clone().unwrap_or_default();
    let at_store = |name: &str| reg.store.get(&Kind::Lease.key("default", name)).unwrap().expect("stored").mod_revision;
    reg.create("default", lease("l", "a"), Mode::Commit).unwrap();
    store.feed_paused.store(true, Ordering::SeqCst);
    // Not fed: the cache still shows `l` held by "a", and no `m`.
    reg.update(Kind::Lease, "default", "l", lease("l", "b"), UpdateTarget::Main, Mode::Commit).unwrap();
    reg.create("default", lease("m", "a"), Mode::Commit).unwrap();
    assert_eq!(holder(&reg.get(Kind::Lease, "default", "l").unwrap()), "a", "the cache is behind");
    let o = reg.update(Kind::Lease, "default", "l", lease("l", "c"), UpdateTarget::Main, Mode::Commit).expect("the cache's conflict is decided again");
    assert_eq!((holder(&o), o.meta().revision()), ("c".to_string(), at_store("l")));
    let o = reg.update(Kind::Lease, "default", "m", lease("m", "b"), UpdateTarget::Main, Mode::Commit).expect("not in the cache yet, but in the store");
    assert_eq!((holder(&o), o.meta().revision()), ("b".to_string(), at_store("m")));
    // The same holder as the store's: a no-op there, though not against the cache.
    let rev = at_store("l");
    let o = reg.update(Kind::Lease, "default", "l", lease("l", "c"), UpdateTarget::Main, Mode::Commit).unwrap();
    assert_eq!((holder(&o), o.meta().revision(), at_store("l")), ("c".to_string(), rev, rev), "a no-op, as the store's object says");
    // What the cache shows already: a no-op against the cache, a change in the store.
    let o = reg.update(Kind::Lease, "default", "l", lease("l", "a"), UpdateTarget::Main, Mode::Commit).unwrap();
    assert_eq!(holder(&o), "a");
    assert!(o.meta().revision() > rev && o.meta().revision() == at_store("l"), "written, not taken for a no-op");
    let rev = at_store("l");
    let pinned = json!({"metadata": {"resourceVersion": rev.to_string()}, "spec": {"holderIdentity": "d"}});
    let o = reg.patch(Kind::Lease, "default", "l", podcore::patch::PatchType::Merge, &pinned, UpdateTarget::Main, Mode::Commit).expect("pinned to the store's version, which the cache has not seen");
    assert_eq!(holder(&o), "d");
    // Fed again, the cache catches up with every write.
    store.feed_paused.store(false, Ordering::SeqCst);
    reg.feed();
    assert_eq!(holder(&reg.get(Kind::Lease, "default", "l").unwrap()), "d");
    assert_eq!(holder(&reg.get(Kind::Lease, "default", "m").unwrap()), "b");
}

/// An oversized body whose length is announced is read and discarded (up to
/// `MAX_DRAIN_BYTES`, for at most `MAX_DRAIN_TIME`) before the 413, so a
/// client that writes its whole body first still reads the status; past
/// `MAX_DRAIN_BYTES` the 413 comes at once, nothing read.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_bodies_are_drained_within_their_bounds() {
    use apiserver::http::{MAX_DRAIN_BYTES, MAX_DRAIN_TIME};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let store: Arc<dyn podstore::Store> = Arc::new(podstore::Embedded::in_memory());
    let reg = Registry::open(store, 100, 300).unwrap();
    reg.bootstrap().unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(apiserver::serve_on(listener, reg, addr.to_string(), Default::default()));
    let request = |len: usize| format!("POST {PODS} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {len}\r\n\r\n");
    let status_of = |mut s: tokio::net::TcpStream| async move {
        let mut buf = vec![0u8; 64];
        let n = s.read(&mut buf).await.unwrap();
        String::from_utf8_lossy(&buf[..n]).lines().next().unwrap_or("").to_string()
    };
    // At the drain bound: the whole body is written, then the 413 read.
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(request(MAX_DRAIN_BYTES).as_bytes()).await.unwrap();
    s.write_all(&vec![b' '; MAX_DRAIN_BYTES]).await.unwrap();
    assert_eq!(status_of(s).await, "HTTP/1.1 413 Payload Too Large");
    // Past it: answered at once without reading (no body is ever sent).
    let started = std::time::Instant::now();
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(request(MAX_DRAIN_BYTES + 1).as_bytes()).await.unwrap();
    assert_eq!(status_of(s).await, "HTTP/1.1 413 Payload Too Large");
    assert!(started.elapsed() < MAX_DRAIN_TIME, "not drained: {:?}", started.elapsed());
    // A client that announces a drainable body and never sends it is waited for
    // MAX_DRAIN_TIME, then answered.
    let started = std::time::Instant::now();
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(request(MAX_DRAIN_BYTES).as_bytes()).await.unwrap();
    assert_eq!(status_of(s).await, "HTTP/1.1 413 Payload Too Large");
    let waited = started.elapsed();
    assert!(waited >= MAX_DRAIN_TIME && waited < MAX_DRAIN_TIME + Duration::from_secs(5), "waited {waited:?}");
}

/// `dryRun=All` on every write verb: the whole decision is taken and its
/// result answered (defaults, generated names, validation, preconditions),
/// and nothing is stored: the store's revision does not move, so no
/// watcher hears of it. Any other value is refused as upstream refuses it.
#[tokio::test]
async fn dry_runs_decide_every_write_and_store_nothing() {
    let c = start(100).await;
    post(&c, PODS, &pod("p", json!({"app": "a"}))).await.unwrap();
    let revision = |c: &Client| {
        let c = c.clone();
        async move { c.list(Kind::Pod, "", &ListOptions::default()).await.unwrap().1 }
    };
    let before = revision(&c).await;
    let dry = |path: &str| format!("{path}?dryRun=All");

    // POST: defaulted and named as it would be; no resourceVersion, as nothing was stored.
    let mut gen = pod("", json!({}));
    gen["metadata"] = json!({"generateName": "g-"});
    let out = post(&c, &dry(PODS), &gen).await.unwrap();
    let name = out["metadata"]["name"].as_str().unwrap().to_string();
    assert!(name.starts_with("g-") && name.len() > 2, "{out}");
    assert!(out["metadata"]["uid"].as_str().is_some_and(|u| !u.is_empty()));
    assert_eq!(out["metadata"].get("resourceVersion"), None, "{out}");
    assert_eq!(out["spec"]["restartPolicy"], json!("Always"), "defaults are applied");
    assert_eq!(c.get(Kind::Pod, "default", &name).await.unwrap_err().code, 404);
    // Validation runs: the invalid pod is refused with its field, dry or not.
    let mut bad = pod("bad", json!({}));
    bad["spec"]["containers"][0]["image"] = json!("");
    let e = post(&c, &dry(PODS), &bad).await.unwrap_err();
    assert_eq!(e.code, 422);
    assert!(e.details.unwrap().causes.iter().any(|c| c.field == "spec.containers[0].image"));
    // A create of a name that exists is refused as it would be.
    assert_eq!(post(&c, &dry(PODS), &pod("p", json!({}))).await.unwrap_err().code, 409);

    // PUT and PATCH answer with the changed object; the stored one is unchanged.
    let cur = c.request(Method::GET, &format!("{PODS}/p"), None).await.unwrap();
    let mut changed = cur.clone();
    changed["metadata"]["labels"]["app"] = json!("b");
    let out = c.request(Method::PUT, &dry(&format!("{PODS}/p")), Some((serde_json::to_vec(&changed).unwrap(), "application/json"))).await.unwrap();
    assert_eq!((out["metadata"]["labels"]["app"].as_str(), out["metadata"]["resourceVersion"].as_str()), (Some("b"), cur["metadata"]["resourceVersion"].as_str()));
    let mut stale = changed.clone();
    stale["metadata"]["resourceVersion"] = json!("1");
    let e = c.request(Method::PUT, &dry(&format!("{PODS}/p")), Some((serde_json::to_vec(&stale).unwrap(), "application/json"))).await.unwrap_err();
    assert_eq!(e.code, 409, "a stale resourceVersion conflicts in a dry run too");
    let out = c.request(Method::PATCH, &dry(&format!("{PODS}/p")), Some((br#"{"metadata":{"labels":{"app":"c"}}}"#.to_vec(), "application/merge-patch+json"))).await.unwrap();
    assert_eq!(out["metadata"]["labels"]["app"], json!("c"));
    let out = c.request(Method::PATCH, &dry("/apis/apps/v1/namespaces/default/deployments/none/scale"), Some((br#"{"spec":{"replicas":2}}"#.to_vec(), "application/merge-patch+json"))).await.unwrap_err();
    assert_eq!(out.code, 404);

    // DELETE, dry by the query or by the body's DeleteOptions (kubectl's way).
    c.request(Method::DELETE, &dry(&format!("{PODS}/p")), None).await.unwrap();
    c.request(Method::DELETE, &format!("{PODS}/p"), Some((br#"{"dryRun":["All"],"gracePeriodSeconds":0}"#.to_vec(), "application/json"))).await.unwrap();
    c.request(Method::DELETE, &dry(PODS), None).await.unwrap();
    let p = c.get(Kind::Pod, "default", "p").await.expect("still there");
    assert_eq!((p.meta().labels.get("app").map(String::as_str), p.meta().deletion_timestamp), (Some("a"), None));
    assert_eq!(revision(&c).await, before, "nothing was stored");

    // Only `All` is a dry run.
    for (method, path) in [(Method::POST, PODS.to_string()), (Method::DELETE, format!("{PODS}/p"))] {
        let e = c.request(method, &format!("{path}?dryRun=Some"), Some((serde_json::to_vec(&pod("x", json!({}))).unwrap(), "application/json"))).await.unwrap_err();
        assert_eq!(e.code, 422, "{e:?}");
        assert!(e.message.contains("dryRun: Unsupported value: \"Some\": supported values: \"All\""), "{}", e.message);
        assert_eq!(e.details.unwrap().causes[0].field, "dryRun");
    }
    let e = c.request(Method::DELETE, &format!("{PODS}/p"), Some((br#"{"dryRun":["Yes"]}"#.to_vec(), "application/json"))).await.unwrap_err();
    assert_eq!(e.code, 422);
    assert!(c.get(Kind::Pod, "default", "p").await.is_ok());
    assert_eq!(revision(&c).await, before);
}

/// RBAC objects are served with upstream's validation, the bootstrap
/// policy is there from the start, and a SubjectAccessReview answers from
/// what is stored: a Role granting `get pods` in one namespace allows
/// exactly that.
#[tokio::test]
async fn rbac_objects_are_served_and_a_subject_access_review_answers_from_them() {
    let c = start(100).await;
    const RBAC: &str = "/apis/rbac.authorization.k8s.io/v1";
    const SAR: &str = "/apis/authorization.k8s.io/v1/subjectaccessreviews";
    // Bootstrap: upstream's roles and bindings, names with colons included.
    let admin = c.request(Method::GET, &format!("{RBAC}/clusterroles/cluster-admin"), None).await.unwrap();
    assert_eq!(admin["rules"][0]["verbs"], json!(["*"]));
    let sched = c.request(Method::GET, &format!("{RBAC}/clusterrolebindings/system:kube-scheduler"), None).await.unwrap();
    assert_eq!(sched["roleRef"]["name"], "system:kube-scheduler");
    // Discovery lists both groups.
    let groups = c.request(Method::GET, "/apis", None).await.unwrap().to_string();
    assert!(groups.contains("rbac.authorization.k8s.io/v1") && groups.contains("authorization.k8s.io/v1"), "{groups}");

    post(&c, "/api/v1/namespaces", &json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team"}})).await.unwrap();
    let role = json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": {"name": "pod-reader"}, "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}]});
    post(&c, &format!("{RBAC}/namespaces/team/roles"), &role).await.unwrap();
    // The subject's apiGroup is defaulted, as upstream.
    let binding = json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "metadata": {"name": "bob-reads"}, "subjects": [{"kind": "User", "name": "bob"}], "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "pod-reader"}});
    let stored = post(&c, &format!("{RBAC}/namespaces/team/rolebindings"), &binding).await.unwrap();
    assert_eq!(stored["subjects"][0]["apiGroup"], "rbac.authorization.k8s.io");

    let review = |verb: &str, ns: &str, resource: &str| json!({"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview", "spec": {"user": "bob", "groups": ["system:authenticated"], "resourceAttributes": {"verb": verb, "namespace": ns, "resource": resource, "name": "web-1"}}});
    let yes = post(&c, SAR, &review("get", "team", "pods")).await.unwrap();
    assert_eq!(yes["status"], json!({"allowed": true, "reason": "RBAC: allowed by RoleBinding \"bob-reads/team\" of Role \"pod-reader\" to User \"bob\""}));
    for (verb, ns, resource) in [("list", "team", "pods"), ("get", "default", "pods"), ("get", "team", "deployments"), ("delete", "team", "pods")] {
        let no = post(&c, SAR, &review(verb, ns, resource)).await.unwrap();
        assert_eq!(no["status"]["allowed"], false, "{verb} {resource} in {ns}: {no}");
    }
    let e = post(&c, SAR, &json!({"spec": {"user": "bob"}})).await.unwrap_err();
    assert_eq!(e.code, 422, "{e}");

    // Upstream's validation: what a binding may grant, and that it may not change.
    let mut bad = binding.clone();
    bad["metadata"]["name"] = json!("bad");
    bad["roleRef"]["kind"] = json!("Pod");
    let e = post(&c, &format!("{RBAC}/namespaces/team/rolebindings"), &bad).await.unwrap_err();
    assert_eq!(e.code, 422);
    assert!(e.message.contains("roleRef.kind") && e.message.contains("\"Pod\""), "{e}");
    let mut crb = binding.clone();
    crb["kind"] = json!("ClusterRoleBinding");
    crb["roleRef"]["kind"] = json!("Role");
    let e = post(&c, &format!("{RBAC}/clusterrolebindings"), &crb).await.unwrap_err();
    assert!(e.message.contains("roleRef.kind"), "a ClusterRoleBinding grants only a ClusterRole: {e}");
    let mut changed = stored.clone();
    changed["roleRef"]["name"] = json!("other");
    let e = c.request(Method::PUT, &format!("{RBAC}/namespaces/team/rolebindings/bob-reads"), Some((serde_json::to_vec(&changed).unwrap(), "application/json"))).await.unwrap_err();
    assert!(e.message.contains("cannot change roleRef"), "{e}");
    let mut urls = role.clone();
    urls["metadata"]["name"] = json!("urls");
    urls["rules"] = json!([{"nonResourceURLs": ["/metrics"], "verbs": ["get"]}]);
    let e = post(&c, &format!("{RBAC}/namespaces/team/roles"), &urls).await.unwrap_err();
    assert!(e.message.contains("namespaced rules cannot apply to non-resource URLs"), "{e}");
    // Deleting the binding takes the permission away.
    c.request(Method::DELETE, &format!("{RBAC}/namespaces/team/rolebindings/bob-reads"), None).await.unwrap();
    assert_eq!(post(&c, SAR, &review("get", "team", "pods")).await.unwrap()["status"]["allowed"], false);
}
