//! Benchmark fixture: a transform that uppercases each value's ASCII letters.

use weft_plugin_sdk::*;

#[derive(Default)]
struct Uppercase;

impl Plugin for Uppercase {
    fn metadata() -> Metadata {
        Metadata::new(
            "uppercase",
            "0.1.0",
            PluginKind::Transform,
            "Uppercases ASCII values",
        )
    }
}

impl Transform for Uppercase {
    fn apply<'a>(&mut self, mut record: Record<'a>) -> Result<Option<Record<'a>>> {
        if let Some(v) = record.value() {
            let upper = v.to_ascii_uppercase();
            record.set_value(upper);
        }
        Ok(Some(record))
    }
}

export_transform!(Uppercase);
