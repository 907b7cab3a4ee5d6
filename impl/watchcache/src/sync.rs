//! The synchronisation shim: `loom`'s types under `cfg(loom)`, `std`'s
//! otherwise. Everything in this crate takes its locks from here, so the
//! loom tests explore the very code the apiserver runs.

#[cfg(loom)]
pub use loom::sync::{Arc, Mutex, MutexGuard};

#[cfg(not(loom))]
pub use std::sync::{Arc, Mutex, MutexGuard};

/// Locks, treating a poisoned lock as held: every mutation below leaves the
/// structure consistent before anything can panic.
pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    #[cfg(loom)]
    {
        m.lock().unwrap()
    }
    #[cfg(not(loom))]
    {
        m.lock().unwrap_or_else(|p| p.into_inner())
    }
}
