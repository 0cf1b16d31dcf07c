//! Fills partition directories with real logs through the log API, for start-up measurements:
//! `cargo run -p weft-log --release --example fill -- <log.dirs> <topic> <partitions> <total-bytes>
//! [batch-bytes]`. Each partition `<log.dirs>/<topic>-<p>` gets `total / partitions` bytes appended in
//! batches of `batch-bytes` (default 1 MiB, uncompressed records of 10 KiB), and is closed cleanly.

use std::path::PathBuf;
use std::process::ExitCode;

use bytes::{Bytes, BytesMut};
use kafka_protocol::indexmap::IndexMap;
use kafka_protocol::records::{
    Compression, Record, RecordBatchEncoder, RecordEncodeOptions, TimestampType,
};
use weft_log::{Log, LogConfig};

const RECORD_BYTES: usize = 10 << 10;

fn batch(bytes: usize, now_ms: i64) -> Vec<u8> {
    let count = (bytes / RECORD_BYTES).max(1);
    let records: Vec<Record> = (0..count)
        .map(|i| {
            // Bytes that do not compress to nothing, so the files hold what they claim.
            let value: Vec<u8> = (0..RECORD_BYTES)
                .map(|j| (j.wrapping_mul(31) ^ i.wrapping_mul(7)) as u8)
                .collect();
            Record {
                transactional: false,
                control: false,
                delete_horizon: false,
                partition_leader_epoch: -1,
                producer_id: -1,
                producer_epoch: -1,
                timestamp_type: TimestampType::Creation,
                offset: i as i64,
                // Consecutive, so the encoder writes one batch (base sequence -1: no idempotence).
                sequence: i as i32 - 1,
                timestamp: now_ms,
                key: Some(Bytes::from(format!("k{i}"))),
                value: Some(Bytes::from(value)),
                headers: IndexMap::new(),
            }
        })
        .collect();
    let mut out = BytesMut::new();
    let options = RecordEncodeOptions {
        version: 2,
        compression: Compression::None,
    };
    if let Err(e) = RecordBatchEncoder::encode(&mut out, &records, &options) {
        panic!("encoding the sample batch failed: {e}");
    }
    out.to_vec()
}

fn run() -> Result<(), String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() < 4 {
        return Err(
            "usage: fill <log.dirs> <topic> <partitions> <total-bytes> [batch-bytes]".into(),
        );
    }
    let root = PathBuf::from(&args[0]);
    let topic = &args[1];
    let parse = |s: &String| s.parse::<u64>().map_err(|e| format!("{s}: {e}"));
    let partitions = parse(&args[2])?;
    let total = parse(&args[3])?;
    let batch_bytes = args.get(4).map(parse).transpose()?.unwrap_or(1 << 20);
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_err(|e| e.to_string())?
        .as_millis() as i64;
    let sample = batch(batch_bytes as usize, now_ms);
    let per_partition = total / partitions.max(1);
    let started = std::time::Instant::now();
    let mut written = 0u64;
    for p in 0..partitions {
        let dir = root.join(format!("{topic}-{p}"));
        let (mut log, _) = Log::open(&dir, LogConfig::default()).map_err(|e| e.to_string())?;
        let mut bytes = 0u64;
        while bytes < per_partition {
            log.append(&sample, 0, now_ms).map_err(|e| e.to_string())?;
            bytes += sample.len() as u64;
        }
        written += bytes;
        log.close().map_err(|e| e.to_string())?;
        if p % 100 == 99 {
            eprintln!(
                "{} partitions, {} MiB in {:.1?}",
                p + 1,
                written >> 20,
                started.elapsed()
            );
        }
    }
    eprintln!(
        "done: {partitions} partitions, {} MiB in {:.1?}",
        written >> 20,
        started.elapsed()
    );
    Ok(())
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("fill: {e}");
            ExitCode::FAILURE
        }
    }
}
