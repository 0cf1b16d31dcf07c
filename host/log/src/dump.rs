//! DumpLogSegments: prints a segment file batch by batch (and record by record) in the format of
//! `kafka-dump-log.sh --files X.log [--print-data-log]`; `.index` and `.timeindex` files too.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use kafka_protocol::records::Compression;

use crate::batch::{self, BatchHeader};
use crate::error::{IoContext, LogError, Result};
use crate::files::{self, FileKind};
use crate::index::{Entry, OffsetEntry, TimeEntry};
use crate::record::{DecodeLimits, RecordStream, RecordView};
use crate::scan::{Scanner, Step, SCAN_CHUNK};

fn out_err(source: std::io::Error) -> LogError {
    LogError::Io {
        path: PathBuf::from("<dump output>"),
        source,
    }
}

fn codec_name(c: Compression) -> &'static str {
    match c {
        Compression::None => "none",
        Compression::Gzip => "gzip",
        Compression::Snappy => "snappy",
        Compression::Lz4 => "lz4",
        Compression::Zstd => "zstd",
    }
}

/// `CreateTime` / `LogAppendTime`, as Kafka's `TimestampType.name`.
fn timestamp_label(h: &BatchHeader) -> String {
    h.timestamp_type().to_string()
}

/// One batch, as Kafka prints it.
fn batch_line(position: u64, h: &BatchHeader, valid: bool) -> String {
    let delete_horizon = if h.has_delete_horizon() {
        format!("OptionalLong[{}]", h.base_timestamp)
    } else {
        "OptionalLong.empty".to_string()
    };
    format!(
        "baseOffset: {} lastOffset: {} count: {} baseSequence: {} lastSequence: {} producerId: {} \
         producerEpoch: {} partitionLeaderEpoch: {} isTransactional: {} isControl: {} \
         deleteHorizonMs: {} position: {} {}: {} size: {} magic: {} compresscodec: {} crc: {} isvalid: {}",
        h.base_offset,
        h.last_offset(),
        h.records_count,
        h.base_sequence,
        h.last_sequence(),
        h.producer_id,
        h.producer_epoch,
        h.partition_leader_epoch,
        h.is_transactional(),
        h.is_control(),
        delete_horizon,
        position,
        timestamp_label(h),
        h.max_timestamp,
        h.total_size(),
        h.magic,
        codec_name(h.compression()),
        h.crc,
        valid
    )
}

fn nullable_len(b: Option<&[u8]>) -> i64 {
    b.map_or(-1, |b| b.len() as i64)
}

/// One record, as Kafka prints it with `--print-data-log`.
fn record_line(h: &BatchHeader, r: &RecordView<'_>) -> Result<String> {
    let mut keys = Vec::with_capacity(r.header_count);
    for pair in r.header_pairs() {
        keys.push(String::from_utf8_lossy(pair?.0).into_owned());
    }
    let mut line = format!(
        "| offset: {} {}: {} keySize: {} valueSize: {} sequence: {} headerKeys: [{}]",
        r.offset(h),
        timestamp_label(h),
        r.timestamp(h),
        nullable_len(r.key),
        nullable_len(r.value),
        r.sequence(h),
        keys.join(",")
    );
    if h.is_control() {
        // Control record key: version i16, type i16 (0 abort, 1 commit); value: version i16,
        // coordinator epoch i32.
        let kind = r.key.filter(|k| k.len() >= 4).map(|k| batch::get_i16(k, 2));
        let epoch = r
            .value
            .filter(|v| v.len() >= 6)
            .map(|v| batch::get_i32(v, 2));
        match (kind, epoch) {
            (Some(0), Some(e)) => {
                line.push_str(&format!(" endTxnMarker: ABORT coordinatorEpoch: {e}"))
            }
            (Some(1), Some(e)) => {
                line.push_str(&format!(" endTxnMarker: COMMIT coordinatorEpoch: {e}"))
            }
            (Some(k), _) => line.push_str(&format!(" controlType: UNKNOWN({k})")),
            _ => line.push_str(" controlType: UNKNOWN"),
        }
    } else {
        if let Some(k) = r.key {
            line.push_str(" key: ");
            line.push_str(&String::from_utf8_lossy(k));
        }
        if let Some(v) = r.value {
            line.push_str(" payload: ");
            line.push_str(&String::from_utf8_lossy(v));
        }
    }
    Ok(line)
}

