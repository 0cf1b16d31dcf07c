//! Replication policies, after MM2's `DefaultReplicationPolicy` (remote topics are
//! `<source alias><separator><topic>`) and `IdentityReplicationPolicy` (topics keep their names;
//! only heartbeats are prefixed), with `ReplicationPolicy`'s default methods for internal,
//! heartbeat and checkpoint topics.

/// Which of MM2's two policies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PolicyKind {
    /// `DefaultReplicationPolicy`.
    Default,
    /// `IdentityReplicationPolicy`.
    Identity,
}

impl PolicyKind {
    /// The policy named by `replication.policy.class` (full or simple class name).
    pub fn from_class(class: &str) -> Option<PolicyKind> {
        let simple = class.trim().rsplit('.').next().unwrap_or("");
        match simple {
            "DefaultReplicationPolicy" => Some(PolicyKind::Default),
            "IdentityReplicationPolicy" => Some(PolicyKind::Identity),
            _ => None,
        }
    }
}

/// A configured replication policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    kind: PolicyKind,
    separator: String,
    /// The separator of internal topic names (`.` unless the custom separator applies to them).
    internal_separator: String,
    /// The identity policy's answer to `topicSource` for an ordinary topic.
    source_alias: Option<String>,
}

const HEARTBEATS: &str = "heartbeats";

impl Policy {
    /// A policy with `separator`; `internal_separator_enabled` is MM2's
    /// `replication.policy.internal.topic.separator.enabled`.
    pub fn new(
        kind: PolicyKind,
        separator: &str,
        internal_separator_enabled: bool,
        source_alias: Option<&str>,
    ) -> Policy {
        Policy {
            kind,
            separator: separator.to_string(),
            internal_separator: if internal_separator_enabled {
                separator.to_string()
            } else {
                ".".to_string()
            },
            source_alias: source_alias.map(str::to_string),
        }
    }

    /// The default policy with separator `.`.
    pub fn default_policy() -> Policy {
        Policy::new(PolicyKind::Default, ".", true, None)
    }

    /// Which policy this is.
    pub fn kind(&self) -> PolicyKind {
        self.kind
    }

    fn looks_like_heartbeat(topic: &str) -> bool {
        topic.ends_with(HEARTBEATS)
    }

    /// The name `topic` of cluster `source_alias` gets on the target cluster.
    pub fn format_remote_topic(&self, source_alias: &str, topic: &str) -> String {
        if self.kind == PolicyKind::Identity && !Self::looks_like_heartbeat(topic) {
            return topic.to_string();
        }
        format!("{source_alias}{}{topic}", self.separator)
    }

    /// The cluster `topic` came from, if it is a remote topic.
    pub fn topic_source<'a>(&'a self, topic: &'a str) -> Option<&'a str> {
        if self.kind == PolicyKind::Identity && !Self::looks_like_heartbeat(topic) {
            return self.source_alias.as_deref();
        }
        self.default_topic_source(topic)
    }

