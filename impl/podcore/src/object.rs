//! `Object`: one enum over every stored kind, with the resource table that
//! maps URLs to kinds (group, version, plural, short names, subresources),
//! encoding with `apiVersion`/`kind`, and the fields each kind offers to
//! `fieldSelector=`.

use crate::meta::ObjectMeta;
use crate::status::ApiError;
use crate::types::*;
use serde_json::Value;

/// The kinds the store holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    Namespace,
    Pod,
    Node,
    Event,
    ReplicaSet,
    Deployment,
    Lease,
    Role,
    ClusterRole,
    RoleBinding,
    ClusterRoleBinding,
}

/// What discovery says about a resource.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ResourceInfo {
    pub kind: Kind,
    pub group: &'static str,
    pub version: &'static str,
    pub plural: &'static str,
    pub singular: &'static str,
    pub kind_name: &'static str,
    pub namespaced: bool,
    pub short_names: &'static [&'static str],
    pub subresources: &'static [&'static str],
    pub categories: &'static [&'static str],
}

pub const RESOURCES: &[ResourceInfo] = &[
    ResourceInfo { kind: Kind::Namespace, group: "", version: "v1", plural: "namespaces", singular: "namespace", kind_name: "Namespace", namespaced: false, short_names: &["ns"], subresources: &["status"], categories: &[] },
    ResourceInfo { kind: Kind::Pod, group: "", version: "v1", plural: "pods", singular: "pod", kind_name: "Pod", namespaced: true, short_names: &["po"], subresources: &["binding", "status", "log", "eviction"], categories: &["all"] },
    ResourceInfo { kind: Kind::Node, group: "", version: "v1", plural: "nodes", singular: "node", kind_name: "Node", namespaced: false, short_names: &["no"], subresources: &["status"], categories: &[] },
    ResourceInfo { kind: Kind::Event, group: "", version: "v1", plural: "events", singular: "event", kind_name: "Event", namespaced: true, short_names: &["ev"], subresources: &[], categories: &[] },
    ResourceInfo { kind: Kind::ReplicaSet, group: "apps", version: "v1", plural: "replicasets", singular: "replicaset", kind_name: "ReplicaSet", namespaced: true, short_names: &["rs"], subresources: &["status", "scale"], categories: &["all"] },
    ResourceInfo { kind: Kind::Deployment, group: "apps", version: "v1", plural: "deployments", singular: "deployment", kind_name: "Deployment", namespaced: true, short_names: &["deploy"], subresources: &["status", "scale"], categories: &["all"] },
    ResourceInfo { kind: Kind::Lease, group: "coordination.k8s.io", version: "v1", plural: "leases", singular: "lease", kind_name: "Lease", namespaced: true, short_names: &[], subresources: &[], categories: &[] },
    ResourceInfo { kind: Kind::Role, group: "rbac.authorization.k8s.io", version: "v1", plural: "roles", singular: "role", kind_name: "Role", namespaced: true, short_names: &[], subresources: &[], categories: &[] },
    ResourceInfo { kind: Kind::ClusterRole, group: "rbac.authorization.k8s.io", version: "v1", plural: "clusterroles", singular: "clusterrole", kind_name: "ClusterRole", namespaced: false, short_names: &[], subresources: &[], categories: &[] },
    ResourceInfo { kind: Kind::RoleBinding, group: "rbac.authorization.k8s.io", version: "v1", plural: "rolebindings", singular: "rolebinding", kind_name: "RoleBinding", namespaced: true, short_names: &[], subresources: &[], categories: &[] },
    ResourceInfo { kind: Kind::ClusterRoleBinding, group: "rbac.authorization.k8s.io", version: "v1", plural: "clusterrolebindings", singular: "clusterrolebinding", kind_name: "ClusterRoleBinding", namespaced: false, short_names: &[], subresources: &[], categories: &[] },
];

impl Kind {
    pub const ALL: [Kind; 11] = [Kind::Namespace, Kind::Pod, Kind::Node, Kind::Event, Kind::ReplicaSet, Kind::Deployment, Kind::Lease, Kind::Role, Kind::ClusterRole, Kind::RoleBinding, Kind::ClusterRoleBinding];

