//! End-to-end: librdkafka (the rdkafka crate) producing to and consuming from the real `weft` binary.

mod common;

use std::collections::HashMap;
use std::time::Duration;

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Header, Headers, Message, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::{Offset, Timestamp, TopicPartitionList};

const TIMEOUT: Duration = Duration::from_secs(60);

async fn create_topic(bootstrap: &str, name: &str, partitions: i32, configs: &[(&str, &str)]) {
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .create()
        .expect("admin client");
    let mut nt = NewTopic::new(name, partitions, TopicReplication::Fixed(1));
    for (k, v) in configs {
        nt = nt.set(k, v);
    }
    let res = admin
        .create_topics(&[nt], &AdminOptions::new().operation_timeout(Some(TIMEOUT)))
        .await
        .expect("create_topics");
    for r in res {
        r.expect("topic created");
    }
}

fn producer(bootstrap: &str, codec: &str) -> FutureProducer {
    ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("compression.type", codec)
        .set("partitioner", "murmur2_random")
        .set("acks", "all")
        .set("linger.ms", "5")
        .set("queue.buffering.max.messages", "200000")
        .create()
        .expect("producer")
}

fn consumer_from_beginning(bootstrap: &str, topic: &str, partitions: i32) -> BaseConsumer {
    let c: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", "e2e-assign")
        .set("enable.auto.commit", "false")
        .create()
        .expect("consumer");
    let mut tpl = TopicPartitionList::new();
    for p in 0..partitions {
        tpl.add_partition_offset(topic, p, Offset::Beginning)
            .expect("tpl");
    }
    c.assign(&tpl).expect("assign");
    c
}

struct Seen {
    partition: i32,
    offset: i64,
    key: String,
    seq: u64,
    timestamp: i64,
    headers: Vec<(String, String)>,
}

