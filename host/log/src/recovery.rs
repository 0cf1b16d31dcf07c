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
    std::fs::create_dir_all(dir).at(dir)?;
    checkpoint::remove_temp_files(dir)?;
    let mut dir_changed = resolve_interrupted_compaction(dir)?;
    let (bases, orphans) = live_segments(dir)?;
    dir_changed |= orphans;
    let clean_leo = checkpoint::read_clean_shutdown(dir);
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
