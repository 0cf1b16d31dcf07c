//! Fuzz target: one request frame (without its length prefix) through the broker's own path:
//! frame check, request header, body decode with the vendored kafka-protocol, and the API handler.
//! Any panic or abort (an allocation sized from a lying count trips libFuzzer's malloc limit) is a finding.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use weft_broker::fuzzing::FuzzBroker;

/// Topics and partitions the fuzzer creates pile up across inputs; past this many partitions the
/// target deletes them so runs stay fast and the scratch directory small.
const MAX_PARTITIONS: usize = 2_000;

fn broker() -> &'static FuzzBroker {
    static BROKER: OnceLock<FuzzBroker> = OnceLock::new();
    BROKER.get_or_init(|| {
        FuzzBroker::start(&[
            ("group.initial.rebalance.delay.ms", "0"),
        ])
        .unwrap_or_else(|e| panic!("fuzz broker did not start: {e}"))
    })
}

fuzz_target!(|data: &[u8]| {
    let fb = broker();
    let _ = fb.run_frame(data);
    if let Some(b) = fb.broker() {
        let topics = b.topics.list();
        if topics.iter().map(|t| t.partitions.len()).sum::<usize>() > MAX_PARTITIONS {
            for t in topics {
                if !weft_broker::internal_topics::is_internal(&t.name) {
                    let _ = b.topics.delete(&t.name);
                }
            }
        }
    }
});
