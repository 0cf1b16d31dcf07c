//! The packed record-batch byte layout that every data-carrying plugin export takes and returns.
//!
//! Records cross the host/guest boundary as one `list<u8>` per batch rather than a typed
//! `list<record>`: wasmtime lowers a typed list by calling the guest allocator for every nested
//! list and string (measured at ~350 ns/record), whereas one byte buffer is a single allocation
//! and a memcpy (~150 ns/record round trip). This crate is that layout's only implementation, used
//! by the host runtime to encode/decode and by the guest SDK to read lazily and write back.
//!
//! # Layout
//!
//! All integers are little-endian. Lengths of `-1` mean "null" (Kafka distinguishes a null
//! value — a tombstone — from an empty one).
//!
//! ```text
//! batch   := header record* topic-table
//! header  := magic:u32 = 0x31424657 ("WFB1")  count:u32  topics-at:u32
//! record  := len:u32                      bytes of the record after this field
//!            topic:u32                    index into the topic table
//!            partition:i32                -1 = not assigned
//!            timestamp:i64                ms since the Unix epoch, -1 = none
//!            offset:i64                   -1 = not yet written to a log
//!            key-len:i32  value-len:i32   -1 = null; key-len -2: a Kafka batch entry
//!            header-count:u32
//!            key-bytes value-bytes
//!            header*                      header := name-len:u32 name (UTF-8) value-len:i32 value
//! topic-table := n:u32 (len:u32 name (UTF-8))*   starts at byte `topics-at`
//! ```
//!
//! A **Kafka batch entry** (key-len -2, no key, no headers) carries in its value one whole Kafka
//! record batch (format v2) to be appended to `topic`/`partition` as it is, compression included:
//! MirrorMaker's batch passthrough. Its offset is the source offset of the batch's first record.
//! Only a host that asked for such entries hands them to a plugin, and a host that receives one
//! from a plugin appends it without decoding it, or decodes it when a stage must look inside.
//!
//! The topic table sits at the end so a writer can stream records without knowing every topic
//! up front and patch three header words when it finishes; records refer to topics by index so a
//! batch for one topic names it once. Each record carries its own length so readers can skip or
//! copy a record verbatim ([`BatchWriter::push_view`]) without decoding it.
//!
//! The crate has three parts: [`BatchReader`] and [`RecordView`] (zero-copy, lazy reading),
//! [`BatchWriter`] (streaming encoding), and [`Record`] with [`encode`]/[`decode`] (owned records
//! for the host side).

#![forbid(unsafe_code)]

use std::fmt;

/// First word of every batch: "WFB1" read as a little-endian u32.
pub const MAGIC: u32 = u32::from_le_bytes(*b"WFB1");
/// Bytes of the batch header (magic, count, topic-table position).
pub const HEADER_LEN: usize = 12;
/// The key length that marks a Kafka batch entry.
pub const KAFKA_BATCH_KEY_LEN: i32 = -2;
/// Bytes of a record's fixed part, after its length word.
const RECORD_FIXED: usize = 4 + 4 + 8 + 8 + 4 + 4 + 4;

/// Why a byte buffer is not a valid batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecodeError {
    /// The buffer ended before a field that the layout says is there.
    Truncated {
        /// Byte position where more input was needed.
        at: usize,
    },
    /// The first word is not [`MAGIC`].
    BadMagic(u32),
    /// A record names a topic index outside the topic table.
    BadTopicIndex(u32),
    /// A topic or header name is not UTF-8.
    NotUtf8 {
        /// Byte position of the offending string.
        at: usize,
    },
    /// A length field is negative (other than -1) or points past its record.
    BadLength {
        /// Byte position of the offending length.
        at: usize,
    },
    /// A Kafka batch entry where owned records were asked for ([`decode`]), which would lose it.
    KafkaBatch {
        /// Byte position of the entry.
        at: usize,
    },
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecodeError::Truncated { at } => write!(f, "batch truncated at byte {at}"),
            DecodeError::BadMagic(m) => write!(f, "not a record batch (magic {m:#010x})"),
            DecodeError::BadTopicIndex(i) => write!(f, "record refers to unknown topic #{i}"),
            DecodeError::NotUtf8 { at } => write!(f, "string at byte {at} is not UTF-8"),
            DecodeError::BadLength { at } => write!(f, "invalid length at byte {at}"),
            DecodeError::KafkaBatch { at } => {
                write!(
                    f,
                    "Kafka batch entry at byte {at} where records were expected"
                )
            }
        }
    }
}

impl std::error::Error for DecodeError {}

/// Why a record could not be added to a batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EncodeError {
    /// A key, value, header or the batch itself exceeds the 2 GiB the layout can describe.
    TooLarge,
}

impl fmt::Display for EncodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("record or batch larger than 2 GiB")
    }
}

impl std::error::Error for EncodeError {}

