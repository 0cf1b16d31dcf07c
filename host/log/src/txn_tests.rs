//! Tests of the log side of transactions: markers, the last stable offset, the `.txnindex` entries,
//! read_committed reads, and what recovery rebuilds.

use crate::batch::{self, ATTRIBUTES_POS, CRC_POS, TRANSACTIONAL_BIT};
use crate::testutil::{batch, rec};
use crate::txn_index::{txn_index_path, AbortedTxn};
use crate::{Log, LogConfig, LogError, TxnMarker};
use kafka_protocol::records::Compression;

/// A batch of `n` records from producer `pid` (epoch `epoch`, first sequence `seq`), transactional
/// or not.
pub(crate) fn producer_batch(pid: i64, epoch: i16, seq: i32, n: usize, txn: bool) -> Vec<u8> {
    let recs: Vec<_> = (0..n).map(|i| rec(&format!("k{i}"), "value")).collect();
    let mut b = batch(&recs, 1000, Compression::None);
    b[43..51].copy_from_slice(&pid.to_be_bytes());
    b[51..53].copy_from_slice(&epoch.to_be_bytes());
    b[53..57].copy_from_slice(&seq.to_be_bytes());
    if txn {
        let a = batch::get_i16(&b, ATTRIBUTES_POS) | TRANSACTIONAL_BIT;
        batch::put_i16(&mut b, ATTRIBUTES_POS, a);
    }
    let crc = batch::compute_crc(&b);
    batch::put_u32(&mut b, CRC_POS, crc);
    b
}

pub(crate) fn marker(pid: i64, epoch: i16, commit: bool) -> TxnMarker {
    TxnMarker {
        producer_id: pid,
        producer_epoch: epoch,
        coordinator_epoch: 0,
        commit,
    }
}

/// Offsets of the batches a read returned, as (base, last).
fn ranges(records: &[u8]) -> Vec<(i64, i64)> {
    batch::batches(records)
        .map(|b| {
            let (h, _) = b.unwrap();
            (h.base_offset, h.last_offset())
        })
        .collect()
}

fn open(dir: &std::path::Path, config: LogConfig) -> Log {
    Log::open(dir, config).unwrap().0
}

/// pid 1 commits offsets 0-1, offset 2 is plain, pid 2 writes 3-4 and aborts: markers at 5 and 6.
fn commit_and_abort(log: &mut Log) {
    log.append(&producer_batch(1, 0, 0, 2, true), -1, 2000)
        .unwrap();
    log.append(&producer_batch(-1, -1, -1, 1, false), -1, 2000)
        .unwrap();
    log.append(&producer_batch(2, 0, 0, 2, true), -1, 2000)
        .unwrap();
    assert_eq!(log.last_stable_offset(), 0);
    assert_eq!(
        log.append_txn_marker_at(marker(1, 0, true), 3000).unwrap(),
        5
    );
    assert_eq!(log.last_stable_offset(), 3);
    assert_eq!(
        log.append_txn_marker_at(marker(2, 0, false), 3000).unwrap(),
        6
    );
    assert_eq!(log.last_stable_offset(), 7);
}

const ABORTED_2: AbortedTxn = AbortedTxn {
    producer_id: 2,
    first_offset: 3,
    last_offset: 6,
    last_stable_offset: 7,
};

#[test]
fn markers_end_transactions_move_the_lso_and_index_aborts() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = open(dir.path(), LogConfig::default());
    assert_eq!(log.last_stable_offset(), 0);
    commit_and_abort(&mut log);
    // The markers are control batches of one record each.
    let all = log.read(5, usize::MAX).unwrap().records;
    let (h, _) = batch::batches(&all).next().unwrap().unwrap();
    assert!(h.is_control() && h.is_transactional());
    assert_eq!((h.base_offset, h.producer_id, h.base_sequence), (5, 1, -1));
    assert_eq!(log.aborted_transactions(0, 7).unwrap(), vec![ABORTED_2]);
    assert_eq!(log.aborted_transactions(0, 3).unwrap(), vec![]);
    assert_eq!(log.aborted_transactions(6, 7).unwrap(), vec![ABORTED_2]);
    assert_eq!(log.aborted_transactions(7, 8).unwrap(), vec![]);
    let entry = log.producer_states().get(2).unwrap();
    assert_eq!(entry.current_txn_first_offset, None);
    assert_eq!(entry.coordinator_epoch, 0);
    // A commit marker for an aborted-only partition and a producer with nothing open is still written.
    assert_eq!(
        log.append_txn_marker_at(marker(9, 0, true), 3000).unwrap(),
        7
    );
    assert_eq!(log.last_stable_offset(), 8);
}

