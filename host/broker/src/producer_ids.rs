//! Producer id allocation for InitProducerId: ids come from blocks of [`BLOCK_SIZE`] whose end is
//! persisted (`__weft_meta/producer-ids`, written atomically and fsynced) before any id of the block is
//! handed out, so ids never repeat after a restart or a crash; a restart skips the rest of a block, as
//! Kafka's block allocation does.

use std::path::{Path, PathBuf};

use parking_lot::Mutex;

use crate::error::BrokerError;

/// Ids reserved per write of the block file.
pub const BLOCK_SIZE: i64 = 1000;
const KEY: &str = "next.block.start";

/// The allocator; one per broker.
pub struct ProducerIds {
    path: PathBuf,
    /// (next id, end of the persisted block)
    state: Mutex<(i64, i64)>,
}

impl ProducerIds {
    /// Reads `<meta_dir>/producer-ids`; a missing file starts at 0, an unreadable one stops start-up.
    pub fn open(meta_dir: &Path) -> Result<ProducerIds, BrokerError> {
        let path = meta_dir.join("producer-ids");
        let start = match std::fs::read_to_string(&path) {
            Ok(text) => parse(&text).map_err(|reason| BrokerError::Metadata {
                path: path.clone(),
                reason,
            })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => 0,
            Err(source) => return Err(BrokerError::Io { path, source }),
        };
        Ok(ProducerIds {
            path,
            state: Mutex::new((start, start)),
        })
    }

    /// A producer id never handed out before. Persists a new block first when the current one is used
    /// up, so call it from a blocking thread.
    pub fn allocate(&self) -> Result<i64, BrokerError> {
        let mut state = self.state.lock();
        let (next, end) = *state;
        if next >= end {
            let new_end = next
                .checked_add(BLOCK_SIZE)
                .ok_or_else(|| BrokerError::Metadata {
                    path: self.path.clone(),
                    reason: "producer ids are exhausted".to_string(),
                })?;
            crate::topics::write_atomically(&self.path, format!("{KEY}={new_end}\n").as_bytes())?;
            state.1 = new_end;
        }
        state.0 = next + 1;
        Ok(next)
    }
}

fn parse(text: &str) -> Result<i64, String> {
    let value = crate::properties::parse(text)
        .into_iter()
        .find(|(k, _)| k == KEY)
        .map(|(_, v)| v)
        .ok_or_else(|| format!("no {KEY} line"))?;
    match value.trim().parse::<i64>() {
        Ok(v) if (0..i64::MAX - BLOCK_SIZE).contains(&v) => Ok(v),
        _ => Err(format!("{KEY}={value} is not a valid producer id")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_never_repeat_across_reopen_and_bad_files_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let ids = ProducerIds::open(dir.path()).unwrap();
        let first: Vec<i64> = (0..3).map(|_| ids.allocate().unwrap()).collect();
        assert_eq!(first, vec![0, 1, 2]);
        drop(ids);
        let ids = ProducerIds::open(dir.path()).unwrap();
        assert_eq!(ids.allocate().unwrap(), BLOCK_SIZE);
        std::fs::write(dir.path().join("producer-ids"), "next.block.start=-5\n").unwrap();
        let err = ProducerIds::open(dir.path()).err().unwrap().to_string();
        assert!(err.contains("producer-ids") && err.contains("-5"), "{err}");
    }
}
