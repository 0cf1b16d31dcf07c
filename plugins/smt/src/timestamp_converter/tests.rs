//! The transform end to end on records (natively): whole values and fields, with and without
//! schemas, `$Key`, config errors.

use super::*;
use serde_json::json;

const T: i64 = 1_709_622_489_012; // 2024-03-05T07:08:09.012Z
const TS_SCHEMA: &str = r#"{"type":"int64","optional":false,"name":"org.apache.kafka.connect.data.Timestamp","version":1}"#;

fn parsed(text: Option<String>) -> Value {
    serde_json::from_str(&text.unwrap()).unwrap()
}

fn configured(pairs: &[(&str, &str)]) -> Result<TimestampConverter> {
    let entries = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let config = Config::new(entries).with_defaults(&TimestampConverter::metadata().config);
    let mut t = TimestampConverter::default();
    t.configure(&config)?;
    Ok(t)
}

/// Runs one value through with `schema` (None: schemaless); the output schema and value text.
fn run(
    pairs: &[(&str, &str)],
    schema: Option<&str>,
    value: &str,
) -> (Option<String>, Result<String>) {
    let mut t = configured(pairs).unwrap();
    let schemas = t
        .schemas(&Schemas {
            key: None,
            value: schema.map(str::to_string),
        })
        .unwrap();
    let out = t
        .apply(Record::new("t", value.as_bytes().to_vec()))
        .map(|r| {
            let r = r.unwrap();
            String::from_utf8(r.value().unwrap().to_vec()).unwrap()
        });
    (schemas.value, out)
}

#[test]
fn whole_value_timestamp_to_string_with_schema() {
    let (schema, out) = run(
        &[
            ("target.type", "string"),
            ("format", "yyyy-MM-dd'T'HH:mm:ss.SSSXXX"),
        ],
        Some(TS_SCHEMA),
        &T.to_string(),
    );
    assert_eq!(parsed(schema), json!({"type": "string", "optional": false}));
    assert_eq!(out.unwrap(), "2024-03-05T07:08:09.012Z");
}

