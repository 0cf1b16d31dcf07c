//! One Kafka cluster as the capabilities see it: the client settings, a lazily made admin client
//! and metadata consumer, and the read-side operations both capabilities share (topics, their
//! descriptions, watermarks, groups and committed offsets). Every method blocks the calling
//! thread; callers run them inside `HostState::wait`.

use std::collections::BTreeMap;
use std::time::Duration;

use rdkafka::admin::{AdminClient, AdminOptions, ResourceSpecifier};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::{Offset, TopicPartitionList};

use super::grant::KafkaCluster;
use crate::bindings::types::{ConfigEntry, ErrorKind, PluginError, TopicDescription};

/// How long one request to the cluster may take before the call fails as retriable.
pub(crate) const REQUEST_TIMEOUT: Duration = Duration::from_secs(15);

/// A cluster and the clients made for it so far.
pub(crate) struct Cluster {
    /// "remote cluster" or "local cluster", for messages.
    what: &'static str,
    spec: KafkaCluster,
    client_id: String,
    admin: Option<AdminClient<DefaultClientContext>>,
    meta: Option<BaseConsumer>,
}

/// Whether an rdkafka error is about configuration or permissions (retrying cannot help)
/// rather than a cluster that is down, slow or moving leadership.
pub(crate) fn is_fatal(e: &KafkaError) -> bool {
    if matches!(
        e,
        KafkaError::ClientConfig(..) | KafkaError::ClientCreation(_)
    ) {
        return true;
    }
    use RDKafkaErrorCode as C;
    matches!(
        e.rdkafka_error_code(),
        Some(
            C::InvalidConfig
                | C::InvalidArgument
                | C::Authentication
                | C::SaslAuthenticationFailed
                | C::TopicAuthorizationFailed
                | C::GroupAuthorizationFailed
                | C::ClusterAuthorizationFailed
                | C::InvalidTopic
                | C::InvalidReplicationFactor
                | C::InvalidPartitions
                | C::InvalidRequest
                | C::PolicyViolation
                | C::InvalidGroupId
                | C::UnsupportedVersion
                | C::UnsupportedFeature
                | C::MessageSizeTooLarge
                | C::InvalidRecord
        )
    )
}

impl Cluster {
    pub(crate) fn new(what: &'static str, spec: KafkaCluster, client_id: String) -> Self {
        Cluster {
            what,
            spec,
            client_id,
            admin: None,
            meta: None,
        }
    }

    /// The cluster's bootstrap servers and client properties.
    pub(crate) fn spec(&self) -> &KafkaCluster {
        &self.spec
    }

    /// The prefix of its clients' `client.id`.
    pub(crate) fn client_id(&self) -> &str {
        &self.client_id
    }

    /// `remote cluster a:9092`: how messages name the cluster.
    pub(crate) fn name(&self) -> String {
        format!("{} {}", self.what, self.spec.bootstrap)
    }

    /// The error for a failed operation: fatal for configuration and permission problems,
    /// retriable otherwise (the cluster cannot be reached, is slow, or is moving leadership).
    pub(crate) fn error(&self, doing: &str, e: &KafkaError) -> PluginError {
        PluginError {
            kind: if is_fatal(e) {
                ErrorKind::Fatal
            } else {
                ErrorKind::Retriable
            },
            message: format!("{}: {doing}: {e}", self.name()),
            retry_after_ms: None,
        }
    }

    /// A fatal error about the call itself.
    pub(crate) fn refused(&self, message: impl std::fmt::Display) -> PluginError {
        PluginError {
            kind: ErrorKind::Fatal,
            message: format!("{}: {message}", self.name()),
            retry_after_ms: None,
        }
    }

