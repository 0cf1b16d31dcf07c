//! The Kafka clients a connector uses, configured as Connect configures them: the worker's
//! `producer.*` / `consumer.*` / `admin.*` keys, then the connector's overrides, with the keys
//! Connect itself must own set last.

use std::collections::BTreeMap;
use std::future::Future;
use std::time::Duration;

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::error::RDKafkaErrorCode;

use crate::config::{ConnectorSpec, WorkerConfig};

/// Which client a config is for.
#[derive(Debug, Clone, Copy)]
pub enum ClientKind {
    Producer,
    Consumer,
    Admin,
}

/// Keys a Java client accepts that librdkafka does not know or spells differently: dropped
/// (or renamed) so that a worker file written for Kafka works unchanged.
fn translate(key: &str) -> Option<&str> {
    match key {
        // Serializers and interceptors are Java classes; Weft's converters do their job.
        "key.serializer"
        | "value.serializer"
        | "key.deserializer"
        | "value.deserializer"
        | "interceptor.classes"
        | "partitioner.class" => None,
        "buffer.memory" => None,
        "max.poll.records" => None,
        "retries" => Some("message.send.max.retries"),
        other => Some(other),
    }
}

/// How long a send that found librdkafka's queue full waits before it tries again. The queue
/// drains as the cluster acknowledges batches, a millisecond or so each; a `flush` here would
/// instead wait for the whole queue, and on a `ThreadedProducer` (whose own thread takes the
/// delivery reports) sit out its full timeout.
pub const QUEUE_FULL_BACKOFF: Duration = Duration::from_millis(1);

/// The rdkafka config for one of a connector's clients.
pub fn client_config(
    worker: &WorkerConfig,
    spec: Option<&ConnectorSpec>,
    kind: ClientKind,
    client_id: &str,
) -> ClientConfig {
    let (base, overrides): (&BTreeMap<String, String>, Option<&BTreeMap<String, String>>) =
        match kind {
            ClientKind::Producer => (&worker.producer, spec.map(|s| &s.producer_overrides)),
            ClientKind::Consumer => (&worker.consumer, spec.map(|s| &s.consumer_overrides)),
            ClientKind::Admin => (&worker.admin, spec.map(|s| &s.admin_overrides)),
        };
    let mut c = ClientConfig::new();
    c.set("bootstrap.servers", &worker.bootstrap_servers);
    c.set("client.id", client_id);
    match kind {
        ClientKind::Producer => {
            // Connect's producer defaults: nothing lost, order kept per partition. Idempotence
            // is on, as in the Java producer Connect uses (Weft's broker supports it), so a
            // retried send is not stored twice; `producer.enable.idempotence=false` turns it
            // off for a cluster that lacks it.
            c.set("acks", "all");
            c.set("enable.idempotence", "true");
            c.set("max.in.flight.requests.per.connection", "5");
            c.set("linger.ms", "5");
            // The Java client's partitioner (murmur2 of the key; keyless records sticky), so a
            // keyed record lands where Kafka Connect, or any Java producer of the same topic,
            // puts it. librdkafka's own default hashes keys with CRC32.
            c.set("partitioner", "murmur2_random");
        }
        ClientKind::Consumer => {
            c.set("auto.offset.reset", "earliest");
            // librdkafka stops fetching for fetch.queue.backoff.ms (1 s by default) whenever its
            // queue passes queued.min.messages (100,000): a sink that drains slower than a fetch
            // fills the queue then sat idle for a second each time (about 100,000 records/s).
            c.set("fetch.queue.backoff.ms", "10");
        }
        ClientKind::Admin => {}
    }
    for map in std::iter::once(base).chain(overrides) {
        for (k, v) in map {
            if let Some(k) = translate(k) {
                c.set(k, v);
            }
        }
    }
    if let ClientKind::Consumer = kind {
        // Offsets are committed by the task after the sink's pre-commit, never automatically.
        c.set("enable.auto.commit", "false");
        c.set("enable.auto.offset.store", "false");
    }
    c
}

/// Runs an rdkafka admin future to completion on the calling (non-async) thread.
pub fn block_on<F: Future>(f: F) -> Result<F::Output, String> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .map_err(|e| format!("cannot start an admin runtime: {e}"))?;
    Ok(rt.block_on(f))
}

/// Creates `topic` unless it exists (the dead-letter queue, as Connect does at task start).
pub fn ensure_topic(config: &ClientConfig, topic: &str, replication: i16) -> Result<(), String> {
    ensure_topic_with(config, topic, 1, replication.max(1), &[])
}

/// Creates `topic` with `partitions`, `replication` (-1: the broker's default) and `configs`
/// unless it exists. A cluster with fewer brokers than `replication` gets it with one copy
/// and a warning: one copy is what it can offer, and Connect's topics are better created
/// than refused.
pub fn ensure_topic_with(
    config: &ClientConfig,
    topic: &str,
    partitions: i32,
    replication: i16,
    configs: &[(&str, &str)],
) -> Result<(), String> {
    let admin: AdminClient<DefaultClientContext> = config
        .create()
        .map_err(|e| format!("cannot create an admin client: {e}"))?;
    let create = |rf: i32| {
        let mut t = NewTopic::new(topic, partitions, TopicReplication::Fixed(rf));
        for (k, v) in configs {
            t = t.set(k, v);
        }
        let opts = AdminOptions::new().operation_timeout(Some(Duration::from_secs(30)));
        let admin = &admin;
        async move { admin.create_topics([&t], &opts).await }
    };
    let mut rf = i32::from(replication);
    loop {
        let results = block_on(create(rf))?.map_err(|e| e.to_string())?;
        match results.into_iter().next() {
            Some(Ok(_)) | None => return Ok(()),
            Some(Err((_, RDKafkaErrorCode::TopicAlreadyExists))) => return Ok(()),
            Some(Err((_, RDKafkaErrorCode::InvalidReplicationFactor))) if rf > 1 => {
                tracing::warn!(
                    topic,
                    replication = rf,
                    "the cluster has too few brokers for the topic's replication factor; creating it with 1"
                );
                rf = 1;
            }
            Some(Err((_, code))) => return Err(format!("cannot create topic {topic}: {code}")),
        }
    }
}
