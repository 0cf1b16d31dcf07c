//! Hostile record batches against the real broker: zstd and gzip decompression bombs produced to a
//! compacted topic (key check) and to a plain topic followed by a ListOffsets by timestamp, and
//! producer batches that break the batch rules (control or transactional bits, lying record counts,
//! timestamps out of bounds). The broker must answer the right error code, stay up, keep serving and
//! keep its memory bounded.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use bytes::{BufMut, Bytes, BytesMut};
use common::Weft;
use kafka_protocol::messages::create_topics_request::{CreatableTopic, CreatableTopicConfig};
use kafka_protocol::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::{
    ApiKey, BrokerId, CreateTopicsRequest, CreateTopicsResponse, ListOffsetsRequest,
    ListOffsetsResponse, ProduceRequest, ProduceResponse, RequestHeader, ResponseHeader, TopicName,
};
use kafka_protocol::protocol::{Decodable, Encodable, StrBytes};

const NONE: i16 = 0;
const CORRUPT_MESSAGE: i16 = 2;
const INVALID_TIMESTAMP: i16 = 32;
const INVALID_RECORD: i16 = 87;
/// Peak resident memory the broker may reach while refusing bombs that inflate to 200 MiB (gzip) and
/// 511 MiB (zstd): below either, so materialising one fails the test (the broker idles at ~15 MiB).
const RSS_LIMIT_KB: u64 = 128 * 1024;

fn s(v: &str) -> StrBytes {
    StrBytes::from_string(v.to_string())
}

/// A blocking Kafka connection: one request, one response.
struct Conn {
    stream: TcpStream,
    correlation: i32,
}

impl Conn {
    fn open(w: &Weft) -> Conn {
        let stream = TcpStream::connect(w.bootstrap()).expect("connect to the broker");
        stream
            .set_read_timeout(Some(Duration::from_secs(60)))
            .unwrap();
        Conn {
            stream,
            correlation: 0,
        }
    }

    fn call<R: Encodable, T: Decodable>(&mut self, key: ApiKey, version: i16, body: &R) -> T {
        self.correlation += 1;
        let header = RequestHeader::default()
            .with_request_api_key(key as i16)
            .with_request_api_version(version)
            .with_correlation_id(self.correlation)
            .with_client_id(Some(s("weft-e2e-bombs")));
        let mut buf = BytesMut::new();
        buf.put_i32(0);
        header
            .encode(&mut buf, key.request_header_version(version))
            .unwrap();
        body.encode(&mut buf, version).unwrap();
        let len = (buf.len() - 4) as i32;
        buf[0..4].copy_from_slice(&len.to_be_bytes());
        self.stream.write_all(&buf).expect("send request");
        let mut len = [0u8; 4];
        self.stream
            .read_exact(&mut len)
            .expect("read a response (the broker died or hung)");
        let mut frame = vec![0u8; i32::from_be_bytes(len) as usize];
        self.stream.read_exact(&mut frame).expect("read response");
        let mut frame = Bytes::from(frame);
        let h = ResponseHeader::decode(&mut frame, key.response_header_version(version)).unwrap();
        assert_eq!(h.correlation_id, self.correlation);
        T::decode(&mut frame, version).expect("decode response")
    }
}

fn create_topic(w: &Weft, topic: &str, configs: &[(&str, &str)]) {
    let req = CreateTopicsRequest::default()
        .with_timeout_ms(30_000)
        .with_topics(vec![CreatableTopic::default()
            .with_name(TopicName(s(topic)))
            .with_num_partitions(1)
            .with_replication_factor(1)
            .with_configs(
                configs
                    .iter()
                    .map(|(k, v)| {
                        CreatableTopicConfig::default()
                            .with_name(s(k))
                            .with_value(Some(s(v)))
                    })
                    .collect(),
            )]);
    let resp: CreateTopicsResponse = Conn::open(w).call(ApiKey::CreateTopics, 5, &req);
    assert_eq!(resp.topics[0].error_code, NONE, "create {topic}: {resp:?}");
}

/// Produces `records` (raw batch bytes) with acks=all; returns the partition's error code.
fn produce(w: &Weft, topic: &str, records: Vec<u8>) -> i16 {
    let req = ProduceRequest::default()
        .with_acks(-1)
        .with_timeout_ms(30_000)
        .with_topic_data(vec![TopicProduceData::default()
            .with_name(TopicName(s(topic)))
            .with_partition_data(vec![PartitionProduceData::default()
                .with_index(0)
                .with_records(Some(Bytes::from(records)))])]);
    let resp: ProduceResponse = Conn::open(w).call(ApiKey::Produce, 9, &req);
    resp.responses[0].partition_responses[0].error_code
}

