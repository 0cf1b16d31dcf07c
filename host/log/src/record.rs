//! Record-level access to v2 batches for the slow paths (key checks, timestamp lookup, compaction,
//! dump, the offsets replay): a record stream that decodes one record at a time through a bounded
//! decompressing reader ([`DecodeLimits`]), and a builder that re-encodes a batch keeping some of its
//! records, streaming them into the compressor.

use std::io::{BufRead, BufReader};

use kafka_protocol::records::Compression;

use crate::batch::{
    self, BatchHeader, ATTRIBUTES_POS, BASE_TIMESTAMP_POS, CRC_POS, DELETE_HORIZON_BIT, HEADER_LEN,
    LENGTH_POS, MAX_TIMESTAMP_POS, MIN_RECORD_LEN, RECORDS_COUNT_POS,
};
use crate::codec::{self, Deflater, Inflater};
use crate::config::TimestampType;
use crate::error::{LogError, Result};
use crate::record_check::RecordRules;

fn corrupt(msg: impl Into<String>) -> LogError {
    LogError::CorruptBatch(msg.into())
}

/// Reads a zigzag varint of at most `max_bytes` bytes (5 for int32, 10 for int64).
fn read_varlong(buf: &[u8], pos: &mut usize, max_bytes: usize) -> Result<i64> {
    let mut raw: u64 = 0;
    for i in 0..max_bytes {
        let b = *buf
            .get(*pos)
            .ok_or_else(|| corrupt("record ends inside a varint"))?;
        *pos += 1;
        raw |= u64::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            return Ok((raw >> 1) as i64 ^ -((raw & 1) as i64));
        }
    }
    Err(corrupt("varint is too long"))
}

fn read_varint(buf: &[u8], pos: &mut usize) -> Result<i32> {
    let v = read_varlong(buf, pos, 5)?;
    i32::try_from(v).map_err(|_| corrupt("varint does not fit in 32 bits"))
}

/// Reads a varint length followed by that many bytes; -1 means null.
fn read_nullable<'a>(buf: &'a [u8], pos: &mut usize, what: &str) -> Result<Option<&'a [u8]>> {
    let len = read_varint(buf, pos)?;
    if len == -1 {
        return Ok(None);
    }
    let len = usize::try_from(len).map_err(|_| corrupt(format!("negative {what} length {len}")))?;
    let end = pos
        .checked_add(len)
        .filter(|&e| e <= buf.len())
        .ok_or_else(|| corrupt(format!("{what} of {len} bytes runs past the record")))?;
    let out = &buf[*pos..end];
    *pos = end;
    Ok(Some(out))
}

/// One record, borrowed from the (decompressed) records section of a batch.
#[derive(Debug, Clone, Copy)]
pub struct RecordView<'a> {
    /// The whole encoded record including its length prefix, for verbatim copies.
    pub raw: &'a [u8],
    /// The record's attributes byte (unused in v2, kept verbatim).
    pub attributes: u8,
    pub timestamp_delta: i64,
    /// The encoded record after its timestamp delta (offset delta to the end), for re-encoding the
    /// record against another base timestamp.
    pub after_timestamp: &'a [u8],
    pub offset_delta: i32,
    pub key: Option<&'a [u8]>,
    pub value: Option<&'a [u8]>,
    pub header_count: usize,
    /// The encoded headers (already checked to be well formed).
    pub headers: &'a [u8],
}

impl<'a> RecordView<'a> {
    pub fn offset(&self, batch: &BatchHeader) -> i64 {
        batch.base_offset.wrapping_add(i64::from(self.offset_delta))
    }

    /// The record's timestamp as a consumer sees it: LogAppendTime batches stamp every record with
    /// the batch's max timestamp.
    pub fn timestamp(&self, batch: &BatchHeader) -> i64 {
        match batch.timestamp_type() {
            TimestampType::LogAppendTime => batch.max_timestamp,
            TimestampType::CreateTime => batch.base_timestamp.wrapping_add(self.timestamp_delta),
        }
    }

    /// Sequence number like Kafka's `DefaultRecord.sequence()`.
    pub fn sequence(&self, batch: &BatchHeader) -> i32 {
        if batch.base_sequence < 0 {
            -1
        } else {
            batch.base_sequence.wrapping_add(self.offset_delta) & i32::MAX
        }
    }

