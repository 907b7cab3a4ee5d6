//! What the apiserver does to an object between decoding and storing it:
//! namespace and name assignment, uid and timestamps, defaulting, status
//! reset, generation bumps, validation, binding, graceful deletion and
//! finalizers. Pure functions, so the model applies writes exactly as the
//! real apiserver does. Randomness (uids, generateName suffixes) and time come
//! in as arguments.

use crate::defaults::{default_object, default_tolerations};
use crate::effect::Propagation;
use crate::meta::{FINALIZER_FOREGROUND, FINALIZER_ORPHAN};
use crate::object::{Kind, Object};
use crate::status::{ApiError, FieldError};
use crate::time::Time;
use crate::types::*;
use crate::names::MAX_NAME_LEN;
use crate::validation::{validate, validate_update};

/// Length of the random suffix appended to `generateName` (as upstream).
pub const GENERATE_NAME_SUFFIX_LEN: usize = 5;

/// Inputs the apiserver supplies to a create.
#[derive(Clone, Debug)]
pub struct CreateContext<'a> {
    pub now: Time,
    pub uid: &'a str,
    /// `GENERATE_NAME_SUFFIX_LEN` characters from `[bcdfghjklmnpqrstvwxz2456789]`.
    pub name_suffix: &'a str,
    /// The namespace in the URL ("" for cluster-scoped or all-namespace URLs).
    pub namespace: &'a str,
    pub default_toleration_seconds: i64,
}

fn info(kind: Kind) -> (&'static str, &'static str) {
    let i = kind.info();
    (i.group, i.kind_name)
}

pub fn prepare_create(mut obj: Object, ctx: &CreateContext) -> Result<Object, ApiError> {
    let kind = obj.kind();
    let (group, kind_name) = info(kind);
    {
        let m = obj.meta_mut();
        if kind.info().namespaced {
            if m.namespace.is_empty() {
                m.namespace = ctx.namespace.to_string();
            } else if !ctx.namespace.is_empty() && m.namespace != ctx.namespace {
                return Err(ApiError::bad_request(format!(
                    "metadata.namespace: the namespace of the provided object ({:?}) does not match the namespace sent on the request ({:?})",
                    m.namespace, ctx.namespace
                )));
            }
        }
        if m.name.is_empty() && !m.generate_name.is_empty() {
            let mut base = m.generate_name.clone();
            base.truncate(MAX_NAME_LEN - GENERATE_NAME_SUFFIX_LEN);
            m.name = format!("{base}{}", ctx.name_suffix);
        }
        m.uid = ctx.uid.to_string();
        m.creation_timestamp = Some(ctx.now.truncate_to_secs());
        m.resource_version.clear();
        m.deletion_timestamp = None;
        m.deletion_grace_period_seconds = None;
        m.generation = if kind.has_generation() { 1 } else { 0 };
    }
    match &mut obj {
        Object::Pod(p) => {
            p.status = PodStatus { phase: "Pending".into(), ..Default::default() };
            default_tolerations(&mut p.spec, ctx.default_toleration_seconds);
            p.status.qos_class = qos_class(&p.spec).into();
        }
        Object::ReplicaSet(rs) => rs.status = Default::default(),
        Object::Deployment(d) => d.status = Default::default(),
        Object::Namespace(n) => n.status = Default::default(),
        _ => {}
    }
    default_object(&mut obj);
    let errs = validate(&obj);
    if !errs.is_empty() {
        return Err(ApiError::invalid(group, kind_name, &obj.meta().name, errs));
    }
    Ok(obj)
}

/// Upstream's QoS class: Guaranteed, Burstable or BestEffort.
pub fn qos_class(spec: &PodSpec) -> &'static str {
    let mut any = false;
    let mut guaranteed = true;
    for c in &spec.containers {
        let r = &c.resources;
        if !r.requests.is_empty() || !r.limits.is_empty() {
            any = true;
        }
        for res in ["cpu", "memory"] {
            match (r.requests.get(res), r.limits.get(res)) {
                (_, None) => guaranteed = false,
                (Some(q), Some(l)) if q.nanos() != l.nanos() => guaranteed = false,
                _ => {}
            }
        }
    }
    if !any {
        "BestEffort"
    } else if guaranteed {
        "Guaranteed"
    } else {
        "Burstable"
    }
}

/// Which part of the object an update may change.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UpdateTarget {
    /// The main resource: status changes are ignored when the kind has a
    /// status subresource.
    Main,
    /// `/status`: only status changes are kept.
    Status,
}

