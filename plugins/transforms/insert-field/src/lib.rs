//! `insert-field`: adds record metadata or a static value as fields of a JSON object key or
//! value (`target`), after Kafka Connect's `InsertField$Value` / `InsertField$Key`. A field name
//! ending in `!` is required and `?` (the default) optional, as in Kafka; with a struct schema
//! the inserted fields are added to it (topic and static value `string`, partition `int32`,
//! offset `int64`, timestamp Connect's `Timestamp`).

use serde_json::{Map, Value};
use weft_plugin_sdk::*;

/// A field to insert: name and whether Kafka would make it required (`name!`).
#[derive(Debug, Clone)]
struct Field {
    name: String,
    required: bool,
}

impl Field {
    fn parse(spec: &str) -> Field {
        match spec.strip_suffix('!') {
            Some(n) => Field {
                name: n.to_string(),
                required: true,
            },
            None => Field {
                name: spec.strip_suffix('?').unwrap_or(spec).to_string(),
                required: false,
            },
        }
    }

    fn schema(&self, ty: &str) -> Map<String, Value> {
        schema::as_field(schema::primitive(ty, !self.required), &self.name)
    }
}

#[derive(Default)]
struct InsertField {
    part: Part,
    topic: Option<Field>,
    partition: Option<Field>,
    offset: Option<Field>,
    timestamp: Option<Field>,
    static_field: Option<(Field, String)>,
}

impl Plugin for InsertField {
    fn metadata() -> Metadata {
        let opt = |name: &str, doc: &str| ConfigDef::new(name, ConfigType::String, doc);
        Metadata::new(
            "insert-field",
            env!("CARGO_PKG_VERSION"),
            PluginKind::Transform,
            "Insert topic, partition, offset, timestamp or a static field into JSON objects",
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
        .config(Part::config_def())
    }

    fn configure(&mut self, config: &Config) -> Result<()> {
        self.part = Part::from_config(config)?;
        let get = |k: &str| config.get(k).map(Field::parse);
        self.topic = get("topic.field");
        self.partition = get("partition.field");
        self.offset = get("offset.field");
        self.timestamp = get("timestamp.field");
        self.static_field = match (get("static.field"), config.get("static.value")) {
            (Some(f), Some(v)) => Some((f, v.to_string())),
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
    fn schemas(&mut self, input: &Schemas) -> Result<Schemas> {
        let Some(text) = self.part.schema(input) else {
            return Ok(input.clone());
        };
        let s = schema::parse(text)?;
        let Some(mut fields) = schema::fields(&s) else {
            return Ok(input.clone());
        };
        if let Some(f) = &self.topic {
            fields.push(f.schema("string"));
        }
        if let Some(f) = &self.partition {
            fields.push(f.schema("int32"));
        }
        if let Some(f) = &self.offset {
            fields.push(f.schema("int64"));
        }
        if let Some(f) = &self.timestamp {
            let mut ts = f.schema("int64");
            ts.insert(
                "name".into(),
                "org.apache.kafka.connect.data.Timestamp".into(),
            );
            ts.insert("version".into(), 1.into());
            fields.push(ts);
        }
        if let Some((f, _)) = &self.static_field {
            fields.push(f.schema("string"));
        }
        let out = schema::to_text(&schema::with_fields(&s, fields));
        Ok(self.part.with_schema(input, Some(out)))
    }

    fn apply<'a>(&mut self, mut record: Record<'a>) -> Result<Option<Record<'a>>> {
        // Kafka's SMT passes tombstones (a null part) through untouched.
        let Some(bytes) = self.part.get(&record) else {
            return Ok(Some(record));
        };
        let mut obj: Map<String, Value> = match serde_json::from_slice(bytes) {
            Ok(Value::Object(m)) => m,
            _ => {
                return Err(PluginError::fatal(format!(
                    "insert-field needs a JSON object {}",
                    self.part.name()
                )))
            }
        };
        if let Some(f) = &self.topic {
            obj.insert(f.name.clone(), Value::from(record.topic.as_ref()));
        }
        if let Some(f) = &self.partition {
            obj.insert(
                f.name.clone(),
                record.partition.map_or(Value::Null, Value::from),
            );
        }
        if let Some(f) = &self.offset {
            obj.insert(
                f.name.clone(),
                record.offset.map_or(Value::Null, Value::from),
            );
        }
        if let Some(f) = &self.timestamp {
            obj.insert(
                f.name.clone(),
                record.timestamp.map_or(Value::Null, Value::from),
            );
        }
        if let Some((f, v)) = &self.static_field {
            obj.insert(f.name.clone(), Value::from(v.as_str()));
        }
        let bytes = serde_json::to_vec(&Value::Object(obj))
            .map_err(|e| PluginError::fatal(e.to_string()))?;
        self.part.set(&mut record, Some(bytes));
        Ok(Some(record))
    }
}

export_transform!(InsertField);
