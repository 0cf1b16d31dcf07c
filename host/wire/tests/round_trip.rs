//! Batch passthrough end to end against two real `weft` brokers in separate processes: append
//! batches in every codec to A, fetch them from A, append them to B, fetch them back from B, and
//! check the records sections are byte-identical and the offsets are B's own; then assignment by
//! earliest, mid-batch offset, latest and reassignment. Also what happens with no cluster at all.
//!
//! Needs the `weft` binary: `cargo build -p weft-cli` first (same CARGO_TARGET_DIR), or WEFT_BIN.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use kafka_protocol::indexmap::IndexMap;
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::records::{
    Compression, Record, RecordBatchDecoder, RecordBatchEncoder, RecordEncodeOptions, TimestampType,
};
use weft_wire::{
    AppendSettings, BatchAppender, BatchFetcher, FetchSettings, FetchedBatch, WireConfig, WireError,
};

const HEADER_LEN: usize = 61;

/// The `weft` binary: $WEFT_BIN, else the one beside this test's own target directory, in
/// $CARGO_TARGET_DIR or in the workspace's. Missing is a failure, not a skip.
fn weft_bin() -> PathBuf {
    if let Some(p) = std::env::var_os("WEFT_BIN") {
        return PathBuf::from(p);
    }
    let mut candidates = Vec::new();
    // This test runs from <target>/debug/deps/, beside which `cargo test --workspace` builds weft.
    if let Some(debug) = std::env::current_exe()
        .ok()
        .and_then(|e| e.parent().and_then(|deps| deps.parent()).map(PathBuf::from))
    {
        candidates.push(debug.join("weft"));
    }
    if let Some(dir) = std::env::var_os("CARGO_TARGET_DIR") {
        candidates.push(PathBuf::from(dir).join("debug/weft"));
    }
    candidates.push(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/debug/weft"));
    candidates
        .iter()
        .find(|p| p.is_file())
        .cloned()
        .unwrap_or_else(|| {
            panic!(
                "the weft binary was not found (looked at {candidates:?}); build it first with \
                 `cargo build -p weft-cli` using the same CARGO_TARGET_DIR, or set WEFT_BIN"
            )
        })
}

/// A `weft up` process on a free port with its own data directory; killed on drop.
struct Broker {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Broker {
    fn start() -> Broker {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut child = Command::new(weft_bin())
            .arg("up")
            .arg("--no-connect")
            .arg("--listeners")
            .arg("PLAINTEXT://127.0.0.1:0")
            .arg("--log-dirs")
            .arg(dir.path().join("data"))
            .args(["--override", "num.partitions=2"])
            .args(["--override", "metrics.listener=http://127.0.0.1:0"])
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn weft");
        let stderr = child.stderr.take().expect("stderr");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(rest) = line.strip_prefix("weft: broker listening on PLAINTEXT://") {
                    if let Some(port) = rest.rsplit(':').next().and_then(|p| p.trim().parse().ok())
                    {
                        let _ = tx.send(port);
                    }
                }
                eprintln!("[weft] {line}");
            }
        });
        let port: u16 = match rx.recv_timeout(Duration::from_secs(30)) {
            Ok(p) => p,
            Err(_) => {
                let _ = child.kill();
                panic!("weft did not report its listener within 30 s");
            }
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "weft is not accepting on {port}");
            std::thread::sleep(Duration::from_millis(20));
        }
        Broker {
            child,
            port,
            _dir: dir,
        }
    }

    fn config(&self) -> WireConfig {
        WireConfig::from_properties(
            &[(
                "bootstrap.servers".to_string(),
                format!("127.0.0.1:{}", self.port),
            )],
            "wire-test",
        )
        .expect("config")
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn record(i: i64, batch_tag: &str) -> Record {
    let mut headers = IndexMap::new();
    headers.insert(
        StrBytes::from_string(format!("h-{batch_tag}")),
        Some(Bytes::from(format!("hv{i}"))),
    );
    headers.insert(StrBytes::from_static_str("empty"), None);
    Record {
        transactional: false,
        control: false,
        delete_horizon: false,
        partition_leader_epoch: -1,
        producer_id: -1,
        producer_epoch: -1,
        timestamp_type: TimestampType::Creation,
        offset: i,
        // kafka-protocol's encoder starts a new batch whenever offset - sequence changes.
        sequence: i as i32,
        timestamp: 1_700_000_000_000 + i,
        key: Some(Bytes::from(format!("key-{batch_tag}-{i}"))),
        value: Some(Bytes::from(format!(
            "value-{batch_tag}-{i}-{}",
            "x".repeat(40)
        ))),
        headers,
    }
}

/// A batch of `n` records (offsets 0..n) in `codec`.
fn batch(n: i64, codec: Compression, tag: &str) -> Bytes {
    let records: Vec<Record> = (0..n).map(|i| record(i, tag)).collect();
    let mut buf = BytesMut::new();
    RecordBatchEncoder::encode(
        &mut buf,
        &records,
        &RecordEncodeOptions {
            version: 2,
            compression: codec,
        },
    )
    .expect("encode");
    assert_eq!(
        i32::from_be_bytes(buf[8..12].try_into().unwrap()) as usize + 12,
        buf.len(),
        "one batch"
    );
    // No producer: base sequence -1, as a non-idempotent producer writes it.
    buf[53..57].copy_from_slice(&(-1i32).to_be_bytes());
    let crc = crc32c::crc32c(&buf[21..]);
    buf[17..21].copy_from_slice(&crc.to_be_bytes());
    buf.freeze()
}

fn attributes(b: &[u8]) -> i16 {
    i16::from_be_bytes([b[21], b[22]])
}

fn base_offset(b: &[u8]) -> i64 {
    i64::from_be_bytes(b[0..8].try_into().unwrap())
}

/// Appends `batches` (partition, bytes) to `topic` and returns the base offsets, in order.
fn append_all(cfg: WireConfig, topic: &str, batches: &[(i32, Bytes)]) -> Vec<i64> {
    let appender = BatchAppender::start(cfg, AppendSettings::default()).expect("appender");
    let (tx, rx) = mpsc::channel();
    for (i, (p, b)) in batches.iter().enumerate() {
        let tx = tx.clone();
        appender
            .send(
                topic,
                *p,
                b.clone(),
                Box::new(move |r| {
                    let _ = tx.send((i, r));
                }),
            )
            .expect("send");
    }
    assert!(appender.flush(Duration::from_secs(15)), "flush timed out");
    assert_eq!(appender.pending(), 0);
    let mut out = vec![None; batches.len()];
    for _ in 0..batches.len() {
        let (i, r) = rx.recv_timeout(Duration::from_secs(1)).expect("delivery");
        out[i] = Some(r.unwrap_or_else(|e| panic!("batch {i} not appended: {e}")));
    }
    out.into_iter().map(|o| o.expect("delivered")).collect()
}

/// Takes batches until `records` records arrived (failing after 10 s), grouped per partition.
fn take_records(f: &BatchFetcher, records: usize) -> BTreeMap<i32, Vec<FetchedBatch>> {
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut got = 0usize;
    let mut out: BTreeMap<i32, Vec<FetchedBatch>> = BTreeMap::new();
    while got < records {
        assert!(
            Instant::now() < deadline,
            "only {got} of {records} records arrived"
        );
        for b in f.take(1000, Duration::from_millis(200)).expect("take") {
            got += b.records as usize;
            out.entry(b.partition).or_default().push(b);
        }
    }
    assert_eq!(got, records, "more records than expected");
    out
}

fn fetch_settings(read_committed: bool) -> FetchSettings {
    FetchSettings {
        max_wait: Duration::from_millis(50),
        read_committed,
        ..FetchSettings::default()
    }
}

#[test]
fn batches_pass_through_unchanged_from_one_cluster_to_another() {
    let a = Broker::start();
    let b = Broker::start();

    // Partition 0 gets every codec; partition 1 a little.
    let inputs: Vec<(i32, Bytes)> = vec![
        (0, batch(3, Compression::None, "plain")),
        (0, batch(4, Compression::Gzip, "gzip")),
        (0, batch(2, Compression::Zstd, "zstd")),
        (0, batch(5, Compression::Lz4, "lz4")),
        (0, batch(3, Compression::Snappy, "snappy")),
        (1, batch(2, Compression::Gzip, "p1a")),
        (1, batch(1, Compression::None, "p1b")),
    ];
    let offsets = append_all(a.config(), "src", &inputs);
    assert_eq!(offsets, [0, 3, 7, 9, 14, 0, 2], "A's base offsets");

    // Everything back from A, from the earliest offset: the same records sections, at A's offsets.
    let fetcher = BatchFetcher::start(a.config(), fetch_settings(false)).expect("fetcher");
    fetcher
        .assign(&[("src".into(), 0, -2), ("src".into(), 1, -2)])
        .expect("assign");
    let from_a = take_records(&fetcher, 20);
    let flat_a: Vec<&FetchedBatch> = from_a.values().flatten().collect();
    assert_eq!(flat_a.len(), inputs.len());
    for ((input_p, input), (fetched, want_offset)) in inputs.iter().zip(flat_a.iter().zip(&offsets))
    {
        assert_eq!(fetched.partition, *input_p);
        assert_eq!(&*fetched.topic, "src");
        assert_eq!(fetched.base_offset, *want_offset);
        assert_eq!(base_offset(&fetched.bytes), *want_offset);
        assert_eq!(
            fetched.bytes[HEADER_LEN..],
            input[HEADER_LEN..],
            "records section"
        );
        assert_eq!(
            attributes(&fetched.bytes) & 7,
            attributes(input) & 7,
            "codec"
        );
    }

    // A's batches appended to B: stored at B's own offsets 0.., records untouched.
    let to_b: Vec<(i32, Bytes)> = flat_a
        .iter()
        .map(|f| (f.partition, f.bytes.clone()))
        .collect();
    let offsets_b = append_all(b.config(), "dst", &to_b);
    assert_eq!(offsets_b, [0, 3, 7, 9, 14, 0, 2], "B's base offsets");

    // Two fetch threads, each with its own connection and one of the partitions.
    let fetcher_b = BatchFetcher::start(
        b.config(),
        FetchSettings {
            connections: 2,
            ..fetch_settings(true)
        },
    )
    .expect("fetcher B");
    fetcher_b
        .assign(&[("dst".into(), 0, 0), ("dst".into(), 1, 0)])
        .expect("assign B");
    let from_b = take_records(&fetcher_b, 20);
    let flat_b: Vec<&FetchedBatch> = from_b.values().flatten().collect();
    assert_eq!(flat_b.len(), flat_a.len(), "read_committed skipped nothing");
    for (fb, fa) in flat_b.iter().zip(&flat_a) {
        assert_eq!(&*fb.topic, "dst");
        assert_eq!(fb.partition, fa.partition);
        assert_eq!((fb.base_offset, fb.records), (fa.base_offset, fa.records));
        assert_eq!(
            fb.bytes[HEADER_LEN..],
            fa.bytes[HEADER_LEN..],
            "records section"
        );
        assert_eq!(attributes(&fb.bytes), attributes(&fa.bytes), "attributes");
        let records = RecordBatchDecoder::decode(&mut fb.bytes.clone())
            .expect("decodes")
            .records;
        let offsets: Vec<i64> = records.iter().map(|r| r.offset).collect();
        assert_eq!(
            offsets,
            (fb.base_offset..=fb.last_offset).collect::<Vec<_>>()
        );
    }
    drop(fetcher_b);

    // A mid-batch offset: 5 is inside the gzip batch 3..=6, so 5 and 6 come re-encoded and the
    // later batches as they are; partition 1 is no longer assigned.
    fetcher
        .assign(&[("src".into(), 0, 5)])
        .expect("reassign mid");
    let mid = take_records(&fetcher, 12);
    assert_eq!(mid.keys().copied().collect::<Vec<_>>(), [0]);
    let p0 = &mid[&0];
    assert_eq!((p0[0].base_offset, p0[0].records), (5, 2));
    let straddled = RecordBatchDecoder::decode(&mut p0[0].bytes.clone())
        .expect("decodes")
        .records;
    assert_eq!(straddled[0].offset, 5);
    assert_eq!(straddled[0].key, Some(Bytes::from("key-gzip-2")));
    assert_eq!(straddled[1].key, Some(Bytes::from("key-gzip-3")));
    assert_eq!(straddled[0].headers.len(), 2);
    for (later, original) in p0[1..].iter().zip(&flat_a[2..5]) {
        assert_eq!(later.bytes[HEADER_LEN..], original.bytes[HEADER_LEN..]);
        assert_eq!(later.base_offset, original.base_offset);
    }

    // Keeping partition 0 where it is and adding partition 1 at the latest offset: nothing new
    // until something is appended, then exactly that.
    fetcher
        .assign(&[("src".into(), 0, 17), ("src".into(), 1, -1)])
        .expect("reassign latest");
    let quiet = fetcher
        .take(1000, Duration::from_millis(400))
        .expect("take");
    assert!(quiet.is_empty(), "nothing new yet: {quiet:?}");
    let more = vec![
        (0, batch(2, Compression::Zstd, "more0")),
        (1, batch(3, Compression::Lz4, "more1")),
    ];
    assert_eq!(append_all(a.config(), "src", &more), [17, 3]);
    let news = take_records(&fetcher, 5);
    assert_eq!(news[&0][0].base_offset, 17);
    assert_eq!(news[&1][0].base_offset, 3);
    assert_eq!(news[&1][0].bytes[HEADER_LEN..], more[1].1[HEADER_LEN..]);

    // A partition the topic does not have: retried until the delivery timeout, then an error.
    let appender = BatchAppender::start(
        b.config(),
        AppendSettings {
            delivery_timeout: Duration::from_millis(800),
            ..AppendSettings::default()
        },
    )
    .expect("appender");
    let (tx, rx) = mpsc::channel();
    appender
        .send(
            "dst",
            7,
            batch(1, Compression::None, "nowhere"),
            Box::new(move |r| {
                let _ = tx.send(r);
            }),
        )
        .expect("send");
    let r = rx
        .recv_timeout(Duration::from_secs(10))
        .expect("a delivery");
    match r {
        Err(WireError::Timeout(m)) => assert!(m.contains("UNKNOWN_TOPIC_OR_PARTITION"), "{m}"),
        other => panic!("expected a delivery timeout, got {other:?}"),
    }
}

#[test]
fn an_unreachable_cluster_is_reported_and_stopping_is_prompt() {
    // A port nothing listens on.
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let cfg = WireConfig::from_properties(
        &[
            ("bootstrap.servers".to_string(), format!("127.0.0.1:{port}")),
            ("request.timeout.ms".to_string(), "500".to_string()),
        ],
        "wire-test",
    )
    .expect("config");

    let fetcher = BatchFetcher::start(cfg.clone(), FetchSettings::default()).expect("fetcher");
    fetcher.assign(&[("t".into(), 0, 0)]).expect("assign");
    let started = Instant::now();
    let err = loop {
        match fetcher.take(10, Duration::from_millis(500)) {
            Err(e) => break e,
            Ok(b) => assert!(b.is_empty()),
        }
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "no error reported for an unreachable cluster"
        );
    };
    assert!(err.is_retriable(), "{err}");
    let stopping = Instant::now();
    drop(fetcher);
    assert!(
        stopping.elapsed() < Duration::from_secs(2),
        "fetcher drop took {:?}",
        stopping.elapsed()
    );

    let appender = BatchAppender::start(
        cfg,
        AppendSettings {
            delivery_timeout: Duration::from_millis(700),
            ..AppendSettings::default()
        },
    )
    .expect("appender");
    let (tx, rx) = mpsc::channel();
    let tx2 = tx.clone();
    appender
        .send(
            "t",
            0,
            batch(1, Compression::None, "x"),
            Box::new(move |r| {
                let _ = tx.send(r);
            }),
        )
        .expect("send");
    let r = rx.recv_timeout(Duration::from_secs(5)).expect("a delivery");
    assert!(matches!(r, Err(WireError::Timeout(_))), "{r:?}");
    // Queued when the appender is dropped: Err(Stopped), and the drop does not hang.
    let appender2 = BatchAppender::start(
        WireConfig {
            request_timeout: Duration::from_secs(30),
            ..appender_config(port)
        },
        AppendSettings::default(),
    )
    .expect("appender");
    appender2
        .send(
            "t",
            0,
            batch(1, Compression::None, "y"),
            Box::new(move |r| {
                let _ = tx2.send(r);
            }),
        )
        .expect("send");
    let stopping = Instant::now();
    drop(appender2);
    assert!(
        stopping.elapsed() < Duration::from_secs(2),
        "appender drop took {:?}",
        stopping.elapsed()
    );
    let r = rx.recv_timeout(Duration::from_secs(1)).expect("a delivery");
    assert!(matches!(r, Err(WireError::Stopped)), "{r:?}");
    drop(appender);
}

fn appender_config(port: u16) -> WireConfig {
    WireConfig {
        bootstrap: vec![format!("127.0.0.1:{port}")],
        client_id: "wire-test".to_string(),
        request_timeout: Duration::from_millis(500),
    }
}
