//! Node symmetry: states that differ only in which node is called what are
//! one state.
//!
//! Why renaming nodes is a symmetry of the model. Every node starts alike
//! (same capacity, a kubelet registered at start-up, its own subnet), the
//! faults are offered for every node, and no decision depends on a node's
//! name: the scheduler, the one place that used to prefer a name, now gives
//! ties to the first node in the order it is handed, and with symmetry on
//! the model hands it every order (`Action::Schedule`). So renaming the
//! nodes of a state, and the actions with them, maps steps to steps, and
//! every property and the goal read the same on both.
//! `model/tests/symmetry.rs` checks exactly that on whole reachable graphs:
//! the successors of a renamed state are the renamed successors.
//!
//! What a renaming touches. Node `i` carries an identity beyond its name:
//! the uids of its Node and Lease (fixed at start-up, since nothing ever
//! deletes a Node in the model), their resourceVersions (the model numbers
//! each object's versions from its uid, see `Cluster::commit`), its pods'
//! addresses (the node's subnet), its kubelet's agent and cache, and the
//! bookkeeping that names it (first bindings, the scheduler's assumed
//! bindings). A renaming moves all of node `i`'s state to slot `p(i)` and
//! gives it that slot's identity.
//!
//! The representative. Each node gets a signature that renaming carries
//! along (a hash of its runtime, its objects' write counts, its pods'
//! versions, its kubelet's cache revision). The representative renames the
//! nodes into signature order; nodes with equal signatures are tried in
//! every order, and the renaming whose state hashes least wins. Every state
//! of an orbit so yields the same representative, and in the common case
//! (signatures differ) it costs one renaming or none.

use crate::check::{node_name, Component, State};
use crate::cluster::{Agent, VERSIONS_PER_OBJECT};
use podcore::controller::nodelifecycle::NODE_LEASE_NAMESPACE;
use podcore::meta::ObjectMeta;
use podcore::object::{Kind, Object};
use crate::store::{Shared, Store};
use std::cell::RefCell;
use std::collections::hash_map::DefaultHasher;
use std::collections::{BTreeMap, HashMap};
use std::hash::{Hash, Hasher};

/// Most nodes the model reduces by symmetry. With symmetry on, the
/// scheduler's pass is explored in every order of nodes (n! of them), and
/// a representative may try as many renamings: 24 at this bound.
pub const MAX_SYMMETRIC_NODES: u8 = 4;

/// Renamed stores and objects a thread remembers (see `Renaming::store`,
/// `Renaming::shared`), each. At the bound the memory is dropped and
/// starts again.
pub const MAX_REMEMBERED: usize = 1 << 15;

thread_local! {
    /// (map address, renaming) → (the store, renamed). Holding the store
    /// keeps its map alive, so its address cannot be reused for another.
    static RENAMED_STORES: RefCell<HashMap<(usize, u64), (Store, Store)>> = RefCell::new(HashMap::new());
    /// (object address, renaming) → (the object, renamed; None: unchanged).
    #[allow(clippy::type_complexity)]
    static RENAMED_OBJECTS: RefCell<HashMap<(usize, u64), (Shared<Object>, Option<Shared<Object>>)>> = RefCell::new(HashMap::new());
}

/// Looks `key` up in `memo`, or computes, remembers and returns it.
fn remembered<K: Hash + Eq, S: Clone, V: Clone>(memo: &'static std::thread::LocalKey<RefCell<HashMap<K, (S, V)>>>, key: K, source: &S, same: impl Fn(&S) -> bool, compute: impl FnOnce() -> V) -> V {
    if let Some((held, v)) = memo.with(|m| m.borrow().get(&key).map(|(held, v)| (same(held), v.clone()))) {
        assert!(held, "a remembered value is held alive, so its address is its own");
        return v;
    }
    let v = compute();
    memo.with(|m| {
        let mut m = m.borrow_mut();
        if m.len() >= MAX_REMEMBERED {
            m.clear();
        }
        m.insert(key, (source.clone(), v.clone()));
    });
    v
}

/// Every order of the nodes `1..=n`, in lexicographic order (so the
/// identity comes first).
pub fn orders(n: u8) -> Vec<Vec<u8>> {
    fn extend(prefix: &mut Vec<u8>, left: &mut Vec<u8>, out: &mut Vec<Vec<u8>>) {
        if left.is_empty() {
            out.push(prefix.clone());
            return;
        }
        for k in 0..left.len() {
            let x = left.remove(k);
            prefix.push(x);
            extend(prefix, left, out);
            prefix.pop();
            left.insert(k, x);
        }
    }
    let mut out = Vec::new();
    extend(&mut Vec::new(), &mut (1..=n).collect(), &mut out);
    out
}