/// Prepares `new` to replace `old`. The resourceVersion precondition: when
/// `new` names one it must equal `old`'s (the store checks it again
/// atomically); an empty one means "unconditional", as upstream allows.
pub fn prepare_update(old: &Object, mut new: Object, target: UpdateTarget) -> Result<Object, ApiError> {
    let kind = old.kind();
    let (group, kind_name) = info(kind);
    let plural = kind.info().plural;
    let om = old.meta().clone();
    if new.kind() != kind {
        return Err(ApiError::bad_request(format!("kind: expected {kind_name}")));
    }
    {
        let nm = new.meta();
        if !nm.resource_version.is_empty() && nm.resource_version != om.resource_version {
            return Err(ApiError::stale(group, plural, &om.name));
        }
        if !nm.uid.is_empty() && nm.uid != om.uid {
            return Err(ApiError::conflict(group, plural, &om.name, &format!("Precondition failed: UID in precondition: {}, UID in object meta: {}", nm.uid, om.uid)));
        }
        if nm.name != om.name {
            return Err(ApiError::bad_request(format!("metadata.name: the name of the object ({:?}) does not match the name on the URL ({:?})", nm.name, om.name)));
        }
    }
    match target {
        UpdateTarget::Status => {
            // Keep everything but status from the stored object.
            let mut merged = old.clone();
            match (&mut merged, new) {
                (Object::Pod(m), Object::Pod(n)) => m.status = n.status,
                (Object::Node(m), Object::Node(n)) => m.status = n.status,
                (Object::ReplicaSet(m), Object::ReplicaSet(n)) => m.status = n.status,
                (Object::Deployment(m), Object::Deployment(n)) => m.status = n.status,
                (Object::Namespace(m), Object::Namespace(n)) => m.status = n.status,
                _ => return Err(ApiError::not_found(group, &format!("{plural}/status"), &om.name)),
            }
            new = merged;
        }
        UpdateTarget::Main => {
            if kind.has_status_subresource() {
                match (&mut new, old) {
                    (Object::Pod(n), Object::Pod(o)) => n.status = o.status.clone(),
                    (Object::ReplicaSet(n), Object::ReplicaSet(o)) => n.status = o.status.clone(),
                    (Object::Deployment(n), Object::Deployment(o)) => n.status = o.status.clone(),
                    (Object::Namespace(n), Object::Namespace(o)) => n.status = o.status.clone(),
                    // Nodes: the kubelet writes status through the main resource on
                    // registration; upstream ignores it there too, but keeps status
                    // given on create. Keep the old status on update.
                    (Object::Node(n), Object::Node(o)) => n.status = o.status.clone(),
                    _ => {}
                }
            }
            let nm = new.meta_mut();
            nm.uid = om.uid.clone();
            nm.namespace = om.namespace.clone();
            nm.creation_timestamp = om.creation_timestamp;
            nm.deletion_timestamp = om.deletion_timestamp;
            nm.deletion_grace_period_seconds = om.deletion_grace_period_seconds;
            nm.generate_name = if nm.generate_name.is_empty() { om.generate_name.clone() } else { nm.generate_name.clone() };
            if om.deletion_timestamp.is_some() {
                // As upstream: no new finalizers on an object being deleted.
                let added = nm.finalizers.iter().any(|f| !om.finalizers.contains(f));
                if added {
                    return Err(ApiError::invalid(group, kind_name, &om.name, vec![FieldError::forbidden("metadata.finalizers", "no new finalizers can be added if the object is being deleted")]));
                }
            }
        }
    }
    default_object(&mut new);
    // Generation: bumped when the spec changes, as upstream.
    let spec_changed = match (old, &new) {
        (Object::Pod(o), Object::Pod(n)) => o.spec != n.spec,
        (Object::ReplicaSet(o), Object::ReplicaSet(n)) => o.spec != n.spec,
        (Object::Deployment(o), Object::Deployment(n)) => o.spec != n.spec,
        (Object::Node(o), Object::Node(n)) => o.spec != n.spec,
        _ => false,
    };
    new.meta_mut().generation = om.generation + i64::from(spec_changed && kind.has_generation());
    new.meta_mut().resource_version = om.resource_version.clone();
    let errs = validate_update(old, &new);
    if !errs.is_empty() {
        return Err(ApiError::invalid(group, kind_name, &om.name, errs));
    }
    Ok(new)
}

