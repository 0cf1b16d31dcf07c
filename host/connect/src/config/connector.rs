//! [`ConnectorSpec`] from a connector config: Connect's own keys read and checked as Connect
//! checks them (`name`, `connector.class`, `tasks.max`, `topics`/`topics.regex` for sinks,
//! converters, `transforms`, `predicates`, `errors.*`, client overrides against the worker's
//! policy); Kafka class names resolved to components; every other key handed to the connector.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use weft_runtime::config::{KEY_FS_DIR, KEY_LOCAL_ADMIN, KEY_LOCAL_BOOTSTRAP, KEY_LOCAL_CLIENT};

use super::aliases::{self, PredicateKind};
use super::error::{ConfigError, Problems};
use super::exactly_once;
use super::worker::{
    check_sandbox, converter_ref, parse_bool, parse_list, parse_long, with_prefix,
};
use super::{
    ConnectorSpec, ErrorPolicy, OverridePolicy, PluginRef, Predicate, TopicSelection,
    TransformSpec, WorkerConfig,
};
use crate::auto_restart::RestartPolicy;
use crate::model::{ConfigMap, ConnectorType};

pub const NAME: &str = "name";
pub const CONNECTOR_CLASS: &str = "connector.class";
pub const TASKS_MAX: &str = "tasks.max";
pub const TASKS_MAX_ENFORCE: &str = "tasks.max.enforce";
pub const KEY_CONVERTER: &str = "key.converter";
pub const VALUE_CONVERTER: &str = "value.converter";
pub const HEADER_CONVERTER: &str = "header.converter";
pub const TRANSFORMS: &str = "transforms";
pub const PREDICATES: &str = "predicates";
pub const CONFIG_RELOAD_ACTION: &str = "config.action.reload";
pub const TOPICS: &str = "topics";
pub const TOPICS_REGEX: &str = "topics.regex";
pub const ERRORS_RETRY_TIMEOUT: &str = "errors.retry.timeout";
pub const ERRORS_RETRY_DELAY_MAX: &str = "errors.retry.delay.max.ms";
pub const ERRORS_TOLERANCE: &str = "errors.tolerance";
pub const ERRORS_LOG_ENABLE: &str = "errors.log.enable";
pub const ERRORS_LOG_INCLUDE_MESSAGES: &str = "errors.log.include.messages";
pub const DLQ_TOPIC: &str = "errors.deadletterqueue.topic.name";
pub const DLQ_REPLICATION_FACTOR: &str = "errors.deadletterqueue.topic.replication.factor";
pub const DLQ_CONTEXT_HEADERS: &str = "errors.deadletterqueue.context.headers.enable";
pub const PRODUCER_OVERRIDE: &str = "producer.override.";
pub const CONSUMER_OVERRIDE: &str = "consumer.override.";
pub const ADMIN_OVERRIDE: &str = "admin.override.";
/// Weft's automatic restart of FAILED connectors and tasks ([`crate::auto_restart`]).
pub const RESTART_PREFIX: &str = "weft.restart.failed.";
pub const RESTART_ENABLED: &str = "weft.restart.failed.enabled";
pub const RESTART_BACKOFF_INITIAL: &str = "weft.restart.failed.backoff.initial.ms";
pub const RESTART_BACKOFF_MAX: &str = "weft.restart.failed.backoff.max.ms";

/// The client settings the `Principal` override policy allows.
const PRINCIPAL_KEYS: &[&str] = &["sasl.jaas.config", "sasl.mechanism", "security.protocol"];

/// Whether `key` is one of Connect's own connector keys (not handed to the connector).
pub fn is_connect_key(key: &str) -> bool {
    matches!(
        key,
        NAME | CONNECTOR_CLASS
            | TASKS_MAX
            | TASKS_MAX_ENFORCE
            | KEY_CONVERTER
            | VALUE_CONVERTER
            | HEADER_CONVERTER
            | TRANSFORMS
            | PREDICATES
            | CONFIG_RELOAD_ACTION
            | TOPICS
            | TOPICS_REGEX
    ) || [
        "key.converter.",
        "value.converter.",
        "header.converter.",
        "transforms.",
        "predicates.",
        "errors.",
        PRODUCER_OVERRIDE,
        CONSUMER_OVERRIDE,
        ADMIN_OVERRIDE,
        RESTART_PREFIX,
    ]
    .iter()
    .any(|p| key.starts_with(p))
        || exactly_once::is_connector_key(key)
}

fn get<'a>(map: &'a ConfigMap, key: &str) -> Option<&'a str> {
    map.get(key).map(String::as_str)
}

fn bool_key(map: &ConfigMap, key: &str, default: bool, p: &mut Problems) -> bool {
    match get(map, key) {
        None => default,
        Some(v) => parse_bool(v).unwrap_or_else(|| {
            p.add(key, Some(v), "Expected value to be either true or false");
            default
        }),
    }
}

