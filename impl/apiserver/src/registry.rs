//! The registry: every write the apiserver makes, as blocking functions over
//! the store. Each write is decided whole by `podcore::admission::decide`
//! (naming, defaulting, validation, preconditions, no-ops, graceful
//! deletion, finalizers, binding, namespace lifecycle); this module adds
//! only what needs IO: reading the store for the decision, the
//! compare-and-swap of what it decided, retrying on conflict where the
//! request allows, and feeding the watch caches.

use podcore::admission::{self, CreateContext, Request, UpdateTarget, Write};
use podcore::object::{Kind, Object};
use podcore::patch::{self, PatchType};
use podcore::status::ApiError;
use podcore::types::{Binding, DeleteOptions, Scale};
use podstore::{EventKind, Revision, Store, StoreError};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use watchcache::{Event, WatchCache};

/// Attempts of a write that is retried on conflict (patch, bind, delete),
/// the first one (decided on the watch cache) included.
pub const MAX_CONFLICT_RETRIES: usize = 16;
/// Events the feeder moves from the store to the caches per pass.
const FEED_BATCH: usize = 1024;

pub struct Registry {
    pub store: Arc<dyn Store>,
    pub caches: BTreeMap<Kind, WatchCache<Object>>,
    fed_revision: Mutex<Revision>,
    rng: Mutex<u64>,
    pub default_toleration_seconds: i64,
}

pub use client::clock::wall_now as now;

fn store_err(e: StoreError, kind: Kind, name: &str) -> ApiError {
    let i = kind.info();
    match e {
        StoreError::AlreadyExists => ApiError::already_exists(i.group, i.plural, name),
        StoreError::NotFound => ApiError::not_found(i.group, i.plural, name),
        StoreError::Conflict { .. } => ApiError::stale(i.group, i.plural, name),
        StoreError::Compacted { compacted } => ApiError::gone(format!("too old resource version (compacted at {compacted})")),
        StoreError::TooLarge(m) => ApiError::too_large(m),
        StoreError::Io(m) => ApiError::internal(format!("storage error: {m}")),
        StoreError::Corrupt(m) => ApiError::internal(format!("storage is corrupt: {m}")),
    }
}

pub fn kind_of_key(key: &str) -> Option<Kind> {
    Kind::ALL.into_iter().find(|k| key.starts_with(&k.key_prefix()))
}

/// Decodes a stored value; the resourceVersion is the key's mod revision.
pub fn decode(kind: Kind, value: &[u8], revision: Revision) -> Result<Object, ApiError> {
    let mut obj = Object::from_stored_json(kind, value)?;
    obj.meta_mut().resource_version = revision.to_string();
    Ok(obj)
}

/// What is stored: the object without its resourceVersion (the store's
/// revision is the version, as upstream's etcd3 storage does).
pub fn encode(obj: &mut Object) -> Vec<u8> {
    let rv = std::mem::take(&mut obj.meta_mut().resource_version);
    let bytes = obj.to_json();
    obj.meta_mut().resource_version = rv;
    bytes
}

/// Where a write's decision reads the objects it is decided against.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Source {
    /// The watch cache: no read from the store and no decoding. It may be
    /// behind the store when writes race, so what it decides is only kept
    /// when the compare-and-swap confirms it (upstream's GuaranteedUpdate
    /// with the cached object: `origStateIsCurrent` false).
    Cache,
    /// The store itself.
    Store,
}

/// Whether a write is stored or only rehearsed (upstream's `dryRun=All`):
/// a rehearsal takes the whole decision — defaults, admission, validation,
/// preconditions — against the store's current objects and answers with
/// what would be stored; nothing is written, so no watcher hears of it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Mode {
    #[default]
    Commit,
    DryRun,
}

