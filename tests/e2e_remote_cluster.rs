//! The `remote-cluster` and `local-admin` capabilities against two real `weft` brokers: a test
//! guest (tests/plugins/kafka-probe) is loaded with weft_runtime and told, record by record,
//! which capability call to make; the answers are checked against what rdkafka clients wrote
//! to and read from the same brokers.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::connect::wait_until;
use common::Weft;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::{Offset, TopicPartitionList};
use weft_runtime::{Instance, LoadedPlugin, PluginConfig, Record, Runtime, Schemas};

fn probe(config: &[(&str, String)]) -> Instance {
    static PLUGIN: std::sync::OnceLock<(Runtime, Arc<LoadedPlugin>)> = std::sync::OnceLock::new();
    let (_, plugin) = PLUGIN.get_or_init(|| {
        let rt = Runtime::new().expect("runtime");
        let p = rt
            .load_file(&common::connect::test_plugin("kafka-probe"))
            .expect("load kafka-probe");
        (rt, p)
    });
    // The probe imports both capabilities, so both are granted: on the same cluster unless the
    // test says otherwise.
    let get = |k: &str| {
        config
            .iter()
            .find(|(key, _)| *key == k)
            .map(|(_, v)| v.clone())
    };
    let remote = get("capability.remote-cluster.bootstrap.servers");
    let local = get("capability.local-admin.bootstrap.servers");
    let mut pairs: Vec<(String, String)> = vec![
        ("capability.local-admin".into(), "true".into()),
        (
            "capability.remote-cluster.bootstrap.servers".into(),
            remote.clone().or(local.clone()).unwrap_or_default(),
        ),
        (
            "capability.local-admin.bootstrap.servers".into(),
            local.or(remote).unwrap_or_default(),
        ),
    ];
    pairs.extend(config.iter().map(|(k, v)| (k.to_string(), v.clone())));
    let cfg = PluginConfig::new(pairs);
    plugin.instantiate(&cfg).expect("instantiate kafka-probe")
}

/// One capability call: `Ok(answer)` or `Err("<kind>: <message>")`.
fn call(inst: &mut Instance, op: &str, key: &str, value: &[u8]) -> Result<Vec<u8>, String> {
    let mut r = Record::new(op, value.to_vec());
    r.key = Some(key.as_bytes().to_vec());
    let out = inst
        .transform(&[r], &Schemas::default())
        .unwrap_or_else(|e| panic!("{op}: the call itself failed: {e}"));
    let r = out.records.into_iter().next().expect("one answer");
    let v = r.value.unwrap_or_default();
    if r.topic == "error" {
        Err(String::from_utf8_lossy(&v).into_owned())
    } else {
        Ok(v)
    }
}

fn text(inst: &mut Instance, op: &str, key: &str, value: &str) -> String {
    let v = call(inst, op, key, value.as_bytes()).unwrap_or_else(|e| panic!("{op}: {e}"));
    String::from_utf8(v).expect("utf-8 answer")
}

fn producer(bootstrap: &str) -> BaseProducer {
    ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("linger.ms", "0")
        .create()
        .expect("producer")
}

fn create_topic(bootstrap: &str, topic: &str, partitions: u32, config: &[&str]) {
    let mut args = vec![
        "topics".to_string(),
        "create".into(),
        topic.into(),
        "--partitions".into(),
        partitions.to_string(),
        "--bootstrap-server".into(),
        bootstrap.into(),
    ];
    for c in config {
        args.push("--config".into());
        args.push((*c).into());
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (ok, out, err) = common::weft_cmd(&args, None);
    assert!(ok, "weft topics create {topic}: {out}{err}");
}

/// What the probe's describe answers: `{topic: (partitions, configs)}`.
fn parse_describe(s: &str) -> std::collections::BTreeMap<String, (u32, Vec<(String, String)>)> {
    let mut out = std::collections::BTreeMap::new();
    let mut current: Option<String> = None;
    for line in s.lines() {
        if let Some(h) = line.strip_prefix('#') {
            let (name, n) = h.rsplit_once(' ').expect("#name partitions");
            out.insert(name.to_string(), (n.parse().expect("count"), Vec::new()));
            current = Some(name.to_string());
        } else if let (Some(c), Some((k, v))) = (&current, line.split_once('=')) {
            if let Some(e) = out.get_mut(c) {
                e.1.push((k.to_string(), v.to_string()));
            }
        }
    }
    out
}

fn config_of<'a>(d: &'a (u32, Vec<(String, String)>), key: &str) -> Option<&'a str> {
    d.1.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}

