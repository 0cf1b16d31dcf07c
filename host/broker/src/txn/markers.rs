//! The markers of one ended transaction: a COMMIT or ABORT control batch written to every partition
//! of the transaction through `Partition::write_txn_marker_blocking` (the log side owns the batch
//! format, the LSO and the aborted-transaction index). For a `__consumer_offsets` partition (added
//! by AddOffsetsToTxn) the group coordinator then makes the producer's pending offsets visible, or
//! drops them.

use weft_log::TxnMarker;

use super::state::TxnMetadata;
use super::TxnState;
use crate::partition::PartitionError;
use crate::server::Broker;

/// The coordinator epoch written into markers: this single node has coordinated every
/// `__transaction_state` partition since it was created.
pub const COORDINATOR_EPOCH: i32 = 0;

/// Writes the marker of `prepared` (PrepareCommit or PrepareAbort) to each of its partitions, in
/// order. A partition whose topic was deleted is skipped, as Kafka drops markers for partitions that
/// no longer exist; any other failure stops here (the caller retries the whole set later; a marker
/// written twice is harmless: the second finds no open transaction of the producer).
pub fn write_all(broker: &Broker, prepared: &TxnMetadata) -> Result<(), String> {
    let commit = prepared.state == TxnState::PrepareCommit;
    let marker = TxnMarker {
        producer_id: prepared.producer_id,
        producer_epoch: prepared.producer_epoch,
        coordinator_epoch: COORDINATOR_EPOCH,
        commit,
    };
    for (topic, index) in &prepared.partitions {
        let Some(partition) = broker
            .topics
            .get(topic)
            .and_then(|t| t.partition(*index).cloned())
        else {
            tracing::info!(%topic, partition = index, "no transaction marker for a deleted partition");
            continue;
        };
        match partition.write_txn_marker_blocking(marker) {
            Ok(_) | Err(PartitionError::Deleted) => {}
            Err(e) => return Err(format!("{topic}-{index}: {e}")),
        }
        if topic == crate::groups::OFFSETS_TOPIC {
            broker
                .groups
                .complete_txn(prepared.producer_id, *index, commit);
        }
    }
    Ok(())
}