    /// The header keys and values.
    pub fn header_pairs(&self) -> Headers<'a> {
        Headers {
            buf: self.headers,
            pos: 0,
            left: self.header_count,
        }
    }
}

/// Iterator over encoded record headers.
pub struct Headers<'a> {
    buf: &'a [u8],
    pos: usize,
    left: usize,
}

impl<'a> Iterator for Headers<'a> {
    type Item = Result<(&'a [u8], Option<&'a [u8]>)>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        let item = (|| {
            let key = read_nullable(self.buf, &mut self.pos, "header key")?
                .ok_or_else(|| corrupt("null header key"))?;
            let value = read_nullable(self.buf, &mut self.pos, "header value")?;
            Ok((key, value))
        })();
        if item.is_err() {
            self.left = 0;
        }
        Some(item)
    }
}

fn parse_record<'a>(raw: &'a [u8], body: &'a [u8]) -> Result<RecordView<'a>> {
    let mut pos = 0;
    // The attributes byte is unused in v2.
    if body.is_empty() {
        return Err(corrupt("empty record"));
    }
    let attributes = body[0];
    pos += 1;
    let timestamp_delta = read_varlong(body, &mut pos, 10)?;
    let after_timestamp = &body[pos..];
    let offset_delta = read_varint(body, &mut pos)?;
    let key = read_nullable(body, &mut pos, "key")?;
    let value = read_nullable(body, &mut pos, "value")?;
    let header_count = read_varint(body, &mut pos)?;
    let header_count = usize::try_from(header_count)
        .map_err(|_| corrupt(format!("negative header count {header_count}")))?;
    let headers = &body[pos..];
    let mut walk = Headers {
        buf: headers,
        pos: 0,
        left: header_count,
    };
    for h in walk.by_ref() {
        h?;
    }
    if walk.pos != headers.len() {
        return Err(corrupt(format!(
            "{} bytes left over after the record headers",
            headers.len() - walk.pos
        )));
    }
    Ok(RecordView {
        raw,
        attributes,
        timestamp_delta,
        after_timestamp,
        offset_delta,
        key,
        value,
        header_count,
        headers,
    })
}

/// Most bytes one batch's records section may decompress to, whatever the topic's settings.
pub const MAX_DECOMPRESSED_BATCH_BYTES: u64 = 64 << 20;
/// A record may be as large as `max.message.bytes`, and never less than this (a topic with a small
/// limit still reads records that compress well).
const MIN_RECORD_LIMIT: u64 = 1 << 20;

/// Bounds on decoding one batch's records: a compressed batch that inflates past them is rejected
/// as corrupt before the excess is read or allocated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecodeLimits {
    /// Most decompressed bytes of the whole records section.
    pub max_bytes: u64,
    /// Largest single encoded record.
    pub max_record_bytes: u64,
}

impl DecodeLimits {
    /// The limits for `header`'s batch on a topic whose `max.message.bytes` is `max_message_bytes`:
    /// each record at most `max(max.message.bytes, 1 MiB)`, the whole section at most that times the
    /// record count, and never more than [`MAX_DECOMPRESSED_BATCH_BYTES`].
    pub fn for_batch(header: &BatchHeader, max_message_bytes: u32) -> DecodeLimits {
        let per_record =
            u64::from(max_message_bytes).clamp(MIN_RECORD_LIMIT, MAX_DECOMPRESSED_BATCH_BYTES);
        let count = u64::try_from(header.records_count).unwrap_or(0);
        DecodeLimits {
            max_bytes: count
                .saturating_mul(per_record)
                .min(MAX_DECOMPRESSED_BATCH_BYTES),
            max_record_bytes: per_record,
        }
    }
}

/// Where the encoded records come from.
enum Source<'a> {
    /// Uncompressed: records are borrowed from the batch.
    Slice { buf: &'a [u8], pos: usize },
    /// Compressed: a record lying whole in the decompressor's buffer is handed out from there
    /// (`pending` bytes of it are consumed on the next step); one spanning two fills is copied
    /// into `record`.
    Stream {
        reader: BufReader<Inflater<'a>>,
        record: Vec<u8>,
        pending: usize,
    },
}

/// The records of one batch, decoded one at a time. For compressed batches only the current record is
/// held in memory, and the stream fails (`CorruptBatch`) as soon as the decompressed bytes exceed the
/// [`DecodeLimits`]. The stream never yields more records than the header's count.
pub struct RecordStream<'a> {
    header: BatchHeader,
    source: Source<'a>,
    left: usize,
    limits: DecodeLimits,
    /// Decompressed bytes consumed so far.
    consumed: u64,
}

