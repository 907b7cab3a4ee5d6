//! The embedded backend: the whole key space in memory, every write appended
//! to a checksummed write-ahead log and made durable before it is
//! acknowledged.
//!
//! **Group commit.** A write is checked and given its revision under the
//! state lock against the latest state, writes not yet durable included
//! (the `overlay`), and queued (`staged`). The first waiting writer that
//! finds no flush under way becomes the leader: it takes every queued
//! record (up to `MAX_BATCH_BYTES`), appends them in one write and one
//! fdatasync with no state lock held, then applies them in revision order
//! and wakes the others. So concurrent writers share an fsync, each is
//! acknowledged only after the fsync that covers it, and readers (get,
//! range, events, the revision) see only durable writes, in commit order.
//! An answer that depends on a write not yet durable (a conflict with it,
//! say) waits for it as well.
//!
//! **Failure.** When an append or fsync fails, the store stops accepting
//! writes until it is reopened, and every write not yet durable fails: after
//! a failed fsync the page cache can no longer be trusted (etcd and
//! PostgreSQL stop too). Reads go on. A write that failed so has an unknown
//! outcome, as a failed etcd request has: its bytes may still reach the disk.
//!
//! **Log rewrite.** When the log is past `LOG_REWRITE_MIN_BYTES` and twice
//! the live data, a background thread rewrites it as a snapshot: it copies
//! the live keys at one revision (under the locks, briefly), writes them to
//! a new file with no lock held while writers keep appending to the old log
//! (their batches are also kept aside), catches up with those batches
//! round by round with no lock held, then, holding off flushes only for
//! that, appends the last of them to the new file, syncs it and renames it
//! over the old one.
//!
//! **Opening.** The log is replayed. A bad record is a torn final write, cut
//! off and reported, only when it can be one: zeros to the end of the file,
//! a record the file ends in the middle of with no valid record after it, or
//! a checksum failure in a record with an unwritten (zero) sector — and in
//! every case within the last `MAX_BATCH_BYTES` of the file, the most one
//! unfinished group commit can leave. Any other bad record is corruption:
//! `open` refuses, naming the file, the offset and the record, and changes
//! nothing.
//!
//! History for `events_since` is kept in memory, bounded by
//! `MAX_HISTORY_EVENTS` and by `MAX_HISTORY_BYTES` (each event counted by
//! `event_bytes`: the values it holds alive and its keys), whichever is
//! reached first; a restart starts history afresh at the recovered
//! revision, so watchers from before the restart are told "compacted" and
//! relist, as they are when an upstream apiserver restarts.

use crate::disk::{Disk, LogFile, OsDisk};
use crate::record::{self, DecodeError, Op, Record};
use crate::{check_sizes, Event, EventKind, KeyValue, RangeResult, Revision, Store, StoreError};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::path::Path;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

/// Events kept for `events_since`; older ones are compacted automatically.
pub const MAX_HISTORY_EVENTS: usize = 100_000;
/// The most bytes of values and keys the history holds (`event_bytes`), so
/// that large objects cannot make 100,000 events hold gigabytes. The
/// apiserver's feed reads each event right after its commit, so what history
/// is for — a watch from a recent revision — needs far less; an older one is
/// told "compacted" and relists, as after an upstream compaction.
pub const MAX_HISTORY_BYTES: usize = 64 * 1024 * 1024;

/// What one event counts against `MAX_HISTORY_BYTES`: its value, the value
/// before it and their keys (a value shared with another event or the key
/// space is counted again: the bound is conservative).
pub fn event_bytes(ev: &Event) -> usize {
    let kv = |kv: &KeyValue| kv.key.len() + kv.value.len();
    kv(&ev.kv) + ev.prev.as_ref().map_or(0, kv)
}
/// The log is rewritten when it exceeds this size and twice the live data.
pub const LOG_REWRITE_MIN_BYTES: u64 = 64 * 1024 * 1024;
/// The most one group commit appends (a batch holds at least one record,
/// and a record is at most `record::MAX_RECORD_BYTES`). It also bounds what
/// a torn write can leave at the end of the log.
pub const MAX_BATCH_BYTES: usize = 8 * 1024 * 1024;
/// A torn write leaves whole sectors unwritten, and they read as zeros.
pub const SECTOR_BYTES: usize = 512;
/// The log's file name in the data directory.
pub const LOG_NAME: &str = "wal.log";
/// The new log while a rewrite writes it.
pub const REWRITE_NAME: &str = "wal.log.rewrite";
/// A rewrite catches up with the writes made since its snapshot, without
/// holding writers off, until one round has less than this to copy ...
const REWRITE_CATCH_UP_BYTES: usize = 256 * 1024;
/// ... or after this many rounds; the swap copies what is left.
const REWRITE_CATCH_UP_ROUNDS: usize = 16;
/// The old log is given back to the file system this much at a time.
const REWRITE_RELEASE_BYTES: u64 = 16 * 1024 * 1024;

