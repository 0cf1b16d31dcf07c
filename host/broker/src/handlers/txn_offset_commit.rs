//! TxnOffsetCommit (a transactional producer's sendOffsetsToTransaction): checks that the group's
//! `__consumer_offsets` partition is in the producer's ongoing transaction (KIP-890, as Kafka 3.6+),
//! then stores the offsets as a transactional batch; they become visible when the commit marker lands.

use kafka_protocol::messages::txn_offset_commit_response::{
    TxnOffsetCommitResponsePartition, TxnOffsetCommitResponseTopic,
};
use kafka_protocol::messages::{TxnOffsetCommitRequest, TxnOffsetCommitResponse};

use super::offset_commit::checked_commit;
use super::Ctx;
use crate::error::code;
use crate::groups::OFFSETS_TOPIC;
use crate::txn::state::codes::{INVALID_TXN_STATE, PRODUCER_FENCED, TRANSACTION_ABORTABLE};

/// Runs on a blocking thread (appends to `__consumer_offsets`).
pub fn handle(ctx: &Ctx<'_>, req: TxnOffsetCommitRequest) -> TxnOffsetCommitResponse {
    let broker = ctx.broker;
    let group = req.group_id.as_str();
    let now = crate::maintenance::now_ms();
    // The whole request's error, if the transaction does not cover this group.
    let verified = match crate::groups::offsets::existing_partition(&broker.topics, group) {
        Some(p) => broker.transactions.verify(
            req.transactional_id.as_str(),
            req.producer_id.0,
            req.producer_epoch,
            &(OFFSETS_TOPIC.to_string(), p.index),
        ),
        None => TRANSACTION_ABORTABLE,
    };
    let request_error = match verified {
        code::NONE => None,
        // Kafka's AddPartitionsToTxnManager: older clients know only these two.
        TRANSACTION_ABORTABLE if ctx.version < 4 => Some(INVALID_TXN_STATE),
        PRODUCER_FENCED => Some(code::INVALID_PRODUCER_EPOCH),
        e => Some(e),
    };
    let mut outcome: Vec<(usize, i32, Option<i16>)> = Vec::new();
    let mut valid = Vec::new();
    for (ti, t) in req.topics.iter().enumerate() {
        let topic = broker.topics.get(t.name.as_str());
        for p in &t.partitions {
            let checked = match request_error {
                Some(e) => Err(e),
                None => checked_commit(
                    topic.as_deref(),
                    p.partition_index,
                    p.committed_offset,
                    p.committed_leader_epoch,
                    p.committed_metadata.as_ref().map(|m| m.as_str()),
                    now,
                ),
            };
            let error = match checked {
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
        broker.groups.txn_commit(
            &broker.topics,
            group,
            req.producer_id.0,
            req.producer_epoch,
            req.generation_id,
            req.member_id.as_str(),
            instance.as_deref(),
            valid,
        )
    };
    let mut topics: Vec<TxnOffsetCommitResponseTopic> = req
        .topics
        .iter()
        .map(|t| TxnOffsetCommitResponseTopic::default().with_name(t.name.clone()))
        .collect();
    for (ti, partition, error) in outcome {
        let error = error.unwrap_or_else(|| stored.err().unwrap_or(code::NONE));
        if let Some(t) = topics.get_mut(ti) {
            t.partitions.push(
                TxnOffsetCommitResponsePartition::default()
                    .with_partition_index(partition)
                    .with_error_code(error),
            );
        }
    }
    TxnOffsetCommitResponse::default().with_topics(topics)
}
