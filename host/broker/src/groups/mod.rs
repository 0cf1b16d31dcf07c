//! The group coordinator: classic consumer groups and their committed offsets.
//!
//! # Layout
//! - [`group`]: one group's members and its rebalance state machine (pure, synchronous).
//! - [`offsets`]: committed offsets as Kafka-format records in the compacted `__consumer_offsets` topic.
//! - [`consumer_protocol`]: readers for the consumer protocol's subscription/assignment bytes.
//!
//! Invariant: all group and offset state sits behind one mutex, held only for short in-memory work
//! (never across an `.await`, never during file I/O); requests that must wait for other members hold
//! a oneshot receiver instead, so a long JoinGroup never blocks another connection. Writes to
//! `__consumer_offsets` follow decide / append / apply: the decision is taken under the mutex, the
//! append runs on the log executor with the mutex released, and the result is applied under the
//! mutex afterwards, in log order (a write later in the log wins, as on replay). An offset commit is
//! appended before it becomes visible in memory, so what OffsetFetch returns survives a restart.

pub mod consumer_protocol;
pub mod group;
pub mod offsets;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use parking_lot::Mutex;
use tokio::task::JoinHandle;

use crate::config::BrokerConfig;
use crate::error::code;
use crate::server::Broker;
use crate::topics::Topics;
use group::{Group, GroupLimits};
pub use group::{GroupState, JoinRequest, JoinResult, Reply, SyncResult};
pub use offsets::{Committed, GroupOffsets, OFFSETS_TOPIC};

/// Group error codes not used elsewhere in the broker.
pub mod codes {
    pub const OFFSET_METADATA_TOO_LARGE: i16 = 12;
    pub const GROUP_MAX_SIZE_REACHED: i16 = 81;
}

/// Kafka's offset.metadata.max.bytes default.
const OFFSET_METADATA_MAX_BYTES: usize = 4096;

/// How often session timeouts and rebalance deadlines are checked.
const TICK: Duration = Duration::from_millis(100);

/// A member as DescribeGroups reports it.
#[derive(Debug, Clone)]
pub struct MemberDescription {
    pub member_id: String,
    pub instance_id: Option<String>,
    pub client_id: String,
    pub client_host: String,
    pub metadata: Bytes,
    pub assignment: Bytes,
}

/// A group as DescribeGroups and ListGroups report it.
#[derive(Debug, Clone)]
pub struct GroupDescription {
    pub group_id: String,
    pub state: GroupState,
    pub protocol_type: String,
    pub protocol: String,
    pub generation: i32,
    pub members: Vec<MemberDescription>,
}

/// Transactional offsets of one producer not yet committed or aborted: group -> (its
/// `__consumer_offsets` partition, the offsets, `None` = tombstone).
type PendingByGroup = BTreeMap<String, (i32, BTreeMap<(String, i32), Option<Committed>>)>;

#[derive(Default)]
struct Inner {
    groups: HashMap<String, Group>,
    offsets: BTreeMap<String, GroupOffsets>,
    /// TxnOffsetCommit offsets by producer id, until the transaction's marker lands.
    pending_txn: HashMap<i64, PendingByGroup>,
    /// Next sequence of transactional offsets batches per (producer id, offsets partition).
    txn_sequences: HashMap<(i64, i32), (i16, i32)>,
}

/// What the replay of `__consumer_offsets` at start-up loaded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoadReport {
    pub groups: usize,
    pub offsets: usize,
    pub skipped_batches: usize,
}

/// The coordinator for every group (this single node coordinates them all).
pub struct Groups {
    limits: GroupLimits,
    min_session_ms: i32,
    max_session_ms: i32,
    offsets_partitions: i32,
    retention_ms: i64,
    inner: Mutex<Inner>,
}

impl Groups {
    pub fn new(config: &BrokerConfig) -> Groups {
        Groups {
            limits: GroupLimits {
                initial_rebalance_delay: Duration::from_millis(
                    config.group_initial_rebalance_delay_ms,
                ),
                max_size: usize::try_from(config.group_max_size).unwrap_or(usize::MAX),
            },
            min_session_ms: config.group_min_session_timeout_ms,
            max_session_ms: config.group_max_session_timeout_ms,
            offsets_partitions: config.offsets_topic_num_partitions,
            retention_ms: config.offsets_retention_minutes.saturating_mul(60_000),
            inner: Mutex::new(Inner::default()),
        }
    }

