//! Plugin identity (metadata), config definitions and typed access to a plugin's config.

use crate::error::{PluginError, Result};

/// The kind of plugin, matching its WIT world.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PluginKind {
    /// Chooses partitions.
    Partitioner,
    /// Converts keys/values to and from bytes.
    Serializer,
    /// Observes records around produce and consume.
    Interceptor,
    /// Rewrites, reroutes or drops records.
    Transform,
    /// Converts between Connect values and the bytes stored in Kafka.
    Converter,
    /// Reads an external system into topics.
    SourceConnector,
    /// Writes topics to an external system.
    SinkConnector,
}

/// Type of a config value, after Kafka's `ConfigDef.Type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfigType {
    /// `true` or `false`.
    Boolean,
    /// 32-bit integer.
    Int,
    /// 64-bit integer.
    Long,
    /// Floating point.
    Double,
    /// Text.
    String,
    /// Comma-separated list.
    List,
    /// Text that is never logged or shown.
    Password,
}

/// How much a config key matters, after Kafka's `ConfigDef.Importance`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Importance {
    /// Must be understood to use the plugin.
    High,
    /// Often set.
    #[default]
    Medium,
    /// Rarely needed.
    Low,
}

/// Definition of one config key, with what Connect's `/config/validate` shows about it.
#[derive(Debug, Clone, PartialEq)]
pub struct ConfigDef {
    /// The key.
    pub name: String,
    /// Value type, checked by the default `validate`.
    pub ty: ConfigType,
    /// Value used when the key is absent.
    pub default: Option<String>,
    /// Whether the key must be present.
    pub required: bool,
    /// One or two sentences for `weft plugin inspect` and Connect's validate endpoint.
    pub doc: String,
    /// How much the key matters (default medium).
    pub importance: Importance,
    /// The group the key is shown under, if any.
    pub group: Option<String>,
    /// Position within the group; -1 when not ordered.
    pub order_in_group: i32,
    /// A human-readable name; `None` shows the key itself.
    pub display_name: Option<String>,
    /// Values a UI should offer; empty when open-ended.
    pub recommended_values: Vec<String>,
}

impl ConfigDef {
    /// An optional key of type `ty`, without default, of medium importance.
    pub fn new(name: impl Into<String>, ty: ConfigType, doc: impl Into<String>) -> Self {
        ConfigDef {
            name: name.into(),
            ty,
            default: None,
            required: false,
            doc: doc.into(),
            importance: Importance::Medium,
            group: None,
            order_in_group: -1,
            display_name: None,
            recommended_values: Vec::new(),
        }
    }

    /// Sets how much the key matters.
    pub fn importance(mut self, importance: Importance) -> Self {
        self.importance = importance;
        self
    }

    /// Shows the key in `group`, at position `order` within it.
    pub fn group(mut self, group: impl Into<String>, order: i32) -> Self {
        self.group = Some(group.into());
        self.order_in_group = order;
        self
    }

    /// Sets the human-readable name.
    pub fn display_name(mut self, name: impl Into<String>) -> Self {
        self.display_name = Some(name.into());
        self
    }

    /// Sets the values a UI should offer.
    pub fn recommended<S: Into<String>>(mut self, values: impl IntoIterator<Item = S>) -> Self {
        self.recommended_values = values.into_iter().map(Into::into).collect();
        self
    }

    /// Marks the key as required.
    pub fn required(mut self) -> Self {
        self.required = true;
        self
    }

    /// Sets the default value.
    pub fn default(mut self, value: impl Into<String>) -> Self {
        self.default = Some(value.into());
        self
    }
}

/// Who a plugin is and what config it takes; returned by [`crate::Plugin::metadata`].
#[derive(Debug, Clone, PartialEq)]
pub struct Metadata {
    /// Registry name, e.g. `insert-field`.
    pub name: String,
    /// Version, usually `env!("CARGO_PKG_VERSION")`.
    pub version: String,
    /// Kind; must match the export macro used.
    pub kind: PluginKind,
    /// One line for listings.
    pub description: String,
    /// Config keys the plugin reads.
    pub config: Vec<ConfigDef>,
}

impl Metadata {
    /// Metadata without config keys.
    pub fn new(
        name: impl Into<String>,
        version: impl Into<String>,
        kind: PluginKind,
        description: impl Into<String>,
    ) -> Self {
        Metadata {
            name: name.into(),
            version: version.into(),
            kind,
            description: description.into(),
            config: Vec::new(),
        }
    }

    /// Adds a config key definition.
    pub fn config(mut self, def: ConfigDef) -> Self {
        self.config.push(def);
        self
    }
}

/// A problem with one key, found by `validate`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigIssue {
    /// The key.
    pub key: String,
    /// What is wrong with it.
    pub message: String,
}

