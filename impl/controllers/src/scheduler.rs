//! The scheduler daemon: a queue of unbound pods, the pure `schedule`
//! decision over the informer caches plus the pods it has bound but not yet
//! seen bound ("assumed", as upstream's scheduler cache), binding through
//! `pods/binding`, and a back-off for unschedulable pods that is cut short
//! when nodes or pods change.

use crate::{enqueue, log, now, refill_after_overflow, wait_for_sync};
use client::informer::{self, Change};
use client::{Client, ListOptions};
use podcore::controller::scheduler::{schedule, unschedulable_status, wants, with_assumed, Assumed, Decision, SchedulerOptions};
use podcore::defaults::DEFAULT_SCHEDULER_NAME;
use podcore::object::Kind;
use podcore::types::Pod;
use std::collections::HashMap;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::time::Instant;
use watchcache::workqueue::WorkQueue;

pub const INITIAL_BACKOFF: Duration = Duration::from_secs(1);
pub const MAX_BACKOFF: Duration = Duration::from_secs(10);

/// How long a pod that failed `attempts` times before waits: doubling from
/// `INITIAL_BACKOFF`, at most `MAX_BACKOFF` (upstream's podInitialBackoff / podMaxBackoff).
pub fn backoff_delay(attempts: u32) -> Duration {
    INITIAL_BACKOFF.saturating_mul(2u32.saturating_pow(attempts)).min(MAX_BACKOFF)
}

pub async fn run(client: Client, opts: SchedulerOptions) -> Result<(), String> {
    let (tx, mut rx) = mpsc::channel::<Change>(crate::manager::CHANGE_CHANNEL);
    let pods = informer::spawn(client.clone(), Kind::Pod, "", ListOptions::default(), tx.clone());
    let nodes = informer::spawn(client.clone(), Kind::Node, "", ListOptions::default(), tx);
    wait_for_sync(&[&pods, &nodes]).await;
    log("scheduler", "caches synced");
    let queue = WorkQueue::new();
    // Pod key → (uid, node) for bindings not yet seen in the cache.
    let mut assumed: Assumed = Assumed::new();
    // Pod key → (attempts, retry time) for unschedulable pods.
    let mut backoff: HashMap<String, (u32, Instant)> = HashMap::new();
    let tracer = client::trace::Tracer::from_env("scheduler");
    for p in pods.snapshot() {
        enqueue(&queue, "scheduler", &p.meta().key());
    }
    loop {
        while let Ok(c) = rx.try_recv() {
            on_change(&c, &queue, &mut assumed, &mut backoff);
        }
        let now_i = Instant::now();
        let due: Vec<String> = backoff.iter().filter(|(_, (_, t))| *t <= now_i).map(|(k, _)| k.clone()).collect();
        for k in due {
            enqueue(&queue, "scheduler", &k);
        }
        refill_after_overflow(&queue, "scheduler", || pods.snapshot().iter().map(|p| p.meta().key()).collect());
        if let Some(key) = queue.get() {
            let retry = schedule_one(&client, &pods, &nodes, &key, &mut assumed, opts, &tracer).await;
            match retry {
                Some(()) => {
                    let (n, _) = backoff.get(&key).copied().unwrap_or((0, now_i));
                    let delay = backoff_delay(n);
                    backoff.insert(key.clone(), (n + 1, Instant::now() + delay));
                }
                None => {
                    backoff.remove(&key);
                }
            }
            queue.done(&key);
            continue;
        }
        let wake = backoff.values().map(|(_, t)| *t).min().unwrap_or(now_i + Duration::from_secs(60));
        tokio::select! {
            c = rx.recv() => match c {
                Some(c) => on_change(&c, &queue, &mut assumed, &mut backoff),
                None => return Err("informers stopped".into()),
            },
            _ = tokio::time::sleep_until(wake) => {}
        }
    }
}

