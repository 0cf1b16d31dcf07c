//! End-to-end tests of exactly-once source connectors (KIP-618): a standalone worker process
//! with `exactly.once.source.support=enabled` against a broker in another process, killed with
//! -9 mid-stream, read back by read_committed consumers; the offsets topic in Connect's record
//! format; KIP-875 alterations reaching that topic; and the configs Connect refuses.

mod common;

use std::path::Path;
use std::time::Duration;

use common::connect::{http, wait_until, worker_file, write_file, Worker};
use common::{read_to_end, weft_cmd, Weft};
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use serde_json::{json, Value};

/// The end offset of partition 0 of `topic` (0 before it exists).
fn high_watermark(bootstrap: &str, topic: &str) -> i64 {
    let c: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .create()
        .expect("consumer");
    c.fetch_watermarks(topic, 0, Duration::from_secs(10))
        .map(|(_, h)| h)
        .unwrap_or(0)
}

fn lines(prefix: &str, n: usize) -> String {
    (0..n).map(|i| format!("{prefix}-{i:07}\n")).collect()
}

/// The values read committed, as text.
fn committed_values(bootstrap: &str, topic: &str) -> Vec<String> {
    read_to_end(bootstrap, topic, "read_committed")
        .into_iter()
        .map(|(_, _, v)| String::from_utf8(v.unwrap_or_default()).unwrap())
        .collect()
}

fn expect_exactly(values: &[String], prefix: &str, n: usize) {
    let expected: Vec<String> = (0..n).map(|i| format!("{prefix}-{i:07}")).collect();
    if values != expected {
        let mut seen = std::collections::BTreeMap::new();
        for v in values {
            *seen.entry(v.as_str()).or_insert(0) += 1;
        }
        let dup = seen.iter().find(|(_, c)| **c > 1);
        panic!(
            "{prefix}: {} records read committed, {n} expected; first duplicate {dup:?}",
            values.len()
        );
    }
}

