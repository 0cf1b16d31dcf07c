//! The appending half: [`BatchAppender`] queues whole batches for topic partitions with bounded
//! memory, and its thread produces them (see `produce_thread`) and reports each one's outcome.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use bytes::Bytes;

use crate::cluster::TopicPartition;
use crate::config::WireConfig;
use crate::error::WireError;
use crate::produce_thread;
use crate::restamp::restamp;

/// Called once per batch with the base offset the cluster stored it at, or why it was not stored.
pub type Delivery = Box<dyn FnOnce(Result<i64, WireError>) + Send>;

/// How a [`BatchAppender`] produces.
#[derive(Clone, Debug)]
pub struct AppendSettings {
    /// Produce acks: -1 (all in-sync replicas), 1 (leader) or 0 (none; deliveries get Ok(-1)).
    pub acks: i16,
    /// Bytes queued or in flight above which `send` blocks.
    pub queue_bytes: usize,
    /// How long a batch may wait for a successful append, retries included.
    pub delivery_timeout: Duration,
    /// A Produce request carries batches up to this many bytes (at least one).
    pub max_request_bytes: usize,
}

impl Default for AppendSettings {
    fn default() -> Self {
        AppendSettings {
            acks: -1,
            queue_bytes: 32 << 20,
            delivery_timeout: Duration::from_secs(120),
            max_request_bytes: 8 << 20,
        }
    }
}

/// Appends whole batches to a cluster from one background thread, per partition in queue order.
pub struct BatchAppender {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

/// One queued batch.
pub(crate) struct Item {
    pub(crate) tp: TopicPartition,
    /// The restamped batch, as it is sent.
    pub(crate) batch: Bytes,
    pub(crate) done: Delivery,
    pub(crate) queued_at: Instant,
}

pub(crate) struct Shared {
    pub(crate) state: Mutex<State>,
    /// Signalled when batches are queued or the appender stops (for the thread).
    pub(crate) work: Condvar,
    /// Signalled when batches are delivered or the appender stops (for `send` and `flush`).
    pub(crate) progress: Condvar,
    pub(crate) stop: Arc<AtomicBool>,
    pub(crate) settings: AppendSettings,
}

pub(crate) struct State {
    /// Queued and not yet picked up by the thread.
    pub(crate) incoming: VecDeque<Item>,
    /// Bytes of the batches queued or in flight.
    pub(crate) bytes: usize,
    /// Batches queued or in flight.
    pub(crate) pending: usize,
    pub(crate) stopped: bool,
}

impl Shared {
    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Records that `n` batches of `bytes` bytes had their deliveries called.
    pub(crate) fn delivered(&self, n: usize, bytes: usize) {
        let mut st = self.lock();
        st.pending -= n;
        st.bytes -= bytes;
        drop(st);
        self.progress.notify_all();
    }
}

impl BatchAppender {
    pub fn start(cfg: WireConfig, settings: AppendSettings) -> Result<BatchAppender, WireError> {
        if cfg.bootstrap.is_empty() {
            return Err(WireError::InvalidConfig("no bootstrap broker".to_string()));
        }
        if !matches!(settings.acks, -1..=1) {
            return Err(WireError::InvalidConfig(format!(
                "acks must be -1, 0 or 1, not {}",
                settings.acks
            )));
        }
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                incoming: VecDeque::new(),
                bytes: 0,
                pending: 0,
                stopped: false,
            }),
            work: Condvar::new(),
            progress: Condvar::new(),
            stop: Arc::new(AtomicBool::new(false)),
            settings,
        });
        let thread_shared = shared.clone();
        let thread = std::thread::Builder::new()
            .name("weft-wire-append".to_string())
            .spawn(move || produce_thread::run(thread_shared, cfg))
            .map_err(|e| WireError::io("local", e))?;
        Ok(BatchAppender {
            shared,
            thread: Some(thread),
        })
    }

    /// Queues one whole v2 batch whose records have offset deltas 0..n-1, for `topic`/`partition`
    /// (partition >= 0). Blocks while more than `queue_bytes` are queued or in flight
    /// (back-pressure). On `Err` the batch was not queued and `done` is dropped without being
    /// called: `Stopped` after the appender stopped, `Corrupt` for bytes that are not one whole
    /// batch with a valid CRC, `InvalidConfig` for a bad topic or partition.
    pub fn send(
        &self,
        topic: &str,
        partition: i32,
        batch: Bytes,
        done: Delivery,
    ) -> Result<(), WireError> {
        if topic.is_empty() || partition < 0 {
            return Err(WireError::InvalidConfig(format!(
                "cannot append to {topic:?}[{partition}]"
            )));
        }
        let batch = restamp(&batch).map_err(|reason| WireError::Corrupt {
            topic: topic.to_string(),
            partition,
            offset: weft_log::batch::BatchHeader::parse(&batch)
                .map(|h| h.base_offset)
                .unwrap_or(-1),
            reason,
        })?;
        let len = batch.len();
        let limit = self.shared.settings.queue_bytes;
        let mut st = self.shared.lock();
        loop {
            if st.stopped {
                return Err(WireError::Stopped);
            }
            // One batch larger than the whole queue still goes, alone.
            if st.bytes == 0 || st.bytes + len <= limit {
                break;
            }
            st = self
                .shared
                .progress
                .wait(st)
                .unwrap_or_else(|e| e.into_inner());
        }
        st.bytes += len;
        st.pending += 1;
        st.incoming.push_back(Item {
            tp: (Arc::from(topic), partition),
            batch,
            done,
            queued_at: Instant::now(),
        });
        drop(st);
        self.shared.work.notify_all();
        Ok(())
    }

    /// Waits until every queued batch had its delivery called, at most `timeout`; false if some
    /// remain.
    pub fn flush(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut st = self.shared.lock();
        while st.pending > 0 {
            let now = Instant::now();
            if now >= deadline || st.stopped {
                break;
            }
            st = self
                .shared
                .progress
                .wait_timeout(st, deadline - now)
                .map(|(g, _)| g)
                .unwrap_or_else(|e| e.into_inner().0);
        }
        st.pending == 0
    }

    /// Batches queued or in flight.
    pub fn pending(&self) -> usize {
        self.shared.lock().pending
    }
}

impl Drop for BatchAppender {
    /// Stops the thread; batches not yet delivered get `Err(Stopped)` deliveries (some of those
    /// in flight may have been stored all the same).
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::Relaxed);
        self.shared.lock().stopped = true;
        self.shared.work.notify_all();
        self.shared.progress.notify_all();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
