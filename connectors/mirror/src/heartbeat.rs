//! The heartbeat role (MirrorHeartbeatConnector): writes a heartbeat {source alias, target
//! alias, time} to `heartbeats` on the target every `emit.heartbeats.interval.seconds`; the
//! source role of the next hop mirrors it on, so tools can trace a flow end to end.

use weft_batch::BatchWriter;
use weft_plugin_sdk::serde_json::json;
use weft_plugin_sdk::{admin, log, PluginError, Result, SourcePosition};

use crate::config::Settings;
use crate::formats::Heartbeat;
use crate::source::internal_topic;
use crate::Out;

/// The heartbeat role's state.
pub struct HeartbeatRole {
    s: Settings,
    next: u64,
}

impl HeartbeatRole {
    /// Opens the role and creates the heartbeats topic.
    pub fn open(s: Settings, now: u64) -> Result<HeartbeatRole> {
        admin::create_topics(&[internal_topic(s.policy.heartbeats_topic(), s.heartbeats_rf)])?;
        Ok(HeartbeatRole { s, next: now })
    }

    /// A heartbeat when one is due.
    pub fn poll(&mut self, now: u64) -> Result<Out> {
        let mut out = BatchWriter::new();
        let mut positions = Vec::new();
        if let Some(ms) = self.s.emit_heartbeats_ms {
            if now >= self.next && self.s.task_index == 0 {
                let h = Heartbeat {
                    source_alias: self.s.source_alias.clone(),
                    target_alias: self.s.target_alias.clone(),
                    timestamp: now as i64,
                };
                out.push(
                    self.s.policy.heartbeats_topic(),
                    Some(0),
                    Some(now as i64),
                    None,
                    Some(&h.key()),
                    Some(&h.value()),
                    [],
                )
                .map_err(|e| PluginError::fatal(format!("cannot pack a heartbeat: {e}")))?;
                positions.push((
                    1,
                    SourcePosition {
                        partition: weft_plugin_sdk::position::json_object([
                            ("sourceClusterAlias", json!(h.source_alias)),
                            ("targetClusterAlias", json!(h.target_alias)),
                        ]),
                        position: crate::offset_json(0),
                    },
                ));
                log::counter_add("mirror.heartbeats", 1);
                self.next = now + ms.max(1);
            }
        }
        let batch = out
            .finish()
            .map_err(|e| PluginError::fatal(format!("cannot pack a heartbeat: {e}")))?;
        Ok(Out { batch, positions })
    }
}
