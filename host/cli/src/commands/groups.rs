//! `weft groups`: kafka-consumer-groups for Weft or any Kafka cluster (list, describe, delete,
//! reset-offsets), over librdkafka's admin and consumer APIs.

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::{bail, Context};
use clap::{ArgGroup, Args, Subcommand};
use rdkafka::admin::{AdminClient, AdminOptions};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::groups::GroupInfo;
use rdkafka::{Offset, TopicPartitionList};
use weft_broker::groups::consumer_protocol::assignment_partitions;

use crate::client::ClientArgs;

const TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Args, Debug)]
pub struct GroupsArgs {
    #[command(flatten)]
    pub client: ClientArgs,
    #[command(subcommand)]
    pub action: GroupsAction,
}

#[derive(Subcommand, Debug)]
pub enum GroupsAction {
    /// List consumer groups.
    List,
    /// Committed offsets, log-end offsets, lag and owning member per partition.
    Describe { group: String },
    /// Delete an empty group and its committed offsets.
    Delete { group: String },
    /// Change an inactive group's committed offsets (prints the plan unless --execute).
    ResetOffsets(ResetArgs),
}

#[derive(Args, Debug)]
#[command(group(ArgGroup::new("spec").required(true).args(["to_earliest", "to_latest", "to_offset", "shift_by", "to_datetime"])))]
pub struct ResetArgs {
    pub group: String,
    /// Topic, optionally with partitions: `orders` or `orders:0,2`.
    #[arg(long)]
    pub topic: String,
    #[arg(long)]
    pub to_earliest: bool,
    #[arg(long)]
    pub to_latest: bool,
    #[arg(long)]
    pub to_offset: Option<i64>,
    #[arg(long, allow_hyphen_values = true)]
    pub shift_by: Option<i64>,
    /// e.g. 2024-05-01T12:00:00.000 (UTC unless it ends in Z or ±hh:mm).
    #[arg(long)]
    pub to_datetime: Option<String>,
    /// Commit the new offsets (without it, only the plan is printed, as kafka-consumer-groups does).
    #[arg(long)]
    pub execute: bool,
}

pub fn run(args: GroupsArgs) -> anyhow::Result<()> {
    match args.action {
        GroupsAction::List => list(&args.client),
        GroupsAction::Describe { group } => describe(&args.client, &group),
        GroupsAction::Delete { group } => delete(&args.client, &group),
        GroupsAction::ResetOffsets(r) => reset(&args.client, &r),
    }
}

fn consumer(client: &ClientArgs, group: &str) -> anyhow::Result<BaseConsumer> {
    let mut cfg = client.config()?;
    // A consumer that never subscribes never joins: it only reads and commits offsets.
    cfg.set("group.id", group)
        .set("enable.auto.commit", "false");
    cfg.create().context("creating consumer")
}

fn list(client: &ClientArgs) -> anyhow::Result<()> {
    let c = consumer(client, "weft-groups-admin")?;
    let groups = c
        .fetch_group_list(None, TIMEOUT)
        .context("listing groups")?;
    let mut names: Vec<&str> = groups.groups().iter().map(|g| g.name()).collect();
    names.sort();
    for n in names {
        println!("{n}");
    }
    Ok(())
}

/// The group's state and members as DescribeGroups reports them; "Dead" when it does not exist.
fn group_info(c: &BaseConsumer, group: &str) -> anyhow::Result<(String, Vec<Member>)> {
    let list = c
        .fetch_group_list(Some(group), TIMEOUT)
        .context("describing group")?;
    let Some(g) = list.groups().iter().find(|g| g.name() == group) else {
        return Ok(("Dead".to_string(), Vec::new()));
    };
    Ok((g.state().to_string(), members(g)))
}

struct Member {
    id: String,
    client_id: String,
    host: String,
    partitions: Vec<(String, i32)>,
}

fn members(g: &GroupInfo) -> Vec<Member> {
    g.members()
        .iter()
        .map(|m| Member {
            id: m.id().to_string(),
            client_id: m.client_id().to_string(),
            host: m.client_host().to_string(),
            partitions: m
                .assignment()
                .map(assignment_partitions)
                .unwrap_or_default(),
        })
        .collect()
}

/// Every partition of every non-internal topic (to ask the group's committed offsets for).
fn all_partitions(c: &BaseConsumer) -> anyhow::Result<Vec<(String, i32)>> {
    let md = c
        .fetch_metadata(None, TIMEOUT)
        .context("fetching metadata")?;
    let mut out = Vec::new();
    for t in md.topics() {
        if t.name().starts_with("__") {
            continue;
        }
        for p in t.partitions() {
            out.push((t.name().to_string(), p.id()));
        }
    }
    Ok(out)
}

