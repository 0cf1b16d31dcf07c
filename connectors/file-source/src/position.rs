//! The source partition and position of a file, in Kafka FileStreamSource's shapes:
//! partition `{"filename": <file as configured>}`, position `{"position": <byte offset>}`.

use serde_json::{json, Value};

/// The source partition of `file`, as a JSON-object string.
pub fn partition(file: &str) -> String {
    json!({ "filename": file }).to_string()
}

/// The position `offset`, as a JSON-object string.
pub fn position(offset: u64) -> String {
    // Formatted by hand: this runs once per record, and the shape is fixed.
    format!("{{\"position\":{offset}}}")
}

/// Whether `partition` (a stored JSON-object string) names `file`.
pub fn is_partition_of(partition: &str, file: &str) -> bool {
    match serde_json::from_str::<Value>(partition) {
        Ok(v) => v.get("filename").and_then(Value::as_str) == Some(file),
        Err(_) => false,
    }
}

/// The byte offset in a stored position; an error message for any other shape (Kafka refuses
/// a position that is not a non-negative long in the same way).
pub fn parse_position(position: &str) -> Result<u64, String> {
    let v: Value = serde_json::from_str(position)
        .map_err(|e| format!("stored position `{position}` is not JSON: {e}"))?;
    match v.get("position") {
        Some(p) => p.as_u64().ok_or_else(|| {
            format!("stored position `{position}`: `position` must be a non-negative integer")
        }),
        None => Err(format!(
            "stored position `{position}` has no `position` field"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_round_trip() {
        let p = partition("dir/a \"b\".txt");
        assert!(is_partition_of(&p, "dir/a \"b\".txt"));
        assert!(!is_partition_of(&p, "other"));
        assert!(is_partition_of(r#"{ "filename" : "x" }"#, "x"));
        assert_eq!(position(42), r#"{"position":42}"#);
        assert_eq!(parse_position(&position(42)), Ok(42));
    }

    #[test]
    fn bad_positions_are_errors() {
        assert!(parse_position("nope").unwrap_err().contains("not JSON"));
        assert!(parse_position("{}").unwrap_err().contains("no `position`"));
        assert!(parse_position(r#"{"position":-1}"#)
            .unwrap_err()
            .contains("non-negative"));
        assert!(!is_partition_of("[1]", "x"));
    }
}
