//! Converts between the WIT types and the SDK's, keeps the one plugin instance, and runs the
//! per-record loops over packed batches. Called only by the code the export macros generate.

use std::any::Any;
use std::borrow::Cow;
use std::cell::RefCell;
use std::sync::Once;

use weft_batch::{BatchReader, BatchWriter};

use crate::{
    Config, ConfigDef, ConfigIssue, ConfigType, Converter, ErrorKind, Importance, Interceptor,
    Metadata, Partitioner, Plugin, PluginError, PluginKind, Record, RecordFailure, RecordPosition,
    Schemas, Serializer, SinkConnector, SourceConnector, SourcePosition, TopicPartition,
    TopicPartitionOffset, Transform,
};

/// The WIT types, as generated once in [`crate::__bindings`].
pub use crate::__bindings::weft::plugin::types as wit;

thread_local! {
    // A component instance holds exactly one plugin; wasm32-wasip2 guests are single-threaded.
    static INSTANCE: RefCell<Option<Box<dyn Any>>> = const { RefCell::new(None) };
    // What a converter converts, from `converter.type` at configure time.
    static CONVERTER_TARGET: RefCell<Target> = const { RefCell::new(Target::Value) };
}

/// The part of a record a converter works on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Target {
    Key,
    Value,
    Header,
}

static PANIC_HOOK: Once = Once::new();

/// Sends panic messages to the host log before the trap, so the host's error says why.
fn install_panic_hook() {
    PANIC_HOOK.call_once(|| {
        std::panic::set_hook(Box::new(|info| {
            crate::log::error(&format!("panic: {info}"));
        }))
    });
}

fn with<T: Plugin, R>(f: impl FnOnce(&mut T) -> R) -> R {
    install_panic_hook();
    INSTANCE.with(|cell| {
        let mut slot = cell.borrow_mut();
        if !slot.as_ref().is_some_and(|b| b.is::<T>()) {
            *slot = Some(Box::new(T::default()));
        }
        match slot.as_mut().and_then(|b| b.downcast_mut::<T>()) {
            Some(plugin) => f(plugin),
            // Unreachable: the slot was just filled with a T.
            None => f(&mut T::default()),
        }
    })
}

fn to_wit_error(e: PluginError) -> wit::PluginError {
    wit::PluginError {
        kind: match e.kind {
            ErrorKind::Retriable => wit::ErrorKind::Retriable,
            ErrorKind::Fatal => wit::ErrorKind::Fatal,
        },
        message: e.message,
        retry_after_ms: e.retry_after_ms,
    }
}

fn failure_to_wit(f: RecordFailure) -> wit::RecordFailure {
    let e = to_wit_error(f.error);
    wit::RecordFailure {
        index: f.index,
        kind: e.kind,
        message: e.message,
    }
}

fn schemas_of(s: wit::Schemas) -> Schemas {
    Schemas {
        key: s.key,
        value: s.value,
    }
}

fn schemas_to_wit(s: Schemas) -> wit::Schemas {
    wit::Schemas {
        key: s.key,
        value: s.value,
    }
}

fn config_of<T: Plugin>(entries: Vec<wit::ConfigEntry>) -> Config {
    Config::new(entries.into_iter().map(|e| (e.key, e.value)).collect())
        .with_defaults(&T::metadata().config)
}

fn entries_of(config: &Config) -> Vec<wit::ConfigEntry> {
    config
        .entries()
        .iter()
        .map(|(k, v)| wit::ConfigEntry {
            key: k.clone(),
            value: v.clone(),
        })
        .collect()
}

fn def_to_wit(d: ConfigDef) -> wit::ConfigDef {
    wit::ConfigDef {
        name: d.name,
        type_: match d.ty {
            ConfigType::Boolean => wit::ConfigType::Boolean,
            ConfigType::Int => wit::ConfigType::Int,
            ConfigType::Long => wit::ConfigType::Long,
            ConfigType::Double => wit::ConfigType::Double,
            ConfigType::String => wit::ConfigType::String,
            ConfigType::List => wit::ConfigType::List,
            ConfigType::Password => wit::ConfigType::Password,
        },
        default_value: d.default,
        required: d.required,
        documentation: d.doc,
        importance: match d.importance {
            Importance::High => wit::Importance::High,
            Importance::Medium => wit::Importance::Medium,
            Importance::Low => wit::Importance::Low,
        },
        group: d.group,
        order_in_group: d.order_in_group,
        display_name: d.display_name,
        recommended_values: d.recommended_values,
    }
}

