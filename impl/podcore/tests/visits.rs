//! What one change costs the controller machines, counted: the objects
//! their change handling and their decisions take from the cache, through
//! a `Counted` view wrapped around the daemons' own indexed caches (so a
//! scan anywhere shows, whatever it is called), and the count each
//! decision reports itself. Both must stay the same from 1,000 to 5,000
//! nodes: a change costs O(change), not O(cluster).

use podcore::cache::{Counted, Indexed, PerKind, View};
use podcore::controller::deployment::DeploymentController;
use podcore::controller::gc::{GarbageCollector, GcStep};
use podcore::controller::nodelifecycle::{NodeLifecycleConfig, NodeLifecycleController, NodeStep, NODE_LEASE_NAMESPACE};
use podcore::controller::replicaset::{ReplicaSetController, RsOptions};
use podcore::controller::scheduler::{nodes_to_find, Scheduler, SchedulerOptions};
use podcore::controller::Controller;
use podcore::object::{Kind, Object};
use podcore::time::Time;
use serde_json::json;
use std::sync::Arc;

/// Pods per node, and replicas per ReplicaSet (one per Deployment): fixed,
/// so a larger cluster has more of everything but no larger object.
const PODS_PER_NODE: usize = 3;
const REPLICAS: usize = 10;

const NOW: Time = Time(1_000_000_000);

fn obj(kind: Kind, v: serde_json::Value) -> Object {
    Object::from_value(kind, v).expect("a valid object")
}

fn time(t: Time) -> String {
    t.to_rfc3339()
}

fn node(i: usize) -> Object {
    obj(
        Kind::Node,
        json!({"metadata": {"name": format!("n{i:05}"), "uid": format!("node-{i}"), "resourceVersion": "1"},
               "status": {"allocatable": {"cpu": "64", "memory": "256Gi", "pods": "110"},
                          "conditions": [{"type": "Ready", "status": "True", "lastHeartbeatTime": time(NOW)}]}}),
    )
}

fn lease(i: usize, renewed: Time) -> Object {
    obj(
        Kind::Lease,
        json!({"metadata": {"name": format!("n{i:05}"), "namespace": NODE_LEASE_NAMESPACE, "uid": format!("lease-{i}"),
                            "ownerReferences": [{"apiVersion": "v1", "kind": "Node", "name": format!("n{i:05}"), "uid": format!("node-{i}")}]},
               "spec": {"holderIdentity": format!("n{i:05}"), "leaseDurationSeconds": 40, "renewTime": serde_json::to_value(podcore::time::MicroTime(renewed.0)).unwrap()}}),
    )
}

fn template(d: usize) -> serde_json::Value {
    json!({"metadata": {"labels": {"app": format!("d{d}")}},
           "spec": {"containers": [{"name": "c", "image": "registry.local/web:1"}]}})
}

fn deployment(d: usize) -> Object {
    obj(
        Kind::Deployment,
        json!({"metadata": {"name": format!("d{d}"), "namespace": "default", "uid": format!("deploy-{d}"), "generation": 1},
               "spec": {"replicas": REPLICAS, "selector": {"matchLabels": {"app": format!("d{d}")}}, "template": template(d)},
               "status": {"observedGeneration": 1, "replicas": REPLICAS, "readyReplicas": REPLICAS}}),
    )
}

fn replicaset(d: usize, replicas: usize) -> Object {
    obj(
        Kind::ReplicaSet,
        json!({"metadata": {"name": format!("d{d}-rs"), "namespace": "default", "uid": format!("rs-{d}"), "generation": 1,
                            "labels": {"app": format!("d{d}")},
                            "annotations": {"deployment.kubernetes.io/revision": "1", "deployment.kubernetes.io/desired-replicas": REPLICAS.to_string()},
                            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment", "name": format!("d{d}"), "uid": format!("deploy-{d}"), "controller": true}]},
               "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": format!("d{d}")}}, "template": template(d)},
               "status": {"observedGeneration": 1, "replicas": REPLICAS, "readyReplicas": REPLICAS}}),
    )
}

