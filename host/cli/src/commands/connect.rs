//! `weft connect`: a standalone Connect worker (the shape of `connect-standalone.sh`), and
//! wrappers over a worker's REST API (`list`, `status`, `create`, `pause`, `resume`, `stop`,
//! `delete`, `restart`, `offsets`) that print readable tables.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand};
use serde_json::{json, Value};
use weft_connect::config::read_config_file;
use weft_connect::model::{ConnectorOffsets, ConnectorStatus, TaskStatus};

#[derive(Args)]
pub struct ConnectArgs {
    /// The worker's REST API.
    #[arg(
        long,
        global = true,
        env = "WEFT_CONNECT_URL",
        default_value = "http://localhost:8083"
    )]
    url: String,
    #[command(subcommand)]
    command: ConnectCommand,
}

#[derive(Subcommand)]
enum ConnectCommand {
    /// Run a standalone worker: a worker file and connector files (.properties, .toml, .yaml or
    /// .json, the JSON body of a REST create request too), until Ctrl-C.
    Standalone {
        worker_file: PathBuf,
        connector_files: Vec<PathBuf>,
    },
    /// List the connectors with their type, state and tasks.
    List,
    /// A connector's state and its tasks (every connector's without NAME).
    Status { name: Option<String> },
    /// Create or update a connector from a config file (PUT, so running it twice is harmless).
    Create { file: PathBuf },
    /// Pause a connector's tasks.
    Pause { name: String },
    /// Resume a paused or stopped connector.
    Resume { name: String },
    /// Stop a connector (its tasks shut down; its config stays).
    Stop { name: String },
    /// Delete a connector (its offsets stay).
    Delete { name: String },
    /// Restart a connector, and with --include-tasks its tasks.
    Restart {
        name: String,
        /// Restart the tasks too.
        #[arg(long)]
        include_tasks: bool,
        /// Only the instances that FAILED.
        #[arg(long)]
        only_failed: bool,
    },
    /// A connector's committed offsets.
    Offsets { name: String },
}

pub fn run(args: ConnectArgs) -> Result<()> {
    let api = Api::new(&args.url);
    match args.command {
        ConnectCommand::Standalone {
            worker_file,
            connector_files,
        } => Ok(weft_connect::standalone::run_standalone(
            &worker_file,
            &connector_files,
        )?),
        ConnectCommand::List => list(&api),
        ConnectCommand::Status { name: Some(n) } => {
            let st: ConnectorStatus = api.json("GET", &connector_path(&n, "status"), None)?;
            print_status(&st);
            Ok(())
        }
        ConnectCommand::Status { name: None } => {
            let all = api.expanded()?;
            if all.is_empty() {
                println!("no connectors");
            }
            for (i, st) in all.iter().filter_map(|(_, s, _)| s.as_ref()).enumerate() {
                if i > 0 {
                    println!();
                }
                print_status(st);
            }
            Ok(())
        }
        ConnectCommand::Create { file } => create(&api, &file),
        ConnectCommand::Pause { name } => {
            api.send("PUT", &connector_path(&name, "pause"), None)?;
            println!("paused {name}");
            Ok(())
        }
        ConnectCommand::Resume { name } => {
            api.send("PUT", &connector_path(&name, "resume"), None)?;
            println!("resumed {name}");
            Ok(())
        }
        ConnectCommand::Stop { name } => {
            api.send("PUT", &connector_path(&name, "stop"), None)?;
            println!("stopped {name}");
            Ok(())
        }
        ConnectCommand::Delete { name } => {
            api.send("DELETE", &format!("/connectors/{}", encode(&name)), None)?;
            println!("deleted {name}");
            Ok(())
        }
        ConnectCommand::Restart {
            name,
            include_tasks,
            only_failed,
        } => {
            let path = format!(
                "{}?includeTasks={include_tasks}&onlyFailed={only_failed}",
                connector_path(&name, "restart")
            );
            let (status, body) = api.send("POST", &path, None)?;
            println!("restarting {name}");
            if status == 202 {
                let st: ConnectorStatus =
                    serde_json::from_str(&body).context("the worker's restart answer")?;
                print_status(&st);
            }
            Ok(())
        }
        ConnectCommand::Offsets { name } => {
            let o: ConnectorOffsets = api.json("GET", &connector_path(&name, "offsets"), None)?;
            print_offsets(&o);
            Ok(())
        }
    }
}

