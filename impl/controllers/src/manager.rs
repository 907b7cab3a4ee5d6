//! The controller-manager: deployment, replicaset, garbage-collector and
//! node-lifecycle controllers sharing one set of informers and one work
//! queue (keys `deploy/NS/NAME`, `rs/NS/NAME`, `nodes`, `gc`), processed one
//! at a time, so a key is never reconciled twice at once.

use crate::{enqueue, is_benign, log, now, refill_after_overflow, wait_for_sync};
use client::informer::{self, Change, Informer};
use client::{Client, ListOptions};
use podcore::controller::deployment::reconcile_deployment;
use podcore::trace::Record;
use podcore::controller::expectations::{observe_pod_change, Expectations};
use podcore::controller::gc::garbage_collect;
use podcore::controller::nodelifecycle::{node_lifecycle, NodeLifecycleConfig, NODE_LEASE_NAMESPACE};
use podcore::controller::replicaset::{expectations_for, reconcile_replicaset, RsOptions};
use podcore::effect::Effect;
use podcore::object::{Kind, Object};
use podcore::types::{Pod, ReplicaSet};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::time::Instant;
use watchcache::workqueue::WorkQueue;

const COMPONENT: &str = "controller-manager";

/// Changes buffered between the informers and the controllers.
pub const CHANGE_CHANNEL: usize = 4096;
/// Retry delay after a failed or conflicting write (the core's machines' own).
pub const RETRY_AFTER: Duration = Duration::from_millis(podcore::controller::queue::RETRY_AFTER_MS as u64);

/// How often node health is checked even when nothing changes (upstream's
/// node-monitor-period).
pub const DEFAULT_NODE_MONITOR_PERIOD_MS: u64 = 5_000;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ManagerConfig {
    pub node_lifecycle: NodeLifecycleConfig,
    /// How often node health is checked even when nothing changes.
    pub node_monitor_period: Duration,
    /// Shortest time between two garbage-collector passes.
    pub gc_min_interval: Duration,
}

impl Default for ManagerConfig {
    fn default() -> Self {
        ManagerConfig { node_lifecycle: NodeLifecycleConfig::default(), node_monitor_period: Duration::from_millis(DEFAULT_NODE_MONITOR_PERIOD_MS), gc_min_interval: Duration::from_millis(500) }
    }
}

struct Manager {
    client: Client,
    cfg: ManagerConfig,
    deployments: Informer,
    replicasets: Informer,
    pods: Informer,
    nodes: Informer,
    leases: Informer,
    queue: WorkQueue,
    expectations: BTreeMap<String, Expectations>,
    rs_tracer: client::trace::Tracer,
    deploy_tracer: client::trace::Tracer,
    nodes_tracer: client::trace::Tracer,
    gc_tracer: client::trace::Tracer,
    timers: BTreeMap<Instant, Vec<String>>,
    gc_dirty: bool,
    gc_last: Instant,
}

fn ns_of(key: &str) -> &str {
    key.split_once('/').map(|(ns, _)| ns).unwrap_or("")
}

