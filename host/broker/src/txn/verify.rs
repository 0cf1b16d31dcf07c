//! KIP-890 part 1 on the produce path: a transactional batch for a partition that is not in the
//! producer's ongoing transaction is refused, as Kafka 3.6+ refuses it (its `AddPartitionsToTxnManager`
//! asks the coordinator with a `verify_only` AddPartitionsToTxn; here the coordinator is in-process).
//! Produce v11+ clients know TRANSACTION_ABORTABLE; older ones get INVALID_TXN_STATE, and a fenced
//! epoch is INVALID_PRODUCER_EPOCH, as Kafka maps them.

use super::state::codes::{INVALID_TXN_STATE, PRODUCER_FENCED, TRANSACTION_ABORTABLE};
use crate::error::code;
use crate::handlers::Ctx;
use crate::partition::Partition;

/// Checks one transactional batch before its append; `Err` is answered instead of the append.
pub fn produce(
    ctx: &Ctx<'_>,
    transactional_id: Option<&str>,
    partition: &Partition,
    producer_id: i64,
    epoch: i16,
) -> Result<(), (i16, String)> {
    // Kafka verifies only requests that name their transactional id.
    let Some(id) = transactional_id else {
        return Ok(());
    };
    let tp = (partition.topic.to_string(), partition.index);
    let found = ctx.broker.transactions.verify(id, producer_id, epoch, &tp);
    let answer = match found {
        code::NONE => return Ok(()),
        PRODUCER_FENCED => code::INVALID_PRODUCER_EPOCH,
        TRANSACTION_ABORTABLE if ctx.version <= 10 => INVALID_TXN_STATE,
        other => other,
    };
    Err((
        answer,
        format!(
            "{}-{} is not part of the ongoing transaction of transactional id {id} (producer {producer_id}, epoch {epoch})",
            tp.0, tp.1
        ),
    ))
}
