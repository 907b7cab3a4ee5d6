//! Decision traces: what a daemon's component observed and what it decided,
//! one JSON line per decision, so that a run of the real daemons can be
//! replayed against the model (`model::trace`). A record holds the exact
//! inputs of one core function (the component's view, the clock, its
//! in-memory bookkeeping) and the output the daemon acted on; `replay`
//! calls the same function again and says whether it decides the same.
//!
//! Recorded decisions: `reconcile_deployment`, `reconcile_replicaset`,
//! `schedule`, `sync_pod`, `node_lifecycle` and `collect_object` — every
//! step the model takes.

use crate::controller::expectations::Expectations;
use crate::controller::kubelet::{sync_pod, ContainerObservation, ContainerRun, KubeletOptions, PodObservation, RuntimeAction, SandboxObservation, StartFailure, SyncOutcome};
use crate::controller::replicaset::RsOptions;
use crate::controller::scheduler::{choose, Allocatable, Decision, SchedulerOptions, Usage};
use crate::effect::{DeleteRequest, Effect, Outcome, Propagation};
use crate::object::{Kind, Object};
use crate::time::Time;
use crate::controller::nodelifecycle::{node_lifecycle, NodeLifecycleConfig};
use crate::types::{Deployment, Lease, Node, Pod, PodStatus, ReplicaSet};
use serde_json::{json, Value};

fn usage_json(u: &Usage) -> Value {
    json!({"cpu": u.cpu.to_string(), "memory": u.memory.to_string(), "pods": u.pods, "byOwner": u.by_owner})
}

fn usage_from(v: &Value) -> Result<Usage, String> {
    let big = |k: &str| v.get(k).and_then(Value::as_str).and_then(|s| s.parse::<i128>().ok()).ok_or(format!("usage.{k}: expected a number in a string"));
    Ok(Usage {
        cpu: big("cpu")?,
        memory: big("memory")?,
        pods: v.get("pods").and_then(Value::as_i64).ok_or("usage.pods: expected a number")?,
        by_owner: v.get("byOwner").and_then(Value::as_object).map(|m| m.iter().filter_map(|(k, n)| Some((k.clone(), n.as_i64()?))).collect()).unwrap_or_default(),
    })
}

/// Longest trace line accepted when reading one back.
pub const MAX_TRACE_RECORD_BYTES: usize = 16 << 20;

/// One decision of one component.
#[derive(Clone, Debug, PartialEq)]
pub enum Record {
    ReplicaSet { now: Time, rs: ReplicaSet, pods: Vec<Pod>, expectations: Expectations, out: Outcome },
    Deployment { now: Time, deployment: Deployment, replicasets: Vec<ReplicaSet>, pods: Vec<Pod>, out: Outcome },
    /// `candidates`: the nodes the decision looked at, in its order, each
    /// with the usage it counted there (bound and assumed pods); `total`
    /// nodes were known and the search stopped after `find` feasible ones.
    Schedule { pod: Pod, candidates: Vec<(Node, Usage)>, total: usize, find: usize, decision: Decision },
    /// `round` 0 decides on the kubelet's cache; later rounds on the pod its
    /// own status write returned.
    SyncPod { now: Time, node: String, host_ip: String, round: u32, pod: Pod, observation: PodObservation, out: SyncOutcome },
    NodeLifecycle { now: Time, grace_period_ms: i64, nodes: Vec<Node>, leases: Vec<Lease>, pods: Vec<Pod>, out: Outcome },
    /// `objects`: the object the collector looked at, then what it read for
    /// it (its owners found and its dependents).
    GarbageCollect { objects: Vec<Object>, effects: Vec<Effect> },
}

