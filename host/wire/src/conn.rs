//! One blocking connection to one broker: Kafka framing, bounded response frames, version negotiation
//! (ApiVersions), and reads that give up on a deadline or when the owner is stopped.

use std::collections::HashMap;
use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use bytes::{BufMut, Bytes, BytesMut};
use kafka_protocol::messages::{
    ApiKey, ApiVersionsRequest, ApiVersionsResponse, RequestHeader, ResponseHeader,
};
use kafka_protocol::protocol::{Decodable, Encodable, StrBytes};

use crate::error::WireError;

/// Largest response frame accepted; a longer length prefix closes the connection before anything is
/// allocated for it.
pub(crate) const MAX_FRAME: usize = 128 << 20;
/// How long one blocking socket read may last before the reader checks its deadline and the stop
/// flag again: bounds how late a stopped thread notices.
const READ_SLICE: Duration = Duration::from_millis(200);
/// Upper bound on establishing a TCP connection, whatever the request timeout.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Response frames are read into a buffer grown this much at a time, so a lying length prefix
/// under [`MAX_FRAME`] costs memory only as fast as the bytes actually arrive.
const READ_CHUNK: usize = 1 << 20;

/// The API versions this client speaks: (key, lowest, highest). Fetch stops at 12 because v13+
/// names topics by id; Produce at 9 because v10+ adds nothing this client uses.
const OUR_VERSIONS: [(ApiKey, i16, i16); 4] = [
    (ApiKey::Fetch, 4, 12),
    (ApiKey::Produce, 3, 9),
    (ApiKey::Metadata, 1, 12),
    (ApiKey::ListOffsets, 1, 7),
];

/// An open, negotiated connection. One request at a time: [`Conn::send`] then [`Conn::recv`].
pub(crate) struct Conn {
    stream: TcpStream,
    addr: String,
    client_id: StrBytes,
    next_correlation: i32,
    /// The broker's (min, max) per API key, from ApiVersions.
    broker_versions: HashMap<i16, (i16, i16)>,
}

impl Conn {
    /// Connects to `addr` (`host:port`) and negotiates versions with ApiVersions v0 (which every
    /// broker answers, whatever its own range).
    pub(crate) fn open(
        addr: &str,
        client_id: &str,
        timeout: Duration,
        stop: &AtomicBool,
    ) -> Result<Conn, WireError> {
        let stream = connect(addr, timeout.min(CONNECT_TIMEOUT))?;
        stream
            .set_nodelay(true)
            .and_then(|_| stream.set_read_timeout(Some(READ_SLICE)))
            .and_then(|_| stream.set_write_timeout(Some(timeout)))
            .map_err(|e| WireError::io(addr, e))?;
        let mut conn = Conn {
            stream,
            addr: addr.to_string(),
            client_id: StrBytes::from_string(client_id.to_string()),
            next_correlation: 0,
            broker_versions: HashMap::new(),
        };
        let correlation = conn.send_at(ApiKey::ApiVersions, 0, &ApiVersionsRequest::default())?;
        let resp: ApiVersionsResponse = conn.recv(
            ApiKey::ApiVersions,
            0,
            correlation,
            Instant::now() + timeout,
            stop,
        )?;
        if resp.error_code != 0 {
            return Err(WireError::kafka(resp.error_code, "", -1));
        }
        conn.broker_versions = resp
            .api_keys
            .iter()
            .map(|k| (k.api_key, (k.min_version, k.max_version)))
            .collect();
        Ok(conn)
    }

    pub(crate) fn addr(&self) -> &str {
        &self.addr
    }

