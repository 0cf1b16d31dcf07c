//! Built-in connector `mirror`: MirrorMaker 2 as one source-connector component. Its role is
//! MM2's connector named by `connector.class`: MirrorSourceConnector (records and offset
//! syncs), MirrorCheckpointConnector (checkpoints, group offset sync) or
//! MirrorHeartbeatConnector (heartbeats), configured with MM2's names and writing MM2's
//! internal topics byte for byte. It reads the source cluster through the `remote-cluster`
//! capability and administers the target through `local-admin`.
//!
//! Pure logic, unit-tested natively: `config` (settings, roles, task split), `filter`
//! (regex lists), `policy` (replication policies), `formats` (internal record formats),
//! `sync_rule` (when to write an offset sync), `sync_store` (MM2's bounded sync history and
//! offset translation), `checkpoints` (monotonic checkpoints, group offset sync), `rewrite`
//! (a fetched batch renamed in place, with its positions). The roles that call the host:
//! `source`, `checkpoint`, `heartbeat`. This file hands a role's packed batch to the SDK's
//! `Polled` as it is and exports the component.

pub mod checkpoint;
pub mod checkpoints;
pub mod config;
pub mod filter;
pub mod formats;
pub mod gate;
pub mod heartbeat;
pub mod policy;
pub mod rewrite;
pub mod source;
pub mod sync_rule;
pub mod sync_store;

use std::time::{SystemTime, UNIX_EPOCH};

use weft_plugin_sdk::serde_json::{json, Value};
use weft_plugin_sdk::{
    schema, Config, ConfigIssue, Metadata, Plugin, PluginError, PluginKind, Polled, Result,
    Schemas, SourceConnector, SourcePosition,
};

use config::{Role, Settings};

/// What a poll hands the worker: a packed batch and the positions it reaches.
#[derive(Debug, Default)]
pub struct Out {
    /// Records, packed (WFB1).
    pub batch: Vec<u8>,
    /// `(after_records, position)`, in increasing `after_records` order.
    pub positions: Vec<(u32, SourcePosition)>,
}

/// The running role.
pub enum Running {
    Source(Box<source::SourceRole>),
    Checkpoint(Box<checkpoint::CheckpointRole>),
    Heartbeat(Box<heartbeat::HeartbeatRole>),
}

/// The connector in one task.
#[derive(Default)]
pub struct Mirror {
    running: Option<Running>,
}

impl Plugin for Mirror {
    fn metadata() -> Metadata {
        let mut m = Metadata::new(
            "mirror",
            env!("CARGO_PKG_VERSION"),
            PluginKind::SourceConnector,
            "MirrorMaker 2: mirrors topics, offset syncs, checkpoints and heartbeats from a \
             remote Kafka cluster (MirrorSource/Checkpoint/HeartbeatConnector by connector.class)",
        );
        m.config = config::config_defs();
        m
    }

    fn validate(config: &Config) -> Vec<ConfigIssue> {
        config::validate_with(config, clock_granted())
    }
}

impl SourceConnector for Mirror {
    fn task_configs(config: &Config, max_tasks: u32) -> Result<Vec<Config>> {
        Ok(config::task_configs(config, max_tasks))
    }

    fn open(&mut self, config: &Config, committed: Vec<SourcePosition>) -> Result<()> {
        Mirror::open(self, config, committed)
    }

    /// The role's batch goes to the host as it is (a fetched batch renamed in place).
    fn poll(&mut self) -> Result<Polled> {
        let out = Mirror::poll(self)?;
        // Keys and values are raw bytes: ByteArrayConverter passes them through unchanged.
        let mut polled = Polled::packed(out.batch)?.with_schemas(Schemas {
            key: Some(schema::OPTIONAL_BYTES.to_string()),
            value: Some(schema::OPTIONAL_BYTES.to_string()),
        });
        for (after_records, position) in out.positions {
            polled.reached_after(after_records, position);
        }
        Ok(polled)
    }

    fn commit(&mut self, _positions: Vec<SourcePosition>) -> Result<()> {
        Mirror::commit(self, now_ms());
        Ok(())
    }
}

#[cfg(target_arch = "wasm32")]
weft_plugin_sdk::export_source_connector!(Mirror);

impl Mirror {
    /// Starts the role the config names.
    pub fn open(&mut self, config: &Config, committed: Vec<SourcePosition>) -> Result<()> {
        ConfigIssue::none_of(&Mirror::validate(config))?;
        let s = Settings::parse(config).map_err(|_| PluginError::fatal("invalid config"))?;
        let now = now_ms();
        self.running = Some(match s.role {
            Role::Source => {
                Running::Source(Box::new(source::SourceRole::open(s, &committed, now)?))
            }
            Role::Checkpoint => Running::Checkpoint(Box::new(checkpoint::CheckpointRole::open(
                s, &committed, now,
            )?)),
            Role::Heartbeat => {
                Running::Heartbeat(Box::new(heartbeat::HeartbeatRole::open(s, now)?))
            }
        });
        Ok(())
    }

    /// One poll of the running role.
    pub fn poll(&mut self) -> Result<Out> {
        let now = now_ms();
        match self.running.as_mut() {
            Some(Running::Source(r)) => r.poll(now),
            Some(Running::Checkpoint(r)) => r.poll(now),
            Some(Running::Heartbeat(r)) => r.poll(now),
            None => Err(PluginError::fatal("poll before open")),
        }
    }

    /// The worker stored these positions.
    pub fn commit(&mut self, now: u64) {
        if let Some(Running::Source(r)) = self.running.as_mut() {
            r.committed(now);
        }
    }
}

/// Milliseconds since the Unix epoch (0 without the clock grant, which `validate` requires).
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// Without `capability.clock` the runtime's clock is frozen at 1970.
pub fn clock_granted() -> bool {
    now_ms() > 1_000_000_000_000
}

/// MM2's source partition of a mirrored topic partition: `{"cluster":A,"partition":p,"topic":t}`.
pub fn partition_json(cluster: &str, topic: &str, partition: i32) -> String {
    weft_plugin_sdk::position::json_object([
        ("cluster", json!(cluster)),
        ("partition", json!(partition)),
        ("topic", json!(topic)),
    ])
}

/// MM2's source offset: `{"offset":N}`.
pub fn offset_json(offset: i64) -> String {
    weft_plugin_sdk::position::json_object([("offset", json!(offset))])
}

/// Reads `{"cluster":..,"partition":..,"topic":..}` back.
pub fn parse_partition_json(text: &str) -> Option<(String, String, i32)> {
    let m = weft_plugin_sdk::position::parse_json_object(text).ok()?;
    let cluster = m.get("cluster")?.as_str()?.to_string();
    let topic = m.get("topic")?.as_str()?.to_string();
    let partition = i32::try_from(m.get("partition")?.as_i64()?).ok()?;
    Some((cluster, topic, partition))
}

/// Reads an integer field of a JSON object position.
pub fn json_i64(text: &str, field: &str) -> Option<i64> {
    weft_plugin_sdk::position::parse_json_object(text)
        .ok()?
        .get(field)
        .and_then(Value::as_i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_are_mm2s_json() {
        assert_eq!(
            partition_json("A", "orders", 3),
            r#"{"cluster":"A","partition":3,"topic":"orders"}"#
        );
        assert_eq!(offset_json(42), r#"{"offset":42}"#);
        assert_eq!(
            parse_partition_json(&partition_json("A", "t", 1)),
            Some(("A".into(), "t".into(), 1))
        );
        assert_eq!(json_i64(&offset_json(7), "offset"), Some(7));
        assert_eq!(parse_partition_json("{}"), None);
    }
}
