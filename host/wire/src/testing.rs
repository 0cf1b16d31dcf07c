//! Test-only builders: v2 batches encoded by kafka-protocol (an independent encoder), decoded back
//! for comparisons.

use bytes::{Bytes, BytesMut};
use kafka_protocol::indexmap::IndexMap;
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::records::{
    Compression, Record, RecordBatchDecoder, RecordBatchEncoder, RecordEncodeOptions, TimestampType,
};

use crate::layout;

/// A plain record at `offset` with key `k<offset>`, value `v<offset>`, timestamp `1000 + offset`
/// and one header `h` = `<offset>`.
pub(crate) fn record(offset: i64) -> Record {
    let mut headers = IndexMap::new();
    headers.insert(
        StrBytes::from_static_str("h"),
        Some(Bytes::from(offset.to_string())),
    );
    headers.insert(StrBytes::from_static_str("null-valued"), None);
    Record {
        transactional: false,
        control: false,
        delete_horizon: false,
        partition_leader_epoch: -1,
        producer_id: -1,
        producer_epoch: -1,
        timestamp_type: TimestampType::Creation,
        offset,
        // kafka-protocol's encoder starts a new batch whenever offset - sequence changes; the base
        // sequence is reset to -1 after encoding (see `encode`).
        sequence: offset as i32,
        timestamp: 1000 + offset * 7,
        key: Some(Bytes::from(format!("k{offset}"))),
        value: Some(Bytes::from(format!("v{offset}"))),
        headers,
    }
}

/// One batch of `records` (offsets as given: gaps stay gaps).
pub(crate) fn encode(records: &[Record], compression: Compression) -> Bytes {
    let mut buf = BytesMut::new();
    RecordBatchEncoder::encode(
        &mut buf,
        records,
        &RecordEncodeOptions {
            version: 2,
            compression,
        },
    )
    .expect("encode batch");
    let mut b = buf.to_vec();
    let header = weft_log::batch::BatchHeader::parse(&b).expect("encoded header");
    assert_eq!(
        header.total_size(),
        b.len(),
        "the records must fit one batch"
    );
    if header.producer_id < 0 {
        b[layout::BASE_SEQUENCE..layout::BASE_SEQUENCE + 4].copy_from_slice(&(-1i32).to_be_bytes());
        layout::write_crc(&mut b);
    }
    Bytes::from(b)
}

/// One batch of the records at `offsets`.
pub(crate) fn batch(offsets: &[i64], compression: Compression) -> Bytes {
    let records: Vec<Record> = offsets.iter().map(|&o| record(o)).collect();
    encode(&records, compression)
}

/// `batch` with its header field at `pos` overwritten by `bytes` and the CRC recomputed.
pub(crate) fn patch(batch: &Bytes, pos: usize, bytes: &[u8]) -> Bytes {
    let mut b = batch.to_vec();
    b[pos..pos + bytes.len()].copy_from_slice(bytes);
    if pos >= layout::ATTRIBUTES {
        layout::write_crc(&mut b);
    }
    Bytes::from(b)
}

/// The records of one whole batch, decoded by kafka-protocol (which checks its CRC).
pub(crate) fn decode(batch: &Bytes) -> Vec<Record> {
    let mut b = batch.clone();
    let set = RecordBatchDecoder::decode(&mut b).expect("decode batch");
    assert!(b.is_empty(), "bytes after the batch");
    set.records
}
