//! Broker configuration: Kafka's key names, layered by figment as defaults < file < `WEFT_*` env < flags.
//!
//! Every source is flattened to dotted Kafka keys (`log.retention.ms`) before it is interpreted, so TOML
//! tables, flat TOML keys, `server.properties` lines and `WEFT_LOG_RETENTION_MS` all mean the same thing.
//! Unknown keys are reported (not silently dropped); an invalid value stops start-up naming the key.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use figment::providers::{Env, Format, Serialized, Toml};
use figment::value::{Dict, Value};
use figment::Figment;

use crate::properties::PropertiesFile;
use crate::topic_config::TopicDefaults;

/// A configuration problem that stops start-up; it always names the key or file at fault.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("config key '{key}' has invalid value '{value}': {reason}")]
    Invalid {
        key: String,
        value: String,
        reason: String,
    },
    #[error("cannot load config: {0}")]
    Load(String),
    #[error("config file {0} does not exist")]
    MissingFile(PathBuf),
}

/// One listener: `NAME://host:port`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listener {
    pub name: String,
    pub host: String,
    pub port: u16,
}

impl Listener {
    /// Parses `PLAINTEXT://host:port` (host may be empty, meaning all interfaces).
    pub fn parse(s: &str) -> Result<Listener, String> {
        let (name, rest) = s
            .split_once("://")
            .ok_or_else(|| format!("'{s}' is not of the form NAME://host:port"))?;
        let (host, port) = rest
            .rsplit_once(':')
            .ok_or_else(|| format!("'{s}' has no port"))?;
        let port: u16 = port
            .parse()
            .map_err(|_| format!("'{port}' is not a port number"))?;
        let host = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_string();
        Ok(Listener {
            name: name.to_string(),
            host,
            port,
        })
    }
}

/// Where a broker setting's value came from (for DescribeConfigs and start-up reports).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    Default,
    Configured(String),
}

/// The broker's settings, resolved and validated.
#[derive(Debug, Clone)]
pub struct BrokerConfig {
    pub node_id: i32,
    pub cluster_id: Option<String>,
    pub listeners: Vec<Listener>,
    pub advertised_listeners: Vec<Listener>,
    pub log_dirs: Vec<PathBuf>,
    pub num_partitions: i32,
    pub default_replication_factor: i16,
    pub auto_create_topics_enable: bool,
    pub delete_topic_enable: bool,
    pub socket_request_max_bytes: u32,
    /// SO_SNDBUF / SO_RCVBUF set on every listener, so each accepted connection has them; `None`
    /// (-1, as in Kafka) leaves the kernel's autotuning.
    pub socket_send_buffer_bytes: Option<u32>,
    pub socket_receive_buffer_bytes: Option<u32>,
    /// A connection that reads no request and writes no response byte for this long is closed;
    /// `None` (a negative value, as in Kafka) never closes one.
    pub connections_max_idle_ms: Option<u64>,
    /// Most record bytes one Fetch response carries (requests asking for more are clamped to it).
    pub fetch_max_bytes: u32,
    pub log_retention_check_interval_ms: u64,
    pub log_cleaner_backoff_ms: u64,
    pub log_cleaner_enable: bool,
    pub log_flush_scheduler_interval_ms: u64,
    pub offsets_topic_num_partitions: i32,
    pub offsets_retention_minutes: i64,
    pub offsets_retention_check_interval_ms: u64,
    pub group_initial_rebalance_delay_ms: u64,
    pub group_min_session_timeout_ms: i32,
    pub group_max_session_timeout_ms: i32,
    pub group_max_size: i32,
    pub producer_id_expiration_ms: i64,
    pub producer_id_expiration_check_interval_ms: u64,
    /// Transaction coordinator settings (Kafka's `transaction.*` / `transactional.id.*` keys).
    pub transactions: crate::txn::TxnConfig,
    /// Where `/metrics` and `/health` are served besides the Connect REST listener (`None`: default).
    pub metrics_listener: Option<String>,
    /// Most per-partition series one scrape reports.
    pub metrics_partition_series_max: usize,
    /// Topic settings every topic starts from (the `log.*` broker keys).
    pub topic_defaults: TopicDefaults,
    /// Every known key with its effective value and source, for DescribeConfigs on the broker.
    pub effective: BTreeMap<String, (String, Source)>,
    /// Keys that were given but are unknown; reported at start-up.
    pub unknown_keys: Vec<(String, String)>,
    /// Kafka keys accepted for compatibility that have no effect on a single Weft node.
    pub inert_keys: Vec<String>,
}

