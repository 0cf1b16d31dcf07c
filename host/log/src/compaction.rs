//! Log compaction (cleanup.policy=compact) in three steps, so the partition lock is held only to look
//! and to swap: [`Log::plan_compaction`] (under the lock: is the partition due, which segments, the
//! cleaner checkpoint), [`CompactionPlan::build`] (no lock: key map of the dirty part, cleaned files
//! written next to the live ones, see `cleaner.rs`) and [`Log::apply_compaction`] (under the lock:
//! check the planned segments are still there, swap the files in crash-safely, advance the
//! checkpoint). [`Log::compact`] runs the three in a row.

use std::fs::File;
use std::ops::Range;
use std::path::{Path, PathBuf};

use crate::checkpoint;
use crate::cleaner::{BuiltGroup, MAP_ENTRY_BYTES};
use crate::error::{IoContext, Result};
use crate::files::{self, FileKind, CLEANED_SUFFIX, DELETED_SUFFIX};
use crate::fsio;
use crate::log::Log;
use crate::segment::{LoadMode, Segment};

/// The cleaner checkpoint: offsets below it were cleaned by an earlier pass (Kafka's
/// `cleaner-offset-checkpoint`, kept per partition here).
pub(crate) const CLEANER_OFFSET_FILE: &str = "cleaner-offset";
/// When the earliest tombstone kept by the last pass reaches its delete horizon, so a partition
/// without new writes is still cleaned to drop it.
pub(crate) const TOMBSTONE_DUE_FILE: &str = "cleaner-tombstone-due";

/// What a compaction did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CompactionReport {
    /// Inactive segments replaced by cleaned ones.
    pub segments_rewritten: usize,
    pub records_removed: u64,
    /// Total size of the replaced segments.
    pub bytes_before: u64,
    /// Total size of the segments that replaced them.
    pub bytes_after: u64,
    /// The planned segments changed while the cleaned files were built (retention or DeleteRecords
    /// removed one); nothing was swapped and the next pass starts over.
    pub aborted: bool,
}

/// A snapshot of one inactive segment, read through its own file handle while the log is unlocked.
#[derive(Debug)]
pub(crate) struct PlannedSegment {
    pub(crate) base: i64,
    pub(crate) next_offset: i64,
    pub(crate) size: u64,
    pub(crate) log_path: PathBuf,
    pub(crate) file: File,
}

/// Step (a)'s result: what to clean, taken under the partition lock. Owns everything step (b) needs.
#[derive(Debug)]
pub struct CompactionPlan {
    pub(crate) dir: PathBuf,
    /// The cleanable segments (inactive and older than min.compaction.lag.ms), oldest first.
    pub(crate) segments: Vec<PlannedSegment>,
    /// The cleaner checkpoint: the first offset of the dirty part.
    pub(crate) first_dirty: i64,
    pub(crate) now_ms: i64,
    pub(crate) delete_retention_ms: i64,
    pub(crate) segment_bytes: u64,
    pub(crate) index_interval_bytes: u32,
    pub(crate) max_message_bytes: u32,
    /// Keys the map may hold (log.cleaner.dedupe.buffer.size / entry size).
    pub(crate) map_capacity: usize,
    /// Aborted transactions whose data may lie in the segments: their batches are removed.
    pub(crate) aborted: Vec<crate::txn_index::AbortedTxn>,
    /// Last offset of each producer's last batch: that batch is kept whole, so the producer's
    /// state (sequence, epoch) is still there for a replay after a crash, as Kafka's cleaner does.
    pub(crate) producer_last_batches: std::collections::HashSet<i64>,
}

impl CompactionPlan {
    /// The first offset of the dirty part.
    pub fn first_dirty_offset(&self) -> i64 {
        self.first_dirty
    }

    /// Number of segments in the snapshot.
    pub fn segment_count(&self) -> usize {
        self.segments.len()
    }
}

/// Step (b)'s result: cleaned files written, not yet live. Dropping it without
/// [`Log::apply_compaction`] removes the files.
pub struct CompactionBuild {
    pub(crate) dir: PathBuf,
    pub(crate) first_dirty: i64,
    /// The new checkpoint: everything below it is clean after the swap.
    pub(crate) end: i64,
    pub(crate) tombstone_due: Option<i64>,
    pub(crate) groups: Vec<BuiltGroup>,
}

