//! Source positions kept in a Kafka offsets topic, the store of exactly-once source tasks
//! (KIP-618), in the records Connect's distributed workers write: key
//! `["<connector>",<partition>]`, value `<position>` (JSON without schemas), a null value to
//! forget a partition. Positions that are JSON objects are embedded as they are; any other
//! text as a JSON string, so each reads back exactly as the connector wrote it.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use rdkafka::client::ClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::Message;
use rdkafka::producer::{BaseRecord, DefaultProducerContext, Producer, ThreadedProducer};
use rdkafka::{Offset, TopicPartitionList};
use serde_json::value::RawValue;

use super::OffsetError;
use crate::config::WorkerExactlyOnce;
use crate::task::clients::ensure_topic_with;

/// How long reading the topic to its end or writing to it may take.
pub const TIMEOUT: Duration = Duration::from_secs(60);

/// The largest key or value read back: far above any position, far below a memory risk.
const MAX_ENTRY_BYTES: usize = 1 << 20;

/// A position or partition as JSON: an object's own text, anything else as a JSON string.
fn embed(text: &str) -> String {
    let trimmed = text.trim();
    if trimmed.starts_with('{') && serde_json::from_str::<&RawValue>(trimmed).is_ok() {
        trimmed.to_string()
    } else {
        serde_json::Value::String(text.to_string()).to_string()
    }
}

/// The inverse of [`embed`]: a JSON string's contents, any other JSON as its text.
fn unembed(raw: &RawValue) -> Option<String> {
    let t = raw.get();
    if t.starts_with('"') {
        serde_json::from_str::<String>(t).ok()
    } else {
        Some(t.to_string())
    }
}

/// The record key of a connector's source partition.
pub fn key(connector: &str, partition: &str) -> Vec<u8> {
    format!(
        "[{},{}]",
        serde_json::Value::String(connector.to_string()),
        embed(partition)
    )
    .into_bytes()
}

/// The record value of a position.
pub fn value(position: &str) -> Vec<u8> {
    embed(position).into_bytes()
}

/// A record of the offsets topic as (connector, partition, position; `None`: forgotten), or
/// `None` for a record that is not a Connect source position.
pub fn decode(key: &[u8], value: Option<&[u8]>) -> Option<(String, String, Option<String>)> {
    if key.len() > MAX_ENTRY_BYTES || value.is_some_and(|v| v.len() > MAX_ENTRY_BYTES) {
        return None;
    }
    let (connector, partition): (String, &RawValue) = serde_json::from_slice(key).ok()?;
    let partition = unembed(partition)?;
    let position = match value {
        None => None,
        Some(v) => Some(unembed(serde_json::from_slice::<&RawValue>(v).ok()?)?),
    };
    Some((connector, partition, position))
}

/// Creates the offsets topic unless it exists: compacted, as Connect creates it, with the
/// worker's `offset.storage.partitions` and `offset.storage.replication.factor`.
pub fn ensure(
    admin_config: &ClientConfig,
    topic: &str,
    worker: &WorkerExactlyOnce,
) -> Result<(), OffsetError> {
    ensure_topic_with(
        admin_config,
        topic,
        worker.offsets_partitions,
        worker.offsets_replication,
        &[("cleanup.policy", "compact")],
    )
    .map_err(OffsetError::Kafka)
}

/// The reader's context: reaching a partition's end is how it knows it is done, not an error
/// for the log.
struct EndIsNews;

impl ClientContext for EndIsNews {
    fn error(&self, error: KafkaError, reason: &str) {
        let end = matches!(error, KafkaError::PartitionEOF(_))
            || error.rdkafka_error_code() == Some(RDKafkaErrorCode::PartitionEOF);
        if !end {
            tracing::error!(error = %error, reason, "offsets topic reader");
        }
    }
}

impl ConsumerContext for EndIsNews {}

