//! The Connect worker's Prometheus metrics, read from the herder's status at scrape time: per
//! connector and task, the state, records polled and produced (source) or put (sink), failed
//! records, DLQ records, time inside the components per record, their memory, their traps by
//! kind, the latency of offset commits, and the counters and gauges the connector component
//! reported about itself (`host.counter-add`/`gauge-set`, at most 1,000 names per instance). The task loops already publish these figures about
//! once a second (`TaskReport`), so the worker's hot path pays nothing for a scrape.

use std::sync::{Arc, Weak};

use weft_metrics::prometheus::core::{Collector, Desc};
use weft_metrics::prometheus::proto::MetricFamily;
use weft_metrics::{Check, FamilyBuilder};
use weft_runtime::TrapKind;

use crate::api::Herder;
use crate::model::{ConnectorType, State};

const STATES: [(State, &str); 6] = [
    (State::Unassigned, "UNASSIGNED"),
    (State::Running, "RUNNING"),
    (State::Paused, "PAUSED"),
    (State::Stopped, "STOPPED"),
    (State::Failed, "FAILED"),
    (State::Restarting, "RESTARTING"),
];

/// Reads the herders' connectors and tasks when Prometheus scrapes (one herder for a worker;
/// several when one process runs a worker per target cluster, as `weft mirror-maker` does —
/// their connector names differ, so their series do not collide).
pub struct ConnectCollector {
    herders: Vec<Weak<dyn Herder>>,
}

/// Registers the worker's collector and its health check with the process's exporter (a worker
/// started later replaces an earlier one's).
pub fn install(herder: Arc<dyn Herder>) {
    install_all(&[herder]);
}

/// [`install`] for several workers in one process, reported as one collector.
pub fn install_all(herders: &[Arc<dyn Herder>]) {
    let e = weft_metrics::global();
    let weak: Vec<Weak<dyn Herder>> = herders.iter().map(Arc::downgrade).collect();
    e.register(
        "connect",
        Arc::new(ConnectCollector {
            herders: weak.clone(),
        }),
    );
    e.register_check("connect_worker", move || {
        let mut n = 0;
        for w in &weak {
            match w.upgrade() {
                Some(h) => n += h.connectors().len(),
                None => return Check::failing("the Connect worker stopped"),
            }
        }
        Check::ok(format!("{n} connectors"))
    });
}

fn kind_name(k: ConnectorType) -> &'static str {
    match k {
        ConnectorType::Source => "source",
        ConnectorType::Sink => "sink",
        ConnectorType::Unknown => "unknown",
    }
}

impl Collector for ConnectCollector {
    fn desc(&self) -> Vec<&Desc> {
        Vec::new()
    }

    fn collect(&self) -> Vec<MetricFamily> {
        let herders: Vec<Arc<dyn Herder>> = self.herders.iter().filter_map(Weak::upgrade).collect();
        if herders.is_empty() {
            return Vec::new();
        }
        let mut connector_state = FamilyBuilder::gauge(
            "weft_connect_connector_state",
            "1 for the connector's current state, 0 for the others.",
        );
        let mut task_state = FamilyBuilder::gauge(
            "weft_connect_task_state",
            "1 for the task's current state, 0 for the others.",
        );
        let mut polled = FamilyBuilder::counter(
            "weft_connect_source_task_records_polled_total",
            "Records a source task polled from its component.",
        );
        let mut produced = FamilyBuilder::counter(
            "weft_connect_source_task_records_produced_total",
            "Records of a source task the cluster acknowledged.",
        );
        let mut put = FamilyBuilder::counter(
            "weft_connect_sink_task_records_put_total",
            "Records a sink task put into its component.",
        );
        let mut errors = FamilyBuilder::counter(
            "weft_connect_task_record_errors_total",
            "Records that failed (sent to the DLQ or skipped under errors.tolerance=all).",
        );
        let mut dlq = FamilyBuilder::counter(
            "weft_connect_task_dlq_records_total",
            "Records written to the dead-letter queue.",
        );
        let mut rate = FamilyBuilder::gauge(
            "weft_connect_task_records_per_second",
            "Records per second over the last few seconds.",
        );
        let mut wasm = FamilyBuilder::gauge(
            "weft_connect_task_wasm_seconds_per_record",
            "Mean time spent inside the task's component per record.",
        );
        let mut memory = FamilyBuilder::gauge(
            "weft_connect_task_plugin_memory_bytes",
            "Linear memory the task's component instance holds.",
        );
        let mut traps = FamilyBuilder::counter(
            "weft_connect_task_traps_total",
            "Calls into the task's components that trapped, by kind (deadline, out-of-memory, unreachable, other).",
        );
        let mut plugin_counters = FamilyBuilder::counter(
            "weft_connect_plugin_counter_total",
            "What the task's connector component counted with counter-add, by the name it gave (label metric).",
        );
        let mut plugin_gauges = FamilyBuilder::gauge(
            "weft_connect_plugin_gauge",
            "What the task's connector component last set with gauge-set, by the name it gave (label metric).",
        );
        let mut commits = FamilyBuilder::histograms(
            "weft_connect_task_offset_commit_duration_seconds",
            "Time an offset commit took: a source's write to the offset store, a sink's pre-commit and commit to its group.",
        );
        for (herder, name) in herders
            .iter()
            .flat_map(|h| h.connectors().into_iter().map(move |n| (h, n)))
        {
            let Ok(status) = herder.connector_status(&name) else {
                continue;
            };
            let kind = kind_name(status.kind);
            for (s, n) in STATES {
                let v = if s == status.connector.state {
                    1.0
                } else {
                    0.0
                };
                connector_state.add(&[("connector", &name), ("type", kind), ("state", n)], v);
            }
            for t in &status.tasks {
                let id = t.id.to_string();
                let l = [("connector", name.as_str()), ("task", id.as_str())];
                for (s, n) in STATES {
                    let v = if s == t.state { 1.0 } else { 0.0 };
                    task_state.add(&[l[0], l[1], ("type", kind), ("state", n)], v);
                }
                let Some(m) = &t.metrics else { continue };
                match status.kind {
                    ConnectorType::Sink => put.add(&l, m.records_total as f64),
                    _ => {
                        produced.add(&l, m.records_produced_total as f64);
                        polled.add(&l, m.records_total as f64)
                    }
                };
                for k in TrapKind::ALL {
                    traps.add(&[l[0], l[1], ("kind", k.as_str())], m.traps.get(k) as f64);
                }
                commits.buckets(&l, &m.offset_commit_seconds);
                errors.add(&l, m.errors_total as f64);
                dlq.add(&l, m.dlq_records_total as f64);
                rate.add(&l, m.records_per_second);
                wasm.add(&l, m.wasm_ns_per_record / 1e9);
                memory.add(&l, m.plugin_memory_bytes as f64);
                for (metric, v) in &m.plugin_counters {
                    plugin_counters.add(&[l[0], l[1], ("metric", metric)], *v as f64);
                }
                for (metric, v) in &m.plugin_gauges {
                    plugin_gauges.add(&[l[0], l[1], ("metric", metric)], *v);
                }
            }
        }
        let mut out = Vec::new();
        for f in [
            connector_state,
            task_state,
            polled,
            produced,
            put,
            errors,
            dlq,
            rate,
            wasm,
            memory,
            traps,
            plugin_counters,
            plugin_gauges,
            commits,
        ] {
            f.push_to(&mut out);
        }
        out
    }
}
