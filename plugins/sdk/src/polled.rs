//! What a source's `poll` returns: [`Polled`] packs each record into the batch layout the host
//! reads (`weft_batch`) as it is pushed, beside the positions reached and the batch's schemas.
//!
//! Records go straight into one buffer: [`Polled::push_parts`] borrows the key, value and
//! headers and copies them once, so a source that generates or reads its records into a
//! scratch buffer allocates nothing per record. [`Polled::push`] takes the SDK's [`Record`] for
//! authors who build records anyway, and [`Polled::packed`] takes a batch that is already
//! packed (one fetched from another cluster, say). The export macro hands the result to the
//! host as it is.

use weft_batch::{BatchReader, BatchWriter};

use crate::error::{PluginError, Result};
use crate::position::RecordPosition;
use crate::record::Record;
use crate::{Schemas, SourcePosition};

/// The parts of one record a source produces, borrowed: everything but the headers, which
/// [`Polled::push_parts_with_headers`] takes as an iterator. Built with
/// `RecordParts::new(topic).key(k).value(v)`; unset parts are null (key, value) or left to the
/// worker (partition, timestamp).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordParts<'a> {
    /// Topic.
    pub topic: &'a str,
    /// Partition; `None` lets the worker's partitioner choose.
    pub partition: Option<i32>,
    /// Timestamp in ms since the Unix epoch; `None` lets the producer stamp it.
    pub timestamp: Option<i64>,
    /// Key; `None` is null.
    pub key: Option<&'a [u8]>,
    /// Value; `None` is null (a tombstone).
    pub value: Option<&'a [u8]>,
}

impl<'a> RecordParts<'a> {
    /// A record for `topic` with a null key and value.
    pub fn new(topic: &'a str) -> Self {
        RecordParts {
            topic,
            partition: None,
            timestamp: None,
            key: None,
            value: None,
        }
    }

    /// Sets the key.
    pub fn key(mut self, key: &'a [u8]) -> Self {
        self.key = Some(key);
        self
    }

    /// Sets the value.
    pub fn value(mut self, value: &'a [u8]) -> Self {
        self.value = Some(value);
        self
    }

    /// Sets the partition.
    pub fn partition(mut self, partition: i32) -> Self {
        self.partition = Some(partition);
        self
    }

    /// Sets the timestamp (ms since the Unix epoch).
    pub fn timestamp(mut self, ms: i64) -> Self {
        self.timestamp = Some(ms);
        self
    }
}

/// Where the records of a poll are.
#[derive(Debug, Clone)]
enum Batch {
    /// Being packed record by record.
    Writing(BatchWriter),
    /// Given packed (the count is the one its header announces).
    Packed(Vec<u8>),
}

/// One poll's output being built: records packed as they are pushed, the positions they reach
/// (each after a number of records), and the schemas of their keys and values (schemaless by
/// default).
///
/// Pushing never fails: a record the layout cannot hold (over 2 GiB) or a push onto a batch
/// given packed is remembered, and [`Polled::finish`] (which the export macro calls) fails the
/// poll with it.
#[derive(Debug, Clone)]
pub struct Polled {
    batch: Batch,
    count: u32,
    positions: Vec<RecordPosition>,
    schemas: Schemas,
    error: Option<String>,
}

impl Default for Polled {
    fn default() -> Self {
        Self::new()
    }
}

/// A finished poll, as the host receives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackedPoll {
    /// The records in the packed batch layout (`weft_batch`).
    pub batch: Vec<u8>,
    /// How many records `batch` holds.
    pub count: u32,
    /// Positions reached, in increasing `after_records` order, none past `count`.
    pub positions: Vec<RecordPosition>,
    /// Schemas of the records' keys and values.
    pub schemas: Schemas,
}

impl PackedPoll {
    /// The records as owned values (for tests and tools; the host reads the batch itself).
    pub fn decode(&self) -> Result<Vec<weft_batch::Record>> {
        weft_batch::decode(&self.batch)
            .map_err(|e| PluginError::fatal(format!("polled batch is malformed: {e}")))
    }
}

impl Polled {
    /// Nothing new yet.
    pub fn new() -> Self {
        Self::with_capacity(256)
    }

