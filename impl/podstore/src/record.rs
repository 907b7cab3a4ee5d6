//! The embedded store's on-disk record: one write-ahead-log entry.
//!
//! ```text
//! u32 LE payload length | u32 LE CRC-32 of payload | payload
//! payload = u8 op | u64 LE revision | u64 LE create_revision | u32 LE key len | key | u32 LE value len | value
//! ```
//! op 1 = put, 2 = delete, 3 = revision floor (after a log rewrite). What a
//! bad record means (a torn final write, or corruption) is decided by the
//! store when it opens the log (`embedded`), not here.

/// Largest payload a record may claim; anything larger is corruption.
pub const MAX_RECORD_BYTES: usize = crate::MAX_KEY_BYTES + crate::MAX_VALUE_BYTES + 64;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Op {
    Put,
    Delete,
    Floor,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    pub op: Op,
    pub revision: u64,
    pub create_revision: u64,
    pub key: String,
    pub value: Vec<u8>,
}

impl Record {
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        encode_into(&mut out, &self.op, self.revision, self.create_revision, &self.key, &self.value);
        out
    }
}

/// The smallest payload: op, two revisions, two lengths.
pub const MIN_PAYLOAD_BYTES: usize = 1 + 8 + 8 + 4 + 4;

/// Appends the record of these fields to `out` (no `Record` needed, so a
/// value is copied once, into the log's buffer).
pub fn encode_into(out: &mut Vec<u8>, op: &Op, revision: u64, create_revision: u64, key: &str, value: &[u8]) {
    let start = out.len();
    let len = MIN_PAYLOAD_BYTES + key.len() + value.len();
    out.reserve(8 + len);
    out.extend_from_slice(&(len as u32).to_le_bytes());
    out.extend_from_slice(&[0; 4]);
    out.push(match op {
        Op::Put => 1,
        Op::Delete => 2,
        Op::Floor => 3,
    });
    out.extend_from_slice(&revision.to_le_bytes());
    out.extend_from_slice(&create_revision.to_le_bytes());
    out.extend_from_slice(&(key.len() as u32).to_le_bytes());
    out.extend_from_slice(key.as_bytes());
    out.extend_from_slice(&(value.len() as u32).to_le_bytes());
    out.extend_from_slice(value);
    let crc = crc32fast::hash(&out[start + 8..]);
    out[start + 4..start + 8].copy_from_slice(&crc.to_le_bytes());
}

#[derive(Debug, PartialEq, Eq)]
pub enum DecodeError {
    /// Fewer bytes than the record needs: a torn tail.
    Truncated,
    /// Checksum or structure wrong.
    Corrupt(String),
}

/// Decodes one record from the front of `buf`; returns it and its length.
pub fn decode(buf: &[u8]) -> Result<(Record, usize), DecodeError> {
    if buf.len() < 8 {
        return Err(DecodeError::Truncated);
    }
    let len = u32::from_le_bytes(buf[0..4].try_into().unwrap()) as usize;
    let crc = u32::from_le_bytes(buf[4..8].try_into().unwrap());
    if len > MAX_RECORD_BYTES {
        return Err(DecodeError::Corrupt(format!("record claims {len} bytes, more than {MAX_RECORD_BYTES}")));
    }
    if buf.len() < 8 + len {
        return Err(DecodeError::Truncated);
    }
    let p = &buf[8..8 + len];
    if crc32fast::hash(p) != crc {
        return Err(DecodeError::Corrupt("checksum mismatch".into()));
    }
    let mut r = Reader { p, i: 0 };
    let op = match r.u8()? {
        1 => Op::Put,
        2 => Op::Delete,
        3 => Op::Floor,
        x => return Err(DecodeError::Corrupt(format!("unknown op {x}"))),
    };
    let revision = r.u64()?;
    let create_revision = r.u64()?;
    let klen = r.u32()? as usize;
    let key = String::from_utf8(r.bytes(klen)?.to_vec()).map_err(|_| DecodeError::Corrupt("key is not UTF-8".into()))?;
    let vlen = r.u32()? as usize;
    let value = r.bytes(vlen)?.to_vec();
    if r.i != p.len() {
        return Err(DecodeError::Corrupt("trailing bytes in record".into()));
    }
    Ok((Record { op, revision, create_revision, key, value }, 8 + len))
}

struct Reader<'a> {
    p: &'a [u8],
    i: usize,
}

impl Reader<'_> {
    fn bytes(&mut self, n: usize) -> Result<&[u8], DecodeError> {
        let end = self.i.checked_add(n).filter(|e| *e <= self.p.len()).ok_or_else(|| DecodeError::Corrupt("field runs past the record".into()))?;
        let s = &self.p[self.i..end];
        self.i = end;
        Ok(s)
    }
    fn u8(&mut self) -> Result<u8, DecodeError> {
        Ok(self.bytes(1)?[0])
    }
    fn u32(&mut self) -> Result<u32, DecodeError> {
        Ok(u32::from_le_bytes(self.bytes(4)?.try_into().unwrap()))
    }
    fn u64(&mut self) -> Result<u64, DecodeError> {
        Ok(u64::from_le_bytes(self.bytes(8)?.try_into().unwrap()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_torn_tail() {
        let r = Record { op: Op::Put, revision: 7, create_revision: 3, key: "/registry/pods/default/a".into(), value: b"{}".to_vec() };
        let bytes = r.encode();
        assert_eq!(decode(&bytes).unwrap(), (r, bytes.len()));
        for cut in 0..bytes.len() {
            assert_eq!(decode(&bytes[..cut]).unwrap_err(), DecodeError::Truncated, "cut at {cut}");
        }
        let mut flipped = bytes.clone();
        *flipped.last_mut().unwrap() ^= 1;
        assert!(matches!(decode(&flipped), Err(DecodeError::Corrupt(_))));
    }

    /// The largest key and value fit; a length past `MAX_RECORD_BYTES` is
    /// corruption, whatever follows it.
    #[test]
    fn records_are_bounded_at_max_record_bytes() {
        let biggest = Record { op: Op::Put, revision: 1, create_revision: 1, key: "k".repeat(crate::MAX_KEY_BYTES), value: vec![7; crate::MAX_VALUE_BYTES] };
        let bytes = biggest.encode();
        assert!(bytes.len() - 8 <= MAX_RECORD_BYTES);
        assert_eq!(decode(&bytes).unwrap().0, biggest);
        let mut at = vec![0u8; 8];
        at[0..4].copy_from_slice(&(MAX_RECORD_BYTES as u32).to_le_bytes());
        assert_eq!(decode(&at).unwrap_err(), DecodeError::Truncated, "a length at the bound is believed");
        at[0..4].copy_from_slice(&(MAX_RECORD_BYTES as u32 + 1).to_le_bytes());
        assert!(matches!(decode(&at), Err(DecodeError::Corrupt(_))), "one past it is not");
    }

    #[test]
    fn oversized_length_is_corruption_not_an_allocation() {
        let mut b = vec![0u8; 8];
        b[0..4].copy_from_slice(&(u32::MAX).to_le_bytes());
        assert!(matches!(decode(&b), Err(DecodeError::Corrupt(_))));
    }
}
