//! The `weft` binary: a thin clap front end over the broker library and an rdkafka client.
//!
//! # Layout
//! - `commands/broker.rs`: `weft up` and `weft broker` (run the broker until Ctrl-C).
//! - `commands/topics.rs`: `weft topics create|list|describe|alter|delete` (Kafka admin API).
//! - `commands/produce.rs`, `commands/consume.rs`: console producer and consumer.
//! - `commands/groups.rs`: `weft groups list|describe|delete|reset-offsets` (kafka-consumer-groups).
//! - `commands/transactions.rs`: `weft transactions list|describe` (kafka-transactions.sh).
//! - `commands/offsets.rs`: GetOffsetShell-style `topic:partition:offset` lines.
//! - `commands/dump_log.rs`: DumpLogSegments for a segment file.
//! - `commands/perf.rs`: producer and consumer performance tests.
//! - `commands/plugin.rs`: `weft plugin new|build|test|inspect|list`, and the plugin pipeline
//!   options of produce/consume.
//! - `commands/mirror/`: `weft mirror-maker` (MirrorMaker 2 flows, translate-offsets, status).
//! - `client.rs`: rdkafka client configuration shared by the client commands.

use std::io::IsTerminal;

use clap::{Parser, Subcommand, ValueEnum};

mod client;
mod commands;

/// mimalloc instead of glibc's malloc, for Rust and (the `override` feature) for the C code in
/// the binary: the thread that produces allocates every message librdkafka queues and
/// librdkafka's thread frees it, and under glibc those frees contend for the producing thread's
/// arena lock. Figures in docs/architecture.md, "Allocator".
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "weft",
    version,
    about = "Weft: a Kafka-compatible streaming platform in one binary"
)]
struct Cli {
    /// Log output format.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Pretty)]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, ValueEnum)]
enum LogFormat {
    Pretty,
    Json,
}

#[derive(Subcommand)]
enum Command {
    /// Run Weft with embedded defaults: Kafka broker on :9092, data in ./weft-data.
    Up(commands::broker::BrokerArgs),
    /// Run the broker with an explicit config (weft.toml or server.properties).
    Broker(commands::broker::BrokerArgs),
    /// Create, list, describe, alter and delete topics.
    Topics(commands::topics::TopicsArgs),
    /// Produce lines from stdin to a topic.
    Produce(commands::produce::ProduceArgs),
    /// Consume records from a topic and print them.
    Consume(commands::consume::ConsumeArgs),
    /// List, describe, delete consumer groups and reset their offsets.
    Groups(commands::groups::GroupsArgs),
    /// List and describe transactions (kafka-transactions.sh).
    Transactions(commands::transactions::TransactionsArgs),
    /// Print topic:partition:offset for earliest, latest or a timestamp.
    Offsets(commands::offsets::OffsetsArgs),
    /// Print the batches (and records) of a log segment file.
    DumpLog(commands::dump_log::DumpLogArgs),
    /// Producer and consumer performance tests.
    Perf(commands::perf::PerfArgs),
    /// Create, build, test, inspect and list WebAssembly plugins.
    Plugin(commands::plugin::PluginArgs),
    /// Run a standalone Connect worker, or manage connectors over a worker's REST API.
    Connect(commands::connect::ConnectArgs),
    /// MirrorMaker 2: run the flows of an mm2.properties file, translate offsets, show status.
    MirrorMaker(commands::mirror::MirrorArgs),
}

fn init_tracing(format: LogFormat) {
    let base = std::env::var("RUST_LOG")
        .ok()
        .filter(|v| tracing_subscriber::EnvFilter::try_new(v).is_ok())
        .unwrap_or_else(|| "info".to_string());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(&base))
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    // The filter is reloadable so Connect's /admin/loggers can change levels at run time.
    match format {
        LogFormat::Json => {
            let b = builder.json().with_filter_reloading();
            let h = b.reload_handle();
            b.init();
            commands::connect::TracingLevels::install(
                base,
                Box::new(move |f| h.reload(f).map_err(|e| e.to_string())),
            );
        }
        LogFormat::Pretty => {
            let b = builder.compact().with_filter_reloading();
            let h = b.reload_handle();
            b.init();
            commands::connect::TracingLevels::install(
                base,
                Box::new(move |f| h.reload(f).map_err(|e| e.to_string())),
            );
        }
    }
}

/// Restores the default SIGPIPE action, so `weft ... | head` ends quietly like other Unix tools
/// instead of panicking on a closed stdout (Rust ignores SIGPIPE by default). Only for the client
/// commands: a server must keep SIGPIPE ignored, or a vectored write (`writev`, which cannot pass
/// MSG_NOSIGNAL) to a client that has gone away would kill the whole broker.
fn default_sigpipe() {
    #[cfg(unix)]
    // SAFETY: called once at start-up, before any thread exists; SIG_DFL is a valid disposition.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    if !matches!(
        cli.command,
        Command::Up(_) | Command::Broker(_) | Command::MirrorMaker(_)
    ) {
        default_sigpipe();
    }
    init_tracing(cli.log_format);
    let result = match cli.command {
        Command::Up(a) => commands::broker::run(a, false),
        Command::Broker(a) => commands::broker::run(a, true),
        Command::Topics(a) => commands::topics::run(a),
        Command::Produce(a) => commands::produce::run(a),
        Command::Consume(a) => commands::consume::run(a),
        Command::Groups(a) => commands::groups::run(a),
        Command::Transactions(a) => commands::transactions::run(a),
        Command::Offsets(a) => commands::offsets::run(a),
        Command::DumpLog(a) => commands::dump_log::run(a),
        Command::Perf(a) => commands::perf::run(a),
        Command::Plugin(a) => commands::plugin::run(a),
        Command::Connect(a) => commands::connect::run(a),
        Command::MirrorMaker(a) => commands::mirror::run(a),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