/// ListOffsets for `timestamp` (-1 = latest): (error code, offset).
fn list_offsets(w: &Weft, topic: &str, timestamp: i64) -> (i16, i64) {
    let req = ListOffsetsRequest::default()
        .with_replica_id(BrokerId(-1))
        .with_topics(vec![ListOffsetsTopic::default()
            .with_name(TopicName(s(topic)))
            .with_partitions(vec![ListOffsetsPartition::default()
                .with_partition_index(0)
                .with_timestamp(timestamp)])]);
    let resp: ListOffsetsResponse = Conn::open(w).call(ApiKey::ListOffsets, 7, &req);
    let p = &resp.topics[0].partitions[0];
    (p.error_code, p.offset)
}

fn varlong(out: &mut Vec<u8>, v: i64) {
    let mut z = ((v << 1) ^ (v >> 63)) as u64;
    while z >= 0x80 {
        out.push((z as u8) | 0x80);
        z >>= 7;
    }
    out.push(z as u8);
}

/// Writes `n` records (key "k<i>", `value_len` zero bytes, timestamp delta 0) into `w`.
fn write_records(w: &mut impl Write, n: usize, value_len: usize) {
    let zeros = vec![0u8; 1 << 20];
    for i in 0..n {
        let mut head = vec![0u8];
        varlong(&mut head, 0);
        varlong(&mut head, i as i64);
        let key = format!("k{i}");
        varlong(&mut head, key.len() as i64);
        head.extend_from_slice(key.as_bytes());
        varlong(&mut head, value_len as i64);
        let mut prefix = Vec::new();
        varlong(&mut prefix, (head.len() + value_len + 1) as i64);
        w.write_all(&prefix).unwrap();
        w.write_all(&head).unwrap();
        let mut left = value_len;
        while left > 0 {
            let k = left.min(zeros.len());
            w.write_all(&zeros[..k]).unwrap();
            left -= k;
        }
        w.write_all(&[0]).unwrap();
    }
}

#[derive(Clone, Copy, Debug)]
enum Codec {
    None,
    Gzip,
    Zstd,
}

/// A v2 batch with a correct CRC whose header claims `count` records, base timestamp `base_ts` and
/// max timestamp `max_ts`, holding `n` records of `value_len` zero bytes compressed by the real codec
/// crates while streaming (the inflated section never exists in memory here).
fn batch(
    codec: Codec,
    count: i32,
    n: usize,
    value_len: usize,
    base_ts: i64,
    max_ts: i64,
) -> Vec<u8> {
    let mut section = Vec::new();
    let attributes: i16 = match codec {
        Codec::None => {
            write_records(&mut section, n, value_len);
            0
        }
        Codec::Gzip => {
            let mut e = flate2::write::GzEncoder::new(&mut section, flate2::Compression::best());
            write_records(&mut e, n, value_len);
            e.finish().unwrap();
            1
        }
        Codec::Zstd => {
            let mut e = zstd::stream::write::Encoder::new(&mut section, 3).unwrap();
            write_records(&mut e, n, value_len);
            e.finish().unwrap();
            4
        }
    };
    let mut b = Vec::with_capacity(61 + section.len());
    b.extend_from_slice(&0i64.to_be_bytes()); // base offset
    b.extend_from_slice(&((49 + section.len()) as i32).to_be_bytes());
    b.extend_from_slice(&(-1i32).to_be_bytes()); // leader epoch
    b.push(2); // magic
    b.extend_from_slice(&0u32.to_be_bytes()); // crc, below
    b.extend_from_slice(&attributes.to_be_bytes());
    b.extend_from_slice(&(count - 1).to_be_bytes());
    b.extend_from_slice(&base_ts.to_be_bytes());
    b.extend_from_slice(&max_ts.to_be_bytes());
    b.extend_from_slice(&(-1i64).to_be_bytes()); // producer id
    b.extend_from_slice(&(-1i16).to_be_bytes()); // producer epoch
    b.extend_from_slice(&(-1i32).to_be_bytes()); // base sequence
    b.extend_from_slice(&count.to_be_bytes());
    b.extend_from_slice(&section);
    set_crc(&mut b);
    b
}

