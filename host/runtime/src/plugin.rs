//! A compiled plugin ([`LoadedPlugin`]: component, `InstancePre`, metadata) and a sandboxed,
//! self-healing instance of it ([`Instance`]: one store, typed calls, restart after a failure).

use std::path::PathBuf;
use std::sync::Arc;

use wasmtime::component::{Component, InstancePre};
use wasmtime::Store;
use weft_batch::Record;

use crate::bindings::{self, types};
use crate::config::{Grants, PluginConfig, Sandbox, KEY_MQTT, KEY_REMOTE};
use crate::engine::Runtime;
use crate::error::{Result, RuntimeError};
use crate::host::{HostState, Metrics};

/// The kind of a plugin, from the world its component exports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PluginKind {
    /// Exports `weft:plugin/partition`.
    Partitioner,
    /// Exports `weft:plugin/serde`.
    Serializer,
    /// Exports `weft:plugin/intercept`.
    Interceptor,
    /// Exports `weft:plugin/record-transform`.
    Transform,
    /// Exports `weft:plugin/source`.
    SourceConnector,
    /// Exports `weft:plugin/sink`.
    SinkConnector,
}

impl PluginKind {
    /// The WIT world name.
    pub fn as_str(self) -> &'static str {
        match self {
            PluginKind::Partitioner => "partitioner",
            PluginKind::Serializer => "serializer",
            PluginKind::Interceptor => "interceptor",
            PluginKind::Transform => "transform",
            PluginKind::SourceConnector => "source-connector",
            PluginKind::SinkConnector => "sink-connector",
        }
    }

    /// The kind whose world is named `s`.
    pub fn parse(s: &str) -> Option<Self> {
        ALL_KINDS.iter().copied().find(|k| k.as_str() == s)
    }

    fn export_interface(self) -> &'static str {
        match self {
            PluginKind::Partitioner => "weft:plugin/partition@",
            PluginKind::Serializer => "weft:plugin/serde@",
            PluginKind::Interceptor => "weft:plugin/intercept@",
            PluginKind::Transform => "weft:plugin/record-transform@",
            PluginKind::SourceConnector => "weft:plugin/source@",
            PluginKind::SinkConnector => "weft:plugin/sink@",
        }
    }
}

/// Every kind, in WIT order.
pub const ALL_KINDS: [PluginKind; 6] = [
    PluginKind::Partitioner,
    PluginKind::Serializer,
    PluginKind::Interceptor,
    PluginKind::Transform,
    PluginKind::SourceConnector,
    PluginKind::SinkConnector,
];

/// Where a plugin was loaded from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PluginSource {
    /// Embedded in the binary.
    Builtin(String),
    /// A `.wasm` file.
    File(PathBuf),
    /// Bytes handed over by the caller.
    Bytes(String),
}

impl PluginSource {
    /// How errors name the plugin before its metadata is known.
    pub fn label(&self) -> String {
        match self {
            PluginSource::Builtin(n) => format!("builtin:{n}"),
            PluginSource::File(p) => p.display().to_string(),
            PluginSource::Bytes(n) => n.clone(),
        }
    }
}

/// A config key as the plugin describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigDef {
    /// Key.
    pub name: String,
    /// Type name (`string`, `int`, ...).
    pub ty: &'static str,
    /// Default, if any.
    pub default: Option<String>,
    /// Whether it must be set.
    pub required: bool,
    /// Documentation.
    pub doc: String,
}

/// A plugin's self-description (its `describe` export).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Metadata {
    /// Registry name.
    pub name: String,
    /// Version.
    pub version: String,
    /// Kind the plugin claims.
    pub kind: PluginKind,
    /// One line.
    pub description: String,
    /// Config keys.
    pub config: Vec<ConfigDef>,
}

/// Per-kind pre-instantiated components: imports resolved once, so instantiation is cheap.
#[derive(Clone)]
enum Pre {
    Partitioner(bindings::partitioner::PartitionerPre<HostState>),
    Serializer(bindings::serializer::SerializerPre<HostState>),
    Interceptor(bindings::interceptor::InterceptorPre<HostState>),
    Transform(bindings::transform::TransformPre<HostState>),
    Source(bindings::source::SourceConnectorPre<HostState>),
    Sink(bindings::sink::SinkConnectorPre<HostState>),
}

