//! Follows one file: reads complete lines from a byte position on, picks up data appended later,
//! and notices when the file was truncated or replaced.
//!
//! Kafka's FileStreamSourceTask keeps reading its open stream forever, so after a truncation or a
//! log rotation it silently stops producing. Here, whenever a poll finds no new data, the path is
//! opened again and compared with the file being read: if the file at the path is now shorter
//! than the position reached (truncated) or starts with different bytes (replaced), reading
//! restarts at byte 0 of the file now at the path. A partial last line of the old file (no
//! terminator yet) is dropped with a warning, as it can never be completed.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};

use crate::lines::{LineBuffer, LineTooLong};

/// How many leading bytes identify a file (compared to detect a replaced file).
const FINGERPRINT_LEN: usize = 256;
/// Bytes read per `read` call.
const CHUNK: usize = 64 * 1024;

/// What happened to the file since the last look, for logging.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// The file does not exist (yet); the poll returned nothing.
    Missing,
    /// The file was opened; reading starts at this byte offset.
    Opened { at: u64 },
    /// The stored position was past the end of the file: it was truncated while the task was
    /// down, so reading starts over at byte 0.
    StoredPositionPastEnd { stored: u64, len: u64 },
    /// The file was truncated or replaced; reading starts over at byte 0 of the file now at the
    /// path. `dropped` bytes of an unterminated last line of the old file were discarded.
    Restarted { truncated: bool, dropped: usize },
}

/// A failure reading the file.
#[derive(Debug)]
pub enum TailError {
    /// An I/O error other than the file being absent.
    Io(io::Error),
    /// A line exceeds the limit.
    LineTooLong(LineTooLong),
}

impl std::fmt::Display for TailError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TailError::Io(e) => write!(f, "{e}"),
            TailError::LineTooLong(l) => write!(
                f,
                "the line starting at byte {} is longer than {} bytes",
                l.at, l.max
            ),
        }
    }
}

impl From<io::Error> for TailError {
    fn from(e: io::Error) -> Self {
        TailError::Io(e)
    }
}

/// One followed file.
#[derive(Debug)]
pub struct FileTail {
    path: String,
    file: Option<File>,
    /// Position to start from when the file is (re)opened.
    start: u64,
    lines: LineBuffer,
    /// The first bytes of the file being read, as read when it was opened.
    fingerprint: Vec<u8>,
    /// The last read found the end of the file.
    at_eof: bool,
}

impl FileTail {
    /// Follows `path` (a path inside the guest's granted directory) from byte `start`.
    pub fn new(path: impl Into<String>, start: u64, max_line: usize) -> Self {
        FileTail {
            path: path.into(),
            file: None,
            start,
            lines: LineBuffer::new(start, max_line),
            fingerprint: Vec::new(),
            at_eof: false,
        }
    }

    /// The byte offset after the last line returned.
    pub fn position(&self) -> u64 {
        self.lines.position()
    }

    /// Returns up to `max` new lines through `emit(line, position after it)` and what happened
    /// to the file on the way (through `event`). Returns how many lines were emitted; zero
    /// promptly when there is nothing new.
    pub fn poll(
        &mut self,
        max: usize,
        mut emit: impl FnMut(&[u8], u64),
        mut event: impl FnMut(Event),
    ) -> Result<usize, TailError> {
        if self.file.is_none() && !self.open(&mut event)? {
            return Ok(0);
        }
        let mut emitted = 0;
        let mut checked = false;
        while emitted < max {
            if let Some((range, pos)) = self.lines.next_line().map_err(TailError::LineTooLong)? {
                emit(self.lines.bytes(range), pos);
                emitted += 1;
                continue;
            }
            let Some(file) = self.file.as_mut() else {
                break;
            };
            if self.at_eof {
                // Under WASI a read that reached the end of the file leaves the descriptor's
                // input stream closed, and later reads return nothing even after the file
                // grew; seeking opens a fresh stream at the position.
                file.seek(SeekFrom::Start(self.lines.read_end()))?;
                self.at_eof = false;
            }
            if self.lines.read_from(file, CHUNK)? > 0 {
                continue;
            }
            self.at_eof = true;
            // End of file. Only look for truncation or replacement when nothing came this poll
            // (rotation is rare; this keeps the busy path free of extra system calls), and
            // once per poll.
            if emitted > 0 || checked {
                break;
            }
            checked = true;
            if !self.check_replaced(&mut event)? {
                break;
            }
        }
        self.lines.compact();
        Ok(emitted)
    }

