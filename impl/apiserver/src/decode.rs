//! Request body decoding: JSON, or YAML (one document, or several for
//! `podchain apply`), into a JSON value. Bounded: the body size is checked
//! before this runs; nesting depth is checked here (and both parsers stop at
//! their own recursion limits); YAML is read by serde-saphyr (pure Rust, no
//! libyaml) under a budget, so an alias bomb stops after
//! `MAX_YAML_ALIAS_EVENTS` replayed events.
//! Duplicate keys are found with their field paths: upstream warns about
//! them by default and rejects them under `fieldValidation=Strict`.

use podcore::status::ApiError;
use serde::de::{DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};
use std::cell::RefCell;

/// Deepest nesting accepted in a request body.
pub const MAX_BODY_DEPTH: usize = 100;
/// Most duplicate-field paths reported for one body.
pub const MAX_REPORTED_DUPLICATES: usize = 32;
/// Most parser events YAML aliases may replay in one body (an alias bomb
/// replays billions; a real manifest rarely uses an alias at all).
pub const MAX_YAML_ALIAS_EVENTS: usize = 10_000;
/// Most documents one multi-document YAML file may hold (`podchain apply`).
pub const MAX_YAML_DOCUMENTS: usize = 1_000;

/// The YAML reader's settings: YAML 1.2 core booleans (as serde_yaml read
/// them before), duplicate keys passed through so that `Checked` reports
/// them with their paths, and budgets that leave the depth check to
/// `Checked` (its error names the path) but stop alias bombs.
pub fn yaml_options() -> serde_saphyr::Options {
    let mut budget = serde_saphyr::Budget::default();
    // Deeper than MAX_BODY_DEPTH, so that Checked reports the depth first.
    budget.max_depth = MAX_BODY_DEPTH + 2;
    budget.max_documents = MAX_YAML_DOCUMENTS;
    let mut opts = serde_saphyr::Options::default();
    opts.budget = Some(budget);
    opts.alias_limits.max_total_replayed_events = MAX_YAML_ALIAS_EVENTS;
    opts.duplicate_keys = serde_saphyr::DuplicateKeyPolicy::LastWins;
    opts.strict_booleans = true;
    // One line per error: the message names the field path already.
    opts.with_snippet = false;
    opts
}

/// Stack of the thread a YAML body is read on. serde-saphyr's reader
/// recurses once per nesting level and its frames are large (about 20 KiB a
/// level in a debug build, 5 KiB optimised); at `MAX_BODY_DEPTH` that is more
/// than an async worker's stack can spare, so YAML is read on a thread of
/// its own. Only the pages touched are committed.
pub const YAML_DECODE_STACK_BYTES: usize = 16 << 20;

/// Runs `f` on a scoped thread with `YAML_DECODE_STACK_BYTES` of stack.
fn on_yaml_stack<T: Send>(f: impl FnOnce() -> T + Send) -> T {
    std::thread::scope(|s| {
        let h = std::thread::Builder::new().name("yaml-decode".into()).stack_size(YAML_DECODE_STACK_BYTES).spawn_scoped(s, f).expect("spawning the YAML decoding thread");
        h.join().unwrap_or_else(|p| std::panic::resume_unwind(p))
    })
}

/// Every document of a multi-document YAML text, as JSON values (empty
/// documents are skipped), under the same budget as a request body.
pub fn decode_yaml_documents(text: &str) -> Result<Vec<Value>, String> {
    let docs: Vec<Value> = on_yaml_stack(|| serde_saphyr::from_multiple_with_options(text, yaml_options()).map_err(|e| e.to_string()))?;
    Ok(docs.into_iter().filter(|v| !v.is_null()).collect())
}

/// A decoded body and what was wrong with it short of an error.
#[derive(Debug)]
pub struct Decoded {
    pub value: Value,
    /// Paths of keys that appeared more than once (the last one was kept).
    pub duplicates: Vec<String>,
}

