//! End-to-end proof of the Prometheus endpoint: the real `weft up` (broker and Connect worker),
//! a real producer, a consumer group that stops short, a connector that fails; then `/metrics`
//! is scraped and its values checked against what the test did and what is on disk, and the
//! scrape is checked with `promtool check metrics`.

mod common;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::connect::{test_plugin, Worker};
use common::{require_tool, weft_bin};
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::{Offset, TopicPartitionList};

/// Waits for `cond` with a deadline; true if it held in time.
fn wait_until(timeout: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if cond() {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A `weft up` process and the ports it reported.
struct Up {
    child: Child,
    ports: BTreeMap<&'static str, u16>,
}

impl Up {
    /// Starts `weft up` in `cwd` with `args`, waiting for each `(line prefix, name)` in `wait`.
    fn start(cwd: &Path, args: &[&str], wait: &[(&'static str, &'static str)]) -> Up {
        let mut child = Command::new(weft_bin())
            .arg("up")
            .arg("--listeners")
            .arg("PLAINTEXT://127.0.0.1:0")
            .arg("--log-dirs")
            .arg(cwd.join("data"))
            .args(args)
            .current_dir(cwd)
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn weft up");
        let stderr = child.stderr.take().expect("stderr");
        let (tx, rx) = std::sync::mpsc::channel();
        let prefixes: Vec<(&'static str, &'static str)> = wait.to_vec();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                for (prefix, name) in &prefixes {
                    if let Some(r) = line.strip_prefix(prefix) {
                        if let Some(p) = r.rsplit(':').next().and_then(|p| p.trim().parse().ok()) {
                            let _ = tx.send((*name, p));
                        }
                    }
                }
            }
        });
        let mut ports = BTreeMap::new();
        while ports.len() < wait.len() {
            match rx.recv_timeout(Duration::from_secs(60)) {
                Ok((name, port)) => {
                    ports.insert(name, port);
                }
                Err(_) => {
                    let _ = child.kill();
                    panic!("weft up did not report {wait:?} (got {ports:?})");
                }
            }
        }
        Up { child, ports }
    }

    fn port(&self, name: &str) -> u16 {
        self.ports[name]
    }
}

impl Drop for Up {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `GET path` over plain HTTP/1.1: (status, body).
fn get(port: u16, path: &str) -> (u16, String) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(60))).ok();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )
    .expect("send request");
    let mut raw = String::new();
    s.read_to_string(&mut raw).expect("read response");
    let (head, body) = raw.split_once("\r\n\r\n").unwrap_or((&raw, ""));
    let code = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("malformed response: {raw}"));
    let body = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        dechunk(body)
    } else {
        body.to_string()
    };
    (code, body)
}

fn dechunk(mut s: &str) -> String {
    let mut out = String::new();
    while let Some((len, rest)) = s.split_once("\r\n") {
        let n = usize::from_str_radix(len.trim(), 16).unwrap_or(0);
        if n == 0 || rest.len() < n {
            break;
        }
        out.push_str(&rest[..n]);
        s = rest[n..].strip_prefix("\r\n").unwrap_or(&rest[n..]);
    }
    out
}

/// One sample of a scrape: name, labels, value.
struct Sample {
    name: String,
    labels: BTreeMap<String, String>,
    value: f64,
}

/// Parses the text exposition's sample lines (label values here hold no `"`, `,` or `}`).
fn parse(text: &str) -> Vec<Sample> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let (series, value) = l.rsplit_once(' ').expect("sample line");
            let (name, labels) = match series.split_once('{') {
                Some((n, rest)) => (n, rest.trim_end_matches('}')),
                None => (series, ""),
            };
            let labels = labels
                .split(',')
                .filter(|p| !p.is_empty())
                .map(|p| {
                    let (k, v) = p.split_once('=').expect("label");
                    (k.to_string(), v.trim_matches('"').to_string())
                })
                .collect();
            Sample {
                name: name.to_string(),
                labels,
                value: value.parse().expect("sample value"),
            }
        })
        .collect()
}

