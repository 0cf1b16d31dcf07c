//! The mirror's config: MM2's connector config names and defaults (MirrorSourceConfig,
//! MirrorCheckpointConfig, MirrorHeartbeatConfig), read into [`Settings`], and the role
//! (source, checkpoint, heartbeat) picked from `connector.class`.
//!
//! Where MM2's default would not suit a Weft cluster it is said here: `replication.factor`
//! and the internal topics' replication factors default to -1, the cluster's default (MM2: 2
//! and 3), so a one-broker cluster works without settings. The task index and count
//! (`mirror.task.index`, `mirror.task.count`) are Weft's, set by `task-configs`.

use weft_plugin_sdk::{Config, ConfigDef, ConfigIssue, ConfigType, Importance};

use crate::filter::{
    IncludeExclude, PatternList, CONFIG_PROPERTIES_EXCLUDE_DEFAULT, GROUPS_EXCLUDE_DEFAULT,
    TOPICS_EXCLUDE_DEFAULT,
};
use crate::policy::{Policy, PolicyKind};

pub const CONNECTOR_CLASS: &str = "connector.class";
pub const SOURCE_ALIAS: &str = "source.cluster.alias";
pub const TARGET_ALIAS: &str = "target.cluster.alias";
pub const TOPICS: &str = "topics";
pub const TOPICS_EXCLUDE: &str = "topics.exclude";
pub const GROUPS: &str = "groups";
pub const GROUPS_EXCLUDE: &str = "groups.exclude";
pub const POLICY_CLASS: &str = "replication.policy.class";
pub const POLICY_SEPARATOR: &str = "replication.policy.separator";
pub const INTERNAL_SEPARATOR_ENABLED: &str = "replication.policy.internal.topic.separator.enabled";
pub const REFRESH_TOPICS_ENABLED: &str = "refresh.topics.enabled";
pub const REFRESH_TOPICS_INTERVAL: &str = "refresh.topics.interval.seconds";
pub const REFRESH_GROUPS_ENABLED: &str = "refresh.groups.enabled";
pub const REFRESH_GROUPS_INTERVAL: &str = "refresh.groups.interval.seconds";
pub const SYNC_TOPIC_CONFIGS_ENABLED: &str = "sync.topic.configs.enabled";
pub const SYNC_TOPIC_CONFIGS_INTERVAL: &str = "sync.topic.configs.interval.seconds";
pub const CONFIG_PROPERTIES_EXCLUDE: &str = "config.properties.exclude";
pub const SYNC_GROUP_OFFSETS_ENABLED: &str = "sync.group.offsets.enabled";
pub const SYNC_GROUP_OFFSETS_INTERVAL: &str = "sync.group.offsets.interval.seconds";
pub const EMIT_HEARTBEATS_ENABLED: &str = "emit.heartbeats.enabled";
pub const EMIT_HEARTBEATS_INTERVAL: &str = "emit.heartbeats.interval.seconds";
pub const EMIT_CHECKPOINTS_ENABLED: &str = "emit.checkpoints.enabled";
pub const EMIT_CHECKPOINTS_INTERVAL: &str = "emit.checkpoints.interval.seconds";
pub const HEARTBEATS_REPLICATION_ENABLED: &str = "heartbeats.replication.enabled";
pub const OFFSET_LAG_MAX: &str = "offset.lag.max";
pub const REPLICATION_FACTOR: &str = "replication.factor";
pub const HEARTBEATS_RF: &str = "heartbeats.topic.replication.factor";
pub const CHECKPOINTS_RF: &str = "checkpoints.topic.replication.factor";
/// Weft's: the source role reads stored record batches and the worker appends them unchanged.
pub const BATCH_PASSTHROUGH: &str = "batch.passthrough.enabled";
pub const OFFSET_SYNCS_RF: &str = "offset-syncs.topic.replication.factor";
pub const OFFSET_SYNCS_LOCATION: &str = "offset-syncs.topic.location";
pub const TASK_INDEX: &str = "mirror.task.index";
pub const TASK_COUNT: &str = "mirror.task.count";
pub const CAPABILITY_CLOCK: &str = "capability.clock";

