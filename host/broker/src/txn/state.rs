//! One transactional id's metadata and its state machine, as Kafka's `TransactionMetadata`: pure
//! functions that compute the next metadata (to be written to `__transaction_state` before it is
//! applied) or the Kafka error code that refuses the request.

use std::collections::BTreeSet;

use crate::error::code;

/// Kafka's error codes for the coordinator, besides those in [`crate::error::code`].
pub mod codes {
    pub const INVALID_TXN_STATE: i16 = 48;
    pub const INVALID_PRODUCER_ID_MAPPING: i16 = 49;
    pub const INVALID_TRANSACTION_TIMEOUT: i16 = 50;
    pub const CONCURRENT_TRANSACTIONS: i16 = 51;
    pub const TRANSACTIONAL_ID_NOT_FOUND: i16 = 105;
    pub const PRODUCER_FENCED: i16 = 90;
    pub const UNSTABLE_OFFSET_COMMIT: i16 = 88;
    pub const TRANSACTION_ABORTABLE: i16 = 120;
}
use codes::*;

pub const NO_PRODUCER_ID: i64 = -1;
pub const NO_PRODUCER_EPOCH: i16 = -1;

/// Kafka's `TransactionState`, with the ids it stores in `TransactionLogValue.TransactionStatus`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TxnState {
    Empty,
    Ongoing,
    PrepareCommit,
    PrepareAbort,
    CompleteCommit,
    CompleteAbort,
    Dead,
    PrepareEpochFence,
}

impl TxnState {
    pub const ALL: [TxnState; 8] = [
        TxnState::Empty,
        TxnState::Ongoing,
        TxnState::PrepareCommit,
        TxnState::PrepareAbort,
        TxnState::CompleteCommit,
        TxnState::CompleteAbort,
        TxnState::Dead,
        TxnState::PrepareEpochFence,
    ];

    pub fn id(self) -> i8 {
        match self {
            TxnState::Empty => 0,
            TxnState::Ongoing => 1,
            TxnState::PrepareCommit => 2,
            TxnState::PrepareAbort => 3,
            TxnState::CompleteCommit => 4,
            TxnState::CompleteAbort => 5,
            TxnState::Dead => 6,
            TxnState::PrepareEpochFence => 7,
        }
    }

    pub fn from_id(id: i8) -> Option<TxnState> {
        TxnState::ALL.into_iter().find(|s| s.id() == id)
    }

    /// The name ListTransactions/DescribeTransactions report (Kafka's `TransactionState.name`).
    pub fn name(self) -> &'static str {
        match self {
            TxnState::Empty => "Empty",
            TxnState::Ongoing => "Ongoing",
            TxnState::PrepareCommit => "PrepareCommit",
            TxnState::PrepareAbort => "PrepareAbort",
            TxnState::CompleteCommit => "CompleteCommit",
            TxnState::CompleteAbort => "CompleteAbort",
            TxnState::Dead => "Dead",
            TxnState::PrepareEpochFence => "PrepareEpochFence",
        }
    }

    pub fn from_name(name: &str) -> Option<TxnState> {
        TxnState::ALL.into_iter().find(|s| s.name() == name)
    }

    /// Kafka's `validPreviousStates`.
    fn may_follow(self, prev: TxnState) -> bool {
        use TxnState::*;
        match self {
            Empty => matches!(prev, Empty | CompleteCommit | CompleteAbort),
            Ongoing => matches!(prev, Ongoing | Empty | CompleteCommit | CompleteAbort),
            PrepareCommit => prev == Ongoing,
            PrepareAbort => matches!(prev, Ongoing | PrepareEpochFence),
            CompleteCommit => prev == PrepareCommit,
            CompleteAbort => prev == PrepareAbort,
            Dead => matches!(prev, Empty | CompleteAbort | CompleteCommit),
            PrepareEpochFence => prev == Ongoing,
        }
    }

    pub fn is_prepare(self) -> bool {
        matches!(self, TxnState::PrepareCommit | TxnState::PrepareAbort)
    }
}

