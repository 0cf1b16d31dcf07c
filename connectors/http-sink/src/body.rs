//! Records as JSON request bodies: each value in the Connect value encoding becomes one JSON
//! value (as JsonConverter would write it without its schema envelope), and batches of values
//! become JSON arrays bounded in count and bytes.

use base64::Engine;

/// How a batch's values are encoded, from its value schema's `type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueKind {
    /// `string`: the text, as a JSON string.
    Text,
    /// `bytes`: base64, as a JSON string (JsonConverter's encoding).
    Bytes,
    /// Any other type: the value already is JSON text.
    Json,
    /// No schema: JSON text when it parses, else a JSON string of the text.
    Schemaless,
}

impl ValueKind {
    /// The kind for a value schema's text.
    pub fn of(schema: Option<&str>) -> ValueKind {
        let Some(s) = schema else {
            return ValueKind::Schemaless;
        };
        let ty = serde_json::from_str::<serde_json::Value>(s)
            .ok()
            .and_then(|v| v.get("type").and_then(|t| t.as_str()).map(str::to_string));
        match ty.as_deref() {
            Some("string") => ValueKind::Text,
            Some("bytes") => ValueKind::Bytes,
            Some(_) => ValueKind::Json,
            None => ValueKind::Schemaless,
        }
    }
}

/// Appends `value` as one JSON value to `out`.
pub fn push_json(out: &mut Vec<u8>, value: Option<&[u8]>, kind: ValueKind) {
    let Some(v) = value else {
        out.extend_from_slice(b"null");
        return;
    };
    let as_string = |out: &mut Vec<u8>, text: &str| {
        // Serializing a &str cannot fail.
        let _ = serde_json::to_writer(&mut *out, text);
    };
    match kind {
        ValueKind::Bytes => as_string(out, &base64::engine::general_purpose::STANDARD.encode(v)),
        ValueKind::Text => as_string(out, &String::from_utf8_lossy(v)),
        ValueKind::Json | ValueKind::Schemaless => {
            if serde_json::from_slice::<serde::de::IgnoredAny>(v).is_ok() {
                out.extend_from_slice(v);
            } else {
                as_string(out, &String::from_utf8_lossy(v));
            }
        }
    }
}

/// One request's body and the records (indexes into the put) it carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chunk {
    pub body: Vec<u8>,
    pub records: std::ops::Range<usize>,
}

/// Splits values into request bodies: with `max_records` 1 each value alone, otherwise JSON
/// arrays of at most `max_records` values and `max_bytes` bytes (a value larger than that
/// goes alone in an array of one).
pub fn chunks<'a>(
    values: impl IntoIterator<Item = Option<&'a [u8]>>,
    kind: ValueKind,
    max_records: usize,
    max_bytes: usize,
) -> Vec<Chunk> {
    let mut out = Vec::new();
    let mut body = Vec::new();
    let mut start = 0;
    let mut total = 0;
    let mut one = Vec::new();
    for (i, v) in values.into_iter().enumerate() {
        total = i + 1;
        if max_records <= 1 {
            let mut b = Vec::new();
            push_json(&mut b, v, kind);
            out.push(Chunk {
                body: b,
                records: i..i + 1,
            });
            continue;
        }
        one.clear();
        push_json(&mut one, v, kind);
        let count = i - start;
        // The body so far, a `,`, the value and the closing `]` must fit.
        let full = count >= max_records || (count > 0 && body.len() + one.len() + 2 > max_bytes);
        if full {
            body.push(b']');
            out.push(Chunk {
                body: std::mem::take(&mut body),
                records: start..i,
            });
            start = i;
        }
        body.push(if i == start { b'[' } else { b',' });
        body.extend_from_slice(&one);
    }
    if !body.is_empty() {
        body.push(b']');
        out.push(Chunk {
            body,
            records: start..total,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bodies(chunks: &[Chunk]) -> Vec<(String, std::ops::Range<usize>)> {
        chunks
            .iter()
            .map(|c| {
                (
                    String::from_utf8(c.body.clone()).unwrap(),
                    c.records.clone(),
                )
            })
            .collect()
    }

    #[test]
    fn values_become_json_by_their_schema() {
        let enc = |v: Option<&[u8]>, k| {
            let mut o = Vec::new();
            push_json(&mut o, v, k);
            String::from_utf8(o).unwrap()
        };
        assert_eq!(enc(Some(b"a\"b"), ValueKind::Text), r#""a\"b""#);
        assert_eq!(enc(Some(b"\x01\x02"), ValueKind::Bytes), r#""AQI=""#);
        assert_eq!(enc(Some(br#"{"x":1}"#), ValueKind::Json), r#"{"x":1}"#);
        assert_eq!(enc(Some(b"plain"), ValueKind::Schemaless), r#""plain""#);
        assert_eq!(enc(None, ValueKind::Json), "null");
        assert_eq!(
            ValueKind::of(Some(r#"{"type":"string","optional":false}"#)),
            ValueKind::Text
        );
        assert_eq!(
            ValueKind::of(Some(r#"{"type":"struct","fields":[]}"#)),
            ValueKind::Json
        );
        assert_eq!(ValueKind::of(None), ValueKind::Schemaless);
    }

    #[test]
    fn batches_are_bounded_by_count_and_bytes() {
        let vals: Vec<&[u8]> = vec![b"1", b"22", b"333", b"4", b"5"];
        let c = chunks(vals.iter().map(|v| Some(*v)), ValueKind::Json, 1, 100);
        assert_eq!(c.len(), 5);
        assert_eq!(bodies(&c)[2], ("333".into(), 2..3));
        let c = chunks(vals.iter().map(|v| Some(*v)), ValueKind::Json, 2, 100);
        assert_eq!(
            bodies(&c),
            vec![
                ("[1,22]".into(), 0..2),
                ("[333,4]".into(), 2..4),
                ("[5]".into(), 4..5)
            ]
        );
        // 8 bytes: `[1,22]` fits (6), adding `,333` would not.
        let c = chunks(vals.iter().map(|v| Some(*v)), ValueKind::Json, 100, 8);
        assert_eq!(
            bodies(&c),
            vec![
                ("[1,22]".into(), 0..2),
                ("[333,4]".into(), 2..4),
                ("[5]".into(), 4..5)
            ]
        );
        // A value larger than the limit goes alone.
        let c = chunks([Some(&b"123456789"[..])], ValueKind::Json, 100, 4);
        assert_eq!(bodies(&c), vec![("[123456789]".into(), 0..1)]);
        assert!(chunks(std::iter::empty(), ValueKind::Json, 5, 5).is_empty());
    }
}
