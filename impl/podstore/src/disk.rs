//! The files under the embedded store, as the store needs them and no more:
//! read a file whole, append and fdatasync, truncate, write a new file and
//! rename it into place. `OsDisk` is a directory of real files. `MemDisk`
//! keeps each file's bytes in two parts, what an fsync made durable and
//! what was written since, and `crash()` drops the second part: the state a
//! machine comes back in after power loss, which kill -9 cannot show (the
//! page cache survives a killed process). Tests also hold its syncs to
//! line writers up behind one fsync.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

/// An open file the store appends to.
pub trait LogFile: Send {
    fn append(&mut self, bytes: &[u8]) -> io::Result<()>;
    /// Makes every byte appended so far durable (fdatasync).
    fn sync(&mut self) -> io::Result<()>;
    /// Cuts the file to `len` bytes, durably.
    fn truncate(&mut self, len: u64) -> io::Result<()>;
    /// Cuts the file to `len` bytes with no sync: a file about to be
    /// closed and gone, given back to the file system a piece at a time.
    fn shrink(&mut self, len: u64) -> io::Result<()> {
        self.truncate(len)
    }
}

/// A directory of files.
pub trait Disk: Send + Sync {
    /// The whole of `name`, or None when there is no such file.
    fn read(&self, name: &str) -> io::Result<Option<Vec<u8>>>;
    /// `name` opened for appending, created (durably, with its directory
    /// entry) when it does not exist.
    fn open_append(&self, name: &str) -> io::Result<Box<dyn LogFile>>;
    /// A new, empty `name` (replacing any file of that name) for appending.
    fn create(&self, name: &str) -> io::Result<Box<dyn LogFile>>;
    /// Replaces `to` with `from` atomically and durably (rename, then fsync
    /// of the directory).
    fn rename(&self, from: &str, to: &str) -> io::Result<()>;
    /// Where the files are, for messages.
    fn describe(&self, name: &str) -> String;
}

/// Real files in a directory.
pub struct OsDisk {
    dir: PathBuf,
}

impl OsDisk {
    pub fn new(dir: &Path) -> io::Result<OsDisk> {
        std::fs::create_dir_all(dir)?;
        Ok(OsDisk { dir: dir.to_path_buf() })
    }

    fn sync_dir(&self) -> io::Result<()> {
        File::open(&self.dir)?.sync_all()
    }
}

struct OsFile(File);

impl LogFile for OsFile {
    fn append(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.0.write_all(bytes)
    }
    fn sync(&mut self) -> io::Result<()> {
        self.0.sync_data()
    }
    fn truncate(&mut self, len: u64) -> io::Result<()> {
        self.0.set_len(len)?;
        self.0.sync_all()
    }
    fn shrink(&mut self, len: u64) -> io::Result<()> {
        self.0.set_len(len)
    }
}