/// How a broker key is typed (also its DescribeConfigs type).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyType {
    Boolean,
    String,
    Int,
    Short,
    Long,
    Double,
    List,
}

/// A broker key Weft knows: its default and a line of documentation.
pub struct KeyDef {
    pub name: &'static str,
    pub ty: KeyType,
    pub default: &'static str,
    pub doc: &'static str,
}

const fn key(name: &'static str, ty: KeyType, default: &'static str, doc: &'static str) -> KeyDef {
    KeyDef {
        name,
        ty,
        default,
        doc,
    }
}

/// Broker keys with an effect. Defaults are Kafka's, except `log.dirs` (`./weft-data`).
pub const BROKER_KEYS: &[KeyDef] = &[
    key("node.id", KeyType::Int, "1", "The id of this broker node."),
    key("broker.id", KeyType::Int, "", "Alias of node.id (ZooKeeper-era name)."),
    key("cluster.id", KeyType::String, "", "Cluster id; generated and stored in meta.properties on first start if unset."),
    key("listeners", KeyType::List, "PLAINTEXT://0.0.0.0:9092", "Comma-separated NAME://host:port addresses to listen on."),
    key("advertised.listeners", KeyType::List, "", "Addresses given to clients in metadata; defaults to listeners (a wildcard host becomes localhost)."),
    key("log.dirs", KeyType::List, "./weft-data", "Directories holding partition logs."),
    key("log.dir", KeyType::String, "", "Single log directory (used when log.dirs is not set)."),
    key("num.partitions", KeyType::Int, "1", "Partitions of auto-created topics and of topics created without a count."),
    key("default.replication.factor", KeyType::Short, "1", "Replication factor of auto-created topics."),
    key("auto.create.topics.enable", KeyType::Boolean, "true", "Create topics on first metadata request or produce."),
    key("delete.topic.enable", KeyType::Boolean, "true", "Allow DeleteTopics."),
    key("message.max.bytes", KeyType::Int, "1048588", "Largest record batch accepted (topic default for max.message.bytes)."),
    key("socket.request.max.bytes", KeyType::Int, "104857600", "Largest request frame accepted."),
    key("socket.send.buffer.bytes", KeyType::Int, "102400", "SO_SNDBUF of the listeners' connections; -1 leaves it to the OS (autotuning)."),
    key("socket.receive.buffer.bytes", KeyType::Int, "-1", "SO_RCVBUF of the listeners' connections; -1 (Weft's default; Kafka's is 102400) leaves it to the OS (autotuning), which took less broker CPU per produced record."),
    key("connections.max.idle.ms", KeyType::Long, "600000", "Close a connection that neither sends a request nor takes a response byte for this long (a client that stops reading its responses included); -1 never closes one."),
    key("fetch.max.bytes", KeyType::Int, "57671680", "Most record bytes one Fetch response returns; larger max_bytes and partition_max_bytes are clamped to it."),
    key("log.segment.bytes", KeyType::Int, "1073741824", "Segment file size before a new one is rolled."),
    key("log.roll.ms", KeyType::Long, "", "Age before a segment is rolled (overrides log.roll.hours)."),
    key("log.roll.hours", KeyType::Int, "168", "Age in hours before a segment is rolled."),
    key("log.retention.ms", KeyType::Long, "", "How long to keep data (overrides minutes and hours); -1 keeps forever."),
    key("log.retention.minutes", KeyType::Int, "", "How long to keep data in minutes (overrides hours)."),
    key("log.retention.hours", KeyType::Int, "168", "How long to keep data in hours."),
    key("log.retention.bytes", KeyType::Long, "-1", "Largest partition size before old segments are deleted; -1 unlimited."),
    key("log.retention.check.interval.ms", KeyType::Long, "300000", "How often retention is enforced."),
    key("log.cleanup.policy", KeyType::List, "delete", "delete, compact, or both."),
    key("log.cleaner.enable", KeyType::Boolean, "true", "Run the log cleaner (compaction) for compacted topics."),
    key("log.cleaner.backoff.ms", KeyType::Long, "15000", "How often compacted topics are checked for cleaning."),
    key("log.cleaner.delete.retention.ms", KeyType::Long, "86400000", "How long tombstones survive compaction."),
    key("log.cleaner.min.compaction.lag.ms", KeyType::Long, "0", "Minimum age of a record before it can be compacted."),
    key("log.cleaner.dedupe.buffer.size", KeyType::Long, "134217728", "Memory for one compaction pass's key map; a larger dirty part is cleaned over several passes."),
    key("log.index.interval.bytes", KeyType::Int, "4096", "Bytes between sparse offset index entries."),
    key("log.flush.interval.messages", KeyType::Long, "9223372036854775807", "Records appended before a forced fsync."),
    key("log.flush.interval.ms", KeyType::Long, "", "Milliseconds before a forced fsync; unset leaves it to the OS."),
    key("log.flush.scheduler.interval.ms", KeyType::Long, "1000", "How often time-based flushes are checked."),
    key("log.message.timestamp.type", KeyType::String, "CreateTime", "CreateTime or LogAppendTime."),
    key("compression.type", KeyType::String, "producer", "Topic compression; Weft keeps batches as the producer compressed them."),
    key("min.insync.replicas", KeyType::Int, "1", "Minimum in-sync replicas for acks=all (always met on one node)."),
    key("offsets.topic.num.partitions", KeyType::Int, "50", "Partitions of __consumer_offsets."),
    key("offsets.retention.minutes", KeyType::Int, "10080", "How long committed offsets of empty groups are kept."),
    key("offsets.retention.check.interval.ms", KeyType::Long, "600000", "How often expired offsets are removed."),
    key("group.initial.rebalance.delay.ms", KeyType::Int, "3000", "Delay of the first rebalance of a new group."),
    key("group.min.session.timeout.ms", KeyType::Int, "6000", "Smallest session.timeout.ms a consumer may ask for."),
    key("group.max.session.timeout.ms", KeyType::Int, "1800000", "Largest session.timeout.ms a consumer may ask for."),
    key("group.max.size", KeyType::Int, "2147483647", "Most members a consumer group may have."),
    key("producer.id.expiration.ms", KeyType::Int, "86400000", "How long a partition keeps an idle idempotent producer's state (sequence numbers) after its last write."),
    key("producer.id.expiration.check.interval.ms", KeyType::Int, "600000", "How often idle producers' state is expired."),
    key("transaction.max.timeout.ms", KeyType::Int, "900000", "Largest transaction.timeout.ms a transactional producer may ask for (larger: INVALID_TRANSACTION_TIMEOUT)."),
    key("transactional.id.expiration.ms", KeyType::Int, "604800000", "How long an idle transactional id (no transaction in progress) is kept before the coordinator forgets it."),
    key("transaction.state.log.num.partitions", KeyType::Int, "50", "Partitions of __transaction_state."),
    key("transaction.state.log.segment.bytes", KeyType::Int, "104857600", "Segment size of __transaction_state (small, so compaction has closed segments)."),
    key("transaction.abort.timed.out.transaction.cleanup.interval.ms", KeyType::Int, "10000", "How often transactions older than their timeout are aborted."),
    key("transaction.remove.expired.transaction.cleanup.interval.ms", KeyType::Int, "3600000", "How often expired transactional ids are removed."),
    key("metrics.listener", KeyType::String, "", "Address serving /metrics and /health (http://host:port). Empty: on the Connect REST listener when the worker runs in-process, else http://0.0.0.0:8083."),
    key("metrics.partition.series.max", KeyType::Int, "10000", "Most per-partition series (log offsets and size, group lag) a scrape reports; topic and group totals are always reported."),
];

