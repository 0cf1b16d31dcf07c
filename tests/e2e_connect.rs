//! End-to-end tests of the Connect worker: the real `weft` binary as a broker and as a
//! standalone worker (separate processes on free ports), driven through Kafka's own quickstart
//! files, the REST API and a real Kafka client.

mod common;

use std::collections::HashSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use common::connect::{
    consume, consume_until, error_header, file_source, http, test_plugin, wait_until, worker_file,
    write_file, Up, Worker,
};
use common::Weft;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::{Offset, TopicPartitionList};
use serde_json::{json, Value};

fn produce(bootstrap: &str, topic: &str, values: &[&[u8]]) {
    let p: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .create()
        .expect("producer");
    for v in values {
        p.send(BaseRecord::<(), [u8]>::to(topic).payload(v).partition(0))
            .expect("send");
    }
    p.flush(Duration::from_secs(30)).expect("flush");
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures/kafka-quickstart")
        .join(name)
}

/// Kafka's quickstart files, copied as shipped, with only what must differ on a test machine
/// appended (later keys win in a .properties file): the broker, the REST port, the offsets file.
fn quickstart_dir(broker: &Weft) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for f in [
        "connect-standalone.properties",
        "connect-file-source.properties",
        "connect-file-sink.properties",
    ] {
        std::fs::copy(fixture(f), dir.path().join(f))
            .unwrap_or_else(|e| panic!("fixture {f}: {e}"));
    }
    let mut w = std::fs::OpenOptions::new()
        .append(true)
        .open(dir.path().join("connect-standalone.properties"))
        .unwrap();
    writeln!(
        w,
        "\nbootstrap.servers={}\nlisteners=http://127.0.0.1:0\noffset.storage.file.filename={}",
        broker.bootstrap(),
        dir.path().join("connect.offsets").display()
    )
    .unwrap();
    dir
}

