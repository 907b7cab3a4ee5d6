//! `VecMap`: a map kept as one vector sorted by key, for the small maps every
//! object carries (labels, annotations, resource requests, the fields podchain
//! does not model). It iterates, compares, hashes and serialises in key order
//! as `BTreeMap` does, but holds its entries in one allocation of exactly
//! their size: a `BTreeMap`'s first node has room for eleven entries, about
//! 550 bytes for a pod's two labels, and every cache holds every pod.
//! Lookups are binary searches; inserts shift the tail, which is cheap at
//! the sizes objects have.

use serde::de::{MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::borrow::Borrow;
use std::fmt;
use std::marker::PhantomData;

#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct VecMap<K, V>(Vec<(K, V)>);

impl<K, V> Default for VecMap<K, V> {
    fn default() -> Self {
        VecMap(Vec::new())
    }
}

impl<K: fmt::Debug, V: fmt::Debug> fmt::Debug for VecMap<K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.0.iter().map(|(k, v)| (k, v))).finish()
    }
}

pub type Iter<'a, K, V> = std::iter::Map<std::slice::Iter<'a, (K, V)>, fn(&'a (K, V)) -> (&'a K, &'a V)>;

impl<K, V> VecMap<K, V> {
    pub const fn new() -> Self {
        VecMap(Vec::new())
    }
    pub fn len(&self) -> usize {
        self.0.len()
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    /// The entries in key order.
    pub fn iter(&self) -> Iter<'_, K, V> {
        self.0.iter().map(|(k, v)| (k, v))
    }
}

impl<K: Ord, V> VecMap<K, V> {
    fn find<Q: Ord + ?Sized>(&self, key: &Q) -> Result<usize, usize>
    where
        K: Borrow<Q>,
    {
        self.0.binary_search_by(|(k, _)| k.borrow().cmp(key))
    }
    pub fn get<Q: Ord + ?Sized>(&self, key: &Q) -> Option<&V>
    where
        K: Borrow<Q>,
    {
        self.find(key).ok().map(|i| &self.0[i].1)
    }
    pub fn get_mut<Q: Ord + ?Sized>(&mut self, key: &Q) -> Option<&mut V>
    where
        K: Borrow<Q>,
    {
        self.find(key).ok().map(|i| &mut self.0[i].1)
    }
    pub fn contains_key<Q: Ord + ?Sized>(&self, key: &Q) -> bool
    where
        K: Borrow<Q>,
    {
        self.find(key).is_ok()
    }
    /// Inserts `value` at `key`; the value it replaced, if any.
    pub fn insert(&mut self, key: K, value: V) -> Option<V> {
        match self.find(&key) {
            Ok(i) => Some(std::mem::replace(&mut self.0[i].1, value)),
            Err(i) => {
                self.0.insert(i, (key, value));
                None
            }
        }
    }
    pub fn remove<Q: Ord + ?Sized>(&mut self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
    {
        self.find(key).ok().map(|i| self.0.remove(i).1)
    }
    /// The place of `key`, to fill when it is empty (BTreeMap's `entry`, reduced).
    pub fn entry(&mut self, key: K) -> Entry<'_, K, V> {
        let at = self.find(&key);
        Entry { map: self, at, key }
    }
}

pub struct Entry<'a, K, V> {
    map: &'a mut VecMap<K, V>,
    at: Result<usize, usize>,
    key: K,
}

impl<'a, K, V> Entry<'a, K, V> {
    /// The value at the key, inserted by `make` when there is none.
    pub fn or_insert_with(self, make: impl FnOnce() -> V) -> &'a mut V {
        let i = match self.at {
            Ok(i) => i,
            Err(i) => {
                self.map.0.insert(i, (self.key, make()));
                i
            }
        };
        &mut self.map.0[i].1
    }
    pub fn or_insert(self, value: V) -> &'a mut V {
        self.or_insert_with(|| value)
    }
    pub fn or_default(self) -> &'a mut V
    where
        V: Default,
    {
        self.or_insert_with(V::default)
    }
}

impl<K: Ord, V> FromIterator<(K, V)> for VecMap<K, V> {
    /// As `BTreeMap::from_iter`: in key order, the last value of a repeated key kept.
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        let mut v: Vec<(K, V)> = iter.into_iter().collect();
        v.reverse();
        // A stable sort keeps the reversed order among equal keys, so the
        // first of each run is the last one given.
        v.sort_by(|a, b| a.0.cmp(&b.0));
        v.dedup_by(|later, first| later.0 == first.0);
        v.shrink_to_fit();
        VecMap(v)
    }
}

impl<K: Ord, V, const N: usize> From<[(K, V); N]> for VecMap<K, V> {
    fn from(entries: [(K, V); N]) -> Self {
        entries.into_iter().collect()
    }
}

