//! Connect's own connector keys as `ConfigKeyInfo` definitions (types, defaults, importance,
//! groups and order as Kafka's `ConnectorConfig`/`SinkConnectorConfig` define them), and a
//! connector config validated against them into `ConfigInfos`, the body of
//! `PUT /connector-plugins/{p}/config/validate` and of a 400 on create. The herder appends the
//! component's own keys and errors.

use super::connector::{self, *};
use super::error::KeyError;
use super::worker::parse_list;
use super::WorkerConfig;
use crate::model::{
    ConfigInfo, ConfigInfos, ConfigKeyInfo, ConfigMap, ConfigValueInfo, ConnectorType,
};

pub const COMMON_GROUP: &str = "Common";
pub const TRANSFORMS_GROUP: &str = "Transforms";
pub const PREDICATES_GROUP: &str = "Predicates";
pub const ERROR_GROUP: &str = "Error Handling";

#[allow(clippy::too_many_arguments)]
fn def(
    name: &str,
    kind: &str,
    default: Option<&str>,
    required: bool,
    importance: &str,
    doc: &str,
    group: &str,
    order: i32,
    width: &str,
    display: &str,
) -> ConfigKeyInfo {
    ConfigKeyInfo {
        name: name.to_string(),
        kind: kind.to_string(),
        required,
        default_value: default.map(str::to_string),
        importance: importance.to_string(),
        documentation: doc.to_string(),
        group: Some(group.to_string()),
        width: width.to_string(),
        display_name: display.to_string(),
        dependents: Vec::new(),
        order,
    }
}