impl std::fmt::Debug for CompactionBuild {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CompactionBuild")
            .field("dir", &self.dir)
            .field("first_dirty", &self.first_dirty)
            .field("end", &self.end)
            .field("groups", &self.groups.len())
            .finish()
    }
}

impl Drop for CompactionBuild {
    fn drop(&mut self) {
        for g in &mut self.groups {
            if let Err(e) = g.cleaned.discard() {
                tracing::warn!(dir = %self.dir.display(), error = %e, "could not remove a cleaned segment");
            }
        }
    }
}

/// The persisted cleaner state of a partition directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct CleanerState {
    first_dirty: i64,
    tombstone_due: Option<i64>,
}

fn read_state(dir: &Path) -> CleanerState {
    CleanerState {
        first_dirty: checkpoint::read_value(dir, CLEANER_OFFSET_FILE).unwrap_or(0),
        tombstone_due: checkpoint::read_value(dir, TOMBSTONE_DUE_FILE),
    }
}

fn write_state(dir: &Path, state: CleanerState) -> Result<()> {
    match state.tombstone_due {
        Some(due) => checkpoint::write_value(dir, TOMBSTONE_DUE_FILE, due.max(0))?,
        None => files::remove_if_exists(&dir.join(TOMBSTONE_DUE_FILE))?,
    }
    checkpoint::write_value(dir, CLEANER_OFFSET_FILE, state.first_dirty.max(0))
}

impl Log {
    /// Step (a), under the partition lock: decide whether the partition is due for cleaning and
    /// snapshot what to clean. Due means, over the cleanable segments (inactive, and wholly older
    /// than min.compaction.lag.ms): the dirty part (past the cleaner checkpoint) is more than
    /// min.cleanable.dirty.ratio of them, or its oldest batch is older than max.compaction.lag.ms, or a
    /// tombstone kept by the last pass has reached its delete horizon. `None` when nothing is due.
    pub fn plan_compaction(&self, now_ms: i64) -> Result<Option<CompactionPlan>> {
        self.check_online()?;
        let c = &self.config;
        if !c.cleanup_policy.compact || self.older.is_empty() {
            return Ok(None);
        }
        // Kafka's first uncleanable offset: nothing at or above the last stable offset is cleaned,
        // so an open transaction's records are never judged before its marker.
        let lso = self.last_stable_offset();
        let below_lso = self
            .older
            .iter()
            .take_while(|s| s.next_offset() <= lso)
            .count();
        let cleanable = if c.min_compaction_lag_ms <= 0 {
            below_lso
        } else {
            let horizon = now_ms.saturating_sub(c.min_compaction_lag_ms);
            self.older[..below_lso]
                .iter()
                .take_while(|s| s.ix.max_timestamp <= horizon)
                .count()
        };
        let segs = &self.older[..cleanable];
        let Some(last) = segs.last() else {
            return Ok(None);
        };
        let state = read_state(&self.dir);
        let first_dirty = state.first_dirty.clamp(
            self.log_start_offset.min(last.next_offset()),
            last.next_offset(),
        );
        let (mut clean, mut dirty) = (0u64, 0u64);
        let mut oldest_dirty: Option<i64> = None;
        for s in segs {
            if s.next_offset() <= first_dirty {
                clean += s.size;
            } else {
                dirty += s.size;
                let ts = s.ix.first_batch_timestamp.unwrap_or(s.ix.max_timestamp);
                if ts >= 0 && oldest_dirty.is_none() {
                    oldest_dirty = Some(ts);
                }
            }
        }
        let ratio_due =
            dirty > 0 && dirty as f64 > c.min_cleanable_dirty_ratio * (clean + dirty) as f64;
        let lag_due = dirty > 0
            && oldest_dirty.is_some_and(|ts| now_ms.saturating_sub(ts) > c.max_compaction_lag_ms);
        let tombstones_due = state.tombstone_due.is_some_and(|due| now_ms >= due);
        if !(ratio_due || lag_due || tombstones_due) {
            return Ok(None);
        }
        let mut segments = Vec::with_capacity(segs.len());
        for s in segs {
            segments.push(PlannedSegment {
                base: s.base_offset(),
                next_offset: s.next_offset(),
                size: s.size,
                log_path: s.log_path.clone(),
                file: s.file.try_clone().at(&s.log_path)?,
            });
        }
        let aborted = self
            .txn_indexes
            .collect(self.log_start_offset, last.next_offset())?;
        let producer_last_batches = self
            .producer_states()
            .entries()
            .filter_map(|(_, e)| e.batches.back().map(|b| b.last_offset))
            .collect();
        Ok(Some(CompactionPlan {
            dir: self.dir.clone(),
            segments,
            aborted,
            producer_last_batches,
            first_dirty,
            now_ms,
            delete_retention_ms: c.delete_retention_ms,
            segment_bytes: c.segment_bytes,
            index_interval_bytes: c.index_interval_bytes,
            max_message_bytes: c.max_message_bytes,
            map_capacity: usize::try_from(c.cleaner_dedupe_buffer_bytes / MAP_ENTRY_BYTES)
                .unwrap_or(usize::MAX),
        }))
    }

