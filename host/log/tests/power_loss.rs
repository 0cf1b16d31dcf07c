//! Durability under power loss and behaviour on failed writes/fsyncs, through the fault-injecting file
//! layer (`cargo test -p weft-log --features fault-injection --test power_loss`).
//!
//! What survives a power loss (the contract docs/architecture.md states): with `flush.messages=1` every
//! acknowledged append; with the default policy only what a flush made durable — segments sealed by a
//! roll once the background flush (`flush_rolled`/`maybe_flush`) ran, the active segment up to its last
//! flush — and the log always reopens as a contiguous, uncorrupted prefix of what was appended.

use std::path::Path;

use bytes::{Bytes, BytesMut};
use kafka_protocol::indexmap::IndexMap;
use kafka_protocol::records::{
    Compression, Record, RecordBatchEncoder, RecordEncodeOptions, TimestampType,
};
use weft_log::{fault, Log, LogConfig, LogError};

/// One producer batch of `n` records whose values name `tag`.
fn batch(tag: usize, n: usize) -> Vec<u8> {
    encode_batch((0..n).map(|i| {
        (
            format!("key-{tag}-{i}"),
            format!("value-{tag}-{i}-{}", "x".repeat(40)),
            1_000 + tag as i64,
        )
    }))
}

/// An uncompressed producer batch of `(key, value, timestamp)` records, encoded by kafka-protocol
/// (an encoder independent of weft-log's own code).
fn encode_batch(records: impl Iterator<Item = (String, String, i64)>) -> Vec<u8> {
    let records: Vec<Record> = records
        .enumerate()
        .map(|(i, (key, value, timestamp))| Record {
            transactional: false,
            control: false,
            delete_horizon: false,
            partition_leader_epoch: -1,
            producer_id: -1,
            producer_epoch: -1,
            timestamp_type: TimestampType::Creation,
            offset: i as i64,
            // The encoder starts a new batch unless sequences follow on; base sequence -1 is what a
            // non-idempotent producer sends.
            sequence: i as i32 - 1,
            timestamp,
            key: Some(Bytes::from(key)),
            value: Some(Bytes::from(value)),
            headers: IndexMap::new(),
        })
        .collect();
    let mut out = BytesMut::new();
    RecordBatchEncoder::encode(
        &mut out,
        &records,
        &RecordEncodeOptions {
            version: 2,
            compression: Compression::None,
        },
    )
    .unwrap();
    out.to_vec()
}

fn config(flush_messages: u64) -> LogConfig {
    LogConfig {
        segment_bytes: 2048,
        index_interval_bytes: 256,
        flush_messages,
        ..LogConfig::default()
    }
}

/// Everything readable, batch by batch, as (base offset, bytes after the 12-byte offset/length
/// prefix and 4-byte epoch, which the log patches).
fn read_batches(log: &Log) -> Vec<(i64, Vec<u8>)> {
    let mut out = Vec::new();
    let mut offset = log.log_start_offset();
    while offset < log.log_end_offset() {
        let r = log.read(offset, 1 << 20).unwrap();
        let mut rest = &r.records[..];
        assert!(!rest.is_empty(), "no batch at offset {offset}");
        while !rest.is_empty() {
            let base = i64::from_be_bytes(rest[..8].try_into().unwrap());
            let len = i32::from_be_bytes(rest[8..12].try_into().unwrap()) as usize + 12;
            let count = i32::from_be_bytes(rest[57..61].try_into().unwrap()) as i64;
            out.push((base, rest[16..len].to_vec()));
            offset = base + count;
            rest = &rest[len..];
        }
    }
    out
}

/// What was appended, as (base offset, the producer's bytes after the patched prefix).
type Appended = Vec<(i64, Vec<u8>)>;

fn append(log: &mut Log, appended: &mut Appended, tag: usize) -> i64 {
    let b = batch(tag, 1 + tag % 4);
    let info = log.append(&b, 0, 1_000 + tag as i64).unwrap();
    appended.push((info.base_offset, b[16..].to_vec()));
    info.last_offset + 1
}

/// The reopened log holds exactly the first batches of `appended`, offsets contiguous from 0.
fn assert_prefix(log: &Log, appended: &Appended) -> usize {
    let got = read_batches(log);
    assert!(got.len() <= appended.len(), "more batches than appended");
    assert_eq!(
        &got[..],
        &appended[..got.len()],
        "not a prefix of what was appended"
    );
    if let Some((next_base, _)) = appended.get(got.len()) {
        // Offsets are contiguous, so the first batch not kept starts where the log now ends.
        assert_eq!(
            log.log_end_offset(),
            *next_base,
            "log end is where the prefix ends"
        );
    }
    got.len()
}

fn open(dir: &Path, config: LogConfig) -> Log {
    Log::open(dir, config).unwrap().0
}

