//! `resource.Quantity`: `500m`, `128Mi`, `1.5`, `2e3`. Parsed exactly into
//! nano-units (an `i128` holds 2^60 × 10^9 with room to spare), so the
//! scheduler compares requests without rounding error. Kept as the string the
//! client sent, like upstream keeps the canonical form.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Longest quantity string accepted.
pub const MAX_QUANTITY_LEN: usize = 64;
const NANO: i128 = 1_000_000_000;

#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Quantity(pub String);

impl Quantity {
    /// The value in nano-units (cpu: nano-cores, memory: nano-bytes).
    pub fn nanos(&self) -> Result<i128, String> {
        parse_nanos(&self.0)
    }
    /// The value in milli-units, rounded up (cpu "500m" → 500).
    pub fn millis(&self) -> i128 {
        self.nanos().map(|n| (n + 999_999).div_euclid(1_000_000)).unwrap_or(0)
    }
    /// The value in whole units, rounded up (memory "128Mi" → 134217728).
    pub fn units(&self) -> i128 {
        self.nanos().map(|n| (n + NANO - 1).div_euclid(NANO)).unwrap_or(0)
    }
}

impl From<&str> for Quantity {
    fn from(s: &str) -> Quantity {
        Quantity(s.to_string())
    }
}

impl Serialize for Quantity {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Quantity {
    /// Accepts a string or a JSON number, as upstream does; validity is checked
    /// by validation, which names the field.
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            S(String),
            I(i64),
            F(f64),
        }
        Ok(Quantity(match Raw::deserialize(d)? {
            Raw::S(s) => s,
            Raw::I(i) => i.to_string(),
            Raw::F(f) => f.to_string(),
        }))
    }
}

/// Parses `<sign><digits>[.<digits>]<suffix>` where suffix is a binary SI
/// suffix (Ki..Ei), a decimal SI suffix (n, u, m, "", k, M, G, T, P, E) or a
/// decimal exponent (e3, E-2). Values below one nano-unit round up, as
/// upstream rounds to its smallest scale.
pub fn parse_nanos(s: &str) -> Result<i128, String> {
    let err = |why: &str| format!("quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$': {why} (got {s:?})");
    if s.is_empty() {
        return Err(err("empty"));
    }
    if s.len() > MAX_QUANTITY_LEN {
        return Err(err(&format!("longer than {MAX_QUANTITY_LEN} characters")));
    }
    let (neg, body) = match s.as_bytes()[0] {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    let num_end = body.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(body.len());
    let (num, suffix) = body.split_at(num_end);
    let (int_part, frac_part) = match num.split_once('.') {
        Some((i, f)) => (i, f),
        None => (num, ""),
    };
    if (int_part.is_empty() && frac_part.is_empty()) || frac_part.contains('.') {
        return Err(err("no number"));
    }
    // Base value scaled by 10^9 (nanos), as a mantissa and a power of ten.
    let digits: String = format!("{int_part}{frac_part}");
    let digits = digits.trim_start_matches('0');
    if digits.len() > 30 {
        return Err(err("too many digits"));
    }
    let mantissa: i128 = if digits.is_empty() { 0 } else { digits.parse().map_err(|_| err("bad digits"))? };
    let mut exp10: i32 = -(frac_part.len() as i32);
    let mut mul: i128 = 1;
    match suffix {
        "" => {}
        "Ki" => mul = 1 << 10,
        "Mi" => mul = 1 << 20,
        "Gi" => mul = 1 << 30,
        "Ti" => mul = 1 << 40,
        "Pi" => mul = 1 << 50,
        "Ei" => mul = 1 << 60,
        "n" => exp10 -= 9,
        "u" => exp10 -= 6,
        "m" => exp10 -= 3,
        "k" => exp10 += 3,
        "M" => exp10 += 6,
        "G" => exp10 += 9,
        "T" => exp10 += 12,
        "P" => exp10 += 15,
        "E" => exp10 += 18,
        e if e.starts_with(['e', 'E']) => {
            let x: i32 = e[1..].parse().map_err(|_| err("bad exponent"))?;
            if !(-40..=40).contains(&x) {
                return Err(err("exponent out of range"));
            }
            exp10 += x;
        }
        _ => return Err(err("unknown suffix")),
    }
    exp10 += 9; // to nanos
    let too_big = || err("value too large");
    let mut v = mantissa.checked_mul(mul).ok_or_else(too_big)?;
    if exp10 >= 0 {
        for _ in 0..exp10 {
            v = v.checked_mul(10).ok_or_else(too_big)?;
        }
    } else {
        let mut div: i128 = 1;
        for _ in 0..(-exp10) {
            div = div.checked_mul(10).ok_or_else(too_big)?;
        }
        v = (v + div - 1) / div; // round up below one nano-unit
    }
    if v > (1i128 << 63) * NANO {
        return Err(too_big());
    }
    Ok(if neg { -v } else { v })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_exact_values() {
        let cases: &[(&str, i128)] = &[
            ("500m", 500_000_000),
            ("1", NANO),
            ("0.5", NANO / 2),
            ("128Mi", 128 * (1 << 20) * NANO),
            ("1Gi", (1 << 30) * NANO),
            ("2k", 2000 * NANO),
            ("1e3", 1000 * NANO),
            ("1E-3", 1_000_000),
            ("100n", 100),
            ("1.5Gi", 3 * (1 << 29) * NANO),
            ("-1", -NANO),
            ("0", 0),
            ("1Ei", (1i128 << 60) * NANO),
        ];
        for (s, want) in cases {
            assert_eq!(parse_nanos(s).unwrap(), *want, "{s}");
        }
        assert_eq!(Quantity::from("250m").millis(), 250);
        assert_eq!(Quantity::from("64Mi").units(), 64 << 20);
    }

    #[test]
    fn rejects_bad_values_with_the_expected_form() {
        for bad in ["", "abc", "1.2.3", "5Zi", "1e999", "m", ".", "99999999999999999999999999999999999"] {
            let e = parse_nanos(bad).unwrap_err();
            assert!(e.contains("regular expression"), "{bad}: {e}");
        }
        assert!(parse_nanos(&"1".repeat(MAX_QUANTITY_LEN + 1)).unwrap_err().contains("longer than"));
        assert_eq!(parse_nanos(&format!("{}1", "0".repeat(MAX_QUANTITY_LEN - 1))), Ok(1_000_000_000), "a quantity at the bound is read");
    }

    #[test]
    fn decodes_numbers_too() {
        let q: Quantity = serde_json::from_str("2").unwrap();
        assert_eq!(q.millis(), 2000);
    }
}
