//! End-to-end test of the `mirror` plugin on its own (the `weft mirror-maker` command has its
//! own tests): two `weft` brokers, A and B, as separate processes, and a standalone Connect worker
//! writing to B that runs MM2's three connectors from plain connector configs. It proves that
//! records arrive on B byte for byte (key, value, headers, timestamp, partition, order), that the
//! target topic gets the source's partition count and configs, that offset syncs land on A in
//! MM2's format with MM2's rule, and that checkpoints and heartbeats land on B in MM2's formats.

mod common;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use common::connect::{wait_until, Worker};
use common::Weft;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, ResourceSpecifier, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::message::{Header, Headers, Message, OwnedHeaders};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::{Offset, TopicPartitionList};

const TIMEOUT: Duration = Duration::from_secs(60);
/// Records per source partition.
const N: i64 = 400;
const PARTITIONS: i32 = 2;
const TS0: i64 = 1_700_000_000_000;

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

fn admin(bootstrap: &str) -> AdminClient<DefaultClientContext> {
    ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .create()
        .expect("admin client")
}

fn opts() -> AdminOptions {
    AdminOptions::new().operation_timeout(Some(Duration::from_secs(30)))
}

/// The bytes of record `i` of partition `p`: not UTF-8, so any text conversion would show.
fn key(p: i32, i: i64) -> Vec<u8> {
    format!("k{p}-{i}").into_bytes()
}
fn value(p: i32, i: i64) -> Vec<u8> {
    vec![0xff, 0x00, p as u8, (i % 251) as u8, 0xfe]
}

fn produce_source(bootstrap: &str) {
    let p: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .create()
        .expect("producer");
    for part in 0..PARTITIONS {
        for i in 0..N {
            let (k, v) = (key(part, i), value(part, i));
            let hv = [i as u8, 0x80];
            let headers = OwnedHeaders::new()
                .insert(Header {
                    key: "h",
                    value: Some(&hv[..]),
                })
                .insert(Header {
                    key: "null",
                    value: None::<&[u8]>,
                });
            let rec = BaseRecord::<[u8], [u8]>::to("orders")
                .key(&k)
                .payload(&v)
                .partition(part)
                .timestamp(TS0 + i)
                .headers(headers);
            p.send(rec).expect("send");
            p.poll(Duration::ZERO);
        }
    }
    p.flush(Duration::from_secs(30)).expect("flush");
}

/// One consumed record.
#[derive(Debug, PartialEq)]
struct Rec {
    partition: i32,
    offset: i64,
    timestamp: Option<i64>,
    key: Option<Vec<u8>>,
    value: Option<Vec<u8>>,
    headers: Vec<(String, Option<Vec<u8>>)>,
}

/// Every record of `partitions` partitions of `topic` from the start, until `done` holds.
fn read(
    bootstrap: &str,
    topic: &str,
    partitions: i32,
    timeout: Duration,
    mut done: impl FnMut(&[Rec]) -> bool,
) -> Vec<Rec> {
    let c: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", "e2e-mirror-reader")
        .set("enable.auto.commit", "false")
        .create()
        .expect("consumer");
    let mut tpl = TopicPartitionList::new();
    for p in 0..partitions {
        tpl.add_partition_offset(topic, p, Offset::Beginning)
            .unwrap();
    }
    c.assign(&tpl).unwrap();
    let mut out = Vec::new();
    let deadline = std::time::Instant::now() + timeout;
    while !done(&out) && std::time::Instant::now() < deadline {
        if let Some(Ok(m)) = c.poll(Duration::from_millis(200)) {
            out.push(Rec {
                partition: m.partition(),
                offset: m.offset(),
                timestamp: m.timestamp().to_millis(),
                key: m.key().map(<[u8]>::to_vec),
                value: m.payload().map(<[u8]>::to_vec),
                headers: m
                    .headers()
                    .map(|h| {
                        h.iter()
                            .map(|x| (x.key.to_string(), x.value.map(<[u8]>::to_vec)))
                            .collect()
                    })
                    .unwrap_or_default(),
            });
        }
    }
    out
}

