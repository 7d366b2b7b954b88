//! The simnet, driven as the pool drives a node: templates decoded with
//! `Template::from_gbt`, blocks built by hand from them (tests/support),
//! answers compared with the strings Bitcoin Core's `submitblock` gives
//! (vectors/submitblock-results.txt).

#[path = "support/simnet_blocks.rs"]
mod simnet_blocks;

use bitcoin::hashes::Hash;
use bitcoin::{Amount, Block, BlockHash};
use pool::config::{ChainConfig, SimnetConfig};
use pool::template::simnet::{Simnet, SimnetSource};
use pool::template::{NodeAnswer, Template, TemplateSource};
use simnet_blocks::{build, miss_target, seal, CoinbaseRecipe};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// Real work, still milliseconds a block: ~430,000 hashes.
const DIFFICULTY: f64 = 0.0001;
/// A bounded wait for something that should happen at once.
const PROMPTLY: Duration = Duration::from_secs(5);

fn simnet(difficulty: f64, transactions: usize) -> Simnet {
    Simnet::new(&SimnetConfig {
        difficulty,
        transactions,
    })
}

fn template(simnet: &Simnet) -> Template {
    Template::from_gbt(simnet.template()).expect("the simnet's template decodes")
}

/// 50 BTC halved every 150 blocks, written out independently.
fn regtest_subsidy(height: u32) -> Amount {
    Amount::from_sat((50 * 100_000_000u64) >> (height / 150))
}

#[test]
fn template_decodes_and_commits_to_its_transactions() {
    let simnet = simnet(DIFFICULTY, 6);
    let gbt = simnet.template();
    assert_eq!(
        gbt.target[..6],
        [0, 0, 0x27, 0x0f, 0xd8, 0],
        "diff1 x 10,000"
    );
    let template = template(&simnet);
    assert_eq!(template.height, 1);
    assert_eq!(template.previous_block_hash, simnet.best_block_hash());
    assert_eq!(template.version.0, 0x2000_0000);
    assert!(template.curtime >= template.mintime);
    assert_eq!(template.transactions.len(), 6);
    assert!(template
        .transactions
        .iter()
        .all(|tx| (1_000..20_000).contains(&tx.fee.to_sat()) && tx.weight >= 400));
    assert_eq!(
        template.coinbase_value,
        regtest_subsidy(1) + template.fees()
    );
    // Both kinds of spend are offered.
    let transactions = simnet_blocks::transactions(&template);
    assert!(transactions
        .iter()
        .any(|tx| tx.input.iter().all(|i| i.witness.is_empty())));
    assert!(transactions
        .iter()
        .any(|tx| tx.input.iter().any(|i| !i.witness.is_empty())));
    for (listed, tx) in template.transactions.iter().zip(&transactions) {
        assert_eq!(listed.txid, tx.compute_txid());
        assert_eq!(listed.wtxid, tx.compute_wtxid());
        assert_eq!(listed.weight, tx.weight().to_wu());
    }

    // rust-bitcoin's witness root over the block gives the same commitment.
    let block = build(
        &template,
        &CoinbaseRecipe::for_template(&template, "/test/"),
    );
    let root = block.witness_root().unwrap();
    let commitment = Block::compute_witness_commitment(&root, &[0u8; 32]);
    let script = template.witness_commitment.clone().unwrap();
    assert_eq!(script.as_bytes()[..6], [0x6a, 0x24, 0xaa, 0x21, 0xa9, 0xed]);
    assert_eq!(&script.as_bytes()[6..], commitment.as_byte_array());
    assert!(block.check_witness_commitment());
    assert!(block.check_merkle_root());
}