impl Record {
    pub fn function(&self) -> &'static str {
        match self {
            Record::ReplicaSet { .. } => "reconcile_replicaset",
            Record::Deployment { .. } => "reconcile_deployment",
            Record::Schedule { .. } => "schedule",
            Record::SyncPod { .. } => "sync_pod",
            Record::NodeLifecycle { .. } => "node_lifecycle",
            Record::GarbageCollect { .. } => "collect_object",
        }
    }

    /// Every object the decision read, with the resourceVersion it had.
    pub fn inputs(&self) -> Vec<(String, u64)> {
        let rv = |m: &crate::meta::ObjectMeta| m.resource_version.parse::<u64>().unwrap_or(0);
        let mut out = Vec::new();
        match self {
            Record::ReplicaSet { rs, pods, .. } => {
                out.push((Kind::ReplicaSet.key(&rs.metadata.namespace, &rs.metadata.name), rv(&rs.metadata)));
                out.extend(pods.iter().map(|p| (Kind::Pod.key(&p.metadata.namespace, &p.metadata.name), rv(&p.metadata))));
            }
            Record::Deployment { deployment, replicasets, pods, .. } => {
                out.push((Kind::Deployment.key(&deployment.metadata.namespace, &deployment.metadata.name), rv(&deployment.metadata)));
                out.extend(replicasets.iter().map(|r| (Kind::ReplicaSet.key(&r.metadata.namespace, &r.metadata.name), rv(&r.metadata))));
                out.extend(pods.iter().map(|p| (Kind::Pod.key(&p.metadata.namespace, &p.metadata.name), rv(&p.metadata))));
            }
            Record::Schedule { pod, candidates, .. } => {
                out.push((Kind::Pod.key(&pod.metadata.namespace, &pod.metadata.name), rv(&pod.metadata)));
                out.extend(candidates.iter().map(|(n, _)| (Kind::Node.key("", &n.metadata.name), rv(&n.metadata))));
            }
            Record::SyncPod { pod, .. } => out.push((Kind::Pod.key(&pod.metadata.namespace, &pod.metadata.name), rv(&pod.metadata))),
            Record::NodeLifecycle { nodes, leases, pods, .. } => {
                out.extend(nodes.iter().map(|n| (Kind::Node.key("", &n.metadata.name), rv(&n.metadata))));
                out.extend(leases.iter().map(|l| (Kind::Lease.key(&l.metadata.namespace, &l.metadata.name), rv(&l.metadata))));
                out.extend(pods.iter().map(|p| (Kind::Pod.key(&p.metadata.namespace, &p.metadata.name), rv(&p.metadata))));
            }
            Record::GarbageCollect { objects, .. } => out.extend(objects.iter().map(|o| (o.key(), rv(o.meta())))),
        }
        out
    }

    pub fn to_json(&self, component: &str) -> Value {
        let objs = |v: Vec<Object>| Value::Array(v.iter().map(Object::to_value).collect());
        let pods = |ps: &[Pod]| objs(ps.iter().cloned().map(Object::Pod).collect());
        let (input, output, now) = match self {
            Record::ReplicaSet { now, rs, pods: ps, expectations, out } => (
                json!({"replicaset": Object::ReplicaSet(rs.clone()).to_value(), "pods": pods(ps), "expectations": {"pendingCreations": expectations.pending_creations, "pendingDeletions": expectations.pending_deletions, "setAt": expectations.set_at.0}}),
                outcome_json(out),
                Some(*now),
            ),
            Record::Deployment { now, deployment, replicasets, pods: ps, out } => (
                json!({"deployment": Object::Deployment(deployment.clone()).to_value(), "replicasets": objs(replicasets.iter().cloned().map(Object::ReplicaSet).collect()), "pods": pods(ps)}),
                outcome_json(out),
                Some(*now),
            ),
            Record::Schedule { pod, candidates, total, find, decision } => (
                json!({"pod": Object::Pod(pod.clone()).to_value(), "total": total, "find": find,
                       "candidates": candidates.iter().map(|(n, u)| json!({"node": Object::Node(n.clone()).to_value(), "usage": usage_json(u)})).collect::<Vec<_>>()}),
                match decision {
                    Decision::Bind(n) => json!({"bind": n}),
                    Decision::Unschedulable(m) => json!({"unschedulable": m}),
                },
                None,
            ),
            Record::SyncPod { now, node, host_ip, round, pod, observation, out } => (
                json!({"node": node, "hostIP": host_ip, "round": round, "pod": Object::Pod(pod.clone()).to_value(), "observation": observation_json(observation)}),
                json!({"actions": out.actions.iter().map(action_json).collect::<Vec<_>>(), "status": out.status.as_ref().map(|s| serde_json::to_value(s).unwrap_or(Value::Null)), "confirmDeletion": out.confirm_deletion, "requeueAfterMs": out.requeue_after_ms}),
                Some(*now),
            ),
            Record::NodeLifecycle { now, grace_period_ms, nodes, leases, pods: ps, out } => (
                json!({"gracePeriodMs": grace_period_ms, "nodes": objs(nodes.iter().cloned().map(Object::Node).collect()), "leases": objs(leases.iter().cloned().map(Object::Lease).collect()), "pods": pods(ps)}),
                outcome_json(out),
                Some(*now),
            ),
            Record::GarbageCollect { objects, effects } => (json!({"objects": objs(objects.clone())}), json!({"effects": effects.iter().map(effect_json).collect::<Vec<_>>()}), None),
        };
        json!({"component": component, "fn": self.function(), "now": now.map(|t| t.0), "input": input, "output": output})
    }

    /// Reads a record back; the component name comes with it.
    pub fn from_json(v: &Value) -> Result<(String, Record), String> {
        let component = v.get("component").and_then(Value::as_str).ok_or("component: expected a string")?.to_string();
        let f = v.get("fn").and_then(Value::as_str).ok_or("fn: expected a string")?;
        let now = Time(v.get("now").and_then(Value::as_i64).unwrap_or(0));
        let input = v.get("input").ok_or("input: missing")?;
        let output = v.get("output").ok_or("output: missing")?;
        let obj = |kind: Kind, v: Option<&Value>, what: &str| -> Result<Object, String> { Object::from_value(kind, v.cloned().ok_or(format!("{what}: missing"))?).map_err(|e| format!("{what}: {}", e.message)) };
        let list = |kind: Kind, what: &str| -> Result<Vec<Object>, String> {
            input.get(what).and_then(Value::as_array).ok_or(format!("input.{what}: expected a list"))?.iter().map(|x| obj(kind, Some(x), what)).collect()
        };
        let pods_of = |objs: Vec<Object>| objs.into_iter().filter_map(|o| o.as_pod().cloned()).collect::<Vec<_>>();
        let rec = match f {
            "reconcile_replicaset" => {
                let e = input.get("expectations").ok_or("input.expectations: missing")?;
                let expectations = Expectations {
                    pending_creations: e.get("pendingCreations").and_then(Value::as_i64).unwrap_or(0),
                    pending_deletions: e.get("pendingDeletions").and_then(Value::as_array).map(|a| a.iter().filter_map(|x| x.as_str().map(String::from)).collect()).unwrap_or_default(),
                    set_at: Time(e.get("setAt").and_then(Value::as_i64).unwrap_or(0)),
                };
                Record::ReplicaSet { now, rs: obj(Kind::ReplicaSet, input.get("replicaset"), "replicaset")?.as_replicaset().cloned().ok_or("replicaset")?, pods: pods_of(list(Kind::Pod, "pods")?), expectations, out: outcome_from(output)? }
            }
            "reconcile_deployment" => Record::Deployment {
                now,
                deployment: obj(Kind::Deployment, input.get("deployment"), "deployment")?.as_deployment().cloned().ok_or("deployment")?,
                replicasets: list(Kind::ReplicaSet, "replicasets")?.into_iter().filter_map(|o| o.as_replicaset().cloned()).collect(),
                pods: pods_of(list(Kind::Pod, "pods")?),
                out: outcome_from(output)?,
            },
            "schedule" => Record::Schedule {
                pod: obj(Kind::Pod, input.get("pod"), "pod")?.as_pod().cloned().ok_or("pod")?,
                candidates: input
                    .get("candidates")
                    .and_then(Value::as_array)
                    .ok_or("input.candidates: expected a list")?
                    .iter()
                    .map(|c| Ok((obj(Kind::Node, c.get("node"), "candidates.node")?.as_node().cloned().ok_or("candidates.node")?, usage_from(c.get("usage").ok_or("candidates.usage: missing")?)?)))
                    .collect::<Result<_, String>>()?,
                total: input.get("total").and_then(Value::as_u64).ok_or("input.total: expected a number")? as usize,
                find: input.get("find").and_then(Value::as_u64).ok_or("input.find: expected a number")? as usize,
                decision: match (output.get("bind").and_then(Value::as_str), output.get("unschedulable").and_then(Value::as_str)) {
                    (Some(n), _) => Decision::Bind(n.into()),
                    (_, Some(m)) => Decision::Unschedulable(m.into()),
                    _ => return Err("output: expected bind or unschedulable".into()),
                },
            },
            "sync_pod" => Record::SyncPod {
                now,
                node: input.get("node").and_then(Value::as_str).ok_or("input.node")?.into(),
                host_ip: input.get("hostIP").and_then(Value::as_str).unwrap_or_default().into(),
                round: input.get("round").and_then(Value::as_u64).unwrap_or(0) as u32,
                pod: obj(Kind::Pod, input.get("pod"), "pod")?.as_pod().cloned().ok_or("pod")?,
                observation: observation_from(input.get("observation").ok_or("input.observation: missing")?)?,
                out: SyncOutcome {
                    actions: output.get("actions").and_then(Value::as_array).ok_or("output.actions")?.iter().map(action_from).collect::<Result<_, _>>()?,
                    status: match output.get("status") {
                        None | Some(Value::Null) => None,
                        Some(s) => Some(serde_json::from_value::<PodStatus>(s.clone()).map_err(|e| format!("output.status: {e}"))?),
                    },
                    confirm_deletion: output.get("confirmDeletion").and_then(Value::as_bool).unwrap_or(false),
                    requeue_after_ms: output.get("requeueAfterMs").and_then(Value::as_i64),
                },
            },
            "node_lifecycle" => Record::NodeLifecycle {
                now,
                grace_period_ms: input.get("gracePeriodMs").and_then(Value::as_i64).ok_or("input.gracePeriodMs: expected a number")?,
                nodes: list(Kind::Node, "nodes")?.into_iter().filter_map(|o| o.as_node().cloned()).collect(),
                leases: list(Kind::Lease, "leases")?.into_iter().filter_map(|o| o.as_lease().cloned()).collect(),
                pods: pods_of(list(Kind::Pod, "pods")?),
                out: outcome_from(output)?,
            },
            "collect_object" => Record::GarbageCollect {
                objects: input.get("objects").and_then(Value::as_array).ok_or("input.objects: expected a list")?.iter().map(|x| Object::from_value(kind_of(x)?, x.clone()).map_err(|e| format!("objects: {}", e.message))).collect::<Result<_, _>>()?,
                effects: output.get("effects").and_then(Value::as_array).ok_or("output.effects: expected a list")?.iter().map(effect_from).collect::<Result<_, _>>()?,
            },
            other => return Err(format!("fn: unknown decision {other:?}")),
        };
        Ok((component, rec))
    }

    /// Decides again with the same core function on the same inputs; Err
    /// says how the decision differs from the recorded one.
    pub fn replay(&self) -> Result<(), String> {
        let again: Value;
        let recorded: Value;
        match self {
            Record::ReplicaSet { now, rs, pods, expectations, out } => {
                let ps: Vec<&Pod> = pods.iter().collect();
                again = outcome_json(&crate::controller::replicaset::reconcile_replicaset(*now, rs, &ps, expectations, RsOptions::default()));
                recorded = outcome_json(out);
            }
            Record::Deployment { now, deployment, replicasets, pods, out } => {
                let (rs, ps): (Vec<&ReplicaSet>, Vec<&Pod>) = (replicasets.iter().collect(), pods.iter().collect());
                again = outcome_json(&crate::controller::deployment::reconcile_deployment(*now, deployment, &rs, &ps));
                recorded = outcome_json(out);
            }
            Record::Schedule { pod, candidates, total, find, decision } => {
                let allocs: Vec<Allocatable> = candidates.iter().map(|(n, _)| Allocatable::of(n)).collect();
                let (d, _) = choose(pod, candidates.iter().zip(&allocs).map(|((n, u), a)| (n, a, u)), *total, *find, SchedulerOptions::default());
                again = json!(format!("{d:?}"));
                recorded = json!(format!("{decision:?}"));
            }
            Record::SyncPod { now, node, host_ip, pod, observation, out, .. } => {
                let o = sync_pod(*now, node, host_ip, pod, observation, KubeletOptions::default());
                again = Record::SyncPod { now: *now, node: node.clone(), host_ip: host_ip.clone(), round: 0, pod: Pod::default(), observation: PodObservation::default(), out: o }.to_json("")["output"].clone();
                recorded = self.to_json("")["output"].clone();
                let _ = out;
            }
            Record::NodeLifecycle { now, grace_period_ms, nodes, leases, pods, out } => {
                let (ns, ls, ps): (Vec<&Node>, Vec<&Lease>, Vec<&Pod>) = (nodes.iter().collect(), leases.iter().collect(), pods.iter().collect());
                again = outcome_json(&node_lifecycle(*now, &ns, &ls, &ps, NodeLifecycleConfig { grace_period_ms: *grace_period_ms }));
                recorded = outcome_json(out);
            }
            Record::GarbageCollect { objects, effects } => {
                let Some((obj, read)) = objects.split_first() else { return Err("collect_object: no object".into()) };
                let read: Vec<&Object> = read.iter().collect();
                again = json!(crate::controller::gc::collect_object(obj, &read).iter().map(effect_json).collect::<Vec<_>>());
                recorded = json!(effects.iter().map(effect_json).collect::<Vec<_>>());
            }
        }
        if again == recorded {
            Ok(())
        } else {
            Err(format!("{} decides {} on the recorded inputs; the daemon recorded {}", self.function(), again, recorded))
        }
    }
}

