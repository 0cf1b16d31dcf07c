//! The `remote-cluster` capability: the host side of `weft:plugin/remote-cluster` for plugins
//! whose config grants `capability.remote-cluster.bootstrap.servers`. Reads go through
//! [`Cluster`] and [`Fetchers`]; `produce` through one idempotent producer, and it and
//! `create-topics` only for topics matching `capability.remote-cluster.produce.topics`.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Header, Message, OwnedHeaders};
use rdkafka::producer::{BaseProducer, BaseRecord, DeliveryResult, Producer, ProducerContext};
use rdkafka::ClientContext;
use regex::Regex;

use super::cluster::{is_fatal, Cluster};
use super::grant::{anchored, RemoteGrant, KEY_REMOTE, KEY_REMOTE_PRODUCE};
use super::reader::Reader;
use crate::bindings::capability_remote_cluster::weft::plugin::remote_cluster as wit;
use crate::bindings::types::{
    ErrorKind, PluginError, RecordFailure, TopicDescription, TopicPartition, TopicPartitionOffset,
    Watermarks,
};
use crate::host::HostState;
use wit::NewTopic;

/// Longest a `produce` waits for the cluster's acknowledgements.
const PRODUCE_TIMEOUT: Duration = Duration::from_secs(30);

/// Producer settings before the granted client properties: nothing lost, order kept.
const PRODUCE_DEFAULTS: &[(&str, &str)] = &[
    ("acks", "all"),
    ("enable.idempotence", "true"),
    ("linger.ms", "5"),
];

/// Collects the acknowledgements of one `produce` call (on librdkafka's thread or ours).
#[derive(Default)]
pub(crate) struct Acks {
    done: AtomicUsize,
    failures: Mutex<Vec<RecordFailure>>,
}

impl ClientContext for Acks {}

impl ProducerContext for Acks {
    type DeliveryOpaque = usize;

    fn delivery(&self, result: &DeliveryResult<'_>, index: usize) {
        if let Err((e, m)) = result {
            let failure = RecordFailure {
                index: u32::try_from(index).unwrap_or(u32::MAX),
                kind: if is_fatal(e) {
                    ErrorKind::Fatal
                } else {
                    ErrorKind::Retriable
                },
                message: format!("producing to {}: {e}", m.topic()),
            };
            if let Ok(mut f) = self.failures.lock() {
                f.push(failure);
            }
        }
        self.done.fetch_add(1, Ordering::Release);
    }
}

/// An instance's remote-cluster state: the cluster, the produce grant, and the clients made on
/// first use.
pub(crate) struct RemoteState {
    cluster: Cluster,
    produce_topics: Option<Regex>,
    reader: Reader,
    producer: Option<BaseProducer<Acks>>,
}

impl RemoteState {
    pub(crate) fn new(grant: &RemoteGrant, client_id: String) -> Self {
        RemoteState {
            cluster: Cluster::new("remote cluster", grant.cluster.clone(), client_id),
            // Checked when the grant was read; a regex that does not compile grants nothing.
            produce_topics: grant
                .produce_topics
                .as_deref()
                .and_then(|re| Regex::new(&anchored(re)).ok()),
            reader: Reader::new(grant.fetchers),
            producer: None,
        }
    }

    fn producer(&mut self) -> Result<&BaseProducer<Acks>, PluginError> {
        if self.producer.is_none() {
            let p = self
                .cluster
                .config("produce", PRODUCE_DEFAULTS, &[])?
                .create_with_context(Acks::default())
                .map_err(|e| self.cluster.error("cannot create a producer", &e))?;
            self.producer = Some(p);
        }
        self.producer
            .as_ref()
            .ok_or_else(|| self.cluster.refused("no producer"))
    }

    /// Whether the grant lets the plugin write `topic`.
    fn may_write(&self, topic: &str) -> Result<(), PluginError> {
        if self
            .produce_topics
            .as_ref()
            .is_some_and(|re| re.is_match(topic))
        {
            return Ok(());
        }
        Err(self.cluster.refused(format!(
            "writing topic `{topic}` is not granted: it does not match \
             {KEY_REMOTE_PRODUCE} (the regex of topics a plugin may write on {KEY_REMOTE})"
        )))
    }

    /// Creates topics the plugin may write; refuses the whole call if one is not granted.
    fn create_topics(&mut self, topics: &[NewTopic]) -> Result<(), PluginError> {
        for t in topics {
            self.may_write(&t.name)?;
        }
        super::local::create_topics(&mut self.cluster, topics)
    }