fn quickstart_files(dir: &Path) -> Vec<PathBuf> {
    [
        "connect-standalone.properties",
        "connect-file-source.properties",
        "connect-file-sink.properties",
    ]
    .iter()
    .map(|f| dir.join(f))
    .collect()
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

#[test]
fn kafka_quickstart_round_trips_a_file_through_a_topic() {
    let broker = Weft::start(&[]);
    let dir = quickstart_dir(&broker);
    let lines: Vec<String> = (0..500)
        .map(|i| format!("line {i} with \"quotes\", a \\ backslash and ünïcode"))
        .collect();
    let mut text = lines.join("\n");
    text.push('\n');
    std::fs::write(dir.path().join("test.txt"), &text).unwrap();

    let mut worker = Worker::standalone(dir.path(), &quickstart_files(dir.path()));
    let sink = dir.path().join("test.sink.txt");
    assert!(
        wait_until(Duration::from_secs(90), || read(&sink) == text),
        "the sink file never matched the source file; sink has {} bytes; worker log:\n{}",
        read(&sink).len(),
        worker.log_text()
    );

    // The topic holds what Kafka's JsonConverter with schemas enabled writes.
    let records = consume(
        &broker.bootstrap(),
        "connect-test",
        lines.len(),
        Duration::from_secs(30),
    );
    assert_eq!(records.len(), lines.len());
    for (r, line) in records.iter().zip(&lines) {
        let value: Value = serde_json::from_slice(r.1.as_deref().expect("a value")).unwrap();
        assert_eq!(
            value,
            json!({"schema": {"type": "string", "optional": false}, "payload": line})
        );
        assert_eq!(
            String::from_utf8(r.1.clone().unwrap()).unwrap(),
            format!(
                r#"{{"schema":{{"type":"string","optional":false}},"payload":{}}}"#,
                serde_json::to_string(line).unwrap()
            )
        );
        assert!(r.0.is_none(), "FileStreamSource writes null keys");
    }

    // Both connectors run, named as in the files.
    let (code, names) = worker.get("/connectors");
    assert_eq!(code, 200);
    assert_eq!(names, json!(["local-file-sink", "local-file-source"]));
    for c in ["local-file-source", "local-file-sink"] {
        let (state, tasks) = worker.state(c).unwrap();
        assert_eq!(state, "RUNNING");
        assert_eq!(tasks.len(), 1);
        assert_eq!(tasks[0].0, "RUNNING");
    }

    assert!(
        worker.stop(),
        "the worker did not exit cleanly on SIGTERM:\n{}",
        worker.log_text()
    );
}

/// Commits `offset` for partition 0 of `topic` in `group`, retrying while the group still
/// has members (a failed task's consumer leaves it when its thread ends).
fn commit_group_offset(bootstrap: &str, group: &str, topic: &str, offset: i64) {
    let c: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", group)
        .set("enable.auto.commit", "false")
        .create()
        .unwrap();
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset(topic, 0, Offset::Offset(offset))
        .unwrap();
    assert!(
        wait_until(Duration::from_secs(30), || c
            .commit(&tpl, rdkafka::consumer::CommitMode::Sync)
            .is_ok()),
        "could not commit an offset for {group}"
    );
}

/// A record the producer refuses when a source task sends it (larger than the connector's
/// `producer.override.message.max.bytes`) is logged with stage KAFKA_PRODUCE and given up under
/// `errors.tolerance=all` (source connectors have no dead letter queue, as in Connect), and
/// fails the task under `none`.
#[test]
fn a_record_the_producer_refuses_is_given_up_under_all_and_fails_the_task_under_none() {
    let broker = Weft::start(&[]);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let worker = worker_file(
        d,
        &broker.bootstrap(),
        "connector.client.config.override.policy=All",
    );
    let connector = |name: &str, extra: &str| {
        write_file(
            d,
            &format!("{name}.properties"),
            &format!(
                "name={name}\nconnector.class=datagen\ntasks.max=1\nkafka.topic={name}-out\n\
                 iterations=3\nrecord.size=2000\n\
                 value.converter=org.apache.kafka.connect.converters.ByteArrayConverter\n\
                 producer.override.message.max.bytes=1000\n{extra}"
            ),
        )
    };
    let all = connector(
        "big-all",
        "errors.tolerance=all\nerrors.log.enable=true\nerrors.log.include.messages=false\n",
    );
    let none = connector("big-none", "");
    let w = Worker::standalone(d, &[worker, all, none]);
    assert!(
        wait_until(Duration::from_secs(60), || w
            .get("/connectors/big-all/status")
            .1["tasks"][0]["metrics"]["errors_total"]
            == 3),
        "three records given up; worker log:\n{}",
        w.log_text()
    );
    assert_eq!(
        w.get("/connectors/big-all/status").1["tasks"][0]["state"],
        "RUNNING"
    );
    assert!(
        w.log_text().contains("KAFKA_PRODUCE"),
        "the error log names the stage:\n{}",
        w.log_text()
    );
    let trace = w.failed_trace("big-none");
    assert!(trace.contains("KAFKA_PRODUCE"), "{trace}");
}

#[test]
fn fused_built_in_transforms_give_what_they_give_one_by_one_and_name_the_one_that_failed() {
    let broker = Weft::start(&[]);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let worker = worker_file(d, &broker.bootstrap(), "");
    // Three built-in transforms without predicates run in one instance; the middle one fails
    // the record that is not an object.
    let sink = |name: &str, extra: &str| {
        write_file(
            d,
            &format!("{name}.properties"),
            &format!(
                "name={name}\nconnector.class=FileStreamSink\ntasks.max=1\nfile={name}.txt\n\
                 topics={name}-in\nvalue.converter=org.apache.kafka.connect.json.JsonConverter\n\
                 value.converter.schemas.enable=false\ntransforms=mark,mask,stamp\n\
                 transforms.mark.type=org.apache.kafka.connect.transforms.InsertHeader\n\
                 transforms.mark.header=via\ntransforms.mark.value.literal=smt\n\
                 transforms.mask.type=org.apache.kafka.connect.transforms.MaskField$Value\n\
                 transforms.mask.fields=userid\n\
                 transforms.stamp.type=org.apache.kafka.connect.transforms.InsertField$Value\n\
                 transforms.stamp.static.field=source\ntransforms.stamp.static.value=weft\n{extra}"
            ),
        )
    };
    let all = sink(
        "fused-all",
        "errors.tolerance=all\nerrors.deadletterqueue.topic.name=fused-dlq\n\
         errors.deadletterqueue.topic.replication.factor=1\n\
         errors.deadletterqueue.context.headers.enable=true\n",
    );
    let none = sink("fused-none", "");
    let values: [&[u8]; 3] = [
        br#"{"userid":"u1","n":1}"#,
        b"[1]",
        br#"{"userid":"u2","n":2}"#,
    ];
    produce(&broker.bootstrap(), "fused-all-in", &values);
    produce(&broker.bootstrap(), "fused-none-in", &values);
    let w = Worker::standalone(d, &[worker, all, none]);

    let out = d.join("fused-all.txt");
    let want = "{\"userid\":\"\",\"n\":1,\"source\":\"weft\"}\n\
                {\"userid\":\"\",\"n\":2,\"source\":\"weft\"}\n";
    assert!(
        wait_until(Duration::from_secs(60), || read(&out) == want),
        "fused-all.txt is {:?}; worker log:\n{}",
        read(&out),
        w.log_text()
    );
    assert!(
        w.log_text()
            .contains("built-in transforms fused: one instance, one call per batch")
            && w.log_text().contains("mark,mask,stamp"),
        "the three transforms ran fused; worker log:\n{}",
        w.log_text()
    );
    let dlq = consume(&broker.bootstrap(), "fused-dlq", 1, Duration::from_secs(30));
    assert_eq!(dlq.len(), 1, "one record in the DLQ");
    let (_, value, headers) = &dlq[0];
    assert_eq!(value.as_deref(), Some(&b"[1]"[..]));
    let header = |k: &str| error_header(headers, k);
    assert_eq!(header("stage"), "TRANSFORMATION");
    assert_eq!(
        header("class.name"),
        "mask-field",
        "the transform that failed it"
    );
    assert_eq!(header("offset"), "1");

    let trace = w.failed_trace("fused-none");
    assert!(
        trace.contains("TRANSFORMATION") && trace.contains("mask-field"),
        "the trace names the transform: {trace}"
    );
    assert!(
        !read(&d.join("fused-none.txt")).contains("\"n\":2"),
        "nothing after the failed record is written"
    );
}

#[test]
fn a_poison_record_goes_to_the_dlq_under_all_and_fails_the_task_under_none() {
    let broker = Weft::start(&[]);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let worker = worker_file(d, &broker.bootstrap(), "");
    let all = write_file(
        d,
        "poison-all.properties",
        "name=poison-all\nconnector.class=FileStreamSink\ntasks.max=1\nfile=all.txt\ntopics=poison-all-in\n\
         errors.tolerance=all\nerrors.log.enable=true\nerrors.log.include.messages=true\n\
         errors.deadletterqueue.topic.name=poison-dlq\n\
         errors.deadletterqueue.topic.replication.factor=1\n\
         errors.deadletterqueue.context.headers.enable=true\n",
    );
    let none = write_file(
        d,
        "poison-none.properties",
        "name=poison-none\nconnector.class=FileStreamSink\ntasks.max=1\nfile=none.txt\ntopics=poison-none-in\n",
    );
    let values: [&[u8]; 3] = [b"\"a\"", b"not json{", b"\"b\""];
    produce(&broker.bootstrap(), "poison-all-in", &values);
    produce(&broker.bootstrap(), "poison-none-in", &values);

    let w = Worker::standalone(d, &[worker, all, none]);

    // errors.tolerance=all: the good records reach the file, the poison one the DLQ.
    let out = d.join("all.txt");
    assert!(
        wait_until(Duration::from_secs(60), || read(&out) == "a\nb\n"),
        "all.txt is {:?}; worker log:\n{}",
        read(&out),
        w.log_text()
    );
    let dlq = consume(
        &broker.bootstrap(),
        "poison-dlq",
        1,
        Duration::from_secs(30),
    );
    assert_eq!(dlq.len(), 1, "one record in the DLQ");
    let (_, value, headers) = &dlq[0];
    assert_eq!(
        value.as_deref(),
        Some(&b"not json{"[..]),
        "the DLQ holds the record as consumed"
    );
    let header = |k: &str| error_header(headers, k);
    assert_eq!(header("topic"), "poison-all-in");
    assert_eq!(header("partition"), "0");
    assert_eq!(header("offset"), "1");
    assert_eq!(header("connector.name"), "poison-all");
    assert_eq!(header("task.id"), "0");
    assert_eq!(header("stage"), "VALUE_CONVERTER");
    for k in [
        "class.name",
        "exception.class.name",
        "exception.message",
        "exception.stacktrace",
    ] {
        assert!(!header(k).is_empty(), "__connect.errors.{k} is empty");
    }
    let (_, status) = w.get("/connectors/poison-all/status");
    assert_eq!(status["tasks"][0]["state"], "RUNNING");
    assert!(
        wait_until(Duration::from_secs(10), || w
            .get("/connectors/poison-all/status")
            .1["tasks"][0]["metrics"]["dlq_records_total"]
            == 1),
        "the DLQ record is counted in the task's metrics"
    );

    // errors.tolerance=none: the task fails with the reason, and nothing after the poison
    // record is written.
    let trace = w.failed_trace("poison-none");
    let (conn_state, _) = w.state("poison-none").unwrap();
    assert_eq!(conn_state, "RUNNING", "only the task fails, as in Connect");
    assert!(
        trace.contains("VALUE_CONVERTER"),
        "the trace names the stage: {trace}"
    );
    assert!(!read(&d.join("none.txt")).contains('b'));

    // The operator skips the poison record and restarts only what failed.
    commit_group_offset(
        &broker.bootstrap(),
        "connect-poison-none",
        "poison-none-in",
        2,
    );
    let (code, body) = http(
        w.rest_port,
        "POST",
        "/connectors/poison-none/restart?includeTasks=true&onlyFailed=true",
        None,
    );
    assert_eq!(code, 202, "{body}");
    assert_eq!(body["tasks"][0]["state"], "RESTARTING", "{body}");
    assert!(
        w.wait_task_state("poison-none", "RUNNING", Duration::from_secs(60)),
        "the restarted task is not RUNNING: {:?}",
        w.state("poison-none")
    );
    assert!(
        wait_until(Duration::from_secs(60), || read(&d.join("none.txt"))
            .ends_with("b\n")),
        "none.txt is {:?}",
        read(&d.join("none.txt"))
    );
    // poison-all was never touched by the restart.
    assert_eq!(w.state("poison-all").unwrap().1[0].0, "RUNNING");
}

/// Line numbers of a sink file of `line-NNNNNNN` lines.
fn line_numbers(text: &str) -> Vec<u64> {
    text.lines()
        .map(|l| {
            l.strip_prefix("line-")
                .and_then(|n| n.parse().ok())
                .unwrap_or_else(|| panic!("a torn or foreign line in the sink file: {l:?}"))
        })
        .collect()
}

#[test]
fn a_million_lines_survive_a_kill_9_of_the_worker_in_order() {
    const N: u64 = 1_000_000;
    let broker = Weft::start(&[]);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let mut text = String::with_capacity(N as usize * 13);
    for i in 0..N {
        text.push_str(&format!("line-{i:07}\n"));
    }
    std::fs::write(d.join("big.txt"), &text).unwrap();
    let worker = worker_file(d, &broker.bootstrap(), "");
    let source = file_source(
        d,
        "big-source",
        "big.txt",
        "topic=big\nvalue.converter=org.apache.kafka.connect.storage.StringConverter\n",
    );
    let sink = write_file(
        d,
        "sink.properties",
        "name=big-sink\nconnector.class=FileStreamSink\ntasks.max=1\nfile=big.sink.txt\ntopics=big\n\
         value.converter=org.apache.kafka.connect.storage.StringConverter\n",
    );
    let out = d.join("big.sink.txt");
    let mut w = Worker::standalone(d, &[worker, source, sink]);
    assert!(
        wait_until(Duration::from_secs(120), || std::fs::metadata(&out)
            .map(|m| m.len())
            .unwrap_or(0)
            > 13 * 200_000),
        "the sink did not get 200,000 lines; log:\n{}",
        w.log_text()
    );
    w.kill9();
    let before = std::fs::metadata(&out).map(|m| m.len()).unwrap_or(0);
    assert!(
        before < 13 * N,
        "the worker was killed midway, not after the end"
    );
    w.restart();
    assert!(
        wait_until(Duration::from_secs(180), || read(&out)
            .ends_with(&format!("line-{:07}\n", N - 1))),
        "the sink never reached the last line after the restart; log:\n{}",
        w.log_text()
    );
    let nums = line_numbers(&read(&out));
    // Every line is there, and the file is runs of consecutive lines: the first from the start,
    // the later ones resuming at or before where the previous run ended (the source resending
    // from its last stored position, the sink rereading from its last committed offset).
    let mut seen = vec![false; N as usize];
    let mut runs = 1;
    for (i, n) in nums.iter().enumerate() {
        seen[*n as usize] = true;
        if i > 0 && *n != nums[i - 1] + 1 {
            assert!(
                *n <= nums[i - 1],
                "a gap after line {} (next is {n})",
                nums[i - 1]
            );
            runs += 1;
        }
    }
    assert_eq!(nums[0], 0);
    assert!(seen.iter().all(|s| *s), "every line arrived");
    assert!(
        runs <= 3,
        "at most one resend by the source and one by the sink, got {runs} runs"
    );
    assert!(
        nums.len() < (N as usize) * 2,
        "duplicates only from the unflushed interval"
    );
    assert!(w.stop());
}

/// The file sink writes each buffer at the file's end as it is then, as Kafka's sink (an
/// append-mode stream) does: a file truncated under it (a log rotation's copytruncate) goes on
/// from its new end, with no hole of zeros where the old lines were.
#[test]
fn the_file_sink_writes_on_from_the_new_end_of_a_file_truncated_under_it() {
    let broker = Weft::start(&[]);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let lines =
        |prefix: &str| -> Vec<String> { (0..1000).map(|i| format!("{prefix}-{i:04}")).collect() };
    let send = |lines: &[String]| {
        let values: Vec<&[u8]> = lines.iter().map(|l| l.as_bytes()).collect();
        produce(&broker.bootstrap(), "rotated", &values);
    };
    // Written before the worker starts, so the topic exists when the sink subscribes.
    let before = lines("before");
    send(&before);
    let worker = worker_file(d, &broker.bootstrap(), "offset.flush.interval.ms=200\n");
    let sink = write_file(
        d,
        "sink.properties",
        "name=rotated\nconnector.class=FileStreamSink\ntasks.max=1\nfile=rotated.txt\n\
         topics=rotated\nvalue.converter=org.apache.kafka.connect.storage.StringConverter\n",
    );
    let out = d.join("rotated.txt");
    let mut w = Worker::standalone(d, &[worker, sink]);
    let want = |lines: &[String]| lines.join("\n") + "\n";
    assert!(
        wait_until(Duration::from_secs(60), || read(&out) == want(&before)),
        "the sink never wrote the first 1,000 lines (file has {} bytes); log:\n{}",
        read(&out).len(),
        w.log_text()
    );
    std::fs::OpenOptions::new()
        .write(true)
        .open(&out)
        .unwrap()
        .set_len(0)
        .unwrap();
    let after = lines("after");
    send(&after);
    assert!(
        wait_until(Duration::from_secs(60), || read(&out) == want(&after)),
        "after the truncation the file should hold only the new lines; it starts {:?}; log:\n{}",
        read(&out).chars().take(80).collect::<String>(),
        w.log_text()
    );
    assert!(w.stop());
}

/// The topic's values as line numbers, checking that every record carries header `via=smt`.
fn routed_lines(records: &[common::connect::Consumed]) -> Vec<u64> {
    records
        .iter()
        .map(|(_, v, headers)| {
            assert!(
                headers.iter().any(|(k, v)| k == "via" && v == b"smt"),
                "a record without the inserted header: {headers:?}"
            );
            let v = String::from_utf8(v.clone().unwrap_or_default()).unwrap();
            line_numbers(&v)[0]
        })
        .collect()
}

#[test]
fn a_source_with_transforms_keeps_order_positions_and_failures_across_their_thread() {
    const N: u64 = 200_000;
    const MORE: u64 = 50_000;
    let broker = Weft::start(&[]);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let lines = |from: u64, to: u64| {
        (from..to)
            .map(|i| format!("line-{i:07}\n"))
            .collect::<String>()
    };
    std::fs::write(d.join("in.txt"), lines(0, N)).unwrap();
    let worker = worker_file(d, &broker.bootstrap(), "");
    let source = |name: &str, extra: &str| {
        file_source(
            d,
            name,
            "in.txt",
            &format!("value.converter=org.apache.kafka.connect.storage.StringConverter\n{extra}"),
        )
    };
    // Transforms run on a thread of their own beside the task's: records still arrive once
    // each and in order, and positions still follow what the cluster acknowledged.
    let routed = source(
        "routed",
        "topic=raw\ntransforms=route,mark\n\
         transforms.route.type=org.apache.kafka.connect.transforms.RegexRouter\n\
         transforms.route.regex=raw\ntransforms.route.replacement=routed\n\
         transforms.mark.type=org.apache.kafka.connect.transforms.InsertHeader\n\
         transforms.mark.header=via\ntransforms.mark.value.literal=smt\n",
    );
    // A transform failing on that thread fails its task, naming the stage; under
    // errors.tolerance=all it gives the records up, counted in the task's figures.
    let cast =
        "transforms=num\ntransforms.num.type=org.apache.kafka.connect.transforms.Cast$Value\n\
                transforms.num.spec=int32\n";
    let failing = source("failing", &format!("topic=failing\n{cast}"));
    let skipping = source(
        "skipping",
        &format!("topic=skipping\nerrors.tolerance=all\n{cast}"),
    );
    // The converters run on that thread too, after the transforms: a converter's failure is
    // handled there the same way. ByteArrayConverter refuses the file source's string schema.
    let refused = |name: &str, extra: &str| {
        file_source(
            d,
            name,
            "in.txt",
            &format!(
                "topic={name}\n\
                 value.converter=org.apache.kafka.connect.converters.ByteArrayConverter\n\
                 transforms=mark\ntransforms.mark.type=org.apache.kafka.connect.transforms.InsertHeader\n\
                 transforms.mark.header=via\ntransforms.mark.value.literal=smt\n{extra}"
            ),
        )
    };
    let conv_failing = refused("conv-failing", "");
    let conv_skipping = refused("conv-skipping", "errors.tolerance=all\n");
    let mut w = Worker::standalone(
        d,
        &[
            worker,
            routed,
            failing,
            skipping,
            conv_failing,
            conv_skipping,
        ],
    );

    let got = consume_until(
        &broker.bootstrap(),
        "routed",
        Duration::from_secs(120),
        |r| r.len() >= N as usize,
    );
    assert_eq!(
        routed_lines(&got),
        (0..N).collect::<Vec<_>>(),
        "every line once, in order; worker log:\n{}",
        w.log_text()
    );
    // Failing, each names its stage; skipping, each gives every record up and keeps running.
    for (failing, skipping, stage, message) in [
        ("failing", "skipping", "TRANSFORMATION", "cannot cast"),
        (
            "conv-failing",
            "conv-skipping",
            "VALUE_CONVERTER",
            "Invalid schema type",
        ),
    ] {
        let trace = w.failed_trace(failing);
        assert!(
            trace.contains(stage) && trace.contains(message),
            "{failing}: {trace}"
        );
        let status = format!("/connectors/{skipping}/status");
        assert!(
            wait_until(Duration::from_secs(60), || task_metric(
                &w,
                skipping,
                "errors_total"
            ) == N),
            "{skipping}: every record given up and counted: {:?}",
            w.get(&status).1
        );
        assert_eq!(
            w.get(&status).1["tasks"][0]["state"],
            "RUNNING",
            "{skipping}"
        );
    }

    // A graceful stop stores the positions of everything produced; what the transforms held
    // was never produced and is read again. After the restart the topic holds each line once.
    assert!(w.stop());
    std::fs::OpenOptions::new()
        .append(true)
        .open(d.join("in.txt"))
        .unwrap()
        .write_all(lines(N, N + MORE).as_bytes())
        .unwrap();
    w.restart();
    let got = consume_until(
        &broker.bootstrap(),
        "routed",
        Duration::from_secs(120),
        |r| r.len() >= (N + MORE) as usize,
    );
    // Anything past N + MORE would be a duplicate; give it a moment to show up.
    std::thread::sleep(Duration::from_secs(2));
    let after = consume(
        &broker.bootstrap(),
        "routed",
        (N + MORE) as usize + 1,
        Duration::from_secs(5),
    );
    assert_eq!(after.len(), got.len(), "records past the last line");
    assert_eq!(
        routed_lines(&got),
        (0..N + MORE).collect::<Vec<_>>(),
        "every line once, in order, across the restart; worker log:\n{}",
        w.log_text()
    );
    assert!(w.stop());
}

fn task_metric(w: &Worker, connector: &str, metric: &str) -> u64 {
    w.get(&format!("/connectors/{connector}/status")).1["tasks"][0]["metrics"][metric]
        .as_u64()
        .unwrap_or(0)
}

#[test]
fn a_hostile_connector_fails_only_its_own_task() {
    let hostile = test_plugin("hostile-source");
    let broker = Weft::start(&[]);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let worker = worker_file(d, &broker.bootstrap(), "");
    let healthy = write_file(
        d,
        "healthy.properties",
        "name=healthy\nconnector.class=datagen\ntasks.max=1\nkafka.topic=healthy\nrecord.size=100\n\
         iterations=-1\nvalue.converter=org.apache.kafka.connect.converters.ByteArrayConverter\n",
    );
    let w = Worker::standalone(d, &[worker, healthy]);
    assert!(
        w.wait_task_state("healthy", "RUNNING", Duration::from_secs(60)),
        "{}",
        w.log_text()
    );

    let modes = [
        ("trap", "trapped"),
        ("loop", "deadline"),
        ("alloc", "memory limit"),
    ];
    for (mode, _) in modes {
        let body = json!({
            "name": format!("hostile-{mode}"),
            "config": {
                "connector.class": hostile.display().to_string(),
                "tasks.max": "1",
                "topic": "hostile",
                "mode": mode,
                "healthy.polls": "3",
                "plugin.call.timeout.ms": "500",
                "plugin.memory.max.bytes": "67108864",
            }
        });
        let (code, resp) = http(w.rest_port, "POST", "/connectors", Some(&body));
        assert_eq!(code, 201, "{resp}");
    }
    for (mode, reason) in modes {
        let name = format!("hostile-{mode}");
        assert!(
            w.wait_task_state(&name, "FAILED", Duration::from_secs(60)),
            "{name} did not fail: {:?}\n{}",
            w.state(&name),
            w.log_text()
        );
        let trace = w.state(&name).unwrap().1[0].1.clone().unwrap_or_default();
        assert!(
            trace.contains(reason),
            "{name}'s trace does not say {reason:?}: {trace}"
        );
    }
    // The healthy connector kept running and keeps producing.
    assert_eq!(w.state("healthy").unwrap().1[0].0, "RUNNING");
    let after = task_metric(&w, "healthy", "records_total");
    assert!(
        wait_until(Duration::from_secs(30), || task_metric(
            &w,
            "healthy",
            "records_total"
        ) > after + 1000),
        "the healthy connector stopped producing once the hostile ones failed"
    );
    // A restarted hostile task is opened again and fails again, alone.
    let (code, _) = http(
        w.rest_port,
        "POST",
        "/connectors/hostile-trap/tasks/0/restart",
        None,
    );
    assert_eq!(code, 204);
    assert!(w.wait_task_state("hostile-trap", "FAILED", Duration::from_secs(60)));
    assert_eq!(w.state("healthy").unwrap().1[0].0, "RUNNING");
}

#[test]
fn weft_up_runs_the_worker_beside_its_broker_and_remembers_rest_created_connectors() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let data = d.join("data");
    let conns = d.join("connectors");
    std::fs::create_dir_all(&conns).unwrap();
    std::fs::write(d.join("in.txt"), "one\ntwo\n").unwrap();
    std::fs::write(
        conns.join("source.json"),
        json!({"name": "dir-source", "config": {
            "connector.class": "FileStreamSource", "file": d.join("in.txt").display().to_string(),
            "topic": "up-topic",
            "value.converter": "org.apache.kafka.connect.storage.StringConverter"}})
        .to_string(),
    )
    .unwrap();
    let up = Up::start(&data, &conns, Duration::from_secs(30));
    let bootstrap = format!("127.0.0.1:{}", up.broker_port);
    let recs = consume(&bootstrap, "up-topic", 2, Duration::from_secs(60));
    let values: Vec<_> = recs
        .iter()
        .map(|r| r.1.clone().unwrap_or_default())
        .collect();
    assert_eq!(values, vec![b"one".to_vec(), b"two".to_vec()]);

    // A connector created over REST is persisted under the data dir ...
    let body = json!({"name": "rest-sink", "config": {
        "connector.class": "FileStreamSink", "file": d.join("out.txt").display().to_string(),
        "topics": "up-topic",
        "value.converter": "org.apache.kafka.connect.storage.StringConverter"}});
    let (code, resp) = http(up.rest_port, "POST", "/connectors", Some(&body));
    assert_eq!(code, 201, "{resp}");
    assert!(wait_until(Duration::from_secs(60), || read(
        &d.join("out.txt")
    ) == "one\ntwo\n"));
    up.stop();

    // ... and comes back after a restart (Kafka's standalone mode forgets it).
    let up = Up::start(&data, &conns, Duration::from_secs(30));
    // Stored connectors start on a blocking thread after the REST API is up (their components
    // may compile first), so wait for them to be listed.
    let both = json!(["dir-source", "rest-sink"]);
    assert!(
        wait_until(Duration::from_secs(60), || http(
            up.rest_port,
            "GET",
            "/connectors",
            None
        ) == (200, both.clone())),
        "the REST-created connector did not come back: {:?}",
        http(up.rest_port, "GET", "/connectors", None)
    );
    assert!(wait_until(Duration::from_secs(60), || http(
        up.rest_port,
        "GET",
        "/connectors/rest-sink/status",
        None
    )
    .1["connector"]["state"]
        == "RUNNING"));
    up.stop();
}

