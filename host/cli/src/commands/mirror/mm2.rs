//! MirrorMaker 2's `mm2.properties` (or the same keys in TOML/YAML) read into a plan: which flows
//! run, and for each target cluster the Connect worker settings and the three connector configs
//! (`A->B.MirrorSourceConnector`, `...MirrorCheckpointConnector`, `...MirrorHeartbeatConnector`)
//! MM2's own `MirrorMakerConfig` would make, with Weft's capability grants filled in.
//!
//! Precedence is MM2's: `A->B.key` > top-level `key` > the plugin's default for connector
//! settings; `A.prop` > top-level `prop` for a cluster's client settings.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use weft_connect::model::ConfigMap;

/// The three connectors of a flow, as Kafka names their classes.
pub const CONNECTOR_CLASSES: [&str; 3] = [
    "org.apache.kafka.connect.mirror.MirrorSourceConnector",
    "org.apache.kafka.connect.mirror.MirrorCheckpointConnector",
    "org.apache.kafka.connect.mirror.MirrorHeartbeatConnector",
];

/// Kafka Connect's byte-for-byte converter: record keys, values and headers are not touched.
const BYTE_ARRAY_CONVERTER: &str = "org.apache.kafka.connect.converters.ByteArrayConverter";

/// What the source role may produce to the remote cluster: the offset-syncs topics.
const OFFSET_SYNCS_TOPICS: &str = r"mm2-offset-syncs\..*\.internal";

/// MirrorConnectorConfig's names a top-level key may set for every flow (MM2 keeps only these
/// from the top level; a flow's own `A->B.` keys all pass).
const CONNECTOR_KEYS: &[&str] = &[
    "topics",
    "topics.exclude",
    "topics.blacklist",
    "groups",
    "groups.exclude",
    "groups.blacklist",
    "refresh.topics.enabled",
    "refresh.topics.interval.seconds",
    "refresh.groups.enabled",
    "refresh.groups.interval.seconds",
    "sync.topic.configs.enabled",
    "sync.topic.configs.interval.seconds",
    "sync.topic.acls.enabled",
    "sync.topic.acls.interval.seconds",
    "config.properties.exclude",
    "config.properties.blacklist",
    "sync.group.offsets.enabled",
    "sync.group.offsets.interval.seconds",
    "emit.heartbeats.enabled",
    "heartbeats.replication.enabled",
    "emit.heartbeats.interval.seconds",
    "emit.checkpoints.enabled",
    "emit.checkpoints.interval.seconds",
    "offset.lag.max",
    "replication.factor",
    "heartbeats.topic.replication.factor",
    "checkpoints.topic.replication.factor",
    "offset-syncs.topic.replication.factor",
    "offset-syncs.topic.location",
    "batch.passthrough.enabled",
    "tasks.max",
    "errors.tolerance",
    "errors.log.enable",
    "errors.retry.timeout",
    "errors.retry.delay.max.ms",
];

/// Prefixes of top-level keys that pass to every flow's connectors.
const CONNECTOR_PREFIXES: &[&str] = &["replication.policy.", "capability.", "plugin."];

/// Keys whose value is a comma-separated list of regular expressions.
const REGEX_LIST_KEYS: &[&str] = &[
    "topics",
    "topics.exclude",
    "topics.blacklist",
    "groups",
    "groups.exclude",
    "groups.blacklist",
    "config.properties.exclude",
];

/// Top-level client settings that apply to every cluster unless `A.` sets them (MM2's
/// `clusterProps`: security settings written once for all clusters).
fn is_shared_client_key(k: &str) -> bool {
    k == "security.protocol"
        || k == "client.dns.lookup"
        || k.starts_with("ssl.")
        || k.starts_with("sasl.")
}

/// Top-level keys that are MM2 driver settings.
const DRIVER_KEYS: &[&str] = &["clusters", "dedicated.mode.enable.internal.rest"];

