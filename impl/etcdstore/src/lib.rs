//! etcdstore: podchain's `podstore::Store` over etcd v3, as upstream's
//! apiserver keeps its objects.
//!
//! **Mapping.** A key's revision is etcd's `mod_revision`, so an object's
//! resourceVersion is etcd's, and the store's revision is etcd's global one:
//! every write is one transaction and takes exactly one revision. `create`
//! compares `create_revision == 0`, `update` and `delete` compare
//! `mod_revision` with the expected one (the failing branch reads the key,
//! so a conflict says where the key is now), all in one round trip. Reads
//! are linearizable (etcd's default), so a read after an acknowledged write
//! — from any apiserver — sees it. A whole range (`limit` 0) is read in pages
//! of `RANGE_PAGE` keys at the first page's revision: one consistent
//! snapshot however large the prefix, no response over etcd's limits.
//!
//! **History.** One watch over etcd's whole key space, from the revision
//! read at connection, with the previous value of every event, runs on a
//! thread of its own: each response's events under the prefix are appended
//! to the held history (every event moves the watch's revision), then
//! every subscriber is told (on that thread; a subscriber may read the store
//! there). A write returns once the watch has delivered its revision and
//! the subscribers were told of it, so what holds for the embedded store
//! holds here: a write that has returned is visible to every read of the
//! apiserver's watch cache that starts after it. Writes of other clients of
//! the same etcd (another apiserver) arrive the same way, and `sync` (a
//! consistent read) waits for etcd's current revision to arrive. The history held
//! is bounded by `Options::held_events` and `held_bytes`; `events_since` from
//! before it, or from before an etcd compaction the watch was told of, is
//! `Compacted`, and the apiserver relists, as upstream's reflector does on
//! "too old". When the watch breaks (the member went away), it is re-opened
//! from the next revision on the endpoints left; if etcd has compacted past
//! it meanwhile, the events in between are lost to the watch, so the history
//! restarts at the current revision and every `events_since` before it is
//! `Compacted`.
//!
//! **What etcd refuses.** A request over etcd's `--max-request-bytes`, or a
//! transaction with too many operations, is `TooLarge` naming etcd's limit;
//! a compacted revision is `Compacted`; anything else (no member reachable,
//! a timeout) is `Io` with etcd's message. Run etcd with
//! `--max-request-bytes` of at least `MIN_ETCD_REQUEST_BYTES`, so that every
//! value the apiserver accepts fits.
//!
//! The blocking calls must not be made on an async runtime's worker thread
//! (the apiserver makes them in `spawn_blocking`, as it does for the
//! embedded store): this crate runs its own small runtime for etcd's client.

pub mod testing;

use etcd_client::{Client, Compare, CompareOp, ConnectOptions, EventType, GetOptions, KvClient, Txn, TxnOp, TxnOpResponse, WatchOptions};
use podstore::{Event, EventKind, KeyValue, RangeResult, Revision, Store, StoreError};
use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Duration;

type Notify = Arc<dyn Fn() + Send + Sync>;

/// Keys per request when a whole prefix is read (upstream's reflectors page
/// by 500 too).
pub const RANGE_PAGE: i64 = 500;
/// The `--max-request-bytes` etcd needs so that the largest value podstore
/// accepts, under the longest key, fits one request with room for its
/// framing (etcd's default, 1.5 MiB, is below the apiserver's 3 MiB body).
pub const MIN_ETCD_REQUEST_BYTES: usize = podstore::MAX_VALUE_BYTES + podstore::MAX_KEY_BYTES + 64 * 1024;
/// Events held for `events_since` unless `Options` says otherwise.
pub const HELD_EVENTS: usize = 100_000;
/// Bytes of held events (`podstore::embedded::event_bytes`) unless
/// `Options` says otherwise.
pub const HELD_BYTES: usize = 64 * 1024 * 1024;
/// How long one etcd request may take before it fails as `Io`.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a connection attempt to a member may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// The longest a returned write waits for the watch to deliver it; past it
/// (the watch is broken and being re-opened) the write returns anyway, as
/// it is committed, and says so on stderr.
pub const VISIBLE_WAIT: Duration = Duration::from_secs(10);
/// The pause before the watch is re-opened after it broke.
pub const REWATCH_BACKOFF: Duration = Duration::from_millis(200);
/// How many times a request is sent again to the members (`Retry`), with
/// `RETRY_PAUSE` between: enough to find a live member of a few while one
/// is down, and to outlast an election.
pub const MAX_TRIES: usize = 50;
pub const RETRY_PAUSE: Duration = Duration::from_millis(40);
/// How often etcd's history is compacted unless `Options` says otherwise
/// (upstream's `--etcd-compaction-interval`).
pub const COMPACTION_INTERVAL: Duration = Duration::from_secs(300);
/// The key, after the store's prefix, by which the apiservers sharing an
/// etcd agree on who compacts each interval (upstream's compact_rev_key).
pub const COMPACT_KEY: &str = "compact_rev_key";