/// After an update: an object being deleted whose last finalizer went, and
/// whose grace period has ended, is removed from the store.
pub fn should_remove_after_update(obj: &Object) -> bool {
    let m = obj.meta();
    m.deletion_timestamp.is_some() && m.finalizers.is_empty() && m.deletion_grace_period_seconds.unwrap_or(0) == 0
}

/// `POST pods/NAME/binding`.
pub fn bind(pod: &Pod, binding: &Binding, now: Time) -> Result<Pod, ApiError> {
    let name = &pod.metadata.name;
    if binding.target.name.is_empty() {
        return Err(ApiError::invalid("", "Binding", name, vec![FieldError::required("target.name", "")]));
    }
    if let Some(uid) = binding.metadata.uid.as_str().strip_prefix("").filter(|u| !u.is_empty()) {
        if uid != pod.metadata.uid {
            return Err(ApiError::conflict("", "pods", name, &format!("Precondition failed: UID in precondition: {uid}, UID in object meta: {}", pod.metadata.uid)));
        }
    }
    if pod.metadata.deletion_timestamp.is_some() {
        return Err(ApiError::conflict("", "pods/binding", name, "pod is being deleted, cannot be assigned to a host"));
    }
    if !pod.spec.node_name.is_empty() {
        return Err(ApiError::conflict("", "pods/binding", name, &format!("pod {name} is already assigned to node {:?}", pod.spec.node_name)));
    }
    let mut out = pod.clone();
    out.spec.node_name = binding.target.name.clone();
    set_pod_condition(&mut out.status, "PodScheduled", "True", "", now);
    Ok(out)
}

/// Sets a pod condition, keeping lastTransitionTime when the status holds.
pub fn set_pod_condition(status: &mut PodStatus, type_: &str, value: &str, reason: &str, now: Time) {
    let now = now.truncate_to_secs();
    if let Some(c) = status.conditions.iter_mut().find(|c| c.type_ == type_) {
        if c.status != value {
            c.status = value.into();
            c.last_transition_time = Some(now);
        }
        c.reason = reason.into();
    } else {
        status.conditions.push(PodCondition {
            type_: type_.into(),
            status: value.into(),
            last_transition_time: Some(now),
            reason: reason.into(),
            ..Default::default()
        });
    }
}

/// What a DELETE does to an object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DeleteOutcome {
    /// Remove it from the store now.
    Remove,
    /// Keep it, marked for deletion (finalizers pending or grace running).
    Mark(Object),
    /// Already marked; nothing changes.
    Unchanged,
}

