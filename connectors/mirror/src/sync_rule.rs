//! When the source role writes an offset sync, after MirrorSourceTask's `PartitionState` and
//! `OffsetSyncWriter` (Kafka 3.5+): for the first record of a task's lifetime, after a gap in
//! the upstream offsets, when the downstream topic was truncated, and when the translated
//! offset would be `offset.lag.max` or more behind; otherwise the sync is held back ("delayed")
//! and written at the next periodic promotion, so idle partitions still translate exactly.
//!
//! MM2 sees every record's (upstream, downstream) pair in `commitRecord`. The worker reports
//! only the latest pair per partition since the last call (`written-positions`), so this module
//! keeps the runs of upstream offsets handed out since the previous report; when the new report
//! shows the downstream offsets advanced by exactly as many records, nothing else was written
//! in between and every record's pair is known: the rule is replayed over them as MM2 applies it
//! record by record (in O(syncs), not O(records)). Otherwise only the reported pair is exact,
//! and it is written as a sync.

use std::collections::{BTreeMap, VecDeque};

use crate::formats::OffsetSync;

/// A source topic partition, as the mirror keys it.
pub type SourcePartition = (String, i32);

/// Syncs kept waiting per partition; older ones are dropped first (the checkpoint side keeps
/// an exponentially thinning history anyway).
pub const MAX_PENDING_PER_PARTITION: usize = 64;
/// Runs kept per partition between reports before the chain is given up (then the next report
/// is written as it is).
const MAX_RUNS: usize = 100_000;

#[derive(Debug, Clone, PartialEq, Eq)]
struct PartitionState {
    previous_upstream: i64,
    previous_downstream: i64,
    last_sync_downstream: i64,
}

impl Default for PartitionState {
    fn default() -> Self {
        PartitionState {
            previous_upstream: -1,
            previous_downstream: -1,
            last_sync_downstream: -1,
        }
    }
}

impl PartitionState {
    /// MM2's `PartitionState.update` for one record.
    fn update(&mut self, upstream: i64, downstream: i64, max_offset_lag: i64) -> bool {
        let first = self.last_sync_downstream == -1;
        // translateDownstream puts a group 1 past the last sync, hence the + 1.
        let too_stale = downstream - (self.last_sync_downstream + 1) >= max_offset_lag;
        let skipped_upstream = upstream - self.previous_upstream != 1;
        let truncated_downstream = downstream < self.previous_downstream;
        let sync = first || too_stale || skipped_upstream || truncated_downstream;
        if sync {
            self.last_sync_downstream = downstream;
        }
        self.previous_upstream = upstream;
        self.previous_downstream = downstream;
        sync
    }
}

/// Upstream runs handed out after the last reported pair.
#[derive(Debug, Default)]
struct Chain {
    last: Option<(i64, i64)>,
    runs: VecDeque<(i64, i64)>,
    broken: bool,
}

/// Per-partition sync decisions and the syncs waiting to be written.
#[derive(Debug, Default)]
pub struct SyncWriter {
    max_offset_lag: i64,
    states: BTreeMap<SourcePartition, PartitionState>,
    chains: BTreeMap<SourcePartition, Chain>,
    pending: BTreeMap<SourcePartition, VecDeque<OffsetSync>>,
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

    /// Records `start..start + len` of `partition` were handed to the worker, in order.
    pub fn mirrored(&mut self, partition: &SourcePartition, start: i64, len: i64) {
        if len <= 0 {
            return;
        }
        let chain = self.chains.entry(partition.clone()).or_default();
        match chain.runs.back_mut() {
            Some((s, l)) if *s + *l == start => *l += len,
            _ => chain.runs.push_back((start, len)),
        }
        if chain.runs.len() > MAX_RUNS {
            chain.runs.clear();
            chain.broken = true;
        }
    }

