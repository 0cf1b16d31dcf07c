//! `json-converter`: Kafka Connect's JsonConverter. With `schemas.enable=true` (the default) a
//! value is written as `{"schema":<schema>,"payload":<value>}` and read back from that envelope
//! (reporting the schema); with `false`, just the JSON value. The bytes are Kafka's: compact,
//! schema fields in Kafka's order, struct fields in schema order, `bytes` as base64.

mod fast;
mod ojson;
mod schema;
mod value;

use std::ops::Range;

use base64::Engine as _;
use weft_plugin_sdk::json_object;
use weft_plugin_sdk::weft_batch::same_bytes;
use weft_plugin_sdk::*;

use crate::ojson::Json;
use crate::schema::{Schema, Type};
use crate::value::{convert, Direction, Options};

#[derive(Default)]
struct JsonConverter {
    schemas_enable: bool,
    replace_null_with_default: bool,
    /// The last schema text seen by `from_connect`, parsed. Every record of a batch comes with
    /// the batch's one schema, so it is parsed once per schema, not once per record.
    last_schema: Option<ParsedSchema>,
    /// The schema text the SDK announced for the batch being converted (its address and
    /// length), once `last_schema` holds it: a record given that very text is spared comparing
    /// a few hundred bytes. The SDK passes every record of the batch the text it announced,
    /// alive until the batch ends, and announces each batch; any other text is compared.
    announced: Option<(usize, usize)>,
    /// The last envelope schema `to_connect` read: its text as it came, parsed, and as the
    /// worker is told it. Records of a topic carry the same schema, so it is parsed once.
    last_read_schema: Option<ReadSchema>,
    scratch: fast::Scratch,
    members: Vec<json_object::Member>,
}

struct ReadSchema {
    raw: Vec<u8>,
    schema: Schema,
    text: String,
}

/// A schema's text as the worker sent it, the schema, and the schema as the `schemas.enable`
/// envelope writes it (Kafka's field order, compact).
struct ParsedSchema {
    text: String,
    schema: Schema,
    envelope_text: String,
}

fn fatal(message: impl Into<String>) -> PluginError {
    PluginError::fatal(message)
}

fn b64() -> base64::engine::GeneralPurpose {
    base64::engine::general_purpose::STANDARD
}

impl Plugin for JsonConverter {
    fn metadata() -> Metadata {
        Metadata::new(
            "json-converter",
            env!("CARGO_PKG_VERSION"),
            PluginKind::Converter,
            "Kafka Connect's JsonConverter: JSON with an optional schema envelope",
        )
        .config(
            ConfigDef::new(
                "schemas.enable",
                ConfigType::Boolean,
                "Include schemas within each of the serialized values and keys.",
            )
            .default("true")
            .importance(Importance::High)
            .group("Schemas", 0)
            .display_name("Enable Schemas"),
        )
        .config(
            ConfigDef::new(
                "converter.type",
                ConfigType::String,
                "How this converter will be used.",
            )
            .importance(Importance::Low)
            .recommended(["key", "value", "header"]),
        )
        .config(
            ConfigDef::new(
                "schemas.cache.size",
                ConfigType::Int,
                "Accepted for compatibility; the converter keeps the last schema it parsed.",
            )
            .default("1000")
            .importance(Importance::High)
            .group("Schemas", 1)
            .display_name("Schema Cache Size"),
        )
        .config(
            ConfigDef::new(
                "decimal.format",
                ConfigType::String,
                "How decimals are written; only BASE64 (Kafka's default) is supported.",
            )
            .default("BASE64")
            .importance(Importance::Low)
            .display_name("Decimal Format")
            .recommended(["BASE64"]),
        )
        .config(
            ConfigDef::new(
                "replace.null.with.default",
                ConfigType::Boolean,
                "Write a null field as its schema's default, if it has one.",
            )
            .default("true")
            .importance(Importance::Low)
            .display_name("Replace null with default"),
        )
    }

