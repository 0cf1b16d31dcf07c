//! The sink task loop: consume in group `connect-<name>` → converters → transforms → `put` →
//! `pre-commit` every `offset.flush.interval.ms` → commit what it returns. Rebalances become
//! `assign`/`revoke` (with a pre-commit and commit before a revoke); the task context's
//! pause, resume, rewind and commit requests are honoured after each call. Records are taken
//! from librdkafka a batch per call ([`FetchQueue`]); the consumer's `poll` serves its events.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer, ConsumerContext, Rebalance};
use rdkafka::{ClientContext, Message, Offset, TopicPartitionList};
use weft_metrics::LatencyBuckets;

use super::batch::{origin, Batch, BatchWriter};
use super::chain::{handle_failures, Chain, Converters, Origins, Staged};
use super::clients::{client_config, ClientKind};
use super::component::{instantiate, Component, ContextRequest, Failure};
use super::fetch_queue::{FetchQueue, Fetched};
use super::{lock, worker_failure, Figures, Meter, Target, TaskEnv};
use crate::config::TopicSelection;
use crate::errors::{ErrorHandler, Retried, Stage, TaskFailure};
use crate::model::State;
use crate::offsets::sink::group_id;

/// Most records handed to the pipeline in one batch.
const MAX_BATCH: usize = 10_000;
/// Room a batch's buffer starts with (it grows as records come).
const BATCH_BYTES: usize = 256 * 1024;
/// A batch stops taking records once it holds this many bytes.
const MAX_BATCH_BYTES: usize = 16 << 20;
/// Largest buffer kept from one batch for the next.
const MAX_SPARE_BYTES: usize = 2 * MAX_BATCH_BYTES;
/// How long a batch waits for its first record.
const POLL_WAIT: Duration = Duration::from_millis(200);
/// Most events served in one loop turn, so a stream of them cannot hold records up.
const MAX_EVENTS_PER_TURN: usize = 32;
const COMMIT_TIMEOUT: Duration = Duration::from_secs(30);

/// What the loop and the rebalance callbacks share.
struct Core {
    comp: Component,
    errors: ErrorHandler,
    /// Next offset after everything put, per assigned partition.
    next: HashMap<(String, i32), i64>,
    /// What was last committed, to skip empty commits.
    committed: HashMap<(String, i32), i64>,
    /// The partitions assigned now: only their offsets are offered to pre-commit.
    assigned: HashSet<(String, i32)>,
    /// Partitions revoked or rewound since the loop last looked: records of theirs taken but
    /// not yet in a batch are dropped (a new owner, or the rewound offset, reads them again).
    unwanted: Vec<(String, i32)>,
    /// A failure found inside a callback, for the loop to report.
    failure: Option<TaskFailure>,
    commit_requested: bool,
    connector: String,
    /// Offset commits sent to the group coordinator and how long each took (pre-commit included).
    commits: LatencyBuckets,
}

struct SinkContext {
    core: Arc<Mutex<Core>>,
    /// Where assigned partitions' records are forwarded (none: they all come by `poll`).
    fetch: Mutex<Option<Arc<FetchQueue>>>,
}

impl ClientContext for SinkContext {}

impl ConsumerContext for SinkContext {
    fn pre_rebalance(&self, consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if let Rebalance::Assign(tpl) = rebalance {
            // Before librdkafka starts fetching them, or their first records would go to the
            // consumer's queue.
            if let Some(fetch) = lock(&self.fetch).as_ref() {
                let missed = fetch.take_partitions(consumer, tpl);
                if !missed.is_empty() {
                    tracing::warn!(partitions = ?missed, "these partitions' records are taken one by one");
                }
            }
            let mut core = lock(&self.core);
            for e in tpl.elements() {
                core.assigned.insert((e.topic().to_string(), e.partition()));
            }
        }
        if let Rebalance::Revoke(tpl) = rebalance {
            let mut core = lock(&self.core);
            let revoked: Vec<(String, i32)> = tpl
                .elements()
                .iter()
                .map(|e| (e.topic().to_string(), e.partition()))
                .collect();
            for k in &revoked {
                core.assigned.remove(k);
            }
            core.unwanted.extend(revoked.iter().cloned());
            if let Err(f) = core.commit(consumer, Some(&revoked)) {
                core.failure.get_or_insert(f);
            }
            if let Err(e) = core.comp.sink_revoke(&revoked) {
                let f = TaskFailure::from_runtime(None, core.comp.label(), &e);
                core.failure.get_or_insert(f);
            }
            for k in &revoked {
                core.next.remove(k);
                core.committed.remove(k);
            }
        }
    }

