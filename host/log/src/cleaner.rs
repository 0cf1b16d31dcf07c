//! The lock-free middle step of compaction: from a [`CompactionPlan`] (a snapshot of the cleanable
//! segments), build the bounded key map of the dirty part, decide record by record what survives, and
//! write the cleaned segment files next to the live ones. Nothing here touches the `Log`.

use std::collections::hash_map::DefaultHasher;
use std::collections::HashMap;
use std::fs::File;
use std::hash::Hasher;
use std::ops::Range;
use std::path::{Path, PathBuf};

use crate::batch::{self, BatchHeader};
use crate::compaction::{CompactionBuild, CompactionPlan, PlannedSegment};
use crate::error::{IoContext, LogError, Result};
use crate::files::{self, FileKind, CLEANED_SUFFIX};
use crate::fsio;
use crate::index::Indexer;
use crate::record::{BatchBuilder, DecodeLimits, RecordStream};
use crate::scan::{Scanner, Step, SCAN_CHUNK};

/// What one key-map entry may cost at worst: 25 bytes per hash-table slot (a 128-bit key hash, an
/// 8-byte offset, a control byte) at a 7/8 load factor after a power-of-two growth (up to 2.3 slots
/// per key), plus the old table alive while a resize copies it: about 86 bytes, rounded up. Kafka's
/// `SkimpyOffsetMap` packs 24 bytes per key into a preallocated array; a growable map that stays within
/// `log.cleaner.dedupe.buffer.size` at its worst moment holds fewer keys per pass.
pub(crate) const MAP_ENTRY_BYTES: u64 = 96;

/// Latest offset per key of the dirty part, keyed by a 128-bit hash of the key (like Kafka's
/// `SkimpyOffsetMap`), holding at most `capacity` keys.
pub(crate) struct KeyMap {
    map: HashMap<u128, i64>,
    capacity: usize,
}

fn key_hash(key: &[u8]) -> u128 {
    let half = |seed: u8| {
        let mut h = DefaultHasher::new();
        h.write_u8(seed);
        h.write(key);
        h.finish()
    };
    (u128::from(half(0)) << 64) | u128::from(half(1))
}

impl KeyMap {
    fn new(capacity: usize) -> KeyMap {
        KeyMap {
            map: HashMap::new(),
            capacity: capacity.max(1),
        }
    }

    /// Records `offset` as the latest for `key`; false (and nothing stored) when a new key would
    /// exceed the capacity.
    fn put(&mut self, key: &[u8], offset: i64) -> bool {
        let h = key_hash(key);
        if let Some(o) = self.map.get_mut(&h) {
            *o = offset;
            return true;
        }
        if self.map.len() >= self.capacity {
            return false;
        }
        self.map.insert(h, offset);
        true
    }

    fn get(&self, key: &[u8]) -> Option<i64> {
        self.map.get(&key_hash(key)).copied()
    }
}

fn corrupt_at(path: &Path, position: u64, err: LogError) -> LogError {
    match err {
        LogError::CorruptBatch(msg) => LogError::CorruptBatch(format!(
            "{} batch at position {position}: {msg}",
            path.display()
        )),
        other => other,
    }
}

/// Calls `f` for every batch of the snapshot `seg` (CRC-checked).
fn for_each_batch(
    seg: &PlannedSegment,
    mut f: impl FnMut(&BatchHeader, &[u8]) -> Result<()>,
) -> Result<()> {
    let mut scanner = Scanner::new(&seg.file, 0, seg.size, SCAN_CHUNK);
    loop {
        match scanner.next(true).at(&seg.log_path)? {
            Step::End => return Ok(()),
            Step::Invalid { reason, .. } => {
                return Err(LogError::CorruptBatch(format!(
                    "{}: {reason}",
                    seg.log_path.display()
                )))
            }
            Step::Batch {
                position,
                header,
                bytes,
            } => {
                batch::check_integrity(&header, bytes)
                    .map_err(|e| corrupt_at(&seg.log_path, position, e))?;
                f(&header, bytes).map_err(|e| corrupt_at(&seg.log_path, position, e))?;
            }
        }
    }
}

