//! `GET /` (worker version and cluster id) and `GET /health` (Connect 3.9+'s liveness answer:
//! the server only listens once the herder is up, so it answers "healthy").

use axum::extract::State;
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
}

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(server_info))
        .route("/health", get(health))
}

async fn server_info(State(s): State<AppState>) -> Result<Json<ServerInfo>, ApiError> {
    Ok(Json(blocking(&s, |h| h.server_info()).await?))
}

async fn health(State(s): State<AppState>) -> Result<Json<WorkerStatus>, ApiError> {
    // A herder call proves the worker answers, not only the listener.
    blocking(&s, |h| h.connectors().len()).await?;
    Ok(Json(WorkerStatus {
        status: "healthy".into(),
        message: "Worker has completed startup and is ready to handle requests.".into(),
    }))
}
