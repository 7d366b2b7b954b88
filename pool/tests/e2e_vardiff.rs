//! Vardiff over real TCP: two simulated miners 100× apart in hashrate end
//! up 100× apart in difficulty with similar share rates; a fractional
//! `mining.suggest_difficulty` below 1 reaches the miner as it was asked;
//! every retarget comes with a job the miner has not seen.
//!
//! The share interval is a tenth of a second: vardiff counts its rules in
//! intervals, so it settles in seconds instead of minutes.

#[path = "support/e2e.rs"]
mod e2e;

use e2e::{accepted, regtest_address, wait_until, RawClient, Tap, TestPool};
use miner_sim::{Dialect, MinerConfig, MinerCounters, Swarm};
use std::sync::atomic::Ordering;
use std::time::Duration;
use stratum::message::ServerMessage;
use tokio::time::Instant;

const HASHES_PER_DIFF1: f64 = 4_294_967_296.0;
const SLOW: f64 = 20e3;
const FAST: f64 = 2e6;
/// Seconds between shares vardiff aims for: short, so it settles fast.
const INTERVAL: f64 = 0.1;
/// Between the two ideals (4.7e-7 and 4.7e-5): both must move.
const START_DIFFICULTY: f64 = 2e-6;
/// Shares at one difficulty before vardiff's fine tuning may act.
const FINE_SHARES: u64 = 70;
const SETTLE_LIMIT: Duration = Duration::from_secs(40);
/// Share rates are compared over this last part of the run.
const MEASURE: Duration = Duration::from_secs(8);

fn ideal(hashrate: f64) -> f64 {
    hashrate * INTERVAL / HASHES_PER_DIFF1
}

fn difficulty(counters: &MinerCounters) -> f64 {
    counters.latest_difficulty()
}

