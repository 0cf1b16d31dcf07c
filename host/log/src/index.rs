//! A segment's sparse offset index (`.index`) and time index (`.timeindex`): kept in memory for lookups,
//! appended to disk in Kafka's entry format, plus the rule that decides when an entry is due.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::marker::PhantomData;
use std::path::PathBuf;

use crate::batch::BatchHeader;
use crate::error::{IoContext, Result};
use crate::files;

/// A fixed-size index entry stored relative to the segment's base offset.
pub(crate) trait Entry: Copy {
    const SIZE: usize;
    fn encode(&self, base: i64, out: &mut Vec<u8>);
    fn decode(b: &[u8], base: i64) -> Self;
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
}

/// One index file: all entries in memory, the file only ever appended to (or rewritten whole after a
/// rebuild). Entries reach the file at roll, flush and close; a crash loses only entries of the active
/// segment, whose index recovery rebuilds anyway.
#[derive(Debug)]
pub(crate) struct IndexFile<E> {
    path: PathBuf,
    base: i64,
    entries: Vec<E>,
    persisted: usize,
    _kind: PhantomData<E>,
}

pub(crate) type OffsetIndex = IndexFile<OffsetEntry>;
pub(crate) type TimeIndex = IndexFile<TimeEntry>;

impl<E: Entry> IndexFile<E> {
    pub(crate) fn new(path: PathBuf, base: i64) -> Self {
        IndexFile {
            path,
            base,
            entries: Vec::new(),
            persisted: 0,
            _kind: PhantomData,
        }
    }

    /// Loads the file. `Ok(Err(reason))` means it is missing or malformed and must be rebuilt.
    pub(crate) fn load(path: PathBuf, base: i64) -> Result<std::result::Result<Self, String>> {
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(Err(format!("{} is missing", path.display())))
            }
            Err(e) => return Err(e).at(&path),
        };
        if bytes.len() % E::SIZE != 0 {
            return Ok(Err(format!(
                "{} is {} bytes, not a multiple of the {}-byte entry size",
                path.display(),
                bytes.len(),
                E::SIZE
            )));
        }
        let entries: Vec<E> = bytes
            .chunks_exact(E::SIZE)
            .map(|c| E::decode(c, base))
            .collect();
        let persisted = entries.len();
        Ok(Ok(IndexFile {
            path,
            base,
            entries,
            persisted,
            _kind: PhantomData,
        }))
    }

    #[cfg(test)]
    pub(crate) fn path(&self) -> &std::path::Path {
        &self.path
    }

    #[cfg(test)]
    pub(crate) fn entries(&self) -> &[E] {
        &self.entries
    }

    pub(crate) fn last(&self) -> Option<E> {
        self.entries.last().copied()
    }

    pub(crate) fn clear(&mut self) {
        self.entries.clear();
        self.persisted = 0;
    }

    /// Appends the entries not yet on disk (creating the file if needed), optionally fsyncing.
    pub(crate) fn write_pending(&mut self, sync: bool) -> Result<()> {
        let mut file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)
            .at(&self.path)?;
        if self.persisted < self.entries.len() {
            let mut buf = Vec::with_capacity((self.entries.len() - self.persisted) * E::SIZE);
            for e in &self.entries[self.persisted..] {
                e.encode(self.base, &mut buf);
            }
            file.write_all(&buf).at(&self.path)?;
            self.persisted = self.entries.len();
        }
        if sync {
            file.sync_data().at(&self.path)?;
        }
        Ok(())
    }

    /// Replaces the file with exactly the in-memory entries (after a rebuild).
    pub(crate) fn rewrite(&mut self) -> Result<()> {
        let mut buf = Vec::with_capacity(self.entries.len() * E::SIZE);
        for e in &self.entries {
            e.encode(self.base, &mut buf);
        }
        let mut file = File::create(&self.path).at(&self.path)?;
        file.write_all(&buf).at(&self.path)?;
        self.persisted = self.entries.len();
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
        if let Some(last) = self.entries.last() {
            if offset <= last.offset || position <= last.position {
                return false;
            }
        }
        self.entries.push(OffsetEntry { offset, position });
        true
    }

    /// The entry with the largest offset `<= target`: scanning from its position finds the batch
    /// that contains `target`.
    pub(crate) fn lookup_entry(&self, target: i64) -> Option<OffsetEntry> {
        let i = self.entries.partition_point(|e| e.offset <= target);
        (i > 0).then(|| self.entries[i - 1])
    }

    /// File position to start scanning for `target` (0 if no entry precedes it).
    pub(crate) fn lookup(&self, target: i64) -> u32 {
        self.lookup_entry(target).map_or(0, |e| e.position)
    }

    /// Structural checks against the log file: increasing, in range, positions inside the file.
    pub(crate) fn check(&self, log_size: u64) -> std::result::Result<(), String> {
        let mut prev: Option<OffsetEntry> = None;
        for e in &self.entries {
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
            if let Some(p) = prev {
                if e.offset <= p.offset || e.position <= p.position {
                    return Err(format!(
                        "{}: entries are not increasing",
                        self.path.display()
                    ));
                }
            }
            prev = Some(*e);
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
        if let Some(last) = self.entries.last() {
            if timestamp <= last.timestamp || offset < last.offset {
                return false;
            }
        }
        self.entries.push(TimeEntry { timestamp, offset });
        true
    }

    /// Offset of the entry with the largest timestamp `<= ts`. Every batch before the one holding that
    /// offset has a smaller max timestamp, so a search for `ts` may start at that batch.
    pub(crate) fn lookup(&self, ts: i64) -> Option<i64> {
        let i = self.entries.partition_point(|e| e.timestamp <= ts);
        (i > 0).then(|| self.entries[i - 1].offset)
    }

    pub(crate) fn check(&self, next_offset: i64) -> std::result::Result<(), String> {
        let mut prev: Option<TimeEntry> = None;
        for e in &self.entries {
            if relative(e.offset, self.base).is_none()
                || e.offset >= next_offset.max(self.base.saturating_add(1))
            {
                return Err(format!(
                    "{}: entry offset {} out of range",
                    self.path.display(),
                    e.offset
                ));
            }
            if let Some(p) = prev {
                if e.timestamp <= p.timestamp || e.offset < p.offset {
                    return Err(format!(
                        "{}: entries are not increasing",
                        self.path.display()
                    ));
                }
            }
            prev = Some(*e);
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
        let loaded = OffsetIndex::load(path.clone(), 100).unwrap().unwrap();
        assert_eq!(loaded.entries(), idx.entries());
        assert!(loaded.check(8001).is_ok());
        assert!(loaded.check(8000).is_err());
    }

    #[test]
    fn index_load_detects_missing_and_torn_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.index");
        assert!(OffsetIndex::load(path.clone(), 0).unwrap().is_err());
        std::fs::write(&path, [0u8; 12]).unwrap();
        assert!(OffsetIndex::load(path.clone(), 0).unwrap().is_err());
        // Non-increasing entries are caught by check().
        std::fs::write(&path, [0, 0, 0, 5, 0, 0, 0, 9, 0, 0, 0, 5, 0, 0, 0, 10]).unwrap();
        let idx = OffsetIndex::load(path, 0).unwrap().unwrap();
        assert!(idx.check(100).is_err());
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
        let loaded = TimeIndex::load(path, 10).unwrap().unwrap();
        assert_eq!(loaded.entries(), t.entries());
        assert!(loaded.check(21).is_ok());
        assert!(loaded.check(20).is_err());
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
