//! Conversions between the host's types and the WIT bindings' types.

use std::time::Duration;

use super::data::{RecordFailure, Schemas};
use crate::bindings::types;
use crate::error::RuntimeError;

pub(super) fn wit_entries(entries: &[(String, String)]) -> Vec<types::ConfigEntry> {
    entries
        .iter()
        .map(|(k, v)| types::ConfigEntry {
            key: k.clone(),
            value: v.clone(),
        })
        .collect()
}

pub(super) fn wit_offsets(offsets: &[(String, i32, i64)]) -> Vec<types::TopicPartitionOffset> {
    offsets
        .iter()
        .map(|(t, p, o)| types::TopicPartitionOffset {
            topic: t.clone(),
            partition: *p,
            offset: *o,
        })
        .collect()
}

pub(super) fn wit_positions(positions: &[(String, String)]) -> Vec<types::SourcePosition> {
    positions
        .iter()
        .map(|(p, pos)| types::SourcePosition {
            partition: p.clone(),
            position: pos.clone(),
        })
        .collect()
}

pub(super) fn unwit_configs(configs: Vec<Vec<types::ConfigEntry>>) -> Vec<Vec<(String, String)>> {
    configs
        .into_iter()
        .map(|c| c.into_iter().map(|e| (e.key, e.value)).collect())
        .collect()
}

pub(super) fn plugin_error(plugin: &str, e: types::PluginError) -> RuntimeError {
    RuntimeError::Plugin {
        plugin: plugin.to_string(),
        retriable: matches!(e.kind, types::ErrorKind::Retriable),
        message: e.message,
        retry_after: e
            .retry_after_ms
            .map(|ms| Duration::from_millis(u64::from(ms))),
    }
}

pub(super) fn wit_schemas(s: &Schemas) -> types::Schemas {
    types::Schemas {
        key: s.key.clone(),
        value: s.value.clone(),
    }
}

pub(super) fn unwit_schemas(s: types::Schemas) -> Schemas {
    Schemas {
        key: s.key,
        value: s.value,
    }
}

pub(super) fn wit_partitions(partitions: &[(String, i32)]) -> Vec<types::TopicPartition> {
    partitions
        .iter()
        .map(|(t, p)| types::TopicPartition {
            topic: t.clone(),
            partition: *p,
        })
        .collect()
}

pub(super) fn unwit_offsets(offsets: Vec<types::TopicPartitionOffset>) -> Vec<(String, i32, i64)> {
    offsets
        .into_iter()
        .map(|o| (o.topic, o.partition, o.offset))
        .collect()
}

/// Per-record failures, checked against the `count` records of the input: an index out of
/// range, a duplicate or more failures than records is the plugin's fault.
pub(super) fn unwit_failures(
    plugin: &str,
    failures: Vec<types::RecordFailure>,
    count: usize,
) -> Result<Vec<RecordFailure>, RuntimeError> {
    let bad = |message: String| RuntimeError::BadOutput {
        plugin: plugin.to_string(),
        message,
    };
    if failures.len() > count {
        return Err(bad(format!(
            "{} record failures for {count} records",
            failures.len()
        )));
    }
    let mut seen = vec![false; count];
    failures
        .into_iter()
        .map(|f| {
            let i = f.index as usize;
            match seen.get_mut(i) {
                Some(s) if !*s => *s = true,
                Some(_) => return Err(bad(format!("record {i} reported failed twice"))),
                None => {
                    return Err(bad(format!(
                        "record failure index {i} is out of range for {count} records"
                    )))
                }
            }
            Ok(RecordFailure {
                index: f.index,
                retriable: matches!(f.kind, types::ErrorKind::Retriable),
                message: f.message,
            })
        })
        .collect()
}
