//! `--log-format json` against the real `weft` binary: every log line is a JSON object, and a line
//! logged while handling a request carries that request's API, version and correlation id (and the
//! connection's id and peer), so one client's request can be found in the broker's log.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use common::Weft;
use serde_json::Value;

/// A Metadata v1 request whose topic array claims 2^31 - 1 entries in a 4-byte body: the broker
/// refuses it and closes the connection with a warning.
fn lying_metadata_frame(correlation_id: i32) -> Vec<u8> {
    let client_id = b"log-test";
    let mut body = Vec::new();
    body.extend_from_slice(&3i16.to_be_bytes()); // Metadata
    body.extend_from_slice(&1i16.to_be_bytes());
    body.extend_from_slice(&correlation_id.to_be_bytes());
    body.extend_from_slice(&(client_id.len() as i16).to_be_bytes());
    body.extend_from_slice(client_id);
    body.extend_from_slice(&0x7fff_ffffi32.to_be_bytes());
    let mut frame = (body.len() as i32).to_be_bytes().to_vec();
    frame.extend_from_slice(&body);
    frame
}

/// The JSON log lines (the start-up banner printed with eprintln is not a log line).
fn json_lines(log: &str) -> Vec<Value> {
    log.lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

#[test]
fn a_request_warning_carries_the_request_and_connection_in_json() {
    let w = Weft::start_with_flags(&["--log-format", "json"], &[]);
    let mut conn = TcpStream::connect(("127.0.0.1", w.port)).expect("connect");
    conn.set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    conn.write_all(&lying_metadata_frame(4242)).expect("send");
    // The broker answers a malformed request by closing the connection.
    let mut rest = Vec::new();
    let n = conn.read_to_end(&mut rest).expect("read until close");
    assert_eq!(n, 0, "expected the connection closed without a response");

    assert!(
        w.wait_for_log("closing connection", Duration::from_secs(10)),
        "no warning logged; log:\n{}",
        w.log_text()
    );
    let lines = json_lines(&w.log_text());
    assert!(!lines.is_empty(), "no JSON log lines:\n{}", w.log_text());
    let warning = lines
        .iter()
        .find(|l| l["fields"]["message"] == "closing connection")
        .unwrap_or_else(|| panic!("no closing-connection line in {lines:#?}"));
    assert_eq!(warning["level"], "WARN", "{warning}");
    let reason = warning["fields"]["reason"].as_str().unwrap_or_default();
    assert!(
        reason.contains("malformed Metadata v1 request body"),
        "reason: {reason}"
    );

    let request = &warning["span"];
    assert_eq!(request["name"], "request", "{warning}");
    assert_eq!(request["api"], "Metadata", "{warning}");
    assert_eq!(request["version"], 1, "{warning}");
    assert_eq!(request["correlation_id"], 4242, "{warning}");

    let spans = warning["spans"].as_array().expect("spans list");
    let conn_span = spans
        .iter()
        .find(|s| s["name"] == "conn")
        .unwrap_or_else(|| panic!("no conn span in {warning}"));
    assert!(conn_span["id"].as_u64().is_some(), "{warning}");
    let local = conn.local_addr().expect("local addr").to_string();
    assert_eq!(conn_span["peer"], local.as_str(), "{warning}");
}
