//! The checkpoint role's view of the offset syncs: MM2's `OffsetSyncStore` after KAFKA-14666
//! (Kafka 3.5). Each source partition keeps 64 syncs spaced roughly exponentially back in time,
//! so that a consumer group far behind the replication flow still translates (conservatively,
//! to the downstream offset one past an older sync) instead of not at all.

use std::collections::HashMap;

use crate::formats::OffsetSync;
use crate::sync_rule::SourcePartition;

/// Syncs kept per partition (MM2: `Long.SIZE`).
pub const SYNCS_PER_PARTITION: usize = 64;

/// A sync with an identity: MM2 compares array slots by reference, so equal offsets read twice
/// are still different syncs.
#[derive(Debug, Clone, Copy)]
struct Slot {
    sync: OffsetSync,
    id: u64,
}

impl Slot {
    fn same(&self, other: &Slot) -> bool {
        self.id == other.id
    }
}

/// Offset syncs read so far, per source partition.
#[derive(Debug, Default)]
pub struct OffsetSyncStore {
    syncs: HashMap<SourcePartition, Vec<Slot>>,
    next_id: u64,
    /// The initial read reached the end of the topic; until then nothing translates.
    read_to_end: bool,
    /// MM2's `initializationMustReadToEnd`: keep only the latest sync until the initial read
    /// ends. MM2 sets it only when it could not read its checkpoints back (then it cannot keep
    /// checkpoints monotonic against a history); this role restores its last checkpoints from
    /// its stored positions, so it keeps the whole history from the start, as MM2 then does.
    must_read_to_end: bool,
}

impl OffsetSyncStore {
    /// An empty store, still reading, keeping history during the initial read.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty store that keeps only the latest sync per partition until the initial read
    /// ends (MM2 when its checkpoints could not be read).
    pub fn latest_only_until_read() -> Self {
        OffsetSyncStore {
            must_read_to_end: true,
            ..Self::default()
        }
    }

    /// The initial read of the topic is complete.
    pub fn set_read_to_end(&mut self) {
        self.read_to_end = true;
    }

    /// Whether the initial read is complete.
    pub fn is_read_to_end(&self) -> bool {
        self.read_to_end
    }

    /// Applies one sync read from the topic.
    pub fn handle(&mut self, partition: SourcePartition, sync: OffsetSync) {
        let slot = Slot {
            sync,
            id: self.next_id,
        };
        self.next_id += 1;
        let only_last = !self.read_to_end && self.must_read_to_end;
        match self.syncs.get_mut(&partition) {
            None => {
                self.syncs
                    .insert(partition, vec![slot; SYNCS_PER_PARTITION]);
            }
            Some(syncs) => {
                if only_last || sync.upstream < syncs[0].sync.upstream {
                    syncs.iter_mut().for_each(|s| *s = slot);
                } else {
                    let original = syncs.clone();
                    update(syncs, &original, slot);
                }
            }
        }
    }

    /// The downstream offset for a group at `upstream` of `partition`: `None` when it cannot be
    /// translated yet (no sync, or the initial read is not complete), `Some(-1)` when the group
    /// is behind every sync kept, else the sync's downstream offset (+1 if past the sync).
    pub fn translate_downstream(&self, partition: &SourcePartition, upstream: i64) -> Option<i64> {
        if !self.read_to_end {
            return None;
        }
        let syncs = self.syncs.get(partition)?;
        let sync = syncs
            .iter()
            .find(|s| s.sync.upstream <= upstream)
            .unwrap_or(&syncs[SYNCS_PER_PARTITION - 1])
            .sync;
        if sync.upstream > upstream {
            return Some(-1);
        }
        let step = if upstream == sync.upstream { 0 } else { 1 };
        Some(sync.downstream + step)
    }

    /// The distinct syncs kept for `partition`, newest first (for tests and status).
    pub fn history(&self, partition: &SourcePartition) -> Vec<OffsetSync> {
        let mut out: Vec<OffsetSync> = Vec::new();
        let mut last: Option<Slot> = None;
        for s in self.syncs.get(partition).into_iter().flatten() {
            if last.is_none_or(|l| !l.same(s)) {
                out.push(s.sync);
            }
            last = Some(*s);
        }
        out
    }
}

