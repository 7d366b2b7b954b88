//! `pool payout` against a real Bitcoin Core wallet on regtest, when
//! `BITCOIND_EXE` names a `bitcoind` binary (skipped otherwise, recorded
//! by `test_skip`, in CI too: no package ships it): the pool's wallet
//! pays miners' balances in one sendmany whose comment is the batch id; a
//! batch recorded but never sent is cancelled and paid afresh; a batch
//! sent but never marked is found in the wallet by its comment and not
//! paid again; a payment fee-bumped in the wallet is followed through its
//! replacement to confirmation.

#[path = "support/mod.rs"]
mod support;

use bitcoincore_rpc::{Client, RpcApi};
use pool::config::{Network as PoolNetwork, PayoutMode};
use pool::ledger::accounts::{BatchState, PayoutLine};
use pool::ledger::{Ledger, NewShare};
use pool::payouts::{
    payout_run, BitcoindChain, BitcoindWallet, CreditSettings, RunSettings, Wallet,
};
use serde_json::{json, Value};
use support::core_node::{bitcoind_exe, Chain, CoreNode, NodeOptions};
use support::TempDir;

fn call(client: &Client, method: &str, params: &[Value]) -> Value {
    client
        .call::<Value>(method, params)
        .unwrap_or_else(|error| panic!("{method}: {error}"))
}

fn received(miners: &Client, address: &str) -> u64 {
    let btc = call(miners, "getreceivedbyaddress", &[json!(address), json!(1)]);
    (btc.as_f64().expect("an amount") * 1e8).round() as u64
}

fn sends_with_comment(pool: &Client, comment: &str) -> usize {
    let listed = call(
        pool,
        "listtransactions",
        &[json!("*"), json!(1000), json!(0), json!(true)],
    );
    let mut txids: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .filter(|entry| entry["comment"] == comment && entry["category"] == "send")
        .filter_map(|entry| entry["txid"].as_str())
        .collect();
    txids.sort_unstable();
    txids.dedup();
    txids.len()
}

async fn credit(ledger: &Ledger, n: u64, address: &str, amount: u64) {
    let mut hash = [0u8; 32];
    hash[..8].copy_from_slice(&n.to_le_bytes());
    ledger
        .record_share(NewShare {
            node: 0,
            address: address.to_string(),
            worker: String::new(),
            job_id: n,
            difficulty: 1.0,
            network_difficulty: 1.0,
            time_ms: 1_750_000_000_000 + n as i64,
            is_block: false,
            hash,
            credit_sat: amount,
        })
        .await
        .unwrap();
}

/// A regtest node with a funded `pool` wallet and a `miners` wallet, a
/// fresh ledger, and what `pool payout` is built from.
struct PayoutWorld {
    _node: CoreNode,
    base: Client,
    pool_wallet: Client,
    miners: Client,
    ledger: Ledger,
    chain: BitcoindChain,
    wallet: BitcoindWallet,
    settings: RunSettings,
    _dir: TempDir,
}

impl PayoutWorld {
    async fn start(exe: &str) -> PayoutWorld {
        let node = CoreNode::start(exe, Chain::Regtest, NodeOptions::default());
        let base = node.client();
        call(&base, "createwallet", &[json!("pool")]);
        call(&base, "createwallet", &[json!("miners")]);
        let pool_wallet = node.wallet_client("pool");
        let miners = node.wallet_client("miners");
        let funding = call(&pool_wallet, "getnewaddress", &[]);
        call(&base, "generatetoaddress", &[json!(101), funding]);
        let dir = TempDir::new("payout-bitcoind");
        let ledger = Ledger::open(&format!("sqlite://{}/ledger.db", dir.path().display()))
            .await
            .unwrap();
        let chain = BitcoindChain::new(&node.config(), PoolNetwork::Regtest).unwrap();
        let payout_config = pool::config::PayoutConfig {
            wallet: "pool".to_string(),
            ..Default::default()
        };
        let wallet =
            BitcoindWallet::new(&node.config(), PoolNetwork::Regtest, &payout_config).unwrap();
        let settings = RunSettings {
            credit: CreditSettings {
                mode: PayoutMode::Pps,
                fee: payout::Fee::from_basis_points(0).unwrap(),
                window: payout::Score::from_blocks(2.0).unwrap(),
            },
            threshold_sat: 10_000,
            maturity: 100,
            network: bitcoin::Network::Regtest,
            dry_run: false,
        };
        PayoutWorld {
            _node: node,
            base,
            pool_wallet,
            miners,
            ledger,
            chain,
            wallet,
            settings,
            _dir: dir,
        }
    }

    fn miner_address(&self) -> String {
        call(&self.miners, "getnewaddress", &[])
            .as_str()
            .unwrap()
            .to_string()
    }

    async fn run(&self) -> pool::payouts::RunReport {
        payout_run(&self.ledger, &self.chain, &self.wallet, &self.settings)
            .await
            .unwrap()
    }

