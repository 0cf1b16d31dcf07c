//! Transaction metadata as records of the compacted internal topic `__transaction_state`, in Kafka's
//! own format (`TransactionLogKey` v0: the transactional id; `TransactionLogValue` v0, the version
//! Kafka writes until `transaction.version` 1 is finalized), so the topic reads the same as Kafka's
//! and compaction keeps the latest state of each transactional id. Values of v1 (flexible, with
//! tagged fields) are read too.

use std::collections::BTreeMap;

use bytes::{BufMut, Bytes, BytesMut};
use kafka_protocol::indexmap::IndexMap;
use kafka_protocol::records::{
    Compression, Record, RecordBatchEncoder, RecordEncodeOptions, TimestampType,
};

use super::state::{TxnMetadata, TxnState};
use super::TxnConfig;
use crate::topics::Topics;

pub const TRANSACTION_STATE_TOPIC: &str = "__transaction_state";

/// Kafka's choice of `__transaction_state` partition: `Utils.abs(transactionalId.hashCode()) % n`
/// (the same Java string hash as for groups).
pub fn partition_for(transactional_id: &str, partitions: i32) -> i32 {
    crate::groups::offsets::partition_for(transactional_id, partitions)
}

fn put_str(buf: &mut BytesMut, s: &str) {
    // Transactional ids and topic names are bounded far below i16::MAX by validation.
    let bytes = &s.as_bytes()[..s.len().min(i16::MAX as usize)];
    buf.put_i16(bytes.len() as i16);
    buf.put_slice(bytes);
}

/// `TransactionLogKey` v0: version 0, then the transactional id as a (non-compact) string.
pub fn encode_key(transactional_id: &str) -> Bytes {
    let mut b = BytesMut::with_capacity(4 + transactional_id.len());
    b.put_i16(0);
    put_str(&mut b, transactional_id);
    b.freeze()
}

/// `TransactionLogValue` v0. Partitions are grouped by topic; an Empty transaction stores a null
/// partition array, as Kafka does.
pub fn encode_value(m: &TxnMetadata) -> Bytes {
    let mut b = BytesMut::with_capacity(64);
    b.put_i16(0);
    b.put_i64(m.producer_id);
    b.put_i16(m.producer_epoch);
    b.put_i32(m.timeout_ms);
    b.put_i8(m.state.id());
    if m.state == TxnState::Empty {
        b.put_i32(-1);
    } else {
        let mut by_topic: BTreeMap<&str, Vec<i32>> = BTreeMap::new();
        for (t, p) in &m.partitions {
            by_topic.entry(t.as_str()).or_default().push(*p);
        }
        b.put_i32(by_topic.len() as i32);
        for (t, parts) in by_topic {
            put_str(&mut b, t);
            b.put_i32(parts.len() as i32);
            for p in parts {
                b.put_i32(p);
            }
        }
    }
    b.put_i64(m.last_update_ms);
    b.put_i64(m.start_ms);
    b.freeze()
}

struct Reader<'a> {
    buf: &'a [u8],
    flexible: bool,
}

impl Reader<'_> {
    fn take<const N: usize>(&mut self) -> Option<[u8; N]> {
        let (head, rest) = self.buf.split_at_checked(N)?;
        self.buf = rest;
        head.try_into().ok()
    }
    fn i8(&mut self) -> Option<i8> {
        self.take::<1>().map(i8::from_be_bytes)
    }
    fn i16(&mut self) -> Option<i16> {
        self.take::<2>().map(i16::from_be_bytes)
    }
    fn i32(&mut self) -> Option<i32> {
        self.take::<4>().map(i32::from_be_bytes)
    }
    fn i64(&mut self) -> Option<i64> {
        self.take::<8>().map(i64::from_be_bytes)
    }
    fn uvarint(&mut self) -> Option<u64> {
        let mut v: u64 = 0;
        for shift in (0..64).step_by(7) {
            let [b] = self.take::<1>()?;
            v |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Some(v);
            }
        }
        None
    }
    /// An array or string length; `None` inside = null. Bounded by the bytes left (each element
    /// takes at least `min_elem` bytes), so a lying count allocates nothing.
    fn len(&mut self, min_elem: usize) -> Option<Option<usize>> {
        let n: i64 = if self.flexible {
            self.uvarint()? as i64 - 1
        } else {
            i64::from(self.i32()?)
        };
        if n < 0 {
            return Some(None);
        }
        let n = usize::try_from(n).ok()?;
        if n.saturating_mul(min_elem.max(1)) > self.buf.len() {
            return None;
        }
        Some(Some(n))
    }
    fn string(&mut self) -> Option<String> {
        let len = if self.flexible {
            usize::try_from(self.uvarint()?.checked_sub(1)?).ok()?
        } else {
            usize::try_from(self.i16()?).ok()?
        };
        let (s, rest) = self.buf.split_at_checked(len)?;
        self.buf = rest;
        String::from_utf8(s.to_vec()).ok()
    }
    fn skip_tags(&mut self) -> Option<()> {
        if !self.flexible {
            return Some(());
        }
        let n = self.uvarint()?;
        for _ in 0..n {
            self.uvarint()?;
            let size = usize::try_from(self.uvarint()?).ok()?;
            let (_, rest) = self.buf.split_at_checked(size)?;
            self.buf = rest;
        }
        Some(())
    }
}

