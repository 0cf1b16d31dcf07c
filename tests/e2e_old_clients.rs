//! Old clients against the real binary: request versions Kafka 4.0 removed but Kafka 3.9 served
//! (ListOffsets v0, OffsetCommit v0–v1, OffsetFetch v0) on the wire, Kafka's answer to a version it does
//! not serve (the connection is closed), and sarama (github.com/IBM/sarama, `tests/go/saramaold`)
//! configured as Kafka 0.10.0, 0.10.2 and 2.0 listing offsets, committing, and consuming with a group.

mod common;
mod wire;

use std::time::Duration;

use common::clients;
use common::{weft_cmd, Weft};
use kafka_protocol::messages::api_versions_response::ApiVersionsResponse;
use kafka_protocol::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
use kafka_protocol::messages::offset_commit_request::{
    OffsetCommitRequestPartition, OffsetCommitRequestTopic,
};
use kafka_protocol::messages::offset_fetch_request::OffsetFetchRequestTopic;
use kafka_protocol::messages::{
    ApiKey, ApiVersionsRequest, BrokerId, GroupId, ListOffsetsRequest, ListOffsetsResponse,
    OffsetCommitRequest, OffsetCommitResponse, OffsetFetchRequest, OffsetFetchResponse, TopicName,
};
use kafka_protocol::protocol::Decodable;
use rdkafka::config::ClientConfig;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use serde_json::Value;
use wire::{s, Conn};

const UNSUPPORTED_VERSION: i16 = 35;
const UNKNOWN_TOPIC_OR_PARTITION: i16 = 3;

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

/// Produces `per_partition` records to each partition with librdkafka; values are `p<partition>-<i>`.
fn produce(w: &Weft, topic: &str, partitions: i32, per_partition: usize) -> Vec<String> {
    let p: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", w.bootstrap())
        .set("linger.ms", "5")
        .create()
        .expect("producer");
    let mut values = Vec::new();
    for part in 0..partitions {
        for i in 0..per_partition {
            let v = format!("p{part}-{i}");
            p.send(BaseRecord::<(), _>::to(topic).partition(part).payload(&v))
                .expect("enqueue");
            values.push(v);
        }
    }
    p.flush(Duration::from_secs(60)).expect("flush");
    values
}

/// Runs tests/go/saramaold and returns its JSON output line.
fn sarama(args: &[&str]) -> Value {
    clients::run_json(&clients::go_program("saramaold"), args)
}

fn list_offsets_v0(conn: &mut Conn, topic: &str, parts: &[(i32, i64, i32)]) -> ListOffsetsResponse {
    let req = ListOffsetsRequest::default()
        .with_replica_id(BrokerId(-1))
        .with_topics(vec![ListOffsetsTopic::default()
            .with_name(TopicName(s(topic)))
            .with_partitions(
                parts
                    .iter()
                    .map(|(p, ts, max)| {
                        ListOffsetsPartition::default()
                            .with_partition_index(*p)
                            .with_timestamp(*ts)
                            .with_max_num_offsets(*max)
                    })
                    .collect(),
            )]);
    conn.call(ApiKey::ListOffsets, 0, &req)
}

#[test]
fn list_offsets_v0_answers_old_style_offsets() {
    let w = Weft::start(&[]);
    let topic = "old-list-offsets";
    create_topic(&w, topic, 2);
    produce(&w, topic, 2, 5);
    let mut c = Conn::open(&w.bootstrap());
    let r = list_offsets_v0(
        &mut c,
        topic,
        &[
            (0, -1, 1),                // latest
            (1, -2, 10),               // earliest
            (0, 0, 1),                 // first record at or after timestamp 0
            (1, 4_102_444_800_000, 1), // after every record (2100): the log end
            (0, -1, 0),                // no offsets wanted
            (0, -3, 1),                // max-timestamp does not exist in v0
            (7, -1, 1),                // no such partition
        ],
    );
    let got: Vec<(i32, i16, Vec<i64>)> = r.topics[0]
        .partitions
        .iter()
        .map(|p| (p.partition_index, p.error_code, p.old_style_offsets.clone()))
        .collect();
    assert_eq!(
        got,
        vec![
            (0, 0, vec![5]),
            (1, 0, vec![0]),
            (0, 0, vec![0]),
            (1, 0, vec![5]),
            (0, 0, vec![]),
            (0, UNSUPPORTED_VERSION, vec![]),
            (7, UNKNOWN_TOPIC_OR_PARTITION, vec![]),
        ]
    );
    // The connection stays usable for the current versions.
    let req = ApiVersionsRequest::default();
    let av: ApiVersionsResponse = c.call(ApiKey::ApiVersions, 3, &req);
    let lo = av
        .api_keys
        .iter()
        .find(|k| k.api_key == ApiKey::ListOffsets as i16)
        .map(|k| (k.min_version, k.max_version));
    assert_eq!(
        lo.map(|r| r.0),
        Some(0),
        "ListOffsets v0 advertised: {lo:?}"
    );
}

