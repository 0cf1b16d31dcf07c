//! Standalone mode: `weft connect standalone worker.properties conn.properties ...` (the shape
//! of Kafka's `connect-standalone.sh`), and the worker `weft up` runs beside its broker. Both
//! build the same parts: the worker config, the component registry (built-ins plus
//! `plugin.path`), the herder, the REST API, the connectors given as files.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use weft_runtime::{Registry, Runtime};

use crate::api::Herder;
use crate::config::{self, WorkerConfig};
use crate::herder::{HerderStartError, StandaloneHerder};
use crate::rest::RestServer;

/// Why the worker could not start (or stopped with an error).
#[derive(Debug, thiserror::Error)]
pub enum StandaloneError {
    // Messages are kept as text: the binary prints the error chain, and the config errors
    // already name their file and cause.
    #[error("worker config: {0}")]
    WorkerConfig(String),
    #[error("connector file {path}: {message}")]
    ConnectorFile { path: PathBuf, message: String },
    #[error("cannot start the plugin runtime: {0}")]
    Runtime(String),
    #[error("{0}")]
    Herder(String),
    #[error("REST API: {0}")]
    Rest(String),
    #[error("{0}")]
    Io(String),
}

impl From<config::ConfigFileError> for StandaloneError {
    fn from(e: config::ConfigFileError) -> Self {
        StandaloneError::WorkerConfig(e.to_string())
    }
}

impl From<config::ConfigError> for StandaloneError {
    fn from(e: config::ConfigError) -> Self {
        StandaloneError::WorkerConfig(e.to_string())
    }
}

impl From<weft_runtime::RuntimeError> for StandaloneError {
    fn from(e: weft_runtime::RuntimeError) -> Self {
        StandaloneError::Runtime(e.to_string())
    }
}

impl From<HerderStartError> for StandaloneError {
    fn from(e: HerderStartError) -> Self {
        StandaloneError::Herder(e.to_string())
    }
}

/// The component registry for a worker: the built-ins, then every `plugin.path` directory.
pub fn registry_for(worker: &WorkerConfig) -> Result<Arc<Registry>, StandaloneError> {
    let runtime = Runtime::new()?;
    let mut registry = Registry::new(runtime);
    for dir in &worker.plugin_path {
        registry = registry.with_plugin_dir(dir.clone());
    }
    Ok(Arc::new(registry))
}

/// Logs what the worker config reported: unknown keys and notes.
fn report_config(worker: &WorkerConfig) {
    for k in &worker.unknown_keys {
        tracing::warn!(key = %k, "unknown worker config key ignored");
    }
    for n in &worker.notes {
        tracing::info!("{n}");
    }
}

/// Creates (or replaces) the connector a file describes; returns its name.
pub fn apply_connector_file(
    herder: &StandaloneHerder,
    path: &Path,
) -> Result<String, StandaloneError> {
    let err = |message: String| StandaloneError::ConnectorFile {
        path: path.to_path_buf(),
        message,
    };
    let file = config::read_config_file(path).map_err(|e| err(e.to_string()))?;
    let name = file
        .config
        .get("name")
        .cloned()
        .filter(|n| !n.trim().is_empty())
        .ok_or_else(|| err("the connector has no `name`".into()))?;
    match herder.put_connector_config(&name, file.config, file.initial_state, true) {
        Ok(_) => Ok(name),
        Err(crate::api::HerderError::InvalidConfig(infos)) => Err(err(infos.problems().join("; "))),
        Err(e) => Err(err(e.to_string())),
    }
}

/// Connector files (`.properties`, `.toml`, `.yaml`, `.json`) in a directory, sorted.
pub fn connector_files_in(dir: &Path) -> Result<Vec<PathBuf>, StandaloneError> {
    let rd = std::fs::read_dir(dir)
        .map_err(|e| StandaloneError::Io(format!("{}: {e}", dir.display())))?;
    let mut files: Vec<PathBuf> = rd
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file() && config::Format::from_path(p).is_some())
        .collect();
    files.sort();
    Ok(files)
}

/// Serves the REST API on every listener (`host:port`) on the current tokio runtime.
pub async fn start_rest(
    herder: Arc<StandaloneHerder>,
    listeners: &[String],
) -> Result<RestServer, StandaloneError> {
    crate::metrics::install(herder.clone());
    let server = crate::rest::serve(herder.clone(), listeners)
        .await
        .map_err(|e| StandaloneError::Rest(e.to_string()))?;
    if let Some(a) = server.addresses().first() {
        herder.set_worker_id(a.to_string());
    }
    Ok(server)
}

