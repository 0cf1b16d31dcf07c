//! `weft produce`: a console producer reading one record per stdin line.

use std::io::BufRead;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use anyhow::{bail, Context};
use clap::Args;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{BaseProducer, BaseRecord, DeliveryResult, Producer, ProducerContext};
use rdkafka::ClientContext;

use crate::client::{parse_kv, ClientArgs};

#[derive(Args, Debug)]
pub struct ProduceArgs {
    pub topic: String,
    #[command(flatten)]
    pub client: ClientArgs,
    /// Split each line into key and value at the first occurrence of this separator.
    #[arg(long, short = 'K')]
    pub key_separator: Option<String>,
    /// Send every record to this partition (default: the partitioner decides).
    #[arg(long, short = 'p')]
    pub partition: Option<i32>,
    /// acks: 0, 1, or all/-1.
    #[arg(long, default_value = "all")]
    pub acks: String,
    /// Compression codec: none, gzip, snappy, lz4, zstd.
    #[arg(long, short = 'z', default_value = "none")]
    pub compression: String,
    /// Header added to every record, `key=value` (repeatable).
    #[arg(long = "header", short = 'H', value_name = "KEY=VALUE")]
    pub headers: Vec<String>,
    /// Partitioner for keyed records (murmur2_random matches the Java client).
    #[arg(long, default_value = "murmur2_random")]
    pub partitioner: String,
}

/// Counts deliveries and keeps the first failure, which is what the user needs to see.
#[derive(Default)]
struct Counting {
    delivered: AtomicU64,
    failed: AtomicU64,
    first_error: Mutex<Option<String>>,
}

impl ClientContext for Counting {}

impl ProducerContext for Counting {
    type DeliveryOpaque = ();
    fn delivery(&self, result: &DeliveryResult<'_>, _: ()) {
        match result {
            Ok(_) => {
                self.delivered.fetch_add(1, Ordering::Relaxed);
            }
            Err((e, _)) => {
                self.failed.fetch_add(1, Ordering::Relaxed);
                if let Ok(mut first) = self.first_error.lock() {
                    first.get_or_insert_with(|| e.to_string());
                }
            }
        }
    }
}

pub fn run(args: ProduceArgs) -> anyhow::Result<()> {
    let mut cfg = args.client.config()?;
    cfg.set("acks", &args.acks)
        .set("compression.type", &args.compression)
        .set("partitioner", &args.partitioner)
        .set("linger.ms", "5");
    let producer: BaseProducer<Counting> = cfg
        .create_with_context(Counting::default())
        .context("creating producer")?;

    let mut headers = OwnedHeaders::new();
    let header_pairs = args
        .headers
        .iter()
        .map(|h| parse_kv(h, "--header"))
        .collect::<anyhow::Result<Vec<_>>>()?;
    for (k, v) in &header_pairs {
        headers = headers.insert(Header {
            key: k,
            value: Some(v.as_bytes()),
        });
    }

    let stdin = std::io::stdin();
    let mut sent = 0u64;
    for line in stdin.lock().lines() {
        let line = line.context("reading stdin")?;
        let (key, value) = match &args.key_separator {
            Some(sep) => match line.split_once(sep.as_str()) {
                Some((k, v)) => (Some(k.to_string()), v.to_string()),
                None => bail!("line {} has no key separator '{sep}': {line}", sent + 1),
            },
            None => (None, line),
        };
        let mut record: BaseRecord<'_, String, String, ()> =
            BaseRecord::to(&args.topic).payload(&value);
        if let Some(k) = &key {
            record = record.key(k);
        }
        if let Some(p) = args.partition {
            record = record.partition(p);
        }
        if !header_pairs.is_empty() {
            record = record.headers(headers.clone());
        }
        loop {
            match producer.send(record) {
                Ok(()) => break,
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), r)) => {
                    record = r;
                    producer.poll(Duration::from_millis(50));
                }
                Err((e, _)) => bail!("cannot send record {}: {e}", sent + 1),
            }
        }
        sent += 1;
        producer.poll(Duration::ZERO);
    }
    producer
        .flush(Duration::from_secs(60))
        .context("flushing records")?;
    let ctx = producer.context();
    let delivered = ctx.delivered.load(Ordering::Relaxed);
    let failed = ctx.failed.load(Ordering::Relaxed);
    eprintln!("Produced {delivered} of {sent} records to {}", args.topic);
    if failed > 0 || delivered != sent {
        let first = ctx
            .first_error
            .lock()
            .ok()
            .and_then(|f| f.clone())
            .unwrap_or_default();
        bail!("{failed} records failed: {first}");
    }
    Ok(())
}
