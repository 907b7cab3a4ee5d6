//! The decision logic of every component, as pure functions over snapshots.
//! Each returns effects as data; see DESIGN.md's list.

pub mod deployment;
pub mod expectations;
pub mod gc;
pub mod kubelet;
pub mod leaderelection;
pub mod nodelifecycle;
pub mod queue;
pub mod replicaset;
pub mod runtimespec;
pub mod scheduler;
pub mod simruntime;

use crate::cache::View;
use crate::meta::{ObjectMeta, OwnerReference};
use crate::object::{Kind, Object};

/// What every controller machine is fed: each change its informers
/// deliver, after its cache (`view`) holds it. A driver hands every change
/// to every machine; each ignores the kinds it does not watch.
pub trait Controller {
    /// The kinds whose changes this machine needs (its informers).
    const WATCHES: &'static [Kind];
    /// `key` is the cache key (`ns/name`, or `name`); `old` is what the
    /// cache held before, `new` what it holds now (None: deleted).
    fn handle_change(&mut self, kind: Kind, key: &str, old: Option<&Object>, new: Option<&Object>, view: &dyn View);
}

impl Controller for replicaset::ReplicaSetController {
    const WATCHES: &'static [Kind] = &[Kind::ReplicaSet, Kind::Pod];
    fn handle_change(&mut self, kind: Kind, key: &str, old: Option<&Object>, new: Option<&Object>, view: &dyn View) {
        match kind {
            Kind::ReplicaSet => self.handle_replicaset(key),
            Kind::Pod => self.handle_pod(old.and_then(Object::as_pod), new.and_then(Object::as_pod), view),
            _ => {}
        }
    }
}

impl Controller for deployment::DeploymentController {
    const WATCHES: &'static [Kind] = &[Kind::Deployment, Kind::ReplicaSet, Kind::Pod];
    fn handle_change(&mut self, kind: Kind, key: &str, old: Option<&Object>, new: Option<&Object>, view: &dyn View) {
        match kind {
            Kind::Deployment => self.handle_deployment(key),
            Kind::ReplicaSet => self.handle_replicaset(old.and_then(Object::as_replicaset), new.and_then(Object::as_replicaset), view),
            Kind::Pod => self.handle_pod(old.and_then(Object::as_pod), new.and_then(Object::as_pod), view),
            _ => {}
        }
    }
}

impl Controller for nodelifecycle::NodeLifecycleController {
    const WATCHES: &'static [Kind] = &[Kind::Node, Kind::Lease, Kind::Pod];
    fn handle_change(&mut self, kind: Kind, key: &str, old: Option<&Object>, new: Option<&Object>, _view: &dyn View) {
        match kind {
            Kind::Node => self.handle_node(key),
            Kind::Lease => {
                if let Some(l) = new.or(old).and_then(Object::as_lease) {
                    self.handle_lease(l);
                }
            }
            Kind::Pod => self.handle_pod(old.and_then(Object::as_pod), new.and_then(Object::as_pod)),
            _ => {}
        }
    }
}

impl Controller for gc::GarbageCollector {
    /// Every kind that can own or be owned (podchain's served kinds whose
    /// objects carry ownerReferences in practice).
    const WATCHES: &'static [Kind] = &[Kind::Deployment, Kind::ReplicaSet, Kind::Pod, Kind::Node, Kind::Lease];
    fn handle_change(&mut self, kind: Kind, _key: &str, old: Option<&Object>, new: Option<&Object>, view: &dyn View) {
        if Self::WATCHES.contains(&kind) {
            gc::GarbageCollector::handle_change(self, old, new, view);
        }
    }
}

impl Controller for scheduler::Scheduler {
    const WATCHES: &'static [Kind] = &[Kind::Node, Kind::Pod];
    fn handle_change(&mut self, kind: Kind, key: &str, old: Option<&Object>, new: Option<&Object>, _view: &dyn View) {
        match kind {
            Kind::Node => self.handle_node(key, new.and_then(Object::as_node)),
            Kind::Pod => self.handle_pod(key, old.and_then(Object::as_pod), new.and_then(Object::as_pod)),
            _ => {}
        }
    }
}

/// A controller owner reference pointing at `owner`.
pub fn controller_ref(api_version: &str, kind: &str, owner: &ObjectMeta) -> OwnerReference {
    OwnerReference {
        api_version: api_version.into(),
        kind: kind.into(),
        name: owner.name.clone(),
        uid: owner.uid.clone(),
        controller: Some(true),
        block_owner_deletion: Some(true),
    }
}

/// The keys of the controllers of `kind` (ReplicaSet or Deployment) in
/// `ns` whose selector matches `labels`: those that may adopt an orphan
/// with these labels, so the ones an orphan's change wakes (upstream's
/// getPodReplicaSets / getDeploymentsForReplicaSet).
pub fn adopters(view: &dyn View, kind: Kind, ns: &str, labels: &crate::meta::StringMap) -> Vec<String> {
    view.in_namespace(kind, ns)
        .filter_map(|o| match o {
            Object::ReplicaSet(rs) => Some((&rs.spec.selector, &rs.metadata)),
            Object::Deployment(d) => Some((&d.spec.selector, &d.metadata)),
            _ => None,
        })
        .filter(|(sel, _)| !sel.is_empty() && sel.matches(labels))
        .map(|(_, m)| m.key())
        .collect()
}

/// Whether `meta` is controlled by the object with uid `owner_uid`.
pub fn is_controlled_by(meta: &ObjectMeta, owner_uid: &str) -> bool {
    meta.controller_ref().is_some_and(|r| r.uid == owner_uid)
}
