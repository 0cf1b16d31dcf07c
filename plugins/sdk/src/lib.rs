//! Write Weft plugins in plain Rust: implement one trait, call one export macro.
//!
//! A plugin is a WebAssembly component built for `wasm32-wasip2`. This crate hides the WIT
//! bindings (`wit/plugin.wit`) and the packed batch layout: the host sends batches of records,
//! the SDK walks them lazily and calls your trait once per record with a typed, copy-on-write
//! [`Record`], then packs your results back. See README.md for a complete tutorial.
//!
//! ```ignore
//! use weft_plugin_sdk::*;
//!
//! #[derive(Default)]
//! struct Upper;
//!
//! impl Plugin for Upper {
//!     fn metadata() -> Metadata {
//!         Metadata::new("upper", "0.1.0", PluginKind::Transform, "Uppercases values")
//!     }
//! }
//!
//! impl Transform for Upper {
//!     fn apply<'a>(&mut self, mut r: Record<'a>) -> Result<Option<Record<'a>>> {
//!         if let Some(v) = r.value() {
//!             let upper = v.to_ascii_uppercase();
//!             r.set_value(upper);
//!         }
//!         Ok(Some(r))
//!     }
//! }
//!
//! export_transform!(Upper);
//! ```
//!
//! # Layout
//!
//! - `lib.rs`: the plugin traits ([`Plugin`] plus one per kind) and the export macros.
//! - [`record`]: [`Record`] and [`Headers`], borrowed from the input batch until changed.
//! - [`config`]: [`Metadata`], [`ConfigDef`] and typed access to [`Config`].
//! - [`error`]: [`PluginError`], retriable (optionally with a retry delay) or fatal.
//! - [`part`]: [`Part`], the key or value a field transform acts on (`target`).
//! - [`json_object`]: a JSON object's top-level members read and rewritten in its text.
//! - [`json_edit`]: a JSON object's members edited by field transforms in turn, written once.
//! - [`json_scan`]: one pass that checks JSON text (and finds an object's members).
//! - [`polled`]: [`Polled`], what a source's poll returns, packed as records are pushed.
//! - [`position`]: [`RecordPosition`] and JSON source positions.
//! - [`task`]: a connector task's requests to the worker (pause, resume, rewind, commit,
//!   reconfigure, stored positions).
//! - [`schema`]: Connect schema JSON for the common types.
//! - [`log`]: logging and metrics through the host.
//! - [`capability`]: bindings of the capability imports (MQTT, remote cluster); calling one makes
//!   the plugin import it, and the host then requires the grant in the plugin's config.
//! - [`http`]: the HTTP capability (`capability.http.urls`): requests with host-side retries.
//! - [`remote`]: the remote-cluster capability, typed (what a mirror reads and writes).
//! - [`admin`]: the local-admin capability (`capability.local-admin=true`): topics and group
//!   offsets on the cluster the worker writes to.
//! - `glue`: (hidden) converts between WIT types and the SDK's, and keeps the plugin instance.

use std::borrow::Cow;

pub mod admin;
pub mod config;
pub mod error;
pub mod http;
pub mod json_edit;
pub mod json_object;
pub mod json_scan;
pub mod mqtt;
pub mod part;
pub mod polled;
pub mod position;
pub mod record;
pub mod remote;
pub mod task;
pub mod template;

pub use config::{Config, ConfigDef, ConfigIssue, ConfigType, Importance, Metadata, PluginKind};
pub use error::{ErrorKind, PluginError, Result};
pub use part::Part;
pub use polled::{PackedPoll, Polled, RecordParts};
pub use position::RecordPosition;
pub use record::{Headers, Record};
pub use serde_json;
pub use weft_batch;

/// The contract version this SDK builds plugins for (`weft:plugin@<version>`).
pub const CONTRACT_VERSION: &str = env!("WEFT_CONTRACT_VERSION");

// Lets the generated code and the export macros name this crate the same way from inside it.
extern crate self as weft_plugin_sdk;

#[doc(hidden)]
pub use wit_bindgen as __rt;

/// Bindings of the shared types and the host interface, reused by every plugin's world.
#[doc(hidden)]
pub mod __bindings {
    wit_bindgen::generate!({
        world: "sdk-base",
        path: "../../wit",
        runtime_path: "::weft_plugin_sdk::__rt::rt",
        additional_derives: [PartialEq, Eq],
        generate_all,
    });
}