#[test]
fn whole_value_string_to_timestamp_date_and_time_with_schema() {
    let f = "yyyy-MM-dd HH:mm:ss.SSS";
    let string = Some(r#"{"type":"string","optional":true}"#);
    let text = "2024-03-05 07:08:09.012";
    let (schema, out) = run(&[("target.type", "Timestamp"), ("format", f)], string, text);
    let schema: Value = serde_json::from_str(&schema.unwrap()).unwrap();
    assert_eq!(schema["name"], "org.apache.kafka.connect.data.Timestamp");
    assert_eq!(schema["optional"], true);
    assert_eq!(out.unwrap(), T.to_string());
    let (schema, out) = run(&[("target.type", "Date"), ("format", f)], string, text);
    assert!(schema
        .unwrap()
        .contains("org.apache.kafka.connect.data.Date"));
    assert_eq!(out.unwrap(), "19787");
    let (schema, out) = run(&[("target.type", "Time"), ("format", f)], string, text);
    assert!(schema.unwrap().contains(r#""type":"int32""#));
    assert_eq!(out.unwrap(), "25689012");
}

#[test]
fn unix_precision_applies_to_output_and_int64_input() {
    let (schema, out) = run(
        &[("target.type", "unix"), ("unix.precision", "seconds")],
        Some(TS_SCHEMA),
        &T.to_string(),
    );
    assert_eq!(parsed(schema), json!({"type": "int64", "optional": false}));
    assert_eq!(out.unwrap(), "1709622489");
    let (_, out) = run(
        &[
            ("target.type", "Timestamp"),
            ("unix.precision", "microseconds"),
        ],
        Some(r#"{"type":"int64","optional":false}"#),
        &(T * 1000).to_string(),
    );
    assert_eq!(out.unwrap(), T.to_string());
}

#[test]
fn a_struct_field_is_converted_and_its_schema_retyped() {
    let schema = r#"{"type":"struct","optional":false,"name":"ev","fields":[
        {"type":"string","optional":false,"field":"id"},
        {"type":"int64","optional":true,"name":"org.apache.kafka.connect.data.Timestamp","version":1,"field":"at"}]}"#;
    let (out_schema, out) = run(
        &[
            ("target.type", "string"),
            ("format", "yyyy-MM-dd"),
            ("field", "at"),
        ],
        Some(schema),
        &format!(r#"{{"id":"a","at":{T}}}"#),
    );
    let s: Value = serde_json::from_str(&out_schema.unwrap()).unwrap();
    assert_eq!(s["name"], "ev");
    assert_eq!(
        s["fields"][0],
        json!({"type":"string","optional":false,"field":"id"})
    );
    assert_eq!(
        s["fields"][1],
        json!({"type":"string","optional":true,"field":"at"})
    );
    let v: Value = serde_json::from_str(&out.unwrap()).unwrap();
    assert_eq!(v, json!({"id": "a", "at": "2024-03-05"}));
    // A null field stays null.
    let (_, out) = run(
        &[
            ("target.type", "string"),
            ("format", "yyyy"),
            ("field", "at"),
        ],
        Some(schema),
        r#"{"id":"a","at":null}"#,
    );
    assert_eq!(parsed(out.ok()), json!({"id": "a", "at": null}));
}

#[test]
fn replace_null_with_default_uses_the_field_default_unless_disabled() {
    let schema = r#"{"type":"struct","optional":false,"fields":[
        {"type":"int64","optional":true,"default":86400000,"name":"org.apache.kafka.connect.data.Timestamp","version":1,"field":"at"}]}"#;
    let pairs = [("target.type", "Date"), ("field", "at")];
    let (_, out) = run(&pairs, Some(schema), r#"{"at":null}"#);
    assert_eq!(out.unwrap(), r#"{"at":1}"#);
    let mut off = pairs.to_vec();
    off.push(("replace.null.with.default", "false"));
    let (_, out) = run(&off, Some(schema), r#"{"at":null}"#);
    assert_eq!(out.unwrap(), r#"{"at":null}"#);
}

#[test]
fn schemaless_values_and_fields_are_inferred() {
    let (schema, out) = run(
        &[("target.type", "string"), ("format", "yyyy-MM-dd HH:mm")],
        None,
        &T.to_string(),
    );
    assert_eq!(schema, None);
    assert_eq!(out.unwrap(), "2024-03-05 07:08");
    let (_, out) = run(
        &[
            ("target.type", "unix"),
            ("format", "yyyy-MM-dd"),
            ("field", "d"),
        ],
        None,
        r#"{"d":"2024-03-05","x":1}"#,
    );
    let v: Value = serde_json::from_str(&out.unwrap()).unwrap();
    assert_eq!(v, json!({"d": 1_709_596_800_000_i64, "x": 1}));
    // A missing field is added as null, as Kafka's HashMap.put(field, null).
    let (_, out) = run(
        &[("target.type", "unix"), ("field", "d")],
        None,
        r#"{"x":1}"#,
    );
    let v: Value = serde_json::from_str(&out.unwrap()).unwrap();
    assert_eq!(v, json!({"x": 1, "d": null}));
    // Not a map: a record error.
    let (_, out) = run(&[("target.type", "unix"), ("field", "d")], None, "[1]");
    assert!(out
        .unwrap_err()
        .message
        .contains("Only Map objects supported"));
}

#[test]
fn bad_records_fail_alone_with_kafkas_messages() {
    let (_, out) = run(
        &[("target.type", "unix"), ("format", "yyyy-MM-dd")],
        Some(r#"{"type":"string","optional":false}"#),
        "05/03/2024",
    );
    assert!(out
        .unwrap_err()
        .message
        .contains("does not match pattern (yyyy-MM-dd)"));
    let (_, out) = run(
        &[("target.type", "unix")],
        Some(r#"{"type":"boolean","optional":false}"#),
        "true",
    );
    assert!(out
        .unwrap_err()
        .message
        .contains("does not correspond to a known timestamp type format"));
}

#[test]
fn the_key_variant_converts_the_key_only() {
    let mut t = configured(&[("target.type", "unix"), ("target", "key")]).unwrap();
    let schemas = t
        .schemas(&Schemas {
            key: Some(TS_SCHEMA.into()),
            value: Some(TS_SCHEMA.into()),
        })
        .unwrap();
    assert_eq!(
        parsed(schemas.key),
        json!({"type": "int64", "optional": false})
    );
    assert_eq!(schemas.value.as_deref(), Some(TS_SCHEMA));
    let mut r = Record::new("t", b"5".to_vec());
    r.key = Some(b"7".to_vec().into());
    let r = t.apply(r).unwrap().unwrap();
    assert_eq!((r.key(), r.value()), (Some(&b"7"[..]), Some(&b"5"[..])));
}

#[test]
fn config_errors_name_the_problem() {
    let err = |pairs: &[(&str, &str)]| configured(pairs).err().unwrap().message;
    assert!(err(&[("target.type", "string")]).contains("requires format option"));
    assert!(err(&[("target.type", "epoch")]).contains("Invalid value epoch"));
    assert!(err(&[("target.type", "unix"), ("unix.precision", "days")]).contains("days"));
    let bad_letter = err(&[("target.type", "string"), ("format", "yyyy-MM-dd hh:mm a")]);
    assert!(bad_letter.contains("pattern letter `h`"), "{bad_letter}");
}
