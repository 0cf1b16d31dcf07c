//! Record-level access to v2 batches for the slow paths (compaction, timestamp lookup, dump, key checks):
//! decompression and re-compression through kafka-protocol's codecs, zero-copy record parsing, and
//! rebuilding a batch that keeps only some of its records.

use std::borrow::Cow;

use bytes::{Bytes, BytesMut};
use kafka_protocol::compression::{Compressor, Decompressor, Gzip, Lz4, Snappy, Zstd};
use kafka_protocol::records::Compression;

use crate::batch::{
    self, BatchHeader, CRC_POS, HEADER_LEN, LENGTH_POS, MAX_TIMESTAMP_POS, MIN_RECORD_LEN,
    RECORDS_COUNT_POS,
};
use crate::config::TimestampType;
use crate::error::{LogError, Result};

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
pub(crate) struct RecordView<'a> {
    /// The whole encoded record including its length prefix, for verbatim copies.
    pub raw: &'a [u8],
    pub timestamp_delta: i64,
    pub offset_delta: i32,
    pub key: Option<&'a [u8]>,
    pub value: Option<&'a [u8]>,
    pub header_count: usize,
    /// The encoded headers (already checked to be well formed).
    pub headers: &'a [u8],
}

impl<'a> RecordView<'a> {
    pub(crate) fn offset(&self, batch: &BatchHeader) -> i64 {
        batch.base_offset.wrapping_add(i64::from(self.offset_delta))
    }

    /// The record's timestamp as a consumer sees it: LogAppendTime batches stamp every record with
    /// the batch's max timestamp.
    pub(crate) fn timestamp(&self, batch: &BatchHeader) -> i64 {
        match batch.timestamp_type() {
            TimestampType::LogAppendTime => batch.max_timestamp,
            TimestampType::CreateTime => batch.base_timestamp.wrapping_add(self.timestamp_delta),
        }
    }

    /// Sequence number like Kafka's `DefaultRecord.sequence()`.
    pub(crate) fn sequence(&self, batch: &BatchHeader) -> i32 {
        if batch.base_sequence < 0 {
            -1
        } else {
            batch.base_sequence.wrapping_add(self.offset_delta) & i32::MAX
        }
    }

    /// The header keys and values.
    pub(crate) fn header_pairs(&self) -> Headers<'a> {
        Headers {
            buf: self.headers,
            pos: 0,
            left: self.header_count,
        }
    }
}

/// Iterator over encoded record headers.
pub(crate) struct Headers<'a> {
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
    pos += 1;
    let timestamp_delta = read_varlong(body, &mut pos, 10)?;
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
        timestamp_delta,
        offset_delta,
        key,
        value,
        header_count,
        headers,
    })
}

/// Iterator over the records of a decompressed records section.
pub(crate) struct Records<'a> {
    buf: &'a [u8],
    pos: usize,
    left: usize,
}

impl<'a> Records<'a> {
    pub(crate) fn new(buf: &'a [u8], count: i32) -> Self {
        Records {
            buf,
            pos: 0,
            left: usize::try_from(count).unwrap_or(0),
        }
    }

    /// Bytes not consumed by the records read so far.
    pub(crate) fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }
}

impl<'a> Iterator for Records<'a> {
    type Item = Result<RecordView<'a>>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        let start = self.pos;
        let item = read_nullable(self.buf, &mut self.pos, "record")
            .and_then(|body| body.ok_or_else(|| corrupt("negative record length")))
            .and_then(|body| parse_record(&self.buf[start..self.pos], body));
        if item.is_err() {
            self.left = 0;
        }
        Some(item)
    }
}

fn decompress_with<'a, D>(data: &'a [u8], codec: Compression) -> Result<Vec<u8>>
where
    D: Decompressor<&'a [u8], Buf = Bytes>,
{
    let mut src = data;
    D::decompress(&mut src, |out: &mut Bytes| Ok(std::mem::take(out)))
        .map(Vec::from)
        .map_err(|e| corrupt(format!("cannot decompress {codec:?} records: {e:#}")))
}