/// Which of MM2's three connectors this instance is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// MirrorSourceConnector: records and offset syncs.
    Source,
    /// MirrorCheckpointConnector: checkpoints and group offset sync.
    Checkpoint,
    /// MirrorHeartbeatConnector: heartbeats.
    Heartbeat,
}

impl Role {
    /// The role `connector.class` names (…Checkpoint… / …Heartbeat…; anything else, `mirror`
    /// included, is the source role).
    pub fn from_class(class: &str) -> Role {
        let simple = class.rsplit('.').next().unwrap_or(class);
        if simple.contains("Checkpoint") {
            Role::Checkpoint
        } else if simple.contains("Heartbeat") {
            Role::Heartbeat
        } else {
            Role::Source
        }
    }
}

/// Where the offset-syncs topic lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncsLocation {
    /// On the source cluster (MM2's default).
    Source,
    /// On the target cluster.
    Target,
}

/// The config, parsed.
#[derive(Debug, Clone)]
pub struct Settings {
    pub role: Role,
    pub source_alias: String,
    pub target_alias: String,
    pub topics: IncludeExclude,
    pub groups: IncludeExclude,
    pub config_exclude: PatternList,
    pub policy: Policy,
    /// Intervals in ms; `None` is disabled.
    pub refresh_topics_ms: Option<u64>,
    pub refresh_groups_ms: Option<u64>,
    pub sync_topic_configs_ms: Option<u64>,
    pub sync_group_offsets_ms: Option<u64>,
    pub emit_heartbeats_ms: Option<u64>,
    pub emit_checkpoints_ms: Option<u64>,
    pub heartbeats_replication: bool,
    pub offset_lag_max: i64,
    pub replication_factor: i16,
    pub heartbeats_rf: i16,
    pub checkpoints_rf: i16,
    pub offset_syncs_rf: i16,
    pub syncs_location: SyncsLocation,
    /// Read the source's record batches as stored and have them appended unchanged.
    pub batch_passthrough: bool,
    pub task_index: u32,
    pub task_count: u32,
}

/// Reads every key, collecting one issue per bad key.
struct Reader<'a> {
    c: &'a Config,
    issues: Vec<ConfigIssue>,
}

impl Reader<'_> {
    fn issue(&mut self, key: &str, message: impl Into<String>) {
        self.issues.push(ConfigIssue {
            key: key.to_string(),
            message: message.into(),
        });
    }

    fn str_or<'b>(&'b self, key: &str, default: &'b str) -> &'b str {
        self.c.get(key).unwrap_or(default)
    }

    fn required(&mut self, key: &str) -> String {
        match self.c.get(key).map(str::trim) {
            Some(v) if !v.is_empty() => v.to_string(),
            _ => {
                self.issue(key, "is required (the cluster's alias, as in the MM2 file)");
                String::new()
            }
        }
    }

    fn bool(&mut self, key: &str, default: bool) -> bool {
        match self.c.bool(key, default) {
            Ok(b) => b,
            Err(_) => {
                self.issue(key, "must be true or false");
                default
            }
        }
    }

    fn long(&mut self, key: &str, default: i64) -> i64 {
        match self.c.i64(key, default) {
            Ok(v) => v,
            Err(_) => {
                self.issue(key, "must be an integer");
                default
            }
        }
    }

    fn rf(&mut self, key: &str, default: i16) -> i16 {
        let v = self.long(key, i64::from(default));
        match i16::try_from(v) {
            Ok(r) if r == -1 || r >= 1 => r,
            _ => {
                self.issue(key, "must be -1 (the cluster's default) or at least 1");
                default
            }
        }
    }

    /// `<flag>` and `<interval>` (seconds; negative disables, as in MM2) as milliseconds.
    fn interval(&mut self, flag: Option<&str>, interval: &str, default_secs: i64) -> Option<u64> {
        let enabled = flag.is_none_or(|f| self.bool(f, true));
        let secs = self.long(interval, default_secs);
        (enabled && secs >= 0).then(|| secs as u64 * 1000)
    }

    fn patterns(&mut self, key: &str, default: &str) -> PatternList {
        match PatternList::parse(self.str_or(key, default)) {
            Ok(p) => p,
            Err(e) => {
                self.issue(key, e);
                PatternList::parse("").unwrap_or_else(|_| unreachable!())
            }
        }
    }
}

