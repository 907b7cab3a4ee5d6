//! HTTP: URL routing, request decoding (JSON or YAML, bounded), responses
//! (JSON, or Table for kubectl), and watch streams. Every failure becomes a
//! `metav1.Status` with the right code. Writes run on the blocking pool
//! because the store fsyncs.

use crate::registry::{now, Mode, Registry};
use crate::{discovery, openapi, table};
use bytes::Bytes;
use http_body_util::{combinators::BoxBody, BodyExt, Full, Limited};
use hyper::body::{Body, Frame, Incoming};
use hyper::{Method, Request, Response, StatusCode};
use podcore::admission::UpdateTarget;
use podcore::labels::Selector;
use podcore::object::{empty_object, FieldSelector, Kind, Object};
use podcore::patch::PatchType;
use podcore::status::{ApiError, FieldError};
use podcore::types::{Binding, DeleteOptions, Scale};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::convert::Infallible;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::sync::mpsc;
use watchcache::Next;

/// Largest request body accepted (as upstream: 3 MiB).
pub const MAX_REQUEST_BODY_BYTES: usize = 3 * 1024 * 1024;
/// Longest a watch stays open when the client does not ask (upstream picks 30–60 min).
pub const DEFAULT_WATCH_TIMEOUT: Duration = Duration::from_secs(30 * 60);
/// Writes (chunks of frames, `WATCH_CHUNK_BYTES`) buffered per watch
/// connection before the sender waits for the client.
pub const WATCH_CHANNEL_FRAMES: usize = 64;
/// Events taken from the watch cache per wake-up.
pub const WATCH_BATCH_EVENTS: usize = 256;
/// Bytes of watch frames gathered into one write: a watcher that fell
/// behind catches up in a few large writes, not one per event. A frame is
/// never split, so a chunk ends with the first frame that reaches this.
pub const WATCH_CHUNK_BYTES: usize = 256 << 10;
/// Largest `limit=` honoured on a list.
pub const MAX_LIST_LIMIT: usize = 10_000;

pub type RespBody = BoxBody<Bytes, Infallible>;

/// Where a running apiserver serves a snapshot of its store
/// (`podchain store snapshot save`).
pub const SNAPSHOT_PATH: &str = "/debug/store/snapshot";
/// The response header that gives the snapshot's revision.
pub const SNAPSHOT_REVISION_HEADER: &str = "X-Podchain-Snapshot-Revision";

pub struct Ctx {
    pub registry: Arc<Registry>,
    pub metrics: Arc<crate::metrics::Metrics>,
    pub inflight: crate::inflight::InFlight,
    /// Where writes are audited, if anywhere (`--audit-log-path`).
    pub audit: Option<crate::audit::Audit>,
    pub address: String,
    pub bookmark_interval: Duration,
}

fn full(b: impl Into<Bytes>) -> RespBody {
    Full::new(b.into()).boxed()
}

pub fn json_response(code: StatusCode, v: &Value) -> Response<RespBody> {
    Response::builder().status(code).header("Content-Type", "application/json").body(full(serde_json::to_vec(v).unwrap_or_default())).expect("valid response")
}

/// The error as its `metav1.Status`; one that says how long to wait before
/// trying again also says it in `Retry-After`, as upstream.
pub fn error_response(e: &ApiError) -> Response<RespBody> {
    let code = StatusCode::from_u16(e.code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut resp = json_response(code, &serde_json::to_value(e.to_status()).unwrap_or_default());
    if let Some(s) = e.details.as_ref().and_then(|d| d.retry_after_seconds).filter(|s| *s > 0) {
        resp.headers_mut().insert(hyper::header::RETRY_AFTER, hyper::header::HeaderValue::from(s));
    }
    resp
}

/// `POST /apis/authorization.k8s.io/v1/subjectaccessreviews`: may the
/// user in the spec do what it names? Answered from the RBAC objects the
/// watch caches hold, by `podcore::authz`; nothing is stored.
async fn subject_access_review(ctx: &Arc<Ctx>, req: Request<Incoming>) -> Result<Response<RespBody>, ApiError> {
    let body = read_body_bytes(req).await?;
    let mut v: Value = serde_json::from_slice(&body).map_err(|e| ApiError::bad_request(format!("the body is not valid JSON: {e}")))?;
    for (field, want) in [("apiVersion", "authorization.k8s.io/v1"), ("kind", "SubjectAccessReview")] {
        match v.get(field).and_then(Value::as_str) {
            None | Some("") => {}
            Some(w) if w == want => {}
            Some(other) => return Err(ApiError::bad_request(format!("{field}: expected {want:?}, got {other:?}"))),
        }
    }
    let spec: podcore::authz::SubjectAccessReviewSpec = serde_json::from_value(v.get("spec").cloned().unwrap_or(json!({}))).map_err(|e| ApiError::bad_request(format!("spec: {e}")))?;
    let reg = ctx.registry.clone();
    let (allowed, reason) = blocking(move || podcore::authz::review(&spec, &reg.policy())).await?;
    let mut status = json!({"allowed": allowed});
    if !reason.is_empty() {
        status["reason"] = json!(reason);
    }
    v["apiVersion"] = json!("authorization.k8s.io/v1");
    v["kind"] = json!("SubjectAccessReview");
    v["status"] = status;
    if v.get("metadata").is_none() {
        v["metadata"] = json!({});
    }
    Ok(json_response(StatusCode::CREATED, &v))
}

fn render_metrics(ctx: &Ctx) -> String {
    let mut out = ctx.metrics.render();
    ctx.inflight.render(&mut out);
    out
}

/// A parsed resource URL.
#[derive(Debug, Default)]
struct Target {
    kind: Option<Kind>,
    namespace: String,
    name: String,
    sub: String,
}

fn parse_query(q: Option<&str>) -> HashMap<String, String> {
    form_urlencoded::parse(q.unwrap_or("").as_bytes()).into_owned().collect()
}

/// What `/metrics` counts a request as: upstream's verb (LIST and WATCH
/// apart from GET) and the resource (`pods`, `pods/binding`; empty for a
/// path that names none), learnt while routing.
struct Counted {
    user_agent: String,
    verb: &'static str,
    resource: String,
    /// What a create created (for the audit log: its URL names no object).
    created_name: Option<String>,
}

fn verb_of(m: &Method) -> &'static str {
    match *m {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        _ => "OTHER",
    }
}