impl Pre {
    fn new(kind: PluginKind, pre: InstancePre<HostState>) -> wasmtime::Result<Self> {
        Ok(match kind {
            PluginKind::Partitioner => {
                Pre::Partitioner(bindings::partitioner::PartitionerPre::new(pre)?)
            }
            PluginKind::Serializer => {
                Pre::Serializer(bindings::serializer::SerializerPre::new(pre)?)
            }
            PluginKind::Interceptor => {
                Pre::Interceptor(bindings::interceptor::InterceptorPre::new(pre)?)
            }
            PluginKind::Transform => Pre::Transform(bindings::transform::TransformPre::new(pre)?),
            PluginKind::SourceConnector => {
                Pre::Source(bindings::source::SourceConnectorPre::new(pre)?)
            }
            PluginKind::SinkConnector => Pre::Sink(bindings::sink::SinkConnectorPre::new(pre)?),
        })
    }

    fn instantiate(&self, store: &mut Store<HostState>) -> wasmtime::Result<World> {
        Ok(match self {
            Pre::Partitioner(p) => World::Partitioner(p.instantiate(store)?),
            Pre::Serializer(p) => World::Serializer(p.instantiate(store)?),
            Pre::Interceptor(p) => World::Interceptor(p.instantiate(store)?),
            Pre::Transform(p) => World::Transform(p.instantiate(store)?),
            Pre::Source(p) => World::Source(p.instantiate(store)?),
            Pre::Sink(p) => World::Sink(p.instantiate(store)?),
        })
    }
}

/// A live instance's typed exports.
enum World {
    Partitioner(bindings::partitioner::Partitioner),
    Serializer(bindings::serializer::Serializer),
    Interceptor(bindings::interceptor::Interceptor),
    Transform(bindings::transform::Transform),
    Source(bindings::source::SourceConnector),
    Sink(bindings::sink::SinkConnector),
}

/// Calls a function of the `plugin` interface, which every world exports under its own type.
macro_rules! plugin_iface {
    ($world:expr, $store:expr, |$p:ident| $call:expr) => {
        match $world {
            World::Partitioner(w) => {
                let $p = w.weft_plugin_plugin();
                $call
            }
            World::Serializer(w) => {
                let $p = w.weft_plugin_plugin();
                $call
            }
            World::Interceptor(w) => {
                let $p = w.weft_plugin_plugin();
                $call
            }
            World::Transform(w) => {
                let $p = w.weft_plugin_plugin();
                $call
            }
            World::Source(w) => {
                let $p = w.weft_plugin_plugin();
                $call
            }
            World::Sink(w) => {
                let $p = w.weft_plugin_plugin();
                $call
            }
        }
    };
}

/// A compiled plugin, ready to instantiate many times.
pub struct LoadedPlugin {
    runtime: Runtime,
    component: Component,
    /// `None` when the plugin imports capabilities (resolved per instance, after the grant check).
    pre: Option<Pre>,
    hash: [u8; 32],
    source: PluginSource,
    kind: PluginKind,
    metadata: Metadata,
    imports: Vec<String>,
    exports: Vec<String>,
}

/// Capability interfaces: import-name prefix and the config key that grants it.
const CAPABILITIES: [(&str, &str); 2] = [
    ("weft:plugin/mqtt@", KEY_MQTT),
    ("weft:plugin/remote-cluster@", KEY_REMOTE),
];

impl LoadedPlugin {
    pub(crate) fn new(
        runtime: Runtime,
        component: Component,
        hash: [u8; 32],
        source: PluginSource,
    ) -> Result<Self> {
        let label = source.label();
        let engine = runtime.engine().clone();
        let ty = component.component_type();
        let imports: Vec<String> = ty.imports(&engine).map(|(n, _)| n.to_string()).collect();
        let exports: Vec<String> = ty.exports(&engine).map(|(n, _)| n.to_string()).collect();
        if !exports.iter().any(|e| e.starts_with("weft:plugin/plugin@")) {
            return Err(RuntimeError::NotAPlugin {
                plugin: label,
                reason: "it does not export `weft:plugin/plugin` (build it with weft-plugin-sdk)"
                    .into(),
            });
        }
        let kinds: Vec<PluginKind> = ALL_KINDS
            .iter()
            .copied()
            .filter(|k| exports.iter().any(|e| e.starts_with(k.export_interface())))
            .collect();
        let kind = match kinds.as_slice() {
            [k] => *k,
            [] => {
                return Err(RuntimeError::NotAPlugin {
                    plugin: label,
                    reason: "it exports none of the plugin-kind interfaces".into(),
                })
            }
            _ => {
                return Err(RuntimeError::NotAPlugin {
                    plugin: label,
                    reason: "it exports more than one plugin-kind interface".into(),
                })
            }
        };
        let uses_capabilities = imports
            .iter()
            .any(|i| CAPABILITIES.iter().any(|(p, _)| i.starts_with(p)));
        let pre = if uses_capabilities {
            None
        } else {
            let p = runtime
                .inner
                .linker
                .instantiate_pre(&component)
                .and_then(|p| Pre::new(kind, p));
            match p {
                Ok(p) => Some(p),
                Err(e) => {
                    // Name the first import the host does not provide, if that is the cause.
                    if let Some(unknown) = imports.iter().find(|i| !is_known_import(i)) {
                        return Err(RuntimeError::UnknownImport {
                            plugin: label,
                            interface: unknown.clone(),
                        });
                    }
                    return Err(RuntimeError::Instantiate {
                        plugin: label,
                        message: format!("{e:#}"),
                    });
                }
            }
        };
        let metadata = describe(&runtime, &component, kind, &label)?;
        if metadata.kind != kind {
            return Err(RuntimeError::NotAPlugin {
                plugin: label,
                reason: format!(
                    "it exports the {} world but describes itself as a {}",
                    kind.as_str(),
                    metadata.kind.as_str()
                ),
            });
        }
        Ok(LoadedPlugin {
            runtime,
            component,
            pre,
            hash,
            source,
            kind,
            metadata,
            imports,
            exports,
        })
    }

