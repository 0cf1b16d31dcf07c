//! The built-in converters (`json-converter`, `string-converter`, `bytearray-converter`) through
//! the real runtime, with the exact bytes Kafka's JsonConverter, StringConverter and
//! ByteArrayConverter write and read.

mod common;

use common::runtime;
use weft_runtime::{Instance, PluginConfig, PluginKind, Record, Registry, Schemas};

fn converter(name: &str, config: &[(&str, &str)]) -> Instance {
    let (rt, _) = runtime();
    let reg = Registry::new(rt);
    let plugin = reg.resolve(name).unwrap();
    assert_eq!(plugin.kind(), PluginKind::Converter);
    assert_eq!(plugin.metadata().name, name);
    plugin
        .instantiate(&PluginConfig::new(config.iter().copied()))
        .unwrap()
}

fn value(v: Option<&[u8]>) -> Record {
    let mut r = Record::new("t", "");
    r.value = v.map(<[u8]>::to_vec);
    r
}

fn text(r: &Record) -> Option<String> {
    r.value
        .as_deref()
        .map(|v| String::from_utf8_lossy(v).into_owned())
}

fn value_schema(s: &str) -> Schemas {
    Schemas {
        key: None,
        value: Some(s.to_string()),
    }
}

const STRING: &str = r#"{"type":"string","optional":false}"#;

