//! What a controller reads: its cache of objects, with the indexes its
//! decisions look things up by, so that no decision rescans the cluster.
//!
//! `View` is the read side every controller machine takes. `Indexed` is
//! the daemons' cache (one per informer, fed every change): objects by key,
//! and indexes by namespace, controller uid, any owner uid and
//! `spec.nodeName`. The model's caches implement `View` too, by scanning
//! (they hold a few dozen objects); `tests` below check the indexes answer
//! what a scan answers.

use crate::object::{Kind, Object};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

/// Objects a lookup returns.
pub type Objects<'a> = Box<dyn Iterator<Item = &'a Object> + 'a>;

/// A controller's read-only view of the objects its informers deliver.
/// Keys are `namespace/name` (`name` for cluster-scoped kinds).
pub trait View {
    fn get(&self, kind: Kind, key: &str) -> Option<&Object>;
    /// Every object of `kind`, in key order.
    fn list(&self, kind: Kind) -> Objects<'_>;
    /// The objects of `kind` in namespace `ns`, in key order.
    fn in_namespace(&self, kind: Kind, ns: &str) -> Objects<'_>;
    /// The objects of `kind` whose controller reference names `uid`.
    fn controlled_by(&self, kind: Kind, uid: &str) -> Objects<'_>;
    /// The objects of `kind` in `ns` with no controller reference (adoptable).
    fn orphans(&self, kind: Kind, ns: &str) -> Objects<'_>;
    /// Every object (any kind this view holds) with an owner reference to `uid`.
    fn dependents(&self, uid: &str) -> Objects<'_>;
    /// The pods bound to `node`.
    fn pods_on(&self, node: &str) -> Objects<'_>;
}

/// One informer's objects, indexed. Cheap to update per change: each index
/// entry is a key in a set.
#[derive(Clone, Debug, Default)]
pub struct Indexed {
    objects: BTreeMap<String, Arc<Object>>,
    by_namespace: BTreeMap<String, BTreeSet<String>>,
    by_controller: BTreeMap<String, BTreeSet<String>>,
    orphans: BTreeMap<String, BTreeSet<String>>,
    by_owner: BTreeMap<String, BTreeSet<String>>,
    by_node: BTreeMap<String, BTreeSet<String>>,
}

fn unindex(idx: &mut BTreeMap<String, BTreeSet<String>>, at: &str, key: &str) {
    if let Some(set) = idx.get_mut(at) {
        set.remove(key);
        if set.is_empty() {
            idx.remove(at);
        }
    }
}

impl Indexed {
    pub fn new() -> Indexed {
        Indexed::default()
    }

    pub fn len(&self) -> usize {
        self.objects.len()
    }

    pub fn is_empty(&self) -> bool {
        self.objects.is_empty()
    }

    pub fn get(&self, key: &str) -> Option<&Arc<Object>> {
        self.objects.get(key)
    }

    pub fn values(&self) -> impl Iterator<Item = &Arc<Object>> {
        self.objects.values()
    }

    pub fn iter(&self) -> impl Iterator<Item = (&String, &Arc<Object>)> {
        self.objects.iter()
    }

    fn entries(o: &Object) -> Entries<'_> {
        let m = o.meta();
        Entries {
            namespace: &m.namespace,
            controller: m.controller_ref().map(|r| r.uid.as_str()),
            owners: m.owner_references.iter().map(|r| r.uid.as_str()).collect(),
            node: o.as_pod().map(|p| p.spec.node_name.as_str()).filter(|n| !n.is_empty()),
        }
    }

    fn index(&mut self, key: &str, o: &Object, add: bool) {
        let e = Indexed::entries(o);
        let touch = |idx: &mut BTreeMap<String, BTreeSet<String>>, at: &str| {
            if add {
                idx.entry(at.to_string()).or_default().insert(key.to_string());
            } else {
                unindex(idx, at, key);
            }
        };
        touch(&mut self.by_namespace, e.namespace);
        match e.controller {
            Some(c) => touch(&mut self.by_controller, c),
            None => touch(&mut self.orphans, e.namespace),
        }
        for owner in e.owners {
            touch(&mut self.by_owner, owner);
        }
        if let Some(n) = e.node {
            touch(&mut self.by_node, n);
        }
    }

    /// Stores `obj` at `key`; returns what was there.
    pub fn insert(&mut self, key: String, obj: Arc<Object>) -> Option<Arc<Object>> {
        let old = self.remove(&key);
        self.index(&key, &obj, true);
        self.objects.insert(key, obj);
        old
    }

    pub fn remove(&mut self, key: &str) -> Option<Arc<Object>> {
        let old = self.objects.remove(key)?;
        self.index(key, &old, false);
        Some(old)
    }

    fn keyed<'a>(&'a self, keys: Option<&'a BTreeSet<String>>, kind: Option<Kind>) -> Objects<'a> {
        Box::new(keys.into_iter().flatten().filter_map(move |k| self.objects.get(k)).map(|o| &**o).filter(move |o| kind.is_none_or(|k| o.kind() == k)))
    }
}

