//! The stateright `Model`: initial state, enabled actions, next state.

use crate::cluster::{Cluster, ClusterConfig};
use podcore::controller::kubelet::ContainerRun;
use podcore::effect::Effect;
use podcore::object::{Kind, Object};
use stateright::{Model, Property};
use std::collections::{BTreeMap, BTreeSet};
use super::*;

impl Model for PodChainModel {
    type State = State;
    type Action = Action;

    fn init_states(&self) -> Vec<State> {
        let cfg = &self.cfg;
        let cc = ClusterConfig {
            node_cpu: format!("{}m", cfg.node_cpu_m),
            rs: cfg.rs,
            deployment: cfg.deployment,
            scheduler: cfg.scheduler,
            kubelet: cfg.kubelet,
            check_resource_version: cfg.check_resource_version,
            node_restriction: cfg.node_restriction,
            lease_renew_ms: cfg.tick_ms,
            default_toleration_seconds: cfg.toleration_seconds,
            node_lifecycle: podcore::controller::nodelifecycle::NodeLifecycleConfig { grace_period_ms: cfg.tick_ms * 2 },
            ..ClusterConfig::default()
        };
        let mut c = Cluster::new(cc, START);
        for i in 1..=cfg.nodes {
            c.add_node(&node_name(i));
            let v = c.objects.clone();
            c.step_kubelet(&node_name(i), &v);
        }
        c.apply("user", &Effect::create(Object::Deployment(deployment(cfg)))).expect("the deployment is valid");
        c.journal.clear();
        let caches = self.components().into_iter().map(|comp| (comp, c.objects.only(comp.watches()))).collect();
        let cache_revisions = self.components().into_iter().map(|comp| (comp, c.revision)).collect();
        let mut init = State {
            cluster: c,
            caches,
            cache_revisions,
            crashes_left: cfg.crashes,
            resyncs_left: cfg.resyncs,
            refusals_left: cfg.refusals,
            handovers_left: cfg.handovers,
            attacks_left: cfg.attacks,
            deposed: BTreeMap::new(),
            node_failures_left: cfg.node_failures,
            exits_left: cfg.container_exits,
            ticks_left: cfg.ticks,
            rolled_out: false,
            scaled: false,
            deleted: false,
            faulted: false,
            bound: BTreeMap::new(),
            violations: BTreeSet::new(),
        };
        self.canonicalize(&mut init);
        vec![init]
    }

    fn actions(&self, s: &State, actions: &mut Vec<Action>) {
        for c in self.components() {
            if let Component::Kubelet(i) = c {
                if !s.cluster.agents[&node_name(i)].alive {
                    continue;
                }
            }
            if c == Component::Scheduler && self.cfg.symmetry != Symmetry::Off {
                self.schedule_actions(s, actions);
            } else {
                actions.push(Action::Step(c));
            }
            if !self.synced(s, c) {
                actions.push(Action::Sync(c));
            }
            if s.crashes_left > 0 && self.restart_loses_something(s, c) {
                actions.push(Action::Restart(c));
            }
            if s.resyncs_left > 0 && matches!(c, Component::ReplicaSets | Component::Deployments) {
                actions.push(Action::Resync(c));
            }
            if s.refusals_left > 0 && matches!(c, Component::ReplicaSets | Component::Deployments) && !s.cluster.refusing.contains(&c.name()) {
                actions.push(Action::RefuseWrite(c));
            }
            if s.handovers_left > 0 && self.cfg.handover_of.contains(&c) && !s.deposed.contains_key(&c) {
                actions.push(Action::Handover(c));
            }
            if s.deposed.contains_key(&c) {
                actions.push(Action::StepDeposed(c));
                actions.push(Action::Notice(c));
            }
        }
        if s.exits_left > 0 {
            for i in 1..=self.cfg.nodes {
                actions.push(Action::ExitContainer(i));
            }
        }
        if s.node_failures_left > 0 {
            for i in 1..=self.cfg.nodes {
                if s.cluster.agents[&node_name(i)].alive {
                    actions.push(Action::FailNode(i));
                }
            }
        }
        if self.cfg.rollout && !s.rolled_out && self.converged(s) {
            actions.push(Action::UpdateImage);
        }
        if self.cfg.delete && !s.deleted && self.converged(s) {
            actions.push(Action::DeleteDeployment);
        }
        if let Some(r) = self.cfg.scale_to {
            if !s.scaled {
                actions.push(Action::Scale(r));
            }
        }
        if s.attacks_left > 0 && s.cluster.agents[&node_name(COMPROMISED_NODE)].alive {
            for i in 0..hostile_writes(&s.cluster, &node_name(COMPROMISED_NODE)).len() {
                actions.push(Action::Attack(i as u16));
            }
        }
        if let Some(at) = self.next_tick(s) {
            actions.push(Action::Tick(at));
        }
    }