    /// The compiled component.
    pub fn component(&self) -> &Component {
        &self.component
    }

    /// The plugin's kind.
    pub fn kind(&self) -> PluginKind {
        self.kind
    }

    /// The plugin's self-description.
    pub fn metadata(&self) -> &Metadata {
        &self.metadata
    }

    /// `name@version`, the registry key.
    pub fn id(&self) -> String {
        format!("{}@{}", self.metadata.name, self.metadata.version)
    }

    /// SHA-256 of the component bytes, hex.
    pub fn hash_hex(&self) -> String {
        self.hash.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// Where it was loaded from.
    pub fn source(&self) -> &PluginSource {
        &self.source
    }

    /// Interfaces the component imports.
    pub fn imports(&self) -> &[String] {
        &self.imports
    }

    /// Interfaces the component exports.
    pub fn exports(&self) -> &[String] {
        &self.exports
    }

    /// Capability interfaces imported, with the config key granting each.
    pub fn capabilities(&self) -> Vec<(String, &'static str)> {
        self.imports
            .iter()
            .filter_map(|i| {
                CAPABILITIES
                    .iter()
                    .find(|(p, _)| i.starts_with(p))
                    .map(|(_, k)| (i.clone(), *k))
            })
            .collect()
    }

    /// Fails unless the plugin is of `kind`.
    pub fn expect_kind(&self, kind: PluginKind) -> Result<()> {
        if self.kind == kind {
            Ok(())
        } else {
            Err(RuntimeError::WrongKind {
                plugin: self.id(),
                expected: kind.as_str(),
                actual: self.kind.as_str(),
            })
        }
    }

    /// Checks the grants and creates a configured instance.
    pub fn instantiate(self: &Arc<Self>, config: &PluginConfig) -> Result<Instance> {
        let sandbox = config.sandbox()?;
        let grants = config.grants()?;
        self.check_grants(&grants)?;
        let mut inst = Instance {
            plugin: self.clone(),
            id: Arc::from(self.id()),
            entries: config.plugin_entries(),
            sandbox,
            grants,
            metrics: Metrics::default(),
            live: None,
            restarts: 0,
        };
        inst.ensure_live()?;
        Ok(inst)
    }

    fn check_grants(&self, grants: &Grants) -> Result<()> {
        for import in &self.imports {
            let Some((_, key)) = CAPABILITIES.iter().find(|(p, _)| import.starts_with(p)) else {
                continue;
            };
            let granted = match *key {
                KEY_MQTT => !grants.mqtt_urls.is_empty(),
                _ => grants.remote_cluster.is_some(),
            };
            if !granted {
                return Err(RuntimeError::CapabilityNotGranted {
                    plugin: self.id(),
                    interface: import.clone(),
                    config_key: key,
                });
            }
            // The MQTT and remote-cluster host implementations arrive with the connector and
            // mirror work; until then a granted capability still cannot be linked.
            return Err(RuntimeError::CapabilityUnavailable {
                plugin: self.id(),
                interface: import.clone(),
            });
        }
        Ok(())
    }
}

fn is_known_import(name: &str) -> bool {
    name.starts_with("wasi:")
        || name.starts_with("weft:plugin/host@")
        || name.starts_with("weft:plugin/types@")
}

fn new_store(
    runtime: &Runtime,
    plugin: &str,
    grants: &Grants,
    sandbox: &Sandbox,
    metrics: Metrics,
) -> Result<Store<HostState>> {
    let state = HostState::new(
        Arc::from(plugin),
        grants,
        sandbox.memory_bytes,
        runtime.inner.log.clone(),
        metrics,
    )
    .map_err(|message| RuntimeError::Instantiate {
        plugin: plugin.to_string(),
        message,
    })?;
    let mut store = Store::new(runtime.engine(), state);
    store.limiter(|s| &mut s.limiter);
    store.epoch_deadline_trap();
    arm(&mut store, runtime, sandbox);
    Ok(store)
}

/// Sets the deadline (and fuel) for the next call.
fn arm(store: &mut Store<HostState>, runtime: &Runtime, sandbox: &Sandbox) {
    let tick = runtime.inner.tick.as_nanos().max(1);
    // +1: the current epoch may be about to end, so a deadline of n ticks can fire early by
    // up to one tick; rounding up keeps the promise "at least the configured timeout".
    let ticks = sandbox.call_timeout.as_nanos().div_ceil(tick) as u64 + 1;
    store.set_epoch_deadline(ticks);
    if runtime.inner.fuel {
        // Ignoring the error is right: it only fails when fuel is disabled, checked above.
        let _ = store.set_fuel(sandbox.fuel.unwrap_or(u64::MAX));
    }
    store.data_mut().last_error = None;
}

/// Turns a failed call into the typed error for this plugin.
fn classify(
    plugin: &str,
    sandbox: &Sandbox,
    state: &HostState,
    e: wasmtime::Error,
) -> RuntimeError {
    if state.limiter.hit {
        return RuntimeError::MemoryLimit {
            plugin: plugin.to_string(),
            limit: state.limiter.cap,
        };
    }
    match e.downcast_ref::<wasmtime::Trap>() {
        Some(wasmtime::Trap::Interrupt) => RuntimeError::DeadlineExceeded {
            plugin: plugin.to_string(),
            limit: sandbox.call_timeout,
        },
        Some(wasmtime::Trap::OutOfFuel) => RuntimeError::FuelExhausted {
            plugin: plugin.to_string(),
        },
        _ => {
            let mut message = format!("{e:#}");
            if let Some(logged) = &state.last_error {
                message.push_str(&format!(" (last error logged: {logged})"));
            }
            RuntimeError::Trap {
                plugin: plugin.to_string(),
                message,
            }
        }
    }
}

fn describe(
    runtime: &Runtime,
    component: &Component,
    kind: PluginKind,
    label: &str,
) -> Result<Metadata> {
    // Inspection must work even for plugins whose capabilities are not granted here, so
    // capability imports are linked as functions that trap if called.
    let mut linker = runtime.inner.linker.clone();
    linker
        .define_unknown_imports_as_traps(component)
        .map_err(|e| RuntimeError::Instantiate {
            plugin: label.to_string(),
            message: format!("{e:#}"),
        })?;
    let sandbox = Sandbox::default();
    let mut store = new_store(
        runtime,
        label,
        &Grants::default(),
        &sandbox,
        Metrics::default(),
    )?;
    let fail = |store: &Store<HostState>, e| classify(label, &sandbox, store.data(), e);
    let pre = linker
        .instantiate_pre(component)
        .and_then(|p| Pre::new(kind, p))
        .map_err(|e| RuntimeError::Instantiate {
            plugin: label.to_string(),
            message: format!("{e:#}"),
        })?;
    let world = match pre.instantiate(&mut store) {
        Ok(w) => w,
        Err(e) => return Err(fail(&store, e)),
    };
    let m = match plugin_iface!(&world, store, |p| p.call_describe(&mut store)) {
        Ok(m) => m,
        Err(e) => return Err(fail(&store, e)),
    };
    Ok(metadata_from_wit(m))
}

fn metadata_from_wit(m: types::Metadata) -> Metadata {
    Metadata {
        name: m.name,
        version: m.version,
        kind: match m.kind {
            types::PluginKind::Partitioner => PluginKind::Partitioner,
            types::PluginKind::Serializer => PluginKind::Serializer,
            types::PluginKind::Interceptor => PluginKind::Interceptor,
            types::PluginKind::Transform => PluginKind::Transform,
            types::PluginKind::SourceConnector => PluginKind::SourceConnector,
            types::PluginKind::SinkConnector => PluginKind::SinkConnector,
        },
        description: m.description,
        config: m
            .config
            .into_iter()
            .map(|d| ConfigDef {
                name: d.name,
                ty: match d.type_ {
                    types::ConfigType::Boolean => "boolean",
                    types::ConfigType::Int => "int",
                    types::ConfigType::Long => "long",
                    types::ConfigType::Double => "double",
                    types::ConfigType::String => "string",
                    types::ConfigType::List => "list",
                    types::ConfigType::Password => "password",
                },
                default: d.default_value,
                required: d.required,
                doc: d.documentation,
            })
            .collect(),
    }
}

struct Live {
    store: Store<HostState>,
    world: World,
}

/// A source position: (source partition, position in it), both opaque to the host.
pub type SourcePosition = (String, String);

/// A problem with a config key found by the plugin's `validate`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigIssue {
    /// The key.
    pub key: String,
    /// What is wrong.
    pub message: String,
}

