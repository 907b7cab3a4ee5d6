//! Validation as upstream: names, labels, required fields, enums, quantities,
//! and the fields that are immutable on update. Each finding carries its
//! field path so the client is told exactly what to fix.

use crate::names::{dns1123_label, dns1123_subdomain, label_value as validate_label_value, qualified_name as validate_label_key};
use crate::meta::ObjectMeta;
use crate::object::{Kind, Object};
use crate::status::FieldError;
use crate::types::*;

/// Most containers in one pod.
pub const MAX_CONTAINERS: usize = 64;
/// Total size of all annotations on one object (as upstream: 256 KiB).
pub const MAX_ANNOTATIONS_BYTES: usize = 256 * 1024;

fn validate_meta(kind: Kind, m: &ObjectMeta, errs: &mut Vec<FieldError>) {
    let name_check = if kind == Kind::Namespace { dns1123_label } else { dns1123_subdomain };
    if m.name.is_empty() {
        errs.push(FieldError::required("metadata.name", "name or generateName is required"));
    } else if let Err(e) = name_check(&m.name) {
        errs.push(FieldError::invalid("metadata.name", &m.name, e));
    }
    if kind.info().namespaced {
        if m.namespace.is_empty() {
            errs.push(FieldError::required("metadata.namespace", ""));
        } else if let Err(e) = dns1123_label(&m.namespace) {
            errs.push(FieldError::invalid("metadata.namespace", &m.namespace, e));
        }
    } else if !m.namespace.is_empty() {
        errs.push(FieldError::forbidden("metadata.namespace", "not allowed on this type"));
    }
    validate_labels(&m.labels, "metadata.labels", errs);
    let mut total = 0;
    for (k, v) in &m.annotations {
        if let Err(e) = validate_label_key(&k.to_ascii_lowercase()) {
            errs.push(FieldError::invalid("metadata.annotations", k, e));
        }
        total += k.len() + v.len();
    }
    if total > MAX_ANNOTATIONS_BYTES {
        errs.push(FieldError { field: "metadata.annotations".into(), kind: crate::status::FieldErrorKind::TooLong, value: None, detail: format!("may not be more than {MAX_ANNOTATIONS_BYTES} bytes") });
    }
    let controllers = m.owner_references.iter().filter(|r| r.controller == Some(true)).count();
    if controllers > 1 {
        errs.push(FieldError::invalid("metadata.ownerReferences", "", "Only one reference can have Controller set to true"));
    }
    for (i, r) in m.owner_references.iter().enumerate() {
        let f = format!("metadata.ownerReferences[{i}]");
        if r.uid.is_empty() {
            errs.push(FieldError::required(format!("{f}.uid"), "uid must not be empty"));
        }
        if r.name.is_empty() {
            errs.push(FieldError::required(format!("{f}.name"), "name must not be empty"));
        }
        if r.kind.is_empty() {
            errs.push(FieldError::required(format!("{f}.kind"), "kind must not be empty"));
        }
    }
}

fn validate_labels(labels: &crate::meta::StringMap, field: &str, errs: &mut Vec<FieldError>) {
    for (k, v) in labels {
        if let Err(e) = validate_label_key(k) {
            errs.push(FieldError::invalid(field, k, e));
        }
        if let Err(e) = validate_label_value(v) {
            errs.push(FieldError::invalid(format!("{field}"), v, e));
        }
    }
}

fn validate_resources(r: &ResourceList, field: &str, errs: &mut Vec<FieldError>) {
    for (name, q) in r {
        let f = format!("{field}[{name}]");
        match q.nanos() {
            Err(e) => errs.push(FieldError::invalid(&f, &q.0, e)),
            Ok(n) if n < 0 => errs.push(FieldError::invalid(&f, &q.0, "must be greater than or equal to 0")),
            Ok(_) => {}
        }
    }
}

