//! Effects: what a component wants done, as data. The daemons turn them into
//! API calls; the model applies them to its abstract store. Every write
//! carries its precondition (resourceVersion for updates, uid for deletes),
//! so a decision taken on a stale cache fails with 409 instead of clobbering.

use crate::object::{Kind, Object};

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Effect {
    /// POST; the object's namespace and name (or generateName) say where.
    Create(Object),
    /// PUT to the main resource; precondition: `metadata.resourceVersion`.
    Update(Object),
    /// PUT to `/status`; precondition: `metadata.resourceVersion`.
    UpdateStatus(Object),
    /// DELETE with a uid precondition.
    Delete(DeleteRequest),
    /// POST `pods/NAME/binding`.
    Bind { namespace: String, name: String, uid: String, node: String },
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct DeleteRequest {
    pub kind: Kind,
    pub namespace: String,
    pub name: String,
    /// Precondition: delete only this incarnation.
    pub uid: String,
    pub propagation: Option<Propagation>,
    pub grace_period_seconds: Option<i64>,
}

impl DeleteRequest {
    /// The DeleteOptions this request sends: the uid precondition, the
    /// propagation policy, the grace period.
    pub fn options(&self) -> crate::types::DeleteOptions {
        crate::types::DeleteOptions {
            grace_period_seconds: self.grace_period_seconds,
            propagation_policy: self.propagation.map(|p| p.as_str().to_string()),
            preconditions: (!self.uid.is_empty()).then(|| crate::types::Preconditions { uid: Some(self.uid.clone()), resource_version: None }),
            orphan_dependents: None,
            dry_run: vec![],
        }
    }
}

/// The Binding `POST pods/NAME/binding` sends: this incarnation (uid) to `node`.
pub fn binding(namespace: &str, name: &str, uid: &str, node: &str) -> crate::types::Binding {
    let mut b = crate::types::Binding::default();
    b.metadata.name = name.to_string();
    b.metadata.namespace = namespace.to_string();
    b.metadata.uid = uid.to_string();
    b.target = crate::types::ObjectReference { kind: "Node".into(), api_version: "v1".into(), name: node.to_string(), ..Default::default() };
    b
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Propagation {
    Background,
    Foreground,
    Orphan,
}

impl Propagation {
    pub fn as_str(self) -> &'static str {
        match self {
            Propagation::Background => "Background",
            Propagation::Foreground => "Foreground",
            Propagation::Orphan => "Orphan",
        }
    }
    pub fn parse(s: &str) -> Option<Propagation> {
        match s {
            "Background" => Some(Propagation::Background),
            "Foreground" => Some(Propagation::Foreground),
            "Orphan" => Some(Propagation::Orphan),
            _ => None,
        }
    }
}

impl Effect {
    pub fn create(obj: Object) -> Effect {
        Effect::Create(obj)
    }
    pub fn update(obj: Object) -> Effect {
        Effect::Update(obj)
    }
    pub fn update_status(obj: Object) -> Effect {
        Effect::UpdateStatus(obj)
    }
    /// Deletes `obj` (this incarnation only).
    pub fn delete(obj: &Object, propagation: Option<Propagation>, grace_period_seconds: Option<i64>) -> Effect {
        let m = obj.meta();
        Effect::Delete(DeleteRequest {
            kind: obj.kind(),
            namespace: m.namespace.clone(),
            name: m.name.clone(),
            uid: m.uid.clone(),
            propagation,
            grace_period_seconds,
        })
    }
    pub fn bind(pod: &crate::types::Pod, node: &str) -> Effect {
        Effect::Bind { namespace: pod.metadata.namespace.clone(), name: pod.metadata.name.clone(), uid: pod.metadata.uid.clone(), node: node.into() }
    }

    /// A one-line description for logs and counterexample traces.
    pub fn describe(&self) -> String {
        fn id(o: &Object) -> String {
            let m = o.meta();
            let name = if m.name.is_empty() { format!("{}*", m.generate_name) } else { m.name.clone() };
            format!("{} {}", o.kind().info().singular, if m.namespace.is_empty() { name } else { format!("{}/{}", m.namespace, name) })
        }
        match self {
            Effect::Create(o) => format!("create {}", id(o)),
            Effect::Update(o) => format!("update {} @rv{}", id(o), o.meta().resource_version),
            Effect::UpdateStatus(o) => format!("update status of {} @rv{}", id(o), o.meta().resource_version),
            Effect::Delete(d) => format!("delete {} {}/{}", d.kind.info().singular, d.namespace, d.name),
            Effect::Bind { namespace, name, node, .. } => format!("bind pod {namespace}/{name} to {node}"),
        }
    }
}

/// What one reconcile step decided: effects, and when to look again.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Outcome {
    pub effects: Vec<Effect>,
    /// Reconcile this key again after this long even if nothing changes
    /// (minReadySeconds, progress deadlines, back-offs, toleration timers).
    pub requeue_after_ms: Option<i64>,
}

impl Outcome {
    pub fn requeue_at_most(&mut self, ms: i64) {
        let ms = ms.max(1);
        self.requeue_after_ms = Some(self.requeue_after_ms.map_or(ms, |old| old.min(ms)));
    }
}
