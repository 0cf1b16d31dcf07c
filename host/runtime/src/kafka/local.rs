//! The `local-admin` capability: the host side of `weft:plugin/local-admin` for plugins whose
//! config grants `capability.local-admin=true`, against the cluster the Connect worker writes to
//! (what MirrorMaker does to its target: create topics, raise partition counts, set configs,
//! write the offsets of groups nobody is consuming in).

use std::collections::BTreeMap;

use rdkafka::admin::{
    AdminOptions, AlterConfig, ConfigSource, NewPartitions, NewTopic, ResourceSpecifier,
    TopicReplication,
};
use rdkafka::consumer::{CommitMode, Consumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::{Offset, TopicPartitionList};

use super::cluster::{Cluster, REQUEST_TIMEOUT};
use super::grant::KEY_LOCAL_ADMIN;
use super::reader::Reader;
use crate::bindings::capability_local_admin::weft::plugin::local_admin as wit;
use crate::bindings::types::{
    ConfigEntry, ErrorKind, PluginError, TopicDescription, TopicPartition, TopicPartitionOffset,
    Watermarks,
};
use crate::host::HostState;

fn admin_options() -> AdminOptions {
    AdminOptions::new()
        .request_timeout(Some(REQUEST_TIMEOUT))
        .operation_timeout(Some(REQUEST_TIMEOUT))
}

/// Creates topics on `c`; one that exists already is left as it is.
pub(super) fn create_topics(c: &mut Cluster, topics: &[wit::NewTopic]) -> Result<(), PluginError> {
    if topics.is_empty() {
        return Ok(());
    }
    let mut news = Vec::with_capacity(topics.len());
    for t in topics {
        let partitions = i32::try_from(t.partitions)
            .ok()
            .filter(|p| *p > 0)
            .ok_or_else(|| {
                c.refused(format!(
                    "topic {}: {} is not a valid partition count",
                    t.name, t.partitions
                ))
            })?;
        let mut n = NewTopic::new(
            &t.name,
            partitions,
            TopicReplication::Fixed(i32::from(t.replication_factor)),
        );
        for e in &t.config {
            n = n.set(&e.key, &e.value);
        }
        news.push(n);
    }
    let opts = admin_options();
    let results = futures_executor::block_on(c.admin()?.create_topics(news.iter(), &opts))
        .map_err(|e| c.error("cannot create topics", &e))?;
    for r in results {
        match r {
            Ok(_) | Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((name, code)) => {
                return Err(c.error(
                    &format!("cannot create topic {name}"),
                    &KafkaError::AdminOp(code),
                ))
            }
        }
    }
    Ok(())
}

fn create_partitions(c: &mut Cluster, topic: &str, total: u32) -> Result<(), PluginError> {
    let current = c.topics()?.get(topic).copied();
    let Some(current) = current else {
        return Err(c.refused(format!(
            "cannot add partitions: topic {topic} does not exist"
        )));
    };
    if total <= current {
        return Ok(());
    }
    let total = usize::try_from(total).unwrap_or(usize::MAX);
    let p = NewPartitions::new(topic, total);
    let opts = admin_options();
    let results = futures_executor::block_on(c.admin()?.create_partitions([&p], &opts))
        .map_err(|e| c.error(&format!("cannot add partitions to {topic}"), &e))?;
    for r in results {
        if let Err((_, code)) = r {
            // Raised meanwhile by someone else to at least `total`: done all the same.
            let now = c.topics()?.get(topic).copied().unwrap_or(0);
            if usize::try_from(now).unwrap_or(0) < total {
                return Err(c.error(
                    &format!("cannot add partitions to {topic}"),
                    &KafkaError::AdminOp(code),
                ));
            }
        }
    }
    Ok(())
}

/// Sets `config` on `topic`, keeping its other overrides. The cluster is asked with
/// AlterConfigs (librdkafka's client has no incremental call), so the current overrides are
/// read first and written back with the new values.
fn alter_topic_configs(
    c: &mut Cluster,
    topic: &str,
    config: &[ConfigEntry],
) -> Result<(), PluginError> {
    if config.is_empty() {
        return Ok(());
    }
    let opts = admin_options();
    let spec = ResourceSpecifier::Topic(topic);
    let described = futures_executor::block_on(c.admin()?.describe_configs([&spec], &opts))
        .map_err(|e| c.error(&format!("cannot read the configs of {topic}"), &e))?;
    let mut overrides: BTreeMap<String, String> = BTreeMap::new();
    for r in described {
        let resource = r.map_err(|code| {
            c.error(
                &format!("cannot read the configs of {topic}"),
                &KafkaError::AdminOp(code),
            )
        })?;
        for e in resource.entries {
            if let (ConfigSource::DynamicTopic, Some(v)) = (&e.source, e.value) {
                overrides.insert(e.name, v);
            }
        }
    }
    for e in config {
        overrides.insert(e.key.clone(), e.value.clone());
    }
    let mut alter = AlterConfig::new(ResourceSpecifier::Topic(topic));
    for (k, v) in &overrides {
        alter = alter.set(k, v);
    }
    let results = futures_executor::block_on(c.admin()?.alter_configs([&alter], &opts))
        .map_err(|e| c.error(&format!("cannot set the configs of {topic}"), &e))?;
    for r in results {
        if let Err((_, code)) = r {
            return Err(c.error(
                &format!("cannot set the configs of {topic}"),
                &KafkaError::AdminOp(code),
            ));
        }
    }
    Ok(())
}

/// Commits `offsets` for `group` as a consumer outside the group (generation -1), which the
/// cluster accepts only while the group has no members; `false` when it has some (then nothing
/// is written: checked first, and a member that joins in between makes the cluster refuse).
fn commit_group_offsets(
    c: &mut Cluster,
    group: &str,
    offsets: &[TopicPartitionOffset],
) -> Result<bool, PluginError> {
    if c.group_members(group)? > 0 {
        return Ok(false);
    }
    if offsets.is_empty() {
        return Ok(true);
    }
    let mut tpl = TopicPartitionList::with_capacity(offsets.len());
    for o in offsets {
        if o.offset < 0 {
            return Err(c.refused(format!(
                "group {group}: offset {} of {}-{} is not a committable offset",
                o.offset, o.topic, o.partition
            )));
        }
        tpl.add_partition_offset(&o.topic, o.partition, Offset::Offset(o.offset))
            .map_err(|e| c.refused(e))?;
    }
    let client = c.group_client(group)?;
    match client.commit(&tpl, CommitMode::Sync) {
        Ok(()) => Ok(true),
        Err(KafkaError::ConsumerCommit(
            RDKafkaErrorCode::UnknownMemberId
            | RDKafkaErrorCode::IllegalGeneration
            | RDKafkaErrorCode::RebalanceInProgress
            | RDKafkaErrorCode::FencedInstanceId,
        )) => Ok(false),
        Err(e) => Err(c.error(&format!("cannot commit offsets of group {group}"), &e)),
    }
}

/// An instance's local-admin state: the cluster and, once the plugin reads, its consumer.
pub(crate) struct LocalState {
    cluster: Cluster,
    reader: Reader,
}

impl LocalState {
    pub(crate) fn new(cluster: Cluster) -> Self {
        // Internal topics are small: one consumer reads them.
        LocalState {
            cluster,
            reader: Reader::new(1),
        }
    }
}

impl HostState {
    /// Runs `f` on the local cluster inside [`HostState::wait`].
    fn with_local<R>(
        &mut self,
        f: impl FnOnce(&mut LocalState) -> Result<R, PluginError>,
    ) -> Result<R, PluginError> {
        let Some(mut state) = self.kafka.local.take() else {
            return Err(PluginError {
                kind: ErrorKind::Fatal,
                message: format!("local-admin: not granted ({KEY_LOCAL_ADMIN} is not true)"),
                retry_after_ms: None,
            });
        };
        let r = self.wait(|| f(&mut state));
        self.kafka.local = Some(state);
        r
    }
}

impl wit::Host for HostState {
    fn list_topics(&mut self) -> Result<Vec<String>, PluginError> {
        self.with_local(|l| Ok(l.cluster.topics()?.into_keys().collect()))
    }

    fn describe_topics(
        &mut self,
        topics: Vec<String>,
    ) -> Result<Vec<TopicDescription>, PluginError> {
        self.with_local(|l| l.cluster.describe(&topics))
    }

    fn create_topics(&mut self, topics: Vec<wit::NewTopic>) -> Result<(), PluginError> {
        self.with_local(|l| create_topics(&mut l.cluster, &topics))
    }

    fn create_partitions(&mut self, topic: String, total: u32) -> Result<(), PluginError> {
        self.with_local(|l| create_partitions(&mut l.cluster, &topic, total))
    }

    fn alter_topic_configs(
        &mut self,
        topic: String,
        config: Vec<ConfigEntry>,
    ) -> Result<(), PluginError> {
        self.with_local(|l| alter_topic_configs(&mut l.cluster, &topic, &config))
    }

    fn group_offsets(&mut self, group: String) -> Result<Vec<TopicPartitionOffset>, PluginError> {
        self.with_local(|l| {
            Ok(l.cluster
                .group_offsets(&group)?
                .into_iter()
                .map(|(topic, partition, offset)| TopicPartitionOffset {
                    topic,
                    partition,
                    offset,
                })
                .collect())
        })
    }

    fn commit_group_offsets(
        &mut self,
        group: String,
        offsets: Vec<TopicPartitionOffset>,
    ) -> Result<bool, PluginError> {
        self.with_local(|l| commit_group_offsets(&mut l.cluster, &group, &offsets))
    }

    fn list_offsets(
        &mut self,
        partitions: Vec<TopicPartition>,
    ) -> Result<Vec<Watermarks>, PluginError> {
        self.with_local(|l| Reader::list_offsets(&mut l.cluster, partitions))
    }

    fn assign(&mut self, positions: Vec<TopicPartitionOffset>) -> Result<(), PluginError> {
        self.with_local(|l| l.reader.assign(&l.cluster, positions))
    }

    fn fetch(&mut self, max_records: u32, timeout_ms: u32) -> Result<Vec<u8>, PluginError> {
        self.fetch_logged("local-admin", |h| {
            h.with_local(|l| l.reader.fetch(&l.cluster, max_records, timeout_ms))
        })
    }
}
