//! PATCH bodies applied to an object's JSON: JSON merge patch (RFC 7386) and
//! JSON patch (RFC 6902) by the `json-patch` crate, with upstream's
//! leniencies and podchain's bounds around it, and strategic merge patch
//! (upstream's own format, for the fields whose lists merge by key:
//! containers by name, ports by containerPort, and so on), written here
//! because no crate implements it. Pure functions over `serde_json::Value`.

use serde_json::Value;

/// Most operations one JSON patch may hold.
pub const MAX_JSON_PATCH_OPS: usize = 10_000;
/// Deepest nesting a patch may reach.
pub const MAX_PATCH_DEPTH: usize = 100;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PatchType {
    Merge,
    Json,
    Strategic,
}

impl PatchType {
    pub fn from_content_type(ct: &str) -> Option<PatchType> {
        match ct.split(';').next().unwrap_or("").trim() {
            "application/merge-patch+json" => Some(PatchType::Merge),
            "application/json-patch+json" => Some(PatchType::Json),
            "application/strategic-merge-patch+json" => Some(PatchType::Strategic),
            _ => None,
        }
    }
}

pub fn apply(kind_name: &str, patch_type: PatchType, target: &Value, patch: &Value) -> Result<Value, String> {
    check_depth(patch, 0)?;
    match patch_type {
        PatchType::Merge => {
            if !patch.is_object() {
                return Err("a JSON merge patch must be a JSON object".into());
            }
            Ok(merge_patch(target, patch))
        }
        PatchType::Json => json_patch(target, patch),
        PatchType::Strategic => {
            if !patch.is_object() {
                return Err("a strategic merge patch must be a JSON object".into());
            }
            strategic(kind_name, "", target, patch)
        }
    }
}

fn check_depth(v: &Value, depth: usize) -> Result<(), String> {
    if depth > MAX_PATCH_DEPTH {
        return Err(format!("patch nesting is deeper than the limit of {MAX_PATCH_DEPTH}"));
    }
    match v {
        Value::Array(a) => a.iter().try_for_each(|x| check_depth(x, depth + 1)),
        Value::Object(o) => o.values().try_for_each(|x| check_depth(x, depth + 1)),
        _ => Ok(()),
    }
}

/// RFC 7386, by the `json-patch` crate.
pub fn merge_patch(target: &Value, patch: &Value) -> Value {
    let mut out = target.clone();
    json_patch::merge(&mut out, patch);
    out
}

/// RFC 6902, by the `json-patch` crate, with upstream's leniencies on top.
/// The apiserver applies JSON patches with evanphx/json-patch v4, which is
/// laxer than the RFC in ways clients rely on, so each operation's pointers
/// are first rewritten into the RFC's form against the document as it is at
/// that operation (`upstream_pointer`):
/// - an array index is read as Go's `strconv.Atoi` reads it, so `00` and
///   `+1` are indices, and a negative index counts from the end;
/// - `replace` of an object member that does not exist adds it;
/// - `test` of a member that does not exist against `null` passes.
pub fn json_patch(target: &Value, patch: &Value) -> Result<Value, String> {
    let ops = patch.as_array().ok_or("a JSON patch must be a JSON array of operations")?;
    if ops.len() > MAX_JSON_PATCH_OPS {
        return Err(format!("JSON patch has {} operations, more than the limit of {MAX_JSON_PATCH_OPS}", ops.len()));
    }
    let mut doc = target.clone();
    for (i, raw) in ops.iter().enumerate() {
        let name = raw.get("op").and_then(Value::as_str).ok_or_else(|| format!("operation {i}: missing \"op\""))?;
        let path = raw.get("path").and_then(Value::as_str).ok_or_else(|| format!("operation {i}: missing \"path\""))?;
        let fail = |e: String| format!("operation {i} ({name} {path}): {e}");
        let mut op = raw.clone();
        let role = match name {
            "add" | "move" | "copy" => Role::Insert,
            _ => Role::Existing,
        };
        op["path"] = Value::String(upstream_pointer(&doc, path, role).map_err(fail)?);
        if let Some(from) = raw.get("from").and_then(Value::as_str) {
            op["from"] = Value::String(upstream_pointer(&doc, from, Role::Existing).map_err(fail)?);
        }
        let pointer = op["path"].as_str().unwrap_or_default().to_string();
        if pointer_missing_member(&doc, &pointer) {
            match name {
                "replace" => op["op"] = Value::String("add".into()),
                "test" if raw.get("value").is_some_and(Value::is_null) => continue,
                _ => {}
            }
        }
        let op: json_patch::PatchOperation = serde_json::from_value(op).map_err(|e| fail(e.to_string()))?;
        json_patch::patch(&mut doc, std::slice::from_ref(&op)).map_err(|e| fail(e.kind.to_string()))?;
    }
    Ok(doc)
}

