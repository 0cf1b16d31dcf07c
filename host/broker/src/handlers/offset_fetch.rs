//! OffsetFetch: a group's committed offsets (all of them when no topics are named); v8+ ask for
//! several groups at once.

use kafka_protocol::messages::offset_fetch_response::{
    OffsetFetchResponseGroup, OffsetFetchResponsePartition, OffsetFetchResponsePartitions,
    OffsetFetchResponseTopic, OffsetFetchResponseTopics,
};
use kafka_protocol::messages::{OffsetFetchRequest, OffsetFetchResponse, TopicName};

use super::{s, Ctx};
use crate::error::code;
use crate::groups::GroupOffsets;

/// One partition's answer: (partition, offset, leader epoch, metadata). No offset = -1 and "".
type Answer = (i32, i64, i32, String);

/// The committed offsets asked for, grouped by topic; `None` topics means every committed one.
fn lookup(
    offsets: &GroupOffsets,
    wanted: Option<Vec<(String, Vec<i32>)>>,
) -> Vec<(String, Vec<Answer>)> {
    match wanted {
        Some(topics) => topics
            .into_iter()
            .map(|(t, parts)| {
                let answers = parts
                    .into_iter()
                    .map(|p| match offsets.get(&(t.clone(), p)) {
                        Some(c) => (p, c.offset, c.leader_epoch, c.metadata.clone()),
                        None => (p, -1, -1, String::new()),
                    })
                    .collect();
                (t, answers)
            })
            .collect(),
        None => {
            let mut out: Vec<(String, Vec<Answer>)> = Vec::new();
            for ((t, p), c) in offsets {
                let a = (*p, c.offset, c.leader_epoch, c.metadata.clone());
                match out.last_mut() {
                    Some((last, v)) if last == t => v.push(a),
                    _ => out.push((t.clone(), vec![a])),
                }
            }
            out
        }
    }
}

pub fn handle(ctx: &Ctx<'_>, req: OffsetFetchRequest) -> OffsetFetchResponse {
    let groups = &ctx.broker.groups;
    if ctx.version >= 8 {
        let results = req
            .groups
            .into_iter()
            .map(|g| {
                let wanted = g.topics.map(|ts| {
                    ts.into_iter()
                        .map(|t| (t.name.to_string(), t.partition_indexes))
                        .collect()
                });
                let offsets = groups.offsets(g.group_id.as_str());
                let topics = lookup(&offsets, wanted)
                    .into_iter()
                    .map(|(t, answers)| {
                        OffsetFetchResponseTopics::default()
                            .with_name(TopicName(s(t)))
                            .with_partitions(
                                answers
                                    .into_iter()
                                    .map(|(p, o, e, m)| {
                                        OffsetFetchResponsePartitions::default()
                                            .with_partition_index(p)
                                            .with_committed_offset(o)
                                            .with_committed_leader_epoch(e)
                                            .with_metadata(Some(s(m)))
                                    })
                                    .collect(),
                            )
                    })
                    .collect();
                OffsetFetchResponseGroup::default()
                    .with_group_id(g.group_id)
                    .with_topics(topics)
            })
            .collect();
        return OffsetFetchResponse::default().with_groups(results);
    }
    let wanted = req.topics.map(|ts| {
        ts.into_iter()
            .map(|t| (t.name.to_string(), t.partition_indexes))
            .collect()
    });
    let offsets = groups.offsets(req.group_id.as_str());
    let topics = lookup(&offsets, wanted)
        .into_iter()
        .map(|(t, answers)| {
            OffsetFetchResponseTopic::default()
                .with_name(TopicName(s(t)))
                .with_partitions(
                    answers
                        .into_iter()
                        .map(|(p, o, e, m)| {
                            OffsetFetchResponsePartition::default()
                                .with_partition_index(p)
                                .with_committed_offset(o)
                                .with_committed_leader_epoch(e)
                                .with_metadata(Some(s(m)))
                        })
                        .collect(),
                )
        })
        .collect();
    OffsetFetchResponse::default()
        .with_topics(topics)
        .with_error_code(code::NONE)
}
