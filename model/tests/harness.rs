//! The pod chain in-process with simulated time: every controller, the
//! scheduler and the kubelets run their core functions against one store.
//! No sleeps, no threads: each scenario is a deterministic sequence of
//! rounds, and the invariants are checked after every write.

use model::{Cluster, ClusterConfig};
use podcore::controller::deployment::fenceposts;
use podcore::effect::Effect;
use podcore::object::{Kind, Object};
use podcore::podutil::{is_active, is_available};
use podcore::time::Time;
use podcore::types::*;
use std::collections::BTreeMap;

const START: Time = Time::from_secs(1_800_000_000);

fn deployment(name: &str, replicas: i32, image: &str) -> Deployment {
    let mut d = Deployment::default();
    d.metadata.name = name.into();
    d.metadata.namespace = "default".into();
    d.spec.replicas = Some(replicas);
    d.spec.selector.match_labels.insert("app".into(), name.into());
    d.spec.template.metadata.labels.insert("app".into(), name.into());
    d.spec.template.spec.containers.push(Container { name: "web".into(), image: image.into(), ..Default::default() });
    d
}

fn cluster(nodes: &[&str]) -> Cluster {
    let mut cfg = ClusterConfig { lease_renew_ms: 1_000, default_toleration_seconds: 2, ..Default::default() };
    cfg.node_lifecycle.grace_period_ms = 4_000;
    let mut c = Cluster::new(cfg, START);
    for n in nodes {
        c.add_node(n);
    }
    c.settle();
    c
}

fn running_pods<'a>(c: &'a Cluster, app: &str) -> Vec<&'a Pod> {
    c.pods().into_iter().filter(|p| p.metadata.labels.get("app").map(String::as_str) == Some(app) && is_active(p) && p.status.phase == "Running").collect()
}

/// From the history of stored pods (what a watcher saw, as the end-to-end
/// test checks it): once a pod has a node it keeps that node in every later
/// version, whoever wrote it, and every pod that ran was bound.
fn assert_bound_once(c: &Cluster) {
    let mut node_of: BTreeMap<String, String> = BTreeMap::new();
    let mut versions = 0;
    for a in &c.journal {
        let Some(pod) = a.stored.as_deref().and_then(|o| o.as_pod()) else { continue };
        versions += 1;
        let uid = &pod.metadata.uid;
        match node_of.get(uid) {
            Some(node) => assert_eq!(&pod.spec.node_name, node, "pod {} was bound to {node}, then its version {} says {:?} (written by {}: {})", pod.metadata.name, pod.metadata.resource_version, pod.spec.node_name, a.component, a.effect.describe()),
            None if !pod.spec.node_name.is_empty() => {
                node_of.insert(uid.clone(), pod.spec.node_name.clone());
            }
            None => assert!(pod.status.phase != "Running", "pod {} runs without a node", pod.metadata.name),
        }
    }
    assert!(versions > 0 && !node_of.is_empty(), "the history holds no bound pod: nothing was checked");
}

fn get_deployment(c: &Cluster, name: &str) -> Deployment {
    c.get(Kind::Deployment, "default", name).and_then(|o| o.as_deployment()).cloned().expect("deployment exists")
}

fn update_deployment(c: &mut Cluster, name: &str, f: impl FnOnce(&mut Deployment)) {
    let mut d = get_deployment(c, name);
    f(&mut d);
    c.apply("user", &Effect::update(Object::Deployment(d))).expect("user update succeeds");
}

#[test]
fn a_deployment_of_three_runs_over_both_nodes_each_pod_bound_once() {
    let mut c = cluster(&["node-1", "node-2"]);
    c.apply("user", &Effect::create(Object::Deployment(deployment("web", 3, "sample:1")))).unwrap();
    c.settle();
    let pods = running_pods(&c, "web");
    assert_eq!(pods.len(), 3);
    let nodes: std::collections::BTreeSet<&str> = pods.iter().map(|p| p.spec.node_name.as_str()).collect();
    assert_eq!(nodes.len(), 2, "spread over both nodes: {nodes:?}");
    assert!(pods.iter().all(|p| !p.status.pod_ip.is_empty() && p.status.container_statuses[0].ready));
    assert_bound_once(&c);
    let d = get_deployment(&c, "web");
    assert_eq!((d.status.replicas, d.status.updated_replicas, d.status.available_replicas, d.status.observed_generation), (3, 3, 3, 1));
    let progressing = d.status.conditions.iter().find(|c| c.type_ == "Progressing").unwrap();
    assert_eq!(progressing.reason, "NewReplicaSetAvailable");
}

