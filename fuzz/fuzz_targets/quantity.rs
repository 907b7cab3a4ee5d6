//! Quantity parsing: no panic, no overflow; what parses has consistent
//! milli- and unit- roundings.
#![no_main]
use libfuzzer_sys::fuzz_target;
use podcore::quantity::{parse_nanos, Quantity};

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else { return };
    if let Ok(n) = parse_nanos(s) {
        let q = Quantity(s.to_string());
        assert!(q.millis() * 1_000_000 >= n, "millis rounds up");
        assert!(q.units() * 1_000_000_000 >= n, "units rounds up");
    }
});
