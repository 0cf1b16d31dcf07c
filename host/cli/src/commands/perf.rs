//! `weft perf produce|consume`: kafka-producer-perf-test and kafka-consumer-perf-test for any cluster.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use clap::{Args, Subcommand};
use hdrhistogram::Histogram;
use indicatif::{ProgressBar, ProgressStyle};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::Message;
use rdkafka::producer::{BaseRecord, DeliveryResult, Producer, ProducerContext, ThreadedProducer};
use rdkafka::{ClientContext, Offset, TopicPartitionList};

use crate::client::{parse_kv, ClientArgs};

#[derive(Args, Debug)]
pub struct PerfArgs {
    #[command(subcommand)]
    pub mode: PerfMode,
}

#[derive(Subcommand, Debug)]
pub enum PerfMode {
    /// Produce fixed-size records as fast as allowed and report throughput and latency percentiles.
    Produce(ProducePerf),
    /// Consume records as fast as possible and report throughput.
    Consume(ConsumePerf),
    /// Produce and consume at once and report each record's latency from send to consumer
    /// (read_committed by default, so with --transactional-id it includes waiting for the commit).
    EndToEnd(super::perf_e2e::EndToEndPerf),
}

#[derive(Args, Debug)]
pub struct ProducePerf {
    #[command(flatten)]
    pub client: ClientArgs,
    #[arg(long, default_value = "weft-perf")]
    pub topic: String,
    /// Number of records to send.
    #[arg(long, alias = "num-records", default_value_t = 1_000_000)]
    pub records: u64,
    /// Size of each record's value in bytes.
    #[arg(long, default_value_t = 100)]
    pub record_size: usize,
    /// Records per second to aim for; -1 means as fast as possible.
    #[arg(long, default_value_t = -1, allow_hyphen_values = true)]
    pub throughput: i64,
    /// acks (--producer-props acks=... wins); default: -X acks if given, else all when the producer
    /// is idempotent or transactional (librdkafka refuses anything else there), else 1.
    #[arg(long)]
    pub acks: Option<String>,
    /// Producer properties, `key=value` (repeatable; applied last).
    #[arg(long = "producer-props", value_name = "KEY=VALUE", num_args = 1..)]
    pub producer_props: Vec<String>,
    /// Send in transactions under this transactional.id (kafka-producer-perf-test's option).
    #[arg(long)]
    pub transactional_id: Option<String>,
    /// Records per transaction with --transactional-id; commits/s and commit latency are reported.
    #[arg(long, default_value_t = 100, requires = "transactional_id")]
    pub transaction_records: u64,
}

#[derive(Args, Debug)]
pub struct ConsumePerf {
    #[command(flatten)]
    pub client: ClientArgs,
    #[arg(long, default_value = "weft-perf")]
    pub topic: String,
    /// Number of records to consume.
    #[arg(long, alias = "messages", default_value_t = 1_000_000)]
    pub records: u64,
    /// Consume as this group (subscribe) instead of assigning all partitions from the beginning.
    #[arg(long)]
    pub group: Option<String>,
    /// Give up when no record arrives for this long.
    #[arg(long, default_value_t = 10_000)]
    pub timeout_ms: u64,
    /// Consumer properties, `key=value` (repeatable; applied last).
    #[arg(long = "consumer-props", value_name = "KEY=VALUE", num_args = 1..)]
    pub consumer_props: Vec<String>,
}

pub fn run(args: PerfArgs) -> anyhow::Result<()> {
    match args.mode {
        PerfMode::Produce(p) => produce(p),
        PerfMode::Consume(c) => consume(c),
        PerfMode::EndToEnd(e) => super::perf_e2e::run(e),
    }
}

/// Latency per record, from its own send time to its own delivery report.
///
/// The producer is rdkafka's `ThreadedProducer`: its own thread polls continuously, so each
/// delivery report runs as soon as librdkafka has the broker's answer, not whenever the send loop
/// gets round to polling. Each record carries its send time as its opaque: a raw TSC reading
/// (`quanta`, a few nanoseconds, no system call), converted to nanoseconds only in the report, so
/// reading the clock per record costs the send loop almost nothing.
struct Latency {
    clock: quanta::Clock,
    histogram: Mutex<Histogram<u64>>,
    delivered: AtomicU64,
    failed: AtomicU64,
    first_error: Mutex<Option<String>>,
}

