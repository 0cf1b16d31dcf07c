//! Turns a fetched batch into the poll's output in one pass: the records stay where they are
//! (partition, key, value, headers, timestamp untouched) and only the batch's topic table is
//! rewritten to the target names, so no record is copied or re-encoded. While walking the
//! records it notes, per source partition, the index of its last record (a position goes right
//! after it) and the runs of consecutive upstream offsets handed out (the offset-sync rule
//! replays them once the worker reports where the partition's last record landed).
//!
//! The WFB1 layout (plugins/batch) puts the topic table after the records, at the offset the
//! header's third word gives, so renaming is: cut the table off, append the new one.

use std::collections::HashMap;

use weft_batch::{BatchReader, DecodeError, RecordView, HEADER_LEN};

/// A position to report: after `after_records` records, source `topic`/`partition` has been
/// read up to (not including) `next_offset`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reached {
    pub after_records: u32,
    pub topic_index: u32,
    pub partition: i32,
    pub next_offset: i64,
}

/// Records `start..start + len` of a partition went out, in this order and without a gap.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Run {
    pub topic_index: u32,
    pub partition: i32,
    pub start: i64,
    pub len: i64,
}

/// What the walk found.
#[derive(Debug, Default)]
pub struct Walk {
    /// Entries in the batch (records, or Kafka batch entries under passthrough).
    pub records: u32,
    /// Source records those entries hold.
    pub mirrored: u64,
    /// Positions, in increasing `after_records` order: one after each partition's last record.
    pub reached: Vec<Reached>,
    /// Each partition's records as runs of consecutive upstream offsets, in batch order per
    /// partition (a new run starts after a gap: compaction, transaction markers).
    pub runs: Vec<Run>,
}

/// Why a fetched batch cannot be mirrored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RewriteError {
    /// The host sent a malformed batch.
    Decode(DecodeError),
    /// A record without an offset or partition (remote records always have both).
    Unplaced { topic: String },
    /// A Kafka batch entry whose batch header is unreadable.
    BadKafkaBatch { topic: String, offset: i64 },
}

impl std::fmt::Display for RewriteError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RewriteError::Decode(e) => write!(f, "fetched batch is malformed: {e}"),
            RewriteError::Unplaced { topic } => {
                write!(f, "fetched record of {topic} has no partition or offset")
            }
            RewriteError::BadKafkaBatch { topic, offset } => write!(
                f,
                "fetched batch of {topic} at offset {offset} has no readable record count"
            ),
        }
    }
}

impl From<DecodeError> for RewriteError {
    fn from(e: DecodeError) -> Self {
        RewriteError::Decode(e)
    }
}

/// A partition's state during the walk.
#[derive(Clone, Copy)]
struct Open {
    last_index: u32,
    run_start: i64,
    run_len: i64,
}

/// Partitions below this number are looked up by index rather than hashed (a fetch interleaves
/// partitions record by record, so this lookup is on the per-record path).
const DENSE_PARTITIONS: i32 = 1 << 12;

/// The open partitions of a walk, by (topic index, partition).
#[derive(Default)]
struct Table {
    dense: Vec<Vec<Option<Open>>>,
    sparse: HashMap<(u32, i32), Open>,
}

impl Table {
    fn slot(&mut self, topic_index: u32, partition: i32) -> Option<&mut Option<Open>> {
        if !(0..DENSE_PARTITIONS).contains(&partition) {
            return None;
        }
        let t = topic_index as usize;
        if self.dense.len() <= t {
            self.dense.resize_with(t + 1, Vec::new);
        }
        let row = &mut self.dense[t];
        let p = partition as usize;
        if row.len() <= p {
            row.resize(p + 1, None);
        }
        Some(&mut row[p])
    }

    fn drain(self) -> impl Iterator<Item = ((u32, i32), Open)> {
        let dense = self.dense.into_iter().enumerate().flat_map(|(t, row)| {
            row.into_iter()
                .enumerate()
                .filter_map(move |(p, o)| o.map(|o| ((t as u32, p as i32), o)))
        });
        dense.chain(self.sparse)
    }
}

