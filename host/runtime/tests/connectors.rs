//! Source and sink connector plugins through the runtime's typed calls: task configs, open at
//! committed positions, poll/commit, put/flush, and the reopening of an instance recreated after
//! a trap.

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

fn messages(logs: &common::Logs) -> Vec<String> {
    logs.lock()
        .unwrap()
        .iter()
        .filter(|(_, level, _)| *level == weft_runtime::LogLevel::Info)
        .map(|(_, _, m)| m.clone())
        .collect()
}

#[test]
fn a_source_recreated_after_a_trap_is_opened_again_at_its_committed_position() {
    let (rt, logs) = runtime();
    let plugin = rt.load_file(&fixture("flaky-source")).unwrap();
    let mut task = plugin
        .instantiate(&PluginConfig::new([("topic", "numbers")]))
        .unwrap();
    // Before `open` there is no task to poll: refused, never run on a blank instance.
    assert!(matches!(
        task.source_poll(),
        Err(RuntimeError::NotOpen { call: "poll", .. })
    ));

    task.source_open(&[]).unwrap();
    let (records, positions) = task.source_poll().unwrap();
    assert_eq!(values(&records), ["0", "1", "2"]);
    task.source_commit(&positions).unwrap();
    // Polled but never committed: after the failure these come again.
    assert_eq!(values(&task.source_poll().unwrap().0), ["3", "4", "5"]);

    let err = task
        .source_commit(&[("explode".into(), "1".into())])
        .unwrap_err();
    assert!(matches!(err, RuntimeError::Trap { .. }), "{err}");
    assert_eq!(task.restarts(), 1);

    // The fresh instance has its config (the topic) and resumes after the committed position.
    let (records, _) = task.source_poll().unwrap();
    assert_eq!(values(&records), ["3", "4", "5"]);
    assert!(records.iter().all(|r| r.topic == "numbers"));
    assert_eq!(
        messages(&logs),
        ["opened topic=numbers at 0", "opened topic=numbers at 3"]
    );
}

#[test]
fn a_sink_recreated_after_a_trap_is_opened_again_at_its_flushed_offsets_or_fails_the_task() {
    let (rt, logs) = runtime();
    let plugin = rt.load_file(&fixture("flaky-sink")).unwrap();
    let mut task = plugin
        .instantiate(&PluginConfig::new([("prefix", "out")]))
        .unwrap();
    assert!(matches!(
        task.sink_put(&[rec("t", None, "early")]),
        Err(RuntimeError::NotOpen { call: "put", .. })
    ));

    task.sink_open(&[("t".into(), 0, 5)]).unwrap();
    task.sink_put(&[rec("t", None, "a"), rec("t", None, "b")])
        .unwrap();
    task.sink_flush(&[("t".into(), 0, 7)]).unwrap();
    let err = task.sink_put(&[rec("t", None, "boom")]).unwrap_err();
    assert!(matches!(err, RuntimeError::Trap { .. }), "{err}");

    // Configured (prefix) and opened at the offset flushed last.
    task.sink_put(&[rec("t", None, "c")]).unwrap();
    task.sink_flush(&[("t".into(), 0, 666)]).unwrap();
    assert_eq!(
        messages(&logs),
        [
            "opened prefix=out at t-0@5",
            "flushed out:a,b up to 7",
            "opened prefix=out at t-0@7",
            "flushed out:c up to 666",
        ]
    );

    // The plugin cannot be opened at 666: after the next failure every call reports the task
    // failed instead of running on a blank instance.
    assert!(task.sink_put(&[rec("t", None, "boom")]).is_err());
    for _ in 0..2 {
        let err = task.sink_put(&[rec("t", None, "d")]).unwrap_err();
        assert!(matches!(err, RuntimeError::ReopenFailed { .. }), "{err}");
        assert!(
            err.to_string().contains("cannot open at offset 666"),
            "{err}"
        );
    }
    assert_eq!(messages(&logs).len(), 4);
}
