//! Source positions and sink offsets: where each connector's tasks resume after a restart.
//!
//! Source positions live in the worker's position store ([`FileStore`] in standalone mode: a
//! local file written atomically), keyed by connector and source partition. Sink offsets are
//! the committed offsets of the connector's consumer group (`connect-<name>`), read and altered
//! through the cluster ([`sink`]).

mod file;
pub mod sink;
pub mod topic;

pub use file::FileStore;

use std::collections::BTreeMap;

use crate::model::{ConnectorOffset, ConnectorOffsets};

/// Why the position store could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum OffsetError {
    /// Reading or writing the store's file failed.
    #[error("offset store {path}: {message}")]
    Io {
        /// The file.
        path: String,
        /// What failed.
        message: String,
    },
    /// The store's file is not what this worker writes.
    #[error("offset store {path} is corrupt: {message}")]
    Corrupt {
        /// The file.
        path: String,
        /// What was wrong.
        message: String,
    },
    /// A KIP-875 body that cannot be applied.
    #[error("{0}")]
    BadRequest(String),
    /// Talking to the cluster failed (sink offsets).
    #[error("{0}")]
    Kafka(String),
}

/// A connector's stored source positions: source partition to position.
pub type Positions = BTreeMap<String, String>;

/// Shows a stored partition or position string as KIP-875's JSON: Weft's connectors write JSON
/// objects, which appear as such; any other text appears as a JSON string.
pub fn to_json(text: &str) -> serde_json::Value {
    match serde_json::from_str::<serde_json::Value>(text) {
        Ok(v @ serde_json::Value::Object(_)) => v,
        _ => serde_json::Value::String(text.to_string()),
    }
}

/// The inverse of [`to_json`]: a JSON string is taken as is, an object is written compactly.
pub fn from_json(value: &serde_json::Value, what: &str) -> Result<String, OffsetError> {
    match value {
        serde_json::Value::String(s) => Ok(s.clone()),
        serde_json::Value::Object(_) => Ok(value.to_string()),
        other => Err(OffsetError::BadRequest(format!(
            "the {what} of a source offset must be a JSON object or a string, not {other}"
        ))),
    }
}

/// A connector's source positions as the KIP-875 body.
pub fn source_offsets(positions: &Positions) -> ConnectorOffsets {
    ConnectorOffsets {
        offsets: positions
            .iter()
            .map(|(p, o)| ConnectorOffset {
                partition: to_json(p),
                offset: to_json(o),
            })
            .collect(),
    }
}

/// A KIP-875 PATCH body for a source connector as changes: `None` removes the partition.
pub fn source_changes(
    body: &ConnectorOffsets,
) -> Result<Vec<(String, Option<String>)>, OffsetError> {
    body.offsets
        .iter()
        .map(|o| {
            let partition = from_json(&o.partition, "partition")?;
            let offset = match &o.offset {
                serde_json::Value::Null => None,
                v => Some(from_json(v, "offset")?),
            };
            Ok((partition, offset))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_objects_round_trip_and_plain_text_is_a_string() {
        let p = r#"{"filename":"/tmp/a.txt"}"#;
        assert_eq!(from_json(&to_json(p), "partition").unwrap(), p);
        assert_eq!(to_json("42"), serde_json::Value::String("42".into()));
        assert!(from_json(&serde_json::json!(7), "offset").is_err());
    }

    #[test]
    fn null_offset_in_a_patch_removes_the_partition() {
        let body: ConnectorOffsets = serde_json::from_value(serde_json::json!({
            "offsets": [{"partition": {"filename": "a"}, "offset": null},
                        {"partition": {"filename": "b"}, "offset": {"position": 10}}]
        }))
        .unwrap();
        let changes = source_changes(&body).unwrap();
        assert_eq!(changes[0], (r#"{"filename":"a"}"#.to_string(), None));
        assert_eq!(changes[1].1.as_deref(), Some(r#"{"position":10}"#));
    }
}
