//! Types shared by the REST API, the `weft connect` CLI and the herder, serialised exactly as
//! Kafka Connect's REST API writes them (field names, state names, nesting).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// A connector's config as Connect keeps it: every key and value as text.
pub type ConfigMap = BTreeMap<String, String>;

/// Source or sink, as Connect's `type` field writes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ConnectorType {
    Source,
    Sink,
    /// The connector's component could not be loaded (yet), so its kind is unknown.
    Unknown,
}

/// The state a user asked a connector to be in (Connect's target state; KIP-980's
/// `initial_state` on create).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum TargetState {
    Running,
    Paused,
    Stopped,
}

/// The state a connector or task is in, as `/status` reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum State {
    Unassigned,
    Running,
    Paused,
    Stopped,
    Failed,
    Restarting,
}

/// A task's identity, `{"connector": "name", "task": 0}`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct TaskId {
    pub connector: String,
    pub task: u32,
}

/// `GET /connectors/{c}` and the body of a create/update answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConnectorInfo {
    pub name: String,
    pub config: ConfigMap,
    pub tasks: Vec<TaskId>,
    #[serde(rename = "type")]
    pub kind: ConnectorType,
}

/// The connector half of a status: `{"state": "RUNNING", "worker_id": "host:8083"}`, with
/// `trace` when FAILED.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConnectorState {
    pub state: State,
    pub worker_id: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub trace: Option<String>,
}

/// Weft's per-task figures, beyond what Connect reports (a field Connect clients ignore).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TaskMetrics {
    /// Records polled (source) or put (sink) since the task started.
    pub records_total: u64,
    /// Records per second over the last few seconds.
    pub records_per_second: f64,
    /// Records that failed (sent to the DLQ or skipped under `errors.tolerance=all`).
    pub errors_total: u64,
    /// Records written to the dead-letter queue.
    pub dlq_records_total: u64,
    /// Mean nanoseconds spent inside the component per record.
    pub wasm_ns_per_record: f64,
    /// Linear memory the task's component instance holds, in bytes.
    pub plugin_memory_bytes: u64,
    /// Records the cluster acknowledged (source tasks).
    #[serde(default)]
    pub records_produced_total: u64,
    /// Calls into the task's components that trapped, by kind (each instance was made again).
    #[serde(skip)]
    pub traps: weft_runtime::TrapCounts,
    /// The task's offset commits and how long each took (Prometheus only).
    #[serde(skip)]
    pub offset_commit_seconds: weft_metrics::LatencyBuckets,
    /// What the task's connector component counted with `counter-add`, by the name it chose.
    #[serde(skip_serializing_if = "BTreeMap::is_empty", default)]
    pub plugin_counters: BTreeMap<String, u64>,
    /// What the task's connector component last set with `gauge-set`, by the name it chose.
    #[serde(skip_serializing_if = "BTreeMap::is_empty", default)]
    pub plugin_gauges: BTreeMap<String, f64>,
}

/// One task's status: `{"id": 0, "state": "RUNNING", "worker_id": "..."}`, with `trace` when
/// FAILED and Weft's `metrics`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskStatus {
    pub id: u32,
    pub state: State,
    pub worker_id: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub trace: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub metrics: Option<TaskMetrics>,
}

/// `GET /connectors/{c}/status` (and the 202 body of a restart with tasks).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConnectorStatus {
    pub name: String,
    pub connector: ConnectorState,
    pub tasks: Vec<TaskStatus>,
    #[serde(rename = "type")]
    pub kind: ConnectorType,
}

/// One entry of `GET /connectors/{c}/tasks`: `{"id": {...}, "config": {...}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskInfo {
    pub id: TaskId,
    pub config: ConfigMap,
}

/// One entry of the KIP-875 offsets body: `{"partition": {...}, "offset": {...}}`. For a sink,
/// partition is `{"kafka_topic": t, "kafka_partition": p}` and offset `{"kafka_offset": o}`; for
/// a source, the connector's own source partition and position, which Weft's connectors write
/// as JSON objects (a position string that is not a JSON object appears as a JSON string).
/// `offset` null in a PATCH body resets that partition.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConnectorOffset {
    pub partition: serde_json::Value,
    pub offset: serde_json::Value,
}

/// `GET /connectors/{c}/offsets` and the body of `PATCH`: `{"offsets": [...]}`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ConnectorOffsets {
    pub offsets: Vec<ConnectorOffset>,
}

/// One entry of `GET /connector-plugins`: `{"class": ..., "type": ..., "version": ...}`.
/// `type` is `source`, `sink`, `transformation`, `predicate` or `converter`
/// (`header_converter` too), as Connect writes them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PluginDescription {
    #[serde(rename = "class")]
    pub class: String,
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub version: Option<String>,
}

/// A config key's definition, as `GET /connector-plugins/{p}/config` lists it and as the
/// `definition` half of a validation entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConfigKeyInfo {
    pub name: String,
    /// Connect's type names: `BOOLEAN`, `INT`, `LONG`, `DOUBLE`, `STRING`, `LIST`, `PASSWORD`,
    /// `CLASS`.
    #[serde(rename = "type")]
    pub kind: String,
    pub required: bool,
    pub default_value: Option<String>,
    /// `HIGH`, `MEDIUM` or `LOW`.
    pub importance: String,
    pub documentation: String,
    pub group: Option<String>,
    /// `NONE`, `SHORT`, `MEDIUM` or `LONG`.
    pub width: String,
    pub display_name: String,
    pub dependents: Vec<String>,
    pub order: i32,
}

/// The `value` half of a validation entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConfigValueInfo {
    pub name: String,
    pub value: Option<String>,
    pub recommended_values: Vec<String>,
    pub errors: Vec<String>,
    pub visible: bool,
}

/// One entry of a validation result's `configs`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConfigInfo {
    pub definition: ConfigKeyInfo,
    pub value: ConfigValueInfo,
}

/// `PUT /connector-plugins/{p}/config/validate`, and the body of a 400 for an invalid config.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConfigInfos {
    pub name: String,
    pub error_count: u32,
    pub groups: Vec<String>,
    pub configs: Vec<ConfigInfo>,
}

impl ConfigInfos {
    /// Every validation error as `key: error`, for a message that names the keys.
    pub fn problems(&self) -> Vec<String> {
        self.configs
            .iter()
            .flat_map(|c| {
                c.value
                    .errors
                    .iter()
                    .map(move |e| format!("{}: {e}", c.value.name))
            })
            .collect()
    }
}

/// `GET /`: `{"version": ..., "commit": ..., "kafka_cluster_id": ...}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServerInfo {
    pub version: String,
    pub commit: String,
    pub kafka_cluster_id: String,
}
