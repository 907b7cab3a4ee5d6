//! rbac.authorization.k8s.io/v1, with upstream's JSON names: roles (sets of
//! rules), bindings (roles granted to subjects), and the bootstrap policy for
//! what podchain runs (upstream's `plugin/pkg/auth/authorizer/rbac/bootstrappolicy`,
//! reduced to the resources podchain serves). `authz` decides with them.

use crate::meta::{Extra, ObjectMeta};
use serde::{Deserialize, Serialize};

pub const RBAC_GROUP: &str = "rbac.authorization.k8s.io";

/// One permission: these verbs on these resources (or non-resource URLs).
/// `*` in a list matches everything; an empty `resource_names` matches every name.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PolicyRule {
    #[serde(default)]
    pub verbs: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub api_groups: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub resources: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub resource_names: Vec<String>,
    #[serde(rename = "nonResourceURLs", default, skip_serializing_if = "Vec::is_empty")]
    pub non_resource_urls: Vec<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Role {
    #[serde(default)]
    pub metadata: ObjectMeta,
    #[serde(default)]
    pub rules: Vec<PolicyRule>,
    /// A ClusterRole's `aggregationRule`, carried without acting on it
    /// (podchain runs no aggregation controller).
    #[serde(default, skip_serializing_if = "Extra::is_empty")]
    pub aggregation_rule: Extra,
}

/// A Role of the whole cluster (also what a RoleBinding may grant in its namespace).
pub type ClusterRole = Role;

/// Who a binding grants to: `User`, `Group` or `ServiceAccount` (with its namespace).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Subject {
    pub kind: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub api_group: String,
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub namespace: String,
}

/// The role a binding grants: `Role` (a RoleBinding's namespace's) or `ClusterRole`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RoleRef {
    #[serde(default)]
    pub api_group: String,
    pub kind: String,
    pub name: String,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RoleBinding {
    #[serde(default)]
    pub metadata: ObjectMeta,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub subjects: Vec<Subject>,
    pub role_ref: RoleRef,
}

/// A binding of the whole cluster (of a ClusterRole only).
pub type ClusterRoleBinding = RoleBinding;

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

/// A rule on resources of the groups named.
pub fn rule(verbs: &[&str], groups: &[&str], resources: &[&str]) -> PolicyRule {
    PolicyRule { verbs: strings(verbs), api_groups: strings(groups), resources: strings(resources), ..Default::default() }
}

/// A rule on non-resource URLs (`/healthz`, `/api/*`).
pub fn url_rule(verbs: &[&str], urls: &[&str]) -> PolicyRule {
    PolicyRule { verbs: strings(verbs), non_resource_urls: strings(urls), ..Default::default() }
}

fn named(name: &str) -> ObjectMeta {
    let mut m = ObjectMeta { name: name.into(), ..Default::default() };
    m.labels.insert("kubernetes.io/bootstrapping".into(), "rbac-defaults".into());
    m.annotations.insert("rbac.authorization.kubernetes.io/autoupdate".into(), "true".into());
    m
}

fn cluster_role(name: &str, rules: Vec<PolicyRule>) -> ClusterRole {
    Role { metadata: named(name), rules, ..Default::default() }
}

fn binding(name: &str, role: &str, subjects: &[(&str, &str)]) -> ClusterRoleBinding {
    RoleBinding {
        metadata: named(name),
        subjects: subjects.iter().map(|(kind, name)| Subject { kind: kind.to_string(), api_group: RBAC_GROUP.into(), name: name.to_string(), namespace: String::new() }).collect(),
        role_ref: RoleRef { api_group: RBAC_GROUP.into(), kind: "ClusterRole".into(), name: role.into() },
    }
}

/// Upstream's well-known users and groups.
pub const SYSTEM_MASTERS: &str = "system:masters";
pub const SYSTEM_NODES: &str = "system:nodes";
pub const SYSTEM_AUTHENTICATED: &str = "system:authenticated";
pub const SYSTEM_UNAUTHENTICATED: &str = "system:unauthenticated";
pub const SYSTEM_ANONYMOUS: &str = "system:anonymous";
pub const NODE_USER_PREFIX: &str = "system:node:";
pub const CONTROLLER_MANAGER_USER: &str = "system:kube-controller-manager";
pub const SCHEDULER_USER: &str = "system:kube-scheduler";

const READ: &[&str] = &["get", "list", "watch"];
const WRITE: &[&str] = &["create", "delete", "deletecollection", "patch", "update"];

