//! The transaction coordinator: one state machine per transactional id, its log in the compacted
//! internal topic `__transaction_state`, and the COMMIT/ABORT markers written to every partition of
//! a transaction when it ends.
//!
//! # Layout
//! - [`state`]: a transactional id's metadata and its transitions (pure).
//! - [`log`]: Kafka's `TransactionLogKey`/`TransactionLogValue` records and the start-up replay.
//! - [`markers`]: writing the markers of one ended transaction.
//! - [`verify`]: the KIP-890 check of transactional produce batches.
//!
//! Invariants: every transition follows decide / append / apply, as the group coordinator does. The
//! next metadata is decided under the mutex and the id is marked *pending* (a second request for it
//! gets CONCURRENT_TRANSACTIONS, as Kafka's `pendingTransitionInProgress`); the record is appended to
//! `__transaction_state` with the mutex released; the new metadata is applied afterwards. So the
//! state a client was told about is on disk, and a replay after kill -9 finds it. Every operation
//! here does log I/O and runs on a blocking thread (handlers via `off_worker`, the timer via
//! `spawn_blocking`), never on an async worker. This single node is the coordinator of every
//! transactional id; its coordinator epoch is 0.

pub mod log;
pub mod markers;
pub mod state;
pub mod verify;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use tokio::task::JoinHandle;

use crate::error::code;
use crate::server::Broker;
use crate::topics::Topics;
pub use log::TRANSACTION_STATE_TOPIC;
use state::codes::*;
pub use state::{TxnMetadata, TxnState};

/// The coordinator's settings (Kafka's keys and defaults, see `config.rs`).
#[derive(Debug, Clone)]
pub struct TxnConfig {
    pub max_timeout_ms: i32,
    pub id_expiration_ms: i64,
    pub state_log_partitions: i32,
    pub state_log_segment_bytes: u32,
    pub abort_timed_out_interval_ms: u64,
    pub remove_expired_interval_ms: u64,
}

struct Entry {
    meta: TxnMetadata,
    /// A transition of this id is being written (or its markers are): other requests wait.
    pending: bool,
}

/// What a replay of `__transaction_state` loaded.
#[derive(Debug, Default, Clone, Copy)]
pub struct LoadReport {
    pub transactional_ids: usize,
    pub unfinished: usize,
    pub skipped_batches: usize,
}

/// A transaction as ListTransactions reports it.
#[derive(Debug, Clone)]
pub struct Listing {
    pub transactional_id: String,
    pub producer_id: i64,
    pub state: TxnState,
    pub start_ms: i64,
}

/// The transaction coordinator (this node coordinates every transactional id).
pub struct TxnCoordinator {
    config: TxnConfig,
    inner: Mutex<HashMap<String, Entry>>,
}

/// The error for a failed append to `__transaction_state`: retriable, the client asks again.
const STORE_FAILED: i16 = code::COORDINATOR_NOT_AVAILABLE;

impl TxnCoordinator {
    pub fn new(config: TxnConfig) -> TxnCoordinator {
        TxnCoordinator {
            config,
            inner: Mutex::new(HashMap::new()),
        }
    }

    pub fn config(&self) -> &TxnConfig {
        &self.config
    }

    /// Creates `__transaction_state` if needed (compacted; blocking thread).
    pub fn ensure_topic(&self, topics: &Topics) -> Result<(), crate::BrokerError> {
        log::ensure_topic(topics, &self.config)
    }

    /// Rebuilds every transactional id's state from `__transaction_state` (start-up).
    pub fn load(&self, topics: &Topics) -> Result<LoadReport, log::ReplayError> {
        let loaded = log::load(topics)?;
        let report = LoadReport {
            transactional_ids: loaded.states.len(),
            unfinished: loaded
                .states
                .values()
                .filter(|m| m.state.is_prepare() || m.state == TxnState::Ongoing)
                .count(),
            skipped_batches: loaded.skipped_batches,
        };
        *self.inner.lock() = loaded
            .states
            .into_iter()
            .map(|(id, meta)| {
                (
                    id,
                    Entry {
                        meta,
                        pending: false,
                    },
                )
            })
            .collect();
        Ok(report)
    }

    /// Appends `meta` (or a tombstone) for `id`; the mutex must not be held.
    fn store(&self, broker: &Broker, id: &str, meta: Option<&TxnMetadata>) -> Result<(), i16> {
        let now = crate::maintenance::now_ms();
        log::append_blocking(&broker.topics, &self.config, id, meta, now).map_err(|e| {
            tracing::warn!(transactional_id = id, error = %e, "cannot write {TRANSACTION_STATE_TOPIC}");
            STORE_FAILED
        })
    }

