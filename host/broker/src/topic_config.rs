//! Topic-level configuration: the keys a topic may override, their broker defaults, and the
//! resolution of overrides into the [`LogConfig`] the log runs with.

use std::collections::BTreeMap;

use weft_log::{CleanupPolicy, LogConfig, TimestampType};

use crate::config::{ConfigError, KeyType, Reader};

/// A topic key: its name, the broker key that supplies its default, type and documentation.
pub struct TopicKeyDef {
    pub name: &'static str,
    pub broker_key: &'static str,
    pub ty: KeyType,
    pub doc: &'static str,
    /// False for keys accepted for compatibility that change nothing on a single node.
    pub effective: bool,
}

const fn tk(
    name: &'static str,
    broker_key: &'static str,
    ty: KeyType,
    effective: bool,
    doc: &'static str,
) -> TopicKeyDef {
    TopicKeyDef {
        name,
        broker_key,
        ty,
        doc,
        effective,
    }
}

/// Every topic key Weft accepts, in Kafka's names.
pub const TOPIC_KEYS: &[TopicKeyDef] = &[
    tk(
        "cleanup.policy",
        "log.cleanup.policy",
        KeyType::List,
        true,
        "delete, compact, or compact,delete.",
    ),
    tk(
        "compression.type",
        "compression.type",
        KeyType::String,
        true,
        "Only 'producer': batches are stored as the producer compressed them.",
    ),
    tk(
        "delete.retention.ms",
        "log.cleaner.delete.retention.ms",
        KeyType::Long,
        true,
        "How long tombstones survive compaction.",
    ),
    tk(
        "file.delete.delay.ms",
        "log.segment.delete.delay.ms",
        KeyType::Long,
        false,
        "Accepted; segments are deleted at once.",
    ),
    tk(
        "flush.messages",
        "log.flush.interval.messages",
        KeyType::Long,
        true,
        "Records appended before a forced fsync.",
    ),
    tk(
        "flush.ms",
        "log.flush.interval.ms",
        KeyType::Long,
        true,
        "Milliseconds between forced fsyncs.",
    ),
    tk(
        "index.interval.bytes",
        "log.index.interval.bytes",
        KeyType::Int,
        true,
        "Bytes between offset index entries.",
    ),
    tk(
        "max.message.bytes",
        "message.max.bytes",
        KeyType::Int,
        true,
        "Largest record batch accepted.",
    ),
    tk(
        "message.timestamp.type",
        "log.message.timestamp.type",
        KeyType::String,
        true,
        "CreateTime or LogAppendTime.",
    ),
    tk(
        "min.compaction.lag.ms",
        "log.cleaner.min.compaction.lag.ms",
        KeyType::Long,
        true,
        "Minimum age before a record may be compacted.",
    ),
    tk(
        "min.insync.replicas",
        "min.insync.replicas",
        KeyType::Int,
        false,
        "Always satisfied on a single node.",
    ),
    tk(
        "retention.bytes",
        "log.retention.bytes",
        KeyType::Long,
        true,
        "Partition size above which old segments are deleted; -1 unlimited.",
    ),
    tk(
        "retention.ms",
        "log.retention.ms",
        KeyType::Long,
        true,
        "How long data is kept; -1 forever.",
    ),
    tk(
        "segment.bytes",
        "log.segment.bytes",
        KeyType::Int,
        true,
        "Segment size before a new one is rolled.",
    ),
    tk(
        "segment.ms",
        "log.roll.ms",
        KeyType::Long,
        true,
        "Segment age before a new one is rolled.",
    ),
    tk(
        "segment.index.bytes",
        "log.index.size.max.bytes",
        KeyType::Int,
        false,
        "Accepted; indexes grow as needed.",
    ),
    tk(
        "preallocate",
        "log.preallocate",
        KeyType::Boolean,
        false,
        "Accepted; segments are not preallocated.",
    ),
    tk(
        "unclean.leader.election.enable",
        "unclean.leader.election.enable",
        KeyType::Boolean,
        false,
        "Accepted; one node has no elections.",
    ),
    tk(
        "min.cleanable.dirty.ratio",
        "log.cleaner.min.cleanable.ratio",
        KeyType::Double,
        true,
        "Share of a compacted log that must be uncleaned before the cleaner rewrites it.",
    ),
    tk(
        "max.compaction.lag.ms",
        "log.cleaner.max.compaction.lag.ms",
        KeyType::Long,
        true,
        "Longest a record stays uncleaned, whatever the dirty ratio.",
    ),
    tk(
        "message.timestamp.before.max.ms",
        "log.message.timestamp.before.max.ms",
        KeyType::Long,
        true,
        "With CreateTime, how far in the past a timestamp may be (INVALID_TIMESTAMP beyond).",
    ),
    tk(
        "message.timestamp.after.max.ms",
        "log.message.timestamp.after.max.ms",
        KeyType::Long,
        true,
        "With CreateTime, how far in the future a timestamp may be (INVALID_TIMESTAMP beyond).",
    ),
];

