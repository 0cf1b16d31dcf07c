//! The source role (MirrorSourceConnector and its tasks): finds the source topics to mirror,
//! creates and keeps their target topics in step (partition count, configs), reads the owned
//! partitions through the remote-cluster capability and hands the fetched batches to the worker
//! renamed in place, and writes offset syncs from what the worker reports as written. With
//! `batch.passthrough.enabled` it reads the source's stored record batches instead of records,
//! and the worker appends them to the target unchanged.

use std::collections::{BTreeMap, HashMap};

use weft_batch::BatchWriter;
use weft_plugin_sdk::{admin, log, remote, task, ErrorKind, PluginError, Result, SourcePosition};
use weft_plugin_sdk::{TopicPartition, TopicPartitionOffset};

use crate::config::{owns, Settings, SyncsLocation};
use crate::formats::offset_sync_key;
use crate::gate::Gate;
use crate::rewrite::{rename, walk};
use crate::sync_rule::{SourcePartition, SyncWriter};
use crate::{json_i64, offset_json, parse_partition_json, partition_json, Out};

/// Records asked for per fetch.
const MAX_FETCH_RECORDS: u32 = 50_000;
/// How long a fetch waits for the first record: keeps an idle poll within about a second.
const FETCH_WAIT_MS: u32 = 500;
/// How often held-back offset syncs are written (MM2 does it at each offset commit).
const PROMOTE_SYNCS_MS: u64 = 10_000;
/// How often lag gauges are refreshed.
const LAG_EVERY_MS: u64 = 5_000;

/// A source topic being mirrored.
#[derive(Debug, Clone)]
struct Mirrored {
    target: String,
    partitions: u32,
}

/// The source role's state.
pub struct SourceRole {
    s: Settings,
    topics: BTreeMap<String, Mirrored>,
    /// Owned source partitions → the next offset to mirror.
    owned: BTreeMap<SourcePartition, i64>,
    /// Positions stored before this start, by partition JSON.
    stored: HashMap<String, i64>,
    syncs: SyncWriter,
    /// Holds a partition's records after its first until that record's sync exists.
    gate: Gate,
    syncs_topic: String,
    next_refresh: u64,
    next_config_sync: u64,
    next_promote: u64,
    next_lag: u64,
}

impl SourceRole {
    /// Opens the role: creates the offset-syncs topic where it can, finds topics, assigns.
    pub fn open(s: Settings, committed: &[SourcePosition], now: u64) -> Result<SourceRole> {
        let stored = committed
            .iter()
            .filter_map(|p| Some((p.partition.clone(), json_i64(&p.position, "offset")?)))
            .collect();
        let syncs_topic = s.offset_syncs_topic();
        let syncs = [internal_topic(&syncs_topic, s.offset_syncs_rf)];
        match s.syncs_location {
            SyncsLocation::Target => admin::create_topics(&syncs)?,
            // As MM2 does at start: compacted, one partition. A source cluster that cannot be
            // reached fails the open (retried); one that refuses leaves the topic to its
            // auto-create on the first sync, as before.
            SyncsLocation::Source => match remote::create_topics(&syncs) {
                Ok(()) => {}
                Err(e) if e.kind == ErrorKind::Retriable => return Err(e),
                Err(e) => log::warn(&format!(
                    "mirror: cannot create {syncs_topic} on the source cluster ({}); it is \
                     created by the first offset sync if the cluster auto-creates topics",
                    e.message
                )),
            },
        }
        let mut role = SourceRole {
            syncs: SyncWriter::new(s.offset_lag_max),
            gate: Gate::default(),
            s,
            topics: BTreeMap::new(),
            owned: BTreeMap::new(),
            stored,
            syncs_topic,
            next_refresh: 0,
            next_config_sync: 0,
            next_promote: now + PROMOTE_SYNCS_MS,
            next_lag: now,
        };
        role.refresh(now)?;
        Ok(role)
    }

