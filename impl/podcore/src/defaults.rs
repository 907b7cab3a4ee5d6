//! Defaulting as upstream's `SetDefaults_*`: what the apiserver fills in on
//! create and update before validation.

use crate::object::Object;
use crate::types::*;

pub const DEFAULT_TERMINATION_GRACE_PERIOD_SECONDS: i64 = 30;
pub const DEFAULT_SCHEDULER_NAME: &str = "default-scheduler";
pub const DEFAULT_REVISION_HISTORY_LIMIT: i32 = 10;
pub const DEFAULT_PROGRESS_DEADLINE_SECONDS: i32 = 600;
/// As upstream's DefaultTolerationSeconds admission plugin.
pub const DEFAULT_NOT_READY_TOLERATION_SECONDS: i64 = 300;
pub const TAINT_NOT_READY: &str = "node.kubernetes.io/not-ready";
pub const TAINT_UNREACHABLE: &str = "node.kubernetes.io/unreachable";
pub const TAINT_UNSCHEDULABLE: &str = "node.kubernetes.io/unschedulable";

pub fn default_pod_spec(spec: &mut PodSpec) {
    if spec.restart_policy.is_empty() {
        spec.restart_policy = "Always".into();
    }
    match spec.termination_grace_period_seconds {
        None => spec.termination_grace_period_seconds = Some(DEFAULT_TERMINATION_GRACE_PERIOD_SECONDS),
        // As upstream since 1.27 (#115606): a negative grace period means one second.
        Some(g) if g < 0 => spec.termination_grace_period_seconds = Some(1),
        Some(_) => {}
    }
    if spec.scheduler_name.is_empty() {
        spec.scheduler_name = DEFAULT_SCHEDULER_NAME.into();
    }
    spec.extra.0.entry("dnsPolicy".into()).or_insert_with(|| "ClusterFirst".into());
    spec.extra.0.entry("securityContext".into()).or_insert_with(|| serde_json::json!({}));
    for c in spec.containers.iter_mut() {
        if c.image_pull_policy.is_empty() {
            // As upstream: `:latest` or no tag means Always, otherwise IfNotPresent.
            let last = c.image.rsplit('/').next().unwrap_or("");
            let tagged = last.contains(':') || c.image.contains('@');
            c.image_pull_policy = if !tagged || c.image.ends_with(":latest") { "Always" } else { "IfNotPresent" }.into();
        }
        if c.termination_message_path.is_empty() {
            c.termination_message_path = "/dev/termination-log".into();
        }
        if c.termination_message_policy.is_empty() {
            c.termination_message_policy = "File".into();
        }
        for p in c.ports.iter_mut() {
            if p.protocol.is_empty() {
                p.protocol = "TCP".into();
            }
        }
    }
}

/// The pod admission default: tolerate not-ready/unreachable for 300 s.
pub fn default_tolerations(spec: &mut PodSpec, seconds: i64) {
    for key in [TAINT_NOT_READY, TAINT_UNREACHABLE] {
        let has = spec.tolerations.iter().any(|t| (t.key == key || (t.key.is_empty() && t.operator == "Exists")) && (t.effect.is_empty() || t.effect == "NoExecute"));
        if !has {
            spec.tolerations.push(Toleration { key: key.into(), operator: "Exists".into(), effect: "NoExecute".into(), toleration_seconds: Some(seconds), value: String::new() });
        }
    }
}

fn default_template_labels_selector(sel: &mut crate::labels::LabelSelector, tmpl: &PodTemplateSpec) {
    // apps/v1 requires an explicit selector; nothing to default. Kept for
    // symmetry with extensions/v1beta1, which copied template labels.
    let _ = (sel, tmpl);
}

pub fn default_object(obj: &mut Object) {
    match obj {
        Object::Pod(p) => {
            default_pod_spec(&mut p.spec);
        }
        Object::ReplicaSet(rs) => {
            if rs.spec.replicas.is_none() {
                rs.spec.replicas = Some(1);
            }
            default_template_labels_selector(&mut rs.spec.selector, &rs.spec.template);
            default_pod_spec(&mut rs.spec.template.spec);
        }
        Object::Deployment(d) => {
            if d.spec.replicas.is_none() {
                d.spec.replicas = Some(1);
            }
            let st = &mut d.spec.strategy;
            if st.type_.is_empty() {
                st.type_ = "RollingUpdate".into();
            }
            if st.type_ == "RollingUpdate" {
                let ru = st.rolling_update.get_or_insert_with(Default::default);
                if ru.max_unavailable.is_none() {
                    ru.max_unavailable = Some(IntOrString::String("25%".into()));
                }
                if ru.max_surge.is_none() {
                    ru.max_surge = Some(IntOrString::String("25%".into()));
                }
            }
            if d.spec.revision_history_limit.is_none() {
                d.spec.revision_history_limit = Some(DEFAULT_REVISION_HISTORY_LIMIT);
            }
            if d.spec.progress_deadline_seconds.is_none() {
                d.spec.progress_deadline_seconds = Some(DEFAULT_PROGRESS_DEADLINE_SECONDS);
            }
            default_pod_spec(&mut d.spec.template.spec);
        }
        Object::Namespace(n) => {
            if n.status.phase.is_empty() {
                n.status.phase = "Active".into();
            }
        }
        Object::Lease(_) | Object::Node(_) | Object::Event(_) | Object::Role(_) | Object::ClusterRole(_) => {}
        // As upstream's SetDefaults_Subject: a User's or Group's API group is RBAC's.
        Object::RoleBinding(b) | Object::ClusterRoleBinding(b) => {
            for s in b.subjects.iter_mut() {
                if s.api_group.is_empty() && matches!(s.kind.as_str(), "User" | "Group") {
                    s.api_group = crate::rbac::RBAC_GROUP.into();
                }
            }
        }
    }
}
