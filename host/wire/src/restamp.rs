//! Prepares a fetched batch for appending to another cluster: a copy with the header fields that
//! belonged to the source cluster reset, the records section untouched (still compressed).

use bytes::{Bytes, BytesMut};
use weft_log::batch::{check_batch_crc, BatchHeader};

use crate::layout;

/// A copy of the one whole v2 batch `batch` with base offset 0, partition leader epoch -1, no
/// producer (id -1, epoch -1, base sequence -1), the transactional bit cleared, and a new CRC-32C.
/// The source CRC is checked first, so a batch damaged in transit is refused rather than given a
/// fresh, valid CRC. The batch must have records with offset deltas 0..n-1 (as every
/// [`crate::FetchedBatch`] has): the target assigns offsets from the deltas.
pub(crate) fn restamp(batch: &[u8]) -> Result<Bytes, String> {
    let header = BatchHeader::parse(batch).map_err(|e| e.to_string())?;
    if header.total_size() != batch.len() {
        return Err(format!(
            "expected one whole batch: its header says {} bytes, {} were given",
            header.total_size(),
            batch.len()
        ));
    }
    check_batch_crc(&header, batch).map_err(|e| e.to_string())?;
    if header.is_control() {
        return Err("control batches cannot be appended".to_string());
    }
    if header.records_count <= 0 || header.last_offset_delta != header.records_count - 1 {
        return Err(format!(
            "records must have offset deltas 0..n-1 (count {}, last offset delta {})",
            header.records_count, header.last_offset_delta
        ));
    }
    let mut b = BytesMut::from(batch);
    b[layout::BASE_OFFSET..layout::BASE_OFFSET + 8].copy_from_slice(&0i64.to_be_bytes());
    b[layout::LEADER_EPOCH..layout::LEADER_EPOCH + 4].copy_from_slice(&(-1i32).to_be_bytes());
    let attributes = header.attributes & !layout::TRANSACTIONAL_BIT;
    b[layout::ATTRIBUTES..layout::ATTRIBUTES + 2].copy_from_slice(&attributes.to_be_bytes());
    b[layout::PRODUCER_ID..layout::PRODUCER_ID + 8].copy_from_slice(&(-1i64).to_be_bytes());
    b[layout::PRODUCER_EPOCH..layout::PRODUCER_EPOCH + 2].copy_from_slice(&(-1i16).to_be_bytes());
    b[layout::BASE_SEQUENCE..layout::BASE_SEQUENCE + 4].copy_from_slice(&(-1i32).to_be_bytes());
    layout::write_crc(&mut b);
    Ok(b.freeze())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{batch, encode, record};
    use kafka_protocol::records::Compression;

    #[test]
    fn restamped_batches_validate_and_keep_their_records_section() {
        let mut records: Vec<_> = (500..504).map(record).collect();
        for r in &mut records {
            r.transactional = true;
            r.producer_id = 42;
            r.producer_epoch = 3;
            r.sequence = (r.offset - 500) as i32 + 10;
            r.partition_leader_epoch = 9;
        }
        let original = encode(&records, Compression::Gzip);
        let before = BatchHeader::parse(&original).unwrap();
        assert!(before.is_transactional());
        let out = restamp(&original).unwrap();
        let h = BatchHeader::parse(&out).unwrap();
        check_batch_crc(&h, &out).expect("the new CRC validates");
        weft_log::batch::validate(&out).expect("acceptable to a broker");
        assert_eq!(h.base_offset, 0);
        assert_eq!(h.partition_leader_epoch, -1);
        assert_eq!(
            (h.producer_id, h.producer_epoch, h.base_sequence),
            (-1, -1, -1)
        );
        assert!(!h.is_transactional());
        assert_eq!(h.compression(), Compression::Gzip);
        assert_eq!(h.attributes, before.attributes & !layout::TRANSACTIONAL_BIT);
        assert_eq!(h.batch_length, before.batch_length);
        assert_eq!(h.last_offset_delta, before.last_offset_delta);
        assert_eq!(h.records_count, before.records_count);
        assert_eq!(h.base_timestamp, before.base_timestamp);
        assert_eq!(h.max_timestamp, before.max_timestamp);
        assert_eq!(&out[61..], &original[61..], "records section untouched");
    }

    #[test]
    fn refuses_what_it_must_not_launder() {
        let good = batch(&[0, 1], Compression::Zstd);
        let mut bad_crc = good.to_vec();
        let last = bad_crc.len() - 1;
        bad_crc[last] ^= 1;
        assert!(
            restamp(&bad_crc).is_err(),
            "a damaged batch gets no fresh CRC"
        );
        assert!(restamp(&good[..good.len() - 1]).is_err(), "partial batch");
        let mut two = good.to_vec();
        two.extend_from_slice(&good);
        assert!(restamp(&two).is_err(), "two batches");
        let gap = batch(&[0, 2], Compression::None);
        assert!(restamp(&gap).is_err(), "offset deltas with a gap");
        let mut control = record(0);
        control.control = true;
        control.transactional = true;
        control.producer_id = 1;
        assert!(restamp(&encode(&[control], Compression::None)).is_err());
        assert!(restamp(&[0u8; 10]).is_err());
    }
}
