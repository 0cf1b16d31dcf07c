//! End-to-end broker hardening on the real `weft` binary: fetch memory bounds, topic metadata
//! durability and deletion, a log directory going offline, and produce/heartbeats flowing while other
//! partitions are under flush and compaction load.
//!
//! Tests that mount file systems (tmpfs, read-only bind mounts) need root; if a mount fails they fail
//! loudly rather than skip.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::{BufMut, Bytes, BytesMut};
use common::requests::fetch_request;
use common::{weft_bin, Weft};
use kafka_protocol::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::{
    ApiKey, ApiVersionsRequest, ApiVersionsResponse, BrokerId, FetchResponse, ListOffsetsRequest,
    ListOffsetsResponse, MetadataRequest, MetadataResponse, ProduceRequest, ProduceResponse,
    RequestHeader, ResponseHeader, TopicName,
};
use kafka_protocol::protocol::{Decodable, Encodable, StrBytes};
use kafka_protocol::records::{
    Compression, Record, RecordBatchEncoder, RecordEncodeOptions, TimestampType,
};
use rdkafka::admin::{
    AdminClient, AdminOptions, AlterConfig, NewPartitions, NewTopic, ResourceSpecifier,
    TopicReplication,
};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::producer::{BaseProducer, BaseRecord, FutureProducer, FutureRecord, Producer};

const TIMEOUT: Duration = Duration::from_secs(60);
const PATIENCE: Duration = Duration::from_secs(180);
const NONE: i16 = 0;
const UNKNOWN_TOPIC_OR_PARTITION: i16 = 3;
const KAFKA_STORAGE_ERROR: i16 = 56;
/// Kafka's (and Weft's) fetch.max.bytes default: 55 MiB.
const FETCH_MAX_BYTES: usize = 57_671_680;

fn s(v: &str) -> StrBytes {
    StrBytes::from_string(v.to_string())
}