/// Where a Kafka record batch (format v2) keeps its record count (big-endian i32).
const KAFKA_RECORDS_COUNT_AT: usize = 57;

/// How many consecutive source offsets an entry covers: one for a record; a Kafka batch entry's
/// record count (the host hands out batches of consecutive offsets only).
pub fn span(view: &RecordView<'_>) -> Result<i64, RewriteError> {
    let Some(batch) = view.kafka_batch() else {
        return Ok(1);
    };
    batch
        .get(KAFKA_RECORDS_COUNT_AT..KAFKA_RECORDS_COUNT_AT + 4)
        .map(|w| i32::from_be_bytes([w[0], w[1], w[2], w[3]]))
        .filter(|n| *n > 0)
        .map(i64::from)
        .ok_or_else(|| RewriteError::BadKafkaBatch {
            topic: view.topic.to_string(),
            offset: view.offset.unwrap_or(-1),
        })
}

/// Walks `batch` once: positions after each partition's last record, runs of consecutive
/// upstream offsets per partition.
pub fn walk(batch: &[u8]) -> Result<Walk, RewriteError> {
    let reader = BatchReader::new(batch)?;
    let mut out = Walk::default();
    let mut table = Table::default();
    for (i, view) in reader.records().enumerate() {
        let view = view?;
        let (Some(partition), Some(offset)) = (view.partition, view.offset) else {
            return Err(RewriteError::Unplaced {
                topic: view.topic.to_string(),
            });
        };
        let index = i as u32;
        let len = span(&view)?;
        out.mirrored += len as u64;
        let key = (view.topic_index, partition);
        let entry = match table.slot(key.0, key.1) {
            Some(slot) => slot,
            None => {
                let e = table.sparse.entry(key).or_insert(Open {
                    last_index: index,
                    run_start: offset,
                    run_len: 0,
                });
                // Reuse the dense path's logic through a temporary slot.
                let mut tmp = Some(*e);
                step(&mut tmp, key, index, (offset, len), &mut out.runs);
                if let Some(o) = tmp {
                    *e = o;
                }
                out.records = index + 1;
                continue;
            }
        };
        step(entry, key, index, (offset, len), &mut out.runs);
        out.records = index + 1;
    }
    for ((topic_index, partition), o) in table.drain() {
        out.runs.push(Run {
            topic_index,
            partition,
            start: o.run_start,
            len: o.run_len,
        });
        out.reached.push(Reached {
            after_records: o.last_index + 1,
            topic_index,
            partition,
            next_offset: o.run_start + o.run_len,
        });
    }
    out.reached.sort_by_key(|r| r.after_records);
    Ok(out)
}

/// One entry of a partition, covering `len` offsets from `offset`: extends its run, or closes it
/// and starts another after a gap.
fn step(
    slot: &mut Option<Open>,
    key: (u32, i32),
    index: u32,
    (offset, len): (i64, i64),
    runs: &mut Vec<Run>,
) {
    match slot {
        Some(o) if o.run_len == 0 || o.run_start + o.run_len == offset => {
            if o.run_len == 0 {
                o.run_start = offset;
            }
            o.run_len += len;
            o.last_index = index;
        }
        Some(o) => {
            runs.push(Run {
                topic_index: key.0,
                partition: key.1,
                start: o.run_start,
                len: o.run_len,
            });
            o.run_start = offset;
            o.run_len = len;
            o.last_index = index;
        }
        None => {
            *slot = Some(Open {
                last_index: index,
                run_start: offset,
                run_len: len,
            });
        }
    }
}

