//! Hostile frames against the real `weft` binary: requests whose array counts, string and byte lengths,
//! tagged fields and record-batch counts lie by billions, in the non-flexible (i32) and flexible
//! (unsigned varint) encodings of several APIs. After each the process must be alive, still serve,
//! and its resident memory must stay bounded: an allocation sized from a lying count aborts the
//! process or shows up in VmRSS.

mod common;
mod wire;

use std::time::Duration;

use bytes::{Bytes, BytesMut};
use common::Weft;
use kafka_protocol::messages::create_partitions_request::CreatePartitionsTopic;
use kafka_protocol::messages::create_topics_request::{CreatableTopic, CreatableTopicConfig};
use kafka_protocol::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
use kafka_protocol::messages::{
    ApiKey, ApiVersionsRequest, ApiVersionsResponse, BrokerId, CreatePartitionsRequest,
    CreatePartitionsResponse, CreateTopicsRequest, CreateTopicsResponse, ListOffsetsRequest,
    ListOffsetsResponse, MetadataRequest, MetadataResponse, ProduceResponse, TopicName,
};
use kafka_protocol::records::{
    Compression, Record, RecordBatchEncoder, RecordEncodeOptions, TimestampType,
};
use wire::{rss_mib, s, Body, Conn};

/// Far above an idle debug broker (tens of MiB), far below what any lying count would ask for.
const RSS_LIMIT_MIB: u64 = 200;

/// The largest unsigned varint count: compact arrays and strings store n + 1, so this claims 2^32 - 2.
const HUGE_UVARINT: u32 = 0xffff_ffff;

const CORRUPT_MESSAGE: i16 = 2;

