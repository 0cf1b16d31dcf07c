//! A source task's transactions in exactly-once mode (KIP-618): the records of a poll (or of
//! every poll in a `transaction.boundary.interval.ms`) and the positions they reach are
//! committed together, the positions as records of the offsets topic, so a restart resumes
//! exactly after what read_committed consumers see.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rdkafka::config::ClientConfig;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{BaseRecord, Producer, ProducerContext, ThreadedProducer};

use super::clients::{client_config, ClientKind};
use super::component::Position;
use super::{worker_failure, TaskEnv};
use crate::config::{SourceExactlyOnce, TransactionBoundary};
use crate::errors::{Stage, TaskFailure};
use crate::offsets::topic;

/// The delivery tag of a position record: no poll has it, so acknowledgements skip it.
pub const POSITION_RECORD_TAG: usize = usize::MAX;

/// How long a transaction's commit or abort may take before the task fails.
const COMMIT_TIMEOUT: Duration = Duration::from_secs(60);

/// The class Connect names in a failure of the task's producer.
pub const PRODUCER_CLASS: &str = "org.apache.kafka.clients.producer.KafkaProducer";

/// Connect's transactional id for a source task: `<group.id>-<connector>-<task>`.
pub fn transactional_id(env: &TaskEnv) -> String {
    format!(
        "{}-{}-{}",
        env.worker.exactly_once.group_id, env.spec.name, env.task
    )
}

/// Makes a task's producer config transactional: Connect owns these keys in exactly-once
/// mode, whatever the worker's `producer.*` or the connector's overrides say. With a
/// transaction per poll, `linger.ms` defaults to 0 unless either sets it.
pub fn make_transactional(config: &mut ClientConfig, env: &TaskEnv) {
    config
        .set("transactional.id", transactional_id(env))
        .set("enable.idempotence", "true")
        .set("acks", "all");
    // A poll's transaction ends by waiting for the poll's records, so lingering only delays
    // the commit: datagen through a standalone worker ran at 324-349 k records/s with Connect's
    // 5 ms, 451-669 k with none. Transactions spanning polls (`interval`) keep the 5 ms, which
    // batches better there (630-780 k against 474-702 k with none).
    let set_by_user = |m: &BTreeMap<String, String>| m.contains_key("linger.ms");
    let per_poll = env
        .spec
        .exactly_once
        .as_ref()
        .is_some_and(|e| e.boundary == TransactionBoundary::Poll);
    if per_poll && !set_by_user(&env.worker.producer) && !set_by_user(&env.spec.producer_overrides)
    {
        config.set("linger.ms", "0");
    }
}

/// Before the task opens: fences every earlier instance of the task (aborting a transaction a
/// killed one left open), creates the offsets topic if needed, and brings the position store
/// up to what the offsets topic committed for this connector.
pub fn prepare<C: ProducerContext>(
    env: &TaskEnv,
    settings: &SourceExactlyOnce,
    producer: &ThreadedProducer<C>,
) -> Result<(), TaskFailure> {
    let spec = &env.spec;
    let worker = &env.worker;
    let admin = client_config(worker, Some(spec), ClientKind::Admin, &env.client_id());
    topic::ensure(&admin, &settings.offsets_topic, &worker.exactly_once)
        .map_err(|e| worker_failure(format!("exactly-once source: {e}")))?;
    producer.init_transactions(COMMIT_TIMEOUT).map_err(|e| {
        TaskFailure::new(
            Some(Stage::KafkaProduce),
            PRODUCER_CLASS,
            format!(
                "cannot start transactions as {}: {e}",
                transactional_id(env)
            ),
        )
    })?;
    let consumer = client_config(worker, Some(spec), ClientKind::Consumer, &env.client_id());
    let changes = topic::read(&consumer, &settings.offsets_topic, &spec.name)
        .map_err(|e| worker_failure(format!("exactly-once source: {e}")))?;
    if !changes.is_empty() {
        env.store
            .apply(&spec.name, changes)
            .map_err(|e| worker_failure(format!("cannot store source positions: {e}")))?;
    }
    Ok(())
}

/// The open transaction, if any, and the positions it will commit.
pub struct Transactions {
    settings: SourceExactlyOnce,
    open_since: Option<Instant>,
    /// `open_since.is_some()`, for readers on other threads.
    open: Arc<AtomicBool>,
    positions: BTreeMap<String, String>,
}

impl Transactions {
    pub fn new(settings: SourceExactlyOnce) -> Self {
        Transactions {
            settings,
            open_since: None,
            open: Arc::new(AtomicBool::new(false)),
            positions: BTreeMap::new(),
        }
    }

