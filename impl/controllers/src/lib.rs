//! The control-plane daemons, each a thin driver around the pure core:
//! informer caches → `podcore::controller::*` → effects executed as API
//! calls. No decision is taken here; what is here is IO, queues and timers.

pub mod leader;
pub mod manager;
pub mod scheduler;

pub use client::clock::wall_now as now;

/// Whether an error is the ordinary result of acting on a stale cache (the
/// next watch event brings the fresh object and the key is processed again).
pub fn is_benign(e: &podcore::status::ApiError) -> bool {
    e.code == 409 || e.code == 404
}

pub fn log(component: &str, msg: &str) {
    eprintln!("{} {component}: {msg}", client::clock::log_stamp());
}

/// Waits until every informer has listed once.
pub async fn wait_for_sync(informers: &[&client::informer::Informer]) {
    while !informers.iter().all(|i| i.has_synced()) {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}
