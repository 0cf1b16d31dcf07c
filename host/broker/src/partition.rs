//! One partition: its log behind a lock, the ordered queue its writes run on, and the wake-up for
//! long-polling fetches. Every lock scope on a log is in this file.
//!
//! Where work runs:
//! - Appends go through the [`LogExecutor`] (the partition's [`SerialQueue`]), never on an async worker:
//!   async callers await [`Partition::append`], blocking callers use [`Partition::append_blocking`].
//! - Reads ([`Partition::read`], offset lookups, DeleteRecords) are synchronous positioned reads under
//!   the lock, bounded by the caller's byte budget; callers run them on a blocking thread.
//! - Maintenance ([`Partition::compact`], [`Partition::enforce_retention`], [`Partition::maybe_flush`])
//!   runs on the maintenance threads.
//! - [`Partition::offsets`] reads cached offsets without taking the lock, so Metadata, a full fetch
//!   response and the long-poll check never wait behind a write or a compaction.
//!
//! A storage error (I/O on write, fsync or read) takes the partition's whole log directory offline;
//! every partition in it then answers [`PartitionError::Offline`] (KAFKA_STORAGE_ERROR).

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use parking_lot::Mutex;
use tokio::sync::Notify;
use weft_log::producer_state::ProducerEntry;
use weft_log::{
    AbortedTxn, AppendInfo, CompactionReport, Log, LogConfig, LogError, ReadResult, RegionRead,
    RetentionReport, TxnMarker,
};

use crate::error::{code, log_error_code};
use crate::executor::{ExecError, LogExecutor, SerialQueue};
use crate::log_dir::LogDir;

/// Leader epoch written into stored batches and returned in metadata. -1 ("unknown") keeps clients
/// from issuing OffsetForLeaderEpoch, which a single node without epochs has no use for.
pub const LEADER_EPOCH: i32 = -1;

/// A partition's log and the wake-up signal for fetches waiting on new data.
///
/// Invariant: the log is `None` only after the partition was deleted or closed; every accessor then
/// reports `Deleted`, so a request racing a DeleteTopics gets UNKNOWN_TOPIC_OR_PARTITION, never a panic.
pub struct Partition {
    pub topic: Arc<str>,
    pub index: i32,
    dir: PathBuf,
    log_dir: Arc<LogDir>,
    log: Mutex<Option<Log>>,
    /// Cached (log start, log end, last stable) offsets, refreshed under the lock after every change.
    start: AtomicI64,
    end: AtomicI64,
    lso: AtomicI64,
    deleted: AtomicBool,
    appended: Notify,
    queue: Arc<SerialQueue>,
    exec: Arc<LogExecutor>,
    stats: crate::metrics::PartitionStats,
}

