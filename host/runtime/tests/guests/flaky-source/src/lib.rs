//! Connector fixture: a source that counts upward from its committed position, logs what it was
//! opened with, and traps when told a position of the partition `explode` was committed. With
//! topic `probe`, a poll returns the worker's stored positions of `counter` and `other`.

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

    fn poll(&mut self) -> Result<Polled> {
        let mut out = Polled::new();
        if self.topic == "probe" {
            // Asks the worker for its stored positions (Connect's OffsetStorageReader).
            let stored = task::stored_positions(&["counter".to_string(), "other".to_string()]);
            let text: Vec<String> = stored
                .iter()
                .map(|p| format!("{}={}", p.partition, p.position))
                .collect();
            out.push(Record::new("probe", text.join(",").into_bytes()));
            return Ok(out);
        }
        for _ in 0..3 {
            out.push(Record::new(
                self.topic.clone(),
                self.next.to_string().into_bytes(),
            ));
            self.next += 1;
        }
        out.reached(SourcePosition {
            partition: "counter".into(),
            position: (self.next - 1).to_string(),
        });
        Ok(out)
    }

    fn commit(&mut self, positions: Vec<SourcePosition>) -> Result<()> {
        if positions.iter().any(|p| p.partition == "explode") {
            panic!("asked to explode on commit");
        }
        Ok(())
    }
}

export_source_connector!(FlakySource);
