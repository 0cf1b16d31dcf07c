//! The partition log: ordered segments ending in the active one — append, read, offsets, roll, flush,
//! close and delete.

use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use bytes::Bytes;
use kafka_protocol::records::Compression;

use crate::batch::{
    self, BatchHeader, ATTRIBUTES_POS, BASE_OFFSET_POS, CRC_POS, CRC_START, HEADER_LEN,
    LEADER_EPOCH_POS, MAX_TIMESTAMP_POS, OFFSET_EPOCH_PATCH_LEN, TIMESTAMP_TYPE_BIT,
};
use crate::checkpoint;
use crate::config::{LogConfig, TimestampType};
use crate::error::{IoContext, LogError, Result};
use crate::files;
use crate::flush::FlushTracker;
use crate::producer_state::{self, Checked, CompletedTxn, ProducerStates};
use crate::record;
use crate::record_check::{self, RecordRules, TimestampBounds};
use crate::recovery::{self, RecoveryReport};
use crate::region::RegionRead;
use crate::scan::{Scanner, Step, SCAN_CHUNK};
use crate::segment::{PlannedBatch, Segment};
use crate::txn_index::{AbortedTxn, TxnIndexes};
use crate::txn_marker::{self, TxnMarker};

/// Largest control batch recovery reads to learn its marker (a marker batch is 78 bytes).
const MAX_CONTROL_BATCH: usize = 64 * 1024;

/// The `.txnindex` entry of an aborted transaction.
fn aborted_entry(done: &CompletedTxn, last_stable_offset: i64) -> AbortedTxn {
    AbortedTxn {
        producer_id: done.producer_id,
        first_offset: done.first_offset,
        last_offset: done.last_offset,
        last_stable_offset,
    }
}

/// What `append` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppendInfo {
    /// Offset given to the first record.
    pub base_offset: i64,
    /// Offset of the last record appended.
    pub last_offset: i64,
    /// -1 unless the topic uses LogAppendTime.
    pub log_append_time: i64,
    pub log_start_offset: i64,
    /// Records written; 0 when the append repeated an idempotent producer's batch and was answered
    /// with the offsets that batch got the first time.
    pub record_count: u64,
}

/// What `read` returned: whole batches, verbatim as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadResult {
    /// Zero or more complete batches; the first contains the requested offset.
    pub records: Bytes,
    pub log_start_offset: i64,
    /// Equals the high watermark on a single node.
    pub log_end_offset: i64,
}

/// One partition's log on disk.
#[derive(Debug)]
pub struct Log {
    pub(crate) dir: PathBuf,
    pub(crate) config: LogConfig,
    /// Inactive segments, oldest first.
    pub(crate) older: Vec<Segment>,
    /// The segment appends go to; never compacted or deleted by retention.
    pub(crate) active: Segment,
    pub(crate) log_start_offset: i64,
    pub(crate) flush_state: FlushTracker,
    /// Files were created, renamed or removed since the directory was last fsynced.
    pub(crate) dir_dirty: bool,
    /// Everything below this offset is fsynced (Kafka's recovery point).
    recovery_point: i64,
    /// The value in the `recovery-point` checkpoint file.
    checkpointed_recovery_point: Option<i64>,
    /// Set by the first failed write or fsync (or by the broker); every later call is refused.
    offline: OnceLock<String>,
    plan: Vec<PlannedBatch>,
    patched: Vec<[u8; HEADER_LEN]>,
    /// Idempotent producers' state, checked on every append.
    producers: ProducerStates,
    /// The snapshot the last roll wrote, until a flush fsyncs it.
    unsynced_snapshot: Option<PathBuf>,
    /// The `.txnindex` files (aborted transactions).
    pub(crate) txn_indexes: TxnIndexes,
}

