//! A connection's hashrate, measured in difficulty-1 shares per second.
//!
//! ckpool's estimator, made exact: every accepted share adds the
//! difficulty it was credited at, and older work fades with
//! `e^(-age/τ)`. Dividing by the same weight integrated over the time
//! observed, `τ·(1 − e^(-observed/τ))`, gives an unbiased rate from the
//! first seconds on (ckpool's `time_bias` correction, in closed form), and
//! the rate keeps falling while no share arrives.
//!
//! The clock starts at the first share, whose own work is left out: the
//! time before it holds connection set-up and the first job's latency, not
//! hashing. A share of difficulty d stands for d·2^32 hashes on average.

use std::time::{Duration, Instant};

/// Hashes behind one share of difficulty 1.
pub(crate) const HASHES_PER_DIFF1_SHARE: f64 = 4_294_967_296.0;

#[derive(Debug, Clone)]
pub(crate) struct RateEstimator {
    /// Decay time constant in seconds.
    tau: f64,
    /// The first share: observation starts here.
    origin: Option<Instant>,
    /// The latest share recorded.
    last: Option<Instant>,
    /// Σ difficulty · e^(-(last − t)/τ) over the shares after the first.
    decayed_work: f64,
    /// Shares after the first (saturating; only compared with small
    /// thresholds).
    samples: u64,
}

impl RateEstimator {
    pub(crate) fn new(tau: Duration) -> RateEstimator {
        RateEstimator {
            tau: tau.as_secs_f64().max(1e-3),
            origin: None,
            last: None,
            decayed_work: 0.0,
            samples: 0,
        }
    }

    /// An accepted share credited at `difficulty` (not necessarily the
    /// current one: the difficulty of the job it answers).
    pub(crate) fn record(&mut self, difficulty: f64, at: Instant) {
        let Some(last) = self.last else {
            self.origin = Some(at);
            self.last = Some(at);
            return;
        };
        // A share reported out of order counts as arriving with the latest.
        let age = at.saturating_duration_since(last).as_secs_f64();
        // Kept finite: an infinite sum would decay to ∞ × 0 = NaN.
        self.decayed_work =
            (self.decayed_work * (-age / self.tau).exp() + difficulty).min(f64::MAX);
        self.last = Some(last.max(at));
        self.samples = self.samples.saturating_add(1);
    }

    /// Difficulty-1 shares per second at `now`; `None` before two shares
    /// span any time.
    pub(crate) fn rate(&self, now: Instant) -> Option<f64> {
        let (origin, last) = (self.origin?, self.last?);
        let observed = now.saturating_duration_since(origin).as_secs_f64();
        if self.samples == 0 || observed <= 0.0 {
            return None;
        }
        let since_last = now.saturating_duration_since(last).as_secs_f64();
        let work = self.decayed_work * (-since_last / self.tau).exp();
        let window = self.tau * -(-observed / self.tau).exp_m1();
        Some(work / window)
    }

    /// Shares behind the estimate (the first one only started the clock).
    pub(crate) fn samples(&self) -> u64 {
        self.samples
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(value: f64) -> Duration {
        Duration::from_secs_f64(value)
    }

    #[test]
    fn no_estimate_before_two_shares() {
        let start = Instant::now();
        let mut estimator = RateEstimator::new(secs(300.0));
        assert_eq!(estimator.rate(start), None);
        estimator.record(8.0, start + secs(5.0));
        assert_eq!(estimator.rate(start + secs(6.0)), None);
        assert_eq!(estimator.samples(), 0);
    }

    #[test]
    fn regular_shares_give_their_rate() {
        let start = Instant::now();
        let mut estimator = RateEstimator::new(secs(300.0));
        // One share of difficulty 20 every 10 s: 2 difficulty-1 shares per second.
        for step in 0..=1000 {
            estimator.record(20.0, start + secs(10.0 * step as f64));
        }
        let rate = estimator.rate(start + secs(10_000.0)).unwrap();
        // Shares at the ends of intervals sit half an interval late on average.
        assert!((rate / 2.0 - 1.0).abs() < 0.02, "{rate}");
        // Early on too: the time bias is corrected.
        let mut early = RateEstimator::new(secs(300.0));
        for step in 0..=3 {
            early.record(20.0, start + secs(10.0 * step as f64));
        }
        let rate = early.rate(start + secs(30.0)).unwrap();
        assert!((rate / 2.0 - 1.0).abs() < 0.03, "{rate}");
    }

    #[test]
    fn weights_by_the_credited_difficulty() {
        let start = Instant::now();
        let mut estimator = RateEstimator::new(secs(300.0));
        // 40 s at difficulty 10 every second, then 40 s at difficulty 40
        // every 4 s: the same hashrate throughout.
        for step in 0..=40 {
            estimator.record(10.0, start + secs(step as f64));
        }
        for step in 1..=10 {
            estimator.record(40.0, start + secs(40.0 + 4.0 * step as f64));
        }
        let rate = estimator.rate(start + secs(80.0)).unwrap();
        assert!((rate / 10.0 - 1.0).abs() < 0.03, "{rate}");
    }

    #[test]
    fn extreme_difficulties_give_a_finite_rate() {
        // A year of 1 EH/s arriving as huge shares at one instant, then the
        // largest difficulty an f64 holds: the estimate is large, never NaN,
        // and after a long silence it decays to zero (not ∞ × 0).
        let start = Instant::now();
        let mut estimator = RateEstimator::new(secs(300.0));
        estimator.record(1.0, start);
        for _ in 0..1_000 {
            estimator.record(7.3e15, start + secs(1.0));
        }
        let rate = estimator.rate(start + secs(2.0)).unwrap();
        assert!(rate.is_finite() && rate > 7.3e15, "{rate}");
        estimator.record(f64::MAX, start + secs(3.0));
        estimator.record(f64::MAX, start + secs(3.0));
        let rate = estimator.rate(start + secs(4.0)).unwrap();
        assert!(!rate.is_nan() && rate > 0.0, "{rate}");
        let silent = estimator.rate(start + secs(1e9)).unwrap();
        assert_eq!(silent, 0.0);
    }

    #[test]
    fn silence_lowers_the_rate() {
        let start = Instant::now();
        let mut estimator = RateEstimator::new(secs(300.0));
        for step in 0..=100 {
            estimator.record(1.0, start + secs(step as f64));
        }
        let busy = estimator.rate(start + secs(100.0)).unwrap();
        let quiet = estimator.rate(start + secs(400.0)).unwrap();
        assert!(quiet < busy * 0.5, "{busy} {quiet}");
    }
}