/// A source task whose producer queue fills (a tiny `queue.buffering.max.messages`) waits for
/// room and sends on: every record lands once, in order, none given up.
#[test]
fn a_source_whose_producer_queue_fills_waits_for_room_and_loses_nothing() {
    const N: usize = 20_000;
    let broker = Weft::start(&[]);
    let b = broker.bootstrap();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (ok, _, err) = common::weft_cmd(
        &["topics", "create", "full", "--partitions", "1", "-b", &b],
        None,
    );
    assert!(ok, "{err}");
    let worker = worker_file(d, &b, "connector.client.config.override.policy=All");
    let gen = write_file(
        d,
        "gen.properties",
        &format!(
            "name=gen\nconnector.class=datagen\nkafka.topic=full\niterations={N}\nrecord.size=100\n\
             key.converter=org.apache.kafka.connect.storage.StringConverter\n\
             value.converter=org.apache.kafka.connect.converters.ByteArrayConverter\n\
             producer.override.queue.buffering.max.messages=50\n"
        ),
    );
    let w = Worker::standalone(d, &[worker, gen]);
    let mut got = Vec::new();
    assert!(
        wait_until(Duration::from_secs(120), || {
            got = common::read_to_end(&b, "full", "read_uncommitted");
            got.len() >= N
        }),
        "datagen wrote {} of {N} records; log:\n{}",
        got.len(),
        w.log_text()
    );
    let keys: Vec<String> = got
        .iter()
        .map(|(_, key, _)| String::from_utf8_lossy(key.as_deref().unwrap_or_default()).into())
        .collect();
    let want: Vec<String> = (0..N).map(|i| i.to_string()).collect();
    assert!(keys == want, "every record once and in order");
    let status = w.get("/connectors/gen/status").1;
    assert_eq!(status["tasks"][0]["state"], "RUNNING", "{status}");
    assert_eq!(status["tasks"][0]["metrics"]["errors_total"], 0, "{status}");
}

