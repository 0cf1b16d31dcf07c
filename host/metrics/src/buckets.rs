//! A latency histogram kept as plain data (bucket counts and a sum), for figures a worker
//! publishes as a value (a Connect task's offset commits) and a collector turns into a
//! histogram sample only when Prometheus scrapes.

use std::time::Duration;

/// Upper bounds in seconds: 100 µs to 30 s (an offset commit is a file write or a round trip
/// to the group coordinator; the sink's waits up to 30 s).
pub const LATENCY_BOUNDS: [f64; 15] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0,
    30.0,
];

/// Observations per bucket of [`LATENCY_BOUNDS`] (the last slot is past every bound) and their
/// sum.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct LatencyBuckets {
    counts: [u64; LATENCY_BOUNDS.len() + 1],
    sum_seconds: f64,
}

impl LatencyBuckets {
    /// Counts one observation of `took`.
    pub fn observe(&mut self, took: Duration) {
        let s = took.as_secs_f64();
        let i = LATENCY_BOUNDS
            .iter()
            .position(|b| s <= *b)
            .unwrap_or(LATENCY_BOUNDS.len());
        self.counts[i] += 1;
        self.sum_seconds += s;
    }

    /// Observations so far.
    pub fn count(&self) -> u64 {
        self.counts.iter().sum()
    }

    /// Their sum in seconds.
    pub fn sum_seconds(&self) -> f64 {
        self.sum_seconds
    }

    /// `(upper bound, observations at or below it)` for every finite bound, as the text
    /// format's `le` buckets count.
    pub fn cumulative(&self) -> impl Iterator<Item = (f64, u64)> + '_ {
        LATENCY_BOUNDS
            .iter()
            .zip(self.counts.iter().scan(0u64, |acc, c| {
                *acc += c;
                Some(*acc)
            }))
            .map(|(b, c)| (*b, c))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn observations_land_in_the_first_bucket_that_holds_them() {
        let mut b = LatencyBuckets::default();
        b.observe(Duration::from_micros(100));
        b.observe(Duration::from_millis(3));
        b.observe(Duration::from_secs(60));
        assert_eq!(b.count(), 3);
        let c: Vec<(f64, u64)> = b.cumulative().collect();
        assert_eq!(c[0], (0.0001, 1));
        assert_eq!(c[4], (0.0025, 1));
        assert_eq!(c[5], (0.005, 2));
        // Past the last bound: only in +Inf, which is the count.
        assert_eq!(c.last(), Some(&(30.0, 2)));
        assert!((b.sum_seconds() - 60.0031).abs() < 1e-9);
    }
}
