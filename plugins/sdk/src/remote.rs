//! The `remote-cluster` capability: read (and, for the granted topics, write) the Kafka cluster
//! named by `capability.remote-cluster.bootstrap.servers`, as a mirror needs it: list topics,
//! groups and offsets, consume assigned partitions with many fetches in flight, create and
//! write the offset-syncs topic. Calling any function here makes the plugin import the capability, and the host then
//! refuses to instantiate it unless the config grants it. Waits on the network do not count
//! against the plugin's call deadline. Natively (plugin unit tests) there is no host: every call
//! fails with a fatal error.

use crate::error::{PluginError, Result};
use crate::{RecordFailure, TopicPartition, TopicPartitionOffset};

#[cfg(target_arch = "wasm32")]
use crate::capability::remote_cluster as wit;

/// A topic's partition count and configs (every config with a value, defaults included).
pub use crate::__bindings::weft::plugin::types::TopicDescription;

/// A partition's earliest offset and high watermark.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Watermarks {
    /// Earliest offset still in the log.
    pub earliest: i64,
    /// Offset the next record will get (the high watermark).
    pub latest: i64,
}

/// Every topic of the remote cluster, internal ones included.
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

/// Earliest and latest offsets of these partitions, each with its partition.
pub fn list_offsets(partitions: &[TopicPartition]) -> Result<Vec<(TopicPartition, Watermarks)>> {
    #[cfg(target_arch = "wasm32")]
    return wit::list_offsets(partitions)
        .map(watermarks_of)
        .map_err(PluginError::from);
    #[cfg(not(target_arch = "wasm32"))]
    {
        let _ = partitions;
        Err(no_host())
    }
}

/// The contract's watermarks as the SDK gives them (shared with `admin::list_offsets`).
#[cfg(target_arch = "wasm32")]
pub(crate) fn watermarks_of(
    list: Vec<crate::__bindings::weft::plugin::types::Watermarks>,
) -> Vec<(TopicPartition, Watermarks)> {
    list.into_iter()
        .map(|w| {
            (
                TopicPartition {
                    topic: w.topic,
                    partition: w.partition,
                },
                Watermarks {
                    earliest: w.earliest,
                    latest: w.latest,
                },
            )
        })
        .collect()
}

/// Every consumer group's id.
pub fn list_groups() -> Result<Vec<String>> {
    #[cfg(target_arch = "wasm32")]
    return wit::list_groups().map_err(PluginError::from);
    #[cfg(not(target_arch = "wasm32"))]
    return Err(no_host());
}

/// Committed offsets of a consumer group (every partition it has an offset for).
pub fn group_offsets(group: &str) -> Result<Vec<TopicPartitionOffset>> {
    #[cfg(target_arch = "wasm32")]
    return wit::group_offsets(group).map_err(PluginError::from);
    #[cfg(not(target_arch = "wasm32"))]
    {
        let _ = group;
        Err(no_host())
    }
}

/// From now on read exactly these partitions, each from its offset (replaces the previous
/// assignment; a partition already assigned at the same offset keeps its fetch state).
pub fn assign(positions: &[TopicPartitionOffset]) -> Result<()> {
    #[cfg(target_arch = "wasm32")]
    return wit::assign(positions).map_err(PluginError::from);
    #[cfg(not(target_arch = "wasm32"))]
    {
        let _ = positions;
        Err(no_host())
    }
}

/// Records read since the last call as a packed batch (read it with
/// [`weft_batch::BatchReader`]), in offset order per partition, waiting at most `timeout_ms`
/// for the first; each record carries its topic, partition, offset, timestamp, key, value and
/// headers as stored.
pub fn fetch(max_records: u32, timeout_ms: u32) -> Result<Vec<u8>> {
    #[cfg(target_arch = "wasm32")]
    return wit::fetch(max_records, timeout_ms).map_err(PluginError::from);
    #[cfg(not(target_arch = "wasm32"))]
    {
        let _ = (max_records, timeout_ms);
        Err(no_host())
    }
}

/// Batch passthrough: the record batches read since the last call as stored on the cluster,
/// each a Kafka batch entry of the packed batch ([`weft_batch::RecordView::kafka_batch`]; its
/// offset is the batch's first, and its offsets are consecutive), about `max_records` records in
/// all. A worker appends such entries to the target unchanged. Use either this or [`fetch`].
pub fn fetch_batches(max_records: u32, timeout_ms: u32) -> Result<Vec<u8>> {
    #[cfg(target_arch = "wasm32")]
    return wit::fetch_batches(max_records, timeout_ms).map_err(PluginError::from);
    #[cfg(not(target_arch = "wasm32"))]
    {
        let _ = (max_records, timeout_ms);
        Err(no_host())
    }
}

/// Writes a packed batch of records (topic, partition, key, value, headers, timestamp) and
/// returns once the cluster acknowledged them, with the ones it refused. Only topics matching
/// `capability.remote-cluster.produce.topics` may be written (a fatal error otherwise).
pub fn produce(batch: &[u8]) -> Result<Vec<RecordFailure>> {
    #[cfg(target_arch = "wasm32")]
    return wit::produce(batch)
        .map(|fails| {
            fails
                .into_iter()
                .map(|f| RecordFailure {
                    index: f.index,
                    error: PluginError {
                        kind: match f.kind {
                            crate::__bindings::weft::plugin::types::ErrorKind::Retriable => {
                                crate::ErrorKind::Retriable
                            }
                            crate::__bindings::weft::plugin::types::ErrorKind::Fatal => {
                                crate::ErrorKind::Fatal
                            }
                        },
                        message: f.message,
                        retry_after_ms: None,
                    },
                })
                .collect()
        })
        .map_err(PluginError::from);
    #[cfg(not(target_arch = "wasm32"))]
    {
        let _ = batch;
        Err(no_host())
    }
}

/// Creates topics on the remote cluster; one that exists already is left as it is. Only topics
/// the plugin may write (`capability.remote-cluster.produce.topics`) may be created.
pub fn create_topics(topics: &[crate::admin::NewTopic]) -> Result<()> {
    #[cfg(target_arch = "wasm32")]
    return wit::create_topics(&crate::admin::wit_topics(topics)).map_err(PluginError::from);
    #[cfg(not(target_arch = "wasm32"))]
    {
        let _ = topics;
        Err(no_host())
    }
}

#[cfg(not(target_arch = "wasm32"))]
fn no_host() -> PluginError {
    PluginError::fatal("no host to reach the remote cluster (native build)")
}
