//! Trace validation (`model::trace`) catches what it must: a decision the
//! core would not take, a component's view going back in time, a kubelet
//! starting a pod bound elsewhere; and tolerates a torn final line.

use model::trace::validate;
use podcore::controller::kubelet::{sync_pod, KubeletOptions, PodObservation, RuntimeAction, SandboxObservation};
use podcore::time::Time;
use podcore::trace::Record;
use podcore::types::{Container, Pod};

fn pod(rv: &str, node: &str) -> Pod {
    let mut p = Pod::default();
    p.metadata.name = "p".into();
    p.metadata.namespace = "default".into();
    p.metadata.uid = "u1".into();
    p.metadata.resource_version = rv.into();
    p.spec.node_name = node.into();
    p.spec.restart_policy = "Always".into();
    p.spec.containers.push(Container { name: "c".into(), image: "i".into(), ..Default::default() });
    p
}

fn sync(now: i64, node: &str, p: Pod, round: u32) -> Record {
    let obs = PodObservation { sandbox: Some(SandboxObservation { id: "sb".into(), ip: "10.0.0.2".into(), ready: true }), ..Default::default() };
    let out = sync_pod(Time(now), node, "", &p, &obs, KubeletOptions::default());
    Record::SyncPod { now: Time(now), node: node.into(), host_ip: String::new(), round, pod: p, observation: obs, out }
}

fn line(r: &Record, at: i64) -> String {
    let mut v = r.to_json("kubelet/n1");
    v["at"] = serde_json::json!(at);
    format!("{v}\n")
}

#[test]
fn a_faithful_trace_validates() {
    let text = line(&sync(1000, "n1", pod("5", "n1"), 0), 1) + &line(&sync(2000, "n1", pod("9", "n1"), 0), 2);
    let s = validate(&[("a.jsonl".into(), text)]).unwrap();
    assert_eq!(s.records, 2);
}

#[test]
fn a_decision_the_core_would_not_take_is_the_first_step_reported() {
    let mut r = sync(1000, "n1", pod("5", "n1"), 0);
    if let Record::SyncPod { out, .. } = &mut r {
        out.actions = vec![RuntimeAction::RemovePod];
    }
    let text = line(&sync(500, "n1", pod("4", "n1"), 0), 1) + &line(&r, 2);
    let e = validate(&[("a.jsonl".into(), text)]).unwrap_err();
    assert!(e.starts_with("a.jsonl:2 "), "{e}");
    assert!(e.contains("sync_pod decides"), "{e}");
}

#[test]
fn a_view_going_back_in_time_is_reported_even_across_files() {
    // A restarted kubelet (a second file) that sees an older pod than before.
    let first = line(&sync(1000, "n1", pod("9", "n1"), 0), 1);
    let second = line(&sync(2000, "n1", pod("5", "n1"), 0), 2);
    let e = validate(&[("a.jsonl".into(), first), ("b.jsonl".into(), second)]).unwrap_err();
    assert!(e.contains("resourceVersion 5 after seeing it at 9"), "{e}");
    // A later round on the kubelet's own write result is not a cache read.
    let ok = line(&sync(1000, "n1", pod("9", "n1"), 0), 1) + &line(&sync(1000, "n1", pod("5", "n1"), 1), 2);
    validate(&[("c.jsonl".into(), ok)]).unwrap();
}

#[test]
fn a_kubelet_starting_a_pod_bound_elsewhere_is_reported() {
    // The decision the core takes with the nodeName check off.
    let p = pod("5", "n2");
    let obs = PodObservation::default();
    let out = sync_pod(Time(0), "n1", "", &p, &obs, KubeletOptions { check_node_name: false });
    let r = Record::SyncPod { now: Time(0), node: "n1".into(), host_ip: String::new(), round: 0, pod: p, observation: obs, out };
    let e = validate(&[("a.jsonl".into(), line(&r, 1))]).unwrap_err();
    // Replay (with the safeguard on) already disagrees.
    assert!(e.contains("the model cannot take this step"), "{e}");
}

#[test]
fn a_torn_final_line_is_skipped_and_garbage_is_not() {
    let good = line(&sync(1000, "n1", pod("5", "n1"), 0), 1);
    let torn = good.clone() + &good[..good.len() / 2];
    let s = validate(&[("a.jsonl".into(), torn)]).unwrap();
    assert_eq!((s.records, s.torn), (1, 1));
    let e = validate(&[("a.jsonl".into(), "{not json}\n".into())]).unwrap_err();
    assert!(e.contains("a.jsonl:1: not a JSON record"), "{e}");
}

/// A trace line of `MAX_TRACE_RECORD_BYTES` (newline included) is read; one
/// byte more is refused before it is parsed.
#[test]
fn trace_lines_are_bounded_at_max_trace_record_bytes() {
    use podcore::trace::MAX_TRACE_RECORD_BYTES;
    let padded = |len: usize| {
        let mut l = line(&sync(1_000, "n1", pod("5", "n1"), 0), 1_000).trim_end().to_string();
        l.push_str(&" ".repeat(len - l.len() - 1));
        l.push('\n');
        assert_eq!(l.len(), len);
        l
    };
    let ok = validate(&[("kubelet.jsonl".into(), padded(MAX_TRACE_RECORD_BYTES))]).unwrap();
    assert_eq!(ok.records, 1);
    let e = validate(&[("kubelet.jsonl".into(), padded(MAX_TRACE_RECORD_BYTES + 1))]).unwrap_err();
    assert!(e.contains("more than"), "{e}");
}