#[test]
fn remote_cluster_reads_exactly_what_is_stored_and_writes_only_granted_topics() {
    let a = Weft::start(&[]);
    let ab = a.bootstrap();
    create_topic(&ab, "orders", 3, &["retention.ms=3600000"]);
    create_topic(
        &ab,
        "mm2-offset-syncs.B.internal",
        1,
        &["cleanup.policy=compact"],
    );
    // 90 records over 3 partitions: keys, values, headers (one null), timestamps, a null value.
    let p = producer(&ab);
    let mut sent = Vec::new();
    for i in 0..90i64 {
        let part = (i % 3) as i32;
        let key = format!("k{i}");
        let value = format!("value-{i}");
        let ts = 1_700_000_000_000 + i * 7;
        let headers = OwnedHeaders::new()
            .insert(Header {
                key: "h1",
                value: Some(format!("x{i}").as_bytes()),
            })
            .insert(Header::<&[u8]> {
                key: "h-null",
                value: None,
            });
        let mut rec = BaseRecord::to("orders")
            .partition(part)
            .key(key.as_bytes())
            .timestamp(ts)
            .headers(headers);
        if i != 40 {
            rec = rec.payload(value.as_bytes());
        }
        p.send(rec).expect("send");
        sent.push((part, key, (i != 40).then_some(value), ts));
    }
    p.flush(Duration::from_secs(30)).expect("flush");
    // A group on A with committed offsets.
    let g: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", &ab)
        .set("group.id", "payments")
        .create()
        .expect("consumer");
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset("orders", 0, Offset::Offset(7))
        .unwrap();
    tpl.add_partition_offset("orders", 2, Offset::Offset(11))
        .unwrap();
    g.commit(&tpl, CommitMode::Sync).expect("commit");
    drop(g);

    let mut inst = probe(&[
        ("capability.remote-cluster.bootstrap.servers", ab.clone()),
        (
            "capability.remote-cluster.produce.topics",
            r"mm2-offset-syncs\..*\.internal".into(),
        ),
        ("capability.remote-cluster.fetchers", "2".into()),
        ("capability.remote-cluster.client.client.rack", "r1".into()),
        // Network waits are not charged to the call: far shorter than the fetch waits below.
        ("plugin.call.timeout.ms", "2000".into()),
    ]);

    let topics = text(&mut inst, "remote.list-topics", "", "");
    let topics: Vec<&str> = topics.lines().collect();
    assert!(
        topics.contains(&"orders") && topics.contains(&"mm2-offset-syncs.B.internal"),
        "{topics:?}"
    );

    let d = parse_describe(&text(
        &mut inst,
        "remote.describe-topics",
        "",
        "orders\nmissing",
    ));
    assert_eq!(d.len(), 1, "a missing topic is left out: {d:?}");
    let orders = &d["orders"];
    assert_eq!(orders.0, 3);
    assert_eq!(config_of(orders, "retention.ms"), Some("3600000"));
    assert!(
        config_of(orders, "cleanup.policy").is_some(),
        "defaults are included: {orders:?}"
    );

    let w = text(
        &mut inst,
        "remote.list-offsets",
        "",
        "orders:0\norders:1\norders:2\nmissing:0",
    );
    let mut w: Vec<&str> = w.lines().collect();
    w.sort();
    assert_eq!(w, ["orders:0:0:30", "orders:1:0:30", "orders:2:0:30"]);

    let groups = text(&mut inst, "remote.list-groups", "", "");
    assert!(groups.lines().any(|g| g == "payments"), "{groups}");
    let offsets = text(&mut inst, "remote.group-offsets", "payments", "");
    let mut offsets: Vec<&str> = offsets.lines().collect();
    offsets.sort();
    assert_eq!(offsets, ["orders:0:7", "orders:2:11"]);
    assert_eq!(text(&mut inst, "remote.group-offsets", "nobody", ""), "");

    // Everything of partitions 0 and 1, partition 2 from offset 5.
    text(
        &mut inst,
        "remote.assign",
        "",
        "orders:0:0\norders:1:0\norders:2:5",
    );
    let expected: usize = 30 + 30 + 25;
    let mut got: Vec<Record> = Vec::new();
    assert!(
        wait_until(Duration::from_secs(60), || {
            let batch = call(&mut inst, "remote.fetch", "1000", b"500").expect("fetch");
            got.extend(weft_batch::decode(&batch).expect("a WFB1 batch"));
            got.len() >= expected
        }),
        "fetched {} of {expected}",
        got.len()
    );
    assert_eq!(got.len(), expected, "nothing twice");
    for part in 0..3 {
        let offs: Vec<i64> = got
            .iter()
            .filter(|r| r.partition == Some(part))
            .map(|r| r.offset.expect("offset"))
            .collect();
        let first = if part == 2 { 5 } else { 0 };
        assert_eq!(
            offs,
            (first..30).collect::<Vec<i64>>(),
            "partition {part} in order"
        );
    }
    for r in &got {
        assert_eq!(r.topic, "orders");
        let part = r.partition.expect("partition");
        let off = r.offset.expect("offset");
        // The i-th record sent to a partition sits at offset i there.
        let (sp, key, value, ts) = sent
            .iter()
            .filter(|s| s.0 == part)
            .nth(off as usize)
            .expect("a record that was sent");
        assert_eq!(*sp, part);
        assert_eq!(r.key.as_deref(), Some(key.as_bytes()));
        assert_eq!(r.value.as_deref(), value.as_deref().map(str::as_bytes));
        assert_eq!(r.timestamp, Some(*ts));
        let i: i64 = key[1..].parse().unwrap();
        assert_eq!(
            r.headers,
            vec![
                weft_runtime::Header {
                    key: "h1".into(),
                    value: Some(format!("x{i}").into_bytes()),
                },
                weft_runtime::Header {
                    key: "h-null".into(),
                    value: None,
                },
            ]
        );
    }
    // Re-assigning one partition elsewhere: only it starts again.
    text(
        &mut inst,
        "remote.assign",
        "",
        "orders:0:28\norders:1:30\norders:2:30",
    );
    let mut again: Vec<Record> = Vec::new();
    assert!(wait_until(Duration::from_secs(30), || {
        let batch = call(&mut inst, "remote.fetch", "1000", b"200").expect("fetch");
        again.extend(weft_batch::decode(&batch).expect("batch"));
        again.len() >= 2
    }));
    let offs: Vec<(Option<i32>, Option<i64>)> =
        again.iter().map(|r| (r.partition, r.offset)).collect();
    assert_eq!(offs, [(Some(0), Some(28)), (Some(0), Some(29))]);
    // Nothing more arrives: the fetch waits out its timeout and answers an empty batch.
    let started = Instant::now();
    let batch = call(&mut inst, "remote.fetch", "1000", b"300").expect("fetch");
    assert!(weft_batch::decode(&batch).unwrap().is_empty());
    assert!(started.elapsed() >= Duration::from_millis(300));

    // produce: granted topic → written, with key, headers and timestamp.
    let mut sync = weft_batch::Record::new("mm2-offset-syncs.B.internal", b"v1".to_vec());
    sync.key = Some(b"k1".to_vec());
    sync.partition = Some(0);
    sync.timestamp = Some(1_700_000_123_456);
    sync.headers = vec![weft_runtime::Header {
        key: "hh".into(),
        value: Some(b"1".to_vec()),
    }];
    let failures = call(
        &mut inst,
        "remote.produce",
        "",
        &weft_batch::encode(&[sync.clone(), sync.clone()]).unwrap(),
    )
    .expect("produce to a granted topic");
    assert!(
        failures.is_empty(),
        "{}",
        String::from_utf8_lossy(&failures)
    );
    let read = common::connect::consume(
        &ab,
        "mm2-offset-syncs.B.internal",
        2,
        Duration::from_secs(30),
    );
    assert_eq!(read.len(), 2);
    // ... outside the regex → a fatal error naming the key, nothing written.
    let e = call(
        &mut inst,
        "remote.produce",
        "",
        &weft_batch::encode(&[weft_batch::Record::new("orders", b"x".to_vec())]).unwrap(),
    )
    .expect_err("orders is not granted");
    assert!(
        e.starts_with("fatal:")
            && e.contains("capability.remote-cluster.produce.topics")
            && e.contains("orders"),
        "{e}"
    );
    let w = text(&mut inst, "remote.list-offsets", "", "orders:0");
    assert_eq!(w, "orders:0:0:30");

    // create-topics: a topic it may write is created with its configs (an existing one left
    // as it is); any other name refuses the whole call, naming the grant.
    text(
        &mut inst,
        "remote.create-topics",
        "",
        "mm2-offset-syncs.C.internal:1:-1:cleanup.policy=compact\nmm2-offset-syncs.B.internal:3:-1:",
    );
    let d = parse_describe(&text(
        &mut inst,
        "remote.describe-topics",
        "",
        "mm2-offset-syncs.C.internal\nmm2-offset-syncs.B.internal",
    ));
    assert_eq!(d["mm2-offset-syncs.C.internal"].0, 1);
    assert_eq!(
        config_of(&d["mm2-offset-syncs.C.internal"], "cleanup.policy"),
        Some("compact")
    );
    assert_eq!(d["mm2-offset-syncs.B.internal"].0, 1, "left as it was");
    let e = call(&mut inst, "remote.create-topics", "", b"orders2:1:-1:")
        .expect_err("orders2 is not granted");
    assert!(
        e.starts_with("fatal:")
            && e.contains("capability.remote-cluster.produce.topics")
            && e.contains("orders2"),
        "{e}"
    );
    assert!(!text(&mut inst, "remote.list-topics", "", "")
        .lines()
        .any(|t| t == "orders2"));
}

