//! Appends lines to the sink's file through a buffer, and makes them durable on demand.
//!
//! The file is opened for appending (created if absent), so a task reopened after a crash adds
//! after what is there: lines put after the last durable flush may be written again, which is
//! the at-least-once contract the worker's offset commits give.
//!
//! A crash can also cut a write short (the kernel stops a write at a page boundary for a fatal
//! signal), leaving a last line without its newline. Its records were not committed (the
//! pre-commit that would have synced them never returned), so they come again; on open the
//! unterminated tail is cut off so that the redelivered lines are not glued to it.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};

use crate::append::Appender;
use crate::encode::{write_value, ValueKind};

/// Buffered bytes that trigger a write before the next flush.
const WRITE_AT: usize = 1024 * 1024;

/// The longest unterminated tail cut off on open; a longer one cannot be a cut-short write of
/// this sink's buffer, so it is kept and a newline is added after it instead.
const MAX_REPAIR: u64 = 64 * 1024 * 1024;
/// Bytes read per step when looking backwards for the last newline.
const SCAN_STEP: u64 = 64 * 1024;

/// What opening did about an unterminated last line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Repair {
    /// The file was empty or ended with a newline.
    None,
    /// This many bytes after the last newline were cut off.
    Truncated(u64),
    /// The unterminated tail was too long to be ours: a newline was added after it.
    Terminated,
}

/// Cuts off (or terminates) an unterminated last line; see the module docs.
fn repair_tail(mut file: &File) -> io::Result<Repair> {
    let len = file.metadata()?.len();
    let mut end = len;
    let mut chunk = Vec::new();
    while end > 0 && len - end < MAX_REPAIR {
        let start = end.saturating_sub(SCAN_STEP);
        chunk.resize((end - start) as usize, 0);
        file.seek(SeekFrom::Start(start))?;
        file.read_exact(&mut chunk)?;
        if let Some(i) = chunk.iter().rposition(|&b| b == b'\n') {
            let keep = start + i as u64 + 1;
            if keep == len {
                return Ok(Repair::None);
            }
            file.set_len(keep)?;
            file.sync_data()?;
            return Ok(Repair::Truncated(len - keep));
        }
        end = start;
    }
    if len == 0 {
        return Ok(Repair::None);
    }
    if end == 0 {
        // No newline at all within the bound: the whole file is one cut-short write.
        file.set_len(0)?;
        file.sync_data()?;
        return Ok(Repair::Truncated(len));
    }
    file.write_all(b"\n")?;
    file.sync_data()?;
    Ok(Repair::Terminated)
}

/// An append-only line file.
#[derive(Debug)]
pub struct LineFile {
    file: File,
    /// Where buffered lines go: one write each time (see [`crate::append`]).
    appender: Appender,
    buf: Vec<u8>,
    /// Bytes written since the last `sync`.
    unsynced: bool,
}

impl LineFile {
    /// Opens `path` for appending, creating it if needed, after cutting off an unterminated
    /// last line (see the module docs).
    pub fn open(path: &str) -> io::Result<(LineFile, Repair)> {
        let file = OpenOptions::new()
            .create(true)
            .read(true)
            .append(true)
            .open(path)?;
        let repair = repair_tail(&file)?;
        let appender = Appender::open(path, &file)?;
        let f = LineFile {
            file,
            appender,
            buf: Vec::with_capacity(WRITE_AT + 64 * 1024),
            unsynced: false,
        };
        Ok((f, repair))
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

    /// Hands what is buffered to the file (no fsync): the lines are then visible to readers,
    /// as Kafka's sink shows each line at once.
    pub fn write_out(&mut self) -> io::Result<()> {
        if !self.buf.is_empty() {
            self.appender.append(&self.buf)?;
            self.buf.clear();
            self.unsynced = true;
        }
        Ok(())
    }

    /// Writes what is buffered and waits until the file's data is on disk.
    pub fn sync(&mut self) -> io::Result<()> {
        self.write_out()?;
        if self.unsynced {
            // The appender's descriptor and this one are the same file: syncing either one
            // makes every write to it durable.
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
        let mut f = LineFile::open(path.to_str().unwrap()).unwrap().0;
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
        let mut f = LineFile::open(path.to_str().unwrap()).unwrap().0;
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
        let mut f = LineFile::open(path.to_str().unwrap()).unwrap().0;
        let big = vec![b'x'; 1000];
        for _ in 0..(WRITE_AT / 1000 + 1) {
            f.push(ValueKind::Raw, Some(&big)).unwrap();
        }
        assert!(std::fs::metadata(&path).unwrap().len() >= WRITE_AT as u64);
    }

    #[test]
    fn an_unterminated_last_line_is_cut_off_on_open() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.txt");
        let p = path.to_str().unwrap();
        std::fs::write(&path, "one\ntwo\nthr").unwrap();
        let (mut f, repair) = LineFile::open(p).unwrap();
        assert_eq!(repair, Repair::Truncated(3));
        f.push(ValueKind::Raw, Some(b"three")).unwrap();
        f.sync().unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "one\ntwo\nthree\n");
        drop(f);
        // Terminated files and empty ones are left alone.
        assert_eq!(LineFile::open(p).unwrap().1, Repair::None);
        let empty = dir.path().join("empty.txt");
        std::fs::write(&empty, "").unwrap();
        assert_eq!(
            LineFile::open(empty.to_str().unwrap()).unwrap().1,
            Repair::None
        );
        // A file with no newline at all was one cut-short write.
        std::fs::write(&path, "partial").unwrap();
        assert_eq!(LineFile::open(p).unwrap().1, Repair::Truncated(7));
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "");
    }

    #[test]
    fn the_last_newline_is_found_across_scan_steps() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.txt");
        let mut body = b"keep\n".to_vec();
        body.extend(std::iter::repeat_n(b'x', SCAN_STEP as usize * 2 + 10));
        std::fs::write(&path, &body).unwrap();
        let (_, repair) = LineFile::open(path.to_str().unwrap()).unwrap();
        assert_eq!(repair, Repair::Truncated(SCAN_STEP * 2 + 10));
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "keep\n");
    }
}
