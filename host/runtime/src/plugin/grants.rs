//! Capability imports and the check of a config's grants against them, before any instance exists.

use super::LoadedPlugin;
use crate::config::{Grants, KEY_HTTP, KEY_LOCAL_ADMIN, KEY_MQTT, KEY_REMOTE};
use crate::error::{Result, RuntimeError};

/// Capability interfaces: import-name prefix and the config key that grants it.
pub(super) const CAPABILITIES: [(&str, &str); 4] = [
    ("weft:plugin/mqtt@", KEY_MQTT),
    ("weft:plugin/remote-cluster@", KEY_REMOTE),
    ("weft:plugin/http@", KEY_HTTP),
    ("weft:plugin/local-admin@", KEY_LOCAL_ADMIN),
];

/// Capability interfaces the host implements (in the runtime's linker).
pub(super) const LINKED_CAPABILITIES: &[&str] = &[
    "weft:plugin/http@",
    "weft:plugin/mqtt@",
    "weft:plugin/remote-cluster@",
    "weft:plugin/local-admin@",
];

/// Whether `import` is a capability the linker cannot provide yet.
pub(super) fn is_unlinked_capability(import: &str) -> bool {
    CAPABILITIES.iter().any(|(p, _)| import.starts_with(p))
        && !LINKED_CAPABILITIES.iter().any(|p| import.starts_with(p))
}

impl LoadedPlugin {
    /// Capability interfaces imported, with the config key granting each.
    pub fn capabilities(&self) -> Vec<(String, &'static str)> {
        self.imports
            .iter()
            .filter_map(|i| {
                CAPABILITIES
                    .iter()
                    .find(|(p, _)| i.starts_with(p))
                    .map(|(_, k)| (i.clone(), *k))
            })
            .collect()
    }

    pub(super) fn check_grants(&self, grants: &Grants) -> Result<()> {
        for import in &self.imports {
            let Some((_, key)) = CAPABILITIES.iter().find(|(p, _)| import.starts_with(p)) else {
                continue;
            };
            let granted = match *key {
                KEY_MQTT => !grants.mqtt_urls.is_empty(),
                KEY_HTTP => grants.http.is_granted(),
                KEY_LOCAL_ADMIN => grants.local_admin.is_some(),
                _ => grants.remote_cluster.is_some(),
            };
            if !granted {
                return Err(RuntimeError::CapabilityNotGranted {
                    plugin: self.id(),
                    interface: import.clone(),
                    config_key: key,
                });
            }
            if LINKED_CAPABILITIES.iter().any(|p| import.starts_with(p)) {
                continue;
            }
            // Every capability above is linked today; one added to CAPABILITIES before its
            // host implementation exists is refused here rather than at link time.
            return Err(RuntimeError::CapabilityUnavailable {
                plugin: self.id(),
                interface: import.clone(),
            });
        }
        Ok(())
    }
}

pub(super) fn is_known_import(name: &str) -> bool {
    name.starts_with("wasi:")
        || name.starts_with("weft:plugin/host@")
        || name.starts_with("weft:plugin/types@")
        || name.starts_with("weft:plugin/task-context@")
        || LINKED_CAPABILITIES.iter().any(|p| name.starts_with(p))
}
