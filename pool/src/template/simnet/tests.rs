//! The simnet as a whole: templates, acceptance, side branches, reorgs.

use super::*;
use crate::template::Template;
use bitcoin::{Amount, ScriptBuf, Transaction};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

const NOW: u32 = 1_750_000_000;

fn config(transactions: usize) -> SimnetConfig {
    SimnetConfig {
        // Below regtest's limit: every other hash is a block.
        difficulty: 1e-12,
        transactions,
    }
}

/// A simnet whose clock the test moves.
fn simnet_at(transactions: usize) -> (Simnet, Arc<AtomicU32>) {
    let now = Arc::new(AtomicU32::new(NOW));
    let clock = Arc::clone(&now);
    let simnet = Simnet::with_clock(
        &config(transactions),
        Box::new(move || clock.load(Ordering::Relaxed)),
    );
    (simnet, now)
}

fn payout() -> ScriptBuf {
    let mut script = vec![0x00, 0x14];
    script.extend_from_slice(&[0x42; 20]);
    ScriptBuf::from_bytes(script)
}

/// Merkle root and nonce again after a change to the transactions.
fn reseal(block: &mut Block) {
    block.header.merkle_root = block.compute_merkle_root().unwrap();
    miner::grind(&mut block.header);
}

fn mine(simnet: &Simnet, parent: &BlockHash, tag: &[u8]) -> Block {
    simnet.mine_block(parent, &payout(), tag).unwrap()
}

#[test]
fn starts_at_regtest_genesis() {
    let (simnet, _) = simnet_at(3);
    let genesis = bitcoin::constants::genesis_block(Network::Regtest);
    assert_eq!(simnet.tip_height(), 0);
    assert_eq!(simnet.best_block_hash(), genesis.block_hash());
    assert_eq!(simnet.getblockhash(0), Some(genesis.block_hash()));
    assert_eq!(simnet.getblockhash(1), None);
    assert_eq!(simnet.block(&genesis.block_hash()), Some(&genesis));
    assert_eq!(simnet.bits().to_consensus(), 0x207fffff);
    assert_eq!(simnet.mempool_len(), 3);
}

#[test]
fn template_is_shaped_like_cores() {
    let (simnet, _) = simnet_at(8);
    let gbt = simnet.template();
    let genesis = bitcoin::constants::genesis_block(Network::Regtest);
    assert_eq!(gbt.version, 0x2000_0000);
    assert_eq!(gbt.height, 1);
    assert_eq!(gbt.previous_block_hash, genesis.block_hash());
    assert_eq!(gbt.bits, vec![0x20, 0x7f, 0xff, 0xff]);
    assert_eq!(gbt.target[..4], [0x7f, 0xff, 0xff, 0x00]);
    assert_eq!(gbt.min_time, u64::from(genesis.header.time) + 1);
    assert_eq!(gbt.current_time, u64::from(NOW));
    assert_eq!(gbt.transactions.len(), 8);
    let fees: Amount = gbt.transactions.iter().map(|tx| tx.fee).sum();
    assert_eq!(gbt.coinbase_value, Amount::from_btc(50.0).unwrap() + fees);
    assert_eq!(gbt.longpollid, format!("{}1", genesis.block_hash()));
    for tx in &gbt.transactions {
        let decoded = tx.transaction().unwrap();
        assert_eq!(decoded.compute_txid(), tx.txid);
        assert_eq!(decoded.compute_wtxid(), tx.wtxid);
        assert_eq!(decoded.weight().to_wu(), tx.weight as u64);
    }
    // The same JSON Core would send decodes into the same Template.
    let json = serde_json::to_string(&gbt).unwrap();
    let template = Template::from_gbt(serde_json::from_str(&json).unwrap()).unwrap();
    assert_eq!(template, Template::from_gbt(gbt).unwrap());
    assert_eq!(template.nbits, stratum::NBits(0x207fffff));
}

