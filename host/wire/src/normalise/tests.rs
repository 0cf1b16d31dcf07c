//! Normalisation of fetched records: what passes through untouched, what is re-encoded, what is
//! dropped, and hostile input.

use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use kafka_protocol::records::{Compression, Record};
use weft_log::batch::{check_batch_crc, BatchHeader};

use super::{normalise, Normalised, PartitionRecords};
use crate::error::WireError;
use crate::layout;
use crate::testing::{batch, decode, encode, patch, record};

fn run(records: &Bytes, fetch_offset: i64, aborted: Option<&[(i64, i64)]>) -> Normalised {
    let topic: Arc<str> = Arc::from("t");
    normalise(&PartitionRecords {
        topic: &topic,
        partition: 3,
        records,
        fetch_offset,
        aborted,
    })
}

fn concat(parts: &[&Bytes]) -> Bytes {
    let mut b = BytesMut::new();
    for p in parts {
        b.extend_from_slice(p);
    }
    b.freeze()
}

/// Every handed-out batch satisfies the normal form.
fn assert_normal(n: &Normalised) {
    for b in &n.batches {
        let h = BatchHeader::parse(&b.bytes).unwrap();
        check_batch_crc(&h, &b.bytes).unwrap();
        assert_eq!(h.total_size(), b.bytes.len());
        assert!(!h.is_control());
        assert_eq!(h.attributes & layout::TIMESTAMP_TYPE_BIT, 0);
        assert_eq!(h.base_offset, b.base_offset);
        assert_eq!(h.records_count as u32, b.records);
        assert_eq!(h.last_offset_delta, h.records_count - 1);
        assert_eq!(b.last_offset, b.base_offset + i64::from(b.records) - 1);
        assert_eq!(b.partition, 3);
        let decoded = decode(&b.bytes);
        let offsets: Vec<i64> = decoded.iter().map(|r| r.offset).collect();
        let expected: Vec<i64> = (b.base_offset..=b.last_offset).collect();
        assert_eq!(offsets, expected, "offsets are contiguous");
    }
}

fn same_content(got: &Record, want: &Record) {
    assert_eq!(got.offset, want.offset);
    assert_eq!(got.key, want.key, "key at {}", want.offset);
    assert_eq!(got.value, want.value, "value at {}", want.offset);
    assert_eq!(got.headers, want.headers, "headers at {}", want.offset);
    assert_eq!(
        got.timestamp, want.timestamp,
        "timestamp at {}",
        want.offset
    );
}

#[test]
fn a_contiguous_compressed_batch_passes_as_the_same_bytes() {
    for codec in [
        Compression::None,
        Compression::Gzip,
        Compression::Snappy,
        Compression::Lz4,
        Compression::Zstd,
    ] {
        let b = batch(&[100, 101, 102], codec);
        let n = run(&b, 100, None);
        assert!(n.errors.is_empty(), "{:?}", n.errors);
        assert_eq!(n.batches.len(), 1);
        let f = &n.batches[0];
        assert_eq!(f.bytes, b, "{codec:?}");
        assert_eq!(
            f.bytes.as_ptr(),
            b.as_ptr(),
            "{codec:?}: a slice of the response, not a copy"
        );
        assert_eq!((f.base_offset, f.last_offset, f.records), (100, 102, 3));
        assert_eq!(&*f.topic, "t");
        assert_eq!(n.next_offset, 103);
        assert_normal(&n);
    }
}

