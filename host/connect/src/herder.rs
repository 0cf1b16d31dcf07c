//! The standalone herder: the one place that decides what runs. It keeps every connector's
//! config and target state (persisted under the worker's state dir, so connectors created over
//! REST come back after a restart), computes task configs through the connector's component,
//! starts and stops task threads, and answers the REST API ([`Herder`]). Its supervisor thread
//! restarts a connector's tasks when the connector's `.wasm` was replaced by a loadable new
//! version (hot upgrade) and when a task asked for a reconfiguration that changes its configs,
//! and restarts FAILED connectors and tasks with backoff where the connector opted in
//! (`weft.restart.failed.enabled`).

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, Weak};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use weft_runtime::{PluginKind, PluginSource, Registry};

use crate::api::{Herder, HerderError, HerderResult, RestartOutcome};
use crate::auto_restart::{Backoff, Decision};
use crate::config::{self, ConnectorSpec, WorkerConfig};
use crate::errors::TaskFailure;
use crate::model::{
    ConfigInfo, ConfigInfos, ConfigKeyInfo, ConfigMap, ConfigValueInfo, ConnectorInfo,
    ConnectorOffsets, ConnectorState, ConnectorStatus, ConnectorType, PluginDescription,
    ServerInfo, State, TargetState, TaskId, TaskInfo, TaskStatus,
};
use crate::offsets::{self, FileStore};
use crate::task::clients::{client_config, ClientKind};
use crate::task::component::instantiate;
use crate::task::{Target, TaskControl, TaskEnv};
use crate::upgrade::{Check, FileIdentity, WatchedComponent};
use crate::worker::{self, TaskHandle};

/// Why the herder could not start.
#[derive(Debug, thiserror::Error)]
pub enum HerderStartError {
    #[error(transparent)]
    Offsets(#[from] offsets::OffsetError),
    #[error("connector state {path}: {message}")]
    State { path: String, message: String },
}

/// One connector as the herder keeps it.
struct Conn {
    config: ConfigMap,
    spec: Option<Arc<ConnectorSpec>>,
    target: TargetState,
    kind: ConnectorType,
    /// Why the connector itself (not a task) failed.
    failure: Option<TaskFailure>,
    restarting: bool,
    task_configs: Vec<Vec<(String, String)>>,
    tasks: Vec<TaskHandle>,
    active_topics: Arc<Mutex<BTreeSet<String>>>,
    /// The `.wasm` the connector's component came from, when it is a file.
    watched: Option<WatchedComponent>,
    /// Why the last new version of the component was refused (the old one still runs).
    upgrade_error: Option<String>,
    /// Set by any of its tasks' `request-reconfiguration`; taken by the supervisor.
    reconfigure: Arc<AtomicBool>,
    last_reconfigure: Option<Instant>,
    /// Failure histories for `weft.restart.failed.*`: the connector's under `None`, each
    /// task's under its id.
    backoffs: BTreeMap<Option<u32>, Backoff>,
}

/// How often the supervisor looks at component files and reconfiguration requests: a changed
/// file is loaded after it stayed the same for one interval, and a connector's task configs are
/// computed again at most once per interval however often its tasks ask.
const SUPERVISE_INTERVAL: Duration = Duration::from_secs(1);

/// Wakes the supervisor thread early to end it.
#[derive(Default)]
struct SupervisorStop {
    stopped: Mutex<bool>,
    cv: Condvar,
}

/// The persisted form of the connectors.
#[derive(Debug, Default, Serialize, Deserialize)]
struct StoredConnectors {
    connectors: BTreeMap<String, StoredConnector>,
}

#[derive(Debug, Serialize, Deserialize)]
struct StoredConnector {
    config: ConfigMap,
    target: TargetState,
}

/// The standalone herder.
pub struct StandaloneHerder {
    worker: Arc<WorkerConfig>,
    registry: Arc<Registry>,
    store: Arc<FileStore>,
    worker_id: Mutex<String>,
    cluster_id: Mutex<Option<String>>,
    sandbox_defaults: Vec<(String, String)>,
    conns: Mutex<BTreeMap<String, Conn>>,
    state_file: PathBuf,
    supervisor: Arc<SupervisorStop>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn not_found(name: &str) -> HerderError {
    HerderError::NotFound(format!("Connector {name} not found"))
}

impl StandaloneHerder {
    /// A client for reading or changing connectors' offsets on the worker's cluster.
    fn offsets_client(&self, kind: ClientKind) -> rdkafka::config::ClientConfig {
        client_config(&self.worker, None, kind, "weft-connect-offsets")
    }

    /// For a connector that commits its positions to an offsets topic (exactly-once mode),
    /// writes KIP-875 changes there too: that topic is what its tasks resume from.
    fn write_offsets_topic(
        &self,
        name: &str,
        c: &Conn,
        changes: &[(String, Option<String>)],
    ) -> HerderResult<()> {
        let Some(eos) = c.spec.as_ref().and_then(|s| s.exactly_once.as_ref()) else {
            return Ok(());
        };
        if changes.is_empty() {
            return Ok(());
        }
        let admin = self.offsets_client(ClientKind::Admin);
        offsets::topic::ensure(&admin, &eos.offsets_topic, &self.worker.exactly_once)
            .map_err(offset_error)?;
        let cfg = self.offsets_client(ClientKind::Producer);
        offsets::topic::write(&cfg, &eos.offsets_topic, name, changes).map_err(offset_error)
    }