impl Log {
    /// Open or create the partition directory, recovering as needed: interrupted compactions are
    /// resolved, every segment's indexes are checked (and rebuilt if missing, short or stale) and,
    /// without a clean-shutdown marker, the active segment is validated batch by batch and truncated at
    /// the first torn or corrupt batch.
    pub fn open(dir: &Path, config: LogConfig) -> Result<(Log, RecoveryReport)> {
        let recovered = recovery::recover(dir, &config)?;
        let mut log = Log {
            dir: dir.to_path_buf(),
            config,
            older: recovered.older,
            active: recovered.active,
            log_start_offset: recovered.log_start_offset,
            flush_state: FlushTracker::default(),
            dir_dirty: false,
            recovery_point: recovered.recovery_point,
            checkpointed_recovery_point: recovered.checkpointed_recovery_point,
            offline: OnceLock::new(),
            plan: Vec::new(),
            patched: Vec::new(),
            producers: ProducerStates::default(),
            unsynced_snapshot: None,
            txn_indexes: TxnIndexes::open(dir)?,
        };
        log.load_producer_state()?;
        Ok((log, recovered.report))
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The idempotent producers' state (for inspection and tests).
    pub fn producer_states(&self) -> &ProducerStates {
        &self.producers
    }

    /// Rebuilds the producer state: the newest `.snapshot` at or below the log end, then the batches
    /// from its offset (or from the log start without one) to the log end, so a producer's retry
    /// after a crash is still recognised as a duplicate and open transactions are known again. The
    /// aborted-transaction entries of the replayed range are rewritten by the replay; if any
    /// `.txnindex` file is damaged, all are removed and the replay starts at the log start.
    fn load_producer_state(&mut self) -> Result<()> {
        let end = self.log_end_offset();
        let (mut states, mut from) = producer_state::load_snapshot(&self.dir, end)?;
        if let Some((path, reason)) = self.txn_indexes.find_damage()? {
            tracing::warn!(file = %path.display(), %reason, "rebuilding the transaction indexes from the log");
            self.txn_indexes.remove_all()?;
            states = ProducerStates::default();
            from = None;
        }
        let from = from
            .unwrap_or(self.log_start_offset)
            .max(self.log_start_offset);
        // Entries for markers past the log end (a cut tail) or in the replayed range go; the replay
        // writes the latter again.
        self.txn_indexes.truncate_from(from.min(end))?;
        if from >= end {
            self.producers = states;
            return Ok(());
        }
        let mut replayed = 0u64;
        let mut aborted: Vec<(i64, CompletedTxn, i64)> = Vec::new();
        let mut batch_buf = Vec::new();
        for seg in self.segments_from(from) {
            let start = match seg.locate(from)? {
                Some((position, _)) => position,
                None => continue,
            };
            let mut scanner = Scanner::new(&seg.file, start, seg.size, SCAN_CHUNK);
            loop {
                match scanner.next(false).at(&seg.log_path)? {
                    Step::Batch {
                        header, position, ..
                    } => {
                        if header.last_offset() < from {
                            continue;
                        }
                        let marker = if header.is_control()
                            && header.producer_id >= 0
                            && header.total_size() <= MAX_CONTROL_BATCH
                        {
                            batch_buf.resize(header.total_size(), 0);
                            seg.file
                                .read_exact_at(&mut batch_buf, position)
                                .at(&seg.log_path)?;
                            match txn_marker::read_marker(&batch_buf, &header) {
                                Ok(m) => m,
                                Err(e) => {
                                    tracing::warn!(file = %seg.log_path.display(), position, error = %e, "unreadable transaction marker skipped");
                                    None
                                }
                            }
                        } else {
                            None
                        };
                        if let Some(done) = states.replay(&header, marker) {
                            if done.aborted {
                                let lso = states.last_stable_offset_after(&done);
                                aborted.push((seg.base_offset(), done, lso));
                            }
                        }
                        replayed += 1;
                    }
                    Step::End => break,
                    // Recovery already cut torn tails; a bad batch here ends the replay of this segment.
                    Step::Invalid { position, reason } => {
                        tracing::warn!(file = %seg.log_path.display(), position, %reason, "producer state replay stopped");
                        break;
                    }
                }
            }
        }
        for (base, done, lso) in aborted {
            self.txn_indexes.append(base, &aborted_entry(&done, lso))?;
        }
        tracing::debug!(dir = %self.dir.display(), from, batches = replayed, producers = states.len(), "rebuilt producer state");
        self.producers = states;
        Ok(())
    }

    /// fsyncs the snapshot the last roll wrote, if a flush has not yet (the directory entry follows
    /// with the caller's directory fsync). One a later roll already removed needs nothing.
    fn sync_snapshot(&mut self) -> Result<()> {
        if let Some(path) = self.unsynced_snapshot.take() {
            if path.exists() {
                producer_state::sync_snapshot(&path)?;
            }
        }
        Ok(())
    }

    /// Forgets producers idle for `expiration_ms` (producer.id.expiration.ms); returns how many.
    pub fn expire_producers(&mut self, now_ms: i64, expiration_ms: i64) -> usize {
        self.producers.expire(now_ms, expiration_ms)
    }

    pub fn config(&self) -> &LogConfig {
        &self.config
    }

    /// Change settings at runtime (AlterConfigs); takes effect for the next append/maintenance.
    pub fn set_config(&mut self, config: LogConfig) {
        self.config = config;
    }

    pub fn log_start_offset(&self) -> i64 {
        self.log_start_offset
    }

    pub fn log_end_offset(&self) -> i64 {
        self.active.next_offset()
    }

    /// Sum of the segments' `.log` file sizes.
    pub fn size_bytes(&self) -> u64 {
        self.segments().map(|s| s.size).sum()
    }

    pub fn segment_count(&self) -> usize {
        self.older.len() + 1
    }

    /// All segments, oldest first.
    pub(crate) fn segments(&self) -> impl Iterator<Item = &Segment> {
        self.older.iter().chain(std::iter::once(&self.active))
    }

    /// Segments from the one that may hold `offset` onwards.
    pub(crate) fn segments_from(&self, offset: i64) -> impl Iterator<Item = &Segment> {
        let first = self
            .older
            .partition_point(|s| s.base_offset() <= offset)
            .saturating_sub(1);
        self.older[first..]
            .iter()
            .chain(std::iter::once(&self.active))
    }

    /// Whether a storage error took this log offline (see [`LogError::Offline`]).
    pub fn is_offline(&self) -> bool {
        self.offline.get().is_some()
    }

    /// Takes the log offline: every later call fails with [`LogError::Offline`]. The broker calls this
    /// on every log of a directory when one of them hit a storage error; the log's own failures call
    /// it too. The first reason sticks.
    pub fn set_offline(&self, reason: &str) {
        if self.offline.set(reason.to_string()).is_ok() {
            tracing::error!(dir = %self.dir.display(), %reason, "log is offline");
        }
    }

    pub(crate) fn check_online(&self) -> Result<()> {
        match self.offline.get() {
            None => Ok(()),
            Some(reason) => Err(LogError::Offline {
                dir: self.dir.clone(),
                reason: reason.clone(),
            }),
        }
    }

    /// A failed write or fsync leaves the files in an unknown state (a failed fsync may have dropped
    /// the dirty pages): serving on could lose acknowledged data or, if the client retries an append
    /// whose write had succeeded, store it twice. So any I/O error takes the log offline.
    pub(crate) fn storage<T>(&self, result: Result<T>) -> Result<T> {
        if let Err(e @ LogError::Io { .. }) = &result {
            self.set_offline(&e.to_string());
        }
        result
    }

    /// Validate and append `records` (one or more v2 batches back to back, as a producer sent them).
    /// All batches are validated before anything is written. Offsets (and the leader epoch) are
    /// assigned by patching the headers, which the CRC does not cover, so the producer's bytes are
    /// written verbatim in one vectored write; only LogAppendTime changes CRC-covered fields
    /// (attributes, maxTimestamp) and recomputes the CRC. A storage error takes the log offline.
    pub fn append(&mut self, records: &[u8], leader_epoch: i32, now_ms: i64) -> Result<AppendInfo> {
        self.check_online()?;
        let result = self.append_online(records, leader_epoch, now_ms);
        self.storage(result)
    }

    fn append_online(
        &mut self,
        records: &[u8],
        leader_epoch: i32,
        now_ms: i64,
    ) -> Result<AppendInfo> {
        if records.is_empty() {
            return Err(LogError::CorruptBatch(
                "append carries no record batches".to_string(),
            ));
        }
        let max = self.config.max_message_bytes;
        let compacted = self.config.cleanup_policy.compact;
        let log_append_time = self.config.timestamp_type == TimestampType::LogAppendTime;
        self.plan.clear();
        let mut pos = 0;
        while pos < records.len() {
            let rest = &records[pos..];
            let header = BatchHeader::parse(rest)?;
            let size = header.total_size();
            if rest.len() < size {
                return Err(LogError::CorruptBatch(format!(
                    "record batch at byte {pos} declares {size} bytes but only {} were sent",
                    rest.len()
                )));
            }
            if size > max as usize {
                return Err(LogError::BatchTooLarge { size, max });
            }
            let header = batch::validate(rest)?;
            let c = &self.config;
            let rules = RecordRules {
                require_key: compacted,
                timestamps: (!log_append_time).then_some(TimestampBounds {
                    before_max_ms: c.message_timestamp_before_max_ms,
                    after_max_ms: c.message_timestamp_after_max_ms,
                    now_ms,
                }),
            };
            if let Some(bounds) = &rules.timestamps {
                batch::check_timestamps(&header, bounds)?;
            }
            // Every record is checked before the batch is stored, as Kafka's LogValidator does: an
            // uncompressed batch is walked in place, a compressed one streamed through its bounded
            // decoder (a batch inflating past the bound is CORRUPT_MESSAGE). A compressed batch
            // with broken records inside would otherwise be stored and fail every consumer.
            if header.compression() == Compression::None {
                record_check::check_uncompressed(&rest[..size], &header, &rules)?;
            } else {
                let limits = record::DecodeLimits::for_batch(&header, max);
                record::check_records(&rest[..size], &header, limits, &rules)?;
            }
            self.plan.push(PlannedBatch { start: pos, header });
            pos += size;
        }

        let record_count: i64 = self
            .plan
            .iter()
            .map(|b| i64::from(b.header.last_offset_delta) + 1)
            .sum();
        let incoming_max_ts = if log_append_time {
            now_ms
        } else {
            self.plan
                .iter()
                .map(|b| b.header.max_timestamp)
                .max()
                .unwrap_or(-1)
        };
        if self.log_end_offset().checked_add(record_count).is_none() {
            return Err(LogError::InvalidRecord(
                "appending would overflow the 64-bit offset space".to_string(),
            ));
        }
        // Idempotent producers: sequence and epoch checks from the headers; a retried batch is
        // answered with the offsets it got the first time and not stored again.
        let producer_check = self.producers.check(
            self.plan.iter().map(|b| &b.header),
            self.log_end_offset(),
            |h| {
                if log_append_time {
                    now_ms
                } else {
                    h.max_timestamp
                }
            },
        )?;
        let producer_updates = match producer_check {
            Checked::Duplicate(d) => {
                return Ok(AppendInfo {
                    base_offset: d.first_offset,
                    last_offset: d.last_offset,
                    log_append_time: if log_append_time { d.timestamp } else { -1 },
                    log_start_offset: self.log_start_offset,
                    record_count: 0,
                })
            }
            Checked::Append(updates) => updates,
        };
        self.maybe_roll(records.len() as u64, record_count, incoming_max_ts, now_ms)?;

        let first_offset = self.log_end_offset();
        let mut next = first_offset;
        self.patched.clear();
        for planned in &mut self.plan {
            let start = planned.start;
            let end = start + planned.header.total_size();
            let mut head = [0u8; HEADER_LEN];
            head.copy_from_slice(&records[start..start + HEADER_LEN]);
            batch::put_i64(&mut head, BASE_OFFSET_POS, next);
            batch::put_i32(&mut head, LEADER_EPOCH_POS, leader_epoch);
            planned.header.base_offset = next;
            planned.header.partition_leader_epoch = leader_epoch;
            if log_append_time {
                let attributes = planned.header.attributes | TIMESTAMP_TYPE_BIT;
                batch::put_i16(&mut head, ATTRIBUTES_POS, attributes);
                batch::put_i64(&mut head, MAX_TIMESTAMP_POS, now_ms);
                let crc = crc32c::crc32c_append(
                    crc32c::crc32c(&head[CRC_START..]),
                    &records[start + HEADER_LEN..end],
                );
                batch::put_u32(&mut head, CRC_POS, crc);
                planned.header.attributes = attributes;
                planned.header.max_timestamp = now_ms;
                planned.header.crc = crc;
            }
            self.patched.push(head);
            next += i64::from(planned.header.last_offset_delta) + 1;
        }
        let patch_len = if log_append_time {
            HEADER_LEN
        } else {
            OFFSET_EPOCH_PATCH_LEN
        };
        self.active.append(
            records,
            &self.plan,
            &self.patched,
            patch_len,
            self.config.index_interval_bytes,
        )?;
        self.producers.apply(producer_updates);

        self.flush_state.on_append(record_count as u64, now_ms);
        if self.flush_state.messages_due(&self.config)
            || self.flush_state.time_due(&self.config, now_ms)
        {
            self.flush()?;
        }
        Ok(AppendInfo {
            base_offset: first_offset,
            last_offset: next - 1,
            log_append_time: if log_append_time { now_ms } else { -1 },
            log_start_offset: self.log_start_offset,
            record_count: record_count as u64,
        })
    }

    /// Writes a transaction marker (Kafka's control batch, see [`TxnMarker`]) at the log end, stamped
    /// with the current time; returns its offset. See [`append_txn_marker_at`](Self::append_txn_marker_at).
    pub fn append_txn_marker(&mut self, m: TxnMarker) -> Result<i64> {
        let now_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
        self.append_txn_marker_at(m, now_ms)
    }

    /// Writes a transaction marker stamped `now_ms`. The producer's epoch must not be older than the
    /// one the partition knows (INVALID_PRODUCER_EPOCH) nor the coordinator epoch older than the last
    /// marker's (TRANSACTION_COORDINATOR_FENCED), as Kafka's `appendEndTxnMarker` checks. The marker
    /// ends the producer's open transaction here, which moves the last stable offset; an ABORT of a
    /// transaction that wrote data adds a `.txnindex` entry to the active segment. A marker for a
    /// producer with no open transaction is still written (the coordinator sends one to every
    /// partition it added).
    pub fn append_txn_marker_at(&mut self, m: TxnMarker, now_ms: i64) -> Result<i64> {
        self.check_online()?;
        let result = self.append_txn_marker_online(m, now_ms);
        self.storage(result)
    }

    fn append_txn_marker_online(&mut self, m: TxnMarker, now_ms: i64) -> Result<i64> {
        if m.producer_id < 0 {
            return Err(LogError::InvalidRecord(format!(
                "transaction marker for invalid producer id {}",
                m.producer_id
            )));
        }
        let info = producer_state::MarkerInfo {
            commit: m.commit,
            coordinator_epoch: m.coordinator_epoch,
        };
        let offset = self.log_end_offset();
        let (entry, completed) =
            self.producers
                .check_marker(m.producer_id, m.producer_epoch, info, offset, now_ms)?;
        let size = txn_marker::MARKER_BATCH_LEN;
        self.maybe_roll(size as u64, 1, now_ms, now_ms)?;
        let offset = self.log_end_offset();
        let bytes = txn_marker::encode(&m, offset, crate::LEADER_EPOCH_UNKNOWN, now_ms);
        let header = BatchHeader::parse(&bytes)?;
        let mut head = [0u8; HEADER_LEN];
        head.copy_from_slice(&bytes[..HEADER_LEN]);
        let plan = [PlannedBatch { start: 0, header }];
        self.active.append(
            &bytes,
            &plan,
            &[head],
            OFFSET_EPOCH_PATCH_LEN,
            self.config.index_interval_bytes,
        )?;
        let completed = completed.map(|c| CompletedTxn {
            last_offset: offset,
            ..c
        });
        if let Some(done) = completed.filter(|c| c.aborted) {
            let lso = self.producers.last_stable_offset_after(&done);
            self.txn_indexes
                .append(self.active.base_offset(), &aborted_entry(&done, lso))?;
        }
        self.producers.apply_marker(m.producer_id, entry);
        self.flush_state.on_append(1, now_ms);
        if self.flush_state.messages_due(&self.config)
            || self.flush_state.time_due(&self.config, now_ms)
        {
            self.flush()?;
        }
        Ok(offset)
    }

    /// The last stable offset: the first offset of the earliest open transaction, or the log end
    /// offset when none is open. read_committed consumers read below it.
    pub fn last_stable_offset(&self) -> i64 {
        let end = self.log_end_offset();
        self.producers
            .first_unstable_offset()
            .map_or(end, |first| first.min(end))
    }

    /// The aborted transactions that overlap `[from, upper)` (Kafka's `collectAbortedTransactions`),
    /// read from the `.txnindex` files: what a read_committed fetch returning that range reports.
    pub fn aborted_transactions(&self, from: i64, upper: i64) -> Result<Vec<AbortedTxn>> {
        self.check_online()?;
        if self.txn_indexes.is_empty() || upper <= from {
            return Ok(Vec::new());
        }
        let result = self.txn_indexes.collect(from, upper);
        self.storage(result)
    }

    /// Kafka's roll rules, checked before an append of `incoming` bytes and `records` records whose
    /// largest timestamp is `max_ts`: the segment would exceed segment.bytes (or the 2 GiB that 32-bit
    /// index positions allow), it spans more than segment.ms measured from its first batch's timestamp
    /// (or from its creation when it has none), or the new offsets would not fit the 32-bit relative
    /// offsets of its index. An empty segment is never rolled.
    fn maybe_roll(&mut self, incoming: u64, records: i64, max_ts: i64, now_ms: i64) -> Result<()> {
        let seg = &mut self.active;
        let created = *seg.created_ms.get_or_insert(now_ms);
        if seg.size == 0 {
            return Ok(());
        }
        let size_after = seg.size.saturating_add(incoming);
        let full = size_after > self.config.segment_bytes || size_after > i32::MAX as u64;
        let waited = match seg.ix.first_batch_timestamp {
            Some(ts) if ts >= 0 => max_ts.saturating_sub(ts),
            _ => now_ms.saturating_sub(created),
        };
        let aged = waited > self.config.segment_ms;
        let last = seg.next_offset().saturating_add(records - 1);
        let offsets_overflow = last.saturating_sub(seg.base_offset()) > i64::from(i32::MAX);
        if full || aged || offsets_overflow {
            self.roll(now_ms)?;
        }
        Ok(())
    }

    /// Seals the active segment and starts a new one at the log end offset. The sealed segment is
    /// fsynced later, by [`Log::flush_rolled`] (or any flush), not on the append path.
    pub(crate) fn roll(&mut self, now_ms: i64) -> Result<()> {
        if self.active.size == 0 {
            return Ok(());
        }
        let base = self.log_end_offset();
        self.active.seal()?;
        let mut fresh = Segment::create(&self.dir, base)?;
        fresh.created_ms = Some(now_ms);
        let sealed = std::mem::replace(&mut self.active, fresh);
        tracing::debug!(
            dir = %self.dir.display(),
            sealed_base = sealed.base_offset(),
            new_base = base,
            "rolled log segment"
        );
        self.older.push(sealed);
        self.dir_dirty = true;
        // Kafka snapshots producer state at every roll, named by the new segment's base offset, so
        // recovery replays at most the active segment's headers. Written once the segments are in
        // place, so a failure here (which takes the log offline) loses no segment.
        self.unsynced_snapshot = Some(producer_state::write_snapshot(
            &self.dir,
            base,
            &self.producers,
            false,
        )?);
        Ok(())
    }

    /// Read whole batches starting with the batch that contains `offset`, up to `max_bytes` in total,
    /// but always at least one whole batch if there is one (KIP-74), never a partial batch. One call
    /// returns batches from one segment; the next call continues in the following segment.
    /// `offset == log_end_offset` returns empty records; outside `[log_start_offset, log_end_offset]`
    /// is `OffsetOutOfRange`.
    pub fn read(&self, offset: i64, max_bytes: usize) -> Result<ReadResult> {
        self.check_online()?;
        let result = self.read_online(offset, max_bytes);
        self.storage(result)
    }

    /// [`read`](Self::read) without reading: the same batches as a [`FileRegion`] of one segment file,
    /// to be sent (or read) after the partition's lock is released.
    pub fn read_region(&self, offset: i64, max_bytes: usize) -> Result<RegionRead> {
        self.check_online()?;
        let result = self.read_region_online(offset, max_bytes);
        self.storage(result)
    }

    /// [`read_committed`](Self::read_committed) as a region, when no batch of it lies at or past the
    /// last stable offset (so nothing needs cutting); `None` when one does, and the caller reads in
    /// memory instead.
    pub fn read_committed_region(
        &self,
        offset: i64,
        max_bytes: usize,
    ) -> Result<Option<(RegionRead, Vec<AbortedTxn>)>> {
        self.check_online()?;
        let lso = self.last_stable_offset();
        let end = self.log_end_offset();
        if offset >= lso && offset <= end {
            return Ok(Some((
                RegionRead {
                    region: None,
                    first_offset: offset,
                    next_offset: offset,
                    log_start_offset: self.log_start_offset,
                    log_end_offset: end,
                },
                Vec::new(),
            )));
        }
        let r = self.read_region_online(offset, max_bytes);
        let read = self.storage(r)?;
        if read.region.is_none() {
            return Ok(Some((read, Vec::new())));
        }
        if read.next_offset > lso {
            return Ok(None);
        }
        let aborted = self.aborted_transactions(read.first_offset.min(offset), read.next_offset)?;
        Ok(Some((read, aborted)))
    }

    fn read_region_online(&self, offset: i64, max_bytes: usize) -> Result<RegionRead> {
        let (start, end) = self.readable_range(offset)?;
        let mut read = RegionRead {
            region: None,
            first_offset: offset,
            next_offset: offset,
            log_start_offset: start,
            log_end_offset: end,
        };
        if offset == end {
            return Ok(read);
        }
        for seg in self.segments_from(offset) {
            if let Some((region, first, next)) = seg.region(offset, max_bytes)? {
                read.region = Some(region);
                read.first_offset = first;
                read.next_offset = next;
                break;
            }
        }
        Ok(read)
    }

    /// [`read`](Self::read) for read_committed consumers: only batches below the last stable offset
    /// (a transaction's first batch starts at it, so no batch straddles it), and the aborted
    /// transactions overlapping what is returned, from the `.txnindex` files. Reading at or past the
    /// last stable offset (up to the log end) returns no records.
    pub fn read_committed(
        &self,
        offset: i64,
        max_bytes: usize,
    ) -> Result<(ReadResult, Vec<AbortedTxn>)> {
        self.check_online()?;
        let lso = self.last_stable_offset();
        let mut result = if offset >= lso && offset <= self.log_end_offset() {
            ReadResult {
                records: Bytes::new(),
                log_start_offset: self.log_start_offset,
                log_end_offset: self.log_end_offset(),
            }
        } else {
            let r = self.read_online(offset, max_bytes);
            self.storage(r)?
        };
        let mut kept = 0usize;
        let mut first = None;
        let mut upper = None;
        for b in batch::batches(&result.records) {
            let Ok((h, bytes)) = b else { break };
            if h.base_offset >= lso {
                break;
            }
            first.get_or_insert(h.base_offset);
            upper = Some(h.last_offset() + 1);
            kept += bytes.len();
        }
        result.records.truncate(kept);
        let aborted = match (first, upper) {
            (Some(first), Some(upper)) => self.aborted_transactions(first.min(offset), upper)?,
            _ => Vec::new(),
        };
        Ok((result, aborted))
    }

    /// (log start offset, log end offset), or `OffsetOutOfRange` if `offset` lies outside them.
    fn readable_range(&self, offset: i64) -> Result<(i64, i64)> {
        let (start, end) = (self.log_start_offset, self.log_end_offset());
        if offset < start || offset > end {
            return Err(LogError::OffsetOutOfRange {
                requested: offset,
                start,
                end,
            });
        }
        Ok((start, end))
    }

    fn read_online(&self, offset: i64, max_bytes: usize) -> Result<ReadResult> {
        let (start, end) = self.readable_range(offset)?;
        let result = |records| ReadResult {
            records,
            log_start_offset: start,
            log_end_offset: end,
        };
        if offset == end {
            return Ok(result(Bytes::new()));
        }
        for seg in self.segments_from(offset) {
            // A segment may end before `offset` (compaction removed its last records); move on.
            if let Some(records) = seg.read(offset, max_bytes)? {
                return Ok(result(records));
            }
        }
        Ok(result(Bytes::new()))
    }

    /// The periodic flush the broker runs for every log (off the request path): fsyncs segments
    /// sealed by a roll and checkpoints the recovery point ([`Log::flush_rolled`]), flushes the active
    /// segment if flush_ms has elapsed since the oldest unflushed append, and drops index entries no
    /// lookup used since the previous call. Returns whether it fsynced anything.
    pub fn maybe_flush(&mut self, now_ms: i64) -> Result<bool> {
        let mut flushed = self.flush_rolled()? > 0;
        if self.flush_state.time_due(&self.config, now_ms) {
            self.flush()?;
            flushed = true;
        }
        for seg in self.older.iter_mut() {
            seg.release_index_if_unused();
        }
        self.active.release_index_if_unused();
        Ok(flushed)
    }

    /// Whether segments sealed by a roll still wait for [`Log::flush_rolled`].
    pub fn has_unflushed_rolled(&self) -> bool {
        self.older.iter().any(|s| s.unflushed)
    }

    /// Offset below which every record is known to be fsynced.
    pub fn recovery_point(&self) -> i64 {
        self.recovery_point
    }

    /// fsyncs the segments sealed by rolls (and the directory), advances the recovery point to the
    /// active segment's base and checkpoints it if it moved. Returns how many segments it fsynced.
    /// Cheap when there is nothing to do; the broker calls it from its log executor after an append
    /// that rolled, and periodically through [`Log::maybe_flush`].
    pub fn flush_rolled(&mut self) -> Result<usize> {
        self.check_online()?;
        let result = self.flush_rolled_online();
        self.storage(result)
    }

    fn flush_rolled_online(&mut self) -> Result<usize> {
        let mut flushed = 0;
        for seg in self.older.iter_mut().filter(|s| s.unflushed) {
            seg.flush()?;
            flushed += 1;
        }
        self.sync_snapshot()?;
        self.txn_indexes.sync()?;
        if flushed > 0 && self.dir_dirty {
            files::sync_dir(&self.dir)?;
            self.dir_dirty = false;
        }
        self.recovery_point = self.recovery_point.max(self.active.base_offset());
        self.checkpoint_recovery_point()?;
        Ok(flushed)
    }

    /// Persists the recovery point at segment granularity: recovery validates the active segment
    /// after every unclean stop anyway, so a finer value would gain nothing and cost a checkpoint
    /// write for every flush under flush.messages; this way the file changes only after a roll.
    fn checkpoint_recovery_point(&mut self) -> Result<()> {
        let value = self.recovery_point.min(self.active.base_offset());
        if self.checkpointed_recovery_point != Some(value) {
            checkpoint::write_recovery_point(&self.dir, value)?;
            self.checkpointed_recovery_point = Some(value);
        }
        Ok(())
    }

    /// fsync everything: segments sealed by rolls and not yet flushed, the active segment and its
    /// indexes, and the directory if files were created or removed. Afterwards the recovery point is
    /// the log end offset (the checkpoint file follows at the next `flush_rolled` or close).
    pub fn flush(&mut self) -> Result<()> {
        self.check_online()?;
        let result = self.flush_online();
        self.storage(result)
    }

    fn flush_online(&mut self) -> Result<()> {
        for seg in self.older.iter_mut().filter(|s| s.unflushed) {
            seg.flush()?;
        }
        self.active.flush()?;
        self.sync_snapshot()?;
        self.txn_indexes.sync()?;
        if self.dir_dirty {
            files::sync_dir(&self.dir)?;
            self.dir_dirty = false;
        }
        self.flush_state.flushed();
        self.recovery_point = self.log_end_offset();
        Ok(())
    }

    /// Flush, checkpoint the recovery point and mark the log cleanly closed (so the next open skips
    /// validating segments). An offline log is not marked clean.
    pub fn close(mut self) -> Result<()> {
        self.flush()?;
        let end = self.log_end_offset();
        let result = self
            .checkpoint_recovery_point()
            .and_then(|()| producer_state::write_snapshot(&self.dir, end, &self.producers, true))
            .map(drop)
            .and_then(|()| checkpoint::write_clean_shutdown(&self.dir, end));
        self.storage(result)
    }

    /// Remove the partition directory (DeleteTopics).
    pub fn delete(self) -> Result<()> {
        let dir = self.dir.clone();
        drop(self);
        std::fs::remove_dir_all(&dir).at(&dir)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::batch::{batches, put_i32, validate, LENGTH_POS, MAGIC_POS, RECORDS_COUNT_POS};
    use crate::testutil::{batch as make_batch, rec, simple_batch};
    use kafka_protocol::records::{Compression, RecordBatchDecoder};

    fn open(dir: &Path, config: LogConfig) -> Log {
        Log::open(dir, config).unwrap().0
    }

    fn small() -> LogConfig {
        LogConfig {
            segment_bytes: 1024,
            index_interval_bytes: 128,
            ..LogConfig::default()
        }
    }

    fn read_all(log: &Log, from: i64, max_bytes: usize) -> Vec<u8> {
        assert_eq!(from, log.log_start_offset());
        crate::testutil::read_all(log, max_bytes)
    }

    #[test]
    fn log_can_be_shared_between_threads() {
        // The broker keeps logs behind locks shared by connection tasks; `read` takes `&self`.
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<Log>();
        assert_send_sync::<LogError>();
    }

    #[test]
    fn open_creates_an_empty_log() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("topic-0");
        let (log, report) = Log::open(&path, LogConfig::default()).unwrap();
        assert_eq!(log.dir(), path);
        assert_eq!(log.config(), &LogConfig::default());
        assert_eq!((log.log_start_offset(), log.log_end_offset()), (0, 0));
        assert_eq!((log.segment_count(), log.size_bytes()), (1, 0));
        assert_eq!(report.segments, 1);
        assert_eq!(report.truncated_bytes, 0);
        assert!(path.join("00000000000000000000.log").exists());
        let r = log.read(0, 100).unwrap();
        assert!(r.records.is_empty());
        assert!(matches!(
            log.read(1, 100),
            Err(LogError::OffsetOutOfRange {
                requested: 1,
                start: 0,
                end: 0
            })
        ));
    }

    #[test]
    fn append_assigns_offsets_and_patches_only_offset_and_epoch() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = open(dir.path(), LogConfig::default());
        let a = simple_batch(3, 1000);
        let b = simple_batch(2, 2000);
        let mut req = a.clone();
        req.extend_from_slice(&b);
        let info = log.append(&req, 7, 5000).unwrap();
        assert_eq!(
            info,
            AppendInfo {
                base_offset: 0,
                last_offset: 4,
                log_append_time: -1,
                log_start_offset: 0,
                record_count: 5
            }
        );
        let info = log.append(&a, 8, 5001).unwrap();
        assert_eq!((info.base_offset, info.last_offset), (5, 7));
        assert_eq!(log.log_end_offset(), 8);
        let stored = log.read(0, usize::MAX).unwrap().records;
        assert_eq!(stored.len(), 2 * a.len() + b.len());
        let got: Vec<_> = batches(&stored).map(|x| x.unwrap()).collect();
        let expect = [(0, 7, &a), (3, 7, &b), (5, 8, &a)];
        for ((h, bytes), (base, epoch, orig)) in got.iter().zip(expect) {
            assert_eq!(h.base_offset, base);
            assert_eq!(h.partition_leader_epoch, epoch);
            assert_eq!(&bytes[16..], &orig[16..], "producer bytes kept verbatim");
            validate(bytes).unwrap();
        }
        assert_eq!(log.size_bytes(), stored.len() as u64);
    }

