//! Test harness shared by the end-to-end tests: runs the real `weft` binary on a free port with its
//! own data directory, and gives tests its address, its log output, and kill/restart controls.
#![allow(dead_code)]

pub mod clients;
pub mod connect;
pub mod requests;
pub mod tls;

use std::io::{BufRead, BufReader, Read};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Path of the `weft` binary cargo built for these tests.
pub fn weft_bin() -> &'static str {
    env!("CARGO_BIN_EXE_weft")
}

/// A running `weft up` process with a private data directory.
pub struct Weft {
    child: Option<Child>,
    pub port: u16,
    pub data: PathBuf,
    _tmp: Option<tempfile::TempDir>,
    log: Arc<Mutex<String>>,
    extra: Vec<String>,
    /// Command-line flags after `up` (for example `--log-format json`).
    flags: Vec<String>,
}

impl Weft {
    /// Starts a broker on a free port with `overrides` (`key=value` broker config keys).
    pub fn start(overrides: &[&str]) -> Weft {
        Weft::start_with_flags(&[], overrides)
    }

    /// Like [`Weft::start`], with extra `weft up` command-line flags.
    pub fn start_with_flags(flags: &[&str], overrides: &[&str]) -> Weft {
        let tmp = tempfile::tempdir().expect("tempdir");
        let data = tmp.path().join("data");
        let mut w = Weft {
            child: None,
            port: 0,
            data,
            _tmp: Some(tmp),
            log: Arc::new(Mutex::new(String::new())),
            extra: overrides.iter().map(|s| s.to_string()).collect(),
            flags: flags.iter().map(|s| s.to_string()).collect(),
        };
        w.spawn();
        w
    }

