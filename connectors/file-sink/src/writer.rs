//! Appends lines to the sink's file through a buffer, and makes them durable on demand.
//!
//! The file is opened for appending (created if absent), so a task reopened after a crash adds
//! after what is there: lines put after the last durable flush may be written again, which is
//! the at-least-once contract the worker's offset commits give.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};

use crate::encode::{write_value, ValueKind};

/// Buffered bytes that trigger a write before the next flush.
const WRITE_AT: usize = 1024 * 1024;

/// An append-only line file.
#[derive(Debug)]
pub struct LineFile {
    file: File,
    buf: Vec<u8>,
    /// Bytes written since the last `sync`.
    unsynced: bool,
}

impl LineFile {
    /// Opens `path` for appending, creating it if needed.
    pub fn open(path: &str) -> io::Result<LineFile> {
        let file = OpenOptions::new().create(true).append(true).open(path)?;
        Ok(LineFile {
            file,
            buf: Vec::with_capacity(WRITE_AT + 64 * 1024),
            unsynced: false,
        })
    }

    /// Adds one line for `value`; written out when the buffer is full.
    pub fn push(&mut self, kind: ValueKind, value: Option<&[u8]>) -> io::Result<()> {
        write_value(kind, value, &mut self.buf);
        self.buf.push(b'\n');
        if self.buf.len() >= WRITE_AT {
            self.write_out()?;
        }
        Ok(())
    }

    fn write_out(&mut self) -> io::Result<()> {
        if !self.buf.is_empty() {
            self.file.write_all(&self.buf)?;
            self.buf.clear();
            self.unsynced = true;
        }
        Ok(())
    }

    /// Writes what is buffered and waits until the file's data is on disk.
    pub fn sync(&mut self) -> io::Result<()> {
        self.write_out()?;
        if self.unsynced {
            self.file.sync_data()?;
            self.unsynced = false;
        }
        Ok(())
    }

    /// Bytes put but not yet handed to the file.
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn appends_after_existing_content_and_syncs_on_demand() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.txt");
        std::fs::write(&path, "before\n").unwrap();
        let mut f = LineFile::open(path.to_str().unwrap()).unwrap();
        f.push(ValueKind::Raw, Some(b"a")).unwrap();
        f.push(ValueKind::Json, None).unwrap();
        // Buffered, not yet in the file.
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "before\n");
        assert_eq!(f.buffered(), 7);
        f.sync().unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "before\na\nnull\n");
        assert_eq!(f.buffered(), 0);
        // Reopened (a restart) it appends.
        drop(f);
        let mut f = LineFile::open(path.to_str().unwrap()).unwrap();
        f.push(ValueKind::Raw, Some(b"b")).unwrap();
        f.sync().unwrap();
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "before\na\nnull\nb\n"
        );
    }

    #[test]
    fn a_full_buffer_is_written_without_waiting_for_sync() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.txt");
        let mut f = LineFile::open(path.to_str().unwrap()).unwrap();
        let big = vec![b'x'; 1000];
        for _ in 0..(WRITE_AT / 1000 + 1) {
            f.push(ValueKind::Raw, Some(&big)).unwrap();
        }
        assert!(std::fs::metadata(&path).unwrap().len() >= WRITE_AT as u64);
    }
}
