//! The flush policy (flush.messages / flush.ms): decides when unflushed appends must be fsynced.

use crate::config::LogConfig;

/// Tracks data appended since the last fsync. The timer starts at the first unflushed append, which is
/// what "flush.ms since the last flush" means for data that is actually at risk.
#[derive(Debug, Default)]
pub(crate) struct FlushTracker {
    unflushed_messages: u64,
    first_unflushed_ms: Option<i64>,
}

impl FlushTracker {
    pub(crate) fn on_append(&mut self, records: u64, now_ms: i64) {
        if self.unflushed_messages == 0 {
            self.first_unflushed_ms = Some(now_ms);
        }
        self.unflushed_messages = self.unflushed_messages.saturating_add(records);
    }

    pub(crate) fn has_unflushed(&self) -> bool {
        self.unflushed_messages > 0
    }

    /// flush.messages reached.
    pub(crate) fn messages_due(&self, config: &LogConfig) -> bool {
        self.has_unflushed() && self.unflushed_messages >= config.flush_messages
    }

    /// flush.ms elapsed since the oldest unflushed append.
    pub(crate) fn time_due(&self, config: &LogConfig, now_ms: i64) -> bool {
        if config.flush_ms == i64::MAX {
            return false;
        }
        match self.first_unflushed_ms {
            Some(first) if self.has_unflushed() => now_ms.saturating_sub(first) >= config.flush_ms,
            _ => false,
        }
    }

    pub(crate) fn flushed(&mut self) {
        self.unflushed_messages = 0;
        self.first_unflushed_ms = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_never_force_a_flush() {
        let c = LogConfig::default();
        let mut t = FlushTracker::default();
        t.on_append(1_000_000, 0);
        assert!(!t.messages_due(&c));
        assert!(!t.time_due(&c, i64::MAX));
    }

    #[test]
    fn messages_and_time_thresholds() {
        let c = LogConfig {
            flush_messages: 10,
            flush_ms: 100,
            ..LogConfig::default()
        };
        let mut t = FlushTracker::default();
        assert!(!t.time_due(&c, 1_000));
        t.on_append(4, 1_000);
        assert!(!t.messages_due(&c));
        t.on_append(6, 1_050);
        assert!(t.messages_due(&c));
        assert!(!t.time_due(&c, 1_099));
        assert!(t.time_due(&c, 1_100));
        t.flushed();
        assert!(!t.messages_due(&c) && !t.time_due(&c, 5_000));
    }
}