    /// The worker reports the record at `upstream` of `partition` written at `downstream`.
    pub fn written(&mut self, partition: SourcePartition, upstream: i64, downstream: i64) {
        let chain = self.chains.entry(partition.clone()).or_default();
        // The records handed out after the previous report, up to this one.
        let mut taken: Vec<(i64, i64)> = Vec::new();
        let mut count = 0i64;
        let mut reaches = false;
        while let Some(&(s, l)) = chain.runs.front() {
            if s > upstream {
                break;
            }
            let from = chain.last.map_or(s, |(u0, _)| s.max(u0 + 1));
            let to = (s + l - 1).min(upstream);
            if to >= from {
                taken.push((from, to - from + 1));
                count += to - from + 1;
                reaches |= to == upstream;
            }
            if s + l - 1 <= upstream {
                chain.runs.pop_front();
            } else {
                let front = chain.runs.front_mut();
                if let Some(f) = front {
                    *f = (upstream + 1, s + l - 1 - upstream);
                }
                break;
            }
        }
        let previous = chain.last.replace((upstream, downstream));
        let broken = std::mem::take(&mut chain.broken);
        let exact = match previous {
            Some((_, d0)) => !broken && reaches && downstream - d0 == count,
            None => false,
        };
        if exact {
            let d0 = previous.map_or(0, |(_, d)| d);
            let mut d = d0;
            for (s, l) in taken {
                self.replay(&partition, s, d + 1, l);
                d += l;
            }
        } else if previous.is_none() {
            // The first report of this lifetime (the gate makes it the partition's first record).
            self.feed(&partition, upstream, downstream);
        } else {
            // Something else was written in between (or records were dropped): only this pair
            // is known, and it is written.
            let state = self.states.entry(partition.clone()).or_default();
            state.last_sync_downstream = downstream;
            state.previous_upstream = upstream;
            state.previous_downstream = downstream;
            self.push(
                &partition,
                OffsetSync {
                    upstream,
                    downstream,
                },
            );
        }
    }

    /// One record through the rule.
    fn feed(&mut self, partition: &SourcePartition, upstream: i64, downstream: i64) {
        let state = self.states.entry(partition.clone()).or_default();
        let sync = OffsetSync {
            upstream,
            downstream,
        };
        if state.update(upstream, downstream, self.max_offset_lag) {
            self.push(partition, sync);
        } else {
            self.delayed.insert(partition.clone(), sync);
        }
    }

    /// `len` records with consecutive upstream (from `up`) and downstream (from `down`)
    /// offsets through the rule: the first one as is, the rest jump from sync to sync.
    fn replay(&mut self, partition: &SourcePartition, up: i64, down: i64, len: i64) {
        self.feed(partition, up, down);
        let last_down = down + len - 1;
        let lag = self.max_offset_lag.max(0);
        loop {
            let state = self.states.entry(partition.clone()).or_default();
            let prev_down = state.previous_downstream;
            if prev_down >= last_down {
                break;
            }
            // Within a run only staleness fires: at last sync + 1 + offset.lag.max.
            let fire = (state.last_sync_downstream + 1 + lag).max(prev_down + 1);
            if fire > last_down {
                let u = up + (last_down - down);
                state.previous_upstream = u;
                state.previous_downstream = last_down;
                self.delayed.insert(
                    partition.clone(),
                    OffsetSync {
                        upstream: u,
                        downstream: last_down,
                    },
                );
                break;
            }
            let u = up + (fire - down);
            state.previous_upstream = u - 1;
            state.previous_downstream = fire - 1;
            self.feed(partition, u, fire);
        }
    }

    fn push(&mut self, partition: &SourcePartition, sync: OffsetSync) {
        self.delayed.remove(partition);
        let q = self.pending.entry(partition.clone()).or_default();
        if q.len() >= MAX_PENDING_PER_PARTITION {
            q.pop_front();
        }
        q.push_back(sync);
    }

    /// Moves the held-back syncs to the pending ones (MM2 does it at each offset commit).
    pub fn promote_delayed(&mut self) {
        for (p, s) in std::mem::take(&mut self.delayed) {
            self.push(&p, s);
        }
    }

    /// The syncs to write now, in order per partition, emptied.
    pub fn take_pending(&mut self) -> Vec<(SourcePartition, OffsetSync)> {
        std::mem::take(&mut self.pending)
            .into_iter()
            .flat_map(|(p, q)| q.into_iter().map(move |s| (p.clone(), s)))
            .collect()
    }

    /// Puts syncs whose write failed back in front of any newer ones.
    pub fn restore(&mut self, syncs: Vec<(SourcePartition, OffsetSync)>) {
        let mut by_partition: BTreeMap<SourcePartition, VecDeque<OffsetSync>> = BTreeMap::new();
        for (p, s) in syncs {
            by_partition.entry(p).or_default().push_back(s);
        }
        for (p, mut old) in by_partition {
            let newer = self.pending.remove(&p).unwrap_or_default();
            old.extend(newer);
            while old.len() > MAX_PENDING_PER_PARTITION {
                old.pop_front();
            }
            self.pending.insert(p, old);
        }
    }

