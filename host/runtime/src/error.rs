//! The runtime's typed errors: one variant per way a plugin can fail to load or to run.

use std::path::PathBuf;
use std::time::Duration;

/// Everything that can go wrong loading or calling a plugin.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    /// Reading a plugin file or directory failed.
    #[error("cannot read {path}: {source}")]
    Io {
        /// File or directory.
        path: PathBuf,
        /// OS error.
        source: std::io::Error,
    },
    /// No built-in, plugin-directory entry or file matches the name.
    #[error("no plugin named `{0}` (try `weft plugin list`, or give a path to a .wasm file)")]
    NotFound(String),
    /// The bytes are not a valid component for this engine.
    #[error("cannot compile plugin {plugin}: {message}")]
    Compile {
        /// Plugin label (name or path).
        plugin: String,
        /// wasmtime's explanation.
        message: String,
    },
    /// The component does not export one of the Weft plugin worlds.
    #[error("{plugin} is not a Weft plugin: {reason}")]
    NotAPlugin {
        /// Plugin label.
        plugin: String,
        /// What is missing.
        reason: String,
    },
    /// A plugin of another kind was given where this kind is needed.
    #[error("{plugin} is a {actual} plugin, but a {expected} is needed here")]
    WrongKind {
        /// Plugin label.
        plugin: String,
        /// Kind the caller needs.
        expected: &'static str,
        /// Kind of the plugin.
        actual: &'static str,
    },
    /// The plugin imports a capability that its config does not grant.
    #[error(
        "plugin {plugin} imports `{interface}`, which its config does not grant; \
         set `{config_key}` to grant it"
    )]
    CapabilityNotGranted {
        /// Plugin label.
        plugin: String,
        /// The imported interface.
        interface: String,
        /// The config key that grants it.
        config_key: &'static str,
    },
    /// The capability is granted but this build of the host does not implement it yet.
    #[error("plugin {plugin} imports `{interface}`, which this weft build does not provide yet")]
    CapabilityUnavailable {
        /// Plugin label.
        plugin: String,
        /// The imported interface.
        interface: String,
    },
    /// The plugin imports an interface the host does not know.
    #[error("plugin {plugin} imports unknown interface `{interface}`")]
    UnknownImport {
        /// Plugin label.
        plugin: String,
        /// The import name.
        interface: String,
    },
    /// Instantiation failed (for example the start function trapped).
    #[error("cannot instantiate plugin {plugin}: {message}")]
    Instantiate {
        /// Plugin label.
        plugin: String,
        /// Cause.
        message: String,
    },
    /// The plugin trapped (a panic, an out-of-bounds access, `unreachable`).
    #[error("plugin {plugin} trapped: {message}")]
    Trap {
        /// Plugin label.
        plugin: String,
        /// The trap, plus the last error the plugin logged (a panic message, with the SDK).
        message: String,
    },
    /// A call ran past its deadline and was interrupted.
    #[error(
        "plugin {plugin} exceeded its {limit:?} call deadline (config `plugin.call.timeout.ms`)"
    )]
    DeadlineExceeded {
        /// Plugin label.
        plugin: String,
        /// The deadline.
        limit: Duration,
    },
    /// The plugin tried to grow its memories, all together, past the cap.
    #[error("plugin {plugin} exceeded its memory limit of {limit} bytes for all its memories together (config `plugin.memory.max.bytes`)")]
    MemoryLimit {
        /// Plugin label.
        plugin: String,
        /// The cap in bytes.
        limit: usize,
    },
    /// The plugin needed more core instances, memories, tables or table elements than allowed.
    #[error("plugin {plugin} exceeded its limit of {limit} {what} (config `{config_key}`)")]
    ResourceLimit {
        /// Plugin label.
        plugin: String,
        /// What is counted: `instances`, `memories`, `tables` or `table elements`.
        what: &'static str,
        /// The limit.
        limit: usize,
        /// The config key that sets it.
        config_key: &'static str,
    },
    /// The plugin used up its fuel.
    #[error("plugin {plugin} ran out of fuel (config `plugin.fuel`)")]
    FuelExhausted {
        /// Plugin label.
        plugin: String,
    },
    /// A connector task's instance failed and the fresh one could not be opened again at the
    /// committed positions: the task has failed.
    #[error(
        "connector {plugin} could not be reopened after a failure, the task has failed: {message}"
    )]
    ReopenFailed {
        /// Plugin label.
        plugin: String,
        /// Why `open` failed on the fresh instance.
        message: String,
    },
    /// A connector data call came before the task was opened (or after its `open` failed).
    #[error("connector {plugin} is not open: `open` must succeed before `{call}`")]
    NotOpen {
        /// Plugin label.
        plugin: String,
        /// The refused call.
        call: &'static str,
    },
    /// The plugin returned an error of its own.
    #[error("plugin {plugin} failed ({}): {message}", if *.retriable { "retriable" } else { "fatal" })]
    Plugin {
        /// Plugin label.
        plugin: String,
        /// Whether the plugin says a retry may succeed.
        retriable: bool,
        /// The plugin's message.
        message: String,
        /// For a retriable error: how long the plugin asks the caller to wait before retrying.
        retry_after: Option<Duration>,
    },
    /// The component was built for a contract version this host does not implement.
    #[error(
        "plugin {plugin} targets weft:plugin@{found}; this weft supports weft:plugin@{supported} \
         (rebuild it with the current weft-plugin-sdk)"
    )]
    ContractVersion {
        /// Plugin label.
        plugin: String,
        /// The version the component was built for.
        found: String,
        /// The versions this host accepts (`0.2.x`).
        supported: String,
    },
    /// One record failed in a pipeline that has no dead-letter queue (`weft produce/consume`).
    #[error("plugin {plugin} failed on record {index} ({}): {message}", if *.retriable { "retriable" } else { "fatal" })]
    RecordFailed {
        /// Plugin label.
        plugin: String,
        /// Index of the record in the batch the plugin received.
        index: u32,
        /// Whether the plugin says a retry may succeed.
        retriable: bool,
        /// The plugin's message.
        message: String,
    },
    /// The plugin returned bytes that are not a valid batch, or the wrong number of results.
    #[error("plugin {plugin} returned malformed output: {message}")]
    BadOutput {
        /// Plugin label.
        plugin: String,
        /// What was wrong.
        message: String,
    },
    /// A host-side config value is invalid.
    #[error("invalid config `{key}`: {message}")]
    Config {
        /// The key.
        key: String,
        /// What is wrong.
        message: String,
    },
    /// A record names a topic whose partition count is unknown.
    #[error("unknown topic `{0}`: cannot choose a partition")]
    UnknownTopic(String),
    /// Encoding records for the plugin failed.
    #[error("cannot encode records: {0}")]
    Encode(#[from] weft_batch::EncodeError),
    /// Decoding a batch failed after every plugin's output was checked (a host bug).
    #[error("cannot decode records: {0}")]
    Decode(#[from] weft_batch::DecodeError),
}

impl RuntimeError {
    /// True for errors after which the instance was dropped (trap, deadline, memory, fuel):
    /// the next call starts a fresh instance.
    pub fn is_instance_failure(&self) -> bool {
        matches!(
            self,
            RuntimeError::Trap { .. }
                | RuntimeError::DeadlineExceeded { .. }
                | RuntimeError::MemoryLimit { .. }
                | RuntimeError::ResourceLimit { .. }
                | RuntimeError::FuelExhausted { .. }
        )
    }

    /// True when the plugin said a retry may succeed.
    pub fn is_retriable(&self) -> bool {
        matches!(
            self,
            RuntimeError::Plugin {
                retriable: true,
                ..
            }
        )
    }

    /// How long the plugin asked the caller to wait before retrying, if it did.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            RuntimeError::Plugin { retry_after, .. } => *retry_after,
            _ => None,
        }
    }
}

/// Result alias for this crate.
pub type Result<T, E = RuntimeError> = std::result::Result<T, E>;