/// A transactional id's state, as stored in `__transaction_state` (plus what Kafka keeps in memory
/// only: the previous producer id and last epoch, which recognise a retried InitProducerId).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxnMetadata {
    pub transactional_id: String,
    pub producer_id: i64,
    pub previous_producer_id: i64,
    pub producer_epoch: i16,
    pub last_producer_epoch: i16,
    pub timeout_ms: i32,
    pub state: TxnState,
    pub partitions: BTreeSet<(String, i32)>,
    /// When the ongoing transaction started (-1 when none).
    pub start_ms: i64,
    pub last_update_ms: i64,
}

/// Kafka's `isEpochExhausted`: the last two epochs are kept for the fence and the bump after it.
pub fn epoch_exhausted(epoch: i16) -> bool {
    epoch >= i16::MAX - 1
}

impl TxnMetadata {
    /// A new transactional id's metadata, before its first epoch (Kafka creates it with epoch -1).
    pub fn new(transactional_id: &str, producer_id: i64, timeout_ms: i32, now_ms: i64) -> Self {
        TxnMetadata {
            transactional_id: transactional_id.to_string(),
            producer_id,
            previous_producer_id: NO_PRODUCER_ID,
            producer_epoch: NO_PRODUCER_EPOCH,
            last_producer_epoch: NO_PRODUCER_EPOCH,
            timeout_ms,
            state: TxnState::Empty,
            partitions: BTreeSet::new(),
            start_ms: -1,
            last_update_ms: now_ms,
        }
    }

    fn to(&self, state: TxnState, now_ms: i64) -> Result<TxnMetadata, i16> {
        if !state.may_follow(self.state) {
            return Err(INVALID_TXN_STATE);
        }
        let mut next = self.clone();
        next.state = state;
        next.last_update_ms = now_ms;
        Ok(next)
    }

    /// InitProducerId on an Empty or completed transaction: the next epoch (KIP-360 rules for
    /// `expected`, the producer id and epoch the client sent), or a new producer id at epoch 0 when
    /// the epochs are exhausted (`new_id` allocates it). Ongoing and Prepare* states are handled by
    /// the coordinator (fence first, or CONCURRENT_TRANSACTIONS).
    pub fn prepare_init(
        &self,
        timeout_ms: i32,
        expected: Option<(i64, i16)>,
        now_ms: i64,
        new_id: impl FnOnce() -> Result<i64, i16>,
    ) -> Result<TxnMetadata, i16> {
        if let Some((pid, epoch)) = expected {
            let valid = self.producer_epoch == NO_PRODUCER_EPOCH
                || pid == self.producer_id
                || (pid == self.previous_producer_id && epoch_exhausted(epoch));
            if !valid {
                return Err(PRODUCER_FENCED);
            }
        }
        let mut next = self.to(TxnState::Empty, now_ms)?;
        next.timeout_ms = timeout_ms;
        next.partitions.clear();
        next.start_ms = -1;
        if epoch_exhausted(self.producer_epoch)
            && expected.is_none_or(|(_, e)| e == self.producer_epoch)
        {
            next.previous_producer_id = self.producer_id;
            next.producer_id = new_id()?;
            next.producer_epoch = 0;
            // Kafka's `recordLastEpoch`: a client-driven rotation remembers the old epoch, so a
            // retry whose answer was lost is recognised.
            next.last_producer_epoch = if expected.is_some() {
                self.producer_epoch
            } else {
                NO_PRODUCER_EPOCH
            };
            return Ok(next);
        }
        let bump = |e: i16| if e == NO_PRODUCER_EPOCH { 0 } else { e + 1 };
        match expected.map(|(_, e)| e) {
            None => {
                next.producer_epoch = bump(self.producer_epoch);
                next.last_producer_epoch = self.producer_epoch;
            }
            Some(e) if e == NO_PRODUCER_EPOCH || e == self.producer_epoch => {
                next.producer_epoch = bump(self.producer_epoch);
                next.last_producer_epoch = self.producer_epoch;
            }
            // A retry of a bump whose answer was lost: the same epoch again.
            Some(e) if e == self.last_producer_epoch => {}
            Some(_) => return Err(PRODUCER_FENCED),
        }
        Ok(next)
    }

