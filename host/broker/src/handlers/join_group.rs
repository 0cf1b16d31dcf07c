//! JoinGroup: registers a member and waits (without blocking other connections) until the join
//! phase of the rebalance completes.

use kafka_protocol::messages::join_group_response::JoinGroupResponseMember;
use kafka_protocol::messages::{JoinGroupRequest, JoinGroupResponse};

use super::{s, Ctx};
use crate::error::code;
use crate::groups::{JoinRequest, JoinResult, Reply};

pub async fn handle(ctx: &Ctx<'_>, req: JoinGroupRequest) -> JoinGroupResponse {
    let v = ctx.version;
    let join = JoinRequest {
        member_id: req.member_id.to_string(),
        instance_id: req.group_instance_id.map(|i| i.to_string()),
        client_id: ctx
            .header
            .client_id
            .as_ref()
            .map(|c| c.to_string())
            .unwrap_or_default(),
        client_host: format!("/{}", ctx.peer.ip()),
        session_timeout_ms: req.session_timeout_ms,
        // v0 has no rebalance timeout: Kafka uses the session timeout for both.
        rebalance_timeout_ms: if v == 0 {
            req.session_timeout_ms
        } else {
            req.rebalance_timeout_ms
        },
        protocol_type: req.protocol_type.to_string(),
        protocols: req
            .protocols
            .into_iter()
            .map(|p| (p.name.to_string(), p.metadata))
            .collect(),
        require_known_member_id: v >= 4,
    };
    let member_id = join.member_id.clone();
    let result = match ctx.broker.groups.join(req.group_id.as_str(), join) {
        Reply::Now(r) => r,
        Reply::Wait(rx) => rx
            .await
            .unwrap_or_else(|_| JoinResult::error(code::COORDINATOR_NOT_AVAILABLE, &member_id)),
    };
    response(v, result)
}

fn response(v: i16, r: JoinResult) -> JoinGroupResponse {
    // Before v7 the protocol name is not nullable: errors carry "" there, null from v7 on.
    let protocol_name = match r.protocol_name {
        Some(p) => Some(s(p)),
        None if v < 7 => Some(s("")),
        None => None,
    };
    JoinGroupResponse::default()
        .with_error_code(r.error)
        .with_generation_id(r.generation)
        .with_protocol_type(r.protocol_type.map(s))
        .with_protocol_name(protocol_name)
        .with_leader(s(r.leader))
        .with_member_id(s(r.member_id))
        .with_members(
            r.members
                .into_iter()
                .map(|m| {
                    JoinGroupResponseMember::default()
                        .with_member_id(s(m.member_id))
                        .with_group_instance_id(m.instance_id.map(s))
                        .with_metadata(m.metadata)
                })
                .collect(),
        )
}