impl<'a> RecordStream<'a> {
    /// Opens the records of `batch` (a whole batch described by `header`).
    pub fn open(
        batch: &'a [u8],
        header: &BatchHeader,
        limits: DecodeLimits,
    ) -> Result<RecordStream<'a>> {
        let data = batch
            .get(HEADER_LEN..header.total_size())
            .ok_or_else(|| corrupt("batch is shorter than its declared length"))?;
        let left = usize::try_from(header.records_count)
            .map_err(|_| corrupt(format!("negative record count {}", header.records_count)))?;
        let source = match header.compression() {
            Compression::None => Source::Slice { buf: data, pos: 0 },
            c => {
                if (left as u64).saturating_mul(MIN_RECORD_LEN as u64) > limits.max_bytes {
                    return Err(corrupt(format!(
                        "{left} records cannot fit in the {} bytes a batch may decompress to",
                        limits.max_bytes
                    )));
                }
                Source::Stream {
                    reader: BufReader::with_capacity(
                        16 * 1024,
                        codec::inflater(c, data, limits.max_bytes)?,
                    ),
                    record: Vec::new(),
                    pending: 0,
                }
            }
        };
        Ok(RecordStream {
            header: *header,
            source,
            left,
            limits,
            consumed: 0,
        })
    }

    pub fn header(&self) -> &BatchHeader {
        &self.header
    }

    /// The next record, or `None` after the header's record count.
    pub fn next_record(&mut self) -> Result<Option<RecordView<'_>>> {
        match self.next_raw()? {
            Some((whole, body)) => parse_record(whole, body).map(Some),
            None => Ok(None),
        }
    }

    /// The next record's bytes, unparsed: the whole record with its length prefix, and its body
    /// after the prefix. Checking records needs no [`RecordView`] (see `record_check`).
    pub(crate) fn next_raw(&mut self) -> Result<Option<(&[u8], &[u8])>> {
        if self.left == 0 {
            return Ok(None);
        }
        self.left -= 1;
        let max_record = self.limits.max_record_bytes;
        let budget = self.limits.max_bytes.saturating_sub(self.consumed);
        let codec = self.header.compression();
        match &mut self.source {
            Source::Slice { buf, pos } => {
                let start = *pos;
                let res = read_nullable(buf, pos, "record")
                    .and_then(|body| body.ok_or_else(|| corrupt("negative record length")));
                match res {
                    Ok(body) => Ok(Some((&buf[start..*pos], body))),
                    Err(e) => {
                        self.left = 0;
                        Err(e)
                    }
                }
            }
            Source::Stream {
                reader,
                record,
                pending,
            } => {
                reader.consume(std::mem::take(pending));
                // A record whole in the buffer: its end and prefix size. Decided before it is
                // borrowed, so that the slow path below may read on.
                let whole = match reader.fill_buf() {
                    Ok(avail) => match buffered_length(avail) {
                        Some((len, prefix)) => {
                            match check_length(len, prefix, max_record, budget) {
                                Ok(len) => usize::try_from(len)
                                    .ok()
                                    .and_then(|l| l.checked_add(prefix))
                                    .filter(|&end| end <= avail.len())
                                    .map(|end| (end, prefix)),
                                Err(e) => {
                                    self.left = 0;
                                    return Err(e);
                                }
                            }
                        }
                        None => None,
                    },
                    Err(e) => {
                        self.left = 0;
                        return Err(corrupt(format!("cannot decompress {codec:?} records: {e}")));
                    }
                };
                if let Some((end, prefix)) = whole {
                    *pending = end;
                    self.consumed += end as u64;
                    let whole = &reader.buffer()[..end];
                    return Ok(Some((whole, &whole[prefix..])));
                }
                record.clear();
                let res = read_record(reader, record, max_record, budget);
                let prefix = match res {
                    Ok((n, p)) => {
                        self.consumed += n;
                        p
                    }
                    Err(e) => {
                        self.left = 0;
                        return Err(match e {
                            ReadFail::Log(e) => e,
                            ReadFail::Io(e) => {
                                corrupt(format!("cannot decompress {codec:?} records: {e}"))
                            }
                        });
                    }
                };
                let record: &[u8] = record;
                Ok(Some((record, &record[prefix..])))
            }
        }
    }

    /// Checks that the records section ends exactly after the header's record count (call after the
    /// last record).
    pub fn finish(mut self) -> Result<()> {
        if self.left != 0 {
            return Err(corrupt(format!(
                "{} of {} records were not read",
                self.left, self.header.records_count
            )));
        }
        let count = self.header.records_count;
        let codec = self.header.compression();
        let extra = match &mut self.source {
            Source::Slice { buf, pos } => buf.len() - *pos,
            Source::Stream {
                reader, pending, ..
            } => {
                reader.consume(std::mem::take(pending));
                reader
                    .fill_buf()
                    .map(|b| b.len())
                    .map_err(|e| corrupt(format!("cannot decompress {codec:?} records: {e}")))?
            }
        };
        if extra != 0 {
            return Err(corrupt(format!(
                "bytes left over after the {count} records of the batch"
            )));
        }
        Ok(())
    }
}