/// The records section of `batch` (a whole batch described by `header`), decompressed.
pub(crate) fn payload<'a>(batch: &'a [u8], header: &BatchHeader) -> Result<Cow<'a, [u8]>> {
    let data = batch
        .get(HEADER_LEN..header.total_size())
        .ok_or_else(|| corrupt("batch is shorter than its declared length"))?;
    let codec = header.compression();
    let out = match codec {
        Compression::None => return Ok(Cow::Borrowed(data)),
        Compression::Gzip => decompress_with::<Gzip>(data, codec)?,
        Compression::Snappy => decompress_with::<Snappy>(data, codec)?,
        Compression::Lz4 => decompress_with::<Lz4>(data, codec)?,
        Compression::Zstd => decompress_with::<Zstd>(data, codec)?,
    };
    if out.len() / MIN_RECORD_LEN < usize::try_from(header.records_count).unwrap_or(0) {
        return Err(corrupt(format!(
            "{} decompressed bytes cannot hold {} records",
            out.len(),
            header.records_count
        )));
    }
    Ok(Cow::Owned(out))
}

fn compress_with<C>(raw: &[u8], codec: Compression) -> Result<Vec<u8>>
where
    C: Compressor<BytesMut, BufMut = BytesMut>,
{
    let mut out = BytesMut::new();
    C::compress(&mut out, |tmp: &mut BytesMut| {
        tmp.extend_from_slice(raw);
        Ok(())
    })
    .map_err(|e| corrupt(format!("cannot compress records with {codec:?}: {e:#}")))?;
    Ok(out.to_vec())
}

fn compress(raw: &[u8], codec: Compression) -> Result<Vec<u8>> {
    match codec {
        Compression::None => Ok(raw.to_vec()),
        Compression::Gzip => compress_with::<Gzip>(raw, codec),
        Compression::Snappy => compress_with::<Snappy>(raw, codec),
        Compression::Lz4 => compress_with::<Lz4>(raw, codec),
        Compression::Zstd => compress_with::<Zstd>(raw, codec),
    }
}