pub fn prepare_delete(obj: &Object, opts: &DeleteOptions, now: Time) -> Result<DeleteOutcome, ApiError> {
    let kind = obj.kind();
    let (group, _) = info(kind);
    let m = obj.meta();
    if let Some(pre) = &opts.preconditions {
        if let Some(uid) = &pre.uid {
            if *uid != m.uid {
                return Err(ApiError::conflict(group, kind.info().plural, &m.name, &format!("Precondition failed: UID in precondition: {uid}, UID in object meta: {}", m.uid)));
            }
        }
        if let Some(rv) = &pre.resource_version {
            if *rv != m.resource_version {
                return Err(ApiError::conflict(group, kind.info().plural, &m.name, &format!("Precondition failed: ResourceVersion in precondition: {rv}, ResourceVersion in object meta: {}", m.resource_version)));
            }
        }
    }
    if let Some(g) = opts.grace_period_seconds {
        if g < 0 {
            return Err(ApiError::invalid(group, "DeleteOptions", &m.name, vec![FieldError::invalid("gracePeriodSeconds", g.to_string(), "must be greater than or equal to 0")]));
        }
    }
    let propagation = match (&opts.propagation_policy, opts.orphan_dependents) {
        (Some(p), None) => Some(Propagation::parse(p).ok_or_else(|| {
            ApiError::invalid(group, "DeleteOptions", &m.name, vec![FieldError::unsupported("propagationPolicy", p, &["Background", "Foreground", "Orphan"])])
        })?),
        (None, Some(true)) => Some(Propagation::Orphan),
        (None, Some(false)) => Some(Propagation::Background),
        (None, None) => None,
        (Some(_), Some(_)) => {
            return Err(ApiError::invalid(group, "DeleteOptions", &m.name, vec![FieldError::invalid("propagationPolicy", "", "orphanDependents and deletionPropagation cannot be both set")]))
        }
    };
    let mut marked = obj.clone();
    let mm = marked.meta_mut();
    let mut changed = false;
    match propagation {
        Some(Propagation::Foreground) if !mm.finalizers.iter().any(|f| f == FINALIZER_FOREGROUND) => {
            mm.finalizers.retain(|f| f != FINALIZER_ORPHAN);
            mm.finalizers.push(FINALIZER_FOREGROUND.into());
            changed = true;
        }
        Some(Propagation::Orphan) if !mm.finalizers.iter().any(|f| f == FINALIZER_ORPHAN) => {
            mm.finalizers.retain(|f| f != FINALIZER_FOREGROUND);
            mm.finalizers.push(FINALIZER_ORPHAN.into());
            changed = true;
        }
        _ => {}
    }
    // Graceful deletion applies to pods that a kubelet may be running.
    let grace = match obj {
        Object::Pod(p) => {
            let terminal = p.status.phase == "Succeeded" || p.status.phase == "Failed";
            if p.spec.node_name.is_empty() || terminal {
                0
            } else {
                opts.grace_period_seconds.or(p.spec.termination_grace_period_seconds).unwrap_or(crate::defaults::DEFAULT_TERMINATION_GRACE_PERIOD_SECONDS)
            }
        }
        _ => 0,
    };
    let now_s = now.truncate_to_secs();
    if let Some(existing) = mm.deletion_timestamp {
        // Already being deleted: a shorter grace period may shorten it.
        let remaining = mm.deletion_grace_period_seconds.unwrap_or(0);
        if grace < remaining {
            mm.deletion_grace_period_seconds = Some(grace);
            mm.deletion_timestamp = Some(Time(existing.0.min(now_s.plus_ms(grace * 1000).0)));
            changed = true;
        }
        if mm.finalizers.is_empty() && mm.deletion_grace_period_seconds.unwrap_or(0) == 0 {
            return Ok(DeleteOutcome::Remove);
        }
        return Ok(if changed { DeleteOutcome::Mark(marked) } else { DeleteOutcome::Unchanged });
    }
    if mm.finalizers.is_empty() && grace == 0 {
        return Ok(DeleteOutcome::Remove);
    }
    mm.deletion_timestamp = Some(now_s.plus_ms(grace * 1000));
    mm.deletion_grace_period_seconds = Some(grace);
    if mm.generation > 0 {
        mm.generation += 1;
    }
    Ok(DeleteOutcome::Mark(marked))
}

/// `GET .../scale` of a Deployment or ReplicaSet.
pub fn scale_of(obj: &Object) -> Option<Scale> {
    let (meta, spec_replicas, status_replicas, selector) = match obj {
        Object::Deployment(d) => (&d.metadata, d.spec.replicas.unwrap_or(1), d.status.replicas, &d.spec.selector),
        Object::ReplicaSet(r) => (&r.metadata, r.spec.replicas.unwrap_or(1), r.status.replicas, &r.spec.selector),
        _ => return None,
    };
    Some(Scale {
        metadata: crate::meta::ObjectMeta {
            name: meta.name.clone(),
            namespace: meta.namespace.clone(),
            uid: meta.uid.clone(),
            resource_version: meta.resource_version.clone(),
            creation_timestamp: meta.creation_timestamp,
            ..Default::default()
        },
        spec: ScaleSpec { replicas: spec_replicas },
        status: ScaleStatus { replicas: status_replicas, selector: selector.to_query_string() },
    })
}

/// `PUT .../scale`: the new spec.replicas, carried into the parent object.
pub fn apply_scale(obj: &Object, scale: &Scale) -> Result<Object, ApiError> {
    let (group, kind_name) = info(obj.kind());
    if scale.spec.replicas < 0 {
        return Err(ApiError::invalid("autoscaling", "Scale", &obj.meta().name, vec![FieldError::invalid("spec.replicas", scale.spec.replicas.to_string(), "must be greater than or equal to 0")]));
    }
    let _ = (group, kind_name);
    let mut out = obj.clone();
    match &mut out {
        Object::Deployment(d) => d.spec.replicas = Some(scale.spec.replicas),
        Object::ReplicaSet(r) => r.spec.replicas = Some(scale.spec.replicas),
        _ => return Err(ApiError::not_found(group, "scale", &obj.meta().name)),
    }
    out.meta_mut().resource_version = if scale.metadata.resource_version.is_empty() { String::new() } else { scale.metadata.resource_version.clone() };
    Ok(out)
}