    /// The highest version of `key` both sides speak.
    pub(crate) fn version(&self, key: ApiKey) -> Result<i16, WireError> {
        let (ours_min, ours_max) = OUR_VERSIONS
            .iter()
            .find(|(k, _, _)| *k == key)
            .map(|(_, lo, hi)| (*lo, *hi))
            .ok_or_else(|| WireError::Unsupported(format!("{key:?} is not used by this client")))?;
        let (theirs_min, theirs_max) = self
            .broker_versions
            .get(&(key as i16))
            .copied()
            .ok_or_else(|| {
                WireError::Unsupported(format!("broker {} does not support {key:?}", self.addr))
            })?;
        let hi = ours_max.min(theirs_max);
        if hi < ours_min.max(theirs_min) {
            return Err(WireError::Unsupported(format!(
                "broker {} speaks {key:?} v{theirs_min}..=v{theirs_max}, this client v{ours_min}..=v{ours_max}",
                self.addr
            )));
        }
        Ok(hi)
    }

    /// Writes one request at the negotiated version; returns its correlation id and version.
    pub(crate) fn send<R: Encodable>(
        &mut self,
        key: ApiKey,
        body: &R,
    ) -> Result<(i32, i16), WireError> {
        let version = self.version(key)?;
        let correlation = self.send_at(key, version, body)?;
        Ok((correlation, version))
    }

    fn send_at<R: Encodable>(
        &mut self,
        key: ApiKey,
        version: i16,
        body: &R,
    ) -> Result<i32, WireError> {
        let correlation = self.next_correlation;
        self.next_correlation = self.next_correlation.wrapping_add(1);
        let mut buf = BytesMut::with_capacity(256);
        buf.put_i32(0);
        RequestHeader::default()
            .with_request_api_key(key as i16)
            .with_request_api_version(version)
            .with_correlation_id(correlation)
            .with_client_id(Some(self.client_id.clone()))
            .encode(&mut buf, key.request_header_version(version))
            .and_then(|_| body.encode(&mut buf, version))
            .map_err(|e| {
                WireError::Unsupported(format!("cannot encode {key:?} v{version}: {e}"))
            })?;
        let len = i32::try_from(buf.len() - 4)
            .map_err(|_| WireError::Unsupported(format!("{key:?} request too large")))?;
        buf[0..4].copy_from_slice(&len.to_be_bytes());
        self.stream
            .write_all(&buf)
            .map_err(|e| WireError::io(&self.addr, e))?;
        Ok(correlation)
    }

    /// Reads the response to the request `correlation` of `key` at `version`.
    pub(crate) fn recv<T: Decodable>(
        &mut self,
        key: ApiKey,
        version: i16,
        correlation: i32,
        deadline: Instant,
        stop: &AtomicBool,
    ) -> Result<T, WireError> {
        let mut frame = read_frame(&mut self.stream, &self.addr, deadline, stop)?;
        let header = ResponseHeader::decode(&mut frame, key.response_header_version(version))
            .map_err(|e| {
                WireError::protocol(&self.addr, format!("bad {key:?} response header: {e}"))
            })?;
        if header.correlation_id != correlation {
            return Err(WireError::protocol(
                &self.addr,
                format!(
                    "{key:?} response has correlation id {}, expected {correlation}",
                    header.correlation_id
                ),
            ));
        }
        T::decode(&mut frame, version).map_err(|e| {
            WireError::protocol(&self.addr, format!("bad {key:?} v{version} response: {e}"))
        })
    }

    /// Sends `body` and waits for its answer.
    pub(crate) fn call<R: Encodable, T: Decodable>(
        &mut self,
        key: ApiKey,
        body: &R,
        deadline: Instant,
        stop: &AtomicBool,
    ) -> Result<T, WireError> {
        let (correlation, version) = self.send(key, body)?;
        self.recv(key, version, correlation, deadline, stop)
    }
}

fn connect(addr: &str, timeout: Duration) -> Result<TcpStream, WireError> {
    let addrs: Vec<SocketAddr> = addr
        .to_socket_addrs()
        .map_err(|e| WireError::io(addr, e))?
        .collect();
    let mut last = None;
    for a in addrs {
        match TcpStream::connect_timeout(&a, timeout) {
            Ok(s) => return Ok(s),
            Err(e) => last = Some(e),
        }
    }
    Err(WireError::io(
        addr,
        last.unwrap_or_else(|| std::io::Error::new(ErrorKind::NotFound, "no address")),
    ))
}