    /// Ends a pending transition: applies `next` if it was stored, and clears the pending mark
    /// unless the caller goes on with the id (`keep_pending`).
    fn finish(&self, id: &str, next: Option<TxnMetadata>, keep_pending: bool) {
        let mut inner = self.inner.lock();
        if let Some(e) = inner.get_mut(id) {
            if let Some(m) = next {
                e.meta = m;
            }
            e.pending = keep_pending;
        }
    }

    /// Decides a transition under the mutex and marks the id pending. `Ok(None)`: nothing to write.
    fn begin(
        &self,
        id: &str,
        decide: impl FnOnce(&TxnMetadata) -> Result<Option<TxnMetadata>, i16>,
    ) -> Result<Option<TxnMetadata>, i16> {
        let mut inner = self.inner.lock();
        let e = inner.get_mut(id).ok_or(INVALID_PRODUCER_ID_MAPPING)?;
        if e.pending {
            return Err(CONCURRENT_TRANSACTIONS);
        }
        let next = decide(&e.meta)?;
        if next.is_some() {
            e.pending = true;
        }
        Ok(next)
    }

    /// Stores a decided transition and applies it; on failure the id keeps its old state.
    fn commit(
        &self,
        broker: &Broker,
        id: &str,
        next: TxnMetadata,
        keep_pending: bool,
    ) -> Result<TxnMetadata, i16> {
        match self.store(broker, id, Some(&next)) {
            Ok(()) => {
                self.finish(id, Some(next.clone()), keep_pending);
                Ok(next)
            }
            Err(e) => {
                self.finish(id, None, false);
                Err(e)
            }
        }
    }

    /// InitProducerId with a transactional id: the producer id and epoch to use. An ongoing
    /// transaction of the previous epoch is aborted first (its producer is fenced by the bump).
    pub fn init_producer_id(
        &self,
        broker: &Broker,
        id: &str,
        timeout_ms: i32,
        expected: Option<(i64, i16)>,
    ) -> Result<(i64, i16), i16> {
        if id.is_empty() {
            return Err(code::INVALID_REQUEST);
        }
        if timeout_ms <= 0 || timeout_ms > self.config.max_timeout_ms {
            return Err(INVALID_TRANSACTION_TIMEOUT);
        }
        if !self.inner.lock().contains_key(id) {
            // Allocation may persist a block of ids: outside the mutex.
            let pid = broker.producer_ids.allocate().map_err(|e| {
                tracing::error!(error = %e, "cannot allocate a producer id");
                code::COORDINATOR_LOAD_IN_PROGRESS
            })?;
            let now = crate::maintenance::now_ms();
            self.inner
                .lock()
                .entry(id.to_string())
                .or_insert_with(|| Entry {
                    meta: TxnMetadata::new(id, pid, timeout_ms, now),
                    pending: false,
                });
        }
        // At most one fence, then the bump (Kafka answers CONCURRENT_TRANSACTIONS after the fence
        // and lets the client retry; finishing the abort here first gives the same end state).
        for _ in 0..2 {
            let now = crate::maintenance::now_ms();
            let mut fencing = false;
            let next = self.begin(id, |m| match m.state {
                TxnState::Ongoing => {
                    fencing = true;
                    m.prepare_fence_abort(now).map(Some)
                }
                s if s.is_prepare() => Err(CONCURRENT_TRANSACTIONS),
                _ => m
                    .prepare_init(timeout_ms, expected, now, || {
                        broker.producer_ids.allocate().map_err(|e| {
                            tracing::error!(error = %e, "cannot allocate a producer id");
                            code::COORDINATOR_LOAD_IN_PROGRESS
                        })
                    })
                    .map(Some),
            })?;
            let Some(next) = next else {
                return Err(code::UNKNOWN_SERVER_ERROR);
            };
            if fencing {
                tracing::info!(
                    transactional_id = id,
                    producer_id = next.producer_id,
                    epoch = next.producer_epoch,
                    "fencing the ongoing transaction of a previous producer: aborting it"
                );
                let prepared = self.commit(broker, id, next, true)?;
                if !self.complete(broker, prepared) {
                    return Err(CONCURRENT_TRANSACTIONS);
                }
                continue;
            }
            let done = self.commit(broker, id, next, false)?;
            tracing::info!(
                transactional_id = id,
                producer_id = done.producer_id,
                epoch = done.producer_epoch,
                "initialized a transactional producer"
            );
            return Ok((done.producer_id, done.producer_epoch));
        }
        Err(CONCURRENT_TRANSACTIONS)
    }