// ------------------------------------------------------------ a write, whole

/// A write as the apiserver receives it, reduced to what decides it.
#[derive(Clone, Debug, PartialEq)]
pub enum Request {
    Create(Object),
    /// PUT (or a patch, once applied) of the object at `namespace/name`
    /// (the URL's; the body's name must match it).
    Update { namespace: String, name: String, obj: Object, target: UpdateTarget },
    Delete { kind: Kind, namespace: String, name: String, opts: DeleteOptions },
    Bind { namespace: String, name: String, binding: Binding },
    Scale { kind: Kind, namespace: String, name: String, scale: Scale },
}

/// What the store must do for one write, compare-and-swap on the revision
/// of the current object the decision read (a create: on its absence).
#[derive(Clone, Debug, PartialEq)]
pub enum Write {
    Create(Object),
    Update(Object),
    /// Remove the current object; the response shows this, its last state.
    Remove(Object),
    /// Nothing to store; answer with this object (the current one).
    Nothing(Object),
}

/// What decided a write: where, and what the store does.
#[derive(Clone, Debug, PartialEq)]
pub struct Decided {
    pub kind: Kind,
    pub key: String,
    pub write: Write,
    /// A terminating namespace's objects must now be deleted (`drain_namespace`).
    pub drain_namespace: Option<String>,
}

/// Whether a store conflict (the object changed between the decision's read
/// and its write) is retried by reading again and deciding again, as
/// upstream's GuaranteedUpdate retries: not when the client pinned a
/// resourceVersion (the conflict is its answer), and not for a create with
/// a name it chose.
pub fn retry_on_conflict(req: &Request) -> bool {
    match req {
        Request::Create(o) => o.meta().name.is_empty(),
        Request::Update { obj, .. } => obj.meta().resource_version.is_empty(),
        Request::Delete { opts, .. } => opts.preconditions.as_ref().and_then(|p| p.resource_version.as_ref()).is_none(),
        Request::Bind { .. } => true,
        Request::Scale { scale, .. } => scale.metadata.resource_version.is_empty(),
    }
}

/// Decides one write against the store as `read` shows it (`read(key)`:
/// the object stored at `key`, with its resourceVersion). `ctx` brings what
/// the apiserver supplies: time, a fresh uid and name suffix, the URL's
/// namespace. The registry CAS-writes the result; the model's store
/// inserts it. Namespace lifecycle is decided here too: nothing is created
/// in a namespace that is missing or terminating, and a namespace's
/// deletion says it must be drained.
pub fn decide(req: &Request, ctx: &CreateContext, read: &mut dyn FnMut(&str) -> Option<Object>) -> Result<Decided, ApiError> {
    let not_found = |kind: Kind, name: &str| ApiError::not_found(kind.info().group, kind.info().plural, name);
    let current = |read: &mut dyn FnMut(&str) -> Option<Object>, kind: Kind, ns: &str, name: &str| -> Result<(String, Object), ApiError> {
        let key = kind.key(ns, name);
        let cur = read(&key).ok_or_else(|| not_found(kind, name))?;
        Ok((key, cur))
    };
    match req {
        Request::Create(obj) => {
            let prepared = prepare_create(obj.clone(), ctx)?;
            let kind = prepared.kind();
            let key = prepared.key();
            if kind.info().namespaced {
                let ns = prepared.meta().namespace.clone();
                match read(&Kind::Namespace.key("", &ns)) {
                    None => return Err(not_found(Kind::Namespace, &ns)),
                    Some(n) if n.meta().deletion_timestamp.is_some() => {
                        return Err(ApiError::new(403, "Forbidden", format!("unable to create new content in namespace {ns} because it is being terminated")))
                    }
                    Some(_) => {}
                }
            }
            if read(&key).is_some() {
                let i = kind.info();
                return Err(ApiError::already_exists(i.group, i.plural, &prepared.meta().name));
            }
            Ok(Decided { kind, key, write: Write::Create(prepared), drain_namespace: None })
        }
        Request::Update { namespace, name, obj, target } => {
            let kind = obj.kind();
            let (key, cur) = current(read, kind, namespace, name)?;
            let prepared = prepare_update(&cur, obj.clone(), *target)?;
            Ok(Decided { kind, key, write: after_update(cur, prepared), drain_namespace: None })
        }
        Request::Scale { kind, namespace, name, scale } => {
            let (key, cur) = current(read, *kind, namespace, name)?;
            let prepared = prepare_update(&cur, apply_scale(&cur, scale)?, UpdateTarget::Main)?;
            Ok(Decided { kind: *kind, key, write: after_update(cur, prepared), drain_namespace: None })
        }
        Request::Bind { namespace, name, binding } => {
            let (key, cur) = current(read, Kind::Pod, namespace, name)?;
            let pod = cur.as_pod().ok_or_else(|| not_found(Kind::Pod, name))?;
            Ok(Decided { kind: Kind::Pod, key, write: Write::Update(Object::Pod(bind(pod, binding, ctx.now)?)), drain_namespace: None })
        }
        Request::Delete { kind, namespace, name, opts } => {
            let (key, cur) = current(read, *kind, namespace, name)?;
            let (write, drain) = match prepare_delete(&cur, opts, ctx.now)? {
                DeleteOutcome::Remove => (Write::Remove(cur), None),
                DeleteOutcome::Mark(marked) => {
                    let drain = (*kind == Kind::Namespace).then(|| name.clone());
                    (Write::Update(marked), drain)
                }
                DeleteOutcome::Unchanged => (Write::Nothing(cur), None),
            };
            Ok(Decided { kind: *kind, key, write, drain_namespace: drain })
        }
    }
}

