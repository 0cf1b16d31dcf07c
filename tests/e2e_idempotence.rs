//! Idempotent producers against the real binary: InitProducerId, duplicate/gap/fencing answers on the
//! wire, dedupe surviving a clean restart and a kill -9, librdkafka with enable.idempotence=true
//! (also across a kill -9 while it sends), and the Java client with its default config.

mod common;
mod wire;

use std::collections::HashMap;
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use common::clients;
use common::{weft_cmd, Weft};
use kafka_protocol::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::{
    ApiKey, BrokerId, InitProducerIdRequest, InitProducerIdResponse, ListOffsetsRequest,
    ListOffsetsResponse, ProduceRequest, ProduceResponse, ProducerId, TopicName, TransactionalId,
};
use kafka_protocol::records::{
    Compression, Record, RecordBatchEncoder, RecordEncodeOptions, TimestampType,
};
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::{Offset, TopicPartitionList};
use wire::{s, Conn};

const OUT_OF_ORDER_SEQUENCE_NUMBER: i16 = 45;
const INVALID_PRODUCER_EPOCH: i16 = 47;

fn create_topic(w: &Weft, topic: &str, partitions: u32) {
    let (ok, out, err) = weft_cmd(
        &[
            "topics",
            "create",
            topic,
            "--partitions",
            &partitions.to_string(),
            "-b",
            &w.bootstrap(),
        ],
        None,
    );
    assert!(ok, "create {topic}: {out}{err}");
}

fn init_producer_id(conn: &mut Conn, version: i16, tid: Option<&str>) -> InitProducerIdResponse {
    let req = InitProducerIdRequest::default()
        .with_transactional_id(tid.map(|t| TransactionalId(s(t))))
        .with_transaction_timeout_ms(60_000)
        .with_producer_id(ProducerId(-1))
        .with_producer_epoch(-1);
    conn.call(ApiKey::InitProducerId, version, &req)
}

/// One idempotent batch of `n` records.
fn batch(pid: i64, epoch: i16, seq: i32, n: i32) -> Bytes {
    batch_at(pid, epoch, seq, n, 1_700_000_000_000)
}

/// One idempotent batch of `n` records with CreateTime `ts`.
fn batch_at(pid: i64, epoch: i16, seq: i32, n: i32, ts: i64) -> Bytes {
    let records: Vec<Record> = (0..n)
        .map(|i| Record {
            transactional: false,
            control: false,
            delete_horizon: false,
            partition_leader_epoch: -1,
            producer_id: pid,
            producer_epoch: epoch,
            timestamp_type: TimestampType::Creation,
            offset: i64::from(i),
            sequence: seq.wrapping_add(i),
            timestamp: ts + i64::from(i),
            key: Some(Bytes::from(format!("k{i}"))),
            value: Some(Bytes::from(format!("e{epoch}-s{}", seq.wrapping_add(i)))),
            headers: Default::default(),
        })
        .collect();
    let mut buf = BytesMut::new();
    RecordBatchEncoder::encode(
        &mut buf,
        records.iter(),
        &RecordEncodeOptions {
            version: 2,
            compression: Compression::None,
        },
    )
    .expect("encode batch");
    buf.freeze()
}

/// Produces one batch (acks=-1, Produce v9); returns (error code, base offset).
fn produce(conn: &mut Conn, topic: &str, records: Bytes) -> (i16, i64) {
    let req = ProduceRequest::default()
        .with_acks(-1)
        .with_timeout_ms(30_000)
        .with_topic_data(vec![TopicProduceData::default()
            .with_name(TopicName(s(topic)))
            .with_partition_data(vec![PartitionProduceData::default()
                .with_index(0)
                .with_records(Some(records))])]);
    let resp: ProduceResponse = conn.call(ApiKey::Produce, 9, &req);
    let p = &resp.responses[0].partition_responses[0];
    (p.error_code, p.base_offset)
}

fn log_end(conn: &mut Conn, topic: &str) -> i64 {
    let req = ListOffsetsRequest::default()
        .with_replica_id(BrokerId(-1))
        .with_topics(vec![ListOffsetsTopic::default()
            .with_name(TopicName(s(topic)))
            .with_partitions(vec![ListOffsetsPartition::default()
                .with_partition_index(0)
                .with_timestamp(-1)])]);
    let resp: ListOffsetsResponse = conn.call(ApiKey::ListOffsets, 7, &req);
    let p = &resp.topics[0].partitions[0];
    assert_eq!(p.error_code, 0);
    p.offset
}

