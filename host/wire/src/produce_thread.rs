//! The appender's thread: per partition a queue sent strictly in order, head batch first; each round
//! one Produce request per leader broker (written to all of them before any answer is read), one
//! batch per partition per request as Kafka requires. Retriable failures resend the same head batch
//! after a backoff (and a metadata refresh when the leader may have moved); deliveries are called
//! here, never under the queue lock.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::{ApiKey, ProduceRequest, ProduceResponse};

use crate::appender::{Item, Shared};
use crate::backoff::Backoff;
use crate::cluster::{Cluster, TopicPartition};
use crate::config::WireConfig;
use crate::error::{code, needs_metadata_refresh, retriable_code, WireError};
use crate::fetch_thread::{timeout_ms, topic_name};

/// Longest the thread sleeps with nothing ready before checking timeouts again.
const IDLE_WAIT: Duration = Duration::from_millis(500);
/// A Produce response may take the broker's own timeout plus this before the connection is
/// considered lost.
const RESPONSE_GRACE: Duration = Duration::from_secs(5);

/// One partition's queue.
struct PartQueue {
    items: VecDeque<Item>,
    not_before: Instant,
    backoff: Backoff,
    /// Why the head batch's last attempt failed, for its delivery if it times out.
    last_error: Option<WireError>,
}

type Outcome = Result<i64, WireError>;

struct Producer {
    shared: Arc<Shared>,
    cluster: Cluster,
    queues: HashMap<TopicPartition, PartQueue>,
    meta_next_at: Instant,
    meta_backoff: Backoff,
    /// Deliveries to call at the end of the round, outside any lock.
    done: Vec<(Item, Outcome)>,
}

/// The thread's body: runs until the appender is dropped, then fails what is left with `Stopped`.
pub(crate) fn run(shared: Arc<Shared>, cfg: WireConfig) {
    let stop = shared.stop.clone();
    let mut p = Producer {
        cluster: Cluster::new(cfg, stop, true),
        shared,
        queues: HashMap::new(),
        meta_next_at: Instant::now(),
        meta_backoff: Backoff::default(),
        done: Vec::new(),
    };
    while p.collect() {
        p.expire();
        p.round();
        p.deliver();
    }
    let incoming = std::mem::take(&mut p.shared.lock().incoming);
    for item in incoming {
        p.done.push((item, Err(WireError::Stopped)));
    }
    for (_, q) in p.queues.drain() {
        for item in q.items {
            p.done.push((item, Err(WireError::Stopped)));
        }
    }
    p.deliver();
}

impl Producer {
    fn stopped(&self) -> bool {
        self.shared.stop.load(Ordering::Relaxed)
    }

    /// Moves newly queued batches into the partition queues, waiting while nothing is ready.
    /// Returns false once stopped.
    fn collect(&mut self) -> bool {
        let mut st = self.shared.lock();
        loop {
            if st.stopped || self.stopped() {
                return false;
            }
            let now = Instant::now();
            for item in st.incoming.drain(..) {
                self.queues
                    .entry(item.tp.clone())
                    .or_insert_with(|| PartQueue {
                        items: VecDeque::new(),
                        not_before: now,
                        backoff: Backoff::default(),
                        last_error: None,
                    })
                    .items
                    .push_back(item);
            }
            self.queues.retain(|_, q| !q.items.is_empty());
            let next = self.queues.values().map(|q| q.not_before).min();
            match next {
                Some(at) if at <= now => return true,
                Some(at) => {
                    // Also wake for delivery timeouts of waiting batches.
                    let wait = at.saturating_duration_since(now).min(IDLE_WAIT);
                    let (g, timed_out) = self
                        .shared
                        .work
                        .wait_timeout(st, wait)
                        .map(|(g, t)| (g, t.timed_out()))
                        .unwrap_or_else(|e| {
                            let (g, t) = e.into_inner();
                            (g, t.timed_out())
                        });
                    st = g;
                    if timed_out {
                        return true;
                    }
                }
                None => {
                    st = self
                        .shared
                        .work
                        .wait_timeout(st, IDLE_WAIT)
                        .map(|(g, _)| g)
                        .unwrap_or_else(|e| e.into_inner().0);
                }
            }
        }
    }

