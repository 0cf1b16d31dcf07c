//! Names of the files in a partition directory, the directory-level fsync and the one atomic
//! file replacement the log and the broker share.

use std::path::{Path, PathBuf};

use crate::error::{IoContext, Result};
use crate::fsio;

pub(crate) const LOG_EXT: &str = "log";
pub(crate) const INDEX_EXT: &str = "index";
pub(crate) const TIME_INDEX_EXT: &str = "timeindex";
pub(crate) const CLEANED_SUFFIX: &str = "cleaned";
pub(crate) const DELETED_SUFFIX: &str = "deleted";
pub(crate) const SWAP_SUFFIX: &str = "swap";

/// Which of a segment's three files a name refers to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FileKind {
    Log,
    Index,
    TimeIndex,
}

impl FileKind {
    pub(crate) fn ext(self) -> &'static str {
        match self {
            FileKind::Log => LOG_EXT,
            FileKind::Index => INDEX_EXT,
            FileKind::TimeIndex => TIME_INDEX_EXT,
        }
    }

    pub(crate) const ALL: [FileKind; 3] = [FileKind::Log, FileKind::Index, FileKind::TimeIndex];
}

/// The temp-file state of a segment file, as left by compaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Suffix {
    Live,
    Cleaned,
    Deleted,
    Swap,
}

/// A parsed segment file name: `<20-digit base offset>.<ext>[.<suffix>]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SegmentFileName {
    pub base: i64,
    pub kind: FileKind,
    pub suffix: Suffix,
}

/// `<dir>/<20-digit base>.<ext>`, Kafka's naming.
pub(crate) fn segment_path(dir: &Path, base: i64, kind: FileKind) -> PathBuf {
    dir.join(format!("{base:020}.{}", kind.ext()))
}

/// `path` with `.suffix` appended (`x.log` -> `x.log.cleaned`).
pub(crate) fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut s = path.as_os_str().to_os_string();
    s.push(".");
    s.push(suffix);
    PathBuf::from(s)
}

/// Parses a segment file name; anything else in the directory (checkpoints, Kafka's
/// `.txnindex`/`.snapshot` files, ...) yields `None` and is left alone.
pub(crate) fn parse_file_name(name: &str) -> Option<SegmentFileName> {
    let (stem, rest) = name.split_once('.')?;
    if stem.len() != 20 || !stem.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let base: i64 = stem.parse().ok()?;
    let (ext, suffix) = match rest.split_once('.') {
        None => (rest, Suffix::Live),
        Some((ext, CLEANED_SUFFIX)) => (ext, Suffix::Cleaned),
        Some((ext, DELETED_SUFFIX)) => (ext, Suffix::Deleted),
        Some((ext, SWAP_SUFFIX)) => (ext, Suffix::Swap),
        Some(_) => return None,
    };
    let kind = match ext {
        LOG_EXT => FileKind::Log,
        INDEX_EXT => FileKind::Index,
        TIME_INDEX_EXT => FileKind::TimeIndex,
        _ => return None,
    };
    Some(SegmentFileName { base, kind, suffix })
}

/// fsync a directory so that file creations, renames and deletions in it are durable.
pub fn sync_dir(dir: &Path) -> Result<()> {
    fsio::sync_dir(dir).at(dir)
}

/// Suffix of the temp file [`write_atomically`] writes next to its target.
pub(crate) const TMP_SUFFIX: &str = "tmp";

/// Replaces `path` with `bytes` so that after a crash or power loss readers see either the old or the
/// new contents, never a mix or an empty file: write `<path>.tmp`, fsync it, rename it over `path`,
/// fsync the directory. A leftover `<path>.tmp` from an interrupted call is simply overwritten.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = with_suffix(path, TMP_SUFFIX);
    let file = fsio::create(&tmp).at(&tmp)?;
    fsio::write_all(&file, &tmp, bytes).at(&tmp)?;
    fsio::sync_all(&file, &tmp).at(&tmp)?;
    drop(file);
    fsio::rename(&tmp, path).at(path)?;
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    sync_dir(dir)
}

/// Removes a file, treating "already gone" as success (deletions are retried after crashes).
pub(crate) fn remove_if_exists(path: &Path) -> Result<()> {
    match fsio::remove_file(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        other => other.at(path),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        let p = segment_path(Path::new("/d"), 42, FileKind::TimeIndex);
        assert_eq!(p, Path::new("/d/00000000000000000042.timeindex"));
        let name = p.file_name().unwrap().to_str().unwrap();
        assert_eq!(
            parse_file_name(name),
            Some(SegmentFileName {
                base: 42,
                kind: FileKind::TimeIndex,
                suffix: Suffix::Live
            })
        );
        let cleaned = with_suffix(
            &segment_path(Path::new("/d"), 7, FileKind::Log),
            CLEANED_SUFFIX,
        );
        let name = cleaned.file_name().unwrap().to_str().unwrap();
        assert_eq!(name, "00000000000000000007.log.cleaned");
        assert_eq!(parse_file_name(name).unwrap().suffix, Suffix::Cleaned);
    }

    #[test]
    fn write_atomically_replaces_whole_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("meta.properties");
        write_atomically(&path, b"one").unwrap();
        write_atomically(&path, b"two, longer").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"two, longer");
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            1,
            "no temp file left"
        );
        let missing = dir.path().join("no-such-dir").join("x");
        assert!(matches!(
            write_atomically(&missing, b"x"),
            Err(crate::LogError::Io { .. })
        ));
    }

    #[test]
    fn foreign_names_are_ignored() {
        for n in [
            "log-start-offset",
            "00000000000000000000.snapshot",
            "0000000000000000000.log",
            "0000000000000000000x.log",
            "00000000000000000000.log.bak",
            "00000000000000000000.txnindex",
        ] {
            assert_eq!(parse_file_name(n), None, "{n}");
        }
    }
}
