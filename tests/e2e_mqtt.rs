//! End-to-end tests of the MQTT connectors: a real mosquitto (started by the test on a free
//! port with a generated config), the real `weft` binary as broker and as standalone worker,
//! mosquitto_pub/mosquitto_sub as the devices, and a Kafka client reading the topics.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::connect::{consume_until, wait_until, write_file, Consumed, Worker};
use common::tls::TestCerts;
use common::{require_tool, Weft};
use rdkafka::config::ClientConfig;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use serde_json::Value;

/// A free TCP port on 127.0.0.1.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// A mosquitto broker with persistence in a directory of its own; QoS 1 queues unbounded for
/// offline persistent clients (its default drops them above 1000), in-flight window at its
/// default of 20.
struct Mosquitto {
    child: Option<Child>,
    port: u16,
    conf: PathBuf,
    log: Arc<Mutex<String>>,
}

impl Mosquitto {
    fn start(dir: &Path) -> Mosquitto {
        Self::start_with(dir, "")
    }

    /// With `extra` appended to the generated config (another listener, say).
    fn start_with(dir: &Path, extra: &str) -> Mosquitto {
        require_tool("mosquitto");
        let port = free_port();
        let data = dir.join("mosquitto-data");
        std::fs::create_dir_all(&data).unwrap();
        let conf = dir.join("mosquitto.conf");
        // Run as this user: started as root, mosquitto switches to user `mosquitto`, which
        // cannot write its database into the test's private directory.
        let user = Command::new("id")
            .arg("-un")
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
            .unwrap_or_default();
        std::fs::write(
            &conf,
            format!(
                "user {user}\nlistener {port} 127.0.0.1\nallow_anonymous true\npersistence true\n\
                 persistence_location {}/\nmax_queued_messages 0\nlog_dest stderr\n\
                 log_type error\nlog_type warning\nlog_type notice\n{extra}",
                data.display()
            ),
        )
        .unwrap();
        let mut m = Mosquitto {
            child: None,
            port,
            conf,
            log: Arc::new(Mutex::new(String::new())),
        };
        m.spawn();
        m
    }

    fn spawn(&mut self) {
        let mut child = Command::new("mosquitto")
            .arg("-c")
            .arg(&self.conf)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn mosquitto");
        let stderr = child.stderr.take().expect("stderr");
        let log = self.log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Ok(mut l) = log.lock() {
                    l.push_str(&line);
                    l.push('\n');
                }
            }
        });
        self.child = Some(child);
        let port = self.port;
        assert!(
            wait_until(Duration::from_secs(20), || TcpStream::connect((
                "127.0.0.1",
                port
            ))
            .is_ok()),
            "mosquitto did not listen; its log:\n{}",
            self.log.lock().map(|l| l.clone()).unwrap_or_default()
        );
    }

    fn url(&self) -> String {
        format!("tcp://127.0.0.1:{}", self.port)
    }

    /// SIGTERM (mosquitto saves its persistent sessions), then start again on the same port.
    fn restart(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = Command::new("kill")
                .arg("-TERM")
                .arg(c.id().to_string())
                .status();
            let _ = c.wait();
        }
        self.spawn();
    }
}