    pub fn info(self) -> &'static ResourceInfo {
        RESOURCES.iter().find(|r| r.kind == self).expect("every kind is in RESOURCES")
    }
    pub fn api_version(self) -> String {
        let i = self.info();
        if i.group.is_empty() {
            i.version.to_string()
        } else {
            format!("{}/{}", i.group, i.version)
        }
    }
    pub fn by_resource(group: &str, version: &str, plural: &str) -> Option<Kind> {
        RESOURCES.iter().find(|r| r.group == group && r.version == version && r.plural == plural).map(|r| r.kind)
    }
    /// The store key prefix for this kind: `/registry/<group>/<plural>/`.
    pub fn key_prefix(self) -> String {
        let i = self.info();
        if i.group.is_empty() {
            format!("/registry/{}/", i.plural)
        } else {
            format!("/registry/{}/{}/", i.group, i.plural)
        }
    }
    /// The store key of one object.
    pub fn key(self, namespace: &str, name: &str) -> String {
        if self.info().namespaced {
            format!("{}{namespace}/{name}", self.key_prefix())
        } else {
            format!("{}{name}", self.key_prefix())
        }
    }
    /// Whether the kind has a spec whose changes bump metadata.generation.
    pub fn has_generation(self) -> bool {
        matches!(self, Kind::Pod | Kind::ReplicaSet | Kind::Deployment | Kind::Node | Kind::Namespace)
    }
    /// Whether `/status` is a separate subresource (the main resource then
    /// ignores status changes, as upstream).
    pub fn has_status_subresource(self) -> bool {
        self.info().subresources.contains(&"status")
    }
}

/// Bytes reserved up front for one object's JSON (a typical pod's size).
const JSON_CAPACITY_HINT: usize = 1024;

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Object {
    Namespace(Namespace),
    Pod(Pod),
    Node(Node),
    Event(Event),
    ReplicaSet(ReplicaSet),
    Deployment(Deployment),
    Lease(Lease),
    Role(crate::rbac::Role),
    ClusterRole(crate::rbac::ClusterRole),
    RoleBinding(crate::rbac::RoleBinding),
    ClusterRoleBinding(crate::rbac::ClusterRoleBinding),
}

/// Decodes an object of the kind it holds, as a `DeserializeSeed` (a watch
/// line's `object`, for one).
#[derive(Clone, Copy, Debug)]
pub struct AsKind(pub Kind);

impl<'de> serde::de::DeserializeSeed<'de> for AsKind {
    type Value = Object;
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Object, D::Error> {
        Object::deserialize_as(self.0, d)
    }
}

macro_rules! each_kind {
    ($obj:expr, $o:ident => $body:expr) => {
        match $obj {
            Object::Namespace($o) => $body,
            Object::Pod($o) => $body,
            Object::Node($o) => $body,
            Object::Event($o) => $body,
            Object::ReplicaSet($o) => $body,
            Object::Deployment($o) => $body,
            Object::Lease($o) => $body,
            Object::Role($o) | Object::ClusterRole($o) => $body,
            Object::RoleBinding($o) | Object::ClusterRoleBinding($o) => $body,
        }
    };
}

impl Object {
    pub fn kind(&self) -> Kind {
        match self {
            Object::Namespace(_) => Kind::Namespace,
            Object::Pod(_) => Kind::Pod,
            Object::Node(_) => Kind::Node,
            Object::Event(_) => Kind::Event,
            Object::ReplicaSet(_) => Kind::ReplicaSet,
            Object::Deployment(_) => Kind::Deployment,
            Object::Lease(_) => Kind::Lease,
            Object::Role(_) => Kind::Role,
            Object::ClusterRole(_) => Kind::ClusterRole,
            Object::RoleBinding(_) => Kind::RoleBinding,
            Object::ClusterRoleBinding(_) => Kind::ClusterRoleBinding,
        }
    }
    pub fn meta(&self) -> &ObjectMeta {
        each_kind!(self, o => &o.metadata)
    }
    pub fn meta_mut(&mut self) -> &mut ObjectMeta {
        each_kind!(self, o => &mut o.metadata)
    }
    pub fn key(&self) -> String {
        self.kind().key(&self.meta().namespace, &self.meta().name)
    }

