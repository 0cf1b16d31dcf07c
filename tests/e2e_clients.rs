//! Real third-party Kafka clients against Weft: kcat (metadata, round trip, every codec), Python confluent-kafka and kafka-python.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::Weft;
use serde_json::Value;

/// The Debian interpreter that has python3-confluent-kafka and python3-kafka (the first `python3` on PATH may not).
const PYTHON: &str = "/usr/bin/python3";
/// Generous upper bound for any one client command; a hang fails the test instead of blocking it forever.
const CMD_TIMEOUT: Duration = Duration::from_secs(180);

/// What a finished child process printed.
struct Output {
    success: bool,
    status: String,
    stdout: String,
    stderr: String,
}

impl Output {
    fn describe(&self) -> String {
        format!(
            "exit {}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.status, self.stdout, self.stderr
        )
    }
}

/// Runs a program to completion with optional stdin, killing it (and failing) if it outlives `timeout`.
fn run(program: &Path, args: &[&str], stdin: Option<&[u8]>, timeout: Duration) -> Output {
    let mut child = Command::new(program)
        .args(args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", program.display()));
    let writer = stdin.map(|input| {
        let mut pipe = child.stdin.take().expect("stdin pipe");
        let input = input.to_vec();
        std::thread::spawn(move || {
            let _ = pipe.write_all(&input);
        })
    });
    let mut out_pipe = child.stdout.take().expect("stdout pipe");
    let mut err_pipe = child.stderr.take().expect("stderr pipe");
    let out_reader = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = out_pipe.read_to_end(&mut v);
        v
    });
    let err_reader = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = err_pipe.read_to_end(&mut v);
        v
    });
    let deadline = Instant::now() + timeout;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for child") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            let stdout =
                String::from_utf8_lossy(&out_reader.join().unwrap_or_default()).to_string();
            let stderr =
                String::from_utf8_lossy(&err_reader.join().unwrap_or_default()).to_string();
            panic!(
                "{} {:?} did not finish within {:?}\n--- stdout ---\n{stdout}\n--- stderr ---\n{stderr}",
                program.display(),
                args,
                timeout
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    if let Some(w) = writer {
        let _ = w.join();
    }
    Output {
        success: status.success(),
        status: status.to_string(),
        stdout: String::from_utf8_lossy(&out_reader.join().unwrap_or_default()).to_string(),
        stderr: String::from_utf8_lossy(&err_reader.join().unwrap_or_default()).to_string(),
    }
}

fn kcat(args: &[&str], stdin: Option<&[u8]>) -> Output {
    let kcat = common::require_tool("kcat");
    run(&kcat, args, stdin, CMD_TIMEOUT)
}

/// Creates a topic with rdkafka's admin client (librdkafka's CreateTopics).
fn create_topic(w: &Weft, topic: &str, partitions: i32) {
    use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
    use rdkafka::client::DefaultClientContext;
    use rdkafka::config::ClientConfig;

    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", w.bootstrap())
        .create()
        .expect("create admin client");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let opts = AdminOptions::new()
        .operation_timeout(Some(Duration::from_secs(30)))
        .request_timeout(Some(Duration::from_secs(30)));
    let results = runtime
        .block_on(admin.create_topics(
            &[NewTopic::new(topic, partitions, TopicReplication::Fixed(1))],
            &opts,
        ))
        .unwrap_or_else(|e| panic!("CreateTopics {topic}: {e}\nbroker log:\n{}", w.log_text()));
    for r in results {
        if let Err((t, e)) = r {
            panic!("CreateTopics {t}: {e}\nbroker log:\n{}", w.log_text());
        }
    }
}

/// Log-end offset of each partition, as an rdkafka client reads it from the broker (ListOffsets).
fn end_offsets(w: &Weft, topic: &str) -> BTreeMap<i32, i64> {
    use rdkafka::config::ClientConfig;
    use rdkafka::consumer::{BaseConsumer, Consumer};

    let timeout = Duration::from_secs(30);
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", w.bootstrap())
        .create()
        .expect("create consumer");
    let md = consumer
        .fetch_metadata(Some(topic), timeout)
        .unwrap_or_else(|e| panic!("metadata for {topic}: {e}"));
    let t = &md.topics()[0];
    assert!(
        t.error().is_none(),
        "metadata error for {topic}: {:?}",
        t.error()
    );
    t.partitions()
        .iter()
        .map(|p| {
            let (low, high) = consumer
                .fetch_watermarks(topic, p.id(), timeout)
                .unwrap_or_else(|e| panic!("watermarks of {topic}-{}: {e}", p.id()));
            assert_eq!(low, 0, "log start offset of {topic}-{}", p.id());
            (p.id(), high)
        })
        .collect()
}

