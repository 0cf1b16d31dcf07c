//! LeaveGroup: one member (v0-2) or a batch of members by id or group.instance.id (v3+) leave at once.

use kafka_protocol::messages::leave_group_response::MemberResponse;
use kafka_protocol::messages::{LeaveGroupRequest, LeaveGroupResponse};

use super::Ctx;
use crate::error::code;

pub fn handle(ctx: &Ctx<'_>, req: LeaveGroupRequest) -> LeaveGroupResponse {
    let groups = &ctx.broker.groups;
    let group = req.group_id.as_str();
    if ctx.version < 3 {
        let error = groups.leave(group, req.member_id.as_str(), None);
        return LeaveGroupResponse::default().with_error_code(error);
    }
    let members: Vec<MemberResponse> = req
        .members
        .into_iter()
        .map(|m| {
            let instance = m.group_instance_id.as_ref().map(|i| i.to_string());
            let error = groups.leave(group, m.member_id.as_str(), instance.as_deref());
            MemberResponse::default()
                .with_member_id(m.member_id)
                .with_group_instance_id(m.group_instance_id)
                .with_error_code(error)
        })
        .collect();
    // Kafka reports a single failed member at the top level too.
    let top = match members.as_slice() {
        [only] => only.error_code,
        _ => code::NONE,
    };
    LeaveGroupResponse::default()
        .with_error_code(top)
        .with_members(members)
}
