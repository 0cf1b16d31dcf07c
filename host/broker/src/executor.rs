//! The log executor: a small pool of threads that runs log writes (appends and the fsyncs
//! `flush.messages` triggers) off the async workers, in order per partition.
//!
//! Each partition owns a [`SerialQueue`]. Jobs queued on one partition run one at a time in the order
//! they were queued; different partitions run in parallel on the pool. A partition is handed to a
//! worker only while it has queued jobs, so a partition stuck behind a long lock (a compaction pass)
//! holds at most one worker and the others keep serving every other partition.
//!
//! Queues are bounded ([`QUEUE_DEPTH`] jobs per partition): a producer that outruns the disk waits for
//! a slot (async callers await it, blocking callers block), so memory does not grow without bound.
//!
//! Invariant: a job never waits for another job of the executor (that could deadlock the pool); work
//! that must wait for log writes (topic deletion hooks, offset expiry) runs on blocking threads and
//! submits from there.

use std::collections::VecDeque;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

use parking_lot::{Condvar, Mutex};
use tokio::sync::{oneshot, OwnedSemaphorePermit, Semaphore};

/// Log threads. Enough that a few partitions stuck behind long locks leave threads for the rest;
/// appends are short (a write, sometimes an fsync), so more threads than that buy nothing on one disk.
pub const THREADS: usize = 4;

/// Jobs that may wait in one partition's queue.
pub const QUEUE_DEPTH: usize = 64;

/// Jobs one worker runs for a partition before it lets other partitions have the thread.
const BURST: usize = 16;

type Job = Box<dyn FnOnce() + Send>;

/// Why a job did not run.
#[derive(Debug, thiserror::Error)]
pub enum ExecError {
    #[error("the log executor has shut down")]
    Closed,
    #[error("a log job panicked")]
    Panicked,
}

/// One partition's ordered queue of jobs.
pub struct SerialQueue {
    jobs: Mutex<VecDeque<(Job, OwnedSemaphorePermit)>>,
    /// True while the queue sits in the ready list or a worker is running its jobs.
    scheduled: AtomicBool,
    slots: Arc<Semaphore>,
}

impl SerialQueue {
    /// Jobs queued or waiting for a slot (for metrics).
    pub fn depth(&self) -> usize {
        QUEUE_DEPTH.saturating_sub(self.slots.available_permits())
    }

    pub fn new() -> Arc<SerialQueue> {
        Arc::new(SerialQueue {
            jobs: Mutex::new(VecDeque::new()),
            scheduled: AtomicBool::new(false),
            slots: Arc::new(Semaphore::new(QUEUE_DEPTH)),
        })
    }
}

struct Shared {
    ready: Mutex<Ready>,
    wake: Condvar,
}

#[derive(Default)]
struct Ready {
    queues: VecDeque<Arc<SerialQueue>>,
    closed: bool,
}

/// The pool of log threads.
pub struct LogExecutor {
    shared: Arc<Shared>,
    threads: Mutex<Vec<JoinHandle<()>>>,
}

impl LogExecutor {
    /// Starts `threads` worker threads.
    pub fn start(threads: usize) -> Arc<LogExecutor> {
        let shared = Arc::new(Shared {
            ready: Mutex::new(Ready::default()),
            wake: Condvar::new(),
        });
        let handles = (0..threads.max(1))
            .filter_map(|i| {
                let shared = shared.clone();
                std::thread::Builder::new()
                    .name(format!("weft-log-{i}"))
                    .spawn(move || worker(&shared))
                    .map_err(|e| tracing::error!(error = %e, "cannot start a log thread"))
                    .ok()
            })
            .collect();
        Arc::new(LogExecutor {
            shared,
            threads: Mutex::new(handles),
        })
    }

