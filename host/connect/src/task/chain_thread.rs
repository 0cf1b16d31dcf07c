//! A source task's transforms on a thread of their own, pipelined with the task's thread: while
//! the transforms work on one poll's records, the task polls the next and converts and
//! produces the one before. On a machine with a core to spare, a chain of transforms then
//! costs the task little throughput; its CPU cost per record is unchanged.
//!
//! Polls go through in order, one at a time: results come back in the order polls were
//! submitted, and the task begins their acknowledgements in that order, so positions are still
//! stored only after every record before them. The chain has its own error handler (sources
//! have no dead-letter queue); what it gave up is counted with the task's figures.

use std::sync::mpsc::{self, Receiver, SyncSender};
use std::sync::Arc;
use std::thread::JoinHandle;

use super::batch::Batch;
use super::chain::{Chain, Origins, Staged};
use super::component::{Position, Schemas, Usage};
use super::{worker_failure, TaskControl};
use crate::errors::{ErrorHandler, TaskFailure};

/// Polls the chain may hold besides the one it is transforming: enough to keep it busy while
/// the task produces, few enough that a stop drops little polled work.
const QUEUED: usize = 1;

/// One poll's records (indices stamped) on their way through the chain.
pub struct Submitted {
    pub records: Batch,
    pub positions: Vec<Position>,
    pub schemas: Schemas,
}

/// A poll back from the chain: its records and positions as submitted, and what the chain made
/// of them.
pub struct Transformed {
    pub records: Batch,
    pub positions: Vec<Position>,
    pub outcome: Result<Staged<Batch>, TaskFailure>,
}

struct Report {
    poll: Transformed,
    /// The chain's figures after this poll.
    errors_total: u64,
    usage: Usage,
}

/// The handle the task keeps on its chain's thread.
pub struct ChainThread {
    jobs: Option<SyncSender<Submitted>>,
    done: Receiver<Report>,
    thread: Option<JoinHandle<()>>,
    in_flight: usize,
    /// Records the chain gave up under `errors.tolerance=all`, as of its last report.
    pub errors_total: u64,
    /// The transforms' usage, as of the last report.
    pub usage: Usage,
}

impl ChainThread {
    /// Starts the thread; it owns `chain` from now on and closes it when the task drops this.
    pub fn start(
        mut chain: Chain,
        mut errors: ErrorHandler,
        control: Arc<TaskControl>,
        name: String,
    ) -> Result<ChainThread, TaskFailure> {
        let (jobs, inbox) = mpsc::sync_channel::<Submitted>(QUEUED);
        let (outbox, done) = mpsc::channel::<Report>();
        let thread = std::thread::Builder::new()
            .name(name)
            .spawn(move || {
                for job in inbox {
                    let origins = Origins {
                        records: &job.records,
                        kafka_offsets: None,
                    };
                    let outcome = chain
                        .apply(
                            &job.records,
                            job.schemas,
                            origins,
                            &mut errors,
                            control.as_ref(),
                        )
                        .map(|staged| match staged {
                            Staged::Done(batch, schemas) => {
                                Staged::Done(batch.into_owned(), schemas)
                            }
                            Staged::Stopped => Staged::Stopped,
                        });
                    let report = Report {
                        poll: Transformed {
                            records: job.records,
                            positions: job.positions,
                            outcome,
                        },
                        errors_total: errors.errors_total,
                        usage: chain.usage(),
                    };
                    // A closed outbox means the task is gone. A failure goes back like any
                    // other outcome, in order: the task ends on it and stops submitting, so the
                    // thread never dies first and hides it behind a closed queue.
                    if outbox.send(report).is_err() {
                        break;
                    }
                }
                chain.close();
            })
            .map_err(|e| worker_failure(format!("cannot start the transforms' thread: {e}")))?;
        Ok(ChainThread {
            jobs: Some(jobs),
            done,
            thread: Some(thread),
            in_flight: 0,
            errors_total: 0,
            usage: Usage::default(),
        })
    }

    /// Polls submitted and not yet taken back.
    pub fn in_flight(&self) -> usize {
        self.in_flight
    }

    /// Hands a poll to the chain; waits while the chain's queue is full.
    pub fn submit(&mut self, poll: Submitted) -> Result<(), TaskFailure> {
        let sent = self.jobs.as_ref().map(|j| j.send(poll));
        match sent {
            Some(Ok(())) => {
                self.in_flight += 1;
                Ok(())
            }
            _ => Err(self.gone()),
        }
    }

    /// The oldest poll submitted, transformed (waits for it).
    pub fn take(&mut self) -> Result<Transformed, TaskFailure> {
        if self.in_flight == 0 {
            return Err(worker_failure("no poll is with the transforms"));
        }
        match self.done.recv() {
            Ok(report) => {
                self.in_flight -= 1;
                self.errors_total = report.errors_total;
                self.usage = report.usage;
                Ok(report.poll)
            }
            Err(_) => Err(self.gone()),
        }
    }

    /// The thread ended without a report: it panicked (a transform's panic would be a host
    /// bug; guest traps come back as errors).
    fn gone(&mut self) -> TaskFailure {
        self.in_flight = 0;
        worker_failure("the transforms' thread ended unexpectedly")
    }
}

impl Drop for ChainThread {
    fn drop(&mut self) {
        // Closing the queue ends the thread after the poll it is on; its results are dropped
        // unread (never produced, so their positions are never stored).
        self.jobs = None;
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