/// How an `Etcd` store is set up.
#[derive(Clone, Debug)]
pub struct Options {
    /// `host:port` of each member (or `http://host:port`).
    pub endpoints: Vec<String>,
    /// Prepended to every key in etcd and stripped from every key read back,
    /// so that several stores (or clusters) can share one etcd.
    pub prefix: String,
    pub held_events: usize,
    pub held_bytes: usize,
    /// Every interval, etcd's history is compacted to the revision of one
    /// interval before, so a watch that is less than one interval behind
    /// can still resume; `None`: never (another client compacts).
    pub compaction_interval: Option<Duration>,
}

impl Options {
    pub fn new(endpoints: Vec<String>) -> Options {
        Options { endpoints, prefix: String::new(), held_events: HELD_EVENTS, held_bytes: HELD_BYTES, compaction_interval: Some(COMPACTION_INTERVAL) }
    }

    /// Reads `etcd://HOST:PORT[,HOST:PORT...]`, the `--store` flag's form.
    pub fn from_url(url: &str) -> Result<Options, String> {
        let rest = url.strip_prefix("etcd://").ok_or_else(|| format!("{url:?}: an etcd store is etcd://HOST:PORT[,HOST:PORT...]"))?;
        let endpoints: Vec<String> = rest.split(',').map(|e| e.trim().trim_end_matches('/').to_string()).collect();
        if let Some(bad) = endpoints.iter().find(|e| e.is_empty() || e.contains('/') || !e.contains(':')) {
            return Err(format!("{url:?}: endpoint {bad:?} is not HOST:PORT"));
        }
        Ok(Options::new(endpoints))
    }
}

/// The store over etcd. Cloning the handle is not offered: share it in an
/// `Arc` as every `Store` is shared.
pub struct Etcd {
    inner: Arc<Inner>,
    watcher: Mutex<Option<std::thread::JoinHandle<()>>>,
    watcher_id: std::thread::ThreadId,
}

struct Inner {
    rt: Mutex<Option<tokio::runtime::Runtime>>,
    handle: tokio::runtime::Handle,
    client: Client,
    prefix: String,
    held_events: usize,
    held_bytes: usize,
    history: Mutex<History>,
    /// Signalled when `History::told` moves.
    told: Condvar,
    subscribers: Mutex<Vec<Notify>>,
    shutdown: tokio::sync::Notify,
    /// Requests sent to etcd, each try counted.
    sent: std::sync::atomic::AtomicU64,
}

struct History {
    /// Events after `start`, oldest first.
    events: VecDeque<Event>,
    bytes: usize,
    /// No event at or before it is held: `events_since` from before it is
    /// `Compacted`.
    start: Revision,
    /// Every event at or before it has been received: the revision of the
    /// last event of the prefix the watch delivered (progress notifications
    /// are not used: see the watch thread).
    head: Revision,
    /// Every subscriber has been told of every event at or before it.
    told: Revision,
    /// etcd's compaction as far as this store knows.
    compacted: Revision,
}

