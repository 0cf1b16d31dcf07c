//! One fetch thread: each round it sends one Fetch request to every broker leading some of its
//! partitions (all written before any answer is read, so they are in flight together), normalises
//! what comes back into the shared buffer, and handles leader moves, offset resets and failures.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
use kafka_protocol::messages::{
    ApiKey, BrokerId, FetchRequest, FetchResponse, ListOffsetsRequest, ListOffsetsResponse,
    TopicName,
};
use kafka_protocol::protocol::StrBytes;

use crate::backoff::Backoff;
use crate::cluster::{Cluster, TopicPartition};
use crate::config::WireConfig;
use crate::error::{code, needs_metadata_refresh, retriable_code, WireError};
use crate::fetcher::Shared;
use crate::normalise::{normalise, Normalised, PartitionRecords};

/// Longest a thread with nothing to do sleeps before looking at its assignment again (assign and
/// drop wake it sooner).
const IDLE_WAIT: Duration = Duration::from_millis(500);

/// A partition this thread fetches in this round, as the shared state had it.
#[derive(Clone)]
struct Work {
    tp: TopicPartition,
    epoch: u64,
    fetch_pos: i64,
}

/// Per-partition retry state, private to the thread.
struct Local {
    epoch: u64,
    not_before: Instant,
    backoff: Backoff,
    /// Since when a retriable error keeps this partition from being fetched.
    failing_since: Option<Instant>,
    /// The last error reported for it, so a repeating error is reported once.
    reported: Option<String>,
}

/// What a round learned about a partition.
enum Outcome {
    Data(Normalised),
    /// Restart at this (resolved or -2/-1) offset.
    Position(i64),
}

struct Worker {
    index: usize,
    shared: Arc<Shared>,
    cluster: Cluster,
    local: HashMap<TopicPartition, Local>,
    meta_next_at: Instant,
    meta_backoff: Backoff,
    /// Since when the cluster cannot be reached (metadata or connections failing).
    failing_since: Option<Instant>,
    /// Errors for the caller, handed over at the end of the round.
    reports: Vec<WireError>,
    outcomes: Vec<(Work, Outcome)>,
}

/// The thread's body: runs rounds until the fetcher is dropped.
pub(crate) fn run(index: usize, shared: Arc<Shared>, cfg: WireConfig) {
    let stop = shared.stop.clone();
    let mut w = Worker {
        index,
        cluster: Cluster::new(cfg, stop, false),
        shared,
        local: HashMap::new(),
        meta_next_at: Instant::now(),
        meta_backoff: Backoff::default(),
        failing_since: None,
        reports: Vec::new(),
        outcomes: Vec::new(),
    };
    while let Some(work) = w.wait_for_work() {
        w.round(work);
        w.apply();
    }
}

