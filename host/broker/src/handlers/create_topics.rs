//! CreateTopics: validates names, partition counts, replication factor and configs, then creates.

use std::collections::BTreeMap;

use kafka_protocol::messages::create_topics_response::{
    CreatableTopicConfigs, CreatableTopicResult,
};
use kafka_protocol::messages::{CreateTopicsRequest, CreateTopicsResponse};

use super::partition_budget;
use super::{configs, s, Ctx};
use crate::error::{code, BrokerError};

pub fn handle(ctx: &Ctx<'_>, req: CreateTopicsRequest) -> CreateTopicsResponse {
    let broker = ctx.broker;
    let node = broker.node_id();
    let mut results = Vec::with_capacity(req.topics.len());
    // v0 has no validate_only field: it always creates.
    let validate_only = ctx.version >= 1 && req.validate_only;
    if !within_budget(&req, broker.config.num_partitions) {
        for t in req.topics {
            results.push(
                CreatableTopicResult::default()
                    .with_name(t.name)
                    .with_num_partitions(-1)
                    .with_replication_factor(-1)
                    .with_error_code(code::POLICY_VIOLATION)
                    .with_error_message(Some(s(partition_budget::OVER_BUDGET))),
            );
        }
        return CreateTopicsResponse::default().with_topics(results);
    }
    for t in req.topics {
        let mut result = CreatableTopicResult::default()
            .with_name(t.name.clone())
            .with_num_partitions(-1)
            .with_replication_factor(-1);
        if let Err(refusal) = crate::internal_topics::check_create(t.name.as_str()) {
            results.push(
                result
                    .with_error_code(refusal.code)
                    .with_error_message(Some(s(refusal.message))),
            );
            continue;
        }
        let outcome = (|| -> Result<_, BrokerError> {
            let partitions = if !t.assignments.is_empty() {
                if t.num_partitions != -1 || t.replication_factor != -1 {
                    return Err(BrokerError::InvalidPartitions(
                        "give either replica assignments or partitions and replication factor, not both".into(),
                    ));
                }
                for (i, a) in t.assignments.iter().enumerate() {
                    if a.partition_index != i as i32 {
                        return Err(BrokerError::InvalidPartitions(
                            "replica assignments must cover partitions 0..n in order".into(),
                        ));
                    }
                    if a.broker_ids.len() != 1 || a.broker_ids[0].0 != node {
                        return Err(BrokerError::InvalidReplicationFactor(format!(
                            "assignment for partition {} names brokers {:?}; only broker {node} exists",
                            a.partition_index,
                            a.broker_ids.iter().map(|b| b.0).collect::<Vec<_>>()
                        )));
                    }
                }
                t.assignments.len() as i32
            } else if t.num_partitions == -1 {
                broker.config.num_partitions
            } else {
                t.num_partitions
            };
            if t.replication_factor != -1 && t.replication_factor != 1 {
                return Err(BrokerError::InvalidReplicationFactor(format!(
                    "replication factor {} is larger than the 1 available broker",
                    t.replication_factor
                )));
            }
            let mut overrides = BTreeMap::new();
            for c in &t.configs {
                if let Some(v) = &c.value {
                    overrides.insert(c.name.to_string(), v.to_string());
                }
            }
            broker
                .topics
                .create(t.name.as_str(), partitions, overrides, validate_only)
        })();
        match outcome {
            Ok(info) => {
                let entries = configs::topic_entries(broker, &info.overrides, None)
                    .into_iter()
                    .map(|e| {
                        CreatableTopicConfigs::default()
                            .with_name(e.name)
                            .with_value(e.value)
                            .with_read_only(e.read_only)
                            .with_config_source(e.config_source)
                            .with_is_sensitive(false)
                    })
                    .collect();
                let count = if info.partitions.is_empty() {
                    // validate_only: report what would have been created.
                    if t.num_partitions == -1 {
                        broker.config.num_partitions
                    } else {
                        t.num_partitions
                    }
                } else {
                    info.partitions.len() as i32
                };
                result = result
                    .with_topic_id(info.id)
                    .with_num_partitions(count)
                    .with_replication_factor(1)
                    .with_configs(Some(entries));
            }
            Err(e) => {
                result = result
                    .with_error_code(e.code())
                    .with_error_message(Some(s(e.to_string())));
                if e.code() == code::TOPIC_ALREADY_EXISTS {
                    result.error_message =
                        Some(s(format!("Topic '{}' already exists.", t.name.as_str())));
                }
            }
        }
        results.push(result);
    }
    CreateTopicsResponse::default().with_topics(results)
}

/// Whether the partitions the request asks for, over all its topics, fit one request's budget.
/// Counted as Kafka counts them: assignments when given, else the count (the broker default for
/// -1); a count that is invalid anyway adds nothing and is refused per topic later.
fn within_budget(req: &CreateTopicsRequest, default_partitions: i32) -> bool {
    partition_budget::fits(req.topics.iter().map(|t| {
        if !t.assignments.is_empty() {
            t.assignments.len() as u64
        } else if t.num_partitions == -1 {
            u64::try_from(default_partitions).unwrap_or(0)
        } else {
            u64::try_from(t.num_partitions).unwrap_or(0)
        }
    }))
}