struct Entries<'a> {
    namespace: &'a str,
    controller: Option<&'a str>,
    owners: Vec<&'a str>,
    node: Option<&'a str>,
}

impl View for Indexed {
    fn get(&self, kind: Kind, key: &str) -> Option<&Object> {
        self.objects.get(key).map(|o| &**o).filter(|o| o.kind() == kind)
    }
    fn list(&self, kind: Kind) -> Objects<'_> {
        Box::new(self.objects.values().map(|o| &**o).filter(move |o| o.kind() == kind))
    }
    fn in_namespace(&self, kind: Kind, ns: &str) -> Objects<'_> {
        self.keyed(self.by_namespace.get(ns), Some(kind))
    }
    fn controlled_by(&self, kind: Kind, uid: &str) -> Objects<'_> {
        self.keyed(self.by_controller.get(uid), Some(kind))
    }
    fn orphans(&self, kind: Kind, ns: &str) -> Objects<'_> {
        self.keyed(self.orphans.get(ns), Some(kind))
    }
    fn dependents(&self, uid: &str) -> Objects<'_> {
        self.keyed(self.by_owner.get(uid), None)
    }
    fn pods_on(&self, node: &str) -> Objects<'_> {
        self.keyed(self.by_node.get(node), Some(Kind::Pod))
    }
}

/// One cache per kind (a controller with an informer per kind): each
/// lookup goes to its kind's cache; `dependents` asks them all.
pub struct PerKind<'a>(pub Vec<(Kind, &'a dyn View)>);

impl PerKind<'_> {
    fn of(&self, kind: Kind) -> Option<&dyn View> {
        self.0.iter().find(|(k, _)| *k == kind).map(|(_, v)| *v)
    }

    /// `f` asked of `kind`'s cache; nothing when there is none.
    fn ask<'s>(&'s self, kind: Kind, f: impl FnOnce(&'s dyn View) -> Objects<'s>) -> Objects<'s> {
        self.of(kind).map_or_else(|| Box::new(std::iter::empty()) as Objects<'s>, f)
    }
}

impl View for PerKind<'_> {
    fn get(&self, kind: Kind, key: &str) -> Option<&Object> {
        self.of(kind)?.get(kind, key)
    }
    fn list(&self, kind: Kind) -> Objects<'_> {
        self.ask(kind, |v| v.list(kind))
    }
    fn in_namespace(&self, kind: Kind, ns: &str) -> Objects<'_> {
        self.ask(kind, |v| v.in_namespace(kind, ns))
    }
    fn controlled_by(&self, kind: Kind, uid: &str) -> Objects<'_> {
        self.ask(kind, |v| v.controlled_by(kind, uid))
    }
    fn orphans(&self, kind: Kind, ns: &str) -> Objects<'_> {
        self.ask(kind, |v| v.orphans(kind, ns))
    }
    fn dependents(&self, uid: &str) -> Objects<'_> {
        let uid = uid.to_string();
        Box::new(self.0.iter().flat_map(move |(_, v)| v.dependents(&uid).collect::<Vec<_>>()))
    }
    fn pods_on(&self, node: &str) -> Objects<'_> {
        self.ask(Kind::Pod, |v| v.pods_on(node))
    }
}

/// A view that counts the objects its lookups hand out: what a decision
/// visits, measured from outside the machine (a scan anywhere in a
/// machine's change handling or decision shows here, whatever it is named).
pub struct Counted<'a> {
    inner: &'a dyn View,
    seen: std::cell::Cell<usize>,
}

impl<'a> Counted<'a> {
    pub fn new(inner: &'a dyn View) -> Counted<'a> {
        Counted { inner, seen: std::cell::Cell::new(0) }
    }

    /// Objects handed out so far.
    pub fn seen(&self) -> usize {
        self.seen.get()
    }

    fn counting<'s>(&'s self, it: Objects<'s>) -> Objects<'s> {
        Box::new(it.inspect(move |_| self.seen.set(self.seen.get() + 1)))
    }
}

impl View for Counted<'_> {
    fn get(&self, kind: Kind, key: &str) -> Option<&Object> {
        let o = self.inner.get(kind, key);
        self.seen.set(self.seen.get() + usize::from(o.is_some()));
        o
    }
    fn list(&self, kind: Kind) -> Objects<'_> {
        self.counting(self.inner.list(kind))
    }
    fn in_namespace(&self, kind: Kind, ns: &str) -> Objects<'_> {
        self.counting(self.inner.in_namespace(kind, ns))
    }
    fn controlled_by(&self, kind: Kind, uid: &str) -> Objects<'_> {
        self.counting(self.inner.controlled_by(kind, uid))
    }
    fn orphans(&self, kind: Kind, ns: &str) -> Objects<'_> {
        self.counting(self.inner.orphans(kind, ns))
    }
    fn dependents(&self, uid: &str) -> Objects<'_> {
        self.counting(self.inner.dependents(uid))
    }
    fn pods_on(&self, node: &str) -> Objects<'_> {
        self.counting(self.inner.pods_on(node))
    }
}