#[test]
fn refuses_bad_blocks_with_cores_strings_and_takes_the_good_one() {
    let mut simnet = simnet(DIFFICULTY, 6);
    let template = template(&simnet);
    let recipe = CoinbaseRecipe::for_template(&template, "/test/");
    let good = build(&template, &recipe);
    let hash = good.block_hash();

    let mut flipped_root = good.clone();
    flipped_root.header.merkle_root = {
        let mut bytes = good.header.merkle_root.to_byte_array();
        bytes[7] ^= 0x01;
        bitcoin::TxMerkleNode::from_byte_array(bytes)
    };
    simnet_blocks::grind(&mut flipped_root.header);
    assert_eq!(
        simnet.submit_block(&flipped_root).as_deref(),
        Some("bad-txnmrklroot")
    );

    let mut missed = good.clone();
    miss_target(&mut missed.header);
    assert_eq!(simnet.submit_block(&missed).as_deref(), Some("high-hash"));

    let overpaying = build(
        &template,
        &CoinbaseRecipe {
            value: template.coinbase_value + Amount::from_sat(1),
            ..recipe.clone()
        },
    );
    assert_eq!(
        simnet.submit_block(&overpaying).as_deref(),
        Some("bad-cb-amount")
    );

    let wrong_height = build(
        &template,
        &CoinbaseRecipe {
            height: template.height + 1,
            ..recipe.clone()
        },
    );
    assert_eq!(
        simnet.submit_block(&wrong_height).as_deref(),
        Some("bad-cb-height")
    );

    let mut broken = template.witness_commitment.clone().unwrap().into_bytes();
    broken[20] ^= 0x80;
    let bad_commitment = build(
        &template,
        &CoinbaseRecipe {
            witness_commitment: Some(broken.into()),
            ..recipe.clone()
        },
    );
    assert_eq!(
        simnet.submit_block(&bad_commitment).as_deref(),
        Some("bad-witness-merkle-match")
    );

    // None of those moved the chain.
    assert_eq!(simnet.tip_height(), 0);

    assert_eq!(simnet.submit_block(&good), None);
    assert_eq!(simnet.tip_height(), 1);
    assert_eq!(simnet.best_block_hash(), hash);
    assert_eq!(simnet.getblockhash(1), Some(hash));
    assert_eq!(simnet.block(&hash), Some(&good));
    let next = template_after(&simnet, &template);
    assert_eq!(next.previous_block_hash, hash);
    assert_eq!(next.height, template.height + 1);

    assert_eq!(simnet.submit_block(&good).as_deref(), Some("duplicate"));

    // Another valid block at height 1: a side branch.
    let competing = build(
        &template,
        &CoinbaseRecipe::for_template(&template, "/rival/"),
    );
    assert_ne!(competing.block_hash(), hash);
    assert_eq!(
        simnet.submit_block(&competing).as_deref(),
        Some("inconclusive")
    );
    assert_eq!(simnet.best_block_hash(), hash);
}

/// The template after a new tip, checked to have moved on.
fn template_after(simnet: &Simnet, previous: &Template) -> Template {
    let next = template(simnet);
    assert_ne!(next.longpollid, previous.longpollid);
    next
}

#[test]
fn mines_a_chain_through_op_n_heights_and_the_first_halving() {
    // At regtest's own limit every other hash is a block.
    let mut simnet = simnet(0.0, 3);
    let mut previous: Option<BlockHash> = None;
    for height in 1..=152u32 {
        let template = template(&simnet);
        assert_eq!(template.height, height);
        if let Some(previous) = previous {
            assert_eq!(template.previous_block_hash, previous);
        }
        assert_eq!(
            template.coinbase_value,
            regtest_subsidy(height) + template.fees(),
            "height {height}"
        );
        let block = build(
            &template,
            &CoinbaseRecipe::for_template(&template, "/chain/"),
        );
        let script_sig = block.txdata[0].input[0].script_sig.as_bytes();
        if height <= 16 {
            assert_eq!(script_sig[0], 0x50 + height as u8, "OP_{height}");
            // rust-bitcoin's reader does not take OP_N heights; Core does.
            assert!(block.bip34_block_height().is_err());
        } else {
            assert_eq!(block.bip34_block_height().unwrap(), u64::from(height));
        }
        assert_eq!(simnet.submit_block(&block), None, "height {height}");
        assert_eq!(simnet.tip_height(), height);
        previous = Some(block.block_hash());
    }
    assert_eq!(regtest_subsidy(150), Amount::from_sat(2_500_000_000));
    assert_eq!(
        template(&simnet).coinbase_value,
        regtest_subsidy(153) + template(&simnet).fees()
    );
}

fn chain_config(refresh_secs: u64) -> ChainConfig {
    ChainConfig {
        template_refresh_secs: refresh_secs,
        ..ChainConfig::default()
    }
}

fn current(templates: &mut watch::Receiver<Option<Arc<Template>>>) -> Arc<Template> {
    templates
        .borrow_and_update()
        .clone()
        .expect("a template is published")
}