/// One record as kcat's `-C -J` prints it.
#[derive(Debug)]
struct KcatRecord {
    partition: i32,
    offset: i64,
    key: Option<String>,
    payload: Option<String>,
    headers: Vec<(String, String)>,
}

fn parse_kcat_json(stdout: &str) -> Vec<KcatRecord> {
    stdout
        .lines()
        .filter(|l| l.trim_start().starts_with('{'))
        .map(|l| {
            let v: Value = serde_json::from_str(l)
                .unwrap_or_else(|e| panic!("kcat printed bad JSON {l:?}: {e}"));
            let headers = match v.get("headers") {
                Some(Value::Array(a)) => a
                    .chunks(2)
                    .map(|kv| {
                        (
                            kv[0].as_str().unwrap_or_default().to_string(),
                            kv.get(1)
                                .and_then(|x| x.as_str())
                                .unwrap_or_default()
                                .to_string(),
                        )
                    })
                    .collect(),
                _ => Vec::new(),
            };
            KcatRecord {
                partition: v["partition"]
                    .as_i64()
                    .unwrap_or_else(|| panic!("no partition in {l}"))
                    as i32,
                offset: v["offset"]
                    .as_i64()
                    .unwrap_or_else(|| panic!("no offset in {l}")),
                key: v["key"].as_str().map(str::to_string),
                payload: v["payload"].as_str().map(str::to_string),
                headers,
            }
        })
        .collect()
}

/// Reads a whole topic from the beginning with kcat, exiting at the end of every partition.
fn kcat_consume_all(w: &Weft, topic: &str) -> Vec<KcatRecord> {
    let bootstrap = w.bootstrap();
    let out = kcat(
        &[
            "-b",
            &bootstrap,
            "-C",
            "-t",
            topic,
            "-o",
            "beginning",
            "-e",
            "-J",
            "-q",
        ],
        None,
    );
    assert!(
        out.success,
        "kcat -C failed: {}\nbroker log:\n{}",
        out.describe(),
        w.log_text()
    );
    parse_kcat_json(&out.stdout)
}

/// Checks records read back per partition: offsets 0..n in order, and the values of each partition in send order.
fn check_partition_order(records: &[KcatRecord], index_of: impl Fn(&KcatRecord) -> usize) {
    let mut by_partition: BTreeMap<i32, Vec<(i64, usize)>> = BTreeMap::new();
    for r in records {
        by_partition
            .entry(r.partition)
            .or_default()
            .push((r.offset, index_of(r)));
    }
    for (p, list) in by_partition {
        let offsets: Vec<i64> = list.iter().map(|(o, _)| *o).collect();
        let expected: Vec<i64> = (0..offsets.len() as i64).collect();
        assert_eq!(
            offsets, expected,
            "partition {p}: offsets read back are not 0..n in order"
        );
        assert!(
            list.windows(2).all(|w| w[0].1 < w[1].1),
            "partition {p}: records not in send order: {:?}",
            list.iter().map(|(_, i)| i).collect::<Vec<_>>()
        );
    }
}