pub fn validate_pod_spec(spec: &PodSpec, field: &str, errs: &mut Vec<FieldError>) {
    if spec.containers.is_empty() {
        errs.push(FieldError::required(format!("{field}.containers"), ""));
    }
    if spec.containers.len() > MAX_CONTAINERS {
        errs.push(FieldError::forbidden(format!("{field}.containers"), format!("may not have more than {MAX_CONTAINERS} containers")));
    }
    let mut names = std::collections::BTreeSet::new();
    for (i, c) in spec.containers.iter().enumerate() {
        let f = format!("{field}.containers[{i}]");
        if c.name.is_empty() {
            errs.push(FieldError::required(format!("{f}.name"), ""));
        } else if let Err(e) = dns1123_label(&c.name) {
            errs.push(FieldError::invalid(format!("{f}.name"), &c.name, e));
        } else if !names.insert(c.name.clone()) {
            errs.push(FieldError::duplicate(format!("{f}.name"), &c.name));
        }
        if c.image.trim().is_empty() {
            errs.push(FieldError::required(format!("{f}.image"), ""));
        }
        if !c.image_pull_policy.is_empty() && !["Always", "IfNotPresent", "Never"].contains(&c.image_pull_policy.as_str()) {
            errs.push(FieldError::unsupported(format!("{f}.imagePullPolicy"), &c.image_pull_policy, &["Always", "IfNotPresent", "Never"]));
        }
        for (j, p) in c.ports.iter().enumerate() {
            if !(1..=65535).contains(&p.container_port) {
                errs.push(FieldError::invalid(format!("{f}.ports[{j}].containerPort"), p.container_port.to_string(), "must be between 1 and 65535, inclusive"));
            }
            if !p.protocol.is_empty() && !["TCP", "UDP", "SCTP"].contains(&p.protocol.as_str()) {
                errs.push(FieldError::unsupported(format!("{f}.ports[{j}].protocol"), &p.protocol, &["SCTP", "TCP", "UDP"]));
            }
        }
        for (j, e) in c.env.iter().enumerate() {
            if e.name.is_empty() {
                errs.push(FieldError::required(format!("{f}.env[{j}].name"), ""));
            }
        }
        validate_resources(&c.resources.requests, &format!("{f}.resources.requests"), errs);
        validate_resources(&c.resources.limits, &format!("{f}.resources.limits"), errs);
        for (name, req) in &c.resources.requests {
            if let (Some(lim), Ok(r)) = (c.resources.limits.get(name), req.nanos()) {
                if lim.nanos().is_ok_and(|l| r > l) {
                    errs.push(FieldError::invalid(format!("{f}.resources.requests[{name}]"), &req.0, format!("must be less than or equal to {name} limit of {}", lim.0)));
                }
            }
        }
    }
    if !spec.restart_policy.is_empty() && !["Always", "OnFailure", "Never"].contains(&spec.restart_policy.as_str()) {
        errs.push(FieldError::unsupported(format!("{field}.restartPolicy"), &spec.restart_policy, &["Always", "OnFailure", "Never"]));
    }
    if let Some(g) = spec.termination_grace_period_seconds {
        if g < 0 {
            errs.push(FieldError::invalid(format!("{field}.terminationGracePeriodSeconds"), g.to_string(), "must be greater than or equal to 0"));
        }
    }
    for (i, t) in spec.tolerations.iter().enumerate() {
        let f = format!("{field}.tolerations[{i}]");
        if !t.operator.is_empty() && !["Exists", "Equal"].contains(&t.operator.as_str()) {
            errs.push(FieldError::unsupported(format!("{f}.operator"), &t.operator, &["Equal", "Exists"]));
        }
        if t.operator == "Exists" && !t.value.is_empty() {
            errs.push(FieldError::invalid(format!("{f}.operator"), &t.value, "value must be empty when `operator` is 'Exists'"));
        }
        if !t.effect.is_empty() && !["NoSchedule", "PreferNoSchedule", "NoExecute"].contains(&t.effect.as_str()) {
            errs.push(FieldError::unsupported(format!("{f}.effect"), &t.effect, &["NoExecute", "NoSchedule", "PreferNoSchedule"]));
        }
        if t.toleration_seconds.is_some() && t.effect != "NoExecute" {
            errs.push(FieldError::invalid(format!("{f}.effect"), &t.effect, "effect must be 'NoExecute' when `tolerationSeconds` is set"));
        }
    }
    validate_labels(&spec.node_selector, &format!("{field}.nodeSelector"), errs);
}

fn validate_selector_and_template(sel: &crate::labels::LabelSelector, tmpl: &PodTemplateSpec, errs: &mut Vec<FieldError>) {
    if sel.is_empty() {
        errs.push(FieldError::invalid("spec.selector", "", "empty selector is invalid for deployment"));
    }
    match sel.to_selector() {
        Err(e) => errs.push(FieldError::invalid("spec.selector", "", e)),
        Ok(s) => {
            if !sel.is_empty() && !s.matches(&tmpl.metadata.labels) {
                errs.push(FieldError::invalid("spec.template.metadata.labels", format!("{:?}", tmpl.metadata.labels), "`selector` does not match template `labels`"));
            }
        }
    }
    validate_labels(&tmpl.metadata.labels, "spec.template.metadata.labels", errs);
    validate_pod_spec(&tmpl.spec, "spec.template.spec", errs);
    if !tmpl.spec.restart_policy.is_empty() && tmpl.spec.restart_policy != "Always" {
        errs.push(FieldError::unsupported("spec.template.spec.restartPolicy", &tmpl.spec.restart_policy, &["Always"]));
    }
}

