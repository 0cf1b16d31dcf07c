//! End-to-end tests of `header.converter` naming a converter component: the real `weft` binary
//! as a broker and as a standalone worker (separate processes on free ports), records made and
//! read by rdkafka. A source's headers are written by the header converter, a sink's are read
//! by it before the transforms, and a header it cannot read is a `HEADER_CONVERTER` failure.

mod common;

use std::path::Path;
use std::time::Duration;

use common::connect::{
    consume, consume_until, file_source, test_plugin, wait_until, worker_file, write_file, Worker,
};
use common::Weft;
use rdkafka::config::ClientConfig;
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

/// Produces `(value, header h)` records to partition 0 of `topic`.
fn produce_with_header(bootstrap: &str, topic: &str, records: &[(&str, &str)]) {
    let p: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .create()
        .expect("producer");
    for (value, header) in records {
        let headers = OwnedHeaders::new().insert(Header {
            key: "h",
            value: Some(header.as_bytes()),
        });
        p.send(
            BaseRecord::<(), str>::to(topic)
                .payload(value)
                .partition(0)
                .headers(headers),
        )
        .expect("send");
    }
    p.flush(Duration::from_secs(30)).expect("flush");
}

/// The value of header `name` of every record of `topic`, once `n` records arrived.
fn header_values(bootstrap: &str, topic: &str, name: &str, n: usize) -> Vec<String> {
    consume(bootstrap, topic, n, Duration::from_secs(60))
        .iter()
        .map(|(_, _, headers)| {
            headers
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| String::from_utf8_lossy(v).to_string())
                .unwrap_or_else(|| panic!("no header {name} in {headers:?}"))
        })
        .collect()
}

#[test]
fn a_source_writes_header_values_with_the_connectors_header_converter() {
    let broker = Weft::start(&[]);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write_file(d, "in.txt", "one\ntwo\n");
    // The worker keeps Connect's default SimpleHeaderConverter; one connector overrides it.
    let worker = worker_file(d, &broker.bootstrap(), "");
    let insert =
        "transforms=h\ntransforms.h.type=org.apache.kafka.connect.transforms.InsertHeader\n\
                  transforms.h.header=h\ntransforms.h.value.literal=literal\n";
    let json = file_source(
        d,
        "src-json",
        "in.txt",
        &format!(
            "topic=src-json\n{insert}\
             header.converter=org.apache.kafka.connect.json.JsonConverter\n\
             header.converter.schemas.enable=false\n"
        ),
    );
    let plain = file_source(
        d,
        "src-plain",
        "in.txt",
        &format!("topic=src-plain\n{insert}"),
    );
    let w = Worker::standalone(d, &[worker, json, plain]);

    let converted = header_values(&broker.bootstrap(), "src-json", "h", 2);
    assert_eq!(
        converted,
        ["\"literal\"", "\"literal\""],
        "JsonConverter writes each header value as JSON; worker log:\n{}",
        w.log_text()
    );
    let plain = header_values(&broker.bootstrap(), "src-plain", "h", 2);
    assert_eq!(
        plain,
        ["literal", "literal"],
        "SimpleHeaderConverter writes the text as it is"
    );
    assert_eq!(w.state("src-json").unwrap().1[0].0, "RUNNING");
}

