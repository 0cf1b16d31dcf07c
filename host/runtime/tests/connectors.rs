//! Source and sink connector plugins through the runtime's typed calls: task configs, open at
//! committed positions, poll/commit, put/flush.

mod common;

use common::{fixture, rec, runtime, values};
use weft_runtime::{PluginConfig, RuntimeError};

#[test]
fn a_source_splits_tasks_polls_and_resumes_after_its_committed_position() {
    let (rt, _) = runtime();
    let plugin = rt.load_file(&fixture("counting-source")).unwrap();
    let config = PluginConfig::new([("topic", "numbers")]);
    let mut inst = plugin.instantiate(&config).unwrap();

    let tasks = inst.source_task_configs(&config, 5).unwrap();
    assert_eq!(tasks.len(), 2);
    assert!(tasks[1].contains(&("task".to_string(), "1".to_string())));

    inst.source_open(&[]).unwrap();
    let (records, positions) = inst.source_poll().unwrap();
    assert_eq!(values(&records), ["0", "1", "2"]);
    assert!(records.iter().all(|r| r.topic == "numbers"));
    assert_eq!(positions, [("counter".to_string(), "2".to_string())]);
    inst.source_commit(&positions).unwrap();

    // A restarted task resumes after what was committed.
    let mut again = plugin.instantiate(&config).unwrap();
    again.source_open(&positions).unwrap();
    assert_eq!(values(&again.source_poll().unwrap().0), ["3", "4", "5"]);

    // Connector config is validated when the task opens.
    let mut bad = plugin.instantiate(&PluginConfig::default()).unwrap();
    let err = bad.source_open(&[]).unwrap_err();
    assert!(
        matches!(&err, RuntimeError::Plugin { message, .. } if message.contains("topic")),
        "{err}"
    );
    // Calling a transform export on a source is a typed error.
    assert!(matches!(
        bad.transform(&[]),
        Err(RuntimeError::WrongKind { .. })
    ));
}

#[test]
fn a_sink_receives_puts_and_flushes() {
    let (rt, logs) = runtime();
    let plugin = rt.load_file(&fixture("logging-sink")).unwrap();
    let mut inst = plugin.instantiate(&PluginConfig::default()).unwrap();
    inst.sink_open(&[("t".into(), 0, 0), ("t".into(), 1, 0)])
        .unwrap();
    inst.sink_put(&[rec("t", None, "a"), rec("t", None, "b")])
        .unwrap();
    inst.sink_put(&[rec("t", None, "c")]).unwrap();
    inst.sink_flush(&[("t".into(), 0, 3)]).unwrap();
    let logs = logs.lock().unwrap();
    let lines: Vec<&str> = logs.iter().map(|(_, _, m)| m.as_str()).collect();
    assert_eq!(lines, ["assigned 2", "flushed a,b,c up to 3"]);
}
