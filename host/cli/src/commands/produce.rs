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
use crate::commands::plugin::{self, PartitionCounts, ProducePluginArgs};

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
    /// Partitioner: one of librdkafka's (murmur2_random matches the Java client), or a Weft
    /// partitioner plugin by name or .wasm path.
    #[arg(long, default_value = "murmur2_random")]
    pub partitioner: String,
    #[command(flatten)]
    pub plugins: ProducePluginArgs,
}

/// Delivery results by record index within the batch: (partition, offset) or the error.
type DeliveryResults = Mutex<Vec<(usize, Result<(i32, i64), String>)>>;

/// Counts deliveries and keeps the first failure, which is what the user needs to see; with
/// plugin interceptors it also keeps each result (by record index) for their acknowledgements.
#[derive(Default)]
struct Counting {
    delivered: AtomicU64,
    failed: AtomicU64,
    first_error: Mutex<Option<String>>,
    results: Option<DeliveryResults>,
}

impl ClientContext for Counting {}

impl ProducerContext for Counting {
    type DeliveryOpaque = usize;
    fn delivery(&self, result: &DeliveryResult<'_>, index: usize) {
        if let Some(results) = &self.results {
            use rdkafka::message::Message;
            let r = match result {
                Ok(m) => Ok((m.partition(), m.offset())),
                Err((e, _)) => Err(e.to_string()),
            };
            if let Ok(mut v) = results.lock() {
                v.push((index, r));
            }
        }
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
        .set("linger.ms", "5");
    // A partitioner that is not one of librdkafka's is a plugin: records arrive with a partition.
    if plugin::is_librdkafka_partitioner(&args.partitioner) {
        cfg.set("partitioner", &args.partitioner);
    }
    let mut pipeline = plugin::produce_pipeline(&args.plugins, &args.partitioner)?;
    let wants_acks = pipeline.as_ref().is_some_and(|p| p.has_interceptors());
    let context = Counting {
        results: wants_acks.then(|| Mutex::new(Vec::new())),
        ..Counting::default()
    };
    let producer: BaseProducer<Counting> = cfg
        .create_with_context(context)
        .context("creating producer")?;
    if let Some(p) = pipeline.as_mut() {
        let result = produce_with_plugins(&args, &producer, p);
        let closed = p.close();
        let sent = result?;
        closed?;
        return report(&producer, &args.topic, sent);
    }

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
        let mut record: BaseRecord<'_, String, String, usize> =
            BaseRecord::with_opaque_to(&args.topic, 0).payload(&value);
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
    report(&producer, &args.topic, sent)
}

/// Flushes, prints the summary line, and fails if any record was not delivered.
fn report(producer: &BaseProducer<Counting>, topic: &str, sent: u64) -> anyhow::Result<()> {
    producer
        .flush(Duration::from_secs(60))
        .context("flushing records")?;
    let ctx = producer.context();
    let delivered = ctx.delivered.load(Ordering::Relaxed);
    let failed = ctx.failed.load(Ordering::Relaxed);
    eprintln!("Produced {delivered} of {sent} records to {topic}");
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

/// The produce loop with plugins: stdin lines are read in batches (whatever is already
/// buffered, up to 1000), run through transforms, serializer, interceptors and partitioner,
/// then sent; interceptors get each batch's delivery results.
fn produce_with_plugins(
    args: &ProduceArgs,
    producer: &BaseProducer<Counting>,
    pipeline: &mut weft_runtime::ProducePipeline,
) -> anyhow::Result<u64> {
    let headers: Vec<weft_runtime::Header> = args
        .headers
        .iter()
        .map(|h| {
            parse_kv(h, "--header").map(|(k, v)| weft_runtime::Header {
                key: k,
                value: Some(v.into_bytes()),
            })
        })
        .collect::<anyhow::Result<_>>()?;
    let mut counts = PartitionCounts::new(producer.client());
    let stdin = std::io::stdin();
    let mut reader = stdin.lock();
    let mut line_no = 0u64;
    let mut sent = 0u64;
    loop {
        let lines = plugin::read_batch(&mut reader, 1000).context("reading stdin")?;
        if lines.is_empty() {
            return Ok(sent);
        }
        let mut records = Vec::with_capacity(lines.len());
        for line in lines {
            line_no += 1;
            let (key, value) = match &args.key_separator {
                Some(sep) => match line.split_once(sep.as_str()) {
                    Some((k, v)) => (Some(k.as_bytes().to_vec()), v.as_bytes().to_vec()),
                    None => bail!("line {line_no} has no key separator '{sep}': {line}"),
                },
                None => (None, line.into_bytes()),
            };
            records.push(weft_runtime::Record {
                topic: args.topic.clone(),
                partition: args.partition,
                key,
                value: Some(value),
                headers: headers.clone(),
                ..Default::default()
            });
        }
        let records = pipeline.process(records, |t| counts.count(t))?;
        for (i, r) in records.iter().enumerate() {
            let mut hs = OwnedHeaders::new();
            for h in &r.headers {
                hs = hs.insert(Header {
                    key: &h.key,
                    value: h.value.as_deref(),
                });
            }
            let mut record: BaseRecord<'_, [u8], [u8], usize> =
                BaseRecord::with_opaque_to(&r.topic, i).headers(hs);
            if let Some(v) = &r.value {
                record = record.payload(v.as_slice());
            }
            if let Some(k) = &r.key {
                record = record.key(k.as_slice());
            }
            if let Some(p) = r.partition {
                record = record.partition(p);
            }
            if let Some(ts) = r.timestamp {
                record = record.timestamp(ts);
            }
            loop {
                match producer.send(record) {
                    Ok(()) => break,
                    Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), rec)) => {
                        record = rec;
                        producer.poll(Duration::from_millis(50));
                    }
                    Err((e, _)) => bail!("cannot send record to {}: {e}", r.topic),
                }
            }
            sent += 1;
            producer.poll(Duration::ZERO);
        }
        if let Some(results) = &producer.context().results {
            // Interceptors see each batch's outcome before the next batch is read.
            producer
                .flush(Duration::from_secs(60))
                .context("flushing records")?;
            let done = results
                .lock()
                .map(|mut v| std::mem::take(&mut *v))
                .unwrap_or_default();
            let mut acked = records.clone();
            let mut failures = Vec::new();
            for (i, res) in done {
                match (acked.get_mut(i), res) {
                    (Some(r), Ok((p, o))) => {
                        r.partition = Some(p);
                        r.offset = Some(o);
                    }
                    (Some(_), Err(e)) => failures.push((i as u32, e)),
                    (None, _) => {}
                }
            }
            pipeline.acknowledge(&acked, &failures)?;
        }
    }
}
