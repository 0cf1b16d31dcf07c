//! `weft transactions list|describe`: kafka-transactions.sh for Weft or any Kafka cluster. librdkafka
//! has no ListTransactions/DescribeTransactions admin calls, so this speaks the two requests itself
//! (kafka-protocol codecs over a blocking socket): list asks every broker of the cluster, describe
//! asks the transactional id's coordinator (FindCoordinator), as the Java admin client does. The
//! tables have kafka-transactions.sh's columns.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use anyhow::{bail, Context};
use bytes::{BufMut, BytesMut};
use clap::{Args, Subcommand};
use kafka_protocol::messages::{
    ApiKey, DescribeTransactionsRequest, FindCoordinatorRequest, ListTransactionsRequest,
    MetadataRequest, RequestHeader, ResponseHeader, TransactionalId,
};
use kafka_protocol::protocol::{Decodable, Encodable, Request, StrBytes};

use crate::client::ClientArgs;

const TIMEOUT: Duration = Duration::from_secs(30);
/// Largest response accepted (a cluster's transaction list fits many times over).
const MAX_RESPONSE: usize = 64 << 20;

#[derive(Args, Debug)]
pub struct TransactionsArgs {
    #[command(flatten)]
    pub client: ClientArgs,
    #[command(subcommand)]
    pub action: TransactionsAction,
}

#[derive(Subcommand, Debug)]
pub enum TransactionsAction {
    /// Every transactional id the cluster's coordinators know, with producer id and state.
    List,
    /// One transactional id: producer id and epoch, state, timeout, start, partitions.
    Describe {
        #[arg(long)]
        transactional_id: String,
    },
}

pub fn run(args: TransactionsArgs) -> anyhow::Result<()> {
    match args.action {
        TransactionsAction::List => list(&args.client),
        TransactionsAction::Describe { transactional_id } => {
            describe(&args.client, &transactional_id)
        }
    }
}

/// One blocking connection speaking the Kafka protocol.
struct Conn {
    stream: TcpStream,
    correlation: i32,
}

impl Conn {
    fn open(addr: &str) -> anyhow::Result<Conn> {
        let stream = TcpStream::connect(addr).with_context(|| format!("connecting to {addr}"))?;
        stream.set_read_timeout(Some(TIMEOUT))?;
        stream.set_write_timeout(Some(TIMEOUT))?;
        Ok(Conn {
            stream,
            correlation: 0,
        })
    }

    fn send<R: Request>(&mut self, version: i16, req: &R) -> anyhow::Result<R::Response> {
        let key = ApiKey::try_from(R::KEY).map_err(|_| anyhow::anyhow!("unknown api key"))?;
        self.correlation += 1;
        let header = RequestHeader::default()
            .with_request_api_key(R::KEY)
            .with_request_api_version(version)
            .with_correlation_id(self.correlation)
            .with_client_id(Some(StrBytes::from_static_str("weft-transactions")));
        let mut buf = BytesMut::new();
        buf.put_i32(0);
        header.encode(&mut buf, key.request_header_version(version))?;
        req.encode(&mut buf, version)?;
        let len = (buf.len() - 4) as i32;
        buf[0..4].copy_from_slice(&len.to_be_bytes());
        self.stream.write_all(&buf)?;
        let mut len = [0u8; 4];
        self.stream.read_exact(&mut len)?;
        let len = usize::try_from(i32::from_be_bytes(len)).context("negative response size")?;
        if len > MAX_RESPONSE {
            bail!("response of {len} bytes is larger than {MAX_RESPONSE}");
        }
        let mut body = vec![0u8; len];
        self.stream.read_exact(&mut body)?;
        let mut b = bytes::Bytes::from(body);
        let h = ResponseHeader::decode(&mut b, key.response_header_version(version))?;
        if h.correlation_id != self.correlation {
            bail!("response for another request ({})", h.correlation_id);
        }
        R::Response::decode(&mut b, version)
            .with_context(|| format!("decoding the {key:?} v{version} response"))
    }
}