/// Connect's connector keys for a source or a sink, plus the per-alias keys of the
/// `transforms` and `predicates` that `config` lists.
pub fn connector_config_defs(is_sink: bool, config: &ConfigMap) -> Vec<ConfigKeyInfo> {
    let conv_doc = "Converter class used to convert between Kafka Connect format and the \
                    serialized form that is written to Kafka.";
    let mut v = vec![
        def(NAME, "STRING", None, true, "HIGH", "Globally unique name to use for this connector.", COMMON_GROUP, 1, "MEDIUM", "Connector name"),
        def(CONNECTOR_CLASS, "STRING", None, true, "HIGH", "Name or alias of the class for this connector: a built-in component (file-source, file-sink, datagen), a .wasm path, or Kafka's FileStreamSource/FileStreamSink.", COMMON_GROUP, 2, "LONG", "Connector class"),
        def(TASKS_MAX, "INT", Some("1"), false, "HIGH", "Maximum number of tasks to use for this connector.", COMMON_GROUP, 3, "SHORT", "Tasks max"),
        def(TASKS_MAX_ENFORCE, "BOOLEAN", Some("true"), false, "LOW", "(Deprecated) Whether to enforce that the tasks.max property is respected by the connector.", COMMON_GROUP, 4, "SHORT", "Enforce tasks max"),
        def(KEY_CONVERTER, "CLASS", None, false, "LOW", conv_doc, COMMON_GROUP, 5, "SHORT", "Key converter class"),
        def(VALUE_CONVERTER, "CLASS", None, false, "LOW", conv_doc, COMMON_GROUP, 6, "SHORT", "Value converter class"),
        def(HEADER_CONVERTER, "CLASS", None, false, "LOW", "HeaderConverter class used to convert between Kafka Connect format and the serialized form that is written to Kafka.", COMMON_GROUP, 7, "SHORT", "Header converter class"),
        def(TRANSFORMS, "LIST", Some(""), false, "LOW", "Aliases for the transformations to be applied to records.", TRANSFORMS_GROUP, 8, "LONG", "Transforms"),
        def(PREDICATES, "LIST", Some(""), false, "LOW", "Aliases for the predicates used by transformations.", PREDICATES_GROUP, 9, "LONG", "Predicates"),
        def(CONFIG_RELOAD_ACTION, "STRING", Some("restart"), false, "LOW", "The action that Connect should take on the connector when changes in external configuration providers result in a change in the connector's configuration properties.", COMMON_GROUP, 10, "MEDIUM", "Reload Action"),
        def(ERRORS_RETRY_TIMEOUT, "LONG", Some("0"), false, "MEDIUM", "The maximum duration in milliseconds that a failed operation will be reattempted. The default is 0, which means no retries will be attempted. Use -1 for infinite retries.", ERROR_GROUP, 1, "MEDIUM", "Retry Timeout for Errors"),
        def(ERRORS_RETRY_DELAY_MAX, "LONG", Some("60000"), false, "MEDIUM", "The maximum duration in milliseconds between consecutive retry attempts.", ERROR_GROUP, 2, "MEDIUM", "Maximum Delay Between Retries for Errors"),
        def(ERRORS_TOLERANCE, "STRING", Some("none"), false, "MEDIUM", "Behavior for tolerating errors during connector operation. 'none' is the default value and signals that any error will result in an immediate connector task failure; 'all' changes the behavior to skip over problematic records.", ERROR_GROUP, 3, "SHORT", "Error Tolerance"),
        def(ERRORS_LOG_ENABLE, "BOOLEAN", Some("false"), false, "MEDIUM", "If true, write each error and the details of the failed operation and problematic record to the Connect application log.", ERROR_GROUP, 4, "SHORT", "Log Errors"),
        def(ERRORS_LOG_INCLUDE_MESSAGES, "BOOLEAN", Some("false"), false, "MEDIUM", "Whether to include in the log the Connect record that resulted in a failure.", ERROR_GROUP, 5, "SHORT", "Log Error Details"),
        def(RESTART_ENABLED, "BOOLEAN", Some("false"), false, "MEDIUM", "Weft: restart this connector and its tasks by themselves when they fail, waiting a delay that doubles with each failure. Off by default, as in Kafka Connect (a FAILED task waits for the restart endpoint).", ERROR_GROUP, 20, "SHORT", "Restart Failed Automatically"),
        def(RESTART_BACKOFF_INITIAL, "LONG", Some("1000"), false, "LOW", "Weft: the wait before the first automatic restart, in milliseconds (at least 100).", ERROR_GROUP, 21, "SHORT", "First Restart Delay"),
        def(RESTART_BACKOFF_MAX, "LONG", Some("300000"), false, "LOW", "Weft: the longest wait between automatic restarts, in milliseconds; a connector or task that runs this long without failing starts again from the first delay.", ERROR_GROUP, 22, "SHORT", "Longest Restart Delay"),
    ];
    if is_sink {
        v.extend([
            def(TOPICS, "LIST", Some(""), false, "HIGH", "List of topics to consume, separated by commas", COMMON_GROUP, 4, "LONG", "Topics"),
            def(TOPICS_REGEX, "STRING", Some(""), false, "HIGH", "Regular expression giving topics to consume.", COMMON_GROUP, 4, "LONG", "Topics regex"),
            def(DLQ_TOPIC, "STRING", Some(""), false, "MEDIUM", "The name of the topic to be used as the dead letter queue (DLQ) for messages that result in an error when processed by this sink connector, or its transformations or converters.", ERROR_GROUP, 6, "MEDIUM", "Dead Letter Queue Topic Name"),
            def(DLQ_REPLICATION_FACTOR, "SHORT", Some("3"), false, "MEDIUM", "Replication factor used to create the dead letter queue topic when it doesn't already exist.", ERROR_GROUP, 7, "MEDIUM", "Dead Letter Queue Topic Replication Factor"),
            def(DLQ_CONTEXT_HEADERS, "BOOLEAN", Some("false"), false, "MEDIUM", "If true, add headers containing error context to the messages written to the dead letter queue.", ERROR_GROUP, 8, "MEDIUM", "Enable Error Context Headers"),
        ]);
    }
    if !is_sink {
        use super::exactly_once::{
            BOUNDARY, BOUNDARY_INTERVAL, CONNECTOR_OFFSETS_TOPIC, CONNECTOR_SUPPORT,
        };
        const EOS_GROUP: &str = "Exactly Once Support";
        v.extend([
            def(CONNECTOR_SUPPORT, "STRING", Some("requested"), false, "MEDIUM", "Permitted values are requested, required. If set to \"required\", the connector is checked for exactly-once support with the given configuration before it is created, and refused without it (the worker's exactly.once.source.support must be enabled).", EOS_GROUP, 1, "SHORT", "Exactly once support requirement"),
            def(BOUNDARY, "STRING", Some("poll"), false, "MEDIUM", "Permitted values are poll, interval, connector. With exactly-once source support, \"poll\" commits a transaction for every batch of records a task polls, \"interval\" commits one every transaction.boundary.interval.ms; \"connector\" (connector-defined boundaries) is supported by no built-in connector.", EOS_GROUP, 2, "SHORT", "Transaction boundary"),
            def(BOUNDARY_INTERVAL, "LONG", None, false, "LOW", "With transaction.boundary=interval, how often a transaction is committed, in milliseconds; defaults to the worker's offset.flush.interval.ms.", EOS_GROUP, 3, "SHORT", "Transaction boundary interval"),
            def(CONNECTOR_OFFSETS_TOPIC, "STRING", None, false, "LOW", "The topic this connector's source offsets are committed to with exactly-once source support; defaults to the worker's offset.storage.topic.", "offsets.topic", 1, "LONG", "Offsets topic"),
        ]);
    }
    let list = |k: &str| config.get(k).map(|s| parse_list(s)).unwrap_or_default();
    for a in list(TRANSFORMS) {
        let group = format!("Transforms: {a}");
        v.extend([
            def(
                &format!("transforms.{a}.type"),
                "CLASS",
                None,
                true,
                "HIGH",
                "Class for the 'transformation' transformation.",
                &group,
                0,
                "LONG",
                &format!("Transformation type for {a}"),
            ),
            def(
                &format!("transforms.{a}.predicate"),
                "STRING",
                None,
                false,
                "MEDIUM",
                "The alias of a predicate used to determine whether to apply this transformation.",
                &group,
                1,
                "NONE",
                "predicate",
            ),
            def(
                &format!("transforms.{a}.negate"),
                "BOOLEAN",
                Some("false"),
                false,
                "MEDIUM",
                "Whether the configured predicate should be negated.",
                &group,
                2,
                "NONE",
                "negate",
            ),
        ]);
    }
    for a in list(PREDICATES) {
        let group = format!("Predicates: {a}");
        v.push(def(
            &format!("predicates.{a}.type"),
            "CLASS",
            None,
            true,
            "HIGH",
            "Class for the 'predicate' predicate.",
            &group,
            0,
            "LONG",
            &format!("Predicate type for {a}"),
        ));
    }
    v
}

