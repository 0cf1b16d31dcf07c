//! Property tests: random batches survive append/read round trips, reopening, and torn or corrupted
//! tails.

use bytes::Bytes;
use kafka_protocol::records::Compression;
use proptest::prelude::*;

use crate::batch::{self, LEADER_EPOCH_POS};
use crate::testutil::{batch, read_all, rec};
use crate::{Log, LogConfig};

const CODECS: [Compression; 5] = [
    Compression::None,
    Compression::Gzip,
    Compression::Snappy,
    Compression::Lz4,
    Compression::Zstd,
];

/// (records as (key, value), codec index, timestamp)
type BatchSpec = (Vec<(Option<Vec<u8>>, Option<Vec<u8>>)>, usize, i64);

fn batch_spec() -> impl Strategy<Value = BatchSpec> {
    (
        prop::collection::vec(
            (
                prop::option::of(prop::collection::vec(any::<u8>(), 0..12)),
                prop::option::of(prop::collection::vec(any::<u8>(), 0..60)),
            ),
            1..8,
        ),
        0..CODECS.len(),
        0i64..1_000_000,
    )
}

fn encode(spec: &BatchSpec) -> Vec<u8> {
    let records: Vec<_> = spec
        .0
        .iter()
        .map(|(k, v)| {
            let mut r = rec("", "");
            r.key = k.clone().map(Bytes::from);
            r.value = v.clone().map(Bytes::from);
            r
        })
        .collect();
    batch(&records, spec.2, CODECS[spec.1])
}

fn config(segment_bytes: u64, interval: u32) -> LogConfig {
    LogConfig {
        segment_bytes,
        index_interval_bytes: interval,
        ..LogConfig::default()
    }
}

/// Appends every spec, returning each batch exactly as it must be stored.
fn append_all(log: &mut Log, specs: &[BatchSpec]) -> Vec<Vec<u8>> {
    let mut stored = Vec::new();
    for (i, spec) in specs.iter().enumerate() {
        let producer = encode(spec);
        let epoch = i as i32 % 3;
        let info = log.append(&producer, epoch, spec.2).expect("append");
        let mut expect = producer.clone();
        batch::put_i64(&mut expect, 0, info.base_offset);
        batch::put_i32(&mut expect, LEADER_EPOCH_POS, epoch);
        stored.push(expect);
    }
    stored
}

