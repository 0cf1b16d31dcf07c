//! Exactly-once source support (KIP-618): the worker's `exactly.once.source.support` and
//! offsets-topic keys, a source connector's `exactly.once.support`, `transaction.boundary`,
//! `transaction.boundary.interval.ms` and `offsets.storage.topic`, checked as Connect checks
//! them, and which built-in connectors declare exactly-once support.

use std::time::Duration;

use super::error::Problems;
use super::worker::parse_long;
use crate::model::ConfigMap;

pub const SUPPORT: &str = "exactly.once.source.support";
pub const OFFSETS_TOPIC: &str = "offset.storage.topic";
pub const OFFSETS_PARTITIONS: &str = "offset.storage.partitions";
pub const OFFSETS_REPLICATION: &str = "offset.storage.replication.factor";
pub const GROUP_ID: &str = "group.id";

pub const CONNECTOR_SUPPORT: &str = "exactly.once.support";
pub const BOUNDARY: &str = "transaction.boundary";
pub const BOUNDARY_INTERVAL: &str = "transaction.boundary.interval.ms";
pub const CONNECTOR_OFFSETS_TOPIC: &str = "offsets.storage.topic";

/// Kafka's `connect-distributed.properties` names its offsets topic so.
pub const DEFAULT_OFFSETS_TOPIC: &str = "connect-offsets";
/// Kafka's defaults for the offsets topic.
pub const DEFAULT_OFFSETS_PARTITIONS: i32 = 25;
pub const DEFAULT_OFFSETS_REPLICATION: i16 = 3;
/// The transactional ids' prefix when the worker file has no `group.id` (a standalone worker
/// has none in Kafka).
pub const DEFAULT_GROUP_ID: &str = "connect-standalone";

/// The worker's exactly-once settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkerExactlyOnce {
    /// `exactly.once.source.support=enabled`: every source task produces in transactions and
    /// commits its positions to the offsets topic inside them.
    pub enabled: bool,
    /// `offset.storage.topic`: where positions are committed unless a connector names its own.
    pub offsets_topic: String,
    /// `offset.storage.partitions`.
    pub offsets_partitions: i32,
    /// `offset.storage.replication.factor` (-1: the broker's default).
    pub offsets_replication: i16,
    /// `group.id`: the transactional ids are `<group.id>-<connector>-<task>`, as in Connect.
    pub group_id: String,
}

/// How a source task groups its records into transactions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransactionBoundary {
    /// `poll`: one transaction per poll (Connect's default).
    Poll,
    /// `interval`: one transaction every `transaction.boundary.interval.ms`.
    Interval(Duration),
}

/// A source connector's exactly-once settings, present when the worker runs it in
/// transactions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceExactlyOnce {
    /// `transaction.boundary`.
    pub boundary: TransactionBoundary,
    /// The offsets topic: `offsets.storage.topic`, else the worker's.
    pub offsets_topic: String,
}

impl WorkerExactlyOnce {
    /// The worker's keys, each checked.
    pub(crate) fn read(map: &ConfigMap, notes: &mut Vec<String>, p: &mut Problems) -> Self {
        let enabled = match map.get(SUPPORT).map(|v| v.trim().to_ascii_lowercase()) {
            None => false,
            Some(v) if v == "disabled" => false,
            Some(v) if v == "enabled" => true,
            Some(v) if v == "preparing" => {
                // Connect's rolling-upgrade step fences zombies without using transactions; a
                // standalone worker has no cluster of workers to roll through.
                notes.push(format!(
                    "{SUPPORT}=preparing: source tasks run without transactions, as with disabled"
                ));
                false
            }
            Some(_) => {
                p.add(
                    SUPPORT,
                    map.get(SUPPORT).map(String::as_str),
                    "String must be one of: disabled, preparing, enabled",
                );
                false
            }
        };
        let offsets_topic = match map.get(OFFSETS_TOPIC).map(|t| t.trim()) {
            None => DEFAULT_OFFSETS_TOPIC.to_string(),
            Some(t) => {
                if let Err(e) = check_topic_name(t) {
                    p.add(OFFSETS_TOPIC, Some(t), e);
                }
                t.to_string()
            }
        };
        let offsets_partitions =
            count_or_broker_default(map, OFFSETS_PARTITIONS, DEFAULT_OFFSETS_PARTITIONS, 32, p);
        let offsets_replication =
            count_or_broker_default(map, OFFSETS_REPLICATION, DEFAULT_OFFSETS_REPLICATION, 16, p);
        let group_id = match map.get(GROUP_ID).map(|g| g.trim()) {
            None => DEFAULT_GROUP_ID.to_string(),
            Some("") => {
                p.add(GROUP_ID, Some(""), "String may not be empty");
                DEFAULT_GROUP_ID.to_string()
            }
            Some(g) => g.to_string(),
        };
        WorkerExactlyOnce {
            enabled,
            offsets_topic,
            offsets_partitions,
            offsets_replication,
            group_id,
        }
    }

