//! Background log maintenance: retention, compaction and time-based flushes, each on its own interval.
//!
//! Passes run on tokio's blocking threads, never on an async worker, one partition at a time, through
//! the named [`Partition`](crate::partition::Partition) methods. A pass holds only the partition it
//! works on: produce to other partitions goes on through the log executor's other threads, and
//! heartbeats, metadata and fetches of other partitions never wait for it.

use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinHandle;

use crate::partition::PartitionError;
use crate::server::Broker;

/// Milliseconds since the Unix epoch (Kafka's timestamp unit).
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Starts the maintenance loops; they end when the broker shuts down.
pub fn spawn(broker: Arc<Broker>) -> Vec<JoinHandle<()>> {
    let c = &broker.config;
    let mut tasks = vec![
        every(
            broker.clone(),
            c.log_retention_check_interval_ms,
            retention_pass,
        ),
        every(
            broker.clone(),
            c.log_flush_scheduler_interval_ms,
            flush_pass,
        ),
    ];
    tasks.push(every(
        broker.clone(),
        c.offsets_retention_check_interval_ms,
        offset_expiry_pass,
    ));
    tasks.push(every(
        broker.clone(),
        c.producer_id_expiration_check_interval_ms,
        producer_expiry_pass,
    ));
    tasks.push(crate::groups::spawn_timer(broker.clone()));
    if c.log_cleaner_enable {
        tasks.push(every(
            broker.clone(),
            c.log_cleaner_backoff_ms,
            compaction_pass,
        ));
    }
    tasks
}

fn every(broker: Arc<Broker>, interval_ms: u64, pass: fn(&Broker)) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut shutdown = broker.shutdown_signal();
        let mut ticker = tokio::time::interval(Duration::from_millis(interval_ms.max(10)));
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        ticker.tick().await;
        loop {
            tokio::select! {
                _ = ticker.tick() => {}
                _ = shutdown.changed() => break,
            }
            let b = broker.clone();
            if tokio::task::spawn_blocking(move || pass(&b)).await.is_err() {
                tracing::error!("maintenance pass panicked");
            }
        }
    })
}

fn retention_pass(broker: &Broker) {
    let now = now_ms();
    for p in broker.topics.all_partitions() {
        match p.enforce_retention(now) {
            Ok(r) if r.deleted_segments > 0 => tracing::info!(
                topic = %p.topic,
                partition = p.index,
                segments = r.deleted_segments,
                bytes = r.deleted_bytes,
                log_start_offset = r.log_start_offset,
                "retention deleted old segments"
            ),
            Err(e @ PartitionError::Log(_)) => {
                tracing::warn!(topic = %p.topic, partition = p.index, error = %e, "retention failed")
            }
            _ => {}
        }
    }
}

fn compaction_pass(broker: &Broker) {
    let now = now_ms();
    for p in broker.topics.all_partitions() {
        if !p.is_compacted() {
            continue;
        }
        match p.compact(now) {
            Ok(r) if r.records_removed > 0 || r.segments_rewritten > 0 => tracing::info!(
                topic = %p.topic,
                partition = p.index,
                segments = r.segments_rewritten,
                records_removed = r.records_removed,
                bytes_before = r.bytes_before,
                bytes_after = r.bytes_after,
                "compacted log"
            ),
            Err(e @ PartitionError::Log(_)) => {
                tracing::warn!(topic = %p.topic, partition = p.index, error = %e, "compaction failed")
            }
            _ => {}
        }
    }
}

fn offset_expiry_pass(broker: &Broker) {
    broker.groups.expire_offsets(&broker.topics, now_ms());
}

/// Forgets idempotent producers idle for producer.id.expiration.ms (in memory only; the next snapshot
/// no longer carries them).
fn producer_expiry_pass(broker: &Broker) {
    let now = now_ms();
    let ms = broker.config.producer_id_expiration_ms;
    for p in broker.topics.all_partitions() {
        if let Ok(n @ 1..) = p.expire_producers(now, ms) {
            tracing::debug!(topic = %p.topic, partition = p.index, expired = n, "expired idle producers");
        }
    }
}

fn flush_pass(broker: &Broker) {
    let now = now_ms();
    for p in broker.topics.all_partitions() {
        if let Err(e @ PartitionError::Log(_)) = p.maybe_flush(now) {
            tracing::warn!(topic = %p.topic, partition = p.index, error = %e, "flush failed");
        }
    }
}
