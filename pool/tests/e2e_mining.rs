//! Simulated miners of every firmware dialect mine on the simnet through
//! the pool, over real TCP: every share is credited at the difficulty of
//! its job (as the pool sent it to that miner, recorded by a tap between
//! them), blocks are found and accepted by the simnet, and their coinbase
//! pays exactly what the payout mode says.

#[path = "support/e2e.rs"]
mod e2e;

use bitcoin::{Amount, Block, BlockHash, ScriptBuf};
use e2e::{regtest_address, wait_until_async, SentWork, Tap, TestPool};
use miner_sim::{Dialect, MinerConfig, ShareOutcome, Swarm, SwarmReport};
use pool::config::PayoutMode;
use pool::ledger::StoredBlock;
use std::str::FromStr;
use std::sync::atomic::Ordering;
use std::time::Duration;

/// ~8.6 M hashes a block: one every few seconds at 3 MH/s.
const NETWORK_DIFFICULTY: f64 = 0.002;
const HASHRATE: f64 = 1e6;
/// Shares until vardiff's fast start raises the difficulty (~8 a second).
const START_DIFFICULTY: f64 = 0.00003;
const SHARES_EACH: u64 = 15;
const RUN_LIMIT: Duration = Duration::from_secs(45);

/// The commitment output's script starts with OP_RETURN, push 36, aa21a9ed.
const WITNESS_COMMITMENT_PREFIX: [u8; 6] = [0x6a, 0x24, 0xaa, 0x21, 0xa9, 0xed];

struct Rig {
    dialect: Dialect,
    worker: &'static str,
    address: bitcoin::Address,
    tap: Tap,
}

async fn start_pool(label: &str, mode: PayoutMode) -> TestPool {
    TestPool::start(label, |config| {
        config.pool.mode = mode;
        config.pool.fee_percent = 1.5;
        config.simnet.difficulty = NETWORK_DIFFICULTY;
        config.stratum.start_difficulty = START_DIFFICULTY;
        config.stratum.min_difficulty = 0.00001;
        config.stratum.share_interval_secs = 2.0;
    })
    .await
}

/// One miner of each dialect, each behind its own tap.
async fn rigs(pool: &TestPool) -> Vec<Rig> {
    let mut rigs = Vec::new();
    for (index, (dialect, worker)) in [
        (Dialect::Cgminer, "cgminer"),
        (Dialect::Bitaxe, "bitaxe"),
        (Dialect::Cpuminer, "cpuminer"),
    ]
    .into_iter()
    .enumerate()
    {
        rigs.push(Rig {
            dialect,
            worker,
            address: regtest_address(10 + index as u8),
            tap: Tap::start(pool.addr()).await,
        });
    }
    rigs
}

fn start_swarm(rigs: &[Rig]) -> Swarm {
    Swarm::start(
        rigs.iter()
            .map(|rig| {
                let mut config = MinerConfig::new(
                    rig.tap.addr(),
                    format!("{}.{}", rig.address, rig.worker),
                    rig.dialect,
                );
                config.hashrate = HASHRATE;
                // ESP-Miner's habit of suggesting 1000 would make every
                // share a block here.
                config.suggest_difficulty = Some(0.0);
                config.reconnect = false;
                config
            })
            .collect(),
    )
}

/// Mines until every miner has shares accepted, a difficulty changed and
/// the pool found a block; stops the miners and waits until every found
/// block is in the ledger.
async fn mine(pool: &TestPool, rigs: &[Rig]) -> (SwarmReport, Vec<StoredBlock>) {
    let swarm = start_swarm(rigs);
    wait_until_async(
        "shares from every miner, some credited after a retarget, and an accepted block",
        RUN_LIMIT,
        || async {
            let enough = swarm
                .counters()
                .iter()
                .all(|counters| counters.accepted.load(Ordering::Relaxed) >= SHARES_EACH);
            enough
                && pool.stats().blocks_accepted >= 1
                && pool
                    .shares()
                    .await
                    .iter()
                    .any(|row| row.difficulty != START_DIFFICULTY)
        },
    )
    .await;
    let report = swarm.stop().await;
    wait_until_async(
        "every found block recorded",
        Duration::from_secs(10),
        || async {
            let recorded = pool.ledger().blocks().await.expect("read blocks").len() as u64;
            recorded == pool.stats().blocks_found
        },
    )
    .await;
    let blocks = pool.ledger().blocks().await.expect("read blocks");
    for (rig, miner) in rigs.iter().zip(&report.miners) {
        eprintln!(
            "{}: accepted {}, difficulties sent {:?}, blocks {}",
            rig.worker,
            miner.counters.accepted,
            rig.tap.sent_work().difficulties,
            miner.counters.blocks_found
        );
    }
    (report, blocks)
}

