//! MM2's internal record formats, byte for byte: Kafka's protocol `Struct` encoding (STRING =
//! int16 length + UTF-8, INT16/INT32/INT64 big-endian), as `Heartbeat`, `Checkpoint` and
//! `OffsetSync` in connect/mirror write them. Heartbeat and checkpoint values start with a
//! version header (INT16 0); offset-sync values have none.

use std::fmt;

/// Why a record of an internal topic could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FormatError(pub String);

impl fmt::Display for FormatError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for FormatError {}

/// The only value version MM2 writes.
pub const VERSION: i16 = 0;

fn put_string(out: &mut Vec<u8>, s: &str) {
    // Kafka's STRING holds at most i16::MAX bytes; longer names cannot exist in Kafka.
    let bytes = s.as_bytes();
    let len = bytes.len().min(i16::MAX as usize);
    out.extend_from_slice(&(len as i16).to_be_bytes());
    out.extend_from_slice(&bytes[..len]);
}

struct Reader<'a> {
    buf: &'a [u8],
    what: &'static str,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], FormatError> {
        if self.buf.len() < n {
            return Err(FormatError(format!("{} is truncated", self.what)));
        }
        let (head, rest) = self.buf.split_at(n);
        self.buf = rest;
        Ok(head)
    }
    fn i16(&mut self) -> Result<i16, FormatError> {
        let b = self.take(2)?;
        Ok(i16::from_be_bytes([b[0], b[1]]))
    }
    fn i32(&mut self) -> Result<i32, FormatError> {
        let mut a = [0; 4];
        a.copy_from_slice(self.take(4)?);
        Ok(i32::from_be_bytes(a))
    }
    fn i64(&mut self) -> Result<i64, FormatError> {
        let mut a = [0; 8];
        a.copy_from_slice(self.take(8)?);
        Ok(i64::from_be_bytes(a))
    }
    fn string(&mut self) -> Result<String, FormatError> {
        let len = self.i16()?;
        if len < 0 {
            return Err(FormatError(format!("{} has a null string", self.what)));
        }
        let b = self.take(len as usize)?;
        String::from_utf8(b.to_vec())
            .map_err(|_| FormatError(format!("{} has a string that is not UTF-8", self.what)))
    }
    fn version(&mut self) -> Result<(), FormatError> {
        let v = self.i16()?;
        if v != VERSION {
            return Err(FormatError(format!(
                "{} has unknown version {v}",
                self.what
            )));
        }
        Ok(())
    }
}

/// A heartbeat: `heartbeats` on the target cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Heartbeat {
    pub source_alias: String,
    pub target_alias: String,
    pub timestamp: i64,
}

impl Heartbeat {
    /// Key: {sourceClusterAlias STRING, targetClusterAlias STRING}.
    pub fn key(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(4 + self.source_alias.len() + self.target_alias.len());
        put_string(&mut out, &self.source_alias);
        put_string(&mut out, &self.target_alias);
        out
    }

    /// Value: {version INT16} + {timestamp INT64}.
    pub fn value(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(10);
        out.extend_from_slice(&VERSION.to_be_bytes());
        out.extend_from_slice(&self.timestamp.to_be_bytes());
        out
    }

    /// Reads a heartbeat record.
    pub fn decode(key: &[u8], value: &[u8]) -> Result<Heartbeat, FormatError> {
        let mut k = Reader {
            buf: key,
            what: "heartbeat key",
        };
        let mut v = Reader {
            buf: value,
            what: "heartbeat value",
        };
        let source_alias = k.string()?;
        let target_alias = k.string()?;
        v.version()?;
        Ok(Heartbeat {
            source_alias,
            target_alias,
            timestamp: v.i64()?,
        })
    }
}

/// A checkpoint: `<source>.checkpoints.internal` on the target cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    pub group: String,
    /// The topic as named on the target cluster.
    pub topic: String,
    pub partition: i32,
    pub upstream_offset: i64,
    pub downstream_offset: i64,
    pub metadata: String,
}

impl Checkpoint {
    /// Key: {group STRING, topic STRING, partition INT32}.
    pub fn key(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(8 + self.group.len() + self.topic.len());
        put_string(&mut out, &self.group);
        put_string(&mut out, &self.topic);
        out.extend_from_slice(&self.partition.to_be_bytes());
        out
    }