pub use __bindings::weft::plugin::types::{SourcePosition, TopicPartition, TopicPartitionOffset};

/// The Connect schemas of a batch's keys and values, as JsonConverter writes a schema
/// (`{"type":"string","optional":false}`); `None` is schemaless.
///
/// Keys and values of a batch that has schemas are in the *Connect value encoding*: a `string`
/// is its UTF-8 text, `bytes` its raw bytes, anything else (struct, map, array, number,
/// boolean) its JSON text, and null stays null.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Schemas {
    /// Schema of the keys.
    pub key: Option<String>,
    /// Schema of the values.
    pub value: Option<String>,
}

/// Connect schema JSON: the primitive types as Kafka's JsonConverter writes them, and helpers
/// for transforms that change a struct schema (add, drop, rename or retype fields). Key order
/// inside a schema does not matter: the JSON converter writes schemas in Kafka's order.
pub mod schema {
    use serde_json::{Map, Value};

    use crate::error::{PluginError, Result};

    /// A required string.
    pub const STRING: &str = r#"{"type":"string","optional":false}"#;
    /// An optional string.
    pub const OPTIONAL_STRING: &str = r#"{"type":"string","optional":true}"#;
    /// Required bytes.
    pub const BYTES: &str = r#"{"type":"bytes","optional":false}"#;
    /// Optional bytes.
    pub const OPTIONAL_BYTES: &str = r#"{"type":"bytes","optional":true}"#;
    /// A required 64-bit integer.
    pub const INT64: &str = r#"{"type":"int64","optional":false}"#;

    /// Parses schema text.
    pub fn parse(text: &str) -> Result<Map<String, Value>> {
        match serde_json::from_str(text) {
            Ok(Value::Object(m)) => Ok(m),
            _ => Err(PluginError::fatal(format!(
                "schema `{text}` is not a JSON object"
            ))),
        }
    }

    /// The schema's `type`.
    pub fn type_of(schema: &Map<String, Value>) -> Option<&str> {
        schema.get("type").and_then(Value::as_str)
    }

    /// A primitive schema of `ty`.
    pub fn primitive(ty: &str, optional: bool) -> Map<String, Value> {
        let mut m = Map::new();
        m.insert("type".into(), Value::from(ty));
        m.insert("optional".into(), Value::from(optional));
        m
    }

    /// The fields of a struct schema, each with its name under `field`; `None` if not a struct.
    pub fn fields(schema: &Map<String, Value>) -> Option<Vec<Map<String, Value>>> {
        if type_of(schema) != Some("struct") {
            return None;
        }
        let list = schema.get("fields")?.as_array()?;
        Some(list.iter().filter_map(|f| f.as_object().cloned()).collect())
    }

    /// A field's name.
    pub fn field_name(field: &Map<String, Value>) -> Option<&str> {
        field.get("field").and_then(Value::as_str)
    }

    /// `schema` (a struct) with its fields replaced.
    pub fn with_fields(
        schema: &Map<String, Value>,
        fields: Vec<Map<String, Value>>,
    ) -> Map<String, Value> {
        let mut out = schema.clone();
        out.insert(
            "fields".into(),
            Value::Array(fields.into_iter().map(Value::Object).collect()),
        );
        out
    }

    /// `schema` as the field `name` of a struct.
    pub fn as_field(mut schema: Map<String, Value>, name: &str) -> Map<String, Value> {
        schema.insert("field".into(), Value::from(name));
        schema
    }

    /// Compact schema text.
    pub fn to_text(schema: &Map<String, Value>) -> String {
        Value::Object(schema.clone()).to_string()
    }