    /// Checks every record's topic against the grant, then sends them all and waits for the
    /// acknowledgements.
    fn produce(&mut self, records: &[u8]) -> Result<Vec<RecordFailure>, PluginError> {
        let reader = weft_batch::BatchReader::new(records).map_err(|e| {
            self.cluster
                .refused(format!("produce: malformed batch: {e}"))
        })?;
        for topic in reader.topics() {
            self.may_write(topic)?;
        }
        let deadline = Instant::now() + PRODUCE_TIMEOUT;
        let name = self.cluster.name();
        let producer = self.producer()?;
        producer.context().done.store(0, Ordering::Release);
        if let Ok(mut f) = producer.context().failures.lock() {
            f.clear();
        }
        let mut failures = Vec::new();
        let mut sent = 0usize;
        for (i, r) in reader.records().enumerate() {
            let r = r.map_err(|e| PluginError {
                kind: ErrorKind::Fatal,
                message: format!("{name}: produce: malformed batch: {e}"),
                retry_after_ms: None,
            })?;
            let mut rec: BaseRecord<'_, [u8], [u8], usize> = BaseRecord::with_opaque_to(r.topic, i);
            if let Some(k) = r.key {
                rec = rec.key(k);
            }
            if let Some(v) = r.value {
                rec = rec.payload(v);
            }
            if let Some(p) = r.partition.filter(|p| *p >= 0) {
                rec = rec.partition(p);
            }
            if let Some(ts) = r.timestamp {
                rec = rec.timestamp(ts);
            }
            if !r.headers.is_empty() {
                let mut h = OwnedHeaders::new_with_capacity(r.headers.len());
                for (key, value) in r.headers.iter() {
                    h = h.insert(Header { key, value });
                }
                rec = rec.headers(h);
            }
            loop {
                match producer.send(rec) {
                    Ok(()) => {
                        sent += 1;
                        break;
                    }
                    Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back))
                        if Instant::now() < deadline =>
                    {
                        producer.poll(Duration::from_millis(10));
                        rec = back;
                    }
                    Err((e, _)) => {
                        failures.push(RecordFailure {
                            index: u32::try_from(i).unwrap_or(u32::MAX),
                            kind: if is_fatal(&e) {
                                ErrorKind::Fatal
                            } else {
                                ErrorKind::Retriable
                            },
                            message: format!("producing to {}: {e}", r.topic),
                        });
                        break;
                    }
                }
            }
        }
        let flushed = producer.flush(deadline.saturating_duration_since(Instant::now()));
        let done = producer.context().done.load(Ordering::Acquire);
        if flushed.is_err() || done < sent {
            // Late acknowledgements must not land in the next call's tally: start afresh.
            self.producer = None;
            return Err(PluginError {
                kind: ErrorKind::Retriable,
                message: format!(
                    "{name}: {} of {sent} records were not acknowledged within {} s",
                    sent.saturating_sub(done),
                    PRODUCE_TIMEOUT.as_secs()
                ),
                retry_after_ms: None,
            });
        }
        if let Ok(mut f) = producer.context().failures.lock() {
            failures.append(&mut f);
        }
        failures.sort_by_key(|f| f.index);
        Ok(failures)
    }
}

impl HostState {
    /// Runs `f` on the remote-cluster state inside [`HostState::wait`].
    fn with_remote<R>(
        &mut self,
        f: impl FnOnce(&mut RemoteState) -> Result<R, PluginError>,
    ) -> Result<R, PluginError> {
        let Some(mut state) = self.kafka.remote.take() else {
            return Err(PluginError {
                kind: ErrorKind::Fatal,
                message: format!("remote-cluster: not granted ({KEY_REMOTE} is not set)"),
                retry_after_ms: None,
            });
        };
        let r = self.wait(|| f(&mut state));
        self.kafka.remote = Some(state);
        r
    }
}

impl wit::Host for HostState {
    fn list_topics(&mut self) -> Result<Vec<String>, PluginError> {
        self.with_remote(|r| Ok(r.cluster.topics()?.into_keys().collect()))
    }

    fn describe_topics(
        &mut self,
        topics: Vec<String>,
    ) -> Result<Vec<TopicDescription>, PluginError> {
        self.with_remote(|r| r.cluster.describe(&topics))
    }

    fn list_offsets(
        &mut self,
        partitions: Vec<TopicPartition>,
    ) -> Result<Vec<Watermarks>, PluginError> {
        self.with_remote(|r| Reader::list_offsets(&mut r.cluster, partitions))
    }

    fn list_groups(&mut self) -> Result<Vec<String>, PluginError> {
        self.with_remote(|r| r.cluster.groups())
    }

    fn group_offsets(&mut self, group: String) -> Result<Vec<TopicPartitionOffset>, PluginError> {
        self.with_remote(|r| {
            Ok(r.cluster
                .group_offsets(&group)?
                .into_iter()
                .map(|(topic, partition, offset)| TopicPartitionOffset {
                    topic,
                    partition,
                    offset,
                })
                .collect())
        })
    }

    fn assign(&mut self, positions: Vec<TopicPartitionOffset>) -> Result<(), PluginError> {
        self.with_remote(|r| r.reader.assign(&r.cluster, positions))
    }

    fn fetch(&mut self, max_records: u32, timeout_ms: u32) -> Result<Vec<u8>, PluginError> {
        self.fetch_logged("remote-cluster", |h| {
            h.with_remote(|r| r.reader.fetch(&r.cluster, max_records, timeout_ms))
        })
    }

    fn fetch_batches(&mut self, max_records: u32, timeout_ms: u32) -> Result<Vec<u8>, PluginError> {
        self.with_remote(|r| r.reader.fetch_batches(&r.cluster, max_records, timeout_ms))
    }

    fn produce(&mut self, records: Vec<u8>) -> Result<Vec<RecordFailure>, PluginError> {
        self.with_remote(|r| r.produce(&records))
    }

    fn create_topics(&mut self, topics: Vec<NewTopic>) -> Result<(), PluginError> {
        self.with_remote(|r| r.create_topics(&topics))
    }
}
