//! Committed offsets as records of the compacted internal topic `__consumer_offsets`, in Kafka's own
//! record format (key version 1: group, topic, partition; value version 3), so the topic reads the same
//! as Kafka's and compaction keeps exactly the latest commit per (group, topic, partition).

use std::collections::BTreeMap;
use std::sync::Arc;

use bytes::{BufMut, Bytes, BytesMut};
use kafka_protocol::indexmap::IndexMap;
use kafka_protocol::records::{
    Compression, Record, RecordBatchEncoder, RecordEncodeOptions, TimestampType,
};

use crate::partition::Partition;
use crate::topics::Topics;

pub const OFFSETS_TOPIC: &str = "__consumer_offsets";

/// One committed offset.
#[derive(Debug, Clone, PartialEq)]
pub struct Committed {
    pub offset: i64,
    pub leader_epoch: i32,
    pub metadata: String,
    pub commit_ts: i64,
    /// Where this commit sits in `__consumer_offsets` (-1 until stored). Writes are applied in memory
    /// after their append returns, so when two race, the one later in the log wins, as on replay.
    pub log_offset: i64,
}

/// Committed offsets of one group, by (topic, partition).
pub type GroupOffsets = BTreeMap<(String, i32), Committed>;

/// Kafka's choice of `__consumer_offsets` partition: `Utils.abs(groupId.hashCode()) % partitions`,
/// with Java's String.hashCode over UTF-16 code units.
pub fn partition_for(group: &str, partitions: i32) -> i32 {
    let mut h: i32 = 0;
    for unit in group.encode_utf16() {
        h = h.wrapping_mul(31).wrapping_add(unit as i32);
    }
    // Kafka's Utils.abs maps i32::MIN to 0 instead of overflowing.
    let abs = if h == i32::MIN { 0 } else { h.abs() };
    abs % partitions.max(1)
}

fn put_str(buf: &mut BytesMut, s: &str) {
    // Group and topic names and metadata are bounded far below i16::MAX by validation.
    let bytes = &s.as_bytes()[..s.len().min(i16::MAX as usize)];
    buf.put_i16(bytes.len() as i16);
    buf.put_slice(bytes);
}

/// Offset-commit key, version 1.
pub fn encode_key(group: &str, topic: &str, partition: i32) -> Bytes {
    let mut b = BytesMut::with_capacity(8 + group.len() + topic.len());
    b.put_i16(1);
    put_str(&mut b, group);
    put_str(&mut b, topic);
    b.put_i32(partition);
    b.freeze()
}

/// Offset-commit value, version 3 (offset, leader epoch, metadata, commit timestamp).
pub fn encode_value(c: &Committed) -> Bytes {
    let mut b = BytesMut::with_capacity(26 + c.metadata.len());
    b.put_i16(3);
    b.put_i64(c.offset);
    b.put_i32(c.leader_epoch);
    put_str(&mut b, &c.metadata);
    b.put_i64(c.commit_ts);
    b.freeze()
}

struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn take<const N: usize>(&mut self) -> Option<[u8; N]> {
        let (head, rest) = self.0.split_at_checked(N)?;
        self.0 = rest;
        head.try_into().ok()
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
    fn string(&mut self) -> Option<String> {
        let len = usize::try_from(self.i16()?).ok()?;
        let (s, rest) = self.0.split_at_checked(len)?;
        self.0 = rest;
        Some(String::from_utf8_lossy(s).into_owned())
    }
}

/// (group, topic, partition) of an offset-commit key; `None` for group-metadata keys (version 2) or junk.
pub fn decode_key(key: &[u8]) -> Option<(String, String, i32)> {
    let mut r = Reader(key);
    match r.i16()? {
        0 | 1 => Some((r.string()?, r.string()?, r.i32()?)),
        _ => None,
    }
}

/// An offset-commit value of any version Kafka has written (0-3; 4 is 3 plus tagged fields).
pub fn decode_value(value: &[u8]) -> Option<Committed> {
    let mut r = Reader(value);
    let version = r.i16()?;
    let offset = r.i64()?;
    let leader_epoch = if version >= 3 { r.i32()? } else { -1 };
    let metadata = r.string()?;
    let commit_ts = r.i64()?;
    Some(Committed {
        offset,
        leader_epoch,
        metadata,
        commit_ts,
        log_offset: -1,
    })
}

