//! Informers (client-go's reflector + store, reduced): list, then watch from
//! the list's resourceVersion, keeping a local cache; on 410 Gone relist; on
//! a dropped connection re-watch from the last version seen. Every change is
//! applied to the cache first and then sent to the consumer, so a consumer
//! that reads the cache after a change always sees it.

use crate::{Client, ListOptions, WatchEvent};
use podcore::cache::Indexed;
use podcore::object::{Kind, Object};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;
use tokio::sync::mpsc;

/// Server-side timeout asked for each watch; the informer re-watches after it.
pub const WATCH_TIMEOUT_SECONDS: u64 = 300;
pub const MIN_RETRY: Duration = Duration::from_millis(100);
pub const MAX_RETRY: Duration = Duration::from_secs(5);

/// The wait after another failure: twice the last, at most `MAX_RETRY`.
pub fn next_retry(last: Duration) -> Duration {
    (last * 2).min(MAX_RETRY)
}

/// The informer's cache, indexed (`podcore::cache`): its consumer reads it
/// through `read()` as the `View` its controller machine decides on.
pub type Cache = Arc<RwLock<Indexed>>;

#[derive(Clone, Debug)]
pub struct Change {
    pub kind: Kind,
    pub key: String,
    pub old: Option<Arc<Object>>,
    pub new: Option<Arc<Object>>,
}

#[derive(Clone)]
pub struct Informer {
    pub kind: Kind,
    pub cache: Cache,
    pub synced: Arc<AtomicBool>,
}

impl Informer {
    pub fn snapshot(&self) -> Vec<Arc<Object>> {
        self.cache.read().unwrap_or_else(|p| p.into_inner()).values().cloned().collect()
    }
    /// The cache, held for reading (a `podcore::cache::View`).
    pub fn read(&self) -> std::sync::RwLockReadGuard<'_, Indexed> {
        self.cache.read().unwrap_or_else(|p| p.into_inner())
    }
    pub fn get(&self, key: &str) -> Option<Arc<Object>> {
        self.cache.read().unwrap_or_else(|p| p.into_inner()).get(key).cloned()
    }
    pub fn has_synced(&self) -> bool {
        self.synced.load(Ordering::SeqCst)
    }
}

pub fn spawn(client: Client, kind: Kind, namespace: &str, opts: ListOptions, tx: mpsc::Sender<Change>) -> Informer {
    let inf = Informer { kind, cache: Arc::new(RwLock::new(Indexed::new())), synced: Arc::new(AtomicBool::new(false)) };
    let me = inf.clone();
    let ns = namespace.to_string();
    tokio::spawn(async move { run(client, me, ns, opts, tx).await });
    inf
}

async fn run(client: Client, inf: Informer, ns: String, opts: ListOptions, tx: mpsc::Sender<Change>) {
    let mut rv = String::new();
    let mut retry = MIN_RETRY;
    loop {
        if rv.is_empty() {
            match client.list(inf.kind, &ns, &opts).await {
                Ok((items, list_rv)) => {
                    let fresh: BTreeMap<String, Arc<Object>> = items.into_iter().map(|o| (o.meta().key(), Arc::new(o))).collect();
                    let changes = {
                        let mut cache = inf.cache.write().unwrap_or_else(|p| p.into_inner());
                        let mut changes = Vec::new();
                        let gone: Vec<String> = cache.iter().filter(|(k, _)| !fresh.contains_key(*k)).map(|(k, _)| k.clone()).collect();
                        for k in gone {
                            let old = cache.remove(&k);
                            changes.push(Change { kind: inf.kind, key: k, old, new: None });
                        }
                        for (k, new) in fresh {
                            if cache.get(&k) != Some(&new) {
                                let old = cache.insert(k.clone(), new.clone());
                                changes.push(Change { kind: inf.kind, key: k, old, new: Some(new) });
                            }
                        }
                        changes
                    };
                    inf.synced.store(true, Ordering::SeqCst);
                    for c in changes {
                        if tx.send(c).await.is_err() {
                            return;
                        }
                    }
                    rv = list_rv;
                    retry = MIN_RETRY;
                }
                Err(_) => {
                    tokio::time::sleep(retry).await;
                    retry = next_retry(retry);
                    continue;
                }
            }
        }
        let mut stream = match client.watch(inf.kind, &ns, &opts, &rv, WATCH_TIMEOUT_SECONDS).await {
            Ok(s) => s,
            Err(e) => {
                if e.code == 410 {
                    rv.clear();
                } else {
                    tokio::time::sleep(retry).await;
                    retry = next_retry(retry);
                }
                continue;
            }
        };
        retry = MIN_RETRY;
        while let Some(ev) = stream.next().await {
            let (key, new, deleted) = match ev {
                Ok(WatchEvent::Added(o)) | Ok(WatchEvent::Modified(o)) => (o.meta().key(), Arc::new(o), false),
                Ok(WatchEvent::Deleted(o)) => (o.meta().key(), Arc::new(o), true),
                Ok(WatchEvent::Bookmark(b)) => {
                    if !b.is_empty() {
                        rv = b;
                    }
                    continue;
                }
                Ok(WatchEvent::Error(e)) => {
                    if e.code == 410 {
                        rv.clear();
                    }
                    break;
                }
                Err(_) => break,
            };
            rv = new.meta().resource_version.clone();
            let old = {
                let mut cache = inf.cache.write().unwrap_or_else(|p| p.into_inner());
                if deleted {
                    cache.remove(&key)
                } else {
                    cache.insert(key.clone(), new.clone())
                }
            };
            let change = Change { kind: inf.kind, key, old, new: if deleted { None } else { Some(new) } };
            if tx.send(change).await.is_err() {
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_double_up_to_max_retry() {
        let mut d = MIN_RETRY;
        let mut waits = vec![d];
        while d < MAX_RETRY {
            d = next_retry(d);
            waits.push(d);
        }
        assert_eq!(waits.last(), Some(&MAX_RETRY));
        assert_eq!(next_retry(MAX_RETRY), MAX_RETRY, "never past the bound");
        assert_eq!(next_retry(MAX_RETRY - Duration::from_millis(1)), MAX_RETRY);
        assert!(waits.windows(2).all(|w| w[1] > w[0]));
    }
}
