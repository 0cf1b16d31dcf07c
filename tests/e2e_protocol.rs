//! Raw Kafka wire protocol against Weft: version negotiation, unknown APIs, garbage and malformed frames, bad batches, out-of-range fetches.

mod common;

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use bytes::{BufMut, Bytes, BytesMut};
use common::requests::fetch_request;
use common::Weft;
use kafka_protocol::messages::create_topics_request::{CreatableTopic, CreatableTopicConfig};
use kafka_protocol::messages::fetch_response::PartitionData;
use kafka_protocol::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::produce_response::PartitionProduceResponse;
use kafka_protocol::messages::{
    ApiKey, ApiVersionsRequest, ApiVersionsResponse, BrokerId, CreateTopicsRequest,
    CreateTopicsResponse, FetchResponse, ListOffsetsRequest, ListOffsetsResponse, ProduceRequest,
    ProduceResponse, RequestHeader, ResponseHeader, TopicName,
};
use kafka_protocol::protocol::{Decodable, Encodable, StrBytes};
use kafka_protocol::records::{
    Compression, Record, RecordBatchDecoder, RecordBatchEncoder, RecordEncodeOptions, TimestampType,
};

/// Every socket read and write gives up after this long, so a broker that hangs fails the test.
const IO_TIMEOUT: Duration = Duration::from_secs(15);
/// How long the broker has to close a connection it should drop.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(10);

const NONE: i16 = 0;
const OFFSET_OUT_OF_RANGE: i16 = 1;
const CORRUPT_MESSAGE: i16 = 2;
const MESSAGE_TOO_LARGE: i16 = 10;
const UNSUPPORTED_VERSION: i16 = 35;

fn s(v: &str) -> StrBytes {
    StrBytes::from_string(v.to_string())
}

/// One client connection speaking Kafka framing (i32 length, header, body).
struct Conn {
    stream: TcpStream,
    next_correlation: i32,
}

impl Conn {
    fn open(w: &Weft) -> Conn {
        let stream = TcpStream::connect(w.bootstrap())
            .unwrap_or_else(|e| panic!("connect {}: {e}", w.bootstrap()));
        stream.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
        stream.set_write_timeout(Some(IO_TIMEOUT)).unwrap();
        stream.set_nodelay(true).unwrap();
        Conn {
            stream,
            next_correlation: 1,
        }
    }