fn accepted_count(counters: &MinerCounters) -> u64 {
    counters.accepted.load(Ordering::Relaxed)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn miners_100x_apart_settle_100x_apart_with_similar_share_rates() {
    let pool = TestPool::start("vardiff-two", |config| {
        // No blocks: the network difficulty only caps.
        config.simnet.difficulty = 1.0;
        config.stratum.start_difficulty = START_DIFFICULTY;
        config.stratum.min_difficulty = 1e-8;
        config.stratum.share_interval_secs = INTERVAL;
    })
    .await;
    let miner = |worker: &str, hashrate: f64| {
        let mut config = MinerConfig::new(
            pool.addr(),
            format!("{}.{worker}", regtest_address(20)),
            Dialect::Cpuminer,
        );
        config.hashrate = hashrate;
        config.reconnect = false;
        config
    };
    let swarm = Swarm::start(vec![miner("slow", SLOW), miner("fast", FAST)]);
    let miners = [(&swarm.counters()[0], SLOW), (&swarm.counters()[1], FAST)];

    // Both leave the start difficulty (one down, one up) and settle:
    // within vardiff's fine band of their ideal, or with enough shares at
    // their difficulty for its fine tuning to have had its say.
    let mut since_change = [(0u64, 0u64); 2];
    wait_until("both difficulties settled", SETTLE_LIMIT, || {
        let mut settled = [false; 2];
        for ((counters, hashrate), (seen, settled)) in
            miners.iter().zip(since_change.iter_mut().zip(&mut settled))
        {
            let changes = counters.set_difficulty.load(Ordering::Relaxed);
            if changes != seen.0 {
                *seen = (changes, accepted_count(counters));
            }
            let ratio = difficulty(counters) / ideal(*hashrate);
            let fine = (0.75..=4.0 / 3.0).contains(&ratio);
            let tuned = accepted_count(counters) - seen.1 >= FINE_SHARES;
            *settled = changes >= 2 && (0.5..=2.0).contains(&ratio) && (fine || tuned);
        }
        settled == [true; 2]
    })
    .await;
    let settled = miners.map(|(counters, _)| accepted_count(counters));
    let measure_from = Instant::now();
    // The measurement window itself, not a synchronisation.
    tokio::time::sleep(MEASURE).await;
    let elapsed = measure_from.elapsed().as_secs_f64();
    let mut rates = [0.0; 2];
    for (rate, ((counters, _), before)) in rates.iter_mut().zip(miners.iter().zip(settled)) {
        *rate = (accepted_count(counters) - before) as f64 / elapsed;
    }
    let difficulties = miners.map(|(counters, _)| difficulty(counters));
    let report = swarm.stop().await;
    for miner in &report.miners {
        assert_eq!(
            miner.counters.unexpected_rejections, 0,
            "{}: {:?}",
            miner.username, miner.counters
        );
    }

    let ratio = difficulties[1] / difficulties[0];
    eprintln!(
        "difficulties slow {} fast {} (ratio {ratio:.1}); share rates slow {:.1}/s fast {:.1}/s",
        difficulties[0], difficulties[1], rates[0], rates[1]
    );
    assert!(
        (50.0..=200.0).contains(&ratio),
        "hashrates 100x apart, difficulties {} and {}: {ratio:.1}x",
        difficulties[0],
        difficulties[1]
    );
    for (name, rate) in [("slow", rates[0]), ("fast", rates[1])] {
        assert!(
            (0.5..=2.0).contains(&(rate * INTERVAL)),
            "{name}: {rate:.1} shares/s, aim 1 per {INTERVAL} s"
        );
    }
    let rate_ratio = rates[1] / rates[0];
    assert!(
        (0.4..=2.5).contains(&rate_ratio),
        "similar share rates: slow {:.1}/s, fast {:.1}/s",
        rates[0],
        rates[1]
    );
    pool.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fractional_suggestion_below_1_is_honoured() {
    let pool = TestPool::start("vardiff-suggest", |config| {
        config.simnet.difficulty = 1.0;
        config.stratum.start_difficulty = 0.01;
        config.stratum.min_difficulty = 0.0001;
    })
    .await;
    let suggested = 0.0005;

    // ESP-Miner writes the suggestion as given, after authorize.
    let tap = Tap::start(pool.addr()).await;
    let mut config = MinerConfig::new(
        tap.addr(),
        format!("{}.lottery", regtest_address(21)),
        Dialect::Bitaxe,
    );
    config.hashrate = 20e3;
    config.suggest_difficulty = Some(suggested);
    config.reconnect = false;
    let swarm = Swarm::start(vec![config]);
    wait_until(
        "the suggested difficulty set",
        Duration::from_secs(10),
        || swarm.counters()[0].latest_difficulty() == suggested,
    )
    .await;
    let lines = tap.lines().concat();
    assert!(
        lines
            .iter()
            .any(|line| line
                == "{\"id\":null,\"method\":\"mining.set_difficulty\",\"params\":[0.0005]}"),
        "the exact line: {lines:#?}"
    );
    // The suggestion follows authorize at once: when both arrive before
    // the first job goes out, that job carries the suggestion already.
    let work = tap.sent_work();
    let first = work.difficulties.first().copied();
    assert!(
        first == Some(0.01) || first == Some(suggested),
        "the start difficulty or the suggestion first: {:?}",
        work.difficulties
    );
    let report = swarm.stop().await;
    assert_eq!(report.total.unexpected_rejections, 0);

    // Before authorize, as a float in the raw JSON: applied once authorized.
    let mut early = RawClient::connect(pool.addr()).await;
    early.subscribe().await;
    early
        .send("{\"id\":50,\"method\":\"mining.suggest_difficulty\",\"params\":[0.00037]}\n")
        .await;
    let answer = early.answer(&stratum::message::Id::from(50)).await;
    assert!(accepted(&answer), "answered: {answer:?}");
    early
        .authorize(&format!("{}.early", regtest_address(22)))
        .await;
    early.wait_for_jobs(1).await;
    assert_eq!(
        early.latest_job().difficulty,
        0.00037,
        "the first job's difficulty"
    );

    // After authorize: a new difficulty and a job to go with it.
    let mut late = RawClient::miner(pool.addr(), &format!("{}.late", regtest_address(23))).await;
    assert_eq!(late.latest_job().difficulty, 0.01);
    assert!(accepted(&late.suggest_difficulty(suggested).await));
    let job = late.wait_for_job(|job| job.difficulty == suggested).await;
    assert!(late
        .notifications
        .iter()
        .any(|message| matches!(message, ServerMessage::SetDifficulty(set) if set.difficulty.as_f64() == suggested)));
    assert_ne!(job.job.id(), late.jobs[0].job.id());
    pool.shutdown().await;
}

/// Each retarget comes with a job the miner has not seen (firmware such as
/// ESP-Miner ignores a repeated job id, and the new difficulty applies only
/// from the next job), and without clean_jobs: nothing replaced the block.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_retarget_comes_with_a_new_job_that_keeps_the_old_ones() {
    let pool = TestPool::start("vardiff-reissue", |config| {
        config.simnet.difficulty = 1.0;
        config.stratum.start_difficulty = 0.01;
        config.stratum.min_difficulty = 1e-8;
        config.stratum.share_interval_secs = INTERVAL;
    })
    .await;
    // A miner that never finds a share: vardiff halves its difficulty
    // every few seconds, three times here.
    let mut miner = RawClient::miner(pool.addr(), &format!("{}.idle", regtest_address(24))).await;
    for count in 2..=4 {
        miner.wait_for_jobs(count).await;
    }
    let jobs: Vec<String> = miner
        .jobs
        .iter()
        .map(|job| {
            format!(
                "job {} at {} clean_jobs {}",
                job.job.id().to_wire(),
                job.difficulty,
                job.job.notify().clean_jobs
            )
        })
        .collect();
    for (index, job) in miner.jobs.iter().enumerate().skip(1) {
        let earlier = &miner.jobs[..index];
        assert!(
            earlier.iter().all(|seen| seen.job.id() != job.job.id()),
            "retarget {index} sent a job id the miner already had: {jobs:#?}"
        );
        assert!(
            !job.job.notify().clean_jobs,
            "retarget {index} voided the miner's work: {jobs:#?}"
        );
        assert!(job.difficulty < earlier[index - 1].difficulty, "{jobs:#?}");
    }
    pool.shutdown().await;
}
