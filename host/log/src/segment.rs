//! One log segment: the `.log` file of batches plus its indexes — appends, positioned reads, and loading
//! or recovering it from disk.

use std::fs::{File, OpenOptions};
use std::io::{self, IoSlice};
use std::os::fd::AsRawFd;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::UNIX_EPOCH;

use bytes::{Bytes, BytesMut};

use crate::batch::{self, BatchHeader, HEADER_LEN, LENGTH_POS, LOG_OVERHEAD};
use crate::error::{IoContext, LogError, Result};
use crate::files::{self, FileKind};
use crate::fsio;
use crate::index::{Indexer, OffsetIndex, TimeIndex};
use crate::region::FileRegion;
use crate::scan::{Scanner, Step, SCAN_CHUNK, WALK_CHUNK};

/// A validated producer batch of an append: where it starts in the request and its header as it will
/// be stored (offset, epoch and timestamp already assigned).
#[derive(Debug, Clone, Copy)]
pub(crate) struct PlannedBatch {
    pub start: usize,
    pub header: BatchHeader,
}

/// A cut made while recovering a segment.
#[derive(Debug, Clone)]
pub(crate) struct Truncation {
    pub path: PathBuf,
    pub position: u64,
    pub bytes: u64,
    pub reason: String,
}

/// What loading a segment had to do.
#[derive(Debug, Default)]
pub(crate) struct LoadOutcome {
    pub rebuilt_index: bool,
    pub truncation: Option<Truncation>,
}

/// How much to trust a segment's files when loading it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LoadMode {
    /// Use the index files if they are consistent with the log (checked by walking the few batches
    /// after the last index entry); rebuild them otherwise.
    Trust,
    /// Validate every batch including its CRC, truncate at the first bad one, rebuild the indexes.
    Recover,
}

#[derive(Debug)]
pub(crate) struct Segment {
    pub(crate) log_path: PathBuf,
    /// Shared so a fetch can send a region of it after the partition lock is released.
    pub(crate) file: Arc<File>,
    /// Bytes of complete batches; appends go here.
    pub(crate) size: u64,
    pub(crate) ix: Indexer,
    /// When this process first saw the segment, for segment.ms while it has no timestamps.
    pub(crate) created_ms: Option<i64>,
    /// Sealed by a roll but not yet fsynced (the background flush does it, see `Log::flush_rolled`).
    pub(crate) unflushed: bool,
}

/// Checks a stored batch during a full scan. `strict` demands contiguous offsets starting at the
/// segment base, which holds for the active segment (compaction never rewrites it); a bit flip in the
/// CRC-less baseOffset field is caught that way.
fn check_stored(
    position: u64,
    header: &BatchHeader,
    bytes: &[u8],
    base: i64,
    prev_last: Option<i64>,
    strict: bool,
) -> std::result::Result<(), String> {
    if let Err(e) = batch::check_integrity(header, bytes) {
        return Err(match e {
            LogError::CrcMismatch { stored, computed } => format!(
                "batch at position {position} has a bad CRC (stored {stored:#010x}, computed {computed:#010x})"
            ),
            other => format!("batch at position {position} is invalid: {other}"),
        });
    }
    if header.last_offset_delta < 0 || header.records_count < 0 {
        return Err(format!(
            "batch at position {position} has a negative offset delta or record count"
        ));
    }
    if strict {
        let expected = prev_last.map_or(base, |l| l.saturating_add(1));
        if header.base_offset != expected {
            return Err(format!(
                "batch at position {position} has base offset {} where {expected} was expected",
                header.base_offset
            ));
        }
    } else if header.base_offset < base || prev_last.is_some_and(|l| header.base_offset <= l) {
        return Err(format!(
            "batch at position {position} has base offset {} out of order (segment base {base}, previous last offset {prev_last:?})",
            header.base_offset
        ));
    }
    if header.last_offset().saturating_sub(base) > i64::from(i32::MAX)
        || header.last_offset() < header.base_offset
    {
        return Err(format!(
            "batch at position {position} has offsets {}..{} that do not fit segment base {base}",
            header.base_offset,
            header.last_offset()
        ));
    }
    Ok(())
}

