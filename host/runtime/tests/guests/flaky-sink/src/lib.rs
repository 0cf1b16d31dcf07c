//! Connector fixture: a sink that logs what it was opened with and what it flushes, traps on a
//! record whose value is `boom`, and traps when opened at offset 666.

use weft_plugin_sdk::*;

#[derive(Default)]
struct FlakySink {
    prefix: String,
    buffered: Vec<String>,
}

impl Plugin for FlakySink {
    fn metadata() -> Metadata {
        Metadata::new(
            "flaky-sink",
            "0.1.0",
            PluginKind::SinkConnector,
            "Logs open and flush; traps on value `boom` and at offset 666",
        )
        .config(ConfigDef::new("prefix", ConfigType::String, "Written before values.").required())
    }
}

impl SinkConnector for FlakySink {
    fn open(&mut self, config: &Config, assigned: Vec<TopicPartitionOffset>) -> Result<()> {
        self.prefix = config.require("prefix")?.to_string();
        if assigned.iter().any(|a| a.offset == 666) {
            panic!("cannot open at offset 666");
        }
        let at: Vec<String> = assigned
            .iter()
            .map(|a| format!("{}-{}@{}", a.topic, a.partition, a.offset))
            .collect();
        log::info(&format!(
            "opened prefix={} at {}",
            self.prefix,
            at.join(",")
        ));
        Ok(())
    }

    fn put(&mut self, records: &[Record<'_>]) -> Result<()> {
        for r in records {
            if r.value() == Some(b"boom") {
                panic!("record asked to explode");
            }
            self.buffered.push(r.value_str().unwrap_or("?").to_string());
        }
        Ok(())
    }

    fn flush(&mut self, offsets: &[TopicPartitionOffset]) -> Result<()> {
        let upto = offsets.iter().map(|o| o.offset).max().unwrap_or(-1);
        log::info(&format!(
            "flushed {}:{} up to {upto}",
            self.prefix,
            self.buffered.join(",")
        ));
        self.buffered.clear();
        Ok(())
    }
}

export_sink_connector!(FlakySink);
