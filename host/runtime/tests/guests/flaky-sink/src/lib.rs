//! Connector fixture: a sink that logs what it was opened with and what it flushes, traps on a
//! record whose value is `boom`, and traps when assigned offset 666. A record valued `bad`
//! fails on its own; `pause`, `resume`, `rewind`, `commit` and `reconfigure` make the matching
//! task-context request.

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
    fn open(&mut self, config: &Config) -> Result<()> {
        self.prefix = config.require("prefix")?.to_string();
        Ok(())
    }

    fn assign(&mut self, assigned: &[TopicPartitionOffset]) -> Result<()> {
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

    fn revoke(&mut self, partitions: &[TopicPartition]) -> Result<()> {
        let names: Vec<String> = partitions
            .iter()
            .map(|p| format!("{}-{}", p.topic, p.partition))
            .collect();
        log::info(&format!("revoked {}", names.join(",")));
        Ok(())
    }

    fn put(&mut self, records: &[Record<'_>], _schemas: &Schemas) -> Result<Vec<RecordFailure>> {
        let mut failures = Vec::new();
        for (i, r) in records.iter().enumerate() {
            let tp = || TopicPartition {
                topic: r.topic.to_string(),
                partition: r.partition.unwrap_or(0),
            };
            match r.value() {
                Some(b"boom") => panic!("record asked to explode"),
                Some(b"bad") => {
                    failures.push(RecordFailure::new(i, PluginError::fatal("bad record")));
                    continue;
                }
                Some(b"pause") => task::pause(&[tp()]),
                Some(b"resume") => task::resume(&[tp()]),
                Some(b"rewind") => task::rewind(&[TopicPartitionOffset {
                    topic: r.topic.to_string(),
                    partition: r.partition.unwrap_or(0),
                    offset: 3,
                }]),
                Some(b"commit") => task::request_commit(),
                Some(b"reconfigure") => task::request_reconfiguration(),
                _ => {}
            }
            self.buffered.push(r.value_str().unwrap_or("?").to_string());
        }
        Ok(failures)
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