/// The samples named `name` whose labels include every pair of `want`.
fn find<'a>(samples: &'a [Sample], name: &str, want: &[(&str, &str)]) -> Vec<&'a Sample> {
    samples
        .iter()
        .filter(|s| s.name == name)
        .filter(|s| {
            want.iter()
                .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
        })
        .collect()
}

fn value(samples: &[Sample], name: &str, want: &[(&str, &str)]) -> f64 {
    let found = find(samples, name, want);
    assert_eq!(
        found.len(),
        1,
        "{name}{want:?}: expected one sample, found {}",
        found.len()
    );
    found[0].value
}

/// Runs `promtool check metrics` on a scrape; panics with its findings if it complains.
fn promtool_check(text: &str) {
    let promtool = require_tool("promtool");
    let mut child = Command::new(promtool)
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run promtool");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(text.as_bytes())
        .expect("feed promtool");
    let out = child.wait_with_output().expect("promtool");
    assert!(
        out.status.success(),
        "promtool check metrics failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Every `weft_*` / `process_*` name the Grafana dashboard and the alert rules query must be in
/// a scrape of a broker that has traffic, a group and a connector (error counters appear with
/// the first error, so they are allowed to be absent).
fn dashboards_and_alerts_use_only_exported_names(samples: &[Sample]) {
    let deploy = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy");
    let mut text = std::fs::read_to_string(deploy.join("grafana/weft.json")).unwrap();
    text.push_str(&std::fs::read_to_string(deploy.join("prometheus/alerts.yml")).unwrap());
    let exported: std::collections::BTreeSet<&str> =
        samples.iter().map(|s| s.name.as_str()).collect();
    let mut used = std::collections::BTreeSet::new();
    for (i, _) in text.match_indices(['w', 'p']) {
        let rest = &text[i..];
        if !(rest.starts_with("weft_") || rest.starts_with("process_")) {
            continue;
        }
        if i > 0 && text[..i].ends_with(|c: char| c.is_ascii_alphanumeric() || c == '_') {
            continue;
        }
        let name: String = rest
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        used.insert(name);
    }
    assert!(
        used.len() >= 15,
        "only {used:?} found in the dashboard and rules"
    );
    let missing: Vec<&String> = used
        .iter()
        .filter(|n| !exported.contains(n.as_str()) && n.as_str() != "weft_request_errors_total")
        .collect();
    assert!(
        missing.is_empty(),
        "the dashboard or rules query names no scrape has: {missing:?}"
    );
}

/// The `weft_` family names deploy/README.md's metrics table lists.
fn documented_families() -> std::collections::BTreeSet<String> {
    let readme = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/README.md");
    let text = std::fs::read_to_string(readme).unwrap();
    let mut names = std::collections::BTreeSet::new();
    for line in text.lines().filter(|l| l.starts_with("| `weft_")) {
        let first = line.split('|').nth(1).unwrap_or("");
        for name in first.split('`').filter(|n| n.starts_with("weft_")) {
            names.insert(name.to_string());
        }
    }
    assert!(names.len() >= 40, "the metrics table lists only {names:?}");
    names
}

/// The family a sample belongs to (a histogram's `_bucket`, `_sum` and `_count` samples are
/// its family's).
fn family_of<'a>(sample: &'a str, documented: &std::collections::BTreeSet<String>) -> &'a str {
    for suffix in ["_bucket", "_sum", "_count"] {
        if let Some(base) = sample.strip_suffix(suffix) {
            if documented.contains(base) {
                return base;
            }
        }
    }
    sample
}

/// Every `weft_` family in a scrape is in deploy/README.md's metrics table.
fn exported_families_are_documented(samples: &[Sample]) {
    let documented = documented_families();
    let undocumented: std::collections::BTreeSet<&str> = samples
        .iter()
        .map(|s| family_of(&s.name, &documented))
        .filter(|n| n.starts_with("weft_") && !documented.contains(*n))
        .collect();
    assert!(
        undocumented.is_empty(),
        "families missing from deploy/README.md's metrics table: {undocumented:?}"
    );
}

