//! A sink's fetched records taken from librdkafka many per call, on a queue apart from the
//! consumer's events.
//!
//! rust-rdkafka's `BaseConsumer::poll` hands out one message per call, and each call reads the
//! clock several times, takes the queue's lock and allocates the message's event handle: about a
//! third of a file sink's task thread. librdkafka's `rd_kafka_consume_batch_queue` takes up to a
//! whole batch per call, but served on the consumer's own queue it would swallow the rebalance
//! events rust-rdkafka turns into `pre_rebalance`/`post_rebalance` (it unassigns by itself). So
//! each assigned partition's fetch queue is forwarded to a [`FetchQueue`] of the task's before
//! the partition is assigned, records are taken from there, and the consumer's queue, polled as
//! before, carries only events (and any record fetched before its partition was forwarded).
//! An event arriving there ends a wait for records ([`FetchQueue::wake`]), so it is served as
//! soon as it would have been by `poll`.

use std::ffi::{c_char, CStr, CString};
use std::ptr::NonNull;
use std::time::Duration;

use rdkafka::bindings as rdsys;
use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext};
use rdkafka::types::{RDKafkaErrorCode, RDKafkaRespErr};
use rdkafka::TopicPartitionList;

/// The queue the assigned partitions' fetched records are forwarded to.
///
/// It must be dropped before the consumer it was made for (it refers to the consumer's
/// librdkafka handle); [`super::sink`] keeps both in one struct that drops it first.
pub struct FetchQueue {
    queue: NonNull<rdsys::rd_kafka_queue_t>,
    /// A handle on the consumer's own queue, to see whether events wait there.
    events: NonNull<rdsys::rd_kafka_queue_t>,
}

// SAFETY: librdkafka's queues lock internally; every function called on `queue` here may be
// called from any thread.
unsafe impl Send for FetchQueue {}
// SAFETY: as for `Send`: shared calls (forward, consume) are thread-safe in librdkafka.
unsafe impl Sync for FetchQueue {}

impl FetchQueue {
    /// A new, empty queue on `consumer`'s librdkafka handle (none for a consumer without a
    /// group, which has no consumer queue).
    pub fn new<C: ConsumerContext>(consumer: &BaseConsumer<C>) -> Option<FetchQueue> {
        let rk = consumer.client().native_ptr();
        // SAFETY: the handle is live for the borrow; both queue handles are owned by the
        // result (or released here).
        unsafe {
            let events = NonNull::new(rdsys::rd_kafka_queue_get_consumer(rk))?;
            match NonNull::new(rdsys::rd_kafka_queue_new(rk)) {
                Some(queue) => Some(FetchQueue { queue, events }),
                None => {
                    rdsys::rd_kafka_queue_destroy(events.as_ptr());
                    None
                }
            }
        }
    }

    /// Whether the consumer's own queue holds something for `poll`: `poll` answers nothing
    /// both when it had nothing and when it served an event, so this tells the two apart.
    pub fn events_waiting(&self) -> bool {
        // SAFETY: reads the length of a live queue (under its lock, in librdkafka).
        unsafe { rdsys::rd_kafka_queue_length(self.events.as_ptr()) > 0 }
    }

    /// Ends a [`FetchQueue::take`] waiting on another thread (or the next one to wait, if none
    /// is): called from librdkafka's threads when an event reaches the consumer's queue.
    pub fn wake(&self) {
        // SAFETY: `queue` is live while `self` is; yielding is thread-safe.
        unsafe { rdsys::rd_kafka_queue_yield(self.queue.as_ptr()) }
    }

    /// Forwards the fetch queues of `partitions` here. Called before they are assigned, so
    /// librdkafka's own forwarding to the consumer's queue (made when fetching starts, and
    /// skipped for a queue the application forwarded) never takes their records. Returns the
    /// partitions that could not be forwarded: their records still come by `poll`.
    pub fn take_partitions<C: ConsumerContext>(
        &self,
        consumer: &BaseConsumer<C>,
        partitions: &TopicPartitionList,
    ) -> Vec<(String, i32)> {
        let rk = consumer.client().native_ptr();
        let mut missed = Vec::new();
        for e in partitions.elements() {
            let forwarded = CString::new(e.topic()).is_ok_and(|topic| {
                // SAFETY: `rk` is live for the borrow of `consumer`; the partition's queue
                // handle is released right after forwarding (the forwarding holds its own
                // reference to this queue).
                unsafe {
                    let pq = rdsys::rd_kafka_queue_get_partition(rk, topic.as_ptr(), e.partition());
                    if pq.is_null() {
                        return false;
                    }
                    rdsys::rd_kafka_queue_forward(pq, self.queue.as_ptr());
                    rdsys::rd_kafka_queue_destroy(pq);
                    true
                }
            });
            if !forwarded {
                missed.push((e.topic().to_string(), e.partition()));
            }
        }
        missed
    }