fn outcome_json(o: &Outcome) -> Value {
    json!({"effects": o.effects.iter().map(effect_json).collect::<Vec<_>>(), "requeueAfterMs": o.requeue_after_ms})
}

fn outcome_from(v: &Value) -> Result<Outcome, String> {
    Ok(Outcome {
        effects: v.get("effects").and_then(Value::as_array).ok_or("output.effects: expected a list")?.iter().map(effect_from).collect::<Result<_, _>>()?,
        requeue_after_ms: v.get("requeueAfterMs").and_then(Value::as_i64),
    })
}

pub fn effect_json(e: &Effect) -> Value {
    match e {
        Effect::Create(o) => json!({"create": o.to_value()}),
        Effect::Update(o) => json!({"update": o.to_value()}),
        Effect::UpdateStatus(o) => json!({"updateStatus": o.to_value()}),
        Effect::Delete(d) => json!({"delete": {"kind": d.kind.info().kind_name, "namespace": d.namespace, "name": d.name, "uid": d.uid, "propagation": d.propagation.map(|p| p.as_str()), "gracePeriodSeconds": d.grace_period_seconds}}),
        Effect::Bind { namespace, name, uid, node } => json!({"bind": {"namespace": namespace, "name": name, "uid": uid, "node": node}}),
    }
}

