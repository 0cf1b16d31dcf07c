//! Connector fixture: a source that counts upward, resuming after its committed position.

use weft_plugin_sdk::*;

#[derive(Default)]
struct CountingSource {
    next: u64,
    per_poll: u64,
    topic: String,
}

impl Plugin for CountingSource {
    fn metadata() -> Metadata {
        Metadata::new(
            "counting-source",
            "0.1.0",
            PluginKind::SourceConnector,
            "Counts upward",
        )
        .config(ConfigDef::new("topic", ConfigType::String, "Target topic.").required())
        .config(ConfigDef::new("per.poll", ConfigType::Long, "Records per poll.").default("3"))
    }
}

impl SourceConnector for CountingSource {
    fn task_configs(config: &Config, max_tasks: u32) -> Result<Vec<Config>> {
        Ok((0..max_tasks.min(2))
            .map(|i| {
                let mut entries = config.entries().to_vec();
                entries.push(("task".into(), i.to_string()));
                Config::new(entries)
            })
            .collect())
    }

    fn open(&mut self, config: &Config, committed: Vec<SourcePosition>) -> Result<()> {
        self.topic = config.require("topic")?.to_string();
        self.per_poll = config.i64("per.poll", 3)? as u64;
        self.next = committed
            .iter()
            .find(|p| p.partition == "counter")
            .and_then(|p| p.position.parse::<u64>().ok())
            .map_or(0, |n| n + 1);
        Ok(())
    }

    fn poll(&mut self) -> Result<Polled> {
        // Each record reaches its own position, so a partial failure can be attributed.
        let mut out = Polled::new().with_schemas(Schemas {
            key: None,
            value: Some(schema::STRING.into()),
        });
        for _ in 0..self.per_poll {
            let record = Record::new(self.topic.clone(), self.next.to_string().into_bytes());
            let pos = SourcePosition {
                partition: "counter".into(),
                position: self.next.to_string(),
            };
            out.push_at(record, pos);
            self.next += 1;
        }
        Ok(out)
    }
}

export_source_connector!(CountingSource);
