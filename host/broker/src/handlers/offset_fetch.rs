//! OffsetFetch: a group's committed offsets (all of them when no topics are named); v8+ ask for
//! several groups at once. Offsets of a transaction not yet committed are not returned; with
//! `require_stable` (v7+, read_committed consumers) such a partition answers UNSTABLE_OFFSET_COMMIT,
//! which the client retries until the transaction ends.

use kafka_protocol::messages::offset_fetch_response::{
    OffsetFetchResponseGroup, OffsetFetchResponsePartition, OffsetFetchResponsePartitions,
    OffsetFetchResponseTopic, OffsetFetchResponseTopics,
};
use kafka_protocol::messages::{OffsetFetchRequest, OffsetFetchResponse, TopicName};

use super::{s, Ctx};
use crate::error::code;
use crate::groups::GroupOffsets;
use crate::txn::state::codes::UNSTABLE_OFFSET_COMMIT;

/// One partition's answer: (partition, offset, leader epoch, metadata, error). No offset = -1 and "".
type Answer = (i32, i64, i32, String, i16);

/// Marks partitions with a pending transactional offset when the client asked for stable offsets.
fn mark_unstable(
    groups: &crate::groups::Groups,
    group: &str,
    require_stable: bool,
    mut topics: Vec<(String, Vec<Answer>)>,
) -> Vec<(String, Vec<Answer>)> {
    if require_stable {
        for (t, answers) in &mut topics {
            for a in answers {
                if groups.has_pending_txn_offset(group, t, a.0) {
                    *a = (a.0, -1, -1, String::new(), UNSTABLE_OFFSET_COMMIT);
                }
            }
        }
    }
    topics
}

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
                        Some(c) => (p, c.offset, c.leader_epoch, c.metadata.clone(), code::NONE),
                        None => (p, -1, -1, String::new(), code::NONE),
                    })
                    .collect();
                (t, answers)
            })
            .collect(),
        None => {
            let mut out: Vec<(String, Vec<Answer>)> = Vec::new();
            for ((t, p), c) in offsets {
                let a = (*p, c.offset, c.leader_epoch, c.metadata.clone(), code::NONE);
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
                let found = lookup(&offsets, wanted);
                let topics = mark_unstable(groups, g.group_id.as_str(), req.require_stable, found)
                    .into_iter()
                    .map(|(t, answers)| {
                        OffsetFetchResponseTopics::default()
                            .with_name(TopicName(s(t)))
                            .with_partitions(
                                answers
                                    .into_iter()
                                    .map(|(p, o, e, m, err)| {
                                        OffsetFetchResponsePartitions::default()
                                            .with_error_code(err)
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
    let found = lookup(&offsets, wanted);
    let topics = mark_unstable(groups, req.group_id.as_str(), req.require_stable, found)
        .into_iter()
        .map(|(t, answers)| {
            OffsetFetchResponseTopic::default()
                .with_name(TopicName(s(t)))
                .with_partitions(
                    answers
                        .into_iter()
                        .map(|(p, o, e, m, err)| {
                            OffsetFetchResponsePartition::default()
                                .with_error_code(err)
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
