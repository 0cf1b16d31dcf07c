//! The http-sink task: sends each put's records (as JSON bodies, `body`) through a
//! [`Transport`] and sorts the answers into accepted, failed records (4xx: the worker's
//! dead-letter queue under `errors.tolerance=all`) and errors that fail or retry the whole put.

use weft_plugin_sdk::http::{Request, Response};
use weft_plugin_sdk::{log, PluginError, RecordFailure, Result};

use crate::body::{chunks, ValueKind};
use crate::settings::Settings;

/// Where requests go: the host's `http` capability, or a fake in unit tests.
pub trait Transport {
    /// Fails unless `url` is granted.
    fn check_url(&mut self, url: &str) -> Result<()>;
    /// One result per request, in order.
    fn send_all(&mut self, reqs: &[Request]) -> Vec<Result<Response>>;
}

/// The host's `http` capability.
pub struct HostHttp;

impl Transport for HostHttp {
    fn check_url(&mut self, url: &str) -> Result<()> {
        weft_plugin_sdk::http::check_url(url)
    }
    fn send_all(&mut self, reqs: &[Request]) -> Vec<Result<Response>> {
        weft_plugin_sdk::http::send_all(reqs)
    }
}

/// Most bytes of a response body quoted in an error.
const QUOTE_MAX: usize = 256;

/// A running http-sink task.
pub struct HttpSinkTask<T: Transport> {
    settings: Settings,
    transport: T,
}

impl<T: Transport> HttpSinkTask<T> {
    /// Starts a task: the endpoint must be granted, or the task fails to start with the
    /// host's error naming the URL and `capability.http.urls`.
    pub fn open(settings: Settings, mut transport: T) -> Result<Self> {
        transport.check_url(&settings.url)?;
        Ok(HttpSinkTask {
            settings,
            transport,
        })
    }

    /// Sends the values of one put. Returns the records the endpoint refused with a 4xx; an
    /// error when a request got no answer or still a 429/5xx after the host's retries
    /// (retriable: the worker puts the batch again, so records are delivered at least once).
    pub fn put<'a>(
        &mut self,
        values: impl IntoIterator<Item = Option<&'a [u8]>>,
        schema: Option<&str>,
    ) -> Result<Vec<RecordFailure>> {
        let s = &self.settings;
        let parts = chunks(
            values,
            ValueKind::of(schema),
            s.batch_max_size,
            s.batch_max_bytes,
        );
        if parts.is_empty() {
            return Ok(Vec::new());
        }
        let reqs: Vec<Request> = parts
            .iter()
            .map(|c| Request {
                method: s.method.clone(),
                url: s.url.clone(),
                headers: s.headers.clone(),
                body: c.body.clone(),
            })
            .collect();
        let answers = self.transport.send_all(&reqs);
        if answers.len() != reqs.len() {
            return Err(PluginError::retriable(format!(
                "the host answered {} of {} requests",
                answers.len(),
                reqs.len()
            )));
        }
        let mut failures = Vec::new();
        for (chunk, answer) in parts.iter().zip(answers) {
            let resp = answer.inspect_err(|e| log::warn(&e.message))?;
            match resp.status {
                200..=299 => {}
                408 | 429 | 500..=599 => {
                    let mut e = PluginError::retriable(format!(
                        "{} {} answered {} after {} attempt(s): {}",
                        s.method,
                        s.url,
                        resp.status,
                        resp.attempts,
                        quote(&resp.body)
                    ));
                    if let Some(ms) = resp.header("retry-after").and_then(retry_after_ms) {
                        e = e.retry_after(ms);
                    }
                    log::warn(&e.message);
                    return Err(e);
                }
                status => {
                    let message = format!(
                        "{} {} answered {status}: {}",
                        s.method,
                        s.url,
                        quote(&resp.body)
                    );
                    for i in chunk.records.clone() {
                        failures.push(RecordFailure::new(i, PluginError::fatal(message.clone())));
                    }
                }
            }
        }
        Ok(failures)
    }
}