/// Prints the records one at a time, decompressing within the default topic's [`DecodeLimits`]
/// (the dump tool does not know the topic's `max.message.bytes`; the hard cap applies regardless).
fn dump_records(h: &BatchHeader, bytes: &[u8], out: &mut dyn Write) -> Result<()> {
    let limits = DecodeLimits::for_batch(h, crate::LogConfig::default().max_message_bytes);
    let mut records = match RecordStream::open(bytes, h, limits) {
        Ok(r) => r,
        Err(e) => return writeln!(out, "| cannot decode records: {e}").map_err(out_err),
    };
    loop {
        match records
            .next_record()
            .and_then(|r| r.map(|r| record_line(h, &r)).transpose())
        {
            Ok(Some(line)) => writeln!(out, "{line}").map_err(out_err)?,
            Ok(None) => return Ok(()),
            Err(e) => return writeln!(out, "| cannot decode record: {e}").map_err(out_err),
        }
    }
}

fn dump_log(path: &Path, base: i64, print_data: bool, out: &mut dyn Write) -> Result<()> {
    let file = File::open(path).at(path)?;
    let len = file.metadata().at(path)?.len();
    writeln!(out, "Log starting offset: {base}").map_err(out_err)?;
    let mut scanner = Scanner::new(&file, 0, len, SCAN_CHUNK);
    loop {
        match scanner.next(true).at(path)? {
            Step::End => return Ok(()),
            Step::Invalid { position, reason } => {
                let name = path.file_name().map_or_else(
                    || path.display().to_string(),
                    |n| n.to_string_lossy().into_owned(),
                );
                return writeln!(
                    out,
                    "Found {} invalid bytes at the end of {name} ({reason})",
                    len - position
                )
                .map_err(out_err);
            }
            Step::Batch {
                position,
                header,
                bytes,
            } => {
                let valid = batch::check_integrity(&header, bytes).is_ok();
                writeln!(out, "{}", batch_line(position, &header, valid)).map_err(out_err)?;
                // A control batch's one record is its transaction marker: always worth seeing.
                if print_data || header.is_control() {
                    dump_records(&header, bytes, out)?;
                }
            }
        }
    }
}

fn dump_index<E: Entry>(
    path: &Path,
    base: i64,
    out: &mut dyn Write,
    line: impl Fn(E) -> String,
) -> Result<()> {
    let bytes = std::fs::read(path).at(path)?;
    let mut chunks = bytes.chunks_exact(E::SIZE);
    for c in chunks.by_ref() {
        writeln!(out, "{}", line(E::decode(c, base))).map_err(out_err)?;
    }
    if !chunks.remainder().is_empty() {
        writeln!(
            out,
            "Found {} invalid bytes at the end of the index",
            chunks.remainder().len()
        )
        .map_err(out_err)?;
    }
    Ok(())
}

/// A producer state `.snapshot` file, one line per producer as DumpLogSegments prints them; a corrupt
/// snapshot is reported on one line, not an error (as Kafka's tool does).
fn dump_producer_snapshot(path: &Path, out: &mut dyn Write) -> Result<()> {
    let bytes = std::fs::read(path).at(path)?;
    let states = match crate::producer_state::ProducerStates::decode_snapshot(&bytes) {
        Ok(s) => s,
        Err(reason) => {
            return writeln!(out, "Snapshot is corrupt: {reason}").map_err(out_err);
        }
    };
    for (pid, e) in states.entries() {
        let txn_first = e
            .current_txn_first_offset
            .map_or("OptionalLong.empty".to_string(), |o| {
                format!("OptionalLong[{o}]")
            });
        write!(
            out,
            "producerId: {pid} producerEpoch: {} coordinatorEpoch: {} currentTxnFirstOffset: {txn_first} lastTimestamp: {}",
            e.epoch, e.coordinator_epoch, e.last_timestamp
        )
        .map_err(out_err)?;
        if let Some(b) = e.batches.back() {
            write!(
                out,
                " firstSequence: {} lastSequence: {} lastOffset: {} offsetDelta: {} timestamp: {}",
                b.first_seq,
                b.last_seq,
                b.last_offset,
                b.last_offset - b.first_offset,
                b.timestamp
            )
            .map_err(out_err)?;
        }
        writeln!(out).map_err(out_err)?;
    }
    Ok(())
}

