//! Fetch: returns stored batches as they are, long-polling up to max.wait.ms for min.bytes.
//!
//! Size rules (KIP-74): per partition at most partition_max_bytes and in total at most max_bytes, both
//! clamped to the broker's `fetch.max.bytes`, except that the first non-empty partition always returns
//! at least one whole batch so a large batch can't stall a consumer. There are no fetch sessions:
//! every response has session id 0, which tells clients to send full fetch requests.
//!
//! Reads are positioned reads of at most the partition's budget, run on a blocking thread (one per
//! pass over the request's partitions), so an async worker never waits for a partition lock or the
//! disk. A long poll that wakes re-reads only partitions that had nothing yet and whose log end
//! offset moved since; data already read is kept, not read again. The response is encoded as chunks
//! (see [`super::fetch_response`]) so the stored bytes are written to the socket without a copy.
//!
//! A read_uncommitted read is not even read: the log names the batches as a region of a segment
//! file, and when the region is 64 KiB or more and the page cache holds all of it (checked here, on
//! the blocking thread) the connection sends it with `sendfile`. A smaller region is read here. A region not in memory is read here instead, so the async
//! worker that writes the response never waits for the disk. read_committed reads do the same unless
//! their batches reach the last stable offset; those are read in memory and cut there.

use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use kafka_protocol::messages::fetch_response::{
    AbortedTransaction, FetchableTopicResponse, PartitionData,
};
use kafka_protocol::messages::{BrokerId, FetchRequest, FetchResponse, ProducerId};

use super::Ctx;
use weft_log::{AbortedTxn, FileRegion, ReadResult, RegionRead};

use crate::error::code;
use crate::partition::{Partition, PartitionError};

/// Upper bound on max.wait.ms, so a bad client cannot park a connection for hours.
const MAX_WAIT_CAP_MS: i32 = 30_000;

/// Regions smaller than this are read into memory: copying a few pages costs less than the residency
/// check and a `sendfile` call of their own, and small responses keep going out in one vectored write.
const SENDFILE_MIN_BYTES: usize = 64 << 10;

struct Slot {
    topic_index: usize,
    partition_index: i32,
    partition: Option<Arc<Partition>>,
    fetch_offset: i64,
    max_bytes: usize,
    missing_code: i16,
    /// What this partition answers so far.
    data: Option<PartitionData>,
    /// Data or an error is in `data`: later passes keep it as it is.
    done: bool,
    /// The offset readable up to at the last (empty) read — the log end, or the last stable offset
    /// under read_committed: no need to read again until it moves.
    seen_end: Option<i64>,
    /// The records to send from their file; `data` then holds empty records in their place.
    region: Option<FileRegion>,
}

/// A Fetch response and, per partition, the region of a segment file that carries its records.
pub struct Fetched {
    pub response: FetchResponse,
    /// Per topic of `response`, per partition in its order.
    pub regions: Vec<Vec<Option<FileRegion>>>,
}

/// Stored batches as one read returned them.
enum Stored {
    Memory(Bytes),
    File(FileRegion),
}

impl Stored {
    fn len(&self) -> usize {
        match self {
            Stored::Memory(b) => b.len(),
            Stored::File(r) => r.len(),
        }
    }
}

/// One partition read: its batches and the offsets the response reports.
struct Read {
    stored: Stored,
    log_start_offset: i64,
    log_end_offset: i64,
    aborted: Vec<AbortedTxn>,
}

