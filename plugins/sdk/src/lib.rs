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
//! - [`error`]: [`PluginError`], retriable or fatal.
//! - [`log`]: logging and metrics through the host.
//! - [`capability`]: bindings of the capability imports (MQTT, remote cluster); calling one makes
//!   the plugin import it, and the host then requires the grant in the plugin's config.
//! - `glue`: (hidden) converts between WIT types and the SDK's, and keeps the plugin instance.

pub mod config;
pub mod error;
pub mod record;

pub use config::{Config, ConfigDef, ConfigIssue, ConfigType, Metadata, PluginKind};
pub use error::{ErrorKind, PluginError, Result};
pub use record::{Headers, Record};
pub use weft_batch;

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
        generate_all,
    });
}

pub use __bindings::weft::plugin::types::{SourcePosition, TopicPartitionOffset};

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
                with: { "weft:plugin/types@0.1.0": crate::__bindings::weft::plugin::types },
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
                with: { "weft:plugin/types@0.1.0": crate::__bindings::weft::plugin::types },
            });
        }
        pub use bindings::weft::plugin::remote_cluster::*;
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
    /// Returns the transformed record, or `None` to drop it.
    fn apply<'a>(&mut self, record: Record<'a>) -> Result<Option<Record<'a>>>;
}

/// Reads an external system into topics.
pub trait SourceConnector: Plugin {
    /// Splits the connector config into at most `max_tasks` task configs (default: one task).
    fn task_configs(config: &Config, max_tasks: u32) -> Result<Vec<Config>> {
        let _ = max_tasks;
        Ok(vec![config.clone()])
    }
    /// Starts the task at the positions last committed (empty on first start).
    fn open(&mut self, config: &Config, committed: Vec<SourcePosition>) -> Result<()>;
    /// New records (possibly none) and the positions they reach.
    fn poll(&mut self) -> Result<(Vec<Record<'static>>, Vec<SourcePosition>)>;
    /// The host stored these positions; the source may release what precedes them.
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
    /// Starts the task for its assigned partitions.
    fn open(&mut self, config: &Config, assigned: Vec<TopicPartitionOffset>) -> Result<()>;
    /// Delivers records; they may be buffered until [`SinkConnector::flush`].
    fn put(&mut self, records: &[Record<'_>]) -> Result<()>;
    /// Makes everything put so far durable; the host then commits `offsets`.
    fn flush(&mut self, offsets: &[TopicPartitionOffset]) -> Result<()> {
        let _ = offsets;
        Ok(())
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
            struct __WeftPlugin;
            impl __weft_bindings::exports::weft::plugin::record_transform::Guest for __WeftPlugin {
                fn transform(
                    records: ::std::vec::Vec<u8>,
                ) -> ::std::result::Result<::std::vec::Vec<u8>, $crate::glue::wit::PluginError>
                {
                    $crate::glue::transform::<$ty>(records)
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
                $crate::__weft_generate!("source-connector");
            }
            struct __WeftPlugin;
            impl __weft_bindings::exports::weft::plugin::source::Guest for __WeftPlugin {
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
                fn poll() -> ::std::result::Result<
                    (::std::vec::Vec<u8>, ::std::vec::Vec<$crate::SourcePosition>),
                    $crate::glue::wit::PluginError,
                > {
                    $crate::glue::source_poll::<$ty>()
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
                $crate::__weft_generate!("sink-connector");
            }
            struct __WeftPlugin;
            impl __weft_bindings::exports::weft::plugin::sink::Guest for __WeftPlugin {
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
                    assigned: ::std::vec::Vec<$crate::TopicPartitionOffset>,
                ) -> ::std::result::Result<(), $crate::glue::wit::PluginError> {
                    $crate::glue::sink_open::<$ty>(config, assigned)
                }
                fn put(
                    records: ::std::vec::Vec<u8>,
                ) -> ::std::result::Result<(), $crate::glue::wit::PluginError> {
                    $crate::glue::sink_put::<$ty>(records)
                }
                fn flush(
                    offsets: ::std::vec::Vec<$crate::TopicPartitionOffset>,
                ) -> ::std::result::Result<(), $crate::glue::wit::PluginError> {
                    $crate::glue::sink_flush::<$ty>(offsets)
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
        }
    }
}