#[test]
fn a_batch_with_a_gap_is_split_into_runs() {
    let originals: Vec<Record> = [10, 11, 13, 14, 15].iter().map(|&o| record(o)).collect();
    let b = encode(&originals, Compression::Zstd);
    let n = run(&b, 10, None);
    assert!(n.errors.is_empty(), "{:?}", n.errors);
    assert_normal(&n);
    let runs: Vec<(i64, i64, u32)> = n
        .batches
        .iter()
        .map(|f| (f.base_offset, f.last_offset, f.records))
        .collect();
    assert_eq!(runs, [(10, 11, 2), (13, 15, 3)]);
    assert_eq!(n.next_offset, 16);
    let decoded: Vec<Record> = n.batches.iter().flat_map(|f| decode(&f.bytes)).collect();
    assert_eq!(decoded.len(), originals.len());
    for (got, want) in decoded.iter().zip(&originals) {
        same_content(got, want);
    }
    for f in &n.batches {
        let h = BatchHeader::parse(&f.bytes).unwrap();
        assert_eq!(h.compression(), Compression::None);
        assert_eq!(h.attributes, 0);
        assert_eq!(
            (h.producer_id, h.producer_epoch, h.base_sequence),
            (-1, -1, -1)
        );
    }
}

#[test]
fn log_append_time_records_get_the_batch_max_timestamp() {
    let b = batch(&[0, 1, 2], Compression::Gzip);
    let attrs = (Compression::Gzip as i16) | layout::TIMESTAMP_TYPE_BIT;
    let b = patch(&b, layout::ATTRIBUTES, &attrs.to_be_bytes());
    let b = patch(&b, layout::MAX_TIMESTAMP, &555_000i64.to_be_bytes());
    let n = run(&b, 0, None);
    assert!(n.errors.is_empty(), "{:?}", n.errors);
    assert_normal(&n);
    assert_eq!(n.batches.len(), 1);
    let records = decode(&n.batches[0].bytes);
    assert_eq!(records.len(), 3);
    for (i, r) in records.iter().enumerate() {
        assert_eq!(r.timestamp, 555_000);
        assert_eq!(r.offset, i as i64);
        assert_eq!(r.value, Some(Bytes::from(format!("v{i}"))));
    }
    let h = BatchHeader::parse(&n.batches[0].bytes).unwrap();
    assert_eq!(h.max_timestamp, 555_000);
}

#[test]
fn a_batch_straddling_the_fetch_offset_hands_out_only_the_rest() {
    let originals: Vec<Record> = (100..105).map(record).collect();
    let b = encode(&originals, Compression::Lz4);
    let next = batch(&[105, 106], Compression::Lz4);
    let all = concat(&[&b, &next]);
    let n = run(&all, 102, None);
    assert!(n.errors.is_empty(), "{:?}", n.errors);
    assert_normal(&n);
    assert_eq!(n.batches.len(), 2);
    assert_eq!((n.batches[0].base_offset, n.batches[0].records), (102, 3));
    for (got, want) in decode(&n.batches[0].bytes).iter().zip(&originals[2..]) {
        same_content(got, want);
    }
    assert_eq!(
        n.batches[1].bytes, next,
        "the following batch passes untouched"
    );
    assert_eq!(n.next_offset, 107);
}

#[test]
fn batches_below_the_fetch_offset_are_skipped() {
    let a = batch(&[0, 1], Compression::None);
    let b = batch(&[2, 3], Compression::None);
    let n = run(&concat(&[&a, &b]), 2, None);
    assert_eq!(n.batches.len(), 1);
    assert_eq!(n.batches[0].bytes, b);
    assert_eq!(n.next_offset, 4);
}

#[test]
fn a_truncated_tail_is_dropped_silently() {
    let a = batch(&[0, 1], Compression::Gzip);
    let b = batch(&[2, 3, 4], Compression::Gzip);
    let all = concat(&[&a, &b]);
    for cut in [a.len() + 5, a.len() + 61, all.len() - 1] {
        let n = run(&all.slice(..cut), 0, None);
        assert!(n.errors.is_empty(), "cut at {cut}: {:?}", n.errors);
        assert_eq!(n.batches.len(), 1, "cut at {cut}");
        assert_eq!(n.batches[0].bytes, a);
        assert_eq!(n.next_offset, 2, "the next fetch starts at the cut batch");
    }
}

