//! `/connectors` and everything under it, with Connect's status codes: 201 on create (with a
//! `Location`), 200 on update, 204 on delete/stop/task restart, 202 on pause/resume/topic
//! reset and on a restart that includes tasks (with the status as body), 409 on a conflict, 404
//! for an unknown connector or task, 400 for a bad request or an invalid config.

use std::collections::BTreeMap;

use axum::extract::{Path, RawQuery, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use serde_json::{json, Map, Value};

use super::error::{config_from_json, Body};
use super::{blocking, ApiError, AppState};
use crate::api::RestartOutcome;
use crate::config::files::parse_initial_state;
use crate::model::{ConfigMap, ConnectorOffsets, TargetState};

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/connectors", get(list).post(create))
        .route("/connectors/{c}", get(info).delete(delete))
        .route(
            "/connectors/{c}/config",
            get(config).put(put_config).patch(patch_config),
        )
        .route("/connectors/{c}/status", get(status))
        .route("/connectors/{c}/restart", post(restart))
        .route("/connectors/{c}/pause", put(pause))
        .route("/connectors/{c}/resume", put(resume))
        .route("/connectors/{c}/stop", put(stop))
        .route("/connectors/{c}/tasks", get(tasks))
        .route("/connectors/{c}/tasks/{t}/status", get(task_status))
        .route("/connectors/{c}/tasks/{t}/restart", post(task_restart))
        .route("/connectors/{c}/topics", get(topics))
        .route("/connectors/{c}/topics/reset", put(reset_topics))
        .route(
            "/connectors/{c}/offsets",
            get(offsets).patch(alter_offsets).delete(reset_offsets),
        )
}

/// Query parameters, repeated ones kept (`?expand=status&expand=info`).
fn query_pairs(q: Option<String>) -> Vec<(String, String)> {
    q.and_then(|q| serde_urlencoded::from_str::<Vec<(String, String)>>(&q).ok())
        .unwrap_or_default()
}

/// A boolean query parameter as JAX-RS reads one (`Boolean.valueOf`: only "true" is true).
pub(crate) fn query_bool(pairs: &[(String, String)], key: &str, default: bool) -> bool {
    pairs
        .iter()
        .rev()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.eq_ignore_ascii_case("true"))
        .unwrap_or(default)
}

fn to_value<T: serde::Serialize>(v: &T) -> Result<Value, ApiError> {
    serde_json::to_value(v).map_err(|e| ApiError::internal(e.to_string()))
}

async fn list(State(s): State<AppState>, RawQuery(q): RawQuery) -> Result<Response, ApiError> {
    let pairs = query_pairs(q);
    let expand: Vec<String> = pairs
        .iter()
        .filter(|(k, _)| k == "expand")
        .map(|(_, v)| v.clone())
        .collect();
    if !pairs.iter().any(|(k, _)| k == "expand") {
        let names = blocking(&s, |h| h.connectors()).await?;
        return Ok(Json(names).into_response());
    }
    let out = blocking(&s, move |h| {
        let mut out = Map::new();
        for name in h.connectors() {
            let mut entry = Map::new();
            let mut gone = false;
            for e in &expand {
                let v = match e.as_str() {
                    "status" => h.connector_status(&name).map(serde_json::to_value),
                    "info" => h.connector_info(&name).map(serde_json::to_value),
                    _ => continue,
                };
                match v {
                    Ok(Ok(v)) => {
                        entry.insert(e.clone(), v);
                    }
                    // Deleted while we looked: left out, as Connect does.
                    _ => gone = true,
                }
            }
            if !gone {
                out.insert(name, Value::Object(entry));
            }
        }
        out
    })
    .await?;
    Ok(Json(Value::Object(out)).into_response())
}

/// Connect's check that a config's `name` is the connector's, else adds it.
fn check_name(name: &str, config: &mut ConfigMap) -> Result<(), ApiError> {
    match config.get("name") {
        Some(included) if included != name => Err(ApiError::bad_request(format!(
            "Connector name configuration ({included}) doesn't match connector name in the URL \
             ({name})"
        ))),
        Some(_) => Ok(()),
        None => {
            config.insert("name".into(), name.to_string());
            Ok(())
        }
    }
}

