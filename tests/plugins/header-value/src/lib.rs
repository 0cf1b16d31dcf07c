//! Test fixture: a transform that makes the value of header `header` each record's value, so a
//! sink shows what the header converter made of that header (Kafka's SMTs only copy fields into
//! headers, never back).

use weft_plugin_sdk::*;

#[derive(Default)]
struct HeaderValue {
    header: String,
}

impl Plugin for HeaderValue {
    fn metadata() -> Metadata {
        Metadata::new(
            "header-value",
            "0.1.0",
            PluginKind::Transform,
            "Makes a header's value the record's value",
        )
        .config(ConfigDef::new("header", ConfigType::String, "Header name.").required())
    }

    fn configure(&mut self, config: &Config) -> Result<()> {
        self.header = config.require("header")?.to_string();
        Ok(())
    }
}

impl Transform for HeaderValue {
    fn apply<'a>(&mut self, mut record: Record<'a>) -> Result<Option<Record<'a>>> {
        let Some(value) = record.headers.get(&self.header) else {
            return Err(PluginError::fatal(format!(
                "the record has no header `{}`",
                self.header
            )));
        };
        let value = value.map(<[u8]>::to_vec);
        record.value = value.map(Into::into);
        Ok(Some(record))
    }
}

export_transform!(HeaderValue);