    /// Waits up to `wait` for records and moves up to `max` of them into `into`, after the
    /// records it still holds (the ones handed on are destroyed first). Returns how many came.
    pub fn take(
        &self,
        wait: Duration,
        max: usize,
        into: &mut Fetched,
    ) -> Result<usize, RDKafkaErrorCode> {
        into.clear();
        let held = into.msgs.len();
        into.msgs.reserve(max);
        let timeout = wait.as_millis().min(i32::MAX as u128) as i32;
        let spare = into.msgs.spare_capacity_mut();
        let room = max.min(spare.len());
        // SAFETY: librdkafka writes at most `room` message pointers into the spare capacity,
        // and each one it returns is ours to destroy (`Fetched` does, once).
        let n = unsafe {
            rdsys::rd_kafka_consume_batch_queue(
                self.queue.as_ptr(),
                timeout,
                spare.as_mut_ptr().cast(),
                room,
            )
        };
        if n < 0 {
            // SAFETY: reads librdkafka's thread-local last error; no pointers involved.
            return Err(unsafe { rdsys::rd_kafka_last_error() }.into());
        }
        let n = (n as usize).min(room);
        // SAFETY: the `n` slots after the held ones were written by librdkafka above.
        unsafe { into.msgs.set_len(held + n) };
        Ok(n)
    }
}

impl Drop for FetchQueue {
    fn drop(&mut self) {
        // SAFETY: owned since `new`; a partition still forwarding here keeps its own reference,
        // and librdkafka discards what it forwards to a destroyed (disabled) queue. The
        // consumer queue's handle only releases its reference.
        unsafe {
            rdsys::rd_kafka_queue_destroy(self.queue.as_ptr());
            rdsys::rd_kafka_queue_destroy(self.events.as_ptr());
        }
    }
}

/// Messages taken from a [`FetchQueue`], handed on one at a time. All stay alive until
/// [`Fetched::clear`], so the topic name read for one message serves the next ones of the same
/// topic without reading it again.
pub struct Fetched {
    msgs: Vec<*mut rdsys::rd_kafka_message_t>,
    /// The first message not yet handed on.
    next: usize,
    /// The topic handle whose name `topic` holds (valid while a message of it is alive).
    topic_of: *const rdsys::rd_kafka_topic_t,
    topic: String,
}

impl Fetched {
    pub fn new() -> Fetched {
        Fetched {
            msgs: Vec::new(),
            next: 0,
            topic_of: std::ptr::null(),
            topic: String::new(),
        }
    }

    /// Whether every message taken was handed on.
    pub fn is_drained(&self) -> bool {
        self.next >= self.msgs.len()
    }

    /// The next message not yet handed on, with its topic's name.
    pub fn next_message(&mut self) -> Option<(FetchedMessage<'_>, &str)> {
        let &ptr = self.msgs.get(self.next)?;
        self.next += 1;
        // SAFETY: pointers in `msgs` came from librdkafka and are destroyed only by `clear`
        // or `drop`, after which they are no longer in `msgs`.
        let msg = unsafe { &*ptr };
        if msg.rkt.cast_const() != self.topic_of {
            self.topic.clear();
            self.topic.push_str(&topic_name(msg));
            self.topic_of = msg.rkt;
        }
        Some((FetchedMessage { msg, ptr }, &self.topic))
    }

    /// Destroys the messages already handed on; those not yet handed on stay for later.
    pub fn clear(&mut self) {
        let done = self.next.min(self.msgs.len());
        for ptr in self.msgs.drain(..done) {
            // SAFETY: each pointer is destroyed once, here, and removed from `msgs`.
            unsafe { rdsys::rd_kafka_message_destroy(ptr) };
        }
        self.next = 0;
        self.topic_of = std::ptr::null();
    }

    /// Destroys the messages not yet handed on whose partition `keep` refuses (partitions
    /// revoked or rewound while they waited).
    pub fn retain_pending(&mut self, mut keep: impl FnMut(&str, i32) -> bool) {
        let mut kept = self.next;
        for i in self.next..self.msgs.len() {
            let ptr = self.msgs[i];
            // SAFETY: as in `next_message`.
            let msg = unsafe { &*ptr };
            if keep(&topic_name(msg), msg.partition) {
                self.msgs[kept] = ptr;
                kept += 1;
            } else {
                // SAFETY: destroyed once; the slot is overwritten or truncated away below.
                unsafe { rdsys::rd_kafka_message_destroy(ptr) };
            }
        }
        self.msgs.truncate(kept);
        self.topic_of = std::ptr::null();
    }
}

impl Default for Fetched {
    fn default() -> Self {
        Fetched::new()
    }
}