/// Top-level Connect worker settings given to every target's worker.
pub const WORKER_KEYS: &[&str] = &[
    EXACTLY_ONCE_KEY,
    "offset.flush.interval.ms",
    "task.shutdown.graceful.timeout.ms",
    "plugin.path",
];

/// A problem in an mm2 file, naming the key as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mm2Error {
    pub key: String,
    pub message: String,
}

impl fmt::Display for Mm2Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.key, self.message)
    }
}

impl std::error::Error for Mm2Error {}

fn err(key: impl Into<String>, message: impl Into<String>) -> Mm2Error {
    Mm2Error {
        key: key.into(),
        message: message.into(),
    }
}

/// One enabled replication flow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Flow {
    pub source: String,
    pub target: String,
    /// The source cluster's `bootstrap.servers`.
    pub source_bootstrap: String,
    /// The source cluster's client settings (`A.<prop>`, then shared top-level ones).
    pub source_client: BTreeMap<String, String>,
    /// The three connector configs, Source, Checkpoint, Heartbeat.
    pub connectors: Vec<ConfigMap>,
}

impl Flow {
    /// `A->B`.
    pub fn name(&self) -> String {
        format!("{}->{}", self.source, self.target)
    }
}

/// The Connect worker that writes to one target cluster, and the flows it runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetWorker {
    pub alias: String,
    pub bootstrap: String,
    /// `B.<prop>` client settings, for the worker's producer, consumer and admin client.
    pub client: BTreeMap<String, String>,
    pub flows: Vec<Flow>,
}

/// Everything the file asks for, after `--clusters`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub clusters: Vec<String>,
    pub workers: Vec<TargetWorker>,
    /// Top-level worker settings ([`WORKER_KEYS`]).
    pub worker_settings: BTreeMap<String, String>,
    /// Top-level keys that mean nothing to Weft's mirror (reported, not fatal).
    pub ignored_keys: Vec<String>,
}

fn parse_list(v: &str) -> Vec<String> {
    v.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

fn parse_bool(key: &str, v: &str) -> Result<bool, Mm2Error> {
    match v.trim().to_ascii_lowercase().as_str() {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(err(key, format!("`{v}` is not true or false"))),
    }
}

/// How a key of the file reads: a flow's, a cluster's, or top-level.
enum KeyKind<'a> {
    Flow {
        source: &'a str,
        target: &'a str,
        rest: &'a str,
    },
    Cluster {
        alias: &'a str,
        rest: &'a str,
    },
    Top,
}

fn classify<'a>(key: &'a str, clusters: &[String]) -> KeyKind<'a> {
    if let Some((source, after)) = key.split_once("->") {
        // The target alias is a known one when one matches (aliases may hold dots), else the
        // text up to the first dot.
        let known = clusters
            .iter()
            .filter(|c| {
                after
                    .strip_prefix(c.as_str())
                    .is_some_and(|r| r.starts_with('.'))
            })
            .max_by_key(|c| c.len());
        let (target, rest) = match known {
            Some(c) => (&after[..c.len()], &after[c.len() + 1..]),
            None => after.split_once('.').unwrap_or((after, "")),
        };
        return KeyKind::Flow {
            source,
            target,
            rest,
        };
    }
    let alias = clusters
        .iter()
        .filter(|c| {
            key.strip_prefix(c.as_str())
                .is_some_and(|r| r.starts_with('.'))
        })
        .max_by_key(|c| c.len());
    match alias {
        Some(c) => KeyKind::Cluster {
            alias: &key[..c.len()],
            rest: &key[c.len() + 1..],
        },
        None => KeyKind::Top,
    }
}

/// Checks a regex-list value the way the plugin will compile it (whole-name matches).
fn check_regex_list(key: &str, value: &str) -> Result<(), Mm2Error> {
    for pattern in parse_list(value) {
        regex::Regex::new(&format!("^(?:{pattern})$")).map_err(|e| {
            err(
                key,
                format!("`{pattern}` is not a valid regular expression: {e}"),
            )
        })?;
    }
    Ok(())
}

