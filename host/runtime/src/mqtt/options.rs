//! What `connect` is given, checked: the broker URL against the grant, and the connection
//! options, turned into rumqttc's `MqttOptions`.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use rumqttc::{MqttOptions, TlsConfiguration, Transport};

use super::session::{Client, Connection};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;

use crate::ca_file::read_ca_file;
use crate::config::{KEY_MQTT, KEY_MQTT_CA};

/// Largest payload accepted by default, in either direction.
pub const DEFAULT_MAX_PAYLOAD: usize = 8 << 20;
/// Hard cap on `max.payload.bytes`: MQTT's own limit is 256 MiB, far more than a record.
const MAX_MAX_PAYLOAD: usize = 64 << 20;
/// Bytes an MQTT packet carries besides the payload: fixed header, topic (at most 64 KiB),
/// packet id, properties.
const PACKET_OVERHEAD: usize = 70 << 10;

/// A broker URL split into its parts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokerUrl {
    /// TLS (`mqtts://`, `ssl://`, `tls://`) or plain (`mqtt://`, `tcp://`).
    pub tls: bool,
    /// Host name or address.
    pub host: String,
    /// Port (1883 plain, 8883 TLS by default).
    pub port: u16,
}

impl BrokerUrl {
    /// Parses `scheme://host[:port]` or `host:port` (plain).
    pub fn parse(url: &str) -> Result<BrokerUrl, String> {
        let url = url.trim();
        let (tls, rest) = match url.split_once("://") {
            Some((scheme, rest)) => match scheme.to_ascii_lowercase().as_str() {
                "mqtt" | "tcp" => (false, rest),
                "mqtts" | "ssl" | "tls" => (true, rest),
                other => return Err(format!("unsupported MQTT URL scheme `{other}` in `{url}`")),
            },
            None => (false, url),
        };
        let rest = rest.trim_end_matches('/');
        let (host, port) = match rest.rsplit_once(':') {
            // `[::1]:1883`, `host:1883`; a bare IPv6 address needs brackets.
            Some((h, p)) if !h.is_empty() && !p.contains(']') => {
                let port = p
                    .parse::<u16>()
                    .map_err(|_| format!("bad port `{p}` in MQTT URL `{url}`"))?;
                (h, port)
            }
            _ => (rest, if tls { 8883 } else { 1883 }),
        };
        let host = host.trim_start_matches('[').trim_end_matches(']');
        if host.is_empty() || host.contains('/') {
            return Err(format!("no host in MQTT URL `{url}`"));
        }
        Ok(BrokerUrl {
            tls,
            host: host.to_string(),
            port,
        })
    }

    /// The URL in one canonical form, for comparing against the grant.
    pub fn canonical(&self) -> String {
        let scheme = if self.tls { "mqtts" } else { "mqtt" };
        format!(
            "{scheme}://{}:{}",
            self.host.to_ascii_lowercase(),
            self.port
        )
    }
}

/// Checks `url` against the granted URLs (compared in canonical form, so `tcp://h` and
/// `mqtt://h:1883` are the same broker).
pub fn check_granted(url: &str, granted: &[String]) -> Result<BrokerUrl, String> {
    let wanted = BrokerUrl::parse(url)?;
    let canonical = wanted.canonical();
    let ok = granted
        .iter()
        .filter_map(|g| BrokerUrl::parse(g).ok())
        .any(|g| g.canonical() == canonical);
    if ok {
        Ok(wanted)
    } else {
        Err(format!(
            "MQTT broker URL `{url}` is not granted: add it to `{KEY_MQTT}` (granted: {})",
            if granted.is_empty() {
                "none".to_string()
            } else {
                granted.join(", ")
            }
        ))
    }
}

/// Connection options, from the entries `connect` was given.
#[derive(Debug, Clone)]
pub struct ConnectOptions {
    /// Client id: a persistent session belongs to it.
    pub client_id: String,
    /// Username and password.
    pub credentials: Option<(String, String)>,
    /// Keep-alive interval.
    pub keep_alive: Duration,
    /// Start a clean session (drops what the broker kept for this client id).
    pub clean_session: bool,
    /// Largest payload received or sent.
    pub max_payload: usize,
    /// How long `connect` waits for the broker's CONNACK.
    pub connect_timeout: Duration,
    /// CA certificates (PEM text) for TLS, from the plugin.
    pub ca_pem: Option<String>,
    /// A PEM file of CA certificates, from the grant (`capability.mqtt.tls.ca.location`).
    /// With neither, the system roots are trusted.
    pub ca_file: Option<PathBuf>,
    /// MQTT 5 rather than 3.1.1.
    pub v5: bool,
    /// MQTT 5 session expiry; `None`: never while the session is persistent, 0 when clean.
    pub session_expiry: Option<u32>,
}

