//! Authorisation, decided as a pure function, as upstream chains it for
//! kubeadm's `--authorization-mode=Node,RBAC`: the privileged group
//! (`system:masters`) is allowed everything; then the Node authoriser
//! decides for kubelets' identities (`system:node:NAME` in `system:nodes`);
//! then RBAC over the Role, ClusterRole, RoleBinding and ClusterRoleBinding
//! objects. Nothing allows: 403, with upstream's message. The node
//! restriction (upstream's NodeRestriction admission plugin) then narrows a
//! kubelet's writes to its own objects: it needs the object written, so it
//! runs with the write (`node_restriction`), not here.
//!
//! The apiserver calls these before each request and the model calls them
//! for its compromised kubelet, so both refuse alike.

use crate::object::{Kind, Object};
use crate::rbac::{self, ClusterRole, ClusterRoleBinding, PolicyRule, Role, RoleBinding, Subject};
use crate::status::{ApiError, StatusDetails};
use std::collections::BTreeMap;

/// Who is asking, as authentication found it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct UserInfo {
    pub name: String,
    pub groups: Vec<String>,
}

impl UserInfo {
    pub fn new(name: &str, groups: &[&str]) -> UserInfo {
        UserInfo { name: name.into(), groups: groups.iter().map(|g| g.to_string()).collect() }
    }

    pub fn in_group(&self, g: &str) -> bool {
        self.groups.iter().any(|x| x == g)
    }

    /// The node a kubelet's identity names (`system:node:NAME` in
    /// `system:nodes`), or None for any other user.
    pub fn node(&self) -> Option<&str> {
        if !self.in_group(rbac::SYSTEM_NODES) {
            return None;
        }
        self.name.strip_prefix(rbac::NODE_USER_PREFIX).filter(|n| !n.is_empty())
    }
}

/// What a request asks to do.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Attributes {
    pub user: UserInfo,
    /// Upstream's verb: get, list, watch, create, update, patch, delete, deletecollection.
    pub verb: String,
    /// A request for a resource (else for `path`).
    pub resource_request: bool,
    pub api_group: String,
    pub api_version: String,
    pub resource: String,
    pub subresource: String,
    pub namespace: String,
    pub name: String,
    pub path: String,
}

impl Attributes {
    /// A request for a resource.
    pub fn resource(user: &UserInfo, verb: &str, api_group: &str, resource: &str, subresource: &str, namespace: &str, name: &str) -> Attributes {
        Attributes {
            user: user.clone(),
            verb: verb.into(),
            resource_request: true,
            api_group: api_group.into(),
            resource: resource.into(),
            subresource: subresource.into(),
            namespace: namespace.into(),
            name: name.into(),
            ..Default::default()
        }
    }

    /// A request for a path that names no resource (`/healthz`, `/metrics`).
    pub fn path(user: &UserInfo, verb: &str, path: &str) -> Attributes {
        Attributes { user: user.clone(), verb: verb.into(), path: path.into(), ..Default::default() }
    }

    /// `resource/subresource`, as rules name it.
    fn combined_resource(&self) -> String {
        if self.subresource.is_empty() {
            self.resource.clone()
        } else {
            format!("{}/{}", self.resource, self.subresource)
        }
    }
}

/// What a write asks, as the apiserver reads it from the write's URL: the
/// attributes `authorize` decides on, and the kind of the object. (The
/// model's apiserver takes its writes as effects; this is how they are
/// read the same way.)
pub fn attributes_of(user: &UserInfo, e: &crate::effect::Effect) -> (Attributes, Kind) {
    use crate::effect::Effect;
    let (verb, kind, sub, ns, name) = match e {
        Effect::Create(o) => ("create", o.kind(), "", o.meta().namespace.clone(), String::new()),
        Effect::Update(o) => ("update", o.kind(), "", o.meta().namespace.clone(), o.meta().name.clone()),
        Effect::UpdateStatus(o) => ("update", o.kind(), "status", o.meta().namespace.clone(), o.meta().name.clone()),
        Effect::Delete(d) => ("delete", d.kind, "", d.namespace.clone(), d.name.clone()),
        Effect::Bind { namespace, name, .. } => ("create", Kind::Pod, "binding", namespace.clone(), name.clone()),
    };
    let info = kind.info();
    let ns = if info.namespaced { ns } else { String::new() };
    (Attributes::resource(user, verb, info.group, info.plural, sub, &ns, &name), kind)
}

