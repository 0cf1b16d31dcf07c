//! Raw Kafka connections for the hostile-input tests: typed requests through kafka-protocol, and
//! hand-written bodies (behind a correct header) for what no encoder will produce, such as lying counts.
#![allow(dead_code)]

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use bytes::{BufMut, Bytes, BytesMut};
use kafka_protocol::messages::{ApiKey, RequestHeader, ResponseHeader};
use kafka_protocol::protocol::{Decodable, Encodable, StrBytes};

/// Every socket read and write gives up after this long, so a hung broker fails the test.
pub const IO_TIMEOUT: Duration = Duration::from_secs(30);
/// How long the broker has to close a connection it should drop.
pub const CLOSE_TIMEOUT: Duration = Duration::from_secs(15);

pub fn s(v: &str) -> StrBytes {
    StrBytes::from_string(v.to_string())
}

/// One client connection speaking Kafka framing (i32 length, header, body).
pub struct Conn {
    pub stream: TcpStream,
    next_correlation: i32,
}

impl Conn {
    pub fn open(bootstrap: &str) -> Conn {
        let stream =
            TcpStream::connect(bootstrap).unwrap_or_else(|e| panic!("connect {bootstrap}: {e}"));
        stream.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
        stream.set_write_timeout(Some(IO_TIMEOUT)).unwrap();
        stream.set_nodelay(true).unwrap();
        Conn {
            stream,
            next_correlation: 1,
        }
    }

    /// `length | header | body` with the request header version `key` uses at `version`.
    pub fn frame_with_body(&mut self, key: ApiKey, version: i16, body: &[u8]) -> (Bytes, i32) {
        let correlation = self.next_correlation;
        self.next_correlation += 1;
        let mut buf = BytesMut::new();
        buf.put_i32(0);
        RequestHeader::default()
            .with_request_api_key(key as i16)
            .with_request_api_version(version)
            .with_correlation_id(correlation)
            .with_client_id(Some(s("weft-e2e-hostile")))
            .encode(&mut buf, key.request_header_version(version))
            .expect("encode request header");
        buf.put_slice(body);
        let len = (buf.len() - 4) as i32;
        buf[0..4].copy_from_slice(&len.to_be_bytes());
        (buf.freeze(), correlation)
    }

    /// Sends a hand-written body behind a well-formed header.
    pub fn send_body(&mut self, key: ApiKey, version: i16, body: &[u8]) -> i32 {
        let (frame, correlation) = self.frame_with_body(key, version, body);
        // The broker may close before it has read everything; that is an answer, not a failure.
        let _ = self.stream.write_all(&frame);
        correlation
    }

    pub fn send<R: Encodable>(&mut self, key: ApiKey, version: i16, body: &R) -> i32 {
        let mut b = BytesMut::new();
        body.encode(&mut b, version)
            .unwrap_or_else(|e| panic!("encode {key:?} v{version}: {e}"));
        self.send_body(key, version, &b)
    }

    /// Reads one response frame (without its length prefix); panics on EOF or timeout.
    pub fn read_frame(&mut self) -> Bytes {
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

    pub fn recv<T: Decodable>(&mut self, key: ApiKey, version: i16, correlation: i32) -> T {
        let mut frame = self.read_frame();
        let header = ResponseHeader::decode(&mut frame, key.response_header_version(version))
            .expect("decode response header");
        assert_eq!(
            header.correlation_id, correlation,
            "{key:?} v{version}: correlation id"
        );
        let body = T::decode(&mut frame, version)
            .unwrap_or_else(|e| panic!("decode {key:?} v{version} response: {e}"));
        assert!(
            frame.is_empty(),
            "{key:?} v{version}: bytes left after the body"
        );
        body
    }

    pub fn call<R: Encodable, T: Decodable>(&mut self, key: ApiKey, version: i16, body: &R) -> T {
        let correlation = self.send(key, version, body);
        self.recv(key, version, correlation)
    }

    /// The broker must close this connection: a read sees EOF or a reset within CLOSE_TIMEOUT.
    pub fn expect_closed(&mut self, what: &str) {
        self.stream
            .set_read_timeout(Some(Duration::from_millis(500)))
            .unwrap();
        let deadline = Instant::now() + CLOSE_TIMEOUT;
        let mut junk = 0usize;
        let mut buf = [0u8; 4096];
        loop {
            match self.stream.read(&mut buf) {
                Ok(0) => return,
                Ok(n) => junk += n,
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
                "{what}: the broker did not close the connection within {CLOSE_TIMEOUT:?} (it sent {junk} bytes)"
            );
        }
    }
}

/// Resident set size of a process in MiB, from /proc/<pid>/status.
pub fn rss_mib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_else(|e| panic!("/proc/{pid}/status: {e}"));
    let kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no VmRSS in /proc/{pid}/status"));
    kb / 1024
}

/// Hand-written request bodies: the Kafka primitive encodings, so a test reads like the schema.
#[derive(Default)]
pub struct Body(pub BytesMut);

impl Body {
    pub fn new() -> Body {
        Body::default()
    }
    pub fn i8(mut self, v: i8) -> Self {
        self.0.put_i8(v);
        self
    }
    pub fn i16(mut self, v: i16) -> Self {
        self.0.put_i16(v);
        self
    }
    pub fn i32(mut self, v: i32) -> Self {
        self.0.put_i32(v);
        self
    }
    pub fn u32(mut self, v: u32) -> Self {
        self.0.put_u32(v);
        self
    }
    pub fn i64(mut self, v: i64) -> Self {
        self.0.put_i64(v);
        self
    }
    /// Unsigned varint (compact lengths and counts are n + 1).
    pub fn uvarint(mut self, mut v: u32) -> Self {
        while v >= 0x80 {
            self.0.put_u8((v as u8) | 0x80);
            v >>= 7;
        }
        self.0.put_u8(v as u8);
        self
    }
    /// Non-flexible string: i16 length then bytes.
    pub fn string(mut self, v: &str) -> Self {
        self.0.put_i16(v.len() as i16);
        self.0.put_slice(v.as_bytes());
        self
    }
    /// Flexible (compact) string: varint length + 1 then bytes.
    pub fn cstring(self, v: &str) -> Self {
        let mut b = self.uvarint(v.len() as u32 + 1);
        b.0.put_slice(v.as_bytes());
        b
    }
    pub fn raw(mut self, v: &[u8]) -> Self {
        self.0.put_slice(v);
        self
    }
    /// Empty tagged-field section of a flexible struct.
    pub fn no_tags(self) -> Self {
        self.uvarint(0)
    }
    pub fn bytes(&self) -> &[u8] {
        &self.0
    }
}