/// A client of one worker's REST API.
struct Api {
    base: String,
    agent: ureq::Agent,
}

/// Percent-encodes a path segment (connector names may hold any character).
fn encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn connector_path(name: &str, rest: &str) -> String {
    format!("/connectors/{}/{rest}", encode(name))
}

impl Api {
    fn new(base: &str) -> Self {
        let config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(60)))
            .build();
        Api {
            base: base.trim_end_matches('/').to_string(),
            agent: config.into(),
        }
    }

    /// Sends a request; a status outside 2xx is an error carrying Connect's message.
    fn send(&self, method: &str, path: &str, body: Option<&Value>) -> Result<(u16, String)> {
        let url = format!("{}{path}", self.base);
        let payload = body.map(Value::to_string).unwrap_or_default();
        let result = match method {
            "GET" => self.agent.get(&url).call(),
            "DELETE" => self.agent.delete(&url).call(),
            "PUT" => self
                .agent
                .put(&url)
                .header("Content-Type", "application/json")
                .send(payload.as_str()),
            "POST" => self
                .agent
                .post(&url)
                .header("Content-Type", "application/json")
                .send(payload.as_str()),
            "PATCH" => self
                .agent
                .patch(&url)
                .header("Content-Type", "application/json")
                .send(payload.as_str()),
            other => bail!("unsupported method {other}"),
        };
        let mut resp =
            result.with_context(|| format!("cannot reach the Connect worker at {url}"))?;
        let status = resp.status().as_u16();
        let text = resp
            .body_mut()
            .with_config()
            .limit(64 << 20)
            .read_to_string()
            .with_context(|| format!("reading the answer of {method} {url}"))?;
        if !(200..300).contains(&status) {
            let message = serde_json::from_str::<Value>(&text)
                .ok()
                .and_then(|v| v.get("message").and_then(Value::as_str).map(str::to_string))
                .unwrap_or(text);
            bail!("{method} {path}: {status}: {message}");
        }
        Ok((status, text))
    }

    fn json<T: serde::de::DeserializeOwned>(
        &self,
        method: &str,
        path: &str,
        body: Option<&Value>,
    ) -> Result<T> {
        let (_, text) = self.send(method, path, body)?;
        serde_json::from_str(&text).with_context(|| format!("the worker's answer to {path}"))
    }

    /// Every connector with its status and info (`?expand=status&expand=info`).
    #[allow(clippy::type_complexity)]
    fn expanded(&self) -> Result<Vec<(String, Option<ConnectorStatus>, Option<Value>)>> {
        let v: serde_json::Map<String, Value> =
            self.json("GET", "/connectors?expand=status&expand=info", None)?;
        let mut out = Vec::new();
        for (name, entry) in v {
            let status = entry
                .get("status")
                .and_then(|s| serde_json::from_value(s.clone()).ok());
            let info = entry.get("info").cloned();
            out.push((name, status, info));
        }
        Ok(out)
    }
}

/// Prints rows as left-aligned columns under a header.
fn table(header: &[&str], rows: &[Vec<String>]) {
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            if let Some(w) = widths.get_mut(i) {
                *w = (*w).max(c.chars().count());
            }
        }
    }
    let line = |cells: Vec<&str>| {
        let mut s = String::new();
        for (i, c) in cells.iter().enumerate() {
            if i + 1 == cells.len() {
                s.push_str(c);
            } else {
                s.push_str(&format!("{c:<w$}  ", w = widths[i]));
            }
        }
        println!("{}", s.trim_end());
    };
    line(header.to_vec());
    for r in rows {
        line(r.iter().map(String::as_str).collect());
    }
}

