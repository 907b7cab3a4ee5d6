//! model: podchain's cluster as a value.
//!
//! `Cluster` holds the store (objects with resourceVersions), every
//! kubelet's simulated runtime and liveness, the ReplicaSet controller's
//! expectations and the clock. Each component's step calls the very core
//! function its daemon calls and applies the effects with the apiserver's
//! own admission functions. The deterministic test harness drives it to
//! quiescence with simulated time; the stateright model (next) explores the
//! interleavings of the same steps.

pub mod check;
pub mod cluster;
pub mod liveness;
pub mod store;
pub mod symmetry;
pub mod trace;

pub use cluster::{Cluster, ClusterConfig};