impl Worker {
    fn stopped(&self) -> bool {
        self.shared.stop.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// This thread's partitions, once there are some and the buffer has room; `None` when stopped.
    fn wait_for_work(&mut self) -> Option<Vec<Work>> {
        let limit = self.shared.settings.buffer_bytes;
        let mut st = self.shared.lock();
        loop {
            if self.stopped() {
                return None;
            }
            if st.buffered_bytes <= limit {
                let work: Vec<Work> = st
                    .parts
                    .iter()
                    .filter(|(_, p)| p.thread == self.index)
                    .map(|(tp, p)| Work {
                        tp: tp.clone(),
                        epoch: p.epoch,
                        fetch_pos: p.fetch_pos,
                    })
                    .collect();
                if !work.is_empty() {
                    drop(st);
                    let now = Instant::now();
                    let epochs: HashMap<&TopicPartition, u64> =
                        work.iter().map(|w| (&w.tp, w.epoch)).collect();
                    self.local
                        .retain(|tp, l| epochs.get(tp).is_some_and(|&e| e == l.epoch));
                    for w in &work {
                        self.local.entry(w.tp.clone()).or_insert_with(|| Local {
                            epoch: w.epoch,
                            not_before: now,
                            backoff: Backoff::default(),
                            failing_since: None,
                            reported: None,
                        });
                    }
                    return Some(work);
                }
            }
            st = self
                .shared
                .wake
                .wait_timeout(st, IDLE_WAIT)
                .map(|(g, _)| g)
                .unwrap_or_else(|e| e.into_inner().0);
        }
    }

    /// Sleeps up to `d`, waking early on assign, buffer space or stop.
    fn pause(&self, d: Duration) {
        let st = self.shared.lock();
        if self.stopped() {
            return;
        }
        let _ = self.shared.wake.wait_timeout(st, d);
    }

    fn round(&mut self, work: Vec<Work>) {
        let now = Instant::now();
        let mut ready: Vec<Work> = work
            .into_iter()
            .filter(|w| self.local.get(&w.tp).is_none_or(|l| l.not_before <= now))
            .collect();
        if ready.is_empty() {
            let next = self
                .local
                .values()
                .map(|l| l.not_before)
                .min()
                .unwrap_or(now);
            self.pause(next.saturating_duration_since(now).min(IDLE_WAIT));
            return;
        }
        self.refresh_leaders(&ready);
        self.resolve_positions(&mut ready);
        let sent = self.fetch(&ready);
        if !sent && !self.stopped() {
            // Nothing could be fetched (no leaders, positions unresolved): do not spin.
            self.pause(Duration::from_millis(100));
        }
    }

    /// Metadata for the topics of partitions without a known leader (at most once per backoff).
    fn refresh_leaders(&mut self, ready: &[Work]) {
        let mut topics: Vec<Arc<str>> = ready
            .iter()
            .filter(|w| self.cluster.leader(&w.tp).is_none())
            .map(|w| w.tp.0.clone())
            .collect();
        if topics.is_empty() || Instant::now() < self.meta_next_at {
            return;
        }
        topics.sort();
        topics.dedup();
        match self.cluster.refresh(&topics) {
            Ok(errors) => {
                self.cluster_ok();
                for (topic, code) in &errors {
                    for w in ready.iter().filter(|w| w.tp.0 == *topic) {
                        self.partition_error(&w.tp, *code);
                    }
                }
                let missing: Vec<TopicPartition> = ready
                    .iter()
                    .filter(|w| self.cluster.leader(&w.tp).is_none())
                    .filter(|w| !errors.iter().any(|(t, _)| *t == w.tp.0))
                    .map(|w| w.tp.clone())
                    .collect();
                if missing.is_empty() && errors.is_empty() {
                    self.meta_backoff.reset();
                } else {
                    self.meta_next_at = self.meta_backoff.next_at();
                    for tp in missing {
                        // A partition the topic does not have looks like this too.
                        self.partition_error(&tp, code::UNKNOWN_TOPIC_OR_PARTITION);
                    }
                }
            }
            Err(WireError::Stopped) => {}
            Err(e) => {
                self.meta_next_at = self.meta_backoff.next_at();
                self.cluster_failed(e);
            }
        }
    }

    /// Resolves -2/-1 positions with ListOffsets to their leaders.
    fn resolve_positions(&mut self, ready: &mut [Work]) {
        let mut by_leader: BTreeMap<i32, Vec<usize>> = BTreeMap::new();
        for (i, w) in ready.iter().enumerate() {
            if w.fetch_pos < 0 {
                if let Some(l) = self.cluster.leader(&w.tp) {
                    by_leader.entry(l).or_default().push(i);
                }
            }
        }
        for (node, idxs) in by_leader {
            let mut topics: BTreeMap<Arc<str>, Vec<ListOffsetsPartition>> = BTreeMap::new();
            for &i in &idxs {
                let w = &ready[i];
                topics.entry(w.tp.0.clone()).or_default().push(
                    ListOffsetsPartition::default()
                        .with_partition_index(w.tp.1)
                        .with_timestamp(w.fetch_pos),
                );
            }
            let req = ListOffsetsRequest::default()
                .with_replica_id(BrokerId(-1))
                .with_isolation_level(i8::from(self.shared.settings.read_committed))
                .with_timeout_ms(timeout_ms(self.cluster.config().request_timeout))
                .with_topics(
                    topics
                        .into_iter()
                        .map(|(t, ps)| {
                            ListOffsetsTopic::default()
                                .with_name(topic_name(&t))
                                .with_partitions(ps)
                        })
                        .collect(),
                );
            let deadline = self.cluster.deadline();
            let stop = self.shared.stop.clone();
            let resp: Result<ListOffsetsResponse, WireError> = self
                .cluster
                .conn(node)
                .and_then(|c| c.call(ApiKey::ListOffsets, &req, deadline, &stop));
            let resp = match resp {
                Ok(r) => r,
                Err(e) => {
                    self.node_failed(node, idxs.iter().map(|&i| &ready[i].tp).cloned(), e);
                    continue;
                }
            };
            self.cluster_ok();
            for t in resp.topics {
                for p in t.partitions {
                    let Some(&i) = idxs.iter().find(|&&i| {
                        *ready[i].tp.0 == *t.name.0.as_str() && ready[i].tp.1 == p.partition_index
                    }) else {
                        continue;
                    };
                    if p.error_code != 0 {
                        let tp = ready[i].tp.clone();
                        self.partition_error(&tp, p.error_code);
                        continue;
                    }
                    if p.offset < 0 {
                        continue;
                    }
                    ready[i].fetch_pos = p.offset;
                    self.outcomes
                        .push((ready[i].clone(), Outcome::Position(p.offset)));
                }
            }
        }
    }

    /// One Fetch request to every leader of a ready partition, all written before any is read.
    /// Returns whether any request was sent.
    fn fetch(&mut self, ready: &[Work]) -> bool {
        let settings = self.shared.settings.clone();
        let mut by_leader: BTreeMap<i32, Vec<&Work>> = BTreeMap::new();
        for w in ready.iter().filter(|w| w.fetch_pos >= 0) {
            if let Some(l) = self.cluster.leader(&w.tp) {
                by_leader.entry(l).or_default().push(w);
            }
        }
        let mut in_flight = Vec::new();
        for (node, parts) in by_leader {
            let mut topics: BTreeMap<Arc<str>, Vec<FetchPartition>> = BTreeMap::new();
            for w in &parts {
                topics.entry(w.tp.0.clone()).or_default().push(
                    FetchPartition::default()
                        .with_partition(w.tp.1)
                        .with_fetch_offset(w.fetch_pos)
                        .with_partition_max_bytes(settings.partition_max_bytes)
                        .with_current_leader_epoch(-1)
                        .with_log_start_offset(-1),
                );
            }
            let req = FetchRequest::default()
                .with_replica_id(BrokerId(-1))
                .with_max_wait_ms(timeout_ms(settings.max_wait))
                .with_min_bytes(1)
                .with_max_bytes(settings.max_bytes)
                .with_isolation_level(i8::from(settings.read_committed))
                .with_topics(
                    topics
                        .into_iter()
                        .map(|(t, ps)| {
                            FetchTopic::default()
                                .with_topic(topic_name(&t))
                                .with_partitions(ps)
                        })
                        .collect(),
                );
            match self
                .cluster
                .conn(node)
                .and_then(|c| c.send(ApiKey::Fetch, &req))
            {
                Ok((correlation, version)) => in_flight.push((node, parts, correlation, version)),
                Err(e) => self.node_failed(node, parts.iter().map(|w| w.tp.clone()), e),
            }
        }
        let sent = !in_flight.is_empty();
        // The broker holds a request up to max_wait before answering.
        let deadline = self.cluster.deadline() + settings.max_wait;
        let stop = self.shared.stop.clone();
        for (node, parts, correlation, version) in in_flight {
            let resp: Result<FetchResponse, WireError> = self
                .cluster
                .conn(node)
                .and_then(|c| c.recv(ApiKey::Fetch, version, correlation, deadline, &stop));
            match resp {
                Ok(r) => {
                    self.cluster_ok();
                    self.handle_fetch(r, &parts);
                }
                Err(WireError::Stopped) => return sent,
                Err(e) => self.node_failed(node, parts.iter().map(|w| w.tp.clone()), e),
            }
        }
        sent
    }

    fn handle_fetch(&mut self, resp: FetchResponse, parts: &[&Work]) {
        if resp.error_code != 0 {
            for w in parts {
                self.partition_error(&w.tp, resp.error_code);
            }
            return;
        }
        let read_committed = self.shared.settings.read_committed;
        for t in resp.responses {
            for p in t.partitions {
                let Some(w) = parts
                    .iter()
                    .find(|w| *w.tp.0 == *t.topic.0.as_str() && w.tp.1 == p.partition_index)
                else {
                    continue;
                };
                match p.error_code {
                    0 => {}
                    code::OFFSET_OUT_OF_RANGE => {
                        tracing::warn!(
                            topic = %w.tp.0,
                            partition = w.tp.1,
                            offset = w.fetch_pos,
                            log_start = p.log_start_offset,
                            high_watermark = p.high_watermark,
                            "fetch offset out of range; restarting at the earliest offset"
                        );
                        self.outcomes.push(((*w).clone(), Outcome::Position(-2)));
                        continue;
                    }
                    c => {
                        self.partition_error(&w.tp, c);
                        continue;
                    }
                }
                let Some(records) = p.records.filter(|r| !r.is_empty()) else {
                    self.partition_ok(&w.tp);
                    continue;
                };
                let aborted: Vec<(i64, i64)> = p
                    .aborted_transactions
                    .unwrap_or_default()
                    .iter()
                    .map(|a| (a.producer_id.0, a.first_offset))
                    .collect();
                let n = normalise(&PartitionRecords {
                    topic: &w.tp.0,
                    partition: w.tp.1,
                    records: &records,
                    fetch_offset: w.fetch_pos,
                    aborted: read_committed.then_some(&aborted[..]),
                });
                let stuck = n.batches.is_empty() && n.next_offset == w.fetch_pos;
                if stuck && !n.errors.is_empty() {
                    // A batch that cannot be parsed blocks the partition: retry slowly, tell once.
                    for e in n.errors {
                        self.report_once(&w.tp, e);
                    }
                    self.backoff(&w.tp);
                    continue;
                }
                self.partition_ok(&w.tp);
                self.outcomes.push(((*w).clone(), Outcome::Data(n)));
            }
        }
    }

    /// Hands the round's results and errors to the shared state, dropping those for partitions
    /// that were reassigned meanwhile.
    fn apply(&mut self) {
        if self.outcomes.is_empty() && self.reports.is_empty() {
            return;
        }
        let mut guard = self.shared.lock();
        let st = &mut *guard;
        let mut arrived = !self.reports.is_empty();
        st.errors.extend(self.reports.drain(..));
        for (w, outcome) in self.outcomes.drain(..) {
            let Some(part) = st.parts.get_mut(&w.tp).filter(|p| p.epoch == w.epoch) else {
                continue;
            };
            match outcome {
                Outcome::Position(pos) => part.fetch_pos = pos,
                Outcome::Data(n) => {
                    part.fetch_pos = n.next_offset;
                    let added: usize = n.batches.iter().map(|b| b.bytes.len()).sum();
                    part.buffered.extend(n.batches);
                    st.buffered_bytes += added;
                    arrived |= added > 0;
                    // Batches after a skipped corrupt one are still handed out; the caller hears
                    // about the skipped one.
                    st.errors.extend(n.errors);
                    arrived |= !st.errors.is_empty();
                }
            }
        }
        drop(guard);
        if arrived {
            self.shared.ready.notify_all();
        }
    }

    fn backoff(&mut self, tp: &TopicPartition) {
        if let Some(l) = self.local.get_mut(tp) {
            l.not_before = l.backoff.next_at();
        }
    }

    fn partition_ok(&mut self, tp: &TopicPartition) {
        if let Some(l) = self.local.get_mut(tp) {
            l.backoff.reset();
            l.failing_since = None;
            l.reported = None;
        }
    }

    /// A partition-level Kafka error: back off, refresh the leader if it may have moved, and tell
    /// the caller about non-retriable errors at once and retriable ones that last longer than the
    /// request timeout.
    fn partition_error(&mut self, tp: &TopicPartition, code: i16) {
        if needs_metadata_refresh(code) {
            self.cluster.forget_leader(tp);
        }
        self.backoff(tp);
        let err = WireError::kafka(code, &tp.0, tp.1);
        if !retriable_code(code) {
            self.report_once(tp, err);
            return;
        }
        tracing::debug!(topic = %tp.0, partition = tp.1, error = %err, "fetch will be retried");
        let timeout = self.cluster.config().request_timeout;
        let Some(l) = self.local.get_mut(tp) else {
            return;
        };
        let since = *l.failing_since.get_or_insert_with(Instant::now);
        if since.elapsed() >= timeout {
            l.failing_since = Some(Instant::now());
            self.reports.push(err);
        }
    }

    fn report_once(&mut self, tp: &TopicPartition, err: WireError) {
        let text = err.to_string();
        let Some(l) = self.local.get_mut(tp) else {
            return;
        };
        if l.reported.as_deref() != Some(text.as_str()) {
            tracing::warn!(topic = %tp.0, partition = tp.1, error = %text, "fetch error");
            l.reported = Some(text);
            self.reports.push(err);
        }
    }

    /// A request to `node` failed at the connection level: reconnect later, look its partitions'
    /// leaders up again.
    fn node_failed(
        &mut self,
        node: i32,
        parts: impl Iterator<Item = TopicPartition>,
        err: WireError,
    ) {
        if matches!(err, WireError::Stopped) {
            return;
        }
        tracing::debug!(broker = %self.cluster.addr(node), error = %err, "fetch connection failed");
        self.cluster.connection_failed(node);
        for tp in parts {
            self.backoff(&tp);
        }
        self.cluster_failed(err);
    }

    fn cluster_ok(&mut self) {
        self.failing_since = None;
    }

    /// Reports `err` when the cluster has been failing for longer than the request timeout (then
    /// again after each further timeout).
    fn cluster_failed(&mut self, err: WireError) {
        let timeout = self.cluster.config().request_timeout;
        let since = *self.failing_since.get_or_insert_with(Instant::now);
        if since.elapsed() >= timeout {
            tracing::warn!(error = %err, "cluster unreachable for longer than the request timeout");
            self.failing_since = Some(Instant::now());
            self.reports.push(err);
        }
    }
}

pub(crate) fn topic_name(t: &str) -> TopicName {
    TopicName(StrBytes::from_string(t.to_string()))
}

pub(crate) fn timeout_ms(d: Duration) -> i32 {
    i32::try_from(d.as_millis()).unwrap_or(i32::MAX)
}
