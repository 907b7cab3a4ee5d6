//! Discovery documents (`/api`, `/apis`, `/api/v1`, `/apis/GROUP/VERSION`,
//! `/version`) built from the core's resource table, so that kubectl and
//! client libraries find every resource, verb, short name and subresource.

use podcore::object::{ResourceInfo, RESOURCES};
use serde_json::{json, Value};

pub const KUBERNETES_VERSION: &str = "v1.32.0";

pub fn version() -> Value {
    json!({
        "major": "1", "minor": "32", "gitVersion": format!("{KUBERNETES_VERSION}+podchain"),
        "gitCommit": "", "gitTreeState": "clean", "buildDate": "1970-01-01T00:00:00Z",
        "goVersion": "n/a (podchain is written in Rust)", "compiler": "rustc", "platform": "linux/amd64"
    })
}

pub fn api_versions(addr: &str) -> Value {
    json!({"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": addr}]})
}

/// Resources that are not stored, only created and answered: (group,
/// version, plural, kind).
pub const REVIEWS: &[(&str, &str, &str, &str)] = &[("authorization.k8s.io", "v1", "subjectaccessreviews", "SubjectAccessReview")];

fn groups() -> Vec<(&'static str, &'static str)> {
    let mut gs: Vec<(&str, &str)> = Vec::new();
    for (g, v) in RESOURCES.iter().map(|r| (r.group, r.version)).chain(REVIEWS.iter().map(|r| (r.0, r.1))) {
        if !g.is_empty() && !gs.contains(&(g, v)) {
            gs.push((g, v));
        }
    }
    gs
}

pub fn api_group_list() -> Value {
    let groups: Vec<Value> = groups()
        .into_iter()
        .map(|(g, v)| {
            let gv = json!({"groupVersion": format!("{g}/{v}"), "version": v});
            json!({"name": g, "versions": [gv.clone()], "preferredVersion": gv})
        })
        .collect();
    json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
}

fn verbs(r: &ResourceInfo) -> Vec<&'static str> {
    let _ = r;
    vec!["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]
}

pub fn resource_list(group: &str, version: &str) -> Option<Value> {
    let rs: Vec<&ResourceInfo> = RESOURCES.iter().filter(|r| r.group == group && r.version == version).collect();
    let reviews: Vec<Value> = REVIEWS.iter().filter(|r| r.0 == group && r.1 == version).map(|r| json!({"name": r.2, "singularName": "", "namespaced": false, "kind": r.3, "verbs": ["create"]})).collect();
    if rs.is_empty() && reviews.is_empty() {
        return None;
    }
    let mut resources = reviews;
    for r in rs {
        let mut entry = json!({
            "name": r.plural, "singularName": r.singular, "namespaced": r.namespaced,
            "kind": r.kind_name, "verbs": verbs(r),
        });
        if !r.short_names.is_empty() {
            entry["shortNames"] = json!(r.short_names);
        }
        if !r.categories.is_empty() {
            entry["categories"] = json!(r.categories);
        }
        resources.push(entry);
        for sub in r.subresources {
            let (kind, group, version, verbs): (&str, Option<&str>, Option<&str>, Vec<&str>) = match *sub {
                "status" => (r.kind_name, None, None, vec!["get", "patch", "update"]),
                "scale" => ("Scale", Some("autoscaling"), Some("v1"), vec!["get", "patch", "update"]),
                "binding" => ("Binding", None, None, vec!["create"]),
                "log" => ("Pod", None, None, vec!["get"]),
                "eviction" => ("Eviction", Some("policy"), Some("v1"), vec!["create"]),
                _ => continue,
            };
            let mut e = json!({"name": format!("{}/{}", r.plural, sub), "singularName": "", "namespaced": r.namespaced, "kind": kind, "verbs": verbs});
            if let (Some(g), Some(v)) = (group, version) {
                e["group"] = json!(g);
                e["version"] = json!(v);
            }
            resources.push(e);
        }
    }
    let gv = if group.is_empty() { version.to_string() } else { format!("{group}/{version}") };
    Some(json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": resources}))
}
