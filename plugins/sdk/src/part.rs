//! Which part of a record a field transform acts on, after Kafka Connect's `$Key`/`$Value`
//! variants of its SMTs (`InsertField$Key`): the config key `target`, `value` by default.

use crate::config::{Config, ConfigDef, ConfigType, Importance};
use crate::error::{PluginError, Result};
use crate::record::Record;
use crate::Schemas;

/// The config key that selects the part.
pub const TARGET_KEY: &str = "target";

/// The key or the value of a record.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Part {
    /// The record key (Kafka's `$Key` variants).
    Key,
    /// The record value (Kafka's `$Value` variants).
    #[default]
    Value,
}

impl Part {
    /// The definition of the `target` key, for a transform's metadata.
    pub fn config_def() -> ConfigDef {
        ConfigDef::new(
            TARGET_KEY,
            ConfigType::String,
            "Which part of the record to act on: `value` (Kafka's $Value) or `key` ($Key).",
        )
        .default("value")
        .importance(Importance::Medium)
        .recommended(["value", "key"])
    }

    /// The part `config` selects.
    pub fn from_config(config: &Config) -> Result<Part> {
        match config.get(TARGET_KEY).unwrap_or("value") {
            "value" => Ok(Part::Value),
            "key" => Ok(Part::Key),
            other => Err(PluginError::fatal(format!(
                "config `{TARGET_KEY}` = `{other}` is not key or value"
            ))),
        }
    }

    /// The part's bytes (`None` for null).
    pub fn get<'r>(self, record: &'r Record<'_>) -> Option<&'r [u8]> {
        match self {
            Part::Key => record.key(),
            Part::Value => record.value(),
        }
    }

    /// Replaces the part (`None` makes it null).
    pub fn set(self, record: &mut Record<'_>, bytes: Option<Vec<u8>>) {
        let v = bytes.map(Into::into);
        let replaced = match self {
            Part::Key => std::mem::replace(&mut record.key, v),
            Part::Value => std::mem::replace(&mut record.value, v),
        };
        crate::record::give_back(replaced);
    }

    /// The part's schema in `schemas`.
    pub fn schema(self, schemas: &Schemas) -> Option<&str> {
        match self {
            Part::Key => schemas.key.as_deref(),
            Part::Value => schemas.value.as_deref(),
        }
    }

    /// `schemas` with the part's schema replaced.
    pub fn with_schema(self, schemas: &Schemas, schema: Option<String>) -> Schemas {
        let mut out = schemas.clone();
        match self {
            Part::Key => out.key = schema,
            Part::Value => out.value = schema,
        }
        out
    }

    /// `key` or `value`, for messages.
    pub fn name(self) -> &'static str {
        match self {
            Part::Key => "key",
            Part::Value => "value",
        }
    }
}