fn set_crc(b: &mut [u8]) {
    let crc = crc32c(&b[21..]);
    b[17..21].copy_from_slice(&crc.to_be_bytes());
}

/// CRC-32C (Castagnoli), bitwise: test batches are small.
fn crc32c(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &byte in data {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0x82F6_3B78
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// The zstd and gzip bombs: records of 900 KiB of zeros each (legal one by one), 512 MiB (zstd) and
/// 200 MiB (gzip, whose ratio is lower) in all, under a header claiming 600 records; each is far
/// below max.message.bytes on the wire.
fn bombs(base_ts: i64, max_ts: i64) -> Vec<(Codec, Vec<u8>)> {
    let out = vec![
        (
            Codec::Zstd,
            batch(Codec::Zstd, 600, 582, 900 << 10, base_ts, max_ts),
        ),
        (
            Codec::Gzip,
            batch(Codec::Gzip, 600, 228, 900 << 10, base_ts, max_ts),
        ),
    ];
    for (codec, b) in &out {
        assert!(b.len() < 1_000_000, "{codec:?} bomb is {} bytes", b.len());
    }
    out
}

/// The broker's pid, found by its private data directory on its command line.
fn broker_pid(w: &Weft) -> u32 {
    let needle = w.data.to_string_lossy().into_owned();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|p| p.parse::<u32>().ok())
        else {
            continue;
        };
        if let Ok(cmd) = std::fs::read(format!("/proc/{pid}/cmdline")) {
            let cmd = String::from_utf8_lossy(&cmd);
            if cmd.contains(&needle) && cmd.contains("up") {
                return pid;
            }
        }
    }
    panic!("no broker process for {needle}");
}

/// Peak and current resident memory of the broker, in KiB (VmHWM, VmRSS).
fn memory_kb(w: &Weft) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{}/status", broker_pid(w))).unwrap();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .unwrap_or_else(|| panic!("no {name} in /proc status"))
    };
    (field("VmHWM:"), field("VmRSS:"))
}

fn assert_alive_and_bounded(w: &mut Weft, what: &str) {
    assert!(
        w.is_running(),
        "{what}: the broker died; log:\n{}",
        w.log_text()
    );
    let (peak, now) = memory_kb(w);
    eprintln!("{what}: broker peak RSS {peak} KiB, now {now} KiB");
    assert!(
        peak < RSS_LIMIT_KB,
        "{what}: the broker's peak RSS reached {peak} KiB (now {now} KiB)"
    );
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

#[test]
fn bombs_produced_to_any_topic_are_corrupt_message() {
    let mut w = Weft::start(&[]);
    create_topic(&w, "compacted", &[("cleanup.policy", "compact")]);
    create_topic(&w, "plain", &[]);
    let now = now_ms();
    for topic in ["compacted", "plain"] {
        for (codec, bomb) in bombs(now, now) {
            assert_eq!(
                produce(&w, topic, bomb),
                CORRUPT_MESSAGE,
                "{codec:?} bomb to {topic}"
            );
            assert_alive_and_bounded(&mut w, &format!("{codec:?} bomb to {topic}"));
        }
        // Nothing was appended, and ordinary batches still go in.
        assert_eq!(list_offsets(&w, topic, -1), (NONE, 0));
        let ok = batch(Codec::Zstd, 3, 3, 10, now, now);
        assert_eq!(produce(&w, topic, ok), NONE);
        assert_eq!(list_offsets(&w, topic, -1), (NONE, 3));
    }
}

/// Compressed batches whose records lie about themselves: more or fewer records than the header
/// claims, or a section that decompresses to something other than records. Kafka decodes every
/// compressed batch before storing it; so does Weft, on every topic, or such a batch would be
/// stored and fail each consumer that reaches it.
#[test]
fn compressed_batches_with_broken_records_are_refused_on_plain_topics() {
    let w = Weft::start(&[]);
    create_topic(&w, "plain", &[]);
    let now = now_ms();
    let mut garbage = Vec::new();
    let mut e = flate2::write::GzEncoder::new(&mut garbage, flate2::Compression::default());
    e.write_all(&[0xff; 64]).unwrap();
    e.finish().unwrap();
    let mut lying = batch(Codec::Gzip, 3, 3, 10, now, now);
    let header_len = 61;
    lying.truncate(header_len);
    lying.extend_from_slice(&garbage);
    let len = (lying.len() - 12) as i32;
    lying[8..12].copy_from_slice(&len.to_be_bytes());
    set_crc(&mut lying);
    for (what, b) in [
        ("claims 5, holds 3", batch(Codec::Gzip, 5, 3, 10, now, now)),
        ("claims 2, holds 3", batch(Codec::Zstd, 2, 3, 10, now, now)),
        ("not records inside", lying),
    ] {
        let error = produce(&w, "plain", b);
        assert!(
            error == CORRUPT_MESSAGE || error == INVALID_RECORD,
            "{what}: answered {error}"
        );
    }
    assert_eq!(list_offsets(&w, "plain", -1), (NONE, 0), "nothing stored");
    assert_eq!(
        produce(&w, "plain", batch(Codec::Gzip, 3, 3, 10, now, now)),
        NONE
    );
    assert_eq!(list_offsets(&w, "plain", -1), (NONE, 3));
}

/// Appends `batches` to the end of `topic`-0's active segment while the broker is stopped, as if
/// they had been stored before produce checked compressed batches (or by another writer), and
/// restarts the broker without its clean-shutdown marker so that the tail is scanned (the batches
/// are well formed, so recovery keeps them). Returns the offset the first of them was given.
fn store_behind_the_broker(w: &mut Weft, topic: &str, batches: Vec<Vec<u8>>) -> i64 {
    w.stop();
    let dir = w.data_dir().join(format!("{topic}-0"));
    let mut logs: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "log"))
        .collect();
    logs.sort();
    let active = logs.last().expect("a segment").clone();
    let stored = std::fs::read(&active).unwrap();
    let mut next = weft_log::batch::batches(&stored)
        .map(|b| b.unwrap().0.last_offset() + 1)
        .last()
        .unwrap_or(0);
    let first = next;
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(&active)
        .unwrap();
    for mut b in batches {
        b[0..8].copy_from_slice(&next.to_be_bytes());
        next += i64::from(i32::from_be_bytes(b[57..61].try_into().unwrap()));
        f.write_all(&b).unwrap();
    }
    drop(f);
    let _ = std::fs::remove_file(dir.join("clean-shutdown"));
    w.restart();
    first
}

