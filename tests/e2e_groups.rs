//! End-to-end: consumer groups on the real `weft` binary with real clients (librdkafka through the
//! rdkafka crate, the `weft` CLI, kafka-python and confluent-kafka, and raw protocol requests).

mod common;

use std::collections::{BTreeMap, HashSet};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use bytes::{Buf, BufMut, BytesMut};
use common::{weft_bin, weft_cmd, Weft};
use kafka_protocol::messages::{
    ApiKey, DescribeGroupsRequest, DescribeGroupsResponse, GroupId, HeartbeatRequest,
    HeartbeatResponse, JoinGroupRequest, JoinGroupResponse, OffsetCommitRequest,
    OffsetCommitResponse, OffsetFetchRequest, OffsetFetchResponse, RequestHeader, SyncGroupRequest,
    SyncGroupResponse, TopicName,
};
use kafka_protocol::protocol::{Decodable, Encodable, HeaderVersion, StrBytes};
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::message::Message;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::{Offset, TopicPartitionList};

const TIMEOUT: Duration = Duration::from_secs(60);
/// Generous bound for anything that should happen "soon" (rebalances, consumption).
const PATIENCE: Duration = Duration::from_secs(120);
const PYTHON: &str = "/usr/bin/python3";

/// Broker settings for group tests: no initial rebalance delay, a small offsets topic, short
/// sessions allowed (so expiry tests do not wait the default 6 s minimum).
const GROUP_OVERRIDES: &[&str] = &[
    "group.initial.rebalance.delay.ms=0",
    "offsets.topic.num.partitions=3",
    "group.min.session.timeout.ms=1000",
];

fn start() -> Weft {
    Weft::start(GROUP_OVERRIDES)
}