/// Kafka keys from a stock server.properties that only matter for multi-node or JVM brokers.
pub const INERT_KEYS: &[&str] = &[
    "process.roles",
    "controller.quorum.voters",
    "controller.quorum.bootstrap.servers",
    "controller.listener.names",
    "inter.broker.listener.name",
    "listener.security.protocol.map",
    "num.network.threads",
    "num.io.threads",
    "num.recovery.threads.per.data.dir",
    "offsets.topic.replication.factor",
    "transaction.state.log.replication.factor",
    "transaction.state.log.min.isr",
    "share.coordinator.state.topic.replication.factor",
    "share.coordinator.state.topic.min.isr",
    "zookeeper.connect",
    "zookeeper.connection.timeout.ms",
    "group.initial.rebalance.delay",
    "log.segment.delete.delay.ms",
    "log.index.size.max.bytes",
    "log.preallocate",
    "unclean.leader.election.enable",
    "num.replica.fetchers",
    "replica.lag.time.max.ms",
    "auto.leader.rebalance.enable",
    "log.cleaner.threads",
    "metadata.log.dir",
];

/// Layers the sources and returns the flattened `key -> (value, where it came from)` map.
///
/// `file` may be TOML (`.toml`) or Kafka properties (anything else); `env` is normally the process
/// environment's `WEFT_*` variables; `overrides` are `key=value` flags, which win.
pub fn load_layers(
    file: Option<&Path>,
    overrides: &[(String, String)],
) -> Result<BTreeMap<String, (String, String)>, ConfigError> {
    let mut fig = Figment::new();
    if let Some(path) = file {
        if !path.exists() {
            return Err(ConfigError::MissingFile(path.to_path_buf()));
        }
        let is_toml = path.extension().and_then(|e| e.to_str()) == Some("toml");
        fig = if is_toml {
            fig.merge(Toml::file(path))
        } else {
            fig.merge(PropertiesFile::new(path))
        };
    }
    // WEFT_LOG_RETENTION_MS -> log.retention.ms (Kafka keys contain no underscores). The
    // variables Weft reads for itself (log output, the plugin cache, perf map and plugin CLI,
    // the guest build) are not broker keys, and would be reported as unknown ones.
    fig = fig.merge(
        Env::prefixed("WEFT_")
            .ignore(&[
                "LOG_FORMAT",
                "LOG",
                "CACHE_DIR",
                "WASM_PERFMAP",
                "PLUGIN_DIR",
                "PLUGIN_SDK",
                "SKIP_GUEST_BUILD",
            ])
            .map(|k| k.as_str().to_ascii_lowercase().replace('_', ".").into()),
    );
    for (k, v) in overrides {
        fig = fig.merge(Serialized::default(k, v.clone()));
    }
    let dict: Dict = fig
        .extract()
        .map_err(|e| ConfigError::Load(e.to_string()))?;
    let mut flat = BTreeMap::new();
    flatten("", &dict, &fig, &mut flat);
    Ok(flat)
}

