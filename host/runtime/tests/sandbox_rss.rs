//! What the memory cap costs the host process, measured in a test binary of its own: it holds a
//! single test, so no other test's allocations run while the process's memory is read.

mod common;

use common::hostile::{self, Extra};
use common::{fixture, rec, runtime, values};
use weft_runtime::{PluginConfig, PluginSource, RuntimeError};

/// A field of /proc/self/status in bytes (`VmRSS`: resident now, `VmHWM`: the peak so far).
fn status_bytes(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
        .map_or(0, |kib| kib * 1024)
}

#[test]
fn hostile_plugins_cannot_make_the_host_hold_more_than_the_cap() {
    let (rt, _logs) = runtime();
    let hog = rt.load_file(&fixture("hog")).unwrap();
    let pass = std::fs::read(fixture("passthrough")).unwrap();
    let cap = 32usize << 20;
    let cfg = PluginConfig::new([("plugin.memory.max.bytes", cap.to_string())]);
    let mut inst = hog.instantiate(&cfg).unwrap();
    // Warm up once so that allocator and code pages count in the baseline.
    let _ = common::transform(&mut inst, &[rec("t", None, "hog")]);
    let _ = rt.load_bytes(&pass, PluginSource::Bytes("warm".into()));

    // A component whose 12 extra instances each fill 32 MiB (each below the 64 MiB default
    // cap) would make the host hold 384 MiB at load time were the cap per memory.
    let spread = hostile::with_extra_instances(
        &pass,
        Extra {
            memories: 1,
            pages: 512,
            instances: 12,
            ..Extra::default()
        },
    );
    let peak_before = status_bytes("VmHWM");
    let rss_before = status_bytes("VmRSS");
    for i in 0..5 {
        match rt.load_bytes(&spread, PluginSource::Bytes(format!("spread{i}"))) {
            Err(RuntimeError::MemoryLimit { .. }) => {}
            other => panic!("expected a memory-limit error, got {other:?}"),
        }
    }
    // Ten 32 MiB hogs, each stopped at the cap and dropped.
    for _ in 0..10 {
        match common::transform(&mut inst, &[rec("t", None, "hog")]).unwrap_err() {
            RuntimeError::MemoryLimit { limit, .. } => assert_eq!(limit, cap),
            other => panic!("expected a memory-limit error, got {other:?}"),
        }
        let out = common::transform(&mut inst, &[rec("t", None, "small")]).unwrap();
        assert_eq!(values(&out), ["small"]);
    }
    let peak_after = status_bytes("VmHWM");
    let rss_after = status_bytes("VmRSS");
    assert!(peak_before > 0 && rss_before > 0, "no /proc/self/status");
    // At most one capped store is alive at a time: the peak grows by about one cap, not by the
    // 384 MiB of the spread component or the 320 MiB of ten leaked hogs.
    assert!(
        peak_after < peak_before + (96 << 20),
        "peak RSS grew from {peak_before} to {peak_after} bytes"
    );
    // Dropped stores give their memory back.
    assert!(
        rss_after < rss_before + (64 << 20),
        "RSS grew from {rss_before} to {rss_after} bytes"
    );
}
