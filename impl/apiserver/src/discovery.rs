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

fn groups() -> Vec<(&'static str, &'static str)> {
    let mut gs: Vec<(&str, &str)> = Vec::new();
    for r in RESOURCES {
        if !r.group.is_empty() && !gs.contains(&(r.group, r.version)) {
            gs.push((r.group, r.version));
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
    if rs.is_empty() {
        return None;
    }
    let mut resources = Vec::new();
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
