//! DescribeGroups: state, protocol, and members with their metadata and assignments.

use kafka_protocol::messages::describe_groups_response::{DescribedGroup, DescribedGroupMember};
use kafka_protocol::messages::{DescribeGroupsRequest, DescribeGroupsResponse};

use super::{s, Ctx};
use crate::error::code;

pub fn handle(ctx: &Ctx<'_>, req: DescribeGroupsRequest) -> DescribeGroupsResponse {
    let described = req
        .groups
        .into_iter()
        .map(|id| match ctx.broker.groups.describe(id.as_str()) {
            Some(g) => DescribedGroup::default()
                .with_group_id(id)
                .with_group_state(s(g.state.name()))
                .with_protocol_type(s(g.protocol_type))
                .with_protocol_data(s(g.protocol))
                .with_members(
                    g.members
                        .into_iter()
                        .map(|m| {
                            DescribedGroupMember::default()
                                .with_member_id(s(m.member_id))
                                .with_group_instance_id(m.instance_id.map(s))
                                .with_client_id(s(m.client_id))
                                .with_client_host(s(m.client_host))
                                .with_member_metadata(m.metadata)
                                .with_member_assignment(m.assignment)
                        })
                        .collect(),
                ),
            // Unknown groups are reported Dead; v6 (KIP-1043) adds GROUP_ID_NOT_FOUND.
            None if ctx.version >= 6 => DescribedGroup::default()
                .with_group_id(id)
                .with_group_state(s("Dead"))
                .with_error_code(code::GROUP_ID_NOT_FOUND)
                .with_error_message(Some(s("Group does not exist."))),
            None => DescribedGroup::default()
                .with_group_id(id)
                .with_group_state(s("Dead")),
        })
        .collect();
    DescribeGroupsResponse::default().with_groups(described)
}