#[test]
fn kill_9_mid_stream_leaves_every_line_exactly_once_for_read_committed_readers() {
    const N: usize = 500_000;
    let broker = Weft::start(&[]);
    let b = broker.bootstrap();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write_file(d, "poll.txt", &lines("poll", N));
    write_file(d, "interval.txt", &lines("interval", N));
    // The local offsets file is flushed only every 10 minutes: a restart can only resume
    // from the positions committed to the offsets topic.
    let worker = worker_file(
        d,
        &b,
        "exactly.once.source.support=enabled\noffset.flush.interval.ms=600000\n\
         offset.storage.partitions=3\noffset.storage.replication.factor=1\n",
    );
    let poll = write_file(
        d,
        "poll.properties",
        "name=eos-poll\nconnector.class=FileStreamSource\nfile=poll.txt\ntopic=eos-poll\n\
         batch.size=500\nexactly.once.support=required\n\
         value.converter=org.apache.kafka.connect.storage.StringConverter\n",
    );
    let interval = write_file(
        d,
        "interval.properties",
        "name=eos-interval\nconnector.class=FileStreamSource\nfile=interval.txt\n\
         topic=eos-interval\nbatch.size=500\ntransaction.boundary=interval\n\
         transaction.boundary.interval.ms=100\noffsets.storage.topic=eos-interval-offsets\n\
         value.converter=org.apache.kafka.connect.storage.StringConverter\n",
    );
    let mut w = Worker::standalone(d, &[worker, poll, interval]);
    let stored = |topic: &str| high_watermark(&b, topic);
    // Killed three times while both are mid-file, each once records flow again.
    for round in 1..=3 {
        let grew = wait_until(Duration::from_secs(120), || {
            stored("eos-poll") > round * N as i64 / 5
                && stored("eos-interval") > round * N as i64 / 5
        });
        assert!(
            grew,
            "round {round}: records stopped; log:\n{}",
            w.log_text()
        );
        w.kill9();
        assert!(
            stored("eos-poll") < N as i64,
            "the worker was killed after the end, not midway"
        );
        w.restart();
    }
    let lengths = [
        ("eos-poll", (N * 13) as i64),
        ("eos-interval", (N * 17) as i64),
    ];
    let position = |connector: &str| {
        w.get(&format!("/connectors/{connector}/offsets")).1["offsets"][0]["offset"]["position"]
            .as_i64()
    };
    let done = wait_until(Duration::from_secs(180), || {
        lengths.iter().all(|(c, len)| position(c) == Some(*len))
    });
    assert!(done, "the sources never finished; log:\n{}", w.log_text());
    expect_exactly(&committed_values(&b, "eos-poll"), "poll", N);
    expect_exactly(&committed_values(&b, "eos-interval"), "interval", N);
    eprintln!(
        "eos-poll: {} records stored, {N} committed",
        stored("eos-poll")
    );

    // Connect's offsets topic records: key ["<connector>",{"filename":...}], value
    // {"position":<byte offset>}; the last one is the file's end.
    for ((topic, connector), (_, file_len)) in [
        ("connect-offsets", "eos-poll"),
        ("eos-interval-offsets", "eos-interval"),
    ]
    .into_iter()
    .zip(lengths)
    {
        let records = read_to_end(&b, topic, "read_committed");
        let mut last = None;
        for (_, k, v) in &records {
            let key: Value = serde_json::from_slice(k.as_deref().unwrap()).unwrap();
            if key[0] == connector {
                assert!(key[1]["filename"].as_str().unwrap().ends_with(".txt"));
                let value: Value = serde_json::from_slice(v.as_deref().unwrap()).unwrap();
                last = Some(value["position"].as_i64().unwrap());
            }
        }
        let last = last.unwrap_or_else(|| panic!("no position of {connector} in {topic}"));
        assert_eq!(last, file_len, "{connector}");
    }
    let file_len = lengths[0].1;

    // KIP-875: moving a stopped connector back ten lines writes the offsets topic too, so
    // the restarted task (which resumes from that topic) sends those ten lines again.
    let port = w.rest_port;
    let (s, _) = http(port, "PUT", "/connectors/eos-poll/stop", None);
    assert_eq!(s, 204);
    assert!(
        w.wait_task_state("eos-poll", "STOPPED", Duration::from_secs(30)) || {
            let (_, st) = w.get("/connectors/eos-poll/status");
            st["connector"]["state"] == "STOPPED"
        }
    );
    let (_, offsets) = w.get("/connectors/eos-poll/offsets");
    let partition = offsets["offsets"][0]["partition"].clone();
    let back = json!({"offsets": [{"partition": partition,
        "offset": {"position": file_len - 130}}]});
    let (s, v) = http(port, "PATCH", "/connectors/eos-poll/offsets", Some(&back));
    assert_eq!(s, 200, "{v}");
    let (s, _) = http(port, "PUT", "/connectors/eos-poll/resume", None);
    assert_eq!(s, 202);
    assert!(
        wait_until(Duration::from_secs(60), || committed_values(&b, "eos-poll")
            .len()
            >= N + 10),
        "the altered position was not resumed from; log:\n{}",
        w.log_text()
    );
    std::thread::sleep(Duration::from_secs(1));
    let values = committed_values(&b, "eos-poll");
    assert_eq!(values.len(), N + 10);
    assert_eq!(values[N], format!("poll-{:07}", N - 10));
    assert!(w.stop(), "the worker did not stop cleanly");
}

