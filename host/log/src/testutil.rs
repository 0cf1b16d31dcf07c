//! Test helpers: record batches built with kafka-protocol's encoder (an implementation independent of
//! ours), a tracing capture, and small log builders.

use std::sync::{Arc, Mutex};

use bytes::{Bytes, BytesMut};
use kafka_protocol::indexmap::IndexMap;
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::records::{
    Compression, Record, RecordBatchEncoder, RecordEncodeOptions, TimestampType,
};

/// A record with key and value; offset and timestamp are filled in by [`batch`].
pub(crate) fn rec(key: &str, value: &str) -> Record {
    Record {
        transactional: false,
        control: false,
        delete_horizon: false,
        partition_leader_epoch: -1,
        producer_id: -1,
        producer_epoch: -1,
        timestamp_type: TimestampType::Creation,
        offset: 0,
        sequence: -1,
        timestamp: 0,
        key: Some(Bytes::copy_from_slice(key.as_bytes())),
        value: Some(Bytes::copy_from_slice(value.as_bytes())),
        headers: IndexMap::new(),
    }
}

/// A tombstone (null value).
pub(crate) fn tombstone(key: &str) -> Record {
    let mut r = rec(key, "");
    r.value = None;
    r
}

pub(crate) fn rec_with_headers(key: &str, value: &str, headers: &[(&str, Option<&str>)]) -> Record {
    let mut r = rec(key, value);
    for (k, v) in headers {
        r.headers.insert(
            StrBytes::from_string(k.to_string()),
            v.map(|v| Bytes::copy_from_slice(v.as_bytes())),
        );
    }
    r
}

/// Encodes `records` as one producer batch: offsets 0.., timestamps `base_ts`, `base_ts + 1`, ...
/// Sequences are chosen so the encoder yields base sequence -1 (a non-idempotent producer).
pub(crate) fn batch(records: &[Record], base_ts: i64, codec: Compression) -> Vec<u8> {
    let records: Vec<Record> = records
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let mut r = r.clone();
            r.offset = i as i64;
            r.sequence = i as i32 - 1;
            r.timestamp = base_ts + i as i64;
            r
        })
        .collect();
    encode(&records, codec)
}

/// Encodes `records` as one batch exactly as given (offsets, sequences and timestamps included).
pub(crate) fn encode(records: &[Record], codec: Compression) -> Vec<u8> {
    let mut buf = BytesMut::new();
    RecordBatchEncoder::encode(
        &mut buf,
        records,
        &RecordEncodeOptions {
            version: 2,
            compression: codec,
        },
    )
    .expect("encode test batch");
    buf.to_vec()
}

/// A batch of `n` small keyed records.
pub(crate) fn simple_batch(n: usize, base_ts: i64) -> Vec<u8> {
    let recs: Vec<Record> = (0..n)
        .map(|i| rec(&format!("key-{i}"), &format!("value-{i}")))
        .collect();
    batch(&recs, base_ts, Compression::None)
}

/// Captures the formatted tracing events emitted while a closure runs.
#[derive(Clone, Default)]
pub(crate) struct Capture {
    pub lines: Arc<Mutex<Vec<String>>>,
}

struct Visitor<'a>(&'a mut String);

impl tracing::field::Visit for Visitor<'_> {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        use std::fmt::Write;
        let _ = write!(self.0, " {}={:?}", field.name(), value);
    }
}

impl tracing::Subscriber for Capture {
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, event: &tracing::Event<'_>) {
        let mut line = format!("{}", event.metadata().level());
        event.record(&mut Visitor(&mut line));
        self.lines.lock().expect("capture lock").push(line);
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}

impl Capture {
    pub(crate) fn run<T>(&self, f: impl FnOnce() -> T) -> T {
        tracing::subscriber::with_default(self.clone(), || {
            // Tests run in parallel, each with its own scoped subscriber: a callsite whose
            // interest another thread cached while no capture was live would skip this one
            // (a CI run lost a warning so). Recomputing it with this capture live makes every
            // callsite ask again.
            tracing::callsite::rebuild_interest_cache();
            f()
        })
    }
    pub(crate) fn lines(&self) -> Vec<String> {
        self.lines.lock().expect("capture lock").clone()
    }
}

/// Everything readable from the log start to the end, fetched call after call like a consumer.
pub(crate) fn read_all(log: &crate::Log, max_bytes: usize) -> Vec<u8> {
    let mut out = Vec::new();
    let mut offset = log.log_start_offset();
    while offset < log.log_end_offset() {
        let r = log.read(offset, max_bytes).expect("read");
        assert!(!r.records.is_empty(), "no progress at offset {offset}");
        for b in crate::batch::batches(&r.records) {
            offset = b.expect("stored batch").0.last_offset() + 1;
        }
        out.extend_from_slice(&r.records);
    }
    out
}