/// Bounds-checked little-endian reads; every accessor returns `Truncated` rather than panicking
/// because the bytes may come from an untrusted plugin.
struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        let end = self
            .pos
            .checked_add(n)
            .ok_or(DecodeError::Truncated { at: self.pos })?;
        let s = self
            .buf
            .get(self.pos..end)
            .ok_or(DecodeError::Truncated { at: self.pos })?;
        self.pos = end;
        Ok(s)
    }

    fn u32(&mut self) -> Result<u32, DecodeError> {
        let mut w = [0u8; 4];
        w.copy_from_slice(self.take(4)?);
        Ok(u32::from_le_bytes(w))
    }

    fn i32(&mut self) -> Result<i32, DecodeError> {
        Ok(self.u32()? as i32)
    }

    fn i64(&mut self) -> Result<i64, DecodeError> {
        let mut w = [0u8; 8];
        w.copy_from_slice(self.take(8)?);
        Ok(i64::from_le_bytes(w))
    }

    /// A nullable byte string whose i32 length has already been read.
    fn nullable(&mut self, len: i32, len_at: usize) -> Result<Option<&'a [u8]>, DecodeError> {
        match len {
            -1 => Ok(None),
            n if n < 0 => Err(DecodeError::BadLength { at: len_at }),
            n => Ok(Some(self.take(n as usize)?)),
        }
    }

    fn string(&mut self) -> Result<&'a str, DecodeError> {
        let len = self.u32()? as usize;
        let at = self.pos;
        std::str::from_utf8(self.take(len)?).map_err(|_| DecodeError::NotUtf8 { at })
    }
}

/// A validated view of a batch's header and topic table; records are decoded as they are iterated.
#[derive(Debug, Clone)]
pub struct BatchReader<'a> {
    buf: &'a [u8],
    count: u32,
    records_end: usize,
    topics: Vec<&'a str>,
}

impl<'a> BatchReader<'a> {
    /// Checks the header and topic table. Records are checked one by one as they are read.
    pub fn new(buf: &'a [u8]) -> Result<Self, DecodeError> {
        let mut c = Cursor { buf, pos: 0 };
        let magic = c.u32()?;
        if magic != MAGIC {
            return Err(DecodeError::BadMagic(magic));
        }
        let count = c.u32()?;
        let topics_at_pos = c.pos;
        let topics_at = c.u32()? as usize;
        if topics_at < HEADER_LEN || topics_at > buf.len() {
            return Err(DecodeError::BadLength { at: topics_at_pos });
        }
        let mut t = Cursor {
            buf,
            pos: topics_at,
        };
        let n = t.u32()?;
        // Each entry needs at least its 4-byte length, so a huge count cannot make us allocate.
        let mut topics = Vec::with_capacity((n as usize).min(buf.len() / 4));
        for _ in 0..n {
            topics.push(t.string()?);
        }
        Ok(BatchReader {
            buf,
            count,
            records_end: topics_at,
            topics,
        })
    }

    /// Number of records the header announces.
    pub fn len(&self) -> usize {
        self.count as usize
    }

    /// True when the batch holds no records.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The topic table, indexed by [`RecordView::topic_index`].
    pub fn topics(&self) -> &[&'a str] {
        &self.topics
    }

    /// Iterates the records, decoding each one's fixed fields as it is reached.
    pub fn records(&self) -> Records<'a, '_> {
        Records {
            reader: self,
            pos: HEADER_LEN,
            left: self.count,
            failed: false,
        }
    }

    /// Checks every record exactly as iterating [`BatchReader::records`] to the end would, and
    /// returns how many there are, without building a view of each: the host checks every
    /// batch a plugin returns before anything reads it.
    pub fn check_records(&self) -> Result<usize, DecodeError> {
        let records = &self.buf[..self.records_end];
        let mut pos = HEADER_LEN;
        for _ in 0..self.count {
            pos = match plain_record_end(records, pos, self.topics.len()) {
                Some(end) => end,
                // Anything but a plain record (headers, a Kafka batch entry, a fault) is read in
                // full, which also names the fault as the iterator would.
                None => self.record_at(pos)?.1,
            };
        }
        Ok(self.count as usize)
    }

    fn record_at(&self, pos: usize) -> Result<(RecordView<'a>, usize), DecodeError> {
        let mut c = Cursor {
            buf: &self.buf[..self.records_end],
            pos,
        };
        let len = c.u32()? as usize;
        let body_start = c.pos;
        let body = c.take(len)?;
        let end = c.pos;
        if len < RECORD_FIXED {
            return Err(DecodeError::BadLength { at: pos });
        }
        let mut r = Cursor { buf: body, pos: 0 };
        let topic_index = r.u32()?;
        let topic = *self
            .topics
            .get(topic_index as usize)
            .ok_or(DecodeError::BadTopicIndex(topic_index))?;
        let partition = r.i32()?;
        let timestamp = r.i64()?;
        let offset = r.i64()?;
        let key_len_at = r.pos;
        let key_len = r.i32()?;
        let value_len = r.i32()?;
        let header_count = r.u32()?;
        let kafka_batch = key_len == KAFKA_BATCH_KEY_LEN;
        if kafka_batch && (value_len < 0 || header_count != 0) {
            return Err(DecodeError::BadLength {
                at: body_start + key_len_at,
            });
        }
        let key = if kafka_batch {
            None
        } else {
            r.nullable(key_len, body_start + key_len_at)?
        };
        let value = r.nullable(value_len, body_start + key_len_at + 4)?;
        let headers_raw = &body[r.pos..];
        // Validate the headers now so that iterating them later cannot fail.
        let mut h = Cursor {
            buf: headers_raw,
            pos: 0,
        };
        for _ in 0..header_count {
            let at = h.pos;
            h.string().map_err(|e| shift(e, body_start + r.pos))?;
            let vlen = h.i32()?;
            h.nullable(vlen, at)
                .map_err(|e| shift(e, body_start + r.pos))?;
        }
        if h.pos != headers_raw.len() {
            return Err(DecodeError::BadLength { at: pos });
        }
        Ok((
            RecordView {
                raw: &self.buf[pos..end],
                kafka_batch,
                topic_index,
                topic,
                partition: (partition >= 0).then_some(partition),
                timestamp: (timestamp >= 0).then_some(timestamp),
                offset: (offset >= 0).then_some(offset),
                key,
                value,
                headers: HeadersView {
                    raw: headers_raw,
                    count: header_count,
                },
            },
            end,
        ))
    }
}

