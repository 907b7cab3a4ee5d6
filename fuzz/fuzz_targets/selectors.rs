//! Label and field selector parsing: no panic; a parsed label selector
//! matches label maps without panicking; the structured form's string form
//! parses back to the same selector.
#![no_main]
use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use podcore::labels::{LabelSelector, LabelSelectorRequirement, Selector};
use podcore::meta::StringMap;
use std::collections::BTreeMap;

#[derive(Arbitrary, Debug)]
struct Input {
    text: String,
    labels: BTreeMap<String, String>,
    structured: Vec<(String, u8, Vec<String>)>,
}

fuzz_target!(|i: Input| {
    let labels: StringMap = i.labels.into();
    if let Ok(s) = Selector::parse(&i.text) {
        let _ = s.matches(&labels);
    }
    let _ = podcore::object::FieldSelector::parse(&i.text);
    let ls = LabelSelector {
        match_labels: StringMap::new(),
        match_expressions: i
            .structured
            .into_iter()
            .take(8)
            .map(|(key, op, values)| LabelSelectorRequirement { key, operator: ["In", "NotIn", "Exists", "DoesNotExist"][op as usize % 4].into(), values })
            .collect(),
    };
    if let Ok(compiled) = ls.to_selector() {
        // Only selectors whose keys and values are valid have a string form.
        if let Ok(reparsed) = Selector::parse(&ls.to_query_string()) {
            assert_eq!(reparsed.matches(&labels), compiled.matches(&labels), "string form disagrees for {ls:?}");
        }
    }
});