const RECORDS: usize = 1000;
const CONSUMED: i64 = 600;

#[test]
fn a_scrape_shows_bytes_in_lag_failed_tasks_and_request_latency() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let connectors = d.join("connectors");
    std::fs::create_dir_all(&connectors).unwrap();
    // A sink that fails on its first undecodable record (errors.tolerance=none).
    std::fs::write(
        connectors.join("poison.properties"),
        "name=poison\nconnector.class=FileStreamSink\ntasks.max=1\nfile=poison.txt\ntopics=poison-in\n\
         value.converter=org.apache.kafka.connect.json.JsonConverter\nvalue.converter.schemas.enable=false\n",
    )
    .unwrap();
    // A source, so the source families are in the scrape too.
    std::fs::write(
        connectors.join("gen.properties"),
        "name=gen\nconnector.class=datagen\ntasks.max=1\nkafka.topic=gen-out\nrecord.size=50\n\
         iterations=10\nvalue.converter=org.apache.kafka.connect.converters.ByteArrayConverter\n",
    )
    .unwrap();
    let up = Up::start(
        d,
        &[
            "--connect-listener",
            "http://127.0.0.1:0",
            "--connectors",
            connectors.to_str().unwrap(),
        ],
        &[
            ("weft: broker listening on PLAINTEXT://", "broker"),
            ("weft: connect REST listening on http://", "rest"),
        ],
    );
    let bootstrap = format!("127.0.0.1:{}", up.port("broker"));
    let rest = up.port("rest");

    // Produce: 1000 records of 200 bytes to one partition.
    let producer: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", &bootstrap)
        .set("linger.ms", "5")
        .create()
        .expect("producer");
    let payload = vec![b'x'; 200];
    for i in 0..RECORDS {
        let key = i.to_string();
        let mut r = BaseRecord::to("metrics-in")
            .key(&key)
            .payload(&payload)
            .partition(0);
        loop {
            match producer.send(r) {
                Ok(()) => break,
                Err((_, back)) => {
                    r = back;
                    producer.poll(Duration::from_millis(10));
                }
            }
        }
    }
    producer.flush(Duration::from_secs(60)).expect("flush");
    let poison = [&b"\"fine\""[..], &b"not json{"[..]];
    for v in poison {
        producer
            .send(
                BaseRecord::<(), [u8]>::to("poison-in")
                    .payload(v)
                    .partition(0),
            )
            .expect("send poison");
    }
    producer.flush(Duration::from_secs(60)).expect("flush");

    // A group reads 600 of the 1000 records, commits, and goes away.
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", &bootstrap)
        .set("group.id", "lagging")
        .set("enable.auto.commit", "false")
        .create()
        .expect("consumer");
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset("metrics-in", 0, Offset::Beginning)
        .unwrap();
    consumer.assign(&tpl).unwrap();
    let mut read = 0i64;
    let deadline = Instant::now() + Duration::from_secs(60);
    while read < CONSUMED && Instant::now() < deadline {
        if let Some(Ok(_)) = consumer.poll(Duration::from_millis(200)) {
            read += 1;
        }
    }
    assert_eq!(read, CONSUMED, "the consumer did not receive its records");
    let mut commit = TopicPartitionList::new();
    commit
        .add_partition_offset("metrics-in", 0, Offset::Offset(CONSUMED))
        .unwrap();
    consumer.commit(&commit, CommitMode::Sync).expect("commit");
    drop(consumer);

    // The connector fails on the poison record; the scrape must show it.
    let scrape = || {
        let (code, body) = get(rest, "/metrics");
        assert_eq!(code, 200, "{body}");
        body
    };
    let failed = [("connector", "poison"), ("task", "0"), ("state", "FAILED")];
    assert!(
        wait_until(Duration::from_secs(90), || {
            find(&parse(&scrape()), "weft_connect_task_state", &failed)
                .first()
                .is_some_and(|s| s.value == 1.0)
        }),
        "the poison task never showed FAILED in /metrics:\n{}",
        scrape()
    );

    let text = scrape();
    let samples = parse(&text);
    // Bytes in equals the batches stored: the partition's one segment file, byte for byte.
    let segment = d.join("data/metrics-in-0/00000000000000000000.log");
    let on_disk = std::fs::metadata(&segment).expect("segment file").len() as f64;
    let topic = [("topic", "metrics-in")];
    assert_eq!(
        value(&samples, "weft_topic_bytes_in_total", &topic),
        on_disk
    );
    assert_eq!(
        value(&samples, "weft_topic_records_in_total", &topic),
        RECORDS as f64
    );
    let p0 = [("topic", "metrics-in"), ("partition", "0")];
    assert_eq!(
        value(&samples, "weft_partition_log_end_offset", &p0),
        RECORDS as f64
    );
    assert_eq!(value(&samples, "weft_partition_log_start_offset", &p0), 0.0);
    assert_eq!(value(&samples, "weft_partition_size_bytes", &p0), on_disk);
    // The consumer read at least what it committed.
    assert!(value(&samples, "weft_topic_records_out_total", &topic) >= CONSUMED as f64);

    // Lag: what the group left unread.
    let g = [
        ("group", "lagging"),
        ("topic", "metrics-in"),
        ("partition", "0"),
    ];
    assert_eq!(
        value(&samples, "weft_group_committed_offset", &g),
        CONSUMED as f64
    );
    assert_eq!(
        value(&samples, "weft_group_lag", &g),
        (RECORDS as i64 - CONSUMED) as f64
    );
    assert_eq!(
        value(&samples, "weft_group_total_lag", &[("group", "lagging")]),
        (RECORDS as i64 - CONSUMED) as f64
    );

    // The failed task, and only that state, for the poison connector.
    for state in ["RUNNING", "PAUSED", "UNASSIGNED"] {
        let l = [("connector", "poison"), ("task", "0"), ("state", state)];
        assert_eq!(
            value(&samples, "weft_connect_task_state", &l),
            0.0,
            "{state}"
        );
    }

    // Request latency histograms have counts for the APIs the clients used.
    for api in [
        "Produce",
        "Fetch",
        "Metadata",
        "OffsetCommit",
        "ApiVersions",
    ] {
        let count: f64 = find(
            &samples,
            "weft_request_duration_seconds_count",
            &[("api", api)],
        )
        .iter()
        .map(|s| s.value)
        .sum();
        assert!(count > 0.0, "no {api} requests counted:\n{text}");
        let inf: f64 = find(
            &samples,
            "weft_request_duration_seconds_bucket",
            &[("api", api), ("le", "+Inf")],
        )
        .iter()
        .map(|s| s.value)
        .sum();
        assert_eq!(inf, count, "{api}: the +Inf bucket holds every request");
    }
    // The sink task's consumer joined its group: one rebalance at least.
    assert!(
        value(
            &samples,
            "weft_group_rebalances_total",
            &[("reason", "member joined")]
        ) >= 1.0
    );
    assert!(value(&samples, "weft_connections_accepted_total", &[]) >= 2.0);
    assert!(value(&samples, "process_resident_memory_bytes", &[]) > 0.0);
    assert!(value(&samples, "process_open_fds", &[]) > 0.0);
    assert_eq!(value(&samples, "weft_log_dir_online", &[]), 1.0);

    promtool_check(&text);
    dashboards_and_alerts_use_only_exported_names(&samples);
    // The metrics table and this scrape (the broker, a group, a source and a sink) name the
    // same families; error counters appear with the first error, and a plugin's own figures when
    // a component reports some (the mirror plugin does: e2e_mirror checks those).
    exported_families_are_documented(&samples);
    let documented = documented_families();
    let exported: std::collections::BTreeSet<&str> = samples
        .iter()
        .map(|s| family_of(&s.name, &documented))
        .collect();
    let absent: Vec<&String> = documented
        .iter()
        .filter(|n| {
            !exported.contains(n.as_str())
                && ![
                    "weft_request_errors_total",
                    "weft_connect_plugin_counter_total",
                    "weft_connect_plugin_gauge",
                ]
                .contains(&n.as_str())
        })
        .collect();
    assert!(
        absent.is_empty(),
        "deploy/README.md lists families this scrape does not have: {absent:?}"
    );

    let (code, health) = get(rest, "/health");
    assert_eq!(code, 200, "{health}");
    let health: serde_json::Value = serde_json::from_str(&health).expect("health JSON");
    // Connect's own body while healthy (the checks are listed when one fails).
    assert_eq!(health["status"], "healthy", "{health}");
    assert!(health.get("checks").is_none(), "{health}");
}

