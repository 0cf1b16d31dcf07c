//! The `mqtt` capability: the host side of `weft:plugin/mqtt` for plugins whose config grants
//! `capability.mqtt.urls`.
//!
//! - `options` — the URL checked against the grant, and the connection options.
//! - `session` — one rumqttc connection and the thread that drives it.
//!
//! Every call that waits on the network runs inside [`HostState::wait`], so it does not count
//! against the plugin's call deadline, and blocks only the instance's own thread. Received QoS 1
//! messages are acknowledged (PUBACK) only when the plugin calls `ack` with their delivery ids.

mod options;
mod session;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::bindings::capability_mqtt::weft::plugin::mqtt;
use crate::bindings::types::{ConfigEntry, ErrorKind, PluginError, RecordFailure};
use crate::host::HostState;
use options::{check_granted, ConnectOptions};
use session::{Session, WaitError};

/// Longest a `publish` call waits for the broker before answering a retriable error.
const PUBLISH_TIMEOUT: Duration = Duration::from_secs(30);
/// Most payload bytes one `receive` returns (one larger message still comes alone).
const RECEIVE_BYTES: usize = 16 << 20;
/// Most messages one `receive` returns, whatever the plugin asks.
const RECEIVE_MAX: usize = 100_000;

/// An instance's MQTT state: the granted URLs and, once connected, the session.
#[derive(Default)]
pub(crate) struct MqttState {
    granted: Vec<String>,
    /// `capability.mqtt.tls.ca.location`.
    ca_file: Option<PathBuf>,
    session: Option<Session>,
}

impl MqttState {
    /// No session yet; only these broker URLs may be reached.
    pub(crate) fn new(granted: &[String], ca_file: Option<PathBuf>) -> Self {
        MqttState {
            granted: granted.to_vec(),
            ca_file,
            session: None,
        }
    }
}

fn fatal(message: impl Into<String>) -> PluginError {
    PluginError {
        kind: ErrorKind::Fatal,
        message: message.into(),
        retry_after_ms: None,
    }
}

fn retriable(message: impl Into<String>) -> PluginError {
    PluginError {
        kind: ErrorKind::Retriable,
        message: message.into(),
        retry_after_ms: None,
    }
}

fn wait_error(url: &str, e: WaitError) -> PluginError {
    match e {
        WaitError::Fatal(m) => fatal(m),
        WaitError::Timeout(m) => retriable(format!("MQTT broker {url}: {m}")),
    }
}

fn qos(q: u8) -> Result<u8, PluginError> {
    match q {
        0..=2 => Ok(q),
        other => Err(fatal(format!(
            "MQTT QoS {other} does not exist (0, 1 or 2)"
        ))),
    }
}

impl HostState {
    fn mqtt_session(&mut self) -> Result<Session, PluginError> {
        self.mqtt
            .session
            .take()
            .ok_or_else(|| fatal("MQTT: `connect` was not called"))
    }
}

impl mqtt::Host for HostState {
    fn connect(&mut self, url: String, options: Vec<ConfigEntry>) -> Result<(), PluginError> {
        if let Some(s) = &self.mqtt.session {
            return Err(fatal(format!("MQTT: already connected to {}", s.url)));
        }
        let broker = check_granted(&url, &self.mqtt.granted).map_err(fatal)?;
        let entries: Vec<(String, String)> =
            options.into_iter().map(|e| (e.key, e.value)).collect();
        let default_id = format!("weft-{}", self.plugin.split('@').next().unwrap_or("plugin"));
        let mut opts = ConnectOptions::from_entries(&entries, &default_id).map_err(fatal)?;
        opts.ca_file.clone_from(&self.mqtt.ca_file);
        let (client, connection) = opts.client(&broker).map_err(fatal)?;
        let session = Session::start(
            url.clone(),
            client,
            connection,
            opts.max_payload,
            self.log.clone(),
            Arc::clone(&self.plugin),
        )
        .map_err(fatal)?;
        // A failed first connection drops the session: the caller retries `connect`.
        self.wait(|| session.wait_connected(opts.connect_timeout))
            .map_err(|e| wait_error(&url, e))?;
        self.mqtt.session = Some(session);
        Ok(())
    }

    fn subscribe(&mut self, topic_filter: String, q: u8) -> Result<(), PluginError> {
        let q = qos(q)?;
        let session = self.mqtt_session()?;
        let r = session
            .subscribe(&topic_filter, q)
            .map_err(|e| fatal(format!("MQTT: cannot subscribe to `{topic_filter}`: {e}")));
        self.mqtt.session = Some(session);
        r
    }

