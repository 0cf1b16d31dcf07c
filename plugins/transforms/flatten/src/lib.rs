//! The `flatten` built-in component: exports [`weft_smt::flatten::Flatten`]
//! (its code, docs and tests are in the `weft-smt` library).

weft_plugin_sdk::export_transform!(weft_smt::flatten::Flatten);
