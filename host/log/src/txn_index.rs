//! The aborted-transaction index, Kafka's `<20-digit base offset>.txnindex` file: one 34-byte entry
//! (`version i16 = 0 | producerId i64 | firstOffset i64 | lastOffset i64 | lastStableOffset i64`) per
//! transaction aborted by a marker in the segment with that base, appended when the marker is written.
//!
//! read_committed fetches ask which aborted transactions overlap the range they return
//! ([`TxnIndexes::collect`], after Kafka's `collectAbortedTransactions`). Only the list of files is
//! kept in memory; a lookup reads the files from the one that may hold the fetch offset onwards and
//! stops at the first entry whose last stable offset reaches the end of the fetched range (no later
//! abort can overlap it). A file's entries all have `lastOffset` in `[base, next file's base)`,
//! because each file belongs to the segment that was active when its markers were written; that stays
//! true when compaction merges segments (the files are left as they are) and lets retention delete a
//! file once the first remaining segment starts after it.

use std::collections::BTreeSet;
use std::fs::OpenOptions;
use std::io::Read;
use std::path::{Path, PathBuf};

use crate::error::{IoContext, Result};
use crate::files;
use crate::fsio;

/// Extension of Kafka's aborted-transaction index files.
pub const TXN_INDEX_SUFFIX: &str = "txnindex";
/// Size of one entry.
pub const ENTRY_LEN: usize = 34;
/// The only entry version Kafka writes.
const ENTRY_VERSION: i16 = 0;

/// One aborted transaction: its producer, the offset of its first record, the offset of its ABORT
/// marker, and the partition's last stable offset just after the marker was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AbortedTxn {
    pub producer_id: i64,
    pub first_offset: i64,
    pub last_offset: i64,
    pub last_stable_offset: i64,
}

impl AbortedTxn {
    pub fn encode(&self) -> [u8; ENTRY_LEN] {
        let mut out = [0u8; ENTRY_LEN];
        out[0..2].copy_from_slice(&ENTRY_VERSION.to_be_bytes());
        out[2..10].copy_from_slice(&self.producer_id.to_be_bytes());
        out[10..18].copy_from_slice(&self.first_offset.to_be_bytes());
        out[18..26].copy_from_slice(&self.last_offset.to_be_bytes());
        out[26..34].copy_from_slice(&self.last_stable_offset.to_be_bytes());
        out
    }

    /// Reads one entry; `Err` names what is wrong with it.
    pub fn decode(b: &[u8]) -> std::result::Result<AbortedTxn, String> {
        if b.len() < ENTRY_LEN {
            return Err(format!("{} bytes is shorter than an entry", b.len()));
        }
        let i64_at = |at: usize| {
            let mut x = [0u8; 8];
            x.copy_from_slice(&b[at..at + 8]);
            i64::from_be_bytes(x)
        };
        let version = i16::from_be_bytes([b[0], b[1]]);
        if version != ENTRY_VERSION {
            return Err(format!("unknown entry version {version}"));
        }
        let entry = AbortedTxn {
            producer_id: i64_at(2),
            first_offset: i64_at(10),
            last_offset: i64_at(18),
            last_stable_offset: i64_at(26),
        };
        if entry.first_offset > entry.last_offset || entry.first_offset < 0 {
            return Err(format!(
                "first offset {} is not within [0, last offset {}]",
                entry.first_offset, entry.last_offset
            ));
        }
        Ok(entry)
    }
}

/// Reads every entry of a `.txnindex` file; `Err` describes the first damaged entry (or a length that
/// is not a whole number of entries).
pub fn read_file(path: &Path) -> Result<std::result::Result<Vec<AbortedTxn>, String>> {
    let mut file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Ok(Vec::new())),
        Err(e) => return Err(e).at(path),
    };
    let mut entries = Vec::new();
    let mut buf = [0u8; ENTRY_LEN];
    let mut position = 0u64;
    loop {
        let mut filled = 0;
        while filled < ENTRY_LEN {
            let n = file.read(&mut buf[filled..]).at(path)?;
            if n == 0 {
                break;
            }
            filled += n;
        }
        if filled == 0 {
            return Ok(Ok(entries));
        }
        if filled < ENTRY_LEN {
            return Ok(Err(format!(
                "torn entry of {filled} bytes at position {position}"
            )));
        }
        match AbortedTxn::decode(&buf) {
            Ok(e) => entries.push(e),
            Err(reason) => return Ok(Err(format!("entry at position {position}: {reason}"))),
        }
        position += ENTRY_LEN as u64;
    }
}