    /// A herder for `worker` with the position store opened and no connectors yet; call
    /// [`StandaloneHerder::restore`] to start the ones an earlier run persisted.
    pub fn new(
        worker: WorkerConfig,
        registry: Arc<Registry>,
    ) -> Result<Arc<StandaloneHerder>, HerderStartError> {
        let store = Arc::new(FileStore::open(&worker.offset_file)?);
        let state_file = worker.state_dir.join("connectors.json");
        let sandbox_defaults = worker
            .sandbox
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let worker_id = worker
            .rest_listeners
            .first()
            .cloned()
            .unwrap_or_else(|| "standalone".into());
        let herder = Arc::new(StandaloneHerder {
            worker: Arc::new(worker),
            registry,
            store,
            worker_id: Mutex::new(worker_id),
            cluster_id: Mutex::new(None),
            sandbox_defaults,
            conns: Mutex::new(BTreeMap::new()),
            state_file,
            supervisor: Arc::default(),
        });
        // Fail now on an unreadable state file rather than forget the connectors in it.
        herder.load_state()?;
        spawn_supervisor(Arc::downgrade(&herder), herder.supervisor.clone());
        Ok(herder)
    }

    /// Starts the connectors persisted by an earlier run, in their last target state.
    pub fn restore(&self) {
        let stored = match self.load_state() {
            Ok(s) => s,
            Err(e) => {
                tracing::error!(error = %e, "cannot read the persisted connectors");
                return;
            }
        };
        for (name, s) in stored.connectors {
            if let Err(e) = self.put_connector_config(&name, s.config, Some(s.target), true) {
                tracing::error!(connector = %name, error = %e, "a persisted connector could not be started again");
            }
        }
    }

    /// The id `/status` reports (the REST address once bound).
    pub fn set_worker_id(&self, id: String) {
        *lock(&self.worker_id) = id;
    }

    fn worker_id(&self) -> String {
        lock(&self.worker_id).clone()
    }

    /// The worker's config.
    pub fn worker_config(&self) -> &WorkerConfig {
        &self.worker
    }

    fn load_state(&self) -> Result<StoredConnectors, HerderStartError> {
        let err = |m: String| HerderStartError::State {
            path: self.state_file.display().to_string(),
            message: m,
        };
        match std::fs::read(&self.state_file) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(StoredConnectors::default()),
            Err(e) => Err(err(e.to_string())),
            Ok(b) => serde_json::from_slice(&b).map_err(|e| err(e.to_string())),
        }
    }

    fn persist(&self, conns: &BTreeMap<String, Conn>) {
        let stored = StoredConnectors {
            connectors: conns
                .iter()
                .map(|(n, c)| {
                    (
                        n.clone(),
                        StoredConnector {
                            config: c.config.clone(),
                            target: c.target,
                        },
                    )
                })
                .collect(),
        };
        let write = || -> Result<(), String> {
            std::fs::create_dir_all(&self.worker.state_dir).map_err(|e| e.to_string())?;
            let bytes = serde_json::to_vec_pretty(&stored).map_err(|e| e.to_string())?;
            weft_log::write_atomically(&self.state_file, &bytes).map_err(|e| e.to_string())
        };
        if let Err(e) = write() {
            tracing::error!(path = %self.state_file.display(), error = %e, "cannot persist the connectors");
        }
    }

    /// The connector's kind: from its component when it loads, else from the built-in's name.
    fn kind_of(&self, config: &ConfigMap) -> ConnectorType {
        let Some(class) = config.get("connector.class") else {
            return ConnectorType::Unknown;
        };
        let Ok(plugin) = config::aliases::connector_plugin(class) else {
            return ConnectorType::Unknown;
        };
        if let Some(sink) = config::aliases::builtin_is_sink(&plugin) {
            return if sink {
                ConnectorType::Sink
            } else {
                ConnectorType::Source
            };
        }
        match self.registry.resolve(&plugin).map(|p| p.kind()) {
            Ok(PluginKind::SinkConnector) => ConnectorType::Sink,
            Ok(PluginKind::SourceConnector) => ConnectorType::Source,
            _ => ConnectorType::Unknown,
        }
    }

    /// Connect's checks plus the component's own `validate`, merged.
    fn validate_config(&self, config: &ConfigMap) -> (ConfigInfos, ConnectorType) {
        let kind = self.kind_of(config);
        let mut infos = config::validate_connector_config(config, &self.worker, kind);
        if let Some(class) = config.get("connector.class") {
            if let Ok(plugin) = config::aliases::connector_plugin(class) {
                self.merge_plugin_validation(&plugin, config, &mut infos);
            }
        }
        (infos, kind)
    }

    fn merge_plugin_validation(&self, plugin: &str, config: &ConfigMap, infos: &mut ConfigInfos) {
        let loaded = match self.registry.resolve(plugin) {
            Ok(p) => p,
            Err(e) => {
                add_error(infos, "connector.class", &e.to_string());
                return;
            }
        };
        let entries: Vec<(String, String)> = config
            .iter()
            // The class too, as the tasks receive it.
            .filter(|(k, _)| !config::connector::is_connect_key(k) || *k == "connector.class")
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        // Keys the component defines are listed with their definitions.
        for d in &loaded.metadata().config {
            if infos.configs.iter().any(|c| c.definition.name == d.name) {
                continue;
            }
            let def = key_info(d, infos.configs.len() as i32);
            if let Some(g) = &def.group {
                if !infos.groups.contains(g) {
                    infos.groups.push(g.clone());
                }
            }
            infos.configs.push(ConfigInfo {
                value: ConfigValueInfo {
                    name: d.name.clone(),
                    value: config.get(&d.name).cloned().or_else(|| d.default.clone()),
                    recommended_values: d.recommended_values.clone(),
                    errors: Vec::new(),
                    visible: true,
                },
                definition: def,
            });
        }
        let r = instantiate(
            &self.registry,
            &config::PluginRef {
                plugin: plugin.to_string(),
                // The grants, so a component importing a capability can be asked to validate.
                config: config
                    .iter()
                    .filter(|(k, _)| k.starts_with("capability."))
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect(),
            },
            &self.sandbox_defaults,
            &[],
        )
        .and_then(|mut c| {
            let issues = c.validate(&entries);
            c.close();
            issues
        });
        match r {
            Ok(issues) => {
                for (k, m) in issues {
                    add_error(infos, &k, &m);
                }
            }
            Err(e) => add_error(infos, "connector.class", &e.to_string()),
        }
    }

