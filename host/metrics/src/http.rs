//! The `/metrics` route (merged into the Connect REST router when the worker runs, whose `/health`
//! reports the same checks), and a server of `/metrics` and `/health` for `metrics.listener`.

use std::net::SocketAddr;

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::registry::global;

async fn metrics() -> Response {
    // Collectors take short locks and read /proc: not on an async worker.
    match tokio::task::spawn_blocking(|| global().render()).await {
        Ok(Ok(text)) => ([(header::CONTENT_TYPE, prometheus::TEXT_FORMAT)], text).into_response(),
        Ok(Err(e)) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

async fn health() -> Response {
    match tokio::task::spawn_blocking(|| global().health()).await {
        Ok(report) => {
            let code = if report.healthy() {
                StatusCode::OK
            } else {
                StatusCode::SERVICE_UNAVAILABLE
            };
            (code, axum::Json(report.to_json())).into_response()
        }
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

/// `GET /metrics`, for any router state (the Connect REST router merges it; its own `/health`
/// answers with [`crate::global`]'s checks).
pub fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new().route("/metrics", get(metrics))
}

/// Why the metrics listener could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("metrics.listener {address}: cannot listen: {source}")]
    Bind {
        address: String,
        source: std::io::Error,
    },
}

/// A running metrics listener.
pub struct MetricsServer {
    pub address: SocketAddr,
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl MetricsServer {
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }
}

/// Serves `/metrics` and `/health` on `address` (`host:port`; a leading `http://` is accepted).
pub async fn serve(address: &str) -> Result<MetricsServer, ServeError> {
    let hostport = address.strip_prefix("http://").unwrap_or(address);
    let hostport = hostport.trim_end_matches('/');
    let hostport = if hostport.starts_with(':') {
        format!("0.0.0.0{hostport}")
    } else {
        hostport.to_string()
    };
    let bind_err = |source| ServeError::Bind {
        address: address.to_string(),
        source,
    };
    let listener = tokio::net::TcpListener::bind(&hostport)
        .await
        .map_err(bind_err)?;
    let local = listener.local_addr().map_err(bind_err)?;
    let (stop, mut stopped) = watch::channel(false);
    let app: Router = routes().route("/health", get(health));
    let task = tokio::spawn(async move {
        let signal = async move {
            let _ = stopped.wait_for(|s| *s).await;
        };
        if let Err(e) = axum::serve(listener, app)
            .with_graceful_shutdown(signal)
            .await
        {
            tracing::error!(%local, "metrics listener failed: {e}");
        }
    });
    Ok(MetricsServer {
        address: local,
        stop,
        task,
    })
}
