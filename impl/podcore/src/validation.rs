//! Validation as upstream: names, labels, required fields, enums, quantities,
//! and the fields that are immutable on update. Each finding carries its
//! field path so the client is told exactly what to fix.
//!
//! Each check mirrors one of upstream's rules (apimachinery's
//! `ValidateObjectMeta`, core's `ValidatePodSpec` / `validateContainerCommon`
//! / `ValidateTolerations` / node and event validation, apps'
//! `ValidateDeploymentSpec` / `ValidateReplicaSetSpec`, coordination's
//! `ValidateLease`), with upstream's field paths and messages. The rules and
//! the corpus case that exercises each are listed in
//! `tests/bad-manifests/RULES.md`.

use crate::meta::{ObjectMeta, FINALIZER_FOREGROUND, FINALIZER_ORPHAN};
use crate::names::{dns1123_label, dns1123_subdomain, label_value as validate_label_value, qualified_name as validate_label_key};
use crate::object::{Kind, Object};
use crate::status::{FieldError, FieldErrorKind};
use crate::types::*;

/// Most containers in one pod.
pub const MAX_CONTAINERS: usize = 64;
/// Total size of all annotations on one object (as upstream: 256 KiB).
pub const MAX_ANNOTATIONS_BYTES: usize = 256 * 1024;
/// Longest port name (an IANA service name).
pub const MAX_PORT_NAME_LEN: usize = 15;
/// Longest reportingInstance, action and reason of an Event (upstream's
/// ReportingInstanceLengthLimit, ActionLengthLimit, ReasonLengthLimit).
pub const MAX_EVENT_FIELD_LEN: usize = 128;
/// Longest Event message (upstream's NoteLengthLimit).
pub const MAX_EVENT_NOTE_LEN: usize = 1024;

/// The annotation that ranks pods for scale-down (must be a 32-bit integer).
pub const POD_DELETION_COST_ANNOTATION: &str = "controller.kubernetes.io/pod-deletion-cost";

/// Upstream's `maskTrailingDash`: a generateName may end in '-', the name made from it may not.
fn mask_trailing_dash(name: &str) -> String {
    match name.strip_suffix('-') {
        Some(rest) if !rest.is_empty() => format!("{rest}a"),
        _ => name.to_string(),
    }
}

/// Upstream's `IsValidPathSegmentName`, which RBAC names follow
/// (`system:kube-scheduler` is one): anything a URL path segment can carry.
pub fn path_segment_name(name: &str) -> Result<(), String> {
    match name {
        "." => return Err("may not be '.'".into()),
        ".." => return Err("may not be '..'".into()),
        _ => {}
    }
    for bad in ['/', '%'] {
        if name.contains(bad) {
            return Err(format!("may not contain '{bad}'"));
        }
    }
    Ok(())
}

fn is_rbac(kind: Kind) -> bool {
    matches!(kind, Kind::Role | Kind::ClusterRole | Kind::RoleBinding | Kind::ClusterRoleBinding)
}

fn validate_meta(kind: Kind, m: &ObjectMeta, errs: &mut Vec<FieldError>) {
    let name_check: fn(&str) -> Result<(), String> = if kind == Kind::Namespace {
        dns1123_label
    } else if is_rbac(kind) {
        path_segment_name
    } else {
        dns1123_subdomain
    };
    if !m.generate_name.is_empty() {
        if let Err(e) = name_check(&mask_trailing_dash(&m.generate_name)) {
            errs.push(FieldError::invalid("metadata.generateName", &m.generate_name, e));
        }
    }
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
        // As upstream: a qualified name, except that case does not matter.
        if let Err(e) = validate_label_key(&k.to_ascii_lowercase()) {
            errs.push(FieldError::invalid("metadata.annotations", k, e));
        }
        total += k.len() + v.len();
    }
    if total > MAX_ANNOTATIONS_BYTES {
        errs.push(FieldError { field: "metadata.annotations".into(), kind: FieldErrorKind::TooLong, value: None, detail: format!("may not be more than {MAX_ANNOTATIONS_BYTES} bytes") });
    }
    let mut first_controller: Option<String> = None;
    for (i, r) in m.owner_references.iter().enumerate() {
        let f = format!("metadata.ownerReferences[{i}]");
        if r.api_version.is_empty() {
            errs.push(FieldError::required(format!("{f}.apiVersion"), "must not be empty"));
        } else if !is_group_version(&r.api_version) {
            errs.push(FieldError::invalid(format!("{f}.apiVersion"), &r.api_version, "must be <group>/<version> or <version>"));
        }
        if r.kind.is_empty() {
            errs.push(FieldError::required(format!("{f}.kind"), "must not be empty"));
        }
        if r.name.is_empty() {
            errs.push(FieldError::required(format!("{f}.name"), "must not be empty"));
        }
        if r.uid.is_empty() {
            errs.push(FieldError::required(format!("{f}.uid"), "must not be empty"));
        }
        if r.api_version == "v1" && r.kind == "Event" {
            errs.push(FieldError::invalid(&f, format!("{}/{}", r.kind, r.name), "/v1, Kind=Event is disallowed from being an owner"));
        }
        if r.controller == Some(true) {
            let this = format!("{}/{}", r.kind, r.name);
            match &first_controller {
                Some(first) => errs.push(FieldError::invalid("metadata.ownerReferences", "", format!("Only one reference can have Controller set to true. Found \"true\" in references for {first} and {this}"))),
                None => first_controller = Some(this),
            }
        }
    }
    for f in &m.finalizers {
        if let Err(e) = validate_label_key(f) {
            errs.push(FieldError::invalid("metadata.finalizers", f, e));
        }
    }
    if m.finalizers.iter().any(|f| f == FINALIZER_ORPHAN) && m.finalizers.iter().any(|f| f == FINALIZER_FOREGROUND) {
        errs.push(FieldError::invalid("metadata.finalizers", m.finalizers.join(","), format!("finalizer {FINALIZER_ORPHAN} and {FINALIZER_FOREGROUND} cannot be both set")));
    }
}

