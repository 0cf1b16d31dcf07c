//! Flow status for `weft mirror-maker`: a monitor thread per flow measures what a user asks
//! first — per source partition, the source's end offset against the next offset the flow will
//! read (its lag), whether the source cluster answers, and when the last checkpoint landed on
//! the target — and [`flow_status`] joins that with the connectors' live states and rates. The
//! same JSON is served at `GET /flows` and printed by `weft mirror-maker status`.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use serde::{Deserialize, Serialize};
use weft_connect::api::Herder;
use weft_connect::herder::StandaloneHerder;

use super::mm2::Flow;
use super::translate::checkpoints_topic;

/// How often a monitor measures.
const INTERVAL: Duration = Duration::from_secs(2);
/// The first and the longest wait before a FAILED connector or task is restarted.
const RESTART_BACKOFF_MIN: Duration = Duration::from_secs(1);
const RESTART_BACKOFF_MAX: Duration = Duration::from_secs(60);
/// The longest one watermark request may take (a dead cluster must not stall the monitor).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(3);

/// One source partition of a flow.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct PartitionLag {
    pub topic: String,
    pub partition: i32,
    /// The source partition's end offset (high watermark).
    pub source_end: i64,
    /// The next source offset the flow will copy (its committed position).
    pub next_offset: i64,
    pub lag: i64,
}

/// One connector of a flow.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ConnectorSummary {
    pub name: String,
    pub state: String,
    pub tasks: Vec<TaskSummary>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TaskSummary {
    pub id: u32,
    pub state: String,
    pub records_total: u64,
    pub records_per_second: f64,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub trace: Option<String>,
}

/// `GET /flows` entry.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct FlowStatus {
    pub flow: String,
    pub source: String,
    pub target: String,
    /// Whether the source cluster answered the monitor's last request.
    pub source_reachable: bool,
    /// Why it did not.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub source_error: Option<String>,
    /// Records per second the flow's source connector copies.
    pub records_per_second: f64,
    /// Records copied since the process started.
    pub records_total: u64,
    /// Sum of the partitions' lag.
    pub lag: i64,
    pub partitions: Vec<PartitionLag>,
    /// When the checkpoints topic on the target last grew (ms since the epoch), while this
    /// process has watched it.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub last_checkpoint_ms: Option<i64>,
    /// The checkpoints topic's end offset on the target.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub checkpoints_end: Option<i64>,
    /// How often the monitor restarted the flow's FAILED connectors or tasks.
    #[serde(default)]
    pub restarts: u64,
    pub connectors: Vec<ConnectorSummary>,
}

/// What a monitor measured last.
#[derive(Debug, Default, Clone)]
struct Measured {
    source_reachable: bool,
    source_error: Option<String>,
    partitions: Vec<PartitionLag>,
    last_checkpoint_ms: Option<i64>,
    checkpoints_end: Option<i64>,
    measured_once: bool,
    restarts: u64,
}

