//! Deleting old data: time/size retention of whole segments and DeleteRecords with a persisted log
//! start offset.

use crate::checkpoint;
use crate::error::{LogError, Result};
use crate::log::Log;

/// What `enforce_retention` removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RetentionReport {
    pub deleted_segments: usize,
    pub deleted_bytes: u64,
    pub log_start_offset: i64,
}

impl Log {
    /// Deletes the oldest inactive segment and moves the log start offset to the next one.
    fn delete_oldest_segment(&mut self, report: &mut RetentionReport, why: &str) -> Result<()> {
        if self.older.is_empty() {
            return Ok(());
        }
        let seg = self.older.remove(0);
        let next_base = self
            .older
            .first()
            .map_or(self.active.base_offset(), |s| s.base_offset());
        self.log_start_offset = self.log_start_offset.max(next_base);
        report.deleted_segments += 1;
        report.deleted_bytes += seg.size;
        tracing::info!(
            file = %seg.log_path.display(),
            bytes = seg.size,
            reason = why,
            log_start_offset = self.log_start_offset,
            "deleting log segment"
        );
        self.dir_dirty = true;
        seg.delete_files()?;
        self.txn_indexes.remove_below(next_base)
    }

    /// Segments whose every offset is below the log start offset serve no reader.
    fn delete_segments_below_start(&mut self, report: &mut RetentionReport) -> Result<()> {
        loop {
            let next_base = match self.older.get(1) {
                Some(s) => s.base_offset(),
                None if !self.older.is_empty() => self.active.base_offset(),
                None => return Ok(()),
            };
            if next_base > self.log_start_offset {
                return Ok(());
            }
            self.delete_oldest_segment(report, "below the log start offset")?;
        }
    }

    /// Retention: delete whole non-active segments older than retention_ms (by their largest
    /// timestamp) or beyond retention_bytes, oldest first. Only when cleanup_policy.delete.
    /// A storage error takes the log offline, as in append.
    pub fn enforce_retention(&mut self, now_ms: i64) -> Result<RetentionReport> {
        self.check_online()?;
        let result = self.enforce_retention_online(now_ms);
        self.storage(result)
    }

    fn enforce_retention_online(&mut self, now_ms: i64) -> Result<RetentionReport> {
        let mut report = RetentionReport {
            log_start_offset: self.log_start_offset,
            ..RetentionReport::default()
        };
        if !self.config.cleanup_policy.delete {
            return Ok(report);
        }
        if self.config.retention_ms >= 0 {
            while let Some(oldest) = self.older.first() {
                let age = now_ms.saturating_sub(oldest.largest_timestamp()?);
                if age <= self.config.retention_ms {
                    break;
                }
                self.delete_oldest_segment(&mut report, "retention.ms")?;
            }
        }
        if self.config.retention_bytes >= 0 {
            let mut excess =
                i128::from(self.size_bytes()) - i128::from(self.config.retention_bytes);
            while let Some(oldest) = self.older.first() {
                let size = i128::from(oldest.size);
                if excess - size < 0 {
                    break;
                }
                excess -= size;
                self.delete_oldest_segment(&mut report, "retention.bytes")?;
            }
        }
        self.delete_segments_below_start(&mut report)?;
        report.log_start_offset = self.log_start_offset;
        Ok(report)
    }

    /// DeleteRecords: advance log_start_offset to `offset` (<= log_end_offset), deleting whole segments
    /// below it. The new start offset is checkpointed before any file goes, so it survives a restart.
    /// A storage error takes the log offline, as in append.
    pub fn delete_records_before(&mut self, offset: i64) -> Result<i64> {
        self.check_online()?;
        let result = self.delete_records_before_online(offset);
        self.storage(result)
    }

    fn delete_records_before_online(&mut self, offset: i64) -> Result<i64> {
        let end = self.log_end_offset();
        if offset < 0 || offset > end {
            return Err(LogError::OffsetOutOfRange {
                requested: offset,
                start: self.log_start_offset,
                end,
            });
        }
        if offset <= self.log_start_offset {
            return Ok(self.log_start_offset);
        }
        checkpoint::write_log_start_offset(&self.dir, offset)?;
        self.log_start_offset = offset;
        let mut report = RetentionReport::default();
        self.delete_segments_below_start(&mut report)?;
        Ok(self.log_start_offset)
    }
}

#[cfg(test)]
mod tests {
    use crate::testutil::simple_batch;
    use crate::{CleanupPolicy, Log, LogConfig, LogError};