    /// Finds new topics and partitions, creates their target topics, syncs configs when due,
    /// and reassigns the remote reads if the owned set changed.
    fn refresh(&mut self, now: u64) -> Result<()> {
        let names: Vec<String> = remote::list_topics()?
            .into_iter()
            .filter(|t| self.s.should_replicate_topic(t))
            .collect();
        let described = if names.is_empty() {
            Vec::new()
        } else {
            remote::describe_topics(&names)?
        };
        let sync_configs = self
            .s
            .sync_topic_configs_ms
            .is_some_and(|_| now >= self.next_config_sync);
        let mut creates = Vec::new();
        let mut grown = Vec::new();
        for d in &described {
            let config: Vec<(String, String)> = d
                .config
                .iter()
                .filter(|e| !self.s.config_exclude.matches(&e.key))
                .map(|e| (e.key.clone(), e.value.clone()))
                .collect();
            match self.topics.get(&d.name) {
                None => {
                    let target = self.s.target_topic(&d.name);
                    creates.push(admin::NewTopic {
                        name: target.clone(),
                        partitions: d.partitions,
                        replication_factor: self.s.replication_factor,
                        config: if self.s.sync_topic_configs_ms.is_some() {
                            config.clone()
                        } else {
                            Vec::new()
                        },
                    });
                    self.topics.insert(
                        d.name.clone(),
                        Mirrored {
                            target,
                            partitions: d.partitions,
                        },
                    );
                }
                Some(m) if m.partitions < d.partitions => {
                    grown.push((m.target.clone(), d.partitions));
                }
                Some(_) => {}
            }
            if let Some(m) = self.topics.get_mut(&d.name) {
                m.partitions = m.partitions.max(d.partitions);
                if sync_configs && !config.is_empty() {
                    admin::alter_topic_configs(&m.target, &config)?;
                }
            }
        }
        if !creates.is_empty() {
            log::info(&format!(
                "mirror {}->{}: creating {} target topic(s)",
                self.s.source_alias,
                self.s.target_alias,
                creates.len()
            ));
            admin::create_topics(&creates)?;
        }
        for (target, total) in grown {
            admin::create_partitions(&target, total)?;
        }
        if sync_configs {
            self.next_config_sync = now + self.s.sync_topic_configs_ms.unwrap_or(u64::MAX / 2);
        }
        self.next_refresh = match self.s.refresh_topics_ms {
            Some(ms) => now + ms,
            None => u64::MAX,
        };
        self.reassign()
    }

    /// Owns the partitions this task's hash picks, each from its stored position (or the
    /// earliest offset), and tells the host to read exactly those.
    fn reassign(&mut self) -> Result<()> {
        let (index, count) = (self.s.task_index, self.s.task_count);
        let wanted: Vec<SourcePartition> = self
            .topics
            .iter()
            .flat_map(|(t, m)| (0..m.partitions as i32).map(move |p| (t.clone(), p)))
            .filter(|(t, p)| owns(t, *p, index, count))
            .collect();
        let new: Vec<SourcePartition> = wanted
            .iter()
            .filter(|tp| !self.owned.contains_key(*tp))
            .cloned()
            .collect();
        let dropped: Vec<SourcePartition> = self
            .owned
            .keys()
            .filter(|tp| !wanted.contains(tp))
            .cloned()
            .collect();
        if new.is_empty() && dropped.is_empty() {
            return Ok(());
        }
        for tp in &dropped {
            self.owned.remove(tp);
            self.syncs.forget(tp);
            self.gate.remove(tp);
        }
        if !new.is_empty() {
            let alias = self.s.source_alias.clone();
            let texts: Vec<String> = new
                .iter()
                .map(|(t, p)| partition_json(&alias, t, *p))
                .filter(|j| !self.stored.contains_key(j))
                .collect();
            if !texts.is_empty() {
                for p in task::stored_positions(&texts) {
                    if let Some(o) = json_i64(&p.position, "offset") {
                        self.stored.insert(p.partition, o);
                    }
                }
            }
            let tps: Vec<TopicPartition> = new
                .iter()
                .map(|(t, p)| TopicPartition {
                    topic: t.clone(),
                    partition: *p,
                })
                .collect();
            let marks: HashMap<SourcePartition, remote::Watermarks> = remote::list_offsets(&tps)?
                .into_iter()
                .map(|(tp, w)| ((tp.topic, tp.partition), w))
                .collect();
            for tp in new {
                let stored = self
                    .stored
                    .get(&partition_json(&alias, &tp.0, tp.1))
                    .copied();
                let earliest = marks.get(&tp).map_or(0, |w| w.earliest);
                // A stored position older than the log (retention removed it) resumes at the
                // earliest record, as MM2's consumer does (auto.offset.reset=earliest).
                let start = stored.map_or(earliest, |s| s.max(earliest));
                self.gate.add(tp.clone());
                self.owned.insert(tp, start);
            }
        }
        self.assign()
    }

