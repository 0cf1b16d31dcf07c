//! The component calls a task makes, in the shapes the delivery loops work with: one call per
//! batch, per-record failures, schemas per batch, timing per call. This is the only file that
//! knows the runtime's method names, so a change of the contract stays here.

use std::sync::Arc;
use std::time::{Duration, Instant};

use weft_runtime::{
    Instance, LoadedPlugin, PluginConfig, PluginKind, Record, Registry, RuntimeError,
};

use crate::config::PluginRef;

/// A batch's key and value schemas (Connect's JSON schema text; `None`: schemaless).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Schemas {
    pub key: Option<String>,
    pub value: Option<String>,
}

/// One record that failed on its own, by its index in the batch the call received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub index: u32,
    pub retriable: bool,
    pub message: String,
}

/// A source position reached by a poll, storable once the first `after_records` records of
/// the poll (and every earlier poll's) are done.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Position {
    pub after_records: u32,
    pub partition: String,
    pub position: String,
}

/// What a poll returned.
#[derive(Debug, Default)]
pub struct Polled {
    pub records: Vec<Record>,
    pub positions: Vec<Position>,
    pub schemas: Schemas,
}

/// What a transform or a converter returned.
#[derive(Debug, Default)]
pub struct Converted {
    pub records: Vec<Record>,
    pub failures: Vec<Failure>,
    pub schemas: Schemas,
}

/// A request a connector task made of the worker through its task context.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ContextRequest {
    Pause(Vec<(String, i32)>),
    Resume(Vec<(String, i32)>),
    Rewind(Vec<(String, i32, i64)>),
    RequestCommit,
    RequestReconfiguration,
}

/// Time spent inside one component and what it holds.
#[derive(Debug, Clone, Copy, Default)]
pub struct CallStats {
    pub calls: u64,
    pub wasm: Duration,
}

/// One instance of a component with its config applied, and its call statistics.
#[derive(Debug)]
pub struct Component {
    inst: Instance,
    label: String,
    stats: CallStats,
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
        stats: CallStats::default(),
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

    /// Calls made and time spent inside the component so far.
    pub fn stats(&self) -> CallStats {
        self.stats
    }

    /// Linear memory the live instance holds.
    pub fn memory_bytes(&self) -> u64 {
        self.inst.memory_bytes() as u64
    }

    fn timed<T>(&mut self, f: impl FnOnce(&mut Instance) -> T) -> T {
        let start = Instant::now();
        let r = f(&mut self.inst);
        self.stats.calls += 1;
        self.stats.wasm += start.elapsed();
        r
    }

    /// Requests the task made through its task context during the last call.
    pub fn take_requests(&mut self) -> Vec<ContextRequest> {
        Vec::new()
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
        let (records, positions) = self.timed(|i| i.source_poll())?;
        let n = records.len() as u32;
        Ok(Polled {
            records,
            positions: positions
                .into_iter()
                .map(|(partition, position)| Position {
                    after_records: n,
                    partition,
                    position,
                })
                .collect(),
            schemas: Schemas::default(),
        })
    }

    /// Source: these positions are stored.
    pub fn source_commit(&mut self, positions: &[(String, String)]) -> Result<(), RuntimeError> {
        self.timed(|i| i.source_commit(positions))
    }

    /// Sink: starts the task.
    pub fn sink_open(&mut self) -> Result<(), RuntimeError> {
        self.timed(|i| i.sink_open(&[]))
    }

    /// Sink: these partitions are now the task's, from these offsets.
    pub fn sink_assign(&mut self, assigned: &[(String, i32, i64)]) -> Result<(), RuntimeError> {
        self.timed(|i| i.sink_open(assigned))
    }

    /// Sink: these partitions are no longer the task's.
    pub fn sink_revoke(&mut self, _revoked: &[(String, i32)]) -> Result<(), RuntimeError> {
        Ok(())
    }

    /// Sink: delivers records; returns the ones that failed on their own.
    pub fn sink_put(
        &mut self,
        records: &[Record],
        _schemas: &Schemas,
    ) -> Result<Vec<Failure>, RuntimeError> {
        self.timed(|i| i.sink_put(records))?;
        Ok(Vec::new())
    }

    /// Sink: the offsets safe to commit of those given.
    pub fn sink_pre_commit(
        &mut self,
        offsets: &[(String, i32, i64)],
    ) -> Result<Vec<(String, i32, i64)>, RuntimeError> {
        self.timed(|i| i.sink_flush(offsets))?;
        Ok(offsets.to_vec())
    }

    /// Transform: a batch in the Connect value encoding.
    pub fn transform(
        &mut self,
        records: &[Record],
        schemas: &Schemas,
    ) -> Result<Converted, RuntimeError> {
        let out = self.timed(|i| i.transform(records))?;
        Ok(Converted {
            records: out,
            failures: Vec::new(),
            schemas: schemas.clone(),
        })
    }

    /// Converter: Connect values to the bytes to produce.
    pub fn from_connect(
        &mut self,
        records: &[Record],
        schemas: &Schemas,
    ) -> Result<Converted, RuntimeError> {
        Ok(Converted {
            records: records.to_vec(),
            failures: Vec::new(),
            schemas: schemas.clone(),
        })
    }

    /// Converter: consumed bytes to Connect values.
    pub fn to_connect(&mut self, records: &[Record]) -> Result<Converted, RuntimeError> {
        Ok(Converted {
            records: records.to_vec(),
            failures: Vec::new(),
            schemas: Schemas::default(),
        })
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
pub fn retry_after(_e: &RuntimeError) -> Option<Duration> {
    None
}
