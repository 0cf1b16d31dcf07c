//! The read calls both Kafka capabilities serve over their cluster: `list-offsets`, `assign`
//! and `fetch` (remote-cluster reads what a mirror copies; local-admin reads back the internal
//! topics a mirror keeps on the target). The fetch consumers are made on first use.

use std::time::Duration;

use super::cluster::Cluster;
use super::fetch::{FetchError, Fetched, Fetchers};
use crate::bindings::types::{PluginError, TopicPartition, TopicPartitionOffset, Watermarks};
use crate::host::{HostState, LogLevel};

/// Most records one `fetch` returns, whatever the plugin asks.
const FETCH_RECORDS_MAX: usize = 100_000;
/// About the most key, value and header bytes one `fetch` returns (one larger record still
/// comes alone).
const FETCH_BYTES_MAX: usize = 8 << 20;
/// Longest a `fetch` waits for its first record.
const FETCH_WAIT_MAX: Duration = Duration::from_secs(60);

/// One instance's assignment on one cluster and the consumers serving it.
pub(crate) struct Reader {
    fetcher_count: usize,
    fetchers: Option<Fetchers>,
}

impl Reader {
    /// A reader that splits its assignment over `fetcher_count` consumers.
    pub(crate) fn new(fetcher_count: usize) -> Self {
        Reader {
            fetcher_count,
            fetchers: None,
        }
    }

    fn fetchers(&mut self, cluster: &Cluster) -> Result<&mut Fetchers, PluginError> {
        if self.fetchers.is_none() {
            self.fetchers = Some(Fetchers::new(cluster, self.fetcher_count)?);
        }
        self.fetchers
            .as_mut()
            .ok_or_else(|| cluster.refused("no consumers"))
    }

    /// Earliest and latest offsets of `partitions`.
    pub(crate) fn list_offsets(
        cluster: &mut Cluster,
        partitions: Vec<TopicPartition>,
    ) -> Result<Vec<Watermarks>, PluginError> {
        let parts: Vec<(String, i32)> = partitions
            .into_iter()
            .map(|p| (p.topic, p.partition))
            .collect();
        Ok(cluster
            .watermarks(&parts)?
            .into_iter()
            .map(|(topic, partition, earliest, latest)| Watermarks {
                topic,
                partition,
                earliest,
                latest,
            })
            .collect())
    }

    /// Replaces the assignment.
    pub(crate) fn assign(
        &mut self,
        cluster: &Cluster,
        positions: Vec<TopicPartitionOffset>,
    ) -> Result<(), PluginError> {
        let positions: Vec<(String, i32, i64)> = positions
            .into_iter()
            .map(|p| (p.topic, p.partition, p.offset))
            .collect();
        let res = self.fetchers(cluster)?.assign(&positions);
        res.map_err(|e| cluster.error("cannot assign partitions", &e))
    }

    /// Records read since the last call, packed, with the consumer errors met on the way.
    pub(crate) fn fetch(
        &mut self,
        cluster: &Cluster,
        max_records: u32,
        timeout_ms: u32,
    ) -> Result<Fetched, PluginError> {
        let max = (max_records as usize).clamp(1, FETCH_RECORDS_MAX);
        let timeout = Duration::from_millis(u64::from(timeout_ms)).min(FETCH_WAIT_MAX);
        let res = self.fetchers(cluster)?.fetch(max, FETCH_BYTES_MAX, timeout);
        match res {
            Ok(f) => Ok(f),
            Err(FetchError::Kafka(e)) => Err(cluster.error("cannot fetch", &e)),
            Err(FetchError::Pack(m)) => Err(cluster.refused(format!("cannot pack records: {m}"))),
        }
    }
}

impl HostState {
    /// Runs [`Reader::fetch`] (inside `run`, which waits off the call deadline) and logs the
    /// consumer errors met as the plugin's warnings.
    pub(super) fn fetch_logged(
        &mut self,
        capability: &str,
        run: impl FnOnce(&mut HostState) -> Result<Fetched, PluginError>,
    ) -> Result<Vec<u8>, PluginError> {
        let Fetched { batch, warnings } = run(self)?;
        for w in &warnings {
            (self.log)(
                &self.plugin,
                LogLevel::Warn,
                &format!("{capability} fetch: {w}"),
            );
        }
        Ok(batch)
    }
}
