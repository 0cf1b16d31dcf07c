//! Kafka Connect's class names mapped to Weft's built-in components, so Kafka's own config files
//! work unchanged: connectors, converters, header converters, single message transforms and
//! predicates. A short built-in name, `name@version` or a `.wasm` path is taken as it is; a Java
//! class with no counterpart yet is a clear "not supported yet" error, never a silent skip.

use super::Predicate;

const TRANSFORMS_PKG: &str = "org.apache.kafka.connect.transforms.";
const PREDICATES_PKG: &str = "org.apache.kafka.connect.transforms.predicates.";

/// The header converter name meaning "headers pass through as they are": Connect's
/// `SimpleHeaderConverter`, `StringConverter` and `ByteArrayConverter` as header converters. The
/// worker copies header bytes unchanged instead of loading a component.
pub const PASSTHROUGH_HEADER_CONVERTER: &str = "passthrough";

/// Built-in transforms with Connect's `$Key` and `$Value` variants, Kafka's simple class name
/// first. The variant becomes the component's `target` key (`key` or `value`).
const VALUE_TRANSFORMS: &[(&str, &str)] = &[
    ("InsertField", "insert-field"),
    ("MaskField", "mask-field"),
    ("ReplaceField", "replace-field"),
    ("ExtractField", "extract-field"),
    ("Cast", "cast"),
    ("Flatten", "flatten"),
    ("HoistField", "hoist-field"),
    ("HeaderFrom", "header-from"),
    ("TimestampConverter", "timestamp-converter"),
    ("SetSchemaMetadata", "set-schema-metadata"),
];

/// Built-in transforms whose Connect class has no `$Key`/`$Value` variant.
const PLAIN_TRANSFORMS: &[(&str, &str)] = &[
    ("ValueToKey", "value-to-key"),
    ("RegexRouter", "regex-router"),
    ("TimestampRouter", "timestamp-router"),
    ("DropHeaders", "drop-headers"),
    ("InsertHeader", "insert-header"),
    ("Filter", "filter"),
];

/// Connect's other standard transforms: recognised, but without a Weft component yet (none
/// today; a transform Kafka adds goes here until it has a component).
const UNSUPPORTED_TRANSFORMS: &[&str] = &[];

/// Whether `s` names a component directly: a `.wasm` path, a short name (`file-source`) or
/// `name@version`, rather than a Java class.
fn is_component_ref(s: &str) -> bool {
    s.ends_with(".wasm") || s.contains('/') || s.contains('@') || !s.contains('.')
}

/// The simple name of a class in `package` (`org.apache...transforms.InsertField$Value` and
/// `InsertField$Value` both give `InsertField$Value`), or `None` for a class elsewhere.
fn simple_name<'a>(class: &'a str, package: &str) -> Option<&'a str> {
    if let Some(rest) = class.strip_prefix(package) {
        return (!rest.contains('.')).then_some(rest);
    }
    (!class.contains('.')).then_some(class)
}

/// `connector.class` → the component to load.
pub fn connector_plugin(class: &str) -> Result<String, String> {
    let class = class.trim();
    let builtin = match class {
        "FileStreamSource"
        | "FileStreamSourceConnector"
        | "org.apache.kafka.connect.file.FileStreamSourceConnector" => Some("file-source"),
        "FileStreamSink"
        | "FileStreamSinkConnector"
        | "org.apache.kafka.connect.file.FileStreamSinkConnector" => Some("file-sink"),
        // MirrorMaker 2's three connectors are one component; it reads its role from the
        // `connector.class` it is given.
        "MirrorSourceConnector"
        | "MirrorCheckpointConnector"
        | "MirrorHeartbeatConnector"
        | "org.apache.kafka.connect.mirror.MirrorSourceConnector"
        | "org.apache.kafka.connect.mirror.MirrorCheckpointConnector"
        | "org.apache.kafka.connect.mirror.MirrorHeartbeatConnector" => Some("mirror"),
        _ => None,
    };
    if let Some(b) = builtin {
        return Ok(b.to_string());
    }
    if class.is_empty() {
        return Err("a connector class is required".into());
    }
    if is_component_ref(class) {
        return Ok(class.to_string());
    }
    Err(format!(
        "the Java connector {class} is not supported: Weft runs WebAssembly components \
         (a built-in such as file-source, file-sink or datagen, or a .wasm path)"
    ))
}

