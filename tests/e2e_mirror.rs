//! `weft mirror-maker` end to end: real `weft` brokers as separate processes, the mirror maker as
//! its own process, real rdkafka clients. MM2's internal topics are decoded here with a decoder
//! written from the format description (Kafka's `Struct` encoding: STRING = int16 length +
//! UTF-8, integers big-endian), not with the code under test.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use common::connect::{http, wait_until};
use common::{weft_bin, weft_cmd, Weft};
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, ResourceSpecifier, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::message::{Header, Headers, Message, OwnedHeaders};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::{Offset, TopicPartitionList};
use serde_json::Value;

const T: Duration = Duration::from_secs(120);
const OP: Duration = Duration::from_secs(10);

// ---------------------------------------------------------------------------------------------
// The mirror-maker process.

struct MirrorMaker {
    child: Option<Child>,
    file: PathBuf,
    state: PathBuf,
    port: u16,
    log: Arc<Mutex<String>>,
}

impl MirrorMaker {
    /// Starts `weft mirror-maker FILE` and waits until its flows are created.
    fn start(dir: &Path, mm2: &str) -> MirrorMaker {
        let file = dir.join("mm2.properties");
        std::fs::write(&file, mm2).unwrap();
        let mut m = MirrorMaker {
            child: None,
            file,
            state: dir.join("state"),
            port: 0,
            log: Arc::new(Mutex::new(String::new())),
        };
        m.spawn();
        m
    }

    fn spawn(&mut self) {
        let mut child = Command::new(weft_bin())
            .arg("mirror-maker")
            .arg(&self.file)
            .arg("--state-dir")
            .arg(&self.state)
            .arg("--listener")
            .arg("http://127.0.0.1:0")
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn weft mirror-maker");
        let stderr = child.stderr.take().unwrap();
        let log = self.log.clone();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(rest) =
                    line.strip_prefix("weft: mirror-maker REST listening on http://")
                {
                    if let Some(p) = rest.rsplit(':').next().and_then(|p| p.parse().ok()) {
                        let _ = tx.send(p);
                    }
                }
                if let Ok(mut l) = log.lock() {
                    l.push_str(&line);
                    l.push('\n');
                }
            }
        });
        self.port = rx.recv_timeout(T).unwrap_or_else(|_| {
            let _ = child.kill();
            panic!("mirror-maker did not start; log:\n{}", self.log_text())
        });
        self.child = Some(child);
        // The binary prints a fatal error as a line starting `error: `.
        let failed = |log: &str| log.lines().any(|l| l.starts_with("error: "));
        assert!(
            wait_until(T, || {
                let log = self.log_text();
                log.contains("weft: mirror-maker running flows") || failed(&log)
            }),
            "flows not started; log:\n{}",
            self.log_text()
        );
        assert!(
            !failed(&self.log_text()),
            "mirror-maker failed: {}",
            self.log_text()
        );
    }

    fn log_text(&self) -> String {
        self.log.lock().map(|l| l.clone()).unwrap_or_default()
    }

    fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    fn restart(&mut self) {
        self.log.lock().map(|mut l| l.clear()).ok();
        self.spawn();
    }

    fn flows(&self) -> Vec<Value> {
        let (code, v) = http(self.port, "GET", "/flows", None);
        assert_eq!(code, 200, "{v}");
        v.as_array().cloned().unwrap_or_default()
    }

    fn flow(&self, name: &str) -> Value {
        self.flows()
            .into_iter()
            .find(|f| f["flow"] == name)
            .unwrap_or_else(|| panic!("no flow {name}"))
    }
}

impl Drop for MirrorMaker {
    fn drop(&mut self) {
        self.kill9();
    }
}

fn mm2(clusters: &[(&str, &Weft)], flows: &[&str], extra: &str) -> String {
    let mut s = format!(
        "clusters = {}\n",
        clusters.iter().map(|c| c.0).collect::<Vec<_>>().join(", ")
    );
    for (a, w) in clusters {
        s.push_str(&format!("{a}.bootstrap.servers = {}\n", w.bootstrap()));
    }
    for f in flows {
        s.push_str(&format!("{f}.enabled = true\n"));
    }
    s.push_str(
        "refresh.topics.interval.seconds = 3\n\
         refresh.groups.interval.seconds = 2\n\
         sync.topic.configs.interval.seconds = 3\n\
         emit.checkpoints.interval.seconds = 1\n\
         emit.heartbeats.interval.seconds = 1\n\
         sync.group.offsets.interval.seconds = 1\n\
         offset.lag.max = 10\n",
    );
    s.push_str(extra);
    s
}

// ---------------------------------------------------------------------------------------------
// Clients.

fn admin(bootstrap: &str) -> AdminClient<DefaultClientContext> {
    ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .create()
        .expect("admin client")
}

fn block<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
}

fn create_topic(bootstrap: &str, name: &str, partitions: i32, configs: &[(&str, &str)]) {
    let mut t = NewTopic::new(name, partitions, TopicReplication::Fixed(1));
    for (k, v) in configs {
        t = t.set(k, v);
    }
    let r = block(
        admin(bootstrap).create_topics(&[t], &AdminOptions::new().operation_timeout(Some(OP))),
    )
    .expect("create_topics");
    assert!(r[0].is_ok(), "create {name}: {r:?}");
}

fn topic_config(bootstrap: &str, topic: &str, key: &str) -> Option<String> {
    let r = block(admin(bootstrap).describe_configs(
        &[ResourceSpecifier::Topic(topic)],
        &AdminOptions::new().operation_timeout(Some(OP)),
    ))
    .ok()?;
    r.into_iter()
        .next()?
        .ok()?
        .get(key)
        .and_then(|e| e.value.clone())
}

/// Topic name → partition count.
fn topics(bootstrap: &str) -> BTreeMap<String, usize> {
    let c: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .create()
        .unwrap();
    c.fetch_metadata(None, OP)
        .map(|md| {
            md.topics()
                .iter()
                .filter(|t| t.error().is_none())
                .map(|t| (t.name().to_string(), t.partitions().len()))
                .collect()
        })
        .unwrap_or_default()
}

fn producer(bootstrap: &str) -> BaseProducer {
    ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("linger.ms", "5")
        .create()
        .expect("producer")
}

/// A record as read back: partition, key, value, headers, timestamp.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Rec {
    partition: i32,
    offset: i64,
    key: Option<Vec<u8>>,
    value: Option<Vec<u8>>,
    headers: Vec<(String, Vec<u8>)>,
    timestamp: Option<i64>,
}

/// Produces `n` records `{prefix}-{i}` to `topic`, record i to partition i % partitions, with a
/// header and a fixed timestamp.
fn produce(bootstrap: &str, topic: &str, prefix: &str, range: std::ops::Range<usize>, parts: i32) {
    send_all(&producer(bootstrap), topic, prefix, range, parts);
}

