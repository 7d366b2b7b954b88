//! Jobs built from real Bitcoin Core templates, solved by brute force, make
//! blocks that pass rust-bitcoin's checks; blocks Core accepted are
//! reproduced byte for byte.

use bitcoin::consensus::{deserialize, serialize};
use bitcoin::{Address, Amount, Block, Network, ScriptBuf, Transaction};
use bitcoincore_rpc::json::GetBlockTemplateResult;
use pool::block::{self, Solution};
use pool::coinbase::{self, CoinbaseSpec};
use pool::config::PayoutMode;
use pool::jobs::{JobManager, JobSettings, TemplateChange};
use pool::template::Template;
use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use stratum::{Extranonce1, Extranonce2, Nonce, Sha256d};

#[path = "support/solve.rs"]
mod solve;
use solve::solve;

fn vector(name: &str) -> String {
    let path = format!("{}/../vectors/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|error| panic!("{path}: {error}"))
}

fn template(name: &str) -> Arc<Template> {
    let gbt: GetBlockTemplateResult = serde_json::from_str(&vector(name)).unwrap();
    Arc::new(Template::from_gbt(gbt).unwrap())
}

fn vector_block(name: &str) -> Block {
    let bytes = hex::decode(vector(name).trim()).unwrap();
    deserialize(&bytes).unwrap()
}

fn script(address: &str, network: Network) -> ScriptBuf {
    Address::from_str(address)
        .unwrap()
        .require_network(network)
        .unwrap()
        .script_pubkey()
}

fn settings(mode: PayoutMode, pool_script: ScriptBuf, tag: &str) -> JobSettings {
    JobSettings {
        tag: tag.as_bytes().to_vec(),
        extranonce2_size: 8,
        mode,
        pool_script,
        fee_basis_points: 100,
        stale_window: Duration::from_secs(120),
        fpps_fee_window: 10,
    }
}

/// What Bitcoin Core would check, as rust-bitcoin implements it.
fn assert_valid_block(block: &Block, template: &Template) {
    assert!(block.check_merkle_root(), "merkle root");
    assert!(block.check_witness_commitment(), "witness commitment");
    assert_eq!(block.bip34_block_height().unwrap(), template.height as u64);
    block
        .header
        .validate_pow(block.header.target())
        .expect("proof of work");
    assert_eq!(block.header.prev_blockhash, template.previous_block_hash);
    assert_eq!(block.header.bits.to_consensus(), template.nbits.0);
    let paid: Amount = block.txdata[0]
        .output
        .iter()
        .map(|output| output.value)
        .sum();
    assert!(paid <= template.coinbase_value, "coinbase pays {paid}");
    assert_eq!(block.txdata.len(), template.transactions.len() + 1);
    for (tx, expected) in block.txdata[1..].iter().zip(&template.transactions) {
        assert_eq!(tx.compute_txid(), expected.txid);
        assert_eq!(tx.compute_wtxid(), expected.wtxid);
    }
}

#[test]
fn jobs_from_every_core_capture_solve_into_valid_blocks() {
    let regtest_pool = script(
        "bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080",
        Network::Regtest,
    );
    let signet_pool = script(
        "tb1q24u4ne64rmtx7zdc0sguya6zynptfh4zm9rfqm",
        Network::Signet,
    );
    let miner = script(
        "bcrt1qdavt4j2sd7dlhqsavtnfxvzppw6k7qy97tmnu9",
        Network::Regtest,
    );
    for (name, pool_script) in [
        ("gbt-regtest-empty.json", &regtest_pool),
        ("gbt-regtest-30tx.json", &regtest_pool),
        ("gbt-regtest-6segwit.json", &regtest_pool),
        ("gbt-signet51-6tx.json", &signet_pool),
    ] {
        for mode in [PayoutMode::Pplns, PayoutMode::Solo] {
            let template = template(name);
            let mut manager = JobManager::new(settings(mode, pool_script.clone(), "/pool-test/"));
            assert_eq!(
                manager
                    .on_template(Arc::clone(&template), Instant::now())
                    .unwrap(),
                TemplateChange::NewBlock
            );
            let job = manager.current_job(Some(&miner)).unwrap();
            assert!(job.job.notify().clean_jobs);
            let solution = solve(
                &job,
                Extranonce1::from_bytes(&[0, 0, 0, 1]).unwrap(),
                Extranonce2::from_bytes(&[7; 8]).unwrap(),
            );
            let block = block::assemble(&job, &solution).unwrap();
            assert_valid_block(&block, &template);
            let coinbase = &block.txdata[0];
            match mode {
                PayoutMode::Solo => {
                    // The finder gets the reward less the 1% fee, the pool the fee.
                    let fee = template.coinbase_value.to_sat() / 100;
                    assert_eq!(coinbase.output[0].script_pubkey, miner);
                    assert_eq!(
                        coinbase.output[0].value.to_sat(),
                        template.coinbase_value.to_sat() - fee
                    );
                    assert_eq!(coinbase.output[1].script_pubkey, *pool_script);
                    assert_eq!(coinbase.output[1].value.to_sat(), fee);
                }
                _ => {
                    assert_eq!(coinbase.output[0].script_pubkey, *pool_script);
                    assert_eq!(coinbase.output[0].value, template.coinbase_value);
                }
            }
            // The share path and the block agree on the header.
            let header = job.job.header(
                &job.job.merkle_root(
                    &Sha256d::best(),
                    &solution.extranonce1,
                    &solution.extranonce2,
                ),
                solution.version,
                solution.ntime,
                solution.nonce,
            );
            assert_eq!(serialize(&block.header), header.to_vec(), "{name}");
        }
    }
}

#[test]
fn handbuilt_blocks_core_accepted_are_reproduced_byte_for_byte() {
    for (block_name, template_name) in [
        (
            "block-regtest-handbuilt-6segwit.hex",
            "gbt-regtest-6segwit.json",
        ),
        ("block-signet51-handbuilt-6tx.hex", "gbt-signet51-6tx.json"),
    ] {
        let expected = vector_block(block_name);
        let mut coinbase: Transaction = expected.txdata[0].clone();
        for input in &mut coinbase.input {
            input.witness.clear();
        }
        let rebuilt =
            block::assemble_from_parts(expected.header, coinbase, &template(template_name))
                .unwrap();
        assert_eq!(serialize(&rebuilt), serialize(&expected), "{block_name}");
    }
}

#[test]
fn our_coinbase_builder_rebuilds_the_signet_block_core_accepted() {
    // The vector's coinbase: height 107, tag /signet-vector/, extranonce
    // f000000a ‖ 0000000000000001, coinbasevalue to tb1q24u4…, commitment.
    let template = template("gbt-signet51-6tx.json");
    let expected = vector_block("block-signet51-handbuilt-6tx.hex");
    let pool_script = script(
        "tb1q24u4ne64rmtx7zdc0sguya6zynptfh4zm9rfqm",
        Network::Signet,
    );
    let parts = coinbase::build(&CoinbaseSpec {
        height: template.height,
        tag: b"/signet-vector/",
        extranonce_len: 12,
        payouts: vec![bitcoin::TxOut {
            value: template.coinbase_value,
            script_pubkey: pool_script.clone(),
        }],
        witness_commitment: template.witness_commitment.as_ref(),
        coinbase_value: template.coinbase_value,
    })
    .unwrap();
    let mut bytes = parts.coinb1.clone();
    bytes.extend_from_slice(&hex::decode("f000000a0000000000000001").unwrap());
    bytes.extend_from_slice(&parts.coinb2);
    let mut expected_coinbase = expected.txdata[0].clone();
    expected_coinbase.input[0].witness.clear();
    assert_eq!(bytes, serialize(&expected_coinbase));

    // And through the job manager and block assembly, the whole block.
    let mut manager = JobManager::new(JobSettings {
        fee_basis_points: 0,
        ..settings(PayoutMode::Pplns, pool_script, "/signet-vector/")
    });
    manager
        .on_template(Arc::clone(&template), Instant::now())
        .unwrap();
    let job = manager.current_job(None).unwrap();
    let solution = Solution {
        extranonce1: Extranonce1::from_wire("f000000a").unwrap(),
        extranonce2: Extranonce2::from_wire("0000000000000001").unwrap(),
        ntime: stratum::Ntime(expected.header.time),
        nonce: Nonce(expected.header.nonce),
        version: stratum::Version(expected.header.version.to_consensus() as u32),
    };
    let rebuilt = block::assemble(&job, &solution).unwrap();
    assert_eq!(serialize(&rebuilt), serialize(&expected));
}

#[test]
fn job_ids_stay_unique_across_managers_started_one_after_the_other() {
    let pool_script = script(
        "bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080",
        Network::Regtest,
    );
    let mut seen = std::collections::HashSet::new();
    for _restart in 0..2 {
        let mut manager = JobManager::new(settings(PayoutMode::Pplns, pool_script.clone(), "/p/"));
        for name in [
            "gbt-regtest-empty.json",
            "gbt-regtest-30tx.json",
            "gbt-regtest-6segwit.json",
        ] {
            manager.on_template(template(name), Instant::now()).unwrap();
            let job = manager.current_job(None).unwrap();
            assert!(seen.insert(job.id()), "job id {} reused", job.id());
        }
    }
    assert_eq!(seen.len(), 6);
}

#[test]
fn new_blocks_make_jobs_stale_and_refreshes_do_not() {
    let pool_script = script(
        "bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080",
        Network::Regtest,
    );
    let mut manager = JobManager::new(settings(PayoutMode::Pplns, pool_script, "/p/"));
    let start = Instant::now();

    // Height 109, empty; then the same tip with 30 transactions: a refresh.
    manager
        .on_template(template("gbt-regtest-empty.json"), start)
        .unwrap();
    let empty = manager.current_job(None).unwrap();
    assert_eq!(
        manager
            .on_template(template("gbt-regtest-30tx.json"), start)
            .unwrap(),
        TemplateChange::Refresh
    );
    let full = manager.current_job(None).unwrap();
    assert!(!full.job.notify().clean_jobs);
    assert_ne!(empty.id(), full.id());
    assert!(!manager.is_stale(&empty), "same tip: still valid");
    // The same template again changes nothing.
    assert_eq!(
        manager
            .on_template(template("gbt-regtest-30tx.json"), start)
            .unwrap(),
        TemplateChange::Unchanged
    );
    assert_eq!(manager.current_job(None).unwrap().id(), full.id());

    // Height 112 builds on another block: clean jobs, the old ones are stale
    // but kept for the stale window, then forgotten.
    assert_eq!(
        manager
            .on_template(template("gbt-regtest-6segwit.json"), start)
            .unwrap(),
        TemplateChange::NewBlock
    );
    let next = manager.current_job(None).unwrap();
    assert!(next.job.notify().clean_jobs);
    assert!(manager.is_stale(&full) && manager.is_stale(&empty));
    assert!(!manager.is_stale(&next));
    assert!(manager.job(full.id()).is_some());
    manager.expire(start + Duration::from_secs(121));
    assert!(manager.job(full.id()).is_none() && manager.job(empty.id()).is_none());
    assert!(manager.job(next.id()).is_some());
}

#[test]
fn solo_jobs_are_per_payout_and_share_the_template() {
    let pool_script = script(
        "bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080",
        Network::Regtest,
    );
    let mut manager = JobManager::new(settings(PayoutMode::Solo, pool_script.clone(), "/p/"));
    manager
        .on_template(template("gbt-regtest-30tx.json"), Instant::now())
        .unwrap();
    assert!(manager.current_job(None).is_err(), "solo needs a payout");
    let alice = script(
        "bcrt1qdavt4j2sd7dlhqsavtnfxvzppw6k7qy97tmnu9",
        Network::Regtest,
    );
    let first = manager.current_job(Some(&alice)).unwrap();
    let again = manager.current_job(Some(&alice)).unwrap();
    let pool_paid = manager.current_job(Some(&pool_script)).unwrap();
    assert_eq!(first.id(), again.id());
    assert_ne!(first.id(), pool_paid.id());
    assert_eq!(
        first.job.notify().merkle_branch,
        pool_paid.job.notify().merkle_branch
    );
    assert_ne!(first.job.notify().coinb2, pool_paid.job.notify().coinb2);
}

#[test]
fn pps_jobs_pay_the_subsidy_and_fpps_jobs_add_the_average_fees() {
    let pool_script = script(
        "bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080",
        Network::Regtest,
    );
    let (empty, full) = (
        template("gbt-regtest-empty.json"),
        template("gbt-regtest-30tx.json"),
    );
    let subsidy = empty.coinbase_value - empty.fees();
    assert_eq!(full.coinbase_value - full.fees(), subsidy, "same height");
    assert!(full.fees() > Amount::ZERO);
    let start = Instant::now();

    let mut pps = JobManager::new(settings(PayoutMode::Pps, pool_script.clone(), "/p/"));
    pps.on_template(Arc::clone(&empty), start).unwrap();
    assert_eq!(pps.current_job(None).unwrap().pps_reward, subsidy);
    pps.on_template(Arc::clone(&full), start).unwrap();
    assert_eq!(
        pps.current_job(None).unwrap().pps_reward,
        subsidy,
        "PPS ignores fees"
    );

    // FPPS over a window of 10 templates: the empty one then the full one
    // average to half the full one's fees (rounded down).
    let mut fpps = JobManager::new(settings(PayoutMode::Fpps, pool_script.clone(), "/p/"));
    fpps.on_template(Arc::clone(&empty), start).unwrap();
    assert_eq!(fpps.current_job(None).unwrap().pps_reward, subsidy);
    fpps.on_template(Arc::clone(&full), start).unwrap();
    let expected = subsidy + Amount::from_sat(full.fees().to_sat() / 2);
    assert_eq!(fpps.current_job(None).unwrap().pps_reward, expected);

    let mut pplns = JobManager::new(settings(PayoutMode::Pplns, pool_script, "/p/"));
    pplns.on_template(full, start).unwrap();
    assert_eq!(pplns.current_job(None).unwrap().pps_reward, Amount::ZERO);
}