    /// The fence of an ongoing transaction (a new producer with the same id, or its timeout): the
    /// epoch is bumped (unless exhausted) so the old producer is refused, and the transaction goes
    /// to PrepareAbort. Kafka passes through PrepareEpochFence in memory only; so does this.
    pub fn prepare_fence_abort(&self, now_ms: i64) -> Result<TxnMetadata, i16> {
        let fenced = self.to(TxnState::PrepareEpochFence, now_ms)?;
        let mut next = fenced.to(TxnState::PrepareAbort, now_ms)?;
        if !epoch_exhausted(self.producer_epoch) {
            next.producer_epoch = self.producer_epoch + 1;
        }
        next.last_producer_epoch = NO_PRODUCER_EPOCH;
        Ok(next)
    }

    /// Checks a request's producer id and epoch against this metadata.
    pub fn check_producer(&self, producer_id: i64, epoch: i16) -> Result<(), i16> {
        if producer_id != self.producer_id {
            Err(INVALID_PRODUCER_ID_MAPPING)
        } else if epoch != self.producer_epoch {
            Err(PRODUCER_FENCED)
        } else {
            Ok(())
        }
    }

    /// AddPartitionsToTxn / AddOffsetsToTxn: `Ok(None)` when nothing changes (all already added).
    pub fn prepare_add_partitions(
        &self,
        producer_id: i64,
        epoch: i16,
        partitions: &[(String, i32)],
        now_ms: i64,
    ) -> Result<Option<TxnMetadata>, i16> {
        self.check_producer(producer_id, epoch)?;
        if self.state.is_prepare() {
            return Err(CONCURRENT_TRANSACTIONS);
        }
        if self.state == TxnState::Ongoing && partitions.iter().all(|p| self.partitions.contains(p))
        {
            return Ok(None);
        }
        let mut next = self.to(TxnState::Ongoing, now_ms)?;
        if self.state != TxnState::Ongoing {
            next.start_ms = now_ms;
            next.partitions.clear();
        }
        next.partitions.extend(partitions.iter().cloned());
        Ok(Some(next))
    }

    /// EndTxn from the client: `Ok(None)` means "already done, answer NONE" (a retried EndTxn).
    pub fn prepare_end(
        &self,
        producer_id: i64,
        epoch: i16,
        commit: bool,
        now_ms: i64,
    ) -> Result<Option<TxnMetadata>, i16> {
        if producer_id != self.producer_id {
            return Err(INVALID_PRODUCER_ID_MAPPING);
        }
        if epoch != self.producer_epoch {
            return Err(PRODUCER_FENCED);
        }
        use TxnState::*;
        match (self.state, commit) {
            (Ongoing, true) => self.to(PrepareCommit, now_ms).map(Some),
            (Ongoing, false) => self.to(PrepareAbort, now_ms).map(Some),
            (CompleteCommit, true) | (CompleteAbort, false) => Ok(None),
            (PrepareCommit, true) | (PrepareAbort, false) => Err(CONCURRENT_TRANSACTIONS),
            _ => Err(INVALID_TXN_STATE),
        }
    }

    /// PrepareCommit/PrepareAbort → CompleteCommit/CompleteAbort once every marker is written.
    pub fn prepare_complete(&self, now_ms: i64) -> Result<TxnMetadata, i16> {
        let state = match self.state {
            TxnState::PrepareCommit => TxnState::CompleteCommit,
            TxnState::PrepareAbort => TxnState::CompleteAbort,
            _ => return Err(INVALID_TXN_STATE),
        };
        let mut next = self.to(state, now_ms)?;
        next.partitions.clear();
        Ok(next)
    }

    /// `transactional.id.expiration.ms`: an idle id in a finished state may be removed.
    pub fn expirable(&self, now_ms: i64, expiration_ms: i64) -> bool {
        matches!(
            self.state,
            TxnState::Empty | TxnState::CompleteCommit | TxnState::CompleteAbort
        ) && now_ms.saturating_sub(self.last_update_ms) >= expiration_ms
    }

