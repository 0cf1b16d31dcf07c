//! A `weft connect standalone` worker process for the Connect end-to-end tests, and the small REST
//! client they drive it with.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Headers, Message};
use rdkafka::{Offset, TopicPartitionList};
use serde_json::Value;

use super::weft_bin;

/// A task's state and failure trace, from `/status`.
pub type TaskState = (String, Option<String>);

/// Waits for `cond` with a deadline; true if it held in time.
pub fn wait_until(timeout: Duration, mut cond: impl FnMut() -> bool) -> bool {
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

/// A `weft connect standalone` process.
pub struct Worker {
    pub child: Option<Child>,
    pub rest_port: u16,
    pub log: Arc<Mutex<String>>,
    pub dir: PathBuf,
    pub args: Vec<PathBuf>,
}

impl Worker {
    /// Starts `weft connect standalone <files>` in `dir` and waits for its REST API.
    pub fn standalone(dir: &Path, files: &[PathBuf]) -> Worker {
        let mut w = Worker {
            child: None,
            rest_port: 0,
            log: Arc::new(Mutex::new(String::new())),
            dir: dir.to_path_buf(),
            args: files.to_vec(),
        };
        w.spawn();
        w
    }

    pub fn spawn(&mut self) {
        let mut cmd = Command::new(weft_bin());
        cmd.arg("connect")
            .arg("standalone")
            .args(&self.args)
            .current_dir(&self.dir)
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("spawn weft connect standalone");
        let stderr = child.stderr.take().expect("stderr");
        let log = self.log.clone();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(rest) = line.strip_prefix("weft: connect REST listening on http://") {
                    if let Some(port) = rest
                        .rsplit(':')
                        .next()
                        .and_then(|p| p.trim().parse::<u16>().ok())
                    {
                        let _ = tx.send(port);
                    }
                }
                if let Ok(mut l) = log.lock() {
                    l.push_str(&line);
                    l.push('\n');
                }
            }
        });
        match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(p) => self.rest_port = p,
            Err(_) => {
                let _ = child.kill();
                panic!(
                    "the worker did not start its REST API; its log:\n{}",
                    self.log_text()
                );
            }
        }
        self.child = Some(child);
    }

    pub fn log_text(&self) -> String {
        self.log.lock().map(|l| l.clone()).unwrap_or_default()
    }

    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// SIGTERM; returns whether it exited successfully.
    pub fn stop(&mut self) -> bool {
        let Some(mut c) = self.child.take() else {
            return true;
        };
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(c.id().to_string())
            .status();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(Some(s)) = c.try_wait() {
                return s.success();
            }
            if Instant::now() > deadline {
                let _ = c.kill();
                let _ = c.wait();
                panic!(
                    "the worker did not stop within 60 s; its log:\n{}",
                    self.log_text()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn restart(&mut self) {
        assert!(self.child.is_none());
        self.log.lock().map(|mut l| l.clear()).ok();
        self.spawn();
    }

    pub fn get(&self, path: &str) -> (u16, Value) {
        http(self.rest_port, "GET", path, None)
    }

    pub fn state(&self, connector: &str) -> Option<(String, Vec<TaskState>)> {
        let (code, v) = self.get(&format!("/connectors/{connector}/status"));
        if code != 200 {
            return None;
        }
        let tasks = v["tasks"]
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
            .unwrap_or_default();
        Some((
            v["connector"]["state"].as_str().unwrap_or("").to_string(),
            tasks,
        ))
    }

    pub fn wait_task_state(&self, connector: &str, state: &str, timeout: Duration) -> bool {
        wait_until(timeout, || {
            self.state(connector)
                .is_some_and(|(_, t)| !t.is_empty() && t.iter().all(|(s, _)| s == state))
        })
    }

    /// Waits up to 60 s for the connector's task to be FAILED and returns its trace.
    pub fn failed_trace(&self, connector: &str) -> String {
        assert!(
            self.wait_task_state(connector, "FAILED", Duration::from_secs(60)),
            "{connector} did not fail: {:?}\n{}",
            self.state(connector),
            self.log_text()
        );
        let (_, tasks) = self.state(connector).expect("the connector's status");
        tasks[0].1.clone().expect("a FAILED task has a trace")
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// One HTTP/1.1 request to the worker's REST API; (status, JSON body or null).
pub fn http(port: u16, method: &str, path: &str, body: Option<&Value>) -> (u16, Value) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect to the REST API");
    s.set_read_timeout(Some(Duration::from_secs(60))).ok();
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Type: application/json\r\nAccept: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).expect("send request");
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).expect("read response");
    let text = String::from_utf8_lossy(&raw).to_string();
    let (head, rest) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let code: u16 = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("malformed response: {text}"));
    let body = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        dechunk(rest)
    } else {
        rest.to_string()
    };
    (code, serde_json::from_str(&body).unwrap_or(Value::Null))
}

