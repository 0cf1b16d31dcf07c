//! Log compaction (cleanup.policy=compact): keep only the latest record per key in the inactive
//! segments, drop expired tombstones, preserve offsets, and swap the cleaned files in crash-safely.

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::ops::Range;
use std::path::{Path, PathBuf};

use crate::batch::{self, BatchHeader};
use crate::error::{IoContext, LogError, Result};
use crate::files::{self, FileKind, CLEANED_SUFFIX, DELETED_SUFFIX};
use crate::index::Indexer;
use crate::log::Log;
use crate::record::{self, Records};
use crate::scan::{Scanner, Step, SCAN_CHUNK};
use crate::segment::{LoadMode, Segment};

/// What `compact` did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CompactionReport {
    /// Inactive segments replaced by cleaned ones.
    pub segments_rewritten: usize,
    pub records_removed: u64,
    /// Total size of the replaced segments.
    pub bytes_before: u64,
    /// Total size of the segments that replaced them.
    pub bytes_after: u64,
}

/// Offset of the latest record of each key.
type LatestOffsets = HashMap<Vec<u8>, i64>;

fn corrupt_at(path: &Path, position: u64, err: LogError) -> LogError {
    match err {
        LogError::CorruptBatch(msg) => LogError::CorruptBatch(format!(
            "{} batch at position {position}: {msg}",
            path.display()
        )),
        other => other,
    }
}

/// Calls `f` for every batch of `seg` (CRC-checked), with the batch's position.
fn for_each_batch(
    seg: &Segment,
    mut f: impl FnMut(u64, &BatchHeader, &[u8]) -> Result<()>,
) -> Result<()> {
    let mut scanner = Scanner::new(&seg.file, 0, seg.size, SCAN_CHUNK);
    loop {
        match scanner.next(true).at(&seg.log_path)? {
            Step::End => return Ok(()),
            Step::Invalid { reason, .. } => {
                return Err(LogError::CorruptBatch(format!(
                    "{}: {reason}",
                    seg.log_path.display()
                )))
            }
            Step::Batch {
                position,
                header,
                bytes,
            } => {
                batch::check_integrity(&header, bytes)
                    .map_err(|e| corrupt_at(&seg.log_path, position, e))?;
                f(position, &header, bytes).map_err(|e| corrupt_at(&seg.log_path, position, e))?;
            }
        }
    }
}

/// A cleaned segment being written next to the live ones as `<base>.*.cleaned`.
struct Cleaned {
    log_path: PathBuf,
    out: BufWriter<File>,
    size: u64,
    ix: Indexer,
    interval: u32,
}

impl Cleaned {
    fn create(dir: &Path, base: i64, interval: u32) -> Result<Cleaned> {
        let cleaned =
            |kind| files::with_suffix(&files::segment_path(dir, base, kind), CLEANED_SUFFIX);
        let log_path = cleaned(FileKind::Log);
        let ix = Indexer::new(base, cleaned(FileKind::Index), cleaned(FileKind::TimeIndex));
        ix.index.delete_file()?;
        ix.time_index.delete_file()?;
        let file = File::create(&log_path).at(&log_path)?;
        Ok(Cleaned {
            log_path,
            out: BufWriter::with_capacity(1 << 20, file),
            size: 0,
            ix,
            interval,
        })
    }

    fn push(&mut self, bytes: &[u8], header: &BatchHeader) -> Result<()> {
        self.out.write_all(bytes).at(&self.log_path)?;
        self.ix.track(self.size, header, self.interval);
        self.size += bytes.len() as u64;
        Ok(())
    }

    /// Everything durable before the swap starts.
    fn finish(mut self) -> Result<()> {
        let file = self
            .out
            .into_inner()
            .map_err(|e| e.into_error())
            .at(&self.log_path)?;
        file.sync_all().at(&self.log_path)?;
        self.ix.seal();
        self.ix.write_pending(true)
    }

    fn discard(self) -> Result<()> {
        drop(self.out);
        files::remove_if_exists(&self.log_path)?;
        self.ix.index.delete_file()?;
        self.ix.time_index.delete_file()
    }
}

/// Consecutive runs of segments that fit in one segment (segment.bytes and 32-bit relative offsets).
fn group_segments(segs: &[Segment], max_bytes: u64) -> Vec<Range<usize>> {
    let mut groups = Vec::new();
    let mut start = 0;
    while start < segs.len() {
        let base = segs[start].base_offset();
        let mut size = segs[start].size;
        let mut end = start + 1;
        while end < segs.len()
            && size + segs[end].size <= max_bytes
            && segs[end].next_offset() - 1 - base <= i64::from(i32::MAX)
        {
            size += segs[end].size;
            end += 1;
        }
        groups.push(start..end);
        start = end;
    }
    groups
}