#[test]
fn kcat_metadata_lists_broker_and_topic_partitions() {
    let w = Weft::start(&[]);
    let bootstrap = w.bootstrap();
    create_topic(&w, "meta-topic", 3);

    let out = kcat(&["-b", &bootstrap, "-L", "-J", "-t", "meta-topic"], None);
    assert!(out.success, "kcat -L -J failed: {}", out.describe());
    let line = out
        .stdout
        .lines()
        .find(|l| l.trim_start().starts_with('{'))
        .expect("kcat -L -J printed no JSON");
    let md: Value =
        serde_json::from_str(line).unwrap_or_else(|e| panic!("bad kcat JSON {line:?}: {e}"));

    let brokers = md["brokers"].as_array().expect("brokers array");
    assert_eq!(brokers.len(), 1, "exactly one broker expected: {md}");
    let broker_id = brokers[0]["id"].as_i64().expect("broker id");
    assert_eq!(
        brokers[0]["name"].as_str(),
        Some(bootstrap.as_str()),
        "advertised address: {md}"
    );
    assert_eq!(
        md["controllerid"].as_i64(),
        Some(broker_id),
        "the only broker is the controller: {md}"
    );

    let topics = md["topics"].as_array().expect("topics array");
    let topic = topics
        .iter()
        .find(|t| t["topic"] == "meta-topic")
        .unwrap_or_else(|| panic!("meta-topic missing from metadata: {md}"));
    assert!(topic.get("error").is_none(), "topic error: {topic}");
    let partitions = topic["partitions"].as_array().expect("partitions array");
    let ids: BTreeSet<i64> = partitions
        .iter()
        .map(|p| p["partition"].as_i64().unwrap())
        .collect();
    assert_eq!(ids, (0..3).collect(), "partition ids: {topic}");
    for p in partitions {
        assert!(p.get("error").is_none(), "partition error: {p}");
        assert_eq!(p["leader"].as_i64(), Some(broker_id), "leader of {p}");
        let only_broker = serde_json::json!([{ "id": broker_id }]);
        assert_eq!(p["replicas"], only_broker, "replicas of {p}");
        assert_eq!(p["isrs"], only_broker, "ISR of {p}");
    }

    // The plain-text listing of all topics, as people read it.
    let out = kcat(&["-b", &bootstrap, "-L"], None);
    assert!(out.success, "kcat -L failed: {}", out.describe());
    assert!(
        out.stdout.contains("1 brokers:"),
        "kcat -L output:\n{}",
        out.stdout
    );
    assert!(
        out.stdout
            .contains(&format!("broker {broker_id} at {bootstrap}")),
        "kcat -L output:\n{}",
        out.stdout
    );
    assert!(
        out.stdout
            .contains("topic \"meta-topic\" with 3 partitions:"),
        "kcat -L output:\n{}",
        out.stdout
    );
}

#[test]
fn kcat_produce_consume_round_trip_with_keys_and_headers() {
    // Java's murmur2 on the vectors from Kafka's own tests, so the placement check below is trustworthy.
    assert_eq!(common::murmur2(b"21"), -973932308);
    assert_eq!(common::murmur2(b"foobar"), -790332482);
    assert_eq!(common::murmur2(b"a-little-bit-long-string"), -985981536);

    let w = Weft::start(&[]);
    let bootstrap = w.bootstrap();
    let topic = "kcat-roundtrip";
    let partitions = 4;
    create_topic(&w, topic, partitions);

    let n = 400usize;
    let keys = 23usize;
    let input: String = (0..n)
        .map(|i| format!("key-{}:value-{i}:with:colons\n", i % keys))
        .collect();
    let out = kcat(
        &[
            "-b",
            &bootstrap,
            "-P",
            "-t",
            topic,
            "-K:",
            "-H",
            "source=kcat",
            "-H",
            "run=e2e",
            "-X",
            "partitioner=murmur2_random",
        ],
        Some(input.as_bytes()),
    );
    assert!(
        out.success,
        "kcat -P failed: {}\nbroker log:\n{}",
        out.describe(),
        w.log_text()
    );

    let records = kcat_consume_all(&w, topic);
    assert_eq!(records.len(), n, "records read back");
    let mut seen = BTreeSet::new();
    for r in &records {
        let value = r.payload.as_deref().expect("payload");
        let i: usize = value
            .strip_prefix("value-")
            .and_then(|v| v.strip_suffix(":with:colons"))
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("unexpected payload {value:?}"));
        assert!(seen.insert(i), "record {i} read twice");
        let key = format!("key-{}", i % keys);
        assert_eq!(r.key.as_deref(), Some(key.as_str()), "key of record {i}");
        assert_eq!(
            r.partition,
            common::java_partition(key.as_bytes(), partitions),
            "record {i} with key {key} is not on its murmur2 partition"
        );
        assert_eq!(
            r.headers,
            vec![
                ("source".to_string(), "kcat".to_string()),
                ("run".to_string(), "e2e".to_string())
            ],
            "headers of record {i}"
        );
    }
    assert_eq!(
        seen,
        (0..n).collect(),
        "every record read back exactly once"
    );
    let used: BTreeSet<i32> = records.iter().map(|r| r.partition).collect();
    assert_eq!(
        used,
        (0..partitions).collect(),
        "keys spread over all partitions"
    );
    check_partition_order(&records, |r| {
        r.payload.as_deref().unwrap()["value-".len()..]
            .split(':')
            .next()
            .unwrap()
            .parse()
            .unwrap()
    });

    // The broker's own end offsets agree with what was read.
    let ends = end_offsets(&w, topic);
    for p in 0..partitions {
        let count = records.iter().filter(|r| r.partition == p).count() as i64;
        assert_eq!(
            ends.get(&p),
            Some(&count),
            "end offset of partition {p}: {ends:?}"
        );
    }
}

