//! Kafka v2 record batch headers: parsing, iteration and validation, shared by the log, the broker and the CLI.
//!
//! Layout of the 61-byte header (big endian):
//! `baseOffset i64 | batchLength i32 | partitionLeaderEpoch i32 | magic i8 | crc u32 | attributes i16 |
//! lastOffsetDelta i32 | baseTimestamp i64 | maxTimestamp i64 | producerId i64 | producerEpoch i16 |
//! baseSequence i32 | recordsCount i32`, then the (possibly compressed) records.
//! The CRC-32C covers everything from `attributes` to the end of the batch, which is why the broker
//! may assign `baseOffset` and `partitionLeaderEpoch` without touching the CRC.

use kafka_protocol::records::Compression;

use crate::config::TimestampType;
use crate::error::{LogError, Result};

/// Size of the v2 batch header.
pub const HEADER_LEN: usize = 61;
/// `baseOffset` + `batchLength`: the part of a batch that `batchLength` does not count.
pub const LOG_OVERHEAD: usize = 12;
/// The only record format accepted.
pub const MAGIC_V2: i8 = 2;

pub(crate) const BASE_OFFSET_POS: usize = 0;
pub(crate) const LENGTH_POS: usize = 8;
pub(crate) const LEADER_EPOCH_POS: usize = 12;
pub(crate) const MAGIC_POS: usize = 16;
pub(crate) const CRC_POS: usize = 17;
/// First byte covered by the CRC (the attributes).
pub(crate) const CRC_START: usize = 21;
pub(crate) const ATTRIBUTES_POS: usize = 21;
pub(crate) const LAST_OFFSET_DELTA_POS: usize = 23;
pub(crate) const BASE_TIMESTAMP_POS: usize = 27;
pub(crate) const MAX_TIMESTAMP_POS: usize = 35;
pub(crate) const PRODUCER_ID_POS: usize = 43;
pub(crate) const PRODUCER_EPOCH_POS: usize = 51;
pub(crate) const BASE_SEQUENCE_POS: usize = 53;
pub(crate) const RECORDS_COUNT_POS: usize = 57;
/// Bytes before which a patch of `baseOffset`/`batchLength`/`partitionLeaderEpoch` stays CRC-neutral.
pub(crate) const OFFSET_EPOCH_PATCH_LEN: usize = 16;

/// Smallest legal `batchLength`: a header with no records.
const MIN_BATCH_LENGTH: i32 = (HEADER_LEN - LOG_OVERHEAD) as i32;
/// Smallest encoded record: length, attributes, timestamp delta, offset delta, key length,
/// value length and header count, one byte each.
pub(crate) const MIN_RECORD_LEN: usize = 7;

pub(crate) const COMPRESSION_MASK: i16 = 0x07;
pub(crate) const TIMESTAMP_TYPE_BIT: i16 = 0x08;
pub(crate) const TRANSACTIONAL_BIT: i16 = 0x10;
pub(crate) const CONTROL_BIT: i16 = 0x20;
pub(crate) const DELETE_HORIZON_BIT: i16 = 0x40;

/// Parsed v2 batch header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchHeader {
    pub base_offset: i64,
    pub batch_length: i32,
    pub partition_leader_epoch: i32,
    pub magic: i8,
    pub crc: u32,
    pub attributes: i16,
    pub last_offset_delta: i32,
    pub base_timestamp: i64,
    pub max_timestamp: i64,
    pub producer_id: i64,
    pub producer_epoch: i16,
    pub base_sequence: i32,
    pub records_count: i32,
}

pub(crate) fn get_i16(b: &[u8], at: usize) -> i16 {
    i16::from_be_bytes([b[at], b[at + 1]])
}
pub(crate) fn get_i32(b: &[u8], at: usize) -> i32 {
    i32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}
pub(crate) fn get_i64(b: &[u8], at: usize) -> i64 {
    let mut x = [0u8; 8];
    x.copy_from_slice(&b[at..at + 8]);
    i64::from_be_bytes(x)
}
pub(crate) fn put_i16(b: &mut [u8], at: usize, v: i16) {
    b[at..at + 2].copy_from_slice(&v.to_be_bytes());
}
pub(crate) fn put_i32(b: &mut [u8], at: usize, v: i32) {
    b[at..at + 4].copy_from_slice(&v.to_be_bytes());
}
pub(crate) fn put_u32(b: &mut [u8], at: usize, v: u32) {
    b[at..at + 4].copy_from_slice(&v.to_be_bytes());
}
pub(crate) fn put_i64(b: &mut [u8], at: usize, v: i64) {
    b[at..at + 8].copy_from_slice(&v.to_be_bytes());
}

