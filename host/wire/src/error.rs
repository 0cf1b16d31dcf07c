//! The one error type of the crate, and which errors are worth retrying.

use kafka_protocol::ResponseError;

/// What went wrong talking to a cluster or handling its batches.
#[derive(Debug, thiserror::Error)]
pub enum WireError {
    /// The connection to a broker failed (connect, read or write).
    #[error("I/O error with broker {broker}: {source}")]
    Io {
        broker: String,
        #[source]
        source: std::io::Error,
    },
    /// A broker sent something this client cannot make sense of (bad frame, undecodable body,
    /// wrong correlation id, missing answer).
    #[error("protocol error with broker {broker}: {message}")]
    Protocol { broker: String, message: String },
    /// The cluster answered with a Kafka error code. `topic` is empty and `partition` -1 when the
    /// error is not about one partition.
    #[error("{name} (Kafka error {code}) for {topic}[{partition}]")]
    Kafka {
        code: i16,
        name: String,
        topic: String,
        partition: i32,
    },
    /// The configuration or the cluster asks for something this client does not do.
    #[error("unsupported: {0}")]
    Unsupported(String),
    /// A configuration value is missing or malformed.
    #[error("invalid configuration: {0}")]
    InvalidConfig(String),
    /// Something did not happen within its time limit.
    #[error("timed out: {0}")]
    Timeout(String),
    /// The client was stopped (dropped) before the work was done.
    #[error("the client was stopped")]
    Stopped,
    /// A record batch failed its checks (CRC, framing, record decoding).
    #[error("corrupt record batch in {topic}[{partition}] at offset {offset}: {reason}")]
    Corrupt {
        topic: String,
        partition: i32,
        offset: i64,
        reason: String,
    },
}

impl WireError {
    /// Whether trying the same thing again later may succeed.
    pub fn is_retriable(&self) -> bool {
        match self {
            WireError::Io { .. } | WireError::Protocol { .. } | WireError::Timeout(_) => true,
            WireError::Kafka { code, .. } => retriable_code(*code),
            WireError::Unsupported(_)
            | WireError::InvalidConfig(_)
            | WireError::Stopped
            | WireError::Corrupt { .. } => false,
        }
    }

    /// The error for Kafka error `code` about `topic`/`partition`.
    pub(crate) fn kafka(code: i16, topic: &str, partition: i32) -> WireError {
        WireError::Kafka {
            code,
            name: code_name(code),
            topic: topic.to_string(),
            partition,
        }
    }

    pub(crate) fn io(broker: &str, source: std::io::Error) -> WireError {
        WireError::Io {
            broker: broker.to_string(),
            source,
        }
    }

    pub(crate) fn protocol(broker: &str, message: impl Into<String>) -> WireError {
        WireError::Protocol {
            broker: broker.to_string(),
            message: message.into(),
        }
    }

    /// A copy for reporting the same failure twice (io::Error is not Clone).
    pub(crate) fn duplicate(&self) -> WireError {
        match self {
            WireError::Io { broker, source } => WireError::Io {
                broker: broker.clone(),
                source: std::io::Error::new(source.kind(), source.to_string()),
            },
            WireError::Protocol { broker, message } => WireError::Protocol {
                broker: broker.clone(),
                message: message.clone(),
            },
            WireError::Kafka {
                code,
                name,
                topic,
                partition,
            } => WireError::Kafka {
                code: *code,
                name: name.clone(),
                topic: topic.clone(),
                partition: *partition,
            },
            WireError::Unsupported(s) => WireError::Unsupported(s.clone()),
            WireError::InvalidConfig(s) => WireError::InvalidConfig(s.clone()),
            WireError::Timeout(s) => WireError::Timeout(s.clone()),
            WireError::Stopped => WireError::Stopped,
            WireError::Corrupt {
                topic,
                partition,
                offset,
                reason,
            } => WireError::Corrupt {
                topic: topic.clone(),
                partition: *partition,
                offset: *offset,
                reason: reason.clone(),
            },
        }
    }
}

