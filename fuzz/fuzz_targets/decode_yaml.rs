//! Request-body decoding (JSON or YAML, depth-limited) and multi-document
//! YAML manifests: each document of a known kind decodes and round-trips.
#![no_main]
use libfuzzer_sys::fuzz_target;
use podcore::object::{Object, RESOURCES};

fuzz_target!(|data: &[u8]| {
    let _ = apiserver::decode::decode_body("application/yaml", data);
    let _ = apiserver::decode::decode_body("application/json", data);
    let Ok(text) = std::str::from_utf8(data) else { return };
    // As `podchain apply` reads a file: every document, under the body budget.
    let Ok(docs) = apiserver::decode::decode_yaml_documents(text) else { return };
    for v in docs {
        let (Some(av), Some(k)) = (v["apiVersion"].as_str(), v["kind"].as_str()) else { continue };
        let Some(info) = RESOURCES.iter().find(|r| r.kind_name == k && av == podcore::object::Kind::api_version(r.kind)) else { continue };
        if let Ok(obj) = Object::from_value(info.kind, v.clone()) {
            assert_eq!(Object::from_value(info.kind, obj.to_value()).expect("re-decodes"), obj);
        }
    }
});
