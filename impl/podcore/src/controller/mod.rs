//! The decision logic of every component, as pure functions over snapshots.
//! Each returns effects as data; see DESIGN.md's list.

pub mod deployment;
pub mod expectations;
pub mod gc;
pub mod kubelet;
pub mod nodelifecycle;
pub mod queue;
pub mod replicaset;
pub mod runtimespec;
pub mod scheduler;
pub mod simruntime;

use crate::meta::{ObjectMeta, OwnerReference};

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
pub fn adopters(view: &dyn crate::cache::View, kind: crate::object::Kind, ns: &str, labels: &crate::meta::StringMap) -> Vec<String> {
    use crate::object::Object;
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