/// Whether `header` is a data batch of a transaction `aborted` lists (its producer aborted the
/// transaction its offsets fall in).
fn is_aborted(aborted: &[crate::txn_index::AbortedTxn], header: &BatchHeader) -> bool {
    header.is_transactional()
        && !header.is_control()
        && aborted.iter().any(|a| {
            a.producer_id == header.producer_id
                && a.first_offset <= header.base_offset
                && header.base_offset <= a.last_offset
        })
}

/// The rules one pass applies to every record below `end`.
struct Rules<'m> {
    map: &'m KeyMap,
    plan: &'m CompactionPlan,
    /// Records at or past this offset were not mapped and stay as they are.
    end: i64,
    now_ms: i64,
    delete_retention_ms: i64,
    max_message_bytes: u32,
}

/// What happens to one batch.
struct Decision {
    /// One flag per record, in order.
    keep: Vec<bool>,
    removed: u64,
    /// KIP-534: the batch keeps a tombstone and has no delete horizon yet, so it gets one.
    set_horizon: Option<i64>,
    /// The delete horizon of the kept tombstones, if any.
    tombstone_due: Option<i64>,
}

impl Decision {
    fn unchanged(&self) -> bool {
        self.removed == 0 && self.set_horizon.is_none()
    }
}

impl Rules<'_> {
    fn limits(&self, header: &BatchHeader) -> DecodeLimits {
        DecodeLimits::for_batch(header, self.max_message_bytes)
    }

    /// Kafka's `shouldRetainRecord` with KIP-534 delete horizons: keep the latest record of each key;
    /// keep a tombstone until the horizon set when the cleaner first kept it has passed.
    fn decide(&self, header: &BatchHeader, bytes: &[u8]) -> Result<Decision> {
        let mut d = Decision {
            keep: Vec::new(),
            removed: 0,
            set_horizon: None,
            tombstone_due: None,
        };
        if header.is_control() || header.base_offset >= self.end {
            return Ok(d);
        }
        // A producer's last batch stays whole (its sequence and epoch survive a replay); markers
        // stay too (above): the aborted data they describe may still be read by an older reader.
        if header.producer_id >= 0
            && self
                .plan
                .producer_last_batches
                .contains(&header.last_offset())
        {
            return Ok(d);
        }
        if is_aborted(&self.plan.aborted, header) {
            let n = usize::try_from(header.records_count).unwrap_or(0);
            d.keep = vec![false; n];
            d.removed = n as u64;
            return Ok(d);
        }
        let horizon = header.has_delete_horizon().then_some(header.base_timestamp);
        let mut kept_tombstone = false;
        let mut records = RecordStream::open(bytes, header, self.limits(header))?;
        while let Some(r) = records.next_record()? {
            let offset = r.offset(header);
            let keep = if offset >= self.end {
                true
            } else {
                let latest = r
                    .key
                    .is_some_and(|k| self.map.get(k).is_none_or(|m| offset >= m));
                let expired = r.value.is_none() && horizon.is_some_and(|h| self.now_ms >= h);
                latest && !expired
            };
            if keep && r.value.is_none() {
                kept_tombstone = true;
            }
            d.removed += u64::from(!keep);
            d.keep.push(keep);
        }
        records.finish()?;
        if kept_tombstone {
            let h = match horizon {
                Some(h) => h,
                None => {
                    let h = self.now_ms.saturating_add(self.delete_retention_ms);
                    d.set_horizon = Some(h);
                    h
                }
            };
            d.tombstone_due = Some(h);
        }
        Ok(d)
    }

    /// The changed batch as it should be written: `None` when none of its records survive.
    fn rebuild(&self, header: &BatchHeader, bytes: &[u8], d: &Decision) -> Result<Option<Vec<u8>>> {
        if d.keep.iter().all(|k| !k) {
            return Ok(None);
        }
        let mut out = BatchBuilder::new(bytes, header, d.set_horizon)?;
        let mut records = RecordStream::open(bytes, header, self.limits(header))?;
        let mut i = 0;
        while let Some(r) = records.next_record()? {
            if d.keep.get(i).copied().unwrap_or(true) {
                out.push(&r)?;
            }
            i += 1;
        }
        if out.is_empty() {
            return Ok(None);
        }
        out.finish().map(Some)
    }
}

/// How much of a cleaned segment is buffered before it is written out.
const CLEANED_WRITE_BUFFER: usize = 1 << 20;

