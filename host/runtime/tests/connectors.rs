//! Source and sink connector plugins through the runtime's typed calls: task configs, open at
//! committed positions, poll with per-record positions, assign/put/pre-commit/revoke with
//! per-record failures, the task-context requests and stored-positions reader, host waits off
//! the call deadline, and the reopening of an instance recreated after a trap.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{fixture, rec, runtime, values};
use weft_runtime::{PluginConfig, RuntimeError, Schemas, TaskRequest};

fn pos(p: &str, v: &str) -> (String, String) {
    (p.to_string(), v.to_string())
}

#[test]
fn a_source_splits_tasks_polls_per_record_positions_and_resumes_after_its_committed_position() {
    let (rt, _) = runtime();
    let plugin = rt.load_file(&fixture("counting-source")).unwrap();
    let config = PluginConfig::new([("topic", "numbers")]);
    let mut inst = plugin.instantiate(&config).unwrap();

    let tasks = inst.source_task_configs(&config, 5).unwrap();
    assert_eq!(tasks.len(), 2);
    assert!(tasks[1].contains(&("task".to_string(), "1".to_string())));

    inst.source_open(&[]).unwrap();
    let polled = inst.source_poll().unwrap();
    assert_eq!(values(&polled.records), ["0", "1", "2"]);
    assert!(polled.records.iter().all(|r| r.topic == "numbers"));
    // Each record reaches its own position.
    assert_eq!(
        polled.positions,
        [
            (1, pos("counter", "0")),
            (2, pos("counter", "1")),
            (3, pos("counter", "2"))
        ]
    );
    assert_eq!(
        polled.schemas,
        Schemas {
            key: None,
            value: Some(r#"{"type":"string","optional":false}"#.into())
        }
    );
    // Only the first record made it: its position is what gets stored.
    inst.source_commit(&[pos("counter", "0")]).unwrap();

    // A restarted task resumes after what was committed.
    let mut again = plugin.instantiate(&config).unwrap();
    again.source_open(&[pos("counter", "0")]).unwrap();
    assert_eq!(
        values(&again.source_poll().unwrap().records),
        ["1", "2", "3"]
    );
    let stats = again.stats();
    assert_eq!(stats.records, 3);
    assert!(stats.calls >= 2 && stats.wasm_nanos > 0, "{stats:?}");
    assert!(stats.memory_bytes > 0, "{stats:?}");

    // Connector config is validated when the task opens.
    let mut bad = plugin.instantiate(&PluginConfig::default()).unwrap();
    let err = bad.source_open(&[]).unwrap_err();
    assert!(
        matches!(&err, RuntimeError::Plugin { message, .. } if message.contains("topic")),
        "{err}"
    );
    // Calling a transform export on a source is a typed error.
    assert!(matches!(
        bad.transform(&[], &Schemas::default()),
        Err(RuntimeError::WrongKind { .. })
    ));
}

#[test]
fn a_sink_is_assigned_receives_puts_with_schemas_and_pre_commits() {
    let (rt, logs) = runtime();
    let plugin = rt.load_file(&fixture("logging-sink")).unwrap();
    let mut inst = plugin.instantiate(&PluginConfig::default()).unwrap();
    inst.sink_open(&[]).unwrap();
    inst.sink_assign(&[("t".into(), 0, 0), ("t".into(), 1, 0)])
        .unwrap();
    let schemas = Schemas {
        key: None,
        value: Some(r#"{"type":"string","optional":false}"#.into()),
    };
    let failures = inst
        .sink_put(&[rec("t", None, "a"), rec("t", None, "b")], &schemas)
        .unwrap();
    assert!(failures.is_empty());
    inst.sink_put(&[rec("t", None, "c")], &Schemas::default())
        .unwrap();
    // The default pre-commit flushes and hands every offset back.
    let safe = inst.sink_pre_commit(&[("t".into(), 0, 3)]).unwrap();
    assert_eq!(safe, [("t".to_string(), 0, 3)]);
    let logs = logs.lock().unwrap();
    let lines: Vec<&str> = logs.iter().map(|(_, _, m)| m.as_str()).collect();
    assert_eq!(
        lines,
        [
            "assigned 2",
            r#"value schema {"type":"string","optional":false}"#,
            "flushed a,b,c up to 3"
        ]
    );
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
    let polled = task.source_poll().unwrap();
    assert_eq!(values(&polled.records), ["0", "1", "2"]);
    assert_eq!(polled.positions, [(3, pos("counter", "2"))]);
    task.source_commit(&[pos("counter", "2")]).unwrap();
    // Polled but never committed: after the failure these come again.
    assert_eq!(
        values(&task.source_poll().unwrap().records),
        ["3", "4", "5"]
    );

    let err = task.source_commit(&[pos("explode", "1")]).unwrap_err();
    assert!(matches!(err, RuntimeError::Trap { .. }), "{err}");
    assert_eq!(task.restarts(), 1);
    assert_eq!(task.stats().restarts, 1);

    // The fresh instance has its config (the topic) and resumes after the committed position.
    let records = task.source_poll().unwrap().records;
    assert_eq!(values(&records), ["3", "4", "5"]);
    assert!(records.iter().all(|r| r.topic == "numbers"));
    assert_eq!(
        messages(&logs),
        ["opened topic=numbers at 0", "opened topic=numbers at 3"]
    );
}

#[test]
fn a_sink_recreated_after_a_trap_is_opened_and_assigned_at_its_pre_committed_offsets() {
    let (rt, logs) = runtime();
    let plugin = rt.load_file(&fixture("flaky-sink")).unwrap();
    let mut task = plugin.instantiate(&PluginConfig::default()).unwrap();
    let none = Schemas::default();
    assert!(matches!(
        task.sink_put(&[rec("t", None, "early")], &none),
        Err(RuntimeError::NotOpen { call: "put", .. })
    ));

    task.sink_open(&[("prefix".into(), "out".into())]).unwrap();
    task.sink_assign(&[("t".into(), 0, 5), ("u".into(), 0, 1)])
        .unwrap();
    task.sink_put(&[rec("t", None, "a"), rec("t", None, "b")], &none)
        .unwrap();
    task.sink_pre_commit(&[("t".into(), 0, 7)]).unwrap();
    task.sink_revoke(&[("u".into(), 0)]).unwrap();
    let err = task.sink_put(&[rec("t", None, "boom")], &none).unwrap_err();
    assert!(matches!(err, RuntimeError::Trap { .. }), "{err}");

    // Opened with its task config (prefix) and assigned what it still owns, at the offset
    // pre-commit returned last.
    task.sink_put(&[rec("t", None, "c")], &none).unwrap();
    task.sink_pre_commit(&[("t".into(), 0, 666)]).unwrap();
    assert_eq!(
        messages(&logs),
        [
            "opened prefix=out at t-0@5,u-0@1",
            "flushed out:a,b up to 7",
            "revoked u-0",
            "opened prefix=out at t-0@7",
            "flushed out:c up to 666",
        ]
    );

    // The plugin cannot be assigned offset 666: after the next failure every call reports the
    // task failed instead of running on a blank instance.
    assert!(task.sink_put(&[rec("t", None, "boom")], &none).is_err());
    for _ in 0..2 {
        let err = task.sink_put(&[rec("t", None, "d")], &none).unwrap_err();
        assert!(matches!(err, RuntimeError::ReopenFailed { .. }), "{err}");
        assert!(
            err.to_string().contains("cannot open at offset 666"),
            "{err}"
        );
    }
    assert_eq!(messages(&logs).len(), 5);
}

#[test]
fn a_sink_reports_single_failed_records_and_its_task_context_requests() {
    let (rt, _) = runtime();
    let plugin = rt.load_file(&fixture("flaky-sink")).unwrap();
    let mut task = plugin.instantiate(&PluginConfig::default()).unwrap();
    task.sink_open(&[("prefix".into(), "p".into())]).unwrap();
    task.sink_assign(&[("t".into(), 0, 0)]).unwrap();
    let mut records = Vec::new();
    for v in [
        "a",
        "bad",
        "pause",
        "resume",
        "rewind",
        "commit",
        "reconfigure",
    ] {
        let mut r = rec("t", None, v);
        r.partition = Some(0);
        records.push(r);
    }
    let failures = task.sink_put(&records, &Schemas::default()).unwrap();
    assert_eq!(failures.len(), 1);
    assert_eq!(failures[0].index, 1);
    assert!(!failures[0].retriable);
    assert_eq!(failures[0].message, "bad record");

    let tp = vec![("t".to_string(), 0)];
    assert_eq!(
        task.take_task_requests(),
        [
            TaskRequest::Pause(tp.clone()),
            TaskRequest::Resume(tp),
            TaskRequest::Rewind(vec![("t".to_string(), 0, 3)]),
            TaskRequest::Commit,
            TaskRequest::Reconfigure,
        ]
    );
    // Drained: the next look finds nothing new.
    assert!(task.take_task_requests().is_empty());

    // Nothing offered, nothing to commit.
    assert!(task.sink_pre_commit(&[]).unwrap().is_empty());
}

#[test]
fn stored_positions_come_from_the_installed_reader_and_its_wait_is_off_the_deadline() {
    let (rt, _) = runtime();
    let plugin = rt.load_file(&fixture("flaky-source")).unwrap();
    let config = PluginConfig::new([("topic", "probe"), ("plugin.call.timeout.ms", "100")]);
    let mut task = plugin.instantiate(&config).unwrap();
    task.source_open(&[]).unwrap();
    // Without a reader nothing is stored.
    assert_eq!(values(&task.source_poll().unwrap().records), [""]);

    // A reader that takes longer than the plugin's whole call deadline, as a slow offset store
    // (or a capability's network wait) would: the wait is not charged to the plugin.
    task.set_position_reader(Arc::new(|partitions: &[String]| {
        std::thread::sleep(Duration::from_millis(300));
        partitions
            .iter()
            .filter(|p| *p == "counter")
            .map(|p| (p.clone(), "41".to_string()))
            // Extra positions nobody asked for are not passed on.
            .chain([("unasked".to_string(), "1".to_string())])
            .collect()
    }));
    let polled = task.source_poll().unwrap();
    assert_eq!(values(&polled.records), ["counter=41"]);
    assert_eq!(task.restarts(), 0);
}
