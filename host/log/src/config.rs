//! Per-partition log settings (Kafka topic configs resolved against broker defaults).

use std::fmt;
use std::str::FromStr;

/// Per-partition log settings (topic-level configs resolved against broker defaults).
#[derive(Debug, Clone, PartialEq)]
pub struct LogConfig {
    /// `segment.bytes`: roll the active segment before it grows past this.
    pub segment_bytes: u64,
    /// `segment.ms`: roll the active segment once it spans this much time.
    pub segment_ms: i64,
    /// `index.interval.bytes`: bytes of batches between two sparse index entries.
    pub index_interval_bytes: u32,
    /// `retention.ms`: -1 keeps data forever.
    pub retention_ms: i64,
    /// `retention.bytes`: -1 means unlimited.
    pub retention_bytes: i64,
    /// `cleanup.policy`.
    pub cleanup_policy: CleanupPolicy,
    /// `delete.retention.ms`: how long tombstones survive compaction.
    pub delete_retention_ms: i64,
    /// `min.compaction.lag.ms`: segments with newer data than this are not compacted.
    pub min_compaction_lag_ms: i64,
    /// `max.compaction.lag.ms`: a partition whose oldest uncleaned batch is older than this is
    /// cleaned whatever its dirty ratio.
    pub max_compaction_lag_ms: i64,
    /// `min.cleanable.dirty.ratio`: clean once the uncleaned part exceeds this share of the
    /// cleanable segments.
    pub min_cleanable_dirty_ratio: f64,
    /// `log.cleaner.dedupe.buffer.size` (broker): memory for one pass's key map; a pass whose dirty
    /// part has more keys cleans up to where the map filled.
    pub cleaner_dedupe_buffer_bytes: u64,
    /// `flush.messages`: fsync after this many records; `u64::MAX` leaves it to the page cache.
    pub flush_messages: u64,
    /// `flush.ms`: fsync when data has been unflushed this long; `i64::MAX` never forces it.
    pub flush_ms: i64,
    /// `max.message.bytes`: the largest record batch accepted.
    pub max_message_bytes: u32,
    /// `message.timestamp.type`.
    pub timestamp_type: TimestampType,
    /// `message.timestamp.before.max.ms`: with CreateTime, reject batches with a timestamp more than
    /// this far in the past (INVALID_TIMESTAMP).
    pub message_timestamp_before_max_ms: i64,
    /// `message.timestamp.after.max.ms`: with CreateTime, reject batches with a timestamp more than
    /// this far in the future (INVALID_TIMESTAMP).
    pub message_timestamp_after_max_ms: i64,
}

impl Default for LogConfig {
    fn default() -> Self {
        const DAY_MS: i64 = 24 * 60 * 60 * 1000;
        LogConfig {
            segment_bytes: 1024 * 1024 * 1024,
            segment_ms: 7 * DAY_MS,
            index_interval_bytes: 4096,
            retention_ms: 7 * DAY_MS,
            retention_bytes: -1,
            cleanup_policy: CleanupPolicy::default(),
            delete_retention_ms: DAY_MS,
            min_compaction_lag_ms: 0,
            max_compaction_lag_ms: i64::MAX,
            min_cleanable_dirty_ratio: 0.5,
            cleaner_dedupe_buffer_bytes: 128 * 1024 * 1024,
            flush_messages: u64::MAX,
            flush_ms: i64::MAX,
            max_message_bytes: 1_048_588,
            timestamp_type: TimestampType::CreateTime,
            message_timestamp_before_max_ms: i64::MAX,
            // Kafka 4.0's default; 3.6 to 3.9 accepted any future timestamp.
            message_timestamp_after_max_ms: 60 * 60 * 1000,
        }
    }
}

/// `cleanup.policy`: "delete", "compact" or "compact,delete".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CleanupPolicy {
    pub delete: bool,
    pub compact: bool,
}

impl Default for CleanupPolicy {
    fn default() -> Self {
        CleanupPolicy {
            delete: true,
            compact: false,
        }
    }
}

impl FromStr for CleanupPolicy {
    type Err = String;

    /// Parses Kafka's comma-separated list (`"compact,delete"`, `"delete"`, ...).
    fn from_str(s: &str) -> std::result::Result<Self, Self::Err> {
        let mut policy = CleanupPolicy {
            delete: false,
            compact: false,
        };
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            match part {
                "delete" => policy.delete = true,
                "compact" => policy.compact = true,
                other => return Err(format!("unknown cleanup.policy value {other:?}")),
            }
        }
        if !policy.delete && !policy.compact {
            return Err("cleanup.policy must name delete and/or compact".to_string());
        }
        Ok(policy)
    }
}

impl fmt::Display for CleanupPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.compact, self.delete) {
            (true, true) => f.write_str("compact,delete"),
            (true, false) => f.write_str("compact"),
            _ => f.write_str("delete"),
        }
    }
}

/// `message.timestamp.type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimestampType {
    /// Keep the producer's timestamps.
    CreateTime,
    /// Stamp every batch with the broker's clock on append.
    LogAppendTime,
}

impl FromStr for TimestampType {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<Self, Self::Err> {
        match s.trim() {
            "CreateTime" => Ok(TimestampType::CreateTime),
            "LogAppendTime" => Ok(TimestampType::LogAppendTime),
            other => Err(format!("unknown message.timestamp.type {other:?}")),
        }
    }
}

impl fmt::Display for TimestampType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TimestampType::CreateTime => f.write_str("CreateTime"),
            TimestampType::LogAppendTime => f.write_str("LogAppendTime"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_match_kafka() {
        let c = LogConfig::default();
        assert_eq!(c.segment_bytes, 1 << 30);
        assert_eq!(c.segment_ms, 604_800_000);
        assert_eq!(c.index_interval_bytes, 4096);
        assert_eq!(c.retention_ms, 604_800_000);
        assert_eq!(c.retention_bytes, -1);
        assert_eq!(c.delete_retention_ms, 86_400_000);
        assert_eq!(c.max_message_bytes, 1_048_588);
        assert!(c.cleanup_policy.delete && !c.cleanup_policy.compact);
        assert_eq!(c.timestamp_type, TimestampType::CreateTime);
        assert_eq!(c.max_compaction_lag_ms, i64::MAX);
        assert_eq!(c.min_cleanable_dirty_ratio, 0.5);
        assert_eq!(c.cleaner_dedupe_buffer_bytes, 134_217_728);
        assert_eq!(c.message_timestamp_before_max_ms, i64::MAX);
        assert_eq!(c.message_timestamp_after_max_ms, 3_600_000);
    }

    #[test]
    fn cleanup_policy_parses_and_prints() {
        for s in ["delete", "compact", "compact,delete"] {
            let p: CleanupPolicy = s.parse().unwrap();
            assert_eq!(p.to_string(), s);
        }
        let p: CleanupPolicy = "delete, compact".parse().unwrap();
        assert!(p.delete && p.compact);
        assert!("".parse::<CleanupPolicy>().is_err());
        assert!("shred".parse::<CleanupPolicy>().is_err());
    }

    #[test]
    fn timestamp_type_parses() {
        assert_eq!("LogAppendTime".parse(), Ok(TimestampType::LogAppendTime));
        assert_eq!("CreateTime".parse(), Ok(TimestampType::CreateTime));
        assert!("Now".parse::<TimestampType>().is_err());
    }
}