fn commit_group(bootstrap: &str, group: &str, topic: &str, offsets: &[(i32, i64)]) {
    let c: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", group)
        .set("enable.auto.commit", "false")
        .create()
        .expect("consumer");
    let mut tpl = TopicPartitionList::new();
    for (p, o) in offsets {
        tpl.add_partition_offset(topic, *p, Offset::Offset(*o))
            .unwrap();
    }
    c.commit(&tpl, CommitMode::Sync)
        .expect("commit group offsets");
}

// MM2's schemas, decoded here from the format description (int16-length strings, big-endian).
fn be_i64(b: &[u8]) -> i64 {
    i64::from_be_bytes(b[..8].try_into().unwrap())
}
fn string(b: &[u8]) -> (String, &[u8]) {
    let n = i16::from_be_bytes([b[0], b[1]]) as usize;
    (
        String::from_utf8(b[2..2 + n].to_vec()).unwrap(),
        &b[2 + n..],
    )
}

fn write(dir: &std::path::Path, name: &str, lines: &[String]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, lines.join("\n") + "\n").unwrap();
    p
}

#[test]
fn mirror_plugin_copies_records_and_writes_mm2s_internal_topics() {
    let a = Weft::start(&[]);
    let b = Weft::start(&[]);
    let topic = NewTopic::new("orders", PARTITIONS, TopicReplication::Fixed(1))
        .set("retention.ms", "7200000");
    let res = rt()
        .block_on(admin(&a.bootstrap()).create_topics(&[topic], &opts()))
        .expect("create orders");
    assert!(res.iter().all(|r| r.is_ok()), "{res:?}");
    produce_source(&a.bootstrap());
    // A group that read part of each partition on A.
    commit_group(&a.bootstrap(), "billing", "orders", &[(0, 150), (1, 390)]);

    let dir = tempfile::tempdir().unwrap();
    let worker = write(
        dir.path(),
        "worker.properties",
        &[
            format!("bootstrap.servers={}", b.bootstrap()),
            "listeners=http://127.0.0.1:0".into(),
            format!(
                "offset.storage.file.filename={}",
                dir.path().join("offsets").display()
            ),
            "offset.flush.interval.ms=500".into(),
            "key.converter=org.apache.kafka.connect.converters.ByteArrayConverter".into(),
            "value.converter=org.apache.kafka.connect.converters.ByteArrayConverter".into(),
        ],
    );
    let common = |name: &str, class: &str| -> Vec<String> {
        vec![
            format!("name={name}"),
            format!("connector.class=org.apache.kafka.connect.mirror.{class}"),
            "source.cluster.alias=A".into(),
            "target.cluster.alias=B".into(),
            "topics=orders".into(),
            format!(
                "capability.remote-cluster.bootstrap.servers={}",
                a.bootstrap()
            ),
            "capability.local-admin=true".into(),
            "capability.clock=true".into(),
        ]
    };
    let mut source = common("A->B.MirrorSourceConnector", "MirrorSourceConnector");
    source.extend([
        "tasks.max=2".to_string(),
        "capability.remote-cluster.produce.topics=mm2-offset-syncs[.].*[.]internal".into(),
    ]);
    let mut checkpoint = common(
        "A->B.MirrorCheckpointConnector",
        "MirrorCheckpointConnector",
    );
    checkpoint.extend([
        "emit.checkpoints.interval.seconds=1".to_string(),
        "refresh.groups.interval.seconds=1".into(),
        "groups=billing".into(),
    ]);
    let mut heartbeat = common("A->B.MirrorHeartbeatConnector", "MirrorHeartbeatConnector");
    heartbeat.push("emit.heartbeats.interval.seconds=1".into());
    let files = [
        worker,
        write(dir.path(), "source.properties", &source),
        write(dir.path(), "checkpoint.properties", &checkpoint),
        write(dir.path(), "heartbeat.properties", &heartbeat),
    ];
    let w = Worker::standalone(dir.path(), &files);

    // Records: every one, same partition, offset, order, key, value, headers and timestamp.
    let got = read(&b.bootstrap(), "A.orders", PARTITIONS, TIMEOUT, |r| {
        r.len() >= (N as usize) * PARTITIONS as usize
    });
    assert_eq!(
        got.len(),
        (N as usize) * PARTITIONS as usize,
        "mirrored records; worker log:\n{}",
        w.log_text()
    );
    for part in 0..PARTITIONS {
        let recs: Vec<&Rec> = got.iter().filter(|r| r.partition == part).collect();
        assert_eq!(recs.len(), N as usize);
        for (i, r) in recs.iter().enumerate() {
            let i = i as i64;
            assert_eq!(r.offset, i, "a fresh target keeps offsets");
            assert_eq!(r.key.as_deref(), Some(&key(part, i)[..]));
            assert_eq!(r.value.as_deref(), Some(&value(part, i)[..]));
            assert_eq!(r.timestamp, Some(TS0 + i));
            assert_eq!(
                r.headers,
                [
                    ("h".to_string(), Some(vec![i as u8, 0x80])),
                    ("null".to_string(), None)
                ]
            );
        }
    }
    // The target topic has the source's partition count and its synced retention.
    assert_eq!(
        topic_config(&b.bootstrap(), "A.orders", "retention.ms").as_deref(),
        Some("7200000")
    );
    // The offset-syncs topic on A was created as MM2 creates it: compacted, one partition.
    assert_eq!(
        topic_config(
            &a.bootstrap(),
            "mm2-offset-syncs.B.internal",
            "cleanup.policy"
        )
        .as_deref(),
        Some("compact")
    );

    // Offset syncs on A: MM2's format (no version header) and rule: the first record of each
    // partition, then one every offset.lag.max (100) + 1 records; upstream == downstream here.
    let mut syncs: BTreeMap<i32, Vec<(i64, i64)>> = BTreeMap::new();
    read(
        &a.bootstrap(),
        "mm2-offset-syncs.B.internal",
        1,
        TIMEOUT,
        |recs| {
            syncs.clear();
            for r in recs {
                let (t, rest) = string(r.key.as_deref().unwrap());
                assert_eq!(t, "orders");
                let p = i32::from_be_bytes(rest[..4].try_into().unwrap());
                let v = r.value.as_deref().unwrap();
                assert_eq!(v.len(), 16, "offset-sync values are two int64s");
                syncs
                    .entry(p)
                    .or_default()
                    .push((be_i64(v), be_i64(&v[8..])));
            }
            (0..PARTITIONS).all(|p| syncs.get(&p).is_some_and(|s| s.len() >= 4))
        },
    );
    for p in 0..PARTITIONS {
        let s = &syncs[&p];
        assert_eq!(s[0], (0, 0), "partition {p}: the first record's sync");
        assert!(s.iter().all(|(u, d)| u == d), "{s:?}");
        assert!(s.contains(&(101, 101)) && s.contains(&(202, 202)), "{s:?}");
    }

    // Checkpoints on B: key {group, topic, partition}, value {version 0, upstream, downstream,
    // metadata}; the group's A offsets translated, never ahead, never moving backwards, and for
    // a group at the head of the flow at most offset.lag.max behind.
    let mut checkpoints: BTreeMap<i32, (i64, i64)> = BTreeMap::new();
    read(
        &b.bootstrap(),
        "A.checkpoints.internal",
        1,
        TIMEOUT,
        |recs| {
            checkpoints.clear();
            for r in recs {
                let (g, rest) = string(r.key.as_deref().unwrap());
                let (t, rest) = string(rest);
                let p = i32::from_be_bytes(rest[..4].try_into().unwrap());
                assert_eq!((g.as_str(), t.as_str()), ("billing", "A.orders"));
                let v = r.value.as_deref().unwrap();
                assert_eq!(&v[..2], &[0, 0], "checkpoint value version 0");
                let (meta, end) = string(&v[18..]);
                assert!(end.is_empty() && meta.is_empty());
                let c = (be_i64(&v[2..]), be_i64(&v[10..]));
                if let Some(prev) = checkpoints.get(&p) {
                    assert!(c.1 >= prev.1, "partition {p}: {prev:?} then {c:?}");
                }
                checkpoints.insert(p, c);
            }
            let close = |p: i32, up: i64| {
                checkpoints
                    .get(&p)
                    .is_some_and(|c| c.0 == up && c.1 <= up && up - c.1 <= 101)
            };
            // billing on partition 1 is just behind the flow: within offset.lag.max (MM2's
            // promise); on partition 0 it is 250 records behind, where MM2's thinning sync
            // history (0, 202, 303, 399 kept of 0, 101, ...) translates more conservatively.
            checkpoints.get(&0).is_some_and(|c| c.0 == 150) && close(1, 390)
        },
    );
    for (p, up) in [(0, 150i64), (1, 390)] {
        let (u, d) = checkpoints.get(&p).copied().unwrap_or_else(|| {
            panic!(
                "no checkpoint for partition {p}: {checkpoints:?}; worker log:\n{}",
                w.log_text()
            )
        });
        assert_eq!(u, up);
        assert!(d >= 0 && d <= up, "partition {p}: {u} → {d}");
    }

    // Heartbeats on B: key {source alias, target alias}, value {version 0, timestamp}.
    let beats = read(&b.bootstrap(), "heartbeats", 1, TIMEOUT, |r| r.len() >= 2);
    assert!(beats.len() >= 2, "heartbeats: {}", w.log_text());
    for r in &beats {
        let (s, rest) = string(r.key.as_deref().unwrap());
        let (t, rest) = string(rest);
        assert!(rest.is_empty());
        assert_eq!((s.as_str(), t.as_str()), ("A", "B"));
        let v = r.value.as_deref().unwrap();
        assert_eq!(v.len(), 10);
        assert_eq!(&v[..2], &[0, 0]);
        assert!(be_i64(&v[2..]) > TS0);
    }
    // Every connector and task still runs (nothing failed along the way).
    for c in [
        "MirrorSourceConnector",
        "MirrorCheckpointConnector",
        "MirrorHeartbeatConnector",
    ] {
        let name = format!("A-%3EB.{c}");
        assert!(
            wait_until(TIMEOUT, || w
                .state(&name)
                .is_some_and(|(s, tasks)| s == "RUNNING"
                    && !tasks.is_empty()
                    && tasks.iter().all(|t| t.0 == "RUNNING"))),
            "{c}: {:?}",
            w.state(&name)
        );
    }
}