/// The aliases of `transforms`/`predicates`, with Connect's duplicate check.
fn aliases_of(map: &ConfigMap, key: &str, p: &mut Problems) -> Vec<String> {
    let list = get(map, key).map(parse_list).unwrap_or_default();
    let mut seen = std::collections::BTreeSet::new();
    for a in &list {
        if !seen.insert(a) {
            p.add(key, get(map, key), "Duplicate alias provided.");
            break;
        }
    }
    let mut out = Vec::new();
    for a in list {
        if !out.contains(&a) {
            out.push(a);
        }
    }
    out
}

fn missing(p: &mut Problems, key: &str) {
    p.add(
        key,
        None,
        format!("Missing required configuration \"{key}\" which has no default value."),
    );
}

fn read_predicates(map: &ConfigMap, p: &mut Problems) -> BTreeMap<String, Predicate> {
    let mut out = BTreeMap::new();
    for alias in aliases_of(map, PREDICATES, p) {
        let type_key = format!("predicates.{alias}.type");
        let Some(class) = get(map, &type_key) else {
            missing(p, &type_key);
            continue;
        };
        let kind = match aliases::predicate_kind(class) {
            Ok(k) => k,
            Err(e) => {
                p.add(&type_key, Some(class), e);
                continue;
            }
        };
        let predicate = match kind {
            PredicateKind::RecordIsTombstone => Predicate::RecordIsTombstone,
            PredicateKind::TopicNameMatches => {
                let key = format!("predicates.{alias}.pattern");
                match get(map, &key) {
                    None => {
                        missing(p, &key);
                        continue;
                    }
                    Some(pat) => {
                        if let Err(e) = regex::Regex::new(pat) {
                            p.add(&key, Some(pat), format!("not a valid regex: {e}"));
                            continue;
                        }
                        Predicate::TopicNameMatches(pat.to_string())
                    }
                }
            }
            PredicateKind::HasHeaderKey => {
                let key = format!("predicates.{alias}.name");
                match get(map, &key) {
                    Some(n) if !n.is_empty() => Predicate::HasHeaderKey(n.to_string()),
                    _ => {
                        missing(p, &key);
                        continue;
                    }
                }
            }
        };
        out.insert(alias, predicate);
    }
    out
}

/// The sandbox entries every component of a connector starts from: the worker's defaults,
/// then the connector's own `plugin.*` keys.
fn sandbox_base(map: &ConfigMap, worker: &WorkerConfig) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = worker
        .sandbox
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    v.extend(
        map.iter()
            .filter(|(k, _)| k.starts_with("plugin."))
            .map(|(k, v)| (k.clone(), v.clone())),
    );
    v
}

fn read_transforms(
    map: &ConfigMap,
    predicates: &BTreeMap<String, Predicate>,
    sandbox: &[(String, String)],
    p: &mut Problems,
) -> Vec<TransformSpec> {
    let mut out = Vec::new();
    for alias in aliases_of(map, TRANSFORMS, p) {
        let prefix = format!("transforms.{alias}.");
        let type_key = format!("{prefix}type");
        let Some(class) = get(map, &type_key) else {
            missing(p, &type_key);
            continue;
        };
        let target = match aliases::transform_plugin(class) {
            Ok(t) => t,
            Err(e) => {
                p.add(&type_key, Some(class), e);
                continue;
            }
        };
        let pred_key = format!("{prefix}predicate");
        let predicate = match get(map, &pred_key).map(str::trim) {
            None | Some("") => None,
            Some(name) => match predicates.get(name) {
                Some(pr) => Some(pr.clone()),
                None => {
                    p.add(
                        &pred_key,
                        Some(name),
                        format!("the predicate `{name}` is not listed in `predicates`"),
                    );
                    continue;
                }
            },
        };
        let negate = bool_key(map, &format!("{prefix}negate"), false, p);
        let own = with_prefix(map, &prefix);
        let sandbox_keys: BTreeMap<String, String> = own
            .iter()
            .filter(|(k, _)| k.starts_with("plugin."))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        check_sandbox(&sandbox_keys, &prefix, p);
        let mut config = sandbox.to_vec();
        config.extend(
            own.into_iter()
                .filter(|(k, _)| !matches!(k.as_str(), "type" | "predicate" | "negate"))
                .map(|(k, v)| {
                    let k = target
                        .renames
                        .iter()
                        .find(|(from, _)| *from == k)
                        .map(|(_, to)| to.to_string())
                        .unwrap_or(k);
                    (k, v)
                }),
        );
        if let Some(part) = target.part {
            config.push(("target".to_string(), part.to_string()));
        }
        let (predicate, negate) = if target.is_connect_filter {
            // Connect's Filter drops every record its predicate selects: that is exactly the
            // `filter` component configured with the same predicate.
            match predicate {
                Some(pr) => config.extend(pr.filter_config()),
                None => config.extend([
                    ("predicate".to_string(), "topic-matches".to_string()),
                    ("pattern".to_string(), ".*".to_string()),
                ]),
            }
            config.push(("negate".to_string(), negate.to_string()));
            (None, false)
        } else {
            (predicate, negate)
        };
        out.push(TransformSpec {
            alias,
            component: PluginRef {
                plugin: target.plugin,
                config,
            },
            predicate,
            negate,
        });
    }
    out
}