impl Disk for OsDisk {
    fn read(&self, name: &str) -> io::Result<Option<Vec<u8>>> {
        match File::open(self.dir.join(name)) {
            Ok(mut f) => {
                let mut buf = Vec::new();
                f.read_to_end(&mut buf)?;
                Ok(Some(buf))
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn open_append(&self, name: &str) -> io::Result<Box<dyn LogFile>> {
        let path = self.dir.join(name);
        let existed = path.exists();
        let f = OpenOptions::new().read(true).append(true).create(true).open(&path)?;
        if !existed {
            self.sync_dir()?;
        }
        Ok(Box::new(OsFile(f)))
    }

    fn create(&self, name: &str) -> io::Result<Box<dyn LogFile>> {
        let f = OpenOptions::new().read(true).write(true).create(true).truncate(true).open(self.dir.join(name))?;
        Ok(Box::new(OsFile(f)))
    }

    fn rename(&self, from: &str, to: &str) -> io::Result<()> {
        std::fs::rename(self.dir.join(from), self.dir.join(to))?;
        self.sync_dir()
    }

    fn describe(&self, name: &str) -> String {
        self.dir.join(name).display().to_string()
    }
}

/// One in-memory file: the durable bytes, then the ones not yet synced.
#[derive(Clone, Debug, Default)]
struct MemFile {
    durable: Vec<u8>,
    pending: Vec<u8>,
}

#[derive(Default)]
struct MemState {
    /// Files by inode: a handle keeps its file across renames, as on Linux.
    inodes: BTreeMap<u64, MemFile>,
    names: BTreeMap<String, u64>,
    next_inode: u64,
    /// Syncs of files opened under this name (all files: "") wait while
    /// it is set: a test lines writers up behind one.
    held: Option<String>,
    /// Syncs waiting at the gate now.
    waiting: usize,
    syncs: u64,
    /// Fail every append and sync from now on, with this message.
    fail: Option<String>,
    /// Crashes so far: a handle opened before the last one is dead.
    generation: u64,
}

/// Files in memory that can lose what was not synced. Cloning shares the files.
#[derive(Clone, Default)]
pub struct MemDisk {
    state: Arc<(Mutex<MemState>, Condvar)>,
}

impl MemDisk {
    pub fn new() -> MemDisk {
        MemDisk::default()
    }

    fn lock(&self) -> MutexGuard<'_, MemState> {
        self.state.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Power loss: every byte not yet synced is gone, and every file open
    /// before it is dead (the process that held it is gone: its appends and
    /// syncs fail).
    pub fn crash(&self) {
        self.crash_keeping(|_| 0);
    }

    /// Power loss in the middle of writes: of each file's `n` bytes not yet
    /// synced, the first `keep(n)` reached the disk (a torn write), the rest
    /// are gone; open files are dead, as after `crash`.
    pub fn crash_keeping(&self, mut keep: impl FnMut(usize) -> usize) {
        let mut s = self.lock();
        s.generation += 1;
        for f in s.inodes.values_mut() {
            let p = std::mem::take(&mut f.pending);
            let n = keep(p.len()).min(p.len());
            f.durable.extend_from_slice(&p[..n]);
        }
        drop(s);
        self.state.1.notify_all();
    }

    /// Syncs block until `release_syncs`.
    pub fn hold_syncs(&self) {
        self.lock().held = Some(String::new());
    }

    /// Syncs of the files opened or created as `name` block until `release_syncs`.
    pub fn hold_syncs_of(&self, name: &str) {
        self.lock().held = Some(name.to_string());
    }

    pub fn release_syncs(&self) {
        self.lock().held = None;
        self.state.1.notify_all();
    }

    /// Waits until `n` syncs are blocked at the gate.
    pub fn wait_for_held_syncs(&self, n: usize) {
        let mut s = self.lock();
        while s.waiting < n {
            s = self.state.1.wait(s).unwrap_or_else(|p| p.into_inner());
        }
    }

    /// Syncs completed so far.
    pub fn syncs(&self) -> u64 {
        self.lock().syncs
    }

    /// From now on every append and sync fails (a disk that went bad).
    pub fn fail_from_now(&self, why: &str) {
        self.lock().fail = Some(why.to_string());
    }

    /// Appends and syncs work again.
    pub fn heal(&self) {
        self.lock().fail = None;
    }

    /// The bytes of `name` as a read would see them (durable and pending).
    pub fn contents(&self, name: &str) -> Option<Vec<u8>> {
        let s = self.lock();
        let f = s.inodes.get(s.names.get(name)?)?;
        Some([f.durable.as_slice(), f.pending.as_slice()].concat())
    }

    /// Replaces `name`'s content, durably (a test corrupting a file).
    pub fn put(&self, name: &str, bytes: Vec<u8>) {
        let mut s = self.lock();
        let ino = s.new_inode();
        s.inodes.insert(ino, MemFile { durable: bytes, pending: vec![] });
        s.names.insert(name.to_string(), ino);
    }
}

impl MemState {
    fn new_inode(&mut self) -> u64 {
        self.next_inode += 1;
        self.next_inode
    }
}

struct MemHandle {
    disk: MemDisk,
    inode: u64,
    /// The disk's generation when opened: dead after a crash.
    generation: u64,
    /// The name it was opened as (for `hold_syncs_of`).
    name: String,
}

impl MemHandle {
    fn with<T>(&self, f: impl FnOnce(&mut MemFile) -> T) -> io::Result<T> {
        let mut s = self.disk.lock();
        if let Some(why) = &s.fail {
            return Err(io::Error::other(why.clone()));
        }
        if s.generation != self.generation {
            return Err(io::Error::other("the machine crashed: this file is no longer open"));
        }
        let file = s.inodes.get_mut(&self.inode).expect("an open file's inode stays");
        Ok(f(file))
    }
}

impl LogFile for MemHandle {
    fn append(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.with(|f| f.pending.extend_from_slice(bytes))
    }

    fn sync(&mut self) -> io::Result<()> {
        {
            let mut s = self.disk.lock();
            s.waiting += 1;
            self.disk.state.1.notify_all();
            while s.held.as_ref().is_some_and(|h| h.is_empty() || *h == self.name) {
                s = self.disk.state.1.wait(s).unwrap_or_else(|p| p.into_inner());
            }
            s.waiting -= 1;
        }
        self.with(|f| {
            let p = std::mem::take(&mut f.pending);
            f.durable.extend_from_slice(&p);
        })?;
        self.disk.lock().syncs += 1;
        Ok(())
    }

    fn truncate(&mut self, len: u64) -> io::Result<()> {
        self.with(|f| {
            let mut all = [f.durable.as_slice(), f.pending.as_slice()].concat();
            all.truncate(len as usize);
            *f = MemFile { durable: all, pending: vec![] };
        })
    }
}

impl Disk for MemDisk {
    fn read(&self, name: &str) -> io::Result<Option<Vec<u8>>> {
        Ok(self.contents(name))
    }

    fn open_append(&self, name: &str) -> io::Result<Box<dyn LogFile>> {
        let mut s = self.lock();
        let inode = match s.names.get(name) {
            Some(i) => *i,
            None => {
                let i = s.new_inode();
                s.inodes.insert(i, MemFile::default());
                s.names.insert(name.to_string(), i);
                i
            }
        };
        let generation = s.generation;
        Ok(Box::new(MemHandle { disk: self.clone(), inode, generation, name: name.to_string() }))
    }

    fn create(&self, name: &str) -> io::Result<Box<dyn LogFile>> {
        let mut s = self.lock();
        let inode = s.new_inode();
        s.inodes.insert(inode, MemFile::default());
        s.names.insert(name.to_string(), inode);
        let generation = s.generation;
        Ok(Box::new(MemHandle { disk: self.clone(), inode, generation, name: name.to_string() }))
    }

    fn rename(&self, from: &str, to: &str) -> io::Result<()> {
        let mut s = self.lock();
        let inode = s.names.remove(from).ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, from.to_string()))?;
        // Durable once done (the directory is synced); the file's own
        // unsynced bytes are not. The replaced file lives on while open.
        s.names.insert(to.to_string(), inode);
        Ok(())
    }

    fn describe(&self, name: &str) -> String {
        format!("(memory)/{name}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_crash_keeps_exactly_what_was_synced() {
        let d = MemDisk::new();
        let mut f = d.open_append("log").unwrap();
        f.append(b"one").unwrap();
        f.sync().unwrap();
        f.append(b"two").unwrap();
        assert_eq!(d.read("log").unwrap().unwrap(), b"onetwo");
        d.crash();
        assert_eq!(d.read("log").unwrap().unwrap(), b"one");
        assert_eq!(d.syncs(), 1);
        assert!(f.append(b"three").is_err() && f.sync().is_err(), "a file open before the crash is dead");
        let mut g = d.open_append("log").unwrap();
        g.append(b"four").unwrap();
        g.sync().unwrap();
        g.append(b"five").unwrap();
        d.crash_keeping(|n| n / 2);
        assert_eq!(d.read("log").unwrap().unwrap(), b"onefourfi", "half of the unsynced bytes reached the disk");
    }

    #[test]
    fn a_renamed_file_replaces_the_old_one_and_handles_keep_their_file() {
        let d = MemDisk::new();
        let mut old = d.open_append("log").unwrap();
        old.append(b"old").unwrap();
        let mut t = d.create("tmp").unwrap();
        t.append(b"new").unwrap();
        t.sync().unwrap();
        d.rename("tmp", "log").unwrap();
        assert_eq!(d.read("log").unwrap().unwrap(), b"new");
        assert_eq!(d.read("tmp").unwrap(), None);
        // Both handles write to the file they opened.
        old.append(b"!").unwrap();
        t.append(b"+").unwrap();
        assert_eq!(d.read("log").unwrap().unwrap(), b"new+");
    }
}
