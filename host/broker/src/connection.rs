//! Turns a socket's bytes into request frames and response frames back into bytes, and nothing else.
//!
//! Kafka framing: every request and response is a big-endian i32 length followed by that many bytes.
//! Requests on one connection are answered in order (clients pipeline and match correlation ids).
//!
//! Back-pressure: responses wait for the socket in a queue bounded both in entries and in bytes
//! (`fetch.max.bytes` plus 1 MiB, so one full Fetch response always fits). While it is full the
//! connection reads no further requests, so a client that does not read its responses holds at most
//! that much broker memory. Responses are written with vectored writes, several queued responses per
//! system call, the stored record bytes of a Fetch response included without a copy; stored batches
//! the page cache holds go from their segment file to the socket with `sendfile`.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use std::io::IoSlice;
use std::os::fd::AsRawFd;

use bytes::{Buf, BufMut, Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt, BufReader, Interest};
use tokio::net::tcp::OwnedWriteHalf;
use tokio::net::TcpStream;
use tokio::sync::{mpsc, watch, OwnedSemaphorePermit, Semaphore};
use tracing::Instrument;
use weft_log::FileRegion;

use crate::chunk::Chunk;
use crate::handlers::{self, Outcome};
use crate::metrics::{self, CloseReason};
use crate::server::Broker;

/// Responses waiting to be written per connection; a slow reader back-pressures request handling.
const WRITE_QUEUE: usize = 32;

/// Slices handed to one vectored write (Linux's IOV_MAX is 1024).
const MAX_IOV: usize = 256;

/// A response frame as chunks, holding its share of the connection's byte budget until written.
struct Queued {
    chunks: Vec<Chunk>,
    _permit: OwnedSemaphorePermit,
}

/// When the connection last made progress (a request read, response bytes written), for
/// `connections.max.idle.ms`.
struct Activity {
    start: tokio::time::Instant,
    /// Milliseconds after `start`.
    last_ms: AtomicU64,
}

impl Activity {
    fn new() -> Self {
        Activity {
            start: tokio::time::Instant::now(),
            last_ms: AtomicU64::new(0),
        }
    }

    fn touch(&self) {
        let ms = u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last_ms.fetch_max(ms, Ordering::Relaxed);
    }

    /// Resolves once nothing happened for `idle`; never without a limit.
    async fn idle_for(&self, idle: Option<Duration>) {
        let Some(idle) = idle else {
            return std::future::pending().await;
        };
        loop {
            let last = self.start + Duration::from_millis(self.last_ms.load(Ordering::Relaxed));
            let due = last + idle;
            if tokio::time::Instant::now() >= due {
                return;
            }
            tokio::time::sleep_until(due).await;
        }
    }
}

/// Why a frame could not be read.
#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    #[error("request size {size} is negative or larger than socket.request.max.bytes ({max})")]
    BadSize { size: i64, max: u32 },
    #[error("request of {0} bytes is too short to hold a request header")]
    TooShort(usize),
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// Reads one length-prefixed frame; `Ok(None)` on a clean end of stream between frames.
pub async fn read_frame<R: AsyncRead + Unpin>(
    reader: &mut R,
    max: u32,
) -> Result<Option<Bytes>, FrameError> {
    let mut len = [0u8; 4];
    match reader.read_exact(&mut len).await {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e.into()),
    }
    let size = i32::from_be_bytes(len) as i64;
    if size < 0 || size > max as i64 {
        return Err(FrameError::BadSize { size, max });
    }
    // A request header is at least api key (2) + version (2) + correlation id (4).
    if size < 8 {
        return Err(FrameError::TooShort(size as usize));
    }
    // read_buf fills spare capacity directly, so a large produce frame is not zeroed first.
    let size = size as usize;
    let mut buf = BytesMut::with_capacity(size);
    while buf.len() < size {
        let remaining = size - buf.len();
        let mut limited = (&mut buf).limit(remaining);
        if reader.read_buf(&mut limited).await? == 0 {
            return Err(FrameError::Io(std::io::ErrorKind::UnexpectedEof.into()));
        }
    }
    Ok(Some(buf.freeze()))
}

