//! Connect's error answers: `{"error_code": N, "message": "..."}` with the HTTP status `N`, the
//! herder's refusals mapped to Connect's codes, and request bodies read without panicking
//! (malformed JSON is a 500 with the parser's message, as Connect's generic exception mapper
//! answers it).

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::api::HerderError;

/// Connect's `ErrorMessage` entity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorMessage {
    pub error_code: u16,
    pub message: String,
}

/// An error answer.
#[derive(Debug)]
pub enum ApiError {
    /// A status with Connect's error body.
    Status(StatusCode, String),
    /// 400 with the validation result as the body (an invalid connector config).
    Invalid(Box<crate::model::ConfigInfos>),
}

impl ApiError {
    pub fn not_found(msg: impl Into<String>) -> Self {
        ApiError::Status(StatusCode::NOT_FOUND, msg.into())
    }
    pub fn bad_request(msg: impl Into<String>) -> Self {
        ApiError::Status(StatusCode::BAD_REQUEST, msg.into())
    }
    pub fn internal(msg: impl Into<String>) -> Self {
        ApiError::Status(StatusCode::INTERNAL_SERVER_ERROR, msg.into())
    }
}

impl From<HerderError> for ApiError {
    fn from(e: HerderError) -> Self {
        match e {
            HerderError::NotFound(m) => ApiError::Status(StatusCode::NOT_FOUND, m),
            HerderError::Conflict(m) => ApiError::Status(StatusCode::CONFLICT, m),
            HerderError::InvalidConfig(infos) => ApiError::Invalid(infos),
            HerderError::BadRequest(m) => ApiError::Status(StatusCode::BAD_REQUEST, m),
            HerderError::Internal(m) => ApiError::Status(StatusCode::INTERNAL_SERVER_ERROR, m),
        }
    }
}

/// Connect's error body with `status`.
pub fn error_response(status: StatusCode, message: String) -> Response {
    (
        status,
        Json(ErrorMessage {
            error_code: status.as_u16(),
            message,
        }),
    )
        .into_response()
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match self {
            ApiError::Status(s, m) => error_response(s, m),
            ApiError::Invalid(infos) => invalid_config_response(&infos),
        }
    }
}

/// Connect's answer to an invalid connector config: its 400 error body, whose message lists
/// every error as Connect words it, plus the validation result itself (`name`, `error_count`,
/// `groups`, `configs`), so a client can read either.
fn invalid_config_response(infos: &crate::model::ConfigInfos) -> Response {
    let mut message = format!(
        "Connector configuration is invalid and contains the following {} error(s):",
        infos.error_count
    );
    for c in &infos.configs {
        for e in &c.value.errors {
            message.push('\n');
            message.push_str(e);
        }
    }
    message.push_str(
        "\nYou can also find the above list of errors at the endpoint \
         `/connector-plugins/{connectorType}/config/validate`",
    );
    let mut body = match serde_json::to_value(infos) {
        Ok(serde_json::Value::Object(m)) => m,
        _ => serde_json::Map::new(),
    };
    body.insert("error_code".into(), 400.into());
    body.insert("message".into(), message.into());
    (
        StatusCode::BAD_REQUEST,
        Json(serde_json::Value::Object(body)),
    )
        .into_response()
}

/// A JSON request body, whatever its content type (curl users forget the header), that turns
/// every failure into Connect's error body instead of axum's plain-text rejection.
pub struct Body<T>(pub T);

/// The largest request body read (a connector config is kilobytes).
pub const MAX_BODY_BYTES: usize = 4 << 20;

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for Body<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = Bytes::from_request(req, state).await.map_err(|e| {
            ApiError::Status(e.status(), format!("cannot read the request body: {e}"))
        })?;
        if bytes.len() > MAX_BODY_BYTES {
            return Err(ApiError::Status(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("the request body is larger than {MAX_BODY_BYTES} bytes"),
            ));
        }
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Err(ApiError::internal("the request needs a JSON body"));
        }
        serde_json::from_slice(&bytes)
            .map(Body)
            .map_err(|e| ApiError::internal(format!("cannot parse the JSON body: {e}")))
    }
}

/// A config map as Jackson reads Connect's `Map<String, String>`: numbers and booleans are
/// taken as their text.
pub fn config_from_json(
    v: serde_json::Map<String, serde_json::Value>,
) -> Result<crate::model::ConfigMap, ApiError> {
    let mut out = crate::model::ConfigMap::new();
    for (k, v) in v {
        let text = match v {
            serde_json::Value::String(s) => s,
            serde_json::Value::Number(n) => n.to_string(),
            serde_json::Value::Bool(b) => b.to_string(),
            serde_json::Value::Null => {
                return Err(ApiError::bad_request(format!("the value of `{k}` is null")))
            }
            _ => {
                return Err(ApiError::internal(format!(
                    "cannot parse the JSON body: the value of `{k}` is not text"
                )))
            }
        };
        out.insert(k, text);
    }
    Ok(out)
}
