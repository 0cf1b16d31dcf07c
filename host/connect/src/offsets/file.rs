//! The standalone position store: every connector's source positions in one local JSON file
//! (`offset.storage.file.filename`), replaced atomically on each flush so a crash leaves either
//! the previous or the new positions, never a torn file.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use super::{OffsetError, Positions};

/// Largest store file read back (a store this big is not one this worker wrote).
const MAX_FILE_BYTES: u64 = 256 << 20;

#[derive(Debug, Default, Serialize, Deserialize)]
struct OnDisk {
    version: u32,
    connectors: BTreeMap<String, Positions>,
}

/// Source positions keyed by connector and source partition, kept in memory and written
/// through to the file on every change.
#[derive(Debug)]
pub struct FileStore {
    path: PathBuf,
    state: Mutex<BTreeMap<String, Positions>>,
}

impl FileStore {
    /// Opens the store at `path`, reading what an earlier run flushed (nothing if the file does
    /// not exist yet).
    pub fn open(path: &Path) -> Result<FileStore, OffsetError> {
        let io = |e: std::io::Error| OffsetError::Io {
            path: path.display().to_string(),
            message: e.to_string(),
        };
        let state = match std::fs::metadata(path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => BTreeMap::new(),
            Err(e) => return Err(io(e)),
            Ok(m) if m.len() > MAX_FILE_BYTES => {
                return Err(OffsetError::Corrupt {
                    path: path.display().to_string(),
                    message: format!("{} bytes, more than the {MAX_FILE_BYTES} allowed", m.len()),
                })
            }
            Ok(_) => {
                let bytes = std::fs::read(path).map_err(io)?;
                if bytes.is_empty() {
                    BTreeMap::new()
                } else {
                    let d: OnDisk =
                        serde_json::from_slice(&bytes).map_err(|e| OffsetError::Corrupt {
                            path: path.display().to_string(),
                            message: e.to_string(),
                        })?;
                    d.connectors
                }
            }
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(io)?;
        }
        Ok(FileStore {
            path: path.to_path_buf(),
            state: Mutex::new(state),
        })
    }

    /// The file the store writes.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A connector's stored positions.
    pub fn get(&self, connector: &str) -> Positions {
        self.lock().get(connector).cloned().unwrap_or_default()
    }

    /// Stores positions for a connector (merged over what is there) and makes them durable
    /// before returning.
    pub fn put<'a>(
        &self,
        connector: &str,
        positions: impl IntoIterator<Item = (&'a String, &'a String)>,
    ) -> Result<(), OffsetError> {
        self.apply(
            connector,
            positions
                .into_iter()
                .map(|(p, o)| (p.clone(), Some(o.clone()))),
        )
    }

    /// Applies KIP-875 changes (`None` removes a partition) and makes them durable.
    pub fn apply(
        &self,
        connector: &str,
        changes: impl IntoIterator<Item = (String, Option<String>)>,
    ) -> Result<(), OffsetError> {
        let mut state = self.lock();
        let entry = state.entry(connector.to_string()).or_default();
        let mut changed = false;
        for (partition, position) in changes {
            changed = true;
            match position {
                Some(p) => {
                    entry.insert(partition, p);
                }
                None => {
                    entry.remove(&partition);
                }
            }
        }
        if entry.is_empty() {
            state.remove(connector);
        }
        if changed {
            self.write(&state)?;
        }
        Ok(())
    }

    /// Forgets every position of a connector (KIP-875 reset).
    pub fn reset(&self, connector: &str) -> Result<(), OffsetError> {
        let mut state = self.lock();
        if state.remove(connector).is_some() {
            self.write(&state)?;
        }
        Ok(())
    }

    fn write(&self, state: &BTreeMap<String, Positions>) -> Result<(), OffsetError> {
        let disk = OnDisk {
            version: 1,
            connectors: state.clone(),
        };
        let bytes = serde_json::to_vec(&disk).map_err(|e| OffsetError::Io {
            path: self.path.display().to_string(),
            message: e.to_string(),
        })?;
        weft_log::write_atomically(&self.path, &bytes).map_err(|e| OffsetError::Io {
            path: self.path.display().to_string(),
            message: e.to_string(),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Positions>> {
        // A task thread that panicked while holding the lock left a consistent map behind
        // (every change is applied before the write), so the poison is not a reason to stop.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_survive_reopen_and_reset_forgets_them() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/connect.offsets");
        let s = FileStore::open(&path).unwrap();
        let mut p = Positions::new();
        p.insert("file-a".into(), "10".into());
        s.put("c1", &p).unwrap();
        p.insert("file-a".into(), "20".into());
        p.insert("file-b".into(), "5".into());
        s.put("c1", &p).unwrap();
        s.put("c2", &Positions::from([("x".to_string(), "1".to_string())]))
            .unwrap();
        drop(s);
        let s = FileStore::open(&path).unwrap();
        assert_eq!(s.get("c1").get("file-a").map(String::as_str), Some("20"));
        assert_eq!(s.get("c1").len(), 2);
        s.apply("c1", [("file-b".to_string(), None)]).unwrap();
        s.reset("c2").unwrap();
        drop(s);
        let s = FileStore::open(&path).unwrap();
        assert_eq!(s.get("c1").len(), 1);
        assert!(s.get("c2").is_empty());
    }

    #[test]
    fn a_garbled_file_is_reported_not_ignored() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("connect.offsets");
        std::fs::write(&path, b"\xac\xed\x00\x05 java serialization").unwrap();
        assert!(matches!(
            FileStore::open(&path),
            Err(OffsetError::Corrupt { .. })
        ));
    }
}