impl ConfigIssue {
    /// Ok without issues, else the error the host's `configure` call answers with: every
    /// issue, named by its key.
    pub fn none_of(issues: &[ConfigIssue]) -> Result<()> {
        if issues.is_empty() {
            return Ok(());
        }
        let list: Vec<String> = issues
            .iter()
            .map(|i| format!("`{}` {}", i.key, i.message))
            .collect();
        Err(PluginError::fatal(format!(
            "invalid config: {}",
            list.join("; ")
        )))
    }
}

/// A plugin's config: the key/value pairs given by the host, with defaults from the metadata.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Config {
    entries: Vec<(String, String)>,
}

impl Config {
    /// A config from key/value pairs; a later duplicate key wins.
    pub fn new(entries: Vec<(String, String)>) -> Self {
        Config { entries }
    }

    /// Adds defaults from `defs` for keys that are absent.
    pub fn with_defaults(mut self, defs: &[ConfigDef]) -> Self {
        for d in defs {
            if let Some(v) = &d.default {
                if self.get(&d.name).is_none() {
                    self.entries.push((d.name.clone(), v.clone()));
                }
            }
        }
        self
    }

    /// All entries in order.
    pub fn entries(&self) -> &[(String, String)] {
        &self.entries
    }

    /// The value of `key`, if present.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.entries
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// The value of `key`, or a fatal error naming it.
    pub fn require(&self, key: &str) -> Result<&str> {
        self.get(key)
            .ok_or_else(|| PluginError::fatal(format!("missing required config `{key}`")))
    }

    /// `key` as a boolean (`true`/`false`, any case), `default` when absent.
    pub fn bool(&self, key: &str, default: bool) -> Result<bool> {
        match self.get(key) {
            None => Ok(default),
            Some(v) => parse_bool(v).ok_or_else(|| bad(key, v, "true or false")),
        }
    }

    /// `key` as a 64-bit integer, `default` when absent.
    pub fn i64(&self, key: &str, default: i64) -> Result<i64> {
        match self.get(key) {
            None => Ok(default),
            Some(v) => v.trim().parse().map_err(|_| bad(key, v, "an integer")),
        }
    }

    /// `key` as a comma-separated list with blanks trimmed and empty items dropped.
    pub fn list(&self, key: &str) -> Vec<String> {
        self.get(key)
            .map(|v| {
                v.split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Checks presence of required keys and the type of every defined key.
    pub fn check(&self, defs: &[ConfigDef]) -> Vec<ConfigIssue> {
        let mut issues = Vec::new();
        for d in defs {
            match self.get(&d.name) {
                None if d.required && d.default.is_none() => issues.push(ConfigIssue {
                    key: d.name.clone(),
                    message: "is required".into(),
                }),
                None => {}
                Some(v) => {
                    let ok = match d.ty {
                        ConfigType::Boolean => parse_bool(v).is_some(),
                        ConfigType::Int => v.trim().parse::<i32>().is_ok(),
                        ConfigType::Long => v.trim().parse::<i64>().is_ok(),
                        ConfigType::Double => v.trim().parse::<f64>().is_ok(),
                        ConfigType::String | ConfigType::List | ConfigType::Password => true,
                    };
                    if !ok {
                        issues.push(ConfigIssue {
                            key: d.name.clone(),
                            message: format!("`{v}` is not a valid {:?}", d.ty),
                        });
                    }
                }
            }
        }
        issues
    }
}

fn parse_bool(v: &str) -> Option<bool> {
    match v.trim().to_ascii_lowercase().as_str() {
        "true" => Some(true),
        "false" => Some(false),
        _ => None,
    }
}

fn bad(key: &str, value: &str, want: &str) -> PluginError {
    PluginError::fatal(format!("config `{key}` = `{value}` is not {want}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typed_getters_defaults_and_check() {
        let defs = [
            ConfigDef::new("field", ConfigType::String, "f").required(),
            ConfigDef::new("n", ConfigType::Int, "n").default("7"),
            ConfigDef::new("on", ConfigType::Boolean, "b"),
        ];
        let c = Config::new(vec![("on".into(), "TRUE".into())]).with_defaults(&defs);
        assert_eq!(c.i64("n", 0).unwrap(), 7);
        assert!(c.bool("on", false).unwrap());
        assert_eq!(c.check(&defs).len(), 1);
        assert_eq!(c.check(&defs)[0].key, "field");
        assert!(c.require("field").unwrap_err().message.contains("field"));
        let c = Config::new(vec![
            ("n".into(), "x".into()),
            ("a".into(), " p, ,q ".into()),
        ]);
        assert!(c.i64("n", 0).is_err());
        assert_eq!(c.list("a"), vec!["p", "q"]);
    }
}