#[test]
fn bombs_stored_in_a_plain_topic_fail_the_timestamp_lookup_not_the_broker() {
    let mut w = Weft::start(&[]);
    create_topic(&w, "plain", &[]);
    let now = now_ms();
    // A first record gives the partition its segment.
    assert_eq!(
        produce(
            &w,
            "plain",
            batch(Codec::Gzip, 1, 1, 5, now - 20_000, now - 20_000)
        ),
        NONE
    );
    // The headers claim a later max timestamp than the records carry, so a lookup between the two
    // must read through the whole batch.
    let bombs = bombs(now - 10_000, now)
        .into_iter()
        .map(|(_, b)| b)
        .collect();
    store_behind_the_broker(&mut w, "plain", bombs);
    assert_eq!(list_offsets(&w, "plain", -1), (NONE, 1201));
    for _ in 0..2 {
        let (error, _) = list_offsets(&w, "plain", now - 5_000);
        assert_eq!(
            error, CORRUPT_MESSAGE,
            "ListOffsets by timestamp over the bombs"
        );
        assert_alive_and_bounded(&mut w, "ListOffsets by timestamp");
    }
    // The broker still serves the partition and others.
    assert_eq!(list_offsets(&w, "plain", -2), (NONE, 0));
    create_topic(&w, "after", &[]);
    assert_eq!(
        produce(&w, "after", batch(Codec::Gzip, 2, 2, 5, now, now)),
        NONE
    );
    assert_eq!(list_offsets(&w, "after", now - 1), (NONE, 0));
}