    fn mine(&self, blocks: u64) {
        let to = call(&self.pool_wallet, "getnewaddress", &[]);
        call(&self.base, "generatetoaddress", &[json!(blocks), to]);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_real_wallet_pays_each_balance_exactly_once() {
    let Some(exe) = bitcoind_exe() else { return };
    let world = PayoutWorld::start(&exe).await;
    let PayoutWorld {
        base,
        pool_wallet,
        miners,
        ledger,
        wallet,
        ..
    } = &world;
    let alice = world.miner_address();
    let bob = world.miner_address();

    // A normal run: one sendmany, its comment the batch id.
    credit(ledger, 1, &alice, 150_000).await;
    credit(ledger, 2, &bob, 70_000).await;
    let report = world.run().await;
    let batch = report.batch.expect("a batch");
    assert_eq!(batch.state, BatchState::Sent);
    let txid = batch.txid.clone().unwrap();
    let tx = call(pool_wallet, "gettransaction", &[json!(txid)]);
    assert_eq!(tx["comment"], batch.id.as_str());
    call(
        base,
        "generatetoaddress",
        &[json!(1), call(pool_wallet, "getnewaddress", &[])],
    );
    assert_eq!(received(miners, &alice), 150_000);
    assert_eq!(received(miners, &bob), 70_000);

    // Recorded, then killed before sending: cancelled, then paid once.
    credit(ledger, 3, &alice, 30_000).await;
    ledger.settle_share_credits("test-settle-1").await.unwrap();
    let unsent = ledger
        .create_batch(
            "pool-payout-unsent",
            &[PayoutLine {
                address: alice.clone(),
                amount_sat: 30_000,
            }],
        )
        .await
        .unwrap();
    let report = world.run().await;
    assert_eq!(report.cancelled, vec![unsent.id.clone()]);
    let repaid = report.batch.expect("paid afresh");
    assert_eq!(repaid.total_sat, 30_000);
    assert_eq!(sends_with_comment(pool_wallet, "pool-payout-unsent"), 0);

    // Sent, then killed before the txid was recorded: found, not resent.
    credit(ledger, 4, &bob, 40_000).await;
    ledger.settle_share_credits("test-settle-2").await.unwrap();
    let lines = [PayoutLine {
        address: bob.clone(),
        amount_sat: 40_000,
    }];
    let sent = ledger
        .create_batch("pool-payout-sent", &lines)
        .await
        .unwrap();
    let sent_txid = wallet.send_many(&lines, &sent.id).await.unwrap();
    let report = world.run().await;
    assert_eq!(report.recovered, vec![(sent.id.clone(), sent_txid)]);
    assert!(report.batch.is_none(), "{}", report.summary());
    assert_eq!(sends_with_comment(pool_wallet, "pool-payout-sent"), 1);

    call(
        base,
        "generatetoaddress",
        &[json!(1), call(pool_wallet, "getnewaddress", &[])],
    );
    assert_eq!(received(miners, &alice), 180_000);
    assert_eq!(received(miners, &bob), 110_000);
    assert!(ledger
        .balances()
        .await
        .unwrap()
        .iter()
        .all(|b| b.balance_sat == 0));

    // Buried six deep, every sent batch is confirmed by the next run.
    call(
        base,
        "generatetoaddress",
        &[json!(6), call(pool_wallet, "getnewaddress", &[])],
    );
    let report = world.run().await;
    assert_eq!(report.confirmed_batches.len(), 3, "{}", report.summary());
    assert!(ledger
        .batches()
        .await
        .unwrap()
        .iter()
        .all(|batch| matches!(batch.state, BatchState::Confirmed | BatchState::Cancelled)));
    world.ledger.close().await;
}

/// The operator bumps a stuck payment's fee in the wallet (`bumpfee`: the
/// batch signals replace-by-fee). The next run follows the replacement and
/// records its txid; buried six deep, the batch is confirmed; the miner is
/// paid once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bumped_payment_is_followed_to_confirmation_and_paid_once() {
    let Some(exe) = bitcoind_exe() else { return };
    let world = PayoutWorld::start(&exe).await;
    let alice = world.miner_address();
    credit(&world.ledger, 1, &alice, 250_000).await;
    let batch = world.run().await.batch.expect("a batch");
    let original = batch.txid.clone().expect("sent");
    let bumped = call(&world.pool_wallet, "bumpfee", &[json!(original)]);
    let replacement = bumped["txid"].as_str().expect("a txid").to_string();
    assert_ne!(replacement, original);

    world.mine(1);
    let report = world.run().await;
    assert_eq!(
        report.replaced_batches,
        vec![(batch.id.clone(), replacement.clone())],
        "{}",
        report.summary()
    );
    assert!(report.batch.is_none(), "{}", report.summary());

    world.mine(6);
    let report = world.run().await;
    assert_eq!(
        report.confirmed_batches,
        vec![batch.id.clone()],
        "{}",
        report.summary()
    );
    let batches = world.ledger.batches().await.unwrap();
    let recorded = batches
        .iter()
        .find(|b| b.id == batch.id)
        .expect("the batch");
    assert_eq!(recorded.state, BatchState::Confirmed);
    assert_eq!(recorded.txid.as_deref(), Some(replacement.as_str()));
    assert_eq!(received(&world.miners, &alice), 250_000);
    let report = world.run().await;
    assert!(report.batch.is_none() && report.confirmed_batches.is_empty());
    world.ledger.close().await;
}
