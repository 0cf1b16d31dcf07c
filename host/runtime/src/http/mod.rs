//! The `http` capability: the grant and settings (`grant`), the blocking client with retries
//! (`client`), and here the `weft:plugin/http` import, whose network waits run inside
//! [`HostState::wait`] so they are not charged to the plugin's call deadline.

mod client;
mod grant;

pub use grant::{
    HttpGrant, UrlPrefix, KEY_HTTP, KEY_HTTP_BACKOFF, KEY_HTTP_BACKOFF_MAX, KEY_HTTP_CA,
    KEY_HTTP_CONNECT_TIMEOUT, KEY_HTTP_RESPONSE_MAX, KEY_HTTP_RETRIES, KEY_HTTP_TIMEOUT,
};

use std::sync::Arc;

use crate::bindings::http::weft::plugin::http as wit;
use crate::bindings::types::{ErrorKind, PluginError};
use crate::host::{HostState, LogLevel};
use client::{Client, Failure, Outgoing};

/// Most requests in one `send-all`.
const BATCH_MAX: usize = 10_000;

/// The client of one store, made on first use.
#[derive(Default)]
pub(crate) struct HttpState {
    client: Option<Arc<Client>>,
}

impl HostState {
    /// The store's client; made on first use (on the task's thread: it may read the CA file).
    fn http_client(&mut self) -> Result<Arc<Client>, PluginError> {
        if let Some(c) = &self.http.client {
            return Ok(c.clone());
        }
        let c =
            Arc::new(Client::new(self.http_grant.clone()).map_err(|m| error(ErrorKind::Fatal, m))?);
        self.http.client = Some(c.clone());
        Ok(c)
    }

    fn http_send(
        &mut self,
        client: &Client,
        req: wit::Request,
    ) -> Result<wit::Response, PluginError> {
        let out = Outgoing {
            method: req.method,
            url: req.url,
            headers: req.headers,
            body: req.body,
        };
        let log = self.log.clone();
        let plugin = self.plugin.clone();
        let mut on_retry = |line: &str| log(&plugin, LogLevel::Warn, line);
        match self.wait(|| client.send(&out, &mut on_retry)) {
            Ok(a) => Ok(wit::Response {
                status: a.status,
                headers: a.headers,
                body: a.body,
                body_truncated: a.truncated,
                attempts: a.attempts,
            }),
            Err(Failure::Refused(m)) => Err(error(ErrorKind::Fatal, m)),
            Err(Failure::Unanswered(m)) => Err(error(ErrorKind::Retriable, m)),
        }
    }
}

fn error(kind: ErrorKind, message: String) -> PluginError {
    PluginError {
        kind,
        message,
        retry_after_ms: None,
    }
}

impl wit::Host for HostState {
    fn check_url(&mut self, url: String) -> Result<(), PluginError> {
        self.http_grant
            .check(&url)
            .map_err(|m| error(ErrorKind::Fatal, m))
    }

    fn send(&mut self, req: wit::Request) -> Result<wit::Response, PluginError> {
        let client = self.http_client()?;
        self.http_send(&client, req)
    }

    fn send_all(&mut self, reqs: Vec<wit::Request>) -> Vec<Result<wit::Response, PluginError>> {
        let client = match self.http_client() {
            Ok(c) => c,
            Err(e) => return reqs.iter().map(|_| Err(e.clone())).collect(),
        };
        let n = reqs.len();
        let mut out = Vec::with_capacity(n.min(BATCH_MAX));
        let mut unanswered: Option<String> = None;
        for (i, req) in reqs.into_iter().enumerate() {
            if i >= BATCH_MAX {
                out.push(Err(error(
                    ErrorKind::Fatal,
                    format!("not sent: more than {BATCH_MAX} requests in one send-all"),
                )));
                continue;
            }
            // Once the endpoint gave no answer through all retries, the rest would only wait
            // as long again: they fail at once with the same reason.
            if let Some(why) = &unanswered {
                out.push(Err(error(
                    ErrorKind::Retriable,
                    format!("not sent: an earlier request of the batch failed: {why}"),
                )));
                continue;
            }
            let r = self.http_send(&client, req);
            if let Err(e) = &r {
                if matches!(e.kind, ErrorKind::Retriable) {
                    unanswered = Some(e.message.clone());
                }
            }
            out.push(r);
        }
        out
    }
}
