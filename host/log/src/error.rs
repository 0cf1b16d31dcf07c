//! The typed errors of the log crate, each mapping to one Kafka error code.

use std::path::{Path, PathBuf};

/// Everything that can go wrong in the log. The comment on each variant names the Kafka error code the
/// broker answers with.
#[derive(Debug, thiserror::Error)]
pub enum LogError {
    /// Structurally broken batch (lengths, truncated header, unknown codec). -> CORRUPT_MESSAGE (2)
    #[error("corrupt record batch: {0}")]
    CorruptBatch(String),
    /// The stored CRC-32C does not match the batch contents. -> CORRUPT_MESSAGE (2)
    #[error("record batch CRC mismatch: stored {stored:#010x}, computed {computed:#010x}")]
    CrcMismatch { stored: u32, computed: u32 },
    /// Only magic v2 batches are accepted. -> UNSUPPORTED_FOR_MESSAGE_FORMAT (43)
    #[error("unsupported record batch magic {0}; only v2 is accepted")]
    UnsupportedMagic(i8),
    /// A batch is larger than max.message.bytes. -> MESSAGE_TOO_LARGE (10)
    #[error("record batch of {size} bytes exceeds max.message.bytes {max}")]
    BatchTooLarge { size: usize, max: u32 },
    /// A well-formed batch whose contents break a rule (null key on a compacted topic, count mismatch).
    /// -> INVALID_RECORD (87)
    #[error("invalid record: {0}")]
    InvalidRecord(String),
    /// A CreateTime timestamp outside message.timestamp.before/after.max.ms of the broker's clock.
    /// -> INVALID_TIMESTAMP (32)
    #[error("invalid timestamp: {0}")]
    InvalidTimestamp(String),
    /// An idempotent producer's batch does not follow its previous sequence number (a gap), or a new
    /// epoch does not start at 0. -> OUT_OF_ORDER_SEQUENCE_NUMBER (45)
    #[error("out of order sequence: {0}")]
    OutOfOrderSequence(String),
    /// An idempotent producer wrote with an epoch older than one already seen. -> INVALID_PRODUCER_EPOCH (47)
    #[error("invalid producer epoch: {0}")]
    InvalidProducerEpoch(String),
    /// A producer with an open transaction in this partition wrote a non-transactional batch.
    /// -> INVALID_TXN_STATE (48)
    #[error("invalid transaction state: {0}")]
    InvalidTxnState(String),
    /// A transaction marker from a coordinator epoch older than the last marker's.
    /// -> TRANSACTION_COORDINATOR_FENCED (52)
    #[error("transaction coordinator fenced: {0}")]
    CoordinatorFenced(String),
    /// The requested offset is outside the log. -> OFFSET_OUT_OF_RANGE (1)
    #[error("offset {requested} is out of range [{start}, {end}]")]
    OffsetOutOfRange {
        requested: i64,
        start: i64,
        end: i64,
    },
    /// The file system failed us. -> KAFKA_STORAGE_ERROR (56)
    #[error("log I/O error in {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// An earlier write or fsync of this log failed, so what is on disk is unknown: the log refuses
    /// every append and read until the broker reopens it (after a restart). -> KAFKA_STORAGE_ERROR (56)
    #[error("log {dir} is offline after a storage error: {reason}")]
    Offline { dir: PathBuf, reason: String },
}

impl LogError {
    /// Errors that mean the storage itself failed (the broker answers KAFKA_STORAGE_ERROR and takes the
    /// log directory offline), as opposed to a bad request.
    pub fn is_storage_error(&self) -> bool {
        matches!(self, LogError::Io { .. } | LogError::Offline { .. })
    }
}

/// Result type of the log crate.
pub type Result<T> = std::result::Result<T, LogError>;

/// Attaches the file an I/O error happened on, so every storage error names its file.
pub(crate) trait IoContext<T> {
    fn at(self, path: &Path) -> Result<T>;
}

impl<T> IoContext<T> for std::io::Result<T> {
    fn at(self, path: &Path) -> Result<T> {
        self.map_err(|source| LogError::Io {
            path: path.to_path_buf(),
            source,
        })
    }
}
