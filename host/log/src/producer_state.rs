//! Idempotent-producer state of one partition, after Kafka's `ProducerStateManager`: per producer id
//! its epoch and the last [`BATCHES_TO_RETAIN`] batches (sequence range, offsets, timestamp), checked
//! on append from batch headers alone; Kafka's `.snapshot` files; and expiry.
//!
//! The check mirrors `ProducerAppendInfo.checkProducerEpoch`/`checkSequence` for client appends
//! (Kafka 3.x/4.x): an older epoch is INVALID_PRODUCER_EPOCH; a newer epoch must start at sequence 0
//! unless the producer is unknown; within an epoch the first sequence must follow the last one
//! (wrapping after `i32::MAX`), except that a producer with no state (unknown, expired, or all its
//! records removed) may start at any sequence — KIP-360 removed UNKNOWN_PRODUCER_ID for that. A batch
//! whose epoch and sequence range equal one of the retained batches is a duplicate: the caller answers
//! it with the original offsets and stores nothing.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::path::{Path, PathBuf};

use crate::batch::BatchHeader;
use crate::error::{IoContext, LogError, Result};
use crate::files;

/// Batches remembered per producer (Kafka's `NUM_BATCHES_TO_RETAIN`, which clients rely on: at most
/// five in-flight requests per connection with idempotence).
pub const BATCHES_TO_RETAIN: usize = 5;
/// "No epoch yet" (Kafka's `RecordBatch.NO_PRODUCER_EPOCH`).
const NO_EPOCH: i16 = -1;
/// Suffix of Kafka's producer snapshot files, `<20-digit offset>.snapshot`.
pub const SNAPSHOT_SUFFIX: &str = "snapshot";
/// Snapshot files kept after writing a new one (the newest is the one recovery uses).
const SNAPSHOTS_KEPT: usize = 2;

/// One appended batch of a producer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchMeta {
    pub first_seq: i32,
    pub last_seq: i32,
    pub first_offset: i64,
    pub last_offset: i64,
    /// The batch's max timestamp (the append time under LogAppendTime).
    pub timestamp: i64,
}

/// What the partition knows about one producer id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProducerEntry {
    pub epoch: i16,
    /// Oldest first, at most [`BATCHES_TO_RETAIN`].
    pub batches: VecDeque<BatchMeta>,
    /// Timestamp of the last write, for expiry.
    pub last_timestamp: i64,
    /// Epoch of the transaction coordinator that wrote this producer's last marker (-1: none).
    pub coordinator_epoch: i32,
    /// Offset of the first record of the producer's open transaction in this partition.
    pub current_txn_first_offset: Option<i64>,
}

impl ProducerEntry {
    fn empty() -> Self {
        ProducerEntry {
            epoch: NO_EPOCH,
            batches: VecDeque::new(),
            last_timestamp: -1,
            coordinator_epoch: -1,
            current_txn_first_offset: None,
        }
    }

    /// Sequence number of the producer's last batch (-1: none retained).
    pub fn last_sequence(&self) -> i32 {
        self.last_seq()
    }

    fn last_seq(&self) -> i32 {
        self.batches.back().map_or(-1, |b| b.last_seq)
    }

    fn find_duplicate(&self, epoch: i16, first_seq: i32, last_seq: i32) -> Option<BatchMeta> {
        if epoch != self.epoch {
            return None;
        }
        self.batches
            .iter()
            .find(|b| b.first_seq == first_seq && b.last_seq == last_seq)
            .copied()
    }

    /// Records a batch; a new epoch forgets the old epoch's batches.
    fn push(&mut self, epoch: i16, meta: BatchMeta) {
        if epoch != self.epoch {
            self.batches.clear();
            self.epoch = epoch;
        }
        if self.batches.len() == BATCHES_TO_RETAIN {
            self.batches.pop_front();
        }
        self.batches.push_back(meta);
        self.last_timestamp = meta.timestamp;
    }
}

