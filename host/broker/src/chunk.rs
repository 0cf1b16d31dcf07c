//! A piece of a response frame: bytes in memory, or stored batches still in their segment file
//! (sent with `sendfile`, so they are never copied into the broker's memory).

use bytes::Bytes;
use weft_log::FileRegion;

/// One piece of a response frame; a frame is its chunks back to back.
#[derive(Debug, Clone)]
pub enum Chunk {
    Bytes(Bytes),
    File(FileRegion),
}

impl Chunk {
    pub fn len(&self) -> usize {
        match self {
            Chunk::Bytes(b) => b.len(),
            Chunk::File(r) => r.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl From<Bytes> for Chunk {
    fn from(b: Bytes) -> Self {
        Chunk::Bytes(b)
    }
}

/// The whole frame in memory, file regions read in. Blocks on the disk: for tests and fuzzing.
pub fn concat(chunks: &[Chunk]) -> std::io::Result<Vec<u8>> {
    let mut out = Vec::with_capacity(chunks.iter().map(Chunk::len).sum());
    for c in chunks {
        match c {
            Chunk::Bytes(b) => out.extend_from_slice(b),
            Chunk::File(r) => out.extend_from_slice(&r.read()?),
        }
    }
    Ok(out)
}