#[test]
fn configs_connect_refuses_are_refused_naming_the_key() {
    let broker = Weft::start(&[]);
    let b = broker.bootstrap();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write_file(d, "in.txt", "x\n");

    // A worker value Connect does not know stops start-up, naming the key.
    let bad_worker = worker_file(d, &b, "exactly.once.source.support=sometimes\n");
    let (ok, _, err) = weft_cmd(
        &["connect", "standalone", bad_worker.to_str().unwrap()],
        None,
    );
    assert!(!ok, "a bad worker value must stop start-up");
    assert!(
        err.contains("exactly.once.source.support") && err.contains("sometimes"),
        "{err}"
    );

    // Without worker support, `required` is refused.
    let worker = worker_file(d, &b, "");
    let w = Worker::standalone(d, &[worker]);
    let create = |port: u16, extra: Value| {
        let mut config = json!({"connector.class": "FileStreamSource", "file": "in.txt",
            "topic": "t"});
        for (k, v) in extra.as_object().unwrap() {
            config[k] = v.clone();
        }
        http(
            port,
            "POST",
            "/connectors",
            Some(&json!({"name": "c", "config": config})),
        )
    };
    let (s, v) = create(w.rest_port, json!({"exactly.once.support": "required"}));
    assert_eq!(s, 400, "{v}");
    let msg = v["message"].as_str().unwrap();
    assert!(
        msg.contains("exactly.once.support") && msg.contains("exactly.once.source.support"),
        "{msg}"
    );
    drop(w);

    // With it: connector-defined boundaries, an unknown boundary, and `required` for a
    // connector that does not declare support.
    let dir2 = tempfile::tempdir().unwrap();
    let d2 = dir2.path();
    write_file(d2, "in.txt", "x\n");
    let worker = worker_file(d2, &b, "exactly.once.source.support=enabled\n");
    let w = Worker::standalone(d2, &[worker]);
    for (extra, key) in [
        (
            json!({"transaction.boundary": "connector"}),
            "transaction.boundary",
        ),
        (
            json!({"transaction.boundary": "weekly"}),
            "transaction.boundary",
        ),
        (
            json!({"transaction.boundary.interval.ms": "-5"}),
            "transaction.boundary.interval.ms",
        ),
    ] {
        let (s, v) = create(w.rest_port, extra.clone());
        assert_eq!(s, 400, "{extra}: {v}");
        assert!(v["message"].as_str().unwrap().contains(key), "{extra}: {v}");
    }
    let (s, v) = http(
        w.rest_port,
        "POST",
        "/connectors",
        Some(&json!({"name": "m", "config": {
            "connector.class": "org.apache.kafka.connect.mirror.MirrorSourceConnector",
            "source.cluster.alias": "A", "target.cluster.alias": "B",
            "capability.remote-cluster.bootstrap.servers": b,
            "exactly.once.support": "required"}})),
    );
    assert_eq!(s, 400, "{v}");
    assert!(
        v["message"]
            .as_str()
            .unwrap()
            .contains("does not declare exactly-once support"),
        "{v}"
    );
    // `requested` (the default) runs in transactions whatever the connector declares.
    let (s, v) = create(w.rest_port, json!({"exactly.once.support": "requested"}));
    assert_eq!(s, 201, "{v}");
}

#[test]
fn a_second_worker_running_the_same_connector_fences_the_first() {
    const N: usize = 400_000;
    let broker = Weft::start(&[]);
    let b = broker.bootstrap();
    // Two workers in their own directories (own local offsets files), one cluster: what a
    // connector copied to a second machine looks like. Only the offsets topic is shared.
    let dirs = [tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap()];
    let text = lines("z", N);
    let start = |d: &Path| {
        write_file(d, "in.txt", &text);
        let worker = worker_file(d, &b, "exactly.once.source.support=enabled\n");
        let conn = write_file(
            d,
            "z.properties",
            "name=zombie\nconnector.class=FileStreamSource\nfile=in.txt\ntopic=z\nbatch.size=200\n\
             value.converter=org.apache.kafka.connect.storage.StringConverter\n",
        );
        Worker::standalone(d, &[worker, conn])
    };
    let first = start(dirs[0].path());
    assert!(
        wait_until(Duration::from_secs(60), || high_watermark(&b, "z") > 10_000),
        "the first worker copied nothing; log:\n{}",
        first.log_text()
    );
    let second = start(dirs[1].path());
    // The second instance's task takes the transactional id over: the first one's next
    // transaction is refused and its task fails, naming the fence.
    assert!(
        first.wait_task_state("zombie", "FAILED", Duration::from_secs(60)),
        "the first worker's task was not fenced; its log:\n{}",
        first.log_text()
    );
    let (_, tasks) = first.state("zombie").unwrap();
    let trace = tasks[0].1.clone().unwrap_or_default();
    assert!(trace.to_lowercase().contains("fenc"), "{trace}");
    let end = (N * 10) as i64;
    assert!(
        wait_until(Duration::from_secs(120), || second
            .get("/connectors/zombie/offsets")
            .1["offsets"][0]["offset"]["position"]
            == end),
        "the second worker did not finish; log:\n{}",
        second.log_text()
    );
    expect_exactly(&committed_values(&b, "z"), "z", N);
}
