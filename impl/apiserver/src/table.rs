//! `meta.k8s.io/v1 Table` output, which kubectl asks for (`Accept: ...;as=Table`)
//! to print the same columns as upstream's `kubectl get`.

use podcore::object::Object;
use podcore::time::Time;
use serde_json::{json, Value};

fn age(created: Option<Time>, now: Time) -> String {
    let Some(c) = created else { return "<unknown>".into() };
    let s = (now.ms_since(c) / 1000).max(0);
    match s {
        0..=119 => format!("{s}s"),
        120..=599 => format!("{}m{}s", s / 60, s % 60),
        600..=10_799 => format!("{}m", s / 60),
        10_800..=172_799 => format!("{}h", s / 3600),
        _ => format!("{}d", s / 86_400),
    }
}

fn col(name: &str, ty: &str, priority: i32) -> Value {
    json!({"name": name, "type": ty, "format": if name == "Name" { "name" } else { "" }, "description": name, "priority": priority})
}

pub fn columns(obj_kind: podcore::object::Kind) -> Vec<Value> {
    use podcore::object::Kind::*;
    match obj_kind {
        Pod => vec![col("Name", "string", 0), col("Ready", "string", 0), col("Status", "string", 0), col("Restarts", "string", 0), col("Age", "string", 0), col("IP", "string", 1), col("Node", "string", 1), col("Nominated Node", "string", 1), col("Readiness Gates", "string", 1)],
        Deployment => vec![col("Name", "string", 0), col("Ready", "string", 0), col("Up-to-date", "string", 0), col("Available", "string", 0), col("Age", "string", 0)],
        ReplicaSet => vec![col("Name", "string", 0), col("Desired", "string", 0), col("Current", "string", 0), col("Ready", "string", 0), col("Age", "string", 0)],
        Node => vec![col("Name", "string", 0), col("Status", "string", 0), col("Roles", "string", 0), col("Age", "string", 0), col("Version", "string", 0)],
        Namespace => vec![col("Name", "string", 0), col("Status", "string", 0), col("Age", "string", 0)],
        Lease => vec![col("Name", "string", 0), col("Holder", "string", 0), col("Age", "string", 0)],
        Event => vec![col("Last Seen", "string", 0), col("Type", "string", 0), col("Reason", "string", 0), col("Object", "string", 0), col("Message", "string", 0)],
        Role | ClusterRole => vec![col("Name", "string", 0), col("Created At", "string", 0)],
        RoleBinding | ClusterRoleBinding => vec![col("Name", "string", 0), col("Role", "string", 0), col("Age", "string", 0), col("Users", "string", 1), col("Groups", "string", 1), col("ServiceAccounts", "string", 1)],
    }
}