#[test]
fn a_deleted_pod_is_replaced_and_scaling_follows_spec() {
    let mut c = cluster(&["node-1", "node-2"]);
    c.apply("user", &Effect::create(Object::Deployment(deployment("web", 3, "sample:1")))).unwrap();
    c.settle();
    let victim = running_pods(&c, "web")[0].clone();
    c.apply("user", &Effect::delete(&Object::Pod(victim.clone()), None, None)).unwrap();
    c.settle();
    let pods = running_pods(&c, "web");
    assert_eq!(pods.len(), 3);
    assert!(pods.iter().all(|p| p.metadata.uid != victim.metadata.uid));
    assert!(c.get(Kind::Pod, "default", &victim.metadata.name).is_none(), "the kubelet confirmed the graceful deletion");
    update_deployment(&mut c, "web", |d| d.spec.replicas = Some(5));
    c.settle();
    assert_eq!(running_pods(&c, "web").len(), 5);
    update_deployment(&mut c, "web", |d| d.spec.replicas = Some(2));
    c.settle();
    assert_eq!(running_pods(&c, "web").len(), 2);
    assert_bound_once(&c);
}

#[test]
fn a_rolling_update_respects_max_unavailable_and_max_surge_after_every_round() {
    let mut c = cluster(&["node-1", "node-2"]);
    c.apply("user", &Effect::create(Object::Deployment(deployment("web", 4, "sample:1")))).unwrap();
    c.settle();
    update_deployment(&mut c, "web", |d| d.spec.template.spec.containers[0].image = "sample:2".into());
    let d = get_deployment(&c, "web");
    let (surge, unavailable) = fenceposts(&d);
    let want = d.spec.replicas.unwrap();
    // Step one round at a time and check the bounds after each.
    let mut rounds = 0;
    loop {
        let work = c.round();
        let pods: Vec<&Pod> = c.pods().into_iter().filter(|p| is_active(p)).collect();
        let available = pods.iter().filter(|p| is_available(p, 0, c.now)).count() as i32;
        assert!(available >= want - unavailable, "available {available} < {want} - {unavailable}");
        assert!(pods.len() as i32 <= want + surge, "{} pods > {want} + {surge}", pods.len());
        rounds += 1;
        assert!(rounds < 200);
        if work == 0 {
            break;
        }
    }
    let pods = running_pods(&c, "web");
    assert_eq!(pods.len(), 4);
    assert!(pods.iter().all(|p| p.spec.containers[0].image == "sample:2"));
    let rss: Vec<&ReplicaSet> = c.list(Kind::ReplicaSet).filter_map(|o| o.as_replicaset()).collect();
    assert_eq!(rss.len(), 2);
    let new = rss.iter().find(|r| r.spec.template.spec.containers[0].image == "sample:2").unwrap();
    assert_eq!(new.metadata.annotations["deployment.kubernetes.io/revision"], "2");
    assert!(rss.iter().all(|r| r.metadata.uid == new.metadata.uid || r.spec.replicas == Some(0)));
}

#[test]
fn a_dead_node_goes_not_ready_and_its_pods_are_replaced_elsewhere() {
    let mut c = cluster(&["node-1", "node-2"]);
    c.apply("user", &Effect::create(Object::Deployment(deployment("web", 3, "sample:1")))).unwrap();
    c.run_for(2_000, 500);
    c.kill_kubelet("node-2");
    c.run_for(10_000, 500);
    let n2 = c.get(Kind::Node, "", "node-2").and_then(|o| o.as_node()).unwrap();
    assert_eq!(podcore::controller::nodelifecycle::ready_status(n2), "Unknown");
    assert!(n2.spec.taints.iter().any(|t| t.key == "node.kubernetes.io/unreachable" && t.effect == "NoExecute"));
    let pods = running_pods(&c, "web");
    assert_eq!(pods.len(), 3);
    assert!(pods.iter().all(|p| p.spec.node_name == "node-1"), "replacements run on node-1");
    assert_bound_once(&c);
}