    /// Opens the file at the start position; false when it does not exist yet.
    fn open(&mut self, event: &mut impl FnMut(Event)) -> Result<bool, TailError> {
        let mut file = match File::open(&self.path) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                event(Event::Missing);
                return Ok(false);
            }
            Err(e) => return Err(e.into()),
        };
        let len = file.metadata()?.len();
        let mut start = self.start;
        if start > len {
            event(Event::StoredPositionPastEnd { stored: start, len });
            start = 0;
        }
        self.fingerprint = read_prefix(&mut file)?;
        file.seek(SeekFrom::Start(start))?;
        self.lines.reset(start);
        self.file = Some(file);
        self.at_eof = false;
        event(Event::Opened { at: start });
        Ok(true)
    }

    /// At end of file: switches to the file now at the path if it is not the one being read
    /// (shorter than what was read, or different first bytes). True when it switched.
    fn check_replaced(&mut self, event: &mut impl FnMut(Event)) -> Result<bool, TailError> {
        let mut now = match File::open(&self.path) {
            Ok(f) => f,
            // Renamed away and not recreated yet: keep the old file, the new one may come.
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
            Err(e) => return Err(e.into()),
        };
        let len = now.metadata()?.len();
        let truncated = len < self.lines.read_end();
        if !truncated {
            // The first bytes of the old file may have grown since it was opened; compare
            // only what both have.
            if self.fingerprint.len() < FINGERPRINT_LEN {
                if let Some(file) = self.file.as_mut() {
                    let at = file.stream_position()?;
                    self.fingerprint = read_prefix(file)?;
                    file.seek(SeekFrom::Start(at))?;
                }
            }
            let prefix = read_prefix(&mut now)?;
            let n = prefix.len().min(self.fingerprint.len());
            if prefix[..n] == self.fingerprint[..n] {
                return Ok(false);
            }
        }
        event(Event::Restarted {
            truncated,
            dropped: self.lines.pending(),
        });
        self.fingerprint = read_prefix(&mut now)?;
        now.seek(SeekFrom::Start(0))?;
        self.lines.reset(0);
        self.file = Some(now);
        self.at_eof = false;
        Ok(true)
    }
}

