//! The `timestamp-router` built-in component: exports [`weft_smt::timestamp_router::TimestampRouter`]
//! (its code, docs and tests are in the `weft-smt` library).

weft_plugin_sdk::export_transform!(weft_smt::timestamp_router::TimestampRouter);