/// Every record of `topic` on every partition, read from the beginning until `done`.
fn read_topic(
    bootstrap: &str,
    topic: &str,
    timeout: Duration,
    done: impl Fn(&[Rec]) -> bool,
) -> Vec<Rec> {
    let c: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", "e2e-mirror-reader")
        .set("enable.auto.commit", "false")
        .create()
        .unwrap();
    let deadline = Instant::now() + timeout;
    let mut out = Vec::new();
    let mut assigned = 0;
    while Instant::now() < deadline {
        let parts = topics(bootstrap).get(topic).copied().unwrap_or(0);
        if parts > assigned {
            let mut tpl = TopicPartitionList::new();
            for p in 0..parts as i32 {
                tpl.add_partition_offset(topic, p, Offset::Beginning)
                    .unwrap();
            }
            c.assign(&tpl).unwrap();
            out.clear();
            assigned = parts;
        }
        if assigned == 0 {
            std::thread::sleep(Duration::from_millis(200));
            continue;
        }
        let until = Instant::now() + Duration::from_millis(500);
        while Instant::now() < until {
            if let Some(Ok(m)) = c.poll(Duration::from_millis(100)) {
                out.push(rec_of(&m));
            }
        }
        if done(&out) {
            break;
        }
    }
    out
}

fn rec_of(m: &rdkafka::message::BorrowedMessage<'_>) -> Rec {
    Rec {
        partition: m.partition(),
        offset: m.offset(),
        key: m.key().map(<[u8]>::to_vec),
        value: m.payload().map(<[u8]>::to_vec),
        headers: m
            .headers()
            .map(|h| {
                h.iter()
                    .map(|x| (x.key.to_string(), x.value.unwrap_or_default().to_vec()))
                    .collect()
            })
            .unwrap_or_default(),
        timestamp: m.timestamp().to_millis(),
    }
}

fn by_partition(rs: &[Rec]) -> BTreeMap<i32, Vec<Rec>> {
    let mut m: BTreeMap<i32, Vec<Rec>> = BTreeMap::new();
    for r in rs {
        m.entry(r.partition).or_default().push(r.clone());
    }
    for v in m.values_mut() {
        v.sort_by_key(|r| r.offset);
    }
    m
}

/// `dst` holds `src`'s records partition by partition: count, key, value, headers, timestamp and
/// order (and offset, with `offsets`).
fn assert_same_records(src: &[Rec], dst: &[Rec], offsets: bool) {
    let (sp, dp) = (by_partition(src), by_partition(dst));
    for (p, s) in &sp {
        let d = &dp[p];
        assert_eq!(s.len(), d.len(), "partition {p} count");
        for (x, y) in s.iter().zip(d) {
            assert_eq!(
                (&x.key, &x.value, &x.headers, x.timestamp),
                (&y.key, &y.value, &y.headers, y.timestamp),
                "partition {p}: record and order"
            );
            if offsets {
                assert_eq!(x.offset, y.offset, "partition {p}: offset");
            }
        }
    }
}

fn values(rs: &[Rec]) -> BTreeSet<String> {
    rs.iter()
        .filter_map(|r| r.value.as_ref())
        .map(|v| String::from_utf8_lossy(v).to_string())
        .collect()
}

// ---------------------------------------------------------------------------------------------
// MM2's record formats, decoded from the description.

struct Cur<'a>(&'a [u8]);

impl Cur<'_> {
    fn take(&mut self, n: usize) -> &[u8] {
        assert!(self.0.len() >= n, "record too short");
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        a
    }
    fn i16(&mut self) -> i16 {
        i16::from_be_bytes(self.take(2).try_into().unwrap())
    }
    fn i32(&mut self) -> i32 {
        i32::from_be_bytes(self.take(4).try_into().unwrap())
    }
    fn i64(&mut self) -> i64 {
        i64::from_be_bytes(self.take(8).try_into().unwrap())
    }
    fn string(&mut self) -> String {
        let n = self.i16();
        assert!(n >= 0);
        String::from_utf8(self.take(n as usize).to_vec()).unwrap()
    }
    fn end(&self) {
        assert!(self.0.is_empty(), "{} bytes left over", self.0.len());
    }
}

/// (source alias, target alias, timestamp).
fn decode_heartbeat(k: &[u8], v: &[u8]) -> (String, String, i64) {
    let mut k = Cur(k);
    let (s, t) = (k.string(), k.string());
    k.end();
    let mut v = Cur(v);
    assert_eq!(v.i16(), 0, "heartbeat version");
    let ts = v.i64();
    v.end();
    (s, t, ts)
}

/// (group, topic, partition, upstream, downstream, metadata).
fn decode_checkpoint(k: &[u8], v: &[u8]) -> (String, String, i32, i64, i64, String) {
    let mut k = Cur(k);
    let (g, t, p) = (k.string(), k.string(), k.i32());
    k.end();
    let mut v = Cur(v);
    assert_eq!(v.i16(), 0, "checkpoint version");
    let (up, down, meta) = (v.i64(), v.i64(), v.string());
    v.end();
    (g, t, p, up, down, meta)
}

/// (topic, partition, upstream, downstream).
fn decode_offset_sync(k: &[u8], v: &[u8]) -> (String, i32, i64, i64) {
    let mut k = Cur(k);
    let (t, p) = (k.string(), k.i32());
    k.end();
    let mut v = Cur(v);
    let (up, down) = (v.i64(), v.i64());
    v.end();
    (t, p, up, down)
}

fn encode_string(out: &mut Vec<u8>, s: &str) {
    out.extend_from_slice(&(s.len() as i16).to_be_bytes());
    out.extend_from_slice(s.as_bytes());
}

// ---------------------------------------------------------------------------------------------
// Consumer groups.

fn group_consumer(bootstrap: &str, group: &str) -> BaseConsumer {
    ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", group)
        .set("enable.auto.commit", "false")
        .set("auto.offset.reset", "earliest")
        .create()
        .unwrap()
}

/// Reads `n` records of `topic` from the beginning as `group` (assigned partitions), commits
/// and returns them.
fn consume_and_commit(
    bootstrap: &str,
    topic: &str,
    parts: i32,
    group: &str,
    per_partition: i64,
) -> Vec<Rec> {
    let c = group_consumer(bootstrap, group);
    let mut tpl = TopicPartitionList::new();
    for p in 0..parts {
        tpl.add_partition_offset(topic, p, Offset::Beginning)
            .unwrap();
    }
    c.assign(&tpl).unwrap();
    let mut out = Vec::new();
    let mut next: BTreeMap<i32, i64> = BTreeMap::new();
    assert!(wait_until(T, || {
        if let Some(Ok(m)) = c.poll(Duration::from_millis(100)) {
            if m.offset() < per_partition {
                out.push(rec_of(&m));
                next.insert(m.partition(), m.offset() + 1);
            }
        }
        (0..parts).all(|p| next.get(&p) == Some(&per_partition))
    }));
    let mut commit = TopicPartitionList::new();
    for (p, o) in &next {
        commit
            .add_partition_offset(topic, *p, Offset::Offset(*o))
            .unwrap();
    }
    c.commit(&commit, CommitMode::Sync).unwrap();
    out
}

