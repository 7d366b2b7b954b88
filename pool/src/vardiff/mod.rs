//! Vardiff: each connection's share difficulty, one `Vardiff` per
//! connection. Sans-io: the session passes the time in and sends whatever
//! difficulty comes back (it applies from the next job on).
//!
//! The aim is one share per `share_interval` (10 s by default). Constants
//! below count in share intervals, so another interval keeps the behaviour.
//!
//! - **Estimate.** The hashrate is a decaying average of difficulty-weighted
//!   shares ([`estimator`]), window τ = 30 intervals (ckpool's 5-minute
//!   window at 10 s). Every share counts at the difficulty it was credited
//!   at, so shares on jobs from before a retarget do not skew it. The
//!   difficulty that would give one share per interval is
//!   `ideal = rate · interval`.
//! - **Hysteresis.** Nothing changes while `ideal` is within [½, 2]× the
//!   current difficulty. Outside, the difficulty goes straight to `ideal`
//!   once the evidence is in: 8 shares behind the estimate, and 24 shares
//!   at the current difficulty or 24 intervals since the last change
//!   (ckpool waits for 72 shares or 240 s at its 18 shares a minute).
//! - **Fine tuning.** The estimate over 30 intervals is only good to about
//!   ±25 %, so the band above is wide. After 64 shares at one difficulty,
//!   the work credited since the change over the time since is good to
//!   ±12 %: when it puts `ideal` outside [¾, 4/3]× the current difficulty,
//!   the difficulty moves to it. A steady miner then sits within a third
//!   of its aim; a false alarm (2.3 standard deviations, and 64 fresh
//!   shares before the next look) comes once in several hours.
//! - **Fast start.** 16 shares at the current difficulty that put `ideal`
//!   more than 8× above it are enough (a big ASIC flooding at the start
//!   difficulty: well under a second): straight to `ideal`, not in doubling
//!   steps. Fewer shares, or a lower factor, let a lucky burst from a miner
//!   only a few times too fast overshoot its aim.
//! - **Silence.** No share for 6 intervals (a minute at 10 s) halves the
//!   difficulty, again every 6 silent intervals. Once the estimate stands on
//!   8 shares the fuse is 12 intervals: a minute without a share happens
//!   about once an hour to a miner exactly on target, twelve intervals once
//!   in months, and a real slowdown also shows in the falling estimate.
//! - **Bounds.** Every difficulty lies in [floor, cap]: the floor is `min`
//!   or the miner's suggestion, whichever is higher; the cap is `max` or the
//!   network difficulty, whichever is lower, and wins over the floor (a
//!   share harder than a block is pointless).
//! - **Suggestions** (`mining.suggest_difficulty`, the password's `d=`): the
//!   difficulty moves to the suggestion (rounded up, within the cap) and it
//!   becomes this connection's floor; vardiff keeps raising from there.
//!   A later suggestion replaces it, lower or higher. Suggestions less than
//!   10 s after the last one honoured are ignored.
//! - **Values** are on a ladder firmware parses ([`ladder`]): integers
//!   from 1 up, decimal fractions of three significant digits below 1.

mod estimator;
mod ladder;

use estimator::{RateEstimator, HASHES_PER_DIFF1_SHARE};
use ladder::{on_ladder, Rounding};
use std::time::{Duration, Instant};
use stratum::Difficulty;