fn pod(p: usize, node: Option<usize>, ready: bool) -> Object {
    let d = p / REPLICAS;
    obj(
        Kind::Pod,
        json!({"metadata": {"name": format!("d{d}-rs-{p}"), "namespace": "default", "uid": format!("pod-{p}"), "labels": {"app": format!("d{d}")},
                            "creationTimestamp": time(NOW),
                            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": format!("d{d}-rs"), "uid": format!("rs-{d}"), "controller": true}]},
               "spec": {"nodeName": node.map(|n| format!("n{n:05}")).unwrap_or_default(), "containers": [{"name": "c", "image": "registry.local/web:1"}]},
               "status": {"phase": if node.is_some() { "Running" } else { "Pending" },
                          "conditions": [{"type": "Ready", "status": if ready { "True" } else { "False" }}]}}),
    )
}

/// The controller-manager's caches (one per kind, as its informers) and
/// its four machines, driven the way `impl/controllers/src/manager.rs`
/// drives them, minus the writes.
struct Manager {
    caches: Vec<(Kind, Indexed)>,
    rs: ReplicaSetController,
    deploy: DeploymentController,
    nodes: NodeLifecycleController,
    gc: GarbageCollector,
}

/// What one change cost: objects handed out by the cache, and the sum of
/// the decisions' own `visited` counts.
#[derive(Debug, PartialEq, Eq)]
struct Cost {
    seen: usize,
    visited: usize,
}

impl Manager {
    fn new() -> Manager {
        let caches = [Kind::Deployment, Kind::ReplicaSet, Kind::Pod, Kind::Node, Kind::Lease].into_iter().map(|k| (k, Indexed::new())).collect();
        Manager {
            caches,
            rs: ReplicaSetController::new(RsOptions::default()),
            deploy: DeploymentController::default(),
            nodes: NodeLifecycleController::new(NodeLifecycleConfig::default()),
            gc: GarbageCollector::default(),
        }
    }

    fn cache(&mut self, kind: Kind) -> &mut Indexed {
        &mut self.caches.iter_mut().find(|(k, _)| *k == kind).expect("a cache per kind").1
    }

    /// The informer stores `new`, then every machine is handed the change;
    /// then every machine works until it has nothing due now.
    fn change(&mut self, new: Object) -> Cost {
        let (kind, key) = (new.kind(), new.meta().key());
        let new = Arc::new(new);
        let old = self.cache(kind).insert(key.clone(), new.clone());
        let view = PerKind(self.caches.iter().map(|(k, c)| (*k, c as &dyn View)).collect());
        let counted = Counted::new(&view);
        let (old, new) = (old.as_deref(), Some(&*new));
        self.rs.handle_change(kind, &key, old, new, &counted);
        self.deploy.handle_change(kind, &key, old, new, &counted);
        self.nodes.handle_change(kind, &key, old, new, &counted);
        Controller::handle_change(&mut self.gc, kind, &key, old, new, &counted);
        let mut visited = 0;
        loop {
            let mut worked = false;
            if let Some(k) = self.rs.poll(NOW) {
                let r = self.rs.reconcile(NOW, &k, &counted);
                visited += r.visited;
                self.rs.done(NOW, &k, None, false);
                worked = true;
            }
            if let Some(k) = self.deploy.poll(NOW) {
                let r = self.deploy.reconcile(NOW, &k, &counted);
                visited += r.visited;
                self.deploy.done(NOW, &k, None, false);
                worked = true;
            }
            if let Some(k) = self.nodes.poll(NOW) {
                let d = self.nodes.reconcile(NOW, &k, &counted);
                assert!(matches!(d.step, NodeStep::Act(_)), "every pod's node is in the cache");
                visited += d.visited;
                self.nodes.done(NOW, &k, None, false);
                worked = true;
            }
            if let Some(k) = self.gc.poll(NOW) {
                let l = self.gc.reconcile(&k, &counted);
                assert!(matches!(l.step, GcStep::Act(_)), "every owner is in the cache");
                visited += l.visited;
                self.gc.done(NOW, &k, false);
                worked = true;
            }
            if !worked {
                break;
            }
        }
        Cost { seen: counted.seen(), visited }
    }
}

/// A cluster of `nodes` nodes with their leases, `PODS_PER_NODE` running
/// pods on each, in Deployments of `REPLICAS`, all delivered to the
/// machines as an informer's initial list is (each object a change).
fn cluster(nodes: usize) -> Manager {
    let mut m = Manager::new();
    let pods = nodes * PODS_PER_NODE;
    for i in 0..nodes {
        m.change(node(i));
        m.change(lease(i, NOW));
    }
    for d in 0..pods / REPLICAS {
        m.change(deployment(d));
        m.change(replicaset(d, REPLICAS));
    }
    for p in 0..pods {
        m.change(pod(p, Some(p % nodes), true));
    }
    m
}

/// Each everyday change, on objects in the middle of the cluster.
fn costs(m: &mut Manager, nodes: usize) -> Vec<(&'static str, Cost)> {
    let (i, p) = (nodes / 2, nodes / 2 * PODS_PER_NODE + 1);
    let d = p / REPLICAS;
    vec![
        ("a lease renewed", m.change(lease(i, NOW.plus_ms(10_000)))),
        ("a pod no longer ready", m.change(pod(p, Some(p % nodes), false))),
        ("a ReplicaSet scaled down", m.change(replicaset(d, REPLICAS - 1))),
        ("a Deployment changed", m.change(deployment(d))),
        ("a node's status", m.change(node(i))),
    ]
}

#[test]
fn one_change_visits_as_many_objects_at_5000_nodes_as_at_1000() {
    let (mut small, mut large) = (cluster(1_000), cluster(5_000));
    let (a, b) = (costs(&mut small, 1_000), costs(&mut large, 5_000));
    for ((what, at_1k), (_, at_5k)) in a.iter().zip(&b) {
        assert_eq!(at_1k, at_5k, "{what}: the cost grew with the cluster");
        assert!(at_1k.seen > 0 && at_1k.visited > 0, "{what}: some machine looked ({at_1k:?})");
        assert!(at_1k.seen <= 4 * (REPLICAS + PODS_PER_NODE) + 10, "{what}: {at_1k:?} is more than the change's neighbourhood");
    }
}

/// The scheduler decides over its own per-node aggregates: one decision
/// looks at `nodes_to_find` nodes (upstream's percentageOfNodesToScore,
/// 420 of 1,000 and 500 of 5,000), whatever number of pods is bound.
#[test]
fn one_scheduling_decision_looks_at_the_sampled_nodes_only_whatever_the_pods() {
    for (nodes, pods_per_node) in [(1_000, 3), (5_000, 3), (5_000, 30)] {
        let mut s = Scheduler::new("default-scheduler", SchedulerOptions::default());
        for i in 0..nodes {
            let n = node(i);
            s.handle_node(&n.meta().key(), n.as_node());
        }
        for p in 0..nodes * pods_per_node {
            let o = pod(p, Some(p % nodes), true);
            s.handle_pod(&o.meta().key(), None, o.as_pod());
        }
        let pending = pod(nodes * pods_per_node, None, false);
        let key = pending.meta().key();
        s.handle_pod(&key, None, pending.as_pod());
        assert_eq!(s.poll(NOW).as_deref(), Some(key.as_str()));
        let d = s.schedule(NOW, &key, pending.as_pod(), &[]).expect("a decision");
        assert_eq!((d.visited, d.total), (nodes_to_find(nodes), nodes), "{nodes} nodes, {pods_per_node} pods each");
        assert!(d.visited <= 500, "{nodes} nodes: {} looked at", d.visited);
    }
}