fn consume_n(c: &BaseConsumer, n: usize) -> Vec<Seen> {
    let mut out = Vec::with_capacity(n);
    let deadline = std::time::Instant::now() + Duration::from_secs(180);
    while out.len() < n {
        assert!(
            std::time::Instant::now() < deadline,
            "only {} of {n} records consumed",
            out.len()
        );
        match c.poll(Duration::from_millis(500)) {
            Some(Ok(m)) => {
                let key = String::from_utf8(m.key().expect("key").to_vec()).expect("utf8 key");
                let value = std::str::from_utf8(m.payload().expect("value")).expect("utf8 value");
                let seq: u64 = value
                    .rsplit('-')
                    .next()
                    .and_then(|s| s.parse().ok())
                    .expect("seq in value");
                let headers = m
                    .headers()
                    .map(|h| {
                        h.iter()
                            .map(|x| {
                                (
                                    x.key.to_string(),
                                    String::from_utf8_lossy(x.value.unwrap_or_default())
                                        .to_string(),
                                )
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                let timestamp = match m.timestamp() {
                    Timestamp::CreateTime(t) => t,
                    other => panic!("expected CreateTime, got {other:?}"),
                };
                out.push(Seen {
                    partition: m.partition(),
                    offset: m.offset(),
                    key,
                    seq,
                    timestamp,
                    headers,
                });
            }
            Some(Err(e)) => panic!("consume error: {e}"),
            None => {}
        }
    }
    out
}

async fn roundtrip(codec: &str) {
    const N: u64 = 100_000;
    const PARTS: i32 = 6;
    let w = common::Weft::start(&[]);
    let topic = format!("roundtrip-{codec}");
    create_topic(&w.bootstrap(), &topic, PARTS, &[]).await;
    let p = producer(&w.bootstrap(), codec);
    let base_ts: i64 = 1_700_000_000_000;
    let mut pending = Vec::with_capacity(N as usize);
    for i in 0..N {
        let key = format!("key-{}", i % 997);
        let value = format!("{codec}-value-{i}");
        let headers = OwnedHeaders::new()
            .insert(Header {
                key: "seq",
                value: Some(i.to_string().as_bytes()),
            })
            .insert(Header {
                key: "codec",
                value: Some(codec.as_bytes()),
            });
        let rec = FutureRecord::to(&topic)
            .key(&key)
            .payload(&value)
            .headers(headers)
            .timestamp(base_ts + i as i64);
        pending.push(p.send_result(rec).map_err(|(e, _)| e).expect("enqueue"));
    }
    for (i, f) in pending.into_iter().enumerate() {
        let part = f
            .await
            .expect("delivery future")
            .unwrap_or_else(|(e, _)| panic!("record {i} failed: {e}"))
            .partition;
        let key = format!("key-{}", i as u64 % 997);
        assert_eq!(
            part,
            common::java_partition(key.as_bytes(), PARTS),
            "record {i} partition"
        );
    }

    let c = consumer_from_beginning(&w.bootstrap(), &topic, PARTS);
    let seen = consume_n(&c, N as usize);
    // Every record exactly once.
    let mut count = vec![0u8; N as usize];
    for s in &seen {
        count[s.seq as usize] += 1;
    }
    assert!(
        count.iter().all(|c| *c == 1),
        "some record was missing or duplicated"
    );
    // Offsets contiguous per partition, keys in send order, headers and timestamps intact.
    let mut next_offset: HashMap<i32, i64> = HashMap::new();
    let mut last_seq_per_key: HashMap<String, u64> = HashMap::new();
    for s in &seen {
        let expect = next_offset.entry(s.partition).or_insert(0);
        assert_eq!(
            s.offset, *expect,
            "partition {} offsets must be contiguous",
            s.partition
        );
        *expect += 1;
        assert_eq!(s.partition, common::java_partition(s.key.as_bytes(), PARTS));
        if let Some(prev) = last_seq_per_key.insert(s.key.clone(), s.seq) {
            assert!(
                s.seq > prev,
                "key {} out of order: {} after {}",
                s.key,
                s.seq,
                prev
            );
        }
        assert_eq!(
            s.timestamp,
            base_ts + s.seq as i64,
            "timestamp of record {}",
            s.seq
        );
        assert_eq!(
            s.headers,
            vec![
                ("seq".to_string(), s.seq.to_string()),
                ("codec".to_string(), codec.to_string())
            ]
        );
    }
    assert_eq!(next_offset.values().sum::<i64>(), N as i64);
    // The records really crossed in this codec: librdkafka silently falls back to no compression
    // when it thinks the broker cannot take a codec, so check the stored batches themselves. A batch
    // may legitimately be stored uncompressed when compressing did not make it smaller (librdkafka
    // then sends it plain, typically a tiny first batch), but most records must be stored in the codec
    // and none in another one.
    let (mut in_codec, mut plain) = (0i64, 0i64);
    for p in 0..PARTS {
        let dir = w.data_dir().join(format!("{topic}-{p}"));
        for entry in std::fs::read_dir(&dir).expect("partition dir") {
            let path = entry.expect("entry").path();
            if path.extension().is_none_or(|e| e != "log") {
                continue;
            }
            let bytes = std::fs::read(&path).expect("segment");
            for b in weft_log::batch::batches(&bytes) {
                let (header, _) = b.expect("valid batch");
                let stored = format!("{:?}", header.compression()).to_lowercase();
                if stored == codec {
                    in_codec += i64::from(header.records_count);
                } else {
                    assert_eq!(stored, "none", "batch codec in {}", path.display());
                    plain += i64::from(header.records_count);
                }
            }
        }
    }
    assert!(
        in_codec > plain,
        "{codec}: only {in_codec} of {} stored records are in batches using the codec",
        in_codec + plain
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn roundtrip_100k_keyed_uncompressed() {
    roundtrip("none").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn roundtrip_100k_keyed_gzip() {
    roundtrip("gzip").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn roundtrip_100k_keyed_snappy() {
    roundtrip("snappy").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn roundtrip_100k_keyed_lz4() {
    roundtrip("lz4").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn roundtrip_100k_keyed_zstd() {
    roundtrip("zstd").await;
}

#[test]
fn murmur2_matches_known_java_vectors() {
    assert_eq!(common::murmur2(b"21"), -973932308);
    assert_eq!(common::murmur2(b"foobar"), -790332482);
    assert_eq!(common::murmur2(b"a-little-bit-long-string"), -985981536);
}

/// librdkafka's murmur2_random places 10,000 keys exactly where Java's partitioner would, and the
/// broker stores each record in the partition the client chose.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_to_partition_matches_java_murmur2() {
    const PARTS: i32 = 7;
    let w = common::Weft::start(&[]);
    create_topic(&w.bootstrap(), "murmur", PARTS, &[]).await;
    let p = producer(&w.bootstrap(), "none");
    let mut futures = Vec::new();
    for i in 0..10_000u64 {
        let key = format!("customer-{i}-{}", i * 7919);
        let value = format!("v-{i}");
        futures.push(
            p.send_result(FutureRecord::to("murmur").key(&key).payload(&value))
                .map_err(|(e, _)| e)
                .expect("enqueue"),
        );
    }
    for f in futures {
        f.await.expect("future").expect("delivered");
    }
    let c = consumer_from_beginning(&w.bootstrap(), "murmur", PARTS);
    let mut got = 0;
    let deadline = std::time::Instant::now() + TIMEOUT;
    while got < 10_000 {
        assert!(
            std::time::Instant::now() < deadline,
            "timed out after {got} records"
        );
        if let Some(m) = c.poll(Duration::from_millis(500)) {
            let m = m.expect("message");
            let key = m.key().expect("key");
            assert_eq!(
                m.partition(),
                common::java_partition(key, PARTS),
                "key {}",
                String::from_utf8_lossy(key)
            );
            got += 1;
        }
    }
}

/// A consumer waiting at the end of the log (long poll) receives a record produced afterwards, and a
/// consumer positioned past the end resets by auto.offset.reset after OFFSET_OUT_OF_RANGE.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_poll_delivers_new_records_and_out_of_range_resets() {
    let w = common::Weft::start(&[]);
    create_topic(&w.bootstrap(), "tail", 1, &[]).await;
    let p = producer(&w.bootstrap(), "none");
    p.send(FutureRecord::to("tail").key("a").payload("first"), TIMEOUT)
        .await
        .expect("first");

    let c: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", w.bootstrap())
        .set("group.id", "tail")
        .set("enable.auto.commit", "false")
        .set("fetch.wait.max.ms", "500")
        .set("auto.offset.reset", "earliest")
        .create()
        .expect("consumer");
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset("tail", 0, Offset::Offset(1_000))
        .expect("tpl");
    c.assign(&tpl).expect("assign");
    // Offset 1000 is out of range: the client resets to earliest and sees "first".
    let first = loop {
        if let Some(m) = c.poll(Duration::from_secs(1)) {
            break m.expect("message").payload().map(|p| p.to_vec());
        }
    };
    assert_eq!(first.as_deref(), Some(&b"first"[..]));
    // Now at the end; produce one more while the consumer long-polls.
    let bootstrap = w.bootstrap();
    let later = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(700)).await;
        let p = producer(&bootstrap, "none");
        p.send(FutureRecord::to("tail").key("b").payload("second"), TIMEOUT)
            .await
            .expect("second");
    });
    let deadline = std::time::Instant::now() + TIMEOUT;
    let second = loop {
        assert!(
            std::time::Instant::now() < deadline,
            "second record never arrived"
        );
        if let Some(m) = c.poll(Duration::from_millis(500)) {
            break m.expect("message").payload().map(|p| p.to_vec());
        }
    };
    later.await.expect("producer task");
    assert_eq!(second.as_deref(), Some(&b"second"[..]));
}

/// acks=0 and acks=1 both store records; topics are auto-created on first use with num.partitions.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acks_zero_and_one_and_auto_create() {
    let w = common::Weft::start(&["num.partitions=3"]);
    for acks in ["0", "1"] {
        let topic = format!("auto-acks-{acks}");
        let p: FutureProducer = ClientConfig::new()
            .set("bootstrap.servers", w.bootstrap())
            .set("acks", acks)
            .create()
            .expect("producer");
        for i in 0..100 {
            let v = format!("v{i}");
            p.send(FutureRecord::<(), _>::to(&topic).payload(&v), TIMEOUT)
                .await
                .expect("send");
        }
        rdkafka::producer::Producer::flush(&p, TIMEOUT).expect("flush");
        let c = consumer_from_beginning(&w.bootstrap(), &topic, 3);
        let md = c.fetch_metadata(Some(&topic), TIMEOUT).expect("metadata");
        assert_eq!(
            md.topics()[0].partitions().len(),
            3,
            "auto-created with num.partitions"
        );
        let mut values = Vec::new();
        let deadline = std::time::Instant::now() + TIMEOUT;
        while values.len() < 100 {
            assert!(
                std::time::Instant::now() < deadline,
                "acks={acks}: only {} records",
                values.len()
            );
            if let Some(m) = c.poll(Duration::from_millis(500)) {
                values.push(
                    String::from_utf8(m.expect("msg").payload().expect("payload").to_vec())
                        .expect("utf8"),
                );
            }
        }
        values.sort_by_key(|v| v[1..].parse::<u32>().unwrap_or(0));
        assert_eq!(
            values,
            (0..100).map(|i| format!("v{i}")).collect::<Vec<_>>()
        );
    }
}