/// `weft mirror-maker translate-offsets`: (topic, partition) → downstream offset.
fn translate(file: &Path, group: &str) -> BTreeMap<(String, i32), i64> {
    let (ok, out, err) = weft_cmd(
        &[
            "mirror-maker",
            "translate-offsets",
            file.to_str().unwrap(),
            "--group",
            group,
            "--source",
            "A",
            "--target",
            "B",
        ],
        None,
    );
    if !ok {
        // Not there yet (no checkpoints topic): the caller waits.
        eprintln!("translate-offsets: {err}");
        return BTreeMap::new();
    }
    out.lines()
        .skip(1)
        .filter_map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            Some((
                (f.first()?.to_string(), f.get(1)?.parse().ok()?),
                f.get(2)?.parse().ok()?,
            ))
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// A latency proxy: every byte is held `delay` before it is passed on, each way.

struct Proxy {
    port: u16,
    stop: Arc<AtomicBool>,
}

impl Proxy {
    /// Listens on a free port; connections go to `127.0.0.1:upstream()` (read at connect time,
    /// so the proxy can be started before the broker it fronts).
    fn start(delay: Duration, upstream: Arc<Mutex<u16>>) -> Proxy {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let stop = Arc::new(AtomicBool::new(false));
        let s = stop.clone();
        std::thread::spawn(move || {
            for conn in l.incoming() {
                if s.load(Ordering::Relaxed) {
                    break;
                }
                let Ok(client) = conn else { continue };
                let up = *upstream.lock().unwrap();
                let Ok(server) = TcpStream::connect(("127.0.0.1", up)) else {
                    continue;
                };
                client.set_nodelay(true).ok();
                server.set_nodelay(true).ok();
                pipe(
                    client.try_clone().unwrap(),
                    server.try_clone().unwrap(),
                    delay,
                );
                pipe(server, client, delay);
            }
        });
        Proxy { port, stop }
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

/// Copies `from` to `to`, each chunk delivered `delay` after it was read.
fn pipe(mut from: TcpStream, mut to: TcpStream, delay: Duration) {
    let (tx, rx) = mpsc::channel::<(Instant, Vec<u8>)>();
    std::thread::spawn(move || {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            match from.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if tx
                        .send((Instant::now() + delay, buf[..n].to_vec()))
                        .is_err()
                    {
                        break;
                    }
                }
            }
        }
    });
    std::thread::spawn(move || {
        for (at, chunk) in rx {
            let now = Instant::now();
            if at > now {
                std::thread::sleep(at - now);
            }
            if to.write_all(&chunk).is_err() {
                break;
            }
        }
        let _ = to.shutdown(std::net::Shutdown::Both);
    });
}

// ---------------------------------------------------------------------------------------------
// Tests.

#[test]
fn bad_mm2_files_stop_start_up_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let base =
        "clusters = A, B\nA.bootstrap.servers = 127.0.0.1:1\nB.bootstrap.servers = 127.0.0.1:1\n";
    for (text, key) in [
        (format!("{base}A->B.enabled = true\nA->C.enabled = true\n"), "A->C.enabled"),
        (format!("{base}A->B.enabled = true\nA->B.topics = orders, (bad\n"), "A->B.topics"),
        (format!("{base}A->B.enabled = true\ngroups.exclude = [z-a]\n"), "groups.exclude"),
        (
            "clusters = A, B\nA.bootstrap.servers = 127.0.0.1:1\nA->B.enabled = true\n".to_string(),
            "B.bootstrap.servers",
        ),
        (
            format!(
                "{base}A->B.enabled = true\nB->A.enabled = true\n\
                 replication.policy.class = org.apache.kafka.connect.mirror.IdentityReplicationPolicy\n"
            ),
            "A->B.enabled",
        ),
    ] {
        let file = dir.path().join("mm2.properties");
        std::fs::write(&file, &text).unwrap();
        let (ok, _, err) = weft_cmd(
            &[
                "mirror-maker",
                file.to_str().unwrap(),
                "--state-dir",
                dir.path().join("state").to_str().unwrap(),
                "--listener",
                "http://127.0.0.1:0",
            ],
            None,
        );
        assert!(!ok, "start-up must fail for {key}");
        assert!(err.contains(key), "the error must name {key}: {err}");
        assert!(
            !err.contains("REST listening"),
            "nothing may start before the file is valid: {err}"
        );
    }
    // The same check through YAML.
    let file = dir.path().join("mm2.yaml");
    std::fs::write(
        &file,
        "clusters: [A, B]\nA.bootstrap.servers: 127.0.0.1:1\nB.bootstrap.servers: 127.0.0.1:1\nA->X.enabled: true\n",
    )
    .unwrap();
    let (ok, _, err) = weft_cmd(&["mirror-maker", file.to_str().unwrap()], None);
    assert!(!ok && err.contains("A->X.enabled"), "{err}");
}

#[test]
fn translate_offsets_prints_the_latest_checkpoint_per_partition() {
    let b = Weft::start(&[]);
    create_topic(
        &b.bootstrap(),
        "A.checkpoints.internal",
        1,
        &[("cleanup.policy", "compact")],
    );
    let p = producer(&b.bootstrap());
    // (group, topic, partition, upstream, downstream): later checkpoints supersede earlier ones.
    let cps: [(&str, &str, i32, i64, i64); 4] = [
        ("g1", "A.orders", 0, 10, 9),
        ("g1", "A.orders", 1, 20, 18),
        ("g2", "A.orders", 0, 99, 97),
        ("g1", "A.orders", 0, 50, 48),
    ];
    for (g, t, part, up, down) in cps {
        let mut k = Vec::new();
        encode_string(&mut k, g);
        encode_string(&mut k, t);
        k.extend_from_slice(&part.to_be_bytes());
        let mut v = 0i16.to_be_bytes().to_vec();
        v.extend_from_slice(&up.to_be_bytes());
        v.extend_from_slice(&down.to_be_bytes());
        encode_string(&mut v, "");
        p.send(BaseRecord::to("A.checkpoints.internal").key(&k).payload(&v))
            .map_err(|(e, _)| e)
            .unwrap();
    }
    p.flush(T).unwrap();
    let (ok, out, err) = weft_cmd(
        &[
            "mirror-maker",
            "translate-offsets",
            "--group",
            "g1",
            "--source",
            "A",
            "--target",
            "B",
            "--bootstrap-server",
            &b.bootstrap(),
        ],
        None,
    );
    assert!(ok, "{err}");
    let rows: Vec<&str> = out.lines().collect();
    assert_eq!(
        rows,
        [
            "TOPIC\tPARTITION\tOFFSET\tUPSTREAM-OFFSET\tMETADATA",
            "A.orders\t0\t48\t50\t",
            "A.orders\t1\t18\t20\t"
        ]
    );
    // The mm2 file names the target's bootstrap instead.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("mm2.properties");
    std::fs::write(
        &file,
        format!(
            "clusters = A, B\nA.bootstrap.servers = 127.0.0.1:1\nB.bootstrap.servers = {}\n",
            b.bootstrap()
        ),
    )
    .unwrap();
    let t = translate(&file, "g2");
    assert_eq!(t, BTreeMap::from([(("A.orders".to_string(), 0), 97)]));
}