    /// AddPartitionsToTxn / AddOffsetsToTxn (which adds the group's `__consumer_offsets` partition).
    pub fn add_partitions(
        &self,
        broker: &Broker,
        id: &str,
        producer_id: i64,
        epoch: i16,
        partitions: &[(String, i32)],
    ) -> Result<(), i16> {
        if id.is_empty() {
            return Err(code::INVALID_REQUEST);
        }
        let now = crate::maintenance::now_ms();
        match self.begin(id, |m| {
            m.prepare_add_partitions(producer_id, epoch, partitions, now)
        })? {
            None => Ok(()),
            Some(next) => self.commit(broker, id, next, false).map(|_| ()),
        }
    }

    /// The KIP-890 verification (AddPartitionsToTxn v4+ `verify_only`, and the produce path): is
    /// `partition` part of this producer's ongoing transaction? Answers Kafka's per-partition codes
    /// (TRANSACTION_ABORTABLE when it is not); in memory only.
    pub fn verify(&self, id: &str, producer_id: i64, epoch: i16, partition: &(String, i32)) -> i16 {
        let inner = self.inner.lock();
        let Some(e) = inner.get(id) else {
            return INVALID_PRODUCER_ID_MAPPING;
        };
        if let Err(c) = e.meta.check_producer(producer_id, epoch) {
            return c;
        }
        if e.meta.state.is_prepare() {
            return CONCURRENT_TRANSACTIONS;
        }
        if e.meta.state == TxnState::Ongoing && e.meta.partitions.contains(partition) {
            code::NONE
        } else {
            TRANSACTION_ABORTABLE
        }
    }

    /// EndTxn: the producer id and epoch to answer. Answers once the PrepareCommit/PrepareAbort
    /// state is stored (as Kafka); the markers are written before that answer when they can be,
    /// otherwise the timer finishes them.
    pub fn end_txn(
        &self,
        broker: &Broker,
        id: &str,
        producer_id: i64,
        epoch: i16,
        commit: bool,
    ) -> Result<(i64, i16), i16> {
        if id.is_empty() {
            return Err(code::INVALID_REQUEST);
        }
        let now = crate::maintenance::now_ms();
        let current = self
            .inner
            .lock()
            .get(id)
            .map(|e| (e.meta.producer_id, e.meta.producer_epoch));
        match self.begin(id, |m| m.prepare_end(producer_id, epoch, commit, now))? {
            None => Ok(current.unwrap_or((producer_id, epoch))),
            Some(next) => {
                let prepared = self.commit(broker, id, next, true)?;
                let answer = (prepared.producer_id, prepared.producer_epoch);
                self.complete(broker, prepared);
                Ok(answer)
            }
        }
    }

    /// Writes the markers of a prepared transaction (the id is pending, owned by the caller), then
    /// stores CompleteCommit/CompleteAbort. Returns false if a marker or the state could not be
    /// written: the id is left in its Prepare state, not pending, for the timer to finish.
    fn complete(&self, broker: &Broker, prepared: TxnMetadata) -> bool {
        let id = prepared.transactional_id.clone();
        if let Err(e) = markers::write_all(broker, &prepared) {
            tracing::warn!(transactional_id = %id, error = %e, "cannot write transaction markers yet; the coordinator retries");
            self.finish(&id, None, false);
            return false;
        }
        let now = crate::maintenance::now_ms();
        let next = match prepared.prepare_complete(now) {
            Ok(n) => n,
            Err(_) => {
                self.finish(&id, None, false);
                return false;
            }
        };
        match self.commit(broker, &id, next, false) {
            Ok(done) => {
                tracing::debug!(transactional_id = %id, state = done.state.name(), "transaction completed");
                true
            }
            Err(_) => false,
        }
    }

