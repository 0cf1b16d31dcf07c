//! `hoist-field`: wraps the value (or key, `target=key`) in a struct with one field named
//! `field`, after Kafka Connect's `HoistField$Value` / `HoistField$Key`. With a schema, the new
//! schema is a required struct whose one field has the old schema. A null is wrapped too
//! (`{"field":null}`), as Kafka does.

use serde_json::{Map, Value};
use weft_plugin_sdk::*;

#[derive(Default)]
pub struct HoistField {
    part: Part,
    field: String,
    /// The part's schema type in the current batch, which says how to read its bytes.
    schema_type: Option<String>,
}

impl Plugin for HoistField {
    fn metadata() -> Metadata {
        Metadata::new(
            "hoist-field",
            env!("CARGO_PKG_VERSION"),
            PluginKind::Transform,
            "Wrap the value or key in a struct with one field",
        )
        .config(
            ConfigDef::new(
                "field",
                ConfigType::String,
                "Field name for the single field that will be created in the resulting struct.",
            )
            .required()
            .importance(Importance::Medium),
        )
        .config(Part::config_def())
    }

    fn configure(&mut self, config: &Config) -> Result<()> {
        self.part = Part::from_config(config)?;
        self.field = config.require("field")?.to_string();
        Ok(())
    }
}

impl Transform for HoistField {
    fn schemas(&mut self, input: &Schemas) -> Result<Schemas> {
        let Some(text) = self.part.schema(input) else {
            self.schema_type = None;
            return Ok(input.clone());
        };
        let inner = schema::parse(text)?;
        self.schema_type = schema::type_of(&inner).map(str::to_string);
        let mut outer = schema::primitive("struct", false);
        outer.insert(
            "fields".into(),
            Value::Array(vec![Value::Object(schema::as_field(inner, &self.field))]),
        );
        Ok(self.part.with_schema(input, Some(schema::to_text(&outer))))
    }

    fn apply<'a>(&mut self, mut record: Record<'a>) -> Result<Option<Record<'a>>> {
        let inner = match self.part.get(&record) {
            None => Value::Null,
            Some(bytes) => schema::decode_value(bytes, self.schema_type.as_deref())?,
        };
        let mut obj = Map::new();
        obj.insert(self.field.clone(), inner);
        let bytes = Value::Object(obj).to_string().into_bytes();
        self.part.set(&mut record, Some(bytes));
        Ok(Some(record))
    }
}