/// A topic's `.log` segment files under the broker's data directory (`<dir>/<topic>-<partition>/*.log`).
fn segment_files(data: &Path, topic: &str) -> Vec<PathBuf> {
    fn walk(dir: &Path, topic: &str, out: &mut Vec<PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for e in entries.flatten() {
            let path = e.path();
            if path.is_dir() {
                walk(&path, topic, out);
            } else if path.extension().is_some_and(|x| x == "log")
                && path
                    .parent()
                    .and_then(|p| p.file_name())
                    .and_then(|n| n.to_str())
                    .and_then(|n| n.strip_prefix(topic))
                    .and_then(|rest| rest.strip_prefix('-'))
                    .is_some_and(|p| p.parse::<u32>().is_ok())
            {
                out.push(path);
            }
        }
    }
    let mut out = Vec::new();
    walk(data, topic, &mut out);
    assert!(
        !out.is_empty(),
        "no .log segment files for {topic} under {}",
        data.display()
    );
    out
}

/// Stored batches per compression codec, as `weft dump-log` (DumpLogSegments) reports them.
fn stored_codecs(data: &Path, topic: &str) -> BTreeMap<String, usize> {
    let mut codecs = BTreeMap::new();
    for (codec, _) in stored_batches(data, topic) {
        *codecs.entry(codec).or_insert(0) += 1;
    }
    codecs
}

/// (codec, record count) of every stored batch of `topic`, as `weft dump-log` reports them.
fn stored_batches(data: &Path, topic: &str) -> Vec<(String, u64)> {
    let mut batches = Vec::new();
    for f in segment_files(data, topic) {
        let path = f.to_string_lossy().to_string();
        let (ok, out, err) = common::weft_cmd(&["dump-log", &path], None);
        assert!(
            ok,
            "weft dump-log {path} failed\nstdout: {out}\nstderr: {err}"
        );
        for line in out.lines() {
            let field = |name: &str| {
                line.split(name)
                    .nth(1)
                    .and_then(|rest| rest.split_whitespace().next())
                    .map(str::to_string)
            };
            if let (Some(codec), Some(count)) = (field("compresscodec: "), field(" count: ")) {
                let count = count
                    .parse()
                    .unwrap_or_else(|_| panic!("dump-log count {count:?} in {line}"));
                batches.push((codec.to_lowercase(), count));
            }
        }
    }
    batches
}

/// Total bytes of a topic's segment files.
fn stored_bytes(data: &Path, topic: &str) -> u64 {
    segment_files(data, topic)
        .iter()
        .map(|f| std::fs::metadata(f).map(|m| m.len()).unwrap_or(0))
        .sum()
}