#[test]
fn offset_commit_v1_stores_and_v0_is_answered_as_kafka_3_9_does() {
    let w = Weft::start(&["group.initial.rebalance.delay.ms=0"]);
    let topic = "old-commit";
    create_topic(&w, topic, 1);
    let mut c = Conn::open(&w.bootstrap());
    let commit = |c: &mut Conn, version: i16, offset: i64| -> i16 {
        let req = OffsetCommitRequest::default()
            .with_group_id(GroupId(s("old-group")))
            .with_generation_id_or_member_epoch(-1)
            .with_member_id(s(""))
            .with_topics(vec![OffsetCommitRequestTopic::default()
                .with_name(TopicName(s(topic)))
                .with_partitions(vec![OffsetCommitRequestPartition::default()
                    .with_partition_index(0)
                    .with_committed_offset(offset)
                    .with_commit_timestamp(-1)
                    .with_committed_metadata(Some(s("m")))])]);
        let r: OffsetCommitResponse = c.call(ApiKey::OffsetCommit, version, &req);
        r.topics[0].partitions[0].error_code
    };
    let fetch = |c: &mut Conn, version: i16| -> (i16, i64) {
        let req = OffsetFetchRequest::default()
            .with_group_id(GroupId(s("old-group")))
            .with_topics(Some(vec![OffsetFetchRequestTopic::default()
                .with_name(TopicName(s(topic)))
                .with_partition_indexes(vec![0])]));
        let r: OffsetFetchResponse = c.call(ApiKey::OffsetFetch, version, &req);
        let p = &r.topics[0].partitions[0];
        (p.error_code, p.committed_offset)
    };
    // v0 kept offsets in ZooKeeper; Kafka 3.9 without ZooKeeper answers UNSUPPORTED_VERSION in shape.
    assert_eq!(commit(&mut c, 0, 3), UNSUPPORTED_VERSION);
    assert_eq!(fetch(&mut c, 0), (UNSUPPORTED_VERSION, -1));
    // v1 (with its commit timestamp) is stored in the group coordinator, read back by v1 and v2.
    assert_eq!(commit(&mut c, 1, 42), 0);
    assert_eq!(fetch(&mut c, 1), (0, 42));
    assert_eq!(fetch(&mut c, 2), (0, 42));
}

