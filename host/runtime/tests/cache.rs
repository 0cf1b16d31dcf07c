//! Components are compiled once per process and reused from the on-disk cache across
//! processes; a damaged cache file costs a recompile, never a failure.

mod common;

use std::sync::Arc;

use common::{fixture, rec, values};
use weft_runtime::{PluginConfig, Runtime, RuntimeOptions};

fn runtime_with_cache(dir: &std::path::Path) -> Runtime {
    Runtime::with_options(RuntimeOptions {
        cache_dir: Some(dir.to_path_buf()),
        log: Arc::new(|_, _, _| {}),
        ..RuntimeOptions::default()
    })
    .unwrap()
}

#[test]
fn compiled_once_in_memory_then_loaded_from_disk_and_repaired_when_damaged() {
    let cache = tempfile::tempdir().unwrap();
    let wasm = fixture("uppercase");

    let first = runtime_with_cache(cache.path());
    let a = first.load_file(&wasm).unwrap();
    let b = first.load_file(&wasm).unwrap();
    assert_eq!(a.hash_hex(), b.hash_hex());
    let s = first.cache_stats();
    assert_eq!((s.compiled, s.memory_hits, s.disk_hits), (1, 1, 0));

    let files: Vec<_> = std::fs::read_dir(cache.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(files.len(), 1);
    let name = files[0].file_name().unwrap().to_string_lossy().into_owned();
    assert!(
        name.starts_with(&a.hash_hex()) && name.ends_with(".cwasm"),
        "{name}"
    );

    // A second runtime (standing in for a second process) compiles nothing.
    let second = runtime_with_cache(cache.path());
    let c = second.load_file(&wasm).unwrap();
    let s = second.cache_stats();
    assert_eq!((s.compiled, s.disk_hits), (0, 1));
    let mut inst = c.instantiate(&PluginConfig::default()).unwrap();
    assert_eq!(
        values(&common::transform(&mut inst, &[rec("t", None, "abc")]).unwrap()),
        ["ABC"]
    );

    // A damaged artifact is ignored and rewritten.
    std::fs::write(&files[0], b"garbage").unwrap();
    let third = runtime_with_cache(cache.path());
    let d = third.load_file(&wasm).unwrap();
    assert_eq!(third.cache_stats().compiled, 1);
    let mut inst = d.instantiate(&PluginConfig::default()).unwrap();
    assert_eq!(
        values(&common::transform(&mut inst, &[rec("t", None, "x")]).unwrap()),
        ["X"]
    );
    assert!(std::fs::metadata(&files[0]).unwrap().len() > 1000);
}
