//! A segment's sparse offset index (`.index`) and time index (`.timeindex`): appended to disk in
//! Kafka's entry format and read into memory only when a lookup needs them, plus the rule that decides
//! when an entry is due.

use std::fs::{File, OpenOptions};
use std::marker::PhantomData;
use std::os::unix::fs::FileExt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

use crate::batch::{BatchHeader, HEADER_LEN};
use crate::error::{IoContext, Result};
use crate::{files, fsio};

/// A fixed-size index entry stored relative to the segment's base offset.
pub(crate) trait Entry: Copy {
    const SIZE: usize;
    fn encode(&self, base: i64, out: &mut Vec<u8>);
    fn decode(b: &[u8], base: i64) -> Self;
    /// Whether `self` may follow `prev` in a well-formed index.
    fn follows(&self, prev: &Self) -> bool;
}

/// `.index` entry: the last offset of a batch and the file position where that batch starts
/// (Kafka's choice: looking up offset `o` finds the batch holding `o` at or after that position).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct OffsetEntry {
    pub offset: i64,
    pub position: u32,
}

/// `.timeindex` entry: the largest timestamp seen so far and the last offset of the first batch
/// that reached it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TimeEntry {
    pub timestamp: i64,
    pub offset: i64,
}

fn relative(offset: i64, base: i64) -> Option<u32> {
    offset
        .checked_sub(base)
        .and_then(|r| i32::try_from(r).ok())
        .and_then(|r| u32::try_from(r).ok())
}

impl Entry for OffsetEntry {
    const SIZE: usize = 8;
    fn encode(&self, base: i64, out: &mut Vec<u8>) {
        let rel = (self.offset - base) as u32;
        out.extend_from_slice(&rel.to_be_bytes());
        out.extend_from_slice(&self.position.to_be_bytes());
    }
    fn decode(b: &[u8], base: i64) -> Self {
        let rel = u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
        OffsetEntry {
            offset: base.saturating_add(i64::from(rel)),
            position: u32::from_be_bytes([b[4], b[5], b[6], b[7]]),
        }
    }
    fn follows(&self, prev: &Self) -> bool {
        self.offset > prev.offset && self.position > prev.position
    }
}

impl Entry for TimeEntry {
    const SIZE: usize = 12;
    fn encode(&self, base: i64, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.timestamp.to_be_bytes());
        out.extend_from_slice(&((self.offset - base) as u32).to_be_bytes());
    }
    fn decode(b: &[u8], base: i64) -> Self {
        let mut ts = [0u8; 8];
        ts.copy_from_slice(&b[..8]);
        let rel = u32::from_be_bytes([b[8], b[9], b[10], b[11]]);
        TimeEntry {
            timestamp: i64::from_be_bytes(ts),
            offset: base.saturating_add(i64::from(rel)),
        }
    }
    fn follows(&self, prev: &Self) -> bool {
        self.timestamp > prev.timestamp && self.offset >= prev.offset
    }
}

/// One index file. Only its last entry and the entries not yet written are always in memory; the
/// entries in the file are read on the first lookup that needs them and dropped again by
/// [`IndexFile::release_if_unused`], so opening a log and keeping it open costs memory and I/O
/// independent of how much data it holds. The file is only ever appended to (or rewritten whole after
/// a rebuild). Entries reach the file at roll, flush and close; a crash loses only entries of segments
/// recovery rebuilds anyway.
#[derive(Debug)]
pub(crate) struct IndexFile<E> {
    path: PathBuf,
    base: i64,
    /// Entries in the file.
    persisted: usize,
    /// The last entry (pending or persisted).
    last: Option<E>,
    /// Entries not yet written to the file, in order after the persisted ones.
    pending: Vec<E>,
    /// The persisted entries, once a lookup needed them.
    resident: Mutex<Option<Vec<E>>>,
    /// A lookup used `resident` since the last `release_if_unused`.
    used: AtomicBool,
    _kind: PhantomData<E>,
}

pub(crate) type OffsetIndex = IndexFile<OffsetEntry>;
pub(crate) type TimeIndex = IndexFile<TimeEntry>;

