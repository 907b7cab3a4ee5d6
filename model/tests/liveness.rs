//! Liveness under weak fairness on the explored graph (`model::liveness`):
//! a toy livelock that stateright's `eventually` misses and this check
//! finds, and "eventually stable reconciliation" on the real model.

use model::check::*;
use model::liveness::{self, fighting, Verdict};
use stateright::{Checker, Model};

#[test]
fn stateright_eventually_misses_a_livelock_that_the_fair_check_finds() {
    // stateright: two controllers rewriting one label forever. Every path
    // closes a cycle and none ends, so `eventually` reports nothing.
    let c = fighting::Fighting.checker().spawn_bfs().join();
    assert!(c.is_done());
    assert!(c.discovery("the controllers agree").is_none(), "stateright's eventually is blind to cycles (as documented); if this fails, it no longer is");
    // The fair check: both controllers take turns (each is fair), the goal is never reached.
    let r = liveness::check(&fighting::Fighting, |_| false, |a: &fighting::Act| format!("{a:?}"), fighting::agreed, None, 1000);
    match r.verdict {
        Verdict::Livelock { path, cycle } => {
            assert_eq!(cycle.len(), 2, "one write each: {cycle:?}");
            assert!(cycle.contains(&"Write(1)".to_string()) && cycle.contains(&"Write(2)".to_string()), "{cycle:?}");
            assert!(path.len() <= fighting::WRITES_CAP as usize, "{path:?}");
        }
        other => panic!("the fair check must find the livelock, got {other:?}"),
    }
}

#[test]
fn an_unfair_cycle_is_not_a_livelock() {
    // A cycle that starves a continuously enabled class is not a fair
    // execution: here controller 1 can always finish (go to the goal) and
    // the only cycle never lets it.
    use stateright::Property;
    #[derive(Clone)]
    struct Spin;
    impl Model for Spin {
        type State = u8;
        type Action = &'static str;
        fn init_states(&self) -> Vec<u8> {
            vec![0]
        }
        fn actions(&self, s: &u8, out: &mut Vec<&'static str>) {
            if *s < 2 {
                out.push("spin");
                out.push("finish");
            }
        }
        fn next_state(&self, s: &u8, a: &'static str) -> Option<u8> {
            Some(if a == "finish" { 2 } else { 1 - *s })
        }
        fn properties(&self) -> Vec<Property<Self>> {
            vec![]
        }
    }
    let r = liveness::check(&Spin, |_| false, |a: &&str| a.to_string(), |s: &u8| *s == 2, None, 100);
    assert_eq!(r.verdict, Verdict::Holds);
    assert_eq!(r.non_goal_cycles, 1, "the spin cycle exists but is unfair");
    assert_eq!(r.fault_free_cycles, 1, "and it is the only cycle");
}

#[test]
fn a_deadlock_short_of_the_goal_is_reported() {
    use stateright::Property;
    struct Stuck;
    impl Model for Stuck {
        type State = u8;
        type Action = u8;
        fn init_states(&self) -> Vec<u8> {
            vec![0]
        }
        fn actions(&self, s: &u8, out: &mut Vec<u8>) {
            if *s == 0 {
                out.push(1);
                out.push(2);
            }
        }
        fn next_state(&self, _: &u8, a: u8) -> Option<u8> {
            Some(a)
        }
        fn properties(&self) -> Vec<Property<Self>> {
            vec![]
        }
    }
    let r = liveness::check(&Stuck, |_| false, |a: &u8| a.to_string(), |s: &u8| *s == 2, None, 100);
    assert!(matches!(r.verdict, Verdict::Deadlock { .. }), "{:?}", r.verdict);
}

#[test]
fn once_faults_stop_every_fair_execution_converges_linearizable_one_node() {
    let r = check_liveness(ModelConfig { nodes: 1, replicas: 1, consistency: Consistency::Linearizable, ..Default::default() }, 100_000);
    assert_eq!(r.verdict, Verdict::Holds);
    // The same graph stateright explores (see check.rs: 23 states).
    assert_eq!((r.states, r.goal_states), (23, 9));
}

#[test]
fn a_rollout_that_cannot_surge_on_a_full_node_is_stuck_and_both_checks_say_so() {
    // One node with room for two 400m pods, two replicas, maxSurge 1 and
    // maxUnavailable 0: the new pod can never be scheduled and no old pod
    // may go first. Upstream stalls the same way (the Deployment reports
    // ProgressDeadlineExceeded, which the model reaches by one clock jump
    // past the 600 s progress deadline). stateright sees the stuck state as
    // "quiescence implies convergence" failing; the fair check as a deadlock.
    let cfg = ModelConfig { nodes: 1, replicas: 2, consistency: Consistency::Linearizable, rollout: true, ticks: 1, ..Default::default() };
    let c = PodChainModel { cfg: cfg.clone() }.checker().threads(1).spawn_bfs().join();
    assert!(c.discovery("quiescence implies convergence").is_some());
    assert!(c.discovery("a rolling update keeps replicas - maxUnavailable available and at most replicas + maxSurge pods").is_none());
    let r = check_liveness(cfg, 100_000);
    match r.verdict {
        Verdict::Deadlock { path } => {
            assert_eq!(path.iter().filter(|a| *a == "the user changes the image").count(), 1, "{path:?}");
            assert_eq!(r.states, 92);
        }
        other => panic!("expected the stuck rollout, got {other:?}"),
    }
}
