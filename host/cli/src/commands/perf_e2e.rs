//! `weft perf end-to-end`: produces and consumes in one process and measures each record from the
//! moment it is sent to the moment a consumer reads it (read_committed by default, so with
//! `--transactional-id` a record's latency includes waiting for its transaction's commit).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use clap::Args;
use hdrhistogram::Histogram;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::Message;
use rdkafka::producer::{BaseRecord, DeliveryResult, Producer, ProducerContext, ThreadedProducer};
use rdkafka::{ClientContext, Offset, TopicPartitionList};

use super::perf::Transactions;
use crate::client::{parse_kv, ClientArgs};

/// Bytes at the start of each value that carry its send time (nanoseconds since the run started).
const STAMP: usize = 8;

#[derive(Args, Debug)]
pub struct EndToEndPerf {
    #[command(flatten)]
    pub client: ClientArgs,
    #[arg(long, default_value = "weft-perf")]
    pub topic: String,
    /// Number of records to send and read back.
    #[arg(long, default_value_t = 100_000)]
    pub records: u64,
    /// Size of each record's value in bytes (at least 8: the send time).
    #[arg(long, default_value_t = 100)]
    pub record_size: usize,
    /// Records per second to aim for; -1 means as fast as possible.
    #[arg(long, default_value_t = 10_000, allow_hyphen_values = true)]
    pub throughput: i64,
    /// The consumer's isolation.level: read_committed or read_uncommitted.
    #[arg(long, default_value = "read_committed")]
    pub isolation_level: String,
    /// Send in transactions under this transactional.id.
    #[arg(long)]
    pub transactional_id: Option<String>,
    /// Records per transaction with --transactional-id.
    #[arg(long, default_value_t = 100, requires = "transactional_id")]
    pub transaction_records: u64,
    /// Give up when the consumer sees no record for this long.
    #[arg(long, default_value_t = 30_000)]
    pub timeout_ms: u64,
    /// Producer properties, `key=value` (repeatable; applied last).
    #[arg(long = "producer-props", value_name = "KEY=VALUE", num_args = 1..)]
    pub producer_props: Vec<String>,
    /// Consumer properties, `key=value` (repeatable; applied last).
    #[arg(long = "consumer-props", value_name = "KEY=VALUE", num_args = 1..)]
    pub consumer_props: Vec<String>,
}

/// Counts failed deliveries (latency is measured at the consumer, not here).
#[derive(Default)]
struct Failures {
    failed: AtomicU64,
    first: Mutex<Option<String>>,
}

impl ClientContext for Failures {}

impl ProducerContext for Failures {
    type DeliveryOpaque = ();
    fn delivery(&self, result: &DeliveryResult<'_>, _: ()) {
        if let Err((e, _)) = result {
            self.failed.fetch_add(1, Ordering::Relaxed);
            if let Ok(mut f) = self.first.lock() {
                f.get_or_insert_with(|| e.to_string());
            }
        }
    }
}

