//! Two `pool run` processes with different node prefixes share one
//! PostgreSQL ledger under miner-sim load: every share either node
//! acknowledged is in the ledger once, attributed to its node, and the
//! totals equal what both nodes report. Skipped, recorded by `test_skip`,
//! without `POOL_TEST_POSTGRES_URL` (`.ci/run` starts a PostgreSQL and sets
//! it, and requires it).

#[path = "support/e2e.rs"]
mod e2e;
#[allow(dead_code)] // only its database set-up is used here
#[path = "support/ledger_backend.rs"]
mod ledger_backend;
#[path = "support/pool_process.rs"]
mod pool_process;

use e2e::{regtest_address, wait_for_async, wait_until_async, Scratch, Tap};
use ledger_backend::Backend;
use miner_sim::{Dialect, MinerConfig, MinerReport, ShareOutcome, Swarm};
use pool::ledger::Ledger;
use pool_process::PoolProcess;
use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

/// Acknowledged shares each node must reach under load.
const ACCEPTANCES: u64 = 150;
const SHARE_DIFFICULTY: f64 = 0.00001;

fn miners(addr: std::net::SocketAddr, tag: u8) -> Swarm {
    let address = regtest_address(tag);
    Swarm::start(
        [(Dialect::Cgminer, "cg"), (Dialect::Bitaxe, "axe")]
            .iter()
            .map(|(dialect, worker)| {
                let mut config = MinerConfig::new(addr, format!("{address}.{worker}"), *dialect);
                config.hashrate = 1e6;
                config.suggest_difficulty = Some(0.0);
                config.reconnect = false;
                config
            })
            .collect(),
    )
}

/// A node's submits answered so far: (accepted, rejected).
async fn answered_by(pool: &PoolProcess) -> (u64, u64) {
    let stats = pool.get_json("/api/stats").await;
    let accepted = stats["shares_accepted"].as_u64().expect("shares_accepted");
    let rejected = stats["shares_rejected"]
        .as_object()
        .expect("shares_rejected")
        .values()
        .map(|count| count.as_u64().expect("a count"))
        .sum();
    (accepted, rejected)
}

/// Shares the miner sent whose answer it never read (it stopped first):
/// the pool may or may not have recorded them.
fn unanswered(report: &MinerReport) -> u64 {
    report
        .shares
        .iter()
        .filter(|share| share.bad.is_none() && share.outcome == ShareOutcome::Unanswered)
        .count() as u64
}

async fn two_nodes_share_one_ledger(database_url: &str) {
    let scratch = Scratch::new("two-nodes");
    let mut pools = Vec::new();
    for node in [1u8, 2] {
        let pool = PoolProcess::start(scratch.path(), &format!("node{node}"), |port, web| {
            pool_process::simnet_config_text(
                port,
                web,
                node,
                SHARE_DIFFICULTY,
                scratch.path(),
                database_url,
            )
        })
        .await;
        pools.push(pool);
    }
    // Each node's miners through a tap, which counts the submits handed to it.
    let taps = [
        Tap::start(pools[0].stratum).await,
        Tap::start(pools[1].stratum).await,
    ];
    let swarms = [miners(taps[0].addr(), 61), miners(taps[1].addr(), 62)];
    wait_until_async(
        "both nodes acknowledge shares",
        Duration::from_secs(60),
        || {
            let counts: Vec<u64> = swarms
                .iter()
                .map(|swarm| swarm.snapshot().accepted)
                .collect();
            async move { counts.iter().all(|&count| count >= ACCEPTANCES) }
        },
    )
    .await;
    let [first, second] = swarms;
    let (first, second) = tokio::join!(first.stop(), second.stop());
    for report in [&first, &second] {
        assert_eq!(report.total.unexpected_rejections, 0, "{:?}", report.total);
    }

    // Settled: each node closed every connection (so it read every submit
    // its tap handed it) and answered each of those submits (an acceptance
    // is counted after its commit). What the nodes accepted then is judged
    // against the ledger, read once.
    let reported = wait_for_async("every submit answered", Duration::from_secs(20), || {
        let (pools, taps) = (&pools, &taps);
        async move {
            let mut accepted = [0u64; 2];
            for (index, (pool, tap)) in pools.iter().zip(taps).enumerate() {
                let (ok, rejected) = answered_by(pool).await;
                if tap.open_connections() != 0 || ok + rejected != tap.submits() {
                    return None;
                }
                accepted[index] = ok;
            }
            Some(accepted)
        }
    })
    .await;
    let ledger = Ledger::open(database_url)
        .await
        .expect("open the shared ledger");
    let shares = ledger.shares(u64::MAX >> 1).await.expect("read shares");
    let mut per_node: BTreeMap<u8, u64> = BTreeMap::new();
    let mut per_worker: BTreeMap<(u8, String), u64> = BTreeMap::new();
    for share in &shares {
        *per_node.entry(share.node).or_default() += 1;
        *per_worker
            .entry((share.node, share.worker.clone()))
            .or_default() += 1;
    }
    eprintln!(
        "nodes accepted {reported:?} shares (miners saw {:?}); ledger {per_node:?}",
        [first.total.accepted, second.total.accepted]
    );
    assert_eq!(
        per_node,
        BTreeMap::from([(1, reported[0]), (2, reported[1])]),
        "each node's rows are exactly the shares it accepted"
    );
    // Each miner's rows: what it saw accepted, plus those of its shares
    // whose answer it did not stay for that its node recorded anyway.
    for (node, report) in [(1u8, &first), (2, &second)] {
        for (miner, worker) in report.miners.iter().zip(["cg", "axe"]) {
            let rows = per_worker
                .get(&(node, worker.to_string()))
                .copied()
                .unwrap_or(0);
            let acknowledged = miner.counters.accepted;
            assert!(
                (acknowledged..=acknowledged + unanswered(miner)).contains(&rows),
                "node {node} {worker}: {rows} rows, {acknowledged} acknowledged, {} unanswered",
                unanswered(miner)
            );
        }
    }
    // No collisions: every row has its own id, and each node's shares came
    // from its own miners.
    let ids: HashSet<i64> = shares.iter().map(|share| share.id).collect();
    assert_eq!(ids.len(), shares.len());
    for share in &shares {
        let expected = regtest_address(if share.node == 1 { 61 } else { 62 }).to_string();
        assert_eq!(share.address, expected);
    }
    ledger.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_pool_processes_share_one_postgres_ledger() {
    ledger_backend::run(Backend::Postgres, "e2e_two_nodes", |db| async move {
        two_nodes_share_one_ledger(&db.url).await;
    })
    .await;
}
