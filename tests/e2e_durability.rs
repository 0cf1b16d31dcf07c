//! End-to-end durability and log housekeeping: kill -9 recovery, torn and corrupt tails, retention,
//! compaction, and topic configs changed at runtime.

mod common;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::producer::{BaseRecord, DeliveryResult, Producer, ProducerContext, ThreadedProducer};
use rdkafka::{ClientContext, Offset, TopicPartitionList};

const TIMEOUT: Duration = Duration::from_secs(60);

/// Acknowledged records by (partition, offset).
type AckMap = BTreeMap<(i32, i64), Vec<u8>>;

/// One consumed record: partition, offset, key, value.
type Row = (i32, i64, Option<Vec<u8>>, Option<Vec<u8>>);

/// Remembers every acknowledged record's value. Clones share the record.
#[derive(Default, Clone)]
struct Acked(Arc<Mutex<AckMap>>);

impl ClientContext for Acked {}
impl ProducerContext for Acked {
    type DeliveryOpaque = ();
    fn delivery(&self, r: &DeliveryResult<'_>, _: ()) {
        if let Ok(m) = r {
            if let Ok(mut g) = self.0.lock() {
                g.insert(
                    (m.partition(), m.offset()),
                    m.payload().unwrap_or_default().to_vec(),
                );
            }
        }
    }
}

fn create_topic(bootstrap: &str, topic: &str, partitions: u32, configs: &[&str]) {
    let mut args = vec!["topics", "create", topic, "--partitions"];
    let p = partitions.to_string();
    args.push(&p);
    args.extend(["-b", bootstrap]);
    for c in configs {
        args.extend(["--config", c]);
    }
    let (ok, out, err) = common::weft_cmd(&args, None);
    assert!(ok, "topic create failed: {out} {err}");
}

/// Reads every record of `topic` from the beginning until `expect` records or the timeout.
fn read_all(bootstrap: &str, topic: &str, partitions: i32, expect: usize) -> Vec<Row> {
    let c: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", "durability-reader")
        .set("enable.auto.commit", "false")
        .set("enable.partition.eof", "true")
        .create()
        .expect("consumer");
    let mut tpl = TopicPartitionList::new();
    for p in 0..partitions {
        tpl.add_partition_offset(topic, p, Offset::Beginning)
            .expect("tpl");
    }
    c.assign(&tpl).expect("assign");
    let mut out = Vec::new();
    let mut eof = std::collections::HashSet::new();
    let deadline = Instant::now() + TIMEOUT;
    while Instant::now() < deadline {
        match c.poll(Duration::from_millis(300)) {
            Some(Ok(m)) => {
                eof.remove(&m.partition());
                out.push((
                    m.partition(),
                    m.offset(),
                    m.key().map(|k| k.to_vec()),
                    m.payload().map(|v| v.to_vec()),
                ));
            }
            Some(Err(rdkafka::error::KafkaError::PartitionEOF(p))) => {
                eof.insert(p);
                if eof.len() == partitions as usize && out.len() >= expect {
                    break;
                }
            }
            Some(Err(e)) => panic!("consume error: {e}"),
            None => {}
        }
    }
    out
}

