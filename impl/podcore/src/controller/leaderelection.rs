//! Leader election over a coordination.k8s.io/v1 Lease, as client-go's
//! leaderelection: the decisions, with no IO and no clock of their own.
//!
//! A candidate reads the lease and asks `attempt` what to write: create it
//! when absent, take it when its holder has let it lapse (or released it),
//! renew it when it is ours, or wait. Whether a lease has lapsed is judged
//! by this process's own clock — when it last *saw the record change*, plus
//! the lease's duration — never by the renew time written in it, so clocks
//! need not agree, only run at the same rate (client-go does the same). The
//! write carries the read's resourceVersion, so two candidates taking one
//! lapsed lease cannot both succeed.
//!
//! The leader acts only while `leading(now)`: within `renew_deadline_ms` of
//! the start of its last successful renewal. Another candidate saw that
//! renewal no earlier than it was sent and waits `lease_duration_ms` from
//! then, so with `renew_deadline_ms < lease_duration_ms` a leader that
//! cannot renew stops acting before anyone else can take the lease. (What
//! it had already sent may still land afterwards: resourceVersion
//! preconditions and the controllers' expectations are what make those
//! writes safe.)

use crate::meta::ObjectMeta;
use crate::time::{MicroTime, Time};
use crate::types::{Lease, LeaseSpec};

/// Upstream's defaults (kube-controller-manager, kube-scheduler).
pub const DEFAULT_LEASE_DURATION_MS: i64 = 15_000;
pub const DEFAULT_RENEW_DEADLINE_MS: i64 = 10_000;
pub const DEFAULT_RETRY_PERIOD_MS: i64 = 2_000;
/// Where the components' leases live.
pub const LEADER_LEASE_NAMESPACE: &str = "kube-system";

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// This candidate's name in `holderIdentity`: unique per process.
    pub identity: String,
    pub namespace: String,
    /// The lease's name (`kube-controller-manager`, `kube-scheduler`).
    pub name: String,
    pub lease_duration_ms: i64,
    pub renew_deadline_ms: i64,
    pub retry_period_ms: i64,
}

impl Config {
    /// Refuses timings under which a leader could act after another has
    /// taken over (client-go refuses the same).
    pub fn validate(&self) -> Result<(), String> {
        if self.identity.is_empty() {
            return Err("leader election: the identity is empty".into());
        }
        if self.lease_duration_ms <= self.renew_deadline_ms {
            return Err(format!("leader election: the lease duration ({} ms) must be greater than the renew deadline ({} ms)", self.lease_duration_ms, self.renew_deadline_ms));
        }
        if self.renew_deadline_ms <= self.retry_period_ms {
            return Err(format!("leader election: the renew deadline ({} ms) must be greater than the retry period ({} ms)", self.renew_deadline_ms, self.retry_period_ms));
        }
        if self.retry_period_ms < 1 {
            return Err("leader election: the retry period must be at least 1 ms".into());
        }
        Ok(())
    }
}

/// What to write next.
#[derive(Clone, Debug, PartialEq)]
pub enum Attempt {
    /// The lease does not exist: create it, held by us.
    Create(Lease),
    /// Take or renew it: an update at the read's resourceVersion.
    Update(Lease),
    /// Someone else holds it and it has not lapsed: read again later.
    Wait,
}

/// One candidate's state.
#[derive(Clone, Debug)]
pub struct Elector {
    pub cfg: Config,
    /// The record as last read, and when this process saw it change.
    observed: Option<(LeaseSpec, Time)>,
    /// When the last successful write of ours was started.
    renewed_at: Option<Time>,
}

impl Elector {
    pub fn new(cfg: Config) -> Elector {
        Elector { cfg, observed: None, renewed_at: None }
    }

