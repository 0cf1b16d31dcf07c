//! The broker process: binds listeners, accepts connections, runs background maintenance, shuts down.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::config::{BrokerConfig, Listener};
use crate::error::BrokerError;
use crate::topics::{write_atomically, Topics};

/// Shared broker state every connection and handler sees.
pub struct Broker {
    pub config: BrokerConfig,
    pub topics: Topics,
    /// The group coordinator (consumer groups and committed offsets).
    pub groups: crate::groups::Groups,
    pub cluster_id: String,
    /// Advertised address per listener name (ports resolved after binding, so port 0 works).
    pub advertised: Vec<Listener>,
    /// acks=0 produce requests that failed (the producer gets no answer, so they are counted and logged).
    pub acks0_failures: std::sync::atomic::AtomicU64,
    /// Producer ids for InitProducerId.
    pub producer_ids: crate::producer_ids::ProducerIds,
    /// The transaction coordinator.
    pub transactions: crate::txn::TxnCoordinator,
    shutdown: watch::Sender<bool>,
}

impl Broker {
    /// The address advertised for the listener a connection arrived on.
    pub fn advertised_for(&self, listener_name: &str) -> &Listener {
        self.advertised
            .iter()
            .find(|l| l.name == listener_name)
            .or_else(|| self.advertised.first())
            .unwrap_or_else(|| &self.config.listeners[0])
    }

    pub fn node_id(&self) -> i32 {
        self.config.node_id
    }

    /// Resolves when shutdown has been requested.
    pub fn shutdown_signal(&self) -> watch::Receiver<bool> {
        self.shutdown.subscribe()
    }

    pub fn is_shutting_down(&self) -> bool {
        *self.shutdown.borrow()
    }
}

/// A started broker: its bound addresses and the handle to stop it.
pub struct RunningBroker {
    pub broker: Arc<Broker>,
    pub bound: Vec<(String, SocketAddr)>,
    tasks: Vec<JoinHandle<()>>,
}

