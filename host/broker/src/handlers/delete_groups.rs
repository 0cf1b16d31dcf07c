//! DeleteGroups: removes empty groups and tombstones their committed offsets.

use kafka_protocol::messages::delete_groups_response::DeletableGroupResult;
use kafka_protocol::messages::{DeleteGroupsRequest, DeleteGroupsResponse};

use super::Ctx;

pub fn handle(ctx: &Ctx<'_>, req: DeleteGroupsRequest) -> DeleteGroupsResponse {
    let broker = ctx.broker;
    let results = req
        .groups_names
        .into_iter()
        .map(|g| {
            let error = broker.groups.delete_group(&broker.topics, g.as_str());
            DeletableGroupResult::default()
                .with_group_id(g)
                .with_error_code(error)
        })
        .collect();
    DeleteGroupsResponse::default().with_results(results)
}
