//! The `insert-field` built-in component: exports [`weft_smt::insert_field::InsertField`]
//! (its code, docs and tests are in the `weft-smt` library).

weft_plugin_sdk::export_transform!(weft_smt::insert_field::InsertField);
