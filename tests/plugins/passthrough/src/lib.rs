//! Benchmark fixture: a transform that returns every record unchanged.

use weft_plugin_sdk::*;

#[derive(Default)]
struct Passthrough;

impl Plugin for Passthrough {
    fn metadata() -> Metadata {
        Metadata::new(
            "passthrough",
            "0.1.0",
            PluginKind::Transform,
            "Returns records unchanged",
        )
    }
}

impl Transform for Passthrough {
    fn apply<'a>(&mut self, record: Record<'a>) -> Result<Option<Record<'a>>> {
        Ok(Some(record))
    }
}

export_transform!(Passthrough);
