//! DescribeTransactions (what `kafka-transactions.sh describe` sends): a transactional id's state,
//! producer id and epoch, timeout, start time and partitions.

use kafka_protocol::messages::describe_transactions_response::{TopicData, TransactionState};
use kafka_protocol::messages::{
    DescribeTransactionsRequest, DescribeTransactionsResponse, ProducerId, TopicName,
};

use super::{s, Ctx};
use crate::error::code;
use crate::txn::state::codes::TRANSACTIONAL_ID_NOT_FOUND;

pub fn handle(ctx: &Ctx<'_>, req: DescribeTransactionsRequest) -> DescribeTransactionsResponse {
    let states = req
        .transactional_ids
        .into_iter()
        .map(|id| {
            let base = TransactionState::default().with_transactional_id(id.clone());
            if id.is_empty() {
                return base.with_error_code(code::INVALID_REQUEST);
            }
            let Some(m) = ctx.broker.transactions.describe(id.as_str()) else {
                return base.with_error_code(TRANSACTIONAL_ID_NOT_FOUND);
            };
            let mut topics: Vec<TopicData> = Vec::new();
            for (t, p) in &m.partitions {
                match topics.last_mut() {
                    Some(last) if last.topic.as_str() == t => last.partitions.push(*p),
                    _ => topics.push(
                        TopicData::default()
                            .with_topic(TopicName(s(t.clone())))
                            .with_partitions(vec![*p]),
                    ),
                }
            }
            base.with_transaction_state(s(m.state.name()))
                .with_transaction_timeout_ms(m.timeout_ms)
                .with_transaction_start_time_ms(m.start_ms)
                .with_producer_id(ProducerId(m.producer_id))
                .with_producer_epoch(m.producer_epoch)
                .with_topics(topics)
        })
        .collect();
    DescribeTransactionsResponse::default().with_transaction_states(states)
}