fn number<T: std::str::FromStr>(key: &str, v: &str) -> Result<T, String> {
    v.trim()
        .parse()
        .map_err(|_| format!("MQTT option `{key}`: `{v}` is not a valid number"))
}

impl ConnectOptions {
    /// Reads the options; `default_client_id` when none is given.
    pub fn from_entries(
        entries: &[(String, String)],
        default_client_id: &str,
    ) -> Result<ConnectOptions, String> {
        let mut o = ConnectOptions {
            client_id: default_client_id.to_string(),
            credentials: None,
            keep_alive: Duration::from_secs(30),
            clean_session: false,
            max_payload: DEFAULT_MAX_PAYLOAD,
            connect_timeout: Duration::from_secs(10),
            ca_pem: None,
            ca_file: None,
            v5: false,
            session_expiry: None,
        };
        let (mut user, mut pass) = (None, None);
        for (k, v) in entries {
            match k.as_str() {
                "client.id" => o.client_id = v.clone(),
                "username" => user = Some(v.clone()),
                "password" => pass = Some(v.clone()),
                "keep.alive.secs" => o.keep_alive = Duration::from_secs(number(k, v)?),
                "clean.session" => {
                    o.clean_session = match v.trim() {
                        "true" => true,
                        "false" => false,
                        _ => return Err(format!("MQTT option `{k}`: `{v}` is not true or false")),
                    }
                }
                "max.payload.bytes" => {
                    let n: usize = number(k, v)?;
                    if n == 0 || n > MAX_MAX_PAYLOAD {
                        return Err(format!(
                            "MQTT option `{k}`: {n} is outside 1..={MAX_MAX_PAYLOAD}"
                        ));
                    }
                    o.max_payload = n;
                }
                "connect.timeout.ms" => {
                    o.connect_timeout = Duration::from_millis(number(k, v)?);
                }
                "protocol.version" => match v.trim() {
                    "3.1.1" | "4" => o.v5 = false,
                    "5" | "5.0" => o.v5 = true,
                    other => {
                        return Err(format!(
                            "MQTT option `{k}`: protocol `{other}` is not supported (3.1.1 or 5)"
                        ))
                    }
                },
                "session.expiry.secs" => o.session_expiry = Some(number(k, v)?),
                "tls.ca.pem" => o.ca_pem = Some(v.clone()).filter(|s| !s.trim().is_empty()),
                other => return Err(format!("unknown MQTT option `{other}`")),
            }
        }
        if o.client_id.is_empty() || o.client_id.len() > 256 {
            return Err("MQTT option `client.id` must be 1 to 256 bytes".into());
        }
        if o.keep_alive.as_secs() > u64::from(u16::MAX) {
            return Err("MQTT option `keep.alive.secs` is above 65535".into());
        }
        o.credentials = match (user, pass) {
            (Some(u), p) => Some((u, p.unwrap_or_default())),
            (None, Some(_)) => return Err("MQTT option `password` without `username`".into()),
            (None, None) => None,
        };
        Ok(o)
    }

    /// A rumqttc client and connection for `url`, of the chosen protocol version, with
    /// manual acknowledgement on.
    pub fn client(&self, url: &BrokerUrl) -> Result<(Client, Connection), String> {
        const CAPACITY: usize = 4096;
        if !self.v5 {
            let (c, conn) = rumqttc::Client::new(self.mqtt_options(url)?, CAPACITY);
            return Ok((Client::V4(c), Connection::V4(Box::new(conn))));
        }
        let mut m =
            rumqttc::v5::MqttOptions::new(self.client_id.clone(), url.host.clone(), url.port);
        let expiry = if self.clean_session {
            self.session_expiry.unwrap_or(0)
        } else {
            // 0 would end a "persistent" session at the first disconnect.
            self.session_expiry.unwrap_or(u32::MAX)
        };
        m.set_keep_alive(self.keep_alive_setting())
            .set_clean_start(self.clean_session)
            .set_session_expiry_interval(Some(expiry))
            .set_manual_acks(true)
            // Sent to the broker as Maximum Packet Size: it drops larger messages for us.
            .set_max_packet_size(Some(
                u32::try_from(self.max_payload + PACKET_OVERHEAD).unwrap_or(u32::MAX),
            ))
            .set_outgoing_inflight_upper_limit(1000)
            .set_request_channel_capacity(CAPACITY);
        if let Some((u, p)) = &self.credentials {
            m.set_credentials(u.clone(), p.clone());
        }
        if url.tls {
            m.set_transport(Transport::Tls(self.tls_config()?));
        }
        let (c, conn) = rumqttc::v5::Client::new(m, CAPACITY);
        Ok((Client::V5(c), Connection::V5(Box::new(conn))))
    }

    fn keep_alive_setting(&self) -> Duration {
        // rumqttc refuses keep-alives under 1 s except 0 (off).
        if self.keep_alive.is_zero() {
            Duration::ZERO
        } else {
            self.keep_alive.max(Duration::from_secs(1))
        }
    }