pub fn run(args: EndToEndPerf) -> anyhow::Result<()> {
    if args.records == 0 {
        bail!("--records must be positive");
    }
    if args.record_size < STAMP {
        bail!("--record-size must be at least {STAMP} (the send time)");
    }
    let consumer = assigned_consumer(&args)?;

    let mut cfg = args.client.config()?;
    cfg.set("linger.ms", "0")
        .set("queue.buffering.max.messages", "2000000");
    if let Some(id) = &args.transactional_id {
        if args.transaction_records == 0 {
            bail!("--transaction-records must be positive");
        }
        cfg.set("transactional.id", id);
    }
    for p in &args.producer_props {
        let (k, v) = parse_kv(p, "--producer-props")?;
        cfg.set(k, v);
    }
    let producer: ThreadedProducer<Failures> = cfg
        .create_with_context(Failures::default())
        .context("creating producer")?;
    let mut txn = args
        .transactional_id
        .as_ref()
        .map(|_| Transactions::start(&producer, args.transaction_records))
        .transpose()?;

    let start = Instant::now();
    let records = args.records;
    let timeout = Duration::from_millis(args.timeout_ms);
    let reader = std::thread::spawn(move || read_back(consumer, records, start, timeout));

    let mut payload = vec![b'x'; args.record_size];
    for i in 0..args.records {
        if let Some(t) = txn.as_mut() {
            t.before_send(&producer, i)?;
        }
        if args.throughput > 0 {
            let due = Duration::from_secs_f64(i as f64 / args.throughput as f64);
            let elapsed = start.elapsed();
            if due > elapsed {
                std::thread::sleep(due - elapsed);
            }
        }
        let sent = start.elapsed().as_nanos() as u64;
        payload[..STAMP].copy_from_slice(&sent.to_le_bytes());
        let mut record = BaseRecord::<(), [u8], ()>::to(&args.topic).payload(&payload[..]);
        loop {
            match producer.send(record) {
                Ok(()) => break,
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), r)) => {
                    record = r;
                    std::thread::sleep(Duration::from_micros(200));
                }
                Err((e, _)) => bail!("send failed: {e}"),
            }
        }
    }
    super::perf::finish_sending(txn.as_mut(), &producer)?;
    let sent_s = start.elapsed().as_secs_f64();
    let failed = producer.context().failed.load(Ordering::Relaxed);
    if failed > 0 {
        let first = producer
            .context()
            .first
            .lock()
            .ok()
            .and_then(|f| f.clone())
            .unwrap_or_default();
        bail!("{failed} records failed: {first}");
    }
    let h = reader
        .join()
        .map_err(|_| anyhow::anyhow!("the consumer thread panicked"))??;
    let ms = |us: u64| us as f64 / 1000.0;
    println!(
        "{records} records end to end ({}), {:.1} records/sec sent, latency {:.2} ms avg, {:.2} ms 50th, {:.2} ms 95th, {:.2} ms 99th, {:.2} ms 99.9th, {:.2} ms max.",
        args.isolation_level,
        records as f64 / sent_s.max(1e-9),
        h.mean() / 1000.0,
        ms(h.value_at_quantile(0.50)),
        ms(h.value_at_quantile(0.95)),
        ms(h.value_at_quantile(0.99)),
        ms(h.value_at_quantile(0.999)),
        ms(h.max()),
    );
    if let Some(t) = &txn {
        t.report(sent_s);
    }
    Ok(())
}

/// A consumer assigned every partition of the topic at its current end, so it reads exactly what
/// this run produces.
fn assigned_consumer(args: &EndToEndPerf) -> anyhow::Result<BaseConsumer> {
    let mut cfg = args.client.config()?;
    cfg.set("group.id", "weft-perf-end-to-end")
        .set("enable.auto.commit", "false")
        .set("isolation.level", &args.isolation_level)
        // Past queued.min.messages librdkafka otherwise pauses fetching for a whole second,
        // which would show up as latency.
        .set("fetch.queue.backoff.ms", "10");
    for p in &args.consumer_props {
        let (k, v) = parse_kv(p, "--consumer-props")?;
        cfg.set(k, v);
    }
    let consumer: BaseConsumer = cfg.create().context("creating consumer")?;
    let md = consumer.fetch_metadata(Some(&args.topic), Duration::from_secs(30))?;
    let t = md.topics().first().context("no metadata for topic")?;
    if let Some(e) = t.error() {
        bail!("topic {}: {}", args.topic, RDKafkaErrorCode::from(e));
    }
    let mut tpl = TopicPartitionList::new();
    for p in t.partitions() {
        let (_, high) = consumer
            .fetch_watermarks(&args.topic, p.id(), Duration::from_secs(30))
            .with_context(|| format!("end offset of {}-{}", args.topic, p.id()))?;
        tpl.add_partition_offset(&args.topic, p.id(), Offset::Offset(high))?;
    }
    consumer.assign(&tpl)?;
    Ok(consumer)
}

/// Reads `records` records and returns their latencies in microseconds.
fn read_back(
    consumer: BaseConsumer,
    records: u64,
    start: Instant,
    timeout: Duration,
) -> anyhow::Result<Histogram<u64>> {
    let mut h = Histogram::<u64>::new_with_bounds(1, 600_000_000, 3).context("histogram")?;
    let mut count = 0u64;
    let mut idle_since: Option<Instant> = None;
    while count < records {
        match consumer.poll(Duration::from_millis(100)) {
            Some(Ok(m)) => {
                let now = start.elapsed().as_nanos() as u64;
                let stamp = m
                    .payload()
                    .and_then(|p| p.get(..STAMP))
                    .and_then(|b| <[u8; STAMP]>::try_from(b).ok())
                    .map(u64::from_le_bytes)
                    .context(
                        "a record without a send time: is another producer writing to the topic?",
                    )?;
                let _ = h.record((now.saturating_sub(stamp) / 1000).max(1));
                count += 1;
                idle_since = None;
            }
            Some(Err(e)) => eprintln!("consume error: {e}"),
            None => {
                let since = *idle_since.get_or_insert_with(Instant::now);
                if since.elapsed() > timeout {
                    bail!(
                        "no record for {} ms after {count} of {records} records",
                        timeout.as_millis()
                    );
                }
            }
        }
    }
    Ok(h)
}