/// One sandboxed instance of a plugin with its config applied.
///
/// A trap, deadline overrun or memory-cap hit fails only the call in progress: the store is
/// dropped and the next call instantiates and configures a fresh one.
pub struct Instance {
    plugin: Arc<LoadedPlugin>,
    /// `name@version`, computed once: errors name the plugin without formatting per call.
    id: Arc<str>,
    entries: Vec<(String, String)>,
    sandbox: Sandbox,
    grants: Grants,
    metrics: Metrics,
    live: Option<Live>,
    restarts: u64,
}

impl std::fmt::Debug for LoadedPlugin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoadedPlugin")
            .field("id", &self.id())
            .field("kind", &self.kind)
            .field("source", &self.source)
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for Instance {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Instance")
            .field("plugin", &self.id)
            .field("live", &self.live.is_some())
            .field("restarts", &self.restarts)
            .finish_non_exhaustive()
    }
}

fn wit_entries(entries: &[(String, String)]) -> Vec<types::ConfigEntry> {
    entries
        .iter()
        .map(|(k, v)| types::ConfigEntry {
            key: k.clone(),
            value: v.clone(),
        })
        .collect()
}

impl Instance {
    /// The plugin this is an instance of.
    pub fn plugin(&self) -> &Arc<LoadedPlugin> {
        &self.plugin
    }