#[test]
fn a_crashing_container_restarts_with_growing_back_off() {
    let mut c = cluster(&["node-1"]);
    c.apply("user", &Effect::create(Object::Deployment(deployment("web", 1, "sample:1")))).unwrap();
    c.settle();
    let name = running_pods(&c, "web")[0].metadata.name.clone();
    let restarts = |c: &Cluster| c.get(Kind::Pod, "default", &name).and_then(|o| o.as_pod()).unwrap().status.container_statuses[0].restart_count;
    c.exit_container("default", &name, "web", 1).unwrap();
    c.run_for(5_000, 1_000);
    assert_eq!(restarts(&c), 0, "still backing off after 5 s");
    let p = c.get(Kind::Pod, "default", &name).and_then(|o| o.as_pod()).unwrap();
    assert_eq!(p.status.container_statuses[0].state.waiting.as_ref().unwrap().reason, "CrashLoopBackOff");
    assert_eq!(p.status.container_statuses[0].last_state.terminated.as_ref().unwrap().exit_code, 1);
    c.run_for(6_000, 1_000);
    assert_eq!(restarts(&c), 1, "restarted after the first 10 s back-off");
    c.exit_container("default", &name, "web", 1).unwrap();
    c.run_for(15_000, 1_000);
    assert_eq!(restarts(&c), 1, "the second back-off is 20 s");
    c.run_for(6_000, 1_000);
    assert_eq!(restarts(&c), 2);
}

#[test]
fn deleting_a_deployment_removes_its_replicasets_and_pods() {
    let mut c = cluster(&["node-1", "node-2"]);
    c.apply("user", &Effect::create(Object::Deployment(deployment("web", 3, "sample:1")))).unwrap();
    c.settle();
    let d = Object::Deployment(get_deployment(&c, "web"));
    c.apply("user", &Effect::delete(&d, Some(podcore::effect::Propagation::Background), None)).unwrap();
    c.settle();
    assert_eq!(c.list(Kind::ReplicaSet).count(), 0);
    assert_eq!(c.pods().len(), 0);
    assert!(c.agents.values().all(|a| a.runtime.pods.is_empty()), "every sandbox is gone from the runtimes");
}

#[test]
fn foreground_deletion_removes_dependents_before_the_owner() {
    let mut c = cluster(&["node-1"]);
    c.apply("user", &Effect::create(Object::Deployment(deployment("web", 2, "sample:1")))).unwrap();
    c.settle();
    let d = Object::Deployment(get_deployment(&c, "web"));
    c.apply("user", &Effect::delete(&d, Some(podcore::effect::Propagation::Foreground), None)).unwrap();
    // The owner stays, marked, while it has dependents.
    let marked = get_deployment(&c, "web");
    assert!(marked.metadata.deletion_timestamp.is_some());
    c.settle();
    assert!(c.get(Kind::Deployment, "default", "web").is_none());
    assert_eq!(c.list(Kind::ReplicaSet).count(), 0);
    assert_eq!(c.pods().len(), 0);
}

#[test]
fn orphan_deletion_keeps_the_replicaset_and_pods() {
    let mut c = cluster(&["node-1"]);
    c.apply("user", &Effect::create(Object::Deployment(deployment("web", 2, "sample:1")))).unwrap();
    c.settle();
    let d = Object::Deployment(get_deployment(&c, "web"));
    c.apply("user", &Effect::delete(&d, Some(podcore::effect::Propagation::Orphan), None)).unwrap();
    c.settle();
    assert!(c.get(Kind::Deployment, "default", "web").is_none());
    let rss: Vec<&ReplicaSet> = c.list(Kind::ReplicaSet).filter_map(|o| o.as_replicaset()).collect();
    assert_eq!(rss.len(), 1);
    assert!(rss[0].metadata.owner_references.is_empty(), "the ReplicaSet was orphaned");
    assert_eq!(running_pods(&c, "web").len(), 2);
}

