//! DeleteRecords: advances a partition's log start offset (offset -1 means the high watermark).
//! It deletes files: the dispatcher runs this handler on a blocking thread.

use kafka_protocol::messages::delete_records_response::{
    DeleteRecordsPartitionResult, DeleteRecordsTopicResult,
};
use kafka_protocol::messages::{DeleteRecordsRequest, DeleteRecordsResponse};

use super::Ctx;
use crate::error::code;

pub fn handle(ctx: &Ctx<'_>, req: DeleteRecordsRequest) -> DeleteRecordsResponse {
    let mut topics = Vec::with_capacity(req.topics.len());
    for t in req.topics {
        let topic = ctx.broker.topics.get(t.name.as_str());
        let mut parts = Vec::with_capacity(t.partitions.len());
        for rp in t.partitions {
            let r = DeleteRecordsPartitionResult::default()
                .with_partition_index(rp.partition_index)
                .with_low_watermark(-1);
            let partition = topic.as_ref().and_then(|t| t.partition(rp.partition_index));
            if crate::internal_topics::check_delete_records(t.name.as_str()).is_err() {
                parts.push(r.with_error_code(code::INVALID_TOPIC_EXCEPTION));
                continue;
            }
            let Some(p) = partition else {
                parts.push(r.with_error_code(code::UNKNOWN_TOPIC_OR_PARTITION));
                continue;
            };
            parts.push(match p.delete_records_before(rp.offset) {
                Ok(low) => r.with_low_watermark(low),
                Err(e) => r.with_error_code(e.code(code::UNKNOWN_TOPIC_OR_PARTITION)),
            });
        }
        topics.push(
            DeleteRecordsTopicResult::default()
                .with_name(t.name)
                .with_partitions(parts),
        );
    }
    DeleteRecordsResponse::default().with_topics(topics)
}
