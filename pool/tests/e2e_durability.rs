//! A share the pool acknowledged survives a kill -9 of the pool: the
//! `pool` binary runs on the simnet as a child process, simulated miners
//! load it, it is killed with SIGKILL after a few hundred acceptances, and
//! the ledger then holds every share a miner saw accepted, and of the rest
//! only shares whose answer the kill cut off. On SQLite always, on
//! PostgreSQL when `POOL_TEST_POSTGRES_URL` names a server (else skipped,
//! recorded by `test_skip`).

#[path = "support/e2e.rs"]
mod e2e;
#[allow(dead_code)] // only its database set-up is used here
#[path = "support/ledger_backend.rs"]
mod ledger_backend;
#[path = "support/pool_process.rs"]
mod pool_process;

use e2e::{regtest_address, wait_until, Scratch};
use ledger_backend::Backend;
use miner_sim::{Dialect, MinerConfig, ShareOutcome, Swarm};
use pool::ledger::Ledger;
use pool_process::PoolProcess;
use std::collections::HashMap;
use std::time::Duration;

/// Acknowledged shares before the kill.
const ACCEPTANCES: u64 = 300;
/// Difficulty of every share: ~23 a second from a 1 MH/s miner.
const SHARE_DIFFICULTY: f64 = 0.00001;
const MINERS: [(Dialect, &str); 4] = [
    (Dialect::Cgminer, "cg"),
    (Dialect::Bitaxe, "axe"),
    (Dialect::Cpuminer, "cpu"),
    (Dialect::Cgminer, "cg2"),
];

/// Loads the pool with miners, kills it with SIGKILL after
/// [`ACCEPTANCES`] acknowledged shares, then counts the ledger's rows.
async fn acknowledged_shares_survive_kill_9(database_url: &str) {
    let scratch = Scratch::new("durability");
    let pool = PoolProcess::start(scratch.path(), "pool", |port, web_port| {
        pool_process::simnet_config_text(
            port,
            web_port,
            0,
            SHARE_DIFFICULTY,
            scratch.path(),
            database_url,
        )
    })
    .await;
    let (mut child, addr) = (pool.child, pool.stratum);
    let address = regtest_address(40);
    let swarm = Swarm::start(
        MINERS
            .iter()
            .map(|(dialect, worker)| {
                let mut config = MinerConfig::new(addr, format!("{address}.{worker}"), *dialect);
                config.hashrate = 1e6;
                config.suggest_difficulty = Some(0.0);
                config.reconnect = false;
                config
            })
            .collect(),
    );
    wait_until(
        "a few hundred acknowledged shares",
        Duration::from_secs(40),
        || swarm.snapshot().accepted >= ACCEPTANCES,
    )
    .await;
    // SIGKILL on Unix: no shutdown, no flush.
    child.kill().await.expect("kill -9 the pool");
    let report = swarm.stop().await;
    let acknowledged = report.total.accepted;
    assert!(acknowledged >= ACCEPTANCES);
    assert_eq!(report.total.unexpected_rejections, 0, "{:?}", report.total);

    let ledger = Ledger::open(database_url)
        .await
        .expect("open the ledger after the kill");
    let rows = ledger.share_count().await.expect("count shares");
    let shares = ledger.shares(u64::MAX >> 1).await.expect("read shares");
    ledger.close().await;
    eprintln!("{acknowledged} shares acknowledged before the kill, {rows} in the ledger");
    assert!(
        rows >= acknowledged,
        "{acknowledged} shares acknowledged, only {rows} in the ledger after kill -9"
    );
    let mut per_worker: HashMap<&str, u64> = HashMap::new();
    for share in &shares {
        *per_worker.entry(share.worker.as_str()).or_default() += 1;
    }
    // Each worker's rows: every share it saw acknowledged, plus at most
    // those it sent whose answer the kill cut off (committed, perhaps, but
    // not yet answered); nothing it never sent.
    for ((_, worker), miner) in MINERS.iter().zip(&report.miners) {
        let recorded = per_worker.get(worker).copied().unwrap_or(0);
        let acknowledged = miner.counters.accepted;
        let unanswered = miner
            .shares
            .iter()
            .filter(|share| share.bad.is_none() && share.outcome == ShareOutcome::Unanswered)
            .count() as u64;
        assert!(
            (acknowledged..=acknowledged + unanswered).contains(&recorded),
            "{worker}: {acknowledged} acknowledged, {unanswered} unanswered, \
             {recorded} in the ledger"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_keeps_every_acknowledged_share_through_kill_9() {
    ledger_backend::run(Backend::Sqlite, "e2e_durability_sqlite", |db| async move {
        acknowledged_shares_survive_kill_9(&db.url).await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_keeps_every_acknowledged_share_through_kill_9() {
    ledger_backend::run(
        Backend::Postgres,
        "e2e_durability_postgres",
        |db| async move {
            acknowledged_shares_survive_kill_9(&db.url).await;
        },
    )
    .await;
}
