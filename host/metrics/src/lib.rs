//! Prometheus exposition for the whole `weft` process: one registry of scrape-time collectors
//! (the broker's, the Connect worker's, the process's), the health checks, and the `/metrics` and
//! `/health` routes that serve them on the Connect REST listener or on `metrics.listener`.
//!
//! Hot-path figures (requests, bytes, records) are atomics the owning crate keeps and bumps; a
//! collector reads them, and everything that is already known elsewhere (log offsets, group lag,
//! task states), only when Prometheus scrapes. So a scrape costs work, a request does not.
//!
//! The exposition is Prometheus' classic text format (0.0.4), which every Prometheus version and
//! `promtool check metrics` parse.

mod buckets;
mod family;
mod health;
mod http;
mod registry;

pub use buckets::{LatencyBuckets, LATENCY_BOUNDS};
pub use family::{labels, FamilyBuilder};
pub use health::{Check, HealthReport};
pub use http::{routes, serve, MetricsServer, ServeError};
pub use prometheus;
pub use registry::{global, Exporter};