    fn next_state(&self, s: &State, a: Action) -> Option<State> {
        let mut n = match a {
            Action::Step(c) => self.step(s, c),
            Action::Schedule(order) => self.step_in_order(s, Component::Scheduler, &order),
            Action::Sync(c) => self.sync(s, c),
            Action::Resync(c) => {
                let mut n = s.clone();
                n.resyncs_left -= 1;
                match c {
                    Component::ReplicaSets => n.cluster.replicasets.resync(),
                    Component::Deployments => n.cluster.deployments.resync(),
                    _ => {}
                }
                n
            }
            Action::RefuseWrite(c) => {
                let mut n = s.clone();
                n.refusals_left -= 1;
                n.cluster.refusing.insert(c.name());
                n
            }
            Action::Restart(c) => {
                let mut n = s.clone();
                n.crashes_left -= 1;
                n.caches.insert(c, self.fresh(s, c));
                n.cache_revisions.insert(c, s.cluster.revision);
                match c {
                    Component::ReplicaSets => n.cluster.restart_replicasets(),
                    Component::Scheduler => n.cluster.restart_scheduler(),
                    _ => {}
                }
                n
            }
            Action::Handover(c) => {
                let mut n = s.clone();
                n.handovers_left -= 1;
                if !self.cfg.renew_deadline {
                    let machine = match c {
                        Component::ReplicaSets => DeposedMachine::ReplicaSets(s.cluster.replicasets.clone()),
                        Component::Scheduler => DeposedMachine::Scheduler(s.cluster.scheduler.clone()),
                        _ => return None,
                    };
                    n.deposed.insert(c, Deposed { machine, cache: self.view(s, c).clone() });
                }
                n.caches.insert(c, self.fresh(s, c));
                n.cache_revisions.insert(c, s.cluster.revision);
                match c {
                    Component::ReplicaSets => n.cluster.restart_replicasets(),
                    Component::Scheduler => n.cluster.restart_scheduler(),
                    _ => {}
                }
                n
            }
            Action::StepDeposed(c) => self.step_deposed(s, c),
            Action::Notice(c) => {
                let mut n = s.clone();
                n.deposed.remove(&c);
                n
            }
            Action::ExitContainer(i) => {
                let mut n = s.clone();
                let node = node_name(i);
                let target = s.cluster.agents[&node].runtime.pods.values().find_map(|(r, o)| {
                    o.containers.iter().find(|c| matches!(c.state, ContainerRun::Running { .. })).map(|c| (r.clone(), c.name.clone()))
                });
                let (r, cname) = target?;
                n.cluster.exit_container(&r.namespace, &r.name, &cname, 1).ok()?;
                n.exits_left -= 1;
                n.faulted = true;
                n
            }
            Action::FailNode(i) => {
                let mut n = s.clone();
                n.cluster.kill_kubelet(&node_name(i));
                n.node_failures_left -= 1;
                n.faulted = true;
                n
            }
            Action::UpdateImage => {
                let mut n = s.clone();
                let mut d = s.cluster.get(Kind::Deployment, "default", "web")?.as_deployment()?.clone();
                d.spec.template.spec.containers[0].image = "sample:2".into();
                n.cluster.apply("user", &Effect::update(Object::Deployment(d))).ok()?;
                n.rolled_out = true;
                n
            }
            Action::Scale(r) => {
                let mut n = s.clone();
                let mut d = s.cluster.get(Kind::Deployment, "default", "web")?.as_deployment()?.clone();
                d.spec.replicas = Some(r);
                n.cluster.apply("user", &Effect::update(Object::Deployment(d))).ok()?;
                n.scaled = true;
                n
            }
            Action::DeleteDeployment => {
                let mut n = s.clone();
                let d = s.cluster.get(Kind::Deployment, "default", "web")?.meta().uid.clone();
                let req = podcore::effect::DeleteRequest { kind: Kind::Deployment, namespace: "default".into(), name: "web".into(), uid: d, propagation: Some(podcore::effect::Propagation::Background), grace_period_seconds: None };
                n.cluster.apply("user", &Effect::Delete(req)).ok()?;
                n.deleted = true;
                n
            }
            Action::Attack(i) => {
                let node = node_name(COMPROMISED_NODE);
                let e = hostile_writes(&s.cluster, &node).into_iter().nth(i as usize)?;
                let mut n = s.clone();
                let before = s.cluster.objects.clone();
                // Refused, it changes nothing: no new state.
                n.cluster.apply(&format!("{}{node}", crate::cluster::COMPROMISED_KUBELET), &e).ok()?;
                n.attacks_left -= 1;
                n.faulted = true;
                self.check_transition(&before, &mut n, Component::Kubelet(COMPROMISED_NODE));
                n
            }
            Action::Tick(at) => {
                let mut n = self.idle_until(s, at);
                n.ticks_left -= 1;
                n
            }
        };
        // No time travel: whatever the action (a step, a watch delivering, a
        // crash and relist, a clock jump), no component's cache goes back.
        for (c, r) in &s.cache_revisions {
            if n.cache_revisions.get(c).is_some_and(|now| now < r) {
                n.violations.insert(format!("{}'s cache went back from revision {r} to {}", c.name(), n.cache_revisions[c]));
            }
        }
        self.canonicalize(&mut n);
        if n == *s {
            None
        } else {
            Some(n)
        }
    }

