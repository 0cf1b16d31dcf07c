//! `weft mirror-maker` end to end: real `weft` brokers as separate processes, the mirror maker as
//! its own process, real rdkafka clients. MM2's internal topics are written and decoded here from
//! the format description (Kafka's `Struct` encoding: STRING = int16 length + UTF-8, integers
//! big-endian), not with the code under test.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use common::{weft_cmd, Weft};
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};

const T: Duration = Duration::from_secs(120);
const OP: Duration = Duration::from_secs(10);

fn admin(bootstrap: &str) -> AdminClient<DefaultClientContext> {
    ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .create()
        .expect("admin client")
}

fn block<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
}

fn create_topic(bootstrap: &str, name: &str, partitions: i32, configs: &[(&str, &str)]) {
    let mut t = NewTopic::new(name, partitions, TopicReplication::Fixed(1));
    for (k, v) in configs {
        t = t.set(k, v);
    }
    let r = block(
        admin(bootstrap).create_topics(&[t], &AdminOptions::new().operation_timeout(Some(OP))),
    )
    .expect("create_topics");
    assert!(r[0].is_ok(), "create {name}: {r:?}");
}

fn producer(bootstrap: &str) -> BaseProducer {
    ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("linger.ms", "5")
        .create()
        .expect("producer")
}

fn encode_string(out: &mut Vec<u8>, s: &str) {
    out.extend_from_slice(&(s.len() as i16).to_be_bytes());
    out.extend_from_slice(s.as_bytes());
}

/// `weft mirror-maker translate-offsets`: (topic, partition) → downstream offset.
fn translate(file: &Path, group: &str) -> BTreeMap<(String, i32), i64> {
    let (ok, out, err) = weft_cmd(
        &[
            "mirror-maker",
            "translate-offsets",
            file.to_str().unwrap(),
            "--group",
            group,
            "--source",
            "A",
            "--target",
            "B",
        ],
        None,
    );
    if !ok {
        // Not there yet (no checkpoints topic): the caller waits.
        eprintln!("translate-offsets: {err}");
        return BTreeMap::new();
    }
    out.lines()
        .skip(1)
        .filter_map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            Some((
                (f.first()?.to_string(), f.get(1)?.parse().ok()?),
                f.get(2)?.parse().ok()?,
            ))
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Tests.

#[test]
fn bad_mm2_files_stop_start_up_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let base =
        "clusters = A, B\nA.bootstrap.servers = 127.0.0.1:1\nB.bootstrap.servers = 127.0.0.1:1\n";
    for (text, key) in [
        (format!("{base}A->B.enabled = true\nA->C.enabled = true\n"), "A->C.enabled"),
        (format!("{base}A->B.enabled = true\nA->B.topics = orders, (bad\n"), "A->B.topics"),
        (format!("{base}A->B.enabled = true\ngroups.exclude = [z-a]\n"), "groups.exclude"),
        (
            "clusters = A, B\nA.bootstrap.servers = 127.0.0.1:1\nA->B.enabled = true\n".to_string(),
            "B.bootstrap.servers",
        ),
        (
            format!(
                "{base}A->B.enabled = true\nB->A.enabled = true\n\
                 replication.policy.class = org.apache.kafka.connect.mirror.IdentityReplicationPolicy\n"
            ),
            "A->B.enabled",
        ),
    ] {
        let file = dir.path().join("mm2.properties");
        std::fs::write(&file, &text).unwrap();
        let (ok, _, err) = weft_cmd(
            &[
                "mirror-maker",
                file.to_str().unwrap(),
                "--state-dir",
                dir.path().join("state").to_str().unwrap(),
                "--listener",
                "http://127.0.0.1:0",
            ],
            None,
        );
        assert!(!ok, "start-up must fail for {key}");
        assert!(err.contains(key), "the error must name {key}: {err}");
        assert!(
            !err.contains("REST listening"),
            "nothing may start before the file is valid: {err}"
        );
    }
    // The same check through YAML.
    let file = dir.path().join("mm2.yaml");
    std::fs::write(
        &file,
        "clusters: [A, B]\nA.bootstrap.servers: 127.0.0.1:1\nB.bootstrap.servers: 127.0.0.1:1\nA->X.enabled: true\n",
    )
    .unwrap();
    let (ok, _, err) = weft_cmd(&["mirror-maker", file.to_str().unwrap()], None);
    assert!(!ok && err.contains("A->X.enabled"), "{err}");
}

#[test]
fn translate_offsets_prints_the_latest_checkpoint_per_partition() {
    let b = Weft::start(&[]);
    create_topic(
        &b.bootstrap(),
        "A.checkpoints.internal",
        1,
        &[("cleanup.policy", "compact")],
    );
    let p = producer(&b.bootstrap());
    // (group, topic, partition, upstream, downstream): later checkpoints supersede earlier ones.
    let cps: [(&str, &str, i32, i64, i64); 4] = [
        ("g1", "A.orders", 0, 10, 9),
        ("g1", "A.orders", 1, 20, 18),
        ("g2", "A.orders", 0, 99, 97),
        ("g1", "A.orders", 0, 50, 48),
    ];
    for (g, t, part, up, down) in cps {
        let mut k = Vec::new();
        encode_string(&mut k, g);
        encode_string(&mut k, t);
        k.extend_from_slice(&part.to_be_bytes());
        let mut v = 0i16.to_be_bytes().to_vec();
        v.extend_from_slice(&up.to_be_bytes());
        v.extend_from_slice(&down.to_be_bytes());
        encode_string(&mut v, "");
        p.send(BaseRecord::to("A.checkpoints.internal").key(&k).payload(&v))
            .map_err(|(e, _)| e)
            .unwrap();
    }
    p.flush(T).unwrap();
    let (ok, out, err) = weft_cmd(
        &[
            "mirror-maker",
            "translate-offsets",
            "--group",
            "g1",
            "--source",
            "A",
            "--target",
            "B",
            "--bootstrap-server",
            &b.bootstrap(),
        ],
        None,
    );
    assert!(ok, "{err}");
    let rows: Vec<&str> = out.lines().collect();
    assert_eq!(
        rows,
        [
            "TOPIC\tPARTITION\tOFFSET\tUPSTREAM-OFFSET\tMETADATA",
            "A.orders\t0\t48\t50\t",
            "A.orders\t1\t18\t20\t"
        ]
    );
    // The mm2 file names the target's bootstrap instead.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("mm2.properties");
    std::fs::write(
        &file,
        format!(
            "clusters = A, B\nA.bootstrap.servers = 127.0.0.1:1\nB.bootstrap.servers = {}\n",
            b.bootstrap()
        ),
    )
    .unwrap();
    let t = translate(&file, "g2");
    assert_eq!(t, BTreeMap::from([(("A.orders".to_string(), 0), 97)]));
}
