//! Deterministic stand-in for the fuzzers in the stable test suite: replays the committed fuzz corpus
//! (fuzz/corpus/request_path) and proptest mutations of valid frames through the same entry point the
//! `request_path` fuzz target uses, and asserts the broker answers well-formed frames or refuses cleanly.
//!
//! The valid frames built here are also the seed corpus: `cargo test -p weft-broker --test fuzz_replay
//! -- --ignored write_seed_corpus` rewrites fuzz/corpus/*/seed-*.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

use bytes::{BufMut, Bytes, BytesMut};
use kafka_protocol::messages::*;
use kafka_protocol::protocol::{Encodable, StrBytes};
use kafka_protocol::records::{
    Compression, Record, RecordBatchEncoder, RecordEncodeOptions, TimestampType,
};
use proptest::prelude::*;
use weft_broker::fuzzing::{FrameOutcome, FuzzBroker};

fn s(v: &str) -> StrBytes {
    StrBytes::from_string(v.to_string())
}

fn topic(v: &str) -> TopicName {
    TopicName(s(v))
}

fn group(v: &str) -> GroupId {
    GroupId(s(v))
}

/// One request frame without its length prefix: header then body.
fn frame<R: Encodable>(key: ApiKey, version: i16, body: &R) -> Bytes {
    let mut buf = BytesMut::new();
    RequestHeader::default()
        .with_request_api_key(key as i16)
        .with_request_api_version(version)
        .with_correlation_id(7)
        .with_client_id(Some(s("fuzz-seed")))
        .encode(&mut buf, key.request_header_version(version))
        .expect("encode header");
    body.encode(&mut buf, version)
        .unwrap_or_else(|e| panic!("encode {key:?} v{version}: {e}"));
    buf.freeze()
}

/// A record batch of `n` keyed records with a header each.
fn batch(n: i64, compression: Compression) -> Bytes {
    let records: Vec<Record> = (0..n)
        .map(|i| Record {
            transactional: false,
            control: false,
            delete_horizon: false,
            partition_leader_epoch: 0,
            producer_id: -1,
            producer_epoch: -1,
            sequence: -1,
            timestamp_type: TimestampType::Creation,
            offset: i,
            timestamp: 1_700_000_000_000 + i,
            key: Some(Bytes::from(format!("key-{i}"))),
            value: Some(Bytes::from(format!("value-{i}"))),
            headers: [(s("h"), Some(Bytes::from_static(b"v")))]
                .into_iter()
                .collect(),
        })
        .collect();
    let mut buf = BytesMut::new();
    RecordBatchEncoder::encode(
        &mut buf,
        &records,
        &RecordEncodeOptions {
            version: 2,
            compression,
        },
    )
    .expect("encode batch");
    buf.freeze()
}

fn produce(version: i16) -> Bytes {
    let req = ProduceRequest::default()
        .with_acks(1)
        .with_timeout_ms(1000)
        .with_topic_data(vec![produce_request::TopicProduceData::default()
            .with_name(topic("fuzz"))
            .with_partition_data(vec![
                produce_request::PartitionProduceData::default()
                    .with_index(0)
                    .with_records(Some(batch(3, Compression::None))),
            ])]);
    frame(ApiKey::Produce, version, &req)
}

fn fetch(version: i16) -> Bytes {
    let req = FetchRequest::default()
        .with_replica_id(BrokerId(-1))
        .with_max_wait_ms(0)
        .with_min_bytes(1)
        .with_max_bytes(1 << 20)
        .with_topics(vec![fetch_request::FetchTopic::default()
            .with_topic(topic("fuzz"))
            .with_partitions(vec![fetch_request::FetchPartition::default()
                .with_partition(0)
                .with_fetch_offset(0)
                .with_partition_max_bytes(1 << 20)])]);
    frame(ApiKey::Fetch, version, &req)
}

fn offset_commit(version: i16) -> Bytes {
    let req = OffsetCommitRequest::default()
        .with_group_id(group("fuzz-group"))
        .with_generation_id_or_member_epoch(-1)
        .with_member_id(s(""))
        .with_topics(vec![
            offset_commit_request::OffsetCommitRequestTopic::default()
                .with_name(topic("fuzz"))
                .with_partitions(vec![
                    offset_commit_request::OffsetCommitRequestPartition::default()
                        .with_partition_index(0)
                        .with_committed_offset(1)
                        .with_committed_metadata(Some(s("m"))),
                ]),
        ]);
    frame(ApiKey::OffsetCommit, version, &req)
}

