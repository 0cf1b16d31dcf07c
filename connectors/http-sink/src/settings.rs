//! The http-sink's config: keys (after Confluent's HTTP Sink where one exists), their checks, and
//! the parsed settings a task runs with, including the headers credentials turn into.

use base64::Engine;
use weft_plugin_sdk::{Config, ConfigIssue, PluginError, Result};

/// The endpoint records are sent to.
pub const URL: &str = "http.api.url";
/// POST (default), PUT or PATCH.
pub const METHOD: &str = "request.method";
/// Extra headers: `Name:value` pairs separated by `header.separator`.
pub const HEADERS: &str = "headers";
/// Separator of `headers` (default `|`).
pub const HEADER_SEPARATOR: &str = "header.separator";
/// NONE (default), BASIC or BEARER.
pub const AUTH_TYPE: &str = "auth.type";
/// BASIC: user name.
pub const USER: &str = "connection.user";
/// BASIC: password (a PASSWORD key: masked by the worker).
pub const PASSWORD: &str = "connection.password";
/// BEARER: the token (a PASSWORD key: masked by the worker).
pub const TOKEN: &str = "bearer.token";
/// Records per request: 1 sends each record as its own JSON body, more sends JSON arrays.
pub const BATCH_MAX_SIZE: &str = "batch.max.size";
/// Most bytes of one batched body (a single record larger than this still goes alone).
pub const BATCH_MAX_BYTES: &str = "batch.max.bytes";

/// Most records per request.
const BATCH_SIZE_LIMIT: i64 = 100_000;

/// A task's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    pub url: String,
    pub method: String,
    /// Content-Type, the configured headers, then the credentials' header.
    pub headers: Vec<(String, String)>,
    pub batch_max_size: usize,
    pub batch_max_bytes: usize,
}

/// Checks a config, one issue per bad key.
pub fn validate(c: &Config) -> Vec<ConfigIssue> {
    match Settings::from_config(c) {
        Ok(_) => Vec::new(),
        Err((key, message)) => vec![ConfigIssue {
            key: key.into(),
            message,
        }],
    }
}

impl Settings {
    /// Settings from a config, or the key at fault and why.
    pub fn from_config(c: &Config) -> std::result::Result<Settings, (&'static str, String)> {
        let url = match c.get(URL).map(str::trim) {
            Some(u) if u.starts_with("http://") || u.starts_with("https://") => u.to_string(),
            Some("") | None => return Err((URL, "is required".into())),
            Some(u) => return Err((URL, format!("`{u}` is not an http:// or https:// URL"))),
        };
        let method = c
            .get(METHOD)
            .map(|m| m.trim().to_ascii_uppercase())
            .unwrap_or_else(|| "POST".into());
        if !["POST", "PUT", "PATCH"].contains(&method.as_str()) {
            return Err((METHOD, format!("`{method}` is not POST, PUT or PATCH")));
        }
        let mut headers = vec![("Content-Type".to_string(), "application/json".to_string())];
        let sep = c.get(HEADER_SEPARATOR).unwrap_or("|");
        if sep.is_empty() {
            return Err((HEADER_SEPARATOR, "must not be empty".into()));
        }
        for h in c
            .get(HEADERS)
            .unwrap_or("")
            .split(sep)
            .map(str::trim)
            .filter(|h| !h.is_empty())
        {
            let Some((k, v)) = h.split_once(':') else {
                return Err((HEADERS, format!("`{h}` is not `Name:value`")));
            };
            let k = k.trim();
            if k.eq_ignore_ascii_case("content-type") {
                headers.retain(|(n, _)| !n.eq_ignore_ascii_case("content-type"));
            }
            headers.push((k.to_string(), v.trim().to_string()));
        }
        let auth = c
            .get(AUTH_TYPE)
            .map(|a| a.trim().to_ascii_uppercase())
            .unwrap_or_else(|| "NONE".into());
        match auth.as_str() {
            "NONE" => {}
            "BASIC" => {
                let user = c.get(USER).unwrap_or("");
                if user.is_empty() {
                    return Err((USER, "is required when auth.type is BASIC".into()));
                }
                let pass = c.get(PASSWORD).unwrap_or("");
                let token =
                    base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"));
                headers.push(("Authorization".into(), format!("Basic {token}")));
            }
            "BEARER" => match c.get(TOKEN).map(str::trim) {
                Some(t) if !t.is_empty() => {
                    headers.push(("Authorization".into(), format!("Bearer {t}")))
                }
                _ => return Err((TOKEN, "is required when auth.type is BEARER".into())),
            },
            other => return Err((AUTH_TYPE, format!("`{other}` is not NONE, BASIC or BEARER"))),
        }
        let size = c
            .i64(BATCH_MAX_SIZE, 1)
            .map_err(|e| (BATCH_MAX_SIZE, e.message))?;
        if !(1..=BATCH_SIZE_LIMIT).contains(&size) {
            return Err((BATCH_MAX_SIZE, format!("must be 1 to {BATCH_SIZE_LIMIT}")));
        }
        let bytes = c
            .i64(BATCH_MAX_BYTES, 1 << 20)
            .map_err(|e| (BATCH_MAX_BYTES, e.message))?;
        if !(1..=(64 << 20)).contains(&bytes) {
            return Err((BATCH_MAX_BYTES, "must be 1 to 67108864".into()));
        }
        Ok(Settings {
            url,
            method,
            headers,
            batch_max_size: size as usize,
            batch_max_bytes: bytes as usize,
        })
    }

    /// [`Settings::from_config`] as a plugin error naming the key.
    pub fn open(c: &Config) -> Result<Settings> {
        Settings::from_config(c).map_err(|(k, m)| PluginError::fatal(format!("{k}: {m}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(pairs: &[(&str, &str)]) -> Config {
        Config::new(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        )
    }

    #[test]
    fn headers_and_credentials_become_request_headers() {
        let s = Settings::from_config(&cfg(&[
            (URL, "http://h/x"),
            (HEADERS, "X-A: 1|Content-Type: text/plain"),
            (AUTH_TYPE, "basic"),
            (USER, "u"),
            (PASSWORD, "p"),
        ]))
        .unwrap();
        assert_eq!(s.method, "POST");
        assert_eq!(
            s.headers,
            vec![
                ("X-A".to_string(), "1".to_string()),
                ("Content-Type".into(), "text/plain".into()),
                ("Authorization".into(), "Basic dTpw".into()),
            ]
        );
        let s = Settings::from_config(&cfg(&[
            (URL, "http://h"),
            (AUTH_TYPE, "BEARER"),
            (TOKEN, "t"),
        ]))
        .unwrap();
        assert!(s
            .headers
            .contains(&("Authorization".into(), "Bearer t".into())));
    }

    #[test]
    fn bad_values_name_their_key() {
        for (pairs, key) in [
            (vec![], URL),
            (vec![(URL, "ftp://x")], URL),
            (vec![(URL, "http://x"), (METHOD, "GET")], METHOD),
            (vec![(URL, "http://x"), (HEADERS, "novalue")], HEADERS),
            (vec![(URL, "http://x"), (AUTH_TYPE, "BEARER")], TOKEN),
            (
                vec![(URL, "http://x"), (BATCH_MAX_SIZE, "0")],
                BATCH_MAX_SIZE,
            ),
        ] {
            let issues = validate(&cfg(&pairs));
            assert_eq!(issues.len(), 1, "{pairs:?}");
            assert_eq!(issues[0].key, key);
        }
    }
}