pub async fn handle(ctx: Arc<Ctx>, peer: std::net::SocketAddr, req: Request<Incoming>) -> Result<Response<RespBody>, Infallible> {
    let received = podcore::time::MicroTime::from(now());
    let user_agent = req.headers().get("user-agent").and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
    let mut counted = Counted { user_agent, verb: verb_of(req.method()), resource: String::new(), created_name: None };
    // What the request is about, read once from its URL: the in-flight
    // limits count it by that, and it is audited by that, as upstream,
    // whether or not the limits admit it.
    let info = crate::requestinfo::request_info(req.method(), req.uri().path(), req.uri().query());
    let class = crate::inflight::classify(req.method(), req.uri().path(), &info);
    let audited = ctx.audit.as_ref().filter(|_| crate::audit::audited(&info)).map(|_| req.uri().to_string());
    // The in-flight limits, before anything of the request is read.
    let (resp, ticket) = match ctx.inflight.admit(class) {
        Ok(t) => {
            let resp = match route(&ctx, req, &mut counted).await {
                Ok(r) => r,
                Err(e) => error_response(&e),
            };
            (resp, t)
        }
        Err(e) => (error_response(&e), crate::inflight::Ticket::exempt()),
    };
    ctx.metrics.request(&counted.user_agent, counted.verb, &counted.resource, resp.status().as_u16());
    if let (Some(audit), Some(uri)) = (&ctx.audit, &audited) {
        let entry = crate::audit::Entry {
            audit_id: ctx.registry.new_uid(),
            info: &info,
            request_uri: uri,
            source_ip: peer.ip().to_string(),
            user_agent: &counted.user_agent,
            created_name: counted.created_name.as_deref(),
            code: resp.status().as_u16(),
            received,
            completed: podcore::time::MicroTime::from(now()),
        };
        audit.record(&entry).await;
    }
    if !ticket.holds() {
        return Ok(resp);
    }
    // The place is held until the response is sent.
    Ok(resp.map(|b| crate::inflight::Held::new(b, ticket).boxed()))
}