#[test]
fn markers_are_fenced_by_producer_and_coordinator_epoch() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = open(dir.path(), LogConfig::default());
    log.append(&producer_batch(1, 3, 0, 1, true), -1, 2000)
        .unwrap();
    let e = log
        .append_txn_marker_at(marker(1, 2, false), 3000)
        .unwrap_err();
    assert!(matches!(e, LogError::InvalidProducerEpoch(_)), "{e}");
    let m = TxnMarker {
        coordinator_epoch: 5,
        ..marker(1, 3, false)
    };
    log.append_txn_marker_at(m, 3000).unwrap();
    let m = TxnMarker {
        coordinator_epoch: 4,
        ..marker(1, 4, false)
    };
    let e = log.append_txn_marker_at(m, 3000).unwrap_err();
    assert!(matches!(e, LogError::CoordinatorFenced(_)), "{e}");
    assert_eq!(log.log_end_offset(), 2, "refused markers write nothing");
    // A bumped epoch (KIP-890 markers carry epoch + 1) is accepted and becomes the producer's.
    let m = TxnMarker {
        coordinator_epoch: 5,
        ..marker(1, 4, true)
    };
    log.append_txn_marker_at(m, 3000).unwrap();
    assert_eq!(log.producer_states().get(1).unwrap().epoch, 4);
}

#[test]
fn plain_batches_inside_an_open_transaction_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = open(dir.path(), LogConfig::default());
    log.append(&producer_batch(1, 0, 0, 1, true), -1, 2000)
        .unwrap();
    let e = log
        .append(&producer_batch(1, 0, 1, 1, false), -1, 2000)
        .unwrap_err();
    assert!(matches!(e, LogError::InvalidTxnState(_)), "{e}");
    // A transactional batch without a producer id is refused as Kafka's validator does.
    let e = log
        .append(&producer_batch(-1, -1, -1, 1, true), -1, 2000)
        .unwrap_err();
    assert!(matches!(e, LogError::InvalidRecord(_)), "{e}");
    log.append(&producer_batch(1, 0, 1, 1, true), -1, 2000)
        .unwrap();
    assert_eq!(log.last_stable_offset(), 0);
}

/// `read_committed_region`'s answer read into memory: `None` when it leaves the read to
/// `read_committed` (its batches reach the last stable offset).
fn region_committed(log: &Log, offset: i64, max: usize) -> Option<(Vec<u8>, Vec<AbortedTxn>)> {
    let (r, aborted) = log.read_committed_region(offset, max).unwrap()?;
    let bytes = r.region.map_or(Vec::new(), |r| r.read().unwrap().to_vec());
    Some((bytes, aborted))
}

/// `read_committed` as a region answers exactly what it answers in memory.
fn region_agrees(log: &Log, offset: i64, max: usize) {
    let (r, aborted) = log.read_committed(offset, max).unwrap();
    assert_eq!(
        region_committed(log, offset, max),
        Some((r.records.to_vec(), aborted)),
        "offset {offset}, max {max}"
    );
}

