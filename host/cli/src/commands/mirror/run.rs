//! Runs a plan: one Connect worker per target cluster, in this process, each with its offsets
//! and connector state under `<state-dir>/<alias>/` (so a restart, even after kill -9, resumes
//! from the last flushed positions), the flows' connectors created from the MM2 file at every
//! start, and one REST listener: `/flows`, `/metrics`, `/health`, and each worker's Connect API
//! under `/clusters/<alias>/` (the workers bind no port of their own, so they cannot clash).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{anyhow, bail, Context, Result};
use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use weft_connect::api::Herder;
use weft_connect::config::WorkerConfig;
use weft_connect::herder::StandaloneHerder;
use weft_connect::model::ConfigMap;
use weft_connect::standalone::{registry_for, wait_for_signal};

use super::mm2::{self, Plan, TargetWorker};
use super::status::{FlowStatus, Monitor};

/// How often each worker flushes its source positions unless the file sets
/// `offset.flush.interval.ms`: a restart after kill -9 copies at most this much again.
const DEFAULT_OFFSET_FLUSH_MS: &str = "5000";

/// The Connect worker settings for one target cluster.
fn worker_map(plan: &Plan, w: &TargetWorker, state_dir: &Path) -> ConfigMap {
    let dir = state_dir.join(&w.alias);
    let mut m = ConfigMap::new();
    m.insert("bootstrap.servers".into(), w.bootstrap.clone());
    // MM2's clusterProps: a plain `B.<prop>` reaches the producer, consumer and admin client
    // unless `B.producer.<prop>` (etc.) says otherwise.
    for (k, v) in &w.client {
        if ["producer.", "consumer.", "admin."]
            .iter()
            .any(|p| k.starts_with(p))
        {
            m.insert(k.clone(), v.clone());
        }
    }
    for (k, v) in &w.client {
        if !["producer.", "consumer.", "admin."]
            .iter()
            .any(|p| k.starts_with(p))
        {
            for p in ["producer.", "consumer.", "admin."] {
                m.entry(format!("{p}{k}")).or_insert_with(|| v.clone());
            }
        }
    }
    m.insert(
        "offset.storage.file.filename".into(),
        dir.join("connect.offsets").display().to_string(),
    );
    m.insert(
        "weft.connect.state.dir".into(),
        dir.join("connect-state").display().to_string(),
    );
    m.insert(
        "offset.flush.interval.ms".into(),
        DEFAULT_OFFSET_FLUSH_MS.into(),
    );
    // Not bound: the process's one listener serves this worker's API under /clusters/<alias>.
    m.insert("listeners".into(), "http://127.0.0.1:0".into());
    for k in ["key.converter", "value.converter", "header.converter"] {
        m.insert(
            k.into(),
            "org.apache.kafka.connect.converters.ByteArrayConverter".into(),
        );
    }
    for (k, v) in &plan.worker_settings {
        m.insert(k.clone(), v.clone());
    }
    m
}

/// One target cluster's running worker.
struct Running {
    alias: String,
    herder: Arc<StandaloneHerder>,
}

/// The REST listener's state.
#[derive(Clone)]
struct App {
    monitors: Arc<Vec<Monitor>>,
}

async fn flows(State(app): State<App>) -> Json<Vec<FlowStatus>> {
    // Reads the herders (short locks): off the async workers.
    let m = app.monitors.clone();
    let list = tokio::task::spawn_blocking(move || m.iter().map(Monitor::status).collect())
        .await
        .unwrap_or_default();
    Json(list)
}