/// `View` over a store's map (keys as `Kind::key` writes them, values any
/// pointer to an object), by scanning the kind's range: what the model's
/// small caches use, and the reference the indexes are tested against.
impl<P: std::ops::Deref<Target = Object>> View for BTreeMap<String, P> {
    fn get(&self, kind: Kind, key: &str) -> Option<&Object> {
        let (ns, name) = key.split_once('/').unwrap_or(("", key));
        BTreeMap::get(self, &kind.key(ns, name)).map(|o| &**o)
    }
    fn list(&self, kind: Kind) -> Objects<'_> {
        let prefix = kind.key_prefix();
        Box::new(self.range(prefix.clone()..).take_while(move |(k, _)| k.starts_with(&prefix)).map(|(_, o)| &**o))
    }
    fn in_namespace(&self, kind: Kind, ns: &str) -> Objects<'_> {
        let prefix = format!("{}{ns}/", kind.key_prefix());
        Box::new(self.range(prefix.clone()..).take_while(move |(k, _)| k.starts_with(&prefix)).map(|(_, o)| &**o))
    }
    fn controlled_by(&self, kind: Kind, uid: &str) -> Objects<'_> {
        let uid = uid.to_string();
        Box::new(self.list(kind).filter(move |o| o.meta().controller_ref().is_some_and(|r| r.uid == uid)))
    }
    fn orphans(&self, kind: Kind, ns: &str) -> Objects<'_> {
        Box::new(self.in_namespace(kind, ns).filter(|o| o.meta().controller_ref().is_none()))
    }
    fn dependents(&self, uid: &str) -> Objects<'_> {
        let uid = uid.to_string();
        Box::new(self.values().map(|o| &**o).filter(move |o| o.meta().owner_references.iter().any(|r| r.uid == uid)))
    }
    fn pods_on(&self, node: &str) -> Objects<'_> {
        let node = node.to_string();
        Box::new(self.list(Kind::Pod).filter(move |o| o.as_pod().is_some_and(|p| p.spec.node_name == node)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::meta::OwnerReference;
    use crate::types::{Pod, ReplicaSet};

    fn pod(ns: &str, name: &str, owner: Option<(&str, bool)>, node: &str) -> Object {
        let mut p = Pod::default();
        p.metadata.namespace = ns.into();
        p.metadata.name = name.into();
        p.metadata.uid = format!("uid-{name}");
        if let Some((uid, controller)) = owner {
            p.metadata.owner_references.push(OwnerReference { uid: uid.into(), kind: "ReplicaSet".into(), name: "rs".into(), controller: Some(controller), ..Default::default() });
        }
        p.spec.node_name = node.into();
        Object::Pod(p)
    }

    fn names<'a>(it: Objects<'a>) -> Vec<String> {
        let mut v: Vec<String> = it.map(|o| o.meta().key()).collect();
        v.sort();
        v
    }

    /// Every lookup of the index answers what a scan of the same objects
    /// answers, after inserts, replacements and removals.
    #[test]
    fn the_indexes_answer_what_a_scan_answers() {
        let mut idx = Indexed::new();
        let mut scan: BTreeMap<String, Arc<Object>> = BTreeMap::new();
        let mut rs = ReplicaSet::default();
        rs.metadata.namespace = "a".into();
        rs.metadata.name = "rs".into();
        rs.metadata.uid = "rs-uid".into();
        let objs = vec![
            Object::ReplicaSet(rs),
            pod("a", "p1", Some(("rs-uid", true)), "n1"),
            pod("a", "p2", None, "n1"),
            pod("a", "p3", Some(("rs-uid", false)), ""),
            pod("b", "p4", None, "n2"),
            pod("a", "p1", None, "n2"), // p1 replaced: released and moved
        ];
        for o in objs {
            let o = Arc::new(o);
            idx.insert(o.meta().key(), o.clone());
            scan.insert(o.key(), o);
        }
        let removed = scan.remove(&Kind::Pod.key("b", "p4")).unwrap();
        idx.remove(&removed.meta().key());
        let views: [&dyn View; 2] = [&idx, &scan];
        let answers: Vec<Vec<Vec<String>>> = views
            .iter()
            .map(|v| {
                vec![
                    names(v.list(Kind::Pod)),
                    names(v.in_namespace(Kind::Pod, "a")),
                    names(v.controlled_by(Kind::Pod, "rs-uid")),
                    names(v.orphans(Kind::Pod, "a")),
                    names(v.dependents("rs-uid")),
                    names(v.pods_on("n1")),
                    names(v.pods_on("n2")),
                    v.get(Kind::Pod, "a/p2").map(|o| o.meta().key()).into_iter().collect(),
                    v.get(Kind::ReplicaSet, "a/p2").map(|o| o.meta().key()).into_iter().collect(),
                ]
            })
            .collect();
        assert_eq!(answers[0], answers[1]);
        assert_eq!(answers[0][2], Vec::<String>::new(), "p1 was released");
        assert_eq!(answers[0][3], vec!["a/p1", "a/p2", "a/p3"]);
        assert_eq!(answers[0][4], vec!["a/p3"]);
        assert_eq!(answers[0][6], vec!["a/p1"]);
    }
}