    /// Fails batches that waited longer than the delivery timeout (a prefix of each queue).
    fn expire(&mut self) {
        let limit = self.shared.settings.delivery_timeout;
        for (tp, q) in self.queues.iter_mut() {
            while q
                .items
                .front()
                .is_some_and(|i| i.queued_at.elapsed() > limit)
            {
                let Some(item) = q.items.pop_front() else {
                    break;
                };
                let why = q
                    .last_error
                    .as_ref()
                    .map(|e| format!("; last error: {e}"))
                    .unwrap_or_default();
                self.done.push((
                    item,
                    Err(WireError::Timeout(format!(
                        "batch for {}[{}] not appended within {limit:?}{why}",
                        tp.0, tp.1
                    ))),
                ));
            }
        }
    }

    fn round(&mut self) {
        let now = Instant::now();
        let mut ready: Vec<TopicPartition> = self
            .queues
            .iter()
            .filter(|(_, q)| !q.items.is_empty() && q.not_before <= now)
            .map(|(tp, _)| tp.clone())
            .collect();
        if ready.is_empty() {
            return;
        }
        ready.sort();
        self.refresh_leaders(&ready);
        let mut by_leader: BTreeMap<i32, Vec<TopicPartition>> = BTreeMap::new();
        for tp in ready {
            if let Some(l) = self.cluster.leader(&tp) {
                by_leader.entry(l).or_default().push(tp);
            } else if let Some(q) = self.queues.get_mut(&tp) {
                // Wait for the next metadata refresh rather than spin.
                q.not_before = q.not_before.max(self.meta_next_at);
            }
        }
        let settings = self.shared.settings.clone();
        let mut in_flight = Vec::new();
        for (node, parts) in by_leader {
            let mut topics: BTreeMap<Arc<str>, Vec<PartitionProduceData>> = BTreeMap::new();
            let mut sent = Vec::new();
            let mut bytes = 0usize;
            for tp in parts {
                let Some(head) = self.queues.get(&tp).and_then(|q| q.items.front()) else {
                    continue;
                };
                let len = head.batch.len();
                if !sent.is_empty() && bytes + len > settings.max_request_bytes {
                    continue;
                }
                bytes += len;
                topics.entry(tp.0.clone()).or_default().push(
                    PartitionProduceData::default()
                        .with_index(tp.1)
                        .with_records(Some(head.batch.clone())),
                );
                sent.push(tp);
            }
            let req = ProduceRequest::default()
                .with_acks(settings.acks)
                .with_timeout_ms(timeout_ms(self.cluster.config().request_timeout))
                .with_topic_data(
                    topics
                        .into_iter()
                        .map(|(t, ps)| {
                            TopicProduceData::default()
                                .with_name(topic_name(&t))
                                .with_partition_data(ps)
                        })
                        .collect(),
                );
            match self
                .cluster
                .conn(node)
                .and_then(|c| c.send(ApiKey::Produce, &req))
            {
                Ok((correlation, version)) => {
                    if settings.acks == 0 {
                        // No response comes; the write is all the confirmation there is.
                        for tp in sent {
                            self.complete(&tp, Ok(-1));
                        }
                    } else {
                        in_flight.push((node, sent, correlation, version));
                    }
                }
                Err(e) => self.node_failed(node, &sent, e),
            }
        }
        let deadline = self.cluster.deadline() + RESPONSE_GRACE;
        let stop = self.shared.stop.clone();
        for (node, sent, correlation, version) in in_flight {
            let resp: Result<ProduceResponse, WireError> = self
                .cluster
                .conn(node)
                .and_then(|c| c.recv(ApiKey::Produce, version, correlation, deadline, &stop));
            match resp {
                Ok(r) => self.handle_response(node, r, &sent),
                Err(WireError::Stopped) => return,
                Err(e) => self.node_failed(node, &sent, e),
            }
        }
    }

