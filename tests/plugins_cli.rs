//! End-to-end: `weft plugin new|build|test|inspect|list`, and plugins used by `weft produce` and
//! `weft consume` against a real broker.

mod common;

use std::collections::HashMap;

use common::weft_cmd;

fn ok(args: &[&str], stdin: Option<&str>) -> (String, String) {
    let (success, out, err) = weft_cmd(args, stdin.map(str::as_bytes));
    assert!(
        success,
        "weft {args:?} failed:\nstdout: {out}\nstderr: {err}"
    );
    (out, err)
}

#[test]
fn list_and_inspect_show_the_builtins() {
    let (out, _) = ok(&["plugin", "list"], None);
    for name in [
        "default",
        "round-robin",
        "json",
        "counter",
        "mask-field",
        "regex-router",
    ] {
        assert!(
            out.lines().any(|l| l.starts_with(name)),
            "{name} missing:\n{out}"
        );
    }
    let (out, _) = ok(&["plugin", "inspect", "mask-field"], None);
    assert!(out.contains("world:       weft:plugin/transform"), "{out}");
    assert!(out.contains("fields") && out.contains("required"), "{out}");
    assert!(out.contains("weft:plugin/record-transform@0.2.0"), "{out}");
}

#[test]
fn plugin_test_runs_a_builtin_on_json_lines_without_a_broker() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.jsonl");
    std::fs::write(
        &input,
        "{\"topic\":\"t\",\"value\":{\"name\":\"a\",\"ssn\":\"123\"}}\n{\"value\":{\"ssn\":\"9\"}}\n",
    )
    .unwrap();
    let (out, _) = ok(
        &[
            "plugin",
            "test",
            "mask-field",
            "--input",
            input.to_str().unwrap(),
            "--plugin-config",
            "fields=ssn",
        ],
        None,
    );
    let values: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["value"].clone())
        .collect();
    assert_eq!(values, [r#"{"name":"a","ssn":""}"#, r#"{"ssn":""}"#]);

    let (out, _) = ok(
        &[
            "plugin",
            "test",
            "default",
            "--input",
            input.to_str().unwrap(),
            "--partitions",
            "1",
        ],
        None,
    );
    assert!(out.lines().all(|l| l.contains("\"partition\":0")), "{out}");
}

const AUDIT_PARTITIONER: &str = r#"//! Sends keys containing "audit" to the last partition, others to the rest.

use weft_plugin_sdk::*;

#[derive(Default)]
struct AuditLast;

impl Plugin for AuditLast {
    fn metadata() -> Metadata {
        Metadata::new("audit-last", env!("CARGO_PKG_VERSION"), PluginKind::Partitioner, "audit keys last")
    }
}

impl Partitioner for AuditLast {
    fn partition(&mut self, record: &Record<'_>, partitions: u32) -> Result<u32> {
        let key = record.key_str().unwrap_or("");
        if key.contains("audit") || partitions == 1 {
            return Ok(partitions - 1);
        }
        let hash = key.bytes().fold(0u32, |h, b| h.wrapping_mul(31).wrapping_add(b as u32));
        Ok(hash % (partitions - 1))
    }
}

export_partitioner!(AuditLast);
"#;

#[test]
fn a_partitioner_made_with_plugin_new_decides_where_produced_records_land() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().to_str().unwrap();
    ok(
        &[
            "plugin",
            "new",
            "--kind",
            "partitioner",
            "audit-last",
            "--path",
            path,
        ],
        None,
    );
    let krate = dir.path().join("audit-last");
    // The scaffold builds as generated; then it is edited and rebuilt.
    std::fs::write(krate.join("src/lib.rs"), AUDIT_PARTITIONER).unwrap();
    let (out, _) = ok(&["plugin", "build", krate.to_str().unwrap()], None);
    let wasm = out.trim().to_string();
    assert!(wasm.ends_with("audit_last.wasm"), "{out}");

    let w = common::Weft::start(&[]);
    let b = w.bootstrap();
    ok(
        &["topics", "create", "audited", "--partitions", "4", "-b", &b],
        None,
    );
    let mut lines = String::new();
    for i in 0..40 {
        let key = if i % 4 == 0 {
            format!("audit-{i}")
        } else {
            format!("user-{i}")
        };
        lines.push_str(&format!("{key}:v{i}\n"));
    }
    ok(
        &[
            "produce",
            "audited",
            "-b",
            &b,
            "-K",
            ":",
            "--partitioner",
            &wasm,
        ],
        Some(&lines),
    );
    let (out, _) = ok(
        &[
            "consume",
            "audited",
            "-b",
            &b,
            "--from-beginning",
            "-e",
            "-f",
            "%k %p\\n",
        ],
        None,
    );
    let placed: HashMap<String, i32> = out
        .lines()
        .filter_map(|l| l.split_once(' '))
        .map(|(k, p)| (k.to_string(), p.parse().unwrap()))
        .collect();
    assert_eq!(placed.len(), 40, "{out}");
    for (k, p) in &placed {
        if k.contains("audit") {
            assert_eq!(*p, 3, "{k}");
        } else {
            assert!(*p < 3, "{k} on {p}");
        }
    }
    assert!(
        placed
            .values()
            .filter(|p| **p < 3)
            .collect::<std::collections::HashSet<_>>()
            .len()
            > 1
    );
}