#[test]
fn init_producer_id_dedupe_gaps_and_fencing_on_the_wire() {
    let mut w = Weft::start(&[]);
    let topic = "idem-wire";
    create_topic(&w, topic, 1);
    let mut c = Conn::open(&w.bootstrap());

    // Every non-transactional InitProducerId gets a fresh id with epoch 0 (all versions clients send).
    let mut ids = Vec::new();
    for v in 0..=5 {
        let r = init_producer_id(&mut c, v, None);
        assert_eq!(r.error_code, 0, "v{v}");
        assert_eq!(r.producer_epoch, 0, "v{v}");
        ids.push(r.producer_id.0);
    }
    let mut distinct = ids.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!(distinct.len(), ids.len(), "ids repeat: {ids:?}");
    let pid = ids[0];

    // A transactional.id goes to the transaction coordinator: its own producer id, the epoch bumped
    // by each new InitProducerId (e2e_txn_coordinator covers transactions).
    let r = init_producer_id(&mut c, 4, Some("tx-1"));
    assert_eq!((r.error_code, r.producer_epoch), (0, 0));
    let again = init_producer_id(&mut c, 4, Some("tx-1"));
    assert_eq!(again.error_code, 0);
    assert_eq!(
        (again.producer_id, again.producer_epoch),
        (r.producer_id, 1)
    );

    assert_eq!(produce(&mut c, topic, batch(pid, 0, 0, 3)), (0, 0));
    // A retry of the same batch: its original offset, nothing stored twice.
    assert_eq!(produce(&mut c, topic, batch(pid, 0, 0, 3)), (0, 0));
    assert_eq!(log_end(&mut c, topic), 3);
    assert_eq!(produce(&mut c, topic, batch(pid, 0, 3, 2)), (0, 3));
    // A gap in the sequence.
    assert_eq!(
        produce(&mut c, topic, batch(pid, 0, 9, 1)).0,
        OUT_OF_ORDER_SEQUENCE_NUMBER
    );
    // The client bumps its epoch (KIP-360): the new epoch starts at sequence 0.
    assert_eq!(produce(&mut c, topic, batch(pid, 1, 0, 1)), (0, 5));
    // The old epoch is fenced; a new epoch must start at 0.
    assert_eq!(
        produce(&mut c, topic, batch(pid, 0, 5, 1)).0,
        INVALID_PRODUCER_EPOCH
    );
    assert_eq!(
        produce(&mut c, topic, batch(pid, 2, 4, 1)).0,
        OUT_OF_ORDER_SEQUENCE_NUMBER
    );
    // An unknown producer may start at any sequence (Kafka 3.x/4.x, KIP-360).
    assert_eq!(produce(&mut c, topic, batch(ids[1], 0, 42, 1)), (0, 6));
    assert_eq!(log_end(&mut c, topic), 7);

    // A clean restart keeps the state (snapshot written at shutdown) and never reuses an id.
    drop(c);
    w.stop();
    let part_dir = w.data_dir().join(format!("{topic}-0"));
    let snapshot = part_dir.join(format!("{:020}.snapshot", 7));
    assert!(snapshot.is_file(), "no {}", snapshot.display());
    // The snapshot is Kafka's format and `weft dump-log` reads it as kafka-dump-log does.
    let (ok, out, err) = weft_cmd(&["dump-log", &snapshot.to_string_lossy()], None);
    assert!(ok, "{err}");
    assert!(
        out.contains(&format!("producerId: {pid} producerEpoch: 1"))
            && out.contains("firstSequence: 0 lastSequence: 0 lastOffset: 5"),
        "{out}"
    );
    w.restart();
    let mut c = Conn::open(&w.bootstrap());
    assert_eq!(produce(&mut c, topic, batch(pid, 1, 0, 1)), (0, 5));
    assert_eq!(
        produce(&mut c, topic, batch(pid, 1, 2, 1)).0,
        OUT_OF_ORDER_SEQUENCE_NUMBER
    );
    let fresh = init_producer_id(&mut c, 5, None).producer_id.0;
    assert!(ids.iter().all(|&i| i < fresh), "{fresh} repeats {ids:?}");

    // After a kill -9 the state is rebuilt from the snapshot plus the log after it.
    assert_eq!(produce(&mut c, topic, batch(pid, 1, 1, 4)), (0, 7));
    drop(c);
    w.kill9();
    w.restart();
    let mut c = Conn::open(&w.bootstrap());
    assert_eq!(produce(&mut c, topic, batch(pid, 1, 1, 4)), (0, 7));
    assert_eq!(log_end(&mut c, topic), 11);
    assert_eq!(produce(&mut c, topic, batch(pid, 1, 5, 1)), (0, 11));
}