/// Broker keys that only supply topic defaults (accepted in the broker config too).
pub fn broker_topic_keys() -> Vec<&'static str> {
    TOPIC_KEYS.iter().map(|k| k.broker_key).collect()
}

/// The broker-level topic defaults, as strings per topic key and resolved into a [`LogConfig`].
#[derive(Debug, Clone)]
pub struct TopicDefaults {
    pub values: BTreeMap<&'static str, String>,
    pub log: LogConfig,
}

impl TopicDefaults {
    /// Reads the `log.*` broker keys (with Kafka's ms > minutes > hours precedence).
    pub fn from_broker(r: &Reader<'_>) -> Result<Self, ConfigError> {
        let retention_ms = match r.opt_long("log.retention.ms")? {
            Some(ms) => ms,
            None => match r.opt_long("log.retention.minutes")? {
                Some(m) => m.saturating_mul(60_000),
                None => r.long("log.retention.hours")?.saturating_mul(3_600_000),
            },
        };
        let roll_ms = match r.opt_long("log.roll.ms")? {
            Some(ms) => ms,
            None => r.long("log.roll.hours")?.saturating_mul(3_600_000),
        };
        let mut values = BTreeMap::new();
        for k in TOPIC_KEYS {
            let v = match k.name {
                "retention.ms" => retention_ms.to_string(),
                "segment.ms" => roll_ms.to_string(),
                _ => match r.opt(k.broker_key) {
                    Some(v) => v.trim().to_string(),
                    None => builtin_default(k.name).to_string(),
                },
            };
            values.insert(k.name, v);
        }
        // The broker-level values are validated like topic values so a bad server.properties stops start-up.
        let mut log = resolve(&values, &BTreeMap::new()).map_err(|(key, reason)| {
            let broker_key = TOPIC_KEYS
                .iter()
                .find(|k| k.name == key)
                .map(|k| k.broker_key)
                .unwrap_or("");
            r.invalid(broker_key, reason)
        })?;
        log.cleaner_dedupe_buffer_bytes = r.positive_u64("log.cleaner.dedupe.buffer.size")?;
        Ok(TopicDefaults { values, log })
    }
}

/// Kafka's default for a topic key when the broker config does not set it.
fn builtin_default(name: &str) -> &'static str {
    match name {
        "cleanup.policy" => "delete",
        "compression.type" => "producer",
        "delete.retention.ms" => "86400000",
        "file.delete.delay.ms" => "60000",
        "flush.messages" => "9223372036854775807",
        "flush.ms" => "9223372036854775807",
        "index.interval.bytes" => "4096",
        "max.message.bytes" => "1048588",
        "message.timestamp.type" => "CreateTime",
        "min.compaction.lag.ms" => "0",
        "min.insync.replicas" => "1",
        "retention.bytes" => "-1",
        "retention.ms" => "604800000",
        "segment.bytes" => "1073741824",
        "segment.ms" => "604800000",
        "segment.index.bytes" => "10485760",
        "preallocate" => "false",
        "unclean.leader.election.enable" => "false",
        "min.cleanable.dirty.ratio" => "0.5",
        "max.compaction.lag.ms" => "9223372036854775807",
        "message.timestamp.before.max.ms" => "9223372036854775807",
        // Kafka 4.0's default; 3.6 to 3.9 accepted any future timestamp.
        "message.timestamp.after.max.ms" => "3600000",
        _ => "",
    }
}