/// Rebuilds `original` keeping only `keep` (records of that batch, in order), like Kafka's cleaner:
/// same codec, base offset, last offset delta, base timestamp, producer fields and attributes, so every
/// kept record's offset and timestamp deltas stay valid and its bytes are copied verbatim. Only the
/// length, CRC, record count and (for CreateTime) the max timestamp change.
pub(crate) fn rebuild_batch(
    original: &[u8],
    header: &BatchHeader,
    keep: &[RecordView<'_>],
) -> Result<Vec<u8>> {
    let mut raw = Vec::with_capacity(keep.iter().map(|r| r.raw.len()).sum());
    for r in keep {
        raw.extend_from_slice(r.raw);
    }
    let records = compress(&raw, header.compression())?;
    let length = i32::try_from(HEADER_LEN - batch::LOG_OVERHEAD + records.len())
        .map_err(|_| corrupt("rebuilt batch is larger than 2 GiB"))?;
    let count = i32::try_from(keep.len()).map_err(|_| corrupt("too many records"))?;
    let max_timestamp = match header.timestamp_type() {
        TimestampType::LogAppendTime => header.max_timestamp,
        TimestampType::CreateTime => keep
            .iter()
            .map(|r| r.timestamp(header))
            .max()
            .unwrap_or(header.max_timestamp),
    };
    let mut out = Vec::with_capacity(HEADER_LEN + records.len());
    out.extend_from_slice(
        original
            .get(..HEADER_LEN)
            .ok_or_else(|| corrupt("batch header is incomplete"))?,
    );
    out.extend_from_slice(&records);
    batch::put_i32(&mut out, LENGTH_POS, length);
    batch::put_i64(&mut out, MAX_TIMESTAMP_POS, max_timestamp);
    batch::put_i32(&mut out, RECORDS_COUNT_POS, count);
    let crc = batch::compute_crc(&out);
    batch::put_u32(&mut out, CRC_POS, crc);
    Ok(out)
}

/// Compacted topics need a key on every record (Kafka answers INVALID_RECORD otherwise).
/// This is the one place the append path decodes records, and only for compacted topics.
pub(crate) fn check_keys(batch: &[u8], header: &BatchHeader) -> Result<()> {
    if header.is_control() {
        return Ok(());
    }
    let data = payload(batch, header)?;
    let mut records = Records::new(&data, header.records_count);
    for r in records.by_ref() {
        let r = r?;
        if r.key.is_none() {
            return Err(LogError::InvalidRecord(format!(
                "compacted topic cannot accept a record without a key (offset delta {})",
                r.offset_delta
            )));
        }
    }
    if records.remaining() != 0 {
        return Err(corrupt(format!(
            "{} bytes left over after {} records",
            records.remaining(),
            header.records_count
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::batch::validate;
    use crate::testutil::{batch as make_batch, rec, rec_with_headers, tombstone};
    use kafka_protocol::records::RecordBatchDecoder;

    const CODECS: [Compression; 5] = [
        Compression::None,
        Compression::Gzip,
        Compression::Snappy,
        Compression::Lz4,
        Compression::Zstd,
    ];

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
            let data = payload(&b, &h).unwrap();
            let recs: Vec<_> = Records::new(&data, h.records_count)
                .collect::<Result<_>>()
                .unwrap();
            assert_eq!(recs.len(), 3);
            assert_eq!(recs[0].key, Some(&b"k1"[..]));
            assert_eq!(recs[0].value, Some(&b"v1"[..]));
            assert_eq!(recs[1].value, None);
            assert_eq!(recs[2].offset(&h), 2);
            assert_eq!(recs[2].timestamp(&h), 1002);
            let hdrs: Vec<_> = recs[2].header_pairs().collect::<Result<_>>().unwrap();
            assert_eq!(
                hdrs,
                vec![(&b"h1"[..], Some(&b"x"[..])), (&b"h2"[..], None)]
            );
        }
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
            let data = payload(&b, &h).unwrap();
            let recs: Vec<_> = Records::new(&data, h.records_count)
                .collect::<Result<_>>()
                .unwrap();
            let keep = [recs[1], recs[2]];
            let rebuilt = rebuild_batch(&b, &h, &keep).unwrap();
            let h2 = BatchHeader::parse(&rebuilt).unwrap();
            batch::check_integrity(&h2, &rebuilt).unwrap();
            assert_eq!(h2.compression(), codec);
            assert_eq!(h2.base_offset, h.base_offset);
            assert_eq!(h2.last_offset_delta, 3);
            assert_eq!(h2.records_count, 2);
            assert_eq!(h2.max_timestamp, 502);
            // An independent decoder agrees.
            let mut bytes = Bytes::from(rebuilt.clone());
            let set = RecordBatchDecoder::decode(&mut bytes).unwrap();
            let offsets: Vec<i64> = set.records.iter().map(|r| r.offset).collect();
            assert_eq!(offsets, vec![1, 2]);
            assert_eq!(set.records[0].key.as_deref(), Some(&b"b"[..]));
            assert_eq!(set.records[1].timestamp, 502);
        }
    }

    #[test]
    fn check_keys_rejects_null_keys() {
        for codec in CODECS {
            let good = make_batch(&[rec("a", "1"), tombstone("b")], 1, codec);
            check_keys(&good, &validate(&good).unwrap()).unwrap();
            let mut r = rec("x", "1");
            r.key = None;
            let bad = make_batch(&[rec("a", "1"), r], 1, codec);
            assert!(matches!(
                check_keys(&bad, &validate(&bad).unwrap()),
                Err(LogError::InvalidRecord(_))
            ));
        }
    }

    #[test]
    fn garbage_records_are_errors_not_panics() {
        let b = make_batch(&[rec("a", "1")], 1, Compression::None);
        let h = validate(&b).unwrap();
        for cut in 0..(b.len() - HEADER_LEN) {
            let data = &b[HEADER_LEN..HEADER_LEN + cut];
            let all: Vec<_> = Records::new(data, 1).collect();
            assert!(all.iter().any(|r| r.is_err()), "cut {cut}");
        }
        let mut gz = make_batch(&[rec("a", "1")], 1, Compression::Gzip);
        let n = gz.len();
        gz[n - 5] ^= 0xff;
        gz[HEADER_LEN + 2] ^= 0xff;
        let hg = BatchHeader::parse(&gz).unwrap();
        assert!(payload(&gz, &hg).is_err());
        assert_eq!(h.records_count, 1);
    }
}