fn join_group(version: i16) -> Bytes {
    let req = JoinGroupRequest::default()
        .with_group_id(group("fuzz-group"))
        .with_session_timeout_ms(10_000)
        .with_rebalance_timeout_ms(10_000)
        .with_member_id(s(""))
        .with_protocol_type(s("consumer"))
        .with_protocols(vec![join_group_request::JoinGroupRequestProtocol::default(
        )
        .with_name(s("range"))
        .with_metadata(Bytes::from_static(&[
            0, 1, 0, 0, 0, 1, 0, 4, b'f', b'u', b'z', b'z', 0, 0, 0, 0,
        ]))]);
    frame(ApiKey::JoinGroup, version, &req)
}

fn create_topics(version: i16) -> Bytes {
    let req = CreateTopicsRequest::default()
        .with_timeout_ms(1000)
        .with_topics(vec![create_topics_request::CreatableTopic::default()
            .with_name(topic("fuzz"))
            .with_num_partitions(2)
            .with_replication_factor(1)
            .with_configs(vec![
                create_topics_request::CreatableTopicConfig::default()
                    .with_name(s("cleanup.policy"))
                    .with_value(Some(s("delete"))),
            ])]);
    frame(ApiKey::CreateTopics, version, &req)
}

fn metadata(version: i16) -> Bytes {
    let req = MetadataRequest::default()
        .with_topics(Some(vec![metadata_request::MetadataRequestTopic::default(
        )
        .with_name(Some(topic("fuzz")))]))
        .with_allow_auto_topic_creation(true);
    frame(ApiKey::Metadata, version, &req)
}