    fn post_rebalance(&self, consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if let Rebalance::Assign(tpl) = rebalance {
            let committed = consumer
                .committed_offsets((*tpl).clone(), COMMIT_TIMEOUT)
                .unwrap_or_else(|_| (*tpl).clone());
            let assigned: Vec<(String, i32, i64)> = committed
                .elements()
                .iter()
                .map(|e| {
                    let o = match e.offset() {
                        Offset::Offset(o) => o,
                        _ => -1,
                    };
                    (e.topic().to_string(), e.partition(), o)
                })
                .collect();
            let mut core = lock(&self.core);
            for (t, p, o) in &assigned {
                if *o >= 0 {
                    core.committed.insert((t.clone(), *p), *o);
                }
            }
            if let Err(e) = core.comp.sink_assign(&assigned) {
                let f = TaskFailure::from_runtime(None, core.comp.label(), &e);
                core.failure.get_or_insert(f);
            }
        }
    }
}

impl Core {
    /// Pre-commit with the offsets put so far (of `only` partitions, if given) and commit
    /// what the connector returns. The dead-letter queue is flushed first, so no offset is
    /// committed before the records it replaces are safe.
    fn commit(
        &mut self,
        consumer: &BaseConsumer<SinkContext>,
        only: Option<&[(String, i32)]>,
    ) -> Result<(), TaskFailure> {
        self.commit_requested = false;
        let offsets: Vec<(String, i32, i64)> = self
            .next
            .iter()
            .filter(|(k, _)| only.is_none_or(|o| o.contains(k)))
            .map(|((t, p), o)| (t.clone(), *p, *o))
            .collect();
        if offsets.is_empty() {
            return Ok(());
        }
        let started = Instant::now();
        self.errors.flush(COMMIT_TIMEOUT).map_err(worker_failure)?;
        let safe = match self.comp.sink_pre_commit(&offsets) {
            Ok(s) => s,
            Err(e) if e.is_instance_failure() || !e.is_retriable() => {
                return Err(TaskFailure::from_runtime(None, self.comp.label(), &e))
            }
            Err(e) => {
                tracing::warn!(connector = %self.connector, error = %e, "pre-commit failed; committing nothing this time");
                return Ok(());
            }
        };
        let mut tpl = TopicPartitionList::new();
        for (t, p, o) in &safe {
            let key = (t.clone(), *p);
            if self.committed.get(&key) == Some(o) || *o < 0 {
                continue;
            }
            if tpl.add_partition_offset(t, *p, Offset::Offset(*o)).is_ok() {
                self.committed.insert(key, *o);
            }
        }
        if tpl.count() == 0 {
            return Ok(());
        }
        let committed = consumer.commit(&tpl, CommitMode::Sync);
        self.commits.observe(started.elapsed());
        if let Err(e) = committed {
            // The next commit carries these offsets again.
            for e2 in tpl.elements() {
                self.committed
                    .remove(&(e2.topic().to_string(), e2.partition()));
            }
            tracing::warn!(connector = %self.connector, error = %e, "offset commit failed");
        }
        Ok(())
    }
}

/// Whether a batch takes another record: at most [`MAX_BATCH`] records and, so that a batch
/// of large records does not hold 10,000 of them, [`MAX_BATCH_BYTES`] (a larger record still
/// comes alone).
fn has_room(batch: &BatchWriter) -> bool {
    batch.len() < MAX_BATCH && batch.byte_len() < MAX_BATCH_BYTES
}

/// A consumed record, from `poll` or from the [`FetchQueue`].
struct Consumed<'a> {
    topic: &'a str,
    partition: i32,
    offset: i64,
    timestamp: Option<i64>,
    key: Option<&'a [u8]>,
    value: Option<&'a [u8]>,
}