fn is_identity(policy: &str) -> bool {
    policy.trim().ends_with("IdentityReplicationPolicy")
}

/// Whether `to` can be reached from `from` over `edges`.
fn reaches(edges: &[(String, String)], from: &str, to: &str) -> bool {
    let mut seen = BTreeSet::new();
    let mut stack = vec![from.to_string()];
    while let Some(n) = stack.pop() {
        if n == to {
            return true;
        }
        if !seen.insert(n.clone()) {
            continue;
        }
        for (a, b) in edges {
            if *a == n {
                stack.push(b.clone());
            }
        }
    }
    false
}

/// Builds the plan from the file's flat map; `only_targets` is `--clusters` (all when empty).
pub fn plan(map: &ConfigMap, only_targets: &[String]) -> Result<Plan, Mm2Error> {
    let clusters = map
        .get("clusters")
        .map(|v| parse_list(v))
        .filter(|c| !c.is_empty())
        .ok_or_else(|| {
            err(
                "clusters",
                "required: the cluster aliases, like `clusters = A, B`",
            )
        })?;
    for c in &clusters {
        if c.contains("->") || c.contains(',') {
            return Err(err(
                "clusters",
                format!("`{c}` is not a usable cluster alias"),
            ));
        }
    }
    for t in only_targets {
        if !clusters.contains(t) {
            return Err(err(
                "--clusters",
                format!(
                    "`{t}` is not one of the file's clusters ({})",
                    clusters.join(", ")
                ),
            ));
        }
    }

    let mut top = ConfigMap::new();
    let mut cluster_keys: BTreeMap<String, ConfigMap> = BTreeMap::new();
    let mut flow_keys: BTreeMap<(String, String), ConfigMap> = BTreeMap::new();
    for (k, v) in map {
        match classify(k, &clusters) {
            KeyKind::Flow {
                source,
                target,
                rest,
            } => {
                for alias in [source, target] {
                    if !clusters.iter().any(|c| c == alias) {
                        return Err(err(
                            k.as_str(),
                            format!(
                                "the flow names cluster `{alias}`, which is not in `clusters` ({})",
                                clusters.join(", ")
                            ),
                        ));
                    }
                }
                if source == target {
                    return Err(err(k.as_str(), "a flow's source and target must differ"));
                }
                if rest.is_empty() {
                    return Err(err(k.as_str(), "a flow key needs a setting after `A->B.`"));
                }
                if REGEX_LIST_KEYS.contains(&rest) {
                    check_regex_list(k, v)?;
                }
                flow_keys
                    .entry((source.to_string(), target.to_string()))
                    .or_default()
                    .insert(rest.to_string(), v.clone());
            }
            KeyKind::Cluster { alias, rest } => {
                cluster_keys
                    .entry(alias.to_string())
                    .or_default()
                    .insert(rest.to_string(), v.clone());
            }
            KeyKind::Top => {
                if REGEX_LIST_KEYS.contains(&k.as_str()) {
                    check_regex_list(k, v)?;
                }
                top.insert(k.clone(), v.clone());
            }
        }
    }

    // Enabled flows, MM2's default being disabled.
    let mut enabled: Vec<(String, String)> = Vec::new();
    for ((s, t), keys) in &flow_keys {
        if let Some(v) = keys.get("enabled") {
            if parse_bool(&format!("{s}->{t}.enabled"), v)? {
                enabled.push((s.clone(), t.clone()));
            }
        }
    }
    if enabled.is_empty() {
        return Err(err(
            "A->B.enabled",
            "no flow is enabled: set `<source>-><target>.enabled = true` for at least one pair of clusters",
        ));
    }

    let policy_of = |s: &str, t: &str| -> String {
        flow_keys
            .get(&(s.to_string(), t.to_string()))
            .and_then(|k| k.get("replication.policy.class"))
            .or_else(|| top.get("replication.policy.class"))
            .cloned()
            .unwrap_or_default()
    };
    // Identity replication keeps topic names, so a cycle through an identity flow would copy
    // records round it for ever: refuse it.
    for (s, t) in &enabled {
        if is_identity(&policy_of(s, t)) && reaches(&enabled, t, s) {
            return Err(err(
                format!("{s}->{t}.enabled"),
                format!(
                    "flow {s}->{t} uses IdentityReplicationPolicy and {t} replicates back to {s} \
                     through the enabled flows: records would loop; use DefaultReplicationPolicy \
                     or disable one direction"
                ),
            ));
        }
    }

    let bootstrap_of = |alias: &str| -> Result<String, Mm2Error> {
        cluster_keys
            .get(alias)
            .and_then(|k| k.get("bootstrap.servers"))
            .map(|v| parse_list(v).join(","))
            .filter(|v| !v.is_empty())
            .ok_or_else(|| {
                err(
                    format!("{alias}.bootstrap.servers"),
                    format!("required: cluster `{alias}` is in an enabled flow"),
                )
            })
    };
    let client_of = |alias: &str| -> BTreeMap<String, String> {
        let mut c: BTreeMap<String, String> = cluster_keys
            .get(alias)
            .map(|k| {
                k.iter()
                    .filter(|(k, _)| *k != "bootstrap.servers")
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect()
            })
            .unwrap_or_default();
        for (k, v) in &top {
            if is_shared_client_key(k) {
                c.entry(k.clone()).or_insert_with(|| v.clone());
            }
        }
        c
    };
    for (s, t) in &enabled {
        bootstrap_of(s)?;
        bootstrap_of(t)?;
    }

    let ignored_keys: Vec<String> = top
        .keys()
        .filter(|k| {
            !DRIVER_KEYS.contains(&k.as_str())
                && !WORKER_KEYS.contains(&k.as_str())
                && !CONNECTOR_KEYS.contains(&k.as_str())
                && !CONNECTOR_PREFIXES.iter().any(|p| k.starts_with(p))
                && !is_shared_client_key(k)
        })
        .cloned()
        .collect();

    let exactly_once = top
        .get(EXACTLY_ONCE_KEY)
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("enabled"));
    let mut workers: Vec<TargetWorker> = Vec::new();
    for target in &clusters {
        if !only_targets.is_empty() && !only_targets.contains(target) {
            continue;
        }
        let mut flows = Vec::new();
        for (s, t) in enabled.iter().filter(|(_, t)| t == target) {
            let source_bootstrap = bootstrap_of(s)?;
            let source_client = client_of(s);
            let mut base = ConfigMap::new();
            for (k, v) in &top {
                if CONNECTOR_KEYS.contains(&k.as_str())
                    || CONNECTOR_PREFIXES.iter().any(|p| k.starts_with(p))
                {
                    base.insert(k.clone(), v.clone());
                }
            }
            if let Some(keys) = flow_keys.get(&(s.clone(), t.clone())) {
                for (k, v) in keys {
                    if k != "enabled" {
                        base.insert(k.clone(), v.clone());
                    }
                }
            }
            base.insert("source.cluster.alias".into(), s.clone());
            base.insert("target.cluster.alias".into(), t.clone());
            for k in ["key.converter", "value.converter", "header.converter"] {
                base.insert(k.into(), BYTE_ARRAY_CONVERTER.into());
            }
            base.insert(
                "capability.remote-cluster.bootstrap.servers".into(),
                source_bootstrap.clone(),
            );
            for (k, v) in remote_client(&source_client, exactly_once) {
                base.insert(format!("capability.remote-cluster.client.{k}"), v);
            }
            base.entry("capability.remote-cluster.produce.topics".into())
                .or_insert_with(|| OFFSET_SYNCS_TOPICS.into());
            base.insert("capability.local-admin".into(), "true".into());
            // Heartbeats, checkpoint times and refresh intervals read the wall clock.
            base.insert("capability.clock".into(), "true".into());
            let connectors = CONNECTOR_CLASSES
                .iter()
                .map(|class| {
                    let mut c = base.clone();
                    let simple = class.rsplit('.').next().unwrap_or(class);
                    c.insert("name".into(), format!("{s}->{t}.{simple}"));
                    c.insert("connector.class".into(), (*class).into());
                    c
                })
                .collect();
            flows.push(Flow {
                source: s.clone(),
                target: t.clone(),
                source_bootstrap,
                source_client,
                connectors,
            });
        }
        if flows.is_empty() {
            continue;
        }
        workers.push(TargetWorker {
            alias: target.clone(),
            bootstrap: bootstrap_of(target)?,
            client: client_of(target),
            flows,
        });
    }
    if workers.is_empty() {
        return Err(err(
            "--clusters",
            format!(
                "no enabled flow targets {}",
                if only_targets.is_empty() {
                    "any cluster".to_string()
                } else {
                    only_targets.join(", ")
                }
            ),
        ));
    }
    let worker_settings = top
        .iter()
        .filter(|(k, _)| WORKER_KEYS.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    Ok(Plan {
        clusters,
        workers,
        worker_settings,
        ignored_keys,
    })
}