#[test]
fn configured_difficulty_sets_the_bits() {
    let simnet = Simnet::new(&SimnetConfig {
        difficulty: 1.0,
        transactions: 0,
    });
    assert_eq!(simnet.bits().to_consensus(), 0x1d00ffff);
    assert_eq!(simnet.difficulty(), 1.0);
    let gbt = simnet.template();
    assert_eq!(gbt.bits, vec![0x1d, 0x00, 0xff, 0xff]);
    assert!(gbt.transactions.is_empty());
}

#[test]
fn generate_extends_the_chain_and_renews_the_mempool() {
    let (mut simnet, _) = simnet_at(4);
    let before = simnet.template();
    let hash = simnet.generate(&payout()).unwrap();
    assert_eq!(simnet.tip_height(), 1);
    assert_eq!(simnet.best_block_hash(), hash);
    let block = simnet.block(&hash).unwrap();
    assert_eq!(
        block.txdata.len(),
        5,
        "coinbase and the 4 mempool transactions"
    );
    let after = simnet.template();
    assert_eq!(after.height, 2);
    assert_eq!(after.previous_block_hash, hash);
    assert_ne!(after.longpollid, before.longpollid);
    assert!(after
        .transactions
        .iter()
        .all(|tx| before.transactions.iter().all(|old| old.txid != tx.txid)));
    // The mined transactions' coins are spent; their outputs exist.
    assert!(simnet.utxo_count() > 0);
}

#[test]
fn refresh_adds_fees_and_changes_longpollid() {
    let (mut simnet, _) = simnet_at(2);
    let first = simnet.template();
    simnet.refresh();
    let second = simnet.template();
    assert_ne!(first.longpollid, second.longpollid);
    assert_eq!(second.transactions.len(), 3);
    assert!(second.coinbase_value > first.coinbase_value);
    for _ in 0..10 {
        simnet.refresh();
    }
    assert_eq!(simnet.mempool_len(), 4, "at most twice the configured size");

    let (mut empty, _) = simnet_at(0);
    let before = empty.longpollid();
    empty.refresh();
    assert_eq!(empty.longpollid(), before);
}

#[test]
fn time_rules_follow_the_clock_and_median_time_past() {
    let (mut simnet, now) = simnet_at(0);
    let tip = simnet.best_block_hash();
    let mut block = mine(&simnet, &tip, b"/t/");
    block.header.time = NOW + 7201;
    miner::grind(&mut block.header);
    assert_eq!(simnet.submit_block(&block).as_deref(), Some("time-too-new"));
    // The same block is fine once the clock has caught up.
    now.store(NOW + 1, Ordering::Relaxed);
    assert_eq!(simnet.submit_block(&block), None);
    now.store(NOW + 7300, Ordering::Relaxed);

    // Eleven blocks at the same time: the next must be later than their median.
    for _ in 0..11 {
        simnet.generate(&payout()).unwrap();
    }
    let median = simnet.median_time_past();
    assert_eq!(u64::from(median) + 1, simnet.template().min_time);
    let tip = simnet.best_block_hash();
    let mut block = mine(&simnet, &tip, b"/t/");
    block.header.time = median;
    miner::grind(&mut block.header);
    assert_eq!(simnet.submit_block(&block).as_deref(), Some("time-too-old"));
}

