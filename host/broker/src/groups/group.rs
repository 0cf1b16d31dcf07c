//! One classic-protocol group: its members, generation, and the rebalance state machine
//! (Empty -> PreparingRebalance -> CompletingRebalance -> Stable, and Dead).
//!
//! Everything here is synchronous and runs under the coordinator's lock; a JoinGroup or SyncGroup that
//! must wait for other members gets a oneshot receiver, which the handler awaits after the lock is released.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::sync::oneshot;

use super::codes;
use crate::error::code;

/// The classic group states (names as Kafka reports them in DescribeGroups/ListGroups).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupState {
    Empty,
    PreparingRebalance,
    CompletingRebalance,
    Stable,
    Dead,
}

impl GroupState {
    pub fn name(self) -> &'static str {
        match self {
            GroupState::Empty => "Empty",
            GroupState::PreparingRebalance => "PreparingRebalance",
            GroupState::CompletingRebalance => "CompletingRebalance",
            GroupState::Stable => "Stable",
            GroupState::Dead => "Dead",
        }
    }
}

/// One member as the JoinGroup response lists it to the leader.
#[derive(Debug, Clone)]
pub struct JoinedMember {
    pub member_id: String,
    pub instance_id: Option<String>,
    pub metadata: Bytes,
}

/// What a JoinGroup caller gets back.
#[derive(Debug, Clone, Default)]
pub struct JoinResult {
    pub error: i16,
    pub generation: i32,
    pub protocol_type: Option<String>,
    pub protocol_name: Option<String>,
    pub leader: String,
    pub member_id: String,
    pub members: Vec<JoinedMember>,
}

impl JoinResult {
    pub fn error(error: i16, member_id: &str) -> Self {
        JoinResult {
            error,
            generation: -1,
            member_id: member_id.to_string(),
            ..Default::default()
        }
    }
}

/// What a SyncGroup caller gets back.
#[derive(Debug, Clone, Default)]
pub struct SyncResult {
    pub error: i16,
    pub protocol_type: Option<String>,
    pub protocol_name: Option<String>,
    pub assignment: Bytes,
}

impl SyncResult {
    pub fn error(error: i16) -> Self {
        SyncResult {
            error,
            ..Default::default()
        }
    }
}

/// An answer now, or later when the rebalance gets far enough.
pub enum Reply<T> {
    Now(T),
    Wait(oneshot::Receiver<T>),
}

/// A JoinGroup request, version differences already resolved by the handler.
#[derive(Debug, Clone)]
pub struct JoinRequest {
    pub member_id: String,
    pub instance_id: Option<String>,
    pub client_id: String,
    pub client_host: String,
    pub session_timeout_ms: i32,
    pub rebalance_timeout_ms: i32,
    pub protocol_type: String,
    pub protocols: Vec<(String, Bytes)>,
    /// JoinGroup v4+: a new member first gets MEMBER_ID_REQUIRED with its id (KIP-394).
    pub require_known_member_id: bool,
}

/// Coordinator settings a group needs.
#[derive(Debug, Clone)]
pub struct GroupLimits {
    pub initial_rebalance_delay: Duration,
    pub max_size: usize,
}

pub struct Member {
    pub id: String,
    pub instance_id: Option<String>,
    pub client_id: String,
    pub client_host: String,
    pub session_timeout: Duration,
    pub rebalance_timeout: Duration,
    pub protocol_type: String,
    pub protocols: Vec<(String, Bytes)>,
    pub assignment: Bytes,
    last_heartbeat: Instant,
    /// Join order, so the first member to join leads when the old leader is gone.
    seq: u64,
    join_waiter: Option<oneshot::Sender<JoinResult>>,
    sync_waiter: Option<oneshot::Sender<SyncResult>>,
}

impl Member {
    /// A member blocked in JoinGroup/SyncGroup cannot heartbeat (its connection handles one request
    /// at a time), so it counts as alive while its client still waits.
    fn awaiting_join(&self) -> bool {
        self.join_waiter.as_ref().is_some_and(|w| !w.is_closed())
    }

    fn awaiting_sync(&self) -> bool {
        self.sync_waiter.as_ref().is_some_and(|w| !w.is_closed())
    }

