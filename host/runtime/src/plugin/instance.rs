//! The instance lifecycle: create a store, configure (or reopen) the plugin, run calls under the
//! deadline, and drop the store on failure so the next call starts a fresh, configured one.

use std::sync::Arc;
use std::time::Instant;

use wasmtime::Store;
use weft_batch::Record;

use super::connector::Opened;
use super::data::InstanceStats;
use super::store::{arm, classify, new_store, trap_kind};
use super::task::{PositionReader, TaskLink, TaskRequest, WrittenReader};
use super::wit::{plugin_error, wit_entries};
use super::world::{plugin_iface, World};
use super::{ConfigIssue, LoadedPlugin, PluginKind};
use crate::config::{Grants, PluginConfig, Sandbox};
use crate::error::{Result, RuntimeError};
use crate::host::{HostState, Metrics};

impl LoadedPlugin {
    /// Checks the grants and creates a configured instance.
    pub fn instantiate(self: &Arc<Self>, config: &PluginConfig) -> Result<Instance> {
        let sandbox = config.sandbox()?;
        let grants = config.grants()?;
        self.check_grants(&grants)?;
        let mut inst = Instance {
            plugin: self.clone(),
            id: Arc::from(self.id()),
            entries: config.plugin_entries(),
            sandbox,
            grants,
            metrics: Metrics::default(),
            live: None,
            restarts: 0,
            opened: None,
            task: Arc::default(),
            stats: InstanceStats::default(),
        };
        inst.ensure_live()?;
        Ok(inst)
    }
}

pub(super) struct Live {
    pub(super) store: Store<HostState>,
    pub(super) world: World,
}

/// One sandboxed instance of a plugin with its config applied.
///
/// A trap, deadline overrun or limit hit fails only the call in progress: the store is dropped
/// and the next call instantiates a fresh one and configures it (a connector whose task was
/// open is opened again at the positions committed since), or fails with the reason it could not.
pub struct Instance {
    pub(super) plugin: Arc<LoadedPlugin>,
    /// `name@version`, computed once: errors name the plugin without formatting per call.
    pub(super) id: Arc<str>,
    pub(super) entries: Vec<(String, String)>,
    pub(super) sandbox: Sandbox,
    pub(super) grants: Grants,
    pub(super) metrics: Metrics,
    pub(super) live: Option<Live>,
    pub(super) restarts: u64,
    /// A connector task's open state: set by a successful `open`, advanced by commits.
    pub(super) opened: Option<Opened>,
    /// Task-context requests and the stored-positions reader, shared with the live store.
    pub(super) task: Arc<TaskLink>,
    /// Calls, time and records so far (memory and restarts are filled in by `stats`).
    pub(super) stats: InstanceStats,
}

impl std::fmt::Debug for Instance {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Instance")
            .field("plugin", &self.id)
            .field("live", &self.live.is_some())
            .field("restarts", &self.restarts)
            .finish_non_exhaustive()
    }
}

impl Instance {
    /// The plugin this is an instance of.
    pub fn plugin(&self) -> &Arc<LoadedPlugin> {
        &self.plugin
    }

    /// Metrics the plugin reported (kept across restarts).
    pub fn metrics(&self) -> Metrics {
        self.metrics.clone()
    }

    /// How many times the instance was dropped after a failure.
    pub fn restarts(&self) -> u64 {
        self.restarts
    }

    /// Calls, time inside the component, records, memory in use and restarts, for a worker's
    /// status (kept across restarts of the instance).
    pub fn stats(&self) -> InstanceStats {
        InstanceStats {
            memory_bytes: self.memory_bytes(),
            restarts: self.restarts,
            ..self.stats
        }
    }

    /// The `task-context` requests the plugin made since the last call of this, in order
    /// (at most 1024 are kept between drains; the worker drains after every call).
    pub fn take_task_requests(&mut self) -> Vec<TaskRequest> {
        self.task.take()
    }

    /// Installs what answers the plugin's `stored-positions` (without one it finds nothing).
    pub fn set_position_reader(&mut self, reader: PositionReader) {
        if let Ok(mut r) = self.task.reader.lock() {
            *r = Some(reader);
        }
    }

    /// Installs what answers the plugin's `written-positions` (without one it finds nothing).
    pub fn set_written_reader(&mut self, reader: WrittenReader) {
        if let Ok(mut r) = self.task.written.lock() {
            *r = Some(reader);
        }
    }

    /// Bytes of linear memory the live instance holds, all its memories together (0 if none
    /// is live): what the memory cap is checked against.
    pub fn memory_bytes(&self) -> usize {
        self.live
            .as_ref()
            .map_or(0, |l| l.store.data().limiter.memory_bytes())
    }