    /// Metrics the plugin reported (kept across restarts).
    pub fn metrics(&self) -> Metrics {
        self.metrics.clone()
    }

    /// How many times the instance was dropped after a failure.
    pub fn restarts(&self) -> u64 {
        self.restarts
    }

    /// Bytes of linear memory the live instance uses (0 if none is live).
    pub fn memory_bytes(&self) -> usize {
        self.live
            .as_ref()
            .map_or(0, |l| l.store.data().limiter.peak)
    }

    fn ensure_live(&mut self) -> Result<&mut Live> {
        if self.live.is_none() {
            let id = self.plugin.id();
            let pre = self
                .plugin
                .pre
                .as_ref()
                .ok_or_else(|| RuntimeError::Instantiate {
                    plugin: id.clone(),
                    message: "capability imports cannot be linked".into(),
                })?;
            let mut store = new_store(
                &self.plugin.runtime,
                &id,
                &self.grants,
                &self.sandbox,
                self.metrics.clone(),
            )?;
            let world = match pre.instantiate(&mut store) {
                Ok(w) => w,
                Err(e) => return Err(classify(&id, &self.sandbox, store.data(), e)),
            };
            let mut live = Live { store, world };
            // Connectors get their config through `open`; the other kinds through `configure`.
            if !matches!(
                self.plugin.kind,
                PluginKind::SourceConnector | PluginKind::SinkConnector
            ) {
                let entries = wit_entries(&self.entries);
                let r = plugin_iface!(&live.world, live.store, |p| p
                    .call_configure(&mut live.store, &entries));
                match r {
                    Ok(Ok(())) => {}
                    Ok(Err(e)) => return Err(plugin_error(&id, e)),
                    Err(e) => return Err(classify(&id, &self.sandbox, live.store.data(), e)),
                }
            }
            self.live = Some(live);
        }
        match self.live.as_mut() {
            Some(l) => Ok(l),
            None => Err(RuntimeError::Instantiate {
                plugin: self.plugin.id(),
                message: "instance vanished".into(),
            }),
        }
    }

    /// Runs one export call under the deadline; any failure drops the instance.
    fn call<R>(
        &mut self,
        f: impl FnOnce(&mut Store<HostState>, &World) -> wasmtime::Result<R>,
    ) -> Result<R> {
        let runtime = self.plugin.runtime.clone();
        let sandbox = self.sandbox.clone();
        let id = self.id.clone();
        let live = self.ensure_live()?;
        arm(&mut live.store, &runtime, &sandbox);
        match f(&mut live.store, &live.world) {
            Ok(r) => Ok(r),
            Err(e) => {
                let err = classify(&id, &sandbox, live.store.data(), e);
                self.live = None;
                self.restarts += 1;
                Err(err)
            }
        }
    }

    fn wrong_kind(&self, expected: PluginKind) -> RuntimeError {
        RuntimeError::WrongKind {
            plugin: self.plugin.id(),
            expected: expected.as_str(),
            actual: self.plugin.kind.as_str(),
        }
    }

