//! The model's store and caches as shared, pre-hashed values.
//!
//! A model state holds the store and one cache per component, and the
//! checker clones, compares and fingerprints states millions of times. Most
//! of those copies are the same objects: a cache that caught up *is* the
//! store, a successor state changes one or two objects. So objects are
//! `Shared` (an `Arc` with its hash computed once, at creation), and a
//! `Store` is an `Arc`'d map whose hash is kept up to date as entries come
//! and go. Cloning a state then copies pointers; comparing two caches
//! compares pointers first and hashes second; fingerprinting a state costs a
//! few words per store, not a walk over every field of every object.
//!
//! Equality stays exact: two values are equal when their pointers are, or
//! when their hashes are and their contents are.

use podcore::object::{Kind, Object};
use std::collections::BTreeMap;
use std::hash::{Hash, Hasher};
use std::ops::Deref;
use std::sync::Arc;

fn hash_of<T: Hash + ?Sized>(v: &T) -> u64 {
    // SipHash with fixed keys: the same value hashes the same in every run.
    let mut h = std::collections::hash_map::DefaultHasher::new();
    v.hash(&mut h);
    h.finish()
}

/// An immutable value behind an `Arc`, hashed once.
#[derive(Debug)]
pub struct Shared<T> {
    value: Arc<T>,
    hash: u64,
}

impl<T: Hash> Shared<T> {
    pub fn new(value: T) -> Self {
        let hash = hash_of(&value);
        Shared { value: Arc::new(value), hash }
    }
}

impl<T> Clone for Shared<T> {
    fn clone(&self) -> Self {
        Shared { value: self.value.clone(), hash: self.hash }
    }
}

impl<T> Shared<T> {
    /// The address of the shared value: equal for clones. Only meaningful
    /// while this value (or a clone) is alive.
    pub fn addr(&self) -> usize {
        Arc::as_ptr(&self.value) as *const () as usize
    }
}

impl<T> Deref for Shared<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.value
    }
}

impl<T: PartialEq> PartialEq for Shared<T> {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.value, &other.value) || (self.hash == other.hash && *self.value == *other.value)
    }
}

impl<T: Eq> Eq for Shared<T> {}

impl<T> Hash for Shared<T> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u64(self.hash);
    }
}

/// Store key → object.
pub type Objects = BTreeMap<String, Shared<Object>>;

/// The store's contents, or a component's cache of them: shared
/// copy-on-write between states, with an order-independent hash (the
/// wrapping sum of each entry's hash) updated on every insert and remove.
#[derive(Clone, Debug, Default)]
pub struct Store {
    map: Arc<Objects>,
    hash: u64,
}

fn entry_hash(key: &str, obj: &Shared<Object>) -> u64 {
    hash_of(&(key, obj.hash))
}

impl Store {
    pub fn insert(&mut self, key: String, obj: Object) {
        self.insert_shared(key, Shared::new(obj));
    }

    fn insert_shared(&mut self, key: String, obj: Shared<Object>) {
        let add = entry_hash(&key, &obj);
        if let Some(old) = Arc::make_mut(&mut self.map).insert(key.clone(), obj) {
            self.hash = self.hash.wrapping_sub(entry_hash(&key, &old));
        }
        self.hash = self.hash.wrapping_add(add);
    }

    pub fn remove(&mut self, key: &str) -> Option<Shared<Object>> {
        let old = Arc::make_mut(&mut self.map).remove(key)?;
        self.hash = self.hash.wrapping_sub(entry_hash(key, &old));
        Some(old)
    }
}

impl Store {
    /// Whether two stores share one map (so are equal without looking).
    pub fn same_map(&self, other: &Store) -> bool {
        Arc::ptr_eq(&self.map, &other.map)
    }

    /// The address of the shared map: equal for clones until one writes.
    /// Only meaningful while this store (or a clone) is alive.
    pub fn map_addr(&self) -> usize {
        Arc::as_ptr(&self.map) as usize
    }

    /// This store with every object passed through `f`, which returns what
    /// it must become (None: unchanged); each lands under its (possibly new)
    /// key, and two objects may trade keys.
    pub fn rewrite(&self, mut f: impl FnMut(&Shared<Object>) -> Option<Shared<Object>>) -> Store {
        let changed: Vec<(&String, Shared<Object>)> = self.map.iter().filter_map(|(k, o)| f(o).map(|n| (k, n))).collect();
        if changed.is_empty() {
            return self.clone();
        }
        let mut out = self.clone();
        // Every old key goes first, so that objects trading keys do not clobber each other.
        for (key, _) in &changed {
            out.remove(key);
        }
        for (_, obj) in changed {
            let key = obj.key();
            assert!(!out.map.contains_key(&key), "a rewrite put two objects at {key}");
            out.insert_shared(key, obj);
        }
        out
    }

    /// The objects of these kinds (an informer's view); all of them for `None`.
    pub fn only(&self, kinds: Option<&[Kind]>) -> Store {
        let Some(kinds) = kinds else { return self.clone() };
        let mut out = Store::default();
        for k in kinds {
            let prefix = k.key_prefix();
            for (key, o) in self.map.range(prefix.clone()..).take_while(|(key, _)| key.starts_with(&prefix)) {
                out.insert_shared(key.clone(), o.clone());
            }
        }
        out
    }
}