/// The transactional id of a `TransactionLogKey`; `None` for unknown versions or junk.
pub fn decode_key(key: &[u8]) -> Option<String> {
    let mut r = Reader {
        buf: key,
        flexible: false,
    };
    match r.i16()? {
        0 => r.string(),
        _ => None,
    }
}

/// A `TransactionLogValue` of version 0 or 1; `None` for unknown versions, unknown states or junk.
pub fn decode_value(transactional_id: &str, value: &[u8]) -> Option<TxnMetadata> {
    let mut r = Reader {
        buf: value,
        flexible: false,
    };
    let version = r.i16()?;
    if !(0..=1).contains(&version) {
        return None;
    }
    r.flexible = version >= 1;
    let producer_id = r.i64()?;
    let producer_epoch = r.i16()?;
    let timeout_ms = r.i32()?;
    let state = TxnState::from_id(r.i8()?)?;
    let mut partitions = std::collections::BTreeSet::new();
    if let Some(topics) = r.len(3)? {
        for _ in 0..topics {
            let topic = r.string()?;
            let ids = r.len(4)?.unwrap_or(0);
            for _ in 0..ids {
                partitions.insert((topic.clone(), r.i32()?));
            }
            r.skip_tags()?;
        }
    }
    let last_update_ms = r.i64()?;
    let start_ms = r.i64()?;
    r.skip_tags()?;
    let mut m = TxnMetadata::new(transactional_id, producer_id, timeout_ms, last_update_ms);
    m.producer_epoch = producer_epoch;
    m.state = state;
    m.start_ms = start_ms;
    if state != TxnState::Empty {
        m.partitions = partitions;
    }
    Some(m)
}

/// One record (a state, or a tombstone with `None`) as a batch, in Kafka's record format.
pub fn encode_batch(
    transactional_id: &str,
    value: Option<&TxnMetadata>,
    now_ms: i64,
) -> Result<Bytes, String> {
    let record = Record {
        transactional: false,
        control: false,
        delete_horizon: false,
        partition_leader_epoch: -1,
        producer_id: -1,
        producer_epoch: -1,
        timestamp_type: TimestampType::Creation,
        offset: 0,
        sequence: -1,
        timestamp: now_ms,
        key: Some(encode_key(transactional_id)),
        value: value.map(encode_value),
        headers: IndexMap::new(),
    };
    let mut buf = BytesMut::new();
    RecordBatchEncoder::encode(
        &mut buf,
        std::slice::from_ref(&record),
        &RecordEncodeOptions {
            version: 2,
            compression: Compression::None,
        },
    )
    .map_err(|e| format!("encoding a {TRANSACTION_STATE_TOPIC} record: {e}"))?;
    Ok(buf.freeze())
}

/// Creates `__transaction_state` if it does not exist yet (compacted, small segments).
pub fn ensure_topic(topics: &Topics, config: &TxnConfig) -> Result<(), crate::BrokerError> {
    if topics.get(TRANSACTION_STATE_TOPIC).is_some() {
        return Ok(());
    }
    let mut overrides = BTreeMap::new();
    overrides.insert("cleanup.policy".to_string(), "compact".to_string());
    overrides.insert(
        "segment.bytes".to_string(),
        config.state_log_segment_bytes.to_string(),
    );
    match topics.create(
        TRANSACTION_STATE_TOPIC,
        config.state_log_partitions,
        overrides,
        false,
    ) {
        Ok(_) | Err(crate::BrokerError::TopicExists(_)) => Ok(()),
        Err(e) => Err(e),
    }
}

