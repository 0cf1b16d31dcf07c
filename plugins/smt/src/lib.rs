//! Kafka Connect's single message transforms, Weft's built-in ones, as a library. Each
//! component under `transforms/<name>` exports one of them; `transforms/chain` runs a run of
//! them in one instance and one call, so records pass between them without being written out.

pub mod cast;
pub mod drop_headers;
pub mod extract_field;
pub mod field_edit;
pub mod filter;
pub mod flatten;
pub mod header_from;
pub mod hoist_field;
pub mod insert_field;
pub mod insert_header;
pub mod mask_field;
pub mod regex_router;
pub mod replace_field;
pub mod set_schema_metadata;
pub mod timestamp_converter;
pub mod timestamp_router;
pub mod value_to_key;

mod json_value;
