//! ListOffsets by timestamp: the first record at or after a timestamp, and the record with the
//! largest timestamp.

use std::os::unix::fs::FileExt;

use crate::batch::BatchHeader;
use crate::error::{IoContext, LogError, Result};
use crate::log::Log;
use crate::record::{DecodeLimits, RecordStream};
use crate::scan::{Scanner, Step, WALK_CHUNK};
use crate::segment::Segment;

/// Adds the file and position to a record decoding error.
fn in_batch(seg: &Segment, position: u64, err: LogError) -> LogError {
    match err {
        LogError::CorruptBatch(msg) => LogError::CorruptBatch(format!(
            "{} batch at position {position}: {msg}",
            seg.log_path.display()
        )),
        other => other,
    }
}

/// First record in `batch` with offset `>= min_offset` satisfying `pred(timestamp)`, decoding records
/// one at a time within the batch's [`DecodeLimits`].
fn first_record(
    header: &BatchHeader,
    bytes: &[u8],
    max_message_bytes: u32,
    min_offset: i64,
    pred: impl Fn(i64) -> bool,
) -> Result<Option<(i64, i64)>> {
    let limits = DecodeLimits::for_batch(header, max_message_bytes);
    let mut records = RecordStream::open(bytes, header, limits)?;
    while let Some(r) = records.next_record()? {
        let (offset, ts) = (r.offset(header), r.timestamp(header));
        if offset >= min_offset && pred(ts) {
            return Ok(Some((offset, ts)));
        }
    }
    Ok(None)
}

/// Searches `seg` from `start` for the first record with timestamp `>= ts` and offset `>= min_offset`.
fn search_segment(
    seg: &Segment,
    max_message_bytes: u32,
    start: u64,
    ts: i64,
    min_offset: i64,
) -> Result<Option<(i64, i64)>> {
    let mut scanner = Scanner::new(&seg.file, start, seg.size, WALK_CHUNK);
    loop {
        match scanner.next(true).at(&seg.log_path)? {
            Step::End => return Ok(None),
            Step::Invalid { reason, .. } => {
                return Err(LogError::CorruptBatch(format!(
                    "{}: {reason}",
                    seg.log_path.display()
                )))
            }
            Step::Batch {
                position,
                header,
                bytes,
            } => {
                // The batch max timestamp bounds its records, so most batches need no decoding.
                if header.max_timestamp < ts || header.last_offset() < min_offset {
                    continue;
                }
                if let Some(found) =
                    first_record(&header, bytes, max_message_bytes, min_offset, |t| t >= ts)
                        .map_err(|e| in_batch(seg, position, e))?
                {
                    return Ok(Some(found));
                }
            }
        }
    }
}

impl Log {
    /// ListOffsets by timestamp: the first offset (at or after the log start offset) whose record
    /// timestamp is `>= ts`, with that timestamp. Skips segments whose largest timestamp is smaller,
    /// starts inside a segment from its time index, then scans batch headers and decodes only the
    /// batches that can match. `None` if no such record.
    pub fn offset_for_timestamp(&self, ts: i64) -> Result<Option<(i64, i64)>> {
        let min_offset = self.log_start_offset;
        for seg in self.segments() {
            if seg.ix.max_timestamp < ts || seg.next_offset() <= min_offset {
                continue;
            }
            let start = seg.position_for_timestamp(ts);
            if let Some(found) =
                search_segment(seg, self.config.max_message_bytes, start, ts, min_offset)?
            {
                return Ok(Some(found));
            }
        }
        Ok(None)
    }

    /// ListOffsets MAX_TIMESTAMP (-3): offset and timestamp of the first record carrying the largest
    /// timestamp in the log; `None` if no record has a timestamp.
    pub fn max_timestamp_offset(&self) -> Result<Option<(i64, i64)>> {
        let mut best: Option<&Segment> = None;
        for seg in self.segments() {
            if seg.ix.max_timestamp >= 0
                && best.is_none_or(|b| seg.ix.max_timestamp > b.ix.max_timestamp)
            {
                best = Some(seg);
            }
        }
        let Some(seg) = best else {
            return Ok(None);
        };
        let (max_ts, batch_last) = (seg.ix.max_timestamp, seg.ix.offset_of_max_timestamp);
        let Some((position, header)) = seg.locate(batch_last)? else {
            return Ok(Some((batch_last, max_ts)));
        };
        let mut bytes = vec![0u8; header.total_size()];
        seg.file
            .read_exact_at(&mut bytes, position)
            .at(&seg.log_path)?;
        let found = first_record(
            &header,
            &bytes,
            self.config.max_message_bytes,
            i64::MIN,
            |t| t == max_ts,
        )
        .map_err(|e| in_batch(seg, position, e))?;
        Ok(Some(found.unwrap_or((batch_last, max_ts))))
    }
}