    /// Asks the plugin to check a config.
    pub fn validate(&mut self, config: &PluginConfig) -> Result<Vec<ConfigIssue>> {
        let entries = wit_entries(&config.plugin_entries());
        let issues = self
            .call(|store, w| plugin_iface!(w, store, |p| p.call_validate(&mut *store, &entries)))?;
        Ok(issues
            .into_iter()
            .map(|i| ConfigIssue {
                key: i.key,
                message: i.message,
            })
            .collect())
    }

    /// Calls `close` and drops the instance.
    pub fn close(&mut self) -> Result<()> {
        if self.live.is_some() {
            self.call(|store, w| plugin_iface!(w, store, |p| p.call_close(&mut *store)))?;
        }
        self.live = None;
        Ok(())
    }

    /// Chooses a partition for every record of `batch` (a packed batch of `count` records).
    #[allow(clippy::ptr_arg)] // the generated binding takes &Vec<u8>; a slice would force a copy
    pub fn partition_batch(
        &mut self,
        partitions: u32,
        batch: &Vec<u8>,
        count: usize,
    ) -> Result<Vec<u32>> {
        let id = self.id.clone();
        let r = self.call(|store, w| match w {
            World::Partitioner(p) => p
                .weft_plugin_partition()
                .call_partition(store, partitions, batch)
                .map(Some),
            _ => Ok(None),
        })?;
        let out = r
            .ok_or_else(|| self.wrong_kind(PluginKind::Partitioner))?
            .map_err(|e| plugin_error(&id, e))?;
        if out.len() != count || out.iter().any(|p| *p >= partitions) {
            return Err(RuntimeError::BadOutput {
                plugin: id.to_string(),
                message: format!(
                    "expected {count} partitions below {partitions}, got {} values",
                    out.len()
                ),
            });
        }
        Ok(out)
    }

    /// Transforms a packed batch.
    #[allow(clippy::ptr_arg)] // the generated binding takes &Vec<u8>; a slice would force a copy
    pub fn transform_batch(&mut self, batch: &Vec<u8>) -> Result<Vec<u8>> {
        self.batch_call(PluginKind::Transform, batch, |store, w, b| match w {
            World::Transform(t) => t
                .weft_plugin_record_transform()
                .call_transform(store, b)
                .map(Some),
            _ => Ok(None),
        })
    }

    /// Serializes a packed batch.
    #[allow(clippy::ptr_arg)] // the generated binding takes &Vec<u8>; a slice would force a copy
    pub fn serialize_batch(&mut self, batch: &Vec<u8>) -> Result<Vec<u8>> {
        self.batch_call(PluginKind::Serializer, batch, |store, w, b| match w {
            World::Serializer(s) => s.weft_plugin_serde().call_serialize(store, b).map(Some),
            _ => Ok(None),
        })
    }

    /// Deserializes a packed batch.
    #[allow(clippy::ptr_arg)] // the generated binding takes &Vec<u8>; a slice would force a copy
    pub fn deserialize_batch(&mut self, batch: &Vec<u8>) -> Result<Vec<u8>> {
        self.batch_call(PluginKind::Serializer, batch, |store, w, b| match w {
            World::Serializer(s) => s.weft_plugin_serde().call_deserialize(store, b).map(Some),
            _ => Ok(None),
        })
    }

    /// Runs the interceptor's `on-send` over a packed batch.
    #[allow(clippy::ptr_arg)] // the generated binding takes &Vec<u8>; a slice would force a copy
    pub fn on_send_batch(&mut self, batch: &Vec<u8>) -> Result<Vec<u8>> {
        self.batch_call(PluginKind::Interceptor, batch, |store, w, b| match w {
            World::Interceptor(i) => i.weft_plugin_intercept().call_on_send(store, b).map(Some),
            _ => Ok(None),
        })
    }

    /// Runs the interceptor's `on-consume` over a packed batch.
    #[allow(clippy::ptr_arg)] // the generated binding takes &Vec<u8>; a slice would force a copy
    pub fn on_consume_batch(&mut self, batch: &Vec<u8>) -> Result<Vec<u8>> {
        self.batch_call(PluginKind::Interceptor, batch, |store, w, b| match w {
            World::Interceptor(i) => i
                .weft_plugin_intercept()
                .call_on_consume(store, b)
                .map(Some),
            _ => Ok(None),
        })
    }

    /// Tells the interceptor which records were acknowledged; `failures` are (index, error).
    pub fn on_acknowledgement(
        &mut self,
        records: &[Record],
        failures: &[(u32, String)],
    ) -> Result<()> {
        let batch = weft_batch::encode(records)?;
        let r = self.call(|store, w| match w {
            World::Interceptor(i) => i
                .weft_plugin_intercept()
                .call_on_acknowledgement(store, &batch, failures)
                .map(Some),
            _ => Ok(None),
        })?;
        r.ok_or_else(|| self.wrong_kind(PluginKind::Interceptor))
    }