    fn config() -> LogConfig {
        LogConfig {
            segment_bytes: 500,
            ..LogConfig::default()
        }
    }

    /// 10 segments-ish; batch i has timestamp 1000 * i.
    fn build(dir: &std::path::Path, config: LogConfig) -> Log {
        let (mut log, _) = Log::open(dir, config).unwrap();
        for i in 0..30 {
            log.append(&simple_batch(2, 1000 * i), 0, 1000 * i).unwrap();
        }
        log
    }

    #[test]
    fn retention_by_time_uses_largest_timestamp() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = build(
            dir.path(),
            LogConfig {
                retention_ms: 10_000,
                ..config()
            },
        );
        let segments = log.segment_count();
        let first_max = log.older[0].ix.max_timestamp;
        let r = log.enforce_retention(first_max + 10_000).unwrap();
        assert_eq!(r.deleted_segments, 0, "exactly retention.ms old is kept");
        let r = log.enforce_retention(first_max + 10_001).unwrap();
        assert_eq!(r.deleted_segments, 1);
        assert_eq!(log.segment_count(), segments - 1);
        assert_eq!(r.log_start_offset, log.older[0].base_offset());
        assert_eq!(log.log_start_offset(), r.log_start_offset);
        assert!(!dir.path().join("00000000000000000000.log").exists());
        assert!(!dir.path().join("00000000000000000000.index").exists());
        // Far future: everything but the active segment goes.
        let r = log.enforce_retention(i64::MAX).unwrap();
        assert_eq!(log.segment_count(), 1);
        assert!(r.deleted_bytes > 0);
        assert_eq!(log.log_start_offset(), log.active.base_offset());
        assert!(matches!(
            log.read(0, 10),
            Err(LogError::OffsetOutOfRange { .. })
        ));
        log.read(log.log_start_offset(), 10).unwrap();
    }

    #[test]
    fn retention_by_size_keeps_at_most_retention_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = build(
            dir.path(),
            LogConfig {
                retention_ms: -1,
                retention_bytes: 1200,
                ..config()
            },
        );
        let before = log.size_bytes();
        let r = log.enforce_retention(i64::MAX).unwrap();
        assert!(r.deleted_segments > 0);
        assert_eq!(log.size_bytes(), before - r.deleted_bytes);
        // Kafka's rule: a segment goes only if the log stays at or above retention.bytes without it.
        assert!(log.size_bytes() >= 1200);
        let excess = log.size_bytes() - 1200;
        assert!(log.older.is_empty() || excess < log.older[0].size);
    }

    #[test]
    fn retention_needs_the_delete_policy() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = build(
            dir.path(),
            LogConfig {
                retention_ms: 0,
                cleanup_policy: CleanupPolicy {
                    delete: false,
                    compact: true,
                },
                ..config()
            },
        );
        let n = log.segment_count();
        assert_eq!(log.enforce_retention(i64::MAX).unwrap().deleted_segments, 0);
        assert_eq!(log.segment_count(), n);
    }

    #[test]
    fn delete_records_is_persisted_across_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = build(dir.path(), config());
        let leo = log.log_end_offset();
        let second_base = log.older[1].base_offset();
        assert!(matches!(
            log.delete_records_before(leo + 1),
            Err(LogError::OffsetOutOfRange { .. })
        ));
        assert_eq!(
            log.delete_records_before(second_base + 1).unwrap(),
            second_base + 1
        );
        assert_eq!(
            log.older[0].base_offset(),
            second_base,
            "first segment deleted"
        );
        assert_eq!(
            log.delete_records_before(3).unwrap(),
            second_base + 1,
            "never moves back"
        );
        assert!(matches!(
            log.read(second_base, 10),
            Err(LogError::OffsetOutOfRange { .. })
        ));
        log.read(second_base + 1, 10).unwrap();
        drop(log);
        let (log, _) = Log::open(dir.path(), config()).unwrap();
        assert_eq!(log.log_start_offset(), second_base + 1);
        log.close().unwrap();
        let (mut log, _) = Log::open(dir.path(), config()).unwrap();
        assert_eq!(log.log_start_offset(), second_base + 1);
        assert_eq!(log.delete_records_before(leo).unwrap(), leo);
        assert_eq!(log.segment_count(), 1);
        assert!(log.read(leo, 10).unwrap().records.is_empty());
        log.append(&simple_batch(1, 0), 0, 0).unwrap();
        assert_eq!(log.log_end_offset(), leo + 1);
    }
}
