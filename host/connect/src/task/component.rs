//! The component calls a task makes, in the shapes the delivery loops work with: one call per
//! batch, per-record failures, schemas per batch, timing per call. This is the only file that
//! knows the runtime's method names, so a change of the contract stays here.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use weft_runtime::{
    Instance, LoadedPlugin, PluginConfig, PluginKind, Registry, RuntimeError, TrapCounts,
};

use super::batch::Batch;

use crate::config::PluginRef;

pub use weft_runtime::{PackedOutput as Converted, RecordFailure as Failure, Schemas};

/// A source position reached by a poll, storable once the first `after_records` records of
/// the poll (and every earlier poll's) are done.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Position {
    pub after_records: u32,
    pub partition: String,
    pub position: String,
}

/// What a poll returned.
#[derive(Debug)]
pub struct Polled {
    pub records: Batch,
    pub positions: Vec<Position>,
    pub schemas: Schemas,
}

/// A request a connector task made of the worker through its task context.
pub use weft_runtime::TaskRequest as ContextRequest;

/// What components cost a task: time inside them, memory they hold, calls that trapped.
#[derive(Debug, Clone, Copy, Default)]
pub struct Usage {
    pub wasm: Duration,
    pub memory: u64,
    pub traps: TrapCounts,
}

impl std::ops::Add for Usage {
    type Output = Usage;

    fn add(self, o: Usage) -> Usage {
        Usage {
            wasm: self.wasm + o.wasm,
            memory: self.memory + o.memory,
            traps: self.traps + o.traps,
        }
    }
}

impl std::iter::Sum for Usage {
    fn sum<I: Iterator<Item = Usage>>(iter: I) -> Usage {
        iter.fold(Usage::default(), |a, b| a + b)
    }
}

/// Figures a component reported about itself through the `host` interface.
#[derive(Debug, Clone, Default)]
pub struct Reported {
    pub counters: BTreeMap<String, u64>,
    pub gauges: BTreeMap<String, f64>,
}

/// One instance of a component with its config applied, and its call statistics.
#[derive(Debug)]
pub struct Component {
    inst: Instance,
    label: String,
}

/// Loads the component a [`PluginRef`] names and instantiates it with `extra` entries added
/// (the worker's sandbox defaults first, so the connector's own keys win).
pub fn instantiate(
    registry: &Registry,
    r: &PluginRef,
    defaults: &[(String, String)],
    extra: &[(&str, &str)],
) -> Result<Component, RuntimeError> {
    let plugin = registry.resolve(&r.plugin)?;
    instantiate_loaded(&plugin, r, defaults, extra)
}

/// As [`instantiate`], for a component already resolved.
pub fn instantiate_loaded(
    plugin: &Arc<LoadedPlugin>,
    r: &PluginRef,
    defaults: &[(String, String)],
    extra: &[(&str, &str)],
) -> Result<Component, RuntimeError> {
    let mut cfg = PluginConfig::new(defaults.iter().cloned());
    for (k, v) in &r.config {
        cfg.set(k.clone(), v.clone());
    }
    for (k, v) in extra {
        cfg.set(*k, *v);
    }
    let inst = plugin.instantiate(&cfg)?;
    Ok(Component {
        inst,
        label: r.plugin.clone(),
    })
}

impl Component {
    /// The name the component was loaded by.
    pub fn label(&self) -> &str {
        &self.label
    }

    /// The component's kind.
    pub fn kind(&self) -> PluginKind {
        self.inst.plugin().kind()
    }

    /// Time inside the component, its memory and its traps so far.
    pub fn usage(&self) -> Usage {
        let s = self.inst.stats();
        Usage {
            wasm: Duration::from_nanos(s.wasm_nanos),
            memory: s.memory_bytes as u64,
            traps: s.traps,
        }
    }

    /// What the component reported with `counter-add` and `gauge-set` (at most the runtime's
    /// bound of names per instance), kept across restarts of the instance.
    pub fn reported(&self) -> Reported {
        let mut r = Reported::default();
        let metrics = self.inst.metrics();
        let Ok(m) = metrics.lock() else {
            return r;
        };
        for (name, v) in m.iter() {
            match *v {
                weft_runtime::MetricValue::Counter(c) => {
                    r.counters.insert(name.clone(), c);
                }
                weft_runtime::MetricValue::Gauge(g) => {
                    r.gauges.insert(name.clone(), g);
                }
            }
        }
        r
    }

    fn timed<T>(&mut self, f: impl FnOnce(&mut Instance) -> T) -> T {
        f(&mut self.inst)
    }

    /// Requests the task made through its task context during the last call.
    pub fn take_requests(&mut self) -> Vec<ContextRequest> {
        self.inst.take_task_requests()
    }