    /// A key or value in the Connect value encoding, as JSON: a `string` (and, schemaless,
    /// any text that is not JSON) is a JSON string, anything else its JSON text.
    pub fn decode_value(bytes: &[u8], schema_type: Option<&str>) -> Result<Value> {
        let text = std::str::from_utf8(bytes)
            .map_err(|_| PluginError::fatal("value is not UTF-8 text"))?;
        match schema_type {
            Some("string") => Ok(Value::String(text.to_string())),
            Some("bytes") => Err(PluginError::fatal("cannot act on a bytes value")),
            Some(_) => serde_json::from_str(text)
                .map_err(|e| PluginError::fatal(format!("value is not JSON: {e}"))),
            None => Ok(serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.into()))),
        }
    }

    /// A JSON value back in the Connect value encoding: a string is its text, anything else
    /// its JSON text.
    pub fn encode_value(value: &Value) -> Vec<u8> {
        match value {
            Value::String(s) => s.clone().into_bytes(),
            other => other.to_string().into_bytes(),
        }
    }
}

/// One record of a batch that failed on its own; the rest of the batch went through.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordFailure {
    /// Index of the record in the batch the call received.
    pub index: u32,
    /// Why it failed.
    pub error: PluginError,
}

impl RecordFailure {
    /// Record `index` of the input failed with `error`.
    pub fn new(index: usize, error: PluginError) -> Self {
        RecordFailure {
            index: u32::try_from(index).unwrap_or(u32::MAX),
            error,
        }
    }
}

include!(concat!(env!("OUT_DIR"), "/generate.rs"));

/// Host capabilities. Using one makes the plugin import it; the host refuses to load the plugin
/// unless its config grants the capability (the load error names the config key).
pub mod capability {
    /// MQTT publish/subscribe on the brokers granted by `capability.mqtt.urls`.
    pub mod mqtt {
        mod bindings {
            wit_bindgen::generate!({
                world: "capability-mqtt",
                path: "../../wit",
                runtime_path: "::weft_plugin_sdk::__rt::rt",
                with: { "weft:plugin/types@0.2.0": crate::__bindings::weft::plugin::types },
            });
        }
        pub use bindings::weft::plugin::mqtt::*;
    }

    /// Reading the Kafka cluster granted by `capability.remote-cluster.bootstrap.servers`.
    pub mod remote_cluster {
        mod bindings {
            wit_bindgen::generate!({
                world: "capability-remote-cluster",
                path: "../../wit",
                runtime_path: "::weft_plugin_sdk::__rt::rt",
                with: { "weft:plugin/types@0.2.0": crate::__bindings::weft::plugin::types },
            });
        }
        pub use bindings::weft::plugin::remote_cluster::*;
    }

    /// Administering the worker's own cluster, granted by `capability.local-admin=true`.
    pub mod local_admin {
        mod bindings {
            wit_bindgen::generate!({
                world: "capability-local-admin",
                path: "../../wit",
                runtime_path: "::weft_plugin_sdk::__rt::rt",
                with: { "weft:plugin/types@0.2.0": crate::__bindings::weft::plugin::types },
            });
        }
        pub use bindings::weft::plugin::local_admin::*;
    }
}

/// Logging and metrics through the host, attributed to this plugin instance.
pub mod log {
    #[cfg(target_arch = "wasm32")]
    use crate::__bindings::weft::plugin::host;

    /// Severity of a log message.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum Level {
        /// Very detailed.
        Trace,
        /// For debugging.
        Debug,
        /// Normal operation.
        Info,
        /// Something looks wrong.
        Warn,
        /// Something failed.
        Error,
    }

    /// Logs `message` at `level` through the host's logger.
    pub fn log(level: Level, message: &str) {
        #[cfg(target_arch = "wasm32")]
        {
            let level = match level {
                Level::Trace => host::Level::Trace,
                Level::Debug => host::Level::Debug,
                Level::Info => host::Level::Info,
                Level::Warn => host::Level::Warn,
                Level::Error => host::Level::Error,
            };
            host::log(level, message);
        }
        // Natively (plugin unit tests) there is no host: print instead.
        #[cfg(not(target_arch = "wasm32"))]
        eprintln!("[{level:?}] {message}");
    }

    /// Logs at info level.
    pub fn info(message: &str) {
        log(Level::Info, message)
    }

    /// Logs at warn level.
    pub fn warn(message: &str) {
        log(Level::Warn, message)
    }

    /// Logs at error level.
    pub fn error(message: &str) {
        log(Level::Error, message)
    }

    /// Adds `delta` to counter `name`.
    pub fn counter_add(name: &str, delta: u64) {
        #[cfg(target_arch = "wasm32")]
        host::counter_add(name, delta);
        #[cfg(not(target_arch = "wasm32"))]
        let _ = (name, delta);
    }

    /// Sets gauge `name`.
    pub fn gauge_set(name: &str, value: f64) {
        #[cfg(target_arch = "wasm32")]
        host::gauge_set(name, value);
        #[cfg(not(target_arch = "wasm32"))]
        let _ = (name, value);
    }
}

