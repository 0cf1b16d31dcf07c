//! Transaction markers: Kafka's control batch that ends a producer's transaction in a partition
//! (`MemoryRecords.withEndTransactionMarker`), and reading one back.
//!
//! The batch has the transactional and control attributes, the producer's id and epoch, base sequence
//! -1, and one record whose key is `ControlRecordType` (version i16 = 0, type i16: 0 ABORT, 1 COMMIT)
//! and whose value is `EndTransactionMarker` (version i16 = 0, coordinatorEpoch i32).

use crate::batch::{self, BatchHeader, CONTROL_BIT, HEADER_LEN, LOG_OVERHEAD, TRANSACTIONAL_BIT};
use crate::error::Result;
use crate::producer_state::MarkerInfo;
use crate::record::{DecodeLimits, RecordStream};

/// A commit or abort marker the transaction coordinator writes to a partition of a transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TxnMarker {
    pub producer_id: i64,
    pub producer_epoch: i16,
    pub coordinator_epoch: i32,
    /// COMMIT (true) or ABORT (false).
    pub commit: bool,
}

/// `ControlRecordType` of an ABORT marker.
pub const CONTROL_TYPE_ABORT: i16 = 0;
/// `ControlRecordType` of a COMMIT marker.
pub const CONTROL_TYPE_COMMIT: i16 = 1;

/// The record: length 16 as a zigzag varint (32), attributes 0, timestamp delta 0, offset delta 0,
/// key length 4 (8), key, value length 6 (12), value, header count 0.
const RECORD_LEN: usize = 17;
/// Size of a marker batch.
pub(crate) const MARKER_BATCH_LEN: usize = HEADER_LEN + RECORD_LEN;

/// Encodes the control batch of `m` at `base_offset` with `timestamp` (leader epoch as given).
pub(crate) fn encode(
    m: &TxnMarker,
    base_offset: i64,
    leader_epoch: i32,
    timestamp: i64,
) -> Vec<u8> {
    let mut b = vec![0u8; MARKER_BATCH_LEN];
    batch::put_i64(&mut b, 0, base_offset);
    batch::put_i32(&mut b, 8, (MARKER_BATCH_LEN - LOG_OVERHEAD) as i32);
    batch::put_i32(&mut b, 12, leader_epoch);
    b[16] = batch::MAGIC_V2 as u8;
    batch::put_i16(&mut b, 21, TRANSACTIONAL_BIT | CONTROL_BIT);
    batch::put_i32(&mut b, 23, 0);
    batch::put_i64(&mut b, 27, timestamp);
    batch::put_i64(&mut b, 35, timestamp);
    batch::put_i64(&mut b, 43, m.producer_id);
    batch::put_i16(&mut b, 51, m.producer_epoch);
    batch::put_i32(&mut b, 53, -1);
    batch::put_i32(&mut b, 57, 1);
    let kind = if m.commit {
        CONTROL_TYPE_COMMIT
    } else {
        CONTROL_TYPE_ABORT
    };
    let r = &mut b[HEADER_LEN..];
    r[0] = 32; // record length 16
    r[1] = 0; // attributes
    r[2] = 0; // timestamp delta
    r[3] = 0; // offset delta
    r[4] = 8; // key length 4
    r[5..7].copy_from_slice(&0i16.to_be_bytes());
    r[7..9].copy_from_slice(&kind.to_be_bytes());
    r[9] = 12; // value length 6
    r[10..12].copy_from_slice(&0i16.to_be_bytes());
    r[12..16].copy_from_slice(&m.coordinator_epoch.to_be_bytes());
    r[16] = 0; // header count
    let crc = batch::compute_crc(&b);
    batch::put_u32(&mut b, batch::CRC_POS, crc);
    b
}

/// A control record's key and value: `Ok(None)` for a control type other than COMMIT/ABORT (Kafka
/// skips those), `Err` naming what is malformed.
pub fn decode_control_record(
    key: Option<&[u8]>,
    value: Option<&[u8]>,
) -> std::result::Result<Option<MarkerInfo>, String> {
    let key = key.ok_or("control record without a key")?;
    if key.len() < 4 {
        return Err(format!("control record key of {} bytes", key.len()));
    }
    let version = i16::from_be_bytes([key[0], key[1]]);
    if version != 0 {
        return Err(format!("control record key version {version}"));
    }
    let kind = i16::from_be_bytes([key[2], key[3]]);
    let commit = match kind {
        CONTROL_TYPE_COMMIT => true,
        CONTROL_TYPE_ABORT => false,
        _ => return Ok(None),
    };
    let value = value.ok_or("transaction marker without a value")?;
    if value.len() < 6 {
        return Err(format!("transaction marker value of {} bytes", value.len()));
    }
    let version = i16::from_be_bytes([value[0], value[1]]);
    if version < 0 {
        return Err(format!("transaction marker version {version}"));
    }
    Ok(Some(MarkerInfo {
        commit,
        coordinator_epoch: i32::from_be_bytes([value[2], value[3], value[4], value[5]]),
    }))
}

/// The marker of a stored control batch (its first record); `None` for an empty control batch
/// (compaction removed the record) or one that is not a transaction marker.
pub(crate) fn read_marker(batch_bytes: &[u8], header: &BatchHeader) -> Result<Option<MarkerInfo>> {
    let limits = DecodeLimits::for_batch(header, 1 << 20);
    let mut records = RecordStream::open(batch_bytes, header, limits)?;
    let Some(r) = records.next_record()? else {
        return Ok(None);
    };
    decode_control_record(r.key, r.value).map_err(crate::LogError::CorruptBatch)
}

#[cfg(test)]
mod tests {
    use super::*;
    use kafka_protocol::records::RecordBatchDecoder;

    #[test]
    fn marker_batches_decode_with_an_independent_decoder() {
        let m = TxnMarker {
            producer_id: 42,
            producer_epoch: 3,
            coordinator_epoch: 7,
            commit: false,
        };
        let b = encode(&m, 100, -1, 1_700_000_000_000);
        let h = batch::BatchHeader::parse(&b).unwrap();
        batch::check_batch_crc(&h, &b).unwrap();
        assert!(h.is_control() && h.is_transactional());
        assert_eq!(
            (h.base_offset, h.last_offset(), h.records_count),
            (100, 100, 1)
        );
        assert_eq!(
            (h.producer_id, h.producer_epoch, h.base_sequence),
            (42, 3, -1)
        );
        let mut bytes = bytes::Bytes::from(b.clone());
        let set = RecordBatchDecoder::decode(&mut bytes).unwrap();
        let r = &set.records[0];
        assert!(r.control && r.transactional);
        assert_eq!(r.key.as_deref(), Some(&[0u8, 0, 0, 0][..]));
        assert_eq!(r.value.as_deref(), Some(&[0u8, 0, 0, 0, 0, 7][..]));
        assert_eq!(
            read_marker(&b, &h).unwrap(),
            Some(MarkerInfo {
                commit: false,
                coordinator_epoch: 7
            })
        );
        let c = encode(&TxnMarker { commit: true, ..m }, 0, -1, 0);
        let h = batch::BatchHeader::parse(&c).unwrap();
        assert!(read_marker(&c, &h).unwrap().unwrap().commit);
    }
}
