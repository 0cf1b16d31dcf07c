//! The partition side of transactions against the real binary, over the raw protocol: transactional
//! batches open a transaction that holds read_committed fetches and ListOffsets back at the last
//! stable offset (also after a kill -9), DescribeProducers shows it, and commit/abort markers (written
//! through weft-log's marker API while the broker is stopped, since the coordinator's EndTxn is
//! another branch's) are served on the wire: read_committed sees everything below the new LSO and the
//! aborted transaction in `aborted_transactions`.

mod common;
mod wire;

use bytes::{Bytes, BytesMut};
use common::{weft_cmd, Weft};
use kafka_protocol::messages::describe_producers_request::TopicRequest;
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::{
    ApiKey, BrokerId, DescribeProducersRequest, DescribeProducersResponse, FetchRequest,
    FetchResponse, InitProducerIdRequest, InitProducerIdResponse, ListOffsetsRequest,
    ListOffsetsResponse, ProduceRequest, ProduceResponse, ProducerId, TopicName,
};
use kafka_protocol::records::{
    Compression, Record, RecordBatchDecoder, RecordBatchEncoder, RecordEncodeOptions, TimestampType,
};
use weft_log::{Log, LogConfig, TxnMarker};
use wire::{s, Conn};

const INVALID_TXN_STATE: i16 = 48;
const INVALID_RECORD: i16 = 87;

fn create_topic(w: &Weft, topic: &str) {
    let (ok, out, err) = weft_cmd(
        &[
            "topics",
            "create",
            topic,
            "--partitions",
            "1",
            "-b",
            &w.bootstrap(),
        ],
        None,
    );
    assert!(ok, "create {topic}: {out}{err}");
}

fn producer_id(conn: &mut Conn) -> i64 {
    let req = InitProducerIdRequest::default()
        .with_transaction_timeout_ms(60_000)
        .with_producer_id(ProducerId(-1))
        .with_producer_epoch(-1);
    let resp: InitProducerIdResponse = conn.call(ApiKey::InitProducerId, 4, &req);
    assert_eq!(resp.error_code, 0);
    resp.producer_id.0
}