/// Whether `next` follows `last` (sequences wrap from `i32::MAX` to 0).
fn in_sequence(last: i32, next: i32) -> bool {
    i64::from(next) == i64::from(last) + 1 || (next == 0 && last == i32::MAX)
}

/// Outcome of checking an append against the producer state.
#[derive(Debug)]
pub(crate) enum Checked {
    /// The append repeats a stored batch: answer with its offsets, write nothing.
    Duplicate(BatchMeta),
    /// The append may go ahead; these entries replace the stored ones once it is written.
    Append(Vec<(i64, ProducerEntry)>),
}

/// A transaction a marker ended in this partition (Kafka's `CompletedTxn`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CompletedTxn {
    pub producer_id: i64,
    pub first_offset: i64,
    /// Offset of the marker.
    pub last_offset: i64,
    pub aborted: bool,
}

/// What a transaction marker carries besides its producer (Kafka's `EndTransactionMarker`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MarkerInfo {
    pub commit: bool,
    pub coordinator_epoch: i32,
}

/// Every producer's state in one partition.
#[derive(Debug, Default)]
pub struct ProducerStates {
    producers: HashMap<i64, ProducerEntry>,
    /// Open transactions by first offset (to producer id): the smallest key is the last stable offset.
    ongoing: BTreeMap<i64, i64>,
}

impl ProducerStates {
    pub fn len(&self) -> usize {
        self.producers.len()
    }

    pub fn is_empty(&self) -> bool {
        self.producers.is_empty()
    }

    /// Every producer, by id.
    pub fn entries(&self) -> impl Iterator<Item = (i64, &ProducerEntry)> {
        let mut all: Vec<_> = self.producers.iter().map(|(k, v)| (*k, v)).collect();
        all.sort_by_key(|(k, _)| *k);
        all.into_iter()
    }

    pub fn get(&self, producer_id: i64) -> Option<&ProducerEntry> {
        self.producers.get(&producer_id)
    }

