//! End-to-end: the `weft` CLI (topics, produce, consume, offsets, dump-log) and broker configuration.

mod common;

use std::process::{Command, Stdio};
use std::time::Duration;

use common::weft_cmd;

fn ok(args: &[&str], stdin: Option<&str>) -> String {
    let (success, out, err) = weft_cmd(args, stdin.map(str::as_bytes));
    assert!(
        success,
        "weft {args:?} failed:\nstdout: {out}\nstderr: {err}"
    );
    out
}

#[test]
fn topics_lifecycle() {
    let w = common::Weft::start(&[]);
    let b = w.bootstrap();
    let out = ok(
        &[
            "topics",
            "create",
            "orders",
            "--partitions",
            "6",
            "--config",
            "retention.ms=3600000",
            "-b",
            &b,
        ],
        None,
    );
    assert!(out.contains("Created topic orders"), "{out}");
    // Creating it again fails with a clear message, unless --if-not-exists.
    let (success, _, err) = weft_cmd(&["topics", "create", "orders", "-b", &b], None);
    assert!(!success);
    assert!(err.to_lowercase().contains("already exists"), "{err}");
    ok(
        &["topics", "create", "orders", "--if-not-exists", "-b", &b],
        None,
    );

    let list = ok(&["topics", "list", "-b", &b], None);
    assert!(list.lines().any(|l| l == "orders"), "{list}");

    let desc = ok(&["topics", "describe", "orders", "-b", &b], None);
    assert!(
        desc.contains(
            "Topic: orders\tPartitionCount: 6\tReplicationFactor: 1\tConfigs: retention.ms=3600000"
        ),
        "{desc}"
    );
    for p in 0..6 {
        assert!(
            desc.contains(&format!(
                "\tTopic: orders\tPartition: {p}\tLeader: 1\tReplicas: 1\tIsr: 1"
            )),
            "{desc}"
        );
    }

    ok(
        &[
            "topics",
            "alter",
            "orders",
            "--partitions",
            "8",
            "--config",
            "cleanup.policy=compact",
            "-b",
            &b,
        ],
        None,
    );
    let desc = ok(&["topics", "describe", "orders", "-b", &b], None);
    assert!(desc.contains("PartitionCount: 8"), "{desc}");
    assert!(desc.contains("cleanup.policy=compact"), "{desc}");
    assert!(
        desc.contains("retention.ms=3600000"),
        "alter keeps the other overrides: {desc}"
    );
    ok(
        &[
            "topics",
            "alter",
            "orders",
            "--delete-config",
            "retention.ms",
            "-b",
            &b,
        ],
        None,
    );
    let desc = ok(&["topics", "describe", "orders", "-b", &b], None);
    assert!(!desc.contains("retention.ms="), "{desc}");

    // Shrinking and bad configs are refused with the broker's reason.
    let (success, _, err) = weft_cmd(
        &["topics", "alter", "orders", "--partitions", "2", "-b", &b],
        None,
    );
    assert!(!success, "shrinking must fail");
    assert!(!err.is_empty());
    let (success, _, err) = weft_cmd(
        &[
            "topics",
            "create",
            "bad",
            "--config",
            "retention.ms=soon",
            "-b",
            &b,
        ],
        None,
    );
    assert!(!success, "invalid config must fail: {err}");

    ok(&["topics", "delete", "orders", "-b", &b], None);
    let list = ok(&["topics", "list", "-b", &b], None);
    assert!(!list.lines().any(|l| l == "orders"), "{list}");
    assert!(
        !w.data_dir().join("orders-0").exists(),
        "partition data removed"
    );
}

#[test]
fn produce_consume_with_keys_headers_and_formats() {
    let w = common::Weft::start(&[]);
    let b = w.bootstrap();
    ok(
        &["topics", "create", "lines", "--partitions", "3", "-b", &b],
        None,
    );
    let input: String = (0..300)
        .map(|i| format!("user{}:event {i}\n", i % 10))
        .collect();
    let out = common::weft_cmd(
        &[
            "produce",
            "lines",
            "-b",
            &b,
            "--key-separator",
            ":",
            "--header",
            "source=cli",
            "--compression",
            "zstd",
        ],
        Some(input.as_bytes()),
    );
    assert!(out.0, "{} {}", out.1, out.2);
    assert!(out.2.contains("Produced 300 of 300 records"), "{}", out.2);

    let out = ok(
        &[
            "consume",
            "lines",
            "-b",
            &b,
            "--from-beginning",
            "--exit-at-end",
            "--format",
            "%p|%o|%k|%s|%h\\n",
        ],
        None,
    );
    let rows: Vec<Vec<&str>> = out.lines().map(|l| l.split('|').collect()).collect();
    assert_eq!(rows.len(), 300, "{out}");
    let mut values: Vec<&str> = rows.iter().map(|r| r[3]).collect();
    values.sort_by_key(|v| v.trim_start_matches("event ").parse::<u32>().unwrap_or(0));
    assert_eq!(
        values,
        (0..300).map(|i| format!("event {i}")).collect::<Vec<_>>()
    );
    for r in &rows {
        assert_eq!(r[4], "source=cli");
        let i: u32 = r[3].trim_start_matches("event ").parse().expect("n");
        assert_eq!(r[2], format!("user{}", i % 10));
    }
    // Same key, same partition.
    let mut part_of_key = std::collections::HashMap::new();
    for r in &rows {
        let prev = part_of_key.insert(r[2], r[0]);
        assert!(
            prev.is_none() || prev == Some(r[0]),
            "key {} in two partitions",
            r[2]
        );
    }

    // --partition/--offset and --max-messages.
    ok(
        &["produce", "lines", "-b", &b, "--partition", "1"],
        Some("a\nb\nc\n"),
    );
    let p1 = ok(
        &[
            "consume",
            "lines",
            "-b",
            &b,
            "--partition",
            "1",
            "--offset",
            "beginning",
            "--exit-at-end",
            "--format",
            "%o:%s\\n",
        ],
        None,
    );
    let n1 = p1.lines().count();
    let tail = ok(
        &[
            "consume",
            "lines",
            "-b",
            &b,
            "--partition",
            "1",
            "--offset",
            &(n1 as i64 - 2).to_string(),
            "--max-messages",
            "2",
            "--format",
            "%s\\n",
        ],
        None,
    );
    assert_eq!(tail, "b\nc\n");
}

