//! Hostile plugins (tests/plugins, tests/guests and components built by `common::hostile`): a
//! trap, an infinite loop, unbounded allocation, memory spread over many instances, too many
//! instances, memories or tables, and an ungranted capability each fail with their own error,
//! only for their own instance; an ungranted plugin sees no clock and no file.

mod common;

use std::time::{Duration, Instant};

use common::hostile::{self, Extra};
use common::{fixture, rec, runtime, values};
use weft_runtime::{PluginConfig, PluginSource, RuntimeError, TrapKind};

#[test]
fn a_trap_fails_the_call_with_the_panic_message_and_the_instance_recovers() {
    let (rt, _logs) = runtime();
    let plugin = rt.load_file(&fixture("trap")).unwrap();
    let mut inst = plugin.instantiate(&PluginConfig::default()).unwrap();

    let err =
        common::transform(&mut inst, &[rec("t", None, "ok"), rec("t", None, "boom")]).unwrap_err();
    match &err {
        RuntimeError::Trap { message, .. } => {
            assert!(message.contains("record asked to explode"), "{message}")
        }
        other => panic!("expected a trap, got {other:?}"),
    }
    assert!(err.is_instance_failure());
    assert_eq!(inst.restarts(), 1);
    // A Rust panic ends in `unreachable`, counted as that kind and no other.
    let traps = inst.stats().traps;
    assert_eq!(traps.get(TrapKind::Unreachable), 1);
    assert_eq!(
        traps.get(TrapKind::Other) + traps.get(TrapKind::Deadline),
        0
    );

    // A fresh, reconfigured instance serves the next call.
    let out = common::transform(&mut inst, &[rec("t", None, "fine")]).unwrap();
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
            let out = common::transform(&mut other, &[rec("t", None, "x")]).unwrap();
            assert_eq!(values(&out), ["x"]);
            served += 1;
        }
        served
    });

    let started = Instant::now();
    let err = common::transform(&mut spinning, &[rec("t", None, "spin")]).unwrap_err();
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

    let out = common::transform(&mut spinning, &[rec("t", None, "calm")]).unwrap();
    assert_eq!(values(&out), ["calm"]);
    let traps = spinning.stats().traps;
    assert_eq!(traps.get(TrapKind::Deadline), 1);
    assert_eq!(
        traps.get(TrapKind::Unreachable) + traps.get(TrapKind::Other),
        0
    );
}

