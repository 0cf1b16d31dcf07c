//! Request dispatch: decodes a frame's header and body with kafka-protocol, routes it to the handler
//! module for its API, and encodes the response frame.
//!
//! Invariant: only (API, version) pairs listed in [`SUPPORTED`] reach a handler. ApiVersions at a version
//! this broker does not know gets the v0-shaped UNSUPPORTED_VERSION answer carrying the supported ranges;
//! any other unknown API or version closes the connection, as Kafka does.
//!
//! Where handlers run: in-memory ones on the async worker; Produce and OffsetCommit await the log
//! executor; Fetch reads on a blocking thread; handlers that change topics, delete groups or offsets,
//! or scan a log run whole on a blocking thread ([`off_worker`]). No handler does file I/O on an
//! async worker.

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::{Buf, BufMut, Bytes, BytesMut};
use kafka_protocol::messages::api_versions_response::ApiVersion;
use kafka_protocol::messages::{
    ApiKey, ApiVersionsResponse, RequestHeader, RequestKind, ResponseHeader, ResponseKind,
};
use kafka_protocol::protocol::{Decodable, Encodable, StrBytes};

use crate::error::code;
use crate::server::Broker;

mod add_offsets_to_txn;
mod add_partitions_to_txn;
mod api_versions;
mod configs;
mod create_partitions;
mod create_topics;
mod delete_groups;
mod delete_records;
mod delete_topics;
mod describe_cluster;
mod describe_groups;
mod describe_producers;
mod describe_transactions;
mod end_txn;
mod fetch;
mod fetch_response;
mod find_coordinator;
mod heartbeat;
mod init_producer_id;
mod join_group;
mod leave_group;
mod legacy;
mod list_groups;
mod list_offsets;
mod list_transactions;
mod metadata;
mod offset_commit;
mod offset_delete;
mod offset_fetch;
mod partition_budget;
mod produce;
mod sync_group;
mod txn_offset_commit;

/// What to do after handling a frame.
pub enum Outcome {
    Respond(Bytes),
    /// A response frame as chunks to write back to back (Fetch: stored records are not copied, and
    /// are sent from their file when the page cache holds them).
    RespondChunks(Vec<crate::chunk::Chunk>),
    /// acks=0 produce: Kafka sends nothing back.
    NoResponse,
    /// The request could not be decoded; Kafka closes such connections.
    Close(String),
    /// The request's API or version is not served here; Kafka closes these connections too.
    Unsupported(String),
}

/// Everything a handler knows about the request besides its body.
pub struct Ctx<'a> {
    pub broker: &'a Arc<Broker>,
    pub header: RequestHeader,
    pub version: i16,
    pub peer: SocketAddr,
    pub listener: &'a str,
}

/// Runs a handler that does file I/O or waits on log writes (topic changes, group deletions, log
/// scans) on a blocking thread, so it never holds an async worker. `None` if it panicked.
async fn off_worker<R: Send + 'static>(
    ctx: &Ctx<'_>,
    f: impl FnOnce(&Ctx<'_>) -> R + Send + 'static,
) -> Option<R> {
    let broker = ctx.broker.clone();
    let header = ctx.header.clone();
    let (version, peer) = (ctx.version, ctx.peer);
    let listener = ctx.listener.to_string();
    // The request's span (see connection.rs) follows it onto the blocking thread.
    let span = tracing::Span::current();
    tokio::task::spawn_blocking(move || {
        let _in_request = span.enter();
        let ctx = Ctx {
            broker: &broker,
            header,
            version,
            peer,
            listener: &listener,
        };
        f(&ctx)
    })
    .await
    .map_err(|e| tracing::error!(%peer, error = %e, "request handler panicked"))
    .ok()
}