pub async fn run(client: Client, cfg: ManagerConfig) -> Result<(), String> {
    let (tx, mut rx) = mpsc::channel::<Change>(CHANGE_CHANNEL);
    let all = ListOptions::default();
    let mut m = Manager {
        deployments: informer::spawn(client.clone(), Kind::Deployment, "", all.clone(), tx.clone()),
        replicasets: informer::spawn(client.clone(), Kind::ReplicaSet, "", all.clone(), tx.clone()),
        pods: informer::spawn(client.clone(), Kind::Pod, "", all.clone(), tx.clone()),
        nodes: informer::spawn(client.clone(), Kind::Node, "", all.clone(), tx.clone()),
        leases: informer::spawn(client.clone(), Kind::Lease, NODE_LEASE_NAMESPACE, all, tx),
        client,
        cfg,
        queue: WorkQueue::new(),
        expectations: BTreeMap::new(),
        rs_tracer: client::trace::Tracer::from_env("replicaset-controller"),
        deploy_tracer: client::trace::Tracer::from_env("deployment-controller"),
        nodes_tracer: client::trace::Tracer::from_env("node-lifecycle-controller"),
        gc_tracer: client::trace::Tracer::from_env("garbage-collector"),
        timers: BTreeMap::new(),
        gc_dirty: true,
        gc_last: Instant::now(),
    };
    wait_for_sync(&[&m.deployments, &m.replicasets, &m.pods, &m.nodes, &m.leases]).await;
    log("controller-manager", "caches synced");
    for d in m.deployments.snapshot() {
        enqueue(&m.queue, COMPONENT, &format!("deploy/{}", d.meta().key()));
    }
    for r in m.replicasets.snapshot() {
        enqueue(&m.queue, COMPONENT, &format!("rs/{}", r.meta().key()));
    }
    enqueue(&m.queue, COMPONENT, "nodes");
    let mut next_node_check = Instant::now() + m.cfg.node_monitor_period;
    loop {
        while let Ok(c) = rx.try_recv() {
            m.on_change(c);
        }
        let now_i = Instant::now();
        if now_i >= next_node_check {
            enqueue(&m.queue, COMPONENT, "nodes");
            next_node_check = now_i + m.cfg.node_monitor_period;
        }
        let due: Vec<Instant> = m.timers.range(..=now_i).map(|(t, _)| *t).collect();
        for t in due {
            for k in m.timers.remove(&t).unwrap_or_default() {
                enqueue(&m.queue, COMPONENT, &k);
            }
        }
        if m.gc_dirty && now_i.duration_since(m.gc_last) >= m.cfg.gc_min_interval {
            m.gc_dirty = false;
            m.gc_last = now_i;
            enqueue(&m.queue, COMPONENT, "gc");
        }
        refill_after_overflow(&m.queue, COMPONENT, || m.all_keys());
        if let Some(key) = m.queue.get() {
            m.process(&key).await;
            m.queue.done(&key);
            continue;
        }
        let mut wake = next_node_check;
        if let Some((t, _)) = m.timers.iter().next() {
            wake = wake.min(*t);
        }
        if m.gc_dirty {
            wake = wake.min(m.gc_last + m.cfg.gc_min_interval);
        }
        tokio::select! {
            c = rx.recv() => match c {
                Some(c) => m.on_change(c),
                None => return Err("informers stopped".into()),
            },
            _ = tokio::time::sleep_until(wake) => {}
        }
    }
}

impl Manager {
    /// Every key the manager could queue (for a refill after an overflow).
    fn all_keys(&self) -> Vec<String> {
        let mut keys: Vec<String> = self.deployments.snapshot().iter().map(|d| format!("deploy/{}", d.meta().key())).collect();
        keys.extend(self.replicasets.snapshot().iter().map(|r| format!("rs/{}", r.meta().key())));
        keys.extend(["nodes".to_string(), "gc".to_string()]);
        keys
    }

    fn requeue_after(&mut self, key: &str, after: Duration) {
        self.timers.entry(Instant::now() + after).or_default().push(key.to_string());
    }

    /// Which keys a change concerns (upstream's event handlers).
    fn on_change(&mut self, c: Change) {
        self.gc_dirty = true;
        let obj = c.new.as_ref().or(c.old.as_ref()).expect("a change has an object").clone();
        match c.kind {
            Kind::Deployment => {
                enqueue(&self.queue, COMPONENT, &format!("deploy/{}", c.key));
            }
            Kind::ReplicaSet => {
                enqueue(&self.queue, COMPONENT, &format!("rs/{}", c.key));
                self.enqueue_owner_deployments(&obj);
                if let Some(old) = &c.old {
                    self.enqueue_owner_deployments(old);
                }
            }
            Kind::Pod => {
                let pod = obj.as_pod().expect("pod informer holds pods");
                // Expectations: the cache has now seen a creation or a deletion.
                observe_pod_change(&mut self.expectations, c.old.as_ref().and_then(|o| o.as_pod()), c.new.as_ref().and_then(|o| o.as_pod()));
                self.enqueue_pod_owners(pod);
                if let Some(old) = c.old.as_ref().and_then(|o| o.as_pod()) {
                    if old.metadata.controller_ref() != pod.metadata.controller_ref() || old.metadata.labels != pod.metadata.labels {
                        self.enqueue_pod_owners(old);
                    }
                }
            }
            Kind::Node | Kind::Lease => {
                enqueue(&self.queue, COMPONENT, "nodes");
            }
            _ => {}
        }
    }