/// The rules a kubelet's identity is held to (upstream's `NodeRules`, for
/// what podchain serves). The Node authoriser allows by these, and the
/// node restriction then narrows each write to the node's own objects.
pub fn node_rules() -> Vec<PolicyRule> {
    vec![
        rule(READ, &[""], &["pods", "nodes", "namespaces", "services", "endpoints"]),
        rule(&["create", "get", "list", "watch", "update", "patch", "delete"], &[""], &["nodes"]),
        rule(&["update", "patch"], &[""], &["nodes/status", "pods/status"]),
        rule(&["delete"], &[""], &["pods"]),
        rule(&["create", "update", "patch"], &["", "events.k8s.io"], &["events"]),
        rule(&["get", "create", "update", "patch", "delete"], &["coordination.k8s.io"], &["leases"]),
    ]
}

/// Upstream's bootstrap ClusterRoles for what podchain runs.
pub fn bootstrap_cluster_roles() -> Vec<ClusterRole> {
    let view = vec![rule(READ, &["", "apps", "events.k8s.io"], &["pods", "pods/log", "pods/status", "replicasets", "replicasets/scale", "replicasets/status", "deployments", "deployments/scale", "deployments/status", "events", "namespaces", "namespaces/status"])];
    let mut edit = view.clone();
    edit.push(rule(WRITE, &["", "apps"], &["pods", "pods/eviction", "replicasets", "replicasets/scale", "deployments", "deployments/scale"]));
    let mut admin = edit.clone();
    admin.push(rule(&[READ, WRITE].concat(), &[RBAC_GROUP], &["roles", "rolebindings"]));
    admin.push(rule(&["create"], &["authorization.k8s.io"], &["localsubjectaccessreviews"]));
    vec![
        cluster_role("cluster-admin", vec![rule(&["*"], &["*"], &["*"]), url_rule(&["*"], &["*"])]),
        cluster_role("admin", admin),
        cluster_role("edit", edit),
        cluster_role("view", view),
        cluster_role("system:discovery", vec![url_rule(&["get"], &["/api", "/api/*", "/apis", "/apis/*", "/openapi", "/openapi/*", "/version", "/version/"])]),
        cluster_role("system:public-info-viewer", vec![url_rule(&["get"], &["/healthz", "/livez", "/readyz", "/version", "/version/"])]),
        cluster_role("system:basic-user", vec![rule(&["create"], &["authorization.k8s.io"], &["selfsubjectaccessreviews", "selfsubjectrulesreviews"]), rule(&["create"], &["authentication.k8s.io"], &["selfsubjectreviews"])]),
        cluster_role("system:node", node_rules()),
        cluster_role(
            CONTROLLER_MANAGER_USER,
            vec![
                rule(&[READ, WRITE].concat(), &["", "apps"], &["pods", "replicasets", "replicasets/status", "deployments", "deployments/status"]),
                rule(READ, &[""], &["nodes", "namespaces"]),
                rule(&["update", "patch", "delete"], &[""], &["nodes", "nodes/status", "pods/status"]),
                rule(&["create", "update", "patch"], &["", "events.k8s.io"], &["events"]),
                rule(&["create", "get", "update"], &["coordination.k8s.io"], &["leases"]),
            ],
        ),
        cluster_role(
            SCHEDULER_USER,
            vec![
                rule(READ, &["", "apps"], &["pods", "nodes", "namespaces", "replicasets"]),
                rule(&["create"], &[""], &["pods/binding"]),
                rule(&["update", "patch"], &[""], &["pods/status"]),
                rule(&["create", "update", "patch"], &["", "events.k8s.io"], &["events"]),
                rule(&["create", "get", "update"], &["coordination.k8s.io"], &["leases"]),
            ],
        ),
    ]
}

/// Upstream's bootstrap ClusterRoleBindings for those roles. (`system:node`
/// is bound to no one, as upstream since 1.8: the Node authoriser grants it.)
pub fn bootstrap_cluster_role_bindings() -> Vec<ClusterRoleBinding> {
    vec![
        binding("cluster-admin", "cluster-admin", &[("Group", SYSTEM_MASTERS)]),
        binding("system:discovery", "system:discovery", &[("Group", SYSTEM_AUTHENTICATED)]),
        binding("system:public-info-viewer", "system:public-info-viewer", &[("Group", SYSTEM_AUTHENTICATED), ("Group", SYSTEM_UNAUTHENTICATED)]),
        binding("system:basic-user", "system:basic-user", &[("Group", SYSTEM_AUTHENTICATED)]),
        binding(CONTROLLER_MANAGER_USER, CONTROLLER_MANAGER_USER, &[("User", CONTROLLER_MANAGER_USER)]),
        binding(SCHEDULER_USER, SCHEDULER_USER, &[("User", SCHEDULER_USER)]),
    ]
}
