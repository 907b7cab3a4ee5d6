//! Which fields upstream's API defines, for the kinds podchain serves: enough
//! schema to tell an unknown field (a typo such as `imagePullPolicyy`, or a
//! field of another version) from one podchain merely carries without
//! modelling it (`volumes`, `affinity`, ...). The apiserver warns about
//! unknown fields, or refuses them under `fieldValidation=Strict`, as
//! upstream does.
//!
//! Field names follow upstream's v1 API (core/v1, apps/v1,
//! coordination.k8s.io/v1) as of Kubernetes 1.32. Objects podchain carries
//! opaquely (`Opaque`: volumes, probes, security contexts, affinity, every
//! `status`) are not looked into: their fields are never reported.

use crate::object::Kind;
use serde_json::Value;

/// Most unknown-field paths reported for one object.
pub const MAX_REPORTED_UNKNOWN: usize = 32;

/// The shape of one field's value.
#[derive(Clone, Copy)]
pub enum F {
    /// A scalar, a string map, or a list of scalars: nothing inside to check.
    Leaf,
    Obj(&'static [(&'static str, F)]),
    List(&'static [(&'static str, F)]),
    /// A value podchain keeps without looking inside.
    Opaque,
}

use F::{Leaf, List, Obj, Opaque};

pub const OWNER_REFERENCE: &[(&str, F)] = &[("apiVersion", Leaf), ("kind", Leaf), ("name", Leaf), ("uid", Leaf), ("controller", Leaf), ("blockOwnerDeletion", Leaf)];

pub const OBJECT_META: &[(&str, F)] = &[
    ("name", Leaf),
    ("generateName", Leaf),
    ("namespace", Leaf),
    ("selfLink", Leaf),
    ("uid", Leaf),
    ("resourceVersion", Leaf),
    ("generation", Leaf),
    ("creationTimestamp", Leaf),
    ("deletionTimestamp", Leaf),
    ("deletionGracePeriodSeconds", Leaf),
    ("labels", Leaf),
    ("annotations", Leaf),
    ("ownerReferences", List(OWNER_REFERENCE)),
    ("finalizers", Leaf),
    ("managedFields", Opaque),
];

pub const LABEL_SELECTOR: &[(&str, F)] = &[("matchLabels", Leaf), ("matchExpressions", List(&[("key", Leaf), ("operator", Leaf), ("values", Leaf)]))];

pub const CONTAINER_PORT: &[(&str, F)] = &[("name", Leaf), ("hostPort", Leaf), ("containerPort", Leaf), ("protocol", Leaf), ("hostIP", Leaf)];

pub const ENV_VAR: &[(&str, F)] = &[("name", Leaf), ("value", Leaf), ("valueFrom", Opaque)];

pub const RESOURCE_REQUIREMENTS: &[(&str, F)] = &[("limits", Leaf), ("requests", Leaf), ("claims", Opaque)];

pub const CONTAINER: &[(&str, F)] = &[
    ("name", Leaf),
    ("image", Leaf),
    ("command", Leaf),
    ("args", Leaf),
    ("workingDir", Leaf),
    ("ports", List(CONTAINER_PORT)),
    ("envFrom", Opaque),
    ("env", List(ENV_VAR)),
    ("resources", Obj(RESOURCE_REQUIREMENTS)),
    ("resizePolicy", Opaque),
    ("restartPolicy", Leaf),
    ("volumeMounts", Opaque),
    ("volumeDevices", Opaque),
    ("livenessProbe", Opaque),
    ("readinessProbe", Opaque),
    ("startupProbe", Opaque),
    ("lifecycle", Opaque),
    ("terminationMessagePath", Leaf),
    ("terminationMessagePolicy", Leaf),
    ("imagePullPolicy", Leaf),
    ("securityContext", Opaque),
    ("stdin", Leaf),
    ("stdinOnce", Leaf),
    ("tty", Leaf),
];

pub const TOLERATION: &[(&str, F)] = &[("key", Leaf), ("operator", Leaf), ("value", Leaf), ("effect", Leaf), ("tolerationSeconds", Leaf)];

