//! ListTransactions (what `kafka-transactions.sh list` sends): every transactional id with its
//! producer id and state, filtered by state names, producer ids, v1's minimum duration and v2's
//! transactional id pattern (a regular expression).

use kafka_protocol::messages::list_transactions_response::TransactionState as Listed;
use kafka_protocol::messages::{
    ListTransactionsRequest, ListTransactionsResponse, ProducerId, TransactionalId,
};

use super::{s, Ctx};
use crate::error::code;
use crate::txn::TxnState;

pub fn handle(ctx: &Ctx<'_>, req: ListTransactionsRequest) -> ListTransactionsResponse {
    let mut unknown = Vec::new();
    let mut states = Vec::new();
    for name in &req.state_filters {
        match TxnState::from_name(name.as_str()) {
            Some(st) => states.push(st),
            None => unknown.push(name.clone()),
        }
    }
    let pattern = match req
        .transactional_id_pattern
        .as_ref()
        .filter(|p| !p.is_empty())
    {
        None => None,
        Some(p) => match regex::Regex::new(&format!("^(?:{})$", p.as_str())) {
            Ok(r) => Some(r),
            Err(e) => {
                tracing::debug!(pattern = %p.as_str(), error = %e, "ListTransactions with an invalid pattern");
                return ListTransactionsResponse::default().with_error_code(code::INVALID_REQUEST);
            }
        },
    };
    let now = crate::maintenance::now_ms();
    let listed = ctx
        .broker
        .transactions
        .list()
        .into_iter()
        // As Kafka: state filters that name no known state match nothing.
        .filter(|t| req.state_filters.is_empty() || states.contains(&t.state))
        .filter(|t| {
            req.producer_id_filters.is_empty()
                || req.producer_id_filters.contains(&ProducerId(t.producer_id))
        })
        // Kafka's test, start time -1 included: running for longer than the filter.
        .filter(|t| req.duration_filter < 0 || now.saturating_sub(t.start_ms) > req.duration_filter)
        .filter(|t| {
            pattern
                .as_ref()
                .is_none_or(|r| r.is_match(&t.transactional_id))
        })
        .map(|t| {
            Listed::default()
                .with_transactional_id(TransactionalId(s(t.transactional_id)))
                .with_producer_id(ProducerId(t.producer_id))
                .with_transaction_state(s(t.state.name()))
        })
        .collect();
    ListTransactionsResponse::default()
        .with_unknown_state_filters(unknown)
        .with_transaction_states(listed)
}