impl BatchHeader {
    /// Parses the header at the start of `buf`. Checks the magic, that the header is complete, that
    /// `batchLength` can hold a header and that the compression codec is known; it does not look at the
    /// records or the CRC (see [`validate`]).
    pub fn parse(buf: &[u8]) -> Result<BatchHeader> {
        if buf.len() <= MAGIC_POS {
            return Err(LogError::CorruptBatch(format!(
                "record batch header needs {HEADER_LEN} bytes, got {}",
                buf.len()
            )));
        }
        let magic = buf[MAGIC_POS] as i8;
        if magic != MAGIC_V2 {
            return Err(LogError::UnsupportedMagic(magic));
        }
        if buf.len() < HEADER_LEN {
            return Err(LogError::CorruptBatch(format!(
                "record batch header needs {HEADER_LEN} bytes, got {}",
                buf.len()
            )));
        }
        let header = BatchHeader {
            base_offset: get_i64(buf, BASE_OFFSET_POS),
            batch_length: get_i32(buf, LENGTH_POS),
            partition_leader_epoch: get_i32(buf, LEADER_EPOCH_POS),
            magic,
            crc: get_i32(buf, CRC_POS) as u32,
            attributes: get_i16(buf, ATTRIBUTES_POS),
            last_offset_delta: get_i32(buf, LAST_OFFSET_DELTA_POS),
            base_timestamp: get_i64(buf, BASE_TIMESTAMP_POS),
            max_timestamp: get_i64(buf, MAX_TIMESTAMP_POS),
            producer_id: get_i64(buf, PRODUCER_ID_POS),
            producer_epoch: get_i16(buf, PRODUCER_EPOCH_POS),
            base_sequence: get_i32(buf, BASE_SEQUENCE_POS),
            records_count: get_i32(buf, RECORDS_COUNT_POS),
        };
        if header.batch_length < MIN_BATCH_LENGTH {
            return Err(LogError::CorruptBatch(format!(
                "batch length {} is smaller than the {MIN_BATCH_LENGTH} bytes of a v2 header",
                header.batch_length
            )));
        }
        let codec = header.attributes & COMPRESSION_MASK;
        if codec > 4 {
            return Err(LogError::CorruptBatch(format!(
                "unknown compression codec id {codec}"
            )));
        }
        Ok(header)
    }

    /// Offset of the last record the batch was written with (kept even when compaction removed it).
    pub fn last_offset(&self) -> i64 {
        self.base_offset
            .wrapping_add(i64::from(self.last_offset_delta))
    }

    /// Size of the whole batch on disk and on the wire: `batch_length + 12`.
    pub fn total_size(&self) -> usize {
        self.batch_length.max(0) as usize + LOG_OVERHEAD
    }

    /// Compression codec of the records (attribute bits 0-2).
    pub fn compression(&self) -> Compression {
        match self.attributes & COMPRESSION_MASK {
            1 => Compression::Gzip,
            2 => Compression::Snappy,
            3 => Compression::Lz4,
            4 => Compression::Zstd,
            _ => Compression::None,
        }
    }

    /// Timestamp type (attribute bit 3): with LogAppendTime every record's timestamp is `max_timestamp`.
    pub fn timestamp_type(&self) -> TimestampType {
        if self.attributes & TIMESTAMP_TYPE_BIT != 0 {
            TimestampType::LogAppendTime
        } else {
            TimestampType::CreateTime
        }
    }

    /// Attribute bit 4.
    pub fn is_transactional(&self) -> bool {
        self.attributes & TRANSACTIONAL_BIT != 0
    }

    /// Attribute bit 5: the batch holds transaction markers, not user records.
    pub fn is_control(&self) -> bool {
        self.attributes & CONTROL_BIT != 0
    }

    /// Attribute bit 6 (KIP-534): `base_timestamp` holds the delete horizon set by a compaction.
    pub fn has_delete_horizon(&self) -> bool {
        self.attributes & DELETE_HORIZON_BIT != 0
    }

    /// Sequence number of the last record, wrapping like Kafka; -1 for non-idempotent batches.
    pub fn last_sequence(&self) -> i32 {
        if self.base_sequence < 0 {
            return -1;
        }
        let room = i32::MAX - self.base_sequence;
        if self.last_offset_delta > room {
            self.last_offset_delta - room - 1
        } else {
            self.base_sequence + self.last_offset_delta
        }
    }
}