/// Valid frames for every API the broker serves, at old (non-flexible) and new (flexible) versions.
/// CreateTopics comes first so the rest find topic `fuzz`.
pub fn valid_frames() -> Vec<(String, Bytes)> {
    let mut v: Vec<(String, Bytes)> = Vec::new();
    let mut add = |name: &str, f: Bytes| v.push((name.to_string(), f));
    add("create_topics-v2", create_topics(2));
    add("create_topics-v5", create_topics(5));
    add(
        "api_versions-v0",
        frame(ApiKey::ApiVersions, 0, &ApiVersionsRequest::default()),
    );
    add(
        "api_versions-v3",
        frame(
            ApiKey::ApiVersions,
            3,
            &ApiVersionsRequest::default()
                .with_client_software_name(s("fuzz"))
                .with_client_software_version(s("1")),
        ),
    );
    for ver in [1, 4, 9, 12] {
        add(&format!("metadata-v{ver}"), metadata(ver));
    }
    for ver in [3, 9] {
        add(&format!("produce-v{ver}"), produce(ver));
    }
    for ver in [4, 11, 12] {
        add(&format!("fetch-v{ver}"), fetch(ver));
    }
    for ver in [1, 7] {
        let req = ListOffsetsRequest::default()
            .with_replica_id(BrokerId(-1))
            .with_topics(vec![list_offsets_request::ListOffsetsTopic::default()
                .with_name(topic("fuzz"))
                .with_partitions(vec![
                    list_offsets_request::ListOffsetsPartition::default()
                        .with_partition_index(0)
                        .with_timestamp(0),
                ])]);
        add(
            &format!("list_offsets-v{ver}"),
            frame(ApiKey::ListOffsets, ver, &req),
        );
    }
    for ver in [2, 8] {
        add(&format!("offset_commit-v{ver}"), offset_commit(ver));
    }
    for ver in [1, 6] {
        add(&format!("join_group-v{ver}"), join_group(ver));
    }
    let sync = SyncGroupRequest::default()
        .with_group_id(group("fuzz-group"))
        .with_generation_id(1)
        .with_member_id(s("m-1"))
        .with_assignments(vec![
            sync_group_request::SyncGroupRequestAssignment::default()
                .with_member_id(s("m-1"))
                .with_assignment(Bytes::from_static(&[0, 1, 0, 0, 0, 0])),
        ]);
    add("sync_group-v3", frame(ApiKey::SyncGroup, 3, &sync));
    let hb = HeartbeatRequest::default()
        .with_group_id(group("fuzz-group"))
        .with_generation_id(1)
        .with_member_id(s("m-1"));
    add("heartbeat-v3", frame(ApiKey::Heartbeat, 3, &hb));
    let leave = LeaveGroupRequest::default()
        .with_group_id(group("fuzz-group"))
        .with_members(vec![
            leave_group_request::MemberIdentity::default().with_member_id(s("m-1"))
        ]);
    add("leave_group-v3", frame(ApiKey::LeaveGroup, 3, &leave));
    for ver in [1, 8] {
        let req = if ver < 8 {
            OffsetFetchRequest::default()
                .with_group_id(group("fuzz-group"))
                .with_topics(Some(vec![
                    offset_fetch_request::OffsetFetchRequestTopic::default()
                        .with_name(topic("fuzz"))
                        .with_partition_indexes(vec![0]),
                ]))
        } else {
            OffsetFetchRequest::default().with_groups(vec![
                offset_fetch_request::OffsetFetchRequestGroup::default()
                    .with_group_id(group("fuzz-group"))
                    .with_topics(Some(vec![
                        offset_fetch_request::OffsetFetchRequestTopics::default()
                            .with_name(topic("fuzz"))
                            .with_partition_indexes(vec![0]),
                    ])),
            ])
        };
        add(
            &format!("offset_fetch-v{ver}"),
            frame(ApiKey::OffsetFetch, ver, &req),
        );
    }
    add(
        "list_groups-v3",
        frame(ApiKey::ListGroups, 3, &ListGroupsRequest::default()),
    );
    add(
        "describe_groups-v3",
        frame(
            ApiKey::DescribeGroups,
            3,
            &DescribeGroupsRequest::default().with_groups(vec![group("fuzz-group")]),
        ),
    );
    for ver in [1, 4] {
        let req = if ver < 4 {
            FindCoordinatorRequest::default().with_key(s("fuzz-group"))
        } else {
            FindCoordinatorRequest::default().with_coordinator_keys(vec![s("fuzz-group")])
        };
        add(
            &format!("find_coordinator-v{ver}"),
            frame(ApiKey::FindCoordinator, ver, &req),
        );
    }
    let describe = DescribeConfigsRequest::default().with_resources(vec![
        describe_configs_request::DescribeConfigsResource::default()
            .with_resource_type(2)
            .with_resource_name(s("fuzz"))
            .with_configuration_keys(None),
    ]);
    add(
        "describe_configs-v1",
        frame(ApiKey::DescribeConfigs, 1, &describe),
    );
    let alter = AlterConfigsRequest::default().with_resources(vec![
        alter_configs_request::AlterConfigsResource::default()
            .with_resource_type(2)
            .with_resource_name(s("fuzz"))
            .with_configs(vec![alter_configs_request::AlterableConfig::default()
                .with_name(s("retention.ms"))
                .with_value(Some(s("86400000")))]),
    ]);
    add("alter_configs-v1", frame(ApiKey::AlterConfigs, 1, &alter));
    let incr = IncrementalAlterConfigsRequest::default().with_resources(vec![
        incremental_alter_configs_request::AlterConfigsResource::default()
            .with_resource_type(2)
            .with_resource_name(s("fuzz"))
            .with_configs(vec![
                incremental_alter_configs_request::AlterableConfig::default()
                    .with_name(s("cleanup.policy"))
                    .with_config_operation(2)
                    .with_value(Some(s("compact"))),
            ]),
    ]);
    add(
        "incremental_alter_configs-v1",
        frame(ApiKey::IncrementalAlterConfigs, 1, &incr),
    );
    let cp = CreatePartitionsRequest::default()
        .with_timeout_ms(1000)
        .with_topics(vec![
            create_partitions_request::CreatePartitionsTopic::default()
                .with_name(topic("fuzz"))
                .with_count(3),
        ]);
    add(
        "create_partitions-v1",
        frame(ApiKey::CreatePartitions, 1, &cp),
    );
    let dr = DeleteRecordsRequest::default()
        .with_timeout_ms(1000)
        .with_topics(vec![delete_records_request::DeleteRecordsTopic::default()
            .with_name(topic("fuzz"))
            .with_partitions(vec![
                delete_records_request::DeleteRecordsPartition::default()
                    .with_partition_index(0)
                    .with_offset(1),
            ])]);
    add("delete_records-v1", frame(ApiKey::DeleteRecords, 1, &dr));
    add(
        "describe_cluster-v0",
        frame(
            ApiKey::DescribeCluster,
            0,
            &DescribeClusterRequest::default(),
        ),
    );
    let od = OffsetDeleteRequest::default()
        .with_group_id(group("fuzz-group"))
        .with_topics(vec![
            offset_delete_request::OffsetDeleteRequestTopic::default()
                .with_name(topic("fuzz"))
                .with_partitions(vec![
                    offset_delete_request::OffsetDeleteRequestPartition::default()
                        .with_partition_index(0),
                ]),
        ]);
    add("offset_delete-v0", frame(ApiKey::OffsetDelete, 0, &od));
    add(
        "delete_groups-v1",
        frame(
            ApiKey::DeleteGroups,
            1,
            &DeleteGroupsRequest::default().with_groups_names(vec![group("fuzz-group")]),
        ),
    );
    for ver in [1, 4] {
        let req = DeleteTopicsRequest::default()
            .with_timeout_ms(1000)
            .with_topic_names(vec![topic("fuzz-doomed")]);
        add(
            &format!("delete_topics-v{ver}"),
            frame(ApiKey::DeleteTopics, ver, &req),
        );
    }
    v
}