#[test]
fn a_sink_reads_header_values_with_the_workers_header_converter_and_fails_on_bad_ones() {
    let broker = Weft::start(&[]);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // Worker-level JSON header converter: every connector of this worker reads headers as JSON.
    let worker = worker_file(
        d,
        &broker.bootstrap(),
        "header.converter=org.apache.kafka.connect.json.JsonConverter\n\
         header.converter.schemas.enable=false\n",
    );
    let fixture = test_plugin("header-value");
    let shown = write_file(
        d,
        "shown.properties",
        &format!(
            "name=hdr-shown\nconnector.class=FileStreamSink\ntasks.max=1\nfile=shown.txt\n\
             topics=hdr-shown-in\ntransforms=v\ntransforms.v.type={}\ntransforms.v.header=h\n",
            fixture.display()
        ),
    );
    let all = write_file(
        d,
        "all.properties",
        "name=hdr-all\nconnector.class=FileStreamSink\ntasks.max=1\nfile=all.txt\n\
         topics=hdr-all-in\nerrors.tolerance=all\n\
         errors.deadletterqueue.topic.name=hdr-dlq\n\
         errors.deadletterqueue.topic.replication.factor=1\n\
         errors.deadletterqueue.context.headers.enable=true\n",
    );
    let none = write_file(
        d,
        "none.properties",
        "name=hdr-none\nconnector.class=FileStreamSink\ntasks.max=1\nfile=none.txt\n\
         topics=hdr-none-in\n",
    );
    let b = broker.bootstrap();
    produce_with_header(
        &b,
        "hdr-shown-in",
        &[("\"v1\"", "\"hello\""), ("\"v2\"", "\"world\"")],
    );
    let poison = [
        ("\"a\"", "\"x\""),
        ("\"b\"", "not json{"),
        ("\"c\"", "\"y\""),
    ];
    produce_with_header(&b, "hdr-all-in", &poison);
    produce_with_header(&b, "hdr-none-in", &poison);

    let w = Worker::standalone(d, &[worker, shown, all, none]);

    // The transform saw the header as a Connect string: the JSON text's content.
    let out = d.join("shown.txt");
    assert!(
        wait_until(Duration::from_secs(60), || read(&out) == "hello\nworld\n"),
        "shown.txt is {:?}; worker log:\n{}",
        read(&out),
        w.log_text()
    );

    // errors.tolerance=all: the record whose header is not JSON goes to the DLQ.
    let all_out = d.join("all.txt");
    assert!(
        wait_until(Duration::from_secs(60), || read(&all_out) == "a\nc\n"),
        "all.txt is {:?}; worker log:\n{}",
        read(&all_out),
        w.log_text()
    );
    let dlq = consume_until(&b, "hdr-dlq", Duration::from_secs(30), |r| !r.is_empty());
    assert_eq!(dlq.len(), 1, "one record in the DLQ: {dlq:?}");
    let (_, value, headers) = &dlq[0];
    assert_eq!(
        value.as_deref(),
        Some(&b"\"b\""[..]),
        "the record as consumed"
    );
    let header = |k: &str| {
        headers
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| String::from_utf8_lossy(v).to_string())
            .unwrap_or_else(|| panic!("no {k} header in {headers:?}"))
    };
    assert_eq!(header("__connect.errors.stage"), "HEADER_CONVERTER");
    assert_eq!(header("__connect.errors.offset"), "1");
    assert_eq!(header("__connect.errors.class.name"), "json-converter");
    assert_eq!(
        header("h"),
        "not json{",
        "the DLQ keeps the original header"
    );
    assert_eq!(w.state("hdr-all").unwrap().1[0].0, "RUNNING");

    // errors.tolerance=none: the task fails naming the stage, and nothing after it is written.
    let trace = w.failed_trace("hdr-none");
    assert!(
        trace.contains("HEADER_CONVERTER"),
        "the trace names the stage: {trace}"
    );
    assert!(!read(&d.join("none.txt")).contains('c'));
}

#[test]
fn a_source_header_converter_failure_is_skipped_or_fails_the_task_at_its_stage() {
    let broker = Weft::start(&[]);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write_file(d, "in.txt", "one\ntwo\nthree\n");
    let worker = worker_file(d, &broker.bootstrap(), "");
    // Every record gets the same header; the fixture converter refuses the second it writes.
    let source = |name: &str, extra: &str| {
        file_source(
            d,
            name,
            "in.txt",
            &format!(
                "topic={name}\ntransforms=h\n\
                 transforms.h.type=org.apache.kafka.connect.transforms.InsertHeader\n\
                 transforms.h.header=h\ntransforms.h.value.literal=x\n\
                 header.converter={}\n{extra}",
                test_plugin("refuse-second").display()
            ),
        )
    };
    let text = "value.converter=org.apache.kafka.connect.storage.StringConverter\n";
    let all = source(
        "src-hdr-all",
        &format!("{text}errors.tolerance=all\nerrors.log.enable=true\n"),
    );
    let none = source("src-hdr-none", text);
    let w = Worker::standalone(d, &[worker, all, none]);

    // errors.tolerance=all: the record whose header could not be written is skipped (a source
    // has no dead letter queue in Connect), the others are produced with their header.
    let b = broker.bootstrap();
    let got = consume(&b, "src-hdr-all", 2, Duration::from_secs(60));
    let values: Vec<String> = got
        .iter()
        .map(|(_, v, _)| String::from_utf8_lossy(v.as_deref().unwrap_or_default()).to_string())
        .collect();
    assert_eq!(values, ["one", "three"], "worker log:\n{}", w.log_text());
    assert_eq!(header_values(&b, "src-hdr-all", "h", 2), ["x", "x"]);
    assert!(
        w.log_text().contains("HEADER_CONVERTER"),
        "errors.log.enable logs the failure with its stage:\n{}",
        w.log_text()
    );
    assert_eq!(w.state("src-hdr-all").unwrap().1[0].0, "RUNNING");

    // errors.tolerance=none: the task fails naming the stage and the converter's message.
    let trace = w.failed_trace("src-hdr-none");
    assert!(
        trace.contains("HEADER_CONVERTER")
            && trace.contains("a record for topic src-hdr-none failed: refusing the second value"),
        "the trace names the stage, the record and the reason: {trace}"
    );
}