/// The uid of node `name`'s object of `kind`; every node registers its Node
/// and Lease at start-up and the model never deletes them.
fn slot_uid(s: &State, kind: Kind, namespace: &str, name: &str) -> String {
    let o = s.cluster.get(kind, namespace, name).unwrap_or_else(|| panic!("node symmetry needs {name}'s {kind:?} in the store (registered at start-up, never deleted)"));
    o.meta().uid.clone()
}

/// A renaming of nodes: node `i` becomes node `to[i - 1]`.
struct Renaming {
    names: BTreeMap<String, String>,
    /// Old uid → new uid, for the nodes' Nodes and Leases.
    uids: BTreeMap<String, String>,
    /// Old subnet → new subnet (first three octets, e.g. "10.88.1").
    subnets: BTreeMap<String, String>,
    to: Vec<u8>,
    /// A hash of everything above: two renamings with equal ids rename alike.
    id: u64,
}

impl Renaming {
    fn new(s: &State, to: &[u8]) -> Renaming {
        let mut r = Renaming { names: BTreeMap::new(), uids: BTreeMap::new(), subnets: BTreeMap::new(), to: to.to_vec(), id: 0 };
        for (i, j) in (1..).zip(to.iter().copied()) {
            let (from, dest) = (node_name(i), node_name(j));
            for (kind, ns) in [(Kind::Node, ""), (Kind::Lease, NODE_LEASE_NAMESPACE)] {
                r.uids.insert(slot_uid(s, kind, ns, &from), slot_uid(s, kind, ns, &dest));
            }
            r.subnets.insert(s.cluster.agents[&from].runtime.subnet.clone(), s.cluster.agents[&dest].runtime.subnet.clone());
            r.names.insert(from, dest);
        }
        let mut h = DefaultHasher::new();
        (&r.names, &r.uids, &r.subnets, &r.to).hash(&mut h);
        r.id = h.finish();
        r
    }

    fn name(&self, n: &str) -> String {
        self.names.get(n).cloned().unwrap_or_else(|| n.to_string())
    }

    /// A store key (`Kind::key`) renamed: a node's Node and Lease move
    /// with the node.
    fn object_key(&self, k: &str) -> String {
        for (kind, ns) in [(Kind::Node, ""), (Kind::Lease, NODE_LEASE_NAMESPACE)] {
            let prefix = kind.key(ns, "");
            if let Some(name) = k.strip_prefix(prefix.as_str()) {
                return kind.key(ns, &self.name(name));
            }
        }
        k.to_string()
    }

    fn uid(&self, u: &str) -> String {
        self.uids.get(u).cloned().unwrap_or_else(|| u.to_string())
    }

    fn ip(&self, ip: &str) -> String {
        for (from, to) in &self.subnets {
            if let Some(host) = ip.strip_prefix(from.as_str()).filter(|h| h.starts_with('.')) {
                return format!("{to}{host}");
            }
        }
        ip.to_string()
    }

    fn component(&self, c: Component) -> Component {
        match c {
            Component::Kubelet(i) => Component::Kubelet(self.to[i as usize - 1]),
            other => other,
        }
    }

    /// A Node's or Lease's name and identity: the uid of the slot it moves
    /// to, and its resourceVersion renumbered from that uid (the count of
    /// writes is kept).
    fn identity(&self, m: &mut ObjectMeta) {
        m.name = self.name(&m.name);
        if let Some(new) = self.uids.get(&m.uid) {
            let base: u64 = new.trim_start_matches("uid-").parse().expect("model uids are uid-N");
            m.resource_version = (base * VERSIONS_PER_OBJECT + m.revision() % VERSIONS_PER_OBJECT).to_string();
            m.uid = new.clone();
        }
    }

    /// The object as it is after the renaming, or None if it does not change.
    fn object(&self, o: &Object) -> Option<Object> {
        match o {
            Object::Node(n) if self.name(&n.metadata.name) != n.metadata.name => {
                let mut n = n.clone();
                self.identity(&mut n.metadata);
                if let Some(h) = n.metadata.labels.get_mut("kubernetes.io/hostname") {
                    *h = self.name(h);
                }
                for a in n.status.addresses.iter_mut().filter(|a| a.type_ == "Hostname") {
                    a.address = self.name(&a.address);
                }
                Some(Object::Node(n))
            }
            Object::Lease(l) if self.name(&l.metadata.name) != l.metadata.name => {
                let mut l = l.clone();
                self.identity(&mut l.metadata);
                for r in l.metadata.owner_references.iter_mut().filter(|r| r.kind == "Node") {
                    r.name = self.name(&r.name);
                    r.uid = self.uid(&r.uid);
                }
                if let Some(h) = l.spec.holder_identity.as_mut() {
                    *h = self.name(h);
                }
                Some(Object::Lease(l))
            }
            Object::Pod(p) => {
                let node = self.name(&p.spec.node_name);
                let ip = self.ip(&p.status.pod_ip);
                let ips: Vec<String> = p.status.pod_ips.iter().map(|x| self.ip(&x.ip)).collect();
                if node == p.spec.node_name && ip == p.status.pod_ip && ips.iter().zip(&p.status.pod_ips).all(|(a, b)| *a == b.ip) {
                    return None;
                }
                let mut p = p.clone();
                p.spec.node_name = node;
                p.status.pod_ip = ip;
                for (x, new) in p.status.pod_ips.iter_mut().zip(ips) {
                    x.ip = new;
                }
                Some(Object::Pod(p))
            }
            _ => None,
        }
    }

