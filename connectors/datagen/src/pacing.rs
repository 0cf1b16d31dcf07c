//! How many records a task may emit now, for `records.per.second` or Confluent's `max.interval`.
//!
//! The guest never sleeps: each poll asks how many records are due at the current time and
//! emits that many (possibly none); the worker waits between empty polls.

use crate::rng::mix;

/// Seed of the `max.interval` gaps (distinct from the value seeds).
const GAP_SEED: u64 = 0x6a09_e667_f3bc_c908;

/// The pacing rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rate {
    /// As fast as polls go.
    Unlimited,
    /// A steady number of records per second.
    PerSecond(u64),
    /// A random gap of 0 to this many milliseconds before each record (Confluent datagen's
    /// `max.interval`).
    MaxInterval(u64),
}

/// Tracks what was emitted against the clock.
#[derive(Debug, Clone)]
pub struct Pacer {
    rate: Rate,
    seed: u64,
    /// Clock reading (ns) the count below is measured from.
    origin: u64,
    /// Records emitted since `origin`.
    since_origin: u64,
    /// `MaxInterval`: when the next record is due (ns).
    next_due: u64,
    /// `MaxInterval`: index of the next gap.
    gaps: u64,
}

impl Pacer {
    /// Starts pacing at clock reading `now` (ns); `seed` varies the gaps between tasks.
    pub fn new(rate: Rate, seed: u64, now: u64) -> Pacer {
        let mut p = Pacer {
            rate,
            seed,
            origin: now,
            since_origin: 0,
            next_due: now,
            gaps: 0,
        };
        if let Rate::MaxInterval(_) = rate {
            p.next_due = now + p.gap();
        }
        p
    }

    fn gap(&mut self) -> u64 {
        let Rate::MaxInterval(max) = self.rate else {
            return 0;
        };
        self.gaps += 1;
        (mix(self.seed ^ GAP_SEED, self.gaps) % (max + 1)) * 1_000_000
    }

    /// How many records may be emitted at clock reading `now` (ns), at most `max`; the caller
    /// then emits exactly that many.
    pub fn take(&mut self, now: u64, max: u64) -> u64 {
        match self.rate {
            Rate::Unlimited => max,
            Rate::PerSecond(rate) => {
                let elapsed = now.saturating_sub(self.origin) as u128;
                let allowed = (elapsed * rate as u128 / 1_000_000_000) as u64;
                let mut due = allowed.saturating_sub(self.since_origin);
                // After a long pause (the task was paused, the worker was busy) do not burst
                // more than a second's worth: move the origin to a second ago instead.
                if due > rate.max(1) {
                    self.origin = now.saturating_sub(1_000_000_000);
                    self.since_origin = 0;
                    due = rate.max(1);
                }
                let n = due.min(max);
                self.since_origin += n;
                n
            }
            Rate::MaxInterval(_) => {
                let mut n = 0;
                while n < max && self.next_due <= now {
                    n += 1;
                    self.next_due += self.gap();
                }
                // The same burst bound: a long pause does not release a backlog.
                if self.next_due + 1_000_000_000 < now {
                    self.next_due = now;
                }
                n
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: u64 = 1_000_000_000;

    #[test]
    fn unlimited_gives_the_batch() {
        let mut p = Pacer::new(Rate::Unlimited, 0, 0);
        assert_eq!(p.take(0, 4096), 4096);
    }

    #[test]
    fn per_second_spreads_records_over_time() {
        let mut p = Pacer::new(Rate::PerSecond(1000), 0, 5 * S);
        assert_eq!(p.take(5 * S, 100_000), 0);
        assert_eq!(p.take(5 * S + S / 10, 100_000), 100);
        assert_eq!(p.take(5 * S + S / 10, 100_000), 0);
        // A small batch size leaves the rest for later polls.
        assert_eq!(p.take(6 * S, 500), 500);
        assert_eq!(p.take(6 * S, 500), 400);
        let mut total = 1000;
        for i in 1..=10 {
            total += p.take(6 * S + i * S / 10, 100_000);
        }
        assert_eq!(total, 2000);
    }

    #[test]
    fn a_long_pause_does_not_release_a_backlog() {
        let mut p = Pacer::new(Rate::PerSecond(100), 0, 0);
        assert_eq!(p.take(3600 * S, 1_000_000), 100);
        assert_eq!(p.take(3600 * S + S / 2, 1_000_000), 50);
    }

    #[test]
    fn max_interval_gaps_average_half_the_interval() {
        let mut p = Pacer::new(Rate::MaxInterval(100), 9, 0);
        let mut total = 0;
        for ms in 1..=10_000u64 {
            total += p.take(ms * 1_000_000, 1_000_000);
        }
        // Gaps uniform in [0, 100] ms: about 200 records in 10 s.
        assert!((170..=230).contains(&total), "{total}");
        let mut q = Pacer::new(Rate::MaxInterval(0), 9, 0);
        assert_eq!(q.take(0, 50), 50);
    }
}
