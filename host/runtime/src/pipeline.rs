//! Chains of plugins applied per batch by `weft produce`/`weft consume` (and the Connect worker).
//!
//! Produce: transforms -> serializer -> interceptors `on-send` -> partitioner. This follows the
//! Java producer, where interceptors see the record before it is partitioned, and runs the
//! serializer before interceptors so that they see (and may prefix) the wire bytes.
//! Consume: interceptors `on-consume` -> deserializer -> transforms.
//! Between stages the batch stays packed; each plugin's output is validated before the next
//! stage so that a malformed batch is blamed on the plugin that produced it.

use std::collections::BTreeMap;
use std::time::{SystemTime, UNIX_EPOCH};

use weft_batch::{BatchReader, Record};

use crate::config::PluginConfig;
use crate::error::{Result, RuntimeError};
use crate::plugin::{Instance, PluginKind, Schemas};
use crate::registry::Registry;

/// Which plugins a pipeline runs, by registry name or path, and their config.
///
/// `config` keys apply to every plugin, except keys prefixed with a plugin's name and a dot
/// (`mask-field.fields=ssn`), which apply to that plugin only, prefix removed.
#[derive(Debug, Clone, Default)]
pub struct PipelineSpec {
    /// `--partitioner` (produce only).
    pub partitioner: Option<String>,
    /// `--serializer` (produce) or `--deserializer` (consume).
    pub serializer: Option<String>,
    /// `--interceptor`, in order.
    pub interceptors: Vec<String>,
    /// `--transform`, in order.
    pub transforms: Vec<String>,
    /// `--plugin-config k=v`.
    pub config: PluginConfig,
}

impl PipelineSpec {
    /// True when no plugin is named (the CLI can then skip the pipeline entirely).
    pub fn is_empty(&self) -> bool {
        self.partitioner.is_none()
            && self.serializer.is_none()
            && self.interceptors.is_empty()
            && self.transforms.is_empty()
    }
}

struct Stages {
    transforms: Vec<Instance>,
    serializer: Option<Instance>,
    interceptors: Vec<Instance>,
    partitioner: Option<Instance>,
}

fn build(registry: &Registry, spec: &PipelineSpec, partitioner_allowed: bool) -> Result<Stages> {
    let mut specs: Vec<(&str, PluginKind)> = Vec::new();
    for t in &spec.transforms {
        specs.push((t, PluginKind::Transform));
    }
    if let Some(s) = &spec.serializer {
        specs.push((s, PluginKind::Serializer));
    }
    for i in &spec.interceptors {
        specs.push((i, PluginKind::Interceptor));
    }
    if let Some(p) = spec.partitioner.as_deref().filter(|_| partitioner_allowed) {
        specs.push((p, PluginKind::Partitioner));
    }
    let loaded = specs
        .iter()
        .map(|(s, k)| {
            let p = registry.resolve(s)?;
            p.expect_kind(*k)?;
            Ok(p)
        })
        .collect::<Result<Vec<_>>>()?;
    let names: Vec<String> = loaded.iter().map(|p| p.metadata().name.clone()).collect();
    let name_refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let mut stages = Stages {
        transforms: Vec::new(),
        serializer: None,
        interceptors: Vec::new(),
        partitioner: None,
    };
    for p in loaded {
        let config = spec.config.scoped(&p.metadata().name, &name_refs);
        let inst = p.instantiate(&config)?;
        match p.kind() {
            PluginKind::Transform => stages.transforms.push(inst),
            PluginKind::Serializer => stages.serializer = Some(inst),
            PluginKind::Interceptor => stages.interceptors.push(inst),
            _ => stages.partitioner = Some(inst),
        }
    }
    Ok(stages)
}

/// Checks a plugin's output batch and returns its record count.
fn checked(inst: &Instance, bytes: &[u8]) -> Result<usize> {
    let bad = |e: weft_batch::DecodeError| RuntimeError::BadOutput {
        plugin: inst.plugin().id(),
        message: e.to_string(),
    };
    let reader = BatchReader::new(bytes).map_err(bad)?;
    let mut n = 0;
    for r in reader.records() {
        r.map_err(bad)?;
        n += 1;
    }
    Ok(n)
}

/// Runs one transform of a schemaless pipeline. There is no dead-letter queue here, so a record
/// that fails fails the batch, naming the record.
#[allow(clippy::ptr_arg)] // the generated binding takes &Vec<u8>; a slice would force a copy
fn transform_stage(t: &mut Instance, batch: &Vec<u8>) -> Result<Vec<u8>> {
    let out = t.transform_batch(batch, &Schemas::default())?;
    if let Some(f) = out.failures.into_iter().next() {
        return Err(RuntimeError::RecordFailed {
            plugin: t.plugin().id(),
            index: f.index,
            retriable: f.retriable,
            message: f.message,
        });
    }
    Ok(out.batch)
}

fn close_all(stages: &mut Stages) -> Result<()> {
    let mut first = Ok(());
    let all = stages
        .transforms
        .iter_mut()
        .chain(stages.serializer.iter_mut())
        .chain(stages.interceptors.iter_mut())
        .chain(stages.partitioner.iter_mut());
    for inst in all {
        if let Err(e) = inst.close() {
            if first.is_ok() {
                first = Err(e);
            }
        }
    }
    first
}

