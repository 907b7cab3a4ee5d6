//! Trace validation: replays the decisions the real daemons recorded
//! (`podcore::trace`, written when `PODCHAIN_TRACE_DIR` is set) against the
//! model, and reports the first step the model cannot take.
//!
//! A recorded step is a step of the model when
//! 1. the component's view is one the model allows: for every object, the
//!    resourceVersion the component saw never decreases from one of its
//!    decisions to the next — across watch drops, relists and restarts too
//!    (the model's "no time travel"); the kubelet's later rounds on a pod,
//!    which decide on the object its own write returned, are exempt;
//! 2. the core function, called on exactly the recorded inputs, decides
//!    exactly what the daemon recorded (the model's `Step` is that call);
//! 3. it breaks none of the model's transition properties that a single
//!    decision can break: the scheduler binds only unbound pods, a kubelet
//!    starts nothing for a pod bound elsewhere.

use podcore::controller::kubelet::RuntimeAction;
use podcore::controller::scheduler::Decision;
use podcore::trace::{Record, MAX_TRACE_RECORD_BYTES};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Summary {
    pub files: usize,
    pub records: usize,
    /// Records per core function.
    pub by_function: BTreeMap<String, usize>,
    /// Records per component.
    pub by_component: BTreeMap<String, usize>,
    /// Final lines cut short by a killed process (skipped).
    pub torn: usize,
}

struct Step {
    at: i64,
    origin: String,
    component: String,
    record: Record,
}

/// Validates every `*.jsonl` trace in `dir`.
pub fn validate_dir(dir: &Path) -> Result<Summary, String> {
    let mut files: Vec<_> = std::fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?.filter_map(|e| e.ok()).map(|e| e.path()).filter(|p| p.extension().is_some_and(|x| x == "jsonl")).collect();
    files.sort();
    let mut texts = Vec::new();
    for f in &files {
        texts.push((f.display().to_string(), std::fs::read_to_string(f).map_err(|e| format!("{}: {e}", f.display()))?));
    }
    validate(&texts)
}

/// Validates traces given as (name, contents).
pub fn validate(files: &[(String, String)]) -> Result<Summary, String> {
    let mut sum = Summary { files: files.len(), ..Default::default() };
    let mut steps: Vec<Step> = Vec::new();
    for (name, text) in files {
        let lines: Vec<&str> = text.split_inclusive('\n').collect();
        for (i, line) in lines.iter().enumerate() {
            let origin = format!("{name}:{}", i + 1);
            if !line.ends_with('\n') {
                // A process killed mid-write leaves its last line unfinished.
                sum.torn += 1;
                continue;
            }
            if line.len() > MAX_TRACE_RECORD_BYTES {
                return Err(format!("{origin}: a record of {} bytes, more than {MAX_TRACE_RECORD_BYTES}", line.len()));
            }
            let v: Value = serde_json::from_str(line).map_err(|e| format!("{origin}: not a JSON record: {e}"))?;
            let at = v.get("at").and_then(Value::as_i64).unwrap_or(0);
            let (component, record) = Record::from_json(&v).map_err(|e| format!("{origin}: {e}"))?;
            steps.push(Step { at, origin, component, record });
        }
    }
    // Each component's decisions in the order it took them (files of one
    // process are in order; a restarted process starts a later file).
    steps.sort_by_key(|s| (s.component.clone(), s.at));
    let mut seen: BTreeMap<(String, String), (u64, String)> = BTreeMap::new();
    for s in &steps {
        let fail = |why: String| Err(format!("{} ({}, {}): the model cannot take this step: {why}", s.origin, s.component, s.record.function()));
        // 1. No time travel in the component's view.
        let own_write = matches!(s.record, Record::SyncPod { round, .. } if round > 0);
        if !own_write {
            for (key, rv) in s.record.inputs() {
                if let Some((before, at)) = seen.get(&(s.component.clone(), key.clone())) {
                    if rv < *before {
                        return fail(format!("it saw {key} at resourceVersion {rv} after seeing it at {before} ({at})"));
                    }
                }
                seen.insert((s.component.clone(), key), (rv, s.origin.clone()));
            }
        }
        // 2. The same decision from the same core function.
        if let Err(e) = s.record.replay() {
            return fail(e);
        }
        // 3. Transition properties.
        match &s.record {
            Record::Schedule { pod, decision: Decision::Bind(n), .. } if !pod.spec.node_name.is_empty() => {
                return fail(format!("it binds pod {} to {n}, but it is bound to {}", pod.metadata.name, pod.spec.node_name));
            }
            Record::SyncPod { node, pod, out, .. } if pod.spec.node_name != *node && out.actions.iter().any(|a| matches!(a, RuntimeAction::RunSandbox | RuntimeAction::StartContainer { .. })) => {
                return fail(format!("kubelet {node} starts pod {} bound to {:?}", pod.metadata.name, pod.spec.node_name));
            }
            _ => {}
        }
        sum.records += 1;
        *sum.by_function.entry(s.record.function().to_string()).or_default() += 1;
        *sum.by_component.entry(s.component.clone()).or_default() += 1;
    }
    Ok(sum)
}