type Notify = Arc<dyn Fn() + Send + Sync>;

pub struct Embedded {
    shared: Arc<Shared>,
}

struct Shared {
    state: Mutex<State>,
    /// Signalled when a group commit or a rewrite ends.
    changed: Condvar,
    /// The log, locked by the leader for its append and fsync (and until its
    /// batch is applied), and by a rewrite's snapshot and swap. Lock order:
    /// `log`, then `state`.
    log: Mutex<Option<Log>>,
    subscribers: Mutex<Vec<Notify>>,
}

struct State {
    kvs: BTreeMap<String, KeyValue>,
    history: VecDeque<Event>,
    /// `event_bytes` of the history's events.
    history_bytes: usize,
    /// The last durable (and applied) revision.
    revision: Revision,
    compacted: Revision,
    live_bytes: u64,
    /// Writes go to a log (false: in memory only).
    logged: bool,
    /// Set when the log failed: refuse writes.
    failed: Option<String>,
    /// The last revision given to a write (durable or not).
    assigned: Revision,
    /// Writes checked and given a revision, not yet durable, in revision order.
    staged: VecDeque<Staged>,
    /// For each key with staged writes: the revision of the last and the
    /// value after it (None: deleted).
    overlay: HashMap<String, (Revision, Option<KeyValue>)>,
    /// A leader is appending a batch.
    flushing: bool,
    rewriting: bool,
    stats: CommitStats,
}

struct Staged {
    bytes: Vec<u8>,
    event: Event,
    /// Its writer waits here: woken when the commit covering it ends, or
    /// when it is first in line to lead the next (not by every commit).
    wake: Arc<Condvar>,
}

struct Log {
    disk: Arc<dyn Disk>,
    file: Box<dyn LogFile>,
    bytes: u64,
    /// While a rewrite runs: every batch appended since its snapshot.
    tail: Option<Vec<u8>>,
}

/// What the store's group commits and rewrites have done since it opened.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CommitStats {
    /// Writes made durable.
    pub writes: u64,
    /// fdatasyncs of the log that made them so.
    pub syncs: u64,
    /// The most writes one sync covered.
    pub largest_batch: u64,
    pub rewrites: u64,
    /// Rewrites that failed (the old log stayed in place, still valid).
    pub rewrite_failures: u64,
    /// The longest a rewrite held off writers (its snapshot and its swap), in microseconds.
    pub longest_rewrite_hold_micros: u64,
    /// Refusals that waited for the write not yet durable they rest on.
    pub answers_held_for_durability: u64,
}

/// Bytes cut from the end of the log when it was opened.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cut {
    pub offset: u64,
    pub bytes: u64,
    /// Records decoded before it.
    pub after_record: u64,
    pub reason: String,
}

/// What `open` found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OpenReport {
    pub records: u64,
    pub revision: Revision,
    /// A torn final write cut off (never acknowledged: its fsync did not finish).
    pub cut: Option<Cut>,
}

fn io(e: std::io::Error) -> StoreError {
    StoreError::Io(e.to_string())
}

/// What `check_on` found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckReport {
    /// What `open` would report (and cut).
    pub open: OpenReport,
    pub keys: u64,
    /// Bytes of the live keys and values.
    pub live_bytes: u64,
    pub log_bytes: u64,
    /// A rewrite's new log is there: a rewrite was cut short (the log in
    /// place is the whole store; the next rewrite replaces that file).
    pub unfinished_rewrite: bool,
}

