//! One MQTT connection of a plugin instance: rumqttc's sync `Client`, and a thread of its own
//! driving the connection's event loop in one `block_on` on a current-thread runtime of its own
//! (never on the broker's tokio workers). The thread reconnects with backoff, queues received messages in a
//! bounded inbox, and counts outgoing publishes and their PUBACKs; the instance's thread waits
//! on it through a condition variable.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use bytes::Bytes;
use rumqttc::v5::mqttbytes::v5 as p5;
use rumqttc::Outgoing;

use crate::config::KEY_MQTT_CA;
use crate::host::{LogLevel, LogSink};

/// Messages held for the plugin before the connection thread stops reading (TCP back-pressure).
const INBOX_MESSAGES: usize = 10_000;
/// Bytes of payload held for the plugin before the connection thread stops reading.
const INBOX_BYTES: usize = 64 << 20;
/// First and longest wait between reconnection attempts.
const BACKOFF_MIN: Duration = Duration::from_millis(100);
const BACKOFF_MAX: Duration = Duration::from_secs(30);

/// Delivery ids are unique in the process, so an id from an instance that was replaced never
/// names a message of its successor.
static NEXT_DELIVERY: AtomicI64 = AtomicI64::new(1);

/// A received message, whichever protocol version brought it.
pub(super) struct Message {
    pub(super) topic: String,
    pub(super) payload: Bytes,
    pub(super) qos: u8,
    pub(super) retain: bool,
    pub(super) pkid: u16,
    /// MQTT 5 user properties (none under 3.1.1).
    pub(super) user_properties: Vec<(String, String)>,
}

/// A received message waiting for the plugin.
pub(super) struct Delivery {
    pub(super) id: i64,
    pub(super) message: Message,
}

/// rumqttc's client of either protocol version.
#[derive(Clone)]
pub(super) enum Client {
    V4(rumqttc::Client),
    V5(rumqttc::v5::Client),
}

fn qos4(q: u8) -> rumqttc::QoS {
    match q {
        0 => rumqttc::QoS::AtMostOnce,
        1 => rumqttc::QoS::AtLeastOnce,
        _ => rumqttc::QoS::ExactlyOnce,
    }
}

fn qos5(q: u8) -> rumqttc::v5::mqttbytes::QoS {
    match q {
        0 => rumqttc::v5::mqttbytes::QoS::AtMostOnce,
        1 => rumqttc::v5::mqttbytes::QoS::AtLeastOnce,
        _ => rumqttc::v5::mqttbytes::QoS::ExactlyOnce,
    }
}

/// Why a request could not be queued.
pub(super) enum TryError {
    /// The request queue is full (the connection is down or slow); the payload comes back.
    Full(Vec<u8>),
    /// Refused for good (an invalid topic or filter).
    Invalid(String),
}

impl Client {
    pub(super) fn try_subscribe(&self, filter: &str, q: u8) -> Result<(), String> {
        match self {
            Client::V4(c) => c.try_subscribe(filter, qos4(q)).map_err(|e| e.to_string()),
            Client::V5(c) => c.try_subscribe(filter, qos5(q)).map_err(|e| e.to_string()),
        }
    }

    fn try_publish(
        &self,
        topic: &str,
        q: u8,
        retain: bool,
        payload: Vec<u8>,
    ) -> Result<(), TryError> {
        match self {
            Client::V4(c) => match c.try_publish(topic, qos4(q), retain, payload) {
                Ok(()) => Ok(()),
                Err(rumqttc::ClientError::TryRequest(rumqttc::Request::Publish(p))) => {
                    Err(TryError::Full(p.payload.to_vec()))
                }
                Err(e) => Err(TryError::Invalid(e.to_string())),
            },
            Client::V5(c) => match c.try_publish(topic, qos5(q), retain, payload) {
                Ok(()) => Ok(()),
                Err(rumqttc::v5::ClientError::TryRequest(rumqttc::v5::Request::Publish(p))) => {
                    Err(TryError::Full(p.payload.to_vec()))
                }
                Err(e) => Err(TryError::Invalid(e.to_string())),
            },
        }
    }

