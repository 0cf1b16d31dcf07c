//! Worker and connector configuration: files in `.properties`, TOML, YAML or JSON (the JSON
//! body of a REST create request too), Kafka's class names mapped to Weft's built-in
//! components, and the validated forms the herder and the tasks work from.
//!
//! The types below are the contract between the config side (parsing, aliases, validation)
//! and the herder and tasks, which only read them.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

pub mod aliases;
pub mod connector;
pub mod defs;
pub mod error;
pub mod exactly_once;
pub mod files;
pub mod properties;
pub mod worker;

pub use aliases::PASSTHROUGH_HEADER_CONVERTER;
pub use defs::{connector_config_defs, validate_connector_config};
pub use error::{ConfigError, KeyError};
pub use exactly_once::{SourceExactlyOnce, TransactionBoundary, WorkerExactlyOnce};
pub use files::{read_config_file, ConfigFile, ConfigFileError, Format};

/// A component reference and the config it is given: a built-in name (`json`,
/// `insert-field`), `name@version`, or a `.wasm` path, as the runtime's registry resolves it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PluginRef {
    /// What the registry resolves.
    pub plugin: String,
    /// The entries the component receives (prefix already stripped), including the sandbox
    /// and capability keys the runtime's `PluginConfig` splits off.
    pub config: Vec<(String, String)>,
}

/// Which topics a sink reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TopicSelection {
    /// A source connector (no `topics`).
    None,
    /// `topics`.
    List(Vec<String>),
    /// `topics.regex`.
    Regex(String),
}

/// A built-in predicate (`predicates.<name>.type`), evaluated by the worker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Predicate {
    /// `TopicNameMatches` with `pattern`.
    TopicNameMatches(String),
    /// `HasHeaderKey` with `name`.
    HasHeaderKey(String),
    /// `RecordIsTombstone`.
    RecordIsTombstone,
}

/// One entry of `transforms`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransformSpec {
    /// The alias in `transforms=a,b`.
    pub alias: String,
    /// The component and its `transforms.<alias>.*` keys.
    pub component: PluginRef,
    /// `transforms.<alias>.predicate`, resolved.
    pub predicate: Option<Predicate>,
    /// `transforms.<alias>.negate`.
    pub negate: bool,
}

/// `errors.*`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorPolicy {
    /// `errors.tolerance=all` (else `none`).
    pub tolerate_all: bool,
    /// `errors.retry.timeout` (0: no retries; `None`: retry forever, Connect's -1).
    pub retry_timeout: Option<Duration>,
    /// `errors.retry.delay.max.ms`.
    pub retry_delay_max: Duration,
    /// `errors.log.enable`.
    pub log_enable: bool,
    /// `errors.log.include.messages`.
    pub log_include_messages: bool,
    /// `errors.deadletterqueue.topic.name` (sinks only, as in Connect).
    pub dlq_topic: Option<String>,
    /// `errors.deadletterqueue.topic.replication.factor`.
    pub dlq_replication_factor: i16,
    /// `errors.deadletterqueue.context.headers.enable`.
    pub dlq_context_headers: bool,
}

impl Default for ErrorPolicy {
    fn default() -> Self {
        ErrorPolicy {
            tolerate_all: false,
            retry_timeout: Some(Duration::ZERO),
            retry_delay_max: Duration::from_millis(60_000),
            log_enable: false,
            log_include_messages: false,
            dlq_topic: None,
            dlq_replication_factor: 3,
            dlq_context_headers: false,
        }
    }
}

