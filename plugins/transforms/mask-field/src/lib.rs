//! `mask-field`: replaces the given fields of JSON object values with an empty value of the
//! same type (`""`, `0`, `false`, `[]`, `{}`) or with `replacement`, after Kafka Connect's
//! `MaskField$Value` (`target=key`: `MaskField$Key`). The schema is unchanged. Tombstones pass
//! through.

use serde_json::{Map, Value};
use weft_plugin_sdk::*;

fn json_object(
    record: &Record<'_>,
    part: Part,
    plugin: &str,
) -> Result<Option<Map<String, Value>>> {
    let Some(v) = part.get(record) else {
        return Ok(None);
    };
    match serde_json::from_slice(v) {
        Ok(Value::Object(m)) => Ok(Some(m)),
        _ => Err(PluginError::fatal(format!(
            "{plugin} needs a JSON object {}",
            part.name()
        ))),
    }
}

fn to_bytes(v: &Value) -> Result<Vec<u8>> {
    serde_json::to_vec(v).map_err(|e| PluginError::fatal(e.to_string()))
}

#[derive(Default)]
struct MaskField {
    part: Part,
    fields: Vec<String>,
    replacement: Option<String>,
}

impl Plugin for MaskField {
    fn metadata() -> Metadata {
        Metadata::new(
            "mask-field",
            env!("CARGO_PKG_VERSION"),
            PluginKind::Transform,
            "Mask fields of JSON values",
        )
        .config(ConfigDef::new("fields", ConfigType::List, "Fields to mask.").required())
        .config(ConfigDef::new(
            "replacement",
            ConfigType::String,
            "Replacement instead of the type's empty value.",
        ))
        .config(Part::config_def())
    }

    fn configure(&mut self, config: &Config) -> Result<()> {
        self.part = Part::from_config(config)?;
        self.fields = config.list("fields");
        self.replacement = config.get("replacement").map(str::to_string);
        Ok(())
    }
}

impl MaskField {
    fn masked(&self, v: &Value) -> Result<Value> {
        Ok(match (&self.replacement, v) {
            (None, Value::String(_)) => Value::from(""),
            (None, Value::Number(_)) => Value::from(0),
            (None, Value::Bool(_)) => Value::from(false),
            (None, Value::Array(_)) => Value::Array(Vec::new()),
            (None, Value::Object(_)) => Value::Object(Map::new()),
            (None, Value::Null) => Value::Null,
            (Some(r), Value::Number(_)) => match serde_json::from_str::<Value>(r) {
                Ok(n @ Value::Number(_)) => n,
                _ => {
                    return Err(PluginError::fatal(format!(
                        "replacement `{r}` is not a number"
                    )))
                }
            },
            (Some(r), _) => Value::from(r.as_str()),
        })
    }
}

impl Transform for MaskField {
    fn apply<'a>(&mut self, mut record: Record<'a>) -> Result<Option<Record<'a>>> {
        let Some(mut obj) = json_object(&record, self.part, "mask-field")? else {
            return Ok(Some(record));
        };
        for f in &self.fields {
            if let Some(v) = obj.get(f) {
                let m = self.masked(v)?;
                obj.insert(f.clone(), m);
            }
        }
        let bytes = to_bytes(&Value::Object(obj))?;
        self.part.set(&mut record, Some(bytes));
        Ok(Some(record))
    }
}

export_transform!(MaskField);