impl Drop for Mosquitto {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Publishes each line of `lines` as one message on `topic` with `mosquitto_pub -l`.
fn publish_lines(m: &Mosquitto, topic: &str, qos: u8, lines: &[String]) -> Child {
    // mosquitto_pub -l (2.0.11) stops at the first PUBACK whose 16-bit message id equals its
    // last message's: past 65535 messages that comes early and the rest are never sent.
    assert!(
        lines.len() < 65_535,
        "publish at most 65534 lines per mosquitto_pub"
    );
    require_tool("mosquitto_pub");
    let mut child = Command::new("mosquitto_pub")
        .args(["-h", "127.0.0.1", "-p", &m.port.to_string()])
        .args(["-q", &qos.to_string(), "-t", topic, "-l"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn mosquitto_pub");
    let mut stdin = child.stdin.take().expect("stdin");
    let text = lines.join("\n") + "\n";
    std::thread::spawn(move || {
        let _ = stdin.write_all(text.as_bytes());
    });
    child
}

fn wait_ok(mut c: Child, what: &str) {
    let out = c.wait().expect("wait");
    let mut err = String::new();
    if let Some(mut e) = c.stderr.take() {
        let _ = e.read_to_string(&mut err);
    }
    assert!(out.success(), "{what} failed: {err}");
}

/// The worker file: string keys, no converter schemas, a long offset flush interval (the
/// prompt commit, not the flush, must release the broker's in-flight window).
fn worker_file(dir: &Path, broker: &Weft) -> PathBuf {
    let path = dir.join("worker.properties");
    std::fs::write(
        &path,
        format!(
            "bootstrap.servers={}\nlisteners=http://127.0.0.1:0\n\
             key.converter=org.apache.kafka.connect.storage.StringConverter\n\
             value.converter=org.apache.kafka.connect.converters.ByteArrayConverter\n\
             offset.storage.file.filename={}\noffset.flush.interval.ms=60000\n",
            broker.bootstrap(),
            dir.join("connect.offsets").display()
        ),
    )
    .unwrap();
    path
}

/// An mqtt-source config reading `sensors/+/temp` into topic `temp` keyed by device.
fn source_config(dir: &Path, m: &Mosquitto, name: &str, extra: &str) -> PathBuf {
    write_file(
        dir,
        &format!("{name}.properties"),
        &format!(
            "name={name}\nconnector.class=mqtt-source\ntasks.max=1\nmqtt.server.uri={url}\n\
             capability.mqtt.urls={url}\nmqtt.client.id={name}\nmqtt.topics=sensors/+/temp\n\
             mqtt.qos=1\nkafka.topic=${{level.2}}\nkafka.key=${{level.1}}\n{extra}\n",
            url = m.url()
        ),
    )
}

/// `per_device` JSON readings for each of `devices` devices: (MQTT topic, payloads).
fn readings(devices: usize, per_device: usize) -> Vec<(String, Vec<String>)> {
    (0..devices)
        .map(|d| {
            let lines = (0..per_device)
                .map(|i| {
                    format!(
                        "{{\"device\":\"dev-{d}\",\"seq\":{i},\"celsius\":{}.5}}",
                        i % 40
                    )
                })
                .collect();
            (format!("sensors/dev-{d}/temp"), lines)
        })
        .collect()
}

fn text(b: &Option<Vec<u8>>) -> String {
    String::from_utf8_lossy(b.as_deref().unwrap_or_default()).to_string()
}

fn header<'a>(r: &'a Consumed, name: &str) -> Option<&'a [u8]> {
    r.2.iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_slice())
}

/// Distinct values read so far.
fn distinct(records: &[Consumed]) -> usize {
    records
        .iter()
        .map(|r| r.1.clone())
        .collect::<BTreeSet<_>>()
        .len()
}

