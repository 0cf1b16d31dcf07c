//! The `value-to-key` built-in component: exports [`weft_smt::value_to_key::ValueToKey`]
//! (its code, docs and tests are in the `weft-smt` library).

weft_plugin_sdk::export_transform!(weft_smt::value_to_key::ValueToKey);