    /// The settings of one client: the cluster, the granted client properties, the role's
    /// defaults before them (so a property can tune them) and `forced` after them.
    pub(crate) fn config(
        &self,
        role: &str,
        defaults: &[(&str, &str)],
        forced: &[(&str, &str)],
    ) -> Result<ClientConfig, PluginError> {
        if self.spec.bootstrap.is_empty() {
            return Err(self.refused(
                "no bootstrap servers are known (the Connect worker sets them for \
                 capability.local-admin)",
            ));
        }
        let mut c = ClientConfig::new();
        c.set("client.id", format!("{}-{role}", self.client_id));
        for (k, v) in defaults {
            c.set(*k, *v);
        }
        for (k, v) in &self.spec.client {
            c.set(k, v);
        }
        c.set("bootstrap.servers", &self.spec.bootstrap);
        for (k, v) in forced {
            c.set(*k, *v);
        }
        Ok(c)
    }

    pub(crate) fn admin(&mut self) -> Result<&AdminClient<DefaultClientContext>, PluginError> {
        if self.admin.is_none() {
            let c = self.config("admin", &[], &[])?;
            let a = c
                .create()
                .map_err(|e| self.error("cannot create an admin client", &e))?;
            self.admin = Some(a);
        }
        self.admin
            .as_ref()
            .ok_or_else(|| self.refused("no admin client"))
    }

    fn meta(&mut self) -> Result<&BaseConsumer, PluginError> {
        if let Some(m) = &self.meta {
            // Nothing else polls this client: serve the events (errors, logs) queued since the
            // last call so they do not pile up while the cluster is down.
            for _ in 0..1000 {
                if m.poll(Duration::ZERO).is_none() {
                    break;
                }
            }
        }
        if self.meta.is_none() {
            // No group.id: a consumer that only answers metadata and offset lookups.
            let c = self.config(
                "meta",
                &[("isolation.level", "read_uncommitted")],
                &[("enable.auto.commit", "false")],
            )?;
            let m = c
                .create()
                .map_err(|e| self.error("cannot create a metadata client", &e))?;
            self.meta = Some(m);
        }
        self.meta
            .as_ref()
            .ok_or_else(|| self.refused("no metadata client"))
    }

    /// Every topic with its partition count.
    pub(crate) fn topics(&mut self) -> Result<BTreeMap<String, u32>, PluginError> {
        let md = self
            .meta()?
            .fetch_metadata(None, REQUEST_TIMEOUT)
            .map_err(|e| self.error("cannot list topics", &e))?;
        Ok(md
            .topics()
            .iter()
            .filter(|t| t.error().is_none())
            .map(|t| {
                (
                    t.name().to_string(),
                    u32::try_from(t.partitions().len()).unwrap_or(u32::MAX),
                )
            })
            .collect())
    }

    /// Partition counts and configs (every config with a value) of the topics that exist.
    pub(crate) fn describe(
        &mut self,
        names: &[String],
    ) -> Result<Vec<TopicDescription>, PluginError> {
        let all = self.topics()?;
        let found: Vec<(&String, u32)> = names
            .iter()
            .filter_map(|n| all.get(n).map(|p| (n, *p)))
            .collect();
        if found.is_empty() {
            return Ok(Vec::new());
        }
        let specs: Vec<ResourceSpecifier<'_>> = found
            .iter()
            .map(|(n, _)| ResourceSpecifier::Topic(n))
            .collect();
        let opts = AdminOptions::new().request_timeout(Some(REQUEST_TIMEOUT));
        let admin = self.admin()?;
        let results = futures_executor::block_on(admin.describe_configs(specs.iter(), &opts))
            .map_err(|e| self.error("cannot describe topic configs", &e))?;
        let mut out = Vec::with_capacity(found.len());
        for ((name, partitions), r) in found.iter().zip(results) {
            // A topic deleted since the listing is missing from the answer, as one that never was.
            let Ok(resource) = r else { continue };
            out.push(TopicDescription {
                name: (*name).clone(),
                partitions: *partitions,
                config: resource
                    .entries
                    .into_iter()
                    .filter_map(|e| e.value.map(|value| ConfigEntry { key: e.name, value }))
                    .collect(),
            });
        }
        Ok(out)
    }