/// The produce side: call [`ProducePipeline::process`] on each batch before sending it, and
/// [`ProducePipeline::acknowledge`] when the cluster answered.
pub struct ProducePipeline {
    stages: Stages,
}

impl ProducePipeline {
    /// Loads and configures the plugins `spec` names.
    pub fn new(registry: &Registry, spec: &PipelineSpec) -> Result<Self> {
        Ok(ProducePipeline {
            stages: build(registry, spec, true)?,
        })
    }

    /// True when interceptors want [`ProducePipeline::acknowledge`] calls.
    pub fn has_interceptors(&self) -> bool {
        !self.stages.interceptors.is_empty()
    }

    /// True when a partitioner plugin chooses partitions (otherwise the client's does).
    pub fn has_partitioner(&self) -> bool {
        self.stages.partitioner.is_some()
    }

    /// Runs the records through the chain. Records without a timestamp get the current time
    /// (as a producer assigns CreateTime at send). When a partitioner is configured, every
    /// record comes back with a partition (records that already had one keep it);
    /// `partition_count(topic)` gives each topic's count.
    pub fn process(
        &mut self,
        mut records: Vec<Record>,
        mut partition_count: impl FnMut(&str) -> Option<u32>,
    ) -> Result<Vec<Record>> {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0);
        for r in &mut records {
            r.timestamp.get_or_insert(now);
        }
        let mut batch = weft_batch::encode(&records)?;
        let s = &mut self.stages;
        for t in &mut s.transforms {
            batch = transform_stage(t, &batch)?;
        }
        if let Some(ser) = &mut s.serializer {
            batch = ser.serialize_batch(&batch)?;
            checked(ser, &batch)?;
        }
        for i in &mut s.interceptors {
            batch = i.on_send_batch(&batch)?;
            checked(i, &batch)?;
        }
        let mut out = weft_batch::decode(&batch)?;
        if let Some(p) = &mut s.partitioner {
            // A router transform may have spread records over several topics: partition each
            // topic's records with that topic's partition count.
            // As in Kafka, a partition set explicitly on a record wins over the partitioner.
            let mut by_topic: BTreeMap<String, Vec<usize>> = BTreeMap::new();
            for (i, r) in out
                .iter()
                .enumerate()
                .filter(|(_, r)| r.partition.is_none())
            {
                by_topic.entry(r.topic.clone()).or_default().push(i);
            }
            for (topic, idx) in by_topic {
                let count = partition_count(&topic)
                    .ok_or_else(|| RuntimeError::UnknownTopic(topic.clone()))?;
                let subset: Vec<Record> = idx.iter().map(|&i| out[i].clone()).collect();
                let parts = p.partition(count, &subset)?;
                for (&i, part) in idx.iter().zip(parts) {
                    out[i].partition = Some(part as i32);
                }
            }
        }
        Ok(out)
    }

    /// Passes the send results to the interceptors: `records` as sent (with partition and
    /// offset filled in where known), `failures` as (index into `records`, error message).
    pub fn acknowledge(&mut self, records: &[Record], failures: &[(u32, String)]) -> Result<()> {
        for i in &mut self.stages.interceptors {
            i.on_acknowledgement(records, failures)?;
        }
        Ok(())
    }

    /// Calls every plugin's `close` (interceptors log their summaries here).
    pub fn close(&mut self) -> Result<()> {
        close_all(&mut self.stages)
    }
}

/// The consume side: call [`ConsumePipeline::process`] on each batch of consumed records before
/// printing them, and [`ConsumePipeline::committed`] after committing offsets.
pub struct ConsumePipeline {
    stages: Stages,
}

impl ConsumePipeline {
    /// Loads and configures the plugins `spec` names (`partitioner` is ignored).
    pub fn new(registry: &Registry, spec: &PipelineSpec) -> Result<Self> {
        Ok(ConsumePipeline {
            stages: build(registry, spec, false)?,
        })
    }

    /// Runs consumed records through interceptors, deserializer and transforms.
    pub fn process(&mut self, records: Vec<Record>) -> Result<Vec<Record>> {
        let mut batch = weft_batch::encode(&records)?;
        let s = &mut self.stages;
        for i in &mut s.interceptors {
            batch = i.on_consume_batch(&batch)?;
            checked(i, &batch)?;
        }
        if let Some(de) = &mut s.serializer {
            batch = de.deserialize_batch(&batch)?;
            checked(de, &batch)?;
        }
        for t in &mut s.transforms {
            batch = transform_stage(t, &batch)?;
        }
        Ok(weft_batch::decode(&batch)?)
    }

    /// Tells the interceptors which offsets were committed: (topic, partition, next offset).
    pub fn committed(&mut self, offsets: &[(String, i32, i64)]) -> Result<()> {
        for i in &mut self.stages.interceptors {
            i.on_commit(offsets)?;
        }
        Ok(())
    }

    /// Calls every plugin's `close`.
    pub fn close(&mut self) -> Result<()> {
        close_all(&mut self.stages)
    }
}
