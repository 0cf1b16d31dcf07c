//! The `regex-router` built-in component: exports [`weft_smt::regex_router::RegexRouter`]
//! (its code, docs and tests are in the `weft-smt` library).

weft_plugin_sdk::export_transform!(weft_smt::regex_router::RegexRouter);
