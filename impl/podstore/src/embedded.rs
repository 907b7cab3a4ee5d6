//! The embedded backend: the whole key space in memory, every write appended
//! to a checksummed write-ahead log and fsynced before it is acknowledged.
//! On open the log is replayed; a torn last record (the write that was in
//! flight when the process died, never acknowledged) is cut off. When the
//! log grows well past the live data it is rewritten as a snapshot.
//!
//! History for `events_since` is kept in memory, bounded by
//! `MAX_HISTORY_EVENTS`; a restart starts history afresh at the recovered
//! revision, so watchers from before the restart are told "compacted" and
//! relist, as they are when an upstream apiserver restarts.

use crate::record::{self, DecodeError, Op, Record};
use crate::{check_sizes, Event, EventKind, KeyValue, RangeResult, Revision, Store, StoreError};
use std::collections::{BTreeMap, VecDeque};
use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

/// Events kept for `events_since`; older ones are compacted automatically.
pub const MAX_HISTORY_EVENTS: usize = 100_000;
/// The log is rewritten when it exceeds this size and twice the live data.
pub const LOG_REWRITE_MIN_BYTES: u64 = 64 * 1024 * 1024;
const LOG_NAME: &str = "wal.log";

type Notify = Arc<dyn Fn() + Send + Sync>;

pub struct Embedded {
    inner: Mutex<Inner>,
    subscribers: Mutex<Vec<Notify>>,
}

struct Inner {
    kvs: BTreeMap<String, KeyValue>,
    history: VecDeque<Event>,
    revision: Revision,
    compacted: Revision,
    log: Option<Log>,
    live_bytes: u64,
    /// Set when a failed write could not be rolled back: refuse all writes.
    failed: Option<String>,
}

struct Log {
    file: File,
    dir: PathBuf,
    bytes: u64,
}

/// What `open` found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OpenReport {
    pub records: u64,
    pub revision: Revision,
    /// Bytes cut from the end of the log (a torn or corrupt tail).
    pub discarded_bytes: u64,
    pub discarded_reason: Option<String>,
}

fn io(e: std::io::Error) -> StoreError {
    StoreError::Io(e.to_string())
}

fn sync_dir(dir: &Path) -> Result<(), StoreError> {
    File::open(dir).and_then(|d| d.sync_all()).map_err(io)
}

impl Embedded {
    /// A store that keeps nothing on disk (tests, the model, simulations).
    pub fn in_memory() -> Embedded {
        Embedded::from_inner(Inner::empty(None))
    }

    /// Opens (or creates) the durable store in `dir`.
    pub fn open(dir: &Path) -> Result<(Embedded, OpenReport), StoreError> {
        std::fs::create_dir_all(dir).map_err(io)?;
        let path = dir.join(LOG_NAME);
        let existed = path.exists();
        let mut file = OpenOptions::new().read(true).append(true).create(true).open(&path).map_err(io)?;
        if !existed {
            sync_dir(dir)?;
        }
        let mut buf = Vec::new();
        file.read_to_end(&mut buf).map_err(io)?;
        let mut inner = Inner::empty(None);
        let mut report = OpenReport::default();
        let mut off = 0usize;
        while off < buf.len() {
            match record::decode(&buf[off..]) {
                Ok((rec, n)) => {
                    inner.replay(rec);
                    off += n;
                    report.records += 1;
                }
                Err(e) => {
                    report.discarded_bytes = (buf.len() - off) as u64;
                    report.discarded_reason = Some(match e {
                        DecodeError::Truncated => "torn final record".into(),
                        DecodeError::Corrupt(why) => why,
                    });
                    file.set_len(off as u64).map_err(io)?;
                    file.sync_all().map_err(io)?;
                    break;
                }
            }
        }
        inner.compacted = inner.revision;
        report.revision = inner.revision;
        inner.log = Some(Log { file, dir: dir.to_path_buf(), bytes: off as u64 });
        Ok((Embedded::from_inner(inner), report))
    }

