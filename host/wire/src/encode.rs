//! Writes uncompressed v2 batches record by record: the new batches normalisation builds from records
//! it had to decode. Written by hand rather than with kafka-protocol's encoder because that one keys
//! headers by a UTF-8 map, which would merge repeated header keys and refuse non-UTF-8 ones; here the
//! encoded headers are copied verbatim.

use bytes::Bytes;
use weft_log::batch::{HEADER_LEN, LOG_OVERHEAD, MAGIC_V2};

use crate::layout;

/// A batch being built: consecutive offsets from `base_offset`, CreateTime, no producer, no
/// compression.
pub(crate) struct RunEncoder {
    base_offset: i64,
    base_timestamp: i64,
    max_timestamp: i64,
    count: i32,
    /// The whole batch so far: a header to fill in at the end, then the records.
    buf: Vec<u8>,
    /// One record's body, encoded before its length prefix is known.
    scratch: Vec<u8>,
}

/// One record to add.
pub(crate) struct RecordParts<'a> {
    pub timestamp: i64,
    pub key: Option<&'a [u8]>,
    pub value: Option<&'a [u8]>,
    pub header_count: usize,
    /// The encoded headers, already checked to be well formed.
    pub headers: &'a [u8],
}

impl RunEncoder {
    /// A batch whose first record will have `base_offset` and `base_timestamp`.
    pub(crate) fn new(base_offset: i64, base_timestamp: i64) -> RunEncoder {
        let mut buf = Vec::with_capacity(HEADER_LEN + 256);
        buf.resize(HEADER_LEN, 0);
        RunEncoder {
            base_offset,
            base_timestamp,
            max_timestamp: base_timestamp,
            count: 0,
            buf,
            scratch: Vec::new(),
        }
    }

    /// The offset the next record must have to stay in this run.
    pub(crate) fn next_offset(&self) -> i64 {
        self.base_offset + i64::from(self.count)
    }

    pub(crate) fn len(&self) -> usize {
        self.buf.len()
    }

    pub(crate) fn count(&self) -> i32 {
        self.count
    }

    pub(crate) fn base_offset(&self) -> i64 {
        self.base_offset
    }

    /// Appends a record at [`RunEncoder::next_offset`].
    pub(crate) fn push(&mut self, r: &RecordParts<'_>) {
        let s = &mut self.scratch;
        s.clear();
        s.push(0); // record attributes: unused in v2
        put_varlong(s, r.timestamp.wrapping_sub(self.base_timestamp));
        put_varlong(s, i64::from(self.count));
        put_bytes(s, r.key);
        put_bytes(s, r.value);
        put_varlong(s, r.header_count as i64);
        s.extend_from_slice(r.headers);
        put_varlong(&mut self.buf, self.scratch.len() as i64);
        self.buf.extend_from_slice(&self.scratch);
        self.max_timestamp = self.max_timestamp.max(r.timestamp);
        self.count += 1;
    }

    /// The finished batch with its header and CRC-32C.
    pub(crate) fn finish(self) -> Bytes {
        let mut b = self.buf;
        let batch_length = (b.len() - LOG_OVERHEAD) as i32;
        b[layout::BASE_OFFSET..layout::BASE_OFFSET + 8]
            .copy_from_slice(&self.base_offset.to_be_bytes());
        b[layout::LENGTH..layout::LENGTH + 4].copy_from_slice(&batch_length.to_be_bytes());
        b[layout::LEADER_EPOCH..layout::LEADER_EPOCH + 4].copy_from_slice(&(-1i32).to_be_bytes());
        b[layout::MAGIC] = MAGIC_V2 as u8;
        b[layout::ATTRIBUTES..layout::ATTRIBUTES + 2].copy_from_slice(&0i16.to_be_bytes());
        b[layout::LAST_OFFSET_DELTA..layout::LAST_OFFSET_DELTA + 4]
            .copy_from_slice(&(self.count - 1).to_be_bytes());
        b[layout::BASE_TIMESTAMP..layout::BASE_TIMESTAMP + 8]
            .copy_from_slice(&self.base_timestamp.to_be_bytes());
        b[layout::MAX_TIMESTAMP..layout::MAX_TIMESTAMP + 8]
            .copy_from_slice(&self.max_timestamp.to_be_bytes());
        b[layout::PRODUCER_ID..layout::PRODUCER_ID + 8].copy_from_slice(&(-1i64).to_be_bytes());
        b[layout::PRODUCER_EPOCH..layout::PRODUCER_EPOCH + 2]
            .copy_from_slice(&(-1i16).to_be_bytes());
        b[layout::BASE_SEQUENCE..layout::BASE_SEQUENCE + 4].copy_from_slice(&(-1i32).to_be_bytes());
        b[layout::RECORDS_COUNT..layout::RECORDS_COUNT + 4]
            .copy_from_slice(&self.count.to_be_bytes());
        layout::write_crc(&mut b);
        Bytes::from(b)
    }
}

/// Zigzag varint, as v2 records encode every integer.
fn put_varlong(out: &mut Vec<u8>, v: i64) {
    let mut z = ((v << 1) ^ (v >> 63)) as u64;
    while z >= 0x80 {
        out.push((z as u8 & 0x7f) | 0x80);
        z >>= 7;
    }
    out.push(z as u8);
}

/// Varint length then bytes; -1 for null.
fn put_bytes(out: &mut Vec<u8>, v: Option<&[u8]>) {
    match v {
        None => put_varlong(out, -1),
        Some(b) => {
            put_varlong(out, b.len() as i64);
            out.extend_from_slice(b);
        }
    }
}
