//! How long the runtime took to start each pod: the time spent in the calls
//! that make its sandbox and start its containers (for containerd, the CRI
//! calls themselves), as the kubelet saw it. `GET /stats/runtime` on the
//! kubelet's endpoint reports it, so the benchmark can split a pod's start-up
//! into the runtime's own time and everything else (the control plane).
//! Bounded: a pod's entry goes when its runtime state is removed.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

/// The start-up calls of one pod.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PodTiming {
    pub calls: u32,
    pub micros: u64,
}

#[derive(Default)]
pub struct RuntimeTimings {
    by_pod: Mutex<BTreeMap<String, PodTiming>>,
}

impl RuntimeTimings {
    /// One start-up call (sandbox or container start) of pod `uid` took `d`.
    pub fn record(&self, uid: &str, d: Duration) {
        let mut m = self.by_pod.lock().unwrap_or_else(|p| p.into_inner());
        let t = m.entry(uid.to_string()).or_default();
        t.calls += 1;
        t.micros += d.as_micros() as u64;
    }

    /// The pod's runtime state is gone: so is its entry.
    pub fn forget(&self, uid: &str) {
        self.by_pod.lock().unwrap_or_else(|p| p.into_inner()).remove(uid);
    }

    pub fn snapshot(&self) -> BTreeMap<String, PodTiming> {
        self.by_pod.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calls_add_up_per_pod_and_go_with_the_pod() {
        let t = RuntimeTimings::default();
        t.record("a", Duration::from_millis(3));
        t.record("a", Duration::from_millis(2));
        t.record("b", Duration::from_micros(7));
        assert_eq!(t.snapshot()["a"], PodTiming { calls: 2, micros: 5_000 });
        t.forget("a");
        assert_eq!(t.snapshot().keys().collect::<Vec<_>>(), ["b"]);
    }
}