#[test]
fn keyed_source_records_land_in_the_java_clients_partition() {
    const PARTS: i32 = 6;
    let broker = Weft::start(&[]);
    let b = broker.bootstrap();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (ok, _, err) = common::weft_cmd(
        &["topics", "create", "keyed", "--partitions", "6", "-b", &b],
        None,
    );
    assert!(ok, "{err}");
    let worker = worker_file(d, &b, "");
    let gen = write_file(
        d,
        "gen.properties",
        "name=gen\nconnector.class=datagen\nkafka.topic=keyed\niterations=300\nrecord.size=100\n\
         key.converter=org.apache.kafka.connect.storage.StringConverter\n\
         value.converter=org.apache.kafka.connect.storage.StringConverter\n",
    );
    let w = Worker::standalone(d, &[worker, gen]);
    let mut got = Vec::new();
    assert!(
        wait_until(Duration::from_secs(60), || {
            got = common::read_to_end(&b, "keyed", "read_uncommitted");
            got.len() >= 300
        }),
        "datagen wrote {} of 300 records; log:\n{}",
        got.len(),
        w.log_text()
    );
    let mut used = std::collections::BTreeSet::new();
    for (partition, key, _) in &got {
        let key = key.as_deref().expect("datagen keys its records");
        assert_eq!(
            *partition,
            common::java_partition(key, PARTS),
            "key {}",
            String::from_utf8_lossy(key)
        );
        used.insert(*partition);
    }
    assert_eq!(
        used.len(),
        PARTS as usize,
        "keys spread over every partition"
    );
}