    /// Encodes with `apiVersion` and `kind` first, as upstream does.
    pub fn to_value(&self) -> Value {
        let body = each_kind!(self, o => serde_json::to_value(o));
        let body = body.expect("podchain's types always encode");
        let mut map = serde_json::Map::new();
        map.insert("apiVersion".into(), Value::String(self.kind().api_version()));
        map.insert("kind".into(), Value::String(self.kind().info().kind_name.into()));
        if let Value::Object(m) = body {
            map.extend(m);
        }
        Value::Object(map)
    }
    /// The JSON of `to_value`, written straight from the typed object (no
    /// `Value` tree): `apiVersion` and `kind` first, then the fields in their
    /// declared order, as upstream's encoder writes them.
    pub fn to_json(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(JSON_CAPACITY_HINT);
        self.write_json(&mut out);
        out
    }
    /// Appends the object's JSON (see `to_json`) to `out`.
    pub fn write_json(&self, out: &mut Vec<u8>) {
        let start = out.len();
        each_kind!(self, o => serde_json::to_writer(&mut *out, o)).expect("podchain's types always encode");
        // The body is a JSON object, `{...}`: its fields follow the header.
        debug_assert_eq!(out.get(start), Some(&b'{'));
        let empty = out.len() - start == 2;
        let i = self.kind().info();
        let sep = if empty { "" } else { "," };
        // Group, version and kind names are identifiers: nothing to escape.
        let header = if i.group.is_empty() { format!("\"apiVersion\":\"{}\",\"kind\":\"{}\"{sep}", i.version, i.kind_name) } else { format!("\"apiVersion\":\"{}/{}\",\"kind\":\"{}\"{sep}", i.group, i.version, i.kind_name) };
        out.splice(start + 1..start + 1, header.into_bytes());
    }
    /// Decodes what podchain itself encoded (the store's values): straight
    /// from the bytes into the typed object, without a `Value` tree or the
    /// field-path errors a client's body gets (`from_json`). `apiVersion` and
    /// `kind` are the store key's, so they are not read.
    pub fn from_stored_json(kind: Kind, bytes: &[u8]) -> Result<Object, ApiError> {
        let mut d = serde_json::Deserializer::from_slice(bytes);
        Object::deserialize_as(kind, &mut d).and_then(|o| d.end().map(|()| o)).map_err(|e| ApiError::internal(format!("stored object does not decode: {e}")))
    }

    /// Deserialises the body of a `kind` (its fields; `apiVersion` and
    /// `kind` are ignored) from any serde deserializer: the one place a kind
    /// chooses its type. `AsKind` is the same as a `DeserializeSeed`.
    pub fn deserialize_as<'de, D: serde::Deserializer<'de>>(kind: Kind, d: D) -> Result<Object, D::Error> {
        use serde::Deserialize;
        Ok(match kind {
            Kind::Namespace => Object::Namespace(Namespace::deserialize(d)?),
            Kind::Pod => Object::Pod(Pod::deserialize(d)?),
            Kind::Node => Object::Node(Node::deserialize(d)?),
            Kind::Event => Object::Event(Event::deserialize(d)?),
            Kind::ReplicaSet => Object::ReplicaSet(ReplicaSet::deserialize(d)?),
            Kind::Deployment => Object::Deployment(Deployment::deserialize(d)?),
            Kind::Lease => Object::Lease(Lease::deserialize(d)?),
            Kind::Role => Object::Role(crate::rbac::Role::deserialize(d)?),
            Kind::ClusterRole => Object::ClusterRole(crate::rbac::ClusterRole::deserialize(d)?),
            Kind::RoleBinding => Object::RoleBinding(crate::rbac::RoleBinding::deserialize(d)?),
            Kind::ClusterRoleBinding => Object::ClusterRoleBinding(crate::rbac::ClusterRoleBinding::deserialize(d)?),
        })
    }