    /// Before a config is applied, a connector whose component is a file gets that file as it
    /// is now (what `resolve` remembered may be an older version of it).
    fn refresh_component(&self, config: &ConfigMap) {
        let Some(plugin) = config
            .get("connector.class")
            .and_then(|c| config::aliases::connector_plugin(c).ok())
        else {
            return;
        };
        let Ok(known) = self.registry.resolve(&plugin) else {
            return;
        };
        if !matches!(known.source(), PluginSource::File(_)) {
            return;
        }
        if let Ok(fresh) = self.registry.resolve_fresh(&plugin) {
            if fresh.hash_hex() != known.hash_hex() {
                self.registry.remember(&plugin, fresh);
            }
        }
    }

    /// One round of the supervisor: component files first, then reconfiguration requests.
    fn supervise(&self) {
        let watched: Vec<(String, WatchedComponent)> = lock(&self.conns)
            .iter()
            .filter_map(|(n, c)| c.watched.clone().map(|w| (n.clone(), w)))
            .collect();
        for (name, mut w) in watched {
            let before = (w.path.clone(), w.running_hash.clone());
            // Stat, read and compile outside the lock: the REST API and the other connectors
            // are not held up by a slow disk or a large component.
            let outcome = match w.check(FileIdentity::of(&w.path)) {
                Check::Load(id) => {
                    let r = self.load_new_version(&w);
                    w.settled(id);
                    Some(r)
                }
                Check::Unchanged | Check::Settling => None,
            };
            let mut conns = lock(&self.conns);
            let Some(c) = conns.get_mut(&name) else {
                continue;
            };
            // Restarted or reconfigured meanwhile: its own start set what to watch.
            if c.watched.as_ref().map(|x| (&x.path, &x.running_hash))
                != Some((&before.0, &before.1))
            {
                continue;
            }
            match outcome {
                None => c.watched = Some(w),
                Some(Ok(None)) => {
                    c.upgrade_error = None;
                    c.watched = Some(w);
                }
                Some(Err(reason)) => {
                    let message = format!(
                        "The component file {} changed but was not loaded, so the connector keeps \
                         running its previous version (sha256 {}): {reason}",
                        w.path.display(),
                        w.running_hash
                    );
                    tracing::error!(connector = %name, file = %w.path.display(), reason = %reason, "hot upgrade refused; the previous version keeps running");
                    c.upgrade_error = Some(message);
                    c.watched = Some(w);
                }
                Some(Ok(Some(plugin))) => {
                    tracing::info!(
                        connector = %name,
                        file = %w.path.display(),
                        from = %w.running_hash,
                        to = %plugin.hash_hex(),
                        version = %plugin.metadata().version,
                        "the connector's component changed: restarting its tasks from their committed positions"
                    );
                    self.registry.remember(&w.spec, plugin.clone());
                    c.upgrade_error = None;
                    self.stop_tasks(c, None);
                    self.start_connector(&name, c);
                    w.running_hash = plugin.hash_hex();
                    if c.watched.as_ref().is_some_and(|x| x.path == w.path) {
                        c.watched = Some(w);
                    }
                }
            }
        }
        self.reconfigure_requested();
        self.restart_failed();
    }

    /// Restarts, with backoff, the FAILED connectors and tasks of running connectors that opted
    /// in with `weft.restart.failed.enabled`. A failed connector restarts with all its tasks.
    fn restart_failed(&self) {
        let now = Instant::now();
        let mut conns = lock(&self.conns);
        for (name, c) in conns.iter_mut() {
            let policy = match &c.spec {
                Some(s) if s.restart.enabled && c.target == TargetState::Running => s.restart,
                _ => {
                    c.backoffs.clear();
                    continue;
                }
            };
            let mut units: Vec<(Option<u32>, bool)> = vec![(None, c.failure.is_some())];
            units.extend(
                c.tasks
                    .iter()
                    .map(|t| (Some(t.id), t.report.state().0 == State::Failed)),
            );
            let mut restart_tasks = Vec::new();
            for (unit, failed) in units {
                if !failed && !c.backoffs.contains_key(&unit) {
                    continue;
                }
                let decision = c
                    .backoffs
                    .entry(unit)
                    .or_insert_with(|| Backoff::new(&policy))
                    .observe(&policy, failed, now);
                match decision {
                    Decision::Wait => {}
                    Decision::Forget => {
                        c.backoffs.remove(&unit);
                    }
                    Decision::Restart { attempt, next } => {
                        let what = unit.map_or("connector".to_string(), |t| format!("task {t}"));
                        tracing::warn!(connector = %name, unit = %what, attempt, next_delay = ?next, "restarting a FAILED {what} (weft.restart.failed.enabled)");
                        match unit {
                            None => {
                                self.stop_tasks(c, None);
                                self.start_connector(name, c);
                                restart_tasks.clear();
                                break;
                            }
                            Some(t) => restart_tasks.push(t),
                        }
                    }
                }
            }
            if !restart_tasks.is_empty() {
                self.stop_tasks(c, Some(&restart_tasks));
                for t in c.tasks.iter().filter(|t| restart_tasks.contains(&t.id)) {
                    t.report.set_state(State::Restarting);
                }
                self.start_tasks(c, Some(&restart_tasks));
            }
        }
    }

    /// The component file's new version when it loads (compiled, contract version matching,
    /// the same kind of connector) and differs from the running one; `Ok(None)` when its
    /// content is the running one.
    fn load_new_version(
        &self,
        w: &WatchedComponent,
    ) -> Result<Option<Arc<weft_runtime::LoadedPlugin>>, String> {
        let fresh = self
            .registry
            .resolve_fresh(&w.spec)
            .map_err(|e| e.to_string())?;
        if fresh.hash_hex() == w.running_hash {
            return Ok(None);
        }
        if let Ok(old) = self.registry.resolve(&w.spec) {
            if old.kind() != fresh.kind() {
                return Err(format!(
                    "the new file is a {} component, the connector runs a {}",
                    fresh.kind().as_str(),
                    old.kind().as_str()
                ));
            }
        }
        Ok(Some(fresh))
    }

