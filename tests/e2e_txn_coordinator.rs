//! The transaction coordinator against the real `weft` binary with confluent-kafka (librdkafka) in
//! Python (`tests/python/txn_coordinator.py`): commits and aborts across 3 partitions, the timeout
//! abort of a killed producer's transaction, fencing by a second producer, coordinator state across
//! a kill -9 of the broker, sendOffsetsToTransaction, and `weft transactions list|describe`.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::{weft_cmd, Weft};
use serde_json::Value;

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
