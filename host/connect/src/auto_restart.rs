//! Automatic restart of FAILED connectors and tasks, a Weft extension a connector opts into
//! (`weft.restart.failed.enabled=true`): Kafka Connect leaves a failed task FAILED until someone
//! calls the restart endpoint, which is still the default here. When enabled, the worker's
//! supervisor restarts what failed after a delay that doubles with each failure, from
//! `weft.restart.failed.backoff.initial.ms` up to `weft.restart.failed.backoff.max.ms`; once the
//! restarted unit has run that long without failing, the delay starts from the beginning again.

use std::time::{Duration, Instant};

/// A connector's automatic restart settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RestartPolicy {
    pub enabled: bool,
    pub initial: Duration,
    pub max: Duration,
}

impl Default for RestartPolicy {
    fn default() -> Self {
        RestartPolicy {
            enabled: false,
            initial: Duration::from_secs(1),
            max: Duration::from_secs(300),
        }
    }
}

/// One restartable unit's (the connector's, or one task's) history of failures.
#[derive(Debug, Clone)]
pub struct Backoff {
    /// The wait before the next restart.
    delay: Duration,
    /// When the unit was first seen FAILED since its last restart; `None` while it runs.
    failed_at: Option<Instant>,
    /// When it was last restarted automatically.
    restarted_at: Option<Instant>,
    /// Automatic restarts since the delay last started over.
    attempts: u64,
}

/// What to do about a unit this round.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Nothing (running, or failed and still waiting).
    Wait,
    /// Restart it now; `attempt` counts from 1 since the delay last started over, `next` is the
    /// wait before the one after, should it fail again.
    Restart { attempt: u64, next: Duration },
    /// It ran long enough since its last restart: forget its history.
    Forget,
}

impl Backoff {
    pub fn new(policy: &RestartPolicy) -> Backoff {
        Backoff {
            delay: policy.initial,
            failed_at: None,
            restarted_at: None,
            attempts: 0,
        }
    }

    /// Looks at the unit once: `failed` is whether it is FAILED now.
    pub fn observe(&mut self, policy: &RestartPolicy, failed: bool, now: Instant) -> Decision {
        if !failed {
            self.failed_at = None;
            return match self.restarted_at {
                Some(at) if now.duration_since(at) >= policy.max => Decision::Forget,
                _ => Decision::Wait,
            };
        }
        let since = *self.failed_at.get_or_insert(now);
        if now.duration_since(since) < self.delay {
            return Decision::Wait;
        }
        self.attempts += 1;
        self.failed_at = None;
        self.restarted_at = Some(now);
        self.delay = (self.delay * 2).min(policy.max);
        Decision::Restart {
            attempt: self.attempts,
            next: self.delay,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> RestartPolicy {
        RestartPolicy {
            enabled: true,
            initial: Duration::from_secs(1),
            max: Duration::from_secs(8),
        }
    }

    #[test]
    fn the_delay_doubles_up_to_the_max_and_starts_over_after_a_healthy_run() {
        let p = policy();
        let t0 = Instant::now();
        let s = Duration::from_secs;
        let mut b = Backoff::new(&p);
        // Fails: waits the initial delay from when the failure was first seen.
        assert_eq!(b.observe(&p, true, t0), Decision::Wait);
        assert_eq!(
            b.observe(&p, true, t0 + s(1)),
            Decision::Restart {
                attempt: 1,
                next: s(2)
            }
        );
        // Runs briefly, fails again: now waits 2 s, then 4, then 8, and stays at 8.
        assert_eq!(b.observe(&p, false, t0 + s(2)), Decision::Wait);
        assert_eq!(b.observe(&p, true, t0 + s(3)), Decision::Wait);
        assert_eq!(b.observe(&p, true, t0 + s(4)), Decision::Wait);
        assert!(matches!(
            b.observe(&p, true, t0 + s(5)),
            Decision::Restart { attempt: 2, .. }
        ));
        let mut now = t0 + s(5);
        for attempt in 3..6 {
            b.observe(&p, true, now);
            now += s(8);
            assert!(matches!(
                b.observe(&p, true, now),
                Decision::Restart { attempt: a, next } if a == attempt && next == s(8)
            ));
        }
        // Healthy for the max delay after its last restart: the history is forgotten.
        assert_eq!(b.observe(&p, false, now + s(7)), Decision::Wait);
        assert_eq!(b.observe(&p, false, now + s(8)), Decision::Forget);
    }
}
