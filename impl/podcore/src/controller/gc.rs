//! The garbage collector over ownerReferences: dependents of vanished owners
//! are deleted (background), dependents of owners in foreground deletion are
//! deleted before the owner, dependents of owners deleted with Orphan lose
//! their reference; then the owner's finalizer is removed.
//!
//! `collect_dependent` and `finish_owner` decide for one object; the
//! machine (`GarbageCollector`) decides which objects to look at from the
//! changes it is fed (an object whose owners changed, the dependents of an
//! owner deleted or being deleted, the owner of a dependent that went), and
//! looks dependents up through its view's owner index, so it never lists
//! anything. An owner its cache does not show is checked with one live read
//! (`GcStep::Verify`) before its dependents are deleted, as upstream's
//! collector does, and remembered as absent (`MAX_ABSENT_OWNERS` of them).

use crate::cache::View;
use crate::effect::{Effect, Propagation};
use crate::meta::{ObjectMeta, OwnerReference, FINALIZER_FOREGROUND, FINALIZER_ORPHAN};
use crate::object::{Kind, Object};
use std::collections::{BTreeMap, BTreeSet, VecDeque};

/// Owners a live read found absent, remembered so each is read once (upstream's absentOwnerCache).
pub const MAX_ABSENT_OWNERS: usize = 500;

/// What the collector knows of one owner an object names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OwnerState<'a> {
    Present(&'a ObjectMeta),
    Absent,
}

/// The write, if any, that one dependent needs given its owners (in the
/// order of its owner references). An owner in another namespace than a
/// namespaced dependent counts as absent, as upstream.
pub fn collect_dependent(obj: &Object, owners: &[OwnerState]) -> Option<Effect> {
    let m = obj.meta();
    if m.deletion_timestamp.is_some() || m.owner_references.is_empty() {
        return None;
    }
    let mut dangling: Vec<&str> = Vec::new();
    let mut orphaning: Vec<&str> = Vec::new();
    let mut foreground_owner = false;
    for (r, state) in m.owner_references.iter().zip(owners) {
        match state {
            OwnerState::Present(om) if om.namespace.is_empty() || om.namespace == m.namespace => {
                if om.deletion_timestamp.is_some() {
                    if om.finalizers.iter().any(|f| f == FINALIZER_ORPHAN) {
                        orphaning.push(r.uid.as_str());
                    } else if om.finalizers.iter().any(|f| f == FINALIZER_FOREGROUND) {
                        foreground_owner = true;
                    }
                }
            }
            _ => dangling.push(r.uid.as_str()),
        }
    }
    if !orphaning.is_empty() {
        let mut updated = obj.clone();
        updated.meta_mut().owner_references.retain(|r| !orphaning.contains(&r.uid.as_str()));
        Some(Effect::update(updated))
    } else if dangling.len() == m.owner_references.len() {
        Some(Effect::delete(obj, Some(Propagation::Background), None))
    } else if foreground_owner {
        Some(Effect::delete(obj, Some(Propagation::Foreground), None))
    } else if !dangling.is_empty() {
        let mut updated = obj.clone();
        updated.meta_mut().owner_references.retain(|r| !dangling.contains(&r.uid.as_str()));
        Some(Effect::update(updated))
    } else {
        None
    }
}

/// An owner being deleted with the foreground or orphan finalizer loses it
/// once nothing names it as an owner any more.
pub fn finish_owner(owner: &Object, has_dependents: bool) -> Option<Effect> {
    let m = owner.meta();
    let gc_finalizer = m.finalizers.iter().any(|f| f == FINALIZER_FOREGROUND || f == FINALIZER_ORPHAN);
    if m.deletion_timestamp.is_none() || !gc_finalizer || has_dependents {
        return None;
    }
    let mut updated = owner.clone();
    updated.meta_mut().finalizers.retain(|f| f != FINALIZER_FOREGROUND && f != FINALIZER_ORPHAN);
    Some(Effect::update(updated))
}