enum ReadFail {
    Log(LogError),
    Io(std::io::Error),
}

impl From<std::io::Error> for ReadFail {
    fn from(e: std::io::Error) -> Self {
        ReadFail::Io(e)
    }
}

/// Reads one length-prefixed record into `out` (prefix included); returns the bytes consumed and the
/// prefix length. The length is checked against both limits before any of the body is read.
fn read_record(
    reader: &mut impl BufRead,
    out: &mut Vec<u8>,
    max_record: u64,
    budget: u64,
) -> std::result::Result<(u64, usize), ReadFail> {
    // Read through the decompressor's buffer rather than byte by byte or with `read_to_end`:
    // every produced compressed batch is walked this way, and those calls cost more than the
    // decompression itself.
    let mut raw: u64 = 0;
    let mut done = false;
    for i in 0..5 {
        let Some(&b) = reader.fill_buf()?.first() else {
            return Err(ReadFail::Log(corrupt(
                "records section ends before the header's record count",
            )));
        };
        reader.consume(1);
        out.push(b);
        raw |= u64::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            done = true;
            break;
        }
    }
    if !done {
        return Err(ReadFail::Log(corrupt("record length varint is too long")));
    }
    let prefix = out.len();
    let len = check_length(zigzag(raw), prefix, max_record, budget).map_err(ReadFail::Log)?;
    let total = len + prefix as u64;
    // The buffer grows only as bytes really arrive, so a lying length costs nothing.
    let mut got: u64 = 0;
    while got < len {
        let avail = reader.fill_buf()?;
        if avail.is_empty() {
            break;
        }
        let n = avail
            .len()
            .min(usize::try_from(len - got).unwrap_or(usize::MAX));
        out.extend_from_slice(&avail[..n]);
        reader.consume(n);
        got += n as u64;
    }
    if got != len {
        return Err(ReadFail::Log(corrupt(format!(
            "record of {len} bytes is cut short after {got}"
        ))));
    }
    Ok((total, prefix))
}

fn zigzag(raw: u64) -> i64 {
    (raw >> 1) as i64 ^ -((raw & 1) as i64)
}

/// A record length read from its `prefix`-byte varint, within the record limit and what is left
/// of the batch's budget.
fn check_length(len: i64, prefix: usize, max_record: u64, budget: u64) -> Result<u64> {
    let len = u64::try_from(len).map_err(|_| corrupt(format!("negative record length {len}")))?;
    if len > max_record {
        return Err(corrupt(format!(
            "record of {len} bytes exceeds the {max_record}-byte record limit"
        )));
    }
    if len + prefix as u64 > budget {
        return Err(corrupt(format!(
            "records decompress to more than the {budget} bytes allowed for this batch"
        )));
    }
    Ok(len)
}

/// The record length varint at the start of `buf` and its size in bytes, when it is whole there
/// (at most five bytes, as `read_record` reads it).
fn buffered_length(buf: &[u8]) -> Option<(i64, usize)> {
    let mut raw = 0u64;
    for (i, &b) in buf.iter().take(5).enumerate() {
        raw |= u64::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            return Some((zigzag(raw), i + 1));
        }
    }
    None
}

/// Appends `v` as a zigzag varint.
fn put_varlong(out: &mut Vec<u8>, v: i64) {
    let mut z = ((v << 1) ^ (v >> 63)) as u64;
    while z >= 0x80 {
        out.push((z as u8) | 0x80);
        z >>= 7;
    }
    out.push(z as u8);
}