    pub fn metadata_for(&self, protocol: &str) -> Bytes {
        self.protocols
            .iter()
            .find(|(n, _)| n == protocol)
            .map(|(_, m)| m.clone())
            .unwrap_or_default()
    }
}

pub struct Group {
    pub id: String,
    pub state: GroupState,
    pub generation: i32,
    pub protocol_type: Option<String>,
    pub protocol: Option<String>,
    pub leader: Option<String>,
    pub members: BTreeMap<String, Member>,
    /// Member ids handed out with MEMBER_ID_REQUIRED, with the time they stop being valid.
    pending: HashMap<String, Instant>,
    /// group.instance.id -> member id of the static member currently holding it.
    statics: HashMap<String, String>,
    rebalance_deadline: Option<Instant>,
    /// group.initial.rebalance.delay.ms: a new group waits this long (extended per join, capped) for more members.
    initial_delay_until: Option<Instant>,
    initial_delay_cap: Option<Instant>,
    /// Wall-clock time the group last became Empty (offsets retention counts from here).
    pub empty_since_ms: i64,
    next_seq: u64,
    limits: GroupLimits,
}

impl Group {
    pub fn new(id: &str, limits: GroupLimits, now_ms: i64) -> Self {
        Group {
            id: id.to_string(),
            state: GroupState::Empty,
            generation: 0,
            protocol_type: None,
            protocol: None,
            leader: None,
            members: BTreeMap::new(),
            pending: HashMap::new(),
            statics: HashMap::new(),
            rebalance_deadline: None,
            initial_delay_until: None,
            initial_delay_cap: None,
            empty_since_ms: now_ms,
            next_seq: 0,
            limits,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.members.is_empty() && self.pending.is_empty()
    }

    /// Topics the members subscribe to (consumer protocol), for OffsetDelete's subscription check.
    pub fn subscribed_topics(&self) -> Vec<String> {
        let mut out = Vec::new();
        if self.protocol_type.as_deref() != Some("consumer") {
            return out;
        }
        for m in self.members.values() {
            for (_, meta) in &m.protocols {
                out.extend(super::consumer_protocol::subscription_topics(meta));
            }
        }
        out.sort();
        out.dedup();
        out
    }

    /// Checks a member's identity as Heartbeat, SyncGroup and OffsetCommit do.
    fn check_member(&self, member_id: &str, instance_id: Option<&str>) -> Result<(), i16> {
        if let Some(inst) = instance_id {
            if let Some(holder) = self.statics.get(inst) {
                if holder != member_id {
                    return Err(code::FENCED_INSTANCE_ID);
                }
            }
        }
        if !self.members.contains_key(member_id) {
            return Err(code::UNKNOWN_MEMBER_ID);
        }
        Ok(())
    }

    fn new_member_id(client_id: &str) -> String {
        format!("{client_id}-{}", uuid::Uuid::new_v4())
    }

    /// Protocol names every current member (other than `except`) supports.
    fn common_protocols(&self, except: &str) -> Option<Vec<String>> {
        let mut others = self.members.values().filter(|m| m.id != except);
        let first = others.next()?;
        let mut common: Vec<String> = first.protocols.iter().map(|(n, _)| n.clone()).collect();
        for m in others {
            common.retain(|n| m.protocols.iter().any(|(p, _)| p == n));
        }
        Some(common)
    }

    fn compatible(&self, req: &JoinRequest) -> bool {
        if req.protocol_type.is_empty() || req.protocols.is_empty() {
            return false;
        }
        match self.common_protocols(&req.member_id) {
            None => true,
            Some(common) => {
                self.protocol_type
                    .as_deref()
                    .is_none_or(|t| t == req.protocol_type)
                    && req.protocols.iter().any(|(n, _)| common.contains(n))
            }
        }
    }

    pub fn join(&mut self, req: JoinRequest, now: Instant) -> Reply<JoinResult> {
        if self.state == GroupState::Dead {
            return Reply::Now(JoinResult::error(
                code::COORDINATOR_NOT_AVAILABLE,
                &req.member_id,
            ));
        }
        if !self.compatible(&req) {
            return Reply::Now(JoinResult::error(
                code::INCONSISTENT_GROUP_PROTOCOL,
                &req.member_id,
            ));
        }
        if req.member_id.is_empty() {
            return self.join_unknown(req, now);
        }
        if self.pending.remove(&req.member_id).is_some() {
            let id = req.member_id.clone();
            return self.add_member_and_rebalance(id, req, now);
        }
        if let Err(e) = self.check_member(&req.member_id, req.instance_id.as_deref()) {
            return Reply::Now(JoinResult::error(e, &req.member_id));
        }
        self.join_known(req, now)
    }

    fn join_unknown(&mut self, req: JoinRequest, now: Instant) -> Reply<JoinResult> {
        if let Some(inst) = req.instance_id.clone() {
            if let Some(old_id) = self.statics.get(&inst).cloned() {
                return self.replace_static(old_id, req, now);
            }
        }
        if self.members.len() + self.pending.len() >= self.limits.max_size {
            return Reply::Now(JoinResult::error(codes::GROUP_MAX_SIZE_REACHED, ""));
        }
        let id = Self::new_member_id(&req.client_id);
        if req.require_known_member_id && req.instance_id.is_none() {
            let session = Duration::from_millis(req.session_timeout_ms.max(0) as u64);
            self.pending.insert(id.clone(), now + session);
            return Reply::Now(JoinResult::error(code::MEMBER_ID_REQUIRED, &id));
        }
        self.add_member_and_rebalance(id, req, now)
    }

    /// A static member restarted (same group.instance.id, no member id): it takes over the old
    /// member's place under a new id; the old id is fenced. In a stable group with unchanged
    /// subscriptions this needs no rebalance (KIP-345).
    fn replace_static(
        &mut self,
        old_id: String,
        req: JoinRequest,
        now: Instant,
    ) -> Reply<JoinResult> {
        let Some(mut m) = self.members.remove(&old_id) else {
            return Reply::Now(JoinResult::error(code::UNKNOWN_MEMBER_ID, ""));
        };
        let new_id = Self::new_member_id(&req.client_id);
        if let Some(w) = m.join_waiter.take() {
            let _ = w.send(JoinResult::error(code::FENCED_INSTANCE_ID, &old_id));
        }
        if let Some(w) = m.sync_waiter.take() {
            let _ = w.send(SyncResult::error(code::FENCED_INSTANCE_ID));
        }
        let was_leader = self.leader.as_deref() == Some(old_id.as_str());
        if was_leader {
            self.leader = Some(new_id.clone());
        }
        let unchanged = m.protocols == req.protocols;
        m.id = new_id.clone();
        m.client_id = req.client_id.clone();
        m.client_host = req.client_host.clone();
        m.session_timeout = Duration::from_millis(req.session_timeout_ms.max(0) as u64);
        m.rebalance_timeout = Duration::from_millis(req.rebalance_timeout_ms.max(0) as u64);
        m.last_heartbeat = now;
        if let Some(inst) = &req.instance_id {
            self.statics.insert(inst.clone(), new_id.clone());
        }
        self.members.insert(new_id.clone(), m);
        if self.state == GroupState::Stable && unchanged && !was_leader {
            return Reply::Now(self.current_join_result(&new_id));
        }
        self.join_known(
            JoinRequest {
                member_id: new_id,
                ..req
            },
            now,
        )
    }

    fn add_member_and_rebalance(
        &mut self,
        id: String,
        req: JoinRequest,
        now: Instant,
    ) -> Reply<JoinResult> {
        let (tx, rx) = oneshot::channel();
        let member = Member {
            id: id.clone(),
            instance_id: req.instance_id.clone(),
            client_id: req.client_id,
            client_host: req.client_host,
            session_timeout: Duration::from_millis(req.session_timeout_ms.max(0) as u64),
            rebalance_timeout: Duration::from_millis(req.rebalance_timeout_ms.max(0) as u64),
            protocol_type: req.protocol_type.clone(),
            protocols: req.protocols,
            assignment: Bytes::new(),
            last_heartbeat: now,
            seq: self.next_seq,
            join_waiter: Some(tx),
            sync_waiter: None,
        };
        self.next_seq += 1;
        if let Some(inst) = req.instance_id {
            self.statics.insert(inst, id.clone());
        }
        self.members.insert(id, member);
        if self.protocol_type.is_none() {
            self.protocol_type = Some(req.protocol_type);
        }
        match self.state {
            GroupState::PreparingRebalance => {
                // New members during the initial delay push it back, up to the rebalance timeout.
                if let (Some(_), Some(cap)) = (self.initial_delay_until, self.initial_delay_cap) {
                    self.initial_delay_until =
                        Some((now + self.limits.initial_rebalance_delay).min(cap));
                }
                self.maybe_complete_join(now);
            }
            _ => self.prepare_rebalance(now, "member joined"),
        }
        Reply::Wait(rx)
    }

    fn join_known(&mut self, req: JoinRequest, now: Instant) -> Reply<JoinResult> {
        let state = self.state;
        let is_leader = self.leader.as_deref() == Some(req.member_id.as_str());
        let Some(m) = self.members.get_mut(&req.member_id) else {
            return Reply::Now(JoinResult::error(code::UNKNOWN_MEMBER_ID, &req.member_id));
        };
        m.session_timeout = Duration::from_millis(req.session_timeout_ms.max(0) as u64);
        m.rebalance_timeout = Duration::from_millis(req.rebalance_timeout_ms.max(0) as u64);
        m.client_id = req.client_id.clone();
        m.client_host = req.client_host.clone();
        m.last_heartbeat = now;
        let unchanged = m.protocols == req.protocols;
        match state {
            // A member re-sending an unchanged JoinGroup (e.g. it lost the response) gets the current
            // generation back; only a changed subscription or the leader's rejoin starts a rebalance,
            // as in Kafka. This is what keeps a stable group of live consumers stable.
            GroupState::CompletingRebalance if unchanged => {
                Reply::Now(self.current_join_result(&req.member_id))
            }
            GroupState::Stable if unchanged && !is_leader => {
                Reply::Now(self.current_join_result(&req.member_id))
            }
            GroupState::PreparingRebalance
            | GroupState::CompletingRebalance
            | GroupState::Stable => {
                let (tx, rx) = oneshot::channel();
                m.protocols = req.protocols;
                m.protocol_type = req.protocol_type;
                if let Some(old) = m.join_waiter.replace(tx) {
                    let _ = old.send(JoinResult::error(
                        code::REBALANCE_IN_PROGRESS,
                        &req.member_id,
                    ));
                }
                if state == GroupState::PreparingRebalance {
                    self.maybe_complete_join(now);
                } else {
                    self.prepare_rebalance(now, "member rejoined with new metadata or as leader");
                }
                Reply::Wait(rx)
            }
            GroupState::Empty | GroupState::Dead => {
                Reply::Now(JoinResult::error(code::UNKNOWN_MEMBER_ID, &req.member_id))
            }
        }
    }

    fn current_join_result(&self, member_id: &str) -> JoinResult {
        let protocol = self.protocol.clone().unwrap_or_default();
        let leader = self.leader.clone().unwrap_or_default();
        let members = if leader == member_id {
            self.joined_members(&protocol)
        } else {
            Vec::new()
        };
        JoinResult {
            error: code::NONE,
            generation: self.generation,
            protocol_type: self.protocol_type.clone(),
            protocol_name: Some(protocol),
            leader,
            member_id: member_id.to_string(),
            members,
        }
    }

    fn joined_members(&self, protocol: &str) -> Vec<JoinedMember> {
        let mut ms: Vec<&Member> = self.members.values().collect();
        ms.sort_by_key(|m| m.seq);
        ms.into_iter()
            .map(|m| JoinedMember {
                member_id: m.id.clone(),
                instance_id: m.instance_id.clone(),
                metadata: m.metadata_for(protocol),
            })
            .collect()
    }

    fn prepare_rebalance(&mut self, now: Instant, reason: &str) {
        if self.state == GroupState::CompletingRebalance {
            for m in self.members.values_mut() {
                if let Some(w) = m.sync_waiter.take() {
                    let _ = w.send(SyncResult::error(code::REBALANCE_IN_PROGRESS));
                }
            }
        }
        let max_rebalance = self
            .members
            .values()
            .map(|m| m.rebalance_timeout)
            .max()
            .unwrap_or_default();
        if self.state == GroupState::Empty && !self.limits.initial_rebalance_delay.is_zero() {
            self.initial_delay_until =
                Some(now + self.limits.initial_rebalance_delay.min(max_rebalance));
            self.initial_delay_cap = Some(now + max_rebalance);
        }
        tracing::info!(group = %self.id, from = self.state.name(), generation = self.generation, reason, "preparing rebalance");
        crate::metrics::REBALANCES
            .with_label_values(&[reason])
            .inc();
        self.state = GroupState::PreparingRebalance;
        self.rebalance_deadline = Some(now + max_rebalance);
        self.maybe_complete_join(now);
    }

    fn maybe_complete_join(&mut self, now: Instant) {
        if self.state != GroupState::PreparingRebalance {
            return;
        }
        if self.initial_delay_until.is_some_and(|t| now < t) {
            return;
        }
        let all_joined =
            self.members.values().all(Member::awaiting_join) && self.pending.is_empty();
        let timed_out = self.rebalance_deadline.is_some_and(|d| now >= d);
        if all_joined || timed_out {
            self.complete_join(now);
        }
    }

    /// Ends the join phase: members that did not rejoin are dropped, the generation advances, the leader
    /// gets every member's metadata and everyone gets the generation.
    fn complete_join(&mut self, now: Instant) {
        self.initial_delay_until = None;
        self.initial_delay_cap = None;
        let gone: Vec<String> = self
            .members
            .values()
            .filter(|m| !m.awaiting_join())
            .map(|m| m.id.clone())
            .collect();
        for id in gone {
            tracing::info!(group = %self.id, member = %id, "member did not rejoin in time; removing it");
            self.drop_member(&id);
        }
        self.pending.clear();
        self.generation += 1;
        if self.members.is_empty() {
            self.state = GroupState::Empty;
            self.protocol = None;
            self.protocol_type = None;
            self.leader = None;
            self.empty_since_ms = crate::maintenance::now_ms();
            tracing::info!(group = %self.id, generation = self.generation, "group is empty");
            return;
        }
        self.protocol = self.select_protocol();
        if !self
            .leader
            .as_ref()
            .is_some_and(|l| self.members.contains_key(l))
        {
            self.leader = self
                .members
                .values()
                .min_by_key(|m| m.seq)
                .map(|m| m.id.clone());
        }
        self.state = GroupState::CompletingRebalance;
        // Members that do not send SyncGroup within the rebalance timeout are dropped (see `tick`).
        let max_rebalance = self
            .members
            .values()
            .map(|m| m.rebalance_timeout)
            .max()
            .unwrap_or_default();
        self.rebalance_deadline = Some(now + max_rebalance);
        let protocol = self.protocol.clone().unwrap_or_default();
        let leader = self.leader.clone().unwrap_or_default();
        let all = self.joined_members(&protocol);
        tracing::info!(group = %self.id, generation = self.generation, members = self.members.len(), %protocol, %leader, "rebalance: join phase complete");
        for m in self.members.values_mut() {
            m.last_heartbeat = now;
            m.assignment = Bytes::new();
            if let Some(w) = m.join_waiter.take() {
                let _ = w.send(JoinResult {
                    error: code::NONE,
                    generation: self.generation,
                    protocol_type: self.protocol_type.clone(),
                    protocol_name: Some(protocol.clone()),
                    leader: leader.clone(),
                    member_id: m.id.clone(),
                    members: if m.id == leader {
                        all.clone()
                    } else {
                        Vec::new()
                    },
                });
            }
        }
    }

    /// Kafka's vote: each member votes for its most preferred protocol that every member supports.
    fn select_protocol(&self) -> Option<String> {
        let common = self.common_protocols("")?;
        let mut votes: Vec<(String, usize)> = common.iter().map(|c| (c.clone(), 0)).collect();
        for m in self.members.values() {
            if let Some((name, _)) = m.protocols.iter().find(|(n, _)| common.contains(n)) {
                if let Some(v) = votes.iter_mut().find(|(c, _)| c == name) {
                    v.1 += 1;
                }
            }
        }
        // max_by_key keeps the last maximum; reverse so ties go to the earlier candidate.
        votes
            .iter()
            .rev()
            .max_by_key(|(_, n)| *n)
            .map(|(c, _)| c.clone())
    }

    /// Removes a member without changing the state; its waiting requests learn it is gone.
    fn drop_member(&mut self, id: &str) {
        if let Some(mut m) = self.members.remove(id) {
            if let Some(w) = m.join_waiter.take() {
                let _ = w.send(JoinResult::error(code::UNKNOWN_MEMBER_ID, id));
            }
            if let Some(w) = m.sync_waiter.take() {
                let _ = w.send(SyncResult::error(code::UNKNOWN_MEMBER_ID));
            }
            if let Some(inst) = &m.instance_id {
                if self.statics.get(inst).is_some_and(|h| h == id) {
                    self.statics.remove(inst);
                }
            }
        }
        if self.leader.as_deref() == Some(id) {
            self.leader = None;
        }
    }

    /// Removes a member and rebalances the rest.
    fn remove_member(&mut self, id: &str, now: Instant, reason: &str) {
        self.drop_member(id);
        match self.state {
            GroupState::Stable | GroupState::CompletingRebalance => {
                self.prepare_rebalance(now, reason)
            }
            GroupState::PreparingRebalance => self.maybe_complete_join(now),
            GroupState::Empty | GroupState::Dead => {}
        }
    }

    pub fn sync(
        &mut self,
        generation: i32,
        member_id: &str,
        instance_id: Option<&str>,
        protocol: (Option<&str>, Option<&str>),
        assignments: Vec<(String, Bytes)>,
        now: Instant,
    ) -> Reply<SyncResult> {
        if let Err(e) = self.check_member(member_id, instance_id) {
            return Reply::Now(SyncResult::error(e));
        }
        if generation != self.generation {
            return Reply::Now(SyncResult::error(code::ILLEGAL_GENERATION));
        }
        let (ptype, pname) = protocol;
        if ptype.is_some_and(|t| Some(t) != self.protocol_type.as_deref())
            || pname.is_some_and(|n| Some(n) != self.protocol.as_deref())
        {
            return Reply::Now(SyncResult::error(code::INCONSISTENT_GROUP_PROTOCOL));
        }
        let ok = |g: &Group, assignment: Bytes| SyncResult {
            error: code::NONE,
            protocol_type: g.protocol_type.clone(),
            protocol_name: g.protocol.clone(),
            assignment,
        };
        match self.state {
            GroupState::Empty | GroupState::Dead => {
                Reply::Now(SyncResult::error(code::UNKNOWN_MEMBER_ID))
            }
            GroupState::PreparingRebalance => {
                Reply::Now(SyncResult::error(code::REBALANCE_IN_PROGRESS))
            }
            GroupState::Stable => {
                let a = self
                    .members
                    .get(member_id)
                    .map(|m| m.assignment.clone())
                    .unwrap_or_default();
                if let Some(m) = self.members.get_mut(member_id) {
                    m.last_heartbeat = now;
                }
                Reply::Now(ok(self, a))
            }
            GroupState::CompletingRebalance => {
                let (tx, rx) = oneshot::channel();
                if let Some(m) = self.members.get_mut(member_id) {
                    m.last_heartbeat = now;
                    m.sync_waiter = Some(tx);
                }
                if self.leader.as_deref() == Some(member_id) {
                    let mut given: HashMap<String, Bytes> = assignments.into_iter().collect();
                    self.state = GroupState::Stable;
                    tracing::info!(group = %self.id, generation = self.generation, members = self.members.len(), "rebalance complete: group is stable");
                    let (pt, pn) = (self.protocol_type.clone(), self.protocol.clone());
                    for m in self.members.values_mut() {
                        m.assignment = given.remove(&m.id).unwrap_or_default();
                        m.last_heartbeat = now;
                        if let Some(w) = m.sync_waiter.take() {
                            let _ = w.send(SyncResult {
                                error: code::NONE,
                                protocol_type: pt.clone(),
                                protocol_name: pn.clone(),
                                assignment: m.assignment.clone(),
                            });
                        }
                    }
                }
                Reply::Wait(rx)
            }
        }
    }

    pub fn heartbeat(
        &mut self,
        generation: i32,
        member_id: &str,
        instance_id: Option<&str>,
        now: Instant,
    ) -> i16 {
        if let Err(e) = self.check_member(member_id, instance_id) {
            return e;
        }
        if generation != self.generation {
            return code::ILLEGAL_GENERATION;
        }
        if let Some(m) = self.members.get_mut(member_id) {
            m.last_heartbeat = now;
        }
        match self.state {
            GroupState::PreparingRebalance => code::REBALANCE_IN_PROGRESS,
            GroupState::CompletingRebalance | GroupState::Stable => code::NONE,
            GroupState::Empty | GroupState::Dead => code::UNKNOWN_MEMBER_ID,
        }
    }

    pub fn leave(&mut self, member_id: &str, instance_id: Option<&str>, now: Instant) -> i16 {
        let id = match instance_id {
            Some(inst) => match self.statics.get(inst) {
                None => return code::UNKNOWN_MEMBER_ID,
                Some(holder) if !member_id.is_empty() && holder != member_id => {
                    return code::FENCED_INSTANCE_ID
                }
                Some(holder) => holder.clone(),
            },
            None => member_id.to_string(),
        };
        if self.pending.remove(&id).is_some() {
            self.maybe_complete_join(now);
            return code::NONE;
        }
        if !self.members.contains_key(&id) {
            return code::UNKNOWN_MEMBER_ID;
        }
        tracing::info!(group = %self.id, member = %id, "member left the group");
        self.remove_member(&id, now, "member left");
        code::NONE
    }

    /// OffsetCommit's membership rules (Kafka's order of checks). `Ok` also refreshes the session.
    pub fn check_commit(
        &mut self,
        generation: i32,
        member_id: &str,
        instance_id: Option<&str>,
        now: Instant,
    ) -> Result<(), i16> {
        if generation < 0 && member_id.is_empty() && self.members.is_empty() {
            return Ok(());
        }
        if let Some(inst) = instance_id {
            if self.statics.get(inst).is_some_and(|h| h != member_id) {
                return Err(code::FENCED_INSTANCE_ID);
            }
        }
        if self.state == GroupState::CompletingRebalance {
            return Err(code::REBALANCE_IN_PROGRESS);
        }
        let Some(m) = self.members.get_mut(member_id) else {
            return Err(code::UNKNOWN_MEMBER_ID);
        };
        if generation != self.generation {
            return Err(code::ILLEGAL_GENERATION);
        }
        m.last_heartbeat = now;
        Ok(())
    }

    /// Session expiry, pending-member expiry and rebalance deadlines; called periodically.
    pub fn tick(&mut self, now: Instant) {
        self.pending.retain(|_, deadline| *deadline > now);
        let expired: Vec<String> = self
            .members
            .values()
            .filter(|m| !m.awaiting_join() && !m.awaiting_sync())
            .filter(|m| now.duration_since(m.last_heartbeat) > m.session_timeout)
            .map(|m| m.id.clone())
            .collect();
        for id in expired {
            tracing::info!(group = %self.id, member = %id, "member session expired; removing it");
            self.remove_member(&id, now, "member session expired");
        }
        if self.state == GroupState::CompletingRebalance
            && self.rebalance_deadline.is_some_and(|d| now >= d)
        {
            let unsynced: Vec<String> = self
                .members
                .values()
                .filter(|m| !m.awaiting_sync())
                .map(|m| m.id.clone())
                .collect();
            for id in &unsynced {
                tracing::info!(group = %self.id, member = %id, "member did not sync in time; removing it");
                self.drop_member(id);
            }
            self.prepare_rebalance(now, "members did not send SyncGroup in time");
        }
        self.maybe_complete_join(now);
    }

    /// DeleteGroups: only an empty group can go.
    pub fn mark_dead(&mut self) {
        self.state = GroupState::Dead;
    }
}