#[test]
fn a_pod_that_fits_nowhere_stays_pending_with_the_reason() {
    let mut c = cluster(&["node-1"]);
    let mut d = deployment("big", 1, "sample:1");
    d.spec.template.spec.containers[0].resources.requests.insert("cpu".into(), "64".into());
    c.apply("user", &Effect::create(Object::Deployment(d))).unwrap();
    c.settle();
    let pods = c.pods();
    assert_eq!(pods.len(), 1);
    assert!(pods[0].spec.node_name.is_empty());
    assert_eq!(pods[0].status.phase, "Pending");
    let cond = podcore::podutil::condition(pods[0], "PodScheduled").expect("the scheduler says why");
    assert_eq!((cond.status.as_str(), cond.reason.as_str()), ("False", "Unschedulable"));
    assert_eq!(cond.message, "0/1 nodes are available: 1 Insufficient cpu.");
}

#[test]
fn restart_policy_never_ends_failed_and_is_not_restarted() {
    let mut c = cluster(&["node-1"]);
    let mut p = Pod::default();
    p.metadata.name = "once".into();
    p.metadata.namespace = "default".into();
    p.spec.restart_policy = "Never".into();
    p.spec.containers.push(Container { name: "main".into(), image: "sample:1".into(), ..Default::default() });
    c.apply("user", &Effect::create(Object::Pod(p))).unwrap();
    c.settle();
    c.exit_container("default", "once", "main", 1).unwrap();
    c.run_for(30_000, 1_000);
    let p = c.get(Kind::Pod, "default", "once").and_then(|o| o.as_pod()).unwrap();
    assert_eq!(p.status.phase, "Failed");
    assert_eq!(p.status.container_statuses[0].restart_count, 0);
    assert_eq!(p.status.container_statuses[0].state.terminated.as_ref().unwrap().exit_code, 1);
}

#[test]
fn recreate_stops_every_old_pod_before_starting_new_ones() {
    let mut c = cluster(&["node-1", "node-2"]);
    let mut d = deployment("web", 3, "sample:1");
    d.spec.strategy = DeploymentStrategy { type_: "Recreate".into(), rolling_update: None };
    c.apply("user", &Effect::create(Object::Deployment(d))).unwrap();
    c.settle();
    update_deployment(&mut c, "web", |d| d.spec.template.spec.containers[0].image = "sample:2".into());
    loop {
        let work = c.round();
        let images: std::collections::BTreeSet<String> = c.pods().iter().map(|p| p.spec.containers[0].image.clone()).collect();
        assert!(images.len() <= 1, "old and new pods coexist under Recreate: {images:?}");
        if work == 0 {
            break;
        }
    }
    let pods = running_pods(&c, "web");
    assert_eq!(pods.len(), 3);
    assert!(pods.iter().all(|p| p.spec.containers[0].image == "sample:2"));
}

#[test]
fn old_replicasets_beyond_the_history_limit_are_deleted_oldest_first() {
    let mut c = cluster(&["node-1"]);
    let mut d = deployment("web", 1, "sample:0");
    d.spec.revision_history_limit = Some(2);
    c.apply("user", &Effect::create(Object::Deployment(d))).unwrap();
    c.settle();
    for v in 1..=4 {
        update_deployment(&mut c, "web", |d| d.spec.template.spec.containers[0].image = format!("sample:{v}"));
        c.settle();
    }
    let mut revs: Vec<String> = c.list(Kind::ReplicaSet).filter_map(|o| o.as_replicaset()).map(|r| r.metadata.annotations["deployment.kubernetes.io/revision"].clone()).collect();
    revs.sort();
    assert_eq!(revs, ["3", "4", "5"], "the new ReplicaSet and the two newest old ones remain");
    // Rolling back to an old template reuses its ReplicaSet with a new revision.
    update_deployment(&mut c, "web", |d| d.spec.template.spec.containers[0].image = "sample:3".into());
    c.settle();
    let rs = c.list(Kind::ReplicaSet).filter_map(|o| o.as_replicaset()).find(|r| r.spec.template.spec.containers[0].image == "sample:3").unwrap();
    assert_eq!(rs.metadata.annotations["deployment.kubernetes.io/revision"], "6");
    assert_eq!(rs.spec.replicas, Some(1));
}