#[test]
fn coinbase_rules() {
    let (mut simnet, _) = simnet_at(3);
    let tip = simnet.best_block_hash();
    let good = mine(&simnet, &tip, b"/cb/");

    // Height 1 is OP_1: a coinbase of that byte alone is too short.
    let mut short = good.clone();
    short.txdata[0].input[0].script_sig = ScriptBuf::from_bytes(vec![0x51]);
    reseal(&mut short);
    assert_eq!(
        simnet.submit_block(&short).as_deref(),
        Some("bad-cb-length")
    );

    // Height pushed as data instead of OP_1 is not Core's encoding.
    let mut pushed = good.clone();
    pushed.txdata[0].input[0].script_sig = ScriptBuf::from_bytes(vec![0x01, 0x01, 0x51]);
    reseal(&mut pushed);
    assert_eq!(
        simnet.submit_block(&pushed).as_deref(),
        Some("bad-cb-height")
    );
    // Stored as invalid: the same block again is a known-invalid duplicate.
    assert_eq!(
        simnet.submit_block(&pushed).as_deref(),
        Some("duplicate-invalid")
    );

    // Unlike submitblock's RPC fix-up, a missing reserved value is refused.
    let mut no_reserved_value = good.clone();
    no_reserved_value.txdata[0].input[0].witness.clear();
    assert_eq!(
        simnet.submit_block(&no_reserved_value).as_deref(),
        Some("bad-witness-nonce-size")
    );

    // Segwit transactions without a commitment.
    let mut no_commitment = good.clone();
    no_commitment.txdata[0].output.pop();
    reseal(&mut no_commitment);
    assert_eq!(
        simnet.submit_block(&no_commitment).as_deref(),
        Some("unexpected-witness")
    );

    let mut no_coinbase = good.clone();
    no_coinbase.txdata.remove(0);
    reseal(&mut no_coinbase);
    assert_eq!(
        simnet.submit_block(&no_coinbase).as_deref(),
        Some("bad-cb-missing")
    );

    assert_eq!(simnet.submit_block(&good), None);
}

/// `block` on the tip with `extra` transactions appended and the witness
/// commitment fixed (the coinbase value is left as mined).
fn with_transactions(simnet: &Simnet, tag: &[u8], extra: Vec<Transaction>) -> Block {
    let tip = simnet.best_block_hash();
    let mut block = mine(simnet, &tip, tag);
    block.txdata.extend(extra);
    let wtxids: Vec<Wtxid> = block.txdata[1..]
        .iter()
        .map(|tx| tx.compute_wtxid())
        .collect();
    let commitment = block.txdata[0].output.len() - 1;
    block.txdata[0].output[commitment].script_pubkey = validate::witness_commitment_script(&wtxids);
    reseal(&mut block);
    block
}

#[test]
fn spent_and_unknown_inputs_are_refused() {
    let (mut simnet, _) = simnet_at(2);
    let first = simnet.generate(&payout()).unwrap();
    let mined: Transaction = simnet.block(&first).unwrap().txdata[1].clone();

    // A transaction of block 1 again in block 2: BIP 30 catches it first.
    let again = with_transactions(&simnet, b"/again/", vec![mined.clone()]);
    assert_eq!(
        simnet.submit_block(&again).as_deref(),
        Some("bad-txns-BIP30")
    );

    // Another transaction spending the same coin.
    let mut double = mined.clone();
    double.output[0].value -= Amount::from_sat(1);
    let double_spend = with_transactions(&simnet, b"/double/", vec![double]);
    assert_eq!(
        simnet.submit_block(&double_spend).as_deref(),
        Some("bad-txns-inputs-missingorspent")
    );

    // A transaction the simnet never made spends nothing it knows.
    let mut stranger = mined;
    stranger.input[0].previous_output.vout += 7;
    let unknown = with_transactions(&simnet, b"/unknown/", vec![stranger]);
    assert_eq!(
        simnet.submit_block(&unknown).as_deref(),
        Some("bad-txns-inputs-missingorspent")
    );

    // None of these moved the tip; a good block still does.
    assert_eq!(simnet.tip_height(), 1);
    simnet.generate(&payout()).unwrap();
    assert_eq!(simnet.tip_height(), 2);
}

#[test]
fn unknown_parent_and_bad_bits() {
    let (mut simnet, _) = simnet_at(0);
    let tip = simnet.best_block_hash();
    let mut orphan = mine(&simnet, &tip, b"/o/");
    orphan.header.prev_blockhash = orphan.block_hash();
    miner::grind(&mut orphan.header);
    assert_eq!(
        simnet.submit_block(&orphan).as_deref(),
        Some("prev-blk-not-found")
    );

    let hard = Simnet::new(&SimnetConfig {
        difficulty: 1e-9,
        transactions: 0,
    });
    assert_ne!(hard.bits(), simnet.bits());
    let tip = hard.best_block_hash();
    let mut easy = hard.mine_block(&tip, &payout(), b"/easy/").unwrap();
    easy.header.bits = simnet.bits();
    miner::grind(&mut easy.header);
    let mut hard = hard;
    assert_eq!(hard.submit_block(&easy).as_deref(), Some("bad-diffbits"));
}