/// The kind an owner reference names, if podchain serves it.
pub fn owner_kind(r: &OwnerReference) -> Option<Kind> {
    Kind::ALL.into_iter().find(|k| k.info().kind_name == r.kind)
}

/// The cache key (`ns/name`) of the owner `r` of an object in namespace `ns`.
fn owner_key(kind: Kind, r: &OwnerReference, ns: &str) -> String {
    if kind.info().namespaced {
        format!("{ns}/{}", r.name)
    } else {
        r.name.clone()
    }
}

/// Whether `dep` counts as a dependent of `owner` (same namespace, or a
/// cluster-scoped owner).
fn depends_on(dep: &Object, owner: &ObjectMeta) -> bool {
    owner.namespace.is_empty() || owner.namespace == dep.meta().namespace
}

/// What looking at one object needs from the driver.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GcStep {
    Act(Vec<Effect>),
    /// Read this owner from the apiserver: the cache does not show it, and
    /// it may only be late. Answer with `handle_verified`.
    Verify { kind: Kind, namespace: String, name: String, uid: String },
}

/// The garbage collector's state: the objects to look at, and the owners
/// found absent.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct GarbageCollector {
    /// Queued object keys, `Kind::key` form (unique across kinds).
    pub queue: super::queue::Queue,
    absent: BTreeSet<String>,
    absent_order: VecDeque<String>,
}

impl GarbageCollector {
    fn add(&mut self, o: &Object) {
        self.queue.add(&o.key());
    }

    /// An object of any kind changed.
    pub fn handle_change(&mut self, old: Option<&Object>, new: Option<&Object>, view: &dyn View) {
        let Some(obj) = new.or(old) else { return };
        let m = obj.meta();
        if new.is_some() {
            self.forget_absent(&m.uid);
        }
        // Its own owners: new ones to check, or ones that may now finish.
        if new.is_some_and(|n| !n.meta().owner_references.is_empty()) {
            self.add(obj);
        }
        let owner_refs = old.iter().chain(new.iter()).flat_map(|o| o.meta().owner_references.iter());
        let mut owners = Vec::new();
        for r in owner_refs {
            if let Some(kind) = owner_kind(r) {
                if let Some(owner) = view.get(kind, &owner_key(kind, r, &m.namespace)).filter(|o| o.meta().uid == r.uid && o.meta().deletion_timestamp.is_some()) {
                    owners.push(owner.key());
                }
            }
        }
        for k in owners {
            self.queue.add(&k);
        }
        // As an owner: gone or going, its dependents (and itself) need a look.
        let going = new.is_none_or(|n| n.meta().deletion_timestamp.is_some());
        if going {
            let deps: Vec<String> = view.dependents(&m.uid).map(|d| d.key()).collect();
            for k in deps {
                self.queue.add(&k);
            }
            if new.is_some() {
                self.add(obj);
            }
        }
    }

    fn forget_absent(&mut self, uid: &str) {
        if self.absent.remove(uid) {
            self.absent_order.retain(|u| u != uid);
        }
    }

    fn remember_absent(&mut self, uid: &str) {
        if self.absent.insert(uid.to_string()) {
            self.absent_order.push_back(uid.to_string());
            while self.absent_order.len() > MAX_ABSENT_OWNERS {
                if let Some(old) = self.absent_order.pop_front() {
                    self.absent.remove(&old);
                }
            }
        }
    }

    pub fn is_absent(&self, uid: &str) -> bool {
        self.absent.contains(uid)
    }

    pub fn poll(&mut self, now: crate::time::Time) -> Option<String> {
        self.queue.pop(now)
    }

    pub fn poll_timeout(&self) -> Option<crate::time::Time> {
        self.queue.next_timer()
    }