impl Etcd {
    /// Connects to the members and starts the watch from etcd's current
    /// revision. Fails when no member answers within `CONNECT_TIMEOUT`.
    pub fn connect(opts: Options) -> Result<Etcd, StoreError> {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("etcd-client")
            .enable_all()
            .build()
            .map_err(|e| StoreError::Io(format!("starting the etcd client's runtime: {e}")))?;
        let handle = rt.handle().clone();
        let endpoints: Vec<String> = opts.endpoints.iter().map(|e| if e.contains("://") { e.clone() } else { format!("http://{e}") }).collect();
        let connect = ConnectOptions::new().with_timeout(REQUEST_TIMEOUT).with_connect_timeout(CONNECT_TIMEOUT).with_keep_alive(Duration::from_secs(5), Duration::from_secs(5));
        let client = handle
            .block_on(Client::connect(&endpoints, Some(connect)))
            .map_err(|e| StoreError::Io(format!("connecting to etcd at {}: {e}", endpoints.join(","))))?;
        let inner = Arc::new(Inner {
            rt: Mutex::new(Some(rt)),
            handle,
            client,
            prefix: opts.prefix,
            held_events: opts.held_events,
            held_bytes: opts.held_bytes,
            history: Mutex::new(History { events: VecDeque::new(), bytes: 0, start: 0, head: 0, told: 0, compacted: 0 }),
            told: Condvar::new(),
            subscribers: Mutex::new(Vec::new()),
            shutdown: tokio::sync::Notify::new(),
            sent: 0.into(),
        });
        let now = inner.current_revision()?;
        {
            let mut h = inner.lock_history();
            (h.start, h.head, h.told) = (now, now, now);
        }
        let stream = inner.open_watch(now + 1)?;
        let w = inner.clone();
        let watcher = std::thread::Builder::new()
            .name("etcd-watch".into())
            .spawn(move || w.watch_loop(stream))
            .map_err(|e| StoreError::Io(format!("starting the etcd watch thread: {e}")))?;
        let watcher_id = watcher.thread().id();
        if let Some(every) = opts.compaction_interval {
            inner.handle.spawn(compactor(Arc::downgrade(&inner), every));
        }
        Ok(Etcd { inner, watcher: Mutex::new(Some(watcher)), watcher_id })
    }
}

impl Etcd {
    /// Key-value requests sent to etcd so far, every try counted.
    pub fn requests_sent(&self) -> u64 {
        self.inner.sent.load(std::sync::atomic::Ordering::Relaxed)
    }
}

impl Drop for Etcd {
    fn drop(&mut self) {
        self.inner.shutdown.notify_one();
        // Dropped from a subscriber on the watch thread itself: it ends on
        // its own once the notification returns.
        if std::thread::current().id() != self.watcher_id {
            if let Some(w) = self.watcher.lock().unwrap_or_else(|p| p.into_inner()).take() {
                let _ = w.join();
            }
        }
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        // May be the last owner on an async runtime's thread, where a
        // runtime cannot be dropped by waiting.
        if let Some(rt) = self.rt.lock().unwrap_or_else(|p| p.into_inner()).take() {
            rt.shutdown_background();
        }
    }
}

/// The smallest key after every key starting with `prefix` (etcd's
/// range_end for a prefix); "\0" (every key) for the empty prefix.
fn prefix_end(prefix: &[u8]) -> Vec<u8> {
    let mut end = prefix.to_vec();
    while let Some(&last) = end.last() {
        if last < 0xff {
            *end.last_mut().unwrap() = last + 1;
            return end;
        }
        end.pop();
    }
    vec![0]
}

fn rev(r: i64) -> Revision {
    r.max(0) as Revision
}

/// Which failed requests may be sent again (`Inner::try_call`).
#[derive(Clone, Copy)]
enum Retry {
    Read,
    Write,
}

impl Retry {
    fn allows(self, e: &etcd_client::Error) -> bool {
        let etcd_client::Error::GRpcStatus(s) = e else { return matches!(e, etcd_client::Error::TransportError(_)) };
        if s.code() != tonic::Code::Unavailable {
            return false;
        }
        let never_sent = s.message().contains("connect error") || s.message().contains("etcdserver: no leader");
        matches!(self, Retry::Read) || never_sent
    }
}

