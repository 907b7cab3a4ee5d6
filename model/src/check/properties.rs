//! What must hold: the properties of one state, and the helpers they ask.

use crate::cluster::{list, pods};
use podcore::controller::deployment::fenceposts;
use podcore::controller::kubelet::ContainerRun;
use podcore::object::Kind;
use podcore::podutil::{is_active, is_available, is_ready, is_terminal, request_nanos};
use podcore::types::*;
use stateright::Property;
use std::collections::BTreeSet;
use super::*;

impl PodChainModel {

    /// Every ReplicaSet's active pods are at most its spec.replicas, unless
    /// its controller still has something to do: its cache is behind the
    /// store, or its next pass would write.
    pub fn replicaset_counts_settled(&self, s: &State) -> bool {
        let objs = &s.cluster.objects;
        let over = list(objs, Kind::ReplicaSet).filter_map(|o| o.as_replicaset()).any(|rs| {
            let n = pods(objs).into_iter().filter(|p| is_active(p) && controlled(p, &rs.metadata.uid)).count() as i32;
            n > rs.spec.replicas.unwrap_or(1)
        });
        if !over {
            return true;
        }
        let c = Component::ReplicaSets;
        !self.synced(s, c) || self.step(s, c).cluster.objects != s.cluster.objects
    }

    /// Once the garbage collector's cache is current and its pass changes
    /// nothing, no object names an owner that is gone (or being deleted in
    /// the background, which the collector finishes).
    pub fn no_orphans_after_gc(&self, s: &State) -> bool {
        if !self.cfg.delete {
            return true;
        }
        let c = Component::GarbageCollector;
        let synced = self.synced(s, c);
        if !synced || self.step(s, c).cluster.objects != s.cluster.objects {
            return true;
        }
        let uids: BTreeSet<&str> = s.cluster.objects.values().map(|o| o.meta().uid.as_str()).collect();
        // Objects already being deleted are on their way out (the kubelet finishes pods).
        s.cluster.objects.values().filter(|o| o.meta().deletion_timestamp.is_none()).all(|o| o.meta().owner_references.iter().all(|r| uids.contains(r.uid.as_str())))
    }
    /// The controllers' keys whose look would write now (or need a live
    /// read) although they are not due (queued, or a timer due now): work
    /// that a change made necessary and that no change woke (a timer set
    /// for later does not count; `Looks::unwoken`). Asked only of a
    /// controller whose cache shows the store: a cache behind it
    /// (its own last write not yet seen, above all) shows phantom work that
    /// the delivery on its way corrects, and that delivery wakes what it
    /// changes. Pending looks that would write nothing are already taken
    /// (`canonicalize`), so every other key must look like nothing to do.
    pub fn unwoken_work(&self, s: &State) -> Vec<String> {
        let (now, cl) = (s.cluster.now, &s.cluster);
        let mut out = Vec::new();
        for c in self.components().into_iter().filter(|c| self.synced(s, *c)) {
            let keys = match c {
                Component::Deployments => cl.deployments.unwoken(now),
                Component::ReplicaSets => cl.replicasets.unwoken(now),
                Component::NodeLifecycle => cl.node_lifecycle.unwoken(now),
                Component::GarbageCollector => cl.gc.unwoken(now),
                Component::Scheduler | Component::Kubelet(_) => continue,
            };
            out.extend(keys.into_iter().map(|k| format!("{}: {k}", c.name())));
        }
        out
    }
    /// The desired state: one ReplicaSet with the current template at
    /// spec.replicas, the others at zero, every active pod its own, and as
    /// many of them running and ready — in the store and in the runtime of
    /// a live node — as are wanted and the live nodes can hold.
    pub fn converged(&self, s: &State) -> bool {
        let objs = &s.cluster.objects;
        if s.deleted {
            // Deleted: nothing it owned is left, in the store or in any runtime.
            return list(objs, Kind::ReplicaSet).next().is_none() && pods(objs).is_empty() && s.cluster.agents.values().all(|a| a.runtime.pods.is_empty());
        }
        let Some(d) = objs.get(&Kind::Deployment.key("default", "web")).and_then(|o| o.as_deployment()) else { return false };
        let want = d.spec.replicas.unwrap_or(1);
        let rss: Vec<&ReplicaSet> = list(objs, Kind::ReplicaSet).filter_map(|o| o.as_replicaset()).collect();
        let current: Vec<&&ReplicaSet> = rss.iter().filter(|r| podcore::controller::deployment::templates_equal(&r.spec.template, &d.spec.template)).collect();
        if current.len() != 1 || current[0].spec.replicas != Some(want) || rss.iter().any(|r| r.metadata.uid != current[0].metadata.uid && r.spec.replicas != Some(0)) {
            return false;
        }
        let live_nodes = s.cluster.agents.values().filter(|a| a.alive).count() as i64;
        let capacity = live_nodes * (self.cfg.node_cpu_m / self.cfg.pod_cpu_m.max(1));
        // Running and ready in the store, and in its node's runtime too: the
        // newest attempt of every container is running.
        let in_runtime = |p: &Pod| {
            s.cluster.agents.get(&p.spec.node_name).filter(|a| a.alive).and_then(|a| a.runtime.pods.get(&p.metadata.uid)).is_some_and(|(_, o)| {
                p.spec.containers.iter().all(|c| o.containers.iter().filter(|r| r.name == c.name).max_by_key(|r| r.attempt).is_some_and(|r| matches!(r.state, ContainerRun::Running { .. })))
            })
        };
        let cur = &current[0].metadata.uid;
        let active: Vec<&Pod> = pods(objs).into_iter().filter(|p| is_active(p)).collect();
        if active.iter().any(|p| !controlled(p, cur)) {
            return false;
        }
        let running = active.iter().filter(|p| p.status.phase == "Running" && is_ready(p) && in_runtime(p)).count() as i64;
        running == (want as i64).min(capacity)
    }
}

