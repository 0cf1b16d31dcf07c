//! Holds back a partition's records after its first one until that record's offset sync
//! exists. MM2 writes a sync for the first record a task mirrors, so a consumer group anywhere
//! after it translates; but the worker reports written positions coalesced (the latest per
//! partition), so if the first record went out together with more of its partition, its pair
//! would never be seen and groups before the first reported pair could not translate at all.
//! So the first poll of a partition carries only its first record; the partition leaves the
//! remote assignment ("awaiting") until `written-positions` reports that record, then rejoins.
//! Steady state (every partition synced) costs nothing: the fetched batch goes out untouched.

use std::collections::HashMap;

use weft_batch::{BatchReader, BatchWriter, DecodeError};

use crate::rewrite::{span, RewriteError};

use crate::sync_rule::SourcePartition;

/// How long a partition waits for its first record's report before it goes on anyway (the
/// record may have been dropped under `errors.tolerance=all`, so no report will come).
pub const AWAIT_TIMEOUT_MS: u64 = 10_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Fresh,
    Awaiting { since: u64 },
    Synced,
}

/// Per-partition phases of one task's lifetime.
#[derive(Debug, Default)]
pub struct Gate {
    phases: HashMap<SourcePartition, Phase>,
}

impl Gate {
    /// A partition this task starts to own.
    pub fn add(&mut self, tp: SourcePartition) {
        self.phases.insert(tp, Phase::Fresh);
    }

    /// A partition no longer owned.
    pub fn remove(&mut self, tp: &SourcePartition) {
        self.phases.remove(tp);
    }

    /// Whether `tp` is to be read now (not awaiting its first record's report).
    pub fn readable(&self, tp: &SourcePartition) -> bool {
        !matches!(self.phases.get(tp), Some(Phase::Awaiting { .. }))
    }

    /// Every partition is synced: fetched batches pass untouched.
    pub fn all_synced(&self) -> bool {
        self.phases.values().all(|p| *p == Phase::Synced)
    }

    /// The worker reported a written record of `tp`; true if it was awaiting (it rejoins the
    /// assignment).
    pub fn reported(&mut self, tp: &SourcePartition) -> bool {
        match self.phases.get_mut(tp) {
            Some(p) => {
                let was_awaiting = matches!(p, Phase::Awaiting { .. });
                *p = Phase::Synced;
                was_awaiting
            }
            None => false,
        }
    }

    /// Partitions that waited too long; they go on as synced. True if any did.
    pub fn expire(&mut self, now: u64) -> bool {
        let mut any = false;
        for p in self.phases.values_mut() {
            if let Phase::Awaiting { since } = *p {
                if now.saturating_sub(since) >= AWAIT_TIMEOUT_MS {
                    *p = Phase::Synced;
                    any = true;
                }
            }
        }
        any
    }

    /// Keeps every record of synced partitions and the first record of each fresh one (which
    /// then awaits); drops the rest. Returns the new batch, the records' next offsets per
    /// partition dropped (where reading resumes), and whether a partition began awaiting.
    pub fn filter(&mut self, fetched: &[u8], now: u64) -> Result<Filtered, RewriteError> {
        let reader = BatchReader::new(fetched)?;
        let mut out = BatchWriter::for_output_of(&reader);
        let mut resume: HashMap<SourcePartition, i64> = HashMap::new();
        let mut started = false;
        for view in reader.records() {
            let view = view?;
            let (Some(partition), Some(offset)) = (view.partition, view.offset) else {
                // walk() refuses such a batch with a clear error; keep it for that.
                out.push_view(&view)
                    .map_err(|_| DecodeError::BadLength { at: 0 })?;
                continue;
            };
            let tp = (view.topic.to_string(), partition);
            match self.phases.get(&tp).copied() {
                Some(Phase::Synced) | None => {
                    out.push_view(&view)
                        .map_err(|_| DecodeError::BadLength { at: 0 })?;
                }
                Some(Phase::Fresh) => {
                    out.push_view(&view)
                        .map_err(|_| DecodeError::BadLength { at: 0 })?;
                    self.phases
                        .insert(tp.clone(), Phase::Awaiting { since: now });
                    // Under passthrough the first entry is a whole batch: its sync still
                    // exists once it is reported, since its offsets are consecutive.
                    resume.insert(tp, offset + span(&view)?);
                    started = true;
                }
                Some(Phase::Awaiting { .. }) => {
                    resume.entry(tp).or_insert(offset);
                }
            }
        }
        let batch = out.finish().map_err(|_| DecodeError::BadLength { at: 0 })?;
        Ok(Filtered {
            batch,
            resume,
            started,
        })
    }
}

