//! Snapshots of the store: every key at one revision, in one file that is
//! also a valid log — a put record per key, in key order, then a floor
//! record with the revision — so a restore is a copy, and the store opens
//! it as it opens its own log after a rewrite.
//!
//! A log may end in a torn write (cut when it opens); a snapshot may not: it
//! is complete only with its floor record last, so `verify` refuses any bad
//! record, a missing floor, and anything after it. That is what tells a
//! whole snapshot from one whose transfer was cut short.
//!
//! `podchain store snapshot save` asks a running apiserver for one (its
//! store's `range` of every key, which is one revision on every backend);
//! `podchain store snapshot restore` writes one into an empty data
//! directory; `podchain store check` verifies a data directory's log.

use crate::disk::Disk;
use crate::embedded::{LOG_NAME, REWRITE_NAME};
use crate::record::{self, Op};
use crate::{KeyValue, Revision, StoreError};

/// A snapshot is encoded, and sent, in pieces of about this size.
pub const SNAPSHOT_CHUNK_BYTES: usize = 1 << 20;

/// What a whole snapshot holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SnapshotInfo {
    pub keys: u64,
    /// The revision it was taken at: the store opens at it.
    pub revision: Revision,
    pub bytes: u64,
}

/// Encodes `kvs` (in key order, each at or before `revision`) and the floor
/// record, handing `sink` pieces of about `SNAPSHOT_CHUNK_BYTES`; returns
/// the bytes written.
pub fn encode<'a, E>(kvs: impl IntoIterator<Item = &'a KeyValue>, revision: Revision, mut sink: impl FnMut(&[u8]) -> Result<(), E>) -> Result<u64, E> {
    let (mut buf, mut total) = (Vec::with_capacity(SNAPSHOT_CHUNK_BYTES * 2), 0u64);
    for kv in kvs {
        record::encode_into(&mut buf, &Op::Put, kv.mod_revision, kv.create_revision, &kv.key, &kv.value);
        if buf.len() >= SNAPSHOT_CHUNK_BYTES {
            sink(&buf)?;
            total += buf.len() as u64;
            buf.clear();
        }
    }
    record::encode_into(&mut buf, &Op::Floor, revision, 0, "", &[]);
    sink(&buf)?;
    Ok(total + buf.len() as u64)
}

/// Checks that `buf` is one whole snapshot: every record intact, puts of
/// distinct keys in key order at or before the revision, the floor record
/// last and nothing after it. The error names the record and its offset.
pub fn verify(buf: &[u8]) -> Result<SnapshotInfo, String> {
    let (mut off, mut keys) = (0usize, 0u64);
    let mut last_key: Option<String> = None;
    let mut puts_upto = 0u64;
    while off < buf.len() {
        let at = |why: String| format!("record {} at offset {off}: {why}", keys + 1);
        let (rec, n) = record::decode(&buf[off..]).map_err(|e| {
            at(match e {
                record::DecodeError::Truncated => "cut short by the end of the file: the snapshot is incomplete".into(),
                record::DecodeError::Corrupt(why) => why,
            })
        })?;
        match rec.op {
            Op::Put => {
                if last_key.as_deref().is_some_and(|k| k >= rec.key.as_str()) {
                    return Err(at(format!("key {:?} is not after the key before it: a snapshot holds each key once, in order", rec.key)));
                }
                if rec.create_revision == 0 || rec.create_revision > rec.revision {
                    return Err(at(format!("key {:?} was created at revision {} and written at {}", rec.key, rec.create_revision, rec.revision)));
                }
                puts_upto = puts_upto.max(rec.revision);
                last_key = Some(rec.key);
                keys += 1;
            }
            Op::Delete => return Err(at("a delete: a snapshot holds only the keys that exist".into())),
            Op::Floor => {
                if !rec.key.is_empty() || !rec.value.is_empty() {
                    return Err(at("the closing revision record has a key or a value".into()));
                }
                if off + n != buf.len() {
                    return Err(at(format!("the closing revision record is followed by {} more bytes", buf.len() - off - n)));
                }
                if rec.revision < puts_upto {
                    return Err(at(format!("the snapshot's revision {} is before a key's revision {puts_upto}", rec.revision)));
                }
                return Ok(SnapshotInfo { keys, revision: rec.revision, bytes: buf.len() as u64 });
            }
        }
        off += n;
    }
    Err(format!("the file ends after {keys} keys without its closing revision record: the snapshot is incomplete"))
}