/// What etcd's refusal means for the caller.
fn etcd_err(what: &str, e: etcd_client::Error) -> StoreError {
    if let etcd_client::Error::GRpcStatus(s) = &e {
        let m = s.message();
        // etcd's own check, or its gRPC layer's, which refuses a message over
        // its receive limit (--max-request-bytes and a little) first.
        if m.contains("request is too large") || (s.code() == tonic::Code::ResourceExhausted && m.contains("larger than max")) {
            return StoreError::TooLarge(format!("etcd refused the {what} as larger than its --max-request-bytes (podchain needs at least {MIN_ETCD_REQUEST_BYTES}): {m}"));
        }
        if m.contains("too many operations in txn") {
            return StoreError::TooLarge(format!("etcd refused the {what}: more operations than its --max-txn-ops: {m}"));
        }
        if m.contains("required revision has been compacted") {
            return StoreError::Compacted { compacted: 0 };
        }
        return StoreError::Io(format!("etcd {what}: {} ({:?})", m, s.code()));
    }
    StoreError::Io(format!("etcd {what}: {e}"))
}

/// Compacts etcd every `every`, to the revision read one interval before.
/// The apiservers sharing an etcd take turns through `COMPACT_KEY`: a
/// transaction that bumps its version only if it is the version this one
/// last saw, so in each interval one of them wins and compacts, and the
/// others learn the new version (upstream's compactor does the same).
async fn compactor(inner: std::sync::Weak<Inner>, every: Duration) {
    let (mut version, mut previous): (i64, i64) = (0, 0);
    loop {
        tokio::time::sleep(every).await;
        let Some(i) = inner.upgrade() else { return };
        let key = i.full(COMPACT_KEY);
        let txn = Txn::new()
            .when([Compare::version(key.clone(), CompareOp::Equal, version)])
            .and_then([TxnOp::put(key.clone(), previous.to_string(), None)])
            .or_else([TxnOp::get(key, None)]);
        let resp = match i.kv().txn(txn).await {
            Ok(r) => r,
            Err(e) => {
                eprintln!("etcdstore: compaction turn: {e}");
                continue;
            }
        };
        let now = resp.header().map_or(0, |h| h.revision());
        if !resp.succeeded() {
            // Another apiserver compacted this interval.
            version = resp.op_responses().into_iter().find_map(|r| match r {
                TxnOpResponse::Get(g) => g.kvs().first().map(|kv| kv.version()),
                _ => None,
            }).unwrap_or(0);
            previous = now;
            continue;
        }
        version += 1;
        if previous > 0 {
            match i.kv().compact(previous, None).await {
                Ok(_) => {}
                Err(e) => match etcd_err("compaction", e) {
                    StoreError::Compacted { .. } => {}
                    e => eprintln!("etcdstore: compacting to {previous}: {e}"),
                },
            }
        }
        previous = now;
    }
}

impl Inner {
    fn lock_history(&self) -> MutexGuard<'_, History> {
        self.history.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn kv(&self) -> KvClient {
        // No receive limit of the client's own (upstream's apiserver sets
        // math.MaxInt32): a response is at most a page of `RANGE_PAGE`
        // values, each under etcd's request limit.
        self.client.kv_client().max_decoding_message_size(usize::MAX)
    }

    fn full(&self, key: &str) -> Vec<u8> {
        let mut k = Vec::with_capacity(self.prefix.len() + key.len());
        k.extend_from_slice(self.prefix.as_bytes());
        k.extend_from_slice(key.as_bytes());
        k
    }

    fn key_value(&self, kv: &etcd_client::KeyValue) -> KeyValue {
        let key = kv.key();
        let key = key.strip_prefix(self.prefix.as_bytes()).unwrap_or(key);
        KeyValue {
            key: String::from_utf8_lossy(key).into_owned(),
            value: Arc::new(kv.value().to_vec()),
            create_revision: rev(kv.create_revision()),
            mod_revision: rev(kv.mod_revision()),
        }
    }

    fn current_revision(&self) -> Result<Revision, StoreError> {
        let (key, end) = self.prefix_range();
        let r = self.call("read of the current revision", Retry::Read, |mut kv| {
            let (key, end) = (key.clone(), end.clone());
            async move { kv.get(key, Some(GetOptions::new().with_range(end).with_count_only())).await }
        })?;
        Ok(rev(r.header().map_or(0, |h| h.revision())))
    }

    /// The first key and range end of the store's whole key space.
    fn prefix_range(&self) -> (Vec<u8>, Vec<u8>) {
        let key = if self.prefix.is_empty() { vec![0] } else { self.full("") };
        (key, prefix_end(self.prefix.as_bytes()))
    }

