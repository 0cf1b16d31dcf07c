//! The checkpoint role (MirrorCheckpointConnector and its tasks): reads the offset syncs from
//! the source cluster into MM2's bounded history, lists the source groups this task owns and
//! their committed offsets, and emits translated checkpoints to `<source>.checkpoints.internal`
//! on the target; with `sync.group.offsets.enabled` it also commits the translated offsets to
//! target groups without active members.

use std::collections::BTreeMap;

use weft_batch::{BatchReader, BatchWriter};
use weft_plugin_sdk::serde_json::json;
use weft_plugin_sdk::{admin, log, remote, PluginError, Result, SourcePosition};
use weft_plugin_sdk::{TopicPartition, TopicPartitionOffset};

use crate::checkpoints::{offsets_to_sync, CheckpointStore, TargetPartition};
use crate::config::{owns, Settings, SyncsLocation};
use crate::formats::{Checkpoint, OffsetSync};
use crate::source::internal_topic;
use crate::sync_store::OffsetSyncStore;
use crate::{json_i64, Out};

const FETCH_WAIT_MS: u32 = 200;
const MAX_FETCH_RECORDS: u32 = 10_000;
/// Retry delay after the offset-syncs topic could not be read.
const RETRY_MS: u64 = 5_000;

/// The checkpoint role's state.
pub struct CheckpointRole {
    s: Settings,
    store: OffsetSyncStore,
    checkpoints: CheckpointStore,
    syncs_topic: String,
    checkpoints_topic: String,
    /// The syncs topic's end when reading began; `None` until assigned.
    read_until: Option<i64>,
    next_assign: u64,
    groups: Vec<String>,
    next_groups: u64,
    next_emit: u64,
    next_group_sync: u64,
}

/// MM2's checkpoint source partition `{"group":g,"partition":p,"topic":t}`.
fn checkpoint_partition(c: &Checkpoint) -> String {
    weft_plugin_sdk::position::json_object([
        ("group", json!(c.group)),
        ("partition", json!(c.partition)),
        ("topic", json!(c.topic)),
    ])
}

/// MM2 stores `{"offset":0}`; the offsets are added so that a restart keeps checkpoints
/// monotonic without reading the checkpoints topic back.
fn checkpoint_position(c: &Checkpoint) -> String {
    weft_plugin_sdk::position::json_object([
        ("downstream", json!(c.downstream_offset)),
        ("offset", json!(0)),
        ("upstream", json!(c.upstream_offset)),
    ])
}

impl CheckpointRole {
    /// Opens the role: creates the checkpoints topic, remembers the checkpoints stored before,
    /// starts reading the offset syncs.
    pub fn open(s: Settings, committed: &[SourcePosition], now: u64) -> Result<CheckpointRole> {
        let checkpoints_topic = s.checkpoints_topic();
        admin::create_topics(&[internal_topic(&checkpoints_topic, s.checkpoints_rf)])?;
        let mut checkpoints = CheckpointStore::new();
        for p in committed {
            let Ok(m) = weft_plugin_sdk::position::parse_json_object(&p.partition) else {
                continue;
            };
            let (Some(group), Some(topic), Some(partition)) = (
                m.get("group").and_then(|v| v.as_str()),
                m.get("topic").and_then(|v| v.as_str()),
                m.get("partition").and_then(|v| v.as_i64()),
            ) else {
                continue;
            };
            let (Some(up), Some(down)) = (
                json_i64(&p.position, "upstream"),
                json_i64(&p.position, "downstream"),
            ) else {
                continue;
            };
            checkpoints.record(Checkpoint {
                group: group.to_string(),
                topic: topic.to_string(),
                partition: partition as i32,
                upstream_offset: up,
                downstream_offset: down,
                metadata: String::new(),
            });
        }
        let mut role = CheckpointRole {
            syncs_topic: s.offset_syncs_topic(),
            s,
            store: OffsetSyncStore::new(),
            checkpoints,
            checkpoints_topic,
            read_until: None,
            next_assign: now,
            groups: Vec::new(),
            next_groups: now,
            next_emit: now,
            next_group_sync: now,
        };
        role.try_assign(now);
        Ok(role)
    }

