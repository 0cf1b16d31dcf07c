//! `json`: values are JSON. Serializing checks the value parses and writes it compactly; with
//! `schemas.enable=true` it wraps it as Kafka Connect's JsonConverter does,
//! `{"schema": <inferred schema>, "payload": <value>}`. Deserializing parses, unwraps the
//! envelope when `schemas.enable=true`, and writes the payload compactly. Null values
//! (tombstones) pass through. Keys are left alone.

use serde_json::{json, Value};
use weft_plugin_sdk::*;

#[derive(Default)]
struct Json {
    schemas: bool,
}

/// A Connect schema for a JSON value, as JsonConverter would describe it.
fn schema_of(v: &Value) -> Value {
    match v {
        Value::Null => json!({"type": "string", "optional": true}),
        Value::Bool(_) => json!({"type": "boolean", "optional": false}),
        Value::Number(n) if n.is_i64() || n.is_u64() => json!({"type": "int64", "optional": false}),
        Value::Number(_) => json!({"type": "double", "optional": false}),
        Value::String(_) => json!({"type": "string", "optional": false}),
        Value::Array(items) => json!({
            "type": "array",
            "items": items.first().map_or(json!({"type": "string", "optional": true}), schema_of),
            "optional": false,
        }),
        Value::Object(m) => json!({
            "type": "struct",
            "fields": m.iter().map(|(k, v)| {
                let mut s = schema_of(v);
                if let Value::Object(o) = &mut s {
                    o.insert("field".into(), Value::from(k.as_str()));
                }
                s
            }).collect::<Vec<_>>(),
            "optional": false,
        }),
    }
}

fn parse(bytes: &[u8]) -> Result<Value> {
    serde_json::from_slice(bytes).map_err(|e| PluginError::fatal(format!("value is not JSON: {e}")))
}

fn write(v: &Value) -> Result<Vec<u8>> {
    serde_json::to_vec(v).map_err(|e| PluginError::fatal(e.to_string()))
}

impl Plugin for Json {
    fn metadata() -> Metadata {
        Metadata::new(
            "json",
            env!("CARGO_PKG_VERSION"),
            PluginKind::Serializer,
            "JSON values, optionally with a schema envelope",
        )
        .config(
            ConfigDef::new(
                "schemas.enable",
                ConfigType::Boolean,
                "Wrap values as {\"schema\", \"payload\"} like JsonConverter.",
            )
            .default("false"),
        )
    }

    fn configure(&mut self, config: &Config) -> Result<()> {
        self.schemas = config.bool("schemas.enable", false)?;
        Ok(())
    }
}

impl Serializer for Json {
    fn serialize<'a>(&mut self, mut record: Record<'a>) -> Result<Record<'a>> {
        let Some(v) = record.value() else {
            return Ok(record);
        };
        let value = parse(v)?;
        let out = if self.schemas {
            json!({"schema": schema_of(&value), "payload": value})
        } else {
            value
        };
        record.set_value(write(&out)?);
        Ok(record)
    }

    fn deserialize<'a>(&mut self, mut record: Record<'a>) -> Result<Record<'a>> {
        let Some(v) = record.value() else {
            return Ok(record);
        };
        let mut value = parse(v)?;
        if self.schemas {
            value = match value {
                Value::Object(mut m) if m.contains_key("schema") && m.contains_key("payload") => {
                    m.remove("payload").unwrap_or(Value::Null)
                }
                _ => {
                    return Err(PluginError::fatal(
                        "schemas.enable=true needs values of the form {\"schema\": ..., \"payload\": ...}",
                    ))
                }
            };
        }
        record.set_value(write(&value)?);
        Ok(record)
    }
}

export_serializer!(Json);