/// The worker key that runs every flow's tasks in transactions (MM2's dedicated mode reads it
/// from the mm2 file's top level).
const EXACTLY_ONCE_KEY: &str = "exactly.once.source.support";

/// The source cluster's client settings as the remote-cluster capability takes them: one
/// client map serves its fetches, lookups and offset-sync writes, so `A.consumer.*` (what MM2
/// gives the source consumer) applies unprefixed, and `A.producer.*`/`A.admin.*` are left
/// out. With exactly-once on, the source is read committed unless the file says otherwise:
/// mirroring an aborted transaction's records would break the guarantee.
fn remote_client(
    source_client: &BTreeMap<String, String>,
    exactly_once: bool,
) -> BTreeMap<String, String> {
    let mut out: BTreeMap<String, String> = source_client
        .iter()
        .filter(|(k, _)| {
            !["producer.", "consumer.", "admin."]
                .iter()
                .any(|p| k.starts_with(p))
        })
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    for (k, v) in source_client {
        if let Some(rest) = k.strip_prefix("consumer.") {
            out.insert(rest.to_string(), v.clone());
        }
    }
    if exactly_once {
        out.entry("isolation.level".into())
            .or_insert_with(|| "read_committed".into());
    }
    out
}

/// One cluster's `bootstrap.servers` and librdkafka client settings (`A.<prop>` without the
/// producer./consumer./admin. ones, then shared top-level security settings), for a tool that
/// talks to that cluster.
pub fn cluster_client(
    map: &ConfigMap,
    alias: &str,
) -> Result<(String, BTreeMap<String, String>), Mm2Error> {
    let prefix = format!("{alias}.");
    let mut bootstrap = None;
    let mut client = BTreeMap::new();
    for (k, v) in map {
        let Some(rest) = k.strip_prefix(&prefix) else {
            continue;
        };
        if rest == "bootstrap.servers" {
            bootstrap = Some(parse_list(v).join(","));
        } else if !["producer.", "consumer.", "admin."]
            .iter()
            .any(|p| rest.starts_with(p))
        {
            client.insert(rest.to_string(), v.clone());
        }
    }
    for (k, v) in map {
        if is_shared_client_key(k) {
            client.entry(k.clone()).or_insert_with(|| v.clone());
        }
    }
    let bootstrap = bootstrap.filter(|b| !b.is_empty()).ok_or_else(|| {
        err(
            format!("{alias}.bootstrap.servers"),
            format!("required to reach cluster `{alias}`"),
        )
    })?;
    Ok((bootstrap, client))
}

