//! Informers (client-go's reflector + store, reduced): list, then watch from
//! the list's resourceVersion, keeping a local cache; on 410 Gone relist; on
//! a dropped connection re-watch from the last version seen. Every change is
//! applied to the cache first and then sent to the consumers, so a consumer
//! that reads the cache after a change always sees it.
//!
//! `Factory` shares informers between the consumers of one process, as
//! client-go's SharedInformerFactory does: one list+watch and one cache per
//! kind, namespace and selectors, each change delivered to every consumer
//! that asked for it. `podchain server` runs the controller-manager and the
//! scheduler over one factory, so their pods and nodes are decoded and held
//! once.

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

/// One informer of its own for one consumer.
pub fn spawn(client: Client, kind: Kind, namespace: &str, opts: ListOptions, tx: mpsc::Sender<Change>) -> Informer {
    let mut f = Factory::new(client);
    let inf = f.informer(kind, namespace, opts, tx);
    f.start();
    inf
}

/// Informers shared by the consumers of one process. Every consumer asks
/// for its informers first (`informer`), then `start` lists and watches:
/// no consumer joins after the first change went out, so each sees every
/// change of its informers from the initial list on, in order.
pub struct Factory {
    client: Client,
    entries: Vec<Entry>,
}

struct Entry {
    namespace: String,
    opts: ListOptions,
    informer: Informer,
    consumers: Vec<mpsc::Sender<Change>>,
}

impl Factory {
    pub fn new(client: Client) -> Factory {
        Factory { client, entries: Vec::new() }
    }

    /// The informer of `kind` in `namespace` ("" for all) with `opts`,
    /// shared with every consumer that asked for the same; `tx` receives
    /// each of its changes.
    pub fn informer(&mut self, kind: Kind, namespace: &str, opts: ListOptions, tx: mpsc::Sender<Change>) -> Informer {
        let i = match self.entries.iter().position(|e| e.informer.kind == kind && e.namespace == namespace && e.opts == opts) {
            Some(i) => i,
            None => {
                let informer = Informer { kind, cache: Arc::new(RwLock::new(Indexed::new())), synced: Arc::new(AtomicBool::new(false)) };
                self.entries.push(Entry { namespace: namespace.to_string(), opts, informer, consumers: Vec::new() });
                self.entries.len() - 1
            }
        };
        self.entries[i].consumers.push(tx);
        self.entries[i].informer.clone()
    }

    /// Lists and watches every informer asked for, each in a task of its own.
    pub fn start(self) {
        for e in self.entries {
            let client = self.client.clone();
            tokio::spawn(async move { run(client, e.informer, e.namespace, e.opts, e.consumers).await });
        }
    }
}

/// Sends `c` to every consumer (a copy to each but the last, which gets
/// `c` itself), dropping those that have gone; whether any is left.
async fn deliver(consumers: &mut Vec<mpsc::Sender<Change>>, c: Change) -> bool {
    let mut i = 0;
    while i + 1 < consumers.len() {
        if consumers[i].send(c.clone()).await.is_ok() {
            i += 1;
        } else {
            consumers.swap_remove(i);
        }
    }
    if let Some(last) = consumers.last() {
        if last.send(c).await.is_err() {
            consumers.pop();
        }
    }
    !consumers.is_empty()
}

async fn run(client: Client, inf: Informer, ns: String, opts: ListOptions, mut consumers: Vec<mpsc::Sender<Change>>) {
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
                        if !deliver(&mut consumers, c).await {
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
            if !deliver(&mut consumers, change).await {
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

    #[test]
    fn consumers_of_one_kind_namespace_and_selectors_share_one_informer() {
        let mut f = Factory::new(Client::new("http://127.0.0.1:1", None, "test"));
        let (tx, _rx) = mpsc::channel(1);
        let a = f.informer(Kind::Pod, "", ListOptions::default(), tx.clone());
        let b = f.informer(Kind::Pod, "", ListOptions::default(), tx.clone());
        assert!(Arc::ptr_eq(&a.cache, &b.cache) && Arc::ptr_eq(&a.synced, &b.synced), "one cache for both");
        let on_node = ListOptions { field_selector: "spec.nodeName=n1".into(), ..Default::default() };
        let c = f.informer(Kind::Pod, "", on_node, tx.clone());
        let d = f.informer(Kind::Pod, "kube-system", ListOptions::default(), tx.clone());
        let e = f.informer(Kind::Node, "", ListOptions::default(), tx);
        for other in [&c, &d, &e] {
            assert!(!Arc::ptr_eq(&a.cache, &other.cache), "another selector, namespace or kind has its own");
        }
        assert_eq!(f.entries.len(), 4);
        assert_eq!(f.entries[0].consumers.len(), 2, "both consumers of the shared one get its changes");
    }

    #[tokio::test]
    async fn a_change_reaches_every_consumer_and_gone_ones_are_dropped() {
        let change = |key: &str| Change { kind: Kind::Pod, key: key.into(), old: None, new: None };
        let (tx1, mut rx1) = mpsc::channel(4);
        let (tx2, rx2) = mpsc::channel(4);
        let mut consumers = vec![tx1, tx2];
        assert!(deliver(&mut consumers, change("a")).await);
        drop(rx2);
        assert!(deliver(&mut consumers, change("b")).await, "one consumer is left");
        assert_eq!(consumers.len(), 1, "the gone consumer is dropped");
        assert_eq!(rx1.recv().await.unwrap().key, "a");
        assert_eq!(rx1.recv().await.unwrap().key, "b");
        drop(rx1);
        assert!(!deliver(&mut consumers, change("c")).await, "no consumer left: the informer stops");
    }
}