struct Checked<'a> {
    path: String,
    depth: usize,
    dups: &'a RefCell<Vec<String>>,
}

impl<'de> DeserializeSeed<'de> for Checked<'_> {
    type Value = Value;
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Checked<'_> {
    type Value = Value;
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Value, E> {
        serde_json::Number::from_f64(v).map(Value::Number).ok_or_else(|| E::custom(format!("{}: {v} is not a finite number", self.path)))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_string()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_some<D: serde::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        if self.depth >= MAX_BODY_DEPTH {
            return Err(serde::de::Error::custom(format!("the request body is nested deeper than the limit of {MAX_BODY_DEPTH} at {}", self.path)));
        }
        let mut out = Vec::new();
        while let Some(v) = seq.next_element_seed(Checked { path: format!("{}[{}]", self.path, out.len()), depth: self.depth + 1, dups: self.dups })? {
            out.push(v);
        }
        Ok(Value::Array(out))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        if self.depth >= MAX_BODY_DEPTH {
            return Err(serde::de::Error::custom(format!("the request body is nested deeper than the limit of {MAX_BODY_DEPTH} at {}", self.path)));
        }
        let mut out = Map::new();
        while let Some(k) = map.next_key::<String>()? {
            let path = if self.path.is_empty() { k.clone() } else { format!("{}.{k}", self.path) };
            let v = map.next_value_seed(Checked { path: path.clone(), depth: self.depth + 1, dups: self.dups })?;
            if out.insert(k, v).is_some() {
                let mut d = self.dups.borrow_mut();
                if d.len() < MAX_REPORTED_DUPLICATES {
                    d.push(path);
                }
            }
        }
        Ok(Value::Object(out))
    }
}

pub fn decode_body(content_type: &str, bytes: &[u8]) -> Result<Value, ApiError> {
    decode_checked(content_type, bytes).map(|d| d.value)
}

