//! Kubernetes' protobuf encoding, only as far as podchain reads it: the
//! `k8s\0` envelope (`runtime.Unknown`) and the two messages kubectl's typed
//! clientset sends to the requests `kubectl drain` makes, `DeleteOptions`
//! and policy/v1 `Eviction`. Every other protobuf body is answered 415.
//!
//! Hand-written, for no protobuf library may enter the core: the wire format
//! is varints and length-delimited fields, and a decoder of one message is
//! a loop over its fields. Input is hostile: every length is checked against
//! what is left, varints stop at ten bytes, a message has at most
//! `MAX_PROTOBUF_FIELDS` fields, and strings must be UTF-8. Unknown fields
//! are skipped, as protobuf decoders do.

use crate::types::{DeleteOptions, Preconditions};

/// The media type of Kubernetes' protobuf encoding.
pub const PROTOBUF: &str = "application/vnd.kubernetes.protobuf";

/// The four bytes every Kubernetes protobuf body starts with.
pub const MAGIC: &[u8] = b"k8s\0";

/// Most fields one message may carry (repeated fields count each time).
pub const MAX_PROTOBUF_FIELDS: usize = 256;

/// One field's value, as the wire carries it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Wire<'a> {
    Varint(u64),
    Bytes(&'a [u8]),
    /// Fixed-width values: no field podchain reads has one.
    Fixed,
}

fn varint(b: &[u8], i: &mut usize) -> Result<u64, String> {
    let mut v: u64 = 0;
    for shift in 0..10 {
        let byte = *b.get(*i).ok_or("a varint runs past the end")?;
        *i += 1;
        v |= u64::from(byte & 0x7f) << (7 * shift);
        if byte & 0x80 == 0 {
            return Ok(v);
        }
    }
    Err("a varint is longer than ten bytes".into())
}

/// The fields of one message, in order.
fn fields(b: &[u8]) -> Result<Vec<(u64, Wire<'_>)>, String> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if out.len() >= MAX_PROTOBUF_FIELDS {
            return Err(format!("a message has more than {MAX_PROTOBUF_FIELDS} fields"));
        }
        let tag = varint(b, &mut i)?;
        let (number, wire_type) = (tag >> 3, tag & 7);
        if number == 0 {
            return Err("field number 0".into());
        }
        let value = match wire_type {
            0 => Wire::Varint(varint(b, &mut i)?),
            1 | 5 => {
                let n = if wire_type == 1 { 8 } else { 4 };
                if b.len() - i < n {
                    return Err("a fixed-width field runs past the end".into());
                }
                i += n;
                Wire::Fixed
            }
            2 => {
                let len = varint(b, &mut i)?;
                let len = usize::try_from(len).ok().filter(|l| *l <= b.len() - i).ok_or("a length-delimited field runs past the end")?;
                let v = &b[i..i + len];
                i += len;
                Wire::Bytes(v)
            }
            other => return Err(format!("wire type {other} is not one podchain reads")),
        };
        out.push((number, value));
    }
    Ok(out)
}

fn string(field: &str, w: Wire) -> Result<String, String> {
    match w {
        Wire::Bytes(b) => String::from_utf8(b.to_vec()).map_err(|_| format!("{field}: not UTF-8")),
        _ => Err(format!("{field}: expected a string")),
    }
}

fn bytes<'a>(field: &str, w: Wire<'a>) -> Result<&'a [u8], String> {
    match w {
        Wire::Bytes(b) => Ok(b),
        _ => Err(format!("{field}: expected a message")),
    }
}

fn int(field: &str, w: Wire) -> Result<u64, String> {
    match w {
        Wire::Varint(v) => Ok(v),
        _ => Err(format!("{field}: expected an integer")),
    }
}

/// A decoded `k8s\0` envelope: the type it names and the message inside.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope<'a> {
    pub api_version: String,
    pub kind: String,
    pub raw: &'a [u8],
}

