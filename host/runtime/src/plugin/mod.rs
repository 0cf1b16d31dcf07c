//! Plugins: a compiled component ([`LoadedPlugin`]) and sandboxed, self-healing instances of it
//! ([`Instance`]), split by job:
//!
//! - [`kind`] — what a plugin is: kind, source, metadata (plain data).
//! - `inspect` — reading a component: its exports give the kind, `describe` the metadata.
//! - `grants` — capability imports and the check of a config's grants against them.
//! - `world` — the per-kind `InstancePre` and typed exports.
//! - `store` — a store with the sandbox applied (limits, deadline, fuel) and failure classification.
//! - `instance` — the instance lifecycle: create, configure (or reopen), call, drop on failure.
//! - `calls` — the data calls of partitioners, serializers, interceptors, transforms and converters.
//! - `connector` — source and sink connector calls, and the open state (positions, assignment)
//!   a recreated instance gets back.
//! - [`data`] — schemas, per-record failures, polled positions, statistics (plain data).
//! - [`task`] — the `task-context` import: queued requests and the stored-positions reader.
//! - `wit` — conversions between host and WIT types.

mod calls;
mod connector;
pub mod data;
mod grants;
mod inspect;
mod instance;
pub mod kind;
mod store;
pub mod task;
mod wit;
mod world;

pub use data::{
    Converted, InstanceStats, Output, PackedOutput, Polled, PolledBatch, RecordFailure, Schemas,
    Transformed, TrapCounts, TrapKind,
};
pub use inspect::LoadedPlugin;
pub use instance::Instance;
pub use kind::{
    ConfigDef, ConfigIssue, Metadata, PluginKind, PluginSource, SourcePosition, ALL_KINDS,
};
pub use task::{PositionReader, TaskRequest, WrittenPosition, WrittenReader};