    /// Decodes a JSON value as `kind`. `apiVersion` and `kind`, when present,
    /// must name this kind; the error says which field is wrong and why.
    pub fn from_value(kind: Kind, mut v: Value) -> Result<Object, ApiError> {
        let info = kind.info();
        let map = v.as_object_mut().ok_or_else(|| ApiError::bad_request(format!("the body of a {} must be a JSON object", info.kind_name)))?;
        if let Some(k) = map.remove("kind") {
            if k.as_str() != Some(info.kind_name) {
                return Err(ApiError::bad_request(format!("kind: the body has kind {k}, but this URL serves {:?}", info.kind_name)));
            }
        }
        if let Some(av) = map.remove("apiVersion") {
            if av.as_str() != Some(kind.api_version().as_str()) {
                return Err(ApiError::bad_request(format!("apiVersion: the body has apiVersion {av}, but this URL serves {:?}", kind.api_version())));
            }
        }
        // The error names the field path (e.g. `spec.replicas`), not a byte offset.
        let mut track = serde_path_to_error::Track::new();
        Object::deserialize_as(kind, serde_path_to_error::Deserializer::new(v, &mut track)).map_err(|e| ApiError::bad_request(format!("unable to decode {}: {}: {e}", info.kind_name, track.path())))
    }
    pub fn from_json(kind: Kind, bytes: &[u8]) -> Result<Object, ApiError> {
        let v: Value = serde_json::from_slice(bytes).map_err(|e| ApiError::bad_request(format!("invalid JSON: {e}")))?;
        Object::from_value(kind, v)
    }

    /// The value of a field for `fieldSelector=`, or None when this kind does
    /// not support selecting on it (upstream's per-kind field label lists).
    pub fn field(&self, name: &str) -> Option<String> {
        let m = self.meta();
        match name {
            "metadata.name" => return Some(m.name.clone()),
            "metadata.namespace" if self.kind().info().namespaced => return Some(m.namespace.clone()),
            _ => {}
        }
        match self {
            Object::Pod(p) => Some(match name {
                "spec.nodeName" => p.spec.node_name.clone(),
                "spec.schedulerName" => p.spec.scheduler_name.clone(),
                "spec.restartPolicy" => p.spec.restart_policy.clone(),
                "status.phase" => p.status.phase.clone(),
                "status.podIP" => p.status.pod_ip.clone(),
                _ => return None,
            }),
            Object::Node(n) => Some(match name {
                "spec.unschedulable" => n.spec.unschedulable.to_string(),
                _ => return None,
            }),
            Object::Event(e) => Some(match name {
                "involvedObject.kind" => e.involved_object.kind.clone(),
                "involvedObject.namespace" => e.involved_object.namespace.clone(),
                "involvedObject.name" => e.involved_object.name.clone(),
                "involvedObject.uid" => e.involved_object.uid.clone(),
                "involvedObject.apiVersion" => e.involved_object.api_version.clone(),
                "involvedObject.resourceVersion" => e.involved_object.resource_version.clone(),
                "involvedObject.fieldPath" => e.involved_object.field_path.clone(),
                "reason" => e.reason.clone(),
                "reportingComponent" => e.reporting_component.clone(),
                "source" => e.source.component.clone(),
                "type" => e.type_.clone(),
                _ => return None,
            }),
            Object::Namespace(n) => Some(match name {
                "status.phase" => n.status.phase.clone(),
                _ => return None,
            }),
            _ => None,
        }
    }
}

/// Typed access: `obj.as_pod()` and friends.
impl Object {
    pub fn as_pod(&self) -> Option<&Pod> {
        if let Object::Pod(p) = self { Some(p) } else { None }
    }
    pub fn as_node(&self) -> Option<&Node> {
        if let Object::Node(n) = self { Some(n) } else { None }
    }
    pub fn as_replicaset(&self) -> Option<&ReplicaSet> {
        if let Object::ReplicaSet(r) = self { Some(r) } else { None }
    }
    pub fn as_deployment(&self) -> Option<&Deployment> {
        if let Object::Deployment(d) = self { Some(d) } else { None }
    }
    pub fn as_lease(&self) -> Option<&Lease> {
        if let Object::Lease(l) = self { Some(l) } else { None }
    }
}

