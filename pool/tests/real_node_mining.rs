//! The pool against a real Bitcoin Core (`BITCOIND_EXE`; skipped visibly
//! without it) with a simulated miner hashing as fast as one core lets it.
//!
//! On regtest the network difficulty (4.7e-10) is below any share
//! difficulty, so every share solves a block: most of them on work the
//! pool's own previous block has just made stale. This once made the pool
//! submit tens of thousands of blocks for one height and stall. Here at
//! least 30 blocks must reach Core within 60 s, each with the pool's tag
//! and payout, the pool's template never more than one block away from
//! Core's tip, and every solution on an already-won parent counted as a
//! sibling rather than submitted. The same on a private signet (challenge
//! `51`, where the pool asks for the `signet` rule) at difficulty 0.001.

#[path = "support/mod.rs"]
mod support;

use bitcoin::{Address, Network, ScriptBuf};
use miner_sim::{Dialect, MinerConfig, Swarm};
use pool::app::Pool;
use pool::config::Config;
use serde_json::{json, Value};
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use support::core_node::{bitcoind_exe, pool_toml, Chain, CoreNode, NodeOptions};
use support::TempDir;

/// The pool's payout address (regtest form; the same program on signet).
const POOL_ADDRESS: &str = "bcrt1qdavt4j2sd7dlhqsavtnfxvzppw6k7qy97tmnu9";
const TAG: &str = "/real-node/";
const BLOCKS: u64 = 30;
const WITHIN: Duration = Duration::from_secs(60);

/// One pool-and-node run at a time: they share two cores, and the block
/// rate is what is measured.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn pool_script() -> ScriptBuf {
    Address::from_str(POOL_ADDRESS)
        .expect("address")
        .assume_checked()
        .script_pubkey()
}

fn address_on(network: Network) -> String {
    Address::from_script(&pool_script(), network)
        .expect("a standard script")
        .to_string()
}

fn pool_config(chain: Chain, node: &CoreNode, dir: &TempDir) -> Config {
    let text = pool_toml(
        dir.path(),
        chain.pool_network(),
        &address_on(chain.bitcoin_network()),
        TAG,
        &node.config_toml(),
        "",
    );
    Config::from_toml_str(&text, Vec::<(String, String)>::new()).expect("a valid config")
}

/// An RPC amount (BTC, 8 decimals) in integer satoshis.
fn sats(btc: &Value) -> u64 {
    bitcoin::Amount::from_btc(btc.as_f64().expect("an amount"))
        .expect("a valid amount")
        .to_sat()
}

/// What the watcher saw of the pool's template against Core's tip.
#[derive(Debug, Default)]
struct Lag {
    samples: AtomicU64,
    /// Samples where the template's height was more than one block away
    /// from Core's next height.
    beyond_one: AtomicU64,
    worst: AtomicU64,
}

