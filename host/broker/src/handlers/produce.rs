//! Produce: validates and appends each partition's record batches; batches are stored verbatim.
//!
//! Appends run on the log executor (ordered per partition, the partitions of one request in
//! parallel); this task only awaits them. acks=0 gets no response, so its failures are logged and
//! counted ([`Broker::acks0_failures`](crate::server::Broker)) instead.
//!
//! Transactional batches (attribute bit 4, with a producer id) are stored like any other; the log
//! opens the producer's transaction in the partition at the first one. Before such an append,
//! [`verify_transactional_append`] is the place for KIP-890's "is this partition in the producer's
//! ongoing transaction" check, which belongs to the transaction coordinator.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use bytes::Bytes;
use kafka_protocol::messages::produce_response::{PartitionProduceResponse, TopicProduceResponse};
use kafka_protocol::messages::{ProduceRequest, ProduceResponse};
use weft_log::AppendInfo;

use super::{s, Ctx};
use crate::error::code;
use crate::maintenance::now_ms;
use crate::partition::{Partition, PartitionError};

/// What one partition of the request does.
enum Work {
    Done(Result<AppendInfo, (i16, String)>),
    Append {
        partition: Arc<Partition>,
        records: Bytes,
        missing: i16,
    },
}

/// Returns `None` for acks=0, where Kafka sends no response at all.
/// KIP-890 hook, called before appending a transactional batch (producer `producer_id`/`epoch`,
/// request `transactional_id`) to `partition`: the transaction coordinator's verification that the
/// partition is in the producer's ongoing transaction goes here; an `Err` is answered instead of the
/// append. The log side accepts every transactional batch that passes it.
async fn verify_transactional_append(
    ctx: &Ctx<'_>,
    transactional_id: Option<&str>,
    partition: &Partition,
    producer_id: i64,
    epoch: i16,
) -> Result<(), (i16, String)> {
    crate::txn::verify::produce(ctx, transactional_id, partition, producer_id, epoch)
}

/// Producer id and epoch of the first batch when it is transactional (header fields only).
fn transactional_producer(records: &[u8]) -> Option<(i64, i16)> {
    let header = weft_log::batch::BatchHeader::parse(records).ok()?;
    header
        .is_transactional()
        .then_some((header.producer_id, header.producer_epoch))
}

pub async fn handle(ctx: &Ctx<'_>, req: ProduceRequest) -> Option<ProduceResponse> {
    let now = now_ms();
    let transactional_id = req.transactional_id.as_ref().map(|t| t.to_string());
    let transactional_id = transactional_id.as_deref();
    let acks_valid = matches!(req.acks, -1..=1);
    let by_id = ctx.version >= 13;
    // (topic name, topic id, partition index) per partition, and its work, in request order.
    let mut keys = Vec::new();
    let mut work = Vec::new();
    let mut topics = Vec::with_capacity(req.topic_data.len());
    for td in req.topic_data {
        let topic = if by_id {
            ctx.broker.topics.get_by_id(&td.topic_id)
        } else {
            ctx.broker.topics.get(td.name.as_str())
        };
        let missing = if by_id {
            code::UNKNOWN_TOPIC_ID
        } else {
            code::UNKNOWN_TOPIC_OR_PARTITION
        };
        for pd in td.partition_data {
            keys.push((topics.len(), pd.index));
            let partition = topic.as_ref().and_then(|t| t.partition(pd.index));
            work.push(if !acks_valid {
                Work::Done(Err((
                    code::INVALID_REQUIRED_ACKS,
                    format!("acks must be -1, 0 or 1, got {}", req.acks),
                )))
            } else if let Some(Err(refusal)) = topic
                .as_ref()
                .map(|t| crate::internal_topics::check_produce(&t.name))
            {
                Work::Done(Err(refusal.into()))
            } else if let Some(p) = partition {
                match pd.records {
                    Some(records) if !records.is_empty() => Work::Append {
                        partition: p.clone(),
                        records,
                        missing,
                    },
                    _ => Work::Done(Err((
                        code::INVALID_RECORD,
                        "produce request carries no records".to_string(),
                    ))),
                }
            } else {
                Work::Done(Err((
                    missing,
                    format!(
                        "unknown topic or partition {}-{}",
                        td.name.as_str(),
                        pd.index
                    ),
                )))
            });
        }
        topics.push(
            TopicProduceResponse::default()
                .with_name(td.name)
                .with_topic_id(td.topic_id),
        );
    }

    let results = futures::future::join_all(work.into_iter().map(|w| async move {
        match w {
            Work::Done(r) => r,
            Work::Append {
                partition,
                records,
                missing,
            } => {
                if let Some((pid, epoch)) = transactional_producer(&records) {
                    verify_transactional_append(ctx, transactional_id, &partition, pid, epoch)
                        .await?;
                }
                partition.append(records, now).await.map_err(|e| {
                if !matches!(e, PartitionError::Deleted) {
                    tracing::debug!(topic = %partition.topic, partition = partition.index, error = %e, "rejected produce");
                }
                (e.code(missing), e.to_string())
            })
            }
        }
    }))
    .await;

    for ((ti, index), result) in keys.into_iter().zip(results) {
        let mut resp = PartitionProduceResponse::default()
            .with_index(index)
            .with_base_offset(-1)
            .with_log_append_time_ms(-1)
            .with_log_start_offset(-1);
        match result {
            Ok(info) => {
                resp = resp
                    .with_base_offset(info.base_offset)
                    .with_log_append_time_ms(info.log_append_time)
                    .with_log_start_offset(info.log_start_offset);
            }
            Err((error, message)) => {
                if req.acks == 0 {
                    let failures = ctx.broker.acks0_failures.fetch_add(1, Ordering::Relaxed) + 1;
                    let topic = topics
                        .get(ti)
                        .map(|t| t.name.to_string())
                        .unwrap_or_default();
                    // Logged loudly at first and then sparsely, so a client cannot flood the log.
                    if failures.is_power_of_two() || failures.is_multiple_of(1000) {
                        tracing::warn!(peer = %ctx.peer, %topic, partition = index, error_code = error, %message, acks0_failures = failures, "acks=0 produce failed; the producer is not told");
                    } else {
                        tracing::debug!(peer = %ctx.peer, %topic, partition = index, error_code = error, %message, acks0_failures = failures, "acks=0 produce failed");
                    }
                }
                resp = resp
                    .with_error_code(error)
                    .with_error_message(Some(s(message)));
            }
        }
        if let Some(t) = topics.get_mut(ti) {
            t.partition_responses.push(resp);
        }
    }
    if req.acks == 0 {
        return None;
    }
    Some(ProduceResponse::default().with_responses(topics))
}
