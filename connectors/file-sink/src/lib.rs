//! Built-in connector `file-sink`: Kafka's FileStreamSink as a sandboxed component. Appends each
//! record's value as one line to a file inside the granted directory, fsynced on pre-commit.
//!
//! `encode` turns a Connect value into its line, `writer` buffers and syncs, `append` writes the
//! buffer at the file's end, `task` checks the config and ties them together; this file declares
//! the config and wires the task to the SDK.

pub mod append;
pub mod encode;
pub mod task;
pub mod writer;

use weft_plugin_sdk::{
    log, Config, ConfigDef, ConfigIssue, ConfigType, Importance, Metadata, Plugin, PluginError,
    PluginKind, Record, RecordFailure, Result, Schemas, SinkConnector, TopicPartitionOffset,
};

use task::FileSinkTask;

/// The connector; one task writes the one file (several would interleave their lines).
#[derive(Default)]
pub struct FileSink {
    task: Option<FileSinkTask>,
}

/// The config keys, for `/connector-plugins/file-sink/config` and validation.
pub fn config_defs() -> Vec<ConfigDef> {
    vec![
        ConfigDef::new(
            task::FILE,
            ConfigType::String,
            "The file to append to, inside the directory granted by `capability.filesystem.dir` \
             (a relative path is relative to it); created if absent. Required: there is no \
             standard output.",
        )
        .required()
        .importance(Importance::High)
        .group("File", 1)
        .display_name("File"),
        ConfigDef::new(
            task::TOPICS,
            ConfigType::List,
            "The topics whose records are written (or `topics.regex`).",
        )
        .importance(Importance::High)
        .group("File", 2)
        .display_name("Topics"),
    ]
}

impl FileSink {
    fn task(&mut self) -> Result<&mut FileSinkTask> {
        self.task
            .as_mut()
            .ok_or_else(|| PluginError::fatal("called before open"))
    }
}

impl Plugin for FileSink {
    fn metadata() -> Metadata {
        let mut m = Metadata::new(
            "file-sink",
            env!("CARGO_PKG_VERSION"),
            PluginKind::SinkConnector,
            "Appends each record's value to a file as one line (Kafka's FileStreamSink)",
        );
        m.config = config_defs();
        m
    }

    fn validate(config: &Config) -> Vec<ConfigIssue> {
        task::validate(config)
    }

    fn close(&mut self) {
        if let Some(t) = self.task.as_mut() {
            if let Err(e) = t.flush() {
                log::warn(&e.message);
            }
        }
    }
}

impl SinkConnector for FileSink {
    fn open(&mut self, config: &Config) -> Result<()> {
        let t = FileSinkTask::open(config)?;
        log::info(&format!(
            "file-sink appending to `{}`",
            config.get(task::FILE).unwrap_or_default()
        ));
        self.task = Some(t);
        Ok(())
    }

    fn put(&mut self, records: &[Record<'_>], schemas: &Schemas) -> Result<Vec<RecordFailure>> {
        let schema = schemas.value.as_deref();
        self.task()?
            .put(records.iter().map(|r| r.value()), schema)?;
        Ok(Vec::new())
    }

    fn flush(&mut self, _offsets: &[TopicPartitionOffset]) -> Result<()> {
        self.task()?.flush()
    }
}

#[cfg(target_arch = "wasm32")]
weft_plugin_sdk::export_sink_connector!(FileSink);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pre_commit_makes_lines_durable_and_returns_every_offset() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.txt");
        let mut sink = FileSink {
            task: Some(FileSinkTask::open_path("out.txt", path.to_str().unwrap()).unwrap()),
        };
        let records = vec![
            Record::new("t", b"a".to_vec()),
            Record::new("t", b"b".to_vec()),
        ];
        let failures = sink
            .put(
                &records,
                &Schemas {
                    key: None,
                    value: Some(r#"{"type":"string","optional":false}"#.into()),
                },
            )
            .unwrap();
        assert!(failures.is_empty());
        let offsets = vec![TopicPartitionOffset {
            topic: "t".into(),
            partition: 0,
            offset: 2,
        }];
        assert_eq!(sink.pre_commit(offsets.clone()).unwrap(), offsets);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "a\nb\n");
    }

    #[test]
    fn metadata_and_errors_before_open() {
        let m = FileSink::metadata();
        assert_eq!(m.kind, PluginKind::SinkConnector);
        let names: Vec<&str> = m.config.iter().map(|d| d.name.as_str()).collect();
        assert_eq!(names, vec!["file", "topics"]);
        let mut s = FileSink::default();
        assert!(s
            .put(&[], &Schemas::default())
            .unwrap_err()
            .message
            .contains("before open"));
    }
}