/// An aborted-transaction index, one line per entry as DumpLogSegments prints them; damage is
/// reported on a line after the entries before it.
fn dump_txn_index(path: &Path, out: &mut dyn Write) -> Result<()> {
    let bytes = std::fs::read(path).at(path)?;
    let mut chunks = bytes.chunks_exact(crate::txn_index::ENTRY_LEN);
    for (i, c) in chunks.by_ref().enumerate() {
        match crate::txn_index::AbortedTxn::decode(c) {
            Ok(a) => writeln!(
                out,
                "version: 0 producerId: {} firstOffset: {} lastOffset: {} lastStableOffset: {}",
                a.producer_id, a.first_offset, a.last_offset, a.last_stable_offset
            )
            .map_err(out_err)?,
            Err(reason) => {
                return writeln!(out, "Entry {i} is corrupt: {reason}").map_err(out_err);
            }
        }
    }
    if !chunks.remainder().is_empty() {
        writeln!(
            out,
            "Found {} invalid bytes at the end of the index",
            chunks.remainder().len()
        )
        .map_err(out_err)?;
    }
    Ok(())
}

/// DumpLogSegments: print every batch of a segment file (and its records with `print_data`, decoding
/// all compressions; a control batch's marker — COMMIT/ABORT and coordinator epoch — always), like
/// `kafka-dump-log.sh --files X.log [--print-data-log]`. `.index`, `.timeindex` and `.txnindex`
/// files print their entries, `.snapshot` files their producers. A torn or corrupt tail is reported,
/// not an error.
pub fn dump_segment(path: &Path, print_data: bool, out: &mut dyn Write) -> Result<()> {
    let parsed = path
        .file_name()
        .and_then(|n| n.to_str())
        .and_then(files::parse_file_name);
    let base = parsed.map_or(0, |p| p.base);
    writeln!(out, "Dumping {}", path.display()).map_err(out_err)?;
    if path
        .extension()
        .is_some_and(|e| e == crate::producer_state::SNAPSHOT_SUFFIX)
    {
        return dump_producer_snapshot(path, out);
    }
    if path
        .extension()
        .is_some_and(|e| e == crate::txn_index::TXN_INDEX_SUFFIX)
    {
        return dump_txn_index(path, out);
    }
    match parsed.map(|p| p.kind) {
        Some(FileKind::Index) => dump_index(path, base, out, |e: OffsetEntry| {
            format!("offset: {} position: {}", e.offset, e.position)
        }),
        Some(FileKind::TimeIndex) => dump_index(path, base, out, |e: TimeEntry| {
            format!("timestamp: {} offset: {}", e.timestamp, e.offset)
        }),
        _ => dump_log(path, base, print_data, out),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{batch, rec, rec_with_headers, tombstone};
    use crate::{Log, LogConfig};

    fn dump(path: &Path, print_data: bool) -> String {
        let mut out = Vec::new();
        dump_segment(path, print_data, &mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn prints_batches_and_records_like_kafka() {
        let dir = tempfile::tempdir().unwrap();
        let (mut log, _) = Log::open(dir.path(), LogConfig::default()).unwrap();
        let b = batch(
            &[
                rec("abc", "hello"),
                rec_with_headers("k2", "v2", &[("h1", Some("x")), ("h2", None)]),
                tombstone("k3"),
            ],
            1_700_000_000_000,
            Compression::Gzip,
        );
        log.append(&b, 4, 1_700_000_000_000).unwrap();
        log.append(
            &batch(&[rec("z", "last")], 1_700_000_000_100, Compression::None),
            4,
            1_700_000_000_000,
        )
        .unwrap();
        log.close().unwrap();
        let path = dir.path().join("00000000000000000000.log");
        let stored = std::fs::read(&path).unwrap();
        let h = BatchHeader::parse(&stored).unwrap();

        let text = dump(&path, false);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], format!("Dumping {}", path.display()));
        assert_eq!(lines[1], "Log starting offset: 0");
        assert_eq!(
            lines[2],
            format!(
                "baseOffset: 0 lastOffset: 2 count: 3 baseSequence: -1 lastSequence: -1 producerId: -1 \
                 producerEpoch: -1 partitionLeaderEpoch: 4 isTransactional: false isControl: false \
                 deleteHorizonMs: OptionalLong.empty position: 0 CreateTime: 1700000000002 size: {} \
                 magic: 2 compresscodec: gzip crc: {} isvalid: true",
                h.total_size(),
                h.crc
            )
        );
        assert!(lines[3].starts_with("baseOffset: 3 lastOffset: 3 count: 1 "));
        assert!(lines[3].contains(&format!("position: {} ", h.total_size())));
        assert!(lines[3].contains("compresscodec: none"));
        assert_eq!(lines.len(), 4);

        let text = dump(&path, true);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[3],
            "| offset: 0 CreateTime: 1700000000000 keySize: 3 valueSize: 5 sequence: -1 headerKeys: [] key: abc payload: hello"
        );
        assert_eq!(
            lines[4],
            "| offset: 1 CreateTime: 1700000000001 keySize: 2 valueSize: 2 sequence: -1 headerKeys: [h1,h2] key: k2 payload: v2"
        );
        assert_eq!(
            lines[5],
            "| offset: 2 CreateTime: 1700000000002 keySize: 2 valueSize: -1 sequence: -1 headerKeys: [] key: k3"
        );
        assert!(lines[7].starts_with("| offset: 3 "));
    }

    #[test]
    fn a_bomb_in_a_segment_is_reported_not_inflated() {
        use crate::testutil::{bomb_batch, BombRecord};
        let dir = tempfile::tempdir().unwrap();
        let bomb = bomb_batch(
            Compression::Gzip,
            1000,
            &vec![BombRecord::value(900 << 10); 100],
        );
        let log = crate::testutil::log_holding(dir.path(), &bomb, LogConfig::default());
        log.close().unwrap();
        let text = dump(&dir.path().join("00000000000000000000.log"), true);
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[2].contains("count: 1000"), "{}", lines[2]);
        let last = lines.last().unwrap();
        assert!(
            last.starts_with("| cannot decode record:") && last.contains("allowed for this batch"),
            "{last}"
        );
        // The records before the limit were printed one by one.
        assert!(lines.iter().filter(|l| l.starts_with("| offset:")).count() > 10);
    }

    #[test]
    fn reports_invalid_crc_and_torn_tail() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("00000000000000000042.log");
        let mut good = batch(&[rec("a", "b")], 5, Compression::None);
        batch::put_i64(&mut good, 0, 42);
        let mut bad = good.clone();
        batch::put_i64(&mut bad, 0, 43);
        let n = bad.len();
        bad[n - 1] ^= 1;
        let mut data = good.clone();
        data.extend_from_slice(&bad);
        data.extend_from_slice(&good[..20]);
        std::fs::write(&path, &data).unwrap();
        let text = dump(&path, true);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[1], "Log starting offset: 42");
        assert!(lines[2].ends_with("isvalid: true"));
        assert!(lines[4].starts_with("baseOffset: 43") && lines[4].ends_with("isvalid: false"));
        assert!(
            lines
                .last()
                .unwrap()
                .starts_with("Found 20 invalid bytes at the end of 00000000000000000042.log"),
            "{text}"
        );
    }

    #[test]
    fn dumps_index_files() {
        let dir = tempfile::tempdir().unwrap();
        let (mut log, _) = Log::open(
            dir.path(),
            LogConfig {
                index_interval_bytes: 1,
                ..LogConfig::default()
            },
        )
        .unwrap();
        for i in 0..3 {
            log.append(&batch(&[rec("a", "b")], 100 + i, Compression::None), 0, 0)
                .unwrap();
        }
        let size = batch(&[rec("a", "b")], 0, Compression::None).len();
        log.close().unwrap();
        let text = dump(&dir.path().join("00000000000000000000.index"), false);
        assert_eq!(
            text.lines().skip(1).collect::<Vec<_>>(),
            vec![
                format!("offset: 1 position: {size}"),
                format!("offset: 2 position: {}", 2 * size)
            ]
        );
        let text = dump(&dir.path().join("00000000000000000000.timeindex"), false);
        assert_eq!(
            text.lines().skip(1).collect::<Vec<_>>(),
            vec!["timestamp: 101 offset: 1", "timestamp: 102 offset: 2"]
        );
    }

    #[test]
    fn dumps_transaction_markers_txn_indexes_and_open_transactions() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = Log::open(dir.path(), LogConfig::default()).unwrap().0;
        let txn = |pid: i64| {
            let mut b = batch(&[rec("k", "v")], 1000, Compression::None);
            b[43..51].copy_from_slice(&pid.to_be_bytes());
            b[51..53].copy_from_slice(&0i16.to_be_bytes());
            b[53..57].copy_from_slice(&0i32.to_be_bytes());
            b[22] |= 0x10;
            let crc = crc32c::crc32c(&b[21..]);
            b[17..21].copy_from_slice(&crc.to_be_bytes());
            b
        };
        log.append(&txn(5), -1, 1000).unwrap();
        log.append(&txn(6), -1, 1000).unwrap();
        let m = crate::TxnMarker {
            producer_id: 5,
            producer_epoch: 0,
            coordinator_epoch: 9,
            commit: false,
        };
        log.append_txn_marker_at(m, 2000).unwrap();
        log.close().unwrap();
        let text = dump(&dir.path().join("00000000000000000000.log"), false);
        assert!(
            text.contains("isTransactional: true isControl: true")
                && text.contains("| offset: 2 ")
                && text.contains("endTxnMarker: ABORT coordinatorEpoch: 9"),
            "{text}"
        );
        let text = dump(&dir.path().join("00000000000000000000.txnindex"), false);
        assert_eq!(
            text.lines().nth(1),
            Some("version: 0 producerId: 5 firstOffset: 0 lastOffset: 2 lastStableOffset: 1")
        );
        let text = dump(&dir.path().join("00000000000000000003.snapshot"), false);
        assert!(
            text.contains("producerId: 5 producerEpoch: 0 coordinatorEpoch: 9 currentTxnFirstOffset: OptionalLong.empty")
                && text.contains("producerId: 6 producerEpoch: 0 coordinatorEpoch: -1 currentTxnFirstOffset: OptionalLong[1]"),
            "{text}"
        );
    }

    #[test]
    fn dumps_producer_snapshots_and_reports_corrupt_ones() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = Log::open(dir.path(), LogConfig::default()).unwrap().0;
        let mut b = batch(&[rec("k", "v")], 1000, Compression::None);
        // Producer id 42, epoch 3, base sequence 7 (the CRC covers these fields).
        b[43..51].copy_from_slice(&42i64.to_be_bytes());
        b[51..53].copy_from_slice(&3i16.to_be_bytes());
        b[53..57].copy_from_slice(&7i32.to_be_bytes());
        let crc = crc32c::crc32c(&b[21..]);
        b[17..21].copy_from_slice(&crc.to_be_bytes());
        log.append(&b, -1, 1000).unwrap();
        log.close().unwrap();
        let path = dir.path().join("00000000000000000001.snapshot");
        let text = dump(&path, false);
        assert!(
            text.contains("producerId: 42 producerEpoch: 3")
                && text.contains("firstSequence: 7 lastSequence: 7 lastOffset: 0"),
            "{text}"
        );
        let mut bytes = std::fs::read(&path).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        std::fs::write(&path, bytes).unwrap();
        assert!(dump(&path, false).contains("Snapshot is corrupt"));
    }

    #[test]
    fn missing_file_is_an_io_error() {
        let mut out = Vec::new();
        assert!(matches!(
            dump_segment(
                Path::new("/nonexistent/00000000000000000000.log"),
                false,
                &mut out
            ),
            Err(LogError::Io { .. })
        ));
    }
}
