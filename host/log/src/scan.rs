//! Sequential walk over the record batches of a segment file, reading in large chunks and reporting
//! where and why a walk stops early (torn tail, garbage).

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;

use crate::batch::{self, BatchHeader, HEADER_LEN, LENGTH_POS, LOG_OVERHEAD};

/// Chunk size for full scans (recovery, compaction, dump).
pub(crate) const SCAN_CHUNK: usize = 1 << 20;
/// Chunk size for short header walks (locating an offset from an index entry).
pub(crate) const WALK_CHUNK: usize = 16 << 10;

/// One step of a walk.
pub(crate) enum Step<'a> {
    /// A batch whose header parsed and whose declared length fits in the file. `bytes` is the whole
    /// batch when the body was requested, otherwise just its header.
    Batch {
        position: u64,
        header: BatchHeader,
        bytes: &'a [u8],
    },
    /// Clean end: the last batch ended exactly at the end of the range.
    End,
    /// The walk cannot continue at `position`; everything from there on is unusable.
    Invalid { position: u64, reason: String },
}

pub(crate) struct Scanner<'f> {
    file: &'f File,
    end: u64,
    pos: u64,
    chunk: usize,
    buf: Vec<u8>,
    buf_start: u64,
}

impl<'f> Scanner<'f> {
    /// Walks `[start, end)` of `file`.
    pub(crate) fn new(file: &'f File, start: u64, end: u64, chunk: usize) -> Self {
        Scanner {
            file,
            end,
            pos: start,
            chunk,
            buf: Vec::new(),
            buf_start: start,
        }
    }

    /// Makes `buf` cover `[at, at + len)`.
    fn fill(&mut self, at: u64, len: usize) -> io::Result<()> {
        let have_end = self.buf_start + self.buf.len() as u64;
        if at >= self.buf_start && at + len as u64 <= have_end {
            return Ok(());
        }
        let avail = usize::try_from(self.end - at).unwrap_or(usize::MAX);
        let n = len.max(self.chunk).min(avail);
        self.buf.resize(n, 0);
        self.file.read_exact_at(&mut self.buf, at)?;
        self.buf_start = at;
        Ok(())
    }

    fn slice(&self, at: u64, len: usize) -> &[u8] {
        let off = (at - self.buf_start) as usize;
        &self.buf[off..off + len]
    }

    /// The next batch; with `with_body` the whole batch is loaded, otherwise only its header.
    pub(crate) fn next(&mut self, with_body: bool) -> io::Result<Step<'_>> {
        let position = self.pos;
        if position >= self.end {
            return Ok(Step::End);
        }
        let remaining = self.end - position;
        if remaining < LOG_OVERHEAD as u64 {
            return Ok(Step::Invalid {
                position,
                reason: format!(
                    "batch at position {position} is incomplete: only {remaining} bytes left, \
                     fewer than a batch header (torn write)"
                ),
            });
        }
        self.fill(position, HEADER_LEN.min(remaining as usize))?;
        let length = batch::get_i32(self.slice(position, LOG_OVERHEAD), LENGTH_POS);
        if length < (HEADER_LEN - LOG_OVERHEAD) as i32 {
            return Ok(Step::Invalid {
                position,
                reason: format!("batch at position {position} has an invalid length {length}"),
            });
        }
        let total = length as u64 + LOG_OVERHEAD as u64;
        if total > remaining {
            return Ok(Step::Invalid {
                position,
                reason: format!(
                    "batch at position {position} is incomplete: it declares {total} bytes but only \
                     {remaining} remain (torn write)"
                ),
            });
        }
        let header = match BatchHeader::parse(self.slice(position, HEADER_LEN)) {
            Ok(h) => h,
            Err(e) => {
                return Ok(Step::Invalid {
                    position,
                    reason: format!("batch at position {position} is unreadable: {e}"),
                })
            }
        };
        let len = if with_body {
            total as usize
        } else {
            HEADER_LEN
        };
        self.fill(position, len)?;
        self.pos = position + total;
        Ok(Step::Batch {
            position,
            header,
            bytes: self.slice(position, len),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::simple_batch;
    use std::io::Write;

    fn file_with(bytes: &[u8]) -> (tempfile::NamedTempFile, u64) {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        f.write_all(bytes).unwrap();
        (f, bytes.len() as u64)
    }

    #[test]
    fn walks_batches_with_small_chunks() {
        let mut data = Vec::new();
        let mut sizes = Vec::new();
        for i in 0..20 {
            let b = simple_batch(1 + i % 4, i as i64);
            sizes.push(b.len());
            data.extend_from_slice(&b);
        }
        let (f, len) = file_with(&data);
        for with_body in [false, true] {
            let mut s = Scanner::new(f.as_file(), 0, len, 100);
            let mut pos = 0u64;
            let mut n = 0;
            loop {
                match s.next(with_body).unwrap() {
                    Step::Batch {
                        position,
                        header,
                        bytes,
                    } => {
                        assert_eq!(position, pos);
                        assert_eq!(header.total_size(), sizes[n]);
                        let expect = if with_body { sizes[n] } else { HEADER_LEN };
                        assert_eq!(bytes, &data[pos as usize..pos as usize + expect]);
                        pos += sizes[n] as u64;
                        n += 1;
                    }
                    Step::End => break,
                    Step::Invalid { reason, .. } => panic!("{reason}"),
                }
            }
            assert_eq!(n, 20);
        }
    }

    #[test]
    fn reports_torn_and_garbage_tails() {
        let b = simple_batch(3, 0);
        let mut data = b.clone();
        data.extend_from_slice(&b[..b.len() - 7]);
        let (f, len) = file_with(&data);
        let mut s = Scanner::new(f.as_file(), 0, len, SCAN_CHUNK);
        assert!(matches!(s.next(true).unwrap(), Step::Batch { .. }));
        match s.next(true).unwrap() {
            Step::Invalid { position, reason } => {
                assert_eq!(position, b.len() as u64);
                assert!(reason.contains("torn"), "{reason}");
            }
            _ => panic!("expected a torn tail"),
        }
        let mut zeros = b.clone();
        zeros.extend_from_slice(&[0u8; 100]);
        let (f, len) = file_with(&zeros);
        let mut s = Scanner::new(f.as_file(), 0, len, SCAN_CHUNK);
        s.next(false).unwrap();
        assert!(matches!(s.next(false).unwrap(), Step::Invalid { .. }));
        let (f, len) = file_with(&b[..5]);
        let mut s = Scanner::new(f.as_file(), 0, len, SCAN_CHUNK);
        assert!(matches!(
            s.next(false).unwrap(),
            Step::Invalid { position: 0, .. }
        ));
    }
}