    /// Source: answers the task's `stored-positions` from the position store.
    pub fn set_position_reader(&mut self, reader: weft_runtime::PositionReader) {
        self.inst.set_position_reader(reader);
    }

    /// Source: answers the task's `written-positions` from the acknowledgements.
    pub fn set_written_reader(&mut self, reader: weft_runtime::WrittenReader) {
        self.inst.set_written_reader(reader);
    }

    /// Source or sink: the task configs for at most `max` tasks.
    pub fn task_configs(
        &mut self,
        config: &[(String, String)],
        max: u32,
    ) -> Result<Vec<Vec<(String, String)>>, RuntimeError> {
        let cfg = PluginConfig::new(config.iter().cloned());
        match self.kind() {
            PluginKind::SinkConnector => self.timed(|i| i.sink_task_configs(&cfg, max)),
            _ => self.timed(|i| i.source_task_configs(&cfg, max)),
        }
    }

    /// Source: opens the task at its stored positions.
    pub fn source_open(&mut self, committed: &[(String, String)]) -> Result<(), RuntimeError> {
        self.timed(|i| i.source_open(committed))
    }

    /// Source: new records and the positions they reach.
    pub fn source_poll(&mut self) -> Result<Polled, RuntimeError> {
        let p = self.timed(|i| i.source_poll_batch())?;
        Ok(Polled {
            records: Batch::new(p.batch, p.count),
            positions: p
                .positions
                .into_iter()
                .map(|(after_records, (partition, position))| Position {
                    after_records,
                    partition,
                    position,
                })
                .collect(),
            schemas: p.schemas,
        })
    }

    /// Source: these positions are stored.
    pub fn source_commit(&mut self, positions: &[(String, String)]) -> Result<(), RuntimeError> {
        self.timed(|i| i.source_commit(positions))
    }

    /// Sink: starts the task with its config.
    pub fn sink_open(&mut self, task_config: &[(String, String)]) -> Result<(), RuntimeError> {
        self.timed(|i| i.sink_open(task_config))
    }

    /// Sink: these partitions are now the task's, from these offsets.
    pub fn sink_assign(&mut self, assigned: &[(String, i32, i64)]) -> Result<(), RuntimeError> {
        self.timed(|i| i.sink_assign(assigned))
    }

    /// Sink: these partitions are no longer the task's.
    pub fn sink_revoke(&mut self, revoked: &[(String, i32)]) -> Result<(), RuntimeError> {
        self.timed(|i| i.sink_revoke(revoked))
    }

    /// Sink: delivers records; returns the ones that failed on their own.
    pub fn sink_put(
        &mut self,
        records: &Batch,
        schemas: &Schemas,
    ) -> Result<Vec<Failure>, RuntimeError> {
        self.timed(|i| i.sink_put_batch(records.bytes(), records.len(), schemas))
    }

    /// Sink: the offsets safe to commit of those given.
    pub fn sink_pre_commit(
        &mut self,
        offsets: &[(String, i32, i64)],
    ) -> Result<Vec<(String, i32, i64)>, RuntimeError> {
        self.timed(|i| i.sink_pre_commit(offsets))
    }

    /// Transform: a batch in the Connect value encoding.
    pub fn transform(
        &mut self,
        records: &Batch,
        schemas: &Schemas,
    ) -> Result<Converted, RuntimeError> {
        self.timed(|i| i.transform_batch(records.bytes(), schemas))
    }

    /// Converter: Connect values to the bytes to produce.
    pub fn from_connect(
        &mut self,
        records: &Batch,
        schemas: &Schemas,
    ) -> Result<Converted, RuntimeError> {
        self.timed(|i| i.from_connect_batch(records.bytes(), schemas))
    }

    /// Converter: consumed bytes to Connect values.
    pub fn to_connect(&mut self, records: &Batch) -> Result<Converted, RuntimeError> {
        self.timed(|i| i.to_connect_batch(records.bytes()))
    }

    /// Asks the component to check a config.
    pub fn validate(
        &mut self,
        config: &[(String, String)],
    ) -> Result<Vec<(String, String)>, RuntimeError> {
        let cfg = PluginConfig::new(config.iter().cloned());
        Ok(self
            .timed(|i| i.validate(&cfg))?
            .into_iter()
            .map(|i| (i.key, i.message))
            .collect())
    }

    /// Closes the instance; errors are logged, not returned (the task is ending anyway).
    pub fn close(&mut self) {
        if let Err(e) = self.inst.close() {
            tracing::debug!(component = %self.label, error = %e, "close failed");
        }
    }
}

/// How long to wait before retrying after `e`, when the plugin said.
pub fn retry_after(e: &RuntimeError) -> Option<Duration> {
    e.retry_after()
}
