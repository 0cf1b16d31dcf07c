//! The HTTP capability's config: which URL prefixes are granted (`capability.http.urls`) and the
//! host's request settings (timeouts, retries, response cap), read from `capability.http.*`.

use std::path::PathBuf;
use std::time::Duration;

use crate::config::PluginConfig;
use crate::error::{Result, RuntimeError};

/// Config key: grant HTTP requests to URLs under these prefixes (comma-separated).
pub const KEY_HTTP: &str = "capability.http.urls";
/// Config key: deadline of one attempt (connect, send, receive the whole answer), in ms.
pub const KEY_HTTP_TIMEOUT: &str = "capability.http.timeout.ms";
/// Config key: deadline of establishing a connection (TCP and TLS), in ms.
pub const KEY_HTTP_CONNECT_TIMEOUT: &str = "capability.http.connect.timeout.ms";
/// Config key: how many times a request is sent again after a 429, a 5xx or no answer.
pub const KEY_HTTP_RETRIES: &str = "capability.http.retries";
/// Config key: the first wait between attempts, doubled each time, in ms.
pub const KEY_HTTP_BACKOFF: &str = "capability.http.retry.backoff.ms";
/// Config key: the longest wait between attempts the host makes, in ms. A `Retry-After`
/// longer than this is not waited out by the host: the answer goes back to the plugin, which
/// can hand the delay to the worker (`retry-after-ms`).
pub const KEY_HTTP_BACKOFF_MAX: &str = "capability.http.retry.backoff.max.ms";
/// Config key: most bytes of a response body kept (the rest is cut).
pub const KEY_HTTP_RESPONSE_MAX: &str = "capability.http.response.max.bytes";
/// Config key: a PEM file of the CA certificates trusted for `https://` (instead of the
/// built-in web roots), read by the host.
pub const KEY_HTTP_CA: &str = "capability.http.tls.ca.location";

/// The HTTP grant and settings of one plugin. An empty `prefixes` means not granted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpGrant {
    /// Granted URL prefixes, parsed.
    pub prefixes: Vec<UrlPrefix>,
    /// Deadline of one attempt.
    pub timeout: Duration,
    /// Deadline of a connection.
    pub connect_timeout: Duration,
    /// Attempts after the first.
    pub retries: u32,
    /// First backoff.
    pub backoff: Duration,
    /// Longest backoff and longest `Retry-After` the host waits.
    pub backoff_max: Duration,
    /// Response body cap.
    pub response_max_bytes: usize,
    /// CA certificates (a PEM file) trusted instead of the web roots.
    pub ca_file: Option<PathBuf>,
}

impl Default for HttpGrant {
    fn default() -> Self {
        HttpGrant {
            prefixes: Vec::new(),
            timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
            retries: 5,
            backoff: Duration::from_millis(100),
            backoff_max: Duration::from_secs(10),
            response_max_bytes: 1 << 20,
            ca_file: None,
        }
    }
}

/// Most retries configurable: with the backoff cap this bounds one call's wait.
const RETRIES_MAX: u64 = 100;
/// Largest response cap configurable (the body crosses into the guest's memory).
const RESPONSE_MAX: u64 = 64 << 20;

impl HttpGrant {
    /// Reads the `capability.http.*` keys.
    pub fn from_config(c: &PluginConfig) -> Result<Self> {
        let mut g = HttpGrant::default();
        if let Some(v) = c.get(KEY_HTTP) {
            for p in v.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                g.prefixes
                    .push(UrlPrefix::parse(p).map_err(|message| RuntimeError::Config {
                        key: KEY_HTTP.into(),
                        message: format!("`{p}`: {message}"),
                    })?);
            }
        }
        let ms = |key: &str, max: u64| -> Result<Option<u64>> {
            c.get(key).map(|v| number(key, v, max)).transpose()
        };
        if let Some(v) = ms(KEY_HTTP_TIMEOUT, u32::MAX as u64)? {
            g.timeout = Duration::from_millis(v.max(1));
        }
        if let Some(v) = ms(KEY_HTTP_CONNECT_TIMEOUT, u32::MAX as u64)? {
            g.connect_timeout = Duration::from_millis(v.max(1));
        }
        if let Some(v) = ms(KEY_HTTP_RETRIES, RETRIES_MAX)? {
            g.retries = v as u32;
        }
        if let Some(v) = ms(KEY_HTTP_BACKOFF, u32::MAX as u64)? {
            g.backoff = Duration::from_millis(v);
        }
        if let Some(v) = ms(KEY_HTTP_BACKOFF_MAX, u32::MAX as u64)? {
            g.backoff_max = Duration::from_millis(v);
        }
        if let Some(v) = ms(KEY_HTTP_RESPONSE_MAX, RESPONSE_MAX)? {
            g.response_max_bytes = v as usize;
        }
        g.ca_file = c
            .get(KEY_HTTP_CA)
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(PathBuf::from);
        Ok(g)
    }

    /// Whether any URL is granted.
    pub fn is_granted(&self) -> bool {
        !self.prefixes.is_empty()
    }

    /// Ok when `url` lies under a granted prefix; otherwise the message for the plugin, naming
    /// the URL and the config key.
    pub fn check(&self, url: &str) -> std::result::Result<(), String> {
        let refused =
            |why: &str| format!("HTTP request to `{url}` refused: {why}; grant it in `{KEY_HTTP}`");
        let target = UrlPrefix::parse(url).map_err(|m| refused(&m))?;
        if target
            .path
            .split('/')
            .any(|s| s == ".." || s == "." || s.eq_ignore_ascii_case("%2e%2e"))
        {
            return Err(refused("the path has dot segments"));
        }
        if self.prefixes.iter().any(|p| p.covers(&target)) {
            Ok(())
        } else {
            Err(refused("it is under none of the granted URL prefixes"))
        }
    }
}