    /// Checks the batches of one append (headers with the offsets they would get, `first_offset` on)
    /// without changing anything. `ts` gives a batch's timestamp as it will be stored.
    pub(crate) fn check<'a>(
        &self,
        headers: impl Iterator<Item = &'a BatchHeader>,
        first_offset: i64,
        ts: impl Fn(&BatchHeader) -> i64,
    ) -> Result<Checked> {
        let mut updated: Vec<(i64, ProducerEntry)> = Vec::new();
        let mut offset = first_offset;
        for h in headers {
            let count = i64::from(h.last_offset_delta) + 1;
            let this_offset = offset;
            offset += count;
            if h.producer_id < 0 {
                continue;
            }
            let pid = h.producer_id;
            let current = self.producers.get(&pid);
            if let Some(d) = current.and_then(|e| {
                e.find_duplicate(h.producer_epoch, h.base_sequence, h.last_sequence())
            }) {
                return Ok(Checked::Duplicate(d));
            }
            let current_epoch = current.map_or(NO_EPOCH, |e| e.epoch);
            let i = match updated.iter().position(|(p, _)| *p == pid) {
                Some(i) => i,
                None => {
                    updated.push((pid, current.cloned().unwrap_or_else(ProducerEntry::empty)));
                    updated.len() - 1
                }
            };
            let entry = &mut updated[i].1;
            if h.producer_epoch < entry.epoch {
                return Err(LogError::InvalidProducerEpoch(format!(
                    "epoch {} of producer {pid} at offset {this_offset} is smaller than the last seen epoch {}",
                    h.producer_epoch, entry.epoch
                )));
            }
            if h.producer_epoch != entry.epoch {
                if h.base_sequence != 0 && entry.epoch != NO_EPOCH {
                    return Err(LogError::OutOfOrderSequence(format!(
                        "invalid sequence number for new epoch {} of producer {pid} at offset {this_offset}: \
                         {} (must be 0), current epoch {}",
                        h.producer_epoch, h.base_sequence, entry.epoch
                    )));
                }
            } else if !(current_epoch == NO_EPOCH || in_sequence(entry.last_seq(), h.base_sequence))
            {
                return Err(LogError::OutOfOrderSequence(format!(
                    "out of order sequence number for producer {pid} at offset {this_offset}: {} \
                     (incoming), {} (current end sequence number)",
                    h.base_sequence,
                    entry.last_seq()
                )));
            }
            // Kafka's `appendDataBatch`: a transactional batch opens the producer's transaction
            // here unless one is open; a plain batch inside an open transaction is refused.
            match (entry.current_txn_first_offset, h.is_transactional()) {
                (Some(first), false) => {
                    return Err(LogError::InvalidTxnState(format!(
                        "non-transactional batch from producer {pid} at offset {this_offset} while \
                         its transaction that started at offset {first} is open"
                    )))
                }
                (None, true) => entry.current_txn_first_offset = Some(this_offset),
                _ => {}
            }
            entry.push(
                h.producer_epoch,
                BatchMeta {
                    first_seq: h.base_sequence,
                    last_seq: h.last_sequence(),
                    first_offset: this_offset,
                    last_offset: this_offset + count - 1,
                    timestamp: ts(h),
                },
            );
        }
        Ok(Checked::Append(updated))
    }

    /// Checks a transaction marker for `producer_id` at `offset` (Kafka's `appendEndTxnMarker`): an
    /// epoch older than the producer's is INVALID_PRODUCER_EPOCH, a coordinator epoch older than the
    /// last marker's is TRANSACTION_COORDINATOR_FENCED. Returns the producer's new entry and the
    /// transaction it ends (none when the producer wrote nothing here since its last marker).
    pub(crate) fn check_marker(
        &self,
        producer_id: i64,
        epoch: i16,
        marker: MarkerInfo,
        offset: i64,
        timestamp: i64,
    ) -> Result<(ProducerEntry, Option<CompletedTxn>)> {
        let mut entry = self
            .producers
            .get(&producer_id)
            .cloned()
            .unwrap_or_else(ProducerEntry::empty);
        if epoch < entry.epoch {
            return Err(LogError::InvalidProducerEpoch(format!(
                "epoch {epoch} of the transaction marker for producer {producer_id} at offset {offset} \
                 is smaller than the last seen epoch {}",
                entry.epoch
            )));
        }
        if marker.coordinator_epoch < entry.coordinator_epoch {
            return Err(LogError::CoordinatorFenced(format!(
                "coordinator epoch {} of the transaction marker for producer {producer_id} at offset \
                 {offset} is older than the current {}",
                marker.coordinator_epoch, entry.coordinator_epoch
            )));
        }
        let completed = entry.current_txn_first_offset.map(|first| CompletedTxn {
            producer_id,
            first_offset: first,
            last_offset: offset,
            aborted: !marker.commit,
        });
        if epoch != entry.epoch {
            entry.batches.clear();
            entry.epoch = epoch;
        }
        entry.coordinator_epoch = marker.coordinator_epoch;
        entry.current_txn_first_offset = None;
        entry.last_timestamp = timestamp;
        Ok((entry, completed))
    }

    /// Kafka's `lastStableOffset(completedTxn)`: the first offset of the earliest transaction still
    /// open once `done` ends, or the offset after its marker.
    pub(crate) fn last_stable_offset_after(&self, done: &CompletedTxn) -> i64 {
        self.ongoing
            .iter()
            .find(|(_, pid)| **pid != done.producer_id)
            .map_or(done.last_offset + 1, |(first, _)| *first)
    }

    /// First offset of the earliest open transaction (the last stable offset, when there is one).
    pub fn first_unstable_offset(&self) -> Option<i64> {
        self.ongoing.keys().next().copied()
    }

    /// Open transactions as (first offset, producer id), earliest first.
    pub fn ongoing_transactions(&self) -> impl Iterator<Item = (i64, i64)> + '_ {
        self.ongoing.iter().map(|(f, p)| (*f, *p))
    }

    /// Stores one producer's entry, keeping the open-transaction map in step.
    fn put(&mut self, pid: i64, entry: ProducerEntry) {
        let old = self
            .producers
            .get(&pid)
            .and_then(|e| e.current_txn_first_offset);
        if old != entry.current_txn_first_offset {
            if let Some(first) = old {
                self.ongoing.remove(&first);
            }
            if let Some(first) = entry.current_txn_first_offset {
                self.ongoing.insert(first, pid);
            }
        }
        self.producers.insert(pid, entry);
    }

    /// Stores the entry [`check_marker`](Self::check_marker) computed, after the marker was written.
    pub(crate) fn apply_marker(&mut self, pid: i64, entry: ProducerEntry) {
        self.put(pid, entry);
    }

    /// Stores what [`check`](Self::check) computed, after the append was written.
    pub(crate) fn apply(&mut self, updated: Vec<(i64, ProducerEntry)>) {
        for (pid, entry) in updated {
            self.put(pid, entry);
        }
    }

    /// Replays a stored batch (recovery): no checks, as Kafka's replication-origin append. A control
    /// batch needs its marker (`None`: a control batch compaction emptied, which changes nothing);
    /// returns the transaction a marker ended.
    pub(crate) fn replay(
        &mut self,
        h: &BatchHeader,
        marker: Option<MarkerInfo>,
    ) -> Option<CompletedTxn> {
        if h.producer_id < 0 {
            return None;
        }
        if h.is_control() {
            let marker = marker?;
            let mut entry = self
                .producers
                .get(&h.producer_id)
                .cloned()
                .unwrap_or_else(ProducerEntry::empty);
            let completed = entry.current_txn_first_offset.map(|first| CompletedTxn {
                producer_id: h.producer_id,
                first_offset: first,
                last_offset: h.base_offset,
                aborted: !marker.commit,
            });
            if h.producer_epoch != entry.epoch {
                entry.batches.clear();
                entry.epoch = h.producer_epoch;
            }
            entry.coordinator_epoch = marker.coordinator_epoch;
            entry.current_txn_first_offset = None;
            entry.last_timestamp = h.max_timestamp;
            self.put(h.producer_id, entry);
            return completed;
        }
        let mut entry = self
            .producers
            .get(&h.producer_id)
            .cloned()
            .unwrap_or_else(ProducerEntry::empty);
        if h.is_transactional() && entry.current_txn_first_offset.is_none() {
            entry.current_txn_first_offset = Some(h.base_offset);
        }
        entry.push(
            h.producer_epoch,
            BatchMeta {
                first_seq: h.base_sequence,
                last_seq: h.last_sequence(),
                first_offset: h.base_offset,
                last_offset: h.last_offset(),
                timestamp: h.max_timestamp,
            },
        );
        self.put(h.producer_id, entry);
        None
    }

    /// Forgets producers whose last write is at least `expiration_ms` old (producer.id.expiration.ms,
    /// measured on the batch timestamps as Kafka does). Returns how many it removed.
    pub(crate) fn expire(&mut self, now_ms: i64, expiration_ms: i64) -> usize {
        let before = self.producers.len();
        // A producer with an open transaction is kept, as in Kafka (the coordinator's timeout ends it).
        self.producers.retain(|_, e| {
            e.current_txn_first_offset.is_some()
                || now_ms.saturating_sub(e.last_timestamp) < expiration_ms
        });
        before - self.producers.len()
    }

    /// Kafka's snapshot encoding (ProducerSnapshot v1): `version i16 | crc u32 | count i32 | entries`,
    /// each entry `producerId i64, epoch i16, lastSequence i32, lastOffset i64, offsetDelta i32,
    /// timestamp i64, coordinatorEpoch i32, currentTxnFirstOffset i64`; the CRC-32C covers everything
    /// after the CRC. Like Kafka, only each producer's last batch is kept.
    pub fn encode_snapshot(&self) -> Vec<u8> {
        let mut ids: Vec<&i64> = self.producers.keys().collect();
        ids.sort();
        let mut out = Vec::with_capacity(10 + ids.len() * ENTRY_LEN);
        out.extend_from_slice(&SNAPSHOT_VERSION.to_be_bytes());
        out.extend_from_slice(&[0; 4]);
        out.extend_from_slice(&(ids.len() as i32).to_be_bytes());
        for id in ids {
            let e = &self.producers[id];
            let last = e.batches.back();
            out.extend_from_slice(&id.to_be_bytes());
            out.extend_from_slice(&e.epoch.to_be_bytes());
            out.extend_from_slice(&last.map_or(-1, |b| b.last_seq).to_be_bytes());
            out.extend_from_slice(&last.map_or(-1i64, |b| b.last_offset).to_be_bytes());
            let delta = last.map_or(0, |b| (b.last_offset - b.first_offset) as i32);
            out.extend_from_slice(&delta.to_be_bytes());
            out.extend_from_slice(&e.last_timestamp.to_be_bytes());
            out.extend_from_slice(&e.coordinator_epoch.to_be_bytes());
            out.extend_from_slice(&e.current_txn_first_offset.unwrap_or(-1).to_be_bytes());
        }
        let crc = crc32c::crc32c(&out[6..]);
        out[2..6].copy_from_slice(&crc.to_be_bytes());
        out
    }

    /// Reads Kafka's snapshot encoding; a wrong version, a bad CRC or a count the bytes cannot hold is
    /// [`LogError::CorruptSnapshot`].
    pub fn decode_snapshot(bytes: &[u8]) -> std::result::Result<ProducerStates, String> {
        if bytes.len() < 10 {
            return Err(format!(
                "{} bytes is shorter than a snapshot header",
                bytes.len()
            ));
        }
        let version = i16::from_be_bytes([bytes[0], bytes[1]]);
        if version != SNAPSHOT_VERSION {
            return Err(format!("unknown snapshot version {version}"));
        }
        let stored = u32::from_be_bytes([bytes[2], bytes[3], bytes[4], bytes[5]]);
        let computed = crc32c::crc32c(&bytes[6..]);
        if stored != computed {
            return Err(format!(
                "CRC mismatch: stored {stored:#010x}, computed {computed:#010x}"
            ));
        }
        let count = i32::from_be_bytes([bytes[6], bytes[7], bytes[8], bytes[9]]);
        let body = &bytes[10..];
        if count < 0 || body.len() != count as usize * ENTRY_LEN {
            return Err(format!(
                "{count} entries do not match the {} bytes that follow",
                body.len()
            ));
        }
        let mut producers = HashMap::with_capacity(count as usize);
        for e in body.chunks_exact(ENTRY_LEN) {
            let i64_at = |at: usize| crate::batch::get_i64(e, at);
            let i32_at = |at: usize| crate::batch::get_i32(e, at);
            let pid = i64_at(0);
            let epoch = crate::batch::get_i16(e, 8);
            let last_seq = i32_at(10);
            let last_offset = i64_at(14);
            let delta = i32_at(22);
            let timestamp = i64_at(26);
            let txn_first = i64_at(38);
            let mut entry = ProducerEntry {
                epoch,
                batches: VecDeque::new(),
                last_timestamp: timestamp,
                coordinator_epoch: i32_at(34),
                current_txn_first_offset: (txn_first >= 0).then_some(txn_first),
            };
            if last_offset >= 0 {
                let first_seq = if last_seq >= delta {
                    last_seq - delta
                } else {
                    // The batch wrapped past i32::MAX (Kafka's decrementSequence).
                    i32::MAX - (delta - last_seq) + 1
                };
                entry.batches.push_back(BatchMeta {
                    first_seq,
                    last_seq,
                    first_offset: last_offset - i64::from(delta),
                    last_offset,
                    timestamp,
                });
            }
            producers.insert(pid, entry);
        }
        let ongoing = producers
            .iter()
            .filter_map(|(pid, e)| e.current_txn_first_offset.map(|f| (f, *pid)))
            .collect();
        Ok(ProducerStates { producers, ongoing })
    }
}

