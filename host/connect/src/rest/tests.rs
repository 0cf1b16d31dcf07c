//! Router-level checks of shapes and status codes against a small in-memory herder (the
//! end-to-end proof against the real worker is tests/e2e_connect_rest.rs).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::{json, Value};
use tower::ServiceExt;

use super::loggers::{LogLevels, LoggerLevel};
use super::router;
use crate::api::{Herder, HerderError, HerderResult, RestartOutcome};
use crate::config::{validate_connector_config, WorkerConfig};
use crate::model::*;

#[derive(Default)]
struct MemHerder {
    connectors: Mutex<BTreeMap<String, (ConfigMap, TargetState)>>,
}

impl MemHerder {
    fn worker() -> WorkerConfig {
        let m: ConfigMap = [("offset.storage.file.filename", "/o")]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        WorkerConfig::from_map_in(&m, std::path::Path::new("/")).unwrap()
    }
    fn get(&self, name: &str) -> HerderResult<(ConfigMap, TargetState)> {
        self.connectors
            .lock()
            .unwrap()
            .get(name)
            .cloned()
            .ok_or_else(|| HerderError::NotFound(format!("Connector {name} not found")))
    }
    fn info(name: &str, config: ConfigMap) -> ConnectorInfo {
        ConnectorInfo {
            name: name.into(),
            config,
            tasks: vec![TaskId {
                connector: name.into(),
                task: 0,
            }],
            kind: ConnectorType::Source,
        }
    }
}

fn state_of(t: TargetState) -> State {
    match t {
        TargetState::Running => State::Running,
        TargetState::Paused => State::Paused,
        TargetState::Stopped => State::Stopped,
    }
}