    /// Nothing new yet, with room for `bytes` of packed records (a record takes 36 bytes, its
    /// key, its value and its headers), so that a large poll does not grow its buffer.
    pub fn with_capacity(bytes: usize) -> Self {
        Polled {
            batch: Batch::Writing(BatchWriter::with_capacity(bytes)),
            count: 0,
            positions: Vec::new(),
            schemas: Schemas::default(),
            error: None,
        }
    }

    /// Records already in the packed layout, e.g. a batch fetched from another cluster and
    /// renamed in place. Its header and topic table are checked here, its records by the host;
    /// positions are added with [`Polled::reached_after`], and nothing more can be pushed.
    pub fn packed(batch: Vec<u8>) -> Result<Self> {
        let count = BatchReader::new(&batch)
            .map_err(|e| PluginError::fatal(format!("polled batch is malformed: {e}")))?
            .len();
        let count = u32::try_from(count)
            .map_err(|_| PluginError::fatal("polled batch has over 2^32 records"))?;
        Ok(Polled {
            batch: Batch::Packed(batch),
            count,
            positions: Vec::new(),
            schemas: Schemas::default(),
            error: None,
        })
    }

    /// Sets the schemas of the batch (Connect schema JSON, see [`crate::schema`]).
    pub fn with_schemas(mut self, schemas: Schemas) -> Self {
        self.schemas = schemas;
        self
    }

    /// Sets the schemas of the batch.
    pub fn set_schemas(&mut self, schemas: Schemas) {
        self.schemas = schemas;
    }

    /// The schemas of the batch.
    pub fn schemas(&self) -> &Schemas {
        &self.schemas
    }

    /// Adds a record, copying it into the batch.
    pub fn push(&mut self, record: Record<'_>) {
        self.write(|w| record.write_to(w));
    }

    /// Adds a record from borrowed parts, without headers.
    pub fn push_parts(&mut self, parts: RecordParts<'_>) {
        self.push_parts_with_headers(parts, [])
    }