    fn configure(&mut self, config: &Config) -> Result<()> {
        self.schemas_enable = config.bool("schemas.enable", true)?;
        self.replace_null_with_default = config.bool("replace.null.with.default", true)?;
        match config.get("decimal.format").unwrap_or("BASE64") {
            "BASE64" => Ok(()),
            other => Err(fatal(format!(
                "config `decimal.format` = `{other}` is not supported (BASE64)"
            ))),
        }
    }
}

impl JsonConverter {
    /// Makes `last_schema` the schema `text` (parsed only when it differs from the last one).
    fn prepare(&mut self, text: &str) -> Result<()> {
        if self
            .last_schema
            .as_ref()
            .is_none_or(|p| !same_text(&p.text, text))
        {
            self.last_schema = parse_schema(Some(text))?.map(|schema| ParsedSchema {
                text: text.to_string(),
                envelope_text: schema.to_json().to_text(),
                schema,
            });
        }
        Ok(())
    }

    fn options(&self) -> Options {
        Options {
            direction: Direction::ToJson,
            replace_null_with_default: self.replace_null_with_default,
        }
    }

    /// A Connect value in the Connect value encoding, as JSON (the tree path).
    fn payload(&self, schema: Option<&Schema>, value: Option<&[u8]>) -> Result<Json> {
        let opts = self.options();
        let Some(raw) = value else {
            return match schema {
                Some(s) => convert(s, &Json::Null, 0, opts).map_err(fatal),
                None => Ok(Json::Null),
            };
        };
        let Some(schema) = schema else {
            return Ok(schemaless(raw));
        };
        match schema.ty {
            Type::String => std::str::from_utf8(raw)
                .map(|s| Json::Str(s.to_string()))
                .map_err(|_| fatal("Invalid type for STRING: the value is not UTF-8 text")),
            Type::Bytes => Ok(Json::Str(b64().encode(raw))),
            _ => {
                let json = Json::parse(raw).map_err(|e| {
                    fatal(format!(
                        "Invalid value for {}: not JSON ({e})",
                        schema.type_upper()
                    ))
                })?;
                convert(schema, &json, 0, opts).map_err(fatal)
            }
        }
    }
}

impl JsonConverter {
    /// `to_connect` of a `{"schema":...,"payload":...}` envelope without a tree, for the common
    /// case: exactly those two members, a schema seen before (or parsed once now) and a
    /// payload the fast path writes. `None` leaves the record to the tree path, which also
    /// words every error.
    fn envelope_fast(&mut self, raw: &[u8]) -> Option<(Option<Vec<u8>>, Option<String>)> {
        let payload = match self.known_envelope(raw) {
            Some(p) => p,
            None => {
                let mut members = std::mem::take(&mut self.members);
                let learnt = self.learn_envelope(raw, &mut members);
                self.members = members;
                learnt?
            }
        };
        self.read_payload(raw.get(payload)?)
    }

    /// The payload's range in `{"schema":S,"payload":P}` (any whitespace) when S is the text of
    /// the last schema read: that text was checked when it was learnt, so only P is left to
    /// check, and the envelope is valid JSON exactly when P is one JSON value.
    fn known_envelope(&self, raw: &[u8]) -> Option<Range<usize>> {
        let known = &self.last_read_schema.as_ref()?.raw;
        let mut i = expect(raw, 0, b"{")?;
        i = expect(raw, i, b"\"schema\"")?;
        i = expect(raw, i, b":")?;
        i = skip_ws(raw, i);
        if !same_bytes(raw.get(i..i + known.len())?, known) {
            return None;
        }
        i = expect(raw, i + known.len(), b",")?;
        i = expect(raw, i, b"\"payload\"")?;
        i = expect(raw, i, b":")?;
        let close = raw.iter().rposition(|c| !is_ws(*c))?;
        (raw[close] == b'}' && i < close).then_some(i..close)
    }