/// `weft.restart.failed.*`: off unless enabled; the delays are whole milliseconds, the first at
/// least 100 and the longest no shorter than the first.
fn read_restart(map: &ConfigMap, p: &mut Problems) -> RestartPolicy {
    let mut r = RestartPolicy::default();
    for (k, v) in map.iter().filter(|(k, _)| k.starts_with(RESTART_PREFIX)) {
        if !matches!(
            k.as_str(),
            RESTART_ENABLED | RESTART_BACKOFF_INITIAL | RESTART_BACKOFF_MAX
        ) {
            p.add(
                k,
                Some(v),
                format!("Unknown key: Weft's restart settings are {RESTART_ENABLED}, {RESTART_BACKOFF_INITIAL} and {RESTART_BACKOFF_MAX}"),
            );
        }
    }
    if let Some(v) = get(map, RESTART_ENABLED) {
        match parse_bool(v) {
            Some(b) => r.enabled = b,
            None => p.add(
                RESTART_ENABLED,
                Some(v),
                "Expected value to be either true or false",
            ),
        }
    }
    let mut millis = |key: &str, min: i64| -> Option<Duration> {
        let v = get(map, key)?;
        match parse_long(v) {
            Some(n) if n >= min => Some(Duration::from_millis(n as u64)),
            Some(_) => {
                p.add(key, Some(v), format!("Value must be at least {min}"));
                None
            }
            None => {
                p.add(key, Some(v), "Expected value to be a 64-bit integer (long)");
                None
            }
        }
    };
    if let Some(d) = millis(RESTART_BACKOFF_INITIAL, 100) {
        r.initial = d;
    }
    if let Some(d) = millis(RESTART_BACKOFF_MAX, 100) {
        r.max = d;
    }
    if r.max < r.initial {
        p.add(
            RESTART_BACKOFF_MAX,
            get(map, RESTART_BACKOFF_MAX),
            format!(
                "Value must be at least {RESTART_BACKOFF_INITIAL} ({} ms)",
                r.initial.as_millis()
            ),
        );
    }
    r
}

fn read_errors(map: &ConfigMap, is_sink: bool, p: &mut Problems) -> ErrorPolicy {
    let mut e = ErrorPolicy::default();
    if let Some(v) = get(map, ERRORS_RETRY_TIMEOUT) {
        match parse_long(v) {
            Some(-1) => e.retry_timeout = None,
            Some(n) if n >= 0 => e.retry_timeout = Some(Duration::from_millis(n as u64)),
            Some(_) => p.add(
                ERRORS_RETRY_TIMEOUT,
                Some(v),
                "Value must be -1 or at least 0",
            ),
            None => p.add(
                ERRORS_RETRY_TIMEOUT,
                Some(v),
                "Expected value to be a 64-bit integer (long)",
            ),
        }
    }
    if let Some(v) = get(map, ERRORS_RETRY_DELAY_MAX) {
        match parse_long(v) {
            Some(n) if n >= 0 => e.retry_delay_max = Duration::from_millis(n as u64),
            Some(_) => p.add(ERRORS_RETRY_DELAY_MAX, Some(v), "Value must be at least 0"),
            None => p.add(
                ERRORS_RETRY_DELAY_MAX,
                Some(v),
                "Expected value to be a 64-bit integer (long)",
            ),
        }
    }
    if let Some(v) = get(map, ERRORS_TOLERANCE) {
        match v.trim().to_ascii_lowercase().as_str() {
            "none" => e.tolerate_all = false,
            "all" => e.tolerate_all = true,
            _ => p.add(
                ERRORS_TOLERANCE,
                Some(v),
                "String must be one of: none, all",
            ),
        }
    }
    e.log_enable = bool_key(map, ERRORS_LOG_ENABLE, false, p);
    e.log_include_messages = bool_key(map, ERRORS_LOG_INCLUDE_MESSAGES, false, p);
    e.dlq_context_headers = bool_key(map, DLQ_CONTEXT_HEADERS, false, p);
    if let Some(v) = get(map, DLQ_REPLICATION_FACTOR) {
        match v.trim().parse::<i16>() {
            Ok(n) if n == -1 || n >= 1 => e.dlq_replication_factor = n,
            Ok(_) => p.add(
                DLQ_REPLICATION_FACTOR,
                Some(v),
                "Value must be -1 (the broker's default) or at least 1",
            ),
            Err(_) => p.add(
                DLQ_REPLICATION_FACTOR,
                Some(v),
                "Expected value to be a 16-bit integer (short)",
            ),
        }
    }
    // The dead-letter queue is a sink feature in Connect; a source ignores the key.
    if is_sink {
        e.dlq_topic = get(map, DLQ_TOPIC)
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string);
    }
    e
}