    /// Timer pass (blocking thread): aborts transactions older than their timeout, bumping the epoch
    /// so the stuck producer is fenced (Kafka's `abortTimedOutTransactions`), and finishes prepared
    /// transactions whose markers are not all written (after a restart, or a failed write).
    pub fn abort_timed_out(&self, broker: &Broker) {
        let now = crate::maintenance::now_ms();
        let due: Vec<String> = self
            .inner
            .lock()
            .iter()
            .filter(|(_, e)| !e.pending && (e.meta.timed_out(now) || e.meta.state.is_prepare()))
            .map(|(id, _)| id.clone())
            .collect();
        for id in due {
            let mut timed_out = false;
            let next = {
                let mut inner = self.inner.lock();
                let Some(e) = inner.get_mut(&id) else {
                    continue;
                };
                if e.pending {
                    continue;
                }
                if e.meta.state.is_prepare() {
                    e.pending = true;
                    Ok(None)
                } else if e.meta.timed_out(now) {
                    timed_out = true;
                    match e.meta.prepare_fence_abort(now) {
                        Ok(n) => {
                            e.pending = true;
                            Ok(Some(n))
                        }
                        Err(c) => Err(c),
                    }
                } else {
                    continue;
                }
            };
            let prepared = match next {
                Err(_) => continue,
                Ok(None) => match self.inner.lock().get(&id) {
                    Some(e) => e.meta.clone(),
                    None => continue,
                },
                Ok(Some(n)) => match self.commit(broker, &id, n, true) {
                    Ok(p) => p,
                    Err(_) => continue,
                },
            };
            if timed_out {
                tracing::info!(transactional_id = %id, producer_id = prepared.producer_id, epoch = prepared.producer_epoch, timeout_ms = prepared.timeout_ms, "aborting a transaction that exceeded its timeout; its producer is fenced");
            } else {
                tracing::info!(transactional_id = %id, state = prepared.state.name(), "completing a prepared transaction");
            }
            self.complete(broker, prepared);
        }
    }

    /// `transactional.id.expiration.ms`: removes ids idle that long with no transaction in progress
    /// (a tombstone in `__transaction_state`, so they stay gone after a restart). Blocking thread.
    pub fn expire_ids(&self, broker: &Broker) {
        let now = crate::maintenance::now_ms();
        let expiration = self.config.id_expiration_ms;
        let doomed: Vec<String> = {
            let mut inner = self.inner.lock();
            inner
                .iter_mut()
                .filter(|(_, e)| !e.pending && e.meta.expirable(now, expiration))
                .map(|(id, e)| {
                    e.pending = true;
                    id.clone()
                })
                .collect()
        };
        for id in doomed {
            match self.store(broker, &id, None) {
                Ok(()) => {
                    self.inner.lock().remove(&id);
                    tracing::info!(transactional_id = %id, "expired an idle transactional id");
                }
                Err(_) => self.finish(&id, None, false),
            }
        }
    }

    /// A copy of one transactional id's metadata.
    pub fn describe(&self, id: &str) -> Option<TxnMetadata> {
        self.inner.lock().get(id).map(|e| e.meta.clone())
    }

    /// Every transactional id, sorted.
    pub fn list(&self) -> Vec<Listing> {
        let mut out: Vec<Listing> = self
            .inner
            .lock()
            .values()
            .filter(|e| e.meta.producer_epoch >= 0 || e.meta.state != TxnState::Empty)
            .map(|e| Listing {
                transactional_id: e.meta.transactional_id.clone(),
                producer_id: e.meta.producer_id,
                state: e.meta.state,
                start_ms: e.meta.start_ms,
            })
            .collect();
        out.sort_by(|a, b| a.transactional_id.cmp(&b.transactional_id));
        out
    }
}

/// Runs the coordinator's timers until shutdown: first finishes transactions a crash left prepared,
/// then aborts timed-out ones every `transaction.abort.timed.out.transaction.cleanup.interval.ms`
/// and expires idle ids every `transaction.remove.expired.transaction.cleanup.interval.ms`. The
/// passes write, so they run on blocking threads.
pub fn spawn_timers(broker: Arc<Broker>) -> Vec<JoinHandle<()>> {
    let c = broker.transactions.config().clone();
    let abort = every(broker.clone(), c.abort_timed_out_interval_ms, true, |b| {
        b.transactions.abort_timed_out(b)
    });
    let expire = every(broker, c.remove_expired_interval_ms, false, |b| {
        b.transactions.expire_ids(b)
    });
    vec![abort, expire]
}

fn every(
    broker: Arc<Broker>,
    interval_ms: u64,
    at_start: bool,
    pass: fn(&Broker),
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut shutdown = broker.shutdown_signal();
        let mut ticker = tokio::time::interval(Duration::from_millis(interval_ms.max(10)));
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        if !at_start {
            ticker.tick().await;
        }
        loop {
            tokio::select! {
                _ = ticker.tick() => {}
                _ = shutdown.changed() => break,
            }
            let b = broker.clone();
            if tokio::task::spawn_blocking(move || pass(&b)).await.is_err() {
                tracing::error!("transaction coordinator pass panicked");
            }
        }
    })
}