    /// Whether `key` is one of the worker keys read here.
    pub(crate) fn is_key(key: &str) -> bool {
        matches!(
            key,
            SUPPORT | OFFSETS_TOPIC | OFFSETS_PARTITIONS | OFFSETS_REPLICATION | GROUP_ID
        )
    }
}

impl Default for WorkerExactlyOnce {
    fn default() -> Self {
        WorkerExactlyOnce {
            enabled: false,
            offsets_topic: DEFAULT_OFFSETS_TOPIC.to_string(),
            offsets_partitions: DEFAULT_OFFSETS_PARTITIONS,
            offsets_replication: DEFAULT_OFFSETS_REPLICATION,
            group_id: DEFAULT_GROUP_ID.to_string(),
        }
    }
}

/// A count that is positive and fits `T` (`bits` wide), or -1 for the broker's default.
fn count_or_broker_default<T: TryFrom<i64>>(
    map: &ConfigMap,
    key: &str,
    default: T,
    bits: u32,
    p: &mut Problems,
) -> T {
    let Some(v) = map.get(key) else {
        return default;
    };
    match parse_long(v)
        .filter(|n| *n == -1 || *n >= 1)
        .and_then(|n| T::try_from(n).ok())
    {
        Some(n) => n,
        None => {
            p.add(
                key,
                Some(v),
                format!(
                    "Value must be a positive {bits}-bit integer, or -1 for the broker's default"
                ),
            );
            default
        }
    }
}

/// Whether `key` is one of the connector keys read here (Connect's own, not the connector's).
pub(crate) fn is_connector_key(key: &str) -> bool {
    matches!(
        key,
        CONNECTOR_SUPPORT | BOUNDARY | BOUNDARY_INTERVAL | CONNECTOR_OFFSETS_TOPIC
    )
}

/// Whether a built-in source connector declares exactly-once support for this config (Connect's
/// `SourceConnector.exactlyOnceSupport`). The file source and datagen resume exactly from their
/// positions; the mirror's source role does only when it reads its source committed, as MM2's
/// `MirrorSourceConnector`; its checkpoint and heartbeat roles always do. A component outside
/// the built-ins declares nothing, as a Java connector that does not override the method.
pub fn declares_support(plugin: &str, config: &[(String, String)]) -> bool {
    let get = |k: &str| {
        config
            .iter()
            .rev()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.trim())
    };
    match plugin {
        "file-source" | "datagen" => true,
        "mirror" => {
            let class = get("connector.class").unwrap_or("");
            let is_source_role = class.ends_with("MirrorSourceConnector");
            !is_source_role
                || get("capability.remote-cluster.client.isolation.level")
                    .is_some_and(|l| l.eq_ignore_ascii_case("read_committed"))
        }
        _ => false,
    }
}

