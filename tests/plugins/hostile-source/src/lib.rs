//! Hostile connector fixture: a source whose `poll` traps (`mode=trap`), never returns
//! (`mode=loop`) or allocates until it is stopped (`mode=alloc`) once it has produced
//! `healthy.polls` batches normally, so the worker's isolation of a bad connector can be tested.

use weft_plugin_sdk::*;

#[derive(Default)]
struct HostileSource {
    mode: String,
    topic: String,
    polls: u64,
    healthy_polls: u64,
    kept: Vec<Vec<u8>>,
}

impl Plugin for HostileSource {
    fn metadata() -> Metadata {
        Metadata::new(
            "hostile-source",
            "0.1.0",
            PluginKind::SourceConnector,
            "Misbehaves on poll: trap, loop or alloc",
        )
        .config(ConfigDef::new("topic", ConfigType::String, "Target topic.").required())
        .config(ConfigDef::new("mode", ConfigType::String, "trap, loop or alloc.").required())
        .config(
            ConfigDef::new(
                "healthy.polls",
                ConfigType::Long,
                "Normal polls before misbehaving.",
            )
            .default("0"),
        )
    }
}

impl SourceConnector for HostileSource {
    fn task_configs(config: &Config, _max_tasks: u32) -> Result<Vec<Config>> {
        Ok(vec![Config::new(config.entries().to_vec())])
    }

    fn open(&mut self, config: &Config, _committed: Vec<SourcePosition>) -> Result<()> {
        self.topic = config.require("topic")?.to_string();
        self.mode = config.require("mode")?.to_string();
        self.healthy_polls = config.i64("healthy.polls", 0)? as u64;
        Ok(())
    }

    fn poll(&mut self) -> Result<Polled> {
        self.polls += 1;
        if self.polls > self.healthy_polls {
            match self.mode.as_str() {
                "trap" => panic!("hostile source asked to trap"),
                "loop" => {
                    let mut x: u64 = 0;
                    loop {
                        x = std::hint::black_box(x.wrapping_add(1));
                    }
                }
                "alloc" => loop {
                    // Touch every page so the memory is really used, not just reserved.
                    self.kept.push(vec![1u8; 1 << 20]);
                },
                _ => {}
            }
        }
        let mut out = Polled::new();
        let record = Record::new(self.topic.clone(), self.polls.to_string().into_bytes());
        out.push_at(
            record,
            SourcePosition {
                partition: "polls".into(),
                position: self.polls.to_string(),
            },
        );
        Ok(out)
    }
}

export_source_connector!(HostileSource);