impl Broker {
    /// Recovers the logs, binds every listener and starts serving.
    pub async fn start(config: BrokerConfig) -> Result<RunningBroker, BrokerError> {
        let started = std::time::Instant::now();
        let exec = crate::executor::LogExecutor::start(crate::executor::THREADS);
        let topics = match Topics::open(&config, exec.clone()) {
            Ok(t) => t,
            Err(e) => {
                exec.shutdown();
                return Err(e);
            }
        };
        let cluster_id = load_or_create_meta(&config)?;
        let meta_dir = config
            .log_dirs
            .first()
            .map(|d| d.as_path())
            .unwrap_or(Path::new("."))
            .join("__weft_meta");
        let producer_ids = match crate::producer_ids::ProducerIds::open(&meta_dir) {
            Ok(p) => p,
            Err(e) => {
                exec.shutdown();
                return Err(e);
            }
        };
        let groups = crate::groups::Groups::new(&config);
        let loaded = match groups.load(&topics) {
            Ok(l) => l,
            Err(e) => {
                exec.shutdown();
                return Err(BrokerError::OffsetsReplay(e));
            }
        };
        if loaded.offsets > 0 || loaded.skipped_batches > 0 {
            tracing::info!(
                groups = loaded.groups,
                offsets = loaded.offsets,
                skipped_batches = loaded.skipped_batches,
                "loaded committed offsets"
            );
        }
        let transactions = crate::txn::TxnCoordinator::new(config.transactions.clone());
        match transactions.load(&topics) {
            Ok(r) if r.transactional_ids > 0 || r.skipped_batches > 0 => {
                tracing::info!(
                    transactional_ids = r.transactional_ids,
                    unfinished = r.unfinished,
                    skipped_batches = r.skipped_batches,
                    "loaded transaction state"
                )
            }
            Ok(_) => {}
            Err(e) => {
                exec.shutdown();
                return Err(BrokerError::Metadata {
                    path: meta_dir.with_file_name(crate::txn::TRANSACTION_STATE_TOPIC),
                    reason: e.to_string(),
                });
            }
        }

        let mut bound_listeners = Vec::new();
        for l in &config.listeners {
            let host = if l.host.is_empty() {
                "0.0.0.0"
            } else {
                l.host.as_str()
            };
            let addr = format!("{host}:{}", l.port);
            let listener = bind_listener(
                &addr,
                config.socket_send_buffer_bytes,
                config.socket_receive_buffer_bytes,
            )
            .await
            .map_err(|source| BrokerError::Bind {
                addr: addr.clone(),
                source,
            })?;
            let local = listener
                .local_addr()
                .map_err(|source| BrokerError::Bind { addr, source })?;
            bound_listeners.push((l.name.clone(), listener, local));
        }
        // Advertise the ports actually bound (a configured port 0 means "any free port").
        let mut advertised = config.advertised();
        for a in &mut advertised {
            if a.port == 0 {
                if let Some((_, _, local)) = bound_listeners.iter().find(|(n, _, _)| *n == a.name) {
                    a.port = local.port();
                }
            }
        }
        let (shutdown, _) = watch::channel(false);
        let broker = Arc::new(Broker {
            config,
            topics,
            groups,
            cluster_id,
            advertised,
            acks0_failures: std::sync::atomic::AtomicU64::new(0),
            producer_ids,
            transactions,
            shutdown,
        });
        crate::metrics::install(&broker);
        // Deleting a topic removes its committed offsets; Weak because the hook lives inside the broker.
        let weak = Arc::downgrade(&broker);
        broker.topics.on_delete(Box::new(move |topic| {
            if let Some(b) = weak.upgrade() {
                b.groups.topic_deleted(&b.topics, topic);
            }
        }));

        let mut tasks = Vec::new();
        let mut bound = Vec::new();
        for (name, listener, local) in bound_listeners {
            bound.push((name.clone(), local));
            tasks.push(tokio::spawn(accept_loop(
                broker.clone(),
                listener,
                Arc::from(name.as_str()),
            )));
        }
        tasks.extend(crate::maintenance::spawn(broker.clone()));
        tasks.extend(crate::txn::spawn_timers(broker.clone()));
        tracing::info!(
            listeners = ?bound.iter().map(|(n, a)| format!("{n}://{a}")).collect::<Vec<_>>(),
            advertised = ?broker.advertised.iter().map(|l| format!("{}://{}:{}", l.name, l.host, l.port)).collect::<Vec<_>>(),
            log_dirs = ?broker.config.log_dirs,
            topics = broker.topics.list().len(),
            startup_ms = started.elapsed().as_millis() as u64,
            "broker started"
        );
        Ok(RunningBroker {
            broker,
            bound,
            tasks,
        })
    }
}

impl RunningBroker {
    /// Stops accepting, lets connections finish their current request, and closes every log cleanly.
    pub async fn shutdown(self) {
        let _ = self.broker.shutdown.send(true);
        for t in self.tasks {
            let _ = t.await;
        }
        // Give in-flight requests a moment to complete before the logs close under them.
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        // Closing flushes every log and joins the log threads: blocking work.
        let broker = self.broker.clone();
        if tokio::task::spawn_blocking(move || broker.topics.close_all())
            .await
            .is_err()
        {
            tracing::error!("closing the logs panicked");
        }
        tracing::info!("broker stopped");
    }
}

/// Binds `addr` (host:port, the host resolved as `TcpListener::bind` does) with the configured
/// socket buffers set before `listen`, as Kafka's acceptor sets them: accepted connections inherit
/// both, and the receive buffer is in place before the window scale is agreed. A fixed send buffer
/// bounds how much of a fetch the kernel queues per connection: at Kafka's 100 KiB default the
/// broker's CPU per consumed record was about a third lower than with autotuning; a fixed receive
/// buffer cost produce more than it saved, so Weft leaves that one to the OS by default
/// (docs/architecture.md, "Socket buffers").
async fn bind_listener(
    addr: &str,
    send_buffer: Option<u32>,
    receive_buffer: Option<u32>,
) -> std::io::Result<TcpListener> {
    let mut last_error = None;
    for candidate in tokio::net::lookup_host(addr).await? {
        match listen_on(candidate, send_buffer, receive_buffer) {
            Ok(listener) => return Ok(listener),
            Err(e) => last_error = Some(e),
        }
    }
    Err(last_error.unwrap_or_else(|| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "the address resolved to nothing",
        )
    }))
}

