//! A plugin's config as the host sees it: sandbox settings and capability grants (keys under
//! `plugin.` and `capability.`), and the rest, which is passed to the plugin.

use std::path::PathBuf;
use std::time::Duration;

use crate::error::{Result, RuntimeError};

/// Default memory cap per instance: all its linear memories together.
pub const DEFAULT_MEMORY_BYTES: usize = 64 << 20;
/// Default limit on core instances per plugin instance. A Rust component has about five; other
/// toolchains (an interpreter plus its libraries) need a few dozen.
pub const DEFAULT_INSTANCES: usize = 64;
/// Default limit on linear memories per plugin instance (most components have one).
pub const DEFAULT_MEMORIES: usize = 4;
/// Default limit on tables per plugin instance.
pub const DEFAULT_TABLES: usize = 64;
/// Default limit on the elements of one table (function references).
pub const DEFAULT_TABLE_ELEMENTS: usize = 100_000;
/// Default wall-clock deadline per call.
pub const DEFAULT_CALL_TIMEOUT: Duration = Duration::from_secs(5);

/// Config key: memory cap per instance (the sum of all its linear memories), in bytes.
pub const KEY_MEMORY: &str = "plugin.memory.max.bytes";
/// Config key: core instances per instance.
pub const KEY_INSTANCES: &str = "plugin.instances.max";
/// Config key: linear memories per instance.
pub const KEY_MEMORIES: &str = "plugin.memories.max";
/// Config key: tables per instance.
pub const KEY_TABLES: &str = "plugin.tables.max";
/// Config key: elements per table.
pub const KEY_TABLE_ELEMENTS: &str = "plugin.table.elements.max";
/// Config key: deadline per call, in milliseconds.
pub const KEY_TIMEOUT: &str = "plugin.call.timeout.ms";
/// Config key: fuel per call (only when the runtime was built with fuel metering).
pub const KEY_FUEL: &str = "plugin.fuel";
/// Config key: grant real wall and monotonic clocks (otherwise they read zero).
pub const KEY_CLOCK: &str = "capability.clock";
/// Config key: grant a host directory, preopened as `/`.
pub const KEY_FS_DIR: &str = "capability.filesystem.dir";
/// Config key: grant MQTT access to these broker URLs.
pub const KEY_MQTT: &str = "capability.mqtt.urls";
/// Config key: a PEM file of CA certificates the host trusts for `mqtts://` brokers (read by
/// the host: plugins have no filesystem).
pub const KEY_MQTT_CA: &str = "capability.mqtt.tls.ca.location";
/// Config key: grant HTTP requests to URLs under these prefixes.
pub use crate::http::KEY_HTTP;
/// Config keys of the `remote-cluster` and `local-admin` capabilities.
pub use crate::kafka::{
    KEY_LOCAL_ADMIN, KEY_LOCAL_BOOTSTRAP, KEY_LOCAL_CLIENT, KEY_REMOTE, KEY_REMOTE_CLIENT,
    KEY_REMOTE_FETCHERS, KEY_REMOTE_PRODUCE,
};

/// Limits applied to every instance of a plugin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sandbox {
    /// Cap in bytes on all linear memories of an instance together (also the most data one
    /// call from the plugin into the host may carry).
    pub memory_bytes: usize,
    /// Most core instances.
    pub instances: usize,
    /// Most linear memories.
    pub memories: usize,
    /// Most tables.
    pub tables: usize,
    /// Most elements in one table.
    pub table_elements: usize,
    /// Wall-clock deadline per call.
    pub call_timeout: Duration,
    /// Fuel per call, when fuel metering is on.
    pub fuel: Option<u64>,
}

impl Default for Sandbox {
    fn default() -> Self {
        Sandbox {
            memory_bytes: DEFAULT_MEMORY_BYTES,
            instances: DEFAULT_INSTANCES,
            memories: DEFAULT_MEMORIES,
            tables: DEFAULT_TABLES,
            table_elements: DEFAULT_TABLE_ELEMENTS,
            call_timeout: DEFAULT_CALL_TIMEOUT,
            fuel: None,
        }
    }
}