/// What every plugin implements: identity, config and shutdown.
pub trait Plugin: Default + 'static {
    /// Name, version, kind, description and config keys.
    fn metadata() -> Metadata;

    /// Checks a config; by default against the types and required flags in [`Plugin::metadata`].
    fn validate(config: &Config) -> Vec<ConfigIssue> {
        config.check(&Self::metadata().config)
    }

    /// Applies the config (with defaults filled in) before any record arrives.
    fn configure(&mut self, config: &Config) -> Result<()> {
        let _ = config;
        Ok(())
    }

    /// Called once at the end; flush counters or log a summary here.
    fn close(&mut self) {}

    /// Configures as the host's `configure` call does: [`Plugin::validate`] first (its issues
    /// are the error), then [`Plugin::configure`]. `config` has its defaults filled in
    /// ([`Config::with_defaults`]). For plugins that run others inside them (the built-in
    /// transform chain); not meant to be overridden.
    fn configure_checked(&mut self, config: &Config) -> Result<()> {
        ConfigIssue::none_of(&Self::validate(config))?;
        self.configure(config)
    }
}

/// Chooses a partition for each record.
pub trait Partitioner: Plugin {
    /// Returns a partition in `0..partitions`.
    fn partition(&mut self, record: &Record<'_>, partitions: u32) -> Result<u32>;

    /// Called after the last record of each batch (sticky partitioners move on here).
    fn end_batch(&mut self) {}
}

/// Converts keys and values to bytes for the wire and back.
pub trait Serializer: Plugin {
    /// Produce side: turn the record's key/value into their wire form.
    fn serialize<'a>(&mut self, record: Record<'a>) -> Result<Record<'a>>;
    /// Consume side: turn wire bytes back into the plugin's logical form.
    fn deserialize<'a>(&mut self, record: Record<'a>) -> Result<Record<'a>>;
}

/// Observes and may modify records around produce and consume (all methods optional).
pub trait Interceptor: Plugin {
    /// Before a record is sent; return `None` to drop it.
    fn on_send<'a>(&mut self, record: Record<'a>) -> Result<Option<Record<'a>>> {
        Ok(Some(record))
    }
    /// After the cluster acknowledged (`error` is `None`) or rejected the record.
    fn on_acknowledgement(&mut self, record: &Record<'_>, error: Option<&str>) {
        let _ = (record, error);
    }
    /// Before a consumed record reaches the application; return `None` to drop it.
    fn on_consume<'a>(&mut self, record: Record<'a>) -> Result<Option<Record<'a>>> {
        Ok(Some(record))
    }
    /// After consumer offsets were committed.
    fn on_commit(&mut self, offsets: &[TopicPartitionOffset]) {
        let _ = offsets;
    }
}

/// Rewrites, reroutes or drops records.
pub trait Transform: Plugin {
    /// The schemas of the output, given those of the input batch; called once per batch before
    /// its records. Default: unchanged. A transform that adds a field changes the value schema;
    /// an error here fails the whole batch.
    fn schemas(&mut self, input: &Schemas) -> Result<Schemas> {
        Ok(input.clone())
    }

    /// Returns the transformed record, or `None` to drop it. An error fails this record only:
    /// the worker sends it to the dead-letter queue or fails the task, per `errors.tolerance`.
    fn apply<'a>(&mut self, record: Record<'a>) -> Result<Option<Record<'a>>>;
}

/// Converts between Connect values and the bytes stored in Kafka, after Kafka Connect's
/// Converter. The SDK applies it to keys, values or header values, as the config key
/// `converter.type` (`key`, `value`, `header`) given by the worker says.
pub trait Converter: Plugin {
    /// A Connect value (described by `schema`; `None` is schemaless) to the bytes to produce.
    #[allow(clippy::wrong_self_convention)] // Connect's name (Converter.fromConnectData)
    fn from_connect(
        &mut self,
        topic: &str,
        value: Option<&[u8]>,
        schema: Option<&str>,
    ) -> Result<Option<Vec<u8>>>;

