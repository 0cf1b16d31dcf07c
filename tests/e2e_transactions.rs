//! Transactions proved with real clients nobody here wrote, against the real binary: the Java client
//! (kafka-clients 3.9.1 and 4.1.0: commit/abort with read_committed and read_uncommitted readers, a
//! killed producer's transaction aborted by the broker's timeout, fencing by a new producer with the
//! same transactional.id, consume-transform-produce with sendOffsetsToTransaction across repeated
//! kill -9 of the application), Kafka Streams' word count with exactly_once_v2 across a kill -9,
//! confluent-kafka (Debian's python3-confluent-kafka) and franz-go (`tests/go/franztx`).

mod common;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{channel, Receiver};
use std::time::{Duration, Instant};

use common::clients::{self, java, repo_dir, QUIET_JAVA_LOG};
use common::{weft_cmd, Weft};
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::{Offset, TopicPartitionList};
use serde_json::Value;

/// The Debian interpreter that has python3-confluent-kafka (the first `python3` on PATH may not).
const PYTHON: &str = "/usr/bin/python3";

fn create_topic(w: &Weft, topic: &str, partitions: u32) {
    let (ok, out, err) = weft_cmd(
        &[
            "topics",
            "create",
            topic,
            "--partitions",
            &partitions.to_string(),
            "-b",
            &w.bootstrap(),
        ],
        None,
    );
    assert!(ok, "create {topic}: {out}{err}");
}

/// tests/java built for kafka-clients and kafka-streams `version`: its class path.
fn java_classpath(version: &str) -> String {
    clients::java_classpath(version, &["kafka-clients", "kafka-streams"])
}

/// A Java process whose stdout lines arrive on a channel.
struct JavaChild {
    child: Child,
    lines: Receiver<String>,
}

