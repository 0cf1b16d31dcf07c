//! The broker's Prometheus metrics. Request-path figures are atomics bumped where the work happens
//! (pre-registered per API and version, no lookup, allocation or formatting per request);
//! everything the broker already knows — log offsets and sizes, group state, committed offsets
//! and lag — is read by [`BrokerCollector`] only when Prometheus scrapes.
//!
//! Cardinality: per-partition series (log start/end offset and size per partition, committed
//! offset and lag per group and partition) stop at `metrics.partition.series.max` (10,000 by
//! default) per scrape; what is left out is counted in `weft_metrics_partition_series_omitted`,
//! and the per-topic and per-group totals are always reported.

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, LazyLock, Weak};
use std::time::{Duration, Instant};

use kafka_protocol::messages::{ApiKey, ResponseKind};
use weft_metrics::prometheus::core::{Collector, Desc};
use weft_metrics::prometheus::proto::MetricFamily;
use weft_metrics::prometheus::{Histogram, HistogramOpts, IntCounterVec, Opts};
use weft_metrics::{Check, FamilyBuilder};

use crate::server::Broker;

/// Latency buckets in seconds: 50 µs to 30 s (a long-polling fetch waits up to max.wait.ms).
const LATENCY_BUCKETS: &[f64] = &[
    0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0,
    2.5, 5.0, 10.0, 30.0,
];

/// Flush latency buckets in seconds.
const FLUSH_BUCKETS: &[f64] = &[
    0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0,
];

/// One API's request figures: a histogram per version, requests in flight.
struct ApiRequests {
    name: String,
    min_version: i16,
    latency: Vec<Histogram>,
    in_flight: AtomicI64,
}

/// Request figures for every supported API, indexed by API key.
pub struct Requests {
    by_key: Vec<Option<ApiRequests>>,
    errors: IntCounterVec,
}

/// The process's request figures.
pub static REQUESTS: LazyLock<Requests> = LazyLock::new(Requests::new);

impl Requests {
    fn new() -> Requests {
        let max_key = crate::handlers::SUPPORTED
            .iter()
            .map(|k| *k as i16)
            .max()
            .unwrap_or(0);
        let mut by_key: Vec<Option<ApiRequests>> =
            (0..=max_key.max(0) as usize).map(|_| None).collect();
        for key in crate::handlers::SUPPORTED {
            let range = crate::handlers::version_range(*key);
            let name = format!("{key:?}");
            let latency = (range.min..=range.max)
                .filter_map(|v| {
                    let opts = HistogramOpts::new(
                        "weft_request_duration_seconds",
                        "Time from a request's arrival to its response being queued, by API and version (its _count is the request count).",
                    )
                    .const_label("api", name.clone())
                    .const_label("version", v.to_string())
                    .buckets(LATENCY_BUCKETS.to_vec());
                    Histogram::with_opts(opts).ok()
                })
                .collect();
            if let Some(slot) = by_key.get_mut(*key as i16 as usize) {
                *slot = Some(ApiRequests {
                    name,
                    min_version: range.min,
                    latency,
                    in_flight: AtomicI64::new(0),
                });
            }
        }
        let errors = IntCounterVec::new(
            Opts::new(
                "weft_request_errors_total",
                "Error codes answered, by API and Kafka error code (per partition where the API answers per partition).",
            ),
            &["api", "code"],
        )
        // Fixed, valid name and labels: the library refuses only invalid ones.
        .expect("valid metric options");
        Requests { by_key, errors }
    }

    fn api(&self, key: ApiKey) -> Option<&ApiRequests> {
        self.by_key.get(key as i16 as usize)?.as_ref()
    }

