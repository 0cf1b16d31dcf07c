//! Batch passthrough in the source task: Kafka batch entries a connector returns (the mirror's
//! remote record batches under `batch.passthrough.enabled`) are appended to the cluster as they
//! are, compression included, through weft-wire's appender, when nothing between the connector
//! and the cluster needs to look inside them: no transforms, ByteArrayConverter for keys and
//! values, headers passed through, no transactions. Otherwise each entry is expanded into its
//! records first and they go the usual way, so an entry is never written as a record.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use weft_batch::BatchWriter;
use weft_log::batch::BatchHeader;
use weft_log::record::{DecodeLimits, RecordStream};
use weft_wire::{AppendSettings, BatchAppender, WireConfig, WireError};

use super::acks::Acks;
use super::batch::Batch;
use super::component::Position;
use super::{lock, worker_failure};
use crate::config::{ConnectorSpec, PluginRef, WorkerConfig, PASSTHROUGH_HEADER_CONVERTER};
use crate::errors::{Stage, TaskFailure};

/// The converter that leaves record bytes as they are.
const BYTES_CONVERTER: &str = "bytearray-converter";
/// How the task's failure names the appender.
pub const APPENDER_CLASS: &str = "weft.wire.BatchAppender";
/// The largest record a batch being expanded may hold (Kafka's default `message.max.bytes` is
/// about 1 MiB; the decode limits never go below 1 MiB either).
const EXPANDED_RECORD_MAX: u32 = 8 << 20;

/// Whether entries can be appended as they are: the stages between connector and cluster would
/// leave every record byte unchanged. The reason when not, for the log.
pub fn appendable(
    spec: &ConnectorSpec,
    worker: &WorkerConfig,
    no_transforms: bool,
) -> Result<(), &'static str> {
    let converter =
        |own: &Option<PluginRef>, worker: &PluginRef| own.as_ref().unwrap_or(worker).plugin.clone();
    if !no_transforms {
        return Err("transforms must see each record");
    }
    if spec.exactly_once.is_some() {
        return Err("exactly-once mode writes through the transactional producer");
    }
    if converter(&spec.key_converter, &worker.key_converter) != BYTES_CONVERTER
        || converter(&spec.value_converter, &worker.value_converter) != BYTES_CONVERTER
    {
        return Err("a converter other than ByteArrayConverter must see each record");
    }
    if converter(&spec.header_converter, &worker.header_converter) != PASSTHROUGH_HEADER_CONVERTER {
        return Err("a header converter must see each record's headers");
    }
    Ok(())
}

/// What the appender's deliveries report back to the task.
#[derive(Default)]
pub struct Outcome {
    /// The first delivery error under `errors.tolerance=none`: fails the task.
    pub failure: Mutex<Option<String>>,
    /// Batches given up under `errors.tolerance=all`.
    pub errors: AtomicU64,
    /// Records the cluster acknowledged.
    pub produced: AtomicU64,
}

/// The task's appender, made at the first entry it appends.
pub struct Appender {
    wire: BatchAppender,
    outcome: Arc<Outcome>,
    tolerate_all: bool,
    connector: String,
}

/// One entry to append: where its batch lies in the poll's buffer, and where it goes.
pub struct Entry {
    pub range: std::ops::Range<usize>,
    pub topic: Arc<str>,
    pub partition: i32,
    pub tag: usize,
    pub records: u32,
}

impl Appender {
    /// An appender for the cluster the task's producer writes to (`producer` is that
    /// producer's settings: the bootstrap servers, `client.id`, `request.timeout.ms`, and
    /// security settings, which must be PLAINTEXT).
    pub fn start(
        producer: &[(String, String)],
        connector: &str,
        tolerate_all: bool,
    ) -> Result<Appender, TaskFailure> {
        let config = WireConfig::from_properties(producer, &format!("connector-{connector}"))
            .map_err(|e| {
                TaskFailure::new(
                    Some(Stage::KafkaProduce),
                    APPENDER_CLASS,
                    format!(
                        "batch passthrough cannot write to this cluster: {e} (turn \
                         batch.passthrough.enabled off for it)"
                    ),
                )
            })?;
        let wire = BatchAppender::start(config, AppendSettings::default())
            .map_err(|e| worker_failure(format!("cannot start the batch appender: {e}")))?;
        Ok(Appender {
            wire,
            outcome: Arc::new(Outcome::default()),
            tolerate_all,
            connector: connector.to_string(),
        })
    }

    pub fn outcome(&self) -> &Outcome {
        &self.outcome
    }