/// The decaying average's time constant, in share intervals.
const WINDOW_INTERVALS: f64 = 30.0;
/// Keep the difficulty while `ideal / current` stays within these.
const LOWER_BELOW: f64 = 0.5;
const RAISE_ABOVE: f64 = 2.0;
/// Shares behind the estimate before it may move the difficulty.
const MIN_SAMPLES: u64 = 8;
/// Evidence since the last change before the hysteresis rule acts.
const SETTLE_SHARES: u32 = 24;
const SETTLE_INTERVALS: f64 = 24.0;
/// The fast start: this many shares at the current difficulty showing it
/// more than `FAST_RAISE` times too low.
const FAST_SHARES: u32 = 16;
const FAST_RAISE: f64 = 8.0;
/// Fine tuning: with this many shares at the current difficulty, the rate
/// since the change (±12 %) moves the difficulty when `ideal / current` is
/// outside these.
const FINE_SHARES: u32 = 64;
const FINE_LOWER_BELOW: f64 = 0.75;
const FINE_RAISE_ABOVE: f64 = 1.0 / FINE_LOWER_BELOW;
/// Silent intervals before halving; longer once the estimate stands on
/// `MIN_SAMPLES` shares.
const SILENT_INTERVALS: f64 = 6.0;
const SETTLED_SILENT_INTERVALS: f64 = 12.0;
/// Suggestions closer together than this after an honoured one are ignored.
pub const SUGGEST_COOLDOWN: Duration = Duration::from_secs(10);

/// A connection's vardiff settings (from `[stratum]`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct VardiffConfig {
    /// The time aimed for between a miner's shares (`share_interval_secs`).
    pub share_interval: Duration,
    pub min: Difficulty,
    /// `None`: no limit but the network difficulty.
    pub max: Option<Difficulty>,
    pub start: Difficulty,
}

/// The share difficulty of one connection. See the module docs.
#[derive(Debug, Clone)]
pub struct Vardiff {
    config: VardiffConfig,
    /// `share_interval` in seconds (at least 1 ms).
    interval: f64,
    current: Difficulty,
    network: Option<f64>,
    /// The latest honoured suggestion, on the ladder.
    suggested: Option<f64>,
    last_suggestion: Option<Instant>,
    estimator: RateEstimator,
    last_change: Instant,
    last_share: Option<Instant>,
    /// Shares credited at the current difficulty (or above) since it was set.
    shares_at_current: u32,
    /// Difficulty credited since the last change, at whatever difficulty.
    work_since_change: f64,
}

impl Vardiff {
    pub fn new(config: VardiffConfig, now: Instant) -> Vardiff {
        let interval = config.share_interval.as_secs_f64().max(1e-3);
        let mut vardiff = Vardiff {
            config,
            interval,
            current: config.start,
            network: None,
            suggested: None,
            last_suggestion: None,
            estimator: RateEstimator::new(Duration::from_secs_f64(interval * WINDOW_INTERVALS)),
            last_change: now,
            last_share: None,
            shares_at_current: 0,
            work_since_change: 0.0,
        };
        vardiff.current = vardiff.bounded(config.start.as_f64());
        vardiff
    }

    pub fn current(&self) -> Difficulty {
        self.current
    }

    /// An accepted share credited at `difficulty` (the job's difficulty,
    /// which may differ from `current()`). `Some(new)` when the difficulty
    /// should change now.
    pub fn on_share(&mut self, difficulty: Difficulty, now: Instant) -> Option<Difficulty> {
        self.estimator.record(difficulty.as_f64(), now);
        self.last_share = Some(self.last_share.map_or(now, |last| last.max(now)));
        if difficulty >= self.current {
            self.shares_at_current = self.shares_at_current.saturating_add(1);
        }
        self.work_since_change += difficulty.as_f64();
        self.evaluate(now)
    }

    /// Called every few seconds and before sending a job: the hysteresis
    /// rule on a rate that falls while no share comes, and the silence rule.
    pub fn on_tick(&mut self, now: Instant) -> Option<Difficulty> {
        if let Some(new) = self.evaluate(now) {
            return Some(new);
        }
        let quiet_since = self
            .last_share
            .map_or(self.last_change, |share| share.max(self.last_change));
        let fuse = if self.estimator.samples() >= MIN_SAMPLES {
            SETTLED_SILENT_INTERVALS
        } else {
            SILENT_INTERVALS
        };
        if seconds_since(quiet_since, now) >= fuse * self.interval {
            self.retarget(self.current.as_f64() / 2.0, now)
        } else {
            None
        }
    }