    /// A request of `key` started; pair with [`Requests::finished`].
    pub fn started(&self, key: ApiKey) {
        if let Some(a) = self.api(key) {
            a.in_flight.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// A request of `key` at `version` took `elapsed`.
    pub fn finished(&self, key: ApiKey, version: i16, elapsed: Duration) {
        if let Some(a) = self.api(key) {
            a.in_flight.fetch_sub(1, Ordering::Relaxed);
            if let Some(h) = usize::try_from(version - a.min_version)
                .ok()
                .and_then(|i| a.latency.get(i))
            {
                h.observe(elapsed.as_secs_f64());
            }
        }
    }

    /// Counts one answered error code (0 is not an error and is not counted).
    pub fn error(&self, key: ApiKey, code: i16) {
        if code == 0 {
            return;
        }
        if let Some(a) = self.api(key) {
            self.errors
                .with_label_values(&[a.name.as_str(), code.to_string().as_str()])
                .inc();
        }
    }

    /// Counts the error codes in a response.
    pub fn errors_in(&self, key: ApiKey, response: &ResponseKind) {
        let e = |c: i16| {
            if c != 0 {
                self.error(key, c)
            }
        };
        match response {
            ResponseKind::Produce(r) => r
                .responses
                .iter()
                .flat_map(|t| t.partition_responses.iter())
                .for_each(|p| e(p.error_code)),
            ResponseKind::ListOffsets(r) => r
                .topics
                .iter()
                .flat_map(|t| t.partitions.iter())
                .for_each(|p| e(p.error_code)),
            ResponseKind::Metadata(r) => r.topics.iter().for_each(|t| e(t.error_code)),
            ResponseKind::OffsetCommit(r) => r
                .topics
                .iter()
                .flat_map(|t| t.partitions.iter())
                .for_each(|p| e(p.error_code)),
            ResponseKind::OffsetFetch(r) => e(r.error_code),
            ResponseKind::FindCoordinator(r) => e(r.error_code),
            ResponseKind::JoinGroup(r) => e(r.error_code),
            ResponseKind::SyncGroup(r) => e(r.error_code),
            ResponseKind::Heartbeat(r) => e(r.error_code),
            ResponseKind::LeaveGroup(r) => e(r.error_code),
            ResponseKind::InitProducerId(r) => e(r.error_code),
            ResponseKind::CreateTopics(r) => r.topics.iter().for_each(|t| e(t.error_code)),
            ResponseKind::DeleteTopics(r) => r.responses.iter().for_each(|t| e(t.error_code)),
            _ => {}
        }
    }

    /// Counts the error codes in a Fetch response (top level and per partition).
    pub fn fetch_errors(&self, r: &kafka_protocol::messages::FetchResponse) {
        if r.error_code != 0 {
            self.error(ApiKey::Fetch, r.error_code);
        }
        r.responses
            .iter()
            .flat_map(|t| t.partitions.iter())
            .filter(|p| p.error_code != 0)
            .for_each(|p| self.error(ApiKey::Fetch, p.error_code));
    }

    fn collect_into(&self, out: &mut Vec<MetricFamily>) {
        let mut latency = FamilyBuilder::histograms(
            "weft_request_duration_seconds",
            "Time from a request's arrival to its response being queued, by API and version (its _count is the request count).",
        );
        let mut in_flight = FamilyBuilder::gauge(
            "weft_requests_in_flight",
            "Requests being handled now (a long-polling Fetch or a Produce waiting for the log counts here), by API.",
        );
        for a in self.by_key.iter().flatten() {
            for h in &a.latency {
                if h.get_sample_count() > 0 {
                    latency.histogram(h);
                }
            }
            in_flight.add(
                &[("api", a.name.as_str())],
                a.in_flight.load(Ordering::Relaxed) as f64,
            );
        }
        latency.push_to(out);
        in_flight.push_to(out);
        out.extend(self.errors.collect());
    }
}

/// Rebalances started, by reason (the coordinator's fixed reason texts: "member joined",
/// "member left", "member session expired", ...).
pub static REBALANCES: LazyLock<IntCounterVec> = LazyLock::new(|| {
    IntCounterVec::new(
        Opts::new(
            "weft_group_rebalances_total",
            "Consumer group rebalances started, by reason.",
        ),
        &["reason"],
    )
    // Fixed, valid name and label: the library refuses only invalid ones.
    .expect("valid metric options")
});

/// Times one request from its frame to its outcome, by the API and version in the frame's first
/// bytes (unsupported pairs are not timed).
pub struct RequestTimer {
    api: Option<(ApiKey, i16)>,
    started: Instant,
}

impl RequestTimer {
    pub fn start(frame: &[u8]) -> RequestTimer {
        let api = match frame {
            [k0, k1, v0, v1, ..] => ApiKey::try_from(i16::from_be_bytes([*k0, *k1]))
                .ok()
                .map(|k| (k, i16::from_be_bytes([*v0, *v1]))),
            _ => None,
        };
        if let Some((k, _)) = api {
            REQUESTS.started(k);
        }
        RequestTimer {
            api,
            started: Instant::now(),
        }
    }

    pub fn finish(self) {
        if let Some((k, v)) = self.api {
            REQUESTS.finished(k, v, self.started.elapsed());
        }
    }
}

/// Why a connection ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseReason {
    /// The client closed it.
    Client,
    /// A read or write failed (reset, broken pipe).
    Io,
    /// A malformed frame or request.
    Malformed,
    /// The broker is shutting down.
    Shutdown,
    /// A request for an API or version this broker does not serve (Kafka closes these too).
    UnsupportedVersion,
    /// Nothing was read or written for `connections.max.idle.ms`.
    Idle,
}

impl CloseReason {
    const ALL: [CloseReason; 6] = [
        CloseReason::Client,
        CloseReason::Io,
        CloseReason::Malformed,
        CloseReason::Shutdown,
        CloseReason::UnsupportedVersion,
        CloseReason::Idle,
    ];