    /// Called before a batch is converted by `from_connect`, with the schema each of its
    /// records is then given: that same text, alive until the batch ends. A converter that
    /// prepares something per schema can do it here once. Nothing is reported from here: a
    /// schema that is wrong fails each record's call, as it would without this one.
    fn begin_batch(&mut self, schema: Option<&str>) {
        let _ = schema;
    }

    /// Consumed bytes to a Connect value and its schema, if the format carries one.
    fn to_connect(
        &mut self,
        topic: &str,
        value: Option<&[u8]>,
    ) -> Result<(Option<Vec<u8>>, Option<String>)>;

    /// As [`Converter::from_connect`], but may hand back `value` itself. The SDK calls this one;
    /// a converter that often leaves bytes unchanged overrides it to spare a copy and an
    /// allocation per record (the default calls `from_connect`).
    #[allow(clippy::wrong_self_convention)] // Connect's name (Converter.fromConnectData)
    fn from_connect_borrowed<'v>(
        &mut self,
        topic: &str,
        value: Option<&'v [u8]>,
        schema: Option<&str>,
    ) -> Result<Option<Cow<'v, [u8]>>> {
        Ok(self.from_connect(topic, value, schema)?.map(Cow::Owned))
    }

    /// As [`Converter::to_connect`], but may hand back `value` itself and a static schema
    /// (the default calls `to_connect`).
    #[allow(clippy::type_complexity)]
    fn to_connect_borrowed<'v>(
        &mut self,
        topic: &str,
        value: Option<&'v [u8]>,
    ) -> Result<(Option<Cow<'v, [u8]>>, Option<Cow<'static, str>>)> {
        let (value, schema) = self.to_connect(topic, value)?;
        Ok((value.map(Cow::Owned), schema.map(Cow::Owned)))
    }
}

/// Reads an external system into topics.
pub trait SourceConnector: Plugin {
    /// Splits the connector config into at most `max_tasks` task configs (default: one task).
    fn task_configs(config: &Config, max_tasks: u32) -> Result<Vec<Config>> {
        let _ = max_tasks;
        Ok(vec![config.clone()])
    }
    /// Starts the task at the positions last stored (empty on first start).
    fn open(&mut self, config: &Config, committed: Vec<SourcePosition>) -> Result<()>;
    /// New records (possibly none), the positions they reach (see [`Polled::push_at`]) and
    /// their schemas. Records are packed as they are pushed and go to the host as they are:
    /// [`Polled::push_parts`] copies borrowed parts once, without an allocation per record.
    /// Return within about a second when there is nothing new.
    fn poll(&mut self) -> Result<Polled>;
    /// The worker stored these positions; the source may release what precedes them.
    fn commit(&mut self, positions: Vec<SourcePosition>) -> Result<()> {
        let _ = positions;
        Ok(())
    }
}

