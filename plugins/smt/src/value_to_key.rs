//! `value-to-key`: replaces the key with a JSON object made of the given fields of the JSON
//! object value, after Kafka Connect's `ValueToKey`. Tombstones pass through.

use serde_json::{Map, Value};
use weft_plugin_sdk::*;

use crate::json_value::{json_object, to_bytes};

#[derive(Default)]
pub struct ValueToKey {
    fields: Vec<String>,
}

impl Plugin for ValueToKey {
    fn metadata() -> Metadata {
        Metadata::new(
            "value-to-key",
            env!("CARGO_PKG_VERSION"),
            PluginKind::Transform,
            "Build the key from fields of the JSON value",
        )
        .config(
            ConfigDef::new(
                "fields",
                ConfigType::List,
                "Value fields that make up the key.",
            )
            .required(),
        )
    }

    fn configure(&mut self, config: &Config) -> Result<()> {
        self.fields = config.list("fields");
        Ok(())
    }
}

impl Transform for ValueToKey {
    fn apply<'a>(&mut self, mut record: Record<'a>) -> Result<Option<Record<'a>>> {
        let Some(obj) = json_object(&record, Part::Value, "value-to-key")? else {
            return Ok(Some(record));
        };
        let mut key = Map::new();
        for f in &self.fields {
            let v = obj
                .get(f)
                .ok_or_else(|| PluginError::fatal(format!("value has no field `{f}`")))?;
            key.insert(f.clone(), v.clone());
        }
        record.set_key(to_bytes(&Value::Object(key))?);
        Ok(Some(record))
    }
}
