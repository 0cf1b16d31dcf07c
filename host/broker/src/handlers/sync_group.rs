//! SyncGroup: the leader hands in the assignment; every member waits for its share of it.

use kafka_protocol::messages::{SyncGroupRequest, SyncGroupResponse};

use super::{s, Ctx};
use crate::error::code;
use crate::groups::{Reply, SyncResult};

pub async fn handle(ctx: &Ctx<'_>, req: SyncGroupRequest) -> SyncGroupResponse {
    let assignments = req
        .assignments
        .into_iter()
        .map(|a| (a.member_id.to_string(), a.assignment))
        .collect();
    let instance = req.group_instance_id.as_ref().map(|i| i.to_string());
    let ptype = req.protocol_type.as_ref().map(|p| p.to_string());
    let pname = req.protocol_name.as_ref().map(|p| p.to_string());
    let result = match ctx.broker.groups.sync(
        req.group_id.as_str(),
        req.generation_id,
        req.member_id.as_str(),
        instance.as_deref(),
        (ptype.as_deref(), pname.as_deref()),
        assignments,
    ) {
        Reply::Now(r) => r,
        Reply::Wait(rx) => rx
            .await
            .unwrap_or_else(|_| SyncResult::error(code::COORDINATOR_NOT_AVAILABLE)),
    };
    SyncGroupResponse::default()
        .with_error_code(result.error)
        .with_protocol_type(result.protocol_type.map(s))
        .with_protocol_name(result.protocol_name.map(s))
        .with_assignment(result.assignment)
}