/// Whether the last reference token of a pointer names an array position
/// that may be one past the end (`add`, and a `move` or `copy` target) or
/// an element that must exist.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Role {
    Insert,
    Existing,
}

/// Go's `strconv.Atoi` on an array reference token: optional sign, decimal digits.
fn go_atoi(token: &str) -> Option<i64> {
    let digits = token.strip_prefix(['+', '-']).unwrap_or(token);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    token.parse::<i64>().ok()
}

/// Rewrites every array index of `pointer` the way evanphx/json-patch v4
/// resolves it against `doc`, so that the RFC implementation sees a plain
/// index. Tokens under objects, `-`, and paths that leave the document are
/// passed through for the crate to judge.
fn upstream_pointer(doc: &Value, pointer: &str, role: Role) -> Result<String, String> {
    if pointer.is_empty() {
        return Ok(String::new());
    }
    if !pointer.starts_with('/') {
        return Err(format!("JSON pointer {pointer:?} must start with '/'"));
    }
    let tokens: Vec<&str> = pointer[1..].split('/').collect();
    let mut out = String::with_capacity(pointer.len());
    let mut cur = Some(doc);
    for (n, token) in tokens.iter().enumerate() {
        let last = n + 1 == tokens.len();
        let mut written = token.to_string();
        cur = match cur {
            Some(Value::Array(a)) if *token != "-" => match go_atoi(token) {
                Some(idx) => {
                    let len = a.len() as i64;
                    // add may name one past the end; a negative index counts from
                    // that end (len + 1 for add, len otherwise), as upstream.
                    let span = if last && role == Role::Insert { len + 1 } else { len };
                    let resolved = if idx < 0 { idx + span } else { idx };
                    if resolved < 0 || resolved >= span {
                        return Err(format!("array index {token} is out of range (the array has {len} elements)"));
                    }
                    written = resolved.to_string();
                    a.get(resolved as usize)
                }
                None => return Err(format!("{token:?} is not an array index")),
            },
            Some(Value::Object(o)) => o.get(&token.replace("~1", "/").replace("~0", "~")),
            _ => None,
        };
        out.push('/');
        out.push_str(&written);
    }
    Ok(out)
}

/// Whether `pointer` names a member absent from an object that exists.
fn pointer_missing_member(doc: &Value, pointer: &str) -> bool {
    let Some((parent, last)) = pointer.rsplit_once('/') else { return false };
    match doc.pointer(parent) {
        Some(Value::Object(o)) => !o.contains_key(&last.replace("~1", "/").replace("~0", "~")),
        _ => false,
    }
}

/// The merge key of a list field (upstream's `patchMergeKey` tags), by the
/// field's path suffix.
fn merge_key(path: &str) -> Option<&'static str> {
    let field = path.rsplit('.').next().unwrap_or(path);
    match field {
        "containers" | "initContainers" | "ephemeralContainers" | "env" | "volumes" | "volumeMounts" | "imagePullSecrets" => Some("name"),
        "ports" if path.contains("containers") => Some("containerPort"),
        "conditions" => Some("type"),
        "ownerReferences" => Some("uid"),
        "addresses" => Some("type"),
        "hostAliases" => Some("ip"),
        "finalizers" => None,
        _ => None,
    }
}

fn strategic(kind: &str, path: &str, target: &Value, patch: &Value) -> Result<Value, String> {
    let (Value::Object(t), Value::Object(p)) = (target, patch) else {
        return Ok(patch.clone());
    };
    if p.get("$patch").and_then(Value::as_str) == Some("replace") {
        let mut p = p.clone();
        p.remove("$patch");
        return Ok(Value::Object(p));
    }
    let mut out = t.clone();
    for (k, v) in p {
        if k.starts_with("$") {
            // Directives other than those handled ($retainKeys, $setElementOrder) are ordering hints.
            continue;
        }
        let child_path = if path.is_empty() { k.clone() } else { format!("{path}.{k}") };
        if v.is_null() {
            out.remove(k);
            continue;
        }
        let merged = match (out.get(k), v) {
            (Some(Value::Array(ta)), Value::Array(pa)) => match merge_key(&child_path) {
                Some(key) => Value::Array(merge_list(kind, &child_path, key, ta, pa)?),
                None => Value::Array(pa.clone()),
            },
            (Some(tv @ Value::Object(_)), Value::Object(_)) => strategic(kind, &child_path, tv, v)?,
            _ => strip_directives(v),
        };
        out.insert(k.clone(), merged);
    }
    Ok(Value::Object(out))
}