/// Appends a consumed record to the batch being built, with its index in the batch in the
/// offset field and its Kafka offset at that index of `kafka_offsets`. Header names that are
/// not UTF-8 (counted in `dropped` by `headers`) are left out with a warning.
fn push_consumed<'h>(
    w: &mut BatchWriter,
    kafka_offsets: &mut Vec<i64>,
    r: Consumed<'_>,
    headers: impl IntoIterator<Item = (&'h str, Option<&'h [u8]>)>,
    dropped: &std::cell::Cell<usize>,
) -> Result<(), TaskFailure> {
    let index = w.len() as i64;
    let pushed = w.push(
        r.topic,
        Some(r.partition),
        r.timestamp,
        Some(index),
        r.key,
        r.value,
        headers,
    );
    if dropped.get() > 0 {
        let warning = weft_runtime::not_utf8_warning(r.topic, r.partition, r.offset, dropped.get());
        tracing::warn!("{warning}");
    }
    pushed.map_err(|e| {
        worker_failure(format!(
            "record {}-{}@{} cannot be handed to the connector: {e}",
            r.topic, r.partition, r.offset
        ))
    })?;
    kafka_offsets.push(r.offset);
    Ok(())
}

/// The consumer and the queue its partitions' records are forwarded to. The queue refers to
/// the consumer's librdkafka handle, so it goes first: `drop` detaches it from the consumer's
/// wake-up callback and its context, and the fields drop in order.
struct SinkConsumer {
    fetch: Option<Arc<FetchQueue>>,
    consumer: BaseConsumer<SinkContext>,
}

impl Drop for SinkConsumer {
    fn drop(&mut self) {
        // librdkafka swaps the callback under the queue's lock, which it also holds while
        // calling it: once this returns, no call can reach the queue.
        self.consumer.set_nonempty_callback(|| {});
        lock(&self.consumer.context().fetch).take();
        self.fetch.take();
    }
}

/// Runs a sink task until it is stopped or fails.
pub fn run(env: &TaskEnv) -> Result<(), TaskFailure> {
    let spec = &env.spec;
    let worker = &env.worker;
    let mut comp = instantiate(
        &env.registry,
        &env.task_plugin_ref(),
        &env.sandbox_defaults,
        &[],
    )
    .map_err(|e| TaskFailure::from_runtime(None, &spec.connector.plugin, &e))?;
    let dlq_clients = spec.errors.dlq_topic.as_ref().map(|_| {
        (
            client_config(
                worker,
                Some(spec),
                ClientKind::Producer,
                &format!("{}-dlq", env.client_id()),
            ),
            client_config(
                worker,
                Some(spec),
                ClientKind::Admin,
                &format!("{}-admin", env.client_id()),
            ),
        )
    });
    let errors = ErrorHandler::new(spec.errors.clone(), &spec.name, env.task, dlq_clients)
        .map_err(worker_failure)?;
    match errors.retry(env.control.as_ref(), true, || {
        comp.sink_open(&env.task_config)
    }) {
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
    let core = Arc::new(Mutex::new(Core {
        comp,
        errors,
        next: HashMap::new(),
        committed: HashMap::new(),
        assigned: HashSet::new(),
        unwanted: Vec::new(),
        failure: None,
        commit_requested: false,
        connector: spec.name.clone(),
        commits: LatencyBuckets::default(),
    }));
    let mut cfg = client_config(worker, Some(spec), ClientKind::Consumer, &env.client_id());
    cfg.set("group.id", group_id(&spec.name));
    let mut consumer: BaseConsumer<SinkContext> = cfg
        .create_with_context(SinkContext {
            core: core.clone(),
            fetch: Mutex::new(None),
        })
        .map_err(|e| worker_failure(format!("cannot create the consumer: {e}")))?;
    let fetch = FetchQueue::new(&consumer).map(Arc::new);
    if fetch.is_none() {
        tracing::warn!(connector = %spec.name, "no queue of its own for fetched records: they are taken one by one");
    }
    *lock(&consumer.context().fetch) = fetch.clone();
    if let Some(f) = &fetch {
        // An event on the consumer's queue ends a wait for records, so the loop serves it at
        // once. Weak: `SinkConsumer::drop` decides when the queue goes.
        let f = Arc::downgrade(f);
        consumer.set_nonempty_callback(move || {
            if let Some(f) = f.upgrade() {
                f.wake();
            }
        });
    }
    let client = SinkConsumer { fetch, consumer };
    let SinkConsumer { consumer, fetch } = &client;
    match &spec.topics {
        TopicSelection::List(t) => {
            let t: Vec<&str> = t.iter().map(String::as_str).collect();
            consumer.subscribe(&t)
        }
        TopicSelection::Regex(r) => {
            let r = if r.starts_with('^') {
                r.clone()
            } else {
                format!("^{r}")
            };
            consumer.subscribe(&[r.as_str()])
        }
        TopicSelection::None => {
            return Err(worker_failure(
                "a sink connector needs `topics` or `topics.regex`",
            ))
        }
    }
    .map_err(|e| worker_failure(format!("cannot subscribe: {e}")))?;

    let mut task = SinkTask {
        env,
        core,
        chain,
        conv,
        meter: Meter::new(),
        last_commit: Instant::now(),
        last_topic: String::new(),
        paused: false,
    };
    let result = task.run_loop(consumer, fetch.as_deref());
    // Commit what was put, then leave the group (the revoke callback commits again, which is
    // a no-op by then) and close the components.
    let committed = {
        let mut core = lock(&task.core);
        core.commit(consumer, None)
    };
    task.publish(true);
    drop(client);
    let mut core = lock(&task.core);
    core.comp.close();
    task.chain.close();
    task.conv.close();
    let _ = core.errors.flush(env.worker.task_shutdown_timeout);
    result.and(committed)
}

struct SinkTask<'e> {
    env: &'e TaskEnv,
    core: Arc<Mutex<Core>>,
    chain: Chain,
    conv: Converters,
    meter: Meter,
    last_commit: Instant,
    last_topic: String,
    paused: bool,
}