    /// Tells the host to read the owned partitions that are not awaiting a first report.
    fn assign(&self) -> Result<()> {
        let assignment: Vec<TopicPartitionOffset> = self
            .owned
            .iter()
            .filter(|(tp, _)| self.gate.readable(tp))
            .map(|((t, p), o)| TopicPartitionOffset {
                topic: t.clone(),
                partition: *p,
                offset: *o,
            })
            .collect();
        remote::assign(&assignment)
    }

    /// The worker stored positions: nothing to release (the remote reads are the host's).
    pub fn committed(&mut self, _now: u64) {}

    /// Fetches, renames, and reports positions; writes due offset syncs.
    pub fn poll(&mut self, now: u64) -> Result<Out> {
        if now >= self.next_refresh {
            if let Err(e) = self.refresh(now) {
                // Keep mirroring what is known; try again at the next poll after a short wait.
                log::warn(&format!(
                    "mirror {}->{}: topic refresh failed: {}",
                    self.s.source_alias, self.s.target_alias, e.message
                ));
                self.next_refresh = now + 5_000;
                if e.kind == weft_plugin_sdk::ErrorKind::Fatal {
                    return Err(e);
                }
            }
        }
        let mut rejoin = self.note_written();
        rejoin |= self.gate.expire(now);
        if now >= self.next_promote {
            self.syncs.promote_delayed();
            self.next_promote = now + PROMOTE_SYNCS_MS;
        }
        let extra = self.write_syncs(now)?;
        if now >= self.next_lag {
            self.next_lag = now + LAG_EVERY_MS;
            self.report_lag();
        }
        if rejoin {
            self.assign()?;
        }
        if !self.owned.keys().any(|tp| self.gate.readable(tp)) {
            // Nothing assigned (no topics yet, or every partition awaits its first report).
            return self.output(weft_batch::BatchWriter::new().finish().map_err(enc)?, extra);
        }
        let wait = if extra.is_some() { 0 } else { FETCH_WAIT_MS };
        let mut fetched = if self.s.batch_passthrough {
            remote::fetch_batches(MAX_FETCH_RECORDS, wait)?
        } else {
            remote::fetch(MAX_FETCH_RECORDS, wait)?
        };
        let mut started = false;
        if !self.gate.all_synced() {
            let f = self
                .gate
                .filter(&fetched, now)
                .map_err(|e| PluginError::fatal(e.to_string()))?;
            fetched = f.batch;
            started = f.started;
        }
        let out = self.output(fetched, extra)?;
        if started {
            // The partitions that just sent their first record leave the assignment until the
            // worker reports where that record went.
            self.assign()?;
        }
        Ok(out)
    }

    /// Renames `fetched`, appends `extra`, and computes the positions.
    fn output(&mut self, fetched: Vec<u8>, extra: Option<Vec<u8>>) -> Result<Out> {
        let w = walk(&fetched).map_err(|e| PluginError::fatal(e.to_string()))?;
        let reader_topics: Vec<String> = weft_batch::BatchReader::new(&fetched)
            .map_err(|e| PluginError::fatal(format!("fetched batch is malformed: {e}")))?
            .topics()
            .iter()
            .map(|t| t.to_string())
            .collect();
        let names: Vec<String> = reader_topics
            .iter()
            .map(|t| match self.topics.get(t) {
                Some(m) => m.target.clone(),
                None => self.s.target_topic(t),
            })
            .collect();
        for r in &w.runs {
            let tp = (reader_topics[r.topic_index as usize].clone(), r.partition);
            self.syncs.mirrored(&tp, r.start, r.len);
        }
        let mut positions = Vec::with_capacity(w.reached.len());
        for r in &w.reached {
            let topic = &reader_topics[r.topic_index as usize];
            let tp = (topic.clone(), r.partition);
            if let Some(next) = self.owned.get_mut(&tp) {
                *next = (*next).max(r.next_offset);
            }
            positions.push((
                r.after_records,
                SourcePosition {
                    partition: partition_json(&self.s.source_alias, topic, r.partition),
                    position: offset_json(r.next_offset),
                },
            ));
        }
        if w.mirrored > 0 {
            weft_plugin_sdk::log::counter_add("mirror.records", w.mirrored);
        }
        let batch = if w.records == 0 && extra.is_none() {
            fetched
        } else {
            rename(fetched, &names, extra.as_deref())
                .map_err(|e| PluginError::fatal(e.to_string()))?
        };
        Ok(Out { batch, positions })
    }