/// With `offset-syncs.topic.location=target` the syncs travel with the mirrored records: the
/// source role appends them to its polls, they land on the target cluster, and the checkpoint
/// role reads them there (through local-admin) to translate a group's offsets.
#[test]
fn offset_syncs_can_live_on_the_target() {
    let a = Weft::start(&[]);
    let b = Weft::start(&[]);
    let p: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", a.bootstrap())
        .create()
        .expect("producer");
    for i in 0..250i64 {
        let v = value(0, i);
        p.send(
            BaseRecord::<[u8], [u8]>::to("events")
                .payload(&v)
                .partition(0),
        )
        .expect("send");
        p.poll(Duration::ZERO);
    }
    p.flush(Duration::from_secs(30)).expect("flush");
    commit_group(&a.bootstrap(), "audit", "events", &[(0, 202)]);

    let dir = tempfile::tempdir().unwrap();
    let files = [
        write(
            dir.path(),
            "worker.properties",
            &[
                format!("bootstrap.servers={}", b.bootstrap()),
                "listeners=http://127.0.0.1:0".into(),
                format!(
                    "offset.storage.file.filename={}",
                    dir.path().join("offsets").display()
                ),
                "key.converter=org.apache.kafka.connect.converters.ByteArrayConverter".into(),
                "value.converter=org.apache.kafka.connect.converters.ByteArrayConverter".into(),
            ],
        ),
        write(
            dir.path(),
            "source.properties",
            &[
                "name=mirror-to-target".into(),
                "connector.class=mirror".into(),
                "source.cluster.alias=A".into(),
                "target.cluster.alias=B".into(),
                "topics=events".into(),
                "offset-syncs.topic.location=target".into(),
                format!(
                    "capability.remote-cluster.bootstrap.servers={}",
                    a.bootstrap()
                ),
                "capability.local-admin=true".into(),
                "capability.clock=true".into(),
            ],
        ),
        write(
            dir.path(),
            "checkpoint.properties",
            &[
                "name=checkpoints-from-target".into(),
                "connector.class=MirrorCheckpointConnector".into(),
                "source.cluster.alias=A".into(),
                "target.cluster.alias=B".into(),
                "groups=audit".into(),
                "offset-syncs.topic.location=target".into(),
                "emit.checkpoints.interval.seconds=1".into(),
                "refresh.groups.interval.seconds=1".into(),
                format!(
                    "capability.remote-cluster.bootstrap.servers={}",
                    a.bootstrap()
                ),
                "capability.local-admin=true".into(),
                "capability.clock=true".into(),
            ],
        ),
    ];
    let w = Worker::standalone(dir.path(), &files);
    let got = read(&b.bootstrap(), "A.events", 1, TIMEOUT, |r| r.len() >= 250);
    assert_eq!(got.len(), 250, "worker log:\n{}", w.log_text());
    for (i, r) in got.iter().enumerate() {
        assert_eq!(r.value.as_deref(), Some(&value(0, i as i64)[..]));
    }
    let mut syncs = Vec::new();
    read(
        &b.bootstrap(),
        "mm2-offset-syncs.B.internal",
        1,
        TIMEOUT,
        |recs| {
            syncs = recs
                .iter()
                .map(|r| {
                    let (t, rest) = string(r.key.as_deref().unwrap());
                    let part = i32::from_be_bytes(rest[..4].try_into().unwrap());
                    let v = r.value.as_deref().unwrap();
                    (t, part, be_i64(v), be_i64(&v[8..]))
                })
                .collect::<Vec<_>>();
            syncs.len() >= 3
        },
    );
    assert!(
        syncs.len() >= 3,
        "syncs on the target: {syncs:?}\n{}",
        w.log_text()
    );
    assert_eq!(syncs[0], ("events".to_string(), 0, 0, 0));
    assert_eq!(syncs[1], ("events".to_string(), 0, 101, 101));
    assert_eq!(syncs[2], ("events".to_string(), 0, 202, 202));

    // The checkpoint role read those syncs on B: audit's offset 202 on A translates through the
    // (202, 202) sync, in MM2's checkpoint format (an earlier checkpoint, made before every
    // sync was read, may be more conservative).
    let mut found = None;
    read(
        &b.bootstrap(),
        "A.checkpoints.internal",
        1,
        TIMEOUT,
        |recs| {
            for r in recs {
                let (g, rest) = string(r.key.as_deref().unwrap());
                let (t, rest) = string(rest);
                let p = i32::from_be_bytes(rest[..4].try_into().unwrap());
                let v = r.value.as_deref().unwrap();
                found = Some((g, t, p, be_i64(&v[2..]), be_i64(&v[10..])));
            }
            found.as_ref().is_some_and(|c| c.4 == 202)
        },
    );
    assert_eq!(
        found,
        Some(("audit".to_string(), "A.events".to_string(), 0, 202, 202)),
        "worker log:\n{}",
        w.log_text()
    );
}