#[test]
fn read_committed_stops_at_the_lso_and_lists_aborts() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = open(dir.path(), LogConfig::default());
    log.append(&producer_batch(-1, -1, -1, 2, false), -1, 2000)
        .unwrap();
    log.append(&producer_batch(1, 0, 0, 2, true), -1, 2000)
        .unwrap();
    log.append(&producer_batch(-1, -1, -1, 1, false), -1, 2000)
        .unwrap();
    // Open transaction at 2: only 0-1 are readable.
    let (r, aborted) = log.read_committed(0, usize::MAX).unwrap();
    assert_eq!(ranges(&r.records), vec![(0, 1)]);
    assert!(aborted.is_empty());
    assert_eq!(region_committed(&log, 0, usize::MAX), None, "cut in memory");
    region_agrees(&log, 0, 1);
    region_agrees(&log, 2, usize::MAX);
    region_agrees(&log, 4, usize::MAX);
    assert!(matches!(
        log.read_committed_region(9, 1),
        Err(LogError::OffsetOutOfRange { .. })
    ));
    let (r, _) = log.read_committed(2, usize::MAX).unwrap();
    assert!(r.records.is_empty());
    let (r, _) = log.read_committed(4, usize::MAX).unwrap();
    assert!(r.records.is_empty(), "past the LSO but below the end");
    assert!(matches!(
        log.read_committed(9, 1),
        Err(LogError::OffsetOutOfRange { .. })
    ));
    log.append_txn_marker_at(marker(1, 0, false), 3000).unwrap();
    let (r, aborted) = log.read_committed(0, usize::MAX).unwrap();
    assert_eq!(ranges(&r.records), vec![(0, 1), (2, 3), (4, 4), (5, 5)]);
    assert_eq!(
        aborted,
        vec![AbortedTxn {
            producer_id: 1,
            first_offset: 2,
            last_offset: 5,
            last_stable_offset: 6
        }]
    );
    // A read that ends before the aborted transaction does not list it.
    let (r, aborted) = log.read_committed(0, 1).unwrap();
    assert_eq!(ranges(&r.records), vec![(0, 1)]);
    assert!(aborted.is_empty());
    for offset in 0..6 {
        for max in [1, 100, 200, usize::MAX] {
            region_agrees(&log, offset, max);
        }
    }
}

#[test]
fn unclean_reopen_rebuilds_open_transactions_and_the_index() {
    let dir = tempfile::tempdir().unwrap();
    let config = LogConfig {
        segment_bytes: 300,
        ..LogConfig::default()
    };
    let mut log = open(dir.path(), config.clone());
    commit_and_abort(&mut log);
    log.append(&producer_batch(3, 0, 0, 1, true), -1, 2000)
        .unwrap();
    for i in 0..4 {
        log.append(&producer_batch(4, 0, i, 1, false), -1, 2000)
            .unwrap();
    }
    assert!(log.segment_count() > 2);
    let (lso, end) = (log.last_stable_offset(), log.log_end_offset());
    assert_eq!(lso, 7);
    let aborted = log.aborted_transactions(0, end).unwrap();
    assert_eq!(aborted, vec![ABORTED_2]);
    // kill -9: no close. Then also lose every .txnindex file.
    drop(log);
    for e in std::fs::read_dir(dir.path()).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "txnindex") {
            std::fs::write(&p, [1u8; 7]).unwrap();
        }
    }
    let mut log = open(dir.path(), config.clone());
    assert_eq!(log.last_stable_offset(), lso);
    assert_eq!(log.aborted_transactions(0, end).unwrap(), aborted);
    assert_eq!(
        log.producer_states()
            .get(3)
            .unwrap()
            .current_txn_first_offset,
        Some(7)
    );
    log.append_txn_marker_at(marker(3, 0, true), 3000).unwrap();
    assert_eq!(log.last_stable_offset(), log.log_end_offset());
    // Clean close: the snapshot carries the state (an open transaction of producer 5 too).
    log.append(&producer_batch(5, 0, 0, 1, true), -1, 2000)
        .unwrap();
    let open_at = log.log_end_offset() - 1;
    log.close().unwrap();
    let log = open(dir.path(), config);
    assert_eq!(log.last_stable_offset(), open_at);
    assert_eq!(log.aborted_transactions(0, open_at).unwrap(), aborted);
    let txn_files = std::fs::read_dir(dir.path())
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .path()
                .extension()
                .is_some_and(|x| x == "txnindex")
        })
        .count();
    assert_eq!(txn_files, 1);
}

#[test]
fn a_cut_tail_takes_its_aborts_and_transactions_with_it() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = open(dir.path(), LogConfig::default());
    log.append(&producer_batch(1, 0, 0, 1, true), -1, 2000)
        .unwrap();
    let marker_at = log.append_txn_marker_at(marker(1, 0, false), 3000).unwrap();
    assert_eq!(log.aborted_transactions(0, 2).unwrap().len(), 1);
    drop(log);
    // Tear the marker batch in half, as a crash mid-write would.
    let seg = dir.path().join("00000000000000000000.log");
    let len = std::fs::metadata(&seg).unwrap().len();
    let f = std::fs::OpenOptions::new().write(true).open(&seg).unwrap();
    f.set_len(len - 30).unwrap();
    let log = open(dir.path(), LogConfig::default());
    assert_eq!(log.log_end_offset(), marker_at);
    assert_eq!(log.last_stable_offset(), 0, "the transaction is open again");
    assert!(log.aborted_transactions(0, 2).unwrap().is_empty());
}