/// Upstream's `schema.ParseGroupVersion` accepting it with a version.
fn is_group_version(s: &str) -> bool {
    match s.split_once('/') {
        None => !s.is_empty(),
        Some((_, version)) => !version.is_empty() && !version.contains('/'),
    }
}

fn validate_labels(labels: &crate::meta::StringMap, field: &str, errs: &mut Vec<FieldError>) {
    for (k, v) in labels {
        if let Err(e) = validate_label_key(k) {
            errs.push(FieldError::invalid(field, k, e));
        }
        if let Err(e) = validate_label_value(v) {
            errs.push(FieldError::invalid(field, v, e));
        }
    }
}

/// Upstream's `helper.IsNativeResource`: no domain, or a kubernetes.io one.
fn is_native_resource(name: &str) -> bool {
    !name.contains('/') || name.contains("kubernetes.io/")
}

fn is_hugepages(name: &str) -> bool {
    name.starts_with("hugepages-")
}

/// Upstream's `helper.IsExtendedResourceName`: a device plugin's resource.
fn is_extended_resource(name: &str) -> bool {
    !is_native_resource(name) && !name.starts_with("requests.") && validate_label_key(&format!("requests.{name}")).is_ok()
}

/// Upstream's `IsStandardResourceName`, for names without a domain.
fn is_standard_resource(name: &str) -> bool {
    const STANDARD: &[&str] = &[
        "cpu", "memory", "ephemeral-storage", "requests.cpu", "requests.memory", "requests.ephemeral-storage", "limits.cpu", "limits.memory",
        "limits.ephemeral-storage", "pods", "services", "replicationcontrollers", "resourcequotas", "secrets", "persistentvolumeclaims", "configmaps",
        "services.nodeports", "services.loadbalancers", "requests.storage",
    ];
    STANDARD.contains(&name) || is_hugepages(name)
}

/// Upstream's `validateResourceName`: a qualified name, standard when it has no domain.
fn validate_resource_name(name: &str, field: &str, errs: &mut Vec<FieldError>) -> bool {
    if let Err(e) = validate_label_key(name) {
        errs.push(FieldError::invalid(field, name, e));
        return false;
    }
    if !name.contains('/') && !is_standard_resource(name) {
        errs.push(FieldError::invalid(field, name, "must be a standard resource type or fully qualified"));
        return false;
    }
    true
}

/// Upstream's `validateContainerResourceName`.
fn validate_container_resource_name(name: &str, field: &str, errs: &mut Vec<FieldError>) {
    if !validate_resource_name(name, field, errs) {
        return;
    }
    if !name.contains('/') {
        if !["cpu", "memory", "ephemeral-storage"].contains(&name) && !is_hugepages(name) {
            errs.push(FieldError::invalid(field, name, "must be a standard resource for containers"));
        }
    } else if !is_native_resource(name) && !is_extended_resource(name) {
        errs.push(FieldError::invalid(field, name, "doesn't follow extended resource name standard"));
    }
}

/// Upstream's `ValidateResourceQuantityValue`: not negative; whole for extended resources.
fn validate_quantity(name: &str, q: &crate::quantity::Quantity, field: &str, errs: &mut Vec<FieldError>) -> Option<i128> {
    match q.nanos() {
        Err(e) => {
            errs.push(FieldError::invalid(field, &q.0, e));
            None
        }
        Ok(n) if n < 0 => {
            errs.push(FieldError::invalid(field, &q.0, "must be greater than or equal to 0"));
            Some(n)
        }
        Ok(n) => {
            if is_extended_resource(name) && n % 1_000_000_000 != 0 {
                errs.push(FieldError::invalid(field, &q.0, "must be an integer"));
            }
            Some(n)
        }
    }
}

