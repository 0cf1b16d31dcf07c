//! `GET /` (worker version and cluster id) and `GET /health` (Connect 3.9+'s liveness answer:
//! the server only listens once the herder is up, so it answers "healthy" unless one of the
//! process's checks — broker serving, log directories online — fails: then 503 "unhealthy").

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

use super::{blocking, ApiError, AppState};
use crate::model::ServerInfo;

/// Connect's `WorkerStatus`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkerStatus {
    pub status: String,
    pub message: String,
    /// Weft's checks of the whole process (broker, log directories, worker), by name, when one
    /// fails.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub checks: Option<serde_json::Value>,
}

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(server_info))
        .route("/health", get(health))
}

async fn server_info(State(s): State<AppState>) -> Result<Json<ServerInfo>, ApiError> {
    Ok(Json(blocking(&s, |h| h.server_info()).await?))
}

async fn health(State(s): State<AppState>) -> Result<Response, ApiError> {
    // A herder call proves the worker answers, not only the listener; the process's checks
    // (weft-metrics: broker serving, log directories online) decide between 200 and 503.
    let report = blocking(&s, |h| {
        let _ = h.connectors();
        weft_metrics::global().health()
    })
    .await?;
    let (code, status, message) = if report.healthy() {
        (
            StatusCode::OK,
            "healthy",
            "Worker has completed startup and is ready to handle requests.".to_string(),
        )
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            "unhealthy",
            report.failures(),
        )
    };
    let body = WorkerStatus {
        status: status.into(),
        message,
        // Connect's exact body while healthy; what failed when not.
        checks: (!report.healthy()).then(|| report.checks_json()),
    };
    Ok((code, Json(body)).into_response())
}
