//! Reading assigned partitions of the remote cluster: the assignment split over several
//! consumers (`capability.remote-cluster.fetchers`), so that each keeps its own fetch requests in
//! flight to every broker and a high-latency link is not one request at a time, and the records
//! packed into a WFB1 batch exactly as stored.
//!
//! The consumers never join a group: they `assign` with explicit offsets, auto-commit off. Each
//! prefetches at most `queued.max.messages.kbytes` (16 MiB here), so memory stays bounded by the
//! fetcher count whatever the partition count. A wait for the first record sleeps on a condition
//! variable that librdkafka's "queue became non-empty" callback signals, so no consumer is
//! polled in a loop.

use std::cell::Cell;
use std::collections::HashMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{BorrowedMessage, Headers, Message};
use rdkafka::{Offset, TopicPartitionList};
use weft_batch::BatchWriter;

use super::cluster::Cluster;
use crate::bindings::types::PluginError;

/// Fetch settings, before the granted client properties (which may tune them). Per consumer:
/// one fetch request of up to 8 MiB per broker in flight, answered as soon as there is data or
/// after 100 ms, and at most 16 MiB prefetched.
const FETCH_DEFAULTS: &[(&str, &str)] = &[
    ("auto.offset.reset", "earliest"),
    ("isolation.level", "read_uncommitted"),
    ("fetch.max.bytes", "8388608"),
    // One partition alone still fills a good part of a request across a slow link.
    ("max.partition.fetch.bytes", "4194304"),
    ("fetch.min.bytes", "1"),
    ("fetch.wait.max.ms", "100"),
    ("queued.max.messages.kbytes", "16384"),
    // librdkafka needs a group id to `assign`; the consumer never joins or commits to it (a
    // cluster with group ACLs may need another name, hence a default).
    ("group.id", "weft-remote-fetch"),
];

/// Settings no property may change: no commits.
const FETCH_FORCED: &[(&str, &str)] = &[
    ("enable.auto.commit", "false"),
    ("enable.auto.offset.store", "false"),
    ("enable.partition.eof", "false"),
];

/// Signalled when any consumer's queue becomes non-empty.
#[derive(Default)]
struct Wake {
    ready: Mutex<bool>,
    cv: Condvar,
}

impl Wake {
    fn signal(&self) {
        if let Ok(mut r) = self.ready.lock() {
            *r = true;
            self.cv.notify_all();
        }
    }

    fn clear(&self) {
        if let Ok(mut r) = self.ready.lock() {
            *r = false;
        }
    }

    fn wait_until(&self, deadline: Instant) {
        let Ok(g) = self.ready.lock() else { return };
        let left = deadline.saturating_duration_since(Instant::now());
        let _ = self.cv.wait_timeout_while(g, left, |r| !*r);
    }
}

/// Where an assigned partition is read: by which consumer, and the next offset to return
/// (-1: not known yet, when assigned at the earliest or latest offset).
#[derive(Debug, Clone, Copy)]
struct Slot {
    fetcher: usize,
    next: i64,
}

/// The consumers of one instance and what each is assigned.
pub(crate) struct Fetchers {
    consumers: Vec<BaseConsumer>,
    wake: Arc<Wake>,
    assigned: HashMap<String, HashMap<i32, Slot>>,
    /// The consumer a fetch drains first (rotated, so none is always last).
    first: usize,
}

/// Why a fetch failed.
pub(crate) enum FetchError {
    /// The cluster cannot be reached.
    Kafka(KafkaError),
    /// A record could not be packed (a length beyond the batch format's).
    Pack(String),
}

/// What a fetch gives back besides the batch.
pub(crate) struct Fetched {
    pub(crate) batch: Vec<u8>,
    /// Consumer errors met on the way (logged by the caller).
    pub(crate) warnings: Vec<String>,
}

impl Fetchers {
    /// `n` consumers for `cluster` (they connect on their first assignment).
    pub(crate) fn new(cluster: &Cluster, n: usize) -> Result<Self, PluginError> {
        let wake = Arc::new(Wake::default());
        let mut consumers = Vec::with_capacity(n);
        for i in 0..n {
            let role = format!("fetch-{i}");
            let mut c: BaseConsumer = cluster
                .config(&role, FETCH_DEFAULTS, FETCH_FORCED)?
                .create()
                .map_err(|e| cluster.error("cannot create a consumer", &e))?;
            let w = wake.clone();
            c.set_nonempty_callback(move || w.signal());
            consumers.push(c);
        }
        Ok(Fetchers {
            consumers,
            wake,
            assigned: HashMap::new(),
            first: 0,
        })
    }