    /// Connectors whose tasks asked for a reconfiguration get their task configs computed
    /// again, at most once per [`SUPERVISE_INTERVAL`] each (requests in between are one);
    /// their tasks restart only when the configs changed, as Connect's
    /// `requestTaskReconfiguration` does.
    fn reconfigure_requested(&self) {
        let now = Instant::now();
        let due: Vec<(String, Arc<ConnectorSpec>)> = lock(&self.conns)
            .iter_mut()
            .filter_map(|(n, c)| {
                if c.last_reconfigure
                    .is_some_and(|t| now.duration_since(t) < SUPERVISE_INTERVAL)
                    || !c.reconfigure.swap(false, Ordering::AcqRel)
                    || c.target == TargetState::Stopped
                {
                    return None;
                }
                c.last_reconfigure = Some(now);
                c.spec.clone().map(|s| (n.clone(), s))
            })
            .collect();
        for (name, spec) in due {
            tracing::info!(connector = %name, "a task requested a reconfiguration: computing the task configs again");
            let configs = self.task_configs_of(&spec);
            let mut conns = lock(&self.conns);
            let Some(c) = conns.get_mut(&name) else {
                continue;
            };
            if !c.spec.as_ref().is_some_and(|s| Arc::ptr_eq(s, &spec))
                || c.target == TargetState::Stopped
            {
                continue;
            }
            match configs {
                Err(f) => {
                    tracing::error!(connector = %name, error = %f.message, "the task configs could not be computed again; the tasks keep their configs")
                }
                Ok(configs) if configs == c.task_configs => {
                    tracing::debug!(connector = %name, "the task configs are unchanged; no task restarts")
                }
                Ok(configs) => {
                    tracing::info!(connector = %name, from = c.task_configs.len(), to = configs.len(), "the task configs changed: restarting the connector's tasks");
                    self.stop_tasks(c, None);
                    c.task_configs = configs;
                    self.start_tasks(c, None);
                }
            }
        }
    }

    /// Starts a connector that is in the map: task configs from its component, then its
    /// tasks (none when STOPPED).
    fn start_connector(&self, name: &str, conn: &mut Conn) {
        conn.failure = None;
        conn.restarting = false;
        let Some(spec) = conn.spec.clone() else {
            return;
        };
        // Watch the file this start loads; the first looks only confirm it is the same.
        conn.watched = self
            .registry
            .resolve(&spec.connector.plugin)
            .ok()
            .and_then(|p| WatchedComponent::for_plugin(&spec.connector.plugin, &p));
        if conn.target == TargetState::Stopped {
            return;
        }
        let configs = match self.task_configs_of(&spec) {
            Ok(c) => c,
            Err(f) => {
                tracing::error!(connector = %name, error = %f.message, "connector failed");
                conn.failure = Some(f);
                return;
            }
        };
        conn.task_configs = configs;
        self.start_tasks(conn, None);
    }

    fn task_configs_of(
        &self,
        spec: &ConnectorSpec,
    ) -> Result<Vec<Vec<(String, String)>>, TaskFailure> {
        let label = &spec.connector.plugin;
        let mut comp = instantiate(&self.registry, &spec.connector, &self.sandbox_defaults, &[])
            .map_err(|e| TaskFailure::from_runtime(None, label, &e))?;
        let entries: Vec<(String, String)> = spec.connector.config.clone();
        let r = comp.task_configs(&entries, spec.tasks_max.max(1));
        comp.close();
        let configs = r.map_err(|e| TaskFailure::from_runtime(None, label, &e))?;
        if configs.len() > spec.tasks_max.max(1) as usize {
            return Err(TaskFailure::new(
                None,
                label,
                format!(
                    "returned {} task configs, more than tasks.max={}",
                    configs.len(),
                    spec.tasks_max
                ),
            ));
        }
        Ok(configs)
    }

    /// Starts the tasks `which` (all when `None`) from the connector's task configs.
    fn start_tasks(&self, conn: &mut Conn, which: Option<&[u32]>) {
        let Some(spec) = conn.spec.clone() else {
            return;
        };
        let initial = match conn.target {
            TargetState::Running => Target::Run,
            TargetState::Paused => Target::Pause,
            TargetState::Stopped => return,
        };
        for (i, tc) in conn.task_configs.clone().into_iter().enumerate() {
            let id = i as u32;
            if which.is_some_and(|w| !w.contains(&id)) {
                continue;
            }
            let report = conn
                .tasks
                .iter()
                .find(|t| t.id == id)
                .map(|t| t.report.clone())
                .unwrap_or_default();
            let env = TaskEnv {
                worker: self.worker.clone(),
                spec: spec.clone(),
                task: id,
                task_config: tc,
                registry: self.registry.clone(),
                store: self.store.clone(),
                control: TaskControl::new(initial),
                report: report.clone(),
                active_topics: conn.active_topics.clone(),
                sandbox_defaults: self.sandbox_defaults.clone(),
                reconfigure: conn.reconfigure.clone(),
            };
            match worker::spawn(conn.kind, env, initial, report.clone()) {
                Ok(h) => {
                    conn.tasks.retain(|t| t.id != id);
                    conn.tasks.push(h);
                }
                Err(m) => report.fail(&TaskFailure::new(None, "worker", m)),
            }
        }
        conn.tasks.sort_by_key(|t| t.id);
    }

    fn stop_tasks(&self, conn: &mut Conn, which: Option<&[u32]>) {
        let timeout = self.worker.task_shutdown_timeout;
        // Ask them all first, then wait, so they shut down side by side.
        for t in conn.tasks.iter() {
            if which.is_none_or(|w| w.contains(&t.id)) {
                t.signal_stop();
            }
        }
        for t in conn.tasks.iter_mut() {
            if which.is_none_or(|w| w.contains(&t.id)) {
                t.stop(timeout);
            }
        }
        if which.is_none() {
            conn.tasks.clear();
        }
    }

