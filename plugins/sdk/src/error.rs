//! The error a plugin returns to the host, classified as retriable or fatal.

use std::fmt;

/// Whether the host may retry the call that failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// Transient: a retry may succeed.
    Retriable,
    /// Permanent: the host fails the task (or drops the plugin instance).
    Fatal,
}

/// An error returned from a plugin callback.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PluginError {
    /// Retriable or fatal.
    pub kind: ErrorKind,
    /// What went wrong, for the operator.
    pub message: String,
}

impl PluginError {
    /// A permanent failure.
    pub fn fatal(message: impl Into<String>) -> Self {
        PluginError {
            kind: ErrorKind::Fatal,
            message: message.into(),
        }
    }

    /// A transient failure the host may retry.
    pub fn retriable(message: impl Into<String>) -> Self {
        PluginError {
            kind: ErrorKind::Retriable,
            message: message.into(),
        }
    }
}

impl fmt::Display for PluginError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.kind {
            ErrorKind::Retriable => "retriable",
            ErrorKind::Fatal => "fatal",
        };
        write!(f, "{kind}: {}", self.message)
    }
}

impl std::error::Error for PluginError {}

impl From<weft_batch::DecodeError> for PluginError {
    fn from(e: weft_batch::DecodeError) -> Self {
        PluginError::fatal(format!("malformed batch from host: {e}"))
    }
}

impl From<weft_batch::EncodeError> for PluginError {
    fn from(e: weft_batch::EncodeError) -> Self {
        PluginError::fatal(e.to_string())
    }
}

/// The `Result` every plugin callback returns.
pub type Result<T, E = PluginError> = std::result::Result<T, E>;