/// The whole check of one write: `authorize`, then, when `restrict_nodes`,
/// `node_restriction` against the stored object (`existing`).
pub fn check_write(user: &UserInfo, e: &crate::effect::Effect, policy: &Policy, restrict_nodes: bool, existing: Option<&Object>) -> Result<(), ApiError> {
    use crate::effect::Effect;
    let (a, kind) = attributes_of(user, e);
    if let Decision::Deny(why) = authorize(&a, policy) {
        return Err(forbidden(&a, &why));
    }
    if !restrict_nodes {
        return Ok(());
    }
    let new = match e {
        Effect::Create(o) | Effect::Update(o) | Effect::UpdateStatus(o) => Some(o),
        _ => None,
    };
    node_restriction(&a, kind, existing, new)
}

/// authorization.k8s.io/v1 SubjectAccessReview's spec: may this user do this?
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SubjectAccessReviewSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_attributes: Option<ResourceAttributes>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub non_resource_attributes: Option<NonResourceAttributes>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub user: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<String>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub uid: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extra: Option<serde_json::Value>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResourceAttributes {
    #[serde(default)]
    pub namespace: String,
    #[serde(default)]
    pub verb: String,
    #[serde(default)]
    pub group: String,
    #[serde(default)]
    pub version: String,
    #[serde(default)]
    pub resource: String,
    #[serde(default)]
    pub subresource: String,
    #[serde(default)]
    pub name: String,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NonResourceAttributes {
    #[serde(default)]
    pub path: String,
    #[serde(default)]
    pub verb: String,
}

/// A SubjectAccessReview's answer: `status.allowed` and `status.reason`,
/// decided by `authorize`; a spec upstream refuses is 422 with its causes.
pub fn review(spec: &SubjectAccessReviewSpec, p: &Policy) -> Result<(bool, String), ApiError> {
    use crate::status::FieldError;
    let mut errs = Vec::new();
    match (&spec.resource_attributes, &spec.non_resource_attributes) {
        (Some(_), Some(_)) => errs.push(FieldError::invalid("spec.nonResourceAttributes", "", "cannot be specified in combination with resourceAttributes")),
        (None, None) => errs.push(FieldError::invalid("spec.resourceAttributes", "", "exactly one of nonResourceAttributes or resourceAttributes must be specified")),
        _ => {}
    }
    if spec.user.is_empty() && spec.groups.is_empty() {
        errs.push(FieldError::invalid("spec.user", "", "at least one of user or group must be specified"));
    }
    if !errs.is_empty() {
        return Err(ApiError::invalid("authorization.k8s.io", "SubjectAccessReview", "", errs));
    }
    let user = UserInfo { name: spec.user.clone(), groups: spec.groups.clone() };
    let a = match (&spec.resource_attributes, &spec.non_resource_attributes) {
        (Some(r), _) => {
            let mut a = Attributes::resource(&user, &r.verb, &r.group, &r.resource, &r.subresource, &r.namespace, &r.name);
            a.api_version = r.version.clone();
            a
        }
        (_, Some(n)) => Attributes::path(&user, &n.verb, &n.path),
        (None, None) => unreachable!("refused above"),
    };
    Ok(match authorize(&a, p) {
        Decision::Allow(why) => (true, why),
        Decision::Deny(why) => (false, why),
    })
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Allowed, saying by what.
    Allow(String),
    /// Refused; the reason, if any, is added to the 403's message.
    Deny(String),
}

/// The RBAC objects, indexed as the authoriser reads them.
#[derive(Clone, Debug, Default)]
pub struct Policy {
    cluster_roles: BTreeMap<String, ClusterRole>,
    /// By (namespace, name).
    roles: BTreeMap<(String, String), Role>,
    cluster_role_bindings: Vec<ClusterRoleBinding>,
    /// By namespace.
    role_bindings: BTreeMap<String, Vec<RoleBinding>>,
}

impl Policy {
    pub fn new(cluster_roles: Vec<ClusterRole>, roles: Vec<Role>, cluster_role_bindings: Vec<ClusterRoleBinding>, role_bindings: Vec<RoleBinding>) -> Policy {
        let mut p = Policy { cluster_role_bindings, ..Default::default() };
        for r in cluster_roles {
            p.cluster_roles.insert(r.metadata.name.clone(), r);
        }
        for r in roles {
            p.roles.insert((r.metadata.namespace.clone(), r.metadata.name.clone()), r);
        }
        for b in role_bindings {
            p.role_bindings.entry(b.metadata.namespace.clone()).or_default().push(b);
        }
        p
    }

    /// Upstream's bootstrap policy alone.
    pub fn bootstrap() -> Policy {
        Policy::new(rbac::bootstrap_cluster_roles(), vec![], rbac::bootstrap_cluster_role_bindings(), vec![])
    }

    /// The rules `b` grants in `namespace` ("" for a ClusterRoleBinding), and
    /// how the reason names the role.
    fn granted(&self, b: &RoleBinding, namespace: &str) -> Option<(&[PolicyRule], String)> {
        match b.role_ref.kind.as_str() {
            "ClusterRole" => self.cluster_roles.get(&b.role_ref.name).map(|r| (&r.rules[..], format!("ClusterRole {:?}", b.role_ref.name))),
            "Role" if !namespace.is_empty() => self.roles.get(&(namespace.to_string(), b.role_ref.name.clone())).map(|r| (&r.rules[..], format!("Role {:?}", b.role_ref.name))),
            _ => None,
        }
    }
}

fn matches(list: &[String], want: &str) -> bool {
    list.iter().any(|x| x == "*" || x == want)
}

/// Upstream's `ResourceMatches`: `*`, the combined `resource/sub`, or `*/sub`.
fn resource_matches(rule: &PolicyRule, combined: &str, subresource: &str) -> bool {
    rule.resources.iter().any(|r| r == "*" || r == combined || (!subresource.is_empty() && r.strip_prefix("*/") == Some(subresource)))
}

/// Upstream's `NonResourceURLMatches`: `*`, the path itself, or a prefix ending in `*`.
fn url_matches(rule: &PolicyRule, path: &str) -> bool {
    rule.non_resource_urls.iter().any(|u| u == "*" || u == path || u.strip_suffix('*').is_some_and(|prefix| path.starts_with(prefix)))
}

/// Whether `rule` allows `a` (upstream's `RuleAllows`).
pub fn rule_allows(a: &Attributes, rule: &PolicyRule) -> bool {
    if !matches(&rule.verbs, &a.verb) {
        return false;
    }
    if !a.resource_request {
        return url_matches(rule, &a.path);
    }
    matches(&rule.api_groups, &a.api_group) && resource_matches(rule, &a.combined_resource(), &a.subresource) && (rule.resource_names.is_empty() || rule.resource_names.iter().any(|n| *n == a.name))
}

/// Whether `s` names `u`; a ServiceAccount with no namespace is the binding's.
fn applies_to(s: &Subject, u: &UserInfo, binding_namespace: &str) -> bool {
    match s.kind.as_str() {
        "User" => s.name == u.name,
        "Group" => u.in_group(&s.name),
        "ServiceAccount" => {
            let ns = if s.namespace.is_empty() { binding_namespace } else { &s.namespace };
            u.name == format!("system:serviceaccount:{ns}:{}", s.name)
        }
        _ => false,
    }
}

/// RBAC alone: the first binding whose role allows `a`, named as upstream's reason.
pub fn rbac_allows(a: &Attributes, p: &Policy) -> Option<String> {
    for b in &p.cluster_role_bindings {
        let Some(subject) = b.subjects.iter().find(|s| applies_to(s, &a.user, "")) else { continue };
        if let Some((rules, role)) = p.granted(b, "") {
            if rules.iter().any(|r| rule_allows(a, r)) {
                return Some(format!("RBAC: allowed by ClusterRoleBinding {:?} of {role} to {} {:?}", b.metadata.name, subject.kind, subject.name));
            }
        }
    }
    if !a.resource_request || a.namespace.is_empty() {
        return None;
    }
    for b in p.role_bindings.get(&a.namespace).into_iter().flatten() {
        let Some(subject) = b.subjects.iter().find(|s| applies_to(s, &a.user, &a.namespace)) else { continue };
        if let Some((rules, role)) = p.granted(b, &a.namespace) {
            if rules.iter().any(|r| rule_allows(a, r)) {
                return Some(format!("RBAC: allowed by RoleBinding \"{}/{}\" of {role} to {} {:?}", b.metadata.name, a.namespace, subject.kind, subject.name));
            }
        }
    }
    None
}

/// The Node authoriser: for a kubelet's identity, what `rbac::node_rules`
/// allow, leases only its own; None (no opinion) for anyone else, or for
/// what the rules do not cover, so RBAC decides.
fn node_authorizer(a: &Attributes) -> Option<Decision> {
    let node = a.user.node()?;
    if a.resource_request && a.api_group == "coordination.k8s.io" && a.resource == "leases" {
        // As upstream: a node's lease only, in kube-node-lease (a create's
        // name is the object's, which the node restriction checks).
        if a.namespace != crate::controller::nodelifecycle::NODE_LEASE_NAMESPACE || (a.verb != "create" && a.name != node) {
            return Some(Decision::Deny("can only access node lease with the same name as the requesting node".into()));
        }
    }
    // Built once: every request and every model write of a kubelet reads them.
    static NODE_RULES: std::sync::OnceLock<Vec<PolicyRule>> = std::sync::OnceLock::new();
    NODE_RULES.get_or_init(rbac::node_rules).iter().any(|r| rule_allows(a, r)).then(|| Decision::Allow(format!("Node: allowed for node {node:?}")))
}

/// The decision for `a`: privileged group, then Node, then RBAC.
pub fn authorize(a: &Attributes, p: &Policy) -> Decision {
    if a.user.in_group(rbac::SYSTEM_MASTERS) {
        return Decision::Allow(format!("allowed as a member of {:?}", rbac::SYSTEM_MASTERS));
    }
    let node = node_authorizer(a);
    if let Some(Decision::Allow(why)) = node {
        return Decision::Allow(why);
    }
    if let Some(why) = rbac_allows(a, p) {
        return Decision::Allow(why);
    }
    match node {
        Some(Decision::Deny(why)) => Decision::Deny(why),
        _ => Decision::Deny(String::new()),
    }
}

/// Upstream's `forbiddenMessage`: who cannot do what, where.
pub fn forbidden_message(a: &Attributes) -> String {
    if !a.resource_request {
        return format!("User {:?} cannot {} path {:?}", a.user.name, a.verb, a.path);
    }
    let resource = a.combined_resource();
    if a.namespace.is_empty() {
        format!("User {:?} cannot {} resource {:?} in API group {:?} at the cluster scope", a.user.name, a.verb, resource, a.api_group)
    } else {
        format!("User {:?} cannot {} resource {:?} in API group {:?} in the namespace {:?}", a.user.name, a.verb, resource, a.api_group, a.namespace)
    }
}

/// The resource as upstream qualifies it in messages: `pods`, `deployments.apps`.
fn qualified(resource: &str, group: &str) -> String {
    if group.is_empty() {
        resource.to_string()
    } else {
        format!("{resource}.{group}")
    }
}

/// A 403 for `a` (upstream's `NewForbidden`): `pods "p" is forbidden: <detail>`.
pub fn forbidden_for(a: &Attributes, detail: &str) -> ApiError {
    let message = if !a.resource_request || a.resource.is_empty() {
        format!("forbidden: {detail}")
    } else if a.name.is_empty() {
        format!("{} is forbidden: {detail}", qualified(&a.resource, &a.api_group))
    } else {
        format!("{} {:?} is forbidden: {detail}", qualified(&a.resource, &a.api_group), a.name)
    };
    let mut e = ApiError::new(403, "Forbidden", message);
    e.details = Some(StatusDetails { name: a.name.clone(), group: a.api_group.clone(), kind: a.resource.clone(), ..Default::default() });
    e
}

/// The 403 of a denied request: the message, then the reason if there is one.
pub fn forbidden(a: &Attributes, reason: &str) -> ApiError {
    let msg = forbidden_message(a);
    if reason.is_empty() {
        forbidden_for(a, &msg)
    } else {
        forbidden_for(a, &format!("{msg}: {reason}"))
    }
}

/// Upstream's NodeRestriction admission, for what podchain serves: a kubelet
/// writes only its own Node and Lease, the status of pods bound to it and
/// the deletion of pods bound to it. `existing` is the object as stored (for
/// an update or delete), `new` the object sent (for a create or update).
/// Anyone but a kubelet's identity passes.
pub fn node_restriction(a: &Attributes, kind: Kind, existing: Option<&Object>, new: Option<&Object>) -> Result<(), ApiError> {
    let Some(node) = a.user.node() else { return Ok(()) };
    let name_of = |o: Option<&Object>| o.map(|o| o.meta().name.clone());
    let refuse = |detail: String| Err(forbidden_for(a, &detail));
    match kind {
        Kind::Node => {
            let target = if a.name.is_empty() { name_of(new).unwrap_or_default() } else { a.name.clone() };
            if target != node {
                return refuse(format!("node {node:?} is not allowed to modify node {target:?}"));
            }
            Ok(())
        }
        Kind::Lease => {
            let target = if a.name.is_empty() { name_of(new).unwrap_or_default() } else { a.name.clone() };
            if target != node || a.namespace != crate::controller::nodelifecycle::NODE_LEASE_NAMESPACE {
                return refuse(format!("node {node:?} is not allowed to modify lease {:?} in namespace {:?}", target, a.namespace));
            }
            Ok(())
        }
        Kind::Pod => {
            let bound_here = |o: Option<&Object>| matches!(o, Some(Object::Pod(p)) if p.spec.node_name == node);
            match (a.verb.as_str(), a.subresource.as_str()) {
                ("update" | "patch", "status") if bound_here(existing) => Ok(()),
                ("update" | "patch", "status") => refuse(format!("node {node:?} can only update pod status for pods with spec.nodeName set to itself")),
                ("delete", "") if bound_here(existing) => Ok(()),
                ("delete", "") => refuse(format!("node {node:?} can only delete pods with spec.nodeName set to itself")),
                ("create", "") => refuse(format!("node {node:?} cannot create pods: podchain has no mirror pods")),
                _ => refuse(format!("node {node:?} cannot {} pods{}", a.verb, if a.subresource.is_empty() { String::new() } else { format!("/{}", a.subresource) })),
            }
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rbac::{rule, RoleRef};
    use crate::types::Pod;

    fn node_user(n: &str) -> UserInfo {
        UserInfo::new(&format!("system:node:{n}"), &[rbac::SYSTEM_NODES, rbac::SYSTEM_AUTHENTICATED])
    }

    fn allowed(a: &Attributes, p: &Policy) -> bool {
        matches!(authorize(a, p), Decision::Allow(_))
    }

    fn pod_on(name: &str, node: &str) -> Object {
        let mut p = Pod::default();
        p.metadata.name = name.into();
        p.metadata.namespace = "default".into();
        p.spec.node_name = node.into();
        Object::Pod(p)
    }

    #[test]
    fn a_role_granting_get_pods_in_one_namespace_allows_exactly_that() {
        let bob = UserInfo::new("bob", &[rbac::SYSTEM_AUTHENTICATED]);
        let mut role = Role::default();
        role.metadata.name = "pod-reader".into();
        role.metadata.namespace = "team".into();
        role.rules = vec![rule(&["get"], &[""], &["pods"])];
        let mut b = RoleBinding::default();
        b.metadata.name = "bob-reads".into();
        b.metadata.namespace = "team".into();
        b.subjects = vec![Subject { kind: "User".into(), api_group: rbac::RBAC_GROUP.into(), name: "bob".into(), namespace: String::new() }];
        b.role_ref = RoleRef { api_group: rbac::RBAC_GROUP.into(), kind: "Role".into(), name: "pod-reader".into() };
        let p = Policy::new(rbac::bootstrap_cluster_roles(), vec![role], rbac::bootstrap_cluster_role_bindings(), vec![b]);
        let get = Attributes::resource(&bob, "get", "", "pods", "", "team", "web-1");
        assert_eq!(authorize(&get, &p), Decision::Allow("RBAC: allowed by RoleBinding \"bob-reads/team\" of Role \"pod-reader\" to User \"bob\"".into()));
        for (verb, group, resource, sub, ns) in [("list", "", "pods", "", "team"), ("get", "", "pods", "", "other"), ("get", "", "pods", "log", "team"), ("get", "apps", "pods", "", "team"), ("delete", "", "pods", "", "team"), ("get", "", "pods", "", "")] {
            let a = Attributes::resource(&bob, verb, group, resource, sub, ns, "web-1");
            assert!(!allowed(&a, &p), "{verb} {group}/{resource}/{sub} in {ns:?}");
        }
        // The 403, as upstream words it.
        let list = Attributes::resource(&bob, "list", "", "pods", "", "other", "");
        let e = forbidden(&list, "");
        assert_eq!((e.code, e.reason), (403, "Forbidden"));
        assert_eq!(e.message, "pods is forbidden: User \"bob\" cannot list resource \"pods\" in API group \"\" in the namespace \"other\"");
        let e = forbidden(&Attributes::resource(&bob, "get", "apps", "deployments", "scale", "", "web"), "");
        assert_eq!(e.message, "deployments.apps \"web\" is forbidden: User \"bob\" cannot get resource \"deployments/scale\" in API group \"apps\" at the cluster scope");
        assert_eq!(forbidden(&Attributes::path(&bob, "get", "/metrics"), "").message, "forbidden: User \"bob\" cannot get path \"/metrics\"");
        // Discovery and health are everyone's; anonymous gets health only.
        assert!(allowed(&Attributes::path(&bob, "get", "/apis/apps/v1"), &p));
        let anon = UserInfo::new("system:anonymous", &[rbac::SYSTEM_UNAUTHENTICATED]);
        assert!(allowed(&Attributes::path(&anon, "get", "/readyz"), &p));
        assert!(!allowed(&Attributes::path(&anon, "get", "/api"), &p));
    }

    #[test]
    fn a_subject_access_review_answers_as_the_authoriser_decides() {
        let p = Policy::bootstrap();
        let spec = |json: serde_json::Value| serde_json::from_value::<SubjectAccessReviewSpec>(json).unwrap();
        let (allowed, why) = review(&spec(serde_json::json!({"user": rbac::SCHEDULER_USER, "groups": [rbac::SYSTEM_AUTHENTICATED], "resourceAttributes": {"verb": "create", "resource": "pods", "subresource": "binding", "namespace": "default", "name": "p"}})), &p).unwrap();
        assert!(allowed);
        assert_eq!(why, "RBAC: allowed by ClusterRoleBinding \"system:kube-scheduler\" of ClusterRole \"system:kube-scheduler\" to User \"system:kube-scheduler\"");
        assert_eq!(review(&spec(serde_json::json!({"user": "bob", "resourceAttributes": {"verb": "get", "resource": "pods"}})), &p).unwrap(), (false, String::new()));
        assert!(review(&spec(serde_json::json!({"groups": [rbac::SYSTEM_AUTHENTICATED], "nonResourceAttributes": {"verb": "get", "path": "/version"}})), &p).unwrap().0);
        // What upstream refuses: both kinds of attributes, neither, or no one to ask about.
        for (bad, field) in [
            (serde_json::json!({"user": "bob", "resourceAttributes": {}, "nonResourceAttributes": {}}), "spec.nonResourceAttributes"),
            (serde_json::json!({"user": "bob"}), "spec.resourceAttributes"),
            (serde_json::json!({"resourceAttributes": {"verb": "get"}}), "spec.user"),
        ] {
            let e = review(&spec(bad), &p).unwrap_err();
            assert_eq!(e.code, 422);
            assert!(e.details.as_ref().is_some_and(|d| d.causes.iter().any(|c| c.field == field)), "{e:?}");
        }
    }

    #[test]
    fn rules_match_as_upstreams_do() {
        let u = UserInfo::new("u", &[]);
        let a = |verb: &str, res: &str, sub: &str, name: &str| Attributes::resource(&u, verb, "apps", res, sub, "ns", name);
        let r = |verbs: &[&str], resources: &[&str]| rule(verbs, &["apps"], resources);
        assert!(rule_allows(&a("get", "deployments", "scale", ""), &r(&["get"], &["*/scale"])));
        assert!(!rule_allows(&a("get", "deployments", "", ""), &r(&["get"], &["*/scale"])));
        assert!(!rule_allows(&a("get", "deployments", "scale", ""), &r(&["get"], &["deployments"])), "a resource does not grant its subresources");
        assert!(rule_allows(&a("patch", "deployments", "status", ""), &r(&["*"], &["*"])));
        let mut named = r(&["get"], &["deployments"]);
        named.resource_names = vec!["web".into()];
        assert!(rule_allows(&a("get", "deployments", "", "web"), &named));
        assert!(!rule_allows(&a("get", "deployments", "", "db"), &named));
        assert!(!rule_allows(&a("list", "deployments", "", ""), &named));
        let urls = rbac::url_rule(&["get"], &["/api/*", "/version"]);
        assert!(rule_allows(&Attributes::path(&u, "get", "/api/v1"), &urls));
        assert!(rule_allows(&Attributes::path(&u, "get", "/version"), &urls));
        assert!(!rule_allows(&Attributes::path(&u, "get", "/versions"), &urls));
        assert!(!rule_allows(&Attributes::path(&u, "post", "/api/v1"), &urls));
        // A URL rule allows no resource, and a resource rule no URL.
        assert!(!rule_allows(&a("get", "deployments", "", ""), &urls));
    }

    #[test]
    fn the_bootstrap_policy_lets_each_component_do_its_work_and_no_more() {
        let p = Policy::bootstrap();
        let admin = UserInfo::new("kubernetes-admin", &[rbac::SYSTEM_MASTERS, rbac::SYSTEM_AUTHENTICATED]);
        assert!(allowed(&Attributes::resource(&admin, "delete", "", "nodes", "", "", "n1"), &p));
        let cm = UserInfo::new(rbac::CONTROLLER_MANAGER_USER, &[rbac::SYSTEM_AUTHENTICATED]);
        for (verb, group, res, sub) in [("create", "", "pods", ""), ("update", "apps", "replicasets", "status"), ("list", "", "nodes", ""), ("update", "", "nodes", ""), ("delete", "", "pods", ""), ("create", "", "events", "")] {
            assert!(allowed(&Attributes::resource(&cm, verb, group, res, sub, "default", ""), &p), "controller-manager {verb} {res}/{sub}");
        }
        assert!(!allowed(&Attributes::resource(&cm, "create", "", "pods", "binding", "default", "p"), &p), "only the scheduler binds");
        let sched = UserInfo::new(rbac::SCHEDULER_USER, &[rbac::SYSTEM_AUTHENTICATED]);
        assert!(allowed(&Attributes::resource(&sched, "create", "", "pods", "binding", "default", "p"), &p));
        assert!(!allowed(&Attributes::resource(&sched, "delete", "", "pods", "", "default", "p"), &p));
        assert!(!allowed(&Attributes::resource(&sched, "update", "apps", "deployments", "", "default", "d"), &p));
    }

    #[test]
    fn a_kubelet_writes_only_its_own_node_lease_and_pods_and_never_a_pod_spec() {
        let p = Policy::bootstrap();
        let a = node_user("a");
        let res = |verb: &str, group: &str, r: &str, sub: &str, ns: &str, name: &str| Attributes::resource(&a, verb, group, r, sub, ns, name);
        // Reads a kubelet needs.
        assert!(allowed(&res("list", "", "pods", "", "", ""), &p));
        assert!(allowed(&res("get", "", "nodes", "", "", "a"), &p));
        // Its own Node and Lease: allowed, and the node restriction agrees.
        let own_node = res("update", "", "nodes", "status", "", "a");
        assert!(allowed(&own_node, &p));
        assert!(node_restriction(&own_node, Kind::Node, None, None).is_ok());
        let own_lease = res("update", "coordination.k8s.io", "leases", "", "kube-node-lease", "a");
        assert!(allowed(&own_lease, &p));
        assert!(node_restriction(&own_lease, Kind::Lease, None, None).is_ok());
        // Another node's: refused by the node restriction (Node) or the authoriser (Lease).
        let other_node = res("update", "", "nodes", "status", "", "b");
        assert!(allowed(&other_node, &p), "the Node authoriser leaves names to the node restriction");
        let e = node_restriction(&other_node, Kind::Node, None, None).unwrap_err();
        assert_eq!(e.message, "nodes \"b\" is forbidden: node \"a\" is not allowed to modify node \"b\"");
        let other_lease = res("update", "coordination.k8s.io", "leases", "", "kube-node-lease", "b");
        match authorize(&other_lease, &p) {
            Decision::Deny(why) => assert_eq!(forbidden(&other_lease, &why).message, "leases.coordination.k8s.io \"b\" is forbidden: User \"system:node:a\" cannot update resource \"leases\" in API group \"coordination.k8s.io\" in the namespace \"kube-node-lease\": can only access node lease with the same name as the requesting node"),
            d => panic!("{d:?}"),
        }
        let mut lease_b = crate::types::Lease::default();
        lease_b.metadata.name = "b".into();
        let create_lease = res("create", "coordination.k8s.io", "leases", "", "kube-node-lease", "");
        assert!(allowed(&create_lease, &p));
        assert!(node_restriction(&create_lease, Kind::Lease, None, Some(&Object::Lease(lease_b))).is_err(), "a create names its lease in the body");
        // Pods: status and deletion of its own only; never a spec, a binding or a create.
        let status = res("update", "", "pods", "status", "default", "p");
        assert!(allowed(&status, &p));
        assert!(node_restriction(&status, Kind::Pod, Some(&pod_on("p", "a")), None).is_ok());
        let e = node_restriction(&status, Kind::Pod, Some(&pod_on("p", "b")), None).unwrap_err();
        assert_eq!(e.message, "pods \"p\" is forbidden: node \"a\" can only update pod status for pods with spec.nodeName set to itself");
        let delete = res("delete", "", "pods", "", "default", "p");
        assert!(node_restriction(&delete, Kind::Pod, Some(&pod_on("p", "a")), None).is_ok());
        assert!(node_restriction(&delete, Kind::Pod, Some(&pod_on("p", "b")), None).is_err());
        assert!(node_restriction(&delete, Kind::Pod, Some(&pod_on("p", "")), None).is_err(), "nor an unbound pod");
        for (verb, sub) in [("update", ""), ("patch", ""), ("create", "binding"), ("create", ""), ("create", "eviction")] {
            assert!(!allowed(&res(verb, "", "pods", sub, "default", "p"), &p), "a node may not {verb} pods/{sub}");
        }
        assert!(!allowed(&res("update", "apps", "deployments", "", "default", "d"), &p));
        // A name in system:nodes' form without the group is an ordinary user.
        let pretender = UserInfo::new("system:node:a", &[rbac::SYSTEM_AUTHENTICATED]);
        assert_eq!(pretender.node(), None);
        assert!(!allowed(&Attributes::resource(&pretender, "update", "", "nodes", "status", "", "a"), &p));
    }
}
