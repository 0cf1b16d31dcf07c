//! Encodes a Fetch response frame as a list of chunks: framing and header bytes in small buffers, and
//! each partition's records as the `Bytes` the log returned or as the region of a segment file that
//! holds them, so stored batches reach the socket (vectored write, or `sendfile`) without being
//! copied into an encode buffer.
//!
//! The byte layout is exactly kafka-protocol's (a unit test compares the two for every version); a
//! response using a field this encoder does not write (tagged fields, node endpoints) falls back to
//! kafka-protocol's encoder, with any file regions read into memory first.

use bytes::{BufMut, Bytes, BytesMut};
use kafka_protocol::messages::fetch_response::{FetchableTopicResponse, PartitionData};
use kafka_protocol::messages::{FetchResponse, ResponseHeader};
use kafka_protocol::protocol::Encodable;
use weft_log::FileRegion;

use crate::chunk::Chunk;

/// Per topic of a response, per partition in its order: the file region carrying its records.
pub type Regions = [Vec<Option<FileRegion>>];

/// Why a response could not be encoded.
#[derive(Debug, thiserror::Error)]
#[error("cannot encode Fetch v{version} response: {reason}")]
pub struct EncodeError {
    version: i16,
    reason: String,
}

fn put_uvarint(buf: &mut BytesMut, mut v: u32) {
    while v >= 0x80 {
        buf.put_u8((v as u8) | 0x80);
        v >>= 7;
    }
    buf.put_u8(v as u8);
}

/// An array length: compact (n+1, 0 = null) from v12, else i32 (-1 = null).
fn put_len(buf: &mut BytesMut, flexible: bool, len: Option<usize>) -> Result<(), String> {
    let n = match len {
        Some(n) => Some(u32::try_from(n).map_err(|_| format!("{n} entries is too many"))?),
        None => None,
    };
    if flexible {
        put_uvarint(buf, n.map_or(0, |n| n.saturating_add(1)));
    } else {
        let n = match n {
            Some(n) => i32::try_from(n).map_err(|_| format!("{n} entries is too many"))?,
            None => -1,
        };
        buf.put_i32(n);
    }
    Ok(())
}

/// Whether the chunked encoder writes every field `resp` sets.
fn supported(resp: &FetchResponse) -> bool {
    resp.unknown_tagged_fields.is_empty()
        && resp.node_endpoints.is_empty()
        && resp.responses.iter().all(|t| {
            t.unknown_tagged_fields.is_empty()
                && t.partitions.iter().all(|p| {
                    p.unknown_tagged_fields.is_empty()
                        && p.diverging_epoch == Default::default()
                        && p.current_leader == Default::default()
                        && p.snapshot_id == Default::default()
                        && p.aborted_transactions
                            .iter()
                            .flatten()
                            .all(|a| a.unknown_tagged_fields.is_empty())
                })
        })
}

/// `length | header | body` as chunks whose concatenation is the frame. A partition with a region in
/// `regions` has its records there (its `records` field is empty).
pub fn encode(
    correlation_id: i32,
    header_version: i16,
    resp: &FetchResponse,
    regions: &Regions,
    version: i16,
) -> Result<Vec<Chunk>, EncodeError> {
    let err = |reason: String| EncodeError { version, reason };
    let mut buf = BytesMut::with_capacity(256);
    ResponseHeader::default()
        .with_correlation_id(correlation_id)
        .encode(&mut buf, header_version)
        .map_err(|e| err(e.to_string()))?;
    let mut chunks = vec![Chunk::Bytes(Bytes::new())];
    if !supported(resp) || !(4..=18).contains(&version) {
        with_regions_read(resp, regions)
            .map_err(|e| err(format!("reading stored batches: {e}")))?
            .encode(&mut buf, version)
            .map_err(|e| err(e.to_string()))?;
        chunks.push(buf.freeze().into());
    } else {
        body(&mut buf, &mut chunks, resp, regions, version).map_err(err)?;
        if !buf.is_empty() {
            chunks.push(buf.freeze().into());
        }
    }
    let len: usize = chunks.iter().map(Chunk::len).sum();
    let len = i32::try_from(len).map_err(|_| err(format!("{len} bytes is too large a frame")))?;
    chunks[0] = Bytes::copy_from_slice(&len.to_be_bytes()).into();
    Ok(chunks)
}