    /// Where the offset syncs are read: the source cluster (remote-cluster) or, with
    /// `offset-syncs.topic.location=target`, the target (local-admin).
    fn syncs_reader(&self) -> SyncsReader {
        match self.s.syncs_location {
            SyncsLocation::Source => SyncsReader::Source,
            SyncsLocation::Target => SyncsReader::Target,
        }
    }

    /// Starts reading the offset-syncs topic from its beginning, noting where it ends now.
    fn try_assign(&mut self, now: u64) {
        let tp = TopicPartition {
            topic: self.syncs_topic.clone(),
            partition: 0,
        };
        let marks = match self.syncs_reader().list_offsets(std::slice::from_ref(&tp)) {
            Ok(m) => m,
            Err(e) => {
                log::warn(&format!(
                    "mirror checkpoints: cannot read {} yet: {}",
                    self.syncs_topic, e.message
                ));
                self.next_assign = now + RETRY_MS;
                return;
            }
        };
        let Some((_, w)) = marks.into_iter().next() else {
            // The source role has not written any sync yet.
            self.next_assign = now + RETRY_MS;
            return;
        };
        let assigned = self.syncs_reader().assign(&[TopicPartitionOffset {
            topic: tp.topic,
            partition: 0,
            offset: w.earliest,
        }]);
        if let Err(e) = assigned {
            log::warn(&format!("mirror checkpoints: {}", e.message));
            self.next_assign = now + RETRY_MS;
            return;
        }
        self.read_until = Some(w.latest);
        if w.latest <= w.earliest {
            self.store.set_read_to_end();
        }
    }

    fn read_syncs(&mut self) -> Result<()> {
        let Some(until) = self.read_until else {
            return Ok(());
        };
        let batch = self
            .syncs_reader()
            .fetch(MAX_FETCH_RECORDS, FETCH_WAIT_MS)?;
        let reader = BatchReader::new(&batch)
            .map_err(|e| PluginError::fatal(format!("fetched batch is malformed: {e}")))?;
        for view in reader.records() {
            let view =
                view.map_err(|e| PluginError::fatal(format!("fetched batch is malformed: {e}")))?;
            if let (Some(k), Some(v)) = (view.key, view.value) {
                match OffsetSync::decode(k, v) {
                    Ok((topic, partition, sync)) => self.store.handle((topic, partition), sync),
                    Err(e) => log::warn(&format!("mirror checkpoints: skipping a sync: {e}")),
                }
            }
            if view.offset.is_some_and(|o| o + 1 >= until) {
                self.store.set_read_to_end();
            }
        }
        Ok(())
    }

    fn refresh_groups(&mut self) -> Result<()> {
        let (index, count) = (self.s.task_index, self.s.task_count);
        self.groups = remote::list_groups()?
            .into_iter()
            .filter(|g| self.s.groups.accepts(g) && owns(g, 0, index, count))
            .collect();
        Ok(())
    }

    /// New checkpoints of every owned group, as records with their positions.
    fn emit(
        &mut self,
        now: u64,
        out: &mut BatchWriter,
        positions: &mut Vec<(u32, SourcePosition)>,
    ) -> Result<()> {
        for group in self.groups.clone() {
            let offsets = match remote::group_offsets(&group) {
                Ok(o) => o,
                Err(e) => {
                    log::warn(&format!(
                        "mirror checkpoints: offsets of {group}: {}",
                        e.message
                    ));
                    continue;
                }
            };
            for o in offsets {
                if !self.s.topics.accepts(&o.topic) {
                    continue;
                }
                let Some(down) = self
                    .store
                    .translate_downstream(&(o.topic.clone(), o.partition), o.offset)
                else {
                    continue;
                };
                if down < 0 {
                    continue;
                }
                let c = Checkpoint {
                    group: group.clone(),
                    topic: self.s.checkpoint_topic_name(&o.topic),
                    partition: o.partition,
                    upstream_offset: o.offset,
                    downstream_offset: down,
                    metadata: String::new(),
                };
                if !self.checkpoints.is_more_recent(&c) {
                    continue;
                }
                out.push(
                    &self.checkpoints_topic,
                    Some(0),
                    Some(now as i64),
                    None,
                    Some(&c.key()),
                    Some(&c.value()),
                    [],
                )
                .map_err(|e| PluginError::fatal(format!("cannot pack a checkpoint: {e}")))?;
                positions.push((
                    out.len() as u32,
                    SourcePosition {
                        partition: checkpoint_partition(&c),
                        position: checkpoint_position(&c),
                    },
                ));
                self.checkpoints.record(c);
            }
        }
        Ok(())
    }

