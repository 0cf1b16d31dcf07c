//! `weft consume`: a console consumer with kcat-style output formats.

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use clap::Args;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer, ConsumerContext};
use rdkafka::error::KafkaError;
use rdkafka::message::{Headers, Message};
use rdkafka::{ClientContext, Offset, TopicPartitionList};

use crate::client::ClientArgs;
use crate::commands::plugin::{self, ConsumePluginArgs};

#[derive(Args, Debug)]
pub struct ConsumeArgs {
    pub topic: String,
    #[command(flatten)]
    pub client: ClientArgs,
    /// Start at the earliest offset (default: only new records).
    #[arg(long)]
    pub from_beginning: bool,
    /// Read only this partition.
    #[arg(long, short = 'p')]
    pub partition: Option<i32>,
    /// Start offset for --partition: a number, `beginning`, or `end`; negative counts back from the end.
    #[arg(long, short = 'o', allow_hyphen_values = true)]
    pub offset: Option<String>,
    /// Consume as a member of this consumer group (offsets are committed, also on exit).
    #[arg(long, short = 'g')]
    pub group: Option<String>,
    /// Stop after this many records.
    #[arg(long, short = 'n')]
    pub max_messages: Option<u64>,
    /// Stop when the end of every partition has been reached (kcat -e).
    #[arg(long, short = 'e')]
    pub exit_at_end: bool,
    /// Output format: %t topic, %p partition, %o offset, %k key, %s value, %T timestamp (ms),
    /// %h headers, %K key length, %S value length, \n, \t, %%.
    #[arg(long, short = 'f', default_value = "%s\\n")]
    pub format: String,
    #[command(flatten)]
    pub plugins: ConsumePluginArgs,
}

enum Token {
    Lit(String),
    Topic,
    Partition,
    Offset,
    Key,
    Value,
    Timestamp,
    Headers,
    KeyLen,
    ValueLen,
}

fn parse_format(f: &str) -> anyhow::Result<Vec<Token>> {
    let mut out = Vec::new();
    let mut lit = String::new();
    let mut chars = f.chars();
    while let Some(c) = chars.next() {
        match c {
            '%' => {
                let t = match chars.next() {
                    Some('t') => Token::Topic,
                    Some('p') => Token::Partition,
                    Some('o') => Token::Offset,
                    Some('k') => Token::Key,
                    Some('s') => Token::Value,
                    Some('T') => Token::Timestamp,
                    Some('h') => Token::Headers,
                    Some('K') => Token::KeyLen,
                    Some('S') => Token::ValueLen,
                    Some('%') => {
                        lit.push('%');
                        continue;
                    }
                    other => bail!(
                        "unknown format token %{}",
                        other.map(String::from).unwrap_or_default()
                    ),
                };
                if !lit.is_empty() {
                    out.push(Token::Lit(std::mem::take(&mut lit)));
                }
                out.push(t);
            }
            '\\' => match chars.next() {
                Some('n') => lit.push('\n'),
                Some('t') => lit.push('\t'),
                Some('\\') => lit.push('\\'),
                Some(o) => {
                    lit.push('\\');
                    lit.push(o);
                }
                None => lit.push('\\'),
            },
            c => lit.push(c),
        }
    }
    if !lit.is_empty() {
        out.push(Token::Lit(lit));
    }
    Ok(out)
}

fn render(tokens: &[Token], m: &impl Message, out: &mut impl Write) -> std::io::Result<()> {
    for t in tokens {
        match t {
            Token::Lit(s) => out.write_all(s.as_bytes())?,
            Token::Topic => out.write_all(m.topic().as_bytes())?,
            Token::Partition => write!(out, "{}", m.partition())?,
            Token::Offset => write!(out, "{}", m.offset())?,
            Token::Key => out.write_all(m.key().unwrap_or_default())?,
            Token::Value => out.write_all(m.payload().unwrap_or_default())?,
            Token::Timestamp => write!(out, "{}", m.timestamp().to_millis().unwrap_or(-1))?,
            Token::KeyLen => write!(out, "{}", m.key().map(|k| k.len() as i64).unwrap_or(-1))?,
            Token::ValueLen => {
                write!(out, "{}", m.payload().map(|k| k.len() as i64).unwrap_or(-1))?
            }
            Token::Headers => {
                if let Some(h) = m.headers() {
                    for (i, header) in h.iter().enumerate() {
                        if i > 0 {
                            out.write_all(b",")?;
                        }
                        out.write_all(header.key.as_bytes())?;
                        out.write_all(b"=")?;
                        out.write_all(header.value.unwrap_or_default())?;
                    }
                }
            }
        }
    }
    Ok(())
}