/// What one attempt of a write came to.
enum Attempt<T> {
    Done(T),
    /// The store had moved on since the decision read it; `retry`: whether
    /// the request may be decided again on the new state.
    Conflict { retry: bool },
    /// The store failed the write: the answer, on whichever source the
    /// decision was taken. Its outcome is unknown (etcd may have applied a
    /// transaction whose answer was lost), so deciding it again would answer
    /// for a state the write itself may have made: a delete that took effect
    /// would be told NotFound.
    Failed(ApiError),
}

/// The field the pod watch cache indexes its events by (upstream's
/// NodeNameTriggerFunc): a watch selecting `spec.nodeName=<node>`, as every
/// kubelet's does, is handed only its node's events.
pub const POD_TRIGGER_FIELD: &str = "spec.nodeName";

fn pod_node_name(o: &Object) -> Option<String> {
    o.as_pod().map(|p| p.spec.node_name.clone())
}

/// The trigger value a watch of `kind` with field selector `fsel` selects.
pub fn trigger_of(kind: Kind, fsel: &podcore::object::FieldSelector) -> Option<String> {
    if kind != Kind::Pod {
        return None;
    }
    fsel.terms.iter().find(|(f, equals, _)| f == POD_TRIGGER_FIELD && *equals).map(|(_, _, v)| v.clone())
}

/// How many times the feed tries to reload the caches at one revision
/// before it leaves it to the next write.
pub const MAX_RELIST_ATTEMPTS: usize = 10;

impl Registry {
    /// Loads every object into fresh caches and subscribes the feeder.
    pub fn open(store: Arc<dyn Store>, window_events: usize, default_toleration_seconds: i64) -> Result<Arc<Registry>, String> {
        let rev = store.revision();
        let mut caches = BTreeMap::new();
        for kind in Kind::ALL {
            let objs = load(store.as_ref(), kind, rev)?;
            let cache = WatchCache::new(window_events, rev, objs);
            caches.insert(kind, if kind == Kind::Pod { cache.indexed_by(pod_node_name) } else { cache });
        }
        let seed = {
            use std::io::Read;
            let mut b = [0u8; 8];
            std::fs::File::open("/dev/urandom").and_then(|mut f| f.read_exact(&mut b)).map_err(|e| format!("reading /dev/urandom: {e}"))?;
            u64::from_le_bytes(b) | 1
        };
        let reg = Arc::new(Registry { store: store.clone(), caches, fed_revision: Mutex::new(rev), rng: Mutex::new(seed), default_toleration_seconds });
        let weak = Arc::downgrade(&reg);
        store.subscribe(Arc::new(move || {
            if let Some(r) = weak.upgrade() {
                r.feed();
            }
        }));
        Ok(reg)
    }