/// Every ledger row of each miner is credited at the difficulty the pool
/// sent before that job, and every share a miner saw accepted is a row.
async fn assert_credited_at_job_difficulty(pool: &TestPool, rigs: &[Rig], report: &SwarmReport) {
    let rows = pool.shares().await;
    assert!(!rows.is_empty());
    for (rig, miner) in rigs.iter().zip(&report.miners) {
        let counters = &miner.counters;
        assert_eq!(
            counters.unexpected_rejections, 0,
            "{}: good shares rejected: {counters:?}",
            rig.worker
        );
        assert!(
            counters.accepted >= SHARES_EACH,
            "{}: {counters:?}",
            rig.worker
        );
        let work: SentWork = rig.tap.sent_work();
        let mine: Vec<_> = rows.iter().filter(|row| row.worker == rig.worker).collect();
        assert!(
            mine.iter()
                .all(|row| row.address == rig.address.to_string()),
            "{}: rows under another address",
            rig.worker
        );
        for row in &mine {
            let sent = work.job_difficulty.get(&row.job_id).unwrap_or_else(|| {
                panic!("{}: job {:x} was never sent to it", rig.worker, row.job_id)
            });
            assert_eq!(
                row.difficulty, *sent,
                "{}: a share on job {:x} credited at {} but the job was sent at {}",
                rig.worker, row.job_id, row.difficulty, sent
            );
            assert!(work.difficulties.contains(&row.difficulty));
        }
        let acknowledged: Vec<_> = miner
            .shares
            .iter()
            .filter(|share| share.outcome == ShareOutcome::Accepted)
            .collect();
        assert_eq!(
            acknowledged.len() as u64,
            counters.accepted,
            "{}",
            rig.worker
        );
        // Its rows: every share it saw accepted, and of the others only
        // good ones whose answer it did not stay for.
        let unanswered = miner
            .shares
            .iter()
            .filter(|share| share.bad.is_none() && share.outcome == ShareOutcome::Unanswered)
            .count();
        assert!(
            (acknowledged.len()..=acknowledged.len() + unanswered).contains(&mine.len()),
            "{}: {} acknowledged, {unanswered} unanswered, {} in the ledger",
            rig.worker,
            acknowledged.len(),
            mine.len()
        );
        for share in acknowledged {
            let job = u64::from_str_radix(&share.job_id, 16).expect("hex job id");
            let row = mine
                .iter()
                .find(|row| row.job_id == job)
                .unwrap_or_else(|| {
                    panic!(
                        "{}: accepted share on job {job:x} not in the ledger",
                        rig.worker
                    )
                });
            // The miner holds a share to the harder of the job's and the
            // latest difficulty; the pool credits the job's.
            assert!(
                share.difficulty >= row.difficulty,
                "{}: job {job:x}: held to {} but credited {}",
                rig.worker,
                share.difficulty,
                row.difficulty
            );
            assert_eq!(work.job_difficulty.get(&job), Some(&row.difficulty));
        }
    }
    let credited: std::collections::BTreeSet<u64> =
        rows.iter().map(|row| row.difficulty.to_bits()).collect();
    assert!(credited.len() >= 2, "shares at more than one difficulty");
}

/// The newest accepted block is the simnet's tip, every accepted block is
/// on its active chain; returns the accepted blocks as the simnet has them.
fn accepted_blocks(pool: &TestPool, blocks: &[StoredBlock]) -> Vec<(StoredBlock, Block)> {
    let accepted: Vec<&StoredBlock> = blocks.iter().filter(|block| block.accepted).collect();
    assert!(!accepted.is_empty(), "an accepted block: {blocks:?}");
    let newest = accepted
        .iter()
        .max_by_key(|block| block.height)
        .expect("one at least");
    pool.source.with_simnet(|simnet| {
        assert_eq!(
            simnet.best_block_hash().to_string(),
            newest.hash,
            "the simnet's tip is the pool's newest block"
        );
        accepted
            .iter()
            .map(|stored| {
                let hash = BlockHash::from_str(&stored.hash).expect("a block hash");
                assert_eq!(
                    simnet.getblockhash(stored.height),
                    Some(hash),
                    "on the active chain"
                );
                let block = simnet.block(&hash).expect("stored by the simnet").clone();
                assert_eq!(
                    coinbase_height(&block),
                    Some(stored.height),
                    "BIP 34 height"
                );
                ((*stored).clone(), block)
            })
            .collect()
    })
}