/// Decodes the envelope (`runtime.Unknown`: typeMeta = 1 {apiVersion = 1,
/// kind = 2}, raw = 2, contentEncoding = 3, contentType = 4).
pub fn envelope(body: &[u8]) -> Result<Envelope<'_>, String> {
    let rest = body.strip_prefix(MAGIC).ok_or("a protobuf body starts with k8s\\0")?;
    let mut e = Envelope { api_version: String::new(), kind: String::new(), raw: &[] };
    for (n, w) in fields(rest)? {
        match n {
            1 => {
                for (m, v) in fields(bytes("typeMeta", w)?)? {
                    match m {
                        1 => e.api_version = string("apiVersion", v)?,
                        2 => e.kind = string("kind", v)?,
                        _ => {}
                    }
                }
            }
            2 => e.raw = bytes("raw", w)?,
            3 => {
                let enc = string("contentEncoding", w)?;
                if !enc.is_empty() {
                    return Err(format!("contentEncoding {enc:?} is not supported"));
                }
            }
            _ => {}
        }
    }
    Ok(e)
}

/// The message inside the envelope of `body`, which must be a `kind`: how
/// a body of the two kinds podchain reads is opened.
pub fn message<'a>(body: &'a [u8], kind: &str) -> Result<&'a [u8], String> {
    let e = envelope(body)?;
    if e.kind != kind {
        return Err(format!("expected {kind}, got {:?}", e.kind));
    }
    Ok(e.raw)
}

/// Decodes meta/v1 `DeleteOptions` (gracePeriodSeconds = 1, preconditions =
/// 2 {uid = 1, resourceVersion = 2}, orphanDependents = 3,
/// propagationPolicy = 4, dryRun = 5, repeated).
pub fn delete_options(raw: &[u8]) -> Result<DeleteOptions, String> {
    let mut o = DeleteOptions::default();
    for (n, w) in fields(raw)? {
        match n {
            // int64 travels as its two's-complement bits.
            1 => o.grace_period_seconds = Some(int("gracePeriodSeconds", w)? as i64),
            2 => {
                let mut p = Preconditions::default();
                for (m, v) in fields(bytes("preconditions", w)?)? {
                    match m {
                        1 => p.uid = Some(string("preconditions.uid", v)?),
                        2 => p.resource_version = Some(string("preconditions.resourceVersion", v)?),
                        _ => {}
                    }
                }
                o.preconditions = Some(p);
            }
            3 => o.orphan_dependents = Some(int("orphanDependents", w)? != 0),
            4 => o.propagation_policy = Some(string("propagationPolicy", w)?),
            5 => o.dry_run.push(string("dryRun", w)?),
            _ => {}
        }
    }
    Ok(o)
}

/// A policy/v1 `Eviction`: the pod it names and how to delete it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Eviction {
    pub name: String,
    pub namespace: String,
    pub delete_options: Option<DeleteOptions>,
}

