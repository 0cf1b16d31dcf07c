//! Metadata: brokers, topics and partition leaders; creates missing topics when auto-creation is on.

use std::collections::BTreeMap;
use std::sync::Arc;

use kafka_protocol::messages::metadata_response::{
    MetadataResponseBroker, MetadataResponsePartition, MetadataResponseTopic,
};
use kafka_protocol::messages::{BrokerId, MetadataRequest, MetadataResponse, TopicName};

use super::{s, Ctx};
use crate::error::{code, BrokerError};
use crate::internal_topics;
use crate::partition::LEADER_EPOCH;
use crate::topics::TopicInfo;

/// "Authorized operations not requested" marker Kafka sends (Integer.MIN_VALUE).
pub const OPS_NOT_REQUESTED: i32 = i32::MIN;

/// Whether answering `req` creates topics (file I/O: the dispatcher then runs it on a blocking thread).
pub fn creates_topics(ctx: &Ctx<'_>, req: &MetadataRequest) -> bool {
    let may_create = ctx.broker.config.auto_create_topics_enable
        && (ctx.version < 4 || req.allow_auto_topic_creation);
    may_create
        && req.topics.iter().flatten().any(|t| {
            t.name
                .as_ref()
                .is_some_and(|n| ctx.broker.topics.get(n.as_str()).is_none())
        })
}

pub fn handle(ctx: &Ctx<'_>, req: MetadataRequest) -> MetadataResponse {
    let broker = ctx.broker;
    let node = broker.node_id();
    let adv = broker.advertised_for(ctx.listener);

    // v0: an empty list means all topics; v1+: null means all, empty means none.
    let wanted: Option<Vec<_>> = match req.topics {
        None => None,
        Some(t) if t.is_empty() && ctx.version == 0 => None,
        Some(t) => Some(t),
    };
    // v4+ lets the client say whether it wants auto-creation; before that it always applied.
    let may_create = broker.config.auto_create_topics_enable
        && (ctx.version < 4 || req.allow_auto_topic_creation);

    let mut topics = Vec::new();
    match wanted {
        None => {
            for t in broker.topics.list() {
                topics.push(topic_entry(&t, node, ctx.version));
            }
        }
        Some(list) => {
            for rt in list {
                let found = match &rt.name {
                    Some(n) => broker.topics.get(n.as_str()),
                    None => broker.topics.get_by_id(&rt.topic_id),
                };
                if let Some(t) = found {
                    topics.push(topic_entry(&t, node, ctx.version));
                    continue;
                }
                let Some(name) = rt.name else {
                    topics.push(
                        MetadataResponseTopic::default()
                            .with_error_code(code::UNKNOWN_TOPIC_ID)
                            .with_topic_id(rt.topic_id)
                            .with_topic_authorized_operations(OPS_NOT_REQUESTED),
                    );
                    continue;
                };
                let entry = if internal_topics::is_internal(name.as_str()) {
                    internal_entry(ctx, name, may_create)
                } else if may_create {
                    let parts = broker.config.num_partitions;
                    match broker
                        .topics
                        .create(name.as_str(), parts, BTreeMap::new(), false)
                    {
                        Ok(t) => topic_entry(&t, node, ctx.version),
                        // Another client created it first: report it as it is now.
                        Err(BrokerError::TopicExists(_)) => {
                            match broker.topics.get(name.as_str()) {
                                Some(t) => topic_entry(&t, node, ctx.version),
                                None => error_topic(name, code::LEADER_NOT_AVAILABLE),
                            }
                        }
                        Err(e) => error_topic(name, e.code()),
                    }
                } else if crate::topics::validate_topic_name(name.as_str()).is_err() {
                    error_topic(name, code::INVALID_TOPIC_EXCEPTION)
                } else {
                    error_topic(name, code::UNKNOWN_TOPIC_OR_PARTITION)
                };
                topics.push(entry);
            }
        }
    }

    MetadataResponse::default()
        .with_brokers(vec![MetadataResponseBroker::default()
            .with_node_id(BrokerId(node))
            .with_host(s(adv.host.clone()))
            .with_port(adv.port as i32)])
        .with_cluster_id(Some(s(broker.cluster_id.clone())))
        .with_controller_id(BrokerId(node))
        .with_topics(topics)
        .with_cluster_authorized_operations(OPS_NOT_REQUESTED)
}

/// A missing internal topic: when auto-creation applies, `__consumer_offsets` is created with its real
/// shape (as FindCoordinator does), never as an ordinary auto-created topic; Kafka does the same.
fn internal_entry(ctx: &Ctx<'_>, name: TopicName, may_create: bool) -> MetadataResponseTopic {
    let broker = ctx.broker;
    let missing =
        error_topic(name.clone(), code::UNKNOWN_TOPIC_OR_PARTITION).with_is_internal(true);
    if !may_create || name.as_str() != internal_topics::CONSUMER_OFFSETS {
        return missing;
    }
    if let Err(e) = broker.groups.ensure_offsets_topic(&broker.topics) {
        tracing::warn!(error = %e, "cannot create the offsets topic");
        return missing;
    }
    match broker.topics.get(name.as_str()) {
        Some(t) => topic_entry(&t, broker.node_id(), ctx.version),
        None => missing,
    }
}

fn error_topic(name: TopicName, error: i16) -> MetadataResponseTopic {
    MetadataResponseTopic::default()
        .with_error_code(error)
        .with_name(Some(name))
        .with_topic_authorized_operations(OPS_NOT_REQUESTED)
}

fn topic_entry(t: &Arc<TopicInfo>, node: i32, version: i16) -> MetadataResponseTopic {
    let partitions = t
        .partitions
        .iter()
        .map(|p| {
            MetadataResponsePartition::default()
                .with_partition_index(p.index)
                .with_leader_id(BrokerId(node))
                .with_leader_epoch(LEADER_EPOCH)
                .with_replica_nodes(vec![BrokerId(node)])
                .with_isr_nodes(vec![BrokerId(node)])
                // v5+ carries offline replicas (older versions cannot encode the field).
                .with_offline_replicas(if version >= 5 && p.log_dir().is_offline() {
                    vec![BrokerId(node)]
                } else {
                    Vec::new()
                })
        })
        .collect();
    MetadataResponseTopic::default()
        .with_name(Some(TopicName(s(t.name.to_string()))))
        .with_topic_id(t.id)
        .with_is_internal(internal_topics::is_internal(&t.name))
        .with_partitions(partitions)
        .with_topic_authorized_operations(OPS_NOT_REQUESTED)
}
