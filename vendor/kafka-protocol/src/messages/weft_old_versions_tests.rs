//! WEFT-PATCH: round trips and byte layouts of the request versions Kafka 3.9 served that the patch
//! adds back (CreateTopics v0–v1, DeleteTopics v0, DescribeConfigs v0), checked against Kafka 3.9's
//! message JSON files.

use bytes::{Bytes, BytesMut};

use super::create_topics_request::{CreatableTopic, CreatableTopicConfig};
use super::create_topics_response::CreatableTopicResult;
use super::delete_topics_response::DeletableTopicResult;
use super::describe_configs_request::DescribeConfigsResource;
use super::describe_configs_response::{
    DescribeConfigsResourceResult, DescribeConfigsResult, DescribeConfigsSynonym,
};
use super::*;
use crate::protocol::{Decodable, Encodable, StrBytes};

fn s(v: &str) -> StrBytes {
    StrBytes::from_string(v.to_string())
}

fn encode<M: Encodable>(m: &M, version: i16) -> Bytes {
    let mut buf = BytesMut::new();
    m.encode(&mut buf, version).expect("encode");
    assert_eq!(
        buf.len(),
        m.compute_size(version).expect("size"),
        "compute_size agrees with encode at v{version}"
    );
    buf.freeze()
}

fn round_trip<M: Encodable + Decodable>(m: &M, version: i16) -> M {
    let mut bytes = encode(m, version);
    let back = M::decode(&mut bytes, version).expect("decode");
    assert!(bytes.is_empty(), "v{version}: {} bytes left", bytes.len());
    back
}

/// Kafka's non-nullable STRING: int16 length, then the bytes.
fn string(out: &mut Vec<u8>, v: &str) {
    out.extend_from_slice(&(v.len() as i16).to_be_bytes());
    out.extend_from_slice(v.as_bytes());
}

fn create_topics_request(validate_only: bool) -> CreateTopicsRequest {
    CreateTopicsRequest::default()
        .with_topics(vec![CreatableTopic::default()
            .with_name(TopicName(s("old")))
            .with_num_partitions(3)
            .with_replication_factor(1)
            .with_configs(vec![CreatableTopicConfig::default()
                .with_name(s("retention.ms"))
                .with_value(Some(s("3600000")))])])
        .with_timeout_ms(30_000)
        .with_validate_only(validate_only)
}

#[test]
fn create_topics_request_v0_and_v1_round_trip() {
    let v0 = create_topics_request(false);
    assert_eq!(round_trip(&v0, 0), v0);
    let v1 = create_topics_request(true);
    assert_eq!(round_trip(&v1, 1), v1);
    // v0 is v1 without the trailing validate_only byte.
    assert_eq!(
        encode(&v0, 0)[..],
        encode(&v0, 1)[..encode(&v0, 1).len() - 1]
    );
    // validate_only is not ignorable: it cannot be sent at v0.
    let mut buf = BytesMut::new();
    assert!(v1.encode(&mut buf, 0).is_err());
}

#[test]
fn create_topics_response_v0_layout_is_name_and_error_code() {
    let resp = CreateTopicsResponse::default()
        .with_throttle_time_ms(7)
        .with_topics(vec![CreatableTopicResult::default()
            .with_name(TopicName(s("old")))
            .with_error_code(36)
            .with_error_message(Some(s("exists")))
            .with_num_partitions(3)]);
    // v0: no throttle_time_ms (v2+), no error_message (v1+).
    let mut want = Vec::new();
    want.extend_from_slice(&1i32.to_be_bytes());
    string(&mut want, "old");
    want.extend_from_slice(&36i16.to_be_bytes());
    assert_eq!(encode(&resp, 0)[..], want[..]);
    // v1 adds the error message, still no throttle time.
    let mut want1 = Vec::new();
    want1.extend_from_slice(&1i32.to_be_bytes());
    string(&mut want1, "old");
    want1.extend_from_slice(&36i16.to_be_bytes());
    string(&mut want1, "exists");
    assert_eq!(encode(&resp, 1)[..], want1[..]);

    let back = round_trip(&resp, 0);
    assert_eq!(back.throttle_time_ms, 0);
    assert_eq!(back.topics[0].name.0, s("old"));
    assert_eq!(back.topics[0].error_code, 36);
    let back1 = round_trip(&resp, 1);
    assert_eq!(back1.topics[0].error_message, Some(s("exists")));
    assert_eq!(back1.throttle_time_ms, 0);
}