impl Settings {
    /// Parses `c`; every problem is an issue naming its key.
    pub fn parse(c: &Config) -> Result<Settings, Vec<ConfigIssue>> {
        let mut r = Reader {
            c,
            issues: Vec::new(),
        };
        let role = Role::from_class(c.get(CONNECTOR_CLASS).unwrap_or("mirror"));
        let source_alias = r.required(SOURCE_ALIAS);
        let target_alias = r.required(TARGET_ALIAS);
        let topics = IncludeExclude::new(
            r.patterns(TOPICS, ".*"),
            r.patterns(TOPICS_EXCLUDE, TOPICS_EXCLUDE_DEFAULT),
        );
        let groups = IncludeExclude::new(
            r.patterns(GROUPS, ".*"),
            r.patterns(GROUPS_EXCLUDE, GROUPS_EXCLUDE_DEFAULT),
        );
        let config_exclude =
            r.patterns(CONFIG_PROPERTIES_EXCLUDE, CONFIG_PROPERTIES_EXCLUDE_DEFAULT);
        let class = r
            .str_or(
                POLICY_CLASS,
                "org.apache.kafka.connect.mirror.DefaultReplicationPolicy",
            )
            .to_string();
        let kind = PolicyKind::from_class(&class).unwrap_or_else(|| {
            r.issue(
                POLICY_CLASS,
                format!(
                    "`{class}` is not supported: DefaultReplicationPolicy or \
                     IdentityReplicationPolicy"
                ),
            );
            PolicyKind::Default
        });
        let separator = r.str_or(POLICY_SEPARATOR, ".").to_string();
        if separator.is_empty() {
            r.issue(POLICY_SEPARATOR, "must not be empty");
        }
        let internal_sep = r.bool(INTERNAL_SEPARATOR_ENABLED, true);
        let policy = Policy::new(kind, &separator, internal_sep, Some(&source_alias));
        let refresh_topics_ms =
            r.interval(Some(REFRESH_TOPICS_ENABLED), REFRESH_TOPICS_INTERVAL, 600);
        let refresh_groups_ms =
            r.interval(Some(REFRESH_GROUPS_ENABLED), REFRESH_GROUPS_INTERVAL, 600);
        let sync_topic_configs_ms = r.interval(
            Some(SYNC_TOPIC_CONFIGS_ENABLED),
            SYNC_TOPIC_CONFIGS_INTERVAL,
            600,
        );
        let sync_group_offsets_ms = {
            let on = r.bool(SYNC_GROUP_OFFSETS_ENABLED, false);
            let ms = r.interval(None, SYNC_GROUP_OFFSETS_INTERVAL, 60);
            ms.filter(|_| on)
        };
        let emit_heartbeats_ms =
            r.interval(Some(EMIT_HEARTBEATS_ENABLED), EMIT_HEARTBEATS_INTERVAL, 1);
        let emit_checkpoints_ms = r.interval(
            Some(EMIT_CHECKPOINTS_ENABLED),
            EMIT_CHECKPOINTS_INTERVAL,
            60,
        );
        let heartbeats_replication = r.bool(HEARTBEATS_REPLICATION_ENABLED, true);
        let offset_lag_max = r.long(OFFSET_LAG_MAX, 100);
        let replication_factor = r.rf(REPLICATION_FACTOR, -1);
        let heartbeats_rf = r.rf(HEARTBEATS_RF, -1);
        let checkpoints_rf = r.rf(CHECKPOINTS_RF, -1);
        let offset_syncs_rf = r.rf(OFFSET_SYNCS_RF, -1);
        let syncs_location = match r.str_or(OFFSET_SYNCS_LOCATION, "source").trim() {
            "source" => SyncsLocation::Source,
            "target" => SyncsLocation::Target,
            other => {
                let msg = format!("`{other}` is not source or target");
                r.issue(OFFSET_SYNCS_LOCATION, msg);
                SyncsLocation::Source
            }
        };
        let batch_passthrough = r.bool(BATCH_PASSTHROUGH, false);
        let task_count = r.long(TASK_COUNT, 1);
        let task_index = r.long(TASK_INDEX, 0);
        if task_count < 1 || task_index < 0 || task_index >= task_count {
            r.issue(
                TASK_INDEX,
                format!("{task_index} is not a task of {task_count}"),
            );
        }
        if !r.issues.is_empty() {
            return Err(r.issues);
        }
        Ok(Settings {
            role,
            source_alias,
            target_alias,
            topics,
            groups,
            config_exclude,
            policy,
            refresh_topics_ms,
            refresh_groups_ms,
            sync_topic_configs_ms,
            sync_group_offsets_ms,
            emit_heartbeats_ms,
            emit_checkpoints_ms,
            heartbeats_replication,
            offset_lag_max,
            replication_factor,
            heartbeats_rf,
            checkpoints_rf,
            offset_syncs_rf,
            syncs_location,
            batch_passthrough,
            task_index: task_index.clamp(0, u32::MAX as i64) as u32,
            task_count: task_count.clamp(1, u32::MAX as i64) as u32,
        })
    }

