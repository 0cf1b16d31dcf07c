//! Per-store host state: the empty WASI context, the resource limiter, and the `host` import
//! (logging and metrics) that every plugin gets.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use wasmtime::component::ResourceTable;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use crate::bindings::base::weft::plugin::host;
use crate::config::{Grants, Sandbox};
use crate::limits::Limiter;

/// Severity of a plugin log line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum LogLevel {
    /// Very detailed.
    Trace,
    /// Debugging.
    Debug,
    /// Normal.
    Info,
    /// Suspicious.
    Warn,
    /// Failure.
    Error,
}

/// Receives plugin log lines: `(plugin name, level, message)`.
pub type LogSink = Arc<dyn Fn(&str, LogLevel, &str) + Send + Sync>;

/// The default sink: forwards to `tracing` under target `weft::plugin`.
pub fn tracing_sink() -> LogSink {
    Arc::new(|plugin, level, message| match level {
        LogLevel::Trace => tracing::trace!(target: "weft::plugin", plugin, "{message}"),
        LogLevel::Debug => tracing::debug!(target: "weft::plugin", plugin, "{message}"),
        LogLevel::Info => tracing::info!(target: "weft::plugin", plugin, "{message}"),
        LogLevel::Warn => tracing::warn!(target: "weft::plugin", plugin, "{message}"),
        LogLevel::Error => tracing::error!(target: "weft::plugin", plugin, "{message}"),
    })
}

/// A metric a plugin reported.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum MetricValue {
    /// Sum of `counter-add` calls.
    Counter(u64),
    /// Last `gauge-set` value.
    Gauge(f64),
}

/// Metrics of one plugin instance (kept across instance restarts).
pub type Metrics = Arc<Mutex<BTreeMap<String, MetricValue>>>;

/// Data of one store (one plugin instance).
pub(crate) struct HostState {
    pub(crate) plugin: Arc<str>,
    wasi: WasiCtx,
    table: ResourceTable,
    pub(crate) limiter: Limiter,
    pub(crate) log: LogSink,
    pub(crate) metrics: Metrics,
    /// Last error-level message the plugin logged; the SDK logs panic messages this way.
    pub(crate) last_error: Option<String>,
}

/// A clock that always reads zero: the guest gets no time source unless granted.
struct FrozenClock;

impl wasmtime_wasi::HostWallClock for FrozenClock {
    fn resolution(&self) -> Duration {
        Duration::from_secs(1)
    }
    fn now(&self) -> Duration {
        Duration::ZERO
    }
}

impl wasmtime_wasi::HostMonotonicClock for FrozenClock {
    fn resolution(&self) -> u64 {
        1_000_000_000
    }
    fn now(&self) -> u64 {
        0
    }
}

impl HostState {
    pub(crate) fn new(
        plugin: Arc<str>,
        grants: &Grants,
        sandbox: &Sandbox,
        log: LogSink,
        metrics: Metrics,
    ) -> Result<Self, String> {
        // No args, env, stdio or preopens, and sockets deny every address: the defaults of an
        // empty builder. Rust's std on wasip2 imports these interfaces even when unused.
        let mut b = WasiCtx::builder();
        if !grants.clock {
            b.wall_clock(FrozenClock);
            b.monotonic_clock(FrozenClock);
        }
        if let Some(dir) = &grants.filesystem_dir {
            b.preopened_dir(dir, "/", wasmtime_wasi::FsPerms::ReadWrite)
                .map_err(|e| format!("cannot preopen {}: {e}", dir.display()))?;
        }
        Ok(HostState {
            plugin,
            wasi: b.build(),
            table: ResourceTable::new(),
            limiter: Limiter::new(sandbox),
            log,
            metrics,
            last_error: None,
        })
    }
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl host::Host for HostState {
    fn log(&mut self, level: host::Level, message: String) {
        let level = match level {
            host::Level::Trace => LogLevel::Trace,
            host::Level::Debug => LogLevel::Debug,
            host::Level::Info => LogLevel::Info,
            host::Level::Warn => LogLevel::Warn,
            host::Level::Error => LogLevel::Error,
        };
        // Bound what a plugin can make the host keep or print.
        let message: String = message.chars().take(4096).collect();
        if level == LogLevel::Error {
            self.last_error = Some(message.clone());
        }
        (self.log)(&self.plugin, level, &message);
    }

    fn counter_add(&mut self, name: String, delta: u64) {
        if let Ok(mut m) = self.metrics.lock() {
            let len = m.len();
            match m.get_mut(&name) {
                Some(MetricValue::Counter(c)) => *c = c.saturating_add(delta),
                Some(other) => *other = MetricValue::Counter(delta),
                // Bound the number of series a plugin can create.
                None if len < 1000 => {
                    m.insert(name, MetricValue::Counter(delta));
                }
                None => {}
            }
        }
    }

    fn gauge_set(&mut self, name: String, value: f64) {
        if let Ok(mut m) = self.metrics.lock() {
            if m.len() < 1000 || m.contains_key(&name) {
                m.insert(name, MetricValue::Gauge(value));
            }
        }
    }
}
