//! `extract-field`: replaces a JSON object value with one of its fields, after Kafka Connect's
//! `ExtractField$Value`. A string field becomes its text (no quotes), anything else its JSON;
//! a missing field gives a null value. Tombstones pass through.

use serde_json::{Map, Value};
use weft_plugin_sdk::*;

fn json_object(record: &Record<'_>, plugin: &str) -> Result<Option<Map<String, Value>>> {
    let Some(v) = record.value() else {
        return Ok(None);
    };
    match serde_json::from_slice(v) {
        Ok(Value::Object(m)) => Ok(Some(m)),
        _ => Err(PluginError::fatal(format!(
            "{plugin} needs a JSON object value"
        ))),
    }
}

fn to_bytes(v: &Value) -> Result<Vec<u8>> {
    serde_json::to_vec(v).map_err(|e| PluginError::fatal(e.to_string()))
}

#[derive(Default)]
struct ExtractField {
    field: String,
}

impl Plugin for ExtractField {
    fn metadata() -> Metadata {
        Metadata::new(
            "extract-field",
            env!("CARGO_PKG_VERSION"),
            PluginKind::Transform,
            "Replace the JSON value with one of its fields",
        )
        .config(ConfigDef::new("field", ConfigType::String, "The field to extract.").required())
    }

    fn configure(&mut self, config: &Config) -> Result<()> {
        self.field = config.require("field")?.to_string();
        Ok(())
    }
}

impl Transform for ExtractField {
    fn apply<'a>(&mut self, mut record: Record<'a>) -> Result<Option<Record<'a>>> {
        let Some(mut obj): Option<Map<String, Value>> = json_object(&record, "extract-field")?
        else {
            return Ok(Some(record));
        };
        record.value = match obj.remove(&self.field) {
            None => None,
            Some(Value::String(s)) => Some(s.into_bytes().into()),
            Some(other) => Some(to_bytes(&other)?.into()),
        };
        Ok(Some(record))
    }
}

export_transform!(ExtractField);