/// The first [`FINGERPRINT_LEN`] bytes of `file` (fewer if it is shorter); moves its cursor.
fn read_prefix(file: &mut File) -> io::Result<Vec<u8>> {
    file.seek(SeekFrom::Start(0))?;
    let mut buf = Vec::with_capacity(FINGERPRINT_LEN);
    file.take(FINGERPRINT_LEN as u64).read_to_end(&mut buf)?;
    Ok(buf)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs::OpenOptions;
    use std::io::Write;

    struct Polled {
        lines: Vec<(String, u64)>,
        events: Vec<Event>,
    }

    fn poll(t: &mut FileTail, max: usize) -> Polled {
        let mut lines = Vec::new();
        let mut events = Vec::new();
        let n = t
            .poll(
                max,
                |l, p| lines.push((String::from_utf8_lossy(l).into_owned(), p)),
                |e| events.push(e),
            )
            .unwrap();
        assert_eq!(n, lines.len());
        Polled { lines, events }
    }

    fn append(path: &std::path::Path, data: &str) {
        let mut f = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .unwrap();
        f.write_all(data.as_bytes()).unwrap();
    }

    fn names(p: &Polled) -> Vec<&str> {
        p.lines.iter().map(|(l, _)| l.as_str()).collect()
    }

    #[test]
    fn waits_for_the_file_then_tails_appended_lines() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("in.txt");
        let mut t = FileTail::new(path.to_str().unwrap(), 0, 1 << 20);
        let p = poll(&mut t, 10);
        assert!(p.lines.is_empty());
        assert_eq!(p.events, vec![Event::Missing]);

        append(&path, "a\nb\r\nc");
        let p = poll(&mut t, 10);
        assert_eq!(p.lines, vec![("a".into(), 2), ("b".into(), 5)]);
        assert_eq!(p.events, vec![Event::Opened { at: 0 }]);
        assert!(poll(&mut t, 10).lines.is_empty());

        append(&path, "\nd\n");
        assert_eq!(
            poll(&mut t, 10).lines,
            vec![("c".into(), 7), ("d".into(), 9)]
        );
        assert_eq!(t.position(), 9);
    }

    #[test]
    fn batch_size_caps_a_poll_and_the_rest_comes_next() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("in.txt");
        let body: String = (0..1000).map(|i| format!("line-{i}\n")).collect();
        append(&path, &body);
        let mut t = FileTail::new(path.to_str().unwrap(), 0, 1 << 20);
        let mut all = Vec::new();
        loop {
            let p = poll(&mut t, 300);
            assert!(p.lines.len() <= 300);
            if p.lines.is_empty() {
                break;
            }
            all.extend(p.lines);
        }
        assert_eq!(all.len(), 1000);
        assert_eq!(all[999].0, "line-999");
        assert_eq!(all[999].1, body.len() as u64);
    }

    #[test]
    fn resumes_exactly_at_a_stored_position() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("in.txt");
        append(&path, "one\ntwo\nthree\n");
        let mut t = FileTail::new(path.to_str().unwrap(), 0, 1 << 20);
        let p = poll(&mut t, 2);
        assert_eq!(names(&p), vec!["one", "two"]);
        let stored = p.lines[0].1; // only "one" was acknowledged
        let mut t = FileTail::new(path.to_str().unwrap(), stored, 1 << 20);
        let p = poll(&mut t, 10);
        assert_eq!(names(&p), vec!["two", "three"]);
        assert_eq!(p.events, vec![Event::Opened { at: 4 }]);
    }

    #[test]
    fn a_stored_position_past_the_end_starts_over() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("in.txt");
        append(&path, "x\n");
        let mut t = FileTail::new(path.to_str().unwrap(), 500, 1 << 20);
        let p = poll(&mut t, 10);
        assert_eq!(names(&p), vec!["x"]);
        assert_eq!(
            p.events[0],
            Event::StoredPositionPastEnd {
                stored: 500,
                len: 2
            }
        );
    }

    #[test]
    fn truncation_restarts_at_zero() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("in.txt");
        append(&path, "aaaa\nbbbb\npartial");
        let mut t = FileTail::new(path.to_str().unwrap(), 0, 1 << 20);
        assert_eq!(names(&poll(&mut t, 10)), vec!["aaaa", "bbbb"]);
        std::fs::write(&path, "n\n").unwrap();
        let p = poll(&mut t, 10);
        assert_eq!(p.lines, vec![("n".into(), 2)]);
        assert_eq!(
            p.events,
            vec![Event::Restarted {
                truncated: true,
                dropped: 7
            }]
        );
    }

    #[test]
    fn a_replaced_file_is_read_from_its_start() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("in.txt");
        append(&path, "old-1\n");
        let mut t = FileTail::new(path.to_str().unwrap(), 0, 1 << 20);
        assert_eq!(names(&poll(&mut t, 10)), vec!["old-1"]);
        // Rotation: the file is renamed away and a new, longer one takes its place.
        std::fs::rename(&path, dir.path().join("in.txt.1")).unwrap();
        assert!(poll(&mut t, 10).lines.is_empty());
        append(&path, "new-1\nnew-2\n");
        let p = poll(&mut t, 10);
        assert_eq!(names(&p), vec!["new-1", "new-2"]);
        assert_eq!(
            p.events,
            vec![Event::Restarted {
                truncated: false,
                dropped: 0
            }]
        );
        // Appending to the new file goes on normally.
        append(&path, "new-3\n");
        let p = poll(&mut t, 10);
        assert_eq!(p.lines, vec![("new-3".into(), 18)]);
        assert!(p.events.is_empty());
    }

    #[test]
    fn a_file_that_was_empty_when_opened_is_not_mistaken_for_a_new_one() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("in.txt");
        append(&path, "");
        let mut t = FileTail::new(path.to_str().unwrap(), 0, 1 << 20);
        assert!(poll(&mut t, 10).lines.is_empty());
        append(&path, "a\n");
        assert_eq!(names(&poll(&mut t, 10)), vec!["a"]);
        assert!(poll(&mut t, 10).events.is_empty());
        append(&path, "b\n");
        let p = poll(&mut t, 10);
        assert_eq!(p.lines, vec![("b".into(), 4)]);
        assert!(p.events.is_empty());
    }

    #[test]
    fn an_overlong_line_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("in.txt");
        append(&path, &"x".repeat(100));
        let mut t = FileTail::new(path.to_str().unwrap(), 0, 10);
        let err = t.poll(10, |_, _| {}, |_| {}).unwrap_err();
        assert!(err.to_string().contains("longer than 10 bytes"), "{err}");
    }
}