    /// MirrorSourceConnector.shouldReplicateTopic: matches the filter (or is a heartbeats
    /// topic), is not internal, and did not come from the target (no loop).
    pub fn should_replicate_topic(&self, topic: &str) -> bool {
        (self.topics.accepts(topic)
            || (self.heartbeats_replication && self.policy.is_heartbeats_topic(topic)))
            && !self.policy.is_internal_topic(topic)
            && !self.policy.is_cycle(topic, &self.target_alias)
    }

    /// The name a source topic gets on the target.
    pub fn target_topic(&self, topic: &str) -> String {
        self.policy.format_remote_topic(&self.source_alias, topic)
    }

    /// MirrorCheckpointTask.renameTopicPartition: a topic that came from the target maps back
    /// to its original name, any other to its remote name.
    pub fn checkpoint_topic_name(&self, topic: &str) -> String {
        if self.policy.topic_source(topic) == Some(self.target_alias.as_str()) {
            self.policy.original_topic(topic).to_string()
        } else {
            self.target_topic(topic)
        }
    }

    /// The offset-syncs topic (`mm2-offset-syncs.<target>.internal`).
    pub fn offset_syncs_topic(&self) -> String {
        self.policy.offset_syncs_topic(&self.target_alias)
    }

    /// The checkpoints topic on the target (`<source>.checkpoints.internal`).
    pub fn checkpoints_topic(&self) -> String {
        self.policy.checkpoints_topic(&self.source_alias)
    }
}

/// Checks a config: parse issues, and a real clock (intervals and timestamps need one).
pub fn validate_with(c: &Config, clock: bool) -> Vec<ConfigIssue> {
    let mut issues = Settings::parse(c).err().unwrap_or_default();
    if !clock {
        issues.push(ConfigIssue {
            key: CAPABILITY_CLOCK.into(),
            message: "must be true: the mirror needs real time for its intervals and for \
                      heartbeat and checkpoint timestamps"
                .into(),
        });
    }
    issues
}

