//! The built-in connectors (connectors/: file-source, file-sink, datagen) as components in the
//! runtime: their sandbox grants (a temp directory through `capability.filesystem.dir`, the
//! clock through `capability.clock`), polls, positions, resume, puts and pre-commits.

mod common;

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use weft_runtime::{
    Instance, LoadedPlugin, PluginConfig, PluginKind, Polled, Record, Registry, Runtime, Schemas,
};

/// Builds connectors/ for wasm32-wasip2 once per test binary; the directory of the components.
fn connectors_dir() -> PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
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
        target.join("wasm32-wasip2/release")
    })
    .clone()
}

/// Loads connector `name` (crate `weft-connector-<name>`).
fn load(rt: &Runtime, name: &str) -> Arc<LoadedPlugin> {
    let path = connectors_dir().join(format!("weft_connector_{}.wasm", name.replace('-', "_")));
    rt.load_file(&path)
        .unwrap_or_else(|e| panic!("loading {}: {e}", path.display()))
}

fn pairs(config: &[(&str, &str)]) -> Vec<(String, String)> {
    config
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn text(v: &Option<Vec<u8>>) -> String {
    String::from_utf8_lossy(v.as_deref().unwrap_or(b"<null>")).into_owned()
}

fn lines(p: &Polled) -> Vec<String> {
    p.records.iter().map(|r| text(&r.value)).collect()
}

/// A file-source instance over `dir`, opened at `committed`.
fn file_source(
    plugin: &Arc<LoadedPlugin>,
    dir: &Path,
    batch: &str,
    committed: &[(String, String)],
) -> Instance {
    let dir = dir.to_str().unwrap();
    let config = PluginConfig::new([
        ("file", "in.txt"),
        ("topic", "lines"),
        ("batch.size", batch),
        ("capability.filesystem.dir", dir),
    ]);
    let mut inst = plugin.instantiate(&config).unwrap();
    inst.source_open(committed).unwrap();
    inst
}

/// Polls until `pred` holds for everything polled so far (the connector answers promptly with
/// nothing when there is nothing), failing after a generous deadline.
fn poll_until(inst: &mut Instance, mut pred: impl FnMut(&[Polled]) -> bool) -> Vec<Polled> {
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut all = Vec::new();
    loop {
        all.push(inst.source_poll().unwrap());
        if pred(&all) {
            return all;
        }
        assert!(Instant::now() < deadline, "condition not reached in 30 s");
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn file_source_polls_positions_per_record_and_resumes_exactly_after_a_restart() {
    let (rt, _) = common::runtime();
    let plugin = load(&rt, "file-source");
    assert_eq!(plugin.kind(), PluginKind::SourceConnector);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("in.txt"), "one\r\ntwo\nthree\rfour\n").unwrap();

    let mut src = file_source(&plugin, dir.path(), "3", &[]);
    let p = src.source_poll().unwrap();
    assert_eq!(lines(&p), ["one", "two", "three"]);
    assert!(p
        .records
        .iter()
        .all(|r| r.topic == "lines" && r.key.is_none()));
    assert_eq!(
        p.schemas.value.as_deref(),
        Some(r#"{"type":"string","optional":false}"#)
    );
    let part = r#"{"filename":"in.txt"}"#.to_string();
    let expect: Vec<(u32, (String, String))> = [(1, 5), (2, 9), (3, 15)]
        .iter()
        .map(|&(n, pos)| (n, (part.clone(), format!(r#"{{"position":{pos}}}"#))))
        .collect();
    assert_eq!(p.positions, expect);

    // Only the first two records were acknowledged: the worker stores that position.
    let stored = p.positions[1].1.clone();
    src.source_commit(std::slice::from_ref(&stored)).unwrap();
    drop(src);

    // A restarted task resumes right after the stored position: nothing lost or repeated.
    let mut again = file_source(&plugin, dir.path(), "100", &[stored]);
    let p = again.source_poll().unwrap();
    assert_eq!(lines(&p), ["three", "four"]);
    assert!(again.source_poll().unwrap().records.is_empty());

    // Appended data is picked up by the next polls (tailing).
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(dir.path().join("in.txt"))
        .unwrap();
    std::io::Write::write_all(&mut f, b"five\nsix").unwrap();
    let polled = poll_until(&mut again, |all| {
        all.iter().map(|p| p.records.len()).sum::<usize>() >= 1
    });
    let got: Vec<String> = polled.iter().flat_map(lines).collect();
    assert_eq!(got, ["five"]);
    // `six` has no terminator yet.
    assert!(again.source_poll().unwrap().records.is_empty());
}

#[test]
fn file_source_tails_a_file_it_has_read_to_the_end() {
    // Regression: under WASI a read that hit the end of the file left the input stream closed,
    // so lines appended after a few empty polls were never seen (small files hid it).
    let (rt, _) = common::runtime();
    let plugin = load(&rt, "file-source");
    let dir = tempfile::tempdir().unwrap();
    let text: String = (0..500).map(|i| format!("line {i} ünïcode\n")).collect();
    std::fs::write(dir.path().join("in.txt"), &text).unwrap();
    let mut src = file_source(&plugin, dir.path(), "2000", &[]);
    assert_eq!(src.source_poll().unwrap().records.len(), 500);
    for _ in 0..5 {
        assert!(src.source_poll().unwrap().records.is_empty());
    }
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(dir.path().join("in.txt"))
        .unwrap();
    std::io::Write::write_all(&mut f, b"appended later\n").unwrap();
    let polled = poll_until(&mut src, |all| !all.iter().all(|p| p.records.is_empty()));
    let got: Vec<String> = polled.iter().flat_map(lines).collect();
    assert_eq!(got, ["appended later"]);
}

#[test]
fn file_source_starts_over_when_the_file_is_truncated() {
    let (rt, logs) = common::runtime();
    let plugin = load(&rt, "file-source");
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("in.txt"), "aaaaaaaa\nbbbbbbbb\n").unwrap();
    let mut src = file_source(&plugin, dir.path(), "100", &[]);
    assert_eq!(lines(&src.source_poll().unwrap()), ["aaaaaaaa", "bbbbbbbb"]);
    std::fs::write(dir.path().join("in.txt"), "new\n").unwrap();
    let p = src.source_poll().unwrap();
    assert_eq!(lines(&p), ["new"]);
    assert_eq!(p.positions[0].1 .1, r#"{"position":4}"#);
    let logs = logs.lock().unwrap();
    assert!(
        logs.iter().any(|(_, _, m)| m.contains("was truncated")),
        "{logs:?}"
    );
}

#[test]
fn file_source_reaches_only_the_granted_directory_and_explains_bad_configs() {
    let (rt, _) = common::runtime();
    let plugin = load(&rt, "file-source");
    let granted = tempfile::tempdir().unwrap();
    let outside = tempfile::tempdir().unwrap();
    let secret = outside.path().join("secret.txt");
    std::fs::write(&secret, "secret\n").unwrap();

    // An absolute host path names a file inside the granted directory, where there is none.
    let config = PluginConfig::new([
        ("file", secret.to_str().unwrap()),
        ("topic", "t"),
        (
            "capability.filesystem.dir",
            granted.path().to_str().unwrap(),
        ),
    ]);
    let mut inst = plugin.instantiate(&config).unwrap();
    inst.source_open(&[]).unwrap();
    assert!(inst.source_poll().unwrap().records.is_empty());

    // `..` is refused by validation, and so is a config without `file` (no stdin here).
    let escape = PluginConfig::new([
        ("file", "../secret.txt"),
        ("topic", "t"),
        (
            "capability.filesystem.dir",
            granted.path().to_str().unwrap(),
        ),
    ]);
    let mut inst = plugin.instantiate(&escape).unwrap();
    let issues = inst.validate(&escape).unwrap();
    assert_eq!(issues.len(), 1, "{issues:?}");
    assert_eq!(issues[0].key, "file");
    let err = inst.source_open(&[]).unwrap_err();
    assert!(err.to_string().contains("granted directory"), "{err}");

    let no_file = PluginConfig::new([("topic", "t")]);
    let mut inst = plugin.instantiate(&no_file).unwrap();
    let err = inst.source_open(&[]).unwrap_err();
    assert!(err.to_string().contains("`file`"), "{err}");
    assert!(err.to_string().contains("standard input"), "{err}");

    // The metadata carries Connect's config definitions.
    let meta = plugin.metadata();
    assert_eq!(meta.name, "file-source");
    let names: Vec<&str> = meta.config.iter().map(|d| d.name.as_str()).collect();
    assert_eq!(names, ["file", "topic", "batch.size", "max.line.bytes"]);
}

fn string_schemas() -> Schemas {
    Schemas {
        key: None,
        value: Some(r#"{"type":"string","optional":false}"#.into()),
    }
}

#[test]
fn file_sink_put_then_pre_commit_makes_the_lines_durable_and_a_reopened_task_appends() {
    let (rt, _) = common::runtime();
    let plugin = load(&rt, "file-sink");
    assert_eq!(plugin.kind(), PluginKind::SinkConnector);
    let dir = tempfile::tempdir().unwrap();
    let task = pairs(&[
        ("file", "out.txt"),
        ("topics", "t"),
        ("capability.filesystem.dir", dir.path().to_str().unwrap()),
    ]);
    let config = PluginConfig::new(task.clone());
    let out = dir.path().join("out.txt");

    let mut sink = plugin.instantiate(&config).unwrap();
    let tasks = sink.sink_task_configs(&config, 4).unwrap();
    assert_eq!(tasks.len(), 1, "one file, one task");
    sink.sink_open(&config.plugin_entries()).unwrap();
    sink.sink_assign(&[("t".into(), 0, 0)]).unwrap();
    let mut tomb = Record::new("t", "");
    tomb.value = None;
    let failures = sink
        .sink_put(
            &[Record::new("t", "hello"), tomb, Record::new("t", "world")],
            &string_schemas(),
        )
        .unwrap();
    assert!(failures.is_empty());
    // Written by the put (visible at once, as with Kafka's sink), fsynced by the pre-commit.
    assert_eq!(
        std::fs::read_to_string(&out).unwrap(),
        "hello\nnull\nworld\n"
    );
    let safe = sink.sink_pre_commit(&[("t".into(), 0, 3)]).unwrap();
    assert_eq!(safe, [("t".to_string(), 0, 3)]);
    assert_eq!(
        std::fs::read_to_string(&out).unwrap(),
        "hello\nnull\nworld\n"
    );

    // Struct values (JSON text in the Connect value encoding) are written as JSON.
    let structs = Schemas {
        key: None,
        value: Some(r#"{"type":"struct","fields":[{"field":"a","type":"int32"}]}"#.into()),
    };
    sink.sink_put(&[Record::new("t", r#"{"a":1}"#)], &structs)
        .unwrap();
    sink.sink_pre_commit(&[("t".into(), 0, 4)]).unwrap();
    drop(sink);

    // A crash cut the next write short: half a line, uncommitted, ends the file.
    let mut f = std::fs::OpenOptions::new().append(true).open(&out).unwrap();
    std::io::Write::write_all(&mut f, b"agai").unwrap();
    drop(f);

    // Reopened (after a crash or a restart) the task cuts the half line off (its records come
    // again) and appends after what is there.
    let mut again = plugin.instantiate(&config).unwrap();
    again.sink_open(&config.plugin_entries()).unwrap();
    again.sink_assign(&[("t".into(), 0, 4)]).unwrap();
    again
        .sink_put(&[Record::new("t", "again")], &string_schemas())
        .unwrap();
    again.sink_pre_commit(&[("t".into(), 0, 5)]).unwrap();
    assert_eq!(
        std::fs::read_to_string(&out).unwrap(),
        "hello\nnull\nworld\n{\"a\":1}\nagain\n"
    );

    // No `file`: a config error, not a write to stdout.
    let bad = PluginConfig::new([("topics", "t")]);
    let mut inst = plugin.instantiate(&bad).unwrap();
    let err = inst.sink_open(&bad.plugin_entries()).unwrap_err();
    assert!(err.to_string().contains("`file`"), "{err}");
}

fn datagen(
    plugin: &Arc<LoadedPlugin>,
    extra: &[(&str, &str)],
    committed: &[(String, String)],
) -> Instance {
    let mut config = vec![("kafka.topic", "gen"), ("batch.size", "500")];
    config.extend_from_slice(extra);
    let mut inst = plugin.instantiate(&PluginConfig::new(config)).unwrap();
    inst.source_open(committed).unwrap();
    inst
}

#[test]
fn datagen_generates_quickstart_shapes_with_schemas_and_continues_after_a_restart() {
    let (rt, _) = common::runtime();
    let plugin = load(&rt, "datagen");
    for (quickstart, fields) in [
        (
            "orders",
            vec!["address", "itemid", "orderid", "ordertime", "orderunits"],
        ),
        (
            "users",
            vec!["gender", "regionid", "registertime", "userid"],
        ),
        ("pageviews", vec!["pageid", "userid", "viewtime"]),
    ] {
        let mut g = datagen(&plugin, &[("quickstart", quickstart)], &[]);
        let p = g.source_poll().unwrap();
        assert_eq!(p.records.len(), 500);
        assert_eq!(
            p.schemas.key.as_deref(),
            Some(r#"{"type":"string","optional":false}"#)
        );
        let schema: serde_json::Value =
            serde_json::from_str(p.schemas.value.as_deref().unwrap()).unwrap();
        assert_eq!(schema["type"], "struct");
        for (i, r) in p.records.iter().enumerate() {
            assert_eq!(r.topic, "gen");
            assert_eq!(text(&r.key), i.to_string());
            let v: serde_json::Value = serde_json::from_slice(r.value.as_ref().unwrap()).unwrap();
            let mut keys: Vec<&str> = v.as_object().unwrap().keys().map(|k| k.as_str()).collect();
            keys.sort();
            assert_eq!(keys, fields, "{quickstart}");
        }
        assert_eq!(p.positions.len(), 1);
        assert_eq!(p.positions[0].0, 500);
        assert_eq!(
            p.positions[0].1,
            (
                r#"{"datagen":0}"#.to_string(),
                r#"{"count":500}"#.to_string()
            )
        );
    }

    // Deterministic: a restart at the stored count continues the very same sequence.
    let mut once = datagen(&plugin, &[("record.size", "100")], &[]);
    let first = once.source_poll().unwrap();
    let second = once.source_poll().unwrap();
    assert!(first
        .records
        .iter()
        .all(|r| r.value.as_ref().unwrap().len() == 100));
    let mut again = datagen(
        &plugin,
        &[("record.size", "100")],
        &[first.positions[0].1.clone()],
    );
    assert_eq!(again.source_poll().unwrap().records, second.records);
}

#[test]
fn datagen_tasks_get_distinct_ids_and_iterations_end_the_sequence() {
    let (rt, _) = common::runtime();
    let plugin = load(&rt, "datagen");
    let config = PluginConfig::new([
        ("kafka.topic", "gen"),
        ("quickstart", "pageviews"),
        ("iterations", "7"),
        ("batch.size", "5"),
    ]);
    let mut probe = plugin.instantiate(&config).unwrap();
    let tasks = probe.source_task_configs(&config, 3).unwrap();
    assert_eq!(tasks.len(), 3);
    let mut ids = HashSet::new();
    for task in tasks {
        let mut inst = plugin.instantiate(&PluginConfig::new(task)).unwrap();
        inst.source_open(&[]).unwrap();
        let mut n = 0;
        loop {
            let p = inst.source_poll().unwrap();
            if p.records.is_empty() {
                break;
            }
            n += p.records.len();
            for r in &p.records {
                assert!(
                    ids.insert(text(&r.key)),
                    "id {} generated twice",
                    text(&r.key)
                );
            }
        }
        assert_eq!(n, 7, "iterations are per task");
    }
    assert_eq!(ids.len(), 21);
}

#[test]
fn datagen_paces_by_the_granted_clock_and_refuses_pacing_without_it() {
    let (rt, _) = common::runtime();
    let plugin = load(&rt, "datagen");
    let paced = [
        ("kafka.topic", "gen"),
        ("record.size", "100"),
        ("records.per.second", "200"),
    ];

    // Without the clock grant the sandbox's clock is frozen: pacing is refused with the fix.
    let mut inst = plugin.instantiate(&PluginConfig::new(paced)).unwrap();
    let issues = inst.validate(&PluginConfig::new(paced)).unwrap();
    assert_eq!(issues.len(), 1, "{issues:?}");
    assert_eq!(issues[0].key, "records.per.second");
    assert!(issues[0].message.contains("capability.clock=true"));
    assert!(inst.source_open(&[]).is_err());

    // With it, records come at the rate: never more than elapsed time allows.
    let started = Instant::now();
    let mut g = datagen(
        &plugin,
        &[paced[1], paced[2], ("capability.clock", "true")],
        &[],
    );
    let mut total = 0usize;
    let deadline = started + Duration::from_secs(60);
    while total < 100 {
        let n = g.source_poll().unwrap().records.len();
        total += n;
        // Never ahead of the rate (plus the one record due at the start).
        let allowed = (started.elapsed().as_secs_f64() * 200.0) as usize + 1;
        assert!(
            total <= allowed,
            "{total} records after {:?}",
            started.elapsed()
        );
        assert!(Instant::now() < deadline, "only {total} records in 60 s");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn the_embedded_connectors_are_these_components_under_their_short_names() {
    let (rt, _) = common::runtime();
    let built: Vec<_> = ["file-source", "file-sink", "datagen"]
        .iter()
        .map(|n| load(&rt, n))
        .collect();
    let registry = Registry::new(rt);
    for plugin in built {
        let name = plugin.metadata().name.clone();
        let embedded = registry.resolve(&name).unwrap();
        assert_eq!(embedded.kind(), plugin.kind(), "{name}");
        assert_eq!(
            embedded.hash_hex(),
            plugin.hash_hex(),
            "{name}: embedded a stale build"
        );
    }
    let kinds: Vec<PluginKind> = ["file-source", "file-sink", "datagen"]
        .iter()
        .map(|n| registry.resolve(n).unwrap().kind())
        .collect();
    assert_eq!(
        kinds,
        [
            PluginKind::SourceConnector,
            PluginKind::SinkConnector,
            PluginKind::SourceConnector
        ]
    );
}
