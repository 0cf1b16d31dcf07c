//! The source task loop: poll → stamp each record's index → transforms → converters → produce,
//! acknowledgements tracked per record, positions stored once every record before them is in
//! the cluster (or given up under `errors.tolerance=all`). Acknowledged positions are handed to
//! the connector's `commit` between polls, as soon as they are ready (an MQTT source releases
//! its broker's messages there, and the broker stops sending after a few unacknowledged
//! ones); they are written to the offset store every `offset.flush.interval.ms`.
//!
//! Kafka batch entries (the mirror's record batches under passthrough) are appended as they are
//! through [`super::passthrough`] when no stage needs to look inside them, and expanded into
//! their records otherwise.
//!
//! With exactly-once source support the records go out in transactions that also commit the
//! positions they reach to the offsets topic ([`super::transaction`]); positions reach the
//! connector and the local store only once their transaction committed.
//!
//! Otherwise a task with transforms runs them and its converters on a thread of their own
//! ([`super::stage_thread`]), pipelined with this loop: it polls and produces while they work.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{BaseRecord, DeliveryResult, Producer, ProducerContext, ThreadedProducer};
use rdkafka::ClientContext;
use weft_metrics::LatencyBuckets;
use weft_runtime::Record;

use super::acks::{tag, Acks, MAX_POLL_RECORDS};
use super::batch::{origin, Batch, RecordView};
use super::chain::{transform_and_convert, Chain, Converters, Origins, Staged};
use super::clients::{client_config, ClientKind, QUEUE_FULL_BACKOFF};
use super::component::{instantiate, Component, Position, Usage};
use super::passthrough::{self, Appender};
use super::stage_thread::{ConvertedPoll, StageThread, Submitted};
use super::transaction::{self, Transactions, POSITION_RECORD_TAG, PRODUCER_CLASS};
use super::{lock, worker_failure, Figures, Meter, Target, TaskEnv};
use crate::errors::{ErrorHandler, Interrupt, Retried, Stage, TaskFailure};
use crate::model::State;

/// Longest host-side wait after an empty poll.
const MAX_IDLE_BACKOFF: Duration = Duration::from_millis(250);

/// A poll that took longer than this waited for data: the next one is not overlapped with
/// producing what the transforms hold, which would hold those records back as long.
const SLOW_POLL: Duration = Duration::from_millis(10);

/// Receives the producer's acknowledgements (on librdkafka's thread).
struct AckContext {
    acks: Arc<Mutex<Acks>>,
    tolerate_all: bool,
    connector: String,
    /// The first delivery error under `errors.tolerance=none`: fails the task.
    failure: Mutex<Option<String>>,
    errors: AtomicU64,
    /// Records the cluster acknowledged.
    produced: AtomicU64,
}

impl ClientContext for AckContext {}

impl ProducerContext for AckContext {
    type DeliveryOpaque = usize;

    fn delivery(&self, result: &DeliveryResult<'_>, tag: usize) {
        use rdkafka::Message;
        if tag == POSITION_RECORD_TAG {
            // A position record of a transaction: its commit reports its fate.
            return;
        }
        match result {
            Ok(m) => {
                self.produced.fetch_add(1, Ordering::Relaxed);
                lock(&self.acks).done_tag_at(tag, Some((m.topic(), m.partition(), m.offset())))
            }
            Err((e, m)) => {
                tracing::error!(connector = %self.connector, topic = m.topic(), error = %e,
                    "the cluster did not take a record");
                if !self.tolerate_all {
                    let mut f = lock(&self.failure);
                    if f.is_none() {
                        *f = Some(format!("producing to {} failed: {e}", m.topic()));
                    }
                    return;
                }
                self.errors.fetch_add(1, Ordering::Relaxed);
                lock(&self.acks).done_tag(tag);
            }
        }
    }
}

