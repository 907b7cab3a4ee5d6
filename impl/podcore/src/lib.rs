//! podcore: the pure core of podchain.
//!
//! Kubernetes types with upstream's JSON names, selectors, quantities,
//! defaulting and validation, the apiserver's write semantics (`admission`),
//! and the decision logic of every component (`controller`), all as plain
//! functions over data. This crate performs no IO, reads no clock, spawns no
//! thread and depends on no async runtime: time comes in as `now`, effects
//! leave as data. The daemons and the model checker call the same functions.
//! `tests/purity.rs` fails the build if that stops being true.

#![forbid(unsafe_code)]

pub mod admission;
pub mod authz;
pub mod cache;
pub mod controller;
pub mod defaults;
pub mod effect;
pub mod labels;
pub mod meta;
pub mod names;
pub mod object;
pub mod patch;
pub mod podutil;
pub mod protobuf;
pub mod quantity;
pub mod rbac;
pub mod schema;
pub mod status;
pub mod time;
pub mod trace;
pub mod types;
pub mod validation;
pub mod vecmap;

pub use effect::{Effect, Outcome};
pub use object::{Kind, Object};
pub use status::ApiError;
pub use time::Time;
