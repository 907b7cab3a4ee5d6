//! What opening a damaged log does. A torn final write (the one group
//! commit in flight when the machine died, never acknowledged) is cut and
//! reported with what was cut; anything else that fails to decode is
//! corruption, and the store refuses to open, naming the file, the offset and
//! the record, and changes nothing. Also: the log rewrite runs beside the
//! writers and keeps every write made while it ran.

use podstore::disk::MemDisk;
use podstore::embedded::{LOG_NAME, LOG_REWRITE_MIN_BYTES, MAX_BATCH_BYTES, REWRITE_NAME, SECTOR_BYTES};
use podstore::{Embedded, Store, StoreError};
use std::sync::Arc;

/// A log of `n` records (keys /k0.., values of `value_len` bytes) and the offset of each.
fn log_of(n: usize, value_len: usize) -> (Vec<u8>, Vec<usize>) {
    let disk = MemDisk::new();
    let (s, _) = Embedded::open_on(Arc::new(disk.clone())).unwrap();
    for i in 0..n {
        s.create(&format!("/k{i}"), vec![b'v'; value_len]).unwrap();
    }
    let bytes = disk.contents(LOG_NAME).unwrap();
    let mut offsets = vec![];
    let mut off = 0;
    while off < bytes.len() {
        offsets.push(off);
        off += podstore::record::decode(&bytes[off..]).unwrap().1;
    }
    (bytes, offsets)
}

fn open(bytes: &[u8]) -> (Result<(Embedded, podstore::embedded::OpenReport), StoreError>, MemDisk) {
    let disk = MemDisk::new();
    disk.put(LOG_NAME, bytes.to_vec());
    (Embedded::open_on(Arc::new(disk.clone())), disk)
}

fn refused(bytes: &[u8]) -> String {
    let (r, disk) = open(bytes);
    let e = match r {
        Err(StoreError::Corrupt(e)) => e,
        Err(e) => panic!("expected corruption, got {e}"),
        Ok((_, rep)) => panic!("expected a refusal, opened with {rep:?}"),
    };
    assert_eq!(disk.contents(LOG_NAME).unwrap(), bytes, "nothing is truncated");
    e
}

#[test]
fn a_flipped_byte_mid_log_refuses_to_open_naming_file_offset_and_record() {
    let (mut bytes, offsets) = log_of(1000, 40);
    let at = offsets[500] + 20;
    bytes[at] ^= 0x10;
    let e = refused(&bytes);
    assert!(e.contains("wal.log") && e.contains(&format!("record 501 at offset {}", offsets[500])) && e.contains("checksum"), "{e}");
}

#[test]
fn a_flipped_byte_in_the_last_record_is_corruption_too() {
    // Without an unwritten sector it cannot be a torn write: the bytes were written.
    let (mut bytes, offsets) = log_of(10, 40);
    let last = *offsets.last().unwrap();
    bytes[last + 12] ^= 1;
    let e = refused(&bytes);
    assert!(e.contains("record 10") && e.contains("no unwritten sector"), "{e}");
}

#[test]
fn a_length_that_claims_past_the_end_is_corruption_when_records_follow() {
    let (mut bytes, offsets) = log_of(100, 40);
    let at = offsets[90];
    let past_the_end = (bytes.len() as u32).to_le_bytes();
    bytes[at..at + 4].copy_from_slice(&past_the_end);
    let e = refused(&bytes);
    assert!(e.contains("record 91") && e.contains("followed by a valid record"), "{e}");
}

#[test]
fn a_torn_final_record_is_cut_and_reported() {
    let (bytes, offsets) = log_of(10, 40);
    let last = *offsets.last().unwrap();
    let torn = &bytes[..last + 15];
    let (r, disk) = open(torn);
    let (s, rep) = r.unwrap();
    let cut = rep.cut.unwrap();
    assert_eq!((cut.offset, cut.bytes, cut.after_record, cut.reason.as_str()), (last as u64, 15, 9, "a torn final record"));
    assert_eq!((rep.records, s.revision()), (9, 9));
    assert_eq!(disk.contents(LOG_NAME).unwrap(), &bytes[..last], "cut at the last whole record");
}

#[test]
fn zeros_after_the_last_record_are_cut() {
    let (mut bytes, _) = log_of(10, 40);
    let len = bytes.len();
    bytes.extend(std::iter::repeat_n(0u8, 4096));
    let (r, _) = open(&bytes);
    let (s, rep) = r.unwrap();
    let cut = rep.cut.unwrap();
    assert_eq!((cut.offset as usize, cut.bytes, cut.reason.as_str()), (len, 4096, "4096 zero bytes after the last record"));
    assert_eq!(s.revision(), 10);
}

#[test]
fn a_torn_group_commit_with_an_unwritten_sector_is_cut_whole() {
    // One batch of big records was in flight: a sector in the middle of its
    // first record never reached the disk, the records after it did. None
    // was acknowledged (the fsync did not finish): all of them go.
    let (mut bytes, offsets) = log_of(20, 3 * SECTOR_BYTES);
    let first_of_batch = offsets[15];
    let sector = (first_of_batch / SECTOR_BYTES + 2) * SECTOR_BYTES;
    bytes[sector..sector + SECTOR_BYTES].fill(0);
    let (r, _) = open(&bytes);
    let (s, rep) = r.unwrap();
    let cut = rep.cut.unwrap();
    assert_eq!((cut.offset as usize, cut.after_record), (first_of_batch, 15));
    assert!(cut.reason.contains("unwritten (zero) sector"), "{}", cut.reason);
    assert_eq!(s.revision(), 15);
}

