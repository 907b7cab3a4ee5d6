//! The name grammars every other module checks against: DNS-1123 labels and
//! subdomains (object names, namespaces, container names), qualified names
//! (label and annotation keys, finalizers, resource names) and label values,
//! as upstream's `k8s.io/apimachinery/pkg/util/validation`.
//!
//! This module sits below everything else in the core: it uses nothing from
//! the crate, so `labels`, `validation`, `types` and `object` can all take
//! from it without a circle (`tests/layers.rs` keeps the core's modules in
//! one order).

/// Longest object name (DNS-1123 subdomain), and longest qualified-name prefix.
pub const MAX_NAME_LEN: usize = 253;
/// Longest DNS-1123 label (namespaces, container names, ports' names' parts).
pub const MAX_LABEL_NAME_LEN: usize = 63;
/// Longest label value, and longest name part of a qualified name.
pub const MAX_LABEL_VALUE_LEN: usize = 63;

fn label_chars_ok(b: &[u8]) -> bool {
    !b.is_empty()
        && (b[0].is_ascii_lowercase() || b[0].is_ascii_digit())
        && (b[b.len() - 1].is_ascii_lowercase() || b[b.len() - 1].is_ascii_digit())
        && b.iter().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
}

/// Upstream's `IsDNS1123Label`.
pub fn dns1123_label(s: &str) -> Result<(), String> {
    if s.len() <= MAX_LABEL_NAME_LEN && label_chars_ok(s.as_bytes()) {
        Ok(())
    } else {
        Err(format!(
            "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character, at most {MAX_LABEL_NAME_LEN} characters (e.g. 'my-name', or '123-abc')"
        ))
    }
}

/// Upstream's `IsDNS1123Subdomain`.
pub fn dns1123_subdomain(s: &str) -> Result<(), String> {
    if !s.is_empty() && s.len() <= MAX_NAME_LEN && s.split('.').all(|part| label_chars_ok(part.as_bytes())) {
        Ok(())
    } else {
        Err(format!(
            "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character, at most {MAX_NAME_LEN} characters (e.g. 'example.com')"
        ))
    }
}

/// Alphanumerics, '-', '_' or '.', starting and ending with an alphanumeric.
fn is_qualified_name_part(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b[0].is_ascii_alphanumeric()
        && b[b.len() - 1].is_ascii_alphanumeric()
        && b.iter().all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
}

/// Upstream's `IsQualifiedName`: a name part with an optional DNS-subdomain
/// prefix (`example.com/name`). Label and annotation keys, finalizers and
/// resource names are qualified names.
pub fn qualified_name(k: &str) -> Result<(), String> {
    let (prefix, name) = match k.split_once('/') {
        Some((p, n)) => (Some(p), n),
        None => (None, k),
    };
    if let Some(p) = prefix {
        if p.is_empty() {
            return Err("prefix part must be non-empty".into());
        }
        dns1123_subdomain(p).map_err(|e| format!("prefix part {e}"))?;
    }
    if name.is_empty() || name.len() > MAX_LABEL_VALUE_LEN || !is_qualified_name_part(name) {
        return Err(format!(
            "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character, at most {MAX_LABEL_VALUE_LEN} characters (got {k:?})"
        ));
    }
    Ok(())
}

/// Upstream's `IsValidLabelValue`: empty, or a name part of at most 63 characters.
pub fn label_value(v: &str) -> Result<(), String> {
    if v.is_empty() || (v.len() <= MAX_LABEL_VALUE_LEN && is_qualified_name_part(v)) {
        Ok(())
    } else {
        Err(format!(
            "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character, at most {MAX_LABEL_VALUE_LEN} characters (got {v:?})"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subdomains_and_labels_at_their_bounds() {
        assert!(dns1123_subdomain("web-1.example").is_ok());
        for bad in ["", "Web", "-a", "a-", "a..b", "a_b", ".a", "a."] {
            assert!(dns1123_subdomain(bad).is_err(), "{bad}");
        }
        assert!(dns1123_subdomain(&"a".repeat(MAX_NAME_LEN)).is_ok());
        assert!(dns1123_subdomain(&"a".repeat(MAX_NAME_LEN + 1)).is_err());
        assert!(dns1123_label(&"a".repeat(MAX_LABEL_NAME_LEN)).is_ok());
        assert!(dns1123_label(&"a".repeat(MAX_LABEL_NAME_LEN + 1)).is_err());
        assert!(dns1123_label("a.b").is_err());
    }

    #[test]
    fn qualified_names_and_label_values_at_their_bounds() {
        for good in ["app", "example.com/app", "A_b.c-D", "k8s.io/x"] {
            assert!(qualified_name(good).is_ok(), "{good}");
        }
        for bad in ["", "/app", "example.com/", "Example.com/app", "a/b/c", "-app", "app-", "has space"] {
            assert!(qualified_name(bad).is_err(), "{bad}");
        }
        assert!(qualified_name(&"a".repeat(MAX_LABEL_VALUE_LEN)).is_ok());
        assert!(qualified_name(&"a".repeat(MAX_LABEL_VALUE_LEN + 1)).is_err());
        assert!(label_value("").is_ok());
        assert!(label_value(&"v".repeat(MAX_LABEL_VALUE_LEN)).is_ok());
        assert!(label_value(&"v".repeat(MAX_LABEL_VALUE_LEN + 1)).is_err());
        assert!(label_value("-x").is_err());
    }
}