/// `resp` with every region's records read into memory, for kafka-protocol's encoder. Not reached by
/// what the broker answers today (Fetch v0–v3 are not served, and Fetch sets none of the fields the
/// chunked encoder lacks); it keeps the fallback correct if either changes. Regions were checked to
/// be in the page cache, so this copies from memory.
fn with_regions_read<'a>(
    resp: &'a FetchResponse,
    regions: &Regions,
) -> std::io::Result<std::borrow::Cow<'a, FetchResponse>> {
    if regions.iter().flatten().all(Option::is_none) {
        return Ok(std::borrow::Cow::Borrowed(resp));
    }
    let mut resp = resp.clone();
    for (t, rs) in resp.responses.iter_mut().zip(regions) {
        for (p, r) in t.partitions.iter_mut().zip(rs) {
            if let Some(r) = r {
                p.records = Some(r.read()?);
            }
        }
    }
    Ok(std::borrow::Cow::Owned(resp))
}

fn body(
    buf: &mut BytesMut,
    chunks: &mut Vec<Chunk>,
    resp: &FetchResponse,
    regions: &Regions,
    version: i16,
) -> Result<(), String> {
    let flexible = version >= 12;
    buf.put_i32(resp.throttle_time_ms);
    if version >= 7 {
        buf.put_i16(resp.error_code);
        buf.put_i32(resp.session_id);
    } else if resp.session_id != 0 {
        return Err("session id is not available before v7".into());
    }
    put_len(buf, flexible, Some(resp.responses.len()))?;
    for (i, t) in resp.responses.iter().enumerate() {
        topic(
            buf,
            chunks,
            t,
            regions.get(i).map_or(&[][..], Vec::as_slice),
            version,
        )?;
    }
    if flexible {
        put_uvarint(buf, 0);
    }
    Ok(())
}

fn topic(
    buf: &mut BytesMut,
    chunks: &mut Vec<Chunk>,
    t: &FetchableTopicResponse,
    regions: &[Option<FileRegion>],
    version: i16,
) -> Result<(), String> {
    let flexible = version >= 12;
    if version <= 12 {
        let name = t.topic.as_bytes();
        if flexible {
            let n = u32::try_from(name.len()).map_err(|_| "topic name too long".to_string())?;
            put_uvarint(buf, n + 1);
        } else {
            let n = i16::try_from(name.len()).map_err(|_| "topic name too long".to_string())?;
            buf.put_i16(n);
        }
        buf.put_slice(name);
    }
    if version >= 13 {
        buf.put_slice(t.topic_id.as_bytes());
    }
    put_len(buf, flexible, Some(t.partitions.len()))?;
    for (i, p) in t.partitions.iter().enumerate() {
        let region = regions.get(i).and_then(Option::as_ref);
        partition(buf, chunks, p, region, version)?;
    }
    if flexible {
        put_uvarint(buf, 0);
    }
    Ok(())
}

