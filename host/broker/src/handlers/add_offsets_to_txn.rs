//! AddOffsetsToTxn: adds the group's `__consumer_offsets` partition to the transaction, so EndTxn
//! writes its marker there and the group's transactional offsets become visible (or are dropped).

use kafka_protocol::messages::{AddOffsetsToTxnRequest, AddOffsetsToTxnResponse};

use super::Ctx;
use crate::error::code;
use crate::groups::OFFSETS_TOPIC;
use crate::txn::state::fenced_for_version;

/// Runs on a blocking thread (may create `__consumer_offsets`; writes `__transaction_state`).
pub fn handle(ctx: &Ctx<'_>, req: AddOffsetsToTxnRequest) -> AddOffsetsToTxnResponse {
    let broker = ctx.broker;
    let group = req.group_id.as_str();
    if group.is_empty() {
        return AddOffsetsToTxnResponse::default().with_error_code(code::INVALID_GROUP_ID);
    }
    let partition = match crate::groups::offsets::partition_creating(
        &broker.topics,
        broker.config.offsets_topic_num_partitions,
        group,
    ) {
        Ok(p) => p.index,
        Err(e) => {
            tracing::warn!(error = %e, "cannot create the offsets topic");
            return AddOffsetsToTxnResponse::default()
                .with_error_code(code::COORDINATOR_NOT_AVAILABLE);
        }
    };
    let result = broker.transactions.add_partitions(
        broker,
        req.transactional_id.as_str(),
        req.producer_id.0,
        req.producer_epoch,
        &[(OFFSETS_TOPIC.to_string(), partition)],
    );
    AddOffsetsToTxnResponse::default().with_error_code(match result {
        Ok(()) => code::NONE,
        Err(e) => fenced_for_version(e, ctx.version, 2),
    })
}