/// Capabilities granted to a plugin.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Grants {
    /// Real clocks instead of frozen ones.
    pub clock: bool,
    /// A host directory preopened as `/`.
    pub filesystem_dir: Option<PathBuf>,
    /// MQTT broker URLs.
    pub mqtt_urls: Vec<String>,
    /// CA certificates (a PEM file) for MQTT over TLS.
    pub mqtt_ca_file: Option<PathBuf>,
    /// The remote Kafka cluster (`capability.remote-cluster.*`).
    pub remote_cluster: Option<crate::kafka::RemoteGrant>,
    /// The local Kafka cluster to administer (`capability.local-admin`).
    pub local_admin: Option<crate::kafka::KafkaCluster>,
    /// HTTP URL prefixes and request settings (`capability.http.*`).
    pub http: crate::http::HttpGrant,
}

/// Key/value config for one plugin instance.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PluginConfig {
    entries: Vec<(String, String)>,
}

impl PluginConfig {
    /// A config from pairs; for a repeated key the last one wins.
    pub fn new<K: Into<String>, V: Into<String>>(pairs: impl IntoIterator<Item = (K, V)>) -> Self {
        PluginConfig {
            entries: pairs
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        }
    }

    /// Parses `key=value` strings, as given to `--plugin-config`.
    pub fn parse_pairs<S: AsRef<str>>(items: &[S]) -> Result<Self> {
        let mut entries = Vec::new();
        for item in items {
            let item = item.as_ref();
            let (k, v) = item.split_once('=').ok_or_else(|| RuntimeError::Config {
                key: item.to_string(),
                message: "expected key=value".into(),
            })?;
            entries.push((k.trim().to_string(), v.to_string()));
        }
        Ok(PluginConfig { entries })
    }

    /// Adds or replaces a key.
    pub fn set(&mut self, key: impl Into<String>, value: impl Into<String>) {
        self.entries.push((key.into(), value.into()));
    }

    /// The value of `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.entries
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// The config one plugin of a pipeline sees: unscoped keys, plus keys prefixed with
    /// `<name>.` (with the prefix removed), which override unscoped ones.
    pub fn scoped(&self, name: &str, known_names: &[&str]) -> PluginConfig {
        let prefix = format!("{name}.");
        let mut entries = Vec::new();
        for (k, v) in &self.entries {
            let other_scope = known_names
                .iter()
                .any(|n| *n != name && k.starts_with(&format!("{n}.")));
            if let Some(rest) = k.strip_prefix(&prefix) {
                entries.push((rest.to_string(), v.clone()));
            } else if !other_scope {
                entries.push((k.clone(), v.clone()));
            }
        }
        // Scoped keys must win over unscoped ones whatever their order on the command line.
        entries.sort_by_key(|(k, _)| {
            self.entries
                .iter()
                .any(|(full, _)| *full == format!("{prefix}{k}"))
        });
        PluginConfig { entries }
    }

    /// The keys starting with `prefix`, without it (for a repeated key the last one wins).
    pub fn with_prefix(&self, prefix: &str) -> std::collections::BTreeMap<String, String> {
        self.entries
            .iter()
            .filter_map(|(k, v)| {
                k.strip_prefix(prefix)
                    .filter(|rest| !rest.is_empty())
                    .map(|rest| (rest.to_string(), v.clone()))
            })
            .collect()
    }

