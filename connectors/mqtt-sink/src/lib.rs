//! Built-in connector `mqtt-sink`: publishes Kafka records to MQTT topics rendered from a
//! template (Kafka topic, key, header or JSON field) through the host's `mqtt` capability.
//! A `put` returns only after the broker acknowledged (PUBACK) every QoS 1 message of the
//! batch, so the offsets `pre-commit` hands back are only those of records the broker has.
//!
//! `template` renders topics, `connection` (the SDK's `mqtt` module, shared with mqtt-source)
//! reads the connection keys; this file declares the config and calls the host.

pub use weft_plugin_sdk::mqtt as connection;
pub mod template;

use weft_plugin_sdk::capability::mqtt;
use weft_plugin_sdk::weft_batch::BatchWriter;
use weft_plugin_sdk::{
    log, Config, ConfigDef, ConfigIssue, ConfigType, Importance, Metadata, Plugin, PluginError,
    PluginKind, Record, RecordFailure, Result, Schemas, SinkConnector, TopicPartitionOffset,
};

use template::Template;

pub const TOPIC: &str = "mqtt.topic";
pub const QOS: &str = "mqtt.qos";
pub const RETAIN: &str = "mqtt.retain";

/// A task's settings.
#[derive(Debug, Clone)]
pub struct Settings {
    pub server: String,
    pub connect_options: Vec<(String, String)>,
    pub topic: Template,
    pub qos: u8,
    pub retain: bool,
}

impl Settings {
    pub fn from_config(c: &Config) -> Result<Settings> {
        let (server, connect_options) = connection::options(c)?;
        let topic = Template::parse(c.require(TOPIC)?)
            .map_err(|e| PluginError::fatal(format!("`{TOPIC}`: {e}")))?;
        Ok(Settings {
            server,
            connect_options,
            topic,
            qos: connection::qos(c, QOS)?,
            retain: c.bool(RETAIN, false)?,
        })
    }
}

/// The connector's state in one task.
#[derive(Default)]
pub struct MqttSink {
    settings: Option<Settings>,
}

/// The config keys.
pub fn config_defs() -> Vec<ConfigDef> {
    const G: &str = "Mapping";
    let mut defs = connection::defs(1);
    defs.extend([
        ConfigDef::new(
            TOPIC,
            ConfigType::String,
            "The MQTT topic of each record: text with `${topic}` (the Kafka topic), `${key}`, \
             `${header.NAME}` or `${field.NAME}` (a field of a JSON object value). A record \
             whose topic cannot be rendered fails on its own (dead-letter queue under \
             `errors.tolerance=all`).",
        )
        .required()
        .importance(Importance::High)
        .group(G, 1),
        ConfigDef::new(
            QOS,
            ConfigType::Int,
            "QoS of the published messages: 0 or 1.",
        )
        .default("1")
        .recommended(["0", "1"])
        .importance(Importance::High)
        .group(G, 2),
        ConfigDef::new(RETAIN, ConfigType::Boolean, "Publish with the retain flag.")
            .default("false")
            .importance(Importance::Medium)
            .group(G, 3),
    ]);
    defs
}

/// Config problems, for `validate`.
pub fn validate(c: &Config) -> Vec<ConfigIssue> {
    match Settings::from_config(c) {
        Ok(_) => Vec::new(),
        Err(e) => {
            let key = [TOPIC, QOS, RETAIN, connection::CLIENT_ID]
                .into_iter()
                .find(|k| e.message.contains(&format!("`{k}`")))
                .unwrap_or(connection::SERVER);
            vec![ConfigIssue {
                key: key.to_string(),
                message: e.message,
            }]
        }
    }
}