#[test]
fn a_hundred_thousand_qos1_messages_arrive_in_kafka_exactly_as_sent() {
    const DEVICES: usize = 10;
    const PER_DEVICE: usize = 10_000;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let m = Mosquitto::start(d);
    let broker = Weft::start(&[]);
    let worker = worker_file(d, &broker);
    let source = source_config(d, &m, "sensors", "");
    let mut w = Worker::standalone(d, &[worker, source]);
    assert!(
        w.wait_task_state("sensors", "RUNNING", Duration::from_secs(60)),
        "{}",
        w.log_text()
    );
    let sent = readings(DEVICES, PER_DEVICE);
    let pubs: Vec<Child> = sent
        .iter()
        .map(|(topic, lines)| publish_lines(&m, topic, 1, lines))
        .collect();
    // A message on a topic the filter does not match stays out of Kafka.
    wait_ok(
        publish_lines(&m, "sensors/dev-x/humidity", 1, &["{\"h\":1}".to_string()]),
        "mosquitto_pub",
    );
    for p in pubs {
        wait_ok(p, "mosquitto_pub");
    }
    let n = DEVICES * PER_DEVICE;
    let got = consume_until(&broker.bootstrap(), "temp", Duration::from_secs(600), |r| {
        r.len() >= n
    });
    assert_eq!(
        got.len(),
        n,
        "records in topic temp; worker log:\n{}",
        w.log_text()
    );
    let mut expected: BTreeMap<String, (String, String)> = BTreeMap::new();
    for (topic, lines) in &sent {
        let device = topic.split('/').nth(1).unwrap().to_string();
        for l in lines {
            expected.insert(l.clone(), (device.clone(), topic.clone()));
        }
    }
    let mut seen = BTreeSet::new();
    for r in &got {
        let value = text(&r.1);
        let (device, topic) = expected
            .get(&value)
            .unwrap_or_else(|| panic!("unexpected value {value}"));
        assert_eq!(&text(&r.0), device, "key of {value}");
        assert_eq!(header(r, "mqtt.topic"), Some(topic.as_bytes()));
        assert_eq!(header(r, "mqtt.qos"), Some(&b"1"[..]));
        assert_eq!(header(r, "mqtt.retain"), Some(&b"false"[..]));
        assert!(seen.insert(value), "a duplicate without any failure");
    }
    assert!(w.stop(), "the worker stops cleanly");
    assert_eq!(seen.len(), n);
    // Per device, in the order published (one partition, one MQTT session).
    for (topic, lines) in &sent {
        let device = topic.split('/').nth(1).unwrap();
        let order: Vec<String> = got
            .iter()
            .filter(|r| text(&r.0) == device)
            .map(|r| text(&r.1))
            .collect();
        assert_eq!(&order, lines, "order of {device}");
    }
}

#[test]
fn every_qos1_message_survives_a_kill_9_of_the_worker() {
    const N: usize = 20_000;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let m = Mosquitto::start(d);
    let broker = Weft::start(&[]);
    let worker = worker_file(d, &broker);
    let source = source_config(d, &m, "killed", "");
    let mut w = Worker::standalone(d, &[worker, source]);
    assert!(
        w.wait_task_state("killed", "RUNNING", Duration::from_secs(60)),
        "{}",
        w.log_text()
    );
    let sent = readings(1, N).remove(0).1;
    let (first, second) = sent.split_at(N / 2);
    let publisher = publish_lines(&m, "sensors/dev-0/temp", 1, first);
    // Kill the worker once part of the stream is in Kafka.
    consume_until(&broker.bootstrap(), "temp", Duration::from_secs(120), |r| {
        r.len() >= 2_000
    });
    w.kill9();
    wait_ok(publisher, "mosquitto_pub");
    // Published while the worker is down: the broker queues them for its persistent session.
    wait_ok(
        publish_lines(&m, "sensors/dev-0/temp", 1, second),
        "mosquitto_pub",
    );
    w.restart();
    let got = consume_until(&broker.bootstrap(), "temp", Duration::from_secs(600), |r| {
        r.len() >= N && distinct(r) >= N
    });
    let values: BTreeSet<String> = got.iter().map(|r| text(&r.1)).collect();
    let missing: Vec<&String> = sent.iter().filter(|l| !values.contains(*l)).collect();
    assert!(
        missing.is_empty(),
        "{} of {N} messages lost (first: {:?}); worker log:\n{}",
        missing.len(),
        missing.first(),
        w.log_text()
    );
    assert!(values.iter().all(|v| sent.contains(v)));
}