impl ClientContext for Latency {}

impl ProducerContext for Latency {
    /// The raw clock reading at send time (a u64 in a usize: 64-bit targets only, as librdkafka's
    /// opaque is a pointer).
    type DeliveryOpaque = usize;
    fn delivery(&self, result: &DeliveryResult<'_>, sent: usize) {
        match result {
            Ok(_) => {
                let now = self.clock.raw();
                let ns = self.clock.delta_as_nanos(sent as u64, now);
                let us = (ns / 1000).max(1);
                if let Ok(mut h) = self.histogram.lock() {
                    let _ = h.record(us);
                }
                self.delivered.fetch_add(1, Ordering::Relaxed);
            }
            Err((e, _)) => {
                self.failed.fetch_add(1, Ordering::Relaxed);
                if let Ok(mut f) = self.first_error.lock() {
                    f.get_or_insert_with(|| e.to_string());
                }
            }
        }
    }
}

fn progress(total: u64) -> ProgressBar {
    let bar = ProgressBar::new(total);
    if let Ok(style) = ProgressStyle::with_template(
        "{spinner} [{elapsed_precise}] {bar:40} {pos}/{len} records ({per_sec})",
    ) {
        bar.set_style(style);
    }
    bar
}

fn produce(args: ProducePerf) -> anyhow::Result<()> {
    if args.records == 0 {
        bail!("--records must be positive");
    }
    let mut cfg = args.client.config()?;
    cfg.set("batch.size", "1048576")
        .set("linger.ms", "5")
        .set("queue.buffering.max.messages", "2000000")
        .set("queue.buffering.max.kbytes", "2097151")
        .set("message.max.bytes", "1048576");
    // acks from -X or --command-config, which --acks overrides and --producer-props override in turn.
    let configured_acks = cfg.get("acks").map(str::to_string);
    let mut props_set_acks = false;
    for p in &args.producer_props {
        let (k, v) = parse_kv(p, "--producer-props")?;
        props_set_acks |= k == "acks";
        cfg.set(k, v);
    }
    if let Some(id) = &args.transactional_id {
        if args.transaction_records == 0 {
            bail!("--transaction-records must be positive");
        }
        cfg.set("transactional.id", id);
    }
    let idempotent = args.transactional_id.is_some()
        || cfg
            .get("enable.idempotence")
            .is_some_and(|v| v.eq_ignore_ascii_case("true"));
    if !props_set_acks {
        let acks = args
            .acks
            .clone()
            .or(configured_acks)
            .unwrap_or_else(|| if idempotent { "all" } else { "1" }.to_string());
        cfg.set("acks", acks);
    }
    let ctx = Latency {
        clock: quanta::Clock::new(),
        histogram: Mutex::new(Histogram::new_with_bounds(1, 60_000_000, 3).context("histogram")?),
        delivered: AtomicU64::new(0),
        failed: AtomicU64::new(0),
        first_error: Mutex::new(None),
    };
    let producer: ThreadedProducer<Latency> =
        cfg.create_with_context(ctx).context("creating producer")?;
    // Random printable payload, like the Java tool's default.
    let payload: Vec<u8> = (0..args.record_size)
        .map(|i| b'A' + ((i * 7 + 3) % 26) as u8)
        .collect();

    let mut txn = args
        .transactional_id
        .as_ref()
        .map(|_| Transactions::start(&producer, args.transaction_records))
        .transpose()?;

    let bar = progress(args.records);
    let start = Instant::now();
    let mut last_report = Instant::now();
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
        let sent = producer.context().clock.raw() as usize;
        let mut record =
            BaseRecord::<(), [u8], usize>::with_opaque_to(&args.topic, sent).payload(&payload[..]);
        loop {
            match producer.send(record) {
                Ok(()) => break,
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), mut r)) => {
                    // The record waits for room, so its latency starts when it is accepted.
                    r.delivery_opaque = producer.context().clock.raw() as usize;
                    record = r;
                    std::thread::sleep(Duration::from_micros(200));
                }
                Err((e, _)) => bail!("send failed: {e}"),
            }
        }
        if i % 1024 == 0 {
            bar.set_position(i);
            if last_report.elapsed() >= Duration::from_secs(5) {
                last_report = Instant::now();
                let d = producer.context().delivered.load(Ordering::Relaxed);
                bar.println(format!(
                    "{d} records delivered, {:.1} records/sec",
                    d as f64 / start.elapsed().as_secs_f64()
                ));
            }
        }
    }
    finish_sending(txn.as_mut(), &producer)?;
    let elapsed = start.elapsed().as_secs_f64();
    bar.finish_and_clear();
    let ctx = producer.context();
    let delivered = ctx.delivered.load(Ordering::Relaxed);
    let failed = ctx.failed.load(Ordering::Relaxed);
    let h = ctx
        .histogram
        .lock()
        .map_err(|_| anyhow::anyhow!("histogram lock poisoned"))?;
    let ms = |us: u64| us as f64 / 1000.0;
    println!(
        "{delivered} records sent, {:.1} records/sec ({:.2} MB/sec), {:.2} ms avg latency, {:.2} ms max latency, {:.2} ms 50th, {:.2} ms 95th, {:.2} ms 99th, {:.2} ms 99.9th.",
        delivered as f64 / elapsed,
        delivered as f64 * args.record_size as f64 / elapsed / 1_048_576.0,
        h.mean() / 1000.0,
        ms(h.max()),
        ms(h.value_at_quantile(0.50)),
        ms(h.value_at_quantile(0.95)),
        ms(h.value_at_quantile(0.99)),
        ms(h.value_at_quantile(0.999)),
    );
    if let Some(t) = &txn {
        t.report(elapsed);
    }
    if failed > 0 {
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

/// Transactions of `records` records each: begin before the first record of each, commit after
/// its last; each commit's duration goes into a histogram.
/// After the last send: commits the open transaction, if any, then waits (up to 120 s) for every
/// record's delivery report.
pub(super) fn finish_sending<C: ProducerContext>(
    txn: Option<&mut Transactions>,
    producer: &impl Producer<C>,
) -> anyhow::Result<()> {
    if let Some(t) = txn {
        t.finish(producer)?;
    }
    if let Err(e) = producer.flush(Duration::from_secs(120)) {
        bail!(
            "{} records still undelivered after 120 s: {e}",
            producer.in_flight_count()
        );
    }
    Ok(())
}

pub(super) struct Transactions {
    records: u64,
    open: bool,
    commits: u64,
    commit_us: Histogram<u64>,
}

impl Transactions {
    /// Registers the transactional id with the coordinator (InitProducerId).
    pub(super) fn start<C: ProducerContext>(
        producer: &impl Producer<C>,
        records: u64,
    ) -> anyhow::Result<Self> {
        producer
            .init_transactions(Duration::from_secs(30))
            .context("init_transactions")?;
        Ok(Transactions {
            records,
            open: false,
            commits: 0,
            commit_us: Histogram::new_with_bounds(1, 60_000_000, 3).context("histogram")?,
        })
    }

    /// Called before record `i` is sent: commits the full transaction and begins the next.
    pub(super) fn before_send<C: ProducerContext>(
        &mut self,
        producer: &impl Producer<C>,
        i: u64,
    ) -> anyhow::Result<()> {
        if i.is_multiple_of(self.records) {
            self.commit(producer)?;
            producer.begin_transaction().context("begin_transaction")?;
            self.open = true;
        }
        Ok(())
    }

    /// Commits the open transaction, if any.
    pub(super) fn finish<C: ProducerContext>(
        &mut self,
        producer: &impl Producer<C>,
    ) -> anyhow::Result<()> {
        self.commit(producer)
    }

    fn commit<C: ProducerContext>(&mut self, producer: &impl Producer<C>) -> anyhow::Result<()> {
        if !self.open {
            return Ok(());
        }
        let t = Instant::now();
        // rust-rdkafka's commit_transaction first flushes by polling the producer's queue for up to
        // 100 ms at a time; a ThreadedProducer's own thread takes the delivery reports off that
        // queue, so each such poll ran its full 100 ms and every commit took over 100 ms. Waiting
        // for the deliveries here leaves that flush nothing to wait for.
        let deadline = t + Duration::from_secs(60);
        while producer.in_flight_count() > 0 {
            if Instant::now() > deadline {
                bail!(
                    "{} records still undelivered after 60 s",
                    producer.in_flight_count()
                );
            }
            std::thread::sleep(Duration::from_micros(50));
        }
        producer
            .commit_transaction(Duration::from_secs(60))
            .context("commit_transaction")?;
        let us = (t.elapsed().as_micros() as u64).max(1);
        let _ = self.commit_us.record(us);
        self.commits += 1;
        self.open = false;
        Ok(())
    }

    pub(super) fn report(&self, elapsed_s: f64) {
        let h = &self.commit_us;
        let ms = |us: u64| us as f64 / 1000.0;
        println!(
            "{} transactions of {} records committed, {:.1} commits/sec, commit {:.2} ms avg, {:.2} ms 50th, {:.2} ms 99th, {:.2} ms max.",
            self.commits,
            self.records,
            self.commits as f64 / elapsed_s.max(1e-9),
            h.mean() / 1000.0,
            ms(h.value_at_quantile(0.50)),
            ms(h.value_at_quantile(0.99)),
            ms(h.max()),
        );
    }
}

fn consume(args: ConsumePerf) -> anyhow::Result<()> {
    let mut cfg = args.client.config()?;
    cfg.set(
        "group.id",
        args.group.as_deref().unwrap_or("weft-perf-consumer"),
    )
    .set(
        "enable.auto.commit",
        if args.group.is_some() {
            "true"
        } else {
            "false"
        },
    )
    // With a group, offsets are stored only for records counted here (see `weft consume`).
    .set("enable.auto.offset.store", "false")
    .set("auto.offset.reset", "earliest")
    .set("fetch.max.bytes", "52428800")
    .set("max.partition.fetch.bytes", "4194304")
    .set("queued.min.messages", "1000000")
    // Past queued.min.messages librdkafka otherwise pauses fetching for a whole second.
    .set("fetch.queue.backoff.ms", "10");
    for p in &args.consumer_props {
        let (k, v) = parse_kv(p, "--consumer-props")?;
        cfg.set(k, v);
    }
    let consumer: BaseConsumer = cfg.create().context("creating consumer")?;
    if args.group.is_some() {
        consumer.subscribe(&[&args.topic])?;
    } else {
        let md = consumer.fetch_metadata(Some(&args.topic), Duration::from_secs(30))?;
        let t = md.topics().first().context("no metadata for topic")?;
        if let Some(e) = t.error() {
            bail!(
                "topic {}: {}",
                args.topic,
                rdkafka::types::RDKafkaErrorCode::from(e)
            );
        }
        let mut tpl = TopicPartitionList::new();
        for p in t.partitions() {
            tpl.add_partition_offset(&args.topic, p.id(), Offset::Beginning)?;
        }
        consumer.assign(&tpl)?;
    }
    let bar = progress(args.records);
    let mut count = 0u64;
    let mut bytes = 0u64;
    let mut first: Option<Instant> = None;
    // Idle time is measured only while polls come back empty: reading the clock per record was the
    // largest single cost of this loop.
    let mut idle_since: Option<Instant> = None;
    while count < args.records {
        match consumer.poll(Duration::from_millis(100)) {
            Some(Ok(m)) => {
                first.get_or_insert_with(Instant::now);
                count += 1;
                bytes += m.payload_len() as u64 + m.key().map(|k| k.len()).unwrap_or(0) as u64;
                idle_since = None;
                if args.group.is_some() {
                    consumer.store_offset_from_message(&m)?;
                }
                if count.is_multiple_of(4096) {
                    bar.set_position(count);
                }
            }
            Some(Err(e)) => eprintln!("consume error: {e}"),
            None => {
                let since = *idle_since.get_or_insert_with(Instant::now);
                if since.elapsed() > Duration::from_millis(args.timeout_ms) {
                    bar.finish_and_clear();
                    bail!(
                        "no record for {} ms after {count} of {} records",
                        args.timeout_ms,
                        args.records
                    );
                }
            }
        }
    }
    bar.finish_and_clear();
    let elapsed = first
        .map(|f| f.elapsed().as_secs_f64())
        .unwrap_or(0.0)
        .max(1e-9);
    let mb = bytes as f64 / 1_048_576.0;
    println!("data.consumed.in.MB, MB.sec, data.consumed.in.nMsg, nMsg.sec");
    println!(
        "{mb:.4}, {:.4}, {count}, {:.1}",
        mb / elapsed,
        count as f64 / elapsed
    );
    println!(
        "{count} records consumed, {:.1} records/sec ({:.2} MB/sec)",
        count as f64 / elapsed,
        mb / elapsed
    );
    Ok(())
}
