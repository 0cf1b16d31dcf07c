//! `insert-field`: adds record metadata or a static value as fields of a JSON object value,
//! after Kafka Connect's `InsertField$Value`.

use serde_json::{Map, Value};
use weft_plugin_sdk::*;

#[derive(Default)]
struct InsertField {
    topic: Option<String>,
    partition: Option<String>,
    offset: Option<String>,
    timestamp: Option<String>,
    static_field: Option<(String, String)>,
}

impl Plugin for InsertField {
    fn metadata() -> Metadata {
        let opt = |name: &str, doc: &str| ConfigDef::new(name, ConfigType::String, doc);
        Metadata::new(
            "insert-field",
            env!("CARGO_PKG_VERSION"),
            PluginKind::Transform,
            "Insert topic, partition, offset, timestamp or a static field into JSON object values",
        )
        .config(opt("topic.field", "Field name for the record's topic."))
        .config(opt(
            "partition.field",
            "Field name for the record's partition.",
        ))
        .config(opt("offset.field", "Field name for the record's offset."))
        .config(opt(
            "timestamp.field",
            "Field name for the record's timestamp (ms).",
        ))
        .config(opt("static.field", "Field name for a static value."))
        .config(opt("static.value", "The static value (text)."))
    }

    fn configure(&mut self, config: &Config) -> Result<()> {
        let get = |k: &str| config.get(k).map(str::to_string);
        self.topic = get("topic.field");
        self.partition = get("partition.field");
        self.offset = get("offset.field");
        self.timestamp = get("timestamp.field");
        self.static_field = match (get("static.field"), get("static.value")) {
            (Some(f), Some(v)) => Some((f, v)),
            (None, None) => None,
            _ => {
                return Err(PluginError::fatal(
                    "static.field and static.value must be set together",
                ))
            }
        };
        Ok(())
    }
}

impl Transform for InsertField {
    fn apply<'a>(&mut self, mut record: Record<'a>) -> Result<Option<Record<'a>>> {
        // Kafka's SMT passes tombstones through untouched.
        let Some(value) = record.value() else {
            return Ok(Some(record));
        };
        let mut obj: Map<String, Value> = match serde_json::from_slice(value) {
            Ok(Value::Object(m)) => m,
            _ => return Err(PluginError::fatal("insert-field needs a JSON object value")),
        };
        if let Some(f) = &self.topic {
            obj.insert(f.clone(), Value::from(record.topic.as_ref()));
        }
        if let Some(f) = &self.partition {
            obj.insert(f.clone(), record.partition.map_or(Value::Null, Value::from));
        }
        if let Some(f) = &self.offset {
            obj.insert(f.clone(), record.offset.map_or(Value::Null, Value::from));
        }
        if let Some(f) = &self.timestamp {
            obj.insert(f.clone(), record.timestamp.map_or(Value::Null, Value::from));
        }
        if let Some((f, v)) = &self.static_field {
            obj.insert(f.clone(), Value::from(v.as_str()));
        }
        let bytes = serde_json::to_vec(&Value::Object(obj))
            .map_err(|e| PluginError::fatal(e.to_string()))?;
        record.set_value(bytes);
        Ok(Some(record))
    }
}

export_transform!(InsertField);