/// Replays the log on `disk`: the state it holds, what was found, and
/// where the valid records end (a torn final write after that is to be
/// cut; anything worse is `Corrupt`).
fn replay_log(disk: &dyn Disk) -> Result<(State, OpenReport, u64), StoreError> {
    let buf = disk.read(LOG_NAME).map_err(io)?.unwrap_or_default();
    let mut st = State::empty(true);
    let mut report = OpenReport::default();
    let mut off = 0usize;
    while off < buf.len() {
        match record::decode(&buf[off..]) {
            Ok((rec, n)) => {
                st.replay(rec);
                off += n;
                report.records += 1;
            }
            Err(e) => {
                let reason = torn_tail(&buf, off, &e, report.records).map_err(|why| StoreError::Corrupt(format!("{}: {why}", disk.describe(LOG_NAME))))?;
                report.cut = Some(Cut { offset: off as u64, bytes: (buf.len() - off) as u64, after_record: report.records, reason });
                break;
            }
        }
    }
    Ok((st, report, off as u64))
}

impl Embedded {
    /// A store that keeps nothing on disk (tests, the model, simulations).
    pub fn in_memory() -> Embedded {
        Embedded::from_parts(State::empty(false), None)
    }

    /// Opens (or creates) the durable store in `dir`.
    pub fn open(dir: &Path) -> Result<(Embedded, OpenReport), StoreError> {
        Embedded::open_on(Arc::new(OsDisk::new(dir).map_err(io)?))
    }

    /// Opens the store on `disk` (a directory, or a test's `MemDisk`).
    pub fn open_on(disk: Arc<dyn Disk>) -> Result<(Embedded, OpenReport), StoreError> {
        let (mut st, mut report, end) = replay_log(&*disk)?;
        let mut file = disk.open_append(LOG_NAME).map_err(io)?;
        if report.cut.is_some() {
            file.truncate(end).map_err(io)?;
        }
        st.compacted = st.revision;
        st.assigned = st.revision;
        report.revision = st.revision;
        let log = Log { disk, file, bytes: end, tail: None };
        Ok((Embedded::from_parts(st, Some(log)), report))
    }

    /// What opening the store on `disk` would find, changing nothing
    /// (`podchain store check`): `Corrupt` where `open` would refuse.
    pub fn check_on(disk: &dyn Disk) -> Result<CheckReport, StoreError> {
        let (st, mut open, end) = replay_log(disk)?;
        open.revision = st.revision;
        let unfinished_rewrite = disk.read(REWRITE_NAME).map_err(io)?.is_some();
        let log_bytes = end + open.cut.as_ref().map_or(0, |c| c.bytes);
        Ok(CheckReport { open, keys: st.kvs.len() as u64, live_bytes: st.live_bytes, log_bytes, unfinished_rewrite })
    }

    fn from_parts(state: State, log: Option<Log>) -> Embedded {
        Embedded { shared: Arc::new(Shared { state: Mutex::new(state), changed: Condvar::new(), log: Mutex::new(log), subscribers: Mutex::new(Vec::new()) }) }
    }

    /// What group commit and log rewrites have done so far.
    pub fn commit_stats(&self) -> CommitStats {
        self.shared.lock_state().stats.clone()
    }

    /// Writes checked and queued, waiting for the fsync that will cover them
    /// (not those in the fsync under way).
    pub fn pending_writes(&self) -> usize {
        self.shared.lock_state().staged.len()
    }

    /// Waits until no log rewrite is running (tests; a clean shutdown).
    pub fn wait_for_rewrite(&self) {
        let mut st = self.shared.lock_state();
        while st.rewriting {
            st = self.shared.wait(st);
        }
    }

    fn notify(&self) {
        let subs: Vec<Notify> = self.shared.subscribers.lock().unwrap_or_else(|p| p.into_inner()).clone();
        for s in subs {
            s();
        }
    }

