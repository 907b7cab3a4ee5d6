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

impl MicroTime {
    /// RFC 3339 with six fractional digits (`metav1.RFC3339Micro`).
    pub fn to_rfc3339(self) -> String {
        format_rfc3339(self.0, true)
    }
}

impl fmt::Display for Time {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_rfc3339())
    }
}

/// Go's `time.RFC3339` layout, which upstream's `metav1.Time` parses with.
pub const RFC3339_LAYOUT: &str = "2006-01-02T15:04:05Z07:00";
/// Upstream's `metav1.RFC3339Micro`, which `metav1.MicroTime` parses with:
/// exactly six fractional digits.
pub const RFC3339_MICRO_LAYOUT: &str = "2006-01-02T15:04:05.000000Z07:00";

/// The earliest and latest instants Go formats with a four-digit year
/// (0000-01-01T00:00:00Z and 9999-12-31T23:59:59.999Z), in milliseconds.
const MIN_FORMATTED_MS: i64 = -62_167_219_200_000;
const MAX_FORMATTED_MS: i64 = 253_402_300_799_999;
/// 1970-01-01T00:00:00 as a civil (UTC) date and time: the core's times are
/// milliseconds from here.
const EPOCH: jiff::civil::DateTime = jiff::civil::DateTime::constant(1970, 1, 1, 0, 0, 0, 0);

fn format_rfc3339(ms: i64, micro: bool) -> String {
    // Go refuses to marshal a year outside 0..=9999; every `Time` the core
    // makes is far inside, and one that saturated is shown at the edge
    // rather than as text no parser would read back.
    let ms = ms.clamp(MIN_FORMATTED_MS, MAX_FORMATTED_MS);
    let utc = EPOCH.checked_add(jiff::SignedDuration::from_millis(ms)).expect("0000..=9999 is inside jiff's civil range");
    let fmt = if micro { "%Y-%m-%dT%H:%M:%S%.6fZ" } else { "%Y-%m-%dT%H:%M:%SZ" };
    utc.strftime(fmt).to_string()
}

/// How a value is read: `metav1.Time` (any fraction, or none) or
/// `metav1.MicroTime` (exactly six fractional digits).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Layout {
    Seconds,
    Micro,
}

/// Parses like Go's `time.Parse(time.RFC3339, s)`, which is what upstream's
/// `metav1.Time` does, and returns milliseconds since the epoch. Go accepts
/// less than RFC 3339 allows: only an upper-case `T` and `Z`, seconds 0–59
/// (no leap second), days that exist in the month. It also accepts a little
/// more: a one-digit hour, a comma before the fraction, offsets up to 24:60.
/// The form is checked here; the calendar (days in the month, leap years) and
/// the arithmetic are jiff's.
pub fn parse_rfc3339(s: &str) -> Result<i64, String> {
    parse_go(s, Layout::Seconds)
}

/// Parses like Go's `time.Parse(metav1.RFC3339Micro, s)` (`metav1.MicroTime`).
pub fn parse_rfc3339_micro(s: &str) -> Result<i64, String> {
    parse_go(s, Layout::Micro)
}

