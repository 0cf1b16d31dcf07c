//! Differential fuzzing of the plugin SDK's JSON scanner (`weft_plugin_sdk::json_scan`), which
//! checks every JSON value a field transform or the JsonConverter reads: it must accept exactly
//! what `str::from_utf8` and serde_json reading into `IgnoredAny` accept, and an object's members
//! must be valid JSON themselves, keys strings and values whole values.
#![no_main]

use libfuzzer_sys::fuzz_target;
use serde::de::IgnoredAny;
use weft_plugin_sdk::json_scan;

fuzz_target!(|data: &[u8]| {
    let serde_accepts =
        std::str::from_utf8(data).is_ok() && serde_json::from_slice::<IgnoredAny>(data).is_ok();
    assert_eq!(json_scan::is_valid(data), serde_accepts);
    let mut members = Vec::new();
    let object = json_scan::object_members(data, &mut members);
    assert_eq!(
        object,
        serde_accepts && data.trim_ascii_start().starts_with(b"{")
    );
    if object {
        for m in &members {
            let key = m.quoted_key(data);
            assert!(key.starts_with(b"\"") && json_scan::is_valid(key));
            let value = m.value_text(data);
            assert!(!value.is_empty() && json_scan::is_valid(value));
        }
    }
});
