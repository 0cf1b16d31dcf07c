//! `flatten`: flattens nested JSON objects (structs) of the value (or key, `target=key`) into
//! one level, joining names with `delimiter` (default `.`), after Kafka Connect's
//! `Flatten$Value` / `Flatten$Key`. Arrays are kept as they are. With a struct schema, nested
//! struct fields become top-level fields, optional when they or a parent are.

use serde_json::{Map, Value};
use weft_plugin_sdk::*;

use crate::json_value::json_object;

/// Bounds the recursion a deeply nested value or schema can cause.
const MAX_DEPTH: usize = 64;

#[derive(Default)]
pub struct Flatten {
    part: Part,
    delimiter: String,
}

impl Plugin for Flatten {
    fn metadata() -> Metadata {
        Metadata::new(
            "flatten",
            env!("CARGO_PKG_VERSION"),
            PluginKind::Transform,
            "Flatten nested JSON objects into one level",
        )
        .config(
            ConfigDef::new(
                "delimiter",
                ConfigType::String,
                "Delimiter to insert between field names from the input record when generating \
                 field names for the output record.",
            )
            .default(".")
            .importance(Importance::Medium),
        )
        .config(Part::config_def())
    }

    fn configure(&mut self, config: &Config) -> Result<()> {
        self.part = Part::from_config(config)?;
        self.delimiter = config.get("delimiter").unwrap_or(".").to_string();
        Ok(())
    }
}

impl Flatten {
    fn name(&self, prefix: &str, field: &str) -> String {
        if prefix.is_empty() {
            field.to_string()
        } else {
            format!("{prefix}{}{field}", self.delimiter)
        }
    }

    fn flatten_value(
        &self,
        prefix: &str,
        obj: Map<String, Value>,
        out: &mut Map<String, Value>,
        depth: usize,
    ) -> Result<()> {
        if depth > MAX_DEPTH {
            return Err(PluginError::fatal("value nests too deeply to flatten"));
        }
        for (k, v) in obj {
            let name = self.name(prefix, &k);
            match v {
                Value::Object(inner) => self.flatten_value(&name, inner, out, depth + 1)?,
                other => {
                    out.insert(name, other);
                }
            }
        }
        Ok(())
    }

    fn flatten_schema(
        &self,
        prefix: &str,
        fields: Vec<Map<String, Value>>,
        parent_optional: bool,
        out: &mut Vec<Map<String, Value>>,
        depth: usize,
    ) -> Result<()> {
        if depth > MAX_DEPTH {
            return Err(PluginError::fatal("schema nests too deeply to flatten"));
        }
        for mut f in fields {
            let Some(field) = schema::field_name(&f).map(str::to_string) else {
                continue;
            };
            let name = self.name(prefix, &field);
            let optional =
                parent_optional || f.get("optional").and_then(Value::as_bool) == Some(true);
            match schema::fields(&f) {
                Some(inner) => self.flatten_schema(&name, inner, optional, out, depth + 1)?,
                None => {
                    f.insert("optional".into(), Value::from(optional));
                    out.push(schema::as_field(f, &name));
                }
            }
        }
        Ok(())
    }
}

impl Transform for Flatten {
    fn schemas(&mut self, input: &Schemas) -> Result<Schemas> {
        let Some(text) = self.part.schema(input) else {
            return Ok(input.clone());
        };
        let s = schema::parse(text)?;
        let Some(fields) = schema::fields(&s) else {
            return Ok(input.clone());
        };
        let mut flat = Vec::new();
        self.flatten_schema("", fields, false, &mut flat, 0)?;
        let out = schema::to_text(&schema::with_fields(&s, flat));
        Ok(self.part.with_schema(input, Some(out)))
    }

    fn apply<'a>(&mut self, mut record: Record<'a>) -> Result<Option<Record<'a>>> {
        let Some(obj) = json_object(&record, self.part, "flatten")? else {
            return Ok(Some(record));
        };
        let mut out = Map::new();
        self.flatten_value("", obj, &mut out, 0)?;
        let bytes = Value::Object(out).to_string().into_bytes();
        self.part.set(&mut record, Some(bytes));
        Ok(Some(record))
    }
}
