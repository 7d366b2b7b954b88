//! Vardiff against simulated miners: shares arrive as a Poisson process
//! (exponential gaps, rate = hashrate / (difficulty · 2^32)) drawn from a
//! seeded generator, on simulated time. A retarget reaches the miner after
//! a latency, as with a real new job; shares until then are credited at the
//! old difficulty, as the session does.

use pool::vardiff::{Vardiff, VardiffConfig};
use std::time::{Duration, Instant};
use stratum::Difficulty;

const INTERVAL: f64 = 10.0;
const HASHES_PER_DIFF1: f64 = 4_294_967_296.0;
const TH: f64 = 1e12;
const GH: f64 = 1e9;
const MINUTE: f64 = 60.0;
const HOUR: f64 = 3600.0;

fn d(value: f64) -> Difficulty {
    Difficulty::new(value).unwrap()
}

fn config(start: f64, min: f64) -> VardiffConfig {
    VardiffConfig {
        share_interval: Duration::from_secs_f64(INTERVAL),
        min: d(min),
        max: None,
        start: d(start),
    }
}

/// The difficulty giving one share per interval.
fn ideal(hashrate: f64) -> f64 {
    hashrate * INTERVAL / HASHES_PER_DIFF1
}

/// splitmix64: small, seeded, good enough for arrival times.
struct Rng(u64);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn exponential(&mut self, mean: f64) -> f64 {
        let unit = (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
        -mean * (1.0 - unit).ln()
    }
}

fn assert_on_ladder(difficulty: Difficulty) {
    let value = difficulty.as_f64();
    assert!(
        value >= 1.0 && value.fract() == 0.0 || value < 1.0,
        "{value} is neither an integer from 1 up nor a fraction below 1"
    );
}

struct Miner {
    hashrate: f64,
    vardiff: Vardiff,
    rng: Rng,
    start: Instant,
    /// Simulated seconds since `start`.
    now: f64,
    /// The difficulty of the job the miner works on.
    working: Difficulty,
    /// A retarget on its way: the difficulty and when the miner has it.
    pending: Option<(Difficulty, f64)>,
    latency: f64,
    next_share: f64,
    next_tick: f64,
    /// Every accepted share: when, and the difficulty credited.
    shares: Vec<(f64, Difficulty)>,
    /// Every difficulty vardiff asked for, and when.
    changes: Vec<(f64, Difficulty)>,
}

impl Miner {
    const TICK: f64 = 5.0;
    /// When the first job reaches the miner.
    const FIRST_JOB: f64 = 0.5;

    fn new(hashrate: f64, config: VardiffConfig, seed: u64, latency: f64) -> Miner {
        let start = Instant::now();
        let vardiff = Vardiff::new(config, start);
        let working = vardiff.current();
        assert_on_ladder(working);
        let mut miner = Miner {
            hashrate,
            vardiff,
            rng: Rng(seed),
            start,
            now: 0.0,
            working,
            pending: None,
            latency,
            next_share: 0.0,
            next_tick: Self::TICK,
            shares: Vec::new(),
            changes: Vec::new(),
        };
        miner.next_share = Self::FIRST_JOB + miner.gap();
        miner
    }

    fn gap(&mut self) -> f64 {
        let mean = self.working.as_f64() * HASHES_PER_DIFF1 / self.hashrate;
        self.rng.exponential(mean)
    }

    fn instant(&self, at: f64) -> Instant {
        self.start + Duration::from_secs_f64(at)
    }

    fn record(&mut self, change: Option<Difficulty>) {
        if let Some(new) = change {
            assert_on_ladder(new);
            assert_eq!(new, self.vardiff.current());
            self.changes.push((self.now, new));
            self.pending = Some((new, self.now + self.latency));
        }
    }

    fn run_until(&mut self, end: f64) {
        loop {
            let applies = self.pending.map_or(f64::INFINITY, |(_, at)| at);
            let next = self.next_share.min(self.next_tick).min(applies);
            if next > end {
                self.now = end;
                return;
            }
            self.now = next;
            if next == applies {
                let (difficulty, _) = self.pending.take().unwrap();
                self.working = difficulty;
                // Exponential gaps have no memory: redraw at the new rate.
                self.next_share = self.now + self.gap();
            } else if next == self.next_share {
                let credited = self.working;
                self.shares.push((self.now, credited));
                let change = self.vardiff.on_share(credited, self.instant(self.now));
                self.record(change);
                self.next_share = self.now + self.gap();
            } else {
                self.next_tick += Self::TICK;
                let change = self.vardiff.on_tick(self.instant(self.now));
                self.record(change);
            }
        }
    }

    fn suggest(&mut self, difficulty: f64) -> Option<Difficulty> {
        let change = self.vardiff.suggest(d(difficulty), self.instant(self.now));
        self.record(change);
        change
    }

    fn set_network_difficulty(&mut self, network: f64) -> Option<Difficulty> {
        let change = self.vardiff.set_network_difficulty(network);
        self.record(change);
        change
    }

    fn current(&self) -> f64 {
        self.vardiff.current().as_f64()
    }