    /// The one write path: `decide` sees the key's latest value (durable or
    /// not) and the revision this write would get, and returns the write's
    /// event or why it is refused.
    fn write(&self, key: &str, decide: impl FnOnce(Option<&KeyValue>, Revision) -> Result<Event, StoreError>) -> Result<Event, StoreError> {
        let sh = &self.shared;
        let mut st = sh.lock_state();
        if let Some(why) = &st.failed {
            return Err(StoreError::Io(format!("the store refuses writes after a failure of its log: {why}")));
        }
        let (current, staged_at) = match st.overlay.get(key) {
            Some((rev, v)) => (v.clone(), Some(*rev)),
            None => (st.kvs.get(key).cloned(), None),
        };
        let rev = st.assigned + 1;
        let ev = match decide(current.as_ref(), rev) {
            Ok(ev) => ev,
            Err(e) => {
                // The answer rests on a write not yet durable: give it once that write is.
                if let Some(r) = staged_at {
                    st.stats.answers_held_for_durability += 1;
                    drop(sh.wait_durable(st, r)?);
                }
                return Err(e);
            }
        };
        st.assigned = rev;
        if !st.logged {
            st.apply(ev.clone());
            drop(st);
            self.notify();
            return Ok(ev);
        }
        let mut bytes = Vec::new();
        match ev.kind {
            EventKind::Put => record::encode_into(&mut bytes, &Op::Put, rev, ev.kv.create_revision, key, &ev.kv.value),
            EventKind::Delete => record::encode_into(&mut bytes, &Op::Delete, rev, 0, key, &[]),
        }
        let after = (ev.kind == EventKind::Put).then(|| ev.kv.clone());
        st.overlay.insert(key.to_string(), (rev, after));
        let wake = Arc::new(Condvar::new());
        st.staged.push_back(Staged { bytes, event: ev.clone(), wake: wake.clone() });
        drop(sh.wait_durable_on(st, rev, &wake)?);
        self.notify();
        Ok(ev)
    }
}