    /// Queues `entry` (its batch a slice of `buffer`, copied once by the appender with its header
    /// restamped); the delivery marks the entry done in `acks_of`, with where its last record
    /// landed. Blocks while the appender is full. A batch the appender refuses fails the task, or
    /// under `errors.tolerance=all` is skipped and counted.
    pub fn append(
        &self,
        buffer: &Bytes,
        entry: Entry,
        acks_of: &Arc<Mutex<Acks>>,
    ) -> Result<(), TaskFailure> {
        let batch = buffer.slice(entry.range.clone());
        let (acks, outcome) = (acks_of.clone(), self.outcome.clone());
        let (tolerate_all, connector) = (self.tolerate_all, self.connector.clone());
        let Entry {
            topic,
            partition,
            tag,
            records,
            ..
        } = entry;
        let done_topic = topic.clone();
        let done = Box::new(
            move |result: Result<i64, weft_wire::WireError>| match result {
                Ok(base) => {
                    outcome
                        .produced
                        .fetch_add(u64::from(records), Ordering::Relaxed);
                    let last = base + i64::from(records) - 1;
                    lock(&acks).done_tag_at(tag, Some((&done_topic, partition, last)));
                }
                Err(e) => {
                    tracing::error!(connector = %connector, topic = %done_topic, partition,
                    error = %e, "the cluster did not take a record batch");
                    if tolerate_all {
                        outcome.errors.fetch_add(1, Ordering::Relaxed);
                        lock(&acks).done_tag(tag);
                    } else {
                        let mut f = lock(&outcome.failure);
                        if f.is_none() {
                            *f = Some(format!(
                                "appending a record batch to {done_topic}-{partition} failed: {e}"
                            ));
                        }
                    }
                }
            },
        );
        // The appender refuses a batch that is not one whole intact batch of consecutive offsets
        // (it checks the CRC before it rewrites it), so a damaged one is never sealed as valid.
        match self.wire.send(&topic, partition, batch, done) {
            Ok(()) => Ok(()),
            Err(WireError::Stopped) => Err(worker_failure("the batch appender stopped")),
            Err(e) if self.tolerate_all => {
                tracing::error!(connector = %self.connector, topic = %topic, partition,
                    error = %e, "a record batch cannot be appended; skipped");
                self.outcome.errors.fetch_add(1, Ordering::Relaxed);
                lock(acks_of).done_tag(tag);
                Ok(())
            }
            Err(e) => Err(TaskFailure::new(
                Some(Stage::KafkaProduce),
                APPENDER_CLASS,
                format!("a record batch for {topic}-{partition} cannot be appended: {e}"),
            )),
        }
    }

    /// Waits for every queued batch's delivery, at most `timeout`; false if some remain.
    pub fn flush(&self, timeout: Duration) -> bool {
        self.wire.flush(timeout)
    }

    /// The first delivery error under `errors.tolerance=none`, as the task's failure.
    pub fn failure(&self) -> Result<(), TaskFailure> {
        match lock(&self.outcome.failure).take() {
            Some(m) => Err(TaskFailure::new(
                Some(Stage::KafkaProduce),
                APPENDER_CLASS,
                m,
            )),
            None => Ok(()),
        }
    }
}

/// Replaces each Kafka batch entry of `records` by the records its batch holds (topic,
/// partition, offset, timestamp, key, value, headers), and moves each position's
/// `after-records` to count records instead of entries.
pub fn expand(records: &Batch, positions: &mut [Position]) -> Result<Batch, TaskFailure> {
    let reader = records.reader()?;
    let mut w = BatchWriter::with_capacity(records.bytes().len() + records.bytes().len() / 4);
    // `ends[i]`: records written after entry i.
    let mut ends = Vec::with_capacity(records.len());
    for view in reader.records() {
        let view = view.map_err(|e| worker_failure(format!("a packed batch is malformed: {e}")))?;
        match view.kafka_batch() {
            None => w
                .push_view(&view)
                .map_err(|e| worker_failure(format!("cannot pack records: {e}")))?,
            Some(batch) => unpack(&mut w, view.topic, view.partition.unwrap_or(-1), batch)?,
        }
        ends.push(w.len() as u32);
    }
    for p in positions.iter_mut() {
        p.after_records = match p.after_records {
            0 => 0,
            n => ends
                .get(n as usize - 1)
                .or(ends.last())
                .copied()
                .unwrap_or(0),
        };
    }
    Batch::finish(w)
}

/// Appends the records of one Kafka batch to `w`.
fn unpack(
    w: &mut BatchWriter,
    topic: &str,
    partition: i32,
    batch: &[u8],
) -> Result<(), TaskFailure> {
    let corrupt = |e: weft_log::LogError| {
        TaskFailure::new(
            Some(Stage::TaskPoll),
            APPENDER_CLASS,
            format!("a record batch for {topic}-{partition} cannot be read: {e}"),
        )
    };
    let h = BatchHeader::parse(batch).map_err(corrupt)?;
    let mut stream =
        RecordStream::open(batch, &h, DecodeLimits::for_batch(&h, EXPANDED_RECORD_MAX))
            .map_err(corrupt)?;
    while let Some(r) = stream.next_record().map_err(corrupt)? {
        let mut headers: Vec<(&str, Option<&[u8]>)> = Vec::new();
        for pair in r.header_pairs() {
            let (k, v) = pair.map_err(corrupt)?;
            // Kafka's header keys are strings; a key that is not UTF-8 cannot be a Connect
            // header, as on the record path (librdkafka's consumer side) where it is dropped.
            if let Ok(k) = std::str::from_utf8(k) {
                headers.push((k, v));
            }
        }
        w.push(
            topic,
            Some(partition),
            Some(r.timestamp(&h)),
            Some(r.offset(&h)),
            r.key,
            r.value,
            headers.iter().copied(),
        )
        .map_err(|e| worker_failure(format!("cannot pack records: {e}")))?;
    }
    Ok(())
}
