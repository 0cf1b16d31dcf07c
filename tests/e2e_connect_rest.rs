//! Kafka Connect's REST API end to end: a real broker and a real `weft connect standalone`
//! worker on free ports, every endpoint called over HTTP, and each answer checked field by field
//! against the bodies Kafka Connect documents (`ConnectorInfo`, `ConnectorStateInfo`,
//! `TaskInfo`, `ConfigInfos`, `ConnectorOffsets`, `ErrorMessage`, ...). Then the `weft connect`
//! CLI wrappers against the same worker.

mod common;

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{weft_bin, weft_cmd, Weft};
use serde_json::{json, Value};

const QUICKSTART: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../tests/fixtures/kafka-quickstart"
);

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// A `weft connect standalone` process in its own working directory.
struct Worker {
    child: Child,
    url: String,
    log: Arc<Mutex<String>>,
}

impl Worker {
    fn start(dir: &Path, bootstrap: &str, connector_files: &[&str]) -> Worker {
        let port = free_port();
        // Kafka's quickstart worker file, as shipped, plus what a test must point elsewhere.
        // Weft's broker has no idempotent producer yet (docs/architecture.md, "Not built yet")
        // while the worker's producer asks for one, so this test turns it off.
        let mut worker =
            std::fs::read_to_string(Path::new(QUICKSTART).join("connect-standalone.properties"))
                .expect("quickstart worker file");
        worker.push_str(&format!(
            "\nbootstrap.servers={bootstrap}\nlisteners=http://127.0.0.1:{port}\n\
             offset.storage.file.filename={}\noffset.flush.interval.ms=200\n\
             producer.enable.idempotence=false\n",
            dir.join("connect.offsets").display()
        ));
        std::fs::write(dir.join("worker.properties"), worker).expect("worker file");
        let mut cmd = Command::new(weft_bin());
        cmd.current_dir(dir)
            .arg("connect")
            .arg("standalone")
            .arg("worker.properties")
            .args(connector_files)
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("spawn weft connect standalone");
        let log = Arc::new(Mutex::new(String::new()));
        if let Some(stderr) = child.stderr.take() {
            let log = log.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                    if let Ok(mut l) = log.lock() {
                        l.push_str(&line);
                        l.push('\n');
                    }
                }
            });
        }
        let w = Worker {
            child,
            url: format!("http://127.0.0.1:{port}"),
            log,
        };
        w.wait("the REST API answers", || w.get("/").0 == 200);
        w
    }

    fn log_text(&self) -> String {
        self.log.lock().map(|l| l.clone()).unwrap_or_default()
    }

    fn call(&self, method: &str, path: &str, body: Option<&str>) -> (u16, Value, Option<String>) {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(30)))
            .build()
            .into();
        let url = format!("{}{path}", self.url);
        let body = body.unwrap_or("");
        let r = match method {
            "GET" => agent.get(&url).call(),
            "DELETE" => agent.delete(&url).call(),
            "POST" => agent
                .post(&url)
                .header("Content-Type", "application/json")
                .send(body),
            "PUT" => agent
                .put(&url)
                .header("Content-Type", "application/json")
                .send(body),
            "PATCH" => agent
                .patch(&url)
                .header("Content-Type", "application/json")
                .send(body),
            m => panic!("method {m}"),
        };
        let mut resp = match r {
            Ok(r) => r,
            Err(e) => return (0, Value::String(e.to_string()), None),
        };
        let status = resp.status().as_u16();
        let location = resp
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let text = resp.body_mut().read_to_string().unwrap_or_default();
        let v = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        (status, v, location)
    }

    fn get(&self, path: &str) -> (u16, Value) {
        let (s, v, _) = self.call("GET", path, None);
        (s, v)
    }

    /// Waits for an observable condition, failing with the worker's log after 60 s.
    fn wait(&self, what: &str, mut cond: impl FnMut() -> bool) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while !cond() {
            assert!(
                Instant::now() < deadline,
                "timed out waiting until {what}; worker log:\n{}",
                self.log_text()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn state(&self, name: &str) -> Value {
        self.get(&format!("/connectors/{name}/status")).1
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn keys(v: &Value) -> BTreeSet<String> {
    v.as_object()
        .unwrap_or_else(|| panic!("expected an object: {v}"))
        .keys()
        .cloned()
        .collect()
}

fn set(k: &[&str]) -> BTreeSet<String> {
    k.iter().map(|s| s.to_string()).collect()
}

/// Connect's `ErrorMessage`: exactly `error_code` (the HTTP status) and `message`.
fn assert_error(status: u16, v: &Value, expected: u16) {
    assert_eq!(status, expected, "{v}");
    assert_eq!(keys(v), set(&["error_code", "message"]), "{v}");
    assert_eq!(v["error_code"], expected);
    assert!(!v["message"].as_str().unwrap_or("").is_empty(), "{v}");
}

/// `ConnectorInfo`: `name`, `config`, `tasks` (`[{connector, task}]`), `type`.
fn assert_info(v: &Value, name: &str, kind: &str) {
    assert_eq!(keys(v), set(&["name", "config", "tasks", "type"]), "{v}");
    assert_eq!(v["name"], name);
    assert_eq!(v["type"], kind);
    assert_eq!(v["config"]["name"], name);
    assert!(
        v["config"]
            .as_object()
            .unwrap()
            .values()
            .all(Value::is_string),
        "{v}"
    );
    for t in v["tasks"].as_array().unwrap() {
        assert_eq!(keys(t), set(&["connector", "task"]), "{t}");
        assert_eq!(t["connector"], name);
        assert!(t["task"].is_u64());
    }
}

/// `ConnectorStateInfo`: `name`, `connector` (`state`, `worker_id`, `trace` when failed),
/// `tasks` (`id`, `state`, `worker_id`, `trace`; Weft adds `metrics`), `type`.
fn assert_status(v: &Value, name: &str, kind: &str) {
    assert_eq!(keys(v), set(&["name", "connector", "tasks", "type"]), "{v}");
    assert_eq!(v["name"], name);
    assert_eq!(v["type"], kind);
    let states = [
        "UNASSIGNED",
        "RUNNING",
        "PAUSED",
        "STOPPED",
        "FAILED",
        "RESTARTING",
    ];
    let c = &v["connector"];
    assert!(
        keys(c).is_subset(&set(&["state", "worker_id", "trace"])),
        "{c}"
    );
    assert!(states.contains(&c["state"].as_str().unwrap()), "{c}");
    assert!(c["worker_id"].is_string());
    for t in v["tasks"].as_array().unwrap() {
        assert_task_state(t);
    }
}

fn assert_task_state(t: &Value) {
    assert!(
        keys(t).is_subset(&set(&["id", "state", "worker_id", "trace", "metrics"])),
        "{t}"
    );
    assert!(
        t["id"].is_u64() && t["state"].is_string() && t["worker_id"].is_string(),
        "{t}"
    );
}

/// `ConfigKeyInfo`'s eleven fields.
fn assert_config_key(d: &Value) {
    assert_eq!(
        keys(d),
        set(&[
            "name",
            "type",
            "required",
            "default_value",
            "importance",
            "documentation",
            "group",
            "width",
            "display_name",
            "dependents",
            "order"
        ]),
        "{d}"
    );
    assert!(d["required"].is_boolean() && d["dependents"].is_array() && d["order"].is_i64());
}

/// `ConfigInfos`: `name`, `error_count`, `groups`, `configs` of `{definition, value}`.
fn assert_config_infos(v: &Value) {
    for k in ["name", "error_count", "groups", "configs"] {
        assert!(v.get(k).is_some(), "{k} missing in {v}");
    }
    let mut errors = 0;
    for c in v["configs"].as_array().unwrap() {
        assert_eq!(keys(c), set(&["definition", "value"]), "{c}");
        assert_config_key(&c["definition"]);
        assert_eq!(
            keys(&c["value"]),
            set(&["name", "value", "recommended_values", "errors", "visible"]),
            "{c}"
        );
        errors += c["value"]["errors"].as_array().unwrap().len();
    }
    assert_eq!(v["error_count"], errors as u64, "{v}");
}

fn source_config(file: &str) -> Value {
    json!({
        "connector.class": "FileStreamSource",
        "tasks.max": "1",
        "file": file,
        "topic": "connect-test"
    })
}

#[test]
fn every_endpoint_with_connects_codes_and_bodies() {
    let broker = Weft::start(&[]);
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    std::fs::write(dir.join("test.txt"), "foo\nbar\n").unwrap();
    let w = Worker::start(dir, &broker.bootstrap(), &[]);

    // GET / and /health.
    let (s, v) = w.get("/");
    assert_eq!(s, 200);
    assert_eq!(
        keys(&v),
        set(&["version", "commit", "kafka_cluster_id"]),
        "{v}"
    );
    let (s, v) = w.get("/health");
    assert_eq!(s, 200);
    assert_eq!(
        v,
        json!({"status": "healthy", "message": "Worker has completed startup and is ready to handle requests."})
    );

    // Plugins.
    let (s, v) = w.get("/connector-plugins");
    assert_eq!(s, 200);
    let plugins = v.as_array().unwrap();
    for p in plugins {
        assert!(
            keys(p).is_subset(&set(&["class", "type", "version"])),
            "{p}"
        );
        assert!(
            ["source", "sink"].contains(&p["type"].as_str().unwrap()),
            "{p}"
        );
    }
    assert!(
        plugins
            .iter()
            .any(|p| p["class"] == "file-source" && p["type"] == "source"),
        "{v}"
    );
    assert!(
        plugins
            .iter()
            .any(|p| p["class"] == "file-sink" && p["type"] == "sink"),
        "{v}"
    );
    let (s, v) = w.get("/connector-plugins?connectorsOnly=false");
    assert_eq!(s, 200);
    let kinds: BTreeSet<&str> = v
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| p["type"].as_str())
        .collect();
    assert!(
        kinds.contains("transformation") && kinds.contains("source"),
        "{v}"
    );
    for class in [
        "org.apache.kafka.connect.transforms.TimestampConverter$Value",
        "org.apache.kafka.connect.transforms.Cast$Key",
        "org.apache.kafka.connect.transforms.SetSchemaMetadata$Value",
    ] {
        assert!(
            v.as_array()
                .unwrap()
                .iter()
                .any(|p| p["class"] == class && p["type"] == "transformation"),
            "{class} is not listed: {v}"
        );
    }
    // As Kafka: the converters that are also header converters are listed as both.
    for (class, kind) in [
        ("org.apache.kafka.connect.json.JsonConverter", "converter"),
        (
            "org.apache.kafka.connect.json.JsonConverter",
            "header_converter",
        ),
        (
            "org.apache.kafka.connect.storage.StringConverter",
            "header_converter",
        ),
        (
            "org.apache.kafka.connect.storage.SimpleHeaderConverter",
            "header_converter",
        ),
        ("json-converter", "header_converter"),
    ] {
        assert!(
            v.as_array()
                .unwrap()
                .iter()
                .any(|p| p["class"] == class && p["type"] == kind),
            "{class} is not listed as a {kind}: {v}"
        );
    }
    let (s, v) = w.get("/connector-plugins/file-source/config");
    assert_eq!(s, 200);
    for d in v.as_array().unwrap() {
        assert_config_key(d);
    }
    assert!(
        v.as_array().unwrap().iter().any(|d| d["name"] == "file"),
        "{v}"
    );
    let (s, v) = w.get("/connector-plugins/no-such-plugin/config");
    assert_error(s, &v, 404);

    // Validation.
    let mut cfg = source_config("test.txt");
    cfg["connector.class"] = json!("FileStreamSource");
    cfg["name"] = json!("v");
    let (s, v, _) = w.call(
        "PUT",
        "/connector-plugins/FileStreamSource/config/validate",
        Some(&cfg.to_string()),
    );
    assert_eq!(s, 200, "{v}");
    assert_config_infos(&v);
    assert_eq!(v["error_count"], 0, "{v}");
    cfg["tasks.max"] = json!("0");
    let (s, v, _) = w.call(
        "PUT",
        "/connector-plugins/FileStreamSource/config/validate",
        Some(&cfg.to_string()),
    );
    assert_eq!(s, 200);
    assert_config_infos(&v);
    assert!(v["error_count"].as_u64().unwrap() >= 1, "{v}");
    let (s, v, _) = w.call(
        "PUT",
        "/connector-plugins/FileStreamSink/config/validate",
        Some(&source_config("x").to_string()),
    );
    assert_error(s, &v, 400);

    // Create: 201 with Location and ConnectorInfo; again: 409; invalid: 400.
    let body = json!({"name": "src", "config": source_config("test.txt")}).to_string();
    let (s, v, loc) = w.call("POST", "/connectors", Some(&body));
    assert_eq!(s, 201, "{v}");
    assert_eq!(
        loc.as_deref().map(|l| l.ends_with("/connectors/src")),
        Some(true),
        "{loc:?}"
    );
    assert_info(&v, "src", "source");
    let (s, v, _) = w.call("POST", "/connectors", Some(&body));
    assert_error(s, &v, 409);
    let bad =
        json!({"name": "bad", "config": {"connector.class": "FileStreamSource", "tasks.max": "0"}});
    let (s, v, _) = w.call("POST", "/connectors", Some(&bad.to_string()));
    assert_eq!(s, 400, "{v}");
    assert_eq!(v["error_code"], 400);
    assert!(
        v["message"]
            .as_str()
            .unwrap()
            .starts_with("Connector configuration is invalid"),
        "{v}"
    );
    let (s, v, _) = w.call("POST", "/connectors", Some("{\"name\": "));
    assert_error(s, &v, 500);

    // Lists and expansions.
    assert_eq!(w.get("/connectors"), (200, json!(["src"])));
    w.wait("the source task runs", || {
        let v = w.state("src");
        v["connector"]["state"] == "RUNNING" && v["tasks"][0]["state"] == "RUNNING"
    });
    let (s, v) = w.get("/connectors?expand=status&expand=info");
    assert_eq!(s, 200);
    assert_eq!(keys(&v), set(&["src"]));
    assert_eq!(keys(&v["src"]), set(&["status", "info"]));
    assert_status(&v["src"]["status"], "src", "source");
    assert_info(&v["src"]["info"], "src", "source");
    let (_, v) = w.get("/connectors?expand=info");
    assert_eq!(keys(&v["src"]), set(&["info"]));

    // One connector.
    let (s, v) = w.get("/connectors/src");
    assert_eq!(s, 200);
    assert_info(&v, "src", "source");
    let (s, v) = w.get("/connectors/src/config");
    assert_eq!(s, 200);
    assert_eq!(v["file"], "test.txt");
    assert_eq!(v["name"], "src");
    assert!(v.get("weft.file.as.configured").is_none(), "{v}");
    let (s, v) = w.get("/connectors/src/status");
    assert_eq!(s, 200);
    assert_status(&v, "src", "source");
    let (s, v) = w.get("/connectors/src/tasks");
    assert_eq!(s, 200);
    let tasks = v.as_array().unwrap();
    assert_eq!(tasks.len(), 1);
    assert_eq!(keys(&tasks[0]), set(&["id", "config"]));
    assert_eq!(tasks[0]["id"], json!({"connector": "src", "task": 0}));
    let (s, v) = w.get("/connectors/src/tasks/0/status");
    assert_eq!(s, 200);
    assert_task_state(&v);
    assert_eq!(v["id"], 0);
    for p in [
        "/connectors/src/tasks/9/status",
        "/connectors/nope",
        "/connectors/nope/status",
        "/no/such/path",
    ] {
        let (s, v) = w.get(p);
        assert_error(s, &v, 404);
    }

    // The records reach the topic: the connector's active topics show it.
    w.wait("the source used connect-test", || {
        w.get("/connectors/src/topics").1 == json!({"src": {"topics": ["connect-test"]}})
    });
    let (s, v, _) = w.call("PUT", "/connectors/src/topics/reset", None);
    assert_eq!((s, v), (202, Value::Null));

    // Update (200) and patch (200).
    let mut updated = source_config("test.txt");
    updated["batch.size"] = json!("100");
    let (s, v, _) = w.call("PUT", "/connectors/src/config", Some(&updated.to_string()));
    assert_eq!(s, 200, "{v}");
    assert_info(&v, "src", "source");
    assert_eq!(v["config"]["batch.size"], "100");
    let (s, v, _) = w.call(
        "PATCH",
        "/connectors/src/config",
        Some(r#"{"batch.size": null}"#),
    );
    assert_eq!(s, 200, "{v}");
    assert!(v["config"].get("batch.size").is_none(), "{v}");
    let (s, v, _) = w.call(
        "PUT",
        "/connectors/src/config",
        Some(r#"{"name": "other", "connector.class": "FileStreamSource"}"#),
    );
    assert_error(s, &v, 400);

    // Pause and resume: 202.
    let (s, _, _) = w.call("PUT", "/connectors/src/pause", None);
    assert_eq!(s, 202);
    w.wait("the connector is PAUSED", || {
        w.state("src")["connector"]["state"] == "PAUSED"
    });
    let (s, _, _) = w.call("PUT", "/connectors/src/resume", None);
    assert_eq!(s, 202);
    w.wait("the connector runs again", || {
        w.state("src")["connector"]["state"] == "RUNNING"
    });

    // Restarts: connector only 204, with tasks 202 + status, a task 204, unknown task 404.
    let (s, v, _) = w.call("POST", "/connectors/src/restart", None);
    assert_eq!((s, v), (204, Value::Null));
    let (s, v, _) = w.call(
        "POST",
        "/connectors/src/restart?includeTasks=true&onlyFailed=false",
        None,
    );
    assert_eq!(s, 202, "{v}");
    assert_status(&v, "src", "source");
    let (s, _, _) = w.call("POST", "/connectors/src/tasks/0/restart", None);
    assert_eq!(s, 204);
    let (s, v, _) = w.call("POST", "/connectors/src/tasks/9/restart", None);
    assert_error(s, &v, 404);
    w.wait("the task runs after the restarts", || {
        w.state("src")["tasks"][0]["state"] == "RUNNING"
    });

    // Offsets (KIP-875): readable while running, changed only when STOPPED.
    w.wait("the source committed its position", || {
        let (s, v) = w.get("/connectors/src/offsets");
        s == 200 && v["offsets"].as_array().is_some_and(|o| !o.is_empty())
    });
    let (_, v) = w.get("/connectors/src/offsets");
    assert_eq!(keys(&v), set(&["offsets"]));
    let entry = v["offsets"][0].clone();
    assert_eq!(keys(&entry), set(&["partition", "offset"]));
    // FileStreamSource's partition names the file as configured, not its path in the sandbox.
    assert_eq!(entry["partition"], json!({"filename": "test.txt"}), "{v}");
    let alter = json!({"offsets": [{"partition": entry["partition"], "offset": entry["offset"]}]})
        .to_string();
    let (s, v, _) = w.call("PATCH", "/connectors/src/offsets", Some(&alter));
    // Kafka's BadRequestException, naming the stop endpoint.
    assert_error(s, &v, 400);
    assert!(
        v["message"]
            .as_str()
            .is_some_and(|m| m.contains("/connectors/src/stop")),
        "{v}"
    );
    let (s, v, _) = w.call("PUT", "/connectors/src/stop", None);
    assert_eq!((s, v), (204, Value::Null));
    w.wait("the connector is STOPPED", || {
        w.state("src")["connector"]["state"] == "STOPPED"
    });
    let (s, v, _) = w.call("PATCH", "/connectors/src/offsets", Some(&alter));
    assert_eq!(s, 200, "{v}");
    assert_eq!(keys(&v), set(&["message"]));
    let (s, v, _) = w.call(
        "PATCH",
        "/connectors/src/offsets",
        Some(r#"{"offsets": []}"#),
    );
    assert_error(s, &v, 400);
    let (s, v, _) = w.call("DELETE", "/connectors/src/offsets", None);
    assert_eq!(s, 200, "{v}");
    assert_eq!(keys(&v), set(&["message"]));
    w.wait("the reset offsets are gone", || {
        w.get("/connectors/src/offsets").1 == json!({"offsets": []})
    });

    // A sink: its offsets are kafka_topic / kafka_partition / kafka_offset.
    let sink = json!({"connector.class": "FileStreamSink", "tasks.max": "1", "file": "test.sink.txt", "topics": "connect-test"});
    let (s, v, loc) = w.call("PUT", "/connectors/snk/config", Some(&sink.to_string()));
    assert_eq!(s, 201, "{v}");
    assert!(loc.is_some());
    assert_info(&v, "snk", "sink");
    w.wait("the sink wrote the file", || {
        std::fs::read_to_string(dir.join("test.sink.txt"))
            .is_ok_and(|t| t.contains("foo") && t.contains("bar"))
    });
    w.wait("the sink committed", || {
        w.get("/connectors/snk/offsets").1["offsets"]
            .as_array()
            .is_some_and(|o| !o.is_empty())
    });
    let (_, v) = w.get("/connectors/snk/offsets");
    let o = &v["offsets"][0];
    assert_eq!(
        keys(&o["partition"]),
        set(&["kafka_topic", "kafka_partition"]),
        "{v}"
    );
    assert_eq!(o["partition"]["kafka_topic"], "connect-test");
    assert_eq!(keys(&o["offset"]), set(&["kafka_offset"]), "{v}");

    // Delete: 204, then 404.
    for c in ["src", "snk"] {
        let (s, v, _) = w.call("DELETE", &format!("/connectors/{c}"), None);
        assert_eq!((s, v), (204, Value::Null));
        let (s, v) = w.get(&format!("/connectors/{c}"));
        assert_error(s, &v, 404);
    }
    assert_eq!(w.get("/connectors"), (200, json!([])));

    // Loggers.
    let (s, v) = w.get("/admin/loggers");
    assert_eq!(s, 200);
    assert_eq!(keys(&v["root"]), set(&["level", "last_modified"]), "{v}");
    let (s, v, _) = w.call(
        "PUT",
        "/admin/loggers/weft_connect",
        Some(r#"{"level": "DEBUG"}"#),
    );
    assert_eq!((s, v), (200, json!(["weft_connect"])));
    let (s, v) = w.get("/admin/loggers/weft_connect");
    assert_eq!(s, 200);
    assert_eq!(v["level"], "DEBUG");
    assert!(v["last_modified"].is_i64(), "{v}");
    let (s, v, _) = w.call(
        "PUT",
        "/admin/loggers/weft_connect",
        Some(r#"{"level": "LOUD"}"#),
    );
    assert_error(s, &v, 404);
    let (s, v, _) = w.call("PUT", "/admin/loggers/weft_connect", Some(r#"{}"#));
    assert_error(s, &v, 400);
}

#[test]
fn cli_wrappers_and_quickstart_files() {
    let broker = Weft::start(&[]);
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    std::fs::write(dir.join("test.txt"), "one\ntwo\n").unwrap();
    // Kafka's quickstart connector file, as shipped, given on the command line.
    let source = Path::new(QUICKSTART).join("connect-file-source.properties");
    let w = Worker::start(dir, &broker.bootstrap(), &[source.to_str().unwrap()]);
    let url = w.url.clone();
    let cli = |args: &[&str]| {
        let mut a = vec!["connect"];
        a.extend_from_slice(args);
        a.extend_from_slice(&["--url", &url]);
        let (ok, out, err) = weft_cmd(&a, None);
        assert!(ok, "weft {a:?} failed: {err}");
        out
    };
    w.wait("the quickstart source runs", || {
        w.state("local-file-source")["tasks"][0]["state"] == "RUNNING"
    });

    let out = cli(&["list"]);
    let mut lines = out.lines();
    let header: Vec<&str> = lines.next().unwrap().split_whitespace().collect();
    assert_eq!(header, ["NAME", "TYPE", "STATE", "TASKS"]);
    let row: Vec<&str> = lines.next().unwrap().split_whitespace().collect();
    assert_eq!(
        &row[..3],
        ["local-file-source", "source", "RUNNING"],
        "{out}"
    );

    // create FILE in each format (and again: PUT makes it idempotent).
    std::fs::write(
        dir.join("sink.yaml"),
        "name: local-file-sink\nconnector.class: FileStreamSink\ntasks.max: 1\nfile: test.sink.txt\ntopics: [connect-test]\n",
    )
    .unwrap();
    assert_eq!(
        cli(&["create", dir.join("sink.yaml").to_str().unwrap()]).trim(),
        "created local-file-sink"
    );
    assert_eq!(
        cli(&["create", dir.join("sink.yaml").to_str().unwrap()]).trim(),
        "updated local-file-sink"
    );
    std::fs::write(
        dir.join("gen.json"),
        r#"{"name": "gen", "config": {"connector.class": "FileStreamSource", "file": "test.txt", "topic": "other"}, "initial_state": "PAUSED"}"#,
    )
    .unwrap();
    assert_eq!(
        cli(&["create", dir.join("gen.json").to_str().unwrap()]).trim(),
        "created gen"
    );
    w.wait("gen starts PAUSED", || {
        w.state("gen")["connector"]["state"] == "PAUSED"
    });
    std::fs::write(
        dir.join("t.toml"),
        "name = \"t\"\n\"connector.class\" = \"FileStreamSource\"\nfile = \"test.txt\"\ntopic = \"t\"\n",
    )
    .unwrap();
    assert_eq!(
        cli(&["create", dir.join("t.toml").to_str().unwrap()]).trim(),
        "created t"
    );

    // The quickstart round trip: the sink file gets the source file's lines.
    w.wait("the sink wrote the lines", || {
        std::fs::read_to_string(dir.join("test.sink.txt")).is_ok_and(|t| t == "one\ntwo\n")
    });

    let out = cli(&["status", "local-file-sink"]);
    assert!(out.starts_with("local-file-sink (sink): RUNNING"), "{out}");
    assert!(out.lines().any(|l| l.starts_with("TASK")), "{out}");
    assert!(
        out.lines()
            .any(|l| l.split_whitespace().take(2).eq(["0", "RUNNING"])),
        "{out}"
    );
    let all = cli(&["status"]);
    for n in ["local-file-source", "local-file-sink", "gen", "t"] {
        assert!(all.contains(&format!("{n} (")), "{all}");
    }

    assert_eq!(cli(&["pause", "t"]).trim(), "paused t");
    w.wait("t is PAUSED", || {
        w.state("t")["connector"]["state"] == "PAUSED"
    });
    assert_eq!(cli(&["resume", "t"]).trim(), "resumed t");
    w.wait("t runs", || w.state("t")["connector"]["state"] == "RUNNING");
    let out = cli(&["restart", "t", "--include-tasks"]);
    assert!(out.starts_with("restarting t\nt (source):"), "{out}");
    assert_eq!(cli(&["restart", "t"]).trim(), "restarting t");
    assert_eq!(
        cli(&["stop", "local-file-sink"]).trim(),
        "stopped local-file-sink"
    );
    w.wait("the sink is STOPPED", || {
        w.state("local-file-sink")["connector"]["state"] == "STOPPED"
    });
    let out = cli(&["offsets", "local-file-sink"]);
    let mut lines = out.lines();
    assert_eq!(
        lines.next().unwrap().split_whitespace().collect::<Vec<_>>(),
        ["PARTITION", "OFFSET"]
    );
    let row = lines.next().unwrap();
    assert!(
        row.contains("\"kafka_topic\":\"connect-test\"") && row.contains("\"kafka_offset\":2"),
        "{out}"
    );
    assert_eq!(cli(&["delete", "gen"]).trim(), "deleted gen");
    assert_eq!(w.get("/connectors/gen").0, 404);

    // A REST error reaches the user as Connect's message, with a failing exit.
    let (ok, _, err) = weft_cmd(&["connect", "status", "nope", "--url", &url], None);
    assert!(!ok);
    assert!(err.contains("404"), "{err}");
    let (ok, _, err) = weft_cmd(&["connect", "list", "--url", "http://127.0.0.1:1"], None);
    assert!(!ok && err.contains("cannot reach"), "{err}");
    drop(w);
}