impl<K: Ord, V> From<std::collections::BTreeMap<K, V>> for VecMap<K, V> {
    fn from(m: std::collections::BTreeMap<K, V>) -> Self {
        VecMap(m.into_iter().collect())
    }
}

impl<K, V> IntoIterator for VecMap<K, V> {
    type Item = (K, V);
    type IntoIter = std::vec::IntoIter<(K, V)>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

impl<'a, K, V> IntoIterator for &'a VecMap<K, V> {
    type Item = (&'a K, &'a V);
    type IntoIter = Iter<'a, K, V>;
    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

impl<K: Ord + Borrow<Q>, V, Q: Ord + ?Sized> std::ops::Index<&Q> for VecMap<K, V> {
    type Output = V;
    fn index(&self, key: &Q) -> &V {
        self.get(key).expect("no entry for the key in the VecMap")
    }
}

impl<K: Serialize, V: Serialize> Serialize for VecMap<K, V> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            m.serialize_entry(k, v)?;
        }
        m.end()
    }
}

impl<'de, K: Ord + Deserialize<'de>, V: Deserialize<'de>> Deserialize<'de> for VecMap<K, V> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Entries<K, V>(PhantomData<(K, V)>);
        impl<'de, K: Ord + Deserialize<'de>, V: Deserialize<'de>> Visitor<'de> for Entries<K, V> {
            type Value = VecMap<K, V>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a map")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut a: A) -> Result<Self::Value, A::Error> {
                let mut v = Vec::with_capacity(a.size_hint().unwrap_or(0).min(64));
                while let Some(e) = a.next_entry()? {
                    v.push(e);
                }
                // Most maps arrive in key order (podchain writes them so).
                if v.windows(2).all(|w: &[(K, V)]| w[0].0 < w[1].0) {
                    v.shrink_to_fit();
                    return Ok(VecMap(v));
                }
                Ok(v.into_iter().collect())
            }
        }
        d.deserialize_map(Entries(PhantomData))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    /// Every operation agrees with BTreeMap's on the same sequence.
    #[test]
    fn behaves_as_a_btreemap() {
        let mut a: VecMap<String, i32> = VecMap::new();
        let mut b: BTreeMap<String, i32> = BTreeMap::new();
        let keys = ["m", "c", "x", "c", "a", "m", "z", "b"];
        for (i, k) in keys.iter().enumerate() {
            assert_eq!(a.insert(k.to_string(), i as i32), b.insert(k.to_string(), i as i32));
            assert!(a.iter().eq(b.iter()), "same entries in the same order");
        }
        for k in ["c", "nope", "z"] {
            assert_eq!(a.get(k), b.get(k));
            assert_eq!(a.remove(k), b.remove(k));
            assert_eq!(a.contains_key(k), b.contains_key(k));
        }
        assert!(a.iter().eq(b.iter()) && a.len() == b.len());
        *a.entry("q".into()).or_default() += 5;
        *a.entry("q".into()).or_insert(9) += 1;
        *a.entry("r".into()).or_insert(9) += 1;
        *b.entry("q".into()).or_default() += 5;
        *b.entry("q".into()).or_insert(9) += 1;
        *b.entry("r".into()).or_insert(9) += 1;
        assert!(a.iter().eq(b.iter()), "{a:?} vs {b:?}");
        assert_eq!((a["q"], a["r"]), (6, 10));
    }

    #[test]
    fn a_repeated_key_keeps_its_last_value_as_in_a_btreemap() {
        let pairs = [("b", 1), ("a", 2), ("b", 3), ("a", 4), ("c", 5)];
        let a: VecMap<&str, i32> = pairs.into_iter().collect();
        let b: BTreeMap<&str, i32> = pairs.into_iter().collect();
        assert!(a.iter().eq(b.iter()), "{a:?} vs {b:?}");
        let json = r#"{"b":1,"a":2,"b":3}"#;
        let a: VecMap<String, i32> = serde_json::from_str(json).unwrap();
        let b: BTreeMap<String, i32> = serde_json::from_str(json).unwrap();
        assert!(a.iter().eq(b.iter()), "{a:?} vs {b:?}");
    }

    #[test]
    fn serialises_in_key_order_and_holds_no_spare_room() {
        let a: VecMap<String, String> = serde_json::from_str(r#"{"z":"1","app":"web","pod-template-hash":"abc"}"#).unwrap();
        assert_eq!(serde_json::to_string(&a).unwrap(), r#"{"app":"web","pod-template-hash":"abc","z":"1"}"#);
        assert_eq!(a.0.capacity(), a.len());
        let sorted: VecMap<String, String> = serde_json::from_str(r#"{"a":"1","b":"2","c":"3","d":"4","e":"5"}"#).unwrap();
        assert_eq!(sorted.0.capacity(), 5);
        assert!(serde_json::from_str::<VecMap<String, String>>(r#"["a"]"#).is_err(), "a list is not a map");
    }
}