    /// Forgets a partition no longer owned.
    pub fn forget(&mut self, partition: &SourcePartition) {
        self.states.remove(partition);
        self.chains.remove(partition);
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

    fn pairs(w: &mut SyncWriter) -> Vec<(i64, i64)> {
        w.take_pending()
            .into_iter()
            .map(|(_, s)| (s.upstream, s.downstream))
            .collect()
    }

    /// MM2's behaviour, record by record, for comparison.
    fn mm2(records: &[(i64, i64)], lag: i64) -> Vec<(i64, i64)> {
        let mut s = PartitionState::default();
        records
            .iter()
            .filter(|(u, d)| s.update(*u, *d, lag))
            .copied()
            .collect()
    }

    #[test]
    fn replaying_runs_gives_mm2s_syncs_exactly() {
        // Upstream 0..1000 with a gap 300..310 (compaction), downstream contiguous from 0.
        let ups: Vec<i64> = (0..300).chain(310..1000).collect();
        let records: Vec<(i64, i64)> = ups
            .iter()
            .enumerate()
            .map(|(d, u)| (*u, d as i64))
            .collect();
        let expected = mm2(&records, 100);
        let mut w = SyncWriter::new(100);
        // First record alone (the gate), reported.
        w.mirrored(&tp(), 0, 1);
        w.written(tp(), 0, 0);
        // Then the rest in two polls, reported once (coalesced) at the end.
        w.mirrored(&tp(), 1, 299);
        w.mirrored(&tp(), 310, 400);
        w.mirrored(&tp(), 710, 290);
        w.written(tp(), 999, 989);
        assert_eq!(pairs(&mut w), expected);
        // The last record did not fire: it is held back until promoted.
        w.promote_delayed();
        assert_eq!(pairs(&mut w), [(999, 989)]);
    }

    #[test]
    fn replay_matches_mm2_for_many_lags_and_reports() {
        for lag in [0i64, 1, 7, 100] {
            let records: Vec<(i64, i64)> = (0..500).map(|u| (u + 50, u)).collect();
            let expected = mm2(&records, lag);
            let mut w = SyncWriter::new(lag);
            let mut got = Vec::new();
            w.mirrored(&tp(), 50, 1);
            w.written(tp(), 50, 0);
            got.extend(pairs(&mut w));
            // Reports at irregular points.
            let mut next = 51;
            for end in [60i64, 61, 200, 549] {
                w.mirrored(&tp(), next, end - next + 1);
                w.written(tp(), end, end - 50);
                got.extend(pairs(&mut w));
                next = end + 1;
            }
            // With lag 0 more than MAX_PENDING syncs fire in one report; the newest are kept.
            if expected.len() <= MAX_PENDING_PER_PARTITION {
                assert_eq!(got, expected, "lag {lag}");
            } else {
                assert_eq!(got.last(), expected.last(), "lag {lag}");
            }
        }
    }

    #[test]
    fn an_interleaved_writer_makes_only_the_reported_pair_exact() {
        let mut w = SyncWriter::new(100);
        w.mirrored(&tp(), 0, 1);
        w.written(tp(), 0, 0);
        pairs(&mut w);
        w.mirrored(&tp(), 1, 50);
        // 50 records mirrored but downstream moved by 53: someone else wrote too.
        w.written(tp(), 50, 53);
        assert_eq!(pairs(&mut w), [(50, 53)]);
        // Truncation downstream is seen on replay too.
        w.mirrored(&tp(), 51, 1);
        w.written(tp(), 51, 0);
        assert_eq!(pairs(&mut w), [(51, 0)]);
    }

    #[test]
    fn a_newer_sync_follows_a_failed_one() {
        let mut w = SyncWriter::new(0);
        w.mirrored(&tp(), 0, 1);
        w.written(tp(), 0, 0);
        let failed = w.take_pending();
        w.mirrored(&tp(), 1, 1);
        w.written(tp(), 1, 1);
        w.restore(failed);
        assert_eq!(pairs(&mut w), [(0, 0), (1, 1)]);
    }
}