impl Store {
    /// Calls `f(key, old, new)` for each key under `prefix` whose object
    /// differs between `old` and `new` (None: absent there), in key order,
    /// walking both maps once.
    pub fn diff_under<'a>(old: &'a Store, new: &'a Store, prefix: &str, mut f: impl FnMut(&'a str, Option<&'a Shared<Object>>, Option<&'a Shared<Object>>)) {
        if old.same_map(new) {
            return;
        }
        let range = |s: &'a Store| s.map.range::<str, _>((std::ops::Bound::Included(prefix), std::ops::Bound::Unbounded)).take_while(move |(k, _)| k.starts_with(prefix)).peekable();
        let (mut a, mut b) = (range(old), range(new));
        loop {
            match (a.peek(), b.peek()) {
                (None, None) => return,
                (Some((ka, oa)), Some((kb, ob))) if ka == kb => {
                    if oa != ob {
                        f(ka, Some(oa), Some(ob));
                    }
                    a.next();
                    b.next();
                }
                (Some((ka, oa)), Some((kb, _))) if ka < kb => {
                    f(ka, Some(oa), None);
                    a.next();
                }
                (Some((ka, oa)), None) => {
                    f(ka, Some(oa), None);
                    a.next();
                }
                (_, Some((kb, ob))) => {
                    f(kb, None, Some(ob));
                    b.next();
                }
            }
        }
    }
}

impl Deref for Store {
    type Target = Objects;
    fn deref(&self) -> &Objects {
        &self.map
    }
}

impl PartialEq for Store {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.map, &other.map) || (self.hash == other.hash && *self.map == *other.map)
    }
}

impl Eq for Store {}

impl Hash for Store {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u64(self.hash);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use podcore::types::Namespace;

    fn ns(name: &str, label: &str) -> Object {
        let mut n = Namespace::default();
        n.metadata.name = name.into();
        n.metadata.labels.insert("l".into(), label.into());
        Object::Namespace(n)
    }

    #[test]
    fn the_hash_depends_on_contents_not_on_history() {
        let mut a = Store::default();
        a.insert("x".into(), ns("x", "1"));
        a.insert("y".into(), ns("y", "1"));
        a.insert("x".into(), ns("x", "2"));
        let mut b = Store::default();
        b.insert("y".into(), ns("y", "1"));
        b.insert("z".into(), ns("z", "1"));
        b.insert("x".into(), ns("x", "2"));
        assert!(b.remove("z").is_some());
        assert_eq!(a, b);
        assert_eq!(hash_of(&a), hash_of(&b));
        assert_eq!(a.hash, b.hash);
    }

    #[test]
    fn different_contents_are_unequal_even_when_built_alike() {
        let mut a = Store::default();
        a.insert("x".into(), ns("x", "1"));
        let mut b = a.clone();
        b.insert("x".into(), ns("x", "2"));
        assert_ne!(a, b);
        assert_ne!(a.hash, b.hash);
        // A clone shares the map until one side writes.
        let c = a.clone();
        assert!(Arc::ptr_eq(&a.map, &c.map));
        assert_eq!(a, c);
        let mut empty = a.clone();
        empty.remove("x");
        assert_eq!(empty, Store::default());
        assert_eq!(empty.hash, 0);
    }

    #[test]
    fn a_rewrite_can_swap_keys() {
        let mut a = Store::default();
        for n in [ns("x", "1"), ns("y", "2"), ns("z", "3")] {
            a.insert(n.key(), n);
        }
        // x and y trade names; z stays as it is.
        let swap = |o: &Shared<Object>| {
            let to = match o.meta().name.as_str() {
                "x" => "y",
                "y" => "x",
                _ => return None,
            };
            let mut o = (**o).clone();
            o.meta_mut().name = to.into();
            Some(Shared::new(o))
        };
        let b = a.rewrite(swap);
        let mut expect = Store::default();
        for n in [ns("y", "1"), ns("x", "2"), ns("z", "3")] {
            expect.insert(n.key(), n);
        }
        assert_eq!(b, expect);
        assert_eq!(b.hash, expect.hash);
        assert_eq!(b.rewrite(swap), a);
        // A rewrite that changes nothing shares the map.
        assert!(a.rewrite(|_| None).same_map(&a));
    }

    #[test]
    fn a_view_of_some_kinds_holds_exactly_their_objects() {
        let mut a = Store::default();
        let n = ns("x", "1");
        a.insert(n.key(), n.clone());
        let mut p = podcore::types::Pod::default();
        p.metadata.name = "p".into();
        p.metadata.namespace = "x".into();
        let p = Object::Pod(p);
        a.insert(p.key(), p.clone());
        let pods = a.only(Some(&[Kind::Pod]));
        assert_eq!(pods.len(), 1);
        assert!(pods.contains_key(&p.key()));
        let mut expect = Store::default();
        expect.insert(p.key(), p);
        assert_eq!(pods, expect);
        assert_eq!(pods.hash, expect.hash);
        assert_eq!(a.only(None), a);
    }
}
