//! Kafka Connect's REST API over a [`Herder`]: Connect's paths, bodies, status codes and error
//! body, served by axum. One file per resource; herder calls, which may block, run on tokio's
//! blocking pool so a slow connector operation never stalls the server.

mod connectors;
pub mod error;
pub mod loggers;
mod plugins;
mod root;
#[cfg(test)]
mod tests;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::http::StatusCode;
use axum::response::Response;
use axum::Router;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::api::Herder;
pub use error::{ApiError, ErrorMessage};
pub use loggers::{LogLevels, LoggerLevel};

/// What every handler reaches.
#[derive(Clone)]
pub(crate) struct AppState {
    pub(crate) herder: Arc<dyn Herder>,
    pub(crate) loggers: Arc<dyn LogLevels>,
}

/// Runs a herder call on the blocking pool; a panic in it becomes a 500, not a dead server.
pub(crate) async fn blocking<T, F>(state: &AppState, f: F) -> Result<T, ApiError>
where
    T: Send + 'static,
    F: FnOnce(&dyn Herder) -> T + Send + 'static,
{
    let herder = state.herder.clone();
    tokio::task::spawn_blocking(move || f(herder.as_ref()))
        .await
        .map_err(|e| ApiError::internal(format!("the request failed: {e}")))
}

async fn not_found() -> Response {
    error::error_response(StatusCode::NOT_FOUND, "HTTP 404 Not Found".into())
}

async fn method_not_allowed() -> Response {
    error::error_response(
        StatusCode::METHOD_NOT_ALLOWED,
        "HTTP 405 Method Not Allowed".into(),
    )
}

/// The whole API as a router.
pub fn router(herder: Arc<dyn Herder>, loggers: Arc<dyn LogLevels>) -> Router {
    let state = AppState { herder, loggers };
    Router::new()
        .merge(root::routes())
        .merge(connectors::routes())
        .merge(plugins::routes())
        .merge(loggers::routes())
        .merge(weft_metrics::routes())
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(state)
}

/// Why the REST server could not start.
#[derive(Debug, thiserror::Error)]
pub enum RestError {
    #[error("cannot listen on {address}: {source}")]
    Bind {
        address: String,
        source: std::io::Error,
    },
}

/// A running REST server: its bound addresses, and a shutdown.
pub struct RestServer {
    addresses: Vec<SocketAddr>,
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl RestServer {
    /// The addresses bound (a port 0 listener shows its real port here).
    pub fn addresses(&self) -> &[SocketAddr] {
        &self.addresses
    }

    /// Stops accepting, lets requests in flight finish, and waits for the listeners to close.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        for t in self.tasks {
            let _ = t.await;
        }
    }
}

/// Serves the API on every `host:port` of `listeners` (as [`crate::config::WorkerConfig`]'s
/// `rest_listeners` gives them), with the log-level control the binary installed
/// ([`loggers::install`]) or none.
pub async fn serve(herder: Arc<dyn Herder>, listeners: &[String]) -> Result<RestServer, RestError> {
    serve_with(herder, loggers::installed(), listeners).await
}

/// [`serve`] with an explicit log-level control.
pub async fn serve_with(
    herder: Arc<dyn Herder>,
    loggers: Arc<dyn LogLevels>,
    listeners: &[String],
) -> Result<RestServer, RestError> {
    let app = router(herder, loggers);
    let (stop, stopped) = watch::channel(false);
    let mut bound = Vec::new();
    for address in listeners {
        let listener = tokio::net::TcpListener::bind(address.as_str())
            .await
            .map_err(|source| RestError::Bind {
                address: address.clone(),
                source,
            })?;
        let local = listener.local_addr().map_err(|source| RestError::Bind {
            address: address.clone(),
            source,
        })?;
        bound.push((listener, local));
    }
    let mut addresses = Vec::new();
    let mut tasks = Vec::new();
    for (listener, local) in bound {
        addresses.push(local);
        let mut stopped = stopped.clone();
        let app = app.clone();
        tasks.push(tokio::spawn(async move {
            let signal = async move {
                let _ = stopped.wait_for(|s| *s).await;
            };
            if let Err(e) = axum::serve(listener, app)
                .with_graceful_shutdown(signal)
                .await
            {
                tracing::error!(%local, "REST listener failed: {e}");
            }
        }));
    }
    tracing::info!(?addresses, "Connect REST API listening");
    Ok(RestServer {
        addresses,
        stop,
        tasks,
    })
}