/// Iterator over the batches in a byte slice; see [`batches`].
#[derive(Debug, Clone)]
pub struct Batches<'a> {
    buf: &'a [u8],
    pos: usize,
    done: bool,
}

impl<'a> Iterator for Batches<'a> {
    type Item = Result<(BatchHeader, &'a [u8])>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let rest = &self.buf[self.pos..];
        if rest.len() < LOG_OVERHEAD {
            self.done = true;
            return None;
        }
        let length = get_i32(rest, LENGTH_POS);
        if length < MIN_BATCH_LENGTH {
            self.done = true;
            return Some(Err(LogError::CorruptBatch(format!(
                "batch at byte {} has length {length}, smaller than a v2 header",
                self.pos
            ))));
        }
        let total = length as usize + LOG_OVERHEAD;
        if rest.len() < total {
            // A trailing partial batch is normal in a fetch response cut at max_bytes.
            self.done = true;
            return None;
        }
        let bytes = &rest[..total];
        match BatchHeader::parse(bytes) {
            Ok(header) => {
                self.pos += total;
                Some(Ok((header, bytes)))
            }
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }
}

/// Iterate the batches in a byte slice (stops at a trailing partial batch). Each item is the parsed
/// header and the whole batch's bytes. An unparseable header yields one error and ends the iteration.
/// CRCs are not checked.
pub fn batches(buf: &[u8]) -> Batches<'_> {
    Batches {
        buf,
        pos: 0,
        done: false,
    }
}

/// CRC-32C of a batch as it should be stored: from the attributes to the end.
pub(crate) fn compute_crc(batch: &[u8]) -> u32 {
    crc32c::crc32c(batch.get(CRC_START..).unwrap_or_default())
}

/// Checks that `buf` holds the whole stored batch `header` describes and that its CRC-32C matches
/// (for readers of stored batches, such as the broker's replay of its internal topics).
pub fn check_batch_crc(header: &BatchHeader, buf: &[u8]) -> Result<()> {
    check_integrity(header, buf)
}

/// Checks that `buf` holds the whole batch `header` describes and that its CRC matches.
pub(crate) fn check_integrity(header: &BatchHeader, buf: &[u8]) -> Result<()> {
    let size = header.total_size();
    if buf.len() < size {
        return Err(LogError::CorruptBatch(format!(
            "record batch declares {size} bytes but only {} are present",
            buf.len()
        )));
    }
    let computed = compute_crc(&buf[..size]);
    if computed != header.crc {
        return Err(LogError::CrcMismatch {
            stored: header.crc,
            computed,
        });
    }
    Ok(())
}

/// Most records a compressed batch may claim: each takes at least [`MIN_RECORD_LEN`] bytes of the
/// section, which may decompress to at most [`crate::record::MAX_DECOMPRESSED_BATCH_BYTES`].
pub const MAX_COMPRESSED_RECORDS: i32 =
    (crate::record::MAX_DECOMPRESSED_BATCH_BYTES / MIN_RECORD_LEN as u64) as i32;

/// Full validation of the batch at the start of `buf` as a producer must send it: magic 2, complete
/// header and body, CRC-32C over bytes 21.. (attributes to end), a non-empty offset range whose size
/// equals the record count, a record count the bytes can hold (uncompressed: [`MIN_RECORD_LEN`] bytes
/// per record; compressed: at most [`MAX_COMPRESSED_RECORDS`]), and none of the attributes only a
/// broker may set: no control batch, no delete horizon, and no transactional batch without a producer
/// id. Bytes after the batch are ignored.
pub fn validate(buf: &[u8]) -> Result<BatchHeader> {
    let header = BatchHeader::parse(buf)?;
    check_integrity(&header, buf)?;
    if header.is_control() {
        return Err(LogError::InvalidRecord(
            "clients are not allowed to write control batches".to_string(),
        ));
    }
    if header.is_transactional() && header.producer_id < 0 {
        return Err(LogError::InvalidRecord(
            "transactional batch without a producer id".to_string(),
        ));
    }
    if header.has_delete_horizon() {
        return Err(LogError::InvalidRecord(
            "clients are not allowed to set a batch's delete horizon".to_string(),
        ));
    }
    if header.last_offset_delta < 0 {
        return Err(LogError::InvalidRecord(format!(
            "batch has an invalid offset range (lastOffsetDelta {})",
            header.last_offset_delta
        )));
    }
    if header.records_count <= 0 {
        return Err(LogError::InvalidRecord(format!(
            "invalid reported record count {} for a record batch",
            header.records_count
        )));
    }
    if i64::from(header.records_count) != i64::from(header.last_offset_delta) + 1 {
        return Err(LogError::InvalidRecord(format!(
            "inconsistent batch: lastOffsetDelta {} implies {} records but recordsCount is {}",
            header.last_offset_delta,
            i64::from(header.last_offset_delta) + 1,
            header.records_count
        )));
    }
    if header.compression() == Compression::None {
        let body = header.total_size() - HEADER_LEN;
        if body / MIN_RECORD_LEN < header.records_count as usize {
            return Err(LogError::CorruptBatch(format!(
                "{body} bytes of uncompressed records cannot hold {} records",
                header.records_count
            )));
        }
    } else if header.records_count > MAX_COMPRESSED_RECORDS {
        return Err(LogError::CorruptBatch(format!(
            "a compressed batch cannot hold {} records (at most {MAX_COMPRESSED_RECORDS})",
            header.records_count
        )));
    }
    Ok(header)
}