/// Reads the offsets topic to its end, committed records only, and returns `connector`'s
/// positions as changes in the order they were written (`None`: forgotten).
pub fn read(
    consumer_config: &ClientConfig,
    topic: &str,
    connector: &str,
) -> Result<BTreeMap<String, Option<String>>, OffsetError> {
    let kafka = |what: &str, e: KafkaError| OffsetError::Kafka(format!("{what} {topic}: {e}"));
    let mut config = consumer_config.clone();
    config
        .set("group.id", "weft-connect-offsets-reader")
        .set("isolation.level", "read_committed")
        .set("enable.partition.eof", "true")
        .set("enable.auto.commit", "false")
        .set("auto.offset.reset", "earliest");
    let consumer: BaseConsumer<EndIsNews> = config
        .create_with_context(EndIsNews)
        .map_err(|e| kafka("cannot create a consumer for", e))?;
    let md = consumer
        .fetch_metadata(Some(topic), TIMEOUT)
        .map_err(|e| kafka("cannot read the metadata of", e))?;
    let mut assignment = TopicPartitionList::new();
    let mut pending = std::collections::BTreeSet::new();
    for t in md.topics().iter().filter(|t| t.name() == topic) {
        if t.error().is_some() {
            // Not created yet: nothing stored.
            return Ok(BTreeMap::new());
        }
        for p in t.partitions() {
            let (low, high) = consumer
                .fetch_watermarks(topic, p.id(), TIMEOUT)
                .map_err(|e| kafka("cannot read the end offsets of", e))?;
            if high > low {
                assignment
                    .add_partition_offset(topic, p.id(), Offset::Beginning)
                    .map_err(|e| kafka("cannot assign", e))?;
                pending.insert(p.id());
            }
        }
    }
    let mut out = BTreeMap::new();
    if pending.is_empty() {
        return Ok(out);
    }
    consumer
        .assign(&assignment)
        .map_err(|e| kafka("cannot assign", e))?;
    let deadline = Instant::now() + TIMEOUT;
    // Up to the last stable offset: what a read_committed reader sees, as Connect reads it.
    while !pending.is_empty() {
        if Instant::now() > deadline {
            return Err(OffsetError::Kafka(format!(
                "reading {topic} to its end took longer than {} s",
                TIMEOUT.as_secs()
            )));
        }
        match consumer.poll(Duration::from_millis(200)) {
            None => {}
            Some(Err(KafkaError::PartitionEOF(p))) => {
                pending.remove(&p);
            }
            Some(Err(e)) => return Err(kafka("cannot read", e)),
            Some(Ok(m)) => {
                let Some(k) = m.key() else { continue };
                if let Some((c, partition, position)) = decode(k, m.payload()) {
                    if c == connector {
                        out.insert(partition, position);
                    }
                }
            }
        }
    }
    Ok(out)
}

/// Writes `changes` for `connector` (KIP-875 alterations of a stopped connector) and waits
/// until the cluster has them.
pub fn write(
    producer_config: &ClientConfig,
    topic: &str,
    connector: &str,
    changes: &[(String, Option<String>)],
) -> Result<(), OffsetError> {
    let mut config = producer_config.clone();
    config.remove("transactional.id");
    let producer: ThreadedProducer<DefaultProducerContext> = config
        .create()
        .map_err(|e| OffsetError::Kafka(format!("cannot create a producer: {e}")))?;
    for (partition, position) in changes {
        let k = key(connector, partition);
        let v = position.as_deref().map(value);
        let mut rec: BaseRecord<'_, [u8], [u8]> = BaseRecord::to(topic).key(k.as_slice());
        if let Some(v) = &v {
            rec = rec.payload(v.as_slice());
        }
        producer
            .send(rec)
            .map_err(|(e, _)| OffsetError::Kafka(format!("cannot write to {topic}: {e}")))?;
    }
    producer
        .flush(TIMEOUT)
        .map_err(|e| OffsetError::Kafka(format!("cannot write to {topic}: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_are_connects_and_read_back_as_written() {
        let k = key("src", r#"{"filename":"/tmp/a b.txt"}"#);
        assert_eq!(k, br#"["src",{"filename":"/tmp/a b.txt"}]"#);
        let v = value(r#"{"position":42}"#);
        assert_eq!(v, br#"{"position":42}"#);
        assert_eq!(
            decode(&k, Some(&v)),
            Some((
                "src".to_string(),
                r#"{"filename":"/tmp/a b.txt"}"#.to_string(),
                Some(r#"{"position":42}"#.to_string())
            ))
        );
        // Plain text travels as a JSON string; a tombstone forgets.
        let k = key("c\"q", "topic-0");
        assert_eq!(k, br#"["c\"q","topic-0"]"#);
        assert_eq!(
            decode(&k, None),
            Some(("c\"q".to_string(), "topic-0".to_string(), None))
        );
        assert_eq!(value("17"), br#""17""#);
        assert_eq!(
            decode(&k, Some(br#""17""#)).and_then(|d| d.2),
            Some("17".to_string())
        );
        // Key order and spacing of an object are kept as the connector wrote them.
        let odd = r#"{"b": 1, "a": 2}"#;
        assert_eq!(decode(&key("x", odd), None).unwrap().1, odd);
    }

    #[test]
    fn records_that_are_not_positions_are_skipped() {
        for k in [
            &b"not json"[..],
            br#"["only-one"]"#,
            br#"{"a":1}"#,
            br#"[1,{"a":1}]"#,
        ] {
            assert_eq!(decode(k, None), None, "{}", String::from_utf8_lossy(k));
        }
        assert_eq!(decode(br#"["c",{"a":1}]"#, Some(b"{broken")), None);
        let huge = vec![b' '; MAX_ENTRY_BYTES + 1];
        assert_eq!(decode(&huge, None), None);
    }
}