fn kind_of(v: &Value) -> Result<Kind, String> {
    let k = v.get("kind").and_then(Value::as_str).ok_or("kind: expected a string")?;
    crate::object::RESOURCES.iter().map(|r| r.kind).find(|x| x.info().kind_name == k).ok_or_else(|| format!("kind: unknown {k:?}"))
}

fn effect_from(v: &Value) -> Result<Effect, String> {
    let obj = |x: &Value| -> Result<Object, String> { Object::from_value(kind_of(x)?, x.clone()).map_err(|e| e.message) };
    if let Some(x) = v.get("create") {
        return Ok(Effect::Create(obj(x)?));
    }
    if let Some(x) = v.get("update") {
        return Ok(Effect::Update(obj(x)?));
    }
    if let Some(x) = v.get("updateStatus") {
        return Ok(Effect::UpdateStatus(obj(x)?));
    }
    if let Some(d) = v.get("delete") {
        let s = |k: &str| d.get(k).and_then(Value::as_str).unwrap_or_default().to_string();
        return Ok(Effect::Delete(DeleteRequest {
            kind: kind_of(d)?,
            namespace: s("namespace"),
            name: s("name"),
            uid: s("uid"),
            propagation: d.get("propagation").and_then(Value::as_str).and_then(Propagation::parse),
            grace_period_seconds: d.get("gracePeriodSeconds").and_then(Value::as_i64),
        }));
    }
    if let Some(b) = v.get("bind") {
        let s = |k: &str| b.get(k).and_then(Value::as_str).unwrap_or_default().to_string();
        return Ok(Effect::Bind { namespace: s("namespace"), name: s("name"), uid: s("uid"), node: s("node") });
    }
    Err(format!("effect: unknown {v}"))
}