/// A parsed `fieldSelector=`: `a=b,c!=d` (also `a==b`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct FieldSelector {
    pub terms: Vec<(String, bool, String)>, // (field, equals?, value)
}

impl FieldSelector {
    pub fn parse(s: &str) -> Result<FieldSelector, String> {
        if s.len() > crate::labels::MAX_SELECTOR_LEN {
            return Err(format!("field selector is longer than {} bytes", crate::labels::MAX_SELECTOR_LEN));
        }
        let mut terms = Vec::new();
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (field, eq, value) = if let Some((f, v)) = part.split_once("!=") {
                (f, false, v)
            } else if let Some((f, v)) = part.split_once("==") {
                (f, true, v)
            } else if let Some((f, v)) = part.split_once('=') {
                (f, true, v)
            } else {
                return Err(format!("invalid field selector term {part:?}: expected field=value, field==value or field!=value"));
            };
            terms.push((field.trim().to_string(), eq, value.trim().to_string()));
        }
        Ok(FieldSelector { terms })
    }
    /// Checks that every field is selectable for `kind`.
    pub fn check(&self, kind: Kind, sample: &Object) -> Result<(), String> {
        for (f, _, _) in &self.terms {
            if sample.field(f).is_none() {
                return Err(format!("field label not supported: {f} (for {})", kind.info().kind_name));
            }
        }
        Ok(())
    }
    pub fn matches(&self, obj: &Object) -> bool {
        self.terms.iter().all(|(f, eq, v)| match obj.field(f) {
            Some(actual) => (actual == *v) == *eq,
            None => false,
        })
    }
    pub fn is_empty(&self) -> bool {
        self.terms.is_empty()
    }
}