fn on_change(c: &Change, queue: &WorkQueue, assumed: &mut Assumed, backoff: &mut HashMap<String, (u32, Instant)>) {
    match c.kind {
        Kind::Pod => {
            match c.new.as_ref().and_then(|o| o.as_pod()) {
                Some(p) if wants(p, DEFAULT_SCHEDULER_NAME) => {
                    enqueue(queue, "scheduler", &c.key);
                }
                Some(_) => {
                    assumed.remove(&c.key);
                }
                None => {
                    assumed.remove(&c.key);
                    backoff.remove(&c.key);
                }
            }
            // A pod that went away or finished frees room: retry the waiting ones now.
            let freed = c.new.is_none() || c.new.as_ref().and_then(|o| o.as_pod()).is_some_and(podcore::podutil::is_terminal);
            if freed {
                for (_, (_, t)) in backoff.iter_mut() {
                    *t = Instant::now();
                }
            }
        }
        Kind::Node => {
            for (_, (_, t)) in backoff.iter_mut() {
                *t = Instant::now();
            }
        }
        _ => {}
    }
}

/// Schedules one pod; Some(()) means "unschedulable or failed: back off".
async fn schedule_one(client: &Client, pods: &informer::Informer, nodes: &informer::Informer, key: &str, assumed: &mut Assumed, opts: SchedulerOptions, tracer: &client::trace::Tracer) -> Option<()> {
    let pod_obj = pods.get(key)?;
    let pod = pod_obj.as_pod()?;
    if !wants(pod, DEFAULT_SCHEDULER_NAME) {
        return None;
    }
    if assumed.get(key).is_some_and(|(uid, _)| *uid == pod.metadata.uid) {
        return None;
    }
    // The informer's cache is ordered by key, so nodes come in name order
    // and ties between equally good nodes go to the first name, every time.
    let node_objs = nodes.snapshot();
    let node_list: Vec<_> = node_objs.iter().filter_map(|o| o.as_node()).collect();
    let pod_objs = pods.snapshot();
    let cached: Vec<&Pod> = pod_objs.iter().filter_map(|o| o.as_pod()).collect();
    let counted = with_assumed(&cached, assumed);
    let all: Vec<&Pod> = counted.iter().collect();
    let decision = schedule(pod, &node_list, &all, opts);
    if tracer.enabled() {
        tracer.record(&podcore::trace::Record::Schedule { pod: pod.clone(), nodes: node_list.iter().map(|n| (*n).clone()).collect(), pods: counted.clone(), decision: decision.clone() });
    }
    match decision {
        Decision::Bind(node) => {
            assumed.insert(key.to_string(), (pod.metadata.uid.clone(), node.clone()));
            match client.bind(&pod.metadata.namespace, &pod.metadata.name, &pod.metadata.uid, &node).await {
                Ok(()) => {
                    log("scheduler", &format!("bound pod {key} to {node}"));
                    None
                }
                Err(e) => {
                    assumed.remove(key);
                    if e.code == 409 || e.code == 404 {
                        None
                    } else {
                        log("scheduler", &format!("binding {key} to {node} failed: {e}"));
                        Some(())
                    }
                }
            }
        }
        Decision::Unschedulable(msg) => {
            if let Some(e) = unschedulable_status(pod, &msg, now()) {
                let _ = client.execute(&e).await;
                log("scheduler", &format!("pod {key} is unschedulable: {msg}"));
            }
            Some(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn back_off_doubles_up_to_max_backoff() {
        assert_eq!(backoff_delay(0), INITIAL_BACKOFF);
        assert_eq!(backoff_delay(1), INITIAL_BACKOFF * 2);
        let first_at_max = (0..).find(|n| backoff_delay(*n) == MAX_BACKOFF).unwrap();
        assert!(backoff_delay(first_at_max - 1) < MAX_BACKOFF);
        assert_eq!(backoff_delay(first_at_max + 1), MAX_BACKOFF, "never past the bound");
        assert_eq!(backoff_delay(u32::MAX), MAX_BACKOFF, "no overflow");
    }
}
