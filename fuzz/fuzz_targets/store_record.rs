//! The embedded store's on-disk record decoder: never panics, never
//! allocates what a corrupt length claims, and re-encodes what it decodes.
#![no_main]
use libfuzzer_sys::fuzz_target;
use podstore::record::decode;

fuzz_target!(|data: &[u8]| {
    if let Ok((rec, n)) = decode(data) {
        assert_eq!(rec.encode(), &data[..n], "a decoded record re-encodes to its bytes");
    }
});