pub(crate) mod code {
    pub const OFFSET_OUT_OF_RANGE: i16 = 1;
    pub const CORRUPT_MESSAGE: i16 = 2;
    pub const UNKNOWN_TOPIC_OR_PARTITION: i16 = 3;
    pub const LEADER_NOT_AVAILABLE: i16 = 5;
    pub const NOT_LEADER_OR_FOLLOWER: i16 = 6;
    pub const REQUEST_TIMED_OUT: i16 = 7;
    pub const REPLICA_NOT_AVAILABLE: i16 = 9;
    pub const NETWORK_EXCEPTION: i16 = 13;
    pub const NOT_ENOUGH_REPLICAS: i16 = 19;
    pub const NOT_ENOUGH_REPLICAS_AFTER_APPEND: i16 = 20;
    pub const NOT_CONTROLLER: i16 = 41;
    pub const KAFKA_STORAGE_ERROR: i16 = 56;
    pub const FENCED_LEADER_EPOCH: i16 = 74;
    pub const UNKNOWN_LEADER_EPOCH: i16 = 75;
    pub const OFFSET_NOT_AVAILABLE: i16 = 78;
    pub const THROTTLING_QUOTA_EXCEEDED: i16 = 89;
}

/// Errors after which the partition's leader may have moved: refresh metadata before retrying.
pub(crate) fn needs_metadata_refresh(code: i16) -> bool {
    matches!(
        code,
        code::NOT_LEADER_OR_FOLLOWER
            | code::LEADER_NOT_AVAILABLE
            | code::UNKNOWN_TOPIC_OR_PARTITION
            | code::FENCED_LEADER_EPOCH
            | code::UNKNOWN_LEADER_EPOCH
            | code::NOT_CONTROLLER
            | code::REPLICA_NOT_AVAILABLE
            | code::KAFKA_STORAGE_ERROR
    )
}

/// Kafka's own retriable flag, except CORRUPT_MESSAGE: Kafka marks it retriable for CRC errors on
/// the network, but a batch this client sends is checked first, so the broker refusing it again
/// would only burn the delivery timeout.
pub(crate) fn retriable_code(code: i16) -> bool {
    if code == code::CORRUPT_MESSAGE {
        return false;
    }
    if needs_metadata_refresh(code)
        || matches!(
            code,
            code::REQUEST_TIMED_OUT
                | code::NETWORK_EXCEPTION
                | code::NOT_ENOUGH_REPLICAS
                | code::NOT_ENOUGH_REPLICAS_AFTER_APPEND
                | code::OFFSET_NOT_AVAILABLE
                | code::THROTTLING_QUOTA_EXCEEDED
        )
    {
        return true;
    }
    ResponseError::try_from_code(code).is_some_and(|e| e.is_retriable())
}

/// Kafka's UPPER_SNAKE name of an error code (`TOPIC_AUTHORIZATION_FAILED`), as the Java client and
/// the docs spell it, or `UNKNOWN_ERROR_CODE_<n>`.
pub(crate) fn code_name(code: i16) -> String {
    match ResponseError::try_from_code(code) {
        None => "NONE".to_string(),
        Some(ResponseError::Unknown(c)) => format!("UNKNOWN_ERROR_CODE_{c}"),
        Some(e) => {
            let camel = format!("{e:?}");
            let mut out = String::with_capacity(camel.len() + 8);
            for (i, ch) in camel.chars().enumerate() {
                if ch.is_ascii_uppercase() && i > 0 {
                    out.push('_');
                }
                out.push(ch.to_ascii_uppercase());
            }
            out
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_kafka_style() {
        assert_eq!(code_name(29), "TOPIC_AUTHORIZATION_FAILED");
        assert_eq!(code_name(6), "NOT_LEADER_OR_FOLLOWER");
        assert_eq!(code_name(-1), "UNKNOWN_SERVER_ERROR");
        assert_eq!(code_name(9999), "UNKNOWN_ERROR_CODE_9999");
    }

    #[test]
    fn retriable_codes() {
        for c in [3, 5, 6, 7, 19, 20, 74, 75] {
            assert!(retriable_code(c), "{c}");
        }
        for c in [2, 10, 17, 18, 29, 87] {
            assert!(!retriable_code(c), "{c}");
        }
        assert!(WireError::kafka(6, "t", 0).is_retriable());
        assert!(!WireError::kafka(29, "t", 0).is_retriable());
        assert!(!WireError::Stopped.is_retriable());
    }
}