/// Most index entries a log of `log_size` bytes can need: each entry names a distinct batch, and a
/// batch is at least a header long. Bounds what a damaged or foreign index file can make us allocate.
fn max_entries(log_size: u64) -> u64 {
    log_size / HEADER_LEN as u64 + 1
}

impl<E: Entry> IndexFile<E> {
    pub(crate) fn new(path: PathBuf, base: i64) -> Self {
        IndexFile {
            path,
            base,
            persisted: 0,
            last: None,
            pending: Vec::new(),
            resident: Mutex::new(Some(Vec::new())),
            used: AtomicBool::new(false),
            _kind: PhantomData,
        }
    }

    /// Opens the file without reading its entries: only its size and last entry. `Ok(Err(reason))`
    /// means it is missing, torn or too large for a log of `log_size` bytes and must be rebuilt.
    pub(crate) fn open(
        path: PathBuf,
        base: i64,
        log_size: u64,
    ) -> Result<std::result::Result<Self, String>> {
        let file = match File::open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(Err(format!("{} is missing", path.display())))
            }
            Err(e) => return Err(e).at(&path),
        };
        let len = file.metadata().at(&path)?.len();
        if len % E::SIZE as u64 != 0 {
            return Ok(Err(format!(
                "{} is {len} bytes, not a multiple of the {}-byte entry size",
                path.display(),
                E::SIZE
            )));
        }
        let count = len / E::SIZE as u64;
        if count > max_entries(log_size) {
            return Ok(Err(format!(
                "{} holds {count} entries, more than a {log_size}-byte log can need",
                path.display()
            )));
        }
        let last = if count == 0 {
            None
        } else {
            let mut buf = [0u8; 16];
            let buf = &mut buf[..E::SIZE];
            file.read_exact_at(buf, len - E::SIZE as u64).at(&path)?;
            Some(E::decode(buf, base))
        };
        Ok(Ok(IndexFile {
            path,
            base,
            // `count` is bounded by the log size above, which is far below usize::MAX on 64-bit.
            persisted: usize::try_from(count).unwrap_or(usize::MAX),
            last,
            pending: Vec::new(),
            resident: Mutex::new(if count == 0 { Some(Vec::new()) } else { None }),
            used: AtomicBool::new(false),
            _kind: PhantomData,
        }))
    }

    #[cfg(test)]
    pub(crate) fn path(&self) -> &std::path::Path {
        &self.path
    }

    /// Every entry, persisted and pending (tests compare whole indexes).
    #[cfg(test)]
    pub(crate) fn entries(&self) -> Vec<E> {
        let mut all = self.with_resident(|r| r.to_vec());
        all.extend_from_slice(&self.pending);
        all
    }

    pub(crate) fn last(&self) -> Option<E> {
        self.last
    }

    pub(crate) fn clear(&mut self) {
        self.persisted = 0;
        self.last = None;
        self.pending.clear();
        *self.resident_mut() = Some(Vec::new());
    }

    fn resident_mut(&mut self) -> &mut Option<Vec<E>> {
        self.resident.get_mut().unwrap_or_else(|e| e.into_inner())
    }

    fn push(&mut self, e: E) {
        self.pending.push(e);
        self.last = Some(e);
    }

    /// Reads the persisted entries. A file that cannot be read or whose entries are not increasing
    /// yields no entries (lookups then scan the segment from its start, which is slower but right),
    /// with a warning; an open-time check only looked at the last entry.
    fn read_entries(&self) -> Vec<E> {
        let want = self.persisted.saturating_mul(E::SIZE);
        let read = File::open(&self.path).and_then(|f| {
            let mut buf = vec![0u8; want];
            f.read_exact_at(&mut buf, 0).map(|()| buf)
        });
        let entries: Vec<E> = match read {
            Ok(buf) => buf
                .chunks_exact(E::SIZE)
                .map(|c| E::decode(c, self.base))
                .collect(),
            Err(e) => {
                tracing::warn!(file = %self.path.display(), error = %e, "cannot read index; scanning the segment instead");
                return Vec::new();
            }
        };
        if !entries.windows(2).all(|w| w[1].follows(&w[0])) {
            tracing::warn!(file = %self.path.display(), "index entries are not increasing; scanning the segment instead");
            return Vec::new();
        }
        entries
    }

    /// Runs `f` on the persisted entries, reading them first if they are not resident.
    fn with_resident<T>(&self, f: impl FnOnce(&[E]) -> T) -> T {
        let mut guard = self.resident.lock().unwrap_or_else(|e| e.into_inner());
        self.used.store(true, Ordering::Relaxed);
        let entries = guard.get_or_insert_with(|| self.read_entries());
        f(entries)
    }

    /// Drops the resident entries if no lookup used them since the previous call; returns whether it
    /// dropped them. Called periodically, so an index stays in memory only while it is being used.
    pub(crate) fn release_if_unused(&mut self) -> bool {
        if self.used.swap(false, Ordering::Relaxed) || self.persisted == 0 {
            return false;
        }
        self.resident_mut().take().is_some()
    }

    /// Whether the persisted entries are in memory.
    #[cfg(test)]
    pub(crate) fn is_resident(&self) -> bool {
        self.resident
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .is_some()
    }

    /// Appends the entries not yet on disk (creating the file if needed), optionally fsyncing.
    pub(crate) fn write_pending(&mut self, sync: bool) -> Result<()> {
        let file =
            fsio::open(&self.path, OpenOptions::new().create(true).append(true)).at(&self.path)?;
        if !self.pending.is_empty() {
            let mut buf = Vec::with_capacity(self.pending.len() * E::SIZE);
            for e in &self.pending {
                e.encode(self.base, &mut buf);
            }
            fsio::write_all(&file, &self.path, &buf).at(&self.path)?;
            self.persisted += self.pending.len();
            let pending = std::mem::take(&mut self.pending);
            if let Some(resident) = self.resident_mut() {
                resident.extend_from_slice(&pending);
            }
        }
        if sync {
            fsio::sync_data(&file, &self.path).at(&self.path)?;
        }
        Ok(())
    }

    /// Replaces the file with exactly the in-memory entries (after a rebuild, when every entry is
    /// pending); they stay resident.
    pub(crate) fn rewrite(&mut self) -> Result<()> {
        let mut all = self.resident_mut().take().unwrap_or_default();
        if all.len() != self.persisted {
            // Entries on disk that are not resident cannot be part of a rebuild; start from the pending.
            all.clear();
        }
        all.append(&mut self.pending);
        let mut buf = Vec::with_capacity(all.len() * E::SIZE);
        for e in &all {
            e.encode(self.base, &mut buf);
        }
        let file = fsio::create(&self.path).at(&self.path)?;
        fsio::write_all(&file, &self.path, &buf).at(&self.path)?;
        self.persisted = all.len();
        self.last = all.last().copied();
        *self.resident_mut() = Some(all);
        Ok(())
    }

    pub(crate) fn delete_file(&self) -> Result<()> {
        files::remove_if_exists(&self.path)
    }
}