#[test]
fn local_admin_creates_topics_and_commits_only_for_groups_without_members() {
    let b = Weft::start(&[]);
    let bb = b.bootstrap();
    create_topic(&bb, "existing", 2, &[]);
    let mut inst = probe(&[
        ("capability.local-admin", "true".into()),
        ("capability.local-admin.bootstrap.servers", bb.clone()),
        ("plugin.call.timeout.ms", "2000".into()),
    ]);
    // Create: a new topic with configs, and an existing one (left as it is).
    text(
        &mut inst,
        "local.create-topics",
        "",
        "A.orders:3:-1:retention.ms=3600000;cleanup.policy=compact\nexisting:5:-1:",
    );
    let d = parse_describe(&text(
        &mut inst,
        "local.describe-topics",
        "",
        "A.orders\nexisting",
    ));
    assert_eq!(d["A.orders"].0, 3);
    assert_eq!(config_of(&d["A.orders"], "retention.ms"), Some("3600000"));
    assert_eq!(config_of(&d["A.orders"], "cleanup.policy"), Some("compact"));
    assert_eq!(d["existing"].0, 2, "an existing topic is left as it is");
    assert!(text(&mut inst, "local.list-topics", "", "")
        .lines()
        .any(|t| t == "A.orders"));

    // Partitions: raised, never lowered.
    text(&mut inst, "local.create-partitions", "A.orders", "5");
    text(&mut inst, "local.create-partitions", "A.orders", "2");
    let d = parse_describe(&text(&mut inst, "local.describe-topics", "", "A.orders"));
    assert_eq!(d["A.orders"].0, 5);
    let missing = call(&mut inst, "local.create-partitions", "nope", b"3").expect_err("no topic");
    assert!(missing.contains("nope"), "{missing}");

    // Configs: incremental, the others kept.
    text(
        &mut inst,
        "local.alter-topic-configs",
        "A.orders",
        "retention.ms=7200000\nmax.message.bytes=2000000",
    );
    let d = parse_describe(&text(&mut inst, "local.describe-topics", "", "A.orders"));
    assert_eq!(config_of(&d["A.orders"], "retention.ms"), Some("7200000"));
    assert_eq!(
        config_of(&d["A.orders"], "max.message.bytes"),
        Some("2000000")
    );
    assert_eq!(
        config_of(&d["A.orders"], "cleanup.policy"),
        Some("compact"),
        "kept"
    );

    // A group nobody is in: written, read back by the capability and by a real client.
    assert_eq!(
        text(
            &mut inst,
            "local.commit-group-offsets",
            "failover",
            "A.orders:0:12\nA.orders:1:3"
        ),
        "true"
    );
    let mut offs: Vec<String> = text(&mut inst, "local.group-offsets", "failover", "")
        .lines()
        .map(String::from)
        .collect();
    offs.sort();
    assert_eq!(offs, ["A.orders:0:12", "A.orders:1:3"]);
    let c: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", &bb)
        .set("group.id", "failover")
        .create()
        .unwrap();
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition("A.orders", 0);
    let committed = c.committed_offsets(tpl, Duration::from_secs(10)).unwrap();
    assert_eq!(committed.elements()[0].offset(), Offset::Offset(12));
    drop(c);

    // A group with an active member: refused, nothing written.
    let member: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", &bb)
        .set("group.id", "busy")
        .set("auto.offset.reset", "earliest")
        .create()
        .unwrap();
    member.subscribe(&["A.orders"]).unwrap();
    assert!(
        wait_until(Duration::from_secs(30), || {
            let _ = member.poll(Duration::from_millis(100));
            !member.assignment().map(|a| a.count() == 0).unwrap_or(true)
        }),
        "the member joined"
    );
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset("A.orders", 0, Offset::Offset(1))
        .unwrap();
    member.commit(&tpl, CommitMode::Sync).unwrap();
    assert_eq!(
        text(
            &mut inst,
            "local.commit-group-offsets",
            "busy",
            "A.orders:0:99"
        ),
        "false"
    );
    let _ = member.poll(Duration::from_millis(100));
    assert_eq!(
        text(&mut inst, "local.group-offsets", "busy", ""),
        "A.orders:0:1",
        "nothing written while the member is there"
    );
    // Once it left, the group is empty and the commit goes through.
    member.unsubscribe();
    drop(member);
    assert!(wait_until(Duration::from_secs(30), || text(
        &mut inst,
        "local.commit-group-offsets",
        "busy",
        "A.orders:0:99"
    ) == "true"));
    assert_eq!(
        text(&mut inst, "local.group-offsets", "busy", ""),
        "A.orders:0:99"
    );
}