    /// Rebuilds committed offsets from `__consumer_offsets`; returns what was loaded and how many
    /// undecodable batches were skipped.
    pub fn load(&self, topics: &Topics) -> Result<LoadReport, offsets::ReplayError> {
        let loaded = offsets::load(topics)?;
        let report = LoadReport {
            groups: loaded.offsets.len(),
            offsets: loaded.offsets.values().map(|g| g.len()).sum(),
            skipped_batches: loaded.skipped_batches,
        };
        let mut inner = self.inner.lock();
        inner.offsets = loaded.offsets;
        inner.txn_sequences = loaded.sequences;
        for (pid, entries) in loaded.pending {
            let by_group = inner.pending_txn.entry(pid).or_default();
            for (group, offsets_partition, topic, partition, value) in entries {
                by_group
                    .entry(group)
                    .or_insert_with(|| (offsets_partition, BTreeMap::new()))
                    .1
                    .insert((topic, partition), value);
            }
        }
        Ok(report)
    }

    /// Creates the offsets topic (FindCoordinator does this on demand, as Kafka does).
    pub fn ensure_offsets_topic(&self, topics: &Topics) -> Result<(), crate::BrokerError> {
        offsets::ensure_topic(topics, self.offsets_partitions)
    }

    fn group_mut<'a>(&self, inner: &'a mut Inner, group_id: &str) -> &'a mut Group {
        let limits = self.limits.clone();
        let g = inner
            .groups
            .entry(group_id.to_string())
            .or_insert_with(|| Group::new(group_id, limits.clone(), crate::maintenance::now_ms()));
        if g.state == GroupState::Dead {
            *g = Group::new(group_id, limits, crate::maintenance::now_ms());
        }
        g
    }

    pub fn join(&self, group_id: &str, req: JoinRequest) -> Reply<JoinResult> {
        if group_id.is_empty() {
            return Reply::Now(JoinResult::error(code::INVALID_GROUP_ID, &req.member_id));
        }
        if req.session_timeout_ms < self.min_session_ms
            || req.session_timeout_ms > self.max_session_ms
        {
            return Reply::Now(JoinResult::error(
                code::INVALID_SESSION_TIMEOUT,
                &req.member_id,
            ));
        }
        let mut inner = self.inner.lock();
        let exists = inner.groups.contains_key(group_id);
        if !exists && !req.member_id.is_empty() {
            return Reply::Now(JoinResult::error(code::UNKNOWN_MEMBER_ID, &req.member_id));
        }
        tracing::debug!(group = group_id, member = %req.member_id, client = %req.client_id, "JoinGroup");
        self.group_mut(&mut inner, group_id)
            .join(req, Instant::now())
    }

    pub fn sync(
        &self,
        group_id: &str,
        generation: i32,
        member_id: &str,
        instance_id: Option<&str>,
        protocol: (Option<&str>, Option<&str>),
        assignments: Vec<(String, Bytes)>,
    ) -> Reply<SyncResult> {
        if group_id.is_empty() {
            return Reply::Now(SyncResult::error(code::INVALID_GROUP_ID));
        }
        let mut inner = self.inner.lock();
        match inner.groups.get_mut(group_id) {
            Some(g) => g.sync(
                generation,
                member_id,
                instance_id,
                protocol,
                assignments,
                Instant::now(),
            ),
            None => Reply::Now(SyncResult::error(code::UNKNOWN_MEMBER_ID)),
        }
    }

    pub fn heartbeat(
        &self,
        group_id: &str,
        generation: i32,
        member_id: &str,
        instance_id: Option<&str>,
    ) -> i16 {
        if group_id.is_empty() {
            return code::INVALID_GROUP_ID;
        }
        let mut inner = self.inner.lock();
        match inner.groups.get_mut(group_id) {
            Some(g) => g.heartbeat(generation, member_id, instance_id, Instant::now()),
            None => code::UNKNOWN_MEMBER_ID,
        }
    }

    pub fn leave(&self, group_id: &str, member_id: &str, instance_id: Option<&str>) -> i16 {
        let mut inner = self.inner.lock();
        match inner.groups.get_mut(group_id) {
            Some(g) => g.leave(member_id, instance_id, Instant::now()),
            None => code::UNKNOWN_MEMBER_ID,
        }
    }

    /// Checks group membership, then stores `entries` (already validated per partition by the handler).
    /// `Err` is the code every partition of the request gets.
    ///
    /// The membership check runs under the groups mutex; the append to `__consumer_offsets` runs on
    /// the log executor with the mutex released; the result is applied under the mutex afterwards.
    pub async fn commit(
        &self,
        broker: &Arc<Broker>,
        group_id: &str,
        generation: i32,
        member_id: &str,
        instance_id: Option<&str>,
        entries: Vec<(String, i32, Committed)>,
    ) -> Result<(), i16> {
        if group_id.is_empty() {
            return Err(code::INVALID_GROUP_ID);
        }
        {
            let mut inner = self.inner.lock();
            match inner.groups.get_mut(group_id) {
                Some(g) if g.state != GroupState::Dead => {
                    g.check_commit(generation, member_id, instance_id, Instant::now())?
                }
                // A group nobody joined: only "simple" commits (generation -1, as admin tools and
                // assign()-based consumers send) are accepted, as in Kafka.
                _ if generation < 0 => {}
                _ => return Err(code::ILLEGAL_GENERATION),
            }
        }
        tracing::debug!(
            group = group_id,
            member = member_id,
            generation,
            offsets = ?entries.iter().map(|(t, p, c)| format!("{t}-{p}@{}", c.offset)).collect::<Vec<_>>(),
            "OffsetCommit"
        );
        let now = crate::maintenance::now_ms();
        let refs: Vec<(&str, i32, Option<&Committed>)> = entries
            .iter()
            .map(|(t, p, c)| (t.as_str(), *p, Some(c)))
            .collect();
        let first = match self.store(broker, group_id, &refs, now).await {
            Ok(o) => o,
            Err(e) => {
                tracing::warn!(group = group_id, error = %e, "could not store committed offsets");
                return Err(code::COORDINATOR_NOT_AVAILABLE);
            }
        };
        let mut inner = self.inner.lock();
        let stored = inner.offsets.entry(group_id.to_string()).or_default();
        for (i, (t, p, mut c)) in entries.into_iter().enumerate() {
            c.log_offset = first + i as i64;
            match stored.get(&(t.clone(), p)) {
                // A write that landed later in the log was applied first: it wins, as on replay.
                Some(old) if old.log_offset > c.log_offset => {}
                _ => {
                    stored.insert((t, p), c);
                }
            }
        }
        Ok(())
    }

    /// Appends one group's records to `__consumer_offsets` from an async task (creating the topic on
    /// a blocking thread if it does not exist yet); returns the first record's offset.
    async fn store(
        &self,
        broker: &Arc<Broker>,
        group_id: &str,
        entries: &[(&str, i32, Option<&Committed>)],
        now_ms: i64,
    ) -> Result<i64, String> {
        let partition = match offsets::existing_partition(&broker.topics, group_id) {
            Some(p) => p,
            None => {
                let b = broker.clone();
                let group = group_id.to_string();
                let partitions = self.offsets_partitions;
                tokio::task::spawn_blocking(move || {
                    offsets::partition_creating(&b.topics, partitions, &group)
                })
                .await
                .map_err(|e| e.to_string())??
            }
        };
        let batch = offsets::encode_batch(group_id, entries, now_ms)?;
        partition
            .append(batch, now_ms)
            .await
            .map(|info| info.base_offset)
            .map_err(|e| e.to_string())
    }

    /// TxnOffsetCommit (blocking thread): checks the member as OffsetCommit does, then appends the
    /// offsets to `__consumer_offsets` as a transactional batch of the producer. They stay pending
    /// (invisible to OffsetFetch, UNSTABLE_OFFSET_COMMIT to `require_stable`) until
    /// [`complete_txn`](Self::complete_txn) sees the transaction's marker.
    #[allow(clippy::too_many_arguments)]
    pub fn txn_commit(
        &self,
        topics: &Topics,
        group_id: &str,
        producer_id: i64,
        epoch: i16,
        generation: i32,
        member_id: &str,
        instance_id: Option<&str>,
        entries: Vec<(String, i32, Committed)>,
    ) -> Result<(), i16> {
        if group_id.is_empty() {
            return Err(code::INVALID_GROUP_ID);
        }
        {
            let mut inner = self.inner.lock();
            match inner.groups.get_mut(group_id) {
                Some(g) if g.state != GroupState::Dead && generation >= 0 => {
                    g.check_commit(generation, member_id, instance_id, Instant::now())?
                }
                // Without member data (v0-v2, or a producer outside any group) Kafka accepts it.
                _ => {}
            }
        }
        let partition = offsets::partition_creating(topics, self.offsets_partitions, group_id)
            .map_err(|e| {
                tracing::warn!(group = group_id, error = %e, "cannot store transactional offsets");
                code::COORDINATOR_NOT_AVAILABLE
            })?;
        let key = (producer_id, partition.index);
        let base_sequence = match self.inner.lock().txn_sequences.get(&key) {
            Some((e, next)) if *e == epoch => *next,
            _ => 0,
        };
        let now = crate::maintenance::now_ms();
        let refs: Vec<(&str, i32, Option<&Committed>)> = entries
            .iter()
            .map(|(t, p, c)| (t.as_str(), *p, Some(c)))
            .collect();
        let producer = offsets::TxnProducer {
            producer_id,
            epoch,
            base_sequence,
        };
        let first = offsets::encode_txn_batch(group_id, &refs, producer, now)
            .and_then(|b| {
                partition
                    .append_blocking(b, now)
                    .map(|info| info.base_offset)
                    .map_err(|e| e.to_string())
            })
            .map_err(|e| {
                tracing::warn!(group = group_id, error = %e, "could not store transactional offsets");
                code::COORDINATOR_NOT_AVAILABLE
            })?;
        tracing::debug!(
            group = group_id,
            producer_id,
            epoch,
            offsets = entries.len(),
            "TxnOffsetCommit stored, pending until the transaction ends"
        );
        let mut inner = self.inner.lock();
        inner.txn_sequences.insert(
            key,
            (epoch, base_sequence.wrapping_add(entries.len() as i32)),
        );
        let pending = inner
            .pending_txn
            .entry(producer_id)
            .or_default()
            .entry(group_id.to_string())
            .or_insert_with(|| (partition.index, BTreeMap::new()));
        for (i, (t, p, mut c)) in entries.into_iter().enumerate() {
            c.log_offset = first + i as i64;
            pending.1.insert((t, p), Some(c));
        }
        Ok(())
    }

    /// A transaction marker was written to `__consumer_offsets` partition `offsets_partition`: the
    /// producer's pending offsets of the groups there become visible (commit) or are dropped.
    pub fn complete_txn(&self, producer_id: i64, offsets_partition: i32, commit: bool) {
        let mut inner = self.inner.lock();
        let Some(by_group) = inner.pending_txn.get_mut(&producer_id) else {
            return;
        };
        let done: Vec<String> = by_group
            .iter()
            .filter(|(_, (p, _))| *p == offsets_partition)
            .map(|(g, _)| g.clone())
            .collect();
        let mut applied = Vec::new();
        for g in done {
            if let Some((_, offs)) = by_group.remove(&g) {
                applied.push((g, offs));
            }
        }
        if by_group.is_empty() {
            inner.pending_txn.remove(&producer_id);
        }
        if !commit {
            return;
        }
        for (group, offs) in applied {
            for (key, value) in offs {
                match value {
                    Some(c) => {
                        let stored = inner.offsets.entry(group.clone()).or_default();
                        match stored.get(&key) {
                            Some(old) if old.log_offset > c.log_offset => {}
                            _ => {
                                stored.insert(key, c);
                            }
                        }
                    }
                    None => {
                        if let Some(g) = inner.offsets.get_mut(&group) {
                            g.remove(&key);
                        }
                    }
                }
            }
        }
    }

    /// Whether a transaction has uncommitted offsets for this partition of this group (OffsetFetch
    /// with `require_stable` answers UNSTABLE_OFFSET_COMMIT then).
    pub fn has_pending_txn_offset(&self, group_id: &str, topic: &str, partition: i32) -> bool {
        let key = (topic.to_string(), partition);
        self.inner.lock().pending_txn.values().any(|by_group| {
            by_group
                .get(group_id)
                .is_some_and(|(_, offs)| offs.contains_key(&key))
        })
    }

    /// OffsetCommit's per-partition metadata check.
    pub fn metadata_too_large(metadata: &str) -> bool {
        metadata.len() > OFFSET_METADATA_MAX_BYTES
    }

    /// A copy of a group's committed offsets.
    pub fn offsets(&self, group_id: &str) -> GroupOffsets {
        self.inner
            .lock()
            .offsets
            .get(group_id)
            .cloned()
            .unwrap_or_default()
    }

    /// Every group known (with members, or only with committed offsets), sorted by id.
    pub fn list(&self) -> Vec<GroupDescription> {
        let inner = self.inner.lock();
        let mut ids: Vec<&String> = inner.groups.keys().chain(inner.offsets.keys()).collect();
        ids.sort();
        ids.dedup();
        ids.into_iter()
            .filter_map(|id| describe_locked(&inner, id))
            .filter(|d| d.state != GroupState::Dead)
            .collect()
    }

    pub fn describe(&self, group_id: &str) -> Option<GroupDescription> {
        describe_locked(&self.inner.lock(), group_id)
    }

    /// Writes tombstones for `keys` of `group_id` (blocking thread, mutex not held), then removes the
    /// keys that no later commit replaced. Returns false if the tombstones could not be written.
    fn tombstone(&self, topics: &Topics, group_id: &str, keys: &[(String, i32)]) -> bool {
        if keys.is_empty() {
            return true;
        }
        let refs: Vec<(&str, i32, Option<&Committed>)> =
            keys.iter().map(|(t, p)| (t.as_str(), *p, None)).collect();
        let first = match offsets::append_blocking(
            topics,
            self.offsets_partitions,
            group_id,
            &refs,
            crate::maintenance::now_ms(),
        ) {
            Ok(o) => o,
            Err(e) => {
                tracing::warn!(group = group_id, error = %e, "could not write offset tombstones");
                return false;
            }
        };
        let mut inner = self.inner.lock();
        if let Some(o) = inner.offsets.get_mut(group_id) {
            for (i, k) in keys.iter().enumerate() {
                if o.get(k).is_some_and(|c| c.log_offset < first + i as i64) {
                    o.remove(k);
                }
            }
            if o.is_empty() {
                inner.offsets.remove(group_id);
            }
        }
        true
    }

    /// DeleteGroups for one group: NONE, GROUP_ID_NOT_FOUND or NON_EMPTY_GROUP. Blocking thread.
    pub fn delete_group(&self, topics: &Topics, group_id: &str) -> i16 {
        let keys: Vec<(String, i32)> = {
            let inner = self.inner.lock();
            let has_offsets = inner.offsets.contains_key(group_id);
            match inner.groups.get(group_id) {
                Some(g) if !g.is_empty() => return code::NON_EMPTY_GROUP,
                Some(g) if g.state == GroupState::Dead && !has_offsets => {
                    return code::GROUP_ID_NOT_FOUND
                }
                None if !has_offsets => return code::GROUP_ID_NOT_FOUND,
                _ => {}
            }
            inner
                .offsets
                .get(group_id)
                .map(|o| o.keys().cloned().collect())
                .unwrap_or_default()
        };
        if !self.tombstone(topics, group_id, &keys) {
            return code::COORDINATOR_NOT_AVAILABLE;
        }
        let mut inner = self.inner.lock();
        match inner.groups.get_mut(group_id) {
            // A member joined while the tombstones were written: the group lives on, without offsets.
            Some(g) if !g.is_empty() => {}
            Some(g) => {
                g.mark_dead();
                inner.groups.remove(group_id);
            }
            None => {}
        }
        tracing::info!(group = group_id, offsets = keys.len(), "deleted group");
        code::NONE
    }

    /// OffsetDelete: the top-level error, or per-partition results. Blocking thread.
    pub fn delete_offsets(
        &self,
        topics: &Topics,
        group_id: &str,
        wanted: Vec<(String, i32)>,
    ) -> Result<Vec<(String, i32, i16)>, i16> {
        let mut results = Vec::with_capacity(wanted.len());
        let mut tombstones = Vec::new();
        {
            let inner = self.inner.lock();
            let subscribed = match inner.groups.get(group_id) {
                Some(g) if g.state != GroupState::Dead => g.subscribed_topics(),
                _ if inner.offsets.contains_key(group_id) => Vec::new(),
                _ => return Err(code::GROUP_ID_NOT_FOUND),
            };
            for (t, p) in wanted {
                if subscribed.contains(&t) {
                    results.push((t, p, code::GROUP_SUBSCRIBED_TO_TOPIC));
                } else {
                    if inner
                        .offsets
                        .get(group_id)
                        .is_some_and(|o| o.contains_key(&(t.clone(), p)))
                    {
                        tombstones.push((t.clone(), p));
                    }
                    results.push((t, p, code::NONE));
                }
            }
        }
        if !self.tombstone(topics, group_id, &tombstones) {
            return Err(code::COORDINATOR_NOT_AVAILABLE);
        }
        Ok(results)
    }

    /// A topic was deleted: its committed offsets go too (tombstoned, so they stay gone after a restart).
    /// Blocking thread.
    pub fn topic_deleted(&self, topics: &Topics, topic: &str) {
        if topic == OFFSETS_TOPIC {
            self.inner.lock().offsets.clear();
            return;
        }
        self.remove_offsets_where(topics, |t, _, _| t == topic, "topic deleted");
    }

    /// offsets.retention.minutes: offsets of groups without members expire once both the commit and the
    /// moment the group became empty are older than the retention; empty groups without offsets go.
    /// Blocking thread.
    pub fn expire_offsets(&self, topics: &Topics, now_ms: i64) {
        if self.retention_ms <= 0 {
            return;
        }
        let empty_since: HashMap<String, Option<i64>> = {
            let inner = self.inner.lock();
            inner
                .offsets
                .keys()
                .map(|id| {
                    let since = match inner.groups.get(id) {
                        Some(g) if !g.is_empty() => None,
                        Some(g) => Some(g.empty_since_ms),
                        None => Some(i64::MIN),
                    };
                    (id.clone(), since)
                })
                .collect()
        };
        let retention = self.retention_ms;
        self.remove_offsets_where(
            topics,
            |_, group, c| {
                empty_since
                    .get(group)
                    .copied()
                    .flatten()
                    .is_some_and(|since| now_ms.saturating_sub(c.commit_ts.max(since)) > retention)
            },
            "offsets expired",
        );
        let mut inner = self.inner.lock();
        let Inner {
            groups, offsets, ..
        } = &mut *inner;
        groups.retain(|id, g| {
            !(g.is_empty() && g.state == GroupState::Empty && !offsets.contains_key(id))
        });
    }

    /// Chooses offsets under the mutex, tombstones them without it, applies the result after.
    fn remove_offsets_where(
        &self,
        topics: &Topics,
        pred: impl Fn(&str, &str, &Committed) -> bool,
        reason: &str,
    ) {
        let doomed: Vec<(String, Vec<(String, i32)>)> = {
            let inner = self.inner.lock();
            inner
                .offsets
                .iter()
                .map(|(group, offs)| {
                    let keys = offs
                        .iter()
                        .filter(|((t, _), c)| pred(t, group, c))
                        .map(|(k, _)| k.clone())
                        .collect::<Vec<_>>();
                    (group.clone(), keys)
                })
                .filter(|(_, keys)| !keys.is_empty())
                .collect()
        };
        for (group, keys) in doomed {
            if self.tombstone(topics, &group, &keys) {
                tracing::info!(%group, offsets = keys.len(), reason, "removed committed offsets");
            }
        }
    }

    /// Session expiry and rebalance deadlines for every group.
    pub fn tick(&self) {
        let now = Instant::now();
        for g in self.inner.lock().groups.values_mut() {
            g.tick(now);
        }
    }
}

