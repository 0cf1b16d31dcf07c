//! The transaction coordinator against the real `weft` binary with confluent-kafka (librdkafka) in
//! Python (`tests/python/txn_coordinator.py`): commits and aborts across 3 partitions, the timeout
//! abort of a killed producer's transaction, fencing by a second producer, coordinator state across
//! a kill -9 of the broker, sendOffsetsToTransaction, and `weft transactions list|describe`.

mod common;
mod wire;

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use common::{weft_cmd, Weft};
use kafka_protocol::messages::add_partitions_to_txn_request::{
    AddPartitionsToTxnTopic, AddPartitionsToTxnTransaction,
};
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::{
    AddPartitionsToTxnRequest, AddPartitionsToTxnResponse, ApiKey, EndTxnRequest, EndTxnResponse,
    InitProducerIdRequest, InitProducerIdResponse, ProduceRequest, ProduceResponse, ProducerId,
    TopicName, TransactionalId,
};
use kafka_protocol::records::{
    Compression, Record, RecordBatchEncoder, RecordEncodeOptions, TimestampType,
};
use serde_json::Value;
use wire::{s, Conn};

/// The Debian interpreter that has python3-confluent-kafka.
const PYTHON: &str = "/usr/bin/python3";
const DEADLINE: Duration = Duration::from_secs(120);

fn script() -> String {
    format!(
        "{}/../../tests/python/txn_coordinator.py",
        env!("CARGO_MANIFEST_DIR")
    )
}

/// Fails loudly when the Debian Python client is missing (`.ci/run` installs it).
fn require_confluent_kafka() {
    assert!(
        Path::new(PYTHON).is_file(),
        "{PYTHON} is not installed; run .ci/run (it installs python3-confluent-kafka)"
    );
    let ok = Command::new(PYTHON)
        .args(["-c", "import confluent_kafka"])
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        ok,
        "{PYTHON} cannot import confluent_kafka; run .ci/run (it installs python3-confluent-kafka)"
    );
}

/// A running scenario: its stdin, and its stdout lines as they arrive.
struct Scenario {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: mpsc::Receiver<String>,
    seen: Vec<String>,
    stderr: std::sync::Arc<std::sync::Mutex<String>>,
}