fn produce_values(bootstrap: &str, topic: &str, range: std::ops::Range<i64>) {
    let p: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .create()
        .expect("producer");
    for i in range {
        let v = value(0, i);
        let k = key(0, i);
        p.send(
            BaseRecord::<[u8], [u8]>::to(topic)
                .key(&k)
                .payload(&v)
                .partition(0),
        )
        .expect("send");
        p.poll(Duration::ZERO);
    }
    p.flush(Duration::from_secs(30)).expect("flush");
}

/// The worker killed with -9 mid-flow and restarted resumes from its stored positions: every
/// source record arrives, in order, with at most the unflushed tail repeated.
#[test]
fn a_killed_worker_resumes_without_losing_records() {
    let a = Weft::start(&[]);
    let b = Weft::start(&[]);
    produce_values(&a.bootstrap(), "clicks", 0..300);
    let dir = tempfile::tempdir().unwrap();
    let files = [
        write(
            dir.path(),
            "worker.properties",
            &[
                format!("bootstrap.servers={}", b.bootstrap()),
                "listeners=http://127.0.0.1:0".into(),
                format!(
                    "offset.storage.file.filename={}",
                    dir.path().join("offsets").display()
                ),
                "offset.flush.interval.ms=200".into(),
                "key.converter=org.apache.kafka.connect.converters.ByteArrayConverter".into(),
                "value.converter=org.apache.kafka.connect.converters.ByteArrayConverter".into(),
            ],
        ),
        write(
            dir.path(),
            "source.properties",
            &[
                "name=clicks-mirror".into(),
                "connector.class=org.apache.kafka.connect.mirror.MirrorSourceConnector".into(),
                "source.cluster.alias=A".into(),
                "target.cluster.alias=B".into(),
                "topics=clicks".into(),
                format!(
                    "capability.remote-cluster.bootstrap.servers={}",
                    a.bootstrap()
                ),
                "capability.remote-cluster.produce.topics=mm2-offset-syncs[.].*[.]internal".into(),
                "capability.local-admin=true".into(),
                "capability.clock=true".into(),
            ],
        ),
    ];
    let mut w = Worker::standalone(dir.path(), &files);
    let first = read(&b.bootstrap(), "A.clicks", 1, TIMEOUT, |r| r.len() >= 300);
    assert_eq!(first.len(), 300, "worker log:\n{}", w.log_text());
    // Positions reach the offsets file (a flush after the last record was acknowledged).
    let offsets = dir.path().join("offsets");
    assert!(
        wait_until(TIMEOUT, || std::fs::read(&offsets).is_ok_and(|b| {
            // The position text sits in the JSON file as a string, its quotes escaped.
            let text = String::from_utf8_lossy(&b);
            text.contains(r#"{\"offset\":300}"#) || text.contains(r#"{"offset":300}"#)
        })),
        "stored positions never reached 300: {:?}",
        std::fs::read_to_string(&offsets)
    );
    w.kill9();
    produce_values(&a.bootstrap(), "clicks", 300..500);
    w.restart();
    let all = read(&b.bootstrap(), "A.clicks", 1, TIMEOUT, |r| r.len() >= 500);
    assert_eq!(
        all.len(),
        500,
        "nothing repeated, nothing lost; log:\n{}",
        w.log_text()
    );
    for (i, r) in all.iter().enumerate() {
        assert_eq!(
            r.value.as_deref(),
            Some(&value(0, i as i64)[..]),
            "record {i}"
        );
        assert_eq!(r.key.as_deref(), Some(&key(0, i as i64)[..]));
    }
    // The new lifetime's first record got its own sync again (MM2 does the same).
    let mut syncs = Vec::new();
    read(
        &a.bootstrap(),
        "mm2-offset-syncs.B.internal",
        1,
        TIMEOUT,
        |recs| {
            syncs = recs
                .iter()
                .map(|r| {
                    let v = r.value.as_deref().unwrap();
                    (be_i64(v), be_i64(&v[8..]))
                })
                .collect::<Vec<_>>();
            syncs.contains(&(300, 300))
        },
    );
    assert!(
        syncs.contains(&(0, 0)) && syncs.contains(&(300, 300)),
        "{syncs:?}"
    );
}

/// A topic's config value, read with DescribeConfigs.
fn topic_config(bootstrap: &str, topic: &str, key: &str) -> Option<String> {
    let described = rt()
        .block_on(admin(bootstrap).describe_configs(&[ResourceSpecifier::Topic(topic)], &opts()))
        .expect("describe configs");
    let config = described[0].as_ref().expect("topic configs");
    config
        .entries
        .iter()
        .find(|e| e.name == key)
        .and_then(|e| e.value.clone())
}