#[test]
fn a_to_b_mirrors_records_topics_configs_and_internal_topics() {
    let a = Weft::start(&[]);
    let b = Weft::start(&[]);
    let (ab, bb) = (a.bootstrap(), b.bootstrap());
    create_topic(&ab, "orders", 3, &[]);
    create_topic(&ab, "orders-secret", 1, &[]);
    create_topic(&ab, "cfg", 1, &[("retention.ms", "123456789")]);
    produce(&ab, "orders", "o", 0..300, 3);
    produce(&ab, "orders-secret", "s", 0..10, 1);
    produce(&ab, "cfg", "c", 0..5, 1);
    let dir = tempfile::tempdir().unwrap();
    let mm = MirrorMaker::start(
        dir.path(),
        &mm2(
            &[("A", &a), ("B", &b)],
            &["A->B"],
            "A->B.topics = orders.*, new-.*, cfg\nA->B.topics.exclude = orders-secret\n",
        ),
    );

    let src = read_topic(&ab, "orders", T, |r| r.len() >= 300);
    let dst = read_topic(&bb, "A.orders", T, |r| r.len() >= 300);
    assert_eq!(dst.len(), 300, "mirrored count");
    assert_eq!(topics(&bb).get("A.orders"), Some(&3));
    assert_same_records(&src, &dst, false);

    // A topic created later appears within the refresh interval, with its partition count.
    create_topic(&ab, "new-topic", 4, &[]);
    produce(&ab, "new-topic", "n", 0..20, 4);
    let n = read_topic(&bb, "A.new-topic", T, |r| r.len() >= 20);
    assert_eq!(n.len(), 20);
    assert_eq!(topics(&bb).get("A.new-topic"), Some(&4));
    // By now at least one refresh has passed: the excluded topic is not there.
    let on_b = topics(&bb);
    assert!(!on_b.contains_key("A.orders-secret"), "{on_b:?}");
    assert!(!on_b.keys().any(|t| t.contains("secret")), "{on_b:?}");

    // Topic configs are synced.
    assert!(
        wait_until(T, || topic_config(&bb, "A.cfg", "retention.ms").as_deref()
            == Some("123456789")),
        "retention.ms of A.cfg on B: {:?}",
        topic_config(&bb, "A.cfg", "retention.ms")
    );

    // MM2's internal topics, decoded with MM2's schemas.
    let hb = read_topic(&bb, "heartbeats", T, |r| !r.is_empty());
    let (s, t, ts) = decode_heartbeat(
        hb[0].key.as_deref().unwrap(),
        hb[0].value.as_deref().unwrap(),
    );
    assert_eq!((s.as_str(), t.as_str()), ("A", "B"));
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    assert!(
        (now - ts).abs() < 600_000,
        "heartbeat timestamp {ts} vs now {now}"
    );
    let syncs = read_topic(&ab, "mm2-offset-syncs.B.internal", T, |r| {
        r.iter()
            .map(|r| decode_offset_sync(r.key.as_deref().unwrap(), r.value.as_deref().unwrap()))
            .filter(|(t, _, up, _)| t == "orders" && *up == 0)
            .count()
            >= 3
    });
    let decoded: Vec<_> = syncs
        .iter()
        .map(|r| decode_offset_sync(r.key.as_deref().unwrap(), r.value.as_deref().unwrap()))
        .collect();
    for p in 0..3 {
        assert!(
            decoded.contains(&("orders".to_string(), p, 0, 0)),
            "first-record sync of orders-{p}: {decoded:?}"
        );
    }

    // Status: the flow's lag reaches 0 with every record counted; /metrics has the connectors.
    assert!(
        wait_until(T, || {
            let f = mm.flow("A->B");
            f["source_reachable"] == true
                && f["lag"] == 0
                && f["partitions"].as_array().is_some_and(|p| p.len() >= 3)
        }),
        "{}",
        mm.flow("A->B")
    );
    let f = mm.flow("A->B");
    assert!(f["records_total"].as_u64().unwrap() >= 325, "{f}");
    let scrape = || {
        let mut s = TcpStream::connect(("127.0.0.1", mm.port)).unwrap();
        s.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .unwrap();
        common::read_all(s)
    };
    let metrics = scrape();
    assert!(
        metrics.contains("weft_connect_task_state{connector=\"A->B.MirrorSourceConnector\""),
        "{metrics}"
    );
    // What the plugin reports about itself (its lag gauges and record counter) is exported too,
    // published by the task about once a second.
    let plugin_line = |text: &str, family: &str, metric: &str| -> Option<f64> {
        text.lines()
            .find(|l| {
                l.starts_with(&format!("{family}{{"))
                    && l.contains("connector=\"A->B.MirrorSourceConnector\"")
                    && l.contains(&format!("metric=\"{metric}\""))
            })
            .and_then(|l| l.rsplit(' ').next()?.parse().ok())
    };
    assert!(
        wait_until(T, || {
            let m = scrape();
            plugin_line(&m, "weft_connect_plugin_gauge", "mirror.lag") == Some(0.0)
                && plugin_line(&m, "weft_connect_plugin_gauge", "mirror.lag.orders.0") == Some(0.0)
                && plugin_line(&m, "weft_connect_plugin_counter_total", "mirror.records")
                    .is_some_and(|n| n >= 325.0)
        }),
        "{}",
        scrape()
    );
    let (code, st) = http(
        mm.port,
        "GET",
        "/clusters/B/connectors/A-%3EB.MirrorSourceConnector/status",
        None,
    );
    assert_eq!(code, 200, "{st}");
    assert_eq!(st["connector"]["state"], "RUNNING");
    assert!(
        st["tasks"][0]["metrics"]["plugin_counters"]["mirror.records"].is_u64(),
        "the plugin's own counters are in the task's status: {st}"
    );
    let (ok, out, err) = weft_cmd(
        &[
            "mirror-maker",
            "status",
            "--url",
            &format!("http://127.0.0.1:{}", mm.port),
        ],
        None,
    );
    assert!(ok, "{err}");
    assert!(
        out.contains("A->B:") && out.contains("orders\t0\t"),
        "{out}"
    );
}