fn strip_directives(v: &Value) -> Value {
    match v {
        Value::Object(o) => Value::Object(o.iter().filter(|(k, _)| !k.starts_with('$')).map(|(k, v)| (k.clone(), strip_directives(v))).collect()),
        Value::Array(a) => Value::Array(a.iter().map(strip_directives).collect()),
        other => other.clone(),
    }
}

fn merge_list(kind: &str, path: &str, key: &str, target: &[Value], patch: &[Value]) -> Result<Vec<Value>, String> {
    let mut out: Vec<Value> = target.to_vec();
    for item in patch {
        let Some(k) = item.get(key) else {
            return Err(format!("{path}: every element of a list merged by {key:?} must have {key:?}"));
        };
        let delete = item.get("$patch").and_then(Value::as_str) == Some("delete");
        match out.iter().position(|t| t.get(key) == Some(k)) {
            Some(i) if delete => {
                out.remove(i);
            }
            Some(i) => out[i] = strategic(kind, path, &out[i], item)?,
            None if delete => {}
            None => out.push(strip_directives(item)),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn merge_patch_rfc7386_examples() {
        let t = json!({"a": "b", "c": {"d": "e", "f": "g"}});
        let p = json!({"a": "z", "c": {"f": null}});
        assert_eq!(merge_patch(&t, &p), json!({"a": "z", "c": {"d": "e"}}));
        assert_eq!(merge_patch(&json!({"a": [1]}), &json!({"a": [2, 3]})), json!({"a": [2, 3]}));
    }

    #[test]
    fn json_patch_ops() {
        let t = json!({"spec": {"replicas": 1, "list": [1, 2]}});
        let p = json!([
            {"op": "replace", "path": "/spec/replicas", "value": 3},
            {"op": "add", "path": "/spec/list/-", "value": 4},
            {"op": "remove", "path": "/spec/list/0"},
            {"op": "test", "path": "/spec/replicas", "value": 3},
            {"op": "copy", "from": "/spec/replicas", "path": "/spec/copy"},
        ]);
        assert_eq!(json_patch(&t, &p).unwrap(), json!({"spec": {"replicas": 3, "list": [2, 4], "copy": 3}}));
        let e = json_patch(&t, &json!([{"op": "test", "path": "/spec/replicas", "value": 9}])).unwrap_err();
        assert!(e.contains("operation 0"), "{e}");
    }

    /// evanphx/json-patch v4, which upstream's apiserver uses, reads array
    /// indices with strconv.Atoi and counts negative ones from the end.
    #[test]
    fn array_indices_are_read_as_upstream_reads_them() {
        let t = json!({"spec": {"containers": [{"name": "a"}, {"name": "b"}]}});
        let cases = [
            (json!([{"op": "replace", "path": "/spec/containers/00/name", "value": "x"}]), json!(["x", "b"])),
            (json!([{"op": "replace", "path": "/spec/containers/+1/name", "value": "x"}]), json!(["a", "x"])),
            (json!([{"op": "replace", "path": "/spec/containers/-1/name", "value": "x"}]), json!(["a", "x"])),
            (json!([{"op": "remove", "path": "/spec/containers/-2"}]), json!(["b"])),
            (json!([{"op": "add", "path": "/spec/containers/-1", "value": {"name": "x"}}]), json!(["a", "b", "x"])),
            (json!([{"op": "add", "path": "/spec/containers/-3", "value": {"name": "x"}}]), json!(["x", "a", "b"])),
            (json!([{"op": "add", "path": "/spec/containers/2", "value": {"name": "x"}}]), json!(["a", "b", "x"])),
            (json!([{"op": "add", "path": "/spec/containers/-", "value": {"name": "x"}}]), json!(["a", "b", "x"])),
            (json!([{"op": "move", "from": "/spec/containers/01", "path": "/spec/containers/0"}]), json!(["b", "a"])),
        ];
        for (p, names) in cases {
            let r = json_patch(&t, &p).unwrap_or_else(|e| panic!("{p}: {e}"));
            let got: Vec<&Value> = r["spec"]["containers"].as_array().unwrap().iter().map(|c| &c["name"]).collect();
            assert_eq!(json!(got), names, "{p}");
        }
        for bad in ["/spec/containers/2/name", "/spec/containers/-3/name", "/spec/containers/x/name", "/spec/containers/1.0/name"] {
            let e = json_patch(&t, &json!([{"op": "replace", "path": bad, "value": "x"}])).unwrap_err();
            assert!(e.contains("operation 0 (replace ") && e.contains(bad), "{bad}: {e}");
        }
        assert!(json_patch(&t, &json!([{"op": "add", "path": "/spec/containers/3", "value": 1}])).is_err());
        assert!(json_patch(&t, &json!([{"op": "add", "path": "/spec/containers/-4", "value": 1}])).is_err());
    }

    /// Upstream's replace adds a missing object member, and its test of a
    /// missing member against null passes; the RFC refuses both.
    #[test]
    fn missing_members_are_treated_as_upstream_treats_them() {
        let t = json!({"metadata": {"name": "p"}});
        assert_eq!(json_patch(&t, &json!([{"op": "replace", "path": "/metadata/labels", "value": {"a": "b"}}])).unwrap(), json!({"metadata": {"name": "p", "labels": {"a": "b"}}}));
        assert_eq!(json_patch(&t, &json!([{"op": "test", "path": "/metadata/labels", "value": null}])).unwrap(), t);
        let e = json_patch(&t, &json!([{"op": "test", "path": "/metadata/labels", "value": {}}])).unwrap_err();
        assert!(e.contains("operation 0 (test /metadata/labels)"), "{e}");
        let e = json_patch(&t, &json!([{"op": "remove", "path": "/metadata/labels"}])).unwrap_err();
        assert!(e.contains("/metadata/labels"), "{e}");
        let e = json_patch(&t, &json!([{"op": "replace", "path": "/spec/replicas", "value": 1}])).unwrap_err();
        assert!(e.contains("/spec/replicas"), "a missing parent is still an error: {e}");
        let e = json_patch(&t, &json!([{"op": "add", "path": "/metadata/x"}])).unwrap_err();
        assert!(e.contains("operation 0") && e.contains("value"), "{e}");
        let e = json_patch(&t, &json!([{"op": "frobnicate", "path": "/metadata/x"}])).unwrap_err();
        assert!(e.contains("operation 0 (frobnicate"), "{e}");
    }

    #[test]
    fn strategic_merges_containers_by_name() {
        let t = json!({"spec": {"template": {"spec": {"containers": [{"name": "a", "image": "x:1"}, {"name": "b", "image": "y:1"}]}}}});
        let p = json!({"spec": {"template": {"spec": {"containers": [{"name": "b", "image": "y:2"}]}}}});
        let r = apply("Deployment", PatchType::Strategic, &t, &p).unwrap();
        assert_eq!(r["spec"]["template"]["spec"]["containers"], json!([{"name": "a", "image": "x:1"}, {"name": "b", "image": "y:2"}]));
        let del = json!({"spec": {"template": {"spec": {"containers": [{"name": "a", "$patch": "delete"}]}}}});
        let r = apply("Deployment", PatchType::Strategic, &t, &del).unwrap();
        assert_eq!(r["spec"]["template"]["spec"]["containers"], json!([{"name": "b", "image": "y:1"}]));
    }

    #[test]
    fn json_patch_op_count_is_bounded() {
        let op = json!({"op": "test", "path": "/a", "value": 1});
        let at = Value::Array(vec![op.clone(); MAX_JSON_PATCH_OPS]);
        assert!(json_patch(&json!({"a": 1}), &at).is_ok());
        let over = Value::Array(vec![op; MAX_JSON_PATCH_OPS + 1]);
        assert!(json_patch(&json!({"a": 1}), &over).unwrap_err().contains("limit"));
    }

    #[test]
    fn nesting_beyond_the_limit_is_refused() {
        let mut v = json!(1);
        for _ in 0..=MAX_PATCH_DEPTH {
            v = json!({"a": v});
        }
        assert!(apply("Pod", PatchType::Merge, &json!({}), &v).unwrap_err().contains("deeper"));
    }
}
