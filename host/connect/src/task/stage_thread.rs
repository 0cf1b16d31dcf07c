//! A source task's transforms and converters on a thread of their own, pipelined with the
//! task's thread: while they work on one poll's records, the task polls the next and produces
//! the one before. The task's thread keeps what must stay there (the connector's calls and the
//! producer); the record work moves, so the two threads carry comparable loads and a chain of
//! transforms costs the task little throughput on a machine with a core to spare. The CPU cost
//! per record is unchanged.
//!
//! Polls go through in order, one at a time: results come back in the order polls were
//! submitted, and the task begins their acknowledgements in that order, so positions are still
//! stored only after every record before them. The stages have their own error handler
//! (sources have no dead-letter queue); what they gave up is counted with the task's figures.

use std::sync::mpsc::{self, Receiver, SyncSender};
use std::sync::Arc;
use std::thread::JoinHandle;

use super::batch::Batch;
use super::chain::{transform_and_convert, Chain, Converters, Origins, Staged};
use super::component::{Position, Schemas, Usage};
use super::{worker_failure, TaskControl};
use crate::errors::{ErrorHandler, TaskFailure};

/// Polls the thread may hold besides the one it is working on: enough to keep it busy while
/// the task produces, few enough that a stop drops little polled work.
const QUEUED: usize = 1;

/// One poll's records (indices stamped) on their way through the stages.
pub struct Submitted {
    pub records: Batch,
    pub positions: Vec<Position>,
    pub schemas: Schemas,
}

/// A poll back from the stages: its records and positions as submitted, and what the
/// transforms and converters made of them (the records to produce).
pub struct ConvertedPoll {
    pub records: Batch,
    pub positions: Vec<Position>,
    pub outcome: Result<Staged<Batch>, TaskFailure>,
}

struct Report {
    poll: ConvertedPoll,
    /// The stages' figures after this poll.
    errors_total: u64,
    usage: Usage,
}

/// The handle the task keeps on its stages' thread.
pub struct StageThread {
    jobs: Option<SyncSender<Submitted>>,
    done: Receiver<Report>,
    thread: Option<JoinHandle<()>>,
    in_flight: usize,
    /// Records the stages gave up under `errors.tolerance=all`, as of their last report.
    pub errors_total: u64,
    /// The transforms' and converters' usage, as of the last report.
    pub usage: Usage,
}

impl StageThread {
    /// Starts the thread; it owns `chain` and `conv` from now on and closes them when the task
    /// drops this.
    pub fn start(
        mut chain: Chain,
        mut conv: Converters,
        mut errors: ErrorHandler,
        control: Arc<TaskControl>,
        name: String,
    ) -> Result<StageThread, TaskFailure> {
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
                    let outcome = transform_and_convert(
                        &mut chain,
                        &mut conv,
                        &job.records,
                        job.schemas,
                        origins,
                        &mut errors,
                        control.as_ref(),
                    );
                    let report = Report {
                        poll: ConvertedPoll {
                            records: job.records,
                            positions: job.positions,
                            outcome,
                        },
                        errors_total: errors.errors_total,
                        usage: chain.usage() + conv.usage(),
                    };
                    // A closed outbox means the task is gone. A failure goes back like any
                    // other outcome, in order: the task ends on it and stops submitting, so the
                    // thread never dies first and hides it behind a closed queue.
                    if outbox.send(report).is_err() {
                        break;
                    }
                }
                chain.close();
                conv.close();
            })
            .map_err(|e| worker_failure(format!("cannot start the stages' thread: {e}")))?;
        Ok(StageThread {
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

    /// Hands a poll to the stages; waits while their queue is full.
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

    /// The oldest poll submitted, transformed and converted (waits for it).
    pub fn take(&mut self) -> Result<ConvertedPoll, TaskFailure> {
        if self.in_flight == 0 {
            return Err(worker_failure("no poll is with the stages' thread"));
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

    /// The thread ended without a report: it panicked (a stage's panic would be a host bug;
    /// guest traps come back as errors).
    fn gone(&mut self) -> TaskFailure {
        self.in_flight = 0;
        worker_failure("the stages' thread ended unexpectedly")
    }
}

impl Drop for StageThread {
    fn drop(&mut self) {
        // Closing the queue ends the thread after the poll it is on; its results are dropped
        // unread (never produced, so their positions are never stored).
        self.jobs = None;
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
