//! The `replace-field` built-in component: exports [`weft_smt::replace_field::ReplaceField`]
//! (its code, docs and tests are in the `weft-smt` library).

weft_plugin_sdk::export_transform!(weft_smt::replace_field::ReplaceField);
