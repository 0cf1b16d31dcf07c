//! `replace-field`: keeps (`include`), drops (`exclude`, which wins over `include`) and renames
//! (`renames`, `old:new` pairs) top-level fields of JSON object values, after Kafka Connect's
//! `ReplaceField$Value` (`target=key`: `ReplaceField$Key`); a struct schema loses and renames
//! the same fields. Kafka's older names `whitelist`/`blacklist` are accepted. Tombstones pass
//! through.

use serde_json::{Map, Value};
use weft_plugin_sdk::*;

use crate::json_value::{json_object, to_bytes};

#[derive(Default)]
pub struct ReplaceField {
    part: Part,
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
        .config(ConfigDef::new(
            "whitelist",
            ConfigType::List,
            "Older name of include.",
        ))
        .config(ConfigDef::new(
            "blacklist",
            ConfigType::List,
            "Older name of exclude.",
        ))
        .config(Part::config_def())
    }

    fn configure(&mut self, config: &Config) -> Result<()> {
        self.part = Part::from_config(config)?;
        self.include = config.list("include");
        self.include.extend(config.list("whitelist"));
        self.exclude = config.list("exclude");
        self.exclude.extend(config.list("blacklist"));
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

impl ReplaceField {
    /// The new name of field `k`, or `None` if it is dropped.
    fn renamed(&self, k: &str) -> Option<String> {
        let k = k.to_string();
        if self.exclude.contains(&k) || (!self.include.is_empty() && !self.include.contains(&k)) {
            return None;
        }
        Some(
            self.renames
                .iter()
                .find(|(old, _)| *old == k)
                .map_or(k, |(_, new)| new.clone()),
        )
    }
}

impl Transform for ReplaceField {
    fn schemas(&mut self, input: &Schemas) -> Result<Schemas> {
        let Some(text) = self.part.schema(input) else {
            return Ok(input.clone());
        };
        let s = schema::parse(text)?;
        let Some(fields) = schema::fields(&s) else {
            return Ok(input.clone());
        };
        let kept = fields
            .into_iter()
            .filter_map(|f| {
                let name = self.renamed(schema::field_name(&f)?)?;
                Some(schema::as_field(f, &name))
            })
            .collect();
        let out = schema::to_text(&schema::with_fields(&s, kept));
        Ok(self.part.with_schema(input, Some(out)))
    }

    fn apply<'a>(&mut self, mut record: Record<'a>) -> Result<Option<Record<'a>>> {
        let Some(obj) = json_object(&record, self.part, "replace-field")? else {
            return Ok(Some(record));
        };
        let mut out = Map::new();
        for (k, v) in obj {
            if let Some(name) = self.renamed(&k) {
                out.insert(name, v);
            }
        }
        let bytes = to_bytes(&Value::Object(out))?;
        self.part.set(&mut record, Some(bytes));
        Ok(Some(record))
    }
}
