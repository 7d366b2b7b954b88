//! The rules one at a time, with hand-placed shares. Simulated miners
//! (Poisson share arrivals) are in `pool/tests/vardiff.rs`.

use super::*;

fn d(value: f64) -> Difficulty {
    Difficulty::new(value).unwrap()
}

fn secs(value: f64) -> Duration {
    Duration::from_secs_f64(value)
}

fn config(start: f64) -> VardiffConfig {
    VardiffConfig {
        share_interval: secs(10.0),
        min: d(0.0001),
        max: None,
        start: d(start),
    }
}

/// Shares of `difficulty` every `every` seconds from `from` for `count`
/// shares; returns the changes and the time of the last share.
fn steady(
    vardiff: &mut Vardiff,
    start: Instant,
    from: f64,
    every: f64,
    count: usize,
    difficulty: f64,
) -> (Vec<Difficulty>, f64) {
    let mut changes = Vec::new();
    let mut at = from;
    for _ in 0..count {
        at += every;
        changes.extend(vardiff.on_share(d(difficulty), start + secs(at)));
    }
    (changes, at)
}

#[test]
fn start_is_put_on_the_ladder() {
    let start = Instant::now();
    assert_eq!(Vardiff::new(config(1024.0), start).current(), d(1024.0));
    assert_eq!(Vardiff::new(config(42.5), start).current(), d(43.0));
    assert_eq!(Vardiff::new(config(42.0), start).current(), d(42.0));
    assert_eq!(
        Vardiff::new(config(0.00033333), start).current(),
        d(0.000333)
    );
}

#[test]
fn on_target_shares_change_nothing() {
    let start = Instant::now();
    let mut vardiff = Vardiff::new(config(100.0), start);
    let (changes, end) = steady(&mut vardiff, start, 0.0, 10.0, 500, 100.0);
    assert!(changes.is_empty(), "{changes:?}");
    for tick in 0..5 {
        assert_eq!(vardiff.on_tick(start + secs(end + tick as f64)), None);
    }
}

#[test]
fn fast_start_jumps_straight_to_the_estimate() {
    let start = Instant::now();
    let mut vardiff = Vardiff::new(config(1.0), start);
    // 1000 difficulty-1 shares per second: ideal 10000.
    let (changes, _) = steady(&mut vardiff, start, 1.0, 0.001, 15, 1.0);
    assert!(changes.is_empty(), "{changes:?}");
    let new = vardiff.on_share(d(1.0), start + secs(1.016)).unwrap();
    assert_eq!(new, d(10_000.0));
}

#[test]
fn twice_too_fast_waits_for_evidence_then_goes_to_the_estimate() {
    let start = Instant::now();
    let mut vardiff = Vardiff::new(config(100.0), start);
    // A share every 3.33 s: 3× too fast, below the fast-start threshold.
    let (changes, at) = steady(&mut vardiff, start, 0.0, 10.0 / 3.0, 23, 100.0);
    assert!(changes.is_empty(), "{changes:?}");
    let (changes, _) = steady(&mut vardiff, start, at, 10.0 / 3.0, 1, 100.0);
    assert_eq!(changes.len(), 1);
    let ratio = changes[0].as_f64() / 300.0;
    assert!((0.9..1.1).contains(&ratio), "{changes:?}");
}

#[test]
fn silence_halves_repeatedly_down_to_min() {
    let start = Instant::now();
    let mut config = config(8.0);
    config.min = d(1.0);
    let mut vardiff = Vardiff::new(config, start);
    assert_eq!(vardiff.on_tick(start + secs(59.0)), None);
    assert_eq!(vardiff.on_tick(start + secs(60.0)), Some(d(4.0)));
    assert_eq!(vardiff.on_tick(start + secs(100.0)), None);
    assert_eq!(vardiff.on_tick(start + secs(120.0)), Some(d(2.0)));
    assert_eq!(vardiff.on_tick(start + secs(180.0)), Some(d(1.0)));
    assert_eq!(vardiff.on_tick(start + secs(240.0)), None);
    assert_eq!(vardiff.on_tick(start + secs(10_000.0)), None);
    assert_eq!(vardiff.current(), d(1.0));
}

#[test]
fn a_share_restarts_the_silence_fuse() {
    let start = Instant::now();
    let mut vardiff = Vardiff::new(config(8.0), start);
    assert_eq!(vardiff.on_share(d(8.0), start + secs(50.0)), None);
    assert_eq!(vardiff.on_tick(start + secs(100.0)), None);
    assert_eq!(vardiff.on_tick(start + secs(110.0)), Some(d(4.0)));
}

#[test]
fn a_settled_miner_gets_a_longer_fuse() {
    let start = Instant::now();
    let mut vardiff = Vardiff::new(config(100.0), start);
    let (changes, end) = steady(&mut vardiff, start, 0.0, 10.0, 30, 100.0);
    assert!(changes.is_empty());
    assert_eq!(vardiff.on_tick(start + secs(end + 61.0)), None);
    assert_eq!(vardiff.on_tick(start + secs(end + 100.0)), None);
    let late = vardiff.on_tick(start + secs(end + 121.0));
    assert!(late.is_some_and(|new| new < d(100.0)), "{late:?}");
}

