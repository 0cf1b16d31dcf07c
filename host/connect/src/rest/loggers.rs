//! `/admin/loggers`: list, read and set log levels at run time, over a small trait the binary
//! implements (with tracing-subscriber's reloadable filter). Levels and answers as Connect's
//! (`{"level": "INFO", "last_modified": ms}`, a PUT answering the loggers it changed).

use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::error::Body;
use super::{ApiError, AppState};

/// Connect's `LoggerLevel`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoggerLevel {
    /// `ERROR`, `WARN`, `INFO`, `DEBUG`, `TRACE` (or `OFF`).
    pub level: String,
    /// When it was last set over the API, in ms since the epoch (`null` if never).
    pub last_modified: Option<i64>,
}

/// Run-time control of log levels. Logger names are tracing targets (`weft_connect`,
/// `weft_connect::task`); `root` is the default level.
pub trait LogLevels: Send + Sync + 'static {
    /// Every logger with a level set, `root` included.
    fn levels(&self) -> BTreeMap<String, LoggerLevel>;
    /// One logger's level: its own, or the one it inherits; `None` if the name is unknown.
    fn level(&self, logger: &str) -> Option<LoggerLevel>;
    /// Sets `logger` (and everything under it) to `level` (upper case, validated by the
    /// caller); returns the loggers changed.
    fn set_level(&self, logger: &str, level: &str) -> Result<Vec<String>, String>;
}

/// The levels Connect accepts (log4j's), and what each means here.
pub const LEVELS: &[&str] = &[
    "OFF", "FATAL", "ERROR", "WARN", "INFO", "DEBUG", "TRACE", "ALL",
];

/// Used when the process installed no control: reports nothing and refuses changes.
struct Unavailable;

impl LogLevels for Unavailable {
    fn levels(&self) -> BTreeMap<String, LoggerLevel> {
        BTreeMap::new()
    }
    fn level(&self, _: &str) -> Option<LoggerLevel> {
        None
    }
    fn set_level(&self, _: &str, _: &str) -> Result<Vec<String>, String> {
        Err("log levels cannot be changed in this process".into())
    }
}

static INSTALLED: OnceLock<Arc<dyn LogLevels>> = OnceLock::new();

/// Installs the process's log-level control (the binary does, once, at start-up); later calls
/// are ignored.
pub fn install(levels: Arc<dyn LogLevels>) {
    let _ = INSTALLED.set(levels);
}

/// The installed control, or one that refuses changes.
pub fn installed() -> Arc<dyn LogLevels> {
    INSTALLED
        .get()
        .cloned()
        .unwrap_or_else(|| Arc::new(Unavailable))
}

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/admin/loggers", get(list))
        .route("/admin/loggers/{logger}", get(one).put(set))
}

async fn list(State(s): State<AppState>) -> Json<BTreeMap<String, LoggerLevel>> {
    Json(s.loggers.levels())
}

async fn one(State(s): State<AppState>, Path(logger): Path<String>) -> Result<Response, ApiError> {
    match s.loggers.level(&logger) {
        Some(l) => Ok(Json(l).into_response()),
        None => Err(ApiError::not_found(format!("Logger {logger} not found."))),
    }
}

async fn set(
    State(s): State<AppState>,
    Path(logger): Path<String>,
    Body(body): Body<Map<String, Value>>,
) -> Result<Response, ApiError> {
    let level = match body.get("level") {
        Some(Value::String(l)) => l.clone(),
        _ => {
            return Err(ApiError::bad_request(
                "Desired 'level' parameter was not specified in request.",
            ))
        }
    };
    let upper = level.to_ascii_uppercase();
    if !LEVELS.contains(&upper.as_str()) {
        // Connect answers an unknown level with 404.
        return Err(ApiError::not_found(format!("invalid log level '{level}'.")));
    }
    let changed = s
        .loggers
        .set_level(&logger, &upper)
        .map_err(ApiError::internal)?;
    Ok(Json(changed).into_response())
}