/// Upstream's `ValidateContainerResourceRequirements`.
fn validate_container_resources(r: &ResourceRequirements, field: &str, errs: &mut Vec<FieldError>) {
    let (lim_path, req_path) = (format!("{field}.limits"), format!("{field}.requests"));
    let mut limits = std::collections::BTreeMap::new();
    let (mut cpu_or_memory, mut hugepages) = (false, false);
    for (name, q) in &r.limits {
        let f = format!("{lim_path}[{name}]");
        validate_container_resource_name(name, &f, errs);
        if let Some(n) = validate_quantity(name, q, &f, errs) {
            limits.insert(name.as_str(), (n, q));
        }
        cpu_or_memory |= name == "cpu" || name == "memory";
        hugepages |= is_hugepages(name);
    }
    for (name, q) in &r.requests {
        let f = format!("{req_path}[{name}]");
        validate_container_resource_name(name, &f, errs);
        let req = validate_quantity(name, q, &f, errs);
        // Extended resources and hugepages cannot be overcommitted: a request must equal its limit.
        let overcommit = is_native_resource(name) && !is_hugepages(name);
        match (req, limits.get(name.as_str())) {
            (Some(n), Some((l, lq))) if !overcommit && n != *l => errs.push(FieldError::invalid(&req_path, &q.0, format!("must be equal to {name} limit of {}", lq.0))),
            (Some(n), Some((l, lq))) if n > *l => errs.push(FieldError::invalid(&req_path, &q.0, format!("must be less than or equal to {name} limit of {}", lq.0))),
            (_, None) if !overcommit => errs.push(FieldError::required(&lim_path, "Limit must be set for non overcommitable resources")),
            _ => {}
        }
        cpu_or_memory |= name == "cpu" || name == "memory";
        hugepages |= is_hugepages(name);
    }
    if hugepages && !cpu_or_memory {
        errs.push(FieldError::forbidden(field, "HugePages require cpu or memory"));
    }
}

/// Upstream's `IsValidPortName` (an IANA service name).
fn port_name_problems(name: &str) -> Vec<String> {
    let mut out = Vec::new();
    if name.len() > MAX_PORT_NAME_LEN {
        out.push(format!("must be no more than {MAX_PORT_NAME_LEN} characters"));
    }
    if !name.bytes().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-') {
        out.push("must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)".into());
    }
    if !name.bytes().any(|c| c.is_ascii_lowercase()) {
        out.push("must contain at least one letter (a-z)".into());
    }
    if name.contains("--") {
        out.push("must not contain consecutive hyphens".into());
    }
    if name.starts_with('-') || name.ends_with('-') {
        out.push("must not begin or end with a hyphen".into());
    }
    out
}

const PORT_RANGE: &str = "must be between 1 and 65535, inclusive";

fn validate_ports(ports: &[ContainerPort], f: &str, errs: &mut Vec<FieldError>) {
    let mut names = std::collections::BTreeSet::new();
    for (j, p) in ports.iter().enumerate() {
        let pf = format!("{f}.ports[{j}]");
        if !p.name.is_empty() {
            let problems = port_name_problems(&p.name);
            if !problems.is_empty() {
                for why in problems {
                    errs.push(FieldError::invalid(format!("{pf}.name"), &p.name, why));
                }
            } else if !names.insert(p.name.as_str()) {
                errs.push(FieldError::duplicate(format!("{pf}.name"), &p.name));
            }
        }
        if p.container_port == 0 {
            errs.push(FieldError::required(format!("{pf}.containerPort"), ""));
        } else if !(1..=65535).contains(&p.container_port) {
            errs.push(FieldError::invalid(format!("{pf}.containerPort"), p.container_port.to_string(), PORT_RANGE));
        }
        if let Some(h) = p.host_port.filter(|h| *h != 0) {
            if !(1..=65535).contains(&h) {
                errs.push(FieldError::invalid(format!("{pf}.hostPort"), h.to_string(), PORT_RANGE));
            }
        }
        if p.protocol.is_empty() {
            errs.push(FieldError::required(format!("{pf}.protocol"), ""));
        } else if !["TCP", "UDP", "SCTP"].contains(&p.protocol.as_str()) {
            errs.push(FieldError::unsupported(format!("{pf}.protocol"), &p.protocol, &["SCTP", "TCP", "UDP"]));
        }
    }
}

/// Upstream's `ValidateEnv` with 1.32's relaxed names (printable ASCII but '=').
fn validate_env(env: &[EnvVar], f: &str, errs: &mut Vec<FieldError>) {
    for (j, e) in env.iter().enumerate() {
        let ef = format!("{f}.env[{j}]");
        if e.name.is_empty() {
            errs.push(FieldError::required(format!("{ef}.name"), ""));
        } else if !e.name.bytes().all(|c| (0x20..=0x7e).contains(&c) && c != b'=') {
            errs.push(FieldError::invalid(format!("{ef}.name"), &e.name, "a valid environment variable name must consist only of printable ASCII characters other than '='"));
        }
        if let Some(from) = e.extra.0.get("valueFrom").filter(|v| !v.is_null()) {
            let sources = ["fieldRef", "resourceFieldRef", "configMapKeyRef", "secretKeyRef"].iter().filter(|k| from.get(**k).is_some_and(|v| !v.is_null())).count();
            let vf = format!("{ef}.valueFrom");
            if sources == 0 {
                errs.push(FieldError::invalid(&vf, "", "must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef` or `secretKeyRef`"));
            } else if e.value.as_deref().is_some_and(|v| !v.is_empty()) {
                errs.push(FieldError::invalid(&vf, "", "may not be specified when `value` is not empty"));
            } else if sources > 1 {
                errs.push(FieldError::invalid(&vf, "", "may not have more than one field specified at a time"));
            }
        }
    }
}

