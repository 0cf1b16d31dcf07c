//! `weft topics`: kafka-topics for Weft or any Kafka cluster, over the Kafka admin API (rdkafka).

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::{anyhow, bail, Context};
use clap::{Args, Subcommand};
use rdkafka::admin::{
    AdminClient, AdminOptions, AlterConfig, ConfigSource, NewPartitions, NewTopic,
    ResourceSpecifier, TopicReplication,
};
use rdkafka::client::DefaultClientContext;

use crate::client::{parse_kv, ClientArgs};

const TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Args, Debug)]
pub struct TopicsArgs {
    #[command(flatten)]
    pub client: ClientArgs,
    #[command(subcommand)]
    pub action: TopicsAction,
}

#[derive(Subcommand, Debug)]
pub enum TopicsAction {
    /// Create a topic.
    Create {
        topic: String,
        /// Number of partitions (default: the broker's num.partitions).
        #[arg(long, short = 'p')]
        partitions: Option<i32>,
        #[arg(long, default_value_t = 1)]
        replication_factor: i32,
        /// Topic config, e.g. `--config cleanup.policy=compact` (repeatable).
        #[arg(long, value_name = "KEY=VALUE")]
        config: Vec<String>,
        /// Succeed quietly if the topic already exists.
        #[arg(long)]
        if_not_exists: bool,
    },
    /// List topic names.
    List,
    /// Describe topics (all when none are named): partitions, leader, replicas, ISR and configs.
    Describe { topics: Vec<String> },
    /// Add partitions or change topic configs.
    Alter {
        topic: String,
        /// New (larger) partition count.
        #[arg(long, short = 'p')]
        partitions: Option<usize>,
        /// Set a topic config (repeatable).
        #[arg(long, value_name = "KEY=VALUE")]
        config: Vec<String>,
        /// Remove a topic config override (repeatable).
        #[arg(long, value_name = "KEY")]
        delete_config: Vec<String>,
    },
    /// Delete a topic and its data.
    Delete {
        topic: String,
        /// Succeed quietly if the topic does not exist.
        #[arg(long)]
        if_exists: bool,
    },
}

pub fn run(args: TopicsArgs) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(run_async(args))
}