    /// Java's `Pattern.split`: trailing empty parts dropped; fewer than two parts is no source.
    fn default_topic_source<'a>(&self, topic: &'a str) -> Option<&'a str> {
        if self.separator.is_empty() {
            return None;
        }
        let mut parts: Vec<&str> = topic.split(self.separator.as_str()).collect();
        while parts.last() == Some(&"") {
            parts.pop();
        }
        if parts.len() < 2 {
            None
        } else {
            Some(parts[0])
        }
    }

    /// The name `topic` has on the cluster it came from, if it is a remote topic.
    pub fn upstream_topic<'a>(&self, topic: &'a str) -> Option<&'a str> {
        if self.kind == PolicyKind::Identity && !Self::looks_like_heartbeat(topic) {
            return Some(topic);
        }
        let source = self.default_topic_source(topic)?;
        topic.get(source.len() + self.separator.len()..)
    }

    /// The topic's name on the cluster where it was first written (following every hop).
    pub fn original_topic<'a>(&self, topic: &'a str) -> &'a str {
        let mut t = topic;
        loop {
            match self.upstream_topic(t) {
                Some(up) if up != t => t = up,
                _ => return t,
            }
        }
    }

    /// `heartbeats`.
    pub fn heartbeats_topic(&self) -> &'static str {
        HEARTBEATS
    }

    /// `mm2-offset-syncs.<alias>.internal`.
    pub fn offset_syncs_topic(&self, cluster_alias: &str) -> String {
        let s = &self.internal_separator;
        format!("mm2-offset-syncs{s}{cluster_alias}{s}internal")
    }

    /// `<alias>.checkpoints.internal`.
    pub fn checkpoints_topic(&self, cluster_alias: &str) -> String {
        let s = &self.internal_separator;
        format!("{cluster_alias}{s}checkpoints{s}internal")
    }

    /// `heartbeats`, `A.heartbeats`, `B.A.heartbeats`, ...
    pub fn is_heartbeats_topic(&self, topic: &str) -> bool {
        self.original_topic(topic) == HEARTBEATS
    }

    /// Ends with `.checkpoints.internal`.
    pub fn is_checkpoints_topic(&self, topic: &str) -> bool {
        let s = &self.internal_separator;
        topic.ends_with(&format!("{s}checkpoints{s}internal"))
    }

    /// Ends with `.internal`.
    pub fn is_mm2_internal_topic(&self, topic: &str) -> bool {
        topic.ends_with(&format!("{}internal", self.internal_separator))
    }

    /// MM2's internal topics, Kafka's (`__*`, `.*`) and Connect's (`*-internal`, `*.internal`).
    pub fn is_internal_topic(&self, topic: &str) -> bool {
        self.is_mm2_internal_topic(topic)
            || topic.starts_with("__")
            || topic.starts_with('.')
            || topic.ends_with("-internal")
            || topic.ends_with(".internal")
    }

    /// MirrorSourceConnector.isCycle: the topic came (directly or through other hops) from
    /// `target_alias`, so mirroring it there would loop.
    pub fn is_cycle(&self, topic: &str, target_alias: &str) -> bool {
        let mut t = topic;
        loop {
            match self.topic_source(t) {
                None => return false,
                Some(s) if s == target_alias => return true,
                Some(_) => match self.upstream_topic(t) {
                    Some(up) if up != t => t = up,
                    _ => return false,
                },
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_policy_names_like_mm2() {
        let p = Policy::default_policy();
        assert_eq!(p.format_remote_topic("A", "orders"), "A.orders");
        assert_eq!(p.topic_source("A.orders"), Some("A"));
        assert_eq!(p.upstream_topic("A.orders"), Some("orders"));
        assert_eq!(p.topic_source("orders"), None);
        assert_eq!(p.upstream_topic("orders"), None);
        // Java's split drops trailing empty parts and keeps a leading one.
        assert_eq!(p.topic_source("A."), None);
        assert_eq!(p.topic_source(".x"), Some(""));
        assert_eq!(p.topic_source("A..b"), Some("A"));
        assert_eq!(p.upstream_topic("A..b"), Some(".b"));
        assert_eq!(p.original_topic("B.A.orders"), "orders");
        assert_eq!(p.offset_syncs_topic("B"), "mm2-offset-syncs.B.internal");
        assert_eq!(p.checkpoints_topic("A"), "A.checkpoints.internal");
        assert!(p.is_heartbeats_topic("heartbeats"));
        assert!(p.is_heartbeats_topic("A.heartbeats"));
        assert!(p.is_heartbeats_topic("B.A.heartbeats"));
        assert!(!p.is_heartbeats_topic("A.heartbeats2"));
        assert!(p.is_checkpoints_topic("A.checkpoints.internal"));
        for t in [
            "__consumer_offsets",
            ".hidden",
            "connect-offsets-internal",
            "x.internal",
        ] {
            assert!(p.is_internal_topic(t), "{t}");
        }
        assert!(!p.is_internal_topic("orders"));
        assert!(p.is_cycle("B.orders", "B"));
        assert!(p.is_cycle("A.B.orders", "B"));
        assert!(!p.is_cycle("A.orders", "B"));
        assert!(!p.is_cycle("orders", "B"));
    }

    #[test]
    fn custom_separator_and_internal_separator() {
        let p = Policy::new(PolicyKind::Default, "_", true, None);
        assert_eq!(p.format_remote_topic("A", "t"), "A_t");
        assert_eq!(p.topic_source("A_t"), Some("A"));
        assert_eq!(p.offset_syncs_topic("B"), "mm2-offset-syncs_B_internal");
        assert_eq!(p.checkpoints_topic("A"), "A_checkpoints_internal");
        let p = Policy::new(PolicyKind::Default, "_", false, None);
        assert_eq!(p.offset_syncs_topic("B"), "mm2-offset-syncs.B.internal");
    }

    #[test]
    fn identity_policy_keeps_names_but_prefixes_heartbeats() {
        let p = Policy::new(PolicyKind::Identity, ".", true, Some("A"));
        assert_eq!(p.format_remote_topic("A", "orders"), "orders");
        assert_eq!(p.format_remote_topic("A", "heartbeats"), "A.heartbeats");
        assert_eq!(p.topic_source("orders"), Some("A"));
        assert_eq!(p.upstream_topic("orders"), Some("orders"));
        assert_eq!(p.original_topic("orders"), "orders");
        assert_eq!(p.topic_source("A.heartbeats"), Some("A"));
        assert!(p.is_heartbeats_topic("A.heartbeats"));
        // Identity cannot see where a topic came from: only a direct match is a cycle.
        assert!(!p.is_cycle("orders", "B"));
        assert!(p.is_cycle("B.heartbeats", "B"));
        assert_eq!(
            PolicyKind::from_class("org.apache.kafka.connect.mirror.IdentityReplicationPolicy"),
            Some(PolicyKind::Identity)
        );
        assert_eq!(
            PolicyKind::from_class("DefaultReplicationPolicy"),
            Some(PolicyKind::Default)
        );
        assert_eq!(PolicyKind::from_class("com.x.Custom"), None);
    }
}