    /// Sandbox limits from the `plugin.*` keys.
    pub fn sandbox(&self) -> Result<Sandbox> {
        let mut s = Sandbox::default();
        let size = |key: &str| -> Result<Option<usize>> {
            self.get(key)
                .map(|v| {
                    usize::try_from(parse_num(key, v)?).map_err(|_| RuntimeError::Config {
                        key: key.into(),
                        message: format!("`{v}` is too large"),
                    })
                })
                .transpose()
        };
        if let Some(v) = size(KEY_MEMORY)? {
            s.memory_bytes = v;
        }
        if let Some(v) = size(KEY_INSTANCES)? {
            s.instances = v;
        }
        if let Some(v) = size(KEY_MEMORIES)? {
            s.memories = v;
        }
        if let Some(v) = size(KEY_TABLES)? {
            s.tables = v;
        }
        if let Some(v) = size(KEY_TABLE_ELEMENTS)? {
            s.table_elements = v;
        }
        if let Some(v) = self.get(KEY_TIMEOUT) {
            s.call_timeout = Duration::from_millis(parse_num(KEY_TIMEOUT, v)?);
        }
        if let Some(v) = self.get(KEY_FUEL) {
            s.fuel = Some(parse_num(KEY_FUEL, v)?);
        }
        Ok(s)
    }

    /// Capability grants from the `capability.*` keys.
    pub fn grants(&self) -> Result<Grants> {
        let clock = match self.get(KEY_CLOCK).map(str::trim) {
            None | Some("false") => false,
            Some("true") => true,
            Some(other) => {
                return Err(RuntimeError::Config {
                    key: KEY_CLOCK.into(),
                    message: format!("`{other}` is not true or false"),
                })
            }
        };
        let list = |k: &str| -> Vec<String> {
            self.get(k)
                .map(|v| {
                    v.split(',')
                        .map(str::trim)
                        .filter(|s| !s.is_empty())
                        .map(str::to_string)
                        .collect()
                })
                .unwrap_or_default()
        };
        Ok(Grants {
            clock,
            filesystem_dir: self.get(KEY_FS_DIR).map(PathBuf::from),
            mqtt_urls: list(KEY_MQTT),
            mqtt_ca_file: self
                .get(KEY_MQTT_CA)
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(PathBuf::from),
            remote_cluster: crate::kafka::remote_from_config(self)?,
            local_admin: crate::kafka::local_from_config(self)?,
            http: crate::http::HttpGrant::from_config(self)?,
        })
    }

    /// The entries passed to the plugin: everything but the host's `plugin.*`/`capability.*` keys.
    pub fn plugin_entries(&self) -> Vec<(String, String)> {
        self.entries
            .iter()
            .filter(|(k, _)| !k.starts_with("plugin.") && !k.starts_with("capability."))
            .cloned()
            .collect()
    }
}

fn parse_num(key: &str, v: &str) -> Result<u64> {
    v.trim().parse().map_err(|_| RuntimeError::Config {
        key: key.into(),
        message: format!("`{v}` is not a non-negative integer"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_host_keys_from_plugin_keys_and_scopes_by_name() {
        let c = PluginConfig::parse_pairs(&[
            "field=a",
            "mask-field.field=b",
            "insert-field.static.field=s",
            "plugin.memory.max.bytes=1048576",
            "capability.clock=true",
        ])
        .unwrap();
        assert_eq!(c.sandbox().unwrap().memory_bytes, 1 << 20);
        assert!(c.grants().unwrap().clock);
        let names = ["mask-field", "insert-field"];
        let m = c.scoped("mask-field", &names);
        assert_eq!(m.get("field"), Some("b"));
        assert_eq!(m.get("static.field"), None);
        let i = c.scoped("insert-field", &names);
        assert_eq!(i.get("field"), Some("a"));
        assert_eq!(i.get("static.field"), Some("s"));
        assert!(i
            .plugin_entries()
            .iter()
            .all(|(k, _)| !k.starts_with("plugin.")));
        assert!(PluginConfig::parse_pairs(&["novalue"]).is_err());
        assert!(PluginConfig::parse_pairs(&["plugin.call.timeout.ms=x"])
            .unwrap()
            .sandbox()
            .is_err());
    }
}