#[test]
fn lying_lengths_and_counts_neither_allocate_nor_panic() {
    let good = batch(&[0, 1, 2], Compression::None);
    // A batch length far beyond the bytes present: treated as a cut tail.
    let huge = patch(&good, layout::LENGTH, &i32::MAX.to_be_bytes());
    let n = run(&huge, 0, None);
    assert!(n.batches.is_empty() && n.errors.is_empty());
    assert_eq!(n.next_offset, 0);
    // A negative length cannot be skipped: an error, and the partition stays where it was.
    let negative = patch(&good, layout::LENGTH, &(-5i32).to_be_bytes());
    let n = run(&negative, 0, None);
    assert!(n.batches.is_empty());
    assert!(matches!(
        n.errors[..],
        [WireError::Corrupt { partition: 3, .. }]
    ));
    assert_eq!(n.next_offset, 0);
    // A record count of a billion on a batch that must be decoded (not contiguous): corrupt,
    // skipped, and the next batch still comes through.
    for codec in [Compression::None, Compression::Zstd] {
        let b = batch(&[0, 2], codec);
        let lying = patch(&b, layout::RECORDS_COUNT, &1_000_000_000i32.to_be_bytes());
        let after = batch(&[3], codec);
        let n = run(&concat(&[&lying, &after]), 0, None);
        assert!(
            matches!(n.errors[..], [WireError::Corrupt { offset: 0, .. }]),
            "{codec:?}: {:?}",
            n.errors
        );
        assert_eq!(n.batches.len(), 1, "{codec:?}");
        assert_eq!(n.batches[0].bytes, after);
        assert_eq!(n.next_offset, 4);
    }
}

#[test]
fn a_batch_failing_its_crc_is_skipped_and_reported() {
    let a = batch(&[0, 1], Compression::Gzip);
    let mut bad = a.to_vec();
    let last = bad.len() - 1;
    bad[last] ^= 0xff;
    let b = batch(&[2], Compression::Gzip);
    let n = run(&concat(&[&Bytes::from(bad), &b]), 0, None);
    assert!(matches!(
        n.errors[..],
        [WireError::Corrupt { offset: 0, .. }]
    ));
    assert_eq!(n.batches.len(), 1);
    assert_eq!(n.batches[0].bytes, b);
    assert_eq!(n.next_offset, 3);
}

fn txn_batch(offsets: &[i64], producer_id: i64, control: bool) -> Bytes {
    let records: Vec<Record> = offsets
        .iter()
        .map(|&o| {
            let mut r = record(o);
            r.transactional = true;
            r.control = control;
            r.producer_id = producer_id;
            r.producer_epoch = 0;
            r.sequence = if control { -1 } else { o as i32 };
            r
        })
        .collect();
    encode(&records, Compression::None)
}

#[test]
fn control_batches_are_dropped_and_read_committed_drops_aborted_transactions() {
    let aborted = txn_batch(&[0, 1], 7, false);
    let abort_marker = txn_batch(&[2], 7, true);
    let committed = txn_batch(&[3, 4], 8, false);
    let commit_marker = txn_batch(&[5], 8, true);
    let plain = batch(&[6], Compression::None);
    let all = concat(&[&aborted, &abort_marker, &committed, &commit_marker, &plain]);

    let n = run(&all, 0, Some(&[(7, 0)]));
    assert!(n.errors.is_empty(), "{:?}", n.errors);
    let got: Vec<i64> = n.batches.iter().map(|b| b.base_offset).collect();
    assert_eq!(
        got,
        [3, 6],
        "read_committed: the aborted batch and both markers are gone"
    );
    assert_eq!(n.next_offset, 7);

    let n = run(&all, 0, None);
    let got: Vec<i64> = n.batches.iter().map(|b| b.base_offset).collect();
    assert_eq!(
        got,
        [0, 3, 6],
        "read_uncommitted: only the markers are gone"
    );
    assert_eq!(n.next_offset, 7);
    assert_eq!(
        n.batches[0].bytes, aborted,
        "transactional batches pass untouched"
    );
}
