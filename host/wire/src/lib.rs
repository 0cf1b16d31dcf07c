//! `weft-wire`: a small blocking Kafka client (std threads and sockets, no async runtime) that moves
//! stored record batches between clusters as bytes, for MirrorMaker-style batch passthrough.
//!
//! It owns the client side of that path: connections and version negotiation, metadata and leader
//! tracking, the fetch loop that splits Fetch responses into whole batches without decoding them
//! ([`BatchFetcher`]), the normalisation that makes every handed-out batch appendable as it is
//! (offset deltas 0..n-1, CreateTime, no control batches; the rare batch that is not gets decoded
//! and re-encoded), and the produce loop that appends such batches unchanged — same compression,
//! only the header restamped — to another cluster ([`BatchAppender`]). Records are never decoded
//! on the common path. Delivery is at least once: no idempotent producer, a request that timed out
//! is sent again.
//!
//! Only PLAINTEXT is spoken (no TLS, no SASL); [`WireConfig::from_properties`] refuses the rest.

mod appender;
mod backoff;
mod cluster;
mod config;
mod conn;
mod encode;
mod error;
mod fetch_thread;
mod fetcher;
mod layout;
mod normalise;
mod produce_thread;
mod restamp;
#[cfg(test)]
mod testing;

pub use appender::{AppendSettings, BatchAppender, Delivery};
pub use config::WireConfig;
pub use error::WireError;
pub use fetcher::{BatchFetcher, FetchSettings, FetchedBatch};

// The fetcher lives in a plugin instance's host state and the appender is shared by a task's
// threads: both must stay Send + Sync (checked at compile time).
const _: () = {
    const fn send_sync<T: Send + Sync>() {}
    send_sync::<BatchFetcher>();
    send_sync::<BatchAppender>();
    send_sync::<WireError>();
};