    /// Adds a record from borrowed parts and its headers (name, value; `None` is null), in
    /// order.
    pub fn push_parts_with_headers<'h>(
        &mut self,
        parts: RecordParts<'_>,
        headers: impl IntoIterator<Item = (&'h str, Option<&'h [u8]>)>,
    ) {
        self.write(|w| {
            w.push(
                parts.topic,
                parts.partition,
                parts.timestamp,
                None,
                parts.key,
                parts.value,
                headers,
            )
        });
    }

    fn write(
        &mut self,
        f: impl FnOnce(&mut BatchWriter) -> std::result::Result<(), weft_batch::EncodeError>,
    ) {
        if self.error.is_some() {
            return;
        }
        let w = match &mut self.batch {
            Batch::Writing(w) => w,
            Batch::Packed(_) => {
                self.error = Some("a record was pushed onto a batch given packed".into());
                return;
            }
        };
        if self.count == u32::MAX {
            self.error = Some("a poll holds at most 2^32-1 records".into());
            return;
        }
        match f(w) {
            Ok(()) => self.count += 1,
            Err(e) => self.error = Some(format!("record #{} cannot be packed: {e}", self.count)),
        }
    }

    /// Records that the source reaches `position` once every record pushed so far is stored.
    pub fn reached(&mut self, position: SourcePosition) {
        self.positions.push(RecordPosition {
            after_records: self.count,
            position,
        });
    }

    /// Records that the source reaches `position` once the first `after_records` records are
    /// stored (for a batch given [`Polled::packed`]). Positions must come in increasing
    /// `after_records` order, none past the records polled.
    pub fn reached_after(&mut self, after_records: u32, position: SourcePosition) {
        self.positions.push(RecordPosition {
            after_records,
            position,
        });
    }

    /// Adds a record and the position reached right after it.
    pub fn push_at(&mut self, record: Record<'_>, position: SourcePosition) {
        self.push(record);
        self.reached(position);
    }

    /// Number of records.
    pub fn len(&self) -> usize {
        self.count as usize
    }

    /// True when there are no records.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The positions so far.
    pub fn positions(&self) -> &[RecordPosition] {
        &self.positions
    }

    /// The packed batch and its positions, checked: a record that could not be packed, or a
    /// position out of order or past the records, fails the poll.
    pub fn finish(self) -> Result<PackedPoll> {
        if let Some(e) = self.error {
            return Err(PluginError::fatal(e));
        }
        let mut last = 0;
        for p in &self.positions {
            if p.after_records < last || p.after_records > self.count {
                return Err(PluginError::fatal(format!(
                    "position after {} records is out of order or past the {} records polled",
                    p.after_records, self.count
                )));
            }
            last = p.after_records;
        }
        let batch = match self.batch {
            Batch::Writing(w) => w
                .finish()
                .map_err(|e| PluginError::fatal(format!("cannot pack the poll: {e}")))?,
            Batch::Packed(b) => b,
        };
        Ok(PackedPoll {
            batch,
            count: self.count,
            positions: self.positions,
            schemas: self.schemas,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pos(n: u32) -> SourcePosition {
        SourcePosition {
            partition: "{}".into(),
            position: format!("{{\"n\":{n}}}"),
        }
    }

    #[test]
    fn parts_and_records_pack_in_order_with_their_positions() {
        let mut p = Polled::with_capacity(1024).with_schemas(Schemas {
            key: Some(crate::schema::STRING.into()),
            value: None,
        });
        p.push_parts(RecordParts::new("a").key(b"k").value(b"v").timestamp(7));
        p.reached(pos(1));
        p.push_parts_with_headers(
            RecordParts::new("b").partition(2),
            [("h", Some(&b"x"[..])), ("n", None)],
        );
        p.push_at(Record::new("a", b"w".to_vec()), pos(3));
        assert_eq!(p.len(), 3);
        let out = p.finish().unwrap();
        assert_eq!(out.count, 3);
        assert_eq!(
            out.positions
                .iter()
                .map(|p| p.after_records)
                .collect::<Vec<_>>(),
            vec![1, 3]
        );
        assert_eq!(out.schemas.key.as_deref(), Some(crate::schema::STRING));
        let recs = out.decode().unwrap();
        assert_eq!(recs.len(), 3);
        assert_eq!(
            (
                recs[0].topic.as_str(),
                recs[0].key.as_deref(),
                recs[0].value.as_deref(),
                recs[0].timestamp
            ),
            ("a", Some(&b"k"[..]), Some(&b"v"[..]), Some(7))
        );
        assert_eq!(
            (recs[1].partition, recs[1].value.as_deref()),
            (Some(2), None)
        );
        assert_eq!(recs[1].headers.len(), 2);
        assert_eq!(recs[1].headers[0].key, "h");
        assert_eq!(recs[1].headers[1].value, None);
        assert_eq!(recs[2].value.as_deref(), Some(&b"w"[..]));
    }

    #[test]
    fn a_packed_batch_passes_through_and_refuses_pushes() {
        let bytes = weft_batch::encode(&[
            weft_batch::Record::new("t", b"1".to_vec()),
            weft_batch::Record::new("t", b"2".to_vec()),
        ])
        .unwrap();
        let mut p = Polled::packed(bytes.clone()).unwrap();
        p.reached_after(2, pos(2));
        assert_eq!(p.len(), 2);
        let out = p.finish().unwrap();
        assert_eq!((out.batch, out.count), (bytes.clone(), 2));

        let mut p = Polled::packed(bytes).unwrap();
        p.push_parts(RecordParts::new("t"));
        assert!(p.finish().unwrap_err().message.contains("given packed"));
        assert!(Polled::packed(vec![1, 2, 3]).is_err());
    }

    #[test]
    fn positions_out_of_order_or_past_the_records_fail_the_poll() {
        let mut p = Polled::new();
        p.push_parts(RecordParts::new("t").value(b"x"));
        p.reached_after(2, pos(2));
        assert!(p
            .finish()
            .unwrap_err()
            .message
            .contains("past the 1 records"));
        let mut p = Polled::new();
        p.push_parts(RecordParts::new("t"));
        p.push_parts(RecordParts::new("t"));
        p.reached_after(2, pos(2));
        p.reached_after(1, pos(1));
        assert!(p.finish().is_err());
        let empty = Polled::new().finish().unwrap();
        assert_eq!((empty.count, empty.decode().unwrap().len()), (0, 0));
    }
}