/// A cleaned segment being written next to the live ones as `<base>.*.cleaned`. Its writes and
/// fsync go through `fsio` like every other write of the log, so the fault-injection tests reach
/// them; it buffers by hand because a `BufWriter` would write around that layer.
pub(crate) struct Cleaned {
    pub(crate) base: i64,
    log_path: PathBuf,
    file: Option<File>,
    buf: Vec<u8>,
    pub(crate) size: u64,
    ix: Indexer,
    interval: u32,
}

impl Cleaned {
    fn create(dir: &Path, base: i64, interval: u32) -> Result<Cleaned> {
        let cleaned =
            |kind| files::with_suffix(&files::segment_path(dir, base, kind), CLEANED_SUFFIX);
        let log_path = cleaned(FileKind::Log);
        let ix = Indexer::new(base, cleaned(FileKind::Index), cleaned(FileKind::TimeIndex));
        ix.index.delete_file()?;
        ix.time_index.delete_file()?;
        let file = fsio::create(&log_path).at(&log_path)?;
        Ok(Cleaned {
            base,
            log_path,
            file: Some(file),
            buf: Vec::with_capacity(CLEANED_WRITE_BUFFER),
            size: 0,
            ix,
            interval,
        })
    }

    fn write_buffered(&mut self) -> Result<()> {
        if let Some(file) = &self.file {
            if !self.buf.is_empty() {
                fsio::write_all(file, &self.log_path, &self.buf).at(&self.log_path)?;
            }
        }
        self.buf.clear();
        Ok(())
    }

    fn push(&mut self, bytes: &[u8], header: &BatchHeader) -> Result<()> {
        if self.buf.len() + bytes.len() > CLEANED_WRITE_BUFFER {
            self.write_buffered()?;
        }
        if bytes.len() > CLEANED_WRITE_BUFFER {
            if let Some(file) = &self.file {
                fsio::write_all(file, &self.log_path, bytes).at(&self.log_path)?;
            }
        } else {
            self.buf.extend_from_slice(bytes);
        }
        self.ix.track(self.size, header, self.interval);
        self.size += bytes.len() as u64;
        Ok(())
    }

    /// Everything durable before the swap starts.
    fn finish(&mut self) -> Result<()> {
        self.write_buffered()?;
        if let Some(file) = self.file.take() {
            fsio::sync_all(&file, &self.log_path).at(&self.log_path)?;
        }
        self.ix.seal();
        self.ix.write_pending(true)
    }

    /// Removes the files (a build that is dropped or aborted).
    pub(crate) fn discard(&mut self) -> Result<()> {
        self.file.take();
        self.buf = Vec::new();
        files::remove_if_exists(&self.log_path)?;
        self.ix.index.delete_file()?;
        self.ix.time_index.delete_file()
    }
}

/// One run of consecutive changed segments, cleaned into one file.
pub(crate) struct BuiltGroup {
    /// Base offsets and sizes of the segments it replaces, for the check before the swap.
    pub(crate) replaces: Vec<(i64, u64)>,
    pub(crate) cleaned: Cleaned,
    pub(crate) removed: u64,
}

/// Consecutive runs of the segments flagged in `changed` that fit in one segment (segment.bytes and
/// 32-bit relative offsets); unchanged segments are left out, so they are neither read again nor
/// rewritten.
fn group_segments(segs: &[PlannedSegment], changed: &[bool], max_bytes: u64) -> Vec<Range<usize>> {
    let mut groups = Vec::new();
    let mut start = 0;
    while start < segs.len() {
        if !changed[start] {
            start += 1;
            continue;
        }
        let base = segs[start].base;
        let mut size = segs[start].size;
        let mut end = start + 1;
        while end < segs.len()
            && changed[end]
            && size + segs[end].size <= max_bytes
            && segs[end].next_offset - 1 - base <= i64::from(i32::MAX)
        {
            size += segs[end].size;
            end += 1;
        }
        groups.push(start..end);
        start = end;
    }
    groups
}

