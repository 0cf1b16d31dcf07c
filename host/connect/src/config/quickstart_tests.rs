//! Kafka's own quickstart files (tests/fixtures/kafka-quickstart, unchanged) read to what the
//! quickstart needs: the worker's JsonConverter with schemas, its offsets file, the ignored
//! `plugin.path`, and the two file connectors with their files granted.

use std::path::{Path, PathBuf};

use super::*;
use crate::model::ConnectorType;
use weft_runtime::config::KEY_FS_DIR;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures/kafka-quickstart")
        .join(name)
}

fn get<'a>(r: &'a PluginRef, k: &str) -> Option<&'a str> {
    r.config
        .iter()
        .rev()
        .find(|(key, _)| key == k)
        .map(|(_, v)| v.as_str())
}

fn worker(dir: &Path) -> WorkerConfig {
    let file = read_config_file(&fixture("connect-standalone.properties")).unwrap();
    WorkerConfig::from_map_in(&file.config, dir).unwrap()
}

#[test]
fn worker_file_reads_as_kafka_means_it() {
    let w = worker(Path::new("/work"));
    assert_eq!(w.bootstrap_servers, "localhost:9092");
    assert_eq!(w.key_converter.plugin, "json-converter");
    assert_eq!(w.value_converter.plugin, "json-converter");
    assert_eq!(get(&w.key_converter, "schemas.enable"), Some("true"));
    assert_eq!(get(&w.value_converter, "schemas.enable"), Some("true"));
    assert_eq!(w.header_converter.plugin, PASSTHROUGH_HEADER_CONVERTER);
    assert_eq!(w.offset_file, PathBuf::from("/tmp/connect.offsets"));
    assert_eq!(w.offset_flush_interval, std::time::Duration::from_secs(10));
    assert_eq!(w.rest_listeners, vec!["0.0.0.0:8083".to_string()]);
    assert!(w.plugin_path.is_empty());
    assert!(w.unknown_keys.is_empty(), "{:?}", w.unknown_keys);
}

#[test]
fn shipped_plugin_path_pointing_at_a_jar_is_ignored_with_a_note() {
    // The shipped file has `plugin.path` commented out; the quickstart tells users to set it to
    // the connect-file jar, so that is what is checked here.
    let dir = tempfile::tempdir().unwrap();
    let jar = dir.path().join("connect-file-3.8.0.jar");
    std::fs::write(&jar, b"PK").unwrap();
    let mut m = read_config_file(&fixture("connect-standalone.properties"))
        .unwrap()
        .config;
    m.insert("plugin.path".into(), jar.display().to_string());
    let w = WorkerConfig::from_map_in(&m, dir.path()).unwrap();
    assert!(w.plugin_path.is_empty());
    assert!(
        w.notes.iter().any(|n| n.contains("connect-file-3.8.0.jar")),
        "{:?}",
        w.notes
    );
}

#[test]
fn file_source_and_sink_resolve_to_the_builtins_with_their_files_granted() {
    let dir = tempfile::tempdir().unwrap();
    let w = worker(dir.path());
    let source = read_config_file(&fixture("connect-file-source.properties")).unwrap();
    let s = ConnectorSpec::from_map(&source.config, &w, ConnectorType::Unknown).unwrap();
    assert_eq!(s.name, "local-file-source");
    assert_eq!(s.connector.plugin, "file-source");
    assert_eq!(s.tasks_max, 1);
    assert_eq!(get(&s.connector, "file"), Some("/test.txt"));
    assert_eq!(get(&s.connector, "topic"), Some("connect-test"));
    assert_eq!(
        get(&s.connector, KEY_FS_DIR),
        Some(dir.path().display().to_string().as_str())
    );
    assert_eq!(s.topics, TopicSelection::None);

    let sink = read_config_file(&fixture("connect-file-sink.properties")).unwrap();
    let k = ConnectorSpec::from_map(&sink.config, &w, ConnectorType::Unknown).unwrap();
    assert_eq!(k.name, "local-file-sink");
    assert_eq!(k.connector.plugin, "file-sink");
    assert_eq!(get(&k.connector, "file"), Some("/test.sink.txt"));
    assert_eq!(k.topics, TopicSelection::List(vec!["connect-test".into()]));
    // No connector-level converters: the worker's JsonConverter applies.
    assert!(k.key_converter.is_none() && k.value_converter.is_none());
    assert_eq!(k.errors, ErrorPolicy::default());
}