/// Reports client errors except end-of-partition, which `--exit-at-end` asks for and is not an error.
pub struct QuietEof;

impl ClientContext for QuietEof {
    fn error(&self, error: KafkaError, reason: &str) {
        let eof = matches!(
            error,
            KafkaError::PartitionEOF(_)
                | KafkaError::Global(rdkafka::types::RDKafkaErrorCode::PartitionEOF)
        );
        if !eof {
            tracing::error!("librdkafka: {error}: {reason}");
        }
    }
}

impl ConsumerContext for QuietEof {}

/// [`render`] for a record that went through plugins.
fn render_record(
    tokens: &[Token],
    r: &weft_runtime::Record,
    out: &mut impl Write,
) -> std::io::Result<()> {
    let len = |b: &Option<Vec<u8>>| b.as_ref().map(|b| b.len() as i64).unwrap_or(-1);
    for t in tokens {
        match t {
            Token::Lit(s) => out.write_all(s.as_bytes())?,
            Token::Topic => out.write_all(r.topic.as_bytes())?,
            Token::Partition => write!(out, "{}", r.partition.unwrap_or(-1))?,
            Token::Offset => write!(out, "{}", r.offset.unwrap_or(-1))?,
            Token::Key => out.write_all(r.key.as_deref().unwrap_or_default())?,
            Token::Value => out.write_all(r.value.as_deref().unwrap_or_default())?,
            Token::Timestamp => write!(out, "{}", r.timestamp.unwrap_or(-1))?,
            Token::KeyLen => write!(out, "{}", len(&r.key))?,
            Token::ValueLen => write!(out, "{}", len(&r.value))?,
            Token::Headers => {
                for (i, h) in r.headers.iter().enumerate() {
                    if i > 0 {
                        out.write_all(b",")?;
                    }
                    out.write_all(h.key.as_bytes())?;
                    out.write_all(b"=")?;
                    out.write_all(h.value.as_deref().unwrap_or_default())?;
                }
            }
        }
    }
    Ok(())
}

fn parse_offset(s: &str) -> anyhow::Result<Offset> {
    Ok(match s {
        "beginning" | "earliest" => Offset::Beginning,
        "end" | "latest" => Offset::End,
        n => {
            let v: i64 = n
                .parse()
                .with_context(|| format!("--offset '{n}' is not a number, beginning or end"))?;
            if v < 0 {
                Offset::OffsetTail(-v)
            } else {
                Offset::Offset(v)
            }
        }
    })
}

/// Sets a flag on Ctrl-C so the consume loop can commit and exit cleanly.
fn stop_flag() -> Arc<AtomicBool> {
    let flag = Arc::new(AtomicBool::new(false));
    let f = flag.clone();
    std::thread::spawn(move || {
        if let Ok(rt) = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        {
            rt.block_on(async {
                let _ = tokio::signal::ctrl_c().await;
            });
            f.store(true, Ordering::SeqCst);
        }
    });
    flag
}

