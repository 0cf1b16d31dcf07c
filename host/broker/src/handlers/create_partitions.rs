//! CreatePartitions: grows a topic's partition count.

use kafka_protocol::messages::create_partitions_response::CreatePartitionsTopicResult;
use kafka_protocol::messages::{CreatePartitionsRequest, CreatePartitionsResponse};

use super::partition_budget;
use super::{s, Ctx};
use crate::error::code;

pub fn handle(ctx: &Ctx<'_>, req: CreatePartitionsRequest) -> CreatePartitionsResponse {
    let broker = ctx.broker;
    let node = broker.node_id();
    let mut results = Vec::with_capacity(req.topics.len());
    // The budget counts partitions added; a topic that is unknown or would shrink adds none and
    // gets its own error below.
    let added = req.topics.iter().map(|t| {
        let current = broker
            .topics
            .get(t.name.as_str())
            .map_or(i64::from(t.count), |info| info.partitions.len() as i64);
        u64::try_from(i64::from(t.count) - current).unwrap_or(0)
    });
    if !partition_budget::fits(added) {
        for t in req.topics {
            results.push(
                CreatePartitionsTopicResult::default()
                    .with_name(t.name)
                    .with_error_code(code::POLICY_VIOLATION)
                    .with_error_message(Some(s(partition_budget::OVER_BUDGET))),
            );
        }
        return CreatePartitionsResponse::default().with_results(results);
    }
    for t in req.topics {
        let r = CreatePartitionsTopicResult::default().with_name(t.name.clone());
        let bad_assignment = t
            .assignments
            .as_ref()
            .map(|a| {
                a.iter()
                    .any(|x| x.broker_ids.len() != 1 || x.broker_ids[0].0 != node)
            })
            .unwrap_or(false);
        if let Err(refusal) = crate::internal_topics::check_create_partitions(t.name.as_str()) {
            results.push(
                r.with_error_code(refusal.code)
                    .with_error_message(Some(s(refusal.message))),
            );
            continue;
        }
        if bad_assignment {
            results.push(
                r.with_error_code(code::INVALID_REPLICA_ASSIGNMENT)
                    .with_error_message(Some(s(format!(
                        "assignments may only name broker {node}"
                    )))),
            );
            continue;
        }
        match broker
            .topics
            .add_partitions(t.name.as_str(), t.count, req.validate_only)
        {
            Ok(()) => results.push(r),
            Err(e) => results.push(
                r.with_error_code(e.code())
                    .with_error_message(Some(s(e.to_string()))),
            ),
        }
    }
    CreatePartitionsResponse::default().with_results(results)
}
