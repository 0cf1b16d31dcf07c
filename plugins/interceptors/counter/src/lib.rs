//! `counter`: counts records sent, acknowledged and failed (and consumed and committed), reports
//! them as metrics as they happen, and logs a summary line when the plugin is closed.

use weft_plugin_sdk::*;

#[derive(Default)]
struct Counter {
    sent: u64,
    acked: u64,
    failed: u64,
    consumed: u64,
    commits: u64,
}

impl Plugin for Counter {
    fn metadata() -> Metadata {
        Metadata::new(
            "counter",
            env!("CARGO_PKG_VERSION"),
            PluginKind::Interceptor,
            "Count sends, acks and failures; log them on close",
        )
    }

    fn close(&mut self) {
        log::info(&format!(
            "counter: sent={} acked={} failed={} consumed={} commits={}",
            self.sent, self.acked, self.failed, self.consumed, self.commits
        ));
    }
}

impl Interceptor for Counter {
    fn on_send<'a>(&mut self, record: Record<'a>) -> Result<Option<Record<'a>>> {
        self.sent += 1;
        log::counter_add("sent", 1);
        Ok(Some(record))
    }

    fn on_acknowledgement(&mut self, _record: &Record<'_>, error: Option<&str>) {
        if error.is_some() {
            self.failed += 1;
            log::counter_add("failed", 1);
        } else {
            self.acked += 1;
            log::counter_add("acked", 1);
        }
    }

    fn on_consume<'a>(&mut self, record: Record<'a>) -> Result<Option<Record<'a>>> {
        self.consumed += 1;
        log::counter_add("consumed", 1);
        Ok(Some(record))
    }

    fn on_commit(&mut self, _offsets: &[TopicPartitionOffset]) {
        self.commits += 1;
        log::counter_add("commits", 1);
    }
}

export_interceptor!(Counter);
