//! Requests a connector task makes of the worker (Connect's SourceTaskContext and
//! SinkTaskContext), as plain functions. They take effect when the current call returns.
//! Natively (plugin unit tests) there is no worker: requests are dropped and
//! [`stored_positions`] finds nothing.

use crate::{SourcePosition, TopicPartition, TopicPartitionOffset};

#[cfg(target_arch = "wasm32")]
use crate::__bindings::weft::plugin::task_context as ctx;

/// Sink: stop delivering records of these partitions until [`resume`].
pub fn pause(partitions: &[TopicPartition]) {
    #[cfg(target_arch = "wasm32")]
    ctx::pause(partitions);
    #[cfg(not(target_arch = "wasm32"))]
    let _ = partitions;
}

/// Sink: deliver records of these partitions again.
pub fn resume(partitions: &[TopicPartition]) {
    #[cfg(target_arch = "wasm32")]
    ctx::resume(partitions);
    #[cfg(not(target_arch = "wasm32"))]
    let _ = partitions;
}

/// Sink: deliver records again from these offsets (Connect's `context.offset`).
pub fn rewind(offsets: &[TopicPartitionOffset]) {
    #[cfg(target_arch = "wasm32")]
    ctx::rewind(offsets);
    #[cfg(not(target_arch = "wasm32"))]
    let _ = offsets;
}

/// Sink: ask for `pre_commit` soon rather than at the next commit interval.
pub fn request_commit() {
    #[cfg(target_arch = "wasm32")]
    ctx::request_commit();
}

/// Ask the worker to split the connector config into tasks again and restart them (the
/// external system changed).
pub fn request_reconfiguration() {
    #[cfg(target_arch = "wasm32")]
    ctx::request_reconfiguration();
}

/// Source: the last stored positions of these source partitions (Connect's
/// OffsetStorageReader); partitions never stored are missing from the answer.
pub fn stored_positions(partitions: &[String]) -> Vec<SourcePosition> {
    #[cfg(target_arch = "wasm32")]
    return ctx::stored_positions(partitions);
    #[cfg(not(target_arch = "wasm32"))]
    {
        let _ = partitions;
        Vec::new()
    }
}

/// Where a position's record went: the position, and the topic, partition and offset at which
/// the cluster stored the record it is attributed to (the last record before it in its poll).
pub use crate::__bindings::weft::plugin::task_context::WrittenPosition;

/// Source: positions acknowledged since the last call whose record was written (not filtered
/// out or given up), latest per source partition — Connect's `commitRecord(record, metadata)`,
/// coalesced. A mirror derives offset syncs from it. Natively: none.
pub fn written_positions() -> Vec<WrittenPosition> {
    #[cfg(target_arch = "wasm32")]
    return ctx::written_positions();
    #[cfg(not(target_arch = "wasm32"))]
    Vec::new()
}