/// Appends one transactional id's state (or tombstone) from a blocking thread, creating the topic
/// first if needed.
pub fn append_blocking(
    topics: &Topics,
    config: &TxnConfig,
    transactional_id: &str,
    value: Option<&TxnMetadata>,
    now_ms: i64,
) -> Result<(), String> {
    ensure_topic(topics, config).map_err(|e| e.to_string())?;
    let info = topics
        .get(TRANSACTION_STATE_TOPIC)
        .ok_or_else(|| format!("{TRANSACTION_STATE_TOPIC} does not exist"))?;
    let n = info.partitions.len() as i32;
    let p = info
        .partition(partition_for(transactional_id, n))
        .cloned()
        .ok_or_else(|| {
            format!("{TRANSACTION_STATE_TOPIC} has no partition for {transactional_id}")
        })?;
    let batch = encode_batch(transactional_id, value, now_ms)?;
    p.append_blocking(batch, now_ms)
        .map(|_| ())
        .map_err(|e| e.to_string())
}

/// What the replay of `__transaction_state` found: the latest state per transactional id.
#[derive(Debug, Default)]
pub struct Loaded {
    pub states: BTreeMap<String, TxnMetadata>,
    /// Batches whose records could not be decoded, skipped whole.
    pub skipped_batches: usize,
}

/// Why the replay cannot go on (start-up fails: skipping the rest would lose transactions).
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    #[error("cannot read {TRANSACTION_STATE_TOPIC}-{partition} at offset {offset}: {reason}")]
    Read {
        partition: i32,
        offset: i64,
        reason: String,
    },
}

/// The (transactional id, state or tombstone) records of one stored batch, within weft-log's
/// decompression limits.
fn decode_batch(
    h: &weft_log::batch::BatchHeader,
    bytes: &[u8],
) -> Result<Vec<(String, Option<TxnMetadata>)>, String> {
    weft_log::batch::check_batch_crc(h, bytes).map_err(|e| e.to_string())?;
    if h.is_control() {
        return Ok(Vec::new());
    }
    let max = weft_log::LogConfig::default().max_message_bytes;
    let limits = weft_log::record::DecodeLimits::for_batch(h, max);
    let mut records =
        weft_log::record::RecordStream::open(bytes, h, limits).map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    while let Some(rec) = records.next_record().map_err(|e| e.to_string())? {
        let Some(id) = rec.key.and_then(decode_key) else {
            continue;
        };
        match rec.value {
            None => out.push((id, None)),
            Some(v) => match decode_value(&id, v) {
                Some(m) => out.push((id, Some(m))),
                None => {
                    tracing::warn!(transactional_id = %id, "skipping an undecodable {TRANSACTION_STATE_TOPIC} value")
                }
            },
        }
    }
    Ok(out)
}