#[test]
fn json_writes_a_string_in_kafkas_envelope_and_reads_it_back() {
    let mut c = converter("json-converter", &[("converter.type", "value")]);
    let out = c
        .convert_from_connect(&[value(Some(b"hello"))], &value_schema(STRING))
        .unwrap();
    assert!(out.failures.is_empty());
    assert_eq!(
        text(&out.records[0]).unwrap(),
        r#"{"schema":{"type":"string","optional":false},"payload":"hello"}"#
    );

    let back = c.convert_to_connect(&out.records).unwrap();
    assert_eq!(text(&back.records[0]).unwrap(), "hello");
    assert_eq!(back.schemas, value_schema(STRING));

    // Without schemas: just the JSON value, and plain JSON reads back schemaless.
    let mut plain = converter("json-converter", &[("schemas.enable", "false")]);
    let out = plain
        .convert_from_connect(&[value(Some(b"hello"))], &value_schema(STRING))
        .unwrap();
    assert_eq!(text(&out.records[0]).unwrap(), r#""hello""#);
    let back = plain
        .convert_to_connect(&[value(Some(br#""hello""#)), value(Some(br#"{"a":1}"#))])
        .unwrap();
    assert_eq!(text(&back.records[0]).unwrap(), "hello");
    assert_eq!(text(&back.records[1]).unwrap(), r#"{"a":1}"#);
    assert_eq!(back.schemas, Schemas::default());
}

#[test]
fn json_bytes_are_base64_and_come_back_raw() {
    let mut c = converter("json-converter", &[]);
    let schema = value_schema(r#"{"type":"bytes","optional":false}"#);
    let out = c
        .convert_from_connect(&[value(Some(&[0, 1, 255]))], &schema)
        .unwrap();
    assert_eq!(
        text(&out.records[0]).unwrap(),
        r#"{"schema":{"type":"bytes","optional":false},"payload":"AAH/"}"#
    );
    let back = c.convert_to_connect(&out.records).unwrap();
    assert_eq!(back.records[0].value.as_deref(), Some(&[0u8, 1, 255][..]));
    assert_eq!(back.schemas, schema);
}

#[test]
fn json_writes_structs_maps_arrays_names_versions_and_parameters_in_kafkas_order() {
    // The schema arrives with its keys in another order; Kafka writes them in its own.
    let given = r#"{"fields":[{"field":"id","type":"int64"},{"type":"string","optional":true,"field":"name"},{"type":"array","items":{"type":"string"},"field":"tags"},{"type":"map","keys":{"type":"string"},"values":{"type":"int32","optional":true},"optional":true,"field":"meta"},{"type":"bytes","optional":true,"field":"blob"},{"type":"double","field":"score"}],"type":"struct","name":"com.example.User","version":3,"parameters":{"b":"2","a":"1"},"optional":false}"#;
    let canonical = r#"{"type":"struct","fields":[{"type":"int64","optional":false,"field":"id"},{"type":"string","optional":true,"field":"name"},{"type":"array","items":{"type":"string","optional":false},"optional":false,"field":"tags"},{"type":"map","keys":{"type":"string","optional":false},"values":{"type":"int32","optional":true},"optional":true,"field":"meta"},{"type":"bytes","optional":true,"field":"blob"},{"type":"double","optional":false,"field":"score"}],"optional":false,"name":"com.example.User","version":3,"parameters":{"b":"2","a":"1"}}"#;
    // A struct value in the Connect value encoding: JSON text, fields in any order.
    let v = br#"{"score":2,"tags":["x","y"],"id":7,"meta":{"k":1},"blob":"AAE="}"#;
    let payload =
        r#"{"id":7,"name":null,"tags":["x","y"],"meta":{"k":1},"blob":"AAE=","score":2.0}"#;

    let mut c = converter("json-converter", &[]);
    let out = c
        .convert_from_connect(&[value(Some(v))], &value_schema(given))
        .unwrap();
    assert!(out.failures.is_empty(), "{:?}", out.failures);
    assert_eq!(
        text(&out.records[0]).unwrap(),
        format!(r#"{{"schema":{canonical},"payload":{payload}}}"#)
    );

    let back = c.convert_to_connect(&out.records).unwrap();
    assert_eq!(text(&back.records[0]).unwrap(), payload);
    assert_eq!(back.schemas, value_schema(canonical));
}

#[test]
fn json_nulls_follow_the_schema_and_bad_records_fail_alone() {
    let mut c = converter("json-converter", &[]);
    // No schema and no value: a tombstone stays a tombstone.
    let out = c
        .convert_from_connect(&[value(None)], &Schemas::default())
        .unwrap();
    assert_eq!(out.records[0].value, None);

    // An optional schema writes a null payload; a required one fails that record only.
    let out = c
        .convert_from_connect(
            &[value(None)],
            &value_schema(r#"{"type":"string","optional":true}"#),
        )
        .unwrap();
    assert_eq!(
        text(&out.records[0]).unwrap(),
        r#"{"schema":{"type":"string","optional":true},"payload":null}"#
    );
    let out = c
        .convert_from_connect(&[value(None), value(Some(b"ok"))], &value_schema(STRING))
        .unwrap();
    assert_eq!(out.records.len(), 1);
    assert_eq!(out.failures.len(), 1);
    assert_eq!(out.failures[0].index, 0);
    assert_eq!(
        out.failures[0].message,
        "Conversion error: null value for field that is required and has no default value"
    );

    // Plain JSON where an envelope is expected: Kafka's message, for that record only.
    let out = c
        .convert_to_connect(&[
            value(Some(br#"{"a":1}"#)),
            value(Some(
                br#"{"schema":{"type":"int32","optional":false},"payload":42}"#,
            )),
            value(Some(b"not json")),
        ])
        .unwrap();
    assert_eq!(out.records.len(), 1);
    assert_eq!(text(&out.records[0]).unwrap(), "42");
    assert_eq!(
        out.schemas,
        value_schema(r#"{"type":"int32","optional":false}"#)
    );
    let indexes: Vec<u32> = out.failures.iter().map(|f| f.index).collect();
    assert_eq!(indexes, [0, 2]);
    assert!(out.failures[0]
        .message
        .contains("JsonConverter with schemas.enable requires \"schema\" and \"payload\" fields"));
    assert!(out.failures[1]
        .message
        .contains("Converting byte[] to Kafka Connect data failed due to serialization error"));

    // A value that does not fit its schema is refused.
    let out = c
        .convert_from_connect(
            &[value(Some(b"300"))],
            &value_schema(r#"{"type":"int8","optional":false}"#),
        )
        .unwrap();
    assert_eq!(out.failures[0].message, "Invalid value for INT8: 300");
}

#[test]
fn a_key_converter_converts_keys_with_the_key_schema() {
    let mut c = converter("json-converter", &[("converter.type", "key")]);
    let mut r = value(Some(b"v"));
    r.key = Some(b"12".to_vec());
    let schemas = Schemas {
        key: Some(r#"{"type":"int64","optional":false}"#.into()),
        value: Some(STRING.into()),
    };
    let out = c.convert_from_connect(&[r], &schemas).unwrap();
    assert_eq!(
        out.records[0].key.as_deref(),
        Some(&br#"{"schema":{"type":"int64","optional":false},"payload":12}"#[..])
    );
    // The value is not the key converter's business.
    assert_eq!(out.records[0].value.as_deref(), Some(&b"v"[..]));
    let back = c.convert_to_connect(&out.records).unwrap();
    assert_eq!(back.records[0].key.as_deref(), Some(&b"12"[..]));
    assert_eq!(
        back.schemas,
        Schemas {
            key: Some(r#"{"type":"int64","optional":false}"#.into()),
            value: None
        }
    );
}

#[test]
fn string_converter_writes_text_in_its_encoding_and_reads_optional_strings() {
    let mut c = converter("string-converter", &[]);
    let out = c
        .convert_from_connect(&[value(Some("héllo".as_bytes()))], &value_schema(STRING))
        .unwrap();
    assert_eq!(out.records[0].value.as_deref(), Some("héllo".as_bytes()));
    let back = c.convert_to_connect(&out.records).unwrap();
    assert_eq!(text(&back.records[0]).unwrap(), "héllo");
    // Malformed UTF-8 reads as U+FFFD, as Java's decoder does; null stays null.
    let back = c
        .convert_to_connect(&[value(Some(&[b'f', 0xff])), value(None)])
        .unwrap();
    assert_eq!(text(&back.records[0]).unwrap(), "f\u{FFFD}");
    assert_eq!(back.records[1].value, None);
    assert_eq!(
        back.schemas,
        value_schema(r#"{"type":"string","optional":true}"#)
    );

    let mut latin = converter("string-converter", &[("converter.encoding", "ISO-8859-1")]);
    let out = latin
        .convert_from_connect(&[value(Some("é".as_bytes()))], &value_schema(STRING))
        .unwrap();
    assert_eq!(out.records[0].value.as_deref(), Some(&[0xE9u8][..]));
    let back = latin.convert_to_connect(&out.records).unwrap();
    assert_eq!(text(&back.records[0]).unwrap(), "é");

    let (rt, _) = runtime();
    let bad = Registry::new(rt)
        .resolve("string-converter")
        .unwrap()
        .instantiate(&PluginConfig::new([("encoding", "EBCDIC")]));
    assert!(
        bad.as_ref()
            .is_err_and(|e| e.to_string().contains("unsupported encoding `EBCDIC`")),
        "{bad:?}"
    );
}

#[test]
fn bytearray_converter_passes_bytes_and_refuses_other_schemas() {
    let mut c = converter("bytearray-converter", &[]);
    let bytes = value_schema(r#"{"type":"bytes","optional":false}"#);
    let out = c
        .convert_from_connect(&[value(Some(&[1, 2, 3]))], &bytes)
        .unwrap();
    assert_eq!(out.records[0].value.as_deref(), Some(&[1u8, 2, 3][..]));
    let out = c
        .convert_from_connect(&[value(Some(b"x"))], &value_schema(STRING))
        .unwrap();
    assert_eq!(
        out.failures[0].message,
        "Invalid schema type for ByteArrayConverter: STRING"
    );
    // The schema check is kept per batch; a later batch with another schema is checked anew.
    let out = c
        .convert_from_connect(&[value(Some(&[4]))], &bytes)
        .unwrap();
    assert!(out.failures.is_empty());
    assert_eq!(out.records[0].value.as_deref(), Some(&[4u8][..]));
    let back = c.convert_to_connect(&[value(Some(&[9]))]).unwrap();
    assert_eq!(back.records[0].value.as_deref(), Some(&[9u8][..]));
    assert_eq!(
        back.schemas,
        value_schema(r#"{"type":"bytes","optional":true}"#)
    );
}