    /// A flag that is set while a transaction is open.
    pub fn open_flag(&self) -> Arc<AtomicBool> {
        self.open.clone()
    }

    pub fn is_open(&self) -> bool {
        self.open_since.is_some()
    }

    /// Opens a transaction unless one is open.
    pub fn begin<C: ProducerContext>(
        &mut self,
        producer: &ThreadedProducer<C>,
    ) -> Result<(), TaskFailure> {
        if self.open_since.is_none() {
            producer
                .begin_transaction()
                .map_err(|e| failure(format!("cannot begin a transaction: {e}")))?;
            self.open_since = Some(Instant::now());
            self.open.store(true, Ordering::Release);
        }
        Ok(())
    }

    /// Positions a poll reached, committed with the open transaction (the last per source
    /// partition wins, as positions come in order).
    pub fn note(&mut self, positions: &[Position]) {
        for p in positions {
            self.positions
                .insert(p.partition.clone(), p.position.clone());
        }
    }

    /// Whether the open transaction should be committed now: after every poll with
    /// `transaction.boundary=poll`, once its interval passed with `interval`.
    pub fn due(&self) -> bool {
        match (self.open_since, self.settings.boundary) {
            (None, _) => false,
            (Some(_), TransactionBoundary::Poll) => true,
            (Some(t), TransactionBoundary::Interval(every)) => t.elapsed() >= every,
        }
    }

    /// Writes the positions into the offsets topic and commits the transaction. On failure the
    /// transaction is aborted (nothing of it becomes visible) and the task fails.
    pub fn commit<C: ProducerContext<DeliveryOpaque = usize>>(
        &mut self,
        producer: &ThreadedProducer<C>,
        connector: &str,
    ) -> Result<(), TaskFailure> {
        if self.open_since.is_none() {
            return Ok(());
        }
        let result = self.write_positions(producer, connector).and_then(|()| {
            wait_delivered(producer);
            producer
                .commit_transaction(COMMIT_TIMEOUT)
                .map_err(|e| failure(format!("the transaction could not be committed: {e}")))
        });
        self.open_since = None;
        self.open.store(false, Ordering::Release);
        self.positions.clear();
        if let Err(e) = result {
            self.abort_after_failure(producer);
            return Err(e);
        }
        Ok(())
    }

    /// Aborts the open transaction (the task is failing): none of its records or positions
    /// become visible to read_committed consumers.
    pub fn abort<C: ProducerContext>(&mut self, producer: &ThreadedProducer<C>) {
        if self.open_since.take().is_some() {
            self.open.store(false, Ordering::Release);
            self.positions.clear();
            self.abort_after_failure(producer);
        }
    }

    fn abort_after_failure<C: ProducerContext>(&self, producer: &ThreadedProducer<C>) {
        if let Err(e) = producer.abort_transaction(COMMIT_TIMEOUT) {
            // A fenced producer cannot abort; its transaction is the newer instance's to end.
            tracing::warn!(error = %e, "the transaction could not be aborted");
        }
    }

    fn write_positions<C: ProducerContext<DeliveryOpaque = usize>>(
        &self,
        producer: &ThreadedProducer<C>,
        connector: &str,
    ) -> Result<(), TaskFailure> {
        let offsets_topic = self.settings.offsets_topic.as_str();
        for (partition, position) in &self.positions {
            let key = topic::key(connector, partition);
            let value = topic::value(position);
            loop {
                let rec: BaseRecord<'_, [u8], [u8], usize> =
                    BaseRecord::with_opaque_to(offsets_topic, POSITION_RECORD_TAG)
                        .key(key.as_slice())
                        .payload(value.as_slice());
                match producer.send(rec) {
                    Ok(()) => break,
                    Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), _)) => {
                        std::thread::sleep(super::clients::QUEUE_FULL_BACKOFF);
                    }
                    Err((e, _)) => {
                        return Err(failure(format!(
                            "cannot write a source position to {offsets_topic}: {e}"
                        )))
                    }
                }
            }
        }
        Ok(())
    }
}

/// Waits (briefly sleeping) until the producer has nothing in flight. rust-rdkafka's
/// `commit_transaction` flushes first, and its flush, finding messages in flight, polls the
/// event queue for up to 100 ms; with a `ThreadedProducer` the background thread takes the
/// delivery reports first, so every commit waited those 100 ms in full.
fn wait_delivered<C: ProducerContext>(producer: &ThreadedProducer<C>) {
    let deadline = Instant::now() + COMMIT_TIMEOUT;
    while producer.in_flight_count() > 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_micros(200));
    }
}

fn failure(message: String) -> TaskFailure {
    TaskFailure::new(Some(Stage::KafkaProduce), PRODUCER_CLASS, message)
}