#[test]
fn flush_messages_1_keeps_every_acknowledged_append_across_power_loss() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("t-0");
    let scope = fault::arm(tmp.path());
    let mut appended = Appended::new();
    let mut log = open(&dir, config(1));
    for tag in 0..60 {
        append(&mut log, &mut appended, tag);
    }
    assert!(log.segment_count() > 3, "the test must cross rolls");
    let leo = log.log_end_offset();
    drop(log);
    scope.power_loss().unwrap();

    let (log, report) = Log::open(&dir, config(1)).unwrap();
    assert_eq!(report.truncated_bytes, 0, "{report:?}");
    assert_eq!(log.log_end_offset(), leo);
    assert_eq!(assert_prefix(&log, &appended), appended.len());
    drop(log);

    // Again after a reopen, with a background flush in between.
    let mut log = open(&dir, config(1));
    for tag in 60..90 {
        append(&mut log, &mut appended, tag);
    }
    log.maybe_flush(0).unwrap();
    for tag in 90..100 {
        append(&mut log, &mut appended, tag);
    }
    drop(log);
    scope.power_loss().unwrap();
    let log = open(&dir, config(1));
    assert_eq!(assert_prefix(&log, &appended), appended.len());
}

#[test]
fn default_policy_keeps_what_was_flushed_and_a_consistent_prefix() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("t-0");
    let scope = fault::arm(tmp.path());
    let mut appended = Appended::new();
    let mut log = open(&dir, config(u64::MAX));
    for tag in 0..40 {
        append(&mut log, &mut appended, tag);
    }
    assert!(log.has_unflushed_rolled());
    // The broker's periodic flush: rolled segments become durable, the recovery point moves to the
    // active segment's base and is checkpointed.
    assert!(log.maybe_flush(0).unwrap());
    assert!(!log.has_unflushed_rolled());
    let durable = log.recovery_point();
    assert!(durable > 0);
    let durable_batches = appended.iter().filter(|(b, _)| *b < durable).count();
    for tag in 40..80 {
        append(&mut log, &mut appended, tag);
    }
    assert!(log.has_unflushed_rolled());
    drop(log);
    scope.power_loss().unwrap();

    let (mut log, _) = Log::open(&dir, config(u64::MAX)).unwrap();
    let kept = assert_prefix(&log, &appended);
    assert!(kept < appended.len(), "the unflushed appends must be gone");
    assert!(
        kept >= durable_batches,
        "lost flushed batches: kept {kept} of {durable_batches}"
    );
    assert!(log.log_end_offset() >= durable);
    // The log accepts appends where it ends.
    let leo = log.log_end_offset();
    assert_eq!(log.append(&batch(999, 1), 0, 0).unwrap().base_offset, leo);

    // Without any flush, a power loss may take everything appended since the last one, and the log
    // still reopens consistent.
    let mut appended: Appended = read_batches(&log);
    for tag in 100..140 {
        append(&mut log, &mut appended, tag);
    }
    drop(log);
    scope.power_loss().unwrap();
    let log = open(&dir, config(u64::MAX));
    assert!(assert_prefix(&log, &appended) >= kept);
}

#[test]
fn rolling_does_not_fsync_on_the_append_path() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("t-0");
    let mut log = open(&dir, config(u64::MAX));
    let scope = fault::arm(tmp.path());
    let mut appended = Appended::new();
    for tag in 0..40 {
        append(&mut log, &mut appended, tag);
    }
    assert!(log.segment_count() > 3);
    assert_eq!(scope.fsyncs(), 0, "rolls fsynced on the append path");
    assert_eq!(log.recovery_point(), 0);
    let flushed = log.flush_rolled().unwrap();
    assert_eq!(flushed, log.segment_count() - 1);
    assert!(scope.fsyncs() > 0);
    assert!(log.recovery_point() > 0);
    assert_eq!(
        std::fs::read_to_string(dir.join("recovery-point")).unwrap(),
        format!("0\n{}\n", log.recovery_point())
    );
    assert_eq!(log.flush_rolled().unwrap(), 0, "nothing left to flush");
}