/// Writes `chunks` (one or more frames back to back): runs of in-memory chunks with vectored writes,
/// file regions with `sendfile`. Every write that makes progress touches `activity`.
async fn write_chunks(
    w: &mut OwnedWriteHalf,
    chunks: &mut [Chunk],
    activity: &Activity,
) -> std::io::Result<()> {
    let mut idx = 0;
    loop {
        while idx < chunks.len() && chunks[idx].is_empty() {
            idx += 1;
        }
        let Some(chunk) = chunks.get(idx) else {
            return Ok(());
        };
        if let Chunk::File(region) = chunk {
            send_region(w.as_ref(), region, activity).await?;
            idx += 1;
            continue;
        }
        let slices: Vec<IoSlice<'_>> = chunks[idx..]
            .iter()
            .map_while(|c| match c {
                Chunk::Bytes(b) => Some(b),
                Chunk::File(_) => None,
            })
            .filter(|b| !b.is_empty())
            .take(MAX_IOV)
            .map(|b| IoSlice::new(b))
            .collect();
        let mut n = w.write_vectored(&slices).await?;
        if n == 0 {
            return Err(std::io::ErrorKind::WriteZero.into());
        }
        activity.touch();
        // `n` covers only the run of in-memory chunks just written.
        while n > 0 {
            let Some(Chunk::Bytes(b)) = chunks.get_mut(idx) else {
                break;
            };
            if n >= b.len() {
                n -= b.len();
                idx += 1;
            } else {
                b.advance(n);
                n = 0;
            }
        }
    }
}

/// Sends a region of a segment file with `sendfile`, waiting for the socket when its buffer is full.
/// The fetch checked the region was in the page cache, so the kernel copies from memory and this
/// does not wait for the disk. A file that ends early fails the connection: the frame's length is
/// already on the wire.
async fn send_region(
    sock: &TcpStream,
    region: &FileRegion,
    activity: &Activity,
) -> std::io::Result<()> {
    let mut offset = libc::off_t::try_from(region.position())
        .map_err(|_| std::io::Error::other("file position out of range"))?;
    let mut left = region.len();
    while left > 0 {
        sock.writable().await?;
        let sent = sock.try_io(Interest::WRITABLE, || {
            // SAFETY: both descriptors are open for the duration of the call (the socket is borrowed,
            // the file is owned by `region`), and `offset` is a valid off_t the kernel advances.
            let n = unsafe {
                libc::sendfile(
                    sock.as_raw_fd(),
                    region.file().as_raw_fd(),
                    &mut offset,
                    left,
                )
            };
            if n < 0 {
                Err(std::io::Error::last_os_error())
            } else {
                Ok(n as usize)
            }
        });
        match sent {
            Ok(0) => {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    "segment file ended before the batches being sent",
                ))
            }
            Ok(n) => {
                left = left.saturating_sub(n);
                activity.touch();
            }
            Err(e)
                if e.kind() == std::io::ErrorKind::WouldBlock
                    || e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// The span every line logged while handling one request is in: the API, version and correlation id
/// from the frame's first 8 bytes (read before decoding, so a request that fails to decode is named
/// too). Inside the connection's span, it ties a log line to one request of one client; with
/// `--log-format json` the fields are machine-readable.
fn request_span(frame: &[u8]) -> tracing::Span {
    match frame {
        [k0, k1, v0, v1, c0, c1, c2, c3, ..] => {
            tracing::info_span!(
                "request",
                api = ?ApiName(i16::from_be_bytes([*k0, *k1])),
                version = i16::from_be_bytes([*v0, *v1]),
                correlation_id = i32::from_be_bytes([*c0, *c1, *c2, *c3]),
            )
        }
        _ => tracing::Span::none(),
    }
}

/// An API key as Kafka names it (`Produce`), or its number when unknown; formatted only if the span
/// is recorded.
struct ApiName(i16);

impl std::fmt::Debug for ApiName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match kafka_protocol::messages::ApiKey::try_from(self.0) {
            Ok(k) => write!(f, "{k:?}"),
            Err(_) => write!(f, "{}", self.0),
        }
    }
}