async fn health() -> axum::response::Response {
    use axum::response::IntoResponse;
    let report = tokio::task::spawn_blocking(|| weft_metrics::global().health()).await;
    match report {
        Ok(r) if r.healthy() => (axum::http::StatusCode::OK, Json(r.to_json())).into_response(),
        Ok(r) => (
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            Json(r.to_json()),
        )
            .into_response(),
        Err(e) => (axum::http::StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

/// Creates every flow connector of a worker; the first refusal stops start-up.
fn create_connectors(r: &Running, w: &TargetWorker) -> Result<()> {
    for flow in &w.flows {
        for c in &flow.connectors {
            let name = c.get("name").cloned().unwrap_or_default();
            match r.herder.put_connector_config(&name, c.clone(), None, true) {
                Ok(_) => tracing::info!(connector = %name, target = %r.alias, "connector started"),
                Err(weft_connect::api::HerderError::InvalidConfig(infos)) => {
                    bail!("connector {name}: {}", infos.problems().join("; "));
                }
                Err(e) => bail!("connector {name}: {e}"),
            }
        }
    }
    Ok(())
}

/// `weft mirror-maker FILE`: runs until SIGINT or SIGTERM.
pub fn run(file: &Path, only: &[String], state_dir: &Path, listener: &str) -> Result<()> {
    let map = weft_connect::config::read_config_file(file)?.config;
    let plan = mm2::plan(&map, only).map_err(|e| anyhow!("{}: {e}", file.display()))?;
    for k in &plan.ignored_keys {
        tracing::warn!(key = %k, "mm2 setting not used by weft mirror-maker; ignored");
    }
    let state_dir: PathBuf = if state_dir.is_absolute() {
        state_dir.to_path_buf()
    } else {
        std::env::current_dir()?.join(state_dir)
    };
    let bind = weft_connect::config::worker::listener_address(listener)
        .map_err(|e| anyhow!("--listener {listener}: {e}"))?;

    let mut running = Vec::new();
    for w in &plan.workers {
        let worker = WorkerConfig::from_map_in(&worker_map(&plan, w, &state_dir), &state_dir)
            .with_context(|| format!("the worker for cluster {}", w.alias))?;
        let registry = registry_for(&worker)?;
        let herder = StandaloneHerder::new(worker, registry)
            .with_context(|| format!("the worker for cluster {}", w.alias))?;
        herder.set_worker_id(format!("mirror-maker/{}", w.alias));
        running.push(Running {
            alias: w.alias.clone(),
            herder,
        });
    }
    let herders: Vec<Arc<dyn Herder>> = running
        .iter()
        .map(|r| r.herder.clone() as Arc<dyn Herder>)
        .collect();
    weft_connect::metrics::install_all(&herders);

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .thread_name("weft-mirror-rest")
        .build()
        .context("cannot start the async runtime")?;
    let result = rt.block_on(async {
        let monitors: Vec<Monitor> = plan
            .workers
            .iter()
            .zip(&running)
            .flat_map(|(w, r)| {
                w.flows
                    .iter()
                    .map(|f| Monitor::start(f.clone(), r.herder.clone(), &w.bootstrap, &w.client))
            })
            .collect();
        let monitors = Arc::new(monitors);
        let mut app: Router = Router::new()
            .route("/flows", get(flows))
            .route("/health", get(health))
            .with_state(App {
                monitors: monitors.clone(),
            })
            .merge(weft_metrics::routes());
        for r in &running {
            app = app.nest(
                &format!("/clusters/{}", r.alias),
                weft_connect::rest::router(
                    r.herder.clone(),
                    weft_connect::rest::loggers::installed(),
                ),
            );
        }
        let tcp = tokio::net::TcpListener::bind(&bind)
            .await
            .with_context(|| format!("--listener {listener}: cannot listen on {bind}"))?;
        let local = tcp.local_addr()?;
        eprintln!("weft: mirror-maker REST listening on http://{local}");
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let server = tokio::spawn(async move {
            let mut rx = stop_rx;
            let _ = axum::serve(tcp, app)
                .with_graceful_shutdown(async move {
                    let _ = rx.wait_for(|s| *s).await;
                })
                .await;
        });

        let pairs: Vec<(Arc<StandaloneHerder>, String, TargetWorker)> = running
            .iter()
            .zip(&plan.workers)
            .map(|(r, w)| (r.herder.clone(), r.alias.clone(), w.clone()))
            .collect();
        let created = tokio::task::spawn_blocking(move || -> Result<()> {
            for (herder, alias, w) in pairs {
                create_connectors(&Running { alias, herder }, &w)?;
            }
            Ok(())
        })
        .await
        .map_err(|e| anyhow!("{e}"))
        .and_then(|r| r);
        if created.is_ok() {
            let flows: Vec<String> = plan
                .workers
                .iter()
                .flat_map(|w| w.flows.iter().map(|f| f.name()))
                .collect();
            eprintln!("weft: mirror-maker running flows {}", flows.join(", "));
            wait_for_signal().await;
            tracing::info!("shutting down");
        }
        let _ = stop_tx.send(true);
        let _ = server.await;
        if let Ok(m) = Arc::try_unwrap(monitors) {
            tokio::task::spawn_blocking(move || m.into_iter().for_each(Monitor::stop))
                .await
                .ok();
        }
        created
    });
    for r in &running {
        r.herder.shutdown();
    }
    result
}
