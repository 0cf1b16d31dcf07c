//! Criterion benchmarks: per-record cost of wasm plugins (passthrough and uppercase transforms,
//! the default partitioner) against the same logic compiled natively, for batches of 1 and
//! 1,000 records of 100 bytes; the built-in field transforms (InsertField, MaskField) over
//! 1,000 pageviews; plus instantiation and component loading costs.

#[path = "../tests/common/mod.rs"]
mod common;

use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use weft_batch::{BatchReader, BatchWriter, Record};
use weft_plugin_sdk::Record as SdkRecord;
use weft_runtime::{PluginConfig, Registry, Runtime, RuntimeOptions};

fn records(n: usize) -> Vec<Record> {
    (0..n)
        .map(|i| {
            let mut r = Record::new("bench", vec![b'a' + (i % 26) as u8; 100]);
            r.key = Some(format!("key-{i}").into_bytes());
            r.timestamp = Some(1_700_000_000_000 + i as i64);
            r
        })
        .collect()
}

/// The SDK's per-record loop, natively: what a wasm transform runs, minus the boundary.
fn native_map(input: &[u8], f: impl for<'a> Fn(SdkRecord<'a>) -> SdkRecord<'a>) -> Vec<u8> {
    let reader = BatchReader::new(input).expect("valid batch");
    let mut out = BatchWriter::for_output_of(&reader);
    for view in reader.records() {
        let r = f(SdkRecord::from_view(view.expect("valid record")));
        r.write_to(&mut out).expect("encode");
    }
    out.finish().expect("finish")
}

fn upper(mut r: SdkRecord<'_>) -> SdkRecord<'_> {
    if let Some(v) = r.value() {
        let u = v.to_ascii_uppercase();
        r.set_value(u);
    }
    r
}

fn murmur2(data: &[u8]) -> i32 {
    const M: u32 = 0x5bd1_e995;
    let mut h: u32 = 0x9747_b28c ^ (data.len() as u32);
    let mut chunks = data.chunks_exact(4);
    for c in &mut chunks {
        let mut k = u32::from_le_bytes([c[0], c[1], c[2], c[3]]).wrapping_mul(M);
        k ^= k >> 24;
        h = h.wrapping_mul(M) ^ k.wrapping_mul(M);
    }
    let rest = chunks.remainder();
    if rest.len() >= 3 {
        h ^= (rest[2] as u32) << 16;
    }
    if rest.len() >= 2 {
        h ^= (rest[1] as u32) << 8;
    }
    if !rest.is_empty() {
        h ^= rest[0] as u32;
        h = h.wrapping_mul(M);
    }
    h ^= h >> 13;
    h = h.wrapping_mul(M);
    h ^= h >> 15;
    h as i32
}

fn native_partition(input: &[u8], n: u32) -> Vec<u32> {
    let reader = BatchReader::new(input).expect("valid batch");
    reader
        .records()
        .map(|v| {
            let v = v.expect("valid record");
            ((murmur2(v.key.unwrap_or_default()) & 0x7fff_ffff) as u32) % n
        })
        .collect()
}

fn quiet_runtime(cache: Option<std::path::PathBuf>) -> Runtime {
    Runtime::with_options(RuntimeOptions {
        cache_dir: cache,
        log: Arc::new(|_, _, _| {}),
        ..RuntimeOptions::default()
    })
    .expect("runtime")
}

fn transforms(c: &mut Criterion) {
    let rt = quiet_runtime(None);
    for (name, native) in [
        (
            "passthrough",
            (|r| r) as for<'a> fn(SdkRecord<'a>) -> SdkRecord<'a>,
        ),
        ("uppercase", upper),
    ] {
        let plugin = rt.load_file(&common::fixture(name)).expect("load");
        let mut inst = plugin
            .instantiate(&PluginConfig::default())
            .expect("instance");
        let mut g = c.benchmark_group(format!("transform/{name}"));
        g.measurement_time(Duration::from_secs(3)).sample_size(30);
        for n in [1usize, 1000] {
            let batch = weft_batch::encode(&records(n)).expect("encode");
            g.throughput(Throughput::Elements(n as u64));
            g.bench_function(format!("wasm/{n}"), |b| {
                b.iter(|| {
                    black_box(
                        inst.transform_batch(&batch, &Default::default())
                            .expect("transform"),
                    )
                })
            });
            g.bench_function(format!("native/{n}"), |b| {
                b.iter(|| black_box(native_map(&batch, native)))
            });
        }
        g.finish();
    }
}

/// Pageviews as datagen writes them (~70 B JSON objects), for the field transforms.
fn pageviews(n: usize) -> Vec<Record> {
    (0..n)
        .map(|i| {
            let v = format!(
                r#"{{"viewtime":{},"userid":"User_{}","pageid":"Page_{}"}}"#,
                1_700_000_000_000u64 + i as u64,
                i % 10,
                i % 100
            );
            let mut r = Record::new("pageviews", v.into_bytes());
            r.key = Some(format!("{i}").into_bytes());
            r.timestamp = Some(1_700_000_000_000 + i as i64);
            r
        })
        .collect()
}

