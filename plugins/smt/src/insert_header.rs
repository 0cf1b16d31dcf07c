//! `insert-header`: appends a header with a literal value to every record, after Kafka
//! Connect's `InsertHeader` (`header`, `value.literal`).

use weft_plugin_sdk::*;

#[derive(Default)]
pub struct InsertHeader {
    name: String,
    value: Vec<u8>,
}

impl Plugin for InsertHeader {
    fn metadata() -> Metadata {
        Metadata::new(
            "insert-header",
            env!("CARGO_PKG_VERSION"),
            PluginKind::Transform,
            "Add a header with a literal value",
        )
        .config(ConfigDef::new("header", ConfigType::String, "Header name.").required())
        .config(ConfigDef::new("value.literal", ConfigType::String, "Header value.").required())
    }

    fn configure(&mut self, config: &Config) -> Result<()> {
        self.name = config.require("header")?.to_string();
        self.value = config.require("value.literal")?.as_bytes().to_vec();
        Ok(())
    }
}

impl Transform for InsertHeader {
    fn apply<'a>(&mut self, mut record: Record<'a>) -> Result<Option<Record<'a>>> {
        record
            .headers
            .push(self.name.clone(), Some(self.value.clone()));
        Ok(Some(record))
    }
}