#[test]
fn an_unreachable_cluster_is_a_retriable_error_naming_it() {
    // A port nothing listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let bootstrap = format!("127.0.0.1:{port}");
    let mut inst = probe(&[
        (
            "capability.remote-cluster.bootstrap.servers",
            bootstrap.clone(),
        ),
        ("plugin.call.timeout.ms", "1000".into()),
    ]);
    let e = call(&mut inst, "remote.list-topics", "", b"").expect_err("nothing there");
    assert!(e.starts_with("retriable:") && e.contains(&bootstrap), "{e}");
    // The instance survived the long wait (not charged to its 1 s deadline) and still answers.
    let e = call(&mut inst, "remote.list-groups", "", b"").expect_err("still nothing there");
    assert!(e.starts_with("retriable:"), "{e}");
    // Reading from it: the fetch says so too, rather than answering empty batches forever.
    text(&mut inst, "remote.assign", "", "t:0:0");
    let mut err = None;
    assert!(
        wait_until(Duration::from_secs(60), || {
            err = call(&mut inst, "remote.fetch", "10", b"500").err();
            err.is_some()
        }),
        "fetch from an unreachable cluster never failed"
    );
    let e = err.unwrap_or_default();
    assert!(e.starts_with("retriable:") && e.contains(&bootstrap), "{e}");
}