/// Upstream's `ValidateTolerations`.
fn validate_tolerations(tolerations: &[Toleration], field: &str, errs: &mut Vec<FieldError>) {
    for (i, t) in tolerations.iter().enumerate() {
        let f = format!("{field}.tolerations[{i}]");
        if !t.key.is_empty() {
            if let Err(e) = validate_label_key(&t.key) {
                errs.push(FieldError::invalid(format!("{f}.key"), &t.key, e));
            }
        }
        if t.key.is_empty() && t.operator != "Exists" {
            errs.push(FieldError::invalid(format!("{f}.operator"), &t.operator, "operator must be Exists when `key` is empty, which means \"match all values and all keys\""));
        }
        if t.toleration_seconds.is_some() && t.effect != "NoExecute" {
            errs.push(FieldError::invalid(format!("{f}.effect"), &t.effect, "effect must be 'NoExecute' when `tolerationSeconds` is set"));
        }
        match t.operator.as_str() {
            "" | "Equal" => {
                if let Err(e) = validate_label_value(&t.value) {
                    errs.push(FieldError::invalid(format!("{f}.operator"), &t.value, e));
                }
            }
            "Exists" => {
                if !t.value.is_empty() {
                    errs.push(FieldError::invalid(format!("{f}.operator"), &t.value, "value must be empty when `operator` is 'Exists'"));
                }
            }
            other => errs.push(FieldError::unsupported(format!("{f}.operator"), other, &["Equal", "Exists"])),
        }
        if !t.effect.is_empty() && !["NoSchedule", "PreferNoSchedule", "NoExecute"].contains(&t.effect.as_str()) {
            errs.push(FieldError::unsupported(format!("{f}.effect"), &t.effect, &["NoExecute", "NoSchedule", "PreferNoSchedule"]));
        }
    }
}

/// Upstream's `ValidatePodSpec` for the fields podchain models, plus the
/// `activeDeadlineSeconds` it carries. `is_pod`: the pod itself, not a
/// template (upstream's `validateContainersOnlyForPod`).
pub fn validate_pod_spec(spec: &PodSpec, field: &str, is_pod: bool, errs: &mut Vec<FieldError>) {
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
        }
        if !names.insert(c.name.as_str()) {
            errs.push(FieldError::duplicate(format!("{f}.name"), &c.name));
        }
        if c.image.is_empty() {
            errs.push(FieldError::required(format!("{f}.image"), ""));
        } else if is_pod && c.image.trim() != c.image {
            errs.push(FieldError::invalid(format!("{f}.image"), &c.image, "must not have leading or trailing whitespace"));
        }
        match c.termination_message_policy.as_str() {
            "File" | "FallbackToLogsOnError" => {}
            "" => errs.push(FieldError::required(format!("{f}.terminationMessagePolicy"), "")),
            other => errs.push(FieldError::unsupported(format!("{f}.terminationMessagePolicy"), other, &["File", "FallbackToLogsOnError"])),
        }
        validate_ports(&c.ports, &f, errs);
        validate_env(&c.env, &f, errs);
        match c.image_pull_policy.as_str() {
            "Always" | "IfNotPresent" | "Never" => {}
            "" => errs.push(FieldError::required(format!("{f}.imagePullPolicy"), "")),
            other => errs.push(FieldError::unsupported(format!("{f}.imagePullPolicy"), other, &["Always", "IfNotPresent", "Never"])),
        }
        validate_container_resources(&c.resources, &format!("{f}.resources"), errs);
    }
    match spec.restart_policy.as_str() {
        "Always" | "OnFailure" | "Never" => {}
        "" => errs.push(FieldError::required(format!("{field}.restartPolicy"), "")),
        other => errs.push(FieldError::unsupported(format!("{field}.restartPolicy"), other, &["Always", "OnFailure", "Never"])),
    }
    validate_labels(&spec.node_selector, &format!("{field}.nodeSelector"), errs);
    if !spec.node_name.is_empty() {
        if let Err(e) = dns1123_subdomain(&spec.node_name) {
            errs.push(FieldError::invalid(format!("{field}.nodeName"), &spec.node_name, e));
        }
    }
    if let Some(v) = spec.extra.0.get("activeDeadlineSeconds").and_then(|v| v.as_i64()) {
        if !(1..=i32::MAX as i64).contains(&v) {
            errs.push(FieldError::invalid(format!("{field}.activeDeadlineSeconds"), v.to_string(), format!("must be between 1 and {}, inclusive", i32::MAX)));
        }
    }
    validate_tolerations(&spec.tolerations, field, errs);
}

