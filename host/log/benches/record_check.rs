//! Cost of the append path's per-record walk (`record_check::check_uncompressed`) against the batch
//! validation it adds to (`batch::validate`: header, CRC-32C, counts), per batch of 100 records of
//! 100 bytes, as a producer sends them. `cargo bench -p weft-log --bench record_check`.

use std::hint::black_box;

use bytes::{Bytes, BytesMut};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use kafka_protocol::indexmap::IndexMap;
use kafka_protocol::records::{
    Compression, Record, RecordBatchEncoder, RecordEncodeOptions, TimestampType,
};
use weft_log::batch;
use weft_log::record_check::{self, RecordRules, TimestampBounds};

const RECORDS: usize = 100;

/// 100 records whose encoded size is about 100 bytes each (key 10 B, value 80 B).
fn producer_batch() -> Vec<u8> {
    let records: Vec<Record> = (0..RECORDS)
        .map(|i| Record {
            transactional: false,
            control: false,
            delete_horizon: false,
            partition_leader_epoch: -1,
            producer_id: -1,
            producer_epoch: -1,
            timestamp_type: TimestampType::Creation,
            offset: i as i64,
            sequence: i as i32 - 1,
            timestamp: 1_700_000_000_000 + i as i64,
            key: Some(Bytes::from(format!("key-{i:06}"))),
            value: Some(Bytes::from(vec![b'x'; 80])),
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
    .expect("encode");
    out.to_vec()
}

fn bench(c: &mut Criterion) {
    let b = producer_batch();
    let rules = RecordRules {
        require_key: false,
        timestamps: Some(TimestampBounds {
            before_max_ms: i64::MAX,
            after_max_ms: 3_600_000,
            now_ms: 1_700_000_000_000,
        }),
    };
    let mut g = c.benchmark_group(format!("{RECORDS} records, {} bytes", b.len()));
    g.throughput(Throughput::Elements(RECORDS as u64));
    g.bench_function("validate (before)", |bench| {
        bench.iter(|| batch::validate(black_box(&b)).expect("valid"))
    });
    g.bench_function("validate + record walk (after)", |bench| {
        bench.iter(|| {
            let h = batch::validate(black_box(&b)).expect("valid");
            record_check::check_uncompressed(black_box(&b), &h, &rules).expect("valid")
        })
    });
    let h = batch::validate(&b).expect("valid");
    g.bench_function("record walk alone", |bench| {
        bench.iter(|| record_check::check_uncompressed(black_box(&b), &h, &rules).expect("valid"))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
