//! `weft mirror-maker translate-offsets`: what `RemoteClusterUtils.translateOffsets` returns —
//! reads `<source>.checkpoints.internal` on the target cluster from the beginning to its end and
//! keeps, per partition, the group's latest checkpoint.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::{Offset, TopicPartitionList};

use super::checkpoint::{self, Checkpoint};

/// The checkpoints topic MM2 writes on the target for flows from `source`.
pub fn checkpoints_topic(source: &str) -> String {
    format!("{source}.checkpoints.internal")
}

/// Reads every checkpoint of `group` in `<source>.checkpoints.internal` through `client`
/// (which names the target cluster); the latest per (topic, partition).
pub fn latest_checkpoints(
    client: &ClientConfig,
    source: &str,
    group: &str,
    timeout: Duration,
) -> Result<BTreeMap<(String, i32), Checkpoint>> {
    let topic = checkpoints_topic(source);
    let mut cfg = client.clone();
    cfg.set("group.id", "weft-mirror-translate-offsets")
        .set("enable.auto.commit", "false")
        .set("enable.partition.eof", "false");
    let consumer: BaseConsumer = cfg.create().context("cannot create a consumer")?;
    let md = consumer
        .fetch_metadata(Some(&topic), timeout)
        .with_context(|| format!("cannot read the metadata of {topic}"))?;
    let partitions: Vec<i32> = md
        .topics()
        .iter()
        .filter(|t| t.name() == topic && t.error().is_none())
        .flat_map(|t| t.partitions().iter().map(|p| p.id()))
        .collect();
    if partitions.is_empty() {
        bail!(
            "{topic} does not exist on the target cluster: no checkpoint has been written for \
             flows from {source} yet"
        );
    }
    let mut ends = BTreeMap::new();
    let mut tpl = TopicPartitionList::new();
    for p in &partitions {
        let (low, high) = consumer
            .fetch_watermarks(&topic, *p, timeout)
            .with_context(|| format!("cannot read the end offset of {topic}-{p}"))?;
        if high > low {
            ends.insert(*p, high);
            tpl.add_partition_offset(&topic, *p, Offset::Beginning)?;
        }
    }
    let mut latest = BTreeMap::new();
    if ends.is_empty() {
        return Ok(latest);
    }
    consumer.assign(&tpl)?;
    let deadline = Instant::now() + timeout;
    while !ends.is_empty() {
        if Instant::now() > deadline {
            bail!("timed out reading {topic} to its end");
        }
        let Some(m) = consumer.poll(Duration::from_millis(200)) else {
            continue;
        };
        let m = m.with_context(|| format!("reading {topic}"))?;
        if m.offset() + 1 >= ends.get(&m.partition()).copied().unwrap_or(0) {
            ends.remove(&m.partition());
        }
        let (Some(k), Some(v)) = (m.key(), m.payload()) else {
            continue;
        };
        match checkpoint::decode(k, v) {
            Ok(c) if c.group == group => {
                latest.insert((c.topic.clone(), c.partition), c);
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(
                partition = m.partition(),
                offset = m.offset(),
                "skipping a record that is not a checkpoint: {e}"
            ),
        }
    }
    Ok(latest)
}

/// Prints the translated offsets as a table.
pub fn print(latest: &BTreeMap<(String, i32), Checkpoint>) {
    println!("TOPIC\tPARTITION\tOFFSET\tUPSTREAM-OFFSET\tMETADATA");
    for c in latest.values() {
        println!(
            "{}\t{}\t{}\t{}\t{}",
            c.topic, c.partition, c.downstream_offset, c.upstream_offset, c.metadata
        );
    }
}