/// Upstream's `ValidatePodTemplateSpecForReplicaSet`, after the selector.
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
    validate_pod_spec(&tmpl.spec, "spec.template.spec", false, errs);
    if !tmpl.spec.restart_policy.is_empty() && tmpl.spec.restart_policy != "Always" {
        errs.push(FieldError::unsupported("spec.template.spec.restartPolicy", &tmpl.spec.restart_policy, &["Always"]));
    }
    if tmpl.spec.extra.0.get("activeDeadlineSeconds").is_some_and(|v| !v.is_null()) {
        errs.push(FieldError::invalid("spec.template.spec.activeDeadlineSeconds", "", "activeDeadlineSeconds in ReplicaSet is not Supported"));
    }
}

fn nonnegative(v: i64, field: &str, errs: &mut Vec<FieldError>) {
    if v < 0 {
        errs.push(FieldError::invalid(field, v.to_string(), "must be greater than or equal to 0"));
    }
}

/// Upstream's `IsValidPercent` or a non-negative integer (`ValidatePositiveIntOrPercent`).
fn int_or_percent(v: &IntOrString, field: &str, errs: &mut Vec<FieldError>) -> Option<i64> {
    match v {
        IntOrString::Int(n) => {
            nonnegative(*n as i64, field, errs);
            Some(*n as i64)
        }
        IntOrString::String(s) => match s.strip_suffix('%').filter(|d| !d.is_empty() && d.bytes().all(|c| c.is_ascii_digit())) {
            Some(d) => d.parse::<i64>().ok(),
            None => {
                errs.push(FieldError::invalid(field, s, "a valid percent string must be a numeric string followed by an ending '%' (e.g. '1%',  or '93%', regex used for validation is '[0-9]+%')"));
                None
            }
        },
    }
}

fn validate_node(n: &Node, errs: &mut Vec<FieldError>) {
    let mut seen = std::collections::BTreeSet::new();
    for (i, t) in n.spec.taints.iter().enumerate() {
        let f = format!("spec.taints[{i}]");
        if t.key.is_empty() {
            errs.push(FieldError::required(format!("{f}.key"), ""));
        } else if let Err(e) = validate_label_key(&t.key) {
            errs.push(FieldError::invalid(format!("{f}.key"), &t.key, e));
        }
        if let Err(e) = validate_label_value(&t.value) {
            errs.push(FieldError::invalid(format!("{f}.value"), &t.value, e));
        }
        match t.effect.as_str() {
            "NoSchedule" | "PreferNoSchedule" | "NoExecute" => {}
            "" => errs.push(FieldError::required(format!("{f}.effect"), "")),
            other => errs.push(FieldError::unsupported(format!("{f}.effect"), other, &["NoExecute", "NoSchedule", "PreferNoSchedule"])),
        }
        if !seen.insert((t.key.as_str(), t.effect.as_str())) {
            errs.push(FieldError::duplicate(&f, format!("{}:{}", t.key, t.effect)).with_detail("taints must be unique by key and effect pair"));
        }
    }
    for (what, list) in [("status.capacity", &n.status.capacity), ("status.allocatable", &n.status.allocatable)] {
        for (name, q) in list {
            let f = format!("{what}[{name}]");
            if validate_resource_name(name, &f, errs) {
                validate_quantity(name, q, &f, errs);
            }
        }
    }
    if !n.spec.pod_cidr.is_empty() && !is_cidr(&n.spec.pod_cidr) {
        errs.push(FieldError::invalid("spec.podCIDRs[0]", &n.spec.pod_cidr, "must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)"));
    }
}

/// `ADDRESS/PREFIX` with an IPv4 or IPv6 address and a prefix that fits it.
fn is_cidr(s: &str) -> bool {
    let Some((addr, prefix)) = s.split_once('/') else { return false };
    let Ok(prefix) = prefix.parse::<u8>() else { return false };
    match addr.parse::<core::net::IpAddr>() {
        Ok(core::net::IpAddr::V4(_)) => prefix <= 32,
        Ok(core::net::IpAddr::V6(_)) => prefix <= 128,
        Err(_) => false,
    }
}

fn validate_event(e: &Event, errs: &mut Vec<FieldError>) {
    let ns = &e.metadata.namespace;
    let involved = &e.involved_object.namespace;
    if e.event_time.is_none() {
        // An old-style event: its namespace is its object's (or "default" for cluster-scoped objects).
        let matches = if involved.is_empty() { ns.is_empty() || ns == "default" } else { ns == involved };
        if !matches {
            errs.push(FieldError::invalid("involvedObject.namespace", involved, "does not match event.namespace"));
        }
        return;
    }
    if involved.is_empty() && ns != "default" && ns != "kube-system" {
        errs.push(FieldError::invalid("involvedObject.namespace", involved, "does not match event.namespace"));
    }
    if e.reporting_component.is_empty() {
        errs.push(FieldError::required("reportingComponent", ""));
    } else if let Err(why) = validate_label_key(&e.reporting_component) {
        errs.push(FieldError::invalid("reportingComponent", &e.reporting_component, why));
    }
    for (field, value, required) in [("reportingInstance", &e.reporting_instance, true), ("action", &e.action, true), ("reason", &e.reason, true)] {
        if required && value.is_empty() {
            errs.push(FieldError::required(field, ""));
        }
        if value.len() > MAX_EVENT_FIELD_LEN {
            errs.push(FieldError::invalid(field, "", format!("can have at most {MAX_EVENT_FIELD_LEN} characters")));
        }
    }
    if e.message.len() > MAX_EVENT_NOTE_LEN {
        errs.push(FieldError::invalid("message", "", format!("can have at most {MAX_EVENT_NOTE_LEN} characters")));
    }
}