/// Where the record at `pos` ends, when it is a well-formed record without headers that is not
/// a Kafka batch entry (what [`BatchReader::record_at`] would accept); `None` for anything else,
/// which the caller reads in full.
#[inline]
fn plain_record_end(records: &[u8], pos: usize, topics: usize) -> Option<usize> {
    let fixed: &[u8; 4 + RECORD_FIXED] = records
        .get(pos..pos.checked_add(4 + RECORD_FIXED)?)?
        .try_into()
        .ok()?;
    let word =
        |at: usize| u32::from_le_bytes([fixed[at], fixed[at + 1], fixed[at + 2], fixed[at + 3]]);
    let len = word(0) as u64;
    let topic = word(4) as usize;
    let (key_len, value_len, header_count) = (word(28) as i32, word(32) as i32, word(36));
    // -1 is null (no bytes); any other negative length is not plain.
    let bytes = |n: i32| (n >= -1).then_some(n.max(0) as u64);
    let body = RECORD_FIXED as u64 + bytes(key_len)? + bytes(value_len)?;
    if topic >= topics || header_count != 0 || len != body {
        return None;
    }
    let end = pos
        .checked_add(4)?
        .checked_add(usize::try_from(len).ok()?)?;
    (end <= records.len()).then_some(end)
}

fn shift(e: DecodeError, by: usize) -> DecodeError {
    match e {
        DecodeError::Truncated { at } => DecodeError::Truncated { at: at + by },
        DecodeError::NotUtf8 { at } => DecodeError::NotUtf8 { at: at + by },
        DecodeError::BadLength { at } => DecodeError::BadLength { at: at + by },
        other => other,
    }
}

/// Iterator over a batch's records; stops after the first malformed record.
pub struct Records<'a, 'r> {
    reader: &'r BatchReader<'a>,
    pos: usize,
    left: u32,
    failed: bool,
}

impl<'a> Iterator for Records<'a, '_> {
    type Item = Result<RecordView<'a>, DecodeError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.left == 0 || self.failed {
            return None;
        }
        self.left -= 1;
        match self.reader.record_at(self.pos) {
            Ok((view, next)) => {
                self.pos = next;
                Some(Ok(view))
            }
            Err(e) => {
                self.failed = true;
                Some(Err(e))
            }
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (0, Some(self.left as usize))
    }
}

/// One record of a batch, borrowing its bytes.
#[derive(Debug, Clone, Copy)]
pub struct RecordView<'a> {
    raw: &'a [u8],
    kafka_batch: bool,
    /// Index of [`RecordView::topic`] in the batch's topic table.
    pub topic_index: u32,
    /// Topic the record belongs to (or, for a router transform's output, is sent to).
    pub topic: &'a str,
    /// Partition, if one is assigned.
    pub partition: Option<i32>,
    /// Timestamp in ms since the Unix epoch.
    pub timestamp: Option<i64>,
    /// Log offset, for records read from a log.
    pub offset: Option<i64>,
    /// Key; `None` is a null key.
    pub key: Option<&'a [u8]>,
    /// Value; `None` is a null value (a tombstone).
    pub value: Option<&'a [u8]>,
    /// Headers, decoded as they are iterated.
    pub headers: HeadersView<'a>,
}

impl<'a> RecordView<'a> {
    /// The record's encoded bytes including its length word, for verbatim copies.
    pub fn raw(&self) -> &'a [u8] {
        self.raw
    }

    /// For a Kafka batch entry, the Kafka record batch it carries (its `value`).
    pub fn kafka_batch(&self) -> Option<&'a [u8]> {
        if self.kafka_batch {
            self.value
        } else {
            None
        }
    }
}

/// A record's headers in encoded form (already validated).
#[derive(Debug, Clone, Copy)]
pub struct HeadersView<'a> {
    raw: &'a [u8],
    count: u32,
}

impl<'a> HeadersView<'a> {
    /// Number of headers.
    pub fn len(&self) -> usize {
        self.count as usize
    }

    /// True when there are no headers.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Encoded header bytes (without the count), for verbatim copies.
    pub fn raw(&self) -> &'a [u8] {
        self.raw
    }

    /// Iterates `(name, value)` pairs; a `None` value is a null header value.
    pub fn iter(&self) -> HeaderIter<'a> {
        HeaderIter {
            c: Cursor {
                buf: self.raw,
                pos: 0,
            },
            left: self.count,
        }
    }

    /// The last value of header `name`, as Kafka clients resolve duplicates.
    pub fn last(&self, name: &str) -> Option<Option<&'a [u8]>> {
        self.iter()
            .filter(|(n, _)| *n == name)
            .last()
            .map(|(_, v)| v)
    }
}

/// Iterator over a record's headers.
pub struct HeaderIter<'a> {
    c: Cursor<'a>,
    left: u32,
}

impl<'a> Iterator for HeaderIter<'a> {
    type Item = (&'a str, Option<&'a [u8]>);

