//! Request body decoding: JSON, or YAML (one document), into a JSON value.
//! Bounded: the body size is checked before this runs; nesting depth is
//! checked here (and both parsers stop at their own recursion limits);
//! YAML alias expansion is capped by serde_yaml's repetition limit.
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
    let dups = RefCell::new(Vec::new());
    let seed = Checked { path: String::new(), depth: 0, dups: &dups };
    let value = match mime {
        "" | "application/json" | "*/*" => {
            let mut de = serde_json::Deserializer::from_slice(bytes);
            let v = seed.deserialize(&mut de).map_err(|e| ApiError::bad_request(format!("the request body is not valid JSON: {e}")))?;
            de.end().map_err(|e| ApiError::bad_request(format!("the request body is not valid JSON: {e}")))?;
            v
        }
        "application/yaml" | "application/x-yaml" | "text/yaml" => {
            let de = serde_yaml::Deserializer::from_slice(bytes);
            seed.deserialize(de).map_err(|e| ApiError::bad_request(format!("the request body is not valid YAML: {e}")))?
        }
        other => return Err(ApiError::unsupported_media_type(format!("the request body must be application/json or application/yaml, not {other:?}"))),
    };
    Ok(Decoded { value, duplicates: dups.into_inner() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicate_keys_are_reported_with_their_paths() {
        let d = decode_checked("application/json", br#"{"metadata":{"name":"a","name":"b"},"spec":{"x":[{"k":1,"k":2}]}}"#).unwrap();
        assert_eq!(d.duplicates, ["metadata.name", "spec.x[0].k"]);
        assert_eq!(d.value["metadata"]["name"], "b");
        let d = decode_checked("application/yaml", b"a: 1\nb:\n  c: 1\n  c: 2\n");
        // serde_yaml may itself refuse duplicate keys; either way they are not silently lost.
        match d {
            Ok(d) => assert_eq!(d.duplicates, ["b.c"]),
            Err(e) => assert!(e.message.contains("duplicate"), "{}", e.message),
        }
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
    }
}