    fn name(self) -> &'static str {
        match self {
            CloseReason::Client => "client",
            CloseReason::Io => "io_error",
            CloseReason::Malformed => "malformed_request",
            CloseReason::Shutdown => "shutdown",
            CloseReason::UnsupportedVersion => "unsupported_version",
            CloseReason::Idle => "idle",
        }
    }
}

/// Connection counters.
#[derive(Default)]
pub struct Connections {
    accepted: AtomicU64,
    /// One per [`CloseReason`], indexed by its discriminant.
    closed: [AtomicU64; CloseReason::ALL.len()],
}

/// The process's connection counters.
pub static CONNECTIONS: Connections = Connections {
    accepted: AtomicU64::new(0),
    closed: [const { AtomicU64::new(0) }; CloseReason::ALL.len()],
};

impl Connections {
    /// Counts an accepted connection; returns its number (an id for its log lines).
    pub fn accepted(&self) -> u64 {
        self.accepted.fetch_add(1, Ordering::Relaxed) + 1
    }

    pub fn closed(&self, reason: CloseReason) {
        self.closed[reason as usize].fetch_add(1, Ordering::Relaxed);
    }

    fn collect_into(&self, out: &mut Vec<MetricFamily>) {
        let accepted = self.accepted.load(Ordering::Relaxed);
        let mut closed_total = 0;
        let mut closed = FamilyBuilder::counter(
            "weft_connections_closed_total",
            "Client connections closed, by reason.",
        );
        for r in CloseReason::ALL {
            let n = self.closed[r as usize].load(Ordering::Relaxed);
            closed_total += n;
            closed.add(&[("reason", r.name())], n as f64);
        }
        let mut f = FamilyBuilder::counter(
            "weft_connections_accepted_total",
            "Client connections accepted.",
        );
        f.add(&[], accepted as f64);
        f.push_to(out);
        closed.push_to(out);
        let mut f = FamilyBuilder::gauge("weft_connections_open", "Client connections open now.");
        f.add(&[], accepted.saturating_sub(closed_total) as f64);
        f.push_to(out);
    }
}

/// Fetch requests parked in long poll now.
static FETCHES_WAITING: AtomicI64 = AtomicI64::new(0);

/// Counts one Fetch as parked in long poll while it lives (dropped also when the request is
/// cancelled, so the gauge cannot drift).
pub struct FetchWaiting(());

impl FetchWaiting {
    pub fn start() -> FetchWaiting {
        FETCHES_WAITING.fetch_add(1, Ordering::Relaxed);
        FetchWaiting(())
    }
}

impl Drop for FetchWaiting {
    fn drop(&mut self) {
        FETCHES_WAITING.fetch_sub(1, Ordering::Relaxed);
    }
}