impl Scenario {
    fn spawn(w: &Weft, scenario: &str, args: &[&str]) -> Scenario {
        let bootstrap = w.bootstrap();
        let path = script();
        let mut all = vec![path.as_str(), scenario, "--bootstrap", bootstrap.as_str()];
        all.extend_from_slice(args);
        let mut child = Command::new(PYTHON)
            .args(&all)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn python");
        let stdout = child.stdout.take().expect("stdout");
        let stderr = child.stderr.take().expect("stderr");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for l in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = tx.send(l);
            }
        });
        let err = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        let err2 = err.clone();
        std::thread::spawn(move || {
            for l in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Ok(mut e) = err2.lock() {
                    e.push_str(&l);
                    e.push('\n');
                }
            }
        });
        Scenario {
            stdin: child.stdin.take(),
            child,
            lines,
            seen: Vec::new(),
            stderr: err,
        }
    }

    fn stderr(&self) -> String {
        self.stderr.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// Waits for a stdout line starting with `prefix`; returns the rest of it.
    fn wait_line(&mut self, prefix: &str, w: &Weft) -> String {
        let deadline = Instant::now() + DEADLINE;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(l) => {
                    self.seen.push(l.clone());
                    if let Some(rest) = l.strip_prefix(prefix) {
                        return rest.trim().to_string();
                    }
                }
                Err(_) => panic!(
                    "the scenario never printed {prefix:?}; stdout {:?}\nstderr:\n{}\nbroker log:\n{}",
                    self.seen,
                    self.stderr(),
                    w.log_text()
                ),
            }
        }
    }

    fn send(&mut self, line: &str) {
        let stdin = self.stdin.as_mut().expect("stdin");
        writeln!(stdin, "{line}").expect("write to the scenario");
        stdin.flush().expect("flush");
    }

    /// Waits for the SUMMARY line and a successful exit.
    fn summary(mut self, w: &Weft) -> Value {
        let line = self.wait_line("SUMMARY ", w);
        let status = self.child.wait().expect("wait python");
        assert!(status.success(), "scenario failed: {}", self.stderr());
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("bad SUMMARY {line:?}: {e}"))
    }

    fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Scenario {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn run_scenario(w: &Weft, scenario: &str, args: &[&str]) -> Value {
    Scenario::spawn(w, scenario, args).summary(w)
}

/// `weft transactions ARGS` against the broker; panics with the output if it fails.
fn transactions(w: &Weft, args: &[&str]) -> String {
    let bootstrap = w.bootstrap();
    let mut all = vec!["transactions", "-b", bootstrap.as_str()];
    all.extend_from_slice(args);
    let (ok, out, err) = weft_cmd(&all, None);
    assert!(ok, "weft {all:?} failed: {err}\n{out}");
    out
}

/// `weft transactions describe` as column name -> value.
fn describe(w: &Weft, tid: &str) -> std::collections::BTreeMap<String, String> {
    let out = transactions(w, &["describe", "--transactional-id", tid]);
    let mut lines = out.lines();
    let header: Vec<&str> = lines.next().expect("header").split('\t').collect();
    let row: Vec<&str> = lines.next().expect("row").split('\t').collect();
    assert_eq!(
        header.len(),
        9,
        "columns of kafka-transactions.sh describe: {out}"
    );
    header
        .iter()
        .zip(row.iter().chain(std::iter::repeat(&"")))
        .map(|(h, v)| (h.trim().to_string(), v.trim().to_string()))
        .collect()
}

/// Polls `describe` until `pred` holds (the coordinator acts on its own timer).
fn wait_describe(
    w: &Weft,
    tid: &str,
    what: &str,
    pred: impl Fn(&std::collections::BTreeMap<String, String>) -> bool,
) -> std::collections::BTreeMap<String, String> {
    let deadline = Instant::now() + DEADLINE;
    loop {
        let d = describe(w, tid);
        if pred(&d) {
            return d;
        }
        assert!(
            Instant::now() < deadline,
            "{what} never happened; last describe: {d:?}\nbroker log:\n{}",
            w.log_text()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .expect("array")
        .iter()
        .map(|s| s.as_str().expect("string").to_string())
        .collect()
}

#[test]
fn commits_and_aborts_across_three_partitions() {
    require_confluent_kafka();
    let w = Weft::start(&[]);
    let s = run_scenario(
        &w,
        "commit-abort",
        &[
            "--topic",
            "ca",
            "--tid",
            "ca-tx",
            "--count",
            "30",
            "--transactions",
            "9",
        ],
    );
    // Transactions 2, 5 and 8 are aborted.
    assert_eq!(s["committed"], 180, "{s}");
    assert_eq!(s["aborted"], 90, "{s}");
    assert_eq!(s["read_committed"], 180, "{s}");
    assert_eq!(s["read_uncommitted"], 270, "{s}");
    let d = describe(&w, "ca-tx");
    // The last of the nine (number 8) was aborted.
    assert_eq!(d["TransactionState"], "CompleteAbort", "{d:?}");
    assert_eq!(d["ProducerEpoch"], "0", "{d:?}");
    let list = transactions(&w, &["list"]);
    let header = list.lines().next().unwrap_or_default();
    assert_eq!(
        header.split('\t').map(str::trim).collect::<Vec<_>>(),
        [
            "TransactionalId",
            "Coordinator",
            "ProducerId",
            "TransactionState"
        ],
        "{list}"
    );
    let row = list
        .lines()
        .find(|l| l.starts_with("ca-tx"))
        .unwrap_or_else(|| panic!("ca-tx not listed:\n{list}"));
    let cells: Vec<&str> = row.split('\t').map(str::trim).collect();
    assert_eq!(cells[1], "1", "coordinator is this node: {row}");
    assert_eq!(cells[2], d["ProducerId"], "{row}");
    assert_eq!(cells[3], "CompleteAbort", "{row}");
}

#[test]
fn a_killed_producers_transaction_is_aborted_by_its_timeout() {
    require_confluent_kafka();
    let w = Weft::start(&["transaction.abort.timed.out.transaction.cleanup.interval.ms=200"]);
    let mut open = Scenario::spawn(
        &w,
        "open",
        &[
            "--topic",
            "to",
            "--tid",
            "to-tx",
            "--count",
            "12",
            "--timeout-ms",
            "3000",
        ],
    );
    open.wait_line("OPEN", &w);
    let d = describe(&w, "to-tx");
    assert_eq!(d["TransactionState"], "Ongoing", "{d:?}");
    assert_eq!(d["ProducerEpoch"], "0", "{d:?}");
    assert_eq!(d["TransactionTimeoutMs"], "3000", "{d:?}");
    assert_eq!(d["TopicPartitions"], "to-0,to-1,to-2", "{d:?}");
    let pid = d["ProducerId"].clone();
    open.kill9();
    let d = wait_describe(&w, "to-tx", "the timeout abort", |d| {
        d["TransactionState"] == "CompleteAbort"
    });
    // The epoch was bumped so the stuck producer is fenced; the producer id is kept.
    assert_eq!(d["ProducerEpoch"], "1", "{d:?}");
    assert_eq!(d["ProducerId"], pid, "{d:?}");
    assert!(
        w.log_text()
            .contains("aborting a transaction that exceeded its timeout"),
        "{}",
        w.log_text()
    );
    let s = run_scenario(&w, "read", &["--topic", "to"]);
    assert_eq!(strings(&s["read_committed"]).len(), 0, "{s}");
    assert_eq!(strings(&s["read_uncommitted"]).len(), 12, "{s}");
}

#[test]
fn a_second_producer_with_the_same_id_fences_the_first() {
    require_confluent_kafka();
    let w = Weft::start(&[]);
    let s = run_scenario(
        &w,
        "fence",
        &["--topic", "fe", "--tid", "fe-tx", "--count", "9"],
    );
    let name = s["fenced"]["name"].as_str().unwrap_or_default();
    assert!(
        ["_FENCED", "PRODUCER_FENCED", "INVALID_PRODUCER_EPOCH"].contains(&name),
        "the zombie got {s}"
    );
    assert_eq!(s["fenced"]["fatal"], true, "{s}");
    assert_eq!(s["read_committed"], 9, "{s}");
    let d = describe(&w, "fe-tx");
    assert_eq!(d["TransactionState"], "CompleteCommit", "{d:?}");
    // Epoch 0 (first), 1 (the fence's abort), 2 (the second producer).
    assert_eq!(d["ProducerEpoch"], "2", "{d:?}");
}

#[test]
fn coordinator_state_survives_a_broker_kill9_mid_transaction() {
    require_confluent_kafka();
    let mut w = Weft::start(&[]);
    let mut open = Scenario::spawn(
        &w,
        "open",
        &[
            "--topic",
            "k9",
            "--tid",
            "k9-tx",
            "--count",
            "15",
            "--timeout-ms",
            "120000",
        ],
    );
    open.wait_line("OPEN", &w);
    let before = describe(&w, "k9-tx");
    assert_eq!(before["TransactionState"], "Ongoing", "{before:?}");
    w.kill9();
    w.restart();
    assert!(
        w.wait_for_log("loaded transaction state", Duration::from_secs(30)),
        "{}",
        w.log_text()
    );
    let after = describe(&w, "k9-tx");
    for col in [
        "TransactionState",
        "ProducerId",
        "ProducerEpoch",
        "TopicPartitions",
        "CurrentTransactionStartTimeMs",
        "TransactionTimeoutMs",
    ] {
        assert_eq!(before[col], after[col], "{col} after kill -9: {after:?}");
    }
    // The same producer, reconnected, commits the transaction it began before the crash.
    open.send("commit");
    let s = open.summary(&w);
    assert_eq!(s["ended"], "commit", "{s}");
    let d = describe(&w, "k9-tx");
    assert_eq!(d["TransactionState"], "CompleteCommit", "{d:?}");
    let s = run_scenario(&w, "read", &["--topic", "k9"]);
    assert_eq!(strings(&s["read_committed"]).len(), 15, "{s}");
    // And that state survives a second crash too.
    w.kill9();
    w.restart();
    let d = describe(&w, "k9-tx");
    assert_eq!(d["TransactionState"], "CompleteCommit", "{d:?}");
}

#[test]
fn send_offsets_to_transaction_is_visible_only_after_commit() {
    require_confluent_kafka();
    let mut w = Weft::start(&[]);
    let s = run_scenario(
        &w,
        "send-offsets",
        &["--topic", "so", "--tid", "so-tx", "--count", "60"],
    );
    assert_eq!(s["output"], 60, "{s}");
    let positions = s["positions"].clone();
    // The committed offsets are replayed from __consumer_offsets (markers honoured) after kill -9.
    w.kill9();
    w.restart();
    let bootstrap = w.bootstrap();
    let (ok, out, err) = weft_cmd(
        &["groups", "-b", bootstrap.as_str(), "describe", "so-group"],
        None,
    );
    assert!(ok, "{err}");
    for p in 0..3 {
        let want = positions[p.to_string()].as_i64().expect("position");
        let line = out
            .lines()
            .find(|l| {
                let c: Vec<&str> = l.split_whitespace().collect();
                c.len() > 3 && c[1] == "so-in" && c[2] == p.to_string()
            })
            .unwrap_or_else(|| panic!("so-in {p} not described:\n{out}"));
        assert!(
            line.split_whitespace().nth(3) == Some(want.to_string().as_str()),
            "partition {p} committed offset after restart, want {want}: {line}\n{out}"
        );
    }
}

/// A crash between the PrepareCommit record and the markers: the broker is killed with a
/// transaction open, the PrepareCommit record EndTxn would have written is appended to
/// `__transaction_state` through the log API while it is down, and the restarted coordinator
/// writes the markers and completes the commit on its own.
#[test]
fn a_transaction_prepared_at_a_crash_is_completed_after_restart() {
    require_confluent_kafka();
    let mut w = Weft::start(&[]);
    let tid = "pc-tx";
    let mut open = Scenario::spawn(
        &w,
        "open",
        &[
            "--topic",
            "pc",
            "--tid",
            tid,
            "--count",
            "12",
            "--timeout-ms",
            "120000",
        ],
    );
    open.wait_line("OPEN", &w);
    let d = describe(&w, tid);
    assert_eq!(d["TransactionState"], "Ongoing", "{d:?}");
    open.kill9();
    w.kill9();

    let pid: i64 = d["ProducerId"].parse().expect("producer id");
    let start: i64 = d["CurrentTransactionStartTimeMs"].parse().expect("start");
    let now = start + 1;
    let mut m = weft_broker::txn::TxnMetadata::new(tid, pid, 120_000, now);
    m.producer_epoch = 0;
    m.state = weft_broker::txn::TxnState::PrepareCommit;
    m.start_ms = start;
    m.partitions = (0..3).map(|p| ("pc".to_string(), p)).collect();
    let batch = weft_broker::txn::log::encode_batch(tid, Some(&m), now).expect("encode");
    let p = weft_broker::txn::log::partition_for(tid, 50);
    let dir = w.data_dir().join(format!("__transaction_state-{p}"));
    let (mut log, _) = weft_log::Log::open(&dir, weft_log::LogConfig::default()).expect("open");
    log.append(&batch, -1, now).expect("append PrepareCommit");
    log.close().expect("close");

    w.restart();
    let d = wait_describe(&w, tid, "the completion of the prepared commit", |d| {
        d["TransactionState"] == "CompleteCommit"
    });
    assert_eq!(d["ProducerId"], pid.to_string(), "{d:?}");
    assert!(
        w.log_text().contains("completing a prepared transaction"),
        "{}",
        w.log_text()
    );
    let s = run_scenario(&w, "read", &["--topic", "pc"]);
    assert_eq!(strings(&s["read_committed"]).len(), 12, "{s}");
}

const INVALID_TXN_STATE: i16 = 48;
const INVALID_PRODUCER_EPOCH: i16 = 47;
const PRODUCER_FENCED: i16 = 90;
const TRANSACTION_ABORTABLE: i16 = 120;
const INVALID_TRANSACTION_TIMEOUT: i16 = 50;

/// One transactional batch of `n` records from producer `pid` / `epoch`, sequences from `seq`.
fn txn_batch(pid: i64, epoch: i16, seq: i32, n: i32) -> Bytes {
    let records: Vec<Record> = (0..n)
        .map(|i| Record {
            transactional: true,
            control: false,
            delete_horizon: false,
            partition_leader_epoch: -1,
            producer_id: pid,
            producer_epoch: epoch,
            timestamp_type: TimestampType::Creation,
            offset: i64::from(i),
            sequence: seq + i,
            timestamp: 1_700_000_000_000,
            key: None,
            value: Some(Bytes::from(format!("v{i}"))),
            headers: Default::default(),
        })
        .collect();
    let mut buf = BytesMut::new();
    RecordBatchEncoder::encode(
        &mut buf,
        records.iter(),
        &RecordEncodeOptions {
            version: 2,
            compression: Compression::None,
        },
    )
    .expect("encode");
    buf.freeze()
}

fn produce_txn(c: &mut Conn, version: i16, tid: &str, topic: &str, p: i32, batch: Bytes) -> i16 {
    let req = ProduceRequest::default()
        .with_transactional_id(Some(TransactionalId(s(tid))))
        .with_acks(-1)
        .with_timeout_ms(30_000)
        .with_topic_data(vec![TopicProduceData::default()
            .with_name(TopicName(s(topic)))
            .with_partition_data(vec![PartitionProduceData::default()
                .with_index(p)
                .with_records(Some(batch))])]);
    let resp: ProduceResponse = c.call(ApiKey::Produce, version, &req);
    resp.responses[0].partition_responses[0].error_code
}

fn init(c: &mut Conn, version: i16, tid: &str) -> (i64, i16) {
    let req = InitProducerIdRequest::default()
        .with_transactional_id(Some(TransactionalId(s(tid))))
        .with_transaction_timeout_ms(60_000)
        .with_producer_id(ProducerId(-1))
        .with_producer_epoch(-1);
    let r: InitProducerIdResponse = c.call(ApiKey::InitProducerId, version, &req);
    assert_eq!(r.error_code, 0, "InitProducerId v{version}");
    (r.producer_id.0, r.producer_epoch)
}

fn add_partition(c: &mut Conn, tid: &str, pid: i64, epoch: i16, topic: &str, p: i32) -> i16 {
    let req = AddPartitionsToTxnRequest::default()
        .with_v3_and_below_transactional_id(TransactionalId(s(tid)))
        .with_v3_and_below_producer_id(ProducerId(pid))
        .with_v3_and_below_producer_epoch(epoch)
        .with_v3_and_below_topics(vec![AddPartitionsToTxnTopic::default()
            .with_name(TopicName(s(topic)))
            .with_partitions(vec![p])]);
    let r: AddPartitionsToTxnResponse = c.call(ApiKey::AddPartitionsToTxn, 3, &req);
    r.results_by_topic_v3_and_below[0].results_by_partition[0].partition_error_code
}

/// KIP-890 part 1 and fencing on the wire: a transactional batch for a partition the producer never
/// added is refused (TRANSACTION_ABORTABLE for produce v11+, INVALID_TXN_STATE before, as Kafka
/// 3.6+), AddPartitionsToTxn v4's `verify_only` answers from the coordinator, and after a second
/// InitProducerId the old epoch is fenced everywhere (INVALID_PRODUCER_EPOCH on produce and EndTxn
/// v1, PRODUCER_FENCED on EndTxn v2+).
#[test]
fn unadded_partitions_and_old_epochs_are_refused_on_the_wire() {
    let w = Weft::start(&[]);
    let (ok, out, err) = weft_cmd(
        &[
            "topics",
            "create",
            "wv",
            "--partitions",
            "2",
            "-b",
            &w.bootstrap(),
        ],
        None,
    );
    assert!(ok, "{out}{err}");
    let mut c = Conn::open(&w.bootstrap());
    let tid = "wire-tx";
    // transaction.max.timeout.ms (900000 by default) bounds the producer's timeout.
    let too_long = InitProducerIdRequest::default()
        .with_transactional_id(Some(TransactionalId(s(tid))))
        .with_transaction_timeout_ms(900_001)
        .with_producer_id(ProducerId(-1))
        .with_producer_epoch(-1);
    let r: InitProducerIdResponse = c.call(ApiKey::InitProducerId, 4, &too_long);
    assert_eq!(r.error_code, INVALID_TRANSACTION_TIMEOUT);
    let (pid, epoch) = init(&mut c, 4, tid);
    assert_eq!(add_partition(&mut c, tid, pid, epoch, "wv", 0), 0);
    // Partition 1 was never added.
    assert_eq!(
        produce_txn(&mut c, 11, tid, "wv", 1, txn_batch(pid, epoch, 0, 2)),
        TRANSACTION_ABORTABLE
    );
    assert_eq!(
        produce_txn(&mut c, 9, tid, "wv", 1, txn_batch(pid, epoch, 0, 2)),
        INVALID_TXN_STATE
    );
    assert_eq!(
        produce_txn(&mut c, 11, tid, "wv", 0, txn_batch(pid, epoch, 0, 2)),
        0
    );
    // The verification a broker asks for (AddPartitionsToTxn v4, verify_only).
    let verify = AddPartitionsToTxnRequest::default().with_transactions(vec![
        AddPartitionsToTxnTransaction::default()
            .with_transactional_id(TransactionalId(s(tid)))
            .with_producer_id(ProducerId(pid))
            .with_producer_epoch(epoch)
            .with_verify_only(true)
            .with_topics(vec![AddPartitionsToTxnTopic::default()
                .with_name(TopicName(s("wv")))
                .with_partitions(vec![0, 1])]),
    ]);
    let r: AddPartitionsToTxnResponse = c.call(ApiKey::AddPartitionsToTxn, 4, &verify);
    let codes: Vec<i16> = r.results_by_transaction[0].topic_results[0]
        .results_by_partition
        .iter()
        .map(|p| p.partition_error_code)
        .collect();
    assert_eq!(codes, [0, TRANSACTION_ABORTABLE]);

    // A new producer with the same id: the open transaction is aborted, the old epoch fenced.
    let mut c2 = Conn::open(&w.bootstrap());
    let (pid2, epoch2) = init(&mut c2, 4, tid);
    assert_eq!(
        (pid2, epoch2),
        (pid, epoch + 2),
        "fence bump, then the new producer's"
    );
    assert_eq!(
        produce_txn(&mut c, 11, tid, "wv", 0, txn_batch(pid, epoch, 2, 1)),
        INVALID_PRODUCER_EPOCH
    );
    for (version, want) in [(1, INVALID_PRODUCER_EPOCH), (3, PRODUCER_FENCED)] {
        let end = EndTxnRequest::default()
            .with_transactional_id(TransactionalId(s(tid)))
            .with_producer_id(ProducerId(pid))
            .with_producer_epoch(epoch)
            .with_committed(true);
        let r: EndTxnResponse = c.call(ApiKey::EndTxn, version, &end);
        assert_eq!(r.error_code, want, "EndTxn v{version}");
    }
    let d = describe(&w, tid);
    assert_eq!(d["TransactionState"], "Empty", "{d:?}");
    assert_eq!(d["ProducerEpoch"], epoch2.to_string(), "{d:?}");

    // KIP-360: a producer naming its id and epoch gets the next epoch; a retry of that request
    // (its answer lost) gets the same one again; an older epoch is fenced.
    let bump = |c: &mut Conn, version: i16, epoch: i16| {
        let req = InitProducerIdRequest::default()
            .with_transactional_id(Some(TransactionalId(s(tid))))
            .with_transaction_timeout_ms(60_000)
            .with_producer_id(ProducerId(pid2))
            .with_producer_epoch(epoch);
        let r: InitProducerIdResponse = c.call(ApiKey::InitProducerId, version, &req);
        (r.error_code, r.producer_id.0, r.producer_epoch)
    };
    assert_eq!(bump(&mut c2, 4, epoch2), (0, pid2, epoch2 + 1));
    assert_eq!(bump(&mut c2, 4, epoch2), (0, pid2, epoch2 + 1), "retry");
    assert_eq!(bump(&mut c2, 4, epoch).0, PRODUCER_FENCED);
    assert_eq!(bump(&mut c2, 3, epoch).0, INVALID_PRODUCER_EPOCH);
}

/// `transactional.id.expiration.ms`: an idle id is forgotten (tombstoned, so also after a restart).
#[test]
fn idle_transactional_ids_expire() {
    let mut w = Weft::start(&[
        "transactional.id.expiration.ms=1000",
        "transaction.remove.expired.transaction.cleanup.interval.ms=200",
    ]);
    let mut c = Conn::open(&w.bootstrap());
    init(&mut c, 4, "idle-tx");
    assert_eq!(describe(&w, "idle-tx")["TransactionState"], "Empty");
    let gone = |bootstrap: &str| {
        let (ok, _, err) = weft_cmd(
            &[
                "transactions",
                "-b",
                bootstrap,
                "describe",
                "--transactional-id",
                "idle-tx",
            ],
            None,
        );
        !ok && err.contains("not found")
    };
    let deadline = Instant::now() + DEADLINE;
    while !gone(&w.bootstrap()) {
        assert!(
            Instant::now() < deadline,
            "never expired:\n{}",
            w.log_text()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(w.log_text().contains("expired an idle transactional id"));
    assert!(!transactions(&w, &["list"]).contains("idle-tx"));
    w.kill9();
    w.restart();
    assert!(gone(&w.bootstrap()), "the expiry did not survive a restart");
}

fn offset_fetch(c: &mut Conn, group: &str, topic: &str, require_stable: bool) -> (i64, i16) {
    use kafka_protocol::messages::offset_fetch_request::OffsetFetchRequestTopic;
    use kafka_protocol::messages::{OffsetFetchRequest, OffsetFetchResponse};
    let req = OffsetFetchRequest::default()
        .with_group_id(kafka_protocol::messages::GroupId(s(group)))
        .with_topics(Some(vec![OffsetFetchRequestTopic::default()
            .with_name(TopicName(s(topic)))
            .with_partition_indexes(vec![0])]))
        .with_require_stable(require_stable);
    let r: OffsetFetchResponse = c.call(ApiKey::OffsetFetch, 7, &req);
    let p = &r.topics[0].partitions[0];
    (p.committed_offset, p.error_code)
}

/// One transaction of a TxnOffsetCommit of `offset` for `topic`-0, ended with `commit`.
fn txn_offsets(c: &mut Conn, tid: &str, ids: (i64, i16), group: &str, topic: &str, offset: i64) {
    use kafka_protocol::messages::txn_offset_commit_request::{
        TxnOffsetCommitRequestPartition, TxnOffsetCommitRequestTopic,
    };
    use kafka_protocol::messages::{
        AddOffsetsToTxnRequest, AddOffsetsToTxnResponse, TxnOffsetCommitRequest,
        TxnOffsetCommitResponse,
    };
    let add = AddOffsetsToTxnRequest::default()
        .with_transactional_id(TransactionalId(s(tid)))
        .with_producer_id(ProducerId(ids.0))
        .with_producer_epoch(ids.1)
        .with_group_id(kafka_protocol::messages::GroupId(s(group)));
    let r: AddOffsetsToTxnResponse = c.call(ApiKey::AddOffsetsToTxn, 3, &add);
    assert_eq!(r.error_code, 0, "AddOffsetsToTxn");
    let commit = TxnOffsetCommitRequest::default()
        .with_transactional_id(TransactionalId(s(tid)))
        .with_group_id(kafka_protocol::messages::GroupId(s(group)))
        .with_producer_id(ProducerId(ids.0))
        .with_producer_epoch(ids.1)
        .with_generation_id(-1)
        .with_topics(vec![TxnOffsetCommitRequestTopic::default()
            .with_name(TopicName(s(topic)))
            .with_partitions(vec![TxnOffsetCommitRequestPartition::default()
                .with_partition_index(0)
                .with_committed_offset(offset)
                .with_committed_leader_epoch(-1)])]);
    let r: TxnOffsetCommitResponse = c.call(ApiKey::TxnOffsetCommit, 3, &commit);
    assert_eq!(r.topics[0].partitions[0].error_code, 0, "TxnOffsetCommit");
}

fn end_txn(c: &mut Conn, tid: &str, ids: (i64, i16), commit: bool) {
    let end = EndTxnRequest::default()
        .with_transactional_id(TransactionalId(s(tid)))
        .with_producer_id(ProducerId(ids.0))
        .with_producer_epoch(ids.1)
        .with_committed(commit);
    let r: EndTxnResponse = c.call(ApiKey::EndTxn, 3, &end);
    assert_eq!(r.error_code, 0, "EndTxn commit={commit}");
}

/// TxnOffsetCommit over the raw protocol: pending offsets are UNSTABLE_OFFSET_COMMIT to
/// `require_stable` fetches and absent otherwise, visible after the commit, never after an abort,
/// and the `__consumer_offsets` replay after a kill -9 honours both markers.
#[test]
fn transactional_offsets_are_unstable_until_committed_on_the_wire() {
    const UNSTABLE_OFFSET_COMMIT: i16 = 88;
    let mut w = Weft::start(&[]);
    let (ok, out, err) = weft_cmd(
        &[
            "topics",
            "create",
            "wo",
            "--partitions",
            "1",
            "-b",
            &w.bootstrap(),
        ],
        None,
    );
    assert!(ok, "{out}{err}");
    let mut c = Conn::open(&w.bootstrap());
    let ids = init(&mut c, 4, "wo-tx");
    txn_offsets(&mut c, "wo-tx", ids, "wo-g", "wo", 7);
    assert_eq!(
        offset_fetch(&mut c, "wo-g", "wo", true),
        (-1, UNSTABLE_OFFSET_COMMIT)
    );
    assert_eq!(offset_fetch(&mut c, "wo-g", "wo", false), (-1, 0));
    end_txn(&mut c, "wo-tx", ids, true);
    assert_eq!(offset_fetch(&mut c, "wo-g", "wo", true), (7, 0));
    txn_offsets(&mut c, "wo-tx", ids, "wo-g", "wo", 9);
    end_txn(&mut c, "wo-tx", ids, false);
    assert_eq!(offset_fetch(&mut c, "wo-g", "wo", true), (7, 0));
    // A third transaction left open across the crash stays pending after the replay.
    txn_offsets(&mut c, "wo-tx", ids, "wo-g", "wo", 11);
    drop(c);
    w.kill9();
    w.restart();
    let mut c = Conn::open(&w.bootstrap());
    assert_eq!(offset_fetch(&mut c, "wo-g", "wo", false), (7, 0));
    assert_eq!(
        offset_fetch(&mut c, "wo-g", "wo", true),
        (-1, UNSTABLE_OFFSET_COMMIT)
    );
    end_txn(&mut c, "wo-tx", ids, true);
    assert_eq!(offset_fetch(&mut c, "wo-g", "wo", true), (11, 0));
}

/// ListTransactions filters as Kafka applies them: states (unknown names reported and matching
/// nothing), producer ids, duration (v1) and the transactional id pattern (v2, a whole-id regex).
#[test]
fn list_transactions_filters() {
    use kafka_protocol::messages::{ListTransactionsRequest, ListTransactionsResponse};
    let w = Weft::start(&[]);
    let (ok, out, err) = weft_cmd(
        &[
            "topics",
            "create",
            "lf",
            "--partitions",
            "1",
            "-b",
            &w.bootstrap(),
        ],
        None,
    );
    assert!(ok, "{out}{err}");
    let mut c = Conn::open(&w.bootstrap());
    let (busy, e) = init(&mut c, 4, "lf-busy");
    assert_eq!(add_partition(&mut c, "lf-busy", busy, e, "lf", 0), 0);
    let (idle, _) = init(&mut c, 4, "lf-idle");
    let mut list = |version: i16, req: ListTransactionsRequest| {
        let r: ListTransactionsResponse = c.call(ApiKey::ListTransactions, version, &req);
        assert_eq!(r.error_code, 0);
        let mut ids: Vec<String> = r
            .transaction_states
            .iter()
            .map(|t| {
                format!(
                    "{}:{}",
                    t.transactional_id.as_str(),
                    t.transaction_state.as_str()
                )
            })
            .collect();
        ids.sort();
        let unknown: Vec<String> = r
            .unknown_state_filters
            .iter()
            .map(|u| u.to_string())
            .collect();
        (ids, unknown)
    };
    let all = ListTransactionsRequest::default().with_duration_filter(-1);
    assert_eq!(list(1, all.clone()).0, ["lf-busy:Ongoing", "lf-idle:Empty"]);
    assert_eq!(
        list(1, all.clone().with_state_filters(vec![s("Ongoing")])).0,
        ["lf-busy:Ongoing"]
    );
    let (ids, unknown) = list(1, all.clone().with_state_filters(vec![s("Bogus")]));
    assert!(ids.is_empty(), "{ids:?}");
    assert_eq!(unknown, ["Bogus"]);
    assert_eq!(
        list(
            1,
            all.clone().with_producer_id_filters(vec![ProducerId(idle)])
        )
        .0,
        ["lf-idle:Empty"]
    );
    // The open transaction has not run for an hour; the idle id has no start time (-1), which
    // Kafka's comparison lets through.
    assert_eq!(
        list(1, all.clone().with_duration_filter(3_600_000)).0,
        ["lf-idle:Empty"]
    );
    assert_eq!(
        list(
            2,
            all.clone().with_transactional_id_pattern(Some(s("lf-b.*")))
        )
        .0,
        ["lf-busy:Ongoing"]
    );
    assert!(list(2, all.with_transactional_id_pattern(Some(s("busy"))))
        .0
        .is_empty());
}
