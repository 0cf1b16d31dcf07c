//! Opening a partition directory: resolving files left by an interrupted compaction, loading every
//! segment and reporting the repairs.
//!
//! After a clean shutdown (marker present and matching) nothing is scanned: each segment's indexes are
//! opened by their last entries and the few batches after them are walked. After an unclean stop every
//! segment holding offsets at or above the recovery point (the `recovery-point` checkpoint: below it
//! everything was fsynced) is validated batch by batch, CRC included, as Kafka does. At the first torn
//! or corrupt batch the segment is truncated and every later segment is deleted, so the log stays a
//! contiguous prefix of what was appended; on a non-compacted log a segment that does not start where
//! the previous one ended (a lost segment file) is cut the same way.
//!
//! Compaction swaps files in this order (see `compaction.rs`): write and fsync `<base>.log.cleaned`
//! (+ index files) -> rename the replaced segments' files to `*.deleted` -> rename the cleaned index
//! files, then `<base>.log.cleaned` last, to their live names -> remove the `*.deleted` files.
//! So a `*.log.cleaned` file means the swap did not commit: restore every `*.deleted` file and drop the
//! cleaned ones. Without it the swap committed (or never started): drop `*.deleted` and stray
//! `*.cleaned` files. Either way no record is lost or duplicated.

use std::collections::BTreeSet;
use std::fs::File;
use std::path::{Path, PathBuf};

use crate::checkpoint;
use crate::config::LogConfig;
use crate::error::{IoContext, Result};
use crate::files::{self, FileKind, SegmentFileName, Suffix};
use crate::fsio;
use crate::scan::{Scanner, Step, WALK_CHUNK};
use crate::segment::{LoadMode, LoadOutcome, Segment};

/// What opening (recovery) found; the broker logs it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RecoveryReport {
    pub segments: usize,
    /// Bytes cut from torn/corrupt tails (0 if clean).
    pub truncated_bytes: u64,
    /// File and byte position of the (first) cut.
    pub truncated_at: Option<(PathBuf, u64)>,
    /// Why, e.g. "batch at position 1234 has a bad CRC (...)".
    pub truncate_reason: Option<String>,
    pub rebuilt_indexes: usize,
    pub log_end_offset: i64,
}

impl RecoveryReport {
    fn note(&mut self, outcome: LoadOutcome) {
        if outcome.rebuilt_index {
            self.rebuilt_indexes += 1;
        }
        if let Some(t) = outcome.truncation {
            self.truncated_bytes += t.bytes;
            if self.truncated_at.is_none() {
                self.truncated_at = Some((t.path, t.position));
                self.truncate_reason = Some(t.reason);
            }
        }
    }
}

pub(crate) struct Recovered {
    pub older: Vec<Segment>,
    pub active: Segment,
    pub log_start_offset: i64,
    /// Offset below which everything is known to be on disk.
    pub recovery_point: i64,
    /// The value in the `recovery-point` file, if any.
    pub checkpointed_recovery_point: Option<i64>,
    pub report: RecoveryReport,
}