/// The BIP 34 height the block's coinbase starts with, as Core reads it.
fn coinbase_height(block: &Block) -> Option<u32> {
    pool::coinbase::coinbase_height(&block.txdata.first()?.input.first()?.script_sig)
}

/// 50 BTC halved every 150 blocks (regtest).
fn regtest_subsidy(height: u32) -> u64 {
    (50 * 100_000_000u64) >> (height / 150)
}

/// The coinbase pays `expected` then the witness commitment, nothing
/// else, and `expected` adds up to the block's coinbase value.
fn assert_coinbase_pays(stored: &StoredBlock, block: &Block, expected: &[(ScriptBuf, u64)]) {
    let coinbase = &block.txdata[0];
    let value = stored.coinbase_value_sat;
    let subsidy = regtest_subsidy(stored.height);
    let fees = value
        .checked_sub(subsidy)
        .expect("value covers the subsidy");
    let transactions = block.txdata.len() as u64 - 1;
    assert!(
        (1_000 * transactions..=20_000 * transactions).contains(&fees),
        "coinbase value {value} is the subsidy {subsidy} plus the fees of {transactions} transactions"
    );
    assert_eq!(
        expected.iter().map(|(_, sats)| sats).sum::<u64>(),
        value,
        "the expected outputs add up to coinbasevalue"
    );
    assert_eq!(
        coinbase.output.len(),
        expected.len() + 1,
        "payouts plus the commitment: {:?}",
        coinbase.output
    );
    for (output, (script, sats)) in coinbase.output.iter().zip(expected) {
        assert_eq!(&output.script_pubkey, script);
        assert_eq!(output.value, Amount::from_sat(*sats));
    }
    let commitment = coinbase.output.last().expect("outputs");
    assert_eq!(commitment.value, Amount::ZERO);
    assert!(commitment
        .script_pubkey
        .as_bytes()
        .starts_with(&WITNESS_COMMITMENT_PREFIX));
    assert!(block.check_witness_commitment(), "the commitment matches");
    assert!(block.check_merkle_root());
    let witness: Vec<&[u8]> = coinbase.input[0].witness.iter().collect();
    assert_eq!(
        witness,
        [[0u8; 32].as_slice()],
        "the witness reserved value"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pooled_miners_are_credited_per_job_and_blocks_pay_the_pool() {
    let pool = start_pool("mining-pplns", PayoutMode::Pplns).await;
    let rigs = rigs(&pool).await;
    let (report, blocks) = mine(&pool, &rigs).await;
    assert_credited_at_job_difficulty(&pool, &rigs, &report).await;

    let pool_script = pool
        .config
        .pool_address()
        .expect("pool address")
        .script_pubkey();
    for (stored, block) in accepted_blocks(&pool, &blocks) {
        assert_coinbase_pays(
            &stored,
            &block,
            &[(pool_script.clone(), stored.coinbase_value_sat)],
        );
    }
    let rows = pool.shares().await;
    assert!(
        rows.iter().any(|row| row.is_block),
        "the block's share is marked"
    );
    pool.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn solo_blocks_pay_the_finder_and_the_pool_its_fee() {
    let pool = start_pool("mining-solo", PayoutMode::Solo).await;
    let rigs = rigs(&pool).await;
    let (report, blocks) = mine(&pool, &rigs).await;
    assert_credited_at_job_difficulty(&pool, &rigs, &report).await;

    let pool_script = pool
        .config
        .pool_address()
        .expect("pool address")
        .script_pubkey();
    let fee_basis_points = 150u64; // fee_percent 1.5
    for (stored, block) in accepted_blocks(&pool, &blocks) {
        let (rig, miner) = rigs
            .iter()
            .zip(&report.miners)
            .find(|(rig, _)| rig.address.to_string() == stored.address)
            .unwrap_or_else(|| {
                panic!(
                    "block {} credited to a stranger {}",
                    stored.hash, stored.address
                )
            });
        assert_eq!(stored.worker, rig.worker);
        assert!(miner.counters.blocks_found >= 1, "{} found it", rig.worker);
        let value = stored.coinbase_value_sat;
        let fee = value * fee_basis_points / 10_000;
        assert_coinbase_pays(
            &stored,
            &block,
            &[
                (rig.address.script_pubkey(), value - fee),
                (pool_script.clone(), fee),
            ],
        );
    }
    pool.shutdown().await;
}