fn parse_go(s: &str, layout: Layout) -> Result<i64, String> {
    let layout_text = match layout {
        Layout::Seconds => RFC3339_LAYOUT,
        Layout::Micro => RFC3339_MICRO_LAYOUT,
    };
    let bad = |what: &str| format!("parsing time {s:?} as {layout_text:?}: {what}");
    let out_of_range = |what: &str| format!("parsing time {s:?}: {what} out of range");
    let mut r = Reader { b: s.as_bytes(), i: 0 };
    let year = r.digits(4).ok_or_else(|| bad("cannot parse the year: expected four digits"))?;
    r.literal(b'-').ok_or_else(|| bad("expected '-' after the year"))?;
    let month = r.digits(2).ok_or_else(|| bad("cannot parse the month: expected two digits"))?;
    r.literal(b'-').ok_or_else(|| bad("expected '-' after the month"))?;
    let day = r.digits(2).ok_or_else(|| bad("cannot parse the day: expected two digits"))?;
    r.literal(b'T').ok_or_else(|| bad("expected 'T' between date and time (upper case)"))?;
    // Go's "15" reads one digit when a second one does not follow.
    let hour = r.digits(2).or_else(|| r.digits(1)).ok_or_else(|| bad("cannot parse the hour"))?;
    r.literal(b':').ok_or_else(|| bad("expected ':' after the hour"))?;
    let minute = r.digits(2).ok_or_else(|| bad("cannot parse the minute: expected two digits"))?;
    r.literal(b':').ok_or_else(|| bad("expected ':' after the minute"))?;
    let second = r.digits(2).ok_or_else(|| bad("cannot parse the second: expected two digits"))?;
    let mut nanos: i64 = 0;
    match layout {
        Layout::Seconds => {
            if matches!(r.peek(), Some(b'.' | b',')) && r.peek_at(1).is_some_and(|c| c.is_ascii_digit()) {
                r.i += 1;
                let start = r.i;
                while r.peek().is_some_and(|c| c.is_ascii_digit()) {
                    r.i += 1;
                }
                nanos = nanos_of(&s[start..r.i]);
            }
        }
        Layout::Micro => {
            r.literal(b'.').or_else(|| r.literal(b',')).ok_or_else(|| bad("expected six fractional digits after the seconds"))?;
            let micros = r.digits(6).ok_or_else(|| bad("expected six fractional digits after the seconds"))?;
            nanos = micros * 1000;
        }
    }
    let offset_secs = match r.peek() {
        Some(b'Z') => {
            r.i += 1;
            0
        }
        Some(sign @ (b'+' | b'-')) => {
            r.i += 1;
            let oh = r.digits(2).ok_or_else(|| bad("cannot parse the offset's hours"))?;
            r.literal(b':').ok_or_else(|| bad("expected ':' in the offset"))?;
            let om = r.digits(2).ok_or_else(|| bad("cannot parse the offset's minutes"))?;
            if oh > 24 {
                return Err(out_of_range("time zone offset hour"));
            }
            if om > 60 {
                return Err(out_of_range("time zone offset minute"));
            }
            let secs = oh * 3600 + om * 60;
            if sign == b'-' {
                -secs
            } else {
                secs
            }
        }
        _ => return Err(bad("expected 'Z' or an offset like '+01:00' (upper case 'Z')")),
    };
    if r.i != r.b.len() {
        return Err(bad(&format!("extra text {:?}", &s[r.i..])));
    }
    if !(1..=12).contains(&month) {
        return Err(out_of_range("month"));
    }
    if hour > 23 {
        return Err(out_of_range("hour"));
    }
    if minute > 59 {
        return Err(out_of_range("minute"));
    }
    if second > 59 {
        return Err(out_of_range("second"));
    }
    // jiff knows the calendar: Feb 29 only in leap years, no Apr 31.
    let date = jiff::civil::Date::new(year as i16, month as i8, day as i8).map_err(|_| out_of_range("day"))?;
    let dt = date.to_datetime(jiff::civil::Time::new(hour as i8, minute as i8, second as i8, nanos as i32).expect("checked above"));
    // Civil arithmetic, not jiff's Timestamp: Go reads every four-digit
    // year, up to 9999-12-31T23:59:59 with any offset.
    let local_ms = dt.duration_since(EPOCH).as_millis();
    let ms = local_ms as i64 - offset_secs * 1000;
    // Go parses 9999-12-31T23:59:59-23:59 but cannot marshal the instant
    // (year 10000 in UTC); refusing it here keeps every stored time encodable.
    if !(MIN_FORMATTED_MS..=MAX_FORMATTED_MS).contains(&ms) {
        return Err(format!("parsing time {s:?}: the instant is outside the years 0000 to 9999 in UTC, which cannot be encoded"));
    }
    Ok(ms)
}

/// Nanoseconds from fractional digits; Go keeps the first nine.
fn nanos_of(digits: &str) -> i64 {
    let d = &digits[..digits.len().min(9)];
    let n: i64 = d.parse().expect("only digits");
    n * 10i64.pow(9 - d.len() as u32)
}

struct Reader<'a> {
    b: &'a [u8],
    i: usize,
}

