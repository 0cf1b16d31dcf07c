//! Old clients against the real binary: request versions Kafka 4.0 removed but Kafka 3.9 served
//! (ListOffsets v0, OffsetCommit v0–v1, OffsetFetch v0, CreateTopics v0–v1, DeleteTopics v0,
//! DescribeConfigs v0) on the wire, Kafka's answer to a version it does not serve (the connection is
//! closed), and sarama (github.com/IBM/sarama, `tests/go/saramaold`) configured as Kafka 0.10.0, 0.10.2
//! and 2.0 listing offsets, committing, and consuming with a group, and as 0.10.1/0.11 administering a
//! topic with a ClusterAdmin.

mod common;
mod wire;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use common::clients;
use common::{weft_cmd, Weft};
use kafka_protocol::messages::api_versions_response::ApiVersionsResponse;
use kafka_protocol::messages::create_topics_request::CreatableTopic;
use kafka_protocol::messages::describe_configs_request::DescribeConfigsResource;
use kafka_protocol::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
use kafka_protocol::messages::offset_commit_request::{
    OffsetCommitRequestPartition, OffsetCommitRequestTopic,
};
use kafka_protocol::messages::offset_fetch_request::OffsetFetchRequestTopic;
use kafka_protocol::messages::{
    ApiKey, ApiVersionsRequest, BrokerId, CreateTopicsRequest, CreateTopicsResponse,
    DeleteTopicsRequest, DeleteTopicsResponse, DescribeConfigsRequest, DescribeConfigsResponse,
    GroupId, ListOffsetsRequest, ListOffsetsResponse, MetadataRequest, MetadataResponse,
    OffsetCommitRequest, OffsetCommitResponse, OffsetFetchRequest, OffsetFetchResponse, TopicName,
};
use kafka_protocol::protocol::Decodable;
use rdkafka::config::ClientConfig;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use serde_json::Value;
use wire::{s, Conn};

const UNSUPPORTED_VERSION: i16 = 35;
const UNKNOWN_TOPIC_OR_PARTITION: i16 = 3;
const TOPIC_ALREADY_EXISTS: i16 = 36;
const INVALID_REQUEST: i16 = 42;
const TOPIC_DELETION_DISABLED: i16 = 73;
const RESOURCE_TOPIC: i8 = 2;
const SOURCE_TOPIC_CONFIG: i8 = 1;

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

/// Every topic the broker lists (Metadata v9 for all topics, which never auto-creates), with its
/// partition count.
fn topics(conn: &mut Conn) -> BTreeMap<String, usize> {
    let req = MetadataRequest::default()
        .with_topics(None)
        .with_allow_auto_topic_creation(false);
    let r: MetadataResponse = conn.call(ApiKey::Metadata, 9, &req);
    r.topics
        .iter()
        .filter_map(|t| Some((t.name.as_ref()?.0.to_string(), t.partitions.len())))
        .collect()
}

/// The broker's own view of one topic config key (DescribeConfigs v1): (value, config source).
fn topic_config(conn: &mut Conn, topic: &str, key: &str) -> (Option<String>, i8) {
    let req =
        DescribeConfigsRequest::default().with_resources(vec![DescribeConfigsResource::default()
            .with_resource_type(RESOURCE_TOPIC)
            .with_resource_name(s(topic))
            .with_configuration_keys(Some(vec![s(key)]))]);
    let r: DescribeConfigsResponse = conn.call(ApiKey::DescribeConfigs, 1, &req);
    let result = &r.results[0];
    assert_eq!(result.error_code, 0, "describe {topic}: {result:?}");
    let entry = result
        .configs
        .iter()
        .find(|c| c.name.as_str() == key)
        .unwrap_or_else(|| panic!("{key} not described: {result:?}"));
    (
        entry.value.as_ref().map(|v| v.to_string()),
        entry.config_source,
    )
}