impl Log {
    /// Compaction (cleanup_policy.compact): rewrite inactive segments keeping only the latest record
    /// per key (latest across the whole log, active segment included); tombstones (null value) whose
    /// timestamp is more than delete_retention_ms before `now_ms` are dropped, and so are records
    /// without a key. Segments holding records newer than min_compaction_lag_ms are left alone, and the
    /// active segment is never rewritten. Batches are decoded (all codecs) and re-encoded with the same
    /// codec; offsets are preserved (gaps are fine); unchanged batches are copied verbatim.
    pub fn compact(&mut self, now_ms: i64) -> Result<CompactionReport> {
        let mut report = CompactionReport::default();
        if !self.config.cleanup_policy.compact || self.older.is_empty() {
            return Ok(report);
        }
        let lag = self.config.min_compaction_lag_ms;
        let cleanable = if lag <= 0 {
            self.older.len()
        } else {
            let horizon = now_ms.saturating_sub(lag);
            self.older
                .iter()
                .take_while(|s| s.ix.max_timestamp <= horizon)
                .count()
        };
        if cleanable == 0 {
            return Ok(report);
        }
        let latest = self.latest_offsets()?;
        let groups = group_segments(&self.older[..cleanable], self.config.segment_bytes);
        // Back to front, so replacing a group keeps the indices of the earlier ones valid.
        for range in groups.into_iter().rev() {
            self.clean_group(range, &latest, now_ms, &mut report)?;
        }
        if report.segments_rewritten > 0 {
            tracing::info!(
                dir = %self.dir.display(),
                segments = report.segments_rewritten,
                records_removed = report.records_removed,
                bytes_before = report.bytes_before,
                bytes_after = report.bytes_after,
                "compacted log"
            );
        }
        Ok(report)
    }

    fn latest_offsets(&self) -> Result<LatestOffsets> {
        let mut latest = LatestOffsets::new();
        for seg in self.segments() {
            for_each_batch(seg, |_, header, bytes| {
                if header.is_control() {
                    return Ok(());
                }
                let data = record::payload(bytes, header)?;
                for r in Records::new(&data, header.records_count) {
                    let r = r?;
                    if let Some(key) = r.key {
                        let offset = r.offset(header);
                        match latest.get_mut(key) {
                            Some(o) => *o = offset,
                            None => {
                                latest.insert(key.to_vec(), offset);
                            }
                        }
                    }
                }
                Ok(())
            })?;
        }
        Ok(latest)
    }

    /// Writes the cleaned version of `older[range]`; returns how many records it dropped.
    fn filter_group(
        &self,
        range: Range<usize>,
        latest: &LatestOffsets,
        now_ms: i64,
        out: &mut Cleaned,
    ) -> Result<u64> {
        let tombstone_retention = self.config.delete_retention_ms;
        let mut removed = 0u64;
        for seg in &self.older[range] {
            for_each_batch(seg, |_, header, bytes| {
                if header.is_control() {
                    // Transaction markers carry no key/value data to compact.
                    return out.push(bytes, header);
                }
                let data = record::payload(bytes, header)?;
                let mut keep = Vec::new();
                let mut total = 0u64;
                for r in Records::new(&data, header.records_count) {
                    let r = r?;
                    total += 1;
                    let is_latest = r
                        .key
                        .and_then(|k| latest.get(k))
                        .is_some_and(|&o| o == r.offset(header));
                    let expired_tombstone = r.value.is_none()
                        && now_ms.saturating_sub(r.timestamp(header)) > tombstone_retention;
                    if is_latest && !expired_tombstone {
                        keep.push(r);
                    }
                }
                removed += total - keep.len() as u64;
                if keep.len() as u64 == total {
                    out.push(bytes, header)
                } else if keep.is_empty() {
                    Ok(())
                } else {
                    let rebuilt = record::rebuild_batch(bytes, header, &keep)?;
                    let rebuilt_header = BatchHeader::parse(&rebuilt)?;
                    out.push(&rebuilt, &rebuilt_header)
                }
            })?;
        }
        Ok(removed)
    }