/// `weft connect standalone`: runs until SIGINT or SIGTERM, then shuts down gracefully.
pub fn run_standalone(
    worker_file: &Path,
    connector_files: &[PathBuf],
) -> Result<(), StandaloneError> {
    let file = config::read_config_file(worker_file)?;
    let worker = WorkerConfig::from_map(&file.config)?;
    report_config(&worker);
    let listeners = worker.rest_listeners.clone();
    let registry = registry_for(&worker)?;
    let herder = StandaloneHerder::new(worker, registry)?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .thread_name("weft-connect-rest")
        .build()
        .map_err(|e| StandaloneError::Io(format!("cannot start the async runtime: {e}")))?;
    let result = rt.block_on(async {
        let rest = start_rest(herder.clone(), &listeners).await?;
        for a in rest.addresses() {
            eprintln!("weft: connect REST listening on http://{a}");
        }
        let h = herder.clone();
        let files = connector_files.to_vec();
        let applied = tokio::task::spawn_blocking(move || -> Result<(), StandaloneError> {
            h.restore();
            for f in &files {
                let name = apply_connector_file(&h, f)?;
                tracing::info!(connector = %name, file = %f.display(), "connector created");
            }
            Ok(())
        })
        .await
        .map_err(|e| StandaloneError::Io(e.to_string()))
        .and_then(|r| r);
        if applied.is_ok() {
            wait_for_signal().await;
            tracing::info!("shutting down");
        }
        rest.shutdown().await;
        applied
    });
    herder.shutdown();
    result
}

/// What `weft up` needs to run the worker beside its broker.
pub struct EmbeddedOptions {
    /// The broker's data directory: the worker keeps its offsets and connectors under it.
    pub data_dir: PathBuf,
    /// The embedded broker's address.
    pub bootstrap: String,
    /// The REST listener (`http://host:port`).
    pub listener: String,
    /// Whether failing to bind the REST listener is an error (an explicit flag) or a warning
    /// (the default port is taken).
    pub listener_required: bool,
    /// Connector files to load.
    pub connectors_dir: Option<PathBuf>,
}

/// The worker running inside `weft up`.
pub struct EmbeddedWorker {
    herder: Arc<StandaloneHerder>,
    rest: Option<RestServer>,
}

impl EmbeddedWorker {
    /// The addresses the REST API (and with it `/metrics` and `/health`) is served on; empty
    /// when its listener could not be bound.
    pub fn rest_addresses(&self) -> Vec<std::net::SocketAddr> {
        self.rest
            .as_ref()
            .map(|r| r.addresses().to_vec())
            .unwrap_or_default()
    }

    /// Starts the worker on the current tokio runtime. Only the REST listener is bound before
    /// this returns; stored connectors and connector files start on a blocking thread, so the
    /// broker's start-up does not wait for components to compile.
    pub async fn start(opts: EmbeddedOptions) -> Result<EmbeddedWorker, StandaloneError> {
        let worker = WorkerConfig::embedded(&opts.data_dir, &opts.bootstrap, &opts.listener)?;
        report_config(&worker);
        let registry = registry_for(&worker)?;
        let herder = StandaloneHerder::new(worker, registry)?;
        let rest = match start_rest(
            herder.clone(),
            &herder.worker_config().rest_listeners.clone(),
        )
        .await
        {
            Ok(r) => {
                for a in r.addresses() {
                    eprintln!("weft: connect REST listening on http://{a}");
                }
                Some(r)
            }
            Err(e) if !opts.listener_required => {
                tracing::warn!(error = %e, "the Connect REST API is not served (pass --connect-listener to choose another address); connectors still run");
                None
            }
            Err(e) => return Err(e),
        };
        let h = herder.clone();
        let dir = opts.connectors_dir.clone();
        tokio::task::spawn_blocking(move || {
            h.restore();
            if let Some(dir) = dir {
                match connector_files_in(&dir) {
                    Ok(files) => {
                        for f in files {
                            match apply_connector_file(&h, &f) {
                                Ok(name) => {
                                    tracing::info!(connector = %name, file = %f.display(), "connector created")
                                }
                                Err(e) => tracing::error!(error = %e, "connector not started"),
                            }
                        }
                    }
                    Err(e) => tracing::error!(error = %e, "cannot read the connectors directory"),
                }
            }
        });
        Ok(EmbeddedWorker { herder, rest })
    }

    /// Stops the REST API and every task (committing what was acknowledged).
    pub async fn shutdown(mut self) {
        if let Some(r) = self.rest.take() {
            r.shutdown().await;
        }
        let h = self.herder.clone();
        let _ = tokio::task::spawn_blocking(move || h.shutdown()).await;
    }
}

/// Waits for SIGINT or SIGTERM.
pub async fn wait_for_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}
