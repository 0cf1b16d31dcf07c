//! Built-in connector `file-source`: Kafka's FileStreamSource as a sandboxed component. Tails one
//! file inside the granted directory, one record per line, with a byte position per record.
//!
//! `lines` splits, `tail` follows the file, `position` writes Kafka's partition/position shapes,
//! `task` ties them into polls (the lines packed in place by the SDK's `Polled`); this file
//! declares the config, implements the SDK's traits and exports the component.

pub mod lines;
pub mod position;
pub mod tail;
pub mod task;

use weft_plugin_sdk::{
    log, Config, ConfigDef, ConfigIssue, ConfigType, Importance, Metadata, Plugin, PluginError,
    PluginKind, Polled, Result, SourceConnector, SourcePosition,
};

use task::{FileSourceTask, Settings};

/// The connector; one task reads the one file.
#[derive(Default)]
pub struct FileSource {
    task: Option<FileSourceTask>,
}

/// The config keys, for `/connector-plugins/file-source/config` and validation.
pub fn config_defs() -> Vec<ConfigDef> {
    const GROUP: &str = "File";
    vec![
        ConfigDef::new(
            task::FILE,
            ConfigType::String,
            "The file to read, inside the directory granted by `capability.filesystem.dir` \
             (a relative path is relative to it). Required: there is no standard input.",
        )
        .required()
        .importance(Importance::High)
        .group(GROUP, 1)
        .display_name("File"),
        ConfigDef::new(
            task::TOPIC,
            ConfigType::String,
            "The topic to publish each line to.",
        )
        .required()
        .importance(Importance::High)
        .group(GROUP, 2)
        .display_name("Topic"),
        ConfigDef::new(
            task::BATCH_SIZE,
            ConfigType::Int,
            "The maximum number of lines returned by one poll.",
        )
        .default(task::DEFAULT_BATCH_SIZE.to_string())
        .importance(Importance::Low)
        .group(GROUP, 3)
        .display_name("Batch size"),
        ConfigDef::new(
            task::MAX_LINE_BYTES,
            ConfigType::Int,
            "The longest line accepted, in bytes; a longer one fails the task, naming where it \
             starts.",
        )
        .default(task::DEFAULT_MAX_LINE_BYTES.to_string())
        .importance(Importance::Low)
        .group(GROUP, 4)
        .display_name("Maximum line length"),
    ]
}

impl Plugin for FileSource {
    fn metadata() -> Metadata {
        let mut m = Metadata::new(
            "file-source",
            env!("CARGO_PKG_VERSION"),
            PluginKind::SourceConnector,
            "Tails a file into a topic, one record per line (Kafka's FileStreamSource)",
        );
        m.config = config_defs();
        m
    }

    fn validate(config: &Config) -> Vec<ConfigIssue> {
        task::validate(config)
    }
}

impl SourceConnector for FileSource {
    fn open(&mut self, config: &Config, committed: Vec<SourcePosition>) -> Result<()> {
        let settings = Settings::from_config(config)?;
        log::info(&format!(
            "file-source reading `{}` into topic `{}`",
            settings.file, settings.topic
        ));
        let committed = committed
            .iter()
            .map(|p| (p.partition.as_str(), p.position.as_str()));
        self.task = Some(FileSourceTask::open(settings, committed)?);
        Ok(())
    }

    fn poll(&mut self) -> Result<Polled> {
        self.task()?.poll(log_event)
    }
}

impl FileSource {
    fn task(&mut self) -> Result<&mut FileSourceTask> {
        self.task
            .as_mut()
            .ok_or_else(|| PluginError::fatal("poll before open"))
    }
}

fn log_event(warn: bool, message: String) {
    if warn {
        log::warn(&message)
    } else {
        log::info(&message)
    }
}

#[cfg(target_arch = "wasm32")]
weft_plugin_sdk::export_source_connector!(FileSource);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_declares_every_key_the_task_reads() {
        let m = FileSource::metadata();
        let names: Vec<&str> = m.config.iter().map(|d| d.name.as_str()).collect();
        assert_eq!(names, vec!["file", "topic", "batch.size", "max.line.bytes"]);
        assert_eq!(m.kind, PluginKind::SourceConnector);
        // Defaults filled in from the metadata give a valid config.
        let c = Config::new(vec![
            ("file".into(), "a.txt".into()),
            ("topic".into(), "t".into()),
        ])
        .with_defaults(&m.config);
        assert!(FileSource::validate(&c).is_empty());
        assert_eq!(c.get("batch.size"), Some("2000"));
    }

    #[test]
    fn one_task_whatever_tasks_max_says() {
        let c = Config::new(vec![
            ("file".into(), "a.txt".into()),
            ("topic".into(), "t".into()),
        ]);
        assert_eq!(FileSource::task_configs(&c, 8).unwrap(), vec![c]);
        let mut s = FileSource::default();
        assert!(s.poll().unwrap_err().message.contains("before open"));
    }
}
