//! ListOffsets: earliest, latest, max-timestamp, or the first offset at or after a timestamp.
//! Timestamp lookups scan the log: the dispatcher runs this handler on a blocking thread.
//!
//! As Kafka's `fetchOffsetForTimestamp`: under isolation_level=1 (read_committed) "latest" is the last
//! stable offset, and a timestamp or max-timestamp lookup answers only an offset below it (none
//! otherwise).

use kafka_protocol::messages::list_offsets_response::{
    ListOffsetsPartitionResponse, ListOffsetsTopicResponse,
};
use kafka_protocol::messages::{ListOffsetsRequest, ListOffsetsResponse};

use super::Ctx;
use crate::error::code;
use crate::partition::LEADER_EPOCH;

const LATEST: i64 = -1;
const EARLIEST: i64 = -2;
const MAX_TIMESTAMP: i64 = -3;
const EARLIEST_LOCAL: i64 = -4;
const LATEST_TIERED: i64 = -5;

/// Whether `req` looks up offsets by timestamp (a log scan: the dispatcher then runs it on a blocking thread).
pub fn scans(req: &ListOffsetsRequest) -> bool {
    req.topics
        .iter()
        .flat_map(|t| t.partitions.iter())
        .any(|p| p.timestamp >= 0 || p.timestamp == MAX_TIMESTAMP)
}

pub fn handle(ctx: &Ctx<'_>, req: ListOffsetsRequest) -> ListOffsetsResponse {
    let read_committed = req.isolation_level == 1;
    let mut topics = Vec::with_capacity(req.topics.len());
    for t in req.topics {
        let topic = ctx.broker.topics.get(t.name.as_str());
        let mut parts = Vec::with_capacity(t.partitions.len());
        for rp in t.partitions {
            let resp = ListOffsetsPartitionResponse::default()
                .with_partition_index(rp.partition_index)
                .with_timestamp(-1)
                .with_offset(-1)
                .with_leader_epoch(LEADER_EPOCH);
            let partition = topic.as_ref().and_then(|t| t.partition(rp.partition_index));
            let Some(p) = partition else {
                parts.push(resp.with_error_code(code::UNKNOWN_TOPIC_OR_PARTITION));
                continue;
            };
            // The offset a consumer of this isolation level may read up to.
            let fetchable = |end: i64| {
                if read_committed {
                    p.last_stable_offset().min(end)
                } else {
                    end
                }
            };
            let looked_up = match rp.timestamp {
                LATEST => p.offsets().map(|(_, end)| Some((-1, fetchable(end)))),
                EARLIEST | EARLIEST_LOCAL => p.offsets().map(|(start, _)| Some((-1, start))),
                // No tiered storage: nothing has been tiered.
                LATEST_TIERED => p.offsets().map(|_| Some((-1, -1))),
                MAX_TIMESTAMP => p.max_timestamp_offset().map(|r| r.map(|(o, ts)| (ts, o))),
                ts => p.offset_for_timestamp(ts).map(|r| r.map(|(o, ts)| (ts, o))),
            };
            let by_time = rp.timestamp >= 0 || rp.timestamp == MAX_TIMESTAMP;
            let looked_up = match looked_up {
                Ok(Some((_, offset))) if by_time && read_committed => match p.offsets() {
                    Ok((_, end)) if offset >= fetchable(end) => Ok(None),
                    Ok(_) => looked_up,
                    Err(e) => Err(e),
                },
                other => other,
            };
            let resp = match looked_up {
                Ok(Some((ts, offset))) => resp.with_timestamp(ts).with_offset(offset),
                Ok(None) => resp,
                Err(e) => resp.with_error_code(e.code(code::UNKNOWN_TOPIC_OR_PARTITION)),
            };
            parts.push(resp);
        }
        topics.push(
            ListOffsetsTopicResponse::default()
                .with_name(t.name)
                .with_partitions(parts),
        );
    }
    ListOffsetsResponse::default().with_topics(topics)
}