#[test]
fn idle_producers_expire_after_producer_id_expiration_ms() {
    let w = Weft::start(&[
        "producer.id.expiration.ms=600000",
        "producer.id.expiration.check.interval.ms=100",
    ]);
    let topic = "idem-expiry";
    create_topic(&w, topic, 1);
    let mut c = Conn::open(&w.bootstrap());
    let old = init_producer_id(&mut c, 4, None).producer_id.0;
    let fresh = init_producer_id(&mut c, 4, None).producer_id.0;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    // Expiry goes by the last batch's timestamp, as in Kafka: a week-old one is past the 10 minutes,
    // one 30 minutes ahead is not for the whole test.
    assert_eq!(
        produce(&mut c, topic, batch_at(old, 0, 0, 1, now - 7 * 86_400_000)).0,
        0
    );
    assert_eq!(
        produce(&mut c, topic, batch_at(fresh, 0, 0, 1, now + 1_800_000)).0,
        0
    );
    // Once forgotten, the old producer may continue at any sequence (it is unknown again).
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (code, _) = produce(&mut c, topic, batch_at(old, 0, 50, 1, now));
        if code == 0 {
            break;
        }
        assert_eq!(code, OUT_OF_ORDER_SEQUENCE_NUMBER);
        assert!(Instant::now() < deadline, "producer {old} never expired");
        std::thread::sleep(Duration::from_millis(50));
    }
    // The recent producer is still known: a gap is still refused.
    assert_eq!(
        produce(&mut c, topic, batch_at(fresh, 0, 50, 1, now)).0,
        OUT_OF_ORDER_SEQUENCE_NUMBER
    );
}

fn rdkafka_idempotent_producer(bootstrap: &str) -> BaseProducer {
    ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("enable.idempotence", "true")
        .set("partitioner", "murmur2_random")
        .set("linger.ms", "5")
        .set("message.timeout.ms", "120000")
        .set("retry.backoff.ms", "100")
        .set("queue.buffering.max.messages", "200000")
        .create()
        .expect("producer")
}

/// Reads every partition from the beginning until `want` distinct values arrived; returns how often
/// each value was seen and the values in partition order.
fn read_values(
    bootstrap: &str,
    topic: &str,
    partitions: i32,
    want: usize,
) -> (HashMap<String, usize>, HashMap<i32, Vec<u64>>) {
    let c: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", "e2e-idem-read")
        .set("enable.auto.commit", "false")
        .create()
        .expect("consumer");
    let mut tpl = TopicPartitionList::new();
    for p in 0..partitions {
        tpl.add_partition_offset(topic, p, Offset::Beginning)
            .expect("tpl");
    }
    c.assign(&tpl).expect("assign");
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut order: HashMap<i32, Vec<u64>> = HashMap::new();
    let deadline = Instant::now() + Duration::from_secs(180);
    let mut idle_after_done = 0;
    // After `want` distinct values, keep reading until two empty polls, so duplicates stored after
    // them are counted too.
    while idle_after_done < 2 {
        assert!(
            Instant::now() < deadline,
            "only {} of {want} values read",
            seen.len()
        );
        match c.poll(Duration::from_millis(500)) {
            Some(Ok(m)) => {
                let v = String::from_utf8(m.payload().expect("value").to_vec()).expect("utf8");
                let n: u64 = v
                    .rsplit('-')
                    .next()
                    .and_then(|x| x.parse().ok())
                    .expect("n");
                order.entry(m.partition()).or_default().push(n);
                *seen.entry(v).or_default() += 1;
            }
            Some(Err(e)) => panic!("consume error: {e}"),
            None if seen.len() >= want => idle_after_done += 1,
            None => {}
        }
    }
    (seen, order)
}

#[test]
fn rdkafka_idempotent_producer_round_trip() {
    let w = Weft::start(&[]);
    let topic = "idem-rdkafka";
    create_topic(&w, topic, 3);
    let p = rdkafka_idempotent_producer(&w.bootstrap());
    let n = 20_000u64;
    for i in 0..n {
        let key = format!("key-{}", i % 100);
        let value = format!("v-{i}");
        p.send(BaseRecord::to(topic).key(&key).payload(&value))
            .expect("enqueue");
        p.poll(Duration::ZERO);
    }
    p.flush(Duration::from_secs(120)).expect("flush");
    let (seen, order) = read_values(&w.bootstrap(), topic, 3, n as usize);
    assert_eq!(seen.len(), n as usize);
    assert!(seen.values().all(|&c| c == 1), "duplicates stored");
    for (part, values) in order {
        assert!(
            values.windows(2).all(|w| w[0] < w[1]),
            "partition {part} out of order"
        );
    }
    assert!(
        stored_producer_id(&w, topic) >= 0,
        "batches carry no producer id"
    );
}