/// The config keys, for `describe` and Connect's validate endpoint.
pub fn config_defs() -> Vec<ConfigDef> {
    use ConfigType::{Boolean, Int, List, Long, String as Str};
    let d = |name: &str, ty, default: Option<&str>, doc: &str, imp| {
        let def = ConfigDef::new(name, ty, doc).importance(imp);
        match default {
            Some(v) => def.default(v),
            None => def,
        }
    };
    use Importance::{High, Low, Medium};
    vec![
        d(
            SOURCE_ALIAS,
            Str,
            None,
            "Alias of the source cluster.",
            High,
        )
        .required(),
        d(
            TARGET_ALIAS,
            Str,
            None,
            "Alias of the target cluster.",
            High,
        )
        .required(),
        d(
            TOPICS,
            List,
            Some(".*"),
            "Topics to replicate (regexes).",
            High,
        ),
        d(
            TOPICS_EXCLUDE,
            List,
            Some(TOPICS_EXCLUDE_DEFAULT),
            "Topics not to replicate (regexes).",
            High,
        ),
        d(
            GROUPS,
            List,
            Some(".*"),
            "Consumer groups to checkpoint (regexes).",
            High,
        ),
        d(
            GROUPS_EXCLUDE,
            List,
            Some(GROUPS_EXCLUDE_DEFAULT),
            "Consumer groups not to checkpoint (regexes).",
            High,
        ),
        d(
            POLICY_CLASS,
            Str,
            Some("org.apache.kafka.connect.mirror.DefaultReplicationPolicy"),
            "DefaultReplicationPolicy (<source>.<topic>) or IdentityReplicationPolicy.",
            Low,
        ),
        d(
            POLICY_SEPARATOR,
            Str,
            Some("."),
            "Separator of remote topic names.",
            Low,
        ),
        d(
            INTERNAL_SEPARATOR_ENABLED,
            Boolean,
            Some("true"),
            "Whether the separator applies to internal topic names too.",
            Low,
        ),
        d(
            REFRESH_TOPICS_ENABLED,
            Boolean,
            Some("true"),
            "Look for new topics and partitions periodically.",
            Low,
        ),
        d(
            REFRESH_TOPICS_INTERVAL,
            Long,
            Some("600"),
            "Seconds between topic refreshes.",
            Low,
        ),
        d(
            REFRESH_GROUPS_ENABLED,
            Boolean,
            Some("true"),
            "Look for new consumer groups periodically.",
            Low,
        ),
        d(
            REFRESH_GROUPS_INTERVAL,
            Long,
            Some("600"),
            "Seconds between group refreshes.",
            Low,
        ),
        d(
            SYNC_TOPIC_CONFIGS_ENABLED,
            Boolean,
            Some("true"),
            "Copy topic configs to the target.",
            Low,
        ),
        d(
            SYNC_TOPIC_CONFIGS_INTERVAL,
            Long,
            Some("600"),
            "Seconds between topic config syncs.",
            Low,
        ),
        d(
            CONFIG_PROPERTIES_EXCLUDE,
            List,
            Some(CONFIG_PROPERTIES_EXCLUDE_DEFAULT),
            "Topic configs not to copy (regexes).",
            Low,
        ),
        d(
            SYNC_GROUP_OFFSETS_ENABLED,
            Boolean,
            Some("false"),
            "Commit translated offsets to target groups without active members.",
            Low,
        ),
        d(
            SYNC_GROUP_OFFSETS_INTERVAL,
            Long,
            Some("60"),
            "Seconds between group offset syncs.",
            Low,
        ),
        d(
            EMIT_HEARTBEATS_ENABLED,
            Boolean,
            Some("true"),
            "Write heartbeats.",
            Low,
        ),
        d(
            EMIT_HEARTBEATS_INTERVAL,
            Long,
            Some("1"),
            "Seconds between heartbeats.",
            Low,
        ),
        d(
            EMIT_CHECKPOINTS_ENABLED,
            Boolean,
            Some("true"),
            "Write consumer group checkpoints.",
            Low,
        ),
        d(
            EMIT_CHECKPOINTS_INTERVAL,
            Long,
            Some("60"),
            "Seconds between checkpoints.",
            Low,
        ),
        d(
            HEARTBEATS_REPLICATION_ENABLED,
            Boolean,
            Some("true"),
            "Replicate heartbeats topics whatever `topics` says.",
            Low,
        ),
        d(
            OFFSET_LAG_MAX,
            Long,
            Some("100"),
            "How far a translated offset may fall behind before an offset sync is written.",
            Low,
        ),
        d(
            REPLICATION_FACTOR,
            Int,
            Some("-1"),
            "Replication factor of created target topics; -1 is the cluster's default (MM2: 2).",
            Low,
        ),
        d(
            HEARTBEATS_RF,
            Int,
            Some("-1"),
            "Replication factor of the heartbeats topic; -1 is the cluster's default.",
            Low,
        ),
        d(
            CHECKPOINTS_RF,
            Int,
            Some("-1"),
            "Replication factor of the checkpoints topic; -1 is the cluster's default.",
            Low,
        ),
        d(
            OFFSET_SYNCS_RF,
            Int,
            Some("-1"),
            "Replication factor of the offset-syncs topic; -1 is the cluster's default.",
            Low,
        ),
        d(
            OFFSET_SYNCS_LOCATION,
            Str,
            Some("source"),
            "Where the offset-syncs topic lives: source or target.",
            Low,
        )
        .recommended(["source", "target"]),
        d(
            BATCH_PASSTHROUGH,
            Boolean,
            Some("false"),
            "Weft: copy the source's record batches as stored (same compression, no record \
             re-encoded); needs a PLAINTEXT source and target.",
            Medium,
        ),
        d(
            TASK_INDEX,
            Int,
            None,
            "Set by task-configs: this task's index.",
            Low,
        ),
        d(
            TASK_COUNT,
            Int,
            None,
            "Set by task-configs: the number of tasks.",
            Low,
        ),
        d(
            CAPABILITY_CLOCK,
            Boolean,
            None,
            "Must be true: real clocks for intervals and timestamps.",
            Medium,
        ),
    ]
}