/// Upstream's `validateKubeFinalizerName`: a namespace's spec.finalizers are
/// qualified names, and standard ones ("kubernetes") when they have no domain.
fn validate_namespace(n: &Namespace, errs: &mut Vec<FieldError>) {
    let Some(list) = n.spec.0.get("finalizers").and_then(|v| v.as_array()) else { return };
    for (i, f) in list.iter().enumerate() {
        let field = format!("spec.finalizers[{i}]");
        let Some(name) = f.as_str() else { continue };
        if let Err(e) = validate_label_key(name) {
            errs.push(FieldError::invalid(&field, name, e));
        } else if !name.contains('/') && name != "kubernetes" {
            errs.push(FieldError::invalid(&field, name, "name is neither a standard finalizer name nor is it fully qualified"));
        }
    }
}

/// Upstream's `GetDeletionCostFromPodAnnotations`: a 32-bit integer, no '+' or leading zeros.
fn validate_pod_annotations(m: &ObjectMeta, errs: &mut Vec<FieldError>) {
    if let Some(v) = m.annotations.get(POD_DELETION_COST_ANNOTATION) {
        let first_ok = v.starts_with('-') || v == "0" || v.starts_with(|c: char| ('1'..='9').contains(&c));
        if !first_ok || v.parse::<i32>().is_err() {
            errs.push(FieldError::invalid(format!("metadata.annotations[{POD_DELETION_COST_ANNOTATION}]"), v, "must be a 32bit integer"));
        }
    }
}

/// Validates an object as it would be stored (after defaulting).
pub fn validate(obj: &Object) -> Vec<FieldError> {
    let mut errs = Vec::new();
    validate_meta(obj.kind(), obj.meta(), &mut errs);
    match obj {
        Object::Pod(p) => {
            validate_pod_annotations(&p.metadata, &mut errs);
            validate_pod_spec(&p.spec, "spec", true, &mut errs);
        }
        Object::ReplicaSet(rs) => {
            nonnegative(rs.spec.replicas.unwrap_or(0) as i64, "spec.replicas", &mut errs);
            nonnegative(rs.spec.min_ready_seconds as i64, "spec.minReadySeconds", &mut errs);
            validate_selector_and_template(&rs.spec.selector, &rs.spec.template, &mut errs);
        }
        Object::Deployment(d) => {
            nonnegative(d.spec.replicas.unwrap_or(0) as i64, "spec.replicas", &mut errs);
            validate_selector_and_template(&d.spec.selector, &d.spec.template, &mut errs);
            let st = &d.spec.strategy;
            match st.type_.as_str() {
                "Recreate" => {
                    if st.rolling_update.is_some() {
                        errs.push(FieldError::forbidden("spec.strategy.rollingUpdate", "may not be specified when strategy `type` is 'Recreate'"));
                    }
                }
                "RollingUpdate" => match &st.rolling_update {
                    None => errs.push(FieldError::required("spec.strategy.rollingUpdate", "this should be defaulted and never be nil")),
                    Some(ru) => {
                        let unavailable = ru.max_unavailable.as_ref().and_then(|v| int_or_percent(v, "spec.strategy.rollingUpdate.maxUnavailable", &mut errs));
                        let surge = ru.max_surge.as_ref().and_then(|v| int_or_percent(v, "spec.strategy.rollingUpdate.maxSurge", &mut errs));
                        if unavailable == Some(0) && surge == Some(0) {
                            errs.push(FieldError::invalid("spec.strategy.rollingUpdate.maxUnavailable", "0", "may not be 0 when `maxSurge` is 0"));
                        }
                        if let Some(IntOrString::String(s)) = &ru.max_unavailable {
                            if unavailable.is_some_and(|p| p > 100) {
                                errs.push(FieldError::invalid("spec.strategy.rollingUpdate.maxUnavailable", s, "must not be greater than 100%"));
                            }
                        }
                    }
                },
                other => errs.push(FieldError::unsupported("spec.strategy.type", other, &["Recreate", "RollingUpdate"])),
            }
            nonnegative(d.spec.min_ready_seconds as i64, "spec.minReadySeconds", &mut errs);
            if let Some(r) = d.spec.revision_history_limit {
                nonnegative(r as i64, "spec.revisionHistoryLimit", &mut errs);
            }
            if let Some(p) = d.spec.progress_deadline_seconds {
                nonnegative(p as i64, "spec.progressDeadlineSeconds", &mut errs);
                if p <= d.spec.min_ready_seconds {
                    errs.push(FieldError::invalid("spec.progressDeadlineSeconds", p.to_string(), "must be greater than minReadySeconds"));
                }
            }
        }
        Object::Node(n) => validate_node(n, &mut errs),
        Object::Event(e) => validate_event(e, &mut errs),
        Object::Lease(l) => {
            if l.spec.lease_duration_seconds.is_some_and(|d| d <= 0) {
                errs.push(FieldError::invalid("spec.leaseDurationSeconds", l.spec.lease_duration_seconds.unwrap().to_string(), "must be greater than 0"));
            }
            if let Some(t) = l.spec.lease_transitions {
                nonnegative(t as i64, "spec.leaseTransitions", &mut errs);
            }
        }
        Object::Namespace(n) => validate_namespace(n, &mut errs),
        Object::Role(r) => validate_rules(&r.rules, true, &mut errs),
        Object::ClusterRole(r) => validate_rules(&r.rules, false, &mut errs),
        Object::RoleBinding(b) => validate_binding(b, true, &mut errs),
        Object::ClusterRoleBinding(b) => validate_binding(b, false, &mut errs),
    }
    errs
}