pub const POD_SPEC: &[(&str, F)] = &[
    ("volumes", Opaque),
    ("initContainers", List(CONTAINER)),
    ("containers", List(CONTAINER)),
    ("ephemeralContainers", Opaque),
    ("restartPolicy", Leaf),
    ("terminationGracePeriodSeconds", Leaf),
    ("activeDeadlineSeconds", Leaf),
    ("dnsPolicy", Leaf),
    ("nodeSelector", Leaf),
    ("serviceAccountName", Leaf),
    ("serviceAccount", Leaf),
    ("automountServiceAccountToken", Leaf),
    ("nodeName", Leaf),
    ("hostNetwork", Leaf),
    ("hostPID", Leaf),
    ("hostIPC", Leaf),
    ("shareProcessNamespace", Leaf),
    ("securityContext", Opaque),
    ("imagePullSecrets", Opaque),
    ("hostname", Leaf),
    ("subdomain", Leaf),
    ("affinity", Opaque),
    ("schedulerName", Leaf),
    ("tolerations", List(TOLERATION)),
    ("hostAliases", Opaque),
    ("priorityClassName", Leaf),
    ("priority", Leaf),
    ("dnsConfig", Opaque),
    ("readinessGates", Opaque),
    ("runtimeClassName", Leaf),
    ("enableServiceLinks", Leaf),
    ("preemptionPolicy", Leaf),
    ("overhead", Leaf),
    ("topologySpreadConstraints", Opaque),
    ("setHostnameAsFQDN", Leaf),
    ("os", Opaque),
    ("hostUsers", Leaf),
    ("schedulingGates", Opaque),
    ("resourceClaims", Opaque),
    ("resources", Obj(RESOURCE_REQUIREMENTS)),
];

pub const POD_TEMPLATE_SPEC: &[(&str, F)] = &[("metadata", Obj(OBJECT_META)), ("spec", Obj(POD_SPEC))];

const TOP: [(&str, F); 3] = [("apiVersion", Leaf), ("kind", Leaf), ("metadata", Obj(OBJECT_META))];

pub const POD: &[(&str, F)] = &[TOP[0], TOP[1], TOP[2], ("spec", Obj(POD_SPEC)), ("status", Opaque)];

pub const DEPLOYMENT_SPEC: &[(&str, F)] = &[
    ("replicas", Leaf),
    ("selector", Obj(LABEL_SELECTOR)),
    ("template", Obj(POD_TEMPLATE_SPEC)),
    ("strategy", Obj(&[("type", Leaf), ("rollingUpdate", Obj(&[("maxUnavailable", Leaf), ("maxSurge", Leaf)]))])),
    ("minReadySeconds", Leaf),
    ("revisionHistoryLimit", Leaf),
    ("paused", Leaf),
    ("progressDeadlineSeconds", Leaf),
];

pub const DEPLOYMENT: &[(&str, F)] = &[TOP[0], TOP[1], TOP[2], ("spec", Obj(DEPLOYMENT_SPEC)), ("status", Opaque)];

pub const REPLICA_SET_SPEC: &[(&str, F)] = &[("replicas", Leaf), ("minReadySeconds", Leaf), ("selector", Obj(LABEL_SELECTOR)), ("template", Obj(POD_TEMPLATE_SPEC))];

pub const REPLICA_SET: &[(&str, F)] = &[TOP[0], TOP[1], TOP[2], ("spec", Obj(REPLICA_SET_SPEC)), ("status", Opaque)];

pub const TAINT: &[(&str, F)] = &[("key", Leaf), ("value", Leaf), ("effect", Leaf), ("timeAdded", Leaf)];

pub const NODE_SPEC: &[(&str, F)] = &[("podCIDR", Leaf), ("podCIDRs", Leaf), ("providerID", Leaf), ("unschedulable", Leaf), ("taints", List(TAINT)), ("configSource", Opaque), ("externalID", Leaf)];

pub const NODE: &[(&str, F)] = &[TOP[0], TOP[1], TOP[2], ("spec", Obj(NODE_SPEC)), ("status", Opaque)];

pub const NAMESPACE: &[(&str, F)] = &[TOP[0], TOP[1], TOP[2], ("spec", Obj(&[("finalizers", Leaf)])), ("status", Opaque)];

pub const LEASE_SPEC: &[(&str, F)] = &[("holderIdentity", Leaf), ("leaseDurationSeconds", Leaf), ("acquireTime", Leaf), ("renewTime", Leaf), ("leaseTransitions", Leaf), ("strategy", Leaf), ("preferredHolder", Leaf)];

pub const LEASE: &[(&str, F)] = &[TOP[0], TOP[1], TOP[2], ("spec", Obj(LEASE_SPEC))];

pub const EVENT: &[(&str, F)] = &[
    TOP[0],
    TOP[1],
    TOP[2],
    ("involvedObject", Opaque),
    ("reason", Leaf),
    ("message", Leaf),
    ("source", Opaque),
    ("firstTimestamp", Leaf),
    ("lastTimestamp", Leaf),
    ("count", Leaf),
    ("type", Leaf),
    ("eventTime", Leaf),
    ("series", Opaque),
    ("action", Leaf),
    ("related", Opaque),
    ("reportingComponent", Leaf),
    ("reportingInstance", Leaf),
];