    /// Commits translated offsets to target groups without active members.
    fn sync_group_offsets(&mut self) {
        let groups: Vec<String> = self.checkpoints.groups().map(str::to_string).collect();
        for group in groups {
            let translated = self.checkpoints.translated(&group);
            let committed: BTreeMap<TargetPartition, i64> = match admin::group_offsets(&group) {
                Ok(list) => list
                    .into_iter()
                    .map(|o| ((o.topic, o.partition), o.offset))
                    .collect(),
                Err(e) => {
                    log::warn(&format!(
                        "mirror: offsets of target group {group}: {}",
                        e.message
                    ));
                    continue;
                }
            };
            let sync = offsets_to_sync(&translated, &committed);
            if sync.is_empty() {
                continue;
            }
            let list: Vec<TopicPartitionOffset> = sync
                .into_iter()
                .map(|((topic, partition), offset)| TopicPartitionOffset {
                    topic,
                    partition,
                    offset,
                })
                .collect();
            match admin::commit_group_offsets(&group, &list) {
                Ok(true) => log::counter_add("mirror.group-offset-syncs", list.len() as u64),
                Ok(false) => {} // the group is active on the target: MM2 leaves it alone too
                Err(e) => log::warn(&format!("mirror: syncing group {group}: {}", e.message)),
            }
        }
    }

    /// Reads syncs; emits checkpoints and syncs group offsets when due.
    pub fn poll(&mut self, now: u64) -> Result<Out> {
        if self.read_until.is_none() && now >= self.next_assign {
            self.try_assign(now);
        }
        self.read_syncs()?;
        if let Some(ms) = self.s.refresh_groups_ms.or(Some(u64::MAX / 4)) {
            if now >= self.next_groups {
                if let Err(e) = self.refresh_groups() {
                    log::warn(&format!(
                        "mirror checkpoints: listing groups: {}",
                        e.message
                    ));
                }
                self.next_groups = now.saturating_add(ms.min(u64::MAX / 4));
            }
        }
        let mut out = BatchWriter::new();
        let mut positions = Vec::new();
        if let Some(ms) = self.s.emit_checkpoints_ms {
            if self.store.is_read_to_end() && now >= self.next_emit {
                self.emit(now, &mut out, &mut positions)?;
                self.next_emit = now + ms;
                log::gauge_set("mirror.last-checkpoint-ms", now as f64);
                if !out.is_empty() {
                    log::counter_add("mirror.checkpoints", out.len() as u64);
                }
            }
        }
        if let Some(ms) = self.s.sync_group_offsets_ms {
            if now >= self.next_group_sync {
                self.sync_group_offsets();
                self.next_group_sync = now + ms;
            }
        }
        let batch = out
            .finish()
            .map_err(|e| PluginError::fatal(format!("cannot pack checkpoints: {e}")))?;
        Ok(Out { batch, positions })
    }
}

/// The cluster the offset-syncs topic is read from.
#[derive(Debug, Clone, Copy)]
enum SyncsReader {
    Source,
    Target,
}

impl SyncsReader {
    fn list_offsets(
        self,
        partitions: &[TopicPartition],
    ) -> Result<Vec<(TopicPartition, remote::Watermarks)>> {
        match self {
            SyncsReader::Source => remote::list_offsets(partitions),
            SyncsReader::Target => admin::list_offsets(partitions),
        }
    }

    fn assign(self, positions: &[TopicPartitionOffset]) -> Result<()> {
        match self {
            SyncsReader::Source => remote::assign(positions),
            SyncsReader::Target => admin::assign(positions),
        }
    }

    fn fetch(self, max_records: u32, timeout_ms: u32) -> Result<Vec<u8>> {
        match self {
            SyncsReader::Source => remote::fetch(max_records, timeout_ms),
            SyncsReader::Target => admin::fetch(max_records, timeout_ms),
        }
    }
}