/// Upstream's `ValidatePolicyRule`: verbs always; resources with their
/// groups, or non-resource URLs (never in a namespaced Role), not both.
fn validate_rules(rules: &[crate::rbac::PolicyRule], namespaced: bool, errs: &mut Vec<FieldError>) {
    for (i, r) in rules.iter().enumerate() {
        let at = |f: &str| format!("rules[{i}].{f}");
        if r.verbs.is_empty() {
            errs.push(FieldError::required(at("verbs"), "verbs must contain at least one value"));
        }
        if !r.non_resource_urls.is_empty() {
            if namespaced {
                errs.push(FieldError::invalid(at("nonResourceURLs"), r.non_resource_urls.join(","), "namespaced rules cannot apply to non-resource URLs"));
            }
            if !r.api_groups.is_empty() || !r.resources.is_empty() || !r.resource_names.is_empty() {
                errs.push(FieldError::invalid(at("nonResourceURLs"), r.non_resource_urls.join(","), "rules cannot apply to both regular resources and non-resource URLs"));
            }
            continue;
        }
        if r.api_groups.is_empty() {
            errs.push(FieldError::required(at("apiGroups"), "resource rules must supply at least one api group"));
        }
        if r.resources.is_empty() {
            errs.push(FieldError::required(at("resources"), "resource rules must supply at least one resource"));
        }
    }
}