const SNAPSHOT_VERSION: i16 = 1;
const ENTRY_LEN: usize = 8 + 2 + 4 + 8 + 4 + 8 + 4 + 8;

/// `<dir>/<20-digit offset>.snapshot`.
pub(crate) fn snapshot_path(dir: &Path, offset: i64) -> PathBuf {
    dir.join(format!("{offset:020}.{SNAPSHOT_SUFFIX}"))
}

/// The snapshot files in `dir` as (offset, path), oldest first.
pub(crate) fn list_snapshots(dir: &Path) -> Result<Vec<(i64, PathBuf)>> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).at(dir)? {
        let entry = entry.at(dir)?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        let Some((stem, ext)) = name.split_once('.') else {
            continue;
        };
        if ext != SNAPSHOT_SUFFIX || stem.len() != 20 || !stem.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        if let Ok(offset) = stem.parse::<i64>() {
            out.push((offset, entry.path()));
        }
    }
    out.sort();
    Ok(out)
}

/// Writes the snapshot for `offset` and removes all but the newest [`SNAPSHOTS_KEPT`]; returns its
/// path. With `sync` it is written atomically and fsynced (close); without, it is written to a temp
/// file and renamed, and the caller fsyncs it with the next flush ([`sync_snapshot`]), as Kafka's roll
/// does: a roll never fsyncs on the append path. A snapshot a power loss tore fails its CRC at the next
/// open and the older one (plus more replay) is used instead.
pub(crate) fn write_snapshot(
    dir: &Path,
    offset: i64,
    states: &ProducerStates,
    sync: bool,
) -> Result<PathBuf> {
    let path = snapshot_path(dir, offset);
    let bytes = states.encode_snapshot();
    if sync {
        files::write_atomically(&path, &bytes)?;
    } else {
        let tmp = dir.join(format!(
            "{offset:020}.{SNAPSHOT_SUFFIX}.{}",
            files::TMP_SUFFIX
        ));
        let file = crate::fsio::create(&tmp).at(&tmp)?;
        crate::fsio::write_all(&file, &tmp, &bytes).at(&tmp)?;
        drop(file);
        crate::fsio::rename(&tmp, &path).at(&path)?;
    }
    let all = list_snapshots(dir)?;
    for (_, old) in all.iter().rev().skip(SNAPSHOTS_KEPT) {
        crate::fsio::remove_file(old).at(old)?;
    }
    Ok(path)
}