    /// Moves committed events into the caches. Runs on the writer's thread
    /// right after each commit, so a write that has returned is visible to
    /// every list and watch that starts after it.
    pub fn feed(&self) {
        let mut fed = self.fed_revision.lock().unwrap_or_else(|p| p.into_inner());
        loop {
            let evs = match self.store.events_since(*fed, FEED_BATCH) {
                Ok(evs) => evs,
                Err(_) => {
                    // Fell behind the store's history: rebuild every cache,
                    // every kind at one revision (again if the store moved
                    // past it while loading and keeps no old versions).
                    for _ in 0..MAX_RELIST_ATTEMPTS {
                        let rev = self.store.revision();
                        let loaded: Result<Vec<_>, String> = self.caches.keys().map(|kind| load(self.store.as_ref(), *kind, rev)).collect();
                        match loaded {
                            Ok(all) => {
                                for ((_, cache), objs) in self.caches.iter().zip(all) {
                                    cache.reset(rev, objs);
                                }
                                *fed = rev;
                                return;
                            }
                            Err(e) => eprintln!("apiserver: relisting for the watch cache at revision {rev}: {e}"),
                        }
                    }
                    eprintln!("apiserver: the watch cache could not relist in {MAX_RELIST_ATTEMPTS} attempts; it tries again at the next write");
                    return;
                }
            };
            if evs.is_empty() {
                return;
            }
            for ev in evs {
                *fed = ev.revision;
                let Some(kind) = kind_of_key(&ev.kv.key) else { continue };
                let decoded = |kv: &podstore::KeyValue, rev: Revision| decode(kind, &kv.value, rev).ok().map(Arc::new);
                // The object before the event is the cache's current one
                // (the cache holds every event before this one): no decoding.
                let current = self.caches[&kind].get(&ev.kv.key).0;
                let cev = match ev.kind {
                    EventKind::Put => Event {
                        revision: ev.revision,
                        key: ev.kv.key.clone(),
                        value: decoded(&ev.kv, ev.kv.mod_revision),
                        prev: ev.prev.as_ref().and_then(|p| match current {
                            Some(c) if c.meta().revision() == p.mod_revision => Some(c),
                            _ => decoded(p, p.mod_revision),
                        }),
                    },
                    // A deleted object carries the deletion's revision, as upstream.
                    EventKind::Delete => Event {
                        revision: ev.revision,
                        key: ev.kv.key.clone(),
                        value: None,
                        prev: match current {
                            Some(c) if c.meta().revision() == ev.kv.mod_revision => {
                                let mut gone = (*c).clone();
                                gone.meta_mut().resource_version = ev.revision.to_string();
                                Some(Arc::new(gone))
                            }
                            _ => decoded(&ev.kv, ev.revision),
                        },
                    },
                };
                for (k, cache) in &self.caches {
                    if *k == kind {
                        cache.apply(cev.clone());
                    } else {
                        cache.advance(ev.revision);
                    }
                }
            }
        }
    }

    pub fn cache(&self, kind: Kind) -> &WatchCache<Object> {
        &self.caches[&kind]
    }