impl IndexFile<OffsetEntry> {
    /// Adds an entry if it keeps offsets and positions strictly increasing and fits the 32-bit
    /// relative encoding.
    pub(crate) fn append(&mut self, offset: i64, position: u64) -> bool {
        let (Some(_), Ok(position)) = (relative(offset, self.base), u32::try_from(position)) else {
            return false;
        };
        if let Some(last) = self.last {
            if offset <= last.offset || position <= last.position {
                return false;
            }
        }
        self.push(OffsetEntry { offset, position });
        true
    }

    /// The entry with the largest offset `<= target`: scanning from its position finds the batch
    /// that contains `target`. Reads the file's entries unless the pending ones answer.
    pub(crate) fn lookup_entry(&self, target: i64) -> Option<OffsetEntry> {
        let last_before = |entries: &[OffsetEntry]| {
            let i = entries.partition_point(|e| e.offset <= target);
            (i > 0).then(|| entries[i - 1])
        };
        if self.pending.first().is_some_and(|e| e.offset <= target) {
            return last_before(&self.pending);
        }
        if self.persisted == 0 {
            return None;
        }
        self.with_resident(last_before)
    }

    /// The entry with the largest position `<= position`: a batch starts there (a fetch cutting at a
    /// byte limit walks from it). Reads the file's entries unless the pending ones answer.
    pub(crate) fn floor_by_position(&self, position: u64) -> Option<OffsetEntry> {
        let last_at_or_before = |entries: &[OffsetEntry]| {
            let i = entries.partition_point(|e| u64::from(e.position) <= position);
            (i > 0).then(|| entries[i - 1])
        };
        if self
            .pending
            .first()
            .is_some_and(|e| u64::from(e.position) <= position)
        {
            return last_at_or_before(&self.pending);
        }
        if self.persisted == 0 {
            return None;
        }
        self.with_resident(last_at_or_before)
    }