/// Why a partition operation failed.
#[derive(Debug, thiserror::Error)]
pub enum PartitionError {
    #[error("partition was deleted")]
    Deleted,
    #[error("log directory {0} is offline after an I/O error")]
    Offline(PathBuf),
    #[error(transparent)]
    Log(#[from] LogError),
    #[error(transparent)]
    Executor(#[from] ExecError),
}

impl PartitionError {
    /// The Kafka error code; `missing` is what a deleted partition answers (unknown topic or topic id).
    pub fn code(&self, missing: i16) -> i16 {
        match self {
            PartitionError::Deleted => missing,
            PartitionError::Offline(_) => code::KAFKA_STORAGE_ERROR,
            PartitionError::Log(e) => log_error_code(e),
            // Shutting down: clients retry elsewhere (here: after the restart).
            PartitionError::Executor(ExecError::Closed) => code::NOT_LEADER_OR_FOLLOWER,
            PartitionError::Executor(ExecError::Panicked) => code::UNKNOWN_SERVER_ERROR,
        }
    }
}

/// Whether a log error means the disk failed (as opposed to bad input).
fn is_storage_error(e: &LogError) -> bool {
    e.is_storage_error()
}

impl Partition {
    pub fn new(
        topic: Arc<str>,
        index: i32,
        log: Log,
        log_dir: Arc<LogDir>,
        exec: Arc<LogExecutor>,
    ) -> Self {
        Partition {
            topic,
            index,
            dir: log.dir().to_path_buf(),
            start: AtomicI64::new(log.log_start_offset()),
            end: AtomicI64::new(log.log_end_offset()),
            lso: AtomicI64::new(log.last_stable_offset()),
            log: Mutex::new(Some(log)),
            log_dir,
            deleted: AtomicBool::new(false),
            appended: Notify::new(),
            queue: SerialQueue::new(),
            exec,
            stats: Default::default(),
        }
    }

    pub fn dir(&self) -> &PathBuf {
        &self.dir
    }

    pub fn log_dir(&self) -> &Arc<LogDir> {
        &self.log_dir
    }

    /// Traffic counters, for metrics.
    pub fn stats(&self) -> &crate::metrics::PartitionStats {
        &self.stats
    }

    /// Appends queued on the log executor or waiting for a slot, for metrics.
    pub fn queued_appends(&self) -> usize {
        self.queue.depth()
    }

    /// Bytes of the segment files, for metrics: read if the lock is free, else the last value read
    /// (a scrape never waits behind an append or a compaction).
    pub fn size_bytes(&self) -> u64 {
        if let Some(g) = self.log.try_lock() {
            if let Some(log) = g.as_ref() {
                self.stats.size.store(log.size_bytes(), Ordering::Relaxed);
            }
        }
        self.stats.size.load(Ordering::Relaxed)
    }

    /// The one lock scope: runs `f` on the log, refreshes the cached offsets, and takes the log
    /// directory offline if `f` failed on storage.
    fn locked<R>(
        &self,
        f: impl FnOnce(&mut Log) -> Result<R, LogError>,
    ) -> Result<R, PartitionError> {
        if self.log_dir.is_offline() {
            return Err(PartitionError::Offline(self.log_dir.path().to_path_buf()));
        }
        let mut guard = self.log.lock();
        let log = guard.as_mut().ok_or(PartitionError::Deleted)?;
        let out = f(log);
        self.start.store(log.log_start_offset(), Ordering::Release);
        self.end.store(log.log_end_offset(), Ordering::Release);
        self.lso.store(log.last_stable_offset(), Ordering::Release);
        drop(guard);
        out.map_err(|e| self.log_error(e))
    }

    /// Wraps a log error, taking the log directory offline when the disk failed.
    fn log_error(&self, e: LogError) -> PartitionError {
        if is_storage_error(&e) {
            crate::metrics::STORAGE
                .storage_errors
                .fetch_add(1, Ordering::Relaxed);
            self.log_dir
                .mark_offline(&format!("{}-{}: {e}", self.topic, self.index));
        }
        PartitionError::Log(e)
    }

    /// Appends on the calling thread (a log executor thread) and wakes waiting fetches.
    fn append_here(&self, records: &[u8], now_ms: i64) -> Result<AppendInfo, PartitionError> {
        let info = self.locked(|log| {
            let segments = log.segment_count();
            let info = log.append(records, LEADER_EPOCH, now_ms);
            if log.segment_count() > segments {
                crate::metrics::STORAGE
                    .segment_rolls
                    .fetch_add(1, Ordering::Relaxed);
            }
            info
        })?;
        self.stats.appended(records.len(), info.record_count);
        if info.record_count == 0 {
            // Only producer retries get here, so it is rare and worth seeing.
            tracing::info!(topic = %self.topic, partition = self.index, base_offset = info.base_offset, "duplicate batch from an idempotent producer: answered with its original offsets, not stored again");
            return Ok(info);
        }
        self.appended.notify_waiters();
        Ok(info)
    }

    /// Appends a producer's record batches on the log executor, after earlier appends to this partition.
    pub async fn append(
        self: &Arc<Self>,
        records: Bytes,
        now_ms: i64,
    ) -> Result<AppendInfo, PartitionError> {
        self.check_online()?;
        let p = self.clone();
        self.exec
            .run(&self.queue, move || p.append_here(&records, now_ms))
            .await?
    }

    /// [`append`](Self::append) for blocking threads (never call it from an async task).
    pub fn append_blocking(
        self: &Arc<Self>,
        records: Bytes,
        now_ms: i64,
    ) -> Result<AppendInfo, PartitionError> {
        self.check_online()?;
        let p = self.clone();
        self.exec
            .run_blocking(&self.queue, move || p.append_here(&records, now_ms))?
    }

    /// Writes a transaction marker on the calling thread (a log executor thread) and wakes waiting
    /// fetches: a marker moves the last stable offset read_committed fetchers wait for.
    fn write_txn_marker_here(&self, m: TxnMarker) -> Result<i64, PartitionError> {
        let offset = self.locked(|log| log.append_txn_marker(m))?;
        self.appended.notify_waiters();
        Ok(offset)
    }

    /// Writes a COMMIT or ABORT marker for `m.producer_id` on the log executor, ordered with this
    /// partition's appends; returns the marker's offset. An epoch older than the partition's is
    /// INVALID_PRODUCER_EPOCH, an older coordinator epoch TRANSACTION_COORDINATOR_FENCED.
    pub async fn write_txn_marker(self: &Arc<Self>, m: TxnMarker) -> Result<i64, PartitionError> {
        self.check_online()?;
        let p = self.clone();
        self.exec
            .run(&self.queue, move || p.write_txn_marker_here(m))
            .await?
    }

    /// [`write_txn_marker`](Self::write_txn_marker) for blocking threads (never from an async task).
    pub fn write_txn_marker_blocking(
        self: &Arc<Self>,
        m: TxnMarker,
    ) -> Result<i64, PartitionError> {
        self.check_online()?;
        let p = self.clone();
        self.exec
            .run_blocking(&self.queue, move || p.write_txn_marker_here(m))?
    }

    fn check_online(&self) -> Result<(), PartitionError> {
        if self.log_dir.is_offline() {
            return Err(PartitionError::Offline(self.log_dir.path().to_path_buf()));
        }
        if self.deleted.load(Ordering::Acquire) {
            return Err(PartitionError::Deleted);
        }
        Ok(())
    }

    /// Whole batches from `offset`, at most `max_bytes` (but at least one batch). A positioned read of
    /// at most the caller's budget under the lock; call it from a blocking thread.
    pub fn read(&self, offset: i64, max_bytes: usize) -> Result<ReadResult, PartitionError> {
        let read = self.locked(|log| log.read(offset, max_bytes))?;
        self.stats.read(&read.records);
        Ok(read)
    }

    /// [`read`](Self::read) as a region of a segment file, not read into memory: the lock is held
    /// only to find it (and, when the read stops short of the segment's end, to walk a few batch
    /// headers). Call it from a blocking thread.
    pub fn read_region(&self, offset: i64, max_bytes: usize) -> Result<RegionRead, PartitionError> {
        let read = self.locked(|log| log.read_region(offset, max_bytes))?;
        if let Some(r) = &read.region {
            self.stats.read_region(r.len(), read.offset_span());
        }
        Ok(read)
    }

    /// [`read_committed`](Self::read_committed) as a region of a segment file, or `None` when the
    /// batches reach the last stable offset and must be cut in memory. Call it from a blocking thread.
    pub fn read_committed_region(
        &self,
        offset: i64,
        max_bytes: usize,
    ) -> Result<Option<(RegionRead, Vec<AbortedTxn>)>, PartitionError> {
        let read = self.locked(|log| log.read_committed_region(offset, max_bytes))?;
        if let Some((r, _)) = &read {
            if let Some(region) = &r.region {
                self.stats.read_region(region.len(), r.offset_span());
            }
        }
        Ok(read)
    }

    /// (log start offset, log end offset), from the cache: never waits for the lock.
    pub fn offsets(&self) -> Result<(i64, i64), PartitionError> {
        self.check_online()?;
        Ok((
            self.start.load(Ordering::Acquire),
            self.end.load(Ordering::Acquire),
        ))
    }

    /// The last stable offset as last cached (read_committed fetches and ListOffsets): the first
    /// offset of the earliest open transaction, or the log end offset. Never waits for the lock.
    pub fn last_stable_offset(&self) -> i64 {
        self.lso.load(Ordering::Acquire)
    }

    /// Whole batches from `offset` that lie below the last stable offset (read_committed), at most
    /// `max_bytes` but at least one such batch, with the aborted transactions overlapping them (empty
    /// when nothing was returned). Call it from a blocking thread.
    pub fn read_committed(
        &self,
        offset: i64,
        max_bytes: usize,
    ) -> Result<(ReadResult, Vec<AbortedTxn>), PartitionError> {
        let (read, aborted) = self.locked(|log| log.read_committed(offset, max_bytes))?;
        self.stats.read(&read.records);
        Ok((read, aborted))
    }

    /// The log end offset as last cached (for the long-poll "did anything change" check).
    pub fn log_end_offset(&self) -> i64 {
        self.end.load(Ordering::Acquire)
    }

    /// ListOffsets by timestamp: (offset, timestamp) of the first record at or after `ts`. Scans
    /// indexes and batches; call it from a blocking thread.
    pub fn offset_for_timestamp(&self, ts: i64) -> Result<Option<(i64, i64)>, PartitionError> {
        self.locked(|log| log.offset_for_timestamp(ts))
    }

    /// ListOffsets MAX_TIMESTAMP; call it from a blocking thread.
    pub fn max_timestamp_offset(&self) -> Result<Option<(i64, i64)>, PartitionError> {
        self.locked(|log| log.max_timestamp_offset())
    }

    /// DeleteRecords: advances the log start offset to `offset` (-1: the log end offset); returns the
    /// new log start offset. Call it from a blocking thread.
    pub fn delete_records_before(&self, offset: i64) -> Result<i64, PartitionError> {
        self.locked(|log| {
            let end = log.log_end_offset();
            let target = if offset == -1 { end } else { offset };
            if target < 0 || target > end {
                return Err(LogError::OffsetOutOfRange {
                    requested: target,
                    start: log.log_start_offset(),
                    end,
                });
            }
            log.delete_records_before(target)
        })
    }

    pub fn set_config(&self, config: LogConfig) {
        // A deleted or offline partition has no config to change; ignoring that is correct.
        let _ = self.locked(|log| {
            log.set_config(config);
            Ok(())
        });
    }

    /// Whether the log is compacted (cleanup.policy includes compact).
    pub fn is_compacted(&self) -> bool {
        self.locked(|log| Ok(log.config().cleanup_policy.compact))
            .unwrap_or(false)
    }

    /// Retention (maintenance thread).
    pub fn enforce_retention(&self, now_ms: i64) -> Result<RetentionReport, PartitionError> {
        let report = self.locked(|log| log.enforce_retention(now_ms))?;
        crate::metrics::STORAGE.retention(&report);
        Ok(report)
    }

    /// One compaction pass (maintenance thread), the one call site of the log's compaction. The
    /// partition lock is held only to plan (which segments, their file handles) and to swap the
    /// cleaned files in; the cleaned files are built without it, so appends and fetches of this
    /// partition go on meanwhile. A segment that retention removed in between aborts the swap.
    pub fn compact(&self, now_ms: i64) -> Result<CompactionReport, PartitionError> {
        let Some(plan) = self.locked(|log| log.plan_compaction(now_ms))? else {
            return Ok(CompactionReport::default());
        };
        let build = plan.build().map_err(|e| self.log_error(e))?;
        let report = self.locked(|log| log.apply_compaction(build))?;
        crate::metrics::STORAGE.compaction(&report);
        Ok(report)
    }

    /// Every producer the partition has state for (DescribeProducers); takes the lock briefly, so
    /// call it from a blocking thread.
    pub fn producers(&self) -> Result<Vec<(i64, ProducerEntry)>, PartitionError> {
        self.locked(|log| {
            Ok(log
                .producer_states()
                .entries()
                .map(|(id, e)| (id, e.clone()))
                .collect())
        })
    }

    /// Forgets idempotent producers idle for `expiration_ms` (maintenance thread); returns how many.
    pub fn expire_producers(
        &self,
        now_ms: i64,
        expiration_ms: i64,
    ) -> Result<usize, PartitionError> {
        self.locked(|log| Ok(log.expire_producers(now_ms, expiration_ms)))
    }

    /// Time-based flush (flush.ms), from the maintenance thread.
    pub fn maybe_flush(&self, now_ms: i64) -> Result<bool, PartitionError> {
        let started = std::time::Instant::now();
        let flushed = self.locked(|log| log.maybe_flush(now_ms))?;
        if flushed {
            crate::metrics::STORAGE
                .flush_seconds
                .observe(started.elapsed().as_secs_f64());
        }
        Ok(flushed)
    }

    /// A future that completes on the next append; create it before checking for data.
    pub fn appended(&self) -> tokio::sync::futures::Notified<'_> {
        self.appended.notified()
    }

    /// Takes the log out (for deletion or shutdown); later accessors report `Deleted`.
    pub fn take_log(&self) -> Option<Log> {
        self.deleted.store(true, Ordering::Release);
        let log = self.log.lock().take();
        self.appended.notify_waiters();
        log
    }
}