    fn random(&self) -> u64 {
        // splitmix64, seeded from /dev/urandom.
        let mut s = self.rng.lock().unwrap_or_else(|p| p.into_inner());
        *s = s.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = *s;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A random version-4 UUID (objects' uids, audit IDs).
    pub fn new_uid(&self) -> String {
        let (a, b) = (self.random(), self.random());
        let a = (a & 0xFFFF_FFFF_FFFF_0FFF) | 0x4000; // version 4
        let b = (b & 0x3FFF_FFFF_FFFF_FFFF) | 0x8000_0000_0000_0000; // variant
        format!("{:08x}-{:04x}-{:04x}-{:04x}-{:012x}", a >> 32, (a >> 16) & 0xFFFF, a & 0xFFFF, b >> 48, b & 0xFFFF_FFFF_FFFF)
    }

    fn name_suffix(&self) -> String {
        const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
        let mut r = self.random();
        (0..admission::GENERATE_NAME_SUFFIX_LEN)
            .map(|_| {
                let c = ALPHABET[(r % ALPHABET.len() as u64) as usize] as char;
                r /= ALPHABET.len() as u64;
                c
            })
            .collect()
    }

    /// The object at `key` with its revision, from `source`; None when absent.
    fn read(&self, key: &str, source: Source) -> Result<Option<(Object, Revision)>, ApiError> {
        let Some(kind) = kind_of_key(key) else { return Ok(None) };
        if source == Source::Cache {
            return Ok(self.cache(kind).get(key).0.map(|o| ((*o).clone(), o.meta().revision())));
        }
        let kv = self.store.get(key).map_err(|e| store_err(e, kind, key))?;
        kv.map(|kv| decode(kind, &kv.value, kv.mod_revision).map(|o| (o, kv.mod_revision))).transpose()
    }

    /// Whether the store still holds `key` at `rev` (a decision the cache
    /// showed as a no-op is only one if the cache was current).
    fn still_at(&self, key: &str, rev: Revision) -> bool {
        matches!(self.store.get(key), Ok(kv) if kv.as_ref().map_or(0, |kv| kv.mod_revision) == rev)
    }

    /// One write: `admission::decide` against the store as it is, then the
    /// compare-and-swap of what it decided, read again and decided again on
    /// a conflict when the request allows (`admission::retry_on_conflict`).
    /// Returns the object as stored (or as last stored, when removed) and
    /// whether it is gone.
    ///
    /// The first decision is taken on the watch cache; when the cache was
    /// behind (its decision failed, or its write conflicted), the write is
    /// decided again on the store's own objects.
    ///
    /// A dry run is decided once, on the store, and not written.
    pub fn write(&self, url_namespace: &str, req: &Request, mode: Mode) -> Result<(Object, bool), ApiError> {
        let retry = admission::retry_on_conflict(req);
        let written = self.cache_then_store(mode, |source| {
            Ok(match self.attempt(url_namespace, req, source, mode, None)? {
                Attempt::Conflict { .. } => Attempt::Conflict { retry },
                other => other,
            })
        })?;
        if let Some(done) = written {
            return Ok(done);
        }
        Err(match req {
            Request::Create(_) => ApiError::new(500, "AlreadyExists", "could not generate a unique name; try again"),
            _ => {
                let kind = request_kind(req);
                ApiError::stale(kind.info().group, kind.info().plural, request_name(req))
            }
        })
    }

    /// Runs a write's `attempt` up to `MAX_CONFLICT_RETRIES` times: the
    /// first decided on the watch cache, the rest on the store. Whatever the
    /// cache's attempt came to short of done (an error, a conflict) may only
    /// be the cache being behind, so it is decided again on the store; on the
    /// store an error is the answer, and a conflict is tried again when the
    /// attempt allows. A write the store failed is the answer at once
    /// (`Attempt::Failed`). None: no attempt was done. A dry run starts on the
    /// store: it writes nothing, so no compare-and-swap would tell it that
    /// the cache was behind.
    fn cache_then_store<T>(&self, mode: Mode, mut attempt: impl FnMut(Source) -> Result<Attempt<T>, ApiError>) -> Result<Option<T>, ApiError> {
        for n in 0..MAX_CONFLICT_RETRIES {
            let source = if n == 0 && mode == Mode::Commit { Source::Cache } else { Source::Store };
            match attempt(source) {
                Ok(Attempt::Done(t)) => return Ok(Some(t)),
                Ok(Attempt::Failed(e)) => return Err(e),
                Ok(Attempt::Conflict { .. }) | Err(_) if source == Source::Cache => continue,
                Ok(Attempt::Conflict { retry: true }) => continue,
                Ok(Attempt::Conflict { retry: false }) => return Ok(None),
                Err(e) => return Err(e),
            }
        }
        Ok(None)
    }

    /// One decision and its write; `Conflict` when the store had moved on
    /// since the decision read it (a CAS conflict, or a generated name
    /// taken), `Failed` when the store failed or refused the write.
    /// A dry run answers with what it decided: a new object without a
    /// resourceVersion (it has none until stored), an update at the current
    /// one, a removal as its last state. `known`: an object the caller has
    /// just read from `source` (a patch's target), served to the decision
    /// rather than read again.
    fn attempt(&self, url_namespace: &str, req: &Request, source: Source, mode: Mode, mut known: Option<(&str, Object, Revision)>) -> Result<Attempt<(Object, bool)>, ApiError> {
        let (uid, suffix) = (self.new_uid(), self.name_suffix());
        let ctx = CreateContext { now: now(), uid: &uid, name_suffix: &suffix, namespace: url_namespace, default_toleration_seconds: self.default_toleration_seconds };
        let mut revisions: BTreeMap<String, Revision> = BTreeMap::new();
        let mut failed: Option<ApiError> = None;
        let mut read = |key: &str| {
            let found = match known.take_if(|(k, ..)| *k == key) {
                Some((_, o, rev)) => Ok(Some((o, rev))),
                None => self.read(key, source),
            };
            match found {
                Ok(Some((o, rev))) => {
                    revisions.insert(key.to_string(), rev);
                    Some(o)
                }
                Ok(None) => None,
                Err(e) => {
                    failed.get_or_insert(e);
                    None
                }
            }
        };
        let decided = admission::decide(req, &ctx, &mut read);
        if let Some(e) = failed {
            return Err(e);
        }
        let decided = decided?;
        let (kind, key) = (decided.kind, decided.key.as_str());
        let rev = revisions.get(key).copied().unwrap_or(0);
        let name = |o: &Object| o.meta().name.clone();
        let set_rv = |mut o: Object, r: Revision| {
            o.meta_mut().resource_version = r.to_string();
            o
        };
        if mode == Mode::DryRun {
            return Ok(Attempt::Done(match decided.write {
                Write::Create(mut o) => {
                    o.meta_mut().resource_version.clear();
                    (o, false)
                }
                Write::Update(o) | Write::Nothing(o) => (set_rv(o, rev), false),
                Write::Remove(o) => (o, true),
            }));
        }
        let done = match decided.write {
            Write::Nothing(_) if source == Source::Cache && !self.still_at(key, rev) => return Ok(Attempt::Conflict { retry: true }),
            Write::Nothing(o) => (o, false),
            Write::Create(mut o) => match self.store.create(key, encode(&mut o)) {
                Ok(r) => (set_rv(o, r), false),
                // A generated name another write took meanwhile: another suffix.
                Err(StoreError::AlreadyExists) if admission::retry_on_conflict(req) => return Ok(Attempt::Conflict { retry: true }),
                Err(e) => return Ok(Attempt::Failed(store_err(e, kind, &name(&o)))),
            },
            Write::Update(mut o) => match self.store.update(key, encode(&mut o), rev) {
                Ok(r) => (set_rv(o, r), false),
                Err(StoreError::Conflict { .. } | StoreError::NotFound) => return Ok(Attempt::Conflict { retry: true }),
                Err(e) => return Ok(Attempt::Failed(store_err(e, kind, &name(&o)))),
            },
            Write::Remove(o) => match self.store.delete(key, rev) {
                Ok((r, _)) => (set_rv(o, r), true),
                Err(StoreError::Conflict { .. } | StoreError::NotFound) => return Ok(Attempt::Conflict { retry: true }),
                Err(e) => return Ok(Attempt::Failed(store_err(e, kind, &name(&o)))),
            },
        };
        if let Some(ns) = &decided.drain_namespace {
            self.drain_namespace(ns);
        }
        Ok(Attempt::Done(done))
    }

    pub fn create(&self, url_namespace: &str, obj: Object, mode: Mode) -> Result<Object, ApiError> {
        self.write(url_namespace, &Request::Create(obj), mode).map(|(o, _)| o)
    }

    /// Whether a read that must see every acknowledged write has to `sync`
    /// first (the store is written by other apiservers too).
    pub fn shared(&self) -> bool {
        self.store.shared()
    }

    /// Blocks until the caches hold every write acknowledged before the
    /// call, by any apiserver (upstream's consistent read from cache).
    pub fn sync(&self) -> Result<(), ApiError> {
        self.store.sync().map(|_| ()).map_err(|e| match e {
            StoreError::Io(m) => ApiError::timeout(format!("the watch cache did not catch up with the store: {m}")),
            e => ApiError::internal(format!("storage error: {e}")),
        })
    }

    pub fn get(&self, kind: Kind, ns: &str, name: &str) -> Result<Object, ApiError> {
        let i = kind.info();
        self.cache(kind).get(&kind.key(ns, name)).0.map(|o| (*o).clone()).ok_or_else(|| ApiError::not_found(i.group, i.plural, name))
    }

    pub fn update(&self, kind: Kind, ns: &str, name: &str, new: Object, target: UpdateTarget, mode: Mode) -> Result<Object, ApiError> {
        if new.kind() != kind {
            return Err(ApiError::bad_request(format!("kind: expected {}", kind.info().kind_name)));
        }
        self.write(ns, &Request::Update { namespace: ns.into(), name: name.into(), obj: new, target }, mode).map(|(o, _)| o)
    }

    /// Applies a patch to the current object and writes it; on a conflict
    /// the patch is applied again to the new current object, unless it
    /// pinned a resourceVersion.
    pub fn patch(&self, kind: Kind, ns: &str, name: &str, patch_type: PatchType, body: &serde_json::Value, target: UpdateTarget, mode: Mode) -> Result<Object, ApiError> {
        let key = kind.key(ns, name);
        let i = kind.info();
        let patched = self.cache_then_store(mode, |source| {
            let (old, rev) = self.read(&key, source)?.ok_or_else(|| ApiError::not_found(i.group, i.plural, name))?;
            let mut patched = patch::apply(i.kind_name, patch_type, &old.to_value(), body).map_err(|e| ApiError::new(422, "Invalid", format!("{} \"{name}\" is invalid: the patch could not be applied: {e}", i.kind_name)))?;
            // Whatever the patch type, what upstream's types have no field for is not kept.
            podcore::schema::prune_unknown(kind, &mut patched);
            let new = Object::from_value(kind, patched)?;
            let pinned = new.meta().resource_version != old.meta().resource_version;
            let req = Request::Update { namespace: ns.into(), name: name.into(), obj: new, target };
            // The decision is taken against the very object the patch was applied to.
            Ok(match self.attempt(ns, &req, source, mode, Some((&key, old, rev)))? {
                Attempt::Done((o, _)) => Attempt::Done(o),
                Attempt::Conflict { .. } => Attempt::Conflict { retry: !pinned },
                Attempt::Failed(e) => Attempt::Failed(e),
            })
        })?;
        patched.ok_or_else(|| ApiError::stale(i.group, i.plural, name))
    }

    pub fn bind(&self, ns: &str, name: &str, binding: &Binding, mode: Mode) -> Result<Object, ApiError> {
        self.write(ns, &Request::Bind { namespace: ns.into(), name: name.into(), binding: binding.clone() }, mode).map(|(o, _)| o)
    }

    /// Deletes; returns the last state and whether it is gone from the store.
    pub fn delete(&self, kind: Kind, ns: &str, name: &str, opts: &DeleteOptions, mode: Mode) -> Result<(Object, bool), ApiError> {
        self.write(ns, &Request::Delete { kind, namespace: ns.into(), name: name.into(), opts: opts.clone() }, mode)
    }

    /// A terminating namespace: delete everything in it (pods gracefully);
    /// the namespace itself goes once it is empty (see `finish_namespaces`).
    fn drain_namespace(&self, ns: &str) {
        for kind in Kind::ALL.into_iter().filter(|k| k.info().namespaced) {
            let (items, _) = self.cache(kind).list(&format!("{}{ns}/", kind.key_prefix()));
            for req in admission::drain_namespace(items.iter().map(|(_, o)| &**o)) {
                let _ = self.write(ns, &req, Mode::Commit);
            }
        }
    }

    /// Removes terminating namespaces that have become empty (the job of
    /// upstream's namespace controller, done here on a timer).
    pub fn finish_namespaces(&self) {
        let (nss, _) = self.cache(Kind::Namespace).list(&Kind::Namespace.key_prefix());
        for (_, n) in nss {
            let m = n.meta();
            if m.deletion_timestamp.is_none() {
                continue;
            }
            let remaining: usize = Kind::ALL.into_iter().filter(|k| k.info().namespaced).map(|k| self.cache(k).list(&format!("{}{}/", k.key_prefix(), m.name)).0.len()).sum();
            if admission::namespace_finished(&n, remaining) {
                let _ = self.store.delete(&Kind::Namespace.key("", &m.name), m.revision());
            } else {
                self.drain_namespace(&m.name);
            }
        }
    }

    pub fn scale(&self, kind: Kind, ns: &str, name: &str) -> Result<Scale, ApiError> {
        let obj = self.get(kind, ns, name)?;
        admission::scale_of(&obj).ok_or_else(|| ApiError::not_found(kind.info().group, "scale", name))
    }

    pub fn update_scale(&self, kind: Kind, ns: &str, name: &str, scale: &Scale, mode: Mode) -> Result<Scale, ApiError> {
        let (updated, _) = self.write(ns, &Request::Scale { kind, namespace: ns.into(), name: name.into(), scale: scale.clone() }, mode)?;
        Ok(admission::scale_of(&updated).expect("scalable kind"))
    }

    /// Creates what every cluster has: the namespaces, and upstream's
    /// bootstrap ClusterRoles and ClusterRoleBindings for what podchain runs
    /// (`podcore::rbac`), each only when it is missing, as upstream's RBAC
    /// start-up hook (which also adds missing rules to roles marked
    /// `autoupdate`; podchain leaves an existing role as it is).
    pub fn bootstrap(&self) -> Result<(), ApiError> {
        let mut wanted: Vec<(&str, Object)> = Vec::new();
        for ns in ["default", "kube-system", "kube-public", "kube-node-lease"] {
            let mut n = podcore::types::Namespace::default();
            n.metadata.name = ns.into();
            wanted.push(("", Object::Namespace(n)));
        }
        wanted.extend(podcore::rbac::bootstrap_cluster_roles().into_iter().map(|r| ("", Object::ClusterRole(r))));
        wanted.extend(podcore::rbac::bootstrap_cluster_role_bindings().into_iter().map(|b| ("", Object::ClusterRoleBinding(b))));
        for (ns, obj) in wanted {
            let key = obj.key();
            if self.cache(obj.kind()).get(&key).0.is_some() {
                continue;
            }
            match self.create(ns, obj, Mode::Commit) {
                Ok(_) => {}
                Err(e) if e.reason == "AlreadyExists" => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// The RBAC objects as the authoriser reads them, from the watch caches.
    pub fn policy(&self) -> podcore::authz::Policy {
        let (mut roles, mut cluster_roles, mut bindings, mut cluster_bindings) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for kind in [Kind::Role, Kind::ClusterRole, Kind::RoleBinding, Kind::ClusterRoleBinding] {
            for (_, o) in self.cache(kind).list(&kind.key_prefix()).0 {
                match &*o {
                    Object::Role(r) => roles.push(r.clone()),
                    Object::ClusterRole(r) => cluster_roles.push(r.clone()),
                    Object::RoleBinding(b) => bindings.push(b.clone()),
                    Object::ClusterRoleBinding(b) => cluster_bindings.push(b.clone()),
                    _ => {}
                }
            }
        }
        podcore::authz::Policy::new(cluster_roles, roles, cluster_bindings, bindings)
    }
}

fn request_kind(req: &Request) -> Kind {
    match req {
        Request::Create(o) | Request::Update { obj: o, .. } => o.kind(),
        Request::Delete { kind, .. } | Request::Scale { kind, .. } => *kind,
        Request::Bind { .. } => Kind::Pod,
    }
}

fn request_name(req: &Request) -> &str {
    match req {
        Request::Create(o) => &o.meta().name,
        Request::Update { name, .. } | Request::Delete { name, .. } | Request::Bind { name, .. } | Request::Scale { name, .. } => name,
    }
}

/// Every stored object of `kind` at revision `rev`: all kinds are loaded at
/// the one revision the caches start from, however many apiservers write.
fn load(store: &dyn Store, kind: Kind, rev: Revision) -> Result<Vec<(String, Arc<Object>)>, String> {
    let r = store.range_at(&kind.key_prefix(), rev).map_err(|e| e.to_string())?;
    let mut out = Vec::with_capacity(r.kvs.len());
    for kv in r.kvs {
        match decode(kind, &kv.value, kv.mod_revision) {
            Ok(o) => out.push((kv.key, Arc::new(o))),
            Err(e) => eprintln!("apiserver: skipping undecodable stored object {}: {}", kv.key, e.message),
        }
    }
    Ok(out)
}