async fn run_async(args: TopicsArgs) -> anyhow::Result<()> {
    let admin: AdminClient<DefaultClientContext> = args
        .client
        .config()?
        .create()
        .context("creating admin client")?;
    let opts = AdminOptions::new()
        .operation_timeout(Some(TIMEOUT))
        .request_timeout(Some(TIMEOUT));
    match args.action {
        TopicsAction::Create {
            topic,
            partitions,
            replication_factor,
            config,
            if_not_exists,
        } => {
            let configs = config
                .iter()
                .map(|c| parse_kv(c, "--config"))
                .collect::<anyhow::Result<Vec<_>>>()?;
            let mut nt = NewTopic::new(
                &topic,
                partitions.unwrap_or(-1),
                TopicReplication::Fixed(replication_factor),
            );
            for (k, v) in &configs {
                nt = nt.set(k, v);
            }
            let results = admin.create_topics(&[nt], &opts).await?;
            for r in results {
                match r {
                    Ok(name) => println!("Created topic {name}."),
                    Err((name, rdkafka::types::RDKafkaErrorCode::TopicAlreadyExists))
                        if if_not_exists =>
                    {
                        println!("Topic {name} already exists.")
                    }
                    Err((name, code)) => bail!("cannot create topic {name}: {code}"),
                }
            }
        }
        TopicsAction::List => {
            let md = admin.inner().fetch_metadata(None, TIMEOUT)?;
            let mut names: Vec<_> = md.topics().iter().map(|t| t.name().to_string()).collect();
            names.sort();
            for n in names {
                println!("{n}");
            }
        }
        TopicsAction::Describe { topics } => {
            let md = admin.inner().fetch_metadata(None, TIMEOUT)?;
            let mut listed: Vec<_> = md
                .topics()
                .iter()
                .filter(|t| topics.is_empty() || topics.iter().any(|n| n == t.name()))
                .collect();
            for wanted in &topics {
                if !listed.iter().any(|t| t.name() == wanted) {
                    bail!("topic '{wanted}' does not exist");
                }
            }
            listed.sort_by(|a, b| a.name().cmp(b.name()));
            for t in listed {
                if let Some(e) = t.error() {
                    println!(
                        "Topic: {}\tError: {}",
                        t.name(),
                        rdkafka::types::RDKafkaErrorCode::from(e)
                    );
                    continue;
                }
                let overrides = topic_overrides(&admin, &opts, t.name())
                    .await
                    .unwrap_or_default();
                let rf = t
                    .partitions()
                    .first()
                    .map(|p| p.replicas().len())
                    .unwrap_or(0);
                let configs = overrides
                    .iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect::<Vec<_>>()
                    .join(",");
                println!(
                    "Topic: {}\tPartitionCount: {}\tReplicationFactor: {}\tConfigs: {}",
                    t.name(),
                    t.partitions().len(),
                    rf,
                    configs
                );
                let mut parts: Vec<_> = t.partitions().iter().collect();
                parts.sort_by_key(|p| p.id());
                for p in parts {
                    let join = |v: &[i32]| {
                        v.iter()
                            .map(|x| x.to_string())
                            .collect::<Vec<_>>()
                            .join(",")
                    };
                    println!(
                        "\tTopic: {}\tPartition: {}\tLeader: {}\tReplicas: {}\tIsr: {}",
                        t.name(),
                        p.id(),
                        p.leader(),
                        join(p.replicas()),
                        join(p.isr())
                    );
                }
            }
        }
        TopicsAction::Alter {
            topic,
            partitions,
            config,
            delete_config,
        } => {
            if partitions.is_none() && config.is_empty() && delete_config.is_empty() {
                bail!("nothing to alter: give --partitions, --config or --delete-config");
            }
            if let Some(n) = partitions {
                let results = admin
                    .create_partitions(&[NewPartitions::new(&topic, n)], &opts)
                    .await?;
                for r in results {
                    r.map_err(|(name, code)| anyhow!("cannot add partitions to {name}: {code}"))?;
                }
                println!("Topic {topic} now has {n} partitions.");
            }
            if !config.is_empty() || !delete_config.is_empty() {
                // AlterConfigs replaces the whole override set, so merge with the current overrides first.
                let mut overrides = topic_overrides(&admin, &opts, &topic).await?;
                for c in &config {
                    let (k, v) = parse_kv(c, "--config")?;
                    overrides.insert(k, v);
                }
                for k in &delete_config {
                    overrides.remove(k);
                }
                let mut ac = AlterConfig::new(ResourceSpecifier::Topic(&topic));
                for (k, v) in &overrides {
                    ac = ac.set(k, v);
                }
                let results = admin.alter_configs(&[ac], &opts).await?;
                for r in results {
                    r.map_err(|(_, code)| anyhow!("cannot alter configs of {topic}: {code}"))?;
                }
                println!("Updated config for topic {topic}.");
            }
        }
        TopicsAction::Delete { topic, if_exists } => {
            let results = admin.delete_topics(&[topic.as_str()], &opts).await?;
            for r in results {
                match r {
                    Ok(name) => println!("Deleted topic {name}."),
                    Err((name, rdkafka::types::RDKafkaErrorCode::UnknownTopicOrPartition))
                        if if_exists =>
                    {
                        println!("Topic {name} does not exist.")
                    }
                    Err((name, code)) => bail!("cannot delete topic {name}: {code}"),
                }
            }
        }
    }
    Ok(())
}

/// The topic's dynamic config overrides (what kafka-topics prints as Configs).
async fn topic_overrides(
    admin: &AdminClient<DefaultClientContext>,
    opts: &AdminOptions,
    topic: &str,
) -> anyhow::Result<BTreeMap<String, String>> {
    let results = admin
        .describe_configs(&[ResourceSpecifier::Topic(topic)], opts)
        .await?;
    let mut out = BTreeMap::new();
    for r in results {
        let r = r.map_err(|code| anyhow!("cannot describe configs of {topic}: {code}"))?;
        for e in r.entries {
            if e.source == ConfigSource::DynamicTopic {
                if let Some(v) = e.value {
                    out.insert(e.name, v);
                }
            }
        }
    }
    Ok(out)
}
