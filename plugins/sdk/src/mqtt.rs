//! The connection keys every MQTT connector takes (`mqtt.server.uri`, `mqtt.client.id`,
//! credentials, keep-alive, session, TLS, protocol version), checked and turned into the options
//! the host's `mqtt` capability reads in `connect`; shared by mqtt-source and mqtt-sink. Calling
//! [`connect`] makes the plugin import the capability (granted by `capability.mqtt.urls`).

use crate::{Config, ConfigDef, ConfigType, Importance, PluginError, Result};

pub const SERVER: &str = "mqtt.server.uri";
pub const CLIENT_ID: &str = "mqtt.client.id";
pub const USERNAME: &str = "mqtt.username";
pub const PASSWORD: &str = "mqtt.password";
pub const KEEP_ALIVE: &str = "mqtt.keepalive.interval.secs";
pub const CLEAN_SESSION: &str = "mqtt.clean.session";
pub const MAX_PAYLOAD: &str = "mqtt.max.payload.bytes";
pub const CONNECT_TIMEOUT: &str = "mqtt.connect.timeout.ms";
pub const TLS_CA_PEM: &str = "mqtt.tls.ca.pem";
pub const VERSION: &str = "mqtt.protocol.version";
pub const SESSION_EXPIRY: &str = "mqtt.session.expiry.secs";

/// The connection keys, in the "MQTT" group starting at `order`.
pub fn defs(order: i32) -> Vec<ConfigDef> {
    const G: &str = "MQTT";
    vec![
        ConfigDef::new(
            SERVER,
            ConfigType::String,
            "The MQTT broker: `tcp://host:1883` (or `mqtt://`), `ssl://host:8883` (or \
             `mqtts://`). It must be listed in `capability.mqtt.urls`.",
        )
        .required()
        .importance(Importance::High)
        .group(G, order)
        .display_name("MQTT broker URL"),
        ConfigDef::new(
            CLIENT_ID,
            ConfigType::String,
            "The MQTT client id. The broker keeps the session (subscriptions, unacknowledged \
             QoS 1 messages) under it, so it must be stable and used by this connector only.",
        )
        .required()
        .importance(Importance::High)
        .group(G, order + 1),
        ConfigDef::new(USERNAME, ConfigType::String, "MQTT username.")
            .importance(Importance::Medium)
            .group(G, order + 2),
        ConfigDef::new(PASSWORD, ConfigType::Password, "MQTT password.")
            .importance(Importance::Medium)
            .group(G, order + 3),
        ConfigDef::new(
            KEEP_ALIVE,
            ConfigType::Int,
            "Keep-alive interval in seconds.",
        )
        .default("30")
        .importance(Importance::Low)
        .group(G, order + 4),
        ConfigDef::new(
            CLEAN_SESSION,
            ConfigType::Boolean,
            "Start a clean session. false (the default) keeps the broker's session across \
             restarts, so QoS 1 messages published meanwhile are delivered afterwards.",
        )
        .default("false")
        .importance(Importance::Low)
        .group(G, order + 5),
        ConfigDef::new(
            MAX_PAYLOAD,
            ConfigType::Int,
            "The largest MQTT payload accepted, in bytes.",
        )
        .default("8388608")
        .importance(Importance::Low)
        .group(G, order + 6),
        ConfigDef::new(
            CONNECT_TIMEOUT,
            ConfigType::Long,
            "How long to wait for the broker at start before retrying.",
        )
        .default("10000")
        .importance(Importance::Low)
        .group(G, order + 7),
        ConfigDef::new(
            TLS_CA_PEM,
            ConfigType::String,
            "CA certificates (PEM text) for `ssl://` brokers, added to those of the file the \
             host reads from `capability.mqtt.tls.ca.location`; the system roots when neither \
             is given.",
        )
        .importance(Importance::Low)
        .group(G, order + 8),
        ConfigDef::new(
            VERSION,
            ConfigType::String,
            "MQTT protocol version: `3.1.1` or `5`.",
        )
        .default("3.1.1")
        .recommended(["3.1.1", "5"])
        .importance(Importance::Medium)
        .group(G, order + 9),
        ConfigDef::new(
            SESSION_EXPIRY,
            ConfigType::Long,
            "MQTT 5: how long the broker keeps the session after a disconnect, in seconds; \
             default: for ever unless the session is clean.",
        )
        .importance(Importance::Low)
        .group(G, order + 10),
    ]
}