    fn agent(&self, a: &Agent) -> Agent {
        let mut a = a.clone();
        a.node_uid = self.uid(&a.node_uid);
        a.runtime.subnet = self.subnets.get(&a.runtime.subnet).cloned().unwrap_or(a.runtime.subnet);
        for (_, obs) in a.runtime.pods.values_mut() {
            if let Some(sb) = obs.sandbox.as_mut() {
                sb.ip = self.ip(&sb.ip);
            }
        }
        a
    }

    /// `o` renamed, or None if it does not change. Successive states share
    /// most objects, so a thread remembers the objects it renamed.
    fn shared(&self, o: &Shared<Object>) -> Option<Shared<Object>> {
        remembered(&RENAMED_OBJECTS, (o.addr(), self.id), o, |held| held.addr() == o.addr(), || self.object(o).map(Shared::new))
    }

    /// `st` renamed. A cache that did not change from one state to the next
    /// is the same map in both, so a thread remembers the stores it renamed.
    fn store(&self, st: &Store) -> Store {
        remembered(&RENAMED_STORES, (st.map_addr(), self.id), st, |held| held.same_map(st), || st.rewrite(|o| self.shared(o)))
    }

    fn state(&self, s: &State) -> State {
        let mut n = s.clone();
        n.cluster.objects = self.store(&s.cluster.objects);
        n.caches = s.caches.iter().map(|(c, st)| (self.component(*c), self.store(st))).collect();
        n.cache_revisions = s.cache_revisions.iter().map(|(c, r)| (self.component(*c), *r)).collect();
        n.cluster.agents = s.cluster.agents.iter().map(|(name, a)| (self.name(name), self.agent(a))).collect();
        n.cluster.scheduler.fed = self.store(&s.cluster.scheduler.fed);
        let fed_nodes: Vec<podcore::types::Node> = n.cluster.scheduler.fed.values().filter_map(|o| o.as_node().cloned()).collect();
        n.cluster.scheduler.machine.rename_nodes(&|name| self.name(name), fed_nodes);
        n.cluster.replicasets.fed = self.store(&s.cluster.replicasets.fed);
        n.cluster.deployments.fed = self.store(&s.cluster.deployments.fed);
        n.cluster.node_lifecycle.fed = self.store(&s.cluster.node_lifecycle.fed);
        n.cluster.node_lifecycle.machine.queue.rename(&|k| self.name(k));
        n.cluster.gc.fed = self.store(&s.cluster.gc.fed);
        n.cluster.gc.machine.queue.rename(&|k| self.object_key(k));
        for node in n.bound.values_mut() {
            *node = self.name(node);
        }
        n
    }
}

/// `s` with node `i` renamed to node `to[i - 1]`, for every node.
pub fn permute(s: &State, to: &[u8]) -> State {
    assert_eq!(to.len(), s.cluster.agents.len(), "a renaming names every node");
    if to.iter().copied().eq(1..=to.len() as u8) {
        return s.clone();
    }
    Renaming::new(s, to).state(s)
}

