//! `default`: the Java client's partitioner: murmur2 of the key for keyed records (identical to
//! librdkafka's `murmur2_random`), and for keyless records one partition per batch, moving on to
//! the next partition with every batch (the "sticky" idea of KIP-480 at batch granularity).

use weft_plugin_sdk::*;

/// Kafka's murmur2 (`org.apache.kafka.common.utils.Utils.murmur2`), seed 0x9747b28c.
fn murmur2(data: &[u8]) -> i32 {
    const SEED: u32 = 0x9747_b28c;
    const M: u32 = 0x5bd1_e995;
    const R: u32 = 24;
    let len = data.len();
    let mut h: u32 = SEED ^ (len as u32);
    let mut chunks = data.chunks_exact(4);
    for c in &mut chunks {
        let mut k = u32::from_le_bytes([c[0], c[1], c[2], c[3]]);
        k = k.wrapping_mul(M);
        k ^= k >> R;
        k = k.wrapping_mul(M);
        h = h.wrapping_mul(M);
        h ^= k;
    }
    let rest = chunks.remainder();
    if rest.len() >= 3 {
        h ^= (rest[2] as u32) << 16;
    }
    if rest.len() >= 2 {
        h ^= (rest[1] as u32) << 8;
    }
    if !rest.is_empty() {
        h ^= rest[0] as u32;
        h = h.wrapping_mul(M);
    }
    h ^= h >> 13;
    h = h.wrapping_mul(M);
    h ^= h >> 15;
    h as i32
}

#[derive(Default)]
struct DefaultPartitioner {
    /// Partition for keyless records, advanced once per batch.
    sticky: u32,
    /// Whether this batch already used `sticky`.
    batch_started: bool,
}

impl Plugin for DefaultPartitioner {
    fn metadata() -> Metadata {
        Metadata::new(
            "default",
            env!("CARGO_PKG_VERSION"),
            PluginKind::Partitioner,
            "murmur2(key) like the Java client and librdkafka; keyless records stick to one partition per batch",
        )
    }
}

impl Partitioner for DefaultPartitioner {
    fn partition(&mut self, record: &Record<'_>, partitions: u32) -> Result<u32> {
        match record.key() {
            Some(key) => Ok(((murmur2(key) & 0x7fff_ffff) as u32) % partitions),
            None => {
                if !self.batch_started {
                    self.batch_started = true;
                    self.sticky = self.sticky.wrapping_add(1);
                }
                Ok(self.sticky % partitions)
            }
        }
    }

    fn end_batch(&mut self) {
        self.batch_started = false;
    }
}

export_partitioner!(DefaultPartitioner);