#[test]
fn without_the_worker_metrics_are_served_on_metrics_listener_and_count_closes_and_parked_fetches() {
    let dir = tempfile::tempdir().unwrap();
    let up = Up::start(
        dir.path(),
        &[
            "--no-connect",
            "--override",
            "metrics.listener=http://127.0.0.1:0",
        ],
        &[
            ("weft: broker listening on PLAINTEXT://", "broker"),
            ("weft: metrics listening on http://", "metrics"),
        ],
    );
    let port = up.port("metrics");
    let bootstrap = format!("127.0.0.1:{}", up.port("broker"));
    let metric = |name: &str, l: &[(&str, &str)]| value(&parse(&get(port, "/metrics").1), name, l);

    // A request of an API version no broker serves: the connection is closed, counted as such.
    let mut s = TcpStream::connect(&bootstrap).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(30))).ok();
    // Produce (key 0) v99, correlation id 7, no client id.
    let body = [0u8, 0, 0, 99, 0, 0, 0, 7, 0xff, 0xff];
    s.write_all(&(body.len() as u32).to_be_bytes()).unwrap();
    s.write_all(&body).unwrap();
    let mut rest = Vec::new();
    let _ = s.read_to_end(&mut rest);
    assert!(
        rest.is_empty(),
        "the broker answered an unsupported version"
    );
    let unsupported = [("reason", "unsupported_version")];
    assert!(
        wait_until(Duration::from_secs(30), || metric(
            "weft_connections_closed_total",
            &unsupported
        ) == 1.0),
        "{}",
        get(port, "/metrics").1
    );
    assert_eq!(
        metric(
            "weft_connections_closed_total",
            &[("reason", "malformed_request")]
        ),
        0.0
    );

    // A consumer at the end of an empty partition parks its Fetch in long poll; once it is
    // gone, the parked request ends at its max.wait.ms.
    let producer: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", &bootstrap)
        .create()
        .expect("producer");
    producer
        .send(
            BaseRecord::<(), [u8]>::to("idle")
                .payload(&b"one"[..])
                .partition(0),
        )
        .expect("send");
    producer.flush(Duration::from_secs(30)).expect("flush");
    assert_eq!(metric("weft_fetch_requests_waiting", &[]), 0.0);
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", &bootstrap)
        .set("group.id", "idle")
        .set("fetch.wait.max.ms", "3000")
        .create()
        .expect("consumer");
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset("idle", 0, Offset::End).unwrap();
    consumer.assign(&tpl).unwrap();
    assert!(
        wait_until(Duration::from_secs(30), || {
            let _ = consumer.poll(Duration::from_millis(50));
            metric("weft_fetch_requests_waiting", &[]) == 1.0
        }),
        "no parked fetch:\n{}",
        get(port, "/metrics").1
    );
    drop(consumer);
    assert!(
        wait_until(Duration::from_secs(30), || metric(
            "weft_fetch_requests_waiting",
            &[]
        ) == 0.0),
        "the parked fetch never ended"
    );

    let (code, text) = get(port, "/metrics");
    assert_eq!(code, 200, "{text}");
    let samples = parse(&text);
    assert_eq!(value(&samples, "weft_log_dir_online", &[]), 1.0);
    assert!(find(&samples, "weft_connect_task_state", &[]).is_empty());
    promtool_check(&text);
    exported_families_are_documented(&samples);
    let (code, health) = get(port, "/health");
    assert_eq!(code, 200, "{health}");
    let health: serde_json::Value = serde_json::from_str(&health).expect("health JSON");
    assert_eq!(health["status"], "healthy", "{health}");
    assert_eq!(
        health["checks"]["log_dirs"]["status"], "healthy",
        "{health}"
    );
    let health = health.to_string();
    assert!(!health.contains("connect_worker"), "{health}");
}