    /// rumqttc's 3.1.1 options for `url`, with manual acknowledgement on.
    pub fn mqtt_options(&self, url: &BrokerUrl) -> Result<MqttOptions, String> {
        let mut m = MqttOptions::new(self.client_id.clone(), url.host.clone(), url.port);
        m.set_keep_alive(self.keep_alive_setting())
            .set_clean_session(self.clean_session)
            .set_manual_acks(true)
            .set_max_packet_size(
                self.max_payload + PACKET_OVERHEAD,
                self.max_payload + PACKET_OVERHEAD,
            )
            // Outgoing QoS 1 messages in flight at once: a sink batch goes out without
            // waiting for each PUBACK.
            .set_inflight(1000)
            .set_request_channel_capacity(4096);
        if let Some((u, p)) = &self.credentials {
            m.set_credentials(u.clone(), p.clone());
        }
        if url.tls {
            m.set_transport(Transport::Tls(self.tls_config()?));
        }
        Ok(m)
    }

    fn tls_config(&self) -> Result<TlsConfiguration, String> {
        let mut roots = rustls::RootCertStore::empty();
        if let Some(path) = &self.ca_file {
            let what = format!("`{KEY_MQTT_CA}` ({})", path.display());
            let pem = read_ca_file(path).map_err(|e| format!("{what}: {e}"))?;
            add_pem(&mut roots, &pem, &what)?;
        }
        if let Some(pem) = &self.ca_pem {
            add_pem(&mut roots, pem.as_bytes(), "MQTT option `tls.ca.pem`")?;
        }
        if self.ca_file.is_none() && self.ca_pem.is_none() {
            let found = rustls_native_roots();
            if found.is_empty() {
                return Err(format!(
                    "no system CA certificates found for MQTT over TLS; give `{KEY_MQTT_CA}` \
                     or `tls.ca.pem`"
                ));
            }
            for cert in found {
                // A system root rustls cannot parse is skipped, as browsers do.
                let _ = roots.add(cert);
            }
        }
        // Built with an explicit provider so nothing depends on a process-wide default.
        let config = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS setup: {e}"))?
        .with_root_certificates(roots)
        .with_no_client_auth();
        Ok(TlsConfiguration::Rustls(Arc::new(config)))
    }
}

/// Adds every certificate of `pem` to `roots`; none at all is an error naming `what`.
fn add_pem(roots: &mut rustls::RootCertStore, pem: &[u8], what: &str) -> Result<(), String> {
    let mut added = 0;
    for cert in CertificateDer::pem_slice_iter(pem) {
        let cert = cert.map_err(|e| format!("{what}: {e}"))?;
        roots.add(cert).map_err(|e| format!("{what}: {e}"))?;
        added += 1;
    }
    if added == 0 {
        return Err(format!("{what} holds no PEM certificate"));
    }
    Ok(())
}

fn rustls_native_roots() -> Vec<CertificateDer<'static>> {
    // Certificates that fail to load are skipped; none at all is reported by the caller.
    rustls_native_certs::load_native_certs().certs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_parse_and_compare_in_canonical_form() {
        let u = BrokerUrl::parse("tcp://Localhost").unwrap();
        assert_eq!(u.canonical(), "mqtt://localhost:1883");
        assert_eq!(
            BrokerUrl::parse("ssl://h:9999").unwrap().canonical(),
            "mqtts://h:9999"
        );
        assert_eq!(BrokerUrl::parse("h:1884").unwrap().port, 1884);
        assert!(BrokerUrl::parse("http://h").is_err());
        assert!(BrokerUrl::parse("mqtt://h:x").is_err());
        let granted = vec!["mqtt://127.0.0.1:1883".to_string()];
        assert!(check_granted("tcp://127.0.0.1", &granted).is_ok());
        let e = check_granted("mqtt://127.0.0.1:1884", &granted).unwrap_err();
        assert!(
            e.contains("mqtt://127.0.0.1:1884") && e.contains(KEY_MQTT),
            "{e}"
        );
    }

    #[test]
    fn options_are_checked() {
        let e = |k: &str, v: &str| {
            ConnectOptions::from_entries(&[(k.to_string(), v.to_string())], "c").unwrap_err()
        };
        assert!(e("max.payload.bytes", "0").contains("outside"));
        assert!(e("keep.alive.secs", "x").contains("not a valid number"));
        assert!(e("protocol.version", "6").contains("not supported"));
        let v5 =
            ConnectOptions::from_entries(&[("protocol.version".to_string(), "5".to_string())], "c")
                .unwrap();
        assert!(v5.v5);
        assert!(e("nope", "1").contains("unknown"));
        assert!(e("password", "p").contains("without"));
        let o = ConnectOptions::from_entries(&[], "weft-x").unwrap();
        assert_eq!(o.client_id, "weft-x");
        assert!(!o.clean_session);
    }
}
