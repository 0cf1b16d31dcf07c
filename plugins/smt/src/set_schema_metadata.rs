//! `set-schema-metadata`: Kafka Connect's `SetSchemaMetadata$Value` / `$Key` — sets the name,
//! the version or both of the key or value schema, leaving everything else as it is. A record
//! without a schema fails (unless its key/value is null), as in Kafka; a struct's null fields
//! take their defaults when `replace.null.with.default` is set (Connect's `Struct.get`).

use serde_json::{Map, Value};
use weft_plugin_sdk::*;

/// What the current batch's schema is.
#[derive(Default)]
enum Batch {
    /// No schema (or no batch seen yet): non-null records fail, as in Kafka.
    #[default]
    Schemaless,
    /// A schema that is not a struct: values pass unchanged.
    Other,
    /// A struct schema's fields.
    Struct(Vec<Map<String, Value>>),
}

#[derive(Default)]
pub struct SetSchemaMetadata {
    part: Part,
    name: Option<String>,
    version: Option<i32>,
    replace_null_with_default: bool,
    batch: Batch,
}

fn fail(message: impl Into<String>) -> PluginError {
    PluginError::fatal(message.into())
}

impl Plugin for SetSchemaMetadata {
    fn metadata() -> Metadata {
        Metadata::new(
            "set-schema-metadata",
            env!("CARGO_PKG_VERSION"),
            PluginKind::Transform,
            "Set the schema name, version or both on the record's key or value schema",
        )
        .config(
            ConfigDef::new("schema.name", ConfigType::String, "Schema name to set.")
                .importance(Importance::High),
        )
        .config(
            ConfigDef::new("schema.version", ConfigType::Int, "Schema version to set.")
                .importance(Importance::High),
        )
        .config(
            ConfigDef::new(
                "replace.null.with.default",
                ConfigType::Boolean,
                "Whether to replace fields that have a default value and that are null to the \
                 default value. When set to true, the default value is used, otherwise null is \
                 used.",
            )
            .default("true")
            .importance(Importance::Medium),
        )
        .config(Part::config_def())
    }

    fn configure(&mut self, config: &Config) -> Result<()> {
        self.part = Part::from_config(config)?;
        self.name = config.get("schema.name").map(str::to_string);
        self.version = match config.get("schema.version") {
            None => None,
            Some(v) => Some(v.trim().parse().map_err(|_| {
                fail(format!(
                    "Invalid value {v} for configuration schema.version: Not a number of type INT"
                ))
            })?),
        };
        if self.name.is_none() && self.version.is_none() {
            return Err(fail("Neither schema name nor version configured"));
        }
        self.replace_null_with_default = config.bool("replace.null.with.default", true)?;
        Ok(())
    }
}

impl Transform for SetSchemaMetadata {
    fn schemas(&mut self, input: &Schemas) -> Result<Schemas> {
        let Some(text) = self.part.schema(input) else {
            self.batch = Batch::Schemaless;
            return Ok(input.clone());
        };
        let mut s = schema::parse(text)?;
        if let Some(name) = &self.name {
            s.insert("name".into(), Value::from(name.as_str()));
        }
        if let Some(version) = self.version {
            s.insert("version".into(), Value::from(version));
        }
        self.batch = match schema::fields(&s) {
            Some(fields) => Batch::Struct(fields),
            None => Batch::Other,
        };
        Ok(self.part.with_schema(input, Some(schema::to_text(&s))))
    }