impl Herder for MemHerder {
    fn server_info(&self) -> ServerInfo {
        ServerInfo {
            version: "test".into(),
            commit: "c".into(),
            kafka_cluster_id: "k".into(),
        }
    }
    fn connectors(&self) -> Vec<String> {
        self.connectors.lock().unwrap().keys().cloned().collect()
    }
    fn connector_info(&self, name: &str) -> HerderResult<ConnectorInfo> {
        Ok(Self::info(name, self.get(name)?.0))
    }
    fn connector_status(&self, name: &str) -> HerderResult<ConnectorStatus> {
        let (_, t) = self.get(name)?;
        Ok(ConnectorStatus {
            name: name.into(),
            connector: ConnectorState {
                state: state_of(t),
                worker_id: "w:8083".into(),
                trace: None,
            },
            tasks: vec![self.task_status(name, 0)?],
            kind: ConnectorType::Source,
        })
    }
    fn put_connector_config(
        &self,
        name: &str,
        config: ConfigMap,
        initial_state: Option<TargetState>,
        allow_replace: bool,
    ) -> HerderResult<(bool, ConnectorInfo)> {
        let v = validate_connector_config(&config, &Self::worker(), ConnectorType::Source);
        if v.error_count > 0 {
            return Err(HerderError::InvalidConfig(Box::new(v)));
        }
        let mut m = self.connectors.lock().unwrap();
        let exists = m.contains_key(name);
        if exists && !allow_replace {
            return Err(HerderError::Conflict(format!(
                "Connector {name} already exists"
            )));
        }
        let state = m
            .get(name)
            .map(|(_, s)| *s)
            .or(initial_state)
            .unwrap_or(TargetState::Running);
        m.insert(name.into(), (config.clone(), state));
        Ok((!exists, Self::info(name, config)))
    }
    fn patch_connector_config(
        &self,
        name: &str,
        patch: BTreeMap<String, Option<String>>,
    ) -> HerderResult<ConnectorInfo> {
        let (mut c, s) = self.get(name)?;
        for (k, v) in patch {
            match v {
                Some(v) => c.insert(k, v),
                None => c.remove(&k),
            };
        }
        self.connectors
            .lock()
            .unwrap()
            .insert(name.into(), (c.clone(), s));
        Ok(Self::info(name, c))
    }
    fn delete_connector(&self, name: &str) -> HerderResult<()> {
        self.get(name)?;
        self.connectors.lock().unwrap().remove(name);
        Ok(())
    }
    fn task_configs(&self, name: &str) -> HerderResult<Vec<TaskInfo>> {
        let (c, _) = self.get(name)?;
        Ok(vec![TaskInfo {
            id: TaskId {
                connector: name.into(),
                task: 0,
            },
            config: c,
        }])
    }
    fn task_status(&self, name: &str, task: u32) -> HerderResult<TaskStatus> {
        let (_, t) = self.get(name)?;
        if task != 0 {
            return Err(HerderError::NotFound(format!(
                "Task {name}-{task} not found"
            )));
        }
        Ok(TaskStatus {
            id: 0,
            state: state_of(t),
            worker_id: "w:8083".into(),
            trace: None,
            metrics: None,
        })
    }
    fn restart_task(&self, name: &str, task: u32) -> HerderResult<()> {
        self.task_status(name, task).map(|_| ())
    }
    fn restart_connector(
        &self,
        name: &str,
        include_tasks: bool,
        _only_failed: bool,
    ) -> HerderResult<RestartOutcome> {
        let st = self.connector_status(name)?;
        Ok(if include_tasks {
            RestartOutcome::WithTasks(st)
        } else {
            RestartOutcome::ConnectorOnly
        })
    }
    fn set_target_state(&self, name: &str, state: TargetState) -> HerderResult<()> {
        let (c, _) = self.get(name)?;
        self.connectors
            .lock()
            .unwrap()
            .insert(name.into(), (c, state));
        Ok(())
    }
    fn active_topics(&self, name: &str) -> HerderResult<Vec<String>> {
        self.get(name).map(|_| vec!["t".into()])
    }
    fn reset_active_topics(&self, name: &str) -> HerderResult<()> {
        self.get(name).map(|_| ())
    }
    fn offsets(&self, name: &str) -> HerderResult<ConnectorOffsets> {
        self.get(name).map(|_| ConnectorOffsets::default())
    }
    fn alter_offsets(&self, name: &str, _: ConnectorOffsets) -> HerderResult<String> {
        match self.get(name)?.1 {
            TargetState::Stopped => {
                Ok("The offsets for this connector have been altered successfully".into())
            }
            _ => Err(HerderError::BadRequest("not stopped".into())),
        }
    }
    fn reset_offsets(&self, name: &str) -> HerderResult<String> {
        self.alter_offsets(name, ConnectorOffsets::default())
    }
    fn plugins(&self, connectors_only: bool) -> Vec<PluginDescription> {
        let mut v = vec![PluginDescription {
            class: "file-source".into(),
            kind: "source".into(),
            version: Some("1".into()),
        }];
        if !connectors_only {
            v.push(PluginDescription {
                class: "insert-field".into(),
                kind: "transformation".into(),
                version: None,
            });
        }
        v
    }
    fn plugin_config(&self, plugin: &str) -> HerderResult<Vec<ConfigKeyInfo>> {
        Err(HerderError::NotFound(format!("unknown plugin {plugin}")))
    }
    fn validate(&self, _: &str, config: ConfigMap) -> HerderResult<ConfigInfos> {
        Ok(validate_connector_config(
            &config,
            &Self::worker(),
            ConnectorType::Source,
        ))
    }
}

struct Levels(Mutex<BTreeMap<String, LoggerLevel>>);

impl LogLevels for Levels {
    fn levels(&self) -> BTreeMap<String, LoggerLevel> {
        self.0.lock().unwrap().clone()
    }
    fn level(&self, logger: &str) -> Option<LoggerLevel> {
        self.0.lock().unwrap().get(logger).cloned()
    }
    fn set_level(&self, logger: &str, level: &str) -> Result<Vec<String>, String> {
        self.0.lock().unwrap().insert(
            logger.into(),
            LoggerLevel {
                level: level.into(),
                last_modified: Some(1),
            },
        );
        Ok(vec![logger.into()])
    }
}

struct Client(axum::Router);

impl Client {
    fn new() -> Self {
        let levels = Levels(Mutex::new(BTreeMap::from([(
            "root".to_string(),
            LoggerLevel {
                level: "INFO".into(),
                last_modified: None,
            },
        )])));
        Client(router(Arc::new(MemHerder::default()), Arc::new(levels)))
    }

    async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<&str>,
    ) -> (StatusCode, Value, Option<String>) {
        let req = Request::builder()
            .method(method)
            .uri(path)
            .header("content-type", "application/json")
            .body(Body::from(body.unwrap_or("").to_string()))
            .unwrap();
        let resp = self.0.clone().oneshot(req).await.unwrap();
        let status = resp.status();
        let location = resp
            .headers()
            .get("location")
            .map(|v| v.to_str().unwrap().to_string());
        let bytes = resp.into_body().collect().await.unwrap().to_bytes();
        let v = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into()))
        };
        (status, v, location)
    }
}

