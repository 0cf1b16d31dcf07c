//! The Kafka capabilities' config: which remote cluster is granted and how the host's clients
//! reach it (`capability.remote-cluster.*`), and the local cluster `capability.local-admin`
//! administers (its bootstrap servers and client settings are filled in by the Connect worker).

use std::collections::BTreeMap;

use crate::config::PluginConfig;
use crate::error::{Result, RuntimeError};

/// Config key: grant the `remote-cluster` capability on the cluster at these bootstrap servers.
pub const KEY_REMOTE: &str = "capability.remote-cluster.bootstrap.servers";
/// Config key prefix: `capability.remote-cluster.client.<prop>` passes `<prop>` to every
/// client the host makes for the remote cluster (`security.protocol`, `ssl.*`, `sasl.*`, ...).
pub const KEY_REMOTE_CLIENT: &str = "capability.remote-cluster.client.";
/// Config key: a regex; `produce` may write only the remote topics it matches (whole name).
pub const KEY_REMOTE_PRODUCE: &str = "capability.remote-cluster.produce.topics";
/// Config key: how many consumers an assignment is split over (each keeps its own fetch
/// requests in flight), 1 to [`FETCHERS_MAX`].
pub const KEY_REMOTE_FETCHERS: &str = "capability.remote-cluster.fetchers";
/// Config key: `true` grants the `local-admin` capability.
pub const KEY_LOCAL_ADMIN: &str = "capability.local-admin";
/// Config key: the local cluster's bootstrap servers (set by the Connect worker from its own
/// `bootstrap.servers`, replacing whatever the connector config said).
pub const KEY_LOCAL_BOOTSTRAP: &str = "capability.local-admin.bootstrap.servers";
/// Config key prefix: client settings for the local cluster (the worker's `admin.*` overrides).
pub const KEY_LOCAL_CLIENT: &str = "capability.local-admin.client.";

/// Consumers per assignment when `capability.remote-cluster.fetchers` is not set.
pub const DEFAULT_FETCHERS: usize = 4;
/// Most consumers per assignment.
pub const FETCHERS_MAX: usize = 64;

/// A Kafka cluster and the client settings to reach it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KafkaCluster {
    /// `bootstrap.servers`; empty when the local cluster is granted but not known.
    pub bootstrap: String,
    /// librdkafka properties applied to every client for the cluster, in key order.
    pub client: BTreeMap<String, String>,
}

/// The `remote-cluster` grant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteGrant {
    /// The remote cluster.
    pub cluster: KafkaCluster,
    /// Regex (already checked to compile) of the topics `produce` may write; none: no topic.
    pub produce_topics: Option<String>,
    /// Consumers an assignment is split over.
    pub fetchers: usize,
}

/// Reads the `capability.remote-cluster.*` keys; `None` when the cluster is not granted.
pub fn remote_from_config(c: &PluginConfig) -> Result<Option<RemoteGrant>> {
    let Some(bootstrap) = c.get(KEY_REMOTE).map(str::trim).filter(|s| !s.is_empty()) else {
        return Ok(None);
    };
    let produce_topics = match c.get(KEY_REMOTE_PRODUCE).map(str::trim) {
        None | Some("") => None,
        Some(re) => {
            regex::Regex::new(&anchored(re)).map_err(|e| RuntimeError::Config {
                key: KEY_REMOTE_PRODUCE.into(),
                message: format!("`{re}` is not a valid regex: {e}"),
            })?;
            Some(re.to_string())
        }
    };
    let fetchers = match c.get(KEY_REMOTE_FETCHERS).map(str::trim) {
        None => DEFAULT_FETCHERS,
        Some(v) => match v.parse::<usize>() {
            Ok(n) if (1..=FETCHERS_MAX).contains(&n) => n,
            _ => {
                return Err(RuntimeError::Config {
                    key: KEY_REMOTE_FETCHERS.into(),
                    message: format!("`{v}` is not a number from 1 to {FETCHERS_MAX}"),
                })
            }
        },
    };
    Ok(Some(RemoteGrant {
        cluster: KafkaCluster {
            bootstrap: bootstrap.to_string(),
            client: c.with_prefix(KEY_REMOTE_CLIENT),
        },
        produce_topics,
        fetchers,
    }))
}

/// Reads `capability.local-admin` and the local cluster the worker filled in; `None` when not
/// granted.
pub fn local_from_config(c: &PluginConfig) -> Result<Option<KafkaCluster>> {
    match c.get(KEY_LOCAL_ADMIN).map(str::trim) {
        None | Some("false") => Ok(None),
        Some("true") => Ok(Some(KafkaCluster {
            bootstrap: c
                .get(KEY_LOCAL_BOOTSTRAP)
                .map(str::trim)
                .unwrap_or_default()
                .to_string(),
            client: c.with_prefix(KEY_LOCAL_CLIENT),
        })),
        Some(other) => Err(RuntimeError::Config {
            key: KEY_LOCAL_ADMIN.into(),
            message: format!("`{other}` is not true or false"),
        }),
    }
}

/// The regex matching a whole topic name.
pub(crate) fn anchored(re: &str) -> String {
    format!("^(?:{re})$")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_remote_and_local_grants() {
        let c = PluginConfig::parse_pairs(&[
            "capability.remote-cluster.bootstrap.servers=a:9092",
            "capability.remote-cluster.client.security.protocol=ssl",
            "capability.remote-cluster.produce.topics=mm2-offset-syncs\\..*\\.internal",
            "capability.local-admin=true",
            "capability.local-admin.bootstrap.servers=b:9092",
            "capability.local-admin.client.client.rack=r1",
        ])
        .unwrap();
        let r = remote_from_config(&c).unwrap().unwrap();
        assert_eq!(r.cluster.bootstrap, "a:9092");
        assert_eq!(
            r.cluster
                .client
                .get("security.protocol")
                .map(String::as_str),
            Some("ssl")
        );
        assert_eq!(r.fetchers, DEFAULT_FETCHERS);
        let l = local_from_config(&c).unwrap().unwrap();
        assert_eq!(l.bootstrap, "b:9092");
        assert_eq!(l.client.get("client.rack").map(String::as_str), Some("r1"));
        let none = PluginConfig::parse_pairs(&["x=1"]).unwrap();
        assert!(remote_from_config(&none).unwrap().is_none());
        assert!(local_from_config(&none).unwrap().is_none());
    }

    #[test]
    fn bad_values_name_their_key() {
        for (pairs, key) in [
            (
                vec![
                    "capability.remote-cluster.bootstrap.servers=a",
                    "capability.remote-cluster.produce.topics=(",
                ],
                KEY_REMOTE_PRODUCE,
            ),
            (
                vec![
                    "capability.remote-cluster.bootstrap.servers=a",
                    "capability.remote-cluster.fetchers=0",
                ],
                KEY_REMOTE_FETCHERS,
            ),
            (vec!["capability.local-admin=yes"], KEY_LOCAL_ADMIN),
        ] {
            let c = PluginConfig::parse_pairs(&pairs).unwrap();
            let e = remote_from_config(&c)
                .err()
                .or_else(|| local_from_config(&c).err())
                .expect("an error");
            assert!(e.to_string().contains(key), "{e}");
        }
    }
}