    pub(super) fn ensure_live(&mut self) -> Result<&mut Live> {
        if self.live.is_none() {
            let id = self.plugin.id();
            let pre = self
                .plugin
                .pre
                .as_ref()
                .ok_or_else(|| RuntimeError::Instantiate {
                    plugin: id.clone(),
                    message: "capability imports cannot be linked".into(),
                })?;
            let mut store = new_store(
                &self.plugin.runtime,
                &id,
                &self.grants,
                &self.sandbox,
                self.metrics.clone(),
                self.task.clone(),
            )?;
            let world = match pre.instantiate(&mut store) {
                Ok(w) => w,
                Err(e) => return Err(classify(&id, &self.sandbox, store.data(), e)),
            };
            let mut live = Live { store, world };
            // Connectors get their config through `open` (again, if their task was open before
            // this instance failed); the other kinds through `configure`.
            if matches!(
                self.plugin.kind,
                PluginKind::SourceConnector | PluginKind::SinkConnector
            ) {
                self.reopen(&mut live)?;
            } else {
                let entries = wit_entries(&self.entries);
                let r = plugin_iface!(&live.world, live.store, |p| p
                    .call_configure(&mut live.store, &entries));
                match r {
                    Ok(Ok(())) => {}
                    Ok(Err(e)) => return Err(plugin_error(&id, e)),
                    Err(e) => return Err(classify(&id, &self.sandbox, live.store.data(), e)),
                }
            }
            self.live = Some(live);
        }
        match self.live.as_mut() {
            Some(l) => Ok(l),
            None => Err(RuntimeError::Instantiate {
                plugin: self.plugin.id(),
                message: "instance vanished".into(),
            }),
        }
    }

    /// Runs one export call under the deadline; any failure drops the instance.
    pub(super) fn call<R>(
        &mut self,
        f: impl FnOnce(&mut Store<HostState>, &World) -> wasmtime::Result<R>,
    ) -> Result<R> {
        let runtime = self.plugin.runtime.clone();
        let sandbox = self.sandbox.clone();
        let id = self.id.clone();
        let live = self.ensure_live()?;
        arm(&mut live.store, &runtime, &sandbox);
        let started = Instant::now();
        let r = f(&mut live.store, &live.world);
        let inside = started
            .elapsed()
            .saturating_sub(live.store.data().host_wait);
        let r = r.map_err(|e| {
            let unreachable = matches!(
                e.downcast_ref::<wasmtime::Trap>(),
                Some(wasmtime::Trap::UnreachableCodeReached)
            );
            let e = classify(&id, &sandbox, live.store.data(), e);
            let kind = trap_kind(&e, unreachable);
            (e, kind)
        });
        self.stats.calls += 1;
        self.stats.wasm_nanos = self
            .stats
            .wasm_nanos
            .saturating_add(u64::try_from(inside.as_nanos()).unwrap_or(u64::MAX));
        r.map_err(|(e, kind)| {
            self.live = None;
            self.restarts += 1;
            self.stats.traps.count(kind);
            e
        })
    }

    /// Counts records handed to or returned by a data call.
    pub(super) fn count_records(&mut self, n: usize) {
        self.stats.records = self.stats.records.saturating_add(n as u64);
    }

    pub(super) fn wrong_kind(&self, expected: PluginKind) -> RuntimeError {
        RuntimeError::WrongKind {
            plugin: self.plugin.id(),
            expected: expected.as_str(),
            actual: self.plugin.kind.as_str(),
        }
    }

    /// Asks the plugin to check a config.
    pub fn validate(&mut self, config: &PluginConfig) -> Result<Vec<ConfigIssue>> {
        let entries = wit_entries(&config.plugin_entries());
        let issues = self
            .call(|store, w| plugin_iface!(w, store, |p| p.call_validate(&mut *store, &entries)))?;
        Ok(issues
            .into_iter()
            .map(|i| ConfigIssue {
                key: i.key,
                message: i.message,
            })
            .collect())
    }

    /// Calls `close` and drops the instance.
    pub fn close(&mut self) -> Result<()> {
        // A closed task is not reopened by a later call.
        self.opened = None;
        if self.live.is_some() {
            self.call(|store, w| plugin_iface!(w, store, |p| p.call_close(&mut *store)))?;
        }
        self.live = None;
        Ok(())
    }

    /// Decodes a batch a plugin returned; malformed bytes are the plugin's fault, not a trap.
    pub fn decode_output(&self, bytes: &[u8]) -> Result<Vec<Record>> {
        weft_batch::decode(bytes).map_err(|e| RuntimeError::BadOutput {
            plugin: self.plugin.id(),
            message: e.to_string(),
        })
    }
}