impl JavaChild {
    fn spawn(cp: &str, class: &str, args: &[&str]) -> JavaChild {
        let mut child = Command::new("java")
            .args(["-cp", cp, QUIET_JAVA_LOG, class])
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("run java");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, lines) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        JavaChild { child, lines }
    }

    /// Waits for a line `pred` accepts; fails if the process ends first or the deadline passes.
    fn wait_line(&mut self, what: &str, timeout: Duration, pred: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) if pred(&line) => return line,
                Ok(_) => {}
                Err(e) => panic!(
                    "waiting for {what}: {e} (process status {:?})",
                    self.child.try_wait()
                ),
            }
        }
    }

    fn kill9(&mut self) {
        // Child::kill sends SIGKILL on Unix: the JVM gets no chance to end its transaction.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for JavaChild {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// `value <v>` lines of a TxClient reader.
fn values(out: &str) -> Vec<String> {
    out.lines()
        .filter_map(|l| l.strip_prefix("value "))
        .map(str::to_string)
        .collect()
}

/// What TxClient commit-abort (and the Python and Go programs) send: (every value, committed values).
fn commit_abort_expected(transactions: usize, partitions: usize) -> (Vec<String>, Vec<String>) {
    let (mut all, mut committed) = (Vec::new(), Vec::new());
    for t in 0..transactions {
        let batch: Vec<String> = (0..10).map(|i| format!("t{t}-r{i}")).collect();
        if t % 2 == 0 {
            committed.extend(batch.clone());
        }
        all.extend(batch);
    }
    let sentinels: Vec<String> = (0..partitions).map(|p| format!("sentinel-{p}")).collect();
    all.extend(sentinels.clone());
    committed.extend(sentinels);
    (all, committed)
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

fn java_commit_abort(version: &'static str) {
    let cp = java_classpath(version);
    let w = Weft::start(&[]);
    let topic = "tx-java";
    create_topic(&w, topic, 3);
    let b = w.bootstrap();
    let out = java(
        &cp,
        "weft.TxClient",
        &["commit-abort", &b, topic, "tx-java-1", "10", "3"],
    );
    assert!(out.contains("done"), "{out}");
    let (all, committed) = commit_abort_expected(10, 3);
    let rc = values(&java(
        &cp,
        "weft.TxClient",
        &["read", &b, topic, "read_committed", "3"],
    ));
    assert_eq!(
        sorted(rc),
        sorted(committed),
        "read_committed sees exactly the committed records"
    );
    let ru = values(&java(
        &cp,
        "weft.TxClient",
        &["read", &b, topic, "read_uncommitted", "3"],
    ));
    assert_eq!(
        sorted(ru),
        sorted(all),
        "read_uncommitted sees every record"
    );
}

#[test]
fn java_3_9_commits_and_aborts_read_committed_sees_only_committed() {
    java_commit_abort("3.9.1");
}

#[test]
fn java_4_1_commits_and_aborts_read_committed_sees_only_committed() {
    java_commit_abort("4.1.0");
}

#[test]
fn java_killed_producer_is_aborted_by_timeout_and_a_new_one_fences_the_old() {
    let cp = java_classpath("3.9.1");
    let w = Weft::start(&[]);
    let topic = "tx-java-hang";
    create_topic(&w, topic, 3);
    let b = w.bootstrap();

    // A producer with a 5 s transaction timeout opens a transaction, writes, and is killed with -9.
    let mut hang = JavaChild::spawn(
        &cp,
        "weft.TxClient",
        &["hang", &b, topic, "tx-hang", "5000"],
    );
    hang.wait_line("the open transaction", Duration::from_secs(120), |l| {
        l == "open"
    });
    hang.kill9();
    // Another producer commits a sentinel into every partition. read_committed readers reach the one in
    // partition 0 only once the open transaction before it is aborted, which only the broker's
    // timeout can do (nobody reuses tx-hang).
    let out = java(
        &cp,
        "weft.TxClient",
        &["commit-abort", &b, topic, "tx-after", "0", "3"],
    );
    assert!(out.contains("done"), "{out}");
    let rc = values(&java(
        &cp,
        "weft.TxClient",
        &["read", &b, topic, "read_committed", "3"],
    ));
    assert_eq!(
        sorted(rc),
        vec!["sentinel-0", "sentinel-1", "sentinel-2"],
        "the killed producer's records are aborted"
    );
    let ru = values(&java(
        &cp,
        "weft.TxClient",
        &["read", &b, topic, "read_uncommitted", "3"],
    ));
    assert_eq!(
        ru.iter().filter(|v| v.starts_with("open-")).count(),
        5,
        "{ru:?}"
    );

    // Fencing: B initialises the same transactional.id while A's transaction is open.
    let out = java(&cp, "weft.TxClient", &["fence", &b, topic, "tx-fence"]);
    assert!(
        out.contains("fenced org.apache.kafka.common.errors.ProducerFencedException"),
        "the old producer must get ProducerFencedException: {out}"
    );
}

#[test]
fn java_fenced_producer_writes_are_not_visible() {
    let cp = java_classpath("4.1.0");
    let w = Weft::start(&[]);
    let topic = "tx-java-fence";
    create_topic(&w, topic, 1);
    let b = w.bootstrap();
    let out = java(&cp, "weft.TxClient", &["fence", &b, topic, "tx-fence"]);
    assert!(out.starts_with("fenced "), "Kafka 4.1 client: {out}");
    let out = java(
        &cp,
        "weft.TxClient",
        &["read-to-end", &b, topic, "read_committed"],
    );
    assert_eq!(
        values(&out),
        vec!["fresh"],
        "only the new producer's commit is visible"
    );
}

/// Produces `n` records `in-<i>` (keys k<i%50>) with librdkafka, non-transactionally.
fn produce_plain(w: &Weft, topic: &str, n: usize) -> Vec<String> {
    let p: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", w.bootstrap())
        .set("linger.ms", "5")
        .create()
        .expect("producer");
    let mut out = Vec::new();
    for i in 0..n {
        let v = format!("in-{i}");
        let k = format!("k{}", i % 50);
        p.send(BaseRecord::to(topic).key(&k).payload(&v))
            .expect("enqueue");
        p.poll(Duration::ZERO);
        out.push(v);
    }
    p.flush(Duration::from_secs(60)).expect("flush");
    out
}

#[test]
fn java_consume_transform_produce_is_exactly_once_across_app_kills() {
    let cp = java_classpath("3.9.1");
    let w = Weft::start(&["group.initial.rebalance.delay.ms=0"]);
    let (input, output) = ("ctp-in", "ctp-out");
    create_topic(&w, input, 3);
    create_topic(&w, output, 3);
    let inputs = produce_plain(&w, input, 5000);
    let b = w.bootstrap();
    let args = ["ctp", b.as_str(), input, output, "ctp-group", "ctp-tx"];
    // Kill the app with -9 three times after it has committed some progress, then let it finish.
    for round in 0..3 {
        let mut app = JavaChild::spawn(&cp, "weft.TxClient", &args);
        let line = app.wait_line("progress", Duration::from_secs(120), |l| {
            l.starts_with("progress ") || l == "caught-up"
        });
        assert_ne!(
            line, "caught-up",
            "round {round}: the app finished before it could be killed"
        );
        app.kill9();
    }
    let out = java(&cp, "weft.TxClient", &args);
    assert!(out.lines().any(|l| l == "caught-up"), "{out}");
    let got = values(&java(
        &cp,
        "weft.TxClient",
        &["read-to-end", &b, output, "read_committed"],
    ));
    let expected: Vec<String> = inputs.iter().map(|v| format!("out-{v}")).collect();
    let mut dupes: BTreeMap<&str, usize> = BTreeMap::new();
    for v in &got {
        *dupes.entry(v.as_str()).or_default() += 1;
    }
    dupes.retain(|_, n| *n > 1);
    assert!(dupes.is_empty(), "records written twice: {dupes:?}");
    assert_eq!(
        sorted(got),
        sorted(expected),
        "every input exactly once in the output"
    );
}

/// Latest count per word in the word-count output, read with read_committed from the start until
/// `expected` is reached or the deadline passes. Fails if any count ever exceeds the expected one.
fn await_word_counts(w: &Weft, topic: &str, expected: &BTreeMap<String, i64>, timeout: Duration) {
    let c: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", w.bootstrap())
        .set("group.id", "wordcount-check")
        .set("isolation.level", "read_committed")
        .set("enable.auto.commit", "false")
        .create()
        .expect("consumer");
    let mut tpl = TopicPartitionList::new();
    for p in 0..3 {
        tpl.add_partition_offset(topic, p, Offset::Beginning)
            .expect("partition");
    }
    c.assign(&tpl).expect("assign");
    let mut latest: BTreeMap<String, i64> = BTreeMap::new();
    let deadline = Instant::now() + timeout;
    while &latest != expected {
        assert!(
            Instant::now() < deadline,
            "word counts did not converge: got {latest:?}, want {expected:?}"
        );
        match c.poll(Duration::from_millis(500)) {
            Some(Ok(m)) => {
                let word = String::from_utf8_lossy(m.key().unwrap_or_default()).to_string();
                let bytes: [u8; 8] = m
                    .payload()
                    .and_then(|p| p.try_into().ok())
                    .unwrap_or_else(|| panic!("count for {word} is not a Long"));
                let n = i64::from_be_bytes(bytes);
                let want = expected.get(&word).copied().unwrap_or(0);
                assert!(n <= want, "{word} counted {n} times, only {want} were sent");
                latest.insert(word, n);
            }
            Some(Err(e)) => eprintln!("word-count reader (retrying): {e}"),
            None => {}
        }
    }
}

fn produce_lines(w: &Weft, topic: &str, lines: &[String]) {
    let p: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", w.bootstrap())
        .create()
        .expect("producer");
    for (i, l) in lines.iter().enumerate() {
        let k = format!("line-{i}");
        p.send(BaseRecord::to(topic).key(&k).payload(l))
            .expect("enqueue");
        p.poll(Duration::ZERO);
    }
    p.flush(Duration::from_secs(60)).expect("flush");
}

#[test]
fn kafka_streams_word_count_exactly_once_v2_survives_kill9() {
    let cp = java_classpath("3.9.1");
    let w = Weft::start(&["group.initial.rebalance.delay.ms=0"]);
    let (input, output) = ("streams-plaintext-input", "streams-wordcount-output");
    create_topic(&w, input, 3);
    create_topic(&w, output, 3);
    let words = [
        "kafka", "weft", "streams", "exactly", "once", "hello", "world",
    ];
    let make = |from: usize, to: usize| -> Vec<String> {
        (from..to)
            .map(|i| {
                (0..5)
                    .map(|j| words[(i * 3 + j * 5) % words.len()])
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .collect()
    };
    let mut expected: BTreeMap<String, i64> = BTreeMap::new();
    let mut add = |lines: &[String]| {
        for l in lines {
            for word in l.split(' ') {
                *expected.entry(word.to_string()).or_default() += 1;
            }
        }
    };
    let state = tempfile::tempdir().expect("state dir");
    let state_dir = state.path().display().to_string();
    let args = [
        w.bootstrap(),
        "wordcount-eos".to_string(),
        state_dir,
        input.to_string(),
        output.to_string(),
    ];
    let args: Vec<&str> = args.iter().map(String::as_str).collect();

    let first = make(0, 2000);
    produce_lines(&w, input, &first);
    add(&first);
    let mut app = JavaChild::spawn(&cp, "weft.WordCount", &args);
    app.wait_line("RUNNING", Duration::from_secs(180), |l| {
        l == "state RUNNING"
    });
    // Killed while it works through the first lines (the first committed count shows it has started).
    await_first_output(&w, output);
    app.kill9();
    let second = make(2000, 3000);
    produce_lines(&w, input, &second);
    add(&second);
    let mut app = JavaChild::spawn(&cp, "weft.WordCount", &args);
    app.wait_line("RUNNING", Duration::from_secs(180), |l| {
        l == "state RUNNING"
    });
    let third = make(3000, 3500);
    produce_lines(&w, input, &third);
    add(&third);
    await_word_counts(&w, output, &expected, Duration::from_secs(240));
    app.kill9();
}

/// Waits until the output topic has a committed record.
fn await_first_output(w: &Weft, topic: &str) {
    let c: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", w.bootstrap())
        .set("group.id", "wordcount-first")
        .set("isolation.level", "read_committed")
        .set("auto.offset.reset", "earliest")
        .create()
        .expect("consumer");
    c.subscribe(&[topic]).expect("subscribe");
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        assert!(
            Instant::now() < deadline,
            "no word count was committed in 180 s"
        );
        if let Some(Ok(_)) = c.poll(Duration::from_millis(200)) {
            return;
        }
    }
}

#[test]
fn confluent_kafka_commits_and_aborts_read_committed_sees_only_committed() {
    assert!(
        Path::new(PYTHON).is_file(),
        "{PYTHON} is missing; run .ci/run (it installs python3-confluent-kafka)"
    );
    let w = Weft::start(&[]);
    let topic = "tx-confluent";
    create_topic(&w, topic, 3);
    let out = Command::new(PYTHON)
        .arg(repo_dir("tests/python/confluent_transactions.py"))
        .args(["--bootstrap", &w.bootstrap(), "--topic", topic])
        .args([
            "--partitions",
            "3",
            "--txid",
            "tx-confluent-1",
            "--transactions",
            "10",
        ])
        .output()
        .expect("run python");
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "confluent_transactions.py failed:\n{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let summary: Value = stdout
        .lines()
        .find_map(|l| l.strip_prefix("SUMMARY "))
        .and_then(|j| serde_json::from_str(j).ok())
        .unwrap_or_else(|| panic!("no SUMMARY line: {stdout}"));
    check_summary(&summary, 10, 3);
}

/// Checks a `{produced, committed, read_committed, read_uncommitted}` summary against what
/// commit_abort_expected says was sent.
fn check_summary(summary: &Value, transactions: usize, partitions: usize) {
    let list = |k: &str| -> Vec<String> {
        summary[k]
            .as_array()
            .unwrap_or_else(|| panic!("{k} missing: {summary}"))
            .iter()
            .map(|v| v.as_str().unwrap_or_default().to_string())
            .collect()
    };
    let (all, committed) = commit_abort_expected(transactions, partitions);
    assert_eq!(sorted(list("produced")), sorted(all.clone()));
    assert_eq!(sorted(list("committed")), sorted(committed.clone()));
    assert_eq!(
        sorted(list("read_committed")),
        sorted(committed),
        "read_committed"
    );
    assert_eq!(
        sorted(list("read_uncommitted")),
        sorted(all),
        "read_uncommitted"
    );
}

fn franz(args: &[&str]) -> Value {
    clients::run_json(&clients::go_program("franztx"), args)
}

#[test]
fn franz_go_produces_idempotently_and_transactionally_and_reads_committed() {
    let w = Weft::start(&[]);
    let b = w.bootstrap();
    create_topic(&w, "franz-idem", 3);
    let out = franz(&["idempotent", "-b", &b, "-topic", "franz-idem", "-n", "5000"]);
    let got: Vec<String> = out["values"]
        .as_array()
        .expect("values")
        .iter()
        .map(|v| v.as_str().unwrap_or_default().to_string())
        .collect();
    let expected: Vec<String> = (0..5000).map(|i| format!("v{i}")).collect();
    assert_eq!(
        sorted(got),
        sorted(expected),
        "idempotent records, each once"
    );

    create_topic(&w, "franz-tx", 3);
    let out = franz(&[
        "transactions",
        "-b",
        &b,
        "-topic",
        "franz-tx",
        "-partitions",
        "3",
        "-txid",
        "franz-tx-1",
        "-transactions",
        "10",
    ]);
    check_summary(&out, 10, 3);
}
