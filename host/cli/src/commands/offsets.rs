//! `weft offsets`: GetOffsetShell — `topic:partition:offset` for earliest, latest or a timestamp.

use std::time::Duration;

use anyhow::{bail, Context};
use clap::Args;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::{Offset, TopicPartitionList};

use crate::client::ClientArgs;

const TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Args, Debug)]
pub struct OffsetsArgs {
    pub topic: String,
    #[command(flatten)]
    pub client: ClientArgs,
    /// earliest, latest, or a timestamp in milliseconds (first offset at or after it).
    #[arg(long, default_value = "latest", allow_hyphen_values = true)]
    pub time: String,
    /// Only these partitions (comma-separated).
    #[arg(long, value_delimiter = ',')]
    pub partitions: Vec<i32>,
}

pub fn run(args: OffsetsArgs) -> anyhow::Result<()> {
    let consumer: BaseConsumer = args.client.config()?.create().context("creating client")?;
    let md = consumer
        .fetch_metadata(Some(&args.topic), TIMEOUT)
        .context("fetching metadata")?;
    let t = md.topics().first().context("no metadata for topic")?;
    if let Some(e) = t.error() {
        bail!(
            "topic {}: {}",
            args.topic,
            rdkafka::types::RDKafkaErrorCode::from(e)
        );
    }
    let mut parts: Vec<i32> = t.partitions().iter().map(|p| p.id()).collect();
    parts.sort();
    if !args.partitions.is_empty() {
        parts.retain(|p| args.partitions.contains(p));
    }
    let time =
        match args.time.as_str() {
            "latest" | "-1" => None,
            "earliest" | "-2" => Some(-2),
            ms => Some(ms.parse::<i64>().with_context(|| {
                format!("--time '{ms}' is not earliest, latest or milliseconds")
            })?),
        };
    match time {
        None | Some(-2) => {
            for p in parts {
                let (low, high) = consumer.fetch_watermarks(&args.topic, p, TIMEOUT)?;
                println!(
                    "{}:{}:{}",
                    args.topic,
                    p,
                    if time.is_none() { high } else { low }
                );
            }
        }
        Some(ms) => {
            let mut tpl = TopicPartitionList::new();
            for p in &parts {
                tpl.add_partition_offset(&args.topic, *p, Offset::Offset(ms))?;
            }
            let found = consumer.offsets_for_times(tpl, TIMEOUT)?;
            for e in found.elements() {
                // No record at or after the timestamp: GetOffsetShell prints nothing for it... we print -1.
                let off = match e.offset() {
                    Offset::Offset(o) => o,
                    _ => -1,
                };
                println!("{}:{}:{}", e.topic(), e.partition(), off);
            }
        }
    }
    Ok(())
}
