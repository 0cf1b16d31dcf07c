//! The process-wide wasmtime engine: configuration, the epoch ticker that enforces call
//! deadlines, the linker, and the compiled-component caches (memory and disk).

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sha2::{Digest, Sha256};
use wasmtime::component::{Component, Linker};
use wasmtime::{Engine, OptLevel};

use crate::bindings::base::weft::plugin::{host, task_context};
use crate::epoch::Ticker;
use crate::error::{Result, RuntimeError};
use crate::host::{tracing_sink, HostState, LogSink};
use crate::plugin::{LoadedPlugin, PluginSource};

/// How to build a [`Runtime`].
#[derive(Clone)]
pub struct RuntimeOptions {
    /// Directory for compiled components; `None` disables the disk cache.
    pub cache_dir: Option<PathBuf>,
    /// Enables fuel metering (costs time on every call; off by default).
    pub fuel: bool,
    /// Epoch period: the granularity of call deadlines.
    pub epoch_tick: Duration,
    /// Where plugin log lines go.
    pub log: LogSink,
    /// Writes `/tmp/perf-<pid>.map` so `perf report` names the guest functions it samples
    /// (`WEFT_WASM_PERFMAP=1`; off by default, as every compiled function is written there).
    pub perf_map: bool,
}

impl Default for RuntimeOptions {
    fn default() -> Self {
        RuntimeOptions {
            cache_dir: default_cache_dir(),
            fuel: false,
            epoch_tick: Duration::from_millis(5),
            log: tracing_sink(),
            perf_map: std::env::var_os("WEFT_WASM_PERFMAP").is_some_and(|v| v == "1"),
        }
    }
}

/// `$WEFT_CACHE_DIR`, else `$XDG_CACHE_HOME/weft/components`, else `~/.cache/weft/components`.
pub fn default_cache_dir() -> Option<PathBuf> {
    if let Some(d) = std::env::var_os("WEFT_CACHE_DIR") {
        return Some(PathBuf::from(d));
    }
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))?;
    Some(base.join("weft").join("components"))
}

pub(crate) struct Inner {
    pub(crate) engine: Engine,
    pub(crate) linker: Linker<HostState>,
    compiled: Mutex<HashMap<[u8; 32], Component>>,
    cache_dir: Option<PathBuf>,
    pub(crate) fuel: bool,
    pub(crate) tick: Duration,
    pub(crate) log: LogSink,
    pub(crate) ticker: Arc<Ticker>,
    stats: Mutex<CacheStats>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.ticker.stop();
    }
}

/// Where each component came from, for tests and `weft plugin inspect`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CacheStats {
    /// Compiled with Cranelift.
    pub compiled: u64,
    /// Loaded from the on-disk cache.
    pub disk_hits: u64,
    /// Found already compiled in this process.
    pub memory_hits: u64,
}

/// A handle to the plugin runtime; cheap to clone, shared by every plugin it loads.
#[derive(Clone)]
pub struct Runtime {
    pub(crate) inner: Arc<Inner>,
}

impl Runtime {
    /// A runtime with default options.
    pub fn new() -> Result<Self> {
        Self::with_options(RuntimeOptions::default())
    }

    /// A runtime with the given options.
    pub fn with_options(opts: RuntimeOptions) -> Result<Self> {
        let mut config = wasmtime::Config::new();
        config.wasm_component_model(true);
        // Measured: the concurrency machinery adds ~250 ns to every call; plugins are synchronous.
        config.concurrency_support(false);
        config.epoch_interruption(true);
        config.consume_fuel(opts.fuel);
        config.cranelift_opt_level(OptLevel::Speed);
        if opts.perf_map {
            config.profiler(wasmtime::ProfilingStrategy::PerfMap);
        }
        let engine = Engine::new(&config).map_err(|e| engine_err("engine", e))?;

        let mut linker: Linker<HostState> = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_sync(&mut linker).map_err(|e| engine_err("wasi", e))?;
        host::add_to_linker::<HostState, wasmtime::component::HasSelf<HostState>>(
            &mut linker,
            |s| s,
        )
        .map_err(|e| engine_err("host", e))?;
        task_context::add_to_linker::<HostState, wasmtime::component::HasSelf<HostState>>(
            &mut linker,
            |s| s,
        )
        .map_err(|e| engine_err("task-context", e))?;
        crate::bindings::http::weft::plugin::http::add_to_linker::<
            HostState,
            wasmtime::component::HasSelf<HostState>,
        >(&mut linker, |s| s)
        .map_err(|e| engine_err("http", e))?;
        crate::bindings::capability_mqtt::weft::plugin::mqtt::add_to_linker::<
            HostState,
            wasmtime::component::HasSelf<HostState>,
        >(&mut linker, |s| s)
        .map_err(|e| engine_err("mqtt", e))?;
        crate::bindings::capability_remote_cluster::weft::plugin::remote_cluster::add_to_linker::<
            HostState,
            wasmtime::component::HasSelf<HostState>,
        >(&mut linker, |s| s)
        .map_err(|e| engine_err("remote-cluster", e))?;
        crate::bindings::capability_local_admin::weft::plugin::local_admin::add_to_linker::<
            HostState,
            wasmtime::component::HasSelf<HostState>,
        >(&mut linker, |s| s)
        .map_err(|e| engine_err("local-admin", e))?;

        // Deadlines are counted in epochs: one thread bumps the epoch every tick while any store
        // exists, and each call sets its store's deadline to timeout/tick epochs ahead.
        let ticker =
            Ticker::start(engine.clone(), opts.epoch_tick).map_err(|e| RuntimeError::Io {
                path: PathBuf::from("<epoch thread>"),
                source: e,
            })?;

        Ok(Runtime {
            inner: Arc::new(Inner {
                engine,
                linker,
                compiled: Mutex::new(HashMap::new()),
                cache_dir: opts.cache_dir,
                fuel: opts.fuel,
                tick: opts.epoch_tick,
                log: opts.log,
                ticker,
                stats: Mutex::new(CacheStats::default()),
            }),
        })
    }