    /// Given the lease as just read at `now` (`None`: absent), what to write.
    pub fn attempt(&mut self, now: Time, current: Option<&Lease>) -> Attempt {
        let duration_s = (self.cfg.lease_duration_ms + 999) / 1000;
        let held = |acquire: Option<MicroTime>, transitions: Option<i32>| LeaseSpec {
            holder_identity: Some(self.cfg.identity.clone()),
            lease_duration_seconds: Some(duration_s as i32),
            acquire_time: Some(acquire.unwrap_or(MicroTime::from(now))),
            renew_time: Some(MicroTime::from(now)),
            lease_transitions: transitions,
        };
        let Some(lease) = current else {
            self.observed = None;
            let meta = ObjectMeta { name: self.cfg.name.clone(), namespace: self.cfg.namespace.clone(), ..Default::default() };
            return Attempt::Create(Lease { metadata: meta, spec: held(None, Some(0)) });
        };
        // The record changed since last read: it is alive as of now.
        let changed = self.observed.as_ref().is_none_or(|(spec, _)| *spec != lease.spec);
        if changed {
            self.observed = Some((lease.spec.clone(), now));
        }
        let seen_at = self.observed.as_ref().map_or(now, |(_, t)| *t);
        let holder = lease.spec.holder_identity.as_deref().unwrap_or("");
        let mine = holder == self.cfg.identity;
        let lapsed = holder.is_empty() || now.ms_since(seen_at) >= lease.spec.lease_duration_seconds.map_or(self.cfg.lease_duration_ms, |s| s as i64 * 1000);
        if !mine && !lapsed {
            self.renewed_at = None;
            return Attempt::Wait;
        }
        let transitions = lease.spec.lease_transitions.unwrap_or(0);
        let spec = if mine { held(lease.spec.acquire_time, Some(transitions)) } else { held(None, Some(transitions + 1)) };
        Attempt::Update(Lease { metadata: lease.metadata.clone(), spec })
    }

    /// The write `attempt` asked for, started at `started`, succeeded and
    /// stored `written`.
    pub fn succeeded(&mut self, started: Time, written: &Lease) {
        self.renewed_at = Some(started);
        self.observed = Some((written.spec.clone(), started));
    }

    /// When the last successful write of ours was started: it leads until
    /// `renew_deadline_ms` after.
    pub fn renewed_at(&self) -> Option<Time> {
        self.renewed_at
    }

    /// Whether this candidate may act at `now`.
    pub fn leading(&self, now: Time) -> bool {
        self.renewed_at.is_some_and(|t| now.ms_since(t) < self.cfg.renew_deadline_ms)
    }

