//! The garbage collector over ownerReferences: dependents of vanished owners
//! are deleted (background), dependents of owners in foreground deletion are
//! deleted before the owner, dependents of owners deleted with Orphan lose
//! their reference; then the owner's finalizer is removed.

use crate::effect::{Effect, Propagation};
use crate::meta::{FINALIZER_FOREGROUND, FINALIZER_ORPHAN};
use crate::object::Object;
use std::collections::BTreeMap;

pub fn garbage_collect(objects: &[&Object]) -> Vec<Effect> {
    let mut out = Vec::new();
    let by_uid: BTreeMap<&str, &Object> = objects.iter().map(|o| (o.meta().uid.as_str(), *o)).collect();
    let mut has_dependents: BTreeMap<&str, usize> = BTreeMap::new();
    for &obj in objects {
        let m = obj.meta();
        if m.owner_references.is_empty() {
            continue;
        }
        let mut dangling = 0;
        let mut orphaning: Vec<&str> = Vec::new();
        let mut foreground_owner = false;
        for r in &m.owner_references {
            match by_uid.get(r.uid.as_str()) {
                // An owner in another namespace than a namespaced dependent is
                // treated as absent, as upstream.
                Some(owner) if owner.meta().namespace.is_empty() || owner.meta().namespace == m.namespace => {
                    *has_dependents.entry(r.uid.as_str()).or_default() += 1;
                    let om = owner.meta();
                    if om.deletion_timestamp.is_some() {
                        if om.finalizers.iter().any(|f| f == FINALIZER_ORPHAN) {
                            orphaning.push(r.uid.as_str());
                        } else if om.finalizers.iter().any(|f| f == FINALIZER_FOREGROUND) {
                            foreground_owner = true;
                        }
                    }
                }
                _ => dangling += 1,
            }
        }
        if m.deletion_timestamp.is_some() {
            continue;
        }
        if !orphaning.is_empty() {
            let mut updated = obj.clone();
            updated.meta_mut().owner_references.retain(|r| !orphaning.contains(&r.uid.as_str()));
            out.push(Effect::update(updated));
        } else if dangling == m.owner_references.len() {
            out.push(Effect::delete(obj, Some(Propagation::Background), None));
        } else if foreground_owner {
            out.push(Effect::delete(obj, Some(Propagation::Foreground), None));
        } else if dangling > 0 {
            let mut updated = obj.clone();
            updated.meta_mut().owner_references.retain(|r| by_uid.contains_key(r.uid.as_str()));
            out.push(Effect::update(updated));
        }
    }
    // Owners whose dependents are gone (or orphaned) lose their GC finalizer.
    for &obj in objects {
        let m = obj.meta();
        if m.deletion_timestamp.is_none() {
            continue;
        }
        let gc_finalizer = m.finalizers.iter().any(|f| f == FINALIZER_FOREGROUND || f == FINALIZER_ORPHAN);
        if gc_finalizer && !has_dependents.contains_key(m.uid.as_str()) {
            let mut updated = obj.clone();
            updated.meta_mut().finalizers.retain(|f| f != FINALIZER_FOREGROUND && f != FINALIZER_ORPHAN);
            out.push(Effect::update(updated));
        }
    }
    out
}
