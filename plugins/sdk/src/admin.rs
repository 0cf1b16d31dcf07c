//! The `local-admin` capability (`capability.local-admin=true`): administer the cluster the
//! worker writes to, as MirrorMaker does its target cluster: create topics, raise partition
//! counts, alter topic configs, read and commit offsets of groups without active members, and
//! read back the internal topics kept there.
//! Calling any function here makes the plugin import the capability. Natively (plugin unit
//! tests) there is no host: every call fails with a fatal error.

use crate::error::{PluginError, Result};
use crate::{TopicPartition, TopicPartitionOffset};

#[cfg(target_arch = "wasm32")]
use crate::capability::local_admin as wit;

pub use crate::remote::TopicDescription;

/// A topic to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewTopic {
    /// Its name.
    pub name: String,
    /// Its partition count.
    pub partitions: u32,
    /// -1: the cluster's default.
    pub replication_factor: i16,
    /// Topic configs (`cleanup.policy`, `retention.ms`, ...).
    pub config: Vec<(String, String)>,
}

/// Every topic of the local cluster, internal ones included.
pub fn list_topics() -> Result<Vec<String>> {
    #[cfg(target_arch = "wasm32")]
    return wit::list_topics().map_err(PluginError::from);
    #[cfg(not(target_arch = "wasm32"))]
    return Err(no_host());
}

/// Partition counts and configs; a topic that does not exist is missing from the answer.
pub fn describe_topics(topics: &[String]) -> Result<Vec<TopicDescription>> {
    #[cfg(target_arch = "wasm32")]
    return wit::describe_topics(topics).map_err(PluginError::from);
    #[cfg(not(target_arch = "wasm32"))]
    {
        let _ = topics;
        Err(no_host())
    }
}

/// Creates the topics that do not exist yet; one that exists is left as it is.
pub fn create_topics(topics: &[NewTopic]) -> Result<()> {
    #[cfg(target_arch = "wasm32")]
    return wit::create_topics(&wit_topics(topics)).map_err(PluginError::from);
    #[cfg(not(target_arch = "wasm32"))]
    {
        let _ = topics;
        Err(no_host())
    }
}

/// The contract's form of `topics` (shared with `remote::create_topics`).
#[cfg(target_arch = "wasm32")]
pub(crate) fn wit_topics(topics: &[NewTopic]) -> Vec<wit::NewTopic> {
    topics
        .iter()
        .map(|t| wit::NewTopic {
            name: t.name.clone(),
            partitions: t.partitions,
            replication_factor: t.replication_factor,
            config: entries(&t.config),
        })
        .collect()
}

/// Raises `topic`'s partition count to `total` (at or below the current count: nothing).
pub fn create_partitions(topic: &str, total: u32) -> Result<()> {
    #[cfg(target_arch = "wasm32")]
    return wit::create_partitions(topic, total).map_err(PluginError::from);
    #[cfg(not(target_arch = "wasm32"))]
    {
        let _ = (topic, total);
        Err(no_host())
    }
}

/// Sets these configs of `topic`, leaving the others as they are.
pub fn alter_topic_configs(topic: &str, config: &[(String, String)]) -> Result<()> {
    #[cfg(target_arch = "wasm32")]
    return wit::alter_topic_configs(topic, &entries(config)).map_err(PluginError::from);
    #[cfg(not(target_arch = "wasm32"))]
    {
        let _ = (topic, config);
        Err(no_host())
    }
}

/// Committed offsets of a group on the local cluster (none for a group that does not exist).
pub fn group_offsets(group: &str) -> Result<Vec<TopicPartitionOffset>> {
    #[cfg(target_arch = "wasm32")]
    return wit::group_offsets(group).map_err(PluginError::from);
    #[cfg(not(target_arch = "wasm32"))]
    {
        let _ = group;
        Err(no_host())
    }
}

/// Commits offsets for a group without active members; `Ok(false)`, writing nothing, when the
/// group has active members.
pub fn commit_group_offsets(group: &str, offsets: &[TopicPartitionOffset]) -> Result<bool> {
    #[cfg(target_arch = "wasm32")]
    return wit::commit_group_offsets(group, offsets).map_err(PluginError::from);
    #[cfg(not(target_arch = "wasm32"))]
    {
        let _ = (group, offsets);
        Err(no_host())
    }
}

#[cfg(target_arch = "wasm32")]
fn entries(
    config: &[(String, String)],
) -> Vec<crate::__bindings::weft::plugin::types::ConfigEntry> {
    config
        .iter()
        .map(
            |(k, v)| crate::__bindings::weft::plugin::types::ConfigEntry {
                key: k.clone(),
                value: v.clone(),
            },
        )
        .collect()
}

/// Earliest and latest offsets of these partitions of the local cluster.
pub fn list_offsets(
    partitions: &[TopicPartition],
) -> Result<Vec<(TopicPartition, crate::remote::Watermarks)>> {
    #[cfg(target_arch = "wasm32")]
    return wit::list_offsets(partitions)
        .map(crate::remote::watermarks_of)
        .map_err(PluginError::from);
    #[cfg(not(target_arch = "wasm32"))]
    {
        let _ = partitions;
        Err(no_host())
    }
}

/// From now on read exactly these partitions of the local cluster, each from its offset (as
/// [`crate::remote::assign`]; for the internal topics a plugin keeps there).
pub fn assign(positions: &[TopicPartitionOffset]) -> Result<()> {
    #[cfg(target_arch = "wasm32")]
    return wit::assign(positions).map_err(PluginError::from);
    #[cfg(not(target_arch = "wasm32"))]
    {
        let _ = positions;
        Err(no_host())
    }
}

/// Records read from the local cluster since the last call, packed (as [`crate::remote::fetch`]).
pub fn fetch(max_records: u32, timeout_ms: u32) -> Result<Vec<u8>> {
    #[cfg(target_arch = "wasm32")]
    return wit::fetch(max_records, timeout_ms).map_err(PluginError::from);
    #[cfg(not(target_arch = "wasm32"))]
    {
        let _ = (max_records, timeout_ms);
        Err(no_host())
    }
}

#[cfg(not(target_arch = "wasm32"))]
fn no_host() -> PluginError {
    PluginError::fatal("no host to administer the local cluster (native build)")
}