    /// The watch is of the whole key space, whatever the prefix: every
    /// revision etcd gives out is then an event on it, so the watch's
    /// progress is told by events alone (see `sync`). Events outside the
    /// prefix move `head` and are not held.
    fn watch_options(&self, from: Revision) -> (Vec<u8>, WatchOptions) {
        (vec![0], WatchOptions::new().with_range(vec![0]).with_start_revision(from as i64).with_prev_key())
    }

    fn open_watch(&self, from: Revision) -> Result<(etcd_client::Watcher, etcd_client::WatchStream), StoreError> {
        let (key, opts) = self.watch_options(from);
        let mut wc = self.client.watch_client().max_decoding_message_size(usize::MAX);
        self.handle.block_on(wc.watch(key, Some(opts))).map_err(|e| etcd_err("watch", e))
    }

    /// The watch thread: receives, holds, tells; re-opens the watch when it
    /// breaks; ends at shutdown.
    fn watch_loop(self: Arc<Self>, first: (etcd_client::Watcher, etcd_client::WatchStream)) {
        let mut current = Some(first);
        loop {
            let (watcher, mut stream) = match current.take() {
                Some(w) => w,
                None => {
                    let from = self.lock_history().head + 1;
                    match self.open_watch(from) {
                        Ok(w) => w,
                        Err(e) => {
                            eprintln!("etcdstore: re-opening the watch from revision {from}: {e}");
                            if self.pause(REWATCH_BACKOFF) {
                                return;
                            }
                            continue;
                        }
                    }
                }
            };
            // Held while the watch is open: dropping it cancels the watch.
            let _watcher = watcher;
            loop {
                let msg = self.handle.block_on(async {
                    tokio::select! {
                        m = stream.message() => Some(m),
                        _ = self.shutdown.notified() => None,
                    }
                });
                let resp = match msg {
                    None => return,
                    Some(Ok(Some(resp))) => resp,
                    Some(Ok(None)) | Some(Err(_)) => {
                        if let Some(Err(e)) = msg {
                            eprintln!("etcdstore: the watch broke ({e}); re-opening it");
                        }
                        if self.pause(REWATCH_BACKOFF) {
                            return;
                        }
                        break;
                    }
                };
                if resp.canceled() || resp.compact_revision() != 0 {
                    // Compacted past the next revision while the watch was
                    // away: start history afresh at the current revision.
                    let compacted = rev(resp.compact_revision());
                    match self.current_revision() {
                        Ok(now) => {
                            let mut h = self.lock_history();
                            eprintln!("etcdstore: etcd compacted to {compacted} past the watch's revision {}; history restarts at {now}", h.head + 1);
                            h.events.clear();
                            h.bytes = 0;
                            (h.start, h.head, h.compacted) = (now, now, h.compacted.max(compacted).max(now));
                        }
                        Err(e) => eprintln!("etcdstore: reading the revision after the watch was compacted: {e}"),
                    }
                    self.tell();
                    if self.pause(REWATCH_BACKOFF) {
                        return;
                    }
                    break;
                }
                self.receive(&resp);
                self.tell();
            }
        }
    }

    /// Waits `d` unless shut down meanwhile (then true).
    fn pause(&self, d: Duration) -> bool {
        self.handle.block_on(async {
            tokio::select! {
                _ = tokio::time::sleep(d) => false,
                _ = self.shutdown.notified() => true,
            }
        })
    }

