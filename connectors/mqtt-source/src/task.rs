//! One mqtt-source task: its settings, the mapping of received MQTT messages to Kafka records
//! (topic and key templates, headers), and the delivery ids waiting for the worker's `commit`
//! before they are acknowledged to the broker.

use std::collections::VecDeque;

use weft_batch::BatchReader;
use weft_plugin_sdk::{
    Config, ConfigIssue, PluginError, Polled, RecordParts, Result, SourcePosition,
};

use crate::connection;
use crate::template::{kafka_topic_name, Template};

pub const TOPICS: &str = "mqtt.topics";
pub const QOS: &str = "mqtt.qos";
pub const KAFKA_TOPIC: &str = "kafka.topic";
pub const KAFKA_KEY: &str = "kafka.key";
pub const VALUE_FORMAT: &str = "value.format";
pub const BATCH_SIZE: &str = "batch.size";
pub const POLL_TIMEOUT: &str = "poll.timeout.ms";
pub const DEFAULT_BATCH_SIZE: u32 = 1000;
pub const DEFAULT_POLL_TIMEOUT_MS: u32 = 500;

/// How the payload is described to the converters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueFormat {
    /// Raw bytes (schema `bytes`).
    Bytes,
    /// UTF-8 text (schema `string`).
    String,
    /// JSON text, schemaless: a JSON converter writes an object or array as it is and any
    /// other payload (one that is not JSON included) as a JSON string.
    Json,
}

