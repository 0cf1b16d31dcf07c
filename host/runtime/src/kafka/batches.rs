//! Batch passthrough on the remote cluster (`fetch-batches`): the assigned partitions' record
//! batches read as the cluster stores them by weft-wire's [`BatchFetcher`] (librdkafka decodes
//! every batch, so it cannot hand them over), packed as Kafka batch entries of the WFB1 layout.
//! The host's own client speaks PLAINTEXT only; a cluster granted with TLS or SASL properties is
//! refused here with the key that asked for it, and the plugin keeps `fetch`.

use std::time::Duration;

use weft_batch::BatchWriter;
use weft_wire::{BatchFetcher, FetchSettings, WireConfig, WireError};

use super::cluster::Cluster;
use super::grant::KafkaCluster;
use crate::bindings::types::{ErrorKind, PluginError};

/// Prefetched bytes per fetch connection (librdkafka's `queued.max.messages.kbytes` here).
const BUFFER_BYTES: usize = 16 << 20;

/// The fetch settings of `cluster`: the `fetch` defaults, tuned by the same client properties
/// (`fetch.max.bytes`, `max.partition.fetch.bytes`, `fetch.wait.max.ms`,
/// `queued.max.messages.kbytes`, `isolation.level`).
fn settings(cluster: &KafkaCluster, connections: usize) -> Result<FetchSettings, String> {
    let mut s = FetchSettings {
        max_bytes: 8 << 20,
        partition_max_bytes: 4 << 20,
        max_wait: Duration::from_millis(100),
        buffer_bytes: BUFFER_BYTES,
        read_committed: false,
        connections: connections.max(1),
    };
    for (k, v) in &cluster.client {
        let n = || {
            v.trim()
                .parse::<i64>()
                .ok()
                .filter(|n| *n > 0)
                .ok_or_else(|| format!("{k}={v} is not a positive number"))
        };
        match k.as_str() {
            "fetch.max.bytes" => s.max_bytes = n()?.min(i64::from(i32::MAX)) as i32,
            "max.partition.fetch.bytes" => {
                s.partition_max_bytes = n()?.min(i64::from(i32::MAX)) as i32
            }
            "fetch.wait.max.ms" => s.max_wait = Duration::from_millis(n()? as u64),
            "queued.max.messages.kbytes" => {
                s.buffer_bytes = (n()? as usize).saturating_mul(1024).min(1 << 30)
            }
            "isolation.level" => match v.trim() {
                "read_committed" => s.read_committed = true,
                "read_uncommitted" => s.read_committed = false,
                other => return Err(format!("isolation.level={other} is not a level")),
            },
            _ => {}
        }
    }
    Ok(s)
}

/// Starts the passthrough fetcher for `cluster`, or says why it cannot be used.
pub(crate) fn start(
    cluster: &Cluster,
    spec: &KafkaCluster,
    client_id: &str,
    connections: usize,
) -> Result<BatchFetcher, PluginError> {
    let mut props: Vec<(String, String)> = spec
        .client
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    props.push(("bootstrap.servers".into(), spec.bootstrap.clone()));
    let config = WireConfig::from_properties(&props, &format!("{client_id}-batches"))
        .map_err(|e| cluster.refused(format!("batch passthrough: {e}")))?;
    let settings = settings(spec, connections)
        .map_err(|e| cluster.refused(format!("batch passthrough: {e}")))?;
    BatchFetcher::start(config, settings).map_err(|e| wire_error(cluster, "cannot fetch", &e))
}

/// A weft-wire error as the plugin sees it: fatal unless retrying can help.
pub(crate) fn wire_error(cluster: &Cluster, doing: &str, e: &WireError) -> PluginError {
    PluginError {
        kind: if e.is_retriable() {
            ErrorKind::Retriable
        } else {
            ErrorKind::Fatal
        },
        message: format!("{}: {doing}: {e}", cluster.name()),
        retry_after_ms: None,
    }
}

/// Up to about `max` records' batches fetched since the last call, as Kafka batch entries.
pub(crate) fn take(
    cluster: &Cluster,
    fetcher: &BatchFetcher,
    max: usize,
    timeout: Duration,
) -> Result<Vec<u8>, PluginError> {
    let batches = fetcher
        .take(max, timeout)
        .map_err(|e| wire_error(cluster, "cannot fetch", &e))?;
    let bytes: usize = batches.iter().map(|b| b.bytes.len()).sum();
    let mut w = BatchWriter::with_capacity(bytes + batches.len() * 48 + 64);
    for b in &batches {
        w.push_kafka_batch(&b.topic, b.partition, b.base_offset, &b.bytes)
            .map_err(|e| cluster.refused(format!("cannot pack batches: {e}")))?;
    }
    w.finish()
        .map_err(|e| cluster.refused(format!("cannot pack batches: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(props: &[(&str, &str)]) -> KafkaCluster {
        KafkaCluster {
            bootstrap: "a:9092".into(),
            client: props
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }

    #[test]
    fn fetch_settings_follow_the_consumer_properties() {
        let s = settings(&spec(&[]), 0).unwrap();
        assert_eq!(
            (s.max_bytes, s.connections, s.read_committed),
            (8 << 20, 1, false)
        );
        let s = settings(
            &spec(&[
                ("isolation.level", "read_committed"),
                ("fetch.wait.max.ms", "20"),
                ("queued.max.messages.kbytes", "1024"),
                ("linger.ms", "5"),
            ]),
            3,
        )
        .unwrap();
        assert!(s.read_committed);
        assert_eq!(s.max_wait, Duration::from_millis(20));
        assert_eq!((s.buffer_bytes, s.connections), (1 << 20, 3));
        let e = settings(&spec(&[("fetch.max.bytes", "lots")]), 1).unwrap_err();
        assert!(e.contains("fetch.max.bytes=lots"), "{e}");
        let e = settings(&spec(&[("isolation.level", "sometimes")]), 1).unwrap_err();
        assert!(e.contains("isolation.level"), "{e}");
    }
}
