//! Hostile fixture: a transform that panics, and so traps, on a record whose value is `boom`.

use weft_plugin_sdk::*;

#[derive(Default)]
struct Trap;

impl Plugin for Trap {
    fn metadata() -> Metadata {
        Metadata::new(
            "trap",
            "0.1.0",
            PluginKind::Transform,
            "Panics on value `boom`",
        )
    }
}

impl Transform for Trap {
    fn apply<'a>(&mut self, record: Record<'a>) -> Result<Option<Record<'a>>> {
        if record.value() == Some(b"boom") {
            panic!("record asked to explode");
        }
        Ok(Some(record))
    }
}

export_transform!(Trap);