fn number(key: &str, v: &str, max: u64) -> Result<u64> {
    match v.trim().parse::<u64>() {
        Ok(n) if n <= max => Ok(n),
        Ok(_) => Err(RuntimeError::Config {
            key: key.into(),
            message: format!("`{v}` is larger than {max}"),
        }),
        Err(_) => Err(RuntimeError::Config {
            key: key.into(),
            message: format!("`{v}` is not a non-negative integer"),
        }),
    }
}

/// A URL split into what a grant compares: scheme and authority exactly (case-insensitive, the
/// default port made explicit), the path as a prefix on a segment boundary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UrlPrefix {
    scheme: String,
    authority: String,
    path: String,
}

impl UrlPrefix {
    fn parse(url: &str) -> std::result::Result<UrlPrefix, String> {
        let uri: ureq::http::Uri = url.parse().map_err(|e| format!("not a valid URL ({e})"))?;
        let scheme = match uri.scheme_str() {
            Some(s) if s.eq_ignore_ascii_case("http") => "http",
            Some(s) if s.eq_ignore_ascii_case("https") => "https",
            _ => return Err("only http:// and https:// URLs are allowed".into()),
        };
        let Some(auth) = uri.authority() else {
            return Err("the URL has no host".into());
        };
        if auth.as_str().contains('@') {
            return Err("user info in the URL is not allowed".into());
        }
        let port = auth
            .port_u16()
            .unwrap_or(if scheme == "https" { 443 } else { 80 });
        Ok(UrlPrefix {
            scheme: scheme.to_string(),
            authority: format!("{}:{port}", auth.host().to_ascii_lowercase()),
            path: uri.path().to_string(),
        })
    }

    fn covers(&self, target: &UrlPrefix) -> bool {
        if self.scheme != target.scheme || self.authority != target.authority {
            return false;
        }
        let Some(rest) = target.path.strip_prefix(self.path.as_str()) else {
            return false;
        };
        // `/api` grants `/api` and `/api/...`, not `/apix`.
        self.path.ends_with('/') || rest.is_empty() || rest.starts_with('/')
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grant(urls: &str) -> HttpGrant {
        HttpGrant::from_config(&PluginConfig::new([(KEY_HTTP, urls)])).unwrap()
    }

    #[test]
    fn prefixes_match_on_scheme_authority_and_whole_path_segments() {
        let g = grant("http://Example.com/api, https://h:8443/");
        assert!(g.check("http://example.com/api").is_ok());
        assert!(g.check("http://example.com:80/api/v1?x=1").is_ok());
        assert!(g.check("https://h:8443/anything").is_ok());
        for bad in [
            "http://example.com/apix",
            "https://example.com/api",
            "http://example.com:8080/api",
            "http://example.com.evil.org/api",
            "http://example.com@evil.org/api",
            "http://example.com/api/../admin",
            "ftp://example.com/api",
            "not a url",
        ] {
            let e = g.check(bad).unwrap_err();
            assert!(e.contains(bad) && e.contains(KEY_HTTP), "{bad}: {e}");
        }
        assert!(!grant("").is_granted());
    }

    #[test]
    fn settings_are_bounded_and_named_in_errors() {
        let c = PluginConfig::new([(KEY_HTTP_RETRIES, "1000")]);
        let e = HttpGrant::from_config(&c).unwrap_err().to_string();
        assert!(e.contains(KEY_HTTP_RETRIES), "{e}");
        let c = PluginConfig::new([(KEY_HTTP, "mailto:x@y")]);
        assert!(HttpGrant::from_config(&c).is_err());
        let c = PluginConfig::new([(KEY_HTTP_RETRIES, "2"), (KEY_HTTP_BACKOFF, "7")]);
        let g = HttpGrant::from_config(&c).unwrap();
        assert_eq!((g.retries, g.backoff), (2, Duration::from_millis(7)));
    }
}
