//! EndTxn: commits or aborts the producer's ongoing transaction (markers to every partition of it,
//! then CompleteCommit/CompleteAbort in `__transaction_state`).

use kafka_protocol::messages::{EndTxnRequest, EndTxnResponse, ProducerId};

use super::Ctx;
use crate::txn::state::fenced_for_version;

/// Runs on a blocking thread (writes `__transaction_state` and the markers).
pub fn handle(ctx: &Ctx<'_>, req: EndTxnRequest) -> EndTxnResponse {
    let broker = ctx.broker;
    match broker.transactions.end_txn(
        broker,
        req.transactional_id.as_str(),
        req.producer_id.0,
        req.producer_epoch,
        req.committed,
    ) {
        Ok((id, epoch)) => EndTxnResponse::default()
            .with_producer_id(ProducerId(id))
            .with_producer_epoch(epoch),
        Err(e) => EndTxnResponse::default()
            .with_error_code(fenced_for_version(e, ctx.version, 2))
            .with_producer_id(ProducerId(-1))
            .with_producer_epoch(-1),
    }
}
