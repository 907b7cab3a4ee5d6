//! Label selectors: the structured `metav1.LabelSelector` (matchLabels +
//! matchExpressions) and the string form of `?labelSelector=`
//! (`a=b,c!=d,e in (x,y),f notin (z),g,!h`), both compiled to one
//! `Selector` that matches label maps.

use crate::meta::StringMap;
use crate::names::{label_value as validate_label_value, qualified_name as validate_label_key};
use serde::{Deserialize, Serialize};

/// Longest selector string accepted, in bytes.
pub const MAX_SELECTOR_LEN: usize = 4096;
/// Most requirements one selector may hold.
pub const MAX_REQUIREMENTS: usize = 64;

#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LabelSelector {
    #[serde(default, skip_serializing_if = "StringMap::is_empty")]
    pub match_labels: StringMap,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub match_expressions: Vec<LabelSelectorRequirement>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LabelSelectorRequirement {
    pub key: String,
    pub operator: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub values: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Op {
    Equals,
    NotEquals,
    In,
    NotIn,
    Exists,
    DoesNotExist,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Requirement {
    pub key: String,
    pub op: Op,
    pub values: Vec<String>,
}

/// A compiled selector: every requirement must hold. The empty selector
/// matches everything; `Selector::nothing()` matches nothing.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Selector {
    pub requirements: Vec<Requirement>,
    pub matches_nothing: bool,
}

impl Requirement {
    fn matches(&self, labels: &StringMap) -> bool {
        let v = labels.get(&self.key);
        match self.op {
            Op::Equals | Op::In => v.is_some_and(|v| self.values.contains(v)),
            Op::NotEquals | Op::NotIn => v.is_none_or(|v| !self.values.contains(v)),
            Op::Exists => v.is_some(),
            Op::DoesNotExist => v.is_none(),
        }
    }
}

impl Selector {
    pub fn everything() -> Selector {
        Selector::default()
    }
    pub fn nothing() -> Selector {
        Selector { requirements: vec![], matches_nothing: true }
    }
    pub fn is_everything(&self) -> bool {
        !self.matches_nothing && self.requirements.is_empty()
    }
    pub fn matches(&self, labels: &StringMap) -> bool {
        !self.matches_nothing && self.requirements.iter().all(|r| r.matches(labels))
    }

    /// Parses the string form. Errors say what was expected where.
    pub fn parse(s: &str) -> Result<Selector, String> {
        if s.len() > MAX_SELECTOR_LEN {
            return Err(format!("selector is {} bytes long, more than the limit of {MAX_SELECTOR_LEN}", s.len()));
        }
        let mut p = Parser { s: s.as_bytes(), i: 0, src: s };
        let mut reqs = Vec::new();
        p.ws();
        if p.i == p.s.len() {
            return Ok(Selector::everything());
        }
        loop {
            reqs.push(p.requirement()?);
            if reqs.len() > MAX_REQUIREMENTS {
                return Err(format!("selector has more than {MAX_REQUIREMENTS} requirements"));
            }
            p.ws();
            match p.peek() {
                None => break,
                Some(b',') => {
                    p.i += 1;
                }
                Some(c) => return Err(p.err(&format!("expected ',' or end of selector, found {:?}", c as char))),
            }
        }
        Ok(Selector { requirements: reqs, matches_nothing: false })
    }
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
    src: &'a str,
}

impl Parser<'_> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }
    fn ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t')) {
            self.i += 1;
        }
    }
    fn err(&self, what: &str) -> String {
        format!("unable to parse selector {:?} at position {}: {what}", self.src, self.i)
    }
    fn word(&mut self) -> String {
        let start = self.i;
        while let Some(c) = self.peek() {
            if c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.' | b'/') {
                self.i += 1;
            } else {
                break;
            }
        }
        self.src[start..self.i].to_string()
    }
    fn requirement(&mut self) -> Result<Requirement, String> {
        self.ws();
        if self.peek() == Some(b'!') {
            self.i += 1;
            self.ws();
            let key = self.key()?;
            return Ok(Requirement { key, op: Op::DoesNotExist, values: vec![] });
        }
        let key = self.key()?;
        self.ws();
        let rest = &self.s[self.i..];
        if rest.starts_with(b"!=") {
            self.i += 2;
            return Ok(Requirement { key, op: Op::NotEquals, values: vec![self.value()?] });
        }
        if rest.starts_with(b"==") {
            self.i += 2;
            return Ok(Requirement { key, op: Op::Equals, values: vec![self.value()?] });
        }
        if rest.starts_with(b"=") {
            self.i += 1;
            return Ok(Requirement { key, op: Op::Equals, values: vec![self.value()?] });
        }
        if matches!(self.peek(), None | Some(b',')) {
            return Ok(Requirement { key, op: Op::Exists, values: vec![] });
        }
        let word = self.word();
        let op = match word.as_str() {
            "in" => Op::In,
            "notin" => Op::NotIn,
            _ => return Err(self.err(&format!("expected one of '=', '==', '!=', 'in', 'notin' after key {key:?}"))),
        };
        self.ws();
        if self.peek() != Some(b'(') {
            return Err(self.err("expected '(' to open the value set"));
        }
        self.i += 1;
        let mut values = Vec::new();
        loop {
            self.ws();
            let v = self.word();
            validate_label_value(&v).map_err(|e| self.err(&e))?;
            values.push(v);
            self.ws();
            match self.peek() {
                Some(b',') => self.i += 1,
                Some(b')') => {
                    self.i += 1;
                    break;
                }
                _ => return Err(self.err("expected ',' or ')' in the value set")),
            }
        }
        Ok(Requirement { key, op, values })
    }
    fn key(&mut self) -> Result<String, String> {
        let k = self.word();
        if k.is_empty() {
            return Err(self.err("expected a label key"));
        }
        validate_label_key(&k).map_err(|e| self.err(&e))?;
        Ok(k)
    }
    fn value(&mut self) -> Result<String, String> {
        self.ws();
        let v = self.word();
        validate_label_value(&v).map_err(|e| self.err(&e))?;
        Ok(v)
    }
}