/// Whether `pod` is controlled by the object with `uid`.
pub(crate) fn controlled(p: &Pod, uid: &str) -> bool {
    podcore::controller::is_controlled_by(&p.metadata, uid)
}

/// Every property the checker checks (see proofs/README.md).
pub(super) fn all() -> Vec<Property<PodChainModel>> {
    vec![
        Property::<PodChainModel>::always("no transition violates safety", |_, s: &State| s.violations.is_empty()),
        Property::<PodChainModel>::always("the scheduler never binds beyond a node's allocatable cpu", |m, s: &State| {
            (1..=m.cfg.nodes).all(|i| {
                let used: i128 = pods(&s.cluster.objects).into_iter().filter(|p| p.spec.node_name == node_name(i) && !is_terminal(p)).map(|p| request_nanos(&p.spec, "cpu")).sum();
                used <= m.cfg.node_cpu_m as i128 * 1_000_000
            })
        }),
        Property::<PodChainModel>::always("no pod waits as unschedulable while it would fit", |_, s: &State| {
            let fed = &s.cluster.scheduler.fed;
            s.cluster.scheduler.machine.unschedulable_that_fit(|key| key.split_once('/').and_then(|(ns, name)| fed.get(&Kind::Pod.key(ns, name))).and_then(|o| o.as_pod())).is_empty()
        }),
        Property::<PodChainModel>::always("no controller leaves work that a change made necessary unwoken", |m, s: &State| m.unwoken_work(s).is_empty()),
        Property::<PodChainModel>::always("a kubelet runs only pods bound to its node, one sandbox per pod", |_, s: &State| {
            let mut seen = BTreeSet::new();
            s.cluster.agents.iter().all(|(node, a)| a.runtime.pods.keys().all(|uid| s.bound.get(uid) == Some(node) && seen.insert(uid.clone())))
        }),
        // Per object, in `check_transition`; here, the caches.
        Property::<PodChainModel>::always("resourceVersions never go backwards", |_, s: &State| s.cache_revisions.values().all(|r| *r <= s.cluster.revision)),
        Property::<PodChainModel>::always("a rolling update keeps replicas - maxUnavailable available and at most replicas + maxSurge pods", |m, s: &State| {
            if !s.rolled_out || s.faulted {
                return true;
            }
            let Some(d) = s.cluster.get(Kind::Deployment, "default", "web").and_then(|o| o.as_deployment()) else { return true };
            let (surge, unavailable) = fenceposts(d);
            let want = d.spec.replicas.unwrap_or(1);
            let active: Vec<&Pod> = pods(&s.cluster.objects).into_iter().filter(|p| is_active(p)).collect();
            let available = active.iter().filter(|p| is_available(p, 0, s.cluster.now)).count() as i32;
            let _ = m;
            available >= want - unavailable && active.len() as i32 <= want + surge
        }),
        Property::<PodChainModel>::always("a ReplicaSet has at most spec.replicas active pods once its controller has caught up", |m, s: &State| m.replicaset_counts_settled(s)),
        Property::<PodChainModel>::always("quiescence implies convergence", |m, s: &State| m.converged(s) || !m.quiescent(s)),
        Property::<PodChainModel>::always("owned objects never outlive their deleted owner once the collector has run", |m, s: &State| m.no_orphans_after_gc(s)),
        Property::<PodChainModel>::sometimes("the deployment converges", |m, s: &State| m.converged(s)),
    ]
}