    fn hashrate_estimate(&self) -> f64 {
        self.vardiff.hashrate(self.instant(self.now))
    }

    /// Shares per interval over the last `window` seconds.
    fn share_rate(&self, window: f64) -> f64 {
        let since = self.now - window;
        let count = self.shares.iter().filter(|(at, _)| *at > since).count();
        count as f64 * INTERVAL / window
    }

    /// Retargets after `since` (suggestions and caps included).
    fn changes_after(&self, since: f64) -> usize {
        self.changes.iter().filter(|(at, _)| *at > since).count()
    }
}

const SEEDS: [u64; 8] = [1, 2, 3, 4, 5, 6, 7, 8];

#[test]
fn miners_100x_apart_converge_100x_apart() {
    for seed in SEEDS {
        let mut big = Miner::new(TH, config(1024.0, 0.0001), seed, 0.5);
        let mut small = Miner::new(10.0 * GH, config(1024.0, 0.0001), seed + 100, 0.5);
        big.run_until(20.0 * MINUTE);
        small.run_until(20.0 * MINUTE);
        let ratio = big.current() / small.current();
        assert!(
            (50.0..=200.0).contains(&ratio),
            "seed {seed}: {} vs {}",
            big.current(),
            small.current()
        );
        for miner in [&big, &small] {
            // The share rate the final difficulty gives, then the one seen
            // over the last 10 minutes (60 intervals: ±13 % of noise more).
            let off = miner.current() / ideal(miner.hashrate);
            assert!((0.5..=2.0).contains(&off), "seed {seed}: {off}");
            let rate = miner.share_rate(10.0 * MINUTE);
            assert!(
                (0.4..=2.5).contains(&rate),
                "seed {seed}: {rate} shares per interval"
            );
        }
    }
}

#[test]
fn a_big_asic_flooding_at_difficulty_1_is_lifted_within_seconds() {
    for seed in SEEDS {
        let hashrate = 100.0 * TH;
        let mut asic = Miner::new(hashrate, config(1.0, 1.0), seed, 0.05);
        asic.run_until(5.0);
        let (first_at, _) = asic.changes[0];
        let shares_before = asic.shares.iter().filter(|(at, _)| *at <= first_at).count();
        assert!(shares_before <= 16, "seed {seed}: {shares_before} shares");
        assert!(
            first_at < 1.0,
            "seed {seed}: first change after {first_at} s"
        );
        let off = asic.current() / ideal(hashrate);
        assert!((0.25..=4.0).contains(&off), "seed {seed}: {off}");
        asic.run_until(10.0 * MINUTE);
        let off = asic.current() / ideal(hashrate);
        assert!((0.5..=2.0).contains(&off), "seed {seed}: {off}");
    }
}

#[test]
fn a_tiny_miner_is_halved_down_to_a_fraction_on_target() {
    for seed in SEEDS {
        let hashrate = 50e3;
        let mut tiny = Miner::new(hashrate, config(1024.0, 0.0001), seed, 0.5);
        tiny.run_until(2.0 * HOUR);
        // Halvings while silent, one a minute.
        let first_share = tiny.shares[0].0;
        let mut previous = 1024.0;
        for &(at, difficulty) in tiny.changes.iter().filter(|(at, _)| *at < first_share) {
            let step = difficulty.as_f64() / previous;
            assert!(
                (0.49..=0.51).contains(&step),
                "seed {seed}: {previous} -> {difficulty:?}"
            );
            assert!(at >= 59.0, "seed {seed}");
            previous = difficulty.as_f64();
        }
        assert!(tiny.current() < 1.0 && tiny.current() >= 0.0001);
        let expected_rate = hashrate / (tiny.current() * HASHES_PER_DIFF1) * INTERVAL;
        assert!(
            (0.5..=2.0).contains(&expected_rate),
            "seed {seed}: {expected_rate}"
        );
        let rate = tiny.share_rate(HOUR);
        assert!((0.5..=2.0).contains(&rate), "seed {seed}: {rate}");
    }
}

#[test]
fn a_fractional_suggestion_is_honoured_exactly_and_floors() {
    let mut tiny = Miner::new(50e3, config(1024.0, 0.0001), 9, 0.5);
    assert_eq!(tiny.suggest(0.001), Some(d(0.001)));
    assert_eq!(tiny.vardiff.current().to_wire(), "0.001");
    tiny.run_until(HOUR);
    // Ten times the ideal, but the miner asked for it.
    assert_eq!(tiny.current(), 0.001);
}

#[test]
fn a_second_suggestion_within_the_window_is_ignored() {
    let mut miner = Miner::new(TH, config(1024.0, 0.0001), 10, 0.5);
    miner.run_until(30.0);
    assert_eq!(miner.suggest(4096.0), Some(d(4096.0)));
    miner.run_until(35.0);
    assert_eq!(miner.suggest(16.0), None);
    assert_eq!(miner.current(), 4096.0);
    miner.run_until(40.0);
    assert_eq!(miner.suggest(8192.0), Some(d(8192.0)));
}