#[test]
fn a_rollout_that_cannot_progress_reports_progress_deadline_exceeded() {
    let mut c = cluster(&["node-1"]);
    let mut d = deployment("web", 1, "sample:1");
    d.spec.progress_deadline_seconds = Some(30);
    c.apply("user", &Effect::create(Object::Deployment(d))).unwrap();
    c.settle();
    // The new template asks for more cpu than any node has: it never becomes available.
    update_deployment(&mut c, "web", |d| {
        d.spec.template.spec.containers[0].image = "sample:2".into();
        d.spec.template.spec.containers[0].resources.requests.insert("cpu".into(), "64".into());
    });
    c.run_for(20_000, 5_000);
    let cond = |c: &Cluster| get_deployment(c, "web").status.conditions.into_iter().find(|c| c.type_ == "Progressing").unwrap();
    assert_eq!(cond(&c).reason, "ReplicaSetUpdated");
    c.run_for(20_000, 5_000);
    let p = cond(&c);
    assert_eq!((p.status.as_str(), p.reason.as_str()), ("False", "ProgressDeadlineExceeded"));
    // The old pod still serves: a stuck rollout does not take availability away.
    assert_eq!(running_pods(&c, "web").len(), 1);
}

#[test]
fn a_paused_deployment_does_not_roll_out() {
    let mut c = cluster(&["node-1"]);
    c.apply("user", &Effect::create(Object::Deployment(deployment("web", 2, "sample:1")))).unwrap();
    c.settle();
    update_deployment(&mut c, "web", |d| {
        d.spec.paused = true;
        d.spec.template.spec.containers[0].image = "sample:2".into();
    });
    c.settle();
    assert!(running_pods(&c, "web").iter().all(|p| p.spec.containers[0].image == "sample:1"));
    update_deployment(&mut c, "web", |d| d.spec.paused = false);
    c.settle();
    let pods = running_pods(&c, "web");
    assert_eq!(pods.len(), 2);
    assert!(pods.iter().all(|p| p.spec.containers[0].image == "sample:2"));
}

fn replicaset(name: &str, replicas: i32) -> ReplicaSet {
    let mut rs = ReplicaSet::default();
    rs.metadata.name = name.into();
    rs.metadata.namespace = "default".into();
    rs.spec.replicas = Some(replicas);
    rs.spec.selector.match_labels.insert("app".into(), name.into());
    rs.spec.template.metadata.labels.insert("app".into(), name.into());
    rs.spec.template.spec.containers.push(Container { name: "c".into(), image: "sample:1".into(), ..Default::default() });
    rs
}

#[test]
fn a_replicaset_adopts_matching_orphans_and_releases_pods_that_stop_matching() {
    let mut c = cluster(&["node-1"]);
    let mut orphan = Pod::default();
    orphan.metadata.name = "orphan".into();
    orphan.metadata.namespace = "default".into();
    orphan.metadata.labels.insert("app".into(), "rs".into());
    orphan.spec.containers.push(Container { name: "c".into(), image: "sample:1".into(), ..Default::default() });
    c.apply("user", &Effect::create(Object::Pod(orphan))).unwrap();
    c.settle();
    c.apply("user", &Effect::create(Object::ReplicaSet(replicaset("rs", 2)))).unwrap();
    c.settle();
    let rs_uid = c.get(Kind::ReplicaSet, "default", "rs").unwrap().meta().uid.clone();
    let adopted = c.get(Kind::Pod, "default", "orphan").and_then(|o| o.as_pod()).unwrap();
    assert_eq!(adopted.metadata.controller_ref().map(|r| r.uid.as_str()), Some(rs_uid.as_str()), "the orphan was adopted");
    assert_eq!(running_pods(&c, "rs").len(), 2, "adoption counts: only one pod was created");
    // Relabel the adopted pod: it is released and replaced.
    let mut p = adopted.clone();
    p.metadata.labels.insert("app".into(), "other".into());
    c.apply("user", &Effect::update(Object::Pod(p))).unwrap();
    c.settle();
    let released = c.get(Kind::Pod, "default", "orphan").and_then(|o| o.as_pod()).unwrap();
    assert!(released.metadata.owner_references.is_empty(), "released: {:?}", released.metadata.owner_references);
    assert_eq!(running_pods(&c, "rs").len(), 2);
}