    fn next(&mut self) -> Option<Self::Item> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        // Validated when the record was read; a failure here would mean a bug, so just stop.
        let name = self.c.string().ok()?;
        let len = self.c.i32().ok()?;
        let value = self.c.nullable(len, 0).ok()?;
        Some((name, value))
    }
}

/// Streams records into a batch buffer.
#[derive(Debug, Clone)]
pub struct BatchWriter {
    buf: Vec<u8>,
    count: u32,
    topics: Vec<String>,
    last_topic: u32,
}

impl Default for BatchWriter {
    fn default() -> Self {
        Self::new()
    }
}

impl BatchWriter {
    /// An empty batch.
    pub fn new() -> Self {
        Self::with_capacity(256)
    }

    /// An empty batch whose buffer starts with `bytes` of capacity.
    pub fn with_capacity(bytes: usize) -> Self {
        Self::reusing(Vec::with_capacity(bytes.max(HEADER_LEN)))
    }

    /// An empty batch written into `buf` (its contents dropped, its capacity kept), so a
    /// loop that builds one batch after another allocates its buffer once.
    pub fn reusing(mut buf: Vec<u8>) -> Self {
        buf.clear();
        buf.extend_from_slice(&MAGIC.to_le_bytes());
        buf.extend_from_slice(&[0; 8]);
        BatchWriter {
            buf,
            count: 0,
            topics: Vec::new(),
            last_topic: 0,
        }
    }

    /// An empty batch that starts with `reader`'s topic table, so that [`BatchWriter::push_view`]
    /// can copy that reader's records without re-encoding them. Capacity is sized for a batch of
    /// similar size.
    pub fn for_output_of(reader: &BatchReader<'_>) -> Self {
        let mut w = Self::with_capacity(reader.buf.len() + reader.buf.len() / 8);
        w.topics = reader.topics.iter().map(|t| t.to_string()).collect();
        w
    }

    /// Records written so far.
    pub fn len(&self) -> usize {
        self.count as usize
    }

    /// Bytes written so far (the topic table not yet included).
    pub fn byte_len(&self) -> usize {
        self.buf.len()
    }

