//! The client's watch-stream line parser on arbitrary lines, for every kind.
#![no_main]
use libfuzzer_sys::fuzz_target;
use podcore::object::Kind;

fuzz_target!(|data: &[u8]| {
    let Some((&k, line)) = data.split_first() else { return };
    let _ = client::parse_watch_line(Kind::ALL[k as usize % Kind::ALL.len()], line);
});
