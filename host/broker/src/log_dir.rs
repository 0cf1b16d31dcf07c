//! One log directory and whether it is still usable. A failed write or fsync takes the whole directory
//! offline (as Kafka does): its partitions answer KAFKA_STORAGE_ERROR until the broker restarts.

use std::fmt::Display;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

/// A configured log directory.
#[derive(Debug)]
pub struct LogDir {
    path: PathBuf,
    offline: AtomicBool,
}

impl LogDir {
    pub fn new(path: PathBuf) -> LogDir {
        LogDir {
            path,
            offline: AtomicBool::new(false),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn is_offline(&self) -> bool {
        self.offline.load(Ordering::Acquire)
    }

    /// Takes the directory offline; the first call logs why, loudly.
    pub fn mark_offline(&self, cause: &dyn Display) {
        if !self.offline.swap(true, Ordering::AcqRel) {
            tracing::error!(
                dir = %self.path.display(),
                error = %cause,
                "log directory is OFFLINE after an I/O error: its partitions answer KAFKA_STORAGE_ERROR until the broker is restarted with the disk fixed"
            );
        }
    }
}
