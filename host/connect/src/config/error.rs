//! The typed errors of worker and connector configs: each names the key and the value, worded
//! as Kafka's `ConfigException` words them (`Invalid value X for configuration K: reason`).

/// One problem with one key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyError {
    /// The key at fault.
    pub key: String,
    /// Its value, when it has one.
    pub value: Option<String>,
    /// Why it is wrong.
    pub message: String,
}

impl std::fmt::Display for KeyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.value {
            Some(v) => write!(
                f,
                "Invalid value {v} for configuration {}: {}",
                self.key, self.message
            ),
            None => write!(f, "{}: {}", self.key, self.message),
        }
    }
}

/// A config that cannot be used: every problem found, in key order of discovery.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", display(.errors))]
pub struct ConfigError {
    pub errors: Vec<KeyError>,
}

fn display(errors: &[KeyError]) -> String {
    errors
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

impl ConfigError {
    /// A single problem.
    pub fn new(key: &str, value: Option<&str>, message: impl Into<String>) -> Self {
        ConfigError {
            errors: vec![KeyError {
                key: key.to_string(),
                value: value.map(str::to_string),
                message: message.into(),
            }],
        }
    }

    /// Whether `key` is among the keys at fault.
    pub fn names(&self, key: &str) -> bool {
        self.errors.iter().any(|e| e.key == key)
    }
}

/// Collects problems while a config is read, so a validation reports them all at once.
#[derive(Debug, Default)]
pub(crate) struct Problems {
    pub(crate) errors: Vec<KeyError>,
}

impl Problems {
    pub(crate) fn add(&mut self, key: &str, value: Option<&str>, message: impl Into<String>) {
        self.errors.push(KeyError {
            key: key.to_string(),
            value: value.map(str::to_string),
            message: message.into(),
        });
    }

    /// Whether nothing was found wrong.
    #[cfg(test)]
    pub(crate) fn is_empty(&self) -> bool {
        self.errors.is_empty()
    }

    pub(crate) fn into_result<T>(self, ok: T) -> Result<T, ConfigError> {
        if self.errors.is_empty() {
            Ok(ok)
        } else {
            Err(ConfigError {
                errors: self.errors,
            })
        }
    }
}