    /// Checks a whole envelope, finds its two members and learns its schema (parsed once per
    /// schema text); the payload's range.
    fn learn_envelope(
        &mut self,
        raw: &[u8],
        members: &mut Vec<json_object::Member>,
    ) -> Option<Range<usize>> {
        if !json_object::members(raw, members) || members.len() != 2 {
            return None;
        }
        let (schema, payload) = match (&members[0], &members[1]) {
            (s, p) if s.key_is(raw, "schema") && p.key_is(raw, "payload") => (s, p),
            (p, s) if s.key_is(raw, "schema") && p.key_is(raw, "payload") => (s, p),
            _ => return None,
        };
        let text = schema.value_text(raw);
        let known = self
            .last_read_schema
            .as_ref()
            .is_some_and(|r| same_bytes(&r.raw, text));
        if !known {
            let parsed = Schema::parse(&Json::parse(text).ok()?).ok()??;
            self.last_read_schema = Some(ReadSchema {
                raw: text.to_vec(),
                text: parsed.to_json().to_text(),
                schema: parsed,
            });
        }
        Some(payload.value.clone())
    }

    /// The Connect value of a payload of the last schema read, and that schema.
    fn read_payload(&mut self, payload: &[u8]) -> Option<(Option<Vec<u8>>, Option<String>)> {
        // A null payload is a null value, or the schema's default, or an error: the tree path
        // does all three (the walk would write the text `null`).
        let payload = fast::trim(payload);
        if payload == b"null" || !fast::is_valid(payload) {
            return None;
        }
        let read = self.last_read_schema.as_ref()?;
        let value = match read.schema.ty {
            Type::String => serde_json::from_slice::<String>(payload).ok()?.into_bytes(),
            Type::Bytes => {
                let text = serde_json::from_slice::<String>(payload).ok()?;
                b64().decode(text).ok()?
            }
            _ => {
                let opts = Options {
                    direction: Direction::ToConnect,
                    replace_null_with_default: true,
                };
                let mut out = record::buffer(payload.len());
                if !fast::write_checked(&read.schema, payload, opts, &mut self.scratch, &mut out) {
                    return None;
                }
                out
            }
        };
        Some((Some(value), Some(read.text.clone())))
    }
}

fn is_ws(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | b'\r')
}

fn skip_ws(text: &[u8], mut i: usize) -> usize {
    while text.get(i).is_some_and(|c| is_ws(*c)) {
        i += 1;
    }
    i
}

/// Just past `token` when it comes next after whitespace at `i`.
fn expect(text: &[u8], i: usize, token: &[u8]) -> Option<usize> {
    let i = skip_ws(text, i);
    text.get(i..)?.starts_with(token).then_some(i + token.len())
}

/// Where a text is and how long: what tells the schema announced for a batch from another.
fn address(text: &str) -> (usize, usize) {
    (text.as_ptr() as usize, text.len())
}

/// Whether two texts are equal, a word at a step: a record whose schema text is not the one
/// announced brings it to compare with the one parsed, and wasm's `memcmp` goes byte by byte.
fn same_text(a: &str, b: &str) -> bool {
    same_bytes(a.as_bytes(), b.as_bytes())
}

/// A value without a schema: JSON objects and arrays stay themselves, other text is a string,
/// and anything that is not UTF-8 is bytes (base64), as JsonConverter infers from the type.
fn schemaless(raw: &[u8]) -> Json {
    if matches!(raw.first(), Some(b'{' | b'[')) {
        if let Ok(j) = Json::parse(raw) {
            return j;
        }
    }
    match std::str::from_utf8(raw) {
        Ok(s) => Json::Str(s.to_string()),
        Err(_) => Json::Str(b64().encode(raw)),
    }
}