/// Replays `__transaction_state` (the latest record per transactional id wins; a tombstone removes it).
pub fn load(topics: &Topics) -> Result<Loaded, ReplayError> {
    let mut out = Loaded::default();
    let Some(info) = topics.get(TRANSACTION_STATE_TOPIC) else {
        return Ok(out);
    };
    for p in &info.partitions {
        let Ok((start, end)) = p.offsets() else {
            continue;
        };
        let mut next = start;
        while next < end {
            let err = |offset: i64, reason: String| ReplayError::Read {
                partition: p.index,
                offset,
                reason,
            };
            let read = p
                .read(next, 1 << 20)
                .map_err(|e| err(next, e.to_string()))?;
            if read.records.is_empty() {
                break;
            }
            let before = next;
            for item in weft_log::batch::batches(&read.records) {
                let (h, bytes) = item.map_err(|e| err(next, e.to_string()))?;
                next = next.max(h.last_offset() + 1);
                match decode_batch(&h, bytes) {
                    Ok(entries) => {
                        for (id, value) in entries {
                            match value {
                                Some(m) => {
                                    out.states.insert(id, m);
                                }
                                None => {
                                    out.states.remove(&id);
                                }
                            }
                        }
                    }
                    Err(reason) => {
                        out.skipped_batches += 1;
                        tracing::error!(partition = p.index, base_offset = h.base_offset, %reason, "skipping an undecodable batch in {TRANSACTION_STATE_TOPIC}");
                    }
                }
            }
            if next == before {
                return Err(err(next, "the read returned no complete batch".into()));
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Bytes laid out by hand from TransactionLogKey.json / TransactionLogValue.json (v0:
    /// non-flexible, int32 array counts, int16 string lengths, nullable partitions array).
    #[test]
    fn bytes_match_kafkas_schema() {
        assert_eq!(
            encode_key("tx").as_ref(),
            &[0, 0, 0, 2, b't', b'x'],
            "key: version 0, string"
        );
        let mut m = TxnMetadata::new("tx", 0x0102, 60_000, 0x10);
        m.producer_epoch = 3;
        m.state = TxnState::Ongoing;
        m.start_ms = 0x20;
        m.partitions.insert(("a".into(), 1));
        m.partitions.insert(("a".into(), 0));
        let mut want = vec![0u8, 0]; // version
        want.extend_from_slice(&0x0102i64.to_be_bytes()); // ProducerId
        want.extend_from_slice(&3i16.to_be_bytes()); // ProducerEpoch
        want.extend_from_slice(&60_000i32.to_be_bytes()); // TransactionTimeoutMs
        want.push(1); // TransactionStatus: Ongoing
        want.extend_from_slice(&1i32.to_be_bytes()); // one topic
        want.extend_from_slice(&[0, 1, b'a']); // Topic
        want.extend_from_slice(&2i32.to_be_bytes()); // two PartitionIds
        want.extend_from_slice(&0i32.to_be_bytes());
        want.extend_from_slice(&1i32.to_be_bytes());
        want.extend_from_slice(&0x10i64.to_be_bytes()); // TransactionLastUpdateTimestampMs
        want.extend_from_slice(&0x20i64.to_be_bytes()); // TransactionStartTimestampMs
        assert_eq!(encode_value(&m).as_ref(), want.as_slice());
        assert_eq!(decode_value("tx", &want), Some(m.clone()));

        // Empty: a null partition array (count -1).
        m.state = TxnState::Empty;
        m.partitions.clear();
        let bytes = encode_value(&m);
        assert_eq!(&bytes[17..21], &(-1i32).to_be_bytes());
        assert_eq!(decode_value("tx", &bytes), Some(m));
    }

    #[test]
    fn reads_flexible_v1_and_refuses_junk() {
        // v1: compact array/string lengths (+1 varints) and tagged fields (PreviousProducerId tag 0).
        let mut v = vec![0u8, 1];
        v.extend_from_slice(&7i64.to_be_bytes());
        v.extend_from_slice(&0i16.to_be_bytes());
        v.extend_from_slice(&1000i32.to_be_bytes());
        v.push(2); // PrepareCommit
        v.push(2); // one topic (compact: n+1)
        v.extend_from_slice(&[2, b't']); // compact string "t"
        v.push(2); // one partition id
        v.extend_from_slice(&5i32.to_be_bytes());
        v.push(0); // topic tags
        v.extend_from_slice(&1i64.to_be_bytes());
        v.extend_from_slice(&2i64.to_be_bytes());
        v.extend_from_slice(&[1, 0, 8]); // one tag: 0, 8 bytes
        v.extend_from_slice(&6i64.to_be_bytes());
        let m = decode_value("x", &v).expect("v1 decodes");
        assert_eq!(m.state, TxnState::PrepareCommit);
        assert!(m.partitions.contains(&("t".to_string(), 5)));
        assert_eq!((m.last_update_ms, m.start_ms), (1, 2));

        assert_eq!(decode_value("x", &[0, 0, 1]), None);
        assert_eq!(decode_value("x", &[0, 9]), None);
        // A lying array count allocates nothing and fails.
        let mut lie = encode_value(&TxnMetadata::new("x", 1, 1, 1)).to_vec();
        lie[16] = 1; // state Ongoing, so the count is read
        lie[17..21].copy_from_slice(&i32::MAX.to_be_bytes());
        assert_eq!(decode_value("x", &lie), None);
        assert_eq!(decode_key(&[0, 1, 0, 1, b'a']), None);
        assert_eq!(decode_key(&encode_key("abc")), Some("abc".into()));
    }

    #[test]
    fn partitioning_is_javas_string_hash() {
        assert_eq!(partition_for("a", 50), 97 % 50);
    }
}