pub const POLICY_RULE: &[(&str, F)] = &[("verbs", Leaf), ("apiGroups", Leaf), ("resources", Leaf), ("resourceNames", Leaf), ("nonResourceURLs", Leaf)];

pub const ROLE: &[(&str, F)] = &[TOP[0], TOP[1], TOP[2], ("rules", List(POLICY_RULE))];

pub const CLUSTER_ROLE: &[(&str, F)] = &[TOP[0], TOP[1], TOP[2], ("rules", List(POLICY_RULE)), ("aggregationRule", Opaque)];

pub const ROLE_BINDING: &[(&str, F)] = &[
    TOP[0],
    TOP[1],
    TOP[2],
    ("subjects", List(&[("kind", Leaf), ("apiGroup", Leaf), ("name", Leaf), ("namespace", Leaf)])),
    ("roleRef", Obj(&[("apiGroup", Leaf), ("kind", Leaf), ("name", Leaf)])),
];

pub fn schema(kind: Kind) -> &'static [(&'static str, F)] {
    match kind {
        Kind::Namespace => NAMESPACE,
        Kind::Pod => POD,
        Kind::Node => NODE,
        Kind::Event => EVENT,
        Kind::ReplicaSet => REPLICA_SET,
        Kind::Deployment => DEPLOYMENT,
        Kind::Lease => LEASE,
        Kind::Role => ROLE,
        Kind::ClusterRole => CLUSTER_ROLE,
        Kind::RoleBinding | Kind::ClusterRoleBinding => ROLE_BINDING,
    }
}

/// Paths (`spec.containers[0].imagePullPolicyy`) of the fields of `value`
/// that upstream's API does not define for `kind`, at most
/// `MAX_REPORTED_UNKNOWN`. Keys starting with `$` are strategic-merge-patch
/// directives and are skipped.
pub fn unknown_fields(kind: Kind, value: &Value) -> Vec<String> {
    let mut out = Vec::new();
    walk(schema(kind), value, "", false, &mut out);
    out
}

/// The same for a merge or strategic merge patch: a field set to `null`
/// is removed by the patch, so it cannot bring an unknown field in (kubectl
/// sends `"misspelt": null` to take out what an earlier lenient apply let
/// through, and upstream, checking the patched result, accepts it).
pub fn unknown_patch_fields(kind: Kind, patch: &Value) -> Vec<String> {
    let mut out = Vec::new();
    walk(schema(kind), patch, "", true, &mut out);
    out
}

/// Removes every field of `value` that upstream's API does not define for
/// `kind` (all of them, not only the first `MAX_REPORTED_UNKNOWN`), as
/// upstream's decoding into its types drops them; strategic-merge-patch
/// directives (`$patch`, `$setElementOrder/...`) stay. Returns how many
/// fields went. The apiserver prunes what it stores, so an object never
/// keeps a misspelt field that a lenient `fieldValidation` let through.
pub fn prune_unknown(kind: Kind, value: &mut Value) -> usize {
    prune(schema(kind), value)
}

fn prune(fields: &'static [(&'static str, F)], v: &mut Value) -> usize {
    let Value::Object(m) = v else { return 0 };
    let before = m.len();
    m.retain(|k, _| k.starts_with('$') || fields.iter().any(|(name, _)| name == k));
    let mut n = before - m.len();
    for (k, child) in m.iter_mut() {
        match fields.iter().find(|(name, _)| name == k) {
            Some((_, F::Obj(inner))) => n += prune(inner, child),
            Some((_, F::List(inner))) => {
                if let Value::Array(items) = child {
                    n += items.iter_mut().map(|item| prune(inner, item)).sum::<usize>();
                }
            }
            _ => {}
        }
    }
    n
}