#[test]
fn producer_batches_breaking_the_batch_rules_are_refused() {
    let w = Weft::start(&[]);
    create_topic(&w, "rules", &[]);
    create_topic(
        &w,
        "strict",
        &[("message.timestamp.before.max.ms", "60000")],
    );
    let now = now_ms();
    let with_attr = |bit: i16| {
        let mut b = batch(Codec::None, 2, 2, 5, now, now);
        let a = i16::from_be_bytes([b[21], b[22]]) | bit;
        b[21..23].copy_from_slice(&a.to_be_bytes());
        set_crc(&mut b);
        b
    };
    assert_eq!(
        produce(&w, "rules", with_attr(0x20)),
        INVALID_RECORD,
        "control batch"
    );
    assert_eq!(
        produce(&w, "rules", with_attr(0x10)),
        INVALID_RECORD,
        "transactional batch"
    );
    assert_eq!(
        produce(&w, "rules", with_attr(0x40)),
        INVALID_RECORD,
        "delete horizon"
    );
    // A small batch claiming 2^31 - 1 records, uncompressed and compressed.
    for codec in [Codec::None, Codec::Zstd] {
        let mut b = batch(codec, 1, 1, 50, now, now);
        b[23..27].copy_from_slice(&(i32::MAX - 1).to_be_bytes());
        b[57..61].copy_from_slice(&i32::MAX.to_be_bytes());
        set_crc(&mut b);
        assert_eq!(
            produce(&w, "rules", b),
            CORRUPT_MESSAGE,
            "{codec:?} lying count"
        );
    }
    // Kafka 4.0's default message.timestamp.after.max.ms is one hour.
    let future = batch(
        Codec::Gzip,
        1,
        1,
        5,
        now + 2 * 3_600_000,
        now + 2 * 3_600_000,
    );
    assert_eq!(produce(&w, "rules", future), INVALID_TIMESTAMP);
    let old = batch(Codec::None, 1, 1, 5, now - 120_000, now - 120_000);
    assert_eq!(produce(&w, "strict", old.clone()), INVALID_TIMESTAMP);
    assert_eq!(
        produce(&w, "rules", old),
        NONE,
        "before.max.ms is unbounded by default"
    );
    // Only the one good batch was stored: the log end offset did not jump.
    assert_eq!(list_offsets(&w, "rules", -1), (NONE, 1));
    assert_eq!(list_offsets(&w, "strict", -1), (NONE, 0));
}

/// A bomb found in `__consumer_offsets` on disk is replayed at start within the limits: the broker
/// starts, its memory stays bounded, the bomb's batch is skipped by its header and counted, and the
/// commits stored before and after it are served (after a second restart too).
#[test]
fn a_bomb_in_consumer_offsets_does_not_stop_the_broker_starting() {
    use rdkafka::config::ClientConfig;
    use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
    use rdkafka::{Offset, TopicPartitionList};

    let mut w = Weft::start(&["offsets.topic.num.partitions=1"]);
    create_topic(&w, "data", &[]);
    let consumer = |w: &Weft| -> BaseConsumer {
        ClientConfig::new()
            .set("bootstrap.servers", w.bootstrap())
            .set("group.id", "replayed")
            .set("enable.auto.commit", "false")
            .create()
            .expect("consumer")
    };
    let committed = |w: &Weft| -> Offset {
        let mut tpl = TopicPartitionList::new();
        tpl.add_partition("data", 0);
        let got = consumer(w)
            .committed_offsets(tpl, Duration::from_secs(30))
            .expect("committed offsets");
        got.elements()[0].offset()
    };
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset("data", 0, Offset::Offset(5))
        .unwrap();
    consumer(&w).commit(&tpl, CommitMode::Sync).expect("commit");
    assert_eq!(committed(&w), Offset::Offset(5));

    // Append a bomb at the end of the offsets partition, as if a client had slipped it in.
    let now = now_ms();
    let bomb = batch(Codec::Zstd, 600, 582, 900 << 10, now, now);
    let next = store_behind_the_broker(&mut w, "__consumer_offsets", vec![bomb]);
    assert!(next > 0, "the commit is stored before the bomb");
    assert_alive_and_bounded(&mut w, "replaying a bomb in __consumer_offsets");
    // Recovery kept the bomb (it is well formed), so the replay had to get past it.
    assert_eq!(
        list_offsets(&w, "__consumer_offsets", -1),
        (NONE, next + 600)
    );
    assert_eq!(
        committed(&w),
        Offset::Offset(5),
        "the commit before the bomb"
    );
    assert!(
        w.log_text().contains("skipped_batches=1"),
        "the replay reports the skipped batch:\n{}",
        w.log_text()
    );
    assert_alive_and_bounded(&mut w, "after serving the group");

    // A commit stored after the bomb survives the next replay: the bomb is skipped, not the rest.
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset("data", 0, Offset::Offset(9))
        .unwrap();
    consumer(&w).commit(&tpl, CommitMode::Sync).expect("commit");
    w.stop();
    w.restart();
    assert_eq!(
        committed(&w),
        Offset::Offset(9),
        "the commit stored after the bomb"
    );
}