/// Base offset of the first batch in `buf`.
pub(crate) fn first_base(buf: &[u8]) -> i64 {
    crate::batch::BatchHeader::parse(buf)
        .expect("batch header")
        .base_offset
}

/// One record of a hand-built batch: key "k" and `value_len` zero bytes.
#[derive(Clone, Copy)]
pub(crate) struct BombRecord {
    value_len: usize,
}

impl BombRecord {
    pub(crate) fn value(value_len: usize) -> BombRecord {
        BombRecord { value_len }
    }
}

fn varlong(out: &mut Vec<u8>, v: i64) {
    let mut z = ((v << 1) ^ (v >> 63)) as u64;
    while z >= 0x80 {
        out.push((z as u8) | 0x80);
        z >>= 7;
    }
    out.push(z as u8);
}

fn write_bomb_records(w: &mut impl std::io::Write, records: &[BombRecord]) {
    let zeros = vec![0u8; 1 << 20];
    for (i, r) in records.iter().enumerate() {
        let mut head = vec![0u8];
        varlong(&mut head, 0);
        varlong(&mut head, i as i64);
        varlong(&mut head, 1);
        head.push(b'k');
        varlong(&mut head, r.value_len as i64);
        let mut prefix = Vec::new();
        varlong(&mut prefix, (head.len() + r.value_len + 1) as i64);
        w.write_all(&prefix).unwrap();
        w.write_all(&head).unwrap();
        let mut left = r.value_len;
        while left > 0 {
            let n = left.min(zeros.len());
            w.write_all(&zeros[..n]).unwrap();
            left -= n;
        }
        w.write_all(&[0]).unwrap();
    }
}

/// A batch whose header claims `count` records and whose records section holds `records`, compressed
/// with the real codec crates while streaming (so a section of hundreds of MiB of zeros is never held
/// in memory): decompression bombs for the bounded readers.
pub(crate) fn bomb_batch(codec: Compression, count: i32, records: &[BombRecord]) -> Vec<u8> {
    let mut sink = Vec::new();
    match codec {
        Compression::Zstd => {
            let mut e = zstd::stream::write::Encoder::new(&mut sink, 3).unwrap();
            write_bomb_records(&mut e, records);
            e.finish().unwrap();
        }
        Compression::Gzip => {
            let mut e = flate2::write::GzEncoder::new(&mut sink, flate2::Compression::fast());
            write_bomb_records(&mut e, records);
            e.finish().unwrap();
        }
        Compression::None => write_bomb_records(&mut sink, records),
        other => panic!("no bomb builder for {other:?}"),
    }
    let mut b = vec![0u8; crate::batch::HEADER_LEN];
    b.extend_from_slice(&sink);
    let attributes = match codec {
        Compression::None => 0,
        Compression::Gzip => 1,
        Compression::Snappy => 2,
        Compression::Lz4 => 3,
        Compression::Zstd => 4,
    };
    let len = (b.len() - 12) as i32;
    crate::batch::put_i32(&mut b, 8, len);
    b[16] = 2;
    crate::batch::put_i16(&mut b, 21, attributes);
    crate::batch::put_i32(&mut b, 23, count - 1);
    crate::batch::put_i64(&mut b, 27, 1000);
    crate::batch::put_i64(&mut b, 35, 1000);
    crate::batch::put_i64(&mut b, 43, -1);
    crate::batch::put_i16(&mut b, 51, -1);
    crate::batch::put_i32(&mut b, 53, -1);
    crate::batch::put_i32(&mut b, 57, count);
    let crc = crate::batch::compute_crc(&b);
    crate::batch::put_u32(&mut b, 17, crc);
    b
}

/// A log in `dir` whose first segment holds `batch` at offset 0 as if it had been stored before the
/// append path checked such batches (or by another writer): the file is written directly and the
/// log opened on it, so recovery scans it as it scans any unflushed tail.
pub(crate) fn log_holding(
    dir: &std::path::Path,
    batch: &[u8],
    config: crate::config::LogConfig,
) -> crate::log::Log {
    let mut b = batch.to_vec();
    crate::batch::put_i64(&mut b, crate::batch::BASE_OFFSET_POS, 0);
    std::fs::write(dir.join("00000000000000000000.log"), &b).unwrap();
    crate::log::Log::open(dir, config).unwrap().0
}
