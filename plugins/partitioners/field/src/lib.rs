//! `field`: partitions by one field of a JSON object value (murmur2 of the field's JSON text,
//! or of the string itself for string fields), so records about one entity stay in order
//! even when their key differs. Records without the field fall back to murmur2 of the key.

use serde_json::Value;
use weft_plugin_sdk::*;

fn murmur2(data: &[u8]) -> i32 {
    const M: u32 = 0x5bd1_e995;
    let mut h: u32 = 0x9747_b28c ^ (data.len() as u32);
    let mut chunks = data.chunks_exact(4);
    for c in &mut chunks {
        let mut k = u32::from_le_bytes([c[0], c[1], c[2], c[3]]).wrapping_mul(M);
        k ^= k >> 24;
        h = h.wrapping_mul(M) ^ k.wrapping_mul(M);
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
struct FieldPartitioner {
    field: String,
    next: u32,
}

impl Plugin for FieldPartitioner {
    fn metadata() -> Metadata {
        Metadata::new(
            "field",
            env!("CARGO_PKG_VERSION"),
            PluginKind::Partitioner,
            "murmur2 of a field of the JSON value",
        )
        .config(
            ConfigDef::new(
                "field",
                ConfigType::String,
                "Top-level field of the JSON value to partition by.",
            )
            .required(),
        )
    }

    fn configure(&mut self, config: &Config) -> Result<()> {
        self.field = config.require("field")?.to_string();
        Ok(())
    }
}

impl Partitioner for FieldPartitioner {
    fn partition(&mut self, record: &Record<'_>, partitions: u32) -> Result<u32> {
        let field = record
            .value()
            .and_then(|v| serde_json::from_slice::<Value>(v).ok())
            .and_then(|v| v.get(&self.field).cloned());
        let hashed = match (&field, record.key()) {
            (Some(Value::String(s)), _) => murmur2(s.as_bytes()),
            (Some(other), _) => murmur2(other.to_string().as_bytes()),
            (None, Some(key)) => murmur2(key),
            (None, None) => {
                self.next = self.next.wrapping_add(1);
                return Ok(self.next % partitions);
            }
        };
        Ok(((hashed & 0x7fff_ffff) as u32) % partitions)
    }
}

export_partitioner!(FieldPartitioner);