    fn write_raw(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).expect("write to broker");
    }

    /// Encodes `length | header | body` for `key` at `version`; returns the frame and its correlation id.
    fn frame<R: Encodable>(&mut self, key: ApiKey, version: i16, body: &R) -> (Bytes, i32) {
        let correlation = self.next_correlation;
        self.next_correlation += 1;
        let header = RequestHeader::default()
            .with_request_api_key(key as i16)
            .with_request_api_version(version)
            .with_correlation_id(correlation)
            .with_client_id(Some(s("weft-e2e-protocol")));
        let mut buf = BytesMut::new();
        buf.put_i32(0);
        header
            .encode(&mut buf, key.request_header_version(version))
            .expect("encode request header");
        body.encode(&mut buf, version)
            .unwrap_or_else(|e| panic!("encode {key:?} v{version}: {e}"));
        let len = (buf.len() - 4) as i32;
        buf[0..4].copy_from_slice(&len.to_be_bytes());
        (buf.freeze(), correlation)
    }

    fn send<R: Encodable>(&mut self, key: ApiKey, version: i16, body: &R) -> i32 {
        let (frame, correlation) = self.frame(key, version, body);
        self.write_raw(&frame);
        correlation
    }

    /// Reads one response frame (without its length prefix); panics on EOF or timeout.
    fn read_frame(&mut self) -> Bytes {
        let mut len = [0u8; 4];
        self.stream
            .read_exact(&mut len)
            .unwrap_or_else(|e| panic!("reading a response length: {e} (broker closed or hung)"));
        let len = i32::from_be_bytes(len);
        assert!(
            (4..64 * 1024 * 1024).contains(&len),
            "implausible response length {len}"
        );
        let mut body = vec![0u8; len as usize];
        self.stream
            .read_exact(&mut body)
            .unwrap_or_else(|e| panic!("reading a {len}-byte response: {e}"));
        Bytes::from(body)
    }

    /// Reads a response, checks its correlation id, and decodes the body.
    fn recv<T: Decodable>(&mut self, key: ApiKey, version: i16, correlation: i32) -> T {
        let mut frame = self.read_frame();
        let header = ResponseHeader::decode(&mut frame, key.response_header_version(version))
            .expect("decode response header");
        assert_eq!(
            header.correlation_id, correlation,
            "{key:?} v{version}: response correlation id"
        );
        let body = T::decode(&mut frame, version)
            .unwrap_or_else(|e| panic!("decode {key:?} v{version} response: {e}"));
        assert!(
            frame.is_empty(),
            "{key:?} v{version}: {} bytes left after the response body",
            frame.len()
        );
        body
    }

    fn call<R: Encodable, T: Decodable>(&mut self, key: ApiKey, version: i16, body: &R) -> T {
        let correlation = self.send(key, version, body);
        self.recv(key, version, correlation)
    }

    /// Sends a request whose header is written by hand (for API keys/versions the codec refuses),
    /// header v1: api key, api version, correlation id, client id.
    fn send_raw_request(&mut self, api_key: i16, version: i16, body: &[u8]) -> i32 {
        let correlation = self.next_correlation;
        self.next_correlation += 1;
        let client = b"weft-e2e-protocol";
        let mut buf = BytesMut::new();
        buf.put_i32((2 + 2 + 4 + 2 + client.len() + body.len()) as i32);
        buf.put_i16(api_key);
        buf.put_i16(version);
        buf.put_i32(correlation);
        buf.put_i16(client.len() as i16);
        buf.put_slice(client);
        buf.put_slice(body);
        self.write_raw(&buf);
        correlation
    }

    /// Reads the answer to an unsupported API or version: a v0 header with our correlation id, then error 35.
    /// Returns the rest of the body.
    fn expect_unsupported(&mut self, correlation: i32, what: &str) -> Bytes {
        let mut frame = self.read_frame();
        assert!(
            frame.len() >= 6,
            "{what}: response of {} bytes is too short",
            frame.len()
        );
        let got = i32::from_be_bytes(frame[0..4].try_into().unwrap());
        assert_eq!(
            got, correlation,
            "{what}: correlation id of the error response"
        );
        let error = i16::from_be_bytes(frame[4..6].try_into().unwrap());
        assert_eq!(error, UNSUPPORTED_VERSION, "{what}: error code");
        frame.split_off(4)
    }

    /// The broker must close this connection: a read returns EOF (or a reset) within CLOSE_TIMEOUT.
    fn expect_closed(&mut self, what: &str) {
        self.stream
            .set_read_timeout(Some(Duration::from_millis(500)))
            .unwrap();
        let deadline = Instant::now() + CLOSE_TIMEOUT;
        let mut junk = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            match self.stream.read(&mut buf) {
                Ok(0) => return,
                Ok(n) => junk.extend_from_slice(&buf[..n]),
                Err(e)
                    if matches!(
                        e.kind(),
                        ErrorKind::WouldBlock | ErrorKind::TimedOut | ErrorKind::Interrupted
                    ) => {}
                Err(e)
                    if matches!(
                        e.kind(),
                        ErrorKind::ConnectionReset
                            | ErrorKind::ConnectionAborted
                            | ErrorKind::BrokenPipe
                    ) =>
                {
                    return
                }
                Err(e) => panic!("{what}: unexpected read error {e}"),
            }
            assert!(
                Instant::now() < deadline,
                "{what}: the broker did not close the connection within {CLOSE_TIMEOUT:?} (it sent {} bytes)",
                junk.len()
            );
        }
    }
}

fn api_versions(conn: &mut Conn, version: i16) -> ApiVersionsResponse {
    let req = ApiVersionsRequest::default()
        .with_client_software_name(s("weft-e2e"))
        .with_client_software_version(s("1.0.0"));
    conn.call(ApiKey::ApiVersions, version, &req)
}