    /// Feeds what the worker wrote to the offset-sync rule; true if a partition that awaited
    /// its first report may be read again.
    fn note_written(&mut self) -> bool {
        let mut rejoin = false;
        for w in task::written_positions() {
            let Some((_, topic, partition)) = parse_partition_json(&w.position.partition) else {
                continue;
            };
            let Some(next) = json_i64(&w.position.position, "offset") else {
                continue;
            };
            if !self.owned.contains_key(&(topic.clone(), partition)) {
                continue;
            }
            let tp = (topic, partition);
            rejoin |= self.gate.reported(&tp);
            self.syncs.written(tp, next - 1, w.offset);
        }
        rejoin
    }

    /// Writes the due offset syncs: to the source cluster now, or (location=target) returns them
    /// as records for this poll's batch.
    fn write_syncs(&mut self, now: u64) -> Result<Option<Vec<u8>>> {
        let pending = self.syncs.take_pending();
        if pending.is_empty() {
            return Ok(None);
        }
        let mut w = BatchWriter::with_capacity(pending.len() * 64 + 64);
        for ((topic, partition), sync) in &pending {
            w.push(
                &self.syncs_topic,
                Some(0),
                Some(now as i64),
                None,
                Some(&offset_sync_key(topic, *partition)),
                Some(&sync.value()),
                [],
            )
            .map_err(enc)?;
        }
        let batch = w.finish().map_err(enc)?;
        let n = pending.len() as u64;
        match self.s.syncs_location {
            SyncsLocation::Target => {
                log::counter_add("mirror.offset-syncs", n);
                Ok(Some(batch))
            }
            SyncsLocation::Source => match remote::produce(&batch) {
                Ok(failures) if failures.is_empty() => {
                    log::counter_add("mirror.offset-syncs", n);
                    Ok(None)
                }
                Ok(failures) => {
                    log::warn(&format!(
                        "mirror: {} offset sync(s) refused by the source cluster: {}",
                        failures.len(),
                        failures[0].error.message
                    ));
                    self.syncs.restore(pending);
                    Ok(None)
                }
                Err(e) if e.kind == weft_plugin_sdk::ErrorKind::Retriable => {
                    log::warn(&format!(
                        "mirror: writing offset syncs failed: {}",
                        e.message
                    ));
                    self.syncs.restore(pending);
                    Ok(None)
                }
                Err(e) => Err(e),
            },
        }
    }

    /// Gauges `mirror.lag.<topic>.<partition>`: the source's latest offset minus the next
    /// offset to mirror.
    fn report_lag(&mut self) {
        let tps: Vec<TopicPartition> = self
            .owned
            .keys()
            .map(|(t, p)| TopicPartition {
                topic: t.clone(),
                partition: *p,
            })
            .collect();
        if tps.is_empty() {
            return;
        }
        let Ok(marks) = remote::list_offsets(&tps) else {
            return;
        };
        let mut total = 0i64;
        for (tp, w) in marks {
            if let Some(next) = self.owned.get(&(tp.topic.clone(), tp.partition)) {
                let lag = (w.latest - next).max(0);
                total += lag;
                log::gauge_set(
                    &format!("mirror.lag.{}.{}", tp.topic, tp.partition),
                    lag as f64,
                );
            }
        }
        log::gauge_set("mirror.lag", total as f64);
    }
}

/// A compacted, one-partition internal topic, as MM2 creates its own.
pub fn internal_topic(name: &str, replication_factor: i16) -> admin::NewTopic {
    admin::NewTopic {
        name: name.to_string(),
        partitions: 1,
        replication_factor,
        config: vec![("cleanup.policy".into(), "compact".into())],
    }
}

fn enc(e: weft_batch::EncodeError) -> PluginError {
    PluginError::fatal(format!("cannot pack records: {e}"))
}