/// The producer id in the header of the first stored batch of partition 0 (raw Fetch v4).
fn stored_producer_id(w: &Weft, topic: &str) -> i64 {
    use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
    use kafka_protocol::messages::{FetchRequest, FetchResponse};
    let req = FetchRequest::default()
        .with_replica_id(BrokerId(-1))
        .with_max_wait_ms(0)
        .with_min_bytes(1)
        .with_max_bytes(1 << 20)
        .with_topics(vec![FetchTopic::default()
            .with_topic(TopicName(s(topic)))
            .with_partitions(vec![FetchPartition::default()
                .with_partition(0)
                .with_fetch_offset(0)
                .with_partition_max_bytes(1 << 20)])]);
    let resp: FetchResponse = Conn::open(&w.bootstrap()).call(ApiKey::Fetch, 4, &req);
    let records = resp.responses[0].partitions[0]
        .records
        .clone()
        .expect("records");
    assert!(records.len() >= 61, "no stored batch");
    i64::from_be_bytes(records[43..51].try_into().unwrap())
}

#[test]
fn acknowledged_records_appear_once_after_kill9_during_idempotent_sends() {
    let mut w = Weft::start(&[]);
    let topic = "idem-kill9";
    create_topic(&w, topic, 3);
    let bootstrap = w.bootstrap();
    let acked = Arc::new(Mutex::new(Vec::<u64>::new()));
    let failed = Arc::new(AtomicUsize::new(0));
    let done = Arc::new(AtomicBool::new(false));
    let n = 30_000u64;

    struct Ctx {
        acked: Arc<Mutex<Vec<u64>>>,
        failed: Arc<AtomicUsize>,
    }
    impl rdkafka::ClientContext for Ctx {}
    impl rdkafka::producer::ProducerContext for Ctx {
        type DeliveryOpaque = Box<u64>;
        fn delivery(
            &self,
            result: &rdkafka::message::DeliveryResult<'_>,
            opaque: Self::DeliveryOpaque,
        ) {
            match result {
                Ok(_) => self.acked.lock().unwrap().push(*opaque),
                Err(_) => {
                    self.failed.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
    }
    let sender = {
        let (acked, failed, done) = (acked.clone(), failed.clone(), done.clone());
        std::thread::spawn(move || {
            let p: BaseProducer<Ctx> = ClientConfig::new()
                .set("bootstrap.servers", &bootstrap)
                .set("enable.idempotence", "true")
                .set("linger.ms", "2")
                .set("batch.num.messages", "200")
                .set("message.timeout.ms", "120000")
                .set("retry.backoff.ms", "100")
                .set("reconnect.backoff.ms", "100")
                .set("reconnect.backoff.max.ms", "500")
                .create_with_context(Ctx { acked, failed })
                .expect("producer");
            for i in 0..n {
                let key = format!("key-{}", i % 100);
                let value = format!("v-{i}");
                let mut rec = BaseRecord::with_opaque_to(topic, Box::new(i))
                    .key(&key)
                    .payload(&value);
                loop {
                    match p.send(rec) {
                        Ok(()) => break,
                        Err((_, back)) => {
                            rec = back;
                            p.poll(Duration::from_millis(10));
                        }
                    }
                }
                p.poll(Duration::ZERO);
                // Pace the sender so the kill lands while batches are in flight.
                if i % 1000 == 999 {
                    p.poll(Duration::from_millis(20));
                }
            }
            p.flush(Duration::from_secs(150)).expect("flush");
            done.store(true, Ordering::Release);
        })
    };
    // Kill the broker twice while records are in flight.
    for threshold in [5_000usize, 15_000] {
        let deadline = Instant::now() + Duration::from_secs(120);
        while acked.lock().unwrap().len() < threshold {
            assert!(
                Instant::now() < deadline,
                "producer stalled before the kill"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
        w.kill9();
        w.restart();
    }
    sender.join().expect("sender");
    assert!(done.load(Ordering::Acquire));
    let acked = acked.lock().unwrap().clone();
    assert_eq!(failed.load(Ordering::Relaxed), 0, "deliveries failed");
    assert_eq!(acked.len(), n as usize);
    let (seen, _) = read_values(&w.bootstrap(), topic, 3, n as usize);
    for i in &acked {
        let c = seen.get(&format!("v-{i}")).copied().unwrap_or(0);
        assert_eq!(c, 1, "acknowledged record v-{i} stored {c} times");
    }
    assert_eq!(seen.len(), n as usize);
    // How often the dedupe answered a retry depends on timing, so it is reported, not asserted.
    eprintln!(
        "duplicate batches answered since the last restart: {}",
        w.log_text().matches("duplicate batch").count()
    );
}

/// tests/java built for kafka-clients `version`: its class path.
fn java_classpath(version: &str) -> String {
    clients::java_classpath(version, &["kafka-clients"])
}

fn java(cp: &str, args: &[&str]) -> String {
    clients::java(cp, "weft.IdemClient", args)
}

/// Produces and consumes 100,000 keyed records with kafka-clients `version`'s default producer
/// config; every record once, in order per key (so per partition).
fn java_round_trip(version: &str) {
    let cp = java_classpath(version);
    let w = Weft::start(&[]);
    let topic = "idem-java";
    create_topic(&w, topic, 3);
    let n = 100_000;
    let out = java(&cp, &["produce", &w.bootstrap(), topic, &n.to_string()]);
    assert!(out.contains(&format!("acked {n}")), "{out}");
    let out = java(&cp, &["consume", &w.bootstrap(), topic, &n.to_string()]);
    assert!(
        out.contains(&format!(
            "consumed {n} distinct {n} duplicates 0 out_of_order 0 foreign 0"
        )),
        "{out}"
    );
    // The producer really was idempotent: its batches carry a producer id.
    assert!(
        stored_producer_id(&w, topic) >= 0,
        "batches carry no producer id"
    );
}

/// The Java producer (default config: idempotence, retries) sends 100,000 records while the broker is
/// killed with -9 twice; afterwards every record is stored exactly once, in order per key.
#[test]
fn java_idempotent_producer_survives_kill9_without_duplicates() {
    use std::io::{BufRead, BufReader};
    let cp = java_classpath("3.9.1");
    let mut w = Weft::start(&[]);
    let topic = "idem-java-kill9";
    create_topic(&w, topic, 3);
    let n = 100_000usize;
    let mut child = Command::new("java")
        .args([
            "-cp",
            &cp,
            clients::QUIET_JAVA_LOG,
            "weft.IdemClient",
            "produce-paced",
        ])
        .args([w.bootstrap().as_str(), topic, &n.to_string()])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::inherit())
        .spawn()
        .expect("run java");
    let progress = Arc::new(AtomicUsize::new(0));
    let last_line = Arc::new(Mutex::new(String::new()));
    let reader = {
        let (progress, last_line) = (progress.clone(), last_line.clone());
        let stdout = child.stdout.take().expect("stdout");
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(k) = line.strip_prefix("progress ") {
                    progress.store(k.trim().parse().unwrap_or(0), Ordering::Release);
                }
                *last_line.lock().unwrap() = line;
            }
        })
    };
    for threshold in [20_000usize, 60_000] {
        let deadline = Instant::now() + Duration::from_secs(180);
        while progress.load(Ordering::Acquire) < threshold {
            assert!(
                Instant::now() < deadline,
                "Java producer stalled before the kill"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
        w.kill9();
        w.restart();
    }
    let deadline = Instant::now() + Duration::from_secs(300);
    let status = loop {
        if let Some(st) = child.try_wait().expect("wait java") {
            break st;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("Java producer did not finish");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    reader.join().expect("reader");
    let last = last_line.lock().unwrap().clone();
    assert!(status.success(), "java exited with {status}: {last}");
    assert_eq!(last, format!("acked {n} failed 0"));
    let out = java(&cp, &["consume", &w.bootstrap(), topic, &n.to_string()]);
    assert!(
        out.contains(&format!(
            "consumed {n} distinct {n} duplicates 0 out_of_order 0 foreign 0"
        )),
        "{out}"
    );
}

/// A Java transactional producer's initTransactions finds the transaction coordinator and gets its
/// producer id (the transactions themselves are proven in e2e_txn_coordinator / e2e_transactions).
#[test]
fn java_transactional_producer_initializes() {
    let cp = java_classpath("3.9.1");
    let w = Weft::start(&[]);
    let out = java(&cp, &["transactional", &w.bootstrap(), "tx-1", "0"]);
    assert!(out.contains("initialized"), "{out}\n{}", w.log_text());
}

#[test]
fn java_client_3_9_with_default_config_produces_and_consumes_100k_keyed_records() {
    java_round_trip("3.9.1");
}

#[test]
fn java_client_4_1_with_default_config_produces_and_consumes_100k_keyed_records() {
    java_round_trip("4.1.0");
}
