//! Source positions: where a poll's records bring the source ([`RecordPosition`], see
//! [`crate::Polled`]) and helpers for positions written as JSON objects.
//!
//! The host treats a [`SourcePosition`]'s `partition` and `position` as opaque text, but the
//! Connect REST offsets API shows them as JSON objects (FileStreamSource's
//! `{"filename":"/tmp/in.txt"}` and `{"position":42}`), so sources should write both as compact
//! JSON objects: [`SourcePosition::json`] does, with keys sorted so that the same partition is
//! always the same text (the host looks positions up by it).

use serde_json::{Map, Value};

use crate::error::{PluginError, Result};
use crate::SourcePosition;

/// A source position reached by a poll, and how many of the poll's records precede it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordPosition {
    /// The position may be stored once the first `after_records` records of the poll (and every
    /// earlier poll's) are in the cluster.
    pub after_records: u32,
    /// Where the source stands then.
    pub position: SourcePosition,
}

/// Compact JSON text of an object (keys sorted), the form partitions and positions take.
pub fn json_object<K: Into<String>>(fields: impl IntoIterator<Item = (K, Value)>) -> String {
    let map: Map<String, Value> = fields.into_iter().map(|(k, v)| (k.into(), v)).collect();
    Value::Object(map).to_string()
}

/// Parses text written by [`json_object`] back into its fields.
pub fn parse_json_object(text: &str) -> Result<Map<String, Value>> {
    match serde_json::from_str(text) {
        Ok(Value::Object(m)) => Ok(m),
        _ => Err(PluginError::fatal(format!(
            "source position `{text}` is not a JSON object"
        ))),
    }
}

impl SourcePosition {
    /// A position whose partition and position are JSON objects, e.g.
    /// `SourcePosition::json([("filename", json!("/tmp/in.txt"))], [("position", json!(42))])`.
    pub fn json<K: Into<String>, L: Into<String>>(
        partition: impl IntoIterator<Item = (K, Value)>,
        position: impl IntoIterator<Item = (L, Value)>,
    ) -> Self {
        SourcePosition {
            partition: json_object(partition),
            position: json_object(position),
        }
    }

    /// The partition's fields, for a position written by [`SourcePosition::json`].
    pub fn partition_fields(&self) -> Result<Map<String, Value>> {
        parse_json_object(&self.partition)
    }

    /// The position's fields, for a position written by [`SourcePosition::json`].
    pub fn position_fields(&self) -> Result<Map<String, Value>> {
        parse_json_object(&self.position)
    }

    /// Field `field` of the position as an integer (`{"position":42}` gives 42).
    pub fn position_i64(&self, field: &str) -> Result<i64> {
        self.position_fields()?
            .get(field)
            .and_then(Value::as_i64)
            .ok_or_else(|| {
                PluginError::fatal(format!(
                    "source position `{}` has no integer `{field}`",
                    self.position
                ))
            })
    }
}

/// The committed position of the partition whose JSON text is `partition`, if any.
pub fn find<'a>(committed: &'a [SourcePosition], partition: &str) -> Option<&'a SourcePosition> {
    committed.iter().rev().find(|p| p.partition == partition)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn positions_are_stable_json_and_read_back() {
        let p = SourcePosition::json(
            [("filename", json!("/tmp/a")), ("b", json!(1))],
            [("position", json!(42))],
        );
        assert_eq!(p.partition, r#"{"b":1,"filename":"/tmp/a"}"#);
        assert_eq!(p.position, r#"{"position":42}"#);
        assert_eq!(p.position_i64("position").unwrap(), 42);
        assert!(p.position_i64("other").is_err());
        let mut polled = crate::Polled::new();
        polled.push(crate::Record::new("t", b"a".to_vec()));
        polled.push_at(crate::Record::new("t", b"b".to_vec()), p.clone());
        assert_eq!(polled.positions()[0].after_records, 2);
        assert_eq!(
            find(std::slice::from_ref(&p), r#"{"b":1,"filename":"/tmp/a"}"#),
            Some(&p)
        );
    }
}