/// Re-encodes a batch keeping some of its records, like Kafka's cleaner: same codec, base offset, last
/// offset delta, producer fields and attributes, so every kept record's offset stays valid and, unless
/// a delete horizon is set, its bytes are copied verbatim. Records stream into the compressor.
pub(crate) struct BatchBuilder {
    header: [u8; HEADER_LEN],
    original: BatchHeader,
    /// KIP-534: the delete horizon to store in the base timestamp (records re-encoded against it).
    delete_horizon: Option<i64>,
    out: Deflater,
    count: i32,
    max_timestamp: Option<i64>,
    scratch: Vec<u8>,
}

impl BatchBuilder {
    pub(crate) fn new(
        original: &[u8],
        header: &BatchHeader,
        delete_horizon: Option<i64>,
    ) -> Result<BatchBuilder> {
        let mut head = [0u8; HEADER_LEN];
        head.copy_from_slice(
            original
                .get(..HEADER_LEN)
                .ok_or_else(|| corrupt("batch header is incomplete"))?,
        );
        Ok(BatchBuilder {
            header: head,
            original: *header,
            delete_horizon,
            out: Deflater::new(header.compression())?,
            count: 0,
            max_timestamp: None,
            scratch: Vec::new(),
        })
    }

    pub(crate) fn push(&mut self, r: &RecordView<'_>) -> Result<()> {
        let ts = r.timestamp(&self.original);
        self.max_timestamp = Some(self.max_timestamp.map_or(ts, |m| m.max(ts)));
        self.count = self
            .count
            .checked_add(1)
            .ok_or_else(|| corrupt("too many records"))?;
        match self.delete_horizon {
            None => self.out.write(r.raw),
            Some(horizon) => {
                // Same record, its timestamp delta now relative to the horizon.
                let delta = r
                    .timestamp_delta
                    .wrapping_add(self.original.base_timestamp)
                    .wrapping_sub(horizon);
                let mut body = Vec::with_capacity(r.after_timestamp.len() + 11);
                body.push(r.attributes);
                put_varlong(&mut body, delta);
                body.extend_from_slice(r.after_timestamp);
                self.scratch.clear();
                put_varlong(&mut self.scratch, body.len() as i64);
                self.scratch.extend_from_slice(&body);
                self.out.write(&self.scratch)
            }
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The rebuilt batch: only the length, CRC, record count, max timestamp (for CreateTime) and, with a
    /// delete horizon, the attributes and base timestamp differ from the original header.
    pub(crate) fn finish(self) -> Result<Vec<u8>> {
        let records = self.out.finish()?;
        let length = i32::try_from(HEADER_LEN - batch::LOG_OVERHEAD + records.len())
            .map_err(|_| corrupt("rebuilt batch is larger than 2 GiB"))?;
        let max_timestamp = match self.original.timestamp_type() {
            TimestampType::LogAppendTime => self.original.max_timestamp,
            TimestampType::CreateTime => self.max_timestamp.unwrap_or(self.original.max_timestamp),
        };
        let mut out = Vec::with_capacity(HEADER_LEN + records.len());
        out.extend_from_slice(&self.header);
        out.extend_from_slice(&records);
        batch::put_i32(&mut out, LENGTH_POS, length);
        batch::put_i64(&mut out, MAX_TIMESTAMP_POS, max_timestamp);
        batch::put_i32(&mut out, RECORDS_COUNT_POS, self.count);
        if let Some(horizon) = self.delete_horizon {
            batch::put_i16(
                &mut out,
                ATTRIBUTES_POS,
                self.original.attributes | DELETE_HORIZON_BIT,
            );
            batch::put_i64(&mut out, BASE_TIMESTAMP_POS, horizon);
        }
        let crc = batch::compute_crc(&out);
        batch::put_u32(&mut out, CRC_POS, crc);
        Ok(out)
    }
}

/// Calls `f` on every record of a stored or produced batch, then checks the section ends there.
#[cfg(test)]
pub(crate) fn for_each_record(
    batch: &[u8],
    header: &BatchHeader,
    limits: DecodeLimits,
    mut f: impl FnMut(&RecordView<'_>) -> Result<()>,
) -> Result<()> {
    let mut records = RecordStream::open(batch, header, limits)?;
    while let Some(r) = records.next_record()? {
        f(&r)?;
    }
    records.finish()
}

/// The append path's record-level checks of a batch decoded through the record stream (compressed
/// batches; uncompressed ones are walked in place by `record_check`): each record's bytes walked in
/// place as an uncompressed batch's are, the same [`RecordRules`], and the record count the header
/// declares.
pub(crate) fn check_records(
    batch: &[u8],
    header: &BatchHeader,
    limits: DecodeLimits,
    rules: &RecordRules,
) -> Result<()> {
    let mut records = RecordStream::open(batch, header, limits)?;
    let range = crate::record_check::range_of(rules);
    let mut index = 0;
    while let Some((_, body)) = records.next_raw()? {
        crate::record_check::check_one(header, rules, range, index, body)?;
        index += 1;
    }
    records.finish()
}

/// Compacted topics need a key on every record (Kafka answers INVALID_RECORD otherwise).
#[cfg(test)]
pub(crate) fn check_keys(batch: &[u8], header: &BatchHeader, limits: DecodeLimits) -> Result<()> {
    let rules = RecordRules {
        require_key: true,
        timestamps: None,
    };
    check_records(batch, header, limits, &rules)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::batch::validate;
    use crate::testutil::{
        batch as make_batch, bomb_batch, rec, rec_with_headers, tombstone, BombRecord,
    };
    use bytes::Bytes;
    use kafka_protocol::records::RecordBatchDecoder;

    const CODECS: [Compression; 5] = [
        Compression::None,
        Compression::Gzip,
        Compression::Snappy,
        Compression::Lz4,
        Compression::Zstd,
    ];

    fn limits(h: &BatchHeader) -> DecodeLimits {
        DecodeLimits::for_batch(h, 1_048_588)
    }

    /// (offset, timestamp, key, value, headers) of every record.
    type Owned = (i64, i64, Option<Vec<u8>>, Option<Vec<u8>>, usize);

    fn collect(b: &[u8], h: &BatchHeader) -> Result<Vec<Owned>> {
        let mut out = Vec::new();
        for_each_record(b, h, limits(h), |r| {
            out.push((
                r.offset(h),
                r.timestamp(h),
                r.key.map(<[u8]>::to_vec),
                r.value.map(<[u8]>::to_vec),
                r.header_count,
            ));
            Ok(())
        })?;
        Ok(out)
    }

    /// Many records of varied sizes in one compressed batch, so that records lie whole in the
    /// decompressor's 16 KiB buffer, straddle two fills, or span several: each decodes as
    /// written, and the append path's check accepts the batch and counts its records.
    #[test]
    fn records_across_the_decompressors_buffer_decode_whole() {
        let records: Vec<_> = (0..3000)
            .map(|i| {
                let size = match i {
                    _ if i % 50 == 0 => 40_000,
                    _ if i % 7 == 0 => 9000,
                    _ if i % 3 == 0 => 200,
                    _ => 10,
                };
                rec(&format!("k{i}"), &"v".repeat(size))
            })
            .collect();
        let rules = crate::record_check::RecordRules {
            require_key: true,
            timestamps: None,
        };
        for codec in CODECS {
            let b = make_batch(&records, 0, codec);
            let h = validate(&b).unwrap();
            let got = collect(&b, &h).unwrap();
            assert_eq!(got.len(), records.len(), "{codec:?}");
            for (i, (r, g)) in records.iter().zip(&got).enumerate() {
                assert_eq!(g.0, i as i64, "{codec:?} offset");
                assert_eq!(g.2.as_deref(), r.key.as_deref(), "{codec:?} key {i}");
                assert_eq!(g.3.as_deref(), r.value.as_deref(), "{codec:?} value {i}");
            }
            if codec != Compression::None {
                let limits = DecodeLimits::for_batch(&h, 1 << 20);
                check_records(&b, &h, limits, &rules).unwrap();
            }
        }
    }

    #[test]
    fn varints_decode_zigzag() {
        let cases: [(&[u8], i64); 5] = [
            (&[0x00], 0),
            (&[0x01], -1),
            (&[0x02], 1),
            (&[0xac, 0x02], 150),
            (&[0xff, 0xff, 0xff, 0xff, 0x0f], -2_147_483_648),
        ];
        for (bytes, want) in cases {
            let mut pos = 0;
            assert_eq!(read_varlong(bytes, &mut pos, 10).unwrap(), want);
            assert_eq!(pos, bytes.len());
            let mut enc = Vec::new();
            put_varlong(&mut enc, want);
            assert_eq!(enc, bytes);
        }
        let mut pos = 0;
        assert!(read_varlong(&[0x80, 0x80], &mut pos, 10).is_err());
        let mut pos = 0;
        assert!(read_varint(&[0xff, 0xff, 0xff, 0xff, 0xff, 0x01], &mut pos).is_err());
    }

    #[test]
    fn parses_records_of_every_codec() {
        for codec in CODECS {
            let b = make_batch(
                &[
                    rec("k1", "v1"),
                    tombstone("k2"),
                    rec_with_headers("k3", "v3", &[("h1", Some("x")), ("h2", None)]),
                ],
                1000,
                codec,
            );
            let h = validate(&b).unwrap();
            let recs = collect(&b, &h).unwrap();
            assert_eq!(recs.len(), 3);
            assert_eq!(recs[0].2.as_deref(), Some(&b"k1"[..]));
            assert_eq!(recs[0].3.as_deref(), Some(&b"v1"[..]));
            assert_eq!(recs[1].3, None);
            assert_eq!((recs[2].0, recs[2].1, recs[2].4), (2, 1002, 2));
            let mut stream = RecordStream::open(&b, &h, limits(&h)).unwrap();
            stream.next_record().unwrap();
            stream.next_record().unwrap();
            let third = stream.next_record().unwrap().unwrap();
            let hdrs: Vec<_> = third.header_pairs().collect::<Result<_>>().unwrap();
            assert_eq!(
                hdrs,
                vec![(&b"h1"[..], Some(&b"x"[..])), (&b"h2"[..], None)]
            );
            assert!(stream.next_record().unwrap().is_none());
            stream.finish().unwrap();
        }
    }

    fn rebuild(b: &[u8], h: &BatchHeader, keep: &[usize], horizon: Option<i64>) -> Vec<u8> {
        let mut builder = BatchBuilder::new(b, h, horizon).unwrap();
        let mut stream = RecordStream::open(b, h, limits(h)).unwrap();
        let mut i = 0;
        while let Some(r) = stream.next_record().unwrap() {
            if keep.contains(&i) {
                builder.push(&r).unwrap();
            }
            i += 1;
        }
        builder.finish().unwrap()
    }

    #[test]
    fn rebuild_keeps_offsets_and_reencodes_with_same_codec() {
        for codec in CODECS {
            let b = make_batch(
                &[rec("a", "1"), rec("b", "2"), rec("c", "3"), rec("d", "4")],
                500,
                codec,
            );
            let h = validate(&b).unwrap();
            for horizon in [None, Some(90_000)] {
                let rebuilt = rebuild(&b, &h, &[1, 2], horizon);
                let h2 = BatchHeader::parse(&rebuilt).unwrap();
                batch::check_integrity(&h2, &rebuilt).unwrap();
                assert_eq!(h2.compression(), codec);
                assert_eq!(h2.base_offset, h.base_offset);
                assert_eq!(h2.last_offset_delta, 3);
                assert_eq!(h2.records_count, 2);
                assert_eq!(h2.max_timestamp, 502);
                assert_eq!(h2.has_delete_horizon(), horizon.is_some());
                assert_eq!(h2.base_timestamp, horizon.unwrap_or(500));
                // Our reader and an independent decoder agree: same offsets, same timestamps.
                let ours = collect(&rebuilt, &h2).unwrap();
                assert_eq!(
                    ours.iter().map(|r| (r.0, r.1)).collect::<Vec<_>>(),
                    vec![(1, 501), (2, 502)]
                );
                let mut bytes = Bytes::from(rebuilt.clone());
                let set = RecordBatchDecoder::decode(&mut bytes).unwrap();
                let got: Vec<(i64, i64)> = set
                    .records
                    .iter()
                    .map(|r| (r.offset, r.timestamp))
                    .collect();
                assert_eq!(got, vec![(1, 501), (2, 502)], "{codec:?} {horizon:?}");
                assert_eq!(set.records[0].key.as_deref(), Some(&b"b"[..]));
            }
        }
    }

    #[test]
    fn check_keys_rejects_null_keys() {
        for codec in CODECS {
            let good = make_batch(&[rec("a", "1"), tombstone("b")], 1, codec);
            let h = validate(&good).unwrap();
            check_keys(&good, &h, limits(&h)).unwrap();
            let mut r = rec("x", "1");
            r.key = None;
            let bad = make_batch(&[rec("a", "1"), r], 1, codec);
            let h = validate(&bad).unwrap();
            assert!(matches!(
                check_keys(&bad, &h, limits(&h)),
                Err(LogError::InvalidRecord(_))
            ));
        }
    }

    #[test]
    fn garbage_records_are_errors_not_panics() {
        let b = make_batch(&[rec("a", "1")], 1, Compression::None);
        let h = validate(&b).unwrap();
        for cut in 0..(b.len() - HEADER_LEN) {
            let mut short = b[..HEADER_LEN + cut].to_vec();
            let len = (short.len() - 12) as i32;
            batch::put_i32(&mut short, LENGTH_POS, len);
            let hs = BatchHeader::parse(&short).unwrap();
            assert!(collect(&short, &hs).is_err(), "cut {cut}");
        }
        let mut gz = make_batch(&[rec("a", "1")], 1, Compression::Gzip);
        let n = gz.len();
        gz[n - 5] ^= 0xff;
        gz[HEADER_LEN + 2] ^= 0xff;
        let hg = BatchHeader::parse(&gz).unwrap();
        assert!(collect(&gz, &hg).is_err());
        assert_eq!(h.records_count, 1);
    }

    #[test]
    fn trailing_bytes_after_the_last_record_are_corrupt() {
        for codec in [Compression::Gzip, Compression::Zstd] {
            let recs = [BombRecord::value(10), BombRecord::value(10)];
            // The header claims one record, the section holds two.
            let b = bomb_batch(codec, 1, &recs);
            let h = BatchHeader::parse(&b).unwrap();
            assert!(matches!(collect(&b, &h), Err(LogError::CorruptBatch(_))));
        }
    }

    #[test]
    fn zstd_and_gzip_bombs_are_refused_within_the_limit() {
        for codec in [Compression::Zstd, Compression::Gzip] {
            // One record claiming 200 MiB of zeros under a header that claims two records: refused
            // from the record's length prefix, before anything is inflated.
            let b = bomb_batch(codec, 2, &[BombRecord::value(200 << 20)]);
            assert!(b.len() < 1 << 20, "{codec:?} bomb is {} bytes", b.len());
            let h = validate(&b).unwrap();
            let err = collect(&b, &h).unwrap_err();
            assert!(err.to_string().contains("record limit"), "{err}");
            // Many legal-sized records (900 KiB of zeros each, 200 MiB in all) under a header
            // claiming 1000: refused once the section passes the 64 MiB cap.
            let b = bomb_batch(codec, 1000, &vec![BombRecord::value(900 << 10); 230]);
            let h = validate(&b).unwrap();
            let mut stream = RecordStream::open(&b, &h, limits(&h)).unwrap();
            let mut seen = 0u64;
            let err = loop {
                match stream.next_record() {
                    Ok(Some(_)) => seen += 1,
                    Ok(None) => panic!("{codec:?} bomb was read to the end"),
                    Err(e) => break e,
                }
            };
            assert!(err.to_string().contains("allowed for this batch"), "{err}");
            assert!(stream.consumed <= MAX_DECOMPRESSED_BATCH_BYTES);
            assert!(seen < 75, "{seen} records read");
            // A compacted topic's key check answers CORRUPT_MESSAGE instead of inflating it.
            assert!(matches!(
                check_keys(&b, &h, limits(&h)),
                Err(LogError::CorruptBatch(_))
            ));
            // A tiny section claiming millions of records is refused before reading.
            let b = bomb_batch(codec, 20_000_000, &[BombRecord::value(1)]);
            let h = BatchHeader::parse(&b).unwrap();
            assert!(RecordStream::open(&b, &h, limits(&h)).is_err());
        }
    }

    #[test]
    fn limits_follow_count_and_max_message_bytes() {
        let b = make_batch(&[rec("a", "1"), rec("b", "2")], 1, Compression::Zstd);
        let h = validate(&b).unwrap();
        assert_eq!(
            DecodeLimits::for_batch(&h, 100),
            DecodeLimits {
                max_bytes: 2 << 20,
                max_record_bytes: 1 << 20
            }
        );
        assert_eq!(
            DecodeLimits::for_batch(&h, 10 << 20).max_record_bytes,
            10 << 20
        );
        let mut many = h;
        many.records_count = i32::MAX;
        assert_eq!(
            DecodeLimits::for_batch(&many, u32::MAX).max_bytes,
            MAX_DECOMPRESSED_BATCH_BYTES
        );
    }
}