#[cfg(test)]
mod tests {
    use super::*;
    use weft_connect::config::{files::parse_config, Format};

    fn props(text: &str) -> ConfigMap {
        parse_config(text.as_bytes(), Format::Properties)
            .unwrap()
            .config
    }

    const BASIC: &str = "clusters = A, B\n\
        A.bootstrap.servers = a:9092\n\
        B.bootstrap.servers = b:9092\n\
        A->B.enabled = true\n";

    fn connector<'a>(p: &'a Plan, name: &str) -> &'a ConfigMap {
        p.workers
            .iter()
            .flat_map(|w| &w.flows)
            .flat_map(|f| &f.connectors)
            .find(|c| c.get("name").map(String::as_str) == Some(name))
            .unwrap_or_else(|| panic!("no connector {name}"))
    }

    #[test]
    fn one_flow_makes_three_connectors_on_the_targets_worker() {
        let p = plan(&props(BASIC), &[]).unwrap();
        assert_eq!(p.clusters, ["A", "B"]);
        assert_eq!(p.workers.len(), 1);
        let w = &p.workers[0];
        assert_eq!((w.alias.as_str(), w.bootstrap.as_str()), ("B", "b:9092"));
        assert_eq!(w.flows.len(), 1);
        let names: Vec<&str> = w.flows[0]
            .connectors
            .iter()
            .map(|c| c["name"].as_str())
            .collect();
        assert_eq!(
            names,
            [
                "A->B.MirrorSourceConnector",
                "A->B.MirrorCheckpointConnector",
                "A->B.MirrorHeartbeatConnector"
            ]
        );
        let c = connector(&p, "A->B.MirrorSourceConnector");
        assert_eq!(
            c["connector.class"],
            "org.apache.kafka.connect.mirror.MirrorSourceConnector"
        );
        assert_eq!(c["source.cluster.alias"], "A");
        assert_eq!(c["target.cluster.alias"], "B");
        assert_eq!(c["capability.remote-cluster.bootstrap.servers"], "a:9092");
        assert_eq!(
            c["capability.remote-cluster.produce.topics"],
            r"mm2-offset-syncs\..*\.internal"
        );
        assert_eq!(c["capability.local-admin"], "true");
        assert_eq!(c["capability.clock"], "true");
        for k in ["key.converter", "value.converter", "header.converter"] {
            assert_eq!(c[k], BYTE_ARRAY_CONVERTER);
        }
        assert!(!c.contains_key("enabled"));
        assert!(!c.contains_key("clusters"));
    }

    #[test]
    fn precedence_flow_over_top_and_cluster_client_over_shared() {
        let p = plan(
            &props(&format!(
                "{BASIC}\
                 topics = orders.*\n\
                 offset.lag.max = 50\n\
                 A->B.offset.lag.max = 10\n\
                 A->B.topics.exclude = orders-internal\n\
                 replication.policy.separator = _\n\
                 security.protocol = SSL\n\
                 A.security.protocol = SASL_SSL\n\
                 A.sasl.mechanism = PLAIN\n\
                 ssl.ca.location = /ca.pem\n\
                 B.linger.ms = 5\n\
                 offset.flush.interval.ms = 1000\n\
                 no.such.setting = 1\n"
            )),
            &[],
        )
        .unwrap();
        let c = connector(&p, "A->B.MirrorCheckpointConnector");
        assert_eq!(c["offset.lag.max"], "10");
        assert_eq!(c["topics"], "orders.*");
        assert_eq!(c["topics.exclude"], "orders-internal");
        assert_eq!(c["replication.policy.separator"], "_");
        assert_eq!(
            c["capability.remote-cluster.client.security.protocol"],
            "SASL_SSL"
        );
        assert_eq!(
            c["capability.remote-cluster.client.sasl.mechanism"],
            "PLAIN"
        );
        assert_eq!(
            c["capability.remote-cluster.client.ssl.ca.location"],
            "/ca.pem"
        );
        assert!(!c.contains_key("security.protocol"));
        let w = &p.workers[0];
        assert_eq!(w.client["linger.ms"], "5");
        assert_eq!(w.client["security.protocol"], "SSL");
        assert_eq!(p.ignored_keys, ["no.such.setting"]);
        assert_eq!(p.worker_settings["offset.flush.interval.ms"], "1000");
        let (b, client) = cluster_client(&props(BASIC), "A").unwrap();
        assert_eq!(b, "a:9092");
        assert!(client.is_empty());
        assert_eq!(
            cluster_client(&props(BASIC), "C").unwrap_err().key,
            "C.bootstrap.servers"
        );
    }

    #[test]
    fn exactly_once_reaches_the_worker_and_reads_the_source_committed() {
        let p = plan(
            &props(&format!(
                "{BASIC}exactly.once.source.support = enabled\n\
                 A.consumer.fetch.min.bytes = 1000\n\
                 A.producer.linger.ms = 7\n"
            )),
            &[],
        )
        .unwrap();
        assert_eq!(p.worker_settings[EXACTLY_ONCE_KEY], "enabled");
        let c = connector(&p, "A->B.MirrorSourceConnector");
        assert_eq!(
            c["capability.remote-cluster.client.isolation.level"],
            "read_committed"
        );
        assert_eq!(
            c["capability.remote-cluster.client.fetch.min.bytes"],
            "1000"
        );
        assert!(!c
            .keys()
            .any(|k| k.contains("linger.ms") || k.contains(".consumer.")));
        // The file's own choice stands.
        let p = plan(
            &props(&format!(
                "{BASIC}exactly.once.source.support = enabled\n\
                 A.consumer.isolation.level = read_uncommitted\n"
            )),
            &[],
        )
        .unwrap();
        let c = connector(&p, "A->B.MirrorSourceConnector");
        assert_eq!(
            c["capability.remote-cluster.client.isolation.level"],
            "read_uncommitted"
        );
        let p = plan(&props(BASIC), &[]).unwrap();
        let c = connector(&p, "A->B.MirrorSourceConnector");
        assert!(!c.contains_key("capability.remote-cluster.client.isolation.level"));
    }

    #[test]
    fn clusters_filter_picks_target_workers() {
        let text = "clusters = A, B, C\n\
            A.bootstrap.servers = a:1\nB.bootstrap.servers = b:1\nC.bootstrap.servers = c:1\n\
            A->B.enabled = true\nC->B.enabled = true\nA->C.enabled = true\nB->A.enabled = false\n";
        let all = plan(&props(text), &[]).unwrap();
        let targets: Vec<&str> = all.workers.iter().map(|w| w.alias.as_str()).collect();
        assert_eq!(targets, ["B", "C"]);
        assert_eq!(all.workers[0].flows.len(), 2);
        let only_c = plan(&props(text), &["C".to_string()]).unwrap();
        assert_eq!(only_c.workers.len(), 1);
        assert_eq!(only_c.workers[0].flows[0].name(), "A->C");
        let e = plan(&props(text), &["A".to_string()]).unwrap_err();
        assert_eq!(e.key, "--clusters");
        let e = plan(&props(text), &["D".to_string()]).unwrap_err();
        assert!(e.message.contains("`D`"), "{e}");
    }

    #[test]
    fn unknown_alias_in_a_flow_names_the_key() {
        for key in ["A->X.enabled", "X->B.enabled", "A->X.topics"] {
            let e = plan(&props(&format!("{BASIC}{key} = true\n")), &[]).unwrap_err();
            assert_eq!(e.key, key, "{e}");
            assert!(e.message.contains("`X`"), "{e}");
        }
    }

    #[test]
    fn bad_regex_names_the_key() {
        for key in [
            "topics",
            "topics.exclude",
            "groups",
            "groups.exclude",
            "A->B.topics",
            "A->B.groups.exclude",
        ] {
            let e = plan(&props(&format!("{BASIC}{key} = ok.*, (unclosed\n")), &[]).unwrap_err();
            assert_eq!(e.key, key, "{e}");
            assert!(e.message.contains("(unclosed"), "{e}");
        }
    }

    #[test]
    fn missing_bootstrap_names_the_key() {
        let e = plan(
            &props("clusters = A, B\nA.bootstrap.servers = a:1\nA->B.enabled = true\n"),
            &[],
        )
        .unwrap_err();
        assert_eq!(e.key, "B.bootstrap.servers");
        let e = plan(&props("A.bootstrap.servers = a:1\n"), &[]).unwrap_err();
        assert_eq!(e.key, "clusters");
        let e = plan(&props("clusters = A, B\n"), &[]).unwrap_err();
        assert_eq!(e.key, "A->B.enabled");
        let e = plan(&props(&format!("{BASIC}A->B.enabled = yes\n")), &[]);
        // The later value wins in a properties file; `yes` is not a boolean.
        assert_eq!(e.unwrap_err().key, "A->B.enabled");
    }

    #[test]
    fn identity_policy_cycle_is_refused() {
        let cyclic = format!(
            "{BASIC}B->A.enabled = true\n\
             replication.policy.class = org.apache.kafka.connect.mirror.IdentityReplicationPolicy\n"
        );
        let e = plan(&props(&cyclic), &[]).unwrap_err();
        assert_eq!(e.key, "A->B.enabled");
        assert!(e.message.contains("IdentityReplicationPolicy"), "{e}");
        // A longer cycle through a third cluster, identity on one flow only.
        let three = "clusters = A, B, C\n\
            A.bootstrap.servers = a:1\nB.bootstrap.servers = b:1\nC.bootstrap.servers = c:1\n\
            A->B.enabled = true\nB->C.enabled = true\nC->A.enabled = true\n\
            B->C.replication.policy.class = IdentityReplicationPolicy\n";
        assert_eq!(plan(&props(three), &[]).unwrap_err().key, "B->C.enabled");
        // Default policy both ways is active-active, which is fine; identity one way is too.
        plan(&props(&format!("{BASIC}B->A.enabled = true\n")), &[]).unwrap();
        plan(
            &props(&format!(
                "{BASIC}replication.policy.class = IdentityReplicationPolicy\n"
            )),
            &[],
        )
        .unwrap();
        // A disabled reverse flow is no cycle.
        plan(
            &props(&format!(
                "{BASIC}B->A.enabled = false\nreplication.policy.class = IdentityReplicationPolicy\n"
            )),
            &[],
        )
        .unwrap();
    }

    #[test]
    fn toml_and_yaml_give_the_same_plan() {
        let from_props = plan(&props(BASIC), &[]).unwrap();
        let toml = "clusters = [\"A\", \"B\"]\n\
            [A]\nbootstrap.servers = \"a:9092\"\n\
            [B]\nbootstrap.servers = \"b:9092\"\n\
            [\"A->B\"]\nenabled = true\n";
        let t = parse_config(toml.as_bytes(), Format::Toml).unwrap().config;
        assert_eq!(plan(&t, &[]).unwrap(), from_props);
        let yaml = "clusters: [A, B]\n\
            A.bootstrap.servers: a:9092\n\
            B:\n  bootstrap.servers: b:9092\n\
            A->B.enabled: true\n";
        let y = parse_config(yaml.as_bytes(), Format::Yaml).unwrap().config;
        assert_eq!(plan(&y, &[]).unwrap(), from_props);
    }

    #[test]
    fn dotted_aliases_resolve_to_the_longest_known_alias() {
        let text = "clusters = us, us.east\n\
            us.bootstrap.servers = u:1\nus.east.bootstrap.servers = e:1\n\
            us->us.east.enabled = true\nus->us.east.topics = x\n";
        let p = plan(&props(text), &[]).unwrap();
        assert_eq!(p.workers[0].alias, "us.east");
        let c = &p.workers[0].flows[0].connectors[0];
        assert_eq!(c["topics"], "x");
        assert_eq!(c["capability.remote-cluster.bootstrap.servers"], "u:1");
    }
}
