//! OffsetDelete: removes a group's committed offsets for partitions of topics it no longer subscribes to.

use kafka_protocol::messages::offset_delete_response::{
    OffsetDeleteResponsePartition, OffsetDeleteResponseTopic,
};
use kafka_protocol::messages::{OffsetDeleteRequest, OffsetDeleteResponse, TopicName};

use super::{s, Ctx};
use crate::error::code;

pub fn handle(ctx: &Ctx<'_>, req: OffsetDeleteRequest) -> OffsetDeleteResponse {
    let broker = ctx.broker;
    let mut unknown = Vec::new();
    let mut wanted = Vec::new();
    for t in &req.topics {
        let info = broker.topics.get(t.name.as_str());
        for p in &t.partitions {
            let i = p.partition_index;
            let exists = info
                .as_ref()
                .is_some_and(|info| info.partition(i).is_some());
            if exists {
                wanted.push((t.name.to_string(), i));
            } else {
                unknown.push((t.name.to_string(), i, code::UNKNOWN_TOPIC_OR_PARTITION));
            }
        }
    }
    let mut results =
        match broker
            .groups
            .delete_offsets(&broker.topics, req.group_id.as_str(), wanted)
        {
            Ok(r) => r,
            Err(e) => return OffsetDeleteResponse::default().with_error_code(e),
        };
    results.extend(unknown);
    let mut topics: Vec<OffsetDeleteResponseTopic> = Vec::new();
    for (t, p, e) in results {
        let part = OffsetDeleteResponsePartition::default()
            .with_partition_index(p)
            .with_error_code(e);
        match topics.iter_mut().find(|x| x.name.as_str() == t) {
            Some(x) => x.partitions.push(part),
            None => topics.push(
                OffsetDeleteResponseTopic::default()
                    .with_name(TopicName(s(t)))
                    .with_partitions(vec![part]),
            ),
        }
    }
    OffsetDeleteResponse::default().with_topics(topics)
}