    /// File position to start scanning for `target` (0 if no entry precedes it).
    pub(crate) fn lookup(&self, target: i64) -> u32 {
        self.lookup_entry(target).map_or(0, |e| e.position)
    }

    /// Open-time check against the log file, on the last entry only (lookups check the rest when they
    /// read the file): in range and pointing inside the file.
    pub(crate) fn check_last(&self, log_size: u64) -> std::result::Result<(), String> {
        let Some(e) = self.last else { return Ok(()) };
        if relative(e.offset, self.base).is_none() {
            return Err(format!(
                "{}: entry offset {} out of range",
                self.path.display(),
                e.offset
            ));
        }
        if u64::from(e.position) >= log_size {
            return Err(format!(
                "{}: entry position {} is past the end of the log ({log_size} bytes)",
                self.path.display(),
                e.position
            ));
        }
        Ok(())
    }
}

impl IndexFile<TimeEntry> {
    /// Adds an entry only when the timestamp grows (so entries stay strictly increasing).
    pub(crate) fn maybe_append(&mut self, timestamp: i64, offset: i64) -> bool {
        if timestamp < 0 || relative(offset, self.base).is_none() {
            return false;
        }
        if let Some(last) = self.last {
            if timestamp <= last.timestamp || offset < last.offset {
                return false;
            }
        }
        self.push(TimeEntry { timestamp, offset });
        true
    }

    /// Offset of the entry with the largest timestamp `<= ts`. Every batch before the one holding that
    /// offset has a smaller max timestamp, so a search for `ts` may start at that batch.
    pub(crate) fn lookup(&self, ts: i64) -> Option<i64> {
        let last_before = |entries: &[TimeEntry]| {
            let i = entries.partition_point(|e| e.timestamp <= ts);
            (i > 0).then(|| entries[i - 1].offset)
        };
        if self.pending.first().is_some_and(|e| e.timestamp <= ts) {
            return last_before(&self.pending);
        }
        if self.persisted == 0 {
            return None;
        }
        self.with_resident(last_before)
    }

    /// Open-time check of the last entry: its offset lies inside the segment.
    pub(crate) fn check_last(&self, next_offset: i64) -> std::result::Result<(), String> {
        let Some(e) = self.last else { return Ok(()) };
        if relative(e.offset, self.base).is_none()
            || e.offset >= next_offset.max(self.base.saturating_add(1))
        {
            return Err(format!(
                "{}: entry offset {} out of range",
                self.path.display(),
                e.offset
            ));
        }
        Ok(())
    }
}

/// Both indexes of a segment plus the running state the indexing rule needs. Appends, recovery and
/// compaction all feed batches through [`Indexer::track`], so an index rebuilt from the file is
/// identical to the one written while appending.
#[derive(Debug)]
pub(crate) struct Indexer {
    pub base: i64,
    pub index: OffsetIndex,
    pub time_index: TimeIndex,
    /// Last offset + 1, or the base offset while empty.
    pub next_offset: i64,
    /// Largest batch max timestamp, -1 if none.
    pub max_timestamp: i64,
    /// Last offset of the first batch that reached `max_timestamp`.
    pub offset_of_max_timestamp: i64,
    /// Bytes appended since the last offset-index entry.
    pub bytes_since_entry: u64,
    /// Max timestamp of the first batch, which Kafka's segment.ms roll measures from.
    pub first_batch_timestamp: Option<i64>,
}

