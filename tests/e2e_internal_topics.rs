//! `__consumer_offsets` against the real `weft` binary: Metadata creates it with its real shape and
//! marks it internal; forged and destructive requests on it are refused with Kafka's error codes; a
//! real group's commits survive those requests and a restart. Internal is a fixed set of names:
//! a client topic that merely starts with `__` stays an ordinary topic.

mod common;
mod wire;

use std::time::Duration;

use bytes::{Bytes, BytesMut};
use common::Weft;
use kafka_protocol::messages::create_partitions_request::CreatePartitionsTopic;
use kafka_protocol::messages::create_topics_request::CreatableTopic;
use kafka_protocol::messages::delete_records_request::{
    DeleteRecordsPartition, DeleteRecordsTopic,
};
use kafka_protocol::messages::describe_configs_request::DescribeConfigsResource;
use kafka_protocol::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
use kafka_protocol::messages::metadata_request::MetadataRequestTopic;
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::{
    alter_configs_request, incremental_alter_configs_request, AlterConfigsRequest,
    AlterConfigsResponse, ApiKey, BrokerId, CreatePartitionsRequest, CreatePartitionsResponse,
    CreateTopicsRequest, CreateTopicsResponse, DeleteRecordsRequest, DeleteRecordsResponse,
    DeleteTopicsRequest, DeleteTopicsResponse, DescribeConfigsRequest, DescribeConfigsResponse,
    IncrementalAlterConfigsRequest, IncrementalAlterConfigsResponse, ListOffsetsRequest,
    ListOffsetsResponse, MetadataRequest, MetadataResponse, ProduceRequest, ProduceResponse,
    TopicName,
};
use kafka_protocol::records::{
    Compression, Record, RecordBatchEncoder, RecordEncodeOptions, TimestampType,
};
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::{Offset, TopicPartitionList};
use wire::{s, Conn};

const OFFSETS: &str = "__consumer_offsets";
const OFFSETS_PARTITIONS: i32 = 3;
const TIMEOUT: Duration = Duration::from_secs(60);

const INVALID_TOPIC_EXCEPTION: i16 = 17;
const INVALID_CONFIG: i16 = 40;
const INVALID_REQUEST: i16 = 42;

fn start() -> Weft {
    Weft::start(&[
        "offsets.topic.num.partitions=3",
        "group.initial.rebalance.delay.ms=0",
    ])
}

fn name(v: &str) -> TopicName {
    TopicName(s(v))
}

fn metadata(conn: &mut Conn, topic: &str) -> MetadataResponse {
    let req = MetadataRequest::default()
        .with_topics(Some(vec![
            MetadataRequestTopic::default().with_name(Some(name(topic)))
        ]))
        .with_allow_auto_topic_creation(true);
    conn.call(ApiKey::Metadata, 12, &req)
}

fn cleanup_policy(conn: &mut Conn, topic: &str) -> String {
    let req =
        DescribeConfigsRequest::default().with_resources(vec![DescribeConfigsResource::default()
            .with_resource_type(2)
            .with_resource_name(s(topic))
            .with_configuration_keys(Some(vec![s("cleanup.policy")]))]);
    let resp: DescribeConfigsResponse = conn.call(ApiKey::DescribeConfigs, 4, &req);
    let r = &resp.results[0];
    assert_eq!(r.error_code, 0, "describe {topic}: {:?}", r.error_message);
    r.configs[0]
        .value
        .as_ref()
        .map(|v| v.to_string())
        .unwrap_or_default()
}

fn end_offset(conn: &mut Conn, topic: &str, partition: i32) -> i64 {
    let req = ListOffsetsRequest::default()
        .with_replica_id(BrokerId(-1))
        .with_topics(vec![ListOffsetsTopic::default()
            .with_name(name(topic))
            .with_partitions(vec![ListOffsetsPartition::default()
                .with_partition_index(partition)
                .with_timestamp(-1)])]);
    let resp: ListOffsetsResponse = conn.call(ApiKey::ListOffsets, 7, &req);
    let p = &resp.topics[0].partitions[0];
    assert_eq!(p.error_code, 0, "ListOffsets {topic}-{partition}");
    p.offset
}