fn action_json(a: &RuntimeAction) -> Value {
    match a {
        RuntimeAction::RunSandbox => json!({"runSandbox": {}}),
        RuntimeAction::StartContainer { name, attempt } => json!({"startContainer": {"name": name, "attempt": attempt}}),
        RuntimeAction::KillContainer { name, id, grace_period_seconds } => json!({"killContainer": {"name": name, "id": id, "gracePeriodSeconds": grace_period_seconds}}),
        RuntimeAction::StopSandbox { id } => json!({"stopSandbox": {"id": id}}),
        RuntimeAction::RemovePod => json!({"removePod": {}}),
    }
}

fn action_from(v: &Value) -> Result<RuntimeAction, String> {
    let s = |x: &Value, k: &str| x.get(k).and_then(Value::as_str).unwrap_or_default().to_string();
    if v.get("runSandbox").is_some() {
        Ok(RuntimeAction::RunSandbox)
    } else if let Some(x) = v.get("startContainer") {
        Ok(RuntimeAction::StartContainer { name: s(x, "name"), attempt: x.get("attempt").and_then(Value::as_u64).unwrap_or(0) as u32 })
    } else if let Some(x) = v.get("killContainer") {
        Ok(RuntimeAction::KillContainer { name: s(x, "name"), id: s(x, "id"), grace_period_seconds: x.get("gracePeriodSeconds").and_then(Value::as_i64).unwrap_or(0) })
    } else if let Some(x) = v.get("stopSandbox") {
        Ok(RuntimeAction::StopSandbox { id: s(x, "id") })
    } else if v.get("removePod").is_some() {
        Ok(RuntimeAction::RemovePod)
    } else {
        Err(format!("action: unknown {v}"))
    }
}