/// Positioned read of exactly `len` bytes into `buf`'s spare capacity, without zero-filling it first
/// (fetches read up to megabytes per call; the fill would cost as much as the copy from the page cache).
pub(crate) fn read_exact_at_uninit(
    file: &File,
    buf: &mut BytesMut,
    len: usize,
    offset: u64,
) -> io::Result<()> {
    buf.reserve(len);
    let target = buf.len() + len;
    let mut offset = offset;
    while buf.len() < target {
        let missing = target - buf.len();
        let spare = buf.spare_capacity_mut();
        let n = missing.min(spare.len());
        let at = libc::off_t::try_from(offset)
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "read offset too large"))?;
        // SAFETY: `spare` is valid for writes of `spare.len() >= n` bytes and pread writes at most `n`.
        let r = unsafe { libc::pread(file.as_raw_fd(), spare.as_mut_ptr().cast(), n, at) };
        if r < 0 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        if r == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "segment file ended before the batches it indexes",
            ));
        }
        let r = r as usize; // 0 < r <= n: pread never returns more than asked
                            // SAFETY: pread initialised the first `r` bytes of the spare capacity.
        unsafe { buf.set_len(buf.len() + r) };
        offset += r as u64;
    }
    Ok(())
}

impl Segment {
    pub(crate) fn base_offset(&self) -> i64 {
        self.ix.base
    }

    pub(crate) fn next_offset(&self) -> i64 {
        self.ix.next_offset
    }

    fn open_file(path: &Path) -> Result<File> {
        fsio::open(path, OpenOptions::new().read(true).append(true)).at(path)
    }

    fn new_indexer(dir: &Path, base: i64) -> Indexer {
        Indexer::new(
            base,
            files::segment_path(dir, base, FileKind::Index),
            files::segment_path(dir, base, FileKind::TimeIndex),
        )
    }