async fn next_template(templates: &mut watch::Receiver<Option<Arc<Template>>>) -> Arc<Template> {
    tokio::time::timeout(PROMPTLY, templates.changed())
        .await
        .expect("a new template in time")
        .expect("the source is alive");
    current(templates)
}

#[tokio::test]
async fn source_publishes_at_start_and_after_each_block() {
    let config = SimnetConfig {
        difficulty: DIFFICULTY,
        transactions: 4,
    };
    let source = SimnetSource::start(&config, &chain_config(0));
    let mut templates = source.templates();
    let first = current(&mut templates);
    assert_eq!(first.height, 1);
    assert_eq!(source.status().last_template_height, Some(1));
    assert_eq!(source.status().nodes, vec![("simnet".to_string(), Ok(()))]);

    // A refused block publishes nothing.
    let mut missed = build(&first, &CoinbaseRecipe::for_template(&first, "/src/"));
    miss_target(&mut missed.header);
    let report = source.submit_block(missed).await;
    assert_eq!(
        report.answers,
        vec![NodeAnswer {
            node: "simnet".to_string(),
            result: Ok(Some("high-hash".to_string())),
        }]
    );
    assert!(!report.confirmed);
    assert!(!templates.has_changed().unwrap());

    let block = build(&first, &CoinbaseRecipe::for_template(&first, "/src/"));
    let report = source.submit_block(block.clone()).await;
    assert_eq!(report.block_hash, block.block_hash());
    assert_eq!(report.height, 1);
    assert_eq!(report.answers[0].result, Ok(None));
    assert!(report.confirmed);

    let second = next_template(&mut templates).await;
    assert_eq!(second.height, 2);
    assert_eq!(second.previous_block_hash, block.block_hash());
    assert_eq!(source.status().last_template_height, Some(2));

    // Another miner finds block 3: the pool hears of it the same way.
    let other = source.with_simnet(|simnet| simnet.generate(&simnet_blocks::payout_script()));
    let third = next_template(&mut templates).await;
    assert_eq!(third.height, 3);
    assert_eq!(Some(third.previous_block_hash), other.ok());

    // Our stale block 2 now loses to nothing: it is a side branch.
    let stale = build(&second, &CoinbaseRecipe::for_template(&second, "/late/"));
    let report = source.submit_block(stale).await;
    assert_eq!(
        report.answers[0].result,
        Ok(Some("inconclusive".to_string()))
    );
    assert_eq!(report.height, 2);
    assert!(!report.confirmed);
}

#[tokio::test]
async fn source_refreshes_fees_on_its_interval_and_stops_when_dropped() {
    let config = SimnetConfig {
        difficulty: DIFFICULTY,
        transactions: 3,
    };
    // The shortest interval the config allows: one second.
    let source = SimnetSource::start(&config, &chain_config(1));
    let mut templates = source.templates();
    let first = current(&mut templates);

    let second = next_template(&mut templates).await;
    assert_eq!(second.height, first.height);
    assert_ne!(second.longpollid, first.longpollid);
    assert_eq!(second.transactions.len(), first.transactions.len() + 1);
    assert!(second.coinbase_value > first.coinbase_value);

    // An explicit refresh does the same at once.
    source.refresh();
    let third = next_template(&mut templates).await;
    assert_ne!(third.longpollid, second.longpollid);

    // Dropping the source ends the channel (the refresh task held no
    // strong reference and is aborted).
    drop(source);
    let closed = tokio::time::timeout(PROMPTLY, templates.changed()).await;
    assert!(matches!(closed, Ok(Err(_))), "{closed:?}");
}

#[tokio::test]
async fn refused_submissions_report_the_height_they_aimed_at() {
    let source = SimnetSource::start(
        &SimnetConfig {
            difficulty: DIFFICULTY,
            transactions: 0,
        },
        &chain_config(0),
    );
    let mut templates = source.templates();
    let first = current(&mut templates);
    let mut orphan = build(&first, &CoinbaseRecipe::for_template(&first, "/orphan/"));
    orphan.header.prev_blockhash = BlockHash::from_byte_array([7; 32]);
    seal(&mut orphan);
    let report = source.submit_block(orphan).await;
    assert_eq!(
        report.answers[0].result,
        Ok(Some("prev-blk-not-found".to_string()))
    );
    // Read from the coinbase's BIP 34 height (OP_1).
    assert_eq!(report.height, 1);
    assert!(!report.confirmed);
}
