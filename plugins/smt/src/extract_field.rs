//! `extract-field`: replaces a JSON object value (or key, `target=key`) with one of its fields,
//! after Kafka Connect's `ExtractField$Value` / `ExtractField$Key`. A string field becomes its
//! text (no quotes), anything else its JSON; a missing field gives null. With a struct schema the
//! result's schema is the field's. Tombstones pass through.

use serde_json::{Map, Value};
use weft_plugin_sdk::*;

use crate::json_value::{json_object, to_bytes};

#[derive(Default)]
pub struct ExtractField {
    part: Part,
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
        .config(Part::config_def())
    }

    fn configure(&mut self, config: &Config) -> Result<()> {
        self.part = Part::from_config(config)?;
        self.field = config.require("field")?.to_string();
        Ok(())
    }
}

impl Transform for ExtractField {
    fn schemas(&mut self, input: &Schemas) -> Result<Schemas> {
        let Some(text) = self.part.schema(input) else {
            return Ok(input.clone());
        };
        let s = schema::parse(text)?;
        let Some(fields) = schema::fields(&s) else {
            return Ok(input.clone());
        };
        let Some(mut f) = fields
            .into_iter()
            .find(|f| schema::field_name(f) == Some(self.field.as_str()))
        else {
            return Err(PluginError::fatal(format!(
                "the {} schema has no field `{}`",
                self.part.name(),
                self.field
            )));
        };
        f.remove("field");
        Ok(self.part.with_schema(input, Some(schema::to_text(&f))))
    }

    fn apply<'a>(&mut self, mut record: Record<'a>) -> Result<Option<Record<'a>>> {
        let Some(mut obj): Option<Map<String, Value>> =
            json_object(&record, self.part, "extract-field")?
        else {
            return Ok(Some(record));
        };
        let out = match obj.remove(&self.field) {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s.into_bytes()),
            Some(other) => Some(to_bytes(&other)?),
        };
        self.part.set(&mut record, out);
        Ok(Some(record))
    }
}