#[test]
fn a_steady_miner_rarely_changes() {
    let (mut runs, mut all_changes) = (0, 0);
    for seed in SEEDS {
        for hashrate in [50e3, 500.0 * GH, 100.0 * TH] {
            let mut miner = Miner::new(hashrate, config(1024.0, 0.0001), seed, 0.5);
            miner.run_until(6.0 * HOUR);
            // Converged after 40 minutes (the tiny one halves for 25); then
            // over 5 h 20 min, about 1900 shares, at most about one change
            // an hour, and mostly none.
            let changes = miner.changes_after(40.0 * MINUTE);
            assert!(
                changes <= 6,
                "seed {seed}, {hashrate} H/s: {changes} changes"
            );
            runs += 1;
            all_changes += changes;
            let off = miner.current() / ideal(hashrate);
            assert!((0.5..=2.0).contains(&off), "seed {seed}: {off}");
        }
    }
    assert!(all_changes <= runs, "{all_changes} changes in {runs} runs");
}

#[test]
fn bounds_hold_for_every_difficulty() {
    let network = 3000.0;
    for seed in SEEDS {
        for hashrate in [50e3, 10.0 * GH, TH, 100.0 * TH] {
            let mut config = config(64.0, 0.01);
            config.max = Some(d(50_000.0));
            let mut miner = Miner::new(hashrate, config, seed, 0.5);
            miner.run_until(30.0 * MINUTE);
            let before = miner.current();
            let lowered = miner.set_network_difficulty(network);
            assert_eq!(lowered.is_some(), before > network, "seed {seed}");
            let cap_set = miner.now;
            miner.run_until(60.0 * MINUTE);
            for &(at, difficulty) in &miner.changes {
                let value = difficulty.as_f64();
                assert!((0.01..=50_000.0).contains(&value), "seed {seed}: {value}");
                assert!(at < cap_set || value <= network, "seed {seed}: {value}");
            }
        }
    }
}

#[test]
fn every_difficulty_is_on_the_ladder() {
    // `Miner::record` checks each one; this sweeps hashrates across 12
    // orders of magnitude and start difficulties that are off the ladder.
    let mut changes = 0;
    for (index, hashrate) in [1e3, 3e4, 7e6, 2e8, 5e10, 3.3e12, 1.7e14, 1e15]
        .into_iter()
        .enumerate()
    {
        for start in [1024.0, 1.5, 0.3333] {
            let mut miner = Miner::new(hashrate, config(start, 1e-6), index as u64, 0.5);
            assert!([1024.0, 2.0, 0.333].contains(&miner.current()));
            miner.run_until(40.0 * MINUTE);
            changes += miner.changes.len();
        }
    }
    assert!(changes > 100, "{changes}");
}

/// The estimate is a 30-interval average, good to about ±25 % in one run:
/// each within [0.4, 2.5] of the truth, their mean within [0.8, 1.25].
/// Shares weighted at the wrong difficulty would be off by up to 4×.
fn assert_estimates_right(estimates: &[f64]) {
    for estimate in estimates {
        assert!((0.4..=2.5).contains(estimate), "{estimates:?}");
    }
    let mean = estimates.iter().sum::<f64>() / estimates.len() as f64;
    assert!((0.8..=1.25).contains(&mean), "{mean} {estimates:?}");
}

#[test]
fn shares_at_the_old_difficulty_are_weighted_at_it() {
    let hashrate = TH;
    let (mut after_lowering, mut after_raising) = (Vec::new(), Vec::new());
    for seed in 1..=16 {
        // Lowered to a quarter two minutes in, while jobs at the old
        // difficulty keep coming back for three minutes. Counted at the
        // quarter, those shares would make the miner look 4× smaller.
        let mut miner = Miner::new(hashrate, config(2328.0, 1.0), seed, 3.0 * MINUTE);
        miner.run_until(2.0 * MINUTE);
        assert_eq!(miner.suggest(582.0), Some(d(582.0)));
        miner.run_until(5.0 * MINUTE);
        after_lowering.push(miner.hashrate_estimate() / hashrate);
        miner.run_until(30.0 * MINUTE);
        let off = miner.current() / ideal(hashrate);
        assert!((0.5..=2.0).contains(&off), "seed {seed}: {off}");

        // Raised from a quarter of the ideal, while jobs at the old
        // difficulty bring 4 shares an interval for a minute. Counted at
        // the new difficulty, they would make the miner look 4× bigger.
        let mut miner = Miner::new(hashrate, config(582.0, 1.0), seed, MINUTE);
        while miner.changes.is_empty() && miner.now < 5.0 * MINUTE {
            miner.run_until(miner.now + 1.0);
        }
        assert!(miner.current() > 1000.0, "seed {seed}: {}", miner.current());
        // The old jobs' minute is over; the estimate has seen all of it.
        miner.run_until(miner.now + MINUTE);
        after_raising.push(miner.hashrate_estimate() / hashrate);
        miner.run_until(30.0 * MINUTE);
        let off = miner.current() / ideal(hashrate);
        assert!((0.5..=2.0).contains(&off), "seed {seed}: {off}");
    }
    assert_estimates_right(&after_lowering);
    assert_estimates_right(&after_raising);
}
