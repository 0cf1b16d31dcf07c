//! The `hoist-field` built-in component: exports [`weft_smt::hoist_field::HoistField`]
//! (its code, docs and tests are in the `weft-smt` library).

weft_plugin_sdk::export_transform!(weft_smt::hoist_field::HoistField);