/// A `Retry-After` of delay-seconds in ms (an HTTP date leaves the worker's own backoff).
fn retry_after_ms(v: &str) -> Option<u32> {
    let secs: u32 = v.trim().parse().ok()?;
    Some(secs.saturating_mul(1000))
}

fn quote(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(&body[..body.len().min(QUOTE_MAX)]);
    let text = text.trim();
    if text.is_empty() {
        "(empty body)".into()
    } else {
        text.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use weft_plugin_sdk::ErrorKind;

    /// Answers each request by a rule on its body; records what was sent.
    struct Fake {
        granted: &'static str,
        sent: Vec<String>,
        answer: fn(&str) -> Result<Response>,
    }

    impl Transport for Fake {
        fn check_url(&mut self, url: &str) -> Result<()> {
            if url.starts_with(self.granted) {
                Ok(())
            } else {
                Err(PluginError::fatal(format!(
                    "`{url}` not granted in capability.http.urls"
                )))
            }
        }
        fn send_all(&mut self, reqs: &[Request]) -> Vec<Result<Response>> {
            reqs.iter()
                .map(|r| {
                    let body = String::from_utf8(r.body.clone()).unwrap();
                    self.sent.push(body.clone());
                    (self.answer)(&body)
                })
                .collect()
        }
    }

    fn status(code: u16) -> Result<Response> {
        Ok(Response {
            status: code,
            attempts: 1,
            headers: vec![("retry-after".into(), "2".into())],
            ..Response::default()
        })
    }

    fn settings(batch: usize) -> Settings {
        Settings {
            url: "http://h/in".into(),
            method: "POST".into(),
            headers: vec![],
            batch_max_size: batch,
            batch_max_bytes: 1 << 20,
        }
    }

    fn fake(answer: fn(&str) -> Result<Response>) -> Fake {
        Fake {
            granted: "http://h/",
            sent: Vec::new(),
            answer,
        }
    }

    #[test]
    fn an_ungranted_endpoint_fails_the_start() {
        let mut f = fake(|_| status(200));
        f.granted = "http://other/";
        let e = HttpSinkTask::open(settings(1), f).err().unwrap();
        assert!(e.message.contains("http://h/in"), "{e}");
    }

    #[test]
    fn client_errors_fail_their_records_and_server_errors_the_put() {
        let vals: Vec<&[u8]> = vec![b"1", b"2", b"3"];
        let mut t = HttpSinkTask::open(
            settings(1),
            fake(|b| status(if b == "2" { 400 } else { 200 })),
        )
        .unwrap();
        let f = t.put(vals.iter().map(|v| Some(*v)), None).unwrap();
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].index, 1);
        assert!(f[0].error.message.contains("400"));
        assert_eq!(t.transport.sent, vec!["1", "2", "3"]);

        let mut t = HttpSinkTask::open(
            settings(2),
            fake(|b| status(if b == "[3]" { 400 } else { 200 })),
        )
        .unwrap();
        let f = t.put(vals.iter().map(|v| Some(*v)), None).unwrap();
        assert_eq!(f.iter().map(|f| f.index).collect::<Vec<_>>(), vec![2]);
        assert_eq!(t.transport.sent, vec!["[1,2]", "[3]"]);

        let mut t = HttpSinkTask::open(settings(1), fake(|_| status(503))).unwrap();
        let e = t.put(vals.iter().map(|v| Some(*v)), None).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Retriable);
        assert_eq!(e.retry_after_ms, Some(2000));

        let mut t = HttpSinkTask::open(
            settings(1),
            fake(|_| Err(PluginError::retriable("connection refused"))),
        )
        .unwrap();
        let e = t.put(vals.iter().map(|v| Some(*v)), None).unwrap_err();
        assert!(e.message.contains("connection refused"));
    }
}