fn collect_fetch_waiting(out: &mut Vec<MetricFamily>) {
    let mut f = FamilyBuilder::gauge(
        "weft_fetch_requests_waiting",
        "Fetch requests parked in long poll, waiting for min.bytes or max.wait.ms.",
    );
    f.add(&[], FETCHES_WAITING.load(Ordering::Relaxed).max(0) as f64);
    f.push_to(out);
}

/// Storage counters: rolls, flushes, retention, compaction, storage errors.
pub struct Storage {
    pub segment_rolls: AtomicU64,
    pub flush_seconds: Histogram,
    pub retention_runs: AtomicU64,
    pub retention_deleted_segments: AtomicU64,
    pub retention_deleted_bytes: AtomicU64,
    pub compaction_runs: AtomicU64,
    pub compaction_reclaimed_bytes: AtomicU64,
    pub storage_errors: AtomicU64,
}

/// The process's storage counters.
pub static STORAGE: LazyLock<Storage> = LazyLock::new(|| Storage {
    segment_rolls: AtomicU64::new(0),
    flush_seconds: Histogram::with_opts(
        HistogramOpts::new(
            "weft_log_flush_duration_seconds",
            "Time of a flush (fsync) of a partition's log.",
        )
        .buckets(FLUSH_BUCKETS.to_vec()),
    )
    // Fixed, valid name and buckets: the library refuses only invalid ones.
    .expect("valid metric options"),
    retention_runs: AtomicU64::new(0),
    retention_deleted_segments: AtomicU64::new(0),
    retention_deleted_bytes: AtomicU64::new(0),
    compaction_runs: AtomicU64::new(0),
    compaction_reclaimed_bytes: AtomicU64::new(0),
    storage_errors: AtomicU64::new(0),
});

impl Storage {
    /// Counts a retention pass that deleted something.
    pub fn retention(&self, r: &weft_log::RetentionReport) {
        if r.deleted_segments > 0 {
            self.retention_runs.fetch_add(1, Ordering::Relaxed);
            self.retention_deleted_segments
                .fetch_add(r.deleted_segments as u64, Ordering::Relaxed);
            self.retention_deleted_bytes
                .fetch_add(r.deleted_bytes, Ordering::Relaxed);
        }
    }

    /// Counts a compaction pass that rewrote segments.
    pub fn compaction(&self, r: &weft_log::CompactionReport) {
        if r.segments_rewritten > 0 && !r.aborted {
            self.compaction_runs.fetch_add(1, Ordering::Relaxed);
            self.compaction_reclaimed_bytes.fetch_add(
                r.bytes_before.saturating_sub(r.bytes_after),
                Ordering::Relaxed,
            );
        }
    }

    fn collect_into(&self, out: &mut Vec<MetricFamily>) {
        let c = |name: &str, help: &str, v: &AtomicU64, out: &mut Vec<MetricFamily>| {
            let mut f = FamilyBuilder::counter(name, help);
            f.add(&[], v.load(Ordering::Relaxed) as f64);
            f.push_to(out);
        };
        c(
            "weft_log_segment_rolls_total",
            "Segments rolled (a new active segment started).",
            &self.segment_rolls,
            out,
        );
        c(
            "weft_log_retention_runs_total",
            "Retention passes over a partition that deleted something.",
            &self.retention_runs,
            out,
        );
        c(
            "weft_log_retention_deleted_segments_total",
            "Segments deleted by retention.",
            &self.retention_deleted_segments,
            out,
        );
        c(
            "weft_log_retention_reclaimed_bytes_total",
            "Bytes of segments deleted by retention.",
            &self.retention_deleted_bytes,
            out,
        );
        c(
            "weft_log_compaction_runs_total",
            "Compaction passes that rewrote segments.",
            &self.compaction_runs,
            out,
        );
        c(
            "weft_log_compaction_reclaimed_bytes_total",
            "Bytes removed by compaction (size before minus after).",
            &self.compaction_reclaimed_bytes,
            out,
        );
        c(
            "weft_storage_errors_total",
            "I/O errors on a log (write, fsync, read) that took a log directory offline.",
            &self.storage_errors,
            out,
        );
        out.extend(self.flush_seconds.collect());
    }
}