/// Delay added to every broker response by [`delay_proxy`], in ms (changeable while it runs).
type Delay = Arc<std::sync::atomic::AtomicU64>;

fn read_frame(r: &mut impl std::io::Read) -> Option<Vec<u8>> {
    let mut len = [0u8; 4];
    r.read_exact(&mut len).ok()?;
    let n = usize::try_from(i32::from_be_bytes(len)).ok()?;
    let mut frame = vec![0u8; 4 + n];
    frame[..4].copy_from_slice(&len);
    r.read_exact(&mut frame[4..]).ok()?;
    Some(frame)
}

/// A TCP proxy in front of the broker on `broker_port` that holds every response for the
/// current delay: a round trip of that length, with requests still pipelined (each response is
/// due at its arrival plus the delay, not after the previous one's).
fn delay_proxy(listener: std::net::TcpListener, broker_port: u16, delay: Delay) {
    use std::io::Write;
    use std::net::{Shutdown, TcpStream};
    use std::sync::atomic::Ordering;
    std::thread::spawn(move || {
        for client in listener.incoming().map_while(Result::ok) {
            let delay = delay.clone();
            std::thread::spawn(move || {
                let Ok(broker) = TcpStream::connect(("127.0.0.1", broker_port)) else {
                    return;
                };
                let _ = client.set_nodelay(true);
                let _ = broker.set_nodelay(true);
                let (mut c_in, mut b_out) =
                    (client.try_clone().unwrap(), broker.try_clone().unwrap());
                std::thread::spawn(move || {
                    while let Some(frame) = read_frame(&mut c_in) {
                        if b_out.write_all(&frame).is_err() {
                            break;
                        }
                    }
                    let _ = b_out.shutdown(Shutdown::Write);
                });
                let (tx, rx) = std::sync::mpsc::channel::<(Instant, Vec<u8>)>();
                let mut b_in = broker;
                std::thread::spawn(move || {
                    while let Some(frame) = read_frame(&mut b_in) {
                        let d = Duration::from_millis(delay.load(Ordering::Relaxed));
                        if tx.send((Instant::now() + d, frame)).is_err() {
                            break;
                        }
                    }
                });
                let mut c_out = client;
                for (due, frame) in rx {
                    let now = Instant::now();
                    if due > now {
                        std::thread::sleep(due - now);
                    }
                    if c_out.write_all(&frame).is_err() {
                        break;
                    }
                }
                let _ = c_out.shutdown(Shutdown::Both);
            });
        }
    });
}

