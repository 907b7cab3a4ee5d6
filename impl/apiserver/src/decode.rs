//! Request body decoding: JSON, or YAML (one document), into a JSON value.
//! Bounded: the body size is checked before this runs, and nesting depth is
//! checked here.

use podcore::status::ApiError;
use serde_json::Value;

/// Deepest nesting accepted in a request body.
pub const MAX_BODY_DEPTH: usize = 100;

fn depth_ok(v: &Value, depth: usize) -> bool {
    if depth > MAX_BODY_DEPTH {
        return false;
    }
    match v {
        Value::Array(a) => a.iter().all(|x| depth_ok(x, depth + 1)),
        Value::Object(o) => o.values().all(|x| depth_ok(x, depth + 1)),
        _ => true,
    }
}

pub fn decode_body(content_type: &str, bytes: &[u8]) -> Result<Value, ApiError> {
    let mime = content_type.split(';').next().unwrap_or("").trim();
    let v: Value = match mime {
        "" | "application/json" | "*/*" => serde_json::from_slice(bytes).map_err(|e| ApiError::bad_request(format!("the request body is not valid JSON: {e}")))?,
        "application/yaml" | "application/x-yaml" | "text/yaml" => {
            serde_yaml::from_slice(bytes).map_err(|e| ApiError::bad_request(format!("the request body is not valid YAML: {e}")))?
        }
        other => return Err(ApiError::unsupported_media_type(format!("the request body must be application/json or application/yaml, not {other:?}"))),
    };
    if !depth_ok(&v, 0) {
        return Err(ApiError::bad_request(format!("the request body is nested deeper than the limit of {MAX_BODY_DEPTH}")));
    }
    Ok(v)
}
