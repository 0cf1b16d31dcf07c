//! Where the cluster is and how long to wait for it, read from a librdkafka-style property list.

use std::time::Duration;

use crate::error::WireError;

/// Default `request.timeout.ms` (librdkafka's and the Java client's).
const DEFAULT_REQUEST_TIMEOUT_MS: u64 = 30_000;

/// How to reach one cluster.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WireConfig {
    /// Bootstrap brokers as `host:port`.
    pub bootstrap: Vec<String>,
    pub client_id: String,
    /// How long one request may take, and how long the cluster may stay unreachable before the
    /// caller hears about it.
    pub request_timeout: Duration,
}

impl WireConfig {
    /// From a librdkafka-style property list: `bootstrap.servers` (required; `metadata.broker.list`
    /// is librdkafka's alias), `client.id` (default `default_client_id`), `request.timeout.ms`
    /// (default 30000). Returns [`WireError::Unsupported`] naming the key when the properties ask for
    /// something this client cannot do: `security.protocol` other than PLAINTEXT, or any `sasl.*` /
    /// `ssl.*` key. Other keys (librdkafka tuning such as `socket.timeout.ms`) are ignored.
    pub fn from_properties(
        props: &[(String, String)],
        default_client_id: &str,
    ) -> Result<WireConfig, WireError> {
        let mut bootstrap = None;
        let mut client_id = default_client_id.to_string();
        let mut request_timeout = Duration::from_millis(DEFAULT_REQUEST_TIMEOUT_MS);
        for (key, value) in props {
            let key = key.trim();
            match key {
                "bootstrap.servers" | "metadata.broker.list" => {
                    bootstrap = Some(parse_bootstrap(value)?);
                }
                "client.id" => client_id = value.trim().to_string(),
                "request.timeout.ms" => {
                    let ms: u64 = value.trim().parse().ok().filter(|&ms| ms > 0).ok_or_else(|| {
                        WireError::InvalidConfig(format!(
                            "request.timeout.ms must be a positive number of milliseconds, got {value:?}"
                        ))
                    })?;
                    request_timeout = Duration::from_millis(ms);
                }
                "security.protocol" if !value.trim().eq_ignore_ascii_case("plaintext") => {
                    return Err(WireError::Unsupported(format!(
                        "security.protocol={value} (only PLAINTEXT is supported)"
                    )));
                }
                k if k.starts_with("sasl.") || k.starts_with("ssl.") => {
                    return Err(WireError::Unsupported(format!(
                        "{k} (SASL and TLS are not supported)"
                    )));
                }
                _ => {}
            }
        }
        let bootstrap = bootstrap
            .ok_or_else(|| WireError::InvalidConfig("bootstrap.servers is required".to_string()))?;
        Ok(WireConfig {
            bootstrap,
            client_id,
            request_timeout,
        })
    }
}

/// `host:port[,host:port...]`; librdkafka also accepts a `PLAINTEXT://` prefix.
fn parse_bootstrap(value: &str) -> Result<Vec<String>, WireError> {
    let mut out = Vec::new();
    for part in value.split(',') {
        let part = part.trim();
        if part.is_empty() {
            continue;
        }
        let addr = match part.split_once("://") {
            Some((scheme, rest)) if scheme.eq_ignore_ascii_case("plaintext") => rest,
            Some((scheme, _)) => {
                return Err(WireError::Unsupported(format!(
                    "bootstrap.servers entry {part:?}: {scheme} listeners are not supported"
                )))
            }
            None => part,
        };
        let port_ok = addr
            .rsplit_once(':')
            .is_some_and(|(host, port)| !host.is_empty() && port.parse::<u16>().is_ok());
        if !port_ok {
            return Err(WireError::InvalidConfig(format!(
                "bootstrap.servers entry {part:?} is not host:port"
            )));
        }
        out.push(addr.to_string());
    }
    if out.is_empty() {
        return Err(WireError::InvalidConfig(
            "bootstrap.servers names no broker".to_string(),
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn props(kv: &[(&str, &str)]) -> Vec<(String, String)> {
        kv.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn reads_the_keys_it_knows_and_ignores_tuning() {
        let c = WireConfig::from_properties(
            &props(&[
                ("bootstrap.servers", "a:9092, b:9093"),
                ("request.timeout.ms", "5000"),
                ("socket.timeout.ms", "100"),
                ("queue.buffering.max.ms", "5"),
                ("security.protocol", "plaintext"),
            ]),
            "mirror",
        )
        .unwrap();
        assert_eq!(c.bootstrap, vec!["a:9092", "b:9093"]);
        assert_eq!(c.client_id, "mirror");
        assert_eq!(c.request_timeout, Duration::from_secs(5));
    }

    #[test]
    fn refuses_what_it_cannot_do() {
        for (k, v) in [
            ("security.protocol", "SASL_SSL"),
            ("sasl.mechanism", "PLAIN"),
            ("ssl.ca.location", "/x"),
        ] {
            let e =
                WireConfig::from_properties(&props(&[("bootstrap.servers", "a:1"), (k, v)]), "c")
                    .unwrap_err();
            assert!(
                matches!(&e, WireError::Unsupported(m) if m.contains(k)),
                "{e}"
            );
        }
    }

    #[test]
    fn requires_a_bootstrap_and_sane_values() {
        assert!(matches!(
            WireConfig::from_properties(&props(&[("client.id", "x")]), "c"),
            Err(WireError::InvalidConfig(_))
        ));
        assert!(
            WireConfig::from_properties(&props(&[("bootstrap.servers", "nohost")]), "c").is_err()
        );
        assert!(WireConfig::from_properties(
            &props(&[("bootstrap.servers", "a:1"), ("request.timeout.ms", "soon")]),
            "c"
        )
        .is_err());
    }
}