/// Creates `__consumer_offsets` if it does not exist yet (compacted, offsets.topic.num.partitions).
pub fn ensure_topic(topics: &Topics, partitions: i32) -> Result<(), crate::BrokerError> {
    if topics.get(OFFSETS_TOPIC).is_some() {
        return Ok(());
    }
    let mut overrides = BTreeMap::new();
    overrides.insert("cleanup.policy".to_string(), "compact".to_string());
    // Kafka's offsets.topic.segment.bytes default: small segments so compaction has closed ones to clean.
    overrides.insert("segment.bytes".to_string(), "104857600".to_string());
    match topics.create(OFFSETS_TOPIC, partitions, overrides, false) {
        Ok(_) | Err(crate::BrokerError::TopicExists(_)) => Ok(()),
        Err(e) => Err(e),
    }
}

/// The `__consumer_offsets` partition that holds `group`'s records, if the topic exists.
pub fn existing_partition(topics: &Topics, group: &str) -> Option<Arc<Partition>> {
    let info = topics.get(OFFSETS_TOPIC)?;
    let n = info.partitions.len() as i32;
    info.partition(partition_for(group, n)).cloned()
}

/// [`existing_partition`], creating the topic first if needed (file I/O: blocking threads only).
pub fn partition_creating(
    topics: &Topics,
    partitions: i32,
    group: &str,
) -> Result<Arc<Partition>, String> {
    ensure_topic(topics, partitions).map_err(|e| e.to_string())?;
    existing_partition(topics, group).ok_or_else(|| format!("{OFFSETS_TOPIC} does not exist"))
}

/// One batch of commits (`Some`) and tombstones (`None`) for one group, in Kafka's record format.
pub fn encode_batch(
    group: &str,
    entries: &[(&str, i32, Option<&Committed>)],
    now_ms: i64,
) -> Result<Bytes, String> {
    encode_records(group, entries, None, now_ms)
}

/// The producer of a transactional offsets batch (TxnOffsetCommit): id, epoch, first sequence.
#[derive(Debug, Clone, Copy)]
pub struct TxnProducer {
    pub producer_id: i64,
    pub epoch: i16,
    pub base_sequence: i32,
}

/// A transactional batch of one group's offsets, written for a TxnOffsetCommit: the offsets become
/// visible when the transaction's COMMIT marker follows in the same partition.
pub fn encode_txn_batch(
    group: &str,
    entries: &[(&str, i32, Option<&Committed>)],
    producer: TxnProducer,
    now_ms: i64,
) -> Result<Bytes, String> {
    encode_records(group, entries, Some(producer), now_ms)
}

fn encode_records(
    group: &str,
    entries: &[(&str, i32, Option<&Committed>)],
    producer: Option<TxnProducer>,
    now_ms: i64,
) -> Result<Bytes, String> {
    let records: Vec<Record> = entries
        .iter()
        .enumerate()
        .map(|(i, (topic, partition, c))| Record {
            transactional: producer.is_some(),
            control: false,
            delete_horizon: false,
            partition_leader_epoch: -1,
            producer_id: producer.map_or(-1, |p| p.producer_id),
            producer_epoch: producer.map_or(-1, |p| p.epoch),
            timestamp_type: TimestampType::Creation,
            offset: i as i64,
            // The encoder derives the base sequence from the first record; -1 means "not idempotent".
            sequence: match producer {
                Some(p) => p.base_sequence.wrapping_add(i as i32),
                None => i as i32 - 1,
            },
            timestamp: now_ms,
            key: Some(encode_key(group, topic, *partition)),
            value: c.map(encode_value),
            headers: IndexMap::new(),
        })
        .collect();
    let mut buf = BytesMut::new();
    RecordBatchEncoder::encode(
        &mut buf,
        &records,
        &RecordEncodeOptions {
            version: 2,
            compression: Compression::None,
        },
    )
    .map_err(|e| format!("encoding offset records: {e}"))?;
    Ok(buf.freeze())
}

/// Appends one group's commits and tombstones from a blocking thread; returns the offset of the
/// first record. Never call it with the groups mutex held.
pub fn append_blocking(
    topics: &Topics,
    partitions: i32,
    group: &str,
    entries: &[(&str, i32, Option<&Committed>)],
    now_ms: i64,
) -> Result<i64, String> {
    let p = partition_creating(topics, partitions, group)?;
    let batch = encode_batch(group, entries, now_ms)?;
    p.append_blocking(batch, now_ms)
        .map(|info| info.base_offset)
        .map_err(|e| e.to_string())
}

