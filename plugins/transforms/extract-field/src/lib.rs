//! The `extract-field` built-in component: exports [`weft_smt::extract_field::ExtractField`]
//! (its code, docs and tests are in the `weft-smt` library).

weft_plugin_sdk::export_transform!(weft_smt::extract_field::ExtractField);