pub fn observation_json(o: &PodObservation) -> Value {
    let run = |r: &ContainerRun| match r {
        ContainerRun::Created => json!({"created": {}}),
        ContainerRun::Running { started_at } => json!({"running": {"startedAt": started_at.0}}),
        ContainerRun::Exited { exit_code, started_at, finished_at, reason } => json!({"exited": {"exitCode": exit_code, "startedAt": started_at.0, "finishedAt": finished_at.0, "reason": reason}}),
    };
    json!({
        "sandbox": o.sandbox.as_ref().map(|s| json!({"id": s.id, "ip": s.ip, "ready": s.ready})),
        "containers": o.containers.iter().map(|c| json!({"name": c.name, "id": c.id, "attempt": c.attempt, "imageID": c.image_id, "state": run(&c.state)})).collect::<Vec<_>>(),
        "startFailures": o.start_failures.iter().map(|(k, f)| (k.clone(), json!({"reason": f.reason, "message": f.message, "at": f.at.0, "count": f.count}))).collect::<serde_json::Map<_, _>>(),
    })
}

fn observation_from(v: &Value) -> Result<PodObservation, String> {
    let s = |x: &Value, k: &str| x.get(k).and_then(Value::as_str).unwrap_or_default().to_string();
    let t = |x: &Value, k: &str| Time(x.get(k).and_then(Value::as_i64).unwrap_or(0));
    let sandbox = match v.get("sandbox") {
        None | Some(Value::Null) => None,
        Some(x) => Some(SandboxObservation { id: s(x, "id"), ip: s(x, "ip"), ready: x.get("ready").and_then(Value::as_bool).unwrap_or(false) }),
    };
    let mut containers = Vec::new();
    for c in v.get("containers").and_then(Value::as_array).ok_or("observation.containers: expected a list")? {
        let st = c.get("state").ok_or("observation.containers[].state: missing")?;
        let state = if st.get("created").is_some() {
            ContainerRun::Created
        } else if let Some(r) = st.get("running") {
            ContainerRun::Running { started_at: t(r, "startedAt") }
        } else if let Some(e) = st.get("exited") {
            ContainerRun::Exited { exit_code: e.get("exitCode").and_then(Value::as_i64).unwrap_or(0) as i32, started_at: t(e, "startedAt"), finished_at: t(e, "finishedAt"), reason: s(e, "reason") }
        } else {
            return Err(format!("observation: unknown container state {st}"));
        };
        containers.push(ContainerObservation { name: s(c, "name"), id: s(c, "id"), attempt: c.get("attempt").and_then(Value::as_u64).unwrap_or(0) as u32, image_id: s(c, "imageID"), state });
    }
    let mut start_failures = std::collections::BTreeMap::new();
    if let Some(m) = v.get("startFailures").and_then(Value::as_object) {
        for (k, f) in m {
            start_failures.insert(k.clone(), StartFailure { reason: s(f, "reason"), message: s(f, "message"), at: t(f, "at"), count: f.get("count").and_then(Value::as_u64).unwrap_or(0) as u32 });
        }
    }
    Ok(PodObservation { sandbox, containers, start_failures })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::Container;

    fn pod() -> Pod {
        let mut p = Pod::default();
        p.metadata.name = "p".into();
        p.metadata.namespace = "default".into();
        p.metadata.uid = "u1".into();
        p.metadata.resource_version = "7".into();
        p.spec.node_name = "n1".into();
        p.spec.restart_policy = "Always".into();
        p.spec.containers.push(Container { name: "c".into(), image: "i".into(), ..Default::default() });
        p
    }

    #[test]
    fn a_sync_pod_record_round_trips_and_replays() {
        let p = pod();
        let obs = PodObservation { sandbox: Some(SandboxObservation { id: "sb".into(), ip: "10.0.0.2".into(), ready: true }), ..Default::default() };
        let out = sync_pod(Time(5_000), "n1", "127.0.0.1", &p, &obs, KubeletOptions::default());
        let r = Record::SyncPod { now: Time(5_000), node: "n1".into(), host_ip: "127.0.0.1".into(), round: 0, pod: p, observation: obs, out };
        let line = r.to_json("kubelet/n1").to_string();
        let (component, back) = Record::from_json(&serde_json::from_str(&line).unwrap()).unwrap();
        assert_eq!(component, "kubelet/n1");
        assert_eq!(back, r);
        back.replay().unwrap();
        assert_eq!(back.inputs(), vec![("/registry/pods/default/p".to_string(), 7)]);
    }

    #[test]
    fn a_decision_the_core_would_not_take_is_caught() {
        let p = pod();
        // The daemon claims it started the container with no sandbox.
        let out = SyncOutcome { actions: vec![RuntimeAction::StartContainer { name: "c".into(), attempt: 0 }], ..Default::default() };
        let r = Record::SyncPod { now: Time(0), node: "n1".into(), host_ip: String::new(), round: 0, pod: p, observation: PodObservation::default(), out };
        let err = r.replay().unwrap_err();
        assert!(err.contains("runSandbox"), "{err}");
    }

    #[test]
    fn a_node_lifecycle_record_round_trips_replays_and_catches_a_missed_eviction() {
        // A Ready node whose lease stopped 60 s ago: the controller marks it.
        let mut n = Node::default();
        n.metadata.name = "n1".into();
        n.metadata.uid = "nu".into();
        n.metadata.resource_version = "3".into();
        n.status.conditions.push(crate::types::NodeCondition { type_: "Ready".into(), status: "True".into(), last_heartbeat_time: Some(Time(0)), ..Default::default() });
        let mut l = Lease::default();
        l.metadata.name = "n1".into();
        l.metadata.namespace = crate::controller::nodelifecycle::NODE_LEASE_NAMESPACE.into();
        l.metadata.resource_version = "4".into();
        l.spec.renew_time = Some(Time(0).into());
        let cfg = NodeLifecycleConfig { grace_period_ms: 40_000 };
        let now = Time(60_000);
        let out = node_lifecycle(now, &[&n], &[&l], &[&pod()], cfg);
        assert!(!out.effects.is_empty(), "the node is marked not ready");
        let r = Record::NodeLifecycle { now, grace_period_ms: 40_000, nodes: vec![n], leases: vec![l], pods: vec![pod()], out };
        let (component, back) = Record::from_json(&serde_json::from_str(&r.to_json("node-lifecycle-controller").to_string()).unwrap()).unwrap();
        assert_eq!(component, "node-lifecycle-controller");
        assert_eq!(back, r);
        back.replay().unwrap();
        assert_eq!(back.inputs().len(), 3);
        // A daemon that did nothing here took a step the core would not.
        let Record::NodeLifecycle { now, grace_period_ms, nodes, leases, pods, .. } = back else { unreachable!() };
        let idle = Record::NodeLifecycle { now, grace_period_ms, nodes, leases, pods, out: Outcome::default() };
        assert!(idle.replay().is_err());
    }

    #[test]
    fn a_garbage_collect_record_round_trips_replays_and_catches_a_kept_orphan() {
        // A pod whose controlling ReplicaSet is gone is deleted.
        let mut p = pod();
        p.metadata.owner_references.push(crate::meta::OwnerReference { api_version: "apps/v1".into(), kind: "ReplicaSet".into(), name: "gone".into(), uid: "rs-uid".into(), controller: Some(true), block_owner_deletion: Some(true) });
        let objects = vec![Object::Pod(p)];
        let effects = crate::controller::gc::collect_object(&objects[0], &[]);
        assert_eq!(effects.len(), 1);
        let r = Record::GarbageCollect { objects: objects.clone(), effects };
        let (_, back) = Record::from_json(&serde_json::from_str(&r.to_json("garbage-collector").to_string()).unwrap()).unwrap();
        assert_eq!(back, r);
        back.replay().unwrap();
        assert_eq!(back.inputs(), vec![("/registry/pods/default/p".to_string(), 7)]);
        let kept = Record::GarbageCollect { objects, effects: vec![] };
        assert!(kept.replay().unwrap_err().contains("delete"));
    }
}