/// Consumes from B what a group's translated offsets give, and checks against what it read on A.
fn check_failover(
    bb: &str,
    topic: &str,
    translated: &BTreeMap<(String, i32), i64>,
    read_on_a: &[Rec],
    all: &BTreeSet<String>,
    lag_max: usize,
    parts: i32,
) {
    let c = group_consumer(bb, "e2e-failover-check");
    let mut tpl = TopicPartitionList::new();
    for p in 0..parts {
        let o = translated
            .get(&(topic.to_string(), p))
            .copied()
            .unwrap_or_else(|| panic!("no translated offset for {topic}-{p}: {translated:?}"));
        tpl.add_partition_offset(topic, p, Offset::Offset(o))
            .unwrap();
    }
    c.assign(&tpl).unwrap();
    let mut on_b = Vec::new();
    let before = values(read_on_a);
    assert!(
        wait_until(T, || {
            if let Some(Ok(m)) = c.poll(Duration::from_millis(100)) {
                on_b.push(rec_of(&m));
            }
            before.union(&values(&on_b)).count() >= all.len()
        }),
        "records skipped: {} of {}",
        before.union(&values(&on_b)).count(),
        all.len()
    );
    let dups = values(&on_b).intersection(&before).count();
    assert!(
        dups <= lag_max * parts as usize,
        "{dups} duplicates, more than offset.lag.max ({lag_max}) per partition"
    );
}

#[test]
fn failover_with_translated_and_synced_offsets() {
    let a = Weft::start(&[]);
    let b = Weft::start(&[]);
    let (ab, bb) = (a.bootstrap(), b.bootstrap());
    create_topic(&ab, "orders", 2, &[]);
    produce(&ab, "orders", "o", 0..400, 2);
    // g-far commits before the mirror starts and stays far behind the flow.
    let far_read = consume_and_commit(&ab, "orders", 2, "g-far", 5);
    let dir = tempfile::tempdir().unwrap();
    let mm = MirrorMaker::start(
        dir.path(),
        &mm2(
            &[("A", &a), ("B", &b)],
            &["A->B"],
            "A->B.sync.group.offsets.enabled = true\n",
        ),
    );
    // The flow moves on past both groups.
    produce(&ab, "orders", "o", 400..800, 2);
    let all: BTreeSet<String> = (0..800).map(|i| format!("o-{i}")).collect();
    let mirrored = read_topic(&bb, "A.orders", T, |r| r.len() >= 800);
    assert_eq!(values(&mirrored), all);
    // g1 reads most of what is there, as an application running beside the flow does.
    let g1_read = consume_and_commit(&ab, "orders", 2, "g1", 395);

    let file = dir.path().join("mm2.properties");
    for (group, read, committed) in [("g1", &g1_read, 395), ("g-far", &far_read, 5)] {
        // Early checkpoints may be coarse (translated from the first sync only); they must never
        // be ahead of the group, and within a few checkpoint intervals they come within
        // offset.lag.max of it.
        let mut t = BTreeMap::new();
        let mut ahead = Vec::new();
        let close = wait_until(T, || {
            t = translate(&file, group);
            for ((_, p), o) in &t {
                if *o > committed {
                    ahead.push((*p, *o));
                }
            }
            (0..2).all(|p| {
                t.get(&("A.orders".to_string(), p))
                    .is_some_and(|o| *o <= committed && committed - o <= 10)
            })
        });
        assert!(
            ahead.is_empty(),
            "{group}: translated past its offset {committed}: {ahead:?}"
        );
        assert!(
            close,
            "{group}: translated offsets {t:?} not within offset.lag.max (10) of {committed}; \
             status {}\nlog:\n{}",
            mm.flow("A->B"),
            mm.log_text()
        );
        check_failover(&bb, "A.orders", &t, read, &all, 10, 2);

        // With sync enabled the group's offsets are already on B.
        let c = group_consumer(&bb, group);
        let mut tpl = TopicPartitionList::new();
        for p in 0..2 {
            tpl.add_partition("A.orders", p);
        }
        let mut synced = BTreeMap::new();
        assert!(
            wait_until(T, || {
                synced = c
                    .committed_offsets(tpl.clone(), OP)
                    .map(|l| {
                        l.elements()
                            .iter()
                            .filter_map(|e| match e.offset() {
                                Offset::Offset(o) => {
                                    Some((("A.orders".to_string(), e.partition()), o))
                                }
                                _ => None,
                            })
                            .collect::<BTreeMap<_, _>>()
                    })
                    .unwrap_or_default();
                synced.len() == 2
            }),
            "{group}'s offsets were not synced to B"
        );
        check_failover(&bb, "A.orders", &synced, read, &all, 10, 2);
    }

    // The checkpoints topic decodes with MM2's schema and is monotonic per group and partition.
    let cps = read_topic(&bb, "A.checkpoints.internal", T, |r| !r.is_empty());
    let mut last: BTreeMap<(String, String, i32), (i64, i64)> = BTreeMap::new();
    for r in &cps {
        let (g, t, p, up, down, _) =
            decode_checkpoint(r.key.as_deref().unwrap(), r.value.as_deref().unwrap());
        assert_eq!(t, "A.orders");
        if let Some((u0, d0)) = last.insert((g.clone(), t, p), (up, down)) {
            assert!(up >= u0 && down >= d0, "checkpoints of {g} went back");
        }
    }
}

#[test]
fn active_active_has_no_loops() {
    let a = Weft::start(&[]);
    let b = Weft::start(&[]);
    let (ab, bb) = (a.bootstrap(), b.bootstrap());
    create_topic(&ab, "t", 1, &[]);
    create_topic(&bb, "t", 1, &[]);
    produce(&ab, "t", "from-a", 0..50, 1);
    produce(&bb, "t", "from-b", 0..50, 1);
    let dir = tempfile::tempdir().unwrap();
    let mm = MirrorMaker::start(
        dir.path(),
        &mm2(&[("A", &a), ("B", &b)], &["A->B", "B->A"], ""),
    );
    assert_eq!(read_topic(&bb, "A.t", T, |r| r.len() >= 50).len(), 50);
    assert_eq!(read_topic(&ab, "B.t", T, |r| r.len() >= 50).len(), 50);
    // Quiescence: several topic refreshes pass (heartbeats at 1/s, refresh every 3 s).
    let hb = |bs: &str| read_topic(bs, "A.heartbeats", Duration::from_secs(5), |_| false).len();
    let start = hb(&bb);
    assert!(
        wait_until(T, || hb(&bb) >= start + 8),
        "heartbeats stopped flowing"
    );
    for (bs, own) in [(&ab, "A"), (&bb, "B")] {
        let names = topics(bs);
        for n in names.keys() {
            assert!(
                !n.starts_with("A.B.") && !n.starts_with("B.A."),
                "a looped topic {n} on {own}: {names:?}"
            );
        }
    }
    assert_eq!(
        read_topic(&bb, "A.t", Duration::from_secs(5), |_| false).len(),
        50
    );
    assert_eq!(
        read_topic(&ab, "B.t", Duration::from_secs(5), |_| false).len(),
        50
    );
    assert_eq!(
        read_topic(&ab, "t", Duration::from_secs(5), |_| false).len(),
        50
    );
    assert_eq!(
        read_topic(&bb, "t", Duration::from_secs(5), |_| false).len(),
        50
    );
    assert!(mm.flows().len() == 2);
}

