//! The controller-manager: the core's deployment, replicaset, node
//! lifecycle and garbage-collector machines (`podcore::controller::*`)
//! over one set of informers. This file only reads and writes: each change
//! an informer delivers is handed to every machine that watches its kind;
//! each machine is polled in turn for a key, decides on the informers'
//! indexed caches, and its writes are executed and answered back to it.
//! Which keys a change wakes, what a failed write means, when to look
//! again: all of it is the machines'.

use crate::{is_benign, log, now, wait_for_sync};
use client::informer::{self, Change, Informer};
use client::{Client, ListOptions};
use podcore::cache::{Indexed, PerKind, View};
use podcore::controller::deployment::DeploymentController;
use podcore::controller::gc::{GarbageCollector, GcStep};
use podcore::controller::nodelifecycle::{NodeDecided, NodeLifecycleConfig, NodeLifecycleController, NodeStep, NODE_LEASE_NAMESPACE};
use podcore::controller::replicaset::{ReplicaSetController, RsOptions, Writes};
use podcore::controller::Controller;
use podcore::effect::{Effect, Outcome};
use podcore::object::Kind;
use podcore::trace::Record;
use std::sync::RwLockReadGuard;
use std::time::Duration;
use tokio::sync::mpsc;

/// Changes buffered between the informers and the controllers.
pub const CHANGE_CHANNEL: usize = 4096;

/// Longest the loop sleeps with nothing due (a change wakes it sooner).
const IDLE_WAKE: Duration = Duration::from_secs(60);

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ManagerConfig {
    pub node_lifecycle: NodeLifecycleConfig,
}

/// The informers the machines decide on, one per kind.
struct Informers {
    deployments: Informer,
    replicasets: Informer,
    pods: Informer,
    nodes: Informer,
    leases: Informer,
}

/// The informers' caches, held for reading while one decision is taken.
struct Caches<'a>(Vec<(Kind, RwLockReadGuard<'a, Indexed>)>);

impl Informers {
    fn all(&self) -> [&Informer; 5] {
        [&self.deployments, &self.replicasets, &self.pods, &self.nodes, &self.leases]
    }

    fn read(&self) -> Caches<'_> {
        Caches(self.all().into_iter().map(|i| (i.kind, i.read())).collect())
    }
}

impl Caches<'_> {
    fn view(&self) -> PerKind<'_> {
        PerKind(self.0.iter().map(|(k, g)| (*k, &**g as &dyn View)).collect())
    }
}

struct Tracers {
    rs: client::trace::Tracer,
    deploy: client::trace::Tracer,
    nodes: client::trace::Tracer,
    gc: client::trace::Tracer,
}

struct Manager {
    client: Client,
    informers: Informers,
    rs: ReplicaSetController,
    deploy: DeploymentController,
    nodes: NodeLifecycleController,
    gc: GarbageCollector,
    tracers: Tracers,
}

/// The controller-manager with its informers asked for, ready to run
/// once its informer factory has started.
pub struct ControllerManager {
    m: Manager,
    rx: mpsc::Receiver<Change>,
}

/// The controller-manager on informers of its own.
pub async fn run(client: Client, cfg: ManagerConfig) -> Result<(), String> {
    let mut factory = informer::Factory::new(client.clone());
    let cm = ControllerManager::new(client, &mut factory, cfg);
    factory.start();
    cm.run().await
}

impl ControllerManager {
    /// Asks `factory` for the informers the machines decide on; writes go
    /// through `client`.
    pub fn new(client: Client, factory: &mut informer::Factory, cfg: ManagerConfig) -> ControllerManager {
        let (tx, rx) = mpsc::channel::<Change>(CHANGE_CHANNEL);
        let all = ListOptions::default();
        let informers = Informers {
            deployments: factory.informer(Kind::Deployment, "", all.clone(), tx.clone()),
            replicasets: factory.informer(Kind::ReplicaSet, "", all.clone(), tx.clone()),
            pods: factory.informer(Kind::Pod, "", all.clone(), tx.clone()),
            nodes: factory.informer(Kind::Node, "", all.clone(), tx.clone()),
            leases: factory.informer(Kind::Lease, NODE_LEASE_NAMESPACE, all, tx),
        };
        let tracers = Tracers {
            rs: client::trace::Tracer::from_env("replicaset-controller"),
            deploy: client::trace::Tracer::from_env("deployment-controller"),
            nodes: client::trace::Tracer::from_env("node-lifecycle-controller"),
            gc: client::trace::Tracer::from_env("garbage-collector"),
        };
        let m = Manager {
            client,
            rs: ReplicaSetController { record_inputs: tracers.rs.enabled(), ..ReplicaSetController::new(RsOptions::default()) },
            deploy: DeploymentController { record_inputs: tracers.deploy.enabled(), ..Default::default() },
            nodes: NodeLifecycleController { record_inputs: tracers.nodes.enabled(), ..NodeLifecycleController::new(cfg.node_lifecycle) },
            gc: GarbageCollector::default(),
            informers,
            tracers,
        };
        ControllerManager { m, rx }
    }