fn committed(
    c: &BaseConsumer,
    parts: &[(String, i32)],
) -> anyhow::Result<BTreeMap<(String, i32), i64>> {
    let mut tpl = TopicPartitionList::new();
    for (t, p) in parts {
        tpl.add_partition(t, *p);
    }
    let got = c
        .committed_offsets(tpl, TIMEOUT)
        .context("fetching committed offsets")?;
    let mut out = BTreeMap::new();
    for e in got.elements() {
        if let Offset::Offset(o) = e.offset() {
            out.insert((e.topic().to_string(), e.partition()), o);
        }
    }
    Ok(out)
}

fn describe(client: &ClientArgs, group: &str) -> anyhow::Result<()> {
    let c = consumer(client, group)?;
    let (state, members) = group_info(&c, group)?;
    let parts = all_partitions(&c)?;
    let offsets = committed(&c, &parts)?;
    let mut owner: BTreeMap<(String, i32), &Member> = BTreeMap::new();
    for m in &members {
        for tp in &m.partitions {
            owner.insert(tp.clone(), m);
        }
    }
    if state == "Dead" && offsets.is_empty() {
        bail!("consumer group '{group}' does not exist");
    }
    if members.is_empty() {
        println!("\nConsumer group '{group}' has no active members.\n");
    } else if state != "Stable" {
        println!("\nConsumer group '{group}' is rebalancing (state {state}).\n");
    } else {
        println!();
    }
    let mut rows = vec![[
        "GROUP",
        "TOPIC",
        "PARTITION",
        "CURRENT-OFFSET",
        "LOG-END-OFFSET",
        "LAG",
        "CONSUMER-ID",
        "HOST",
        "CLIENT-ID",
    ]
    .map(String::from)];
    for (t, p) in &parts {
        let key = (t.clone(), *p);
        let current = offsets.get(&key).copied();
        let m = owner.get(&key);
        if current.is_none() && m.is_none() {
            continue;
        }
        let (_, high) = c
            .fetch_watermarks(t, *p, TIMEOUT)
            .with_context(|| format!("log-end offset of {t}-{p}"))?;
        let dash = || "-".to_string();
        rows.push([
            group.to_string(),
            t.clone(),
            p.to_string(),
            current.map(|o| o.to_string()).unwrap_or_else(dash),
            high.to_string(),
            current.map(|o| (high - o).to_string()).unwrap_or_else(dash),
            m.map(|m| m.id.clone()).unwrap_or_else(dash),
            m.map(|m| m.host.clone()).unwrap_or_else(dash),
            m.map(|m| m.client_id.clone()).unwrap_or_else(dash),
        ]);
    }
    print_table(&rows);
    Ok(())
}

fn print_table<const N: usize>(rows: &[[String; N]]) {
    let mut widths = [0usize; N];
    for r in rows {
        for (w, cell) in widths.iter_mut().zip(r) {
            *w = (*w).max(cell.len());
        }
    }
    for r in rows {
        let line: Vec<String> = r
            .iter()
            .zip(widths)
            .map(|(cell, w)| format!("{cell:<w$}"))
            .collect();
        println!("{}", line.join(" ").trim_end());
    }
}

fn delete(client: &ClientArgs, group: &str) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let admin: AdminClient<DefaultClientContext> =
            client.config()?.create().context("creating admin client")?;
        let opts = AdminOptions::new().request_timeout(Some(TIMEOUT));
        for r in admin.delete_groups(&[group], &opts).await? {
            match r {
                Ok(name) => {
                    println!("Deletion of requested consumer groups ('{name}') was successful.")
                }
                Err((name, code)) => bail!("cannot delete group '{name}': {code}"),
            }
        }
        Ok(())
    })
}

/// `topic` or `topic:0,2,5`.
fn parse_topic(spec: &str) -> anyhow::Result<(String, Option<Vec<i32>>)> {
    match spec.split_once(':') {
        None => Ok((spec.to_string(), None)),
        Some((t, ps)) => {
            let parts = ps
                .split(',')
                .map(|p| p.trim().parse::<i32>())
                .collect::<Result<Vec<_>, _>>()
                .with_context(|| format!("--topic '{spec}': partitions must be numbers"))?;
            Ok((t.to_string(), Some(parts)))
        }
    }
}

