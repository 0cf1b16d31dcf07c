//! The `task-context` import: what a connector task asks of the worker. Requests are queued
//! per instance and drained by the worker after each call; `stored-positions` and
//! `written-positions` are answered by functions the worker installs.

use std::sync::{Arc, Mutex};

use super::SourcePosition;

/// A request a connector task made through `task-context`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TaskRequest {
    /// Sink: stop delivering records of these `(topic, partition)`s until resumed.
    Pause(Vec<(String, i32)>),
    /// Sink: deliver records of these partitions again.
    Resume(Vec<(String, i32)>),
    /// Sink: deliver records again from these `(topic, partition, offset)`s.
    Rewind(Vec<(String, i32, i64)>),
    /// Sink: call `pre-commit` soon.
    Commit,
    /// Call `task-configs` again and restart the connector's tasks.
    Reconfigure,
}

/// Answers a source's `stored-positions`: the stored positions of the given source partitions,
/// leaving out those never stored. Called on the task's thread, inside a plugin call; the time
/// it takes does not count against the call deadline.
pub type PositionReader = Arc<dyn Fn(&[String]) -> Vec<SourcePosition> + Send + Sync>;

/// Where a source position's record went: the position, and the topic, partition and offset at
/// which the cluster stored the record it is attributed to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WrittenPosition {
    /// The source partition and position.
    pub position: SourcePosition,
    /// The topic the record was written to.
    pub topic: String,
    /// Its partition.
    pub partition: i32,
    /// Its offset there.
    pub offset: i64,
}

/// Answers a source's `written-positions`: the positions acknowledged since the last call whose
/// record was written (latest per source partition), taken so the next call starts afresh.
/// Called on the task's thread, inside a plugin call.
pub type WrittenReader = Arc<dyn Fn() -> Vec<WrittenPosition> + Send + Sync>;

/// At most this many requests wait to be drained; more are dropped (a plugin cannot make the
/// host hold unbounded memory).
pub(crate) const MAX_QUEUED_REQUESTS: usize = 1024;

/// Shared by an [`super::Instance`] and the host state of its current store, so that requests
/// and the reader outlive a store dropped after a failure.
#[derive(Default)]
pub(crate) struct TaskLink {
    pub(crate) requests: Mutex<Vec<TaskRequest>>,
    pub(crate) reader: Mutex<Option<PositionReader>>,
    pub(crate) written: Mutex<Option<WrittenReader>>,
}

impl TaskLink {
    pub(crate) fn push(&self, request: TaskRequest) -> bool {
        match self.requests.lock() {
            Ok(mut q) if q.len() < MAX_QUEUED_REQUESTS => {
                q.push(request);
                true
            }
            _ => false,
        }
    }

    pub(crate) fn take(&self) -> Vec<TaskRequest> {
        self.requests
            .lock()
            .map(|mut q| std::mem::take(&mut *q))
            .unwrap_or_default()
    }

    pub(crate) fn reader(&self) -> Option<PositionReader> {
        self.reader.lock().ok().and_then(|r| r.clone())
    }

    pub(crate) fn written(&self) -> Option<WrittenReader> {
        self.written.lock().ok().and_then(|r| r.clone())
    }
}

impl std::fmt::Debug for TaskLink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TaskLink").finish_non_exhaustive()
    }
}