/// One config per task: the connector config plus the task's index and count. The heartbeat
/// role runs one task (MM2 does too).
pub fn task_configs(c: &Config, max_tasks: u32) -> Vec<Config> {
    let role = Role::from_class(c.get(CONNECTOR_CLASS).unwrap_or("mirror"));
    let n = if role == Role::Heartbeat {
        1
    } else {
        max_tasks.max(1)
    };
    (0..n)
        .map(|i| {
            let mut entries: Vec<(String, String)> = c
                .entries()
                .iter()
                .filter(|(k, _)| k != TASK_INDEX && k != TASK_COUNT)
                .cloned()
                .collect();
            entries.push((TASK_INDEX.into(), i.to_string()));
            entries.push((TASK_COUNT.into(), n.to_string()));
            Config::new(entries)
        })
        .collect()
}

/// Whether task `index` of `count` owns `key` (a topic partition or a group): a stable FNV-1a
/// hash, so every task agrees without talking and a restart keeps the split.
pub fn owns(key: &str, partition: i32, index: u32, count: u32) -> bool {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in key.as_bytes().iter().chain(&partition.to_be_bytes()) {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    (h % u64::from(count.max(1))) as u32 == index
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(extra: &[(&str, &str)]) -> Config {
        let mut e: Vec<(String, String)> = vec![
            (SOURCE_ALIAS.into(), "A".into()),
            (TARGET_ALIAS.into(), "B".into()),
        ];
        e.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        Config::new(e)
    }

    #[test]
    fn defaults_are_mm2s() {
        let s = Settings::parse(&cfg(&[])).unwrap();
        assert_eq!(s.role, Role::Source);
        assert_eq!(s.refresh_topics_ms, Some(600_000));
        assert_eq!(s.refresh_groups_ms, Some(600_000));
        assert_eq!(s.sync_topic_configs_ms, Some(600_000));
        assert_eq!(s.sync_group_offsets_ms, None);
        assert_eq!(s.emit_heartbeats_ms, Some(1000));
        assert_eq!(s.emit_checkpoints_ms, Some(60_000));
        assert_eq!(s.offset_lag_max, 100);
        assert_eq!(s.replication_factor, -1);
        assert_eq!(s.syncs_location, SyncsLocation::Source);
        assert_eq!(s.offset_syncs_topic(), "mm2-offset-syncs.B.internal");
        assert_eq!(s.checkpoints_topic(), "A.checkpoints.internal");
        assert!(s.should_replicate_topic("orders"));
        assert!(s.should_replicate_topic("heartbeats"));
        assert!(s.should_replicate_topic("C.heartbeats"));
        assert!(
            !s.should_replicate_topic("B.orders"),
            "came from the target"
        );
        assert!(!s.should_replicate_topic("__consumer_offsets"));
        assert!(!s.should_replicate_topic("mm2-offset-syncs.B.internal"));
        assert!(
            !s.should_replicate_topic("B.heartbeats"),
            "a cycle even for heartbeats"
        );
        assert_eq!(s.target_topic("orders"), "A.orders");
        assert_eq!(s.checkpoint_topic_name("orders"), "A.orders");
        assert_eq!(s.checkpoint_topic_name("B.orders"), "orders");
    }

    #[test]
    fn roles_and_intervals() {
        let c = cfg(&[
            (
                CONNECTOR_CLASS,
                "org.apache.kafka.connect.mirror.MirrorCheckpointConnector",
            ),
            (SYNC_GROUP_OFFSETS_ENABLED, "true"),
            (SYNC_GROUP_OFFSETS_INTERVAL, "5"),
            (REFRESH_TOPICS_ENABLED, "false"),
            (EMIT_CHECKPOINTS_INTERVAL, "-1"),
        ]);
        let s = Settings::parse(&c).unwrap();
        assert_eq!(s.role, Role::Checkpoint);
        assert_eq!(s.sync_group_offsets_ms, Some(5000));
        assert_eq!(s.refresh_topics_ms, None);
        assert_eq!(s.emit_checkpoints_ms, None);
        assert_eq!(
            Role::from_class("MirrorHeartbeatConnector"),
            Role::Heartbeat
        );
        assert_eq!(Role::from_class("MirrorSourceConnector"), Role::Source);
        assert_eq!(Role::from_class("mirror"), Role::Source);
    }

    #[test]
    fn bad_input_names_the_key() {
        let c = Config::new(vec![
            (TOPICS.into(), "ok, (bad".into()),
            (OFFSET_SYNCS_LOCATION.into(), "moon".into()),
            (POLICY_CLASS.into(), "com.example.Custom".into()),
            (OFFSET_LAG_MAX.into(), "many".into()),
        ]);
        let issues = Settings::parse(&c).unwrap_err();
        let keys: Vec<&str> = issues.iter().map(|i| i.key.as_str()).collect();
        for k in [
            SOURCE_ALIAS,
            TARGET_ALIAS,
            TOPICS,
            OFFSET_SYNCS_LOCATION,
            POLICY_CLASS,
            OFFSET_LAG_MAX,
        ] {
            assert!(keys.contains(&k), "{k} missing from {issues:?}");
        }
        let v = validate_with(&cfg(&[]), false);
        assert_eq!(v.len(), 1);
        assert_eq!(v[0].key, CAPABILITY_CLOCK);
        assert!(validate_with(&cfg(&[]), true).is_empty());
    }

    #[test]
    fn identity_policy_mirrors_under_the_same_name() {
        let s = Settings::parse(&cfg(&[(
            POLICY_CLASS,
            "org.apache.kafka.connect.mirror.IdentityReplicationPolicy",
        )]))
        .unwrap();
        assert_eq!(s.target_topic("orders"), "orders");
        assert_eq!(s.target_topic("heartbeats"), "A.heartbeats");
        assert!(s.should_replicate_topic("orders"));
    }

    #[test]
    fn tasks_split_partitions_between_them() {
        let c = cfg(&[]);
        let tasks = task_configs(&c, 3);
        assert_eq!(tasks.len(), 3);
        let parsed: Vec<Settings> = tasks.iter().map(|t| Settings::parse(t).unwrap()).collect();
        assert_eq!(parsed[2].task_index, 2);
        assert_eq!(parsed[2].task_count, 3);
        let mut counts = [0; 3];
        for p in 0..300 {
            let owners: Vec<u32> = (0..3).filter(|i| owns("orders", p, *i, 3)).collect();
            assert_eq!(owners.len(), 1);
            counts[owners[0] as usize] += 1;
        }
        assert!(counts.iter().all(|c| *c > 50), "{counts:?}");
        let hb = cfg(&[(CONNECTOR_CLASS, "MirrorHeartbeatConnector")]);
        assert_eq!(task_configs(&hb, 4).len(), 1);
    }
}