fn list(dir: &Path) -> Result<Vec<(PathBuf, SegmentFileName)>> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).at(dir)? {
        let entry = entry.at(dir)?;
        let name = entry.file_name();
        if let Some(parsed) = name.to_str().and_then(files::parse_file_name) {
            out.push((entry.path(), parsed));
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(out)
}

/// The path a temp file had (or will have) when live: the name without its last suffix.
fn live_path(path: &Path) -> PathBuf {
    path.with_extension("")
}

/// Applies the rules in the module doc. Returns whether anything changed.
fn resolve_interrupted_compaction(dir: &Path) -> Result<bool> {
    let entries = list(dir)?;
    let uncommitted = entries
        .iter()
        .any(|(_, f)| f.kind == FileKind::Log && f.suffix == Suffix::Cleaned);
    let mut changed = false;
    for (path, f) in &entries {
        match f.suffix {
            Suffix::Deleted if uncommitted => {
                tracing::warn!(file = %path.display(), "restoring segment file of an interrupted compaction");
                let live = live_path(path);
                fsio::rename(path, &live).at(&live)?;
                changed = true;
            }
            Suffix::Deleted => {
                files::remove_if_exists(path)?;
                changed = true;
            }
            _ => {}
        }
    }
    for (path, f) in &entries {
        if f.suffix == Suffix::Cleaned {
            files::remove_if_exists(path)?;
            changed = true;
        }
    }
    changed |= resolve_swaps(dir)?;
    Ok(changed)
}

/// Next offset after the last readable batch of `path` (`base` if none).
fn next_offset_of(path: &Path, base: i64) -> Result<i64> {
    let file = File::open(path).at(path)?;
    let len = file.metadata().at(path)?.len();
    let mut scanner = Scanner::new(&file, 0, len, WALK_CHUNK);
    let mut next = base;
    while let Step::Batch { header, .. } = scanner.next(false).at(path)? {
        next = next.max(header.last_offset().saturating_add(1));
    }
    Ok(next)
}

/// Kafka's own cleaner leaves `<base>.log.swap` files holding complete cleaned data that replaces the
/// live segments whose base offsets fall inside the swap's offset range. We never write them, but a
/// directory taken over from Kafka may hold one, so finish such swaps the way Kafka does.
fn resolve_swaps(dir: &Path) -> Result<bool> {
    let entries = list(dir)?;
    let mut changed = false;
    for (path, f) in &entries {
        if f.suffix != Suffix::Swap || f.kind != FileKind::Log {
            continue;
        }
        let end = next_offset_of(path, f.base)?.max(f.base.saturating_add(1));
        for (live, g) in &entries {
            if g.suffix == Suffix::Live && g.base >= f.base && g.base < end {
                files::remove_if_exists(live)?;
            }
        }
        let live = live_path(path);
        tracing::warn!(file = %path.display(), "completing an interrupted segment swap");
        fsio::rename(path, &live).at(&live)?;
        changed = true;
    }
    for (path, f) in &entries {
        if f.suffix == Suffix::Swap && f.kind != FileKind::Log {
            // Indexes are rebuilt from the swapped-in log instead.
            files::remove_if_exists(path)?;
            changed = true;
        }
    }
    Ok(changed)
}

/// Base offsets of the live segments, sorted; deletes index files whose log is gone (a retention
/// deletion interrupted between the log and its indexes).
fn live_segments(dir: &Path) -> Result<(Vec<i64>, bool)> {
    let entries = list(dir)?;
    let bases: BTreeSet<i64> = entries
        .iter()
        .filter(|(_, f)| f.suffix == Suffix::Live && f.kind == FileKind::Log)
        .map(|(_, f)| f.base)
        .collect();
    let mut changed = false;
    for (path, f) in &entries {
        if f.suffix == Suffix::Live && f.kind != FileKind::Log && !bases.contains(&f.base) {
            files::remove_if_exists(path)?;
            changed = true;
        }
    }
    Ok((bases.into_iter().collect(), changed))
}

pub(crate) fn recover(dir: &Path, config: &LogConfig) -> Result<Recovered> {
    if !dir.exists() {
        std::fs::create_dir_all(dir).at(dir)?;
        // The new directory's own entry must be durable too, or a power loss could take the partition.
        if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
            files::sync_dir(parent)?;
        }
    }
    checkpoint::remove_temp_files(dir)?;
    let mut dir_changed = resolve_interrupted_compaction(dir)?;
    let (bases, orphans) = live_segments(dir)?;
    dir_changed |= orphans;
    // A marker recording a log end below the last segment's base is stale (its removal at the last
    // open was lost, then the log grew): that stop was not clean.
    let clean_leo = checkpoint::read_clean_shutdown(dir)
        .filter(|&leo| bases.last().is_none_or(|&last_base| last_base <= leo));
    let checkpoint_start = checkpoint::read_log_start_offset(dir);
    let checkpointed_recovery_point = checkpoint::read_recovery_point(dir);
    // Without a clean shutdown, segments at or above the recovery point may hold torn writes; without
    // a checkpoint that is every segment.
    let suspect_from = match clean_leo {
        Some(_) => None,
        None => Some(checkpointed_recovery_point.unwrap_or(0)),
    };
    // A segment whose file vanished shows as a gap between segments; compaction leaves legitimate gaps,
    // so this check applies only to non-compacted logs that have a recovery point to trust.
    let check_gaps = checkpointed_recovery_point.is_some() && !config.cleanup_policy.compact;
    let interval = config.index_interval_bytes;

    let mut report = RecoveryReport::default();
    let mut segments: Vec<Segment> = Vec::with_capacity(bases.len());
    for (i, &base) in bases.iter().enumerate() {
        let is_active = i + 1 == bases.len();
        // Segment `i` holds offsets below the next segment's base.
        let suspect =
            suspect_from.is_some_and(|rp| bases.get(i + 1).is_none_or(|&next_base| next_base > rp));
        if suspect && check_gaps {
            if let Some(prev) = segments.last() {
                if prev.next_offset() != base {
                    drop_segments_from(
                        dir,
                        &bases[i..],
                        &format!(
                            "segment {base} does not start where the previous one ends ({})",
                            prev.next_offset()
                        ),
                    )?;
                    dir_changed = true;
                    break;
                }
            }
        }
        let mode = if suspect {
            LoadMode::Recover
        } else {
            LoadMode::Trust
        };
        let (mut seg, mut outcome) = Segment::load(dir, base, interval, mode, is_active)?;
        // What was validated may still sit only in the page cache (if just the process died): the
        // recovery point moves past it only after the background flush fsynced it.
        seg.unflushed = suspect && !is_active;
        if is_active && mode == LoadMode::Trust && clean_leo != Some(seg.next_offset()) {
            tracing::warn!(
                dir = %dir.display(),
                marker = ?clean_leo,
                found = seg.next_offset(),
                "clean-shutdown marker does not match the log; validating the active segment"
            );
            let truncation = seg.rebuild(interval, true)?;
            outcome.rebuilt_index = true;
            outcome.truncation = outcome.truncation.or(truncation);
        }
        let truncated = outcome.truncation.is_some();
        report.note(outcome);
        segments.push(seg);
        if truncated && !is_active {
            drop_segments_from(
                dir,
                &bases[i + 1..],
                "they follow a torn or corrupt batch in an earlier segment",
            )?;
            dir_changed = true;
            break;
        }
    }

    let mut active = match segments.pop() {
        Some(seg) => seg,
        None => {
            dir_changed = true;
            Segment::create(dir, checkpoint_start.unwrap_or(0))?
        }
    };
    let first_base = segments.first().unwrap_or(&active).base_offset();
    let mut log_start_offset = checkpoint_start.map_or(first_base, |c| c.max(first_base));
    if log_start_offset > active.next_offset() {
        // Records below the start offset were deleted by the user; what survived the crash is all
        // below it, so start afresh there (Kafka's truncateFullyAndStartAt).
        tracing::warn!(
            dir = %dir.display(),
            log_start_offset,
            log_end_offset = active.next_offset(),
            "log start offset is beyond the recovered log end; starting an empty log there"
        );
        for seg in segments.drain(..) {
            seg.delete_files()?;
        }
        active.delete_files()?;
        active = Segment::create(dir, log_start_offset)?;
        dir_changed = true;
    }
    log_start_offset = log_start_offset.max(0);
    let log_end_offset = active.next_offset();
    let recovery_point = match clean_leo {
        Some(_) => log_end_offset,
        None => checkpointed_recovery_point
            .unwrap_or(0)
            .clamp(first_base.min(log_end_offset), log_end_offset),
    };
    report.segments = segments.len() + 1;
    report.log_end_offset = active.next_offset();
    if dir_changed {
        files::sync_dir(dir)?;
    }
    checkpoint::remove_clean_shutdown(dir)?;
    Ok(Recovered {
        older: segments,
        active,
        log_start_offset,
        recovery_point,
        checkpointed_recovery_point,
        report,
    })
}