    /// `mining.suggest_difficulty` or the password's `d=`: the difficulty
    /// moves to the suggestion (rounded up, within the cap), which becomes
    /// this connection's floor. `None` when nothing changes, and for a
    /// suggestion within [`SUGGEST_COOLDOWN`] of the last one honoured.
    pub fn suggest(&mut self, difficulty: Difficulty, now: Instant) -> Option<Difficulty> {
        if self
            .last_suggestion
            .is_some_and(|last| seconds_since(last, now) < SUGGEST_COOLDOWN.as_secs_f64())
        {
            return None;
        }
        self.last_suggestion = Some(now);
        self.suggested = Some(on_ladder(difficulty.as_f64(), Rounding::Up));
        self.retarget(difficulty.as_f64(), now)
    }

    /// The network difficulty caps everything: `Some(lower)` when the
    /// current difficulty is above it (and `Some(higher)` in the odd case
    /// that a lower network difficulty had pushed it below the floor).
    pub fn set_network_difficulty(&mut self, network: f64) -> Option<Difficulty> {
        if !(network.is_finite() && network > 0.0) {
            return None;
        }
        self.network = Some(network);
        let bounded = self.bounded(self.current.as_f64());
        if bounded == self.current {
            return None;
        }
        // No clock here: the evidence gates keep running from the last change.
        self.current = bounded;
        Some(bounded)
    }

    /// Estimated hashrate in H/s: difficulty-weighted shares, decaying
    /// average over 30 share intervals; 0 before two shares.
    pub fn hashrate(&self, now: Instant) -> f64 {
        self.estimator.rate(now).unwrap_or(0.0) * HASHES_PER_DIFF1_SHARE
    }

    /// The fast-start, hysteresis and fine-tuning rules.
    fn evaluate(&mut self, now: Instant) -> Option<Difficulty> {
        let current = self.current.as_f64();
        let since_change = seconds_since(self.last_change, now);
        let rate = self.estimator.rate(now)?;
        let ideal = rate * self.interval;
        let ratio = ideal / current;
        let fast = self.shares_at_current >= FAST_SHARES && ratio > FAST_RAISE;
        let settled = self.estimator.samples() >= MIN_SAMPLES
            && (self.shares_at_current >= SETTLE_SHARES
                || since_change >= SETTLE_INTERVALS * self.interval);
        if fast || settled && !(LOWER_BELOW..=RAISE_ABOVE).contains(&ratio) {
            return self.retarget(ideal, now);
        }
        if self.shares_at_current >= FINE_SHARES && since_change > 0.0 {
            let fine_ideal = self.work_since_change / since_change * self.interval;
            if !(FINE_LOWER_BELOW..=FINE_RAISE_ABOVE).contains(&(fine_ideal / current)) {
                return self.retarget(fine_ideal, now);
            }
        }
        None
    }

    /// Moves to `target` (bounded, on the ladder) if that is a change.
    fn retarget(&mut self, target: f64, now: Instant) -> Option<Difficulty> {
        let new = self.bounded(target);
        if new == self.current {
            return None;
        }
        self.current = new;
        self.last_change = now;
        self.shares_at_current = 0;
        self.work_since_change = 0.0;
        Some(new)
    }

    /// `target` on the ladder, within [floor, cap].
    fn bounded(&self, target: f64) -> Difficulty {
        let floor = self
            .suggested
            .map_or(self.config.min.as_f64(), |suggested| {
                suggested.max(self.config.min.as_f64())
            });
        let cap = [self.config.max.map(|max| max.as_f64()), self.network]
            .into_iter()
            .flatten()
            .fold(f64::MAX, f64::min);
        let high = on_ladder(cap, Rounding::Down);
        let low = on_ladder(floor, Rounding::Up).min(high);
        let value = if target.is_finite() && target > 0.0 {
            on_ladder(target.clamp(low, high), Rounding::Nearest).clamp(low, high)
        } else {
            low
        };
        Difficulty::new(value).unwrap_or(self.current)
    }
}

fn seconds_since(earlier: Instant, now: Instant) -> f64 {
    now.saturating_duration_since(earlier).as_secs_f64()
}

#[cfg(test)]
mod tests;
