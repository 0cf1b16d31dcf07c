//! The Weft plugin runtime: loads WebAssembly components that implement the `weft:plugin` WIT
//! contract, runs each in its own sandbox, and chains them into produce/consume pipelines.
//!
//! Every data-carrying call moves a packed batch (`weft-batch`) across the boundary, one call
//! per batch, so the per-call cost (~130 ns with concurrency support off) is paid once per batch
//! rather than once per record.
//!
//! # Layout
//!
//! - [`engine`] — [`Runtime`], the process-wide wasmtime engine (concurrency support off, epoch
//!   interruption on), the epoch ticker thread (`epoch`: it ticks only while some store exists,
//!   and every store holds a lease on it), the linker, and the compiled-component cache in
//!   memory and on disk (keyed by the component's SHA-256 and the engine's compatibility hash).
//! - [`plugin`] — [`LoadedPlugin`] (compiled component, `InstancePre`, metadata, kind, imports)
//!   and [`Instance`] (one store with the sandbox's limits and per-call deadline; typed calls per
//!   kind; a failed call drops the store and the next call starts a fresh one, configured again
//!   and, for a connector task, opened again at its committed positions or assignment). A
//!   component built for another contract version ([`CONTRACT_VERSION`]) is refused at load.
//!   Connector tasks' `task-context` requests are queued per instance ([`TaskRequest`]). Split
//!   by job; its module docs list the parts.
//! - `limits` — the store's resource limiter: the sum of all linear memories against the cap,
//!   and the counts of instances, memories and tables.
//! - [`config`] — [`PluginConfig`], split into sandbox limits (`plugin.*`), capability grants
//!   (`capability.*`) and the entries the plugin itself receives.
//! - [`host`] — per-store state: the empty WASI context, the resource limiter, and the `host`
//!   import (logging into `tracing` or a custom sink, metrics).
//! - [`http`] — the `http` capability: URL-prefix grant (`capability.http.urls`), a blocking
//!   client with timeouts, TLS and retries of 429/5xx honouring `Retry-After`.
//! - [`registry`] — [`Registry`], resolving `name[@version]`, paths and plugin directories to
//!   loaded plugins; built-ins come from [`builtin`], embedded at build time.
//! - [`pipeline`] — [`ProducePipeline`] and [`ConsumePipeline`], what `weft produce` and
//!   `weft consume` (and later the Connect worker) call once per batch.
//! - `mqtt` — the `mqtt` capability (rumqttc): granted URLs only, a connection thread per
//!   instance, manual PUBACK when the plugin acknowledges.
//! - `kafka` — the `remote-cluster` and `local-admin` capabilities (librdkafka): granted
//!   clusters only, fetches split over several consumers, produce limited to granted topics.
//! - [`bindings`] — wasmtime bindings generated from `wit/plugin.wit`.
//! - [`error`] — [`RuntimeError`].

pub mod bindings;
pub mod builtin;
mod ca_file;
pub mod config;
pub mod engine;
mod epoch;
pub mod error;
pub mod host;
pub mod http;
mod kafka;
mod limits;
mod mqtt;
pub mod pipeline;
pub mod plugin;
pub mod registry;

pub use bindings::CONTRACT_VERSION;
pub use config::{Grants, PluginConfig, Sandbox};
pub use engine::{CacheStats, Runtime, RuntimeOptions};
pub use error::{Result, RuntimeError};
pub use host::{LogLevel, LogSink, MetricValue};
pub use kafka::{not_utf8_warning, utf8_headers};
pub use pipeline::{ConsumePipeline, PipelineSpec, ProducePipeline};
pub use plugin::{
    Converted, InstanceStats, Output, PackedOutput, Polled, PolledBatch, PositionReader,
    RecordFailure, Schemas, TaskRequest, Transformed, TrapCounts, TrapKind, WrittenPosition,
    WrittenReader,
};
pub use plugin::{Instance, LoadedPlugin, Metadata, PluginKind, PluginSource};
pub use registry::{PluginInfo, Registry};
pub use weft_batch::{Header, Record};