    /// Creates a new, empty segment starting at `base`.
    pub(crate) fn create(dir: &Path, base: i64) -> Result<Segment> {
        let log_path = files::segment_path(dir, base, FileKind::Log);
        let file = match fsio::open(
            &log_path,
            OpenOptions::new().read(true).append(true).create_new(true),
        ) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                let f = Self::open_file(&log_path)?;
                if f.metadata().at(&log_path)?.len() != 0 {
                    return Err(LogError::Io {
                        path: log_path,
                        source: io::Error::new(
                            io::ErrorKind::AlreadyExists,
                            "a non-empty segment already exists at this base offset",
                        ),
                    });
                }
                f
            }
            Err(e) => return Err(e).at(&log_path),
        };
        let ix = Self::new_indexer(dir, base);
        // Index files left over from an older segment with this base would not match the new log.
        ix.index.delete_file()?;
        ix.time_index.delete_file()?;
        Ok(Segment {
            log_path,
            file: Arc::new(file),
            size: 0,
            ix,
            created_ms: None,
            unflushed: false,
        })
    }

    /// Opens the segment at `base`; see [`LoadMode`]. `strict` requires contiguous offsets (the active
    /// segment).
    pub(crate) fn load(
        dir: &Path,
        base: i64,
        interval: u32,
        mode: LoadMode,
        strict: bool,
    ) -> Result<(Segment, LoadOutcome)> {
        let log_path = files::segment_path(dir, base, FileKind::Log);
        let file = Self::open_file(&log_path)?;
        let size = file.metadata().at(&log_path)?.len();
        let mut seg = Segment {
            log_path,
            file: Arc::new(file),
            size,
            ix: Self::new_indexer(dir, base),
            created_ms: None,
            unflushed: false,
        };
        if mode == LoadMode::Trust {
            match seg.adopt_indexes(dir, interval, strict)? {
                Ok(()) => return Ok((seg, LoadOutcome::default())),
                Err(problem) => tracing::info!(
                    file = %seg.log_path.display(),
                    %problem,
                    "rebuilding the indexes of {}: {problem}",
                    seg.log_path.display()
                ),
            }
        }
        let truncation = seg.rebuild(interval, strict)?;
        Ok((
            seg,
            LoadOutcome {
                rebuilt_index: true,
                truncation,
            },
        ))
    }

    /// Opens the index files (their last entries only) and checks them against the log;
    /// `Ok(Err(reason))` if they cannot be used.
    fn adopt_indexes(
        &mut self,
        dir: &Path,
        interval: u32,
        strict: bool,
    ) -> Result<std::result::Result<(), String>> {
        let base = self.ix.base;
        let index = OffsetIndex::open(
            files::segment_path(dir, base, FileKind::Index),
            base,
            self.size,
        )?;
        let time_index = TimeIndex::open(
            files::segment_path(dir, base, FileKind::TimeIndex),
            base,
            self.size,
        )?;
        match (index, time_index) {
            (Ok(index), Ok(time_index)) => {
                self.ix.index = index;
                self.ix.time_index = time_index;
            }
            (Err(reason), _) | (_, Err(reason)) => return Ok(Err(reason)),
        }
        if let Err(reason) = self.ix.index.check_last(self.size) {
            return Ok(Err(reason));
        }
        self.verify_tail(interval, strict)
    }

    /// Walks the batches after the last index entry (at most about `interval` bytes plus one batch)
    /// to learn the segment's end offset and max timestamp, and to check that the index is neither
    /// stale (its last entry does not match the batch there) nor short (the walk passes a point where
    /// the indexing rule would have added an entry) and that the file ends on a batch boundary.
    fn verify_tail(
        &mut self,
        interval: u32,
        strict: bool,
    ) -> Result<std::result::Result<(), String>> {
        let base = self.ix.base;
        let entry = self.ix.index.last();
        let start = entry.map_or(0, |e| u64::from(e.position));
        let (mut max_ts, mut offset_of_max) = self
            .ix
            .time_index
            .last()
            .map_or((-1, base), |t| (t.timestamp, t.offset));
        let mut bytes_since = 0u64;
        let mut prev_last: Option<i64> = None;
        let mut scanner = Scanner::new(&self.file, start, self.size, WALK_CHUNK);
        loop {
            let header = match scanner.next(false).at(&self.log_path)? {
                Step::End => break,
                Step::Invalid { reason, .. } => return Ok(Err(reason)),
                Step::Batch { header, .. } => header,
            };
            match (prev_last, entry) {
                (None, Some(e)) if header.last_offset() != e.offset => {
                    return Ok(Err(format!(
                        "last index entry points at offset {} but the batch there ends at {}",
                        e.offset,
                        header.last_offset()
                    )))
                }
                (None, None) if strict && header.base_offset != base => {
                    return Ok(Err(format!(
                        "first batch has base offset {} in a segment based at {base}",
                        header.base_offset
                    )))
                }
                (Some(_), _) if bytes_since > u64::from(interval) => {
                    return Ok(Err(
                        "the offset index is missing entries at its end".to_string()
                    ))
                }
                (Some(l), _)
                    if header.base_offset <= l
                        || (strict && header.base_offset != l.saturating_add(1)) =>
                {
                    return Ok(Err(format!(
                        "batch with base offset {} follows last offset {l}",
                        header.base_offset
                    )))
                }
                _ => {}
            }
            if header.base_offset < base {
                return Ok(Err(format!(
                    "batch base offset {} is below the segment base",
                    header.base_offset
                )));
            }
            if header.max_timestamp > max_ts {
                max_ts = header.max_timestamp;
                offset_of_max = header.last_offset();
            }
            bytes_since += header.total_size() as u64;
            prev_last = Some(header.last_offset());
        }
        let next_offset = prev_last.map_or(base, |l| l.saturating_add(1));
        if let Err(reason) = self.ix.time_index.check_last(next_offset) {
            return Ok(Err(reason));
        }
        self.ix.next_offset = next_offset;
        self.ix.max_timestamp = max_ts;
        self.ix.offset_of_max_timestamp = offset_of_max;
        self.ix.bytes_since_entry = bytes_since;
        self.ix.first_batch_timestamp = None;
        if self.size >= HEADER_LEN as u64 {
            let mut head = [0u8; HEADER_LEN];
            if self.file.read_exact_at(&mut head, 0).is_ok() {
                self.ix.first_batch_timestamp =
                    BatchHeader::parse(&head).ok().map(|h| h.max_timestamp);
            }
        }
        Ok(Ok(()))
    }

    /// Scans the whole file validating every batch (CRC included), truncates at the first torn or
    /// corrupt one and rewrites both index files from what was read.
    pub(crate) fn rebuild(&mut self, interval: u32, strict: bool) -> Result<Option<Truncation>> {
        self.ix.reset();
        let base = self.ix.base;
        let mut cut: Option<(u64, String)> = None;
        {
            let mut prev_last: Option<i64> = None;
            let mut scanner = Scanner::new(&self.file, 0, self.size, SCAN_CHUNK);
            loop {
                match scanner.next(true).at(&self.log_path)? {
                    Step::End => break,
                    Step::Invalid { position, reason } => {
                        cut = Some((position, reason));
                        break;
                    }
                    Step::Batch {
                        position,
                        header,
                        bytes,
                    } => {
                        if let Err(reason) =
                            check_stored(position, &header, bytes, base, prev_last, strict)
                        {
                            cut = Some((position, reason));
                            break;
                        }
                        prev_last = Some(header.last_offset());
                        self.ix.track(position, &header, interval);
                    }
                }
            }
        }
        let truncation = match cut {
            None => None,
            Some((position, reason)) => {
                let bytes = self.size - position;
                tracing::warn!(
                    file = %self.log_path.display(),
                    position,
                    truncated_bytes = bytes,
                    reason = %reason,
                    "truncating log segment {} at position {position}: {reason}",
                    self.log_path.display()
                );
                fsio::set_len(&self.file, &self.log_path, position).at(&self.log_path)?;
                fsio::sync_all(&self.file, &self.log_path).at(&self.log_path)?;
                self.size = position;
                Some(Truncation {
                    path: self.log_path.clone(),
                    position,
                    bytes,
                    reason,
                })
            }
        };
        self.ix.rewrite()?;
        Ok(truncation)
    }

    /// Writes the planned batches at the end of the file in one vectored write: for each batch the
    /// first `patch_len` bytes come from `patched` (the header with offset/epoch/timestamp assigned),
    /// the rest straight from the producer's buffer.
    pub(crate) fn append(
        &mut self,
        records: &[u8],
        batches: &[PlannedBatch],
        patched: &[[u8; HEADER_LEN]],
        patch_len: usize,
        interval: u32,
    ) -> Result<()> {
        let mut slices: Vec<IoSlice<'_>> = Vec::with_capacity(batches.len() * 2);
        for (b, head) in batches.iter().zip(patched) {
            let end = b.start + b.header.total_size();
            slices.push(IoSlice::new(&head[..patch_len]));
            slices.push(IoSlice::new(&records[b.start + patch_len..end]));
        }
        if let Err(e) = fsio::write_all_vectored(&self.file, &self.log_path, &mut slices) {
            // Cut a partial write off so the file still ends on a batch boundary.
            if let Err(undo) = fsio::set_len(&self.file, &self.log_path, self.size) {
                tracing::warn!(file = %self.log_path.display(), error = %undo, "could not undo a partial append");
            }
            return Err(e).at(&self.log_path);
        }
        let mut position = self.size;
        for b in batches {
            self.ix.track(position, &b.header, interval);
            position += b.header.total_size() as u64;
        }
        self.size = position;
        Ok(())
    }

    /// Position and header of the first batch whose last offset is `>= offset`, starting from the
    /// in-memory index and walking headers from there. Only the last index entry is checked when a
    /// segment is opened, so each lookup also checks that the entry it used points at a batch ending at
    /// the entry's offset; if not, the index is damaged and the walk starts over from the beginning.
    pub(crate) fn locate(&self, offset: i64) -> Result<Option<(u64, BatchHeader)>> {
        let entry = self.ix.index.lookup_entry(offset);
        if let Some(e) = entry {
            match self.walk_to(u64::from(e.position), offset, Some(e.offset)) {
                Ok(Some(found)) => return Ok(Some(found)),
                Ok(None) => {}
                Err(LogError::CorruptBatch(reason)) => {
                    tracing::warn!(
                        file = %self.log_path.display(),
                        %reason,
                        "offset index entry does not match the log; scanning from the start"
                    );
                }
                Err(other) => return Err(other),
            }
        }
        self.walk_to(0, offset, None)
    }

    /// Walks from `start` to the first batch with last offset `>= offset`. With `expect_first`, the
    /// first batch must end at that offset (an index entry's promise).
    fn walk_to(
        &self,
        start: u64,
        offset: i64,
        expect_first: Option<i64>,
    ) -> Result<Option<(u64, BatchHeader)>> {
        let mut scanner = Scanner::new(&self.file, start, self.size, WALK_CHUNK);
        let mut first = true;
        loop {
            match scanner.next(false).at(&self.log_path)? {
                Step::End if first && expect_first.is_some() => {
                    return Err(LogError::CorruptBatch(
                        "index entry points past the data".into(),
                    ))
                }
                Step::End => return Ok(None),
                Step::Invalid { reason, .. } => {
                    return Err(LogError::CorruptBatch(format!(
                        "{}: {reason}",
                        self.log_path.display()
                    )))
                }
                Step::Batch {
                    position, header, ..
                } => {
                    if first {
                        if let Some(expected) = expect_first {
                            if header.last_offset() != expected {
                                return Err(LogError::CorruptBatch(format!(
                                    "index entry for offset {expected} points at a batch ending at {}",
                                    header.last_offset()
                                )));
                            }
                        }
                        first = false;
                    }
                    if header.last_offset() >= offset {
                        return Ok(Some((position, header)));
                    }
                }
            }
        }
    }

    /// Whole batches starting with the one holding `offset`, up to `max_bytes` but at least one batch;
    /// `None` if this segment has nothing at or after `offset`.
    pub(crate) fn read(&self, offset: i64, max_bytes: usize) -> Result<Option<Bytes>> {
        if offset >= self.ix.next_offset || self.size == 0 {
            return Ok(None);
        }
        let Some((position, header)) = self.locate(offset)? else {
            return Ok(None);
        };
        self.read_batches(position, header.total_size(), max_bytes)
            .map(Some)
    }

    /// Like [`read`](Self::read), but names the batches by file position instead of reading them:
    /// `(region, first batch's base offset, offset after the last batch)`. Only batch headers near
    /// the cut are read, from the offset index's entry before it; a read that reaches the end of the
    /// segment reads none.
    pub(crate) fn region(
        &self,
        offset: i64,
        max_bytes: usize,
    ) -> Result<Option<(FileRegion, i64, i64)>> {
        if offset >= self.ix.next_offset || self.size == 0 {
            return Ok(None);
        }
        let Some((position, header)) = self.locate(offset)? else {
            return Ok(None);
        };
        let first = header.total_size() as u64;
        let avail = self.size.saturating_sub(position);
        if first > avail {
            return Err(LogError::CorruptBatch(format!(
                "{}: batch at position {position} runs past the end of the segment",
                self.log_path.display()
            )));
        }
        let want = (max_bytes as u64).min(avail).max(first);
        // The segment holds whole batches only, so its end is always a cut.
        let (len, next_offset) = if want == avail {
            (avail, self.ix.next_offset)
        } else {
            self.cut(position + first, position + want)?.map_or(
                (first, header.last_offset().saturating_add(1)),
                |(end, next)| (end - position, next),
            )
        };
        let len = usize::try_from(len).map_err(|_| {
            LogError::CorruptBatch(format!("{}: read of {len} bytes", self.log_path.display()))
        })?;
        let region = FileRegion::new(self.file.clone(), position, len);
        Ok(Some((region, header.base_offset, next_offset)))
    }

    /// The last batch boundary in `(after, limit]` and the base offset of the batch that starts there,
    /// or `None` if no batch after `after` ends by `limit`. Walks headers from the offset index's last
    /// entry at or before `limit` (index entries name batch starts).
    fn cut(&self, after: u64, limit: u64) -> Result<Option<(u64, i64)>> {
        let from = self
            .ix
            .index
            .floor_by_position(limit)
            .map_or(after, |e| u64::from(e.position).max(after));
        let mut scanner = Scanner::new(&self.file, from, self.size, WALK_CHUNK);
        let mut cut = None;
        loop {
            match scanner.next(false).at(&self.log_path)? {
                Step::Batch {
                    position, header, ..
                } => {
                    if position > after {
                        cut = Some((position, header.base_offset));
                    }
                    if position + header.total_size() as u64 > limit {
                        return Ok(cut);
                    }
                }
                // `limit` is inside the segment, so the walk stops at a batch that crosses it first.
                Step::End => return Ok(cut),
                Step::Invalid { reason, .. } => {
                    return Err(LogError::CorruptBatch(format!(
                        "{}: {reason}",
                        self.log_path.display()
                    )))
                }
            }
        }
    }

    /// Reads up to `max_bytes` (but at least `first` bytes) at `position` in one positioned read and
    /// cuts after the last complete batch.
    fn read_batches(&self, position: u64, first: usize, max_bytes: usize) -> Result<Bytes> {
        let avail = self.size.saturating_sub(position);
        let want = (max_bytes as u64).min(avail).max(first as u64);
        let want = usize::try_from(want).map_err(|_| {
            LogError::CorruptBatch(format!("{}: read of {want} bytes", self.log_path.display()))
        })?;
        let mut buf = BytesMut::new();
        read_exact_at_uninit(&self.file, &mut buf, want, position).at(&self.log_path)?;
        let mut cut = 0usize;
        while cut + LOG_OVERHEAD <= want {
            let length = batch::get_i32(&buf, cut + LENGTH_POS);
            if length < (HEADER_LEN - LOG_OVERHEAD) as i32 {
                break;
            }
            let next = cut + length as usize + LOG_OVERHEAD;
            if next > want {
                break;
            }
            cut = next;
        }
        if cut == 0 {
            return Err(LogError::CorruptBatch(format!(
                "{}: batch at position {position} could not be read back",
                self.log_path.display()
            )));
        }
        buf.truncate(cut);
        Ok(buf.freeze())
    }

    /// Position to start a search for the first record with timestamp `>= ts`.
    pub(crate) fn position_for_timestamp(&self, ts: i64) -> u64 {
        self.ix
            .time_index
            .lookup(ts)
            .map_or(0, |offset| u64::from(self.ix.index.lookup(offset)))
    }

    /// Largest timestamp for retention: the max batch timestamp, or the file's mtime if it has none
    /// (as Kafka does).
    pub(crate) fn largest_timestamp(&self) -> Result<i64> {
        if self.ix.max_timestamp >= 0 {
            return Ok(self.ix.max_timestamp);
        }
        let modified = self
            .file
            .metadata()
            .and_then(|m| m.modified())
            .at(&self.log_path)?;
        Ok(modified
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX)))
    }

    /// Writes pending index entries and fsyncs the log and its indexes.
    pub(crate) fn flush(&mut self) -> Result<()> {
        self.ix.write_pending(true)?;
        fsio::sync_data(&self.file, &self.log_path).at(&self.log_path)?;
        self.unflushed = false;
        Ok(())
    }

    /// Makes the segment inactive: final time-index entry, index entries written (not fsynced). The
    /// fsync is left to the background flush so a roll costs the append path no disk wait.
    pub(crate) fn seal(&mut self) -> Result<()> {
        self.ix.seal();
        self.ix.write_pending(false)?;
        self.unflushed = true;
        Ok(())
    }

    /// Drops the index entries held for lookups if none used them since the previous call.
    pub(crate) fn release_index_if_unused(&mut self) -> bool {
        self.ix.release_if_unused()
    }

    /// Removes the segment's files, the log first: a crash in between leaves orphan index files,
    /// which the next open deletes.
    pub(crate) fn delete_files(self) -> Result<()> {
        let Segment {
            log_path, file, ix, ..
        } = self;
        drop(file);
        files::remove_if_exists(&log_path)?;
        ix.index.delete_file()?;
        ix.time_index.delete_file()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::batch::{put_i32, put_i64, LEADER_EPOCH_POS};
    use crate::testutil::simple_batch;

    /// Appends producer batches the way `Log::append` does, with contiguous offsets.
    fn append_batches(seg: &mut Segment, batches: &[Vec<u8>], interval: u32) {
        for b in batches {
            let mut head = [0u8; HEADER_LEN];
            head.copy_from_slice(&b[..HEADER_LEN]);
            let next = seg.next_offset();
            put_i64(&mut head, 0, next);
            put_i32(&mut head, LEADER_EPOCH_POS, 3);
            let mut header = BatchHeader::parse(&head).unwrap();
            header.base_offset = next;
            let plan = [PlannedBatch { start: 0, header }];
            seg.append(b, &plan, &[head], 16, interval).unwrap();
        }
    }

    fn sample(n: usize) -> Vec<Vec<u8>> {
        (0..n)
            .map(|i| simple_batch(1 + i % 5, 1000 + i as i64 * 10))
            .collect()
    }

    #[test]
    fn append_read_and_locate() {
        let dir = tempfile::tempdir().unwrap();
        let mut seg = Segment::create(dir.path(), 0).unwrap();
        let batches = sample(30);
        append_batches(&mut seg, &batches, 200);
        assert!(!seg.ix.index.entries().is_empty());
        let total: i64 = (0..30).map(|i| 1 + i % 5).sum();
        assert_eq!(seg.next_offset(), total);
        for offset in 0..total {
            let (_, h) = seg.locate(offset).unwrap().unwrap();
            assert!(h.base_offset <= offset && offset <= h.last_offset());
            let bytes = seg.read(offset, 1).unwrap().unwrap();
            let first = BatchHeader::parse(&bytes).unwrap();
            assert_eq!(first.base_offset, h.base_offset);
            assert_eq!(bytes.len(), first.total_size(), "KIP-74: exactly one batch");
        }
        assert!(seg.read(total, 1000).unwrap().is_none());
        let all = seg.read(0, usize::MAX).unwrap().unwrap();
        assert_eq!(all.len() as u64, seg.size);
        assert_eq!(seg.ix.max_timestamp, 1000 + 29 * 10 + 4);
        assert_eq!(seg.ix.first_batch_timestamp, Some(1000));
    }

    #[test]
    fn trusted_load_matches_what_was_written() {
        let dir = tempfile::tempdir().unwrap();
        let mut seg = Segment::create(dir.path(), 0).unwrap();
        append_batches(&mut seg, &sample(40), 150);
        seg.seal().unwrap();
        let (entries, tentries) = (
            seg.ix.index.entries().to_vec(),
            seg.ix.time_index.entries().to_vec(),
        );
        let (next, max, size) = (seg.next_offset(), seg.ix.max_timestamp, seg.size);
        drop(seg);
        let (seg, outcome) = Segment::load(dir.path(), 0, 150, LoadMode::Trust, true).unwrap();
        assert!(!outcome.rebuilt_index && outcome.truncation.is_none());
        assert_eq!(seg.ix.index.entries(), &entries[..]);
        assert_eq!(seg.ix.time_index.entries(), &tentries[..]);
        assert_eq!(
            (seg.next_offset(), seg.ix.max_timestamp, seg.size),
            (next, max, size)
        );
        // A full rebuild produces the same indexes.
        let (seg, outcome) = Segment::load(dir.path(), 0, 150, LoadMode::Recover, true).unwrap();
        assert!(outcome.rebuilt_index && outcome.truncation.is_none());
        assert_eq!(seg.ix.index.entries(), &entries[..]);
        assert_eq!(seg.next_offset(), next);
    }

    #[test]
    fn stale_short_or_missing_indexes_are_rebuilt() {
        let dir = tempfile::tempdir().unwrap();
        let mut seg = Segment::create(dir.path(), 0).unwrap();
        append_batches(&mut seg, &sample(40), 150);
        seg.seal().unwrap();
        let entries = seg.ix.index.entries().to_vec();
        let index_path = seg.ix.index.path().to_path_buf();
        drop(seg);
        // Short: drop the last two entries.
        let raw = std::fs::read(&index_path).unwrap();
        std::fs::write(&index_path, &raw[..raw.len() - 16]).unwrap();
        let (seg, outcome) = Segment::load(dir.path(), 0, 150, LoadMode::Trust, true).unwrap();
        assert!(outcome.rebuilt_index);
        assert_eq!(seg.ix.index.entries(), &entries[..]);
        drop(seg);
        // Stale: the last entry points into the middle of a batch.
        let mut raw = std::fs::read(&index_path).unwrap();
        let n = raw.len();
        raw[n - 1] = raw[n - 1].wrapping_add(1);
        std::fs::write(&index_path, &raw).unwrap();
        let (seg, outcome) = Segment::load(dir.path(), 0, 150, LoadMode::Trust, true).unwrap();
        assert!(outcome.rebuilt_index);
        assert_eq!(seg.ix.index.entries(), &entries[..]);
        drop(seg);
        // Missing.
        std::fs::remove_file(&index_path).unwrap();
        let (seg, outcome) = Segment::load(dir.path(), 0, 150, LoadMode::Trust, true).unwrap();
        assert!(outcome.rebuilt_index);
        assert_eq!(seg.ix.index.entries(), &entries[..]);
        assert_eq!(std::fs::read(&index_path).unwrap().len(), entries.len() * 8);
    }

    #[test]
    fn damaged_middle_index_entry_falls_back_to_a_scan() {
        let dir = tempfile::tempdir().unwrap();
        let mut seg = Segment::create(dir.path(), 0).unwrap();
        append_batches(&mut seg, &sample(40), 150);
        let total = seg.next_offset();
        let good: Vec<_> = (0..total).map(|o| seg.locate(o).unwrap()).collect();
        assert!(seg.ix.index.entries().len() > 3);
        for shift in [1u32, 100_000] {
            let mut ix =
                std::mem::replace(&mut seg.ix.index, OffsetIndex::new(dir.path().join("x"), 0));
            let mut entries = ix.entries().to_vec();
            entries[1].position += shift;
            ix.clear();
            for e in &entries {
                ix.append(e.offset, u64::from(e.position));
            }
            seg.ix.index = ix;
            let capture = crate::testutil::Capture::default();
            for o in 0..total {
                assert_eq!(
                    capture.run(|| seg.locate(o).unwrap()),
                    good[o as usize],
                    "offset {o}"
                );
            }
            assert!(capture.lines().iter().any(|l| l.contains("does not match")));
        }
    }

    #[test]
    fn recover_truncates_bad_crc_and_torn_tail() {
        let dir = tempfile::tempdir().unwrap();
        let mut seg = Segment::create(dir.path(), 0).unwrap();
        let batches = sample(5);
        append_batches(&mut seg, &batches, 4096);
        let good: u64 = batches[..4].iter().map(|b| b.len() as u64).sum();
        let path = seg.log_path.clone();
        drop(seg);
        let mut raw = std::fs::read(&path).unwrap();
        let last = raw.len() - 1;
        raw[last] ^= 1;
        std::fs::write(&path, &raw).unwrap();
        let (seg, outcome) = Segment::load(dir.path(), 0, 4096, LoadMode::Recover, true).unwrap();
        let t = outcome.truncation.unwrap();
        assert_eq!(t.position, good);
        assert!(t.reason.contains("bad CRC"), "{}", t.reason);
        assert_eq!(seg.size, good);
        assert_eq!(std::fs::metadata(&path).unwrap().len(), good);
        drop(seg);
        // Torn: half of a header appended.
        let mut raw = std::fs::read(&path).unwrap();
        raw.extend_from_slice(&batches[0][..30]);
        std::fs::write(&path, &raw).unwrap();
        let (seg, outcome) = Segment::load(dir.path(), 0, 4096, LoadMode::Trust, true).unwrap();
        let t = outcome.truncation.unwrap();
        assert_eq!((t.position, t.bytes), (good, 30));
        assert!(t.reason.contains("torn"), "{}", t.reason);
        assert_eq!(seg.size, good);
    }

    #[test]
    fn a_read_past_the_real_file_end_is_an_error_not_garbage() {
        let dir = tempfile::tempdir().unwrap();
        let mut seg = Segment::create(dir.path(), 0).unwrap();
        append_batches(&mut seg, &sample(10), 4096);
        let all = seg.read(0, usize::MAX).unwrap().unwrap();
        assert_eq!(all.len() as u64, seg.size);
        // Another process cut the file under us: the uninitialised buffer must never be returned.
        seg.file.set_len(seg.size / 2).unwrap();
        let err = seg.read(0, usize::MAX).unwrap_err();
        assert!(matches!(err, LogError::Io { .. }), "{err}");
    }

    #[test]
    fn create_refuses_to_clobber_data() {
        let dir = tempfile::tempdir().unwrap();
        let mut seg = Segment::create(dir.path(), 7).unwrap();
        append_batches(&mut seg, &sample(1), 4096);
        drop(seg);
        assert!(matches!(
            Segment::create(dir.path(), 7),
            Err(LogError::Io { .. })
        ));
        let empty = Segment::create(dir.path(), 9).unwrap();
        drop(empty);
        Segment::create(dir.path(), 9).unwrap();
    }

    #[test]
    fn delete_files_removes_everything() {
        let dir = tempfile::tempdir().unwrap();
        let mut seg = Segment::create(dir.path(), 0).unwrap();
        append_batches(&mut seg, &sample(3), 0);
        seg.seal().unwrap();
        seg.delete_files().unwrap();
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }
}