/// Renders every record's MQTT topic and packs those that have one (value as payload, a null
/// value as an empty payload); returns the batch, the put index of each packed record, and
/// the records that failed.
pub fn pack(
    settings: &Settings,
    records: &[Record<'_>],
) -> Result<(Vec<u8>, Vec<usize>, Vec<RecordFailure>)> {
    let mut w = BatchWriter::with_capacity(
        records
            .iter()
            .map(|r| r.value().map_or(0, <[u8]>::len) + 64)
            .sum(),
    );
    let mut index = Vec::with_capacity(records.len());
    let mut failures = Vec::new();
    for (i, r) in records.iter().enumerate() {
        match settings.topic.render(r) {
            Ok(topic) => {
                w.push(
                    &topic,
                    None,
                    None,
                    None,
                    None,
                    Some(r.value().unwrap_or_default()),
                    std::iter::empty(),
                )
                .map_err(|e| PluginError::fatal(format!("cannot pack a record: {e}")))?;
                index.push(i);
            }
            Err(m) => failures.push(RecordFailure::new(i, PluginError::fatal(m))),
        }
    }
    let batch = w
        .finish()
        .map_err(|e| PluginError::fatal(format!("cannot pack records: {e}")))?;
    Ok((batch, index, failures))
}

impl Plugin for MqttSink {
    fn metadata() -> Metadata {
        let mut m = Metadata::new(
            "mqtt-sink",
            env!("CARGO_PKG_VERSION"),
            PluginKind::SinkConnector,
            "Kafka topics to templated MQTT topics; offsets committed only after PUBACK",
        );
        m.config = config_defs();
        m
    }

    fn validate(config: &Config) -> Vec<ConfigIssue> {
        validate(config)
    }
}

impl SinkConnector for MqttSink {
    fn open(&mut self, config: &Config) -> Result<()> {
        let settings = Settings::from_config(config)?;
        connection::connect(&settings.server, &settings.connect_options)?;
        log::info(&format!("mqtt-sink: publishing to {}", settings.server));
        self.settings = Some(settings);
        Ok(())
    }

    fn put(&mut self, records: &[Record<'_>], _schemas: &Schemas) -> Result<Vec<RecordFailure>> {
        let s = self
            .settings
            .as_ref()
            .ok_or_else(|| PluginError::fatal("put before open"))?;
        let (batch, index, mut failures) = pack(s, records)?;
        if !index.is_empty() {
            // Returns once the broker acknowledged every QoS 1 message (or a retriable error:
            // the worker puts the batch again; duplicates, never a loss).
            let refused = mqtt::publish(&batch, s.qos, s.retain).map_err(PluginError::from)?;
            for f in refused {
                let i = index.get(f.index as usize).copied().unwrap_or(0);
                failures.push(RecordFailure::new(i, PluginError::fatal(f.message)));
            }
        }
        Ok(failures)
    }

    fn pre_commit(
        &mut self,
        offsets: Vec<TopicPartitionOffset>,
    ) -> Result<Vec<TopicPartitionOffset>> {
        // Every put returned after its PUBACKs: everything put so far is at the broker.
        Ok(offsets)
    }
}

#[cfg(target_arch = "wasm32")]
weft_plugin_sdk::export_sink_connector!(MqttSink);

#[cfg(test)]
mod tests {
    use super::*;

    fn config(extra: &[(&str, &str)]) -> Config {
        let mut v: Vec<(String, String)> = vec![
            ("mqtt.client.id".into(), "s".into()),
            (connection::SERVER.into(), "tcp://127.0.0.1:1883".into()),
            (TOPIC.into(), "devices/${key}/set".into()),
        ];
        v.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        Config::new(v)
    }

    #[test]
    fn records_pack_to_their_topics_and_unrenderable_ones_fail_alone() {
        let s = Settings::from_config(&config(&[])).unwrap();
        let mut a = Record::new("t", b"on".to_vec());
        a.set_key(b"d1".to_vec());
        let b = Record::new("t", b"off".to_vec());
        let (batch, index, failures) = pack(&s, &[a, b]).unwrap();
        assert_eq!(index, vec![0]);
        assert_eq!(failures.len(), 1);
        let out = weft_plugin_sdk::weft_batch::decode(&batch).unwrap();
        assert_eq!(out[0].topic, "devices/d1/set");
        assert_eq!(out[0].value.as_deref(), Some(&b"on"[..]));
    }

    #[test]
    fn config_is_checked() {
        assert!(validate(&config(&[])).is_empty());
        assert_eq!(validate(&config(&[(QOS, "5")]))[0].key, QOS);
        assert_eq!(validate(&config(&[(TOPIC, "${x}")]))[0].key, TOPIC);
        let m = MqttSink::metadata();
        assert_eq!(m.kind, PluginKind::SinkConnector);
    }
}