#[test]
fn kill9_and_restart_resumes_without_loss() {
    let a = Weft::start(&[]);
    let b = Weft::start(&[]);
    let (ab, bb) = (a.bootstrap(), b.bootstrap());
    create_topic(&ab, "orders", 2, &[]);
    produce(&ab, "orders", "o", 0..1000, 2);
    let dir = tempfile::tempdir().unwrap();
    let mut mm = MirrorMaker::start(dir.path(), &mm2(&[("A", &a), ("B", &b)], &["A->B"], ""));
    // Killed once part of the data is across (and its positions had a chance to be flushed).
    read_topic(&bb, "A.orders", T, |r| !r.is_empty());
    mm.kill9();
    produce(&ab, "orders", "o", 1000..2000, 2);
    mm.restart();
    let all: BTreeSet<String> = (0..2000).map(|i| format!("o-{i}")).collect();
    let got = read_topic(&bb, "A.orders", T, |r| values(r).len() >= 2000);
    assert_eq!(values(&got), all, "records lost across kill -9");
    // Order per partition holds for the first copy of each record.
    for (p, rs) in by_partition(&got) {
        let mut seen = BTreeSet::new();
        let firsts: Vec<i64> = rs
            .iter()
            .filter(|r| seen.insert(r.value.clone()))
            .map(|r| {
                String::from_utf8_lossy(r.value.as_deref().unwrap())[2..]
                    .parse()
                    .unwrap()
            })
            .collect();
        assert!(
            firsts.windows(2).all(|w| w[0] < w[1]),
            "partition {p} out of order"
        );
    }
}

#[test]
fn exactly_once_mirroring_survives_kill9_without_duplicates_or_aborted_records() {
    const N: usize = 300_000;
    let a = Weft::start(&[]);
    let b = Weft::start(&[]);
    let (ab, bb) = (a.bootstrap(), b.bootstrap());
    create_topic(&ab, "orders", 2, &[]);
    // A transaction aborted on A: read committed (the mirror's default with exactly-once on),
    // its records are never copied.
    let txn: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", &ab)
        .set("transactional.id", "e2e-aborter")
        .create()
        .expect("transactional producer");
    txn.init_transactions(T).unwrap();
    txn.begin_transaction().unwrap();
    for i in 0..10 {
        let v = format!("aborted-{i}");
        txn.send(
            BaseRecord::<(), str>::to("orders")
                .payload(&v)
                .partition(i % 2),
        )
        .unwrap();
    }
    txn.flush(T).unwrap();
    txn.abort_transaction(T).unwrap();
    produce(&ab, "orders", "o", 0..N, 2);
    let dir = tempfile::tempdir().unwrap();
    let mut mm = MirrorMaker::start(
        dir.path(),
        &mm2(
            &[("A", &a), ("B", &b)],
            &["A->B"],
            "exactly.once.source.support = enabled\noffset.flush.interval.ms = 600000\n",
        ),
    );
    let reader: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", &bb)
        .create()
        .unwrap();
    // The end offset of B's A.orders-p (0 before it exists), and of both partitions.
    let end = |p: i32| {
        reader
            .fetch_watermarks("A.orders", p, Duration::from_secs(10))
            .map(|w| w.1)
            .unwrap_or(0)
    };
    let stored = || end(0) + end(1);
    // Killed twice mid-copy: the local offsets file is never flushed, so each restart resumes
    // from the positions committed with the records on B.
    for round in 1..=2 {
        let threshold = round * N as i64 / 4;
        assert!(
            wait_until(T, || stored() > threshold),
            "round {round}: copying stopped; log:\n{}",
            mm.log_text()
        );
        mm.kill9();
        mm.restart();
    }
    let values_read_committed = || -> Vec<(i32, String)> {
        common::read_to_end(&bb, "A.orders", "read_committed")
            .into_iter()
            .map(|(p, _, v)| (p, String::from_utf8(v.unwrap_or_default()).unwrap()))
            .collect()
    };
    assert!(
        wait_until(T, || values_read_committed().len() >= N),
        "the copy never completed; log:\n{}",
        mm.log_text()
    );
    std::thread::sleep(Duration::from_secs(2));
    let got = values_read_committed();
    assert_eq!(got.len(), N, "duplicates or losses read committed on B");
    // Each partition holds its source partition's records once, in order.
    for part in 0..2 {
        let expected: Vec<String> = (0..N)
            .filter(|i| (*i as i32) % 2 == part)
            .map(|i| format!("o-{i}"))
            .collect();
        let copied: Vec<String> = got
            .iter()
            .filter(|(p, _)| *p == part)
            .map(|(_, v)| v.clone())
            .collect();
        assert!(copied == expected, "partition {part} differs from A's");
    }
    // Offset syncs still flow with transactions, each naming a record B committed: its
    // downstream offset below B's end, and per partition never going back.
    let syncs = read_topic(&ab, "mm2-offset-syncs.B.internal", T, |r| !r.is_empty());
    let mut last: BTreeMap<i32, i64> = BTreeMap::new();
    for r in &syncs {
        let (t, p, _, down) =
            decode_offset_sync(r.key.as_deref().unwrap(), r.value.as_deref().unwrap());
        assert_eq!(t, "orders");
        assert!(down < end(p), "partition {p}: sync past B's end: {down}");
        let prev = last.insert(p, down).unwrap_or(-1);
        assert!(
            down >= prev,
            "partition {p}: sync went back from {prev} to {down}"
        );
    }
    assert!(!syncs.is_empty(), "no offset syncs with exactly-once on");
    eprintln!(
        "B stored {} records for {N} committed; {} offset syncs; flow {}",
        stored(),
        syncs.len(),
        mm.flow("A->B")
    );
}

