//! Per-store host state: the empty WASI context, the resource limiter, the `host` import
//! (logging and metrics) that every plugin gets, the `task-context` import of connectors, and
//! the accounting of host waits that keeps them off the plugin's call deadline.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use wasmtime::component::ResourceTable;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use crate::bindings::base::weft::plugin::{host, task_context, types};
use crate::config::{Grants, Sandbox};
use crate::epoch::StoreLease;
use crate::limits::Limiter;
use crate::plugin::task::{TaskLink, TaskRequest};

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
    /// Task-context requests and the stored-positions reader, shared with the instance.
    pub(crate) task: Arc<TaskLink>,
    /// The deadline of one call, in time spent inside the component.
    pub(crate) call_timeout: Duration,
    /// When the current call started.
    pub(crate) call_started: Instant,
    /// Time the current call spent in host waits ([`HostState::wait`]), not charged to it.
    pub(crate) host_wait: Duration,
    /// The HTTP capability's grant and settings.
    pub(crate) http_grant: crate::http::HttpGrant,
    /// The HTTP capability's client, made on first use.
    pub(crate) http: crate::http::HttpState,
    /// The `mqtt` capability's grant and connection.
    pub(crate) mqtt: crate::mqtt::MqttState,
    /// The `remote-cluster` and `local-admin` capabilities' clusters and clients.
    pub(crate) kafka: crate::kafka::KafkaState,
    /// Keeps the epoch ticker running while this store exists, so its deadlines can fire.
    _epoch: StoreLease,
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
        task: Arc<TaskLink>,
        epoch: StoreLease,
    ) -> Result<Self, String> {
        // No args, env, stdio or preopens, and sockets deny every address: the defaults of an
        // empty builder. Rust's std on wasip2 imports these interfaces even when unused.
        let mut b = WasiCtx::builder();
        // A plugin runs on its task's own thread, which its calls block anyway: filesystem calls
        // run there directly instead of on a blocking-pool thread the caller waits for (two
        // thread hand-offs per call). Stream writes (`std`'s) still hop: wasmtime-wasi always
        // spawns those, which is why the file sink writes through its descriptor.
        b.allow_blocking_current_thread(true);
        if !grants.clock {
            b.wall_clock(FrozenClock);
            b.monotonic_clock(FrozenClock);
        }
        if let Some(dir) = &grants.filesystem_dir {
            b.preopened_dir(dir, "/", wasmtime_wasi::FsPerms::ReadWrite)
                .map_err(|e| format!("cannot preopen {}: {e}", dir.display()))?;
        }
        Ok(HostState {
            wasi: b.build(),
            table: ResourceTable::new(),
            limiter: Limiter::new(sandbox),
            log,
            metrics,
            last_error: None,
            task,
            call_timeout: sandbox.call_timeout,
            call_started: Instant::now(),
            host_wait: Duration::ZERO,
            http_grant: grants.http.clone(),
            http: Default::default(),
            mqtt: crate::mqtt::MqttState::new(&grants.mqtt_urls, grants.mqtt_ca_file.clone()),
            kafka: crate::kafka::KafkaState::new(grants, &plugin),
            plugin,
            _epoch: epoch,
        })
    }

    /// Runs a host call that waits (a network round trip, a read of stored positions) without
    /// charging the wait to the plugin's call deadline.
    ///
    /// The deadline counts time inside the component only: epochs keep ticking while the host
    /// waits, but when the deadline fires, the epoch callback (`store::arm`) subtracts the
    /// waits recorded here and extends the deadline by what is left. Every capability host
    /// function that can block (MQTT `receive`/`publish`, remote-cluster `fetch`, HTTP) must
    /// run its blocking part inside `wait`. It blocks only the task's own thread: each task runs
    /// on its own thread, never on the broker's async workers.
    pub(crate) fn wait<R>(&mut self, f: impl FnOnce() -> R) -> R {
        let start = Instant::now();
        let r = f();
        self.host_wait += start.elapsed();
        r
    }

    /// Time the current call has spent inside the component so far.
    pub(crate) fn time_in_component(&self) -> Duration {
        self.call_started.elapsed().saturating_sub(self.host_wait)
    }
}

fn partitions(list: Vec<types::TopicPartition>) -> Vec<(String, i32)> {
    list.into_iter().map(|p| (p.topic, p.partition)).collect()
}

impl task_context::Host for HostState {
    fn pause(&mut self, list: Vec<types::TopicPartition>) {
        self.request(TaskRequest::Pause(partitions(list)));
    }

    fn resume(&mut self, list: Vec<types::TopicPartition>) {
        self.request(TaskRequest::Resume(partitions(list)));
    }

    fn rewind(&mut self, offsets: Vec<types::TopicPartitionOffset>) {
        let offsets = offsets
            .into_iter()
            .map(|o| (o.topic, o.partition, o.offset))
            .collect();
        self.request(TaskRequest::Rewind(offsets));
    }

    fn request_commit(&mut self) {
        self.request(TaskRequest::Commit);
    }

    fn request_reconfiguration(&mut self) {
        self.request(TaskRequest::Reconfigure);
    }

    fn stored_positions(&mut self, list: Vec<String>) -> Vec<types::SourcePosition> {
        let Some(reader) = self.task.reader() else {
            return Vec::new();
        };
        let found = self.wait(|| reader(&list));
        found
            .into_iter()
            // Only what was asked for, once each: the reader cannot make the guest take more.
            .filter(|(p, _)| list.contains(p))
            .take(list.len())
            .map(|(partition, position)| types::SourcePosition {
                partition,
                position,
            })
            .collect()
    }

    fn written_positions(&mut self) -> Vec<task_context::WrittenPosition> {
        let Some(reader) = self.task.written() else {
            return Vec::new();
        };
        self.wait(|| reader())
            .into_iter()
            .map(|w| task_context::WrittenPosition {
                position: types::SourcePosition {
                    partition: w.position.0,
                    position: w.position.1,
                },
                topic: w.topic,
                partition: w.partition,
                offset: w.offset,
            })
            .collect()
    }
}

impl HostState {
    fn request(&mut self, r: TaskRequest) {
        if !self.task.push(r) {
            let msg = "task-context request dropped: too many requests queued";
            (self.log)(&self.plugin, LogLevel::Warn, msg);
        }
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