    fn from_inner(inner: Inner) -> Embedded {
        Embedded { inner: Mutex::new(inner), subscribers: Mutex::new(Vec::new()) }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock leaves consistent state: every
        // mutation is applied only after its record is durable.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn notify(&self) {
        let subs: Vec<Notify> = self.subscribers.lock().unwrap_or_else(|p| p.into_inner()).clone();
        for s in subs {
            s();
        }
    }
}

impl Inner {
    fn empty(log: Option<Log>) -> Inner {
        Inner { kvs: BTreeMap::new(), history: VecDeque::new(), revision: 0, compacted: 0, log, live_bytes: 0, failed: None }
    }

    fn replay(&mut self, rec: Record) {
        match rec.op {
            Op::Put => {
                let size = (rec.key.len() + rec.value.len()) as u64;
                if let Some(old) = self.kvs.insert(
                    rec.key.clone(),
                    KeyValue { key: rec.key, value: Arc::new(rec.value), create_revision: rec.create_revision, mod_revision: rec.revision },
                ) {
                    self.live_bytes -= (old.key.len() + old.value.len()) as u64;
                }
                self.live_bytes += size;
            }
            Op::Delete => {
                if let Some(old) = self.kvs.remove(&rec.key) {
                    self.live_bytes -= (old.key.len() + old.value.len()) as u64;
                }
            }
            Op::Floor => {}
        }
        self.revision = self.revision.max(rec.revision);
    }

    /// Makes `rec` durable, then applies it. Nothing is applied on error.
    fn commit(&mut self, rec: Record, event: Event) -> Result<(), StoreError> {
        if let Some(why) = &self.failed {
            return Err(StoreError::Io(format!("store refused writes after an earlier failure: {why}")));
        }
        if let Some(log) = self.log.as_mut() {
            let bytes = rec.encode();
            let res = log.file.write_all(&bytes).and_then(|_| log.file.sync_data());
            if let Err(e) = res {
                // Roll the file back so a half-written record is not followed by good ones.
                if let Err(e2) = log.file.set_len(log.bytes).and_then(|_| log.file.sync_all()) {
                    self.failed = Some(format!("{e}; rollback failed: {e2}"));
                }
                return Err(io(e));
            }
            log.bytes += bytes.len() as u64;
        }
        self.replay(rec);
        self.history.push_back(event);
        while self.history.len() > MAX_HISTORY_EVENTS {
            let old = self.history.pop_front().expect("non-empty");
            self.compacted = self.compacted.max(old.revision);
        }
        self.maybe_rewrite_log();
        Ok(())
    }

    /// Rewrites the log as a snapshot when it is mostly dead records.
    fn maybe_rewrite_log(&mut self) {
        let Some(log) = self.log.as_ref() else { return };
        if log.bytes < LOG_REWRITE_MIN_BYTES || log.bytes < 2 * self.live_bytes {
            return;
        }
        let dir = log.dir.clone();
        let tmp = dir.join("wal.log.tmp");
        let result = (|| -> std::io::Result<File> {
            let mut f = File::create(&tmp)?;
            let mut w = std::io::BufWriter::new(&mut f);
            for kv in self.kvs.values() {
                let rec = Record { op: Op::Put, revision: kv.mod_revision, create_revision: kv.create_revision, key: kv.key.clone(), value: kv.value.to_vec() };
                w.write_all(&rec.encode())?;
            }
            let floor = Record { op: Op::Floor, revision: self.revision, create_revision: 0, key: String::new(), value: vec![] };
            w.write_all(&floor.encode())?;
            w.flush()?;
            drop(w);
            f.sync_all()?;
            std::fs::rename(&tmp, dir.join(LOG_NAME))?;
            File::open(&dir)?.sync_all()?;
            OpenOptions::new().read(true).append(true).open(dir.join(LOG_NAME))
        })();
        // A failed rewrite leaves the old log in place, still valid.
        if let Ok(file) = result {
            let bytes = file.metadata().map(|m| m.len()).unwrap_or(0);
            self.log = Some(Log { file, dir, bytes });
        }
    }
}

impl Store for Embedded {
    fn get(&self, key: &str) -> Result<Option<KeyValue>, StoreError> {
        Ok(self.lock().kvs.get(key).cloned())
    }