    pub async fn run(self) -> Result<(), String> {
        let ControllerManager { mut m, mut rx } = self;
        wait_for_sync(&m.informers.all()).await;
        log("controller-manager", "caches synced");
        // The initial lists arrive as changes (old = None), so every object is
        // handed to the machines like any later change.
        loop {
            while let Ok(c) = rx.try_recv() {
                m.on_change(&c);
            }
            if m.work_once().await {
                continue;
            }
            let at = [m.rs.poll_timeout(), m.deploy.poll_timeout(), m.nodes.poll_timeout(), m.gc.poll_timeout()].into_iter().flatten().min();
            let wake = at.map_or(IDLE_WAKE, |at| Duration::from_millis(at.ms_since(now()).clamp(0, IDLE_WAKE.as_millis() as i64) as u64));
            tokio::select! {
                c = rx.recv() => match c {
                    Some(c) => m.on_change(&c),
                    None => return Err("informers stopped".into()),
                },
                _ = tokio::time::sleep(wake) => {}
            }
        }
    }
}

impl Manager {
    /// Hands one change to every machine (each ignores kinds it does not watch).
    fn on_change(&mut self, c: &Change) {
        let caches = self.informers.read();
        let view = caches.view();
        let (old, new) = (c.old.as_deref(), c.new.as_deref());
        self.rs.handle_change(c.kind, &c.key, old, new, &view);
        self.deploy.handle_change(c.kind, &c.key, old, new, &view);
        self.nodes.handle_change(c.kind, &c.key, old, new, &view);
        Controller::handle_change(&mut self.gc, c.kind, &c.key, old, new, &view);
    }

    /// Polls each machine once, in turn; whether any had work.
    async fn work_once(&mut self) -> bool {
        let mut worked = false;
        if let Some(key) = self.rs.poll(now()) {
            self.sync_replicaset(&key).await;
            worked = true;
        }
        if let Some(key) = self.deploy.poll(now()) {
            self.sync_deployment(&key).await;
            worked = true;
        }
        if let Some(name) = self.nodes.poll(now()) {
            self.sync_node(&name).await;
            worked = true;
        }
        if let Some(key) = self.gc.poll(now()) {
            self.collect(&key).await;
            worked = true;
        }
        worked
    }

    async fn sync_replicaset(&mut self, key: &str) {
        let at = now();
        let r = {
            let caches = self.informers.read();
            self.rs.reconcile(at, key, &caches.view())
        };
        if let Some((rs, pods, expectations)) = &r.inputs {
            self.tracers.rs.record(&Record::ReplicaSet { now: at, rs: rs.clone(), pods: pods.clone(), expectations: expectations.clone(), out: r.outcome.clone() });
        }
        let effects = &r.outcome.effects;
        let mut writes = Writes::new(effects);
        while let Some(next) = writes.next() {
            let batch = &effects[next.wave.writes.clone()];
            let results = if next.send { execute_all(&self.client, "replicaset-controller", key, batch).await } else { vec![Err(0); batch.len()] };
            for (e, res) in batch.iter().zip(&results) {
                self.rs.handle_write_result(key, e, *res);
            }
            writes.answered(&next.wave, &results);
        }
        self.rs.done(now(), key, r.outcome.requeue_after_ms, writes.failed());
    }

    async fn sync_deployment(&mut self, key: &str) {
        let at = now();
        let r = {
            let caches = self.informers.read();
            self.deploy.reconcile(at, key, &caches.view())
        };
        if let Some((deployment, replicasets, pods)) = &r.inputs {
            self.tracers.deploy.record(&Record::Deployment { now: at, deployment: deployment.clone(), replicasets: replicasets.clone(), pods: pods.clone(), out: r.outcome.clone() });
        }
        let failed = self.execute_in_order("deployment-controller", key, &r.outcome.effects).await;
        self.deploy.done(now(), key, r.outcome.requeue_after_ms, failed);
    }

