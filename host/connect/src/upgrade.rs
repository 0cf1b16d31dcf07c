//! Hot upgrade: notices that the `.wasm` file a connector's component was loaded from changed
//! on disk, and decides when the new file is settled enough to be loaded. Loading, checking and
//! restarting the connector's tasks are the herder's (`herder.rs`, on its supervisor thread).

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use weft_runtime::{LoadedPlugin, PluginSource};

/// What identifies one version of a file without reading it: a rewrite in place changes the
/// length or the modification time, a replacement by rename changes the inode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileIdentity {
    len: u64,
    modified: Option<SystemTime>,
    inode: u64,
}

impl FileIdentity {
    /// The identity of the file at `path` now.
    pub fn of(path: &Path) -> std::io::Result<FileIdentity> {
        let m = std::fs::metadata(path)?;
        #[cfg(unix)]
        let inode = std::os::unix::fs::MetadataExt::ino(&m);
        #[cfg(not(unix))]
        let inode = 0;
        Ok(FileIdentity {
            len: m.len(),
            modified: m.modified().ok(),
            inode,
        })
    }
}

/// What the watcher should do about a component file after looking at it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Check {
    /// The file is the one already running (or already refused).
    Unchanged,
    /// The file changed since the last look: wait one more interval, so a file still being
    /// written is not read.
    Settling,
    /// The file changed and then stayed the same for an interval: load it.
    Load(FileIdentity),
}

/// One connector's component file as the watcher knows it.
#[derive(Debug, Clone)]
pub struct WatchedComponent {
    /// The name the registry resolves (the connector's plugin).
    pub spec: String,
    /// The file the running component was loaded from.
    pub path: PathBuf,
    /// SHA-256 (hex) of the running component.
    pub running_hash: String,
    /// The file version last loaded (running, or refused); `None` until the first look.
    seen: Option<FileIdentity>,
    /// A changed version seen once, waiting to be seen unchanged again.
    pending: Option<FileIdentity>,
}

impl WatchedComponent {
    /// Watches `plugin`'s file, when it was loaded from one (built-ins never change).
    pub fn for_plugin(spec: &str, plugin: &LoadedPlugin) -> Option<WatchedComponent> {
        match plugin.source() {
            PluginSource::File(path) => Some(WatchedComponent {
                spec: spec.to_string(),
                path: path.clone(),
                running_hash: plugin.hash_hex(),
                seen: None,
                pending: None,
            }),
            _ => None,
        }
    }

    /// Decides from the file's identity now. A file that cannot be read (removed, or being
    /// replaced) changes nothing: the running version goes on.
    pub fn check(&mut self, now: std::io::Result<FileIdentity>) -> Check {
        let Ok(now) = now else {
            return Check::Unchanged;
        };
        if self.seen.as_ref() == Some(&now) {
            self.pending = None;
            return Check::Unchanged;
        }
        if self.pending.as_ref() == Some(&now) {
            self.pending = None;
            return Check::Load(now);
        }
        self.pending = Some(now);
        Check::Settling
    }

    /// The file version `id` was loaded (whether it runs or was refused): it is not looked at
    /// again until it changes.
    pub fn settled(&mut self, id: FileIdentity) {
        self.seen = Some(id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn watched() -> WatchedComponent {
        WatchedComponent {
            spec: "x.wasm".into(),
            path: "x.wasm".into(),
            running_hash: "00".into(),
            seen: None,
            pending: None,
        }
    }

    fn id(len: u64) -> std::io::Result<FileIdentity> {
        Ok(FileIdentity {
            len,
            modified: None,
            inode: 1,
        })
    }

    #[test]
    fn a_change_is_loaded_only_once_it_stayed_the_same_for_an_interval() {
        let mut w = watched();
        assert_eq!(w.check(id(1)), Check::Settling);
        let Check::Load(first) = w.check(id(1)) else {
            panic!("a settled file is loaded");
        };
        w.settled(first);
        assert_eq!(w.check(id(1)), Check::Unchanged);
        // Still being written: each look sees another length, so nothing is loaded.
        assert_eq!(w.check(id(5)), Check::Settling);
        assert_eq!(w.check(id(9)), Check::Settling);
        assert!(matches!(w.check(id(9)), Check::Load(_)));
    }

    #[test]
    fn an_unreadable_file_changes_nothing() {
        let mut w = watched();
        w.settled(FileIdentity {
            len: 1,
            modified: None,
            inode: 1,
        });
        let gone = Err(std::io::Error::from(std::io::ErrorKind::NotFound));
        assert_eq!(w.check(gone), Check::Unchanged);
        assert_eq!(w.check(id(1)), Check::Unchanged);
    }
}
