//! A lock-free latency histogram with fixed buckets, for `/metrics`: the
//! ledger's commits and bitcoind's RPC calls share one set of bounds, so
//! a dashboard can put them side by side.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Upper bounds of the buckets, in seconds: from a fast SQLite commit
/// (sub-millisecond) to a `submitblock` on a full mainnet block (tens of
/// seconds).
pub const BUCKET_BOUNDS_SECS: [f64; 16] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
    60.0,
];

/// Observations in each bucket, the last one being above every bound.
const SLOTS: usize = BUCKET_BOUNDS_SECS.len() + 1;

#[derive(Debug, Default)]
pub struct LatencyHistogram {
    /// Per bucket, not cumulative: one `fetch_add` an observation.
    slots: [AtomicU64; SLOTS],
    sum_micros: AtomicU64,
}

/// A copy of a histogram at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LatencySnapshot {
    /// Observations at or below each of [`BUCKET_BOUNDS_SECS`], cumulative
    /// as Prometheus wants them.
    pub cumulative: [u64; BUCKET_BOUNDS_SECS.len()],
    /// Every observation (the `+Inf` bucket).
    pub count: u64,
    pub sum_micros: u64,
}

impl LatencySnapshot {
    pub fn sum_secs(&self) -> f64 {
        self.sum_micros as f64 / 1e6
    }
}

impl LatencyHistogram {
    pub fn observe(&self, elapsed: Duration) {
        let secs = elapsed.as_secs_f64();
        let slot = BUCKET_BOUNDS_SECS
            .iter()
            .position(|bound| secs <= *bound)
            .unwrap_or(SLOTS - 1);
        self.slots[slot].fetch_add(1, Ordering::Relaxed);
        let micros = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX);
        self.sum_micros.fetch_add(micros, Ordering::Relaxed);
    }

    pub fn snapshot(&self) -> LatencySnapshot {
        let mut snapshot = LatencySnapshot {
            sum_micros: self.sum_micros.load(Ordering::Relaxed),
            ..LatencySnapshot::default()
        };
        // The count is summed from the slots (not kept apart) so that the
        // `+Inf` bucket always equals the count, even mid-observation.
        let mut running = 0;
        for (slot, counter) in self.slots.iter().enumerate() {
            running += counter.load(Ordering::Relaxed);
            if let Some(cumulative) = snapshot.cumulative.get_mut(slot) {
                *cumulative = running;
            }
        }
        snapshot.count = running;
        snapshot
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_cumulative_and_end_at_the_count() {
        let histogram = LatencyHistogram::default();
        histogram.observe(Duration::from_micros(100)); // first bucket
        histogram.observe(Duration::from_millis(1)); // exactly a bound: that bucket
        histogram.observe(Duration::from_millis(300)); // 0.5
        histogram.observe(Duration::from_secs(120)); // above every bound
        let snapshot = histogram.snapshot();
        assert_eq!(snapshot.count, 4);
        assert_eq!(snapshot.cumulative[0], 1);
        assert_eq!(snapshot.cumulative[1], 2);
        let half_second = BUCKET_BOUNDS_SECS.iter().position(|b| *b == 0.5).unwrap();
        assert_eq!(snapshot.cumulative[half_second - 1], 2);
        assert_eq!(snapshot.cumulative[half_second], 3);
        assert_eq!(*snapshot.cumulative.last().unwrap(), 3);
        assert_eq!(snapshot.sum_micros, 100 + 1_000 + 300_000 + 120_000_000);
        assert!((snapshot.sum_secs() - 120.3011).abs() < 1e-9);
    }

    #[test]
    fn bounds_increase() {
        assert!(BUCKET_BOUNDS_SECS.windows(2).all(|pair| pair[0] < pair[1]));
    }
}