#[test]
fn retention_deletes_txn_indexes_with_their_segments() {
    let dir = tempfile::tempdir().unwrap();
    let config = LogConfig {
        segment_bytes: 200,
        retention_bytes: 0,
        ..LogConfig::default()
    };
    let mut log = open(dir.path(), config);
    log.append(&producer_batch(1, 0, 0, 1, true), -1, 2000)
        .unwrap();
    log.append_txn_marker_at(marker(1, 0, false), 3000).unwrap();
    assert!(txn_index_path(dir.path(), 0).exists());
    for _ in 0..4 {
        log.append(&producer_batch(-1, -1, -1, 1, false), -1, 2000)
            .unwrap();
    }
    let report = log.enforce_retention(4000).unwrap();
    assert!(report.deleted_segments > 0);
    assert!(!txn_index_path(dir.path(), 0).exists());
}

/// One keyed record from producer `pid` (-1: plain) with sequence `seq`.
fn keyed(pid: i64, seq: i32, key: &str, value: &str, txn: bool) -> Vec<u8> {
    let mut b = batch(&[rec(key, value)], 1000, Compression::None);
    b[43..51].copy_from_slice(&pid.to_be_bytes());
    b[51..53].copy_from_slice(&(if pid < 0 { -1i16 } else { 0 }).to_be_bytes());
    b[53..57].copy_from_slice(&(if pid < 0 { -1 } else { seq }).to_be_bytes());
    if txn {
        let a = batch::get_i16(&b, ATTRIBUTES_POS) | TRANSACTIONAL_BIT;
        batch::put_i16(&mut b, ATTRIBUTES_POS, a);
    }
    let crc = batch::compute_crc(&b);
    batch::put_u32(&mut b, CRC_POS, crc);
    b
}

/// (base offset, control) of every stored batch.
fn stored_batches(log: &Log) -> Vec<(i64, bool)> {
    let mut out = Vec::new();
    let mut offset = log.log_start_offset();
    while offset < log.log_end_offset() {
        let r = log.read(offset, usize::MAX).unwrap().records;
        if r.is_empty() {
            break;
        }
        for b in batch::batches(&r) {
            let (h, _) = b.unwrap();
            out.push((h.base_offset, h.is_control()));
            offset = h.last_offset() + 1;
        }
    }
    out
}

#[test]
fn compaction_drops_aborted_data_keeps_markers_and_last_batches_and_stops_at_the_lso() {
    let dir = tempfile::tempdir().unwrap();
    let config = LogConfig {
        segment_bytes: 100,
        cleanup_policy: crate::CleanupPolicy {
            delete: false,
            compact: true,
        },
        min_cleanable_dirty_ratio: 0.0,
        ..LogConfig::default()
    };
    let mut log = open(dir.path(), config);
    let put = |log: &mut Log, b: Vec<u8>| log.append(&b, -1, 2000).unwrap().base_offset;
    assert_eq!(put(&mut log, keyed(1, 0, "a", "aborted", true)), 0);
    log.append_txn_marker_at(marker(1, 0, false), 3000).unwrap(); // 1
    assert_eq!(put(&mut log, keyed(1, 1, "b", "committed", true)), 2);
    log.append_txn_marker_at(marker(1, 0, true), 3000).unwrap(); // 3
    assert_eq!(put(&mut log, keyed(2, 0, "c", "old", true)), 4);
    log.append_txn_marker_at(marker(2, 0, true), 3000).unwrap(); // 5
    assert_eq!(put(&mut log, keyed(-1, -1, "c", "new", false)), 6);
    // An open transaction from offset 7: nothing from there on is cleaned.
    assert_eq!(put(&mut log, keyed(3, 0, "d", "open", true)), 7);
    assert_eq!(put(&mut log, keyed(3, 1, "e", "x", true)), 8);
    assert_eq!(put(&mut log, keyed(-1, -1, "d", "newer", false)), 9);
    assert_eq!(put(&mut log, keyed(-1, -1, "z", "filler", false)), 10);
    assert!(log.segment_count() >= 10, "{}", log.segment_count());
    assert_eq!(log.last_stable_offset(), 7);

    log.compact(5000).unwrap();
    let after = stored_batches(&log);
    // Offset 0 (aborted) is gone; the markers stay; producer 2's last batch (4) stays although "c"
    // was written again; 7 is above the LSO and stays although "d" was written again.
    assert_eq!(
        after,
        vec![
            (1, true),
            (2, false),
            (3, true),
            (4, false),
            (5, true),
            (6, false),
            (7, false),
            (8, false),
            (9, false),
            (10, false)
        ]
    );
    // Once producer 3 commits, its superseded record goes at the next pass.
    log.append_txn_marker_at(marker(3, 0, true), 3000).unwrap(); // 11
    put(&mut log, keyed(-1, -1, "z", "filler2", false));
    log.compact(6000).unwrap();
    let after = stored_batches(&log);
    assert!(!after.contains(&(7, false)), "{after:?}");
    assert!(after.contains(&(8, false)) && after.contains(&(11, true)));
    // The producers' states still come back after an unclean reopen.
    let config = log.config().clone();
    drop(log);
    let log = open(dir.path(), config);
    assert_eq!(log.producer_states().get(2).unwrap().last_sequence(), 0);
    assert_eq!(log.producer_states().get(1).unwrap().last_sequence(), 1);
}