/// A source connector's exactly-once keys, checked against the worker's settings; `None`
/// when the worker does not run source tasks in transactions.
pub(crate) fn read_source(
    map: &ConfigMap,
    worker: &WorkerExactlyOnce,
    offset_flush_interval: Duration,
    plugin: &str,
    connector_config: &[(String, String)],
    p: &mut Problems,
) -> Option<SourceExactlyOnce> {
    let support = map.get(CONNECTOR_SUPPORT);
    let required = match support.map(|v| v.trim().to_ascii_lowercase()) {
        None => false,
        Some(v) if v == "requested" => false,
        Some(v) if v == "required" => true,
        Some(_) => {
            p.add(
                CONNECTOR_SUPPORT,
                support.map(String::as_str),
                "String must be one of: requested, required",
            );
            false
        }
    };
    let boundary_value = map.get(BOUNDARY);
    let interval = match map.get(BOUNDARY_INTERVAL) {
        None => offset_flush_interval,
        Some(v) => match parse_long(v) {
            Some(n) if n >= 0 => Duration::from_millis(n as u64),
            _ => {
                p.add(
                    BOUNDARY_INTERVAL,
                    Some(v),
                    "Value must be a non-negative 64-bit integer (milliseconds)",
                );
                offset_flush_interval
            }
        },
    };
    let boundary = match boundary_value.map(|v| v.trim().to_ascii_lowercase()) {
        None => TransactionBoundary::Poll,
        Some(v) if v == "poll" => TransactionBoundary::Poll,
        Some(v) if v == "interval" => TransactionBoundary::Interval(interval),
        Some(v) if v == "connector" => {
            if worker.enabled {
                p.add(
                    BOUNDARY,
                    boundary_value.map(String::as_str),
                    "The connector does not support connector-defined transaction boundaries \
                     with the given configuration. Please reconfigure it to use a different \
                     transaction boundary definition.",
                );
            }
            TransactionBoundary::Poll
        }
        Some(_) => {
            p.add(
                BOUNDARY,
                boundary_value.map(String::as_str),
                "String must be one of: poll, interval, connector",
            );
            TransactionBoundary::Poll
        }
    };
    let offsets_topic = match map.get(CONNECTOR_OFFSETS_TOPIC).map(|t| t.trim()) {
        None => worker.offsets_topic.clone(),
        Some(t) => {
            if let Err(e) = check_topic_name(t) {
                p.add(CONNECTOR_OFFSETS_TOPIC, Some(t), e);
            }
            t.to_string()
        }
    };
    if required && !worker.enabled {
        p.add(
            CONNECTOR_SUPPORT,
            support.map(String::as_str),
            format!("This worker does not have exactly-once source support enabled ({SUPPORT})."),
        );
    } else if required && !declares_support(plugin, connector_config) {
        p.add(
            CONNECTOR_SUPPORT,
            support.map(String::as_str),
            "The connector does not declare exactly-once support with the given configuration. \
             Consult its documentation, and if it does provide exactly-once delivery, set this \
             property to \"requested\" (which skips this check).",
        );
    }
    worker.enabled.then_some(SourceExactlyOnce {
        boundary,
        offsets_topic,
    })
}