/// Writes topics to an external system.
pub trait SinkConnector: Plugin {
    /// Splits the connector config into at most `max_tasks` task configs (default: one task).
    fn task_configs(config: &Config, max_tasks: u32) -> Result<Vec<Config>> {
        let _ = max_tasks;
        Ok(vec![config.clone()])
    }
    /// Starts the task; partitions arrive through [`SinkConnector::assign`].
    fn open(&mut self, config: &Config) -> Result<()>;
    /// These partitions are now the task's, starting at these offsets.
    fn assign(&mut self, partitions: &[TopicPartitionOffset]) -> Result<()> {
        let _ = partitions;
        Ok(())
    }
    /// These partitions are no longer the task's (`pre_commit` was called for them first).
    fn revoke(&mut self, partitions: &[TopicPartition]) -> Result<()> {
        let _ = partitions;
        Ok(())
    }
    /// Delivers records (Connect value encoding, described by `schemas`); they may be buffered
    /// until [`SinkConnector::flush`]. Returns the records that failed on their own (indexes
    /// into `records`).
    fn put(&mut self, records: &[Record<'_>], schemas: &Schemas) -> Result<Vec<RecordFailure>>;
    /// Makes everything put so far durable.
    fn flush(&mut self, offsets: &[TopicPartitionOffset]) -> Result<()> {
        let _ = offsets;
        Ok(())
    }
    /// `offsets` are the next offsets after everything put so far; returns those safe to
    /// commit. Default: [`SinkConnector::flush`], then all of them.
    fn pre_commit(
        &mut self,
        offsets: Vec<TopicPartitionOffset>,
    ) -> Result<Vec<TopicPartitionOffset>> {
        self.flush(&offsets)?;
        Ok(offsets)
    }
}

#[doc(hidden)]
pub mod glue;

/// Implements the common `plugin` export for `$ty` inside an export macro.
#[doc(hidden)]
#[macro_export]
#[rustfmt::skip]
macro_rules! __weft_plugin_exports {
    ($ty:ty) => {
        impl __weft_bindings::exports::weft::plugin::plugin::Guest for __WeftPlugin {
            fn describe() -> $crate::glue::wit::Metadata {
                $crate::glue::metadata::<$ty>()
            }
            fn validate(
                config: ::std::vec::Vec<$crate::glue::wit::ConfigEntry>,
            ) -> ::std::vec::Vec<$crate::glue::wit::ConfigIssue> {
                $crate::glue::validate::<$ty>(config)
            }
            fn configure(
                config: ::std::vec::Vec<$crate::glue::wit::ConfigEntry>,
            ) -> ::std::result::Result<(), $crate::glue::wit::PluginError> {
                $crate::glue::configure::<$ty>(config)
            }
            fn close() {
                $crate::glue::close::<$ty>()
            }
        }
    };
}

/// Exports a [`Partitioner`] as this crate's component.
#[macro_export]
#[rustfmt::skip]
macro_rules! export_partitioner {
    ($ty:ty) => {
        const _: () = {
            mod __weft_bindings {
                $crate::__weft_generate!("partitioner");
            }
            struct __WeftPlugin;
            impl __weft_bindings::exports::weft::plugin::partition::Guest for __WeftPlugin {
                fn partition(
                    partition_count: u32,
                    records: ::std::vec::Vec<u8>,
                ) -> ::std::result::Result<::std::vec::Vec<u32>, $crate::glue::wit::PluginError>
                {
                    $crate::glue::partition::<$ty>(partition_count, records)
                }
            }
            $crate::__weft_plugin_exports!($ty);
            __weft_bindings::__weft_export!(__WeftPlugin with_types_in __weft_bindings);
        };
    };
}

/// Exports a [`Serializer`] as this crate's component.
#[macro_export]
#[rustfmt::skip]
macro_rules! export_serializer {
    ($ty:ty) => {
        const _: () = {
            mod __weft_bindings {
                $crate::__weft_generate!("serializer");
            }
            struct __WeftPlugin;
            impl __weft_bindings::exports::weft::plugin::serde::Guest for __WeftPlugin {
                fn serialize(
                    records: ::std::vec::Vec<u8>,
                ) -> ::std::result::Result<::std::vec::Vec<u8>, $crate::glue::wit::PluginError>
                {
                    $crate::glue::serialize::<$ty>(records)
                }
                fn deserialize(
                    records: ::std::vec::Vec<u8>,
                ) -> ::std::result::Result<::std::vec::Vec<u8>, $crate::glue::wit::PluginError>
                {
                    $crate::glue::deserialize::<$ty>(records)
                }
            }
            $crate::__weft_plugin_exports!($ty);
            __weft_bindings::__weft_export!(__WeftPlugin with_types_in __weft_bindings);
        };
    };
}

/// Exports an [`Interceptor`] as this crate's component.
#[macro_export]
#[rustfmt::skip]
macro_rules! export_interceptor {
    ($ty:ty) => {
        const _: () = {
            mod __weft_bindings {
                $crate::__weft_generate!("interceptor");
            }
            struct __WeftPlugin;
            impl __weft_bindings::exports::weft::plugin::intercept::Guest for __WeftPlugin {
                fn on_send(
                    records: ::std::vec::Vec<u8>,
                ) -> ::std::result::Result<::std::vec::Vec<u8>, $crate::glue::wit::PluginError>
                {
                    $crate::glue::on_send::<$ty>(records)
                }
                fn on_acknowledgement(
                    records: ::std::vec::Vec<u8>,
                    failures: ::std::vec::Vec<(u32, ::std::string::String)>,
                ) {
                    $crate::glue::on_acknowledgement::<$ty>(records, failures)
                }
                fn on_consume(
                    records: ::std::vec::Vec<u8>,
                ) -> ::std::result::Result<::std::vec::Vec<u8>, $crate::glue::wit::PluginError>
                {
                    $crate::glue::on_consume::<$ty>(records)
                }
                fn on_commit(offsets: ::std::vec::Vec<$crate::TopicPartitionOffset>) {
                    $crate::glue::on_commit::<$ty>(offsets)
                }
            }
            $crate::__weft_plugin_exports!($ty);
            __weft_bindings::__weft_export!(__WeftPlugin with_types_in __weft_bindings);
        };
    };
}

/// Exports a [`Transform`] as this crate's component.
#[macro_export]
#[rustfmt::skip]
macro_rules! export_transform {
    ($ty:ty) => {
        const _: () = {
            mod __weft_bindings {
                $crate::__weft_generate!("transform");
            }
            use __weft_bindings::exports::weft::plugin::record_transform as __weft_iface;
            struct __WeftPlugin;
            impl __weft_iface::Guest for __WeftPlugin {
                fn transform(
                    records: ::std::vec::Vec<u8>,
                    schemas: $crate::glue::wit::Schemas,
                ) -> ::std::result::Result<__weft_iface::Transformed, $crate::glue::wit::PluginError>
                {
                    $crate::glue::transform::<$ty>(records, schemas).map(|o| {
                        __weft_iface::Transformed {
                            records: o.records,
                            failures: o.failures,
                            schemas: o.schemas,
                        }
                    })
                }
            }
            $crate::__weft_plugin_exports!($ty);
            __weft_bindings::__weft_export!(__WeftPlugin with_types_in __weft_bindings);
        };
    };
}

/// Exports a [`Converter`] as this crate's component.
#[macro_export]
#[rustfmt::skip]
macro_rules! export_converter {
    ($ty:ty) => {
        const _: () = {
            mod __weft_bindings {
                $crate::__weft_generate!("converter");
            }
            use __weft_bindings::exports::weft::plugin::convert as __weft_iface;
            struct __WeftPlugin;
            impl __weft_iface::Guest for __WeftPlugin {
                fn from_connect(
                    records: ::std::vec::Vec<u8>,
                    schemas: $crate::glue::wit::Schemas,
                ) -> ::std::result::Result<__weft_iface::Converted, $crate::glue::wit::PluginError>
                {
                    $crate::glue::from_connect::<$ty>(records, schemas).map(|o| {
                        __weft_iface::Converted {
                            records: o.records,
                            failures: o.failures,
                            schemas: o.schemas,
                        }
                    })
                }
                fn to_connect(
                    records: ::std::vec::Vec<u8>,
                ) -> ::std::result::Result<__weft_iface::Converted, $crate::glue::wit::PluginError>
                {
                    $crate::glue::to_connect::<$ty>(records).map(|o| {
                        __weft_iface::Converted {
                            records: o.records,
                            failures: o.failures,
                            schemas: o.schemas,
                        }
                    })
                }
            }
            $crate::__weft_plugin_exports!($ty);
            __weft_bindings::__weft_export!(__WeftPlugin with_types_in __weft_bindings);
        };
    };
}

/// Exports a [`SourceConnector`] as this crate's component.
#[macro_export]
#[rustfmt::skip]
macro_rules! export_source_connector {
    ($ty:ty) => {
        const _: () = {
            mod __weft_bindings {
                $crate::__weft_generate!("source-connector", task_context);
            }
            use __weft_bindings::exports::weft::plugin::source as __weft_iface;
            struct __WeftPlugin;
            impl __weft_iface::Guest for __WeftPlugin {
                fn task_configs(
                    config: ::std::vec::Vec<$crate::glue::wit::ConfigEntry>,
                    max_tasks: u32,
                ) -> ::std::result::Result<
                    ::std::vec::Vec<::std::vec::Vec<$crate::glue::wit::ConfigEntry>>,
                    $crate::glue::wit::PluginError,
                > {
                    $crate::glue::source_task_configs::<$ty>(config, max_tasks)
                }
                fn open(
                    config: ::std::vec::Vec<$crate::glue::wit::ConfigEntry>,
                    committed: ::std::vec::Vec<$crate::SourcePosition>,
                ) -> ::std::result::Result<(), $crate::glue::wit::PluginError> {
                    $crate::glue::source_open::<$ty>(config, committed)
                }
                fn poll() -> ::std::result::Result<__weft_iface::Polled, $crate::glue::wit::PluginError> {
                    $crate::glue::source_poll::<$ty>().map(|(records, positions, schemas)| {
                        __weft_iface::Polled {
                            records,
                            positions: positions
                                .into_iter()
                                .map(|p| __weft_iface::RecordPosition {
                                    after_records: p.after_records,
                                    position: p.position,
                                })
                                .collect(),
                            schemas,
                        }
                    })
                }
                fn commit(
                    positions: ::std::vec::Vec<$crate::SourcePosition>,
                ) -> ::std::result::Result<(), $crate::glue::wit::PluginError> {
                    $crate::glue::source_commit::<$ty>(positions)
                }
            }
            $crate::__weft_plugin_exports!($ty);
            __weft_bindings::__weft_export!(__WeftPlugin with_types_in __weft_bindings);
        };
    };
}

/// Exports a [`SinkConnector`] as this crate's component.
#[macro_export]
#[rustfmt::skip]
macro_rules! export_sink_connector {
    ($ty:ty) => {
        const _: () = {
            mod __weft_bindings {
                $crate::__weft_generate!("sink-connector", task_context);
            }
            use __weft_bindings::exports::weft::plugin::sink as __weft_iface;
            struct __WeftPlugin;
            impl __weft_iface::Guest for __WeftPlugin {
                fn task_configs(
                    config: ::std::vec::Vec<$crate::glue::wit::ConfigEntry>,
                    max_tasks: u32,
                ) -> ::std::result::Result<
                    ::std::vec::Vec<::std::vec::Vec<$crate::glue::wit::ConfigEntry>>,
                    $crate::glue::wit::PluginError,
                > {
                    $crate::glue::sink_task_configs::<$ty>(config, max_tasks)
                }
                fn open(
                    config: ::std::vec::Vec<$crate::glue::wit::ConfigEntry>,
                ) -> ::std::result::Result<(), $crate::glue::wit::PluginError> {
                    $crate::glue::sink_open::<$ty>(config)
                }
                fn assign(
                    partitions: ::std::vec::Vec<$crate::TopicPartitionOffset>,
                ) -> ::std::result::Result<(), $crate::glue::wit::PluginError> {
                    $crate::glue::sink_assign::<$ty>(partitions)
                }
                fn revoke(
                    partitions: ::std::vec::Vec<$crate::TopicPartition>,
                ) -> ::std::result::Result<(), $crate::glue::wit::PluginError> {
                    $crate::glue::sink_revoke::<$ty>(partitions)
                }
                fn put(
                    records: ::std::vec::Vec<u8>,
                    schemas: $crate::glue::wit::Schemas,
                ) -> ::std::result::Result<
                    ::std::vec::Vec<$crate::glue::wit::RecordFailure>,
                    $crate::glue::wit::PluginError,
                > {
                    $crate::glue::sink_put::<$ty>(records, schemas)
                }
                fn pre_commit(
                    offsets: ::std::vec::Vec<$crate::TopicPartitionOffset>,
                ) -> ::std::result::Result<
                    ::std::vec::Vec<$crate::TopicPartitionOffset>,
                    $crate::glue::wit::PluginError,
                > {
                    $crate::glue::sink_pre_commit::<$ty>(offsets)
                }
            }
            $crate::__weft_plugin_exports!($ty);
            __weft_bindings::__weft_export!(__WeftPlugin with_types_in __weft_bindings);
        };
    };
}

impl From<__bindings::weft::plugin::types::PluginError> for PluginError {
    fn from(e: __bindings::weft::plugin::types::PluginError) -> Self {
        PluginError {
            kind: match e.kind {
                __bindings::weft::plugin::types::ErrorKind::Retriable => ErrorKind::Retriable,
                __bindings::weft::plugin::types::ErrorKind::Fatal => ErrorKind::Fatal,
            },
            message: e.message,
            retry_after_ms: e.retry_after_ms,
        }
    }
}