    /// Earliest and latest offsets of these partitions, `(topic, partition, earliest, latest)`;
    /// partitions that do not exist are left out. Two ListOffsets rounds for all of them.
    pub(crate) fn watermarks(
        &mut self,
        parts: &[(String, i32)],
    ) -> Result<Vec<(String, i32, i64, i64)>, PluginError> {
        if parts.is_empty() {
            return Ok(Vec::new());
        }
        let query = |at: Offset| -> Result<TopicPartitionList, KafkaError> {
            let mut tpl = TopicPartitionList::with_capacity(parts.len());
            for (t, p) in parts {
                tpl.add_partition_offset(t, *p, at)?;
            }
            Ok(tpl)
        };
        let earliest_q = query(Offset::Beginning).map_err(|e| self.refused(e))?;
        let latest_q = query(Offset::End).map_err(|e| self.refused(e))?;
        let meta = self.meta()?;
        // ListOffsets with timestamp -2 / -1 answers the log start / end offset.
        let earliest = meta.offsets_for_times(earliest_q, REQUEST_TIMEOUT);
        let latest = earliest
            .as_ref()
            .ok()
            .map(|_| meta.offsets_for_times(latest_q, REQUEST_TIMEOUT));
        let earliest = earliest.map_err(|e| self.error("cannot list offsets", &e))?;
        let latest = latest
            .unwrap_or_else(|| Err(KafkaError::NoMessageReceived))
            .map_err(|e| self.error("cannot list offsets", &e))?;
        let mut out = Vec::with_capacity(parts.len());
        for e in earliest.elements() {
            let (Offset::Offset(lo), None) = (e.offset(), e.error().err()) else {
                continue;
            };
            let Some(Offset::Offset(hi)) = latest
                .find_partition(e.topic(), e.partition())
                .filter(|l| l.error().is_ok())
                .map(|l| l.offset())
            else {
                continue;
            };
            out.push((e.topic().to_string(), e.partition(), lo, hi));
        }
        Ok(out)
    }

    /// Every consumer group's id.
    pub(crate) fn groups(&mut self) -> Result<Vec<String>, PluginError> {
        let list = self
            .admin()?
            .inner()
            .fetch_group_list(None, REQUEST_TIMEOUT)
            .map_err(|e| self.error("cannot list groups", &e))?;
        Ok(list.groups().iter().map(|g| g.name().to_string()).collect())
    }

    /// How many members a group has now (0 for an empty or unknown group).
    pub(crate) fn group_members(&mut self, group: &str) -> Result<usize, PluginError> {
        let list = self
            .admin()?
            .inner()
            .fetch_group_list(Some(group), REQUEST_TIMEOUT)
            .map_err(|e| self.error(&format!("cannot describe group {group}"), &e))?;
        Ok(list
            .groups()
            .iter()
            .filter(|g| g.name() == group)
            .map(|g| g.members().len())
            .sum())
    }

    /// A consumer in group `group` that never joins it: for OffsetFetch and simple commits.
    pub(crate) fn group_client(&self, group: &str) -> Result<BaseConsumer, PluginError> {
        if group.is_empty() {
            return Err(self.refused("a group id may not be empty"));
        }
        self.config(
            "group",
            &[],
            &[
                ("group.id", group),
                ("enable.auto.commit", "false"),
                ("enable.auto.offset.store", "false"),
            ],
        )?
        .create()
        .map_err(|e| self.error("cannot create a group client", &e))
    }

    /// Committed offsets of `group`, on every partition of every topic it has one for.
    pub(crate) fn group_offsets(
        &mut self,
        group: &str,
    ) -> Result<Vec<(String, i32, i64)>, PluginError> {
        let topics = self.topics()?;
        let mut tpl = TopicPartitionList::new();
        for (t, n) in &topics {
            for p in 0..*n {
                tpl.add_partition(t, i32::try_from(p).unwrap_or(i32::MAX));
            }
        }
        if tpl.count() == 0 {
            return Ok(Vec::new());
        }
        let client = self.group_client(group)?;
        let committed = client
            .committed_offsets(tpl, REQUEST_TIMEOUT)
            .map_err(|e| self.error(&format!("cannot read the offsets of group {group}"), &e))?;
        Ok(committed
            .elements()
            .iter()
            .filter_map(|e| match e.offset() {
                Offset::Offset(o) if o >= 0 => Some((e.topic().to_string(), e.partition(), o)),
                _ => None,
            })
            .collect())
    }
}
