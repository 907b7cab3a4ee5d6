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
use std::collections::{BTreeSet, VecDeque};

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

/// What one look at an object decided, and what it read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Looked<'a> {
    pub step: GcStep,
    /// The object looked at (None: gone from the cache).
    pub object: Option<&'a Object>,
    /// Its owners found and its dependents: `collect_object`'s input.
    pub read: Vec<&'a Object>,
    /// Objects the decision looked at (owner references resolved included).
    pub visited: usize,
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

    /// Looks at the object at `key` (a `Kind::key`) in `view`: its owners
    /// (an owner the cache does not show and not known absent needs a live
    /// read first) and its dependents, then `collect_object`'s decision.
    pub fn reconcile<'a>(&mut self, key: &str, view: &'a dyn View) -> Looked<'a> {
        let Some(obj) = object_at(view, key) else { return Looked { step: GcStep::Act(vec![]), object: None, read: vec![], visited: 0 } };
        let m = obj.meta();
        let mut read: Vec<&Object> = view.dependents(&m.uid).filter(|d| depends_on(d, m)).collect();
        let mut visited = 1 + read.len();
        if m.deletion_timestamp.is_none() {
            for r in &m.owner_references {
                visited += 1;
                let kind = owner_kind(r);
                let found = kind.and_then(|k| view.get(k, &owner_key(k, r, &m.namespace))).filter(|o| o.meta().uid == r.uid);
                match (found, kind) {
                    (Some(o), _) => read.push(o),
                    // A kind podchain does not serve cannot be read: it is absent.
                    (None, None) => {}
                    (None, Some(_)) if self.absent.contains(&r.uid) => {}
                    (None, Some(k)) => {
                        let namespace = if k.info().namespaced { m.namespace.clone() } else { String::new() };
                        return Looked { step: GcStep::Verify { kind: k, namespace, name: r.name.clone(), uid: r.uid.clone() }, object: Some(obj), read, visited };
                    }
                }
            }
        }
        Looked { step: GcStep::Act(collect_object(obj, &read)), object: Some(obj), read, visited }
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

impl super::queue::Looks for GarbageCollector {
    fn queue(&self) -> &super::queue::Queue {
        &self.queue
    }
    fn queue_mut(&mut self) -> &mut super::queue::Queue {
        &mut self.queue
    }
    /// Every object of the kinds the collector watches (`Kind::key` form).
    fn keys(view: &dyn View) -> Vec<String> {
        use super::Controller;
        Self::WATCHES.iter().flat_map(|k| view.list(*k).map(|o| o.key())).collect()
    }
    /// An object that needs a live read of its owner is not quiet.
    fn quiet_look(&mut self, _now: crate::time::Time, key: &str, view: &dyn View) -> Option<Option<i64>> {
        match self.reconcile(key, view).step {
            GcStep::Act(e) if e.is_empty() => Some(None),
            _ => None,
        }
    }
}

/// The object at a `Kind::key` in a view.
pub fn object_at<'a>(view: &'a dyn View, key: &str) -> Option<&'a Object> {
    let kind = Kind::ALL.into_iter().find(|k| key.starts_with(&k.key_prefix()))?;
    view.get(kind, &key[kind.key_prefix().len()..])
}

/// The decision for one object, given what was read for it (`read`):
/// its owners that exist (an owner reference no object in `read` answers
/// is absent) and its dependents. The owner finishes first (its
/// finalizer), then the object as a dependent. What the machine decides
/// and what a trace replays.
pub fn collect_object(obj: &Object, read: &[&Object]) -> Vec<Effect> {
    let m = obj.meta();
    let has_dependents = read.iter().any(|d| d.meta().owner_references.iter().any(|r| r.uid == m.uid) && depends_on(d, m));
    let states: Vec<OwnerState> = m.owner_references.iter().map(|r| read.iter().find(|o| o.meta().uid == r.uid).map_or(OwnerState::Absent, |o| OwnerState::Present(o.meta()))).collect();
    finish_owner(obj, has_dependents).into_iter().chain(collect_dependent(obj, &states)).collect()
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
        gc.handle_change(None, Some(&Object::Pod(p)), &std::collections::BTreeMap::<String, std::sync::Arc<Object>>::new());
        assert!(!gc.is_absent("u1"), "...but seeing the object does");
    }
}