/// The APIs this broker handles, with the version ranges it handles them at (Kafka 4.1's ranges, plus the
/// older versions Kafka 3.9 served: ListOffsets v0, OffsetCommit v0–v1 and OffsetFetch v0, see
/// `legacy.rs`; CreateTopics v0–v1, DeleteTopics v0 and DescribeConfigs v0, served by their own handlers).
pub const SUPPORTED: &[ApiKey] = &[
    ApiKey::Produce,
    ApiKey::Fetch,
    ApiKey::ListOffsets,
    ApiKey::Metadata,
    ApiKey::ApiVersions,
    ApiKey::CreateTopics,
    ApiKey::DeleteTopics,
    ApiKey::DeleteRecords,
    ApiKey::DescribeConfigs,
    ApiKey::AlterConfigs,
    ApiKey::CreatePartitions,
    ApiKey::IncrementalAlterConfigs,
    ApiKey::DescribeCluster,
    ApiKey::FindCoordinator,
    ApiKey::JoinGroup,
    ApiKey::SyncGroup,
    ApiKey::Heartbeat,
    ApiKey::LeaveGroup,
    ApiKey::OffsetCommit,
    ApiKey::OffsetFetch,
    ApiKey::ListGroups,
    ApiKey::DescribeGroups,
    ApiKey::DeleteGroups,
    ApiKey::OffsetDelete,
    ApiKey::InitProducerId,
    ApiKey::AddPartitionsToTxn,
    ApiKey::AddOffsetsToTxn,
    ApiKey::EndTxn,
    ApiKey::TxnOffsetCommit,
    ApiKey::ListTransactions,
    ApiKey::DescribeTransactions,
    ApiKey::DescribeProducers,
];

/// The versions kafka-protocol can decode for `key`. `ApiKey::valid_versions` names Kafka 4.1's range,
/// but 0.18's OffsetCommit/OffsetFetch messages stop at v9 (v10's topic ids are not generated), so
/// advertising v10 would invite requests that cannot be decoded.
pub(crate) fn version_range(key: ApiKey) -> kafka_protocol::protocol::VersionRange {
    use kafka_protocol::messages::{
        InitProducerIdRequest, OffsetCommitRequest, OffsetFetchRequest,
    };
    use kafka_protocol::protocol::Message;
    match key {
        ApiKey::OffsetCommit => OffsetCommitRequest::VERSIONS,
        ApiKey::OffsetFetch => OffsetFetchRequest::VERSIONS,
        // v6 (KIP-939 two-phase commit) is not generated either.
        ApiKey::InitProducerId => InitProducerIdRequest::VERSIONS,
        // v5 is transactions v2 (KIP-890 part 2), used only when the `transaction.version`
        // feature is finalized; this broker does not advertise it, so clients stay on v4.
        ApiKey::EndTxn => kafka_protocol::protocol::VersionRange { min: 0, max: 4 },
        k => k.valid_versions(),
    }
}

/// The advertised (api key, min, max) list.
pub fn supported_versions() -> Vec<ApiVersion> {
    SUPPORTED
        .iter()
        .map(|k| {
            let r = version_range(*k);
            ApiVersion::default()
                .with_api_key(*k as i16)
                .with_min_version(r.min)
                .with_max_version(r.max)
        })
        .collect()
}

fn is_supported(key: ApiKey, version: i16) -> bool {
    SUPPORTED.contains(&key) && {
        let r = version_range(key);
        version >= r.min && version <= r.max
    }
}

