//! Shared test helpers: builds the test-only guest plugins (tests/plugins, tests/guests) once per
//! test binary, hands out runtimes whose plugin logs are captured for assertions, and builds
//! hostile components ([`hostile`]).

#![allow(dead_code)]

pub mod hostile;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex, OnceLock};

use weft_runtime::{Instance, LogLevel, Runtime, RuntimeError, RuntimeOptions, Schemas};

/// Builds the guest fixtures for wasm32-wasip2 (once per process) and returns the .wasm
/// directory: tests/plugins (shared with the benchmarks) and host/runtime/tests/guests (this
/// crate's own), into one target directory so that the SDK is compiled once.
pub fn fixtures_dir() -> PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let here = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
        let target = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("wasm-fixtures");
        build_guests(&here.join("../../tests/plugins"), &target);
        build_guests(&here.join("tests/guests"), &target);
        target.join("wasm32-wasip2/release")
    })
    .clone()
}

fn build_guests(workspace: &Path, target: &Path) {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    // Run from the guest workspace so that its .cargo/config.toml (rustflags) applies.
    let out = Command::new(cargo)
        .current_dir(workspace)
        .args([
            "build",
            "--release",
            "--target",
            "wasm32-wasip2",
            "--manifest-path",
        ])
        .arg(workspace.join("Cargo.toml"))
        .arg("--target-dir")
        .arg(target)
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("CARGO_TARGET_DIR")
        .output()
        .expect("run cargo to build test plugins");
    assert!(
        out.status.success(),
        "building {} failed:\n{}",
        workspace.display(),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Path of fixture `name` (crate `fixture-<name>`).
pub fn fixture(name: &str) -> PathBuf {
    fixtures_dir().join(format!("fixture_{}.wasm", name.replace('-', "_")))
}

/// Captured plugin log lines: (plugin, level, message).
pub type Logs = Arc<Mutex<Vec<(String, LogLevel, String)>>>;

/// A runtime without disk cache whose plugin logs go to the returned vector.
pub fn runtime() -> (Runtime, Logs) {
    let logs: Logs = Arc::default();
    let sink = logs.clone();
    let rt = Runtime::with_options(RuntimeOptions {
        cache_dir: None,
        log: Arc::new(move |p, l, m| {
            if let Ok(mut v) = sink.lock() {
                v.push((p.to_string(), l, m.to_string()));
            }
        }),
        ..RuntimeOptions::default()
    })
    .expect("runtime");
    (rt, logs)
}

/// A record with a key and a value on topic `t`.
pub fn rec(t: &str, key: Option<&str>, value: &str) -> weft_runtime::Record {
    let mut r = weft_runtime::Record::new(t, value);
    r.key = key.map(|k| k.as_bytes().to_vec());
    r
}

/// The values of records as text.
pub fn values(records: &[weft_runtime::Record]) -> Vec<String> {
    records
        .iter()
        .map(|r| {
            r.value
                .as_ref()
                .map(|v| String::from_utf8_lossy(v).into_owned())
                .unwrap_or_else(|| "<null>".into())
        })
        .collect()
}

/// Runs a transform on schemaless records; a record that failed on its own becomes the error,
/// as in a pipeline without a dead-letter queue.
pub fn transform(
    inst: &mut Instance,
    records: &[weft_runtime::Record],
) -> Result<Vec<weft_runtime::Record>, RuntimeError> {
    let out = inst.transform(records, &Schemas::default())?;
    match out.failures.into_iter().next() {
        Some(f) => Err(RuntimeError::RecordFailed {
            plugin: inst.plugin().id(),
            index: f.index,
            retriable: f.retriable,
            message: f.message,
        }),
        None => Ok(out.records),
    }
}