    /// True when nothing was written.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    fn topic_index(&mut self, topic: &str) -> Result<u32, EncodeError> {
        if let Some(t) = self.topics.get(self.last_topic as usize) {
            if same_bytes(t.as_bytes(), topic.as_bytes()) {
                return Ok(self.last_topic);
            }
        }
        let idx = match self
            .topics
            .iter()
            .position(|t| same_bytes(t.as_bytes(), topic.as_bytes()))
        {
            Some(i) => i,
            None => {
                self.topics.push(topic.to_string());
                self.topics.len() - 1
            }
        };
        self.last_topic = u32::try_from(idx).map_err(|_| EncodeError::TooLarge)?;
        Ok(self.last_topic)
    }

    /// Copies a record verbatim. Only valid when `view` comes from a reader whose topic table
    /// this writer started with ([`BatchWriter::for_output_of`]); otherwise the record is
    /// re-encoded so its topic index stays right.
    pub fn push_view(&mut self, view: &RecordView<'_>) -> Result<(), EncodeError> {
        if self
            .topics
            .get(view.topic_index as usize)
            .is_some_and(|t| same_bytes(t.as_bytes(), view.topic.as_bytes()))
        {
            self.buf.extend_from_slice(view.raw);
            self.count += 1;
            Ok(())
        } else if let Some(batch) = view.kafka_batch() {
            self.push_kafka_batch(
                view.topic,
                view.partition.unwrap_or(-1),
                view.offset.unwrap_or(-1),
                batch,
            )
        } else {
            self.push(
                view.topic,
                view.partition,
                view.timestamp,
                view.offset,
                view.key,
                view.value,
                view.headers.iter(),
            )
        }
    }

    /// Appends one record from its parts.
    #[allow(clippy::too_many_arguments)]
    pub fn push<'h, H>(
        &mut self,
        topic: &str,
        partition: Option<i32>,
        timestamp: Option<i64>,
        offset: Option<i64>,
        key: Option<&[u8]>,
        value: Option<&[u8]>,
        headers: H,
    ) -> Result<(), EncodeError>
    where
        H: IntoIterator<Item = (&'h str, Option<&'h [u8]>)>,
    {
        self.push_with(topic, partition, timestamp, offset, key, value, |buf| {
            let mut n: u32 = 0;
            for (name, value) in headers {
                buf.extend_from_slice(&(len32(name.len())? as u32).to_le_bytes());
                buf.extend_from_slice(name.as_bytes());
                match value {
                    Some(v) => {
                        buf.extend_from_slice(&(len32(v.len())? as i32).to_le_bytes());
                        buf.extend_from_slice(v);
                    }
                    None => buf.extend_from_slice(&(-1i32).to_le_bytes()),
                }
                n += 1;
            }
            Ok(n)
        })
    }

    /// Appends one record whose headers are copied verbatim from another record.
    #[allow(clippy::too_many_arguments)]
    pub fn push_with_raw_headers(
        &mut self,
        topic: &str,
        partition: Option<i32>,
        timestamp: Option<i64>,
        offset: Option<i64>,
        key: Option<&[u8]>,
        value: Option<&[u8]>,
        headers: &HeadersView<'_>,
    ) -> Result<(), EncodeError> {
        self.push_with(topic, partition, timestamp, offset, key, value, |buf| {
            if !headers.raw.is_empty() {
                buf.extend_from_slice(headers.raw);
            }
            Ok(headers.count)
        })
    }

    #[allow(clippy::too_many_arguments)]
    fn push_with(
        &mut self,
        topic: &str,
        partition: Option<i32>,
        timestamp: Option<i64>,
        offset: Option<i64>,
        key: Option<&[u8]>,
        value: Option<&[u8]>,
        headers: impl FnOnce(&mut Vec<u8>) -> Result<u32, EncodeError>,
    ) -> Result<(), EncodeError> {
        let topic = self.topic_index(topic)?;
        let start = self.buf.len();
        let klen = key.map_or(Ok(0), |k| len32(k.len()))?;
        let vlen = value.map_or(Ok(0), |v| len32(v.len()))?;
        self.buf.reserve(4 + RECORD_FIXED + klen + vlen);
        // The length word and fixed part are put together first and appended as one piece:
        // in wasm each append is a capacity check, and each non-empty copy of a length not
        // known when compiling is a call out of the sandbox (so empty ones are skipped).
        let mut fixed = [0u8; 4 + RECORD_FIXED];
        fixed[4..8].copy_from_slice(&topic.to_le_bytes());
        fixed[8..12].copy_from_slice(&partition.unwrap_or(-1).to_le_bytes());
        fixed[12..20].copy_from_slice(&timestamp.unwrap_or(-1).to_le_bytes());
        fixed[20..28].copy_from_slice(&offset.unwrap_or(-1).to_le_bytes());
        fixed[28..32].copy_from_slice(&key.map_or(-1, |_| klen as i32).to_le_bytes());
        fixed[32..36].copy_from_slice(&value.map_or(-1, |_| vlen as i32).to_le_bytes());
        // fixed[36..40], the header count, is written once the headers are.
        self.buf.extend_from_slice(&fixed);
        let count_at = start + 4 + RECORD_FIXED - 4;
        for part in [key, value].into_iter().flatten() {
            if !part.is_empty() {
                self.buf.extend_from_slice(part);
            }
        }
        let n = match headers(&mut self.buf) {
            Ok(n) => n,
            Err(e) => {
                // Leave the batch as it was before this record.
                self.buf.truncate(start);
                return Err(e);
            }
        };
        self.buf[count_at..count_at + 4].copy_from_slice(&n.to_le_bytes());
        let body = match len32(self.buf.len() - start - 4) {
            Ok(b) => b as u32,
            Err(e) => {
                self.buf.truncate(start);
                return Err(e);
            }
        };
        self.buf[start..start + 4].copy_from_slice(&body.to_le_bytes());
        self.count += 1;
        Ok(())
    }

    /// Appends a Kafka batch entry: `batch`, one whole Kafka record batch, for `topic` and
    /// `partition`; `offset` is the source offset of its first record.
    pub fn push_kafka_batch(
        &mut self,
        topic: &str,
        partition: i32,
        offset: i64,
        batch: &[u8],
    ) -> Result<(), EncodeError> {
        let start = self.buf.len();
        self.push_with(
            topic,
            Some(partition),
            None,
            Some(offset),
            None,
            Some(batch),
            |_| Ok(0),
        )?;
        // The key length word follows the length, topic, partition, timestamp and offset words.
        let at = start + 4 + 4 + 4 + 8 + 8;
        self.buf[at..at + 4].copy_from_slice(&KAFKA_BATCH_KEY_LEN.to_le_bytes());
        Ok(())
    }

    /// Appends an owned record.
    pub fn push_record(&mut self, r: &Record) -> Result<(), EncodeError> {
        self.push(
            &r.topic,
            r.partition,
            r.timestamp,
            r.offset,
            r.key.as_deref(),
            r.value.as_deref(),
            r.headers
                .iter()
                .map(|h| (h.key.as_str(), h.value.as_deref())),
        )
    }

    /// Writes the topic table and header words and returns the batch bytes.
    pub fn finish(mut self) -> Result<Vec<u8>, EncodeError> {
        let topics_at = len32(self.buf.len())? as u32;
        self.buf
            .extend_from_slice(&(self.topics.len() as u32).to_le_bytes());
        for t in &self.topics {
            self.buf
                .extend_from_slice(&(len32(t.len())? as u32).to_le_bytes());
            self.buf.extend_from_slice(t.as_bytes());
        }
        len32(self.buf.len())?;
        self.buf[4..8].copy_from_slice(&self.count.to_le_bytes());
        self.buf[8..12].copy_from_slice(&topics_at.to_le_bytes());
        Ok(self.buf)
    }
}

fn len32(n: usize) -> Result<usize, EncodeError> {
    if n > i32::MAX as usize {
        Err(EncodeError::TooLarge)
    } else {
        Ok(n)
    }
}

/// A record header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// Header name.
    pub key: String,
    /// Header value; `None` is null.
    pub value: Option<Vec<u8>>,
}

/// An owned record, as the host builds and receives them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Record {
    /// Topic.
    pub topic: String,
    /// Partition, if assigned.
    pub partition: Option<i32>,
    /// Timestamp in ms since the Unix epoch.
    pub timestamp: Option<i64>,
    /// Log offset, for records read from a log.
    pub offset: Option<i64>,
    /// Key; `None` is null.
    pub key: Option<Vec<u8>>,
    /// Value; `None` is null (a tombstone).
    pub value: Option<Vec<u8>>,
    /// Headers in order.
    pub headers: Vec<Header>,
}