fn describe_locked(inner: &Inner, group_id: &str) -> Option<GroupDescription> {
    match inner.groups.get(group_id) {
        Some(g) => {
            let protocol = g.protocol.clone().unwrap_or_default();
            Some(GroupDescription {
                group_id: group_id.to_string(),
                state: g.state,
                protocol_type: g.protocol_type.clone().unwrap_or_default(),
                generation: g.generation,
                members: g
                    .members
                    .values()
                    .map(|m| MemberDescription {
                        member_id: m.id.clone(),
                        instance_id: m.instance_id.clone(),
                        client_id: m.client_id.clone(),
                        client_host: m.client_host.clone(),
                        metadata: m.metadata_for(&protocol),
                        assignment: m.assignment.clone(),
                    })
                    .collect(),
                protocol,
            })
        }
        // Groups known only by their committed offsets (e.g. after a restart) are Empty, as in Kafka.
        None if inner.offsets.contains_key(group_id) => Some(GroupDescription {
            group_id: group_id.to_string(),
            state: GroupState::Empty,
            protocol_type: "consumer".to_string(),
            protocol: String::new(),
            generation: 0,
            members: Vec::new(),
        }),
        None => None,
    }
}

/// Runs the coordinator's timers until shutdown.
pub fn spawn_timer(broker: Arc<Broker>) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut shutdown = broker.shutdown_signal();
        let mut ticker = tokio::time::interval(TICK);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = ticker.tick() => broker.groups.tick(),
                _ = shutdown.changed() => break,
            }
        }
    })
}