impl Indexer {
    pub(crate) fn new(base: i64, index_path: PathBuf, time_index_path: PathBuf) -> Self {
        Indexer {
            base,
            index: OffsetIndex::new(index_path, base),
            time_index: TimeIndex::new(time_index_path, base),
            next_offset: base,
            max_timestamp: -1,
            offset_of_max_timestamp: base,
            bytes_since_entry: 0,
            first_batch_timestamp: None,
        }
    }

    /// Forgets all batches (before a rebuild).
    pub(crate) fn reset(&mut self) {
        self.index.clear();
        self.time_index.clear();
        self.next_offset = self.base;
        self.max_timestamp = -1;
        self.offset_of_max_timestamp = self.base;
        self.bytes_since_entry = 0;
        self.first_batch_timestamp = None;
    }

    /// Kafka's rule: once more than `interval` bytes were appended since the last entry, the next batch
    /// gets an offset-index entry (its last offset, its position) and the time index records the max
    /// timestamp so far.
    pub(crate) fn track(&mut self, position: u64, header: &BatchHeader, interval: u32) {
        let last = header.last_offset();
        if self.first_batch_timestamp.is_none() && position == 0 {
            self.first_batch_timestamp = Some(header.max_timestamp);
        }
        if header.max_timestamp > self.max_timestamp {
            self.max_timestamp = header.max_timestamp;
            self.offset_of_max_timestamp = last;
        }
        if self.bytes_since_entry > u64::from(interval) {
            self.index.append(last, position);
            self.time_index
                .maybe_append(self.max_timestamp, self.offset_of_max_timestamp);
            self.bytes_since_entry = 0;
        }
        self.bytes_since_entry += header.total_size() as u64;
        self.next_offset = self.next_offset.max(last.saturating_add(1));
    }

    /// The last time-index entry Kafka writes when a segment stops being active, so the segment's
    /// largest timestamp is on disk.
    pub(crate) fn seal(&mut self) {
        self.time_index
            .maybe_append(self.max_timestamp, self.offset_of_max_timestamp);
    }

    pub(crate) fn write_pending(&mut self, sync: bool) -> Result<()> {
        self.index.write_pending(sync)?;
        self.time_index.write_pending(sync)
    }

    pub(crate) fn rewrite(&mut self) -> Result<()> {
        self.index.rewrite()?;
        self.time_index.rewrite()
    }

    /// Drops the resident entries of indexes no lookup used since the previous call.
    pub(crate) fn release_if_unused(&mut self) -> bool {
        let a = self.index.release_if_unused();
        let b = self.time_index.release_if_unused();
        a || b
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offset_index_round_trips_and_looks_up() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("00000000000000000100.index");
        let mut idx = OffsetIndex::new(path.clone(), 100);
        assert!(idx.append(110, 4000));
        assert!(idx.append(120, 8000));
        assert!(!idx.append(120, 9000), "offsets must increase");
        assert!(!idx.append(130, 8000), "positions must increase");
        assert!(!idx.append(99, 1), "below base");
        assert!(
            !idx.append(100 + i64::from(i32::MAX) + 1, 10_000),
            "relative overflow"
        );
        assert_eq!(idx.lookup(50), 0);
        assert_eq!(idx.lookup(109), 0);
        assert_eq!(idx.lookup(110), 4000);
        assert_eq!(idx.lookup(119), 4000);
        assert_eq!(idx.lookup(500), 8000);
        idx.write_pending(true).unwrap();
        assert_eq!(std::fs::read(&path).unwrap().len(), 16);
        let raw = std::fs::read(&path).unwrap();
        assert_eq!(&raw[..8], &[0, 0, 0, 10, 0, 0, 0x0f, 0xa0]);
        let loaded = OffsetIndex::open(path.clone(), 100, 8001).unwrap().unwrap();
        assert!(!loaded.is_resident(), "open reads only the last entry");
        assert_eq!(loaded.last(), idx.last());
        assert_eq!(loaded.lookup(119), 4000);
        assert!(
            loaded.is_resident(),
            "a lookup below the last entry reads the file"
        );
        assert_eq!(loaded.entries(), idx.entries());
        assert!(loaded.check_last(8001).is_ok());
        assert!(loaded.check_last(8000).is_err());
    }

