//! One partition: its log behind a lock, and the notification long-polling fetches wait on.

use std::path::PathBuf;
use std::sync::Arc;

use parking_lot::Mutex;
use tokio::sync::Notify;
use weft_log::{AppendInfo, Log, LogConfig, LogError, ReadResult};

/// Leader epoch written into stored batches and returned in metadata. -1 ("unknown") keeps clients
/// from issuing OffsetForLeaderEpoch, which a single node without epochs has no use for.
pub const LEADER_EPOCH: i32 = -1;

/// A partition's log and the wake-up signal for fetches waiting on new data.
///
/// Invariant: the log is `None` only after the partition was deleted; every accessor then reports
/// `Deleted`, so a request racing a DeleteTopics gets UNKNOWN_TOPIC_OR_PARTITION, never a panic.
pub struct Partition {
    pub topic: Arc<str>,
    pub index: i32,
    dir: PathBuf,
    log: Mutex<Option<Log>>,
    appended: Notify,
}

/// Why a partition operation failed.
#[derive(Debug, thiserror::Error)]
pub enum PartitionError {
    #[error("partition was deleted")]
    Deleted,
    #[error(transparent)]
    Log(#[from] LogError),
}

impl Partition {
    pub fn new(topic: Arc<str>, index: i32, log: Log) -> Self {
        Partition {
            topic,
            index,
            dir: log.dir().to_path_buf(),
            log: Mutex::new(Some(log)),
            appended: Notify::new(),
        }
    }

    pub fn dir(&self) -> &PathBuf {
        &self.dir
    }

    /// Runs `f` with the log locked.
    pub fn with_log<R>(&self, f: impl FnOnce(&mut Log) -> R) -> Result<R, PartitionError> {
        let mut guard = self.log.lock();
        let log = guard.as_mut().ok_or(PartitionError::Deleted)?;
        Ok(f(log))
    }

    /// Appends a producer's record batches and wakes fetches waiting on this partition.
    pub fn append(&self, records: &[u8], now_ms: i64) -> Result<AppendInfo, PartitionError> {
        let info = self.with_log(|log| log.append(records, LEADER_EPOCH, now_ms))??;
        self.appended.notify_waiters();
        Ok(info)
    }

    pub fn read(&self, offset: i64, max_bytes: usize) -> Result<ReadResult, PartitionError> {
        Ok(self.with_log(|log| log.read(offset, max_bytes))??)
    }

    /// (log start offset, log end offset).
    pub fn offsets(&self) -> Result<(i64, i64), PartitionError> {
        self.with_log(|log| (log.log_start_offset(), log.log_end_offset()))
    }

    pub fn set_config(&self, config: LogConfig) {
        // A deleted partition has no config to change; ignoring that is correct.
        let _ = self.with_log(|log| log.set_config(config));
    }

    /// A future that completes on the next append; create it before checking for data.
    pub fn appended(&self) -> tokio::sync::futures::Notified<'_> {
        self.appended.notified()
    }

    /// Takes the log out (for deletion or shutdown); later accessors report `Deleted`.
    pub fn take_log(&self) -> Option<Log> {
        let log = self.log.lock().take();
        self.appended.notify_waiters();
        log
    }
}