/// One partition's traffic, bumped on the append and read paths.
#[derive(Debug, Default)]
pub struct PartitionStats {
    pub bytes_in: AtomicU64,
    pub records_in: AtomicU64,
    pub bytes_out: AtomicU64,
    pub records_out: AtomicU64,
    /// Last size read for a scrape (when the log was busy, the scrape reports this).
    pub size: AtomicU64,
}

impl PartitionStats {
    pub fn appended(&self, bytes: usize, records: u64) {
        self.bytes_in.fetch_add(bytes as u64, Ordering::Relaxed);
        self.records_in.fetch_add(records, Ordering::Relaxed);
    }

    /// Counts whole stored batches read out (their record counts from the batch headers).
    pub fn read(&self, batches: &[u8]) {
        self.bytes_out
            .fetch_add(batches.len() as u64, Ordering::Relaxed);
        self.records_out
            .fetch_add(records_in_batches(batches), Ordering::Relaxed);
    }

    /// Counts batches sent from a file region; records are counted by the offsets they span, which
    /// is exact unless compaction removed records from them.
    pub fn read_region(&self, bytes: usize, offset_span: u64) {
        self.bytes_out.fetch_add(bytes as u64, Ordering::Relaxed);
        self.records_out.fetch_add(offset_span, Ordering::Relaxed);
    }
}

/// Sum of the record counts of the whole v2 batches in `bytes` (baseOffset i64, length i32 ...
/// recordCount i32 at byte 57); a truncated tail is not counted.
fn records_in_batches(mut bytes: &[u8]) -> u64 {
    let mut n = 0u64;
    while bytes.len() >= 61 {
        let len = i32::from_be_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]);
        let count = i32::from_be_bytes([bytes[57], bytes[58], bytes[59], bytes[60]]);
        let Ok(len) = usize::try_from(len) else { break };
        let Some(rest) = bytes.get(12 + len..) else {
            break;
        };
        n += u64::try_from(count).unwrap_or(0);
        bytes = rest;
    }
    n
}

/// Reads the broker's state at scrape time.
pub struct BrokerCollector {
    broker: Weak<Broker>,
}

/// Registers the broker's collector and its health checks with the process's exporter.
pub fn install(broker: &Arc<Broker>) {
    let e = weft_metrics::global();
    e.register(
        "broker",
        Arc::new(BrokerCollector {
            broker: Arc::downgrade(broker),
        }),
    );
    let weak = Arc::downgrade(broker);
    e.register_check("broker", move || match weak.upgrade() {
        Some(b) if !b.is_shutting_down() => Check::ok("serving"),
        Some(_) => Check::failing("shutting down"),
        None => Check::failing("stopped"),
    });
    let weak = Arc::downgrade(broker);
    e.register_check("log_dirs", move || match weak.upgrade() {
        Some(b) => {
            let dirs = b.topics.log_dirs();
            let offline: Vec<String> = dirs
                .iter()
                .filter(|d| d.is_offline())
                .map(|d| d.path().display().to_string())
                .collect();
            if offline.is_empty() {
                Check::ok(format!("{} of {} online", dirs.len(), dirs.len()))
            } else {
                Check::failing(format!("offline: {}", offline.join(", ")))
            }
        }
        None => Check::failing("broker stopped"),
    });
}

impl Collector for BrokerCollector {
    fn desc(&self) -> Vec<&Desc> {
        Vec::new()
    }

    fn collect(&self) -> Vec<MetricFamily> {
        let mut out = Vec::new();
        REQUESTS.collect_into(&mut out);
        out.extend(REBALANCES.collect());
        CONNECTIONS.collect_into(&mut out);
        STORAGE.collect_into(&mut out);
        collect_fetch_waiting(&mut out);
        if let Some(b) = self.broker.upgrade() {
            collect_broker(&b, &mut out);
        }
        out
    }
}

