//! The `header-from` built-in component: exports [`weft_smt::header_from::HeaderFrom`]
//! (its code, docs and tests are in the `weft-smt` library).

weft_plugin_sdk::export_transform!(weft_smt::header_from::HeaderFrom);
