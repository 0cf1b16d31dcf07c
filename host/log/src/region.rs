//! A run of whole stored batches named by file, position and length, so that a fetch can hand the
//! bytes to the socket with `sendfile` instead of reading them into memory first.

use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};

use crate::segment::read_exact_at_uninit;

/// Whole batches of one segment file: `[position, position + len)`.
///
/// The range never changes once read: appends only extend the active segment, and compaction,
/// retention and deletion replace or unlink files, which this handle keeps open until it is dropped.
#[derive(Debug, Clone)]
pub struct FileRegion {
    file: Arc<File>,
    position: u64,
    len: usize,
}

/// What [`crate::Log::read_region`] returned.
#[derive(Debug, Clone)]
pub struct RegionRead {
    /// The batches, `None` when there is nothing at or after the offset read.
    pub region: Option<FileRegion>,
    /// The first batch's base offset.
    pub first_offset: i64,
    /// The offset after the last batch (the next batch's base offset, or the segment's next offset).
    pub next_offset: i64,
    pub log_start_offset: i64,
    pub log_end_offset: i64,
}

impl RegionRead {
    /// Offsets the batches span: the record count unless compaction left gaps.
    pub fn offset_span(&self) -> u64 {
        u64::try_from(self.next_offset.saturating_sub(self.first_offset)).unwrap_or(0)
    }
}

impl FileRegion {
    pub(crate) fn new(file: Arc<File>, position: u64, len: usize) -> Self {
        FileRegion {
            file,
            position,
            len,
        }
    }

    pub fn file(&self) -> &File {
        &self.file
    }

    pub fn position(&self) -> u64 {
        self.position
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Reads the region into memory (one positioned read, no zero fill). Blocks on the disk: call it
    /// from a blocking thread.
    pub fn read(&self) -> io::Result<Bytes> {
        let mut buf = BytesMut::new();
        read_exact_at_uninit(&self.file, &mut buf, self.len, self.position)?;
        Ok(buf.freeze())
    }

    /// Whether every page of the region is in the page cache, so sending it will not wait for the
    /// disk. Maps the range without touching it and asks `mincore`; any failure answers `false`.
    pub fn is_resident(&self) -> bool {
        if self.len == 0 {
            return true;
        }
        // SAFETY: sysconf has no preconditions.
        let page = match unsafe { libc::sysconf(libc::_SC_PAGESIZE) } {
            p if p > 0 => p as u64,
            _ => return false,
        };
        let start = self.position - self.position % page;
        let Some(map_len) = (self.position - start)
            .checked_add(self.len as u64)
            .and_then(|l| usize::try_from(l).ok())
        else {
            return false;
        };
        let Ok(offset) = libc::off_t::try_from(start) else {
            return false;
        };
        let pages = map_len.div_ceil(page as usize);
        let mut vec = vec![0u8; pages];
        // SAFETY: a fresh read-only mapping of the file that is never read through, only passed to
        // mincore (which does not fault pages in) and unmapped before returning; `vec` holds one byte
        // per page of the mapping, as mincore requires.
        unsafe {
            let addr = libc::mmap(
                std::ptr::null_mut(),
                map_len,
                libc::PROT_READ,
                libc::MAP_SHARED,
                self.file.as_raw_fd(),
                offset,
            );
            if addr == libc::MAP_FAILED {
                return false;
            }
            let rc = libc::mincore(addr, map_len, vec.as_mut_ptr());
            libc::munmap(addr, map_len);
            rc == 0 && vec.iter().all(|b| b & 1 == 1)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn residency_follows_the_page_cache() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        let mut f = File::create(&path).unwrap();
        f.write_all(&[7u8; 64 << 10]).unwrap();
        // A hole has no page in the cache until something writes it.
        f.set_len(4 << 20).unwrap();
        let file = Arc::new(File::open(&path).unwrap());
        let written = FileRegion::new(file.clone(), 100, 60 << 10);
        assert!(written.is_resident());
        assert_eq!(written.read().unwrap(), vec![7u8; 60 << 10]);
        let hole = FileRegion::new(file.clone(), 1 << 20, 1 << 20);
        assert!(!hole.is_resident());
        let straddling = FileRegion::new(file.clone(), 60 << 10, 1 << 20);
        assert!(!straddling.is_resident(), "one missing page is enough");
        assert!(FileRegion::new(file, 5, 0).is_resident());
    }
}