impl Record {
    /// A record for `topic` with the given value and nothing else set.
    pub fn new(topic: impl Into<String>, value: impl Into<Vec<u8>>) -> Self {
        Record {
            topic: topic.into(),
            value: Some(value.into()),
            ..Record::default()
        }
    }

    /// Copies a view into an owned record.
    pub fn from_view(v: &RecordView<'_>) -> Self {
        Record {
            topic: v.topic.to_string(),
            partition: v.partition,
            timestamp: v.timestamp,
            offset: v.offset,
            key: v.key.map(<[u8]>::to_vec),
            value: v.value.map(<[u8]>::to_vec),
            headers: v
                .headers
                .iter()
                .map(|(k, v)| Header {
                    key: k.to_string(),
                    value: v.map(<[u8]>::to_vec),
                })
                .collect(),
        }
    }
}

/// Rewrites every record's offset field in place: record `i` gets `offset_of(i, its offset)`
/// (`None` is written as -1). Only those words change, so the batch stays valid and no record
/// is decoded or copied; a host stamps each record's index this way before its stages run.
pub fn set_offsets(
    buf: &mut [u8],
    mut offset_of: impl FnMut(usize, Option<i64>) -> Option<i64>,
) -> Result<(), DecodeError> {
    let (count, records_end) = {
        let r = BatchReader::new(buf)?;
        (r.count as usize, r.records_end)
    };
    // The offset word follows the length, topic, partition and timestamp words.
    const OFFSET_AT: usize = 4 + 4 + 4 + 8;
    let mut pos = HEADER_LEN;
    for i in 0..count {
        let word = |at: usize, n: usize| -> Result<&[u8], DecodeError> {
            at.checked_add(n)
                .and_then(|end| buf.get(at..end))
                .ok_or(DecodeError::Truncated { at })
        };
        let mut len = [0u8; 4];
        len.copy_from_slice(word(pos, 4)?);
        let len = u32::from_le_bytes(len) as usize;
        let end = pos
            .checked_add(4 + len)
            .filter(|e| *e <= records_end && len >= RECORD_FIXED)
            .ok_or(DecodeError::BadLength { at: pos })?;
        let at = pos + OFFSET_AT;
        let mut old = [0u8; 8];
        old.copy_from_slice(word(at, 8)?);
        let old = i64::from_le_bytes(old);
        let new = offset_of(i, (old >= 0).then_some(old)).unwrap_or(-1);
        if let Some(w) = buf.get_mut(at..at + 8) {
            w.copy_from_slice(&new.to_le_bytes());
        }
        pos = end;
    }
    Ok(())
}

/// How many Kafka batch entries `buf` holds, reading only each entry's length and key-length
/// words (a host checks every poll this way before its stages run).
pub fn kafka_batch_count(buf: &[u8]) -> Result<usize, DecodeError> {
    let r = BatchReader::new(buf)?;
    // The key length word follows the length, topic, partition, timestamp and offset words.
    const KEY_LEN_AT: usize = 4 + 4 + 4 + 8 + 8;
    let mut pos = HEADER_LEN;
    let mut n = 0;
    for _ in 0..r.count {
        let word = |at: usize| -> Result<[u8; 4], DecodeError> {
            let mut w = [0u8; 4];
            w.copy_from_slice(
                at.checked_add(4)
                    .and_then(|end| buf.get(at..end))
                    .ok_or(DecodeError::Truncated { at })?,
            );
            Ok(w)
        };
        let len = u32::from_le_bytes(word(pos)?) as usize;
        let end = pos
            .checked_add(4 + len)
            .filter(|e| *e <= r.records_end && len >= RECORD_FIXED)
            .ok_or(DecodeError::BadLength { at: pos })?;
        if i32::from_le_bytes(word(pos + KEY_LEN_AT)?) == KAFKA_BATCH_KEY_LEN {
            n += 1;
        }
        pos = end;
    }
    Ok(n)
}

/// Encodes owned records into one batch.
pub fn encode(records: &[Record]) -> Result<Vec<u8>, EncodeError> {
    let size: usize = records
        .iter()
        .map(|r| 48 + r.key.as_ref().map_or(0, Vec::len) + r.value.as_ref().map_or(0, Vec::len))
        .sum();
    let mut w = BatchWriter::with_capacity(size + 64);
    for r in records {
        w.push_record(r)?;
    }
    w.finish()
}

/// Decodes a whole batch into owned records, validating every byte.
pub fn decode(buf: &[u8]) -> Result<Vec<Record>, DecodeError> {
    let reader = BatchReader::new(buf)?;
    let mut out = Vec::with_capacity(reader.len().min(buf.len() / (4 + RECORD_FIXED)));
    for r in reader.records() {
        let r = r?;
        if r.kafka_batch {
            return Err(DecodeError::KafkaBatch {
                at: r.raw.as_ptr() as usize - buf.as_ptr() as usize,
            });
        }
        out.push(Record::from_view(&r));
    }
    Ok(out)
}