/// An update's write: nothing when nothing changed (no new revision, as
/// upstream), removal when it took the last finalizer of an object being
/// deleted, else the update.
fn after_update(cur: Object, prepared: Object) -> Write {
    if prepared == cur {
        Write::Nothing(cur)
    } else if should_remove_after_update(&prepared) {
        Write::Remove(prepared)
    } else {
        Write::Update(prepared)
    }
}

/// The request a component's effect makes of the apiserver (what the
/// client sends, and what the model's store applies).
pub fn request_of(e: &crate::effect::Effect) -> Request {
    use crate::effect::Effect;
    match e {
        Effect::Create(o) => Request::Create(o.clone()),
        Effect::Update(o) => Request::Update { namespace: o.meta().namespace.clone(), name: o.meta().name.clone(), obj: o.clone(), target: UpdateTarget::Main },
        Effect::UpdateStatus(o) => Request::Update { namespace: o.meta().namespace.clone(), name: o.meta().name.clone(), obj: o.clone(), target: UpdateTarget::Status },
        Effect::Delete(d) => Request::Delete { kind: d.kind, namespace: d.namespace.clone(), name: d.name.clone(), opts: d.options() },
        Effect::Bind { namespace, name, uid, node } => Request::Bind { namespace: namespace.clone(), name: name.clone(), binding: crate::effect::binding(namespace, name, uid, node) },
    }
}

/// The deletions that drain a terminating namespace: every object in it
/// not already being deleted (pods gracefully).
pub fn drain_namespace<'a>(objects: impl IntoIterator<Item = &'a Object>) -> Vec<Request> {
    objects
        .into_iter()
        .filter(|o| o.meta().deletion_timestamp.is_none())
        .map(|o| Request::Delete { kind: o.kind(), namespace: o.meta().namespace.clone(), name: o.meta().name.clone(), opts: DeleteOptions::default() })
        .collect()
}