const GENERATED: u64 = 500;

#[test]
fn connect_tasks_show_records_produced_traps_by_kind_and_offset_commit_latency() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let broker = Up::start(
        d,
        &[
            "--no-connect",
            "--override",
            "metrics.listener=http://127.0.0.1:0",
        ],
        &[
            ("weft: broker listening on PLAINTEXT://", "broker"),
            ("weft: metrics listening on http://", "metrics"),
        ],
    );
    let write = |name: &str, text: String| {
        let p = d.join(name);
        std::fs::write(&p, text).unwrap();
        p
    };
    let mut files = vec![write(
        "worker.properties",
        format!(
            "bootstrap.servers=127.0.0.1:{}\nlisteners=http://127.0.0.1:0\n\
             key.converter=org.apache.kafka.connect.storage.StringConverter\n\
             value.converter=org.apache.kafka.connect.storage.StringConverter\n\
             offset.storage.file.filename={}\noffset.flush.interval.ms=300\n",
            broker.port("broker"),
            d.join("connect.offsets").display()
        ),
    )];
    // A source that stops after GENERATED records, and a sink that reads them back.
    files.push(write(
        "gen.properties",
        format!(
            "name=gen\nconnector.class=datagen\ntasks.max=1\nkafka.topic=gen-out\n\
             record.size=100\niterations={GENERATED}\n\
             value.converter=org.apache.kafka.connect.converters.ByteArrayConverter\n"
        ),
    ));
    files.push(write(
        "copy.properties",
        format!(
            "name=copy\nconnector.class=FileStreamSink\ntasks.max=1\nfile={}\ntopics=gen-out\n",
            d.join("copy.txt").display()
        ),
    ));
    // One source per trap kind: a panic (unreachable), an endless loop (the call deadline),
    // allocation past the memory cap.
    let hostile = test_plugin("hostile-source");
    for mode in ["trap", "loop", "alloc"] {
        files.push(write(
            &format!("hostile-{mode}.properties"),
            format!(
                "name=hostile-{mode}\nconnector.class={}\ntasks.max=1\ntopic=hostile\n\
                 mode={mode}\nhealthy.polls=3\nplugin.call.timeout.ms=500\n\
                 plugin.memory.max.bytes=67108864\n",
                hostile.display()
            ),
        ));
    }
    let worker = Worker::standalone(d, &files);
    let scrape = |port: u16| {
        let (code, body) = get(port, "/metrics");
        assert_eq!(code, 200, "{body}");
        body
    };
    let gen = [("connector", "gen"), ("task", "0")];
    let copy = [("connector", "copy"), ("task", "0")];
    let settled = |s: &[Sample]| {
        let one = |name: &str, l: &[(&str, &str)]| {
            find(s, name, l).first().map(|x| x.value).unwrap_or(-1.0)
        };
        one("weft_connect_source_task_records_produced_total", &gen) == GENERATED as f64
            && one("weft_connect_sink_task_records_put_total", &copy) == GENERATED as f64
            && one(
                "weft_connect_task_offset_commit_duration_seconds_count",
                &gen,
            ) >= 1.0
            && one(
                "weft_connect_task_offset_commit_duration_seconds_count",
                &copy,
            ) >= 1.0
            && ["trap", "loop", "alloc"].iter().all(|m| {
                let c = format!("hostile-{m}");
                one(
                    "weft_connect_task_state",
                    &[("connector", &c), ("task", "0"), ("state", "FAILED")],
                ) == 1.0
            })
    };
    assert!(
        wait_until(Duration::from_secs(120), || settled(&parse(&scrape(
            worker.rest_port
        )))),
        "the tasks did not settle:\n{}\n{}",
        scrape(worker.rest_port),
        worker.log_text()
    );
    let text = scrape(worker.rest_port);
    let samples = parse(&text);

    // Produced means acknowledged: every generated record, as many as polled and as the broker
    // counted in.
    assert_eq!(
        value(
            &samples,
            "weft_connect_source_task_records_polled_total",
            &gen
        ),
        GENERATED as f64
    );
    let broker_text = scrape(broker.port("metrics"));
    let broker_samples = parse(&broker_text);
    assert_eq!(
        value(
            &broker_samples,
            "weft_topic_records_in_total",
            &[("topic", "gen-out")]
        ),
        GENERATED as f64
    );

    // Each hostile task failed on exactly one trap, of its own kind; the healthy ones had none.
    for (connector, kind) in [
        ("hostile-trap", "unreachable"),
        ("hostile-loop", "deadline"),
        ("hostile-alloc", "out-of-memory"),
        ("gen", ""),
        ("copy", ""),
    ] {
        for k in ["deadline", "out-of-memory", "unreachable", "other"] {
            let l = [("connector", connector), ("task", "0"), ("kind", k)];
            let want = if k == kind { 1.0 } else { 0.0 };
            assert_eq!(
                value(&samples, "weft_connect_task_traps_total", &l),
                want,
                "{connector} {k}:\n{text}"
            );
        }
    }

    // Commit latency: a histogram whose +Inf bucket holds every commit and whose sum is a
    // duration that was spent.
    for l in [gen, copy] {
        let count = value(
            &samples,
            "weft_connect_task_offset_commit_duration_seconds_count",
            &l,
        );
        let inf = value(
            &samples,
            "weft_connect_task_offset_commit_duration_seconds_bucket",
            &[l[0], l[1], ("le", "+Inf")],
        );
        assert_eq!(inf, count, "{l:?}");
        let sum = value(
            &samples,
            "weft_connect_task_offset_commit_duration_seconds_sum",
            &l,
        );
        assert!(sum > 0.0 && sum < 30.0 * count, "{l:?}: sum {sum}");
    }
    promtool_check(&text);
    exported_families_are_documented(&samples);
    exported_families_are_documented(&broker_samples);
}

