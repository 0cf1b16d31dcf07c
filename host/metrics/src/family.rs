//! Building metric families at scrape time: a named gauge or counter with labelled samples, or a
//! histogram family gathered from pre-registered histograms or from buckets kept as data.

use prometheus::core::Collector;
use prometheus::proto::{
    Bucket, Counter, Gauge, Histogram, LabelPair, Metric, MetricFamily, MetricType,
};

use crate::LatencyBuckets;

/// Label pairs from `(name, value)` tuples, in the order given.
pub fn labels(pairs: &[(&str, &str)]) -> Vec<LabelPair> {
    pairs
        .iter()
        .map(|(k, v)| {
            let mut l = LabelPair::default();
            l.set_name(k.to_string());
            l.set_value(v.to_string());
            l
        })
        .collect()
}

/// One metric family under construction.
pub struct FamilyBuilder {
    family: MetricFamily,
}

impl FamilyBuilder {
    fn new(name: &str, help: &str, kind: MetricType) -> FamilyBuilder {
        let mut family = MetricFamily::default();
        family.set_name(name.to_string());
        family.set_help(help.to_string());
        family.set_field_type(kind);
        FamilyBuilder { family }
    }

    /// A gauge family.
    pub fn gauge(name: &str, help: &str) -> FamilyBuilder {
        Self::new(name, help, MetricType::GAUGE)
    }

    /// A counter family (`name` ends in `_total`).
    pub fn counter(name: &str, help: &str) -> FamilyBuilder {
        Self::new(name, help, MetricType::COUNTER)
    }

    /// A histogram family, filled by [`FamilyBuilder::histogram`].
    pub fn histograms(name: &str, help: &str) -> FamilyBuilder {
        Self::new(name, help, MetricType::HISTOGRAM)
    }

    /// Adds a sample with `labels`.
    pub fn sample(&mut self, labels: Vec<LabelPair>, value: f64) -> &mut Self {
        let mut m = Metric::default();
        m.set_label(labels);
        match self.family.get_field_type() {
            MetricType::COUNTER => {
                let mut c = Counter::default();
                c.set_value(value);
                m.set_counter(c);
            }
            _ => {
                let mut g = Gauge::default();
                g.set_value(value);
                m.set_gauge(g);
            }
        }
        self.family.mut_metric().push(m);
        self
    }

    /// Adds a sample labelled by `(name, value)` pairs.
    pub fn add(&mut self, pairs: &[(&str, &str)], value: f64) -> &mut Self {
        self.sample(labels(pairs), value)
    }

    /// Adds the samples of a pre-registered histogram (its labels are its const labels).
    pub fn histogram(&mut self, h: &prometheus::Histogram) -> &mut Self {
        for mut f in h.collect() {
            self.family.mut_metric().append(&mut f.take_metric());
        }
        self
    }

    /// Adds a histogram sample labelled by `(name, value)` pairs from buckets kept as data.
    pub fn buckets(&mut self, pairs: &[(&str, &str)], b: &LatencyBuckets) -> &mut Self {
        let mut h = Histogram::default();
        h.set_sample_count(b.count());
        h.set_sample_sum(b.sum_seconds());
        h.set_bucket(
            b.cumulative()
                .map(|(upper, n)| {
                    let mut x = Bucket::default();
                    x.set_upper_bound(upper);
                    x.set_cumulative_count(n);
                    x
                })
                .collect(),
        );
        let mut m = Metric::default();
        m.set_label(labels(pairs));
        m.set_histogram(h);
        self.family.mut_metric().push(m);
        self
    }

    /// Whether no sample was added (an empty family is left out of the scrape).
    pub fn is_empty(&self) -> bool {
        self.family.get_metric().is_empty()
    }

    pub fn finish(self) -> MetricFamily {
        self.family
    }

    /// Pushes the family onto `out` unless it is empty.
    pub fn push_to(self, out: &mut Vec<MetricFamily>) {
        if !self.is_empty() {
            out.push(self.family);
        }
    }
}