pub fn decode_checked(content_type: &str, bytes: &[u8]) -> Result<Decoded, ApiError> {
    let mime = content_type.split(';').next().unwrap_or("").trim();
    // The walk over the document, whichever parser feeds it.
    let checked = |walk: &dyn Fn(Checked) -> Result<Value, String>| -> (Result<Value, String>, Vec<String>) {
        let dups = RefCell::new(Vec::new());
        let v = walk(Checked { path: String::new(), depth: 0, dups: &dups });
        (v, dups.into_inner())
    };
    let (value, duplicates) = match mime {
        "" | "application/json" | "*/*" => {
            let (v, dups) = checked(&|seed| {
                let mut de = serde_json::Deserializer::from_slice(bytes);
                let v = seed.deserialize(&mut de).map_err(|e| e.to_string())?;
                de.end().map_err(|e| e.to_string())?;
                Ok(v)
            });
            (v.map_err(|e| ApiError::bad_request(format!("the request body is not valid JSON: {e}")))?, dups)
        }
        "application/yaml" | "application/x-yaml" | "text/yaml" => {
            let (v, dups) = on_yaml_stack(|| checked(&|seed| serde_saphyr::with_deserializer_from_slice_with_options(bytes, yaml_options(), |de| seed.deserialize(de)).map_err(|e| e.to_string())));
            (v.map_err(|e| ApiError::bad_request(format!("the request body is not valid YAML: {e}")))?, dups)
        }
        other => return Err(ApiError::unsupported_media_type(format!("the request body must be application/json or application/yaml, not {other:?}"))),
    };
    Ok(Decoded { value, duplicates })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicate_keys_are_reported_with_their_paths() {
        let d = decode_checked("application/json", br#"{"metadata":{"name":"a","name":"b"},"spec":{"x":[{"k":1,"k":2}]}}"#).unwrap();
        assert_eq!(d.duplicates, ["metadata.name", "spec.x[0].k"]);
        assert_eq!(d.value["metadata"]["name"], "b");
        let d = decode_checked("application/yaml", b"a: 1\nb:\n  c: 1\n  c: 2\n").unwrap();
        assert_eq!(d.duplicates, ["b.c"]);
        assert_eq!(d.value["b"]["c"], 2, "the last one wins, as upstream");
    }

    #[test]
    fn duplicate_reports_are_bounded_at_max_reported_duplicates() {
        let body = |n: usize| format!("{{{}}}", (0..n).map(|i| format!("\"k{i}\":1,\"k{i}\":2")).collect::<Vec<_>>().join(","));
        assert_eq!(decode_checked("application/json", body(MAX_REPORTED_DUPLICATES).as_bytes()).unwrap().duplicates.len(), MAX_REPORTED_DUPLICATES);
        let d = decode_checked("application/json", body(MAX_REPORTED_DUPLICATES + 1).as_bytes()).unwrap();
        assert_eq!(d.duplicates.len(), MAX_REPORTED_DUPLICATES, "the report stops at the bound");
        assert_eq!(d.value.as_object().unwrap().len(), MAX_REPORTED_DUPLICATES + 1, "every key is still decoded");
    }

    #[test]
    fn alias_bombs_and_depth_are_refused_quickly() {
        let mut y = String::from("a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n");
        let names = ["a", "b", "c", "d", "e", "f", "g", "h", "i"];
        for w in names.windows(2) {
            y.push_str(&format!("{}: &{} [*{p},*{p},*{p},*{p},*{p},*{p},*{p},*{p},*{p}]\n", w[1], w[1], p = w[0]));
        }
        let e = decode_body("application/yaml", y.as_bytes()).unwrap_err();
        assert_eq!(e.code, 400);
        let deep = |n: usize| format!("{}1{}", "[".repeat(n), "]".repeat(n));
        assert!(decode_body("application/json", deep(MAX_BODY_DEPTH).as_bytes()).is_ok());
        let e = decode_body("application/json", deep(MAX_BODY_DEPTH + 1).as_bytes()).unwrap_err();
        assert!(e.message.contains("deeper than the limit"), "{}", e.message);
        let e = decode_body("application/yaml", deep(MAX_BODY_DEPTH + 1).as_bytes()).unwrap_err();
        assert!(e.message.contains("limit"), "{}", e.message);
        assert!(decode_body("application/yaml", deep(MAX_BODY_DEPTH).as_bytes()).is_ok());
    }

    /// An alias of a sequence of 998 scalars replays 1,000 events (start,
    /// items, end): ten aliases reach `MAX_YAML_ALIAS_EVENTS`, eleven pass it.
    #[test]
    fn alias_replay_is_bounded_at_its_limit() {
        let yaml = |aliases: usize| format!("a: &a [{}]\nb: [{}]\n", vec!["x"; 998].join(","), vec!["*a"; aliases].join(","));
        assert_eq!(MAX_YAML_ALIAS_EVENTS, 10 * 1000);
        let v = decode_body("application/yaml", yaml(10).as_bytes()).unwrap();
        assert_eq!(v["b"].as_array().unwrap().len(), 10);
        let e = decode_body("application/yaml", yaml(11).as_bytes()).unwrap_err();
        assert!(e.message.contains("alias replay limit"), "{}", e.message);
    }

    #[test]
    fn multi_document_files_are_bounded_in_documents() {
        let docs = |n: usize| "---\na: 1\n".repeat(n);
        assert_eq!(decode_yaml_documents(&docs(MAX_YAML_DOCUMENTS)).unwrap().len(), MAX_YAML_DOCUMENTS);
        assert!(decode_yaml_documents(&docs(MAX_YAML_DOCUMENTS + 1)).is_err());
        assert_eq!(decode_yaml_documents("a: 1\n---\n---\nb: 2\n").unwrap().len(), 2, "empty documents are skipped");
    }
}