    /// Where in `older` the segments `replaces` sit, if they are all still there unchanged.
    fn find_planned(&self, replaces: &[(i64, u64)]) -> Option<Range<usize>> {
        let first = replaces.first()?.0;
        let start = self.older.iter().position(|s| s.base_offset() == first)?;
        let range = start..start + replaces.len();
        let same = self
            .older
            .get(range.clone())?
            .iter()
            .zip(replaces)
            .all(|(s, &(base, size))| s.base_offset() == base && s.size == size);
        same.then_some(range)
    }

    /// Step (c), under the partition lock: swap the cleaned files in (each group crash-safely, see
    /// `swap_in`) and advance the cleaner checkpoint. If a planned segment is gone or changed, nothing
    /// is swapped and the report says `aborted`. A failed write, fsync or rename takes the log offline
    /// (as in append): the files are then in a state only recovery may judge, which restores the
    /// replaced segments or keeps the committed swap (see `recovery.rs`).
    pub fn apply_compaction(&mut self, build: CompactionBuild) -> Result<CompactionReport> {
        self.check_online()?;
        let result = self.apply_compaction_online(build);
        self.storage(result)
    }

    fn apply_compaction_online(&mut self, mut build: CompactionBuild) -> Result<CompactionReport> {
        let mut report = CompactionReport::default();
        if build.dir != self.dir {
            report.aborted = true;
            return Ok(report);
        }
        let mut ranges = Vec::with_capacity(build.groups.len());
        for g in &build.groups {
            match self.find_planned(&g.replaces) {
                Some(r) => ranges.push(r),
                None => {
                    report.aborted = true;
                    return Ok(report);
                }
            }
        }
        // Back to front, so replacing a group keeps the indices of the earlier ones valid.
        while let Some(group) = build.groups.pop() {
            let range = ranges.pop().unwrap_or_default();
            report.segments_rewritten += range.len();
            report.records_removed += group.removed;
            report.bytes_before += group.replaces.iter().map(|r| r.1).sum::<u64>();
            report.bytes_after += group.cleaned.size;
            // Popped from the build, so dropping the build no longer removes these files.
            self.swap_in(range, group.cleaned.base)?;
        }
        write_state(
            &self.dir,
            CleanerState {
                first_dirty: build.end,
                tombstone_due: build.tombstone_due,
            },
        )?;
        if report.segments_rewritten > 0 {
            tracing::info!(
                dir = %self.dir.display(),
                segments = report.segments_rewritten,
                records_removed = report.records_removed,
                bytes_before = report.bytes_before,
                bytes_after = report.bytes_after,
                first_dirty = build.first_dirty,
                cleaned_to = build.end,
                "compacted log"
            );
        }
        Ok(report)
    }