    fn enqueue_owner_deployments(&self, rs_obj: &Object) {
        let m = rs_obj.meta();
        match m.controller_ref() {
            Some(r) if r.kind == "Deployment" => {
                enqueue(&self.queue, COMPONENT, &format!("deploy/{}/{}", m.namespace, r.name));
            }
            Some(_) => {}
            None => {
                // An orphan: every Deployment whose selector matches may adopt it.
                for d in self.deployments.snapshot() {
                    let dep = d.as_deployment().expect("deployments");
                    if dep.metadata.namespace == m.namespace && !dep.spec.selector.is_empty() && dep.spec.selector.matches(&m.labels) {
                        enqueue(&self.queue, COMPONENT, &format!("deploy/{}", dep.metadata.key()));
                    }
                }
            }
        }
    }

    fn enqueue_pod_owners(&self, pod: &Pod) {
        match pod.metadata.controller_ref() {
            Some(r) if r.kind == "ReplicaSet" => {
                let rs_key = format!("{}/{}", pod.metadata.namespace, r.name);
                enqueue(&self.queue, COMPONENT, &format!("rs/{rs_key}"));
                if let Some(rs) = self.replicasets.get(&rs_key) {
                    self.enqueue_owner_deployments(&rs);
                }
            }
            Some(_) => {}
            None => {
                for r in self.replicasets.snapshot() {
                    let rs = r.as_replicaset().expect("replicasets");
                    if rs.metadata.namespace == pod.metadata.namespace && !rs.spec.selector.is_empty() && rs.spec.selector.matches(&pod.metadata.labels) {
                        enqueue(&self.queue, COMPONENT, &format!("rs/{}", rs.metadata.key()));
                    }
                }
            }
        }
    }

    async fn process(&mut self, key: &str) {
        if let Some(rs_key) = key.strip_prefix("rs/") {
            self.sync_replicaset(rs_key).await;
        } else if let Some(d_key) = key.strip_prefix("deploy/") {
            self.sync_deployment(d_key).await;
        } else if key == "nodes" {
            self.sync_nodes().await;
        } else if key == "gc" {
            self.collect_garbage().await;
        }
    }

    /// Executes effects in order; returns false if any failed.
    async fn execute(&mut self, component: &str, effects: &[Effect]) -> bool {
        let mut ok = true;
        for e in effects {
            match self.client.execute(e).await {
                Ok(_) => log(component, &e.describe()),
                Err(err) => {
                    ok = false;
                    if !is_benign(&err) {
                        log(component, &format!("{} failed: {err}", e.describe()));
                    }
                }
            }
        }
        ok
    }

    fn pods_in(&self, ns: &str) -> Vec<Arc<Object>> {
        self.pods.snapshot().into_iter().filter(|p| p.meta().namespace == ns).collect()
    }

    async fn sync_replicaset(&mut self, rs_key: &str) {
        let Some(rs_obj) = self.replicasets.get(rs_key) else {
            self.expectations.remove(rs_key);
            return;
        };
        let rs: &ReplicaSet = rs_obj.as_replicaset().expect("replicasets");
        let pod_objs = self.pods_in(ns_of(rs_key));
        let pods: Vec<&Pod> = pod_objs.iter().filter_map(|o| o.as_pod()).collect();
        let now = now();
        let exp = self.expectations.entry(rs_key.to_string()).or_default().clone();
        let out = reconcile_replicaset(now, rs, &pods, &exp, RsOptions::default());
        if self.rs_tracer.enabled() {
            self.rs_tracer.record(&Record::ReplicaSet { now, rs: rs.clone(), pods: pods.iter().map(|p| (*p).clone()).collect(), expectations: exp.clone(), out: out.clone() });
        }
        let (creations, deletions) = expectations_for(&out);
        if creations > 0 || !deletions.is_empty() {
            self.expectations.entry(rs_key.to_string()).or_default().expect(creations, deletions, now);
        }
        for e in &out.effects {
            let res = self.client.execute(e).await;
            match &res {
                Ok(_) => log("replicaset-controller", &format!("{} (for {rs_key})", e.describe())),
                Err(err) => {
                    // A write that did not happen will never be observed: lower the expectation.
                    if let Some(exp) = self.expectations.get_mut(rs_key) {
                        match e {
                            Effect::Create(_) => exp.observe_creation(),
                            Effect::Delete(d) if err.code != 404 => exp.observe_deletion(&d.uid),
                            _ => {}
                        }
                    }
                    if !is_benign(err) {
                        log("replicaset-controller", &format!("{} failed: {err}", e.describe()));
                    }
                    self.requeue_after(&format!("rs/{rs_key}"), RETRY_AFTER);
                }
            }
        }
        if let Some(ms) = out.requeue_after_ms {
            self.requeue_after(&format!("rs/{rs_key}"), Duration::from_millis(ms.max(1) as u64));
        }
    }