    /// Stops every connector's tasks, committing what was acknowledged (graceful shutdown).
    pub fn shutdown(&self) {
        *lock(&self.supervisor.stopped) = true;
        self.supervisor.cv.notify_all();
        let mut conns = lock(&self.conns);
        for c in conns.values() {
            for t in &c.tasks {
                t.signal_stop();
            }
        }
        for c in conns.values_mut() {
            self.stop_tasks(c, None);
        }
    }

    fn connector_state(&self, c: &Conn) -> ConnectorState {
        let (state, trace) = if c.restarting {
            (State::Restarting, None)
        } else if let Some(f) = &c.failure {
            (State::Failed, Some(f.trace.clone()))
        } else {
            (
                match c.target {
                    TargetState::Running => State::Running,
                    TargetState::Paused => State::Paused,
                    TargetState::Stopped => State::Stopped,
                },
                // A refused new version: the connector runs on, the trace says why.
                c.upgrade_error.clone(),
            )
        };
        ConnectorState {
            state,
            worker_id: self.worker_id(),
            trace,
        }
    }

    fn task_status_of(&self, t: &TaskHandle) -> TaskStatus {
        let (state, trace) = t.report.state();
        TaskStatus {
            id: t.id,
            state,
            worker_id: self.worker_id(),
            trace,
            metrics: Some(t.report.metrics()),
        }
    }

    fn status_of(&self, name: &str, c: &Conn) -> ConnectorStatus {
        ConnectorStatus {
            name: name.to_string(),
            connector: self.connector_state(c),
            tasks: c.tasks.iter().map(|t| self.task_status_of(t)).collect(),
            kind: c.kind,
        }
    }

    fn info_of(&self, name: &str, c: &Conn) -> ConnectorInfo {
        let secret = crate::masking::password_keys(&self.registry, &c.config);
        ConnectorInfo {
            name: name.to_string(),
            config: crate::masking::mask(c.config.clone(), &secret),
            tasks: (0..c.task_configs.len() as u32)
                .map(|task| TaskId {
                    connector: name.to_string(),
                    task,
                })
                .collect(),
            kind: c.kind,
        }
    }

    /// Kafka answers 400 (its BadRequestException) while the connector runs or its tasks are
    /// still stopping, not 409.
    fn require_stopped(&self, name: &str, c: &Conn) -> HerderResult<()> {
        if c.target != TargetState::Stopped || c.tasks.iter().any(TaskHandle::alive) {
            return Err(HerderError::BadRequest(format!(
                "Connectors must be in the STOPPED state before their offsets can be modified. \
                 This can be done for the specified connector by issuing a 'PUT' request to the \
                 '/connectors/{name}/stop' endpoint"
            )));
        }
        Ok(())
    }

    fn cluster_id(&self) -> String {
        if let Some(id) = lock(&self.cluster_id).clone() {
            return id;
        }
        let cfg = client_config(&self.worker, None, ClientKind::Admin, "weft-connect-info");
        let id = cfg
            .create::<rdkafka::consumer::BaseConsumer>()
            .ok()
            .and_then(|c| {
                rdkafka::consumer::Consumer::client(&c)
                    .fetch_cluster_id(std::time::Duration::from_secs(5))
            });
        if let Some(id) = &id {
            *lock(&self.cluster_id) = Some(id.clone());
        }
        id.unwrap_or_default()
    }
}

fn add_error(infos: &mut ConfigInfos, key: &str, message: &str) {
    infos.error_count += 1;
    if let Some(c) = infos.configs.iter_mut().find(|c| c.value.name == key) {
        c.value.errors.push(message.to_string());
        return;
    }
    infos.configs.push(ConfigInfo {
        definition: ConfigKeyInfo {
            name: key.to_string(),
            kind: "STRING".into(),
            required: false,
            default_value: None,
            importance: "LOW".into(),
            documentation: String::new(),
            group: None,
            width: "NONE".into(),
            display_name: key.to_string(),
            dependents: Vec::new(),
            order: -1,
        },
        value: ConfigValueInfo {
            name: key.to_string(),
            value: None,
            recommended_values: Vec::new(),
            errors: vec![message.to_string()],
            visible: true,
        },
    });
}

fn key_info(d: &weft_runtime::plugin::ConfigDef, order: i32) -> ConfigKeyInfo {
    ConfigKeyInfo {
        name: d.name.clone(),
        kind: d.ty.to_uppercase(),
        required: d.required,
        default_value: d.default.clone(),
        importance: d.importance.to_string(),
        documentation: d.doc.clone(),
        group: d.group.clone(),
        width: "NONE".into(),
        display_name: d.display_name.clone().unwrap_or_else(|| d.name.clone()),
        dependents: Vec::new(),
        order: if d.order_in_group >= 0 {
            d.order_in_group
        } else {
            order
        },
    }
}

/// Kafka's class names for the built-in components, as `/connector-plugins` lists them; each
/// is checked against the config side's alias table so the two cannot drift apart.
const KAFKA_CLASSES: &[(&str, &str)] = &[
    (
        "org.apache.kafka.connect.file.FileStreamSourceConnector",
        "source",
    ),
    (
        "org.apache.kafka.connect.file.FileStreamSinkConnector",
        "sink",
    ),
    ("org.apache.kafka.connect.json.JsonConverter", "converter"),
    (
        "org.apache.kafka.connect.storage.StringConverter",
        "converter",
    ),
    (
        "org.apache.kafka.connect.converters.ByteArrayConverter",
        "converter",
    ),
    // Kafka lists every converter that also implements HeaderConverter under both types.
    (
        "org.apache.kafka.connect.converters.ByteArrayConverter",
        "header_converter",
    ),
    (
        "org.apache.kafka.connect.json.JsonConverter",
        "header_converter",
    ),
    (
        "org.apache.kafka.connect.storage.SimpleHeaderConverter",
        "header_converter",
    ),
    (
        "org.apache.kafka.connect.storage.StringConverter",
        "header_converter",
    ),
    (
        "org.apache.kafka.connect.transforms.predicates.TopicNameMatches",
        "predicate",
    ),
    (
        "org.apache.kafka.connect.transforms.predicates.HasHeaderKey",
        "predicate",
    ),
    (
        "org.apache.kafka.connect.transforms.predicates.RecordIsTombstone",
        "predicate",
    ),
];

/// Kafka's standard transformations (`org.apache.kafka.connect.transforms.`), and whether they
/// come as `$Key`/`$Value` pairs; `/connector-plugins` lists each class Kafka lists.
const KAFKA_TRANSFORMS: &[(&str, bool)] = &[
    ("Cast", true),
    ("DropHeaders", false),
    ("ExtractField", true),
    ("Filter", false),
    ("Flatten", true),
    ("HeaderFrom", true),
    ("HoistField", true),
    ("InsertField", true),
    ("InsertHeader", false),
    ("MaskField", true),
    ("RegexRouter", false),
    ("ReplaceField", true),
    ("SetSchemaMetadata", true),
    ("TimestampConverter", true),
    ("TimestampRouter", false),
    ("ValueToKey", false),
];

/// Every class name of [`KAFKA_TRANSFORMS`].
fn kafka_transform_classes() -> impl Iterator<Item = String> {
    KAFKA_TRANSFORMS.iter().flat_map(|(name, pair)| {
        let base = format!("org.apache.kafka.connect.transforms.{name}");
        if *pair {
            vec![format!("{base}$Key"), format!("{base}$Value")]
        } else {
            vec![base]
        }
    })
}

fn kafka_class_resolves(class: &str, kind: &str) -> bool {
    match kind {
        "source" | "sink" => config::aliases::connector_plugin(class).is_ok(),
        "converter" => config::aliases::converter_plugin(class).is_ok(),
        "header_converter" => config::aliases::header_converter_plugin(class).is_ok(),
        "transformation" => config::aliases::transform_plugin(class).is_ok(),
        "predicate" => config::aliases::predicate_kind(class).is_ok(),
        _ => false,
    }
}

impl Herder for StandaloneHerder {
    fn server_info(&self) -> ServerInfo {
        ServerInfo {
            version: env!("CARGO_PKG_VERSION").to_string(),
            commit: "weft".into(),
            kafka_cluster_id: self.cluster_id(),
        }
    }

