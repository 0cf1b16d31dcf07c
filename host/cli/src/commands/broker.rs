//! `weft up` and `weft broker`: start the broker and run it until Ctrl-C or SIGTERM.

use std::path::PathBuf;

use anyhow::{bail, Context};
use clap::Args;
use weft_broker::{Broker, BrokerConfig};
use weft_connect::standalone::{wait_for_signal, EmbeddedOptions, EmbeddedWorker};

use crate::client::parse_kv;

#[derive(Args, Debug)]
pub struct BrokerArgs {
    /// Config file: weft.toml (TOML) or Kafka's server.properties format.
    #[arg(long, short = 'c')]
    pub config: Option<PathBuf>,
    /// Config file given positionally, as with kafka-server-start.sh.
    #[arg(value_name = "CONFIG_FILE", conflicts_with = "config")]
    pub config_positional: Option<PathBuf>,
    /// Override a config key, e.g. `--override log.retention.hours=24` (repeatable; wins over all else).
    #[arg(long = "override", short = 'o', value_name = "KEY=VALUE")]
    pub overrides: Vec<String>,
    /// Shorthand for `--override listeners=...`.
    #[arg(long)]
    pub listeners: Option<String>,
    /// Shorthand for `--override log.dirs=...`.
    #[arg(long)]
    pub log_dirs: Option<String>,
    /// `weft up` only: do not run the Connect worker beside the broker.
    #[arg(long)]
    pub no_connect: bool,
    /// `weft up` only: the Connect REST API's address [default: http://0.0.0.0:8083; if that
    /// port is taken the worker runs without its REST API].
    #[arg(long, value_name = "URL")]
    pub connect_listener: Option<String>,
    /// `weft up` only: a directory of connector files (.properties, .toml, .yaml, .json) the
    /// Connect worker creates at start.
    #[arg(long, value_name = "DIR")]
    pub connectors: Option<PathBuf>,
}

pub fn run(args: BrokerArgs, explicit: bool) -> anyhow::Result<()> {
    let file = args.config.or(args.config_positional);
    if explicit && file.is_none() {
        bail!("`weft broker` needs a config file (--config weft.toml or server.properties); `weft up` runs on embedded defaults");
    }
    let mut overrides = Vec::new();
    for o in &args.overrides {
        overrides.push(parse_kv(o, "--override")?);
    }
    if let Some(l) = args.listeners {
        overrides.push(("listeners".into(), l));
    }
    if let Some(d) = args.log_dirs {
        overrides.push(("log.dirs".into(), d));
    }
    let config = BrokerConfig::load(file.as_deref(), &overrides).context("configuration")?;
    let run_connect = !explicit && !args.no_connect;
    let data_dir = config.log_dirs.first().cloned();
    for (k, source) in &config.unknown_keys {
        tracing::warn!(key = %k, %source, "unknown config key ignored");
    }
    if !config.inert_keys.is_empty() {
        tracing::info!(keys = ?config.inert_keys, "accepted Kafka keys that have no effect on a single Weft node");
    }

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("weft")
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(async move {
        let running = Broker::start(config).await.context("starting the broker")?;
        for (name, addr) in &running.bound {
            eprintln!("weft: broker listening on {name}://{addr}");
        }
        let connect = match (run_connect, data_dir, running.bound.first()) {
            (true, Some(data_dir), Some((_, addr))) => {
                let opts = EmbeddedOptions {
                    data_dir,
                    bootstrap: client_address(*addr),
                    listener_required: args.connect_listener.is_some(),
                    listener: args
                        .connect_listener
                        .clone()
                        .unwrap_or_else(|| "http://0.0.0.0:8083".into()),
                    connectors_dir: args.connectors.clone(),
                };
                Some(
                    EmbeddedWorker::start(opts)
                        .await
                        .context("starting the Connect worker")?,
                )
            }
            _ => None,
        };
        let metrics = serve_metrics(
            running.broker.config.metrics_listener.as_deref(),
            connect
                .as_ref()
                .is_some_and(|c| !c.rest_addresses().is_empty()),
        )
        .await?;
        wait_for_signal().await;
        tracing::info!("shutting down");
        if let Some(m) = metrics {
            m.shutdown().await;
        }
        // Tasks commit what the broker acknowledged before the broker goes away.
        if let Some(c) = connect {
            c.shutdown().await;
        }
        running.shutdown().await;
        Ok(())
    })
}

/// Where `/metrics` and `/health` are served besides the Connect REST listener: on
/// `metrics.listener` when set (failing to bind stops start-up), else on the REST port's default
/// address when no REST listener runs (failing to bind is a warning: the broker still serves).
async fn serve_metrics(
    configured: Option<&str>,
    rest_serves_metrics: bool,
) -> anyhow::Result<Option<weft_metrics::MetricsServer>> {
    let served = match configured {
        Some(address) => Some(weft_metrics::serve(address).await?),
        None if rest_serves_metrics => None,
        None => match weft_metrics::serve(DEFAULT_METRICS_LISTENER).await {
            Ok(s) => Some(s),
            Err(e) => {
                tracing::warn!(error = %e, "/metrics and /health are not served (set metrics.listener to choose another address)");
                None
            }
        },
    };
    if let Some(s) = &served {
        eprintln!("weft: metrics listening on http://{}", s.address);
    }
    Ok(served)
}

/// The Connect REST API's default port, which also serves /metrics when the worker runs.
const DEFAULT_METRICS_LISTENER: &str = "0.0.0.0:8083";

/// The address a client on this machine reaches a listener at (a wildcard bind is reached
/// through loopback).
fn client_address(addr: std::net::SocketAddr) -> String {
    if addr.ip().is_unspecified() {
        format!("127.0.0.1:{}", addr.port())
    } else {
        addr.to_string()
    }
}