/// A batch of `n` records; `pid` -1 for a plain producer.
fn batch(pid: i64, seq: i32, n: i32, transactional: bool) -> Bytes {
    let records: Vec<Record> = (0..n)
        .map(|i| Record {
            transactional,
            control: false,
            delete_horizon: false,
            partition_leader_epoch: -1,
            producer_id: pid,
            producer_epoch: if pid < 0 { -1 } else { 0 },
            timestamp_type: TimestampType::Creation,
            offset: i64::from(i),
            sequence: if pid < 0 { -1 } else { seq + i },
            timestamp: 1_700_000_000_000 + i64::from(i),
            key: Some(Bytes::from(format!("k{i}"))),
            value: Some(Bytes::from(format!("v{i}"))),
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

/// What a Fetch v12 of partition 0 from `offset` answered.
struct Fetched {
    high_watermark: i64,
    last_stable_offset: i64,
    aborted: Option<Vec<(i64, i64)>>,
    /// (base offset, last offset, control) per batch.
    batches: Vec<(i64, i64, bool)>,
    /// Offsets of the data records returned.
    records: Vec<i64>,
}

fn fetch(conn: &mut Conn, topic: &str, offset: i64, isolation: i8, max_wait_ms: i32) -> Fetched {
    let req = FetchRequest::default()
        .with_replica_id(BrokerId(-1))
        .with_max_wait_ms(max_wait_ms)
        .with_min_bytes(1)
        .with_max_bytes(1 << 20)
        .with_isolation_level(isolation)
        .with_session_epoch(-1)
        .with_topics(vec![FetchTopic::default()
            .with_topic(TopicName(s(topic)))
            .with_partitions(vec![FetchPartition::default()
                .with_partition(0)
                .with_fetch_offset(offset)
                .with_partition_max_bytes(1 << 20)])]);
    let resp: FetchResponse = conn.call(ApiKey::Fetch, 12, &req);
    let p = &resp.responses[0].partitions[0];
    assert_eq!(p.error_code, 0, "fetch error");
    let raw = p.records.clone().unwrap_or_default();
    let batches = weft_log::batch::batches(&raw)
        .map(|b| {
            let (h, _) = b.expect("fetched batch header");
            (h.base_offset, h.last_offset(), h.is_control())
        })
        .collect();
    let mut records = Vec::new();
    let mut bytes = raw.clone();
    while !bytes.is_empty() {
        let set = RecordBatchDecoder::decode(&mut bytes).expect("decode fetched batches");
        records.extend(set.records.iter().filter(|r| !r.control).map(|r| r.offset));
    }
    Fetched {
        high_watermark: p.high_watermark,
        last_stable_offset: p.last_stable_offset,
        aborted: p.aborted_transactions.as_ref().map(|a| {
            a.iter()
                .map(|t| (t.producer_id.0, t.first_offset))
                .collect()
        }),
        batches,
        records,
    }
}

fn list_offset(conn: &mut Conn, topic: &str, timestamp: i64, isolation: i8) -> i64 {
    let req = ListOffsetsRequest::default()
        .with_replica_id(BrokerId(-1))
        .with_isolation_level(isolation)
        .with_topics(vec![ListOffsetsTopic::default()
            .with_name(TopicName(s(topic)))
            .with_partitions(vec![ListOffsetsPartition::default()
                .with_partition_index(0)
                .with_timestamp(timestamp)])]);
    let resp: ListOffsetsResponse = conn.call(ApiKey::ListOffsets, 7, &req);
    let p = &resp.topics[0].partitions[0];
    assert_eq!(p.error_code, 0);
    p.offset
}

/// DescribeProducers of partition 0: (producer id, epoch, last sequence, coordinator epoch,
/// current transaction start offset) per producer.
fn describe_producers(conn: &mut Conn, topic: &str) -> Vec<(i64, i32, i32, i32, i64)> {
    let req = DescribeProducersRequest::default().with_topics(vec![TopicRequest::default()
        .with_name(TopicName(s(topic)))
        .with_partition_indexes(vec![0])]);
    let resp: DescribeProducersResponse = conn.call(ApiKey::DescribeProducers, 0, &req);
    let p = &resp.topics[0].partitions[0];
    assert_eq!(p.error_code, 0);
    let mut out: Vec<_> = p
        .active_producers
        .iter()
        .map(|a| {
            (
                a.producer_id.0,
                a.producer_epoch,
                a.last_sequence,
                a.coordinator_epoch,
                a.current_txn_start_offset,
            )
        })
        .collect();
    out.sort();
    out
}

#[test]
fn an_open_transaction_holds_read_committed_at_the_lso_across_a_kill9() {
    let mut w = Weft::start(&[]);
    create_topic(&w, "tx");
    let mut conn = Conn::open(&w.bootstrap());
    let pid = producer_id(&mut conn);
    assert_eq!(produce(&mut conn, "tx", batch(-1, -1, 2, false)), (0, 0));
    assert_eq!(produce(&mut conn, "tx", batch(pid, 0, 3, true)), (0, 2));
    assert_eq!(produce(&mut conn, "tx", batch(-1, -1, 1, false)), (0, 5));

    let check = |conn: &mut Conn| {
        let all = fetch(conn, "tx", 0, 0, 0);
        assert_eq!((all.high_watermark, all.last_stable_offset), (6, 2));
        assert_eq!(all.records, (0..6).collect::<Vec<_>>());
        assert_eq!(all.aborted, None, "read_uncommitted gets no aborted list");
        let committed = fetch(conn, "tx", 0, 1, 0);
        assert_eq!(
            committed.records,
            vec![0, 1],
            "stops at the open transaction"
        );
        assert_eq!(
            (committed.high_watermark, committed.last_stable_offset),
            (6, 2)
        );
        assert_eq!(committed.aborted, Some(vec![]));
        // At the LSO a read_committed fetch waits and gets nothing (the long poll ends at max wait).
        let held = fetch(conn, "tx", 2, 1, 200);
        assert!(held.records.is_empty() && held.batches.is_empty());
        assert_eq!(
            list_offset(conn, "tx", -1, 1),
            2,
            "latest under read_committed"
        );
        assert_eq!(list_offset(conn, "tx", -1, 0), 6);
        // A timestamp lookup answers only offsets below the LSO under read_committed.
        assert_eq!(list_offset(conn, "tx", 1_700_000_000_001, 0), 1);
        assert_eq!(list_offset(conn, "tx", 1_700_000_000_001, 1), 1);
        assert_eq!(list_offset(conn, "tx", 1_700_000_000_002, 0), 4);
        assert_eq!(list_offset(conn, "tx", 1_700_000_000_002, 1), -1);
        assert_eq!(describe_producers(conn, "tx"), vec![(pid, 0, 2, -1, 2)]);
    };
    check(&mut conn);
    // Inside its open transaction the producer may not write a plain batch; a transactional batch
    // needs a producer id.
    assert_eq!(
        produce(&mut conn, "tx", batch(pid, 3, 1, false)).0,
        INVALID_TXN_STATE
    );
    assert_eq!(
        produce(&mut conn, "tx", batch(-1, -1, 1, true)).0,
        INVALID_RECORD
    );

    w.kill9();
    w.restart();
    let mut conn = Conn::open(&w.bootstrap());
    check(&mut conn);
}

#[test]
fn markers_are_served_to_read_committed_fetchers_with_the_aborted_list() {
    let mut w = Weft::start(&[]);
    create_topic(&w, "mk");
    let mut conn = Conn::open(&w.bootstrap());
    let (p1, p2) = (producer_id(&mut conn), producer_id(&mut conn));
    assert_eq!(produce(&mut conn, "mk", batch(p1, 0, 2, true)), (0, 0));
    assert_eq!(produce(&mut conn, "mk", batch(p2, 0, 2, true)), (0, 2));
    assert_eq!(produce(&mut conn, "mk", batch(-1, -1, 1, false)), (0, 4));
    drop(conn);
    // The coordinator's path, through the log API, while the broker is down (its log is closed).
    w.stop();
    let dir = w.data.join("mk-0");
    let mut log = Log::open(&dir, LogConfig::default())
        .expect("open partition")
        .0;
    let m = |pid, commit| TxnMarker {
        producer_id: pid,
        producer_epoch: 0,
        coordinator_epoch: 3,
        commit,
    };
    assert_eq!(log.append_txn_marker(m(p1, true)).unwrap(), 5);
    assert_eq!(log.append_txn_marker(m(p2, false)).unwrap(), 6);
    log.close().expect("close partition");
    w.restart();

    let mut conn = Conn::open(&w.bootstrap());
    let committed = fetch(&mut conn, "mk", 0, 1, 0);
    assert_eq!(
        (committed.high_watermark, committed.last_stable_offset),
        (7, 7)
    );
    // The records are from 2023, so the markers (stamped now) rolled a new segment: one fetch returns
    // the data segment, the next the markers.
    assert_eq!(
        committed.batches,
        vec![(0, 1, false), (2, 3, false), (4, 4, false)]
    );
    assert_eq!(committed.aborted, Some(vec![(p2, 2)]));
    let markers = fetch(&mut conn, "mk", 5, 1, 0);
    assert_eq!(markers.batches, vec![(5, 5, true), (6, 6, true)]);
    assert_eq!(
        markers.aborted,
        Some(vec![(p2, 2)]),
        "its marker is in this range"
    );
    assert_eq!(markers.records, Vec::<i64>::new());
    assert_eq!(list_offset(&mut conn, "mk", -1, 1), 7);
    assert_eq!(
        describe_producers(&mut conn, "mk"),
        vec![(p1, 0, 1, 3, -1), (p2, 0, 1, 3, -1)]
    );
    // The producer's next transaction opens at the log end.
    assert_eq!(produce(&mut conn, "mk", batch(p1, 2, 1, true)), (0, 7));
    let next = fetch(&mut conn, "mk", 0, 1, 0);
    assert_eq!((next.high_watermark, next.last_stable_offset), (8, 7));
    assert_eq!(describe_producers(&mut conn, "mk")[0], (p1, 0, 2, 3, 7));
}
