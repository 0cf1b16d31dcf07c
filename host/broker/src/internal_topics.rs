//! Internal topics: the fixed set of names the broker itself writes (`__consumer_offsets` and
//! `__transaction_state`), and the refusals that keep clients from writing, truncating,
//! deleting, growing or unsafely reconfiguring them.
//!
//! Internal is a fixed list, as in Kafka (`Topic.isInternal`), not the `__` prefix: a client topic
//! named `__my_events` is an ordinary topic. Each check returns the Kafka error code and message a
//! client should see, so handlers need one guard call and nothing else.

use std::collections::BTreeMap;

use crate::error::code;

/// Committed offsets of consumer groups (see [`crate::groups`]).
pub const CONSUMER_OFFSETS: &str = crate::groups::OFFSETS_TOPIC;
/// The transaction coordinator's log (see [`crate::txn`]).
pub const TRANSACTION_STATE: &str = crate::txn::TRANSACTION_STATE_TOPIC;

/// Every internal topic name.
pub const INTERNAL_TOPICS: &[&str] = &[CONSUMER_OFFSETS, TRANSACTION_STATE];

/// The only `cleanup.policy` an internal topic may have: deletion by retention would drop commits.
const REQUIRED_CLEANUP_POLICY: &str = "compact";

/// A request refused because it targets an internal topic: the Kafka error code and a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub code: i16,
    pub message: String,
}

impl From<Refusal> for (i16, String) {
    fn from(r: Refusal) -> Self {
        (r.code, r.message)
    }
}

pub fn is_internal(topic: &str) -> bool {
    INTERNAL_TOPICS.contains(&topic)
}

fn refuse_if_internal(topic: &str, code: i16, what: &str) -> Result<(), Refusal> {
    if is_internal(topic) {
        return Err(Refusal {
            code,
            message: format!("Cannot {what} internal topic {topic}"),
        });
    }
    Ok(())
}

/// Produce: Kafka answers INVALID_TOPIC_EXCEPTION ("Cannot append to internal topic").
pub fn check_produce(topic: &str) -> Result<(), Refusal> {
    refuse_if_internal(topic, code::INVALID_TOPIC_EXCEPTION, "append to")
}

/// DeleteRecords: Kafka answers INVALID_TOPIC_EXCEPTION ("Cannot delete records of internal topic").
pub fn check_delete_records(topic: &str) -> Result<(), Refusal> {
    refuse_if_internal(topic, code::INVALID_TOPIC_EXCEPTION, "delete records of")
}

/// DeleteTopics: Kafka relies on ACLs here; with no ACLs, refuse as for the other destructive calls.
pub fn check_delete_topic(topic: &str) -> Result<(), Refusal> {
    refuse_if_internal(topic, code::INVALID_TOPIC_EXCEPTION, "delete")
}

/// CreatePartitions: more partitions would move groups to other offsets partitions and lose their commits.
pub fn check_create_partitions(topic: &str) -> Result<(), Refusal> {
    refuse_if_internal(topic, code::INVALID_TOPIC_EXCEPTION, "add partitions to")
}

/// CreateTopics: the broker creates internal topics itself, with their real shape. Kafka refuses
/// creating its metadata topic the same way (INVALID_REQUEST, "Creation of internal topic … is prohibited").
pub fn check_create(topic: &str) -> Result<(), Refusal> {
    if is_internal(topic) {
        return Err(Refusal {
            code: code::INVALID_REQUEST,
            message: format!(
                "Creation of internal topic {topic} is prohibited: the broker creates it when needed."
            ),
        });
    }
    Ok(())
}

/// AlterConfigs / IncrementalAlterConfigs: `overrides` is the complete override set the topic would
/// have afterwards; an internal topic must stay `cleanup.policy=compact` (Kafka's own setting for it).
pub fn check_configs(topic: &str, overrides: &BTreeMap<String, String>) -> Result<(), Refusal> {
    if !is_internal(topic) {
        return Ok(());
    }
    let policy = overrides.get("cleanup.policy").map(|p| p.trim());
    if policy != Some(REQUIRED_CLEANUP_POLICY) {
        return Err(Refusal {
            code: code::INVALID_CONFIG,
            message: format!(
                "Internal topic {topic} must keep cleanup.policy={REQUIRED_CLEANUP_POLICY} (requested: {})",
                policy.unwrap_or("the broker default")
            ),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_is_a_fixed_set_not_a_prefix() {
        assert!(is_internal("__consumer_offsets"));
        assert!(is_internal("__transaction_state"));
        assert!(!is_internal("__my_events"));
        assert!(!is_internal("consumer_offsets"));
        assert!(check_produce("__my_events").is_ok());
    }

    #[test]
    fn destructive_calls_get_kafka_codes() {
        let r = check_produce(CONSUMER_OFFSETS).unwrap_err();
        assert_eq!(r.code, code::INVALID_TOPIC_EXCEPTION);
        assert_eq!(
            r.message,
            "Cannot append to internal topic __consumer_offsets"
        );
        assert_eq!(
            check_delete_records(CONSUMER_OFFSETS).unwrap_err().code,
            code::INVALID_TOPIC_EXCEPTION
        );
        assert_eq!(
            check_create(TRANSACTION_STATE).unwrap_err().code,
            code::INVALID_REQUEST
        );
    }

    #[test]
    fn only_compact_is_a_safe_cleanup_policy() {
        let with = |p: &str| BTreeMap::from([("cleanup.policy".to_string(), p.to_string())]);
        assert!(check_configs(CONSUMER_OFFSETS, &with("compact")).is_ok());
        for bad in ["delete", "compact,delete", ""] {
            let r = check_configs(CONSUMER_OFFSETS, &with(bad)).unwrap_err();
            assert_eq!(r.code, code::INVALID_CONFIG, "{bad}");
        }
        assert!(check_configs(CONSUMER_OFFSETS, &BTreeMap::new()).is_err());
        assert!(check_configs("orders", &with("delete")).is_ok());
    }
}