impl Shared {
    fn lock_state(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock leaves consistent state: a write
        // is applied only after its record is durable.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn lock_log(&self) -> MutexGuard<'_, Option<Log>> {
        self.log.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn wait<'a>(&self, st: MutexGuard<'a, State>) -> MutexGuard<'a, State> {
        self.changed.wait(st).unwrap_or_else(|p| p.into_inner())
    }

    /// Returns once revision `rev` is durable (leading group commits while
    /// no one else does), or fails if the log failed first.
    fn wait_durable<'a>(self: &'a Arc<Self>, st: MutexGuard<'a, State>, rev: Revision) -> Result<MutexGuard<'a, State>, StoreError> {
        self.wait_durable_on(st, rev, &self.changed)
    }

    /// `wait_durable`, sleeping on `wake` between commits. A staged write
    /// sleeps on its own condition variable, so a commit wakes the writers
    /// it covered and the one to lead next, not every writer waiting (with
    /// a hundred writers, waking all of them at each commit to find most
    /// still waiting was most of the store's cost: the kernel's context
    /// switches, in perf). Others (an answer held for a write not yet
    /// durable) sleep on `changed`, which every commit signals.
    fn wait_durable_on<'a>(self: &'a Arc<Self>, mut st: MutexGuard<'a, State>, rev: Revision, wake: &Condvar) -> Result<MutexGuard<'a, State>, StoreError> {
        loop {
            if st.revision >= rev {
                return Ok(st);
            }
            if let Some(why) = &st.failed {
                return Err(StoreError::Io(format!("the write was not made durable: {why}")));
            }
            st = if st.flushing { wake.wait(st).unwrap_or_else(|p| p.into_inner()) } else { self.flush_batch(st) };
        }
    }

    /// Leads one group commit: every staged write up to `MAX_BATCH_BYTES`,
    /// one append, one fdatasync, then applied in order.
    fn flush_batch<'a>(self: &'a Arc<Self>, mut st: MutexGuard<'a, State>) -> MutexGuard<'a, State> {
        st.flushing = true;
        let mut bytes = Vec::new();
        let mut batch = Vec::new();
        let mut covered = Vec::new();
        while let Some(s) = st.staged.front() {
            if !batch.is_empty() && bytes.len() + s.bytes.len() > MAX_BATCH_BYTES {
                break;
            }
            let s = st.staged.pop_front().expect("front exists");
            bytes.extend_from_slice(&s.bytes);
            batch.push(s.event);
            covered.push(s.wake);
        }
        drop(st);
        let mut log = self.lock_log();
        let log_ref = log.as_mut().expect("a logged store has a log");
        let res = log_ref.append_durably(&bytes);
        let mut st = self.lock_state();
        st.flushing = false;
        match res {
            Ok(()) => {
                st.stats.syncs += 1;
                st.stats.writes += batch.len() as u64;
                st.stats.largest_batch = st.stats.largest_batch.max(batch.len() as u64);
                for ev in batch {
                    if st.overlay.get(&ev.kv.key).is_some_and(|(r, _)| *r == ev.revision) {
                        st.overlay.remove(&ev.kv.key);
                    }
                    st.apply(ev);
                }
                if !st.rewriting && log_ref.bytes >= LOG_REWRITE_MIN_BYTES && log_ref.bytes >= 2 * st.live_bytes {
                    st.rewriting = true;
                    let shared = self.clone();
                    std::thread::Builder::new().name("podstore-rewrite".into()).spawn(move || shared.rewrite()).map_err(|e| eprintln!("podstore: cannot start the log rewrite: {e}")).ok();
                }
            }
            Err(e) => {
                st.failed = Some(format!("{}: {e}", log_ref.disk.describe(LOG_NAME)));
                // Every write not yet durable fails: wake them all to say so.
                covered.extend(st.staged.drain(..).map(|s| s.wake));
                st.overlay.clear();
            }
        }
        drop(log);
        for w in &covered {
            w.notify_one();
        }
        // The first in line leads the next commit.
        if let Some(next) = st.staged.front() {
            next.wake.notify_one();
        }
        self.changed.notify_all();
        st
    }

    /// Rewrites the log as a snapshot of the live keys (see the module's doc).
    fn rewrite(self: Arc<Self>) {
        let started = std::time::Instant::now();
        // The snapshot: with the log held, every batch in the file is applied.
        let (disk, snapshot, rev) = {
            let mut log = self.lock_log();
            let st = self.lock_state();
            let log = log.as_mut().expect("a logged store has a log");
            log.tail = Some(Vec::new());
            (log.disk.clone(), st.kvs.values().cloned().collect::<Vec<KeyValue>>(), st.revision)
        };
        let mut hold = started.elapsed();
        let written = (|| -> std::io::Result<(Box<dyn LogFile>, u64)> {
            let mut f = disk.create(REWRITE_NAME)?;
            let total = crate::snapshot::encode(&snapshot, rev, |chunk| f.append(chunk))?;
            f.sync()?;
            Ok((f, total))
        })();
        drop(snapshot);
        // Catch up with no lock held: append and sync the batches written
        // since the snapshot, round after round while writers go on, so
        // that the swap has only the last little to copy.
        let mut written = written;
        for _ in 0..REWRITE_CATCH_UP_ROUNDS {
            let Ok((f, n)) = written.as_mut() else { break };
            let chunk = {
                let mut log = self.lock_log();
                let log = log.as_mut().expect("a logged store has a log");
                std::mem::take(log.tail.as_mut().expect("collected since the snapshot"))
            };
            if let Err(e) = f.append(&chunk).and_then(|_| f.sync()) {
                written = Err(e);
                break;
            }
            *n += chunk.len() as u64;
            if chunk.len() < REWRITE_CATCH_UP_BYTES {
                break;
            }
        }
        let swap_started = std::time::Instant::now();
        let mut log = self.lock_log();
        let log_ref = log.as_mut().expect("a logged store has a log");
        let tail = log_ref.tail.take().unwrap_or_default();
        let swapped = written.and_then(|(mut f, n)| {
            f.append(&tail)?;
            f.sync()?;
            disk.rename(REWRITE_NAME, LOG_NAME)?;
            Ok((f, n + tail.len() as u64))
        });
        // The old log, closed only once writers go on: its last close frees
        // the whole file, which takes the file system a while.
        let mut replaced = None;
        let ok = match swapped {
            Ok((f, n)) => {
                replaced = Some((std::mem::replace(&mut log_ref.file, f), log_ref.bytes));
                log_ref.bytes = n;
                true
            }
            Err(e) => {
                eprintln!("podstore: rewriting {} failed, the old log stays: {e}", disk.describe(LOG_NAME));
                false
            }
        };
        let st = self.lock_state();
        drop(log);
        hold += swap_started.elapsed();
        drop(st);
        // Freed a piece at a time: freeing hundreds of megabytes at once
        // holds up the file system's journal, and with it every writer's
        // fdatasync.
        if let Some((mut old, mut len)) = replaced {
            while len > 0 {
                len = len.saturating_sub(REWRITE_RELEASE_BYTES);
                if old.shrink(len).is_err() {
                    break;
                }
            }
        }
        let mut st = self.lock_state();
        st.rewriting = false;
        st.stats.rewrites += ok as u64;
        st.stats.rewrite_failures += !ok as u64;
        st.stats.longest_rewrite_hold_micros = st.stats.longest_rewrite_hold_micros.max(hold.as_micros() as u64);
        drop(st);
        self.changed.notify_all();
    }
}