#[test]
fn failed_fsync_takes_the_log_offline_and_nothing_is_appended_twice() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("t-0");
    let scope = fault::arm(tmp.path());
    let mut log = open(&dir, config(1));
    let mut appended = Appended::new();
    for tag in 0..3 {
        append(&mut log, &mut appended, tag);
    }
    let before = log.log_end_offset();
    scope.fail_next_fsyncs(1);
    let b = batch(3, 2);
    let err = log.append(&b, 0, 0).unwrap_err();
    assert!(matches!(err, LogError::Io { .. }), "{err}");
    assert!(err.is_storage_error());
    assert!(log.is_offline());
    // The client retries the append it saw fail: refused, not stored a second time.
    let retry = log.append(&b, 0, 0).unwrap_err();
    assert!(matches!(retry, LogError::Offline { .. }), "{retry}");
    assert!(retry.is_storage_error());
    assert!(matches!(log.read(0, 100), Err(LogError::Offline { .. })));
    assert!(matches!(log.flush(), Err(LogError::Offline { .. })));
    assert!(matches!(
        log.maybe_flush(i64::MAX),
        Err(LogError::Offline { .. })
    ));
    assert!(log.close().is_err(), "an offline log is not closed cleanly");
    assert!(!dir.join("clean-shutdown").exists());

    // After a restart the write that preceded the failed fsync is there exactly once.
    let log = open(&dir, config(1));
    let got = read_batches(&log);
    assert_eq!(&got[..3], &appended[..]);
    assert_eq!(got.len(), 4, "the batch whose fsync failed appears once");
    assert_eq!(got[3], (before, b[16..].to_vec()));
}

#[test]
fn failed_write_takes_the_log_offline_without_a_partial_batch() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("t-0");
    let scope = fault::arm(tmp.path());
    let mut log = open(&dir, config(u64::MAX));
    let mut appended = Appended::new();
    append(&mut log, &mut appended, 0);
    let (size, leo) = (log.size_bytes(), log.log_end_offset());
    scope.fail_next_writes(1);
    assert!(matches!(
        log.append(&batch(1, 1), 0, 0),
        Err(LogError::Io { .. })
    ));
    assert!(matches!(
        log.append(&batch(1, 1), 0, 0),
        Err(LogError::Offline { .. })
    ));
    assert_eq!((log.size_bytes(), log.log_end_offset()), (size, leo));
    drop(log);
    let log = open(&dir, config(u64::MAX));
    assert_eq!(read_batches(&log), appended);
}

#[test]
fn failed_background_flush_takes_the_log_offline() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("t-0");
    let scope = fault::arm(tmp.path());
    let mut log = open(&dir, config(u64::MAX));
    let mut appended = Appended::new();
    for tag in 0..40 {
        append(&mut log, &mut appended, tag);
    }
    scope.fail_next_fsyncs(1);
    assert!(matches!(log.flush_rolled(), Err(LogError::Io { .. })));
    assert!(log.is_offline());
    assert!(matches!(
        log.append(&batch(1, 1), 0, 0),
        Err(LogError::Offline { .. })
    ));
}

#[test]
fn broker_can_take_a_log_offline() {
    let tmp = tempfile::tempdir().unwrap();
    let mut log = open(&tmp.path().join("t-0"), config(1));
    log.set_offline("another log in this directory failed");
    let err = log.append(&batch(0, 1), 0, 0).unwrap_err();
    assert!(
        err.to_string()
            .contains("another log in this directory failed"),
        "{err}"
    );
}

#[test]
fn failed_retention_takes_the_log_offline() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("t-0");
    let scope = fault::arm(tmp.path());
    let mut log = open(&dir, config(u64::MAX));
    let mut appended = Appended::new();
    for tag in 0..40 {
        append(&mut log, &mut appended, tag);
    }
    // DeleteRecords checkpoints the new start offset first: make that write fail.
    scope.fail_next_writes(1);
    let err = log.delete_records_before(appended[10].0).unwrap_err();
    assert!(matches!(err, LogError::Io { .. }), "{err}");
    assert!(matches!(
        log.enforce_retention(i64::MAX),
        Err(LogError::Offline { .. })
    ));
    assert!(matches!(log.read(0, 100), Err(LogError::Offline { .. })));
}

/// Compaction's files go through the same layer: a compacted log whose keys repeat.
fn compacted_config() -> LogConfig {
    LogConfig {
        segment_bytes: 400,
        index_interval_bytes: 64,
        cleanup_policy: weft_log::CleanupPolicy {
            delete: false,
            compact: true,
        },
        min_cleanable_dirty_ratio: 0.0,
        flush_messages: u64::MAX,
        ..LogConfig::default()
    }
}

/// One batch of records (`key-<k>` for each k of `keys`, value `v-<tag>-<i>`).
fn keyed_batch(tag: usize, keys: &[usize]) -> Vec<u8> {
    encode_batch(keys.iter().enumerate().map(|(i, k)| {
        (
            format!("key-{k}"),
            format!("v-{tag}-{i}-{}", "y".repeat(30)),
            1_000,
        )
    }))
}

/// A compacted log of several sealed segments in which most records are shadowed by later ones.
fn fill_compacted(dir: &Path) -> Log {
    let mut log = open(dir, compacted_config());
    for tag in 0..16 {
        let keys: Vec<usize> = (0..1 + tag % 3).map(|i| (tag + i) % 6).collect();
        log.append(&keyed_batch(tag, &keys), 0, 1_000).unwrap();
    }
    assert!(log.segment_count() > 4, "the test needs sealed segments");
    log
}