    #[test]
    fn log_append_time_rewrites_timestamp_and_crc() {
        let dir = tempfile::tempdir().unwrap();
        let config = LogConfig {
            timestamp_type: TimestampType::LogAppendTime,
            ..LogConfig::default()
        };
        let mut log = open(dir.path(), config);
        let b = make_batch(&[rec("k", "v"), rec("k2", "v2")], 1000, Compression::Gzip);
        let info = log.append(&b, 0, 1_700_000_000_000).unwrap();
        assert_eq!(info.log_append_time, 1_700_000_000_000);
        let stored = log.read(0, usize::MAX).unwrap().records;
        let h = validate(&stored).unwrap();
        assert_eq!(h.timestamp_type(), TimestampType::LogAppendTime);
        assert_eq!(h.max_timestamp, 1_700_000_000_000);
        assert_eq!(h.base_timestamp, 1000);
        assert_eq!(&stored[HEADER_LEN..], &b[HEADER_LEN..]);
        // An independent decoder accepts the CRC and sees the append time.
        let mut bytes = stored.clone();
        let set = RecordBatchDecoder::decode(&mut bytes).unwrap();
        assert_eq!(set.records.len(), 2);
        assert!(set
            .records
            .iter()
            .all(|r| r.timestamp_type == kafka_protocol::records::TimestampType::LogAppend));
    }