/// Every broker of the cluster as (node id, host:port), from the bootstrap server's metadata.
fn brokers(client: &ClientArgs) -> anyhow::Result<Vec<(i32, String)>> {
    let bootstrap = client
        .bootstrap_server
        .split(',')
        .next()
        .unwrap_or("localhost:9092")
        .trim()
        .to_string();
    let mut conn = Conn::open(&bootstrap)?;
    let md = conn.send(1, &MetadataRequest::default().with_topics(Some(Vec::new())))?;
    Ok(md
        .brokers
        .iter()
        .map(|b| (b.node_id.0, format!("{}:{}", b.host.as_str(), b.port)))
        .collect())
}

/// Prints rows padded to the widest cell of each column, as kafka-transactions.sh does.
fn print_table(header: &[&str], rows: &[Vec<String>]) {
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for r in rows {
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(c.len());
        }
    }
    let line = |cells: Vec<&str>| {
        let padded: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        println!("{}", padded.join("\t").trim_end());
    };
    line(header.to_vec());
    for r in rows {
        line(r.iter().map(String::as_str).collect());
    }
}

fn list(client: &ClientArgs) -> anyhow::Result<()> {
    let mut rows = Vec::new();
    for (node, addr) in brokers(client)? {
        let mut conn = Conn::open(&addr)?;
        let resp = conn.send(0, &ListTransactionsRequest::default())?;
        if resp.error_code != 0 {
            bail!(
                "broker {node} answered ListTransactions with error {}",
                resp.error_code
            );
        }
        for t in resp.transaction_states {
            rows.push(vec![
                t.transactional_id.to_string(),
                node.to_string(),
                t.producer_id.0.to_string(),
                t.transaction_state.to_string(),
            ]);
        }
    }
    rows.sort();
    print_table(
        &[
            "TransactionalId",
            "Coordinator",
            "ProducerId",
            "TransactionState",
        ],
        &rows,
    );
    Ok(())
}

fn describe(client: &ClientArgs, id: &str) -> anyhow::Result<()> {
    let all = brokers(client)?;
    let (_, bootstrap) = all.first().context("the cluster reported no brokers")?;
    let fc = Conn::open(bootstrap)?.send(
        3,
        &FindCoordinatorRequest::default()
            .with_key(StrBytes::from_string(id.to_string()))
            .with_key_type(1),
    )?;
    if fc.error_code != 0 {
        bail!(
            "cannot find the coordinator of {id}: error {} {}",
            fc.error_code,
            fc.error_message.as_deref().unwrap_or("")
        );
    }
    let coordinator = fc.node_id.0;
    let mut conn = Conn::open(&format!("{}:{}", fc.host.as_str(), fc.port))?;
    let resp = conn.send(
        0,
        &DescribeTransactionsRequest::default()
            .with_transactional_ids(vec![TransactionalId(StrBytes::from_string(id.to_string()))]),
    )?;
    let t = resp
        .transaction_states
        .into_iter()
        .next()
        .context("empty DescribeTransactions response")?;
    match t.error_code {
        0 => {}
        105 => bail!("transactional id {id} not found"),
        e => bail!("DescribeTransactions for {id} failed with error {e}"),
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0);
    let (start, duration) = if t.transaction_start_time_ms < 0 {
        ("None".to_string(), "None".to_string())
    } else {
        (
            t.transaction_start_time_ms.to_string(),
            (now - t.transaction_start_time_ms).max(0).to_string(),
        )
    };
    let partitions: Vec<String> = t
        .topics
        .iter()
        .flat_map(|tp| {
            tp.partitions
                .iter()
                .map(move |p| format!("{}-{p}", tp.topic.as_str()))
        })
        .collect();
    print_table(
        &[
            "CoordinatorId",
            "TransactionalId",
            "ProducerId",
            "ProducerEpoch",
            "TransactionState",
            "TransactionTimeoutMs",
            "CurrentTransactionStartTimeMs",
            "TransactionDurationMs",
            "TopicPartitions",
        ],
        &[vec![
            coordinator.to_string(),
            id.to_string(),
            t.producer_id.0.to_string(),
            t.producer_epoch.to_string(),
            t.transaction_state.to_string(),
            t.transaction_timeout_ms.to_string(),
            start,
            duration,
            partitions.join(","),
        ]],
    );
    Ok(())
}
