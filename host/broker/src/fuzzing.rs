//! Entry point for fuzzers and replay tests: one real broker over a scratch directory, fed request
//! frames through exactly the path a connection takes (frame check, header, body decode, handler).
//!
//! The broker is started once per process (with a listener on a loopback port nobody uses) and kept;
//! state such as created topics carries over between inputs, as it would between a client's requests.
//! [`FuzzBroker::run_frame`] takes one frame without its length prefix: the prefix is added here so
//! that mutations hit the header and body rather than break the framing every time.

use std::path::PathBuf;
use std::sync::Arc;

use bytes::Bytes;

use crate::connection::read_frame;
use crate::handlers::{handle_frame, Outcome};
use crate::server::{Broker, RunningBroker};
use crate::{BrokerConfig, BrokerError};

/// How the broker dealt with one frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FrameOutcome {
    /// Answered with a response frame (length prefix included).
    Responded(Bytes),
    /// acks=0 produce: nothing is sent back.
    NoResponse,
    /// Undecodable request: the connection would be closed, with this reason.
    Closed(String),
    /// The frame itself was refused (too short or too long) before any decoding.
    FrameRefused(String),
    /// Still waiting after [`FuzzBroker::WAIT_LIMIT`] (a long-polling fetch, a join waiting for its
    /// group): a legitimate state for a request, abandoned here as a closed connection would.
    StillWaiting,
}

/// A broker serving no sockets of interest, driven frame by frame.
pub struct FuzzBroker {
    runtime: tokio::runtime::Runtime,
    running: Option<RunningBroker>,
    dir: PathBuf,
    peer: std::net::SocketAddr,
}

impl FuzzBroker {
    /// How long one request may wait (fetch `max_wait_ms`, group joins are client-chosen).
    pub const WAIT_LIMIT: std::time::Duration = std::time::Duration::from_millis(200);

    /// Starts a broker with default settings over a fresh directory under the system temp dir.
    /// `overrides` are broker config keys (`("num.partitions", "1")`, ...).
    pub fn start(overrides: &[(&str, &str)]) -> Result<FuzzBroker, BrokerError> {
        let dir = std::env::temp_dir().join(format!(
            "weft-fuzz-{}-{}",
            std::process::id(),
            uuid::Uuid::new_v4().simple()
        ));
        let mut layers = vec![
            ("log.dirs".to_string(), dir.display().to_string()),
            (
                "listeners".to_string(),
                "PLAINTEXT://127.0.0.1:0".to_string(),
            ),
        ];
        layers.extend(
            overrides
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string())),
        );
        let config = BrokerConfig::load(None, &layers)?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|source| BrokerError::Io {
                path: dir.clone(),
                source,
            })?;
        let running = runtime.block_on(Broker::start(config))?;
        Ok(FuzzBroker {
            runtime,
            running: Some(running),
            dir,
            peer: std::net::SocketAddr::from(([127, 0, 0, 1], 1)),
        })
    }

    pub fn broker(&self) -> Option<&Arc<Broker>> {
        self.running.as_ref().map(|r| &r.broker)
    }

    /// Runs one request frame (without its 4-byte length prefix) through the connection's frame
    /// check and the request handlers, waiting at most [`FuzzBroker::WAIT_LIMIT`] for the answer.
    pub fn run_frame(&self, frame: &[u8]) -> FrameOutcome {
        self.run_frame_within(frame, Self::WAIT_LIMIT)
    }

    /// As [`FuzzBroker::run_frame`], waiting at most `wait`: a check that every valid request is
    /// answered must not depend on how fast the disk syncs a new topic's directory.
    pub fn run_frame_within(&self, frame: &[u8], wait: std::time::Duration) -> FrameOutcome {
        let Some(running) = &self.running else {
            return FrameOutcome::FrameRefused("broker stopped".into());
        };
        let broker = &running.broker;
        let max = broker.config.socket_request_max_bytes;
        let mut wire = Vec::with_capacity(frame.len() + 4);
        wire.extend_from_slice(&(frame.len() as u32).to_be_bytes());
        wire.extend_from_slice(frame);
        self.runtime.block_on(async {
            let frame = match read_frame(&mut &wire[..], max).await {
                Ok(Some(f)) => f,
                Ok(None) => return FrameOutcome::FrameRefused("empty".into()),
                Err(e) => return FrameOutcome::FrameRefused(e.to_string()),
            };
            let handled = handle_frame(broker, frame, self.peer, "PLAINTEXT");
            match tokio::time::timeout(wait, handled).await {
                Ok(Outcome::Respond(b)) => FrameOutcome::Responded(b),
                Ok(Outcome::RespondChunks(chunks)) => match crate::chunk::concat(&chunks) {
                    Ok(frame) => FrameOutcome::Responded(frame.into()),
                    Err(e) => FrameOutcome::Closed(format!("reading stored batches: {e}")),
                },
                Ok(Outcome::NoResponse) => FrameOutcome::NoResponse,
                Ok(Outcome::Close(reason) | Outcome::Unsupported(reason)) => {
                    FrameOutcome::Closed(reason)
                }
                Err(_) => FrameOutcome::StillWaiting,
            }
        })
    }
}

impl Drop for FuzzBroker {
    fn drop(&mut self) {
        if let Some(running) = self.running.take() {
            self.runtime.block_on(running.shutdown());
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
