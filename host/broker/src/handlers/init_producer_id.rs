//! InitProducerId. Without a transactional id: a new producer id with epoch 0 for every request, as
//! Kafka's transaction coordinator answers idempotent producers (the client bumps the epoch of an
//! idempotent producer itself, KIP-360). With one: the transaction coordinator's id and epoch for
//! it ([`crate::txn::TxnCoordinator::init_producer_id`]), fencing the previous producer.

use kafka_protocol::messages::{InitProducerIdRequest, InitProducerIdResponse, ProducerId};

use super::Ctx;
use crate::error::code;
use crate::txn::state::fenced_for_version;

/// Runs on a blocking thread: allocating may persist a new block of ids, and the coordinator
/// writes `__transaction_state`.
pub fn handle(ctx: &Ctx<'_>, req: InitProducerIdRequest) -> InitProducerIdResponse {
    let refused = InitProducerIdResponse::default()
        .with_producer_id(ProducerId(-1))
        .with_producer_epoch(-1);
    // An empty id is taken as none (as before transactions; kafka-protocol's default is empty).
    if let Some(tid) = req.transactional_id.as_ref().filter(|t| !t.is_empty()) {
        // KIP-360 (v3+): the producer names the id and epoch it had, to bump rather than fence.
        let expected = (req.producer_id.0 >= 0).then_some((req.producer_id.0, req.producer_epoch));
        return match ctx.broker.transactions.init_producer_id(
            ctx.broker,
            tid.as_str(),
            req.transaction_timeout_ms,
            expected,
        ) {
            Ok((id, epoch)) => InitProducerIdResponse::default()
                .with_producer_id(ProducerId(id))
                .with_producer_epoch(epoch),
            Err(e) => {
                tracing::debug!(peer = %ctx.peer, transactional_id = %tid.as_str(), error = e, "InitProducerId refused");
                refused.with_error_code(fenced_for_version(e, ctx.version, 4))
            }
        };
    }
    match ctx.broker.producer_ids.allocate() {
        Ok(id) => {
            tracing::debug!(peer = %ctx.peer, producer_id = id, "InitProducerId");
            InitProducerIdResponse::default()
                .with_producer_id(ProducerId(id))
                .with_producer_epoch(0)
        }
        Err(e) => {
            tracing::error!(error = %e, "cannot allocate a producer id");
            // Retriable for the client: it asks again.
            refused.with_error_code(code::COORDINATOR_LOAD_IN_PROGRESS)
        }
    }
}
