//! The control-plane daemons, each a thin driver around the pure core:
//! informer caches → `podcore::controller::*` → effects executed as API
//! calls. No decision is taken here; what is here is IO, queues and timers.

pub mod manager;
pub mod scheduler;

pub use client::clock::wall_now as now;

/// Whether an error is the ordinary result of acting on a stale cache (the
/// next watch event brings the fresh object and the key is processed again).
pub fn is_benign(e: &podcore::status::ApiError) -> bool {
    e.code == 409 || e.code == 404
}

pub fn log(component: &str, msg: &str) {
    eprintln!("{} {component}: {msg}", now().to_rfc3339());
}

/// Adds a key to a work queue. A queue at its bound refuses the key: the
/// refusal is counted by the queue and logged here (the first, then at
/// every power of two, so a flood of refusals is a few lines), and the
/// driver offers every key again once the queue drains (`refill_after_overflow`).
pub fn enqueue(queue: &watchcache::workqueue::WorkQueue, component: &str, key: &str) {
    if queue.add(key) == watchcache::workqueue::Added::Refused {
        let n = queue.refused();
        if n.is_power_of_two() {
            log(component, &format!("work queue full: refused {key:?} ({n} refused so far); every key will be offered again once the queue drains"));
        }
    }
}

/// After a refusal, once the queue has drained: offers `keys` (every key the
/// driver could have queued) again, resuming where the last pass stopped.
pub fn refill_after_overflow(queue: &watchcache::workqueue::WorkQueue, component: &str, keys: impl FnOnce() -> Vec<String>) {
    if queue.is_empty() && queue.overflowed() {
        let mut keys = keys();
        keys.sort();
        keys.dedup();
        let n = queue.refill(&keys);
        log(component, &format!("work queue overflowed ({} adds refused so far): offered {n} of {} keys again", queue.refused(), keys.len()));
    }
}

/// Waits until every informer has listed once.
pub async fn wait_for_sync(informers: &[&client::informer::Informer]) {
    while !informers.iter().all(|i| i.has_synced()) {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}
