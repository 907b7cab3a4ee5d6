//! ReplicaSet expectations (upstream's ControllerExpectations): after a
//! controller asks for N creations or deletions it waits until its cache has
//! seen them before deciding again, so a stale cache never makes it create
//! or delete twice. Pure bookkeeping; the driver calls `observe_*` from its
//! watch handler and `record` after executing an outcome.

use crate::time::Time;
use std::collections::BTreeSet;

/// How long expectations may stay unmet before the controller stops
/// waiting (as upstream: 5 minutes, in case a watch event was lost).
pub const EXPECTATIONS_TIMEOUT_MS: i64 = 5 * 60 * 1000;

#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Expectations {
    pub pending_creations: i64,
    /// Uids of pods whose deletion we asked for and have not yet seen.
    pub pending_deletions: BTreeSet<String>,
    pub set_at: Time,
}

impl Expectations {
    pub fn satisfied(&self, now: Time) -> bool {
        (self.pending_creations <= 0 && self.pending_deletions.is_empty()) || now.ms_since(self.set_at) > EXPECTATIONS_TIMEOUT_MS
    }
    pub fn expect(&mut self, creations: i64, deletions: impl IntoIterator<Item = String>, now: Time) {
        self.pending_creations = creations;
        self.pending_deletions = deletions.into_iter().collect();
        self.set_at = now;
    }
    /// The cache saw a new pod owned by this ReplicaSet (or a create failed).
    pub fn observe_creation(&mut self) {
        self.pending_creations -= 1;
    }
    /// The cache saw the pod deleted or marked for deletion (or the delete failed).
    pub fn observe_deletion(&mut self, uid: &str) {
        self.pending_deletions.remove(uid);
    }
}

/// Feeds one pod change, as a controller's cache sees it, into the
/// expectations of the ReplicaSet that controls the pod (keyed `ns/name`).
/// Shared by the controller-manager's informer handler and the model.
pub fn observe_pod_change(exps: &mut std::collections::BTreeMap<String, Expectations>, old: Option<&crate::types::Pod>, new: Option<&crate::types::Pod>) {
    let Some(pod) = new.or(old) else { return };
    let Some(r) = pod.metadata.controller_ref().filter(|r| r.kind == "ReplicaSet") else { return };
    let key = format!("{}/{}", pod.metadata.namespace, r.name);
    let Some(exp) = exps.get_mut(&key) else { return };
    if old.is_none() && new.is_some() {
        exp.observe_creation();
    }
    let old_terminating = old.is_some_and(|o| o.metadata.deletion_timestamp.is_some());
    if new.is_none() || (pod.metadata.deletion_timestamp.is_some() && !old_terminating) {
        exp.observe_deletion(&pod.metadata.uid);
    }
}