/// Validates an object as it would be stored (after defaulting).
pub fn validate(obj: &Object) -> Vec<FieldError> {
    let mut errs = Vec::new();
    validate_meta(obj.kind(), obj.meta(), &mut errs);
    match obj {
        Object::Pod(p) => validate_pod_spec(&p.spec, "spec", &mut errs),
        Object::ReplicaSet(rs) => {
            if rs.spec.replicas.is_some_and(|r| r < 0) {
                errs.push(FieldError::invalid("spec.replicas", rs.spec.replicas.unwrap().to_string(), "must be greater than or equal to 0"));
            }
            validate_selector_and_template(&rs.spec.selector, &rs.spec.template, &mut errs);
        }
        Object::Deployment(d) => {
            if d.spec.replicas.is_some_and(|r| r < 0) {
                errs.push(FieldError::invalid("spec.replicas", d.spec.replicas.unwrap().to_string(), "must be greater than or equal to 0"));
            }
            validate_selector_and_template(&d.spec.selector, &d.spec.template, &mut errs);
            let st = &d.spec.strategy;
            match st.type_.as_str() {
                "Recreate" => {
                    if st.rolling_update.is_some() {
                        errs.push(FieldError::forbidden("spec.strategy.rollingUpdate", "may not be specified when strategy `type` is 'Recreate'"));
                    }
                }
                "RollingUpdate" => {
                    if let Some(ru) = &st.rolling_update {
                        let replicas = d.spec.replicas.unwrap_or(1);
                        let mut vals = [0i32; 2];
                        for (i, (name, v)) in [("maxUnavailable", &ru.max_unavailable), ("maxSurge", &ru.max_surge)].into_iter().enumerate() {
                            let f = format!("spec.strategy.rollingUpdate.{name}");
                            if let Some(v) = v {
                                match v.scaled(100, true) {
                                    Err(e) => errs.push(FieldError::invalid(&f, format!("{v:?}"), e)),
                                    Ok(n) if n < 0 => errs.push(FieldError::invalid(&f, format!("{v:?}"), "must be greater than or equal to 0")),
                                    Ok(_) => {
                                        if let IntOrString::String(s) = v {
                                            if s.trim_end_matches('%').parse::<i32>().is_ok_and(|p| p > 100) && name == "maxUnavailable" {
                                                errs.push(FieldError::invalid(&f, s, "must not be greater than 100%"));
                                            }
                                        }
                                        vals[i] = v.scaled(replicas.max(1), i == 1).unwrap_or(0);
                                    }
                                }
                            }
                        }
                        if vals == [0, 0] && ru.max_unavailable.is_some() && ru.max_surge.is_some() {
                            errs.push(FieldError::invalid("spec.strategy.rollingUpdate.maxUnavailable", "0", "may not be 0 when `maxSurge` is 0"));
                        }
                    }
                }
                other => errs.push(FieldError::unsupported("spec.strategy.type", other, &["Recreate", "RollingUpdate"])),
            }
            if d.spec.revision_history_limit.is_some_and(|r| r < 0) {
                errs.push(FieldError::invalid("spec.revisionHistoryLimit", d.spec.revision_history_limit.unwrap().to_string(), "must be greater than or equal to 0"));
            }
            if let Some(p) = d.spec.progress_deadline_seconds {
                if p <= d.spec.min_ready_seconds {
                    errs.push(FieldError::invalid("spec.progressDeadlineSeconds", p.to_string(), "must be greater than minReadySeconds"));
                }
            }
        }
        Object::Node(n) => {
            for (i, t) in n.spec.taints.iter().enumerate() {
                if let Err(e) = validate_label_key(&t.key) {
                    errs.push(FieldError::invalid(format!("spec.taints[{i}].key"), &t.key, e));
                }
                if !["NoSchedule", "PreferNoSchedule", "NoExecute"].contains(&t.effect.as_str()) {
                    errs.push(FieldError::unsupported(format!("spec.taints[{i}].effect"), &t.effect, &["NoExecute", "NoSchedule", "PreferNoSchedule"]));
                }
            }
            validate_resources(&n.status.capacity, "status.capacity", &mut errs);
            validate_resources(&n.status.allocatable, "status.allocatable", &mut errs);
        }
        Object::Event(e) => {
            if e.involved_object.namespace != e.metadata.namespace && !e.involved_object.namespace.is_empty() {
                errs.push(FieldError::invalid("involvedObject.namespace", &e.involved_object.namespace, "does not match event.namespace"));
            }
        }
        Object::Lease(l) => {
            if l.spec.lease_duration_seconds.is_some_and(|d| d <= 0) {
                errs.push(FieldError::invalid("spec.leaseDurationSeconds", l.spec.lease_duration_seconds.unwrap().to_string(), "must be greater than 0"));
            }
        }
        Object::Namespace(_) => {}
    }
    errs
}

