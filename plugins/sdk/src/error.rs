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
    /// For a retriable error: how long the host should wait before retrying, in milliseconds
    /// (a remote system's Retry-After). `None`: the host's own backoff applies.
    pub retry_after_ms: Option<u32>,
}

impl PluginError {
    /// A permanent failure.
    pub fn fatal(message: impl Into<String>) -> Self {
        PluginError {
            kind: ErrorKind::Fatal,
            message: message.into(),
            retry_after_ms: None,
        }
    }

    /// A transient failure the host may retry.
    pub fn retriable(message: impl Into<String>) -> Self {
        PluginError {
            kind: ErrorKind::Retriable,
            message: message.into(),
            retry_after_ms: None,
        }
    }

    /// Asks the host to wait `ms` milliseconds before retrying (meaningful for retriable errors).
    pub fn retry_after(mut self, ms: u32) -> Self {
        self.retry_after_ms = Some(ms);
        self
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