fn wait_until(what: &str, timeout: Duration, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

// ---------------------------------------------------------------------------------------------
// A broker with several log directories (the shared harness starts one with a single directory).

struct MultiDirBroker {
    child: Option<Child>,
    port: u16,
    log: Arc<Mutex<String>>,
}

impl MultiDirBroker {
    fn start(dirs: &[&Path], overrides: &[&str]) -> MultiDirBroker {
        let joined = dirs
            .iter()
            .map(|d| d.display().to_string())
            .collect::<Vec<_>>()
            .join(",");
        let mut cmd = Command::new(weft_bin());
        cmd.arg("up")
            .arg("--listeners")
            .arg("PLAINTEXT://127.0.0.1:0")
            .arg("--log-dirs")
            .arg(joined)
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        for o in overrides {
            cmd.arg("--override").arg(o);
        }
        let mut child = cmd.spawn().expect("spawn weft");
        let stderr = child.stderr.take().expect("stderr");
        let log = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        let l = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(rest) = line.strip_prefix("weft: broker listening on PLAINTEXT://") {
                    if let Some(port) = rest.rsplit(':').next().and_then(|p| p.trim().parse().ok())
                    {
                        let _ = tx.send(port);
                    }
                }
                let mut l = l.lock().unwrap();
                l.push_str(&line);
                l.push('\n');
            }
        });
        let port: u16 = match rx.recv_timeout(Duration::from_secs(30)) {
            Ok(p) => p,
            Err(_) => {
                let _ = child.kill();
                panic!(
                    "weft did not start; its log:\n{}",
                    log.lock().unwrap().clone()
                );
            }
        };
        MultiDirBroker {
            child: Some(child),
            port,
            log,
        }
    }

    fn bootstrap(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    fn log_text(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// The broker process's resident set size in bytes.
    fn rss(&self) -> u64 {
        let pid = self.child.as_ref().expect("running").id();
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .expect("VmRSS")
            * 1024
    }
}

impl Drop for MultiDirBroker {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Mounts, undone on drop (also when the test fails).

struct Mount(PathBuf);

impl Mount {
    fn run(args: &[&str]) {
        let out = Command::new(args[0])
            .args(&args[1..])
            .output()
            .unwrap_or_else(|e| panic!("cannot run {args:?}: {e}"));
        assert!(
            out.status.success(),
            "{args:?} failed (these tests need root and mount support): {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// A tmpfs of `size` (e.g. "3m") at `dir`.
    fn tmpfs(dir: &Path, size: &str) -> Mount {
        std::fs::create_dir_all(dir).expect("create mount point");
        let opt = format!("size={size}");
        Self::run(&[
            "mount",
            "-t",
            "tmpfs",
            "-o",
            &opt,
            "weft-test",
            dir.to_str().unwrap(),
        ]);
        Mount(dir.to_path_buf())
    }

    /// `dir` made read-only in place (a read-only bind mount: root ignores permission bits).
    fn read_only(dir: &Path) -> Mount {
        let d = dir.to_str().unwrap();
        Self::run(&["mount", "--bind", d, d]);
        let m = Mount(dir.to_path_buf());
        Self::run(&["mount", "-o", "remount,bind,ro", d]);
        m
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

/// Reads until the broker closes the connection (end of stream or reset); false if it is still open
/// at `deadline`.
fn closed_by_broker(stream: &mut TcpStream, deadline: Instant) -> bool {
    stream.set_nonblocking(false).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let mut buf = vec![0u8; 1 << 20];
    while Instant::now() < deadline {
        match stream.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => {}
            Err(e)
                if e.kind() == std::io::ErrorKind::WouldBlock
                    || e.kind() == std::io::ErrorKind::TimedOut => {}
            Err(_) => return true,
        }
    }
    false
}

/// A connection that pipelines `body` requests and reads no response, returned once its writes
/// block (the broker stopped reading it) or fail (the broker closed it already, on a slow machine).
fn stalled_client<R: Encodable>(bootstrap: &str, key: ApiKey, version: i16, body: &R) -> TcpStream {
    let mut stalled = TcpStream::connect(bootstrap).expect("connect");
    stalled.set_nonblocking(true).unwrap();
    let deadline = Instant::now() + PATIENCE;
    for correlation in 1.. {
        assert!(
            Instant::now() < deadline,
            "the stalled client's writes never blocked"
        );
        let frame = request_frame(key, version, correlation, body);
        match stalled.write(&frame) {
            Ok(n) if n == frame.len() => {}
            Ok(_) | Err(_) => break,
        }
    }
    stalled
}

/// Whether the broker logged closing `client`'s connection as idle (the line names its peer
/// address), polling until `timeout`.
fn logged_idle_close(w: &Weft, client: &TcpStream, timeout: Duration) -> bool {
    let peer = client.local_addr().expect("local address").to_string();
    let deadline = Instant::now() + timeout;
    loop {
        let logged = w.log_text().lines().any(|l| {
            l.contains("closing connection idle for connections.max.idle.ms") && l.contains(&peer)
        });
        if logged || Instant::now() >= deadline {
            return logged;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn connections_idle_for_connections_max_idle_ms_are_closed() {
    let w = Weft::start(&["connections.max.idle.ms=2000"]);
    let b = w.bootstrap();
    create(&b, "idle", 1, &[]);
    let mut conn = Conn::open(&b);
    for i in 0..4 {
        assert_eq!(
            conn.produce("idle", 0, batch(1, 1_000_000, 1, b'i')),
            (NONE, i)
        );
    }

    // A connection that sends nothing is closed after the limit.
    let mut quiet = Conn::open(&b);
    assert!(quiet.api_versions_ok());
    let opened = Instant::now();
    assert!(closed_by_broker(&mut quiet.stream, opened + TIMEOUT));
    let after = opened.elapsed();
    assert!(
        after >= Duration::from_millis(1900),
        "closed after {after:?}"
    );
    assert!(logged_idle_close(&w, &quiet.stream, TIMEOUT));

    // One that keeps talking stays open, and a long poll longer than the limit is answered.
    let mut busy = Conn::open(&b);
    for _ in 0..8 {
        assert!(busy.api_versions_ok());
        std::thread::sleep(Duration::from_millis(500));
    }
    let long_poll = fetch_request("idle", 0, 4, 1 << 20, 3000);
    let started = Instant::now();
    let resp: FetchResponse = busy.call(ApiKey::Fetch, 12, &long_poll);
    assert!(started.elapsed() >= Duration::from_millis(2900));
    assert_eq!(resp.responses[0].partitions[0].error_code, NONE);
    assert!(busy.api_versions_ok());

    // A client that pipelines fetches and never reads them is closed once its responses stop
    // moving, with whatever the broker held for it.
    let fetch = fetch_request("idle", 0, 0, i32::MAX, 0);
    let mut stalled = stalled_client(&b, ApiKey::Fetch, 12, &fetch);
    // Checked before reading anything: reading would let the broker's writes move again.
    assert!(
        logged_idle_close(&w, &stalled, TIMEOUT),
        "the stalled fetcher was not closed as idle"
    );
    assert!(closed_by_broker(&mut stalled, Instant::now() + TIMEOUT));

    // Small responses fill the response queue's entries, not its bytes: the same holds.
    let versions = ApiVersionsRequest::default();
    let mut stalled = stalled_client(&b, ApiKey::ApiVersions, 3, &versions);
    assert!(
        logged_idle_close(&w, &stalled, TIMEOUT),
        "the stalled ApiVersions client was not closed as idle"
    );
    assert!(closed_by_broker(&mut stalled, Instant::now() + TIMEOUT));
    // The producing connection sat idle meanwhile; a new one is served as before.
    drop(conn);
    let mut other = Conn::open(&b);
    assert_eq!(other.latest("idle", 0), (NONE, 4));
}

// ---------------------------------------------------------------------------------------------
// Raw protocol.

struct Conn {
    stream: TcpStream,
    next: i32,
}

impl Conn {
    fn open(bootstrap: &str) -> Conn {
        let stream = TcpStream::connect(bootstrap).expect("connect");
        stream.set_read_timeout(Some(TIMEOUT)).unwrap();
        stream.set_write_timeout(Some(TIMEOUT)).unwrap();
        Conn { stream, next: 1 }
    }

    fn call<R: Encodable, T: Decodable>(&mut self, key: ApiKey, version: i16, body: &R) -> T {
        let correlation = self.next;
        self.next += 1;
        let buf = request_frame(key, version, correlation, body);
        self.stream.write_all(&buf).expect("write request");

        let mut len = [0u8; 4];
        self.stream
            .read_exact(&mut len)
            .expect("read response length");
        let len = i32::from_be_bytes(len);
        assert!(
            (4..=256 * 1024 * 1024).contains(&len),
            "implausible response length {len}"
        );
        let mut frame = vec![0u8; len as usize];
        self.stream.read_exact(&mut frame).expect("read response");
        let mut frame = Bytes::from(frame);
        let h = ResponseHeader::decode(&mut frame, key.response_header_version(version))
            .expect("response header");
        assert_eq!(h.correlation_id, correlation);
        let body = T::decode(&mut frame, version).expect("decode response");
        assert!(
            frame.is_empty(),
            "{} bytes left after the body",
            frame.len()
        );
        body
    }

    /// Produces one batch with acks=1; returns (error code, base offset).
    fn produce(&mut self, topic: &str, partition: i32, batch: Bytes) -> (i16, i64) {
        let req = ProduceRequest::default()
            .with_acks(1)
            .with_timeout_ms(30_000)
            .with_topic_data(vec![TopicProduceData::default()
                .with_name(TopicName(s(topic)))
                .with_partition_data(vec![PartitionProduceData::default()
                    .with_index(partition)
                    .with_records(Some(batch))])]);
        let resp: ProduceResponse = self.call(ApiKey::Produce, 9, &req);
        let p = &resp.responses[0].partition_responses[0];
        (p.error_code, p.base_offset)
    }

    /// Sends an acks=0 produce (no response comes back).
    fn produce_acks0(&mut self, topic: &str, partition: i32, batch: Bytes) {
        let req = ProduceRequest::default()
            .with_acks(0)
            .with_timeout_ms(30_000)
            .with_topic_data(vec![TopicProduceData::default()
                .with_name(TopicName(s(topic)))
                .with_partition_data(vec![PartitionProduceData::default()
                    .with_index(partition)
                    .with_records(Some(batch))])]);
        let version = 9;
        let mut buf = BytesMut::new();
        buf.put_i32(0);
        RequestHeader::default()
            .with_request_api_key(ApiKey::Produce as i16)
            .with_request_api_version(version)
            .with_correlation_id(0)
            .encode(&mut buf, ApiKey::Produce.request_header_version(version))
            .unwrap();
        req.encode(&mut buf, version).unwrap();
        let len = (buf.len() - 4) as i32;
        buf[0..4].copy_from_slice(&len.to_be_bytes());
        self.stream.write_all(&buf).expect("write request");
    }

    fn fetch(
        &mut self,
        version: i16,
        topic: &str,
        partition: i32,
        offset: i64,
        max_bytes: i32,
    ) -> FetchResponse {
        let req = fetch_request(topic, partition, offset, max_bytes, 0);
        self.call(ApiKey::Fetch, version, &req)
    }

    /// (error code, latest offset).
    fn latest(&mut self, topic: &str, partition: i32) -> (i16, i64) {
        let req = ListOffsetsRequest::default()
            .with_replica_id(BrokerId(-1))
            .with_topics(vec![ListOffsetsTopic::default()
                .with_name(TopicName(s(topic)))
                .with_partitions(vec![ListOffsetsPartition::default()
                    .with_partition_index(partition)
                    .with_timestamp(-1)])]);
        let resp: ListOffsetsResponse = self.call(ApiKey::ListOffsets, 7, &req);
        let p = &resp.topics[0].partitions[0];
        (p.error_code, p.offset)
    }

    fn api_versions_ok(&mut self) -> bool {
        let r: ApiVersionsResponse =
            self.call(ApiKey::ApiVersions, 3, &ApiVersionsRequest::default());
        r.error_code == NONE
    }

    fn metadata(&mut self) -> MetadataResponse {
        self.call(
            ApiKey::Metadata,
            12,
            &MetadataRequest::default().with_topics(None),
        )
    }
}

/// `length | header | body` of a request.
fn request_frame<R: Encodable>(key: ApiKey, version: i16, correlation: i32, body: &R) -> Bytes {
    let header = RequestHeader::default()
        .with_request_api_key(key as i16)
        .with_request_api_version(version)
        .with_correlation_id(correlation)
        .with_client_id(Some(s("weft-e2e-broker")));
    let mut buf = BytesMut::new();
    buf.put_i32(0);
    header
        .encode(&mut buf, key.request_header_version(version))
        .unwrap();
    body.encode(&mut buf, version).unwrap();
    let len = (buf.len() - 4) as i32;
    buf[0..4].copy_from_slice(&len.to_be_bytes());
    buf.freeze()
}

/// One v2 batch of `n` records with `value_len`-byte values and keys `k<i % keys>`.
fn batch(n: usize, value_len: usize, keys: usize, tag: u8) -> Bytes {
    let records: Vec<Record> = (0..n)
        .map(|i| Record {
            transactional: false,
            control: false,
            delete_horizon: false,
            partition_leader_epoch: -1,
            producer_id: -1,
            producer_epoch: -1,
            timestamp_type: TimestampType::Creation,
            offset: i as i64,
            sequence: i as i32 - 1,
            timestamp: 1_700_000_000_000 + i as i64,
            key: Some(Bytes::from(format!("k{}", i % keys.max(1)))),
            value: Some(Bytes::from(vec![tag; value_len])),
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
    .expect("encode batch");
    buf.freeze()
}

/// Sizes of the whole v2 batches in `records`; panics on a partial batch.
fn batch_sizes(records: &[u8]) -> Vec<usize> {
    let mut out = Vec::new();
    let mut pos = 0;
    while pos < records.len() {
        assert!(records.len() - pos >= 12, "partial batch header at {pos}");
        let len = i32::from_be_bytes(records[pos + 8..pos + 12].try_into().unwrap()) as usize + 12;
        assert!(pos + len <= records.len(), "partial batch at {pos}");
        out.push(len);
        pos += len;
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Admin helpers (librdkafka).

fn admin(bootstrap: &str) -> AdminClient<DefaultClientContext> {
    ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .create()
        .expect("admin client")
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

fn opts() -> AdminOptions {
    AdminOptions::new().operation_timeout(Some(TIMEOUT))
}

/// Creates a topic; `Err` carries the broker's error.
fn try_create(
    bootstrap: &str,
    name: &str,
    partitions: i32,
    configs: &[(&str, &str)],
) -> Result<(), String> {
    let mut t = NewTopic::new(name, partitions, TopicReplication::Fixed(1));
    for (k, v) in configs {
        t = t.set(k, v);
    }
    let res = rt()
        .block_on(admin(bootstrap).create_topics(&[t], &opts()))
        .map_err(|e| e.to_string())?;
    res.into_iter()
        .next()
        .expect("one result")
        .map(|_| ())
        .map_err(|(_, e)| format!("{e:?}"))
}

fn create(bootstrap: &str, name: &str, partitions: i32, configs: &[(&str, &str)]) {
    try_create(bootstrap, name, partitions, configs)
        .unwrap_or_else(|e| panic!("create topic {name}: {e}"));
}

fn try_delete(bootstrap: &str, name: &str) -> Result<(), String> {
    let res = rt()
        .block_on(admin(bootstrap).delete_topics(&[name], &opts()))
        .map_err(|e| e.to_string())?;
    res.into_iter()
        .next()
        .expect("one result")
        .map(|_| ())
        .map_err(|(_, e)| format!("{e:?}"))
}

fn watermarks(bootstrap: &str, topic: &str, partition: i32) -> (i64, i64) {
    let c: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .create()
        .expect("consumer");
    c.fetch_watermarks(topic, partition, TIMEOUT)
        .unwrap_or_else(|e| panic!("watermarks of {topic}-{partition}: {e}"))
}

/// Every value in `topic` (all partitions), read with an assign()-based consumer.
fn read_all_values(bootstrap: &str, topic: &str, partitions: i32, expected: usize) -> Vec<String> {
    let c: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", "e2e-broker-reader")
        .set("enable.auto.commit", "false")
        .create()
        .expect("consumer");
    let mut tpl = rdkafka::TopicPartitionList::new();
    for p in 0..partitions {
        tpl.add_partition_offset(topic, p, rdkafka::Offset::Beginning)
            .unwrap();
    }
    c.assign(&tpl).expect("assign");
    let mut out = Vec::new();
    let deadline = Instant::now() + TIMEOUT;
    while out.len() < expected && Instant::now() < deadline {
        if let Some(m) = c.poll(Duration::from_millis(200)) {
            let m = m.expect("consume");
            out.push(String::from_utf8_lossy(m.payload().unwrap_or_default()).to_string());
        }
    }
    // Anything beyond `expected` would be old data: give it a moment to show up.
    let extra_deadline = Instant::now() + Duration::from_secs(2);
    while Instant::now() < extra_deadline {
        if let Some(m) = c.poll(Duration::from_millis(200)) {
            let m = m.expect("consume");
            out.push(String::from_utf8_lossy(m.payload().unwrap_or_default()).to_string());
        }
    }
    out
}

fn produce_values(bootstrap: &str, topic: &str, values: &[String]) {
    let p: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("acks", "all")
        .create()
        .expect("producer");
    for v in values {
        p.send(BaseRecord::<(), _>::to(topic).payload(v))
            .expect("queue record");
    }
    p.flush(TIMEOUT).expect("flush");
}

// ---------------------------------------------------------------------------------------------
// Fetch memory.

#[test]
fn fetch_asking_for_2gb_is_answered_within_fetch_max_bytes() {
    let w = Weft::start(&[]);
    create(&w.bootstrap(), "big", 1, &[]);
    let mut conn = Conn::open(&w.bootstrap());
    // 60 batches of ~1 MB: more than the 55 MiB cap.
    let one = batch(1, 1_000_000, 1, b'x');
    let batches = 60;
    for i in 0..batches {
        let (err, base) = conn.produce("big", 0, one.clone());
        assert_eq!((err, base), (NONE, i), "produce batch {i}");
    }
    // Both encodings: v4 (classic) and v12 (flexible).
    for version in [4, 12] {
        let resp = conn.fetch(version, "big", 0, 0, i32::MAX);
        assert_eq!(resp.error_code, NONE);
        let p = &resp.responses[0].partitions[0];
        assert_eq!(p.error_code, NONE, "v{version}");
        assert_eq!(p.high_watermark, batches, "v{version}");
        let records = p.records.clone().unwrap_or_default();
        let sizes = batch_sizes(&records);
        assert!(
            records.len() <= FETCH_MAX_BYTES,
            "v{version}: a fetch for 2 GB returned {} bytes, more than fetch.max.bytes",
            records.len()
        );
        // Clamped, not refused: it returns as many whole batches as fit.
        assert_eq!(
            sizes.len(),
            FETCH_MAX_BYTES / one.len(),
            "v{version}: batches returned"
        );
    }
    // The connection and the broker are fine afterwards; the rest is readable from where it stopped.
    let resp = conn.fetch(12, "big", 0, 57, i32::MAX);
    let records = resp.responses[0].partitions[0]
        .records
        .clone()
        .unwrap_or_default();
    assert_eq!(batch_sizes(&records).len(), 3);
}

/// Walks a partition with fetches of `max_bytes` and checks every response holds whole batches, the
/// produced ones in order (byte for byte after the broker's offset and epoch), at most `max_bytes`
/// unless it is one batch, and (with `fills`, one segment) as many as fit.
fn walk_fetches(
    conn: &mut Conn,
    version: i16,
    topic: &str,
    produced: &[Bytes],
    max_bytes: usize,
    fills: bool,
) {
    let mut next = 0usize;
    let mut offset = 0i64;
    while next < produced.len() {
        let resp = conn.fetch(version, topic, 0, offset, max_bytes as i32);
        let p = &resp.responses[0].partitions[0];
        assert_eq!(p.error_code, NONE, "v{version} max {max_bytes} at {offset}");
        let records = p.records.clone().unwrap_or_default();
        let sizes = batch_sizes(&records);
        assert!(
            !sizes.is_empty(),
            "v{version} max {max_bytes}: nothing at {offset}"
        );
        assert!(
            sizes.len() == 1 || records.len() <= max_bytes,
            "v{version}: {} bytes in {} batches for max {max_bytes}",
            records.len(),
            sizes.len()
        );
        let mut pos = 0;
        for size in sizes {
            let stored = &records[pos..pos + size];
            let sent = &produced[next];
            assert_eq!(
                &stored[16..],
                &sent[16..],
                "v{version} max {max_bytes}: batch {next}"
            );
            let base = i64::from_be_bytes(stored[..8].try_into().unwrap());
            let last_delta = i32::from_be_bytes(stored[23..27].try_into().unwrap());
            assert_eq!(base, offset, "v{version} max {max_bytes}: batch {next}");
            offset = base + i64::from(last_delta) + 1;
            pos += size;
            next += 1;
        }
        if fills {
            if let Some(following) = produced.get(next) {
                assert!(
                    records.len() + following.len() > max_bytes,
                    "v{version} max {max_bytes}: {} bytes returned, but batch {next} ({} bytes) fits",
                    records.len(),
                    following.len()
                );
            }
        }
    }
}

#[test]
fn fetches_of_any_size_return_the_whole_stored_batches_that_fit() {
    let mut w = Weft::start(&[]);
    create(&w.bootstrap(), "one-segment", 1, &[]);
    // Small segments: reads stop at segment ends, index entries come from rolled segments' files.
    create(&w.bootstrap(), "rolled", 1, &[("segment.bytes", "20000")]);
    let mut conn = Conn::open(&w.bootstrap());
    let produced: Vec<Bytes> = (0..300)
        .map(|i| batch(1 + i % 7, 20 + (i * 37) % 900, 3, b'a' + (i % 26) as u8))
        .collect();
    for topic in ["one-segment", "rolled"] {
        let mut expected_base = 0i64;
        for (i, b) in produced.iter().enumerate() {
            let (err, base) = conn.produce(topic, 0, b.clone());
            assert_eq!(
                (err, base),
                (NONE, expected_base),
                "{topic}: produce batch {i}"
            );
            expected_base += (1 + i % 7) as i64;
        }
    }
    let sizes = [1, 700, 4096, 10_000, 65_536, 1 << 20];
    for version in [4, 12] {
        for max in sizes {
            walk_fetches(&mut conn, version, "one-segment", &produced, max, true);
            walk_fetches(&mut conn, version, "rolled", &produced, max, false);
        }
    }
    // After a restart every index is read back from its file on first use.
    w.stop();
    w.restart();
    let mut conn = Conn::open(&w.bootstrap());
    for max in sizes {
        walk_fetches(&mut conn, 12, "one-segment", &produced, max, true);
        walk_fetches(&mut conn, 12, "rolled", &produced, max, false);
    }
}

#[test]
fn a_client_that_does_not_read_its_responses_holds_bounded_broker_memory() {
    const CAP: usize = 4 << 20;
    let tmp = tempfile::tempdir().unwrap();
    let w = MultiDirBroker::start(&[tmp.path()], &["fetch.max.bytes=4194304"]);
    let b = w.bootstrap();
    create(&b, "wide", 1, &[]);
    let mut conn = Conn::open(&b);
    for i in 0..8 {
        assert_eq!(
            conn.produce("wide", 0, batch(1, 1_000_000, 1, b'w')),
            (NONE, i)
        );
    }
    let baseline = w.rss();

    // Pipeline fetches (each answered with ~4 MiB) and never read a response.
    let req = fetch_request("wide", 0, 0, i32::MAX, 0);
    let mut stalled = TcpStream::connect(&b).expect("connect");
    stalled.set_nonblocking(true).unwrap();
    let mut correlation = 0;
    let mut pending: &[u8] = &[];
    let mut frame;
    let mut blocked_since: Option<Instant> = None;
    let mut max_rss = baseline;
    let deadline = Instant::now() + PATIENCE;
    // The broker stops reading this connection once its responses back up; then our writes block.
    // Watch for a while after that to see memory stay bounded.
    while blocked_since.is_none_or(|t| t.elapsed() < Duration::from_secs(3)) {
        assert!(
            Instant::now() < deadline,
            "the broker kept reading requests from a client that reads no responses"
        );
        if pending.is_empty() {
            correlation += 1;
            frame = request_frame(ApiKey::Fetch, 12, correlation, &req);
            pending = &frame[..];
        }
        match stalled.write(pending) {
            Ok(n) => {
                pending = &pending[n..];
                blocked_since = None;
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                blocked_since.get_or_insert_with(Instant::now);
                max_rss = max_rss.max(w.rss());
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(e) => panic!("write: {e}"),
        }
    }
    max_rss = max_rss.max(w.rss());
    // The connection holds about: one response in the queue, one being written, one being built.
    // Without a byte bound, 32 queued responses would hold ~130 MiB.
    let growth = max_rss.saturating_sub(baseline);
    eprintln!(
        "stalled connection: {correlation} fetches sent, broker RSS grew {} MiB",
        growth >> 20
    );
    assert!(
        growth < (12 * CAP) as u64,
        "broker RSS grew by {} MiB for one stalled connection (sent {correlation} fetches)",
        growth >> 20
    );
    // Other connections are served meanwhile.
    let mut other = Conn::open(&b);
    assert!(other.api_versions_ok());
    assert_eq!(other.latest("wide", 0), (NONE, 8));
    drop(stalled);
}

// ---------------------------------------------------------------------------------------------
// Topic metadata and deletion.

#[test]
fn deleted_topic_recreated_with_the_same_name_sees_no_old_data() {
    let mut w = Weft::start(&[]);
    let b = w.bootstrap();
    create(&b, "reborn", 2, &[]);
    let old: Vec<String> = (0..200).map(|i| format!("old-{i}")).collect();
    produce_values(&b, "reborn", &old);
    let total: i64 = (0..2).map(|p| watermarks(&b, "reborn", p).1).sum();
    assert_eq!(total, 200);

    try_delete(&b, "reborn").expect("delete");
    // The directories are renamed aside at once, so nothing under the old name is left to adopt.
    for p in 0..2 {
        assert!(
            !w.data_dir().join(format!("reborn-{p}")).exists(),
            "reborn-{p} still exists after the delete answered"
        );
    }
    wait_until("the deleted data is removed", TIMEOUT, || {
        std::fs::read_dir(w.data_dir())
            .unwrap()
            .filter_map(|e| e.ok())
            .all(|e| !e.file_name().to_string_lossy().ends_with("-delete"))
    });

    create(&b, "reborn", 2, &[]);
    for p in 0..2 {
        assert_eq!(watermarks(&b, "reborn", p), (0, 0), "re-created reborn-{p}");
    }
    let new: Vec<String> = (0..10).map(|i| format!("new-{i}")).collect();
    produce_values(&b, "reborn", &new);
    let mut seen = read_all_values(&b, "reborn", 2, 10);
    seen.sort();
    let mut want = new.clone();
    want.sort();
    assert_eq!(seen, want, "the re-created topic holds only new records");

    // A removal interrupted by a crash is finished at the next start; unknown partition
    // directories are left alone.
    let leftover = w
        .data_dir()
        .join("gone-0.0123456789abcdef0123456789abcdef-delete");
    std::fs::create_dir_all(&leftover).unwrap();
    std::fs::write(leftover.join("00000000000000000000.log"), b"old").unwrap();
    let stranger = w.data_dir().join("stranger-0");
    std::fs::create_dir_all(&stranger).unwrap();
    std::fs::write(stranger.join("00000000000000000000.log"), b"keep me").unwrap();

    w.stop();
    w.restart();
    let b = w.bootstrap();
    for p in 0..2 {
        let (lo, hi) = watermarks(&b, "reborn", p);
        assert_eq!(lo, 0);
        assert!(hi <= 10);
    }
    let mut seen = read_all_values(&b, "reborn", 2, 10);
    seen.sort();
    assert_eq!(
        seen, want,
        "after a restart the topic still holds only new records"
    );
    wait_until("the leftover -delete directory is removed", TIMEOUT, || {
        !leftover.exists()
    });
    assert_eq!(
        std::fs::read(stranger.join("00000000000000000000.log")).unwrap(),
        b"keep me",
        "an unknown partition directory must be left alone"
    );
    assert!(w.log_text().contains("belongs to no known topic"));
}

#[test]
fn a_failed_topics_json_save_changes_nothing_and_loses_no_data() {
    let mut w = Weft::start(&[]);
    let b = w.bootstrap();
    create(&b, "keep", 1, &[]);
    let first: Vec<String> = (0..10).map(|i| format!("a{i}")).collect();
    produce_values(&b, "keep", &first);

    let meta = w.data_dir().join("__weft_meta");
    let ro = Mount::read_only(&meta);
    let a = admin(&b);
    let r = rt();
    // Every kind of change fails, and none becomes visible.
    let grown = r
        .block_on(a.create_partitions(&[NewPartitions::new("keep", 2)], &opts()))
        .expect("create_partitions call");
    assert!(grown[0].is_err(), "adding partitions must fail: {grown:?}");
    assert!(try_create(&b, "newt", 1, &[]).is_err());
    assert!(try_delete(&b, "keep").is_err());
    // rust-rdkafka drops AlterConfigs' per-resource errors, so check the config did not change.
    r.block_on(a.alter_configs(
        &[AlterConfig::new(ResourceSpecifier::Topic("keep")).set("retention.ms", "1000")],
        &opts(),
    ))
    .expect("alter_configs call");
    let described = r
        .block_on(a.describe_configs(&[ResourceSpecifier::Topic("keep")], &opts()))
        .expect("describe_configs call");
    let retention = described[0]
        .as_ref()
        .expect("describe keep")
        .get("retention.ms")
        .and_then(|e| e.value.clone());
    assert_ne!(
        retention.as_deref(),
        Some("1000"),
        "a config change whose save failed must not take effect"
    );

    let mut conn = Conn::open(&b);
    let md = conn.metadata();
    let names: Vec<_> = md
        .topics
        .iter()
        .filter_map(|t| t.name.as_ref().map(|n| n.as_str().to_string()))
        .collect();
    assert!(!names.contains(&"newt".to_string()), "{names:?}");
    let keep = md
        .topics
        .iter()
        .find(|t| t.name.as_ref().is_some_and(|n| n.as_str() == "keep"))
        .expect("keep still exists");
    assert_eq!(keep.partitions.len(), 1);
    let (err, _) = conn.produce("keep", 1, batch(1, 10, 1, b'n'));
    assert_eq!(
        err, UNKNOWN_TOPIC_OR_PARTITION,
        "partition 1 was never added"
    );
    // Acknowledged data keeps flowing to the existing partition.
    let second: Vec<String> = (0..10).map(|i| format!("b{i}")).collect();
    produce_values(&b, "keep", &second);
    assert_eq!(watermarks(&b, "keep", 0), (0, 20));

    w.stop();
    drop(ro);
    w.restart();
    let b = w.bootstrap();
    assert_eq!(
        watermarks(&b, "keep", 0),
        (0, 20),
        "acknowledged data survives"
    );
    let mut seen = read_all_values(&b, "keep", 1, 20);
    seen.sort();
    let mut want: Vec<String> = first.into_iter().chain(second).collect();
    want.sort();
    assert_eq!(seen, want);
    let mut conn = Conn::open(&b);
    let md = conn.metadata();
    assert!(md
        .topics
        .iter()
        .all(|t| t.name.as_ref().is_none_or(|n| n.as_str() != "newt")));
}

// ---------------------------------------------------------------------------------------------
// Storage errors.

#[test]
fn a_full_log_dir_goes_offline_and_the_broker_keeps_serving() {
    let tmp = tempfile::tempdir().unwrap();
    let healthy_dir = tmp.path().join("healthy");
    let small_dir = tmp.path().join("small");
    std::fs::create_dir_all(&healthy_dir).unwrap();
    let _mount = Mount::tmpfs(&small_dir, "3m");
    let w = MultiDirBroker::start(&[&healthy_dir, &small_dir], &[]);
    let b = w.bootstrap();
    // Placement: the log dir with the fewest partitions, the first on a tie.
    create(&b, "first", 1, &[]);
    create(&b, "victim", 1, &[]);
    create(&b, "healthy", 1, &[]);
    assert!(healthy_dir.join("first-0").is_dir());
    assert!(
        small_dir.join("victim-0").is_dir(),
        "victim-0 should be on the tmpfs"
    );
    assert!(healthy_dir.join("healthy-0").is_dir());

    let mut conn = Conn::open(&b);
    let chunk = batch(1, 200_000, 1, b'v');
    let mut failed = None;
    for i in 0..100 {
        let (err, _) = conn.produce("victim", 0, chunk.clone());
        if err != NONE {
            failed = Some((i, err));
            break;
        }
    }
    let (i, err) = failed.expect("a 3 MiB tmpfs must fill up within 20 MB of produce");
    assert!(i > 0, "the first produce should fit");
    assert_eq!(err, KAFKA_STORAGE_ERROR, "produce to the full directory");
    // The log line is read from the broker's stderr by another thread: wait for it.
    wait_until(
        "the broker says loudly that the directory went offline",
        TIMEOUT,
        || w.log_text().contains("log directory is OFFLINE"),
    );

    // Everything in that directory answers KAFKA_STORAGE_ERROR now, even a produce that would fit.
    let (err, _) = conn.produce("victim", 0, batch(1, 10, 1, b'v'));
    assert_eq!(err, KAFKA_STORAGE_ERROR);
    let resp = conn.fetch(12, "victim", 0, 0, 1 << 20);
    assert_eq!(
        resp.responses[0].partitions[0].error_code,
        KAFKA_STORAGE_ERROR
    );
    assert_eq!(conn.latest("victim", 0).0, KAFKA_STORAGE_ERROR);

    // acks=0 failures are not swallowed: logged with a counter.
    conn.produce_acks0("victim", 0, batch(1, 10, 1, b'z'));
    assert!(conn.api_versions_ok());
    wait_until("the acks=0 failure is logged", TIMEOUT, || {
        w.log_text().contains("acks0_failures=1")
    });

    // The rest of the broker keeps serving.
    for i in 0..5 {
        assert_eq!(
            conn.produce("healthy", 0, batch(3, 100, 3, b'h')),
            (NONE, i * 3)
        );
    }
    assert_eq!(conn.latest("healthy", 0), (NONE, 15));
    let resp = conn.fetch(12, "healthy", 0, 0, 1 << 20);
    assert_eq!(resp.responses[0].partitions[0].error_code, NONE);
    assert_eq!(
        batch_sizes(&resp.responses[0].partitions[0].records.clone().unwrap()).len(),
        5
    );
    assert!(conn.api_versions_ok());
    let md = conn.metadata();
    assert_eq!(md.topics.len(), 3);
    create(&b, "after", 1, &[]);
    assert!(
        healthy_dir.join("after-0").is_dir(),
        "new partitions go to online directories only"
    );
}

// ---------------------------------------------------------------------------------------------
// Stalls.

/// Appends to the flush.messages=1 topic, each fsynced.
const HOT_RECORDS: u32 = 3_000;

/// Counts "preparing rebalance" lines: every rebalance start is logged once.
fn rebalances(log: &str) -> usize {
    log.matches("preparing rebalance").count()
}

#[test]
fn flush_and_compaction_load_does_not_stall_other_produce_or_heartbeats() {
    let w = Weft::start(&[
        "group.initial.rebalance.delay.ms=0",
        "offsets.topic.num.partitions=3",
        "log.cleaner.backoff.ms=50",
    ]);
    let b = w.bootstrap();
    create(&b, "hot", 1, &[("flush.messages", "1")]);
    create(
        &b,
        "squashed",
        1,
        &[
            ("cleanup.policy", "compact"),
            ("segment.bytes", "65536"),
            ("min.compaction.lag.ms", "0"),
        ],
    );
    create(&b, "other", 3, &[]);

    // Three groups, one member each, on "other"; short sessions so a stall of a few seconds would
    // expire them.
    let stop = Arc::new(AtomicBool::new(false));
    let consumed = Arc::new(AtomicU64::new(0));
    let assigned = Arc::new(AtomicU64::new(0));
    let mut members = Vec::new();
    for g in 0..3 {
        let (stop, consumed, assigned, b) =
            (stop.clone(), consumed.clone(), assigned.clone(), b.clone());
        members.push(std::thread::spawn(move || {
            let c: BaseConsumer = ClientConfig::new()
                .set("bootstrap.servers", &b)
                .set("group.id", format!("load-group-{g}"))
                .set("auto.offset.reset", "earliest")
                .set("enable.auto.commit", "true")
                .set("auto.commit.interval.ms", "200")
                .set("session.timeout.ms", "6000")
                .set("heartbeat.interval.ms", "300")
                .create()
                .expect("consumer");
            c.subscribe(&["other"]).expect("subscribe");
            let mut counted = false;
            while !stop.load(Ordering::Relaxed) {
                if let Some(Ok(_)) = c.poll(Duration::from_millis(100)) {
                    consumed.fetch_add(1, Ordering::Relaxed);
                }
                if !counted && c.assignment().map(|a| a.count() > 0).unwrap_or(false) {
                    counted = true;
                    assigned.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }
    wait_until("every group has its assignment", PATIENCE, || {
        assigned.load(Ordering::Relaxed) == 3
    });
    let before = rebalances(&w.log_text());

    // Load: an fsync per append on "hot", and a compacted topic with many small segments that the
    // cleaner rewrites every 50 ms.
    let hot = {
        let b = b.clone();
        std::thread::spawn(move || {
            let p: BaseProducer = ClientConfig::new()
                .set("bootstrap.servers", &b)
                .set("acks", "1")
                .set("linger.ms", "0")
                .set("batch.num.messages", "1")
                .create()
                .expect("producer");
            let value = vec![b'h'; 1000];
            for i in 0..HOT_RECORDS {
                let key = i.to_string();
                let mut rec = BaseRecord::to("hot").key(&key).payload(&value);
                loop {
                    match p.send(rec) {
                        Ok(()) => break,
                        Err((_, r)) => {
                            rec = r;
                            p.poll(Duration::from_millis(10));
                        }
                    }
                }
                p.poll(Duration::ZERO);
            }
            p.flush(PATIENCE).expect("flush hot");
        })
    };
    let squash = {
        let b = b.clone();
        std::thread::spawn(move || {
            let p: BaseProducer = ClientConfig::new()
                .set("bootstrap.servers", &b)
                .set("acks", "1")
                .set("linger.ms", "5")
                .create()
                .expect("producer");
            let value = vec![b's'; 300];
            for i in 0..30_000u32 {
                let key = format!("key-{}", i % 500);
                let mut rec = BaseRecord::to("squashed").key(&key).payload(&value);
                loop {
                    match p.send(rec) {
                        Ok(()) => break,
                        Err((_, r)) => {
                            rec = r;
                            p.poll(Duration::from_millis(10));
                        }
                    }
                }
                p.poll(Duration::ZERO);
            }
            p.flush(PATIENCE).expect("flush squashed");
        })
    };

    // Meanwhile, produce to "other" one record at a time, each acknowledged before the next.
    let producer: FutureProducer = ClientConfig::new()
        .set("bootstrap.servers", &b)
        .set("acks", "all")
        .set("message.timeout.ms", "60000")
        .create()
        .expect("producer");
    let runtime = rt();
    let mut acked = 0u64;
    while !(hot.is_finished() && squash.is_finished()) || acked < 200 {
        let key = acked.to_string();
        let r = runtime.block_on(producer.send(
            FutureRecord::to("other").key(&key).payload("still flowing"),
            Duration::from_secs(60),
        ));
        assert!(r.is_ok(), "produce to 'other' failed under load: {r:?}");
        acked += 1;
    }
    hot.join().expect("hot producer");
    squash.join().expect("compacted producer");

    assert!(
        w.wait_for_log("compacted log", PATIENCE),
        "the cleaner compacted the topic during the run"
    );
    wait_until("every group read every 'other' record", PATIENCE, || {
        consumed.load(Ordering::Relaxed) >= 3 * acked
    });
    let log = w.log_text();
    assert_eq!(
        rebalances(&log),
        before,
        "no group rebalanced while other partitions were under load:\n{}",
        log.lines()
            .filter(|l| l.contains("preparing rebalance"))
            .collect::<Vec<_>>()
            .join("\n")
    );
    assert!(
        !log.contains("session expired"),
        "a member's session expired"
    );
    stop.store(true, Ordering::Relaxed);
    for m in members {
        m.join().expect("member thread");
    }
    let (_, hot_end) = watermarks(&b, "hot", 0);
    assert_eq!(hot_end, HOT_RECORDS as i64);
}

/// The broker's side of `client`'s connection as the kernel reports it (`ss -tmn` skmem): its
/// receive and send buffer sizes (`rb`, `tb`).
fn broker_socket_buffers(port: u16, client: &TcpStream) -> (u64, u64) {
    let client_port = client.local_addr().expect("local address").port();
    let filter = format!("( sport = :{port} and dport = :{client_port} )");
    let out = Command::new("ss")
        .args(["-tmnH", "state", "established", &filter])
        .output()
        .expect("ss (iproute2) is needed to read the broker's socket buffers; .ci/run installs it");
    assert!(out.status.success(), "ss failed: {out:?}");
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let field = |name: &str| -> u64 {
        let start = text
            .find(&format!(",{name}"))
            .unwrap_or_else(|| panic!("no {name} in ss output: {text}"))
            + name.len()
            + 1;
        let digits: String = text[start..]
            .chars()
            .take_while(|c| c.is_ascii_digit())
            .collect();
        digits
            .parse()
            .unwrap_or_else(|_| panic!("{name} unreadable in ss output: {text}"))
    };
    (field("rb"), field("tb"))
}

#[test]
fn socket_buffer_sizes_apply_to_client_connections_as_in_kafka() {
    // Linux doubles a SO_SNDBUF/SO_RCVBUF request for its bookkeeping, so 102400 shows as 204800.
    // By default the send buffer is Kafka's 102400 and the receive buffer the OS's.
    let defaults = Weft::start(&[]);
    let conn = TcpStream::connect(defaults.bootstrap()).expect("connect");
    let (rb, tb) = broker_socket_buffers(defaults.port, &conn);
    assert_eq!(tb, 204_800, "Kafka's default send buffer");
    assert_ne!(rb, 204_800, "the receive buffer is left to the OS");

    let configured = Weft::start(&[
        "socket.send.buffer.bytes=65536",
        "socket.receive.buffer.bytes=81920",
    ]);
    let conn = TcpStream::connect(configured.bootstrap()).expect("connect");
    assert_eq!(
        broker_socket_buffers(configured.port, &conn),
        (163_840, 131_072)
    );
    // Requests and responses several times the buffers' size still pass whole.
    create(&configured.bootstrap(), "buffers", 1, &[]);
    let mut c = Conn::open(&configured.bootstrap());
    let sent = batch(100, 5_000, 10, b'b');
    assert_eq!(c.produce("buffers", 0, sent.clone()), (NONE, 0));
    let resp: FetchResponse = c.call(
        ApiKey::Fetch,
        12,
        &fetch_request("buffers", 0, 0, 4 << 20, 0),
    );
    let part = &resp.responses[0].partitions[0];
    assert_eq!(part.error_code, NONE);
    assert_eq!(part.records.as_deref(), Some(&sent[..]));

    // -1 leaves the kernel's autotuning: sizes within tcp_wmem/tcp_rmem's range, not a doubled request.
    let os = Weft::start(&[
        "socket.send.buffer.bytes=-1",
        "socket.receive.buffer.bytes=-1",
    ]);
    let conn = TcpStream::connect(os.bootstrap()).expect("connect");
    let range = |name: &str| -> (u64, u64) {
        let text = std::fs::read_to_string(format!("/proc/sys/net/ipv4/{name}")).expect(name);
        let v: Vec<u64> = text
            .split_whitespace()
            .filter_map(|v| v.parse().ok())
            .collect();
        assert_eq!(v.len(), 3, "{name}: {text}");
        (v[0], v[2])
    };
    let (rb, tb) = broker_socket_buffers(os.port, &conn);
    let (wmin, wmax) = range("tcp_wmem");
    let (rmin, rmax) = range("tcp_rmem");
    assert!(
        tb != 204_800 && (wmin..=wmax).contains(&tb),
        "send buffer {tb} left to the OS"
    );
    assert!(
        rb != 204_800 && (rmin..=rmax).contains(&rb),
        "receive buffer {rb} left to the OS"
    );

    // A size that is neither -1 nor positive stops start-up, naming the key.
    let out = Command::new(weft_bin())
        .args([
            "up",
            "--listeners",
            "PLAINTEXT://127.0.0.1:0",
            "--override",
            "socket.send.buffer.bytes=0",
        ])
        .current_dir(os.data.parent().expect("the data directory's parent"))
        .output()
        .expect("run weft");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("'socket.send.buffer.bytes' has invalid value '0'")
            && err.contains("-1 (the OS default) or a positive size"),
        "{err}"
    );
}
