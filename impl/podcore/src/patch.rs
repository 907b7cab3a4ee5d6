//! PATCH bodies applied to an object's JSON: JSON merge patch (RFC 7386),
//! JSON patch (RFC 6902) and strategic merge patch (upstream's, for the
//! fields whose lists merge by key: containers by name, ports by
//! containerPort, and so on). Pure functions over `serde_json::Value`.

use serde_json::{Map, Value};

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

/// RFC 7386.
pub fn merge_patch(target: &Value, patch: &Value) -> Value {
    match patch {
        Value::Object(p) => {
            let mut out = match target {
                Value::Object(t) => t.clone(),
                _ => Map::new(),
            };
            for (k, v) in p {
                if v.is_null() {
                    out.remove(k);
                } else {
                    let merged = merge_patch(out.get(k).unwrap_or(&Value::Null), v);
                    out.insert(k.clone(), merged);
                }
            }
            Value::Object(out)
        }
        other => other.clone(),
    }
}

fn unescape(token: &str) -> String {
    token.replace("~1", "/").replace("~0", "~")
}

fn pointer_parts(path: &str) -> Result<Vec<String>, String> {
    if path.is_empty() {
        return Ok(vec![]);
    }
    if !path.starts_with('/') {
        return Err(format!("JSON pointer {path:?} must start with '/'"));
    }
    Ok(path[1..].split('/').map(unescape).collect())
}

fn parent_mut<'a>(root: &'a mut Value, parts: &[String]) -> Result<&'a mut Value, String> {
    let mut cur = root;
    for p in &parts[..parts.len() - 1] {
        cur = match cur {
            Value::Object(o) => o.get_mut(p).ok_or_else(|| format!("path element {p:?} does not exist"))?,
            Value::Array(a) => {
                let i: usize = p.parse().map_err(|_| format!("{p:?} is not an array index"))?;
                a.get_mut(i).ok_or_else(|| format!("array index {i} is out of range"))?
            }
            _ => return Err(format!("path element {p:?} is inside a scalar")),
        };
    }
    Ok(cur)
}

fn add(root: &mut Value, path: &str, value: Value) -> Result<(), String> {
    let parts = pointer_parts(path)?;
    if parts.is_empty() {
        *root = value;
        return Ok(());
    }
    let last = parts.last().unwrap().clone();
    match parent_mut(root, &parts)? {
        Value::Object(o) => {
            o.insert(last, value);
        }
        Value::Array(a) => {
            if last == "-" {
                a.push(value);
            } else {
                let i: usize = last.parse().map_err(|_| format!("{last:?} is not an array index"))?;
                if i > a.len() {
                    return Err(format!("array index {i} is out of range"));
                }
                a.insert(i, value);
            }
        }
        _ => return Err(format!("cannot add {path:?}: parent is a scalar")),
    }
    Ok(())
}

fn remove(root: &mut Value, path: &str) -> Result<Value, String> {
    let parts = pointer_parts(path)?;
    let last = parts.last().ok_or("cannot remove the whole document")?.clone();
    match parent_mut(root, &parts)? {
        Value::Object(o) => o.remove(&last).ok_or_else(|| format!("cannot remove {path:?}: it does not exist")),
        Value::Array(a) => {
            let i: usize = last.parse().map_err(|_| format!("{last:?} is not an array index"))?;
            if i >= a.len() {
                return Err(format!("array index {i} is out of range"));
            }
            Ok(a.remove(i))
        }
        _ => Err(format!("cannot remove {path:?}: parent is a scalar")),
    }
}

/// RFC 6902.
pub fn json_patch(target: &Value, patch: &Value) -> Result<Value, String> {
    let ops = patch.as_array().ok_or("a JSON patch must be a JSON array of operations")?;
    if ops.len() > MAX_JSON_PATCH_OPS {
        return Err(format!("JSON patch has {} operations, more than the limit of {MAX_JSON_PATCH_OPS}", ops.len()));
    }
    let mut doc = target.clone();
    for (i, op) in ops.iter().enumerate() {
        let name = op.get("op").and_then(Value::as_str).ok_or_else(|| format!("operation {i}: missing \"op\""))?;
        let path = op.get("path").and_then(Value::as_str).ok_or_else(|| format!("operation {i}: missing \"path\""))?;
        let value = || op.get("value").cloned().ok_or_else(|| format!("operation {i} ({name}): missing \"value\""));
        let from = || op.get("from").and_then(Value::as_str).ok_or_else(|| format!("operation {i} ({name}): missing \"from\""));
        let r = match name {
            "add" => add(&mut doc, path, value()?),
            "remove" => remove(&mut doc, path).map(|_| ()),
            "replace" => {
                remove(&mut doc, path)?;
                add(&mut doc, path, value()?)
            }
            "move" => {
                let v = remove(&mut doc, from()?)?;
                add(&mut doc, path, v)
            }
            "copy" => {
                let v = doc.pointer(from()?).cloned().ok_or_else(|| format!("operation {i}: \"from\" does not exist"))?;
                add(&mut doc, path, v)
            }
            "test" => {
                if doc.pointer(path) == Some(&value()?) {
                    Ok(())
                } else {
                    Err(format!("testing value {path:?} failed"))
                }
            }
            other => Err(format!("unknown operation {other:?}")),
        };
        r.map_err(|e| format!("operation {i} ({name} {path}): {e}"))?;
    }
    Ok(doc)
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
