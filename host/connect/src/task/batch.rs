//! A batch between a task's stages, kept in the runtime's packed layout: each stage's output is
//! the next stage's input as it is, records are read in place, and a record is copied out only
//! when one must be kept (a failure for the error handler and the dead letter queue).

use weft_runtime::PackedOutput;

use super::worker_failure;
use crate::errors::TaskFailure;

pub use weft_batch::{BatchReader, BatchWriter, RecordView};

/// Packed records (checked by the runtime, or written by the host) and how many there are.
#[derive(Debug, Clone)]
pub struct Batch {
    bytes: Vec<u8>,
    count: usize,
}

/// A batch that cannot be read: the runtime checked every batch a component returned, so this
/// is a host bug, reported as the task's failure rather than a panic.
fn unreadable(e: impl std::fmt::Display) -> TaskFailure {
    worker_failure(format!("a packed batch could not be read: {e}"))
}

impl Batch {
    /// Wraps `count` records already packed in `bytes`.
    pub fn new(bytes: Vec<u8>, count: usize) -> Batch {
        Batch { bytes, count }
    }

    /// No records.
    pub fn empty() -> Batch {
        Batch::finish(BatchWriter::with_capacity(16)).unwrap_or(Batch {
            bytes: Vec::new(),
            count: 0,
        })
    }

    /// The records a writer holds.
    pub fn finish(w: BatchWriter) -> Result<Batch, TaskFailure> {
        let count = w.len();
        let bytes = w.finish().map_err(unreadable)?;
        Ok(Batch { bytes, count })
    }

    /// A component's output.
    pub fn from_output(out: PackedOutput) -> Batch {
        Batch {
            bytes: out.batch,
            count: out.count,
        }
    }

    pub fn len(&self) -> usize {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The buffer, for a writer to reuse.
    pub fn into_bytes(self) -> Vec<u8> {
        self.bytes
    }

    /// The packed bytes, as the runtime's calls take them.
    pub fn bytes(&self) -> &Vec<u8> {
        &self.bytes
    }

    /// A reader over the records.
    pub fn reader(&self) -> Result<BatchReader<'_>, TaskFailure> {
        BatchReader::new(&self.bytes).map_err(unreadable)
    }

    /// Calls `f` with every record in order.
    pub fn for_each<'a>(
        &'a self,
        mut f: impl FnMut(RecordView<'a>) -> Result<(), TaskFailure>,
    ) -> Result<(), TaskFailure> {
        let reader = BatchReader::new(&self.bytes).map_err(unreadable)?;
        for v in reader.records() {
            f(v.map_err(unreadable)?)?;
        }
        Ok(())
    }

    /// Every record as a view, for random access on error paths.
    pub fn views(&self) -> Result<Vec<RecordView<'_>>, TaskFailure> {
        let reader = BatchReader::new(&self.bytes).map_err(unreadable)?;
        reader
            .records()
            .map(|v| v.map_err(unreadable))
            .collect::<Result<Vec<_>, _>>()
    }

    /// Whether any record carries a header.
    pub fn has_headers(&self) -> Result<bool, TaskFailure> {
        for v in self.reader()?.records() {
            if !v.map_err(unreadable)?.headers.is_empty() {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Rewrites every record's offset field: record `i` gets `offset_of(i, its offset)`.
    pub fn set_offsets(
        &mut self,
        offset_of: impl FnMut(usize, Option<i64>) -> Option<i64>,
    ) -> Result<(), TaskFailure> {
        weft_batch::set_offsets(&mut self.bytes, offset_of).map_err(unreadable)
    }

    /// Stamps each record with its index in this batch (in its offset field), which every stage
    /// carries through, so any stage's failure names the original record.
    pub fn stamp_indices(&mut self) -> Result<(), TaskFailure> {
        self.set_offsets(|i, _| Some(i as i64))
    }
}

/// A record's index in the task's original batch (the offset stamped by
/// [`Batch::stamp_indices`]).
pub fn origin(v: &RecordView<'_>) -> usize {
    v.offset.unwrap_or(-1).max(0) as usize
}

#[cfg(test)]
mod tests {
    use super::*;
    use weft_runtime::Record;

    #[test]
    fn stamped_indices_survive_a_copy_and_name_the_original() {
        let recs: Vec<Record> = (0..5)
            .map(|i| Record::new("t", format!("v{i}").into_bytes()))
            .collect();
        let mut b = Batch::new(weft_batch::encode(&recs).unwrap(), recs.len());
        b.stamp_indices().unwrap();
        assert!(!b.has_headers().unwrap());
        let reader = b.reader().unwrap();
        let mut w = BatchWriter::for_output_of(&reader);
        for v in reader.records().skip(3) {
            w.push_view(&v.unwrap()).unwrap();
        }
        let copied = Batch::finish(w).unwrap();
        assert_eq!(copied.len(), 2);
        let views = copied.views().unwrap();
        assert_eq!(origin(&views[0]), 3);
        let originals = b.views().unwrap();
        assert_eq!(originals[origin(&views[1])].value.unwrap(), b"v4");
        assert!(Batch::empty().is_empty());
        assert_eq!(Batch::empty().views().unwrap().len(), 0);
    }
}
