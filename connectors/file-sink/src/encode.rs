//! Turns a record value in the Connect value encoding into the line Kafka's FileStreamSink
//! writes for it (`PrintStream.println(record.value())`).
//!
//! - A `string` value is its text, and `bytes` its raw bytes (Kafka would print a Java array
//!   reference such as `[B@1b6d3586`, which is of no use to anyone).
//! - Structs, maps, arrays, numbers and booleans are their JSON text (Kafka prints Java's
//!   `toString`, e.g. `Struct{a=1}`; JSON is what people can read back).
//! - A null value is the text `null`, as Kafka prints it.
//! - Schemaless values arrive as JSON text; a JSON string is written as its text (Kafka's sink
//!   receives a `String` from the schemaless JsonConverter and prints it unquoted).

use serde_json::Value;

/// How the values of a batch are encoded, from its value schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueKind {
    /// `string` or `bytes`: written as they are.
    Raw,
    /// Any other schema: JSON text, written as it is.
    Json,
    /// No schema: JSON text, with strings unquoted.
    Schemaless,
}

impl ValueKind {
    /// The kind for a batch's value schema (JsonConverter's schema JSON), if any.
    pub fn of(schema: Option<&str>) -> ValueKind {
        let Some(schema) = schema else {
            return ValueKind::Schemaless;
        };
        let ty = serde_json::from_str::<Value>(schema).ok().and_then(|v| {
            v.get("type")
                .and_then(Value::as_str)
                .map(str::to_ascii_lowercase)
        });
        match ty.as_deref() {
            Some("string") | Some("bytes") => ValueKind::Raw,
            Some(_) => ValueKind::Json,
            // A schema the sink cannot read: write the bytes as they are rather than fail.
            None => ValueKind::Raw,
        }
    }
}

/// Appends the line for `value` (without the newline) to `out`.
pub fn write_value(kind: ValueKind, value: Option<&[u8]>, out: &mut Vec<u8>) {
    let Some(v) = value else {
        out.extend_from_slice(b"null");
        return;
    };
    if kind == ValueKind::Schemaless && v.first() == Some(&b'"') {
        if let Ok(s) = serde_json::from_slice::<String>(v) {
            out.extend_from_slice(s.as_bytes());
            return;
        }
    }
    out.extend_from_slice(v);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(kind: ValueKind, v: Option<&[u8]>) -> String {
        let mut out = Vec::new();
        write_value(kind, v, &mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn kinds_from_schemas() {
        assert_eq!(
            ValueKind::of(Some(r#"{"type":"string","optional":false}"#)),
            ValueKind::Raw
        );
        assert_eq!(ValueKind::of(Some(r#"{"type":"bytes"}"#)), ValueKind::Raw);
        assert_eq!(
            ValueKind::of(Some(r#"{"type":"struct","fields":[]}"#)),
            ValueKind::Json
        );
        assert_eq!(ValueKind::of(Some(r#"{"type":"int64"}"#)), ValueKind::Json);
        assert_eq!(ValueKind::of(None), ValueKind::Schemaless);
        assert_eq!(ValueKind::of(Some("garbage")), ValueKind::Raw);
    }

    #[test]
    fn lines_as_kafka_writes_them() {
        assert_eq!(line(ValueKind::Raw, Some(b"hello")), "hello");
        assert_eq!(line(ValueKind::Raw, Some(b"\"q\"")), "\"q\"");
        assert_eq!(line(ValueKind::Json, Some(br#"{"a":1}"#)), r#"{"a":1}"#);
        assert_eq!(line(ValueKind::Json, None), "null");
        assert_eq!(line(ValueKind::Schemaless, Some(br#""a\nb""#)), "a\nb");
        assert_eq!(line(ValueKind::Schemaless, Some(b"42")), "42");
        assert_eq!(line(ValueKind::Schemaless, Some(br#""broken"#)), "\"broken");
        assert_eq!(line(ValueKind::Schemaless, None), "null");
    }
}