async fn route(ctx: &Arc<Ctx>, req: Request<Incoming>, counted: &mut Counted) -> Result<Response<RespBody>, ApiError> {
    let path = req.uri().path().trim_end_matches('/').to_string();
    let path = if path.is_empty() { "/".to_string() } else { path };
    let q = parse_query(req.uri().query());
    let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    // Non-resource paths.
    match (req.method(), segs.as_slice()) {
        (&Method::GET, ["healthz"] | ["livez"] | ["readyz"]) => return Ok(Response::builder().header("Content-Type", "text/plain").body(full("ok")).unwrap()),
        (&Method::GET, ["version"]) => return Ok(json_response(StatusCode::OK, &discovery::version())),
        (&Method::GET, ["api"]) => return Ok(json_response(StatusCode::OK, &discovery::api_versions(&ctx.address))),
        (&Method::GET, ["apis"]) => return Ok(json_response(StatusCode::OK, &discovery::api_group_list())),
        (&Method::GET, ["api", v]) => return discovery::resource_list("", v).map(|d| json_response(StatusCode::OK, &d)).ok_or_else(|| not_found_path(&path)),
        (&Method::GET, ["apis", g, v]) => return discovery::resource_list(g, v).map(|d| json_response(StatusCode::OK, &d)).ok_or_else(|| not_found_path(&path)),
        (&Method::GET, ["openapi", "v3"]) => return Ok(json_response(StatusCode::OK, &openapi::index())),
        (&Method::GET, ["openapi", "v3", gv @ ..]) => return openapi::document(&gv.join("/")).map(|d| json_response(StatusCode::OK, d)).ok_or_else(|| not_found_path(&path)),
        (&Method::GET, ["debug", "store", "snapshot"]) => return store_snapshot(ctx).await,
        (&Method::GET, ["metrics"]) => return Ok(Response::builder().header("Content-Type", "text/plain; version=0.0.4").body(full(render_metrics(ctx))).unwrap()),
        _ => {}
    }
    if let (&Method::POST, ["apis", "authorization.k8s.io", "v1", "subjectaccessreviews"]) = (req.method(), segs.as_slice()) {
        counted.resource = "subjectaccessreviews".into();
        return subject_access_review(ctx, req).await;
    }
    let (group, version, rest) = match segs.as_slice() {
        ["api", v, rest @ ..] if !rest.is_empty() => ("", *v, rest),
        ["apis", g, v, rest @ ..] if !rest.is_empty() => (*g, *v, rest),
        _ => return Err(not_found_path(&path)),
    };
    let mut t = Target::default();
    // `[name[/subresource]]` after the resource.
    let name_and_sub = |tail: &[&str], t: &mut Target| -> Result<(), ApiError> {
        match tail {
            [] => {}
            [name] => t.name = name.to_string(),
            [name, sub] => {
                t.name = name.to_string();
                t.sub = sub.to_string();
            }
            _ => return Err(not_found_path(&path)),
        }
        Ok(())
    };
    let resource = match rest {
        ["namespaces", ns, "status" | "finalize"] => {
            t.name = ns.to_string();
            t.sub = rest[2].to_string();
            "namespaces"
        }
        ["namespaces", ns, plural, tail @ ..] => {
            t.namespace = ns.to_string();
            name_and_sub(tail, &mut t)?;
            plural
        }
        [plural, tail @ ..] => {
            name_and_sub(tail, &mut t)?;
            plural
        }
        [] => return Err(not_found_path(&path)),
    };
    let kind = Kind::by_resource(group, version, resource).ok_or_else(|| not_found_path(&path))?;
    if !kind.info().namespaced && !t.namespace.is_empty() {
        return Err(not_found_path(&path));
    }
    if !t.sub.is_empty() && !kind.info().subresources.contains(&t.sub.as_str()) {
        return Err(not_found_path(&path));
    }
    t.kind = Some(kind);
    counted.resource = if t.sub.is_empty() { resource.to_string() } else { format!("{resource}/{}", t.sub) };
    let accept = req.headers().get("accept").and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
    let wants_table = accept.contains("as=Table");
    let method = req.method().clone();
    let mode = dry_run_mode(method.as_str(), q.get("dryRun").map(String::as_str))?;
    let content_type = req.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("application/json").to_string();
    match method {
        Method::GET if t.name.is_empty() => {
            if q.get("watch").is_some_and(|w| w == "true" || w == "1") {
                counted.verb = "WATCH";
                let expired = Expired { metrics: ctx.metrics.clone(), user_agent: counted.user_agent.clone(), resource: counted.resource.clone() };
                watch(ctx, kind, &t.namespace, &q, wants_table, expired)
            } else {
                counted.verb = "LIST";
                consistent_read(ctx, &q).await?;
                list(ctx, kind, &t.namespace, &q, wants_table)
            }
        }
        Method::GET => match t.sub.as_str() {
            "" | "status" => {
                consistent_read(ctx, &q).await?;
                let obj = ctx.registry.get(kind, &t.namespace, &t.name)?;
                Ok(object_response(StatusCode::OK, &obj, wants_table))
            }
            "scale" => Ok(json_response(StatusCode::OK, &scale_value(&ctx.registry.scale(kind, &t.namespace, &t.name)?))),
            "log" => pod_log(ctx, &t.namespace, &t.name, &q).await,
            _ => Err(not_found_path(&path)),
        },
        Method::POST if kind == Kind::Pod && t.sub == "eviction" => {
            let ev = read_eviction(req, &content_type).await?;
            if !ev.name.is_empty() && ev.name != t.name {
                return Err(ApiError::bad_request(format!("name in URL does not match name in Eviction object: {:?} and {:?}", t.name, ev.name)));
            }
            // podchain has no PodDisruptionBudgets, so every eviction is allowed
            // and is the pod's deletion with the eviction's options.
            let opts = ev.delete_options.unwrap_or_default();
            let mode = mode_with(mode, &opts)?;
            let (reg, ns, name) = (ctx.registry.clone(), t.namespace.clone(), t.name.clone());
            blocking(move || reg.delete(Kind::Pod, &ns, &name, &opts, mode)).await?;
            Ok(json_response(StatusCode::CREATED, &json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201})))
        }
        Method::POST => {
            let schema_kind = if t.sub.is_empty() { Some(kind) } else { None };
            let (body, warnings) = read_body(req, &content_type, &q, schema_kind).await?;
            let reg = ctx.registry.clone();
            let ns = t.namespace.clone();
            match t.sub.as_str() {
                "" if t.name.is_empty() => {
                    let obj = Object::from_value(kind, body)?;
                    let created = blocking(move || reg.create(&ns, obj, mode)).await?;
                    counted.created_name = Some(created.meta().name.clone());
                    Ok(with_warnings(object_response(StatusCode::CREATED, &created, false), &warnings))
                }
                "binding" if kind == Kind::Pod => {
                    let b: Binding = serde_json::from_value(body).map_err(|e| ApiError::bad_request(format!("unable to decode Binding: {e}")))?;
                    let name = t.name.clone();
                    blocking(move || reg.bind(&ns, &name, &b, mode)).await?;
                    Ok(json_response(StatusCode::CREATED, &json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201})))
                }
                _ => Err(ApiError::method_not_allowed(format!("POST is not supported on {path}"))),
            }
        }
        Method::PUT => {
            if t.name.is_empty() {
                return Err(ApiError::method_not_allowed("PUT needs an object name in the URL"));
            }
            let schema_kind = if t.sub.is_empty() || t.sub == "status" { Some(kind) } else { None };
            let (body, warnings) = read_body(req, &content_type, &q, schema_kind).await?;
            let reg = ctx.registry.clone();
            let (ns, name) = (t.namespace.clone(), t.name.clone());
            match t.sub.as_str() {
                "scale" => {
                    let s: Scale = serde_json::from_value(body).map_err(|e| ApiError::bad_request(format!("unable to decode Scale: {e}")))?;
                    let out = blocking(move || reg.update_scale(kind, &ns, &name, &s, mode)).await?;
                    Ok(json_response(StatusCode::OK, &scale_value(&out)))
                }
                sub @ ("" | "status") => {
                    let target = if sub == "status" { UpdateTarget::Status } else { UpdateTarget::Main };
                    let obj = Object::from_value(kind, body)?;
                    let out = blocking(move || reg.update(kind, &ns, &name, obj, target, mode)).await?;
                    Ok(with_warnings(object_response(StatusCode::OK, &out, false), &warnings))
                }
                _ => Err(ApiError::method_not_allowed(format!("PUT is not supported on {path}"))),
            }
        }
        Method::PATCH => {
            if t.name.is_empty() {
                return Err(ApiError::method_not_allowed("PATCH needs an object name in the URL"));
            }
            let patch_type = match PatchType::from_content_type(&content_type) {
                Some(p) => p,
                None if content_type.starts_with("application/apply-patch") => {
                    return Err(ApiError::unsupported_media_type("server-side apply (application/apply-patch+yaml) is not supported yet; use client-side apply"))
                }
                None => {
                    return Err(ApiError::unsupported_media_type(format!(
                        "the body of a PATCH must be application/merge-patch+json, application/json-patch+json or application/strategic-merge-patch+json, not {content_type:?}"
                    )))
                }
            };
            let validation = field_validation(&q)?.to_string();
            let body = read_body_bytes(req).await?;
            let body: Value = serde_json::from_slice(&body).map_err(|e| ApiError::bad_request(format!("the patch is not valid JSON: {e}")))?;
            // Merge and strategic patches have the object's shape: check their fields.
            let unknown = if patch_type != PatchType::Json && (t.sub.is_empty() || t.sub == "status") { podcore::schema::unknown_patch_fields(kind, &body) } else { vec![] };
            let warnings = field_problems(&validation, &[], &unknown)?;
            let reg = ctx.registry.clone();
            let (ns, name) = (t.namespace.clone(), t.name.clone());
            match t.sub.as_str() {
                "scale" => {
                    let out = blocking(move || {
                        let cur = reg.scale(kind, &ns, &name)?;
                        let patched = podcore::patch::apply("Scale", patch_type, &scale_value(&cur), &body).map_err(ApiError::bad_request)?;
                        let s: Scale = serde_json::from_value(patched).map_err(|e| ApiError::bad_request(format!("unable to decode Scale: {e}")))?;
                        reg.update_scale(kind, &ns, &name, &s, mode)
                    })
                    .await?;
                    Ok(json_response(StatusCode::OK, &scale_value(&out)))
                }
                sub @ ("" | "status") => {
                    let target = if sub == "status" { UpdateTarget::Status } else { UpdateTarget::Main };
                    let out = blocking(move || reg.patch(kind, &ns, &name, patch_type, &body, target, mode)).await?;
                    Ok(with_warnings(object_response(StatusCode::OK, &out, false), &warnings))
                }
                _ => Err(ApiError::method_not_allowed(format!("PATCH is not supported on {path}"))),
            }
        }
        Method::DELETE => {
            let mut opts: DeleteOptions = {
                let bytes = read_body_bytes(req).await?;
                if bytes.iter().all(|b| b.is_ascii_whitespace()) {
                    DeleteOptions::default()
                } else if is_protobuf(&content_type) {
                    // kubectl's typed clientset (`kubectl drain`) sends DeleteOptions in protobuf.
                    podcore::protobuf::message(&bytes, "DeleteOptions").and_then(podcore::protobuf::delete_options).map_err(protobuf_error)?
                } else {
                    // The same bounded decoding as every body (JSON or YAML;
                    // any other media type gets 415 saying so).
                    let value = crate::decode::decode_body(&content_type, &bytes)?;
                    serde_json::from_value(value).map_err(|e| ApiError::bad_request(format!("unable to decode DeleteOptions: {e}")))?
                }
            };
            if let Some(g) = q.get("gracePeriodSeconds") {
                opts.grace_period_seconds = Some(g.parse().map_err(|_| ApiError::bad_request(format!("gracePeriodSeconds: expected an integer, got {g:?}")))?);
            }
            if let Some(p) = q.get("propagationPolicy") {
                opts.propagation_policy = Some(p.clone());
            }
            let mode = mode_with(mode, &opts)?;
            let reg = ctx.registry.clone();
            let ns = t.namespace.clone();
            if t.name.is_empty() {
                let (sel, fsel) = selectors(kind, &q)?;
                let out = blocking(move || {
                    let prefix = prefix_of(kind, &ns);
                    let (items, _) = reg.cache(kind).list(&prefix);
                    let mut deleted = Vec::new();
                    for (_, o) in items {
                        if sel.matches(&o.meta().labels) && fsel.matches(&o) {
                            if let Ok((obj, _)) = reg.delete(kind, &o.meta().namespace, &o.meta().name, &opts, mode) {
                                deleted.push(obj);
                            }
                        }
                    }
                    Ok(deleted)
                })
                .await?;
                let items: Vec<Value> = out.iter().map(Object::to_value).collect();
                return Ok(json_response(StatusCode::OK, &json!({"kind": format!("{}List", kind.info().kind_name), "apiVersion": kind.api_version(), "metadata": {}, "items": items})));
            }
            if !t.sub.is_empty() {
                return Err(ApiError::method_not_allowed(format!("DELETE is not supported on {path}")));
            }
            let name = t.name.clone();
            let (obj, gone) = blocking(move || reg.delete(kind, &ns, &name, &opts, mode)).await?;
            Ok(object_response(if gone { StatusCode::OK } else { StatusCode::ACCEPTED }, &obj, false))
        }
        _ => Err(ApiError::method_not_allowed(format!("{} is not supported", req_method_name(&method)))),
    }
}