#[test]
fn unsupported_versions_close_the_connection_as_kafka_does() {
    let mut w = Weft::start(&[]);
    // Fetch v3 (record format v1), Produce v2, Metadata v99, an unknown API: Kafka's SocketServer throws
    // InvalidRequestException while parsing the header and closes the connection.
    for (key, version, what) in [
        (ApiKey::Fetch as i16, 3i16, "Fetch v3"),
        (ApiKey::Produce as i16, 2, "Produce v2"),
        (ApiKey::Metadata as i16, 99, "Metadata v99"),
        (999, 0, "api key 999"),
    ] {
        let mut c = Conn::open(&w.bootstrap());
        let (frame, _) = c.frame_with_body(ApiKey::ApiVersions, 0, &[]);
        let mut raw = frame.to_vec();
        raw[4..6].copy_from_slice(&key.to_be_bytes());
        raw[6..8].copy_from_slice(&version.to_be_bytes());
        raw.extend_from_slice(&[0, 0, 0, 0]);
        let len = (raw.len() - 4) as i32;
        raw[0..4].copy_from_slice(&len.to_be_bytes());
        use std::io::Write;
        let _ = c.stream.write_all(&raw);
        c.expect_closed(what);
    }
    // ApiVersions at a version the broker does not know: the v0-shaped error with the supported ranges,
    // and the connection stays open (clients retry at a listed version).
    let mut c = Conn::open(&w.bootstrap());
    let correlation = c.send_body(ApiKey::ApiVersions, 99, &[]);
    let mut frame = c.read_frame();
    assert_eq!(
        i32::from_be_bytes([frame[0], frame[1], frame[2], frame[3]]),
        correlation
    );
    let _ = frame.split_to(4);
    let fallback = ApiVersionsResponse::decode(&mut frame, 0).expect("v0 ApiVersions body");
    assert_eq!(fallback.error_code, UNSUPPORTED_VERSION);
    assert!(fallback
        .api_keys
        .iter()
        .any(|k| k.api_key == ApiKey::ApiVersions as i16));
    let av: ApiVersionsResponse = c.call(ApiKey::ApiVersions, 3, &ApiVersionsRequest::default());
    assert_eq!(av.error_code, 0);
    assert!(w.is_running());
}

#[test]
fn sarama_0_10_0_lists_offsets_with_v0_and_commits() {
    let w = Weft::start(&["group.initial.rebalance.delay.ms=0"]);
    let topic = "sarama-old";
    create_topic(&w, topic, 3);
    produce(&w, topic, 3, 4);
    let b = w.bootstrap();
    for version in ["0.10.0.0", "0.10.2.0", "2.0.0"] {
        let offsets = sarama(&[
            "offsets",
            "-b",
            &b,
            "-version",
            version,
            "-topic",
            topic,
            "-partitions",
            "3",
        ]);
        for p in 0..3 {
            assert_eq!(
                offsets[p.to_string()],
                serde_json::json!([0, 4]),
                "sarama {version}: earliest/latest of partition {p}: {offsets}"
            );
        }
        let group = format!("sarama-commit-{version}");
        let committed = sarama(&[
            "commit",
            "-b",
            &b,
            "-version",
            version,
            "-group",
            &group,
            "-topic",
            topic,
            "-partition",
            "2",
            "-offset",
            "3",
        ]);
        assert_eq!(committed["committed"], 3, "sarama {version}: {committed}");
        assert_eq!(committed["metadata"], "sarama-old", "sarama {version}");
    }
}

#[test]
fn sarama_2_0_consumes_with_a_group_and_commits() {
    let w = Weft::start(&["group.initial.rebalance.delay.ms=0"]);
    let topic = "sarama-group";
    create_topic(&w, topic, 3);
    let mut expected = produce(&w, topic, 3, 20);
    expected.sort();
    let b = w.bootstrap();
    let out = sarama(&[
        "group", "-b", &b, "-version", "2.0.0", "-group", "sarama-g", "-topic", topic, "-count",
        "60",
    ]);
    let got: Vec<String> = out["values"]
        .as_array()
        .expect("values")
        .iter()
        .map(|v| v.as_str().unwrap_or_default().to_string())
        .collect();
    assert_eq!(got, expected, "records sarama read with a consumer group");
    // The group's commits are there: every partition at its end.
    let mut c = Conn::open(&b);
    let req = OffsetFetchRequest::default()
        .with_group_id(GroupId(s("sarama-g")))
        .with_topics(Some(vec![OffsetFetchRequestTopic::default()
            .with_name(TopicName(s(topic)))
            .with_partition_indexes(vec![0, 1, 2])]));
    let r: OffsetFetchResponse = c.call(ApiKey::OffsetFetch, 1, &req);
    let committed: Vec<(i32, i16, i64)> = r.topics[0]
        .partitions
        .iter()
        .map(|p| (p.partition_index, p.error_code, p.committed_offset))
        .collect();
    assert_eq!(committed, vec![(0, 0, 20), (1, 0, 20), (2, 0, 20)]);
}