/// Deletes the segments at `bases` (a tail of the log that cannot be trusted), logging why.
fn drop_segments_from(dir: &Path, bases: &[i64], why: &str) -> Result<()> {
    for &base in bases {
        tracing::warn!(
            dir = %dir.display(),
            segment = base,
            "deleting log segment {base} during recovery: {why}"
        );
        for kind in FileKind::ALL {
            files::remove_if_exists(&files::segment_path(dir, base, kind))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{read_all, simple_batch, Capture};
    use crate::{Log, LogError};

    fn config() -> LogConfig {
        LogConfig {
            segment_bytes: 800,
            index_interval_bytes: 100,
            ..LogConfig::default()
        }
    }

    fn filled(dir: &Path, n: usize) -> (Vec<u8>, i64) {
        let (mut log, _) = Log::open(dir, config()).unwrap();
        for i in 0..n {
            log.append(&simple_batch(1 + i % 3, i as i64), 0, i as i64)
                .unwrap();
        }
        let all = read_all(&log, usize::MAX);
        let leo = log.log_end_offset();
        drop(log); // unclean
        (all, leo)
    }

    fn last_log_file(dir: &Path) -> PathBuf {
        let mut logs: Vec<PathBuf> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "log"))
            .collect();
        logs.sort();
        logs.pop().unwrap()
    }

    #[test]
    fn torn_tail_is_truncated_with_a_warning() {
        let dir = tempfile::tempdir().unwrap();
        filled(dir.path(), 30);
        let path = last_log_file(dir.path());
        let good = std::fs::metadata(&path).unwrap().len();
        let mut raw = std::fs::read(&path).unwrap();
        raw.extend_from_slice(&simple_batch(2, 0)[..40]);
        std::fs::write(&path, &raw).unwrap();
        let capture = Capture::default();
        let (log, report) = capture.run(|| Log::open(dir.path(), config()).unwrap());
        assert_eq!(report.truncated_bytes, 40);
        assert_eq!(report.truncated_at, Some((path.clone(), good)));
        assert!(report.truncate_reason.as_deref().unwrap().contains("torn"));
        assert_eq!(std::fs::metadata(&path).unwrap().len(), good);
        let lines = capture.lines();
        let warn = lines
            .iter()
            .find(|l| l.starts_with("WARN") && l.contains("truncating"))
            .unwrap_or_else(|| panic!("no warning in {lines:?}"));
        assert!(warn.contains(&path.display().to_string()), "{warn}");
        assert!(warn.contains(&format!("position={good}")), "{warn}");
        assert!(warn.contains("torn"), "{warn}");
        drop(log);
    }

    #[test]
    fn bad_crc_at_tail_is_truncated() {
        let dir = tempfile::tempdir().unwrap();
        let (all, _) = filled(dir.path(), 30);
        let path = last_log_file(dir.path());
        let mut raw = std::fs::read(&path).unwrap();
        let n = raw.len();
        raw[n - 2] ^= 0x10;
        std::fs::write(&path, &raw).unwrap();
        let (log, report) = Log::open(dir.path(), config()).unwrap();
        assert!(report
            .truncate_reason
            .as_deref()
            .unwrap()
            .contains("bad CRC"));
        let (_, pos) = report.truncated_at.clone().unwrap();
        assert_eq!(report.truncated_bytes, n as u64 - pos);
        let got = read_all(&log, usize::MAX);
        assert_eq!(&all[..got.len()], &got[..]);
        assert_eq!(got.len() + (n - pos as usize), all.len());
    }

    #[test]
    fn clean_marker_skips_the_scan_but_a_mismatch_forces_it() {
        let dir = tempfile::tempdir().unwrap();
        filled(dir.path(), 10);
        let (log, _) = Log::open(dir.path(), config()).unwrap();
        let leo = log.log_end_offset();
        log.close().unwrap();
        checkpoint::write_clean_shutdown(dir.path(), leo + 5).unwrap();
        let capture = Capture::default();
        let (log, report) = capture.run(|| Log::open(dir.path(), config()).unwrap());
        assert_eq!(report.rebuilt_indexes, 1);
        assert_eq!(log.log_end_offset(), leo);
        assert!(capture.lines().iter().any(|l| l.contains("marker")));
    }

    #[test]
    fn a_stale_marker_below_the_last_segment_means_an_unclean_stop() {
        let dir = tempfile::tempdir().unwrap();
        filled(dir.path(), 40);
        let (log, _) = Log::open(dir.path(), config()).unwrap();
        let segments = log.segment_count();
        assert!(segments > 2);
        log.close().unwrap();
        // The marker of an earlier close whose removal was lost: it names an end inside segment 0.
        checkpoint::write_clean_shutdown(dir.path(), 1).unwrap();
        std::fs::remove_file(dir.path().join(checkpoint::RECOVERY_POINT_FILE)).unwrap();
        let (_, report) = Log::open(dir.path(), config()).unwrap();
        assert_eq!(report.rebuilt_indexes, segments, "every segment validated");
    }

    #[test]
    fn missing_indexes_of_old_segments_are_rebuilt() {
        let dir = tempfile::tempdir().unwrap();
        filled(dir.path(), 40);
        let (log, _) = Log::open(dir.path(), config()).unwrap();
        let segments = log.segment_count();
        assert!(segments >= 3);
        let before: Vec<Vec<_>> = log
            .older
            .iter()
            .map(|s| s.ix.index.entries().to_vec())
            .collect();
        log.close().unwrap();
        for e in std::fs::read_dir(dir.path()).unwrap() {
            let p = e.unwrap().path();
            if p.extension()
                .is_some_and(|x| x == "index" || x == "timeindex")
            {
                std::fs::remove_file(p).unwrap();
            }
        }
        let (log, report) = Log::open(dir.path(), config()).unwrap();
        assert_eq!(report.rebuilt_indexes, segments);
        let after: Vec<Vec<_>> = log
            .older
            .iter()
            .map(|s| s.ix.index.entries().to_vec())
            .collect();
        assert_eq!(before, after);
    }

    #[test]
    fn orphan_indexes_and_temp_files_are_removed() {
        let dir = tempfile::tempdir().unwrap();
        filled(dir.path(), 3);
        std::fs::write(dir.path().join("00000000000000000999.index"), [0u8; 8]).unwrap();
        std::fs::write(dir.path().join("log-start-offset.tmp"), "x").unwrap();
        std::fs::write(dir.path().join("unrelated.txt"), "keep").unwrap();
        Log::open(dir.path(), config()).unwrap();
        assert!(!dir.path().join("00000000000000000999.index").exists());
        assert!(!dir.path().join("log-start-offset.tmp").exists());
        assert!(dir.path().join("unrelated.txt").exists());
    }

    #[test]
    fn interrupted_compaction_is_rolled_back_or_forward() {
        let dir = tempfile::tempdir().unwrap();
        let (all, _) = filled(dir.path(), 40);
        let seg0 = dir.path().join("00000000000000000000.log");
        // Uncommitted: cleaned log exists, old files moved to .deleted -> restore.
        std::fs::write(files::with_suffix(&seg0, "cleaned"), b"partial").unwrap();
        std::fs::rename(&seg0, files::with_suffix(&seg0, "deleted")).unwrap();
        let (log, _) = Log::open(dir.path(), config()).unwrap();
        let got = read_all(&log, usize::MAX);
        assert!(got == all, "restored log differs");
        drop(log);
        assert!(!files::with_suffix(&seg0, "cleaned").exists());
        // Committed: only .deleted leftovers -> removed, live data untouched.
        let copy = std::fs::read(&seg0).unwrap();
        std::fs::write(files::with_suffix(&seg0, "deleted"), &copy).unwrap();
        std::fs::write(
            files::with_suffix(&dir.path().join("00000000000000000000.index"), "cleaned"),
            b"",
        )
        .unwrap();
        let (log, _) = Log::open(dir.path(), config()).unwrap();
        assert!(!files::with_suffix(&seg0, "deleted").exists());
        assert_eq!(log.log_start_offset(), 0);
    }

    #[test]
    fn kafka_swap_files_replace_the_segments_they_cover() {
        let dir = tempfile::tempdir().unwrap();
        filled(dir.path(), 40);
        let (log, _) = Log::open(dir.path(), config()).unwrap();
        let second = log.older[1].base_offset();
        let third = log.older[2].base_offset();
        log.close().unwrap();
        // A swap holding segment 0's data replaces segment 0 only.
        let seg0 = dir.path().join("00000000000000000000.log");
        let data = std::fs::read(&seg0).unwrap();
        std::fs::write(files::with_suffix(&seg0, "swap"), &data).unwrap();
        std::fs::remove_file(&seg0).unwrap();
        let (log, _) = Log::open(dir.path(), config()).unwrap();
        assert_eq!(log.older[0].base_offset(), 0);
        assert_eq!(log.older[1].base_offset(), second);
        assert_eq!(log.older[2].base_offset(), third);
        assert!(!files::with_suffix(&seg0, "swap").exists());
    }

    /// A log with several segments below a checkpointed recovery point and several above it, left
    /// uncleanly. Returns everything appended, the recovery point and the segment bases.
    fn with_recovery_point(dir: &Path) -> (Vec<u8>, i64, Vec<i64>) {
        let (mut log, _) = Log::open(dir, config()).unwrap();
        for i in 0..30 {
            log.append(&simple_batch(1 + i % 3, i as i64), 0, i as i64)
                .unwrap();
        }
        assert!(log.flush_rolled().unwrap() > 1);
        let rp = log.recovery_point();
        for i in 30..70 {
            log.append(&simple_batch(1 + i % 3, i as i64), 0, i as i64)
                .unwrap();
        }
        let all = read_all(&log, usize::MAX);
        let bases = log.segments().map(|s| s.base_offset()).collect();
        drop(log); // unclean
        (all, rp, bases)
    }

    fn active_base_of(log: &Log) -> i64 {
        log.segments().last().unwrap().base_offset()
    }

    #[test]
    fn unclean_open_validates_every_segment_from_the_recovery_point() {
        let dir = tempfile::tempdir().unwrap();
        let (all, rp, bases) = with_recovery_point(dir.path());
        let above = bases.iter().filter(|&&b| b >= rp).count();
        assert!(above > 2 && above < bases.len(), "{bases:?} rp {rp}");
        let (mut log, report) = Log::open(dir.path(), config()).unwrap();
        // Validating a segment rebuilds its indexes: exactly the segments at or above rp.
        assert_eq!(report.rebuilt_indexes, above, "{report:?}");
        assert_eq!(read_all(&log, usize::MAX), all);
        assert_eq!(log.recovery_point(), rp);
        // Segments validated by recovery count as flushed only once the background flush ran.
        assert!(log.has_unflushed_rolled());
        assert!(log.flush_rolled().unwrap() > 0);
        assert_eq!(log.recovery_point(), active_base_of(&log));
        // A clean close checkpoints the recovery point (at segment granularity: the active segment is
        // validated after every unclean stop anyway); the next clean open validates nothing.
        let active_base = log.segments().last().unwrap().base_offset();
        log.close().unwrap();
        assert_eq!(
            checkpoint::read_recovery_point(dir.path()),
            Some(active_base)
        );
        let (_, report) = Log::open(dir.path(), config()).unwrap();
        assert_eq!(report.rebuilt_indexes, 0);
    }

    #[test]
    fn corruption_above_the_recovery_point_cuts_the_log_there() {
        let dir = tempfile::tempdir().unwrap();
        let (all, rp, bases) = with_recovery_point(dir.path());
        // Damage the last batch of a segment above rp that is not the active one.
        let victim = *bases.iter().find(|&&b| b > rp).unwrap();
        assert_ne!(Some(&victim), bases.last());
        let path = files::segment_path(dir.path(), victim, FileKind::Log);
        let mut raw = std::fs::read(&path).unwrap();
        let n = raw.len();
        raw[n - 1] ^= 0x40;
        std::fs::write(&path, &raw).unwrap();
        let capture = Capture::default();
        let (log, report) = capture.run(|| Log::open(dir.path(), config()).unwrap());
        let (cut_file, _) = report.truncated_at.clone().unwrap();
        assert_eq!(cut_file, path);
        assert!(report
            .truncate_reason
            .as_deref()
            .unwrap()
            .contains("bad CRC"));
        // Every later segment is gone and the log is a prefix of what was appended.
        for later in bases.iter().filter(|&&b| b > victim) {
            assert!(!files::segment_path(dir.path(), *later, FileKind::Log).exists());
        }
        assert_eq!(log.segments().last().unwrap().base_offset(), victim);
        let got = read_all(&log, usize::MAX);
        assert!(got.len() < all.len());
        assert_eq!(&all[..got.len()], &got[..]);
        assert!(capture
            .lines()
            .iter()
            .any(|l| l.contains("deleting log segment")));
        // Appends continue at the new end.
        drop(log);
        let (mut log, _) = Log::open(dir.path(), config()).unwrap();
        let leo = log.log_end_offset();
        assert_eq!(
            log.append(&simple_batch(1, 0), 0, 0).unwrap().base_offset,
            leo
        );
    }

    #[test]
    fn a_lost_segment_file_above_the_recovery_point_cuts_the_log_there() {
        let dir = tempfile::tempdir().unwrap();
        let (all, rp, bases) = with_recovery_point(dir.path());
        let above: Vec<i64> = bases.iter().copied().filter(|&b| b > rp).collect();
        // A power loss took a whole segment file (its directory entry was never fsynced).
        for kind in FileKind::ALL {
            std::fs::remove_file(files::segment_path(dir.path(), above[0], kind)).unwrap();
        }
        let (log, _) = Log::open(dir.path(), config()).unwrap();
        assert_eq!(log.log_end_offset(), above[0]);
        let got = read_all(&log, usize::MAX);
        assert_eq!(&all[..got.len()], &got[..]);
        for b in &above {
            assert!(!files::segment_path(dir.path(), *b, FileKind::Log).exists());
        }
    }

    #[test]
    fn clean_open_reads_no_index_until_a_lookup_needs_it() {
        let dir = tempfile::tempdir().unwrap();
        let (all, _) = filled(dir.path(), 60);
        let (log, _) = Log::open(dir.path(), config()).unwrap();
        log.close().unwrap();
        let (mut log, report) = Log::open(dir.path(), config()).unwrap();
        assert_eq!(report.rebuilt_indexes, 0);
        assert!(log.older.len() > 3);
        let resident = |log: &Log| {
            log.segments()
                .filter(|s| s.ix.index.is_resident() || s.ix.time_index.is_resident())
                .count()
        };
        assert_eq!(resident(&log), 0, "open read index entries");
        // A read in the middle of an old segment reads that segment's offset index only.
        let seg = &log.older[1];
        let target = seg.next_offset() - 1;
        assert!(!log.read(target, 1).unwrap().records.is_empty());
        assert!(log.older[1].ix.index.is_resident());
        assert_eq!(resident(&log), 1);
        // The periodic flush drops it once it went unused for a whole interval.
        log.maybe_flush(0).unwrap();
        assert_eq!(resident(&log), 1, "used since the last pass");
        log.maybe_flush(0).unwrap();
        assert_eq!(resident(&log), 0);
        assert_eq!(read_all(&log, usize::MAX), all);
    }

    #[test]
    fn start_offset_beyond_recovered_end_starts_afresh() {
        let dir = tempfile::tempdir().unwrap();
        let (_, leo) = filled(dir.path(), 5);
        checkpoint::write_log_start_offset(dir.path(), leo + 100).unwrap();
        let (log, report) = Log::open(dir.path(), config()).unwrap();
        assert_eq!(log.log_start_offset(), leo + 100);
        assert_eq!(log.log_end_offset(), leo + 100);
        assert_eq!(report.log_end_offset, leo + 100);
        assert!(matches!(
            log.read(0, 10),
            Err(LogError::OffsetOutOfRange { .. })
        ));
    }
}