fn collect_broker(b: &Broker, out: &mut Vec<MetricFamily>) {
    let mut budget = b.config.metrics_partition_series_max;
    let mut omitted = 0u64;

    let mut bytes_in = FamilyBuilder::counter(
        "weft_topic_bytes_in_total",
        "Bytes of record batches appended, by topic.",
    );
    let mut records_in =
        FamilyBuilder::counter("weft_topic_records_in_total", "Records appended, by topic.");
    let mut bytes_out = FamilyBuilder::counter(
        "weft_topic_bytes_out_total",
        "Bytes of record batches read out of the log (fetches), by topic.",
    );
    let mut records_out = FamilyBuilder::counter(
        "weft_topic_records_out_total",
        "Records in the batches read out of the log, by topic (a batch sent from the file counts the offsets it spans, more than its records if compaction thinned it).",
    );
    let mut partitions = FamilyBuilder::gauge("weft_topic_partitions", "Partitions, by topic.");
    let mut start = FamilyBuilder::gauge(
        "weft_partition_log_start_offset",
        "Log start offset, by partition.",
    );
    let mut end = FamilyBuilder::gauge(
        "weft_partition_log_end_offset",
        "Log end offset (the high watermark on one node), by partition.",
    );
    let mut size = FamilyBuilder::gauge(
        "weft_partition_size_bytes",
        "Bytes of the partition's segment files.",
    );
    let mut queued = 0u64;
    let mut topics = b.topics.list();
    topics.sort_by(|a, b| a.name.cmp(&b.name));
    for t in &topics {
        let name: &str = &t.name;
        let (mut bi, mut ri, mut bo, mut ro) = (0u64, 0u64, 0u64, 0u64);
        for p in &t.partitions {
            let s = p.stats();
            bi += s.bytes_in.load(Ordering::Relaxed);
            ri += s.records_in.load(Ordering::Relaxed);
            bo += s.bytes_out.load(Ordering::Relaxed);
            ro += s.records_out.load(Ordering::Relaxed);
            queued += p.queued_appends() as u64;
            if budget == 0 {
                omitted += 1;
                continue;
            }
            let Ok((s_off, e_off)) = p.offsets() else {
                continue;
            };
            budget -= 1;
            let idx = p.index.to_string();
            let l = [("topic", name), ("partition", idx.as_str())];
            start.add(&l, s_off as f64);
            end.add(&l, e_off as f64);
            size.add(&l, p.size_bytes() as f64);
        }
        let l = [("topic", name)];
        bytes_in.add(&l, bi as f64);
        records_in.add(&l, ri as f64);
        bytes_out.add(&l, bo as f64);
        records_out.add(&l, ro as f64);
        partitions.add(&l, t.partitions.len() as f64);
    }
    for f in [
        bytes_in,
        records_in,
        bytes_out,
        records_out,
        partitions,
        start,
        end,
        size,
    ] {
        f.push_to(out);
    }
    let mut f = FamilyBuilder::gauge(
        "weft_produce_queue_depth",
        "Appends queued on the log executor or waiting for a queue slot, all partitions.",
    );
    f.add(&[], queued as f64);
    f.push_to(out);

    let mut online = FamilyBuilder::gauge(
        "weft_log_dir_online",
        "1 while the log directory is online, 0 once an I/O error took it offline.",
    );
    for d in b.topics.log_dirs() {
        let path = d.path().display().to_string();
        online.add(
            &[("dir", path.as_str())],
            if d.is_offline() { 0.0 } else { 1.0 },
        );
    }
    online.push_to(out);

    let mut f = FamilyBuilder::counter(
        "weft_produce_acks0_failures_total",
        "acks=0 produce requests that failed (the producer gets no answer).",
    );
    f.add(&[], b.acks0_failures.load(Ordering::Relaxed) as f64);
    f.push_to(out);

    omitted += collect_groups(b, &mut budget, out);

    let mut f = FamilyBuilder::gauge(
        "weft_metrics_partition_series_omitted",
        "Per-partition series left out of this scrape by metrics.partition.series.max.",
    );
    f.add(&[], omitted as f64);
    f.push_to(out);
}

