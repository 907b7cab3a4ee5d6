//! JSON decoding of every kind, and the round trip: what decodes, encodes,
//! and decodes again to the same object.
#![no_main]
use libfuzzer_sys::fuzz_target;
use podcore::object::{Kind, Object};

fuzz_target!(|data: &[u8]| {
    let Some((&k, body)) = data.split_first() else { return };
    let kind = Kind::ALL[k as usize % Kind::ALL.len()];
    if let Ok(obj) = Object::from_json(kind, body) {
        let again = Object::from_json(kind, &obj.to_json()).expect("what we encode decodes");
        assert_eq!(again, obj, "decode → encode → decode changed the object");
        let _ = podcore::validation::validate(&obj);
    }
});