#[test]
fn a_source_down_is_retried_and_shown_while_other_flows_run() {
    let a = Weft::start(&[]);
    let mut c = Weft::start(&[]);
    let b = Weft::start(&[]);
    let (ab, bb, cb) = (a.bootstrap(), b.bootstrap(), c.bootstrap());
    create_topic(&ab, "ta", 1, &[]);
    create_topic(&cb, "tc", 1, &[]);
    produce(&cb, "tc", "c", 0..20, 1);
    c.kill9();
    produce(&ab, "ta", "a", 0..20, 1);
    let dir = tempfile::tempdir().unwrap();
    let mm = MirrorMaker::start(
        dir.path(),
        &mm2(&[("A", &a), ("B", &b), ("C", &c)], &["A->B", "C->B"], ""),
    );
    assert_eq!(read_topic(&bb, "A.ta", T, |r| r.len() >= 20).len(), 20);
    assert!(
        wait_until(T, || {
            let f = mm.flow("C->B");
            f["source_reachable"] == false
                && f["source_error"].as_str().is_some_and(|e| !e.is_empty())
        }),
        "{}",
        mm.flow("C->B")
    );
    // C comes back: its flow catches up without a restart of the mirror maker.
    c.restart();
    assert_eq!(read_topic(&bb, "C.tc", T, |r| r.len() >= 20).len(), 20);
    assert!(wait_until(T, || mm.flow("C->B")["source_reachable"] == true));
    // A goes away mid-flow: shown, and C's flow keeps running.
    let mut a = a;
    a.kill9();
    produce(&cb, "tc", "c", 20..40, 1);
    assert_eq!(read_topic(&bb, "C.tc", T, |r| r.len() >= 40).len(), 40);
    assert!(wait_until(T, || mm.flow("A->B")["source_reachable"] == false));
}

#[test]
fn slow_link_throughput_is_reported() {
    const N: usize = 20_000;
    let run = |delay: Option<Duration>| -> f64 {
        let upstream = Arc::new(Mutex::new(0u16));
        let proxy = delay.map(|d| Proxy::start(d, upstream.clone()));
        let adv = proxy
            .as_ref()
            .map(|p| format!("advertised.listeners=PLAINTEXT://127.0.0.1:{}", p.port));
        let overrides: Vec<&str> = adv.iter().map(String::as_str).collect();
        let a = Weft::start(&overrides);
        *upstream.lock().unwrap() = a.port;
        let b = Weft::start(&[]);
        let a_addr = match &proxy {
            Some(p) => format!("127.0.0.1:{}", p.port),
            None => a.bootstrap(),
        };
        // Produce directly to A (the proxy is only on the mirror's path when it is given A's
        // advertised address; the producer gets the same, so load before timing).
        create_topic(&a_addr, "bulk", 4, &[]);
        let p = producer(&a_addr);
        let payload = vec![b'x'; 100];
        for i in 0..N {
            let mut rec = BaseRecord::<(), [u8]>::to("bulk")
                .payload(&payload)
                .partition((i % 4) as i32);
            loop {
                match p.send(rec) {
                    Ok(()) => break,
                    Err((_, r)) => {
                        p.poll(Duration::from_millis(10));
                        rec = r;
                    }
                }
            }
        }
        p.flush(T).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let file_text = format!(
            "clusters = A, B\nA.bootstrap.servers = {a_addr}\nB.bootstrap.servers = {}\nA->B.enabled = true\n",
            b.bootstrap()
        );
        let start = Instant::now();
        let mm = MirrorMaker::start(dir.path(), &file_text);
        let got = read_topic(&b.bootstrap(), "A.bulk", Duration::from_secs(600), |r| {
            r.len() >= N
        });
        let secs = start.elapsed().as_secs_f64();
        assert_eq!(got.len(), N, "status {}", mm.flow("A->B"));
        drop(mm);
        N as f64 / secs
    };
    let direct = run(None);
    let slow = run(Some(Duration::from_millis(25)));
    eprintln!(
        "mirror throughput, {N} records of 100 B incl. start-up: direct {direct:.0} records/s, \
         through a 25 ms-each-way proxy {slow:.0} records/s ({:.0}%)",
        100.0 * slow / direct
    );
}

// ---------------------------------------------------------------------------------------------
// Batch passthrough.

/// One stored batch of a partition's log files: base offset, attributes, records section.
#[derive(Debug, Clone, PartialEq, Eq)]
struct StoredBatch {
    base_offset: i64,
    attributes: i16,
    records: Vec<u8>,
}

