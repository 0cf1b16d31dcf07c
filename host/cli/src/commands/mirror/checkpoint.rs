//! MM2's checkpoint record, as Kafka's `Checkpoint` writes it with its `Struct` encoding:
//! key {group STRING, topic STRING, partition INT32}, value {version INT16 = 0} then
//! {upstreamOffset INT64, downstreamOffset INT64, metadata STRING}; STRING is an int16 length
//! and UTF-8, integers big-endian. Decoding checks every length against the bytes there are.

use std::fmt;

/// One decoded checkpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    pub group: String,
    /// The topic on the target cluster (`A.orders` under the default policy).
    pub topic: String,
    pub partition: i32,
    pub upstream_offset: i64,
    pub downstream_offset: i64,
    pub metadata: String,
}

/// Why a record is not a checkpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError(pub String);

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for DecodeError {}

struct Reader<'a> {
    buf: &'a [u8],
    what: &'static str,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize, field: &str) -> Result<&'a [u8], DecodeError> {
        if self.buf.len() < n {
            return Err(DecodeError(format!(
                "checkpoint {}: {field} needs {n} bytes, {} left",
                self.what,
                self.buf.len()
            )));
        }
        let (head, rest) = self.buf.split_at(n);
        self.buf = rest;
        Ok(head)
    }

    fn i16(&mut self, field: &str) -> Result<i16, DecodeError> {
        let b = self.take(2, field)?;
        Ok(i16::from_be_bytes([b[0], b[1]]))
    }

    fn i32(&mut self, field: &str) -> Result<i32, DecodeError> {
        let b = self.take(4, field)?;
        Ok(i32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn i64(&mut self, field: &str) -> Result<i64, DecodeError> {
        let b = self.take(8, field)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(i64::from_be_bytes(a))
    }

    fn string(&mut self, field: &str) -> Result<String, DecodeError> {
        let len = self.i16(field)?;
        let len = usize::try_from(len).map_err(|_| {
            DecodeError(format!(
                "checkpoint {}: {field} has length {len}",
                self.what
            ))
        })?;
        let b = self.take(len, field)?;
        String::from_utf8(b.to_vec())
            .map_err(|_| DecodeError(format!("checkpoint {}: {field} is not UTF-8", self.what)))
    }
}

/// Decodes a checkpoint record's key and value.
pub fn decode(key: &[u8], value: &[u8]) -> Result<Checkpoint, DecodeError> {
    let mut k = Reader {
        buf: key,
        what: "key",
    };
    let group = k.string("group")?;
    let topic = k.string("topic")?;
    let partition = k.i32("partition")?;
    let mut v = Reader {
        buf: value,
        what: "value",
    };
    let version = v.i16("version")?;
    if version != 0 {
        return Err(DecodeError(format!(
            "checkpoint value version {version} (only 0 is known)"
        )));
    }
    let upstream_offset = v.i64("upstreamOffset")?;
    let downstream_offset = v.i64("downstreamOffset")?;
    let metadata = v.string("metadata")?;
    Ok(Checkpoint {
        group,
        topic,
        partition,
        upstream_offset,
        downstream_offset,
        metadata,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn string(out: &mut Vec<u8>, s: &str) {
        out.extend_from_slice(&(s.len() as i16).to_be_bytes());
        out.extend_from_slice(s.as_bytes());
    }

    #[test]
    fn decodes_kafkas_layout() {
        let mut key = Vec::new();
        string(&mut key, "g1");
        string(&mut key, "A.orders");
        key.extend_from_slice(&3i32.to_be_bytes());
        let mut value = 0i16.to_be_bytes().to_vec();
        value.extend_from_slice(&120i64.to_be_bytes());
        value.extend_from_slice(&117i64.to_be_bytes());
        string(&mut value, "m");
        let c = decode(&key, &value).unwrap();
        assert_eq!(
            c,
            Checkpoint {
                group: "g1".into(),
                topic: "A.orders".into(),
                partition: 3,
                upstream_offset: 120,
                downstream_offset: 117,
                metadata: "m".into(),
            }
        );
        // Every truncation is an error, not a panic.
        for n in 0..key.len() {
            assert!(decode(&key[..n], &value).is_err());
        }
        for n in 0..value.len() {
            assert!(decode(&key, &value[..n]).is_err());
        }
        let mut v1 = value.clone();
        v1[1] = 1;
        assert!(decode(&key, &v1).unwrap_err().0.contains("version 1"));
        let mut neg = key.clone();
        neg[0] = 0xff;
        assert!(decode(&neg, &value).is_err());
    }
}
