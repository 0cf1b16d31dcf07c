//! The `set-schema-metadata` built-in component: exports [`weft_smt::set_schema_metadata::SetSchemaMetadata`]
//! (its code, docs and tests are in the `weft-smt` library).

weft_plugin_sdk::export_transform!(weft_smt::set_schema_metadata::SetSchemaMetadata);