    #[test]
    fn invalid_batches_write_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = open(
            dir.path(),
            LogConfig {
                max_message_bytes: 200,
                ..LogConfig::default()
            },
        );
        let good = simple_batch(2, 0);
        log.append(&good, 0, 0).unwrap();
        let size = log.size_bytes();

        let with_good_first = |bad: &[u8]| {
            let mut v = good.clone();
            v.extend_from_slice(bad);
            v
        };
        let mut crc = good.clone();
        let n = crc.len();
        crc[n - 1] ^= 1;
        let mut magic = good.clone();
        magic[MAGIC_POS] = 1;
        let mut count = good.clone();
        put_i32(&mut count, RECORDS_COUNT_POS, 5);
        let c = batch::compute_crc(&count);
        batch::put_u32(&mut count, CRC_POS, c);
        let big = simple_batch(20, 0);
        let mut torn_len = good.clone();
        put_i32(&mut torn_len, LENGTH_POS, 5000);

        type Case = (Vec<u8>, fn(&LogError) -> bool);
        let cases: Vec<Case> = vec![
            (with_good_first(&crc), |e| {
                matches!(e, LogError::CrcMismatch { .. })
            }),
            (with_good_first(&magic), |e| {
                matches!(e, LogError::UnsupportedMagic(1))
            }),
            (with_good_first(&count), |e| {
                matches!(e, LogError::InvalidRecord(_))
            }),
            (with_good_first(&big), |e| {
                matches!(e, LogError::BatchTooLarge { max: 200, .. })
            }),
            (with_good_first(&torn_len), |e| {
                matches!(e, LogError::CorruptBatch(_))
            }),
            (with_good_first(&good[..30]), |e| {
                matches!(e, LogError::CorruptBatch(_))
            }),
            (Vec::new(), |e| matches!(e, LogError::CorruptBatch(_))),
        ];
        for (i, (req, check)) in cases.iter().enumerate() {
            let err = log.append(req, 0, 0).unwrap_err();
            assert!(check(&err), "case {i}: {err}");
            assert_eq!(log.size_bytes(), size, "case {i} wrote something");
            assert_eq!(log.log_end_offset(), 2);
        }
        assert_eq!(std::fs::metadata(&log.active.log_path).unwrap().len(), size);
    }

    #[test]
    fn compacted_topics_reject_null_keys() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = open(
            dir.path(),
            LogConfig {
                cleanup_policy: crate::CleanupPolicy {
                    delete: false,
                    compact: true,
                },
                ..LogConfig::default()
            },
        );
        let mut keyless = rec("", "v");
        keyless.key = None;
        let bad = make_batch(&[rec("a", "1"), keyless], 0, Compression::Lz4);
        assert!(matches!(
            log.append(&bad, 0, 0),
            Err(LogError::InvalidRecord(_))
        ));
        assert_eq!(log.size_bytes(), 0);
        log.append(&make_batch(&[rec("a", "1")], 0, Compression::Lz4), 0, 0)
            .unwrap();
    }

    #[test]
    fn plain_topics_decode_compressed_batches_before_storing_them() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = open(dir.path(), LogConfig::default());
        let mut keyless = rec("", "v");
        keyless.key = None;
        let good = make_batch(&[rec("a", "1"), keyless], 0, Compression::Zstd);
        // The same batch claiming a third record: its header is whole, its records are not.
        let mut lying = good.clone();
        crate::batch::put_i32(&mut lying, crate::batch::LAST_OFFSET_DELTA_POS, 2);
        crate::batch::put_i32(&mut lying, crate::batch::RECORDS_COUNT_POS, 3);
        let crc = crate::batch::compute_crc(&lying);
        crate::batch::put_u32(&mut lying, crate::batch::CRC_POS, crc);
        assert!(matches!(
            log.append(&lying, 0, 0),
            Err(LogError::CorruptBatch(_))
        ));
        assert_eq!(log.size_bytes(), 0);
        // A keyless record is fine on a plain topic.
        log.append(&good, 0, 0).unwrap();
        assert_eq!(log.log_end_offset(), 2);
    }

    #[test]
    fn read_every_offset_inside_a_multi_record_batch() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = open(dir.path(), LogConfig::default());
        log.append(&simple_batch(1, 0), 0, 0).unwrap();
        let ten = simple_batch(10, 0);
        log.append(&ten, 0, 0).unwrap();
        log.append(&simple_batch(1, 0), 0, 0).unwrap();
        for offset in 1..=10 {
            let r = log.read(offset, 1).unwrap();
            let h = validate(&r.records).unwrap();
            assert_eq!((h.base_offset, h.last_offset()), (1, 10), "offset {offset}");
            assert_eq!(r.records.len(), ten.len());
            assert_eq!((r.log_start_offset, r.log_end_offset), (0, 12));
        }
    }

    #[test]
    fn read_respects_max_bytes_but_returns_at_least_one_batch() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = open(dir.path(), LogConfig::default());
        let b = simple_batch(4, 0);
        for _ in 0..10 {
            log.append(&b, 0, 0).unwrap();
        }
        assert_eq!(log.read(0, 0).unwrap().records.len(), b.len());
        assert_eq!(
            log.read(0, b.len() * 3 + 5).unwrap().records.len(),
            b.len() * 3
        );
        assert_eq!(log.read(8, b.len() * 2).unwrap().records.len(), b.len() * 2);
        assert_eq!(log.read(0, usize::MAX).unwrap().records.len(), b.len() * 10);
        assert!(log.read(40, 100).unwrap().records.is_empty());
    }

    #[test]
    fn rolls_by_size_and_reads_cross_segments() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = open(dir.path(), small());
        let mut expected = Vec::new();
        for i in 0..40 {
            let b = simple_batch(1 + i % 3, i as i64);
            let info = log.append(&b, 0, i as i64).unwrap();
            let stored = log.read(info.base_offset, 1).unwrap().records;
            expected.extend_from_slice(&stored);
        }
        assert!(log.segment_count() > 3, "{}", log.segment_count());
        for s in log.segments() {
            assert!(s.size <= 1024);
        }
        assert_eq!(read_all(&log, 0, 1), expected);
        assert_eq!(read_all(&log, 0, 10_000), expected);
        // A read at a segment's last offset returns that batch; the next continues in the next segment.
        let boundary = log.older[1].base_offset();
        let r = log.read(boundary - 1, 10_000).unwrap();
        let h = validate(&r.records).unwrap();
        assert!(h.base_offset < boundary && h.last_offset() >= boundary - 1);
        let r = log.read(boundary, 10_000).unwrap();
        assert_eq!(validate(&r.records).unwrap().base_offset, boundary);
        assert_eq!(
            std::fs::read_dir(dir.path())
                .unwrap()
                .filter(|e| e.as_ref().unwrap().path().extension().unwrap() == "log")
                .count(),
            log.segment_count()
        );
    }

    #[test]
    fn rolls_by_time_from_first_batch_timestamp() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = open(
            dir.path(),
            LogConfig {
                segment_ms: 1000,
                ..LogConfig::default()
            },
        );
        log.append(&simple_batch(1, 10_000), 0, 10_000).unwrap();
        log.append(&simple_batch(1, 10_900), 0, 10_900).unwrap();
        assert_eq!(log.segment_count(), 1);
        log.append(&simple_batch(1, 11_001), 0, 11_001).unwrap();
        assert_eq!(log.segment_count(), 2);
        assert_eq!(log.active.base_offset(), 2);
        // Without timestamps the segment's creation time (first seen at an append) counts.
        let dir = tempfile::tempdir().unwrap();
        let mut log = open(
            dir.path(),
            LogConfig {
                segment_ms: 1000,
                ..LogConfig::default()
            },
        );
        let mut no_ts = make_batch(&[rec("a", "b")], -1, Compression::None);
        batch::put_i64(&mut no_ts, MAX_TIMESTAMP_POS, -1);
        let c = batch::compute_crc(&no_ts);
        batch::put_u32(&mut no_ts, CRC_POS, c);
        log.append(&no_ts, 0, 0).unwrap();
        log.append(&no_ts, 0, 1000).unwrap();
        assert_eq!(log.segment_count(), 1);
        log.append(&no_ts, 0, 1001).unwrap();
        assert_eq!(log.segment_count(), 2);
    }

    #[test]
    fn flush_policy_by_messages_and_time() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = open(
            dir.path(),
            LogConfig {
                flush_messages: 5,
                flush_ms: 1000,
                ..LogConfig::default()
            },
        );
        log.append(&simple_batch(3, 0), 0, 0).unwrap();
        assert!(log.flush_state.has_unflushed());
        log.append(&simple_batch(2, 0), 0, 10).unwrap();
        assert!(!log.flush_state.has_unflushed(), "flush.messages reached");
        log.append(&simple_batch(1, 0), 0, 100).unwrap();
        assert!(!log.maybe_flush(1099).unwrap());
        assert!(log.maybe_flush(1100).unwrap());
        assert!(!log.maybe_flush(5000).unwrap(), "nothing left to flush");
        log.append(&simple_batch(1, 0), 0, 6000).unwrap();
        log.flush().unwrap();
        assert!(!log.flush_state.has_unflushed());
        assert_eq!(
            std::fs::metadata(dir.path().join("00000000000000000000.index"))
                .unwrap()
                .len(),
            0
        );
    }

    #[test]
    fn set_config_applies_to_next_append() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = open(dir.path(), LogConfig::default());
        let b = simple_batch(30, 0);
        log.append(&b, 0, 0).unwrap();
        let mut c = log.config().clone();
        c.max_message_bytes = 100;
        log.set_config(c.clone());
        assert_eq!(log.config(), &c);
        assert!(matches!(
            log.append(&b, 0, 0),
            Err(LogError::BatchTooLarge { .. })
        ));
    }

    #[test]
    fn close_and_reopen_keeps_everything() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = open(dir.path(), small());
        for i in 0..30 {
            log.append(&simple_batch(2, i), 1, i).unwrap();
        }
        let all = read_all(&log, 0, 333);
        let (segments, leo) = (log.segment_count(), log.log_end_offset());
        log.close().unwrap();
        assert!(dir.path().join(checkpoint::CLEAN_SHUTDOWN_FILE).exists());
        let (log, report) = Log::open(dir.path(), small()).unwrap();
        assert!(!dir.path().join(checkpoint::CLEAN_SHUTDOWN_FILE).exists());
        assert_eq!(report.rebuilt_indexes, 0, "{report:?}");
        assert_eq!(report.truncated_bytes, 0);
        assert_eq!((report.segments, report.log_end_offset), (segments, leo));
        assert_eq!(read_all(&log, 0, 77), all);
        // Unclean reopen (no marker): the active segment is rescanned, nothing is lost.
        drop(log);
        let (mut log, report) = Log::open(dir.path(), small()).unwrap();
        assert_eq!(report.rebuilt_indexes, 1);
        assert_eq!(report.log_end_offset, leo);
        assert_eq!(read_all(&log, 0, 10_000), all);
        assert_eq!(
            log.append(&simple_batch(1, 0), 1, 0).unwrap().base_offset,
            leo
        );
    }

    #[test]
    fn append_enforces_timestamp_bounds_only_for_create_time() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = open(dir.path(), LogConfig::default());
        let hour = 3_600_000;
        let future = make_batch(&[rec("a", "1")], 2 * hour, Compression::Gzip);
        assert!(matches!(
            log.append(&future, 0, 0),
            Err(LogError::InvalidTimestamp(_))
        ));
        assert_eq!(log.log_end_offset(), 0, "nothing written");
        log.append(&future, 0, hour).unwrap();
        let mut c = log.config().clone();
        c.message_timestamp_before_max_ms = 1000;
        log.set_config(c.clone());
        assert!(matches!(
            log.append(&simple_batch(1, 0), 0, 5000),
            Err(LogError::InvalidTimestamp(_))
        ));
        c.timestamp_type = TimestampType::LogAppendTime;
        log.set_config(c);
        log.append(&simple_batch(1, 0), 0, 5000).unwrap();
        log.append(&future, 0, 0).unwrap();
    }

    #[test]
    fn delete_removes_the_directory() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t-3");
        let mut log = open(&path, LogConfig::default());
        log.append(&simple_batch(1, 0), 0, 0).unwrap();
        log.delete().unwrap();
        assert!(!path.exists());
    }
}