/// One step of the model test: a transactional batch of producer `p`, a plain batch, or a marker.
#[derive(Debug, Clone, Copy)]
enum Op {
    Txn(i64),
    Plain,
    Marker(i64, bool),
}

fn op() -> impl proptest::strategy::Strategy<Value = Op> {
    use proptest::prelude::*;
    prop_oneof![
        (1i64..4).prop_map(Op::Txn),
        Just(Op::Plain),
        ((1i64..4), any::<bool>()).prop_map(|(p, c)| Op::Marker(p, c)),
    ]
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(48))]

    /// Against a simple model (open transactions by producer; aborted ranges): the LSO after every
    /// step, the aborted list of every range, and both again after an unclean reopen of a log that
    /// rolls often.
    #[test]
    fn lso_and_aborted_index_follow_the_model(ops in proptest::collection::vec(op(), 1..40), seg in 150u64..600) {
        use std::collections::BTreeMap;
        let dir = tempfile::tempdir().unwrap();
        let config = LogConfig { segment_bytes: seg, ..LogConfig::default() };
        let mut log = open(dir.path(), config.clone());
        let mut open_txn: BTreeMap<i64, i64> = BTreeMap::new(); // producer -> first offset
        let mut seqs: BTreeMap<i64, i32> = BTreeMap::new();
        let mut aborted: Vec<AbortedTxn> = Vec::new();
        for op in ops {
            let end = log.log_end_offset();
            match op {
                Op::Txn(p) => {
                    let seq = seqs.entry(p).or_insert(0);
                    log.append(&producer_batch(p, 0, *seq, 2, true), -1, 2000).unwrap();
                    *seq += 2;
                    open_txn.entry(p).or_insert(end);
                }
                Op::Plain => {
                    log.append(&producer_batch(-1, -1, -1, 1, false), -1, 2000).unwrap();
                }
                Op::Marker(p, commit) => {
                    log.append_txn_marker_at(marker(p, 0, commit), 3000).unwrap();
                    if let Some(first) = open_txn.remove(&p) {
                        if !commit {
                            let lso = open_txn.values().min().copied().unwrap_or(end + 1);
                            aborted.push(AbortedTxn { producer_id: p, first_offset: first, last_offset: end, last_stable_offset: lso });
                        }
                    }
                }
            }
            let lso = open_txn.values().min().copied().unwrap_or(log.log_end_offset());
            proptest::prop_assert_eq!(log.last_stable_offset(), lso);
        }
        let end = log.log_end_offset();
        let expect = |from: i64, upper: i64| -> Vec<AbortedTxn> {
            aborted.iter().filter(|a| a.last_offset >= from && a.first_offset < upper).copied().collect()
        };
        let check = |log: &Log| -> Result<(), proptest::test_runner::TestCaseError> {
            for from in 0..end {
                for upper in from + 1..=end {
                    let got = log.aborted_transactions(from, upper).unwrap();
                    proptest::prop_assert_eq!(got, expect(from, upper), "[{}, {})", from, upper);
                }
            }
            Ok(())
        };
        check(&log)?;
        let lso = log.last_stable_offset();
        drop(log);
        let log = open(dir.path(), config);
        proptest::prop_assert_eq!(log.last_stable_offset(), lso);
        check(&log)?;
    }
}
