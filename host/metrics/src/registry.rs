//! The process-wide exporter: collectors and health checks registered by name (a later
//! registration under the same name replaces the earlier one, so a restarted part does not
//! duplicate its series), gathered into one text exposition per scrape.

use std::sync::{Arc, OnceLock, RwLock};

use prometheus::core::Collector;
use prometheus::proto::MetricFamily;
use prometheus::{Encoder, TextEncoder};

use crate::health::{Check, HealthReport};

type HealthFn = Arc<dyn Fn() -> Check + Send + Sync>;

/// Collectors and checks for the whole process.
pub struct Exporter {
    collectors: RwLock<Vec<(String, Arc<dyn Collector>)>>,
    checks: RwLock<Vec<(String, HealthFn)>>,
}

/// The process's exporter, with the process collector (RSS, CPU, open files from /proc) in it.
pub fn global() -> &'static Exporter {
    static GLOBAL: OnceLock<Exporter> = OnceLock::new();
    GLOBAL.get_or_init(|| {
        let e = Exporter::new();
        e.register(
            "process",
            Arc::new(prometheus::process_collector::ProcessCollector::for_self()),
        );
        e
    })
}

impl Default for Exporter {
    fn default() -> Self {
        Self::new()
    }
}

impl Exporter {
    pub fn new() -> Exporter {
        Exporter {
            collectors: RwLock::new(Vec::new()),
            checks: RwLock::new(Vec::new()),
        }
    }

    /// Adds (or replaces) the collector called `name`.
    pub fn register(&self, name: &str, collector: Arc<dyn Collector>) {
        let mut g = self.collectors.write().unwrap_or_else(|p| p.into_inner());
        g.retain(|(n, _)| n != name);
        g.push((name.to_string(), collector));
    }

    /// Removes the collector called `name`, if any.
    pub fn unregister(&self, name: &str) {
        let mut g = self.collectors.write().unwrap_or_else(|p| p.into_inner());
        g.retain(|(n, _)| n != name);
    }

    /// Adds (or replaces) the health check called `name`.
    pub fn register_check(&self, name: &str, check: impl Fn() -> Check + Send + Sync + 'static) {
        let mut g = self.checks.write().unwrap_or_else(|p| p.into_inner());
        g.retain(|(n, _)| n != name);
        g.push((name.to_string(), Arc::new(check)));
    }

    /// Removes the health check called `name`, if any.
    pub fn unregister_check(&self, name: &str) {
        let mut g = self.checks.write().unwrap_or_else(|p| p.into_inner());
        g.retain(|(n, _)| n != name);
    }

    /// Every family of every collector, sorted by name. May block briefly (collectors read
    /// caches under short locks): call it from a blocking thread.
    pub fn gather(&self) -> Vec<MetricFamily> {
        let collectors: Vec<Arc<dyn Collector>> = self
            .collectors
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .map(|(_, c)| c.clone())
            .collect();
        let mut families: Vec<MetricFamily> = collectors
            .iter()
            .flat_map(|c| c.collect())
            .filter(|f| !f.get_metric().is_empty())
            .collect();
        families.sort_by(|a, b| a.name().cmp(b.name()));
        families
    }

    /// The scrape: every family in Prometheus' text format.
    pub fn render(&self) -> Result<String, prometheus::Error> {
        let families = self.gather();
        let mut buf = Vec::with_capacity(64 * 1024);
        TextEncoder::new().encode(&families, &mut buf)?;
        String::from_utf8(buf).map_err(|e| prometheus::Error::Msg(e.to_string()))
    }

    /// Runs every health check.
    pub fn health(&self) -> HealthReport {
        let checks: Vec<(String, HealthFn)> = self
            .checks
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        HealthReport {
            checks: checks.into_iter().map(|(n, f)| (n, f())).collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::FamilyBuilder;

    struct Fixed(&'static str, f64);

    impl Collector for Fixed {
        fn desc(&self) -> Vec<&prometheus::core::Desc> {
            Vec::new()
        }
        fn collect(&self) -> Vec<MetricFamily> {
            let mut f = FamilyBuilder::gauge(self.0, "A fixed value.");
            f.add(&[("k", "v")], self.1);
            vec![f.finish()]
        }
    }

    #[test]
    fn a_registration_under_the_same_name_replaces_the_earlier_one() {
        let e = Exporter::new();
        e.register("a", Arc::new(Fixed("weft_test_a", 1.0)));
        e.register("a", Arc::new(Fixed("weft_test_a", 2.0)));
        e.register("b", Arc::new(Fixed("weft_test_b", 3.0)));
        let text = e.render().unwrap();
        assert!(text.contains("weft_test_a{k=\"v\"} 2\n"), "{text}");
        assert!(!text.contains("weft_test_a{k=\"v\"} 1\n"), "{text}");
        assert!(text.contains("weft_test_b{k=\"v\"} 3\n"), "{text}");
        e.unregister("b");
        assert!(!e.render().unwrap().contains("weft_test_b"));
    }

    #[test]
    fn health_is_down_when_any_check_fails() {
        let e = Exporter::new();
        e.register_check("broker", || Check::ok("serving"));
        assert!(e.health().healthy());
        e.register_check("log_dirs", || Check::failing("1 of 2 offline"));
        let h = e.health();
        assert!(!h.healthy());
        assert_eq!(h.to_json()["checks"]["log_dirs"]["status"], "unhealthy");
        assert_eq!(h.to_json()["checks"]["broker"]["status"], "healthy");
        assert_eq!(h.to_json()["status"], "unhealthy");
        assert_eq!(h.to_json()["message"], "log_dirs: 1 of 2 offline");
    }
}