/// Checks an ApiVersions answer: no error, sane ranges, and record format v2 Produce (>= 3) and Fetch (>= 4).
fn check_api_versions(resp: &ApiVersionsResponse, version: i16) -> Vec<(i16, i16, i16)> {
    assert_eq!(resp.error_code, NONE, "ApiVersions v{version} error code");
    let ranges: Vec<(i16, i16, i16)> = resp
        .api_keys
        .iter()
        .map(|k| (k.api_key, k.min_version, k.max_version))
        .collect();
    for (key, min, max) in &ranges {
        assert!(
            min <= max && *min >= 0,
            "ApiVersions v{version}: api {key} has range {min}..={max}"
        );
    }
    let range = |key: ApiKey| {
        ranges
            .iter()
            .find(|(k, _, _)| *k == key as i16)
            .map(|(_, min, max)| (*min, *max))
            .unwrap_or_else(|| panic!("ApiVersions v{version} does not list {key:?}: {ranges:?}"))
    };
    let (pmin, pmax) = range(ApiKey::Produce);
    assert!(
        pmin <= 3 && pmax >= 9,
        "Produce range {pmin}..={pmax} must cover v3 (record format v2) to v9"
    );
    let (fmin, fmax) = range(ApiKey::Fetch);
    assert!(
        fmin <= 4 && fmax >= 11,
        "Fetch range {fmin}..={fmax} must cover v4 to v11"
    );
    let (amin, amax) = range(ApiKey::ApiVersions);
    assert!(
        amin == 0 && amax >= 3,
        "ApiVersions range {amin}..={amax} must cover v0..=v3"
    );
    range(ApiKey::Metadata);
    range(ApiKey::ListOffsets);
    ranges
}