    /// PUBACK for a received QoS 1 message (only its packet id and QoS matter).
    fn try_ack(&self, pkid: u16, q: u8) -> bool {
        match self {
            Client::V4(c) => {
                let mut p = rumqttc::Publish::new("", qos4(q), Vec::new());
                p.pkid = pkid;
                c.try_ack(&p).is_ok()
            }
            Client::V5(c) => {
                let mut p = p5::Publish::new("", qos5(q), Vec::new(), None);
                p.pkid = pkid;
                c.try_ack(&p).is_ok()
            }
        }
    }

    fn try_disconnect(&self) {
        let _ = match self {
            Client::V4(c) => c.try_disconnect().map_err(|e| e.to_string()),
            Client::V5(c) => c.try_disconnect().map_err(|e| e.to_string()),
        };
    }
}

/// What the connection thread sees, whichever protocol version.
enum Ev {
    ConnAck {
        session_present: bool,
    },
    Publish(Message),
    PubAck {
        pkid: u16,
        refused: Option<String>,
    },
    OutgoingPublish(u16),
    Other,
    /// A connection error; `fatal` when reconnecting cannot help.
    Error {
        text: String,
        fatal: Option<String>,
    },
}

/// rumqttc's connection of either protocol version (boxed: it moves once, to its thread).
pub(super) enum Connection {
    V4(Box<rumqttc::Connection>),
    V5(Box<rumqttc::v5::Connection>),
}

impl Connection {
    /// The next event; `None` once every client handle is gone.
    async fn next(&mut self, url: &str) -> Option<Ev> {
        match self {
            Connection::V4(c) => {
                use rumqttc::{ConnectionError, Event, Incoming, StateError};
                Some(match c.eventloop.poll().await {
                    Err(ConnectionError::RequestsDone) => return None,
                    Ok(Event::Incoming(Incoming::ConnAck(a))) => Ev::ConnAck {
                        session_present: a.session_present,
                    },
                    Ok(Event::Incoming(Incoming::Publish(p))) => Ev::Publish(Message {
                        topic: p.topic,
                        payload: p.payload,
                        qos: p.qos as u8,
                        retain: p.retain,
                        pkid: p.pkid,
                        user_properties: Vec::new(),
                    }),
                    Ok(Event::Incoming(Incoming::PubAck(a))) => Ev::PubAck {
                        pkid: a.pkid,
                        refused: None,
                    },
                    Ok(Event::Outgoing(Outgoing::Publish(pkid))) => Ev::OutgoingPublish(pkid),
                    Ok(_) => Ev::Other,
                    Err(e) => {
                        let fatal = match &e {
                            ConnectionError::MqttState(StateError::Deserialization(
                                rumqttc::Error::PayloadSizeLimitExceeded(n),
                            )) => Some(too_large(url, *n)),
                            ConnectionError::ConnectionRefused(code) => Some(format!(
                                "MQTT {url}: the broker refused the connection: {code:?}"
                            )),
                            ConnectionError::Tls(t) => untrusted_certificate(url, t),
                            _ => None,
                        };
                        let text = match &e {
                            ConnectionError::Io(io) => format!("cannot reach the broker: {io}"),
                            other => other.to_string(),
                        };
                        Ev::Error { text, fatal }
                    }
                })
            }
            Connection::V5(c) => {
                use rumqttc::v5::{ConnectionError, Event, Incoming, StateError};
                Some(match c.eventloop.poll().await {
                    Err(ConnectionError::RequestsDone) => return None,
                    Ok(Event::Incoming(Incoming::ConnAck(a))) => Ev::ConnAck {
                        session_present: a.session_present,
                    },
                    Ok(Event::Incoming(Incoming::Publish(p))) => Ev::Publish(Message {
                        topic: String::from_utf8_lossy(&p.topic).into_owned(),
                        payload: p.payload,
                        qos: p.qos as u8,
                        retain: p.retain,
                        pkid: p.pkid,
                        user_properties: p
                            .properties
                            .map(|pr| pr.user_properties)
                            .unwrap_or_default(),
                    }),
                    Ok(Event::Incoming(Incoming::PubAck(a))) => Ev::PubAck {
                        pkid: a.pkid,
                        refused: match a.reason {
                            p5::PubAckReason::Success | p5::PubAckReason::NoMatchingSubscribers => {
                                None
                            }
                            other => Some(format!("the broker refused it: {other:?}")),
                        },
                    },
                    Ok(Event::Outgoing(Outgoing::Publish(pkid))) => Ev::OutgoingPublish(pkid),
                    Ok(_) => Ev::Other,
                    Err(e) => {
                        let fatal = match &e {
                            ConnectionError::MqttState(StateError::Deserialization(
                                rumqttc::v5::mqttbytes::Error::PayloadSizeLimitExceeded {
                                    pkt_size,
                                    ..
                                },
                            )) => Some(too_large(url, *pkt_size)),
                            ConnectionError::ConnectionRefused(code) => Some(format!(
                                "MQTT {url}: the broker refused the connection: {code:?}"
                            )),
                            ConnectionError::Tls(t) => untrusted_certificate(url, t),
                            _ => None,
                        };
                        let text = match &e {
                            ConnectionError::Io(io) => format!("cannot reach the broker: {io}"),
                            other => other.to_string(),
                        };
                        Ev::Error { text, fatal }
                    }
                })
            }
        }
    }
}