impl Drop for Fetched {
    fn drop(&mut self) {
        for ptr in self.msgs.drain(..) {
            // SAFETY: each pointer is destroyed once.
            unsafe { rdsys::rd_kafka_message_destroy(ptr) };
        }
    }
}

/// The name of a live message's topic (empty for a message without one).
fn topic_name(msg: &rdsys::rd_kafka_message_t) -> std::borrow::Cow<'_, str> {
    if msg.rkt.is_null() {
        return std::borrow::Cow::Borrowed("");
    }
    // SAFETY: a live message holds a reference on its topic handle, whose name is a
    // NUL-terminated string owned by it.
    unsafe { CStr::from_ptr(rdsys::rd_kafka_topic_name(msg.rkt)) }.to_string_lossy()
}

/// One message of a [`Fetched`] batch, read in place.
pub struct FetchedMessage<'a> {
    /// Its public fields, read in place.
    msg: &'a rdsys::rd_kafka_message_t,
    /// The same message as librdkafka handed it out, for the calls that read (and cache)
    /// what lies beyond the public fields.
    ptr: *mut rdsys::rd_kafka_message_t,
}

/// Bytes librdkafka points at, or none for a null pointer.
///
/// # Safety
/// `ptr` must be null or point at `len` bytes that live as long as `'a`.
unsafe fn bytes<'a>(ptr: *const std::ffi::c_void, len: usize) -> Option<&'a [u8]> {
    if ptr.is_null() {
        None
    } else {
        Some(std::slice::from_raw_parts(ptr.cast::<u8>(), len))
    }
}

impl<'a> FetchedMessage<'a> {
    /// The consumer error this message carries instead of a record, if any.
    pub fn error(&self) -> Option<RDKafkaErrorCode> {
        (self.msg.err != RDKafkaRespErr::RD_KAFKA_RESP_ERR_NO_ERROR).then(|| self.msg.err.into())
    }

    pub fn partition(&self) -> i32 {
        self.msg.partition
    }

    pub fn offset(&self) -> i64 {
        self.msg.offset
    }

    /// The record's timestamp in milliseconds, if it has one.
    pub fn timestamp(&self) -> Option<i64> {
        let mut kind = rdsys::rd_kafka_timestamp_type_t::RD_KAFKA_TIMESTAMP_NOT_AVAILABLE;
        // SAFETY: reads the live message; `kind` is a valid out-pointer.
        let ts = unsafe { rdsys::rd_kafka_message_timestamp(self.ptr, &mut kind) };
        (kind != rdsys::rd_kafka_timestamp_type_t::RD_KAFKA_TIMESTAMP_NOT_AVAILABLE && ts >= 0)
            .then_some(ts)
    }

    pub fn key(&self) -> Option<&'a [u8]> {
        // SAFETY: librdkafka's key pointer and length, alive as long as the message.
        unsafe { bytes(self.msg.key, self.msg.key_len) }
    }

    pub fn payload(&self) -> Option<&'a [u8]> {
        // SAFETY: as for the key.
        unsafe { bytes(self.msg.payload, self.msg.len) }
    }

    /// The record's headers in order; a header whose name is not UTF-8 is skipped and counted
    /// in `dropped`.
    pub fn headers<'d>(
        &self,
        dropped: &'d std::cell::Cell<usize>,
    ) -> impl Iterator<Item = (&'a str, Option<&'a [u8]>)> + 'd
    where
        'a: 'd,
    {
        let mut hdrs: *mut rdsys::rd_kafka_headers_t = std::ptr::null_mut();
        // SAFETY: parses the live message's headers once; the list is owned by the message.
        let found = unsafe { rdsys::rd_kafka_message_headers(self.ptr, &mut hdrs) };
        let hdrs = if found == RDKafkaRespErr::RD_KAFKA_RESP_ERR_NO_ERROR {
            hdrs.cast_const()
        } else {
            std::ptr::null()
        };
        let mut idx = 0usize;
        std::iter::from_fn(move || loop {
            if hdrs.is_null() {
                return None;
            }
            let mut name: *const c_char = std::ptr::null();
            let mut value: *const std::ffi::c_void = std::ptr::null();
            let mut size = 0usize;
            // SAFETY: `hdrs` belongs to the message, alive for `'a`; out-pointers are valid.
            let got = unsafe {
                rdsys::rd_kafka_header_get_all(hdrs, idx, &mut name, &mut value, &mut size)
            };
            if got != RDKafkaRespErr::RD_KAFKA_RESP_ERR_NO_ERROR || name.is_null() {
                return None;
            }
            idx += 1;
            // SAFETY: header names are NUL-terminated and values `size` bytes, owned by the
            // message's header list.
            let (name, value) = unsafe { (CStr::from_ptr(name), bytes(value, size)) };
            match name.to_str() {
                Ok(name) => return Some((name, value)),
                Err(_) => dropped.set(dropped.get() + 1),
            }
        })
    }
}