/// A connector config after validation: what the herder starts tasks from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectorSpec {
    /// `name`.
    pub name: String,
    /// `connector.class`, resolved to a component, with the keys the connector receives
    /// (every key that is not Connect's own).
    pub connector: PluginRef,
    /// `tasks.max`.
    pub tasks_max: u32,
    /// `topics` / `topics.regex`.
    pub topics: TopicSelection,
    /// `key.converter` (+ `key.converter.*`); `None`: the worker's.
    pub key_converter: Option<PluginRef>,
    /// `value.converter`; `None`: the worker's.
    pub value_converter: Option<PluginRef>,
    /// `header.converter`; `None`: the worker's.
    pub header_converter: Option<PluginRef>,
    /// `transforms`, in order.
    pub transforms: Vec<TransformSpec>,
    /// `errors.*`.
    pub errors: ErrorPolicy,
    /// `weft.restart.failed.*`: Weft's automatic restart of what failed (off by default, as
    /// Connect has none).
    pub restart: crate::auto_restart::RestartPolicy,
    /// `producer.override.*`, `consumer.override.*`, `admin.override.*` (prefix stripped),
    /// already checked against the worker's `connector.client.config.override.policy`.
    pub producer_overrides: BTreeMap<String, String>,
    pub consumer_overrides: BTreeMap<String, String>,
    pub admin_overrides: BTreeMap<String, String>,
    /// `exactly.once.support`, `transaction.boundary`, ...: present when the worker runs this
    /// source connector's tasks in transactions (KIP-618).
    pub exactly_once: Option<SourceExactlyOnce>,
    /// The config as given, for `GET /connectors/{c}/config`.
    pub raw: BTreeMap<String, String>,
}

/// `connector.client.config.override.policy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OverridePolicy {
    /// `None`: no overrides allowed.
    None,
    /// `Principal`: only `sasl.jaas.config`, `security.protocol`, `sasl.mechanism`.
    Principal,
    /// `All` (Connect's default since 3.0).
    All,
}

/// A worker config after validation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkerConfig {
    /// `bootstrap.servers`.
    pub bootstrap_servers: String,
    /// `key.converter` (+ `key.converter.schemas.enable` ...).
    pub key_converter: PluginRef,
    /// `value.converter`.
    pub value_converter: PluginRef,
    /// `header.converter` ([`PASSTHROUGH_HEADER_CONVERTER`] for Connect's
    /// `SimpleHeaderConverter`, `StringConverter` and `ByteArrayConverter`: header bytes pass
    /// through unchanged).
    pub header_converter: PluginRef,
    /// `offset.storage.file.filename`.
    pub offset_file: PathBuf,
    /// `offset.flush.interval.ms`.
    pub offset_flush_interval: Duration,
    /// `listeners` / `rest.host.name` + `rest.port`: addresses the REST API binds.
    pub rest_listeners: Vec<String>,
    /// `plugin.path`: directories searched for `.wasm` components (jar paths are ignored with
    /// a note).
    pub plugin_path: Vec<PathBuf>,
    /// `producer.*`, `consumer.*`, `admin.*` (prefix stripped).
    pub producer: BTreeMap<String, String>,
    pub consumer: BTreeMap<String, String>,
    pub admin: BTreeMap<String, String>,
    /// `connector.client.config.override.policy`.
    pub override_policy: OverridePolicy,
    /// `task.shutdown.graceful.timeout.ms`.
    pub task_shutdown_timeout: Duration,
    /// `exactly.once.source.support` and the offsets topic it commits positions to.
    pub exactly_once: WorkerExactlyOnce,
    /// Weft's sandbox defaults for every connector (`plugin.memory.max.bytes`,
    /// `plugin.call.timeout.ms`, ...), overridable per connector.
    pub sandbox: BTreeMap<String, String>,
    /// Where REST-created connectors are persisted in standalone mode (Weft's addition:
    /// `weft.connect.state.dir`, default beside the offsets file).
    pub state_dir: PathBuf,
    /// The directory relative paths were resolved against (the process's working directory
    /// for a worker file), and that the file connectors' `file` is resolved against.
    pub work_dir: PathBuf,
    /// Keys that were not recognised (reported at start-up, not fatal).
    pub unknown_keys: Vec<String>,
    /// Notes for the log (a `plugin.path` jar that was ignored, ...).
    pub notes: Vec<String>,
}

/// A config map from key/value pairs, for the config modules' tests.
#[cfg(test)]
pub(crate) fn test_map(pairs: &[(&str, &str)]) -> crate::model::ConfigMap {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[cfg(test)]
mod quickstart_tests;