/// A flow's monitor thread and its last measurement.
pub struct Monitor {
    flow: Flow,
    herder: Arc<StandaloneHerder>,
    measured: Arc<Mutex<Measured>>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

fn client(bootstrap: &str, props: &BTreeMap<String, String>) -> ClientConfig {
    let mut c = ClientConfig::new();
    for (k, v) in props {
        // Only settings librdkafka knows survive; the others would fail the client's creation.
        if !k.starts_with("producer.") && !k.starts_with("consumer.") && !k.starts_with("admin.") {
            c.set(k, v);
        }
    }
    c.set("bootstrap.servers", bootstrap)
        .set("group.id", "weft-mirror-maker-monitor")
        .set("enable.auto.commit", "false")
        .set("socket.timeout.ms", "3000")
        .set("log_level", "3");
    c
}

/// The source positions a source connector committed: (topic, partition) → next offset.
fn committed_positions(herder: &StandaloneHerder, connector: &str) -> BTreeMap<(String, i32), i64> {
    let mut out = BTreeMap::new();
    let Ok(offsets) = herder.offsets(connector) else {
        return out;
    };
    for o in offsets.offsets {
        let topic = o.partition.get("topic").and_then(|t| t.as_str());
        let partition = o.partition.get("partition").and_then(|p| p.as_i64());
        let offset = o.offset.get("offset").and_then(|p| p.as_i64());
        if let (Some(t), Some(p), Some(off)) = (topic, partition, offset) {
            if let Ok(p) = i32::try_from(p) {
                out.insert((t.to_string(), p), off);
            }
        }
    }
    out
}

impl Monitor {
    /// Starts measuring `flow`, which runs on `herder`, with `target_client` settings for the
    /// target cluster.
    pub fn start(
        flow: Flow,
        herder: Arc<StandaloneHerder>,
        target_bootstrap: &str,
        target_client: &BTreeMap<String, String>,
    ) -> Monitor {
        let measured = Arc::new(Mutex::new(Measured::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let source_cfg = client(&flow.source_bootstrap, &flow.source_client);
        let target_cfg = client(target_bootstrap, target_client);
        let (f, h, m, s) = (flow.clone(), herder.clone(), measured.clone(), stop.clone());
        let thread = std::thread::Builder::new()
            .name(format!("mirror-monitor-{}", flow.name()))
            .spawn(move || monitor_loop(f, h, m, s, source_cfg, target_cfg))
            .ok();
        Monitor {
            flow,
            herder,
            measured,
            stop,
            thread,
        }
    }

    /// The flow's status now.
    pub fn status(&self) -> FlowStatus {
        let m = self.measured.lock().map(|m| m.clone()).unwrap_or_default();
        let mut connectors = Vec::new();
        let mut rate = 0.0;
        let mut total = 0;
        for (i, c) in self.flow.connectors.iter().enumerate() {
            let name = c.get("name").cloned().unwrap_or_default();
            let (state, tasks) = match self.herder.connector_status(&name) {
                Ok(st) => (
                    state_name(&st.connector.state),
                    st.tasks
                        .iter()
                        .map(|t| {
                            let (records_total, records_per_second) = t
                                .metrics
                                .as_ref()
                                .map(|m| (m.records_total, m.records_per_second))
                                .unwrap_or((0, 0.0));
                            TaskSummary {
                                id: t.id,
                                state: state_name(&t.state),
                                records_total,
                                records_per_second,
                                trace: t.trace.clone(),
                            }
                        })
                        .collect::<Vec<_>>(),
                ),
                Err(e) => (format!("UNKNOWN ({e})"), Vec::new()),
            };
            // The source connector (the first) is the one that copies records.
            if i == 0 {
                rate = tasks.iter().map(|t| t.records_per_second).sum();
                total = tasks.iter().map(|t| t.records_total).sum();
            }
            connectors.push(ConnectorSummary { name, state, tasks });
        }
        FlowStatus {
            flow: self.flow.name(),
            source: self.flow.source.clone(),
            target: self.flow.target.clone(),
            source_reachable: m.source_reachable,
            source_error: if m.measured_once {
                m.source_error
            } else {
                Some("not measured yet".into())
            },
            records_per_second: rate,
            records_total: total,
            lag: m.partitions.iter().map(|p| p.lag.max(0)).sum(),
            partitions: m.partitions,
            last_checkpoint_ms: m.last_checkpoint_ms,
            checkpoints_end: m.checkpoints_end,
            restarts: m.restarts,
            connectors,
        }
    }

    /// Stops the monitor thread.
    pub fn stop(mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn state_name<T: Serialize>(s: &T) -> String {
    serde_json::to_value(s)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

fn monitor_loop(
    flow: Flow,
    herder: Arc<StandaloneHerder>,
    measured: Arc<Mutex<Measured>>,
    stop: Arc<AtomicBool>,
    source_cfg: ClientConfig,
    target_cfg: ClientConfig,
) {
    let source_name = flow
        .connectors
        .first()
        .and_then(|c| c.get("name").cloned())
        .unwrap_or_default();
    let checkpoints = checkpoints_topic(&flow.source);
    let source: Option<BaseConsumer> = source_cfg.create().ok();
    let target: Option<BaseConsumer> = target_cfg.create().ok();
    let names: Vec<String> = flow
        .connectors
        .iter()
        .filter_map(|c| c.get("name").cloned())
        .collect();
    let mut backoff = RESTART_BACKOFF_MIN;
    let mut next_restart = std::time::Instant::now();
    while !stop.load(Ordering::Relaxed) {
        // The worker does not restart FAILED tasks itself; a flow whose source went away must
        // come back on its own, so restart what failed, backing off while it keeps failing.
        let failed: Vec<&String> = names
            .iter()
            .filter(|n| {
                herder.connector_status(n).is_ok_and(|st| {
                    st.connector.state == weft_connect::model::State::Failed
                        || st
                            .tasks
                            .iter()
                            .any(|t| t.state == weft_connect::model::State::Failed)
                })
            })
            .collect();
        if failed.is_empty() {
            backoff = RESTART_BACKOFF_MIN;
        } else if std::time::Instant::now() >= next_restart {
            for n in &failed {
                tracing::warn!(connector = %n, retry_in = ?backoff, "restarting a failed mirror connector");
                if let Err(e) = herder.restart_connector(n, true, true) {
                    tracing::warn!(connector = %n, "restart failed: {e}");
                }
            }
            if let Ok(mut m) = measured.lock() {
                m.restarts += 1;
            }
            next_restart = std::time::Instant::now() + backoff;
            backoff = (backoff * 2).min(RESTART_BACKOFF_MAX);
        }
        let positions = committed_positions(&herder, &source_name);
        let mut partitions = Vec::new();
        let mut source_error = None;
        match &source {
            None => source_error = Some("cannot create a client for the source cluster".into()),
            Some(c) => {
                // Metadata first: it fails fast when the cluster is down, and it is what tells
                // "unreachable" from "no partitions yet".
                if let Err(e) = c.fetch_metadata(None, REQUEST_TIMEOUT) {
                    source_error = Some(format!("source cluster {}: {e}", flow.source));
                } else {
                    for ((topic, partition), next) in &positions {
                        if stop.load(Ordering::Relaxed) {
                            return;
                        }
                        match c.fetch_watermarks(topic, *partition, REQUEST_TIMEOUT) {
                            Ok((_, high)) => partitions.push(PartitionLag {
                                topic: topic.clone(),
                                partition: *partition,
                                source_end: high,
                                next_offset: *next,
                                lag: high - next,
                            }),
                            Err(e) => {
                                source_error = Some(format!("source cluster {}: {e}", flow.source));
                                break;
                            }
                        }
                    }
                }
            }
        }
        let checkpoints_end = target.as_ref().and_then(|c| {
            c.fetch_watermarks(&checkpoints, 0, REQUEST_TIMEOUT)
                .ok()
                .map(|(_, h)| h)
        });
        if let Ok(mut m) = measured.lock() {
            // Checkpoints written before this process watched have no known time.
            match (checkpoints_end, m.checkpoints_end) {
                (Some(new), Some(old)) if new > old => m.last_checkpoint_ms = Some(now_ms()),
                (Some(new), None) if new > 0 && m.measured_once => {
                    m.last_checkpoint_ms = Some(now_ms())
                }
                _ => {}
            }
            if checkpoints_end.is_some() {
                m.checkpoints_end = checkpoints_end;
            }
            m.source_reachable = source_error.is_none();
            m.source_error = source_error;
            if m.source_reachable {
                m.partitions = partitions;
            }
            m.measured_once = true;
        }
        let until = std::time::Instant::now() + INTERVAL;
        while std::time::Instant::now() < until && !stop.load(Ordering::Relaxed) {
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

/// Prints flows as `weft mirror-maker status` shows them.
pub fn print(flows: &[FlowStatus]) {
    for (i, f) in flows.iter().enumerate() {
        if i > 0 {
            println!();
        }
        let reach = if f.source_reachable {
            "source reachable".to_string()
        } else {
            format!(
                "SOURCE UNREACHABLE: {}",
                f.source_error.as_deref().unwrap_or("")
            )
        };
        let checkpoint = match f.last_checkpoint_ms {
            Some(ms) => format!("{:.1}s ago", (now_ms() - ms) as f64 / 1000.0),
            None => "none seen".into(),
        };
        println!(
            "{}: {:.0} records/s, {} copied, lag {}, last checkpoint {checkpoint}, {reach}, {} restarts",
            f.flow, f.records_per_second, f.records_total, f.lag, f.restarts
        );
        for c in &f.connectors {
            let tasks: Vec<String> = c
                .tasks
                .iter()
                .map(|t| format!("task {} {}", t.id, t.state))
                .collect();
            println!("  {}: {} ({})", c.name, c.state, tasks.join(", "));
            for t in c.tasks.iter().filter_map(|t| t.trace.as_deref()) {
                println!("    {}", t.lines().next().unwrap_or_default());
            }
        }
        if !f.partitions.is_empty() {
            println!("  TOPIC\tPARTITION\tSOURCE-END\tNEXT-OFFSET\tLAG");
            for p in &f.partitions {
                println!(
                    "  {}\t{}\t{}\t{}\t{}",
                    p.topic, p.partition, p.source_end, p.next_offset, p.lag
                );
            }
        }
    }
}
