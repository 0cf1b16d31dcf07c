//! What data calls return besides records: schemas, per-record failures, a source's polled
//! positions, and the instance's statistics (plain data).

use weft_batch::Record;

use super::SourcePosition;

/// The Connect schemas of a batch's keys and values (JSON text as Kafka's JsonConverter writes
/// a schema); `None` is schemaless. Keys and values are then in the Connect value encoding:
/// `string` as UTF-8 text, `bytes` raw, everything else as JSON text.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Schemas {
    /// Schema of the keys.
    pub key: Option<String>,
    /// Schema of the values.
    pub value: Option<String>,
}

/// One record of a batch that failed on its own while the rest went through.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordFailure {
    /// Index of the record in the batch the call received.
    pub index: u32,
    /// Whether the plugin says a retry may succeed.
    pub retriable: bool,
    /// The plugin's message.
    pub message: String,
}

/// What a source poll returned.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Polled {
    /// New records (each names its topic; partition `None` lets the partitioner choose).
    pub records: Vec<Record>,
    /// `(after_records, position)`: the position may be stored once the first
    /// `after_records` records of this poll (and every earlier poll's) are in the cluster.
    /// Checked: `after_records` never decreases and never exceeds `records.len()`.
    pub positions: Vec<(u32, SourcePosition)>,
    /// Schemas of the records' keys and values.
    pub schemas: Schemas,
}

/// What a source poll returned, still packed: what a task hands on to its stages without
/// decoding a record.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PolledBatch {
    /// The records, packed; every record was checked.
    pub batch: Vec<u8>,
    /// Number of records in `batch`.
    pub count: usize,
    /// As [`Polled::positions`], checked against `count`.
    pub positions: Vec<(u32, SourcePosition)>,
    /// Schemas of the records' keys and values.
    pub schemas: Schemas,
}

/// What a transform or converter returned, decoded.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Output {
    /// Records in input order, without the dropped and failed ones.
    pub records: Vec<Record>,
    /// Records that failed on their own (indexes into the input, checked in range).
    pub failures: Vec<RecordFailure>,
    /// Schemas of the output.
    pub schemas: Schemas,
}

/// What a transform returned.
pub type Transformed = Output;
/// What a converter returned.
pub type Converted = Output;

/// [`Output`] with the records still packed (checked to decode), for the hot path.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PackedOutput {
    /// The packed batch.
    pub batch: Vec<u8>,
    /// Number of records in `batch`.
    pub count: usize,
    /// Records that failed on their own.
    pub failures: Vec<RecordFailure>,
    /// Schemas of the output.
    pub schemas: Schemas,
}

/// Per-instance statistics for a worker's status, kept across instance restarts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct InstanceStats {
    /// Export calls made.
    pub calls: u64,
    /// Nanoseconds spent inside the component, host waits (capabilities, position reads)
    /// excluded.
    pub wasm_nanos: u64,
    /// Records handed to or returned by data calls (input of transforms, converters, sink puts;
    /// output of source polls).
    pub records: u64,
    /// Bytes of linear memory the live instance holds now.
    pub memory_bytes: usize,
    /// Times the instance was dropped after a failure.
    pub restarts: u64,
    /// The failures that dropped it, by kind (each is also a restart).
    pub traps: TrapCounts,
}

/// What made a call fail inside the component and the instance be dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrapKind {
    /// The call ran past `plugin.call.timeout.ms` (wasmtime's epoch interrupt).
    Deadline,
    /// The component tried to grow its memory past `plugin.memory.max.bytes`.
    OutOfMemory,
    /// An `unreachable` instruction; a Rust guest's panic ends in one.
    Unreachable,
    /// Any other trap code (out-of-bounds access, stack overflow, fuel, a count limit ...).
    Other,
}

impl TrapKind {
    /// Every kind, in the order of [`TrapCounts::get`]'s fields.
    pub const ALL: [TrapKind; 4] = [
        TrapKind::Deadline,
        TrapKind::OutOfMemory,
        TrapKind::Unreachable,
        TrapKind::Other,
    ];

    /// The kind's name in metrics: `deadline`, `out-of-memory`, `unreachable`, `other`.
    pub fn as_str(self) -> &'static str {
        match self {
            TrapKind::Deadline => "deadline",
            TrapKind::OutOfMemory => "out-of-memory",
            TrapKind::Unreachable => "unreachable",
            TrapKind::Other => "other",
        }
    }
}

/// Failed calls by [`TrapKind`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TrapCounts {
    counts: [u64; 4],
}

impl TrapCounts {
    /// Counts one failure of `kind`.
    pub fn count(&mut self, kind: TrapKind) {
        self.counts[kind as usize] = self.counts[kind as usize].saturating_add(1);
    }

    /// Failures of `kind` so far.
    pub fn get(&self, kind: TrapKind) -> u64 {
        self.counts[kind as usize]
    }
}

impl std::ops::Add for TrapCounts {
    type Output = TrapCounts;

    fn add(mut self, other: TrapCounts) -> TrapCounts {
        for (a, b) in self.counts.iter_mut().zip(other.counts) {
            *a = a.saturating_add(b);
        }
        self
    }
}