    fn range(&self, prefix: &str, start_after: &str, limit: usize) -> Result<RangeResult, StoreError> {
        let inner = self.lock();
        let mut kvs = Vec::new();
        let mut more = false;
        let start = if start_after.is_empty() { prefix.to_string() } else { start_after.to_string() };
        for (k, v) in inner.kvs.range(start..) {
            if !k.starts_with(prefix) {
                break;
            }
            if k.as_str() == start_after {
                continue;
            }
            if limit > 0 && kvs.len() == limit {
                more = true;
                break;
            }
            kvs.push(v.clone());
        }
        Ok(RangeResult { kvs, revision: inner.revision, more })
    }

    fn create(&self, key: &str, value: Vec<u8>) -> Result<Revision, StoreError> {
        check_sizes(key, &value)?;
        let rev = {
            let mut inner = self.lock();
            if inner.kvs.contains_key(key) {
                return Err(StoreError::AlreadyExists);
            }
            let rev = inner.revision + 1;
            let kv = KeyValue { key: key.into(), value: Arc::new(value.clone()), create_revision: rev, mod_revision: rev };
            let rec = Record { op: Op::Put, revision: rev, create_revision: rev, key: key.into(), value };
            inner.commit(rec, Event { kind: EventKind::Put, kv, prev: None, revision: rev })?;
            rev
        };
        self.notify();
        Ok(rev)
    }

    fn update(&self, key: &str, value: Vec<u8>, expected: Revision) -> Result<Revision, StoreError> {
        check_sizes(key, &value)?;
        let rev = {
            let mut inner = self.lock();
            let cur = inner.kvs.get(key).cloned().ok_or(StoreError::NotFound)?;
            if cur.mod_revision != expected {
                return Err(StoreError::Conflict { current: Box::new(cur) });
            }
            let rev = inner.revision + 1;
            let kv = KeyValue { key: key.into(), value: Arc::new(value.clone()), create_revision: cur.create_revision, mod_revision: rev };
            let rec = Record { op: Op::Put, revision: rev, create_revision: cur.create_revision, key: key.into(), value };
            inner.commit(rec, Event { kind: EventKind::Put, kv, prev: Some(cur), revision: rev })?;
            rev
        };
        self.notify();
        Ok(rev)
    }

    fn delete(&self, key: &str, expected: Revision) -> Result<(Revision, KeyValue), StoreError> {
        let out = {
            let mut inner = self.lock();
            let cur = inner.kvs.get(key).cloned().ok_or(StoreError::NotFound)?;
            if expected != 0 && cur.mod_revision != expected {
                return Err(StoreError::Conflict { current: Box::new(cur) });
            }
            let rev = inner.revision + 1;
            let rec = Record { op: Op::Delete, revision: rev, create_revision: 0, key: key.into(), value: vec![] };
            inner.commit(rec, Event { kind: EventKind::Delete, kv: cur.clone(), prev: Some(cur.clone()), revision: rev })?;
            (rev, cur)
        };
        self.notify();
        Ok(out)
    }

    fn events_since(&self, after: Revision, limit: usize) -> Result<Vec<Event>, StoreError> {
        let inner = self.lock();
        if after < inner.compacted {
            return Err(StoreError::Compacted { compacted: inner.compacted });
        }
        // History is ordered by revision: skip to the first event after `after`.
        let start = inner.history.partition_point(|e| e.revision <= after);
        let take = if limit == 0 { usize::MAX } else { limit };
        Ok(inner.history.iter().skip(start).take(take).cloned().collect())
    }

    fn revision(&self) -> Revision {
        self.lock().revision
    }

    fn compact(&self, revision: Revision) -> Result<(), StoreError> {
        let mut inner = self.lock();
        let revision = revision.min(inner.revision);
        while inner.history.front().is_some_and(|e| e.revision <= revision) {
            inner.history.pop_front();
        }
        inner.compacted = inner.compacted.max(revision);
        Ok(())
    }

    fn subscribe(&self, notify: Notify) {
        self.subscribers.lock().unwrap_or_else(|p| p.into_inner()).push(notify);
    }
}
