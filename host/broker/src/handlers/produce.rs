//! Produce: validates and appends each partition's record batches; batches are stored verbatim.

use kafka_protocol::messages::produce_response::{PartitionProduceResponse, TopicProduceResponse};
use kafka_protocol::messages::{ProduceRequest, ProduceResponse};

use super::{s, Ctx};
use crate::error::code;
use crate::maintenance::now_ms;
use crate::partition::PartitionError;

/// Returns `None` for acks=0, where Kafka sends no response at all.
pub fn handle(ctx: &Ctx<'_>, req: ProduceRequest) -> Option<ProduceResponse> {
    let now = now_ms();
    let acks_valid = matches!(req.acks, -1..=1);
    let by_id = ctx.version >= 13;
    let mut responses = Vec::with_capacity(req.topic_data.len());
    for td in req.topic_data {
        let topic = if by_id {
            ctx.broker.topics.get_by_id(&td.topic_id)
        } else {
            ctx.broker.topics.get(td.name.as_str())
        };
        let missing = if by_id {
            code::UNKNOWN_TOPIC_ID
        } else {
            code::UNKNOWN_TOPIC_OR_PARTITION
        };
        let mut parts = Vec::with_capacity(td.partition_data.len());
        for pd in td.partition_data {
            let mut resp = PartitionProduceResponse::default()
                .with_index(pd.index)
                .with_base_offset(-1)
                .with_log_append_time_ms(-1)
                .with_log_start_offset(-1);
            let partition = topic.as_ref().and_then(|t| {
                usize::try_from(pd.index)
                    .ok()
                    .and_then(|i| t.partitions.get(i))
            });
            let result = if !acks_valid {
                Err((
                    code::INVALID_REQUIRED_ACKS,
                    format!("acks must be -1, 0 or 1, got {}", req.acks),
                ))
            } else if let Some(Err(refusal)) = topic
                .as_ref()
                .map(|t| crate::internal_topics::check_produce(&t.name))
            {
                Err(refusal.into())
            } else if let Some(p) = partition {
                match pd.records.as_deref() {
                    None | Some([]) => Err((
                        code::INVALID_RECORD,
                        "produce request carries no records".to_string(),
                    )),
                    Some(records) => match p.append(records, now) {
                        Ok(info) => Ok(info),
                        Err(PartitionError::Deleted) => {
                            Err((missing, "partition was deleted".to_string()))
                        }
                        Err(PartitionError::Log(e)) => {
                            tracing::debug!(topic = %p.topic, partition = p.index, error = %e, "rejected produce");
                            Err((crate::error::log_error_code(&e), e.to_string()))
                        }
                    },
                }
            } else {
                Err((
                    missing,
                    format!(
                        "unknown topic or partition {}-{}",
                        td.name.as_str(),
                        pd.index
                    ),
                ))
            };
            match result {
                Ok(info) => {
                    resp = resp
                        .with_base_offset(info.base_offset)
                        .with_log_append_time_ms(info.log_append_time)
                        .with_log_start_offset(info.log_start_offset);
                }
                Err((error, message)) => {
                    resp = resp
                        .with_error_code(error)
                        .with_error_message(Some(s(message)));
                }
            }
            parts.push(resp);
        }
        responses.push(
            TopicProduceResponse::default()
                .with_name(td.name)
                .with_topic_id(td.topic_id)
                .with_partition_responses(parts),
        );
    }
    if req.acks == 0 {
        return None;
    }
    Some(ProduceResponse::default().with_responses(responses))
}