/// An empty object of `kind`, for checking which fields it offers.
pub fn empty_object(kind: Kind) -> Object {
    match kind {
        Kind::Namespace => Object::Namespace(Default::default()),
        Kind::Pod => Object::Pod(Default::default()),
        Kind::Node => Object::Node(Default::default()),
        Kind::Event => Object::Event(Default::default()),
        Kind::ReplicaSet => Object::ReplicaSet(Default::default()),
        Kind::Deployment => Object::Deployment(Default::default()),
        Kind::Lease => Object::Lease(Default::default()),
        Kind::Role => Object::Role(Default::default()),
        Kind::ClusterRole => Object::ClusterRole(Default::default()),
        Kind::RoleBinding => Object::RoleBinding(Default::default()),
        Kind::ClusterRoleBinding => Object::ClusterRoleBinding(Default::default()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_fields_survive_a_round_trip() {
        let js = serde_json::json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "p", "namespace": "default", "managedFields": [{"manager": "x"}]},
            "spec": {"containers": [{"name": "c", "image": "busybox", "livenessProbe": {"exec": {"command": ["true"]}}}],
                     "volumes": [{"name": "v", "emptyDir": {}}]},
        });
        let obj = Object::from_value(Kind::Pod, js.clone()).unwrap();
        let back = obj.to_value();
        assert_eq!(back["spec"]["volumes"], js["spec"]["volumes"]);
        assert_eq!(back["spec"]["containers"][0]["livenessProbe"], js["spec"]["containers"][0]["livenessProbe"]);
        assert_eq!(back["metadata"]["managedFields"], js["metadata"]["managedFields"]);
        assert_eq!(Object::from_value(Kind::Pod, back).unwrap(), obj);
    }

    #[test]
    fn direct_json_is_the_value_encoding_and_decodes_back() {
        let js = serde_json::json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "p", "namespace": "default", "labels": {"app": "a"}, "managedFields": [{"manager": "x"}]},
            "spec": {"nodeName": "n1", "containers": [{"name": "c", "image": "busybox", "resources": {"requests": {"cpu": "100m"}}}]},
            "status": {"phase": "Running"},
        });
        let pod = Object::from_value(Kind::Pod, js).unwrap();
        let mut objects: Vec<Object> = Kind::ALL.into_iter().map(empty_object).collect();
        objects.push(pod);
        for o in objects {
            let bytes = o.to_json();
            let parsed: Value = serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("{:?}: {e}: {}", o.kind(), String::from_utf8_lossy(&bytes)));
            assert_eq!(parsed, o.to_value(), "{:?}", o.kind());
            assert!(bytes.starts_with(format!("{{\"apiVersion\":\"{}\",\"kind\":\"{}\"", o.kind().api_version(), o.kind().info().kind_name).as_bytes()));
            assert_eq!(Object::from_stored_json(o.kind(), &bytes).unwrap(), o);
            assert_eq!(Object::from_json(o.kind(), &bytes).unwrap(), o);
        }
        assert!(Object::from_stored_json(Kind::Pod, b"{\"spec\": 3}").is_err());
    }

    #[test]
    fn type_errors_name_the_field_path() {
        let e = Object::from_value(Kind::Deployment, serde_json::json!({"spec": {"replicas": "three"}})).unwrap_err();
        assert!(e.message.contains("spec.replicas"), "{}", e.message);
        let e = Object::from_value(Kind::Pod, serde_json::json!({"spec": {"containers": [{"name": "c", "ports": [{"containerPort": "80"}]}]}})).unwrap_err();
        assert!(e.message.contains("spec.containers[0].ports[0].containerPort"), "{}", e.message);
    }

    #[test]
    fn wrong_kind_or_version_names_the_field() {
        let e = Object::from_value(Kind::Pod, serde_json::json!({"kind": "Node"})).unwrap_err();
        assert!(e.message.starts_with("kind:"), "{}", e.message);
        let e = Object::from_value(Kind::Deployment, serde_json::json!({"apiVersion": "v1"})).unwrap_err();
        assert!(e.message.starts_with("apiVersion:"), "{}", e.message);
    }

    #[test]
    fn field_selectors() {
        let mut p = Pod::default();
        p.metadata.name = "a".into();
        p.spec.node_name = "n1".into();
        let o = Object::Pod(p);
        assert!(FieldSelector::parse("spec.nodeName=n1").unwrap().matches(&o));
        assert!(!FieldSelector::parse("spec.nodeName!=n1").unwrap().matches(&o));
        assert!(FieldSelector::parse("metadata.name==a,spec.nodeName=n1").unwrap().matches(&o));
        assert!(FieldSelector::parse("spec.bogus=1").unwrap().check(Kind::Pod, &o).is_err());
        assert!(FieldSelector::parse("nonsense").is_err());
    }

    #[test]
    fn resource_table_is_consistent() {
        for k in Kind::ALL {
            let i = k.info();
            assert_eq!(Kind::by_resource(i.group, i.version, i.plural), Some(k));
            assert_eq!(empty_object(k).kind(), k);
        }
    }
}

#[cfg(test)]
mod wire_names {
    //! Upstream's JSON names that serde's camelCase would get wrong.
    use super::*;

    #[test]
    fn acronym_fields_use_upstream_spelling() {
        let mut p = Pod::default();
        p.status.pod_ip = "10.0.0.1".into();
        p.status.pod_ips = vec![PodIp { ip: "10.0.0.1".into() }];
        p.status.host_ip = "1.2.3.4".into();
        p.status.host_ips = vec![PodIp { ip: "1.2.3.4".into() }];
        p.status.container_statuses.push(ContainerStatus { container_id: "c://1".into(), image_id: "i".into(), ..Default::default() });
        let v = Object::Pod(p).to_value();
        for field in ["podIP", "podIPs", "hostIP", "hostIPs"] {
            assert!(v["status"].get(field).is_some(), "status.{field} missing in {}", v["status"]);
        }
        assert!(v["status"]["containerStatuses"][0].get("containerID").is_some());
        assert!(v["status"]["containerStatuses"][0].get("imageID").is_some());
        let mut n = Node::default();
        n.spec.pod_cidr = "10.88.1.0/24".into();
        n.status.node_info = Some(NodeSystemInfo::default());
        let v = Object::Node(n).to_value();
        assert!(v["spec"].get("podCIDR").is_some());
        for field in ["machineID", "systemUUID", "bootID"] {
            assert!(v["status"]["nodeInfo"].get(field).is_some(), "nodeInfo.{field}");
        }
    }
}
