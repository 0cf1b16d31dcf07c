//! Connector fixture for hot upgrade and `request-reconfiguration`, built as version 1: a
//! source whose records say which build wrote them and where its task was opened
//! (`source.rs`, shared with `versioned-source-v2`).

/// The marker every record carries.
const VERSION: &str = "v1";

include!("source.rs");