    fn refresh_leaders(&mut self, ready: &[TopicPartition]) {
        let mut topics: Vec<Arc<str>> = ready
            .iter()
            .filter(|tp| self.cluster.leader(tp).is_none())
            .map(|tp| tp.0.clone())
            .collect();
        if topics.is_empty() || Instant::now() < self.meta_next_at {
            return;
        }
        topics.sort();
        topics.dedup();
        match self.cluster.refresh(&topics) {
            Ok(errors) => {
                for (topic, code) in &errors {
                    for tp in ready.iter().filter(|tp| tp.0 == *topic) {
                        self.fail_attempt(tp, WireError::kafka(*code, &tp.0, tp.1), *code);
                    }
                }
                let missing: Vec<TopicPartition> = ready
                    .iter()
                    .filter(|tp| self.cluster.leader(tp).is_none())
                    .filter(|tp| !errors.iter().any(|(t, _)| *t == tp.0))
                    .cloned()
                    .collect();
                if missing.is_empty() && errors.is_empty() {
                    self.meta_backoff.reset();
                } else {
                    self.meta_next_at = self.meta_backoff.next_at();
                }
                for tp in missing {
                    // The topic may be being created, or the partition does not exist (yet).
                    let c = code::UNKNOWN_TOPIC_OR_PARTITION;
                    self.fail_attempt(&tp, WireError::kafka(c, &tp.0, tp.1), c);
                }
            }
            Err(WireError::Stopped) => {}
            Err(e) => {
                tracing::debug!(error = %e, "metadata refresh for appending failed");
                self.meta_next_at = self.meta_backoff.next_at();
                for tp in ready.iter().filter(|tp| self.cluster.leader(tp).is_none()) {
                    if let Some(q) = self.queues.get_mut(tp) {
                        q.not_before = q.backoff.next_at();
                        q.last_error = Some(e.duplicate());
                    }
                }
            }
        }
    }

    fn handle_response(&mut self, node: i32, resp: ProduceResponse, sent: &[TopicPartition]) {
        let mut answered = vec![false; sent.len()];
        for t in resp.responses {
            for p in t.partition_responses {
                let Some(i) = sent
                    .iter()
                    .position(|tp| *tp.0 == *t.name.0.as_str() && tp.1 == p.index)
                else {
                    continue;
                };
                if answered[i] {
                    continue;
                }
                answered[i] = true;
                let tp = &sent[i];
                if p.error_code == 0 {
                    self.complete(tp, Ok(p.base_offset));
                } else {
                    let err = WireError::kafka(p.error_code, &tp.0, tp.1);
                    self.fail_attempt(tp, err, p.error_code);
                }
            }
        }
        for (tp, _) in sent.iter().zip(answered).filter(|(_, a)| !a) {
            let err = WireError::protocol(
                &self.cluster.addr(node),
                format!("Produce response has no answer for {}[{}]", tp.0, tp.1),
            );
            self.retry_later(tp, err, false);
        }
    }

    /// The head batch of `tp` is done: delivered with `outcome`, next batch up.
    fn complete(&mut self, tp: &TopicPartition, outcome: Outcome) {
        if let Some(q) = self.queues.get_mut(tp) {
            if let Some(item) = q.items.pop_front() {
                self.done.push((item, outcome));
            }
            q.backoff.reset();
            q.last_error = None;
            q.not_before = Instant::now();
        }
    }

    /// A Kafka error for `tp`'s head batch: retried later if retriable, delivered as an error
    /// otherwise.
    fn fail_attempt(&mut self, tp: &TopicPartition, err: WireError, code: i16) {
        if retriable_code(code) {
            self.retry_later(tp, err, needs_metadata_refresh(code));
        } else {
            tracing::warn!(topic = %tp.0, partition = tp.1, error = %err, "batch not appended");
            self.complete(tp, Err(err));
        }
    }

    /// Keeps `tp`'s head batch for another attempt after a backoff (the delivery timeout ends it).
    fn retry_later(&mut self, tp: &TopicPartition, err: WireError, forget_leader: bool) {
        tracing::debug!(topic = %tp.0, partition = tp.1, error = %err, "append will be retried");
        if forget_leader {
            self.cluster.forget_leader(tp);
        }
        if let Some(q) = self.queues.get_mut(tp) {
            q.not_before = q.backoff.next_at();
            q.last_error = Some(err);
        }
    }

    /// A request to `node` failed at the connection level: whether it was stored is unknown, so
    /// every batch in it is sent again (at least once).
    fn node_failed(&mut self, node: i32, sent: &[TopicPartition], err: WireError) {
        tracing::debug!(broker = %self.cluster.addr(node), error = %err, "produce connection failed");
        self.cluster.connection_failed(node);
        for tp in sent {
            self.retry_later(tp, err.duplicate(), true);
        }
    }

    /// Calls the deliveries of the round, outside the queue lock, then frees their queue space.
    fn deliver(&mut self) {
        if self.done.is_empty() {
            return;
        }
        let mut n = 0;
        let mut bytes = 0;
        for (item, outcome) in self.done.drain(..) {
            n += 1;
            bytes += item.batch.len();
            (item.done)(outcome);
        }
        self.shared.delivered(n, bytes);
    }
}