impl ValueFormat {
    /// The value schema of the batch.
    pub fn schema(self) -> Option<&'static str> {
        match self {
            ValueFormat::Bytes => Some(r#"{"type":"bytes","optional":true}"#),
            ValueFormat::String => Some(r#"{"type":"string","optional":true}"#),
            ValueFormat::Json => None,
        }
    }
}

/// The key schema when a key template is set.
pub const KEY_SCHEMA: &str = r#"{"type":"string","optional":true}"#;

/// A task's settings.
#[derive(Debug, Clone)]
pub struct Settings {
    pub server: String,
    pub connect_options: Vec<(String, String)>,
    pub filters: Vec<String>,
    pub qos: u8,
    pub topic: Template,
    pub key: Option<Template>,
    pub value_format: ValueFormat,
    pub batch_size: u32,
    pub poll_timeout_ms: u32,
}

impl Settings {
    pub fn from_config(c: &Config) -> Result<Settings> {
        let (server, connect_options) = connection::options(c)?;
        let filters = c.list(TOPICS);
        if filters.is_empty() {
            return Err(PluginError::fatal(format!(
                "`{TOPICS}` names no topic filter"
            )));
        }
        let topic = Template::parse(c.require(KAFKA_TOPIC)?)
            .map_err(|e| PluginError::fatal(format!("`{KAFKA_TOPIC}`: {e}")))?;
        let key = c
            .get(KAFKA_KEY)
            .filter(|s| !s.is_empty())
            .map(Template::parse)
            .transpose()
            .map_err(|e| PluginError::fatal(format!("`{KAFKA_KEY}`: {e}")))?;
        let value_format = match c.get(VALUE_FORMAT).unwrap_or("bytes") {
            "bytes" => ValueFormat::Bytes,
            "string" => ValueFormat::String,
            "json" => ValueFormat::Json,
            other => {
                return Err(PluginError::fatal(format!(
                    "`{VALUE_FORMAT}` must be bytes, string or json, not `{other}`"
                )))
            }
        };
        let num = |key: &str, default: u32| -> Result<u32> {
            match c.i64(key, i64::from(default))? {
                n if (1..=100_000).contains(&n) => Ok(n as u32),
                n => Err(PluginError::fatal(format!(
                    "`{key}` = {n} is outside 1..=100000"
                ))),
            }
        };
        Ok(Settings {
            server,
            connect_options,
            filters,
            qos: connection::qos(c, QOS)?,
            topic,
            key,
            value_format,
            batch_size: num(BATCH_SIZE, DEFAULT_BATCH_SIZE)?,
            poll_timeout_ms: num(POLL_TIMEOUT, DEFAULT_POLL_TIMEOUT_MS)?,
        })
    }
}

/// Config problems, for `validate`.
pub fn validate(c: &Config) -> Vec<ConfigIssue> {
    match Settings::from_config(c) {
        Ok(_) => Vec::new(),
        Err(e) => {
            let key = [
                TOPICS,
                QOS,
                KAFKA_TOPIC,
                KAFKA_KEY,
                VALUE_FORMAT,
                BATCH_SIZE,
                POLL_TIMEOUT,
                connection::SERVER,
                connection::CLIENT_ID,
            ]
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

/// The source partition every position of a task is stored under.
pub fn partition(settings: &Settings) -> String {
    let client = settings
        .connect_options
        .iter()
        .find(|(k, _)| k == "client.id")
        .map_or("", |(_, v)| v.as_str());
    serde_json::json!({"client": client, "server": settings.server}).to_string()
}

/// Delivery ids handed to the worker and not yet acknowledged, in increasing order.
#[derive(Debug, Default)]
pub struct Pending {
    ids: VecDeque<i64>,
}

impl Pending {
    /// Remembers the ids of a poll.
    pub fn extend(&mut self, ids: impl IntoIterator<Item = i64>) {
        self.ids.extend(ids);
    }

    /// Whether anything waits for the worker.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// Removes and returns every id up to `last` (the worker acknowledged them all).
    pub fn release(&mut self, last: i64) -> Vec<i64> {
        let n = self.ids.iter().take_while(|id| **id <= last).count();
        self.ids.drain(..n).collect()
    }

    /// Forgets everything (a new connection: the broker redelivers what was not acknowledged).
    pub fn clear(&mut self) {
        self.ids.clear();
    }
}

/// The delivery id a committed position carries, if it is one of ours.
pub fn committed_delivery(partition_key: &str, p: &SourcePosition) -> Option<i64> {
    if p.partition != partition_key {
        return None;
    }
    let v: serde_json::Value = serde_json::from_str(&p.position).ok()?;
    v.get("delivery")?.as_i64()
}

/// The position reached once delivery `id` is in Kafka.
pub fn position_text(id: i64) -> String {
    format!("{{\"delivery\":{id}}}")
}

/// Maps the host's batch of MQTT messages to Kafka records, packed into `out`: topic and key
/// from the templates, the payload as value, headers `mqtt.topic` plus the host's (`mqtt.qos`,
/// `mqtt.retain`, MQTT 5 user properties). Each record's delivery id goes to `ids`; returns the
/// last one.
pub fn map_batch(
    settings: &Settings,
    input: &[u8],
    ids: &mut Vec<i64>,
    out: &mut Polled,
) -> Result<Option<i64>> {
    let reader = BatchReader::new(input)
        .map_err(|e| PluginError::fatal(format!("bad batch from the MQTT host: {e}")))?;
    let mut topic = String::new();
    let mut key = String::new();
    let mut last = None;
    for r in reader.records() {
        let r = r.map_err(|e| PluginError::fatal(format!("bad batch from the MQTT host: {e}")))?;
        settings.topic.render_into(r.topic, &mut topic);
        kafka_topic_name(&mut topic);
        let mut parts = RecordParts::new(&topic);
        parts.value = r.value;
        if let Some(t) = &settings.key {
            t.render_into(r.topic, &mut key);
            parts = parts.key(key.as_bytes());
        }
        let headers =
            std::iter::once(("mqtt.topic", Some(r.topic.as_bytes()))).chain(r.headers.iter());
        out.push_parts_with_headers(parts, headers);
        if let Some(id) = r.offset {
            ids.push(id);
            last = Some(id);
        }
    }
    Ok(last)
}

#[cfg(test)]
mod tests {
    use super::*;
    use weft_batch::{Header, Record};

    fn config(extra: &[(&str, &str)]) -> Config {
        let mut v: Vec<(String, String)> = vec![
            ("mqtt.client.id".into(), "m".into()),
            (connection::SERVER.into(), "tcp://127.0.0.1:1883".into()),
            (TOPICS.into(), "sensors/+/temp".into()),
            (KAFKA_TOPIC.into(), "${level.2}".into()),
            (KAFKA_KEY.into(), "${level.1}".into()),
        ];
        v.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        Config::new(v)
    }

    #[test]
    fn messages_map_to_templated_topics_keys_and_headers() {
        let s = Settings::from_config(&config(&[])).unwrap();
        let mut m = Record::new("sensors/dev-1/temp", b"21.5".to_vec());
        m.offset = Some(7);
        m.headers = vec![Header {
            key: "mqtt.qos".into(),
            value: Some(b"1".to_vec()),
        }];
        let input = weft_batch::encode(&[m]).unwrap();
        let mut ids = Vec::new();
        let mut out = Polled::new();
        let last = map_batch(&s, &input, &mut ids, &mut out).unwrap();
        assert_eq!((out.len(), last, ids), (1, Some(7), vec![7]));
        let recs = out.finish().unwrap().decode().unwrap();
        assert_eq!(recs[0].topic, "temp");
        assert_eq!(recs[0].key.as_deref(), Some(&b"dev-1"[..]));
        assert_eq!(recs[0].value.as_deref(), Some(&b"21.5"[..]));
        assert_eq!(recs[0].headers[0].key, "mqtt.topic");
        assert_eq!(
            recs[0].headers[0].value.as_deref(),
            Some(&b"sensors/dev-1/temp"[..])
        );
        assert_eq!(recs[0].headers[1].key, "mqtt.qos");
        assert_eq!((recs[0].offset, recs[0].partition), (None, None));
    }

    #[test]
    fn pending_ids_are_released_up_to_the_committed_one() {
        let s = Settings::from_config(&config(&[])).unwrap();
        let part = partition(&s);
        let mut p = Pending::default();
        p.extend([3, 4, 9]);
        let pos = SourcePosition {
            partition: part.clone(),
            position: position_text(4),
        };
        assert_eq!(committed_delivery(&part, &pos), Some(4));
        assert_eq!(p.release(4), vec![3, 4]);
        assert!(!p.is_empty());
        assert_eq!(p.release(100), vec![9]);
    }

    #[test]
    fn bad_settings_name_their_key() {
        let issues = validate(&config(&[(QOS, "2")]));
        assert_eq!(issues[0].key, QOS);
        let issues = validate(&config(&[(KAFKA_TOPIC, "${x}")]));
        assert_eq!(issues[0].key, KAFKA_TOPIC);
        assert!(validate(&config(&[])).is_empty());
    }
}