/// Transactional offsets of one producer whose transaction has no marker yet: (group,
/// `__consumer_offsets` partition, topic, partition, offset or tombstone).
pub type PendingTxnOffsets = Vec<(String, i32, String, i32, Option<Committed>)>;

/// What the replay of `__consumer_offsets` found.
#[derive(Debug, Default)]
pub struct Loaded {
    pub offsets: BTreeMap<String, GroupOffsets>,
    /// Transactional offsets whose transaction was still open at the log end, by producer id: the
    /// coordinator's markers (after a restart) apply or drop them.
    pub pending: std::collections::HashMap<i64, PendingTxnOffsets>,
    /// Next sequence per (producer id, `__consumer_offsets` partition): (epoch, sequence), so
    /// TxnOffsetCommit batches after a restart follow the ones in the log.
    pub sequences: std::collections::HashMap<(i64, i32), (i16, i32)>,
    /// Batches whose header was readable but whose records were not (bad CRC, undecodable or
    /// over the decompression limits): skipped whole, by their header's offset range.
    pub skipped_batches: usize,
}

/// Why the replay of `__consumer_offsets` cannot go on. Start-up fails on it: skipping the rest of a
/// partition would silently drop every later commit.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    #[error("cannot read {OFFSETS_TOPIC}-{partition} at offset {offset}: {reason}")]
    Read {
        partition: i32,
        offset: i64,
        reason: String,
    },
    #[error("unreadable record batch header in {OFFSETS_TOPIC}-{partition} at offset {offset}: {reason}")]
    Header {
        partition: i32,
        offset: i64,
        reason: String,
    },
}

/// One decoded record of an offsets batch: the key and the value (None = tombstone).
type Entry = ((String, String, i32), Option<Committed>);

/// What one stored batch holds.
enum Content {
    Entries(Vec<Entry>),
    /// A transaction marker: COMMIT (true) or ABORT of the batch's producer.
    Marker(bool),
}

/// The type of a control record key (version, type: 0 = ABORT, 1 = COMMIT); `None` for other
/// control records.
fn marker_type(key: &[u8]) -> Option<bool> {
    match key {
        [_, _, 0, 0, ..] => Some(false),
        [_, _, 0, 1, ..] => Some(true),
        _ => None,
    }
}

/// Decodes every record of one stored batch, within weft-log's decompression limits (a bomb stored
/// in this topic cannot exhaust memory at start-up). Records whose key is not an offset-commit key
/// (group metadata) are left out.
fn decode_batch(h: &weft_log::batch::BatchHeader, bytes: &[u8]) -> Result<Content, String> {
    weft_log::batch::check_batch_crc(h, bytes).map_err(|e| e.to_string())?;
    let max = weft_log::LogConfig::default().max_message_bytes;
    let limits = weft_log::record::DecodeLimits::for_batch(h, max);
    let mut records =
        weft_log::record::RecordStream::open(bytes, h, limits).map_err(|e| e.to_string())?;
    if h.is_control() {
        let commit = match records.next_record().map_err(|e| e.to_string())? {
            Some(rec) => rec.key.and_then(marker_type),
            None => None,
        };
        return Ok(match commit {
            Some(c) => Content::Marker(c),
            None => Content::Entries(Vec::new()),
        });
    }
    let mut out = Vec::new();
    while let Some(rec) = records.next_record().map_err(|e| e.to_string())? {
        let Some(key) = rec.key.and_then(decode_key) else {
            continue;
        };
        let value = match rec.value {
            None => None,
            Some(v) => match decode_value(v) {
                Some(mut c) => {
                    c.log_offset = rec.offset(h);
                    Some(c)
                }
                None => continue,
            },
        };
        out.push((key, value));
    }
    Ok(Content::Entries(out))
}

/// Applies one replayed record: the latest record per key wins, a tombstone removes the key.
fn apply_entry(
    offsets: &mut BTreeMap<String, GroupOffsets>,
    (group, topic, partition): (String, String, i32),
    value: Option<Committed>,
) {
    match value {
        None => {
            if let Some(g) = offsets.get_mut(&group) {
                g.remove(&(topic, partition));
                if g.is_empty() {
                    offsets.remove(&group);
                }
            }
        }
        Some(c) => {
            offsets
                .entry(group)
                .or_default()
                .insert((topic, partition), c);
        }
    }
}