/// Checks what may not change between `old` and `new` (both defaulted).
pub fn validate_update(old: &Object, new: &Object) -> Vec<FieldError> {
    let mut errs = validate(new);
    let (om, nm) = (old.meta(), new.meta());
    if om.name != nm.name {
        errs.push(FieldError::invalid("metadata.name", &nm.name, "field is immutable"));
    }
    if om.namespace != nm.namespace {
        errs.push(FieldError::invalid("metadata.namespace", &nm.namespace, "field is immutable"));
    }
    match (old, new) {
        (Object::Pod(o), Object::Pod(n)) => {
            if !o.spec.node_name.is_empty() && o.spec.node_name != n.spec.node_name {
                errs.push(FieldError::invalid("spec.nodeName", &n.spec.node_name, "field is immutable once set"));
            }
            // As upstream: of the spec, only container images, tolerations
            // (additions) and activeDeadlineSeconds may change.
            let mut o_spec = o.spec.clone();
            let mut n_spec = n.spec.clone();
            for c in o_spec.containers.iter_mut() {
                c.image.clear();
            }
            for c in n_spec.containers.iter_mut() {
                c.image.clear();
            }
            o_spec.tolerations.clear();
            n_spec.tolerations.clear();
            o_spec.node_name.clear();
            n_spec.node_name.clear();
            o_spec.extra.0.remove("activeDeadlineSeconds");
            n_spec.extra.0.remove("activeDeadlineSeconds");
            if o_spec != n_spec {
                errs.push(FieldError::forbidden("spec", "pod updates may not change fields other than `spec.containers[*].image`, `spec.activeDeadlineSeconds`, `spec.tolerations` (only additions to existing tolerations)"));
            }
        }
        (Object::ReplicaSet(o), Object::ReplicaSet(n)) if o.spec.selector != n.spec.selector => {
            errs.push(FieldError::invalid("spec.selector", n.spec.selector.to_query_string(), "field is immutable"));
        }
        (Object::Deployment(o), Object::Deployment(n)) if o.spec.selector != n.spec.selector => {
            errs.push(FieldError::invalid("spec.selector", n.spec.selector.to_query_string(), "field is immutable"));
        }
        _ => {}
    }
    errs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pod_errors_name_their_fields() {
        let mut p = Pod::default();
        p.metadata.name = "Bad_Name".into();
        p.metadata.namespace = "default".into();
        p.spec.containers.push(Container { name: "c".into(), image: "".into(), ..Default::default() });
        p.spec.containers.push(Container { name: "c".into(), image: "x".into(), ..Default::default() });
        p.spec.containers[1].resources.requests.insert("cpu".into(), "lots".into());
        p.spec.restart_policy = "Sometimes".into();
        let errs = validate(&Object::Pod(p));
        let fields: Vec<&str> = errs.iter().map(|e| e.field.as_str()).collect();
        for want in ["metadata.name", "spec.containers[0].image", "spec.containers[1].name", "spec.containers[1].resources.requests[cpu]", "spec.restartPolicy"] {
            assert!(fields.contains(&want), "missing {want} in {fields:?}");
        }
    }

    #[test]
    fn too_many_containers_is_refused_at_the_bound() {
        let mut p = Pod::default();
        p.metadata.name = "p".into();
        p.metadata.namespace = "default".into();
        for i in 0..MAX_CONTAINERS {
            p.spec.containers.push(Container { name: format!("c{i}"), image: "x".into(), ..Default::default() });
        }
        assert!(validate(&Object::Pod(p.clone())).is_empty());
        p.spec.containers.push(Container { name: "one-more".into(), image: "x".into(), ..Default::default() });
        assert!(validate(&Object::Pod(p)).iter().any(|e| e.field == "spec.containers"));
    }

    #[test]
    fn annotations_are_bounded_at_max_annotations_bytes() {
        let with = |value_len: usize| {
            let mut p = Pod::default();
            p.metadata.name = "p".into();
            p.metadata.namespace = "default".into();
            p.spec.containers.push(Container { name: "c".into(), image: "x".into(), ..Default::default() });
            // Keys count too: "k" is one byte.
            p.metadata.annotations.insert("k".into(), "v".repeat(value_len));
            validate(&Object::Pod(p))
        };
        assert!(with(MAX_ANNOTATIONS_BYTES - 1).is_empty(), "exactly at the bound");
        let errs = with(MAX_ANNOTATIONS_BYTES);
        assert!(errs.iter().any(|e| e.field == "metadata.annotations" && e.detail.contains(&MAX_ANNOTATIONS_BYTES.to_string())), "{errs:?}");
    }
}
