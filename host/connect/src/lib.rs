//! The Weft Connect worker: runs Kafka Connect-style source and sink connectors whose code is a
//! sandboxed WebAssembly component (`weft-runtime`), talks to the cluster as an ordinary Kafka
//! client (rdkafka), and serves Kafka Connect's REST API.
//!
//! # Layout
//!
//! - [`model`] — the types the REST API, the CLI and the herder share: connector and task
//!   states, statuses, infos, offsets, plugin descriptions, validation results.
//! - [`api`] — [`api::Herder`], the operations the REST API calls, and [`api::HerderError`].
//! - [`config`] — worker and connector files in `.properties`, TOML, YAML and JSON; Kafka class
//!   names mapped to built-in components; [`config::WorkerConfig`] and [`config::ConnectorSpec`],
//!   the validated forms the herder and the tasks use.
//! - `rest` — the REST API (axum), one file per resource.
//! - `herder` — connector lifecycle and the config store: the one place that decides state.
//! - `worker` — task threads: start, stop, pause, restart with backoff.
//! - `task` — the source and sink delivery loops.
//! - `offsets` — the source position store (a local file in standalone mode).
//! - [`metrics`] — the worker's Prometheus collector (task states and figures at scrape time).
//! - `errors` — `errors.tolerance`, retries with backoff, the dead-letter queue.
//! - `upgrade` — hot upgrade: when a connector's `.wasm` changed on disk and settled.

pub mod api;
pub mod auto_restart;
pub mod config;
pub mod errors;
pub mod herder;
pub mod masking;
pub mod metrics;
pub mod model;
pub mod offsets;
pub mod rest;
pub mod standalone;
pub mod task;
pub mod upgrade;
pub mod worker;