    /// Replaces the assignment. A partition already assigned whose next offset is the one asked
    /// for stays where it is; new ones go to the consumer with the fewest partitions. Only the
    /// consumers whose partitions changed are assigned again.
    pub(crate) fn assign(&mut self, positions: &[(String, i32, i64)]) -> Result<(), KafkaError> {
        let n = self.consumers.len().max(1);
        let mut wanted: HashMap<&str, HashMap<i32, i64>> = HashMap::new();
        for (t, p, o) in positions {
            wanted.entry(t.as_str()).or_default().insert(*p, *o);
        }
        let mut changed = vec![false; n];
        let mut next: HashMap<String, HashMap<i32, Slot>> = HashMap::new();
        let mut load = vec![0usize; n];
        // Kept partitions first, so that new ones balance around them.
        for (t, parts) in &self.assigned {
            for (p, slot) in parts {
                match wanted.get(t.as_str()).and_then(|w| w.get(p)) {
                    Some(o) if *o == slot.next && slot.next >= 0 => {
                        next.entry(t.clone()).or_default().insert(*p, *slot);
                        load[slot.fetcher] += 1;
                    }
                    _ => changed[slot.fetcher] = true,
                }
            }
        }
        let mut placed: Vec<(&str, i32, i64)> = wanted
            .iter()
            .flat_map(|(t, ps)| ps.iter().map(move |(p, o)| (*t, *p, *o)))
            .collect();
        placed.sort_unstable();
        for (t, p, o) in placed {
            if next.get(t).is_some_and(|m| m.contains_key(&p)) {
                continue;
            }
            // A partition moved to another offset stays on its consumer (one re-assign).
            let fetcher = self
                .assigned
                .get(t)
                .and_then(|m| m.get(&p))
                .map(|s| s.fetcher)
                .unwrap_or_else(|| (0..n).min_by_key(|i| load[*i]).unwrap_or(0));
            load[fetcher] += 1;
            changed[fetcher] = true;
            next.entry(t.to_string()).or_default().insert(
                p,
                Slot {
                    fetcher,
                    next: if o >= 0 { o } else { -1 },
                },
            );
        }
        for (f, consumer) in self.consumers.iter().enumerate() {
            if !changed[f] {
                continue;
            }
            let mut tpl = TopicPartitionList::new();
            for (t, parts) in &next {
                for (p, slot) in parts.iter().filter(|(_, s)| s.fetcher == f) {
                    let at = match slot.next {
                        o if o >= 0 => Offset::Offset(o),
                        _ => match wanted.get(t.as_str()).and_then(|w| w.get(p)) {
                            Some(-1) => Offset::End,
                            _ => Offset::Beginning,
                        },
                    };
                    tpl.add_partition_offset(t, *p, at)?;
                }
            }
            consumer.assign(&tpl)?;
        }
        self.assigned = next;
        Ok(())
    }

    /// Records read since the last call, up to `max` records and about `max_bytes` (always at
    /// least one record when any arrived), waiting at most `timeout` for the first. A cluster
    /// that cannot be reached at all is an error; other consumer errors (a broker restarting, a
    /// leader moving) are returned as warnings while librdkafka retries.
    pub(crate) fn fetch(
        &mut self,
        max: usize,
        max_bytes: usize,
        timeout: Duration,
    ) -> Result<Fetched, FetchError> {
        let deadline = Instant::now() + timeout;
        let n = self.consumers.len();
        let mut w = BatchWriter::new();
        let mut out = Fetched {
            batch: Vec::new(),
            warnings: Vec::new(),
        };
        let mut bytes = 0usize;
        // "All brokers down" is an event in the queue like any other: records fetched after the
        // cluster came back wait behind it, so the queue is drained and the error returned only
        // when nothing was read (a stale event must not hide the records behind it).
        let mut down: Option<KafkaError> = None;
        loop {
            self.wake.clear();
            for k in 0..n {
                let f = (self.first + k) % n;
                let Some(consumer) = self.consumers.get(f) else {
                    continue;
                };
                while w.len() < max && bytes < max_bytes {
                    match consumer.poll(Duration::ZERO) {
                        None => break,
                        Some(Ok(m)) => {
                            if let Some(slot) = self
                                .assigned
                                .get_mut(m.topic())
                                .and_then(|ps| ps.get_mut(&m.partition()))
                                .filter(|s| s.fetcher == f && m.offset() >= s.next)
                            {
                                slot.next = m.offset() + 1;
                                bytes += pack(&mut w, &m, &mut out.warnings)?;
                            }
                        }
                        Some(Err(e)) => match e.rdkafka_error_code() {
                            Some(RDKafkaErrorCode::AllBrokersDown) => down = Some(e),
                            _ if matches!(e, KafkaError::PartitionEOF(_)) => {}
                            _ => out.warnings.push(e.to_string()),
                        },
                    }
                }
            }
            self.first = (self.first + 1) % n.max(1);
            if let Some(e) = down.take() {
                if w.is_empty() {
                    return Err(FetchError::Kafka(e));
                }
                out.warnings.push(e.to_string());
            }
            if !w.is_empty() || Instant::now() >= deadline {
                break;
            }
            // Every queue was empty after the flag was cleared: the next record signals it.
            self.wake.wait_until(deadline);
        }
        out.batch = w.finish().map_err(|e| FetchError::Pack(e.to_string()))?;
        Ok(out)
    }
}