/// Recovery from an unclean process stop: kill -9 while an acks=all producer is sending; after restart
/// every acknowledged record is there, at the offset it was acknowledged at, and offsets are contiguous.
/// This proves recovery (no clean-shutdown marker, tail validation), not durability against power loss:
/// the page cache survives SIGKILL. Power loss is simulated in weft-log's fault-injection tests.
#[test]
fn unclean_stop_recovers_every_acknowledged_record() {
    let mut w = common::Weft::start(&[]);
    create_topic(&w.bootstrap(), "durable", 3, &[]);
    let acked = Acked::default();
    let producer: ThreadedProducer<Acked> = ClientConfig::new()
        .set("bootstrap.servers", w.bootstrap())
        .set("acks", "all")
        .set("linger.ms", "2")
        .set("message.timeout.ms", "5000")
        .create_with_context(acked.clone())
        .expect("producer");
    let stop = Arc::new(AtomicBool::new(false));
    let stop2 = stop.clone();
    let sender = std::thread::spawn(move || {
        let mut i = 0u64;
        while !stop2.load(Ordering::SeqCst) {
            let v = format!("record-{i}");
            let k = format!("k{}", i % 100);
            if producer
                .send(BaseRecord::to("durable").key(&k).payload(&v))
                .is_err()
            {
                std::thread::sleep(Duration::from_millis(5));
                continue;
            }
            i += 1;
            if i.is_multiple_of(500) {
                std::thread::sleep(Duration::from_millis(1));
            }
        }
        let _ = producer.flush(Duration::from_secs(6));
    });
    let deadline = Instant::now() + TIMEOUT;
    while acked.0.lock().map(|g| g.len()).unwrap_or(0) < 20_000 {
        assert!(Instant::now() < deadline, "producer made no progress");
        std::thread::sleep(Duration::from_millis(20));
    }
    w.kill9();
    stop.store(true, Ordering::SeqCst);
    sender.join().expect("sender thread");
    let acked: AckMap = acked.0.lock().expect("lock").clone();
    assert!(acked.len() >= 20_000);

    w.restart();
    let all = read_all(&w.bootstrap(), "durable", 3, acked.len());
    let stored: HashMap<(i32, i64), Vec<u8>> = all
        .iter()
        .map(|(p, o, _, v)| ((*p, *o), v.clone().unwrap_or_default()))
        .collect();
    for ((p, o), v) in &acked {
        assert_eq!(
            stored.get(&(*p, *o)),
            Some(v),
            "acknowledged record at {p}/{o} lost or changed"
        );
    }
    for p in 0..3 {
        let mut offs: Vec<i64> = all.iter().filter(|r| r.0 == p).map(|r| r.1).collect();
        offs.sort();
        assert!(
            offs.iter().enumerate().all(|(i, o)| *o == i as i64),
            "partition {p} offsets not contiguous"
        );
    }
}

fn produce_lines(bootstrap: &str, topic: &str, lines: &str) {
    let (ok, out, err) = common::weft_cmd(
        &["produce", topic, "-b", bootstrap, "--key-separator", ":"],
        Some(lines.as_bytes()),
    );
    assert!(ok, "produce failed: {out} {err}");
}

fn segment_files(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("partition dir")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "log"))
        .collect();
    v.sort();
    v
}

fn damage_tail_then_recover(damage: impl Fn(&[u8]) -> Vec<u8>, expect_reason: &str) {
    let mut w = common::Weft::start(&[]);
    create_topic(&w.bootstrap(), "torn", 1, &[]);
    let lines: String = (0..100).map(|i| format!("k{i}:value-{i}\n")).collect();
    produce_lines(&w.bootstrap(), "torn", &lines);
    w.kill9();

    let seg = segment_files(&w.data_dir().join("torn-0"))
        .pop()
        .expect("a segment");
    let original = std::fs::read(&seg).expect("read segment");
    let mut bytes = original.clone();
    bytes.extend(damage(&original));
    std::fs::write(&seg, &bytes).expect("write damaged segment");

    w.restart();
    assert!(
        w.wait_for_log("truncated", Duration::from_secs(10)),
        "recovery did not log a truncation; log:\n{}",
        w.log_text()
    );
    let log = w.log_text();
    assert!(
        log.contains("torn-0"),
        "the truncation line names the partition: {log}"
    );
    assert!(
        log.to_lowercase().contains(expect_reason),
        "reason '{expect_reason}' not in log: {log}"
    );
    assert_eq!(
        std::fs::metadata(&seg).expect("segment").len(),
        original.len() as u64,
        "tail cut back to the last good batch"
    );

    let all = read_all(&w.bootstrap(), "torn", 1, 100);
    assert_eq!(all.len(), 100);
    // Appends continue right after the last good record.
    produce_lines(&w.bootstrap(), "torn", "k100:value-100\n");
    let all = read_all(&w.bootstrap(), "torn", 1, 101);
    assert_eq!(all.len(), 101);
    assert_eq!(all[100].1, 100);
    assert_eq!(all[100].3.as_deref(), Some(&b"value-100"[..]));
}