    fn apply<'a>(&mut self, mut record: Record<'a>) -> Result<Option<Record<'a>>> {
        let Some(bytes) = self.part.get(&record) else {
            return Ok(Some(record));
        };
        let fields = match &self.batch {
            Batch::Struct(fields) => fields,
            Batch::Other => return Ok(Some(record)),
            Batch::Schemaless => {
                return Err(fail("Schema required for [updating schema metadata]"))
            }
        };
        if !self.replace_null_with_default {
            return Ok(Some(record));
        }
        let Ok(Value::Object(mut obj)) = serde_json::from_slice::<Value>(bytes) else {
            return Err(fail(format!(
                "the {} is not a struct although its schema is",
                self.part.name()
            )));
        };
        let mut changed = false;
        for f in fields {
            let (Some(name), Some(default)) = (schema::field_name(f), f.get("default")) else {
                continue;
            };
            let slot = obj.entry(name.to_string()).or_insert(Value::Null);
            if slot.is_null() {
                *slot = default.clone();
                changed = true;
            }
        }
        if changed {
            let out = Value::Object(obj).to_string().into_bytes();
            self.part.set(&mut record, Some(out));
        }
        Ok(Some(record))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn configured(pairs: &[(&str, &str)]) -> Result<SetSchemaMetadata> {
        let entries = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let config = Config::new(entries).with_defaults(&SetSchemaMetadata::metadata().config);
        let mut t = SetSchemaMetadata::default();
        t.configure(&config)?;
        Ok(t)
    }

    fn parsed(text: Option<&str>) -> Value {
        serde_json::from_str(text.unwrap()).unwrap()
    }

    const STRUCT: &str = r#"{"type":"struct","optional":false,"name":"old","version":1,"doc":"d",
        "fields":[{"type":"int32","optional":true,"default":7,"field":"n"}]}"#;

    #[test]
    fn name_and_version_are_set_and_the_rest_kept() {
        let mut t =
            configured(&[("schema.name", "com.example.Ev"), ("schema.version", "3")]).unwrap();
        let out = t
            .schemas(&Schemas {
                key: None,
                value: Some(STRUCT.into()),
            })
            .unwrap();
        let s = parsed(out.value.as_deref());
        assert_eq!(
            (&s["name"], &s["version"], &s["doc"]),
            (&json!("com.example.Ev"), &json!(3), &json!("d"))
        );
        assert_eq!(s["fields"][0]["field"], "n");
        let r = t
            .apply(Record::new("t", br#"{"n":1}"#.to_vec()))
            .unwrap()
            .unwrap();
        assert_eq!(r.value(), Some(&br#"{"n":1}"#[..]));
    }

    #[test]
    fn only_the_configured_part_changes() {
        let mut t = configured(&[("schema.version", "2")]).unwrap();
        let string = r#"{"type":"string","optional":false,"name":"keep"}"#;
        let out = t
            .schemas(&Schemas {
                key: Some(string.into()),
                value: Some(string.into()),
            })
            .unwrap();
        assert_eq!(out.key.as_deref(), Some(string));
        let v = parsed(out.value.as_deref());
        assert_eq!(
            v,
            json!({"type": "string", "optional": false, "name": "keep", "version": 2})
        );
        let mut k = configured(&[("schema.name", "k"), ("target", "key")]).unwrap();
        let out = k
            .schemas(&Schemas {
                key: Some(string.into()),
                value: None,
            })
            .unwrap();
        assert_eq!(parsed(out.key.as_deref())["name"], "k");
        assert_eq!(out.value, None);
    }

    #[test]
    fn null_fields_take_their_default_unless_disabled() {
        let mut t = configured(&[("schema.name", "x")]).unwrap();
        t.schemas(&Schemas {
            key: None,
            value: Some(STRUCT.into()),
        })
        .unwrap();
        let r = t
            .apply(Record::new("t", br#"{"n":null}"#.to_vec()))
            .unwrap()
            .unwrap();
        assert_eq!(r.value(), Some(&br#"{"n":7}"#[..]));
        let mut off =
            configured(&[("schema.name", "x"), ("replace.null.with.default", "false")]).unwrap();
        off.schemas(&Schemas {
            key: None,
            value: Some(STRUCT.into()),
        })
        .unwrap();
        let r = off
            .apply(Record::new("t", br#"{"n":null}"#.to_vec()))
            .unwrap()
            .unwrap();
        assert_eq!(r.value(), Some(&br#"{"n":null}"#[..]));
    }

    #[test]
    fn schemaless_records_fail_unless_null_and_config_is_checked() {
        let mut t = configured(&[("schema.name", "x")]).unwrap();
        t.schemas(&Schemas::default()).unwrap();
        let err = t.apply(Record::new("t", b"{}".to_vec())).err().unwrap();
        assert_eq!(
            err.message,
            "Schema required for [updating schema metadata]"
        );
        let mut null = Record::new("t", Vec::new());
        null.value = None;
        assert!(t.apply(null).unwrap().unwrap().value().is_none());
        let err = configured(&[]).err().unwrap();
        assert_eq!(err.message, "Neither schema name nor version configured");
        assert!(configured(&[("schema.version", "two")])
            .err()
            .unwrap()
            .message
            .contains("two"));
    }
}
