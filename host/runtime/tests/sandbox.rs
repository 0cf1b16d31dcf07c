//! Hostile plugins (built from tests/plugins): a trap, an infinite loop, unbounded allocation
//! and an ungranted capability each fail with their own error, only for their own instance.

mod common;

use std::time::{Duration, Instant};

use common::{fixture, rec, runtime, values};
use weft_runtime::{PluginConfig, RuntimeError};

fn rss_bytes() -> u64 {
    // Second field of /proc/self/statm: resident pages.
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    pages * 4096
}

#[test]
fn a_trap_fails_the_call_with_the_panic_message_and_the_instance_recovers() {
    let (rt, _logs) = runtime();
    let plugin = rt.load_file(&fixture("trap")).unwrap();
    let mut inst = plugin.instantiate(&PluginConfig::default()).unwrap();

    let err = inst
        .transform(&[rec("t", None, "ok"), rec("t", None, "boom")])
        .unwrap_err();
    match &err {
        RuntimeError::Trap { message, .. } => {
            assert!(message.contains("record asked to explode"), "{message}")
        }
        other => panic!("expected a trap, got {other:?}"),
    }
    assert!(err.is_instance_failure());
    assert_eq!(inst.restarts(), 1);

    // A fresh, reconfigured instance serves the next call.
    let out = inst.transform(&[rec("t", None, "fine")]).unwrap();
    assert_eq!(values(&out), ["fine"]);
}

#[test]
fn an_infinite_loop_hits_the_deadline_while_other_instances_keep_working() {
    let (rt, _logs) = runtime();
    let spin = rt.load_file(&fixture("spin")).unwrap();
    let pass = rt.load_file(&fixture("passthrough")).unwrap();
    let cfg = PluginConfig::new([("plugin.call.timeout.ms", "300")]);
    let mut spinning = spin.instantiate(&cfg).unwrap();

    // Another instance in another thread keeps serving while the loop runs.
    let worker = std::thread::spawn(move || {
        let mut other = pass.instantiate(&PluginConfig::default()).unwrap();
        let mut served = 0;
        let until = Instant::now() + Duration::from_millis(400);
        while Instant::now() < until {
            let out = other.transform(&[rec("t", None, "x")]).unwrap();
            assert_eq!(values(&out), ["x"]);
            served += 1;
        }
        served
    });

    let started = Instant::now();
    let err = spinning.transform(&[rec("t", None, "spin")]).unwrap_err();
    let took = started.elapsed();
    match err {
        RuntimeError::DeadlineExceeded { limit, .. } => {
            assert_eq!(limit, Duration::from_millis(300))
        }
        other => panic!("expected a deadline error, got {other:?}"),
    }
    // The deadline is a lower bound; the upper bound only guards against "never returns".
    assert!(
        took >= Duration::from_millis(300),
        "returned after {took:?}"
    );
    assert!(took < Duration::from_secs(30), "returned after {took:?}");
    assert!(worker.join().unwrap() > 0);

    let out = spinning.transform(&[rec("t", None, "calm")]).unwrap();
    assert_eq!(values(&out), ["calm"]);
}

#[test]
fn unbounded_allocation_hits_the_memory_cap_and_memory_is_returned() {
    let (rt, _logs) = runtime();
    let hog = rt.load_file(&fixture("hog")).unwrap();
    let cap = 32usize << 20;
    let cfg = PluginConfig::new([("plugin.memory.max.bytes", cap.to_string())]);
    let mut inst = hog.instantiate(&cfg).unwrap();

    // Warm up once so that allocator and code pages count in the baseline.
    let _ = inst.transform(&[rec("t", None, "hog")]);
    let before = rss_bytes();
    for _ in 0..10 {
        match inst.transform(&[rec("t", None, "hog")]).unwrap_err() {
            RuntimeError::MemoryLimit { limit, .. } => assert_eq!(limit, cap),
            other => panic!("expected a memory-limit error, got {other:?}"),
        }
        let out = inst.transform(&[rec("t", None, "small")]).unwrap();
        assert_eq!(values(&out), ["small"]);
    }
    let after = rss_bytes();
    // Ten leaked 32 MiB instances would add 320 MiB; dropped stores give their memory back.
    assert!(
        after < before + (64 << 20),
        "RSS grew from {before} to {after} bytes"
    );
}

#[test]
fn an_ungranted_capability_fails_to_load_naming_interface_and_config_key() {
    let (rt, _logs) = runtime();
    let plugin = rt.load_file(&fixture("ungranted")).unwrap();
    // Inspection still works: metadata and the capability list.
    assert_eq!(plugin.metadata().name, "ungranted");
    let caps = plugin.capabilities();
    assert_eq!(caps.len(), 1);
    assert!(caps[0].0.starts_with("weft:plugin/mqtt@"));

    let err = plugin.instantiate(&PluginConfig::default()).unwrap_err();
    let text = err.to_string();
    match &err {
        RuntimeError::CapabilityNotGranted {
            interface,
            config_key,
            ..
        } => {
            assert!(interface.starts_with("weft:plugin/mqtt@"));
            assert_eq!(*config_key, "capability.mqtt.urls");
        }
        other => panic!("expected CapabilityNotGranted, got {other:?}"),
    }
    assert!(
        text.contains("weft:plugin/mqtt") && text.contains("capability.mqtt.urls"),
        "{text}"
    );

    // Granted, it gets past the grant check (the MQTT host side comes with the connectors).
    let granted = PluginConfig::new([("capability.mqtt.urls", "mqtt://127.0.0.1:1883")]);
    assert!(matches!(
        plugin.instantiate(&granted),
        Err(RuntimeError::CapabilityUnavailable { .. })
    ));
}

#[test]
fn plugins_get_no_clock_unless_granted_and_no_files() {
    let (rt, _logs) = runtime();
    // The uppercase fixture does no I/O; instantiating it with an empty context must work,
    // and a filesystem grant pointing nowhere must fail loudly rather than silently.
    let plugin = rt.load_file(&fixture("uppercase")).unwrap();
    assert!(plugin.instantiate(&PluginConfig::default()).is_ok());
    let bad = PluginConfig::new([("capability.filesystem.dir", "/definitely/not/here")]);
    assert!(matches!(
        plugin.instantiate(&bad),
        Err(RuntimeError::Instantiate { .. })
    ));
    // Only WASI and weft interfaces are imported: no capability.
    assert!(plugin.capabilities().is_empty());
    assert!(plugin
        .imports()
        .iter()
        .all(|i| i.starts_with("wasi:") || i.starts_with("weft:plugin/")));
}

#[test]
fn bytes_that_are_not_a_component_are_a_typed_error() {
    let (rt, _logs) = runtime();
    let err = rt
        .load_bytes(
            b"not wasm at all",
            weft_runtime::PluginSource::Bytes("junk".into()),
        )
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(err.contains("cannot compile plugin junk"), "{err}");
}
