//! Two `pool run` processes with different node prefixes share one
//! PostgreSQL ledger under miner-sim load: every share either node
//! acknowledged is in the ledger once, attributed to its node, and the
//! totals equal what both nodes report. Skipped, saying so, without
//! `POOL_TEST_POSTGRES_URL` (`.ci/run` starts a PostgreSQL and sets it).

#[path = "support/e2e.rs"]
mod e2e;
#[allow(dead_code)] // only its database set-up is used here
#[path = "support/ledger_backend.rs"]
mod ledger_backend;
#[path = "support/pool_process.rs"]
mod pool_process;

use e2e::{regtest_address, wait_until_async, Scratch};
use ledger_backend::{Backend, POSTGRES_ENV};
use miner_sim::{Dialect, MinerConfig, Swarm};
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

async fn accepted_by(pool: &PoolProcess) -> u64 {
    pool.get_json("/api/stats").await["shares_accepted"]
        .as_u64()
        .expect("shares_accepted")
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
    let swarms = [miners(pools[0].stratum, 61), miners(pools[1].stratum, 62)];
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
    let acknowledged_by_miners = [first.total.accepted, second.total.accepted];
    for report in [&first, &second] {
        assert_eq!(report.total.unexpected_rejections, 0, "{:?}", report.total);
    }

    let ledger = Ledger::open(database_url)
        .await
        .expect("open the shared ledger");
    // The miners are gone; a share in flight when they left is still
    // recorded and counted by its node. Wait until the ledger and both
    // nodes' counters agree.
    // Shares the miners sent just before leaving are still being read and
    // committed for a moment: poll until the ledger and both nodes'
    // counters agree, and judge that consistent moment.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let (per_node, reported) = loop {
        let mut per_node: BTreeMap<u8, u64> = BTreeMap::new();
        for share in ledger.shares(u64::MAX >> 1).await.expect("read shares") {
            *per_node.entry(share.node).or_default() += 1;
        }
        let reported = [accepted_by(&pools[0]).await, accepted_by(&pools[1]).await];
        if [1u8, 2]
            .iter()
            .zip(reported)
            .all(|(node, count)| per_node.get(node) == Some(&count))
        {
            break (per_node, reported);
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the ledger {per_node:?} never matched the nodes' acknowledgements {reported:?}"
        );
        tokio::time::sleep(e2e::POLL).await;
    };
    let shares = ledger.shares(u64::MAX >> 1).await.expect("read shares");
    let total: u64 = per_node.values().sum();
    eprintln!("nodes acknowledged {reported:?} shares (miners saw {acknowledged_by_miners:?}); ledger {per_node:?}");
    assert_eq!(
        total,
        reported.iter().sum::<u64>(),
        "ledger total equals the sum of both nodes' acknowledgements"
    );
    assert_eq!(per_node.keys().copied().collect::<Vec<_>>(), vec![1, 2]);
    for (node, miners_saw) in [
        (1u8, acknowledged_by_miners[0]),
        (2, acknowledged_by_miners[1]),
    ] {
        assert!(
            per_node[&node] >= miners_saw,
            "node {node}: miners saw {miners_saw} accepted"
        );
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
    if std::env::var(POSTGRES_ENV).map_or(true, |url| url.is_empty()) {
        eprintln!("skipping the two-node PostgreSQL test: {POSTGRES_ENV} is not set (.ci/run starts a PostgreSQL and sets it)");
        return;
    }
    ledger_backend::run(Backend::Postgres, "e2e_two_nodes", |db| async move {
        two_nodes_share_one_ledger(&db.url).await;
    })
    .await;
}
