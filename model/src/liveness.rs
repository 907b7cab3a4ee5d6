//! Liveness under weak fairness, checked exactly on the explored graph.
//!
//! stateright's `Property::eventually` only looks at paths that end: a path
//! that closes a cycle is ignored (its documentation says so), so a livelock
//! — components taking steps forever without reaching the goal — passes.
//! This checker builds the whole reachable graph instead and asks the right
//! question: once faults stop, does every *fair* execution reach the goal
//! and stay there?
//!
//! Method. Enumerate every reachable state (all actions, faults included).
//! Keep the fault-free edges (the actions `is_fault` rejects), labelled with
//! a fairness class (one per component step, say). From any reachable state,
//! a fault-free execution that never reaches the goal either
//!   - stops in a non-goal state where no fault-free action is enabled
//!     (a deadlock), or
//!   - stays forever inside one strongly connected component (SCC) of the
//!     non-goal fault-free subgraph. Under weak fairness (an action class
//!     enabled continuously is eventually taken) it can stay in SCC `S` iff
//!     `S` has a cycle and every class enabled in *all* states of `S` is
//!     taken by some edge inside `S`; that cycle is then a fair livelock.
//!     If some class is enabled throughout `S` but never taken inside it,
//!     every cycle in `S` (or in any part of it) starves that class, so no
//!     fair execution stays in `S`: checking maximal SCCs is exact.
//! The goal must also be stable: no fault-free edge leads from a goal state
//! to a non-goal state.
//!
//! States are held by fingerprint only (like stateright), plus the parent
//! edge, so a counterexample is rebuilt by replaying actions from the
//! initial state.
//!
//! With a symmetry (`representative`), a graph node is an orbit: states
//! are identified by their representative's fingerprint, and each orbit's
//! edges are those of the first state of it reached (which, as in
//! stateright, is the state explored, so replaying the parent edges still
//! rebuilds real paths). For a symmetry of the model the quotient graph has
//! the same deadlocks, cycles and goal exits as the whole graph, with the
//! same class labels provided every class is invariant under the symmetry
//! (the caller passes such classes: see `check::symmetric_fairness_class`),
//! so every verdict carries over.

use stateright::Model;
use std::collections::hash_map::DefaultHasher;
use std::collections::{BTreeSet, HashMap, VecDeque};
use std::hash::{Hash, Hasher};

/// What the check found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Holds,
    /// A fault-free path from a reachable state ends in a non-goal state
    /// with nothing left to do.
    Deadlock { path: Vec<String> },
    /// A fair cycle of non-goal states: `path` reaches it, `cycle` goes round.
    Livelock { path: Vec<String>, cycle: Vec<String> },
    /// A fault-free step leaves the goal.
    Unstable { path: Vec<String> },
    /// The state space is larger than the bound given.
    TooLarge,
}

#[derive(Debug, Clone)]
pub struct Report {
    pub states: usize,
    pub fault_free_edges: usize,
    pub goal_states: usize,
    /// Non-trivial SCCs of non-goal states (all of them unfair when the property holds).
    pub non_goal_cycles: usize,
    /// Non-trivial SCCs of the whole fault-free graph, goal states included.
    /// Zero means every fault-free execution is finite: once faults stop,
    /// only finitely many writes (creates and deletes among them) happen.
    pub fault_free_cycles: usize,
    pub verdict: Verdict,
}

fn fingerprint<T: Hash>(t: &T) -> u64 {
    let mut h = DefaultHasher::new();
    t.hash(&mut h);
    h.finish()
}

struct Node<A> {
    parent: Option<(u32, A)>,
    goal: bool,
    /// Fault-free edges: (fairness class, target).
    edges: Vec<(u16, u32)>,
    /// Fault-free classes enabled here.
    enabled: BTreeSet<u16>,
}

/// A function that maps each state to the one state of its orbit that
/// stands for all of them (a symmetry's representative).
pub type Representative<S> = fn(&S) -> S;