    /// Plan, build and apply in a row, holding `&mut self` throughout (the callers that cannot
    /// release the lock in between). Keeps the latest record per key in the inactive segments, per
    /// Kafka's rules: see [`Log::plan_compaction`] for when it runs and `cleaner.rs` for what it keeps.
    /// A storage error in any step takes the log offline, as in append.
    pub fn compact(&mut self, now_ms: i64) -> Result<CompactionReport> {
        let result = match self.plan_compaction(now_ms)? {
            None => Ok(CompactionReport::default()),
            Some(plan) => plan.build().and_then(|b| self.apply_compaction_online(b)),
        };
        self.storage(result)
    }

    /// Replaces `older[range]` by the cleaned segment at `base`, in the order recovery relies on
    /// (see `recovery.rs`): old files to `*.deleted`, cleaned index files then the cleaned log (the
    /// commit point) to live names, then the old files are removed.
    fn swap_in(&mut self, range: Range<usize>, base: i64) -> Result<()> {
        let dir = self.dir.clone();
        let mut moved: Vec<(PathBuf, PathBuf)> = Vec::new();
        for seg in &self.older[range.clone()] {
            for kind in FileKind::ALL {
                let live = files::segment_path(&dir, seg.base_offset(), kind);
                if !live.exists() {
                    continue;
                }
                let aside = files::with_suffix(&live, DELETED_SUFFIX);
                if let Err(e) = fsio::rename(&live, &aside) {
                    for (live, aside) in moved.iter().rev() {
                        if let Err(undo) = fsio::rename(aside, live) {
                            tracing::warn!(file = %aside.display(), error = %undo, "could not restore segment file");
                        }
                    }
                    return Err(e).at(&live);
                }
                moved.push((live, aside));
            }
        }
        files::sync_dir(&dir)?;
        for kind in [FileKind::Index, FileKind::TimeIndex, FileKind::Log] {
            let live = files::segment_path(&dir, base, kind);
            let cleaned = files::with_suffix(&live, CLEANED_SUFFIX);
            fsio::rename(&cleaned, &live).at(&live)?;
        }
        files::sync_dir(&dir)?;
        for (_, aside) in &moved {
            files::remove_if_exists(aside)?;
        }
        let (seg, _) = Segment::load(
            &dir,
            base,
            self.config.index_interval_bytes,
            LoadMode::Trust,
            false,
        )?;
        self.older.splice(range, std::iter::once(seg));
        self.dir_dirty = true;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::batch::{batches, BatchHeader};
    use crate::testutil::{batch, first_base, rec, tombstone};
    use crate::{CleanupPolicy, LogConfig};
    use bytes::Bytes;
    use kafka_protocol::records::{Compression, RecordBatchDecoder};
    use std::os::unix::fs::MetadataExt;

    fn config() -> LogConfig {
        LogConfig {
            segment_bytes: 600,
            index_interval_bytes: 64,
            cleanup_policy: CleanupPolicy {
                delete: false,
                compact: true,
            },
            delete_retention_ms: 1000,
            ..LogConfig::default()
        }
    }

    /// Every (offset, key, value) readable from the log, decoded by kafka-protocol.
    fn contents(log: &Log) -> Vec<(i64, String, Option<String>)> {
        stored(log)
            .into_iter()
            .flat_map(|(_, recs)| recs)
            .map(|(o, _, k, v)| (o, k, v))
            .collect()
    }

    type Rec = (i64, i64, String, Option<String>);

    /// Every stored batch header with its (offset, timestamp, key, value) records, per kafka-protocol.
    fn stored(log: &Log) -> Vec<(BatchHeader, Vec<Rec>)> {
        let mut out = Vec::new();
        let mut offset = log.log_start_offset();
        while offset < log.log_end_offset() {
            let r = log.read(offset, usize::MAX).unwrap().records;
            if r.is_empty() {
                break;
            }
            for b in batches(&r) {
                let (h, bytes) = b.unwrap();
                offset = h.last_offset() + 1;
                let mut bytes = Bytes::copy_from_slice(bytes);
                let recs = RecordBatchDecoder::decode(&mut bytes).unwrap().records;
                let recs = recs
                    .into_iter()
                    .map(|rec| {
                        (
                            rec.offset,
                            rec.timestamp,
                            String::from_utf8(rec.key.unwrap().to_vec()).unwrap(),
                            rec.value.map(|v| String::from_utf8(v.to_vec()).unwrap()),
                        )
                    })
                    .collect();
                out.push((h, recs));
            }
        }
        out
    }

    fn leftovers(dir: &Path) -> Vec<String> {
        std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .filter(|f| f.ends_with(CLEANED_SUFFIX) || f.ends_with(DELETED_SUFFIX))
            .collect()
    }

    #[test]
    fn plan_and_build_can_move_to_a_maintenance_thread() {
        fn send<T: Send>() {}
        send::<CompactionPlan>();
        send::<CompactionBuild>();
    }

    #[test]
    fn keeps_latest_value_per_key_for_every_codec() {
        for codec in [
            Compression::None,
            Compression::Gzip,
            Compression::Snappy,
            Compression::Lz4,
            Compression::Zstd,
        ] {
            let dir = tempfile::tempdir().unwrap();
            let (mut log, _) = Log::open(dir.path(), config()).unwrap();
            for round in 0..6 {
                let recs: Vec<_> = (0..4)
                    .map(|k| rec(&format!("k{k}"), &format!("v{round}-{k}")))
                    .collect();
                log.append(&batch(&recs, 1000 + round, codec), 0, 1000)
                    .unwrap();
            }
            // Newer values of k0 and k1 in the active segment: like Kafka, the cleaner maps only the
            // inactive (cleanable) part, so their older values stay until that segment rolls.
            log.roll(1000).unwrap();
            let recs = [rec("k0", "final-0"), rec("k1", "final-1")];
            log.append(&batch(&recs, 2000, codec), 0, 2000).unwrap();
            let leo = log.log_end_offset();
            let before = log.size_bytes();

            let report = log.compact(2000).unwrap();
            assert!(report.segments_rewritten > 0, "{codec:?}");
            assert!(!report.aborted);
            assert_eq!(report.records_removed, 6 * 4 - 4, "{codec:?}");
            assert!(report.bytes_after < report.bytes_before);
            assert_eq!(
                log.size_bytes(),
                before - report.bytes_before + report.bytes_after
            );
            assert_eq!(log.log_end_offset(), leo);
            let got = contents(&log);
            assert_eq!(
                got,
                vec![
                    (20, "k0".into(), Some("v5-0".into())),
                    (21, "k1".into(), Some("v5-1".into())),
                    (22, "k2".into(), Some("v5-2".into())),
                    (23, "k3".into(), Some("v5-3".into())),
                    (24, "k0".into(), Some("final-0".into())),
                    (25, "k1".into(), Some("final-1".into())),
                ],
                "{codec:?}"
            );
            for (h, _) in stored(&log) {
                assert_eq!(h.compression(), codec);
            }
            // The checkpoint covers everything cleanable: nothing is due until new data rolls.
            assert_eq!(read_state(dir.path()).first_dirty, 24);
            assert!(log.plan_compaction(2000).unwrap().is_none());
            assert_eq!(log.compact(2000).unwrap(), CompactionReport::default());
            // Once they roll, the final values are dirty; a small dirty part waits for the ratio.
            log.roll(2000).unwrap();
            assert!(log.plan_compaction(2000).unwrap().is_none());
            let mut eager = log.config().clone();
            eager.min_cleanable_dirty_ratio = 0.0;
            log.set_config(eager);
            let r = log.compact(2000).unwrap();
            assert_eq!(r.records_removed, 2, "{codec:?}");
            log.close().unwrap();
            let (log, report) = Log::open(dir.path(), config()).unwrap();
            assert_eq!(report.rebuilt_indexes, 0);
            assert_eq!(contents(&log), got[2..].to_vec());
            assert_eq!(read_state(dir.path()).first_dirty, 26);
            assert!(leftovers(dir.path()).is_empty());
        }
    }

    #[test]
    fn tombstones_expire_by_the_delete_horizon_set_when_first_kept() {
        let dir = tempfile::tempdir().unwrap();
        let (mut log, _) = Log::open(dir.path(), config()).unwrap();
        log.append(
            &batch(&[rec("a", "1"), rec("b", "1")], 100, Compression::Zstd),
            0,
            100,
        )
        .unwrap();
        log.append(&batch(&[tombstone("a")], 500, Compression::Zstd), 0, 500)
            .unwrap();
        log.roll(500).unwrap();
        log.append(&batch(&[rec("c", "1")], 600, Compression::None), 0, 600)
            .unwrap();

        // The tombstone's own timestamp (500) is long past delete.retention.ms at 10_000, but it
        // has never been cleaned: it is kept and its batch gets horizon 10_000 + 1_000.
        let r = log.compact(10_000).unwrap();
        assert_eq!(r.records_removed, 1);
        assert_eq!(
            contents(&log),
            vec![
                (1, "b".into(), Some("1".into())),
                (2, "a".into(), None),
                (3, "c".into(), Some("1".into())),
            ]
        );
        let batches = stored(&log);
        let (h, recs) = &batches[1];
        assert!(h.has_delete_horizon());
        assert_eq!(h.base_timestamp, 11_000);
        assert_eq!(recs[0].1, 500, "the record keeps its own timestamp");
        assert!(
            !batches[0].0.has_delete_horizon(),
            "no tombstone kept there"
        );
        assert_eq!(read_state(dir.path()).tombstone_due, Some(11_000));
        // Not due before the horizon, even with nothing dirty; due at it.
        assert!(log.plan_compaction(10_999).unwrap().is_none());
        assert_eq!(log.compact(10_999).unwrap().records_removed, 0);
        assert_eq!(log.compact(11_000).unwrap().records_removed, 1);
        assert_eq!(
            contents(&log),
            vec![
                (1, "b".into(), Some("1".into())),
                (3, "c".into(), Some("1".into()))
            ]
        );
        assert_eq!(read_state(dir.path()).tombstone_due, None);
        // Rebuilt batches keep their base offset (Kafka does too); a batch that lost all its records
        // is gone, so a read of its offsets lands on the next batch.
        let r = log.read(0, 10).unwrap();
        assert_eq!(first_base(&r.records), 0);
        let r = log.read(2, 10_000).unwrap();
        assert_eq!(first_base(&r.records), 3);
    }

    #[test]
    fn cleans_only_past_the_dirty_ratio_or_the_max_lag() {
        let dir = tempfile::tempdir().unwrap();
        let (mut log, _) = Log::open(dir.path(), config()).unwrap();
        let fill = |log: &mut Log, from: usize, to: usize, ts: i64| {
            for i in from..to {
                let b = batch(
                    &[rec(&format!("key-{i:03}"), "value")],
                    ts,
                    Compression::None,
                );
                log.append(&b, 0, ts).unwrap();
            }
            log.roll(ts).unwrap();
        };
        fill(&mut log, 0, 40, 1000);
        assert!(
            log.compact(1000).unwrap().segments_rewritten == 0,
            "unique keys: nothing changes"
        );
        let clean_to = read_state(dir.path()).first_dirty;
        assert_eq!(clean_to, 40);
        // A little new data (well under half of the cleanable bytes): not due.
        fill(&mut log, 40, 45, 2000);
        assert!(log.plan_compaction(2000).unwrap().is_none());
        // Unless its oldest batch is older than max.compaction.lag.ms.
        let mut c = log.config().clone();
        c.max_compaction_lag_ms = 5000;
        log.set_config(c.clone());
        assert!(log.plan_compaction(7000).unwrap().is_none());
        let plan = log.plan_compaction(7001).unwrap().unwrap();
        assert_eq!(plan.first_dirty_offset(), 40);
        drop(plan);
        // A lower ratio makes it due too.
        c.max_compaction_lag_ms = i64::MAX;
        c.min_cleanable_dirty_ratio = 0.1;
        log.set_config(c);
        log.compact(2000).unwrap();
        assert_eq!(read_state(dir.path()).first_dirty, 45);
        assert!(leftovers(dir.path()).is_empty());
    }

    #[test]
    fn unchanged_segments_are_not_rewritten() {
        let dir = tempfile::tempdir().unwrap();
        let (mut log, _) = Log::open(dir.path(), config()).unwrap();
        // Segment 0: unique keys; segment 1: "x" twice.
        for k in ["a", "b", "c"] {
            log.append(&batch(&[rec(k, "1")], 10, Compression::None), 0, 10)
                .unwrap();
        }
        log.roll(10).unwrap();
        log.append(
            &batch(&[rec("x", "1"), rec("x", "2")], 10, Compression::None),
            0,
            10,
        )
        .unwrap();
        log.roll(10).unwrap();
        let ino = |base: i64| {
            std::fs::metadata(files::segment_path(dir.path(), base, FileKind::Log))
                .unwrap()
                .ino()
        };
        let (first, second) = (ino(0), ino(3));
        let r = log.compact(10).unwrap();
        assert_eq!((r.segments_rewritten, r.records_removed), (1, 1));
        assert_eq!(ino(0), first, "segment 0 untouched");
        assert_ne!(ino(3), second, "segment 3 rewritten");
        assert_eq!(contents(&log).len(), 4);
    }

    #[test]
    fn a_full_key_map_cleans_up_to_where_it_got() {
        let dir = tempfile::tempdir().unwrap();
        let mut c = config();
        c.cleaner_dedupe_buffer_bytes = 2 * crate::cleaner::MAP_ENTRY_BYTES;
        // Any dirty data makes the partition due, so the loop below runs until it is all clean.
        c.min_cleanable_dirty_ratio = 0.0;
        let (mut log, _) = Log::open(dir.path(), c).unwrap();
        for round in 0..2 {
            for k in ["a", "b", "c", "d"] {
                let b = batch(&[rec(k, &round.to_string())], 10, Compression::Lz4);
                log.append(&b, 0, 10).unwrap();
            }
        }
        log.roll(10).unwrap();
        // Offsets 0..8: a b c d a b c d. Only two keys fit, so the first pass maps a and b and
        // stops at offset 2 (c); nothing below 2 is superseded within the map.
        let r = log.compact(10).unwrap();
        assert_eq!(r.records_removed, 0);
        assert_eq!(read_state(dir.path()).first_dirty, 2);
        // Later passes keep going from the checkpoint until the log is clean.
        let mut passes = 0;
        while log.plan_compaction(10).unwrap().is_some() {
            log.compact(10).unwrap();
            passes += 1;
            assert!(passes < 10);
        }
        assert_eq!(
            contents(&log),
            vec![
                (4, "a".into(), Some("1".into())),
                (5, "b".into(), Some("1".into())),
                (6, "c".into(), Some("1".into())),
                (7, "d".into(), Some("1".into())),
            ]
        );
    }

    #[test]
    fn build_runs_without_the_log_and_aborts_if_a_segment_went_away() {
        let dir = tempfile::tempdir().unwrap();
        let (mut log, _) = Log::open(dir.path(), config()).unwrap();
        for i in 0..3 {
            log.append(
                &batch(&[rec("k", &i.to_string())], 10, Compression::Gzip),
                0,
                10,
            )
            .unwrap();
            log.roll(10).unwrap();
        }
        // Appends and rolls between plan and apply are fine.
        let plan = log.plan_compaction(10).unwrap().unwrap();
        assert_eq!(plan.segment_count(), 3);
        log.append(&batch(&[rec("z", "1")], 10, Compression::None), 0, 10)
            .unwrap();
        log.roll(10).unwrap();
        let build = plan.build().unwrap();
        let r = log.apply_compaction(build).unwrap();
        assert!(!r.aborted);
        assert_eq!(r.records_removed, 2);
        assert_eq!(
            contents(&log),
            vec![
                (2, "k".into(), Some("2".into())),
                (3, "z".into(), Some("1".into()))
            ]
        );

        // DeleteRecords removes a planned segment while the files are built: nothing is swapped.
        for i in 0..2 {
            log.append(
                &batch(&[rec("z", &i.to_string())], 10, Compression::None),
                0,
                10,
            )
            .unwrap();
            log.roll(10).unwrap();
        }
        let plan = log.plan_compaction(10).unwrap().unwrap();
        log.delete_records_before(4).unwrap();
        let before = contents(&log);
        let r = log.apply_compaction(plan.build().unwrap()).unwrap();
        assert!(r.aborted);
        assert_eq!(contents(&log), before);
        assert!(leftovers(dir.path()).is_empty());
        // A dropped build removes its files too.
        let build = log.plan_compaction(10).unwrap().unwrap().build().unwrap();
        drop(build);
        assert!(leftovers(dir.path()).is_empty());
    }

    #[test]
    fn active_segment_and_lagging_segments_are_not_rewritten() {
        let dir = tempfile::tempdir().unwrap();
        let mut c = config();
        c.min_compaction_lag_ms = 10_000;
        let (mut log, _) = Log::open(dir.path(), c).unwrap();
        log.append(
            &batch(&[rec("a", "1"), rec("a", "2")], 100, Compression::None),
            0,
            100,
        )
        .unwrap();
        assert_eq!(log.compact(1_000_000).unwrap(), CompactionReport::default());
        log.roll(100).unwrap();
        log.append(
            &batch(&[rec("a", "3")], 20_000, Compression::None),
            0,
            20_000,
        )
        .unwrap();
        // The first segment's newest record has timestamp 101.
        assert_eq!(
            log.compact(10_100).unwrap().segments_rewritten,
            0,
            "too recent"
        );
        let r = log.compact(10_101).unwrap();
        assert_eq!((r.segments_rewritten, r.records_removed), (1, 1));
        assert_eq!(
            contents(&log),
            vec![
                (1, "a".into(), Some("2".into())),
                (2, "a".into(), Some("3".into()))
            ]
        );
        // Policy delete only: nothing happens.
        let mut d = log.config().clone();
        d.cleanup_policy = CleanupPolicy::default();
        log.set_config(d);
        assert_eq!(log.compact(i64::MAX).unwrap(), CompactionReport::default());
    }

    #[test]
    fn groups_merge_small_segments() {
        let dir = tempfile::tempdir().unwrap();
        let (mut log, _) = Log::open(dir.path(), config()).unwrap();
        for i in 0..12 {
            log.append(
                &batch(&[rec("same", &i.to_string())], i, Compression::None),
                0,
                i,
            )
            .unwrap();
            log.roll(i).unwrap();
        }
        let n = log.segment_count();
        assert_eq!(n, 13);
        let r = log.compact(100).unwrap();
        assert_eq!(
            r.segments_rewritten, 11,
            "the last holds the latest and does not change"
        );
        assert!(log.segment_count() < n);
        assert_eq!(contents(&log), vec![(11, "same".into(), Some("11".into()))]);
    }

    #[test]
    fn a_bomb_in_a_compacted_log_is_a_typed_error_not_an_abort() {
        use crate::testutil::{bomb_batch, BombRecord};
        let dir = tempfile::tempdir().unwrap();
        // Stored before produce decoded compressed batches, then compaction enabled.
        let mut bomb = bomb_batch(
            Compression::Zstd,
            1000,
            &vec![BombRecord::value(900 << 10); 100],
        );
        // Its header claims a later max timestamp than any record has, so a lookup must read on.
        crate::batch::put_i64(&mut bomb, crate::batch::MAX_TIMESTAMP_POS, 5000);
        let crc = crate::batch::compute_crc(&bomb);
        crate::batch::put_u32(&mut bomb, crate::batch::CRC_POS, crc);
        let mut log = crate::testutil::log_holding(dir.path(), &bomb, LogConfig::default());
        // The append path refuses it now.
        assert!(matches!(
            log.append(&bomb, 0, 1000),
            Err(crate::LogError::CorruptBatch(_))
        ));
        log.roll(1000).unwrap();
        log.set_config(config());
        assert!(matches!(
            log.compact(1000),
            Err(crate::LogError::CorruptBatch(_))
        ));
        assert!(leftovers(dir.path()).is_empty());
        assert!(matches!(
            log.offset_for_timestamp(2000),
            Err(crate::LogError::CorruptBatch(_))
        ));
    }
}