fn read_topics(map: &ConfigMap, errors: &ErrorPolicy, p: &mut Problems) -> TopicSelection {
    let list = get(map, TOPICS).filter(|s| !s.trim().is_empty());
    let regex = get(map, TOPICS_REGEX).filter(|s| !s.trim().is_empty());
    match (list, regex) {
        (Some(l), Some(r)) => {
            let msg = "topics and topics.regex are mutually exclusive options, but both are set.";
            p.add(TOPICS, Some(l), msg);
            p.add(TOPICS_REGEX, Some(r), msg);
            TopicSelection::None
        }
        (None, None) => {
            let msg = "Must configure one of topics or topics.regex";
            p.add(TOPICS, list, msg);
            p.add(TOPICS_REGEX, regex, msg);
            TopicSelection::None
        }
        (Some(l), None) => {
            let topics = parse_list(l);
            if let Some(dlq) = &errors.dlq_topic {
                if topics.contains(dlq) {
                    p.add(
                        TOPICS,
                        Some(l),
                        format!(
                            "The DLQ topic '{dlq}' may not be included in the list of topics \
                             ('topics=[{}]') consumed by the connector",
                            topics.join(", ")
                        ),
                    );
                }
            }
            TopicSelection::List(topics)
        }
        (None, Some(r)) => match regex::Regex::new(&format!("^(?:{r})$")) {
            Err(e) => {
                p.add(TOPICS_REGEX, Some(r), format!("not a valid regex: {e}"));
                TopicSelection::None
            }
            Ok(re) => {
                if let Some(dlq) = &errors.dlq_topic {
                    if re.is_match(dlq) {
                        p.add(
                            TOPICS_REGEX,
                            Some(r),
                            format!(
                                "The DLQ topic '{dlq}' may not be matched by the regex for the \
                                 topics ('topics.regex={r}') consumed by the connector"
                            ),
                        );
                    }
                }
                TopicSelection::Regex(r.to_string())
            }
        },
    }
}

fn read_overrides(
    map: &ConfigMap,
    prefix: &str,
    policy: OverridePolicy,
    p: &mut Problems,
) -> BTreeMap<String, String> {
    let overrides = with_prefix(map, prefix);
    let name = match policy {
        OverridePolicy::All => return overrides,
        OverridePolicy::None => "None",
        OverridePolicy::Principal => "Principal",
    };
    for (k, v) in &overrides {
        let allowed = policy == OverridePolicy::Principal && PRINCIPAL_KEYS.contains(&k.as_str());
        if !allowed {
            p.add(
                &format!("{prefix}{k}"),
                Some(v),
                format!(
                    "The '{name}' policy does not allow '{k}' to be overridden in the connector \
                     configuration."
                ),
            );
        }
    }
    overrides
}

/// Set beside a rewritten `file`: the value as the user configured it, which file-source names
/// its source partition after (`{"filename":"test.txt"}`, as Kafka's FileStreamSource does).
pub const KEY_FILE_AS_CONFIGURED: &str = "weft.file.as.configured";

/// For `file-source`/`file-sink` without a `capability.filesystem.dir`: grants the directory
/// of `file` (relative to the worker's working directory) and hands the connector the path
/// inside it (the directory is preopened as `/`), so Kafka's quickstart files work unchanged.
fn grant_file_dir(config: &mut Vec<(String, String)>, work_dir: &Path) {
    if config.iter().any(|(k, _)| k == KEY_FS_DIR) {
        return;
    }
    let Some(pos) = config.iter().rposition(|(k, _)| k == "file") else {
        return;
    };
    let file = config[pos].1.trim().to_string();
    if file.is_empty() {
        return;
    }
    let path = {
        let p = PathBuf::from(&file);
        if p.is_absolute() {
            p
        } else {
            work_dir.join(p)
        }
    };
    let (Some(dir), Some(name)) = (path.parent(), path.file_name()) else {
        return;
    };
    config[pos].1 = format!("/{}", name.to_string_lossy());
    config.push((KEY_FS_DIR.to_string(), dir.display().to_string()));
    config.push((KEY_FILE_AS_CONFIGURED.to_string(), file));
}