    fn receive(&self, resp: &etcd_client::WatchResponse) {
        let mut h = self.lock_history();
        // A response without events (the watch's creation, a progress
        // notification) moves nothing: etcd before 3.4.25 could send a
        // requested progress notification at a revision whose events a
        // watch catching up had not been sent yet (etcd-io/etcd#15220).
        for e in resp.events() {
            let Some(kv) = e.kv() else { continue };
            let revision = rev(kv.mod_revision());
            // Several events of one transaction share its revision.
            if revision < h.head {
                continue;
            }
            h.head = revision;
            if !kv.key().starts_with(self.prefix.as_bytes()) {
                continue;
            }
            let prev = e.prev_kv().map(|p| self.key_value(p));
            let ev = match e.event_type() {
                EventType::Put => Event { kind: EventKind::Put, kv: self.key_value(kv), prev, revision },
                EventType::Delete => {
                    // The last value is the previous one; without it (etcd
                    // compacted it away), the key alone.
                    let last = prev.clone().unwrap_or_else(|| KeyValue { value: Arc::new(Vec::new()), ..self.key_value(kv) });
                    Event { kind: EventKind::Delete, kv: last, prev, revision }
                }
            };
            h.bytes += podstore::embedded::event_bytes(&ev);
            h.events.push_back(ev);
        }
        while h.events.len() > self.held_events || (h.bytes > self.held_bytes && h.events.len() > 1) {
            let old = h.events.pop_front().expect("held events are not empty");
            h.bytes -= podstore::embedded::event_bytes(&old);
            h.start = old.revision;
        }
    }

    /// Tells every subscriber, then wakes the writers waiting for what was
    /// received.
    fn tell(&self) {
        let head = self.lock_history().head;
        let subs: Vec<Notify> = self.subscribers.lock().unwrap_or_else(|p| p.into_inner()).clone();
        for s in subs {
            s();
        }
        let mut h = self.lock_history();
        h.told = h.told.max(head);
        drop(h);
        self.told.notify_all();
    }

    /// Returns once the subscribers were told of revision `r` (true), or
    /// after `VISIBLE_WAIT` (false).
    fn wait_told(&self, r: Revision) -> bool {
        let h = self.lock_history();
        let (h, _) = self.told.wait_timeout_while(h, VISIBLE_WAIT, |h| h.told < r).unwrap_or_else(|p| p.into_inner());
        h.told >= r
    }

    /// `wait_told` for a write: past the wait it returns anyway, as the
    /// write is committed, and says so.
    fn wait_written(&self, r: Revision) {
        if !self.wait_told(r) {
            eprintln!("etcdstore: revision {r} is committed but the watch has not delivered it within {VISIBLE_WAIT:?} (the watch is at {})", self.lock_history().told);
        }
    }

    /// One request, tried again on another member when it cannot have had
    /// an effect: a read (or compaction) whenever a member is unavailable, a
    /// write only when it was never sent (no connection to the member) or
    /// etcd refused it unproposed (no leader yet). Anything else is the
    /// caller's: a write that may have been applied is not repeated.
    fn try_call<T, F, Fut>(&self, retry: Retry, f: F) -> Result<T, etcd_client::Error>
    where
        F: Fn(KvClient) -> Fut,
        Fut: std::future::Future<Output = Result<T, etcd_client::Error>>,
    {
        let mut tries = 0;
        loop {
            self.sent.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            match self.handle.block_on(f(self.kv())) {
                Err(e) if tries < MAX_TRIES && retry.allows(&e) => {
                    tries += 1;
                    std::thread::sleep(RETRY_PAUSE);
                }
                r => return r,
            }
        }
    }

    fn call<T, F, Fut>(&self, what: &str, retry: Retry, f: F) -> Result<T, StoreError>
    where
        F: Fn(KvClient) -> Fut,
        Fut: std::future::Future<Output = Result<T, etcd_client::Error>>,
    {
        self.try_call(retry, f).map_err(|e| etcd_err(what, e))
    }

    fn txn(&self, what: &str, txn: Txn) -> Result<etcd_client::TxnResponse, StoreError> {
        self.call(what, Retry::Write, |mut kv| {
            let txn = txn.clone();
            async move { kv.txn(txn).await }
        })
    }

    /// The key's current value from the failing branch of a transaction.
    fn current_of(&self, resp: &etcd_client::TxnResponse) -> Option<KeyValue> {
        resp.op_responses().into_iter().find_map(|r| match r {
            TxnOpResponse::Get(g) => g.kvs().first().map(|kv| self.key_value(kv)),
            _ => None,
        })
    }

