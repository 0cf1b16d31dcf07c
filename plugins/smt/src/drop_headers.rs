//! `drop-headers`: removes every header whose name is listed, after Kafka Connect's `DropHeaders`.

use weft_plugin_sdk::*;

#[derive(Default)]
pub struct DropHeaders {
    names: Vec<String>,
}

impl Plugin for DropHeaders {
    fn metadata() -> Metadata {
        Metadata::new(
            "drop-headers",
            env!("CARGO_PKG_VERSION"),
            PluginKind::Transform,
            "Remove headers by name",
        )
        .config(ConfigDef::new("headers", ConfigType::List, "Header names to remove.").required())
    }

    fn configure(&mut self, config: &Config) -> Result<()> {
        self.names = config.list("headers");
        Ok(())
    }
}

impl Transform for DropHeaders {
    fn apply<'a>(&mut self, mut record: Record<'a>) -> Result<Option<Record<'a>>> {
        // Untouched records keep their encoded headers: only materialize when one must go.
        if record
            .headers
            .iter()
            .any(|(k, _)| self.names.iter().any(|n| n == k))
        {
            record
                .headers
                .retain(|k| !self.names.iter().any(|n| n == k));
        }
        Ok(Some(record))
    }
}
