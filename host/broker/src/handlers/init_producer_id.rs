//! InitProducerId for idempotent producers: a new producer id with epoch 0 for every request, as Kafka's
//! transaction coordinator answers requests without a transactional id (the client bumps the epoch of
//! an idempotent producer itself, KIP-360). Transactional ids are refused until transactions land.

use kafka_protocol::messages::{InitProducerIdRequest, InitProducerIdResponse, ProducerId};

use super::Ctx;
use crate::error::code;

/// Runs on a blocking thread: allocating may persist a new block of ids.
pub fn handle(ctx: &Ctx<'_>, req: InitProducerIdRequest) -> InitProducerIdResponse {
    let refused = InitProducerIdResponse::default()
        .with_producer_id(ProducerId(-1))
        .with_producer_epoch(-1);
    if let Some(tid) = req.transactional_id.as_ref().filter(|t| !t.is_empty()) {
        tracing::warn!(peer = %ctx.peer, transactional_id = %tid.as_str(), "InitProducerId with a transactional.id refused: this broker does not support transactions yet");
        return refused.with_error_code(code::UNSUPPORTED_VERSION);
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