impl LabelSelector {
    /// Compiles the structured form. As upstream, an empty LabelSelector
    /// matches everything (callers that want "nil matches nothing" decide).
    pub fn to_selector(&self) -> Result<Selector, String> {
        let mut reqs = Vec::new();
        for (k, v) in &self.match_labels {
            validate_label_key(k).map_err(|e| format!("matchLabels: {e}"))?;
            validate_label_value(v).map_err(|e| format!("matchLabels[{k}]: {e}"))?;
            reqs.push(Requirement { key: k.clone(), op: Op::Equals, values: vec![v.clone()] });
        }
        for (i, e) in self.match_expressions.iter().enumerate() {
            validate_label_key(&e.key).map_err(|err| format!("matchExpressions[{i}].key: {err}"))?;
            for v in &e.values {
                validate_label_value(v).map_err(|err| format!("matchExpressions[{i}].values: {err}"))?;
            }
            let op = match e.operator.as_str() {
                "In" => Op::In,
                "NotIn" => Op::NotIn,
                "Exists" => Op::Exists,
                "DoesNotExist" => Op::DoesNotExist,
                other => return Err(format!("matchExpressions[{i}].operator: Unsupported value: {other:?}: supported values: \"In\", \"NotIn\", \"Exists\", \"DoesNotExist\"")),
            };
            match op {
                Op::In | Op::NotIn if e.values.is_empty() => {
                    return Err(format!("matchExpressions[{i}].values: Required value: must be specified when `operator` is 'In' or 'NotIn'"))
                }
                Op::Exists | Op::DoesNotExist if !e.values.is_empty() => {
                    return Err(format!("matchExpressions[{i}].values: Forbidden: may not be specified when `operator` is 'Exists' or 'DoesNotExist'"))
                }
                _ => {}
            }
            reqs.push(Requirement { key: e.key.clone(), op, values: e.values.clone() });
        }
        Ok(Selector { requirements: reqs, matches_nothing: false })
    }