    /// A range read, paged at one revision: `at`, or the first page's.
    fn range(&self, prefix: &str, start_after: &str, limit: usize, at: Option<Revision>) -> Result<RangeResult, StoreError> {
        let i = self;
        let full_prefix = i.full(prefix);
        let end = prefix_end(&full_prefix);
        let first_key = |after: &[u8]| -> Vec<u8> {
            if after.is_empty() {
                if full_prefix.is_empty() {
                    vec![0]
                } else {
                    full_prefix.clone()
                }
            } else {
                let mut k = after.to_vec();
                k.push(0);
                k
            }
        };
        let mut from = if start_after.is_empty() { first_key(&[]) } else { first_key(&i.full(start_after)) };
        let page = if limit == 0 { RANGE_PAGE } else { limit as i64 };
        let mut kvs = Vec::new();
        let mut at: i64 = at.map_or(0, |r| r as i64);
        loop {
            let mut opts = GetOptions::new().with_range(end.clone()).with_limit(page);
            if at != 0 {
                opts = opts.with_revision(at);
            }
            let key = from.clone();
            // Compacted past the snapshot's revision (between two pages, or
            // before a `range_at`): `Compacted`, and the caller reads again.
            let mut r = match i.try_call(Retry::Read, |mut kv| {
                let (key, opts) = (key.clone(), opts.clone());
                async move { kv.get(key, Some(opts)).await }
            }) {
                Ok(r) => r,
                Err(e) => match etcd_err("range read", e) {
                    StoreError::Compacted { .. } => return Err(StoreError::Compacted { compacted: at as Revision }),
                    e => return Err(e),
                },
            };
            if at == 0 {
                at = r.header().map_or(0, |h| h.revision());
            }
            let more = r.more();
            let page_kvs = r.take_kvs();
            if let Some(last) = page_kvs.last() {
                from = first_key(last.key());
            }
            kvs.extend(page_kvs.iter().map(|kv| i.key_value(kv)));
            if limit != 0 || !more || page_kvs.is_empty() {
                return Ok(RangeResult { kvs, revision: rev(at), more: limit != 0 && more });
            }
        }
    }

    fn committed(&self, resp: &etcd_client::TxnResponse) -> Revision {
        let r = rev(resp.header().map_or(0, |h| h.revision()));
        self.wait_written(r);
        r
    }
}

impl Store for Etcd {
    fn get(&self, key: &str) -> Result<Option<KeyValue>, StoreError> {
        let i = &self.inner;
        let k = i.full(key);
        let r = i.call("read", Retry::Read, |mut kv| {
            let k = k.clone();
            async move { kv.get(k, None).await }
        })?;
        Ok(r.kvs().first().map(|kv| i.key_value(kv)))
    }

    fn range(&self, prefix: &str, start_after: &str, limit: usize) -> Result<RangeResult, StoreError> {
        self.inner.range(prefix, start_after, limit, None)
    }

    fn range_at(&self, prefix: &str, revision: Revision) -> Result<RangeResult, StoreError> {
        self.inner.range(prefix, "", 0, Some(revision))
    }

    fn create(&self, key: &str, value: Vec<u8>) -> Result<Revision, StoreError> {
        podstore::check_sizes(key, &value)?;
        let i = &self.inner;
        let k = i.full(key);
        let txn = Txn::new().when([Compare::create_revision(k.clone(), CompareOp::Equal, 0)]).and_then([TxnOp::put(k, value, None)]);
        let resp = i.txn("create", txn)?;
        if !resp.succeeded() {
            return Err(StoreError::AlreadyExists);
        }
        Ok(i.committed(&resp))
    }

    fn update(&self, key: &str, value: Vec<u8>, expected: Revision) -> Result<Revision, StoreError> {
        podstore::check_sizes(key, &value)?;
        let i = &self.inner;
        let k = i.full(key);
        let txn = Txn::new()
            .when([Compare::mod_revision(k.clone(), CompareOp::Equal, expected as i64)])
            .and_then([TxnOp::put(k.clone(), value, None)])
            .or_else([TxnOp::get(k, None)]);
        let resp = i.txn("update", txn)?;
        if !resp.succeeded() {
            return Err(match i.current_of(&resp) {
                Some(current) => StoreError::Conflict { current: Box::new(current) },
                None => StoreError::NotFound,
            });
        }
        Ok(i.committed(&resp))
    }

