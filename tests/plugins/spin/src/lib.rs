//! Hostile fixture: a transform that never returns from a record whose value is `spin`.

use weft_plugin_sdk::*;

#[derive(Default)]
struct Spin;

impl Plugin for Spin {
    fn metadata() -> Metadata {
        Metadata::new(
            "spin",
            "0.1.0",
            PluginKind::Transform,
            "Loops forever on value `spin`",
        )
    }
}

impl Transform for Spin {
    fn apply<'a>(&mut self, record: Record<'a>) -> Result<Option<Record<'a>>> {
        if record.value() == Some(b"spin") {
            let mut n: u64 = 0;
            // black_box keeps the optimiser from proving the loop pointless.
            loop {
                n = std::hint::black_box(n.wrapping_add(1));
            }
        }
        Ok(Some(record))
    }
}

export_transform!(Spin);