/// Writes the snapshot `buf` as the log of an empty store on `disk`, its
/// revision raised by `bump_revision` (so that clients which saw later
/// revisions before the restore are not shown old ones again: they are told
/// their watch is too old and relist). Refuses a store that has a log.
pub fn restore(buf: &[u8], disk: &dyn Disk, bump_revision: u64) -> Result<SnapshotInfo, StoreError> {
    let mut info = verify(buf).map_err(|why| StoreError::Corrupt(format!("the snapshot: {why}")))?;
    if disk.read(LOG_NAME).map_err(|e| StoreError::Io(e.to_string()))?.is_some() {
        return Err(StoreError::Io(format!("{} exists: restore into an empty data directory", disk.describe(LOG_NAME))));
    }
    info.revision = info.revision.checked_add(bump_revision).ok_or_else(|| StoreError::Io(format!("--bump-revision {bump_revision}: the revision would overflow")))?;
    // `verify` saw the floor record last, and of this length.
    let mut out = Vec::with_capacity(buf.len());
    out.extend_from_slice(&buf[..buf.len() - FLOOR_RECORD_BYTES]);
    record::encode_into(&mut out, &Op::Floor, info.revision, 0, "", &[]);
    let io = |e: std::io::Error| StoreError::Io(e.to_string());
    let mut f = disk.create(REWRITE_NAME).map_err(io)?;
    f.append(&out).map_err(io)?;
    f.sync().map_err(io)?;
    disk.rename(REWRITE_NAME, LOG_NAME).map_err(io)?;
    info.bytes = out.len() as u64;
    Ok(info)
}

/// A floor record: header and payload, with no key and no value.
const FLOOR_RECORD_BYTES: usize = 8 + record::MIN_PAYLOAD_BYTES;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::disk::MemDisk;
    use crate::{Embedded, Store};
    use std::sync::Arc;

    fn snapshot_of(s: &Embedded) -> Vec<u8> {
        let r = s.range("", "", 0).unwrap();
        let mut out = Vec::new();
        encode(&r.kvs, r.revision, |b| -> Result<(), ()> {
            out.extend_from_slice(b);
            Ok(())
        })
        .unwrap();
        out
    }

    fn store() -> Embedded {
        let s = Embedded::in_memory();
        for i in 0..20 {
            s.create(&format!("/k/{i:02}"), format!("v{i}").into_bytes()).unwrap();
        }
        let rev = s.get("/k/03").unwrap().unwrap().mod_revision;
        s.update("/k/03", b"changed".to_vec(), rev).unwrap();
        s.delete("/k/07", 0).unwrap();
        s
    }

    #[test]
    fn a_restored_snapshot_opens_as_the_store_it_was_taken_from() {
        let s = store();
        let snap = snapshot_of(&s);
        let info = verify(&snap).unwrap();
        assert_eq!((info.keys, info.revision), (19, s.revision()));
        let disk = MemDisk::new();
        restore(&snap, &disk, 0).unwrap();
        let (r, report) = Embedded::open_on(Arc::new(disk.clone())).unwrap();
        assert_eq!(report.cut, None);
        assert_eq!(r.revision(), s.revision());
        assert_eq!(r.range("", "", 0).unwrap().kvs, s.range("", "", 0).unwrap().kvs);
        // The restored store goes on from the snapshot's revision.
        assert_eq!(r.create("/k/new", b"x".to_vec()).unwrap(), s.revision() + 1);
        assert!(restore(&snap, &disk, 0).unwrap_err().to_string().contains("exists"), "a store with a log is not overwritten");
    }

    #[test]
    fn a_bumped_restore_starts_past_the_revisions_clients_saw() {
        let s = store();
        let disk = MemDisk::new();
        let info = restore(&snapshot_of(&s), &disk, 1000).unwrap();
        assert_eq!(info.revision, s.revision() + 1000);
        let (r, _) = Embedded::open_on(Arc::new(disk)).unwrap();
        assert_eq!(r.revision(), s.revision() + 1000);
        assert_eq!(r.get("/k/03").unwrap().unwrap().value.as_slice(), b"changed");
    }

    #[test]
    fn an_incomplete_or_damaged_snapshot_is_refused_and_nothing_written() {
        let snap = snapshot_of(&store());
        for cut in [0, 1, snap.len() / 2, snap.len() - 1] {
            let e = verify(&snap[..cut]).unwrap_err();
            assert!(e.contains("incomplete"), "cut at {cut}: {e}");
        }
        let mut flipped = snap.clone();
        flipped[snap.len() / 2] ^= 0x40;
        assert!(verify(&flipped).unwrap_err().contains("at offset"));
        let mut trailing = snap.clone();
        trailing.extend_from_slice(&[0; 16]);
        assert!(verify(&trailing).unwrap_err().contains("followed by 16 more bytes"));
        let disk = MemDisk::new();
        assert!(restore(&flipped, &disk, 0).is_err());
        assert_eq!(disk.read(LOG_NAME).unwrap(), None);
    }

    #[test]
    fn a_log_with_deletes_or_unordered_keys_is_not_a_snapshot() {
        let mut log = Vec::new();
        record::encode_into(&mut log, &Op::Put, 1, 1, "/b", b"1");
        record::encode_into(&mut log, &Op::Put, 2, 2, "/a", b"2");
        record::encode_into(&mut log, &Op::Floor, 2, 0, "", &[]);
        assert!(verify(&log).unwrap_err().contains("not after the key before it"));
        let mut log = Vec::new();
        record::encode_into(&mut log, &Op::Delete, 1, 0, "/a", &[]);
        assert!(verify(&log).unwrap_err().contains("a delete"));
    }
}