    /// The lease given up (a leader stopping cleanly): held by no one, so
    /// another candidate takes it at once (client-go's ReleaseOnCancel).
    pub fn release(&mut self, current: &Lease, now: Time) -> Option<Lease> {
        if current.spec.holder_identity.as_deref() != Some(self.cfg.identity.as_str()) {
            return None;
        }
        self.renewed_at = None;
        let mut l = current.clone();
        l.spec.holder_identity = None;
        l.spec.lease_duration_seconds = Some(1);
        l.spec.renew_time = Some(MicroTime::from(now));
        Some(l)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(id: &str) -> Config {
        Config { identity: id.into(), namespace: LEADER_LEASE_NAMESPACE.into(), name: "kube-controller-manager".into(), lease_duration_ms: 15_000, renew_deadline_ms: 10_000, retry_period_ms: 2_000 }
    }

    /// Stores what an attempt wrote, as the apiserver would (a new
    /// resourceVersion each time).
    fn store(l: Lease, rv: &mut u64) -> Lease {
        let mut l = l;
        *rv += 1;
        l.metadata.resource_version = rv.to_string();
        l
    }

    fn write(e: &mut Elector, now: Time, current: Option<&Lease>, rv: &mut u64) -> Option<Lease> {
        match e.attempt(now, current) {
            Attempt::Create(l) | Attempt::Update(l) => {
                let stored = store(l, rv);
                e.succeeded(now, &stored);
                Some(stored)
            }
            Attempt::Wait => None,
        }
    }

    #[test]
    fn the_first_candidate_creates_the_lease_and_leads() {
        let mut a = Elector::new(cfg("a"));
        let mut rv = 0;
        let t = Time(1_000_000);
        assert!(!a.leading(t));
        let l = write(&mut a, t, None, &mut rv).unwrap();
        assert_eq!(l.spec.holder_identity.as_deref(), Some("a"));
        assert_eq!((l.spec.lease_duration_seconds, l.spec.lease_transitions), (Some(15), Some(0)));
        assert!(a.leading(t));
        // Renewing keeps the acquire time and moves the renew time.
        let l2 = write(&mut a, t.plus_ms(2_000), Some(&l), &mut rv).unwrap();
        assert_eq!(l2.spec.acquire_time, l.spec.acquire_time);
        assert_eq!(l2.spec.renew_time, Some(MicroTime::from(t.plus_ms(2_000))));
    }

    #[test]
    fn a_follower_takes_over_only_a_lease_unchanged_for_its_duration_by_its_own_clock() {
        let (mut a, mut b) = (Elector::new(cfg("a")), Elector::new(cfg("b")));
        let mut rv = 0;
        let t = Time(5_000_000);
        let l = write(&mut a, t, None, &mut rv).unwrap();
        // b's clock is far behind a's: only when b saw the record counts.
        let tb = Time(1_000);
        assert_eq!(b.attempt(tb, Some(&l)), Attempt::Wait);
        assert_eq!(b.attempt(tb.plus_ms(14_999), Some(&l)), Attempt::Wait, "a lease one millisecond short of its duration is held");
        assert!(!b.leading(tb.plus_ms(14_999)));
        let Attempt::Update(taken) = b.attempt(tb.plus_ms(15_000), Some(&l)) else { panic!("lapsed at its duration") };
        assert_eq!((taken.spec.holder_identity.as_deref(), taken.spec.lease_transitions), (Some("b"), Some(1)));
        assert_eq!(taken.metadata.resource_version, l.metadata.resource_version, "the take is an update at the read's resourceVersion");
        assert!(!b.leading(tb.plus_ms(15_000)), "not before the write succeeded");
        b.succeeded(tb.plus_ms(15_000), &store(taken, &mut rv));
        assert!(b.leading(tb.plus_ms(15_000)));
    }

    #[test]
    fn a_renewal_seen_by_the_follower_restarts_its_wait() {
        let (mut a, mut b) = (Elector::new(cfg("a")), Elector::new(cfg("b")));
        let mut rv = 0;
        let t = Time(0);
        let l = write(&mut a, t, None, &mut rv).unwrap();
        assert_eq!(b.attempt(t, Some(&l)), Attempt::Wait);
        let l = write(&mut a, t.plus_ms(10_000), Some(&l), &mut rv).unwrap();
        assert_eq!(b.attempt(t.plus_ms(12_000), Some(&l)), Attempt::Wait);
        assert_eq!(b.attempt(t.plus_ms(26_999), Some(&l)), Attempt::Wait);
        assert!(matches!(b.attempt(t.plus_ms(27_000), Some(&l)), Attempt::Update(_)));
    }

    #[test]
    fn a_leader_that_cannot_renew_stops_before_anyone_can_take_over() {
        let c = cfg("a");
        let (mut a, mut b) = (Elector::new(c.clone()), Elector::new(cfg("b")));
        let mut rv = 0;
        let t = Time(0);
        let l = write(&mut a, t, None, &mut rv).unwrap();
        // b reads the record right after it was written; a renews no more.
        assert_eq!(b.attempt(t, Some(&l)), Attempt::Wait);
        assert!(a.leading(t.plus_ms(c.renew_deadline_ms - 1)));
        assert!(!a.leading(t.plus_ms(c.renew_deadline_ms)), "a stops at its renew deadline");
        // Every instant b could take the lease, a has stopped acting.
        for ms in (0..=30_000).step_by(500) {
            let mut probe = b.clone();
            if matches!(probe.attempt(t.plus_ms(ms), Some(&l)), Attempt::Update(_)) {
                assert!(!a.leading(t.plus_ms(ms)), "both would act at {ms} ms");
            }
        }
    }

    #[test]
    fn a_released_lease_is_taken_at_once() {
        let (mut a, mut b) = (Elector::new(cfg("a")), Elector::new(cfg("b")));
        let mut rv = 0;
        let t = Time(0);
        let l = write(&mut a, t, None, &mut rv).unwrap();
        assert_eq!(b.attempt(t, Some(&l)), Attempt::Wait);
        let released = store(a.release(&l, t.plus_ms(1)).expect("a holds it"), &mut rv);
        assert!(!a.leading(t.plus_ms(1)));
        assert!(released.spec.holder_identity.is_none());
        assert!(matches!(b.attempt(t.plus_ms(2), Some(&released)), Attempt::Update(_)));
        assert!(b.release(&released, t).is_none(), "only the holder releases");
    }

    #[test]
    fn timings_that_would_let_two_leaders_act_are_refused() {
        assert!(cfg("a").validate().is_ok());
        assert!(Config { renew_deadline_ms: 15_000, ..cfg("a") }.validate().unwrap_err().contains("greater than the renew deadline"));
        assert!(Config { retry_period_ms: 10_000, ..cfg("a") }.validate().unwrap_err().contains("greater than the retry period"));
        assert!(Config { identity: String::new(), ..cfg("a") }.validate().is_err());
    }
}