    fn connectors(&self) -> Vec<String> {
        lock(&self.conns).keys().cloned().collect()
    }

    fn connector_info(&self, name: &str) -> HerderResult<ConnectorInfo> {
        let conns = lock(&self.conns);
        let c = conns.get(name).ok_or_else(|| not_found(name))?;
        Ok(self.info_of(name, c))
    }

    fn connector_status(&self, name: &str) -> HerderResult<ConnectorStatus> {
        let conns = lock(&self.conns);
        let c = conns.get(name).ok_or_else(|| not_found(name))?;
        Ok(self.status_of(name, c))
    }

    fn put_connector_config(
        &self,
        name: &str,
        mut config: ConfigMap,
        initial_state: Option<TargetState>,
        allow_replace: bool,
    ) -> HerderResult<(bool, ConnectorInfo)> {
        config.insert("name".into(), name.to_string());
        self.refresh_component(&config);
        if let Some(old) = lock(&self.conns).get(name) {
            let secret = crate::masking::password_keys(&self.registry, &config);
            crate::masking::restore_hidden(&mut config, &old.config, &secret);
        }
        if !allow_replace && lock(&self.conns).contains_key(name) {
            return Err(HerderError::Conflict(format!(
                "Connector {name} already exists"
            )));
        }
        let (infos, kind) = self.validate_config(&config);
        if infos.error_count > 0 {
            return Err(HerderError::InvalidConfig(Box::new(infos)));
        }
        let spec = ConnectorSpec::from_map(&config, &self.worker, kind)
            .map_err(|e| HerderError::BadRequest(e.to_string()))?;
        let mut conns = lock(&self.conns);
        let created = !conns.contains_key(name);
        if !created && !allow_replace {
            return Err(HerderError::Conflict(format!(
                "Connector {name} already exists"
            )));
        }
        let (target, topics) = match conns.remove(name) {
            Some(mut old) => {
                self.stop_tasks(&mut old, None);
                (old.target, old.active_topics)
            }
            None => (
                initial_state.unwrap_or(TargetState::Running),
                Arc::default(),
            ),
        };
        let target = if created {
            initial_state.unwrap_or(target)
        } else {
            target
        };
        let mut conn = Conn {
            config,
            spec: Some(Arc::new(spec)),
            target,
            kind,
            failure: None,
            restarting: false,
            task_configs: Vec::new(),
            tasks: Vec::new(),
            active_topics: topics,
            watched: None,
            upgrade_error: None,
            reconfigure: Arc::default(),
            last_reconfigure: None,
            backoffs: BTreeMap::new(),
        };
        self.start_connector(name, &mut conn);
        let info = self.info_of(name, &conn);
        conns.insert(name.to_string(), conn);
        self.persist(&conns);
        Ok((created, info))
    }

    fn patch_connector_config(
        &self,
        name: &str,
        patch: BTreeMap<String, Option<String>>,
    ) -> HerderResult<ConnectorInfo> {
        let mut config = {
            let conns = lock(&self.conns);
            conns
                .get(name)
                .ok_or_else(|| not_found(name))?
                .config
                .clone()
        };
        for (k, v) in patch {
            match v {
                Some(v) => {
                    config.insert(k, v);
                }
                None => {
                    config.remove(&k);
                }
            }
        }
        self.put_connector_config(name, config, None, true)
            .map(|(_, i)| i)
    }

    fn delete_connector(&self, name: &str) -> HerderResult<()> {
        let mut conns = lock(&self.conns);
        let mut c = conns.remove(name).ok_or_else(|| not_found(name))?;
        self.stop_tasks(&mut c, None);
        self.persist(&conns);
        Ok(())
    }