pub fn cells(obj: &Object, now: Time) -> Vec<Value> {
    let m = obj.meta();
    let a = age(m.creation_timestamp, now);
    match obj {
        Object::Pod(p) => {
            let total = p.spec.containers.len();
            let ready = p.status.container_statuses.iter().filter(|c| c.ready).count();
            let restarts: i32 = p.status.container_statuses.iter().map(|c| c.restart_count).sum();
            let waiting = p.status.container_statuses.iter().find_map(|c| c.state.waiting.as_ref().map(|w| w.reason.clone()).filter(|r| !r.is_empty()));
            let terminated = p.status.container_statuses.iter().find_map(|c| c.state.terminated.as_ref().map(|t| t.reason.clone()).filter(|r| !r.is_empty()));
            let status = if m.deletion_timestamp.is_some() {
                "Terminating".to_string()
            } else if let Some(w) = waiting.filter(|w| w != "ContainerCreating" || p.status.phase == "Pending") {
                w
            } else if let Some(t) = terminated.filter(|_| p.status.phase != "Running") {
                t
            } else if p.status.phase.is_empty() {
                "Pending".into()
            } else {
                p.status.phase.clone()
            };
            let ip = if p.status.pod_ip.is_empty() { "<none>".into() } else { p.status.pod_ip.clone() };
            let node = if p.spec.node_name.is_empty() { "<none>".into() } else { p.spec.node_name.clone() };
            // podchain never nominates (no preemption); readiness gates are
            // carried in the spec, and a gate is met by a True condition of its type.
            let gates: Vec<&str> = p.spec.extra.0.get("readinessGates").and_then(|g| g.as_array()).map(|g| g.iter().filter_map(|x| x["conditionType"].as_str()).collect()).unwrap_or_default();
            let gates = if gates.is_empty() {
                "<none>".to_string()
            } else {
                let met = gates.iter().filter(|t| p.status.conditions.iter().any(|c| c.type_ == **t && c.status == "True")).count();
                format!("{met}/{}", gates.len())
            };
            vec![json!(m.name), json!(format!("{ready}/{total}")), json!(status), json!(restarts.to_string()), json!(a), json!(ip), json!(node), json!("<none>"), json!(gates)]
        }
        Object::Deployment(d) => {
            let want = d.spec.replicas.unwrap_or(1);
            vec![json!(m.name), json!(format!("{}/{want}", d.status.ready_replicas)), json!(d.status.updated_replicas), json!(d.status.available_replicas), json!(a)]
        }
        Object::ReplicaSet(r) => vec![json!(m.name), json!(r.spec.replicas.unwrap_or(1)), json!(r.status.replicas), json!(r.status.ready_replicas), json!(a)],
        Object::Node(n) => {
            let mut status = match podcore::controller::nodelifecycle::ready_status(n) {
                "True" => "Ready".to_string(),
                _ => "NotReady".to_string(),
            };
            if n.spec.unschedulable {
                status.push_str(",SchedulingDisabled");
            }
            let version = n.status.node_info.as_ref().map(|i| i.kubelet_version.clone()).unwrap_or_default();
            vec![json!(m.name), json!(status), json!("<none>"), json!(a), json!(version)]
        }
        Object::Namespace(n) => vec![json!(m.name), json!(n.status.phase), json!(a)],
        Object::Lease(l) => vec![json!(m.name), json!(l.spec.holder_identity.clone().unwrap_or_default()), json!(a)],
        Object::Role(_) | Object::ClusterRole(_) => vec![json!(m.name), json!(m.creation_timestamp.map(|t| t.to_rfc3339()).unwrap_or_default())],
        Object::RoleBinding(b) | Object::ClusterRoleBinding(b) => {
            let of = |kind: &str| {
                let names: Vec<String> = b.subjects.iter().filter(|s| s.kind == kind).map(|s| if kind == "ServiceAccount" { format!("{}/{}", s.namespace, s.name) } else { s.name.clone() }).collect();
                json!(names.join(", "))
            };
            vec![json!(m.name), json!(format!("{}/{}", b.role_ref.kind, b.role_ref.name)), json!(a), of("User"), of("Group"), of("ServiceAccount")]
        }
        Object::Event(e) => {
            let last = e.last_timestamp.or(e.event_time.map(Time::from)).or(m.creation_timestamp);
            let o = &e.involved_object;
            vec![json!(age(last, now)), json!(e.type_), json!(e.reason), json!(format!("{}/{}", o.kind.to_lowercase(), o.name)), json!(e.message)]
        }
    }
}

pub fn row(obj: &Object, now: Time) -> Value {
    let mut meta = serde_json::to_value(obj.meta()).unwrap_or_default();
    if let Some(m) = meta.as_object_mut() {
        m.remove("managedFields");
    }
    json!({"cells": cells(obj, now), "object": {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": meta}})
}

pub fn table(kind: podcore::object::Kind, objs: &[&Object], resource_version: &str, cont: &str, now: Time) -> Value {
    let mut md = json!({"resourceVersion": resource_version});
    if !cont.is_empty() {
        md["continue"] = json!(cont);
    }
    json!({
        "kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": md,
        "columnDefinitions": columns(kind),
        "rows": objs.iter().map(|o| row(o, now)).collect::<Vec<_>>(),
    })
}
