//! Connector fixture: a sink that buffers values and logs them on flush.

use weft_plugin_sdk::*;

#[derive(Default)]
struct LoggingSink {
    buffered: Vec<String>,
}

impl Plugin for LoggingSink {
    fn metadata() -> Metadata {
        Metadata::new(
            "logging-sink",
            "0.1.0",
            PluginKind::SinkConnector,
            "Logs values on flush",
        )
    }
}

impl SinkConnector for LoggingSink {
    fn open(&mut self, _config: &Config) -> Result<()> {
        Ok(())
    }

    fn assign(&mut self, assigned: &[TopicPartitionOffset]) -> Result<()> {
        log::info(&format!("assigned {}", assigned.len()));
        Ok(())
    }

    fn put(&mut self, records: &[Record<'_>], schemas: &Schemas) -> Result<Vec<RecordFailure>> {
        if let Some(s) = &schemas.value {
            log::info(&format!("value schema {s}"));
        }
        for r in records {
            self.buffered.push(r.value_str().unwrap_or("?").to_string());
        }
        Ok(Vec::new())
    }

    fn flush(&mut self, offsets: &[TopicPartitionOffset]) -> Result<()> {
        let upto = offsets.iter().map(|o| o.offset).max().unwrap_or(-1);
        log::info(&format!("flushed {} up to {upto}", self.buffered.join(",")));
        self.buffered.clear();
        Ok(())
    }
}

export_sink_connector!(LoggingSink);
