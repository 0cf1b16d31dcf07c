//! The fetching half: [`BatchFetcher`] keeps an assignment of partitions, background threads fetch
//! their stored batches into a bounded buffer, and the caller takes them out in offset order.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use bytes::Bytes;

use crate::cluster::TopicPartition;
use crate::config::WireConfig;
use crate::error::WireError;
use crate::fetch_thread;

/// One stored record batch of a partition, as the cluster returned it, ready to append elsewhere.
///
/// `bytes` is one whole v2 batch (61-byte header + records) of user records whose offset deltas are
/// exactly 0..records-1, with CreateTime timestamps and the upstream base offset in its header.
#[derive(Clone, Debug)]
pub struct FetchedBatch {
    pub topic: Arc<str>,
    pub partition: i32,
    /// Upstream offset of the first record.
    pub base_offset: i64,
    /// Upstream offset of the last record: always `base_offset + records - 1`.
    pub last_offset: i64,
    pub records: u32,
    pub bytes: Bytes,
}

/// How a [`BatchFetcher`] fetches.
#[derive(Clone, Debug)]
pub struct FetchSettings {
    /// Most bytes one Fetch request asks for.
    pub max_bytes: i32,
    /// Most bytes one Fetch request asks for per partition.
    pub partition_max_bytes: i32,
    /// How long a broker may hold a Fetch request waiting for data.
    pub max_wait: Duration,
    /// Bytes fetched but not taken above which fetching pauses.
    pub buffer_bytes: usize,
    /// Fetch only committed transactional records (and no aborted ones).
    pub read_committed: bool,
    /// Threads the assignment is split over; each has its own connections.
    pub connections: usize,
}

impl Default for FetchSettings {
    fn default() -> Self {
        FetchSettings {
            max_bytes: 8 << 20,
            partition_max_bytes: 4 << 20,
            max_wait: Duration::from_millis(100),
            buffer_bytes: 16 << 20,
            read_committed: false,
            connections: 1,
        }
    }
}

/// Fetches the stored batches of its assigned partitions in background threads.
pub struct BatchFetcher {
    shared: Arc<Shared>,
    threads: Vec<JoinHandle<()>>,
}

/// State shared by the caller and the fetch threads.
pub(crate) struct Shared {
    pub(crate) state: Mutex<State>,
    /// Signalled when batches or errors arrive (for `take`).
    pub(crate) ready: Condvar,
    /// Signalled when the fetch threads may have something to do: assignment changed, buffer space
    /// freed, stop.
    pub(crate) wake: Condvar,
    pub(crate) stop: Arc<AtomicBool>,
    pub(crate) settings: FetchSettings,
}

pub(crate) struct State {
    pub(crate) parts: HashMap<TopicPartition, Part>,
    pub(crate) buffered_bytes: usize,
    pub(crate) errors: VecDeque<WireError>,
    next_epoch: u64,
    /// Where `take` starts looking, so no partition is always served last.
    rotate: usize,
}

/// One assigned partition.
pub(crate) struct Part {
    /// The fetch thread that owns it.
    pub(crate) thread: usize,
    /// Changes whenever the partition restarts at a new offset, so a fetch thread's result for an
    /// older position is thrown away.
    pub(crate) epoch: u64,
    /// The next offset to fetch; -2/-1 until resolved to the earliest/latest offset.
    pub(crate) fetch_pos: i64,
    /// The next offset the caller gets (after the last batch taken), or what it asked for.
    handed: i64,
    pub(crate) buffered: VecDeque<FetchedBatch>,
}