/// Serves one client connection until it closes, misbehaves, or the broker shuts down.
pub async fn serve(
    broker: Arc<Broker>,
    stream: TcpStream,
    peer: SocketAddr,
    listener_name: Arc<str>,
    mut shutdown: watch::Receiver<bool>,
) {
    let _ = stream.set_nodelay(true);
    let (read_half, mut write_half) = stream.into_split();
    let mut reader = BufReader::with_capacity(64 * 1024, read_half);
    let (tx, mut rx) = mpsc::channel::<Queued>(WRITE_QUEUE);
    let budget = (broker.config.fetch_max_bytes as usize)
        .saturating_add(1 << 20)
        .min(u32::MAX as usize);
    let bytes_left = Arc::new(Semaphore::new(budget));
    let idle = broker
        .config
        .connections_max_idle_ms
        .map(Duration::from_millis);
    let activity = Arc::new(Activity::new());
    let written = activity.clone();

    let writer = tokio::spawn(async move {
        let mut batch: Vec<Queued> = Vec::new();
        while let Some(first) = rx.recv().await {
            batch.push(first);
            // Whatever else is already queued goes out in the same system call.
            let mut n = batch[0].chunks.len();
            while n < MAX_IOV {
                match rx.try_recv() {
                    Ok(q) => {
                        n += q.chunks.len();
                        batch.push(q);
                    }
                    Err(_) => break,
                }
            }
            let mut chunks: Vec<Chunk> = batch
                .iter_mut()
                .flat_map(|q| std::mem::take(&mut q.chunks))
                .collect();
            if let Err(e) = write_chunks(&mut write_half, &mut chunks, &written).await {
                tracing::debug!(%peer, error = %e, "write failed; closing connection");
                break;
            }
            // Dropping the entries returns their bytes to the budget.
            batch.clear();
        }
        let _ = write_half.shutdown().await;
    });

    let max = broker.config.socket_request_max_bytes;
    let mut closed = CloseReason::Shutdown;
    loop {
        let frame = tokio::select! {
            biased;
            f = read_frame(&mut reader, max) => f,
            _ = shutdown.changed() => break,
            _ = activity.idle_for(idle) => {
                closed = CloseReason::Idle;
                break;
            }
        };
        activity.touch();
        let frame = match frame {
            Ok(Some(f)) => f,
            Ok(None) => {
                closed = CloseReason::Client;
                break;
            }
            Err(FrameError::Io(e)) => {
                tracing::debug!(%peer, error = %e, "connection read error");
                closed = CloseReason::Io;
                break;
            }
            Err(e) => {
                tracing::warn!(%peer, error = %e, "closing connection: malformed frame");
                closed = CloseReason::Malformed;
                break;
            }
        };
        let timed = metrics::RequestTimer::start(&frame);
        let span = request_span(&frame);
        let outcome = handlers::handle_frame(&broker, frame, peer, &listener_name)
            .instrument(span.clone())
            .await;
        timed.finish();
        let chunks = match outcome {
            Outcome::Respond(bytes) => vec![Chunk::Bytes(bytes)],
            Outcome::RespondChunks(chunks) => chunks,
            Outcome::NoResponse => continue,
            Outcome::Close(reason) => {
                span.in_scope(|| tracing::warn!(%peer, %reason, "closing connection"));
                closed = CloseReason::Malformed;
                break;
            }
            Outcome::Unsupported(reason) => {
                span.in_scope(|| tracing::warn!(%peer, %reason, "closing connection"));
                closed = CloseReason::UnsupportedVersion;
                break;
            }
        };
        let size: usize = chunks.iter().map(|c| c.len()).sum();
        // Waits (reading no more requests) while earlier responses fill the budget; a response larger
        // than the whole budget waits for the queue to drain.
        let want = size.clamp(1, budget) as u32;
        // Handling it counts as activity: a long poll may take longer than the idle limit.
        activity.touch();
        let permit = tokio::select! {
            biased;
            p = bytes_left.clone().acquire_many_owned(want) => p,
            _ = shutdown.changed() => break,
            // The client stopped reading its responses.
            _ = activity.idle_for(idle) => {
                closed = CloseReason::Idle;
                break;
            }
        };
        let Ok(permit) = permit else { break };
        let queued = Queued {
            chunks,
            _permit: permit,
        };
        let sent = tokio::select! {
            biased;
            sent = tx.send(queued) => sent,
            _ = shutdown.changed() => break,
            // Small responses fill the queue's entries before its bytes.
            _ = activity.idle_for(idle) => {
                closed = CloseReason::Idle;
                break;
            }
        };
        if sent.is_err() {
            // The writer ended on a failed write.
            closed = CloseReason::Io;
            break;
        }
    }
    metrics::CONNECTIONS.closed(closed);
    drop(tx);
    if matches!(closed, CloseReason::Idle) {
        // Its writer may wait for a socket the client no longer reads; what it holds (queued
        // responses, the segment files of their regions) goes with it.
        tracing::info!(%peer, "closing connection idle for connections.max.idle.ms");
        writer.abort();
    }
    let _ = writer.await;
}