/// Reads one `i32 length | frame` response and returns the frame. The stream's read timeout must be
/// short (it is [`READ_SLICE`]): between reads the deadline and `stop` are checked.
pub(crate) fn read_frame(
    stream: &mut impl Read,
    addr: &str,
    deadline: Instant,
    stop: &AtomicBool,
) -> Result<Bytes, WireError> {
    let mut len = [0u8; 4];
    read_full(stream, &mut len, addr, deadline, stop)?;
    let len = i32::from_be_bytes(len);
    let len = usize::try_from(len)
        .ok()
        .filter(|&l| (4..=MAX_FRAME).contains(&l))
        .ok_or_else(|| {
            WireError::protocol(
                addr,
                format!("response frame length {len} is outside 4..={MAX_FRAME}"),
            )
        })?;
    let mut buf: Vec<u8> = Vec::with_capacity(len.min(READ_CHUNK));
    while buf.len() < len {
        let start = buf.len();
        let end = start + (len - start).min(READ_CHUNK);
        buf.resize(end, 0);
        read_full(stream, &mut buf[start..end], addr, deadline, stop)?;
    }
    Ok(Bytes::from(buf))
}

/// Fills `out`, keeping partial reads across read timeouts (unlike `read_exact`, which loses them).
fn read_full(
    stream: &mut impl Read,
    out: &mut [u8],
    addr: &str,
    deadline: Instant,
    stop: &AtomicBool,
) -> Result<(), WireError> {
    let mut pos = 0;
    while pos < out.len() {
        match stream.read(&mut out[pos..]) {
            Ok(0) => {
                return Err(WireError::io(
                    addr,
                    std::io::Error::new(
                        ErrorKind::UnexpectedEof,
                        "connection closed by the broker",
                    ),
                ))
            }
            Ok(n) => pos += n,
            Err(e)
                if matches!(
                    e.kind(),
                    ErrorKind::WouldBlock | ErrorKind::TimedOut | ErrorKind::Interrupted
                ) => {}
            Err(e) => return Err(WireError::io(addr, e)),
        }
        if stop.load(Ordering::Relaxed) {
            return Err(WireError::Stopped);
        }
        if pos < out.len() && Instant::now() >= deadline {
            return Err(WireError::Timeout(format!(
                "no complete response from broker {addr} in time"
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    #[test]
    fn a_lying_frame_length_is_refused_before_allocating() {
        let stop = AtomicBool::new(false);
        let deadline = Instant::now() + Duration::from_secs(1);
        for len in [i32::MAX, -1, 0, 3, (MAX_FRAME + 1) as i32] {
            let mut input = Cursor::new(len.to_be_bytes().to_vec());
            let err = read_frame(&mut input, "x:1", deadline, &stop).unwrap_err();
            assert!(matches!(err, WireError::Protocol { .. }), "{len}: {err}");
        }
    }

    #[test]
    fn a_frame_cut_short_is_an_error_not_a_hang() {
        let stop = AtomicBool::new(false);
        let deadline = Instant::now() + Duration::from_secs(1);
        let mut bytes = 100i32.to_be_bytes().to_vec();
        bytes.extend_from_slice(&[7u8; 10]);
        let err = read_frame(&mut Cursor::new(bytes), "x:1", deadline, &stop).unwrap_err();
        assert!(matches!(err, WireError::Io { .. }), "{err}");
    }

    #[test]
    fn a_whole_frame_is_read() {
        let stop = AtomicBool::new(false);
        let deadline = Instant::now() + Duration::from_secs(1);
        let mut bytes = 5i32.to_be_bytes().to_vec();
        bytes.extend_from_slice(b"hello");
        let frame = read_frame(&mut Cursor::new(bytes), "x:1", deadline, &stop).unwrap();
        assert_eq!(&frame[..], b"hello");
    }
}
