//! Fetch: returns stored batches as they are, long-polling up to max.wait.ms for min.bytes.
//!
//! Size rules (KIP-74): per partition at most partition_max_bytes and in total at most max_bytes, except
//! that the first non-empty partition always returns at least one whole batch so a large batch can't
//! stall a consumer. There are no fetch sessions: every response has session id 0, which tells
//! clients to send full fetch requests.

use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use kafka_protocol::messages::fetch_response::{FetchableTopicResponse, PartitionData};
use kafka_protocol::messages::{BrokerId, FetchRequest, FetchResponse};

use super::Ctx;
use crate::error::{code, log_error_code};
use crate::partition::{Partition, PartitionError};

/// Upper bound on max.wait.ms, so a bad client cannot park a connection for hours.
const MAX_WAIT_CAP_MS: i32 = 30_000;

struct Slot {
    topic_index: usize,
    partition_index: i32,
    partition: Option<Arc<Partition>>,
    fetch_offset: i64,
    max_bytes: i32,
    missing_code: i16,
}

pub async fn handle(ctx: &Ctx<'_>, req: FetchRequest) -> FetchResponse {
    if req.session_id != 0 || req.session_epoch > 0 {
        return FetchResponse::default().with_error_code(code::FETCH_SESSION_ID_NOT_FOUND);
    }
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
                    .and_then(|t| {
                        usize::try_from(fp.partition)
                            .ok()
                            .and_then(|i| t.partitions.get(i))
                    })
                    .cloned(),
                fetch_offset: fp.fetch_offset,
                max_bytes: fp.partition_max_bytes,
                missing_code: if by_id {
                    code::UNKNOWN_TOPIC_ID
                } else {
                    code::UNKNOWN_TOPIC_OR_PARTITION
                },
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
        i32::MAX as usize
    } else {
        req.max_bytes as usize
    };
    let read_committed = req.isolation_level == 1;
    let mut shutdown = ctx.broker.shutdown_signal();

    let results = loop {
        // Register for wake-ups before reading so an append between the read and the wait is not missed.
        let mut waits: Vec<Pin<Box<tokio::sync::futures::Notified<'_>>>> = slots
            .iter()
            .filter_map(|s| s.partition.as_ref())
            .map(|p| Box::pin(p.appended()))
            .collect();
        for w in waits.iter_mut() {
            w.as_mut().enable();
        }
        let (results, bytes, has_error) = read_all(&slots, total_max, read_committed);
        let now = tokio::time::Instant::now();
        if bytes >= min_bytes
            || has_error
            || now >= deadline
            || waits.is_empty()
            || ctx.broker.is_shutting_down()
        {
            break results;
        }
        tokio::select! {
            _ = futures::future::select_all(waits) => {}
            _ = tokio::time::sleep_until(deadline) => {}
            _ = shutdown.changed() => {}
        }
    };

    for (slot, data) in slots.iter().zip(results) {
        if let Some(t) = topics_out.get_mut(slot.topic_index) {
            t.partitions.push(data);
        }
    }
    FetchResponse::default().with_responses(topics_out)
}

/// Reads every slot once; returns the partition data, total bytes, and whether any partition errored.
fn read_all(
    slots: &[Slot],
    total_max: usize,
    read_committed: bool,
) -> (Vec<PartitionData>, usize, bool) {
    let mut total = 0usize;
    let mut has_error = false;
    let mut out = Vec::with_capacity(slots.len());
    for slot in slots {
        let mut pd = PartitionData::default()
            .with_partition_index(slot.partition_index)
            .with_high_watermark(-1)
            .with_last_stable_offset(-1)
            .with_log_start_offset(-1)
            .with_preferred_read_replica(BrokerId(-1))
            .with_aborted_transactions(if read_committed {
                Some(Vec::new())
            } else {
                None
            });
        let Some(p) = &slot.partition else {
            has_error = true;
            out.push(pd.with_error_code(slot.missing_code));
            continue;
        };
        let budget = total_max
            .saturating_sub(total)
            .min(slot.max_bytes.max(0) as usize);
        let first_non_empty = total == 0;
        if budget == 0 && !first_non_empty {
            // The response is full: report the partition's offsets without reading its data.
            match p.offsets() {
                Ok((start, end)) => {
                    pd = pd
                        .with_high_watermark(end)
                        .with_last_stable_offset(end)
                        .with_log_start_offset(start)
                        .with_records(Some(bytes::Bytes::new()));
                }
                Err(_) => {
                    has_error = true;
                    pd = pd.with_error_code(slot.missing_code);
                }
            }
            out.push(pd);
            continue;
        }
        match p.read(slot.fetch_offset, budget.max(1)) {
            Ok(r) => {
                pd = pd
                    .with_high_watermark(r.log_end_offset)
                    .with_last_stable_offset(r.log_end_offset)
                    .with_log_start_offset(r.log_start_offset);
                // The log returns at least one batch; only the first non-empty partition may exceed its budget.
                let records = if r.records.len() > budget && !first_non_empty || slot.max_bytes <= 0
                {
                    bytes::Bytes::new()
                } else {
                    r.records
                };
                total += records.len();
                pd = pd.with_records(Some(records));
            }
            Err(PartitionError::Deleted) => {
                has_error = true;
                pd = pd.with_error_code(slot.missing_code);
            }
            Err(PartitionError::Log(e)) => {
                has_error = true;
                if let Ok((start, end)) = p.offsets() {
                    pd = pd
                        .with_high_watermark(end)
                        .with_last_stable_offset(end)
                        .with_log_start_offset(start);
                }
                pd = pd.with_error_code(log_error_code(&e));
            }
        }
        out.push(pd);
    }
    (out, total, has_error)
}