/// Half a batch at the end of the active segment (a write torn by a crash) is cut off on restart.
#[test]
fn torn_tail_is_truncated_with_a_log_line() {
    damage_tail_then_recover(|seg| seg[..seg.len().min(61) / 2 + 20].to_vec(), "");
}

/// A whole batch with a flipped byte (bad CRC) at the tail is cut off on restart.
#[test]
fn corrupt_crc_tail_is_truncated_with_a_log_line() {
    damage_tail_then_recover(
        |seg| {
            // Copy the first batch and flip a byte inside its records (covered by the CRC).
            let len = i32::from_be_bytes([seg[8], seg[9], seg[10], seg[11]]) as usize + 12;
            let mut b = seg[..len].to_vec();
            let last = b.len() - 2;
            b[last] ^= 0xff;
            b
        },
        "crc",
    );
}

fn earliest_offset(bootstrap: &str, topic: &str) -> i64 {
    let c: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .create()
        .expect("client");
    c.fetch_watermarks(topic, 0, TIMEOUT).expect("watermarks").0
}

fn produce_old(bootstrap: &str, topic: &str, n: usize, keyed: bool) {
    let p: ThreadedProducer<rdkafka::producer::DefaultProducerContext> = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("linger.ms", "0")
        .create()
        .expect("producer");
    let old = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_millis() as i64
        - 3_600_000;
    for i in 0..n {
        let v = format!("old-record-{i}-{}", "x".repeat(100));
        let k = format!("key-{i}");
        let mut r = BaseRecord::to(topic).payload(&v).timestamp(old + i as i64);
        if keyed {
            r = r.key(&k);
        }
        p.send(r).expect("send");
        // One record per batch so segments roll at small sizes.
        p.flush(TIMEOUT).expect("flush");
    }
}