pub async fn handle(ctx: &Ctx<'_>, req: FetchRequest) -> Fetched {
    let only = |response| Fetched {
        response,
        regions: Vec::new(),
    };
    if req.session_id != 0 || req.session_epoch > 0 {
        return only(FetchResponse::default().with_error_code(code::FETCH_SESSION_ID_NOT_FOUND));
    }
    let fetch_max = ctx.broker.config.fetch_max_bytes as usize;
    let by_id = ctx.version >= 13;
    let mut slots = Vec::new();
    let mut topics_out = Vec::with_capacity(req.topics.len());
    for (ti, ft) in req.topics.iter().enumerate() {
        let topic = if by_id {
            ctx.broker.topics.get_by_id(&ft.topic_id)
        } else {
            ctx.broker.topics.get(ft.topic.as_str())
        };
        for fp in &ft.partitions {
            slots.push(Slot {
                topic_index: ti,
                partition_index: fp.partition,
                partition: topic
                    .as_ref()
                    .and_then(|t| t.partition(fp.partition))
                    .cloned(),
                fetch_offset: fp.fetch_offset,
                max_bytes: (fp.partition_max_bytes.max(0) as usize).min(fetch_max),
                missing_code: if by_id {
                    code::UNKNOWN_TOPIC_ID
                } else {
                    code::UNKNOWN_TOPIC_OR_PARTITION
                },
                data: None,
                done: false,
                seen_end: None,
                region: None,
            });
        }
        topics_out.push(
            FetchableTopicResponse::default()
                .with_topic(ft.topic.clone())
                .with_topic_id(ft.topic_id),
        );
    }

    let max_wait = Duration::from_millis(req.max_wait_ms.clamp(0, MAX_WAIT_CAP_MS) as u64);
    let deadline = tokio::time::Instant::now() + max_wait;
    let min_bytes = req.min_bytes.max(0) as usize;
    let total_max = if req.max_bytes <= 0 {
        fetch_max
    } else {
        (req.max_bytes as usize).min(fetch_max)
    };
    let read_committed = req.isolation_level == 1;
    let mut shutdown = ctx.broker.shutdown_signal();
    let watched: Vec<Arc<Partition>> = slots.iter().filter_map(|s| s.partition.clone()).collect();

    let mut total = 0usize;
    loop {
        // Register for wake-ups before reading so an append between the read and the wait is not missed.
        let mut waits: Vec<Pin<Box<tokio::sync::futures::Notified<'_>>>> =
            watched.iter().map(|p| Box::pin(p.appended())).collect();
        for w in waits.iter_mut() {
            w.as_mut().enable();
        }
        let has_error;
        (slots, total, has_error) = if slots.iter().any(|s| needs_read(s, read_committed)) {
            match tokio::task::spawn_blocking(move || {
                let (t, e) = read_pass(
                    &mut slots,
                    total,
                    total_max,
                    read_committed,
                    SENDFILE_MIN_BYTES,
                );
                (slots, t, e)
            })
            .await
            {
                Ok(r) => r,
                Err(e) => {
                    tracing::error!(error = %e, "fetch read panicked");
                    return only(
                        FetchResponse::default().with_error_code(code::UNKNOWN_SERVER_ERROR),
                    );
                }
            }
        } else {
            (slots, total, false)
        };
        let now = tokio::time::Instant::now();
        if total >= min_bytes
            || has_error
            || now >= deadline
            || waits.is_empty()
            || ctx.broker.is_shutting_down()
        {
            break;
        }
        let _waiting = crate::metrics::FetchWaiting::start();
        tokio::select! {
            _ = futures::future::select_all(waits) => {}
            _ = tokio::time::sleep_until(deadline) => {}
            _ = shutdown.changed() => {}
        }
    }

    let mut regions: Vec<Vec<Option<FileRegion>>> = vec![Vec::new(); topics_out.len()];
    for slot in slots {
        let data = slot.data.unwrap_or_else(|| {
            empty(slot.partition_index, read_committed).with_error_code(slot.missing_code)
        });
        if let (Some(t), Some(r)) = (
            topics_out.get_mut(slot.topic_index),
            regions.get_mut(slot.topic_index),
        ) {
            t.partitions.push(data);
            r.push(slot.region);
        }
    }
    Fetched {
        response: FetchResponse::default().with_responses(topics_out),
        regions,
    }
}