    /// Value: {version INT16} + {upstreamOffset INT64, downstreamOffset INT64, metadata STRING}.
    pub fn value(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(20 + self.metadata.len());
        out.extend_from_slice(&VERSION.to_be_bytes());
        out.extend_from_slice(&self.upstream_offset.to_be_bytes());
        out.extend_from_slice(&self.downstream_offset.to_be_bytes());
        put_string(&mut out, &self.metadata);
        out
    }

    /// Reads a checkpoint record.
    pub fn decode(key: &[u8], value: &[u8]) -> Result<Checkpoint, FormatError> {
        let mut k = Reader {
            buf: key,
            what: "checkpoint key",
        };
        let mut v = Reader {
            buf: value,
            what: "checkpoint value",
        };
        let group = k.string()?;
        let topic = k.string()?;
        let partition = k.i32()?;
        v.version()?;
        Ok(Checkpoint {
            group,
            topic,
            partition,
            upstream_offset: v.i64()?,
            downstream_offset: v.i64()?,
            metadata: v.string()?,
        })
    }
}

/// An offset sync: `mm2-offset-syncs.<target>.internal`, where the source task says which
/// downstream offset an upstream offset of a source partition became.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OffsetSync {
    pub upstream: i64,
    pub downstream: i64,
}

/// Key: {topic STRING, partition INT32} (the source topic partition).
pub fn offset_sync_key(topic: &str, partition: i32) -> Vec<u8> {
    let mut out = Vec::with_capacity(6 + topic.len());
    put_string(&mut out, topic);
    out.extend_from_slice(&partition.to_be_bytes());
    out
}

impl OffsetSync {
    /// Value: {upstreamOffset INT64, downstreamOffset INT64}, no version header.
    pub fn value(&self) -> [u8; 16] {
        let mut out = [0; 16];
        out[..8].copy_from_slice(&self.upstream.to_be_bytes());
        out[8..].copy_from_slice(&self.downstream.to_be_bytes());
        out
    }

    /// Reads an offset-sync record: the source topic, partition and the sync.
    pub fn decode(key: &[u8], value: &[u8]) -> Result<(String, i32, OffsetSync), FormatError> {
        let mut k = Reader {
            buf: key,
            what: "offset-sync key",
        };
        let mut v = Reader {
            buf: value,
            what: "offset-sync value",
        };
        let topic = k.string()?;
        let partition = k.i32()?;
        Ok((
            topic,
            partition,
            OffsetSync {
                upstream: v.i64()?,
                downstream: v.i64()?,
            },
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heartbeat_bytes() {
        let h = Heartbeat {
            source_alias: "A".into(),
            target_alias: "BB".into(),
            timestamp: 0x0102030405060708,
        };
        assert_eq!(h.key(), [0, 1, b'A', 0, 2, b'B', b'B']);
        assert_eq!(h.value(), [0, 0, 1, 2, 3, 4, 5, 6, 7, 8]);
        assert_eq!(Heartbeat::decode(&h.key(), &h.value()).unwrap(), h);
    }

    #[test]
    fn checkpoint_bytes() {
        let c = Checkpoint {
            group: "g".into(),
            topic: "A.t".into(),
            partition: 3,
            upstream_offset: 10,
            downstream_offset: 7,
            metadata: "m".into(),
        };
        assert_eq!(c.key(), [0, 1, b'g', 0, 3, b'A', b'.', b't', 0, 0, 0, 3]);
        let mut v = vec![0, 0];
        v.extend_from_slice(&10i64.to_be_bytes());
        v.extend_from_slice(&7i64.to_be_bytes());
        v.extend_from_slice(&[0, 1, b'm']);
        assert_eq!(c.value(), v);
        assert_eq!(Checkpoint::decode(&c.key(), &c.value()).unwrap(), c);
        let mut bad = c.value();
        bad[1] = 1;
        assert!(Checkpoint::decode(&c.key(), &bad).is_err());
        assert!(Checkpoint::decode(&c.key()[..5], &c.value()).is_err());
    }

    #[test]
    fn offset_sync_bytes() {
        let s = OffsetSync {
            upstream: 5,
            downstream: 2,
        };
        let key = offset_sync_key("t", 1);
        assert_eq!(key, [0, 1, b't', 0, 0, 0, 1]);
        let mut v = Vec::new();
        v.extend_from_slice(&5i64.to_be_bytes());
        v.extend_from_slice(&2i64.to_be_bytes());
        assert_eq!(s.value().to_vec(), v);
        assert_eq!(
            OffsetSync::decode(&key, &s.value()).unwrap(),
            ("t".to_string(), 1, s)
        );
        assert!(OffsetSync::decode(&key, &s.value()[..15]).is_err());
    }
}