    fn task_configs(&self, name: &str) -> HerderResult<Vec<TaskInfo>> {
        let conns = lock(&self.conns);
        let c = conns.get(name).ok_or_else(|| not_found(name))?;
        let secret = crate::masking::password_keys(&self.registry, &c.config);
        Ok(c.task_configs
            .iter()
            .enumerate()
            .map(|(i, tc)| TaskInfo {
                id: TaskId {
                    connector: name.to_string(),
                    task: i as u32,
                },
                config: crate::masking::mask(tc.iter().cloned(), &secret),
            })
            .collect())
    }

    fn task_status(&self, name: &str, task: u32) -> HerderResult<TaskStatus> {
        let conns = lock(&self.conns);
        let c = conns.get(name).ok_or_else(|| not_found(name))?;
        c.tasks
            .iter()
            .find(|t| t.id == task)
            .map(|t| self.task_status_of(t))
            .ok_or_else(|| HerderError::NotFound(format!("Task {name}-{task} not found")))
    }

    fn restart_task(&self, name: &str, task: u32) -> HerderResult<()> {
        let mut conns = lock(&self.conns);
        let c = conns.get_mut(name).ok_or_else(|| not_found(name))?;
        if !c.tasks.iter().any(|t| t.id == task) {
            return Err(HerderError::NotFound(format!(
                "Task {name}-{task} not found"
            )));
        }
        self.stop_tasks(c, Some(&[task]));
        if let Some(t) = c.tasks.iter().find(|t| t.id == task) {
            t.report.set_state(State::Restarting);
        }
        self.start_tasks(c, Some(&[task]));
        Ok(())
    }

    fn restart_connector(
        &self,
        name: &str,
        include_tasks: bool,
        only_failed: bool,
    ) -> HerderResult<RestartOutcome> {
        let mut conns = lock(&self.conns);
        let c = conns.get_mut(name).ok_or_else(|| not_found(name))?;
        let restart_conn = !only_failed || c.failure.is_some();
        if !include_tasks {
            if restart_conn {
                self.stop_tasks(c, None);
                self.start_connector(name, c);
            }
            return Ok(RestartOutcome::ConnectorOnly);
        }
        let tasks: Vec<u32> = c
            .tasks
            .iter()
            .filter(|t| !only_failed || t.report.state().0 == State::Failed)
            .map(|t| t.id)
            .collect();
        if restart_conn {
            c.restarting = true;
        }
        for t in c.tasks.iter().filter(|t| tasks.contains(&t.id)) {
            t.report.set_state(State::Restarting);
        }
        let status = self.status_of(name, c);
        if restart_conn {
            self.stop_tasks(c, None);
            self.start_connector(name, c);
        } else {
            self.stop_tasks(c, Some(&tasks));
            self.start_tasks(c, Some(&tasks));
        }
        Ok(RestartOutcome::WithTasks(status))
    }

    fn set_target_state(&self, name: &str, state: TargetState) -> HerderResult<()> {
        let mut conns = lock(&self.conns);
        let c = conns.get_mut(name).ok_or_else(|| not_found(name))?;
        let was = c.target;
        c.target = state;
        match state {
            TargetState::Stopped => {
                self.stop_tasks(c, None);
                c.task_configs.clear();
            }
            TargetState::Paused | TargetState::Running if was == TargetState::Stopped => {
                self.start_connector(name, c);
            }
            TargetState::Paused => c.tasks.iter().for_each(|t| t.control.set(Target::Pause)),
            TargetState::Running => c.tasks.iter().for_each(|t| t.control.set(Target::Run)),
        }
        self.persist(&conns);
        Ok(())
    }

    fn active_topics(&self, name: &str) -> HerderResult<Vec<String>> {
        let conns = lock(&self.conns);
        let c = conns.get(name).ok_or_else(|| not_found(name))?;
        let topics = lock(&c.active_topics).iter().cloned().collect();
        Ok(topics)
    }

    fn reset_active_topics(&self, name: &str) -> HerderResult<()> {
        let conns = lock(&self.conns);
        let c = conns.get(name).ok_or_else(|| not_found(name))?;
        lock(&c.active_topics).clear();
        Ok(())
    }

    fn offsets(&self, name: &str) -> HerderResult<ConnectorOffsets> {
        let (kind, offsets_topic) = {
            let conns = lock(&self.conns);
            let c = conns.get(name).ok_or_else(|| not_found(name))?;
            let topic = c
                .spec
                .as_ref()
                .and_then(|s| s.exactly_once.as_ref())
                .map(|e| e.offsets_topic.clone());
            (c.kind, topic)
        };
        match kind {
            ConnectorType::Sink => {
                let cfg = self.offsets_client(ClientKind::Consumer);
                offsets::sink::read(&cfg, name).map_err(|e| HerderError::Internal(e.to_string()))
            }
            _ => {
                let mut positions = self.store.get(name);
                // Exactly-once mode commits to the offsets topic at once and to the local
                // store only at the next flush: the topic is the newer.
                if let Some(topic) = offsets_topic {
                    let cfg = self.offsets_client(ClientKind::Consumer);
                    let committed = offsets::topic::read(&cfg, &topic, name)
                        .map_err(|e| HerderError::Internal(e.to_string()))?;
                    for (partition, position) in committed {
                        match position {
                            Some(p) => positions.insert(partition, p),
                            None => positions.remove(&partition),
                        };
                    }
                }
                Ok(offsets::source_offsets(&positions))
            }
        }
    }

    fn alter_offsets(&self, name: &str, body: ConnectorOffsets) -> HerderResult<String> {
        let conns = lock(&self.conns);
        let c = conns.get(name).ok_or_else(|| not_found(name))?;
        self.require_stopped(name, c)?;
        match c.kind {
            ConnectorType::Sink => {
                let cfg = self.offsets_client(ClientKind::Consumer);
                offsets::sink::alter(&cfg, name, &body).map_err(offset_error)?;
            }
            _ => {
                let changes = offsets::source_changes(&body).map_err(offset_error)?;
                self.write_offsets_topic(name, c, &changes)?;
                self.store.apply(name, changes).map_err(offset_error)?;
            }
        }
        Ok("The Connect framework-managed offsets for this connector have been altered successfully. \
            However, if this connector manages offsets externally, they will need to be manually \
            altered in the system that the connector uses."
            .into())
    }

