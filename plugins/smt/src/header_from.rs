//! `header-from`: copies or moves fields of a JSON object value (or key, `target=key`) into
//! headers, after Kafka Connect's `HeaderFrom$Value` / `HeaderFrom$Key` (`fields`, `headers`,
//! `operation` = `copy` or `move`). A header's value is the field in the Connect value encoding
//! (a string as its text, anything else as JSON; null stays null). `move` also drops the
//! fields from a struct schema.

use serde_json::Value;
use weft_plugin_sdk::*;

use crate::json_value::json_object;

#[derive(Default)]
pub struct HeaderFrom {
    part: Part,
    pairs: Vec<(String, String)>,
    remove: bool,
}

impl Plugin for HeaderFrom {
    fn metadata() -> Metadata {
        Metadata::new(
            "header-from",
            env!("CARGO_PKG_VERSION"),
            PluginKind::Transform,
            "Copy or move fields into headers",
        )
        .config(
            ConfigDef::new(
                "fields",
                ConfigType::List,
                "Field names in the record whose values are to be copied or moved to headers.",
            )
            .required()
            .importance(Importance::High),
        )
        .config(
            ConfigDef::new(
                "headers",
                ConfigType::List,
                "Header names, in the same order as the field names listed in the fields \
                 configuration property.",
            )
            .required()
            .importance(Importance::High),
        )
        .config(
            ConfigDef::new(
                "operation",
                ConfigType::String,
                "Either move if the fields are to be moved to the headers (removed from the \
                 key/value), or copy if the fields are to be copied to the headers (retained in \
                 the key/value).",
            )
            .required()
            .importance(Importance::High)
            .recommended(["move", "copy"]),
        )
        .config(Part::config_def())
    }

    fn configure(&mut self, config: &Config) -> Result<()> {
        self.part = Part::from_config(config)?;
        let fields = config.list("fields");
        let headers = config.list("headers");
        if fields.len() != headers.len() {
            return Err(PluginError::fatal(
                "'fields' config must have the same number of elements as 'headers' config.",
            ));
        }
        self.pairs = fields.into_iter().zip(headers).collect();
        self.remove = match config.require("operation")? {
            "move" => true,
            "copy" => false,
            other => {
                return Err(PluginError::fatal(format!(
                    "config `operation` = `{other}` is not move or copy"
                )))
            }
        };
        Ok(())
    }
}

impl Transform for HeaderFrom {
    fn schemas(&mut self, input: &Schemas) -> Result<Schemas> {
        let Some(text) = self.part.schema(input).filter(|_| self.remove) else {
            return Ok(input.clone());
        };
        let s = schema::parse(text)?;
        let Some(fields) = schema::fields(&s) else {
            return Ok(input.clone());
        };
        let kept = fields
            .into_iter()
            .filter(|f| {
                !self
                    .pairs
                    .iter()
                    .any(|(name, _)| schema::field_name(f) == Some(name.as_str()))
            })
            .collect();
        let out = schema::to_text(&schema::with_fields(&s, kept));
        Ok(self.part.with_schema(input, Some(out)))
    }

    fn apply<'a>(&mut self, mut record: Record<'a>) -> Result<Option<Record<'a>>> {
        let Some(mut obj) = json_object(&record, self.part, "header-from")? else {
            return Ok(Some(record));
        };
        for (field, header) in &self.pairs {
            let value = if self.remove {
                obj.remove(field)
            } else {
                obj.get(field).cloned()
            };
            let value = match value {
                None | Some(Value::Null) => None,
                Some(v) => Some(schema::encode_value(&v)),
            };
            record.headers.push(header.clone(), value);
        }
        if self.remove {
            let bytes = Value::Object(obj).to_string().into_bytes();
            self.part.set(&mut record, Some(bytes));
        }
        Ok(Some(record))
    }
}