async fn mine_against(chain: Chain) {
    let Some(exe) = bitcoind_exe() else { return };
    let _serial = ONE_AT_A_TIME.lock().await;
    let node = Arc::new(CoreNode::start(
        &exe,
        chain,
        NodeOptions {
            zmq: true,
            ..Default::default()
        },
    ));
    let dir = TempDir::new("real-node-mining");
    let config = pool_config(chain, &node, &dir);
    let pool = Pool::start(&config).await.expect("the pool starts");
    let stats = pool.stats();

    // Core's height and the pool's template height, every 20 ms.
    let lag = Arc::new(Lag::default());
    let done = Arc::new(AtomicBool::new(false));
    let watcher = {
        let (node, lag, done, stats) = (
            Arc::clone(&node),
            Arc::clone(&lag),
            Arc::clone(&done),
            Arc::clone(&stats),
        );
        std::thread::spawn(move || {
            while !done.load(Ordering::Relaxed) {
                let template = u64::from(stats.chain().height);
                let core = node.height();
                if template > 0 {
                    let distance = template.abs_diff(core + 1);
                    lag.samples.fetch_add(1, Ordering::Relaxed);
                    lag.worst.fetch_max(distance, Ordering::Relaxed);
                    if distance > 1 {
                        lag.beyond_one.fetch_add(1, Ordering::Relaxed);
                    }
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        })
    };

    let mut miner = MinerConfig::new(
        pool.stratum_addr(),
        format!("{}.rig", address_on(chain.bitcoin_network())),
        Dialect::Cgminer,
    );
    miner.hashrate = f64::INFINITY;
    let swarm = Swarm::start(vec![miner]);
    let started = Instant::now();
    while node.height() < BLOCKS && started.elapsed() < WITHIN {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let elapsed = started.elapsed();
    let report = swarm.stop().await;
    done.store(true, Ordering::Relaxed);
    watcher.join().expect("the watcher");
    // Shutting down finishes every queued submission and flushes the
    // ledger: the counters and rows below are final.
    pool.shutdown().await;
    let height = node.height();
    let snapshot = stats.snapshot();
    eprintln!(
        "{chain:?}: {height} blocks in {:.1} s; pool: {} solutions, {} accepted, {} siblings, \
         {} unsubmitted; template lag: worst {}, {} of {} samples beyond one block; miner: {} hashes, \
         rejected {:?}, unexpected {}",
        elapsed.as_secs_f64(),
        snapshot.blocks_found,
        snapshot.blocks_accepted,
        snapshot.block_siblings,
        snapshot.blocks_unsubmitted,
        lag.worst.load(Ordering::Relaxed),
        lag.beyond_one.load(Ordering::Relaxed),
        lag.samples.load(Ordering::Relaxed),
        report.total.hashes,
        report.total.rejected,
        report.total.unexpected_rejections,
    );
    assert!(
        height >= BLOCKS,
        "Core accepted {height} blocks in {WITHIN:?}, fewer than {BLOCKS}"
    );
    assert!(lag.samples.load(Ordering::Relaxed) > 0);
    assert_eq!(
        lag.beyond_one.load(Ordering::Relaxed),
        0,
        "the pool's template was more than one block from Core's tip (worst {})",
        lag.worst.load(Ordering::Relaxed)
    );
    // With a new block every ~40 ms, a share can still be answered stale
    // (21) in the instant between the pool's new template and its clean
    // notify: the only refusal allowed, and rarely one the miner did not
    // expect.
    let rejected = &report.total.rejected;
    assert_eq!(
        rejected.other
            + rejected.duplicate
            + rejected.low_difficulty
            + rejected.unauthorized
            + rejected.not_subscribed
            + rejected.unlisted,
        0,
        "only stale refusals: {rejected:?}"
    );
    assert!(
        report.total.unexpected_rejections * 1000 <= report.total.shares_submitted,
        "{} of {} shares refused unexpectedly",
        report.total.unexpected_rejections,
        report.total.shares_submitted
    );
    assert_eq!(report.total.disconnections, 0, "the miner was dropped");
    assert_eq!(
        snapshot.slow_miners_dropped, 0,
        "a miner was dropped as slow"
    );
    assert_eq!(snapshot.blocks_unsubmitted, 0);

    // Every block on Core's chain is the pool's: its tag, its payout.
    let script_hex = hex::encode(pool_script().as_bytes());
    for block_height in 1..=height {
        let hash = node.call("getblockhash", &[json!(block_height)]);
        let block = node.call("getblock", &[hash, json!(2)]);
        let coinbase = &block["tx"][0];
        let script_sig = coinbase["vin"][0]["coinbase"].as_str().expect("coinbase");
        assert!(
            script_sig.contains(&hex::encode(TAG)),
            "block {block_height}: no pool tag in {script_sig}"
        );
        let paid: Vec<&Value> = coinbase["vout"]
            .as_array()
            .expect("outputs")
            .iter()
            .filter(|output| output["scriptPubKey"]["hex"] == script_hex.as_str())
            .collect();
        assert_eq!(
            paid.len(),
            1,
            "block {block_height}: one output to the pool"
        );
        let total: u64 = coinbase["vout"]
            .as_array()
            .unwrap()
            .iter()
            .map(|output| sats(&output["value"]))
            .sum();
        assert_eq!(
            sats(&paid[0]["value"]),
            total,
            "block {block_height}: the whole reward goes to the pool (PPLNS)"
        );
    }
    // Each block Core has was submitted once, and a solution on a parent
    // the pool had already won was never submitted.
    let ledger = pool::ledger::Ledger::open(&config.database.url)
        .await
        .expect("the ledger");
    let ledger_blocks = ledger.blocks().await.expect("the ledger's blocks");
    ledger.close().await;
    let accepted = ledger_blocks.iter().filter(|block| block.accepted).count() as u64;
    assert_eq!(accepted, height, "ledger rows of accepted blocks");
    assert_eq!(snapshot.blocks_accepted, height);
    assert!(
        snapshot.blocks_found >= snapshot.blocks_accepted + snapshot.block_siblings,
        "{snapshot:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn regtest_every_share_a_block_and_the_pool_keeps_up() {
    mine_against(Chain::Regtest).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn private_signet_blocks_at_difficulty_a_thousandth() {
    mine_against(Chain::SignetTrue).await;
}
