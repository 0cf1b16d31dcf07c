//! The `mask-field` built-in component: exports [`weft_smt::mask_field::MaskField`]
//! (its code, docs and tests are in the `weft-smt` library).

weft_plugin_sdk::export_transform!(weft_smt::mask_field::MaskField);
