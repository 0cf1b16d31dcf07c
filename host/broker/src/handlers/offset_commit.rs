//! OffsetCommit: validates the member and each partition, then stores the offsets in
//! `__consumer_offsets` (metadata strings included) before answering.

use kafka_protocol::messages::offset_commit_response::{
    OffsetCommitResponsePartition, OffsetCommitResponseTopic,
};
use kafka_protocol::messages::{OffsetCommitRequest, OffsetCommitResponse};

use super::Ctx;
use crate::error::code;
use crate::groups::{codes, Committed, Groups};
use crate::topics::TopicInfo;

pub async fn handle(ctx: &Ctx<'_>, req: OffsetCommitRequest) -> OffsetCommitResponse {
    let broker = ctx.broker;
    let now = crate::maintenance::now_ms();
    // Per-partition outcome in request order; `None` = valid, to be stored.
    let mut outcome: Vec<(usize, i32, Option<i16>)> = Vec::new();
    let mut valid = Vec::new();
    for (ti, t) in req.topics.iter().enumerate() {
        let topic = broker.topics.get(t.name.as_str());
        for p in &t.partitions {
            let error = match checked_commit(
                topic.as_deref(),
                p.partition_index,
                p.committed_offset,
                p.committed_leader_epoch,
                p.committed_metadata.as_ref().map(|m| m.as_str()),
                now,
            ) {
                Ok(committed) => {
                    valid.push((t.name.to_string(), p.partition_index, committed));
                    None
                }
                Err(e) => Some(e),
            };
            outcome.push((ti, p.partition_index, error));
        }
    }
    let instance = req.group_instance_id.as_ref().map(|i| i.to_string());
    let stored = if valid.is_empty() {
        Ok(())
    } else {
        broker
            .groups
            .commit(
                broker,
                req.group_id.as_str(),
                req.generation_id_or_member_epoch,
                req.member_id.as_str(),
                instance.as_deref(),
                valid,
            )
            .await
    };
    let mut topics: Vec<OffsetCommitResponseTopic> = req
        .topics
        .iter()
        .map(|t| {
            OffsetCommitResponseTopic::default()
                .with_name(t.name.clone())
                .with_topic_id(t.topic_id)
        })
        .collect();
    for (ti, partition, error) in outcome {
        let error = error.unwrap_or_else(|| stored.err().unwrap_or(code::NONE));
        if let Some(t) = topics.get_mut(ti) {
            t.partitions.push(
                OffsetCommitResponsePartition::default()
                    .with_partition_index(partition)
                    .with_error_code(error),
            );
        }
    }
    OffsetCommitResponse::default().with_topics(topics)
}

/// One partition of an offset commit (OffsetCommit or TxnOffsetCommit), checked as Kafka does: the
/// offset to store, or the error code the partition is answered with.
pub(super) fn checked_commit(
    topic: Option<&TopicInfo>,
    partition: i32,
    offset: i64,
    leader_epoch: i32,
    metadata: Option<&str>,
    now: i64,
) -> Result<Committed, i16> {
    if topic.is_none_or(|info| info.partition(partition).is_none()) {
        return Err(code::UNKNOWN_TOPIC_OR_PARTITION);
    }
    let metadata = metadata.unwrap_or_default().to_string();
    if Groups::metadata_too_large(&metadata) {
        return Err(codes::OFFSET_METADATA_TOO_LARGE);
    }
    Ok(Committed {
        offset,
        leader_epoch,
        metadata,
        commit_ts: now,
        log_offset: -1,
    })
}
