//! `round-robin`: sends each record to the next partition in turn, whatever its key.

use weft_plugin_sdk::*;

#[derive(Default)]
struct RoundRobin {
    next: u32,
}

impl Plugin for RoundRobin {
    fn metadata() -> Metadata {
        Metadata::new(
            "round-robin",
            env!("CARGO_PKG_VERSION"),
            PluginKind::Partitioner,
            "Each record to the next partition in turn",
        )
    }
}

impl Partitioner for RoundRobin {
    fn partition(&mut self, _record: &Record<'_>, partitions: u32) -> Result<u32> {
        let p = self.next % partitions;
        self.next = self.next.wrapping_add(1);
        Ok(p)
    }
}

export_partitioner!(RoundRobin);