/// A TLS failure retrying cannot mend: the broker's certificate is not trusted (unknown
/// issuer, wrong name, expired). rustls's error sits inside an `io::Error`, whose `source`
/// skips it, hence the explicit `get_ref`.
fn untrusted_certificate(url: &str, e: &(dyn std::error::Error + 'static)) -> Option<String> {
    let mut level = Some(e);
    while let Some(err) = level {
        let inside = err
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
            .map(|i| i as &(dyn std::error::Error + 'static));
        for candidate in [Some(err), inside].into_iter().flatten() {
            if let Some(r @ rustls::Error::InvalidCertificate(_)) =
                candidate.downcast_ref::<rustls::Error>()
            {
                return Some(format!(
                    "MQTT {url}: TLS: the broker's certificate is not trusted ({r}); give the CA \
                     that signed it in `{KEY_MQTT_CA}` (a PEM file) or the connector's CA option"
                ));
            }
        }
        level = err.source();
    }
    None
}

fn too_large(url: &str, n: usize) -> String {
    format!("MQTT {url}: the broker sent a packet of {n} bytes, more than max.payload.bytes allows")
}

#[derive(Default)]
struct State {
    inbox: VecDeque<Delivery>,
    inbox_bytes: usize,
    connected: bool,
    /// CONNACKs seen: the first ends `connect`'s wait.
    connacks: u64,
    last_error: Option<String>,
    /// An error the session cannot recover from (a packet above the size limit, bad credentials).
    fatal: Option<String>,
    /// QoS 1 publishes being sent whose PUBACK has not come yet, by packet id.
    awaiting: HashSet<u16>,
    /// Packet ids of the publishes that went out for the first time since the current
    /// `publish` call began (resends after a reconnect are not listed again), in order.
    outgoing: Vec<u16>,
    /// PUBACKs that refused their message (MQTT 5 reason codes), by packet id.
    refused: HashMap<u16, String>,
    /// Filters subscribed to, made again after a reconnect that found no session.
    subscriptions: Vec<(String, u8)>,
    stop: bool,
}

struct Shared {
    state: Mutex<State>,
    changed: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock leaves counters that are still usable.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Waits for a change, at most until `deadline`.
    fn wait_until<'a>(
        &self,
        st: MutexGuard<'a, State>,
        deadline: Instant,
    ) -> MutexGuard<'a, State> {
        let left = deadline.saturating_duration_since(Instant::now());
        self.changed
            .wait_timeout(st, left)
            .map(|(g, _)| g)
            .unwrap_or_else(|p| p.into_inner().0)
    }
}

/// Why waiting for the broker ended without success.
pub(super) enum WaitError {
    /// Not done within the time allowed; the text says what the connection is doing.
    Timeout(String),
    /// The session cannot go on.
    Fatal(String),
}

/// A live connection and its driver thread; dropping it disconnects (the broker keeps a
/// persistent session) and joins the thread.
pub(super) struct Session {
    pub(super) url: String,
    client: Client,
    pub(super) max_payload: usize,
    shared: Arc<Shared>,
    driver: Option<JoinHandle<()>>,
    /// QoS 1 deliveries handed to the plugin and not yet acknowledged: id -> (packet id, QoS).
    unacked: HashMap<i64, (u16, u8)>,
}

impl Session {
    /// Starts the connection thread; it connects at once and then keeps reconnecting.
    pub(super) fn start(
        url: String,
        client: Client,
        mut connection: Connection,
        max_payload: usize,
        log: LogSink,
        plugin: Arc<str>,
    ) -> Result<Session, String> {
        let shared = Arc::new(Shared {
            state: Mutex::new(State::default()),
            changed: Condvar::new(),
        });
        let s = shared.clone();
        let label = url.clone();
        let resubscriber = client.clone();
        // rumqttc's sync `Connection::recv` enters its runtime once per event (most of the
        // thread's own CPU time at 50k messages/s); one `block_on` for the thread's life
        // instead. Only this future runs on the runtime, so the blocking waits inside `drive`
        // (back-pressure, backoff) hold up nothing else.
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| format!("cannot start the MQTT connection runtime: {e}"))?;
        let driver = std::thread::Builder::new()
            .name("weft-mqtt".into())
            .spawn(move || {
                runtime.block_on(drive(
                    &mut connection,
                    &resubscriber,
                    &s,
                    &label,
                    &log,
                    &plugin,
                ))
            })
            .map_err(|e| format!("cannot start the MQTT connection thread: {e}"))?;
        Ok(Session {
            url,
            client,
            max_payload,
            shared,
            driver: Some(driver),
            unacked: HashMap::new(),
        })
    }

    /// Subscribes, and remembers the filter for reconnections without a session.
    pub(super) fn subscribe(&self, filter: &str, q: u8) -> Result<(), String> {
        self.client.try_subscribe(filter, q)?;
        let mut st = self.shared.lock();
        if !st.subscriptions.iter().any(|(f, _)| f == filter) && st.subscriptions.len() < 1024 {
            st.subscriptions.push((filter.to_string(), q));
        }
        Ok(())
    }

    /// Waits until the broker accepted the session (CONNACK).
    pub(super) fn wait_connected(&self, timeout: Duration) -> Result<(), WaitError> {
        let deadline = Instant::now() + timeout;
        let mut st = self.shared.lock();
        loop {
            if let Some(f) = &st.fatal {
                return Err(WaitError::Fatal(f.clone()));
            }
            if st.connacks > 0 {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(WaitError::Timeout(describe(&st)));
            }
            st = self.shared.wait_until(st, deadline);
        }
    }

    /// Takes up to `max` messages (and about `max_bytes` of payload), waiting up to `timeout`
    /// for the first. QoS 1 ones are remembered until [`Session::ack`].
    pub(super) fn take(
        &mut self,
        max: usize,
        max_bytes: usize,
        timeout: Duration,
    ) -> Result<Vec<Delivery>, WaitError> {
        let deadline = Instant::now() + timeout;
        let mut st = self.shared.lock();
        loop {
            if let Some(f) = &st.fatal {
                return Err(WaitError::Fatal(f.clone()));
            }
            if !st.inbox.is_empty() {
                break;
            }
            if Instant::now() >= deadline {
                // Quiet but connected (or still connecting for the first time): nothing new.
                if st.connected || st.last_error.is_none() {
                    return Ok(Vec::new());
                }
                return Err(WaitError::Timeout(describe(&st)));
            }
            st = self.shared.wait_until(st, deadline);
        }
        let mut out = Vec::new();
        let mut bytes = 0usize;
        while out.len() < max {
            let Some(front) = st.inbox.front() else { break };
            let len = front.message.payload.len();
            // At least one message per call, however large (it is within max.payload.bytes).
            if !out.is_empty() && bytes + len > max_bytes {
                break;
            }
            if let Some(d) = st.inbox.pop_front() {
                bytes += len;
                st.inbox_bytes = st.inbox_bytes.saturating_sub(len);
                out.push(d);
            }
        }
        drop(st);
        // Room in the inbox again: the connection thread may read on.
        self.shared.changed.notify_all();
        for d in &out {
            if d.message.qos > 0 {
                self.unacked.insert(d.id, (d.message.pkid, d.message.qos));
            }
        }
        Ok(out)
    }

    /// Sends PUBACK for these deliveries; unknown ids (QoS 0, acknowledged already, from a
    /// replaced instance) are skipped.
    pub(super) fn ack(&mut self, ids: &[i64]) {
        for id in ids {
            let Some((pkid, q)) = self.unacked.remove(id) else {
                continue;
            };
            // Full only while the connection is down; then the broker redelivers the message
            // after reconnecting (a duplicate, never a loss).
            let deadline = Instant::now() + Duration::from_secs(1);
            while !self.client.try_ack(pkid, q) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(1));
            }
        }
    }

    /// Starts a `publish` call: forgets the previous call's outgoing packet ids and refusals.
    pub(super) fn begin_publish(&self) {
        let mut st = self.shared.lock();
        st.outgoing.clear();
        st.refused.clear();
    }

    /// Queues one publish, waiting (until `deadline`) while the request queue is full.
    pub(super) fn enqueue(
        &self,
        topic: &str,
        q: u8,
        retain: bool,
        payload: Vec<u8>,
        deadline: Instant,
    ) -> Result<(), WaitError> {
        let mut payload = payload;
        loop {
            match self.client.try_publish(topic, q, retain, payload) {
                Ok(()) => return Ok(()),
                Err(TryError::Full(p)) => {
                    if Instant::now() >= deadline {
                        return Err(WaitError::Timeout(describe(&self.shared.lock())));
                    }
                    payload = p;
                    std::thread::sleep(Duration::from_millis(1));
                }
                Err(TryError::Invalid(m)) => return Err(WaitError::Fatal(m)),
            }
        }
    }

    /// Waits until `sent` publishes of this call went out and, for QoS 1, every PUBACK came
    /// back; returns the refusals as (position in this call, reason).
    pub(super) fn wait_published(
        &self,
        sent: usize,
        acked: bool,
        deadline: Instant,
    ) -> Result<Vec<(usize, String)>, WaitError> {
        let mut st = self.shared.lock();
        loop {
            if let Some(f) = &st.fatal {
                return Err(WaitError::Fatal(f.clone()));
            }
            if st.outgoing.len() >= sent && (!acked || st.awaiting.is_empty()) {
                let refused = st
                    .outgoing
                    .iter()
                    .enumerate()
                    .filter_map(|(i, pkid)| st.refused.get(pkid).map(|r| (i, r.clone())))
                    .collect();
                return Ok(refused);
            }
            if Instant::now() >= deadline {
                return Err(WaitError::Timeout(describe(&st)));
            }
            st = self.shared.wait_until(st, deadline);
        }
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        self.shared.lock().stop = true;
        self.shared.changed.notify_all();
        self.client.try_disconnect();
        if let Some(t) = self.driver.take() {
            let _ = t.join();
        }
    }
}

