//! Connector tasks: each runs its delivery loop on its own OS thread (never on the async
//! workers that serve the broker or the REST API), controlled through a [`TaskControl`] and
//! reporting through a [`TaskReport`]. A source task with transforms runs them and its
//! converters on a second thread of its own.
//!
//! - [`source`] — poll → transforms → converters → produce → acknowledgements → positions.
//! - [`sink`] — consume → converters → transforms → put → pre-commit → commit.
//! - [`chain`] — the transforms with their predicates, and the converters, over one batch.
//! - [`stage_thread`] — a source task's transforms and converters on their own thread, pipelined
//!   with the task.
//! - [`batch`] — that batch, packed as the runtime carries it, read in place between stages.
//! - [`acks`] — which source positions may be stored, from per-record acknowledgements.
//! - [`component`] — the component calls, in the loops' shapes.
//! - [`clients`] — the rdkafka clients, configured as Connect configures them.
//! - [`transaction`] — a source task's transactions in exactly-once mode.

pub mod acks;
pub mod batch;
pub mod chain;
pub mod clients;
pub mod component;
pub mod fetch_queue;
pub mod passthrough;
pub mod sink;
pub mod source;
pub mod stage_thread;
pub mod transaction;

use std::collections::BTreeSet;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use weft_metrics::LatencyBuckets;
use weft_runtime::Registry;

use self::component::Usage;

use crate::config::{ConnectorSpec, WorkerConfig};
use crate::errors::{Interrupt, TaskFailure};
use crate::model::{State, TaskMetrics};
use crate::offsets::FileStore;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Task state stays consistent across a panic (every field is written whole), so a poisoned
    // lock is still usable.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// What the worker asks a running task to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    Run,
    Pause,
    Stop,
}

/// The worker's handle on a task's loop: target state and an interruptible wait.
#[derive(Debug)]
pub struct TaskControl {
    target: Mutex<Target>,
    cv: Condvar,
}

impl TaskControl {
    pub fn new(target: Target) -> Arc<TaskControl> {
        Arc::new(TaskControl {
            target: Mutex::new(target),
            cv: Condvar::new(),
        })
    }

    pub fn set(&self, t: Target) {
        *lock(&self.target) = t;
        self.cv.notify_all();
    }

    pub fn target(&self) -> Target {
        *lock(&self.target)
    }

    pub fn stopping(&self) -> bool {
        self.target() == Target::Stop
    }

    /// Blocks while paused; returns the target that ended the wait (Run or Stop), or Pause
    /// after `timeout` so the caller can keep its clients alive.
    pub fn wait_unpaused(&self, timeout: Duration) -> Target {
        let g = lock(&self.target);
        let (g, _) = self
            .cv
            .wait_timeout_while(g, timeout, |t| *t == Target::Pause)
            .unwrap_or_else(|p| p.into_inner());
        *g
    }
}

impl Interrupt for TaskControl {
    fn pause_for(&self, d: Duration) -> bool {
        let g = lock(&self.target);
        let (g, _) = self
            .cv
            .wait_timeout_while(g, d, |t| *t != Target::Stop)
            .unwrap_or_else(|p| p.into_inner());
        *g == Target::Stop
    }
}

/// What a task reports: its state, its failure trace, its figures.
#[derive(Debug, Default)]
pub struct TaskReport {
    inner: Mutex<ReportInner>,
}

#[derive(Debug)]
struct ReportInner {
    state: State,
    trace: Option<String>,
    metrics: TaskMetrics,
}

impl Default for ReportInner {
    fn default() -> Self {
        ReportInner {
            state: State::Unassigned,
            trace: None,
            metrics: TaskMetrics::default(),
        }
    }
}

impl TaskReport {
    pub fn set_state(&self, state: State) {
        let mut g = lock(&self.inner);
        g.state = state;
        if state != State::Failed {
            g.trace = None;
        }
    }

    pub fn fail(&self, f: &TaskFailure) {
        let mut g = lock(&self.inner);
        g.state = State::Failed;
        g.trace = Some(f.trace.clone());
    }

    pub fn state(&self) -> (State, Option<String>) {
        let g = lock(&self.inner);
        (g.state, g.trace.clone())
    }

    pub fn metrics(&self) -> TaskMetrics {
        lock(&self.inner).metrics.clone()
    }

    fn set_metrics(&self, m: TaskMetrics) {
        lock(&self.inner).metrics = m;
    }
}

