//! `replace-field`: keeps (`include`), drops (`exclude`, which wins over `include`) and renames
//! (`renames`, `old:new` pairs) top-level fields of JSON object values, after Kafka Connect's
//! `ReplaceField$Value`. Tombstones pass through.

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
struct ReplaceField {
    include: Vec<String>,
    exclude: Vec<String>,
    renames: Vec<(String, String)>,
}

impl Plugin for ReplaceField {
    fn metadata() -> Metadata {
        Metadata::new(
            "replace-field",
            env!("CARGO_PKG_VERSION"),
            PluginKind::Transform,
            "Keep, drop and rename fields of JSON values",
        )
        .config(ConfigDef::new(
            "include",
            ConfigType::List,
            "Fields to keep; empty keeps all.",
        ))
        .config(ConfigDef::new(
            "exclude",
            ConfigType::List,
            "Fields to drop; wins over include.",
        ))
        .config(ConfigDef::new(
            "renames",
            ConfigType::List,
            "Renames as old:new pairs.",
        ))
    }

    fn configure(&mut self, config: &Config) -> Result<()> {
        self.include = config.list("include");
        self.exclude = config.list("exclude");
        self.renames = config
            .list("renames")
            .into_iter()
            .map(|pair| match pair.split_once(':') {
                Some((a, b)) if !a.is_empty() && !b.is_empty() => {
                    Ok((a.to_string(), b.to_string()))
                }
                _ => Err(PluginError::fatal(format!(
                    "renames entry `{pair}` is not old:new"
                ))),
            })
            .collect::<Result<_>>()?;
        Ok(())
    }
}

impl Transform for ReplaceField {
    fn apply<'a>(&mut self, mut record: Record<'a>) -> Result<Option<Record<'a>>> {
        let Some(obj) = json_object(&record, "replace-field")? else {
            return Ok(Some(record));
        };
        let mut out = Map::new();
        for (k, v) in obj {
            if self.exclude.contains(&k) || (!self.include.is_empty() && !self.include.contains(&k))
            {
                continue;
            }
            let name = self
                .renames
                .iter()
                .find(|(old, _)| *old == k)
                .map_or(k, |(_, new)| new.clone());
            out.insert(name, v);
        }
        record.set_value(to_bytes(&Value::Object(out))?);
        Ok(Some(record))
    }
}

export_transform!(ReplaceField);