/// Checks "once faults stop, every weakly fair execution reaches `goal` and
/// stays there" on every state reachable from `m`'s initial states.
pub fn check<M: Model>(m: &M, is_fault: impl Fn(&M::Action) -> bool, class: impl Fn(&M::Action) -> String, goal: impl Fn(&M::State) -> bool, representative: Option<Representative<M::State>>, max_states: usize) -> Report
where
    M::State: Hash,
    M::Action: Clone + std::fmt::Debug,
{
    let mut classes: Vec<String> = Vec::new();
    let mut class_id = |a: &M::Action| -> u16 {
        let c = class(a);
        match classes.iter().position(|x| *x == c) {
            Some(i) => i as u16,
            None => {
                classes.push(c);
                (classes.len() - 1) as u16
            }
        }
    };
    let key = |s: &M::State| match representative {
        Some(r) => fingerprint(&r(s)),
        None => fingerprint(s),
    };
    let mut ids: HashMap<u64, u32> = HashMap::new();
    let mut nodes: Vec<Node<M::Action>> = Vec::new();
    let mut queue: VecDeque<(u32, M::State)> = VecDeque::new();
    for s in m.init_states() {
        let fp = key(&s);
        if ids.contains_key(&fp) {
            continue;
        }
        let id = nodes.len() as u32;
        ids.insert(fp, id);
        nodes.push(Node { parent: None, goal: goal(&s), edges: vec![], enabled: BTreeSet::new() });
        queue.push_back((id, s));
    }
    let mut actions = Vec::new();
    let mut fault_free_edges = 0;
    while let Some((id, s)) = queue.pop_front() {
        actions.clear();
        m.actions(&s, &mut actions);
        for a in actions.drain(..) {
            let Some(n) = m.next_state(&s, a.clone()) else { continue };
            let fp = key(&n);
            let target = match ids.get(&fp) {
                Some(t) => *t,
                None => {
                    if nodes.len() >= max_states {
                        return Report { states: nodes.len(), fault_free_edges, goal_states: 0, non_goal_cycles: 0, fault_free_cycles: 0, verdict: Verdict::TooLarge };
                    }
                    let t = nodes.len() as u32;
                    ids.insert(fp, t);
                    nodes.push(Node { parent: Some((id, a.clone())), goal: goal(&n), edges: vec![], enabled: BTreeSet::new() });
                    queue.push_back((t, n));
                    t
                }
            };
            if !is_fault(&a) {
                let c = class_id(&a);
                let node = &mut nodes[id as usize];
                node.enabled.insert(c);
                node.edges.push((c, target));
                fault_free_edges += 1;
            }
        }
    }
    let goal_states = nodes.iter().filter(|n| n.goal).count();
    let path_to = |mut id: u32| -> Vec<String> {
        let mut acts = Vec::new();
        while let Some((p, a)) = &nodes[id as usize].parent {
            acts.push(a.clone());
            id = *p;
        }
        acts.reverse();
        acts.iter().map(|a| m.format_action(a)).collect()
    };
    // Stability, then deadlocks.
    for (i, n) in nodes.iter().enumerate() {
        if n.goal {
            if let Some((c, t)) = n.edges.iter().find(|(_, t)| !nodes[*t as usize].goal) {
                let _ = t;
                let mut path = path_to(i as u32);
                path.push(format!("(fault-free) {} leaves the goal", classes[*c as usize]));
                return Report { states: nodes.len(), fault_free_edges, goal_states, non_goal_cycles: 0, fault_free_cycles: 0, verdict: Verdict::Unstable { path } };
            }
        } else if n.edges.is_empty() {
            return Report { states: nodes.len(), fault_free_edges, goal_states, non_goal_cycles: 0, fault_free_cycles: 0, verdict: Verdict::Deadlock { path: path_to(i as u32) } };
        }
    }
    // Cycles anywhere in the fault-free graph (no oscillation).
    let fault_free_cycles = tarjan(&nodes, true).into_iter().filter(|scc| has_cycle(scc, &nodes)).count();
    // SCCs of the non-goal fault-free subgraph (iterative Tarjan).
    let sccs = tarjan(&nodes, false);
    let mut non_goal_cycles = 0;
    for scc in sccs {
        let members: BTreeSet<u32> = scc.iter().copied().collect();
        let inside: Vec<(u32, u16, u32)> = scc.iter().flat_map(|&v| nodes[v as usize].edges.iter().filter(|(_, t)| members.contains(t)).map(move |(c, t)| (v, *c, *t))).collect();
        if inside.is_empty() {
            continue; // a single state without a self-loop: no cycle
        }
        non_goal_cycles += 1;
        let taken: BTreeSet<u16> = inside.iter().map(|(_, c, _)| *c).collect();
        let mut always_enabled: Option<BTreeSet<u16>> = None;
        for &v in &scc {
            let e = &nodes[v as usize].enabled;
            always_enabled = Some(match always_enabled {
                None => e.clone(),
                Some(a) => a.intersection(e).copied().collect(),
            });
        }
        if always_enabled.unwrap_or_default().is_subset(&taken) {
            // A fair livelock: show a way in and one cycle round it.
            let start = scc[0];
            let cycle = cycle_through(start, &members, &nodes).into_iter().map(|c| classes[c as usize].clone()).collect();
            return Report { states: nodes.len(), fault_free_edges, goal_states, non_goal_cycles, fault_free_cycles, verdict: Verdict::Livelock { path: path_to(start), cycle } };
        }
    }
    Report { states: nodes.len(), fault_free_edges, goal_states, non_goal_cycles, fault_free_cycles, verdict: Verdict::Holds }
}

