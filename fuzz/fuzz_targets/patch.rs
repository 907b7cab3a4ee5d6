//! Merge, JSON and strategic merge patches on arbitrary documents: no
//! panic, bounded depth, and a merge patch is idempotent (RFC 7386).
#![no_main]
use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use podcore::patch::{apply, PatchType};

#[derive(Arbitrary, Debug)]
struct Input<'a> {
    kind: u8,
    target: &'a [u8],
    patch: &'a [u8],
}

fuzz_target!(|i: Input| {
    let (Ok(t), Ok(p)) = (serde_json::from_slice::<serde_json::Value>(i.target), serde_json::from_slice::<serde_json::Value>(i.patch)) else { return };
    let pt = [PatchType::Merge, PatchType::Json, PatchType::Strategic][i.kind as usize % 3];
    if let Ok(once) = apply("Deployment", pt, &t, &p) {
        if pt == PatchType::Merge {
            assert_eq!(apply("Deployment", pt, &once, &p).expect("applies again"), once, "merge patch is idempotent");
        }
    }
});