const REBALANCE_PARTS: i32 = 4;

/// Record `seq` of partition `p` of the rebalance test: `p<p>-<seq>`, and below 2,000 every
/// 100th padded to 400 KB, so that early batches fill by bytes before they fill by count.
fn rebalance_value(p: i32, seq: u32) -> Vec<u8> {
    let mut v = format!("p{p}-{seq:06}").into_bytes();
    if seq < 2_000 && seq % 100 == 99 {
        v.push(b'-');
        v.resize(400_000, b'x');
    }
    v
}

/// Produces records `seqs` to every partition of `topic`, in order per partition, `pause`
/// between chunks of 500, and waits for their acks.
fn produce_seqs(bootstrap: &str, topic: &str, seqs: std::ops::Range<u32>, pause: Duration) {
    let p: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("linger.ms", "5")
        .set("enable.idempotence", "true")
        .create()
        .expect("producer");
    for seq in seqs {
        for part in 0..REBALANCE_PARTS {
            let v = rebalance_value(part, seq);
            let mut rec = BaseRecord::<(), [u8]>::to(topic)
                .payload(&v)
                .partition(part);
            loop {
                match p.send(rec) {
                    Ok(()) => break,
                    Err((rdkafka::error::KafkaError::MessageProduction(_), r)) => {
                        rec = r;
                        p.poll(Duration::from_millis(10));
                    }
                    Err((e, _)) => panic!("produce failed: {e}"),
                }
            }
        }
        if seq % 500 == 499 {
            p.poll(Duration::ZERO);
            std::thread::sleep(pause);
        }
    }
    p.flush(Duration::from_secs(60)).expect("flush");
}