/// A read_uncommitted read: see [`stored`].
fn read_uncommitted(
    p: &Partition,
    offset: i64,
    max_bytes: usize,
    sendfile_min: usize,
) -> Result<Read, PartitionError> {
    let r = p.read_region(offset, max_bytes)?;
    match from_region(r, Vec::new(), sendfile_min) {
        Some(read) => Ok(read),
        None => Ok(in_memory(p.read(offset, max_bytes)?, Vec::new())),
    }
}

/// A read_committed read: as a region when no batch of it reaches the last stable offset, else read
/// in memory and cut there.
fn read_committed(
    p: &Partition,
    offset: i64,
    max_bytes: usize,
    sendfile_min: usize,
) -> Result<Read, PartitionError> {
    if let Some((r, aborted)) = p.read_committed_region(offset, max_bytes)? {
        if let Some(read) = from_region(r, aborted, sendfile_min) {
            return Ok(read);
        }
    }
    let (r, aborted) = p.read_committed(offset, max_bytes)?;
    Ok(in_memory(r, aborted))
}

/// A region read as the response will carry it; `None` as for [`stored`].
fn from_region(r: RegionRead, aborted: Vec<AbortedTxn>, sendfile_min: usize) -> Option<Read> {
    Some(Read {
        stored: stored(r.region, sendfile_min)?,
        log_start_offset: r.log_start_offset,
        log_end_offset: r.log_end_offset,
        aborted,
    })
}

fn in_memory(r: ReadResult, aborted: Vec<AbortedTxn>) -> Read {
    Read {
        stored: Stored::Memory(r.records),
        log_start_offset: r.log_start_offset,
        log_end_offset: r.log_end_offset,
        aborted,
    }
}

/// The batches as a region of their file when it is at least `sendfile_min` bytes and the page cache
/// holds all of it, else read into memory here (on the blocking thread) so the response's writer
/// never waits for the disk. `None` when that read failed: the log judges I/O errors, so the caller's
/// locked read reports it (and takes the directory offline if the disk failed).
fn stored(region: Option<FileRegion>, sendfile_min: usize) -> Option<Stored> {
    match region {
        None => Some(Stored::Memory(Bytes::new())),
        Some(region) if region.len() >= sendfile_min && region.is_resident() => {
            Some(Stored::File(region))
        }
        Some(region) => region.read().ok().map(Stored::Memory),
    }
}

/// How far a fetcher may read: the log end, or the last stable offset under read_committed (a
/// marker moves it without appending data a read_committed fetcher could see before).
fn readable_end(
    p: &Partition,
    read_committed: bool,
) -> Result<i64, crate::partition::PartitionError> {
    let (_, end) = p.offsets()?;
    Ok(if read_committed {
        p.last_stable_offset().min(end)
    } else {
        end
    })
}

/// Whether a pass has to read this slot: it has nothing yet and what it may read moved since the
/// last look.
fn needs_read(slot: &Slot, read_committed: bool) -> bool {
    if slot.done {
        return false;
    }
    match (&slot.partition, slot.seen_end) {
        (Some(p), Some(end)) => match readable_end(p, read_committed) {
            Ok(now_end) => now_end != end,
            // Deleted or offline since: read to report it.
            Err(_) => true,
        },
        _ => true,
    }
}

fn empty(partition_index: i32, read_committed: bool) -> PartitionData {
    PartitionData::default()
        .with_partition_index(partition_index)
        .with_high_watermark(-1)
        .with_last_stable_offset(-1)
        .with_log_start_offset(-1)
        .with_preferred_read_replica(BrokerId(-1))
        .with_aborted_transactions(if read_committed {
            Some(Vec::new())
        } else {
            None
        })
}

