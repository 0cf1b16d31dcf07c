//! What a plugin is: its kind (the world it exports), where it came from, and how it describes itself.

use std::path::PathBuf;

/// The kind of a plugin, from the world its component exports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PluginKind {
    /// Exports `weft:plugin/partition`.
    Partitioner,
    /// Exports `weft:plugin/serde`.
    Serializer,
    /// Exports `weft:plugin/intercept`.
    Interceptor,
    /// Exports `weft:plugin/record-transform`.
    Transform,
    /// Exports `weft:plugin/convert`.
    Converter,
    /// Exports `weft:plugin/source`.
    SourceConnector,
    /// Exports `weft:plugin/sink`.
    SinkConnector,
}

impl PluginKind {
    /// The WIT world name.
    pub fn as_str(self) -> &'static str {
        match self {
            PluginKind::Partitioner => "partitioner",
            PluginKind::Serializer => "serializer",
            PluginKind::Interceptor => "interceptor",
            PluginKind::Transform => "transform",
            PluginKind::Converter => "converter",
            PluginKind::SourceConnector => "source-connector",
            PluginKind::SinkConnector => "sink-connector",
        }
    }

    /// The kind whose world is named `s`.
    pub fn parse(s: &str) -> Option<Self> {
        ALL_KINDS.iter().copied().find(|k| k.as_str() == s)
    }

    pub(super) fn export_interface(self) -> &'static str {
        match self {
            PluginKind::Partitioner => "weft:plugin/partition@",
            PluginKind::Serializer => "weft:plugin/serde@",
            PluginKind::Interceptor => "weft:plugin/intercept@",
            PluginKind::Transform => "weft:plugin/record-transform@",
            PluginKind::Converter => "weft:plugin/convert@",
            PluginKind::SourceConnector => "weft:plugin/source@",
            PluginKind::SinkConnector => "weft:plugin/sink@",
        }
    }
}

/// Every kind, in WIT order.
pub const ALL_KINDS: [PluginKind; 7] = [
    PluginKind::Partitioner,
    PluginKind::Serializer,
    PluginKind::Interceptor,
    PluginKind::Transform,
    PluginKind::Converter,
    PluginKind::SourceConnector,
    PluginKind::SinkConnector,
];

/// Where a plugin was loaded from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PluginSource {
    /// Embedded in the binary.
    Builtin(String),
    /// A `.wasm` file.
    File(PathBuf),
    /// Bytes handed over by the caller.
    Bytes(String),
}

impl PluginSource {
    /// How errors name the plugin before its metadata is known.
    pub fn label(&self) -> String {
        match self {
            PluginSource::Builtin(n) => format!("builtin:{n}"),
            PluginSource::File(p) => p.display().to_string(),
            PluginSource::Bytes(n) => n.clone(),
        }
    }
}

/// A config key as the plugin describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigDef {
    /// Key.
    pub name: String,
    /// Type name (`string`, `int`, ...).
    pub ty: &'static str,
    /// Default, if any.
    pub default: Option<String>,
    /// Whether it must be set.
    pub required: bool,
    /// Documentation.
    pub doc: String,
    /// `HIGH`, `MEDIUM` or `LOW`, as Connect writes Kafka's ConfigDef.Importance.
    pub importance: &'static str,
    /// The group the key is shown under, if any.
    pub group: Option<String>,
    /// Position within the group; -1 when not ordered.
    pub order_in_group: i32,
    /// Human-readable name; `None` means the key itself.
    pub display_name: Option<String>,
    /// Values a UI should offer; empty when open-ended.
    pub recommended_values: Vec<String>,
}

/// A plugin's self-description (its `describe` export).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Metadata {
    /// Registry name.
    pub name: String,
    /// Version.
    pub version: String,
    /// Kind the plugin claims.
    pub kind: PluginKind,
    /// One line.
    pub description: String,
    /// Config keys.
    pub config: Vec<ConfigDef>,
}

/// A source position: (source partition, position in it), both opaque to the host.
pub type SourcePosition = (String, String);

/// A problem with a config key found by the plugin's `validate`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigIssue {
    /// The key.
    pub key: String,
    /// What is wrong.
    pub message: String,
}
