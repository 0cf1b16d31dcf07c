//! Turns a socket's bytes into request frames and response frames back into bytes, and nothing else.
//!
//! Kafka framing: every request and response is a big-endian i32 length followed by that many bytes.
//! Requests on one connection are answered in order (clients pipeline and match correlation ids).

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::{BufMut, Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, watch};

use crate::handlers::{self, Outcome};
use crate::server::Broker;

/// Responses waiting to be written per connection; a slow reader back-pressures request handling.
const WRITE_QUEUE: usize = 32;

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
pub async fn read_frame<R: AsyncReadExt + Unpin>(
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
    let (tx, mut rx) = mpsc::channel::<Bytes>(WRITE_QUEUE);

    let writer = tokio::spawn(async move {
        while let Some(frame) = rx.recv().await {
            if let Err(e) = write_half.write_all(&frame).await {
                tracing::debug!(%peer, error = %e, "write failed; closing connection");
                break;
            }
        }
        let _ = write_half.shutdown().await;
    });

    let max = broker.config.socket_request_max_bytes;
    loop {
        let frame = tokio::select! {
            f = read_frame(&mut reader, max) => f,
            _ = shutdown.changed() => break,
        };
        let frame = match frame {
            Ok(Some(f)) => f,
            Ok(None) => break,
            Err(FrameError::Io(e)) => {
                tracing::debug!(%peer, error = %e, "connection read error");
                break;
            }
            Err(e) => {
                tracing::warn!(%peer, error = %e, "closing connection: malformed frame");
                break;
            }
        };
        match handlers::handle_frame(&broker, frame, peer, &listener_name).await {
            Outcome::Respond(bytes) => {
                if tx.send(bytes).await.is_err() {
                    break;
                }
            }
            Outcome::NoResponse => {}
            Outcome::Close(reason) => {
                tracing::warn!(%peer, %reason, "closing connection");
                break;
            }
        }
    }
    drop(tx);
    let _ = writer.await;
}