#[test]
fn a_longer_side_branch_reorganises_the_chain() {
    let (mut simnet, _) = simnet_at(3);
    let genesis = simnet.best_block_hash();
    let a1 = mine(&simnet, &genesis, b"/a/");
    assert_eq!(a1.txdata.len(), 4, "the mempool's transactions");
    assert_eq!(simnet.submit_block(&a1), None);
    // Mined off the tip: an empty block.
    let b1 = mine(&simnet, &genesis, b"/b/");
    assert_eq!(b1.txdata.len(), 1);
    assert_eq!(simnet.submit_block(&b1).as_deref(), Some("inconclusive"));
    assert_eq!(simnet.submit_block(&b1).as_deref(), Some("duplicate"));
    assert_eq!(simnet.best_block_hash(), a1.block_hash());
    assert_eq!(simnet.block_height(&b1.block_hash()), Some(1));

    let b2 = mine(&simnet, &b1.block_hash(), b"/b/");
    assert_eq!(simnet.submit_block(&b2), None);
    assert_eq!(simnet.tip_height(), 2);
    assert_eq!(simnet.best_block_hash(), b2.block_hash());
    assert_eq!(simnet.getblockhash(1), Some(b1.block_hash()));
    // a1 is orphaned but still known.
    assert!(simnet.block(&a1.block_hash()).is_some());
    assert_eq!(simnet.template().previous_block_hash, b2.block_hash());

    // a1's transactions are unspent again on this chain: a block carrying
    // them connects.
    let a_transactions = a1.txdata[1..].to_vec();
    let mut b3 = mine(&simnet, &b2.block_hash(), b"/b/");
    let fees: Amount = simnet.template().transactions.iter().map(|tx| tx.fee).sum();
    let a_fees = a1.txdata[0].output[0].value - params::block_subsidy(1);
    b3.txdata[0].output[0].value = params::block_subsidy(3) + fees + a_fees;
    b3.txdata.extend(a_transactions);
    let wtxids: Vec<Wtxid> = b3.txdata[1..].iter().map(|tx| tx.compute_wtxid()).collect();
    b3.txdata[0].output[1].script_pubkey = validate::witness_commitment_script(&wtxids);
    reseal(&mut b3);
    assert_eq!(simnet.submit_block(&b3), None);
    assert_eq!(simnet.tip_height(), 3);
}

#[test]
fn a_branch_with_an_invalid_block_does_not_win() {
    let (mut simnet, _) = simnet_at(0);
    let genesis = simnet.best_block_hash();
    let a1 = mine(&simnet, &genesis, b"/a/");
    assert_eq!(simnet.submit_block(&a1), None);

    // A side block that overpays: only checked when it would connect.
    let mut c1 = mine(&simnet, &genesis, b"/c/");
    c1.txdata[0].output[0].value += Amount::from_sat(1);
    reseal(&mut c1);
    assert_eq!(simnet.submit_block(&c1).as_deref(), Some("inconclusive"));

    let c2 = mine(&simnet, &c1.block_hash(), b"/c/");
    assert_eq!(simnet.submit_block(&c2).as_deref(), Some("inconclusive"));
    assert_eq!(simnet.best_block_hash(), a1.block_hash());
    assert_eq!(simnet.tip_height(), 1);
    assert_eq!(
        simnet.submit_block(&c1).as_deref(),
        Some("duplicate-invalid")
    );
    assert_eq!(
        simnet.submit_block(&c2).as_deref(),
        Some("duplicate-invalid")
    );
    let c3 = mine(&simnet, &c2.block_hash(), b"/c/");
    assert_eq!(simnet.submit_block(&c3).as_deref(), Some("bad-prevblk"));

    // The old chain still works.
    simnet.generate(&payout()).unwrap();
    assert_eq!(simnet.getblockhash(1), Some(a1.block_hash()));
}