/// Whether `a` and `b` hold the same bytes, compared as whole words: in wasm a slice comparison
/// (`==`) is a call to a memcmp that compares byte by byte. Guests compare topic names, JSON
/// keys and texts once or more per record; this is what they use.
pub fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    fn at<const N: usize>(s: &[u8], i: usize) -> [u8; N] {
        s.get(i..)
            .and_then(|t| t.first_chunk::<N>())
            .copied()
            .unwrap_or([0; N])
    }
    let n = a.len();
    if n != b.len() {
        return false;
    }
    // Short texts as two words that may overlap, longer ones eight bytes at a time and their
    // last eight (which may overlap the words before).
    let word2 = |s: &[u8], i: usize| u16::from_ne_bytes(at::<2>(s, i));
    let word4 = |s: &[u8], i: usize| u32::from_ne_bytes(at::<4>(s, i));
    match n {
        0 => true,
        1 => a.first() == b.first(),
        2..=3 => word2(a, 0) == word2(b, 0) && word2(a, n - 2) == word2(b, n - 2),
        4..=7 => word4(a, 0) == word4(b, 0) && word4(a, n - 4) == word4(b, n - 4),
        _ => {
            let word = |s: &[u8], i: usize| u64::from_ne_bytes(at::<8>(s, i));
            let mut i = 0;
            while i + 8 < n {
                if word(a, i) != word(b, i) {
                    return false;
                }
                i += 8;
            }
            word(a, n - 8) == word(b, n - 8)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn word_comparisons_find_every_differing_byte() {
        for n in 0..40usize {
            let a: Vec<u8> = (0..n as u8).map(|i| i.wrapping_mul(37)).collect();
            assert!(same_bytes(&a, &a.clone()));
            for i in 0..n {
                let mut b = a.clone();
                b[i] ^= 0x20;
                assert!(!same_bytes(&a, &b), "byte {i} of {n}");
            }
            assert!(!same_bytes(&a, &[a.as_slice(), b"x"].concat()));
        }
    }

    #[test]
    fn a_reused_buffer_gives_the_same_batch() {
        let recs = sample();
        let mut w = BatchWriter::reusing(vec![7; 4096]);
        for r in &recs {
            w.push_record(r).unwrap();
        }
        assert!(w.byte_len() > HEADER_LEN);
        let buf = w.finish().unwrap();
        assert_eq!(buf, encode(&recs).unwrap());
        assert!(buf.capacity() >= 4096);
    }

    #[test]
    fn set_offsets_rewrites_only_the_offsets() {
        let mut recs = sample();
        recs.push(Record::new("other", b"x".to_vec()));
        let mut buf = encode(&recs).unwrap();
        set_offsets(&mut buf, |i, _| Some(100 + i as i64)).unwrap();
        let back = decode(&buf).unwrap();
        for (i, (a, b)) in recs.iter().zip(&back).enumerate() {
            assert_eq!(b.offset, Some(100 + i as i64));
            assert_eq!(
                Record {
                    offset: None,
                    ..b.clone()
                },
                Record {
                    offset: None,
                    ..a.clone()
                }
            );
        }
        set_offsets(&mut buf, |i, old| (i == 0).then(|| old.unwrap_or(0) * 2)).unwrap();
        let back = decode(&buf).unwrap();
        assert_eq!(back[0].offset, Some(200));
        assert!(back[1..].iter().all(|r| r.offset.is_none()));
        // A truncated batch is refused, not written past.
        let cut = buf.len() - 30;
        assert!(set_offsets(&mut buf[..cut], |_, _| Some(1)).is_err());
    }

    fn sample() -> Vec<Record> {
        vec![
            Record {
                topic: "orders".into(),
                partition: Some(3),
                timestamp: Some(1_700_000_000_000),
                offset: None,
                key: Some(b"k1".to_vec()),
                value: Some(b"hello".to_vec()),
                headers: vec![
                    Header {
                        key: "h".into(),
                        value: Some(b"v".to_vec()),
                    },
                    Header {
                        key: "null".into(),
                        value: None,
                    },
                ],
            },
            Record {
                topic: "audit".into(),
                key: None,
                value: None,
                ..Record::default()
            },
            Record::new("orders", Vec::new()),
        ]
    }

    #[test]
    fn round_trip_preserves_every_field_and_null_vs_empty() {
        let records = sample();
        let bytes = encode(&records).unwrap();
        assert_eq!(decode(&bytes).unwrap(), records);
        let reader = BatchReader::new(&bytes).unwrap();
        assert_eq!(reader.topics(), &["orders", "audit"]);
        assert_eq!(reader.len(), 3);
    }

    #[test]
    fn push_view_copies_verbatim_and_reencodes_foreign_topics() {
        let bytes = encode(&sample()).unwrap();
        let reader = BatchReader::new(&bytes).unwrap();
        let mut same = BatchWriter::for_output_of(&reader);
        let mut fresh = BatchWriter::new();
        fresh.push_record(&Record::new("zzz", "x")).unwrap();
        for r in reader.records() {
            let r = r.unwrap();
            same.push_view(&r).unwrap();
            fresh.push_view(&r).unwrap();
        }
        assert_eq!(same.finish().unwrap(), bytes);
        let fresh = decode(&fresh.finish().unwrap()).unwrap();
        assert_eq!(&fresh[1..], &sample()[..]);
    }

    #[test]
    fn every_truncation_is_an_error_not_a_panic() {
        let bytes = encode(&sample()).unwrap();
        for cut in 0..bytes.len() {
            assert!(decode(&bytes[..cut]).is_err(), "cut at {cut} decoded");
        }
    }

    #[test]
    fn corrupt_bytes_never_panic() {
        let bytes = encode(&sample()).unwrap();
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        for _ in 0..5000 {
            let mut b = bytes.clone();
            for _ in 0..3 {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                let i = (seed as usize) % b.len();
                b[i] = (seed >> 32) as u8;
            }
            // Either outcome is fine; what matters is that it returns.
            let _ = decode(&b);
        }
        assert_eq!(decode(&bytes).unwrap().len(), 3);
    }

    /// What iterating every record gives: the count, or the first fault.
    fn iterated(reader: &BatchReader<'_>) -> Result<usize, DecodeError> {
        reader.records().try_fold(0, |n, r| r.map(|_| n + 1))
    }

    #[test]
    fn checking_records_gives_what_iterating_them_gives() {
        // Plain records (the checker's fast path) around ones with headers, a null key and
        // value, an empty value and a Kafka batch entry (read in full).
        let mut records = sample();
        records.push(Record::new("orders", &b"{\"a\":1}"[..]));
        records.push(Record {
            key: Some(b"k".to_vec()),
            ..Record::new("audit", Vec::new())
        });
        let mut w = BatchWriter::new();
        for r in &records {
            w.push_record(r).unwrap();
        }
        w.push_kafka_batch("orders", 0, 5, b"batch bytes").unwrap();
        let bytes = w.finish().unwrap();
        let reader = BatchReader::new(&bytes).unwrap();
        assert_eq!(reader.check_records(), Ok(records.len() + 1));
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut faults = 0;
        for _ in 0..20_000 {
            let mut b = bytes.clone();
            for _ in 0..1 + seed % 3 {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                // Mostly the records' length words and fixed parts, where the fast path reads.
                let i = HEADER_LEN + (seed as usize) % (b.len() - HEADER_LEN);
                b[i] = match seed >> 60 {
                    0..=5 => (seed >> 32) as u8,
                    6..=9 => 0xff,
                    _ => b[i].wrapping_add(1),
                };
            }
            let Ok(reader) = BatchReader::new(&b) else {
                continue;
            };
            let checked = reader.check_records();
            faults += usize::from(checked.is_err());
            assert_eq!(checked, iterated(&reader), "for {b:?}");
        }
        assert!(
            faults > 1000,
            "only {faults} corrupted batches were refused"
        );
    }

    #[test]
    fn bad_magic_and_topic_index_are_named() {
        let mut bytes = encode(&sample()).unwrap();
        bytes[0] = b'X';
        assert!(matches!(decode(&bytes), Err(DecodeError::BadMagic(_))));
        let mut bytes = encode(&sample()).unwrap();
        bytes[HEADER_LEN + 4] = 9; // first record's topic index
        assert_eq!(decode(&bytes), Err(DecodeError::BadTopicIndex(9)));
    }

    #[test]
    fn header_last_wins() {
        let mut r = Record::new("t", "v");
        for v in ["a", "b"] {
            r.headers.push(Header {
                key: "x".into(),
                value: Some(v.as_bytes().to_vec()),
            });
        }
        let bytes = encode(&[r]).unwrap();
        let reader = BatchReader::new(&bytes).unwrap();
        let view = reader.records().next().unwrap().unwrap();
        assert_eq!(view.headers.last("x"), Some(Some(&b"b"[..])));
        assert_eq!(view.headers.last("y"), None);
    }

    #[test]
    fn kafka_batch_entries_round_trip_and_are_kept_apart_from_records() {
        let kafka = b"\0\0\0\0\0\0\0\x07 stands for a Kafka record batch";
        let mut w = BatchWriter::new();
        w.push_record(&Record::new("a", "plain")).unwrap();
        w.push_kafka_batch("a", 3, 7, kafka).unwrap();
        let bytes = w.finish().unwrap();
        let reader = BatchReader::new(&bytes).unwrap();
        let views: Vec<RecordView<'_>> = reader.records().map(Result::unwrap).collect();
        assert_eq!(views[0].kafka_batch(), None);
        assert_eq!(views[1].kafka_batch(), Some(&kafka[..]));
        assert_eq!((views[1].partition, views[1].offset), (Some(3), Some(7)));
        assert_eq!(views[1].key, None);
        // Copied verbatim or re-encoded into another writer, the entry stays one.
        let mut other = BatchWriter::new();
        other.push_record(&Record::new("b", "x")).unwrap();
        other.push_view(&views[1]).unwrap();
        let copied = other.finish().unwrap();
        let r = BatchReader::new(&copied).unwrap();
        let last = r.records().last().unwrap().unwrap();
        assert_eq!(last.kafka_batch(), Some(&kafka[..]));
        assert_eq!(last.topic, "a");
        assert_eq!(kafka_batch_count(&bytes), Ok(1));
        assert_eq!(kafka_batch_count(&encode(&sample()).unwrap()), Ok(0));
        // Owned records cannot hold one, so decoding refuses rather than losing it.
        assert!(matches!(
            decode(&bytes),
            Err(DecodeError::KafkaBatch { .. })
        ));
        // An entry with headers or a null value is malformed.
        let mut bad = bytes.clone();
        let second = HEADER_LEN + 4 + views[0].raw().len() - 4;
        let null_value_at = second + 4 + 4 + 4 + 8 + 8 + 4;
        bad[null_value_at..null_value_at + 4].copy_from_slice(&(-1i32).to_le_bytes());
        let r = BatchReader::new(&bad).unwrap();
        assert!(r.records().nth(1).unwrap().is_err());
    }
}