/// `read_region` names exactly the bytes `read` returns, and spans their offsets.
fn region_matches_read(log: &Log, offset: i64, max_bytes: usize) -> bool {
    let read = log.read(offset, max_bytes).unwrap();
    let region = log.read_region(offset, max_bytes).unwrap();
    let Some(r) = &region.region else {
        return read.records.is_empty();
    };
    let mut span = 0u64;
    for b in batch::batches(&read.records) {
        let (h, _) = b.unwrap();
        span += (h.last_offset() - h.base_offset + 1) as u64;
    }
    r.is_resident()
        && r.read().unwrap() == read.records
        && region.offset_span() == span
        && region.log_end_offset == read.log_end_offset
        && region.log_start_offset == read.log_start_offset
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn appended_batches_read_back_byte_identical(
        specs in prop::collection::vec(batch_spec(), 1..40),
        segment_bytes in 150u64..3000,
        interval in 0u32..600,
        max_bytes in 0usize..2000,
        probes in prop::collection::vec(any::<prop::sample::Index>(), 8),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let config = config(segment_bytes, interval);
        let (mut log, _) = Log::open(dir.path(), config.clone()).unwrap();
        let stored = append_all(&mut log, &specs);
        let expected: Vec<u8> = stored.concat();
        prop_assert_eq!(log.size_bytes(), expected.len() as u64);
        prop_assert!(read_all(&log, max_bytes) == expected);

        // Any offset returns the batch that holds it.
        let leo = log.log_end_offset();
        for p in &probes {
            let offset = p.index(leo as usize) as i64;
            let r = log.read(offset, max_bytes).unwrap();
            let h = batch::validate(&r.records).unwrap();
            prop_assert!(h.base_offset <= offset && offset <= h.last_offset());
            prop_assert!(stored.iter().any(|b| b[..] == r.records[..h.total_size()]));
            prop_assert!(region_matches_read(&log, offset, max_bytes));
        }

        // Clean and unclean reopen keep everything.
        log.close().unwrap();
        let (log, report) = Log::open(dir.path(), config.clone()).unwrap();
        prop_assert_eq!(report.rebuilt_indexes, 0);
        prop_assert!(read_all(&log, max_bytes) == expected);
        // Now the index entries come from the files, read on first use.
        for p in &probes {
            prop_assert!(region_matches_read(&log, p.index(leo as usize) as i64, max_bytes));
        }
        drop(log);
        let (log, report) = Log::open(dir.path(), config).unwrap();
        prop_assert_eq!(report.truncated_bytes, 0);
        prop_assert_eq!(log.log_end_offset(), leo);
        prop_assert!(read_all(&log, usize::MAX) == expected);
    }

    #[test]
    fn damaged_tail_is_cut_at_the_first_bad_batch(
        specs in prop::collection::vec(batch_spec(), 1..25),
        segment_bytes in 300u64..3000,
        cut in any::<bool>(),
        where_ in any::<prop::sample::Index>(),
        bit in 0u8..8,
    ) {
        let dir = tempfile::tempdir().unwrap();
        let config = config(segment_bytes, 100);
        let (mut log, _) = Log::open(dir.path(), config.clone()).unwrap();
        let stored = append_all(&mut log, &specs);
        let active_base = log.active.base_offset();
        let path = log.active.log_path.clone();
        drop(log); // crash: no clean-shutdown marker

        // The active segment's batches and where each starts in its file.
        let first_active = stored
            .iter()
            .position(|b| batch::BatchHeader::parse(b).unwrap().base_offset >= active_base)
            .unwrap();
        let mut starts = Vec::new();
        let mut pos = 0usize;
        for b in &stored[first_active..] {
            starts.push(pos);
            pos += b.len();
        }
        let mut raw = std::fs::read(&path).unwrap();
        prop_assert_eq!(raw.len(), pos);

        // The first damaged batch (index into `stored`).
        let damaged = if cut {
            let at = where_.index(raw.len());
            raw.truncate(at);
            // A cut exactly at a batch start removes that whole batch (nothing left to truncate).
            first_active + starts.iter().rposition(|&s| s <= at).unwrap()
        } else {
            // The leader epoch is not covered by the CRC (as in Kafka), so a flip there is
            // undetectable by design; every other byte is protected.
            let mut at = where_.index(raw.len());
            let k = starts.iter().rposition(|&s| s <= at).unwrap();
            if (12..16).contains(&(at - starts[k])) {
                at = starts[k] + 20;
            }
            raw[at] ^= 1 << bit;
            first_active + k
        };
        std::fs::write(&path, &raw).unwrap();

        let (mut log, report) = Log::open(dir.path(), config).unwrap();
        let intact: Vec<u8> = stored[..damaged].concat();
        let expected_leo = batch::BatchHeader::parse(&stored[damaged]).unwrap().base_offset;
        prop_assert!(read_all(&log, usize::MAX) == intact);
        prop_assert_eq!(log.log_end_offset(), expected_leo);
        prop_assert_eq!(report.log_end_offset, expected_leo);
        let cut_at = (starts[damaged - first_active]) as u64;
        prop_assert_eq!(report.truncated_bytes, raw.len() as u64 - cut_at);
        if report.truncated_bytes > 0 {
            prop_assert_eq!(report.truncated_at.clone(), Some((path.clone(), cut_at)));
            prop_assert!(report.truncate_reason.is_some());
        }

        // Appending continues right after the last intact batch.
        let again = encode(&specs[0]);
        let info = log.append(&again, 9, 0).unwrap();
        prop_assert_eq!(info.base_offset, expected_leo);
        let r = log.read(expected_leo, 1).unwrap();
        prop_assert_eq!(&r.records[16..], &again[16..]);
    }
}

/// Every public operation on a log whose files were scribbled over; errors are fine, panics are not.
fn exercise(dir: &std::path::Path, config: LogConfig) {
    let Ok((mut log, _)) = Log::open(dir, config) else {
        return;
    };
    let mut offset = log.log_start_offset();
    for _ in 0..10_000 {
        match log.read(offset, 300) {
            Ok(r) if !r.records.is_empty() => {
                let mut next = offset;
                for b in batch::batches(&r.records) {
                    match b {
                        Ok((h, _)) => next = next.max(h.last_offset().saturating_add(1)),
                        Err(_) => break,
                    }
                }
                if next <= offset {
                    break;
                }
                offset = next;
            }
            _ => break,
        }
    }
    let _ = log.offset_for_timestamp(0);
    let _ = log.offset_for_timestamp(500_000);
    let _ = log.max_timestamp_offset();
    for entry in std::fs::read_dir(dir).unwrap() {
        let mut out = Vec::new();
        let _ = crate::dump::dump_segment(&entry.unwrap().path(), true, &mut out);
    }
    let _ = log.compact(2_000_000);
    let _ = log.enforce_retention(2_000_000);
    let _ = log.append(&encode(&(vec![(Some(vec![1]), Some(vec![2]))], 0, 5)), 0, 5);
    let _ = log.delete_records_before(log.log_end_offset());
    let _ = log.close();
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn garbage_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
        let _ = batch::validate(&bytes);
        let _ = batch::BatchHeader::parse(&bytes);
        for b in batch::batches(&bytes) {
            let _ = b;
        }
        let dir = tempfile::tempdir().unwrap();
        let (mut log, _) = Log::open(dir.path(), LogConfig::default()).unwrap();
        let _ = log.append(&bytes, 0, 0);
        drop(log);
        std::fs::write(dir.path().join("00000000000000000000.log"), &bytes).unwrap();
        exercise(dir.path(), LogConfig::default());
    }

    #[test]
    fn scribbled_files_never_panic(
        specs in prop::collection::vec(batch_spec(), 1..20),
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<prop::sample::Index>(), any::<u8>()), 1..6),
        compact in any::<bool>(),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let mut config = config(400, 50);
        config.cleanup_policy.compact = compact;
        config.cleanup_policy.delete = !compact;
        let (mut log, _) = Log::open(dir.path(), config.clone()).unwrap();
        for spec in &specs {
            let mut spec = spec.clone();
            for r in &mut spec.0 {
                r.0.get_or_insert_with(Vec::new);
            }
            log.append(&encode(&spec), 0, spec.2).unwrap();
        }
        log.close().unwrap();
        let mut files: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.is_file())
            .collect();
        files.sort();
        for (file, at, byte) in &edits {
            let path = &files[file.index(files.len())];
            let mut raw = std::fs::read(path).unwrap();
            if raw.is_empty() {
                continue;
            }
            let i = at.index(raw.len());
            raw[i] = *byte;
            std::fs::write(path, &raw).unwrap();
        }
        exercise(dir.path(), config);
    }
}