/// Reads every slot that needs it once (a blocking thread); returns the new total of record bytes in
/// the response and whether any partition errored.
fn read_pass(
    slots: &mut [Slot],
    mut total: usize,
    total_max: usize,
    read_committed: bool,
    sendfile_min: usize,
) -> (usize, bool) {
    let mut has_error = false;
    for slot in slots.iter_mut() {
        if !needs_read(slot, read_committed) {
            has_error |= slot.done && slot.data.as_ref().is_some_and(|d| d.error_code != 0);
            continue;
        }
        let pd = empty(slot.partition_index, read_committed);
        let Some(p) = &slot.partition else {
            has_error = true;
            slot.data = Some(pd.with_error_code(slot.missing_code));
            slot.done = true;
            continue;
        };
        let budget = total_max.saturating_sub(total).min(slot.max_bytes);
        let first_non_empty = total == 0;
        if budget == 0 && !first_non_empty {
            // The response is full: report the partition's offsets without reading its data.
            slot.data = Some(match p.offsets() {
                Ok((start, end)) => pd
                    .with_high_watermark(end)
                    .with_last_stable_offset(p.last_stable_offset().min(end))
                    .with_log_start_offset(start)
                    .with_records(Some(Bytes::new())),
                Err(e) => {
                    has_error = true;
                    slot.done = true;
                    pd.with_error_code(e.code(slot.missing_code))
                }
            });
            continue;
        }
        // read_uncommitted stays on the plain read: no record or index is decoded on that path.
        let read = if read_committed {
            self::read_committed(p, slot.fetch_offset, budget.max(1), sendfile_min)
        } else {
            read_uncommitted(p, slot.fetch_offset, budget.max(1), sendfile_min)
        };
        slot.data = Some(match read {
            Ok(r) => {
                // The log returns at least one batch; only the first non-empty partition may exceed its budget.
                let stored = if r.stored.len() > budget && !first_non_empty || slot.max_bytes == 0 {
                    Stored::Memory(Bytes::new())
                } else {
                    r.stored
                };
                let len = stored.len();
                total += len;
                slot.done = len > 0;
                let (records, region) = match stored {
                    Stored::Memory(b) => (b, None),
                    Stored::File(region) => (Bytes::new(), Some(region)),
                };
                slot.region = region;
                let aborted = r.aborted;
                let lso = p.last_stable_offset().min(r.log_end_offset);
                slot.seen_end = Some(if read_committed {
                    lso
                } else {
                    r.log_end_offset
                });
                let pd = if read_committed && len > 0 {
                    pd.with_aborted_transactions(Some(
                        aborted
                            .iter()
                            .map(|a| {
                                AbortedTransaction::default()
                                    .with_producer_id(ProducerId(a.producer_id))
                                    .with_first_offset(a.first_offset)
                            })
                            .collect(),
                    ))
                } else {
                    pd
                };
                pd.with_high_watermark(r.log_end_offset)
                    .with_last_stable_offset(lso)
                    .with_log_start_offset(r.log_start_offset)
                    .with_records(Some(records))
            }
            Err(e) => {
                has_error = true;
                slot.done = true;
                let pd = match p.offsets() {
                    Ok((start, end)) => pd
                        .with_high_watermark(end)
                        .with_last_stable_offset(p.last_stable_offset().min(end))
                        .with_log_start_offset(start),
                    Err(_) => pd,
                };
                pd.with_error_code(e.code(slot.missing_code))
            }
        });
    }
    (total, has_error)
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::executor::LogExecutor;
    use crate::log_dir::LogDir;
    use weft_log::{Log, LogConfig};

    fn partition(dir: &std::path::Path, exec: &Arc<LogExecutor>) -> Arc<Partition> {
        let (log, _) = Log::open(dir, LogConfig::default()).unwrap();
        Arc::new(Partition::new(
            Arc::from("t"),
            0,
            log,
            Arc::new(LogDir::new(dir.to_path_buf())),
            exec.clone(),
        ))
    }

    fn slot(p: &Arc<Partition>) -> Slot {
        Slot {
            topic_index: 0,
            partition_index: p.index,
            partition: Some(p.clone()),
            fetch_offset: 0,
            max_bytes: 1 << 20,
            missing_code: code::UNKNOWN_TOPIC_OR_PARTITION,
            data: None,
            done: false,
            seen_end: None,
            region: None,
        }
    }

    /// The records a slot answers with, read in from its file region if it has one.
    fn records(s: &Slot) -> Vec<u8> {
        match &s.region {
            Some(r) => r.read().unwrap().to_vec(),
            None => s.data.as_ref().unwrap().records.clone().unwrap().to_vec(),
        }
    }

    fn bytes_out(p: &Partition) -> u64 {
        p.stats()
            .bytes_out
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// One small stored-format batch (an offset commit's).
    pub(in crate::handlers) fn one_batch() -> Bytes {
        let c = crate::groups::Committed {
            offset: 1,
            leader_epoch: -1,
            metadata: String::new(),
            commit_ts: 0,
            log_offset: -1,
        };
        crate::groups::offsets::encode_batch("g", &[("t", 0, Some(&c))], 0).unwrap()
    }

    #[test]
    fn a_woken_long_poll_reads_only_partitions_that_were_empty_and_moved() {
        let tmp = tempfile::tempdir().unwrap();
        let exec = LogExecutor::start(1);
        let parts: Vec<_> = (0..3)
            .map(|i| partition(&tmp.path().join(format!("t-{i}")), &exec))
            .collect();
        parts[0].append_blocking(one_batch(), 0).unwrap();
        let mut slots: Vec<Slot> = parts.iter().map(slot).collect();

        let (total, error) = read_pass(&mut slots, 0, 1 << 20, false, 0);
        assert!(!error);
        // Just written, so in the page cache: the batch is named by its file region, not read.
        assert!(slots[0].region.is_some());
        assert!(slots[0]
            .data
            .as_ref()
            .unwrap()
            .records
            .as_ref()
            .unwrap()
            .is_empty());
        let first = records(&slots[0]);
        assert_eq!(first.len(), one_batch().len());
        assert_eq!(total, first.len());
        let read_out = bytes_out(&parts[0]);
        assert!(slots[0].done && !slots[1].done && !slots[2].done);
        // Nothing changed: a wake-up reads nothing.
        assert!(!slots.iter().any(|s| needs_read(s, false)));

        // Data arrives on partition 1 only: only it is read again; partition 0's data is kept as is.
        parts[1].append_blocking(one_batch(), 0).unwrap();
        assert_eq!(
            slots
                .iter()
                .map(|s| needs_read(s, false))
                .collect::<Vec<_>>(),
            vec![false, true, false]
        );
        let (total, _) = read_pass(&mut slots, total, 1 << 20, false, 0);
        assert_eq!(records(&slots[0]), first);
        assert_eq!(
            bytes_out(&parts[0]),
            read_out,
            "partition 0 was not read again"
        );
        let second = records(&slots[1]);
        assert!(!second.is_empty());
        assert_eq!(total, first.len() + second.len());
        exec.shutdown();
    }

    /// A one-record transactional batch from producer `pid` (epoch 0, sequence 0).
    fn txn_batch(pid: i64) -> Bytes {
        use kafka_protocol::records::{
            Compression, Record, RecordBatchEncoder, RecordEncodeOptions, TimestampType,
        };
        let r = Record {
            transactional: true,
            control: false,
            delete_horizon: false,
            partition_leader_epoch: -1,
            producer_id: pid,
            producer_epoch: 0,
            timestamp_type: TimestampType::Creation,
            offset: 0,
            sequence: 0,
            timestamp: 0,
            key: Some(Bytes::from_static(b"k")),
            value: Some(Bytes::from_static(b"v")),
            headers: Default::default(),
        };
        let mut buf = bytes::BytesMut::new();
        RecordBatchEncoder::encode(
            &mut buf,
            [r].iter(),
            &RecordEncodeOptions {
                version: 2,
                compression: Compression::None,
            },
        )
        .unwrap();
        buf.freeze()
    }

    #[test]
    fn regions_below_the_sendfile_minimum_are_read_into_memory() {
        let tmp = tempfile::tempdir().unwrap();
        let exec = LogExecutor::start(1);
        let p = partition(&tmp.path().join("t-0"), &exec);
        p.append_blocking(one_batch(), 0).unwrap();
        for read_committed in [false, true] {
            let mut slots = vec![slot(&p)];
            read_pass(&mut slots, 0, 1 << 20, read_committed, SENDFILE_MIN_BYTES);
            assert!(slots[0].region.is_none());
            assert_eq!(records(&slots[0]).len(), one_batch().len());
            let mut slots = vec![slot(&p)];
            read_pass(&mut slots, 0, 1 << 20, read_committed, one_batch().len());
            assert!(
                slots[0].region.is_some(),
                "exactly the minimum goes by region"
            );
        }
        exec.shutdown();
    }

    #[test]
    fn read_committed_cuts_in_memory_before_an_open_transaction() {
        let tmp = tempfile::tempdir().unwrap();
        let exec = LogExecutor::start(1);
        let p = partition(&tmp.path().join("t-0"), &exec);
        let plain = one_batch();
        p.append_blocking(plain.clone(), 0).unwrap();
        p.append_blocking(txn_batch(7), 0).unwrap();
        assert_eq!(p.last_stable_offset(), 1);
        let mut slots = vec![slot(&p)];
        read_pass(&mut slots, 0, 1 << 20, true, 0);
        assert!(
            slots[0].region.is_none(),
            "the open transaction is cut off in memory"
        );
        assert_eq!(records(&slots[0]).len(), plain.len());
        // read_uncommitted sees both batches, from the file.
        let mut slots = vec![slot(&p)];
        read_pass(&mut slots, 0, 1 << 20, false, 0);
        assert!(slots[0].region.is_some());
        assert_eq!(records(&slots[0]).len(), plain.len() + txn_batch(7).len());
        exec.shutdown();
    }

    #[test]
    fn a_marker_wakes_read_committed_fetchers_and_releases_the_data() {
        let tmp = tempfile::tempdir().unwrap();
        let exec = LogExecutor::start(1);
        let p = partition(&tmp.path().join("t-0"), &exec);
        p.append_blocking(txn_batch(7), 0).unwrap();
        assert_eq!(p.last_stable_offset(), 0);
        let mut slots = vec![slot(&p)];
        read_pass(&mut slots, 0, 1 << 20, true, 0);
        let d = slots[0].data.as_ref().unwrap();
        assert!(d.records.as_ref().unwrap().is_empty());
        assert_eq!((d.high_watermark, d.last_stable_offset), (1, 0));
        assert!(!needs_read(&slots[0], true), "nothing readable moved");
        // A plain append elsewhere in the log would not move the LSO; the marker does, and wakes.
        let woken = p.appended();
        tokio::pin!(woken);
        woken.as_mut().enable();
        let marker = weft_log::TxnMarker {
            producer_id: 7,
            producer_epoch: 0,
            coordinator_epoch: 0,
            commit: true,
        };
        assert_eq!(p.write_txn_marker_blocking(marker).unwrap(), 1);
        assert!(
            futures::FutureExt::now_or_never(woken).is_some(),
            "fetchers woken"
        );
        assert_eq!(p.last_stable_offset(), 2);
        assert!(needs_read(&slots[0], true));
        read_pass(&mut slots, 0, 1 << 20, true, 0);
        let d = slots[0].data.as_ref().unwrap();
        assert_eq!(d.last_stable_offset, 2);
        assert!(
            slots[0].region.is_some(),
            "below the LSO: sent from the file"
        );
        assert!(!records(&slots[0]).is_empty());
        assert_eq!(d.aborted_transactions, Some(vec![]));
        // An older epoch is refused with INVALID_PRODUCER_EPOCH.
        let stale = weft_log::TxnMarker {
            producer_epoch: -1,
            ..marker
        };
        let e = p.write_txn_marker_blocking(stale).unwrap_err();
        assert_eq!(e.code(code::UNKNOWN_TOPIC_OR_PARTITION), 47);
        exec.shutdown();
    }
}