fn state_name<T: serde::Serialize>(s: &T) -> String {
    serde_json::to_value(s)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

fn list(api: &Api) -> Result<()> {
    let all = api.expanded()?;
    let rows: Vec<Vec<String>> = all
        .iter()
        .map(|(name, status, _)| {
            let (kind, state, tasks) = match status {
                Some(st) => {
                    let running = st
                        .tasks
                        .iter()
                        .filter(|t| state_name(&t.state) == "RUNNING")
                        .count();
                    (
                        state_name(&st.kind),
                        state_name(&st.connector.state),
                        format!("{running}/{} running", st.tasks.len()),
                    )
                }
                None => ("?".into(), "?".into(), "?".into()),
            };
            vec![name.clone(), kind, state, tasks]
        })
        .collect();
    table(&["NAME", "TYPE", "STATE", "TASKS"], &rows);
    Ok(())
}

fn first_line(s: &str) -> String {
    s.lines().next().unwrap_or_default().to_string()
}

fn task_row(t: &TaskStatus) -> Vec<String> {
    let (rate, errors) = match &t.metrics {
        Some(m) => (
            format!("{:.0}", m.records_per_second),
            m.errors_total.to_string(),
        ),
        None => ("-".into(), "-".into()),
    };
    vec![
        t.id.to_string(),
        state_name(&t.state),
        t.worker_id.clone(),
        rate,
        errors,
        t.trace.as_deref().map(first_line).unwrap_or_default(),
    ]
}

fn print_status(st: &ConnectorStatus) {
    println!(
        "{} ({}): {} on {}",
        st.name,
        state_name(&st.kind),
        state_name(&st.connector.state),
        st.connector.worker_id
    );
    if let Some(trace) = &st.connector.trace {
        println!("  {}", first_line(trace));
    }
    let rows: Vec<Vec<String>> = st.tasks.iter().map(task_row).collect();
    table(
        &["TASK", "STATE", "WORKER", "RECORDS/S", "ERRORS", "TRACE"],
        &rows,
    );
}

fn print_offsets(o: &ConnectorOffsets) {
    if o.offsets.is_empty() {
        println!("no offsets");
        return;
    }
    let rows: Vec<Vec<String>> = o
        .offsets
        .iter()
        .map(|e| vec![e.partition.to_string(), e.offset.to_string()])
        .collect();
    table(&["PARTITION", "OFFSET"], &rows);
}

fn create(api: &Api, file: &std::path::Path) -> Result<()> {
    let f = read_config_file(file)?;
    let Some(name) = f.config.get("name").cloned() else {
        bail!("{}: the config has no `name`", file.display());
    };
    let config = serde_json::to_value(&f.config)?;
    if let Some(state) = f.initial_state {
        // `initial_state` only exists on POST; an existing connector is updated instead.
        let body = json!({ "name": name, "config": config, "initial_state": state });
        match api.send("POST", "/connectors", Some(&body)) {
            Ok(_) => {
                println!("created {name}");
                return Ok(());
            }
            Err(e) if e.to_string().contains(": 409: ") => {}
            Err(e) => return Err(e),
        }
    }
    let (status, _) = api.send("PUT", &connector_path(&name, "config"), Some(&config))?;
    println!(
        "{} {name}",
        if status == 201 { "created" } else { "updated" }
    );
    Ok(())
}

/// `/admin/loggers` for this process: log levels over tracing-subscriber's reloadable filter.
/// Logger names are tracing targets (`weft_connect::task`); `root` is the default level.
pub struct TracingLevels {
    /// The filter the process started with (`RUST_LOG`, else `info`).
    base: String,
    reload: Box<dyn Fn(tracing_subscriber::EnvFilter) -> Result<(), String> + Send + Sync>,
    levels: std::sync::Mutex<std::collections::BTreeMap<String, weft_connect::rest::LoggerLevel>>,
}

/// Connect's (log4j's) level names to tracing's.
fn tracing_level(level: &str) -> &'static str {
    match level {
        "OFF" => "off",
        "FATAL" | "ERROR" => "error",
        "WARN" => "warn",
        "INFO" => "info",
        "DEBUG" => "debug",
        _ => "trace",
    }
}

