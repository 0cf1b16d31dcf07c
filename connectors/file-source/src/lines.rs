//! Splits bytes read from a file into lines the way Kafka's FileStreamSourceTask does.
//!
//! A line ends at `\n`, `\r\n` or a lone `\r`. A `\r` that is the last byte read so far is held
//! back until the next byte shows whether a `\n` follows (Kafka does the same), so a `\r\n` split
//! across two reads is one terminator. Unlike Kafka, positions count bytes, not UTF-16 chars, so
//! a restart seeks to the right place in files with multi-byte characters.

use std::ops::Range;

/// Unconsumed bytes of a file and the file offset they start at.
#[derive(Debug)]
pub struct LineBuffer {
    buf: Vec<u8>,
    /// Start of the first unconsumed byte in `buf`.
    head: usize,
    /// Where the terminator search resumes (bytes before it hold no terminator).
    scan: usize,
    /// File offset of `buf[0]`.
    base: u64,
    /// Longest line accepted, terminator excluded.
    max_line: usize,
}

/// Why a line could not be taken from the buffer.
#[derive(Debug, PartialEq, Eq)]
pub struct LineTooLong {
    /// File offset where the line starts.
    pub at: u64,
    /// The limit it exceeds.
    pub max: usize,
}

impl LineBuffer {
    /// An empty buffer for data starting at file offset `position`.
    pub fn new(position: u64, max_line: usize) -> Self {
        LineBuffer {
            buf: Vec::new(),
            head: 0,
            scan: 0,
            base: position,
            max_line,
        }
    }

    /// The file offset just after the last line taken: where a restart must resume.
    pub fn position(&self) -> u64 {
        self.base + self.head as u64
    }

    /// The file offset just after the last byte read.
    pub fn read_end(&self) -> u64 {
        self.base + self.buf.len() as u64
    }

    /// Bytes read but not yet part of a complete line.
    pub fn pending(&self) -> usize {
        self.buf.len() - self.head
    }

    /// Forgets everything and restarts at file offset `position`.
    pub fn reset(&mut self, position: u64) {
        self.buf.clear();
        self.head = 0;
        self.scan = 0;
        self.base = position;
    }

    /// Appends bytes read from the file.
    pub fn extend(&mut self, data: &[u8]) {
        self.buf.extend_from_slice(data);
    }

    /// Reads once from `r` into the buffer (at most `chunk` bytes); returns how many were read.
    pub fn read_from(
        &mut self,
        r: &mut impl std::io::Read,
        chunk: usize,
    ) -> std::io::Result<usize> {
        let old = self.buf.len();
        self.buf.resize(old + chunk, 0);
        let got = loop {
            match r.read(&mut self.buf[old..]) {
                Ok(n) => break Ok(n),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => break Err(e),
            }
        };
        self.buf.truncate(old + *got.as_ref().unwrap_or(&0));
        got
    }

    /// The next complete line: its byte range in the buffer (see [`LineBuffer::bytes`]) and the
    /// file offset just after its terminator. `Ok(None)` when more data is needed.
    pub fn next_line(&mut self) -> Result<Option<(Range<usize>, u64)>, LineTooLong> {
        let from = self.scan.max(self.head);
        let found = self.buf[from..]
            .iter()
            .position(|&b| b == b'\n' || b == b'\r')
            .map(|i| from + i);
        let Some(end) = found else {
            self.scan = self.buf.len();
            if self.pending() > self.max_line {
                return Err(LineTooLong {
                    at: self.position(),
                    max: self.max_line,
                });
            }
            return Ok(None);
        };
        let next = if self.buf[end] == b'\n' {
            end + 1
        } else {
            match self.buf.get(end + 1) {
                // Cannot tell `\r` from `\r\n` yet: wait for the next byte.
                None => {
                    self.scan = end;
                    return Ok(None);
                }
                Some(b'\n') => end + 2,
                Some(_) => end + 1,
            }
        };
        if end - self.head > self.max_line {
            return Err(LineTooLong {
                at: self.position(),
                max: self.max_line,
            });
        }
        let line = self.head..end;
        self.head = next;
        self.scan = next;
        Ok(Some((line, self.base + next as u64)))
    }