/// `<dir>/<20-digit base>.txnindex`.
pub(crate) fn txn_index_path(dir: &Path, base: i64) -> PathBuf {
    dir.join(format!("{base:020}.{TXN_INDEX_SUFFIX}"))
}

/// The `.txnindex` files of one partition directory.
#[derive(Debug, Default)]
pub(crate) struct TxnIndexes {
    dir: PathBuf,
    /// Bases of the files that exist.
    bases: BTreeSet<i64>,
    /// Files appended to since the last fsync.
    unsynced: BTreeSet<i64>,
}

impl TxnIndexes {
    /// Lists the `.txnindex` files of `dir`.
    pub(crate) fn open(dir: &Path) -> Result<TxnIndexes> {
        let mut bases = BTreeSet::new();
        for entry in std::fs::read_dir(dir).at(dir)? {
            let entry = entry.at(dir)?;
            let name = entry.file_name();
            let Some(name) = name.to_str() else { continue };
            let Some((stem, ext)) = name.split_once('.') else {
                continue;
            };
            if ext == TXN_INDEX_SUFFIX
                && stem.len() == 20
                && stem.bytes().all(|b| b.is_ascii_digit())
            {
                if let Ok(base) = stem.parse::<i64>() {
                    bases.insert(base);
                }
            }
        }
        Ok(TxnIndexes {
            dir: dir.to_path_buf(),
            bases,
            unsynced: BTreeSet::new(),
        })
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.bases.is_empty()
    }

    /// Appends `entry` to the file of the segment based at `segment_base` (created on first use).
    /// Not fsynced here: the next flush does it, with the segment holding the marker.
    pub(crate) fn append(&mut self, segment_base: i64, entry: &AbortedTxn) -> Result<()> {
        let path = txn_index_path(&self.dir, segment_base);
        let file = fsio::open(&path, OpenOptions::new().create(true).append(true)).at(&path)?;
        fsio::write_all(&file, &path, &entry.encode()).at(&path)?;
        self.bases.insert(segment_base);
        self.unsynced.insert(segment_base);
        Ok(())
    }

    /// fsyncs the files appended to since the last call.
    pub(crate) fn sync(&mut self) -> Result<()> {
        for base in std::mem::take(&mut self.unsynced) {
            let path = txn_index_path(&self.dir, base);
            let file = fsio::open(&path, OpenOptions::new().read(true)).at(&path)?;
            fsio::sync_all(&file, &path).at(&path)?;
        }
        Ok(())
    }

    /// The aborted transactions overlapping `[from, upper)`: entries with `last_offset >= from` and
    /// `first_offset < upper`, in marker order.
    pub(crate) fn collect(&self, from: i64, upper: i64) -> Result<Vec<AbortedTxn>> {
        let mut out = Vec::new();
        let first = self.bases.range(..=from).next_back().copied();
        let bases = first
            .into_iter()
            .chain(self.bases.range((from + 1)..).copied());
        for base in bases {
            let path = txn_index_path(&self.dir, base);
            // A damaged file was rebuilt at open; one damaged since is read up to the damage.
            let entries = match read_file(&path)? {
                Ok(e) => e,
                Err(reason) => {
                    tracing::warn!(file = %path.display(), %reason, "damaged transaction index");
                    Vec::new()
                }
            };
            for e in entries {
                if e.last_offset >= from && e.first_offset < upper {
                    out.push(e);
                }
                if e.last_stable_offset >= upper {
                    return Ok(out);
                }
            }
        }
        Ok(out)
    }

    /// Removes the entries whose marker is at or after `offset` (the log is replayed or cut from
    /// there); files left empty are removed.
    pub(crate) fn truncate_from(&mut self, offset: i64) -> Result<()> {
        let affected: Vec<i64> = match self.bases.range(..=offset).next_back() {
            Some(&b) => self.bases.range(b..).copied().collect(),
            None => self.bases.iter().copied().collect(),
        };
        for base in affected {
            let path = txn_index_path(&self.dir, base);
            let entries = read_file(&path)?.unwrap_or_default();
            let keep: Vec<_> = entries
                .into_iter()
                .filter(|e| e.last_offset < offset)
                .collect();
            self.rewrite(base, &keep)?;
        }
        Ok(())
    }

