//! Connector fixture for hot upgrade: the source of `versioned-source`, built as version 2, so
//! the two builds differ only in the marker their records carry.

/// The marker every record carries.
const VERSION: &str = "v2";

include!("../../versioned-source/src/source.rs");