/// How many requests of `api` at `version` the broker has answered, from its Prometheus metrics.
fn requests_served(metrics_port: u16, api: &str, version: i16) -> f64 {
    let text = ureq::get(format!("http://127.0.0.1:{metrics_port}/metrics"))
        .call()
        .expect("scrape /metrics")
        .body_mut()
        .read_to_string()
        .expect("metrics body");
    let (api, version) = (format!("api=\"{api}\""), format!("version=\"{version}\""));
    text.lines()
        .filter(|l| l.starts_with("weft_request_duration_seconds_count{"))
        .filter(|l| l.contains(&api) && l.contains(&version))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// The port the broker's metrics listener reported at start-up.
fn metrics_port(w: &Weft) -> u16 {
    const PREFIX: &str = "weft: metrics listening on http://";
    assert!(
        w.wait_for_log(PREFIX, Duration::from_secs(30)),
        "no metrics listener: {}",
        w.log_text()
    );
    w.log_text()
        .lines()
        .find_map(|l| {
            l.strip_prefix(PREFIX)?
                .rsplit(':')
                .next()?
                .trim()
                .parse()
                .ok()
        })
        .expect("metrics port")
}

#[test]
fn sarama_admin_as_kafka_0_10_1_and_0_11_creates_describes_and_deletes_with_v0_requests() {
    let w = Weft::start(&["metrics.listener=http://127.0.0.1:0"]);
    let port = metrics_port(&w);
    let b = w.bootstrap();
    let topic = "sarama-admin";
    let mut c = Conn::open(&b);

    // Kafka 0.10.1: sarama's ClusterAdmin sends CreateTopics v0 (no validate_only).
    let out = sarama(&[
        "create",
        "-b",
        &b,
        "-version",
        "0.10.1.0",
        "-topic",
        topic,
        "-partitions",
        "3",
        "-config",
        "retention.ms=3600000",
    ]);
    assert_eq!(out["created"], topic, "{out}");
    assert_eq!(
        topics(&mut c).get(topic),
        Some(&3),
        "created with 3 partitions"
    );
    assert_eq!(
        topic_config(&mut c, topic, "retention.ms"),
        (Some("3600000".into()), SOURCE_TOPIC_CONFIG),
        "the config sent with CreateTopics v0 is the topic's override"
    );

    // Kafka 0.11: DescribeConfigs v0, whose entries say is_default instead of a source.
    let out = sarama(&[
        "describe", "-b", &b, "-version", "0.11.0.0", "-topic", topic,
    ]);
    let configs = &out["configs"];
    assert_eq!(configs["retention.ms"]["value"], "3600000", "{out}");
    assert_eq!(configs["retention.ms"]["default"], false, "{out}");
    assert_eq!(configs["cleanup.policy"]["value"], "delete", "{out}");
    assert_eq!(configs["cleanup.policy"]["default"], true, "{out}");
    // sarama's SourceDefault (5), which it derives from is_default in v0.
    assert_eq!(configs["cleanup.policy"]["source"], 5, "{out}");

    // Kafka 0.10.1: DeleteTopics v0.
    let out = sarama(&["delete", "-b", &b, "-version", "0.10.1.0", "-topic", topic]);
    assert_eq!(out["deleted"], topic, "{out}");
    assert!(
        !topics(&mut c).contains_key(topic),
        "{topic} is still listed after DeleteTopics v0"
    );

    // The broker answered those requests at v0 (not a newer version sarama fell back to).
    for api in ["CreateTopics", "DescribeConfigs", "DeleteTopics"] {
        let deadline = Instant::now() + Duration::from_secs(30);
        while requests_served(port, api, 0) < 1.0 {
            assert!(Instant::now() < deadline, "no {api} v0 request counted");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

fn create_request(name: &str, partitions: i32, validate_only: bool) -> CreateTopicsRequest {
    CreateTopicsRequest::default()
        .with_topics(vec![CreatableTopic::default()
            .with_name(TopicName(s(name)))
            .with_num_partitions(partitions)
            .with_replication_factor(1)])
        .with_timeout_ms(30_000)
        .with_validate_only(validate_only)
}

#[test]
fn create_topics_v1_validate_only_creates_nothing_and_v0_creates() {
    let w = Weft::start(&["delete.topic.enable=false"]);
    let mut c = Conn::open(&w.bootstrap());

    // Advertised from Kafka 3.9's minimums.
    let av: ApiVersionsResponse = c.call(ApiKey::ApiVersions, 3, &ApiVersionsRequest::default());
    let range = |key: ApiKey| {
        av.api_keys
            .iter()
            .find(|k| k.api_key == key as i16)
            .map(|k| (k.min_version, k.max_version))
    };
    assert_eq!(range(ApiKey::CreateTopics), Some((0, 7)));
    assert_eq!(range(ApiKey::DeleteTopics), Some((0, 6)));
    assert_eq!(range(ApiKey::DescribeConfigs), Some((0, 4)));

    // v1 with validate_only: answered as a success, nothing created.
    let r: CreateTopicsResponse = c.call(
        ApiKey::CreateTopics,
        1,
        &create_request("validated", 2, true),
    );
    assert_eq!(r.topics.len(), 1);
    assert_eq!(r.topics[0].name.0.as_str(), "validated");
    assert_eq!(r.topics[0].error_code, 0, "{r:?}");
    assert!(
        !topics(&mut c).contains_key("validated"),
        "validate_only created the topic"
    );

    // v0 (no validate_only on the wire) creates; a second v0 request gets TOPIC_ALREADY_EXISTS in
    // v0's shape (name and code), v1 adds the message.
    let r: CreateTopicsResponse = c.call(
        ApiKey::CreateTopics,
        0,
        &create_request("created", 2, false),
    );
    assert_eq!(
        (r.topics[0].name.0.as_str(), r.topics[0].error_code),
        ("created", 0)
    );
    assert_eq!(topics(&mut c).get("created"), Some(&2));
    let r: CreateTopicsResponse = c.call(
        ApiKey::CreateTopics,
        0,
        &create_request("created", 2, false),
    );
    assert_eq!(r.topics[0].error_code, TOPIC_ALREADY_EXISTS);
    let r: CreateTopicsResponse =
        c.call(ApiKey::CreateTopics, 1, &create_request("created", 2, true));
    assert_eq!(r.topics[0].error_code, TOPIC_ALREADY_EXISTS);
    let message = r.topics[0].error_message.as_deref().unwrap_or_default();
    assert!(message.contains("already exists"), "{message}");

    // Deletion disabled: Kafka answers v0–v2 INVALID_REQUEST (TOPIC_DELETION_DISABLED is v3+).
    let delete = DeleteTopicsRequest::default()
        .with_topic_names(vec![TopicName(s("created"))])
        .with_timeout_ms(30_000);
    for (version, want) in [(0, INVALID_REQUEST), (3, TOPIC_DELETION_DISABLED)] {
        let r: DeleteTopicsResponse = c.call(ApiKey::DeleteTopics, version, &delete);
        assert_eq!(
            r.responses[0].error_code, want,
            "DeleteTopics v{version}: {r:?}"
        );
    }
    assert_eq!(topics(&mut c).get("created"), Some(&2), "still there");
}
