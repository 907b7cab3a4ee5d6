//! The scheduler daemon: informers for pods and nodes feeding the core's
//! `Scheduler` machine, and its bindings written through `pods/binding`
//! concurrently (the machine's `MAX_BINDS_IN_FLIGHT` at most). The machine's
//! assumed bindings make the next decision right before the apiserver has
//! answered the last; an answer goes back to the machine, which un-assumes
//! and requeues on failure. Nothing is decided here.

use crate::{log, now, wait_for_sync};
use client::informer::{self, Change, Informer};
use client::{Client, ListOptions};
use podcore::controller::scheduler::{Decision, Scheduled, Scheduler, SchedulerOptions};
use podcore::defaults::DEFAULT_SCHEDULER_NAME;
use podcore::object::Kind;
use std::time::Duration;
use tokio::sync::mpsc;

/// Longest the loop sleeps with nothing due (a change or an answer wakes it sooner).
const IDLE_WAKE: Duration = Duration::from_secs(60);

fn feed(m: &mut Scheduler, c: &Change) {
    match c.kind {
        Kind::Pod => m.handle_pod(&c.key, c.old.as_ref().and_then(|o| o.as_pod()), c.new.as_ref().and_then(|o| o.as_pod())),
        Kind::Node => m.handle_node(&c.key, c.new.as_ref().and_then(|o| o.as_node())),
        _ => {}
    }
}

/// The scheduler with its informers asked for, ready to run once its
/// informer factory has started.
pub struct SchedulerDaemon {
    client: Client,
    opts: SchedulerOptions,
    pods: Informer,
    nodes: Informer,
    rx: mpsc::Receiver<Change>,
}

/// The scheduler on informers of its own.
pub async fn run(client: Client, opts: SchedulerOptions) -> Result<(), String> {
    let mut factory = informer::Factory::new(client.clone());
    let s = SchedulerDaemon::new(client, &mut factory, opts);
    factory.start();
    s.run().await
}

impl SchedulerDaemon {
    /// Asks `factory` for pods and nodes; bindings go through `client`.
    pub fn new(client: Client, factory: &mut informer::Factory, opts: SchedulerOptions) -> SchedulerDaemon {
        let (tx, rx) = mpsc::channel::<Change>(crate::manager::CHANGE_CHANNEL);
        let pods = factory.informer(Kind::Pod, "", ListOptions::default(), tx.clone());
        let nodes = factory.informer(Kind::Node, "", ListOptions::default(), tx);
        SchedulerDaemon { client, opts, pods, nodes, rx }
    }

    pub async fn run(self) -> Result<(), String> {
        let SchedulerDaemon { client, opts, pods, nodes, mut rx } = self;
        wait_for_sync(&[&pods, &nodes]).await;
        log("scheduler", "caches synced");
        let tracer = client::trace::Tracer::from_env("scheduler");
        let mut m = Scheduler::new(DEFAULT_SCHEDULER_NAME, opts);
        m.record_candidates = tracer.enabled();
        let (done_tx, mut done_rx) = mpsc::unbounded_channel::<(String, Result<(), u16>)>();
        loop {
            while let Ok(c) = rx.try_recv() {
                feed(&mut m, &c);
            }
            while let Ok((key, r)) = done_rx.try_recv() {
                m.handle_write_result(now(), &key, r);
            }
            loop {
                let t = now();
                let Some(key) = m.poll(t) else { break };
                let pod = pods.get(&key);
                let Some(s) = m.schedule(t, &key, pod.as_ref().and_then(|o| o.as_pod()), &[]) else { continue };
                if tracer.enabled() {
                    if let Some(p) = pod.as_ref().and_then(|o| o.as_pod()) {
                        tracer.record(&podcore::trace::Record::Schedule { pod: p.clone(), candidates: s.candidates.clone(), total: s.total, find: s.find, decision: s.decision.clone() });
                    }
                }
                execute(&client, &key, s, &done_tx);
            }
            let wake = m.poll_timeout().map_or(IDLE_WAKE, |at| Duration::from_millis(at.ms_since(now()).clamp(0, IDLE_WAKE.as_millis() as i64) as u64));
            tokio::select! {
                c = rx.recv() => match c {
                    Some(c) => feed(&mut m, &c),
                    None => return Err("informers stopped".into()),
                },
                Some((key, r)) = done_rx.recv() => m.handle_write_result(now(), &key, r),
                _ = tokio::time::sleep(wake) => {}
            }
        }
    }
}

/// Writes what the machine decided, in the background; the answer comes
/// back on `done`.
fn execute(client: &Client, key: &str, s: Scheduled, done: &mpsc::UnboundedSender<(String, Result<(), u16>)>) {
    let Some(effect) = s.effect else { return };
    let (client, key, done) = (client.clone(), key.to_string(), done.clone());
    tokio::spawn(async move {
        let r = client.execute(&effect).await;
        match (&s.decision, &r) {
            (Decision::Bind(node), Ok(_)) => log("scheduler", &format!("bound pod {key} to {node}")),
            (Decision::Bind(node), Err(e)) if !crate::is_benign(e) => log("scheduler", &format!("binding {key} to {node} failed: {e}")),
            (Decision::Unschedulable(msg), _) => log("scheduler", &format!("pod {key} is unschedulable: {msg}")),
            _ => {}
        }
        let _ = done.send((key, r.map(|_| ()).map_err(|e| e.code)));
    });
}
