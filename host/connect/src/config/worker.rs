//! [`WorkerConfig`] from a worker file's map: Kafka's standalone worker keys with Kafka's
//! defaults, each value checked (an invalid one is an error naming key and value), Kafka keys
//! that mean nothing to Weft accepted with a note, anything else reported as unknown.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use weft_runtime::config::PluginConfig;

use super::aliases;
use super::error::{ConfigError, Problems};
use super::{OverridePolicy, PluginRef, WorkerConfig, WorkerExactlyOnce};
use crate::model::ConfigMap;

pub const BOOTSTRAP_SERVERS: &str = "bootstrap.servers";
pub const KEY_CONVERTER: &str = "key.converter";
pub const VALUE_CONVERTER: &str = "value.converter";
pub const HEADER_CONVERTER: &str = "header.converter";
pub const OFFSET_FILE: &str = "offset.storage.file.filename";
pub const OFFSET_FLUSH_INTERVAL: &str = "offset.flush.interval.ms";
pub const LISTENERS: &str = "listeners";
pub const REST_HOST_NAME: &str = "rest.host.name";
pub const REST_PORT: &str = "rest.port";
pub const PLUGIN_PATH: &str = "plugin.path";
pub const OVERRIDE_POLICY: &str = "connector.client.config.override.policy";
pub const TASK_SHUTDOWN_TIMEOUT: &str = "task.shutdown.graceful.timeout.ms";
/// Weft's: where REST-created connectors are kept in standalone mode.
pub const STATE_DIR: &str = "weft.connect.state.dir";

/// Kafka's defaults (standalone).
pub const DEFAULT_BOOTSTRAP_SERVERS: &str = "localhost:9092";
pub const DEFAULT_OFFSET_FLUSH_INTERVAL_MS: u64 = 60_000;
pub const DEFAULT_LISTENER: &str = "http://:8083";
pub const DEFAULT_TASK_SHUTDOWN_TIMEOUT_MS: u64 = 5_000;
/// Kafka requires `key.converter`/`value.converter`; Weft defaults them to JsonConverter
/// (schemas enabled, JsonConverter's own default) so `weft up` needs no file.
pub const DEFAULT_CONVERTER: &str = "org.apache.kafka.connect.json.JsonConverter";
pub const DEFAULT_HEADER_CONVERTER: &str = "org.apache.kafka.connect.storage.SimpleHeaderConverter";

/// Kafka worker keys Weft accepts but does not act on (distributed mode, JMX, REST extensions,
/// TLS of the worker's own clients...): noted, not reported as unknown.
const IGNORED_KAFKA_KEYS: &[&str] = &[
    "client.dns.lookup",
    "offset.flush.timeout.ms",
    "plugin.discovery",
    "config.providers",
    "metrics.sample.window.ms",
    "metrics.num.samples",
    "metrics.recording.level",
    "metric.reporters",
    "auto.include.jmx.reporter",
    "topic.tracking.enable",
    "topic.tracking.allow.reset",
    "topic.creation.enable",
    "rest.advertised.host.name",
    "rest.advertised.port",
    "rest.advertised.listener",
    "access.control.allow.origin",
    "access.control.allow.methods",
    "admin.listeners",
    "rest.extension.classes",
    "response.http.headers.config",
    "client.id",
    "security.protocol",
    "task.shutdown.graceful.timeout.ms.deprecated",
    "internal.key.converter",
    "internal.value.converter",
];

/// Prefixes of Kafka worker keys Weft accepts without acting on them.
const IGNORED_KAFKA_PREFIXES: &[&str] = &[
    "config.providers.",
    "ssl.",
    "sasl.",
    "listeners.https.",
    "admin.listeners.https.",
    "metrics.context.",
];

pub(crate) fn parse_bool(v: &str) -> Option<bool> {
    match v.trim().to_ascii_lowercase().as_str() {
        "true" => Some(true),
        "false" => Some(false),
        _ => None,
    }
}

pub(crate) fn parse_long(v: &str) -> Option<i64> {
    v.trim().parse().ok()
}