/// (offset, key, value) of one stored record.
type Stored = (i64, Vec<u8>, Option<Vec<u8>>);

/// Every (offset, key, value) in the log, by our own record stream.
fn records_of(log: &Log) -> Vec<Stored> {
    use crate::record::{DecodeLimits, RecordStream};
    let all = read_all(log, 1 << 20);
    let mut out = Vec::new();
    for b in batch::batches(&all) {
        let (h, bytes) = b.expect("stored batch");
        let mut s = RecordStream::open(bytes, &h, DecodeLimits::for_batch(&h, 1 << 20)).unwrap();
        while let Some(r) = s.next_record().unwrap() {
            let key = r.key.map(<[u8]>::to_vec).unwrap_or_default();
            out.push((r.offset(&h), key, r.value.map(<[u8]>::to_vec)));
        }
    }
    out
}

/// Latest value (or tombstone) per key, and the offset it is at.
fn latest(recs: &[Stored]) -> std::collections::BTreeMap<Vec<u8>, (i64, Option<Vec<u8>>)> {
    recs.iter()
        .map(|(o, k, v)| (k.clone(), (*o, v.clone())))
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]

    /// Whatever the codecs, segment sizes, rolls and key-map size, compaction passes (run until none is
    /// due) never change the latest value of any key, keep offsets increasing and only remove records.
    #[test]
    fn compaction_keeps_the_latest_value_of_every_key(
        writes in prop::collection::vec((0u8..6, prop::option::of(0u16..1000), 0..CODECS.len(), any::<bool>()), 1..40),
        map_keys in 1u64..8,
        segment_bytes in 200u64..2000,
    ) {
        let dir = tempfile::tempdir().unwrap();
        let cfg = LogConfig {
            cleanup_policy: crate::CleanupPolicy { delete: false, compact: true },
            min_cleanable_dirty_ratio: 0.0,
            cleaner_dedupe_buffer_bytes: map_keys * crate::cleaner::MAP_ENTRY_BYTES,
            delete_retention_ms: 1_000_000,
            ..config(segment_bytes, 64)
        };
        let (mut log, _) = Log::open(dir.path(), cfg).unwrap();
        for (key, value, codec, roll) in &writes {
            let mut r = rec(&format!("key-{key}"), "");
            r.value = value.map(|v| Bytes::from(v.to_string()));
            log.append(&batch(&[r], 1000, CODECS[*codec]), 0, 1000).unwrap();
            if *roll {
                log.roll(1000).unwrap();
            }
        }
        let before = records_of(&log);
        let mut passes = 0;
        while log.plan_compaction(2000).unwrap().is_some() {
            log.compact(2000).unwrap();
            passes += 1;
            prop_assert!(passes <= 64, "compaction never settles");
        }
        let after = records_of(&log);
        prop_assert_eq!(latest(&after), latest(&before));
        prop_assert!(after.windows(2).all(|w| w[0].0 < w[1].0));
        prop_assert!(after.iter().all(|r| before.contains(r)));
        // Nothing is due any more, and a reopen sees the same records.
        log.close().unwrap();
        let (log, _) = Log::open(dir.path(), LogConfig {
            cleanup_policy: crate::CleanupPolicy { delete: false, compact: true },
            ..config(segment_bytes, 64)
        }).unwrap();
        prop_assert_eq!(records_of(&log), after);
    }
}