fn req_method_name(m: &Method) -> String {
    m.as_str().to_string()
}

fn not_found_path(path: &str) -> ApiError {
    ApiError::new(404, "NotFound", format!("the server could not find the requested resource ({path})"))
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T, ApiError> + Send + 'static) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f).await.map_err(|e| ApiError::internal(format!("request handler failed: {e}")))?
}

fn scale_value(s: &Scale) -> Value {
    let mut v = serde_json::to_value(s).unwrap_or_default();
    if let Some(m) = v.as_object_mut() {
        m.insert("kind".into(), json!("Scale"));
        m.insert("apiVersion".into(), json!("autoscaling/v1"));
    }
    v
}

fn object_response(code: StatusCode, obj: &Object, wants_table: bool) -> Response<RespBody> {
    if wants_table {
        let objs = [obj];
        return json_response(code, &table::table(obj.kind(), &objs, &obj.meta().resource_version, "", now()));
    }
    Response::builder().status(code).header("Content-Type", "application/json").body(full(obj.to_json())).expect("valid response")
}

/// Bytes of an oversized body read and discarded before answering 413, so
/// that a client that writes its whole body before reading sees the status.
pub const MAX_DRAIN_BYTES: usize = 4 * MAX_REQUEST_BODY_BYTES;
/// Longest time spent draining an oversized body.
pub const MAX_DRAIN_TIME: Duration = Duration::from_secs(5);

async fn drain(body: Incoming) {
    let limited = Limited::new(body, MAX_DRAIN_BYTES);
    let _ = tokio::time::timeout(MAX_DRAIN_TIME, limited.collect()).await;
}