impl Log {
    fn append_durably(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        match self.file.append(bytes).and_then(|_| self.file.sync()) {
            Ok(()) => {
                self.bytes += bytes.len() as u64;
                if let Some(t) = self.tail.as_mut() {
                    t.extend_from_slice(bytes);
                }
                Ok(())
            }
            Err(e) => {
                // Cut what may be half written, so no record ever follows it.
                let _ = self.file.truncate(self.bytes);
                Err(e)
            }
        }
    }
}

/// Why the bad record at `off` is a torn final write (to be cut), or why
/// it is not (the log is corrupt: refuse).
fn torn_tail(buf: &[u8], off: usize, err: &DecodeError, index: u64) -> Result<String, String> {
    let rest = &buf[off..];
    let what = match err {
        DecodeError::Truncated => "cut short by the end of the file".to_string(),
        DecodeError::Corrupt(why) => why.clone(),
    };
    let refuse = |why: String| Err(format!("record {} at offset {off} ({what}) {why}; the log is corrupt and was left as it is: restore the store from a snapshot", index + 1));
    if rest.iter().all(|b| *b == 0) {
        return Ok(format!("{} zero bytes after the last record", rest.len()));
    }
    if rest.len() > MAX_BATCH_BYTES {
        return refuse(format!("is followed by {} bytes, more than one group commit writes ({MAX_BATCH_BYTES}), so it is not a torn final write", rest.len()));
    }
    match err {
        DecodeError::Truncated => match later_record(buf, off + 1) {
            Some(at) => refuse(format!("is followed by a valid record at offset {at}")),
            None => Ok("a torn final record".into()),
        },
        DecodeError::Corrupt(_) => {
            let claimed = u32::from_le_bytes(buf[off..off + 4].try_into().expect("8 header bytes")) as usize;
            let end = off.saturating_add(8).saturating_add(claimed).min(buf.len());
            if zero_sector(buf, off, end) {
                Ok(format!("{what} in a record with an unwritten (zero) sector: a torn final write"))
            } else {
                refuse("has no unwritten sector, so it is not a torn write".into())
            }
        }
    }
}

/// Whether a sector (aligned in the file) overlapping `[start, end)` is all
/// zeros, as far as the file goes.
fn zero_sector(buf: &[u8], start: usize, end: usize) -> bool {
    let mut s = start / SECTOR_BYTES * SECTOR_BYTES;
    while s < end {
        let e = (s + SECTOR_BYTES).min(buf.len());
        if buf[s..e].iter().all(|b| *b == 0) {
            return true;
        }
        s += SECTOR_BYTES;
    }
    false
}

/// The offset of the first valid record starting at or after `from`.
fn later_record(buf: &[u8], from: usize) -> Option<usize> {
    (from..buf.len().saturating_sub(8)).find(|&i| {
        let len = u32::from_le_bytes(buf[i..i + 4].try_into().expect("4 bytes")) as usize;
        // Cheap tests first: a plausible length and op, then the checksum.
        (record::MIN_PAYLOAD_BYTES..=buf.len() - i - 8).contains(&len) && (1..=3).contains(&buf[i + 8]) && record::decode(&buf[i..]).is_ok()
    })
}

impl State {
    fn empty(logged: bool) -> State {
        State {
            kvs: BTreeMap::new(),
            history: VecDeque::new(),
            history_bytes: 0,
            revision: 0,
            compacted: 0,
            live_bytes: 0,
            logged,
            failed: None,
            assigned: 0,
            staged: VecDeque::new(),
            overlay: HashMap::new(),
            flushing: false,
            rewriting: false,
            stats: CommitStats::default(),
        }
    }

    fn size(kv: &KeyValue) -> u64 {
        (kv.key.len() + kv.value.len()) as u64
    }

    /// A record read back from the log.
    fn replay(&mut self, rec: Record) {
        match rec.op {
            Op::Put => {
                let kv = KeyValue { key: rec.key.clone(), value: Arc::new(rec.value), create_revision: rec.create_revision, mod_revision: rec.revision };
                self.live_bytes += State::size(&kv);
                if let Some(old) = self.kvs.insert(rec.key, kv) {
                    self.live_bytes -= State::size(&old);
                }
            }
            Op::Delete => {
                if let Some(old) = self.kvs.remove(&rec.key) {
                    self.live_bytes -= State::size(&old);
                }
            }
            Op::Floor => {}
        }
        self.revision = self.revision.max(rec.revision);
    }

