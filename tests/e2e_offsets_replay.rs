//! The `__consumer_offsets` replay at start-up against the real `weft` binary: a batch header that
//! cannot be read inside a sealed segment (one recovery does not rescan after a clean shutdown, since
//! its index covers it) stops start-up with an error naming the partition, offset, file and reason,
//! and truncates nothing, instead of silently dropping every commit after it.

mod common;
mod wire;

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{weft_bin, Weft};
use kafka_protocol::messages::create_topics_request::CreatableTopic;
use kafka_protocol::messages::incremental_alter_configs_request::{
    AlterConfigsResource, AlterableConfig,
};
use kafka_protocol::messages::offset_commit_request::{
    OffsetCommitRequestPartition, OffsetCommitRequestTopic,
};
use kafka_protocol::messages::{
    ApiKey, CreateTopicsRequest, CreateTopicsResponse, GroupId, IncrementalAlterConfigsRequest,
    IncrementalAlterConfigsResponse, OffsetCommitRequest, OffsetCommitResponse, TopicName,
};
use wire::{s, Conn};

const OFFSETS_DIR: &str = "__consumer_offsets-0";

fn commit(conn: &mut Conn, group: &str, offset: i64) {
    let req = OffsetCommitRequest::default()
        .with_group_id(GroupId(s(group)))
        .with_generation_id_or_member_epoch(-1)
        .with_member_id(s(""))
        .with_retention_time_ms(-1)
        .with_topics(vec![OffsetCommitRequestTopic::default()
            .with_name(TopicName(s("t")))
            .with_partitions(vec![OffsetCommitRequestPartition::default()
                .with_partition_index(0)
                .with_committed_offset(offset)
                // Large commits, so a few fill a segment.
                .with_committed_metadata(Some(s(&"m".repeat(200))))])]);
    let resp: OffsetCommitResponse = conn.call(ApiKey::OffsetCommit, 2, &req);
    let code = resp.topics[0].partitions[0].error_code;
    assert_eq!(code, 0, "commit of {group}");
}

#[test]
fn an_unreadable_batch_header_in_a_sealed_offsets_segment_stops_start_up() {
    let mut w = Weft::start(&["offsets.topic.num.partitions=1"]);
    let mut conn = Conn::open(&w.bootstrap());
    let create: CreateTopicsResponse = conn.call(
        ApiKey::CreateTopics,
        5,
        &CreateTopicsRequest::default()
            .with_timeout_ms(10_000)
            .with_topics(vec![CreatableTopic::default()
                .with_name(TopicName(s("t")))
                .with_num_partitions(1)
                .with_replication_factor(1)]),
    );
    assert_eq!(create.topics[0].error_code, 0);
    commit(&mut conn, "g-0", 0);
    // Small segments, and an index entry for every batch, so the sealed segments are covered by
    // their indexes and a clean start does not walk them.
    let alter: IncrementalAlterConfigsResponse = conn.call(
        ApiKey::IncrementalAlterConfigs,
        0,
        &IncrementalAlterConfigsRequest::default().with_resources(vec![
            AlterConfigsResource::default()
                .with_resource_type(2)
                .with_resource_name(s("__consumer_offsets"))
                .with_configs(vec![
                    AlterableConfig::default()
                        .with_name(s("segment.bytes"))
                        .with_config_operation(0)
                        .with_value(Some(s("1024"))),
                    AlterableConfig::default()
                        .with_name(s("index.interval.bytes"))
                        .with_config_operation(0)
                        .with_value(Some(s("1"))),
                ]),
        ]),
    );
    assert_eq!(
        alter.responses[0].error_code, 0,
        "{:?}",
        alter.responses[0].error_message
    );
    // One group per commit: distinct keys, so compaction has nothing to remove.
    for i in 1..30 {
        commit(&mut conn, &format!("g-{i}"), i);
    }
    w.stop();

    let dir = w.data.join(OFFSETS_DIR);
    let mut logs: Vec<_> = std::fs::read_dir(&dir)
        .expect("offsets partition directory")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "log"))
        .collect();
    logs.sort();
    assert!(logs.len() >= 3, "expected sealed segments, got {logs:?}");
    // The magic byte of the first batch of the second (sealed, indexed) segment.
    let sealed = &logs[1];
    let mut bytes = std::fs::read(sealed).expect("read segment");
    assert_eq!(bytes[16], 2, "magic of the first batch");
    bytes[16] = 7;
    std::fs::write(sealed, &bytes).expect("corrupt segment");
    let base: i64 = sealed
        .file_stem()
        .and_then(|s| s.to_str())
        .and_then(|s| s.parse().ok())
        .expect("segment base offset");

    let mut child = Command::new(weft_bin())
        .arg("up")
        .arg("--listeners")
        .arg("PLAINTEXT://127.0.0.1:0")
        .arg("--log-dirs")
        .arg(&w.data)
        .arg("--override")
        .arg("offsets.topic.num.partitions=1")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn weft");
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for weft") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("weft started (or hung) with an unreadable offsets batch header");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .expect("stderr")
        .read_to_string(&mut stderr)
        .expect("read stderr");
    assert!(!status.success(), "start-up must fail; stderr:\n{stderr}");
    // The replay's read parses every batch header it returns, so the corrupt one is reported there
    // (ReplayError::Read), with the file, the position and the reason.
    for expected in [
        format!("cannot load committed offsets: cannot read __consumer_offsets-0 at offset {base}"),
        format!("{}: batch at position 0 is unreadable", sealed.display()),
        "unsupported record batch magic 7".to_string(),
    ] {
        assert!(
            stderr.contains(&expected),
            "expected '{expected}' in:\n{stderr}"
        );
    }
    // The cause is said once (the message carries it; it is not repeated as a "Caused by").
    assert_eq!(
        stderr.matches("unsupported record batch magic 7").count(),
        1,
        "{stderr}"
    );
    // Nothing was truncated: the corrupt segment and every later one are still there.
    assert_eq!(std::fs::read(sealed).expect("segment"), bytes);
    for later in &logs[2..] {
        assert!(later.exists(), "{} was deleted", later.display());
    }
}