/// Upstream's `ValidateRoleBinding` / `ValidateClusterRoleBinding`: what
/// the binding grants (a ClusterRole, or in a RoleBinding a Role) and to whom.
fn validate_binding(b: &crate::rbac::RoleBinding, namespaced: bool, errs: &mut Vec<FieldError>) {
    use crate::rbac::RBAC_GROUP;
    if b.role_ref.api_group != RBAC_GROUP {
        errs.push(FieldError::unsupported("roleRef.apiGroup", &b.role_ref.api_group, &[RBAC_GROUP]));
    }
    let kinds: &[&str] = if namespaced { &["Role", "ClusterRole"] } else { &["ClusterRole"] };
    if !kinds.contains(&b.role_ref.kind.as_str()) {
        errs.push(FieldError::unsupported("roleRef.kind", &b.role_ref.kind, kinds));
    }
    if b.role_ref.name.is_empty() {
        errs.push(FieldError::required("roleRef.name", ""));
    } else if let Err(e) = path_segment_name(&b.role_ref.name) {
        errs.push(FieldError::invalid("roleRef.name", &b.role_ref.name, e));
    }
    for (i, s) in b.subjects.iter().enumerate() {
        let at = |f: &str| format!("subjects[{i}].{f}");
        if s.name.is_empty() {
            errs.push(FieldError::required(at("name"), ""));
        }
        match s.kind.as_str() {
            "ServiceAccount" => {
                if !s.api_group.is_empty() {
                    errs.push(FieldError::unsupported(at("apiGroup"), &s.api_group, &[""]));
                }
                if !s.name.is_empty() {
                    if let Err(e) = dns1123_subdomain(&s.name) {
                        errs.push(FieldError::invalid(at("name"), &s.name, e));
                    }
                }
                if !namespaced && s.namespace.is_empty() {
                    errs.push(FieldError::required(at("namespace"), ""));
                }
            }
            "User" | "Group" => {
                if s.api_group != RBAC_GROUP {
                    errs.push(FieldError::unsupported(at("apiGroup"), &s.api_group, &[RBAC_GROUP]));
                }
            }
            other => errs.push(FieldError::unsupported(at("kind"), other, &["ServiceAccount", "User", "Group"])),
        }
    }
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
        (Object::RoleBinding(o), Object::RoleBinding(n)) | (Object::ClusterRoleBinding(o), Object::ClusterRoleBinding(n)) if o.role_ref != n.role_ref => {
            errs.push(FieldError::invalid("roleRef", format!("{}/{}", n.role_ref.kind, n.role_ref.name), "cannot change roleRef"));
        }
        _ => {}
    }
    errs
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Validates as the apiserver does: after defaulting.
    fn validated(mut obj: Object) -> Vec<FieldError> {
        crate::defaults::default_object(&mut obj);
        validate(&obj)
    }

    #[test]
    fn rbac_objects_are_validated_as_upstream_validates_them() {
        use crate::rbac::*;
        let fields = |o: Object| validated(o).into_iter().map(|e| e.field).collect::<Vec<_>>();
        // Names are path segments: colons are fine, slashes are not.
        let mut r = Role::default();
        r.metadata.name = "system:kube-scheduler".into();
        r.rules = vec![rule(&["get"], &[""], &["pods"])];
        assert_eq!(fields(Object::ClusterRole(r.clone())), Vec::<String>::new());
        r.metadata.name = "a/b".into();
        assert_eq!(fields(Object::ClusterRole(r.clone())), ["metadata.name"]);
        r.metadata.name = "ok".into();
        r.metadata.namespace = "team".into();
        r.rules = vec![
            PolicyRule { api_groups: vec!["".into()], resources: vec!["pods".into()], ..Default::default() },
            PolicyRule { verbs: vec!["get".into()], ..Default::default() },
            PolicyRule { verbs: vec!["get".into()], non_resource_urls: vec!["/metrics".into()], resources: vec!["pods".into()], ..Default::default() },
        ];
        assert_eq!(fields(Object::Role(r)), ["rules[0].verbs", "rules[1].apiGroups", "rules[1].resources", "rules[2].nonResourceURLs", "rules[2].nonResourceURLs"]);
        let mut b = RoleBinding::default();
        b.metadata.name = "b".into();
        b.role_ref = RoleRef { api_group: RBAC_GROUP.into(), kind: "ClusterRole".into(), name: "view".into() };
        b.subjects = vec![
            Subject { kind: "ServiceAccount".into(), name: "builder".into(), ..Default::default() },
            Subject { kind: "Robot".into(), name: "r2".into(), ..Default::default() },
            Subject { kind: "User".into(), api_group: "example.com".into(), name: "u".into(), ..Default::default() },
            Subject { kind: "Group".into(), name: "".into(), ..Default::default() },
        ];
        // A ClusterRoleBinding's service account needs its namespace; a User's group is RBAC's
        // (defaulted when empty, refused when another).
        assert_eq!(fields(Object::ClusterRoleBinding(b.clone())), ["subjects[0].namespace", "subjects[1].kind", "subjects[2].apiGroup", "subjects[3].name"]);
        b.metadata.namespace = "team".into();
        b.role_ref.api_group = "".into();
        b.subjects.truncate(1);
        assert_eq!(fields(Object::RoleBinding(b)), ["roleRef.apiGroup"]);
    }

    #[test]
    fn pod_errors_name_their_fields() {
        let mut p = Pod::default();
        p.metadata.name = "Bad_Name".into();
        p.metadata.namespace = "default".into();
        p.spec.containers.push(Container { name: "c".into(), image: "".into(), ..Default::default() });
        p.spec.containers.push(Container { name: "c".into(), image: "x".into(), ..Default::default() });
        p.spec.containers[1].resources.requests.insert("cpu".into(), "lots".into());
        p.spec.restart_policy = "Sometimes".into();
        let errs = validated(Object::Pod(p));
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
        assert!(validated(Object::Pod(p.clone())).is_empty());
        p.spec.containers.push(Container { name: "one-more".into(), image: "x".into(), ..Default::default() });
        assert!(validated(Object::Pod(p)).iter().any(|e| e.field == "spec.containers"));
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
            validated(Object::Pod(p))
        };
        assert!(with(MAX_ANNOTATIONS_BYTES - 1).is_empty(), "exactly at the bound");
        let errs = with(MAX_ANNOTATIONS_BYTES);
        assert!(errs.iter().any(|e| e.field == "metadata.annotations" && e.detail.contains(&MAX_ANNOTATIONS_BYTES.to_string())), "{errs:?}");
    }

    #[test]
    fn port_names_are_bounded_at_max_port_name_len() {
        assert!(port_name_problems(&"a".repeat(MAX_PORT_NAME_LEN)).is_empty());
        assert_eq!(port_name_problems(&"a".repeat(MAX_PORT_NAME_LEN + 1)), [format!("must be no more than {MAX_PORT_NAME_LEN} characters")]);
    }

    #[test]
    fn event_fields_are_bounded_at_their_limits() {
        let event = |action: usize, message: usize| {
            let mut e = Event::default();
            e.metadata.name = "e".into();
            e.metadata.namespace = "default".into();
            e.involved_object.namespace = "default".into();
            e.event_time = Some(crate::time::MicroTime(0));
            e.reporting_component = "example.com/c".into();
            e.reporting_instance = "i".into();
            e.reason = "r".into();
            e.action = "a".repeat(action);
            e.message = "m".repeat(message);
            validated(Object::Event(e)).into_iter().map(|e| e.field).collect::<Vec<_>>()
        };
        assert!(event(MAX_EVENT_FIELD_LEN, MAX_EVENT_NOTE_LEN).is_empty(), "both at their bounds");
        assert_eq!(event(MAX_EVENT_FIELD_LEN + 1, MAX_EVENT_NOTE_LEN), ["action"]);
        assert_eq!(event(MAX_EVENT_FIELD_LEN, MAX_EVENT_NOTE_LEN + 1), ["message"]);
    }
}
