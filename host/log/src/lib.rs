//! Segmented, durable storage for one Kafka partition, in Kafka's on-disk layout and v2 record batch
//! format.
//!
//! The hot paths never decode records: `append` validates batch headers and CRCs, walks the records of
//! uncompressed batches in place to check them (`record_check`), assigns offsets by
//! patching the CRC-less header fields and writes the producer's bytes verbatim; `read` finds a file
//! position through a sparse index (read from disk on first use) and returns stored batches as they are. Records are
//! decoded only for compaction, timestamp lookups, the dump tool and key checks on compacted topics.
//!
//! # Layout
//!
//! - `config`: [`LogConfig`], [`CleanupPolicy`], [`TimestampType`] (topic configs with Kafka's defaults).
//! - `error`: [`LogError`] and [`Result`]; every variant maps to one Kafka error code.
//! - [`batch`]: v2 batch header parsing, batch iteration and producer-batch validation (public).
//! - `codec`: the record codecs, streaming: a decompressing reader that never allocates past a budget,
//!   and a compressing writer.
//! - [`record`]: record-level decoding one record at a time within [`record::DecodeLimits`] (public:
//!   the broker's offsets replay uses it), and rebuilding a batch with a subset of its records.
//! - [`record_check`]: the append path's per-record checks (structure, offset deltas, keys on compacted
//!   topics, timestamps), walked in place for uncompressed batches (public for the bench and fuzzer).
//! - `index`: the `.index` / `.timeindex` files, read into memory only on first lookup (and dropped
//!   again when unused), plus the rule for when an entry is due.
//! - `scan`: chunked sequential walk over a segment file's batches that reports torn or corrupt tails.
//! - `segment`: one `.log` file with its indexes: append, positioned reads, load/rebuild/truncate.
//! - `log`: [`Log`], the ordered segments: append, read, roll, flush, close, delete.
//! - `region`: [`FileRegion`], stored batches named by file position for `sendfile`, with a page-cache
//!   residency check.
//! - `recovery`: opening a directory: interrupted-compaction leftovers, index checks, tail recovery
//!   ([`RecoveryReport`]).
//! - [`producer_state`]: idempotent producers' epochs and last five batch sequences per partition,
//!   checked on append; Kafka's `.snapshot` files and expiry (public: `dump-log` reads snapshots).
//! - `checkpoint`: the `log-start-offset` and `recovery-point` checkpoints and the `clean-shutdown`
//!   marker.
//! - `flush`: the flush.messages / flush.ms policy.
//! - `retention`: time/size retention and DeleteRecords ([`RetentionReport`]).
//! - `compaction`: key-based compaction in three steps (plan under the lock, build without it, swap
//!   crash-safely), the cleaner checkpoint and when a partition is due ([`CompactionReport`]).
//! - `cleaner`: compaction's build step: bounded key map of the dirty part, KIP-534 delete horizons,
//!   cleaned segment files.
//! - `timestamps`: ListOffsets by timestamp and max timestamp.
//! - [`txn_marker`]: transaction markers (control batches), written by the coordinator's path and
//!   read back by recovery and `dump-log` (public).
//! - [`txn_index`]: the aborted-transaction index, Kafka's `.txnindex` files (public: `dump-log`).
//! - [`dump`]: `kafka-dump-log.sh`-style printing of segment and index files (public).
//! - `files`: file naming, directory fsync and [`write_atomically`].
//! - `fsio`: the one place the log writes, truncates, fsyncs, renames and removes files, so that
//!   `fault` (feature `fault-injection`, tests only) can fail those calls or simulate a power loss.

pub mod batch;
mod checkpoint;
mod cleaner;
mod codec;
mod compaction;
mod config;
pub mod dump;
mod error;
#[cfg(feature = "fault-injection")]
pub mod fault;
mod files;
mod flush;
mod fsio;
mod index;
mod log;
pub mod producer_state;
pub mod record;
pub mod record_check;
mod recovery;
mod region;
mod retention;
mod scan;
mod segment;
#[cfg(test)]
mod testutil;
mod timestamps;
pub mod txn_index;
pub mod txn_marker;

#[cfg(test)]
mod proptests;
#[cfg(test)]
mod txn_tests;

pub use compaction::{CompactionBuild, CompactionPlan, CompactionReport};
pub use config::{CleanupPolicy, LogConfig, TimestampType};
pub use error::{LogError, Result};
pub use files::{sync_dir, write_atomically};
pub use log::{AppendInfo, Log, ReadResult};
pub use recovery::RecoveryReport;
pub use region::{FileRegion, RegionRead};
pub use retention::RetentionReport;
pub use txn_index::AbortedTxn;
pub use txn_marker::TxnMarker;

/// Leader epoch written into batches the log creates itself (transaction markers): "unknown", as the
/// broker writes into every stored batch on one node.
pub const LEADER_EPOCH_UNKNOWN: i32 = -1;
