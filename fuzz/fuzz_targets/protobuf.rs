//! Kubernetes' protobuf envelope, DeleteOptions and Eviction (what `kubectl
//! drain` sends): hostile bytes are errors, never a panic, an overflow or an
//! allocation out of proportion to the input; what decodes is decoded the
//! same way every time.
#![no_main]
use libfuzzer_sys::fuzz_target;
use podcore::protobuf::{delete_options, envelope, eviction};

fuzz_target!(|data: &[u8]| {
    if let Ok(env) = envelope(data) {
        assert_eq!(envelope(data), Ok(env.clone()));
        let _ = delete_options(env.raw);
        let _ = eviction(env.raw);
    }
    // The messages alone, too: the envelope's checks must not be what keeps them safe.
    if let Ok(o) = delete_options(data) {
        let json = serde_json::to_value(&o).expect("DeleteOptions serialise");
        assert_eq!(serde_json::from_value::<podcore::types::DeleteOptions>(json).expect("and decode back"), o);
    }
    let _ = eviction(data);
});
