//! Plugins: a compiled component ([`LoadedPlugin`]) and sandboxed, self-healing instances of it
//! ([`Instance`]), split by job:
//!
//! - [`kind`] — what a plugin is: kind, source, metadata (plain data).
//! - `inspect` — reading a component: its exports give the kind, `describe` the metadata.
//! - `grants` — capability imports and the check of a config's grants against them.
//! - `world` — the per-kind `InstancePre` and typed exports.
//! - `store` — a store with the sandbox applied (limits, deadline, fuel) and failure classification.
//! - `instance` — the instance lifecycle: create, configure (or reopen), call, drop on failure.
//! - `calls` — the data calls of partitioners, serializers, interceptors and transforms.
//! - `connector` — source and sink connector calls, and the open state a recreated instance gets back.
//! - `wit` — conversions between host and WIT types.

mod calls;
mod connector;
mod grants;
mod inspect;
mod instance;
pub mod kind;
mod store;
mod wit;
mod world;

pub use inspect::LoadedPlugin;
pub use instance::Instance;
pub use kind::{
    ConfigDef, ConfigIssue, Metadata, PluginKind, PluginSource, SourcePosition, ALL_KINDS,
};