    fn delete(&self, key: &str, expected: Revision) -> Result<(Revision, KeyValue), StoreError> {
        let i = &self.inner;
        let k = i.full(key);
        let cmp = if expected == 0 { Compare::create_revision(k.clone(), CompareOp::Greater, 0) } else { Compare::mod_revision(k.clone(), CompareOp::Equal, expected as i64) };
        let txn = Txn::new().when([cmp]).and_then([TxnOp::delete(k.clone(), Some(etcd_client::DeleteOptions::new().with_prev_key()))]).or_else([TxnOp::get(k, None)]);
        let resp = i.txn("delete", txn)?;
        if !resp.succeeded() {
            return Err(match i.current_of(&resp) {
                Some(current) => StoreError::Conflict { current: Box::new(current) },
                None => StoreError::NotFound,
            });
        }
        let last = resp.op_responses().into_iter().find_map(|r| match r {
            TxnOpResponse::Delete(d) => d.prev_kvs().first().map(|kv| i.key_value(kv)),
            _ => None,
        });
        // Deleted between compare and delete cannot happen (one
        // transaction); no previous value means the key was not there.
        let last = last.ok_or(StoreError::NotFound)?;
        Ok((i.committed(&resp), last))
    }

    fn events_since(&self, after: Revision, limit: usize) -> Result<Vec<Event>, StoreError> {
        let h = self.inner.lock_history();
        if after < h.start || after < h.compacted {
            return Err(StoreError::Compacted { compacted: h.start.max(h.compacted) });
        }
        let skip = h.events.partition_point(|e| e.revision <= after);
        let n = if limit == 0 { usize::MAX } else { limit };
        Ok(h.events.iter().skip(skip).take(n).cloned().collect())
    }

    fn revision(&self) -> Revision {
        self.inner.lock_history().head
    }

    fn compact(&self, revision: Revision) -> Result<(), StoreError> {
        let i = &self.inner;
        match i.try_call(Retry::Read, |mut kv| async move { kv.compact(revision as i64, None).await }) {
            Ok(_) => {}
            // Already compacted at or past it: the history is gone either way.
            Err(e) => match etcd_err("compaction", e) {
                StoreError::Compacted { .. } => {}
                other => return Err(other),
            },
        }
        let mut h = i.lock_history();
        h.compacted = h.compacted.max(revision);
        while h.events.front().is_some_and(|e| e.revision <= revision) {
            let old = h.events.pop_front().expect("checked");
            h.bytes -= podstore::embedded::event_bytes(&old);
        }
        h.start = h.start.max(revision);
        Ok(())
    }

    fn subscribe(&self, notify: Notify) {
        self.inner.subscribers.lock().unwrap_or_else(|p| p.into_inner()).push(notify);
    }

    fn shared(&self) -> bool {
        true
    }

    /// Upstream's consistent read from cache: etcd's current revision by a
    /// linearizable read, then the wait for the subscribers to be told of
    /// it. The watch is of the whole key space, so that revision is an
    /// event on it (upstream asks etcd for a progress notification instead,
    /// which etcd 3.4 before 3.4.25 can answer early: etcd-io/etcd#15220).
    fn sync(&self) -> Result<Revision, StoreError> {
        let i = &self.inner;
        let r = i.current_revision()?;
        if i.wait_told(r) {
            Ok(r)
        } else {
            Err(StoreError::Io(format!("the watch did not reach etcd's revision {r} within {VISIBLE_WAIT:?} (it is at {})", i.lock_history().told)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_prefix_ends_after_its_last_key() {
        assert_eq!(prefix_end(b"/a/"), b"/a0");
        assert_eq!(prefix_end(b"a\xff\xff"), b"b");
        assert_eq!(prefix_end(b"\xff"), vec![0]);
        assert_eq!(prefix_end(b""), vec![0]);
    }

    #[test]
    fn store_urls_name_every_member() {
        let o = Options::from_url("etcd://127.0.0.1:2379,127.0.0.1:22379").unwrap();
        assert_eq!(o.endpoints, ["127.0.0.1:2379", "127.0.0.1:22379"]);
        assert!(Options::from_url("http://127.0.0.1:2379").unwrap_err().contains("etcd://HOST:PORT"));
        assert!(Options::from_url("etcd://127.0.0.1:2379,").unwrap_err().contains("is not HOST:PORT"));
        assert!(Options::from_url("etcd://localhost").unwrap_err().contains("is not HOST:PORT"));
    }
}
