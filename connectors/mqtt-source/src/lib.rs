//! Built-in connector `mqtt-source`: subscribes to MQTT topic filters through the host's `mqtt`
//! capability and writes each message to a Kafka topic (fixed or templated from the MQTT topic),
//! acknowledging a QoS 1 message to the broker only once the worker reports its record in Kafka.
//!
//! `template` renders topics and keys, `connection` (the SDK's `mqtt` module, shared with
//! mqtt-sink) reads the connection keys, `task` maps
//! messages (packed straight into the poll's batch) and tracks delivery ids; this file declares
//! the config, talks to the host and exports the component.

pub use weft_plugin_sdk::mqtt as connection;
pub mod task;
pub mod template;

use weft_plugin_sdk::capability::mqtt;
use weft_plugin_sdk::{
    log, Config, ConfigDef, ConfigIssue, ConfigType, Importance, Metadata, Plugin, PluginError,
    PluginKind, Polled, Result, Schemas, SourceConnector, SourcePosition,
};

use task::{Pending, Settings};

/// The connector's state in one task.
#[derive(Default)]
pub struct MqttSource {
    open: Option<Open>,
}

struct Open {
    settings: Settings,
    partition: String,
    pending: Pending,
    ids: Vec<i64>,
}

/// The config keys, for `/connector-plugins/mqtt-source/config` and validation.
pub fn config_defs() -> Vec<ConfigDef> {
    const G: &str = "Mapping";
    let mut defs = connection::defs(1);
    defs.extend([
        ConfigDef::new(
            task::TOPICS,
            ConfigType::List,
            "MQTT topic filters to subscribe to (wildcards `+` and `#` allowed).",
        )
        .required()
        .importance(Importance::High)
        .group(G, 1),
        ConfigDef::new(
            task::QOS,
            ConfigType::Int,
            "QoS of the subscriptions: 0 or 1.",
        )
        .default("1")
        .recommended(["0", "1"])
        .importance(Importance::High)
        .group(G, 2),
        ConfigDef::new(
            task::KAFKA_TOPIC,
            ConfigType::String,
            "The Kafka topic: fixed text, or a template over the MQTT topic with `${topic}` \
             (`/` written as `.`) and `${level.N}` (level N from 0). Characters Kafka does not \
             allow become `_`.",
        )
        .required()
        .importance(Importance::High)
        .group(G, 3),
        ConfigDef::new(
            task::KAFKA_KEY,
            ConfigType::String,
            "The record key, a template like `kafka.topic` (e.g. `${level.1}` for the device \
             id of `sensors/<device>/temp`); none: null keys.",
        )
        .importance(Importance::Medium)
        .group(G, 4),
        ConfigDef::new(
            task::VALUE_FORMAT,
            ConfigType::String,
            "How the payload is handed to the value converter: `bytes`, `string`, or `json` \
             (schemaless: a JSON converter writes an object or array as it is and any other \
             payload as a JSON string).",
        )
        .default("bytes")
        .recommended(["bytes", "string", "json"])
        .importance(Importance::Medium)
        .group(G, 5),
        ConfigDef::new(
            task::BATCH_SIZE,
            ConfigType::Int,
            "The most messages one poll returns.",
        )
        .default(task::DEFAULT_BATCH_SIZE.to_string())
        .importance(Importance::Low)
        .group(G, 6),
        ConfigDef::new(
            task::POLL_TIMEOUT,
            ConfigType::Int,
            "How long a poll waits for the first message, in milliseconds.",
        )
        .default(task::DEFAULT_POLL_TIMEOUT_MS.to_string())
        .importance(Importance::Low)
        .group(G, 7),
    ]);
    defs
}

impl Plugin for MqttSource {
    fn metadata() -> Metadata {
        let mut m = Metadata::new(
            "mqtt-source",
            env!("CARGO_PKG_VERSION"),
            PluginKind::SourceConnector,
            "MQTT topic filters into Kafka topics; QoS 1 messages acknowledged once in Kafka",
        );
        m.config = config_defs();
        m
    }

    fn validate(config: &Config) -> Vec<ConfigIssue> {
        task::validate(config)
    }
}

