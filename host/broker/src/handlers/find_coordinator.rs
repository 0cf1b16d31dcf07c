//! FindCoordinator: this single node coordinates every group; v4+ batch several keys in one request.

use kafka_protocol::messages::find_coordinator_response::Coordinator;
use kafka_protocol::messages::{BrokerId, FindCoordinatorRequest, FindCoordinatorResponse};

use super::{s, Ctx};
use crate::error::code;

/// Key types: 0 = group, 1 = transaction, 2 = share group.
const GROUP_KEY: i8 = 0;
const TRANSACTION_KEY: i8 = 1;

pub fn handle(ctx: &Ctx<'_>, req: FindCoordinatorRequest) -> FindCoordinatorResponse {
    let broker = ctx.broker;
    let adv = broker.advertised_for(ctx.listener);
    // Groups need the offsets topic; create it here on demand, as Kafka does.
    let error = if req.key_type == TRANSACTION_KEY {
        // Not retriable, so a transactional client fails at once with this message instead of
        // retrying until max.block.ms (idempotent producers do not ask for this coordinator).
        Some((
            code::UNSUPPORTED_VERSION,
            "Transactions are not supported by this broker yet (idempotent producers are).",
        ))
    } else if req.key_type != GROUP_KEY {
        // No transactions or share groups yet: no node can coordinate them.
        Some((
            code::COORDINATOR_NOT_AVAILABLE,
            "Only consumer group coordinators are available.",
        ))
    } else if let Err(e) = broker.groups.ensure_offsets_topic(&broker.topics) {
        tracing::warn!(error = %e, "cannot create the offsets topic");
        Some((
            code::COORDINATOR_NOT_AVAILABLE,
            "The offsets topic could not be created.",
        ))
    } else {
        None
    };
    let (node, host, port) = match error {
        None => (broker.node_id(), adv.host.clone(), adv.port as i32),
        Some(_) => (-1, String::new(), -1),
    };
    if ctx.version >= 4 {
        let coordinators = req
            .coordinator_keys
            .into_iter()
            .map(|key| {
                let c = Coordinator::default()
                    .with_key(key)
                    .with_node_id(BrokerId(node))
                    .with_host(s(host.clone()))
                    .with_port(port);
                match error {
                    Some((e, msg)) => c.with_error_code(e).with_error_message(Some(s(msg))),
                    None => c,
                }
            })
            .collect();
        return FindCoordinatorResponse::default().with_coordinators(coordinators);
    }
    let resp = FindCoordinatorResponse::default()
        .with_node_id(BrokerId(node))
        .with_host(s(host))
        .with_port(port);
    match error {
        Some((e, msg)) => resp.with_error_code(e).with_error_message(Some(s(msg))),
        None => resp,
    }
}