/// Batch seeds for the `batch_validation` target: its flag byte (0: bytes as given), then batches.
fn valid_batches() -> Vec<(String, Bytes)> {
    let mut v = Vec::new();
    for (name, c) in [
        ("none", Compression::None),
        ("gzip", Compression::Gzip),
        ("snappy", Compression::Snappy),
        ("lz4", Compression::Lz4),
        ("zstd", Compression::Zstd),
    ] {
        let mut b = BytesMut::new();
        b.put_u8(0);
        b.put_slice(&batch(4, c));
        v.push((format!("batch-{name}"), b.freeze()));
    }
    let mut two = BytesMut::new();
    two.put_u8(0);
    two.put_slice(&batch(1, Compression::None));
    two.put_slice(&batch(2, Compression::None));
    v.push(("batch-two-batches".to_string(), two.freeze()));
    v
}

fn corpus_dir(target: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz/corpus")
        .join(target)
}

/// The broker the fuzz-style tests share: state carries over between their inputs.
fn broker() -> &'static FuzzBroker {
    static BROKER: OnceLock<FuzzBroker> = OnceLock::new();
    BROKER.get_or_init(start_broker)
}

fn start_broker() -> FuzzBroker {
    FuzzBroker::start(&[("group.initial.rebalance.delay.ms", "0")])
        .unwrap_or_else(|e| panic!("fuzz broker did not start: {e}"))
}

/// The broker's answer to one frame must be a clean outcome; a response must be a whole frame.
fn check(name: &str, input: &[u8]) {
    match broker().run_frame(input) {
        FrameOutcome::Responded(bytes) => {
            assert!(
                bytes.len() >= 8,
                "{name}: response of {} bytes",
                bytes.len()
            );
            let len = i32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
            assert_eq!(
                len as usize,
                bytes.len() - 4,
                "{name}: response length prefix"
            );
            assert_eq!(&bytes[4..8], &input[4..8], "{name}: correlation id echoed");
        }
        FrameOutcome::NoResponse
        | FrameOutcome::Closed(_)
        | FrameOutcome::FrameRefused(_)
        | FrameOutcome::StillWaiting => {}
    }
}

