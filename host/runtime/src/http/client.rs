//! Sending one request under a grant: a blocking ureq agent (runs on the task's own thread),
//! retries of 429, 5xx and failed attempts with exponential backoff honouring `Retry-After`,
//! no redirects (a redirect could leave the grant), and the response body cut at the cap.

use std::io::Read;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use ureq::http::{HeaderName, HeaderValue, Method, Request, Response};
use ureq::tls::{Certificate, PemItem, RootCerts, TlsConfig};
use ureq::{Agent, Body};

use super::grant::{HttpGrant, KEY_HTTP_CA};

/// A request as the plugin gave it.
pub(crate) struct Outgoing {
    pub(crate) method: String,
    pub(crate) url: String,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) body: Vec<u8>,
}

/// The final answer.
pub(crate) struct Answer {
    pub(crate) status: u16,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) body: Vec<u8>,
    pub(crate) truncated: bool,
    pub(crate) attempts: u32,
}

/// Why a request got no answer.
#[derive(Debug)]
pub(crate) enum Failure {
    /// Retrying cannot help: outside the grant, a malformed method or header.
    Refused(String),
    /// No answer within the retries (connection refused, timeout, TLS failure...).
    Unanswered(String),
}

/// Most response headers kept (ureq already bounds their total size).
const HEADERS_MAX: usize = 128;

/// One plugin instance's HTTP client.
pub(crate) struct Client {
    agent: Agent,
    grant: HttpGrant,
}

/// Receives a line about each failed attempt, for the worker's log.
pub(crate) type OnRetry<'a> = &'a mut dyn FnMut(&str);

impl Client {
    /// A client for `grant`; an unreadable CA file or one without certificates is an error
    /// naming the key and the file.
    pub(crate) fn new(grant: HttpGrant) -> Result<Client, String> {
        let mut tls = TlsConfig::builder();
        if let Some(path) = &grant.ca_file {
            let certs = ca_certificates(path)
                .map_err(|e| format!("`{KEY_HTTP_CA}` ({}): {e}", path.display()))?;
            tls = tls.root_certs(RootCerts::Specific(Arc::new(certs)));
        }
        let agent = Agent::config_builder()
            .tls_config(tls.build())
            .timeout_global(Some(grant.timeout))
            .timeout_connect(Some(grant.connect_timeout))
            .http_status_as_error(false)
            .max_redirects(0)
            .max_redirects_will_error(false)
            .user_agent(concat!("weft/", env!("CARGO_PKG_VERSION")))
            .build()
            .new_agent();
        Ok(Client { agent, grant })
    }

    /// Sends `req`, retrying as the grant's settings say.
    pub(crate) fn send(&self, req: &Outgoing, on_retry: OnRetry<'_>) -> Result<Answer, Failure> {
        self.grant.check(&req.url).map_err(Failure::Refused)?;
        let method = Method::from_bytes(req.method.as_bytes())
            .map_err(|_| Failure::Refused(format!("`{}` is not an HTTP method", req.method)))?;
        let mut headers = Vec::with_capacity(req.headers.len());
        for (k, v) in &req.headers {
            let name = HeaderName::from_bytes(k.as_bytes())
                .map_err(|_| Failure::Refused(format!("`{k}` is not a valid header name")))?;
            let value = HeaderValue::from_str(v)
                .map_err(|_| Failure::Refused(format!("the value of header `{k}` is invalid")))?;
            headers.push((name, value));
        }
        let mut attempt = 0u32;
        let mut backoff = self.grant.backoff;
        loop {
            attempt += 1;
            let mut builder = Request::builder().method(method.clone()).uri(&req.url);
            for (k, v) in &headers {
                builder = builder.header(k, v);
            }
            let request = builder
                .body(req.body.as_slice())
                .map_err(|e| Failure::Refused(format!("cannot build the request: {e}")))?;
            let outcome = self.agent.run(request);
            let last = attempt > self.grant.retries;
            let (wait, why) = match outcome {
                Ok(resp) => {
                    let status = resp.status().as_u16();
                    let retry = status == 429 || (500..600).contains(&status);
                    let after = retry_after(&resp);
                    // A Retry-After beyond what the host waits goes back to the plugin.
                    let too_long = after.is_some_and(|a| a > self.grant.backoff_max);
                    if !retry || last || too_long {
                        return Ok(self.answer(resp, attempt));
                    }
                    (after.unwrap_or(backoff), format!("answered {status}"))
                }
                Err(e) => {
                    if let Some(why) = untrusted_certificate(&e) {
                        // Retrying cannot mend a certificate the client does not trust.
                        return Err(Failure::Refused(format!(
                            "{} {}: TLS: the server's certificate is not trusted ({why}); give \
                             the CA that signed it in `{KEY_HTTP_CA}` (a PEM file)",
                            req.method, req.url
                        )));
                    }
                    let why = describe(&e);
                    if last {
                        return Err(Failure::Unanswered(format!(
                            "{} {} failed after {attempt} attempt(s): {why}",
                            req.method, req.url
                        )));
                    }
                    (backoff, why)
                }
            };
            on_retry(&format!(
                "{} {} {why} (attempt {attempt} of {}); retrying in {} ms",
                req.method,
                req.url,
                self.grant.retries + 1,
                wait.as_millis()
            ));
            std::thread::sleep(wait);
            backoff = (backoff * 2).min(self.grant.backoff_max);
        }
    }