    /// A durable write: into the key space and the history.
    fn apply(&mut self, ev: Event) {
        match ev.kind {
            EventKind::Put => {
                self.live_bytes += State::size(&ev.kv);
                if let Some(old) = self.kvs.insert(ev.kv.key.clone(), ev.kv.clone()) {
                    self.live_bytes -= State::size(&old);
                }
            }
            EventKind::Delete => {
                if let Some(old) = self.kvs.remove(&ev.kv.key) {
                    self.live_bytes -= State::size(&old);
                }
            }
        }
        self.revision = ev.revision;
        self.history_bytes += event_bytes(&ev);
        self.history.push_back(ev);
        while self.history.len() > MAX_HISTORY_EVENTS || self.history_bytes > MAX_HISTORY_BYTES {
            self.compact_oldest();
        }
    }

    /// Drops the oldest event of the history; it is compacted away.
    fn compact_oldest(&mut self) {
        if let Some(old) = self.history.pop_front() {
            self.history_bytes -= event_bytes(&old);
            self.compacted = self.compacted.max(old.revision);
        }
    }
}

impl Store for Embedded {
    fn get(&self, key: &str) -> Result<Option<KeyValue>, StoreError> {
        Ok(self.shared.lock_state().kvs.get(key).cloned())
    }

    fn range(&self, prefix: &str, start_after: &str, limit: usize) -> Result<RangeResult, StoreError> {
        let st = self.shared.lock_state();
        let mut kvs = Vec::new();
        let mut more = false;
        let start = if start_after.is_empty() { prefix.to_string() } else { start_after.to_string() };
        for (k, v) in st.kvs.range(start..) {
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
        Ok(RangeResult { kvs, revision: st.revision, more })
    }

    fn create(&self, key: &str, value: Vec<u8>) -> Result<Revision, StoreError> {
        check_sizes(key, &value)?;
        let value = Arc::new(value);
        let ev = self.write(key, |cur, rev| {
            if cur.is_some() {
                return Err(StoreError::AlreadyExists);
            }
            let kv = KeyValue { key: key.into(), value, create_revision: rev, mod_revision: rev };
            Ok(Event { kind: EventKind::Put, kv, prev: None, revision: rev })
        })?;
        Ok(ev.revision)
    }

    fn update(&self, key: &str, value: Vec<u8>, expected: Revision) -> Result<Revision, StoreError> {
        check_sizes(key, &value)?;
        let value = Arc::new(value);
        let ev = self.write(key, |cur, rev| {
            let cur = cur.ok_or(StoreError::NotFound)?;
            if cur.mod_revision != expected {
                return Err(StoreError::Conflict { current: Box::new(cur.clone()) });
            }
            let kv = KeyValue { key: key.into(), value, create_revision: cur.create_revision, mod_revision: rev };
            Ok(Event { kind: EventKind::Put, kv, prev: Some(cur.clone()), revision: rev })
        })?;
        Ok(ev.revision)
    }

    fn delete(&self, key: &str, expected: Revision) -> Result<(Revision, KeyValue), StoreError> {
        let ev = self.write(key, |cur, rev| {
            let cur = cur.ok_or(StoreError::NotFound)?;
            if expected != 0 && cur.mod_revision != expected {
                return Err(StoreError::Conflict { current: Box::new(cur.clone()) });
            }
            Ok(Event { kind: EventKind::Delete, kv: cur.clone(), prev: Some(cur.clone()), revision: rev })
        })?;
        Ok((ev.revision, ev.kv))
    }

    fn events_since(&self, after: Revision, limit: usize) -> Result<Vec<Event>, StoreError> {
        let st = self.shared.lock_state();
        if after < st.compacted {
            return Err(StoreError::Compacted { compacted: st.compacted });
        }
        // History is ordered by revision: skip to the first event after `after`.
        let start = st.history.partition_point(|e| e.revision <= after);
        let take = if limit == 0 { usize::MAX } else { limit };
        Ok(st.history.iter().skip(start).take(take).cloned().collect())
    }

    fn revision(&self) -> Revision {
        self.shared.lock_state().revision
    }

    fn compact(&self, revision: Revision) -> Result<(), StoreError> {
        let mut st = self.shared.lock_state();
        let revision = revision.min(st.revision);
        while st.history.front().is_some_and(|e| e.revision <= revision) {
            st.compact_oldest();
        }
        st.compacted = st.compacted.max(revision);
        Ok(())
    }

    fn subscribe(&self, notify: Notify) {
        self.shared.subscribers.lock().unwrap_or_else(|p| p.into_inner()).push(notify);
    }
}