/// One resolved address of [`bind_listener`]: the socket, its options, bind and listen.
fn listen_on(
    addr: SocketAddr,
    send_buffer: Option<u32>,
    receive_buffer: Option<u32>,
) -> std::io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    // As std and tokio do for their listeners, so a restart can rebind at once.
    socket.set_reuseaddr(true)?;
    if let Some(size) = send_buffer {
        socket.set_send_buffer_size(size)?;
    }
    if let Some(size) = receive_buffer {
        socket.set_recv_buffer_size(size)?;
    }
    socket.bind(addr)?;
    socket.listen(1024)
}

async fn accept_loop(broker: Arc<Broker>, listener: TcpListener, name: Arc<str>) {
    let mut shutdown = broker.shutdown_signal();
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = shutdown.changed() => break,
        };
        match accepted {
            Ok((stream, peer)) => {
                tracing::debug!(%peer, "accepted connection");
                let id = crate::metrics::CONNECTIONS.accepted();
                // Every line logged while serving the connection carries its id (and, in
                // --log-format json, the span's fields), so one client's requests can be followed.
                let span = tracing::info_span!("conn", id, %peer);
                tokio::spawn(tracing::Instrument::instrument(
                    crate::connection::serve(
                        broker.clone(),
                        stream,
                        peer,
                        name.clone(),
                        broker.shutdown_signal(),
                    ),
                    span,
                ));
            }
            Err(e) => {
                // Typically EMFILE: back off instead of spinning.
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
        }
    }
}

/// Reads `meta.properties` (cluster.id, node.id) from the first log dir, creating it on first start.
/// A configured `cluster.id` that differs from the stored one stops start-up, as in Kafka.
fn load_or_create_meta(config: &BrokerConfig) -> Result<String, BrokerError> {
    let dir = config
        .log_dirs
        .first()
        .map(|d| d.as_path())
        .unwrap_or(Path::new("."));
    let path = dir.join("meta.properties");
    if let Ok(text) = std::fs::read_to_string(&path) {
        let stored = crate::properties::parse(&text)
            .into_iter()
            .find(|(k, _)| k == "cluster.id")
            .map(|(_, v)| v);
        if let Some(stored) = stored {
            if let Some(configured) = &config.cluster_id {
                if configured != &stored {
                    return Err(BrokerError::Metadata {
                        path,
                        reason: format!(
                            "stored cluster.id {stored} does not match configured cluster.id {configured}"
                        ),
                    });
                }
            }
            return Ok(stored);
        }
    }
    let id = config.cluster_id.clone().unwrap_or_else(new_cluster_id);
    let text = format!(
        "#Written by Weft on first start\nversion=1\ncluster.id={id}\nnode.id={}\n",
        config.node_id
    );
    write_atomically(&path, text.as_bytes())?;
    Ok(id)
}

/// A Kafka-style cluster id: a random UUID in URL-safe base64 without padding (22 characters).
fn new_cluster_id() -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let bytes = uuid::Uuid::new_v4().into_bytes();
    let mut out = String::with_capacity(22);
    let mut acc: u32 = 0;
    let mut bits = 0;
    for b in bytes {
        acc = (acc << 8) | b as u32;
        bits += 8;
        while bits >= 6 {
            bits -= 6;
            out.push(ALPHABET[((acc >> bits) & 63) as usize] as char);
        }
    }
    if bits > 0 {
        out.push(ALPHABET[((acc << (6 - bits)) & 63) as usize] as char);
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn cluster_id_shape() {
        let id = super::new_cluster_id();
        assert_eq!(id.len(), 22);
        assert!(id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'));
    }
}