impl Reader<'_> {
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }
    fn peek_at(&self, k: usize) -> Option<u8> {
        self.b.get(self.i + k).copied()
    }
    fn literal(&mut self, c: u8) -> Option<()> {
        (self.peek() == Some(c)).then(|| self.i += 1)
    }
    /// Exactly `n` ASCII digits (and for one digit, no digit after it).
    fn digits(&mut self, n: usize) -> Option<i64> {
        let part = self.b.get(self.i..self.i + n)?;
        if !part.iter().all(u8::is_ascii_digit) || (n == 1 && self.peek_at(1).is_some_and(|c| c.is_ascii_digit())) {
            return None;
        }
        self.i += n;
        Some(part.iter().fold(0, |acc, d| acc * 10 + i64::from(d - b'0')))
    }
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
        s.serialize_str(&self.to_rfc3339())
    }
}
impl<'de> Deserialize<'de> for MicroTime {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        parse_rfc3339_micro(&s).map(MicroTime).map_err(de::Error::custom)
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
        assert_eq!(Time(-1).to_rfc3339(), "1969-12-31T23:59:59Z");
        assert_eq!(MicroTime(-1).0, -1);
        assert_eq!(format_rfc3339(-1, true), "1969-12-31T23:59:59.999000Z");
        assert_eq!(parse_rfc3339("2000-02-29T12:00:00Z").unwrap(), 951_825_600_000);
        assert_eq!(parse_rfc3339("2000-02-29T13:00:00+01:00").unwrap(), 951_825_600_000);
        assert_eq!(parse_rfc3339("2000-02-29T11:30:00-00:30").unwrap(), 951_825_600_000);
    }

    /// Go's `time.Parse(time.RFC3339, ...)` (upstream's metav1.Time), case by
    /// case: (input, accepted, what the error names).
    #[test]
    fn accepts_and_refuses_what_go_does() {
        let cases: &[(&str, Result<i64, &str>)] = &[
            ("2000-02-29T00:00:00Z", Ok(951_782_400_000)),
            ("2001-02-29T00:00:00Z", Err("day out of range")),
            ("1900-02-29T00:00:00Z", Err("day out of range")),
            ("2000-02-31T00:00:00.000000Z", Err("day out of range")),
            ("2000-04-31T00:00:00Z", Err("day out of range")),
            ("2000-01-00T00:00:00Z", Err("day out of range")),
            ("2000-13-01T00:00:00Z", Err("month out of range")),
            ("2000-00-01T00:00:00Z", Err("month out of range")),
            ("2000-01-01T24:00:00Z", Err("hour out of range")),
            ("2000-01-01T00:60:00Z", Err("minute out of range")),
            ("2000-01-01T23:59:60Z", Err("second out of range")),
            ("2000-01-01t00:00:00Z", Err("upper case")),
            ("2000-01-01T00:00:00z", Err("upper case")),
            ("2000-01-01 00:00:00Z", Err("'T'")),
            ("2000-01-01T00:00:00", Err("'Z' or an offset")),
            ("2000-01-01T00:00:00.Z", Err("'Z' or an offset")),
            ("2000-01-01T00:00:00Zjunk", Err("extra text")),
            ("２000-02-29T12:00:00Z", Err("year")),
            ("+2000-01-01T00:00:00Z", Err("year")),
            ("200-01-01T00:00:00Z", Err("year")),
            ("", Err("year")),
            // Go's "15" takes a one-digit hour, and a comma before the fraction.
            ("2000-01-01T1:00:00Z", Ok(946_688_400_000)),
            ("2000-01-01T00:00:00,5Z", Ok(946_684_800_500)),
            ("2000-01-01T00:00:00.123456789123Z", Ok(946_684_800_123)),
            ("2000-01-01T00:00:00+24:00", Ok(946_598_400_000)),
            ("2000-01-01T00:00:00+25:00", Err("offset hour out of range")),
            ("2000-01-01T00:00:00+01:61", Err("offset minute out of range")),
            ("2000-01-01T00:00:00+0100", Err("':' in the offset")),
            ("0000-01-01T00:00:00Z", Ok(MIN_FORMATTED_MS)),
            ("9999-12-31T23:59:59Z", Ok(MAX_FORMATTED_MS - 999)),
            // Found by the decode_object fuzz target: year 10000 in UTC does not encode.
            ("9999-12-31T23:59:59-23:59", Err("outside the years 0000 to 9999")),
            ("0000-01-01T00:00:00+00:01", Err("outside the years 0000 to 9999")),
        ];
        for (input, want) in cases {
            match (parse_rfc3339(input), want) {
                (Ok(got), Ok(ms)) => assert_eq!(got, *ms, "{input}"),
                (Err(e), Err(frag)) => assert!(e.contains(frag), "{input}: {e:?} should name {frag:?}"),
                (got, want) => panic!("{input}: got {got:?}, want {want:?}"),
            }
        }
    }

    /// `metav1.MicroTime` parses with RFC3339Micro: exactly six fractional digits.
    #[test]
    fn micro_time_wants_six_fractional_digits() {
        assert_eq!(parse_rfc3339_micro("2000-01-01T00:00:00.123456Z").unwrap(), 946_684_800_123);
        assert_eq!(parse_rfc3339_micro("2000-01-01T01:00:00.000000+01:00").unwrap(), 946_684_800_000);
        for bad in ["2000-01-01T00:00:00Z", "2000-01-01T00:00:00.123Z", "2000-01-01T00:00:00.1234567Z", "2000-02-30T00:00:00.000000Z"] {
            assert!(parse_rfc3339_micro(bad).is_err(), "{bad}");
        }
        assert!(serde_json::from_str::<MicroTime>("\"2000-02-31T00:00:00.000000Z\"").unwrap_err().to_string().contains("day out of range"));
    }

    #[test]
    fn formatting_stays_inside_four_digit_years() {
        assert_eq!(Time(i64::MAX).to_rfc3339(), "9999-12-31T23:59:59Z");
        assert_eq!(Time(i64::MIN).to_rfc3339(), "0000-01-01T00:00:00Z");
        assert!(parse_rfc3339(&Time(i64::MAX).to_rfc3339()).is_ok());
    }
}