    fn format_action(&self, a: &Action) -> String {
        match a {
            Action::Step(c) => format!("{} acts on its cache", c.name()),
            Action::Schedule(order) => {
                let names: Vec<String> = order.iter().map(|i| node_name(*i)).collect();
                format!("scheduler acts on its cache (ties go to {})", names.join(", then "))
            }
            Action::Sync(c) => format!("{}'s watch catches up", c.name()),
            Action::Restart(c) => format!("{} crashes and restarts", c.name()),
            Action::Resync(c) => format!("{}'s informers resync", c.name()),
            Action::Handover(c) if self.cfg.renew_deadline => format!("{} loses its lease, having stopped at its renew deadline; a standby takes over", c.name()),
            Action::Handover(c) => format!("{} loses its lease without noticing; a standby takes over", c.name()),
            Action::StepDeposed(c) => format!("the deposed {} acts on its old cache", c.name()),
            Action::Notice(c) => format!("the deposed {} notices it lost its lease and stops", c.name()),
            Action::RefuseWrite(c) => format!("the apiserver will refuse {}'s next write (503)", c.name()),
            Action::ExitContainer(i) => format!("a container on node-{i} exits with code 1"),
            Action::Attack(i) => format!("node-{COMPROMISED_NODE}'s compromised kubelet tries hostile write #{i}"),
            Action::FailNode(i) => format!("node-{i}'s kubelet dies"),
            Action::UpdateImage => "the user changes the image".into(),
            Action::Scale(r) => format!("the user scales to {r}"),
            Action::DeleteDeployment => "the user deletes the deployment".into(),
            Action::Tick(at) => format!("time passes: the clock moves to start + {} s", at.ms_since(START) / 1000),
        }
    }

    fn properties(&self) -> Vec<Property<Self>> {
        properties::all()
    }
}