    /// The bytes of a range returned by [`LineBuffer::next_line`], valid until the next
    /// [`LineBuffer::compact`] or read.
    pub fn bytes(&self, range: Range<usize>) -> &[u8] {
        &self.buf[range]
    }

    /// Drops consumed bytes (once per poll rather than once per line, as Kafka does).
    pub fn compact(&mut self) {
        if self.head == 0 {
            return;
        }
        self.buf.drain(..self.head);
        self.base += self.head as u64;
        self.scan -= self.head;
        self.head = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all_lines(b: &mut LineBuffer) -> Vec<(String, u64)> {
        let mut out = Vec::new();
        while let Some((r, pos)) = b.next_line().unwrap() {
            out.push((String::from_utf8_lossy(b.bytes(r)).into_owned(), pos));
        }
        out
    }

    #[test]
    fn splits_on_lf_crlf_and_cr_with_byte_positions() {
        let mut b = LineBuffer::new(0, 1024);
        b.extend(b"a\nbb\r\nccc\rd");
        assert_eq!(
            all_lines(&mut b),
            vec![("a".into(), 2), ("bb".into(), 6), ("ccc".into(), 10)]
        );
        // `d` has no terminator yet.
        assert_eq!(b.position(), 10);
        assert_eq!(b.pending(), 1);
        b.extend(b"\n");
        assert_eq!(all_lines(&mut b), vec![("d".into(), 12)]);
    }

    #[test]
    fn cr_at_the_end_waits_for_the_next_byte() {
        let mut b = LineBuffer::new(0, 1024);
        b.extend(b"x\r");
        assert_eq!(all_lines(&mut b), vec![]);
        b.extend(b"\ny\r");
        assert_eq!(all_lines(&mut b), vec![("x".into(), 3)]);
        b.extend(b"z");
        assert_eq!(all_lines(&mut b), vec![("y".into(), 5)]);
        assert_eq!(b.pending(), 1);
    }

    #[test]
    fn empty_lines_and_multibyte_positions_count_bytes() {
        let mut b = LineBuffer::new(100, 1024);
        b.extend("\n\né\n".as_bytes());
        assert_eq!(
            all_lines(&mut b),
            vec![("".into(), 101), ("".into(), 102), ("é".into(), 105)]
        );
    }

    #[test]
    fn compact_keeps_positions_and_pending_bytes() {
        let mut b = LineBuffer::new(0, 1024);
        b.extend(b"one\ntw");
        assert_eq!(all_lines(&mut b), vec![("one".into(), 4)]);
        b.compact();
        assert_eq!(b.position(), 4);
        assert_eq!(b.read_end(), 6);
        b.extend(b"o\n");
        assert_eq!(all_lines(&mut b), vec![("two".into(), 8)]);
    }

    #[test]
    fn a_line_longer_than_the_limit_is_an_error_naming_where_it_starts() {
        let mut b = LineBuffer::new(7, 4);
        b.extend(b"ok\n12345");
        assert_eq!(b.next_line().unwrap().map(|x| x.1), Some(10));
        assert_eq!(b.next_line(), Err(LineTooLong { at: 10, max: 4 }));
        let mut b = LineBuffer::new(0, 4);
        b.extend(b"123456\n");
        assert_eq!(b.next_line(), Err(LineTooLong { at: 0, max: 4 }));
    }

    #[test]
    fn read_from_appends_what_the_reader_gives() {
        let mut b = LineBuffer::new(0, 1024);
        let mut src: &[u8] = b"hello\nworld\n";
        assert_eq!(b.read_from(&mut src, 8).unwrap(), 8);
        assert_eq!(all_lines(&mut b), vec![("hello".into(), 6)]);
        assert_eq!(b.read_from(&mut src, 8).unwrap(), 4);
        assert_eq!(all_lines(&mut b), vec![("world".into(), 12)]);
        assert_eq!(b.read_from(&mut src, 8).unwrap(), 0);
    }
}