/// Fetches every record of `topic` (partitions 0..parts, `n` in all) with `fetchers` consumers;
/// returns the records per second from the assign to the last record.
fn fetch_all(bootstrap: &str, topic: &str, parts: i32, n: usize, fetchers: usize) -> f64 {
    let mut inst = probe(&[
        (
            "capability.remote-cluster.bootstrap.servers",
            bootstrap.to_string(),
        ),
        ("capability.remote-cluster.fetchers", fetchers.to_string()),
    ]);
    let assign: String = (0..parts).map(|p| format!("{topic}:{p}:0\n")).collect();
    let started = Instant::now();
    text(&mut inst, "remote.assign", "", &assign);
    let mut got = 0usize;
    let mut next = vec![0i64; parts as usize];
    assert!(
        wait_until(Duration::from_secs(300), || {
            let batch = call(&mut inst, "remote.fetch", "50000", b"200").expect("fetch");
            for r in weft_batch::decode(&batch).expect("batch") {
                let p = r.partition.expect("partition") as usize;
                assert_eq!(
                    r.offset,
                    Some(next[p]),
                    "in order, nothing skipped or repeated"
                );
                next[p] += 1;
                got += 1;
            }
            got >= n
        }),
        "fetched {got} of {n}"
    );
    assert_eq!(got, n);
    n as f64 / started.elapsed().as_secs_f64()
}

/// Throughput of `fetch` across a 50 ms round trip against the same path without the delay,
/// with one consumer and with the default four: figures printed (no timed assertion), every
/// record checked to arrive once and in order.
#[test]
fn fetch_keeps_several_requests_in_flight_across_a_slow_link() {
    use std::sync::atomic::Ordering;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let proxy_port = listener.local_addr().unwrap().port();
    let advertised = format!("advertised.listeners=PLAINTEXT://127.0.0.1:{proxy_port}");
    let a = Weft::start(&[&advertised]);
    let delay: Delay = Arc::default();
    delay_proxy(listener, a.port, delay.clone());
    let bootstrap = format!("127.0.0.1:{proxy_port}");
    const PARTS: i32 = 8;
    const N: usize = 400_000;
    create_topic(&bootstrap, "flow", PARTS as u32, &[]);
    let p: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", &bootstrap)
        .set("linger.ms", "20")
        .set("batch.size", "1000000")
        .set("queue.buffering.max.messages", "1000000")
        .create()
        .unwrap();
    let value = [b'v'; 100];
    for i in 0..N {
        let key = format!("{i}");
        let mut rec = BaseRecord::to("flow")
            .partition((i % PARTS as usize) as i32)
            .key(key.as_bytes())
            .payload(&value[..]);
        loop {
            match p.send(rec) {
                Ok(()) => break,
                Err((_, back)) => {
                    p.poll(Duration::from_millis(10));
                    rec = back;
                }
            }
        }
    }
    p.flush(Duration::from_secs(120)).unwrap();

    let direct = fetch_all(&bootstrap, "flow", PARTS, N, 4);
    delay.store(50, Ordering::Relaxed);
    let slow_one = fetch_all(&bootstrap, "flow", PARTS, N, 1);
    let slow_four = fetch_all(&bootstrap, "flow", PARTS, N, 4);
    delay.store(0, Ordering::Relaxed);
    // Again without the delay, so that warm-up does not favour either side.
    let direct_again = fetch_all(&bootstrap, "flow", PARTS, N, 4);
    let base = direct.max(direct_again);
    println!(
        "fetch of {N} x 100 B over {PARTS} partitions: no delay, 4 fetchers {direct:.0} and \
         {direct_again:.0} rec/s; 50 ms round trip: 1 fetcher {slow_one:.0} rec/s, 4 fetchers \
         {slow_four:.0} rec/s ({:.0}% of the better no-delay run)",
        100.0 * slow_four / base
    );
}