/// What each node looks like (`[i - 1]` for node `i`), in terms a renaming
/// carries along unchanged: a renamed state gives node `to[i - 1]` the
/// signature node `i` had.
pub fn signatures(s: &State) -> Vec<u64> {
    let n = s.cluster.agents.len();
    let mut hs: Vec<DefaultHasher> = vec![DefaultHasher::new(); n];
    let mut slot: BTreeMap<&str, usize> = BTreeMap::new();
    for (i, h) in (1..).zip(hs.iter_mut()) {
        let name = node_name(i);
        let a = &s.cluster.agents[&name];
        (a.alive, a.next_lease_at, a.runtime.next_id).hash(h);
        for (uid, (r, obs)) in &a.runtime.pods {
            (uid, r, &obs.containers, &obs.start_failures).hash(h);
            if let Some(sb) = &obs.sandbox {
                (&sb.id, sb.ready, sb.ip.strip_prefix(a.runtime.subnet.as_str())).hash(h);
            }
        }
        s.cache_revisions.get(&Component::Kubelet(i)).hash(h);
        let (key, _) = s.cluster.agents.get_key_value(&name).expect("agent exists");
        slot.insert(key.as_str(), i as usize - 1);
    }
    // The store: each node's Node and Lease write counts, its pods' versions.
    for o in s.cluster.objects.values() {
        let (name, what): (&str, u8) = match &**o {
            Object::Node(x) => (&x.metadata.name, 0),
            Object::Lease(x) if x.metadata.namespace == NODE_LEASE_NAMESPACE => (&x.metadata.name, 1),
            Object::Pod(p) => (&p.spec.node_name, 2),
            _ => continue,
        };
        if let Some(i) = slot.get(name) {
            let m = o.meta();
            match what {
                2 => (what, &m.uid, &m.resource_version).hash(&mut hs[*i]),
                _ => (what, m.revision() % VERSIONS_PER_OBJECT).hash(&mut hs[*i]),
            }
        }
    }
    let mut counts = vec![(0usize, 0usize); n];
    for node in s.bound.values() {
        if let Some(i) = slot.get(node.as_str()) {
            counts[*i].0 += 1;
        }
    }
    for a in s.cluster.scheduler.machine.assumed().values() {
        if let Some(i) = slot.get(a.node.as_str()) {
            counts[*i].1 += 1;
        }
    }
    hs.into_iter().zip(counts).map(|(mut h, c)| {
        c.hash(&mut h);
        h.finish()
    }).collect()
}

fn hash_of(s: &State) -> u64 {
    let mut h = DefaultHasher::new();
    s.hash(&mut h);
    h.finish()
}

/// The one state of `s`'s orbit (all its renamings) that stands for all of
/// them. A plain function, as stateright's `symmetry_fn` takes.
pub fn representative(s: &State) -> State {
    let n = s.cluster.agents.len() as u8;
    if n < 2 {
        return s.clone();
    }
    assert!(n <= MAX_SYMMETRIC_NODES, "node symmetry handles at most {MAX_SYMMETRIC_NODES} nodes, not {n}");
    // 1. Sort the nodes by signature: sorted[k] goes to slot k + 1.
    let sigs = signatures(s);
    let mut sorted: Vec<u8> = (1..=n).collect();
    sorted.sort_by_key(|i| sigs[*i as usize - 1]);
    // 2. Runs of equal signatures may go in any order: every slot
    //    assignment that keeps the signatures sorted is a candidate.
    let mut candidates: Vec<Vec<u8>> = vec![Vec::new()];
    let mut k = 0;
    while k < sorted.len() {
        let run_end = (k..sorted.len()).find(|j| sigs[sorted[*j] as usize - 1] != sigs[sorted[k] as usize - 1]).unwrap_or(sorted.len());
        let run = &sorted[k..run_end];
        let mut next = Vec::new();
        for c in &candidates {
            for order in orders(run.len() as u8) {
                let mut c = c.clone();
                c.extend(order.iter().map(|x| run[*x as usize - 1]));
                next.push(c);
            }
        }
        candidates = next;
        k = run_end;
    }
    // 3. A candidate lists nodes by slot; the renaming sends each to its slot.
    let renaming = |slots: &[u8]| -> Vec<u8> {
        let mut to = vec![0u8; n as usize];
        for (slot, node) in (1..).zip(slots) {
            to[*node as usize - 1] = slot;
        }
        to
    };
    if candidates.len() == 1 {
        return permute(s, &renaming(&candidates[0]));
    }
    // 4. Ties: the candidate whose state hashes least.
    candidates.iter().map(|c| permute(s, &renaming(c))).min_by_key(hash_of).expect("at least one candidate")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn orders_are_every_permutation_identity_first() {
        assert_eq!(orders(1), vec![vec![1]]);
        assert_eq!(orders(3), vec![vec![1, 2, 3], vec![1, 3, 2], vec![2, 1, 3], vec![2, 3, 1], vec![3, 1, 2], vec![3, 2, 1]]);
        assert_eq!(orders(MAX_SYMMETRIC_NODES).len(), 24);
    }

    thread_local! {
        static MEMO: RefCell<HashMap<u64, (u64, u64)>> = RefCell::new(HashMap::new());
    }

    #[test]
    fn a_memo_holds_max_remembered_entries_then_starts_again() {
        for k in 0..MAX_REMEMBERED as u64 {
            assert_eq!(remembered(&MEMO, k, &k, |h| *h == k, || k * 2), k * 2);
        }
        assert_eq!(MEMO.with(|m| m.borrow().len()), MAX_REMEMBERED, "full at the bound");
        assert_eq!(remembered(&MEMO, 0, &0, |h| *h == 0, || unreachable!("remembered")), 0);
        let one_more = MAX_REMEMBERED as u64;
        assert_eq!(remembered(&MEMO, one_more, &one_more, |_| true, || 7), 7);
        assert_eq!(MEMO.with(|m| m.borrow().len()), 1, "cleared, then the new entry");
    }
}
