//! Every limit is a named constant with a test at the bound. This test reads
//! the workspace's sources, lists every `pub const MAX_*`, and fails for one
//! that is not in `AT_THE_BOUND` below, the table of which test exercises
//! which limit. Each entry is checked too: the named file has a test function
//! of that name, and its body uses the constant (so the test moves with the
//! limit: renaming either breaks the table, not silently the coverage).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// (constant, file, test function that exercises it at its bound).
const AT_THE_BOUND: &[(&str, &str, &str)] = &[
    ("MAX_ANNOTATIONS_BYTES", "impl/podcore/src/validation.rs", "annotations_are_bounded_at_max_annotations_bytes"),
    ("MAX_ABSENT_OWNERS", "impl/podcore/src/controller/gc.rs", "absent_owners_are_remembered_up_to_max_absent_owners"),
    ("MAX_BACKOFF_MS", "impl/podcore/src/controller/scheduler.rs", "back_off_doubles_up_to_max_backoff"),
    ("MAX_BINDS_IN_FLIGHT", "impl/podcore/src/controller/scheduler.rs", "at_most_max_binds_in_flight_are_unanswered"),
    ("MAX_BATCH_BYTES", "impl/podstore/tests/group_commit.rs", "a_batch_appends_at_most_max_batch_bytes"),
    ("MAX_BODY_DEPTH", "impl/apiserver/src/decode.rs", "alias_bombs_and_depth_are_refused_quickly"),
    ("MAX_CLIENTS", "impl/apiserver/src/metrics.rs", "clients_beyond_the_bound_are_counted_together"),
    ("MAX_CLIENT_NAME", "impl/apiserver/src/metrics.rs", "a_client_is_the_first_word_of_its_user_agent"),
    ("MAX_CONFLICT_RETRIES", "impl/apiserver/tests/http.rs", "patches_retry_conflicts_up_to_max_conflict_retries"),
    ("MAX_CONTAINERS", "impl/podcore/src/validation.rs", "too_many_containers_is_refused_at_the_bound"),
    ("MAX_CPU_SHARES", "impl/podcore/src/controller/runtimespec.rs", "resources_map_like_upstream"),
    ("MAX_EVENT_FIELD_LEN", "impl/podcore/src/validation.rs", "event_fields_are_bounded_at_their_limits"),
    ("MAX_EVENT_NOTE_LEN", "impl/podcore/src/validation.rs", "event_fields_are_bounded_at_their_limits"),
    ("MAX_DRAIN_BYTES", "impl/apiserver/tests/http.rs", "oversized_bodies_are_drained_within_their_bounds"),
    ("MAX_DRAIN_TIME", "impl/apiserver/tests/http.rs", "oversized_bodies_are_drained_within_their_bounds"),
    ("MAX_HISTORY_BYTES", "impl/podstore/tests/embedded.rs", "history_is_bounded_at_max_history_bytes"),
    ("MAX_HISTORY_EVENTS", "impl/podstore/tests/embedded.rs", "history_is_bounded_at_max_history_events"),
    ("MAX_HOSTNAME_LEN", "impl/podcore/src/controller/runtimespec.rs", "hostnames_are_cut_at_max_hostname_len"),
    ("MAX_IDLE_WAKEUPS", "model/tests/check.rs", "an_idle_cluster_is_looked_ahead_max_idle_wakeups_times"),
    ("MAX_JSON_PATCH_OPS", "impl/podcore/src/patch.rs", "json_patch_op_count_is_bounded"),
    ("MAX_KEY_BYTES", "impl/podstore/src/conformance.rs", "oversized_values_are_refused"),
    ("MAX_KUBELETS_PER_PROCESS", "impl/podchain/src/cli.rs", "kubelets_per_process_are_bounded"),
    ("MAX_LABEL_NAME_LEN", "impl/podcore/src/names.rs", "subdomains_and_labels_at_their_bounds"),
    ("MAX_LABEL_VALUE_LEN", "impl/podcore/src/names.rs", "qualified_names_and_label_values_at_their_bounds"),
    ("MAX_LIST_LIMIT", "impl/apiserver/tests/http.rs", "list_pages_are_bounded_at_max_list_limit"),
    ("MAX_LOG_BYTES", "impl/kubelet/src/server.rs", "log_bounds_are_honoured_up_to_max_log_bytes"),
    ("MAX_MESSAGE_BYTES", "impl/cri/src/lib.rs", "responses_are_bounded_at_max_message_bytes"),
    ("MAX_NAME_LEN", "impl/podcore/src/names.rs", "subdomains_and_labels_at_their_bounds"),
    ("MAX_POD_WORKERS", "impl/kubelet/src/lib.rs", "at_most_max_pod_workers_sync_at_once_and_a_slow_pod_delays_no_other"),
    ("MAX_PORT_NAME_LEN", "impl/podcore/src/validation.rs", "port_names_are_bounded_at_max_port_name_len"),
    ("MAX_OPS_PER_KEY", "impl/podstore/src/history.rs", "a_key_is_searched_up_to_max_ops_per_key"),
    ("MAX_PATCH_DEPTH", "impl/podcore/src/patch.rs", "nesting_beyond_the_limit_is_refused"),
    ("MAX_PROTOBUF_FIELDS", "impl/podcore/src/protobuf.rs", "a_message_has_at_most_max_fields"),
    ("MAX_QUANTITY_LEN", "impl/podcore/src/quantity.rs", "rejects_bad_values_with_the_expected_form"),
    ("MAX_QUEUE_KEYS", "impl/watchcache/src/workqueue.rs", "a_new_queue_holds_max_queue_keys"),
    ("MAX_RELIST_ATTEMPTS", "impl/apiserver/tests/http.rs", "a_relist_is_tried_up_to_max_relist_attempts"),
    ("MAX_RECORD_BYTES", "impl/podstore/src/record.rs", "records_are_bounded_at_max_record_bytes"),
    ("MAX_REMEMBERED", "model/src/symmetry.rs", "a_memo_holds_max_remembered_entries_then_starts_again"),
    ("MAX_REPORTED_DUPLICATES", "impl/apiserver/src/decode.rs", "duplicate_reports_are_bounded_at_max_reported_duplicates"),
    ("MAX_REPORTED_UNKNOWN", "impl/podcore/src/schema.rs", "reports_are_bounded"),
    ("MAX_REQUEST_BODY_BYTES", "impl/apiserver/tests/http.rs", "request_bodies_are_bounded_in_size_and_depth"),
    ("MAX_REQUIREMENTS", "impl/podcore/src/labels.rs", "bad_selectors_are_rejected_with_position"),
    ("MAX_RETRY", "impl/client/src/informer.rs", "retries_double_up_to_max_retry"),
    ("MAX_RETRIES_AFTER_429", "impl/client/src/lib.rs", "a_429_with_retry_after_is_sent_again_at_most_max_retries_after_429_times"),
    ("MAX_RETRY_AFTER", "impl/client/src/lib.rs", "a_retry_after_is_waited_up_to_max_retry_after"),
    ("MAX_SELECTOR_LEN", "impl/podcore/src/labels.rs", "bad_selectors_are_rejected_with_position"),
    ("MAX_SETTLE_ROUNDS", "model/tests/harness.rs", "settling_is_bounded_in_rounds"),
    ("MAX_TRIES", "impl/etcdstore/tests/etcd.rs", "a_request_no_member_answers_is_tried_max_tries_times_more"),
    ("MAX_SYMMETRIC_NODES", "impl/podchain/src/cli.rs", "symmetry_is_bounded_at_max_symmetric_nodes"),
    ("MAX_SYNC_ROUNDS_PER_POD", "impl/kubelet/src/lib.rs", "one_pass_syncs_a_pod_at_most_max_sync_rounds_per_pod_times"),
    ("MAX_TRACE_RECORD_BYTES", "model/tests/trace.rs", "trace_lines_are_bounded_at_max_trace_record_bytes"),
    ("MAX_VALUE_BYTES", "impl/podstore/src/conformance.rs", "oversized_values_are_refused"),
    ("MAX_WATCH_EVENT_BYTES", "impl/client/src/lib.rs", "watch_events_are_bounded_at_max_watch_event_bytes"),
    ("MAX_YAML_ALIAS_EVENTS", "impl/apiserver/src/decode.rs", "alias_replay_is_bounded_at_its_limit"),
    ("MAX_YAML_DOCUMENTS", "impl/apiserver/src/decode.rs", "multi_document_files_are_bounded_in_documents"),
];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        let name = p.file_name().unwrap().to_string_lossy();
        if p.is_dir() {
            if name != "target" && !name.starts_with('.') {
                rust_files(&p, out);
            }
        } else if name.ends_with(".rs") {
            out.push(p);
        }
    }
}

