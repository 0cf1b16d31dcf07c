//! The read calls both Kafka capabilities serve over their cluster: `list-offsets`, `assign`,
//! `fetch` and (remote-cluster only) `fetch-batches` (remote-cluster reads what a mirror copies;
//! local-admin reads back the internal topics a mirror keeps on the target). The first fetch
//! decides how the assignment is read, records through librdkafka or batches through
//! weft-wire, and the reader is made then: an `assign` before it is kept until then.

use std::time::Duration;

use weft_wire::BatchFetcher;

use super::batches;
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

/// How the assignment is read, once the first fetch chose.
enum Mode {
    /// `fetch`: records, through librdkafka consumers.
    Records(Fetchers),
    /// `fetch-batches`: stored record batches, through weft-wire.
    Batches(BatchFetcher),
}

/// One instance's assignment on one cluster and what serves it.
pub(crate) struct Reader {
    fetcher_count: usize,
    mode: Option<Mode>,
    /// The last assignment, applied when the first fetch makes the reader.
    assignment: Vec<(String, i32, i64)>,
}

impl Reader {
    /// A reader that splits its assignment over `fetcher_count` consumers or connections.
    pub(crate) fn new(fetcher_count: usize) -> Self {
        Reader {
            fetcher_count,
            mode: None,
            assignment: Vec::new(),
        }
    }

    fn fetchers(&mut self, cluster: &Cluster) -> Result<&mut Fetchers, PluginError> {
        if self.mode.is_none() {
            let mut f = Fetchers::new(cluster, self.fetcher_count)?;
            f.assign(&self.assignment)
                .map_err(|e| cluster.error("cannot assign partitions", &e))?;
            self.mode = Some(Mode::Records(f));
        }
        match &mut self.mode {
            Some(Mode::Records(f)) => Ok(f),
            _ => {
                Err(cluster
                    .refused("fetch after fetch-batches: a plugin reads its assignment one way"))
            }
        }
    }

    fn batch_fetcher(&mut self, cluster: &Cluster) -> Result<&BatchFetcher, PluginError> {
        if self.mode.is_none() {
            let f = batches::start(
                cluster,
                cluster.spec(),
                cluster.client_id(),
                self.fetcher_count,
            )?;
            f.assign(&self.assignment)
                .map_err(|e| batches::wire_error(cluster, "cannot assign partitions", &e))?;
            self.mode = Some(Mode::Batches(f));
        }
        match &self.mode {
            Some(Mode::Batches(f)) => Ok(f),
            _ => {
                Err(cluster
                    .refused("fetch-batches after fetch: a plugin reads its assignment one way"))
            }
        }
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
        let res = match &mut self.mode {
            None => Ok(()),
            Some(Mode::Records(f)) => f
                .assign(&positions)
                .map_err(|e| cluster.error("cannot assign partitions", &e)),
            Some(Mode::Batches(f)) => f
                .assign(&positions)
                .map_err(|e| batches::wire_error(cluster, "cannot assign partitions", &e)),
        };
        self.assignment = positions;
        res
    }

    /// Batches read since the last call, as Kafka batch entries.
    pub(crate) fn fetch_batches(
        &mut self,
        cluster: &Cluster,
        max_records: u32,
        timeout_ms: u32,
    ) -> Result<Vec<u8>, PluginError> {
        let max = (max_records as usize).clamp(1, FETCH_RECORDS_MAX);
        let timeout = Duration::from_millis(u64::from(timeout_ms)).min(FETCH_WAIT_MAX);
        let fetcher = self.batch_fetcher(cluster)?;
        batches::take(cluster, fetcher, max, timeout)
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
