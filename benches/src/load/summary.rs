//! Latencies and outcomes, gathered per connection and merged at the end.

use serde::Serialize;
use std::collections::BTreeMap;
use std::time::Duration;

/// Latencies in microseconds; summarised once, at the end.
#[derive(Debug, Default, Clone)]
pub struct Latencies(Vec<u32>);

impl Latencies {
    pub fn record(&mut self, latency: Duration) {
        self.0
            .push(u32::try_from(latency.as_micros()).unwrap_or(u32::MAX));
    }

    pub fn merge(&mut self, other: Latencies) {
        self.0.extend(other.0);
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn summary(mut self) -> LatencySummary {
        self.0.sort_unstable();
        let at = |fraction: f64| -> f64 {
            if self.0.is_empty() {
                return 0.0;
            }
            // Nearest rank: the smallest value with `fraction` at or below it.
            let rank = (fraction * self.0.len() as f64).ceil() as usize;
            f64::from(self.0[rank.clamp(1, self.0.len()) - 1]) / 1000.0
        };
        LatencySummary {
            count: self.0.len() as u64,
            p50_ms: at(0.50),
            p99_ms: at(0.99),
            max_ms: at(1.0),
        }
    }
}

/// Percentiles in milliseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct LatencySummary {
    pub count: u64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

impl std::fmt::Display for LatencySummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms ({} samples)",
            self.p50_ms, self.p99_ms, self.max_ms, self.count
        )
    }
}

/// How the pool answered submits: `true`, an error code, or something else.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
pub struct Outcomes {
    pub accepted: u64,
    /// `result: false` without an error.
    pub refused: u64,
    /// By Stratum error code (21 stale, 22 duplicate, 23 low difficulty...).
    pub errors: BTreeMap<i64, u64>,
}

impl Outcomes {
    pub fn total(&self) -> u64 {
        self.accepted + self.refused + self.errors.values().sum::<u64>()
    }

    pub fn merge(&mut self, other: &Outcomes) {
        self.accepted += other.accepted;
        self.refused += other.refused;
        for (code, count) in &other.errors {
            *self.errors.entry(*code).or_default() += count;
        }
    }
}

impl std::fmt::Display for Outcomes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "accepted {}", self.accepted)?;
        if self.refused > 0 {
            write!(f, ", false {}", self.refused)?;
        }
        for (code, count) in &self.errors {
            write!(f, ", error {code}: {count}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_nearest_rank() {
        let mut latencies = Latencies::default();
        for micros in (1..=100).rev() {
            latencies.record(Duration::from_micros(micros * 1000));
        }
        let summary = latencies.summary();
        assert_eq!(summary.count, 100);
        assert_eq!(summary.p50_ms, 50.0);
        assert_eq!(summary.p99_ms, 99.0);
        assert_eq!(summary.max_ms, 100.0);
        assert_eq!(Latencies::default().summary(), LatencySummary::default());
    }

    #[test]
    fn outcomes_merge_by_code() {
        let mut total = Outcomes {
            accepted: 2,
            refused: 0,
            errors: [(23, 5)].into(),
        };
        total.merge(&Outcomes {
            accepted: 1,
            refused: 1,
            errors: [(23, 1), (21, 2)].into(),
        });
        assert_eq!(total.total(), 12);
        assert_eq!(
            total.to_string(),
            "accepted 3, false 1, error 21: 2, error 23: 6"
        );
    }
}