#[test]
fn suggestion_moves_and_floors_and_is_rate_limited() {
    let start = Instant::now();
    let mut vardiff = Vardiff::new(config(1024.0), start);
    assert_eq!(vardiff.suggest(d(0.001), start), Some(d(0.001)));
    assert_eq!(vardiff.current().to_wire(), "0.001");
    assert_eq!(vardiff.suggest(d(512.0), start + secs(9.9)), None);
    assert_eq!(vardiff.current(), d(0.001));
    assert_eq!(
        vardiff.suggest(d(512.0), start + secs(10.0)),
        Some(d(512.0))
    );
    // A floor: silence does not halve below it.
    assert_eq!(vardiff.on_tick(start + secs(1000.0)), None);
    assert_eq!(vardiff.current(), d(512.0));
    // Rounded up to the ladder.
    assert_eq!(vardiff.suggest(d(1.5), start + secs(20.0)), Some(d(2.0)));
    // Within the pool's bounds.
    assert_eq!(
        vardiff.suggest(d(1e-9), start + secs(30.0)),
        Some(d(0.0001))
    );
}

#[test]
fn suggestion_does_not_stop_raising() {
    let start = Instant::now();
    let mut vardiff = Vardiff::new(config(1024.0), start);
    assert_eq!(vardiff.suggest(d(1.0), start), Some(d(1.0)));
    // Shares of difficulty 1 every 10 ms: ideal 1000.
    let (changes, _) = steady(&mut vardiff, start, 0.0, 0.01, 17, 1.0);
    assert_eq!(changes, vec![d(1000.0)]);
}

#[test]
fn network_difficulty_caps_everything() {
    let start = Instant::now();
    let mut config = config(1024.0);
    config.min = d(16.0);
    let mut vardiff = Vardiff::new(config, start);
    assert_eq!(vardiff.set_network_difficulty(5000.0), None);
    assert_eq!(vardiff.set_network_difficulty(300.5), Some(d(300.0)));
    // Below min the network still wins; regtest's difficulty is tiny.
    assert_eq!(
        vardiff.set_network_difficulty(4.656_542_373_906_925e-10),
        Some(d(4.65e-10))
    );
    assert_eq!(vardiff.suggest(d(100.0), start), None);
    assert_eq!(vardiff.set_network_difficulty(f64::NAN), None);
    assert_eq!(vardiff.set_network_difficulty(0.0), None);
    // A higher network difficulty lifts the cap: back up to the floor.
    assert_eq!(vardiff.set_network_difficulty(1e14), Some(d(100.0)));
    assert_eq!(vardiff.set_network_difficulty(2e14), None);
}

#[test]
fn max_caps_the_estimate() {
    let start = Instant::now();
    let mut config = config(1.0);
    config.max = Some(d(500.0));
    let mut vardiff = Vardiff::new(config, start);
    let (changes, _) = steady(&mut vardiff, start, 0.0, 0.001, 17, 1.0);
    assert_eq!(changes, vec![d(500.0)]);
    let (changes, _) = steady(&mut vardiff, start, 1.0, 0.01, 100, 500.0);
    assert!(changes.is_empty(), "{changes:?}");
}

#[test]
fn hashrate_weights_shares_by_their_credited_difficulty() {
    let start = Instant::now();
    let mut vardiff = Vardiff::new(config(1.0), start);
    assert_eq!(vardiff.hashrate(start), 0.0);
    // 100 difficulty-1 shares per second, then the same work as
    // difficulty-1000 shares every 10 s.
    let (changes, at) = steady(&mut vardiff, start, 0.0, 0.01, 17, 1.0);
    assert_eq!(changes, vec![d(1000.0)]);
    let (_, at) = steady(&mut vardiff, start, at, 0.01, 200, 1.0);
    let (_, at) = steady(&mut vardiff, start, at, 10.0, 30, 1000.0);
    let expected = 100.0 * 4_294_967_296.0;
    let ratio = vardiff.hashrate(start + secs(at)) / expected;
    assert!((0.9..1.15).contains(&ratio), "{ratio}");
}

#[test]
fn extreme_suggestions_and_shares_stay_within_bounds() {
    // A hostile miner suggests the largest and the smallest difficulty an
    // f64 holds, then shares arrive at the largest: every answer is a
    // valid difficulty within [min, network], and nothing panics.
    let start = Instant::now();
    let mut vardiff = Vardiff::new(config(1024.0), start);
    let network = 1.2e14;
    vardiff.set_network_difficulty(network);
    let mut at = 0.0;
    let mut seen = Vec::new();
    for suggestion in [f64::MAX, f64::MIN_POSITIVE, 5e-324, 1e300, 1e-300] {
        at += 11.0;
        seen.extend(vardiff.suggest(d(suggestion), start + secs(at)));
        seen.push(vardiff.current());
    }
    for _ in 0..100 {
        at += 0.001;
        seen.extend(vardiff.on_share(d(f64::MAX), start + secs(at)));
        seen.extend(vardiff.on_tick(start + secs(at)));
    }
    at += 1e6;
    seen.extend(vardiff.on_tick(start + secs(at)));
    for difficulty in seen {
        let value = difficulty.as_f64();
        assert!(
            value.is_finite() && (0.0001..=network).contains(&value),
            "{value}"
        );
    }
    let hashrate = vardiff.hashrate(start + secs(at));
    assert!(!hashrate.is_nan() && hashrate >= 0.0, "{hashrate}");
}