/// Replaces the topic table of `batch` (already checked by [`walk`]) with `names`, index for
/// index, and appends the records of `extra` (a batch of its own, e.g. offset syncs) after
/// the existing ones.
pub fn rename(
    mut batch: Vec<u8>,
    names: &[String],
    extra: Option<&[u8]>,
) -> Result<Vec<u8>, RewriteError> {
    let word = |b: &[u8], at: usize| -> Result<u32, RewriteError> {
        b.get(at..at + 4)
            .map(|w| u32::from_le_bytes([w[0], w[1], w[2], w[3]]))
            .ok_or(RewriteError::Decode(DecodeError::Truncated { at }))
    };
    let count = word(&batch, 4)?;
    let topics_at = word(&batch, 8)? as usize;
    if topics_at < HEADER_LEN || topics_at > batch.len() {
        return Err(RewriteError::Decode(DecodeError::BadLength { at: 8 }));
    }
    batch.truncate(topics_at);
    let mut names: Vec<&str> = names.iter().map(String::as_str).collect();
    let mut added = 0u32;
    if let Some(extra) = extra {
        let reader = BatchReader::new(extra)?;
        for view in reader.records() {
            let view = view?;
            let raw = view.raw();
            // Re-point the record's topic index (the first body word) into the joint table.
            let index = match names.iter().position(|n| *n == view.topic) {
                Some(i) => i,
                None => {
                    names.push(view.topic);
                    names.len() - 1
                }
            } as u32;
            batch.extend_from_slice(&raw[..4]);
            batch.extend_from_slice(&index.to_le_bytes());
            batch.extend_from_slice(&raw[8..]);
            added += 1;
        }
    }
    let topics_at = batch.len() as u32;
    batch.extend_from_slice(&(names.len() as u32).to_le_bytes());
    for n in &names {
        batch.extend_from_slice(&(n.len() as u32).to_le_bytes());
        batch.extend_from_slice(n.as_bytes());
    }
    batch[4..8].copy_from_slice(&(count + added).to_le_bytes());
    batch[8..12].copy_from_slice(&topics_at.to_le_bytes());
    Ok(batch)
}

#[cfg(test)]
mod tests {
    use super::*;
    use weft_batch::{BatchWriter, Record};

    fn fetched(records: &[(&str, i32, i64)]) -> Vec<u8> {
        let mut w = BatchWriter::new();
        for (t, p, o) in records {
            w.push(
                t,
                Some(*p),
                Some(1_700_000_000_000 + o),
                Some(*o),
                Some(format!("k{o}").as_bytes()),
                Some(format!("v{o}").as_bytes()),
                [("h", Some(&b"x"[..])), ("n", None)],
            )
            .unwrap();
        }
        w.finish().unwrap()
    }

    #[test]
    fn renaming_keeps_every_record_byte_and_changes_only_topics() {
        let input = fetched(&[("a", 0, 5), ("b", 1, 9), ("a", 0, 6)]);
        let before = weft_batch::decode(&input).unwrap();
        let reader = BatchReader::new(&input).unwrap();
        let names: Vec<String> = reader.topics().iter().map(|t| format!("A.{t}")).collect();
        let out = rename(input.clone(), &names, None).unwrap();
        let after = weft_batch::decode(&out).unwrap();
        assert_eq!(after.len(), 3);
        for (b, a) in before.iter().zip(&after) {
            assert_eq!(a.topic, format!("A.{}", b.topic));
            let mut b2 = b.clone();
            b2.topic = a.topic.clone();
            assert_eq!(&b2, a);
        }
    }

    #[test]
    fn extra_records_are_appended_with_their_topic() {
        let input = fetched(&[("a", 0, 5)]);
        let mut sync = Record::new("mm2-offset-syncs.B.internal", b"v".to_vec());
        sync.partition = Some(0);
        let extra = weft_batch::encode(&[sync.clone()]).unwrap();
        let out = rename(input, &["A.a".into()], Some(&extra)).unwrap();
        let after = weft_batch::decode(&out).unwrap();
        assert_eq!(after.len(), 2);
        assert_eq!(after[0].topic, "A.a");
        assert_eq!(after[1], sync);
        // An empty fetch with syncs only.
        let empty = BatchWriter::new().finish().unwrap();
        let out = rename(empty, &[], Some(&extra)).unwrap();
        assert_eq!(weft_batch::decode(&out).unwrap(), [sync]);
    }