impl Shared {
    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        // A fetch thread that panicked while holding the lock leaves plain data behind; carry on.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl BatchFetcher {
    /// Starts the background fetch thread(s); nothing connects until the first assignment.
    pub fn start(cfg: WireConfig, settings: FetchSettings) -> Result<BatchFetcher, WireError> {
        if cfg.bootstrap.is_empty() {
            return Err(WireError::InvalidConfig("no bootstrap broker".to_string()));
        }
        if settings.max_bytes <= 0 || settings.partition_max_bytes <= 0 {
            return Err(WireError::InvalidConfig(
                "fetch max_bytes and partition_max_bytes must be positive".to_string(),
            ));
        }
        let threads = settings.connections.max(1);
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                parts: HashMap::new(),
                buffered_bytes: 0,
                errors: VecDeque::new(),
                next_epoch: 0,
                rotate: 0,
            }),
            ready: Condvar::new(),
            wake: Condvar::new(),
            stop: Arc::new(AtomicBool::new(false)),
            settings,
        });
        let mut fetcher = BatchFetcher {
            shared: shared.clone(),
            threads: Vec::with_capacity(threads),
        };
        for index in 0..threads {
            let shared = shared.clone();
            let cfg = cfg.clone();
            let handle = std::thread::Builder::new()
                .name(format!("weft-wire-fetch-{index}"))
                .spawn(move || fetch_thread::run(index, shared, cfg))
                .map_err(|e| WireError::io("local", e))?;
            // Pushed one by one so a failed spawn still stops and joins the earlier ones (Drop).
            fetcher.threads.push(handle);
        }
        Ok(fetcher)
    }

    /// Replaces the assignment. `offset >= 0` is the next offset to read; -2 = earliest,
    /// -1 = latest. A partition already assigned whose next offset to hand out equals the asked one
    /// keeps its state and buffered batches; others restart at the asked offset (buffered batches
    /// for them dropped).
    pub fn assign(&self, positions: &[(String, i32, i64)]) -> Result<(), WireError> {
        for (topic, partition, offset) in positions {
            if topic.is_empty() || *partition < 0 || *offset < -2 {
                return Err(WireError::InvalidConfig(format!(
                    "cannot assign {topic:?}[{partition}] at offset {offset}"
                )));
            }
        }
        let threads = self.threads.len().max(1);
        let mut st = self.shared.lock();
        let mut old = std::mem::take(&mut st.parts);
        let mut load = vec![0usize; threads];
        let mut fresh = Vec::new();
        for (topic, partition, offset) in positions {
            let tp: TopicPartition = (Arc::from(topic.as_str()), *partition);
            match old.remove(&tp) {
                Some(part) if part.handed == *offset => {
                    load[part.thread] += 1;
                    st.parts.insert(tp, part);
                }
                Some(part) => {
                    st.buffered_bytes -= buffered_size(&part.buffered);
                    fresh.push((tp, *offset));
                }
                None => fresh.push((tp, *offset)),
            }
        }
        for part in old.values() {
            st.buffered_bytes -= buffered_size(&part.buffered);
        }
        for (tp, offset) in fresh {
            // New partitions go to the least loaded thread; kept ones stay where their position is.
            let thread = (0..threads).min_by_key(|&t| load[t]).unwrap_or(0);
            load[thread] += 1;
            st.next_epoch += 1;
            let part = Part {
                thread,
                epoch: st.next_epoch,
                fetch_pos: offset,
                handed: offset,
                buffered: VecDeque::new(),
            };
            st.parts.insert(tp, part);
        }
        drop(st);
        self.shared.wake.notify_all();
        Ok(())
    }

    /// Batches fetched since the last call, in offset order per partition, about `max_records`
    /// records at most (but always at least one batch if any is buffered), waiting at most
    /// `timeout` for the first. An error the fetch threads met that the caller should see (a
    /// non-retriable partition error, a corrupt batch that was skipped, the cluster unreachable for
    /// longer than the request timeout) is returned once as `Err`; fetching goes on.
    pub fn take(
        &self,
        max_records: usize,
        timeout: Duration,
    ) -> Result<Vec<FetchedBatch>, WireError> {
        let deadline = Instant::now() + timeout;
        let mut st = self.shared.lock();
        loop {
            if let Some(e) = st.errors.pop_front() {
                return Err(e);
            }
            if st.buffered_bytes > 0 {
                break;
            }
            let now = Instant::now();
            if now >= deadline {
                return Ok(Vec::new());
            }
            st = self
                .shared
                .ready
                .wait_timeout(st, deadline - now)
                .map(|(g, _)| g)
                .unwrap_or_else(|e| e.into_inner().0);
        }
        let out = take_buffered(&mut st, max_records);
        drop(st);
        self.shared.wake.notify_all();
        Ok(out)
    }
}

/// Moves up to about `max_records` records' batches out of the buffer, partition by partition,
/// starting at a rotating partition.
fn take_buffered(st: &mut State, max_records: usize) -> Vec<FetchedBatch> {
    let mut keys: Vec<TopicPartition> = st
        .parts
        .iter()
        .filter(|(_, p)| !p.buffered.is_empty())
        .map(|(k, _)| k.clone())
        .collect();
    keys.sort();
    if keys.is_empty() {
        return Vec::new();
    }
    let first = st.rotate % keys.len();
    st.rotate = st.rotate.wrapping_add(1);
    keys.rotate_left(first);
    let mut out = Vec::new();
    let mut records = 0usize;
    let mut freed = 0usize;
    'parts: for key in keys {
        let Some(part) = st.parts.get_mut(&key) else {
            continue;
        };
        while let Some(b) = part.buffered.front() {
            if !out.is_empty() && records + b.records as usize > max_records {
                break 'parts;
            }
            let Some(b) = part.buffered.pop_front() else {
                break;
            };
            records += b.records as usize;
            freed += b.bytes.len();
            part.handed = b.last_offset + 1;
            out.push(b);
        }
    }
    st.buffered_bytes -= freed;
    out
}

pub(crate) fn buffered_size(b: &VecDeque<FetchedBatch>) -> usize {
    b.iter().map(|x| x.bytes.len()).sum()
}

impl Drop for BatchFetcher {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::Relaxed);
        {
            // Taking the lock orders the flag before any thread's next wait, so none sleeps
            // through the notification.
            let _st = self.shared.lock();
        }
        self.shared.wake.notify_all();
        self.shared.ready.notify_all();
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}