/// Creates a topic with a CreateTopics v5 request and checks the broker's answer.
fn create_topic(w: &Weft, topic: &str, partitions: i32, configs: &[(&str, &str)]) {
    let mut conn = Conn::open(w);
    let req = CreateTopicsRequest::default()
        .with_timeout_ms(30_000)
        .with_topics(vec![CreatableTopic::default()
            .with_name(TopicName(s(topic)))
            .with_num_partitions(partitions)
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
    assert_eq!(resp.topics.len(), 1, "CreateTopics {topic}: {resp:?}");
    let t = &resp.topics[0];
    assert_eq!(
        (t.name.0.as_str(), t.error_code, t.num_partitions),
        (topic, NONE, partitions),
        "CreateTopics {topic}: {t:?}\nbroker log:\n{}",
        w.log_text()
    );
}

/// A valid v2 record batch of `n` records with keys `k0..` and `value_len`-byte values.
fn batch(n: usize, value_len: usize) -> BytesMut {
    let now = 1_700_000_000_000i64;
    let records: Vec<Record> = (0..n)
        .map(|i| Record {
            transactional: false,
            control: false,
            delete_horizon: false,
            partition_leader_epoch: -1,
            producer_id: -1,
            producer_epoch: -1,
            timestamp_type: TimestampType::Creation,
            offset: i as i64,
            // kafka-protocol starts a new batch unless offset - sequence is constant; this keeps one
            // batch with base sequence -1 (no idempotence).
            sequence: i as i32 - 1,
            timestamp: now + i as i64,
            key: Some(Bytes::from(format!("k{i}"))),
            value: Some(Bytes::from(vec![b'a' + (i % 26) as u8; value_len])),
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
    .expect("encode record batch");
    let sets = RecordBatchDecoder::decode_all(&mut buf.clone().freeze()).expect("decode own batch");
    assert_eq!(
        sets.len(),
        1,
        "the encoder split {n} records into {} batches",
        sets.len()
    );
    buf
}

fn produce(
    conn: &mut Conn,
    version: i16,
    topic: &str,
    partition: i32,
    records: Bytes,
) -> PartitionProduceResponse {
    let req = ProduceRequest::default()
        .with_acks(-1)
        .with_timeout_ms(30_000)
        .with_topic_data(vec![TopicProduceData::default()
            .with_name(TopicName(s(topic)))
            .with_partition_data(vec![PartitionProduceData::default()
                .with_index(partition)
                .with_records(Some(records))])]);
    let resp: ProduceResponse = conn.call(ApiKey::Produce, version, &req);
    assert_eq!(
        resp.responses.len(),
        1,
        "Produce v{version}: topics in response"
    );
    let t = &resp.responses[0];
    assert_eq!(
        t.name.0.as_str(),
        topic,
        "Produce v{version}: topic name in response"
    );
    assert_eq!(
        t.partition_responses.len(),
        1,
        "Produce v{version}: partitions in response"
    );
    let p = t.partition_responses[0].clone();
    assert_eq!(
        p.index, partition,
        "Produce v{version}: partition index in response"
    );
    p
}

fn latest_offset(conn: &mut Conn, topic: &str, partition: i32) -> i64 {
    let version = 7;
    let req = ListOffsetsRequest::default()
        .with_replica_id(BrokerId(-1))
        .with_topics(vec![ListOffsetsTopic::default()
            .with_name(TopicName(s(topic)))
            .with_partitions(vec![ListOffsetsPartition::default()
                .with_partition_index(partition)
                .with_timestamp(-1)])]);
    let resp: ListOffsetsResponse = conn.call(ApiKey::ListOffsets, version, &req);
    let p = &resp.topics[0].partitions[0];
    assert_eq!(
        p.error_code, NONE,
        "ListOffsets latest {topic}-{partition} error"
    );
    p.offset
}

fn fetch(conn: &mut Conn, version: i16, topic: &str, partition: i32, offset: i64) -> PartitionData {
    let req = fetch_request(topic, partition, offset, 1 << 20, 100);
    let resp: FetchResponse = conn.call(ApiKey::Fetch, version, &req);
    assert_eq!(resp.error_code, NONE, "Fetch v{version}: top-level error");
    assert_eq!(
        resp.responses.len(),
        1,
        "Fetch v{version}: topics in response"
    );
    assert_eq!(
        resp.responses[0].partitions.len(),
        1,
        "Fetch v{version}: partitions in response"
    );
    resp.responses[0].partitions[0].clone()
}

/// All records of the batches in a fetch response.
fn decode_records(pd: &PartitionData) -> Vec<Record> {
    let mut bytes = pd.records.clone().unwrap_or_default();
    let sets = RecordBatchDecoder::decode_all(&mut bytes).expect("decode fetched batches");
    sets.into_iter().flat_map(|s| s.records).collect()
}

/// After abuse: the process is alive, a fresh connection negotiates, and rdkafka produces and consumes.
fn assert_broker_serves(w: &mut Weft) {
    assert!(
        w.is_running(),
        "the broker process died; its log:\n{}",
        w.log_text()
    );
    let mut conn = Conn::open(w);
    check_api_versions(&api_versions(&mut conn, 3), 3);
    rdkafka_round_trip(w, "after-bad-input", 20);
    assert!(
        w.is_running(),
        "the broker process died; its log:\n{}",
        w.log_text()
    );
}

/// A normal librdkafka producer and consumer: `n` keyed records written and read back exactly.
fn rdkafka_round_trip(w: &Weft, topic: &str, n: usize) {
    use rdkafka::config::ClientConfig;
    use rdkafka::consumer::{BaseConsumer, Consumer};
    use rdkafka::producer::{FutureProducer, FutureRecord};
    use rdkafka::{Message, Offset, TopicPartitionList};

    create_topic(w, topic, 1, &[]);
    let bootstrap = w.bootstrap();
    let producer: FutureProducer = ClientConfig::new()
        .set("bootstrap.servers", &bootstrap)
        .set("acks", "all")
        .set("message.timeout.ms", "30000")
        .create()
        .expect("create producer");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        for i in 0..n {
            let key = format!("key-{i}");
            let value = format!("value-{i}");
            let delivery = producer
                .send(
                    FutureRecord::to(topic)
                        .partition(0)
                        .key(&key)
                        .payload(&value),
                    Duration::from_secs(30),
                )
                .await
                .unwrap_or_else(|(e, _)| panic!("rdkafka delivery of record {i} failed: {e}"));
            assert_eq!(delivery.offset, i as i64, "offset of record {i}");
        }
    });

    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", &bootstrap)
        .set("group.id", "e2e-protocol-check")
        .set("enable.auto.commit", "false")
        .set("auto.offset.reset", "earliest")
        .create()
        .expect("create consumer");
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset(topic, 0, Offset::Beginning)
        .unwrap();
    consumer.assign(&tpl).expect("assign");
    let mut got = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    while got.len() < n {
        assert!(
            Instant::now() < deadline,
            "rdkafka consumer read {} of {n} records in 60 s",
            got.len()
        );
        match consumer.poll(Duration::from_millis(500)) {
            Some(Ok(m)) => got.push((
                m.offset(),
                String::from_utf8_lossy(m.key().unwrap_or_default()).to_string(),
                String::from_utf8_lossy(m.payload().unwrap_or_default()).to_string(),
            )),
            Some(Err(e)) => eprintln!("consumer error (retrying): {e}"),
            None => {}
        }
    }
    let expected: Vec<(i64, String, String)> = (0..n)
        .map(|i| (i as i64, format!("key-{i}"), format!("value-{i}")))
        .collect();
    assert_eq!(got, expected, "records read back by rdkafka");
}

#[test]
fn api_versions_v0_and_v3_advertise_produce() {
    let mut w = Weft::start(&[]);
    let mut conn = Conn::open(&w);
    let v0 = check_api_versions(&api_versions(&mut conn, 0), 0);
    let v3 = check_api_versions(&api_versions(&mut conn, 3), 3);
    assert_eq!(v0, v3, "ApiVersions v0 and v3 advertise different ranges");
    // Only what is really handled is advertised: every listed key is one kafka-protocol knows, within its range.
    for (key, min, max) in &v3 {
        let api =
            ApiKey::try_from(*key).unwrap_or_else(|_| panic!("advertised unknown api key {key}"));
        let r = api.valid_versions();
        assert!(
            *min >= r.min && *max <= r.max,
            "{api:?} advertised {min}..={max}, Kafka defines {}..={}",
            r.min,
            r.max
        );
    }
    assert!(w.is_running());
}

#[test]
fn unsupported_version_closes_the_connection_as_kafka_does() {
    let mut w = Weft::start(&[]);

    // Metadata v99: Kafka's SocketServer refuses the header (InvalidRequestException) and closes the
    // connection; there is no Metadata v99 shape to answer in.
    let mut conn = Conn::open(&w);
    conn.send_raw_request(ApiKey::Metadata as i16, 99, &[0, 0, 0, 0]);
    conn.expect_closed("Metadata v99");

    // ApiVersions v99: clients probe high first and fall back using the ranges in a v0-shaped error body;
    // the connection stays open.
    let mut conn = Conn::open(&w);
    let c = conn.send_raw_request(ApiKey::ApiVersions as i16, 99, &[]);
    let mut rest = conn.expect_unsupported(c, "ApiVersions v99");
    let fallback = ApiVersionsResponse::decode(&mut rest, 0)
        .expect("decode the v0-shaped ApiVersions error body");
    assert_eq!(fallback.error_code, UNSUPPORTED_VERSION);
    let listed = fallback
        .api_keys
        .iter()
        .find(|k| k.api_key == ApiKey::ApiVersions as i16)
        .map(|k| (k.min_version, k.max_version));
    assert!(
        matches!(listed, Some((0, max)) if max >= 3),
        "the error body must list the ApiVersions range, got {listed:?}"
    );
    check_api_versions(&api_versions(&mut conn, 0), 0);

    // Produce v2 (record format v1, below the supported minimum): closed, as Kafka 4 does.
    conn.send_raw_request(
        ApiKey::Produce as i16,
        2,
        &[0xff, 0xff, 0, 1, 0, 0, 0x75, 0x30, 0, 0, 0, 0],
    );
    conn.expect_closed("Produce v2");

    assert_broker_serves(&mut w);
}

#[test]
fn unknown_api_key_closes_the_connection_and_others_are_served() {
    let mut w = Weft::start(&[]);
    let mut bystander = Conn::open(&w);
    check_api_versions(&api_versions(&mut bystander, 3), 3);

    let mut conn = Conn::open(&w);
    conn.send_raw_request(999, 0, &[1, 2, 3, 4]);
    conn.expect_closed("api key 999");

    check_api_versions(&api_versions(&mut bystander, 3), 3);
    assert_broker_serves(&mut w);
}

#[test]
fn garbage_bytes_close_the_connection_and_broker_keeps_serving() {
    let mut w = Weft::start(&[]);
    // A client that is already connected must not be disturbed by another client's garbage.
    let mut bystander = Conn::open(&w);
    check_api_versions(&api_versions(&mut bystander, 3), 3);

    let mut http = Conn::open(&w);
    http.write_raw(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n");
    http.expect_closed("HTTP request");

    // A TLS ClientHello on the plaintext port: its first four bytes read as a 369 MB length.
    let mut tls = Conn::open(&w);
    let mut hello = vec![
        0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03,
    ];
    hello.extend(std::iter::repeat_n(0xab, 500));
    let _ = tls.stream.write_all(&hello); // the broker may close before all of it is written
    tls.expect_closed("TLS ClientHello");

    check_api_versions(&api_versions(&mut bystander, 3), 3);
    assert_broker_serves(&mut w);
}

#[test]
fn huge_or_negative_length_prefix_closes_the_connection() {
    let mut w = Weft::start(&[]);
    let mut bystander = Conn::open(&w);
    check_api_versions(&api_versions(&mut bystander, 3), 3);

    // 2 GB: the broker must refuse it up front (not try to allocate or wait for 2 GB).
    let mut big = Conn::open(&w);
    big.write_raw(&0x7fff_ffffi32.to_be_bytes());
    let _ = big.stream.write_all(&[0, 18, 0, 3, 0, 0, 0, 1]);
    big.expect_closed("2 GB length prefix");

    let mut over = Conn::open(&w);
    over.write_raw(&(100 * 1024 * 1024 + 1i32).to_be_bytes());
    over.expect_closed("length prefix just over socket.request.max.bytes");

    let mut negative = Conn::open(&w);
    negative.write_raw(&(-1i32).to_be_bytes());
    negative.expect_closed("negative length prefix");

    check_api_versions(&api_versions(&mut bystander, 3), 3);
    assert_broker_serves(&mut w);
}

#[test]
fn truncated_or_malformed_requests_close_the_connection() {
    let mut w = Weft::start(&[]);
    create_topic(&w, "malformed", 1, &[]);
    let mut bystander = Conn::open(&w);
    check_api_versions(&api_versions(&mut bystander, 3), 3);

    // A frame shorter than any request header.
    let mut short = Conn::open(&w);
    short.write_raw(&[0, 0, 0, 3, 0, 18, 0]);
    short.expect_closed("3-byte frame");

    // A frame that promises 100 bytes, delivers 10, then the client stops sending.
    let mut cut = Conn::open(&w);
    cut.write_raw(&[0, 0, 0, 100, 0, 18, 0, 3, 0, 0, 0, 9, 0, 0]);
    cut.stream.shutdown(std::net::Shutdown::Write).unwrap();
    cut.expect_closed("frame cut short by the client");

    // Metadata v4 whose topic array claims 2^31 - 1 entries but carries none: sized from the count,
    // that asks for ~150 GB and aborts the process (tests/e2e_hostile.rs covers more APIs and encodings).
    let mut lying = Conn::open(&w);
    lying.send_raw_request(ApiKey::Metadata as i16, 4, &[0x7f, 0xff, 0xff, 0xff]);
    lying.expect_closed("Metadata v4 with a lying array length");

    // A valid Produce v9 request with its tail cut off (and the frame length adjusted to match).
    let mut truncated = Conn::open(&w);
    let req = ProduceRequest::default()
        .with_acks(1)
        .with_timeout_ms(10_000)
        .with_topic_data(vec![TopicProduceData::default()
            .with_name(TopicName(s("malformed")))
            .with_partition_data(vec![PartitionProduceData::default()
                .with_index(0)
                .with_records(Some(batch(5, 50).freeze()))])]);
    let (frame, _) = truncated.frame(ApiKey::Produce, 9, &req);
    let cut_len = frame.len() - 40;
    let mut bad = BytesMut::from(&frame[..cut_len]);
    bad[0..4].copy_from_slice(&((cut_len - 4) as i32).to_be_bytes());
    truncated.write_raw(&bad);
    truncated.expect_closed("truncated Produce v9 body");

    // ApiVersions v3 with a header and no body at all (its compact strings are missing).
    let mut empty = Conn::open(&w);
    let mut hdr = BytesMut::new();
    RequestHeader::default()
        .with_request_api_key(ApiKey::ApiVersions as i16)
        .with_request_api_version(3)
        .with_correlation_id(77)
        .with_client_id(Some(s("x")))
        .encode(&mut hdr, ApiKey::ApiVersions.request_header_version(3))
        .unwrap();
    let mut f = BytesMut::new();
    f.put_i32(hdr.len() as i32);
    f.put_slice(&hdr);
    empty.write_raw(&f);
    empty.expect_closed("ApiVersions v3 without a body");

    // Nothing of the truncated produce reached the log.
    let mut conn = Conn::open(&w);
    assert_eq!(
        latest_offset(&mut conn, "malformed", 0),
        0,
        "a malformed produce appended records"
    );
    check_api_versions(&api_versions(&mut bystander, 3), 3);
    assert_broker_serves(&mut w);
}

#[test]
fn corrupt_crc_is_rejected_with_corrupt_message_and_nothing_appended() {
    let mut w = Weft::start(&[]);
    let topic = "crc";
    create_topic(&w, topic, 1, &[]);
    let mut conn = Conn::open(&w);

    // A flipped byte inside the records (covered by the CRC).
    let mut flipped = batch(3, 20);
    let last = flipped.len() - 1;
    flipped[last] ^= 0x5a;
    let p = produce(&mut conn, 9, topic, 0, flipped.freeze());
    assert_eq!(p.error_code, CORRUPT_MESSAGE, "payload byte flipped: {p:?}");

    // The stored CRC itself damaged (bytes 17..21 of the batch).
    let mut bad_crc = batch(3, 20);
    bad_crc[18] ^= 0xff;
    let p = produce(&mut conn, 3, topic, 0, bad_crc.freeze());
    assert_eq!(p.error_code, CORRUPT_MESSAGE, "CRC field damaged: {p:?}");

    // A good batch followed by a corrupt one in the same request: all or nothing.
    let mut two = batch(2, 10);
    let mut second = batch(2, 10);
    let l = second.len() - 1;
    second[l] ^= 1;
    two.extend_from_slice(&second);
    let p = produce(&mut conn, 7, topic, 0, two.freeze());
    assert_eq!(
        p.error_code, CORRUPT_MESSAGE,
        "good batch + corrupt batch: {p:?}"
    );

    assert_eq!(
        latest_offset(&mut conn, topic, 0),
        0,
        "a corrupt batch was appended"
    );
    let pd = fetch(&mut conn, 11, topic, 0, 0);
    assert_eq!(pd.error_code, NONE, "fetch from an empty partition: {pd:?}");
    assert_eq!(
        pd.high_watermark, 0,
        "high watermark after only rejected batches"
    );
    assert!(
        decode_records(&pd).is_empty(),
        "fetch returned records that were rejected"
    );

    // The partition is unharmed: the next valid batch gets offset 0 and reads back intact.
    let p = produce(&mut conn, 9, topic, 0, batch(3, 20).freeze());
    assert_eq!(
        (p.error_code, p.base_offset),
        (NONE, 0),
        "valid batch after the corrupt ones: {p:?}"
    );
    assert_eq!(latest_offset(&mut conn, topic, 0), 3);
    let records = decode_records(&fetch(&mut conn, 11, topic, 0, 0));
    let got: Vec<(i64, Option<Bytes>)> =
        records.iter().map(|r| (r.offset, r.key.clone())).collect();
    let want: Vec<(i64, Option<Bytes>)> = (0..3)
        .map(|i| (i, Some(Bytes::from(format!("k{i}")))))
        .collect();
    assert_eq!(got, want, "records read back after the valid produce");
    assert!(
        records
            .iter()
            .all(|r| r.value.as_ref().is_some_and(|v| v.len() == 20)),
        "values damaged"
    );

    assert_broker_serves(&mut w);
}

/// Produces a too-large batch (error 10, nothing appended), then a small one that is accepted at offset 0.
fn check_too_large_rejected(w: &Weft, topic: &str, big_value: usize) {
    let mut conn = Conn::open(w);
    let big = batch(1, big_value);
    let p = produce(&mut conn, 9, topic, 0, big.freeze());
    assert_eq!(
        p.error_code, MESSAGE_TOO_LARGE,
        "{big_value}-byte record: {p:?}"
    );
    let p = produce(&mut conn, 7, topic, 0, batch(4, big_value / 3).freeze());
    assert_eq!(
        p.error_code,
        MESSAGE_TOO_LARGE,
        "4 records of {} bytes: {p:?}",
        big_value / 3
    );
    assert_eq!(
        latest_offset(&mut conn, topic, 0),
        0,
        "a too-large batch was appended"
    );
    let pd = fetch(&mut conn, 11, topic, 0, 0);
    assert_eq!(
        (pd.error_code, pd.high_watermark),
        (NONE, 0),
        "after too-large batches: {pd:?}"
    );

    let p = produce(&mut conn, 9, topic, 0, batch(2, 100).freeze());
    assert_eq!(
        (p.error_code, p.base_offset),
        (NONE, 0),
        "small batch after the rejected ones: {p:?}"
    );
    assert_eq!(latest_offset(&mut conn, topic, 0), 2);
}

#[test]
fn batch_over_topic_max_message_bytes_is_message_too_large() {
    let mut w = Weft::start(&[]);
    create_topic(&w, "small-messages", 1, &[("max.message.bytes", "1000")]);
    check_too_large_rejected(&w, "small-messages", 2000);
    assert_broker_serves(&mut w);
}

#[test]
fn batch_over_broker_message_max_bytes_is_message_too_large() {
    let mut w = Weft::start(&["message.max.bytes=1500"]);
    create_topic(&w, "broker-limit", 1, &[]);
    check_too_large_rejected(&w, "broker-limit", 3000);
    assert_broker_serves(&mut w);
}

#[test]
fn fetch_beyond_the_end_is_offset_out_of_range() {
    let mut w = Weft::start(&[]);
    let topic = "fetch-range";
    create_topic(&w, topic, 1, &[]);
    let mut conn = Conn::open(&w);
    let p = produce(&mut conn, 9, topic, 0, batch(3, 10).freeze());
    assert_eq!((p.error_code, p.base_offset), (NONE, 0), "{p:?}");

    for version in [4, 11, 12] {
        let pd = fetch(&mut conn, version, topic, 0, 100);
        assert_eq!(
            pd.error_code, OFFSET_OUT_OF_RANGE,
            "Fetch v{version} at offset 100 of 3: {pd:?}"
        );
        assert!(
            decode_records(&pd).is_empty(),
            "Fetch v{version} out of range returned records"
        );

        // At exactly the end there is nothing yet, which is not an error.
        let pd = fetch(&mut conn, version, topic, 0, 3);
        assert_eq!(
            pd.error_code, NONE,
            "Fetch v{version} at the log end: {pd:?}"
        );
        assert_eq!(pd.high_watermark, 3, "Fetch v{version} high watermark");
        assert!(
            decode_records(&pd).is_empty(),
            "Fetch v{version} at the log end returned records"
        );

        let pd = fetch(&mut conn, version, topic, 0, 0);
        assert_eq!(pd.error_code, NONE, "Fetch v{version} from 0: {pd:?}");
        let offsets: Vec<i64> = decode_records(&pd).iter().map(|r| r.offset).collect();
        assert_eq!(offsets, vec![0, 1, 2], "Fetch v{version} from 0");
    }
    // A fetch for a partition that does not exist is an error for that partition, not a dropped connection.
    let pd = fetch(&mut conn, 11, topic, 7, 0);
    assert_eq!(
        pd.error_code, 3,
        "Fetch of partition 7 of a 1-partition topic: {pd:?}"
    );

    assert_broker_serves(&mut w);
}
