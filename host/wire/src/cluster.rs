//! One thread's view of a cluster: broker addresses and partition leaders from Metadata, and one
//! connection per broker, opened on first use and dropped on the first error.

use std::collections::HashMap;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Instant;

use kafka_protocol::messages::metadata_request::MetadataRequestTopic;
use kafka_protocol::messages::{ApiKey, MetadataRequest, MetadataResponse, TopicName};
use kafka_protocol::protocol::StrBytes;

use crate::config::WireConfig;
use crate::conn::Conn;
use crate::error::{code, WireError};

/// A topic partition.
pub(crate) type TopicPartition = (Arc<str>, i32);

/// Leaders and connections of one cluster, owned by one thread.
pub(crate) struct Cluster {
    cfg: WireConfig,
    stop: Arc<AtomicBool>,
    /// Whether Metadata asks the cluster to create missing topics (a producer's behaviour).
    auto_create: bool,
    brokers: HashMap<i32, String>,
    leaders: HashMap<TopicPartition, i32>,
    conns: HashMap<i32, Conn>,
    /// Where Metadata is asked; any broker will do.
    meta_conn: Option<Conn>,
    /// Rotates the address tried first for `meta_conn`, so one dead bootstrap broker is not
    /// always tried first.
    next_candidate: usize,
}

impl Cluster {
    pub(crate) fn new(cfg: WireConfig, stop: Arc<AtomicBool>, auto_create: bool) -> Cluster {
        Cluster {
            cfg,
            stop,
            auto_create,
            brokers: HashMap::new(),
            leaders: HashMap::new(),
            conns: HashMap::new(),
            meta_conn: None,
            next_candidate: 0,
        }
    }

    pub(crate) fn config(&self) -> &WireConfig {
        &self.cfg
    }

    /// The deadline of a request sent now.
    pub(crate) fn deadline(&self) -> Instant {
        Instant::now() + self.cfg.request_timeout
    }

    pub(crate) fn leader(&self, tp: &TopicPartition) -> Option<i32> {
        self.leaders.get(tp).copied()
    }

    /// Forgets `tp`'s leader, so the next round refreshes metadata for it.
    pub(crate) fn forget_leader(&mut self, tp: &TopicPartition) {
        self.leaders.remove(tp);
    }

    /// Asks the cluster for `topics`' partitions and leaders. Returns the topics the cluster
    /// answered with an error code for; their partitions (and those without a leader) have no
    /// leader afterwards.
    pub(crate) fn refresh(
        &mut self,
        topics: &[Arc<str>],
    ) -> Result<Vec<(Arc<str>, i16)>, WireError> {
        let req = MetadataRequest::default()
            .with_topics(Some(
                topics
                    .iter()
                    .map(|t| {
                        MetadataRequestTopic::default()
                            .with_name(Some(TopicName(StrBytes::from_string(t.to_string()))))
                    })
                    .collect(),
            ))
            .with_allow_auto_topic_creation(self.auto_create);
        let resp = self.metadata_call(&req)?;
        self.brokers = resp
            .brokers
            .iter()
            .map(|b| (b.node_id.0, format!("{}:{}", b.host.as_str(), b.port)))
            .collect();
        // Connections to brokers that left the cluster (or moved) are closed.
        let brokers = &self.brokers;
        self.conns
            .retain(|id, c| brokers.get(id).is_some_and(|a| a == c.addr()));
        for t in topics {
            self.leaders.retain(|(topic, _), _| topic != t);
        }
        let mut errors = Vec::new();
        for rt in resp.topics {
            let Some(name) = rt.name else { continue };
            let Some(topic) = topics.iter().find(|t| ***t == *name.0.as_str()) else {
                continue;
            };
            if rt.error_code != 0 {
                errors.push((topic.clone(), rt.error_code));
                continue;
            }
            for p in rt.partitions {
                let usable = p.error_code == 0 || p.error_code == code::REPLICA_NOT_AVAILABLE;
                if usable && p.leader_id.0 >= 0 {
                    self.leaders
                        .insert((topic.clone(), p.partition_index), p.leader_id.0);
                }
            }
        }
        Ok(errors)
    }

    fn metadata_call(&mut self, req: &MetadataRequest) -> Result<MetadataResponse, WireError> {
        if let Some(conn) = self.meta_conn.as_mut() {
            let deadline = Instant::now() + self.cfg.request_timeout;
            match conn.call(ApiKey::Metadata, req, deadline, &self.stop) {
                Ok(r) => return Ok(r),
                Err(WireError::Stopped) => return Err(WireError::Stopped),
                Err(e) => {
                    tracing::debug!(broker = conn.addr(), error = %e, "metadata request failed");
                    self.meta_conn = None;
                }
            }
        }
        let mut candidates: Vec<String> = self.cfg.bootstrap.clone();
        for a in self.brokers.values() {
            if !candidates.contains(a) {
                candidates.push(a.clone());
            }
        }
        let start = self.next_candidate % candidates.len().max(1);
        self.next_candidate = self.next_candidate.wrapping_add(1);
        let mut last = None;
        for i in 0..candidates.len() {
            let addr = &candidates[(start + i) % candidates.len()];
            let timeout = self.cfg.request_timeout;
            let attempt =
                Conn::open(addr, &self.cfg.client_id, timeout, &self.stop).and_then(|mut c| {
                    let r = c.call(ApiKey::Metadata, req, Instant::now() + timeout, &self.stop)?;
                    Ok((c, r))
                });
            match attempt {
                Ok((c, r)) => {
                    self.meta_conn = Some(c);
                    return Ok(r);
                }
                Err(WireError::Stopped) => return Err(WireError::Stopped),
                Err(e) => {
                    tracing::debug!(broker = %addr, error = %e, "metadata from this broker failed");
                    last = Some(e);
                }
            }
        }
        Err(last.unwrap_or_else(|| {
            WireError::InvalidConfig("no bootstrap broker configured".to_string())
        }))
    }

    /// The connection to broker `node`, opened if needed.
    pub(crate) fn conn(&mut self, node: i32) -> Result<&mut Conn, WireError> {
        if !self.conns.contains_key(&node) {
            let addr = self.brokers.get(&node).cloned().ok_or_else(|| {
                WireError::protocol("metadata", format!("no address known for broker {node}"))
            })?;
            let c = Conn::open(
                &addr,
                &self.cfg.client_id,
                self.cfg.request_timeout,
                &self.stop,
            )?;
            self.conns.insert(node, c);
        }
        self.conns
            .get_mut(&node)
            .ok_or_else(|| WireError::protocol("metadata", format!("broker {node} vanished")))
    }

    /// The address of broker `node`, for messages.
    pub(crate) fn addr(&self, node: i32) -> String {
        self.brokers
            .get(&node)
            .cloned()
            .unwrap_or_else(|| format!("broker {node}"))
    }

    /// Drops the connection to `node` after an error (its state is unknown) and forgets the
    /// leaders on it, so they are looked up again.
    pub(crate) fn connection_failed(&mut self, node: i32) {
        self.conns.remove(&node);
        self.leaders.retain(|_, l| *l != node);
    }
}
