//! Hostile fixture: a transform that allocates without bound on a record whose value is `hog`.

use weft_plugin_sdk::*;

#[derive(Default)]
struct Hog {
    kept: Vec<Vec<u8>>,
}

impl Plugin for Hog {
    fn metadata() -> Metadata {
        Metadata::new(
            "hog",
            "0.1.0",
            PluginKind::Transform,
            "Allocates forever on value `hog`",
        )
    }
}

impl Transform for Hog {
    fn apply<'a>(&mut self, record: Record<'a>) -> Result<Option<Record<'a>>> {
        if record.value() == Some(b"hog") {
            loop {
                // Touch every page so the memory is really used, not just reserved.
                self.kept.push(vec![1u8; 1 << 20]);
            }
        }
        Ok(Some(record))
    }
}

export_transform!(Hog);