fn assert_error(v: &Value, code: u16) {
    assert_eq!(v["error_code"], code, "{v}");
    assert!(v["message"].is_string(), "{v}");
}

#[tokio::test]
async fn connector_lifecycle_codes_and_shapes() {
    let c = Client::new();
    let body = r#"{"name":"s","config":{"connector.class":"FileStreamSource","tasks.max":1,"file":"/x","topic":"t"}}"#;
    let (st, v, loc) = c.call(Method::POST, "/connectors", Some(body)).await;
    assert_eq!(st, StatusCode::CREATED, "{v}");
    assert_eq!(loc.as_deref(), Some("/connectors/s"));
    assert_eq!(v["name"], "s");
    assert_eq!(v["config"]["tasks.max"], "1");
    assert_eq!(v["config"]["name"], "s");
    assert_eq!(v["type"], "source");
    assert_eq!(v["tasks"], json!([{"connector": "s", "task": 0}]));

    let (st, v, _) = c.call(Method::POST, "/connectors", Some(body)).await;
    assert_eq!(st, StatusCode::CONFLICT);
    assert_error(&v, 409);

    let (st, v, _) = c.call(Method::GET, "/connectors", None).await;
    assert_eq!((st, v), (StatusCode::OK, json!(["s"])));
    let (st, v, _) = c
        .call(Method::GET, "/connectors?expand=status&expand=info", None)
        .await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(v["s"]["status"]["connector"]["state"], "RUNNING");
    assert_eq!(v["s"]["info"]["name"], "s");
    let (_, v, _) = c.call(Method::GET, "/connectors?expand=status", None).await;
    assert!(
        v["s"].get("info").is_none() && v["s"]["status"].is_object(),
        "{v}"
    );

    let (st, v, _) = c
        .call(
            Method::PUT,
            "/connectors/s/config",
            Some(r#"{"connector.class":"FileStreamSource","file":"/y","topic":"t"}"#),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{v}");
    assert_eq!(v["config"]["file"], "/y");
    let (st, _, loc) = c
        .call(
            Method::PUT,
            "/connectors/n%20two/config",
            Some(r#"{"connector.class":"datagen"}"#),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED);
    assert_eq!(loc.as_deref(), Some("/connectors/n%20two"));
    let (st, v, _) = c
        .call(
            Method::PUT,
            "/connectors/s/config",
            Some(r#"{"name":"other","connector.class":"datagen"}"#),
        )
        .await;
    assert_eq!(st, StatusCode::BAD_REQUEST);
    assert_error(&v, 400);

    let (st, v, _) = c
        .call(
            Method::PATCH,
            "/connectors/s/config",
            Some(r#"{"file":null,"batch.size":5}"#),
        )
        .await;
    assert_eq!(st, StatusCode::OK);
    assert!(v["config"].get("file").is_none());
    assert_eq!(v["config"]["batch.size"], "5");
    let (st, v, _) = c.call(Method::GET, "/connectors/s/config", None).await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(v["batch.size"], "5");

    let (st, v, _) = c.call(Method::GET, "/connectors/s/status", None).await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(
        v["tasks"][0],
        json!({"id": 0, "state": "RUNNING", "worker_id": "w:8083"})
    );
    let (st, v, _) = c.call(Method::GET, "/connectors/s/tasks", None).await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(v[0]["id"], json!({"connector": "s", "task": 0}));
    let (st, _, _) = c
        .call(Method::GET, "/connectors/s/tasks/0/status", None)
        .await;
    assert_eq!(st, StatusCode::OK);
    for p in [
        "/connectors/s/tasks/7/status",
        "/connectors/s/tasks/x/status",
        "/connectors/nope",
        "/nowhere",
    ] {
        let (st, v, _) = c.call(Method::GET, p, None).await;
        assert_eq!(st, StatusCode::NOT_FOUND, "{p}");
        assert_error(&v, 404);
    }
    let (st, v, _) = c.call(Method::DELETE, "/connectors/s/status", None).await;
    assert_eq!(st, StatusCode::METHOD_NOT_ALLOWED);
    assert_error(&v, 405);

    let (st, _, _) = c
        .call(Method::POST, "/connectors/s/tasks/0/restart", None)
        .await;
    assert_eq!(st, StatusCode::NO_CONTENT);
    let (st, v, _) = c.call(Method::POST, "/connectors/s/restart", None).await;
    assert_eq!((st, v), (StatusCode::NO_CONTENT, Value::Null));
    let (st, v, _) = c
        .call(
            Method::POST,
            "/connectors/s/restart?includeTasks=true&onlyFailed=false",
            None,
        )
        .await;
    assert_eq!(st, StatusCode::ACCEPTED);
    assert_eq!(v["name"], "s");

    let (st, _, _) = c.call(Method::PUT, "/connectors/s/pause", None).await;
    assert_eq!(st, StatusCode::ACCEPTED);
    let (_, v, _) = c.call(Method::GET, "/connectors/s/status", None).await;
    assert_eq!(v["connector"]["state"], "PAUSED");
    let (st, _, _) = c.call(Method::PUT, "/connectors/s/resume", None).await;
    assert_eq!(st, StatusCode::ACCEPTED);

    let (st, v, _) = c.call(Method::GET, "/connectors/s/topics", None).await;
    assert_eq!((st, v), (StatusCode::OK, json!({"s": {"topics": ["t"]}})));
    let (st, _, _) = c
        .call(Method::PUT, "/connectors/s/topics/reset", None)
        .await;
    assert_eq!(st, StatusCode::ACCEPTED);

    let offsets = r#"{"offsets":[{"partition":{"filename":"/x"},"offset":{"position":5}}]}"#;
    let (st, v, _) = c
        .call(Method::PATCH, "/connectors/s/offsets", Some(offsets))
        .await;
    assert_eq!(st, StatusCode::BAD_REQUEST);
    assert_error(&v, 400);
    let (st, _, _) = c.call(Method::PUT, "/connectors/s/stop", None).await;
    assert_eq!(st, StatusCode::NO_CONTENT);
    let (st, v, _) = c
        .call(Method::PATCH, "/connectors/s/offsets", Some(offsets))
        .await;
    assert_eq!(st, StatusCode::OK);
    assert!(v["message"].is_string());
    let (st, v, _) = c
        .call(
            Method::PATCH,
            "/connectors/s/offsets",
            Some(r#"{"offsets":[]}"#),
        )
        .await;
    assert_eq!(st, StatusCode::BAD_REQUEST);
    assert_eq!(
        v["message"],
        "Partitions / offsets need to be provided for an alter offsets request"
    );
    let (st, v, _) = c.call(Method::DELETE, "/connectors/s/offsets", None).await;
    assert_eq!(st, StatusCode::OK);
    assert!(v["message"].is_string());
    let (st, v, _) = c.call(Method::GET, "/connectors/s/offsets", None).await;
    assert_eq!((st, v), (StatusCode::OK, json!({"offsets": []})));

    let (st, _, _) = c.call(Method::DELETE, "/connectors/s", None).await;
    assert_eq!(st, StatusCode::NO_CONTENT);
    let (st, _, _) = c.call(Method::DELETE, "/connectors/s", None).await;
    assert_eq!(st, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn bad_bodies_and_invalid_configs() {
    let c = Client::new();
    for body in ["{not json", "", "[1,2]"] {
        let (st, v, _) = c.call(Method::POST, "/connectors", Some(body)).await;
        assert_eq!(st, StatusCode::INTERNAL_SERVER_ERROR, "{body}: {v}");
        assert_error(&v, 500);
    }
    let (st, v, _) = c
        .call(Method::POST, "/connectors", Some(r#"{"name":"x"}"#))
        .await;
    assert_eq!(st, StatusCode::BAD_REQUEST);
    assert_error(&v, 400);
    let (st, v, _) = c
        .call(
            Method::POST,
            "/connectors",
            Some(r#"{"name":"x","config":{"tasks.max":"0"}}"#),
        )
        .await;
    assert_eq!(st, StatusCode::BAD_REQUEST);
    assert_eq!(v["error_code"], 400);
    let msg = v["message"].as_str().unwrap();
    assert!(
        msg.starts_with(
            "Connector configuration is invalid and contains the following 2 error(s):"
        ),
        "{msg}"
    );
    assert_eq!(v["error_count"], 2);
    assert!(v["configs"]
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c["definition"]["name"] == "tasks.max"
            && c["value"]["errors"].as_array().unwrap().len() == 1));
    let (st, v, _) = c
        .call(
            Method::POST,
            "/connectors",
            Some(
                r#"{"name":"x","config":{"connector.class":"datagen"},"initial_state":"SLEEPING"}"#,
            ),
        )
        .await;
    assert_eq!(st, StatusCode::BAD_REQUEST, "{v}");
    let (st, v, _) = c
        .call(
            Method::POST,
            "/connectors",
            Some(
                r#"{"name":"x","config":{"connector.class":"datagen"},"initial_state":"STOPPED"}"#,
            ),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{v}");
    let (_, v, _) = c.call(Method::GET, "/connectors/x/status", None).await;
    assert_eq!(v["connector"]["state"], "STOPPED");
}

#[tokio::test]
async fn root_health_plugins_and_loggers() {
    let c = Client::new();
    let (st, v, _) = c.call(Method::GET, "/", None).await;
    assert_eq!(
        (st, v),
        (
            StatusCode::OK,
            json!({"version": "test", "commit": "c", "kafka_cluster_id": "k"})
        )
    );
    let (st, v, _) = c.call(Method::GET, "/health", None).await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(v["status"], "healthy");
    let (_, v, _) = c.call(Method::GET, "/connector-plugins", None).await;
    assert_eq!(
        v,
        json!([{"class": "file-source", "type": "source", "version": "1"}])
    );
    let (_, v, _) = c
        .call(Method::GET, "/connector-plugins?connectorsOnly=false", None)
        .await;
    assert_eq!(v.as_array().unwrap().len(), 2);
    assert!(v[1].get("version").is_none());
    let (st, v, _) = c
        .call(Method::GET, "/connector-plugins/nope/config", None)
        .await;
    assert_eq!(st, StatusCode::NOT_FOUND);
    assert_error(&v, 404);
    let (st, v, _) = c
        .call(
            Method::PUT,
            "/connector-plugins/FileStreamSource/config/validate",
            Some(r#"{"connector.class":"FileStreamSink"}"#),
        )
        .await;
    assert_eq!(st, StatusCode::BAD_REQUEST, "{v}");
    let (st, v, _) = c
        .call(
            Method::PUT,
            "/connector-plugins/FileStreamSourceConnector/config/validate",
            Some(r#"{"connector.class":"FileStreamSource","name":"n"}"#),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{v}");
    assert_eq!(v["error_count"], 0);
    assert_eq!(v["name"], "FileStreamSource");

    let (st, v, _) = c.call(Method::GET, "/admin/loggers", None).await;
    assert_eq!(
        (st, v),
        (
            StatusCode::OK,
            json!({"root": {"level": "INFO", "last_modified": null}})
        )
    );
    let (st, v, _) = c
        .call(
            Method::PUT,
            "/admin/loggers/weft_connect",
            Some(r#"{"level":"debug"}"#),
        )
        .await;
    assert_eq!((st, v), (StatusCode::OK, json!(["weft_connect"])));
    let (st, v, _) = c
        .call(Method::GET, "/admin/loggers/weft_connect", None)
        .await;
    assert_eq!(
        (st, v),
        (
            StatusCode::OK,
            json!({"level": "DEBUG", "last_modified": 1})
        )
    );
    let (st, _, _) = c
        .call(Method::PUT, "/admin/loggers/x", Some(r#"{"level":"LOUD"}"#))
        .await;
    assert_eq!(st, StatusCode::NOT_FOUND);
    let (st, _, _) = c.call(Method::PUT, "/admin/loggers/x", Some(r#"{}"#)).await;
    assert_eq!(st, StatusCode::BAD_REQUEST);
    let (st, _, _) = c.call(Method::GET, "/admin/loggers/unknown", None).await;
    assert_eq!(st, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn serve_binds_reports_addresses_and_shuts_down() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let server = super::serve_with(
        Arc::new(MemHerder::default()),
        Arc::new(Levels(Mutex::new(BTreeMap::new()))),
        &["127.0.0.1:0".to_string(), "127.0.0.1:0".to_string()],
    )
    .await
    .unwrap();
    let addrs = server.addresses().to_vec();
    assert_eq!(addrs.len(), 2);
    for a in &addrs {
        assert_ne!(a.port(), 0);
        let mut s = tokio::net::TcpStream::connect(a).await.unwrap();
        s.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .await
            .unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).await.unwrap();
        assert!(out.starts_with("HTTP/1.1 200"), "{out}");
        assert!(out.contains("\"status\":\"healthy\""), "{out}");
    }
    server.shutdown().await;
    for a in &addrs {
        assert!(tokio::net::TcpStream::connect(a).await.is_err());
    }
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let err = super::serve(Arc::new(MemHerder::default()), std::slice::from_ref(&addr))
        .await
        .err()
        .unwrap();
    assert!(err.to_string().contains(&addr), "{err}");
}
