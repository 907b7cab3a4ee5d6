//! Object metadata shared by every kind (`metav1.ObjectMeta`), owner
//! references, and `Extra`: the fields of upstream's types that podchain does
//! not model, kept verbatim so that nothing a client sends is lost.

use crate::time::Time;
use serde::{Deserialize, Serialize};
use crate::vecmap::VecMap;
use std::hash::{Hash, Hasher};

/// Fields podchain does not interpret, carried through unchanged.
/// `Hash` goes through the canonical JSON text, so objects stay `Eq + Hash`
/// for the model checker.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Extra(pub VecMap<String, serde_json::Value>);

impl Hash for Extra {
    fn hash<H: Hasher>(&self, state: &mut H) {
        for (k, v) in &self.0 {
            k.hash(state);
            v.to_string().hash(state);
        }
    }
}

impl Extra {
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

pub type StringMap = VecMap<String, String>;

/// A list decoded into a vector of exactly its length: a decoded vector
/// grows by doubling, and caches hold every object for as long as it lives.
pub(crate) fn exact<'de, D: serde::Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Vec<T>, D::Error> {
    let mut v = Vec::<T>::deserialize(d)?;
    v.shrink_to_fit();
    Ok(v)
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ObjectMeta {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub generate_name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub namespace: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub uid: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub resource_version: String,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub generation: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub creation_timestamp: Option<Time>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deletion_timestamp: Option<Time>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deletion_grace_period_seconds: Option<i64>,
    #[serde(default, skip_serializing_if = "VecMap::is_empty")]
    pub labels: StringMap,
    #[serde(default, skip_serializing_if = "VecMap::is_empty")]
    pub annotations: StringMap,
    #[serde(deserialize_with = "crate::meta::exact", default, skip_serializing_if = "Vec::is_empty")]
    pub owner_references: Vec<OwnerReference>,
    #[serde(deserialize_with = "crate::meta::exact", default, skip_serializing_if = "Vec::is_empty")]
    pub finalizers: Vec<String>,
    #[serde(flatten)]
    pub extra: Extra,
}

pub(crate) fn is_zero(n: &i64) -> bool {
    *n == 0
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OwnerReference {
    // Missing fields decode as empty, as in Go, so that validation names them.
    #[serde(default)]
    pub api_version: String,
    #[serde(default)]
    pub kind: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub uid: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub controller: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub block_owner_deletion: Option<bool>,
}

impl ObjectMeta {
    /// The owner reference with `controller: true`, if any (at most one is valid).
    pub fn controller_ref(&self) -> Option<&OwnerReference> {
        self.owner_references.iter().find(|r| r.controller == Some(true))
    }
    pub fn is_terminating(&self) -> bool {
        self.deletion_timestamp.is_some()
    }
    /// The store key's last two parts: `namespace/name` or `name`.
    pub fn key(&self) -> String {
        if self.namespace.is_empty() {
            self.name.clone()
        } else {
            format!("{}/{}", self.namespace, self.name)
        }
    }
    /// The resourceVersion as a number (0 when unset or malformed).
    pub fn revision(&self) -> u64 {
        self.resource_version.parse().unwrap_or(0)
    }
}

/// Finalizers the garbage collector understands (as upstream).
pub const FINALIZER_FOREGROUND: &str = "foregroundDeletion";
pub const FINALIZER_ORPHAN: &str = "orphan";
