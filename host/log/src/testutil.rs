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
    let mut buf = BytesMut::new();
    RecordBatchEncoder::encode(
        &mut buf,
        &records,
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
        tracing::subscriber::with_default(self.clone(), f)
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