    /// Kafka's `abortTimedOutTransactions` picks Ongoing transactions older than their timeout.
    pub fn timed_out(&self, now_ms: i64) -> bool {
        self.state == TxnState::Ongoing
            && now_ms.saturating_sub(self.start_ms) > i64::from(self.timeout_ms)
    }
}

/// Older request versions know INVALID_PRODUCER_EPOCH, not PRODUCER_FENCED (Kafka's KafkaApis
/// downgrade: InitProducerId < v4, AddPartitionsToTxn/AddOffsetsToTxn/EndTxn < v2, TxnOffsetCommit < v3).
pub fn fenced_for_version(error: i16, version: i16, first_fenced_version: i16) -> i16 {
    if error == PRODUCER_FENCED && version < first_fenced_version {
        code::INVALID_PRODUCER_EPOCH
    } else {
        error
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fresh() -> TxnMetadata {
        TxnMetadata::new("t", 10, 60_000, 0)
    }

    fn no_id() -> Result<i64, i16> {
        panic!("no new producer id expected")
    }

    #[test]
    fn first_init_gives_epoch_zero_and_reinit_bumps() {
        let m = fresh().prepare_init(1000, None, 5, no_id).unwrap();
        assert_eq!(
            (m.producer_id, m.producer_epoch, m.state),
            (10, 0, TxnState::Empty)
        );
        assert_eq!(m.timeout_ms, 1000);
        let m2 = m.prepare_init(1000, None, 6, no_id).unwrap();
        assert_eq!(m2.producer_epoch, 1);
        // KIP-360: the client names its id and epoch; a retry of that bump gets the same epoch.
        let m3 = m2.prepare_init(1000, Some((10, 1)), 7, no_id).unwrap();
        assert_eq!(m3.producer_epoch, 2);
        assert_eq!(
            m3.prepare_init(1000, Some((10, 1)), 8, no_id)
                .unwrap()
                .producer_epoch,
            2
        );
        assert_eq!(
            m3.prepare_init(1000, Some((99, 2)), 8, no_id),
            Err(PRODUCER_FENCED)
        );
        assert_eq!(
            m3.prepare_init(1000, Some((10, 0)), 8, no_id),
            Err(PRODUCER_FENCED)
        );
    }

    #[test]
    fn exhausted_epoch_rotates_the_producer_id() {
        let mut m = fresh();
        m.producer_epoch = i16::MAX - 1;
        let n = m.prepare_init(1000, None, 1, || Ok(11)).unwrap();
        assert_eq!(
            (n.producer_id, n.producer_epoch, n.previous_producer_id),
            (11, 0, 10)
        );
        // KIP-360: the producer asks with its exhausted epoch; a retry of that request (its answer
        // lost) is recognised by the previous id and gets the same id and epoch again.
        let asked = Some((10, i16::MAX - 1));
        let n = m.prepare_init(1000, asked, 1, || Ok(12)).unwrap();
        assert_eq!((n.producer_id, n.producer_epoch), (12, 0));
        let again = n.prepare_init(1000, asked, 2, no_id).unwrap();
        assert_eq!((again.producer_id, again.producer_epoch), (12, 0));
    }

    #[test]
    fn a_transaction_runs_through_its_states() {
        let m = fresh().prepare_init(1000, None, 0, no_id).unwrap();
        let parts = [("a".to_string(), 0), ("a".to_string(), 1)];
        let on = m
            .prepare_add_partitions(10, 0, &parts, 100)
            .unwrap()
            .unwrap();
        assert_eq!(
            (on.state, on.start_ms, on.partitions.len()),
            (TxnState::Ongoing, 100, 2)
        );
        assert_eq!(on.prepare_add_partitions(10, 0, &parts[..1], 101), Ok(None));
        assert_eq!(
            on.prepare_add_partitions(10, 1, &parts, 101),
            Err(PRODUCER_FENCED)
        );
        assert_eq!(
            on.prepare_add_partitions(11, 0, &parts, 101),
            Err(INVALID_PRODUCER_ID_MAPPING)
        );
        let pc = on.prepare_end(10, 0, true, 200).unwrap().unwrap();
        assert_eq!(pc.state, TxnState::PrepareCommit);
        assert_eq!(
            pc.prepare_end(10, 0, true, 201),
            Err(CONCURRENT_TRANSACTIONS)
        );
        assert_eq!(pc.prepare_end(10, 0, false, 201), Err(INVALID_TXN_STATE));
        assert_eq!(
            pc.prepare_add_partitions(10, 0, &parts, 201),
            Err(CONCURRENT_TRANSACTIONS)
        );
        let cc = pc.prepare_complete(300).unwrap();
        assert_eq!(cc.state, TxnState::CompleteCommit);
        assert!(cc.partitions.is_empty());
        assert_eq!(
            cc.prepare_end(10, 0, true, 301),
            Ok(None),
            "a retried commit"
        );
        assert_eq!(cc.prepare_end(10, 0, false, 301), Err(INVALID_TXN_STATE));
        // The next transaction starts afresh from CompleteCommit.
        let next = cc
            .prepare_add_partitions(10, 0, &parts[1..], 400)
            .unwrap()
            .unwrap();
        assert_eq!((next.start_ms, next.partitions.len()), (400, 1));
        assert_eq!(
            m.prepare_end(10, 0, true, 1),
            Err(INVALID_TXN_STATE),
            "nothing to end"
        );
    }

    #[test]
    fn fencing_bumps_the_epoch_and_aborts() {
        let m = fresh().prepare_init(1000, None, 0, no_id).unwrap();
        let on = m
            .prepare_add_partitions(10, 0, &[("a".into(), 0)], 1)
            .unwrap()
            .unwrap();
        let f = on.prepare_fence_abort(2).unwrap();
        assert_eq!((f.state, f.producer_epoch), (TxnState::PrepareAbort, 1));
        assert_eq!(f.partitions, on.partitions, "markers go to every partition");
        assert_eq!(f.prepare_end(10, 0, false, 3), Err(PRODUCER_FENCED));
        let done = f.prepare_complete(3).unwrap();
        assert_eq!(done.state, TxnState::CompleteAbort);
        assert_eq!(
            m.prepare_fence_abort(2),
            Err(INVALID_TXN_STATE),
            "only Ongoing is fenced"
        );
        assert!(on.timed_out(1 + 1001) && !on.timed_out(1 + 1000));
    }

    #[test]
    fn states_ids_and_names_match_kafka() {
        for (s, id, name) in [
            (TxnState::Empty, 0, "Empty"),
            (TxnState::Ongoing, 1, "Ongoing"),
            (TxnState::PrepareCommit, 2, "PrepareCommit"),
            (TxnState::PrepareAbort, 3, "PrepareAbort"),
            (TxnState::CompleteCommit, 4, "CompleteCommit"),
            (TxnState::CompleteAbort, 5, "CompleteAbort"),
            (TxnState::Dead, 6, "Dead"),
            (TxnState::PrepareEpochFence, 7, "PrepareEpochFence"),
        ] {
            assert_eq!((s.id(), s.name()), (id, name));
            assert_eq!(TxnState::from_id(id), Some(s));
            assert_eq!(TxnState::from_name(name), Some(s));
        }
        assert_eq!(TxnState::from_id(8), None);
        assert_eq!(
            fenced_for_version(PRODUCER_FENCED, 1, 2),
            code::INVALID_PRODUCER_EPOCH
        );
        assert_eq!(fenced_for_version(PRODUCER_FENCED, 2, 2), PRODUCER_FENCED);
    }

    #[test]
    fn expiry_only_takes_idle_finished_ids() {
        let m = fresh().prepare_init(1000, None, 0, no_id).unwrap();
        assert!(m.expirable(100, 100) && !m.expirable(99, 100));
        let on = m
            .prepare_add_partitions(10, 0, &[("a".into(), 0)], 0)
            .unwrap()
            .unwrap();
        assert!(!on.expirable(1_000_000, 100));
    }
}