impl SourceConnector for MqttSource {
    fn open(&mut self, config: &Config, _committed: Vec<SourcePosition>) -> Result<()> {
        MqttSource::open(self, config)
    }

    fn poll(&mut self) -> Result<Polled> {
        MqttSource::poll(self)
    }

    fn commit(&mut self, positions: Vec<SourcePosition>) -> Result<()> {
        MqttSource::commit(self, &positions)
    }
}

impl MqttSource {
    /// The schemas of every poll's batch.
    pub fn schemas(&self) -> Schemas {
        let s = self.settings();
        Schemas {
            key: s
                .and_then(|s| s.key.as_ref())
                .map(|_| task::KEY_SCHEMA.to_string()),
            value: s.and_then(|s| s.value_format.schema()).map(str::to_string),
        }
    }

    /// Connects, subscribes, and starts a task. Positions from before are not used: after a
    /// restart the broker's session redelivers whatever was not acknowledged.
    pub fn open(&mut self, config: &Config) -> Result<()> {
        let settings = Settings::from_config(config)?;
        connection::connect(&settings.server, &settings.connect_options)?;
        for f in &settings.filters {
            mqtt::subscribe(f, settings.qos).map_err(PluginError::from)?;
        }
        log::info(&format!(
            "mqtt-source: {} subscribed to {} (QoS {})",
            settings.server,
            settings.filters.join(", "),
            settings.qos
        ));
        self.open = Some(Open {
            partition: task::partition(&settings),
            settings,
            pending: Pending::default(),
            ids: Vec::new(),
        });
        Ok(())
    }

    /// Receives what the broker sent and maps it; the position after the batch carries its
    /// last delivery id.
    pub fn poll(&mut self) -> Result<Polled> {
        let schemas = self.schemas();
        let o = self
            .open
            .as_mut()
            .ok_or_else(|| PluginError::fatal("poll before open"))?;
        // While acknowledgements are owed, come back soon: the broker may be waiting for them
        // before it sends more (its in-flight window), and the worker commits between polls.
        let timeout = if o.pending.is_empty() {
            o.settings.poll_timeout_ms
        } else {
            o.settings.poll_timeout_ms.min(20)
        };
        let input = mqtt::receive(o.settings.batch_size, timeout).map_err(PluginError::from)?;
        o.ids.clear();
        let mut polled = Polled::with_capacity(input.len() + input.len() / 4).with_schemas(schemas);
        let last = task::map_batch(&o.settings, &input, &mut o.ids, &mut polled)?;
        o.pending.extend(o.ids.drain(..));
        if let Some(id) = last {
            polled.reached(SourcePosition {
                partition: o.partition.clone(),
                position: task::position_text(id),
            });
        }
        Ok(polled)
    }

    /// The open task's settings.
    pub fn settings(&self) -> Option<&Settings> {
        self.open.as_ref().map(|o| &o.settings)
    }

    /// The worker acknowledged everything up to these positions: PUBACK those messages.
    pub fn commit(&mut self, positions: &[SourcePosition]) -> Result<()> {
        let Some(o) = self.open.as_mut() else {
            return Ok(());
        };
        let last = positions
            .iter()
            .filter_map(|p| task::committed_delivery(&o.partition, p))
            .max();
        if let Some(last) = last {
            let ids = o.pending.release(last);
            if !ids.is_empty() {
                mqtt::ack(&ids).map_err(PluginError::from)?;
            }
        }
        Ok(())
    }
}

#[cfg(target_arch = "wasm32")]
weft_plugin_sdk::export_source_connector!(MqttSource);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_declares_the_keys_and_defaults_validate() {
        let m = MqttSource::metadata();
        assert_eq!(m.kind, PluginKind::SourceConnector);
        let c = Config::new(vec![
            ("mqtt.client.id".into(), "m".into()),
            ("mqtt.server.uri".into(), "tcp://h:1883".into()),
            ("mqtt.topics".into(), "a/#".into()),
            ("kafka.topic".into(), "a".into()),
        ])
        .with_defaults(&m.config);
        assert!(MqttSource::validate(&c).is_empty());
        assert_eq!(c.get("mqtt.qos"), Some("1"));
    }
}