/// Kafka's topic-name rule: 1..249 characters of `[a-zA-Z0-9._-]`, not `.` or `..`.
fn check_topic_name(t: &str) -> Result<(), &'static str> {
    if t.is_empty() || t == "." || t == ".." || t.len() > 249 {
        return Err("not a valid topic name");
    }
    if !t
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
    {
        return Err("a topic name may hold only ASCII letters, digits, '.', '_' and '-'");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::test_map as map;

    fn worker(pairs: &[(&str, &str)]) -> (WorkerExactlyOnce, Vec<String>, Problems) {
        let mut notes = Vec::new();
        let mut p = Problems::default();
        let w = WorkerExactlyOnce::read(&map(pairs), &mut notes, &mut p);
        (w, notes, p)
    }

    #[test]
    fn worker_keys_default_to_kafkas_and_bad_values_name_the_key() {
        let (w, notes, p) = worker(&[]);
        assert!(p.is_empty());
        assert!(notes.is_empty());
        assert_eq!(w, WorkerExactlyOnce::default());
        let (w, _, p) = worker(&[(SUPPORT, "Enabled"), (GROUP_ID, "g")]);
        assert!(p.is_empty());
        assert!(w.enabled);
        assert_eq!(w.group_id, "g");
        let (w, notes, p) = worker(&[(SUPPORT, "preparing")]);
        assert!(p.is_empty() && !w.enabled);
        assert!(notes[0].contains("preparing"), "{notes:?}");
        for (k, v) in [
            (SUPPORT, "on"),
            (OFFSETS_TOPIC, "bad topic"),
            (OFFSETS_PARTITIONS, "0"),
            (OFFSETS_REPLICATION, "x"),
            (OFFSETS_REPLICATION, "40000"),
            (GROUP_ID, " "),
        ] {
            let (_, _, p) = worker(&[(k, v)]);
            let e = p.into_result(()).unwrap_err();
            assert!(e.names(k), "{k}={v}: {e}");
        }
    }

    #[test]
    fn connector_keys_are_checked_against_the_worker_and_the_connector() {
        let on = WorkerExactlyOnce {
            enabled: true,
            ..WorkerExactlyOnce::default()
        };
        let off = WorkerExactlyOnce::default();
        let flush = Duration::from_secs(60);
        let read = |pairs: &[(&str, &str)], w: &WorkerExactlyOnce, plugin: &str| {
            let mut p = Problems::default();
            let cfg: Vec<(String, String)> = map(pairs).into_iter().collect();
            let r = read_source(&map(pairs), w, flush, plugin, &cfg, &mut p);
            (r, p.into_result(()))
        };
        let (r, ok) = read(&[], &off, "file-source");
        assert!(r.is_none() && ok.is_ok());
        let (r, ok) = read(&[], &on, "mqtt-source");
        ok.unwrap();
        let r = r.unwrap();
        assert_eq!(r.boundary, TransactionBoundary::Poll);
        assert_eq!(r.offsets_topic, DEFAULT_OFFSETS_TOPIC);
        let (r, ok) = read(
            &[
                (BOUNDARY, "interval"),
                (BOUNDARY_INTERVAL, "250"),
                (CONNECTOR_OFFSETS_TOPIC, "my-offsets"),
                (CONNECTOR_SUPPORT, "required"),
            ],
            &on,
            "file-source",
        );
        ok.unwrap();
        let r = r.unwrap();
        assert_eq!(
            r.boundary,
            TransactionBoundary::Interval(Duration::from_millis(250))
        );
        assert_eq!(r.offsets_topic, "my-offsets");
        // Required: the worker must support it and the connector must declare it.
        let (_, e) = read(&[(CONNECTOR_SUPPORT, "required")], &off, "file-source");
        let e = e.unwrap_err();
        assert!(
            e.names(CONNECTOR_SUPPORT) && e.to_string().contains(SUPPORT),
            "{e}"
        );
        let (_, e) = read(&[(CONNECTOR_SUPPORT, "required")], &on, "mqtt-source");
        assert!(e.unwrap_err().to_string().contains("does not declare"));
        let (_, e) = read(&[(BOUNDARY, "connector")], &on, "file-source");
        assert!(e.unwrap_err().names(BOUNDARY));
        for (k, v) in [
            (CONNECTOR_SUPPORT, "maybe"),
            (BOUNDARY, "never"),
            (BOUNDARY_INTERVAL, "-1"),
            (CONNECTOR_OFFSETS_TOPIC, "a/b"),
        ] {
            let (_, e) = read(&[(k, v)], &on, "file-source");
            assert!(e.unwrap_err().names(k), "{k}={v}");
        }
    }

    #[test]
    fn the_mirror_source_declares_support_only_when_it_reads_committed() {
        let cfg =
            |pairs: &[(&str, &str)]| -> Vec<(String, String)> { map(pairs).into_iter().collect() };
        let source = "org.apache.kafka.connect.mirror.MirrorSourceConnector";
        assert!(!declares_support(
            "mirror",
            &cfg(&[("connector.class", source)])
        ));
        assert!(declares_support(
            "mirror",
            &cfg(&[
                ("connector.class", source),
                (
                    "capability.remote-cluster.client.isolation.level",
                    "read_committed"
                )
            ])
        ));
        assert!(declares_support(
            "mirror",
            &cfg(&[("connector.class", "MirrorCheckpointConnector")])
        ));
        assert!(declares_support("file-source", &[]));
        assert!(!declares_support("/x/my.wasm", &[]));
    }
}