fn walk(fields: &'static [(&'static str, F)], v: &Value, path: &str, patch: bool, out: &mut Vec<String>) {
    let Value::Object(m) = v else { return };
    for (k, child) in m {
        if out.len() >= MAX_REPORTED_UNKNOWN {
            return;
        }
        if k.starts_with('$') || (patch && child.is_null()) {
            continue;
        }
        let p = if path.is_empty() { k.clone() } else { format!("{path}.{k}") };
        match fields.iter().find(|(name, _)| name == k) {
            None => out.push(p),
            Some((_, F::Obj(inner))) => walk(inner, child, &p, patch, out),
            Some((_, F::List(inner))) => {
                if let Value::Array(items) = child {
                    for (i, item) in items.iter().enumerate() {
                        walk(inner, item, &format!("{p}[{i}]"), patch, out);
                    }
                }
            }
            Some((_, F::Leaf | F::Opaque)) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_patch_may_remove_an_unknown_field_but_not_bring_one_in() {
        let remove = json!({"spec": {"template": {"spec": {"containers": [{"name": "web", "imagePullPolicyy": null}]}}}});
        assert!(unknown_patch_fields(Kind::Deployment, &remove).is_empty());
        assert_eq!(unknown_fields(Kind::Deployment, &remove), ["spec.template.spec.containers[0].imagePullPolicyy"]);
        let add = json!({"spec": {"template": {"spec": {"containers": [{"name": "web", "imagePullPolicyy": "Never"}]}}}});
        assert_eq!(unknown_patch_fields(Kind::Deployment, &add), ["spec.template.spec.containers[0].imagePullPolicyy"]);
    }

    #[test]
    fn pruning_removes_exactly_the_unknown_fields_however_many() {
        let mut containers: Vec<Value> = (0..MAX_REPORTED_UNKNOWN + 5).map(|i| json!({"name": format!("c{i}"), "image": "i", "imagePullPolicyy": "Never", "livenessProbe": {"anything": 1}})).collect();
        containers.push(json!({"$patch": "replace"}));
        let mut v = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "labelz": {}}, "spec": {"containers": containers, "volumes": [{"name": "v", "emptyDir": {}}]}, "extra": 1});
        let n = prune_unknown(Kind::Pod, &mut v);
        assert_eq!(n, MAX_REPORTED_UNKNOWN + 5 + 2);
        assert!(unknown_fields(Kind::Pod, &v).is_empty());
        // Known fields podchain only carries, and patch directives, stay.
        assert_eq!(v["spec"]["containers"][0]["livenessProbe"], json!({"anything": 1}));
        assert_eq!(v["spec"]["volumes"][0]["emptyDir"], json!({}));
        assert_eq!(v["spec"]["containers"][MAX_REPORTED_UNKNOWN + 5], json!({"$patch": "replace"}));
        assert!(v.get("extra").is_none() && v["metadata"].get("labelz").is_none());
        assert_eq!(prune_unknown(Kind::Pod, &mut v), 0);
    }

    #[test]
    fn typos_are_found_with_their_paths_and_carried_fields_are_not() {
        let d = json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "d", "labelz": {}},
            "spec": {"replicas": 1, "selector": {"matchLabels": {"a": "b"}},
                     "template": {"metadata": {"labels": {"a": "b"}},
                                  "spec": {"volumes": [{"name": "v", "emptyDir": {}, "anything": 1}],
                                           "affinity": {"whatever": true},
                                           "containers": [{"name": "c", "image": "i", "imagePullPolicyy": "Never",
                                                           "env": [{"name": "A", "valu": "x"}],
                                                           "livenessProbe": {"exec": {"command": ["true"]}}}]}},
                     "strategy": {"rollingUpdate": {"maxSurge": 1, "maxSurgee": 2}},
                     "$patch": "replace"},
            "status": {"anything": 1}
        });
        assert_eq!(
            unknown_fields(Kind::Deployment, &d),
            vec!["metadata.labelz", "spec.strategy.rollingUpdate.maxSurgee", "spec.template.spec.containers[0].env[0].valu", "spec.template.spec.containers[0].imagePullPolicyy"]
        );
    }

    #[test]
    fn every_kind_accepts_what_podchain_itself_writes() {
        // A full object of each kind, as podchain serialises it, has no unknown field.
        use crate::object::Object;
        let samples = [
            (Kind::Pod, json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "n", "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "r", "uid": "u", "controller": true, "blockOwnerDeletion": true}]}, "spec": {"nodeName": "n1", "tolerations": [{"key": "k", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300}], "containers": [{"name": "c", "image": "i", "ports": [{"containerPort": 80, "hostPort": 8080, "protocol": "TCP"}], "resources": {"requests": {"cpu": "1"}}}]}})),
            (Kind::Node, json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n"}, "spec": {"taints": [{"key": "k", "effect": "NoSchedule", "timeAdded": "2026-01-01T00:00:00Z"}], "unschedulable": true}})),
            (Kind::Lease, json!({"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": {"name": "l", "namespace": "kube-node-lease"}, "spec": {"holderIdentity": "n", "leaseDurationSeconds": 40, "renewTime": "2026-01-01T00:00:00.000000Z"}})),
            (Kind::Namespace, json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "x"}, "spec": {"finalizers": ["kubernetes"]}})),
        ];
        for (kind, v) in samples {
            let obj = Object::from_value(kind, v).expect("decodes");
            assert_eq!(unknown_fields(kind, &obj.to_value()), Vec::<String>::new(), "{kind:?}");
        }
    }

    #[test]
    fn reports_are_bounded() {
        let mut m = serde_json::Map::new();
        for i in 0..100 {
            m.insert(format!("f{i}"), json!(1));
        }
        assert_eq!(unknown_fields(Kind::Pod, &Value::Object(m)).len(), MAX_REPORTED_UNKNOWN);
    }
}
