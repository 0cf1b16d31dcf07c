//! Sink offsets: the committed offsets of the connector's consumer group (`connect-<name>`),
//! shown and changed in KIP-875's shape (`kafka_topic`, `kafka_partition`, `kafka_offset`).

use std::time::Duration;

use rdkafka::admin::{AdminClient, AdminOptions};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::{Offset, TopicPartitionList};
use serde_json::json;

use super::OffsetError;
use crate::model::{ConnectorOffset, ConnectorOffsets};
use crate::task::clients::block_on;

const TIMEOUT: Duration = Duration::from_secs(30);

/// The consumer group of a sink connector.
pub fn group_id(connector: &str) -> String {
    format!("connect-{connector}")
}

fn consumer(config: &ClientConfig, group: &str) -> Result<BaseConsumer, OffsetError> {
    let mut c = config.clone();
    c.set("group.id", group);
    c.create()
        .map_err(|e| OffsetError::Kafka(format!("cannot create a consumer: {e}")))
}

/// The group's committed offsets, for every partition of every topic that has one.
pub fn read(config: &ClientConfig, connector: &str) -> Result<ConnectorOffsets, OffsetError> {
    let c = consumer(config, &group_id(connector))?;
    let md = c
        .fetch_metadata(None, TIMEOUT)
        .map_err(|e| OffsetError::Kafka(format!("cannot read the cluster's topics: {e}")))?;
    let mut tpl = TopicPartitionList::new();
    for t in md.topics() {
        for p in t.partitions() {
            tpl.add_partition(t.name(), p.id());
        }
    }
    if tpl.count() == 0 {
        return Ok(ConnectorOffsets::default());
    }
    let committed = c
        .committed_offsets(tpl, TIMEOUT)
        .map_err(|e| OffsetError::Kafka(format!("cannot read committed offsets: {e}")))?;
    let mut offsets = Vec::new();
    for e in committed.elements() {
        if let Offset::Offset(o) = e.offset() {
            offsets.push(ConnectorOffset {
                partition: json!({"kafka_topic": e.topic(), "kafka_partition": e.partition()}),
                offset: json!({ "kafka_offset": o }),
            });
        }
    }
    Ok(ConnectorOffsets { offsets })
}

/// Commits the offsets of a KIP-875 PATCH body for the group (a null offset is refused here:
/// Kafka resets single partitions by deleting them, which a plain commit cannot express).
pub fn alter(
    config: &ClientConfig,
    connector: &str,
    body: &ConnectorOffsets,
) -> Result<(), OffsetError> {
    let mut tpl = TopicPartitionList::new();
    for o in &body.offsets {
        let topic = o
            .partition
            .get("kafka_topic")
            .and_then(|v| v.as_str())
            .ok_or_else(|| bad("partition", "kafka_topic", "a string"))?;
        let partition = o
            .partition
            .get("kafka_partition")
            .and_then(|v| v.as_i64())
            .and_then(|v| i32::try_from(v).ok())
            .filter(|p| *p >= 0)
            .ok_or_else(|| bad("partition", "kafka_partition", "a non-negative integer"))?;
        let offset = match &o.offset {
            serde_json::Value::Null => {
                return Err(OffsetError::BadRequest(format!(
                    "resetting a single partition ({topic}-{partition}) of a sink connector is not supported; \
                     use DELETE /connectors/{connector}/offsets to reset them all"
                )))
            }
            v => v
                .get("kafka_offset")
                .and_then(|v| v.as_i64())
                .filter(|o| *o >= 0)
                .ok_or_else(|| bad("offset", "kafka_offset", "a non-negative integer"))?,
        };
        tpl.add_partition_offset(topic, partition, Offset::Offset(offset))
            .map_err(|e| OffsetError::BadRequest(e.to_string()))?;
    }
    if tpl.count() == 0 {
        return Ok(());
    }
    let c = consumer(config, &group_id(connector))?;
    c.commit(&tpl, CommitMode::Sync).map_err(|e| {
        OffsetError::Kafka(format!(
            "cannot commit offsets for the connector's group: {e}"
        ))
    })
}

/// Deletes the group, and with it every committed offset.
pub fn reset(config: &ClientConfig, connector: &str) -> Result<(), OffsetError> {
    let admin: AdminClient<DefaultClientContext> = config
        .create()
        .map_err(|e| OffsetError::Kafka(format!("cannot create an admin client: {e}")))?;
    let group = group_id(connector);
    let opts = AdminOptions::new().operation_timeout(Some(TIMEOUT));
    let results = block_on(admin.delete_groups(&[group.as_str()], &opts))
        .map_err(OffsetError::Kafka)?
        .map_err(|e| OffsetError::Kafka(format!("cannot delete group {group}: {e}")))?;
    for r in results {
        if let Err((_, code)) = r {
            // A group that never committed anything has nothing to reset.
            if code != rdkafka::types::RDKafkaErrorCode::GroupIdNotFound {
                return Err(OffsetError::Kafka(format!(
                    "cannot delete group {group}: {code}"
                )));
            }
        }
    }
    Ok(())
}

fn bad(part: &str, key: &str, what: &str) -> OffsetError {
    OffsetError::BadRequest(format!(
        "every sink offset's {part} must have `{key}` as {what}"
    ))
}