async fn read_body_bytes(req: Request<Incoming>) -> Result<Bytes, ApiError> {
    if let Some(len) = req.headers().get("content-length").and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<usize>().ok()) {
        if len > MAX_REQUEST_BODY_BYTES {
            // Refused before parsing; the bytes are only discarded.
            if len <= MAX_DRAIN_BYTES {
                drain(req.into_body()).await;
            }
            return Err(ApiError::too_large(format!("the request body is {len} bytes, more than the limit of {MAX_REQUEST_BODY_BYTES}")));
        }
    }
    let limited = Limited::new(req.into_body(), MAX_REQUEST_BODY_BYTES);
    match limited.collect().await {
        Ok(c) => Ok(c.to_bytes()),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => Err(ApiError::too_large(format!("the request body is more than the limit of {MAX_REQUEST_BODY_BYTES} bytes"))),
        Err(e) => Err(ApiError::bad_request(format!("reading the request body failed: {e}"))),
    }
}

/// The only value upstream's `dryRun` takes.
pub const DRY_RUN_ALL: &str = "All";

/// A write's `dryRun` query parameter: absent (the write is stored) or
/// `All` (rehearsed). Anything else is refused as upstream's options
/// validation refuses it, before the write is looked at.
fn dry_run_mode(verb: &str, value: Option<&str>) -> Result<Mode, ApiError> {
    let options = match verb {
        "POST" => "CreateOptions",
        "PUT" => "UpdateOptions",
        "PATCH" => "PatchOptions",
        "DELETE" => "DeleteOptions",
        _ => return Ok(Mode::Commit),
    };
    dry_run_values(options, value.into_iter())
}

fn dry_run_values<'a>(options: &str, values: impl Iterator<Item = &'a str>) -> Result<Mode, ApiError> {
    let mut mode = Mode::Commit;
    for v in values {
        if v != DRY_RUN_ALL {
            return Err(ApiError::invalid("meta.k8s.io", options, "", vec![FieldError::unsupported("dryRun", v, &[DRY_RUN_ALL])]));
        }
        mode = Mode::DryRun;
    }
    Ok(mode)
}

/// The mode of a deletion: a dry run when the query or the body's
/// DeleteOptions say so (kubectl puts it in the body).
fn mode_with(query: Mode, opts: &DeleteOptions) -> Result<Mode, ApiError> {
    let body = dry_run_values("DeleteOptions", opts.dry_run.iter().map(String::as_str))?;
    Ok(if query == Mode::DryRun { query } else { body })
}

/// The `fieldValidation` query parameter: Warn (the default), Strict or Ignore.
fn field_validation(q: &HashMap<String, String>) -> Result<&str, ApiError> {
    let v = q.get("fieldValidation").map(String::as_str).unwrap_or("Warn");
    if ["Strict", "Warn", "Ignore"].contains(&v) {
        Ok(v)
    } else {
        Err(ApiError::bad_request(format!("fieldValidation: must be one of Strict, Warn, Ignore; got {v:?}")))
    }
}

/// Duplicate and unknown fields, as upstream treats them: an error under
/// `fieldValidation=Strict`, warnings under `Warn`, nothing under `Ignore`.
fn field_problems(validation: &str, duplicates: &[String], unknown: &[String]) -> Result<Vec<String>, ApiError> {
    let problems: Vec<String> = duplicates.iter().map(|p| format!("duplicate field {p:?}")).chain(unknown.iter().map(|p| format!("unknown field {p:?}"))).collect();
    match validation {
        "Strict" if !problems.is_empty() => Err(ApiError::bad_request(format!("strict decoding error: {}", problems.join(", ")))),
        "Ignore" => Ok(vec![]),
        _ => Ok(problems),
    }
}

fn is_protobuf(content_type: &str) -> bool {
    content_type.split(';').next().unwrap_or("").trim() == podcore::protobuf::PROTOBUF
}

fn protobuf_error(e: String) -> ApiError {
    ApiError::bad_request(format!("unable to decode the protobuf body: {e}"))
}

/// An Eviction body: JSON or YAML, or protobuf as kubectl's typed clientset
/// (`kubectl drain`) sends it.
async fn read_eviction(req: Request<Incoming>, content_type: &str) -> Result<podcore::protobuf::Eviction, ApiError> {
    let bytes = read_body_bytes(req).await?;
    if is_protobuf(content_type) {
        return podcore::protobuf::message(&bytes, "Eviction").and_then(podcore::protobuf::eviction).map_err(protobuf_error);
    }
    let v = crate::decode::decode_body(content_type, &bytes)?;
    let text = |p: &str| v.pointer(p).and_then(Value::as_str).unwrap_or_default().to_string();
    let delete_options = match v.get("deleteOptions") {
        None | Some(Value::Null) => None,
        Some(o) => Some(serde_json::from_value(o.clone()).map_err(|e| ApiError::bad_request(format!("deleteOptions: {e}")))?),
    };
    Ok(podcore::protobuf::Eviction { name: text("/metadata/name"), namespace: text("/metadata/namespace"), delete_options })
}

/// Reads and decodes a body, checking its fields against `schema_kind`'s
/// (when the body is an object of that kind) under `fieldValidation`.
async fn read_body(req: Request<Incoming>, content_type: &str, q: &HashMap<String, String>, schema_kind: Option<Kind>) -> Result<(Value, Vec<String>), ApiError> {
    let validation = field_validation(q)?;
    let bytes = read_body_bytes(req).await?;
    let d = crate::decode::decode_checked(content_type, &bytes)?;
    let unknown = schema_kind.map(|k| podcore::schema::unknown_fields(k, &d.value)).unwrap_or_default();
    let warnings = field_problems(validation, &d.duplicates, &unknown)?;
    let mut value = d.value;
    if let Some(k) = schema_kind {
        // As upstream's decoding: what was only warned about is not kept.
        podcore::schema::prune_unknown(k, &mut value);
    }
    Ok((value, warnings))
}