impl TracingLevels {
    /// Installs the process's log-level control for the REST API.
    pub fn install(
        base: String,
        reload: Box<dyn Fn(tracing_subscriber::EnvFilter) -> Result<(), String> + Send + Sync>,
    ) {
        let root = match base.trim().to_ascii_uppercase().as_str() {
            l @ ("OFF" | "ERROR" | "WARN" | "INFO" | "DEBUG" | "TRACE") => l.to_string(),
            _ => "INFO".to_string(),
        };
        let levels = std::collections::BTreeMap::from([(
            "root".to_string(),
            weft_connect::rest::LoggerLevel {
                level: root,
                last_modified: None,
            },
        )]);
        weft_connect::rest::loggers::install(std::sync::Arc::new(TracingLevels {
            base,
            reload,
            levels: std::sync::Mutex::new(levels),
        }));
    }

    fn directives(
        &self,
        levels: &std::collections::BTreeMap<String, weft_connect::rest::LoggerLevel>,
    ) -> String {
        let mut d = vec![self.base.clone()];
        for (name, l) in levels {
            if name == "root" {
                if l.last_modified.is_some() {
                    d.push(tracing_level(&l.level).to_string());
                }
            } else {
                d.push(format!("{name}={}", tracing_level(&l.level)));
            }
        }
        d.join(",")
    }
}

fn is_under(name: &str, parent: &str) -> bool {
    parent == "root"
        || name
            .strip_prefix(parent)
            .is_some_and(|rest| rest.starts_with("::") || rest.starts_with('.'))
}

impl weft_connect::rest::LogLevels for TracingLevels {
    fn levels(&self) -> std::collections::BTreeMap<String, weft_connect::rest::LoggerLevel> {
        self.levels.lock().map(|l| l.clone()).unwrap_or_default()
    }

    fn level(&self, logger: &str) -> Option<weft_connect::rest::LoggerLevel> {
        let levels = self.levels.lock().ok()?;
        if let Some(l) = levels.get(logger) {
            return Some(l.clone());
        }
        // The nearest ancestor's level, as a logger without its own inherits it.
        levels
            .iter()
            .filter(|(name, _)| *name != "root" && is_under(logger, name))
            .max_by_key(|(name, _)| name.len())
            .or_else(|| levels.get_key_value("root"))
            .map(|(_, l)| weft_connect::rest::LoggerLevel {
                level: l.level.clone(),
                last_modified: None,
            })
    }

    fn set_level(&self, logger: &str, level: &str) -> Result<Vec<String>, String> {
        let mut levels = self
            .levels
            .lock()
            .map_err(|_| "the log level table is unavailable".to_string())?;
        let mut next = levels.clone();
        let mut changed: Vec<String> = next
            .keys()
            .filter(|n| *n != logger && is_under(n, logger) && *n != "root")
            .cloned()
            .collect();
        for n in &changed {
            next.remove(n);
        }
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0);
        next.insert(
            logger.to_string(),
            weft_connect::rest::LoggerLevel {
                level: level.to_string(),
                last_modified: Some(now),
            },
        );
        let filter = tracing_subscriber::EnvFilter::try_new(self.directives(&next))
            .map_err(|e| format!("cannot set {logger} to {level}: {e}"))?;
        (self.reload)(filter)?;
        *levels = next;
        changed.insert(0, logger.to_string());
        Ok(changed)
    }
}
