//! Conversions between the host's types and the WIT bindings' types.

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
    }
}