    fn clean_group(
        &mut self,
        range: Range<usize>,
        latest: &LatestOffsets,
        now_ms: i64,
        report: &mut CompactionReport,
    ) -> Result<()> {
        let base = self.older[range.start].base_offset();
        let mut cleaned = Cleaned::create(&self.dir, base, self.config.index_interval_bytes)?;
        let removed = match self.filter_group(range.clone(), latest, now_ms, &mut cleaned) {
            Ok(n) => n,
            Err(e) => {
                if let Err(cleanup) = cleaned.discard() {
                    tracing::warn!(error = %cleanup, "could not remove a partial cleaned segment");
                }
                return Err(e);
            }
        };
        if removed == 0 {
            return cleaned.discard();
        }
        let bytes_after = cleaned.size;
        cleaned.finish()?;
        let bytes_before: u64 = self.older[range.clone()].iter().map(|s| s.size).sum();
        let replaced = range.len();
        self.swap_in(range, base)?;
        report.segments_rewritten += replaced;
        report.records_removed += removed;
        report.bytes_before += bytes_before;
        report.bytes_after += bytes_after;
        Ok(())
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
                if let Err(e) = std::fs::rename(&live, &aside) {
                    for (live, aside) in moved.iter().rev() {
                        if let Err(undo) = std::fs::rename(aside, live) {
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
            std::fs::rename(&cleaned, &live).at(&live)?;
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
    use crate::batch::batches;
    use crate::testutil::{batch, first_base, rec, tombstone};
    use crate::{CleanupPolicy, LogConfig};
    use bytes::Bytes;
    use kafka_protocol::records::{Compression, RecordBatchDecoder};

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
                for rec in RecordBatchDecoder::decode(&mut bytes).unwrap().records {
                    out.push((
                        rec.offset,
                        String::from_utf8(rec.key.unwrap().to_vec()).unwrap(),
                        rec.value.map(|v| String::from_utf8(v.to_vec()).unwrap()),
                    ));
                }
            }
        }
        out
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
            // The latest values of k0 and k1 live in the active segment.
            log.roll(1000).unwrap();
            let recs = [rec("k0", "final-0"), rec("k1", "final-1")];
            log.append(&batch(&recs, 2000, codec), 0, 2000).unwrap();
            let leo = log.log_end_offset();
            let before = log.size_bytes();

            let report = log.compact(2000).unwrap();
            assert!(report.segments_rewritten > 0, "{codec:?}");
            assert_eq!(report.records_removed, 6 * 4 - 2, "{codec:?}");
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
                    (22, "k2".into(), Some("v5-2".into())),
                    (23, "k3".into(), Some("v5-3".into())),
                    (24, "k0".into(), Some("final-0".into())),
                    (25, "k1".into(), Some("final-1".into())),
                ],
                "{codec:?}"
            );
            // Rewritten batches kept their codec.
            for seg in &log.older {
                for_each_batch(seg, |_, h, _| {
                    assert_eq!(h.compression(), codec);
                    Ok(())
                })
                .unwrap();
            }
            // Idempotent, and survives a reopen with consistent indexes.
            assert_eq!(log.compact(2000).unwrap().segments_rewritten, 0);
            log.close().unwrap();
            let (log, report) = Log::open(dir.path(), config()).unwrap();
            assert_eq!(report.rebuilt_indexes, 0);
            assert_eq!(contents(&log), got);
            let files: Vec<String> = std::fs::read_dir(dir.path())
                .unwrap()
                .map(|e| e.unwrap().file_name().into_string().unwrap())
                .collect();
            assert!(files
                .iter()
                .all(|f| !f.ends_with(".cleaned") && !f.ends_with(".deleted")));
        }
    }

    #[test]
    fn tombstones_survive_until_delete_retention_passes() {
        let dir = tempfile::tempdir().unwrap();
        let (mut log, _) = Log::open(dir.path(), config()).unwrap();
        log.append(
            &batch(&[rec("a", "1"), rec("b", "1")], 100, Compression::None),
            0,
            100,
        )
        .unwrap();
        log.append(&batch(&[tombstone("a")], 500, Compression::None), 0, 500)
            .unwrap();
        log.roll(500).unwrap();
        log.append(&batch(&[rec("c", "1")], 600, Compression::None), 0, 600)
            .unwrap();

        let r = log.compact(1000).unwrap();
        assert_eq!(r.records_removed, 1);
        assert_eq!(
            contents(&log),
            vec![
                (1, "b".into(), Some("1".into())),
                (2, "a".into(), None),
                (3, "c".into(), Some("1".into())),
            ]
        );
        // 500 + delete_retention_ms (1000) is the last moment the tombstone must still be there.
        assert_eq!(log.compact(1500).unwrap().records_removed, 0);
        assert_eq!(log.compact(1501).unwrap().records_removed, 1);
        assert_eq!(
            contents(&log),
            vec![
                (1, "b".into(), Some("1".into())),
                (3, "c".into(), Some("1".into()))
            ]
        );
        // Rebuilt batches keep their base offset (Kafka does too); a batch that lost all its records
        // is gone, so a read of its offsets lands on the next batch.
        let r = log.read(0, 10).unwrap();
        assert_eq!(first_base(&r.records), 0);
        let r = log.read(2, 10_000).unwrap();
        assert_eq!(first_base(&r.records), 3);
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
        assert_eq!((r.segments_rewritten, r.records_removed), (1, 2));
        assert_eq!(contents(&log), vec![(2, "a".into(), Some("3".into()))]);
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
        assert_eq!(r.segments_rewritten, 12);
        assert!(log.segment_count() < n);
        assert_eq!(contents(&log), vec![(11, "same".into(), Some("11".into()))]);
        assert_eq!(group_segments(&log.older, 0).len(), log.older.len());
    }
}