fn created(name: &str, body: Value) -> Response {
    let location = format!("/connectors/{}", encode_path(name));
    (
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        Json(body),
    )
        .into_response()
}

/// Percent-encodes a path segment.
fn encode_path(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

async fn create(
    State(s): State<AppState>,
    Body(body): Body<Map<String, Value>>,
) -> Result<Response, ApiError> {
    let name = match body.get("name") {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(n)) => n.trim().to_string(),
        Some(_) => return Err(ApiError::bad_request("`name` must be text")),
    };
    let mut config = match body.get("config") {
        Some(Value::Object(m)) => config_from_json(m.clone())?,
        _ => {
            return Err(ApiError::bad_request(
                "the request needs a `config` object: {\"name\": ..., \"config\": {...}}",
            ))
        }
    };
    let initial_state = match body.get("initial_state") {
        None | Some(Value::Null) => None,
        Some(Value::String(v)) => Some(parse_initial_state(v).ok_or_else(|| {
            ApiError::bad_request(format!(
                "initial_state {v} is not one of RUNNING, PAUSED, STOPPED"
            ))
        })?),
        Some(_) => return Err(ApiError::bad_request("`initial_state` must be text")),
    };
    check_name(&name, &mut config)?;
    let n = name.clone();
    let (_, info) = blocking(&s, move |h| {
        h.put_connector_config(&n, config, initial_state, false)
    })
    .await??;
    Ok(created(&name, to_value(&info)?))
}

async fn info(State(s): State<AppState>, Path(c): Path<String>) -> Result<Response, ApiError> {
    let info = blocking(&s, move |h| h.connector_info(&c)).await??;
    Ok(Json(info).into_response())
}

async fn delete(State(s): State<AppState>, Path(c): Path<String>) -> Result<StatusCode, ApiError> {
    blocking(&s, move |h| h.delete_connector(&c)).await??;
    Ok(StatusCode::NO_CONTENT)
}

async fn config(State(s): State<AppState>, Path(c): Path<String>) -> Result<Response, ApiError> {
    let info = blocking(&s, move |h| h.connector_info(&c)).await??;
    Ok(Json(info.config).into_response())
}

async fn put_config(
    State(s): State<AppState>,
    Path(c): Path<String>,
    Body(body): Body<Map<String, Value>>,
) -> Result<Response, ApiError> {
    let mut config = config_from_json(body)?;
    check_name(&c, &mut config)?;
    let name = c.clone();
    let (was_created, info) = blocking(&s, move |h| {
        h.put_connector_config(&name, config, None, true)
    })
    .await??;
    if was_created {
        Ok(created(&c, to_value(&info)?))
    } else {
        Ok(Json(info).into_response())
    }
}