#[test]
fn produce_and_consume_run_transforms_serializers_and_interceptors() {
    let w = common::Weft::start(&[]);
    let b = w.bootstrap();
    ok(
        &["topics", "create", "people", "--partitions", "3", "-b", &b],
        None,
    );
    let (_, err) = ok(
        &[
            "produce",
            "people",
            "-b",
            &b,
            "--transform",
            "mask-field",
            "--serializer",
            "json",
            "--interceptor",
            "timestamp-prepend",
            "--interceptor",
            "counter",
            "--plugin-config",
            "fields=ssn",
            "--plugin-config",
            "timestamp-prepend.separator=|",
        ],
        Some("{\"name\":\"ann\",\"ssn\":\"1\"}\n{\"name\":\"bo\",\"ssn\":\"2\"}\n"),
    );
    assert!(err.contains("counter: sent=2 acked=2 failed=0"), "{err}");

    let (out, _) = ok(
        &[
            "consume",
            "people",
            "-b",
            &b,
            "--from-beginning",
            "-e",
            "-f",
            "%T %s\\n",
        ],
        None,
    );
    let mut n = 0;
    for line in out.lines() {
        let (ts, value) = line.split_once(' ').unwrap();
        // The interceptor prefixed each value with its send time, which is also its timestamp.
        let (prefix, json) = value.split_once('|').unwrap();
        assert_eq!(prefix, ts, "{line}");
        let v: serde_json::Value = serde_json::from_str(json).unwrap();
        assert_eq!(v["ssn"], "");
        n += 1;
    }
    assert_eq!(n, 2, "{out}");

    let (out, err) = ok(
        &[
            "consume",
            "people",
            "-b",
            &b,
            "--from-beginning",
            "-e",
            "--interceptor",
            "counter",
            "--transform",
            "regex-router",
            "--plugin-config",
            "regex=people",
            "--plugin-config",
            "replacement=renamed",
            "-f",
            "%t\\n",
        ],
        None,
    );
    assert_eq!(
        out.lines().collect::<Vec<_>>(),
        ["renamed", "renamed"],
        "{out}"
    );
    assert!(err.contains("consumed=2"), "{err}");
}

#[test]
fn the_default_partitioner_agrees_with_librdkafka_murmur2_random() {
    use weft_runtime::{PluginConfig, Record, Registry, Runtime};
    let reg = Registry::new(Runtime::new().unwrap());
    let mut p = reg
        .resolve("default")
        .unwrap()
        .instantiate(&PluginConfig::default())
        .unwrap();
    let keys: Vec<Vec<u8>> = (0..10_000u32)
        .map(|i| format!("key-{i}-{}", i.wrapping_mul(2_654_435_761)).into_bytes())
        .collect();
    for partitions in [7i32, 64] {
        let records: Vec<Record> = keys
            .iter()
            .map(|k| {
                let mut r = Record::new("t", "v");
                r.key = Some(k.clone());
                r
            })
            .collect();
        let ours = p.partition(partitions as u32, &records).unwrap();
        for (k, got) in keys.iter().zip(ours) {
            // SAFETY: for a non-null key librdkafka's murmur2_random only hashes the key bytes;
            // it reads neither the topic handle nor the opaques, so null pointers are fine.
            let theirs = unsafe {
                rdkafka::bindings::rd_kafka_msg_partitioner_murmur2_random(
                    std::ptr::null(),
                    k.as_ptr().cast(),
                    k.len(),
                    partitions,
                    std::ptr::null_mut(),
                    std::ptr::null_mut(),
                )
            };
            assert_eq!(got as i32, theirs, "key {}", String::from_utf8_lossy(k));
        }
    }
}
