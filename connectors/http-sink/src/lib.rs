//! Built-in connector `http-sink`: sends records as JSON to an HTTP endpoint through the host's
//! `http` capability, one record per request or batched into JSON arrays. Records the endpoint
//! refuses with a 4xx are per-record failures (the dead-letter queue under
//! `errors.tolerance=all`); 429/5xx are retried by the host and then fail the put as retriable.
//! Every put is answered before it returns, so offsets are committed only for what the
//! endpoint accepted (or the DLQ holds).
//!
//! `settings` reads the config, `body` builds JSON bodies, `task` sends and sorts the answers;
//! this file declares the config and wires the task to the SDK.

pub mod body;
pub mod settings;
pub mod task;

use weft_plugin_sdk::{
    log, Config, ConfigDef, ConfigIssue, ConfigType, Importance, Metadata, Plugin, PluginError,
    PluginKind, Record, RecordFailure, Result, Schemas, SinkConnector,
};

use settings::Settings;
use task::{HostHttp, HttpSinkTask};

/// The connector.
#[derive(Default)]
pub struct HttpSink {
    task: Option<HttpSinkTask<HostHttp>>,
}

/// The config keys, for `/connector-plugins/http-sink/config` and validation.
pub fn config_defs() -> Vec<ConfigDef> {
    use settings::*;
    let def = |name: &str, ty, doc: &str, order| {
        ConfigDef::new(name, ty, doc)
            .importance(Importance::Medium)
            .group("HTTP", order)
    };
    vec![
        def(
            URL,
            ConfigType::String,
            "The endpoint records are sent to; it must lie under a prefix granted by \
             `capability.http.urls`.",
            1,
        )
        .required()
        .importance(Importance::High)
        .display_name("HTTP URL"),
        def(METHOD, ConfigType::String, "The request method.", 2)
            .default("POST")
            .recommended(["POST", "PUT", "PATCH"]),
        def(
            HEADERS,
            ConfigType::String,
            "Extra request headers, `Name:value` pairs separated by `header.separator`.",
            3,
        )
        .default(""),
        def(
            HEADER_SEPARATOR,
            ConfigType::String,
            "Separates the pairs of `headers`.",
            4,
        )
        .default("|"),
        def(
            AUTH_TYPE,
            ConfigType::String,
            "Authentication: NONE, BASIC or BEARER.",
            5,
        )
        .default("NONE")
        .recommended(["NONE", "BASIC", "BEARER"]),
        def(
            USER,
            ConfigType::String,
            "User name for BASIC authentication.",
            6,
        ),
        def(
            PASSWORD,
            ConfigType::Password,
            "Password for BASIC authentication.",
            7,
        ),
        def(
            TOKEN,
            ConfigType::Password,
            "Token for BEARER authentication.",
            8,
        ),
        def(
            BATCH_MAX_SIZE,
            ConfigType::Int,
            "Records per request: 1 sends each record's value as the body, more sends JSON \
             arrays of up to this many values.",
            9,
        )
        .default("1"),
        def(
            BATCH_MAX_BYTES,
            ConfigType::Int,
            "Most bytes of a JSON array body (a larger single value is sent alone).",
            10,
        )
        .default("1048576"),
    ]
}

impl HttpSink {
    fn task(&mut self) -> Result<&mut HttpSinkTask<HostHttp>> {
        self.task
            .as_mut()
            .ok_or_else(|| PluginError::fatal("called before open"))
    }
}

impl Plugin for HttpSink {
    fn metadata() -> Metadata {
        let mut m = Metadata::new(
            "http-sink",
            env!("CARGO_PKG_VERSION"),
            PluginKind::SinkConnector,
            "Sends records as JSON to an HTTP endpoint, one per request or batched into arrays",
        );
        m.config = config_defs();
        m
    }

    fn validate(config: &Config) -> Vec<ConfigIssue> {
        settings::validate(config)
    }
}

impl SinkConnector for HttpSink {
    fn open(&mut self, config: &Config) -> Result<()> {
        let s = Settings::open(config)?;
        log::info(&format!("http-sink sending {} {}", s.method, s.url));
        self.task = Some(HttpSinkTask::open(s, HostHttp)?);
        Ok(())
    }

    fn put(&mut self, records: &[Record<'_>], schemas: &Schemas) -> Result<Vec<RecordFailure>> {
        let schema = schemas.value.as_deref();
        self.task()?.put(records.iter().map(|r| r.value()), schema)
    }
}

#[cfg(target_arch = "wasm32")]
weft_plugin_sdk::export_sink_connector!(HttpSink);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_are_password_keys() {
        let m = HttpSink::metadata();
        assert_eq!(m.kind, PluginKind::SinkConnector);
        let ty = |n: &str| m.config.iter().find(|d| d.name == n).map(|d| d.ty);
        assert_eq!(ty(settings::PASSWORD), Some(ConfigType::Password));
        assert_eq!(ty(settings::TOKEN), Some(ConfigType::Password));
        assert!(HttpSink::default()
            .put(&[], &Schemas::default())
            .unwrap_err()
            .message
            .contains("before open"));
    }
}