/// A forged offsets record: key and value shaped like a commit (or a tombstone when `value` is None).
fn forged_batch(value: Option<&'static [u8]>) -> Bytes {
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
        key: Some(Bytes::from_static(
            b"\x00\x01\x00\x06keeper\x00\x07durable\x00\x00\x00\x00",
        )),
        value: value.map(Bytes::from_static),
        headers: Default::default(),
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
    buf.freeze()
}

/// Every way a client could write to, truncate, delete, grow or reconfigure the offsets topic;
/// returns nothing, asserting each refusal and that the topic is unchanged.
fn attack_offsets_topic(conn: &mut Conn) {
    // Produce, to every partition (a tombstone for a real group's key among them).
    for p in 0..OFFSETS_PARTITIONS {
        let before = end_offset(conn, OFFSETS, p);
        for (version, value) in [(3, None), (9, Some(&b"\x00\x03forged"[..]))] {
            let req = ProduceRequest::default()
                .with_acks(-1)
                .with_timeout_ms(10_000)
                .with_topic_data(vec![TopicProduceData::default()
                    .with_name(name(OFFSETS))
                    .with_partition_data(vec![PartitionProduceData::default()
                        .with_index(p)
                        .with_records(Some(forged_batch(value)))])]);
            let resp: ProduceResponse = conn.call(ApiKey::Produce, version, &req);
            let r = &resp.responses[0].partition_responses[0];
            assert_eq!(
                r.error_code, INVALID_TOPIC_EXCEPTION,
                "Produce v{version} to {OFFSETS}-{p}"
            );
            if version >= 8 {
                assert_eq!(
                    r.error_message.as_deref(),
                    Some("Cannot append to internal topic __consumer_offsets")
                );
            }
        }
        assert_eq!(
            end_offset(conn, OFFSETS, p),
            before,
            "a forged produce reached {OFFSETS}-{p}"
        );
    }

    // DeleteRecords up to the high watermark.
    let req = DeleteRecordsRequest::default()
        .with_timeout_ms(10_000)
        .with_topics(vec![DeleteRecordsTopic::default()
            .with_name(name(OFFSETS))
            .with_partitions(
                (0..OFFSETS_PARTITIONS)
                    .map(|p| {
                        DeleteRecordsPartition::default()
                            .with_partition_index(p)
                            .with_offset(-1)
                    })
                    .collect(),
            )]);
    let resp: DeleteRecordsResponse = conn.call(ApiKey::DeleteRecords, 2, &req);
    for p in &resp.topics[0].partitions {
        assert_eq!(
            p.error_code, INVALID_TOPIC_EXCEPTION,
            "DeleteRecords {OFFSETS}-{}",
            p.partition_index
        );
    }

    // DeleteTopics, by name.
    let req = DeleteTopicsRequest::default()
        .with_timeout_ms(10_000)
        .with_topic_names(vec![name(OFFSETS)]);
    let resp: DeleteTopicsResponse = conn.call(ApiKey::DeleteTopics, 4, &req);
    assert_eq!(
        resp.responses[0].error_code, INVALID_TOPIC_EXCEPTION,
        "DeleteTopics {OFFSETS}"
    );

    // CreatePartitions: more partitions would move groups to other partitions.
    let req = CreatePartitionsRequest::default()
        .with_timeout_ms(10_000)
        .with_topics(vec![CreatePartitionsTopic::default()
            .with_name(name(OFFSETS))
            .with_count(10)]);
    let resp: CreatePartitionsResponse = conn.call(ApiKey::CreatePartitions, 3, &req);
    assert_eq!(
        resp.results[0].error_code, INVALID_TOPIC_EXCEPTION,
        "CreatePartitions {OFFSETS}"
    );

    // CreateTopics of an internal name (the reserved transaction topic included).
    for topic in [OFFSETS, "__transaction_state"] {
        let req = CreateTopicsRequest::default()
            .with_timeout_ms(10_000)
            .with_topics(vec![CreatableTopic::default()
                .with_name(name(topic))
                .with_num_partitions(1)
                .with_replication_factor(1)]);
        let resp: CreateTopicsResponse = conn.call(ApiKey::CreateTopics, 5, &req);
        assert_eq!(
            resp.topics[0].error_code, INVALID_REQUEST,
            "CreateTopics {topic}"
        );
    }

    // AlterConfigs: to delete, and (by replacing the whole set) back to the default policy.
    for configs in [
        vec![("cleanup.policy", "delete")],
        vec![("retention.ms", "1")],
    ] {
        let req = AlterConfigsRequest::default().with_resources(vec![
            alter_configs_request::AlterConfigsResource::default()
                .with_resource_type(2)
                .with_resource_name(s(OFFSETS))
                .with_configs(
                    configs
                        .iter()
                        .map(|(k, v)| {
                            alter_configs_request::AlterableConfig::default()
                                .with_name(s(k))
                                .with_value(Some(s(v)))
                        })
                        .collect(),
                ),
        ]);
        let resp: AlterConfigsResponse = conn.call(ApiKey::AlterConfigs, 2, &req);
        assert_eq!(
            resp.responses[0].error_code, INVALID_CONFIG,
            "AlterConfigs {configs:?}"
        );
    }
    // IncrementalAlterConfigs: set, append and delete of cleanup.policy.
    for (op, value) in [
        (0i8, Some("compact,delete")),
        (2, Some("delete")),
        (1, None),
    ] {
        let req = IncrementalAlterConfigsRequest::default().with_resources(vec![
            incremental_alter_configs_request::AlterConfigsResource::default()
                .with_resource_type(2)
                .with_resource_name(s(OFFSETS))
                .with_configs(vec![
                    incremental_alter_configs_request::AlterableConfig::default()
                        .with_name(s("cleanup.policy"))
                        .with_config_operation(op)
                        .with_value(value.map(s)),
                ]),
        ]);
        let resp: IncrementalAlterConfigsResponse =
            conn.call(ApiKey::IncrementalAlterConfigs, 1, &req);
        assert_eq!(
            resp.responses[0].error_code, INVALID_CONFIG,
            "IncrementalAlterConfigs op {op} {value:?}"
        );
    }

    let meta = metadata(conn, OFFSETS);
    assert_eq!(meta.topics[0].error_code, 0);
    assert_eq!(
        meta.topics[0].partitions.len() as i32,
        OFFSETS_PARTITIONS,
        "partition count changed"
    );
    assert_eq!(cleanup_policy(conn, OFFSETS), "compact");
}

