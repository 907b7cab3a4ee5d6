//! Time as data. The core never reads a clock: every function that needs the
//! present takes `now: Time` as an argument, so the model checker and the
//! test harness can drive it with simulated time.
//!
//! `Time` is milliseconds since the Unix epoch. It serialises like upstream's
//! `metav1.Time` (RFC 3339, whole seconds, UTC); `MicroTime` like
//! `metav1.MicroTime` (six fractional digits). Values decoded from the wire are
//! therefore whole seconds for `Time`.

use serde::{de, Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// Milliseconds since 1970-01-01T00:00:00Z.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Time(pub i64);

/// Like `Time`, but serialised with microsecond digits (leases, events).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct MicroTime(pub i64);

impl Time {
    pub const fn from_secs(secs: i64) -> Time {
        Time(secs * 1000)
    }
    pub fn plus_ms(self, ms: i64) -> Time {
        Time(self.0.saturating_add(ms))
    }
    pub fn ms_since(self, earlier: Time) -> i64 {
        self.0.saturating_sub(earlier.0)
    }
    /// Truncates to whole seconds, the precision `Time` survives the wire with.
    pub fn truncate_to_secs(self) -> Time {
        Time(self.0.div_euclid(1000) * 1000)
    }
    pub fn to_rfc3339(self) -> String {
        format_rfc3339(self.0, false)
    }
}

impl fmt::Display for Time {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_rfc3339())
    }
}

/// Days since the epoch → (year, month, day), proleptic Gregorian.
/// Howard Hinnant's `civil_from_days`.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = if m > 2 { m - 3 } else { m + 9 } as i64;
    let doy = (153 * mp + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn format_rfc3339(ms: i64, micro: bool) -> String {
    let secs = ms.div_euclid(1000);
    let rem_ms = ms.rem_euclid(1000);
    let (y, mo, d) = civil_from_days(secs.div_euclid(86_400));
    let sod = secs.rem_euclid(86_400);
    let (h, mi, s) = (sod / 3600, (sod % 3600) / 60, sod % 60);
    if micro {
        format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{:06}Z", rem_ms * 1000)
    } else {
        format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}Z")
    }
}

/// Parses RFC 3339 (`2006-01-02T15:04:05Z`, optional fraction, `Z` or `±hh:mm`).
pub fn parse_rfc3339(s: &str) -> Result<i64, String> {
    let err = || format!("invalid RFC 3339 time {s:?}: expected e.g. \"2006-01-02T15:04:05Z\"");
    let b = s.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !(b[10] == b'T' || b[10] == b't') || b[13] != b':' || b[16] != b':' {
        return Err(err());
    }
    let num = |r: std::ops::Range<usize>| -> Result<i64, String> {
        let part = s.get(r).ok_or_else(err)?;
        if !part.bytes().all(|c| c.is_ascii_digit()) {
            return Err(err());
        }
        part.parse::<i64>().map_err(|_| err())
    };
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, sec) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || sec > 60 {
        return Err(err());
    }
    let mut i = 19;
    let mut frac_ms = 0i64;
    if b.get(i) == Some(&b'.') {
        i += 1;
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i == start {
            return Err(err());
        }
        let digits = &s[start..i.min(start + 3)];
        frac_ms = digits.parse::<i64>().map_err(|_| err())? * 10i64.pow(3 - digits.len() as u32);
    }
    let offset_secs = match &s[i..] {
        "Z" | "z" => 0,
        tz if tz.len() == 6 && (tz.starts_with('+') || tz.starts_with('-')) && tz.as_bytes()[3] == b':' => {
            let oh = num(i + 1..i + 3)?;
            let om = num(i + 4..i + 6)?;
            let sign = if tz.starts_with('-') { -1 } else { 1 };
            sign * (oh * 3600 + om * 60)
        }
        _ => return Err(err()),
    };
    let days = days_from_civil(y, mo as u32, d as u32);
    let secs = days * 86_400 + h * 3600 + mi * 60 + sec - offset_secs;
    Ok(secs * 1000 + frac_ms)
}

impl Serialize for Time {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format_rfc3339(self.0, false))
    }
}
impl<'de> Deserialize<'de> for Time {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        parse_rfc3339(&s).map(|ms| Time(ms.div_euclid(1000) * 1000)).map_err(de::Error::custom)
    }
}
impl Serialize for MicroTime {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format_rfc3339(self.0, true))
    }
}
impl<'de> Deserialize<'de> for MicroTime {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        parse_rfc3339(&s).map(MicroTime).map_err(de::Error::custom)
    }
}
impl From<MicroTime> for Time {
    fn from(t: MicroTime) -> Time {
        Time(t.0)
    }
}
impl From<Time> for MicroTime {
    fn from(t: Time) -> MicroTime {
        MicroTime(t.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_seconds_and_micros() {
        let t = Time(1_795_000_000_000);
        let s = t.to_rfc3339();
        assert_eq!(parse_rfc3339(&s).unwrap(), t.0);
        let m = MicroTime(1_795_000_000_123);
        let js = serde_json::to_string(&m).unwrap();
        assert!(js.ends_with(".123000Z\""), "{js}");
        assert_eq!(serde_json::from_str::<MicroTime>(&js).unwrap(), m);
    }

    #[test]
    fn known_dates() {
        assert_eq!(Time(0).to_rfc3339(), "1970-01-01T00:00:00Z");
        assert_eq!(parse_rfc3339("2000-02-29T12:00:00Z").unwrap(), 951_825_600_000);
        assert_eq!(parse_rfc3339("2000-02-29T13:00:00+01:00").unwrap(), 951_825_600_000);
    }

    #[test]
    fn rejects_garbage() {
        for bad in ["", "2000-02-29", "2000-13-01T00:00:00Z", "2000-02-29T12:00:00", "２000-02-29T12:00:00Z", "2000-02-29T12:00:00.Z"] {
            assert!(parse_rfc3339(bad).is_err(), "{bad}");
        }
    }
}