/// Whether a connector component is known to be a source or a sink from its name alone.
pub fn builtin_is_sink(plugin: &str) -> Option<bool> {
    match plugin {
        "file-source" | "datagen" | "mirror" => Some(false),
        "file-sink" => Some(true),
        _ => None,
    }
}

/// `key.converter` / `value.converter` → the component to load.
pub fn converter_plugin(class: &str) -> Result<String, String> {
    let class = class.trim();
    let builtin = match class {
        "org.apache.kafka.connect.json.JsonConverter" | "JsonConverter" => Some("json-converter"),
        "org.apache.kafka.connect.storage.StringConverter" | "StringConverter" => {
            Some("string-converter")
        }
        "org.apache.kafka.connect.converters.ByteArrayConverter" | "ByteArrayConverter" => {
            Some("bytearray-converter")
        }
        _ => None,
    };
    if let Some(b) = builtin {
        return Ok(b.to_string());
    }
    if class.is_empty() {
        return Err("a converter class is required".into());
    }
    if is_component_ref(class) {
        return Ok(class.to_string());
    }
    Err(format!(
        "the converter {class} is not supported yet (json-converter, string-converter, \
         bytearray-converter, or a .wasm path)"
    ))
}

/// `header.converter` → the component to load, or [`PASSTHROUGH_HEADER_CONVERTER`]. Kafka's
/// `JsonConverter` is a header converter too (each header value as JSON), as in Connect.
pub fn header_converter_plugin(class: &str) -> Result<String, String> {
    let class = class.trim();
    match class {
        "org.apache.kafka.connect.json.JsonConverter" | "JsonConverter" => {
            Ok("json-converter".to_string())
        }
        "org.apache.kafka.connect.storage.SimpleHeaderConverter"
        | "SimpleHeaderConverter"
        | "org.apache.kafka.connect.storage.StringConverter"
        | "StringConverter"
        | "org.apache.kafka.connect.converters.ByteArrayConverter"
        | "ByteArrayConverter"
        | PASSTHROUGH_HEADER_CONVERTER => Ok(PASSTHROUGH_HEADER_CONVERTER.to_string()),
        "" => Err("a header converter class is required".into()),
        c if is_component_ref(c) => Ok(c.to_string()),
        c => Err(format!(
            "the header converter {c} is not supported yet (SimpleHeaderConverter, \
             StringConverter and ByteArrayConverter pass headers through; JsonConverter, \
             json-converter or a .wasm path convert each header value)"
        )),
    }
}

/// A transform's component and how its Connect keys become the component's keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransformTarget {
    /// The component to load.
    pub plugin: String,
    /// Connect key → component key, for keys whose names differ.
    pub renames: &'static [(&'static str, &'static str)],
    /// Connect's `Filter`, which drops every record it is applied to; the caller folds the
    /// transform's predicate into the `filter` component's own config.
    pub is_connect_filter: bool,
    /// The record part a `$Key`/`$Value` variant selects, given to the component as `target`.
    pub part: Option<&'static str>,
}

/// `transforms.<alias>.type` → the component to load.
pub fn transform_plugin(class: &str) -> Result<TransformTarget, String> {
    let class = class.trim();
    let target = |plugin: &str, renames, is_connect_filter| TransformTarget {
        plugin: plugin.to_string(),
        renames,
        is_connect_filter,
        part: None,
    };
    if class.is_empty() {
        return Err("a transformation class is required".into());
    }
    if class.ends_with(".wasm") || class.contains('/') {
        return Ok(target(class, &[], false));
    }
    let Some(simple) = simple_name(class, TRANSFORMS_PKG) else {
        return Err(format!(
            "the transformation {class} is not supported: Weft runs WebAssembly components \
             (a built-in such as insert-field, or a .wasm path)"
        ));
    };
    if !simple.contains('$') && !is_kafka_transform(simple) && !class.contains('.') {
        return Ok(target(class, &[], false));
    }
    let (base, variant) = match simple.split_once('$') {
        Some((b, v)) => (b, Some(v)),
        None => (simple, None),
    };
    if let Some((_, plugin)) = VALUE_TRANSFORMS.iter().find(|(k, _)| *k == base) {
        // ReplaceField's names before KIP-629.
        let renames: &'static [(&str, &str)] = if base == "ReplaceField" {
            &[("whitelist", "include"), ("blacklist", "exclude")]
        } else {
            &[]
        };
        let part = match variant {
            Some("Value") => "value",
            Some("Key") => "key",
            _ => {
                return Err(format!(
                    "{class} needs a $Value or $Key variant ({TRANSFORMS_PKG}{base}$Value)"
                ))
            }
        };
        return Ok(TransformTarget {
            part: Some(part),
            ..target(plugin, renames, false)
        });
    }
    if let Some((_, plugin)) = PLAIN_TRANSFORMS.iter().find(|(k, _)| *k == base) {
        if variant.is_some() {
            return Err(format!("{class} has no $Key/$Value variant (use {base})"));
        }
        return Ok(target(plugin, &[], base == "Filter"));
    }
    if UNSUPPORTED_TRANSFORMS.contains(&base) {
        return Err(format!(
            "the transformation {class} is not supported yet (supported: InsertField, MaskField, \
             ReplaceField, ExtractField, Cast, Flatten, HoistField, HeaderFrom, \
             TimestampConverter, SetSchemaMetadata (each $Key or $Value), ValueToKey, \
             RegexRouter, TimestampRouter, DropHeaders, InsertHeader, Filter)"
        ));
    }
    Err(format!("unknown transformation {class}"))
}