#[test]
fn a_torn_write_is_believed_only_within_max_batch_bytes_of_the_end() {
    // A record with an unwritten sector, and after it the rest of its batch:
    // with exactly MAX_BATCH_BYTES from its start to the end of the file it
    // can be the last group commit; with one byte more it cannot.
    let (bytes, _) = log_of(3, 40);
    let torn = |rest: usize| {
        let mut b = bytes.clone();
        let at = b.len();
        b.extend_from_slice(&(4 * SECTOR_BYTES as u32).to_le_bytes());
        b.extend_from_slice(&[0xAB; 4]);
        b.resize(at + 8 + 4 * SECTOR_BYTES, 0xCD);
        let sector = (at / SECTOR_BYTES + 2) * SECTOR_BYTES;
        b[sector..sector + SECTOR_BYTES].fill(0);
        b.resize(at + rest, 0xCD);
        b
    };
    let (r, _) = open(&torn(MAX_BATCH_BYTES));
    assert_eq!(r.unwrap().1.cut.unwrap().bytes as usize, MAX_BATCH_BYTES, "at the bound: cut");
    let e = refused(&torn(MAX_BATCH_BYTES + 1));
    assert!(e.contains("more than one group commit writes"), "{e}");
}

#[test]
fn the_log_rewrite_runs_beside_writers_and_keeps_what_they_wrote() {
    let disk = MemDisk::new();
    let (s, _) = Embedded::open_on(Arc::new(disk.clone())).unwrap();
    for i in 0..100 {
        s.create(&format!("/keep{i}"), vec![b'k'; 100]).unwrap();
    }
    // Rewrites of one big key until the log passes the threshold: the live data is small.
    let big = 1 << 20;
    let mut rev = s.create("/big", vec![0; big]).unwrap();
    // Hold the new log's fsync so the rewrite is caught in the middle.
    disk.hold_syncs_of(REWRITE_NAME);
    while s.commit_stats().rewrites == 0 && disk.contents(REWRITE_NAME).is_none() {
        rev = s.update("/big", vec![(rev % 251) as u8; big], rev).unwrap();
    }
    assert!(disk.contents(LOG_NAME).unwrap().len() as u64 >= LOG_REWRITE_MIN_BYTES);
    disk.wait_for_held_syncs(1);
    // The rewrite is writing; writers are not held up by it.
    for i in 0..50 {
        s.create(&format!("/during{i}"), b"d".to_vec()).unwrap();
    }
    s.delete("/keep0", 0).unwrap();
    disk.release_syncs();
    s.wait_for_rewrite();
    let stats = s.commit_stats();
    assert_eq!((stats.rewrites, stats.rewrite_failures), (1, 0));
    let after = disk.contents(LOG_NAME).unwrap().len();
    assert!(after < 4 * big, "the log is a snapshot now: {after} bytes");
    let want = (s.range("/", "", 0).unwrap(), s.revision());
    // Writes after the swap go to the new log.
    s.create("/after", b"a".to_vec()).unwrap();
    drop(s);
    disk.crash();
    let (s, rep) = Embedded::open_on(Arc::new(disk.clone())).unwrap();
    assert_eq!(rep.cut, None);
    assert_eq!(s.revision(), want.1 + 1);
    assert!(s.get("/after").unwrap().is_some() && s.get("/keep0").unwrap().is_none() && s.get("/during49").unwrap().is_some());
    let mut got = s.range("/", "", 0).unwrap().kvs;
    got.retain(|kv| kv.key != "/after");
    assert_eq!(got, want.0.kvs, "every key, value and revision");
}

/// `check_on` (`podchain store check`) finds what `open` would, and changes
/// nothing: neither a torn tail nor a corrupt log is touched.
#[test]
fn a_check_reports_what_opening_would_do_and_changes_nothing() {
    let (bytes, offsets) = log_of(10, 40);
    let last = *offsets.last().unwrap();
    let disk = MemDisk::new();
    disk.put(LOG_NAME, bytes[..last + 15].to_vec());
    let rep = Embedded::check_on(&disk).unwrap();
    assert_eq!((rep.keys, rep.open.records, rep.open.revision, rep.log_bytes), (9, 9, 9, last as u64 + 15));
    assert_eq!(rep.open.cut.unwrap().reason, "a torn final record");
    assert_eq!(disk.contents(LOG_NAME).unwrap(), &bytes[..last + 15], "the torn tail is reported, not cut");
    let mut flipped = bytes.clone();
    flipped[offsets[5] + 20] ^= 0x10;
    disk.put(LOG_NAME, flipped.clone());
    match Embedded::check_on(&disk) {
        Err(StoreError::Corrupt(e)) => assert!(e.contains(&format!("record 6 at offset {}", offsets[5])), "{e}"),
        other => panic!("expected corruption, got {other:?}"),
    }
    assert_eq!(disk.contents(LOG_NAME).unwrap(), flipped);
}