/// Runs a source task until it is stopped or fails.
pub fn run(env: &TaskEnv) -> Result<(), TaskFailure> {
    let spec = &env.spec;
    let worker = &env.worker;
    let acks = Arc::new(Mutex::new(Acks::default()));
    let ctx = AckContext {
        acks: acks.clone(),
        tolerate_all: spec.errors.tolerate_all,
        connector: spec.name.clone(),
        failure: Mutex::new(None),
        errors: AtomicU64::new(0),
        produced: AtomicU64::new(0),
    };
    let mut producer_config =
        client_config(worker, Some(spec), ClientKind::Producer, &env.client_id());
    if spec.exactly_once.is_some() {
        transaction::make_transactional(&mut producer_config, env);
    }
    let producer_props: Vec<(String, String)> = producer_config
        .config_map()
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let producer: ThreadedProducer<AckContext> = producer_config
        .create_with_context(ctx)
        .map_err(|e| worker_failure(format!("cannot create the producer: {e}")))?;
    // Before the positions are read: fencing aborts what a killed instance left open.
    if let Some(settings) = &spec.exactly_once {
        transaction::prepare(env, settings, &producer)?;
    }
    let mut comp = instantiate(
        &env.registry,
        &env.task_plugin_ref(),
        &env.sandbox_defaults,
        &[],
    )
    .map_err(|e| TaskFailure::from_runtime(None, &spec.connector.plugin, &e))?;
    let committed: Vec<(String, String)> = env.store.get(&spec.name).into_iter().collect();
    let (store, name) = (env.store.clone(), spec.name.clone());
    comp.set_position_reader(Arc::new(move |parts: &[String]| {
        let stored = store.get(&name);
        parts
            .iter()
            .filter_map(|p| stored.get(p).map(|v| (p.clone(), v.clone())))
            .collect()
    }));
    let txn = spec.exactly_once.clone().map(Transactions::new);
    // `written-positions`: what the acknowledgements told of positions' records, taken. While
    // a transaction is open, nothing: its records are delivered but may still be aborted, and
    // the mirror would emit offset syncs naming them.
    let written = acks.clone();
    let txn_open = txn.as_ref().map(Transactions::open_flag);
    comp.set_written_reader(Arc::new(move || {
        if txn_open.as_ref().is_some_and(|f| f.load(Ordering::Acquire)) {
            return Vec::new();
        }
        let mut a = lock(&written);
        a.advance();
        a.take_written()
    }));
    let errors = ErrorHandler::new(spec.errors.clone(), &spec.name, env.task, None)
        .map_err(worker_failure)?;
    match errors.retry(env.control.as_ref(), true, || comp.source_open(&committed)) {
        Retried::Done(()) => {}
        Retried::Stopped => return Ok(()),
        Retried::Failed(e) => {
            return Err(TaskFailure::from_runtime(None, &spec.connector.plugin, &e))
        }
    }
    let chain = Chain::build(&env.registry, &spec.transforms, &env.sandbox_defaults)?;
    let conv = Converters::build(
        &env.registry,
        spec.key_converter.as_ref().unwrap_or(&worker.key_converter),
        spec.value_converter
            .as_ref()
            .unwrap_or(&worker.value_converter),
        spec.header_converter
            .as_ref()
            .unwrap_or(&worker.header_converter),
        &env.sandbox_defaults,
    )?;

    let appendable = passthrough::appendable(spec, worker, chain.is_empty());
    // Transforms and converters get a thread of their own (see `stage_thread`), except in
    // exactly-once mode, whose transactions follow each poll through every stage on the task's
    // thread.
    let (chain, conv, pipe) = if chain.is_empty() || spec.exactly_once.is_some() {
        (chain, Some(conv), None)
    } else {
        let errors = ErrorHandler::new(spec.errors.clone(), &spec.name, env.task, None)
            .map_err(worker_failure)?;
        let name = format!("smt-{}-{}", spec.name, env.task);
        let pipe = StageThread::start(chain, conv, errors, env.control.clone(), name)?;
        (Chain::default(), None, Some(pipe))
    };
    let mut task = SourceTask {
        env,
        comp,
        chain,
        pipe,
        last_poll: Duration::ZERO,
        conv,
        appendable,
        appender: None,
        producer_props,
        expanded: false,
        producer,
        acks,
        errors,
        meter: Meter::new(),
        commits: LatencyBuckets::default(),
        last_flush: Instant::now(),
        last_topic: String::new(),
        txn,
    };
    let mut result = task.run_loop();
    if let Some(txn) = &mut task.txn {
        match result {
            // A stop commits what was polled; a failure aborts it.
            Ok(()) => result = task_commit(txn, &task.producer, &env.spec.name),
            Err(_) => task.abort_transaction(),
        }
    }
    let aborted = task.txn.is_some() && result.is_err();
    // Whatever ended the loop, store what the cluster acknowledged (in exactly-once mode, what
    // committed transactions hold: an aborted one's records were delivered, yet are not there).
    let timeout = env.worker.task_shutdown_timeout;
    if let Err(e) = task.producer.flush(timeout) {
        tracing::warn!(connector = %env.spec.name, task = env.task, error = %e,
            "records still unacknowledged at shutdown; their positions are not stored");
    }
    if task.appender.as_ref().is_some_and(|a| !a.flush(timeout)) {
        tracing::warn!(connector = %env.spec.name, task = env.task,
            "record batches still unacknowledged at shutdown; their positions are not stored");
    }
    let flushed = if aborted {
        Ok(())
    } else {
        task.flush_positions()
    };
    task.publish(true);
    // The stages' thread ends after the poll it is on; polls still with it were never
    // produced, so their positions are not stored.
    task.pipe = None;
    task.comp.close();
    task.chain.close();
    if let Some(c) = &mut task.conv {
        c.close();
    }
    result.and(flushed)
}