    /// Tells the interceptor that these offsets were committed.
    pub fn on_commit(&mut self, offsets: &[(String, i32, i64)]) -> Result<()> {
        let offsets = wit_offsets(offsets);
        let r = self.call(|store, w| match w {
            World::Interceptor(i) => i
                .weft_plugin_intercept()
                .call_on_commit(store, &offsets)
                .map(Some),
            _ => Ok(None),
        })?;
        r.ok_or_else(|| self.wrong_kind(PluginKind::Interceptor))
    }

    #[allow(clippy::ptr_arg)]
    fn batch_call(
        &mut self,
        kind: PluginKind,
        batch: &Vec<u8>,
        f: impl FnOnce(
            &mut Store<HostState>,
            &World,
            &Vec<u8>,
        )
            -> wasmtime::Result<Option<std::result::Result<Vec<u8>, types::PluginError>>>,
    ) -> Result<Vec<u8>> {
        let id = self.id.clone();
        let r = self.call(|store, w| f(store, w, batch))?;
        r.ok_or_else(|| self.wrong_kind(kind))?
            .map_err(|e| plugin_error(&id, e))
    }

    /// Source connector: splits `config` into at most `max_tasks` task configs.
    pub fn source_task_configs(
        &mut self,
        config: &PluginConfig,
        max_tasks: u32,
    ) -> Result<Vec<Vec<(String, String)>>> {
        let id = self.id.clone();
        let entries = wit_entries(&config.plugin_entries());
        let r = self.call(|store, w| match w {
            World::Source(s) => s
                .weft_plugin_source()
                .call_task_configs(store, &entries, max_tasks)
                .map(Some),
            _ => Ok(None),
        })?;
        let r = r.ok_or_else(|| self.wrong_kind(PluginKind::SourceConnector))?;
        r.map(unwit_configs).map_err(|e| plugin_error(&id, e))
    }

    /// Source connector: starts the task at the committed positions `(partition, position)`.
    pub fn source_open(&mut self, committed: &[(String, String)]) -> Result<()> {
        let id = self.id.clone();
        let entries = wit_entries(&self.entries);
        let committed = wit_positions(committed);
        let r = self.call(|store, w| match w {
            World::Source(s) => s
                .weft_plugin_source()
                .call_open(store, &entries, &committed)
                .map(Some),
            _ => Ok(None),
        })?;
        r.ok_or_else(|| self.wrong_kind(PluginKind::SourceConnector))?
            .map_err(|e| plugin_error(&id, e))
    }

    /// Source connector: new records and the positions they reach.
    pub fn source_poll(&mut self) -> Result<(Vec<Record>, Vec<SourcePosition>)> {
        let id = self.id.clone();
        let r = self.call(|store, w| match w {
            World::Source(s) => s.weft_plugin_source().call_poll(store).map(Some),
            _ => Ok(None),
        })?;
        let (batch, positions) = r
            .ok_or_else(|| self.wrong_kind(PluginKind::SourceConnector))?
            .map_err(|e| plugin_error(&id, e))?;
        let records = self.decode_output(&batch)?;
        Ok((
            records,
            positions
                .into_iter()
                .map(|p| (p.partition, p.position))
                .collect(),
        ))
    }

    /// Source connector: these positions are stored.
    pub fn source_commit(&mut self, positions: &[(String, String)]) -> Result<()> {
        let id = self.id.clone();
        let positions = wit_positions(positions);
        let r = self.call(|store, w| match w {
            World::Source(s) => s
                .weft_plugin_source()
                .call_commit(store, &positions)
                .map(Some),
            _ => Ok(None),
        })?;
        r.ok_or_else(|| self.wrong_kind(PluginKind::SourceConnector))?
            .map_err(|e| plugin_error(&id, e))
    }

    /// Sink connector: splits `config` into at most `max_tasks` task configs.
    pub fn sink_task_configs(
        &mut self,
        config: &PluginConfig,
        max_tasks: u32,
    ) -> Result<Vec<Vec<(String, String)>>> {
        let id = self.id.clone();
        let entries = wit_entries(&config.plugin_entries());
        let r = self.call(|store, w| match w {
            World::Sink(s) => s
                .weft_plugin_sink()
                .call_task_configs(store, &entries, max_tasks)
                .map(Some),
            _ => Ok(None),
        })?;
        let r = r.ok_or_else(|| self.wrong_kind(PluginKind::SinkConnector))?;
        r.map(unwit_configs).map_err(|e| plugin_error(&id, e))
    }