fn is_kafka_transform(simple: &str) -> bool {
    VALUE_TRANSFORMS.iter().any(|(k, _)| *k == simple)
        || PLAIN_TRANSFORMS.iter().any(|(k, _)| *k == simple)
        || UNSUPPORTED_TRANSFORMS.contains(&simple)
}

/// The kinds of Connect's predicates, by simple class name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PredicateKind {
    /// `TopicNameMatches`, key `pattern`.
    TopicNameMatches,
    /// `HasHeaderKey`, key `name`.
    HasHeaderKey,
    /// `RecordIsTombstone`.
    RecordIsTombstone,
}

/// `predicates.<alias>.type` → which predicate.
pub fn predicate_kind(class: &str) -> Result<PredicateKind, String> {
    let class = class.trim();
    match simple_name(class, PREDICATES_PKG) {
        Some("TopicNameMatches") => Ok(PredicateKind::TopicNameMatches),
        Some("HasHeaderKey") => Ok(PredicateKind::HasHeaderKey),
        Some("RecordIsTombstone") => Ok(PredicateKind::RecordIsTombstone),
        _ => Err(format!(
            "the predicate {class} is not supported (TopicNameMatches, HasHeaderKey, \
             RecordIsTombstone)"
        )),
    }
}

impl Predicate {
    /// The `filter` component's own config for this predicate (Connect's `Filter` with a
    /// predicate becomes one `filter` instance).
    pub fn filter_config(&self) -> Vec<(String, String)> {
        let kv = |k: &str, v: &str| (k.to_string(), v.to_string());
        match self {
            Predicate::TopicNameMatches(p) => {
                vec![kv("predicate", "topic-matches"), kv("pattern", p)]
            }
            Predicate::HasHeaderKey(h) => vec![kv("predicate", "has-header"), kv("header", h)],
            Predicate::RecordIsTombstone => vec![kv("predicate", "is-tombstone")],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kafka_connector_and_converter_classes() {
        for c in [
            "FileStreamSource",
            "FileStreamSourceConnector",
            "org.apache.kafka.connect.file.FileStreamSourceConnector",
        ] {
            assert_eq!(connector_plugin(c).unwrap(), "file-source");
        }
        assert_eq!(connector_plugin(" FileStreamSink ").unwrap(), "file-sink");
        assert_eq!(
            connector_plugin("org.apache.kafka.connect.file.FileStreamSinkConnector").unwrap(),
            "file-sink"
        );
        assert_eq!(connector_plugin("datagen").unwrap(), "datagen");
        for role in ["Source", "Checkpoint", "Heartbeat"] {
            let simple = format!("Mirror{role}Connector");
            let full = format!("org.apache.kafka.connect.mirror.{simple}");
            assert_eq!(connector_plugin(&simple).unwrap(), "mirror");
            assert_eq!(connector_plugin(&full).unwrap(), "mirror");
        }
        assert_eq!(builtin_is_sink("mirror"), Some(false));
        assert_eq!(connector_plugin("./my.wasm").unwrap(), "./my.wasm");
        assert_eq!(connector_plugin("x@1.0.0").unwrap(), "x@1.0.0");
        assert!(
            connector_plugin("io.confluent.connect.jdbc.JdbcSourceConnector")
                .unwrap_err()
                .contains("JdbcSourceConnector")
        );
        assert_eq!(
            converter_plugin("org.apache.kafka.connect.json.JsonConverter").unwrap(),
            "json-converter"
        );
        assert_eq!(
            converter_plugin("org.apache.kafka.connect.storage.StringConverter").unwrap(),
            "string-converter"
        );
        assert_eq!(
            converter_plugin("org.apache.kafka.connect.converters.ByteArrayConverter").unwrap(),
            "bytearray-converter"
        );
        assert!(converter_plugin("io.confluent.connect.avro.AvroConverter").is_err());
        for h in [
            "org.apache.kafka.connect.storage.SimpleHeaderConverter",
            "org.apache.kafka.connect.storage.StringConverter",
            "org.apache.kafka.connect.converters.ByteArrayConverter",
        ] {
            assert_eq!(
                header_converter_plugin(h).unwrap(),
                PASSTHROUGH_HEADER_CONVERTER
            );
        }
        assert_eq!(
            header_converter_plugin("org.apache.kafka.connect.json.JsonConverter").unwrap(),
            "json-converter"
        );
        assert_eq!(
            header_converter_plugin("json-converter").unwrap(),
            "json-converter"
        );
        assert!(header_converter_plugin("io.confluent.connect.avro.AvroConverter").is_err());
    }

    #[test]
    fn kafka_transforms_and_predicates() {
        let t = |c| transform_plugin(c).map(|t| t.plugin);
        assert_eq!(
            t("org.apache.kafka.connect.transforms.InsertField$Value").unwrap(),
            "insert-field"
        );
        assert_eq!(t("MaskField$Value").unwrap(), "mask-field");
        assert_eq!(
            t("org.apache.kafka.connect.transforms.RegexRouter").unwrap(),
            "regex-router"
        );
        assert_eq!(
            t("org.apache.kafka.connect.transforms.TimestampRouter").unwrap(),
            "timestamp-router"
        );
        assert_eq!(
            t("org.apache.kafka.connect.transforms.ValueToKey").unwrap(),
            "value-to-key"
        );
        assert!(
            transform_plugin("org.apache.kafka.connect.transforms.Filter")
                .unwrap()
                .is_connect_filter
        );
        assert_eq!(t("insert-field").unwrap(), "insert-field");
        assert_eq!(t("/opt/t.wasm").unwrap(), "/opt/t.wasm");
        let key = transform_plugin("org.apache.kafka.connect.transforms.InsertField$Key").unwrap();
        assert_eq!(
            (key.plugin.as_str(), key.part),
            ("insert-field", Some("key"))
        );
        let cast = transform_plugin("org.apache.kafka.connect.transforms.Cast$Value").unwrap();
        assert_eq!((cast.plugin.as_str(), cast.part), ("cast", Some("value")));
        let ts = transform_plugin("org.apache.kafka.connect.transforms.TimestampConverter$Value")
            .unwrap();
        assert_eq!(
            (ts.plugin.as_str(), ts.part),
            ("timestamp-converter", Some("value"))
        );
        let ts_key = transform_plugin("TimestampConverter$Key").unwrap();
        assert_eq!(
            (ts_key.plugin.as_str(), ts_key.part),
            ("timestamp-converter", Some("key"))
        );
        let ssm =
            transform_plugin("org.apache.kafka.connect.transforms.SetSchemaMetadata$Key").unwrap();
        assert_eq!(
            (ssm.plugin.as_str(), ssm.part),
            ("set-schema-metadata", Some("key"))
        );
        assert_eq!(
            t("org.apache.kafka.connect.transforms.SetSchemaMetadata$Value").unwrap(),
            "set-schema-metadata"
        );
        assert!(t("org.apache.kafka.connect.transforms.TimestampConverter")
            .unwrap_err()
            .contains("needs a $Value or $Key variant"));
        assert!(t("org.apache.kafka.connect.transforms.InsertField").is_err());
        assert!(t("com.example.MyTransform").is_err());
        assert_eq!(
            transform_plugin("org.apache.kafka.connect.transforms.ReplaceField$Value")
                .unwrap()
                .renames,
            &[("whitelist", "include"), ("blacklist", "exclude")]
        );
        assert_eq!(
            predicate_kind("org.apache.kafka.connect.transforms.predicates.TopicNameMatches"),
            Ok(PredicateKind::TopicNameMatches)
        );
        assert_eq!(
            predicate_kind("HasHeaderKey"),
            Ok(PredicateKind::HasHeaderKey)
        );
        assert_eq!(
            predicate_kind("org.apache.kafka.connect.transforms.predicates.RecordIsTombstone"),
            Ok(PredicateKind::RecordIsTombstone)
        );
        assert!(predicate_kind("com.example.P").is_err());
    }
}