struct SourceTask<'e> {
    env: &'e TaskEnv,
    comp: Component,
    chain: Chain,
    /// The transforms' and converters' own thread, when they run on one (the chain above is
    /// then empty and the converters are the thread's).
    pipe: Option<StageThread>,
    /// How long the last poll took: polls that wait for data are not overlapped.
    last_poll: Duration,
    /// The converters, unless they run on the stages' thread.
    conv: Option<Converters>,
    /// Whether Kafka batch entries may be appended as they are, or why not.
    appendable: Result<(), &'static str>,
    /// The batch appender, made at the first entry appended.
    appender: Option<Appender>,
    /// The producer's settings, which the appender shares.
    producer_props: Vec<(String, String)>,
    /// Kafka batch entries were expanded once already.
    expanded: bool,
    producer: ThreadedProducer<AckContext>,
    acks: Arc<Mutex<Acks>>,
    errors: ErrorHandler,
    meter: Meter,
    /// Offset store writes and how long each took.
    commits: LatencyBuckets,
    last_flush: Instant,
    last_topic: String,
    /// Exactly-once mode's open transaction.
    txn: Option<Transactions>,
}

/// The first delivery error under `errors.tolerance=none`, as the task's failure.
fn delivery_failure(producer: &ThreadedProducer<AckContext>) -> Result<(), TaskFailure> {
    match lock(&producer.context().failure).take() {
        Some(m) => Err(TaskFailure::new(
            Some(Stage::KafkaProduce),
            PRODUCER_CLASS,
            m,
        )),
        None => Ok(()),
    }
}

fn task_commit(
    txn: &mut Transactions,
    producer: &ThreadedProducer<AckContext>,
    connector: &str,
) -> Result<(), TaskFailure> {
    if let Err(e) = delivery_failure(producer) {
        txn.abort(producer);
        return Err(e);
    }
    txn.commit(producer, connector)
}