#[test]
fn valid_frames_are_answered() {
    // A broker of its own: the mutation tests running beside this one may legitimately ask the
    // shared broker for thousands of partitions, and topic changes queue behind such a request.
    let broker = start_broker();
    for (name, f) in valid_frames() {
        // Requests that touch the disk (CreateTopics syncs directories) get a deadline a loaded
        // machine meets; a join may legitimately wait for its group, so it keeps the short one.
        let wait = if name.starts_with("join_group") {
            FuzzBroker::WAIT_LIMIT
        } else {
            Duration::from_secs(30)
        };
        match broker.run_frame_within(&f, wait) {
            FrameOutcome::Responded(_) => {}
            // A join waits for the group's other members, which other tests here may have left behind.
            FrameOutcome::StillWaiting if name.starts_with("join_group") => {}
            other => panic!("{name}: a valid request got {other:?}"),
        }
    }
}

#[test]
fn committed_corpus_replays_cleanly() {
    let dir = corpus_dir("request_path");
    let mut entries: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file())
        .collect();
    entries.sort();
    assert!(
        entries.len() >= 20,
        "the seed corpus is missing from {}",
        dir.display()
    );
    for path in entries {
        let input = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        if input.len() >= 8 {
            check(&path.display().to_string(), &input);
        } else {
            let _ = broker().run_frame(&input);
        }
    }
}

/// Lying counts as they appear on the wire: i32 counts/lengths and unsigned varints.
const LIES_I32: [i32; 4] = [i32::MAX, i32::MIN, 0x7fff_fff0, -2];
const LIES_VARINT: [&[u8]; 3] = [
    &[0xff, 0xff, 0xff, 0xff, 0x0f],
    &[0xfe, 0xff, 0xff, 0xff, 0x07],
    &[0x80, 0x80, 0x80, 0x80, 0x08],
];

#[derive(Debug, Clone)]
enum Mutation {
    Byte(usize, u8),
    LieI32(usize, usize),
    LieVarint(usize, usize),
    Truncate(usize),
}

fn apply(frame: &[u8], mutations: &[Mutation]) -> Vec<u8> {
    let mut f = frame.to_vec();
    for m in mutations {
        // Mutations land after the api key and version so they reach the decoders of that API.
        let at = |i: usize, len: usize| 4 + i % len.saturating_sub(4).max(1);
        match *m {
            Mutation::Byte(i, b) => {
                let i = at(i, f.len());
                if i < f.len() {
                    f[i] = b;
                }
            }
            Mutation::LieI32(i, which) => {
                let i = at(i, f.len());
                let lie = LIES_I32[which % LIES_I32.len()].to_be_bytes();
                for (k, b) in lie.iter().enumerate() {
                    if let Some(x) = f.get_mut(i + k) {
                        *x = *b;
                    }
                }
            }
            Mutation::LieVarint(i, which) => {
                let i = at(i, f.len()).min(f.len());
                let lie = LIES_VARINT[which % LIES_VARINT.len()];
                f.splice(i..(i + 1).min(f.len()), lie.iter().copied());
            }
            Mutation::Truncate(i) => {
                let i = at(i, f.len());
                f.truncate(i.max(8));
            }
        }
    }
    f
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Mutation::Byte(i, b)),
        (any::<usize>(), any::<usize>()).prop_map(|(i, w)| Mutation::LieI32(i, w)),
        (any::<usize>(), any::<usize>()).prop_map(|(i, w)| Mutation::LieVarint(i, w)),
        any::<usize>().prop_map(Mutation::Truncate),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1024, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn mutated_valid_frames_never_crash(
        which in any::<usize>(),
        mutations in proptest::collection::vec(mutation(), 1..4),
    ) {
        let frames = valid_frames();
        let (name, f) = &frames[which % frames.len()];
        let input = apply(f, &mutations);
        check(&format!("{name} {mutations:?}"), &input);
    }
}

/// Rewrites the committed seed corpus from the builders above (run by hand after changing them).
#[test]
#[ignore = "a tool, not a check: rewrites the committed seed corpus when run by hand"]
fn write_seed_corpus() {
    for (target, seeds) in [
        ("request_path", valid_frames()),
        ("batch_validation", valid_batches()),
    ] {
        let dir = corpus_dir(target);
        std::fs::create_dir_all(&dir).expect("create corpus dir");
        for (name, bytes) in seeds {
            std::fs::write(dir.join(format!("seed-{name}")), &bytes).expect("write seed");
        }
    }
}