/// Group families; returns how many per-partition series were left out.
fn collect_groups(b: &Broker, budget: &mut usize, out: &mut Vec<MetricFamily>) -> u64 {
    use crate::groups::GroupState;
    const STATES: [GroupState; 4] = [
        GroupState::Empty,
        GroupState::PreparingRebalance,
        GroupState::CompletingRebalance,
        GroupState::Stable,
    ];
    let mut omitted = 0;
    let mut members = FamilyBuilder::gauge("weft_group_members", "Members of the consumer group.");
    let mut state = FamilyBuilder::gauge(
        "weft_group_state",
        "1 for the group's current state, 0 for the others.",
    );
    let mut committed = FamilyBuilder::gauge(
        "weft_group_committed_offset",
        "Committed offset, by group and partition.",
    );
    let mut lag = FamilyBuilder::gauge(
        "weft_group_lag",
        "Log end offset minus committed offset, by group and partition (computed by the broker).",
    );
    let mut lag_sum = FamilyBuilder::gauge(
        "weft_group_total_lag",
        "Sum of the group's lag over its committed partitions.",
    );
    for g in b.groups.list() {
        let id = g.group_id.as_str();
        members.add(&[("group", id)], g.members.len() as f64);
        for s in STATES {
            let v = if s == g.state { 1.0 } else { 0.0 };
            state.add(&[("group", id), ("state", s.name())], v);
        }
        let mut total = 0i64;
        for ((topic, p), c) in b.groups.offsets(id) {
            let Some(part) = b.topics.partition(&topic, p) else {
                continue;
            };
            let l = (part.log_end_offset() - c.offset).max(0);
            total += l;
            if *budget == 0 {
                omitted += 1;
                continue;
            }
            *budget -= 1;
            let idx = p.to_string();
            let labels = [
                ("group", id),
                ("topic", topic.as_str()),
                ("partition", idx.as_str()),
            ];
            committed.add(&labels, c.offset as f64);
            lag.add(&labels, l as f64);
        }
        lag_sum.add(&[("group", id)], total as f64);
    }
    for f in [members, state, committed, lag, lag_sum] {
        f.push_to(out);
    }
    omitted
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_close_reason_has_a_counter() {
        let c = Connections::default();
        for r in CloseReason::ALL {
            c.closed(r);
        }
        // Adding a reason breaks this match until it is listed here, and so in ALL.
        let listed = |r: CloseReason| match r {
            CloseReason::Client
            | CloseReason::Io
            | CloseReason::Malformed
            | CloseReason::Shutdown
            | CloseReason::UnsupportedVersion
            | CloseReason::Idle => CloseReason::ALL.contains(&r),
        };
        assert!(CloseReason::ALL.into_iter().all(listed));
        assert_eq!(CloseReason::ALL.len(), 6);
    }

    fn batch(records: i32, payload: usize) -> Vec<u8> {
        let len = 49 + payload;
        let mut b = vec![0u8; 12 + len];
        b[8..12].copy_from_slice(&(len as i32).to_be_bytes());
        b[57..61].copy_from_slice(&records.to_be_bytes());
        b
    }

    #[test]
    fn record_counts_come_from_whole_batch_headers() {
        let mut bytes = batch(3, 10);
        bytes.extend(batch(5, 0));
        assert_eq!(records_in_batches(&bytes), 8);
        // A truncated last batch (a fetch cut at its byte budget) is not counted.
        let mut cut = bytes.clone();
        cut.extend(&batch(7, 100)[..70]);
        assert_eq!(records_in_batches(&cut), 8);
        assert_eq!(records_in_batches(&[]), 0);
    }

    #[test]
    fn request_histograms_are_pre_registered_per_api_and_version() {
        REQUESTS.started(ApiKey::Metadata);
        REQUESTS.finished(ApiKey::Metadata, 12, Duration::from_micros(300));
        REQUESTS.error(ApiKey::Produce, 6);
        let mut out = Vec::new();
        REQUESTS.collect_into(&mut out);
        let text = {
            let mut buf = Vec::new();
            weft_metrics::prometheus::Encoder::encode(
                &weft_metrics::prometheus::TextEncoder::new(),
                &out,
                &mut buf,
            )
            .unwrap();
            String::from_utf8(buf).unwrap()
        };
        assert!(
            text.contains("weft_request_duration_seconds_count{api=\"Metadata\",version=\"12\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("weft_request_errors_total{api=\"Produce\",code=\"6\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("weft_requests_in_flight{api=\"Metadata\"} 0"),
            "{text}"
        );
    }
}