/// Every batch in `dir`/`topic`-`partition`'s segment files, read from the v2 layout (base
/// offset i64, length i32, ..., attributes i16 at byte 21, records from byte 61).
fn stored_batches(data: &Path, topic: &str, partition: i32) -> Vec<StoredBatch> {
    let dir = data.join(format!("{topic}-{partition}"));
    let mut logs: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("no partition directory {}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "log"))
        .collect();
    logs.sort();
    let mut out = Vec::new();
    for log in logs {
        let bytes = std::fs::read(&log).unwrap();
        let mut pos = 0;
        while pos + 61 <= bytes.len() {
            let base = i64::from_be_bytes(bytes[pos..pos + 8].try_into().unwrap());
            let len = i32::from_be_bytes(bytes[pos + 8..pos + 12].try_into().unwrap()) as usize;
            if len == 0 || pos + 12 + len > bytes.len() {
                break;
            }
            let b = &bytes[pos..pos + 12 + len];
            out.push(StoredBatch {
                base_offset: base,
                attributes: i16::from_be_bytes([b[21], b[22]]),
                records: b[61..].to_vec(),
            });
            pos += 12 + len;
        }
    }
    out
}

/// A producer that compresses with `codec` and fills large batches.
fn compressing_producer(bootstrap: &str, codec: &str) -> BaseProducer {
    ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("compression.type", codec)
        .set("linger.ms", "50")
        .set("batch.num.messages", "500")
        .create()
        .expect("producer")
}

fn send_all(
    p: &BaseProducer,
    topic: &str,
    prefix: &str,
    range: std::ops::Range<usize>,
    parts: i32,
) {
    for i in range {
        let (key, value, idx) = (
            format!("k-{prefix}-{i}"),
            format!("{prefix}-{i}"),
            i.to_string(),
        );
        let mut rec = BaseRecord::to(topic)
            .key(&key)
            .payload(&value)
            .partition(i as i32 % parts)
            .timestamp(1_700_000_000_000 + i as i64)
            .headers(OwnedHeaders::new().insert(Header {
                key: "idx",
                value: Some(idx.as_bytes()),
            }));
        loop {
            match p.send(rec) {
                Ok(()) => break,
                Err((_, r)) => {
                    p.poll(Duration::from_millis(20));
                    rec = r;
                }
            }
        }
        p.poll(Duration::ZERO);
    }
    p.flush(T).expect("flush");
}

#[test]
fn batch_passthrough_appends_the_sources_batches_unchanged() {
    let a = Weft::start(&[]);
    let b = Weft::start(&[]);
    let (ab, bb) = (a.bootstrap(), b.bootstrap());
    create_topic(&ab, "orders", 2, &[]);
    create_topic(&ab, "events", 1, &[]);
    create_topic(&ab, "txn", 1, &[]);
    send_all(
        &compressing_producer(&ab, "zstd"),
        "orders",
        "o",
        0..3000,
        2,
    );
    send_all(&compressing_producer(&ab, "lz4"), "events", "e", 0..500, 1);
    // Transactions on A, one aborted: read committed, only the committed ones are copied, and
    // no transaction marker or transactional batch reaches B.
    let txn: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", &ab)
        .set("transactional.id", "e2e-passthrough")
        .create()
        .expect("transactional producer");
    txn.init_transactions(T).unwrap();
    for (round, commit) in [(0, true), (1, false), (2, true)] {
        txn.begin_transaction().unwrap();
        send_all(&txn, "txn", &format!("t{round}"), 0..10, 1);
        if commit {
            txn.commit_transaction(T).unwrap();
        } else {
            txn.abort_transaction(T).unwrap();
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let mut mm = MirrorMaker::start(
        dir.path(),
        &mm2(
            &[("A", &a), ("B", &b)],
            &["A->B"],
            "A->B.batch.passthrough.enabled = true\n\
             A.consumer.isolation.level = read_committed\n",
        ),
    );

    // Records: the same keys, values, headers, timestamps and order per partition.
    let src = read_topic(&ab, "orders", T, |r| r.len() >= 3000);
    let dst = read_topic(&bb, "A.orders", T, |r| r.len() >= 3000);
    assert_eq!(dst.len(), 3000, "mirrored count; log:\n{}", mm.log_text());
    assert_same_records(&src, &dst, true);
    let events = read_topic(&bb, "A.events", T, |r| r.len() >= 500);
    assert_eq!(events.len(), 500);
    let copied = read_topic(&bb, "A.txn", T, |r| r.len() >= 20);
    let want: BTreeSet<String> = (0..10)
        .flat_map(|i| [format!("t0-{i}"), format!("t2-{i}")])
        .collect();
    assert_eq!(values(&copied), want, "committed transactions only");

    // The batches themselves: B stores A's batches, compressed records byte for byte.
    for (topic, parts, codec) in [("orders", 2, 4i16), ("events", 1, 3)] {
        for p in 0..parts {
            let on_a = stored_batches(a.data_dir(), topic, p);
            let on_b = stored_batches(b.data_dir(), &format!("A.{topic}"), p);
            assert!(!on_a.is_empty(), "{topic}-{p}: no batches on A");
            // librdkafka sends a batch uncompressed when compressing it would make it larger
            // (one of a record or two, which a loaded machine's timing can cut): such batches
            // are copied as they are too, but most must be compressed for the test to mean it.
            let compressed = on_a.iter().filter(|x| x.attributes & 7 == codec).count();
            let odd: Vec<(i64, i16, usize)> = on_a
                .iter()
                .filter(|x| x.attributes & 7 != codec)
                .map(|x| (x.base_offset, x.attributes, x.records.len()))
                .collect();
            assert!(
                compressed > odd.len() && odd.iter().all(|&(_, attributes, _)| attributes & 7 == 0),
                "{topic}-{p} on A: {compressed} batches compressed as produced, and these not \
                 (base offset, attributes, record bytes): {odd:?}"
            );
            assert_eq!(on_a, on_b, "{topic}-{p}: B's batches differ from A's");
        }
    }
    let txn_on_b = stored_batches(b.data_dir(), "A.txn", 0);
    assert!(!txn_on_b.is_empty());
    assert!(
        txn_on_b.iter().all(|x| x.attributes & 0x30 == 0),
        "a transactional or control batch reached B: {txn_on_b:?}"
    );

    // Offset syncs still pair upstream and downstream offsets: equal for orders (B's copy
    // starts empty and has no gaps), behind for txn past the aborted transaction (markers and
    // aborted records are not copied).
    let syncs = read_topic(&ab, "mm2-offset-syncs.B.internal", T, |r| {
        r.iter().any(|x| {
            let s = decode_offset_sync(x.key.as_deref().unwrap(), x.value.as_deref().unwrap());
            s.0 == "txn" && s.3 < s.2
        })
    });
    let decoded: Vec<(String, i32, i64, i64)> = syncs
        .iter()
        .map(|r| decode_offset_sync(r.key.as_deref().unwrap(), r.value.as_deref().unwrap()))
        .collect();
    assert!(decoded.iter().any(|s| s.0 == "orders"), "{decoded:?}");
    assert!(
        decoded.iter().any(|s| s.0 == "txn" && s.3 < s.2),
        "no sync past the aborted transaction: {decoded:?}"
    );
    for (topic, _, up, down) in &decoded {
        match topic.as_str() {
            "orders" | "events" => assert_eq!(up, down, "{decoded:?}"),
            "txn" => assert!(down <= up, "{decoded:?}"),
            other => panic!("sync for {other}"),
        }
    }

    // Killed and restarted, it resumes from its stored positions: nothing lost.
    mm.kill9();
    send_all(
        &compressing_producer(&ab, "zstd"),
        "orders",
        "o",
        3000..4000,
        2,
    );
    mm.restart();
    let all: BTreeSet<String> = (0..4000).map(|i| format!("o-{i}")).collect();
    let got = read_topic(&bb, "A.orders", T, |r| values(r).len() >= 4000);
    assert_eq!(values(&got), all, "records lost across kill -9");
}

#[test]
fn batch_passthrough_under_exactly_once_expands_batches_into_transactions() {
    let a = Weft::start(&[]);
    let b = Weft::start(&[]);
    let (ab, bb) = (a.bootstrap(), b.bootstrap());
    create_topic(&ab, "orders", 2, &[]);
    send_all(
        &compressing_producer(&ab, "zstd"),
        "orders",
        "o",
        0..2000,
        2,
    );
    let dir = tempfile::tempdir().unwrap();
    let mm = MirrorMaker::start(
        dir.path(),
        &mm2(
            &[("A", &a), ("B", &b)],
            &["A->B"],
            "exactly.once.source.support = enabled\n\
             A->B.batch.passthrough.enabled = true\n",
        ),
    );
    // The batches cannot be appended as they are (the records must go through the
    // transactional producer): each is expanded into its records, which keep everything.
    let src = read_topic(&ab, "orders", T, |r| r.len() >= 2000);
    let dst = read_topic(&bb, "A.orders", T, |r| r.len() >= 2000);
    assert_eq!(dst.len(), 2000, "mirrored count; log:\n{}", mm.log_text());
    assert_same_records(&src, &dst, false);
    assert!(
        mm.log_text().contains("expanded into records"),
        "no note that batches were expanded; log:\n{}",
        mm.log_text()
    );
    // Written in transactions: B's data batches are transactional.
    let on_b = stored_batches(b.data_dir(), "A.orders", 0);
    assert!(
        on_b.iter()
            .any(|x| x.attributes & 0x10 != 0 && x.attributes & 0x20 == 0),
        "no transactional data batch on B"
    );
}
