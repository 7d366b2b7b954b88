//! Prometheus' text exposition format, version 0.0.4: every family with
//! its `# HELP` and `# TYPE` line, then its samples. Hand-written: the pool
//! keeps its own counters, so a client library would only add a copy.

use crate::latency::{LatencySnapshot, BUCKET_BOUNDS_SECS};
use std::fmt::Write as _;

/// What `/metrics` answers with.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Counter,
    Gauge,
    Histogram,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
            Kind::Histogram => "histogram",
        }
    }
}

/// A sample's value: counts stay exact integers.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Value {
    Count(u64),
    Float(f64),
}

impl From<u64> for Value {
    fn from(count: u64) -> Value {
        Value::Count(count)
    }
}

impl From<f64> for Value {
    fn from(value: f64) -> Value {
        Value::Float(value)
    }
}

/// The text of one scrape, written family by family.
#[derive(Debug, Default)]
pub struct Exposition {
    text: String,
}

impl Exposition {
    /// Starts a family: its HELP and TYPE lines.
    pub fn family(&mut self, name: &str, kind: Kind, help: &str) -> &mut Exposition {
        let help = help.replace('\\', "\\\\").replace('\n', "\\n");
        let _ = writeln!(self.text, "# HELP {name} {help}");
        let _ = writeln!(self.text, "# TYPE {name} {}", kind.name());
        self
    }

    pub fn sample(
        &mut self,
        name: &str,
        labels: &[(&str, &str)],
        value: impl Into<Value>,
    ) -> &mut Exposition {
        self.text.push_str(name);
        write_labels(&mut self.text, labels, None);
        self.text.push(' ');
        write_value(&mut self.text, value.into());
        self.text.push('\n');
        self
    }

    /// The `_bucket`, `_sum` and `_count` samples of one histogram.
    pub fn histogram(
        &mut self,
        name: &str,
        labels: &[(&str, &str)],
        latency: &LatencySnapshot,
    ) -> &mut Exposition {
        let bucket = format!("{name}_bucket");
        for (bound, cumulative) in BUCKET_BOUNDS_SECS.iter().zip(latency.cumulative) {
            self.text.push_str(&bucket);
            write_labels(&mut self.text, labels, Some(&bound.to_string()));
            let _ = writeln!(self.text, " {cumulative}");
        }
        self.text.push_str(&bucket);
        write_labels(&mut self.text, labels, Some("+Inf"));
        let _ = writeln!(self.text, " {}", latency.count);
        self.sample(&format!("{name}_sum"), labels, latency.sum_secs());
        self.sample(&format!("{name}_count"), labels, latency.count)
    }

    pub fn finish(self) -> String {
        self.text
    }
}

fn write_labels(text: &mut String, labels: &[(&str, &str)], le: Option<&str>) {
    let le = le.map(|le| ("le", le));
    if labels.is_empty() && le.is_none() {
        return;
    }
    text.push('{');
    for (index, (name, value)) in labels.iter().copied().chain(le).enumerate() {
        if index > 0 {
            text.push(',');
        }
        let value = value
            .replace('\\', "\\\\")
            .replace('"', "\\\"")
            .replace('\n', "\\n");
        let _ = write!(text, "{name}=\"{value}\"");
    }
    text.push('}');
}

fn write_value(text: &mut String, value: Value) {
    let _ = match value {
        Value::Count(count) => write!(text, "{count}"),
        Value::Float(value) if value.is_nan() => write!(text, "NaN"),
        Value::Float(value) if value == f64::INFINITY => write!(text, "+Inf"),
        Value::Float(value) if value == f64::NEG_INFINITY => write!(text, "-Inf"),
        // Rust's shortest round-trip form: Go's ParseFloat reads it back.
        Value::Float(value) => write!(text, "{value}"),
    };
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::latency::LatencyHistogram;
    use std::time::Duration;

    #[test]
    fn families_samples_and_escaping() {
        let mut out = Exposition::default();
        out.family("pool_things_total", Kind::Counter, "Things.\nAnd \\ more.")
            .sample("pool_things_total", &[("kind", "a\"b\\c\nd")], 3u64)
            .sample("pool_things_total", &[("kind", "x"), ("node", "y")], 0u64);
        out.family("pool_age_seconds", Kind::Gauge, "Age.")
            .sample("pool_age_seconds", &[], f64::INFINITY)
            .sample("pool_age_seconds", &[], 0.25)
            .sample("pool_age_seconds", &[], f64::NAN);
        assert_eq!(
            out.finish(),
            "# HELP pool_things_total Things.\\nAnd \\\\ more.\n\
             # TYPE pool_things_total counter\n\
             pool_things_total{kind=\"a\\\"b\\\\c\\nd\"} 3\n\
             pool_things_total{kind=\"x\",node=\"y\"} 0\n\
             # HELP pool_age_seconds Age.\n\
             # TYPE pool_age_seconds gauge\n\
             pool_age_seconds +Inf\n\
             pool_age_seconds 0.25\n\
             pool_age_seconds NaN\n"
        );
    }

    #[test]
    fn histograms_end_with_inf_sum_and_count() {
        let histogram = LatencyHistogram::default();
        histogram.observe(Duration::from_millis(3));
        histogram.observe(Duration::from_secs(90));
        let mut out = Exposition::default();
        out.family("pool_x_seconds", Kind::Histogram, "X.")
            .histogram("pool_x_seconds", &[("method", "m")], &histogram.snapshot());
        let text = out.finish();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2 + BUCKET_BOUNDS_SECS.len() + 3, "{text}");
        assert!(lines.contains(&"pool_x_seconds_bucket{method=\"m\",le=\"0.0025\"} 0"));
        assert!(lines.contains(&"pool_x_seconds_bucket{method=\"m\",le=\"0.005\"} 1"));
        assert!(lines.contains(&"pool_x_seconds_bucket{method=\"m\",le=\"60\"} 1"));
        assert!(lines.contains(&"pool_x_seconds_bucket{method=\"m\",le=\"+Inf\"} 2"));
        assert!(lines.contains(&"pool_x_seconds_sum{method=\"m\"} 90.003"));
        assert!(lines.contains(&"pool_x_seconds_count{method=\"m\"} 2"));
    }
}