    /// Epochs the ticker has advanced: it ticks only while some plugin instance's store exists.
    pub fn epoch_ticks(&self) -> u64 {
        self.inner.ticker.ticks()
    }

    /// The wasmtime engine.
    pub fn engine(&self) -> &Engine {
        &self.inner.engine
    }

    /// Counts of compilations and cache hits so far.
    pub fn cache_stats(&self) -> CacheStats {
        self.inner.stats.lock().map(|s| *s).unwrap_or_default()
    }

    /// Forgets the components compiled in this process (the disk cache stays), so that the
    /// next load shows the cost of a cold process. For benchmarks and tests.
    pub fn forget_compiled(&self) {
        if let Ok(mut m) = self.inner.compiled.lock() {
            m.clear();
        }
    }

    /// Loads a plugin from a `.wasm` file.
    pub fn load_file(&self, path: &Path) -> Result<Arc<LoadedPlugin>> {
        let bytes = std::fs::read(path).map_err(|source| RuntimeError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        self.load_bytes(&bytes, PluginSource::File(path.to_path_buf()))
    }

    /// Loads a plugin from component bytes.
    pub fn load_bytes(&self, bytes: &[u8], source: PluginSource) -> Result<Arc<LoadedPlugin>> {
        let label = source.label();
        let hash: [u8; 32] = Sha256::digest(bytes).into();
        let component = self.component(&label, &hash, bytes)?;
        LoadedPlugin::new(self.clone(), component, hash, source).map(Arc::new)
    }

    fn component(&self, label: &str, hash: &[u8; 32], bytes: &[u8]) -> Result<Component> {
        if let Some(c) = self
            .inner
            .compiled
            .lock()
            .ok()
            .and_then(|m| m.get(hash).cloned())
        {
            self.bump(|s| s.memory_hits += 1);
            return Ok(c);
        }
        let cache_file = self.cache_file(hash);
        let mut component = None;
        if let Some(path) = cache_file.as_ref() {
            // Read into memory rather than `deserialize_file`'s mmap: a file truncated or
            // rewritten in place under a mapping would crash the process with SIGBUS.
            if let Ok(artifact) = std::fs::read(path) {
                // SAFETY: the file is named after the SHA-256 of the source component and this
                // engine's compatibility hash, and is only written by `store_cached` below via
                // an atomic rename; wasmtime also checks its header and version before use.
                // Anyone who can write this directory can already run code as this user.
                match unsafe { Component::deserialize(&self.inner.engine, &artifact) } {
                    Ok(c) => {
                        self.bump(|s| s.disk_hits += 1);
                        component = Some(c);
                    }
                    Err(e) => tracing::warn!(
                        path = %path.display(),
                        "ignoring unusable cached component: {e}"
                    ),
                }
            }
        }
        let component = match component {
            Some(c) => c,
            None => {
                let c = Component::new(&self.inner.engine, bytes).map_err(|e| {
                    RuntimeError::Compile {
                        plugin: label.to_string(),
                        message: format!("{e:#}"),
                    }
                })?;
                self.bump(|s| s.compiled += 1);
                if let Some(path) = &cache_file {
                    store_cached(path, &c);
                }
                c
            }
        };
        if let Ok(mut m) = self.inner.compiled.lock() {
            m.insert(*hash, component.clone());
        }
        Ok(component)
    }

    fn cache_file(&self, hash: &[u8; 32]) -> Option<PathBuf> {
        let dir = self.inner.cache_dir.as_ref()?;
        let mut h = std::collections::hash_map::DefaultHasher::new();
        self.inner
            .engine
            .precompile_compatibility_hash()
            .hash(&mut h);
        let hex: String = hash.iter().map(|b| format!("{b:02x}")).collect();
        Some(dir.join(format!(
            "{hex}-wasmtime{}-{:016x}.cwasm",
            WASMTIME_MAJOR,
            h.finish()
        )))
    }

    fn bump(&self, f: impl FnOnce(&mut CacheStats)) {
        if let Ok(mut s) = self.inner.stats.lock() {
            f(&mut s);
        }
    }
}

/// The wasmtime major version this crate is built against (pinned in the workspace manifest);
/// part of cache file names so that an upgrade never even tries old artifacts.
const WASMTIME_MAJOR: u32 = 48;

/// Writes a compiled component next to its final name and renames it into place, so that a
/// concurrent reader never sees a partial file. Failures only cost a recompile later.
fn store_cached(path: &Path, c: &Component) {
    let result = (|| -> std::result::Result<(), String> {
        let bytes = c.serialize().map_err(|e| format!("{e:#}"))?;
        let dir = path.parent().ok_or("no parent")?;
        std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
        let tmp = path.with_extension(format!("tmp{}", std::process::id()));
        std::fs::write(&tmp, bytes).map_err(|e| e.to_string())?;
        std::fs::rename(&tmp, path).map_err(|e| e.to_string())
    })();
    if let Err(e) = result {
        tracing::warn!(path = %path.display(), "cannot write component cache: {e}");
    }
}

fn engine_err(what: &str, e: wasmtime::Error) -> RuntimeError {
    RuntimeError::Compile {
        plugin: format!("<{what}>"),
        message: format!("{e:#}"),
    }
}