impl SourceTask<'_> {
    fn run_loop(&mut self) -> Result<(), TaskFailure> {
        let env = self.env;
        let control = env.control.as_ref();
        let mut idle = Duration::from_millis(1);
        loop {
            match control.target() {
                Target::Stop => return Ok(()),
                Target::Pause => {
                    // What was polled before the pause is produced.
                    self.drain()?;
                    self.end_transaction(true)?;
                    env.report.set_state(State::Paused);
                    self.maybe_flush()?;
                    control.wait_unpaused(
                        env.worker.offset_flush_interval.min(Duration::from_secs(1)),
                    );
                    continue;
                }
                Target::Run => {
                    if env.report.state().0 != State::Running {
                        env.report.set_state(State::Running);
                    }
                }
            }
            delivery_failure(&self.producer)?;
            if let Some(a) = &self.appender {
                a.failure()?;
            }
            self.end_transaction(false)?;
            if !self.txn.as_ref().is_some_and(Transactions::is_open) {
                self.commit_acknowledged()?;
                self.maybe_flush()?;
            }
            self.publish(false);
            if self.last_poll > SLOW_POLL {
                // A poll that waits for data would hold back the records polled before it.
                self.drain()?;
            }
            let poll_started = Instant::now();
            let polled = match self.errors.retry(control, true, || self.comp.source_poll()) {
                Retried::Done(p) => p,
                Retried::Stopped => return Ok(()),
                Retried::Failed(e) => {
                    return Err(TaskFailure::from_runtime(
                        Some(Stage::TaskPoll),
                        self.comp.label(),
                        &e,
                    ))
                }
            };
            self.last_poll = poll_started.elapsed();
            for r in self.comp.take_requests() {
                if !env.herder_request(&r) {
                    tracing::debug!(connector = %env.spec.name, request = ?r, "task-context request ignored by a source task");
                }
            }
            if polled.records.is_empty() {
                // Nothing new: what the transforms hold is produced now, and positions
                // reached without records come after it.
                self.drain()?;
                if !polled.positions.is_empty() {
                    self.in_transaction(&polled.positions)?;
                    lock(&self.acks).begin(0, polled.positions);
                    self.end_transaction(false)?;
                }
                // Nothing new: wait on the host side rather than calling straight back in.
                if control.pause_for(idle) {
                    return Ok(());
                }
                idle = (idle * 2).min(MAX_IDLE_BACKOFF);
                continue;
            }
            idle = Duration::from_millis(1);
            self.deliver(polled)?;
        }
    }

    fn deliver(&mut self, polled: super::component::Polled) -> Result<(), TaskFailure> {
        let env = self.env;
        let mut records = polled.records;
        let mut positions = polled.positions;
        let entries = weft_batch::kafka_batch_count(records.bytes())
            .map_err(|e| worker_failure(format!("a packed batch is malformed: {e}")))?;
        if entries > 0 {
            if let Err(why) = self.appendable {
                if self.first_expansion() {
                    tracing::info!(connector = %env.spec.name, task = env.task, reason = why,
                        "record batches are expanded into records, not appended as they are");
                }
                records = passthrough::expand(&records, &mut positions)?;
            } else if self.appender.is_none() {
                self.appender = Some(Appender::start(
                    &self.producer_props,
                    &env.spec.name,
                    env.spec.errors.tolerate_all,
                )?);
            }
        }
        let appending = entries > 0 && self.appendable.is_ok();
        let n = records.len();
        if n >= MAX_POLL_RECORDS {
            return Err(TaskFailure::new(
                Some(Stage::TaskPoll),
                self.comp.label(),
                format!("a poll returned {n} records, more than the {MAX_POLL_RECORDS} a poll may"),
            ));
        }
        records.stamp_indices()?;
        if let Some(pipe) = &mut self.pipe {
            // Passthrough needs an empty chain, so nothing is appended as it is here.
            pipe.submit(Submitted {
                records,
                positions,
                schemas: polled.schemas,
            })?;
            if pipe.in_flight() > 1 {
                let done = pipe.take()?;
                self.produce_converted(done)?;
            }
            return Ok(());
        }
        // Under passthrough the stages see only the poll's plain records (offset syncs).
        let plain = if appending {
            Some(plain_records(&records)?)
        } else {
            None
        };
        let staged = plain.as_ref().unwrap_or(&records);
        let control = env.control.as_ref();
        let origins = Origins {
            records: &records,
            kafka_offsets: None,
        };
        let Some(conv) = &mut self.conv else {
            return Err(worker_failure("the converters are on the stages' thread"));
        };
        let converted = match transform_and_convert(
            &mut self.chain,
            conv,
            staged,
            polled.schemas,
            origins,
            &mut self.errors,
            control,
        )? {
            Staged::Done(r, _) => r,
            Staged::Stopped => return Ok(()),
        };
        drop(plain);
        self.produce(records, positions, converted, appending)
    }

    /// Produces every poll the stages' thread still holds, in order.
    fn drain(&mut self) -> Result<(), TaskFailure> {
        while let Some(done) = match &mut self.pipe {
            Some(p) if p.in_flight() > 0 => Some(p.take()?),
            _ => None,
        } {
            self.produce_converted(done)?;
        }
        Ok(())
    }

    /// Produces a poll back from the stages' thread.
    fn produce_converted(&mut self, done: ConvertedPoll) -> Result<(), TaskFailure> {
        let converted = match done.outcome? {
            Staged::Done(r, _) => r,
            Staged::Stopped => return Ok(()),
        };
        self.produce(done.records, done.positions, converted, false)
    }

    /// Produces a poll's converted records (and appends its Kafka batch entries), after its
    /// acknowledgements begin.
    fn produce(
        &mut self,
        records: Batch,
        positions: Vec<Position>,
        converted: Batch,
        appending: bool,
    ) -> Result<(), TaskFailure> {
        let env = self.env;
        let n = records.len();
        self.in_transaction(&positions)?;
        let mut sent = vec![false; n];
        converted.for_each(|v| {
            if let Some(s) = sent.get_mut(origin(&v)) {
                *s = true;
            }
            Ok(())
        })?;
        let kafka = if appending {
            kafka_entries(&records, &mut sent)?
        } else {
            Vec::new()
        };
        let id = {
            let mut a = lock(&self.acks);
            let id = a.begin(n, positions);
            // Filtered and given-up records are done already.
            for (i, s) in sent.iter().enumerate() {
                if !*s {
                    a.done(id, i as u32);
                }
            }
            id
        };
        // The originals' views, made at the first record the producer refuses (for the error
        // handler), so refusals cost one pass over the batch, not one each.
        let mut originals = None;
        converted.for_each(|v| {
            if v.topic != self.last_topic {
                env.topic_used(v.topic);
                self.last_topic.clear();
                self.last_topic.push_str(v.topic);
            }
            self.send(&v, tag(id, origin(&v) as u32), &records, &mut originals)
        })?;
        drop(originals);
        drop(converted);
        let mut counted = n;
        if !kafka.is_empty() {
            counted = n - kafka.len() + kafka.iter().map(|k| k.records as usize).sum::<usize>();
            self.append_all(records, kafka, id)?;
        }
        self.meter.add(counted);
        if self.txn.is_some() && env.control.stopping() {
            // A stop may have cut the sends short (a full queue gives way to it): the
            // transaction would commit positions past records it does not hold.
            self.abort_transaction();
            return Ok(());
        }
        self.end_transaction(false)
    }

    /// Queues the poll's Kafka batch entries on the appender as slices of the poll's buffer (the
    /// appender copies each once, to restamp its header).
    fn append_all(
        &mut self,
        records: Batch,
        kafka: Vec<KafkaEntry>,
        id: u64,
    ) -> Result<(), TaskFailure> {
        let Some(appender) = &self.appender else {
            return Err(worker_failure("record batches to append, but no appender"));
        };
        let buffer = bytes::Bytes::from(records.into_bytes());
        for k in kafka {
            if *k.topic != *self.last_topic {
                self.env.topic_used(&k.topic);
                self.last_topic.clear();
                self.last_topic.push_str(&k.topic);
            }
            let entry = passthrough::Entry {
                range: k.range,
                topic: k.topic,
                partition: k.partition,
                tag: tag(id, k.index),
                records: k.records,
            };
            appender.append(&buffer, entry, &self.acks)?;
        }
        Ok(())
    }

    /// Whether this is the first expansion the task does (for a one-time log line).
    fn first_expansion(&mut self) -> bool {
        !std::mem::replace(&mut self.expanded, true)
    }

    /// Aborts the open transaction and forgets every acknowledgement not yet taken: records of
    /// an aborted transaction are delivered, yet never visible, so positions after them must
    /// not reach the connector or the store (the offsets topic holds every committed one).
    fn abort_transaction(&mut self) {
        if let Some(txn) = &mut self.txn {
            txn.abort(&self.producer);
            lock(&self.acks).forget();
        }
    }

    /// In exactly-once mode, opens a transaction for a poll's records if none is open, and
    /// adds the positions the poll reached to what it will commit.
    fn in_transaction(&mut self, positions: &[Position]) -> Result<(), TaskFailure> {
        if let Some(txn) = &mut self.txn {
            txn.begin(&self.producer)?;
            txn.note(positions);
        }
        Ok(())
    }

    /// In exactly-once mode, commits the open transaction when its boundary is reached (or
    /// whenever one is open, with `now`).
    fn end_transaction(&mut self, now: bool) -> Result<(), TaskFailure> {
        let Some(txn) = &mut self.txn else {
            return Ok(());
        };
        if !(txn.due() || (now && txn.is_open())) {
            return Ok(());
        }
        let started = Instant::now();
        task_commit(txn, &self.producer, &self.env.spec.name)?;
        self.commits.observe(started.elapsed());
        Ok(())
    }

    fn send<'o>(
        &mut self,
        r: &RecordView<'_>,
        tag: usize,
        batch: &'o Batch,
        originals: &mut Option<Vec<RecordView<'o>>>,
    ) -> Result<(), TaskFailure> {
        loop {
            let mut rec: BaseRecord<'_, [u8], [u8], usize> =
                BaseRecord::with_opaque_to(r.topic, tag);
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
            match self.producer.send(rec) {
                Ok(()) => return Ok(()),
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), _)) => {
                    // Back-pressure: let librdkafka drain its queue.
                    std::thread::sleep(QUEUE_FULL_BACKOFF);
                    if self.env.control.stopping() {
                        return Ok(());
                    }
                }
                Err((e, _)) => {
                    if originals.is_none() {
                        *originals = Some(batch.views()?);
                    }
                    let original = Record::from_view(
                        originals
                            .as_ref()
                            .and_then(|o| o.get(origin(r)))
                            .unwrap_or(r),
                    );
                    let msg = e.to_string();
                    let class = PRODUCER_CLASS;
                    if self.errors.tolerate(&crate::errors::FailedRecord {
                        stage: Stage::KafkaProduce,
                        class,
                        original: &original,
                        kafka_offset: None,
                        retriable: false,
                        message: &msg,
                    }) {
                        lock(&self.acks).done_tag(tag);
                        return Ok(());
                    }
                    return Err(TaskFailure::new(Some(Stage::KafkaProduce), class, msg));
                }
            }
        }
    }

    fn maybe_flush(&mut self) -> Result<(), TaskFailure> {
        if self.last_flush.elapsed() >= self.env.worker.offset_flush_interval {
            self.flush_positions()?;
        }
        Ok(())
    }

    /// Tells the connector the positions acknowledged since it was last told.
    fn commit_acknowledged(&mut self) -> Result<(), TaskFailure> {
        let ready: BTreeMap<String, String> = {
            let mut a = lock(&self.acks);
            a.advance();
            a.take_to_commit()
        };
        if ready.is_empty() {
            return Ok(());
        }
        let list: Vec<(String, String)> = ready.into_iter().collect();
        if let Err(e) = self.comp.source_commit(&list) {
            // A connector that cannot take the news is Connect's commitRecord/commit failing:
            // logged, not fatal, unless the instance itself died.
            if e.is_instance_failure() {
                return Err(TaskFailure::from_runtime(None, self.comp.label(), &e));
            }
            tracing::warn!(connector = %self.env.spec.name, task = self.env.task, error = %e, "commit failed");
        }
        Ok(())
    }

    /// Tells the connector what was acknowledged, then stores the positions that are ready.
    fn flush_positions(&mut self) -> Result<(), TaskFailure> {
        self.last_flush = Instant::now();
        self.commit_acknowledged()?;
        let ready = lock(&self.acks).take_ready();
        if ready.is_empty() {
            return Ok(());
        }
        let started = Instant::now();
        let stored = self.env.store.put(&self.env.spec.name, &ready);
        self.commits.observe(started.elapsed());
        stored.map_err(|e| worker_failure(format!("cannot store source positions: {e}")))
    }

    fn publish(&mut self, force: bool) {
        let acks = self.producer.context();
        let (appended, append_errors) = self.appender.as_ref().map_or((0, 0), |a| {
            let o = a.outcome();
            (
                o.produced.load(Ordering::Relaxed),
                o.errors.load(Ordering::Relaxed),
            )
        });
        let (pipe_errors, pipe_usage) = self
            .pipe
            .as_ref()
            .map_or((0, Usage::default()), |p| (p.errors_total, p.usage));
        let figures = Figures {
            errors: self.errors.errors_total
                + pipe_errors
                + acks.errors.load(Ordering::Relaxed)
                + append_errors,
            dlq: self.errors.dlq_total,
            produced: acks.produced.load(Ordering::Relaxed) + appended,
            usage: self.comp.usage()
                + self.chain.usage()
                + self
                    .conv
                    .as_ref()
                    .map_or(Usage::default(), Converters::usage)
                + pipe_usage,
            commits: &self.commits,
            reported: self.comp.reported(),
        };
        self.meter.publish(&self.env.report, force, figures);
    }
}