#[test]
fn mqtt_sink_publishes_records_on_templated_topics_with_the_chosen_qos() {
    const N: usize = 2_000;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let m = Mosquitto::start(d);
    let broker = Weft::start(&[]);
    require_tool("mosquitto_sub");
    // The subscriber first, so it sees every message: `%q %t %p` prints QoS, topic, payload.
    let sub = Command::new("mosquitto_sub")
        .args(["-h", "127.0.0.1", "-p", &m.port.to_string()])
        .args([
            "-q",
            "1",
            "-t",
            "devices/#",
            "-C",
            &N.to_string(),
            "-W",
            "300",
        ])
        .args(["-F", "%q %t %p"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn mosquitto_sub");
    let p: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", broker.bootstrap())
        .create()
        .expect("producer");
    for i in 0..N {
        let key = format!("valve-{}", i % 5);
        let value = format!("{{\"cmd\":\"open\",\"n\":{i}}}");
        p.send(
            BaseRecord::to("device-commands")
                .key(&key)
                .payload(&value)
                .partition(0),
        )
        .expect("send");
    }
    p.flush(Duration::from_secs(30)).expect("flush");
    let worker = worker_file(d, &broker);
    let sink = write_file(
        d,
        "sink.properties",
        &format!(
            "name=commands\nconnector.class=mqtt-sink\ntasks.max=1\ntopics=device-commands\n\
             mqtt.server.uri={url}\ncapability.mqtt.urls={url}\nmqtt.client.id=commands\n\
             mqtt.topic=devices/${{key}}/set\nmqtt.qos=1\n\
             value.converter=org.apache.kafka.connect.storage.StringConverter\n",
            url = m.url()
        ),
    );
    let w = Worker::standalone(d, &[worker, sink]);
    let out = sub.wait_with_output().expect("mosquitto_sub");
    let lines: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect();
    assert_eq!(
        lines.len(),
        N,
        "messages at mosquitto_sub; worker log:\n{}",
        w.log_text()
    );
    let mut seen = BTreeSet::new();
    for l in &lines {
        let mut parts = l.splitn(3, ' ');
        let (q, topic, payload) = (parts.next(), parts.next(), parts.next());
        assert_eq!(q, Some("1"), "{l}");
        let v: Value = serde_json::from_str(payload.unwrap_or("")).expect("JSON payload");
        let n = v["n"].as_u64().expect("n");
        assert_eq!(
            topic,
            Some(format!("devices/valve-{}/set", n % 5).as_str()),
            "{l}"
        );
        seen.insert(n);
    }
    assert_eq!(seen.len(), N, "every record once");
}

#[test]
fn bad_grants_unreachable_brokers_and_oversized_payloads_fail_alone_with_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let m = Mosquitto::start(d);
    // A topic whose records may be at most 1000 bytes.
    let broker = Weft::start(&[]);
    let (ok, _, err) = common::weft_cmd(
        &[
            "topics",
            "create",
            "small",
            "--bootstrap-server",
            &broker.bootstrap(),
            "--config",
            "max.message.bytes=1000",
        ],
        None,
    );
    assert!(ok, "{err}");
    let worker = worker_file(d, &broker);
    // Granted a different URL than the one it connects to.
    let ungranted = write_file(
        d,
        "ungranted.properties",
        &format!(
            "name=ungranted\nconnector.class=mqtt-source\nmqtt.server.uri={}\nmqtt.client.id=u\n\
             capability.mqtt.urls=tcp://127.0.0.1:1\nmqtt.topics=a\nkafka.topic=a\n",
            m.url()
        ),
    );
    // Nothing listens there: the task retries with backoff.
    let dead = free_port();
    let unreachable = write_file(
        d,
        "unreachable.properties",
        &format!(
            "name=unreachable\nconnector.class=mqtt-source\nmqtt.client.id=x\n\
             mqtt.server.uri=tcp://127.0.0.1:{dead}\n\
             capability.mqtt.urls=tcp://127.0.0.1:{dead}\nmqtt.topics=a\nkafka.topic=a\n"
        ),
    );
    // JSON values through a JSON converter, oversized payloads: skipped and logged under all ...
    let tolerant = source_config(
        d,
        &m,
        "tolerant",
        "mqtt.topics=bad/+/temp\nkafka.topic=small\nvalue.format=json\n\
         value.converter=org.apache.kafka.connect.json.JsonConverter\n\
         value.converter.schemas.enable=false\nerrors.tolerance=all\nerrors.log.enable=true\n",
    );
    let healthy = source_config(d, &m, "healthy", "");
    let w = Worker::standalone(d, &[worker, ungranted, unreachable, tolerant, healthy]);

    assert!(
        w.wait_task_state("ungranted", "FAILED", Duration::from_secs(60)),
        "{}",
        w.log_text()
    );
    let trace = w.state("ungranted").unwrap().1[0]
        .1
        .clone()
        .unwrap_or_default();
    assert!(
        trace.contains(&m.url()) && trace.contains("capability.mqtt.urls"),
        "the failure names URL and key: {trace}"
    );
    assert!(
        wait_until(Duration::from_secs(60), || w
            .log_text()
            .matches(&format!("tcp://127.0.0.1:{dead}: cannot reach the broker"))
            .count()
            >= 2),
        "the unreachable broker is retried and each attempt logged; log:\n{}",
        w.log_text()
    );
    for c in ["tolerant", "healthy"] {
        assert!(
            w.wait_task_state(c, "RUNNING", Duration::from_secs(60)),
            "{c}: {}",
            w.log_text()
        );
    }

    let big = format!("{{\"pad\":\"{}\"}}", "x".repeat(2000));
    let publish = |topic: &str, line: &str| {
        wait_ok(
            publish_lines(&m, topic, 1, &[line.to_string()]),
            "mosquitto_pub",
        )
    };
    publish("bad/dev-1/temp", "{\"ok\":1}");
    publish("sensors/dev-1/temp", "{\"fine\":true}");
    let bootstrap = broker.bootstrap();
    let good = |n: usize| {
        consume_until(&bootstrap, "small", Duration::from_secs(60), |r| {
            r.len() >= n
        })
    };
    assert_eq!(good(1).len(), 1, "{}", w.log_text());
    // Alone in its produce request, so that only it is refused.
    publish("bad/dev-1/temp", &big);
    assert!(
        wait_until(Duration::from_secs(60), || w.log_text().lines().any(|l| l
            .contains("the cluster did not take a record")
            && l.contains("small"))),
        "the oversized record is reported; log:\n{}",
        w.log_text()
    );
    publish("bad/dev-1/temp", "{\"ok\":2}");
    // A payload that is not JSON under value.format=json: schemaless, so the JSON converter
    // writes it as a JSON string (as Kafka's does for a String): kept, not refused.
    publish("bad/dev-1/temp", "not json");
    let values: Vec<String> = good(3).iter().map(|r| text(&r.1)).collect();
    assert_eq!(
        values,
        vec!["{\"ok\":1}", "{\"ok\":2}", "\"not json\""],
        "{}",
        w.log_text()
    );
    let healthy = consume_until(&broker.bootstrap(), "temp", Duration::from_secs(60), |r| {
        !r.is_empty()
    });
    assert_eq!(text(&healthy[0].1), "{\"fine\":true}");
    assert_eq!(w.state("tolerant").unwrap().1[0].0, "RUNNING");
    assert_eq!(w.state("healthy").unwrap().1[0].0, "RUNNING");
}

#[test]
fn both_connectors_reconnect_after_mosquitto_restarts_and_lose_nothing_acknowledged() {
    const N: usize = 10_000;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let mut m = Mosquitto::start(d);
    let broker = Weft::start(&[]);
    let worker = worker_file(d, &broker);
    let source = source_config(d, &m, "restarted-source", "");
    // The sink sends what the source brought in back out under out/<device>.
    let sink = write_file(
        d,
        "sink.properties",
        &format!(
            "name=restarted-sink\nconnector.class=mqtt-sink\ntopics=temp\n\
             mqtt.server.uri={url}\ncapability.mqtt.urls={url}\nmqtt.client.id=restarted-sink\n\
             mqtt.topic=out/${{key}}\nmqtt.qos=1\n",
            url = m.url()
        ),
    );
    let w = Worker::standalone(d, &[worker, source, sink]);
    for c in ["restarted-source", "restarted-sink"] {
        assert!(
            w.wait_task_state(c, "RUNNING", Duration::from_secs(60)),
            "{c}: {}",
            w.log_text()
        );
    }
    // A persistent subscriber for the sink's output: its session outlives the restart.
    let port = m.port;
    let out_sub = |count: usize| {
        Command::new("mosquitto_sub")
            .args(["-h", "127.0.0.1", "-p", &port.to_string()])
            .args(["-q", "1", "-c", "-i", "e2e-out", "-t", "out/#"])
            .args(["-C", &count.to_string(), "-W", "20"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .output()
            .expect("mosquitto_sub")
    };
    // Register the session (no message yet: it times out).
    let _ = Command::new("mosquitto_sub")
        .args(["-h", "127.0.0.1", "-p", &m.port.to_string()])
        .args(["-q", "1", "-c", "-i", "e2e-out", "-t", "out/#", "-W", "1"])
        .output();
    let sent = readings(1, N).remove(0).1;
    let (first, second) = sent.split_at(N / 2);
    wait_ok(
        publish_lines(&m, "sensors/dev-0/temp", 1, first),
        "mosquitto_pub",
    );
    consume_until(&broker.bootstrap(), "temp", Duration::from_secs(120), |r| {
        r.len() >= 1_000
    });
    m.restart();
    assert!(
        wait_until(Duration::from_secs(60), || w
            .log_text()
            .matches(": connected (session present")
            .count()
            >= 2),
        "both connectors reconnected; log:\n{}",
        w.log_text()
    );
    wait_ok(
        publish_lines(&m, "sensors/dev-0/temp", 1, second),
        "mosquitto_pub",
    );
    let got = consume_until(&broker.bootstrap(), "temp", Duration::from_secs(300), |r| {
        distinct(r) >= N
    });
    let values: BTreeSet<String> = got.iter().map(|r| text(&r.1)).collect();
    let lost = sent.iter().filter(|l| !values.contains(*l)).count();
    assert_eq!(
        lost, 0,
        "messages the broker acknowledged to mosquitto_pub but Kafka lacks"
    );
    // The sink's side: every record of the topic reaches the persistent subscriber (read in
    // rounds; duplicates allowed).
    let mut out = BTreeSet::new();
    let deadline = Instant::now() + Duration::from_secs(300);
    while out.len() < N && Instant::now() < deadline {
        let o = out_sub(N);
        for l in String::from_utf8_lossy(&o.stdout).lines() {
            out.insert(l.to_string());
        }
    }
    assert_eq!(
        out.len(),
        N,
        "records at the subscriber; worker log:\n{}",
        w.log_text()
    );
}

#[test]
fn mqtt5_sessions_carry_user_properties_into_headers() {
    const N: usize = 1_000;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let m = Mosquitto::start(d);
    let broker = Weft::start(&[]);
    let worker = worker_file(d, &broker);
    let source = source_config(
        d,
        &m,
        "v5",
        "mqtt.protocol.version=5\nmqtt.session.expiry.secs=3600\n",
    );
    let w = Worker::standalone(d, &[worker, source]);
    assert!(
        w.wait_task_state("v5", "RUNNING", Duration::from_secs(60)),
        "{}",
        w.log_text()
    );
    let lines = readings(1, N).remove(0).1;
    let mut publisher = Command::new("mosquitto_pub")
        .args(["-h", "127.0.0.1", "-p", &m.port.to_string(), "-V", "5"])
        .args(["-q", "1", "-t", "sensors/dev-0/temp", "-l"])
        .args(["-D", "publish", "user-property", "site", "north"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn mosquitto_pub");
    publisher
        .stdin
        .take()
        .expect("stdin")
        .write_all((lines.join("\n") + "\n").as_bytes())
        .expect("write");
    wait_ok(publisher, "mosquitto_pub -V 5");
    let got = consume_until(&broker.bootstrap(), "temp", Duration::from_secs(120), |r| {
        r.len() >= N
    });
    assert_eq!(got.len(), N, "{}", w.log_text());
    for r in &got {
        assert_eq!(
            header(r, "site"),
            Some(&b"north"[..]),
            "user property as header"
        );
        assert_eq!(text(&r.0), "dev-0");
    }
    let values: Vec<String> = got.iter().map(|r| text(&r.1)).collect();
    assert_eq!(values, lines);
}

#[test]
fn tls_connectors_trust_the_granted_ca_and_a_wrong_ca_fails_naming_the_problem() {
    const N: usize = 500;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let certs = TestCerts::generate(d);
    // A TLS listener next to the plain one (the devices publish and subscribe in plain).
    let tls_port = free_port();
    let m = Mosquitto::start_with(
        d,
        &format!(
            "listener {tls_port} 127.0.0.1\ncafile {}\ncertfile {}\nkeyfile {}\n",
            certs.ca.display(),
            certs.server_cert.display(),
            certs.server_key.display()
        ),
    );
    assert!(
        wait_until(Duration::from_secs(20), || TcpStream::connect((
            "127.0.0.1",
            tls_port
        ))
        .is_ok()),
        "the TLS listener is up"
    );
    let tls_url = format!("mqtts://127.0.0.1:{tls_port}");
    let broker = Weft::start(&[]);
    let worker = worker_file(d, &broker);
    let granted = |name: &str, ca: &Path, rest: &str| {
        write_file(
            d,
            &format!("{name}.properties"),
            &format!(
                "name={name}\ntasks.max=1\nmqtt.server.uri={tls_url}\n\
                 capability.mqtt.urls={tls_url}\ncapability.mqtt.tls.ca.location={}\n\
                 mqtt.client.id={name}\nmqtt.qos=1\n{rest}",
                ca.display()
            ),
        )
    };
    let source = granted(
        "tls-source",
        &certs.ca,
        "connector.class=mqtt-source\nmqtt.topics=sensors/+/temp\nkafka.topic=temp\n\
         kafka.key=${level.1}\n",
    );
    let sink = granted(
        "tls-sink",
        &certs.ca,
        "connector.class=mqtt-sink\ntopics=temp\nmqtt.topic=tls-out/${key}\n",
    );
    let wrong = granted(
        "wrong-ca",
        &certs.other_ca,
        "connector.class=mqtt-source\nmqtt.topics=a\nkafka.topic=a\n",
    );
    let missing = granted(
        "missing-ca",
        &d.join("no-such-ca.pem"),
        "connector.class=mqtt-source\nmqtt.topics=a\nkafka.topic=a\n",
    );
    // A persistent subscriber session for the sink's output, registered before anything is
    // published (-E: exit once the subscription is acknowledged).
    let sub_args = |extra: &[&str]| {
        let mut c = Command::new("mosquitto_sub");
        c.args(["-h", "127.0.0.1", "-p", &m.port.to_string()])
            .args(["-q", "1", "-c", "-i", "tls-out", "-t", "tls-out/#"])
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        c
    };
    let registered = sub_args(&["-E"]).output().expect("mosquitto_sub -E");
    assert!(registered.status.success(), "{registered:?}");
    let w = Worker::standalone(d, &[worker, source, sink, wrong, missing]);
    for c in ["tls-source", "tls-sink"] {
        assert!(
            w.wait_task_state(c, "RUNNING", Duration::from_secs(60)),
            "{c}: {}",
            w.log_text()
        );
    }
    assert!(
        w.wait_task_state("wrong-ca", "FAILED", Duration::from_secs(60)),
        "{}",
        w.log_text()
    );
    let trace = w.state("wrong-ca").unwrap().1[0]
        .1
        .clone()
        .unwrap_or_default();
    assert!(
        trace.contains("certificate is not trusted")
            && trace.contains("capability.mqtt.tls.ca.location")
            && trace.contains(&tls_url),
        "the failure names the problem, the URL and the key: {trace}"
    );
    // A CA file that is not there: FAILED at start, naming the key and the file.
    assert!(
        w.wait_task_state("missing-ca", "FAILED", Duration::from_secs(60)),
        "{}",
        w.log_text()
    );
    let trace = w.state("missing-ca").unwrap().1[0]
        .1
        .clone()
        .unwrap_or_default();
    assert!(
        trace.contains("capability.mqtt.tls.ca.location") && trace.contains("no-such-ca.pem"),
        "{trace}"
    );

    let sent = readings(1, N).remove(0).1;
    wait_ok(
        publish_lines(&m, "sensors/dev-0/temp", 1, &sent),
        "mosquitto_pub",
    );
    let got = consume_until(&broker.bootstrap(), "temp", Duration::from_secs(120), |r| {
        r.len() >= N
    });
    let values: Vec<String> = got.iter().map(|r| text(&r.1)).collect();
    assert_eq!(values, sent, "over TLS into Kafka; log:\n{}", w.log_text());
    // The sink sent them back out over TLS.
    let out = sub_args(&["-C", &N.to_string(), "-W", "120"])
        .output()
        .expect("mosquitto_sub");
    let back: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect();
    assert_eq!(back, sent, "out over TLS; log:\n{}", w.log_text());
    assert_eq!(w.state("tls-source").unwrap().1[0].0, "RUNNING");
}

#[test]
fn a_record_that_is_not_json_for_a_json_converter_goes_to_the_dlq_or_fails_the_task() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let m = Mosquitto::start(d);
    let broker = Weft::start(&[]);
    let p: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", broker.bootstrap())
        .create()
        .expect("producer");
    for v in ["{\"n\":1}", "not json at all", "{\"n\":2}"] {
        p.send(BaseRecord::to("cmds").key("valve").payload(v).partition(0))
            .expect("send");
    }
    p.flush(Duration::from_secs(30)).expect("flush");
    let worker = worker_file(d, &broker);
    let sink = |name: &str, extra: &str| {
        write_file(
            d,
            &format!("{name}.properties"),
            &format!(
                "name={name}\nconnector.class=mqtt-sink\ntopics=cmds\nmqtt.server.uri={url}\n\
                 capability.mqtt.urls={url}\nmqtt.client.id={name}\nmqtt.topic={name}/${{key}}\n\
                 mqtt.qos=1\nvalue.converter=org.apache.kafka.connect.json.JsonConverter\n\
                 value.converter.schemas.enable=false\n{extra}",
                url = m.url()
            ),
        )
    };
    let tolerant = sink(
        "json-tolerant",
        "errors.tolerance=all\nerrors.deadletterqueue.topic.name=cmds-dlq\n\
         errors.deadletterqueue.context.headers.enable=true\n",
    );
    let strict = sink("json-strict", "");
    let sub = Command::new("mosquitto_sub")
        .args(["-h", "127.0.0.1", "-p", &m.port.to_string()])
        .args([
            "-q",
            "1",
            "-c",
            "-i",
            "json-out",
            "-t",
            "json-tolerant/#",
            "-E",
        ])
        .output()
        .expect("mosquitto_sub -E");
    assert!(sub.status.success(), "{sub:?}");
    let w = Worker::standalone(d, &[worker, tolerant, strict]);
    // Without tolerance the task fails, naming the converter's reason.
    assert!(
        w.wait_task_state("json-strict", "FAILED", Duration::from_secs(60)),
        "{}",
        w.log_text()
    );
    let trace = w.state("json-strict").unwrap().1[0]
        .1
        .clone()
        .unwrap_or_default();
    assert!(trace.to_lowercase().contains("json"), "{trace}");
    // With it, the record is in the DLQ with Connect's error headers and the others go out.
    let dlq = consume_until(
        &broker.bootstrap(),
        "cmds-dlq",
        Duration::from_secs(60),
        |r| !r.is_empty(),
    );
    assert_eq!(dlq.len(), 1, "{}", w.log_text());
    assert_eq!(text(&dlq[0].1), "not json at all");
    assert_eq!(
        header(&dlq[0], "__connect.errors.stage"),
        Some(&b"VALUE_CONVERTER"[..]),
        "{:?}",
        dlq[0].2
    );
    let out = Command::new("mosquitto_sub")
        .args(["-h", "127.0.0.1", "-p", &m.port.to_string()])
        .args(["-q", "1", "-c", "-i", "json-out", "-t", "json-tolerant/#"])
        .args(["-C", "2", "-W", "60"])
        .output()
        .expect("mosquitto_sub");
    let lines: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect();
    assert_eq!(lines, vec!["{\"n\":1}", "{\"n\":2}"], "{}", w.log_text());
    assert_eq!(w.state("json-tolerant").unwrap().1[0].0, "RUNNING");
}
