//! podstore: the revisioned key-value store (etcd's data model, reduced).
//!
//! Every write gets the next global revision, which is also the written
//! key's `mod_revision` and, in the apiserver, the object's resourceVersion.
//! Writes are compare-and-swap on `mod_revision`. Readers can ask for every
//! event after a revision until it is compacted away.
//!
//! Backends: `Embedded` (this crate; durable with fsync before a write is
//! acknowledged, concurrent writes sharing one fsync, or purely in memory)
//! and `etcdstore::Etcd` (a crate of its own, as it needs tokio). The
//! `conformance` module is one suite every backend must pass.
//!
//! This crate does no async IO and does not reach tokio: the apiserver
//! adapts it.

pub mod conformance;
pub mod disk;
pub mod embedded;
pub mod history;
pub mod record;
pub mod snapshot;

pub use embedded::Embedded;

use std::sync::Arc;

pub type Revision = u64;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyValue {
    pub key: String,
    pub value: Arc<Vec<u8>>,
    pub create_revision: Revision,
    pub mod_revision: Revision,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EventKind {
    Put,
    Delete,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    pub kind: EventKind,
    /// For Put: the new value. For Delete: the last value before deletion.
    pub kv: KeyValue,
    /// The value before this event (None for a create).
    pub prev: Option<KeyValue>,
    /// The revision of this event (for Put, equals kv.mod_revision).
    pub revision: Revision,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RangeResult {
    pub kvs: Vec<KeyValue>,
    /// The store's revision at which the range was read.
    pub revision: Revision,
    /// More keys follow the last one returned.
    pub more: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StoreError {
    /// create: the key exists.
    AlreadyExists,
    /// update/delete: the key does not exist.
    NotFound,
    /// update/delete: the key's mod_revision is not the expected one.
    Conflict { current: Box<KeyValue> },
    /// events_since: history before this revision is gone.
    Compacted { compacted: Revision },
    /// The backend failed; nothing was acknowledged.
    Io(String),
    /// A key or value is over a named limit.
    TooLarge(String),
    /// The store's files are damaged beyond a torn final write: it will not open.
    Corrupt(String),
}

impl std::fmt::Display for StoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StoreError::AlreadyExists => write!(f, "key already exists"),
            StoreError::NotFound => write!(f, "key not found"),
            StoreError::Conflict { current } => write!(f, "conflict: key is at revision {}", current.mod_revision),
            StoreError::Compacted { compacted } => write!(f, "required revision has been compacted (compacted revision {compacted})"),
            StoreError::Io(e) => write!(f, "storage error: {e}"),
            StoreError::TooLarge(e) => write!(f, "{e}"),
            StoreError::Corrupt(e) => write!(f, "the store is corrupt: {e}"),
        }
    }
}
impl std::error::Error for StoreError {}

/// Longest key accepted.
pub const MAX_KEY_BYTES: usize = 1024;
/// Largest value accepted (etcd's default request limit is 1.5 MiB; the
/// apiserver refuses bodies over 3 MiB before they get here).
pub const MAX_VALUE_BYTES: usize = 3 * 1024 * 1024;

/// What a backend must provide. All methods are synchronous and may block
/// on disk; callers on an async runtime use `spawn_blocking`.
pub trait Store: Send + Sync {
    fn get(&self, key: &str) -> Result<Option<KeyValue>, StoreError>;
    /// Keys starting with `prefix` and greater than `start_after` (""
    /// for the first page), in key order, at most `limit` (0 = no limit).
    fn range(&self, prefix: &str, start_after: &str, limit: usize) -> Result<RangeResult, StoreError>;
    /// Every key starting with `prefix` as it was at `revision`: one
    /// snapshot that several ranges share (the apiserver loads each kind at
    /// the one revision its caches start from). `Compacted` when the store
    /// no longer has that revision. The default serves a store that keeps
    /// no old versions: its contents, if it is still at `revision`.
    fn range_at(&self, prefix: &str, revision: Revision) -> Result<RangeResult, StoreError> {
        let r = self.range(prefix, "", 0)?;
        if r.revision != revision {
            return Err(StoreError::Compacted { compacted: r.revision });
        }
        Ok(r)
    }
    fn create(&self, key: &str, value: Vec<u8>) -> Result<Revision, StoreError>;
    /// Replaces the value if the key's mod_revision is `expected`.
    fn update(&self, key: &str, value: Vec<u8>, expected: Revision) -> Result<Revision, StoreError>;
    /// Deletes if the key's mod_revision is `expected` (0: unconditionally).
    fn delete(&self, key: &str, expected: Revision) -> Result<(Revision, KeyValue), StoreError>;
    /// Every event with revision > `after`, oldest first, at most `limit`.
    fn events_since(&self, after: Revision, limit: usize) -> Result<Vec<Event>, StoreError>;
    fn revision(&self) -> Revision;
    /// Forgets history at and before `revision`.
    fn compact(&self, revision: Revision) -> Result<(), StoreError>;
    /// Calls `notify` after every committed write (from the writer's thread).
    fn subscribe(&self, notify: Arc<dyn Fn() + Send + Sync>);
    /// Whether clients other than this one write to the store (several
    /// apiservers on one etcd), so that a read that must see every
    /// acknowledged write calls `sync` first.
    fn shared(&self) -> bool {
        false
    }
    /// Returns once every write acknowledged before the call, by any
    /// client, has been told to the subscribers; returns a revision that
    /// covers them. A store only this process writes has nothing to wait
    /// for: its writes are told before they return.
    fn sync(&self) -> Result<Revision, StoreError> {
        Ok(self.revision())
    }
}

/// Refuses a key or value over `MAX_KEY_BYTES` or `MAX_VALUE_BYTES` (every
/// backend checks before it writes).
pub fn check_sizes(key: &str, value: &[u8]) -> Result<(), StoreError> {
    if key.len() > MAX_KEY_BYTES {
        return Err(StoreError::TooLarge(format!("key is {} bytes, more than the limit of {MAX_KEY_BYTES}", key.len())));
    }
    if value.len() > MAX_VALUE_BYTES {
        return Err(StoreError::TooLarge(format!("value is {} bytes, more than the limit of {MAX_VALUE_BYTES}", value.len())));
    }
    Ok(())
}