/// A Kafka batch entry of a poll, to append.
struct KafkaEntry {
    index: u32,
    range: std::ops::Range<usize>,
    topic: Arc<str>,
    partition: i32,
    records: u32,
}

/// The poll's records that are not Kafka batch entries, their stamped indices kept.
fn plain_records(records: &Batch) -> Result<Batch, TaskFailure> {
    let reader = records.reader()?;
    let mut w = super::batch::BatchWriter::for_output_of(&reader);
    for v in reader.records() {
        let v = v.map_err(|e| worker_failure(format!("a packed batch is malformed: {e}")))?;
        if v.kafka_batch().is_none() {
            w.push_view(&v)
                .map_err(|e| worker_failure(format!("cannot pack records: {e}")))?;
        }
    }
    Batch::finish(w)
}

/// The poll's Kafka batch entries (each marked sent), with where each batch lies in the buffer.
fn kafka_entries(records: &Batch, sent: &mut [bool]) -> Result<Vec<KafkaEntry>, TaskFailure> {
    let base = records.bytes().as_ptr() as usize;
    let mut out = Vec::new();
    let mut topic: Option<Arc<str>> = None;
    records.for_each(|v| {
        let Some(batch) = v.kafka_batch() else {
            return Ok(());
        };
        let index = origin(&v);
        if let Some(s) = sent.get_mut(index) {
            *s = true;
        }
        let start = batch.as_ptr() as usize - base;
        let t = match &topic {
            Some(t) if **t == *v.topic => t.clone(),
            _ => {
                let t: Arc<str> = Arc::from(v.topic);
                topic = Some(t.clone());
                t
            }
        };
        // An unreadable header counts no records; the appender refuses the batch.
        let count = weft_log::batch::BatchHeader::parse(batch).map_or(0, |h| h.records_count);
        out.push(KafkaEntry {
            index: index as u32,
            range: start..start + batch.len(),
            topic: t,
            partition: v.partition.unwrap_or(-1),
            records: u32::try_from(count).unwrap_or(0),
        });
        Ok(())
    })?;
    Ok(out)
}