/// A sink file's records as (partition, seq) in file order, checking each one's bytes (a last
/// line still being written is left for the next read).
fn sink_records(path: &Path) -> Vec<(i32, u32)> {
    let text = read(path);
    let whole = text.rfind('\n').map_or("", |end| &text[..end]);
    whole
        .lines()
        .map(|l| {
            let mut parts = l.splitn(3, '-');
            let (p, seq) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
            let p: i32 = p
                .strip_prefix('p')
                .and_then(|p| p.parse().ok())
                .unwrap_or_else(|| panic!("a foreign line in {}: {:.40}", path.display(), l));
            let seq: u32 = seq
                .parse()
                .unwrap_or_else(|_| panic!("a torn line: {l:.40}"));
            assert_eq!(
                l.as_bytes(),
                rebalance_value(p, seq).as_slice(),
                "record p{p}-{seq} changed on its way"
            );
            (p, seq)
        })
        .collect()
}

/// Whether `records` (both files') hold every seq below `end` of every partition.
fn covers(records: &[(i32, u32)], end: u32) -> bool {
    let mut seen = vec![false; REBALANCE_PARTS as usize * end as usize];
    for (p, seq) in records {
        if *seq < end {
            seen[*p as usize * end as usize + *seq as usize] = true;
        }
    }
    seen.iter().all(|s| *s)
}