#[test]
fn per_partition_series_stop_at_metrics_partition_series_max() {
    let dir = tempfile::tempdir().unwrap();
    let up = Up::start(
        dir.path(),
        &[
            "--no-connect",
            "--override",
            "metrics.listener=http://127.0.0.1:0",
            "--override",
            "metrics.partition.series.max=3",
            "--override",
            "num.partitions=4",
        ],
        &[
            ("weft: broker listening on PLAINTEXT://", "broker"),
            ("weft: metrics listening on http://", "metrics"),
        ],
    );
    let bootstrap = format!("127.0.0.1:{}", up.port("broker"));
    let producer: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", &bootstrap)
        .create()
        .expect("producer");
    for p in 0..4 {
        producer
            .send(
                BaseRecord::<(), [u8]>::to("wide")
                    .payload(&b"x"[..])
                    .partition(p),
            )
            .expect("send");
    }
    producer.flush(Duration::from_secs(30)).expect("flush");
    // A group with committed offsets on two partitions (nothing read: lag 1 each).
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", &bootstrap)
        .set("group.id", "wide-group")
        .create()
        .expect("consumer");
    let mut commit = TopicPartitionList::new();
    for p in 0..2 {
        commit
            .add_partition_offset("wide", p, Offset::Offset(0))
            .unwrap();
    }
    consumer.commit(&commit, CommitMode::Sync).expect("commit");
    drop(consumer);

    let (code, text) = get(up.port("metrics"), "/metrics");
    assert_eq!(code, 200, "{text}");
    let samples = parse(&text);
    // Every partition (the 4 of `wide`, those of __consumer_offsets) and the group's 2
    // committed partitions compete for 3 entries; the rest is counted as omitted.
    let partitions: f64 = find(&samples, "weft_topic_partitions", &[])
        .iter()
        .map(|s| s.value)
        .sum();
    assert!(partitions >= 5.0, "{text}");
    let per_partition = find(&samples, "weft_partition_log_end_offset", &[]).len();
    let per_group_partition = find(&samples, "weft_group_lag", &[]).len();
    assert_eq!(per_partition + per_group_partition, 3, "{text}");
    assert_eq!(
        find(&samples, "weft_partition_log_start_offset", &[]).len(),
        per_partition
    );
    assert_eq!(
        find(&samples, "weft_group_committed_offset", &[]).len(),
        per_group_partition
    );
    assert_eq!(
        value(&samples, "weft_metrics_partition_series_omitted", &[]),
        partitions + 2.0 - 3.0
    );
    // The totals are never capped.
    let wide = [("topic", "wide")];
    assert_eq!(value(&samples, "weft_topic_records_in_total", &wide), 4.0);
    assert_eq!(value(&samples, "weft_topic_partitions", &wide), 4.0);
    assert_eq!(
        value(&samples, "weft_group_total_lag", &[("group", "wide-group")]),
        2.0
    );
    promtool_check(&text);
    exported_families_are_documented(&samples);
}