#[cfg(test)]
mod tests {
    use crate::testutil::{batch, rec};
    use crate::{Log, LogConfig, TimestampType};
    use kafka_protocol::records::Compression;

    fn config() -> LogConfig {
        LogConfig {
            segment_bytes: 700,
            index_interval_bytes: 100,
            ..LogConfig::default()
        }
    }

    /// Batch i holds 3 records with timestamps 1000*i + {0, 1, 2}; codecs rotate.
    fn build(dir: &std::path::Path, config: LogConfig) -> Log {
        let (mut log, _) = Log::open(dir, config).unwrap();
        let codecs = [Compression::None, Compression::Gzip, Compression::Zstd];
        for i in 0..30i64 {
            let recs = [rec("a", "x"), rec("b", "y"), rec("c", "z")];
            log.append(&batch(&recs, 1000 * i, codecs[i as usize % 3]), 0, 1000 * i)
                .unwrap();
        }
        log
    }

    #[test]
    fn offset_for_timestamp_finds_first_record_at_or_after() {
        let dir = tempfile::tempdir().unwrap();
        let log = build(dir.path(), config());
        assert!(log.segment_count() > 2);
        assert_eq!(log.offset_for_timestamp(i64::MIN).unwrap(), Some((0, 0)));
        assert_eq!(log.offset_for_timestamp(0).unwrap(), Some((0, 0)));
        for i in 0..30i64 {
            assert_eq!(
                log.offset_for_timestamp(1000 * i).unwrap(),
                Some((3 * i, 1000 * i))
            );
            assert_eq!(
                log.offset_for_timestamp(1000 * i + 2).unwrap(),
                Some((3 * i + 2, 1000 * i + 2))
            );
            if i < 29 {
                assert_eq!(
                    log.offset_for_timestamp(1000 * i + 3).unwrap(),
                    Some((3 * i + 3, 1000 * i + 1000))
                );
            }
        }
        assert_eq!(log.offset_for_timestamp(29_003).unwrap(), None);
    }

    #[test]
    fn offset_for_timestamp_respects_log_start_offset() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = build(dir.path(), config());
        log.delete_records_before(10).unwrap();
        assert_eq!(log.offset_for_timestamp(0).unwrap(), Some((10, 3001)));
    }

    #[test]
    fn max_timestamp_offset_handles_out_of_order_timestamps() {
        let dir = tempfile::tempdir().unwrap();
        let (mut log, _) = Log::open(dir.path(), config()).unwrap();
        assert_eq!(log.max_timestamp_offset().unwrap(), None);
        log.append(&batch(&[rec("a", "1")], 500, Compression::None), 0, 0)
            .unwrap();
        // Records at 9000, 9001, 9002 => the max is at offset 3.
        let late = batch(
            &[rec("a", "1"), rec("b", "2"), rec("c", "3")],
            9000,
            Compression::Snappy,
        );
        log.append(&late, 0, 0).unwrap();
        for i in 0..20 {
            log.append(&batch(&[rec("x", "y")], 100 + i, Compression::None), 0, 0)
                .unwrap();
        }
        assert_eq!(log.max_timestamp_offset().unwrap(), Some((3, 9002)));
        log.close().unwrap();
        let (log, _) = Log::open(dir.path(), config()).unwrap();
        assert_eq!(log.max_timestamp_offset().unwrap(), Some((3, 9002)));
        assert_eq!(log.offset_for_timestamp(8000).unwrap(), Some((1, 9000)));
        assert_eq!(log.offset_for_timestamp(600).unwrap(), Some((1, 9000)));
    }

    #[test]
    fn log_append_time_timestamps_are_used() {
        let dir = tempfile::tempdir().unwrap();
        let (mut log, _) = Log::open(
            dir.path(),
            LogConfig {
                timestamp_type: TimestampType::LogAppendTime,
                ..config()
            },
        )
        .unwrap();
        log.append(
            &batch(&[rec("a", "1"), rec("b", "2")], 5, Compression::Lz4),
            0,
            7000,
        )
        .unwrap();
        log.append(&batch(&[rec("a", "1")], 5, Compression::None), 0, 8000)
            .unwrap();
        assert_eq!(log.offset_for_timestamp(6000).unwrap(), Some((0, 7000)));
        assert_eq!(log.offset_for_timestamp(7001).unwrap(), Some((2, 8000)));
        assert_eq!(log.max_timestamp_offset().unwrap(), Some((2, 8000)));
    }
}