/// For a connector granted `capability.local-admin=true`: the cluster it administers is the
/// one the worker writes to, so its bootstrap servers and admin client settings (the worker's
/// `admin.*`, then the connector's `admin.override.*`) replace any the connector config gave.
fn grant_local_cluster(
    config: &mut Vec<(String, String)>,
    worker: &WorkerConfig,
    admin_overrides: &BTreeMap<String, String>,
) {
    let granted = config
        .iter()
        .rev()
        .find(|(k, _)| k == KEY_LOCAL_ADMIN)
        .is_some_and(|(_, v)| v.trim() == "true");
    if !granted {
        return;
    }
    let sub = format!("{KEY_LOCAL_ADMIN}.");
    config.retain(|(k, _)| !k.starts_with(&sub));
    config.push((
        KEY_LOCAL_BOOTSTRAP.to_string(),
        worker.bootstrap_servers.clone(),
    ));
    for (k, v) in worker.admin.iter().chain(admin_overrides) {
        if k != "bootstrap.servers" {
            config.push((format!("{KEY_LOCAL_CLIENT}{k}"), v.clone()));
        }
    }
}

/// Reads a connector config, collecting every problem; `kind` is what the herder knows of the
/// component (`Unknown`: decide from the built-in's name, else treat as a source).
pub(crate) fn read(
    map: &ConfigMap,
    worker: &WorkerConfig,
    kind: ConnectorType,
) -> (ConnectorSpec, Problems) {
    let mut p = Problems::default();
    let name = match get(map, NAME) {
        None => {
            missing(&mut p, NAME);
            String::new()
        }
        Some(n) => {
            let t = n.trim();
            if t.is_empty() {
                p.add(NAME, Some(n), "String may not be empty");
            } else if t.chars().any(char::is_control) {
                p.add(NAME, Some(n), "String may not contain control sequences");
            }
            t.to_string()
        }
    };
    let connector_plugin = match get(map, CONNECTOR_CLASS) {
        None => {
            missing(&mut p, CONNECTOR_CLASS);
            String::new()
        }
        Some(c) => aliases::connector_plugin(c).unwrap_or_else(|e| {
            p.add(CONNECTOR_CLASS, Some(c), e);
            String::new()
        }),
    };
    let is_sink = match kind {
        ConnectorType::Sink => true,
        ConnectorType::Source => false,
        ConnectorType::Unknown => aliases::builtin_is_sink(&connector_plugin).unwrap_or(false),
    };
    let tasks_max = match get(map, TASKS_MAX) {
        None => 1,
        Some(v) => match v.trim().parse::<i32>() {
            Ok(n) if n >= 1 => n as u32,
            Ok(_) => {
                p.add(TASKS_MAX, Some(v), "Value must be at least 1");
                1
            }
            Err(_) => {
                p.add(TASKS_MAX, Some(v), "Expected value to be a 32-bit integer");
                1
            }
        },
    };
    bool_key(map, TASKS_MAX_ENFORCE, true, &mut p);
    if let Some(v) = get(map, CONFIG_RELOAD_ACTION) {
        if !matches!(v.trim(), "none" | "restart") {
            p.add(
                CONFIG_RELOAD_ACTION,
                Some(v),
                "String must be one of: none, restart",
            );
        }
    }
    let key_converter = converter_ref(map, KEY_CONVERTER, None, false, &mut p);
    let value_converter = converter_ref(map, VALUE_CONVERTER, None, false, &mut p);
    let header_converter = converter_ref(map, HEADER_CONVERTER, None, true, &mut p);
    let sandbox = sandbox_base(map, worker);
    let connector_sandbox: BTreeMap<String, String> = map
        .iter()
        .filter(|(k, _)| k.starts_with("plugin."))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    check_sandbox(&connector_sandbox, "", &mut p);
    let predicates = read_predicates(map, &mut p);
    let transforms = read_transforms(map, &predicates, &sandbox, &mut p);
    let errors = read_errors(map, is_sink, &mut p);
    let restart = read_restart(map, &mut p);
    let topics = if is_sink {
        read_topics(map, &errors, &mut p)
    } else {
        TopicSelection::None
    };
    let producer_overrides = read_overrides(map, PRODUCER_OVERRIDE, worker.override_policy, &mut p);
    let consumer_overrides = read_overrides(map, CONSUMER_OVERRIDE, worker.override_policy, &mut p);
    let admin_overrides = read_overrides(map, ADMIN_OVERRIDE, worker.override_policy, &mut p);

    let mut config: Vec<(String, String)> = worker
        .sandbox
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    config.extend(
        map.iter()
            .filter(|(k, _)| !is_connect_key(k))
            .map(|(k, v)| (k.clone(), v.clone())),
    );
    // The class as the user wrote it: a component serving several of Kafka's classes (the
    // mirror's source, checkpoint and heartbeat connectors) picks its role from it.
    if let Some(class) = get(map, CONNECTOR_CLASS) {
        config.push((CONNECTOR_CLASS.to_string(), class.to_string()));
    }
    if matches!(connector_plugin.as_str(), "file-source" | "file-sink") {
        grant_file_dir(&mut config, &worker.work_dir);
    }
    grant_local_cluster(&mut config, worker, &admin_overrides);
    let exactly_once = if is_sink {
        None
    } else {
        exactly_once::read_source(
            map,
            &worker.exactly_once,
            worker.offset_flush_interval,
            &connector_plugin,
            &config,
            &mut p,
        )
    };
    let spec = ConnectorSpec {
        name,
        connector: PluginRef {
            plugin: connector_plugin,
            config,
        },
        tasks_max,
        topics,
        key_converter,
        value_converter,
        header_converter,
        transforms,
        errors,
        restart,
        producer_overrides,
        consumer_overrides,
        admin_overrides,
        exactly_once,
        raw: map.clone(),
    };
    (spec, p)
}