/// The built-in field transforms over 1,000 pageviews, each in its own instance, as a
/// connector's `transforms` chain runs them.
fn field_transforms(c: &mut Criterion) {
    let reg = Registry::new(quiet_runtime(None));
    let batch = weft_batch::encode(&pageviews(1000)).expect("encode");
    let mut g = c.benchmark_group("transform/pageviews");
    g.measurement_time(Duration::from_secs(3)).sample_size(30);
    g.throughput(Throughput::Elements(1000));
    let pass = reg
        .runtime()
        .load_file(&common::fixture("passthrough"))
        .expect("load");
    let mut pass = pass
        .instantiate(&PluginConfig::default())
        .expect("instance");
    g.bench_function("passthrough", |b| {
        b.iter(|| {
            black_box(
                pass.transform_batch(&batch, &Default::default())
                    .expect("t"),
            )
        })
    });
    for (name, config) in [
        (
            "insert-field",
            vec![("static.field", "source"), ("static.value", "bench")],
        ),
        ("mask-field", vec![("fields", "userid")]),
    ] {
        let plugin = reg.resolve(name).expect("builtin");
        let mut inst = plugin
            .instantiate(&PluginConfig::new(config))
            .expect("instance");
        g.bench_function(name, |b| {
            b.iter(|| {
                black_box(
                    inst.transform_batch(&batch, &Default::default())
                        .expect("t"),
                )
            })
        });
    }
    // The two as a connector's chain runs them: one instance each, the batch passed between
    // them; and fused, as the worker runs a run of built-ins: one `chain` instance, one call.
    let instance = |name: &str, config: Vec<(&str, &str)>| {
        reg.resolve(name)
            .expect("builtin")
            .instantiate(&PluginConfig::new(config))
            .expect("instance")
    };
    let mut insert = instance(
        "insert-field",
        vec![("static.field", "source"), ("static.value", "bench")],
    );
    let mut mask = instance("mask-field", vec![("fields", "userid")]);
    g.bench_function("insert-field+mask-field", |b| {
        b.iter(|| {
            let once = insert
                .transform_batch(&batch, &Default::default())
                .expect("t");
            black_box(
                mask.transform_batch(&once.batch, &Default::default())
                    .expect("t"),
            )
        })
    });
    let mut fused = instance(
        "chain",
        vec![
            ("stages", "insert-field,mask-field"),
            ("stage.0.static.field", "source"),
            ("stage.0.static.value", "bench"),
            ("stage.1.fields", "userid"),
        ],
    );
    g.bench_function("chain(insert-field,mask-field)", |b| {
        b.iter(|| {
            black_box(
                fused
                    .transform_batch(&batch, &Default::default())
                    .expect("t"),
            )
        })
    });
    g.finish();
}

fn partitioner(c: &mut Criterion) {
    let reg = Registry::new(quiet_runtime(None));
    let plugin = reg.resolve("default").expect("builtin");
    let mut inst = plugin
        .instantiate(&PluginConfig::default())
        .expect("instance");
    let mut g = c.benchmark_group("partitioner/default");
    g.measurement_time(Duration::from_secs(3)).sample_size(30);
    for n in [1usize, 1000] {
        let batch = weft_batch::encode(&records(n)).expect("encode");
        g.throughput(Throughput::Elements(n as u64));
        g.bench_function(format!("wasm/{n}"), |b| {
            b.iter(|| black_box(inst.partition_batch(12, &batch, n).expect("partition")))
        });
        g.bench_function(format!("native/{n}"), |b| {
            b.iter(|| black_box(native_partition(&batch, 12)))
        });
    }
    g.finish();
}

fn lifecycle(c: &mut Criterion) {
    let cache = tempfile::tempdir().expect("tempdir");
    let rt = quiet_runtime(Some(cache.path().to_path_buf()));
    let wasm = std::fs::read(common::fixture("uppercase")).expect("fixture");
    let plugin = rt
        .load_bytes(&wasm, weft_runtime::PluginSource::Bytes("uppercase".into()))
        .expect("load");
    let mut g = c.benchmark_group("lifecycle");
    g.measurement_time(Duration::from_secs(3)).sample_size(20);
    g.bench_function("instantiate+configure", |b| {
        b.iter(|| {
            black_box(
                plugin
                    .instantiate(&PluginConfig::default())
                    .expect("instance"),
            )
        })
    });
    g.bench_function("load-from-disk-cache", |b| {
        b.iter_batched(
            || rt.forget_compiled(),
            |_| {
                black_box(
                    rt.load_bytes(&wasm, weft_runtime::PluginSource::Bytes("u".into()))
                        .expect("load"),
                )
            },
            BatchSize::PerIteration,
        )
    });
    let uncached = quiet_runtime(None);
    g.sample_size(10);
    g.bench_function("compile-uncached", |b| {
        b.iter_batched(
            || uncached.forget_compiled(),
            |_| {
                black_box(
                    uncached
                        .load_bytes(&wasm, weft_runtime::PluginSource::Bytes("u".into()))
                        .expect("load"),
                )
            },
            BatchSize::PerIteration,
        )
    });
    g.finish();
}

criterion_group!(
    benches,
    transforms,
    field_transforms,
    partitioner,
    lifecycle
);
criterion_main!(benches);
