//! The `filter` built-in component: exports [`weft_smt::filter::Filter`]
//! (its code, docs and tests are in the `weft-smt` library).

weft_plugin_sdk::export_transform!(weft_smt::filter::Filter);