fn reset(client: &ClientArgs, args: &ResetArgs) -> anyhow::Result<()> {
    let c = consumer(client, &args.group)?;
    let (state, _) = group_info(&c, &args.group)?;
    if state != "Empty" && state != "Dead" {
        bail!(
            "Assignments can only be reset if the group '{}' is inactive, but the current state is {state}.",
            args.group
        );
    }
    let (topic, only) = parse_topic(&args.topic)?;
    let md = c
        .fetch_metadata(Some(&topic), TIMEOUT)
        .context("fetching topic metadata")?;
    let t = md.topics().first().context("no metadata for topic")?;
    if t.error().is_some() || t.partitions().is_empty() {
        bail!("topic '{topic}' does not exist");
    }
    let parts: Vec<(String, i32)> = t
        .partitions()
        .iter()
        .map(|p| p.id())
        .filter(|p| only.as_ref().is_none_or(|o| o.contains(p)))
        .map(|p| (topic.clone(), p))
        .collect();
    let current = committed(&c, &parts)?;
    let by_time = match &args.to_datetime {
        Some(s) => {
            let ts = parse_datetime(s)?;
            let mut tpl = TopicPartitionList::new();
            for (t, p) in &parts {
                tpl.add_partition_offset(t, *p, Offset::Offset(ts))?;
            }
            Some(
                c.offsets_for_times(tpl, TIMEOUT)
                    .context("looking up offsets by time")?,
            )
        }
        None => None,
    };
    let mut plan = TopicPartitionList::new();
    let mut rows = vec![["GROUP", "TOPIC", "PARTITION", "NEW-OFFSET"].map(String::from)];
    for (t, p) in &parts {
        let (low, high) = c.fetch_watermarks(t, *p, TIMEOUT)?;
        let target = if args.to_earliest {
            low
        } else if args.to_latest {
            high
        } else if let Some(o) = args.to_offset {
            o
        } else if let Some(n) = args.shift_by {
            current
                .get(&(t.clone(), *p))
                .copied()
                .unwrap_or(low)
                .saturating_add(n)
        } else {
            match by_time
                .as_ref()
                .and_then(|l| l.find_partition(t, *p))
                .map(|e| e.offset())
            {
                Some(Offset::Offset(o)) => o,
                _ => high,
            }
        };
        // Out-of-range targets are clamped to the log, as kafka-consumer-groups does.
        let target = target.clamp(low, high);
        plan.add_partition_offset(t, *p, Offset::Offset(target))?;
        rows.push([
            args.group.clone(),
            t.clone(),
            p.to_string(),
            target.to_string(),
        ]);
    }
    println!();
    print_table(&rows);
    if args.execute {
        c.commit(&plan, CommitMode::Sync)
            .context("committing the new offsets")?;
    } else {
        eprintln!("\nDry run: nothing was changed. Add --execute to commit these offsets.");
    }
    Ok(())
}

/// Parses `YYYY-MM-DDTHH:MM:SS[.sss][Z|±hh:mm]` into Unix milliseconds (UTC when no zone is given).
fn parse_datetime(s: &str) -> anyhow::Result<i64> {
    let bad = || anyhow::anyhow!("--to-datetime '{s}' is not like 2024-05-01T12:00:00.000");
    let (body, offset_min) = if let Some(b) = s.strip_suffix('Z') {
        (b, 0)
    } else if s.len() > 6
        && matches!(s.as_bytes()[s.len() - 6], b'+' | b'-')
        && s.as_bytes()[s.len() - 3] == b':'
    {
        let (b, z) = s.split_at(s.len() - 6);
        let sign = if z.starts_with('-') { -1 } else { 1 };
        let h: i64 = z[1..3].parse().map_err(|_| bad())?;
        let m: i64 = z[4..6].parse().map_err(|_| bad())?;
        (b, sign * (h * 60 + m))
    } else {
        (s, 0)
    };
    let (date, time) = body.split_once('T').ok_or_else(bad)?;
    let d: Vec<i64> = date
        .split('-')
        .map(|x| x.parse())
        .collect::<Result<_, _>>()
        .map_err(|_| bad())?;
    let (hms, frac) = time.split_once('.').unwrap_or((time, "0"));
    let t: Vec<i64> = hms
        .split(':')
        .map(|x| x.parse())
        .collect::<Result<_, _>>()
        .map_err(|_| bad())?;
    let [y, mo, day] = d[..] else {
        return Err(bad());
    };
    let [h, mi, sec] = t[..] else {
        return Err(bad());
    };
    let ms: i64 = format!("{frac:0<3}")[..3].parse().map_err(|_| bad())?;
    // Howard Hinnant's days_from_civil.
    let y = if mo <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (mo + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Ok(((days * 24 + h) * 60 + mi - offset_min) * 60_000 + sec * 1000 + ms)
}

#[cfg(test)]
mod tests {
    #[test]
    fn datetimes() {
        assert_eq!(super::parse_datetime("1970-01-01T00:00:00.000").unwrap(), 0);
        assert_eq!(
            super::parse_datetime("2024-05-01T12:00:00Z").unwrap(),
            1_714_564_800_000
        );
        assert_eq!(
            super::parse_datetime("2024-05-01T14:00:00.5+02:00").unwrap(),
            1_714_564_800_500
        );
        assert!(super::parse_datetime("yesterday").is_err());
    }
}