fn parse_schema(text: Option<&str>) -> Result<Option<Schema>> {
    let Some(text) = text else {
        return Ok(None);
    };
    let json = Json::parse(text.as_bytes())
        .map_err(|e| fatal(format!("the batch's schema is not JSON: {e}")))?;
    Schema::parse(&json).map_err(fatal)
}

impl Converter for JsonConverter {
    fn begin_batch(&mut self, schema: Option<&str>) {
        self.announced = None;
        if let Some(text) = schema {
            // A schema that does not parse is left to the records' calls, which report it.
            if self.prepare(text).is_ok() && self.last_schema.is_some() {
                self.announced = Some(address(text));
            }
        }
    }

    fn from_connect(
        &mut self,
        _topic: &str,
        value: Option<&[u8]>,
        schema: Option<&str>,
    ) -> Result<Option<Vec<u8>>> {
        if let Some(text) = schema {
            if self.announced != Some(address(text)) {
                self.announced = None;
                self.prepare(text)?;
            }
        }
        let parsed = schema.and(self.last_schema.as_ref());
        if parsed.is_none() && value.is_none() {
            return Ok(None);
        }
        let mut out = record::buffer(value.map_or(16, |v| v.len() + 16));
        if self.schemas_enable {
            out.extend_from_slice(b"{\"schema\":");
            let envelope = parsed.map_or("null", |p| p.envelope_text.as_str());
            out.extend_from_slice(envelope.as_bytes());
            out.extend_from_slice(b",\"payload\":");
        }
        let schema = parsed.map(|p| &p.schema);
        let fast = match (schema, value) {
            (Some(s), Some(v)) if !matches!(s.ty, Type::String | Type::Bytes) => {
                let opts = self.options();
                fast::write(s, v, opts, &mut self.scratch, &mut out)
            }
            _ => false,
        };
        if !fast {
            let mut text = String::new();
            self.payload(schema, value)?.write(&mut text);
            out.extend_from_slice(text.as_bytes());
        }
        if self.schemas_enable {
            out.push(b'}');
        }
        Ok(Some(out))
    }

    fn to_connect(
        &mut self,
        _topic: &str,
        value: Option<&[u8]>,
    ) -> Result<(Option<Vec<u8>>, Option<String>)> {
        let Some(raw) = value else {
            return Ok((None, None));
        };
        if self.schemas_enable {
            if let Some(read) = self.envelope_fast(raw) {
                return Ok(read);
            }
        }
        self.read_tree(raw)
    }
}

impl JsonConverter {
    /// `to_connect` through a tree (the read side): every case, and the wording of every error.
    fn read_tree(&self, raw: &[u8]) -> Result<(Option<Vec<u8>>, Option<String>)> {
        let json = Json::parse(raw).map_err(|e| {
            fatal(format!(
                "Converting byte[] to Kafka Connect data failed due to serialization error: {e}"
            ))
        })?;
        let (schema_json, payload) =
            if self.schemas_enable {
                match &json {
                    Json::Obj(f)
                        if f.len() == 2
                            && json.get("schema").is_some()
                            && json.get("payload").is_some() =>
                    {
                        (json.get("schema"), json.get("payload"))
                    }
                    _ => return Err(fatal(
                        "JsonConverter with schemas.enable requires \"schema\" and \"payload\" \
                         fields and may not contain additional fields. If you are trying to \
                         deserialize plain JSON data, set schemas.enable=false in your converter \
                         configuration.",
                    )),
                }
            } else {
                (None, Some(&json))
            };
        let schema = match schema_json {
            Some(s) => Schema::parse(s).map_err(fatal)?,
            None => None,
        };
        let payload = payload.unwrap_or(&Json::Null);
        let value = match &schema {
            None => match payload {
                Json::Null => None,
                Json::Str(s) => Some(s.clone().into_bytes()),
                other => Some(other.to_text().into_bytes()),
            },
            Some(s) => {
                let opts = Options {
                    direction: Direction::ToConnect,
                    replace_null_with_default: true,
                };
                match (convert(s, payload, 0, opts).map_err(fatal)?, &s.ty) {
                    (Json::Null, _) => None,
                    (Json::Str(text), Type::String) => Some(text.into_bytes()),
                    (Json::Str(text), Type::Bytes) => Some(
                        b64()
                            .decode(text)
                            .map_err(|e| fatal(format!("Invalid base64 for BYTES: {e}")))?,
                    ),
                    (other, _) => Some(other.to_text().into_bytes()),
                }
            }
        };
        Ok((value, schema.map(|s| s.to_json().to_text())))
    }
}