/// Replays `__consumer_offsets` into a map of group -> offsets (the latest record per key wins;
/// a tombstone removes the key). A batch whose records cannot be decoded is skipped whole and
/// counted; an unreadable batch header or a failed read is an error, since the batches after it
/// could not be found.
pub fn load(topics: &Topics) -> Result<Loaded, ReplayError> {
    let mut out = Loaded::default();
    let Some(info) = topics.get(OFFSETS_TOPIC) else {
        return Ok(out);
    };
    for p in &info.partitions {
        let Ok((start, end)) = p.offsets() else {
            continue;
        };
        let mut next = start;
        // Transactional records per producer id, waiting for their marker in this partition.
        let mut txn: std::collections::HashMap<i64, Vec<Entry>> = Default::default();
        while next < end {
            let read = p.read(next, 1 << 20).map_err(|e| ReplayError::Read {
                partition: p.index,
                offset: next,
                reason: e.to_string(),
            })?;
            if read.records.is_empty() {
                break;
            }
            let before = next;
            for item in weft_log::batch::batches(&read.records) {
                let (h, bytes) = item.map_err(|e| ReplayError::Header {
                    partition: p.index,
                    offset: next,
                    reason: e.to_string(),
                })?;
                next = next.max(h.last_offset() + 1);
                if h.is_transactional() && !h.is_control() && h.producer_id >= 0 {
                    out.sequences.insert(
                        (h.producer_id, p.index),
                        (h.producer_epoch, h.last_sequence().wrapping_add(1)),
                    );
                }
                match decode_batch(&h, bytes) {
                    Ok(Content::Entries(entries)) if h.is_transactional() => {
                        // Visible only once the producer's COMMIT marker follows.
                        let pending = txn.entry(h.producer_id).or_default();
                        pending.extend(entries);
                    }
                    Ok(Content::Entries(entries)) => {
                        for (key, value) in entries {
                            apply_entry(&mut out.offsets, key, value);
                        }
                    }
                    Ok(Content::Marker(commit)) => {
                        let entries = txn.remove(&h.producer_id).unwrap_or_default();
                        if commit {
                            for (key, value) in entries {
                                apply_entry(&mut out.offsets, key, value);
                            }
                        }
                    }
                    Err(reason) => {
                        out.skipped_batches += 1;
                        tracing::error!(
                            partition = p.index,
                            base_offset = h.base_offset,
                            last_offset = h.last_offset(),
                            %reason,
                            "skipping an undecodable batch in {OFFSETS_TOPIC}; its commits are lost"
                        );
                    }
                }
            }
            if next == before {
                return Err(ReplayError::Header {
                    partition: p.index,
                    offset: next,
                    reason: "the read returned no complete batch".into(),
                });
            }
        }
        for (pid, entries) in txn {
            let pending = out.pending.entry(pid).or_default();
            for ((group, topic, partition), value) in entries {
                pending.push((group, p.index, topic, partition, value));
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn java_hash_partitioning() {
        // "".hashCode() == 0; "a".hashCode() == 97; "console-consumer-1" is negative in Java.
        assert_eq!(partition_for("", 50), 0);
        assert_eq!(partition_for("a", 50), 97 % 50);
        let h = "console-consumer-1"
            .encode_utf16()
            .fold(0i32, |h, c| h.wrapping_mul(31).wrapping_add(c as i32));
        assert_eq!(partition_for("console-consumer-1", 50), h.abs() % 50);
    }

    #[test]
    fn record_round_trip() {
        let k = encode_key("g", "t", 7);
        assert_eq!(decode_key(&k), Some(("g".into(), "t".into(), 7)));
        let c = Committed {
            offset: 42,
            leader_epoch: -1,
            metadata: "meta".into(),
            commit_ts: 1000,
            log_offset: -1,
        };
        assert_eq!(decode_value(&encode_value(&c)), Some(c));
        assert_eq!(decode_key(&[0, 2, 0, 1, b'g']), None);
        assert_eq!(decode_value(&[0, 3, 1]), None);
    }
}
