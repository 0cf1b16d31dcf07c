//! `weft mirror-maker`: MirrorMaker 2 in one process. `weft mirror-maker mm2.properties` reads an
//! MM2 file (`mm2`), runs one in-process Connect worker per target cluster with the flows'
//! Mirror*Connectors on the built-in `mirror` component (`run`), and serves each worker's
//! Connect REST API, a flow summary and `/metrics` (`status`);
//! `translate-offsets` decodes the checkpoints topic (`translate`, `checkpoint`).

pub mod checkpoint;
pub mod mm2;
mod run;
pub mod status;
pub mod translate;

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand};

/// Where the flows' offsets and connector state live unless `--state-dir` says otherwise.
pub const DEFAULT_STATE_DIR: &str = "weft-mirror-data";
/// The REST listener unless `--listener` says otherwise.
pub const DEFAULT_LISTENER: &str = "http://127.0.0.1:9083";

#[derive(Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct MirrorArgs {
    /// The MM2 file: mm2.properties (or .toml/.yaml with the same keys).
    config: Option<PathBuf>,
    /// Run only the flows whose target is one of these cluster aliases (comma-separated or
    /// repeated), like MM2's --clusters.
    #[arg(long, value_delimiter = ',')]
    clusters: Vec<String>,
    /// Where each target's worker keeps its offsets and connector state (one directory per
    /// target cluster); a restart with the same directory resumes every flow.
    #[arg(long, default_value = DEFAULT_STATE_DIR)]
    state_dir: PathBuf,
    /// The REST listener: GET /flows (the status summary), /metrics, /health, and each target
    /// worker's Connect REST API under /clusters/<alias>/.
    #[arg(long, default_value = DEFAULT_LISTENER)]
    listener: String,
    #[command(subcommand)]
    command: Option<MirrorCommand>,
}

#[derive(Subcommand)]
enum MirrorCommand {
    /// Print a consumer group's offsets translated to the target cluster (what MM2's
    /// RemoteClusterUtils.translateOffsets returns), from <source>.checkpoints.internal.
    TranslateOffsets {
        /// The MM2 file the target's bootstrap.servers and client settings come from.
        config: Option<PathBuf>,
        /// The consumer group.
        #[arg(long)]
        group: String,
        /// The source cluster alias (the group's home cluster).
        #[arg(long)]
        source: String,
        /// The target cluster alias (where the group moves to).
        #[arg(long)]
        target: String,
        /// The target cluster's bootstrap servers, instead of an MM2 file.
        #[arg(long, short = 'b')]
        bootstrap_server: Option<String>,
        /// How long to read the checkpoints topic before giving up.
        #[arg(long, default_value_t = 30)]
        timeout_secs: u64,
    },
    /// Print every flow's status (lag per partition, records/s, last checkpoint, source
    /// reachability, connector and task states) from a running `weft mirror-maker`.
    Status {
        /// The mirror-maker process's REST listener.
        #[arg(long, default_value = DEFAULT_LISTENER)]
        url: String,
        /// Print the JSON of GET /flows instead of the summary.
        #[arg(long)]
        json: bool,
    },
}

pub fn run(args: MirrorArgs) -> Result<()> {
    match args.command {
        Some(MirrorCommand::TranslateOffsets {
            config,
            group,
            source,
            target,
            bootstrap_server,
            timeout_secs,
        }) => {
            let (bootstrap, props) = match (config, bootstrap_server) {
                (_, Some(b)) => (b, Default::default()),
                (Some(file), None) => {
                    let map = weft_connect::config::read_config_file(&file)?.config;
                    mm2::cluster_client(&map, &target)
                        .with_context(|| format!("{}", file.display()))?
                }
                (None, None) => bail!("give the MM2 file or --bootstrap-server of the target"),
            };
            let mut c = rdkafka::ClientConfig::new();
            for (k, v) in &props {
                c.set(k, v);
            }
            c.set("bootstrap.servers", &bootstrap);
            let latest = translate::latest_checkpoints(
                &c,
                &source,
                &group,
                Duration::from_secs(timeout_secs),
            )?;
            translate::print(&latest);
            Ok(())
        }
        Some(MirrorCommand::Status { url, json }) => {
            let agent: ureq::Agent = ureq::Agent::config_builder()
                .timeout_global(Some(Duration::from_secs(30)))
                .build()
                .into();
            let url = format!("{}/flows", url.trim_end_matches('/'));
            let text = agent
                .get(&url)
                .call()
                .with_context(|| format!("cannot reach weft mirror-maker at {url}"))?
                .body_mut()
                .with_config()
                .limit(64 << 20)
                .read_to_string()?;
            if json {
                println!("{text}");
            } else {
                let flows: Vec<status::FlowStatus> =
                    serde_json::from_str(&text).context("the answer of GET /flows")?;
                status::print(&flows);
            }
            Ok(())
        }
        None => {
            let Some(config) = args.config else {
                bail!("give the MM2 file: weft mirror-maker mm2.properties");
            };
            run::run(&config, &args.clusters, &args.state_dir, &args.listener)
        }
    }
}