/// The broker URL and the options for the host's `connect`.
pub fn options(config: &Config) -> Result<(String, Vec<(String, String)>)> {
    let server = config.require(SERVER)?.trim().to_string();
    let client_id = config.require(CLIENT_ID)?.trim().to_string();
    if client_id.is_empty() {
        return Err(PluginError::fatal(format!("`{CLIENT_ID}` is empty")));
    }
    let mut o = vec![("client.id".to_string(), client_id)];
    let pairs = [
        (USERNAME, "username"),
        (PASSWORD, "password"),
        (KEEP_ALIVE, "keep.alive.secs"),
        (CLEAN_SESSION, "clean.session"),
        (MAX_PAYLOAD, "max.payload.bytes"),
        (CONNECT_TIMEOUT, "connect.timeout.ms"),
        (TLS_CA_PEM, "tls.ca.pem"),
        (VERSION, "protocol.version"),
        (SESSION_EXPIRY, "session.expiry.secs"),
    ];
    for (key, option) in pairs {
        if let Some(v) = config.get(key).filter(|v| !v.is_empty()) {
            o.push((option.to_string(), v.to_string()));
        }
    }
    Ok((server, o))
}

/// A QoS key: 0 or 1.
pub fn qos(config: &Config, key: &str) -> Result<u8> {
    match config.get(key).map(str::trim) {
        None | Some("1") => Ok(1),
        Some("0") => Ok(0),
        Some(other) => Err(PluginError::fatal(format!(
            "`{key}` must be 0 or 1, not `{other}`"
        ))),
    }
}

/// Connects this instance's MQTT session to `server` with `options` (from [`options`]).
pub fn connect(server: &str, options: &[(String, String)]) -> Result<()> {
    let entries: Vec<crate::glue::wit::ConfigEntry> = options
        .iter()
        .map(|(k, v)| crate::glue::wit::ConfigEntry {
            key: k.clone(),
            value: v.clone(),
        })
        .collect();
    crate::capability::mqtt::connect(server, &entries).map_err(PluginError::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(extra: &[(&str, &str)]) -> Config {
        let mut v: Vec<(String, String)> = vec![
            (SERVER.into(), "ssl://broker:8883".into()),
            (CLIENT_ID.into(), " dev ".into()),
        ];
        v.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        Config::new(v)
    }

    #[test]
    fn keys_become_the_hosts_connect_options() {
        let c = config(&[(USERNAME, "u"), (TLS_CA_PEM, "PEM"), (VERSION, "5")]);
        let (server, o) = options(&c).unwrap();
        assert_eq!(server, "ssl://broker:8883");
        let get = |k: &str| o.iter().find(|(key, _)| key == k).map(|(_, v)| v.as_str());
        assert_eq!(get("client.id"), Some("dev"));
        assert_eq!(get("username"), Some("u"));
        assert_eq!(get("tls.ca.pem"), Some("PEM"));
        assert_eq!(get("protocol.version"), Some("5"));
        assert_eq!(get("password"), None);
    }

    #[test]
    fn a_missing_client_id_or_bad_qos_names_its_key() {
        let c = Config::new(vec![(SERVER.into(), "tcp://h".into())]);
        assert!(options(&c).unwrap_err().message.contains(CLIENT_ID));
        let c = config(&[(CLIENT_ID, " ")]);
        assert!(options(&c).unwrap_err().message.contains(CLIENT_ID));
        assert_eq!(qos(&config(&[]), "q").unwrap(), 1);
        assert_eq!(qos(&config(&[("q", "0")]), "q").unwrap(), 0);
        assert!(qos(&config(&[("q", "2")]), "q")
            .unwrap_err()
            .message
            .contains("`q`"));
    }
}