/// Adds `Warning: 299 - "..."` headers, which kubectl and client-go print.
fn with_warnings(mut resp: Response<RespBody>, warnings: &[String]) -> Response<RespBody> {
    for w in warnings {
        let text = format!("299 - {:?}", w);
        if let Ok(v) = hyper::header::HeaderValue::from_str(&text) {
            resp.headers_mut().append("Warning", v);
        }
    }
    resp
}

fn prefix_of(kind: Kind, ns: &str) -> String {
    if kind.info().namespaced && !ns.is_empty() {
        format!("{}{ns}/", kind.key_prefix())
    } else {
        kind.key_prefix()
    }
}

fn selectors(kind: Kind, q: &HashMap<String, String>) -> Result<(Selector, FieldSelector), ApiError> {
    let sel = match q.get("labelSelector") {
        Some(s) => Selector::parse(s).map_err(|e| ApiError::bad_request(format!("labelSelector: {e}")))?,
        None => Selector::everything(),
    };
    let fsel = match q.get("fieldSelector") {
        Some(s) => {
            let f = FieldSelector::parse(s).map_err(|e| ApiError::bad_request(format!("fieldSelector: {e}")))?;
            f.check(kind, &empty_object(kind)).map_err(|e| ApiError::bad_request(format!("fieldSelector: {e}")))?;
            f
        }
        None => FieldSelector::default(),
    };
    Ok((sel, fsel))
}

fn hex(s: &str) -> String {
    s.bytes().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Option<String> {
    if s.len() % 2 != 0 {
        return None;
    }
    let bytes: Option<Vec<u8>> = (0..s.len()).step_by(2).map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok()).collect();
    String::from_utf8(bytes?).ok()
}

/// A read without a resourceVersion sees every write acknowledged before it
/// (upstream's consistent read). When other apiservers write to the store
/// too (etcd), the caches catch up with it first; `resourceVersion=0` (any
/// version) reads the cache as it is.
async fn consistent_read(ctx: &Arc<Ctx>, q: &HashMap<String, String>) -> Result<(), ApiError> {
    if !ctx.registry.shared() || q.get("resourceVersion").is_some_and(|v| !v.is_empty()) {
        return Ok(());
    }
    let reg = ctx.registry.clone();
    blocking(move || reg.sync()).await
}

fn list(ctx: &Arc<Ctx>, kind: Kind, ns: &str, q: &HashMap<String, String>, wants_table: bool) -> Result<Response<RespBody>, ApiError> {
    let (sel, fsel) = selectors(kind, q)?;
    let limit = match q.get("limit") {
        Some(l) => l.parse::<usize>().map_err(|_| ApiError::bad_request(format!("limit: expected a non-negative integer, got {l:?}")))?.min(MAX_LIST_LIMIT),
        None => 0,
    };
    // The continue token is the hex of the last key returned (opaque to clients).
    let start_after = match q.get("continue").filter(|c| !c.is_empty()) {
        Some(c) => unhex(c).ok_or_else(|| ApiError::bad_request("continue: the token is not one this server issued"))?,
        None => String::new(),
    };
    let (items, rev) = ctx.registry.cache(kind).list(&prefix_of(kind, ns));
    let mut out: Vec<&Object> = Vec::new();
    let mut cont = String::new();
    let matching = items.iter().filter(|(k, o)| k.as_str() > start_after.as_str() && sel.matches(&o.meta().labels) && fsel.matches(o));
    for (k, o) in matching {
        if limit > 0 && out.len() == limit {
            cont = hex(&out.last().map(|o: &&Object| o.key()).unwrap_or_else(|| k.clone()));
            break;
        }
        out.push(o);
    }
    let rv = rev.to_string();
    if wants_table {
        return Ok(json_response(StatusCode::OK, &table::table(kind, &out, &rv, &cont, now())));
    }
    // Written straight out, as a watch frame is: the envelope's names are
    // identifiers and the revision a number; only the token is escaped.
    let mut body = Vec::new();
    body.extend_from_slice(format!("{{\"kind\":\"{}List\",\"apiVersion\":\"{}\",\"metadata\":{{\"resourceVersion\":\"{rv}\"", kind.info().kind_name, kind.api_version()).as_bytes());
    if !cont.is_empty() {
        body.extend_from_slice(b",\"continue\":");
        serde_json::to_writer(&mut body, &cont).expect("a string encodes");
    }
    body.extend_from_slice(b"},\"items\":[");
    for (n, o) in out.iter().enumerate() {
        if n > 0 {
            body.push(b',');
        }
        o.write_json(&mut body);
    }
    body.extend_from_slice(b"]}");
    Ok(Response::builder().status(StatusCode::OK).header("Content-Type", "application/json").body(full(body)).expect("valid response"))
}

/// Longest wait for a kubelet to answer a log request (the stream itself may run on).
pub const KUBELET_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Query parameters of pods/log passed on to the kubelet.
const LOG_PARAMS: &[&str] = &["follow", "tailLines", "timestamps", "previous", "limitBytes"];