#[test]
fn a_sink_task_follows_its_groups_rebalances_without_losing_or_reordering_records() {
    const END: u32 = 8_000;
    let broker = Weft::start(&[]);
    let bs = broker.bootstrap();
    let admin: rdkafka::admin::AdminClient<rdkafka::client::DefaultClientContext> =
        ClientConfig::new()
            .set("bootstrap.servers", &bs)
            .create()
            .expect("admin client");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    for r in rt
        .block_on(admin.create_topics(
            &[rdkafka::admin::NewTopic::new(
                "rb",
                REBALANCE_PARTS,
                rdkafka::admin::TopicReplication::Fixed(1),
            )],
            &rdkafka::admin::AdminOptions::new(),
        ))
        .expect("create_topics")
    {
        r.expect("topic rb created");
    }
    produce_seqs(&bs, "rb", 0..2_000, Duration::ZERO);

    // Two standalone workers, each with sink `rb` (so both in group connect-rb), each writing
    // its own file.
    let (da, db) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let sink = |d: &Path, file: &str| {
        write_file(
            d,
            "rb.properties",
            &format!(
                "name=rb\nconnector.class=FileStreamSink\ntasks.max=1\nfile={file}\ntopics=rb\n\
                 value.converter=org.apache.kafka.connect.storage.StringConverter\n"
            ),
        )
    };
    let (fa, fb) = (da.path().join("a.txt"), db.path().join("b.txt"));
    let mut a = Worker::standalone(
        da.path(),
        &[worker_file(da.path(), &bs, ""), sink(da.path(), "a.txt")],
    );
    assert!(
        wait_until(Duration::from_secs(120), || covers(
            &sink_records(&fa),
            2_000
        )),
        "worker a did not write the first 2,000 records of each partition; log:\n{}",
        a.log_text()
    );

    // Worker b joins the group while records keep coming: a's running task gives partitions
    // up and takes its share back without being restarted. Once the group is stable with both,
    // more records come, so b surely puts some.
    let producer = {
        let bs = bs.clone();
        std::thread::spawn(move || {
            produce_seqs(&bs, "rb", 2_000..4_000, Duration::from_millis(400))
        })
    };
    let mut b = Worker::standalone(
        db.path(),
        &[worker_file(db.path(), &bs, ""), sink(db.path(), "b.txt")],
    );
    producer.join().expect("producer thread");
    let observer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", &bs)
        .create()
        .expect("consumer");
    assert!(
        wait_until(Duration::from_secs(120), || observer
            .fetch_group_list(Some("connect-rb"), Duration::from_secs(10))
            .ok()
            .and_then(|l| l
                .groups()
                .first()
                .map(|g| g.state() == "Stable" && g.members().len() == 2))
            .unwrap_or(false)),
        "group connect-rb never became stable with both workers; a's log:\n{}\nb's log:\n{}",
        a.log_text(),
        b.log_text()
    );
    produce_seqs(&bs, "rb", 4_000..6_000, Duration::ZERO);
    let both = || {
        let mut r = sink_records(&fa);
        r.extend(sink_records(&fb));
        r
    };
    assert!(
        wait_until(Duration::from_secs(120), || covers(&both(), 6_000)),
        "the two workers did not write records up to 6,000; a's log:\n{}\nb's log:\n{}",
        a.log_text(),
        b.log_text()
    );
    let b_partitions: std::collections::BTreeSet<i32> =
        sink_records(&fb).iter().map(|(p, _)| *p).collect();
    assert!(
        !b_partitions.is_empty() && b_partitions.len() < REBALANCE_PARTS as usize,
        "b took some of the partitions, not none or all: {b_partitions:?}"
    );
    // The partitions b did not take stayed with a all along.
    let ra: HashSet<(i32, u32)> = sink_records(&fa).into_iter().collect();
    for p in (0..REBALANCE_PARTS).filter(|p| !b_partitions.contains(p)) {
        assert!(
            (2_000..6_000).all(|s| ra.contains(&(p, s))),
            "a kept partition {p}, which b never took (b took {b_partitions:?})"
        );
    }

    // b leaves: a takes every partition back.
    assert!(b.stop(), "worker b stops cleanly");
    produce_seqs(&bs, "rb", 6_000..END, Duration::ZERO);
    assert!(
        wait_until(Duration::from_secs(120), || {
            let r = sink_records(&fa);
            (0..REBALANCE_PARTS).all(|p| r.contains(&(p, END - 1)))
        }),
        "a did not take every partition back; log:\n{}",
        a.log_text()
    );
    assert_eq!(
        a.state("rb").expect("status of rb").1[0].0,
        "RUNNING",
        "a's task ran through both rebalances"
    );
    assert!(a.stop(), "worker a stops cleanly");

    // Nothing lost, nothing put twice (a partition changes hands only after its owner committed
    // what it put: the revoke's commit, or the stopping worker's), and each file in partition
    // order, skipping only what the other worker put while the partition was its.
    let (ra, rb) = (sink_records(&fa), sink_records(&fb));
    let sa: HashSet<(i32, u32)> = ra.iter().copied().collect();
    let sb: HashSet<(i32, u32)> = rb.iter().copied().collect();
    let mut all = sa.clone();
    all.extend(&sb);
    assert_eq!(
        all.len(),
        REBALANCE_PARTS as usize * END as usize,
        "every record of every partition was put"
    );
    assert_eq!(
        ra.len() + rb.len(),
        all.len(),
        "no record was put twice ({} in a, {} in b)",
        ra.len(),
        rb.len()
    );
    for (mine, other, name) in [(&ra, &sb, "a"), (&rb, &sa, "b")] {
        for p in 0..REBALANCE_PARTS {
            let seqs: Vec<u32> = mine.iter().filter(|r| r.0 == p).map(|r| r.1).collect();
            if name == "a" {
                assert_eq!(
                    seqs.first(),
                    Some(&0),
                    "a read partition {p} from the start"
                );
            }
            for w in seqs.windows(2) {
                let (prev, next) = (w[0], w[1]);
                assert!(next > prev, "{name} put p{p}-{next} after p{p}-{prev}");
                assert!(
                    (prev + 1..next).all(|s| other.contains(&(p, s))),
                    "{name}'s file skips p{p} {}..{next}, and the other worker did not put them",
                    prev + 1
                );
            }
        }
    }

    // What was put is committed: the group's offsets are the partitions' ends.
    let reader: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", &bs)
        .set("group.id", "connect-rb")
        .create()
        .expect("consumer");
    let mut tpl = TopicPartitionList::new();
    for p in 0..REBALANCE_PARTS {
        tpl.add_partition("rb", p);
    }
    let committed = reader
        .committed_offsets(tpl, Duration::from_secs(30))
        .expect("committed offsets");
    for e in committed.elements() {
        assert_eq!(
            e.offset(),
            Offset::Offset(END as i64),
            "partition {} committed up to its end",
            e.partition()
        );
    }
}
