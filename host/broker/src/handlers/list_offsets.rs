//! ListOffsets: earliest, latest, max-timestamp, or the first offset at or after a timestamp.

use kafka_protocol::messages::list_offsets_response::{
    ListOffsetsPartitionResponse, ListOffsetsTopicResponse,
};
use kafka_protocol::messages::{ListOffsetsRequest, ListOffsetsResponse};

use super::Ctx;
use crate::error::{code, log_error_code};
use crate::partition::{PartitionError, LEADER_EPOCH};

const LATEST: i64 = -1;
const EARLIEST: i64 = -2;
const MAX_TIMESTAMP: i64 = -3;
const EARLIEST_LOCAL: i64 = -4;
const LATEST_TIERED: i64 = -5;

pub fn handle(ctx: &Ctx<'_>, req: ListOffsetsRequest) -> ListOffsetsResponse {
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
            let partition = topic.as_ref().and_then(|t| {
                usize::try_from(rp.partition_index)
                    .ok()
                    .and_then(|i| t.partitions.get(i))
            });
            let Some(p) = partition else {
                parts.push(resp.with_error_code(code::UNKNOWN_TOPIC_OR_PARTITION));
                continue;
            };
            let looked_up = p.with_log(|log| -> Result<Option<(i64, i64)>, weft_log::LogError> {
                Ok(match rp.timestamp {
                    LATEST => Some((-1, log.log_end_offset())),
                    EARLIEST | EARLIEST_LOCAL => Some((-1, log.log_start_offset())),
                    // No tiered storage: nothing has been tiered.
                    LATEST_TIERED => Some((-1, -1)),
                    MAX_TIMESTAMP => log.max_timestamp_offset()?.map(|(o, ts)| (ts, o)),
                    ts => log.offset_for_timestamp(ts)?.map(|(o, ts)| (ts, o)),
                })
            });
            let resp = match looked_up {
                Ok(Ok(Some((ts, offset)))) => resp.with_timestamp(ts).with_offset(offset),
                Ok(Ok(None)) => resp,
                Ok(Err(e)) => resp.with_error_code(log_error_code(&e)),
                Err(PartitionError::Deleted) => {
                    resp.with_error_code(code::UNKNOWN_TOPIC_OR_PARTITION)
                }
                Err(PartitionError::Log(e)) => resp.with_error_code(log_error_code(&e)),
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