/// The body of `fn name` in `text` (from its opening brace to the matching one).
fn fn_body<'a>(text: &'a str, name: &str) -> Option<&'a str> {
    let start = text.find(&format!("fn {name}("))?;
    let open = start + text[start..].find('{')?;
    let mut depth = 0usize;
    for (i, c) in text[open..].char_indices() {
        match c {
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if depth == 0 {
                    return Some(&text[open..open + i + 1]);
                }
            }
            _ => {}
        }
    }
    None
}

/// Whether `fn name` is a test the test runner runs, or a conformance check
/// that one runs (`podstore::conformance::run_all`).
fn is_test(text: &str, name: &str, path: &str) -> bool {
    let Some(at) = text.find(&format!("fn {name}(")) else { return false };
    let before = &text[..at];
    let attr = before.rfind("#[").map(|i| &before[i..]).unwrap_or("");
    let attributed = (attr.starts_with("#[test]") || attr.starts_with("#[tokio::test")) && !attr[attr.find(']').unwrap_or(0) + 1..].contains("\nfn ");
    attributed || path.ends_with("conformance.rs")
}

#[test]
fn every_limit_has_a_test_at_its_bound() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf();
    let mut files = Vec::new();
    for dir in ["impl", "model", "tests"] {
        rust_files(&root.join(dir), &mut files);
    }
    // Every `pub const MAX_*`, and where.
    let mut defined: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for f in &files {
        let text = std::fs::read_to_string(f).unwrap();
        for line in text.lines() {
            let t = line.trim_start();
            for prefix in ["pub const ", "pub(crate) const "] {
                if let Some(rest) = t.strip_prefix(prefix) {
                    let name: String = rest.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
                    if name.starts_with("MAX_") {
                        defined.entry(name).or_default().push(f.strip_prefix(&root).unwrap().display().to_string());
                    }
                }
            }
        }
    }
    assert!(defined.len() >= 30 && defined.contains_key("MAX_LIST_LIMIT"), "the scan found {defined:?}");
    for (name, wheres) in &defined {
        assert_eq!(wheres.len(), 1, "{name} is defined in {wheres:?}: two limits under one name mean different things; name each for what it bounds");
    }
    let listed: BTreeSet<&str> = AT_THE_BOUND.iter().map(|(c, _, _)| *c).collect();
    let unlisted: Vec<&String> = defined.keys().filter(|c| !listed.contains(c.as_str())).collect();
    assert!(unlisted.is_empty(), "limits with no test at their bound (add one, and list it in AT_THE_BOUND): {unlisted:?}");
    for (c, file, test) in AT_THE_BOUND {
        assert!(defined.contains_key(*c), "{c} is listed but no longer defined");
        let text = std::fs::read_to_string(root.join(file)).unwrap_or_else(|e| panic!("{c}: {file}: {e}"));
        assert!(is_test(&text, test, file), "{c}: {file} has no test `{test}`");
        let body = fn_body(&text, test).unwrap_or_else(|| panic!("{c}: cannot read the body of {test}"));
        assert!(body.contains(c), "{c}: the test {file}::{test} does not use the constant");
    }
}
