//! The pool's hashrate over the last minutes, from the accepted-difficulty
//! counter: `difficulty × 2^32 / seconds`. A small ring of earlier readings
//! of the counter gives the window; each `/metrics` scrape adds one.

use std::collections::VecDeque;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

/// The gauge averages over (at least) this long, once the pool has run
/// that long: short enough to show a rig going away, long enough that
/// share luck at a few shares a minute does not swing it.
pub const HASHRATE_WINDOW: Duration = Duration::from_secs(300);

/// Readings closer together than this are not kept, so the ring stays
/// small whatever the scrape rate.
const SAMPLE_SPACING: Duration = Duration::from_secs(10);

/// Expected hashes per share of difficulty 1.
const HASHES_PER_DIFFICULTY: f64 = 4_294_967_296.0;

#[derive(Debug, Clone, Copy)]
struct Reading {
    at: Instant,
    /// `ServerStats::accepted_difficulty` then.
    difficulty: f64,
}

#[derive(Debug)]
pub struct HashrateWindow {
    readings: Mutex<VecDeque<Reading>>,
}

impl HashrateWindow {
    /// Starts with the counter as it is at `at` (the pool's start).
    pub fn starting_at(at: Instant, difficulty: f64) -> HashrateWindow {
        HashrateWindow {
            readings: Mutex::new(VecDeque::from([Reading { at, difficulty }])),
        }
    }

    /// Hashes per second since the newest reading at least
    /// [`HASHRATE_WINDOW`] old (or since the start, before that), given
    /// the counter's value `difficulty` at `now`; keeps the reading.
    pub fn rate(&self, now: Instant, difficulty: f64) -> f64 {
        let mut readings = self.readings.lock().unwrap_or_else(PoisonError::into_inner);
        // Older readings than the newest one past the window are not needed.
        while readings
            .get(1)
            .is_some_and(|next| now.saturating_duration_since(next.at) >= HASHRATE_WINDOW)
        {
            readings.pop_front();
        }
        let rate = readings.front().map_or(0.0, |base| {
            let seconds = now.saturating_duration_since(base.at).as_secs_f64();
            // The counter only grows; a reading out of order gives 0, not
            // a negative rate.
            let work = (difficulty - base.difficulty).max(0.0);
            if seconds > 0.0 {
                work * HASHES_PER_DIFFICULTY / seconds
            } else {
                0.0
            }
        });
        let spaced = readings
            .back()
            .is_none_or(|last| now.saturating_duration_since(last.at) >= SAMPLE_SPACING);
        if spaced {
            readings.push_back(Reading {
                at: now,
                difficulty,
            });
        }
        rate
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.readings
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn before_the_window_the_rate_is_since_the_start() {
        let start = Instant::now();
        let window = HashrateWindow::starting_at(start, 0.0);
        // 60 shares of difficulty 1 in 60 s: 2^32 / s.
        let rate = window.rate(start + Duration::from_secs(60), 60.0);
        assert_eq!(rate, HASHES_PER_DIFFICULTY);
    }

    #[test]
    fn after_the_window_old_work_no_longer_counts() {
        let start = Instant::now();
        let window = HashrateWindow::starting_at(start, 0.0);
        let at = |secs| start + Duration::from_secs(secs);
        // Difficulty 10 a second for 10 minutes, read every 15 s...
        for secs in (15..=600).step_by(15) {
            window.rate(at(secs), (secs * 10) as f64);
        }
        // ...then nothing for 5 minutes, read every 15 s: the rate falls
        // to 0 once the window holds only idle time.
        let mut rate = f64::NAN;
        for secs in (615..=900).step_by(15) {
            rate = window.rate(at(secs), 6_000.0);
        }
        assert_eq!(rate, 0.0);
        // Half the window busy, half idle: half the busy rate.
        let window = HashrateWindow::starting_at(start, 0.0);
        for secs in (15..=600).step_by(15) {
            window.rate(at(secs), (secs * 10) as f64);
        }
        let rate = window.rate(at(750), 6_000.0);
        let busy = 10.0 * HASHES_PER_DIFFICULTY;
        assert!((rate - busy / 2.0).abs() < busy * 1e-9, "{rate} vs {busy}");
    }

    #[test]
    fn frequent_scrapes_keep_the_ring_small() {
        let start = Instant::now();
        let window = HashrateWindow::starting_at(start, 0.0);
        for millis in (0..3_600_000).step_by(250) {
            window.rate(start + Duration::from_millis(millis), millis as f64);
        }
        let most = (HASHRATE_WINDOW.as_secs() / SAMPLE_SPACING.as_secs()) as usize + 2;
        assert!(window.len() <= most, "{} readings", window.len());
    }

    #[test]
    fn an_exahash_pool_a_year_on_still_reads_its_rate() {
        // 1 EH/s for a year before the pool started reading: the counter is
        // ~7.3e15. Five minutes more at 1 EH/s must read 1 EH/s.
        let start = Instant::now();
        let exahash = 1e18;
        let year = exahash * 365.25 * 86_400.0 / HASHES_PER_DIFFICULTY;
        let window = HashrateWindow::starting_at(start, year);
        let five_minutes = exahash * 300.0 / HASHES_PER_DIFFICULTY;
        let rate = window.rate(start + HASHRATE_WINDOW, year + five_minutes);
        assert!((rate / exahash - 1.0).abs() < 1e-9, "{rate}");
        // A reading below the base (never happens: the counter grows) is 0.
        assert_eq!(window.rate(start + HASHRATE_WINDOW * 2, 0.0), 0.0);
    }

    #[test]
    fn a_scrape_at_the_start_is_zero_not_a_division_by_zero() {
        let start = Instant::now();
        let window = HashrateWindow::starting_at(start, 0.0);
        assert_eq!(window.rate(start, 5.0), 0.0);
    }
}
