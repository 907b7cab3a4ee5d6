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

/// Whether `meta` is controlled by the object with uid `owner_uid`.
pub fn is_controlled_by(meta: &ObjectMeta, owner_uid: &str) -> bool {
    meta.controller_ref().is_some_and(|r| r.uid == owner_uid)
}