fn describe(st: &State) -> String {
    match (&st.last_error, st.connected) {
        (_, true) => "connected, waiting for the broker".to_string(),
        (Some(e), false) => format!("not connected: {e}"),
        (None, false) => "not connected yet".to_string(),
    }
}

/// The connection thread: drives rumqttc until the session is dropped.
async fn drive(
    connection: &mut Connection,
    client: &Client,
    shared: &Shared,
    url: &str,
    log: &LogSink,
    plugin: &str,
) {
    let mut backoff = BACKOFF_MIN;
    loop {
        if shared.lock().stop {
            return;
        }
        let Some(event) = connection.next(url).await else {
            return;
        };
        match event {
            Ev::ConnAck { session_present } => {
                let mut st = shared.lock();
                if st.connacks > 0 || st.last_error.is_some() {
                    let msg = format!("MQTT {url}: connected (session present: {session_present})");
                    log(plugin, LogLevel::Info, &msg);
                }
                st.connected = true;
                st.connacks += 1;
                st.last_error = None;
                backoff = BACKOFF_MIN;
                // A broker that lost the session (restarted without persistence, expired it)
                // lost the subscriptions too.
                if !session_present {
                    for (filter, q) in &st.subscriptions {
                        if let Err(e) = client.try_subscribe(filter, *q) {
                            let msg =
                                format!("MQTT {url}: cannot subscribe again to `{filter}`: {e}");
                            log(plugin, LogLevel::Warn, &msg);
                        }
                    }
                }
                drop(st);
                shared.changed.notify_all();
            }
            Ev::Publish(message) => {
                let len = message.payload.len();
                let mut st = shared.lock();
                // Hold the connection (and so the broker) back while the plugin is behind.
                while !st.stop
                    && (st.inbox.len() >= INBOX_MESSAGES || st.inbox_bytes + len > INBOX_BYTES)
                    && !st.inbox.is_empty()
                {
                    st = shared.changed.wait(st).unwrap_or_else(|p| p.into_inner());
                }
                let id = NEXT_DELIVERY.fetch_add(1, Ordering::Relaxed);
                let was_empty = st.inbox.is_empty();
                st.inbox_bytes += len;
                st.inbox.push_back(Delivery { id, message });
                drop(st);
                // Only a `take` waits on the inbox, and only while it is empty: once it holds
                // a message the taker is awake already, so later ones need no wake-up (a
                // futex syscall per message on this thread otherwise).
                if was_empty {
                    shared.changed.notify_all();
                }
            }
            Ev::PubAck { pkid, refused } => {
                let mut st = shared.lock();
                st.awaiting.remove(&pkid);
                if let Some(r) = refused {
                    st.refused.insert(pkid, r);
                }
                drop(st);
                shared.changed.notify_all();
            }
            Ev::OutgoingPublish(pkid) => {
                let mut st = shared.lock();
                if pkid == 0 || st.awaiting.insert(pkid) {
                    // Bounded: cleared by every publish call, which sends at most its batch.
                    if st.outgoing.len() < 1 << 20 {
                        st.outgoing.push(pkid);
                    }
                }
                drop(st);
                shared.changed.notify_all();
            }
            Ev::Other => {}
            Ev::Error { text, fatal } => {
                let mut st = shared.lock();
                if st.stop {
                    return;
                }
                st.connected = false;
                if let Some(f) = fatal {
                    st.fatal = Some(f);
                }
                let msg = format!("MQTT {url}: {text}; reconnecting in {backoff:?}");
                st.last_error = Some(text);
                log(plugin, LogLevel::Warn, &msg);
                shared.changed.notify_all();
                // Sleep on the condition variable so that dropping the session ends it.
                let until = Instant::now() + backoff;
                while !st.stop && Instant::now() < until {
                    st = shared.wait_until(st, until);
                }
                backoff = (backoff * 2).min(BACKOFF_MAX);
            }
        }
    }
}