export_converter!(JsonConverter);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fast::tests::{Gen, WIDE};

    fn converter() -> JsonConverter {
        JsonConverter {
            schemas_enable: true,
            replace_null_with_default: true,
            ..JsonConverter::default()
        }
    }

    /// The fast envelope path agrees with the tree path wherever it answers; returns whether
    /// it did.
    fn agree(c: &mut JsonConverter, raw: &[u8]) -> bool {
        let fast = c.envelope_fast(raw);
        if let Some(fast) = &fast {
            let tree = c.read_tree(raw).ok();
            assert_eq!(
                Some(fast),
                tree.as_ref(),
                "{}",
                String::from_utf8_lossy(raw)
            );
        }
        fast.is_some()
    }

    #[test]
    fn envelopes_read_as_the_tree_path_reads_them() {
        let mut c = converter();
        let taken = [
            r#"{"schema":{"type":"string","optional":false},"payload":"a\nb"}"#,
            r#"{"payload":"AAEC","schema":{"type":"bytes"}}"#,
            r#"{"schema":{"type":"int32"},"payload":5}"#,
            r#"{"\u0073chema":{"type":"int32"},"payload":5}"#,
            r#"{ "schema" : {"type":"struct","fields":[{"field":"x","type":"int64"}]} , "payload" : { "x" : 1 } }"#,
        ];
        for raw in taken {
            assert!(agree(&mut c, raw.as_bytes()), "the fast path takes {raw}");
        }
        let left = [
            r#"{"schema":{"type":"int32"},"payload":null}"#,
            r#"{"schema":{"type":"int32","optional":true},"payload": null }"#,
            r#"{"schema":{"type":"int32","optional":true},"payload":null}"#,
            r#"{"schema":null,"payload":{"a":1}}"#,
            r#"{"schema":{"type":"int32"},"schema":{"type":"int64"},"payload":5}"#,
            r#"{"schema":{"type":"int32"},"payload":5,"extra":1}"#,
            r#"{"schema":{"type":"int8"},"payload":500}"#,
            r#"{"schema":{"type":"bytes"},"payload":"not base64!"}"#,
            r#"{"schema":{"type":"nope"},"payload":1}"#,
            r#"{"payload":1}"#,
            "[1]",
            "not json",
        ];
        for raw in left {
            assert!(!agree(&mut c, raw.as_bytes()), "the tree path takes {raw}");
        }
    }

    /// Once a schema is known, envelopes repeating its text are read by checking the payload
    /// alone; whatever follows the payload still has to make one valid document.
    #[test]
    fn a_known_schema_is_not_checked_again_but_the_envelope_is() {
        let mut c = converter();
        let s = r#"{"type":"struct","fields":[{"field":"x","type":"int64"}]}"#;
        assert!(agree(
            &mut c,
            format!(r#"{{"schema":{s},"payload":{{"x":1}}}}"#).as_bytes()
        ));
        assert!(c
            .known_envelope(format!(r#"{{"schema":{s},"payload":2}}"#).as_bytes())
            .is_some());
        for taken in [
            format!(r#" {{ "schema" : {s} , "payload" : {{ "x" : 2 }} }} "#),
            format!("{{\"schema\":{s},\n\"payload\":{{\"x\":-3}}\n}}"),
        ] {
            assert!(agree(&mut c, taken.as_bytes()), "{taken}");
        }
        for left in [
            format!(r#"{{"schema":{s},"payload":{{"x":1}},"schema":{s}}}"#),
            format!(r#"{{"schema":{s},"payload":{{"x":1}}}},"x":1}}"#),
            format!(r#"{{"schema":{s},"payload":{{"x":1}}"#),
            format!(r#"{{"schema":{s},"payload":}}"#),
            format!(r#"{{"schema":{s},"payload":{{"x":"1"}}}}"#),
            format!("{{\"schema\":{s},\"payload\":{{\"x\":\"\u{ff}\"}}}}"),
        ] {
            assert!(!agree(&mut c, left.as_bytes()), "{left}");
        }
        let not_utf8 = [
            format!(r#"{{"schema":{s},"payload":{{"x":1,"y":""#).into_bytes(),
            vec![0xff],
            b"\"}}".to_vec(),
        ]
        .concat();
        assert!(!agree(&mut c, &not_utf8));
    }

    /// The schema announced for a batch is taken without comparing only when a record comes
    /// with that very text; another text, announced or not, is read as itself.
    #[test]
    fn an_announced_schema_is_used_only_for_its_own_text() {
        let mut c = converter();
        let x = r#"{"type":"struct","fields":[{"field":"x","type":"int64"}]}"#.to_string();
        let y = r#"{"type":"struct","fields":[{"field":"y","type":"int64","optional":true}]}"#;
        let convert = |c: &mut JsonConverter, schema: &str| {
            let out = c
                .from_connect("t", Some(br#"{"x":1}"#), Some(schema))
                .unwrap();
            String::from_utf8(out.unwrap()).unwrap()
        };
        let as_x = r#"{"schema":{"type":"struct","fields":[{"type":"int64","optional":false,"field":"x"}],"optional":false},"payload":{"x":1}}"#;
        let as_y = r#"{"schema":{"type":"struct","fields":[{"type":"int64","optional":true,"field":"y"}],"optional":false},"payload":{"y":null}}"#;
        c.begin_batch(Some(&x));
        assert_eq!(convert(&mut c, &x), as_x);
        assert_eq!(
            convert(&mut c, y),
            as_y,
            "a text other than the announced one"
        );
        assert_eq!(
            convert(&mut c, &x),
            as_x,
            "the announced text again, after another"
        );
        // The same text elsewhere is compared, and matches.
        assert_eq!(convert(&mut c, &x.clone()), as_x);
        c.begin_batch(Some(y));
        assert_eq!(convert(&mut c, y), as_y);
        c.begin_batch(None);
        assert_eq!(convert(&mut c, &x), as_x, "nothing announced");
        // A schema that does not parse fails each record, announced or not.
        let bad = r#"{"type":"nope"}"#;
        c.begin_batch(Some(bad));
        assert!(c.from_connect("t", Some(b"1"), Some(bad)).is_err());
        assert_eq!(convert(&mut c, y), as_y);
    }

    /// Generated payloads of a wide schema in envelopes, the schema text alternating so that
    /// the cached one is both reused and replaced.
    #[test]
    fn generated_envelopes_agree() {
        let mut c = converter();
        let other = r#"{"type":"struct","fields":[{"field":"b","type":"boolean"}]}"#;
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut taken = 0;
        for i in 0..2000 {
            let mut g = Gen::new(&mut seed);
            let wrong = g.below(4) == 0;
            let schema = if i % 7 == 0 { other } else { WIDE };
            g.value_of(&crate::fast::tests::schema(schema), wrong);
            let raw = format!(r#"{{"schema":{schema},"payload":{}}}"#, g.text);
            if agree(&mut c, raw.as_bytes()) {
                taken += 1;
            }
        }
        assert!(taken > 700, "the fast path took only {taken} of 2000");
    }
}