impl SinkTask<'_> {
    fn run_loop(
        &mut self,
        consumer: &BaseConsumer<SinkContext>,
        fetch: Option<&FetchQueue>,
    ) -> Result<(), TaskFailure> {
        let env = self.env;
        let control = env.control.as_ref();
        let mut kafka_offsets: Vec<i64> = Vec::new();
        // Records taken from `fetch` and not yet in a batch (a batch full by bytes leaves some).
        let mut fetched = Fetched::new();
        // One buffer for every batch: a batch of 10,000 records is past glibc's mmap threshold,
        // and a fresh one each time page-faulted it in again (~6% of the task thread).
        let mut spare: Vec<u8> = Vec::with_capacity(BATCH_BYTES);
        loop {
            let target = control.target();
            match target {
                Target::Stop => return Ok(()),
                Target::Pause if !self.paused => {
                    if let Ok(a) = consumer.assignment() {
                        let _ = consumer.pause(&a);
                    }
                    self.paused = true;
                    env.report.set_state(State::Paused);
                }
                Target::Run if self.paused => {
                    if let Ok(a) = consumer.assignment() {
                        let _ = consumer.resume(&a);
                    }
                    self.paused = false;
                }
                _ => {}
            }
            if !self.paused && env.report.state().0 != State::Running {
                env.report.set_state(State::Running);
            }
            if let Some(f) = lock(&self.core).failure.take() {
                return Err(f);
            }
            kafka_offsets.clear();
            let mut batch = BatchWriter::reusing(std::mem::take(&mut spare));
            // The consumer's queue first: rebalances run here, before the batch takes records,
            // so it holds none of a partition revoked before it was built. It waits only when
            // no records can come from `fetch` (nothing assigned yet, or paused).
            let idle = fetch.is_none() || self.paused || lock(&self.core).assigned.is_empty();
            let mut wait = if idle { POLL_WAIT } else { Duration::ZERO };
            let mut events = 0;
            while has_room(&batch) {
                match consumer.poll(wait) {
                    None => {
                        events += 1;
                        if events < MAX_EVENTS_PER_TURN
                            && fetch.is_some_and(FetchQueue::events_waiting)
                        {
                            wait = Duration::ZERO;
                            continue;
                        }
                        break;
                    }
                    Some(Err(e)) => {
                        tracing::warn!(connector = %env.spec.name, error = %e, "consumer error");
                        break;
                    }
                    Some(Ok(m)) => {
                        let dropped = std::cell::Cell::new(0);
                        let record = Consumed {
                            topic: m.topic(),
                            partition: m.partition(),
                            offset: m.offset(),
                            timestamp: m.timestamp().to_millis(),
                            key: m.key(),
                            value: m.payload(),
                        };
                        let headers = weft_runtime::utf8_headers(&m, &dropped);
                        push_consumed(&mut batch, &mut kafka_offsets, record, headers, &dropped)?;
                    }
                }
                wait = Duration::ZERO;
            }
            let (unwanted, assigned) = {
                let mut core = lock(&self.core);
                (
                    std::mem::take(&mut core.unwanted),
                    !core.assigned.is_empty(),
                )
            };
            if !unwanted.is_empty() {
                fetched.retain_pending(|t, p| !unwanted.iter().any(|u| u.0 == t && u.1 == p));
            }
            if let Some(fetch) = fetch.filter(|_| assigned && !self.paused) {
                self.take_fetched(fetch, &mut fetched, &mut batch, &mut kafka_offsets)?;
            }
            if !batch.is_empty() {
                let raw = Batch::finish(batch)?;
                self.deliver(consumer, &raw, &kafka_offsets)?;
                spare = raw.into_bytes();
                if spare.capacity() > MAX_SPARE_BYTES {
                    // A batch of large records does not pin its buffer for the task's lifetime.
                    spare = Vec::with_capacity(BATCH_BYTES);
                }
            } else {
                spare = Batch::finish(batch)?.into_bytes();
            }
            let due = self.last_commit.elapsed() >= env.worker.offset_flush_interval;
            let mut core = lock(&self.core);
            if due || core.commit_requested {
                core.commit(consumer, None)?;
                self.last_commit = Instant::now();
            }
            drop(core);
            self.publish(false);
        }
    }

    /// Fills `batch` from `fetch`: first what an earlier batch had no room for, then as many
    /// records as it has room for, a call each, waiting only while the batch is empty.
    fn take_fetched(
        &mut self,
        fetch: &FetchQueue,
        fetched: &mut Fetched,
        batch: &mut BatchWriter,
        kafka_offsets: &mut Vec<i64>,
    ) -> Result<(), TaskFailure> {
        let mut wait = if batch.is_empty() {
            POLL_WAIT
        } else {
            Duration::ZERO
        };
        // Whether the last call filled all the room it was given (so more may be waiting).
        let mut more = true;
        while has_room(batch) {
            if fetched.is_drained() {
                if !more {
                    break;
                }
                let room = MAX_BATCH - batch.len();
                match fetch.take(wait, room, fetched) {
                    Ok(0) => break,
                    Ok(n) => more = n == room,
                    Err(e) => {
                        tracing::warn!(connector = %self.env.spec.name, error = %e, "cannot take fetched records");
                        break;
                    }
                }
                wait = Duration::ZERO;
            }
            let Some((m, topic)) = fetched.next_message() else {
                break;
            };
            if let Some(e) = m.error() {
                tracing::warn!(connector = %self.env.spec.name, error = %e, topic, partition = m.partition(), "consumer error");
                continue;
            }
            let dropped = std::cell::Cell::new(0);
            let record = Consumed {
                topic,
                partition: m.partition(),
                offset: m.offset(),
                timestamp: m.timestamp(),
                key: m.key(),
                value: m.payload(),
            };
            push_consumed(batch, kafka_offsets, record, m.headers(&dropped), &dropped)?;
        }
        // What was copied into the batch is released now, not when the next batch is taken.
        fetched.clear();
        Ok(())
    }

    fn deliver(
        &mut self,
        consumer: &BaseConsumer<SinkContext>,
        raw: &Batch,
        kafka_offsets: &[i64],
    ) -> Result<(), TaskFailure> {
        let env = self.env;
        let control = env.control.as_ref();
        let origins = Origins {
            records: raw,
            kafka_offsets: Some(kafka_offsets),
        };
        let core = self.core.clone();
        let mut core = lock(&core);
        let core = &mut *core;
        let (converted, schemas) =
            match self
                .conv
                .to_connect(raw, origins, &mut core.errors, control)?
            {
                Staged::Done(r, s) => (r, s),
                Staged::Stopped => return Ok(()),
            };
        let (out, schemas) =
            match self
                .chain
                .apply(&converted, schemas, origins, &mut core.errors, control)?
            {
                Staged::Done(r, s) => (r, s),
                Staged::Stopped => return Ok(()),
            };
        // The connector sees Kafka offsets; failures it reports map back through `from`.
        let mut out = match out {
            std::borrow::Cow::Owned(b) => b,
            // No transforms: the converters' output goes on as it is.
            std::borrow::Cow::Borrowed(_) => converted,
        };
        let mut from: Vec<usize> = Vec::with_capacity(out.len());
        out.set_offsets(|_, index| {
            let i = index.unwrap_or(0).max(0) as usize;
            from.push(i);
            kafka_offsets.get(i).copied()
        })?;
        if !out.is_empty() {
            let label = core.comp.label().to_string();
            let failures = match core
                .errors
                .retry(control, true, || core.comp.sink_put(&out, &schemas))
            {
                Retried::Done(f) => f,
                Retried::Stopped => return Ok(()),
                Retried::Failed(e) => {
                    return Err(TaskFailure::from_runtime(Some(Stage::TaskPut), &label, &e))
                }
            };
            if !failures.is_empty() {
                let remapped: Vec<Failure> = failures
                    .into_iter()
                    .map(|f| Failure {
                        index: from.get(f.index as usize).copied().unwrap_or(usize::MAX) as u32,
                        ..f
                    })
                    .collect();
                handle_failures(
                    &remapped,
                    raw,
                    origins,
                    Stage::TaskPut,
                    &label,
                    &mut core.errors,
                )?;
            }
        }
        // Only now is the batch put (or given up under errors.tolerance=all): its offsets may
        // be offered to pre-commit. A batch that failed the task is never committed past.
        // Runs of one partition are updated once, so no key is built per record.
        let mut run: Option<(&str, i32, i64)> = None;
        raw.for_each(|v| {
            let (topic, partition) = (v.topic, v.partition.unwrap_or(0));
            let offset = kafka_offsets.get(origin(&v)).copied().unwrap_or(-1);
            match &mut run {
                Some((t, p, last)) if *t == topic && *p == partition => *last = (*last).max(offset),
                _ => {
                    if let Some(done) = run.replace((topic, partition, offset)) {
                        self.advance(core, done);
                    }
                }
            }
            Ok(())
        })?;
        if let Some(done) = run {
            self.advance(core, done);
        }
        self.meter.add(raw.len());
        for r in core.comp.take_requests() {
            if !self.env.herder_request(&r) {
                apply_request(consumer, core, r);
            }
        }
        Ok(())
    }

    /// Records that a run of one partition, up to offset `last`, was put: its next offset may
    /// be offered to pre-commit. Runs are updated once, so no key is built per record.
    fn advance(&mut self, core: &mut Core, (topic, partition, last): (&str, i32, i64)) {
        if topic != self.last_topic {
            self.env.topic_used(topic);
            self.last_topic.clear();
            self.last_topic.push_str(topic);
        }
        let key = (topic.to_string(), partition);
        // A record taken by `poll` just before its partition was revoked: its offset is the
        // new owner's to commit.
        if !core.assigned.contains(&key) {
            return;
        }
        let n = core.next.entry(key).or_insert(last + 1);
        *n = (*n).max(last + 1);
    }

    fn publish(&mut self, force: bool) {
        let core = lock(&self.core);
        let figures = Figures {
            errors: core.errors.errors_total,
            dlq: core.errors.dlq_total,
            produced: 0,
            usage: core.comp.usage() + self.chain.usage() + self.conv.usage(),
            commits: &core.commits,
            reported: core.comp.reported(),
        };
        self.meter.publish(&self.env.report, force, figures);
    }
}