    /// Replaces the file of `base` with `entries` (removing it when empty).
    fn rewrite(&mut self, base: i64, entries: &[AbortedTxn]) -> Result<()> {
        let path = txn_index_path(&self.dir, base);
        if entries.is_empty() {
            files::remove_if_exists(&path)?;
            self.bases.remove(&base);
            self.unsynced.remove(&base);
            return Ok(());
        }
        let bytes: Vec<u8> = entries.iter().flat_map(|e| e.encode()).collect();
        files::write_atomically(&path, &bytes)?;
        self.bases.insert(base);
        Ok(())
    }

    /// Checks every file; returns the first damaged one with the reason.
    pub(crate) fn find_damage(&self) -> Result<Option<(PathBuf, String)>> {
        for &base in &self.bases {
            let path = txn_index_path(&self.dir, base);
            if let Err(reason) = read_file(&path)? {
                return Ok(Some((path, reason)));
            }
        }
        Ok(None)
    }

    /// Removes every file (before a full rebuild).
    pub(crate) fn remove_all(&mut self) -> Result<()> {
        for base in std::mem::take(&mut self.bases) {
            files::remove_if_exists(&txn_index_path(&self.dir, base))?;
        }
        self.unsynced.clear();
        Ok(())
    }

    /// Retention removed every segment below `first_base`: the files before it hold only markers
    /// below it.
    pub(crate) fn remove_below(&mut self, first_base: i64) -> Result<()> {
        let old: Vec<i64> = self.bases.range(..first_base).copied().collect();
        for base in old {
            files::remove_if_exists(&txn_index_path(&self.dir, base))?;
            self.bases.remove(&base);
            self.unsynced.remove(&base);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn txn(pid: i64, first: i64, last: i64, lso: i64) -> AbortedTxn {
        AbortedTxn {
            producer_id: pid,
            first_offset: first,
            last_offset: last,
            last_stable_offset: lso,
        }
    }

    #[test]
    fn entries_round_trip_in_kafkas_34_bytes() {
        let e = txn(7, 10, 20, 21);
        let b = e.encode();
        assert_eq!(b.len(), 34);
        assert_eq!(&b[0..2], &[0, 0]);
        assert_eq!(AbortedTxn::decode(&b).unwrap(), e);
        let mut bad = b;
        bad[1] = 1;
        assert!(AbortedTxn::decode(&bad).is_err());
    }

    #[test]
    fn collect_truncate_and_damage() {
        let dir = tempfile::tempdir().unwrap();
        let mut ix = TxnIndexes::open(dir.path()).unwrap();
        ix.append(0, &txn(1, 2, 5, 3)).unwrap();
        ix.append(0, &txn(2, 3, 8, 9)).unwrap();
        ix.append(10, &txn(3, 9, 12, 13)).unwrap();
        ix.append(10, &txn(4, 14, 30, 31)).unwrap();
        let pids = |v: Vec<AbortedTxn>| v.iter().map(|e| e.producer_id).collect::<Vec<_>>();
        assert_eq!(pids(ix.collect(0, 4).unwrap()), vec![1, 2]);
        assert_eq!(pids(ix.collect(6, 10).unwrap()), vec![2, 3]);
        assert_eq!(pids(ix.collect(11, 14).unwrap()), vec![3]);
        assert_eq!(pids(ix.collect(13, 40).unwrap()), vec![4]);
        // Reopened from the directory listing.
        let mut ix = TxnIndexes::open(dir.path()).unwrap();
        ix.truncate_from(8).unwrap();
        assert_eq!(pids(ix.collect(0, 100).unwrap()), vec![1]);
        assert!(!txn_index_path(dir.path(), 10).exists());
        std::fs::write(txn_index_path(dir.path(), 0), [0u8; 20]).unwrap();
        assert!(ix.find_damage().unwrap().is_some());
        ix.remove_all().unwrap();
        assert!(ix.is_empty());
    }
}