/// Validates topic overrides: every key must be a topic key and every value well-formed.
pub fn validate(
    overrides: &BTreeMap<String, String>,
    defaults: &TopicDefaults,
) -> Result<LogConfig, String> {
    for k in overrides.keys() {
        if !TOPIC_KEYS.iter().any(|d| d.name == k) {
            return Err(format!("unknown topic config '{k}'"));
        }
    }
    let mut log = resolve(&defaults.values, overrides).map_err(|(key, reason)| {
        let value = overrides.get(key).cloned().unwrap_or_default();
        format!("invalid value '{value}' for topic config '{key}': {reason}")
    })?;
    // A broker-wide setting, not a topic key.
    log.cleaner_dedupe_buffer_bytes = defaults.log.cleaner_dedupe_buffer_bytes;
    Ok(log)
}

/// Resolves defaults + overrides into a [`LogConfig`]; errors name the topic key at fault.
fn resolve(
    defaults: &BTreeMap<&'static str, String>,
    overrides: &BTreeMap<String, String>,
) -> Result<LogConfig, (&'static str, String)> {
    let get = |k: &'static str| -> &str {
        overrides
            .get(k)
            .map(String::as_str)
            .or_else(|| defaults.get(k).map(String::as_str))
            .unwrap_or_else(|| builtin_default(k))
            .trim()
    };
    let long = |k: &'static str| -> Result<i64, (&'static str, String)> {
        get(k)
            .parse::<i64>()
            .map_err(|_| (k, "expected an integer".to_string()))
    };
    let positive = |k: &'static str| -> Result<i64, (&'static str, String)> {
        let v = long(k)?;
        if v <= 0 {
            return Err((k, "must be positive".to_string()));
        }
        Ok(v)
    };
    let cleanup_policy = {
        let mut p = CleanupPolicy {
            delete: false,
            compact: false,
        };
        for part in get("cleanup.policy").split(',').map(str::trim) {
            match part {
                "delete" => p.delete = true,
                "compact" => p.compact = true,
                _ => {
                    return Err((
                        "cleanup.policy",
                        format!("'{part}' is not one of delete, compact"),
                    ))
                }
            }
        }
        if !p.delete && !p.compact {
            return Err((
                "cleanup.policy",
                "must name delete, compact, or both".into(),
            ));
        }
        p
    };
    let timestamp_type = match get("message.timestamp.type") {
        "CreateTime" => TimestampType::CreateTime,
        "LogAppendTime" => TimestampType::LogAppendTime,
        other => {
            return Err((
                "message.timestamp.type",
                format!("'{other}' is not CreateTime or LogAppendTime"),
            ))
        }
    };
    match get("compression.type") {
        "producer" => {}
        "uncompressed" | "gzip" | "snappy" | "lz4" | "zstd" => {
            return Err((
                "compression.type",
                "Weft stores batches as the producer compressed them; only 'producer' is supported"
                    .into(),
            ))
        }
        other => {
            return Err((
                "compression.type",
                format!("'{other}' is not a compression type"),
            ))
        }
    }
    let max_message_bytes = u32::try_from(positive("max.message.bytes")?)
        .map_err(|_| ("max.message.bytes", "out of range".to_string()))?;
    let segment_bytes = positive("segment.bytes")?;
    if segment_bytes < 14 {
        return Err(("segment.bytes", "must be at least 14 bytes".into()));
    }
    let index_interval = u32::try_from(long("index.interval.bytes")?.max(0))
        .map_err(|_| ("index.interval.bytes", "out of range".to_string()))?;
    let retention_ms = long("retention.ms")?;
    if retention_ms < -1 {
        return Err(("retention.ms", "must be -1 or at least 0".into()));
    }
    let flush_messages = long("flush.messages")?;
    if flush_messages < 1 {
        return Err(("flush.messages", "must be at least 1".into()));
    }
    let dirty_ratio = get("min.cleanable.dirty.ratio")
        .parse::<f64>()
        .ok()
        .filter(|r| (0.0..=1.0).contains(r))
        .ok_or((
            "min.cleanable.dirty.ratio",
            "expected a number from 0 to 1".to_string(),
        ))?;
    let non_negative = |k: &'static str| -> Result<i64, (&'static str, String)> {
        let v = long(k)?;
        if v < 0 {
            return Err((k, "must be at least 0".to_string()));
        }
        Ok(v)
    };
    for k in TOPIC_KEYS.iter().filter(|k| !k.effective) {
        let v = get(k.name);
        let ok = match k.ty {
            KeyType::Boolean => v == "true" || v == "false",
            KeyType::Double => v.parse::<f64>().is_ok(),
            _ => v.parse::<i64>().is_ok(),
        };
        if !ok {
            return Err((k.name, "malformed value".into()));
        }
    }
    Ok(LogConfig {
        segment_bytes: segment_bytes as u64,
        segment_ms: positive("segment.ms")?,
        index_interval_bytes: index_interval,
        retention_ms,
        retention_bytes: long("retention.bytes")?,
        cleanup_policy,
        delete_retention_ms: long("delete.retention.ms")?.max(0),
        min_compaction_lag_ms: long("min.compaction.lag.ms")?.max(0),
        flush_messages: flush_messages as u64,
        flush_ms: positive("flush.ms")?,
        max_message_bytes,
        timestamp_type,
        max_compaction_lag_ms: positive("max.compaction.lag.ms")?,
        min_cleanable_dirty_ratio: dirty_ratio,
        cleaner_dedupe_buffer_bytes: LogConfig::default().cleaner_dedupe_buffer_bytes,
        message_timestamp_before_max_ms: non_negative("message.timestamp.before.max.ms")?,
        message_timestamp_after_max_ms: non_negative("message.timestamp.after.max.ms")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::BrokerConfig;

    #[test]
    fn overrides_resolve_and_bad_values_are_named() {
        let d = BrokerConfig::defaults().unwrap().topic_defaults;
        let mut o = BTreeMap::new();
        o.insert("cleanup.policy".to_string(), "compact".to_string());
        o.insert("retention.ms".to_string(), "1000".to_string());
        let c = validate(&o, &d).unwrap();
        assert!(c.cleanup_policy.compact && !c.cleanup_policy.delete);
        assert_eq!(c.retention_ms, 1000);
        o.insert("segment.bytes".to_string(), "abc".to_string());
        assert!(validate(&o, &d).unwrap_err().contains("segment.bytes"));
        let mut o = BTreeMap::new();
        o.insert("bogus".to_string(), "1".to_string());
        assert!(validate(&o, &d).unwrap_err().contains("bogus"));
    }

    #[test]
    fn cleaner_and_timestamp_keys_reach_the_log_config() {
        let d = BrokerConfig::defaults().unwrap().topic_defaults;
        assert_eq!(d.log.message_timestamp_after_max_ms, 3_600_000);
        assert_eq!(d.log.message_timestamp_before_max_ms, i64::MAX);
        assert_eq!(d.log.min_cleanable_dirty_ratio, 0.5);
        assert_eq!(d.log.cleaner_dedupe_buffer_bytes, 128 << 20);
        let mut o = BTreeMap::new();
        o.insert("min.cleanable.dirty.ratio".to_string(), "0.1".to_string());
        o.insert("max.compaction.lag.ms".to_string(), "5000".to_string());
        o.insert(
            "message.timestamp.before.max.ms".to_string(),
            "10".to_string(),
        );
        o.insert(
            "message.timestamp.after.max.ms".to_string(),
            "20".to_string(),
        );
        let c = validate(&o, &d).unwrap();
        assert_eq!(c.min_cleanable_dirty_ratio, 0.1);
        assert_eq!(c.max_compaction_lag_ms, 5000);
        assert_eq!(c.message_timestamp_before_max_ms, 10);
        assert_eq!(c.message_timestamp_after_max_ms, 20);
        o.insert("min.cleanable.dirty.ratio".to_string(), "1.5".to_string());
        assert!(validate(&o, &d)
            .unwrap_err()
            .contains("min.cleanable.dirty.ratio"));
        o.remove("min.cleanable.dirty.ratio");
        o.insert(
            "message.timestamp.after.max.ms".to_string(),
            "-1".to_string(),
        );
        assert!(validate(&o, &d).unwrap_err().contains("after.max.ms"));
    }
}
