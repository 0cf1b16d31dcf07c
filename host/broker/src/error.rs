//! Typed broker errors and the Kafka error codes they become on the wire.

use std::path::PathBuf;

use weft_log::LogError;

/// Kafka protocol error codes used by the broker (see the protocol guide's error table).
pub mod code {
    pub const NONE: i16 = 0;
    pub const OFFSET_OUT_OF_RANGE: i16 = 1;
    pub const CORRUPT_MESSAGE: i16 = 2;
    pub const UNKNOWN_TOPIC_OR_PARTITION: i16 = 3;
    pub const INVALID_FETCH_SIZE: i16 = 4;
    pub const LEADER_NOT_AVAILABLE: i16 = 5;
    pub const NOT_LEADER_OR_FOLLOWER: i16 = 6;
    pub const REQUEST_TIMED_OUT: i16 = 7;
    pub const MESSAGE_TOO_LARGE: i16 = 10;
    pub const COORDINATOR_LOAD_IN_PROGRESS: i16 = 14;
    pub const COORDINATOR_NOT_AVAILABLE: i16 = 15;
    pub const NOT_COORDINATOR: i16 = 16;
    pub const INVALID_TOPIC_EXCEPTION: i16 = 17;
    pub const RECORD_LIST_TOO_LARGE: i16 = 18;
    pub const INVALID_REQUIRED_ACKS: i16 = 21;
    pub const ILLEGAL_GENERATION: i16 = 22;
    pub const INCONSISTENT_GROUP_PROTOCOL: i16 = 23;
    pub const INVALID_GROUP_ID: i16 = 24;
    pub const UNKNOWN_MEMBER_ID: i16 = 25;
    pub const INVALID_SESSION_TIMEOUT: i16 = 26;
    pub const REBALANCE_IN_PROGRESS: i16 = 27;
    pub const INVALID_COMMIT_OFFSET_SIZE: i16 = 28;
    pub const INVALID_TIMESTAMP: i16 = 32;
    pub const UNSUPPORTED_VERSION: i16 = 35;
    pub const TOPIC_ALREADY_EXISTS: i16 = 36;
    pub const INVALID_PARTITIONS: i16 = 37;
    pub const INVALID_REPLICATION_FACTOR: i16 = 38;
    pub const INVALID_REPLICA_ASSIGNMENT: i16 = 39;
    pub const INVALID_CONFIG: i16 = 40;
    pub const INVALID_REQUEST: i16 = 42;
    pub const UNSUPPORTED_FOR_MESSAGE_FORMAT: i16 = 43;
    pub const POLICY_VIOLATION: i16 = 44;
    pub const OUT_OF_ORDER_SEQUENCE_NUMBER: i16 = 45;
    pub const INVALID_PRODUCER_EPOCH: i16 = 47;
    pub const INVALID_TXN_STATE: i16 = 48;
    pub const TRANSACTION_COORDINATOR_FENCED: i16 = 52;
    pub const TRANSACTIONAL_ID_AUTHORIZATION_FAILED: i16 = 53;
    pub const KAFKA_STORAGE_ERROR: i16 = 56;
    pub const TOPIC_DELETION_DISABLED: i16 = 73;
    pub const FETCH_SESSION_ID_NOT_FOUND: i16 = 70;
    pub const GROUP_ID_NOT_FOUND: i16 = 69;
    pub const NON_EMPTY_GROUP: i16 = 68;
    pub const MEMBER_ID_REQUIRED: i16 = 79;
    pub const FENCED_INSTANCE_ID: i16 = 82;
    pub const UNKNOWN_TOPIC_ID: i16 = 100;
    pub const INVALID_RECORD: i16 = 87;
    pub const GROUP_SUBSCRIBED_TO_TOPIC: i16 = 86;
    pub const UNKNOWN_SERVER_ERROR: i16 = -1;
}

/// Errors raised by the broker library.
#[derive(Debug, thiserror::Error)]
pub enum BrokerError {
    #[error("invalid config: {0}")]
    Config(#[from] crate::config::ConfigError),
    #[error("cannot bind listener {addr}: {source}")]
    Bind {
        addr: String,
        source: std::io::Error,
    },
    #[error("I/O error on {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("metadata file {path} is unreadable: {reason}")]
    Metadata { path: PathBuf, reason: String },
    #[error(transparent)]
    Log(#[from] LogError),
    #[error("topic '{0}' already exists")]
    TopicExists(String),
    #[error("unknown topic or partition: {0}")]
    UnknownTopic(String),
    #[error("invalid topic: {0}")]
    InvalidTopic(String),
    #[error("invalid partitions: {0}")]
    InvalidPartitions(String),
    #[error("invalid replication factor: {0}")]
    InvalidReplicationFactor(String),
    #[error("invalid config: {0}")]
    InvalidTopicConfig(String),
    /// The message carries the cause, so it is not also reported as the source (an error chain
    /// printed whole, as the binary does, would show it twice).
    #[error("cannot load committed offsets: {0}")]
    OffsetsReplay(crate::groups::offsets::ReplayError),
}

impl From<crate::groups::offsets::ReplayError> for BrokerError {
    fn from(e: crate::groups::offsets::ReplayError) -> Self {
        BrokerError::OffsetsReplay(e)
    }
}

impl BrokerError {
    /// The Kafka error code a client should see for this error.
    pub fn code(&self) -> i16 {
        match self {
            BrokerError::Log(e) => log_error_code(e),
            BrokerError::TopicExists(_) => code::TOPIC_ALREADY_EXISTS,
            BrokerError::UnknownTopic(_) => code::UNKNOWN_TOPIC_OR_PARTITION,
            BrokerError::InvalidTopic(_) => code::INVALID_TOPIC_EXCEPTION,
            BrokerError::InvalidPartitions(_) => code::INVALID_PARTITIONS,
            BrokerError::InvalidReplicationFactor(_) => code::INVALID_REPLICATION_FACTOR,
            BrokerError::InvalidTopicConfig(_) | BrokerError::Config(_) => code::INVALID_CONFIG,
            BrokerError::Io { .. }
            | BrokerError::Metadata { .. }
            | BrokerError::OffsetsReplay(_) => code::KAFKA_STORAGE_ERROR,
            BrokerError::Bind { .. } => code::UNKNOWN_SERVER_ERROR,
        }
    }
}

/// Maps a log error to the error code Kafka's own broker returns in the same situation.
pub fn log_error_code(e: &LogError) -> i16 {
    match e {
        LogError::CorruptBatch(_) | LogError::CrcMismatch { .. } => code::CORRUPT_MESSAGE,
        LogError::UnsupportedMagic(_) => code::UNSUPPORTED_FOR_MESSAGE_FORMAT,
        LogError::BatchTooLarge { .. } => code::MESSAGE_TOO_LARGE,
        LogError::InvalidRecord(_) => code::INVALID_RECORD,
        LogError::InvalidTimestamp(_) => code::INVALID_TIMESTAMP,
        LogError::OutOfOrderSequence(_) => code::OUT_OF_ORDER_SEQUENCE_NUMBER,
        LogError::InvalidProducerEpoch(_) => code::INVALID_PRODUCER_EPOCH,
        LogError::InvalidTxnState(_) => code::INVALID_TXN_STATE,
        LogError::CoordinatorFenced(_) => code::TRANSACTION_COORDINATOR_FENCED,
        LogError::OffsetOutOfRange { .. } => code::OFFSET_OUT_OF_RANGE,
        LogError::Io { .. } | LogError::Offline { .. } => code::KAFKA_STORAGE_ERROR,
    }
}