    #[test]
    fn resident_entries_are_dropped_when_unused_and_read_again() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("00000000000000000000.index");
        let mut idx = OffsetIndex::new(path.clone(), 0);
        for i in 1..100u32 {
            assert!(idx.append(i64::from(i) * 10, u64::from(i) * 1000));
        }
        idx.write_pending(false).unwrap();
        assert!(
            idx.is_resident(),
            "entries written by this process stay until released"
        );
        assert!(idx.release_if_unused());
        assert!(!idx.is_resident());
        assert_eq!(idx.lookup(555), 55_000);
        assert!(!idx.release_if_unused(), "used since the last release");
        assert!(idx.is_resident());
        assert!(idx.release_if_unused());
        // Pending entries answer lookups without reading the file.
        assert!(idx.append(2000, 200_000));
        assert_eq!(idx.lookup(2001), 200_000);
        assert!(!idx.is_resident());
        assert_eq!(idx.lookup(15), 1000);
        assert!(idx.is_resident());
    }

    #[test]
    fn index_load_detects_missing_and_torn_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.index");
        assert!(OffsetIndex::open(path.clone(), 0, 1000).unwrap().is_err());
        std::fs::write(&path, [0u8; 12]).unwrap();
        assert!(OffsetIndex::open(path.clone(), 0, 1000).unwrap().is_err());
        // More entries than a log of this size can need: refused before anything is read.
        std::fs::write(&path, vec![0u8; 8 * 100]).unwrap();
        assert!(OffsetIndex::open(path.clone(), 0, 61 * 10)
            .unwrap()
            .is_err());
        // Non-increasing entries are found when a lookup reads the file; it then scans from 0.
        std::fs::write(&path, [0, 0, 0, 5, 0, 0, 0, 9, 0, 0, 0, 5, 0, 0, 0, 10]).unwrap();
        let idx = OffsetIndex::open(path, 0, 1000).unwrap().unwrap();
        assert!(idx.check_last(100).is_ok());
        assert_eq!(idx.lookup_entry(6), None);
        assert!(idx.entries().is_empty());
    }

    #[test]
    fn time_index_appends_only_growing_timestamps() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.timeindex");
        let mut t = TimeIndex::new(path.clone(), 10);
        assert!(!t.maybe_append(-1, 10));
        assert!(t.maybe_append(1000, 12));
        assert!(!t.maybe_append(1000, 14));
        assert!(!t.maybe_append(900, 14));
        assert!(t.maybe_append(2000, 20));
        assert_eq!(t.lookup(999), None);
        assert_eq!(t.lookup(1000), Some(12));
        assert_eq!(t.lookup(1999), Some(12));
        assert_eq!(t.lookup(5000), Some(20));
        t.write_pending(false).unwrap();
        let raw = std::fs::read(&path).unwrap();
        assert_eq!(raw.len(), 24);
        assert_eq!(&raw[8..12], &[0, 0, 0, 2]);
        let loaded = TimeIndex::open(path, 10, 1000).unwrap().unwrap();
        assert_eq!(loaded.entries(), t.entries());
        assert!(loaded.check_last(21).is_ok());
        assert!(loaded.check_last(20).is_err());
    }

    #[test]
    fn rewrite_replaces_file_contents() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.index");
        std::fs::write(&path, [1u8; 64]).unwrap();
        let mut idx = OffsetIndex::new(path.clone(), 0);
        idx.append(3, 100);
        idx.rewrite().unwrap();
        assert_eq!(
            std::fs::read(&path).unwrap(),
            vec![0, 0, 0, 3, 0, 0, 0, 100]
        );
        idx.delete_file().unwrap();
        assert!(!path.exists());
        idx.delete_file().unwrap();
    }
}