/// Appends one consumed record; returns its size.
fn pack(
    w: &mut BatchWriter,
    m: &BorrowedMessage<'_>,
    warnings: &mut Vec<String>,
) -> Result<usize, FetchError> {
    let key = m.key();
    let value = m.payload();
    let dropped = Cell::new(0);
    let headers: Vec<(&str, Option<&[u8]>)> = utf8_headers(m, &dropped).collect();
    if dropped.get() > 0 {
        warnings.push(not_utf8_warning(
            m.topic(),
            m.partition(),
            m.offset(),
            dropped.get(),
        ));
    }
    let size = key.map_or(0, <[u8]>::len)
        + value.map_or(0, <[u8]>::len)
        + headers
            .iter()
            .map(|(k, v)| k.len() + v.map_or(0, <[u8]>::len))
            .sum::<usize>();
    w.push(
        m.topic(),
        Some(m.partition()),
        m.timestamp().to_millis(),
        Some(m.offset()),
        key,
        value,
        headers,
    )
    .map_err(|e| {
        FetchError::Pack(format!(
            "{}-{} offset {}: {e}",
            m.topic(),
            m.partition(),
            m.offset()
        ))
    })?;
    Ok(size)
}

/// A message's headers, read as they are iterated. rdkafka turns a header name into `&str`
/// with an unwrap: one that is not UTF-8 (no Kafka client writes one, but neither Kafka's broker
/// nor Weft's refuses it) is skipped rather than a panic, and counted in `dropped`.
pub fn utf8_headers<'m>(
    m: &'m BorrowedMessage<'_>,
    dropped: &'m Cell<usize>,
) -> impl Iterator<Item = (&'m str, Option<&'m [u8]>)> + 'm {
    let headers = m.headers();
    (0..headers.map_or(0, |h| h.count())).filter_map(move |i| {
        let h = headers?;
        match catch_unwind(AssertUnwindSafe(|| h.try_get(i))) {
            Ok(x) => x.map(|x| (x.key, x.value)),
            Err(_) => {
                dropped.set(dropped.get() + 1);
                None
            }
        }
    })
}

/// The warning for header names that are not UTF-8 and were dropped, naming the record.
pub fn not_utf8_warning(topic: &str, partition: i32, offset: i64, dropped: usize) -> String {
    format!(
        "{topic}-{partition} offset {offset}: {dropped} header name(s) that are not UTF-8 dropped"
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kafka::grant::KafkaCluster;

    /// Each consumer's assignment as `topic:partition@offset`, sorted.
    fn assignments(f: &Fetchers) -> Vec<Vec<String>> {
        f.consumers
            .iter()
            .map(|c| {
                let mut v: Vec<String> = c
                    .assignment()
                    .expect("assignment")
                    .elements()
                    .iter()
                    .map(|e| format!("{}:{}@{:?}", e.topic(), e.partition(), e.offset()))
                    .collect();
                v.sort();
                v
            })
            .collect()
    }

    #[test]
    fn assignments_are_balanced_and_only_changed_consumers_are_touched() {
        // Nothing listens there: assigning needs no broker.
        let cluster = Cluster::new(
            "remote cluster",
            KafkaCluster {
                bootstrap: "127.0.0.1:1".into(),
                client: Default::default(),
            },
            "test".into(),
        );
        let mut f = Fetchers::new(&cluster, 3).expect("consumers");
        let six: Vec<(String, i32, i64)> = (0..6).map(|p| ("t".to_string(), p, 10)).collect();
        f.assign(&six).expect("assign");
        let first = assignments(&f);
        assert!(first.iter().all(|a| a.len() == 2), "{first:?}");
        // Same partitions at the same offsets: nothing moves.
        f.assign(&six).expect("assign");
        assert_eq!(assignments(&f), first);
        // One partition re-positioned, one dropped, one added.
        let mut next = six.clone();
        next[0].2 = 3;
        next.retain(|(_, p, _)| *p != 5);
        next.push(("u".into(), 0, -2));
        f.assign(&next).expect("assign");
        let after = assignments(&f);
        let all: Vec<String> = after.iter().flatten().cloned().collect();
        assert_eq!(all.len(), 6, "{after:?}");
        assert!(all.contains(&"t:0@Offset(3)".to_string()), "{after:?}");
        assert!(all.contains(&"u:0@Beginning".to_string()), "{after:?}");
        assert!(!all.iter().any(|a| a.starts_with("t:5@")), "{after:?}");
        assert!(
            after.iter().all(|a| a.len() == 2),
            "still balanced: {after:?}"
        );
        // The partition moved to offset 3 stayed on its consumer.
        let was = first
            .iter()
            .position(|a| a.iter().any(|x| x.starts_with("t:0@")));
        let is = after
            .iter()
            .position(|a| a.iter().any(|x| x.starts_with("t:0@")));
        assert_eq!(was, is);
    }
}