fn tpl_of(parts: &[(String, i32)]) -> TopicPartitionList {
    let mut tpl = TopicPartitionList::new();
    for (t, p) in parts {
        tpl.add_partition(t, *p);
    }
    tpl
}

fn apply_request(consumer: &BaseConsumer<SinkContext>, core: &mut Core, r: ContextRequest) {
    let outcome = match &r {
        ContextRequest::Pause(p) => consumer.pause(&tpl_of(p)),
        ContextRequest::Resume(p) => consumer.resume(&tpl_of(p)),
        ContextRequest::Rewind(offsets) => {
            let mut res = Ok(());
            for (t, p, o) in offsets {
                res = res.and(consumer.seek(t, *p, Offset::Offset(*o), Duration::from_secs(10)));
                core.next.insert((t.clone(), *p), *o);
                core.unwanted.push((t.clone(), *p));
            }
            res
        }
        ContextRequest::Commit => {
            core.commit_requested = true;
            Ok(())
        }
        // The herder's: `TaskEnv::herder_request` took it before.
        ContextRequest::Reconfigure => Ok(()),
    };
    if let Err(e) = outcome {
        tracing::warn!(connector = %core.connector, request = ?r, error = %e, "task-context request failed");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_batch_is_bounded_by_records_and_by_bytes() {
        let mut w = BatchWriter::with_capacity(0);
        assert!(has_room(&w));
        let large = vec![0u8; MAX_BATCH_BYTES];
        w.push("t", Some(0), None, Some(0), None, Some(&large), [])
            .unwrap();
        assert!(
            !has_room(&w),
            "one record past the byte bound fills the batch"
        );
        let mut w = BatchWriter::with_capacity(0);
        for i in 0..MAX_BATCH {
            assert!(has_room(&w), "record {i}");
            w.push("t", Some(0), None, Some(i as i64), None, Some(b"v"), [])
                .unwrap();
        }
        assert!(!has_room(&w));
    }
}