fn wait_until(what: &str, timeout: Duration, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn create_topic(bootstrap: &str, name: &str, partitions: i32) {
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .create()
        .expect("admin client");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let res = rt
        .block_on(admin.create_topics(
            &[NewTopic::new(name, partitions, TopicReplication::Fixed(1))],
            &AdminOptions::new().operation_timeout(Some(TIMEOUT)),
        ))
        .expect("create_topics");
    for r in res {
        r.expect("topic created");
    }
}

/// Produces values `from..to` (as decimal strings), spread over the partitions, and waits for acks.
fn produce_range(bootstrap: &str, topic: &str, from: u32, to: u32) {
    let p: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("linger.ms", "5")
        .set("acks", "all")
        .create()
        .expect("producer");
    for i in from..to {
        let v = i.to_string();
        let key = (i % 97).to_string();
        let mut rec = BaseRecord::to(topic).key(&key).payload(&v);
        loop {
            match p.send(rec) {
                Ok(()) => break,
                Err((KafkaError::MessageProduction(_), r)) => {
                    rec = r;
                    p.poll(Duration::from_millis(10));
                }
                Err((e, _)) => panic!("produce failed: {e}"),
            }
        }
        if i % 1000 == 0 {
            p.poll(Duration::ZERO);
        }
    }
    p.flush(TIMEOUT).expect("flush");
}

fn consumer_config(bootstrap: &str, group: &str) -> ClientConfig {
    let mut c = ClientConfig::new();
    c.set("bootstrap.servers", bootstrap)
        .set("group.id", group)
        .set("auto.offset.reset", "earliest")
        .set("enable.auto.commit", "true")
        // At-least-once: store an offset only after the record is processed. rust-rdkafka drains
        // (polls) queued records while a consumer closes; with automatic storing those unprocessed
        // records would be committed on close and lost to the group.
        .set("enable.auto.offset.store", "false")
        .set("auto.commit.interval.ms", "500")
        .set("session.timeout.ms", "10000")
        .set("heartbeat.interval.ms", "1000");
    c
}

/// A group consumer on its own thread, recording every value it reads and its current assignment.
struct Member {
    stop: Arc<AtomicBool>,
    handle: Option<JoinHandle<()>>,
}

#[derive(Clone, Default)]
struct Shared {
    seen: Arc<Mutex<HashSet<u32>>>,
    count: Arc<Mutex<u64>>,
    owned: Arc<Mutex<BTreeMap<String, Vec<i32>>>>,
}

impl Member {
    fn spawn(name: &str, config: ClientConfig, topic: &str, shared: Shared) -> Member {
        let stop = Arc::new(AtomicBool::new(false));
        let s = stop.clone();
        let name = name.to_string();
        let topic = topic.to_string();
        let handle = std::thread::spawn(move || {
            let c: BaseConsumer = config.create().expect("consumer");
            c.subscribe(&[&topic]).expect("subscribe");
            while !s.load(Ordering::SeqCst) {
                if let Some(Ok(m)) = c.poll(Duration::from_millis(100)) {
                    let v: u32 = std::str::from_utf8(m.payload().unwrap_or_default())
                        .ok()
                        .and_then(|v| v.parse().ok())
                        .expect("numeric payload");
                    shared.seen.lock().unwrap().insert(v);
                    *shared.count.lock().unwrap() += 1;
                    c.store_offset_from_message(&m).expect("store offset");
                }
                let parts: Vec<i32> = c
                    .assignment()
                    .map(|a| a.elements().iter().map(|e| e.partition()).collect())
                    .unwrap_or_default();
                shared.owned.lock().unwrap().insert(name.clone(), parts);
            }
            match c.commit_consumer_state(CommitMode::Sync) {
                Ok(())
                | Err(KafkaError::ConsumerCommit(rdkafka::types::RDKafkaErrorCode::NoOffset)) => {}
                Err(e) => panic!("final commit failed: {e}"),
            }
            shared.owned.lock().unwrap().remove(&name);
            // Dropping the consumer closes it: LeaveGroup, as a clean shutdown does.
            drop(c);
        });
        Member {
            stop,
            handle: Some(handle),
        }
    }

    fn stop(mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(h) = self.handle.take() {
            h.join().expect("consumer thread");
        }
    }
}

/// True when the members' assignments cover `0..partitions` exactly once.
fn owned_exactly_once(shared: &Shared, members: usize, partitions: i32) -> bool {
    let owned = shared.owned.lock().unwrap();
    if owned.len() != members || owned.values().any(|p| p.is_empty()) {
        return false;
    }
    let mut all: Vec<i32> = owned.values().flatten().copied().collect();
    all.sort();
    all == (0..partitions).collect::<Vec<_>>()
}

fn committed(bootstrap: &str, group: &str, topic: &str, partitions: i32) -> Vec<(i64, String)> {
    let c: BaseConsumer = consumer_config(bootstrap, group)
        .create()
        .expect("consumer");
    let mut tpl = TopicPartitionList::new();
    for p in 0..partitions {
        tpl.add_partition(topic, p);
    }
    let got = c
        .committed_offsets(tpl, TIMEOUT)
        .expect("committed offsets");
    got.elements()
        .iter()
        .map(|e| match e.offset() {
            Offset::Offset(o) => (o, e.metadata().to_string()),
            _ => (-1, e.metadata().to_string()),
        })
        .collect()
}

fn high_watermarks(bootstrap: &str, topic: &str, partitions: i32) -> Vec<i64> {
    let c: BaseConsumer = consumer_config(bootstrap, "hw").create().expect("consumer");
    (0..partitions)
        .map(|p| c.fetch_watermarks(topic, p, TIMEOUT).expect("watermarks").1)
        .collect()
}

/// Counts records a fresh group member reads before reaching the end of every partition.
fn records_until_eof(bootstrap: &str, group: &str, topic: &str, partitions: usize) -> u64 {
    let mut cfg = consumer_config(bootstrap, group);
    cfg.set("enable.partition.eof", "true")
        .set("enable.auto.commit", "false");
    let c: BaseConsumer = cfg.create().expect("consumer");
    c.subscribe(&[topic]).expect("subscribe");
    let mut eof = HashSet::new();
    let mut n = 0;
    let deadline = Instant::now() + PATIENCE;
    while eof.len() < partitions {
        assert!(
            Instant::now() < deadline,
            "fresh member never reached the end of every partition"
        );
        match c.poll(Duration::from_millis(100)) {
            Some(Ok(_)) => n += 1,
            Some(Err(KafkaError::PartitionEOF(p))) => {
                eof.insert(p);
            }
            _ => {}
        }
    }
    n
}

fn broker_rebalances(w: &Weft, group: &str) -> usize {
    w.log_text()
        .lines()
        .filter(|l| l.contains("preparing rebalance") && l.contains(&format!("group={group} ")))
        .count()
}

#[test]
fn three_members_share_partitions_and_survive_churn() {
    let w = start();
    let b = w.bootstrap();
    create_topic(&b, "churn", 6);
    let shared = Shared::default();
    let mut members: Vec<Member> = (0..3)
        .map(|i| {
            Member::spawn(
                &format!("m{i}"),
                consumer_config(&b, "churners"),
                "churn",
                shared.clone(),
            )
        })
        .collect();
    wait_until(
        "three members own the six partitions exactly once",
        PATIENCE,
        || owned_exactly_once(&shared, 3, 6),
    );

    const TOTAL: u32 = 200_000;
    let producer = {
        let b = b.clone();
        std::thread::spawn(move || {
            for chunk in 0..20 {
                produce_range(&b, "churn", chunk * 10_000, (chunk + 1) * 10_000);
            }
        })
    };
    // One member leaves cleanly and another joins while records flow.
    wait_until("some records are consumed", PATIENCE, || {
        *shared.count.lock().unwrap() > 30_000
    });
    members.remove(0).stop();
    wait_until("a few more records are consumed", PATIENCE, || {
        *shared.count.lock().unwrap() > 80_000
    });
    members.push(Member::spawn(
        "m3",
        consumer_config(&b, "churners"),
        "churn",
        shared.clone(),
    ));
    producer.join().expect("producer");

    let deadline = Instant::now() + PATIENCE;
    while shared.seen.lock().unwrap().len() != TOTAL as usize {
        let missing: Vec<u32> = {
            let seen = shared.seen.lock().unwrap();
            (0..TOTAL).filter(|v| !seen.contains(v)).take(20).collect()
        };
        assert!(
            Instant::now() < deadline,
            "{} of {TOTAL} records never consumed (first: {missing:?}); group log:\n{}",
            TOTAL as usize - shared.seen.lock().unwrap().len(),
            w.log_text()
                .lines()
                .filter(|l| l.contains("group"))
                .collect::<Vec<_>>()
                .join("\n")
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    wait_until(
        "the three current members own the partitions exactly once",
        PATIENCE,
        || owned_exactly_once(&shared, 3, 6),
    );
    for m in members {
        m.stop();
    }
    let seen = shared.seen.lock().unwrap();
    assert!((0..TOTAL).all(|v| seen.contains(&v)), "a record was lost");
    drop(seen);

    // After the final commits the group's offsets are at the end of the log: a restarted group re-reads nothing.
    let hw = high_watermarks(&b, "churn", 6);
    assert_eq!(hw.iter().sum::<i64>(), TOTAL as i64);
    let offs: Vec<i64> = committed(&b, "churners", "churn", 6)
        .into_iter()
        .map(|(o, _)| o)
        .collect();
    assert_eq!(offs, hw, "committed offsets are not at the log end");
    assert_eq!(
        records_until_eof(&b, "churners", "churn", 6),
        0,
        "a restarted group re-read records"
    );
}

#[test]
fn two_groups_each_receive_every_record() {
    let w = start();
    let b = w.bootstrap();
    create_topic(&b, "fanout", 3);
    produce_range(&b, "fanout", 0, 5000);
    let (sa, sb) = (Shared::default(), Shared::default());
    let ma = Member::spawn("a", consumer_config(&b, "group-a"), "fanout", sa.clone());
    let mb = Member::spawn("b", consumer_config(&b, "group-b"), "fanout", sb.clone());
    wait_until("both groups read all 5000 records", PATIENCE, || {
        sa.seen.lock().unwrap().len() == 5000 && sb.seen.lock().unwrap().len() == 5000
    });
    ma.stop();
    mb.stop();
}

#[test]
fn killed_consumer_is_expelled_after_session_timeout() {
    let w = start();
    let b = w.bootstrap();
    create_topic(&b, "expel", 4);
    produce_range(&b, "expel", 0, 100);
    // A `weft consume --group` process that will die without LeaveGroup.
    let mut child = Command::new(weft_bin())
        .args([
            "consume",
            "expel",
            "--group",
            "expelled",
            "--from-beginning",
            "-b",
            &b,
        ])
        .args([
            "-X",
            "session.timeout.ms=3000",
            "-X",
            "heartbeat.interval.ms=500",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn weft consume");
    let shared = Shared::default();
    let survivor = Member::spawn(
        "survivor",
        consumer_config(&b, "expelled"),
        "expel",
        shared.clone(),
    );
    wait_until(
        "the survivor shares the partitions with the child",
        PATIENCE,
        || {
            let owned = shared.owned.lock().unwrap();
            owned
                .get("survivor")
                .is_some_and(|p| !p.is_empty() && p.len() < 4)
        },
    );
    child.kill().expect("SIGKILL the consumer");
    let _ = child.wait();
    wait_until("the survivor owns every partition", PATIENCE, || {
        owned_exactly_once(&shared, 1, 4)
    });
    assert!(
        w.log_text().contains("member session expired"),
        "the broker did not log the session expiry:\n{}",
        w.log_text()
    );
    survivor.stop();
}

#[test]
fn committed_offsets_and_metadata_survive_restart() {
    let mut w = start();
    let b = w.bootstrap();
    create_topic(&b, "durable", 2);
    produce_range(&b, "durable", 0, 100);
    {
        let c: BaseConsumer = consumer_config(&b, "keeper").create().expect("consumer");
        let mut tpl = TopicPartitionList::new();
        for (p, o) in [(0, 11i64), (1, 22)] {
            let mut e = tpl.add_partition("durable", p);
            e.set_offset(Offset::Offset(o)).unwrap();
            e.set_metadata(format!("meta-{p}"));
        }
        c.commit(&tpl, CommitMode::Sync).expect("commit");
    }
    let before = committed(&b, "keeper", "durable", 2);
    assert_eq!(before, vec![(11, "meta-0".into()), (22, "meta-1".into())]);
    // SIGKILL: the commit must be in __consumer_offsets, not only in memory.
    w.kill9();
    w.restart();
    let b = w.bootstrap();
    assert_eq!(
        committed(&b, "keeper", "durable", 2),
        before,
        "offsets or metadata lost in the restart"
    );
    // A group member resumes from the committed offsets: it reads exactly the records after them.
    let total = 100 - 11 - 22;
    assert_eq!(records_until_eof(&b, "keeper", "durable", 2), total);
    let (ok, out, err) = weft_cmd(&["groups", "list", "-b", &b], None);
    assert!(
        ok && out.lines().any(|l| l == "keeper"),
        "groups list after restart: {out}{err}"
    );
}

/// Whether the broker's last word on `group` is "stable with `members` members": a rebalance
/// completed with that many members and none started after it.
fn broker_says_stable(w: &Weft, group: &str, members: usize) -> bool {
    let tag = format!("group={group} ");
    let last = w
        .log_text()
        .lines()
        .filter(|l| l.contains(&tag))
        .rfind(|l| l.contains("preparing rebalance") || l.contains("group is stable"))
        .map(str::to_string);
    last.is_some_and(|l| l.contains("group is stable") && l.contains(&format!("members={members}")))
}

/// A soak: a minute of steady consumption. Not part of the default run (it is the slowest test);
/// `.ci/run` runs it in its own step with `--ignored`.
#[test]
#[ignore = "soak test: .ci/run runs it in its own step"]
fn stable_group_does_not_rebalance_during_a_minute_of_consumption() {
    let w = start();
    let b = w.bootstrap();
    create_topic(&b, "steady", 6);
    let shared = Shared::default();
    let members: Vec<Member> = (0..3)
        .map(|i| {
            Member::spawn(
                &format!("s{i}"),
                consumer_config(&b, "steady-group"),
                "steady",
                shared.clone(),
            )
        })
        .collect();
    wait_until("the group is stable", PATIENCE, || {
        owned_exactly_once(&shared, 3, 6)
    });
    // Count from the moment the broker itself reports the group stable with all three members
    // (a client may still be finishing a follow-up rebalance when its assignment arrives).
    wait_until("the broker reports the group stable", PATIENCE, || {
        broker_says_stable(&w, "steady-group", 3)
    });
    let rebalances_before = broker_rebalances(&w, "steady-group");
    let stop = Arc::new(AtomicBool::new(false));
    let producer = {
        let (b, stop) = (b.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut i = 0;
            while !stop.load(Ordering::SeqCst) {
                produce_range(&b, "steady", i, i + 200);
                i += 200;
                std::thread::sleep(Duration::from_millis(200));
            }
            i
        })
    };
    std::thread::sleep(Duration::from_secs(60));
    stop.store(true, Ordering::SeqCst);
    let produced = producer.join().expect("producer");
    wait_until("everything produced is consumed", PATIENCE, || {
        shared.seen.lock().unwrap().len() == produced as usize
    });
    assert_eq!(
        broker_rebalances(&w, "steady-group"),
        rebalances_before,
        "a stable group rebalanced during steady consumption:\n{}",
        w.log_text()
    );
    assert!(owned_exactly_once(&shared, 3, 6));
    for m in members {
        m.stop();
    }
}

/// A minimal protocol client for requests no client library lets us shape (wrong generations etc.).
struct Raw {
    stream: TcpStream,
    correlation: i32,
}

impl Raw {
    fn connect(bootstrap: &str) -> Raw {
        let stream = TcpStream::connect(bootstrap).expect("connect");
        stream.set_read_timeout(Some(TIMEOUT)).unwrap();
        Raw {
            stream,
            correlation: 0,
        }
    }

    fn call<Req: Encodable + HeaderVersion, Resp: Decodable + HeaderVersion>(
        &mut self,
        key: ApiKey,
        version: i16,
        req: &Req,
    ) -> Resp {
        self.correlation += 1;
        let header = RequestHeader::default()
            .with_request_api_key(key as i16)
            .with_request_api_version(version)
            .with_correlation_id(self.correlation)
            .with_client_id(Some(StrBytes::from_static_str("raw-test")));
        let mut buf = BytesMut::new();
        buf.put_i32(0);
        header
            .encode(&mut buf, Req::header_version(version))
            .unwrap();
        req.encode(&mut buf, version).unwrap();
        let len = (buf.len() - 4) as i32;
        buf[0..4].copy_from_slice(&len.to_be_bytes());
        self.stream.write_all(&buf).unwrap();
        let mut len = [0u8; 4];
        self.stream.read_exact(&mut len).unwrap();
        let mut body = vec![0u8; i32::from_be_bytes(len) as usize];
        self.stream.read_exact(&mut body).unwrap();
        let mut b = bytes::Bytes::from(body);
        let corr = b.get_i32();
        assert_eq!(corr, self.correlation);
        if Resp::header_version(version) >= 1 {
            // Tagged fields of a flexible response header: none are sent.
            assert_eq!(b.get_u8(), 0);
        }
        Resp::decode(&mut b, version).unwrap()
    }
}

fn s(v: &str) -> StrBytes {
    StrBytes::from_string(v.to_string())
}

fn commit_req(
    group: &str,
    generation: i32,
    member: &str,
    parts: &[(&str, i32, i64, &str)],
) -> OffsetCommitRequest {
    use kafka_protocol::messages::offset_commit_request::{
        OffsetCommitRequestPartition, OffsetCommitRequestTopic,
    };
    let mut topics: Vec<OffsetCommitRequestTopic> = Vec::new();
    for (t, p, o, m) in parts {
        let part = OffsetCommitRequestPartition::default()
            .with_partition_index(*p)
            .with_committed_offset(*o)
            .with_committed_metadata(Some(s(m)));
        match topics.iter_mut().find(|x| x.name.as_str() == *t) {
            Some(x) => x.partitions.push(part),
            None => topics.push(
                OffsetCommitRequestTopic::default()
                    .with_name(TopicName(s(t)))
                    .with_partitions(vec![part]),
            ),
        }
    }
    OffsetCommitRequest::default()
        .with_group_id(GroupId(s(group)))
        .with_generation_id_or_member_epoch(generation)
        .with_member_id(s(member))
        .with_topics(topics)
}

fn commit_codes(r: &OffsetCommitResponse) -> Vec<(String, i32, i16)> {
    r.topics
        .iter()
        .flat_map(|t| {
            t.partitions
                .iter()
                .map(move |p| (t.name.to_string(), p.partition_index, p.error_code))
        })
        .collect()
}

#[test]
fn bad_commits_get_kafka_error_codes_and_change_nothing() {
    use kafka_protocol::messages::join_group_request::JoinGroupRequestProtocol;
    use kafka_protocol::messages::offset_fetch_request::{
        OffsetFetchRequestGroup, OffsetFetchRequestTopics,
    };
    use kafka_protocol::messages::sync_group_request::SyncGroupRequestAssignment;
    let w = start();
    let b = w.bootstrap();
    create_topic(&b, "strict", 2);
    let mut raw = Raw::connect(&b);
    let join = JoinGroupRequest::default()
        .with_group_id(GroupId(s("strict-group")))
        .with_session_timeout_ms(30_000)
        .with_rebalance_timeout_ms(30_000)
        .with_protocol_type(s("consumer"))
        .with_protocols(vec![JoinGroupRequestProtocol::default()
            .with_name(s("range"))
            .with_metadata(bytes::Bytes::from_static(&[
                0, 0, 0, 0, 0, 1, 0, 6, b's', b't', b'r', b'i', b'c', b't', 0, 0, 0, 0,
            ]))]);
    // v5: a new member must come back with the id it is given (KIP-394).
    let first: JoinGroupResponse = raw.call(ApiKey::JoinGroup, 5, &join);
    assert_eq!(first.error_code, 79, "MEMBER_ID_REQUIRED expected");
    let member = first.member_id.to_string();
    assert!(!member.is_empty());
    let joined: JoinGroupResponse = raw.call(
        ApiKey::JoinGroup,
        5,
        &join.clone().with_member_id(s(&member)),
    );
    assert_eq!(joined.error_code, 0);
    assert_eq!(joined.leader.as_str(), member);
    assert_eq!(joined.members.len(), 1);
    let generation = joined.generation_id;
    let synced: SyncGroupResponse = raw.call(
        ApiKey::SyncGroup,
        3,
        &SyncGroupRequest::default()
            .with_group_id(GroupId(s("strict-group")))
            .with_generation_id(generation)
            .with_member_id(s(&member))
            .with_assignments(vec![SyncGroupRequestAssignment::default()
                .with_member_id(s(&member))
                .with_assignment(bytes::Bytes::from_static(b"assignment"))]),
    );
    assert_eq!(synced.error_code, 0);
    assert_eq!(&synced.assignment[..], b"assignment");

    // Good and bad partitions in one request: each gets its own code.
    let r: OffsetCommitResponse = raw.call(
        ApiKey::OffsetCommit,
        8,
        &commit_req(
            "strict-group",
            generation,
            &member,
            &[
                ("strict", 0, 7, "kept"),
                ("strict", 5, 1, ""),
                ("no-such-topic", 0, 1, ""),
            ],
        ),
    );
    assert_eq!(
        commit_codes(&r),
        vec![
            ("strict".into(), 0, 0),
            ("strict".into(), 5, 3),
            ("no-such-topic".into(), 0, 3)
        ]
    );
    let too_long = "x".repeat(5000);
    let r: OffsetCommitResponse = raw.call(
        ApiKey::OffsetCommit,
        8,
        &commit_req(
            "strict-group",
            generation,
            &member,
            &[("strict", 1, 9, &too_long)],
        ),
    );
    assert_eq!(
        commit_codes(&r),
        vec![("strict".into(), 1, 12)],
        "OFFSET_METADATA_TOO_LARGE"
    );
    // Wrong generation, unknown member, and a "simple" commit into a group with members.
    let r: OffsetCommitResponse = raw.call(
        ApiKey::OffsetCommit,
        8,
        &commit_req(
            "strict-group",
            generation + 5,
            &member,
            &[("strict", 0, 99, "")],
        ),
    );
    assert_eq!(
        commit_codes(&r),
        vec![("strict".into(), 0, 22)],
        "ILLEGAL_GENERATION"
    );
    let r: OffsetCommitResponse = raw.call(
        ApiKey::OffsetCommit,
        8,
        &commit_req(
            "strict-group",
            generation,
            "nobody",
            &[("strict", 0, 99, "")],
        ),
    );
    assert_eq!(
        commit_codes(&r),
        vec![("strict".into(), 0, 25)],
        "UNKNOWN_MEMBER_ID"
    );
    let r: OffsetCommitResponse = raw.call(
        ApiKey::OffsetCommit,
        2,
        &commit_req("strict-group", -1, "", &[("strict", 0, 99, "")]),
    );
    assert_eq!(
        commit_codes(&r),
        vec![("strict".into(), 0, 25)],
        "simple commit into an active group"
    );
    let r: OffsetCommitResponse = raw.call(
        ApiKey::OffsetCommit,
        8,
        &commit_req("never-joined", 3, "ghost", &[("strict", 0, 99, "")]),
    );
    assert_eq!(
        commit_codes(&r),
        vec![("strict".into(), 0, 22)],
        "commit with a generation to a group nobody joined"
    );

    // Heartbeats with the wrong identity.
    let hb = |gen: i32, m: &str| {
        HeartbeatRequest::default()
            .with_group_id(GroupId(s("strict-group")))
            .with_generation_id(gen)
            .with_member_id(s(m))
    };
    let r: HeartbeatResponse = raw.call(ApiKey::Heartbeat, 3, &hb(generation + 1, &member));
    assert_eq!(r.error_code, 22);
    let r: HeartbeatResponse = raw.call(ApiKey::Heartbeat, 3, &hb(generation, "nobody"));
    assert_eq!(r.error_code, 25);
    let r: HeartbeatResponse = raw.call(ApiKey::Heartbeat, 3, &hb(generation, &member));
    assert_eq!(r.error_code, 0);

    // Nothing changed: only the one good commit is stored, the group is still stable at its generation.
    let fetched: OffsetFetchResponse = raw.call(
        ApiKey::OffsetFetch,
        8,
        &OffsetFetchRequest::default().with_groups(vec![OffsetFetchRequestGroup::default()
            .with_group_id(GroupId(s("strict-group")))
            .with_topics(Some(vec![OffsetFetchRequestTopics::default()
                .with_name(TopicName(s("strict")))
                .with_partition_indexes(vec![0, 1])]))]),
    );
    let parts: Vec<(i32, i64, String)> = fetched.groups[0].topics[0]
        .partitions
        .iter()
        .map(|p| {
            (
                p.partition_index,
                p.committed_offset,
                p.metadata
                    .as_ref()
                    .map(|m| m.to_string())
                    .unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(parts, vec![(0, 7, "kept".into()), (1, -1, String::new())]);
    let described: DescribeGroupsResponse = raw.call(
        ApiKey::DescribeGroups,
        5,
        &DescribeGroupsRequest::default().with_groups(vec![GroupId(s("strict-group"))]),
    );
    let g = &described.groups[0];
    assert_eq!(g.group_state.as_str(), "Stable");
    assert_eq!(g.members.len(), 1);
    assert_eq!(g.members[0].member_id.as_str(), member);
    assert_eq!(
        broker_rebalances(&w, "strict-group"),
        1,
        "bad requests caused a rebalance"
    );
}

#[test]
fn groups_cli_list_describe_reset_delete() {
    let w = start();
    let b = w.bootstrap();
    create_topic(&b, "clitopic", 2);
    produce_range(&b, "clitopic", 0, 100);
    let weft = |args: &[&str]| {
        let mut all: Vec<&str> = args.to_vec();
        all.extend(["-b", &b]);
        weft_cmd(&all, None)
    };
    let (ok, out, err) = weft(&[
        "consume",
        "clitopic",
        "--group",
        "cli-group",
        "--from-beginning",
        "-e",
    ]);
    assert!(ok, "consume: {err}");
    assert_eq!(out.lines().count(), 100);

    let (ok, out, err) = weft(&["groups", "list"]);
    assert!(
        ok && out.lines().any(|l| l == "cli-group"),
        "list: {out}{err}"
    );

    // describe: one row per partition; CURRENT-OFFSET == LOG-END-OFFSET after consuming everything.
    let rows = |out: &str| -> Vec<Vec<String>> {
        out.lines()
            .skip_while(|l| !l.starts_with("GROUP"))
            .skip(1)
            .map(|l| l.split_whitespace().map(String::from).collect())
            .collect()
    };
    let (ok, out, err) = weft(&["groups", "describe", "cli-group"]);
    assert!(ok, "describe: {err}");
    assert!(
        out.contains("GROUP")
            && out.contains("CURRENT-OFFSET")
            && out.contains("LOG-END-OFFSET")
            && out.contains("LAG")
            && out.contains("CONSUMER-ID")
            && out.contains("HOST")
            && out.contains("CLIENT-ID"),
        "{out}"
    );
    let r = rows(&out);
    assert_eq!(r.len(), 2, "{out}");
    for row in &r {
        assert_eq!(row[0], "cli-group");
        assert_eq!(row[3], row[4], "current offset != log end: {out}");
        assert_eq!(row[5], "0");
    }
    let ends: Vec<i64> = r.iter().map(|row| row[4].parse().unwrap()).collect();

    // Dry run changes nothing.
    let (ok, out, err) = weft(&[
        "groups",
        "reset-offsets",
        "cli-group",
        "--topic",
        "clitopic",
        "--to-earliest",
    ]);
    assert!(ok, "dry run: {err}");
    assert!(
        out.contains("NEW-OFFSET") && err.contains("Dry run"),
        "{out}{err}"
    );
    let now: Vec<i64> = committed(&b, "cli-group", "clitopic", 2)
        .into_iter()
        .map(|(o, _)| o)
        .collect();
    assert_eq!(now, ends);

    for (args, expect) in [
        (vec!["--to-earliest"], vec![0, 0]),
        (vec!["--shift-by", "10"], vec![10, 10]),
        (vec!["--shift-by", "-3"], vec![7, 7]),
        (vec!["--to-offset", "5"], vec![5, 5]),
        (vec!["--to-latest"], ends.clone()),
        (vec!["--to-datetime", "1970-01-01T00:00:00.000"], vec![0, 0]),
        (
            vec!["--to-datetime", "2999-01-01T00:00:00.000"],
            ends.clone(),
        ),
    ] {
        let mut a = vec![
            "groups",
            "reset-offsets",
            "cli-group",
            "--topic",
            "clitopic",
            "--execute",
        ];
        a.extend(args.iter().copied());
        let (ok, out, err) = weft(&a);
        assert!(ok, "reset {args:?}: {out}{err}");
        let now: Vec<i64> = committed(&b, "cli-group", "clitopic", 2)
            .into_iter()
            .map(|(o, _)| o)
            .collect();
        assert_eq!(now, expect, "after reset {args:?}");
    }

    // An active group cannot be reset or deleted; the CLI says why.
    let shared = Shared::default();
    let m = Member::spawn(
        "active",
        consumer_config(&b, "cli-group"),
        "clitopic",
        shared.clone(),
    );
    wait_until("the member owns both partitions", PATIENCE, || {
        owned_exactly_once(&shared, 1, 2)
    });
    let (ok, out, err) = weft(&[
        "groups",
        "reset-offsets",
        "cli-group",
        "--topic",
        "clitopic",
        "--to-earliest",
        "--execute",
    ]);
    assert!(
        !ok && err.contains("inactive") && err.contains("Stable"),
        "reset of an active group: {out}{err}"
    );
    let (ok, out, err) = weft(&["groups", "describe", "cli-group"]);
    assert!(
        ok && out.contains("rdkafka"),
        "describe of an active group shows its member: {out}{err}"
    );
    let (ok, out, err) = weft(&["groups", "delete", "cli-group"]);
    assert!(!ok, "deleting an active group must fail: {out}{err}");
    m.stop();

    let (ok, out, err) = weft(&["groups", "delete", "cli-group"]);
    assert!(ok, "delete: {out}{err}");
    let (ok, out, _) = weft(&["groups", "list"]);
    assert!(
        ok && !out.lines().any(|l| l == "cli-group"),
        "deleted group still listed: {out}"
    );
    let (ok, _, err) = weft(&["groups", "describe", "cli-group"]);
    assert!(!ok && err.contains("does not exist"), "{err}");
}

#[test]
fn deleting_a_topic_removes_its_committed_offsets() {
    let w = start();
    let b = w.bootstrap();
    create_topic(&b, "doomed", 1);
    produce_range(&b, "doomed", 0, 10);
    let (ok, _, err) = weft_cmd(
        &[
            "consume",
            "doomed",
            "--group",
            "doomed-group",
            "--from-beginning",
            "-e",
            "-b",
            &b,
        ],
        None,
    );
    assert!(ok, "{err}");
    assert_eq!(committed(&b, "doomed-group", "doomed", 1)[0].0, 10);
    let (ok, _, err) = weft_cmd(&["topics", "delete", "doomed", "-b", &b], None);
    assert!(ok, "{err}");
    create_topic(&b, "doomed", 1);
    assert_eq!(
        committed(&b, "doomed-group", "doomed", 1)[0].0,
        -1,
        "offsets of a deleted topic came back"
    );
}

fn python_group_test(script: &str, module: &str) {
    let python = std::path::Path::new(PYTHON);
    assert!(python.is_file(), "{PYTHON} is missing; run .ci/run");
    let ok = Command::new(PYTHON)
        .args(["-c", &format!("import {module}")])
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    assert!(ok, "{PYTHON} cannot import {module}; run .ci/run");
    let w = start();
    let path = format!("{}/../../tests/python/{script}", env!("CARGO_MANIFEST_DIR"));
    let out = Command::new(PYTHON)
        .args([
            &path,
            "--bootstrap",
            &w.bootstrap(),
            "--topic",
            "py-groups",
            "--group",
            "py-group",
        ])
        .output()
        .expect("run python");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "{script} failed:\n{stdout}\n{stderr}\nbroker log:\n{}",
        w.log_text()
    );
    let summary = stdout
        .lines()
        .find_map(|l| l.strip_prefix("SUMMARY "))
        .expect("SUMMARY line");
    let v: serde_json::Value = serde_json::from_str(summary).expect("summary json");
    assert_eq!(v["consumed_distinct"], 2000, "{v}");
    assert_eq!(v["members_disjoint"], true, "{v}");
    assert_eq!(v["committed_at_end"], true, "{v}");
    // The broker's own view agrees: committed offsets sum to the records produced.
    let offs = committed(&w.bootstrap(), "py-group", "py-groups", 4);
    assert_eq!(offs.iter().map(|(o, _)| o).sum::<i64>(), 2000);
}

#[test]
fn kafka_python_group_consumers() {
    python_group_test("kafka_python_group.py", "kafka");
}

#[test]
fn confluent_kafka_group_consumers() {
    python_group_test("confluent_group.py", "confluent_kafka");
}