/// `pods/log`: finds the pod's node and its kubelet's endpoint, and streams
/// the kubelet's `/containerLogs` answer through.
async fn pod_log(ctx: &Ctx, ns: &str, name: &str, q: &HashMap<String, String>) -> Result<Response<RespBody>, ApiError> {
    let pod = ctx.registry.get(Kind::Pod, ns, name)?;
    let pod = pod.as_pod().ok_or_else(|| ApiError::internal("not a pod"))?;
    let container = match q.get("container").filter(|c| !c.is_empty()) {
        Some(c) if pod.spec.containers.iter().any(|x| &x.name == c) => c.clone(),
        Some(c) => return Err(ApiError::bad_request(format!("container {c} is not valid for pod {name}"))),
        None => match pod.spec.containers.as_slice() {
            [only] => only.name.clone(),
            all => {
                let names: Vec<&str> = all.iter().map(|c| c.name.as_str()).collect();
                return Err(ApiError::bad_request(format!("a container name must be specified for pod {name}, choose one of: [{}]", names.join(" "))));
            }
        },
    };
    if pod.spec.node_name.is_empty() {
        return Err(ApiError::bad_request(format!("container \"{container}\" in pod \"{name}\" is waiting to start: the pod is not scheduled yet")));
    }
    let node = ctx.registry.get(Kind::Node, "", &pod.spec.node_name)?;
    let node = node.as_node().ok_or_else(|| ApiError::internal("not a node"))?;
    let ip = node.status.addresses.iter().find(|a| a.type_ == "InternalIP").map(|a| a.address.clone());
    let port = node.status.extra.0.get("daemonEndpoints").and_then(|d| d.pointer("/kubeletEndpoint/Port")).and_then(|p| p.as_u64()).filter(|p| *p > 0 && *p <= 65535);
    let (Some(ip), Some(port)) = (ip, port) else {
        return Err(ApiError::bad_request(format!("node {:?} publishes no kubelet endpoint (InternalIP and daemonEndpoints.kubeletEndpoint.Port)", pod.spec.node_name)));
    };
    let host = if ip.contains(':') { format!("[{ip}]") } else { ip };
    let query = {
        let mut query = form_urlencoded::Serializer::new(String::new());
        for k in LOG_PARAMS {
            if let Some(v) = q.get(*k) {
                query.append_pair(k, v);
            }
        }
        query.finish()
    };
    let enc = |s: &str| form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    let url = format!("http://{host}:{port}/containerLogs/{}/{}/{}?{}", enc(ns), enc(name), enc(&container), query);
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new()).build_http::<Full<Bytes>>();
    let uri: hyper::Uri = url.parse().map_err(|e| ApiError::internal(format!("kubelet URL {url:?}: {e}")))?;
    let resp = tokio::time::timeout(KUBELET_CONNECT_TIMEOUT, client.get(uri))
        .await
        .map_err(|_| ApiError::new(503, "ServiceUnavailable", format!("the kubelet of node {:?} did not answer within {KUBELET_CONNECT_TIMEOUT:?}", pod.spec.node_name)))?
        .map_err(|e| ApiError::new(503, "ServiceUnavailable", format!("reaching the kubelet of node {:?}: {e}", pod.spec.node_name)))?;
    if resp.status() != StatusCode::OK {
        let code = resp.status();
        let body = resp.into_body().collect().await.map(|b| b.to_bytes()).unwrap_or_default();
        let msg = serde_json::from_slice::<Value>(&body).ok().and_then(|v| v.get("error").and_then(|e| e.as_str()).map(String::from)).unwrap_or_else(|| String::from_utf8_lossy(&body).into_owned());
        return Err(if code == StatusCode::BAD_REQUEST { ApiError::bad_request(msg) } else { ApiError::new(503, "ServiceUnavailable", format!("kubelet answered {code}: {msg}")) });
    }
    let (tx, rx) = mpsc::channel::<Bytes>(16);
    let mut body = resp.into_body();
    tokio::spawn(async move {
        while let Some(Ok(frame)) = body.frame().await {
            if let Ok(data) = frame.into_data() {
                if tx.send(data).await.is_err() {
                    return;
                }
            }
        }
    });
    Ok(Response::builder().status(StatusCode::OK).header("Content-Type", "text/plain").header("Transfer-Encoding", "chunked").body(ChannelBody { rx }.boxed()).expect("valid response"))
}

/// `GET SNAPSHOT_PATH`: every key of the store at one revision (the store's
/// `range` of all keys is one revision on every backend), streamed in the
/// form of `podstore::snapshot` as it is encoded. A snapshot whose stream
/// breaks off lacks its closing record, so whoever saves it sees that it is
/// incomplete.
async fn store_snapshot(ctx: &Arc<Ctx>) -> Result<Response<RespBody>, ApiError> {
    let store = ctx.registry.store.clone();
    let all = blocking(move || store.range("", "", 0).map_err(|e| ApiError::internal(format!("reading the store for a snapshot: {e}")))).await?;
    let (tx, rx) = mpsc::channel::<Bytes>(4);
    tokio::task::spawn_blocking(move || {
        // A client that goes away ends the encoding.
        let _ = podstore::snapshot::encode(&all.kvs, all.revision, |chunk| tx.blocking_send(Bytes::copy_from_slice(chunk)));
    });
    Ok(Response::builder()
        .status(StatusCode::OK)
        .header("Content-Type", "application/octet-stream")
        .header(SNAPSHOT_REVISION_HEADER, all.revision.to_string())
        .body(ChannelBody { rx }.boxed())
        .expect("valid response"))
}

/// A response body fed by a channel: one frame per watch event.
struct ChannelBody {
    rx: mpsc::Receiver<Bytes>,
}

impl Body for ChannelBody {
    type Data = Bytes;
    type Error = Infallible;
    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        match self.rx.poll_recv(cx) {
            Poll::Ready(Some(b)) => Poll::Ready(Some(Ok(Frame::data(b)))),
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => Poll::Pending,
        }
    }
}

fn watch_frame(type_: &str, object: Value) -> Bytes {
    let mut v = serde_json::to_vec(&json!({"type": type_, "object": object})).unwrap_or_default();
    v.push(b'\n');
    Bytes::from(v)
}

/// Appends a watch event's frame to `out`, the object written straight from
/// its type (no `Value` tree): `{"type":...,"object":{...}}` and a newline.
fn write_object_frame(out: &mut Vec<u8>, type_: &str, obj: &Object) {
    out.extend_from_slice(b"{\"type\":\"");
    out.extend_from_slice(type_.as_bytes());
    out.extend_from_slice(b"\",\"object\":");
    obj.write_json(out);
    out.extend_from_slice(b"}\n");
}

/// The gathered frames to send now: all of them once they reach
/// `WATCH_CHUNK_BYTES` (or at the end of a batch, `flush`); None while they
/// are fewer, or there are none.
fn take_chunk(chunk: &mut Vec<u8>, flush: bool) -> Option<Bytes> {
    (!chunk.is_empty() && (flush || chunk.len() >= WATCH_CHUNK_BYTES)).then(|| Bytes::from(std::mem::take(chunk)))
}

