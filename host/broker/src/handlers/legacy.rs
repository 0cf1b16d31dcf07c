//! Request versions Kafka 4.0 removed (KIP-896) that Kafka 3.9 still served and that need no pre-v2
//! record format: ListOffsets v0 and OffsetCommit/OffsetFetch v0. Tools built on older client libraries
//! (sarama configured for 0.8–0.10) still send them. The kafka-protocol patch that decodes them is
//! described in `vendor/kafka-protocol/WEFT-PATCH.md`. The other versions it adds back (CreateTopics
//! v0–v1, DeleteTopics v0, DescribeConfigs v0) need no answer of their own: their handlers serve them.

use kafka_protocol::messages::list_offsets_response::{
    ListOffsetsPartitionResponse, ListOffsetsTopicResponse,
};
use kafka_protocol::messages::offset_commit_response::{
    OffsetCommitResponsePartition, OffsetCommitResponseTopic,
};
use kafka_protocol::messages::offset_fetch_response::{
    OffsetFetchResponsePartition, OffsetFetchResponseTopic,
};
use kafka_protocol::messages::{
    ListOffsetsRequest, ListOffsetsResponse, OffsetCommitRequest, OffsetCommitResponse,
    OffsetFetchRequest, OffsetFetchResponse,
};

use super::Ctx;
use crate::error::code;

const LATEST: i64 = -1;
const EARLIEST: i64 = -2;

/// ListOffsets v0: a list of at most `max_num_offsets` offsets per partition. Latest answers the log end
/// offset and earliest the log start offset, as Kafka's legacy lookup does for its first element. A
/// timestamp answers the first offset whose record timestamp is at or after it (the log end if none):
/// Kafka 3.9 chose by segment file modification time, a storage detail this log does not keep. Other
/// negative timestamps are UNSUPPORTED_VERSION, as in Kafka. Timestamp lookups scan the log, so the
/// dispatcher runs this on a blocking thread when [`super::list_offsets::scans`] says so.
pub fn list_offsets_v0(ctx: &Ctx<'_>, req: ListOffsetsRequest) -> ListOffsetsResponse {
    let topics = req
        .topics
        .into_iter()
        .map(|t| {
            let topic = ctx.broker.topics.get(t.name.as_str());
            let partitions = t
                .partitions
                .into_iter()
                .map(|rp| {
                    let resp = ListOffsetsPartitionResponse::default()
                        .with_partition_index(rp.partition_index);
                    if rp.timestamp < EARLIEST {
                        return resp.with_error_code(code::UNSUPPORTED_VERSION);
                    }
                    let Some(p) = topic.as_ref().and_then(|t| t.partition(rp.partition_index))
                    else {
                        return resp.with_error_code(code::UNKNOWN_TOPIC_OR_PARTITION);
                    };
                    let found = match rp.timestamp {
                        LATEST => p.offsets().map(|(_, end)| end),
                        EARLIEST => p.offsets().map(|(start, _)| start),
                        ts => p.offset_for_timestamp(ts).and_then(|r| match r {
                            Some((offset, _)) => Ok(offset),
                            None => p.offsets().map(|(_, end)| end),
                        }),
                    };
                    match found {
                        Ok(offset) if rp.max_num_offsets > 0 => {
                            resp.with_old_style_offsets(vec![offset])
                        }
                        Ok(_) => resp,
                        Err(e) => resp.with_error_code(e.code(code::UNKNOWN_TOPIC_OR_PARTITION)),
                    }
                })
                .collect();
            ListOffsetsTopicResponse::default()
                .with_name(t.name)
                .with_partitions(partitions)
        })
        .collect();
    ListOffsetsResponse::default().with_topics(topics)
}

/// OffsetCommit v0 stored offsets in ZooKeeper; Kafka 3.9 without ZooKeeper (KRaft) answers every
/// partition UNSUPPORTED_VERSION in the response's own shape, and so does this broker, which has no
/// separate store for them. v1 goes through the normal handler.
pub fn offset_commit_v0(req: OffsetCommitRequest) -> OffsetCommitResponse {
    let topics = req
        .topics
        .into_iter()
        .map(|t| {
            let partitions = t
                .partitions
                .iter()
                .map(|p| {
                    OffsetCommitResponsePartition::default()
                        .with_partition_index(p.partition_index)
                        .with_error_code(code::UNSUPPORTED_VERSION)
                })
                .collect();
            OffsetCommitResponseTopic::default()
                .with_name(t.name)
                .with_partitions(partitions)
        })
        .collect();
    OffsetCommitResponse::default().with_topics(topics)
}

/// OffsetFetch v0 read ZooKeeper-stored offsets: answered as Kafka 3.9 in KRaft mode does, every named
/// partition UNSUPPORTED_VERSION (v0 cannot ask for all topics).
pub fn offset_fetch_v0(req: OffsetFetchRequest) -> OffsetFetchResponse {
    let topics = req
        .topics
        .unwrap_or_default()
        .into_iter()
        .map(|t| {
            let partitions = t
                .partition_indexes
                .iter()
                .map(|p| {
                    OffsetFetchResponsePartition::default()
                        .with_partition_index(*p)
                        .with_committed_offset(-1)
                        .with_metadata(Some(super::s("")))
                        .with_error_code(code::UNSUPPORTED_VERSION)
                })
                .collect();
            OffsetFetchResponseTopic::default()
                .with_name(t.name)
                .with_partitions(partitions)
        })
        .collect();
    OffsetFetchResponse::default().with_topics(topics)
}