    /// Looks at the object at `key` (a `Kind::key`) in `view`. Returns the
    /// step and the objects it looked at.
    pub fn reconcile(&mut self, key: &str, view: &dyn View) -> (GcStep, usize) {
        let Some(obj) = object_at(view, key) else { return (GcStep::Act(vec![]), 0) };
        let m = obj.meta();
        let mut effects = Vec::new();
        let deps: Vec<&Object> = view.dependents(&m.uid).filter(|d| depends_on(d, m)).collect();
        let mut visited = 1 + deps.len();
        if let Some(e) = finish_owner(obj, !deps.is_empty()) {
            effects.push(e);
        }
        if m.deletion_timestamp.is_none() && !m.owner_references.is_empty() {
            let mut states = Vec::new();
            for r in &m.owner_references {
                visited += 1;
                let kind = owner_kind(r);
                let found = kind.and_then(|k| view.get(k, &owner_key(k, r, &m.namespace))).filter(|o| o.meta().uid == r.uid);
                match (found, kind) {
                    (Some(o), _) => states.push(OwnerState::Present(o.meta())),
                    // A kind podchain does not serve cannot be read: it is absent.
                    (None, None) => states.push(OwnerState::Absent),
                    (None, Some(_)) if self.absent.contains(&r.uid) => states.push(OwnerState::Absent),
                    (None, Some(k)) => {
                        let namespace = if k.info().namespaced { m.namespace.clone() } else { String::new() };
                        return (GcStep::Verify { kind: k, namespace, name: r.name.clone(), uid: r.uid.clone() }, visited);
                    }
                }
            }
            effects.extend(collect_dependent(obj, &states));
        }
        (GcStep::Act(effects), visited)
    }

    /// The live read `Verify` asked for, for the object at `key`: whether
    /// the owner `uid` exists. Absent: remembered, and `key` looked at again.
    pub fn handle_verified(&mut self, key: &str, uid: &str, exists: bool) {
        if !exists {
            self.remember_absent(uid);
            self.queue.add(key);
        }
    }

    pub fn done(&mut self, now: crate::time::Time, key: &str, failed: bool) {
        self.queue.finish(now, key, None, failed);
    }
}

/// The object at a `Kind::key` in a view.
pub fn object_at<'a>(view: &'a dyn View, key: &str) -> Option<&'a Object> {
    let kind = Kind::ALL.into_iter().find(|k| key.starts_with(&k.key_prefix()))?;
    view.get(kind, &key[kind.key_prefix().len()..])
}

/// Every decision over a whole set of objects at once, every owner known
/// from the set: what a pass of the collector over everything decides.
pub fn garbage_collect(objects: &[&Object]) -> Vec<Effect> {
    let by_uid: BTreeMap<&str, &Object> = objects.iter().map(|o| (o.meta().uid.as_str(), *o)).collect();
    let mut out = Vec::new();
    for &obj in objects {
        let states: Vec<OwnerState> = obj.meta().owner_references.iter().map(|r| by_uid.get(r.uid.as_str()).map_or(OwnerState::Absent, |o| OwnerState::Present(o.meta()))).collect();
        out.extend(collect_dependent(obj, &states));
    }
    for &obj in objects {
        let m = obj.meta();
        let has = objects.iter().any(|d| d.meta().owner_references.iter().any(|r| r.uid == m.uid) && depends_on(d, m));
        out.extend(finish_owner(obj, has));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absent_owners_are_remembered_up_to_max_absent_owners() {
        let mut gc = GarbageCollector::default();
        for i in 0..MAX_ABSENT_OWNERS {
            gc.handle_verified("/k", &format!("u{i}"), false);
        }
        assert!(gc.is_absent("u0"), "all of them at the bound");
        gc.handle_verified("/k", "one-more", false);
        assert!(!gc.is_absent("u0") && gc.is_absent("u1") && gc.is_absent("one-more"), "the oldest goes first");
        gc.handle_verified("/k", "u1", true);
        assert!(gc.is_absent("u1"), "a present answer does not unlearn an absence...");
        let mut p = crate::types::Pod::default();
        p.metadata.uid = "u1".into();
        gc.handle_change(None, Some(&Object::Pod(p)), &BTreeMap::<String, std::sync::Arc<Object>>::new());
        assert!(!gc.is_absent("u1"), "...but seeing the object does");
    }
}
