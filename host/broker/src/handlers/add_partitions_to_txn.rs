//! AddPartitionsToTxn: v0-v3 from producers (one transaction), v4+ batched from brokers, with
//! `verify_only` for KIP-890's verification (is the partition already in the ongoing
//! transaction?). Unknown partitions get UNKNOWN_TOPIC_OR_PARTITION and the others of that
//! transaction OPERATION_NOT_ATTEMPTED, as Kafka answers.

use kafka_protocol::messages::add_partitions_to_txn_request::AddPartitionsToTxnTopic;
use kafka_protocol::messages::add_partitions_to_txn_response::{
    AddPartitionsToTxnPartitionResult, AddPartitionsToTxnResult, AddPartitionsToTxnTopicResult,
};
use kafka_protocol::messages::{
    AddPartitionsToTxnRequest, AddPartitionsToTxnResponse, TopicName, TransactionalId,
};

use super::{s, Ctx};
use crate::error::code;
use crate::txn::state::fenced_for_version;

const OPERATION_NOT_ATTEMPTED: i16 = 55;

/// Runs on a blocking thread (the coordinator writes `__transaction_state`).
pub fn handle(ctx: &Ctx<'_>, req: AddPartitionsToTxnRequest) -> AddPartitionsToTxnResponse {
    if ctx.version <= 3 {
        let results = one(
            ctx,
            req.v3_and_below_transactional_id.as_str(),
            req.v3_and_below_producer_id.0,
            req.v3_and_below_producer_epoch,
            false,
            &req.v3_and_below_topics,
        );
        return AddPartitionsToTxnResponse::default().with_results_by_topic_v3_and_below(results);
    }
    let results = req
        .transactions
        .iter()
        .map(|t| {
            AddPartitionsToTxnResult::default()
                .with_transactional_id(TransactionalId(s(t.transactional_id.to_string())))
                .with_topic_results(one(
                    ctx,
                    t.transactional_id.as_str(),
                    t.producer_id.0,
                    t.producer_epoch,
                    t.verify_only,
                    &t.topics,
                ))
        })
        .collect();
    AddPartitionsToTxnResponse::default().with_results_by_transaction(results)
}

fn one(
    ctx: &Ctx<'_>,
    id: &str,
    producer_id: i64,
    epoch: i16,
    verify_only: bool,
    topics: &[AddPartitionsToTxnTopic],
) -> Vec<AddPartitionsToTxnTopicResult> {
    let broker = ctx.broker;
    let wanted: Vec<(String, i32)> = topics
        .iter()
        .flat_map(|t| t.partitions.iter().map(|p| (t.name.to_string(), *p)))
        .collect();
    let known = |(t, p): &(String, i32)| {
        !crate::internal_topics::is_internal(t)
            && broker
                .topics
                .get(t)
                .is_some_and(|info| info.partition(*p).is_some())
    };
    let codes: Vec<i16> = if verify_only {
        wanted
            .iter()
            .map(|tp| broker.transactions.verify(id, producer_id, epoch, tp))
            .collect()
    } else if wanted.iter().all(known) {
        let result = broker
            .transactions
            .add_partitions(broker, id, producer_id, epoch, &wanted)
            .err()
            .map(|e| fenced_for_version(e, ctx.version, 2))
            .unwrap_or(code::NONE);
        vec![result; wanted.len()]
    } else {
        wanted
            .iter()
            .map(|tp| {
                if known(tp) {
                    OPERATION_NOT_ATTEMPTED
                } else {
                    code::UNKNOWN_TOPIC_OR_PARTITION
                }
            })
            .collect()
    };
    let mut i = 0;
    topics
        .iter()
        .map(|t| {
            let results = t
                .partitions
                .iter()
                .map(|p| {
                    let c = codes.get(i).copied().unwrap_or(code::NONE);
                    i += 1;
                    AddPartitionsToTxnPartitionResult::default()
                        .with_partition_index(*p)
                        .with_partition_error_code(c)
                })
                .collect();
            AddPartitionsToTxnTopicResult::default()
                .with_name(TopicName(s(t.name.to_string())))
                .with_results_by_partition(results)
        })
        .collect()
}