    fn spawn(&mut self) {
        let mut cmd = Command::new(weft_bin());
        cmd.arg("up")
            .arg("--listeners")
            .arg(format!("PLAINTEXT://127.0.0.1:{}", self.port))
            .arg("--log-dirs")
            .arg(&self.data)
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        cmd.args(&self.flags);
        for o in &self.extra {
            cmd.arg("--override").arg(o);
        }
        let mut child = cmd.spawn().expect("spawn weft");
        let stderr = child.stderr.take().expect("stderr");
        let log = self.log.clone();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let reader = BufReader::new(stderr);
            for line in reader.lines().map_while(Result::ok) {
                if let Some(rest) = line.strip_prefix("weft: broker listening on PLAINTEXT://") {
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
        let port = match rx.recv_timeout(Duration::from_secs(30)) {
            Ok(p) => p,
            Err(_) => {
                let _ = child.kill();
                panic!(
                    "weft did not start within 30 s; its log:\n{}",
                    self.log_text()
                );
            }
        };
        self.port = port;
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "weft is not accepting connections on {port}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        self.child = Some(child);
    }

    pub fn bootstrap(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Everything the broker has logged so far.
    pub fn log_text(&self) -> String {
        self.log.lock().map(|l| l.clone()).unwrap_or_default()
    }

    /// Waits until the broker log contains `needle`.
    pub fn wait_for_log(&self, needle: &str, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if self.log_text().contains(needle) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        false
    }

    /// SIGKILL: no clean shutdown, no flush.
    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// SIGTERM and wait for a clean exit.
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            unsafe_sigterm(c.id());
            let deadline = Instant::now() + Duration::from_secs(20);
            loop {
                if let Ok(Some(_)) = c.try_wait() {
                    break;
                }
                if Instant::now() > deadline {
                    let _ = c.kill();
                    let _ = c.wait();
                    panic!("weft did not stop within 20 s after SIGTERM");
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }

    /// Starts the broker again on the same port and data directory.
    pub fn restart(&mut self) {
        assert!(self.child.is_none(), "stop or kill the broker first");
        self.log.lock().map(|mut l| l.clear()).ok();
        self.spawn();
    }

    pub fn is_running(&mut self) -> bool {
        match &mut self.child {
            Some(c) => matches!(c.try_wait(), Ok(None)),
            None => false,
        }
    }

    /// The running broker's process id (for reading its /proc entries).
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(|c| c.id())
    }

    pub fn data_dir(&self) -> &Path {
        &self.data
    }
}

fn unsafe_sigterm(pid: u32) {
    // `kill -TERM` keeps the tests free of libc bindings.
    let _ = Command::new("kill")
        .arg("-TERM")
        .arg(pid.to_string())
        .status();
}

impl Drop for Weft {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// Runs `weft` with arguments and returns (status ok, stdout, stderr).
pub fn weft_cmd(args: &[&str], stdin: Option<&[u8]>) -> (bool, String, String) {
    let mut cmd = Command::new(weft_bin());
    cmd.args(args).stdout(Stdio::piped()).stderr(Stdio::piped());
    cmd.stdin(if stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    });
    let mut child = cmd.spawn().expect("spawn weft");
    if let Some(input) = stdin {
        use std::io::Write;
        let mut s = child.stdin.take().expect("stdin");
        s.write_all(input).expect("write stdin");
    }
    let out = child.wait_with_output().expect("wait weft");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).to_string(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

/// Fails loudly when an external tool the test needs is not installed (`.ci/run` installs it).
pub fn require_tool(name: &str) -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    for dir in std::env::split_paths(&path) {
        let p = dir.join(name);
        if p.is_file() {
            return p;
        }
    }
    panic!("required tool '{name}' is not installed; run .ci/run (it installs test dependencies)");
}

/// Reads all of a child's stream into a string.
pub fn read_all(mut r: impl Read) -> String {
    let mut s = String::new();
    let _ = r.read_to_string(&mut s);
    s
}

/// Kafka's murmur2 (the Java client's default partitioner hash; librdkafka's `murmur2_random`).
pub fn murmur2(data: &[u8]) -> i32 {
    const SEED: u32 = 0x9747_b28c;
    const M: u32 = 0x5bd1_e995;
    const R: u32 = 24;
    let mut h: u32 = SEED ^ data.len() as u32;
    let mut chunks = data.chunks_exact(4);
    for c in &mut chunks {
        let mut k = u32::from_le_bytes([c[0], c[1], c[2], c[3]]);
        k = k.wrapping_mul(M);
        k ^= k >> R;
        k = k.wrapping_mul(M);
        h = h.wrapping_mul(M);
        h ^= k;
    }
    let tail = chunks.remainder();
    if tail.len() >= 3 {
        h ^= (tail[2] as u32) << 16;
    }
    if tail.len() >= 2 {
        h ^= (tail[1] as u32) << 8;
    }
    if !tail.is_empty() {
        h ^= tail[0] as u32;
        h = h.wrapping_mul(M);
    }
    h ^= h >> 13;
    h = h.wrapping_mul(M);
    h ^= h >> 15;
    h as i32
}

/// The partition Java's default partitioner (and librdkafka's `murmur2_random`) picks for a key.
pub fn java_partition(key: &[u8], partitions: i32) -> i32 {
    (murmur2(key) & 0x7fff_ffff) % partitions
}

/// A record as [`read_to_end`] gives it: partition, key, value.
pub type ReadRecord = (i32, Option<Vec<u8>>, Option<Vec<u8>>);

/// Every record of every partition of `topic` a consumer with `isolation` sees, read to the
/// end (the last stable offset for read_committed), as (partition, key, value).
pub fn read_to_end(bootstrap: &str, topic: &str, isolation: &str) -> Vec<ReadRecord> {
    use rdkafka::config::ClientConfig;
    use rdkafka::consumer::{BaseConsumer, Consumer};
    use rdkafka::error::KafkaError;
    use rdkafka::message::Message;
    use rdkafka::{Offset, TopicPartitionList};
    let c: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", "e2e-read-to-end")
        .set("enable.auto.commit", "false")
        .set("enable.partition.eof", "true")
        .set("isolation.level", isolation)
        .create()
        .expect("consumer");
    let md = c
        .fetch_metadata(Some(topic), Duration::from_secs(30))
        .expect("metadata");
    let mut tpl = TopicPartitionList::new();
    let mut pending = std::collections::BTreeSet::new();
    for t in md.topics().iter().filter(|t| t.error().is_none()) {
        for p in t.partitions() {
            tpl.add_partition_offset(topic, p.id(), Offset::Beginning)
                .unwrap();
            pending.insert(p.id());
        }
    }
    if pending.is_empty() {
        // Not created yet.
        return Vec::new();
    }
    c.assign(&tpl).unwrap();
    let mut out = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(120);
    while !pending.is_empty() {
        assert!(
            Instant::now() < deadline,
            "reading {topic} to its end took over 120 s"
        );
        match c.poll(Duration::from_millis(200)) {
            Some(Ok(m)) => out.push((
                m.partition(),
                m.key().map(<[u8]>::to_vec),
                m.payload().map(<[u8]>::to_vec),
            )),
            Some(Err(KafkaError::PartitionEOF(p))) => {
                pending.remove(&p);
            }
            Some(Err(e)) => panic!("reading {topic}: {e}"),
            None => {}
        }
    }
    out
}