/// A tmpfs mounted for a test and unmounted on drop (also when the test fails). Needs root.
struct Tmpfs(std::path::PathBuf);

impl Tmpfs {
    fn mount(dir: &Path, size: &str) -> Tmpfs {
        std::fs::create_dir_all(dir).expect("mount point");
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "weft-test"])
            .arg(dir)
            .output()
            .expect("run mount");
        assert!(
            out.status.success(),
            "mount failed (this test needs root and mount support): {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Tmpfs(dir.to_path_buf())
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

#[test]
fn a_full_log_dir_shows_in_health_and_metrics() {
    let dir = tempfile::tempdir().unwrap();
    let _fs = Tmpfs::mount(&dir.path().join("data"), "3m");
    let up = Up::start(
        dir.path(),
        &[
            "--no-connect",
            "--override",
            "metrics.listener=http://127.0.0.1:0",
        ],
        &[
            ("weft: broker listening on PLAINTEXT://", "broker"),
            ("weft: metrics listening on http://", "metrics"),
        ],
    );
    let port = up.port("metrics");
    assert_eq!(get(port, "/health").0, 200);
    // 5 MB into a 3 MB file system: the log directory goes offline.
    let producer: BaseProducer = ClientConfig::new()
        .set(
            "bootstrap.servers",
            format!("127.0.0.1:{}", up.port("broker")),
        )
        .set("message.timeout.ms", "10000")
        .create()
        .expect("producer");
    let payload = vec![b'f'; 10_000];
    for _ in 0..500 {
        let mut r = BaseRecord::<(), [u8]>::to("fill")
            .payload(&payload)
            .partition(0);
        loop {
            match producer.send(r) {
                Ok(()) => break,
                Err((_, back)) => {
                    r = back;
                    producer.poll(Duration::from_millis(10));
                }
            }
        }
    }
    let _ = producer.flush(Duration::from_secs(30));
    assert!(
        wait_until(Duration::from_secs(60), || get(port, "/health").0 == 503),
        "/health still answers {:?}",
        get(port, "/health")
    );
    let (_, health) = get(port, "/health");
    let health: serde_json::Value = serde_json::from_str(&health).expect("health JSON");
    assert_eq!(health["status"], "unhealthy", "{health}");
    assert_eq!(
        health["checks"]["log_dirs"]["status"], "unhealthy",
        "{health}"
    );
    assert_eq!(health["checks"]["broker"]["status"], "healthy", "{health}");
    let (code, text) = get(port, "/metrics");
    assert_eq!(code, 200);
    let samples = parse(&text);
    assert_eq!(value(&samples, "weft_log_dir_online", &[]), 0.0);
    assert!(value(&samples, "weft_storage_errors_total", &[]) >= 1.0);
    let produce_errors: f64 = find(&samples, "weft_request_errors_total", &[("api", "Produce")])
        .iter()
        .map(|s| s.value)
        .sum();
    assert!(produce_errors >= 1.0, "no Produce error counted:\n{text}");
    promtool_check(&text);
    exported_families_are_documented(&samples);
}