pub fn run(args: ConsumeArgs) -> anyhow::Result<()> {
    let tokens = parse_format(&args.format)?;
    let mut pipeline = plugin::consume_pipeline(&args.plugins)?;
    let mut cfg = args.client.config()?;
    // librdkafka pauses fetching for a second whenever its queue passes queued.min.messages;
    // a console consumer printing slower than it fetches would stall in steps (-X wins).
    if cfg.get("fetch.queue.backoff.ms").is_none() {
        cfg.set("fetch.queue.backoff.ms", "10");
    }
    cfg.set("enable.partition.eof", "true").set(
        "auto.offset.reset",
        if args.from_beginning {
            "earliest"
        } else {
            "latest"
        },
    );
    match &args.group {
        Some(g) => {
            // Offsets are stored only for records actually printed: rust-rdkafka's consumer drains
            // (polls) queued records while closing, and with automatic offset storing those unprinted
            // records would be committed on exit, losing them for the group.
            cfg.set("group.id", g)
                .set("enable.auto.commit", "true")
                .set("enable.auto.offset.store", "false");
        }
        None => {
            cfg.set("group.id", "weft-console-consumer")
                .set("enable.auto.commit", "false");
        }
    }
    let consumer: BaseConsumer<QuietEof> = cfg
        .create_with_context(QuietEof)
        .context("creating consumer")?;

    let mut expected_eofs: Option<usize> = None;
    if args.group.is_some() {
        if args.partition.is_some() || args.offset.is_some() {
            bail!("--partition/--offset assign partitions directly and cannot be combined with --group");
        }
        consumer.subscribe(&[&args.topic]).context("subscribing")?;
    } else {
        let start = match (&args.offset, args.from_beginning) {
            (Some(o), _) => parse_offset(o)?,
            (None, true) => Offset::Beginning,
            (None, false) => Offset::End,
        };
        let partitions: Vec<i32> = match args.partition {
            Some(p) => vec![p],
            None => {
                let md = consumer
                    .fetch_metadata(Some(&args.topic), Duration::from_secs(30))
                    .context("fetching topic metadata")?;
                let t = md.topics().first().context("no metadata for topic")?;
                if let Some(e) = t.error() {
                    bail!(
                        "topic {}: {}",
                        args.topic,
                        rdkafka::types::RDKafkaErrorCode::from(e)
                    );
                }
                t.partitions().iter().map(|p| p.id()).collect()
            }
        };
        if args.offset.is_some() && args.partition.is_none() && partitions.len() > 1 {
            bail!("--offset needs --partition when the topic has more than one partition");
        }
        let mut tpl = TopicPartitionList::new();
        for p in &partitions {
            tpl.add_partition_offset(&args.topic, *p, start)?;
        }
        consumer.assign(&tpl).context("assigning partitions")?;
        expected_eofs = Some(partitions.len());
    }

    let stop = stop_flag();
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let mut count = 0u64;
    let mut at_eof = std::collections::HashSet::new();
    while !stop.load(Ordering::SeqCst) {
        if args.max_messages.is_some_and(|n| count >= n) {
            break;
        }
        let Some(msg) = consumer.poll(Duration::from_millis(200)) else {
            out.flush()?;
            continue;
        };
        match msg {
            Ok(m) => {
                at_eof.remove(&m.partition());
                match pipeline.as_mut() {
                    Some(p) => {
                        for r in p.process(vec![plugin::record_from_message(&m)])? {
                            render_record(&tokens, &r, &mut out)?;
                        }
                    }
                    None => render(&tokens, &m, &mut out)?,
                }
                if args.group.is_some() {
                    consumer
                        .store_offset_from_message(&m)
                        .context("storing the consumed offset")?;
                }
                count += 1;
            }
            Err(KafkaError::PartitionEOF(p)) => {
                at_eof.insert(p);
                if args.exit_at_end {
                    let expected = match expected_eofs {
                        Some(n) => n,
                        None => consumer
                            .assignment()
                            .map(|a| a.count())
                            .unwrap_or(usize::MAX),
                    };
                    if expected > 0 && at_eof.len() >= expected {
                        break;
                    }
                }
            }
            Err(e) => {
                out.flush()?;
                eprintln!("consume error: {e}");
                if matches!(
                    e,
                    KafkaError::MessageConsumption(
                        rdkafka::types::RDKafkaErrorCode::UnknownTopicOrPartition
                    )
                ) {
                    bail!("topic {} does not exist", args.topic);
                }
            }
        }
    }
    out.flush()?;
    if args.group.is_some() {
        match consumer.commit_consumer_state(CommitMode::Sync) {
            Ok(())
            | Err(KafkaError::ConsumerCommit(rdkafka::types::RDKafkaErrorCode::NoOffset)) => {}
            Err(e) => eprintln!("could not commit offsets on exit: {e}"),
        }
        if let (Some(p), Ok(pos)) = (pipeline.as_mut(), consumer.position()) {
            let offsets: Vec<(String, i32, i64)> = pos
                .elements()
                .iter()
                .filter_map(|e| match e.offset() {
                    Offset::Offset(o) => Some((e.topic().to_string(), e.partition(), o)),
                    _ => None,
                })
                .collect();
            p.committed(&offsets)?;
        }
    }
    if let Some(p) = pipeline.as_mut() {
        p.close()?;
    }
    eprintln!("Processed a total of {count} messages");
    Ok(())
}
