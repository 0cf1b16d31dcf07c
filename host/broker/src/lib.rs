//! Weft's broker core: a single-node Kafka broker that speaks the Kafka wire protocol.
//!
//! # Layout
//! - [`config`]: broker settings, layered with figment (defaults < file < `WEFT_*` env < flags), Kafka key names.
//! - [`properties`]: reader for Kafka's `server.properties` format, as a figment provider.
//! - [`topic_config`]: topic-level config keys (`retention.ms`, `cleanup.policy`, ...) and their broker defaults.
//! - [`topics`]: the topic registry: topics, partitions, their logs and persisted metadata.
//! - [`partition`]: one partition: its log behind a lock, the named operations on it, and the wake-up
//!   for long-polling fetches.
//! - [`executor`]: the log executor: threads that run appends off the async workers, ordered per partition.
//! - [`producer_ids`]: producer id allocation for InitProducerId, persisted in blocks.
//! - [`log_dir`]: a log directory and whether an I/O error took it offline.
//! - [`server`]: listeners, the accept loop, background maintenance and shutdown.
//! - [`connection`]: turns a socket's bytes into request frames and writes response frames, nothing else.
//! - [`chunk`]: a piece of a response frame, in memory or a region of a segment file sent with `sendfile`.
//! - [`groups`]: the group coordinator: consumer groups, rebalances, committed offsets in `__consumer_offsets`.
//! - [`handlers`]: one module per Kafka API, dispatched from the decoded request kind.
//! - [`txn`]: the transaction coordinator: transactional ids, `__transaction_state`, markers, timeouts.
//! - [`internal_topics`]: the broker's own topics (`__consumer_offsets`) and what clients may not do to them.
//! - [`metrics`]: Prometheus metrics: request-path atomics and the scrape-time collector.
//! - [`error`]: typed errors and their mapping to Kafka error codes.
//! - [`fuzzing`]: a broker over a scratch directory driven frame by frame, for fuzzers and replay tests.

pub mod chunk;
pub mod config;
pub mod connection;
pub mod error;
pub mod executor;
pub mod fuzzing;
pub mod groups;
pub mod handlers;
pub mod internal_topics;
pub mod log_dir;
pub mod maintenance;
pub mod metrics;
pub mod partition;
pub mod producer_ids;
pub mod properties;
pub mod server;
pub mod topic_config;
pub mod topics;
pub mod txn;

pub use config::BrokerConfig;
pub use error::BrokerError;
pub use server::{Broker, RunningBroker};
