//! rdkafka client settings shared by the client commands (`--bootstrap-server`, `-X key=value`).

use anyhow::{bail, Context};
use clap::Args;
use rdkafka::ClientConfig;

/// Connection options every client command takes.
#[derive(Args, Clone, Debug)]
pub struct ClientArgs {
    /// Kafka bootstrap servers (Weft, Apache Kafka, or any compatible cluster).
    #[arg(
        long,
        short = 'b',
        global = true,
        default_value = "localhost:9092",
        env = "KAFKA_BOOTSTRAP_SERVERS"
    )]
    pub bootstrap_server: String,
    /// Extra librdkafka client property, like kcat's -X (repeatable).
    #[arg(short = 'X', global = true, value_name = "KEY=VALUE")]
    pub property: Vec<String>,
    /// A properties file of client settings (Kafka tools' --command-config).
    #[arg(long, global = true)]
    pub command_config: Option<std::path::PathBuf>,
}

/// Splits `key=value`, naming the flag in the error.
pub fn parse_kv(s: &str, flag: &str) -> anyhow::Result<(String, String)> {
    match s.split_once('=') {
        Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().to_string(), v.to_string())),
        _ => bail!("{flag} expects KEY=VALUE, got '{s}'"),
    }
}

impl ClientArgs {
    /// A client config with the bootstrap servers, the command config file and `-X` properties applied.
    pub fn config(&self) -> anyhow::Result<ClientConfig> {
        let mut c = ClientConfig::new();
        c.set("bootstrap.servers", &self.bootstrap_server);
        if let Some(path) = &self.command_config {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read --command-config {}", path.display()))?;
            for (k, v) in weft_broker::properties::parse(&text) {
                c.set(k, v);
            }
        }
        for p in &self.property {
            let (k, v) = parse_kv(p, "-X")?;
            c.set(k, v);
        }
        Ok(c)
    }
}