    async fn sync_node(&mut self, name: &str) {
        let at = now();
        let mut d = {
            let caches = self.informers.read();
            self.nodes.reconcile(at, name, &caches.view())
        };
        if let NodeStep::Verify(node) = &d.step {
            // Pods bound to a node the cache does not show: ask the apiserver.
            match self.client.get(Kind::Node, "", node).await {
                Ok(_) => d = self.nodes.handle_verified(name, true, &self.informers.read().view()),
                Err(e) if e.code == 404 => d = self.nodes.handle_verified(name, false, &self.informers.read().view()),
                Err(e) => {
                    log("node-lifecycle-controller", &format!("reading node {node} failed: {e}"));
                    self.nodes.done(now(), name, None, true);
                    return;
                }
            }
        }
        let NodeDecided { step: NodeStep::Act(out), inputs, .. } = d else { unreachable!("a verified node decides") };
        if let Some((nodes, leases, pods)) = inputs {
            self.tracers.nodes.record(&Record::NodeLifecycle { now: at, grace_period_ms: self.nodes.cfg.grace_period_ms, nodes, leases, pods, out: out.clone() });
        }
        let Outcome { effects, requeue_after_ms } = out;
        let failed = self.execute_in_order("node-lifecycle-controller", name, &effects).await;
        self.nodes.done(now(), name, requeue_after_ms, failed);
    }

    async fn collect(&mut self, key: &str) {
        let (step, record) = {
            let caches = self.informers.read();
            let view = caches.view();
            let l = self.gc.reconcile(key, &view);
            let record = match (&l.step, l.object) {
                (GcStep::Act(effects), Some(obj)) if self.tracers.gc.enabled() && !effects.is_empty() => Some(Record::GarbageCollect { objects: std::iter::once(obj).chain(l.read.iter().copied()).cloned().collect(), effects: effects.clone() }),
                _ => None,
            };
            (l.step, record)
        };
        // Only looks that act are recorded: every change wakes the
        // collector, and most of its looks decide nothing.
        if let Some(r) = record {
            self.tracers.gc.record(&r);
        }
        match step {
            GcStep::Act(effects) => {
                let failed = self.execute_in_order("garbage-collector", key, &effects).await;
                self.gc.done(now(), key, failed);
            }
            GcStep::Verify { kind, namespace, name, uid } => match self.client.get(kind, &namespace, &name).await {
                Ok(o) => {
                    self.gc.handle_verified(key, &uid, o.meta().uid == uid);
                    self.gc.done(now(), key, false);
                }
                Err(e) if e.code == 404 => {
                    self.gc.handle_verified(key, &uid, false);
                    self.gc.done(now(), key, false);
                }
                Err(e) => {
                    log("garbage-collector", &format!("reading owner {kind:?} {namespace}/{name} failed: {e}"));
                    self.gc.done(now(), key, true);
                }
            },
        }
    }

    /// Executes `effects` one after another; whether any failed.
    async fn execute_in_order(&self, component: &str, key: &str, effects: &[Effect]) -> bool {
        let mut failed = false;
        for e in effects {
            failed |= execute_one(&self.client, component, key, e).await.is_err();
        }
        failed
    }
}

async fn execute_one(client: &Client, component: &str, key: &str, e: &Effect) -> Result<(), u16> {
    match client.execute(e).await {
        Ok(_) => {
            log(component, &format!("{} (for {key})", e.describe()));
            Ok(())
        }
        Err(err) => {
            if !is_benign(&err) {
                log(component, &format!("{} failed: {err}", e.describe()));
            }
            Err(err.code)
        }
    }
}

/// Executes `effects` at once; their results in order.
async fn execute_all(client: &Client, component: &'static str, key: &str, effects: &[Effect]) -> Vec<Result<(), u16>> {
    if effects.len() == 1 {
        return vec![execute_one(client, component, key, &effects[0]).await];
    }
    let mut set = tokio::task::JoinSet::new();
    for (i, e) in effects.iter().enumerate() {
        let (client, key, e) = (client.clone(), key.to_string(), e.clone());
        set.spawn(async move { (i, execute_one(&client, component, &key, &e).await) });
    }
    let mut out = vec![Err(0); effects.len()];
    while let Some(r) = set.join_next().await {
        if let Ok((i, r)) = r {
            out[i] = r;
        }
    }
    out
}