    pub fn is_empty(&self) -> bool {
        self.match_labels.is_empty() && self.match_expressions.is_empty()
    }

    /// Matches labels; an invalid selector matches nothing.
    pub fn matches(&self, labels: &StringMap) -> bool {
        self.to_selector().map(|s| s.matches(labels)).unwrap_or(false)
    }

    /// The string form, as `Scale.status.selector` and `kubectl` show it.
    pub fn to_query_string(&self) -> String {
        let mut parts: Vec<String> = self.match_labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
        for e in &self.match_expressions {
            parts.push(match e.operator.as_str() {
                "In" => format!("{} in ({})", e.key, e.values.join(",")),
                "NotIn" => format!("{} notin ({})", e.key, e.values.join(",")),
                "Exists" => e.key.clone(),
                _ => format!("!{}", e.key),
            });
        }
        parts.join(",")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> StringMap {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    /// Data-driven: selector, labels, expected match.
    #[test]
    fn string_selectors_match_as_upstream() {
        let l = labels(&[("app", "web"), ("tier", "front"), ("env", "prod")]);
        let cases: &[(&str, bool)] = &[
            ("", true),
            ("app=web", true),
            ("app==web", true),
            ("app!=web", false),
            ("app=web,tier=front", true),
            ("app=web,tier=back", false),
            ("env in (prod, staging)", true),
            ("env notin (prod)", false),
            ("missing notin (x)", true),
            ("app", true),
            ("!app", false),
            ("!missing", true),
            ("missing!=x", true),
            (" app = web , env in (prod) ", true),
        ];
        for (sel, want) in cases {
            let s = Selector::parse(sel).unwrap_or_else(|e| panic!("{sel}: {e}"));
            assert_eq!(s.matches(&l), *want, "{sel}");
        }
    }

    #[test]
    fn bad_selectors_are_rejected_with_position() {
        for bad in ["app=", "=web", "app in web", "app in (a,", "app=web,", "a b", "app=-x-"] {
            if bad == "app=" {
                // An empty value is legal upstream (`app=` selects app="").
                assert!(Selector::parse(bad).is_ok());
                continue;
            }
            let e = Selector::parse(bad).unwrap_err();
            assert!(e.contains("position"), "{bad}: {e}");
        }
        let long = "a=b,".repeat(MAX_SELECTOR_LEN);
        assert!(Selector::parse(&long).unwrap_err().contains("limit"));
        let many: Vec<String> = (0..=MAX_REQUIREMENTS).map(|i| format!("k{i}=v")).collect();
        assert!(Selector::parse(&many.join(",")).unwrap_err().contains("requirements"));
    }

    /// Found by the `selectors` fuzz target: an empty key compiled to
    /// "key '' exists" while its string form "" means "everything".
    #[test]
    fn structured_selectors_with_invalid_keys_or_values_are_rejected() {
        let empty_key = LabelSelector { match_labels: StringMap::new(), match_expressions: vec![LabelSelectorRequirement { key: "".into(), operator: "Exists".into(), values: vec![] }] };
        assert!(empty_key.to_selector().unwrap_err().contains("matchExpressions[0].key"));
        let bad_value = LabelSelector { match_labels: [("app".to_string(), "has space".to_string())].into(), match_expressions: vec![] };
        assert!(bad_value.to_selector().unwrap_err().contains("matchLabels[app]"));
    }

    #[test]
    fn structured_selector_round_trips_through_string_form() {
        let ls = LabelSelector {
            match_labels: labels(&[("app", "web")]),
            match_expressions: vec![LabelSelectorRequirement { key: "env".into(), operator: "In".into(), values: vec!["prod".into()] }],
        };
        let s = Selector::parse(&ls.to_query_string()).unwrap();
        assert_eq!(s, ls.to_selector().unwrap());
    }
}