impl CompactionPlan {
    /// Maps the latest offset of each key in the dirty part, up to the map's capacity. Returns the
    /// map and the offset it covers up to (exclusive): the end of the cleanable part, or the first
    /// record whose key did not fit.
    fn build_map(&self) -> Result<(KeyMap, i64)> {
        let mut map = KeyMap::new(self.map_capacity);
        let last = self
            .segments
            .last()
            .map_or(self.first_dirty, |s| s.next_offset);
        for seg in self
            .segments
            .iter()
            .filter(|s| s.next_offset > self.first_dirty)
        {
            let mut full_at = None;
            for_each_batch(seg, |header, bytes| {
                // Aborted data never shadows a committed value.
                if full_at.is_some()
                    || header.is_control()
                    || header.last_offset() < self.first_dirty
                    || is_aborted(&self.aborted, header)
                {
                    return Ok(());
                }
                let limits = DecodeLimits::for_batch(header, self.max_message_bytes);
                let mut records = RecordStream::open(bytes, header, limits)?;
                while let Some(r) = records.next_record()? {
                    let offset = r.offset(header);
                    if offset < self.first_dirty {
                        continue;
                    }
                    if let Some(k) = r.key {
                        if !map.put(k, offset) {
                            full_at = Some(offset);
                            return Ok(());
                        }
                    }
                }
                records.finish()
            })?;
            if let Some(end) = full_at {
                return Ok((map, end));
            }
        }
        Ok((map, last))
    }

    /// Step (b): build the cleaned segment files from the snapshot, without the log. Reads the
    /// planned segments through their own file handles, so a segment deleted meanwhile is still
    /// readable here; [`crate::Log::apply_compaction`] notices and aborts.
    pub fn build(self) -> Result<CompactionBuild> {
        let (map, end) = self.build_map()?;
        let rules = Rules {
            map: &map,
            plan: &self,
            end,
            now_ms: self.now_ms,
            delete_retention_ms: self.delete_retention_ms,
            max_message_bytes: self.max_message_bytes,
        };
        // Survey: which segments below `end` change at all, and when kept tombstones expire.
        let below: Vec<&PlannedSegment> = self.segments.iter().filter(|s| s.base < end).collect();
        let mut changed = vec![false; self.segments.len()];
        let mut tombstone_due: Option<i64> = None;
        for (i, seg) in below.iter().enumerate() {
            for_each_batch(seg, |header, bytes| {
                let d = rules.decide(header, bytes)?;
                changed[i] |= !d.unchanged();
                if let Some(due) = d.tombstone_due {
                    tombstone_due = Some(tombstone_due.map_or(due, |t| t.min(due)));
                }
                Ok(())
            })?;
        }
        let mut build = CompactionBuild {
            dir: self.dir.clone(),
            first_dirty: self.first_dirty,
            end,
            tombstone_due,
            groups: Vec::new(),
        };
        for range in group_segments(&self.segments[..below.len()], &changed, self.segment_bytes) {
            let segs = &self.segments[range];
            let mut cleaned = Cleaned::create(&self.dir, segs[0].base, self.index_interval_bytes)?;
            let mut removed = 0u64;
            let written = segs.iter().try_for_each(|seg| {
                for_each_batch(seg, |header, bytes| {
                    let d = rules.decide(header, bytes)?;
                    removed += d.removed;
                    if d.unchanged() {
                        return cleaned.push(bytes, header);
                    }
                    match rules.rebuild(header, bytes, &d)? {
                        Some(b) => {
                            let h = BatchHeader::parse(&b)?;
                            cleaned.push(&b, &h)
                        }
                        None => Ok(()),
                    }
                })
            });
            let written = written.and_then(|()| cleaned.finish());
            let group = BuiltGroup {
                replaces: segs.iter().map(|s| (s.base, s.size)).collect(),
                cleaned,
                removed,
            };
            // Dropping the build removes every file written so far.
            build.groups.push(group);
            written?;
        }
        Ok(build)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_map_is_bounded_and_updates_in_place() {
        let mut m = KeyMap::new(2);
        assert!(m.put(b"a", 1));
        assert!(m.put(b"b", 2));
        assert!(m.put(b"a", 3), "an existing key never needs room");
        assert!(!m.put(b"c", 4));
        assert_eq!(
            (m.get(b"a"), m.get(b"b"), m.get(b"c")),
            (Some(3), Some(2), None)
        );
        assert_ne!(key_hash(b"ab"), key_hash(b"ba"));
    }
}