fn flatten(prefix: &str, dict: &Dict, fig: &Figment, out: &mut BTreeMap<String, (String, String)>) {
    for (k, v) in dict {
        let key = if prefix.is_empty() {
            k.clone()
        } else {
            format!("{prefix}.{k}")
        };
        if let Value::Dict(_, inner) = v {
            flatten(&key, inner, fig, out);
            continue;
        }
        let source = fig
            .find_metadata(&key)
            .map(|m| m.name.to_string())
            .unwrap_or_else(|| "unknown source".into());
        out.insert(key, (value_to_string(v), source));
    }
}

fn value_to_string(v: &Value) -> String {
    match v {
        Value::String(_, s) => s.clone(),
        Value::Char(_, c) => c.to_string(),
        Value::Bool(_, b) => b.to_string(),
        Value::Num(_, n) => {
            if let Some(i) = n.to_i128() {
                i.to_string()
            } else if let Some(f) = n.to_f64() {
                f.to_string()
            } else {
                format!("{n:?}")
            }
        }
        Value::Empty(_, _) => String::new(),
        Value::Array(_, items) => items
            .iter()
            .map(value_to_string)
            .collect::<Vec<_>>()
            .join(","),
        Value::Dict(_, _) => String::new(),
    }
}

impl BrokerConfig {
    /// Loads and validates the configuration from the given layers.
    pub fn load(file: Option<&Path>, overrides: &[(String, String)]) -> Result<Self, ConfigError> {
        let flat = load_layers(file, overrides)?;
        Self::from_flat(flat)
    }