/// fsyncs a snapshot [`write_snapshot`] wrote without sync (the directory is fsynced by the caller).
pub(crate) fn sync_snapshot(path: &Path) -> Result<()> {
    let file = crate::fsio::open(path, std::fs::OpenOptions::new().read(true)).at(path)?;
    crate::fsio::sync_all(&file, path).at(path)
}

/// Loads the newest readable snapshot at or below `log_end`; snapshots above it (from a log that was
/// cut back in recovery) and unreadable ones are removed with a warning. Returns the state and the
/// offset to replay the log from (`None`: no snapshot).
pub(crate) fn load_snapshot(dir: &Path, log_end: i64) -> Result<(ProducerStates, Option<i64>)> {
    // A roll's snapshot interrupted before its rename.
    let tmp_suffix = format!(".{SNAPSHOT_SUFFIX}.{}", files::TMP_SUFFIX);
    for entry in std::fs::read_dir(dir).at(dir)? {
        let path = entry.at(dir)?.path();
        if path
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.ends_with(&tmp_suffix))
        {
            files::remove_if_exists(&path)?;
        }
    }
    let mut all = list_snapshots(dir)?;
    while let Some((offset, path)) = all.pop() {
        if offset > log_end {
            tracing::warn!(file = %path.display(), log_end, "removing a producer snapshot past the log end");
            crate::fsio::remove_file(&path).at(&path)?;
            continue;
        }
        let bytes = std::fs::read(&path).at(&path)?;
        match ProducerStates::decode_snapshot(&bytes) {
            Ok(states) => return Ok((states, Some(offset))),
            Err(reason) => {
                tracing::warn!(file = %path.display(), %reason, "removing an unreadable producer snapshot");
                crate::fsio::remove_file(&path).at(&path)?;
            }
        }
    }
    Ok((ProducerStates::default(), None))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(pid: i64, epoch: i16, seq: i32, records: i32) -> BatchHeader {
        BatchHeader {
            base_offset: 0,
            batch_length: 100,
            partition_leader_epoch: -1,
            magic: 2,
            crc: 0,
            attributes: 0,
            last_offset_delta: records - 1,
            base_timestamp: 1000,
            max_timestamp: 1000,
            producer_id: pid,
            producer_epoch: epoch,
            base_sequence: seq,
            records_count: records,
        }
    }

    fn append(s: &mut ProducerStates, h: BatchHeader, at: i64) -> Result<Option<BatchMeta>> {
        match s.check(std::iter::once(&h), at, |h| h.max_timestamp)? {
            Checked::Duplicate(d) => Ok(Some(d)),
            Checked::Append(u) => {
                s.apply(u);
                Ok(None)
            }
        }
    }

    #[test]
    fn sequences_duplicates_gaps_and_epochs() {
        let mut s = ProducerStates::default();
        // Unknown producer: any first sequence is accepted (KIP-360).
        assert_eq!(append(&mut s, header(7, 0, 10, 5), 0).unwrap(), None);
        assert_eq!(append(&mut s, header(7, 0, 15, 5), 5).unwrap(), None);
        // The first batch again is a duplicate with its original offsets.
        let d = append(&mut s, header(7, 0, 10, 5), 10).unwrap().unwrap();
        assert_eq!((d.first_offset, d.last_offset), (0, 4));
        // A gap.
        let e = append(&mut s, header(7, 0, 21, 1), 10).unwrap_err();
        assert!(matches!(e, LogError::OutOfOrderSequence(_)), "{e}");
        // An older epoch after a newer one.
        assert_eq!(append(&mut s, header(7, 1, 0, 1), 10).unwrap(), None);
        let e = append(&mut s, header(7, 0, 20, 1), 11).unwrap_err();
        assert!(matches!(e, LogError::InvalidProducerEpoch(_)), "{e}");
        // A new epoch must start at 0 for a known producer.
        let e = append(&mut s, header(7, 2, 5, 1), 11).unwrap_err();
        assert!(matches!(e, LogError::OutOfOrderSequence(_)), "{e}");
    }

    #[test]
    fn sequences_wrap_at_i32_max() {
        let mut s = ProducerStates::default();
        append(&mut s, header(1, 0, i32::MAX - 1, 2), 0).unwrap();
        assert_eq!(append(&mut s, header(1, 0, 0, 3), 2).unwrap(), None);
        // A batch that itself wraps.
        let mut s = ProducerStates::default();
        append(&mut s, header(2, 0, i32::MAX - 1, 4), 0).unwrap();
        assert_eq!(s.get(2).unwrap().last_seq(), 1);
        assert_eq!(append(&mut s, header(2, 0, 2, 1), 4).unwrap(), None);
    }

    #[test]
    fn only_five_batches_are_remembered() {
        let mut s = ProducerStates::default();
        for i in 0..6 {
            append(&mut s, header(3, 0, i, 1), i64::from(i)).unwrap();
        }
        // The first batch fell out: it is now an out-of-order sequence, not a duplicate.
        assert!(append(&mut s, header(3, 0, 0, 1), 6).is_err());
        assert!(append(&mut s, header(3, 0, 1, 1), 6).unwrap().is_some());
    }

    #[test]
    fn snapshot_round_trips_the_last_batch_and_rejects_damage() {
        let mut s = ProducerStates::default();
        append(&mut s, header(9, 3, i32::MAX - 1, 4), 100).unwrap();
        append(&mut s, header(4, 0, 0, 2), 104).unwrap();
        let bytes = s.encode_snapshot();
        let back = ProducerStates::decode_snapshot(&bytes).unwrap();
        assert_eq!(
            back.get(9).unwrap().batches.back(),
            s.get(9).unwrap().batches.back()
        );
        assert_eq!(back.get(4).unwrap(), s.get(4).unwrap());
        let mut bad = bytes.clone();
        let last = bad.len() - 1;
        bad[last] ^= 1;
        assert!(ProducerStates::decode_snapshot(&bad).is_err());
        // A count larger than the bytes is refused before anything is allocated.
        let mut lying = bytes[..10].to_vec();
        lying[6..10].copy_from_slice(&i32::MAX.to_be_bytes());
        let crc = crc32c::crc32c(&lying[6..]);
        lying[2..6].copy_from_slice(&crc.to_be_bytes());
        assert!(ProducerStates::decode_snapshot(&lying).is_err());
    }

    /// A batch from producer `pid` (epoch 0) starting at sequence `seq`, records `n`.
    fn idem_batch(pid: i64, seq: i32, n: usize) -> Vec<u8> {
        use crate::testutil::{batch, rec};
        let recs: Vec<_> = (0..n).map(|i| rec(&format!("k{i}"), "value")).collect();
        let mut b = batch(&recs, 1000, kafka_protocol::records::Compression::None);
        b[43..51].copy_from_slice(&pid.to_be_bytes());
        b[51..53].copy_from_slice(&0i16.to_be_bytes());
        b[53..57].copy_from_slice(&seq.to_be_bytes());
        let crc = crc32c::crc32c(&b[21..]);
        b[17..21].copy_from_slice(&crc.to_be_bytes());
        b
    }

    #[test]
    fn rolls_write_snapshots_and_an_unclean_reopen_still_dedupes() {
        use crate::{Log, LogConfig};
        let dir = tempfile::tempdir().unwrap();
        let config = LogConfig {
            segment_bytes: 400,
            ..LogConfig::default()
        };
        let mut log = Log::open(dir.path(), config.clone()).unwrap().0;
        let mut offsets = Vec::new();
        for i in 0..20 {
            let info = log.append(&idem_batch(5, i * 2, 2), -1, 2000).unwrap();
            offsets.push(info.base_offset);
        }
        assert!(log.segment_count() > 2, "no rolls happened");
        let snaps = list_snapshots(dir.path()).unwrap();
        assert_eq!(snaps.len(), SNAPSHOTS_KEPT, "{snaps:?}");
        // Dropped without close(): no clean-shutdown marker and no snapshot at the log end, as after
        // a kill -9; the state comes back from the last roll's snapshot plus the headers after it.
        drop(log);
        let mut log = Log::open(dir.path(), config).unwrap().0;
        for back in 1..=BATCHES_TO_RETAIN {
            let i = 20 - back;
            let info = log
                .append(&idem_batch(5, i as i32 * 2, 2), -1, 2000)
                .unwrap();
            assert_eq!(info.record_count, 0, "batch {i} stored twice");
            assert_eq!(info.base_offset, offsets[i]);
        }
        assert_eq!(log.log_end_offset(), 40);
        let gap = log.append(&idem_batch(5, 41, 1), -1, 2000).unwrap_err();
        assert!(matches!(gap, LogError::OutOfOrderSequence(_)), "{gap}");
        assert_eq!(
            log.append(&idem_batch(5, 40, 1), -1, 2000)
                .unwrap()
                .base_offset,
            40
        );
    }

    #[test]
    fn expiry_drops_idle_producers() {
        let mut s = ProducerStates::default();
        append(&mut s, header(1, 0, 0, 1), 0).unwrap();
        assert_eq!(s.expire(1000 + 99, 100), 0);
        assert_eq!(s.expire(1000 + 100, 100), 1);
        assert!(s.is_empty());
    }
}
