//! The `drop-headers` built-in component: exports [`weft_smt::drop_headers::DropHeaders`]
//! (its code, docs and tests are in the `weft-smt` library).

weft_plugin_sdk::export_transform!(weft_smt::drop_headers::DropHeaders);
