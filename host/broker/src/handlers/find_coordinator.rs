//! FindCoordinator: this single node coordinates every group and every transactional id; v4+
//! batch several keys in one request.

use kafka_protocol::messages::find_coordinator_response::Coordinator;
use kafka_protocol::messages::{BrokerId, FindCoordinatorRequest, FindCoordinatorResponse};

use super::{s, Ctx};
use crate::error::code;

/// Key types: 0 = group, 1 = transaction, 2 = share group.
const GROUP_KEY: i8 = 0;
const TRANSACTION_KEY: i8 = 1;

/// Whether answering creates an internal topic (file I/O: the caller runs it on a blocking thread).
pub fn creates_topic(ctx: &Ctx<'_>, req: &FindCoordinatorRequest) -> bool {
    let topics = &ctx.broker.topics;
    match req.key_type {
        GROUP_KEY => topics.get(crate::groups::OFFSETS_TOPIC).is_none(),
        TRANSACTION_KEY => topics.get(crate::txn::TRANSACTION_STATE_TOPIC).is_none(),
        _ => false,
    }
}

pub fn handle(ctx: &Ctx<'_>, req: FindCoordinatorRequest) -> FindCoordinatorResponse {
    let broker = ctx.broker;
    let adv = broker.advertised_for(ctx.listener);
    // Groups need the offsets topic, transactions the transaction log; both are created here on
    // demand, as Kafka does.
    let error = if req.key_type == TRANSACTION_KEY {
        match broker.transactions.ensure_topic(&broker.topics) {
            Ok(()) => None,
            Err(e) => {
                tracing::warn!(error = %e, "cannot create the transaction state topic");
                Some((
                    code::COORDINATOR_NOT_AVAILABLE,
                    "The transaction state topic could not be created.",
                ))
            }
        }
    } else if req.key_type != GROUP_KEY {
        // No share groups: no node can coordinate them.
        Some((
            code::COORDINATOR_NOT_AVAILABLE,
            "Only consumer group and transaction coordinators are available.",
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