#[test]
fn delete_topics_v0_round_trips_and_its_response_has_no_throttle_time() {
    let req = DeleteTopicsRequest::default()
        .with_topic_names(vec![TopicName(s("a")), TopicName(s("b"))])
        .with_timeout_ms(5_000);
    assert_eq!(round_trip(&req, 0), req);
    assert_eq!(encode(&req, 0), encode(&req, 1));

    let resp = DeleteTopicsResponse::default()
        .with_throttle_time_ms(9)
        .with_responses(vec![DeletableTopicResult::default()
            .with_name(Some(TopicName(s("a"))))
            .with_error_code(3)]);
    let mut want = Vec::new();
    want.extend_from_slice(&1i32.to_be_bytes());
    string(&mut want, "a");
    want.extend_from_slice(&3i16.to_be_bytes());
    assert_eq!(encode(&resp, 0)[..], want[..]);
    let back = round_trip(&resp, 0);
    assert_eq!(back.throttle_time_ms, 0);
    assert_eq!(back.responses, resp.responses);
    // v1 puts the throttle time first.
    assert_eq!(encode(&resp, 1)[..4], 9i32.to_be_bytes());
}

#[test]
fn describe_configs_request_v0_round_trips_without_include_synonyms() {
    let req = DescribeConfigsRequest::default().with_resources(vec![
        DescribeConfigsResource::default()
            .with_resource_type(2)
            .with_resource_name(s("old"))
            .with_configuration_keys(None),
        DescribeConfigsResource::default()
            .with_resource_type(4)
            .with_resource_name(s("1"))
            .with_configuration_keys(Some(vec![s("log.retention.ms")])),
    ]);
    assert_eq!(round_trip(&req, 0), req);
    // v0 is v1 without the trailing include_synonyms byte.
    let v1 = encode(&req, 1);
    assert_eq!(encode(&req, 0)[..], v1[..v1.len() - 1]);
    let mut buf = BytesMut::new();
    assert!(req.with_include_synonyms(true).encode(&mut buf, 0).is_err());
}

#[test]
fn describe_configs_response_v0_layout_has_is_default_and_no_synonyms() {
    let entry = |name: &str, value: &str, source: i8| {
        DescribeConfigsResourceResult::default()
            .with_name(s(name))
            .with_value(Some(s(value)))
            .with_read_only(false)
            .with_config_source(source)
            .with_is_sensitive(false)
            .with_synonyms(vec![DescribeConfigsSynonym::default()
                .with_name(s(name))
                .with_value(Some(s(value)))
                .with_source(source)])
    };
    let resp = DescribeConfigsResponse::default()
        .with_throttle_time_ms(0)
        .with_results(vec![DescribeConfigsResult::default()
            .with_error_code(0)
            .with_error_message(None)
            .with_resource_type(2)
            .with_resource_name(s("old"))
            .with_configs(vec![
                entry("retention.ms", "1000", 1),     // TOPIC_CONFIG
                entry("cleanup.policy", "delete", 5), // DEFAULT_CONFIG
            ])]);

    let mut want = Vec::new();
    want.extend_from_slice(&0i32.to_be_bytes()); // throttle_time_ms (v0+)
    want.extend_from_slice(&1i32.to_be_bytes()); // results
    want.extend_from_slice(&0i16.to_be_bytes()); // error_code
    want.extend_from_slice(&(-1i16).to_be_bytes()); // error_message: null
    want.push(2); // resource_type
    string(&mut want, "old");
    want.extend_from_slice(&2i32.to_be_bytes()); // configs
    for (name, value, is_default) in [
        ("retention.ms", "1000", 0u8),
        ("cleanup.policy", "delete", 1),
    ] {
        string(&mut want, name);
        string(&mut want, value);
        want.push(0); // read_only
        want.push(is_default);
        want.push(0); // is_sensitive; then no synonyms
    }
    assert_eq!(encode(&resp, 0)[..], want[..]);

    // Decoding v0 maps is_default to DEFAULT_CONFIG (5) and anything else to UNKNOWN (-1).
    let back = round_trip(&resp, 0);
    let got: Vec<(StrBytes, Option<StrBytes>, i8, usize)> = back.results[0]
        .configs
        .iter()
        .map(|c| {
            (
                c.name.clone(),
                c.value.clone(),
                c.config_source,
                c.synonyms.len(),
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            (s("retention.ms"), Some(s("1000")), -1, 0),
            (s("cleanup.policy"), Some(s("delete")), 5, 0),
        ]
    );
    // v1 keeps the source and the synonyms.
    assert_eq!(round_trip(&resp, 1), resp);
}

#[test]
fn api_keys_advertise_kafka_3_9_minimums() {
    assert_eq!(ApiKey::CreateTopics.valid_versions().min, 0);
    assert_eq!(ApiKey::DeleteTopics.valid_versions().min, 0);
    assert_eq!(ApiKey::DescribeConfigs.valid_versions().min, 0);
    // Headers of the old versions are the non-flexible ones.
    assert_eq!(ApiKey::CreateTopics.request_header_version(0), 1);
    assert_eq!(ApiKey::CreateTopics.response_header_version(0), 0);
    assert_eq!(ApiKey::DeleteTopics.response_header_version(0), 0);
    assert_eq!(ApiKey::DescribeConfigs.response_header_version(0), 0);
}