fn create_topic(w: &Weft, name: &str, configs: &[(&str, &str)]) {
    let mut conn = Conn::open(&w.bootstrap());
    let req = CreateTopicsRequest::default()
        .with_timeout_ms(10_000)
        .with_topics(vec![CreatableTopic::default()
            .with_name(TopicName(s(name)))
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
    let resp: CreateTopicsResponse = conn.call(ApiKey::CreateTopics, 5, &req);
    assert_eq!(
        resp.topics[0].error_code, 0,
        "create {name}: {:?}",
        resp.topics[0].error_message
    );
}

/// After each hostile request: alive, answering ApiVersions and Metadata on a new connection, RSS bounded.
fn assert_healthy(w: &mut Weft, after: &str) {
    assert!(
        w.is_running(),
        "broker died after {after}; its log:\n{}",
        w.log_text()
    );
    let mut conn = Conn::open(&w.bootstrap());
    let versions: ApiVersionsResponse = conn.call(
        ApiKey::ApiVersions,
        3,
        &ApiVersionsRequest::default()
            .with_client_software_name(s("hostile"))
            .with_client_software_version(s("1")),
    );
    assert_eq!(versions.error_code, 0, "ApiVersions after {after}");
    let meta: MetadataResponse = conn.call(
        ApiKey::Metadata,
        12,
        &MetadataRequest::default().with_topics(None),
    );
    assert!(
        meta.topics
            .iter()
            .any(|t| t.name.as_deref().map(|n| n.as_str()) == Some("hostile")),
        "Metadata after {after} lost topic 'hostile'"
    );
    let pid = w.pid().expect("broker pid");
    let rss = rss_mib(pid);
    assert!(rss < RSS_LIMIT_MIB, "broker RSS {rss} MiB after {after}");
}

/// Sends `body` behind a valid header; the broker must drop the connection (undecodable request).
fn expect_refused(w: &mut Weft, what: &str, key: ApiKey, version: i16, body: &Body) {
    let mut conn = Conn::open(&w.bootstrap());
    conn.send_body(key, version, body.bytes());
    conn.expect_closed(what);
    assert_healthy(w, what);
}

/// Non-flexible versions: i32 counts and lengths of 2^31 - 1 and "negative" 0x80000000.
#[test]
fn lying_i32_counts_in_non_flexible_requests_are_refused() {
    let mut w = Weft::start(&[]);
    create_topic(&w, "hostile", &[]);
    assert_healthy(&mut w, "start");

    for lie in [i32::MAX, i32::MIN, 0x7fff_fff0] {
        let what = |api: &str| format!("{api} with a count of {lie:#x}");
        // Metadata v1: topics.
        expect_refused(
            &mut w,
            &what("Metadata v1 topics"),
            ApiKey::Metadata,
            1,
            &Body::new().i32(lie),
        );
        // Produce v3: topic_data, then a partition_data count inside a real topic entry.
        let produce = Body::new().i16(-1).i16(1).i32(1000);
        expect_refused(
            &mut w,
            &what("Produce v3 topics"),
            ApiKey::Produce,
            3,
            &produce.i32(lie),
        );
        let produce = Body::new()
            .i16(-1)
            .i16(1)
            .i32(1000)
            .i32(1)
            .string("hostile")
            .i32(lie);
        expect_refused(
            &mut w,
            &what("Produce v3 partitions"),
            ApiKey::Produce,
            3,
            &produce,
        );
        // Produce v3: a records byte length of 2 GB with 3 bytes behind it.
        let produce = Body::new()
            .i16(-1)
            .i16(1)
            .i32(1000)
            .i32(1)
            .string("hostile")
            .i32(1)
            .i32(0)
            .i32(lie)
            .raw(&[0, 0, 0]);
        expect_refused(
            &mut w,
            &what("Produce v3 records length"),
            ApiKey::Produce,
            3,
            &produce,
        );
        // Fetch v4: topics.
        let fetch = Body::new()
            .i32(-1)
            .i32(0)
            .i32(1)
            .i32(1 << 20)
            .i8(0)
            .i32(lie);
        expect_refused(&mut w, &what("Fetch v4 topics"), ApiKey::Fetch, 4, &fetch);
        // OffsetCommit v2: topics.
        let commit = Body::new().string("g").i32(-1).string("").i64(-1).i32(lie);
        expect_refused(
            &mut w,
            &what("OffsetCommit v2 topics"),
            ApiKey::OffsetCommit,
            2,
            &commit,
        );
        // JoinGroup v1: protocols, then a protocol's metadata byte length.
        let join = Body::new()
            .string("g")
            .i32(10_000)
            .i32(10_000)
            .string("")
            .string("consumer");
        expect_refused(
            &mut w,
            &what("JoinGroup v1 protocols"),
            ApiKey::JoinGroup,
            1,
            &join.i32(lie),
        );
        let join = Body::new()
            .string("g")
            .i32(10_000)
            .i32(10_000)
            .string("")
            .string("consumer")
            .i32(1)
            .string("range")
            .i32(lie)
            .raw(&[0; 8]);
        expect_refused(
            &mut w,
            &what("JoinGroup v1 metadata length"),
            ApiKey::JoinGroup,
            1,
            &join,
        );
        // CreateTopics v2: topics, then a topic's replica assignments.
        expect_refused(
            &mut w,
            &what("CreateTopics v2 topics"),
            ApiKey::CreateTopics,
            2,
            &Body::new().i32(lie),
        );
        let create = Body::new().i32(1).string("x").i32(-1).i16(-1).i32(lie);
        expect_refused(
            &mut w,
            &what("CreateTopics v2 assignments"),
            ApiKey::CreateTopics,
            2,
            &create,
        );
    }
}

/// Flexible versions: unsigned varint counts and lengths of 2^32 - 2, in bodies and in the header's
/// tagged fields.
#[test]
fn lying_varint_counts_in_flexible_requests_are_refused() {
    let mut w = Weft::start(&[]);
    create_topic(&w, "hostile", &[]);
    assert_healthy(&mut w, "start");

    let lie = HUGE_UVARINT;
    let what = |api: &str| format!("{api} with a compact count of {lie:#x}");
    // Metadata v12: topics; then one topic whose name claims 4 GB.
    expect_refused(
        &mut w,
        &what("Metadata v12 topics"),
        ApiKey::Metadata,
        12,
        &Body::new().uvarint(lie),
    );
    let meta = Body::new()
        .uvarint(2)
        .raw(&[0; 16])
        .uvarint(lie)
        .raw(b"abc");
    expect_refused(
        &mut w,
        &what("Metadata v12 topic name"),
        ApiKey::Metadata,
        12,
        &meta,
    );
    // ApiVersions v3: client software name.
    let av = Body::new().uvarint(lie).raw(b"abc");
    expect_refused(
        &mut w,
        &what("ApiVersions v3 software name"),
        ApiKey::ApiVersions,
        3,
        &av,
    );
    // Produce v9: topics, partitions, records.
    let produce = Body::new().uvarint(0).i16(1).i32(1000);
    expect_refused(
        &mut w,
        &what("Produce v9 topics"),
        ApiKey::Produce,
        9,
        &produce.uvarint(lie),
    );
    let produce = Body::new()
        .uvarint(0)
        .i16(1)
        .i32(1000)
        .uvarint(2)
        .cstring("hostile")
        .uvarint(lie);
    expect_refused(
        &mut w,
        &what("Produce v9 partitions"),
        ApiKey::Produce,
        9,
        &produce,
    );
    let produce = Body::new()
        .uvarint(0)
        .i16(1)
        .i32(1000)
        .uvarint(2)
        .cstring("hostile")
        .uvarint(2)
        .i32(0)
        .uvarint(lie)
        .raw(&[0, 0, 0]);
    expect_refused(
        &mut w,
        &what("Produce v9 records length"),
        ApiKey::Produce,
        9,
        &produce,
    );
    // Fetch v12: topics.
    let fetch = Body::new()
        .i32(-1)
        .i32(0)
        .i32(1)
        .i32(1 << 20)
        .i8(0)
        .i32(0)
        .i32(-1)
        .uvarint(lie);
    expect_refused(&mut w, &what("Fetch v12 topics"), ApiKey::Fetch, 12, &fetch);
    // OffsetCommit v8: topics.
    let commit = Body::new()
        .cstring("g")
        .i32(-1)
        .cstring("")
        .uvarint(0)
        .uvarint(lie);
    expect_refused(
        &mut w,
        &what("OffsetCommit v8 topics"),
        ApiKey::OffsetCommit,
        8,
        &commit,
    );
    // JoinGroup v6: protocols, then a protocol's metadata length.
    let join = Body::new()
        .cstring("g")
        .i32(10_000)
        .i32(10_000)
        .cstring("")
        .uvarint(0)
        .cstring("consumer");
    expect_refused(
        &mut w,
        &what("JoinGroup v6 protocols"),
        ApiKey::JoinGroup,
        6,
        &join.uvarint(lie),
    );
    let join = Body::new()
        .cstring("g")
        .i32(10_000)
        .i32(10_000)
        .cstring("")
        .uvarint(0)
        .cstring("consumer")
        .uvarint(2)
        .cstring("range")
        .uvarint(lie)
        .raw(&[0; 8]);
    expect_refused(
        &mut w,
        &what("JoinGroup v6 metadata length"),
        ApiKey::JoinGroup,
        6,
        &join,
    );
    // CreateTopics v5: topics, then a topic's configs.
    expect_refused(
        &mut w,
        &what("CreateTopics v5 topics"),
        ApiKey::CreateTopics,
        5,
        &Body::new().uvarint(lie),
    );
    let create = Body::new()
        .uvarint(2)
        .cstring("x")
        .i32(-1)
        .i16(-1)
        .uvarint(1)
        .uvarint(lie);
    expect_refused(
        &mut w,
        &what("CreateTopics v5 configs"),
        ApiKey::CreateTopics,
        5,
        &create,
    );

    // A flexible request header whose tagged-field section claims 2^32 - 1 fields, then one field
    // of 4 GB: written by hand, the encoder will not produce either.
    for tags in [
        Body::new().uvarint(lie).raw(&[0, 1]),
        Body::new().uvarint(1).uvarint(0).uvarint(lie).raw(&[0; 4]),
    ] {
        let header = Body::new()
            .i16(ApiKey::Metadata as i16)
            .i16(12)
            .i32(99)
            .string("hostile")
            .raw(tags.bytes());
        let mut frame = BytesMut::new();
        frame.extend_from_slice(&(header.bytes().len() as i32).to_be_bytes());
        frame.extend_from_slice(header.bytes());
        let mut conn = Conn::open(&w.bootstrap());
        let _ = std::io::Write::write_all(&mut conn.stream, &frame);
        conn.expect_closed("Metadata v12 header with lying tagged fields");
        assert_healthy(&mut w, "Metadata v12 header with lying tagged fields");
    }
}

/// A batch of one keyed record.
fn one_record_batch() -> Vec<u8> {
    batch_of(Default::default())
}

/// A batch of one keyed record with these headers.
fn batch_of(
    headers: kafka_protocol::indexmap::IndexMap<kafka_protocol::protocol::StrBytes, Option<Bytes>>,
) -> Vec<u8> {
    let record = Record {
        transactional: false,
        control: false,
        delete_horizon: false,
        partition_leader_epoch: 0,
        producer_id: -1,
        producer_epoch: -1,
        sequence: -1,
        timestamp_type: TimestampType::Creation,
        offset: 0,
        timestamp: 1_700_000_000_000,
        key: Some(Bytes::from_static(b"k")),
        value: Some(Bytes::from_static(b"v")),
        headers,
    };
    let mut buf = BytesMut::new();
    RecordBatchEncoder::encode(
        &mut buf,
        &[record],
        &RecordEncodeOptions {
            version: 2,
            compression: Compression::None,
        },
    )
    .expect("encode batch");
    buf.to_vec()
}

/// Recomputes a batch's CRC-32C (it covers the bytes from the attributes on).
fn fix_crc(b: &mut [u8]) {
    let crc = crc32c(&b[21..]);
    b[17..21].copy_from_slice(&crc.to_be_bytes());
}

/// CRC-32C (Castagnoli), bitwise: enough for a few test batches without another dependency.
fn crc32c(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &byte in data {
        crc ^= byte as u32;
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0x82f6_3b78
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// The header claims `count` records (lastOffsetDelta agrees), CRC fixed: only the count lies.
fn batch_claiming(count: i32) -> Vec<u8> {
    let mut b = one_record_batch();
    b[23..27].copy_from_slice(&(count - 1).to_be_bytes());
    b[57..61].copy_from_slice(&count.to_be_bytes());
    fix_crc(&mut b);
    b
}

/// The one record claims i32::MAX headers (zigzag varint), lengths and CRC fixed.
fn batch_with_lying_header_count() -> Vec<u8> {
    let mut b = one_record_batch();
    assert_eq!(
        b.pop(),
        Some(0),
        "the record ends with a header count of zero"
    );
    b.extend_from_slice(&[0xfe, 0xff, 0xff, 0xff, 0x0f]);
    b[61] += 8; // the record's zigzag length varint grows by 4 bytes
    let len = i32::from_be_bytes(b[8..12].try_into().unwrap()) + 4;
    b[8..12].copy_from_slice(&len.to_be_bytes());
    fix_crc(&mut b);
    b
}

fn end_offset(w: &Weft, topic: &str) -> i64 {
    let req = ListOffsetsRequest::default()
        .with_replica_id(BrokerId(-1))
        .with_topics(vec![ListOffsetsTopic::default()
            .with_name(TopicName(s(topic)))
            .with_partitions(vec![ListOffsetsPartition::default()
                .with_partition_index(0)
                .with_timestamp(-1)])]);
    let resp: ListOffsetsResponse = Conn::open(&w.bootstrap()).call(ApiKey::ListOffsets, 7, &req);
    let p = &resp.topics[0].partitions[0];
    assert_eq!(p.error_code, 0, "ListOffsets {topic}");
    p.offset
}

fn produce_batch(w: &Weft, topic: &str, batch: &[u8]) -> (i16, Option<String>) {
    produce_on(&mut Conn::open(&w.bootstrap()), topic, batch)
}

/// Produce v9 of one batch to partition 0 of `topic` on `conn`: (error code, error message).
fn produce_on(conn: &mut Conn, topic: &str, batch: &[u8]) -> (i16, Option<String>) {
    let body = Body::new()
        .uvarint(0)
        .i16(-1)
        .i32(10_000)
        .uvarint(2)
        .cstring(topic)
        .uvarint(2)
        .i32(0)
        .uvarint(batch.len() as u32 + 1)
        .raw(batch)
        .no_tags()
        .no_tags()
        .no_tags();
    let correlation = conn.send_body(ApiKey::Produce, 9, body.bytes());
    let resp: ProduceResponse = conn.recv(ApiKey::Produce, 9, correlation);
    let p = &resp.responses[0].partition_responses[0];
    (
        p.error_code,
        p.error_message.as_ref().map(|m| m.to_string()),
    )
}

/// Record batches inside a well-formed Produce: a header claiming ~2^31 records, and a record whose
/// header count claims 2^31 - 1, to a plain and to a compacted topic (whose key check decodes records).
#[test]
fn lying_record_counts_inside_produce_keep_the_broker_up() {
    let mut w = Weft::start(&[]);
    create_topic(&w, "hostile", &[]);
    create_topic(&w, "hostile-compact", &[("cleanup.policy", "compact")]);
    assert_healthy(&mut w, "start");

    for topic in ["hostile", "hostile-compact"] {
        for count in [i32::MAX, 0x4000_0000] {
            let what = format!("a batch claiming {count} records to {topic}");
            let (code, message) = produce_batch(&w, topic, &batch_claiming(count));
            assert_eq!(code, CORRUPT_MESSAGE, "{what}: {message:?}");
            assert_eq!(end_offset(&w, topic), 0, "{what} moved the log end offset");
            assert_healthy(&mut w, &what);
        }
        // Both topics walk every record of an uncompressed batch and refuse the record.
        let what = format!("a record claiming i32::MAX headers to {topic}");
        let (code, message) = produce_batch(&w, topic, &batch_with_lying_header_count());
        assert_eq!(code, CORRUPT_MESSAGE, "{what}: {message:?}");
        assert_eq!(end_offset(&w, topic), 0, "{what} was stored");
        assert_healthy(&mut w, &what);
    }
}

const INVALID_TIMESTAMP: i16 = 32;

/// Two records at `first` and `first + later_by` ms, the header made to claim `first` for both its
/// first and its largest timestamp (CRC fixed): only the second record's own timestamp says otherwise.
fn batch_hiding_a_timestamp(first: i64, later_by: i64) -> Vec<u8> {
    let record = |i: i64, ts: i64| Record {
        transactional: false,
        control: false,
        delete_horizon: false,
        partition_leader_epoch: 0,
        producer_id: -1,
        producer_epoch: -1,
        sequence: i as i32 - 1,
        timestamp_type: TimestampType::Creation,
        offset: i,
        timestamp: ts,
        key: Some(Bytes::from_static(b"k")),
        value: Some(Bytes::from_static(b"v")),
        headers: Default::default(),
    };
    let mut buf = BytesMut::new();
    RecordBatchEncoder::encode(
        &mut buf,
        &[record(0, first), record(1, first + later_by)],
        &RecordEncodeOptions {
            version: 2,
            compression: Compression::None,
        },
    )
    .expect("encode batch");
    let mut b = buf.to_vec();
    assert_eq!(
        i32::from_be_bytes(b[57..61].try_into().unwrap()),
        2,
        "one batch of two"
    );
    b[35..43].copy_from_slice(&first.to_be_bytes());
    fix_crc(&mut b);
    b
}

/// Records that lie where only a walk of every record sees it, to a plain topic on one connection: a
/// header count, a record length claiming a byte less and one claiming a byte more, and a record
/// timestamp past message.timestamp.after.max.ms (default 1 hour) in a batch whose header timestamps
/// are now. Each is refused with its Kafka error code, nothing is stored, and the same connection then
/// stores a good batch.
#[test]
fn records_that_lie_inside_an_uncompressed_batch_are_refused_and_the_connection_serves_on() {
    let mut w = Weft::start(&[]);
    create_topic(&w, "hostile", &[]);
    assert_healthy(&mut w, "start");
    let mut conn = Conn::open(&w.bootstrap());
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock after 1970")
        .as_millis() as i64;

    let mut shorter = one_record_batch();
    shorter[61] -= 2; // zigzag: the record's length varint says one byte less
    fix_crc(&mut shorter);
    let mut longer = one_record_batch();
    longer[61] += 2;
    fix_crc(&mut longer);
    let cases: [(&str, Vec<u8>, i16); 4] = [
        (
            "a lying header count",
            batch_with_lying_header_count(),
            CORRUPT_MESSAGE,
        ),
        ("a record length one byte short", shorter, CORRUPT_MESSAGE),
        ("a record length one byte long", longer, CORRUPT_MESSAGE),
        (
            "a record two hours ahead in a batch whose header says now",
            batch_hiding_a_timestamp(now, 2 * 3_600_000),
            INVALID_TIMESTAMP,
        ),
    ];
    for (what, batch, expected) in cases {
        let (code, message) = produce_on(&mut conn, "hostile", &batch);
        assert_eq!(code, expected, "{what}: {message:?}");
        assert!(
            message.as_deref().is_some_and(|m| m.contains("record")),
            "{what}: the message must name the record: {message:?}"
        );
        assert_eq!(end_offset(&w, "hostile"), 0, "{what} was stored");
        assert_healthy(&mut w, what);
    }
    // The same connection still serves, and an honest batch with the same timestamps is stored.
    let (code, message) = produce_on(&mut conn, "hostile", &one_record_batch());
    assert_eq!(code, 0, "a good batch after the refused ones: {message:?}");
    let (code, message) = produce_on(&mut conn, "hostile", &batch_hiding_a_timestamp(now, 1_000));
    assert_eq!(code, 0, "two records a second apart: {message:?}");
    assert_eq!(end_offset(&w, "hostile"), 3);
}

/// A client that goes away while the broker writes to it must cost only that connection: the broker
/// keeps SIGPIPE ignored (responses are written with `writev`, which cannot ask for MSG_NOSIGNAL), so
/// a write to a reset socket is an EPIPE error, not a signal that kills the process.
#[test]
fn the_broker_ignores_sigpipe() {
    let w = Weft::start(&[]);
    let pid = w.pid().expect("broker pid");
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("/proc status");
    let ignored = status
        .lines()
        .find_map(|l| l.strip_prefix("SigIgn:"))
        .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
        .expect("SigIgn line");
    const SIGPIPE: u32 = 13;
    assert!(
        ignored & (1 << (SIGPIPE - 1)) != 0,
        "SIGPIPE is not ignored by the broker (SigIgn {ignored:#x})"
    );
}

const POLICY_VIOLATION: i16 = 44;

/// Partitions of `topic` as Metadata reports them; `None` if the topic does not exist.
fn partition_count(w: &Weft, topic: &str) -> Option<usize> {
    let mut conn = Conn::open(&w.bootstrap());
    let req = MetadataRequest::default()
        .with_allow_auto_topic_creation(false)
        .with_topics(Some(vec![
            kafka_protocol::messages::metadata_request::MetadataRequestTopic::default()
                .with_name(Some(TopicName(s(topic)))),
        ]));
    let resp: MetadataResponse = conn.call(ApiKey::Metadata, 9, &req);
    let t = resp.topics.first().expect("one topic answered");
    (t.error_code == 0).then_some(t.partitions.len())
}

/// One request may not bring more than 10,000 partitions into being (Kafka's controller limit):
/// creating them serialises every other topic change, so a request for a hundred thousand would
/// stall the broker's admin path for minutes. The whole request is refused with Kafka's code and
/// message, and nothing of it is created.
#[test]
fn a_request_for_too_many_partitions_is_refused_whole() {
    let mut w = Weft::start(&[]);
    create_topic(&w, "hostile", &[]);
    let mut conn = Conn::open(&w.bootstrap());
    let topic = |name: &str, n: i32| {
        CreatableTopic::default()
            .with_name(TopicName(s(name)))
            .with_num_partitions(n)
            .with_replication_factor(1)
    };
    let req = CreateTopicsRequest::default()
        .with_timeout_ms(10_000)
        .with_topics(vec![topic("budget-a", 1), topic("budget-b", 10_000)]);
    let resp: CreateTopicsResponse = conn.call(ApiKey::CreateTopics, 5, &req);
    assert_eq!(resp.topics.len(), 2);
    for t in &resp.topics {
        assert_eq!(t.error_code, POLICY_VIOLATION, "{:?}", t.name);
        assert_eq!(
            t.error_message.as_deref(),
            Some("Excessively large number of partitions per request.")
        );
        assert_eq!(partition_count(&w, t.name.as_str()), None, "{:?}", t.name);
    }
    assert_healthy(&mut w, "a CreateTopics for 10,001 partitions");

    create_topic(&w, "budget-grow", &[]);
    let grow = CreatePartitionsRequest::default()
        .with_timeout_ms(10_000)
        .with_topics(vec![CreatePartitionsTopic::default()
            .with_name(TopicName(s("budget-grow")))
            .with_count(10_002)]);
    let resp: CreatePartitionsResponse = conn.call(ApiKey::CreatePartitions, 3, &grow);
    assert_eq!(resp.results[0].error_code, POLICY_VIOLATION);
    assert_eq!(partition_count(&w, "budget-grow"), Some(1));

    // Within the budget, growing still works.
    let grow = grow.with_topics(vec![CreatePartitionsTopic::default()
        .with_name(TopicName(s("budget-grow")))
        .with_count(3)]);
    let resp: CreatePartitionsResponse = conn.call(ApiKey::CreatePartitions, 3, &grow);
    assert_eq!(
        resp.results[0].error_code, 0,
        "{:?}",
        resp.results[0].error_message
    );
    assert_eq!(partition_count(&w, "budget-grow"), Some(3));
    assert_healthy(&mut w, "a CreatePartitions for 10,001 more partitions");
}

/// A record whose header name is not UTF-8 (brokers store it, as Kafka's does; no client writes
/// one) reaches a Connect sink without that header: rdkafka would panic turning the name into
/// text, so the task skips the header with a warning and runs on.
#[test]
fn a_header_name_that_is_not_utf8_does_not_fail_a_sink_task() {
    let w = Weft::start(&[]);
    create_topic(&w, "odd-headers", &[]);
    let mut headers = kafka_protocol::indexmap::IndexMap::new();
    headers.insert(
        kafka_protocol::protocol::StrBytes::from_static_str("h"),
        Some(Bytes::from_static(b"x")),
    );
    let mut b = batch_of(headers);
    let n = b.len();
    assert_eq!(
        &b[n - 4..],
        &[2, b'h', 2, b'x'],
        "the batch ends with the header"
    );
    b[n - 3] = 0xff;
    fix_crc(&mut b);
    assert_eq!(
        produce_batch(&w, "odd-headers", &b).0,
        0,
        "the broker stores it"
    );
    assert_eq!(produce_batch(&w, "odd-headers", &one_record_batch()).0, 0);

    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let worker = common::connect::worker_file(d, &w.bootstrap(), "");
    let sink = d.join("sink.properties");
    std::fs::write(
        &sink,
        format!(
            "name=odd\nconnector.class=FileStreamSink\ntasks.max=1\ntopics=odd-headers\n\
             file={}\nvalue.converter=org.apache.kafka.connect.storage.StringConverter\n",
            d.join("out.txt").display()
        ),
    )
    .unwrap();
    let worker = common::connect::Worker::standalone(d, &[worker, sink]);
    let out = d.join("out.txt");
    assert!(
        common::connect::wait_until(Duration::from_secs(60), || {
            std::fs::read_to_string(&out).unwrap_or_default() == "v\nv\n"
        }),
        "out.txt is {:?}; worker log:\n{}",
        std::fs::read_to_string(&out).ok(),
        worker.log_text()
    );
    assert_eq!(
        worker.get("/connectors/odd/status").1["tasks"][0]["state"],
        "RUNNING"
    );
    assert!(
        worker.log_text().contains("not UTF-8"),
        "the skipped header is logged:\n{}",
        worker.log_text()
    );
}