fn partition(
    buf: &mut BytesMut,
    chunks: &mut Vec<Chunk>,
    p: &PartitionData,
    region: Option<&FileRegion>,
    version: i16,
) -> Result<(), String> {
    let flexible = version >= 12;
    buf.put_i32(p.partition_index);
    buf.put_i16(p.error_code);
    buf.put_i64(p.high_watermark);
    buf.put_i64(p.last_stable_offset);
    if version >= 5 {
        buf.put_i64(p.log_start_offset);
    }
    put_len(
        buf,
        flexible,
        p.aborted_transactions.as_ref().map(|a| a.len()),
    )?;
    for a in p.aborted_transactions.iter().flatten() {
        buf.put_i64(a.producer_id.0);
        buf.put_i64(a.first_offset);
        if flexible {
            put_uvarint(buf, 0);
        }
    }
    if version >= 11 {
        buf.put_i32(p.preferred_read_replica.0);
    } else if p.preferred_read_replica.0 != -1 {
        return Err("preferred read replica is not available before v11".into());
    }
    let records = match region {
        Some(r) => Some(Chunk::File(r.clone())),
        None => p.records.clone().map(Chunk::Bytes),
    };
    match records {
        None if flexible => put_uvarint(buf, 0),
        None => buf.put_i32(-1),
        Some(records) => {
            if flexible {
                let n = u32::try_from(records.len())
                    .ok()
                    .and_then(|n| n.checked_add(1))
                    .ok_or_else(|| "records too large".to_string())?;
                put_uvarint(buf, n);
            } else {
                let n =
                    i32::try_from(records.len()).map_err(|_| "records too large".to_string())?;
                buf.put_i32(n);
            }
            if !records.is_empty() {
                // The stored batches go out as they are: the header so far, then the records.
                chunks.push(buf.split().freeze().into());
                chunks.push(records);
            }
        }
    }
    if flexible {
        put_uvarint(buf, 0);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use kafka_protocol::messages::fetch_response::AbortedTransaction;
    use kafka_protocol::messages::{ApiKey, BrokerId, TopicName};
    use kafka_protocol::protocol::StrBytes;

    fn sample(version: i16) -> FetchResponse {
        let part = |i: i32, records: Option<Bytes>| {
            PartitionData::default()
                .with_partition_index(i)
                .with_error_code(if i == 2 { 1 } else { 0 })
                .with_high_watermark(100 + i as i64)
                .with_last_stable_offset(90)
                .with_log_start_offset(if version >= 5 { 3 } else { -1 })
                .with_preferred_read_replica(BrokerId(-1))
                .with_aborted_transactions(if i == 0 {
                    Some(vec![AbortedTransaction::default()
                        .with_producer_id(kafka_protocol::messages::ProducerId(7))
                        .with_first_offset(8)])
                } else if i == 1 {
                    Some(Vec::new())
                } else {
                    None
                })
                .with_records(records)
        };
        let topic = |name: &str, n: u8| {
            FetchableTopicResponse::default()
                .with_topic(if version <= 12 {
                    TopicName(StrBytes::from_string(name.to_string()))
                } else {
                    TopicName::default()
                })
                .with_topic_id(if version >= 13 {
                    uuid::Uuid::from_bytes([n; 16])
                } else {
                    uuid::Uuid::nil()
                })
                .with_partitions(vec![
                    part(0, Some(Bytes::from(vec![n; 300]))),
                    part(1, Some(Bytes::new())),
                    part(2, None),
                    part(3, Some(Bytes::from(vec![n + 1; 5]))),
                ])
        };
        FetchResponse::default()
            .with_throttle_time_ms(5)
            .with_responses(vec![topic("a", 1), topic("bb", 2)])
    }

    #[test]
    fn chunks_match_kafka_protocol_for_every_version() {
        let range = ApiKey::Fetch.valid_versions();
        for version in range.min..=range.max {
            let resp = sample(version);
            let hv = ApiKey::Fetch.response_header_version(version);
            let chunks = encode(42, hv, &resp, &[], version).unwrap();
            let mut expected = BytesMut::new();
            expected.put_i32(0);
            ResponseHeader::default()
                .with_correlation_id(42)
                .encode(&mut expected, hv)
                .unwrap();
            resp.encode(&mut expected, version).unwrap();
            let len = (expected.len() - 4) as i32;
            expected[0..4].copy_from_slice(&len.to_be_bytes());
            let got = crate::chunk::concat(&chunks).unwrap();
            assert_eq!(got, expected.to_vec(), "Fetch v{version}");
            // Record bytes are passed through, not copied: a chunk is exactly the 300-byte batch.
            assert!(chunks.iter().any(|c| c.len() == 300), "v{version}");
        }
    }

    #[test]
    fn a_file_region_encodes_as_its_records_would() {
        let tmp = tempfile::tempdir().unwrap();
        let (mut log, _) = weft_log::Log::open(tmp.path(), Default::default()).unwrap();
        log.append(&super::super::fetch::tests::one_batch(), 0, 0)
            .unwrap();
        let region = log.read_region(0, 1 << 20).unwrap().region.unwrap();
        let stored = log.read(0, 1 << 20).unwrap().records;
        let range = ApiKey::Fetch.valid_versions();
        for version in range.min..=range.max {
            let hv = ApiKey::Fetch.response_header_version(version);
            // Partition 1 of topic "a" carries its records in the file region.
            let mut with_region = sample(version);
            with_region.responses[0].partitions[1].records = Some(Bytes::new());
            let regions = vec![vec![None, Some(region.clone()), None, None]];
            let chunks = encode(7, hv, &with_region, &regions, version).unwrap();
            let mut in_memory = sample(version);
            in_memory.responses[0].partitions[1].records = Some(stored.clone());
            let expected =
                crate::chunk::concat(&encode(7, hv, &in_memory, &[], version).unwrap()).unwrap();
            assert_eq!(
                crate::chunk::concat(&chunks).unwrap(),
                expected,
                "v{version}"
            );
            let files = chunks
                .iter()
                .filter(|c| matches!(c, Chunk::File(_)))
                .count();
            assert_eq!(
                files,
                usize::from((4..=18).contains(&version)),
                "v{version}"
            );
        }
    }
}