async fn patch_config(
    State(s): State<AppState>,
    Path(c): Path<String>,
    Body(body): Body<Map<String, Value>>,
) -> Result<Response, ApiError> {
    let mut patch = BTreeMap::new();
    for (k, v) in body {
        let v = match v {
            Value::Null => None,
            Value::String(s) => Some(s),
            Value::Number(n) => Some(n.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            _ => {
                return Err(ApiError::internal(format!(
                    "cannot parse the JSON body: the value of `{k}` is not text"
                )))
            }
        };
        patch.insert(k, v);
    }
    if let Some(Some(n)) = patch.get("name") {
        if *n != c {
            return Err(ApiError::bad_request(format!(
                "Connector name configuration ({n}) doesn't match connector name in the URL ({c})"
            )));
        }
    }
    let info = blocking(&s, move |h| h.patch_connector_config(&c, patch)).await??;
    Ok(Json(info).into_response())
}

async fn status(State(s): State<AppState>, Path(c): Path<String>) -> Result<Response, ApiError> {
    let st = blocking(&s, move |h| h.connector_status(&c)).await??;
    Ok(Json(st).into_response())
}

async fn restart(
    State(s): State<AppState>,
    Path(c): Path<String>,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    let pairs = query_pairs(q);
    let include_tasks = query_bool(&pairs, "includeTasks", false);
    let only_failed = query_bool(&pairs, "onlyFailed", false);
    let outcome = blocking(&s, move |h| {
        h.restart_connector(&c, include_tasks, only_failed)
    })
    .await??;
    Ok(match outcome {
        RestartOutcome::ConnectorOnly => StatusCode::NO_CONTENT.into_response(),
        RestartOutcome::WithTasks(st) => (StatusCode::ACCEPTED, Json(st)).into_response(),
    })
}

async fn set_state(s: AppState, c: String, state: TargetState) -> Result<(), ApiError> {
    blocking(&s, move |h| h.set_target_state(&c, state)).await??;
    Ok(())
}

async fn pause(State(s): State<AppState>, Path(c): Path<String>) -> Result<StatusCode, ApiError> {
    set_state(s, c, TargetState::Paused).await?;
    Ok(StatusCode::ACCEPTED)
}

async fn resume(State(s): State<AppState>, Path(c): Path<String>) -> Result<StatusCode, ApiError> {
    set_state(s, c, TargetState::Running).await?;
    Ok(StatusCode::ACCEPTED)
}

async fn stop(State(s): State<AppState>, Path(c): Path<String>) -> Result<StatusCode, ApiError> {
    set_state(s, c, TargetState::Stopped).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn tasks(State(s): State<AppState>, Path(c): Path<String>) -> Result<Response, ApiError> {
    let t = blocking(&s, move |h| h.task_configs(&c)).await??;
    Ok(Json(t).into_response())
}

/// A task id from the path; anything but a number is an unknown resource, as JAX-RS answers.
fn task_id(t: &str) -> Result<u32, ApiError> {
    t.parse()
        .map_err(|_| ApiError::not_found("HTTP 404 Not Found"))
}

async fn task_status(
    State(s): State<AppState>,
    Path((c, t)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let t = task_id(&t)?;
    let st = blocking(&s, move |h| h.task_status(&c, t)).await??;
    Ok(Json(st).into_response())
}

async fn task_restart(
    State(s): State<AppState>,
    Path((c, t)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let t = task_id(&t)?;
    blocking(&s, move |h| h.restart_task(&c, t)).await??;
    Ok(StatusCode::NO_CONTENT)
}

async fn topics(State(s): State<AppState>, Path(c): Path<String>) -> Result<Response, ApiError> {
    let name = c.clone();
    let topics = blocking(&s, move |h| h.active_topics(&name)).await??;
    Ok(Json(json!({ c: { "topics": topics } })).into_response())
}

async fn reset_topics(
    State(s): State<AppState>,
    Path(c): Path<String>,
) -> Result<StatusCode, ApiError> {
    blocking(&s, move |h| h.reset_active_topics(&c)).await??;
    Ok(StatusCode::ACCEPTED)
}

async fn offsets(State(s): State<AppState>, Path(c): Path<String>) -> Result<Response, ApiError> {
    let o = blocking(&s, move |h| h.offsets(&c)).await??;
    Ok(Json(o).into_response())
}

async fn alter_offsets(
    State(s): State<AppState>,
    Path(c): Path<String>,
    Body(body): Body<Value>,
) -> Result<Response, ApiError> {
    let offsets: ConnectorOffsets = match body.get("offsets") {
        None | Some(Value::Null) => ConnectorOffsets::default(),
        Some(_) => serde_json::from_value(body)
            .map_err(|e| ApiError::internal(format!("cannot parse the JSON body: {e}")))?,
    };
    if offsets.offsets.is_empty() {
        return Err(ApiError::bad_request(
            "Partitions / offsets need to be provided for an alter offsets request",
        ));
    }
    let message = blocking(&s, move |h| h.alter_offsets(&c, offsets)).await??;
    Ok(Json(json!({ "message": message })).into_response())
}

async fn reset_offsets(
    State(s): State<AppState>,
    Path(c): Path<String>,
) -> Result<Response, ApiError> {
    let message = blocking(&s, move |h| h.reset_offsets(&c)).await??;
    Ok(Json(json!({ "message": message })).into_response())
}