/// What a loop publishes besides its record count.
pub(crate) struct Figures<'a> {
    /// Records that failed (DLQ or skipped).
    pub errors: u64,
    /// Records written to the dead-letter queue.
    pub dlq: u64,
    /// Records the cluster acknowledged (source).
    pub produced: u64,
    /// The task's components together.
    pub usage: Usage,
    /// The task's offset commits.
    pub commits: &'a LatencyBuckets,
    /// What the connector component reported about itself.
    pub reported: component::Reported,
}

/// Running figures a loop keeps and publishes to its [`TaskReport`] about once a second.
#[derive(Debug)]
pub(crate) struct Meter {
    records: u64,
    window_start: Instant,
    window_records: u64,
    rate: f64,
}

impl Meter {
    pub(crate) fn new() -> Meter {
        Meter {
            records: 0,
            window_start: Instant::now(),
            window_records: 0,
            rate: 0.0,
        }
    }

    pub(crate) fn add(&mut self, n: usize) {
        self.records += n as u64;
        self.window_records += n as u64;
    }

    /// Publishes when a second has passed (or `force`).
    pub(crate) fn publish(&mut self, report: &TaskReport, force: bool, f: Figures<'_>) {
        let el = self.window_start.elapsed();
        if !force && el < Duration::from_secs(1) {
            return;
        }
        if el >= Duration::from_millis(200) {
            self.rate = self.window_records as f64 / el.as_secs_f64();
            self.window_records = 0;
            self.window_start = Instant::now();
        }
        report.set_metrics(TaskMetrics {
            records_total: self.records,
            records_per_second: self.rate,
            errors_total: f.errors,
            dlq_records_total: f.dlq,
            wasm_ns_per_record: if self.records == 0 {
                0.0
            } else {
                f.usage.wasm.as_nanos() as f64 / self.records as f64
            },
            plugin_memory_bytes: f.usage.memory,
            records_produced_total: f.produced,
            traps: f.usage.traps,
            offset_commit_seconds: *f.commits,
            plugin_counters: f.reported.counters,
            plugin_gauges: f.reported.gauges,
        });
    }
}

/// Everything a task needs from the worker.
#[derive(Clone)]
pub struct TaskEnv {
    pub worker: Arc<WorkerConfig>,
    pub spec: Arc<ConnectorSpec>,
    pub task: u32,
    /// The task's config, from the connector's `task-configs`.
    pub task_config: Vec<(String, String)>,
    pub registry: Arc<Registry>,
    pub store: Arc<FileStore>,
    pub control: Arc<TaskControl>,
    pub report: Arc<TaskReport>,
    /// Topics the connector used since the last reset (shared by its tasks).
    pub active_topics: Arc<Mutex<BTreeSet<String>>>,
    /// The worker's sandbox defaults, given to every component first.
    pub sandbox_defaults: Vec<(String, String)>,
    /// Raised by a task's `request-reconfiguration` (shared by the connector's tasks); the
    /// herder's supervisor takes it.
    pub reconfigure: Arc<std::sync::atomic::AtomicBool>,
}

impl TaskEnv {
    /// Records a topic as used by the connector.
    pub(crate) fn topic_used(&self, topic: &str) {
        let mut g = lock(&self.active_topics);
        if !g.contains(topic) {
            g.insert(topic.to_string());
        }
    }

    /// The task's component: the connector's sandbox and capability keys, then the entries
    /// `task-configs` returned for this task.
    pub(crate) fn task_plugin_ref(&self) -> crate::config::PluginRef {
        let mut config: Vec<(String, String)> = self
            .spec
            .connector
            .config
            .iter()
            .filter(|(k, _)| k.starts_with("plugin.") || k.starts_with("capability."))
            .cloned()
            .collect();
        config.extend(self.task_config.iter().cloned());
        crate::config::PluginRef {
            plugin: self.spec.connector.plugin.clone(),
            config,
        }
    }

    /// Passes a task-context request the herder serves (reconfiguration) on; true if it was one.
    pub(crate) fn herder_request(&self, r: &component::ContextRequest) -> bool {
        if matches!(r, component::ContextRequest::Reconfigure) {
            self.reconfigure
                .store(true, std::sync::atomic::Ordering::Release);
            return true;
        }
        false
    }

    pub(crate) fn client_id(&self) -> String {
        format!("connector-{}-{}", self.spec.name, self.task)
    }
}

/// The failure a task reports when a worker-side step fails.
pub(crate) fn worker_failure(what: impl Into<String>) -> TaskFailure {
    TaskFailure::new(None, "worker", what)
}