    /// The embedded defaults alone (what `weft up` uses with no file, env or flags).
    pub fn defaults() -> Result<Self, ConfigError> {
        Self::from_flat(BTreeMap::new())
    }

    /// Interprets flattened `key -> (value, source)` pairs.
    pub fn from_flat(flat: BTreeMap<String, (String, String)>) -> Result<Self, ConfigError> {
        let topic_keys = crate::topic_config::broker_topic_keys();
        let mut unknown = Vec::new();
        let mut inert = Vec::new();
        for (k, (_, src)) in &flat {
            let known = BROKER_KEYS.iter().any(|d| d.name == k) || topic_keys.contains(&k.as_str());
            if INERT_KEYS.contains(&k.as_str()) {
                inert.push(k.clone());
            } else if !known {
                unknown.push((k.clone(), src.clone()));
            }
        }
        let r = Reader { flat: &flat };

        let node_id = match r.opt("node.id") {
            Some(_) => r.int("node.id")?,
            None if r.opt("broker.id").is_some() => r.int("broker.id")?,
            None => r.int("node.id")?,
        };
        let listeners = r
            .list("listeners")
            .iter()
            .map(|s| Listener::parse(s))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|reason| r.invalid("listeners", reason))?;
        if listeners.is_empty() {
            return Err(r.invalid("listeners", "at least one listener is required".into()));
        }
        let advertised_listeners = r
            .list("advertised.listeners")
            .iter()
            .map(|s| Listener::parse(s))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|reason| r.invalid("advertised.listeners", reason))?;
        let mut log_dirs: Vec<PathBuf> =
            if r.opt("log.dirs").is_none() && r.opt("log.dir").is_some() {
                vec![PathBuf::from(r.string("log.dir"))]
            } else {
                r.list("log.dirs").into_iter().map(PathBuf::from).collect()
            };
        log_dirs.dedup();
        if log_dirs.is_empty() {
            return Err(r.invalid("log.dirs", "at least one directory is required".into()));
        }
        let num_partitions = r.int("num.partitions")?;
        if num_partitions < 1 {
            return Err(r.invalid("num.partitions", "must be at least 1".into()));
        }
        let rf = r.int("default.replication.factor")?;
        if rf != 1 {
            return Err(r.invalid(
                "default.replication.factor",
                "a single Weft node can only hold replication factor 1".into(),
            ));
        }
        let topic_defaults = TopicDefaults::from_broker(&r)?;
        let cluster_id = r
            .opt("cluster.id")
            .filter(|s| !s.is_empty())
            .map(str::to_string);

        let mut effective = BTreeMap::new();
        for d in BROKER_KEYS {
            let (value, source) = match flat.get(d.name) {
                Some((v, s)) => (v.clone(), Source::Configured(s.clone())),
                None => (d.default.to_string(), Source::Default),
            };
            effective.insert(d.name.to_string(), (value, source));
        }

        Ok(BrokerConfig {
            node_id,
            cluster_id,
            listeners,
            advertised_listeners,
            log_dirs,
            num_partitions,
            default_replication_factor: 1,
            auto_create_topics_enable: r.bool("auto.create.topics.enable")?,
            delete_topic_enable: r.bool("delete.topic.enable")?,
            socket_request_max_bytes: r.positive_u32("socket.request.max.bytes")?,
            socket_send_buffer_bytes: r.socket_buffer("socket.send.buffer.bytes")?,
            socket_receive_buffer_bytes: r.socket_buffer("socket.receive.buffer.bytes")?,
            connections_max_idle_ms: match r.long("connections.max.idle.ms")? {
                v if v < 0 => None,
                _ => Some(r.positive_u64("connections.max.idle.ms")?),
            },
            fetch_max_bytes: r.positive_u32("fetch.max.bytes")?,
            log_retention_check_interval_ms: r.positive_u64("log.retention.check.interval.ms")?,
            log_cleaner_backoff_ms: r.positive_u64("log.cleaner.backoff.ms")?,
            log_cleaner_enable: r.bool("log.cleaner.enable")?,
            log_flush_scheduler_interval_ms: r.positive_u64("log.flush.scheduler.interval.ms")?,
            offsets_topic_num_partitions: r.int("offsets.topic.num.partitions")?.max(1),
            offsets_retention_minutes: r.long("offsets.retention.minutes")?,
            offsets_retention_check_interval_ms: r
                .positive_u64("offsets.retention.check.interval.ms")?,
            group_initial_rebalance_delay_ms: r.long("group.initial.rebalance.delay.ms")?.max(0)
                as u64,
            group_min_session_timeout_ms: r.int("group.min.session.timeout.ms")?,
            producer_id_expiration_ms: r.positive_u64("producer.id.expiration.ms")? as i64,
            producer_id_expiration_check_interval_ms: r
                .positive_u64("producer.id.expiration.check.interval.ms")?,
            group_max_session_timeout_ms: r.int("group.max.session.timeout.ms")?,
            group_max_size: r.int("group.max.size")?,
            transactions: crate::txn::TxnConfig {
                max_timeout_ms: r
                    .positive_u32("transaction.max.timeout.ms")?
                    .min(i32::MAX as u32) as i32,
                id_expiration_ms: r
                    .positive_u64("transactional.id.expiration.ms")?
                    .min(i64::MAX as u64) as i64,
                state_log_partitions: r
                    .positive_u32("transaction.state.log.num.partitions")?
                    .min(i32::MAX as u32) as i32,
                state_log_segment_bytes: r.positive_u32("transaction.state.log.segment.bytes")?,
                abort_timed_out_interval_ms: r
                    .positive_u64("transaction.abort.timed.out.transaction.cleanup.interval.ms")?,
                remove_expired_interval_ms: r
                    .positive_u64("transaction.remove.expired.transaction.cleanup.interval.ms")?,
            },
            metrics_listener: r
                .opt("metrics.listener")
                .filter(|s| !s.trim().is_empty())
                .map(str::to_string),
            metrics_partition_series_max: r.int("metrics.partition.series.max")?.max(0) as usize,
            topic_defaults,
            effective,
            unknown_keys: unknown,
            inert_keys: inert,
        })
    }

    /// The addresses clients are told to connect to, one per listener.
    pub fn advertised(&self) -> Vec<Listener> {
        if !self.advertised_listeners.is_empty() {
            return self.advertised_listeners.clone();
        }
        self.listeners
            .iter()
            .map(|l| {
                let host = if l.host.is_empty() || l.host == "0.0.0.0" || l.host == "::" {
                    local_host_name()
                } else {
                    l.host.clone()
                };
                Listener { host, ..l.clone() }
            })
            .collect()
    }
}