fn metadata_to_wit(m: Metadata) -> wit::Metadata {
    wit::Metadata {
        name: m.name,
        version: m.version,
        kind: match m.kind {
            PluginKind::Partitioner => wit::PluginKind::Partitioner,
            PluginKind::Serializer => wit::PluginKind::Serializer,
            PluginKind::Interceptor => wit::PluginKind::Interceptor,
            PluginKind::Transform => wit::PluginKind::Transform,
            PluginKind::Converter => wit::PluginKind::Converter,
            PluginKind::SourceConnector => wit::PluginKind::SourceConnector,
            PluginKind::SinkConnector => wit::PluginKind::SinkConnector,
        },
        description: m.description,
        config: m.config.into_iter().map(def_to_wit).collect(),
    }
}

fn issues_to_wit(issues: Vec<ConfigIssue>) -> Vec<wit::ConfigIssue> {
    issues
        .into_iter()
        .map(|i| wit::ConfigIssue {
            key: i.key,
            message: i.message,
        })
        .collect()
}

pub fn metadata<T: Plugin>() -> wit::Metadata {
    install_panic_hook();
    metadata_to_wit(T::metadata())
}

pub fn validate<T: Plugin>(config: Vec<wit::ConfigEntry>) -> Vec<wit::ConfigIssue> {
    install_panic_hook();
    issues_to_wit(T::validate(&config_of::<T>(config)))
}

pub fn configure<T: Plugin>(config: Vec<wit::ConfigEntry>) -> Result<(), wit::PluginError> {
    let config = config_of::<T>(config);
    if T::metadata().kind == PluginKind::Converter {
        let target = match config.get("converter.type").unwrap_or("value") {
            "key" => Target::Key,
            "value" => Target::Value,
            "header" => Target::Header,
            other => {
                return Err(to_wit_error(PluginError::fatal(format!(
                    "config `converter.type` = `{other}` is not key, value or header"
                ))))
            }
        };
        CONVERTER_TARGET.with(|t| *t.borrow_mut() = target);
    }
    with::<T, _>(|p| p.configure_checked(&config)).map_err(to_wit_error)
}

pub fn close<T: Plugin>() {
    with::<T, _>(|p| p.close());
}

/// Runs `f` over every record of `input`, writing what it returns to a new batch.
fn map_batch<T: Plugin>(
    input: &[u8],
    mut f: impl for<'a> FnMut(&mut T, Record<'a>) -> Result<Option<Record<'a>>, PluginError>,
) -> Result<Vec<u8>, wit::PluginError> {
    with::<T, _>(|p| {
        let reader = BatchReader::new(input)?;
        let mut out = BatchWriter::for_output_of(&reader);
        for view in reader.records() {
            if let Some(r) = f(p, Record::from_view(view?))? {
                r.write_to(&mut out)?;
            }
        }
        Ok(out.finish()?)
    })
    .map_err(to_wit_error)
}

pub fn partition<T: Partitioner>(
    partitions: u32,
    input: Vec<u8>,
) -> Result<Vec<u32>, wit::PluginError> {
    with::<T, _>(|p| {
        if partitions == 0 {
            return Err(PluginError::fatal("topic has no partitions"));
        }
        let reader = BatchReader::new(&input)?;
        let mut out = Vec::with_capacity(reader.len());
        for view in reader.records() {
            let chosen = p.partition(&Record::from_view(view?), partitions)?;
            if chosen >= partitions {
                return Err(PluginError::fatal(format!(
                    "partitioner chose partition {chosen} of {partitions}"
                )));
            }
            out.push(chosen);
        }
        p.end_batch();
        Ok(out)
    })
    .map_err(to_wit_error)
}

pub fn serialize<T: Serializer>(input: Vec<u8>) -> Result<Vec<u8>, wit::PluginError> {
    map_batch::<T>(&input, |p, r| p.serialize(r).map(Some))
}

pub fn deserialize<T: Serializer>(input: Vec<u8>) -> Result<Vec<u8>, wit::PluginError> {
    map_batch::<T>(&input, |p, r| p.deserialize(r).map(Some))
}

/// A transform's or converter's output: records, per-record failures, schemas.
pub struct Output {
    pub records: Vec<u8>,
    pub failures: Vec<wit::RecordFailure>,
    pub schemas: wit::Schemas,
}

/// Runs `f` over every record of `input`; a record whose call fails is reported as a failure
/// (by its index in `input`) and left out of the output.
fn map_failing<T: Plugin>(
    p: &mut T,
    input: &[u8],
    mut f: impl for<'a> FnMut(&mut T, Record<'a>) -> Result<Option<Record<'a>>, PluginError>,
) -> Result<(Vec<u8>, Vec<wit::RecordFailure>), PluginError> {
    let reader = BatchReader::new(input)?;
    let mut out = BatchWriter::for_output_of(&reader);
    let mut failures = Vec::new();
    for (i, view) in reader.records().enumerate() {
        match f(p, Record::from_view(view?)) {
            Ok(Some(r)) => {
                r.write_to(&mut out)?;
                r.recycle();
            }
            Ok(None) => {}
            Err(e) => failures.push(failure_to_wit(RecordFailure::new(i, e))),
        }
    }
    Ok((out.finish()?, failures))
}