/// What [`Gate::filter`] kept.
#[derive(Debug)]
pub struct Filtered {
    /// The records to hand on.
    pub batch: Vec<u8>,
    /// Where reading resumes for partitions whose records were held back.
    pub resume: HashMap<SourcePartition, i64>,
    /// A partition began awaiting (the assignment must drop it).
    pub started: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch(records: &[(&str, i32, i64)]) -> Vec<u8> {
        let mut w = BatchWriter::new();
        for (t, p, o) in records {
            w.push(t, Some(*p), Some(1), Some(*o), None, Some(b"v"), [])
                .unwrap();
        }
        w.finish().unwrap()
    }

    fn offsets(b: &[u8]) -> Vec<(i32, i64)> {
        weft_batch::decode(b)
            .unwrap()
            .iter()
            .map(|r| (r.partition.unwrap(), r.offset.unwrap()))
            .collect()
    }

    #[test]
    fn a_fresh_partition_sends_one_record_then_waits_for_its_report() {
        let mut g = Gate::default();
        g.add(("t".into(), 0));
        g.add(("t".into(), 1));
        assert!(!g.all_synced());
        let f = g
            .filter(
                &batch(&[("t", 0, 5), ("t", 0, 6), ("t", 1, 0), ("t", 1, 1)]),
                100,
            )
            .unwrap();
        assert_eq!(offsets(&f.batch), [(0, 5), (1, 0)]);
        assert!(f.started);
        assert_eq!(f.resume[&("t".to_string(), 0)], 6);
        assert_eq!(f.resume[&("t".to_string(), 1)], 1);
        assert!(!g.readable(&("t".into(), 0)));
        // Records still buffered by the host for an awaiting partition are held back.
        let f = g.filter(&batch(&[("t", 0, 7)]), 101).unwrap();
        assert!(offsets(&f.batch).is_empty());
        assert!(!f.started);
        assert!(g.reported(&("t".into(), 0)));
        assert!(!g.reported(&("t".into(), 0)));
        assert!(g.readable(&("t".into(), 0)));
        let f = g.filter(&batch(&[("t", 0, 6), ("t", 0, 7)]), 102).unwrap();
        assert_eq!(offsets(&f.batch), [(0, 6), (0, 7)]);
        // Partition 1 never hears back (its record was dropped): it goes on after the timeout.
        assert!(!g.expire(100 + AWAIT_TIMEOUT_MS - 1));
        assert!(g.expire(100 + AWAIT_TIMEOUT_MS));
        assert!(g.all_synced());
    }

    #[test]
    fn a_fresh_partition_under_passthrough_sends_its_first_batch_whole() {
        let mut g = Gate::default();
        g.add(("t".into(), 0));
        let mut head = vec![0u8; 61];
        head[57..61].copy_from_slice(&4i32.to_be_bytes());
        let mut w = BatchWriter::new();
        w.push_kafka_batch("t", 0, 10, &head).unwrap();
        w.push_kafka_batch("t", 0, 14, &head).unwrap();
        let f = g.filter(&w.finish().unwrap(), 5).unwrap();
        let reader = BatchReader::new(&f.batch).unwrap();
        let kept: Vec<_> = reader.records().map(Result::unwrap).collect();
        assert_eq!(kept.len(), 1);
        assert_eq!(kept[0].offset, Some(10));
        assert!(kept[0].kafka_batch().is_some());
        assert_eq!(f.resume[&("t".to_string(), 0)], 14);
    }
}