pub fn dechunk(mut s: &str) -> String {
    let mut out = String::new();
    while let Some((len, rest)) = s.split_once("\r\n") {
        let n = usize::from_str_radix(len.trim(), 16).unwrap_or(0);
        if n == 0 || rest.len() < n {
            break;
        }
        out.push_str(&rest[..n]);
        s = rest[n..].strip_prefix("\r\n").unwrap_or(&rest[n..]);
    }
    out
}

/// Writes `text` to `dir/name` and returns its path.
pub fn write_file(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

/// Writes `dir/<name>.properties` for one FileStreamSource task reading `file` (relative to the
/// worker's directory), then `extra`.
pub fn file_source(dir: &Path, name: &str, file: &str, extra: &str) -> PathBuf {
    write_file(
        dir,
        &format!("{name}.properties"),
        &format!(
            "name={name}\nconnector.class=FileStreamSource\ntasks.max=1\nfile={file}\n{extra}"
        ),
    )
}

/// Writes `dir/worker.properties` for a standalone worker on `bootstrap`: REST on a free port,
/// String keys and schemaless JSON values, offsets in `dir` flushed every 500 ms, then `extra`.
pub fn worker_file(dir: &Path, bootstrap: &str, extra: &str) -> PathBuf {
    let path = dir.join("worker.properties");
    std::fs::write(
        &path,
        format!(
            "bootstrap.servers={bootstrap}\nlisteners=http://127.0.0.1:0\n\
             key.converter=org.apache.kafka.connect.storage.StringConverter\n\
             value.converter=org.apache.kafka.connect.json.JsonConverter\n\
             value.converter.schemas.enable=false\n\
             offset.storage.file.filename={}\noffset.flush.interval.ms=500\n{extra}\n",
            dir.join("connect.offsets").display()
        ),
    )
    .unwrap();
    path
}

/// A consumed record: key, value, headers.
pub type Consumed = (Option<Vec<u8>>, Option<Vec<u8>>, Vec<(String, Vec<u8>)>);

/// The value of a consumed record's `__connect.errors.<k>` header (a dead-letter queue's
/// context header); panics naming the header when the record has none.
pub fn error_header(headers: &[(String, Vec<u8>)], k: &str) -> String {
    headers
        .iter()
        .find(|(n, _)| n == &format!("__connect.errors.{k}"))
        .map(|(_, v)| String::from_utf8_lossy(v).to_string())
        .unwrap_or_else(|| panic!("no __connect.errors.{k} header in {headers:?}"))
}

/// Reads `topic` partition 0 from the start until `done` holds for what was read.
pub fn consume_until(
    bootstrap: &str,
    topic: &str,
    timeout: Duration,
    mut done: impl FnMut(&[Consumed]) -> bool,
) -> Vec<Consumed> {
    let c: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", "e2e-connect-reader")
        .set("enable.auto.commit", "false")
        .create()
        .expect("consumer");
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset(topic, 0, Offset::Beginning)
        .unwrap();
    c.assign(&tpl).unwrap();
    let mut out: Vec<Consumed> = Vec::new();
    let deadline = Instant::now() + timeout;
    while !done(&out) && Instant::now() < deadline {
        if let Some(Ok(m)) = c.poll(Duration::from_millis(200)) {
            let headers = m
                .headers()
                .map(|h| {
                    h.iter()
                        .map(|x| {
                            (
                                x.key.to_string(),
                                x.value.map(<[u8]>::to_vec).unwrap_or_default(),
                            )
                        })
                        .collect()
                })
                .unwrap_or_default();
            out.push((
                m.key().map(<[u8]>::to_vec),
                m.payload().map(<[u8]>::to_vec),
                headers,
            ));
        }
    }
    out
}

/// Every record of partition 0 of `topic`, from the beginning, until `n` arrived.
pub fn consume(bootstrap: &str, topic: &str, n: usize, timeout: Duration) -> Vec<Consumed> {
    consume_until(bootstrap, topic, timeout, |r| r.len() >= n)
}

/// Builds fixture `name` of tests/plugins for wasm32-wasip2 (once per fixture and test process)
/// and returns the path of its component.
pub fn test_plugin(name: &str) -> PathBuf {
    static BUILT: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());
    let ws = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/plugins");
    let target = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("connect-fixtures");
    let mut built = BUILT.lock().unwrap_or_else(|e| e.into_inner());
    if !built.iter().any(|b| b == name) {
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let out = Command::new(cargo)
            .current_dir(&ws)
            .args(["build", "--release", "--target", "wasm32-wasip2", "-p"])
            .arg(format!("fixture-{name}"))
            .arg("--manifest-path")
            .arg(ws.join("Cargo.toml"))
            .arg("--target-dir")
            .arg(&target)
            .env_remove("RUSTFLAGS")
            .env_remove("CARGO_ENCODED_RUSTFLAGS")
            .env_remove("CARGO_TARGET_DIR")
            .output()
            .expect("run cargo to build the test plugins");
        assert!(
            out.status.success(),
            "building tests/plugins fixture-{name} failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        built.push(name.to_string());
    }
    target
        .join("wasm32-wasip2/release")
        .join(format!("fixture_{}.wasm", name.replace('-', "_")))
}

/// A `weft up` process whose embedded worker loads connector files from a directory (the
/// common harness runs `weft up` without the Connect flags); its stderr is kept.
pub struct Up {
    child: Child,
    pub broker_port: u16,
    pub rest_port: u16,
    log: Arc<Mutex<String>>,
}

impl Up {
    /// Starts `weft up` on free ports; fails unless it reports both listeners within `ready_within`.
    pub fn start(data: &Path, connectors: &Path, ready_within: Duration) -> Up {
        let mut child = Command::new(weft_bin())
            .arg("up")
            .arg("--listeners")
            .arg("PLAINTEXT://127.0.0.1:0")
            .arg("--log-dirs")
            .arg(data)
            .arg("--connect-listener")
            .arg("http://127.0.0.1:0")
            .arg("--connectors")
            .arg(connectors)
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn weft up");
        let stderr = child.stderr.take().expect("piped stderr");
        let log = Arc::new(Mutex::new(String::new()));
        let l = log.clone();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let port = |l: &str| {
                    l.rsplit(':')
                        .next()
                        .and_then(|p| p.trim().parse::<u16>().ok())
                };
                if let Some(r) = line.strip_prefix("weft: broker listening on PLAINTEXT://") {
                    let _ = tx.send(("broker", port(r)));
                }
                if let Some(r) = line.strip_prefix("weft: connect REST listening on http://") {
                    let _ = tx.send(("rest", port(r)));
                }
                if let Ok(mut l) = l.lock() {
                    l.push_str(&line);
                    l.push('\n');
                }
            }
        });
        let (mut broker_port, mut rest_port) = (None, None);
        while broker_port.is_none() || rest_port.is_none() {
            match rx.recv_timeout(ready_within) {
                Ok(("broker", p)) => broker_port = p,
                Ok((_, p)) => rest_port = p,
                Err(_) => {
                    let _ = child.kill();
                    panic!("weft up did not report its broker and REST listeners");
                }
            }
        }
        Up {
            child,
            broker_port: broker_port.unwrap_or_default(),
            rest_port: rest_port.unwrap_or_default(),
            log,
        }
    }

    pub fn bootstrap(&self) -> String {
        format!("127.0.0.1:{}", self.broker_port)
    }

    /// Everything the process wrote to stderr so far.
    pub fn log_text(&self) -> String {
        self.log.lock().map(|l| l.clone()).unwrap_or_default()
    }

    /// SIGTERM, then waits for a clean exit.
    pub fn stop(mut self) {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        assert!(
            wait_until(Duration::from_secs(60), || matches!(
                self.child.try_wait(),
                Ok(Some(_))
            )),
            "weft up did not stop on SIGTERM"
        );
    }
}

impl Drop for Up {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
