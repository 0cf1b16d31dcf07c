//! The small state files of a partition directory: the log-start-offset checkpoint (DeleteRecords),
//! the recovery point (everything below it is known fsynced) and the clean-shutdown marker, all written
//! with [`files::write_atomically`].

use std::path::Path;

use crate::error::Result;
use crate::files;

pub(crate) const LOG_START_OFFSET_FILE: &str = "log-start-offset";
pub(crate) const RECOVERY_POINT_FILE: &str = "recovery-point";
pub(crate) const CLEAN_SHUTDOWN_FILE: &str = "clean-shutdown";
/// Format version written on the first line, as Kafka's checkpoint files do.
const VERSION: &str = "0";

fn write_atomically(dir: &Path, name: &str, value: i64) -> Result<()> {
    files::write_atomically(&dir.join(name), format!("{VERSION}\n{value}\n").as_bytes())
}

/// Reads `<version>\n<value>\n`; anything unreadable is logged and ignored, since both files only
/// ever let us skip work or keep a bound we can also derive from the segments.
pub(crate) fn read_value(dir: &Path, name: &str) -> Option<i64> {
    let path = dir.join(name);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return None,
        Err(e) => {
            tracing::warn!(file = %path.display(), error = %e, "ignoring unreadable state file");
            return None;
        }
    };
    let mut lines = text.lines();
    let parsed = match (lines.next(), lines.next().map(str::parse::<i64>)) {
        (Some(VERSION), Some(Ok(v))) if v >= 0 => Some(v),
        _ => None,
    };
    if parsed.is_none() {
        tracing::warn!(file = %path.display(), "ignoring malformed state file");
    }
    parsed
}

/// Writes a non-negative value to the state file `name` atomically (the cleaner's checkpoint uses it).
pub(crate) fn write_value(dir: &Path, name: &str, value: i64) -> Result<()> {
    write_atomically(dir, name, value)
}

pub(crate) fn read_log_start_offset(dir: &Path) -> Option<i64> {
    read_value(dir, LOG_START_OFFSET_FILE)
}

pub(crate) fn write_log_start_offset(dir: &Path, offset: i64) -> Result<()> {
    write_atomically(dir, LOG_START_OFFSET_FILE, offset)
}

/// The recovery point last checkpointed: every segment below it was fsynced, so recovery after an
/// unclean stop only validates segments holding offsets at or above it.
pub(crate) fn read_recovery_point(dir: &Path) -> Option<i64> {
    read_value(dir, RECOVERY_POINT_FILE)
}

pub(crate) fn write_recovery_point(dir: &Path, offset: i64) -> Result<()> {
    write_atomically(dir, RECOVERY_POINT_FILE, offset)
}

/// The log end offset recorded by a clean close, if the last shutdown was clean.
pub(crate) fn read_clean_shutdown(dir: &Path) -> Option<i64> {
    read_value(dir, CLEAN_SHUTDOWN_FILE)
}

pub(crate) fn write_clean_shutdown(dir: &Path, log_end_offset: i64) -> Result<()> {
    write_atomically(dir, CLEAN_SHUTDOWN_FILE, log_end_offset)
}

/// Removes the marker durably, so a crash from now on is seen as unclean.
pub(crate) fn remove_clean_shutdown(dir: &Path) -> Result<()> {
    let path = dir.join(CLEAN_SHUTDOWN_FILE);
    if path.exists() {
        files::remove_if_exists(&path)?;
        files::sync_dir(dir)?;
    }
    Ok(())
}

/// Deletes temp files of interrupted checkpoint writes.
pub(crate) fn remove_temp_files(dir: &Path) -> Result<()> {
    for name in [
        LOG_START_OFFSET_FILE,
        RECOVERY_POINT_FILE,
        CLEAN_SHUTDOWN_FILE,
    ] {
        files::remove_if_exists(&files::with_suffix(&dir.join(name), files::TMP_SUFFIX))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_round_trip_and_garbage_is_ignored() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(read_log_start_offset(dir.path()), None);
        write_log_start_offset(dir.path(), 42).unwrap();
        assert_eq!(read_log_start_offset(dir.path()), Some(42));
        assert_eq!(
            std::fs::read_to_string(dir.path().join(LOG_START_OFFSET_FILE)).unwrap(),
            "0\n42\n"
        );
        std::fs::write(dir.path().join(LOG_START_OFFSET_FILE), "zz").unwrap();
        assert_eq!(read_log_start_offset(dir.path()), None);
        std::fs::write(dir.path().join(LOG_START_OFFSET_FILE), "0\n-5\n").unwrap();
        assert_eq!(read_log_start_offset(dir.path()), None);
    }

    #[test]
    fn clean_shutdown_marker_lifecycle() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(read_clean_shutdown(dir.path()), None);
        write_clean_shutdown(dir.path(), 7).unwrap();
        assert_eq!(read_clean_shutdown(dir.path()), Some(7));
        remove_clean_shutdown(dir.path()).unwrap();
        assert_eq!(read_clean_shutdown(dir.path()), None);
        remove_clean_shutdown(dir.path()).unwrap();
        write_recovery_point(dir.path(), 9).unwrap();
        assert_eq!(read_recovery_point(dir.path()), Some(9));
        std::fs::remove_file(dir.path().join(RECOVERY_POINT_FILE)).unwrap();
        std::fs::write(dir.path().join("clean-shutdown.tmp"), "x").unwrap();
        remove_temp_files(dir.path()).unwrap();
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }
}