    /// Sink connector: starts the task for `(topic, partition, offset)` assignments.
    pub fn sink_open(&mut self, assigned: &[(String, i32, i64)]) -> Result<()> {
        let id = self.id.clone();
        let entries = wit_entries(&self.entries);
        let assigned = wit_offsets(assigned);
        let r = self.call(|store, w| match w {
            World::Sink(s) => s
                .weft_plugin_sink()
                .call_open(store, &entries, &assigned)
                .map(Some),
            _ => Ok(None),
        })?;
        r.ok_or_else(|| self.wrong_kind(PluginKind::SinkConnector))?
            .map_err(|e| plugin_error(&id, e))
    }

    /// Sink connector: delivers records.
    pub fn sink_put(&mut self, records: &[Record]) -> Result<()> {
        let id = self.id.clone();
        let batch = weft_batch::encode(records)?;
        let r = self.call(|store, w| match w {
            World::Sink(s) => s.weft_plugin_sink().call_put(store, &batch).map(Some),
            _ => Ok(None),
        })?;
        r.ok_or_else(|| self.wrong_kind(PluginKind::SinkConnector))?
            .map_err(|e| plugin_error(&id, e))
    }

    /// Sink connector: makes everything put durable before `offsets` are committed.
    pub fn sink_flush(&mut self, offsets: &[(String, i32, i64)]) -> Result<()> {
        let id = self.id.clone();
        let offsets = wit_offsets(offsets);
        let r = self.call(|store, w| match w {
            World::Sink(s) => s.weft_plugin_sink().call_flush(store, &offsets).map(Some),
            _ => Ok(None),
        })?;
        r.ok_or_else(|| self.wrong_kind(PluginKind::SinkConnector))?
            .map_err(|e| plugin_error(&id, e))
    }

    /// Transforms owned records (encodes, calls, validates and decodes the output).
    pub fn transform(&mut self, records: &[Record]) -> Result<Vec<Record>> {
        let out = self.transform_batch(&weft_batch::encode(records)?)?;
        self.decode_output(&out)
    }

    /// Serializes owned records.
    pub fn serialize(&mut self, records: &[Record]) -> Result<Vec<Record>> {
        let out = self.serialize_batch(&weft_batch::encode(records)?)?;
        self.decode_output(&out)
    }

    /// Deserializes owned records.
    pub fn deserialize(&mut self, records: &[Record]) -> Result<Vec<Record>> {
        let out = self.deserialize_batch(&weft_batch::encode(records)?)?;
        self.decode_output(&out)
    }

    /// Runs `on-send` over owned records.
    pub fn on_send(&mut self, records: &[Record]) -> Result<Vec<Record>> {
        let out = self.on_send_batch(&weft_batch::encode(records)?)?;
        self.decode_output(&out)
    }

    /// Runs `on-consume` over owned records.
    pub fn on_consume(&mut self, records: &[Record]) -> Result<Vec<Record>> {
        let out = self.on_consume_batch(&weft_batch::encode(records)?)?;
        self.decode_output(&out)
    }

    /// Partitions owned records (all of one topic).
    pub fn partition(&mut self, partitions: u32, records: &[Record]) -> Result<Vec<u32>> {
        let batch = weft_batch::encode(records)?;
        self.partition_batch(partitions, &batch, records.len())
    }

    /// Decodes a batch a plugin returned; malformed bytes are the plugin's fault, not a trap.
    pub fn decode_output(&self, bytes: &[u8]) -> Result<Vec<Record>> {
        weft_batch::decode(bytes).map_err(|e| RuntimeError::BadOutput {
            plugin: self.plugin.id(),
            message: e.to_string(),
        })
    }
}

fn wit_offsets(offsets: &[(String, i32, i64)]) -> Vec<types::TopicPartitionOffset> {
    offsets
        .iter()
        .map(|(t, p, o)| types::TopicPartitionOffset {
            topic: t.clone(),
            partition: *p,
            offset: *o,
        })
        .collect()
}

fn wit_positions(positions: &[(String, String)]) -> Vec<types::SourcePosition> {
    positions
        .iter()
        .map(|(p, pos)| types::SourcePosition {
            partition: p.clone(),
            position: pos.clone(),
        })
        .collect()
}

fn unwit_configs(configs: Vec<Vec<types::ConfigEntry>>) -> Vec<Vec<(String, String)>> {
    configs
        .into_iter()
        .map(|c| c.into_iter().map(|e| (e.key, e.value)).collect())
        .collect()
}

fn plugin_error(plugin: &str, e: types::PluginError) -> RuntimeError {
    RuntimeError::Plugin {
        plugin: plugin.to_string(),
        retriable: matches!(e.kind, types::ErrorKind::Retriable),
        message: e.message,
    }
}