#[test]
fn a_pod_with_another_controller_is_never_adopted() {
    let mut c = cluster(&["node-1"]);
    // The other controller: a Deployment of no replicas, whose own selector
    // does not match the pod, so nothing releases it either.
    let mut keeper = deployment("keeper", 0, "sample:1");
    keeper.spec.selector.match_labels.insert("app".into(), "keeper".into());
    c.apply("user", &Effect::create(Object::Deployment(keeper))).unwrap();
    c.settle();
    let keeper = get_deployment(&c, "keeper");
    let mut foreign = Pod::default();
    foreign.metadata.name = "foreign".into();
    foreign.metadata.namespace = "default".into();
    foreign.metadata.labels.insert("app".into(), "rs".into());
    foreign.metadata.owner_references.push(podcore::controller::controller_ref("apps/v1", "Deployment", &keeper.metadata));
    foreign.spec.containers.push(Container { name: "c".into(), image: "sample:1".into(), ..Default::default() });
    c.apply("user", &Effect::create(Object::Pod(foreign))).unwrap();
    c.apply("user", &Effect::create(Object::ReplicaSet(replicaset("rs", 2)))).unwrap();
    c.settle();
    let rs_uid = c.get(Kind::ReplicaSet, "default", "rs").unwrap().meta().uid.clone();
    let p = c.get(Kind::Pod, "default", "foreign").and_then(|o| o.as_pod()).expect("the foreign pod is still there");
    assert_eq!(p.metadata.owner_references.len(), 1, "{:?}", p.metadata.owner_references);
    assert_eq!(p.metadata.controller_ref().map(|r| r.uid.as_str()), Some(keeper.metadata.uid.as_str()), "still controlled by the other owner");
    let owned: Vec<&Pod> = c.pods().into_iter().filter(|p| p.metadata.controller_ref().is_some_and(|r| r.uid == rs_uid)).collect();
    assert_eq!(owned.len(), 2, "the ReplicaSet made its own two pods rather than counting the foreign one");
    assert!(owned.iter().all(|p| p.metadata.name != "foreign"));
}

#[test]
fn scaling_down_deletes_unscheduled_pods_first() {
    let mut c = Cluster::new(ClusterConfig { max_pods: 2, ..ClusterConfig::default() }, START);
    c.add_node("node-1");
    c.settle();
    c.apply("user", &Effect::create(Object::ReplicaSet(replicaset("rs", 3)))).unwrap();
    c.settle();
    let pending: Vec<String> = c.pods().iter().filter(|p| p.spec.node_name.is_empty()).map(|p| p.metadata.name.clone()).collect();
    assert_eq!(pending.len(), 1, "node-1 fits two pods");
    let mut rs = c.get(Kind::ReplicaSet, "default", "rs").and_then(|o| o.as_replicaset()).cloned().unwrap();
    rs.spec.replicas = Some(2);
    c.apply("user", &Effect::update(Object::ReplicaSet(rs))).unwrap();
    c.settle();
    assert!(c.get(Kind::Pod, "default", &pending[0]).is_none(), "the unscheduled pod went first");
    assert_eq!(running_pods(&c, "rs").len(), 2);
}

/// `settle` stops after `MAX_SETTLE_ROUNDS`: a scenario that needs more
/// rounds than it is given fails with the last writes, one round more
/// settles it. `settle` itself gives every scenario here `MAX_SETTLE_ROUNDS`.
#[test]
fn settling_is_bounded_in_rounds() {
    let run = |max| {
        let mut c = cluster(&["node-1", "node-2"]);
        c.apply("user", &Effect::create(Object::Deployment(deployment("web", 3, "sample:1")))).unwrap();
        c.settle_within(max)
    };
    let needed = run(model::cluster::MAX_SETTLE_ROUNDS).expect("a deployment of three settles");
    assert!(needed > 1 && needed < model::cluster::MAX_SETTLE_ROUNDS, "{needed} rounds");
    assert!(run(needed).unwrap_err().contains(&format!("did not settle within {needed} rounds")), "the round that finds nothing to do is needed too");
    assert_eq!(run(needed + 1), Ok(needed));
}