pub fn transform<T: Transform>(
    input: Vec<u8>,
    schemas: wit::Schemas,
) -> Result<Output, wit::PluginError> {
    with::<T, _>(|p| {
        let schemas = p.schemas(&schemas_of(schemas))?;
        let (records, failures) = map_failing(p, &input, |p, r| p.apply(r))?;
        Ok(Output {
            records,
            failures,
            schemas: schemas_to_wit(schemas),
        })
    })
    .map_err(to_wit_error)
}

fn target() -> Target {
    CONVERTER_TARGET.with(|t| *t.borrow())
}

pub fn from_connect<T: Converter>(
    input: Vec<u8>,
    schemas: wit::Schemas,
) -> Result<Output, wit::PluginError> {
    let target = target();
    with::<T, _>(|p| {
        let schema = match target {
            Target::Key => schemas.key.as_deref(),
            Target::Value => schemas.value.as_deref(),
            Target::Header => None,
        };
        p.begin_batch(schema);
        let (records, failures) = map_failing(p, &input, |p, mut r| {
            match target {
                Target::Key => {
                    let key = r.key.take();
                    r.key = with_borrowed(key, |k| p.from_connect_borrowed(&r.topic, k, schema))?;
                }
                Target::Value => {
                    let value = r.value.take();
                    r.value =
                        with_borrowed(value, |v| p.from_connect_borrowed(&r.topic, v, schema))?;
                }
                Target::Header => {
                    let topic = r.topic.clone();
                    convert_headers(&mut r, |v| p.from_connect(&topic, v, None))?;
                }
            }
            Ok(Some(r))
        })?;
        Ok(Output {
            records,
            failures,
            schemas: schemas.clone(),
        })
    })
    .map_err(to_wit_error)
}

pub fn to_connect<T: Converter>(input: Vec<u8>) -> Result<Output, wit::PluginError> {
    let target = target();
    with::<T, _>(|p| {
        let mut found: Option<Cow<'static, str>> = None;
        let (records, failures) = map_failing(p, &input, |p, mut r| {
            let mut schema = None;
            match target {
                Target::Key => {
                    let key = r.key.take();
                    r.key = with_borrowed(key, |k| {
                        let (out, s) = p.to_connect_borrowed(&r.topic, k)?;
                        schema = s;
                        Ok(out)
                    })?;
                }
                Target::Value => {
                    let value = r.value.take();
                    r.value = with_borrowed(value, |v| {
                        let (out, s) = p.to_connect_borrowed(&r.topic, v)?;
                        schema = s;
                        Ok(out)
                    })?;
                }
                Target::Header => {
                    let topic = r.topic.clone();
                    convert_headers(&mut r, |v| p.to_connect(&topic, v).map(|(v, _)| v))?;
                }
            }
            // One schema pair describes the batch: the first record that carries one.
            if found.is_none() {
                found = schema;
            }
            Ok(Some(r))
        })?;
        let found = found.map(Cow::into_owned);
        let schemas = match target {
            Target::Key => wit::Schemas {
                key: found,
                value: None,
            },
            Target::Value => wit::Schemas {
                key: None,
                value: found,
            },
            Target::Header => wit::Schemas {
                key: None,
                value: None,
            },
        };
        Ok(Output {
            records,
            failures,
            schemas,
        })
    })
    .map_err(to_wit_error)
}

/// Calls `f` with a record part as a slice of the batch when it is one, so what `f` hands back
/// may borrow from the batch; a part the record owns is converted and the result owned.
fn with_borrowed<'a>(
    part: Option<Cow<'a, [u8]>>,
    f: impl for<'v> FnOnce(Option<&'v [u8]>) -> Result<Option<Cow<'v, [u8]>>, PluginError>,
) -> Result<Option<Cow<'a, [u8]>>, PluginError> {
    match part {
        None => f(None),
        Some(Cow::Borrowed(b)) => f(Some(b)),
        Some(Cow::Owned(o)) => Ok(f(Some(&o))?.map(|c| Cow::Owned(c.into_owned()))),
    }
}

/// Replaces every header value of `r` with what `f` makes of it.
fn convert_headers(
    r: &mut Record<'_>,
    mut f: impl FnMut(Option<&[u8]>) -> Result<Option<Vec<u8>>, PluginError>,
) -> Result<(), PluginError> {
    if r.headers.is_empty() {
        return Ok(());
    }
    let mut converted = Vec::with_capacity(r.headers.len());
    for (k, v) in r.headers.iter() {
        converted.push((k.to_string(), f(v)?));
    }
    r.headers.retain(|_| false);
    for (k, v) in converted {
        r.headers.push(k, v);
    }
    Ok(())
}

