//! `/connector-plugins`: the plugins (connectors only unless `?connectorsOnly=false`), a
//! plugin's config definition, and a config validated against a plugin.

use axum::extract::{Path, RawQuery, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, put};
use axum::{Json, Router};
use serde_json::{Map, Value};

use super::connectors::query_bool;
use super::error::{config_from_json, Body};
use super::{blocking, ApiError, AppState};

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/connector-plugins", get(list))
        .route("/connector-plugins/{p}/config", get(config_def))
        .route("/connector-plugins/{p}/config/validate", put(validate))
}

async fn list(State(s): State<AppState>, RawQuery(q): RawQuery) -> Result<Response, ApiError> {
    let pairs: Vec<(String, String)> = q
        .and_then(|q| serde_urlencoded::from_str(&q).ok())
        .unwrap_or_default();
    let connectors_only = query_bool(&pairs, "connectorsOnly", true);
    let plugins = blocking(&s, move |h| h.plugins(connectors_only)).await?;
    Ok(Json(plugins).into_response())
}

async fn config_def(
    State(s): State<AppState>,
    Path(p): Path<String>,
) -> Result<Response, ApiError> {
    let defs = blocking(&s, move |h| h.plugin_config(&p)).await??;
    Ok(Json(defs).into_response())
}

/// Connect compares class names without a trailing `Connector` (its alias rule).
fn normalized(name: &str) -> &str {
    match name.strip_suffix("Connector") {
        Some(n) if !n.is_empty() => n,
        _ => name,
    }
}

async fn validate(
    State(s): State<AppState>,
    Path(p): Path<String>,
    Body(body): Body<Map<String, Value>>,
) -> Result<Response, ApiError> {
    let config = config_from_json(body)?;
    if let Some(included) = config.get("connector.class") {
        if !normalized(included).ends_with(normalized(&p)) {
            return Err(ApiError::bad_request(format!(
                "Included connector type {included} does not match request type {p}"
            )));
        }
    }
    let infos = blocking(&s, move |h| h.validate(&p, config)).await??;
    Ok(Json(infos).into_response())
}