/// Polls `f` until it holds, for at most 10 s.
fn eventually(what: &str, mut f: impl FnMut() -> bool) {
    let until = Instant::now() + Duration::from_secs(10);
    while !f() {
        assert!(Instant::now() < until, "never happened: {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn the_epoch_ticker_sleeps_without_instances_and_a_lone_loop_still_hits_its_deadline() {
    let (rt, _logs) = runtime();
    // A runtime with no instance never ticks: the ticker waits for the first store.
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(rt.epoch_ticks(), 0);

    // The only instance in the process loops: its store alone wakes the ticker, so its deadline
    // fires.
    let spin = rt.load_file(&fixture("spin")).unwrap();
    let cfg = PluginConfig::new([("plugin.call.timeout.ms", "200")]);
    let mut spinning = spin.instantiate(&cfg).unwrap();
    let err = common::transform(&mut spinning, &[rec("t", None, "spin")]).unwrap_err();
    assert!(
        matches!(err, RuntimeError::DeadlineExceeded { .. }),
        "expected a deadline error, got {err:?}"
    );
    assert!(rt.epoch_ticks() > 0);
    let out = common::transform(&mut spinning, &[rec("t", None, "calm")]).unwrap();
    assert_eq!(values(&out), ["calm"]);

    // Once the last store is gone, the ticker stops (after the tick it may be in).
    drop(spinning);
    eventually("the ticker stopped", || {
        let before = rt.epoch_ticks();
        std::thread::sleep(Duration::from_millis(100));
        rt.epoch_ticks() == before
    });
    // And a new instance starts it again.
    let stopped_at = rt.epoch_ticks();
    let mut again = spin.instantiate(&PluginConfig::default()).unwrap();
    let out = common::transform(&mut again, &[rec("t", None, "calm")]).unwrap();
    assert_eq!(values(&out), ["calm"]);
    eventually("the ticker started again", || rt.epoch_ticks() > stopped_at);
}

#[test]
fn unbounded_allocation_hits_the_memory_cap_and_the_instance_recovers() {
    let (rt, _logs) = runtime();
    let hog = rt.load_file(&fixture("hog")).unwrap();
    let cap = 32usize << 20;
    let cfg = PluginConfig::new([("plugin.memory.max.bytes", cap.to_string())]);
    let mut inst = hog.instantiate(&cfg).unwrap();
    for _ in 0..3 {
        match common::transform(&mut inst, &[rec("t", None, "hog")]).unwrap_err() {
            RuntimeError::MemoryLimit { limit, .. } => assert_eq!(limit, cap),
            other => panic!("expected a memory-limit error, got {other:?}"),
        }
        let out = common::transform(&mut inst, &[rec("t", None, "small")]).unwrap();
        assert_eq!(values(&out), ["small"]);
        // The store's own count of its memories, which the cap is checked against.
        let held = inst.memory_bytes();
        assert!(held > 0 && held <= cap, "instance holds {held} bytes");
    }
    let traps = inst.stats().traps;
    assert_eq!(traps.get(TrapKind::OutOfMemory), 3);
    assert_eq!(
        traps.get(TrapKind::Unreachable) + traps.get(TrapKind::Other),
        0
    );
    // Process RSS is measured in its own test binary (tests/sandbox_rss.rs).
}

fn hostile(extra: Extra) -> Vec<u8> {
    let plugin = std::fs::read(fixture("passthrough")).unwrap();
    hostile::with_extra_instances(&plugin, extra)
}

fn load_hostile(rt: &weft_runtime::Runtime, extra: Extra) -> RuntimeError {
    rt.load_bytes(&hostile(extra), PluginSource::Bytes("hostile".into()))
        .err()
        .unwrap_or_else(|| panic!("{extra:?} loaded"))
}

#[test]
fn memory_spread_over_many_instances_counts_against_one_cap() {
    let (rt, _logs) = runtime();
    // Two more instances of 40 MiB each: every memory is below the 64 MiB default cap, their
    // sum is not.
    let err = load_hostile(
        &rt,
        Extra {
            memories: 1,
            pages: 640,
            instances: 2,
            ..Extra::default()
        },
    );
    match &err {
        RuntimeError::MemoryLimit { limit, .. } => assert_eq!(*limit, 64 << 20),
        other => panic!("expected a memory-limit error, got {other:?}"),
    }
    assert!(err.to_string().contains("plugin.memory.max.bytes"), "{err}");

    // Below the cap the same construction loads and runs: the limit is the sum, nothing else.
    let small = hostile(Extra {
        memories: 1,
        pages: 16,
        instances: 2,
        ..Extra::default()
    });
    let plugin = rt
        .load_bytes(&small, PluginSource::Bytes("small".into()))
        .unwrap();
    let mut inst = plugin.instantiate(&PluginConfig::default()).unwrap();
    assert_eq!(
        values(&common::transform(&mut inst, &[rec("t", None, "x")]).unwrap()),
        ["x"]
    );
    assert!(inst.memory_bytes() >= 2 * 16 * 65536);

    // A cap set lower in the config applies to instances the same way.
    let cfg = PluginConfig::new([("plugin.memory.max.bytes", (1usize << 20).to_string())]);
    assert!(matches!(
        plugin.instantiate(&cfg),
        Err(RuntimeError::MemoryLimit { limit, .. }) if limit == 1 << 20
    ));
}

#[test]
fn many_memories_instances_or_tables_are_refused_naming_the_limit() {
    let (rt, _logs) = runtime();
    let cases = [
        (
            Extra {
                memories: 2,
                pages: 1,
                instances: 40,
                ..Extra::default()
            },
            "memories",
            "plugin.memories.max",
        ),
        (
            Extra {
                instances: 200,
                ..Extra::default()
            },
            "instances",
            "plugin.instances.max",
        ),
        (
            Extra {
                tables: 4,
                instances: 40,
                ..Extra::default()
            },
            "tables",
            "plugin.tables.max",
        ),
    ];
    for (extra, what, key) in cases {
        let err = load_hostile(&rt, extra);
        match &err {
            RuntimeError::ResourceLimit {
                what: w,
                config_key,
                ..
            } => {
                assert_eq!((*w, *config_key), (what, key), "{err}");
            }
            other => panic!("{extra:?}: expected a {what} limit, got {other:?}"),
        }
        assert!(err.to_string().contains(key), "{err}");
    }

    // Other plugins of the same runtime are unaffected.
    let pass = rt.load_file(&fixture("passthrough")).unwrap();
    let mut inst = pass.instantiate(&PluginConfig::default()).unwrap();
    assert_eq!(
        values(&common::transform(&mut inst, &[rec("t", None, "y")]).unwrap()),
        ["y"]
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

    // Granted, it instantiates: the host links the MQTT capability (it connects only when
    // the plugin calls `connect`).
    let granted = PluginConfig::new([("capability.mqtt.urls", "mqtt://127.0.0.1:1883")]);
    assert!(plugin.instantiate(&granted).is_ok());
}

/// Runs the clock-probe fixture once and splits its report into (wall ns, monotonic ns, file).
fn probe(config: &PluginConfig) -> (u128, u128, String) {
    let (rt, _logs) = runtime();
    let plugin = rt.load_file(&fixture("clock-probe")).unwrap();
    let mut inst = plugin.instantiate(config).unwrap();
    let out = common::transform(&mut inst, &[rec("t", None, "?")]).unwrap();
    let report = values(&out).remove(0);
    let field = |name: &str| -> String {
        let start = report
            .find(&format!("{name}="))
            .unwrap_or_else(|| panic!("no {name} in {report}"))
            + name.len()
            + 1;
        let rest = &report[start..];
        match name {
            "file" => rest.to_string(),
            _ => rest.split(' ').next().unwrap_or_default().to_string(),
        }
    };
    (
        field("wall").parse().unwrap(),
        field("mono").parse().unwrap(),
        field("file"),
    )
}

#[test]
fn plugins_get_no_clock_unless_granted_and_no_files() {
    // Without grants both clocks read zero (the monotonic one does not move across real work)
    // and the host's /etc/passwd cannot be opened.
    let (wall, mono, file) = probe(&PluginConfig::default());
    assert_eq!((wall, mono), (0, 0));
    assert!(file.starts_with("err:"), "{file}");

    // Granted, the clocks are real: the wall clock is after 2020, the monotonic one moves.
    let (wall, mono, _) = probe(&PluginConfig::new([("capability.clock", "true")]));
    assert!(wall > 1_577_836_800_000_000_000, "wall clock {wall}");
    assert!(mono > 0, "monotonic clock did not move");

    // A granted directory is the guest's `/`: its /etc/passwd is the directory's, not the host's.
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("etc")).unwrap();
    std::fs::write(dir.path().join("etc/passwd"), "sandboxed").unwrap();
    let granted = PluginConfig::new([(
        "capability.filesystem.dir",
        dir.path().display().to_string(),
    )]);
    assert_eq!(probe(&granted).2, "ok:sandboxed");

    // A filesystem grant pointing nowhere fails loudly rather than silently.
    let (rt, _logs) = runtime();
    let plugin = rt.load_file(&fixture("clock-probe")).unwrap();
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
        .load_bytes(b"not wasm at all", PluginSource::Bytes("junk".into()))
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(err.contains("cannot compile plugin junk"), "{err}");
}

#[test]
fn a_component_built_for_another_contract_version_is_refused_naming_both_versions() {
    let (rt, _) = runtime();
    let old = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/weft_serializer_string-0.1.0.wasm");
    let err = rt.load_file(&old).unwrap_err();
    match &err {
        RuntimeError::ContractVersion {
            found, supported, ..
        } => {
            assert_eq!(found, "0.1.0");
            assert_eq!(supported, "0.2.x");
        }
        other => panic!("expected a contract version error, got {other:?}"),
    }
    let text = err.to_string();
    assert!(
        text.contains("targets weft:plugin@0.1.0; this weft supports weft:plugin@0.2.x"),
        "{text}"
    );
    assert_eq!(weft_runtime::CONTRACT_VERSION, "0.2.0");
}
