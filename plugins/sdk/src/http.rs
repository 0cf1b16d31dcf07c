//! The `http` capability for plugins: send requests to the URL prefixes the plugin's config
//! grants in `capability.http.urls`. The host applies timeouts, TLS, retries of 429/5xx (with
//! backoff honouring `Retry-After`) and a cap on response bodies; waits do not count against
//! the plugin's call deadline. Calling any function here makes the plugin import the
//! capability, and the host then refuses to instantiate it unless the config grants it.
//! Natively (plugin unit tests) there is no host: every call fails with a fatal error.

#[cfg(target_arch = "wasm32")]
use crate::error::ErrorKind;
use crate::error::{PluginError, Result};

#[cfg(target_arch = "wasm32")]
mod bindings {
    wit_bindgen::generate!({
        world: "capability-http",
        path: "../../wit",
        runtime_path: "::weft_plugin_sdk::__rt::rt",
        with: { "weft:plugin/types@0.2.0": crate::__bindings::weft::plugin::types },
    });
}

#[cfg(target_arch = "wasm32")]
use bindings::weft::plugin::http as wit;

/// One request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Request {
    /// `GET`, `POST`, `PUT`, ...
    pub method: String,
    /// Must lie under a granted prefix.
    pub url: String,
    /// Sent in order.
    pub headers: Vec<(String, String)>,
    /// May be empty.
    pub body: Vec<u8>,
}

impl Request {
    /// A request with no headers and an empty body.
    pub fn new(method: impl Into<String>, url: impl Into<String>) -> Self {
        Request {
            method: method.into(),
            url: url.into(),
            ..Request::default()
        }
    }
}

/// The final answer to a request, after the host's retries.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Response {
    /// HTTP status code.
    pub status: u16,
    /// Response headers (names in lower case).
    pub headers: Vec<(String, String)>,
    /// The body, at most `capability.http.response.max.bytes`.
    pub body: Vec<u8>,
    /// The body was longer than the cap and was cut.
    pub body_truncated: bool,
    /// How many times the host sent the request.
    pub attempts: u32,
}

impl Response {
    /// The first header named `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// 2xx.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

/// Fails (fatal, naming the URL and `capability.http.urls`) unless `url` is granted. Call it
/// when a task starts, so that a connector pointed at an ungranted endpoint fails to start.
pub fn check_url(url: &str) -> Result<()> {
    #[cfg(target_arch = "wasm32")]
    return wit::check_url(url).map_err(from_wit);
    #[cfg(not(target_arch = "wasm32"))]
    return Err(no_host(url));
}

/// Sends one request. `Err` is a URL outside the grant or a malformed request (fatal), or a
/// request that got no answer through the host's retries (retriable); any status is `Ok`.
pub fn send(req: &Request) -> Result<Response> {
    #[cfg(target_arch = "wasm32")]
    return wit::send(&to_wit(req))
        .map(from_wit_response)
        .map_err(from_wit);
    #[cfg(not(target_arch = "wasm32"))]
    return Err(no_host(&req.url));
}

/// Sends many requests in one call to the host, in order; one result per request. After one
/// gets no answer, the host fails the rest at once with the same reason.
pub fn send_all(reqs: &[Request]) -> Vec<Result<Response>> {
    #[cfg(target_arch = "wasm32")]
    {
        let list: Vec<wit::Request> = reqs.iter().map(to_wit).collect();
        wit::send_all(&list)
            .into_iter()
            .map(|r| r.map(from_wit_response).map_err(from_wit))
            .collect()
    }
    #[cfg(not(target_arch = "wasm32"))]
    reqs.iter().map(|r| Err(no_host(&r.url))).collect()
}

#[cfg(not(target_arch = "wasm32"))]
fn no_host(url: &str) -> PluginError {
    PluginError::fatal(format!(
        "no host to send HTTP requests to `{url}` (native build)"
    ))
}

#[cfg(target_arch = "wasm32")]
fn to_wit(r: &Request) -> wit::Request {
    wit::Request {
        method: r.method.clone(),
        url: r.url.clone(),
        headers: r.headers.clone(),
        body: r.body.clone(),
    }
}

#[cfg(target_arch = "wasm32")]
fn from_wit_response(r: wit::Response) -> Response {
    Response {
        status: r.status,
        headers: r.headers,
        body: r.body,
        body_truncated: r.body_truncated,
        attempts: r.attempts,
    }
}

#[cfg(target_arch = "wasm32")]
fn from_wit(e: crate::__bindings::weft::plugin::types::PluginError) -> PluginError {
    use crate::__bindings::weft::plugin::types::ErrorKind as K;
    PluginError {
        kind: match e.kind {
            K::Retriable => ErrorKind::Retriable,
            K::Fatal => ErrorKind::Fatal,
        },
        message: e.message,
        retry_after_ms: e.retry_after_ms,
    }
}