    #[test]
    fn positions_after_each_partitions_last_record_and_runs_split_at_gaps() {
        let input = fetched(&[
            ("a", 0, 5),
            ("a", 1, 0),
            ("a", 0, 6),
            ("a", 0, 9), // gap: 7 and 8 are gone (compaction, a transaction marker)
            ("a", 0, 10),
            ("a", 1, 1),
            ("a", 100_000, 3), // numbered past the dense table
            ("a", 100_000, 4),
        ]);
        let w = walk(&input).unwrap();
        assert_eq!(w.records, 8);
        let got: Vec<(u32, i32, i64)> = w
            .reached
            .iter()
            .map(|r| (r.after_records, r.partition, r.next_offset))
            .collect();
        assert_eq!(got, [(5, 0, 11), (6, 1, 2), (8, 100_000, 5)]);
        let mut runs: Vec<(i32, i64, i64)> = w
            .runs
            .iter()
            .map(|r| (r.partition, r.start, r.len))
            .collect();
        runs.sort();
        assert_eq!(runs, [(0, 5, 2), (0, 9, 2), (1, 0, 2), (100_000, 3, 2)]);
    }

    /// A Kafka batch entry's bytes: only the record count (at byte 57) matters to the walk.
    fn kafka_batch(records: i32) -> Vec<u8> {
        let mut b = vec![0u8; 61];
        b[57..61].copy_from_slice(&records.to_be_bytes());
        b
    }

    #[test]
    fn kafka_batch_entries_cover_their_records_offsets() {
        let mut w = BatchWriter::new();
        w.push_kafka_batch("a", 0, 100, &kafka_batch(10)).unwrap();
        w.push_kafka_batch("a", 1, 7, &kafka_batch(3)).unwrap();
        w.push_kafka_batch("a", 0, 110, &kafka_batch(5)).unwrap();
        // A gap (compaction upstream) starts a new run.
        w.push_kafka_batch("a", 0, 120, &kafka_batch(2)).unwrap();
        let input = w.finish().unwrap();
        let walked = walk(&input).unwrap();
        assert_eq!((walked.records, walked.mirrored), (4, 20));
        let mut runs: Vec<(i32, i64, i64)> = walked
            .runs
            .iter()
            .map(|r| (r.partition, r.start, r.len))
            .collect();
        runs.sort();
        assert_eq!(runs, [(0, 100, 15), (0, 120, 2), (1, 7, 3)]);
        let reached: Vec<(u32, i32, i64)> = walked
            .reached
            .iter()
            .map(|r| (r.after_records, r.partition, r.next_offset))
            .collect();
        assert_eq!(reached, [(2, 1, 10), (4, 0, 122)]);
        // Renaming leaves the entries whole.
        let out = rename(input, &["A.a".to_string()], None).unwrap();
        let reader = BatchReader::new(&out).unwrap();
        let views: Vec<_> = reader.records().map(Result::unwrap).collect();
        assert_eq!(views[1].topic, "A.a");
        assert_eq!(views[1].kafka_batch(), Some(&kafka_batch(3)[..]));
        // An entry too short to hold a record count is refused, naming it.
        let mut w = BatchWriter::new();
        w.push_kafka_batch("a", 0, 5, &[0u8; 20]).unwrap();
        let e = walk(&w.finish().unwrap()).unwrap_err();
        assert!(e.to_string().contains("a at offset 5"), "{e}");
    }

    #[test]
    fn records_without_offsets_are_refused() {
        let mut w = BatchWriter::new();
        w.push("a", Some(0), None, None, None, None, []).unwrap();
        let b = w.finish().unwrap();
        assert!(matches!(walk(&b), Err(RewriteError::Unplaced { .. })));
        assert!(walk(b"junk").is_err());
    }
}
