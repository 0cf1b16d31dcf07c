//! End-to-end tests of the `http-sink` connector and the `http` capability: a real `weft up`
//! (broker and Connect worker in one process, connectors loaded from a directory) sending to
//! small HTTP/1.1 servers this test runs on free ports, which record every request with the
//! time it arrived and answer as told (500 a few times, 429 with Retry-After, 400 for chosen
//! records).

mod common;

use std::collections::{BTreeSet, HashSet};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::connect::{consume, error_header, http, Up};
use common::tls::TestCerts;
use rdkafka::config::ClientConfig;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use serde_json::Value;

fn wait_until(timeout: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if cond() {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// One request as the server saw it.
#[derive(Debug, Clone)]
struct Seen {
    at: Instant,
    method: String,
    path: String,
    headers: Vec<(String, String)>,
    body: String,
    answered: u16,
}

impl Seen {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// What the server answers next.
#[derive(Default)]
struct Plan {
    /// Answer 500 to this many requests first.
    fail_500: usize,
    /// Then answer 429 with `Retry-After: secs` to this many.
    throttle_429: usize,
    retry_after_secs: u64,
    /// Answer 400 to any request whose body contains one of these.
    refuse: Vec<String>,
}

#[derive(Default)]
struct ServerState {
    plan: Plan,
    seen: Vec<Seen>,
}

/// A small HTTP/1.1 server (keep-alive, Content-Length bodies) on a free port.
struct Server {
    port: u16,
    scheme: &'static str,
    state: Arc<Mutex<ServerState>>,
}

impl Server {
    fn start(plan: Plan) -> Server {
        Self::on(
            TcpListener::bind("127.0.0.1:0").expect("bind test server"),
            plan,
        )
    }

    fn on(listener: TcpListener, plan: Plan) -> Server {
        Self::serving(listener, plan, None)
    }

    /// HTTPS with the test's server certificate.
    fn start_tls(plan: Plan, certs: &TestCerts) -> Server {
        let chain = CertificateDer::pem_file_iter(&certs.server_cert)
            .expect("server.crt")
            .collect::<Result<Vec<_>, _>>()
            .expect("server.crt");
        let key = PrivateKeyDer::from_pem_file(&certs.server_key).expect("server.key");
        let config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .expect("TLS versions")
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .expect("server certificate");
        Self::serving(
            TcpListener::bind("127.0.0.1:0").expect("bind test server"),
            plan,
            Some(Arc::new(config)),
        )
    }

    fn serving(
        listener: TcpListener,
        plan: Plan,
        tls: Option<Arc<rustls::ServerConfig>>,
    ) -> Server {
        let port = listener.local_addr().unwrap().port();
        let state = Arc::new(Mutex::new(ServerState {
            plan,
            seen: Vec::new(),
        }));
        let s = state.clone();
        let scheme = if tls.is_some() { "https" } else { "http" };
        std::thread::spawn(move || {
            for conn in listener.incoming().map_while(Result::ok) {
                let s = s.clone();
                let tls = tls.clone();
                std::thread::spawn(move || match tls {
                    None => serve(conn, &s),
                    Some(config) => {
                        if let Ok(c) = rustls::ServerConnection::new(config) {
                            serve(rustls::StreamOwned::new(c, conn), &s);
                        }
                    }
                });
            }
        });
        Server {
            port,
            scheme,
            state,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}://127.0.0.1:{}{path}", self.scheme, self.port)
    }

    fn seen(&self) -> Vec<Seen> {
        self.state.lock().unwrap().seen.clone()
    }

    /// The values of every request answered 200, parsed (arrays flattened).
    fn accepted(&self) -> Vec<Value> {
        let mut out = Vec::new();
        for s in self.seen().iter().filter(|s| s.answered == 200) {
            match serde_json::from_str::<Value>(&s.body) {
                Ok(Value::Array(a)) => out.extend(a),
                Ok(v) => out.push(v),
                Err(e) => panic!("body is not JSON ({e}): {}", s.body),
            }
        }
        out
    }
}

fn serve(conn: impl Read + Write, state: &Mutex<ServerState>) {
    let mut r = BufReader::new(conn);
    loop {
        let mut line = String::new();
        if r.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let at = Instant::now();
        let mut parts = line.split_whitespace();
        let method = parts.next().unwrap_or("").to_string();
        let path = parts.next().unwrap_or("").to_string();
        let mut headers = Vec::new();
        loop {
            let mut h = String::new();
            if r.read_line(&mut h).unwrap_or(0) == 0 {
                return;
            }
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            if let Some((k, v)) = h.split_once(':') {
                headers.push((k.trim().to_string(), v.trim().to_string()));
            }
        }
        let len: usize = headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
            .and_then(|(_, v)| v.parse().ok())
            .unwrap_or(0);
        let mut body = vec![0; len];
        if r.read_exact(&mut body).is_err() {
            return;
        }
        let body = String::from_utf8_lossy(&body).to_string();
        let (code, extra) = {
            let mut s = state.lock().unwrap();
            let p = &mut s.plan;
            let (code, extra) = if p.fail_500 > 0 {
                p.fail_500 -= 1;
                (500, String::new())
            } else if p.throttle_429 > 0 {
                p.throttle_429 -= 1;
                (429, format!("Retry-After: {}\r\n", p.retry_after_secs))
            } else if p.refuse.iter().any(|x| body.contains(x.as_str())) {
                (400, String::new())
            } else {
                (200, String::new())
            };
            s.seen.push(Seen {
                at,
                method,
                path,
                headers,
                body,
                answered: code,
            });
            (code, extra)
        };
        let text = match code {
            200 => "{\"ok\":true}",
            400 => "{\"error\":\"invalid reading\"}",
            _ => "{\"error\":\"try later\"}",
        };
        let resp = format!(
            "HTTP/1.1 {code} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\n{extra}\r\n{text}",
            text.len()
        );
        let w = r.get_mut();
        if w.write_all(resp.as_bytes())
            .and_then(|()| w.flush())
            .is_err()
        {
            return;
        }
    }
}

/// The worker REST calls these tests make of a `weft up`.
impl Up {
    fn get(&self, path: &str) -> (u16, Value) {
        http(self.rest_port, "GET", path, None)
    }

    /// Task states and traces of a connector.
    fn tasks(&self, connector: &str) -> Vec<(String, Option<String>)> {
        let (code, v) = self.get(&format!("/connectors/{connector}/status"));
        if code != 200 {
            return Vec::new();
        }
        v["tasks"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|t| {
                        (
                            t["state"].as_str().unwrap_or("").to_string(),
                            t["trace"].as_str().map(str::to_string),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    fn task_state(&self, connector: &str) -> String {
        self.tasks(connector)
            .first()
            .map(|t| t.0.clone())
            .unwrap_or_default()
    }
}

fn produce(bootstrap: &str, topic: &str, values: impl IntoIterator<Item = String>) {
    let p: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("linger.ms", "5")
        .create()
        .expect("producer");
    for v in values {
        loop {
            match p.send(BaseRecord::<(), str>::to(topic).payload(&v).partition(0)) {
                Ok(()) => break,
                Err((e, _)) => {
                    assert!(
                        matches!(
                            e.rdkafka_error_code(),
                            Some(rdkafka::types::RDKafkaErrorCode::QueueFull)
                        ),
                        "{e}"
                    );
                    p.poll(Duration::from_millis(10));
                }
            }
        }
    }
    p.flush(Duration::from_secs(60)).expect("flush");
}

fn write(dir: &Path, name: &str, text: &str) {
    std::fs::write(dir.join(name), text).unwrap();
}

/// `{"n":i}` for each i.
fn readings(range: std::ops::Range<u64>) -> impl Iterator<Item = String> {
    range.map(|i| format!("{{\"n\":{i}}}"))
}

fn numbers(values: &[Value]) -> BTreeSet<u64> {
    values.iter().filter_map(|v| v["n"].as_u64()).collect()
}

/// A free local port nothing listens on (bound, then released).
fn closed_port() -> TcpListener {
    TcpListener::bind("127.0.0.1:0").unwrap()
}

const CONNECTOR_COMMON: &str = "connector.class=http-sink\ntasks.max=1\n\
    value.converter=org.apache.kafka.connect.json.JsonConverter\n\
    value.converter.schemas.enable=false\n\
    key.converter=org.apache.kafka.connect.storage.StringConverter\n";

#[test]
fn http_sink_delivers_retries_honours_retry_after_and_dead_letters_4xx() {
    let dir = tempfile::tempdir().unwrap();
    let conns = dir.path().join("connectors");
    std::fs::create_dir(&conns).unwrap();

    // One record per request: 500 twice, then 429 with Retry-After: 1, and 400 for two records.
    // A 500 ms call deadline: the put that waits out the Retry-After (over 1 s in the host)
    // must not be charged for the wait, or the task would fail with a deadline error.
    let single = Server::start(Plan {
        fail_500: 2,
        throttle_429: 1,
        retry_after_secs: 1,
        refuse: vec!["{\"n\":13}".into(), "{\"n\":27}".into()],
    });
    write(
        &conns,
        "web-single.properties",
        &format!(
            "name=web-single\n{CONNECTOR_COMMON}topics=readings\n\
             http.api.url={url}\nheaders=X-Source:weft\nauth.type=BEARER\nbearer.token=s3cret\n\
             capability.http.urls={url}\nplugin.call.timeout.ms=500\n\
             errors.tolerance=all\nerrors.deadletterqueue.topic.name=web-dlq\n\
             errors.deadletterqueue.context.headers.enable=true\n",
            url = single.url("/ingest")
        ),
    );
    // Batched into JSON arrays of at most 10.
    let batched = Server::start(Plan::default());
    write(
        &conns,
        "web-batch.properties",
        &format!(
            "name=web-batch\n{CONNECTOR_COMMON}topics=readings-b\nbatch.max.size=10\n\
             http.api.url={url}\ncapability.http.urls={url}\n",
            url = batched.url("/bulk")
        ),
    );
    // An endpoint outside the grant.
    write(
        &conns,
        "web-ungranted.properties",
        &format!(
            "name=web-ungranted\n{CONNECTOR_COMMON}topics=readings\n\
             http.api.url={}\ncapability.http.urls={}\n",
            single.url("/admin"),
            single.url("/ingest")
        ),
    );
    // An endpoint nobody listens on yet.
    let down = closed_port();
    let down_port = down.local_addr().unwrap().port();
    drop(down);
    let down_url = format!("http://127.0.0.1:{down_port}/late");
    write(
        &conns,
        "web-down.properties",
        &format!(
            "name=web-down\n{CONNECTOR_COMMON}topics=readings-d\n\
             http.api.url={down_url}\ncapability.http.urls={down_url}\n\
             capability.http.retries=2\ncapability.http.retry.backoff.ms=50\n"
        ),
    );

    let up = Up::start(&dir.path().join("data"), &conns, Duration::from_secs(60));
    let bootstrap = up.bootstrap();
    produce(&bootstrap, "readings", readings(0..50));
    produce(&bootstrap, "readings-b", readings(0..95));
    produce(&bootstrap, "readings-d", readings(0..5));

    // Every record delivered but the refused two.
    let expected: BTreeSet<u64> = (0..50).filter(|n| *n != 13 && *n != 27).collect();
    assert!(
        wait_until(Duration::from_secs(90), || numbers(&single.accepted())
            == expected),
        "web-single delivered {:?}; log:\n{}",
        numbers(&single.accepted()),
        up.log_text()
    );
    let seen = single.seen();
    // 5xx retried: the first two requests were answered 500 and the same body came again.
    assert_eq!(seen[0].answered, 500);
    assert_eq!(seen[1].answered, 500);
    assert_eq!(
        seen[1].body, seen[0].body,
        "the 500 was retried with the same record"
    );
    // 429's Retry-After honoured: the next request came no earlier than 1 s after it.
    let i429 = seen
        .iter()
        .position(|s| s.answered == 429)
        .expect("a 429 was answered");
    let next = &seen[i429 + 1];
    assert_eq!(
        next.body, seen[i429].body,
        "the throttled record was sent again"
    );
    let gap = next.at.duration_since(seen[i429].at);
    assert!(
        gap >= Duration::from_secs(1),
        "retried {gap:?} after Retry-After: 1"
    );
    // Method, headers from config, credentials.
    assert!(seen
        .iter()
        .all(|s| s.method == "POST" && s.path == "/ingest"));
    assert_eq!(seen[0].header("x-source"), Some("weft"));
    assert_eq!(seen[0].header("authorization"), Some("Bearer s3cret"));
    assert_eq!(seen[0].header("content-type"), Some("application/json"));
    // The token reaches the endpoint but the REST API shows it masked.
    let (code, config) = up.get("/connectors/web-single/config");
    assert_eq!(code, 200, "{config}");
    assert_eq!(config["bearer.token"], "[hidden]", "{config}");
    assert_eq!(config["auth.type"], "BEARER");
    let (_, tasks) = up.get("/connectors/web-single/tasks");
    assert_eq!(tasks[0]["config"]["bearer.token"], "[hidden]", "{tasks}");
    assert!(!tasks.to_string().contains("s3cret"), "{tasks}");

    // 4xx records in the DLQ with Connect's error headers.
    let dlq = consume(&bootstrap, "web-dlq", 2, Duration::from_secs(60));
    assert_eq!(
        dlq.len(),
        2,
        "two records in the DLQ; log:\n{}",
        up.log_text()
    );
    let values: HashSet<String> = dlq
        .iter()
        .map(|(_, v, _)| String::from_utf8_lossy(v.as_deref().unwrap_or_default()).to_string())
        .collect();
    assert_eq!(
        values,
        HashSet::from(["{\"n\":13}".to_string(), "{\"n\":27}".to_string()])
    );
    for (_, _, headers) in &dlq {
        let h = |k: &str| error_header(headers, k);
        assert_eq!(h("topic"), "readings");
        assert_eq!(h("connector.name"), "web-single");
        assert_eq!(h("stage"), "TASK_PUT");
        assert!(
            h("exception.message").contains("400"),
            "{}",
            h("exception.message")
        );
        assert!(h("exception.message").contains("/ingest"));
    }
    assert_eq!(up.task_state("web-single"), "RUNNING");

    // Batched: every record, in arrays of at most 10.
    assert!(
        wait_until(Duration::from_secs(60), || numbers(&batched.accepted())
            == (0..95).collect()),
        "web-batch delivered {:?}",
        numbers(&batched.accepted())
    );
    for s in batched.seen() {
        let a: Vec<Value> = serde_json::from_str(&s.body).unwrap();
        assert!(
            !a.is_empty() && a.len() <= 10,
            "{} values in one request",
            a.len()
        );
    }

    // Not granted: the task fails at start naming the URL and the key.
    assert!(
        wait_until(Duration::from_secs(60), || up.task_state("web-ungranted")
            == "FAILED"),
        "web-ungranted: {:?}",
        up.tasks("web-ungranted")
    );
    let trace = up.tasks("web-ungranted")[0].1.clone().unwrap_or_default();
    assert!(trace.contains(&single.url("/admin")), "{trace}");
    assert!(trace.contains("capability.http.urls"), "{trace}");
    assert!(
        !seen.iter().any(|s| s.path == "/admin"),
        "no request reached the ungranted path"
    );

    // Unreachable: retried with backoff and named in the log while the task stays RUNNING and
    // the worker serves the others; once the endpoint listens, the records arrive.
    assert!(
        wait_until(Duration::from_secs(60), || up
            .log_text()
            .matches(&format!("POST {down_url} connection failed"))
            .count()
            >= 2),
        "no retries logged for the unreachable endpoint; log:\n{}",
        up.log_text()
    );
    assert_eq!(up.task_state("web-down"), "RUNNING");
    assert!(up.log_text().contains("retrying in"));
    let late = Server::on(
        TcpListener::bind(("127.0.0.1", down_port)).expect("rebind the endpoint's port"),
        Plan::default(),
    );
    assert!(
        wait_until(Duration::from_secs(90), || numbers(&late.accepted())
            == (0..5).collect()),
        "web-down delivered {:?} after its endpoint came up; log:\n{}",
        numbers(&late.accepted()),
        up.log_text()
    );
    assert_eq!(up.task_state("web-single"), "RUNNING");
    assert_eq!(up.task_state("web-batch"), "RUNNING");
}

/// Records per second the server received, from its first to its last request.
fn rate(server: &Server, records: usize) -> f64 {
    let seen = server.seen();
    let (Some(first), Some(last)) = (seen.first(), seen.last()) else {
        return 0.0;
    };
    records as f64 / last.at.duration_since(first.at).as_secs_f64().max(1e-3)
}

#[test]
fn http_sink_throughput_single_and_batched() {
    let dir = tempfile::tempdir().unwrap();
    let conns = dir.path().join("connectors");
    std::fs::create_dir(&conns).unwrap();
    let single = Server::start(Plan::default());
    let batched = Server::start(Plan::default());
    for (name, topic, server, batch) in [
        ("speed-single", "speed-s", &single, 1),
        ("speed-batch", "speed-b", &batched, 500),
    ] {
        write(
            &conns,
            &format!("{name}.properties"),
            &format!(
                "name={name}\n{CONNECTOR_COMMON}topics={topic}\nbatch.max.size={batch}\n\
                 http.api.url={url}\ncapability.http.urls={url}\n",
                url = server.url("/in")
            ),
        );
    }
    let up = Up::start(&dir.path().join("data"), &conns, Duration::from_secs(60));
    const SINGLE: u64 = 5_000;
    const BATCHED: u64 = 100_000;
    produce(&up.bootstrap(), "speed-s", readings(0..SINGLE));
    produce(&up.bootstrap(), "speed-b", readings(0..BATCHED));
    assert!(
        wait_until(Duration::from_secs(300), || numbers(&single.accepted())
            .len()
            == SINGLE as usize),
        "single: {} of {SINGLE}",
        numbers(&single.accepted()).len()
    );
    assert!(
        wait_until(Duration::from_secs(300), || numbers(&batched.accepted())
            .len()
            == BATCHED as usize),
        "batched: {} of {BATCHED}",
        numbers(&batched.accepted()).len()
    );
    // Baseline in the same run: the same server driven by one keep-alive connection from
    // this process, one request per record, as fast as it answers.
    let base = Server::start(Plan::default());
    let mut conn = TcpStream::connect(("127.0.0.1", base.port)).unwrap();
    conn.set_nodelay(true).ok();
    let mut reader = BufReader::new(conn.try_clone().unwrap());
    for body in readings(0..SINGLE) {
        let req = format!(
            "POST /in HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        conn.write_all(req.as_bytes()).unwrap();
        let mut len = 0;
        loop {
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            if line.trim().is_empty() {
                break;
            }
            if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                len = v.trim().parse().unwrap();
            }
        }
        let mut resp = vec![0; len];
        reader.read_exact(&mut resp).unwrap();
    }
    assert_eq!(numbers(&base.accepted()).len(), SINGLE as usize);
    println!(
        "http-sink: single {:.0} records/s ({SINGLE} records), batched by 500 {:.0} records/s \
         ({BATCHED} records); baseline (one keep-alive client, one request per record) {:.0} requests/s",
        rate(&single, SINGLE as usize),
        rate(&batched, BATCHED as usize),
        rate(&base, SINGLE as usize)
    );
}

#[test]
fn http_sink_over_https_trusts_the_granted_ca_and_a_wrong_ca_fails_naming_the_problem() {
    let dir = tempfile::tempdir().unwrap();
    let conns = dir.path().join("connectors");
    std::fs::create_dir(&conns).unwrap();
    let certs = TestCerts::generate(dir.path());
    let server = Server::start_tls(Plan::default(), &certs);
    let url = server.url("/secure");
    for (name, ca) in [("web-tls", &certs.ca), ("web-wrong-ca", &certs.other_ca)] {
        write(
            &conns,
            &format!("{name}.properties"),
            &format!(
                "name={name}\n{CONNECTOR_COMMON}topics=readings-tls\nhttp.api.url={url}\n\
                 capability.http.urls={url}\ncapability.http.tls.ca.location={}\n",
                ca.display()
            ),
        );
    }
    let up = Up::start(&dir.path().join("data"), &conns, Duration::from_secs(60));
    produce(&up.bootstrap(), "readings-tls", readings(0..20));
    let expected: BTreeSet<u64> = (0..20).collect();
    assert!(
        wait_until(Duration::from_secs(90), || numbers(&server.accepted())
            == expected),
        "delivered over HTTPS {:?}; log:\n{}",
        numbers(&server.accepted()),
        up.log_text()
    );
    assert!(
        wait_until(Duration::from_secs(60), || up.task_state("web-wrong-ca")
            == "FAILED"),
        "{}",
        up.log_text()
    );
    let trace = up.tasks("web-wrong-ca")[0].1.clone().unwrap_or_default();
    assert!(
        trace.contains("certificate is not trusted")
            && trace.contains("capability.http.tls.ca.location")
            && trace.contains(&url),
        "the failure names the problem, the URL and the key: {trace}"
    );
    assert_eq!(up.task_state("web-tls"), "RUNNING");
}
