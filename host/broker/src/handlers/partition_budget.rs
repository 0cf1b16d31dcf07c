//! How many partitions one CreateTopics or CreatePartitions request may bring into being.
//!
//! Every new partition is a directory, files and fsyncs made while topic changes are serialised, so
//! one request asking for a hundred thousand would hold every other topic change for minutes. Kafka's
//! controller refuses a request whose topics add up to more than 10,000 partitions with
//! POLICY_VIOLATION and this message (`ReplicationControlManager.MAX_PARTITIONS_PER_BATCH`); Weft
//! does the same, and applies the budget to CreatePartitions too.

/// The most partitions one request may create, counted over all its topics.
pub const MAX_PARTITIONS_PER_REQUEST: u64 = 10_000;

/// Kafka's message for a request over the budget, word for word (clients and scripts match on it).
pub const OVER_BUDGET: &str = "Excessively large number of partitions per request.";

/// Whether partitions counts that add up to `total` fit in one request.
pub fn fits(counts: impl IntoIterator<Item = u64>) -> bool {
    let mut total = 0u64;
    for c in counts {
        total = total.saturating_add(c);
        if total > MAX_PARTITIONS_PER_REQUEST {
            return false;
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_budget_is_inclusive_and_saturates() {
        assert!(fits([MAX_PARTITIONS_PER_REQUEST]));
        assert!(fits([5_000, 5_000]));
        assert!(!fits([5_000, 5_001]));
        assert!(!fits([u64::MAX, u64::MAX]));
        assert!(fits(std::iter::empty()));
    }
}