/// Time retention removes whole old segments; a retention.ms change made with `weft topics alter`
/// applies to the running broker without a restart.
#[test]
fn retention_deletes_old_segments_and_alter_applies_live() {
    let w = common::Weft::start(&["log.retention.check.interval.ms=300"]);
    create_topic(
        &w.bootstrap(),
        "retained",
        1,
        &["segment.bytes=1024", "retention.ms=-1"],
    );
    produce_old(&w.bootstrap(), "retained", 40, false);
    let segs_before = segment_files(&w.data_dir().join("retained-0")).len();
    assert!(
        segs_before > 3,
        "small segments should have rolled: {segs_before}"
    );
    // retention.ms=-1 keeps everything through several retention passes.
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(earliest_offset(&w.bootstrap(), "retained"), 0);

    let (ok, out, err) = common::weft_cmd(
        &[
            "topics",
            "alter",
            "retained",
            "--config",
            "retention.ms=60000",
            "-b",
            &w.bootstrap(),
        ],
        None,
    );
    assert!(ok, "alter failed: {out} {err}");
    let deadline = Instant::now() + TIMEOUT;
    while earliest_offset(&w.bootstrap(), "retained") == 0 {
        assert!(
            Instant::now() < deadline,
            "retention never ran; log:\n{}",
            w.log_text()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(w.wait_for_log("retention deleted old segments", Duration::from_secs(5)));
    let segs_after = segment_files(&w.data_dir().join("retained-0")).len();
    assert!(
        segs_after < segs_before,
        "segments {segs_before} -> {segs_after}"
    );
    // The active segment is never deleted: the log end is unchanged and the last record is readable.
    let rest = read_all(&w.bootstrap(), "retained", 1, 1);
    assert!(!rest.is_empty());
    assert_eq!(rest.last().map(|r| r.1), Some(39));
}

/// Size retention keeps the partition under retention.bytes (whole segments).
#[test]
fn size_retention_deletes_oldest_segments() {
    let w = common::Weft::start(&["log.retention.check.interval.ms=300"]);
    create_topic(
        &w.bootstrap(),
        "sized",
        1,
        &["segment.bytes=1024", "retention.bytes=2048"],
    );
    produce_old(&w.bootstrap(), "sized", 40, false);
    // A retention pass may run while the producer is still appending, so wait for the pass after
    // the last append: the partition ends up within retention.bytes plus one segment (and a batch).
    let stored = || -> u64 {
        segment_files(&w.data_dir().join("sized-0"))
            .iter()
            .map(|p| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0))
            .sum()
    };
    let deadline = Instant::now() + TIMEOUT;
    while earliest_offset(&w.bootstrap(), "sized") == 0 || stored() > 2048 + 1024 + 512 {
        assert!(
            Instant::now() < deadline,
            "size retention did not bring the partition under retention.bytes + one segment \
             (earliest offset {}, {} bytes stored); log:\n{}",
            earliest_offset(&w.bootstrap(), "sized"),
            stored(),
            w.log_text()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(earliest_offset(&w.bootstrap(), "sized") > 0);
}

/// Compaction keeps only the latest value per key (tombstones too, while delete.retention.ms lasts).
#[test]
fn compaction_keeps_latest_value_per_key() {
    let w = common::Weft::start(&["log.cleaner.backoff.ms=300"]);
    create_topic(
        &w.bootstrap(),
        "compacted",
        1,
        &[
            "cleanup.policy=compact",
            "segment.bytes=2048",
            "delete.retention.ms=3600000",
        ],
    );
    let p: ThreadedProducer<rdkafka::producer::DefaultProducerContext> = ClientConfig::new()
        .set("bootstrap.servers", w.bootstrap())
        .set("compression.type", "lz4")
        .set("linger.ms", "0")
        .create()
        .expect("producer");
    for version in 0..30 {
        for k in 0..10 {
            let key = format!("k{k}");
            let v = format!("k{k}-v{version}");
            p.send(BaseRecord::to("compacted").key(&key).payload(&v))
                .expect("send");
        }
        p.flush(TIMEOUT).expect("flush");
    }
    p.send(BaseRecord::<str, str>::to("compacted").key("k9"))
        .expect("tombstone");
    p.flush(TIMEOUT).expect("flush");
    // Unique keys fill the active segment so every record above sits in a cleanable segment.
    for i in 0..60 {
        let key = format!("filler-{i}");
        let v = format!("filler-value-{i}-{}", "f".repeat(40));
        p.send(BaseRecord::to("compacted").key(&key).payload(&v))
            .expect("send");
        p.flush(TIMEOUT).expect("flush");
    }
    assert!(
        w.wait_for_log("compacted log", TIMEOUT),
        "compaction never ran; log:\n{}",
        w.log_text()
    );
    let all = read_all(&w.bootstrap(), "compacted", 1, 70);
    let mut by_key: HashMap<Vec<u8>, Vec<Option<Vec<u8>>>> = HashMap::new();
    for (_, _, k, v) in &all {
        by_key
            .entry(k.clone().expect("keyed"))
            .or_default()
            .push(v.clone());
    }
    for k in 0..9 {
        let vals = &by_key[format!("k{k}").as_bytes()];
        assert_eq!(
            vals.len(),
            1,
            "key k{k} has {} values after compaction",
            vals.len()
        );
        assert_eq!(vals[0].as_deref(), Some(format!("k{k}-v29").as_bytes()));
    }
    assert_eq!(
        by_key[&b"k9"[..]],
        vec![None],
        "the tombstone is the only k9 record"
    );
    for i in 0..60 {
        assert_eq!(by_key[format!("filler-{i}").as_bytes()].len(), 1);
    }
    // Offsets are preserved: strictly increasing, and the last offset is unchanged.
    let offs: Vec<i64> = all.iter().map(|r| r.1).collect();
    assert!(offs.windows(2).all(|w| w[0] < w[1]));
    assert_eq!(*offs.last().expect("records"), 30 * 10 + 1 + 60 - 1);
}