/// Whether a terminating namespace with `remaining` objects left in it is
/// removed now (upstream's namespace controller finishes it once empty).
pub fn namespace_finished(ns: &Object, remaining: usize) -> bool {
    ns.meta().deletion_timestamp.is_some() && remaining == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx() -> CreateContext<'static> {
        CreateContext { now: Time::from_secs(1000), uid: "u1", name_suffix: "abcde", namespace: "default", default_toleration_seconds: 300 }
    }

    fn pod() -> Pod {
        let mut p = Pod::default();
        p.metadata.generate_name = "web-".into();
        p.spec.containers.push(Container { name: "c".into(), image: "busybox:1".into(), ..Default::default() });
        p
    }

    #[test]
    fn create_assigns_identity_and_defaults() {
        let o = prepare_create(Object::Pod(pod()), &ctx()).unwrap();
        let p = o.as_pod().unwrap();
        assert_eq!(p.metadata.name, "web-abcde");
        assert_eq!(p.metadata.namespace, "default");
        assert_eq!(p.metadata.uid, "u1");
        assert_eq!(p.metadata.generation, 1);
        assert_eq!(p.status.phase, "Pending");
        assert_eq!(p.spec.restart_policy, "Always");
        assert_eq!(p.spec.termination_grace_period_seconds, Some(30));
        assert_eq!(p.spec.containers[0].image_pull_policy, "IfNotPresent");
        assert_eq!(p.spec.tolerations.len(), 2);
    }

    #[test]
    fn binding_happens_once() {
        let o = prepare_create(Object::Pod(pod()), &ctx()).unwrap();
        let p = o.as_pod().unwrap();
        let b = Binding { target: ObjectReference { name: "n1".into(), ..Default::default() }, ..Default::default() };
        let bound = bind(p, &b, Time::from_secs(1001)).unwrap();
        assert_eq!(bound.spec.node_name, "n1");
        let again = bind(&bound, &b, Time::from_secs(1002)).unwrap_err();
        assert_eq!(again.code, 409);
    }

    #[test]
    fn graceful_pod_deletion_then_confirmation() {
        let o = prepare_create(Object::Pod(pod()), &ctx()).unwrap();
        let mut p = o.as_pod().unwrap().clone();
        p.spec.node_name = "n1".into();
        let o = Object::Pod(p);
        let DeleteOutcome::Mark(marked) = prepare_delete(&o, &DeleteOptions::default(), Time::from_secs(2000)).unwrap() else { panic!() };
        assert_eq!(marked.meta().deletion_grace_period_seconds, Some(30));
        assert_eq!(marked.meta().deletion_timestamp, Some(Time::from_secs(2030)));
        // The kubelet confirms with grace 0.
        let zero = DeleteOptions { grace_period_seconds: Some(0), ..Default::default() };
        assert_eq!(prepare_delete(&marked, &zero, Time::from_secs(2005)).unwrap(), DeleteOutcome::Remove);
        // An unbound pod goes at once.
        let unbound = prepare_create(Object::Pod(pod()), &ctx()).unwrap();
        assert_eq!(prepare_delete(&unbound, &DeleteOptions::default(), Time::from_secs(2000)).unwrap(), DeleteOutcome::Remove);
    }

    #[test]
    fn stale_update_is_a_conflict() {
        let mut o = prepare_create(Object::Pod(pod()), &ctx()).unwrap();
        o.meta_mut().resource_version = "5".into();
        let mut n = o.clone();
        n.meta_mut().resource_version = "4".into();
        assert_eq!(prepare_update(&o, n, UpdateTarget::Main).unwrap_err().code, 409);
    }

    #[test]
    fn spec_change_bumps_generation_status_change_does_not() {
        let mut d = Deployment::default();
        d.metadata.name = "d".into();
        d.spec.selector.match_labels.insert("app".into(), "x".into());
        d.spec.template.metadata.labels.insert("app".into(), "x".into());
        d.spec.template.spec.containers.push(Container { name: "c".into(), image: "i:1".into(), ..Default::default() });
        let o = prepare_create(Object::Deployment(d), &ctx()).unwrap();
        let mut n = o.clone();
        if let Object::Deployment(d) = &mut n {
            d.spec.replicas = Some(3);
            d.status.replicas = 99;
        }
        let u = prepare_update(&o, n, UpdateTarget::Main).unwrap();
        assert_eq!(u.meta().generation, 2);
        assert_eq!(u.as_deployment().unwrap().status.replicas, 0, "main resource ignores status");
        let mut s = u.clone();
        if let Object::Deployment(d) = &mut s {
            d.status.replicas = 3;
            d.spec.replicas = Some(7);
        }
        let us = prepare_update(&u, s, UpdateTarget::Status).unwrap();
        assert_eq!(us.meta().generation, 2);
        assert_eq!(us.as_deployment().unwrap().spec.replicas, Some(3), "status ignores spec");
        assert_eq!(us.as_deployment().unwrap().status.replicas, 3);
    }

    /// A store of a few objects for `decide`'s reads.
    fn store(objs: &[Object]) -> std::collections::BTreeMap<String, Object> {
        objs.iter().map(|o| (o.key(), o.clone())).collect()
    }

    fn namespace(name: &str, terminating: bool) -> Object {
        let mut n = Namespace::default();
        n.metadata.name = name.into();
        if terminating {
            n.metadata.deletion_timestamp = Some(Time::from_secs(999));
        }
        Object::Namespace(n)
    }

    fn decide_in(st: &std::collections::BTreeMap<String, Object>, req: &Request) -> Result<Decided, ApiError> {
        decide(req, &ctx(), &mut |k| st.get(k).cloned())
    }

    #[test]
    fn a_create_is_decided_against_its_namespace_and_its_key() {
        let req = Request::Create(Object::Pod(pod()));
        assert_eq!(decide_in(&store(&[]), &req).unwrap_err().code, 404, "no namespace");
        let e = decide_in(&store(&[namespace("default", true)]), &req).unwrap_err();
        assert_eq!((e.code, e.reason), (403, "Forbidden"), "a terminating namespace takes nothing new");
        let d = decide_in(&store(&[namespace("default", false)]), &req).unwrap();
        let Write::Create(created) = &d.write else { panic!("{d:?}") };
        assert_eq!((d.key.as_str(), created.meta().uid.as_str()), ("/registry/pods/default/web-abcde", "u1"));
        let taken = decide_in(&store(&[namespace("default", false), created.clone()]), &req).unwrap_err();
        assert_eq!((taken.code, taken.reason), (409, "AlreadyExists"));
        assert!(retry_on_conflict(&req), "a generated name is retried with another suffix");
        let mut named = pod();
        named.metadata.name = "fixed".into();
        assert!(!retry_on_conflict(&Request::Create(Object::Pod(named))));
    }

    #[test]
    fn an_update_that_changes_nothing_writes_nothing_and_one_that_ends_a_deletion_removes() {
        let mut cur = prepare_create(Object::Pod(pod()), &ctx()).unwrap();
        cur.meta_mut().resource_version = "7".into();
        let st = store(&[namespace("default", false), cur.clone()]);
        let same = Request::Update { namespace: "default".into(), name: "web-abcde".into(), obj: cur.clone(), target: UpdateTarget::Main };
        assert!(matches!(decide_in(&st, &same).unwrap().write, Write::Nothing(_)));
        // Being deleted, held by a finalizer: the update that takes it away removes the object.
        let mut held = cur.clone();
        held.meta_mut().deletion_timestamp = Some(Time::from_secs(1000));
        held.meta_mut().deletion_grace_period_seconds = Some(0);
        held.meta_mut().finalizers = vec!["example.com/hold".into()];
        let st = store(&[namespace("default", false), held.clone()]);
        let mut released = held.clone();
        released.meta_mut().finalizers.clear();
        let req = Request::Update { namespace: "default".into(), name: "web-abcde".into(), obj: released, target: UpdateTarget::Main };
        assert!(matches!(decide_in(&st, &req).unwrap().write, Write::Remove(_)));
        assert!(!retry_on_conflict(&req), "a pinned resourceVersion is the client's to retry");
    }

    #[test]
    fn deleting_a_namespace_marks_it_and_asks_for_its_drain() {
        let mut ns = namespace("team", false);
        ns.meta_mut().finalizers = vec!["kubernetes".into()];
        let req = Request::Delete { kind: Kind::Namespace, namespace: String::new(), name: "team".into(), opts: DeleteOptions::default() };
        let d = decide_in(&store(&[ns]), &req).unwrap();
        assert!(matches!(d.write, Write::Update(_)));
        assert_eq!(d.drain_namespace.as_deref(), Some("team"));
        let p = prepare_create(Object::Pod(pod()), &ctx()).unwrap();
        let mut going = p.clone();
        going.meta_mut().deletion_timestamp = Some(Time::from_secs(5));
        assert_eq!(drain_namespace([&p, &going]).len(), 1, "what is already going is left to go");
    }

    #[test]
    fn an_effect_asks_the_apiserver_for_what_the_client_sends() {
        let p = prepare_create(Object::Pod(pod()), &ctx()).unwrap();
        let Request::Delete { opts, .. } = request_of(&crate::effect::Effect::delete(&p, Some(crate::effect::Propagation::Foreground), Some(0))) else { panic!() };
        assert_eq!(opts.preconditions.and_then(|p| p.uid).as_deref(), Some("u1"));
        assert_eq!((opts.propagation_policy.as_deref(), opts.grace_period_seconds), (Some("Foreground"), Some(0)));
        let Request::Bind { binding, .. } = request_of(&crate::effect::Effect::bind(p.as_pod().unwrap(), "n1")) else { panic!() };
        assert_eq!((binding.metadata.uid.as_str(), binding.target.name.as_str(), binding.target.kind.as_str()), ("u1", "n1", "Node"));
    }
}
