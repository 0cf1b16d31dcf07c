//! `weft perf produce` against an independent measurement: a TCP proxy between the tool and the
//! broker holds every response for a known delay and measures each Produce round trip itself.
//! The tool's per-record latencies must show that delay (never less: a record cannot be
//! acknowledged before its response leaves the proxy), and must not be inflated far beyond what
//! the proxy saw (the old tool's clock, refreshed every 1,024 records, did both).

mod common;

use std::collections::VecDeque;
use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{weft_cmd, Weft};

const DELAY: Duration = Duration::from_millis(50);

/// Produce round trips the proxy measured: from the request frame's arrival to the response
/// frame's departure.
type Rtts = Arc<Mutex<Vec<Duration>>>;

/// Reads one `i32 length | frame` from `r`.
fn read_frame(r: &mut impl Read) -> Option<Vec<u8>> {
    let mut len = [0u8; 4];
    r.read_exact(&mut len).ok()?;
    let n = usize::try_from(i32::from_be_bytes(len)).ok()?;
    let mut frame = vec![0u8; 4 + n];
    frame[..4].copy_from_slice(&len);
    r.read_exact(&mut frame[4..]).ok()?;
    Some(frame)
}

/// Forwards one client connection to the broker, delaying each response by [`DELAY`].
fn proxy_connection(client: TcpStream, broker_port: u16, rtts: Rtts) {
    let Ok(broker) = TcpStream::connect(("127.0.0.1", broker_port)) else {
        return;
    };
    let _ = client.set_nodelay(true);
    let _ = broker.set_nodelay(true);
    // Arrival time and API key of each request, in order (Kafka answers in order).
    let pending: Arc<Mutex<VecDeque<(Instant, i16)>>> = Arc::default();
    let (mut c_in, mut b_out) = (client.try_clone().unwrap(), broker.try_clone().unwrap());
    let p = pending.clone();
    std::thread::spawn(move || {
        while let Some(frame) = read_frame(&mut c_in) {
            let key = i16::from_be_bytes([frame[4], frame[5]]);
            // weft perf uses acks=1, so every request is answered.
            p.lock().unwrap().push_back((Instant::now(), key));
            if b_out.write_all(&frame).is_err() {
                break;
            }
        }
        let _ = b_out.shutdown(Shutdown::Write);
    });
    let (tx, rx) = std::sync::mpsc::channel::<(Instant, Vec<u8>)>();
    let mut b_in = broker;
    std::thread::spawn(move || {
        while let Some(frame) = read_frame(&mut b_in) {
            if tx.send((Instant::now() + DELAY, frame)).is_err() {
                break;
            }
        }
    });
    let mut c_out = client;
    for (due, frame) in rx {
        let now = Instant::now();
        if due > now {
            std::thread::sleep(due - now);
        }
        if c_out.write_all(&frame).is_err() {
            break;
        }
        if let Some((arrived, key)) = pending.lock().unwrap().pop_front() {
            if key == 0 {
                rtts.lock().unwrap().push(arrived.elapsed());
            }
        }
    }
    let _ = c_out.shutdown(Shutdown::Both);
}

fn percentile(sorted: &[Duration], q: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * q).round() as usize]
}

/// The value before `label` in the tool's summary line (`..., 51.20 ms 50th, ...`).
fn figure(summary: &str, label: &str) -> f64 {
    summary
        .split(", ")
        .find_map(|part| part.strip_suffix(label))
        .and_then(|v| v.trim().trim_end_matches(" ms").trim().parse().ok())
        .unwrap_or_else(|| panic!("no {label:?} in {summary:?}"))
}

