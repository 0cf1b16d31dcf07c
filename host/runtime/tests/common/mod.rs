//! Shared test helpers: builds the test-only guest plugins (tests/plugins) once per test binary
//! and hands out runtimes whose plugin logs are captured for assertions.

#![allow(dead_code)]

use std::path::PathBuf;
use std::process::Command;
use std::sync::{Arc, Mutex, OnceLock};

use weft_runtime::{LogLevel, Runtime, RuntimeOptions};

/// Builds tests/plugins for wasm32-wasip2 (once per process) and returns the .wasm directory.
pub fn fixtures_dir() -> PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let manifest =
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/plugins/Cargo.toml");
        let target = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("wasm-fixtures");
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        // Run from the guest workspace so that its .cargo/config.toml (rustflags) applies.
        let guest_dir = manifest.parent().map(PathBuf::from).unwrap_or_default();
        let out = Command::new(cargo)
            .current_dir(guest_dir)
            .args([
                "build",
                "--release",
                "--target",
                "wasm32-wasip2",
                "--manifest-path",
            ])
            .arg(&manifest)
            .arg("--target-dir")
            .arg(&target)
            .env_remove("RUSTFLAGS")
            .env_remove("CARGO_ENCODED_RUSTFLAGS")
            .env_remove("CARGO_TARGET_DIR")
            .output()
            .expect("run cargo to build test plugins");
        assert!(
            out.status.success(),
            "building tests/plugins failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        target.join("wasm32-wasip2/release")
    })
    .clone()
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