#[test]
fn kcat_produces_with_every_compression_codec() {
    let w = Weft::start(&[]);
    let bootstrap = w.bootstrap();
    let n = 300usize;
    let filler = "weft-compresses-well-".repeat(50); // ~1 KB, very compressible
    let mut failures = Vec::new();
    for codec in ["gzip", "snappy", "lz4", "zstd"] {
        let topic = format!("kcat-{codec}");
        create_topic(&w, &topic, 2);
        let input: String = (0..n)
            .map(|i| format!("k{}:{codec}-{i}-{filler}\n", i % 7))
            .collect();
        let out = kcat(
            &[
                "-b",
                &bootstrap,
                "-P",
                "-t",
                &topic,
                "-K:",
                "-z",
                codec,
                "-X",
                "linger.ms=100",
            ],
            Some(input.as_bytes()),
        );
        assert!(
            out.success,
            "kcat -P -z {codec} failed: {}\nbroker log:\n{}",
            out.describe(),
            w.log_text()
        );

        let records = kcat_consume_all(&w, &topic);
        assert_eq!(records.len(), n, "{codec}: records read back");
        let mut seen = BTreeSet::new();
        for r in &records {
            let value = r.payload.as_deref().expect("payload");
            let rest = value
                .strip_prefix(&format!("{codec}-"))
                .unwrap_or_else(|| panic!("{codec}: payload {value:?}"));
            let (i, tail) = rest.split_once('-').expect("index");
            let i: usize = i.parse().expect("index");
            assert_eq!(tail, filler, "{codec}: value of record {i} damaged");
            assert_eq!(
                r.key.as_deref(),
                Some(format!("k{}", i % 7).as_str()),
                "{codec}: key of record {i}"
            );
            assert!(seen.insert(i), "{codec}: record {i} read twice");
        }
        assert_eq!(
            seen,
            (0..n).collect(),
            "{codec}: every record read back once"
        );
        check_partition_order(&records, |r| {
            r.payload
                .as_deref()
                .unwrap()
                .split('-')
                .nth(1)
                .unwrap()
                .parse()
                .unwrap()
        });

        // Batches are stored exactly as the producer compressed them. librdkafka silently sends a codec
        // uncompressed when the broker's ApiVersions suggest it cannot take it, so this is checked on disk.
        let codecs = stored_codecs(w.data_dir(), &topic);
        let raw = input.len() as u64;
        let stored = stored_bytes(w.data_dir(), &topic);
        if codecs.keys().any(|c| c != codec) || stored * 4 >= raw {
            failures.push(format!(
                "kcat -z {codec}: stored batches by codec {codecs:?}, {stored} bytes of segments for {raw} bytes of input"
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "batches not stored with the producer's codec:\n{}",
        failures.join("\n")
    );
}

/// Fails loudly when the Debian Python client packages are missing (`.ci/run` installs them).
fn require_python_module(module: &str) {
    let python = Path::new(PYTHON);
    assert!(
        python.is_file(),
        "{PYTHON} is not installed; run .ci/run (it installs python3-confluent-kafka and python3-kafka)"
    );
    let out = run(
        python,
        &["-c", &format!("import {module}")],
        None,
        Duration::from_secs(60),
    );
    assert!(
        out.success,
        "{PYTHON} cannot import {module}; run .ci/run (it installs the Debian package):\n{}",
        out.describe()
    );
}

fn script(name: &str) -> String {
    format!("{}/../../tests/python/{name}", env!("CARGO_MANIFEST_DIR"))
}

/// Runs a round-trip script and returns its `SUMMARY {json}` line, parsed.
fn run_script(w: &Weft, name: &str, args: &[&str]) -> Value {
    let path = script(name);
    let mut all = vec![path.as_str()];
    all.extend_from_slice(args);
    let out = run(Path::new(PYTHON), &all, None, CMD_TIMEOUT);
    assert!(
        out.success,
        "{name} failed: {}\nbroker log:\n{}",
        out.describe(),
        w.log_text()
    );
    let line = out
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("SUMMARY "))
        .unwrap_or_else(|| panic!("{name} printed no SUMMARY line: {}", out.describe()));
    serde_json::from_str(line).unwrap_or_else(|e| panic!("{name}: bad SUMMARY JSON {line:?}: {e}"))
}

/// Checks a script summary's counts and cross-checks its per-partition counts with the broker's end offsets.
fn check_summary(w: &Weft, s: &Value, topic: &str, count: u64, partitions: i32, keys: u64) {
    assert_eq!(s["topic"], topic, "summary: {s}");
    assert_eq!(s["produced"].as_u64(), Some(count), "produced: {s}");
    assert_eq!(s["consumed"].as_u64(), Some(count), "consumed: {s}");
    assert_eq!(s["verified"].as_u64(), Some(count), "verified: {s}");
    assert_eq!(
        s["distinct_keys"].as_u64(),
        Some(keys),
        "distinct keys: {s}"
    );
    assert_eq!(s["headers_per_record"].as_u64(), Some(3), "headers: {s}");
    let used: Vec<i64> = s["partitions_used"]
        .as_array()
        .expect("partitions_used")
        .iter()
        .map(|v| v.as_i64().unwrap())
        .collect();
    assert_eq!(
        used,
        (0..partitions as i64).collect::<Vec<_>>(),
        "partitions used: {s}"
    );
    let per: BTreeMap<i32, i64> = s["per_partition"]
        .as_object()
        .expect("per_partition")
        .iter()
        .map(|(p, n)| (p.parse().unwrap(), n.as_i64().unwrap()))
        .collect();
    assert_eq!(
        per.values().sum::<i64>(),
        count as i64,
        "per-partition counts: {s}"
    );
    assert_eq!(
        end_offsets(w, topic),
        per,
        "broker end offsets vs the script's per-partition counts"
    );
}

/// A batch of this many of the round-trip script's records (repetitive text values) always shrinks
/// when compressed, so librdkafka must send it compressed.
const LARGE_BATCH: u64 = 50;

#[test]
fn python_confluent_kafka_round_trip() {
    require_python_module("confluent_kafka");
    let w = Weft::start(&[]);
    let bootstrap = w.bootstrap();
    let mut codec_failures = Vec::new();
    for compression in ["none", "zstd", "lz4"] {
        let topic = format!("py-confluent-{compression}");
        let topic = topic.as_str();
        let s = run_script(
            &w,
            "confluent_roundtrip.py",
            &[
                "--bootstrap",
                &bootstrap,
                "--topic",
                topic,
                "--count",
                "2000",
                "--partitions",
                "4",
                "--keys",
                "50",
                "--compression",
                compression,
            ],
        );
        assert_eq!(s["client"], "confluent-kafka", "summary: {s}");
        assert_eq!(s["compression"], compression, "summary: {s}");
        check_summary(&w, &s, topic, 2000, 4, 50);
        // What librdkafka promises: batches go out with the configured codec, except that a batch
        // which compressing would not make smaller is sent uncompressed (small batches often are).
        // So no batch carries another codec, batches large enough to compress are compressed, and
        // with a codec configured at least one batch was stored compressed.
        let batches = stored_batches(w.data_dir(), topic);
        let foreign: Vec<_> = batches
            .iter()
            .filter(|(c, _)| c != compression && c != "none")
            .collect();
        let large_uncompressed: Vec<_> = batches
            .iter()
            .filter(|(c, n)| compression != "none" && c == "none" && *n >= LARGE_BATCH)
            .collect();
        let compressed = batches.iter().filter(|(c, _)| c == compression).count();
        if !foreign.is_empty() || !large_uncompressed.is_empty() || compressed == 0 {
            codec_failures.push(format!(
                "compression.type={compression}: stored batches (codec, records) {batches:?}"
            ));
        }
    }
    assert!(
        codec_failures.is_empty(),
        "confluent-kafka batches not stored with the configured codec:\n{}",
        codec_failures.join("\n")
    );
}

#[test]
fn python_kafka_python_round_trip() {
    require_python_module("kafka");
    let w = Weft::start(&[]);
    let bootstrap = w.bootstrap();
    let topic = "py-kafka-python";
    let s = run_script(
        &w,
        "kafka_python_roundtrip.py",
        &[
            "--bootstrap",
            &bootstrap,
            "--topic",
            topic,
            "--count",
            "1500",
            "--partitions",
            "3",
            "--keys",
            "40",
        ],
    );
    assert_eq!(s["client"], "kafka-python", "summary: {s}");
    assert_eq!(s["admin_created"], true, "summary: {s}");
    // The negotiated version comes from the advertised ranges; headers need at least 0.11 (record format v2).
    let negotiated: Vec<u32> = s["negotiated_api_version"]
        .as_str()
        .expect("negotiated_api_version")
        .split('.')
        .map(|x| x.parse().unwrap())
        .collect();
    assert!(
        negotiated >= vec![0, 11],
        "kafka-python negotiated {negotiated:?}: {s}"
    );
    let advertised: BTreeSet<i64> = s["advertised_api_keys"]
        .as_array()
        .expect("advertised_api_keys")
        .iter()
        .map(|v| v.as_i64().unwrap())
        .collect();
    let group_apis = [8, 9, 10, 11, 12, 13, 14];
    let groups = group_apis.iter().all(|k| advertised.contains(k));
    assert_eq!(s["groups"].as_bool(), Some(groups), "summary: {s}");
    assert_eq!(
        s["mode"],
        if groups { "group" } else { "assign" },
        "summary: {s}"
    );
    check_summary(&w, &s, topic, 1500, 3, 40);
    // The first half went uncompressed, the second half gzip-compressed.
    let codecs = stored_codecs(w.data_dir(), topic);
    assert_eq!(
        codecs.keys().map(String::as_str).collect::<Vec<_>>(),
        vec!["gzip", "none"],
        "kafka-python batches by codec: {codecs:?}"
    );
}