pub fn on_send<T: Interceptor>(input: Vec<u8>) -> Result<Vec<u8>, wit::PluginError> {
    map_batch::<T>(&input, |p, r| p.on_send(r))
}

pub fn on_consume<T: Interceptor>(input: Vec<u8>) -> Result<Vec<u8>, wit::PluginError> {
    map_batch::<T>(&input, |p, r| p.on_consume(r))
}

pub fn on_acknowledgement<T: Interceptor>(input: Vec<u8>, failures: Vec<(u32, String)>) {
    with::<T, _>(|p| {
        let Ok(reader) = BatchReader::new(&input) else {
            crate::log::error("on_acknowledgement: malformed batch from host");
            return;
        };
        for (i, view) in reader.records().enumerate() {
            let Ok(view) = view else { break };
            let error = failures
                .iter()
                .find(|(idx, _)| *idx as usize == i)
                .map(|(_, m)| m.as_str());
            p.on_acknowledgement(&Record::from_view(view), error);
        }
    })
}

pub fn on_commit<T: Interceptor>(offsets: Vec<TopicPartitionOffset>) {
    with::<T, _>(|p| p.on_commit(&offsets))
}

pub fn source_task_configs<T: SourceConnector>(
    config: Vec<wit::ConfigEntry>,
    max_tasks: u32,
) -> Result<Vec<Vec<wit::ConfigEntry>>, wit::PluginError> {
    install_panic_hook();
    T::task_configs(&config_of::<T>(config), max_tasks)
        .map(|cs| cs.iter().map(entries_of).collect())
        .map_err(to_wit_error)
}

pub fn source_open<T: SourceConnector>(
    config: Vec<wit::ConfigEntry>,
    committed: Vec<SourcePosition>,
) -> Result<(), wit::PluginError> {
    let config = config_of::<T>(config);
    with::<T, _>(|p| {
        p.configure_checked(&config)?;
        p.open(&config, committed)
    })
    .map_err(to_wit_error)
}

pub fn source_poll<T: SourceConnector>(
) -> Result<(Vec<u8>, Vec<RecordPosition>, wit::Schemas), wit::PluginError> {
    with::<T, _>(|p| {
        // The records were packed as they were pushed: hand the bytes over as they are.
        let polled = p.poll()?.finish()?;
        Ok((
            polled.batch,
            polled.positions,
            schemas_to_wit(polled.schemas),
        ))
    })
    .map_err(to_wit_error)
}

pub fn source_commit<T: SourceConnector>(
    positions: Vec<SourcePosition>,
) -> Result<(), wit::PluginError> {
    with::<T, _>(|p| p.commit(positions)).map_err(to_wit_error)
}

pub fn sink_task_configs<T: SinkConnector>(
    config: Vec<wit::ConfigEntry>,
    max_tasks: u32,
) -> Result<Vec<Vec<wit::ConfigEntry>>, wit::PluginError> {
    install_panic_hook();
    T::task_configs(&config_of::<T>(config), max_tasks)
        .map(|cs| cs.iter().map(entries_of).collect())
        .map_err(to_wit_error)
}

pub fn sink_open<T: SinkConnector>(config: Vec<wit::ConfigEntry>) -> Result<(), wit::PluginError> {
    let config = config_of::<T>(config);
    with::<T, _>(|p| {
        p.configure_checked(&config)?;
        p.open(&config)
    })
    .map_err(to_wit_error)
}

pub fn sink_assign<T: SinkConnector>(
    partitions: Vec<TopicPartitionOffset>,
) -> Result<(), wit::PluginError> {
    with::<T, _>(|p| p.assign(&partitions)).map_err(to_wit_error)
}

pub fn sink_revoke<T: SinkConnector>(
    partitions: Vec<TopicPartition>,
) -> Result<(), wit::PluginError> {
    with::<T, _>(|p| p.revoke(&partitions)).map_err(to_wit_error)
}

pub fn sink_put<T: SinkConnector>(
    input: Vec<u8>,
    schemas: wit::Schemas,
) -> Result<Vec<wit::RecordFailure>, wit::PluginError> {
    let schemas = schemas_of(schemas);
    with::<T, _>(|p| {
        let reader = BatchReader::new(&input)?;
        let records = reader
            .records()
            .map(|v| v.map(Record::from_view))
            .collect::<Result<Vec<_>, _>>()?;
        let failures = p.put(&records, &schemas)?;
        Ok(failures.into_iter().map(failure_to_wit).collect())
    })
    .map_err(to_wit_error)
}

pub fn sink_pre_commit<T: SinkConnector>(
    offsets: Vec<TopicPartitionOffset>,
) -> Result<Vec<TopicPartitionOffset>, wit::PluginError> {
    with::<T, _>(|p| p.pre_commit(offsets)).map_err(to_wit_error)
}