/// Decodes policy/v1 `Eviction` (metadata = 1 {name = 1, namespace = 3},
/// deleteOptions = 2).
pub fn eviction(raw: &[u8]) -> Result<Eviction, String> {
    let mut e = Eviction::default();
    for (n, w) in fields(raw)? {
        match n {
            1 => {
                for (m, v) in fields(bytes("metadata", w)?)? {
                    match m {
                        1 => e.name = string("metadata.name", v)?,
                        3 => e.namespace = string("metadata.namespace", v)?,
                        _ => {}
                    }
                }
            }
            2 => e.delete_options = Some(delete_options(bytes("deleteOptions", w)?)?),
            _ => {}
        }
    }
    Ok(e)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Encoding, for the tests only: what kubectl's clientset would send.
    fn tag(n: u64, wire: u64) -> Vec<u8> {
        enc_varint((n << 3) | wire)
    }
    fn enc_varint(mut v: u64) -> Vec<u8> {
        let mut out = Vec::new();
        loop {
            let b = (v & 0x7f) as u8;
            v >>= 7;
            if v == 0 {
                out.push(b);
                return out;
            }
            out.push(b | 0x80);
        }
    }
    fn len_field(n: u64, bytes: &[u8]) -> Vec<u8> {
        let mut out = tag(n, 2);
        out.extend(enc_varint(bytes.len() as u64));
        out.extend(bytes);
        out
    }
    fn int_field(n: u64, v: u64) -> Vec<u8> {
        let mut out = tag(n, 0);
        out.extend(enc_varint(v));
        out
    }
    fn wrap(api_version: &str, kind: &str, raw: &[u8]) -> Vec<u8> {
        let tm = [len_field(1, api_version.as_bytes()), len_field(2, kind.as_bytes())].concat();
        [MAGIC.to_vec(), len_field(1, &tm), len_field(2, raw), len_field(3, b""), len_field(4, b"")].concat()
    }

    #[test]
    fn decodes_an_eviction_as_kubectl_drain_sends_it() {
        let opts = [int_field(1, (-1i64) as u64), len_field(2, &len_field(1, b"uid-1")), len_field(4, b"Background")].concat();
        let meta = [len_field(1, b"web-1"), len_field(3, b"default"), len_field(5, b"ignored-uid")].concat();
        let body = wrap("policy/v1", "Eviction", &[len_field(1, &meta), len_field(2, &opts)].concat());
        let env = envelope(&body).unwrap();
        assert_eq!((env.api_version.as_str(), env.kind.as_str()), ("policy/v1", "Eviction"));
        let e = eviction(env.raw).unwrap();
        assert_eq!((e.name.as_str(), e.namespace.as_str()), ("web-1", "default"));
        let o = e.delete_options.unwrap();
        assert_eq!(o.grace_period_seconds, Some(-1));
        assert_eq!(o.preconditions.and_then(|p| p.uid).as_deref(), Some("uid-1"));
        assert_eq!(o.propagation_policy.as_deref(), Some("Background"));
    }

    #[test]
    fn decodes_delete_options_with_their_dry_run() {
        let body = wrap("v1", "DeleteOptions", &[int_field(1, 0), int_field(3, 1)].concat());
        let o = delete_options(message(&body, "DeleteOptions").unwrap()).unwrap();
        assert_eq!((o.grace_period_seconds, o.orphan_dependents), (Some(0), Some(true)));
        assert!(message(&body, "Eviction").unwrap_err().contains("expected Eviction"));
        assert_eq!(delete_options(&[len_field(5, b"All"), len_field(5, b"All")].concat()).unwrap().dry_run, ["All", "All"]);
    }

    #[test]
    fn hostile_bodies_are_errors_not_panics() {
        assert!(envelope(b"{\"json\": 1}").is_err());
        // A length past the end, a varint that never ends, field number 0, wire types 3/4/6/7.
        for raw in [vec![0x0a, 0x05, b'a'], vec![0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01], vec![0x00, 0x01], vec![0x0b], vec![0x0e]] {
            assert!(eviction(&raw).is_err(), "{raw:?}");
        }
        // A string that is not UTF-8; a message where a string belongs.
        assert!(eviction(&len_field(1, &len_field(1, &[0xff, 0xfe]))).is_err());
        assert!(delete_options(&int_field(4, 7)).is_err());
        // Unknown fields, fixed-width ones too, are skipped.
        let mut skip = tag(9, 1);
        skip.extend([0u8; 8]);
        skip.extend(int_field(1, 30));
        assert_eq!(delete_options(&skip).unwrap().grace_period_seconds, Some(30));
    }

    #[test]
    fn a_message_has_at_most_max_fields() {
        let at_bound: Vec<u8> = (0..MAX_PROTOBUF_FIELDS).flat_map(|_| int_field(9, 1)).collect();
        assert!(delete_options(&at_bound).is_ok());
        let over: Vec<u8> = (0..=MAX_PROTOBUF_FIELDS).flat_map(|_| int_field(9, 1)).collect();
        assert!(delete_options(&over).unwrap_err().contains("more than"));
    }
}