pub(crate) fn parse_list(v: &str) -> Vec<String> {
    v.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

/// The keys under `prefix`, prefix stripped.
pub(crate) fn with_prefix(map: &ConfigMap, prefix: &str) -> BTreeMap<String, String> {
    map.iter()
        .filter_map(|(k, v)| k.strip_prefix(prefix).map(|r| (r.to_string(), v.clone())))
        .filter(|(k, _)| !k.is_empty())
        .collect()
}

/// A converter key and its `<key>.*` settings as a component reference.
pub(crate) fn converter_ref(
    map: &ConfigMap,
    key: &str,
    default: Option<&str>,
    header: bool,
    problems: &mut Problems,
) -> Option<PluginRef> {
    let class = map.get(key).map(String::as_str).or(default)?;
    let resolved = if header {
        aliases::header_converter_plugin(class)
    } else {
        aliases::converter_plugin(class)
    };
    match resolved {
        Ok(plugin) => Some(PluginRef {
            plugin,
            config: with_prefix(map, &format!("{key}.")).into_iter().collect(),
        }),
        Err(e) => {
            problems.add(key, Some(class), e);
            None
        }
    }
}

/// Whether a `plugin.path` entry is Java's (a jar, or a directory of jars or classes) rather
/// than a directory of `.wasm` components.
fn is_java_path(p: &Path) -> bool {
    let is_java_file = |p: &Path| {
        matches!(
            p.extension().and_then(|e| e.to_str()),
            Some("jar" | "zip" | "class")
        )
    };
    if p.is_file() {
        return is_java_file(p);
    }
    let Ok(entries) = std::fs::read_dir(p) else {
        return false;
    };
    let mut has_wasm = false;
    let mut has_java = false;
    // Bounded: a huge directory is judged on its first entries.
    for e in entries.flatten().take(10_000) {
        let path = e.path();
        if path.extension().and_then(|e| e.to_str()) == Some("wasm") {
            has_wasm = true;
        } else if is_java_file(&path) || path.is_dir() {
            has_java = true;
        }
    }
    has_java && !has_wasm
}

fn rest_listeners(map: &ConfigMap, problems: &mut Problems) -> Vec<String> {
    let urls = match map.get(LISTENERS) {
        Some(v) => parse_list(v),
        None => match (map.get(REST_HOST_NAME), map.get(REST_PORT)) {
            (None, None) => vec![DEFAULT_LISTENER.to_string()],
            (host, port) => vec![format!(
                "http://{}:{}",
                host.map(|h| h.trim()).unwrap_or(""),
                port.map(|p| p.trim()).unwrap_or("8083")
            )],
        },
    };
    let key = if map.contains_key(LISTENERS) || !map.contains_key(REST_PORT) {
        LISTENERS
    } else {
        REST_PORT
    };
    let mut out = Vec::new();
    for url in &urls {
        match listener_address(url) {
            Ok(a) => out.push(a),
            Err(e) => problems.add(key, Some(url), e),
        }
    }
    if out.is_empty() && !urls.is_empty() {
        return out;
    }
    if urls.is_empty() {
        problems.add(key, map.get(key).map(String::as_str), "no listener given");
    }
    out
}

/// `http://host:port` (host empty: every interface) → `host:port` for a socket bind.
pub fn listener_address(url: &str) -> Result<String, String> {
    let rest = if let Some(r) = url.strip_prefix("http://") {
        r
    } else if url.starts_with("https://") {
        return Err("https listeners are not supported yet (use http://)".into());
    } else {
        return Err("expected a listener URL such as http://:8083".into());
    };
    let rest = rest.trim_end_matches('/');
    let (host, port) = rest
        .rsplit_once(':')
        .ok_or_else(|| "the listener has no port".to_string())?;
    let port: u16 = port
        .parse()
        .map_err(|_| format!("`{port}` is not a port number"))?;
    let host = match host {
        "" | "0.0.0.0" => "0.0.0.0".to_string(),
        h if h.starts_with('[') => h.to_string(),
        h if h.contains(':') => format!("[{h}]"),
        h => h.to_string(),
    };
    Ok(format!("{host}:{port}"))
}

fn duration_ms(map: &ConfigMap, key: &str, default: u64, problems: &mut Problems) -> Duration {
    match map.get(key) {
        None => Duration::from_millis(default),
        Some(v) => match parse_long(v) {
            Some(n) if n >= 0 => Duration::from_millis(n as u64),
            Some(_) => {
                problems.add(key, Some(v), "Value must be at least 0");
                Duration::from_millis(default)
            }
            None => {
                problems.add(key, Some(v), "Expected value to be a 64-bit integer (long)");
                Duration::from_millis(default)
            }
        },
    }
}

/// `connector.client.config.override.policy`, by Connect's short or full class name.
pub fn parse_override_policy(v: &str) -> Option<OverridePolicy> {
    let simple = v
        .trim()
        .strip_prefix("org.apache.kafka.connect.connector.policy.")
        .unwrap_or(v.trim());
    let simple = simple
        .strip_suffix("ConnectorClientConfigOverridePolicy")
        .unwrap_or(simple);
    match simple {
        "All" => Some(OverridePolicy::All),
        "None" => Some(OverridePolicy::None),
        "Principal" => Some(OverridePolicy::Principal),
        _ => None,
    }
}

fn is_sandbox_key(k: &str) -> bool {
    k.starts_with("plugin.") && k != PLUGIN_PATH && k != "plugin.discovery"
}

/// Checks `plugin.*` sandbox keys with the runtime's own parser, naming key and value.
pub(crate) fn check_sandbox(
    entries: &BTreeMap<String, String>,
    key_prefix: &str,
    problems: &mut Problems,
) {
    for (k, v) in entries {
        let one = PluginConfig::new([(k.clone(), v.clone())]);
        let known = matches!(
            k.as_str(),
            weft_runtime::config::KEY_MEMORY
                | weft_runtime::config::KEY_INSTANCES
                | weft_runtime::config::KEY_MEMORIES
                | weft_runtime::config::KEY_TABLES
                | weft_runtime::config::KEY_TABLE_ELEMENTS
                | weft_runtime::config::KEY_TIMEOUT
                | weft_runtime::config::KEY_FUEL
        );
        let full = format!("{key_prefix}{k}");
        if !known {
            problems.add(
                &full,
                Some(v),
                "unknown sandbox setting (plugin.memory.max.bytes, plugin.call.timeout.ms, \
                 plugin.instances.max, plugin.memories.max, plugin.tables.max, \
                 plugin.table.elements.max, plugin.fuel)",
            );
        } else if let Err(e) = one.sandbox() {
            let msg = match e {
                weft_runtime::RuntimeError::Config { message, .. } => message,
                other => other.to_string(),
            };
            problems.add(&full, Some(v), msg);
        }
    }
}

impl WorkerConfig {
    /// A worker config from a worker file's map, relative paths resolved against the process's
    /// working directory.
    pub fn from_map(map: &ConfigMap) -> Result<WorkerConfig, ConfigError> {
        let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
        Self::from_map_in(map, &cwd)
    }

    /// The config `weft up` runs with: every default, the offsets and the connector state in
    /// `data_dir`, REST on `listener` (`http://host:port`).
    pub fn embedded(data_dir: &Path, bootstrap: &str, listener: &str) -> Result<Self, ConfigError> {
        let mut m = ConfigMap::new();
        m.insert(BOOTSTRAP_SERVERS.into(), bootstrap.into());
        m.insert(LISTENERS.into(), listener.into());
        m.insert(
            OFFSET_FILE.into(),
            data_dir.join("connect.offsets").display().to_string(),
        );
        m.insert(
            STATE_DIR.into(),
            data_dir.join("connect-state").display().to_string(),
        );
        Self::from_map_in(&m, data_dir)
    }

    /// A worker config from a map, relative paths resolved against `work_dir`.
    pub fn from_map_in(map: &ConfigMap, work_dir: &Path) -> Result<WorkerConfig, ConfigError> {
        let mut p = Problems::default();
        let mut notes = Vec::new();
        let mut unknown_keys = Vec::new();
        let resolve = |s: &str| -> PathBuf {
            let path = PathBuf::from(s.trim());
            if path.is_absolute() {
                path
            } else {
                work_dir.join(path)
            }
        };

        let bootstrap_servers = map
            .get(BOOTSTRAP_SERVERS)
            .map(|s| parse_list(s).join(","))
            .unwrap_or_else(|| DEFAULT_BOOTSTRAP_SERVERS.to_string());
        if bootstrap_servers.is_empty() {
            p.add(
                BOOTSTRAP_SERVERS,
                map.get(BOOTSTRAP_SERVERS).map(String::as_str),
                "at least one host:port is required",
            );
        }
        let key_converter =
            converter_ref(map, KEY_CONVERTER, Some(DEFAULT_CONVERTER), false, &mut p);
        let value_converter =
            converter_ref(map, VALUE_CONVERTER, Some(DEFAULT_CONVERTER), false, &mut p);
        let header_converter = converter_ref(
            map,
            HEADER_CONVERTER,
            Some(DEFAULT_HEADER_CONVERTER),
            true,
            &mut p,
        );
        let offset_file = match map.get(OFFSET_FILE).map(|s| s.trim()) {
            Some(f) if !f.is_empty() => resolve(f),
            other => {
                p.add(
                    OFFSET_FILE,
                    other,
                    "Missing required configuration \"offset.storage.file.filename\" which has \
                     no default value",
                );
                PathBuf::new()
            }
        };
        let offset_flush_interval = duration_ms(
            map,
            OFFSET_FLUSH_INTERVAL,
            DEFAULT_OFFSET_FLUSH_INTERVAL_MS,
            &mut p,
        );
        let rest_listeners = rest_listeners(map, &mut p);

        let mut plugin_path = Vec::new();
        if let Some(v) = map.get(PLUGIN_PATH) {
            for entry in parse_list(v) {
                let path = resolve(&entry);
                if !path.exists() {
                    notes.push(format!(
                        "plugin.path entry {} does not exist; ignored",
                        path.display()
                    ));
                } else if is_java_path(&path) {
                    notes.push(format!(
                        "plugin.path entry {} holds Java plugins (jars or classes); ignored: \
                         Weft loads WebAssembly components",
                        path.display()
                    ));
                } else if path.is_file() {
                    notes.push(format!(
                        "plugin.path entry {} is a file, not a directory; ignored",
                        path.display()
                    ));
                } else {
                    plugin_path.push(path);
                }
            }
        }

        let override_policy = match map.get(OVERRIDE_POLICY) {
            None => OverridePolicy::All,
            Some(v) => parse_override_policy(v).unwrap_or_else(|| {
                p.add(OVERRIDE_POLICY, Some(v), "expected All, None or Principal");
                OverridePolicy::All
            }),
        };
        let task_shutdown_timeout = duration_ms(
            map,
            TASK_SHUTDOWN_TIMEOUT,
            DEFAULT_TASK_SHUTDOWN_TIMEOUT_MS,
            &mut p,
        );
        let exactly_once = WorkerExactlyOnce::read(map, &mut notes, &mut p);
        let sandbox: BTreeMap<String, String> = map
            .iter()
            .filter(|(k, _)| is_sandbox_key(k))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        check_sandbox(&sandbox, "", &mut p);
        let state_dir = match map.get(STATE_DIR).map(|s| s.trim()) {
            Some(d) if !d.is_empty() => resolve(d),
            _ => offset_file
                .parent()
                .map(|d| d.join("weft-connect-state"))
                .unwrap_or_else(|| work_dir.join("weft-connect-state")),
        };

        for (k, v) in map {
            let known = matches!(
                k.as_str(),
                BOOTSTRAP_SERVERS
                    | KEY_CONVERTER
                    | VALUE_CONVERTER
                    | HEADER_CONVERTER
                    | OFFSET_FILE
                    | OFFSET_FLUSH_INTERVAL
                    | LISTENERS
                    | REST_HOST_NAME
                    | REST_PORT
                    | PLUGIN_PATH
                    | OVERRIDE_POLICY
                    | TASK_SHUTDOWN_TIMEOUT
                    | STATE_DIR
            ) || is_sandbox_key(k)
                || WorkerExactlyOnce::is_key(k)
                || ["key.converter.", "value.converter.", "header.converter."]
                    .iter()
                    .any(|pre| k.starts_with(pre))
                || ["producer.", "consumer.", "admin."]
                    .iter()
                    .any(|pre| k.starts_with(pre) && k.len() > pre.len());
            if known {
                continue;
            }
            let ignored = IGNORED_KAFKA_KEYS.contains(&k.as_str())
                || IGNORED_KAFKA_PREFIXES.iter().any(|pre| k.starts_with(pre));
            if ignored {
                notes.push(format!(
                    "{k}={v}: a Kafka worker setting Weft does not use; ignored"
                ));
            } else {
                unknown_keys.push(k.clone());
            }
        }

        p.into_result(())?;
        Ok(WorkerConfig {
            bootstrap_servers,
            key_converter: key_converter.unwrap_or_else(default_ref),
            value_converter: value_converter.unwrap_or_else(default_ref),
            header_converter: header_converter.unwrap_or_else(default_ref),
            offset_file,
            offset_flush_interval,
            rest_listeners,
            plugin_path,
            producer: with_prefix(map, "producer."),
            consumer: with_prefix(map, "consumer."),
            admin: with_prefix(map, "admin."),
            override_policy,
            task_shutdown_timeout,
            exactly_once,
            sandbox,
            state_dir,
            work_dir: work_dir.to_path_buf(),
            unknown_keys,
            notes,
        })
    }
}

// Only reached for a converter that failed to resolve, which `into_result` has already turned
// into an error; kept so the construction above needs no unwrap.
fn default_ref() -> PluginRef {
    PluginRef {
        plugin: String::new(),
        config: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::test_map as map;

    #[test]
    fn defaults_are_kafkas() {
        let dir = tempfile::tempdir().unwrap();
        let w = WorkerConfig::from_map_in(&map(&[(OFFSET_FILE, "offs")]), dir.path()).unwrap();
        assert_eq!(w.bootstrap_servers, "localhost:9092");
        assert_eq!(w.offset_file, dir.path().join("offs"));
        assert_eq!(w.offset_flush_interval, Duration::from_secs(60));
        assert_eq!(w.rest_listeners, vec!["0.0.0.0:8083".to_string()]);
        assert_eq!(w.task_shutdown_timeout, Duration::from_secs(5));
        assert_eq!(w.override_policy, OverridePolicy::All);
        assert_eq!(w.value_converter.plugin, "json-converter");
        assert_eq!(
            w.header_converter.plugin,
            aliases::PASSTHROUGH_HEADER_CONVERTER
        );
        assert_eq!(w.state_dir, dir.path().join("weft-connect-state"));
        assert!(w.unknown_keys.is_empty());
    }

    #[test]
    fn every_key_read() {
        let dir = tempfile::tempdir().unwrap();
        let jars = dir.path().join("jars");
        std::fs::create_dir(&jars).unwrap();
        std::fs::write(jars.join("a.jar"), b"PK").unwrap();
        let wasm = dir.path().join("wasm");
        std::fs::create_dir(&wasm).unwrap();
        std::fs::write(wasm.join("c.wasm"), b"\0asm").unwrap();
        let w = WorkerConfig::from_map_in(
            &map(&[
                (BOOTSTRAP_SERVERS, "a:1, b:2"),
                (KEY_CONVERTER, "org.apache.kafka.connect.storage.StringConverter"),
                (VALUE_CONVERTER, "org.apache.kafka.connect.json.JsonConverter"),
                ("value.converter.schemas.enable", "false"),
                (OFFSET_FILE, "/tmp/x.offsets"),
                (OFFSET_FLUSH_INTERVAL, "10000"),
                (LISTENERS, "http://127.0.0.1:18083,http://:18084"),
                (PLUGIN_PATH, "jars, wasm, /nonexistent/x.jar"),
                ("producer.linger.ms", "5"),
                ("consumer.max.poll.records", "10"),
                ("admin.request.timeout.ms", "1000"),
                (OVERRIDE_POLICY, "org.apache.kafka.connect.connector.policy.PrincipalConnectorClientConfigOverridePolicy"),
                (TASK_SHUTDOWN_TIMEOUT, "100"),
                ("plugin.memory.max.bytes", "1048576"),
                ("plugin.call.timeout.ms", "200"),
                (STATE_DIR, "state"),
                ("topic.creation.enable", "true"),
                ("no.such.key", "1"),
            ]),
            dir.path(),
        )
        .unwrap();
        assert_eq!(w.bootstrap_servers, "a:1,b:2");
        assert_eq!(w.key_converter.plugin, "string-converter");
        assert_eq!(
            w.value_converter.config,
            vec![("schemas.enable".to_string(), "false".to_string())]
        );
        assert_eq!(w.offset_flush_interval, Duration::from_secs(10));
        assert_eq!(
            w.rest_listeners,
            vec!["127.0.0.1:18083".to_string(), "0.0.0.0:18084".to_string()]
        );
        assert_eq!(w.plugin_path, vec![wasm]);
        assert_eq!(
            w.notes.iter().filter(|n| n.contains("plugin.path")).count(),
            2
        );
        assert!(w.notes.iter().any(|n| n.contains("topic.creation.enable")));
        assert_eq!(w.producer.get("linger.ms").map(String::as_str), Some("5"));
        assert_eq!(
            w.consumer.get("max.poll.records").map(String::as_str),
            Some("10")
        );
        assert_eq!(
            w.admin.get("request.timeout.ms").map(String::as_str),
            Some("1000")
        );
        assert_eq!(w.override_policy, OverridePolicy::Principal);
        assert_eq!(w.task_shutdown_timeout, Duration::from_millis(100));
        assert_eq!(w.sandbox.len(), 2);
        assert_eq!(w.state_dir, dir.path().join("state"));
        assert_eq!(w.unknown_keys, vec!["no.such.key".to_string()]);
    }

    #[test]
    fn rest_port_and_host_name() {
        let w = WorkerConfig::from_map_in(
            &map(&[(OFFSET_FILE, "/o"), (REST_PORT, "9999")]),
            Path::new("/"),
        )
        .unwrap();
        assert_eq!(w.rest_listeners, vec!["0.0.0.0:9999".to_string()]);
    }

    #[test]
    fn invalid_values_name_key_and_value() {
        for (k, v) in [
            (OFFSET_FLUSH_INTERVAL, "soon"),
            (OFFSET_FLUSH_INTERVAL, "-1"),
            (TASK_SHUTDOWN_TIMEOUT, "x"),
            (LISTENERS, "ftp://x:1"),
            (LISTENERS, "http://:99999"),
            (OVERRIDE_POLICY, "Some"),
            (KEY_CONVERTER, "io.confluent.connect.avro.AvroConverter"),
            (HEADER_CONVERTER, "io.confluent.connect.avro.AvroConverter"),
            ("plugin.memory.max.bytes", "lots"),
            ("plugin.memmory.max.bytes", "1"),
        ] {
            let e = WorkerConfig::from_map_in(&map(&[(OFFSET_FILE, "/o"), (k, v)]), Path::new("/"))
                .unwrap_err();
            assert!(e.names(k), "{k}={v}: {e}");
            let s = e.to_string();
            assert!(s.contains(k) && s.contains(v), "{s}");
        }
        let e = WorkerConfig::from_map_in(&ConfigMap::new(), Path::new("/")).unwrap_err();
        assert!(e.names(OFFSET_FILE), "{e}");
    }
}