#[test]
fn perf_produce_latency_shows_a_known_broker_delay() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let proxy_port = listener.local_addr().unwrap().port();
    // The broker advertises the proxy, so every connection the client opens goes through it.
    let advertised = format!("advertised.listeners=PLAINTEXT://127.0.0.1:{proxy_port}");
    let broker = Weft::start(&[&advertised]);
    let broker_port = broker.port;
    let rtts: Rtts = Arc::default();
    let r = rtts.clone();
    std::thread::spawn(move || {
        for client in listener.incoming().map_while(Result::ok) {
            let r = r.clone();
            std::thread::spawn(move || proxy_connection(client, broker_port, r));
        }
    });
    let bootstrap = format!("127.0.0.1:{proxy_port}");
    let (ok, out, err) = weft_cmd(
        &[
            "perf",
            "produce",
            "--bootstrap-server",
            &bootstrap,
            "--topic",
            "perf-delay",
            "--records",
            "5000",
            "--throughput",
            "5000",
            "--producer-props",
            "linger.ms=0",
        ],
        None,
    );
    assert!(ok, "weft perf produce failed:\n{out}\n{err}");
    let summary = out
        .lines()
        .find(|l| l.contains("records sent"))
        .unwrap_or_else(|| panic!("no summary line:\n{out}"));
    let p50 = figure(summary, "50th");
    let p99 = figure(summary, "99th");
    let max = figure(summary, "max latency");

    let mut seen = rtts.lock().unwrap().clone();
    seen.sort();
    assert!(
        seen.len() >= 10,
        "the proxy saw {} Produce requests",
        seen.len()
    );
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let (rtt_min, rtt_p99) = (ms(seen[0]), ms(percentile(&seen, 0.99)));
    let delay = ms(DELAY);
    eprintln!(
        "tool: p50 {p50} ms, p99 {p99} ms, max {max} ms; proxy: {} Produce round trips, min {rtt_min:.2} ms, p99 {rtt_p99:.2} ms",
        seen.len()
    );
    // Every record waited at least for the delay the proxy added (the tool rounds down to 10 µs).
    assert!(
        rtt_min >= delay,
        "the proxy's own round trips include the delay"
    );
    assert!(
        p50 >= delay,
        "p50 {p50} ms is below the {delay} ms every response was held"
    );
    assert!(p99 >= p50 && max >= p99);
    // And the tool does not invent latency the proxy did not see: at most the slowest round trip
    // plus as long again for a record waiting behind the requests in flight.
    assert!(
        p50 <= 2.0 * rtt_p99,
        "p50 {p50} ms is far above the round trips the proxy measured (p99 {rtt_p99:.2} ms)"
    );
}

/// The summary line of `out` that contains `needle`.
fn line_with<'a>(out: &'a str, needle: &str) -> &'a str {
    out.lines()
        .find(|l| l.contains(needle))
        .unwrap_or_else(|| panic!("no line with {needle:?} in:\n{out}"))
}

#[test]
fn perf_transactions_commit_and_end_to_end_reads_them_committed() {
    let broker = Weft::start(&[]);
    let bootstrap = broker.bootstrap();
    let (ok, out, err) = weft_cmd(
        &[
            "topics",
            "create",
            "perf-tx",
            "--partitions",
            "3",
            "-b",
            &bootstrap,
        ],
        None,
    );
    assert!(ok, "topics create failed:\n{out}\n{err}");

    let (ok, out, err) = weft_cmd(
        &[
            "perf",
            "produce",
            "-b",
            &bootstrap,
            "--topic",
            "perf-tx",
            "--records",
            "1000",
            "--transactional-id",
            "perf-tx-1",
            "--transaction-records",
            "100",
        ],
        None,
    );
    assert!(ok, "weft perf produce failed:\n{out}\n{err}");
    line_with(&out, "1000 records sent");
    line_with(&out, "10 transactions of 100 records committed");

    // The consumer reads read_committed from the current end: it sees each record only once its
    // transaction committed, and the tool fails unless all 1000 arrive.
    let (ok, out, err) = weft_cmd(
        &[
            "perf",
            "end-to-end",
            "-b",
            &bootstrap,
            "--topic",
            "perf-tx",
            "--records",
            "1000",
            "--throughput",
            "2000",
            "--transactional-id",
            "perf-tx-2",
            "--transaction-records",
            "100",
        ],
        None,
    );
    assert!(ok, "weft perf end-to-end failed:\n{out}\n{err}");
    let summary = line_with(&out, "records end to end (read_committed)");
    assert!(summary.starts_with("1000 records"), "{summary}");
    assert!(figure(summary, "99th") >= figure(summary, "50th"));
    line_with(&out, "10 transactions of 100 records committed");

    // A read_committed consumer of the whole topic sees both runs' 2000 records.
    let (ok, out, err) = weft_cmd(
        &[
            "perf",
            "consume",
            "-b",
            &bootstrap,
            "--topic",
            "perf-tx",
            "--records",
            "2000",
            "--consumer-props",
            "isolation.level=read_committed",
        ],
        None,
    );
    assert!(ok, "weft perf consume failed:\n{out}\n{err}");
    line_with(&out, "2000 records consumed");
}
