//! Connector fixture: a source that counts upward from its committed position, logs what it was
//! opened with, and traps when told a position of the partition `explode` was committed.

use weft_plugin_sdk::*;

#[derive(Default)]
struct FlakySource {
    next: u64,
    topic: String,
}

impl Plugin for FlakySource {
    fn metadata() -> Metadata {
        Metadata::new(
            "flaky-source",
            "0.1.0",
            PluginKind::SourceConnector,
            "Counts upward; traps on a commit of partition `explode`",
        )
        .config(ConfigDef::new("topic", ConfigType::String, "Target topic.").required())
    }
}

impl SourceConnector for FlakySource {
    fn open(&mut self, config: &Config, committed: Vec<SourcePosition>) -> Result<()> {
        self.topic = config.require("topic")?.to_string();
        self.next = committed
            .iter()
            .find(|p| p.partition == "counter")
            .and_then(|p| p.position.parse::<u64>().ok())
            .map_or(0, |n| n + 1);
        log::info(&format!("opened topic={} at {}", self.topic, self.next));
        Ok(())
    }

    fn poll(&mut self) -> Result<(Vec<Record<'static>>, Vec<SourcePosition>)> {
        let mut out = Vec::new();
        for _ in 0..3 {
            out.push(Record::new(
                self.topic.clone(),
                self.next.to_string().into_bytes(),
            ));
            self.next += 1;
        }
        let pos = SourcePosition {
            partition: "counter".into(),
            position: (self.next - 1).to_string(),
        };
        Ok((out, vec![pos]))
    }

    fn commit(&mut self, positions: Vec<SourcePosition>) -> Result<()> {
        if positions.iter().any(|p| p.partition == "explode") {
            panic!("asked to explode on commit");
        }
        Ok(())
    }
}

export_source_connector!(FlakySource);
