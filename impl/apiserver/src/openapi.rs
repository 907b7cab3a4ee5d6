//! OpenAPI v3 documents: the index at `/openapi/v3` and one document per
//! group-version (`/openapi/v3/api/v1`, `/openapi/v3/apis/apps/v1`, ...),
//! built from the core's resource table and its table of upstream field
//! names (`podcore::schema`).
//!
//! What clients use them for. kubectl's default `--validate=strict` asks,
//! per kind, whether the server takes the `fieldValidation` query parameter
//! on PATCH: it looks through the group-version's paths for a PATCH
//! operation whose `x-kubernetes-group-version-kind` is the kind and whose
//! parameters name `fieldValidation`. If so, it leaves validation to the
//! server (sending `fieldValidation=Strict`); without any OpenAPI, `kubectl
//! apply` fails unless given `--validate=false`.
//!
//! What they describe. Every path and operation podchain serves, with the
//! query parameters it honours (`dryRun` among them) — and not what it
//! refuses (server-side apply). Component schemas name the fields upstream defines,
//! as far down as podchain's field table goes; they do not give field
//! types, so a client that validates types against them accepts any type.
//! Objects podchain carries opaquely (volumes, probes, every status) are
//! objects whose unknown fields are preserved.

use podcore::object::{ResourceInfo, RESOURCES};
use podcore::schema::{schema, F};
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use std::hash::{Hash, Hasher};
use std::sync::OnceLock;

/// The group-versions podchain serves, as the index names them
/// (`api/v1`, `apis/apps/v1`, ...), each with its document.
fn documents() -> &'static BTreeMap<String, (Value, String)> {
    static DOCS: OnceLock<BTreeMap<String, (Value, String)>> = OnceLock::new();
    DOCS.get_or_init(|| {
        let mut gvs: Vec<(&str, &str)> = Vec::new();
        for r in RESOURCES {
            if !gvs.contains(&(r.group, r.version)) {
                gvs.push((r.group, r.version));
            }
        }
        gvs.into_iter()
            .map(|(g, v)| {
                let doc = group_version_document(g, v);
                let text = serde_json::to_string(&doc).expect("a document serialises");
                // The index points at each document by a hash of its contents, so
                // a client may cache a document for as long as its URL stays.
                let mut h = std::collections::hash_map::DefaultHasher::new();
                text.hash(&mut h);
                (gv_path(g, v), (doc, format!("{:016X}", h.finish())))
            })
            .collect()
    })
}

fn gv_path(group: &str, version: &str) -> String {
    if group.is_empty() {
        format!("api/{version}")
    } else {
        format!("apis/{group}/{version}")
    }
}

/// `GET /openapi/v3`: where each group-version's document is.
pub fn index() -> Value {
    let paths: Map<String, Value> = documents().iter().map(|(gv, (_, hash))| (gv.clone(), json!({"serverRelativeURL": format!("/openapi/v3/{gv}?hash={hash}")}))).collect();
    json!({ "paths": paths })
}

/// `GET /openapi/v3/<gv>`, for `gv` as the index names it; None if podchain
/// does not serve that group-version.
pub fn document(gv: &str) -> Option<&'static Value> {
    documents().get(gv).map(|(d, _)| d)
}

/// The component schema name upstream gives a kind (`io.k8s.api.apps.v1.Deployment`).
fn schema_name(group: &str, version: &str, kind: &str) -> String {
    let pkg = match group {
        "" => "core",
        g => g.split('.').next().unwrap_or(g),
    };
    format!("io.k8s.api.{pkg}.{version}.{kind}")
}

const META: &str = "io.k8s.apimachinery.pkg.apis.meta.v1";

fn reference(name: &str) -> Value {
    json!({ "$ref": format!("#/components/schemas/{name}") })
}