    fn receive(&mut self, max: u32, timeout_ms: u32) -> Result<Vec<u8>, PluginError> {
        let mut session = self.mqtt_session()?;
        let max = (max as usize).clamp(1, RECEIVE_MAX);
        let timeout = Duration::from_millis(u64::from(timeout_ms.min(60_000)));
        let taken = self.wait(|| session.take(max, RECEIVE_BYTES, timeout));
        let url = session.url.clone();
        self.mqtt.session = Some(session);
        let deliveries = taken.map_err(|e| wait_error(&url, e))?;
        let mut w = weft_batch::BatchWriter::with_capacity(
            deliveries
                .iter()
                .map(|d| d.message.payload.len() + d.message.topic.len() + 64)
                .sum(),
        );
        for d in &deliveries {
            let m = &d.message;
            let q: &[u8] = match m.qos {
                0 => b"0",
                1 => b"1",
                _ => b"2",
            };
            let retain: &[u8] = if m.retain { b"true" } else { b"false" };
            let headers = [("mqtt.qos", Some(q)), ("mqtt.retain", Some(retain))]
                .into_iter()
                .chain(
                    m.user_properties
                        .iter()
                        .map(|(k, v)| (k.as_str(), Some(v.as_bytes()))),
                );
            w.push(
                &m.topic,
                None,
                None,
                Some(d.id),
                None,
                Some(&m.payload[..]),
                headers,
            )
            .map_err(|e| fatal(format!("MQTT: cannot pack received messages: {e}")))?;
        }
        w.finish()
            .map_err(|e| fatal(format!("MQTT: cannot pack received messages: {e}")))
    }

    fn ack(&mut self, delivery_ids: Vec<i64>) -> Result<(), PluginError> {
        let mut session = self.mqtt_session()?;
        self.wait(|| session.ack(&delivery_ids));
        self.mqtt.session = Some(session);
        Ok(())
    }

    fn publish(
        &mut self,
        records: Vec<u8>,
        q: u8,
        retain: bool,
    ) -> Result<Vec<RecordFailure>, PluginError> {
        let q = qos(q)?;
        let reader = weft_batch::BatchReader::new(&records)
            .map_err(|e| fatal(format!("MQTT publish: malformed batch: {e}")))?;
        let session = self.mqtt_session()?;
        let r = self.wait(|| publish_all(&session, &reader, q, retain));
        self.mqtt.session = Some(session);
        r
    }
}

/// Publishes every record that can be, then waits for the broker to take them all.
fn publish_all(
    session: &Session,
    reader: &weft_batch::BatchReader<'_>,
    q: u8,
    retain: bool,
) -> Result<Vec<RecordFailure>, PluginError> {
    let deadline = Instant::now() + PUBLISH_TIMEOUT;
    session.begin_publish();
    // The batch index of each record queued, in the order they go out.
    let mut sent: Vec<u32> = Vec::new();
    let mut failures = Vec::new();
    for (i, r) in reader.records().enumerate() {
        let index = u32::try_from(i).unwrap_or(u32::MAX);
        let r = r.map_err(|e| fatal(format!("MQTT publish: malformed batch: {e}")))?;
        let payload = r.value.unwrap_or_default();
        let problem = if payload.len() > session.max_payload {
            Some(format!(
                "payload of {} bytes is larger than max.payload.bytes ({})",
                payload.len(),
                session.max_payload
            ))
        } else if r.topic.is_empty() || r.topic.contains(['+', '#', '\0']) || r.topic.len() > 65535
        {
            Some(format!(
                "`{}` is not a valid MQTT topic to publish to",
                r.topic
            ))
        } else {
            None
        };
        if let Some(message) = problem {
            failures.push(RecordFailure {
                index,
                kind: ErrorKind::Fatal,
                message,
            });
            continue;
        }
        match session.enqueue(r.topic, q, retain, payload.to_vec(), deadline) {
            Ok(()) => sent.push(index),
            Err(WaitError::Fatal(message)) => failures.push(RecordFailure {
                index,
                kind: ErrorKind::Fatal,
                message,
            }),
            Err(e) => return Err(wait_error(&session.url, e)),
        }
    }
    let refused = session
        .wait_published(sent.len(), q > 0, deadline)
        .map_err(|e| wait_error(&session.url, e))?;
    for (position, message) in refused {
        if let Some(index) = sent.get(position) {
            failures.push(RecordFailure {
                index: *index,
                kind: ErrorKind::Fatal,
                message,
            });
        }
    }
    failures.sort_by_key(|f| f.index);
    Ok(failures)
}