    fn reset_offsets(&self, name: &str) -> HerderResult<String> {
        let conns = lock(&self.conns);
        let c = conns.get(name).ok_or_else(|| not_found(name))?;
        self.require_stopped(name, c)?;
        match c.kind {
            ConnectorType::Sink => {
                let cfg = self.offsets_client(ClientKind::Admin);
                offsets::sink::reset(&cfg, name).map_err(offset_error)?;
            }
            _ => {
                // Every partition either store knows of, forgotten in both.
                let mut known: std::collections::BTreeSet<String> =
                    self.store.get(name).into_keys().collect();
                if let Some(eos) = c.spec.as_ref().and_then(|s| s.exactly_once.as_ref()) {
                    let cfg = self.offsets_client(ClientKind::Consumer);
                    known.extend(
                        offsets::topic::read(&cfg, &eos.offsets_topic, name)
                            .map_err(offset_error)?
                            .into_keys(),
                    );
                }
                let forget: Vec<(String, Option<String>)> =
                    known.into_iter().map(|p| (p, None)).collect();
                self.write_offsets_topic(name, c, &forget)?;
                self.store.reset(name).map_err(offset_error)?
            }
        }
        Ok("The Connect framework-managed offsets for this connector have been reset successfully. \
            However, if this connector manages offsets externally, they will need to be manually \
            reset in the system that the connector uses."
            .into())
    }

    fn plugins(&self, connectors_only: bool) -> Vec<PluginDescription> {
        let version = Some(env!("CARGO_PKG_VERSION").to_string());
        let transforms: Vec<(String, &str)> = if connectors_only {
            Vec::new()
        } else {
            kafka_transform_classes()
                .map(|c| (c, "transformation"))
                .collect()
        };
        let mut out: Vec<PluginDescription> = KAFKA_CLASSES
            .iter()
            .map(|(class, kind)| (class.to_string(), *kind))
            .chain(transforms)
            .filter(|(_, kind)| !connectors_only || *kind == "source" || *kind == "sink")
            .filter(|(class, kind)| kafka_class_resolves(class, kind))
            .map(|(class, kind)| PluginDescription {
                class,
                kind: kind.to_string(),
                version: version.clone(),
            })
            .collect();
        for p in self.registry.list() {
            let kinds: &[&str] = match p.kind.as_str() {
                "source-connector" => &["source"],
                "sink-connector" => &["sink"],
                "transform" if !connectors_only => &["transformation"],
                // Any converter component may be named by `header.converter`.
                "converter" if !connectors_only => &["converter", "header_converter"],
                _ => continue,
            };
            for kind in kinds {
                out.push(PluginDescription {
                    class: p.name.clone(),
                    kind: kind.to_string(),
                    version: p.version.clone().or_else(|| version.clone()),
                });
            }
        }
        out
    }

    fn plugin_config(&self, plugin: &str) -> HerderResult<Vec<ConfigKeyInfo>> {
        let name = config::aliases::connector_plugin(plugin)
            .or_else(|_| config::aliases::converter_plugin(plugin))
            .or_else(|_| config::aliases::transform_plugin(plugin).map(|t| t.plugin))
            .unwrap_or_else(|_| plugin.to_string());
        let loaded = self
            .registry
            .resolve(&name)
            .map_err(|e| HerderError::NotFound(format!("Unknown plugin {plugin}: {e}")))?;
        Ok(loaded
            .metadata()
            .config
            .iter()
            .enumerate()
            .map(|(i, d)| key_info(d, i as i32 + 1))
            .collect())
    }

    fn validate(&self, plugin: &str, mut config: ConfigMap) -> HerderResult<ConfigInfos> {
        config
            .entry("connector.class".into())
            .or_insert_with(|| plugin.to_string());
        let (mut infos, _) = self.validate_config(&config);
        infos.name = plugin.to_string();
        Ok(infos)
    }
}

/// The supervisor thread: wakes every [`SUPERVISE_INTERVAL`] until the herder shuts down or is
/// dropped. It stats files and compiles components, so it never runs on the async workers.
fn spawn_supervisor(herder: Weak<StandaloneHerder>, stop: Arc<SupervisorStop>) {
    let run = move || loop {
        {
            let g = lock(&stop.stopped);
            let (g, _) = stop
                .cv
                .wait_timeout_while(g, SUPERVISE_INTERVAL, |stopped| !*stopped)
                .unwrap_or_else(|p| p.into_inner());
            if *g {
                return;
            }
        }
        let Some(h) = herder.upgrade() else {
            return;
        };
        let round = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| h.supervise()));
        if round.is_err() {
            tracing::error!("a supervisor round panicked; the next one runs as usual");
        }
    };
    if let Err(e) = std::thread::Builder::new()
        .name("connect-supervisor".into())
        .spawn(run)
    {
        tracing::error!(error = %e, "cannot start the supervisor thread: component files are not watched and reconfiguration requests are not served");
    }
}

fn offset_error(e: offsets::OffsetError) -> HerderError {
    match e {
        offsets::OffsetError::BadRequest(m) => HerderError::BadRequest(m),
        other => HerderError::Internal(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `/connector-plugins` drops a class the config side cannot resolve; none may be dropped.
    #[test]
    fn every_listed_kafka_class_resolves() {
        let classes = KAFKA_CLASSES
            .iter()
            .map(|(c, k)| (c.to_string(), *k))
            .chain(kafka_transform_classes().map(|c| (c, "transformation")));
        let mut transforms = 0;
        for (class, kind) in classes {
            assert!(kafka_class_resolves(&class, kind), "{class} ({kind})");
            transforms += usize::from(kind == "transformation");
        }
        // Kafka's 16 standard transformations, ten of them as $Key/$Value pairs.
        assert_eq!(transforms, 26);
    }
}