/// Every record readable, as (offset, key, value).
fn records(log: &Log) -> Vec<(i64, String, String)> {
    let mut out = Vec::new();
    let mut offset = log.log_start_offset();
    while offset < log.log_end_offset() {
        let r = log.read(offset, 1 << 20).unwrap().records;
        assert!(!r.is_empty(), "no batch at offset {offset}");
        for item in weft_log::batch::batches(&r) {
            let (h, bytes) = item.unwrap();
            // A cleaned batch keeps its offset range, so the next read starts after the range.
            offset = offset.max(h.last_offset() + 1);
            let mut bytes = Bytes::copy_from_slice(bytes);
            let batch = kafka_protocol::records::RecordBatchDecoder::decode(&mut bytes).unwrap();
            for rec in batch.records {
                let text = |b: Option<Bytes>| String::from_utf8(b.unwrap().to_vec()).unwrap();
                out.push((rec.offset, text(rec.key), text(rec.value)));
            }
        }
    }
    out
}

fn leftovers(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|f| f.ends_with(".cleaned") || f.ends_with(".deleted") || f.ends_with(".swap"))
        .collect()
}

/// A log reopened after an interrupted compaction holds every record compaction keeps and only
/// records that were there before (so each key's latest value is intact): each swapped group is
/// either wholly in or wholly out, never half-swapped.
fn assert_between(
    got: &[(i64, String, String)],
    before: &[(i64, String, String)],
    after: &[(i64, String, String)],
    what: &str,
) {
    for r in after {
        assert!(
            got.contains(r),
            "{what}: lost {r:?}, which compaction keeps"
        );
    }
    for r in got {
        assert!(before.contains(r), "{what}: {r:?} was never appended");
    }
    assert!(
        got.windows(2).all(|w| w[0].0 < w[1].0),
        "{what}: offsets out of order"
    );
}

#[test]
fn a_failure_at_any_step_of_compaction_loses_nothing_and_takes_the_log_offline() {
    const NOW: i64 = 2_000;
    // What the log holds before and after a compaction nothing interrupts.
    let tmp = tempfile::tempdir().unwrap();
    let mut log = fill_compacted(&tmp.path().join("t-0"));
    let before = records(&log);
    let report = log.compact(NOW).unwrap();
    assert!(
        report.segments_rewritten > 1 && report.records_removed > 0,
        "{report:?}"
    );
    let after = records(&log);
    assert!(after.len() < before.len());
    drop(log);

    for op in [fault::Op::Write, fault::Op::Fsync, fault::Op::Rename] {
        let mut failures = 0;
        for skip in 0.. {
            let mut reached = false;
            for power_loss in [false, true] {
                let what = format!("{op:?} #{skip} failing, power loss: {power_loss}");
                let tmp = tempfile::tempdir().unwrap();
                let dir = tmp.path().join("t-0");
                let mut log = fill_compacted(&dir);
                // Armed after filling: what was appended counts as durable, as after a flush.
                let scope = fault::arm(tmp.path());
                scope.fail_after(op, skip);
                let result = log.compact(NOW);
                if scope.failure_pending() {
                    // Compaction finished before reaching the failure: it must have succeeded.
                    assert_eq!(result.unwrap(), report, "{what}");
                    drop(log);
                    if power_loss {
                        scope.power_loss().unwrap();
                        drop(scope);
                        let log = open(&dir, compacted_config());
                        assert_eq!(
                            records(&log),
                            after,
                            "{what}: a finished compaction must be durable"
                        );
                    }
                    continue;
                }
                reached = true;
                let err = result.unwrap_err();
                assert!(err.is_storage_error(), "{what}: {err}");
                assert!(err.to_string().contains("injected"), "{what}: {err}");
                assert!(log.is_offline(), "{what}");
                assert!(
                    matches!(log.read(0, 100), Err(LogError::Offline { .. })),
                    "{what}"
                );
                assert!(
                    matches!(
                        log.append(&keyed_batch(99, &[1]), 0, 1_000),
                        Err(LogError::Offline { .. })
                    ),
                    "{what}"
                );
                assert!(
                    matches!(log.compact(NOW), Err(LogError::Offline { .. })),
                    "{what}"
                );
                drop(log);
                if power_loss {
                    scope.power_loss().unwrap();
                }
                drop(scope);
                let mut log = open(&dir, compacted_config());
                assert_eq!(leftovers(&dir), Vec::<String>::new(), "{what}");
                assert_between(&records(&log), &before, &after, &what);
                // The reopened log compacts to the same result.
                log.compact(NOW).unwrap();
                assert_eq!(records(&log), after, "{what}");
            }
            if !reached {
                break;
            }
            failures += 1;
        }
        eprintln!("{op:?}: {failures} failure points");
        assert!(failures > 0, "no {op:?} in compaction was failed");
    }
}