/// Sends `values` to partition 0 of `topic` and waits for the acknowledgements.
fn send_values(bootstrap: &str, topic: &str, values: impl Iterator<Item = String>) {
    let p = producer(bootstrap);
    for v in values {
        p.send(
            BaseRecord::<[u8], [u8]>::to(topic)
                .partition(0)
                .payload(v.as_bytes()),
        )
        .expect("send");
    }
    p.flush(Duration::from_secs(30)).expect("flush");
}

/// The remote cluster killed with -9 in the middle of a flow: fetch reports it (retriable,
/// naming the cluster) instead of answering empty batches, and once the broker is back the same
/// assignment goes on where it was, nothing skipped or repeated.
#[test]
fn a_remote_cluster_that_goes_away_and_comes_back_is_read_on_where_it_was() {
    let mut a = Weft::start(&[]);
    let ab = a.bootstrap();
    create_topic(&ab, "events", 1, &[]);
    send_values(&ab, "events", (0..10).map(|i| format!("e{i}")));
    let mut inst = probe(&[("capability.remote-cluster.bootstrap.servers", ab.clone())]);
    text(&mut inst, "remote.assign", "", "events:0:0");
    let mut got: Vec<Record> = Vec::new();
    let fetch = |inst: &mut Instance, got: &mut Vec<Record>| -> Option<String> {
        match call(inst, "remote.fetch", "100", b"300") {
            Ok(batch) => {
                got.extend(weft_batch::decode(&batch).expect("batch"));
                None
            }
            Err(e) => Some(e),
        }
    };
    assert!(wait_until(Duration::from_secs(30), || {
        fetch(&mut inst, &mut got);
        got.len() >= 10
    }));
    a.kill9();
    let mut err = None;
    assert!(
        wait_until(Duration::from_secs(60), || {
            err = fetch(&mut inst, &mut got);
            err.is_some()
        }),
        "no fetch failed while the cluster was down"
    );
    let e = err.unwrap_or_default();
    assert!(e.starts_with("retriable:") && e.contains(&ab), "{e}");
    a.restart();
    send_values(&ab, "events", (10..15).map(|i| format!("e{i}")));
    // The last fetch error, if any, says why a read did not go on (a failure seen once in CI).
    let mut last_err = None;
    assert!(
        wait_until(Duration::from_secs(60), || {
            if let Some(e) = fetch(&mut inst, &mut got) {
                last_err = Some(e);
            }
            got.len() >= 15
        }),
        "read on after the restart: {} of 15; last fetch error: {last_err:?}; broker log:\n{}",
        got.len(),
        a.log_text()
    );
    let seen: Vec<(i64, String)> = got
        .iter()
        .map(|r| {
            (
                r.offset.unwrap_or(-1),
                String::from_utf8_lossy(r.value.as_deref().unwrap_or_default()).into_owned(),
            )
        })
        .collect();
    let want: Vec<(i64, String)> = (0..15).map(|i| (i, format!("e{i}"))).collect();
    assert_eq!(seen, want);
}
