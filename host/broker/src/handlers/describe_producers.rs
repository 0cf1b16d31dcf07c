//! DescribeProducers (API 61, what `kafka-transactions.sh describe-producers` sends): the producer
//! state of each requested partition — producer id, epoch, last sequence and timestamp, the epoch of
//! the coordinator that wrote its last marker, and where its open transaction started (-1: none).
//! Reads each partition's state under its lock: the dispatcher runs this on a blocking thread.

use kafka_protocol::messages::describe_producers_response::{
    PartitionResponse, ProducerState, TopicResponse,
};
use kafka_protocol::messages::{DescribeProducersRequest, DescribeProducersResponse, ProducerId};

use super::{s, Ctx};
use crate::error::code;

pub fn handle(ctx: &Ctx<'_>, req: DescribeProducersRequest) -> DescribeProducersResponse {
    let mut topics = Vec::with_capacity(req.topics.len());
    for t in req.topics {
        let topic = ctx.broker.topics.get(t.name.as_str());
        let mut partitions = Vec::with_capacity(t.partition_indexes.len());
        for index in t.partition_indexes {
            let resp = PartitionResponse::default().with_partition_index(index);
            let Some(p) = topic.as_ref().and_then(|t| t.partition(index)) else {
                partitions.push(
                    resp.with_error_code(code::UNKNOWN_TOPIC_OR_PARTITION)
                        .with_error_message(Some(s(format!(
                            "unknown topic or partition {}-{index}",
                            t.name.as_str()
                        )))),
                );
                continue;
            };
            partitions.push(match p.producers() {
                Ok(producers) => resp.with_active_producers(
                    producers
                        .into_iter()
                        .map(|(id, e)| {
                            ProducerState::default()
                                .with_producer_id(ProducerId(id))
                                .with_producer_epoch(i32::from(e.epoch))
                                .with_last_sequence(e.last_sequence())
                                .with_last_timestamp(e.last_timestamp)
                                .with_coordinator_epoch(e.coordinator_epoch)
                                .with_current_txn_start_offset(
                                    e.current_txn_first_offset.unwrap_or(-1),
                                )
                        })
                        .collect(),
                ),
                Err(e) => resp
                    .with_error_code(e.code(code::UNKNOWN_TOPIC_OR_PARTITION))
                    .with_error_message(Some(s(e.to_string()))),
            });
        }
        topics.push(
            TopicResponse::default()
                .with_name(t.name)
                .with_partitions(partitions),
        );
    }
    DescribeProducersResponse::default().with_topics(topics)
}