/// `message.timestamp.before.max.ms` / `after.max.ms` for a CreateTime topic on the batch header: its
/// first and largest timestamps within the bounds (INVALID_TIMESTAMP otherwise). Every record's own
/// timestamp is checked by `record_check` as the records are walked or decoded.
pub(crate) fn check_timestamps(
    header: &BatchHeader,
    bounds: &crate::record_check::TimestampBounds,
) -> Result<()> {
    bounds.check(header.base_timestamp, &"the batch")?;
    bounds.check(header.max_timestamp, &"the batch")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record_check::TimestampBounds;
    use crate::testutil::{batch, rec};

    #[test]
    fn parse_reads_every_field() {
        let b = batch(
            &[rec("k", "v"), rec("k2", "v2")],
            1_700_000_000_000,
            Compression::None,
        );
        let h = BatchHeader::parse(&b).unwrap();
        assert_eq!(h.base_offset, 0);
        assert_eq!(h.total_size(), b.len());
        assert_eq!(h.magic, 2);
        assert_eq!(h.records_count, 2);
        assert_eq!(h.last_offset_delta, 1);
        assert_eq!(h.last_offset(), 1);
        assert_eq!(h.base_timestamp, 1_700_000_000_000);
        assert_eq!(h.max_timestamp, 1_700_000_000_001);
        assert_eq!(h.producer_id, -1);
        assert_eq!(h.producer_epoch, -1);
        assert_eq!(h.base_sequence, -1);
        assert_eq!(h.last_sequence(), -1);
        assert_eq!(h.compression(), Compression::None);
        assert_eq!(h.timestamp_type(), TimestampType::CreateTime);
        assert!(!h.is_transactional() && !h.is_control() && !h.has_delete_horizon());
        assert_eq!(h.crc, compute_crc(&b));
    }

    #[test]
    fn parse_rejects_bad_headers() {
        let b = batch(&[rec("k", "v")], 1, Compression::None);
        assert!(matches!(
            BatchHeader::parse(&b[..10]),
            Err(LogError::CorruptBatch(_))
        ));
        assert!(matches!(
            BatchHeader::parse(&b[..40]),
            Err(LogError::CorruptBatch(_))
        ));
        let mut m = b.clone();
        m[MAGIC_POS] = 1;
        assert!(matches!(
            BatchHeader::parse(&m),
            Err(LogError::UnsupportedMagic(1))
        ));
        let mut l = b.clone();
        put_i32(&mut l, LENGTH_POS, 10);
        assert!(matches!(
            BatchHeader::parse(&l),
            Err(LogError::CorruptBatch(_))
        ));
        let mut c = b.clone();
        put_i16(&mut c, ATTRIBUTES_POS, 7);
        assert!(matches!(
            BatchHeader::parse(&c),
            Err(LogError::CorruptBatch(_))
        ));
    }

    #[test]
    fn attribute_bits() {
        let b = batch(&[rec("k", "v")], 1, Compression::Zstd);
        let mut h = BatchHeader::parse(&b).unwrap();
        assert_eq!(h.compression(), Compression::Zstd);
        h.attributes |= TIMESTAMP_TYPE_BIT | TRANSACTIONAL_BIT | CONTROL_BIT | DELETE_HORIZON_BIT;
        assert_eq!(h.timestamp_type(), TimestampType::LogAppendTime);
        assert!(h.is_transactional() && h.is_control() && h.has_delete_horizon());
    }

    #[test]
    fn last_sequence_wraps_like_kafka() {
        let b = batch(&[rec("k", "v")], 1, Compression::None);
        let mut h = BatchHeader::parse(&b).unwrap();
        h.base_sequence = 5;
        h.last_offset_delta = 3;
        assert_eq!(h.last_sequence(), 8);
        h.base_sequence = i32::MAX - 1;
        h.last_offset_delta = 3;
        assert_eq!(h.last_sequence(), 1);
    }

    #[test]
    fn batches_iterates_and_stops_at_partial_tail() {
        let mut buf = batch(&[rec("a", "1")], 1, Compression::None);
        let second = batch(&[rec("b", "2"), rec("c", "3")], 2, Compression::Gzip);
        buf.extend_from_slice(&second);
        let third = batch(&[rec("d", "4")], 3, Compression::None);
        buf.extend_from_slice(&third[..third.len() - 1]);
        let got: Vec<_> = batches(&buf).collect::<Result<_>>().unwrap();
        assert_eq!(got.len(), 2);
        assert_eq!(got[1].0.records_count, 2);
        assert_eq!(got[1].1, &second[..]);
        assert_eq!(batches(&[]).count(), 0);
        assert_eq!(batches(&buf[..5]).count(), 0);
    }

    #[test]
    fn batches_reports_garbage_once() {
        let mut buf = batch(&[rec("a", "1")], 1, Compression::None);
        let len = buf.len();
        buf.extend_from_slice(&[0u8; 70]);
        let items: Vec<_> = batches(&buf).collect();
        assert_eq!(items.len(), 2);
        assert!(items[0].is_ok());
        assert!(items[1].is_err());
        // Bad magic in an otherwise complete second batch.
        let mut buf2 = buf[..len].to_vec();
        let mut other = batch(&[rec("b", "2")], 1, Compression::None);
        other[MAGIC_POS] = 0;
        buf2.extend_from_slice(&other);
        let items: Vec<_> = batches(&buf2).collect();
        assert!(matches!(items[1], Err(LogError::UnsupportedMagic(0))));
    }

    #[test]
    fn validate_accepts_good_batches_of_every_codec() {
        for c in [
            Compression::None,
            Compression::Gzip,
            Compression::Snappy,
            Compression::Lz4,
            Compression::Zstd,
        ] {
            let b = batch(&[rec("k", "v"), rec("k", "w")], 5, c);
            let h = validate(&b).unwrap();
            assert_eq!(h.compression(), c);
        }
    }

    #[test]
    fn validate_rejects_bad_crc_magic_truncation_and_counts() {
        let b = batch(&[rec("k", "v"), rec("k2", "v2")], 5, Compression::None);
        let mut bad = b.clone();
        let last = bad.len() - 1;
        bad[last] ^= 0x40;
        assert!(matches!(validate(&bad), Err(LogError::CrcMismatch { .. })));

        let mut magic = b.clone();
        magic[MAGIC_POS] = 0;
        assert!(matches!(
            validate(&magic),
            Err(LogError::UnsupportedMagic(0))
        ));

        assert!(matches!(
            validate(&b[..b.len() - 3]),
            Err(LogError::CorruptBatch(_))
        ));

        let mut count = b.clone();
        put_i32(&mut count, RECORDS_COUNT_POS, 3);
        let crc = compute_crc(&count);
        put_u32(&mut count, CRC_POS, crc);
        assert!(matches!(validate(&count), Err(LogError::InvalidRecord(_))));

        let mut zero = b.clone();
        put_i32(&mut zero, RECORDS_COUNT_POS, 0);
        put_i32(&mut zero, LAST_OFFSET_DELTA_POS, -1);
        let crc = compute_crc(&zero);
        put_u32(&mut zero, CRC_POS, crc);
        assert!(matches!(validate(&zero), Err(LogError::InvalidRecord(_))));

        let mut many = b.clone();
        put_i32(&mut many, RECORDS_COUNT_POS, 1000);
        put_i32(&mut many, LAST_OFFSET_DELTA_POS, 999);
        let crc = compute_crc(&many);
        put_u32(&mut many, CRC_POS, crc);
        assert!(matches!(validate(&many), Err(LogError::CorruptBatch(_))));
    }

    fn with_attributes(mut b: Vec<u8>, bits: i16) -> Vec<u8> {
        let a = get_i16(&b, ATTRIBUTES_POS) | bits;
        put_i16(&mut b, ATTRIBUTES_POS, a);
        let crc = compute_crc(&b);
        put_u32(&mut b, CRC_POS, crc);
        b
    }

    #[test]
    fn validate_refuses_attributes_only_a_broker_may_set() {
        for bit in [CONTROL_BIT, TRANSACTIONAL_BIT, DELETE_HORIZON_BIT] {
            let b = with_attributes(batch(&[rec("k", "v")], 5, Compression::Lz4), bit);
            let err = validate(&b).unwrap_err();
            assert!(matches!(err, LogError::InvalidRecord(_)), "{bit:#x}: {err}");
        }
        let e = validate(&with_attributes(
            batch(&[rec("k", "v")], 5, Compression::None),
            TRANSACTIONAL_BIT,
        ))
        .unwrap_err();
        assert!(e.to_string().contains("without a producer id"), "{e}");
        // With a producer id a transactional batch is a client's to send.
        let mut b = batch(&[rec("k", "v")], 5, Compression::None);
        put_i64(&mut b, PRODUCER_ID_POS, 7);
        validate(&with_attributes(b, TRANSACTIONAL_BIT)).unwrap();
    }

    #[test]
    fn validate_bounds_the_record_count_of_compressed_batches() {
        let b = batch(&[rec("k", "v")], 5, Compression::Zstd);
        for (count, ok) in [
            (MAX_COMPRESSED_RECORDS, true),
            (MAX_COMPRESSED_RECORDS + 1, false),
            (i32::MAX, false),
        ] {
            let mut lie = b.clone();
            put_i32(&mut lie, RECORDS_COUNT_POS, count);
            put_i32(&mut lie, LAST_OFFSET_DELTA_POS, count - 1);
            let crc = compute_crc(&lie);
            put_u32(&mut lie, CRC_POS, crc);
            assert_eq!(validate(&lie).is_ok(), ok, "{count}");
        }
        // Uncompressed: exactly MIN_RECORD_LEN bytes per record.
        let body = b.len() - HEADER_LEN;
        let plain = batch(&[rec("k", "v")], 5, Compression::None);
        let body_plain = plain.len() - HEADER_LEN;
        let mut lie = plain.clone();
        let fits = (body_plain / MIN_RECORD_LEN) as i32;
        put_i32(&mut lie, RECORDS_COUNT_POS, fits + 1);
        put_i32(&mut lie, LAST_OFFSET_DELTA_POS, fits);
        let crc = compute_crc(&lie);
        put_u32(&mut lie, CRC_POS, crc);
        assert!(matches!(validate(&lie), Err(LogError::CorruptBatch(_))));
        assert!(body > 0);
    }

    fn bounds(before_max_ms: i64, after_max_ms: i64, now_ms: i64) -> TimestampBounds {
        TimestampBounds {
            before_max_ms,
            after_max_ms,
            now_ms,
        }
    }

    #[test]
    fn timestamps_must_lie_within_before_and_after_of_now() {
        let b = batch(&[rec("a", "1"), rec("b", "2")], 10_000, Compression::None);
        let h = validate(&b).unwrap();
        // Records at 10_000 and 10_001.
        check_timestamps(&h, &bounds(i64::MAX, 0, 10_001)).unwrap();
        assert!(matches!(
            check_timestamps(&h, &bounds(i64::MAX, 0, 10_000)),
            Err(LogError::InvalidTimestamp(_))
        ));
        check_timestamps(&h, &bounds(0, i64::MAX, 10_000)).unwrap();
        assert!(matches!(
            check_timestamps(&h, &bounds(0, i64::MAX, 10_001)),
            Err(LogError::InvalidTimestamp(_))
        ));
        check_timestamps(&h, &bounds(5, 5, 10_004)).unwrap();
        let mut none = h;
        none.base_timestamp = -1;
        none.max_timestamp = -1;
        check_timestamps(&none, &bounds(0, 0, 1_000_000)).unwrap();
    }

    #[test]
    fn offset_and_epoch_are_outside_the_crc() {
        let mut b = batch(&[rec("k", "v")], 5, Compression::None);
        put_i64(&mut b, BASE_OFFSET_POS, 123_456);
        put_i32(&mut b, LEADER_EPOCH_POS, 9);
        let h = validate(&b).unwrap();
        assert_eq!(h.base_offset, 123_456);
        assert_eq!(h.partition_leader_epoch, 9);
    }
}