    fn answer(&self, resp: Response<Body>, attempts: u32) -> Answer {
        let (parts, body) = resp.into_parts();
        let headers = parts
            .headers
            .iter()
            .take(HEADERS_MAX)
            .map(|(k, v)| {
                (
                    k.as_str().to_string(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect();
        let max = self.grant.response_max_bytes;
        let mut bytes = Vec::new();
        // One byte past the cap tells a cut body from one exactly at the cap. A body that
        // breaks off is kept as far as it came: the status is what a caller acts on.
        let _ = body
            .into_with_config()
            .limit(u64::MAX)
            .reader()
            .take(max as u64 + 1)
            .read_to_end(&mut bytes);
        let truncated = bytes.len() > max;
        bytes.truncate(max);
        Answer {
            status: parts.status.as_u16(),
            headers,
            body: bytes,
            truncated,
            attempts,
        }
    }
}

/// The wait a `Retry-After` header asks for: delay-seconds or an HTTP date.
fn retry_after(resp: &Response<Body>) -> Option<Duration> {
    let v = resp.headers().get("retry-after")?.to_str().ok()?.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = httpdate::parse_http_date(v).ok()?;
    Some(
        at.duration_since(SystemTime::now())
            .unwrap_or(Duration::ZERO),
    )
}

/// The CA certificates of a PEM file, bounded before it is read.
fn ca_certificates(path: &std::path::Path) -> Result<Vec<Certificate<'static>>, String> {
    let pem = crate::ca_file::read_ca_file(path)?;
    let mut certs = Vec::new();
    for item in ureq::tls::parse_pem(&pem) {
        if let PemItem::Certificate(c) = item.map_err(|e| format!("not PEM: {e}"))? {
            certs.push(c);
        }
    }
    if certs.is_empty() {
        return Err("holds no PEM certificate".into());
    }
    Ok(certs)
}

/// rustls's refusal of the server's certificate (unknown issuer, wrong name, expired), whether
/// ureq reports it as such or inside an I/O error.
fn untrusted_certificate(e: &ureq::Error) -> Option<String> {
    let rustls_error = match e {
        ureq::Error::Rustls(r) => Some(r),
        ureq::Error::Io(io) => io.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>()),
        _ => None,
    };
    match rustls_error {
        Some(r @ rustls::Error::InvalidCertificate(_)) => Some(r.to_string()),
        _ => None,
    }
}

fn describe(e: &ureq::Error) -> String {
    match e {
        ureq::Error::Timeout(t) => format!("timed out ({t})"),
        ureq::Error::ConnectionFailed => "connection failed".into(),
        ureq::Error::HostNotFound => "host not found".into(),
        ureq::Error::Io(io)
            if matches!(
                io.kind(),
                std::io::ErrorKind::ConnectionRefused
                    | std::io::ErrorKind::ConnectionReset
                    | std::io::ErrorKind::ConnectionAborted
                    | std::io::ErrorKind::NotConnected
            ) =>
        {
            format!("connection failed: {io}")
        }
        ureq::Error::Io(io) => format!("I/O error: {io}"),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        let r = |v: &str| {
            let resp = Response::builder()
                .header("Retry-After", v)
                .body(Body::builder().data(Vec::<u8>::new()))
                .unwrap();
            retry_after(&resp)
        };
        assert_eq!(r("3"), Some(Duration::from_secs(3)));
        assert_eq!(r("Wed, 21 Oct 2015 07:28:00 GMT"), Some(Duration::ZERO));
        assert_eq!(r("soon"), None);
    }
}
