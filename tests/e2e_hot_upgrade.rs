//! Hot upgrade of a running connector's component, `request-reconfiguration`, automatic restart
//! of FAILED tasks (`weft.restart.failed.*`), and the worker against a broker in another process, with the real `weft` binary on free ports. The
//! connectors are tests/plugins' `versioned-source` (built as v1 and v2): its records say which
//! build wrote them and where the task was opened (`start=`), so a restart shows in the data.

mod common;

use std::path::Path;
use std::time::Duration;

use common::connect::{consume_until, http, test_plugin, wait_until, worker_file, Up, Worker};
use common::Weft;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use serde_json::{json, Value};

const WAIT: Duration = Duration::from_secs(90);

/// One `versioned-source` record: `<version> <shard> start=<s> n=<n>`.
#[derive(Debug, Clone, PartialEq)]
struct Rec {
    version: String,
    shard: String,
    start: u64,
    n: u64,
}

fn parse(value: &[u8]) -> Rec {
    let text = String::from_utf8_lossy(value);
    let parts: Vec<&str> = text.split(' ').collect();
    let num = |p: &str, key: &str| -> u64 {
        p.strip_prefix(key)
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("not a versioned-source record: {text}"))
    };
    assert_eq!(parts.len(), 4, "not a versioned-source record: {text}");
    Rec {
        version: parts[0].to_string(),
        shard: parts[1].to_string(),
        start: num(parts[2], "start="),
        n: num(parts[3], "n="),
    }
}

/// The records of `topic` (partition 0) from the start, until `done` holds for them.
fn records(bootstrap: &str, topic: &str, done: impl Fn(&[Rec]) -> bool) -> Vec<Rec> {
    let got = consume_until(bootstrap, topic, WAIT, |c| {
        done(
            &c.iter()
                .map(|r| parse(r.1.as_deref().unwrap_or_default()))
                .collect::<Vec<_>>(),
        )
    });
    got.iter()
        .map(|r| parse(r.1.as_deref().unwrap_or_default()))
        .collect()
}

fn create(port: u16, name: &str, config: Value) {
    let (code, resp) = http(
        port,
        "POST",
        "/connectors",
        Some(&json!({"name": name, "config": config})),
    );
    assert_eq!(code, 201, "creating {name}: {resp}");
}

fn source_config(wasm: &Path, topic: &str) -> Value {
    json!({
        "connector.class": wasm.display().to_string(),
        "tasks.max": "1",
        "topic": topic,
        "interval.ms": "20",
        "capability.clock": "true",
        "value.converter": "org.apache.kafka.connect.storage.StringConverter",
    })
}

fn status(w: &Worker, name: &str) -> Value {
    w.get(&format!("/connectors/{name}/status")).1
}

/// The n values run 0, 1, 2, ... with nothing missing.
fn assert_contiguous(recs: &[Rec], what: &str) {
    for (i, r) in recs.iter().enumerate() {
        assert_eq!(r.n, i as u64, "{what}: record {i} is {r:?}");
    }
}

