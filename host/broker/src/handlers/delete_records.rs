//! DeleteRecords: advances a partition's log start offset (offset -1 means the high watermark).

use kafka_protocol::messages::delete_records_response::{
    DeleteRecordsPartitionResult, DeleteRecordsTopicResult,
};
use kafka_protocol::messages::{DeleteRecordsRequest, DeleteRecordsResponse};

use super::Ctx;
use crate::error::{code, log_error_code};
use crate::partition::PartitionError;

pub fn handle(ctx: &Ctx<'_>, req: DeleteRecordsRequest) -> DeleteRecordsResponse {
    let mut topics = Vec::with_capacity(req.topics.len());
    for t in req.topics {
        let topic = ctx.broker.topics.get(t.name.as_str());
        let mut parts = Vec::with_capacity(t.partitions.len());
        for rp in t.partitions {
            let r = DeleteRecordsPartitionResult::default()
                .with_partition_index(rp.partition_index)
                .with_low_watermark(-1);
            let partition = topic.as_ref().and_then(|t| {
                usize::try_from(rp.partition_index)
                    .ok()
                    .and_then(|i| t.partitions.get(i))
            });
            if crate::internal_topics::check_delete_records(t.name.as_str()).is_err() {
                parts.push(r.with_error_code(code::INVALID_TOPIC_EXCEPTION));
                continue;
            }
            let Some(p) = partition else {
                parts.push(r.with_error_code(code::UNKNOWN_TOPIC_OR_PARTITION));
                continue;
            };
            let outcome = p.with_log(|log| {
                let end = log.log_end_offset();
                let target = if rp.offset == -1 { end } else { rp.offset };
                if target < 0 || target > end {
                    return Err(code::OFFSET_OUT_OF_RANGE);
                }
                log.delete_records_before(target)
                    .map_err(|e| log_error_code(&e))
            });
            parts.push(match outcome {
                Ok(Ok(low)) => r.with_low_watermark(low),
                Ok(Err(c)) => r.with_error_code(c),
                Err(PartitionError::Deleted) => r.with_error_code(code::UNKNOWN_TOPIC_OR_PARTITION),
                Err(PartitionError::Log(e)) => r.with_error_code(log_error_code(&e)),
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