/// Invariant B: slot j is no more than 2^j − 2^i upstream records before slot i.
fn invariant_b(i_sync: &Slot, j_sync: &Slot, i: usize, j: usize) -> bool {
    let bound = j_sync
        .sync
        .upstream
        .wrapping_add(1i64 << j)
        .wrapping_sub(1i64 << i);
    i_sync.same(j_sync) || bound < 0 || i_sync.sync.upstream <= bound
}

/// Invariant C: slot i+1 is at least 2^(i−2) upstream records before slot i.
fn invariant_c(i_sync: &Slot, j_sync: &Slot, i: usize) -> bool {
    let bound = j_sync
        .sync
        .upstream
        .wrapping_add(1i64 << i.saturating_sub(2));
    i_sync.same(j_sync) || (bound >= 0 && i_sync.sync.upstream >= bound)
}

/// MM2's `updateSyncArray`: puts the new sync first and moves older ones down, keeping the
/// invariants, so the array spans exponentially more history towards its end.
fn update(syncs: &mut [Slot], original: &[Slot], new: Slot) {
    let n = SYNCS_PER_PARTITION;
    let mut replacement = new;
    let mut replacement_index = 0usize;
    syncs[0] = replacement;
    for current in 1..n {
        let previous = current - 1;
        loop {
            let old = original[replacement_index];
            let is_recent = invariant_b(&syncs[previous], &old, previous, current);
            let separated_from_previous = invariant_c(&syncs[previous], &old, previous);
            let next = current + 1;
            let separated_from_next = next >= n || invariant_c(&old, &syncs[next], current);
            let next_replacement = replacement_index + 1;
            let duplicate = next_replacement < n && old.same(&original[next_replacement]);
            let promote = is_recent && separated_from_previous && separated_from_next;
            if promote {
                replacement = old;
            }
            let skip = duplicate || !separated_from_previous;
            if promote || skip {
                replacement_index += 1;
            }
            if !(replacement_index < current && skip) {
                break;
            }
        }
        if invariant_b(&syncs[previous], &syncs[current], previous, current) {
            break;
        }
        syncs[current] = replacement;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tp() -> SourcePartition {
        ("t".to_string(), 0)
    }

    fn sync(up: i64, down: i64) -> OffsetSync {
        OffsetSync {
            upstream: up,
            downstream: down,
        }
    }

    #[test]
    fn nothing_translates_before_the_initial_read_ends() {
        let mut s = OffsetSyncStore::new();
        s.handle(tp(), sync(100, 200));
        assert_eq!(s.translate_downstream(&tp(), 150), None);
        s.set_read_to_end();
        assert_eq!(s.translate_downstream(&tp(), 150), Some(201));
        assert_eq!(s.translate_downstream(&tp(), 100), Some(200));
        assert_eq!(s.translate_downstream(&tp(), 99), Some(-1));
        assert_eq!(s.translate_downstream(&("u".into(), 0), 1), None);
    }

    #[test]
    fn the_initial_read_keeps_history_unless_told_otherwise() {
        let mut s = OffsetSyncStore::latest_only_until_read();
        for i in 0..10 {
            s.handle(tp(), sync(i * 10, i * 10));
        }
        s.set_read_to_end();
        assert_eq!(s.history(&tp()), [sync(90, 90)]);
        // The checkpoint role's store: a group at 15 read during start-up still translates.
        let mut s = OffsetSyncStore::new();
        for i in 0..10 {
            s.handle(tp(), sync(i * 10, i * 10));
        }
        s.set_read_to_end();
        let t = s.translate_downstream(&tp(), 15);
        assert!(matches!(t, Some(d) if (1..=11).contains(&d)), "{t:?}");
    }

    // KAFKA-14666: a group far behind the flow still translates, to at most one past an older
    // sync, and never past where it really is.
    #[test]
    fn groups_behind_the_flow_translate_conservatively() {
        let mut s = OffsetSyncStore::new();
        s.set_read_to_end();
        // Downstream = upstream + 1000 (the target topic had earlier data).
        for up in 0..10_000i64 {
            s.handle(tp(), sync(up, up + 1000));
        }
        let hist = s.history(&tp());
        assert!(hist.len() <= SYNCS_PER_PARTITION);
        assert!(hist.len() > 10, "history of {}", hist.len());
        assert_eq!(hist[0], sync(9999, 10_999));
        let ups: Vec<i64> = hist.iter().take(5).map(|s| s.upstream).collect();
        assert_eq!(ups, [9999, 9998, 9996, 9992, 9984]);
        for w in hist.windows(2) {
            assert!(w[0].upstream > w[1].upstream, "{hist:?}");
        }
        for group in [
            0i64, 1, 17, 500, 4_000, 9_000, 9_900, 9_990, 9_998, 9_999, 20_000,
        ] {
            let t = s.translate_downstream(&tp(), group).unwrap();
            if t == -1 {
                assert!(group < hist.last().unwrap().upstream);
                continue;
            }
            // Never ahead of the exact translation (no record skipped)...
            assert!(t <= group + 1000, "group {group} → {t}");
            // ...and behind it by less than the group's distance from the newest sync (the
            // history's spacing grows exponentially with age: 9999, 9998, 9996, 9992, ...).
            let exact = group.min(9_999) + 1000;
            let behind_head = (9_999 - group).max(0);
            assert!(exact - t <= behind_head.max(1), "group {group} → {t}");
        }
        // A group at the newest sync translates exactly.
        assert_eq!(s.translate_downstream(&tp(), 9_999), Some(10_999));
        assert_eq!(s.translate_downstream(&tp(), 12_000), Some(11_000));
    }

    #[test]
    fn an_upstream_rewind_clears_the_history() {
        let mut s = OffsetSyncStore::new();
        s.set_read_to_end();
        s.handle(tp(), sync(100, 100));
        s.handle(tp(), sync(200, 200));
        s.handle(tp(), sync(5, 300));
        assert_eq!(s.history(&tp()), [sync(5, 300)]);
    }

    fn assert_sparse(s: &OffsetSyncStore, sync_offset: i64, previous: i64) {
        let before = if previous == -1 { -1 } else { previous + 1 };
        assert_eq!(s.translate_downstream(&tp(), sync_offset - 1), Some(before));
        assert_eq!(
            s.translate_downstream(&tp(), sync_offset),
            Some(sync_offset)
        );
        assert_eq!(
            s.translate_downstream(&tp(), sync_offset + 1),
            Some(sync_offset + 1)
        );
        assert_eq!(
            s.translate_downstream(&tp(), sync_offset + 2),
            Some(sync_offset + 1)
        );
    }

    // Kafka's OffsetSyncStoreTest.testPastOffsetTranslation, value for value.
    #[test]
    fn mm2s_past_offset_translation() {
        let mut s = OffsetSyncStore::latest_only_until_read();
        for o in (0..=1000).step_by(10) {
            s.handle(tp(), sync(o, o));
        }
        s.set_read_to_end();
        assert_sparse(&s, 1000, -1);
        for o in (1010..=10_000).step_by(10) {
            s.handle(tp(), sync(o, o));
        }
        assert_sparse(&s, 1000, -1);
        for (sync_offset, previous) in [
            (4840, 1000),
            (6760, 4840),
            (8680, 6760),
            (9160, 8680),
            (9640, 9160),
            (9880, 9640),
            (9940, 9880),
            (9970, 9940),
            (9990, 9970),
            (10_000, 9990),
        ] {
            assert_sparse(&s, sync_offset, previous);
        }
        s.handle(tp(), sync(1500, 11_000));
        assert_eq!(s.translate_downstream(&tp(), 1499), Some(-1));
        assert_eq!(s.translate_downstream(&tp(), 1500), Some(11_000));
        assert_eq!(s.translate_downstream(&tp(), 2000), Some(11_001));
    }
}