/// Handles one request frame (without its length prefix).
pub async fn handle_frame(
    broker: &Arc<Broker>,
    frame: Bytes,
    peer: SocketAddr,
    listener: &str,
) -> Outcome {
    // connection::read_frame refuses shorter frames; checked again so no caller can make this panic.
    if frame.len() < 8 {
        return Outcome::Close(format!(
            "request of {} bytes has no room for a header",
            frame.len()
        ));
    }
    let mut peek = &frame[..];
    let raw_key = peek.get_i16();
    let version = peek.get_i16();
    let correlation_id = peek.get_i32();

    let key = match ApiKey::try_from(raw_key) {
        Ok(k) if is_supported(k, version) => k,
        Ok(ApiKey::ApiVersions) => {
            tracing::debug!(%peer, version, "unsupported ApiVersions version: answering with v0");
            return Outcome::Respond(unsupported_version_frame(correlation_id));
        }
        // Kafka (SocketServer.parseRequestHeader, 3.9 and 4.x) refuses a request whose API or version it
        // does not serve with InvalidRequestException, which closes the connection; it has no response
        // shape to answer in. (An ApiVersions-shaped body here made sarama fail with "insufficient data
        // to decode packet".)
        _ => {
            return Outcome::Unsupported(format!(
                "request api key {raw_key} with version {version} is not supported"
            ))
        }
    };

    let mut buf = frame;
    let header = match RequestHeader::decode(&mut buf, key.request_header_version(version)) {
        Ok(h) => h,
        Err(e) => {
            return Outcome::Close(format!("malformed {key:?} v{version} request header: {e}"))
        }
    };
    let request = match RequestKind::decode(key, &mut buf, version) {
        Ok(r) => r,
        Err(e) => return Outcome::Close(format!("malformed {key:?} v{version} request body: {e}")),
    };
    let ctx = Ctx {
        broker,
        header,
        version,
        peer,
        listener,
    };
    macro_rules! blocking {
        ($f:expr) => {
            match off_worker(&ctx, $f).await {
                Some(r) => r,
                None => return Outcome::Close(format!("{key:?} handler failed")),
            }
        };
    }
    let response = match request {
        RequestKind::ApiVersions(r) => ResponseKind::ApiVersions(api_versions::handle(&ctx, r)),
        RequestKind::Metadata(r) if metadata::creates_topics(&ctx, &r) => {
            ResponseKind::Metadata(blocking!(move |c| metadata::handle(c, r)))
        }
        RequestKind::Metadata(r) => ResponseKind::Metadata(metadata::handle(&ctx, r)),
        RequestKind::Produce(r) => match produce::handle(&ctx, r).await {
            Some(resp) => ResponseKind::Produce(resp),
            None => return Outcome::NoResponse,
        },
        RequestKind::Fetch(r) => {
            let fetched = fetch::handle(&ctx, r).await;
            crate::metrics::REQUESTS.fetch_errors(&fetched.response);
            let header_version = key.response_header_version(version);
            return match fetch_response::encode(
                correlation_id,
                header_version,
                &fetched.response,
                &fetched.regions,
                version,
            ) {
                Ok(chunks) => Outcome::RespondChunks(chunks),
                Err(e) => {
                    tracing::error!(%peer, error = %e, "could not encode response");
                    Outcome::Close(e.to_string())
                }
            };
        }
        RequestKind::ListOffsets(r) if version == 0 && list_offsets::scans(&r) => {
            ResponseKind::ListOffsets(blocking!(move |c| legacy::list_offsets_v0(c, r)))
        }
        RequestKind::ListOffsets(r) if version == 0 => {
            ResponseKind::ListOffsets(legacy::list_offsets_v0(&ctx, r))
        }
        RequestKind::ListOffsets(r) if list_offsets::scans(&r) => {
            ResponseKind::ListOffsets(blocking!(move |c| list_offsets::handle(c, r)))
        }
        RequestKind::ListOffsets(r) => ResponseKind::ListOffsets(list_offsets::handle(&ctx, r)),
        RequestKind::CreateTopics(r) => {
            ResponseKind::CreateTopics(blocking!(move |c| create_topics::handle(c, r)))
        }
        RequestKind::DeleteTopics(r) => {
            ResponseKind::DeleteTopics(blocking!(move |c| delete_topics::handle(c, r)))
        }
        RequestKind::CreatePartitions(r) => {
            ResponseKind::CreatePartitions(blocking!(move |c| create_partitions::handle(c, r)))
        }
        RequestKind::DeleteRecords(r) => {
            ResponseKind::DeleteRecords(blocking!(move |c| delete_records::handle(c, r)))
        }
        RequestKind::DescribeConfigs(r) => {
            ResponseKind::DescribeConfigs(configs::describe(&ctx, r))
        }
        RequestKind::AlterConfigs(r) => {
            ResponseKind::AlterConfigs(blocking!(move |c| configs::alter(c, r)))
        }
        RequestKind::IncrementalAlterConfigs(r) => ResponseKind::IncrementalAlterConfigs(
            blocking!(move |c| configs::incremental_alter(c, r)),
        ),
        RequestKind::DescribeCluster(r) => {
            ResponseKind::DescribeCluster(describe_cluster::handle(&ctx, r))
        }
        RequestKind::FindCoordinator(r) if find_coordinator::creates_topic(&ctx, &r) => {
            ResponseKind::FindCoordinator(blocking!(move |c| find_coordinator::handle(c, r)))
        }
        RequestKind::FindCoordinator(r) => {
            ResponseKind::FindCoordinator(find_coordinator::handle(&ctx, r))
        }
        RequestKind::JoinGroup(r) => ResponseKind::JoinGroup(join_group::handle(&ctx, r).await),
        RequestKind::SyncGroup(r) => ResponseKind::SyncGroup(sync_group::handle(&ctx, r).await),
        RequestKind::Heartbeat(r) => ResponseKind::Heartbeat(heartbeat::handle(&ctx, r)),
        RequestKind::LeaveGroup(r) => ResponseKind::LeaveGroup(leave_group::handle(&ctx, r)),
        RequestKind::OffsetCommit(r) if version == 0 => {
            ResponseKind::OffsetCommit(legacy::offset_commit_v0(r))
        }
        RequestKind::OffsetCommit(r) => {
            ResponseKind::OffsetCommit(offset_commit::handle(&ctx, r).await)
        }
        RequestKind::OffsetFetch(r) if version == 0 => {
            ResponseKind::OffsetFetch(legacy::offset_fetch_v0(r))
        }
        RequestKind::OffsetFetch(r) => ResponseKind::OffsetFetch(offset_fetch::handle(&ctx, r)),
        RequestKind::ListGroups(r) => ResponseKind::ListGroups(list_groups::handle(&ctx, r)),
        RequestKind::DescribeGroups(r) => {
            ResponseKind::DescribeGroups(describe_groups::handle(&ctx, r))
        }
        RequestKind::DeleteGroups(r) => {
            ResponseKind::DeleteGroups(blocking!(move |c| delete_groups::handle(c, r)))
        }
        RequestKind::OffsetDelete(r) => {
            ResponseKind::OffsetDelete(blocking!(move |c| offset_delete::handle(c, r)))
        }
        RequestKind::InitProducerId(r) => {
            ResponseKind::InitProducerId(blocking!(move |c| init_producer_id::handle(c, r)))
        }
        RequestKind::AddPartitionsToTxn(r) => ResponseKind::AddPartitionsToTxn(blocking!(
            move |c| add_partitions_to_txn::handle(c, r)
        )),
        RequestKind::AddOffsetsToTxn(r) => {
            ResponseKind::AddOffsetsToTxn(blocking!(move |c| add_offsets_to_txn::handle(c, r)))
        }
        RequestKind::EndTxn(r) => ResponseKind::EndTxn(blocking!(move |c| end_txn::handle(c, r))),
        RequestKind::TxnOffsetCommit(r) => {
            ResponseKind::TxnOffsetCommit(blocking!(move |c| txn_offset_commit::handle(c, r)))
        }
        RequestKind::ListTransactions(r) => {
            ResponseKind::ListTransactions(list_transactions::handle(&ctx, r))
        }
        RequestKind::DescribeTransactions(r) => {
            ResponseKind::DescribeTransactions(describe_transactions::handle(&ctx, r))
        }
        RequestKind::DescribeProducers(r) => {
            ResponseKind::DescribeProducers(blocking!(move |c| describe_producers::handle(c, r)))
        }
        _ => return Outcome::Close(format!("{key:?} v{version} has no handler")),
    };
    crate::metrics::REQUESTS.errors_in(key, &response);
    match encode_response(
        correlation_id,
        key.response_header_version(version),
        &response,
        version,
    ) {
        Ok(bytes) => Outcome::Respond(bytes),
        Err(e) => {
            tracing::error!(%peer, api = ?key, version, error = %e, "could not encode response");
            Outcome::Close(format!("could not encode {key:?} v{version} response: {e}"))
        }
    }
}