impl ConnectorSpec {
    /// A connector config, checked; `kind` is whether the component is a source or a sink, when
    /// the caller knows (`Unknown`: from the built-in's name, else a source).
    pub fn from_map(
        map: &ConfigMap,
        worker: &WorkerConfig,
        kind: ConnectorType,
    ) -> Result<ConnectorSpec, ConfigError> {
        let (spec, problems) = read(map, worker, kind);
        problems.into_result(spec)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::test_map as map;
    use crate::config::worker::OFFSET_FILE;

    fn worker(extra: &[(&str, &str)]) -> WorkerConfig {
        let mut m = map(&[(OFFSET_FILE, "/tmp/o"), ("plugin.call.timeout.ms", "100")]);
        m.extend(map(extra));
        WorkerConfig::from_map_in(&m, Path::new("/work")).unwrap()
    }

    fn cfg<'a>(r: &'a PluginRef, k: &str) -> Option<&'a str> {
        r.config
            .iter()
            .rev()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.as_str())
    }

    #[test]
    fn the_class_as_written_and_the_local_cluster_reach_the_component() {
        let m = map(&[
            ("name", "m"),
            (
                "connector.class",
                "org.apache.kafka.connect.mirror.MirrorCheckpointConnector",
            ),
            ("capability.local-admin", "true"),
            // Not the connector's to choose: the worker's cluster replaces it.
            ("capability.local-admin.bootstrap.servers", "elsewhere:1"),
            ("capability.local-admin.client.sasl.password", "mine"),
            ("admin.override.client.rack", "r2"),
        ]);
        let w = worker(&[
            ("bootstrap.servers", "local:9092"),
            ("admin.security.protocol", "plaintext"),
            ("connector.client.config.override.policy", "All"),
        ]);
        let s = ConnectorSpec::from_map(&m, &w, ConnectorType::Unknown).unwrap();
        assert_eq!(s.connector.plugin, "mirror");
        assert_eq!(
            cfg(&s.connector, "connector.class"),
            Some("org.apache.kafka.connect.mirror.MirrorCheckpointConnector")
        );
        assert_eq!(cfg(&s.connector, KEY_LOCAL_BOOTSTRAP), Some("local:9092"));
        assert_eq!(
            cfg(
                &s.connector,
                "capability.local-admin.client.security.protocol"
            ),
            Some("plaintext")
        );
        assert_eq!(
            cfg(&s.connector, "capability.local-admin.client.client.rack"),
            Some("r2")
        );
        assert_eq!(
            cfg(&s.connector, "capability.local-admin.client.sasl.password"),
            None
        );
        // Without the grant nothing is added.
        let plain = map(&[("name", "f"), ("connector.class", "datagen")]);
        let s = ConnectorSpec::from_map(&plain, &w, ConnectorType::Unknown).unwrap();
        assert!(s
            .connector
            .config
            .iter()
            .all(|(k, _)| !k.starts_with("capability.local-admin")));
    }

    #[test]
    fn sink_with_transforms_predicates_converters_and_errors() {
        let m = map(&[
            ("name", "s"),
            ("connector.class", "FileStreamSink"),
            ("tasks.max", "2"),
            ("file", "out/sink.txt"),
            ("topics", "a, b"),
            (
                "value.converter",
                "org.apache.kafka.connect.storage.StringConverter",
            ),
            ("value.converter.encoding", "UTF-8"),
            ("transforms", "ins,mask,drop"),
            (
                "transforms.ins.type",
                "org.apache.kafka.connect.transforms.InsertField$Value",
            ),
            ("transforms.ins.static.field", "f"),
            ("transforms.ins.static.value", "v"),
            ("transforms.ins.predicate", "isA"),
            ("transforms.ins.negate", "true"),
            ("transforms.ins.plugin.memory.max.bytes", "1048576"),
            (
                "transforms.mask.type",
                "org.apache.kafka.connect.transforms.MaskField$Value",
            ),
            ("transforms.mask.fields", "x"),
            (
                "transforms.drop.type",
                "org.apache.kafka.connect.transforms.Filter",
            ),
            ("transforms.drop.predicate", "tomb"),
            ("predicates", "isA,tomb"),
            (
                "predicates.isA.type",
                "org.apache.kafka.connect.transforms.predicates.TopicNameMatches",
            ),
            ("predicates.isA.pattern", "a.*"),
            (
                "predicates.tomb.type",
                "org.apache.kafka.connect.transforms.predicates.RecordIsTombstone",
            ),
            ("errors.tolerance", "all"),
            ("errors.retry.timeout", "-1"),
            ("errors.deadletterqueue.topic.name", "dlq"),
            ("errors.deadletterqueue.topic.replication.factor", "1"),
            ("errors.deadletterqueue.context.headers.enable", "true"),
            ("consumer.override.max.poll.records", "5"),
            ("plugin.memory.max.bytes", "2097152"),
        ]);
        let s = ConnectorSpec::from_map(&m, &worker(&[]), ConnectorType::Unknown).unwrap();
        assert_eq!(s.name, "s");
        assert_eq!(s.connector.plugin, "file-sink");
        assert_eq!(s.tasks_max, 2);
        assert_eq!(s.topics, TopicSelection::List(vec!["a".into(), "b".into()]));
        assert_eq!(cfg(&s.connector, "file"), Some("/sink.txt"));
        assert_eq!(cfg(&s.connector, KEY_FS_DIR), Some("/work/out"));
        assert_eq!(
            cfg(&s.connector, KEY_FILE_AS_CONFIGURED),
            Some("out/sink.txt")
        );
        assert_eq!(cfg(&s.connector, "plugin.call.timeout.ms"), Some("100"));
        assert_eq!(cfg(&s.connector, "topics"), None);
        let vc = s.value_converter.as_ref().unwrap();
        assert_eq!(vc.plugin, "string-converter");
        assert_eq!(cfg(vc, "encoding"), Some("UTF-8"));
        assert!(s.key_converter.is_none());
        assert_eq!(s.transforms.len(), 3);
        let ins = &s.transforms[0];
        assert_eq!(ins.component.plugin, "insert-field");
        assert_eq!(cfg(&ins.component, "static.field"), Some("f"));
        assert_eq!(
            cfg(&ins.component, "plugin.memory.max.bytes"),
            Some("1048576")
        );
        assert_eq!(cfg(&ins.component, "plugin.call.timeout.ms"), Some("100"));
        assert_eq!(cfg(&ins.component, "type"), None);
        assert_eq!(
            ins.predicate,
            Some(Predicate::TopicNameMatches("a.*".into()))
        );
        assert!(ins.negate);
        assert_eq!(
            cfg(&s.transforms[1].component, "plugin.memory.max.bytes"),
            Some("2097152")
        );
        let drop = &s.transforms[2];
        assert_eq!(drop.component.plugin, "filter");
        assert_eq!(cfg(&drop.component, "predicate"), Some("is-tombstone"));
        assert_eq!(cfg(&drop.component, "negate"), Some("false"));
        assert_eq!(drop.predicate, None);
        assert!(s.errors.tolerate_all);
        assert_eq!(s.errors.retry_timeout, None);
        assert_eq!(s.errors.dlq_topic.as_deref(), Some("dlq"));
        assert_eq!(s.errors.dlq_replication_factor, 1);
        assert!(s.errors.dlq_context_headers);
        assert_eq!(
            s.consumer_overrides
                .get("max.poll.records")
                .map(String::as_str),
            Some("5")
        );
        assert_eq!(s.raw, m);
    }

    #[test]
    fn connect_checks_name_the_key() {
        let w = worker(&[]);
        let base = [
            ("name", "s"),
            ("connector.class", "FileStreamSink"),
            ("topics", "t"),
        ];
        for (k, v, bad) in [
            ("tasks.max", "0", "tasks.max"),
            ("tasks.max", "many", "tasks.max"),
            ("topics.regex", "t.*", "topics.regex"),
            ("errors.tolerance", "some", "errors.tolerance"),
            ("errors.retry.timeout", "-5", "errors.retry.timeout"),
            ("errors.log.enable", "yes", "errors.log.enable"),
            ("errors.deadletterqueue.topic.name", "t", "topics"),
            ("transforms", "a", "transforms.a.type"),
            ("transforms", "a,a", "transforms"),
            ("connector.class", "com.example.JdbcSink", "connector.class"),
            (
                "value.converter",
                "io.confluent.connect.avro.AvroConverter",
                "value.converter",
            ),
            ("plugin.call.timeout.ms", "soon", "plugin.call.timeout.ms"),
            ("name", "", "name"),
            (RESTART_ENABLED, "sometimes", RESTART_ENABLED),
            (RESTART_BACKOFF_INITIAL, "10", RESTART_BACKOFF_INITIAL),
            (RESTART_BACKOFF_MAX, "soon", RESTART_BACKOFF_MAX),
            // Longer than the default longest delay of 5 minutes.
            (RESTART_BACKOFF_INITIAL, "600000", RESTART_BACKOFF_MAX),
            (
                "weft.restart.failed.enable",
                "true",
                "weft.restart.failed.enable",
            ),
        ] {
            let mut m = map(&base);
            m.insert(k.into(), v.into());
            let e = ConnectorSpec::from_map(&m, &w, ConnectorType::Unknown).unwrap_err();
            assert!(e.names(bad), "{k}={v}: {e}");
        }
        let mut m = map(&base);
        m.remove("topics");
        let e = ConnectorSpec::from_map(&m, &w, ConnectorType::Unknown).unwrap_err();
        assert!(e.names("topics") && e.names("topics.regex"), "{e}");
        // A source needs no topics.
        let m = map(&[
            ("name", "s"),
            ("connector.class", "FileStreamSource"),
            ("topic", "t"),
        ]);
        let s = ConnectorSpec::from_map(&m, &w, ConnectorType::Unknown).unwrap();
        assert_eq!(s.topics, TopicSelection::None);
        assert_eq!(cfg(&s.connector, "topic"), Some("t"));
    }

    #[test]
    fn transforms_that_are_not_supported_yet_and_bad_predicates() {
        let w = worker(&[]);
        for (t, extra) in [
            // Without its $Key/$Value variant.
            (
                "org.apache.kafka.connect.transforms.TimestampConverter",
                None,
            ),
            ("org.apache.kafka.connect.transforms.Cast", None),
            (
                "org.apache.kafka.connect.transforms.RegexRouter",
                Some(("transforms.a.predicate", "nope")),
            ),
        ] {
            let mut m = map(&[
                ("name", "s"),
                ("connector.class", "FileStreamSource"),
                ("transforms", "a"),
                ("transforms.a.type", t),
            ]);
            if let Some((k, v)) = extra {
                m.insert(k.into(), v.into());
            }
            let e = ConnectorSpec::from_map(&m, &w, ConnectorType::Source).unwrap_err();
            assert!(
                e.names("transforms.a.type") || e.names("transforms.a.predicate"),
                "{t}: {e}"
            );
        }
    }

    #[test]
    fn key_variants_select_the_key() {
        let w = worker(&[]);
        let m = map(&[
            ("name", "s"),
            ("connector.class", "FileStreamSource"),
            ("transforms", "a"),
            (
                "transforms.a.type",
                "org.apache.kafka.connect.transforms.HoistField$Key",
            ),
            ("transforms.a.field", "id"),
        ]);
        let s = ConnectorSpec::from_map(&m, &w, ConnectorType::Source).unwrap();
        let c = &s.transforms[0].component;
        assert_eq!(c.plugin, "hoist-field");
        assert_eq!(cfg(c, "target"), Some("key"));
        assert_eq!(cfg(c, "field"), Some("id"));
    }

    #[test]
    fn override_policies() {
        let m = map(&[
            ("name", "s"),
            ("connector.class", "datagen"),
            ("producer.override.linger.ms", "5"),
            ("producer.override.sasl.mechanism", "PLAIN"),
        ]);
        let none = worker(&[("connector.client.config.override.policy", "None")]);
        let e = ConnectorSpec::from_map(&m, &none, ConnectorType::Source).unwrap_err();
        assert_eq!(e.errors.len(), 2, "{e}");
        assert!(e
            .to_string()
            .contains("The 'None' policy does not allow 'linger.ms'"));
        let principal = worker(&[("connector.client.config.override.policy", "Principal")]);
        let e = ConnectorSpec::from_map(&m, &principal, ConnectorType::Source).unwrap_err();
        assert_eq!(e.errors.len(), 1, "{e}");
        assert!(e.names("producer.override.linger.ms"));
        let s = ConnectorSpec::from_map(&m, &worker(&[]), ConnectorType::Source).unwrap();
        assert_eq!(s.producer_overrides.len(), 2);
    }

    #[test]
    fn explicit_filesystem_grant_is_left_alone() {
        let m = map(&[
            ("name", "s"),
            ("connector.class", "file-source"),
            ("file", "/in.txt"),
            ("topic", "t"),
            (KEY_FS_DIR, "/data"),
        ]);
        let s = ConnectorSpec::from_map(&m, &worker(&[]), ConnectorType::Unknown).unwrap();
        assert_eq!(cfg(&s.connector, "file"), Some("/in.txt"));
        assert_eq!(cfg(&s.connector, KEY_FS_DIR), Some("/data"));
    }
}
