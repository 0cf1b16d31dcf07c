//! When the source role writes an offset sync, after MirrorSourceTask's `PartitionState` and
//! `OffsetSyncWriter` (Kafka 3.5+): for the first record of a task's lifetime, after a gap in
//! the upstream offsets, when the downstream topic was truncated, and when the translated
//! offset would be `offset.lag.max` or more behind; otherwise the sync is held back ("delayed")
//! and written at the next periodic promotion, so idle partitions still translate exactly.
//!
//! MM2 sees every record's (upstream, downstream) pair in `commitRecord`; the worker hands this
//! plugin only the latest pair per partition since the last call (`written-positions`). So the
//! "skipped upstream record" condition is decided when the records are fetched (a record whose
//! offset is not its predecessor's + 1), remembered per partition, and applied to the first
//! pair at or after that record.

use std::collections::BTreeMap;

use crate::formats::OffsetSync;

/// A source topic partition, as the mirror keys it.
pub type SourcePartition = (String, i32);

#[derive(Debug, Clone, PartialEq, Eq)]
struct PartitionState {
    previous_downstream: i64,
    last_sync_downstream: i64,
    /// Upstream offset of the first record after a gap not yet covered by a sync.
    gap_at: Option<i64>,
}

impl Default for PartitionState {
    fn default() -> Self {
        PartitionState {
            previous_downstream: -1,
            last_sync_downstream: -1,
            gap_at: None,
        }
    }
}

impl PartitionState {
    fn update(&mut self, upstream: i64, downstream: i64, max_offset_lag: i64) -> bool {
        let first = self.last_sync_downstream == -1;
        // translateDownstream puts a group 1 past the last sync, hence the + 1.
        let too_stale = downstream - (self.last_sync_downstream + 1) >= max_offset_lag;
        let skipped_upstream = self.gap_at.is_some_and(|g| upstream >= g);
        let truncated_downstream = downstream < self.previous_downstream;
        let sync = first || too_stale || skipped_upstream || truncated_downstream;
        if sync {
            self.last_sync_downstream = downstream;
            self.gap_at = None;
        }
        self.previous_downstream = downstream;
        sync
    }
}

/// Per-partition sync decisions and the syncs waiting to be written.
#[derive(Debug, Default)]
pub struct SyncWriter {
    max_offset_lag: i64,
    states: BTreeMap<SourcePartition, PartitionState>,
    pending: BTreeMap<SourcePartition, OffsetSync>,
    delayed: BTreeMap<SourcePartition, OffsetSync>,
}

impl SyncWriter {
    /// A writer with `offset.lag.max`.
    pub fn new(max_offset_lag: i64) -> Self {
        SyncWriter {
            max_offset_lag,
            ..SyncWriter::default()
        }
    }

    /// The poll saw a record of `partition` at `upstream` right after a gap.
    pub fn gap(&mut self, partition: &SourcePartition, upstream: i64) {
        let s = self.states.entry(partition.clone()).or_default();
        if s.gap_at.is_none() {
            s.gap_at = Some(upstream);
        }
    }

    /// The record at `upstream` of `partition` was written at `downstream`.
    pub fn written(&mut self, partition: SourcePartition, upstream: i64, downstream: i64) {
        let sync = OffsetSync {
            upstream,
            downstream,
        };
        let state = self.states.entry(partition.clone()).or_default();
        if state.update(upstream, downstream, self.max_offset_lag) {
            self.delayed.remove(&partition);
            self.pending.insert(partition, sync);
        } else {
            self.delayed.insert(partition, sync);
        }
    }

    /// Moves the held-back syncs to the pending ones (MM2 does it at each offset commit).
    pub fn promote_delayed(&mut self) {
        let delayed = std::mem::take(&mut self.delayed);
        self.pending.extend(delayed);
    }

    /// The syncs to write now, emptied.
    pub fn take_pending(&mut self) -> Vec<(SourcePartition, OffsetSync)> {
        std::mem::take(&mut self.pending).into_iter().collect()
    }

    /// Puts syncs whose write failed back, unless a newer one arrived meanwhile.
    pub fn restore(&mut self, syncs: Vec<(SourcePartition, OffsetSync)>) {
        for (p, s) in syncs {
            self.pending.entry(p).or_insert(s);
        }
    }

    /// Forgets a partition no longer owned.
    pub fn forget(&mut self, partition: &SourcePartition) {
        self.states.remove(partition);
        self.pending.remove(partition);
        self.delayed.remove(partition);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tp() -> SourcePartition {
        ("t".to_string(), 0)
    }

    fn ups(w: &mut SyncWriter) -> Vec<(i64, i64)> {
        w.take_pending()
            .into_iter()
            .map(|(_, s)| (s.upstream, s.downstream))
            .collect()
    }

    #[test]
    fn first_record_then_only_when_stale() {
        let mut w = SyncWriter::new(100);
        w.written(tp(), 0, 0);
        assert_eq!(ups(&mut w), [(0, 0)]);
        // 98 - (0 + 1) = 97 < 100: held back.
        w.written(tp(), 98, 98);
        assert!(ups(&mut w).is_empty());
        // 101 - 1 = 100 >= 100: written.
        w.written(tp(), 101, 101);
        assert_eq!(ups(&mut w), [(101, 101)]);
        w.written(tp(), 150, 150);
        assert!(ups(&mut w).is_empty());
        w.promote_delayed();
        assert_eq!(ups(&mut w), [(150, 150)]);
        w.promote_delayed();
        assert!(ups(&mut w).is_empty());
    }

    #[test]
    fn upstream_gap_and_downstream_truncation_sync() {
        let mut w = SyncWriter::new(100);
        w.written(tp(), 0, 0);
        ups(&mut w);
        // A gap seen at fetch time at upstream 20: the first pair at or after it syncs.
        w.gap(&tp(), 20);
        w.written(tp(), 10, 10);
        assert!(ups(&mut w).is_empty());
        w.written(tp(), 25, 15);
        assert_eq!(ups(&mut w), [(25, 15)]);
        w.written(tp(), 26, 16);
        assert!(ups(&mut w).is_empty());
        // The target topic was recreated: downstream went backwards.
        w.written(tp(), 27, 0);
        assert_eq!(ups(&mut w), [(27, 0)]);
    }

    #[test]
    fn a_newer_sync_wins_over_a_failed_one() {
        let mut w = SyncWriter::new(0);
        w.written(tp(), 0, 0);
        let failed = w.take_pending();
        w.written(tp(), 1, 1);
        w.restore(failed);
        assert_eq!(ups(&mut w), [(1, 1)]);
    }
}