/// Encodes `length | response header | body`.
fn encode_response(
    correlation_id: i32,
    header_version: i16,
    response: &ResponseKind,
    version: i16,
) -> Result<Bytes, String> {
    let header = ResponseHeader::default().with_correlation_id(correlation_id);
    let mut buf = BytesMut::with_capacity(256);
    buf.put_i32(0);
    header
        .encode(&mut buf, header_version)
        .map_err(|e| e.to_string())?;
    response
        .encode(&mut buf, version)
        .map_err(|e| e.to_string())?;
    let len = (buf.len() - 4) as i32;
    buf[0..4].copy_from_slice(&len.to_be_bytes());
    Ok(buf.freeze())
}

/// The answer to an ApiVersions request at a version this broker does not handle: Kafka's ApiVersions
/// v0 error shape (error code 35 followed by the supported ranges) with a v0 header, which clients read
/// as the version negotiation answer and retry at a version listed there.
pub fn unsupported_version_frame(correlation_id: i32) -> Bytes {
    let body = ApiVersionsResponse::default()
        .with_error_code(code::UNSUPPORTED_VERSION)
        .with_api_keys(supported_versions());
    let header = ResponseHeader::default().with_correlation_id(correlation_id);
    let mut buf = BytesMut::with_capacity(256);
    buf.put_i32(0);
    // v0 encodings of these two plain structs cannot fail.
    let _ = header.encode(&mut buf, 0);
    let _ = body.encode(&mut buf, 0);
    let len = (buf.len() - 4) as i32;
    buf[0..4].copy_from_slice(&len.to_be_bytes());
    buf.freeze()
}

/// Builds a protocol string.
pub fn s(v: impl Into<String>) -> StrBytes {
    StrBytes::from_string(v.into())
}
