//! DeleteTopics: removes topics (by name, or by id from v6) and their data.

use kafka_protocol::messages::delete_topics_response::DeletableTopicResult;
use kafka_protocol::messages::{DeleteTopicsRequest, DeleteTopicsResponse, TopicName};

use super::{s, Ctx};
use crate::error::code;

pub fn handle(ctx: &Ctx<'_>, req: DeleteTopicsRequest) -> DeleteTopicsResponse {
    let broker = ctx.broker;
    // v0-5 send names; v6 sends (name or id) pairs.
    let mut wanted: Vec<(Option<TopicName>, uuid::Uuid)> = req
        .topic_names
        .into_iter()
        .map(|n| (Some(n), uuid::Uuid::nil()))
        .collect();
    wanted.extend(req.topics.into_iter().map(|t| (t.name, t.topic_id)));

    let mut responses = Vec::with_capacity(wanted.len());
    for (name, id) in wanted {
        let found = match &name {
            Some(n) => broker.topics.get(n.as_str()),
            None => broker.topics.get_by_id(&id),
        };
        let mut r = DeletableTopicResult::default()
            .with_name(name.clone())
            .with_topic_id(id);
        let Some(info) = found else {
            let err = if name.is_some() {
                code::UNKNOWN_TOPIC_OR_PARTITION
            } else {
                code::UNKNOWN_TOPIC_ID
            };
            responses.push(
                r.with_error_code(err)
                    .with_error_message(Some(s("This server does not host this topic."))),
            );
            continue;
        };
        r = r
            .with_name(Some(TopicName(s(info.name.to_string()))))
            .with_topic_id(info.id);
        if let Err(refusal) = crate::internal_topics::check_delete_topic(&info.name) {
            responses.push(
                r.with_error_code(refusal.code)
                    .with_error_message(Some(s(refusal.message))),
            );
            continue;
        }
        if !broker.config.delete_topic_enable {
            // TOPIC_DELETION_DISABLED is v3+; Kafka answers older versions INVALID_REQUEST.
            let err = if ctx.version < 3 {
                code::INVALID_REQUEST
            } else {
                code::TOPIC_DELETION_DISABLED
            };
            responses.push(r.with_error_code(err).with_error_message(Some(s(
                "Topic deletion is disabled (delete.topic.enable=false).",
            ))));
            continue;
        }
        match broker.topics.delete(&info.name) {
            Ok(_) => responses.push(r),
            Err(e) => responses.push(
                r.with_error_code(e.code())
                    .with_error_message(Some(s(e.to_string()))),
            ),
        }
    }
    DeleteTopicsResponse::default().with_responses(responses)
}
