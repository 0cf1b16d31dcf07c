//! `json-converter`: Kafka Connect's JsonConverter. With `schemas.enable=true` (the default) a
//! value is written as `{"schema":<schema>,"payload":<value>}` and read back from that envelope
//! (reporting the schema); with `false`, just the JSON value. The bytes are Kafka's: compact,
//! schema fields in Kafka's order, struct fields in schema order, `bytes` as base64.

mod fast;
mod ojson;
mod schema;
mod value;

use base64::Engine as _;
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
    scratch: fast::Scratch,
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

/// Whether two texts are equal, eight bytes at a step: every record of a batch brings the
/// batch's schema text to compare with the one parsed, and wasm's `memcmp` goes byte by byte.
fn same_text(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let word = |c: &[u8]| u64::from_ne_bytes(c.try_into().unwrap_or_default());
    let (wa, wb) = (a.chunks_exact(8), b.chunks_exact(8));
    wa.remainder() == wb.remainder() && wa.zip(wb).all(|(x, y)| word(x) == word(y))
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
    fn from_connect(
        &mut self,
        _topic: &str,
        value: Option<&[u8]>,
        schema: Option<&str>,
    ) -> Result<Option<Vec<u8>>> {
        if let Some(text) = schema {
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
        }
        let parsed = schema.and(self.last_schema.as_ref());
        if parsed.is_none() && value.is_none() {
            return Ok(None);
        }
        let mut out = Vec::with_capacity(value.map_or(16, |v| v.len() + 16));
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