#[test]
fn replacing_a_connectors_wasm_restarts_only_that_connector_on_the_new_version() {
    let v1 = std::fs::read(test_plugin("versioned-source")).unwrap();
    let v2 = std::fs::read(test_plugin("versioned-source-v2")).unwrap();
    assert_ne!(v1, v2);
    let broker = Weft::start(&[]);
    let bootstrap = broker.bootstrap();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (a, b) = (d.join("a.wasm"), d.join("b.wasm"));
    std::fs::write(&a, &v1).unwrap();
    std::fs::write(&b, &v1).unwrap();
    let w = Worker::standalone(d, &[worker_file(d, &bootstrap, "")]);
    create(w.rest_port, "upgraded", source_config(&a, "upgraded"));
    create(w.rest_port, "bystander", source_config(&b, "bystander"));
    records(&bootstrap, "upgraded", |r| r.len() >= 20);
    let before_b = records(&bootstrap, "bystander", |r| r.len() >= 20).len();

    // A new build written over the running one, in place.
    std::fs::write(&a, &v2).unwrap();
    let up = records(&bootstrap, "upgraded", |r| {
        r.iter().filter(|x| x.version == "v2").count() >= 20
    });
    let first_v2 = up
        .iter()
        .position(|r| r.version == "v2")
        .expect("v2 records");
    let (old, new) = up.split_at(first_v2);
    assert!(
        old.iter().all(|r| r.version == "v1" && r.start == 0),
        "{old:?}"
    );
    assert_contiguous(old, "the records before the upgrade");
    assert!(new.iter().all(|r| r.version == "v2"), "versions interleave");
    // Resumed from the committed position: no gap, and what v2 writes again is only the tail
    // v1 wrote after its last committed position; opened once.
    let resumed = new[0].start;
    assert!(
        resumed <= old.len() as u64,
        "v2 skipped records: it started at {resumed} after v1 wrote 0..{}",
        old.len()
    );
    for (i, r) in new.iter().enumerate() {
        assert_eq!((r.start, r.n), (resumed, resumed + i as u64), "{r:?}");
    }
    assert_eq!(
        status(&w, "upgraded")["tasks"][0]["state"],
        "RUNNING",
        "{}",
        w.log_text()
    );

    // The other connector never restarted: one open at 0 and a gapless sequence throughout.
    let by = records(&bootstrap, "bystander", |r| r.len() >= before_b + 50);
    assert!(
        by.iter().all(|r| r.version == "v1" && r.start == 0),
        "the bystander was restarted: {:?}",
        by.iter().find(|r| r.start != 0)
    );
    assert_contiguous(&by, "the bystander's records");

    // A truncated component written over the running one: refused, the old version goes on,
    // and the connector's status says why.
    std::fs::write(&b, &v1[..v1.len() / 2]).unwrap();
    let refused = |w: &Worker| {
        status(w, "bystander")["connector"]["trace"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    };
    assert!(
        wait_until(WAIT, || refused(&w).contains("was not loaded")),
        "no refusal in the status: {}\n{}",
        status(&w, "bystander"),
        w.log_text()
    );
    let trace = refused(&w);
    assert!(trace.contains(&b.display().to_string()), "{trace}");
    assert_eq!(status(&w, "bystander")["connector"]["state"], "RUNNING");
    assert!(
        w.log_text().contains("hot upgrade refused"),
        "{}",
        w.log_text()
    );
    // A component built for another contract version is refused for that reason.
    let old_contract = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../runtime/tests/fixtures/weft_serializer_string-0.1.0.wasm");
    std::fs::copy(&old_contract, &b).unwrap();
    assert!(
        wait_until(WAIT, || refused(&w).contains("0.1.0")),
        "the contract version is not named: {}",
        refused(&w)
    );
    let seen = by.len();
    let by = records(&bootstrap, "bystander", |r| r.len() >= seen + 50);
    assert!(by.iter().all(|r| r.version == "v1" && r.start == 0));
    assert_contiguous(&by, "the bystander's records after the refusals");
}

/// Task ids and their `shard` as `GET /connectors/{c}/tasks` lists them.
fn task_shards(port: u16, name: &str) -> Vec<(u64, String)> {
    let (code, v) = http(port, "GET", &format!("/connectors/{name}/tasks"), None);
    if code != 200 {
        return Vec::new();
    }
    v.as_array()
        .map(|a| {
            a.iter()
                .map(|t| {
                    (
                        t["id"]["task"].as_u64().unwrap_or(u64::MAX),
                        t["config"]["shard"].as_str().unwrap_or("").to_string(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn request_reconfiguration_restarts_tasks_only_when_their_configs_change() {
    let wasm = test_plugin("versioned-source");
    let broker = Weft::start(&[]);
    let bootstrap = broker.bootstrap();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let shards = d.join("shards");
    std::fs::create_dir_all(&shards).unwrap();
    std::fs::write(shards.join("shard-a"), "").unwrap();
    let w = Worker::standalone(d, &[worker_file(d, &bootstrap, "")]);
    let mut config = source_config(&wasm, "sharded");
    config["tasks.max"] = json!("4");
    config["shards.dir"] = json!("/");
    config["capability.filesystem.dir"] = json!(shards.display().to_string());
    create(w.rest_port, "sharded", config);
    assert!(
        wait_until(WAIT, || task_shards(w.rest_port, "sharded")
            == vec![(0, "shard-a".to_string())]),
        "{:?}",
        task_shards(w.rest_port, "sharded")
    );
    records(&bootstrap, "sharded", |r| r.len() >= 10);

    // The task sees a second shard and asks on every poll; the worker asks the connector
    // again and starts one task per shard.
    std::fs::write(shards.join("shard-b"), "").unwrap();
    let both = vec![(0, "shard-a".to_string()), (1, "shard-b".to_string())];
    assert!(
        wait_until(WAIT, || task_shards(w.rest_port, "sharded") == both),
        "{:?}\n{}",
        task_shards(w.rest_port, "sharded"),
        w.log_text()
    );
    // Both tasks of the new configuration write: shard-b's from 0, shard-a's reopened.
    let recs = records(&bootstrap, "sharded", |r| {
        r.iter().filter(|x| x.shard == "shard-b").count() >= 10
            && r.iter().any(|x| x.shard == "shard-a" && x.start > 0)
    });
    // shard-a's task resumed where it stood: its sequence has no gap.
    let a: Vec<Rec> = recs
        .iter()
        .filter(|r| r.shard == "shard-a")
        .cloned()
        .collect();
    let mut ns: Vec<u64> = a.iter().map(|r| r.n).collect();
    ns.dedup();
    assert!(
        ns.windows(2).all(|p| p[1] == p[0] + 1 || p[1] <= p[0]),
        "{ns:?}"
    );
    assert!(
        a.iter().any(|r| r.start > 0),
        "shard-a's task was not reconfigured: {a:?}\n{}\n{}",
        status(&w, "sharded"),
        w.log_text()
    );

    // A task that asks in a loop while its configs stay the same restarts nothing, and the
    // worker handles the requests at most once a second.
    let mut config = source_config(&wasm, "asking");
    config["reconfigure.always"] = json!("true");
    create(w.rest_port, "asking", config);
    let asked = |w: &Worker| {
        w.log_text()
            .lines()
            .filter(|l| l.contains("asking") && l.contains("requested a reconfiguration"))
            .count()
    };
    assert!(wait_until(WAIT, || asked(&w) >= 3), "{}", w.log_text());
    let recs = records(&bootstrap, "asking", |r| r.len() >= 100);
    assert!(
        recs.iter().all(|r| r.start == 0),
        "the asking connector's task was restarted"
    );
    assert_contiguous(&recs, "the asking connector's records");
    // 100 records at one per 20 ms span two seconds at least; a spinning worker would have
    // logged thousands of requests.
    assert!(asked(&w) < 1000, "{} requests handled", asked(&w));
}

/// The topics a broker has, without creating any.
fn topics(bootstrap: &str) -> Vec<String> {
    let c: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .create()
        .unwrap();
    c.fetch_metadata(None, Duration::from_secs(30))
        .unwrap()
        .topics()
        .iter()
        .map(|t| t.name().to_string())
        .collect()
}

#[test]
fn the_worker_runs_against_a_broker_in_another_process() {
    // The separate broker, and `weft up` with its own broker and embedded worker.
    let remote = Weft::start(&[]);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let conns = d.join("connectors");
    std::fs::create_dir_all(&conns).unwrap();
    let up = Up::start(&d.join("data"), &conns, Duration::from_secs(30));
    std::fs::write(d.join("in.txt"), "one\ntwo\nthree\n").unwrap();
    // The embedded worker's connector produces to the remote broker
    // (connector.client.config.override.policy is All, as in Kafka).
    create(
        up.rest_port,
        "to-remote",
        json!({
            "connector.class": "FileStreamSource",
            "file": d.join("in.txt").display().to_string(),
            "topic": "far",
            "value.converter": "org.apache.kafka.connect.storage.StringConverter",
            "producer.override.bootstrap.servers": remote.bootstrap(),
        }),
    );
    // A standalone worker whose bootstrap.servers is the remote broker sinks it to a file.
    let wdir = d.join("standalone");
    std::fs::create_dir_all(&wdir).unwrap();
    let sink = wdir.join("sink.properties");
    std::fs::write(
        &sink,
        format!(
            "name=from-remote\nconnector.class=FileStreamSink\ntopics=far\nfile={}\n\
             value.converter=org.apache.kafka.connect.storage.StringConverter\n",
            d.join("out.txt").display()
        ),
    )
    .unwrap();
    let w = Worker::standalone(&wdir, &[worker_file(&wdir, &remote.bootstrap(), ""), sink]);
    assert!(
        wait_until(WAIT, || std::fs::read_to_string(d.join("out.txt"))
            .is_ok_and(|t| t == "one\ntwo\nthree\n")),
        "{:?}\n{}\n{}",
        std::fs::read_to_string(d.join("out.txt")),
        up.log_text(),
        w.log_text()
    );
    let far = consume_until(&remote.bootstrap(), "far", WAIT, |r| r.len() >= 3);
    assert_eq!(far.len(), 3);
    // The records are on the remote broker only: `weft up`'s own broker never had the topic.
    let local = topics(&up.bootstrap());
    assert!(!local.contains(&"far".to_string()), "{local:?}");
    assert!(topics(&remote.bootstrap()).contains(&"far".to_string()));
    up.stop();
}

/// The state of task 0, or "" when the status has none yet.
fn task_state(w: &Worker, name: &str) -> String {
    status(w, name)["tasks"][0]["state"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

/// `weft.restart.failed.enabled=true`: a task that fails is restarted by the worker itself once
/// its cause is gone, from its committed position; without it the task stays FAILED, as Kafka
/// Connect leaves it, until the restart endpoint is called.
#[test]
fn failed_tasks_restart_by_themselves_only_where_the_connector_opted_in() {
    let wasm = test_plugin("versioned-source");
    let broker = Weft::start(&[]);
    let bootstrap = broker.bootstrap();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let granted = d.join("granted");
    std::fs::create_dir_all(&granted).unwrap();
    let w = Worker::standalone(d, &[worker_file(d, &bootstrap, "")]);
    let config = |topic: &str, fail: &str, auto: bool| {
        let mut c = source_config(&wasm, topic);
        c["capability.filesystem.dir"] = json!(granted.display().to_string());
        c["fail.file"] = json!(format!("/{fail}"));
        if auto {
            c["weft.restart.failed.enabled"] = json!("true");
            c["weft.restart.failed.backoff.initial.ms"] = json!("200");
            c["weft.restart.failed.backoff.max.ms"] = json!("2000");
        }
        c
    };
    create(
        w.rest_port,
        "healing",
        config("healing", "fail-healing", true),
    );
    create(
        w.rest_port,
        "manual",
        config("manual", "fail-manual", false),
    );
    records(&bootstrap, "healing", |r| r.len() >= 5);
    records(&bootstrap, "manual", |r| r.len() >= 5);

    // Both fail while their file is there.
    std::fs::write(granted.join("fail-healing"), "").unwrap();
    std::fs::write(granted.join("fail-manual"), "").unwrap();
    for name in ["healing", "manual"] {
        assert!(
            wait_until(WAIT, || task_state(&w, name) == "FAILED"),
            "{name}: {}",
            status(&w, name)
        );
    }
    // While the cause stays, the opted-in task is restarted again and again (and fails again);
    // the log says so.
    assert!(
        wait_until(WAIT, || w
            .log_text()
            .matches("restarting a FAILED task 0")
            .count()
            >= 2),
        "{}",
        w.log_text()
    );

    // The cause goes away: the opted-in task comes back by itself and resumes where it stood.
    std::fs::remove_file(granted.join("fail-healing")).unwrap();
    std::fs::remove_file(granted.join("fail-manual")).unwrap();
    assert!(
        wait_until(WAIT, || task_state(&w, "healing") == "RUNNING"),
        "{}\n{}",
        status(&w, "healing"),
        w.log_text()
    );
    let recs = records(&bootstrap, "healing", |r| r.iter().any(|x| x.start > 0));
    let mut ns: Vec<u64> = recs.iter().map(|r| r.n).collect();
    ns.dedup();
    assert!(
        ns.windows(2).all(|p| p[1] == p[0] + 1 || p[1] <= p[0]),
        "the restarted task resumes without a gap: {ns:?}"
    );

    // The other stays FAILED with its trace — for longer than several of the opted-in task's
    // delays — until someone restarts it.
    std::thread::sleep(Duration::from_secs(3));
    let st = status(&w, "manual");
    assert_eq!(st["tasks"][0]["state"], "FAILED", "{st}");
    assert!(
        st["tasks"][0]["trace"]
            .as_str()
            .is_some_and(|t| t.contains("failing as asked")),
        "{st}"
    );
    let (code, resp) = http(
        w.rest_port,
        "POST",
        "/connectors/manual/tasks/0/restart",
        None,
    );
    assert_eq!(code, 204, "{resp}");
    assert!(
        wait_until(WAIT, || task_state(&w, "manual") == "RUNNING"),
        "{}",
        status(&w, "manual")
    );
}
