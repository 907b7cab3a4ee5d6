//! The stateright model: the cluster of `cluster.rs`, with each component
//! reading its own cache (possibly stale), and faults. Every step calls the
//! same core function the daemon calls; writes go through the apiserver's
//! admission functions, so preconditions fail with 409 as in production.
//!
//! Safety properties that concern one transition (a pod's node changing, a
//! ReplicaSet over-creating, an owned pod being adopted) are checked in
//! `next_state` and recorded in `State::violations`; the properties then
//! say "no violation is ever recorded". Properties of one state are checked
//! on the state directly.
//!
//! One file per role:
//! - `config`: the configuration (nodes, faults, safeguards) and the components;
//! - `state`: the state and the actions;
//! - `transitions`: each action's effect on the state, the canonical form,
//!   idleness and the clock;
//! - `properties`: what must hold, in every state or on the explored graph;
//! - `model`: the stateright `Model` over the above;
//! - `attack`: the compromised kubelet's hostile writes;
//! - `run`: running the checker (progress, verdicts, counterexamples), the
//!   Explorer, and the liveness pass's fairness.

mod attack;
mod config;
mod model;
mod properties;
mod run;
mod state;
mod transitions;

pub use attack::*;
pub use config::*;
pub use run::*;
pub use state::*;
pub(crate) use properties::controlled;