/// Validates a connector config against Connect's keys. `kind` as for
/// [`super::ConnectorSpec::from_map`]. The herder adds the component's own validation.
pub fn validate_connector_config(
    config: &ConfigMap,
    worker: &WorkerConfig,
    kind: ConnectorType,
) -> ConfigInfos {
    let (spec, problems) = connector::read(config, worker, kind);
    let is_sink = match kind {
        ConnectorType::Sink => true,
        ConnectorType::Source => false,
        ConnectorType::Unknown => {
            super::aliases::builtin_is_sink(&spec.connector.plugin).unwrap_or(false)
        }
    };
    let defs = connector_config_defs(is_sink, config);
    let mut groups: Vec<String> = Vec::new();
    let mut configs = Vec::new();
    let errors_for = |key: &str| -> Vec<String> {
        problems
            .errors
            .iter()
            .filter(|e| e.key == key)
            .map(KeyError::to_string)
            .collect()
    };
    for d in defs {
        if let Some(g) = &d.group {
            if !groups.contains(g) {
                groups.push(g.clone());
            }
        }
        let value = config
            .get(&d.name)
            .cloned()
            .or_else(|| d.default_value.clone());
        configs.push(ConfigInfo {
            value: ConfigValueInfo {
                name: d.name.clone(),
                value,
                recommended_values: Vec::new(),
                errors: errors_for(&d.name),
                visible: true,
            },
            definition: d,
        });
    }
    // Problems with keys outside the definitions (a transform's own key, a client override,
    // a sandbox key) still appear, each under a plain definition.
    let mut extra: Vec<&str> = problems
        .errors
        .iter()
        .map(|e| e.key.as_str())
        .filter(|k| !configs.iter().any(|c| c.definition.name == *k))
        .collect();
    extra.dedup();
    for k in extra {
        configs.push(ConfigInfo {
            definition: ConfigKeyInfo {
                name: k.to_string(),
                kind: "STRING".into(),
                required: false,
                default_value: None,
                importance: "LOW".into(),
                documentation: String::new(),
                group: None,
                width: "NONE".into(),
                display_name: k.to_string(),
                dependents: Vec::new(),
                order: -1,
            },
            value: ConfigValueInfo {
                name: k.to_string(),
                value: config.get(k).cloned(),
                recommended_values: Vec::new(),
                errors: errors_for(k),
                visible: true,
            },
        });
    }
    let error_count = configs.iter().map(|c| c.value.errors.len() as u32).sum();
    ConfigInfos {
        name: config.get(CONNECTOR_CLASS).cloned().unwrap_or_default(),
        error_count,
        groups,
        configs,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::test_map as map;
    use std::path::Path;

    fn worker() -> WorkerConfig {
        WorkerConfig::from_map_in(
            &map(&[("offset.storage.file.filename", "/o")]),
            Path::new("/"),
        )
        .unwrap()
    }

    #[test]
    fn valid_sink_has_no_errors_and_connects_groups() {
        let c = map(&[
            ("name", "s"),
            ("connector.class", "FileStreamSink"),
            ("topics", "t"),
            ("transforms", "r"),
            (
                "transforms.r.type",
                "org.apache.kafka.connect.transforms.RegexRouter",
            ),
        ]);
        let v = validate_connector_config(&c, &worker(), ConnectorType::Unknown);
        assert_eq!(v.name, "FileStreamSink");
        assert_eq!(v.error_count, 0);
        assert_eq!(
            v.groups,
            [
                "Common",
                "Transforms",
                "Predicates",
                "Error Handling",
                "Transforms: r"
            ]
        );
        let tasks = v
            .configs
            .iter()
            .find(|c| c.definition.name == "tasks.max")
            .unwrap();
        assert_eq!(tasks.definition.kind, "INT");
        assert_eq!(tasks.definition.default_value.as_deref(), Some("1"));
        assert_eq!(tasks.value.value.as_deref(), Some("1"));
        assert!(v
            .configs
            .iter()
            .any(|c| c.definition.name == "errors.deadletterqueue.topic.name"));
        assert!(v
            .configs
            .iter()
            .any(|c| c.definition.name == "transforms.r.type"));
    }

    #[test]
    fn errors_are_counted_per_key() {
        let c = map(&[
            ("name", "s"),
            ("connector.class", "FileStreamSink"),
            ("tasks.max", "0"),
            ("producer.override.x", "1"),
        ]);
        let mut w = worker();
        w.override_policy = crate::config::OverridePolicy::None;
        let v = validate_connector_config(&c, &w, ConnectorType::Unknown);
        // tasks.max, topics and topics.regex (neither set), the override.
        assert_eq!(v.error_count, 4, "{v:#?}");
        let t = v
            .configs
            .iter()
            .find(|c| c.definition.name == "tasks.max")
            .unwrap();
        assert_eq!(t.value.value.as_deref(), Some("0"));
        assert!(t.value.errors[0].contains("at least 1"));
        assert!(v
            .configs
            .iter()
            .any(|c| c.definition.name == "producer.override.x" && c.value.errors.len() == 1));
    }
}