    /// Runs `f` on the pool after every job queued on `queue` before it; awaits a free queue slot first.
    pub async fn run<R: Send + 'static>(
        &self,
        queue: &Arc<SerialQueue>,
        f: impl FnOnce() -> R + Send + 'static,
    ) -> Result<R, ExecError> {
        let permit = queue
            .slots
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| ExecError::Closed)?;
        let rx = self.submit(queue, permit, f)?;
        rx.await.map_err(|_| ExecError::Panicked)?
    }

    /// [`run`](Self::run) for blocking threads (never call it from an async task).
    pub fn run_blocking<R: Send + 'static>(
        &self,
        queue: &Arc<SerialQueue>,
        f: impl FnOnce() -> R + Send + 'static,
    ) -> Result<R, ExecError> {
        let permit = futures::executor::block_on(queue.slots.clone().acquire_owned())
            .map_err(|_| ExecError::Closed)?;
        let rx = self.submit(queue, permit, f)?;
        rx.blocking_recv().map_err(|_| ExecError::Panicked)?
    }

    fn submit<R: Send + 'static>(
        &self,
        queue: &Arc<SerialQueue>,
        permit: OwnedSemaphorePermit,
        f: impl FnOnce() -> R + Send + 'static,
    ) -> Result<oneshot::Receiver<Result<R, ExecError>>, ExecError> {
        let (tx, rx) = oneshot::channel();
        let job: Job = Box::new(move || {
            let out = std::panic::catch_unwind(AssertUnwindSafe(f)).map_err(|_| {
                tracing::error!("a log job panicked");
                ExecError::Panicked
            });
            let _ = tx.send(out);
        });
        let mut ready = self.shared.ready.lock();
        if ready.closed {
            return Err(ExecError::Closed);
        }
        queue.jobs.lock().push_back((job, permit));
        if !queue.scheduled.swap(true, Ordering::AcqRel) {
            ready.queues.push_back(queue.clone());
            self.shared.wake.notify_one();
        }
        Ok(rx)
    }

    /// Runs what is queued, then stops the threads; later submissions fail with `Closed`.
    pub fn shutdown(&self) {
        self.shared.ready.lock().closed = true;
        self.shared.wake.notify_all();
        for t in self.threads.lock().drain(..) {
            let _ = t.join();
        }
    }
}

fn worker(shared: &Shared) {
    loop {
        let queue = {
            let mut ready = shared.ready.lock();
            loop {
                if let Some(q) = ready.queues.pop_front() {
                    break q;
                }
                if ready.closed {
                    return;
                }
                shared.wake.wait(&mut ready);
            }
        };
        let mut ran = 0;
        loop {
            let next = queue.jobs.lock().pop_front();
            match next {
                Some((job, permit)) => {
                    job();
                    drop(permit);
                    ran += 1;
                    if ran >= BURST {
                        // Let other partitions have this thread; the queue stays scheduled.
                        let mut ready = shared.ready.lock();
                        ready.queues.push_back(queue.clone());
                        shared.wake.notify_one();
                        break;
                    }
                }
                None => {
                    queue.scheduled.store(false, Ordering::Release);
                    // A job queued between the pop and the store found `scheduled` still set and did
                    // not schedule the queue: take it back if so.
                    let pending = !queue.jobs.lock().is_empty();
                    if pending && !queue.scheduled.swap(true, Ordering::AcqRel) {
                        let mut ready = shared.ready.lock();
                        ready.queues.push_back(queue.clone());
                        shared.wake.notify_one();
                    }
                    break;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    #[test]
    fn jobs_of_one_queue_run_in_order_and_queues_run_in_parallel() {
        let exec = LogExecutor::start(2);
        let q1 = SerialQueue::new();
        let q2 = SerialQueue::new();
        let seen = Arc::new(Mutex::new(Vec::new()));
        // q1's first job blocks until q2's job ran: only possible if q2 runs on another thread.
        let gate = Arc::new((Mutex::new(false), Condvar::new()));
        let mut rxs = Vec::new();
        {
            let gate = gate.clone();
            let seen = seen.clone();
            let permit = q1.slots.clone().try_acquire_owned().unwrap();
            rxs.push(
                exec.submit(&q1, permit, move || {
                    let (m, c) = &*gate;
                    let mut open = m.lock();
                    while !*open {
                        c.wait(&mut open);
                    }
                    seen.lock().push(0);
                })
                .unwrap(),
            );
        }
        for i in 1..40 {
            let seen = seen.clone();
            let permit = q1.slots.clone().try_acquire_owned().unwrap();
            rxs.push(
                exec.submit(&q1, permit, move || seen.lock().push(i))
                    .unwrap(),
            );
        }
        let gate2 = gate.clone();
        exec.run_blocking(&q2, move || {
            let (m, c) = &*gate2;
            *m.lock() = true;
            c.notify_all();
        })
        .unwrap();
        for rx in rxs {
            rx.blocking_recv().unwrap().unwrap();
        }
        assert_eq!(*seen.lock(), (0..40).collect::<Vec<_>>());
        exec.shutdown();
        assert!(matches!(
            exec.run_blocking(&q2, || ()),
            Err(ExecError::Closed)
        ));
    }

    #[test]
    fn a_panicking_job_is_reported_and_the_pool_keeps_running() {
        let exec = LogExecutor::start(1);
        let q = SerialQueue::new();
        assert!(matches!(
            exec.run_blocking(&q, || panic!("boom")),
            Err(ExecError::Panicked)
        ));
        let n = Arc::new(AtomicUsize::new(0));
        let n2 = n.clone();
        exec.run_blocking(&q, move || n2.fetch_add(1, Ordering::SeqCst))
            .unwrap();
        assert_eq!(n.load(Ordering::SeqCst), 1);
        exec.shutdown();
    }
}