#[test]
fn metadata_creates_the_offsets_topic_with_its_real_shape_and_marks_it_internal() {
    let w = start();
    let mut conn = Conn::open(&w.bootstrap());

    let meta = metadata(&mut conn, OFFSETS);
    let t = &meta.topics[0];
    assert_eq!(t.error_code, 0, "Metadata naming {OFFSETS}");
    assert!(t.is_internal, "{OFFSETS} is not marked internal");
    assert_eq!(
        t.partitions.len() as i32,
        OFFSETS_PARTITIONS,
        "offsets.topic.num.partitions"
    );
    assert_eq!(cleanup_policy(&mut conn, OFFSETS), "compact");

    // A client topic that only starts with "__" is ordinary: auto-created, not internal, writable.
    let meta = metadata(&mut conn, "__my_events");
    let t = &meta.topics[0];
    assert_eq!(t.error_code, 0);
    assert!(!t.is_internal, "__my_events is marked internal");
    assert_eq!(t.partitions.len(), 1, "num.partitions");
    let req = ProduceRequest::default()
        .with_acks(1)
        .with_timeout_ms(10_000)
        .with_topic_data(vec![TopicProduceData::default()
            .with_name(name("__my_events"))
            .with_partition_data(vec![PartitionProduceData::default()
                .with_index(0)
                .with_records(Some(forged_batch(Some(b"ordinary"))))])]);
    let resp: ProduceResponse = conn.call(ApiKey::Produce, 9, &req);
    assert_eq!(resp.responses[0].partition_responses[0].error_code, 0);

    // A safe change to the offsets topic is still allowed.
    let req = IncrementalAlterConfigsRequest::default().with_resources(vec![
        incremental_alter_configs_request::AlterConfigsResource::default()
            .with_resource_type(2)
            .with_resource_name(s(OFFSETS))
            .with_configs(vec![
                incremental_alter_configs_request::AlterableConfig::default()
                    .with_name(s("segment.bytes"))
                    .with_config_operation(0)
                    .with_value(Some(s("52428800"))),
            ]),
    ]);
    let resp: IncrementalAlterConfigsResponse = conn.call(ApiKey::IncrementalAlterConfigs, 1, &req);
    assert_eq!(
        resp.responses[0].error_code, 0,
        "{:?}",
        resp.responses[0].error_message
    );
    assert_eq!(cleanup_policy(&mut conn, OFFSETS), "compact");
}

