//! Turns one partition's fetched `records` bytes into [`FetchedBatch`]es that can be appended
//! elsewhere unchanged: whole v2 batches of user records with offset deltas exactly 0..n-1 and
//! CreateTime timestamps. Batches that already are (almost all of them) are handed out as slices of
//! the response, compression untouched; the others (gaps left by compaction, LogAppendTime, a batch
//! that starts before the fetch offset) are decoded and re-encoded uncompressed, one batch per run of
//! consecutive offsets.

use std::collections::HashSet;
use std::sync::Arc;

use bytes::Bytes;
use weft_log::batch::{batches, check_batch_crc, BatchHeader};
use weft_log::record::{DecodeLimits, RecordStream};

use crate::encode::{RecordParts, RunEncoder};
use crate::error::WireError;
use crate::fetcher::FetchedBatch;
use crate::layout::TIMESTAMP_TYPE_BIT;

/// A re-encoded batch is closed at this size and the run continues in a new one, so a large
/// compressed batch does not become one uncompressed batch over the target's `max.message.bytes`
/// (1 MiB by default).
const MAX_REENCODED_BATCH: usize = 900 * 1024;
/// Largest single record decoded (the `max.message.bytes` bound of [`DecodeLimits::for_batch`]).
const MAX_RECORD_BYTES: u32 = 1 << 20;

/// One partition's part of a fetch response.
pub(crate) struct PartitionRecords<'a> {
    pub topic: &'a Arc<str>,
    pub partition: i32,
    pub records: &'a Bytes,
    /// The offset asked for: nothing below it is handed out.
    pub fetch_offset: i64,
    /// read_committed: the response's aborted transactions as (producer id, first offset), whose
    /// batches are dropped. `None` for read_uncommitted.
    pub aborted: Option<&'a [(i64, i64)]>,
}

/// What a partition's records yielded.
#[derive(Debug, Default)]
pub(crate) struct Normalised {
    pub batches: Vec<FetchedBatch>,
    /// Where the next fetch starts: after the last whole batch looked at (handed out or skipped).
    pub next_offset: i64,
    /// Batches that could not be used (CRC, decoding); they were skipped. A header that cannot even
    /// be parsed stops the partition at that batch instead (nothing tells where the next starts).
    pub errors: Vec<WireError>,
}

/// Splits and normalises `p.records`; see the module documentation.
pub(crate) fn normalise(p: &PartitionRecords<'_>) -> Normalised {
    let mut out = Normalised {
        next_offset: p.fetch_offset,
        ..Normalised::default()
    };
    let mut aborted: Vec<(i64, i64)> = p.aborted.map(<[_]>::to_vec).unwrap_or_default();
    aborted.sort_by_key(|&(_, first)| first);
    let mut aborted = aborted.into_iter().peekable();
    let mut aborting: HashSet<i64> = HashSet::new();
    let mut pos = 0usize;
    for item in batches(p.records) {
        let (h, raw) = match item {
            Ok(x) => x,
            Err(e) => {
                out.errors.push(corrupt(p, out.next_offset, e.to_string()));
                break;
            }
        };
        let start = pos;
        pos += raw.len();
        let last = h.last_offset();
        if last < out.next_offset {
            continue;
        }
        let from = out.next_offset;
        out.next_offset = last.saturating_add(1);
        if let Err(e) = check_batch_crc(&h, raw) {
            out.errors.push(corrupt(p, h.base_offset, e.to_string()));
            continue;
        }
        if p.aborted.is_some() {
            while let Some((producer, _)) = aborted.next_if(|&(_, first)| first <= last) {
                aborting.insert(producer);
            }
            if h.is_control() {
                // The marker ends the producer's transaction in this partition.
                aborting.remove(&h.producer_id);
                continue;
            }
            if h.is_transactional() && aborting.contains(&h.producer_id) {
                continue;
            }
        }
        if h.is_control() || h.records_count <= 0 {
            continue;
        }
        if is_normal(&h) && h.base_offset >= from {
            out.batches.push(FetchedBatch {
                topic: p.topic.clone(),
                partition: p.partition,
                base_offset: h.base_offset,
                last_offset: last,
                records: h.records_count as u32,
                bytes: p.records.slice(start..pos),
            });
            continue;
        }
        match reencode(p, &h, raw, from) {
            Ok(mut runs) => out.batches.append(&mut runs),
            Err(e) => out.errors.push(e),
        }
    }
    out
}

/// Whether a batch can be appended as it is: magic 2 (checked by the parser), user records,
/// CreateTime, and offset deltas exactly 0..n-1 (deltas strictly increase within a batch, so a last
/// delta of count - 1 leaves no room for a gap).
fn is_normal(h: &BatchHeader) -> bool {
    !h.is_control()
        && h.attributes & TIMESTAMP_TYPE_BIT == 0
        && h.records_count > 0
        && h.last_offset_delta == h.records_count - 1
}

/// Decodes the records of `raw` at or after `from` and writes them as uncompressed batches, one per
/// run of consecutive offsets. All or nothing: a record that fails to decode drops the whole batch.
fn reencode(
    p: &PartitionRecords<'_>,
    h: &BatchHeader,
    raw: &[u8],
    from: i64,
) -> Result<Vec<FetchedBatch>, WireError> {
    let fail = |reason: String| corrupt(p, h.base_offset, reason);
    let mut stream = RecordStream::open(raw, h, DecodeLimits::for_batch(h, MAX_RECORD_BYTES))
        .map_err(|e| fail(e.to_string()))?;
    let mut done = Vec::new();
    let mut run: Option<RunEncoder> = None;
    let mut previous: Option<i64> = None;
    while let Some(r) = stream.next_record().map_err(|e| fail(e.to_string()))? {
        let offset = r.offset(h);
        if previous.is_some_and(|prev| offset <= prev) || offset > h.last_offset() {
            return Err(fail(format!(
                "record offset {offset} is out of order or past the batch's last offset {}",
                h.last_offset()
            )));
        }
        previous = Some(offset);
        if offset < from {
            continue;
        }
        let parts = RecordParts {
            timestamp: r.timestamp(h),
            key: r.key,
            value: r.value,
            header_count: r.header_count,
            headers: r.headers,
        };
        if let Some(cur) = run.take() {
            if cur.next_offset() == offset && cur.len() < MAX_REENCODED_BATCH {
                run = Some(cur);
            } else {
                done.push(finish(p, cur));
            }
        }
        run.get_or_insert_with(|| RunEncoder::new(offset, parts.timestamp))
            .push(&parts);
    }
    if let Some(cur) = run {
        done.push(finish(p, cur));
    }
    Ok(done)
}

fn finish(p: &PartitionRecords<'_>, run: RunEncoder) -> FetchedBatch {
    let base_offset = run.base_offset();
    let count = run.count();
    FetchedBatch {
        topic: p.topic.clone(),
        partition: p.partition,
        base_offset,
        last_offset: base_offset + i64::from(count) - 1,
        records: count as u32,
        bytes: run.finish(),
    }
}

fn corrupt(p: &PartitionRecords<'_>, offset: i64, reason: String) -> WireError {
    WireError::Corrupt {
        topic: p.topic.to_string(),
        partition: p.partition,
        offset,
        reason,
    }
}

#[cfg(test)]
mod tests;