/// Whether the SCC `scc` holds a cycle (more than one state, or a self-loop).
fn has_cycle<A>(scc: &[u32], nodes: &[Node<A>]) -> bool {
    scc.len() > 1 || nodes[scc[0] as usize].edges.iter().any(|(_, t)| *t == scc[0])
}

/// The classes along a shortest cycle from `start` back to itself within `members`.
fn cycle_through<A>(start: u32, members: &BTreeSet<u32>, nodes: &[Node<A>]) -> Vec<u16> {
    let mut prev: HashMap<u32, (u32, u16)> = HashMap::new();
    let mut q = VecDeque::from([start]);
    while let Some(v) = q.pop_front() {
        for (c, t) in &nodes[v as usize].edges {
            if !members.contains(t) {
                continue;
            }
            if *t == start {
                let mut out = vec![*c];
                let mut cur = v;
                while cur != start {
                    let (p, pc) = prev[&cur];
                    out.push(pc);
                    cur = p;
                }
                out.reverse();
                return out;
            }
            if !prev.contains_key(t) {
                prev.insert(*t, (v, *c));
                q.push_back(*t);
            }
        }
    }
    vec![]
}

/// Strongly connected components of the fault-free graph: of its non-goal
/// states only, or of all of it with `with_goal`.
fn tarjan<A>(nodes: &[Node<A>], with_goal: bool) -> Vec<Vec<u32>> {
    const UNSEEN: u32 = u32::MAX;
    let n = nodes.len();
    let mut index = vec![UNSEEN; n];
    let mut low = vec![0u32; n];
    let mut on_stack = vec![false; n];
    let mut stack: Vec<u32> = Vec::new();
    let mut out = Vec::new();
    let mut next = 0u32;
    for root in 0..n as u32 {
        if (nodes[root as usize].goal && !with_goal) || index[root as usize] != UNSEEN {
            continue;
        }
        // (vertex, next edge position)
        let mut work: Vec<(u32, usize)> = vec![(root, 0)];
        index[root as usize] = next;
        low[root as usize] = next;
        next += 1;
        stack.push(root);
        on_stack[root as usize] = true;
        while let Some(&mut (v, ref mut pos)) = work.last_mut() {
            let edges = &nodes[v as usize].edges;
            if *pos < edges.len() {
                let t = edges[*pos].1;
                *pos += 1;
                if nodes[t as usize].goal && !with_goal {
                    continue;
                }
                if index[t as usize] == UNSEEN {
                    index[t as usize] = next;
                    low[t as usize] = next;
                    next += 1;
                    stack.push(t);
                    on_stack[t as usize] = true;
                    work.push((t, 0));
                } else if on_stack[t as usize] {
                    low[v as usize] = low[v as usize].min(index[t as usize]);
                }
            } else {
                work.pop();
                if let Some(&(p, _)) = work.last() {
                    low[p as usize] = low[p as usize].min(low[v as usize]);
                }
                if low[v as usize] == index[v as usize] {
                    let mut comp = Vec::new();
                    loop {
                        let w = stack.pop().expect("tarjan stack");
                        on_stack[w as usize] = false;
                        comp.push(w);
                        if w == v {
                            break;
                        }
                    }
                    out.push(comp);
                }
            }
        }
    }
    out
}

/// A toy that livelocks: two controllers that each want a shared label to
/// carry their own value, and a goal ("the label is agreed and both are
/// done") that a fight never reaches. There is no terminal state, so
/// stateright's `eventually` never reports it; `check` does.
pub mod fighting {
    use stateright::{Model, Property};

    #[derive(Clone, Debug, PartialEq, Eq, Hash)]
    pub struct Label {
        pub value: u8,
        /// Writes so far, capped: the fight is endless but the state space is finite.
        pub writes: u8,
    }

    #[derive(Clone, Debug, PartialEq, Eq, Hash)]
    pub enum Act {
        /// Controller `i` sets the label to `i`.
        Write(u8),
    }

    pub struct Fighting;

    pub const WRITES_CAP: u8 = 3;

    impl Model for Fighting {
        type State = Label;
        type Action = Act;
        fn init_states(&self) -> Vec<Label> {
            vec![Label { value: 0, writes: 0 }]
        }
        fn actions(&self, s: &Label, out: &mut Vec<Act>) {
            for i in [1, 2] {
                if s.value != i {
                    out.push(Act::Write(i));
                }
            }
        }
        fn next_state(&self, s: &Label, a: Act) -> Option<Label> {
            let Act::Write(i) = a;
            Some(Label { value: i, writes: (s.writes + 1).min(WRITES_CAP) })
        }
        fn properties(&self) -> Vec<Property<Self>> {
            vec![Property::<Self>::eventually("the controllers agree", |_, s: &Label| super::fighting::agreed(s))]
        }
    }

    /// The goal: no controller has anything left to change. Never true.
    pub fn agreed(s: &Label) -> bool {
        s.value != 0 && Fighting.next_states(s).is_empty()
    }
}