    async fn sync_deployment(&mut self, d_key: &str) {
        let Some(d_obj) = self.deployments.get(d_key) else { return };
        let d = d_obj.as_deployment().expect("deployments");
        let ns = ns_of(d_key);
        let rs_objs: Vec<Arc<Object>> = self.replicasets.snapshot().into_iter().filter(|r| r.meta().namespace == ns).collect();
        let rss: Vec<&ReplicaSet> = rs_objs.iter().filter_map(|o| o.as_replicaset()).collect();
        let pod_objs = self.pods_in(ns);
        let pods: Vec<&Pod> = pod_objs.iter().filter_map(|o| o.as_pod()).collect();
        let now = now();
        let out = reconcile_deployment(now, d, &rss, &pods);
        if self.deploy_tracer.enabled() {
            self.deploy_tracer.record(&Record::Deployment { now, deployment: d.clone(), replicasets: rss.iter().map(|r| (*r).clone()).collect(), pods: pods.iter().map(|p| (*p).clone()).collect(), out: out.clone() });
        }
        if !self.execute("deployment-controller", &out.effects).await {
            self.requeue_after(&format!("deploy/{d_key}"), RETRY_AFTER);
        }
        if let Some(ms) = out.requeue_after_ms {
            self.requeue_after(&format!("deploy/{d_key}"), Duration::from_millis(ms.max(1) as u64));
        }
    }

    async fn sync_nodes(&mut self) {
        let nodes_o = self.nodes.snapshot();
        let leases_o = self.leases.snapshot();
        let pods_o = self.pods.snapshot();
        let nodes: Vec<_> = nodes_o.iter().filter_map(|o| o.as_node()).collect();
        let leases: Vec<_> = leases_o.iter().filter_map(|o| o.as_lease()).collect();
        let pods: Vec<_> = pods_o.iter().filter_map(|o| o.as_pod()).collect();
        let at = now();
        let out = node_lifecycle(at, &nodes, &leases, &pods, self.cfg.node_lifecycle);
        if self.nodes_tracer.enabled() {
            self.nodes_tracer.record(&Record::NodeLifecycle {
                now: at,
                grace_period_ms: self.cfg.node_lifecycle.grace_period_ms,
                nodes: nodes.iter().map(|n| (*n).clone()).collect(),
                leases: leases.iter().map(|l| (*l).clone()).collect(),
                pods: pods.iter().map(|p| (*p).clone()).collect(),
                out: out.clone(),
            });
        }
        if !self.execute("node-lifecycle-controller", &out.effects).await {
            self.requeue_after("nodes", RETRY_AFTER);
        }
        if let Some(ms) = out.requeue_after_ms {
            self.requeue_after("nodes", Duration::from_millis(ms.max(1) as u64));
        }
    }

    /// One pass over fresh lists, dependents before owners: an owner that a
    /// dependent names was created before it, so it is in the later list
    /// unless it is really gone. (The informer caches are not used: they
    /// may show a dependent before its owner.)
    async fn collect_garbage(&mut self) {
        let mut objects: Vec<Object> = Vec::new();
        for kind in [Kind::Pod, Kind::Lease, Kind::ReplicaSet, Kind::Deployment, Kind::Node] {
            match self.client.list(kind, "", &ListOptions::default()).await {
                Ok((items, _)) => objects.extend(items),
                Err(e) => {
                    log("garbage-collector", &format!("listing {kind:?} failed: {e}"));
                    self.gc_dirty = true;
                    return;
                }
            }
        }
        let refs: Vec<&Object> = objects.iter().collect();
        let effects = garbage_collect(&refs);
        if self.gc_tracer.enabled() && !effects.is_empty() {
            // Only passes that act: a pass over every object that changes
            // nothing would make the trace grow with the cluster's size.
            self.gc_tracer.record(&Record::GarbageCollect { objects: objects.clone(), effects: effects.clone() });
        }
        if !self.execute("garbage-collector", &effects).await {
            self.gc_dirty = true;
        }
    }
}