/// What a wildcard listener (`0.0.0.0`, `::`, empty host) is advertised as when `advertised.listeners`
/// is unset: `localhost`, as in Kafka's quickstart config, so the zero-config broker works on any machine
/// whether or not its host name resolves; remote clients need `advertised.listeners`, as with Kafka.
fn local_host_name() -> String {
    "localhost".to_string()
}

/// Typed access to the flattened keys, falling back to the documented defaults.
pub struct Reader<'a> {
    flat: &'a BTreeMap<String, (String, String)>,
}

impl<'a> Reader<'a> {
    pub fn new(flat: &'a BTreeMap<String, (String, String)>) -> Self {
        Reader { flat }
    }

    /// The configured value, if any was given.
    pub fn opt(&self, key: &str) -> Option<&str> {
        self.flat.get(key).map(|(v, _)| v.as_str())
    }

    fn default_of(key: &str) -> &'static str {
        BROKER_KEYS
            .iter()
            .find(|d| d.name == key)
            .map(|d| d.default)
            .unwrap_or("")
    }

    pub fn string(&self, key: &str) -> String {
        self.opt(key)
            .unwrap_or(Self::default_of(key))
            .trim()
            .to_string()
    }

    pub fn list(&self, key: &str) -> Vec<String> {
        self.string(key)
            .split(',')
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect()
    }

    pub fn invalid(&self, key: &str, reason: String) -> ConfigError {
        ConfigError::Invalid {
            key: key.to_string(),
            value: self.string(key),
            reason,
        }
    }

    pub fn long(&self, key: &str) -> Result<i64, ConfigError> {
        let s = self.string(key);
        s.parse::<i64>()
            .map_err(|_| self.invalid(key, "expected an integer".into()))
    }

    pub fn opt_long(&self, key: &str) -> Result<Option<i64>, ConfigError> {
        match self.opt(key).map(str::trim) {
            None | Some("") => Ok(None),
            Some(_) => self.long(key).map(Some),
        }
    }

    pub fn int(&self, key: &str) -> Result<i32, ConfigError> {
        let v = self.long(key)?;
        i32::try_from(v).map_err(|_| self.invalid(key, "out of range for a 32-bit integer".into()))
    }

    pub fn positive_u32(&self, key: &str) -> Result<u32, ConfigError> {
        let v = self.long(key)?;
        u32::try_from(v)
            .ok()
            .filter(|v| *v > 0)
            .ok_or_else(|| self.invalid(key, "must be a positive 32-bit integer".into()))
    }

    /// A socket buffer size: -1 is the OS default (`None`), anything else a positive byte count.
    pub fn socket_buffer(&self, key: &str) -> Result<Option<u32>, ConfigError> {
        match self.long(key)? {
            -1 => Ok(None),
            v => u32::try_from(v)
                .ok()
                .filter(|v| *v > 0 && *v <= i32::MAX as u32)
                .map(Some)
                .ok_or_else(|| {
                    self.invalid(
                        key,
                        "must be -1 (the OS default) or a positive size in bytes".into(),
                    )
                }),
        }
    }

    pub fn positive_u64(&self, key: &str) -> Result<u64, ConfigError> {
        let v = self.long(key)?;
        u64::try_from(v)
            .ok()
            .filter(|v| *v > 0)
            .ok_or_else(|| self.invalid(key, "must be positive".into()))
    }

    pub fn bool(&self, key: &str) -> Result<bool, ConfigError> {
        match self.string(key).to_ascii_lowercase().as_str() {
            "true" => Ok(true),
            "false" => Ok(false),
            _ => Err(self.invalid(key, "expected true or false".into())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flat(pairs: &[(&str, &str)]) -> BTreeMap<String, (String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), (v.to_string(), "test".to_string())))
            .collect()
    }

    #[test]
    fn defaults_are_kafkas() {
        let c = BrokerConfig::defaults().unwrap();
        assert_eq!(c.listeners[0].port, 9092);
        assert_eq!(c.log_dirs, vec![PathBuf::from("./weft-data")]);
        assert_eq!(c.num_partitions, 1);
        assert!(c.auto_create_topics_enable);
        assert_eq!(c.topic_defaults.log.retention_ms, 168 * 3600 * 1000);
    }

    #[test]
    fn retention_precedence_ms_over_minutes_over_hours() {
        let c = BrokerConfig::from_flat(flat(&[
            ("log.retention.hours", "1"),
            ("log.retention.minutes", "2"),
        ]))
        .unwrap();
        assert_eq!(c.topic_defaults.log.retention_ms, 120_000);
        let c = BrokerConfig::from_flat(flat(&[
            ("log.retention.minutes", "2"),
            ("log.retention.ms", "5"),
        ]))
        .unwrap();
        assert_eq!(c.topic_defaults.log.retention_ms, 5);
    }

    #[test]
    fn connections_max_idle_ms_is_kafkas_with_negative_meaning_never() {
        let idle = |v: &str| {
            BrokerConfig::from_flat(flat(&[("connections.max.idle.ms", v)]))
                .map(|c| c.connections_max_idle_ms)
        };
        assert_eq!(
            BrokerConfig::defaults().unwrap().connections_max_idle_ms,
            Some(600_000)
        );
        assert_eq!(idle("1500").unwrap(), Some(1500));
        assert_eq!(idle("-1").unwrap(), None);
        let e = idle("0").unwrap_err();
        assert!(e.to_string().contains("connections.max.idle.ms"), "{e}");
    }

    #[test]
    fn socket_buffers_are_kafkas_with_minus_one_meaning_the_os_default() {
        let sizes = |v: &str| {
            BrokerConfig::from_flat(flat(&[
                ("socket.send.buffer.bytes", v),
                ("socket.receive.buffer.bytes", v),
            ]))
            .map(|c| (c.socket_send_buffer_bytes, c.socket_receive_buffer_bytes))
        };
        let d = BrokerConfig::defaults().unwrap();
        assert_eq!(
            (d.socket_send_buffer_bytes, d.socket_receive_buffer_bytes),
            (Some(102_400), None)
        );
        assert_eq!(sizes("65536").unwrap(), (Some(65_536), Some(65_536)));
        assert_eq!(sizes("-1").unwrap(), (None, None));
        for bad in ["0", "-2", "4294967296", "big"] {
            let e = sizes(bad).unwrap_err().to_string();
            assert!(
                e.contains("socket.") && e.contains("buffer.bytes"),
                "{bad}: {e}"
            );
        }
    }

    #[test]
    fn invalid_value_names_the_key() {
        let e = BrokerConfig::from_flat(flat(&[("num.partitions", "lots")])).unwrap_err();
        assert!(e.to_string().contains("num.partitions"), "{e}");
        let e = BrokerConfig::from_flat(flat(&[("listeners", "localhost:9092")])).unwrap_err();
        assert!(e.to_string().contains("listeners"), "{e}");
    }

    #[test]
    fn unknown_and_inert_keys_are_reported() {
        let c = BrokerConfig::from_flat(flat(&[("num.io.threads", "8"), ("no.such.key", "1")]))
            .unwrap();
        assert_eq!(c.inert_keys, vec!["num.io.threads".to_string()]);
        assert_eq!(c.unknown_keys[0].0, "no.such.key");
    }

    #[test]
    fn toml_tables_and_flat_keys_and_properties_agree() {
        let dir = tempfile::tempdir().unwrap();
        let toml_path = dir.path().join("weft.toml");
        std::fs::write(
            &toml_path,
            "num.partitions = 3\n[log]\ndirs = \"/data/a\"\nretention.ms = 1000\n",
        )
        .unwrap();
        let c = BrokerConfig::load(Some(&toml_path), &[]).unwrap();
        assert_eq!(c.num_partitions, 3);
        assert_eq!(c.log_dirs, vec![PathBuf::from("/data/a")]);
        assert_eq!(c.topic_defaults.log.retention_ms, 1000);

        let props = dir.path().join("server.properties");
        std::fs::write(
            &props,
            "num.partitions=4\nlog.dirs=/data/b\nlisteners=PLAINTEXT://127.0.0.1:19092\n",
        )
        .unwrap();
        let c = BrokerConfig::load(Some(&props), &[("num.partitions".into(), "7".into())]).unwrap();
        assert_eq!(c.num_partitions, 7, "flags win over the file");
        assert_eq!(c.listeners[0].host, "127.0.0.1");
        assert_eq!(c.listeners[0].port, 19092);
    }
}