fn consumer(bootstrap: &str, group: &str) -> BaseConsumer {
    ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", group)
        .set("enable.auto.commit", "false")
        .create()
        .expect("consumer")
}

fn committed(bootstrap: &str, group: &str, topic: &str) -> Vec<(i64, String)> {
    let c = consumer(bootstrap, group);
    let mut tpl = TopicPartitionList::new();
    for p in 0..2 {
        tpl.add_partition(topic, p);
    }
    c.committed_offsets(tpl, TIMEOUT)
        .expect("committed offsets")
        .elements()
        .iter()
        .map(|e| match e.offset() {
            Offset::Offset(o) => (o, e.metadata().to_string()),
            other => panic!(
                "partition {} has no committed offset: {other:?}",
                e.partition()
            ),
        })
        .collect()
}

#[test]
fn forged_and_destructive_requests_are_refused_and_commits_survive_a_restart() {
    let mut w = start();
    let b = w.bootstrap();
    let mut conn = Conn::open(&b);
    let req = CreateTopicsRequest::default()
        .with_timeout_ms(10_000)
        .with_topics(vec![CreatableTopic::default()
            .with_name(name("durable"))
            .with_num_partitions(2)
            .with_replication_factor(1)]);
    let resp: CreateTopicsResponse = conn.call(ApiKey::CreateTopics, 5, &req);
    assert_eq!(resp.topics[0].error_code, 0);

    // A real group consumer commits through the coordinator (which creates the offsets topic).
    {
        let c = consumer(&b, "keeper");
        let mut tpl = TopicPartitionList::new();
        for (p, o) in [(0, 11i64), (1, 22)] {
            let mut e = tpl.add_partition("durable", p);
            e.set_offset(Offset::Offset(o)).expect("offset");
            e.set_metadata(format!("meta-{p}"));
        }
        c.commit(&tpl, CommitMode::Sync).expect("commit");
    }
    let before = committed(&b, "keeper", "durable");
    assert_eq!(
        before,
        vec![(11, "meta-0".to_string()), (22, "meta-1".to_string())]
    );

    attack_offsets_topic(&mut conn);
    assert_eq!(
        committed(&b, "keeper", "durable"),
        before,
        "commits changed by the attacks"
    );

    w.stop();
    w.restart();
    let b = w.bootstrap();
    assert_eq!(
        committed(&b, "keeper", "durable"),
        before,
        "commits lost or altered across the restart"
    );
    let mut conn = Conn::open(&b);
    let meta = metadata(&mut conn, OFFSETS);
    assert!(meta.topics[0].is_internal);
    assert_eq!(meta.topics[0].partitions.len() as i32, OFFSETS_PARTITIONS);
    assert_eq!(cleanup_policy(&mut conn, OFFSETS), "compact");
}