/// A field table as a schema: names as upstream spells them, values of any type.
fn fields_schema(fields: &[(&'static str, F)]) -> Value {
    let props: Map<String, Value> = fields.iter().map(|(name, f)| (name.to_string(), field_schema(*f))).collect();
    json!({ "type": "object", "properties": props })
}

fn field_schema(f: F) -> Value {
    match f {
        F::Leaf => json!({}),
        F::Obj(fs) => fields_schema(fs),
        F::List(fs) => json!({ "type": "array", "items": fields_schema(fs) }),
        F::Opaque => json!({ "x-kubernetes-preserve-unknown-fields": true }),
    }
}

fn gvk(group: &str, version: &str, kind: &str) -> Value {
    json!({ "group": group, "version": version, "kind": kind })
}

fn query(name: &str, description: &str, type_: &str) -> Value {
    json!({ "name": name, "in": "query", "description": description, "schema": { "type": type_, "uniqueItems": true } })
}

fn path_param(name: &str, description: &str) -> Value {
    json!({ "name": name, "in": "path", "required": true, "description": description, "schema": { "type": "string", "uniqueItems": true } })
}

fn dry_run_param() -> Value {
    query("dryRun", "All: decide the write (defaults, admission, validation) and answer with its result, storing nothing", "string")
}

/// Query parameters of writes: the ones podchain honours.
fn write_params() -> Vec<Value> {
    vec![
        dry_run_param(),
        query("fieldManager", "a name for the actor making these changes", "string"),
        query("fieldValidation", "what to do with unknown or duplicate fields: Ignore, Warn (the default) or Strict", "string"),
        query("pretty", "ignored: output is always indented the same way", "string"),
    ]
}

fn list_params() -> Vec<Value> {
    vec![
        query("allowWatchBookmarks", "send BOOKMARK events on a watch", "boolean"),
        query("continue", "the continue token of the previous page", "string"),
        query("fieldSelector", "select by fields, e.g. metadata.name=x or spec.nodeName=n", "string"),
        query("labelSelector", "select by labels", "string"),
        query("limit", "most items per page", "integer"),
        query("resourceVersion", "for a watch: the revision after which to send changes", "string"),
        query("timeoutSeconds", "end a watch after this long", "integer"),
        query("watch", "stream changes instead of listing", "boolean"),
    ]
}

fn response(schema: Value) -> Value {
    json!({
        "200": { "description": "OK", "content": { "application/json": { "schema": schema.clone() }, "application/yaml": { "schema": schema } } },
        "401": { "description": "Unauthorized" }
    })
}

fn body(schema: Value, content_types: &[&str]) -> Value {
    let content: Map<String, Value> = content_types.iter().map(|t| (t.to_string(), json!({ "schema": schema.clone() }))).collect();
    json!({ "required": true, "content": content })
}

/// One operation on a path.
fn operation(action: &str, id: String, gvk: &Value, params: Vec<Value>, request: Option<Value>, reply: Value) -> Value {
    let mut op = json!({
        "operationId": id,
        "x-kubernetes-action": action,
        "x-kubernetes-group-version-kind": gvk,
        "parameters": params,
        "responses": response(reply),
    });
    if let Some(r) = request {
        op["requestBody"] = r;
    }
    op
}

/// The patch types a PATCH operation advertises. podchain takes strategic
/// merge patches too (kubectl sends them), but does not advertise them:
/// when a document does, kubectl computes its three-way patch from the
/// document's schemas, and these name fields without the nested structure
/// of what podchain carries opaquely (probes, volumes), where kubectl's
/// compiled-in types know every field and merge key. Without the
/// advertisement kubectl uses those, as it does for a server without
/// OpenAPI.
const PATCH_TYPES: &[&str] = &["application/json-patch+json", "application/merge-patch+json"];
const WRITE_TYPES: &[&str] = &["application/json", "application/yaml"];

/// The paths of one resource, and the component schemas it refers to.
fn resource_paths(r: &ResourceInfo, paths: &mut Map<String, Value>, schemas: &mut Map<String, Value>) {
    let prefix = if r.group.is_empty() { format!("/api/{}", r.version) } else { format!("/apis/{}/{}", r.group, r.version) };
    let kind_gvk = gvk(r.group, r.version, r.kind_name);
    let name = schema_name(r.group, r.version, r.kind_name);
    let list_name = format!("{name}List");
    let mut kind_schema = fields_schema(schema(r.kind));
    kind_schema["x-kubernetes-group-version-kind"] = json!([kind_gvk]);
    schemas.insert(name.clone(), kind_schema);
    schemas.insert(
        list_name.clone(),
        json!({
            "type": "object", "required": ["items"],
            "properties": { "apiVersion": {"type": "string"}, "kind": {"type": "string"}, "metadata": reference(&format!("{META}.ListMeta")), "items": { "type": "array", "items": reference(&name) } },
            "x-kubernetes-group-version-kind": [gvk(r.group, r.version, &format!("{}List", r.kind_name))],
        }),
    );
    // Upstream's operation ids: listAppsV1NamespacedDeployment, readCoreV1NodeStatus, ...
    let gv = format!("{}{}", capitalise(r.group.split('.').next().filter(|g| !g.is_empty()).unwrap_or("core")), capitalise(r.version));
    let scope = if r.namespaced { "Namespaced" } else { "" };
    let id = |verb: &str, sub: &str| format!("{verb}{gv}{scope}{}{}", r.kind_name, capitalise(sub));
    let (collection, item) = if r.namespaced {
        (format!("{prefix}/namespaces/{{namespace}}/{}", r.plural), format!("{prefix}/namespaces/{{namespace}}/{}/{{name}}", r.plural))
    } else {
        (format!("{prefix}/{}", r.plural), format!("{prefix}/{}/{{name}}", r.plural))
    };
    let mut scope_params = vec![];
    if r.namespaced {
        scope_params.push(path_param("namespace", "object name and auth scope, such as for teams and projects"));
    }
    // The collection: list (and watch), create, delete a collection.
    let mut coll = json!({
        "get": operation("list", id("list", ""), &kind_gvk, list_params(), None, reference(&list_name)),
        "post": operation("post", id("create", ""), &kind_gvk, write_params(), Some(body(reference(&name), WRITE_TYPES)), reference(&name)),
        "delete": operation("deletecollection", id("deleteCollection", ""), &kind_gvk, [vec![dry_run_param()], list_params()].concat(), None, reference(&format!("{META}.Status"))),
    });
    coll["parameters"] = json!(scope_params);
    paths.insert(collection, coll);
    if r.namespaced {
        // Across every namespace.
        let all = json!({ "get": operation("list", format!("{}ForAllNamespaces", id("list", "")), &kind_gvk, list_params(), None, reference(&list_name)) });
        paths.insert(format!("{prefix}/{}", r.plural), all);
    }
    let mut item_params = vec![path_param("name", &format!("name of the {}", r.kind_name))];
    item_params.extend(scope_params.iter().cloned());
    let mut one = json!({
        "get": operation("get", id("read", ""), &kind_gvk, vec![], None, reference(&name)),
        "put": operation("put", id("replace", ""), &kind_gvk, write_params(), Some(body(reference(&name), WRITE_TYPES)), reference(&name)),
        "patch": operation("patch", id("patch", ""), &kind_gvk, write_params(), Some(body(reference(&format!("{META}.Patch")), PATCH_TYPES)), reference(&name)),
        "delete": operation("delete", id("delete", ""), &kind_gvk, vec![dry_run_param(), query("gracePeriodSeconds", "seconds before the object is deleted", "integer"), query("propagationPolicy", "Orphan, Background or Foreground", "string")], Some(body(reference(&format!("{META}.DeleteOptions")), &["application/json"])), reference(&format!("{META}.Status"))),
    });
    one["parameters"] = json!(item_params);
    paths.insert(item.clone(), one);
    for sub in r.subresources {
        let mut p = match *sub {
            "status" => json!({
                "get": operation("get", id("read", "status"), &kind_gvk, vec![], None, reference(&name)),
                "put": operation("put", id("replace", "status"), &kind_gvk, write_params(), Some(body(reference(&name), WRITE_TYPES)), reference(&name)),
                "patch": operation("patch", id("patch", "status"), &kind_gvk, write_params(), Some(body(reference(&format!("{META}.Patch")), PATCH_TYPES)), reference(&name)),
            }),
            "scale" => {
                let scale = gvk("autoscaling", "v1", "Scale");
                let s = reference("io.k8s.api.autoscaling.v1.Scale");
                json!({
                    "get": operation("get", id("read", "scale"), &scale, vec![], None, s.clone()),
                    "put": operation("put", id("replace", "scale"), &scale, write_params(), Some(body(s.clone(), WRITE_TYPES)), s.clone()),
                    "patch": operation("patch", id("patch", "scale"), &scale, write_params(), Some(body(reference(&format!("{META}.Patch")), PATCH_TYPES)), s),
                })
            }
            "binding" => {
                let b = reference("io.k8s.api.core.v1.Binding");
                json!({ "post": operation("post", id("create", "binding"), &gvk("", "v1", "Binding"), write_params(), Some(body(b.clone(), WRITE_TYPES)), b) })
            }
            "eviction" => {
                let e = reference("io.k8s.api.policy.v1.Eviction");
                json!({ "post": operation("post", id("create", "eviction"), &gvk("policy", "v1", "Eviction"), write_params(), Some(body(e.clone(), WRITE_TYPES)), e) })
            }
            "log" => json!({
                "get": operation("get", id("read", "log"), &kind_gvk, ["container", "follow", "limitBytes", "previous", "tailLines", "timestamps"].iter().map(|q| query(q, "see kubectl logs", "string")).collect(), None, json!({"type": "string"})),
            }),
            _ => continue,
        };
        p["parameters"] = json!(item_params);
        paths.insert(format!("{item}/{sub}"), p);
    }
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

/// The schemas every document shares: metadata, Status, patches, Scale, Binding.
fn common_schemas(schemas: &mut Map<String, Value>) {
    let object = |extra: Value| {
        let mut o = json!({ "type": "object", "x-kubernetes-preserve-unknown-fields": true });
        if let (Some(o), Some(e)) = (o.as_object_mut(), extra.as_object()) {
            o.extend(e.clone());
        }
        o
    };
    schemas.insert(format!("{META}.ObjectMeta"), fields_schema(podcore::schema::OBJECT_META));
    schemas.insert(format!("{META}.ListMeta"), fields_schema(&[("resourceVersion", F::Leaf), ("continue", F::Leaf), ("remainingItemCount", F::Leaf), ("selfLink", F::Leaf)]));
    schemas.insert(format!("{META}.Status"), object(json!({"x-kubernetes-group-version-kind": [gvk("", "v1", "Status")]})));
    schemas.insert(format!("{META}.DeleteOptions"), object(json!({})));
    schemas.insert(format!("{META}.Patch"), json!({ "type": "object", "description": "a JSON patch, merge patch or strategic merge patch" }));
    schemas.insert("io.k8s.api.autoscaling.v1.Scale".into(), object(json!({"x-kubernetes-group-version-kind": [gvk("autoscaling", "v1", "Scale")]})));
    schemas.insert("io.k8s.api.core.v1.Binding".into(), object(json!({"x-kubernetes-group-version-kind": [gvk("", "v1", "Binding")]})));
    schemas.insert("io.k8s.api.policy.v1.Eviction".into(), object(json!({"x-kubernetes-group-version-kind": [gvk("policy", "v1", "Eviction")]})));
}

fn group_version_document(group: &str, version: &str) -> Value {
    let mut paths = Map::new();
    let mut schemas = Map::new();
    common_schemas(&mut schemas);
    for r in RESOURCES.iter().filter(|r| r.group == group && r.version == version) {
        resource_paths(r, &mut paths, &mut schemas);
    }
    json!({
        "openapi": "3.0.0",
        "info": { "title": "Kubernetes (podchain)", "version": crate::discovery::KUBERNETES_VERSION },
        "paths": paths,
        "components": { "schemas": schemas },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every `$ref` in `v`.
    fn refs<'a>(v: &'a Value, out: &mut Vec<&'a str>) {
        match v {
            Value::Object(m) => {
                if let Some(Value::String(r)) = m.get("$ref") {
                    out.push(r);
                }
                m.values().for_each(|x| refs(x, out));
            }
            Value::Array(a) => a.iter().for_each(|x| refs(x, out)),
            _ => {}
        }
    }

    #[test]
    fn the_index_points_at_a_document_for_every_group_version_served() {
        let index = index();
        for r in RESOURCES {
            let gv = gv_path(r.group, r.version);
            let url = index["paths"][&gv]["serverRelativeURL"].as_str().unwrap_or_else(|| panic!("{gv} missing from the index"));
            assert!(url.starts_with(&format!("/openapi/v3/{gv}?hash=")), "{url}");
            assert!(document(&gv).is_some());
        }
        assert!(document("apis/batch/v1").is_none());
    }

    #[test]
    fn every_kind_has_a_patch_that_takes_field_validation_as_kubectl_looks_for_it() {
        // kubectl's check: some PATCH operation carries the kind's
        // x-kubernetes-group-version-kind and a parameter named fieldValidation.
        for r in RESOURCES {
            let doc = document(&gv_path(r.group, r.version)).unwrap();
            let found = doc["paths"].as_object().unwrap().values().filter_map(|p| p.get("patch")).any(|op| {
                op["x-kubernetes-group-version-kind"] == gvk(r.group, r.version, r.kind_name) && op["parameters"].as_array().unwrap().iter().any(|p| p["name"] == "fieldValidation")
            });
            assert!(found, "no PATCH with fieldValidation for {}", r.kind_name);
        }
    }

    #[test]
    fn every_reference_resolves_and_nothing_refused_is_advertised() {
        for (gv, (doc, _)) in documents() {
            let mut rs = Vec::new();
            refs(doc, &mut rs);
            assert!(!rs.is_empty());
            for r in rs {
                let name = r.strip_prefix("#/components/schemas/").unwrap_or_else(|| panic!("{r}"));
                assert!(doc["components"]["schemas"].get(name).is_some(), "{gv}: {r} does not resolve");
            }
            let text = doc.to_string();
            assert!(!text.contains("apply-patch"), "{gv} advertises server-side apply, which podchain refuses");
            // Every write takes dryRun (kubectl diff and --dry-run=server send it).
            for (path, item) in doc["paths"].as_object().unwrap() {
                for (verb, op) in item.as_object().unwrap().iter().filter(|(v, _)| ["post", "put", "patch", "delete"].contains(&v.as_str())) {
                    assert!(op["parameters"].as_array().unwrap().iter().any(|p| p["name"] == "dryRun"), "{gv}: {verb} {path} has no dryRun");
                }
            }
            // kubectl would compute strategic merge patches from these schemas (see PATCH_TYPES).
            assert!(!text.contains("strategic-merge-patch"), "{gv} advertises strategic merge patches");
        }
    }

    #[test]
    fn schemas_name_upstreams_fields() {
        let doc = document("apis/apps/v1").unwrap();
        let d = &doc["components"]["schemas"]["io.k8s.api.apps.v1.Deployment"];
        assert_eq!(d["x-kubernetes-group-version-kind"][0], gvk("apps", "v1", "Deployment"));
        let container = &d["properties"]["spec"]["properties"]["template"]["properties"]["spec"]["properties"]["containers"]["items"]["properties"];
        assert!(container.get("imagePullPolicy").is_some());
        assert!(container.get("imagePullPolicyy").is_none());
        let lease = &document("apis/coordination.k8s.io/v1").unwrap()["components"]["schemas"]["io.k8s.api.coordination.v1.Lease"];
        assert!(lease["properties"]["spec"]["properties"].get("holderIdentity").is_some());
    }
}