fn too_old_frame(oldest: u64, asked: &str) -> Bytes {
    let e = ApiError::gone(format!("too old resource version: {asked} ({oldest})"));
    watch_frame("ERROR", serde_json::to_value(e.to_status()).unwrap_or_default())
}

/// Whom to count a watch's 410 Gone against.
struct Expired {
    metrics: Arc<crate::metrics::Metrics>,
    user_agent: String,
    resource: String,
}

impl Expired {
    fn count(&self) {
        self.metrics.watch_expired(&self.user_agent, &self.resource);
    }
}

fn watch(ctx: &Arc<Ctx>, kind: Kind, ns: &str, q: &HashMap<String, String>, wants_table: bool, expired: Expired) -> Result<Response<RespBody>, ApiError> {
    let (sel, fsel) = selectors(kind, q)?;
    let rv_param = q.get("resourceVersion").cloned().unwrap_or_default();
    let from = match rv_param.as_str() {
        "" | "0" => None,
        s => Some(s.parse::<u64>().map_err(|_| ApiError::bad_request(format!("resourceVersion: expected a number, got {s:?}")))?),
    };
    let bookmarks = q.get("allowWatchBookmarks").is_some_and(|b| b == "true");
    let timeout = match q.get("timeoutSeconds") {
        Some(t) => Duration::from_secs(t.parse().map_err(|_| ApiError::bad_request(format!("timeoutSeconds: expected an integer, got {t:?}")))?),
        None => DEFAULT_WATCH_TIMEOUT,
    };
    let (tx, rx) = mpsc::channel::<Bytes>(WATCH_CHANNEL_FRAMES);
    let cache = ctx.registry.cache(kind).clone();
    let prefix = prefix_of(kind, ns);
    // Indexed delivery: a watch of one node's pods is handed only theirs
    // (the selectors below still filter each event).
    let trigger = crate::registry::trigger_of(kind, &fsel);
    let bookmark_interval = ctx.bookmark_interval;
    tokio::spawn(async move {
        let mut watcher = match cache.watch_selecting(&prefix, from, trigger) {
            Ok(w) => w,
            Err(too_old) => {
                expired.count();
                let _ = tx.send(too_old_frame(too_old.oldest, &rv_param)).await;
                return;
            }
        };
        let notify = Arc::new(tokio::sync::Notify::new());
        let n2 = notify.clone();
        watcher.set_waker(Arc::new(move || n2.notify_one()));
        let deadline = tokio::time::Instant::now() + timeout;
        let encode = |out: &mut Vec<u8>, type_: &str, o: &Object| {
            if wants_table {
                out.extend_from_slice(&watch_frame(type_, table::table(kind, &[o], &o.meta().resource_version, "", now())));
            } else {
                write_object_frame(out, type_, o);
            }
        };
        loop {
            match watcher.next_batch(WATCH_BATCH_EVENTS) {
                Next::Events(evs) => {
                    // The batch's frames go out in as few writes as WATCH_CHUNK_BYTES allows.
                    let mut chunk = Vec::new();
                    let last = evs.len().saturating_sub(1);
                    for (n, ev) in evs.into_iter().enumerate() {
                        let matches = |o: &Object| sel.matches(&o.meta().labels) && fsel.matches(o);
                        let new_m = ev.value.as_deref().is_some_and(matches);
                        let old_m = ev.prev.as_deref().is_some_and(matches);
                        match (&ev.value, &ev.prev) {
                            (Some(v), Some(_)) if new_m && old_m => encode(&mut chunk, "MODIFIED", v),
                            (Some(v), _) if new_m => encode(&mut chunk, "ADDED", v),
                            (Some(v), Some(_)) if old_m => encode(&mut chunk, "DELETED", v),
                            (None, Some(p)) if old_m => encode(&mut chunk, "DELETED", p),
                            _ => {}
                        }
                        if let Some(c) = take_chunk(&mut chunk, n == last) {
                            if tx.send(c).await.is_err() {
                                return; // client went away
                            }
                        }
                    }
                }
                Next::Idle { revision } => {
                    tokio::select! {
                        _ = notify.notified() => {}
                        _ = tokio::time::sleep(bookmark_interval) => {
                            if bookmarks {
                                let obj = json!({"kind": kind.info().kind_name, "apiVersion": kind.api_version(), "metadata": {"resourceVersion": revision.to_string()}});
                                if tx.send(watch_frame("BOOKMARK", obj)).await.is_err() {
                                    return;
                                }
                            }
                        }
                        _ = tokio::time::sleep_until(deadline) => return,
                        _ = tx.closed() => return,
                    }
                }
                Next::TooOld(t) => {
                    expired.count();
                    let _ = tx.send(too_old_frame(t.oldest, &watcher.cursor().to_string())).await;
                    return;
                }
            }
            if tokio::time::Instant::now() >= deadline {
                return;
            }
        }
    });
    Ok(Response::builder().status(StatusCode::OK).header("Content-Type", "application/json").header("Transfer-Encoding", "chunked").body(ChannelBody { rx }.boxed()).expect("valid response"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn watch_frames_are_sent_at_watch_chunk_bytes_or_at_the_end_of_a_batch() {
        let mut chunk = Vec::new();
        assert_eq!(take_chunk(&mut chunk, true), None, "nothing to send");
        chunk.resize(WATCH_CHUNK_BYTES - 1, b'x');
        assert_eq!(take_chunk(&mut chunk, false), None, "one byte short of the bound: kept");
        chunk.push(b'\n');
        let sent = take_chunk(&mut chunk, false).expect("at the bound: sent");
        assert_eq!(sent.len(), WATCH_CHUNK_BYTES);
        assert!(chunk.is_empty());
        chunk.extend_from_slice(b"{}\n");
        assert_eq!(take_chunk(&mut chunk, true).as_deref(), Some(&b"{}\n"[..]), "the end of a batch sends what there is");
    }
}