#[test]
fn offsets_and_dump_log() {
    let w = common::Weft::start(&[]);
    let b = w.bootstrap();
    ok(
        &["topics", "create", "offs", "--partitions", "2", "-b", &b],
        None,
    );
    ok(
        &["produce", "offs", "-b", &b, "--partition", "0"],
        Some("one\ntwo\nthree\n"),
    );
    assert_eq!(
        ok(&["offsets", "offs", "-b", &b], None),
        "offs:0:3\noffs:1:0\n"
    );
    assert_eq!(
        ok(&["offsets", "offs", "-b", &b, "--time", "earliest"], None),
        "offs:0:0\noffs:1:0\n"
    );
    // A timestamp in the past finds the first record; one in the future finds none.
    let out = ok(
        &[
            "offsets",
            "offs",
            "-b",
            &b,
            "--time",
            "1000",
            "--partitions",
            "0",
        ],
        None,
    );
    assert_eq!(out, "offs:0:0\n");

    let seg = w.data_dir().join("offs-0").join("00000000000000000000.log");
    let dump = ok(
        &["dump-log", seg.to_str().expect("path"), "--print-data"],
        None,
    );
    assert!(dump.contains("baseOffset: 0"), "{dump}");
    assert!(
        dump.contains("payload: one") && dump.contains("payload: three"),
        "{dump}"
    );
    assert!(dump.contains("isvalid: true"), "{dump}");
}

#[test]
fn server_properties_config_and_bad_configs() {
    let dir = tempfile::tempdir().expect("tmp");
    let data = dir.path().join("kafka-logs");
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr").port()
    };
    let props = dir.path().join("server.properties");
    std::fs::write(
        &props,
        format!(
            "# a stock-looking server.properties\nprocess.roles=broker,controller\nnode.id=1\n\
             listeners=PLAINTEXT://127.0.0.1:{port}\nlog.dirs={}\nnum.partitions=4\nnum.io.threads=8\n\
             log.retention.hours=168\nsome.unknown.key=1\n",
            data.display()
        ),
    )
    .expect("write props");
    let mut child = Command::new(common::weft_bin())
        .args(["broker", "--config"])
        .arg(&props)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            std::time::Instant::now() < deadline,
            "broker with server.properties did not start"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let b = format!("127.0.0.1:{port}");
    ok(&["produce", "autocreated", "-b", &b], Some("x\n"));
    let desc = ok(&["topics", "describe", "autocreated", "-b", &b], None);
    assert!(
        desc.contains("PartitionCount: 4"),
        "num.partitions from server.properties: {desc}"
    );
    assert!(
        data.join("autocreated-0").is_dir(),
        "log.dirs from server.properties"
    );
    let _ = child.kill();
    let out = child.wait_with_output().expect("wait");
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(
        log.contains("some.unknown.key"),
        "unknown keys are reported: {log}"
    );

    // An invalid value stops start-up and names the key.
    std::fs::write(
        &props,
        format!("log.dirs={}\nnum.partitions=many\n", data.display()),
    )
    .expect("write");
    let (success, _, err) = weft_cmd(&["broker", "--config", props.to_str().expect("p")], None);
    assert!(!success);
    assert!(
        err.contains("num.partitions") && err.contains("many"),
        "{err}"
    );
    // `weft broker` without a config explains itself.
    let (success, _, err) = weft_cmd(&["broker"], None);
    assert!(!success);
    assert!(err.contains("config"), "{err}");
    // A flag wins over the file (num.partitions=many is overridden), and WEFT_* environment
    // variables are a layer of their own: here the env value is the one that is invalid.
    let out = Command::new(common::weft_bin())
        .args([
            "broker",
            "--config",
            props.to_str().expect("p"),
            "--override",
            "num.partitions=2",
        ])
        .env("WEFT_LOG_SEGMENT_BYTES", "nope")
        .output()
        .expect("run");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("'log.segment.bytes' has invalid value 'nope'"),
        "{err}"
    );
    assert!(
        !err.contains("num.partitions"),
        "the flag replaced the file's bad value: {err}"
    );
}

#[test]
fn clean_shutdown_on_sigterm_and_data_survives() {
    let mut w = common::Weft::start(&[]);
    let b = w.bootstrap();
    ok(&["produce", "keep", "-b", &b], Some("1\n2\n3\n"));
    w.stop();
    assert!(w.log_text().contains("broker stopped"), "{}", w.log_text());
    w.restart();
    let out = ok(
        &[
            "consume",
            "keep",
            "-b",
            &w.bootstrap(),
            "--from-beginning",
            "--exit-at-end",
        ],
        None,
    );
    assert_eq!(out, "1\n2\n3\n");
}
