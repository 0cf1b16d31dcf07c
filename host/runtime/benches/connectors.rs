//! Criterion benchmarks of the built-in connectors through the runtime (records per second):
//! datagen polls of 100-byte values, and file-sink puts of 100-byte values, alone (into
//! /dev/null, so the disk is not measured) and with a pre-commit (write + fsync) per batch.

use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use weft_runtime::{LoadedPlugin, PluginConfig, Record, Runtime, RuntimeOptions, Schemas};

/// Records per poll and per put: datagen's default `batch.size` is 4096.
const BATCH: usize = 4096;

/// Builds connectors/ for wasm32-wasip2 and loads connector `name`.
fn load(rt: &Runtime, name: &str) -> Arc<LoadedPlugin> {
    let workspace = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../connectors");
    let target = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("wasm-connectors");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let out = Command::new(cargo)
        .current_dir(&workspace)
        .args([
            "build",
            "--release",
            "--target",
            "wasm32-wasip2",
            "--manifest-path",
        ])
        .arg(workspace.join("Cargo.toml"))
        .arg("--target-dir")
        .arg(&target)
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("CARGO_TARGET_DIR")
        .output()
        .expect("run cargo to build connectors/");
    assert!(
        out.status.success(),
        "building connectors/ failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let path = target.join(format!(
        "wasm32-wasip2/release/weft_connector_{}.wasm",
        name.replace('-', "_")
    ));
    rt.load_file(&path).expect("load connector")
}

fn runtime() -> Runtime {
    Runtime::with_options(RuntimeOptions {
        cache_dir: None,
        ..RuntimeOptions::default()
    })
    .expect("runtime")
}

fn datagen(c: &mut Criterion) {
    let rt = runtime();
    let plugin = load(&rt, "datagen");
    let batch = BATCH.to_string();
    let config = PluginConfig::new([
        ("kafka.topic", "bench"),
        ("record.size", "100"),
        ("batch.size", batch.as_str()),
    ]);
    let mut inst = plugin.instantiate(&config).expect("instantiate");
    inst.source_open(&[]).expect("open");
    let mut g = c.benchmark_group("datagen");
    g.throughput(Throughput::Elements(BATCH as u64));
    g.bench_function("poll 4096 x 100 B", |b| {
        b.iter(|| {
            let p = inst.source_poll().expect("poll");
            assert_eq!(p.records.len(), BATCH);
            p
        })
    });
    g.finish();
}

fn file_sink(c: &mut Criterion) {
    let rt = runtime();
    let plugin = load(&rt, "file-sink");
    let records: Vec<Record> = (0..BATCH)
        .map(|i| {
            let mut v = format!("{i:>10}").into_bytes();
            v.resize(100, b'x');
            Record::new("bench", v)
        })
        .collect();
    let schemas = Schemas {
        key: None,
        value: Some(r#"{"type":"string","optional":false}"#.into()),
    };
    let mut g = c.benchmark_group("file-sink");
    g.throughput(Throughput::Elements(BATCH as u64));

    // Put alone, into /dev/null: the connector's cost without the disk's.
    let null = PluginConfig::new([
        ("file", "null"),
        ("topics", "bench"),
        ("capability.filesystem.dir", "/dev"),
    ]);
    let mut sink = plugin.instantiate(&null).expect("instantiate");
    sink.sink_open(&null.plugin_entries()).expect("open");
    g.bench_function("put 4096 x 100 B", |b| {
        b.iter(|| sink.sink_put(&records, &schemas).expect("put"))
    });

    // Put and pre-commit (write + fsync) per batch into a real file, truncated by the host
    // now and then so the benchmark does not fill the disk (the sink appends).
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("out.txt");
    let real = PluginConfig::new([
        ("file", "out.txt"),
        ("topics", "bench"),
        (
            "capability.filesystem.dir",
            dir.path().to_str().expect("utf-8 path"),
        ),
    ]);
    let mut sink = plugin.instantiate(&real).expect("instantiate");
    sink.sink_open(&real.plugin_entries()).expect("open");
    sink.sink_assign(&[("bench".into(), 0, 0)]).expect("assign");
    let mut offset = 0i64;
    g.bench_function("put + pre-commit 4096 x 100 B", |b| {
        b.iter(|| {
            sink.sink_put(&records, &schemas).expect("put");
            offset += BATCH as i64;
            let safe = sink
                .sink_pre_commit(&[("bench".into(), 0, offset)])
                .expect("pre-commit");
            if offset % (BATCH as i64 * 256) == 0 {
                std::fs::File::options()
                    .write(true)
                    .open(&file)
                    .and_then(|f| f.set_len(0))
                    .expect("truncate");
            }
            safe
        })
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4));
    targets = datagen, file_sink
}
criterion_main!(benches);
