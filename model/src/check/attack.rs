//! The compromised kubelet: node-1's credential in an attacker's hands. In
//! each state it may try any write that credential could name against what
//! is not its own, and the model's apiserver decides each as the real one
//! does (`podcore::authz::check_write`: the Node authoriser and RBAC, then
//! the node restriction). What the model then shows is that whatever it
//! tries, whenever, every property about other nodes' pods and Nodes holds:
//! a compromised node can disrupt only its own pods.

use crate::cluster::{list, pods, Cluster};
use podcore::effect::{DeleteRequest, Effect};
use podcore::object::{Kind, Object};
use podcore::types::NodeCondition;

/// The node whose kubelet is compromised when `ModelConfig::attacks` > 0.
pub const COMPROMISED_NODE: u8 = 1;

/// Every hostile write `node`'s credential could name, in a fixed order:
/// for each pod not bound to it, its status marked Failed and its deletion;
/// for every pod, its spec rebound to `node` (a spec write); for each
/// unbound pod, a binding to `node`; for each other Node, its spec made
/// unschedulable and its status NotReady; for each other node's Lease, its
/// renewal (which would keep a dead node looking alive).
pub fn hostile_writes(c: &Cluster, node: &str) -> Vec<Effect> {
    let mut out = Vec::new();
    for p in pods(&c.objects) {
        if p.spec.node_name != node {
            let mut failed = p.clone();
            failed.status.phase = "Failed".into();
            out.push(Effect::update_status(Object::Pod(failed)));
            out.push(Effect::Delete(DeleteRequest { kind: Kind::Pod, namespace: p.metadata.namespace.clone(), name: p.metadata.name.clone(), uid: p.metadata.uid.clone(), propagation: None, grace_period_seconds: Some(0) }));
        }
        let mut moved = p.clone();
        moved.spec.node_name = node.into();
        if moved != *p {
            out.push(Effect::update(Object::Pod(moved)));
        }
        if p.spec.node_name.is_empty() {
            out.push(Effect::Bind { namespace: p.metadata.namespace.clone(), name: p.metadata.name.clone(), uid: p.metadata.uid.clone(), node: node.into() });
        }
    }
    for o in list(&c.objects, Kind::Node) {
        let Some(n) = o.as_node() else { continue };
        if n.metadata.name == node {
            continue;
        }
        let mut cordoned = n.clone();
        cordoned.spec.unschedulable = true;
        out.push(Effect::update(Object::Node(cordoned)));
        let mut not_ready = n.clone();
        not_ready.status.conditions.retain(|c| c.type_ != "Ready");
        not_ready.status.conditions.push(NodeCondition { type_: "Ready".into(), status: "False".into(), reason: "KubeletNotReady".into(), ..Default::default() });
        out.push(Effect::update_status(Object::Node(not_ready)));
    }
    for o in list(&c.objects, Kind::Lease) {
        let Some(l) = o.as_lease() else { continue };
        if l.metadata.namespace != podcore::controller::nodelifecycle::NODE_LEASE_NAMESPACE || l.metadata.name == node {
            continue;
        }
        let mut renewed = l.clone();
        renewed.spec.renew_time = Some(podcore::time::MicroTime::from(c.now));
        if renewed != *l {
            out.push(Effect::update(Object::Lease(renewed)));
        }
    }
    out
}
